/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shell glob patterns over strings (not paths: '*' also matches '/'), as
 * BuildKit's lexer uses them in ${VAR#pat}, ${VAR%pat} and ${VAR/pat/r}.
 * Matching is rune-wise; a step budget bounds backtracking on hostile input.
 */
#include <string.h>

#include "parser/parser-internal.h"
#include "parser/shell-internal.h"

#include "util/banned.h"

#define GLOB_BUDGET 200000

struct glob {
	const char *p, *s;
	size_t pn, sn;
	char escape;
	long budget;
};

static size_t rune_w(const char *s, size_t n)
{
	size_t w;
	bool ok;

	text_decode(s, n, &w, &ok);
	return w;
}

/* A bracket expression at p[pi] ('['); returns its end, or 0 when unterminated. */
static size_t class_match(const struct glob *g, size_t pi, const char *c, size_t cw, bool *hit)
{
	size_t i = pi + 1;
	bool neg = false, first = true;

	*hit = false;
	if (i < g->pn && (g->p[i] == '!' || g->p[i] == '^'))
		neg = true, i++;
	while (i < g->pn && (first || g->p[i] != ']')) {
		size_t lw = rune_w(g->p + i, g->pn - i);
		const char *lo = g->p + i;

		first = false;
		i += lw;
		if (i + 1 < g->pn && g->p[i] == '-' && g->p[i + 1] != ']') {
			size_t hw = rune_w(g->p + i + 1, g->pn - i - 1);
			bool ok;
			size_t w;
			uint32_t a = text_decode(lo, lw, &w, &ok), b = text_decode(g->p + i + 1, hw, &w, &ok),
				 x = text_decode(c, cw, &w, &ok);

			*hit |= x >= a && x <= b;
			i += 1 + hw;
		} else {
			*hit |= lw == cw && memcmp(lo, c, cw) == 0;
		}
	}
	if (i >= g->pn)
		return 0;
	*hit ^= neg;
	return i + 1;
}

static bool match_at(struct glob *g, size_t pi, size_t si)
{
	while (pi < g->pn) {
		char pc = g->p[pi];
		size_t cw;
		bool hit;

		if (--g->budget < 0)
			return false;
		if (pc == '*') {
			for (size_t k = si; k <= g->sn; k += k < g->sn ? rune_w(g->s + k, g->sn - k) : 1)
				if (match_at(g, pi + 1, k))
					return true;
			return false;
		}
		if (si >= g->sn)
			return false;
		cw = rune_w(g->s + si, g->sn - si);
		if (pc == '?') {
			pi++;
		} else if (pc == '[') {
			size_t end = class_match(g, pi, g->s + si, cw, &hit);

			if (end == 0) {
				if (g->s[si] != '[')
					return false;
				pi++;
			} else if (!hit) {
				return false;
			} else {
				pi = end;
			}
		} else {
			size_t pw;

			if (pc == g->escape && pi + 1 < g->pn)
				pi++;
			pw = rune_w(g->p + pi, g->pn - pi);
			if (pw != cw || memcmp(g->p + pi, g->s + si, cw) != 0)
				return false;
			pi += pw;
		}
		si += cw;
	}
	return si == g->sn;
}

bool shell_glob_match(const char *pat, const char *s, size_t n, char escape)
{
	struct glob g = {pat, s, strlen(pat), n, escape, GLOB_BUDGET};

	return match_at(&g, 0, 0);
}

static bool rune_start(const char *v, size_t i)
{
	return ((unsigned char)v[i] & 0xc0) != 0x80;
}

void shell_trim(const char *value, const char *pat, char escape, bool prefix, bool greedy,
		struct strbuf *out)
{
	size_t n = strlen(value);

	for (size_t k = 0; k <= n; k++) {
		/* prefix: try lengths short to long (or long to short when greedy) */
		size_t len = greedy ? n - k : k;

		if (len < n && !rune_start(value, prefix ? len : n - len))
			continue;
		if (prefix && shell_glob_match(pat, value, len, escape)) {
			strbuf_addstr(out, value + len);
			return;
		}
		if (!prefix && shell_glob_match(pat, value + n - len, len, escape)) {
			strbuf_add(out, value, n - len);
			return;
		}
	}
	strbuf_addstr(out, value);
}

/* The longest match starting at @i, as its length, or -1. */
static long longest_at(const char *v, size_t n, size_t i, const char *pat, char escape)
{
	for (size_t e = n; e + 1 > i; e--) {
		if (e < n && !rune_start(v, e))
			continue;
		if (shell_glob_match(pat, v + i, e - i, escape))
			return (long)(e - i);
		if (e == 0)
			break;
	}
	return -1;
}

void shell_replace(const char *value, const char *pat, const char *repl, char escape, bool all,
		   struct strbuf *out)
{
	size_t n = strlen(value), pos = 0;
	bool done = false;

	for (size_t i = 0; i <= n && !done;) {
		long m = rune_start(value, i < n ? i : 0) || i == n ? longest_at(value, n, i, pat, escape)
								    : -1;
		size_t w = i < n ? rune_w(value + i, n - i) : 1;

		if (m < 0) {
			i += w;
			continue;
		}
		strbuf_add(out, value + pos, i - pos);
		strbuf_addstr(out, repl);
		pos = i + (size_t)m;
		if (m == 0) {
			if (i < n)
				strbuf_add(out, value + i, w);
			pos = i + w;
		}
		i = pos;
		done = !all;
	}
	if (pos < n)
		strbuf_addstr(out, value + pos);
}
