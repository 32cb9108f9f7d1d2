/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "util/macro.h"

/*
 * Allocation that cannot fail: out of memory aborts with a message (git, crun,
 * bubblewrap), so nothing above this layer plumbs ENOMEM.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* Grow @p (holding @alloc elements) so that it holds at least @nr; git's ALLOC_GROW. */
#define ALLOC_GROW(p, nr, alloc)                                             \
	do {                                                                 \
		if ((nr) > (alloc)) {                                        \
			size_t new_alloc_ = (alloc) < 8 ? 8 : (alloc)*3 / 2; \
			if (new_alloc_ < (nr))                               \
				new_alloc_ = (nr);                           \
			(p) = xreallocarray((p), new_alloc_, sizeof(*(p)));  \
			(alloc) = new_alloc_;                                \
		}                                                            \
	} while (0)
