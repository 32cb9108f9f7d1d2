/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lexical layer: physical lines -> logical lines, exactly as BuildKit
 * joins them. Parser directives at the top, comments, continuations (the
 * escape character as the last non-blank character, not itself escaped),
 * empty continuation lines, CRLF, a UTF-8 BOM, and heredoc bodies.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/parser-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct lexer {
	const char *buf;
	size_t len, pos;
	unsigned line; /* number of the last line read */
	bool directives_done;
	bool seen_escape, seen_syntax, seen_check;
	struct dockerfile *df;
	unsigned flags;
};

struct phys_line {
	const char *s;
	size_t n;
	unsigned no;
};

static bool lexer_next(struct lexer *lx, struct phys_line *ret)
{
	const char *s, *nl;
	size_t n;

	if (lx->pos >= lx->len)
		return false;
	s = lx->buf + lx->pos;
	nl = memchr(s, '\n', lx->len - lx->pos);
	n = nl ? (size_t)(nl - s) : lx->len - lx->pos;
	lx->pos += n + (nl ? 1 : 0);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (lx->line == 0 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3, n -= 3;
	ret->s = s;
	ret->n = n;
	ret->no = ++lx->line;
	return true;
}

static bool is_comment(const char *s, size_t n)
{
	text_trim_left(&s, &n);
	return n > 0 && s[0] == '#';
}

static bool is_blank(const char *s, size_t n)
{
	text_trim_left(&s, &n);
	return n == 0;
}

/* "#  name = value" with name one of syntax, escape, check. */
static bool match_directive(const char *s, size_t n, char *name, size_t name_size, const char **val,
			    size_t *val_len)
{
	size_t i = 1, k = 0;

	if (n == 0 || s[0] != '#')
		return false;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= n || !isalpha((unsigned char)s[i]))
		return false;
	while (i < n && isalnum((unsigned char)s[i])) {
		if (k + 1 < name_size)
			name[k++] = (char)tolower((unsigned char)s[i]);
		i++;
	}
	name[k] = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= n || s[i] != '=')
		return false;
	i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (i >= n)
		return false;
	*val = s + i;
	*val_len = n - i;
	return true;
}

static int set_directive(struct lexer *lx, const struct phys_line *pl, const char *name,
			 const char *val, size_t val_len, struct kiln_error **err)
{
	struct instr_src src = {lx->df->filename, pl->no, 1, pl->s, pl->n};
	bool *seen = streq(name, "escape")   ? &lx->seen_escape
		     : streq(name, "syntax") ? &lx->seen_syntax
					     : &lx->seen_check;

	if (*seen)
		return parser_err(err, &src, 0, "only one '%s' parser directive can be used", name);
	*seen = true;
	if (streq(name, "escape")) {
		if (val_len != 1 || (val[0] != '`' && val[0] != '\\'))
			return parser_err(err, &src, 0,
					  "invalid escape token '%.*s': expected '`' or '\\'",
					  (int)val_len, val);
		lx->df->escape = val[0];
	} else if (streq(name, "syntax")) {
		lx->df->syntax = xstrndup(val, val_len);
	} else {
		lx->df->check = xstrndup(val, val_len);
	}
	return 0;
}

/* BuildKit's DirectiveParser: any line that is not a known directive ends them. */
static int maybe_directive(struct lexer *lx, const struct phys_line *pl, const char *s, size_t n,
			   struct kiln_error **err)
{
	char name[16];
	const char *val;
	size_t val_len;

	if (lx->directives_done)
		return 0;
	if (!match_directive(s, n, name, sizeof(name), &val, &val_len) ||
	    (!streq(name, "escape") && !streq(name, "syntax") && !streq(name, "check"))) {
		lx->directives_done = true;
		return 0;
	}
	return set_directive(lx, pl, name, val, val_len, err);
}

/* Strip a trailing continuation; returns true when the line continues. */
static bool trim_continuation(const char *s, size_t *n, char escape)
{
	size_t e = *n;

	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (e == 0 || s[e - 1] != escape)
		return false;
	if (e >= 2 && s[e - 2] == escape)
		return false;
	*n = e - 1;
	return true;
}

struct logical {
	struct strbuf text;
	struct phys_line first;
	unsigned col;
	unsigned last_text_line;
	bool empty_continuation;
};

/* Join continued lines onto lg->text. */
static int read_continuation(struct lexer *lx, struct logical *lg, struct kiln_error **err)
{
	struct phys_line pl;

	while (lexer_next(lx, &pl)) {
		size_t n = pl.n;
		bool more;
		int r = maybe_directive(lx, &pl, pl.s, pl.n, err);

		if (r < 0)
			return r;
		if (is_comment(pl.s, pl.n))
			continue;
		if (is_blank(pl.s, pl.n)) {
			lg->empty_continuation = true;
			continue;
		}
		more = trim_continuation(pl.s, &n, lx->df->escape);
		strbuf_add(&lg->text, pl.s, n);
		lg->last_text_line = pl.no;
		if (!more)
			break;
	}
	return 0;
}

