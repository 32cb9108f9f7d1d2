/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exec form: a JSON array of strings. BuildKit hands the text to Go's
 * encoding/json, so "valid JSON but not strings" (an error) has to be told
 * apart from "not JSON" (the shell form); hence a full, small validator.
 */
#include <stdlib.h>
#include <string.h>

#include "parser/parser-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define JSON_MAX_DEPTH 1000

struct json_in {
	const char *s;
	size_t n, i;
	int depth;
};

static void skip_ws(struct json_in *in)
{
	while (in->i < in->n && strchr(" \t\n\r", in->s[in->i]) && in->s[in->i])
		in->i++;
}

static int hex4(struct json_in *in, uint32_t *ret)
{
	uint32_t v = 0;

	if (in->n - in->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		char c = in->s[in->i++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static void add_utf8(struct strbuf *sb, uint32_t c)
{
	if (c < 0x80) {
		strbuf_addch(sb, (int)c);
	} else if (c < 0x800) {
		strbuf_addch(sb, (int)(0xc0 | c >> 6));
		strbuf_addch(sb, (int)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		strbuf_addch(sb, (int)(0xe0 | c >> 12));
		strbuf_addch(sb, (int)(0x80 | ((c >> 6) & 0x3f)));
		strbuf_addch(sb, (int)(0x80 | (c & 0x3f)));
	} else {
		strbuf_addch(sb, (int)(0xf0 | c >> 18));
		strbuf_addch(sb, (int)(0x80 | ((c >> 12) & 0x3f)));
		strbuf_addch(sb, (int)(0x80 | ((c >> 6) & 0x3f)));
		strbuf_addch(sb, (int)(0x80 | (c & 0x3f)));
	}
}

/* \uXXXX, with surrogate pairs; lone surrogates become U+FFFD as in Go. */
static int parse_u_escape(struct json_in *in, struct strbuf *sb)
{
	uint32_t c, lo;

	if (hex4(in, &c) < 0)
		return -1;
	if (c >= 0xd800 && c < 0xdc00 && in->n - in->i >= 6 && in->s[in->i] == '\\' &&
	    in->s[in->i + 1] == 'u') {
		size_t save = in->i;

		in->i += 2;
		if (hex4(in, &lo) < 0)
			return -1;
		if (lo >= 0xdc00 && lo < 0xe000) {
			add_utf8(sb, 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00));
			return 0;
		}
		in->i = save;
	}
	add_utf8(sb, c >= 0xd800 && c < 0xe000 ? 0xfffd : c);
	return 0;
}

static int parse_escape(struct json_in *in, struct strbuf *sb)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";
	const char *p;
	char c;

	if (in->i >= in->n)
		return -1;
	c = in->s[in->i++];
	if (c == 'u')
		return parse_u_escape(in, sb);
	p = c ? strchr(from, c) : NULL;
	if (!p)
		return -1;
	strbuf_addch(sb, to[p - from]);
	return 0;
}

/* A string at in->i (which holds '"'); @sb may be NULL to only validate. */
static int parse_string(struct json_in *in, struct strbuf *sb)
{
	struct strbuf tmp = STRBUF_INIT;
	int r = -1;

	in->i++;
	while (in->i < in->n) {
		unsigned char c = (unsigned char)in->s[in->i];
		size_t w;
		bool ok;

		if (c == '"') {
			in->i++;
			r = 0;
			break;
		}
		if (c < 0x20)
			break;
		if (c == '\\') {
			in->i++;
			if (parse_escape(in, &tmp) < 0)
				break;
			continue;
		}
		text_decode(in->s + in->i, in->n - in->i, &w, &ok);
		if (ok)
			strbuf_add(&tmp, in->s + in->i, w);
		else
			add_utf8(&tmp, 0xfffd);
		in->i += w;
	}
	if (r == 0 && sb)
		strbuf_add(sb, tmp.buf, tmp.len);
	strbuf_release(&tmp);
	return r;
}

static size_t digits(struct json_in *in)
{
	size_t start = in->i;

	while (in->i < in->n && in->s[in->i] >= '0' && in->s[in->i] <= '9')
		in->i++;
	return in->i - start;
}

static int parse_number(struct json_in *in)
{
	if (in->s[in->i] == '-')
		in->i++;
	if (in->i < in->n && in->s[in->i] == '0')
		in->i++;
	else if (digits(in) == 0)
		return -1;
	if (in->i < in->n && in->s[in->i] == '.') {
		in->i++;
		if (digits(in) == 0)
			return -1;
	}
	if (in->i < in->n && (in->s[in->i] == 'e' || in->s[in->i] == 'E')) {
		in->i++;
		if (in->i < in->n && (in->s[in->i] == '+' || in->s[in->i] == '-'))
			in->i++;
		if (digits(in) == 0)
			return -1;
	}
	return 0;
}

static int parse_value(struct json_in *in);

/* Shared by arrays and objects: items separated by ',' until @close. */
static int parse_items(struct json_in *in, char close, bool object)
{
	in->i++;
	skip_ws(in);
	if (in->i < in->n && in->s[in->i] == close) {
		in->i++;
		return 0;
	}
	for (;;) {
		if (object) {
			if (in->i >= in->n || in->s[in->i] != '"' || parse_string(in, NULL) < 0)
				return -1;
			skip_ws(in);
			if (in->i >= in->n || in->s[in->i++] != ':')
				return -1;
		}
		if (parse_value(in) < 0)
			return -1;
		skip_ws(in);
		if (in->i >= in->n)
			return -1;
		if (in->s[in->i] == close) {
			in->i++;
			return 0;
		}
		if (in->s[in->i++] != ',')
			return -1;
		skip_ws(in);
	}
}

static int parse_literal(struct json_in *in, const char *word)
{
	size_t l = strlen(word);

	if (in->n - in->i < l || memcmp(in->s + in->i, word, l) != 0)
		return -1;
	in->i += l;
	return 0;
}

static int parse_value(struct json_in *in)
{
	int r;

	skip_ws(in);
	if (in->i >= in->n)
		return -1;
	switch (in->s[in->i]) {
	case '"':
		return parse_string(in, NULL);
	case '[':
	case '{':
		if (++in->depth > JSON_MAX_DEPTH)
			return -1;
		r = parse_items(in, in->s[in->i] == '[' ? ']' : '}', in->s[in->i] == '{');
		in->depth--;
		return r;
	case 't':
		return parse_literal(in, "true");
	case 'f':
		return parse_literal(in, "false");
	case 'n':
		return parse_literal(in, "null");
	default:
		if (in->s[in->i] == '-' || (in->s[in->i] >= '0' && in->s[in->i] <= '9'))
			return parse_number(in);
		return -1;
	}
}

/* The array's elements: strings go to @ret; returns how many were not strings. */
struct json_lens {
	size_t *v;
	size_t n, alloc;
};

static int collect(struct json_in *in, struct strv *ret, struct json_lens *lens,
		   size_t *not_strings)
{
	in->i++;
	skip_ws(in);
	if (in->i < in->n && in->s[in->i] == ']') {
		in->i++;
		return 0;
	}
	for (;;) {
		skip_ws(in);
		if (in->i < in->n && in->s[in->i] == '"') {
			struct strbuf sb = STRBUF_INIT;

			if (parse_string(in, &sb) < 0) {
				strbuf_release(&sb);
				return -1;
			}
			ALLOC_GROW(lens->v, lens->n + 1, lens->alloc);
			lens->v[lens->n++] = sb.len;
			strv_push_take(ret, strbuf_detach(&sb, NULL));
		} else {
			if (parse_value(in) < 0)
				return -1;
			(*not_strings)++;
		}
		skip_ws(in);
		if (in->i >= in->n)
			return -1;
		if (in->s[in->i] == ']') {
			in->i++;
			return 0;
		}
		if (in->s[in->i++] != ',')
			return -1;
	}
}

enum json_array_result json_parse_string_array(const char *s, size_t n, struct strv *ret,
					       size_t **ret_lens)
{
	struct json_in in = {.s = s, .n = n};
	struct strv tmp = STRV_INIT;
	struct json_lens lens = {};
	size_t not_strings = 0;

	text_trim_left(&in.s, &in.n);
	if (in.n == 0 || in.s[0] != '[')
		return JSON_NOT_ARRAY;
	if (collect(&in, &tmp, &lens, &not_strings) < 0)
		goto not_json;
	skip_ws(&in);
	if (in.i != in.n)
		goto not_json;
	if (not_strings) {
		strv_clear(&tmp);
		free(lens.v);
		return JSON_NOT_STRINGS;
	}
	*ret = tmp;
	*ret_lens = lens.v;
	return JSON_STRINGS;
not_json:
	strv_clear(&tmp);
	free(lens.v);
	return JSON_NOT_ARRAY;
}
