/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Word expansion with the semantics of BuildKit's shell lexer: quote
 * removal, escapes, $VAR and ${VAR...} forms, and word splitting of unquoted
 * expansions. Only what a Dockerfile needs: no command substitution, no
 * arithmetic, no assignment forms (those are errors, as in BuildKit).
 */
#include <stdlib.h>
#include <string.h>

#include "parser/parser-internal.h"
#include "parser/shell-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define R_EOF (-1)

struct lex {
	const char *s;
	size_t n, pos;
	const struct strv *env;
	char escape;
	bool keep_quotes; /* quotes are ordinary characters (BuildKit's SkipProcessQuotes) */
	struct kiln_error **err;
};

/* Word splitting state (BuildKit's wordsStruct). */
struct words {
	struct strv out;
	struct strbuf word;
	bool in_word;
};

static int32_t peek(const struct lex *lx)
{
	size_t w;
	bool ok;

	if (lx->pos >= lx->n)
		return R_EOF;
	return (int32_t)text_decode(lx->s + lx->pos, lx->n - lx->pos, &w, &ok);
}

/* Append the rune at pos to @sb (if any) and advance; returns it. */
static int32_t take(struct lex *lx, struct strbuf *sb)
{
	size_t w;
	bool ok;
	int32_t c;

	if (lx->pos >= lx->n)
		return R_EOF;
	c = (int32_t)text_decode(lx->s + lx->pos, lx->n - lx->pos, &w, &ok);
	if (sb)
		strbuf_add(sb, lx->s + lx->pos, w);
	lx->pos += w;
	return c;
}

static void words_raw(struct words *w, const char *s, size_t n)
{
	if (!w)
		return;
	strbuf_add(&w->word, s, n);
	w->in_word = true;
}

static void words_add(struct words *w, const char *s, size_t n)
{
	size_t i = 0;

	if (!w)
		return;
	while (i < n) {
		size_t sp = text_space_len(s + i, n - i), cw;
		bool ok;

		if (sp) {
			if (w->in_word && w->word.len) {
				strv_push(&w->out, w->word.buf);
				strbuf_reset(&w->word);
				w->in_word = false;
			}
			i += sp;
			continue;
		}
		text_decode(s + i, n - i, &cw, &ok);
		words_raw(w, s + i, cw);
		i += cw;
	}
}

static int lex_err(struct lex *lx, const char *fmt, ...) _printf_(2, 3);
static int lex_err(struct lex *lx, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_newv(lx->err, KILN_ERR_INPUT, EINVAL, fmt, ap);
	va_end(ap);
	return r;
}

static int process_stop_on(struct lex *lx, int32_t stop, bool raw_escapes, struct strbuf *out,
			   struct words *w);

static int single_quote(struct lex *lx, struct strbuf *out)
{
	take(lx, NULL);
	for (;;) {
		size_t at = lx->pos;
		int32_t c = take(lx, NULL);

		if (c == R_EOF)
			return lex_err(
				lx,
				"unexpected end of statement while looking for matching single-quote");
		if (c == '\'')
			return 0;
		strbuf_add(out, lx->s + at, lx->pos - at);
	}
}

static int process_dollar(struct lex *lx, struct strbuf *out);

static int double_quote(struct lex *lx, struct strbuf *out)
{
	take(lx, NULL);
	for (;;) {
		int32_t c = peek(lx);
		int r;

		if (c == R_EOF)
			return lex_err(
				lx,
				"unexpected end of statement while looking for matching double-quote");
		if (c == '"') {
			take(lx, NULL);
			return 0;
		}
		if (c == '$') {
			if ((r = process_dollar(lx, out)) < 0)
				return r;
			continue;
		}
		if (c == lx->escape) {
			int32_t nx;

			take(lx, NULL);
			nx = peek(lx);
			if (nx == R_EOF)
				continue;
			if (nx != '"' && nx != '$' && nx != lx->escape)
				strbuf_addch(out, lx->escape);
		}
		take(lx, out);
	}
}

static bool is_name_rune(int32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       c == '_';
	if (c == 0xaa || c == 0xb5 || c == 0xba)
		return true;
	if (c < 0xc0 || c == 0xd7 || c == 0xf7 || (c >= 0x2000 && c <= 0x2bff) ||
	    (c >= 0x3000 && c <= 0x303f) || (c >= 0xfe30 && c <= 0xfe4f) ||
	    (c >= 0xff00 && c <= 0xff20))
		return false;
	return true;
}

static void process_name(struct lex *lx, struct strbuf *name)
{
	int32_t c = peek(lx);

	if (c >= '0' && c <= '9') {
		while ((c = peek(lx)) >= '0' && c <= '9')
			take(lx, name);
		return;
	}
	if (c != R_EOF && c < 0x80 && strchr("@*#?-$!", (int)c)) {
		take(lx, name);
		return;
	}
	while ((c = peek(lx)) != R_EOF && is_name_rune(c))
		take(lx, name);
}

