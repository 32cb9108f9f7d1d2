/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The syntax layer for one logical line: keyword, flags and arguments, split
 * per instruction the way BuildKit's parser does (its dispatch table).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/parser-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

typedef int (*args_fn)(struct instruction *in, const char *rest, size_t n, char escape,
		       const struct instr_src *src, struct kiln_error **err);

struct kind_info {
	const char *name;
	args_fn parse;
	bool expands;
};

static int args_maybe_json(struct instruction *in, const char *rest, size_t n, char escape,
			   const struct instr_src *src, struct kiln_error **err);
static int args_json_or_words(struct instruction *in, const char *rest, size_t n, char escape,
			      const struct instr_src *src, struct kiln_error **err);
static int args_words(struct instruction *in, const char *rest, size_t n, char escape,
		      const struct instr_src *src, struct kiln_error **err);
static int args_string(struct instruction *in, const char *rest, size_t n, char escape,
		       const struct instr_src *src, struct kiln_error **err);
static int args_name_val(struct instruction *in, const char *rest, size_t n, char escape,
			 const struct instr_src *src, struct kiln_error **err);
static int args_arg(struct instruction *in, const char *rest, size_t n, char escape,
		    const struct instr_src *src, struct kiln_error **err);
static int args_health(struct instruction *in, const char *rest, size_t n, char escape,
		       const struct instr_src *src, struct kiln_error **err);
static int args_onbuild(struct instruction *in, const char *rest, size_t n, char escape,
			const struct instr_src *src, struct kiln_error **err);
static int args_unknown(struct instruction *in, const char *rest, size_t n, char escape,
			const struct instr_src *src, struct kiln_error **err);

static const struct kind_info kinds[INSTR_KIND_MAX_] = {
	[INSTR_UNKNOWN] = {"", args_unknown, false},
	[INSTR_ADD] = {"ADD", args_json_or_words, true},
	[INSTR_ARG] = {"ARG", args_arg, true},
	[INSTR_CMD] = {"CMD", args_maybe_json, false},
	[INSTR_COPY] = {"COPY", args_json_or_words, true},
	[INSTR_ENTRYPOINT] = {"ENTRYPOINT", args_maybe_json, false},
	[INSTR_ENV] = {"ENV", args_name_val, true},
	[INSTR_EXPOSE] = {"EXPOSE", args_words, true},
	[INSTR_FROM] = {"FROM", args_words, true},
	[INSTR_HEALTHCHECK] = {"HEALTHCHECK", args_health, false},
	[INSTR_LABEL] = {"LABEL", args_name_val, true},
	[INSTR_MAINTAINER] = {"MAINTAINER", args_string, false},
	[INSTR_ONBUILD] = {"ONBUILD", args_onbuild, false},
	[INSTR_RUN] = {"RUN", args_maybe_json, false},
	[INSTR_SHELL] = {"SHELL", args_maybe_json, false},
	[INSTR_STOPSIGNAL] = {"STOPSIGNAL", args_string, true},
	[INSTR_USER] = {"USER", args_string, true},
	[INSTR_VOLUME] = {"VOLUME", args_json_or_words, true},
	[INSTR_WORKDIR] = {"WORKDIR", args_string, true},
};

enum instr_kind instr_kind_from_name(const char *name)
{
	for (int k = 1; k < INSTR_KIND_MAX_; k++)
		if (strcasecmp(kinds[k].name, name) == 0)
			return (enum instr_kind)k;
	return INSTR_UNKNOWN;
}

const char *instr_kind_name(enum instr_kind kind)
{
	return kind > 0 && kind < INSTR_KIND_MAX_ ? kinds[kind].name : "UNKNOWN";
}

bool instr_expands(enum instr_kind kind)
{
	return kind > 0 && kind < INSTR_KIND_MAX_ && kinds[kind].expands;
}

static void push_arg(struct instruction *in, const char *s, size_t n)
{
	char *copy;

	/* grow at powers of two: instructions keep no capacity for arg_lens */
	if ((in->args.n & (in->args.n - 1)) == 0)
		in->arg_lens = xreallocarray(in->arg_lens, in->args.n ? in->args.n * 2 : 4,
					     sizeof(*in->arg_lens));
	in->arg_lens[in->args.n] = n;
	/* not xstrndup: the text may hold NUL bytes, and arg_lens must stay true */
	copy = xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = 0;
	strv_push_take(&in->args, copy);
}

/* JSON array of strings: 1 and the args; not JSON: 0; JSON of non-strings: error. */
static int try_json(struct instruction *in, const char *rest, size_t n, const struct instr_src *src,
		    struct kiln_error **err)
{
	struct strv v = STRV_INIT;
	size_t *lens = NULL;

	switch (json_parse_string_array(rest, n, &v, &lens)) {
	case JSON_NOT_ARRAY:
		return 0;
	case JSON_NOT_STRINGS:
		return parser_err(
			err, src, 0,
			"%s: when using JSON array syntax, arrays must be comprised of strings only",
			in->keyword);
	case JSON_STRINGS:
		break;
	}
	for (size_t i = 0; i < v.n; i++)
		push_arg(in, v.v[i], lens[i]);
	in->json = true;
	strv_clear(&v);
	free(lens);
	return 1;
}

