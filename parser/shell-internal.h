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
/* ${v/pat/repl}, ${v//pat/repl} when @all; appends the result. */
void shell_replace(const char *value, const char *pat, const char *repl, char escape, bool all,
		   struct strbuf *out);
