/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Character classes and quoting that match Go's standard library, because
 * BuildKit's results (and so ours) are defined by them: unicode.IsSpace,
 * strings.TrimSpace and strconv.Quote.
 */
#include <stdlib.h>
#include <string.h>

#include "parser/parser-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

uint32_t text_decode(const char *s, size_t n, size_t *width, bool *ok)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c;
	size_t w, i;

	*ok = true;
	*width = 1;
	if (u[0] < 0x80)
		return u[0];
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		w = 2, c = u[0] & 0x1f;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		w = 3, c = u[0] & 0x0f;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		w = 4, c = u[0] & 0x07;
	else
		goto bad;
	if (n < w)
		goto bad;
	for (i = 1; i < w; i++) {
		if ((u[i] & 0xc0) != 0x80)
			goto bad;
		c = c << 6 | (u[i] & 0x3f);
	}
	if ((w == 3 && c < 0x800) || (w == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*width = w;
	return c;
bad:
	*ok = false;
	return u[0];
}

static bool rune_is_space(uint32_t c)
{
	switch (c) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return true;
	default:
		return c >= 0x2000 && c <= 0x200a;
	}
}

size_t text_space_len(const char *s, size_t n)
{
	size_t w;
	bool ok;
	uint32_t c;

	if (n == 0)
		return 0;
	if ((unsigned char)s[0] < 0x80)
		return s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') ? 1 : 0;
	c = text_decode(s, n, &w, &ok);
	return ok && rune_is_space(c) ? w : 0;
}

size_t text_space_len_before(const char *s, size_t n)
{
	for (size_t w = 1; w <= 4 && w <= n; w++) {
		if (w > 1 && ((unsigned char)s[n - w] & 0xc0) == 0x80)
			continue;
		return text_space_len(s + n - w, w) == w ? w : 0;
	}
	return 0;
}

bool text_byte_is_space(unsigned char b)
{
	return b == 0x85 || b == 0xa0 || rune_is_space(b);
}

bool text_is_hspace(char c)
{
	return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

void text_trim_left(const char **s, size_t *n)
{
	size_t w;

	while ((w = text_space_len(*s, *n)) > 0) {
		*s += w;
		*n -= w;
	}
}

void text_trim(const char **s, size_t *n)
{
	size_t w;

	text_trim_left(s, n);
	while ((w = text_space_len_before(*s, *n)) > 0)
		*n -= w;
}

/* An approximation of Go's unicode.IsPrint for the runes a Dockerfile holds. */
static bool rune_is_print(uint32_t c)
{
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0xa0) || c == 0xad)
		return false;
	if (c == 0x1680 || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
	    (c >= 0x205f && c <= 0x206f) || c == 0x3000 || c == 0xfeff)
		return false;
	if ((c >= 0xe000 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xfffb) || c == 0xfffe ||
	    c == 0xffff || c >= 0xf0000)
		return false;
	return true;
}

void text_go_quote(struct strbuf *out, const char *s, size_t n)
{
	static const char ctl[] = "\a\b\f\n\r\t\v";
	static const char ctl_esc[] = "abfnrtv";
	size_t i = 0, w;
	bool ok;

	strbuf_addch(out, '"');
	while (i < n) {
		uint32_t c = text_decode(s + i, n - i, &w, &ok);
		const char *p;

		if (!ok)
			strbuf_addf(out, "\\x%02x", (unsigned char)s[i]);
		else if (c == '"' || c == '\\')
			strbuf_addf(out, "\\%c", (char)c);
		else if (rune_is_print(c))
			strbuf_add(out, s + i, w);
		else if (c && c < 0x80 && (p = strchr(ctl, (int)c)))
			strbuf_addf(out, "\\%c", ctl_esc[p - ctl]);
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(out, "\\x%02x", c);
		else if (c < 0x10000)
			strbuf_addf(out, "\\u%04x", c);
		else
			strbuf_addf(out, "\\U%08x", c);
		i += w;
	}
	strbuf_addch(out, '"');
}

void text_json_quote(struct strbuf *out, const char *s, size_t n)
{
	strbuf_addch(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			strbuf_addf(out, "\\%c", c);
		else if (c == '\n')
			strbuf_addstr(out, "\\n");
		else if (c == '\t')
			strbuf_addstr(out, "\\t");
		else if (c == '\r')
			strbuf_addstr(out, "\\r");
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(out, "\\u%04x", c);
		else
			strbuf_addch(out, (char)c);
	}
	strbuf_addch(out, '"');
}

size_t text_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	_cleanup_free_ size_t *row = xmalloc((lb + 1) * sizeof(*row));

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;

			row[j] = MIN(MIN(up + 1, row[j - 1] + 1), diag + cost);
			diag = up;
		}
	}
	return row[lb];
}
