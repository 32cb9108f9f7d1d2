/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/cleanup.h"
#include "util/macro.h"

/*
 * A NULL-terminated, growable array of owned strings, for argv and environment
 * lists. v is NULL until the first push; strv_argv() returns a usable empty
 * array in that case.
 */
struct strv {
	char **v;
	size_t n;
	size_t alloc;
};

#define STRV_INIT                             \
	{                                     \
		.v = NULL, .n = 0, .alloc = 0 \
	}

void strv_push(struct strv *s, const char *str);
void strv_push_take(struct strv *s, char *str);
void strv_pushf(struct strv *s, const char *fmt, ...) _printf_(2, 3);
void strv_pushv(struct strv *s, const char *const *v);
void strv_pop(struct strv *s);
void strv_clear(struct strv *s);
void strv_copy(struct strv *dst, const struct strv *src);
/* A NULL-terminated array, valid until the next change to @s. */
char **strv_argv(struct strv *s);
ssize_t strv_find(const struct strv *s, const char *str);
/* For KEY=VALUE lists: the index of KEY, or -1. */
ssize_t strv_env_find(const struct strv *s, const char *key);
/* Set KEY=VALUE, replacing an existing KEY. */
void strv_env_set(struct strv *s, const char *key, const char *value);
/* VALUE of KEY, or NULL. */
const char *strv_env_get(const struct strv *s, const char *key);
/* Join with @sep into a new string. */
char *strv_join(const struct strv *s, const char *sep);

static inline void strv_clearp(struct strv *s)
{
	strv_clear(s);
}
#define _cleanup_strv_ _cleanup_(strv_clearp)

#define strv_foreach(s, it) for (char **it = (s)->v; it && *it; it++)