static const char *getenv_(const struct lex *lx, const char *name)
{
	return lx->env ? strv_env_get(lx->env, name) : NULL;
}

/* The word of ${name<op>word}, up to the closing brace. */
static int brace_word(struct lex *lx, bool raw, struct strbuf *word)
{
	int r = process_stop_on(lx, '}', raw, word, NULL);

	if (r < 0 && lx->pos >= lx->n)
		return lex_err(lx, "syntax error: missing '}'");
	return r;
}

static int dollar_question(struct lex *lx, const char *name, bool colon, struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf word = STRBUF_INIT;
	const char *v;
	int r = brace_word(lx, false, &word);

	if (r < 0)
		return r;
	v = getenv_(lx, name);
	if (!v || (colon && !*v))
		return lex_err(lx, "%s: %s", name,
			       word.len ? word.buf
			       : v	? "is not allowed to be empty"
					: "is not allowed to be unset");
	strbuf_addstr(out, v);
	return 0;
}

/* ${name:-w} ${name:+w} ${name-w} ${name+w} */
static int dollar_default(struct lex *lx, const char *name, int32_t op, bool colon,
			  struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf word = STRBUF_INIT;
	const char *v;
	bool set;
	int r = brace_word(lx, false, &word);

	if (r < 0)
		return r;
	v = getenv_(lx, name);
	set = colon ? v && *v : v != NULL;
	if (op == '-')
		strbuf_addstr(out, set ? v : word.buf);
	else if (set)
		strbuf_addstr(out, word.buf);
	return 0;
}

static int pattern_too_long(struct lex *lx, const char *name)
{
	return lex_err(lx, "'%s': the pattern is longer than %u KiB once expanded", name,
		       SHELL_MAX_PATTERN >> 10);
}

static int dollar_trim(struct lex *lx, const char *name, int32_t op, struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf pat = STRBUF_INIT;
	const char *v;
	bool greedy = peek(lx) == op;
	int r;

	if (greedy)
		take(lx, NULL);
	r = brace_word(lx, true, &pat);
	if (r < 0)
		return r;
	if (pat.len > SHELL_MAX_PATTERN)
		return pattern_too_long(lx, name);
	v = getenv_(lx, name);
	shell_trim(v ? v : "", pat.buf, lx->escape, op == '#', greedy, out);
	return 0;
}

static int dollar_replace(struct lex *lx, const char *name, struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf pat = STRBUF_INIT, repl = STRBUF_INIT;
	const char *v;
	bool all = peek(lx) == '/';
	int r;

	if (all)
		take(lx, NULL);
	r = process_stop_on(lx, '/', true, &pat, NULL);
	if (r >= 0)
		r = brace_word(lx, true, &repl);
	if (r < 0)
		return r;
	if (pat.len > SHELL_MAX_PATTERN)
		return pattern_too_long(lx, name);
	v = getenv_(lx, name);
	if (shell_replace(v ? v : "", pat.buf, repl.buf, lx->escape, all, out) < 0)
		return lex_err(lx, "'%s': the expansion is larger than %u MiB", name,
			       SHELL_MAX_EXPANSION >> 20);
	return 0;
}

static int dollar_colon(struct lex *lx, const char *name, struct strbuf *out)
{
	int32_t m = take(lx, NULL);

	if (m == '-' || m == '+')
		return dollar_default(lx, name, m, true, out);
	if (m == '?')
		return dollar_question(lx, name, true, out);
	if (m == R_EOF)
		return lex_err(lx, "syntax error: missing '}'");
	return lex_err(lx, "unsupported modifier (%c) in substitution", m < 0x80 ? (char)m : '?');
}

