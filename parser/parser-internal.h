/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared between the parser's source files; not part of the module's API. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parser/parser.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"

/* Where an instruction came from, for messages. */
struct instr_src {
	const char *file;
	unsigned line; /* first line */
	unsigned col; /* column of the keyword */
	const char *text; /* the first physical line (no newline) */
	size_t text_len;
};

/* text.c: Go-compatible character classes and quoting. */
/* Length of the Unicode space (Go's unicode.IsSpace) at @s, or 0. */
size_t text_space_len(const char *s, size_t n);
/* Length of a Unicode space that ends at s + n, or 0. */
size_t text_space_len_before(const char *s, size_t n);
/* Go's byte-wise unicode.IsSpace(rune(b)). */
bool text_byte_is_space(unsigned char b);
/* [\t\v\f\r ] */
bool text_is_hspace(char c);
/* Go's strings.TrimSpace, in place over [*s, *s + *n). */
void text_trim(const char **s, size_t *n);
void text_trim_left(const char **s, size_t *n);
/* Decode one UTF-8 rune; invalid bytes decode as themselves with width 1 and *ok false. */
uint32_t text_decode(const char *s, size_t n, size_t *width, bool *ok);
/* Go's strconv.Quote. */
void text_go_quote(struct strbuf *out, const char *s, size_t n);
/* A JSON string (RFC 8259). */
void text_json_quote(struct strbuf *out, const char *s, size_t n);
/* Levenshtein distance, for "did you mean". */
size_t text_edit_distance(const char *a, const char *b);

/* json.c: the exec form. */
enum json_array_result {
	JSON_NOT_ARRAY, /* not valid JSON, or not an array: the shell form */
	JSON_STRINGS, /* an array of strings: *ret filled */
	JSON_NOT_STRINGS, /* valid JSON array holding something else: an error */
};
/* On JSON_STRINGS, *ret (empty before) gets the elements and *ret_lens their lengths (NULs may be
 * embedded). */
enum json_array_result json_parse_string_array(const char *s, size_t n, struct strv *ret,
					       size_t **ret_lens);

/* words.c: BuildKit's quote-aware word splitter (ARG, ENV, LABEL). */
void words_split(const char *s, size_t n, char escape, struct strv *ret);
/* extractBuilderFlags: leading --flags; returns the offset where arguments start. */
size_t words_extract_flags(const char *s, size_t n, char escape, struct strv *ret_flags);

/* instructions.c: the syntax layer of one logical line. */
int instr_parse_line(struct instruction *in, const char *line, size_t len, char escape,
		     const struct instr_src *src, struct kiln_error **err);
void instr_release(struct instruction *in);
/* Whether a RUN/COPY/ADD line may carry heredocs; fills @ret with them (bodies empty). */
void instr_find_heredocs(const struct instruction *in, char escape, struct heredoc **ret,
			 size_t *ret_n);

/* validate.c: instruction checks and lint warnings. */
int validate_dockerfile(struct dockerfile *df, const char *buf, size_t len, unsigned flags,
			struct kiln_error **err);
void diag_add(struct dockerfile *df, enum diag_severity sev, const struct srcloc *loc,
	      const char *rule, const char *excerpt, size_t excerpt_len, const char *fmt, ...)
	_printf_(7, 8);

/* Error at @src's line, column @col (0: the keyword's), with the line as excerpt. */
int parser_err(struct kiln_error **err, const struct instr_src *src, unsigned col, const char *fmt,
	       ...) _printf_(4, 5);