static int args_maybe_json(struct instruction *in, const char *rest, size_t n, char escape,
			   const struct instr_src *src, struct kiln_error **err)
{
	int r;

	if (n == 0)
		return 0;
	r = try_json(in, rest, n, src, err);
	if (r != 0)
		return r < 0 ? r : 0;
	push_arg(in, rest, n);
	return 0;
}

/* Runs of [\t\v\f\r ] separate words; quotes are not special. */
static void split_hspace(struct instruction *in, const char *rest, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start = i;

		while (i < n && !text_is_hspace(rest[i]))
			i++;
		push_arg(in, rest + start, i - start);
		while (i < n && text_is_hspace(rest[i]))
			i++;
	}
}

static int args_json_or_words(struct instruction *in, const char *rest, size_t n, char escape,
			      const struct instr_src *src, struct kiln_error **err)
{
	int r;

	if (n == 0)
		return 0;
	r = try_json(in, rest, n, src, err);
	if (r != 0)
		return r < 0 ? r : 0;
	split_hspace(in, rest, n);
	return 0;
}

static int args_words(struct instruction *in, const char *rest, size_t n, char escape,
		      const struct instr_src *src, struct kiln_error **err)
{
	split_hspace(in, rest, n);
	return 0;
}

static int args_string(struct instruction *in, const char *rest, size_t n, char escape,
		       const struct instr_src *src, struct kiln_error **err)
{
	if (n > 0)
		push_arg(in, rest, n);
	return 0;
}

static struct instr_kv *push_kv(struct instruction *in, const char *key, size_t key_len,
				const char *value, bool has_value)
{
	struct instr_kv *kv;

	if ((in->n_kvs & (in->n_kvs - 1)) == 0) /* grow at powers of two */
		in->kvs = xreallocarray(in->kvs, in->n_kvs ? in->n_kvs * 2 : 2, sizeof(*in->kvs));
	kv = &in->kvs[in->n_kvs++];
	memset(kv, 0, sizeof(*kv));
	kv->key = xstrndup(key, key_len);
	kv->value = xstrdup(value ? value : "");
	kv->has_value = has_value;
	return kv;
}

/* Legacy "KEY value": the key up to the first [\t\v\f\r ] run, the rest verbatim. */
static int name_val_legacy(struct instruction *in, const char *rest, size_t n,
			   const struct instr_src *src, struct kiln_error **err)
{
	size_t k = 0, v;
	_cleanup_free_ char *value = NULL;

	while (k < n && !text_is_hspace(rest[k]))
		k++;
	v = k;
	while (v < n && text_is_hspace(rest[v]))
		v++;
	if (k == n)
		return parser_err(err, src, 0, "%s must have two arguments", in->keyword);
	value = xstrndup(rest + v, n - v);
	push_kv(in, rest, k, value, true)->legacy = true;
	push_arg(in, rest, k);
	push_arg(in, rest + v, n - v); /* not @value: a NUL byte would cut it short */
	push_arg(in, "", 0);
	return 0;
}

static int args_name_val(struct instruction *in, const char *rest, size_t n, char escape,
			 const struct instr_src *src, struct kiln_error **err)
{
	_cleanup_strv_ struct strv words = STRV_INIT;

	words_split(rest, n, escape, &words);
	if (words.n == 0)
		return 0;
	if (!strchr(words.v[0], '='))
		return name_val_legacy(in, rest, n, src, err);
	strv_foreach(&words, it) {
		const char *eq = strchr(*it, '=');

		if (!eq)
			return parser_err(
				err, src, 0,
				"%s: syntax error: cannot find '=' in '%s', expected name=value",
				in->keyword, *it);
		push_kv(in, *it, (size_t)(eq - *it), eq + 1, true);
		push_arg(in, *it, (size_t)(eq - *it));
		push_arg(in, eq + 1, strlen(eq + 1));
		push_arg(in, "=", 1);
	}
	return 0;
}

static int args_arg(struct instruction *in, const char *rest, size_t n, char escape,
		    const struct instr_src *src, struct kiln_error **err)
{
	_cleanup_strv_ struct strv words = STRV_INIT;

	words_split(rest, n, escape, &words);
	strv_foreach(&words, it) {
		const char *eq = strchr(*it, '=');

		push_arg(in, *it, strlen(*it));
		if (eq)
			push_kv(in, *it, (size_t)(eq - *it), eq + 1, true);
		else
			push_kv(in, *it, strlen(*it), NULL, false);
	}
	return 0;
}

static int args_health(struct instruction *in, const char *rest, size_t n, char escape,
		       const struct instr_src *src, struct kiln_error **err)
{
	size_t sep = 0, next;

	while (sep < n && !text_byte_is_space((unsigned char)rest[sep]))
		sep++;
	next = sep;
	while (next < n && text_byte_is_space((unsigned char)rest[next]))
		next++;
	if (sep == 0)
		return 0;
	push_arg(in, rest, sep);
	return args_maybe_json(in, rest + next, n - next, escape, src, err);
}