static int dollar_brace(struct lex *lx, struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf name = STRBUF_INIT;
	int32_t c = peek(lx);
	const char *v;

	if (c == R_EOF)
		return lex_err(lx, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return lex_err(lx, "syntax error: bad substitution");
	process_name(lx, &name);
	c = take(lx, NULL);
	switch (c) {
	case '}':
		v = getenv_(lx, name.buf);
		strbuf_addstr(out, v ? v : "");
		return 0;
	case '?':
		return dollar_question(lx, name.buf, false, out);
	case ':':
		return dollar_colon(lx, name.buf, out);
	case '+':
	case '-':
		return dollar_default(lx, name.buf, c, false, out);
	case '#':
	case '%':
		return dollar_trim(lx, name.buf, c, out);
	case '/':
		return dollar_replace(lx, name.buf, out);
	case R_EOF:
		return lex_err(lx, "syntax error: missing '}'");
	default:
		return lex_err(lx, "unsupported modifier (%c) in substitution",
			       c < 0x80 ? (char)c : '?');
	}
}

static int process_dollar(struct lex *lx, struct strbuf *out)
{
	_cleanup_strbuf_ struct strbuf name = STRBUF_INIT;
	const char *v;

	take(lx, NULL);
	if (peek(lx) == '{') {
		take(lx, NULL);
		return dollar_brace(lx, out);
	}
	process_name(lx, &name);
	if (name.len == 0) {
		strbuf_addch(out, '$');
		return 0;
	}
	v = getenv_(lx, name.buf);
	strbuf_addstr(out, v ? v : "");
	return 0;
}

static int special(struct lex *lx, int32_t c, struct strbuf *out, struct words *w)
{
	_cleanup_strbuf_ struct strbuf tmp = STRBUF_INIT;
	int r = c == '\''  ? single_quote(lx, &tmp)
		: c == '"' ? double_quote(lx, &tmp)
			   : process_dollar(lx, &tmp);

	if (r < 0)
		return r;
	if (out->len + tmp.len > SHELL_MAX_EXPANSION)
		return lex_err(lx, "the expansion is larger than %u MiB",
			       SHELL_MAX_EXPANSION >> 20);
	strbuf_add(out, tmp.buf, tmp.len);
	if (c == '$')
		words_add(w, tmp.buf, tmp.len);
	else
		words_raw(w, tmp.buf, tmp.len);
	return 0;
}

static int process_stop_on(struct lex *lx, int32_t stop, bool raw_escapes, struct strbuf *out,
			   struct words *w)
{
	int32_t c;

	while ((c = peek(lx)) != R_EOF) {
		size_t at = lx->pos;
		int r;

		if (stop != R_EOF && c == stop) {
			take(lx, NULL);
			return 0;
		}
		if (c == '$' || ((c == '\'' || c == '"') && !lx->keep_quotes)) {
			if ((r = special(lx, c, out, w)) < 0)
				return r;
			continue;
		}
		take(lx, NULL);
		if (c == lx->escape) {
			if (raw_escapes) {
				strbuf_addch(out, lx->escape);
				words_raw(w, &lx->escape, 1);
			}
			at = lx->pos;
			if (take(lx, NULL) == R_EOF)
				break;
			words_raw(w, lx->s + at, lx->pos - at);
		} else {
			words_add(w, lx->s + at, lx->pos - at);
		}
		strbuf_add(out, lx->s + at, lx->pos - at);
	}
	if (stop != R_EOF)
		return lex_err(lx, "unexpected end of statement while looking for matching %c",
			       (char)stop);
	return 0;
}

static int expand_word(const char *word, const struct strv *env, char escape, bool raw, char **ret,
		       struct kiln_error **err)
{
	struct lex lx = {.s = word, .n = strlen(word), .env = env, .escape = escape, .err = err};
	struct strbuf out = STRBUF_INIT;
	int r = process_stop_on(&lx, R_EOF, raw, &out, NULL);

	if (r < 0) {
		strbuf_release(&out);
		return r;
	}
	*ret = strbuf_detach(&out, NULL);
	return 0;
}

int shell_expand_word(const char *word, const struct strv *env, char escape, char **ret,
		      struct kiln_error **err)
{
	return expand_word(word, env, escape, false, ret, err);
}

int shell_check_literal_from(const char *word, char escape, struct kiln_error **err)
{
	_cleanup_strv_ struct strv none = STRV_INIT;
	_cleanup_free_ char *out = NULL;
	int r = shell_expand_word(word, &none, escape, &out, err);

	if (r < 0 || streq(out, word))
		return r;
	return err_new(
		err, KILN_ERR_INPUT, EINVAL,
		"variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround");
}

int shell_expand_word_raw(const char *word, const struct strv *env, char escape, char **ret,
			  struct kiln_error **err)
{
	return expand_word(word, env, escape, true, ret, err);
}

int shell_expand_heredoc(const char *text, const struct strv *env, char escape, char **ret,
			 struct kiln_error **err)
{
	struct lex lx = {.s = text,
			 .n = strlen(text),
			 .env = env,
			 .escape = escape,
			 .keep_quotes = true,
			 .err = err};
	struct strbuf out = STRBUF_INIT;
	int r = process_stop_on(&lx, R_EOF, false, &out, NULL);

	if (r < 0) {
		strbuf_release(&out);
		return r;
	}
	*ret = strbuf_detach(&out, NULL);
	return 0;
}

int shell_expand_words(const char *text, const struct strv *env, char escape, struct strv *ret,
		       struct kiln_error **err)
{
	struct lex lx = {.s = text, .n = strlen(text), .env = env, .escape = escape, .err = err};
	struct words w = {.out = STRV_INIT, .word = STRBUF_INIT};
	struct strbuf out = STRBUF_INIT;
	int r = process_stop_on(&lx, R_EOF, false, &out, &w);

	if (r >= 0 && w.word.len)
		strv_push(&w.out, w.word.buf);
	if (r >= 0)
		strv_foreach(&w.out, it)
			strv_push(ret, *it);
	strv_clear(&w.out);
	strbuf_release(&w.word);
	strbuf_release(&out);
	return r;
}
