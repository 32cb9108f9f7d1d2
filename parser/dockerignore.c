/* SPDX-License-Identifier: Apache-2.0 */
/*
 * .dockerignore with Docker's rules (moby/patternmatcher): each line a
 * pattern, cleaned like filepath.Clean; "!" marks an exception; the last
 * matching pattern wins; a path is also excluded when a parent directory
 * matches. Patterns compile to a token list run as an NFA, so matching is
 * linear in (path x pattern) whatever the input.
 */
#include <stdlib.h>
#include <string.h>

#include "parser/parser-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

enum tok_kind {
	T_LIT, /* one rune */
	T_ANY, /* ?: one rune but '/' */
	T_CLASS, /* [...] */
	T_STAR, /* *: any run without '/' */
	T_DSTAR_END, /* trailing **: anything */
	T_OPT_DIRS, /* **: an optional run of directories ending in a slash; T_DIRS_BODY follows */
	T_DIRS_BODY,
};

struct tok {
	enum tok_kind kind;
	uint32_t c; /* T_LIT */
	uint32_t *set; /* T_CLASS: pairs lo, hi */
	size_t n_set;
	bool neg;
};

struct pattern {
	char *text; /* cleaned, without '!' */
	bool exception;
	struct tok *toks;
	size_t n_toks;
	struct strv dirs; /* text split on '/' */
};

struct dockerignore {
	struct pattern *pats;
	size_t n;
};

static uint32_t next_rune(const char **p)
{
	size_t w;
	bool ok;
	uint32_t c = text_decode(*p, strlen(*p), &w, &ok);

	*p += w;
	return c;
}

static void tok_push(struct pattern *pt, struct tok t)
{
	pt->toks = xreallocarray(pt->toks, pt->n_toks + 1, sizeof(*pt->toks));
	pt->toks[pt->n_toks++] = t;
}

static int compile_class(struct pattern *pt, const char **p)
{
	struct tok t = {.kind = T_CLASS};
	bool first = true;

	if (**p == '^' || **p == '!')
		t.neg = true, (*p)++;
	while (**p && (first || **p != ']')) {
		uint32_t lo, hi;

		first = false;
		if (**p == '\\' && (*p)[1])
			(*p)++;
		lo = hi = next_rune(p);
		if (**p == '-' && (*p)[1] && (*p)[1] != ']') {
			(*p)++;
			if (**p == '\\' && (*p)[1])
				(*p)++;
			hi = next_rune(p);
		}
		t.set = xreallocarray(t.set, t.n_set + 2, sizeof(*t.set));
		t.set[t.n_set++] = lo;
		t.set[t.n_set++] = hi;
	}
	if (**p != ']') {
		free(t.set);
		return -EINVAL;
	}
	(*p)++;
	tok_push(pt, t);
	return 0;
}

static void compile_stars(struct pattern *pt, const char **p)
{
	if (**p != '*') {
		tok_push(pt, (struct tok){.kind = T_STAR});
		return;
	}
	(*p)++;
	if (**p == '/')
		(*p)++;
	if (!**p) {
		tok_push(pt, (struct tok){.kind = T_DSTAR_END});
		return;
	}
	tok_push(pt, (struct tok){.kind = T_OPT_DIRS});
	tok_push(pt, (struct tok){.kind = T_DIRS_BODY});
}

static int compile(struct pattern *pt)
{
	const char *p = pt->text;

	while (*p) {
		uint32_t c = next_rune(&p);

		if (c == '*') {
			compile_stars(pt, &p);
		} else if (c == '?') {
			tok_push(pt, (struct tok){.kind = T_ANY});
		} else if (c == '[') {
			if (compile_class(pt, &p) < 0)
				return -EINVAL;
		} else {
			if (c == '\\') {
				if (!*p)
					return -EINVAL;
				c = next_rune(&p);
			}
			tok_push(pt, (struct tok){.kind = T_LIT, .c = c});
		}
	}
	return 0;
}

static bool class_has(const struct tok *t, uint32_t c)
{
	bool hit = false;

	for (size_t i = 0; i + 1 < t->n_set; i += 2)
		hit |= c >= t->set[i] && c <= t->set[i + 1];
	return hit != t->neg;
}

