/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shell glob patterns over strings (not paths: '*' also matches '/'), as
 * BuildKit's lexer uses them in ${VAR#pat}, ${VAR%pat} and ${VAR/pat/r}.
 * The pattern compiles to tokens run as an NFA, rune by rune, so a match is
 * O(string x pattern) whatever the pattern: no backtracking blow-up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parser/parser-internal.h"
#include "parser/shell-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

enum gtok_kind {
	G_LIT,
	G_ANY,
	G_CLASS,
	G_STAR,
};

struct gtok {
	enum gtok_kind kind;
	uint32_t c; /* G_LIT */
	size_t set, n_set; /* G_CLASS: pairs in glob.ranges */
	bool neg;
};

struct glob {
	struct gtok *toks;
	size_t n, alloc;
	uint32_t *ranges;
	size_t n_ranges, alloc_ranges;
};

static uint32_t rune_at(const char *s, size_t n, size_t *w)
{
	bool ok;

	return text_decode(s, n, w, &ok);
}

static void gtok_push(struct glob *g, struct gtok t)
{
	ALLOC_GROW(g->toks, g->n + 1, g->alloc);
	g->toks[g->n++] = t;
}

/* "[...]" at p (after '['); returns the end, or NULL when unterminated (then '[' is literal). */
static const char *compile_class(struct glob *g, const char *p, const char *end)
{
	struct gtok t = {.kind = G_CLASS, .set = g->n_ranges};
	bool first = true;
	size_t w;

	if (p < end && (*p == '!' || *p == '^'))
		t.neg = true, p++;
	while (p < end && (first || *p != ']')) {
		uint32_t lo = rune_at(p, (size_t)(end - p), &w), hi = lo;

		first = false;
		p += w;
		if (p + 1 < end && *p == '-' && p[1] != ']') {
			hi = rune_at(p + 1, (size_t)(end - p - 1), &w);
			p += 1 + w;
		}
		ALLOC_GROW(g->ranges, g->n_ranges + 2, g->alloc_ranges);
		g->ranges[g->n_ranges++] = lo;
		g->ranges[g->n_ranges++] = hi;
		t.n_set += 2;
	}
	if (p >= end) {
		g->n_ranges = t.set;
		return NULL;
	}
	gtok_push(g, t);
	return p + 1;
}

static void compile(struct glob *g, const char *pat, char escape)
{
	const char *p = pat, *end = pat + strlen(pat), *q;
	bool classes = true; /* once a '[' finds no ']', none after it can: keep this O(n) */
	size_t w;

	while (p < end) {
		if (*p == '*') {
			if (!g->n || g->toks[g->n - 1].kind != G_STAR)
				gtok_push(g, (struct gtok){.kind = G_STAR});
			p++;
		} else if (*p == '?') {
			gtok_push(g, (struct gtok){.kind = G_ANY});
			p++;
		} else if (*p == '[' && classes && (q = compile_class(g, p + 1, end))) {
			p = q;
		} else {
			classes = classes && *p != '[';
			if (*p == escape && p + 1 < end)
				p++;
			gtok_push(g, (struct gtok){.kind = G_LIT,
						   .c = rune_at(p, (size_t)(end - p), &w)});
			p += w;
		}
	}
}

static void glob_release(struct glob *g)
{
	free(g->toks);
	free(g->ranges);
}

static void add_state(const struct glob *g, bool *set, size_t i)
{
	while (!set[i]) {
		set[i] = true;
		if (i >= g->n || g->toks[i].kind != G_STAR)
			return;
		i++;
	}
}

static bool tok_takes(const struct glob *g, const struct gtok *t, uint32_t c)
{
	bool hit = false;

	switch (t->kind) {
	case G_LIT:
		return t->c == c;
	case G_ANY:
		return true;
	case G_CLASS:
		for (size_t k = t->set; k < t->set + t->n_set; k += 2)
			hit |= c >= g->ranges[k] && c <= g->ranges[k + 1];
		return hit != t->neg;
	case G_STAR:
		return true;
	}
	return false;
}

