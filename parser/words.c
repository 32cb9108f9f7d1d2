/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two word splitters of BuildKit's parser: the quote-aware one used for
 * ARG, ENV and LABEL (quotes and escapes are kept, only whitespace splits),
 * and the one that takes leading "--flags" off an instruction's arguments
 * (quotes and escapes are removed).
 */
#include "parser/parser-internal.h"

#include "util/banned.h"

enum split_phase {
	IN_SPACES,
	IN_WORD,
	IN_QUOTE,
};

struct splitter {
	const char *s;
	size_t n, pos;
	char escape;
	enum split_phase phase;
	char quote;
	bool blank_ok;
	struct strbuf word;
	struct strv *out;
};

static void split_flush(struct splitter *sp)
{
	if (sp->blank_ok || sp->word.len > 0)
		strv_push(sp->out, sp->word.buf);
	strbuf_reset(&sp->word);
	sp->blank_ok = false;
}

/* One rune (or invalid byte) at pos, appended; returns its width. */
static size_t split_take(struct splitter *sp, size_t at)
{
	size_t w;
	bool ok;

	if ((unsigned char)sp->s[at] < 0x80) {
		strbuf_addch(&sp->word, sp->s[at]);
		return 1;
	}
	text_decode(sp->s + at, sp->n - at, &w, &ok);
	strbuf_add(&sp->word, sp->s + at, w);
	return w;
}

static void split_word_char(struct splitter *sp, size_t w)
{
	char ch = sp->s[sp->pos];

	if (text_space_len(sp->s + sp->pos, sp->n - sp->pos)) {
		sp->phase = IN_SPACES;
		split_flush(sp);
		sp->pos += w;
		return;
	}
	if (ch == '\'' || ch == '"') {
		sp->quote = ch;
		sp->blank_ok = true;
		sp->phase = IN_QUOTE;
	}
	if (ch == sp->escape) {
		if (sp->pos + w == sp->n) {
			sp->pos += w; /* an escape at the very end is dropped */
			return;
		}
		strbuf_addch(&sp->word, ch);
		sp->pos += w;
	}
	sp->pos += split_take(sp, sp->pos);
}

static void split_quote_char(struct splitter *sp, size_t w)
{
	char ch = sp->s[sp->pos];

	if (ch == sp->quote)
		sp->phase = IN_WORD;
	if (ch == sp->escape && sp->quote != '\'') {
		if (sp->pos + w == sp->n) {
			sp->phase = IN_WORD;
			sp->pos += w;
			return;
		}
		strbuf_addch(&sp->word, ch);
		sp->pos += w;
	}
	sp->pos += split_take(sp, sp->pos);
}

void words_split(const char *s, size_t n, char escape, struct strv *ret)
{
	struct splitter sp = {.s = s, .n = n, .escape = escape, .out = ret};

	strbuf_init(&sp.word, n); /* one allocation: no word is longer than the text */
	while (sp.pos < n) {
		size_t w;
		bool ok;

		text_decode(s + sp.pos, n - sp.pos, &w, &ok);
		if (sp.phase == IN_SPACES) {
			if (text_space_len(s + sp.pos, n - sp.pos)) {
				sp.pos += w;
				continue;
			}
			sp.phase = IN_WORD;
		}
		if (sp.phase == IN_WORD)
			split_word_char(&sp, w);
		else
			split_quote_char(&sp, w);
	}
	if (sp.phase != IN_SPACES)
		split_flush(&sp);
	strbuf_release(&sp.word);
}

/* A flag word, from "--" to unquoted whitespace; returns the end offset. */
static size_t flag_word(const char *s, size_t n, size_t pos, char escape, struct strbuf *word,
			bool *blank_ok)
{
	char quote = 0;

	for (; pos < n; pos++) {
		char ch = s[pos];

		if (!quote && text_byte_is_space((unsigned char)ch))
			break;
		if (!quote && (ch == '\'' || ch == '"')) {
			quote = ch;
			*blank_ok = true;
			continue;
		}
		if (quote && ch == quote) {
			quote = 0;
			continue;
		}
		if (ch == escape) {
			if (pos + 1 == n)
				break;
			ch = s[++pos];
		}
		strbuf_addch(word, ch);
	}
	return pos;
}

size_t words_extract_flags(const char *s, size_t n, char escape, struct strv *ret_flags)
{
	struct strbuf word = STRBUF_INIT;
	size_t pos = 0;

	for (;;) {
		bool blank_ok = false;

		while (pos < n && text_byte_is_space((unsigned char)s[pos]))
			pos++;
		if (pos + 1 >= n || s[pos] != '-' || s[pos + 1] != '-') {
			if (pos >= n)
				pos = n;
			break;
		}
		strbuf_reset(&word);
		pos = flag_word(s, n, pos, escape, &word, &blank_ok);
		if (streq(word.buf, "--")) {
			if (pos >= n)
				pos = n;
			break;
		}
		if (blank_ok || word.len > 0)
			strv_push(ret_flags, word.buf);
	}
	strbuf_release(&word);
	return pos;
}