/* Add state @i and its epsilon closure to @set. */
static void add_state(const struct pattern *pt, bool *set, size_t i)
{
	if (set[i])
		return;
	set[i] = true;
	if (i >= pt->n_toks)
		return;
	switch (pt->toks[i].kind) {
	case T_STAR:
	case T_DSTAR_END:
		add_state(pt, set, i + 1);
		break;
	case T_OPT_DIRS:
		add_state(pt, set, i + 1);
		add_state(pt, set, i + 2);
		break;
	default:
		break;
	}
}

static void step(const struct pattern *pt, const bool *cur, bool *nxt, uint32_t c)
{
	for (size_t i = 0; i < pt->n_toks; i++) {
		const struct tok *t = &pt->toks[i];

		if (!cur[i])
			continue;
		switch (t->kind) {
		case T_LIT:
			if (t->c == c)
				add_state(pt, nxt, i + 1);
			break;
		case T_ANY:
			if (c != '/')
				add_state(pt, nxt, i + 1);
			break;
		case T_CLASS:
			if (class_has(t, c))
				add_state(pt, nxt, i + 1);
			break;
		case T_STAR:
			if (c != '/')
				add_state(pt, nxt, i);
			break;
		case T_DSTAR_END:
			add_state(pt, nxt, i);
			break;
		case T_DIRS_BODY:
			add_state(pt, nxt, i);
			if (c == '/')
				add_state(pt, nxt, i + 1);
			break;
		case T_OPT_DIRS:
			break;
		}
	}
}

static bool pattern_match(const struct pattern *pt, const char *path, size_t n)
{
	size_t ns = pt->n_toks + 1, i = 0;
	_cleanup_free_ bool *cur = xcalloc(ns, sizeof(bool));
	_cleanup_free_ bool *nxt = xcalloc(ns, sizeof(bool));
	bool any;

	add_state(pt, cur, 0);
	while (i < n) {
		size_t w;
		bool ok;
		uint32_t c = text_decode(path + i, n - i, &w, &ok);

		memset(nxt, 0, ns);
		step(pt, cur, nxt, c);
		memcpy(cur, nxt, ns);
		any = false;
		for (size_t k = 0; k < ns; k++)
			any |= cur[k];
		if (!any)
			return false;
		i += w;
	}
	return cur[pt->n_toks];
}

/* filepath.Clean for '/'-separated paths. */
static char *clean_path(const char *s)
{
	_cleanup_strv_ struct strv parts = STRV_INIT;
	struct strbuf out = STRBUF_INIT;
	bool rooted = *s == '/';

	while (*s) {
		size_t w = strcspn(s, "/");

		if (w == 0 || (w == 1 && s[0] == '.')) {
			/* skip */
		} else if (w == 2 && s[0] == '.' && s[1] == '.') {
			if (parts.n && !streq(parts.v[parts.n - 1], ".."))
				strv_pop(&parts);
			else if (!rooted)
				strv_push(&parts, "..");
		} else {
			strv_push_take(&parts, xstrndup(s, w));
		}
		s += w + (s[w] == '/');
	}
	if (rooted)
		strbuf_addch(&out, '/');
	for (size_t i = 0; i < parts.n; i++)
		strbuf_addf(&out, "%s%s", i ? "/" : "", parts.v[i]);
	if (out.len == 0)
		strbuf_addch(&out, '.');
	return strbuf_detach(&out, NULL);
}

static int add_pattern(struct dockerignore *di, const char *line, size_t n, bool exception,
		       const struct srcloc *loc, struct kiln_error **err)
{
	_cleanup_free_ char *raw = xstrndup(line, n);
	char *clean = clean_path(raw), *text = clean;
	struct pattern *pt;

	if (strlen(text) > 1 && text[0] == '/')
		text++;
	di->pats = xreallocarray(di->pats, di->n + 1, sizeof(*di->pats));
	pt = &di->pats[di->n];
	memset(pt, 0, sizeof(*pt));
	pt->text = xstrdup(text);
	pt->exception = exception;
	free(clean);
	di->n++;
	for (const char *p = pt->text; *p;) {
		size_t w = strcspn(p, "/");

		strv_push_take(&pt->dirs, xstrndup(p, w));
		p += w + (p[w] == '/');
	}
	if (compile(pt) < 0)
		return err_at(err, loc, "bad pattern '%s': unterminated '[' or trailing '\\'", raw);
	return 0;
}