/* The next logical line; returns 0 at the end of input, 1 with one in @lg. */
static int read_logical(struct lexer *lx, struct logical *lg, struct kiln_error **err)
{
	struct phys_line pl;

	while (lexer_next(lx, &pl)) {
		const char *s = pl.s;
		size_t n = pl.n;
		bool more;
		int r;

		text_trim_left(&s, &n);
		r = maybe_directive(lx, &pl, s, n, err);
		if (r < 0)
			return r;
		if (n > 0 && s[0] == '#')
			continue;
		more = trim_continuation(s, &n, lx->df->escape);
		if (!more && n == 0)
			continue;
		strbuf_reset(&lg->text);
		strbuf_add(&lg->text, s, n);
		lg->first = pl;
		lg->col = (unsigned)(s - pl.s) + 1;
		lg->last_text_line = pl.no;
		lg->empty_continuation = false;
		if (more && (r = read_continuation(lx, lg, err)) < 0)
			return r;
		return 1;
	}
	return 0;
}

static void strip_tabs(const char **s, size_t *n)
{
	while (*n > 0 && **s == '\t')
		(*s)++, (*n)--;
}

static int read_heredoc_body(struct lexer *lx, struct heredoc *hd, const struct instr_src *src,
			     unsigned *end_line, struct kiln_error **err)
{
	struct strbuf body = STRBUF_INIT;
	struct phys_line pl;

	while (lexer_next(lx, &pl)) {
		const char *s = pl.s;
		size_t n = pl.n;

		if (hd->chomp)
			strip_tabs(&s, &n);
		*end_line = pl.no;
		if (n == strlen(hd->name) && memcmp(s, hd->name, n) == 0) {
			hd->body = strbuf_detach(&body, NULL);
			return 0;
		}
		strbuf_add(&body, s, n);
		strbuf_addch(&body, '\n');
	}
	strbuf_release(&body);
	return parser_err(
		err, src, 0,
		"unterminated heredoc '%s': expected a line '%s' before the end of the file",
		hd->name, hd->name);
}

static int read_heredocs(struct lexer *lx, struct instruction *in, const struct instr_src *src,
			 struct kiln_error **err)
{
	instr_find_heredocs(in, lx->df->escape, &in->heredocs, &in->n_heredocs);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		int r = read_heredoc_body(lx, &in->heredocs[i], src, &in->end_line, err);

		if (r < 0)
			return r;
	}
	return 0;
}

static int add_instruction(struct lexer *lx, struct logical *lg, size_t *alloc,
			   struct kiln_error **err)
{
	struct dockerfile *df = lx->df;
	struct instr_src src = {df->filename, lg->first.no, lg->col, lg->first.s, lg->first.n};
	struct instruction *in;
	int r;

	ALLOC_GROW(df->instrs, df->n_instrs + 1, *alloc);
	in = &df->instrs[df->n_instrs];
	memset(in, 0, sizeof(*in));
	in->loc = (struct srcloc){df->filename, lg->first.no, lg->col};
	in->end_line = lg->last_text_line;
	r = instr_parse_line(in, lg->text.buf, lg->text.len, df->escape, &src, err);
	if (r >= 0)
		r = read_heredocs(lx, in, &src, err);
	if (r < 0) {
		instr_release(in);
		return r;
	}
	df->n_instrs++;
	if (lg->empty_continuation)
		diag_add(df, DIAG_WARNING, &in->loc, "NoEmptyContinuation", lg->first.s,
			 lg->first.n, "empty continuation line found in '%s'", in->keyword);
	return 0;
}

static int lex_all(struct lexer *lx, struct kiln_error **err)
{
	struct logical lg = {.text = STRBUF_INIT};
	size_t alloc = 0;
	int r;

	while ((r = read_logical(lx, &lg, err)) > 0) {
		r = add_instruction(lx, &lg, &alloc, err);
		if (r < 0)
			break;
	}
	strbuf_release(&lg.text);
	if (r < 0)
		return r;
	if (lx->df->n_instrs == 0) {
		struct srcloc loc = {lx->df->filename, 0, 0};

		return err_at(err, &loc, "file with no instructions");
	}
	return 0;
}

int parser_parse_flags(const char *buf, size_t len, const char *filename, unsigned flags,
		       struct dockerfile **ret, struct kiln_error **err)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df = xcalloc(1, sizeof(*df));
	struct lexer lx = {.buf = buf, .len = len, .df = df, .flags = flags};
	int r;

	df->filename = xstrdup(filename ? filename : "Dockerfile");
	df->escape = '\\';
	r = lex_all(&lx, err);
	if (r < 0)
		return r;
	r = validate_dockerfile(df, buf, len, flags, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(df);
	return 0;
}

int parser_parse(const char *buf, size_t len, const char *filename, struct dockerfile **ret,
		 struct kiln_error **err)
{
	return parser_parse_flags(buf, len, filename, 0, ret, err);
}

int parser_err(struct kiln_error **err, const struct instr_src *src, unsigned col, const char *fmt,
	       ...)
{
	struct srcloc loc = {src->file, src->line, col ? col : src->col};
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	err_at(err, &loc, "%s", msg);
	if (err && src->text)
		err_set_excerpt(*err, src->text, src->text_len);
	return -EINVAL;
}

void dockerfile_free(struct dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->n_instrs; i++)
		instr_release(&df->instrs[i]);
	free(df->instrs);
	for (size_t i = 0; i < df->n_stages; i++)
		free(df->stages[i].name);
	free(df->stages);
	for (size_t i = 0; i < df->n_diags; i++) {
		free(df->diags[i].rule);
		free(df->diags[i].msg);
		free(df->diags[i].excerpt);
	}
	free(df->diags);
	free(df->syntax);
	free(df->check);
	free(df->filename);
	free(df);
}