/*
 * Run from s[start]; calls back for each end position where the whole
 * pattern has matched, in increasing order, until @cb returns true.
 */
static bool run(const struct glob *g, const char *s, size_t n, size_t start,
		bool (*cb)(size_t end, void *data), void *data)
{
	size_t ns = g->n + 1, i = start;
	_cleanup_free_ bool *cur = xcalloc(ns, sizeof(bool));
	_cleanup_free_ bool *nxt = xcalloc(ns, sizeof(bool));

	add_state(g, cur, 0);
	for (;;) {
		size_t w;
		uint32_t c;
		bool any = false;

		if (cur[g->n] && cb(i, data))
			return true;
		if (i >= n)
			return false;
		c = rune_at(s + i, n - i, &w);
		memset(nxt, 0, ns);
		for (size_t k = 0; k < g->n; k++) {
			if (!cur[k] || !tok_takes(g, &g->toks[k], c))
				continue;
			add_state(g, nxt, g->toks[k].kind == G_STAR ? k : k + 1);
			any = true;
		}
		if (!any)
			return false;
		memcpy(cur, nxt, ns);
		i += w;
	}
}

struct ends {
	size_t first, last;
	bool found;
	size_t want; /* for at_end: the only end that counts */
};

static bool record_end(size_t end, void *data)
{
	struct ends *e = data;

	if (!e->found)
		e->first = end;
	e->last = end;
	e->found = true;
	return false;
}

static bool at_end(size_t end, void *data)
{
	struct ends *e = data;

	if (end == e->want)
		e->found = true;
	return e->found;
}

bool shell_glob_match(const char *pat, const char *s, size_t n, char escape)
{
	struct glob g = {};
	struct ends e = {.want = n};

	compile(&g, pat, escape);
	run(&g, s, n, 0, at_end, &e);
	glob_release(&g);
	return e.found;
}

static bool rune_start(const char *v, size_t i)
{
	return ((unsigned char)v[i] & 0xc0) != 0x80;
}

void shell_trim(const char *value, const char *pat, char escape, bool prefix, bool greedy,
		struct strbuf *out)
{
	size_t n = strlen(value);
	struct glob g = {};

	compile(&g, pat, escape);
	if (prefix) {
		struct ends e = {};

		run(&g, value, n, 0, record_end, &e);
		if (e.found) {
			strbuf_addstr(out, value + (greedy ? e.last : e.first));
			glob_release(&g);
			return;
		}
	} else {
		/* the suffix starting earliest is the longest */
		for (size_t k = 0; k <= n; k++) {
			size_t i = greedy ? k : n - k;
			struct ends e = {.want = n};

			if (i < n && !rune_start(value, i))
				continue;
			run(&g, value, n, i, at_end, &e);
			if (e.found) {
				strbuf_add(out, value, i);
				glob_release(&g);
				return;
			}
		}
	}
	strbuf_addstr(out, value);
	glob_release(&g);
}

int shell_replace(const char *value, const char *pat, const char *repl, char escape, bool all,
		  struct strbuf *out)
{
	size_t n = strlen(value), pos = 0, i = 0;
	struct glob g = {};

	if (!*pat) {
		strbuf_addstr(out, value);
		return 0;
	}
	compile(&g, pat, escape);
	while (i <= n) {
		struct ends e = {};
		size_t w = 1;

		if (i < n)
			rune_at(value + i, n - i, &w);
		if (i == n || rune_start(value, i))
			run(&g, value, n, i, record_end, &e);
		if (!e.found) {
			i += w;
			continue;
		}
		strbuf_add(out, value + pos, i - pos);
		strbuf_addstr(out, repl);
		if (out->len > SHELL_MAX_EXPANSION) {
			glob_release(&g);
			return -E2BIG;
		}
		pos = e.last;
		if (e.last == i) { /* an empty match: keep the character and move on */
			if (i < n)
				strbuf_add(out, value + i, w);
			pos = i + w;
		}
		i = pos;
		if (!all)
			break;
	}
	if (pos < n)
		strbuf_addstr(out, value + pos);
	glob_release(&g);
	return 0;
}
