/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))
#define _unused_       __attribute__((unused))
#define _pure_	       __attribute__((pure))
#define _likely_(x)    __builtin_expect(!!(x), 1)
#define _unlikely_(x)  __builtin_expect(!!(x), 0)
#define _warn_unused_  __attribute__((warn_unused_result))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

/* True when @s starts with @prefix; returns the rest or NULL. */
static inline const char *startswith(const char *s, const char *prefix)
{
	size_t n = __builtin_strlen(prefix);

	return __builtin_strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static inline int streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return __builtin_strcmp(a, b) == 0;
}

#define streq(a, b) (__builtin_strcmp((a), (b)) == 0)
