/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shell patterns for ${VAR#pat}, ${VAR%pat} and ${VAR/pat/repl} (glob.c). */
#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

/* Whether @pat (with *, ?, [...] and @escape) matches all of s[0, n). */
bool shell_glob_match(const char *pat, const char *s, size_t n, char escape);
/* ${v#pat} (prefix) / ${v%pat}, ## and %% when @greedy; appends the result. */
void shell_trim(const char *value, const char *pat, char escape, bool prefix, bool greedy,
		struct strbuf *out);
/*
 * ${v/pat/repl}, ${v//pat/repl} when @all; appends the result. An empty
 * pattern replaces nothing (as in bash). Returns -E2BIG, having stopped,
 * when the result would pass SHELL_MAX_EXPANSION.
 */
int shell_replace(const char *value, const char *pat, const char *repl, char escape, bool all,
		  struct strbuf *out);

/* The most one word may expand to: nested ${v//p/$v$v} would grow without end. */
#define SHELL_MAX_EXPANSION (4u << 20)
/* The longest pattern ${v#pat} and ${v/pat/r} take once expanded (matching is O(value^2 x pat)). */
#define SHELL_MAX_PATTERN (64u << 10)