static int parse_line(struct dockerignore *di, const char *s, size_t n, const struct srcloc *loc,
		      struct kiln_error **err)
{
	bool exception = false;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > 0 && s[0] == '#')
		return 0;
	text_trim(&s, &n);
	if (n == 0)
		return 0;
	if (s[0] == '!') {
		exception = true;
		s++, n--;
		text_trim(&s, &n);
		if (n == 0)
			return err_at(err, loc,
				      "illegal exclusion pattern '!': expected '!PATTERN'");
	}
	return add_pattern(di, s, n, exception, loc, err);
}

int dockerignore_parse(const char *buf, size_t len, const char *filename, struct dockerignore **ret,
		       struct kiln_error **err)
{
	_cleanup_(dockerignore_freep) struct dockerignore *di = xcalloc(1, sizeof(*di));
	struct srcloc loc = {filename ? filename : ".dockerignore", 0, 0};
	size_t pos = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		int r;

		loc.line++;
		if (memchr(s, '\0', n))
			return err_at(err, &loc, "unexpected NUL byte in ignore file");
		r = parse_line(di, s, n, &loc, err);
		if (r < 0)
			return r;
		pos += n + 1;
	}
	*ret = TAKE_PTR(di);
	return 0;
}

void dockerignore_free(struct dockerignore *di)
{
	if (!di)
		return;
	for (size_t i = 0; i < di->n; i++) {
		for (size_t t = 0; t < di->pats[i].n_toks; t++)
			free(di->pats[i].toks[t].set);
		free(di->pats[i].toks);
		free(di->pats[i].text);
		strv_clear(&di->pats[i].dirs);
	}
	free(di->pats);
	free(di);
}

size_t dockerignore_n_patterns(const struct dockerignore *di)
{
	return di ? di->n : 0;
}

/* The pattern matches @path or one of its parent directories. */
static bool match_or_parent(const struct pattern *pt, const char *path)
{
	size_t n = strlen(path);

	if (pattern_match(pt, path, n))
		return true;
	for (size_t i = 0; i < n; i++)
		if (path[i] == '/' && pattern_match(pt, path, i))
			return true;
	return false;
}

bool dockerignore_excluded(const struct dockerignore *di, const char *path, bool is_dir)
{
	_cleanup_free_ char *clean = NULL;
	bool matched = false;

	if (!di || !di->n)
		return false;
	clean = clean_path(path);
	for (size_t i = 0; i < di->n; i++) {
		const struct pattern *pt = &di->pats[i];

		if (pt->exception != matched)
			continue;
		if (match_or_parent(pt, clean[0] == '/' && clean[1] ? clean + 1 : clean))
			matched = !pt->exception;
	}
	return matched;
}

/* Whether path component @comp may be matched by pattern component @pc. */
static bool component_may_match(const char *pc, const char *comp)
{
	struct pattern tmp = {.text = (char *)pc};
	bool r;

	if (strstr(pc, "**"))
		return true;
	/* a component of "[a/b]" does not compile alone: be conservative, descend */
	r = compile(&tmp) < 0 || pattern_match(&tmp, comp, strlen(comp));
	for (size_t t = 0; t < tmp.n_toks; t++)
		free(tmp.toks[t].set);
	free(tmp.toks);
	return r;
}

bool dockerignore_may_reinclude_under(const struct dockerignore *di, const char *dir)
{
	_cleanup_free_ char *clean = clean_path(dir);
	_cleanup_strv_ struct strv comps = STRV_INIT;

	for (const char *p = clean; *p && !streq(clean, ".");) {
		size_t w = strcspn(p, "/");

		if (w)
			strv_push_take(&comps, xstrndup(p, w));
		p += w + (p[w] == '/');
	}
	for (size_t i = 0; di && i < di->n; i++) {
		const struct pattern *pt = &di->pats[i];
		bool may = true;

		if (!pt->exception)
			continue;
		for (size_t c = 0; may && c < comps.n; c++) {
			if (c >= pt->dirs.n)
				may = false;
			else if (strstr(pt->dirs.v[c], "**"))
				break;
			else
				may = component_may_match(pt->dirs.v[c], comps.v[c]);
		}
		if (may && (pt->dirs.n > comps.n || strstr(pt->text, "**")))
			return true;
	}
	return false;
}

char *dockerignore_name_for(const char *dockerfile)
{
	return xasprintf("%s.dockerignore", dockerfile);
}