static int args_onbuild(struct instruction *in, const char *rest, size_t n, char escape,
			const struct instr_src *src, struct kiln_error **err)
{
	_cleanup_free_ struct instruction *sub = NULL;
	int r;

	if (n == 0)
		return 0;
	sub = xcalloc(1, sizeof(*sub));
	sub->loc = (struct srcloc){src->file, src->line, src->col};
	sub->end_line = src->line;
	r = instr_parse_line(sub, rest, n, escape, src, err);
	if (r < 0) {
		instr_release(sub);
		return r;
	}
	in->onbuild = TAKE_PTR(sub);
	return 0;
}

static int args_unknown(struct instruction *in, const char *rest, size_t n, char escape,
			const struct instr_src *src, struct kiln_error **err)
{
	push_arg(in, "", 0); /* BuildKit's parser keeps one empty node */
	return 0;
}

static void set_flags(struct instruction *in, const struct strv *words)
{
	in->flags = xcalloc(words->n ? words->n : 1, sizeof(*in->flags));
	strv_foreach(words, it) {
		struct instr_flag *f = &in->flags[in->n_flags++];
		const char *name = *it + 2;
		const char *eq = strchr(name, '=');

		f->has_value = eq != NULL;
		f->name = eq ? xstrndup(name, (size_t)(eq - name)) : xstrdup(name);
		f->value = xstrdup(eq ? eq + 1 : "");
	}
}

int instr_parse_line(struct instruction *in, const char *line, size_t len, char escape,
		     const struct instr_src *src, struct kiln_error **err)
{
	_cleanup_strv_ struct strv flag_words = STRV_INIT;
	const char *rest;
	size_t kw = 0, n, off;

	text_trim(&line, &len);
	while (kw < len && !text_is_hspace(line[kw]))
		kw++;
	in->keyword = xstrndup(line, kw);
	in->kind = instr_kind_from_name(in->keyword);
	rest = line + kw;
	n = len - kw;
	while (n > 0 && text_is_hspace(*rest))
		rest++, n--;
	in->rest = xstrndup(rest, n);
	/* BuildKit takes flags apart with a backslash, whatever the escape directive */
	off = words_extract_flags(rest, n, '\\', &flag_words);
	set_flags(in, &flag_words);
	rest += off;
	n -= off;
	text_trim(&rest, &n);
	return kinds[in->kind].parse(in, rest, n, escape, src, err);
}

void instr_release(struct instruction *in)
{
	if (!in)
		return;
	free(in->keyword);
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strv_clear(&in->args);
	free(in->arg_lens);
	free(in->rest);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].body);
	}
	free(in->heredocs);
	for (size_t i = 0; i < in->n_kvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	instr_release(in->onbuild);
	free(in->onbuild);
}

/* Quote removal for a heredoc delimiter; returns whether anything was quoted. */
static bool unquote_delimiter(const char *s, struct strbuf *out)
{
	bool quoted = false;
	char q = 0;

	for (; *s; s++) {
		if (q == '\'' && *s != '\'') {
			strbuf_addch(out, *s);
		} else if (*s == '\'' || *s == '"') {
			if (!q || q == *s) {
				q = q ? 0 : *s;
				quoted = true;
				continue;
			}
			strbuf_addch(out, *s);
		} else if (*s == '\\' && s[1] && (!q || strchr("\"$\\", s[1]))) {
			strbuf_addch(out, *++s);
		} else {
			strbuf_addch(out, *s);
		}
	}
	return quoted;
}

/* "[digits]<<[-]word" with a non-empty word that has no '<'. */
static bool parse_heredoc_word(const char *w, struct heredoc *ret)
{
	const char *p = w;
	struct strbuf name = STRBUF_INIT;
	int fd = -1;

	while (*p >= '0' && *p <= '9') {
		fd = (fd < 0 ? 0 : fd) * 10 + (*p - '0');
		if (fd > 1 << 20)
			return false;
		p++;
	}
	if (!(p = startswith(p, "<<")))
		return false;
	ret->chomp = *p == '-';
	p += ret->chomp;
	if (!*p || strchr(p, '<'))
		return false;
	ret->expand = !unquote_delimiter(p, &name);
	if (name.len == 0) {
		strbuf_release(&name);
		return false;
	}
	ret->name = strbuf_detach(&name, NULL);
	ret->fd = fd;
	return true;
}

void instr_find_heredocs(const struct instruction *in, char escape, struct heredoc **ret,
			 size_t *ret_n)
{
	_cleanup_strv_ struct strv words = STRV_INIT;
	struct heredoc hd;

	if ((in->kind != INSTR_RUN && in->kind != INSTR_COPY && in->kind != INSTR_ADD) ||
	    in->json || !strstr(in->rest, "<<"))
		return;
	words_split(in->rest, strlen(in->rest), '\\', &words);
	strv_foreach(&words, it) {
		memset(&hd, 0, sizeof(hd));
		if (!parse_heredoc_word(*it, &hd))
			continue;
		*ret = xreallocarray(*ret, *ret_n + 1, sizeof(**ret));
		(*ret)[(*ret_n)++] = hd;
	}
}
