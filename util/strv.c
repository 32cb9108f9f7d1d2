/* SPDX-License-Identifier: Apache-2.0 */
#include "util/strv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

void strv_push_take(struct strv *s, char *str)
{
	ALLOC_GROW(s->v, s->n + 2, s->alloc);
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void strv_push(struct strv *s, const char *str)
{
	strv_push_take(s, xstrdup(str));
}

void strv_pushf(struct strv *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strv_push_take(s, xvasprintf(fmt, ap));
	va_end(ap);
}

void strv_pushv(struct strv *s, const char *const *v)
{
	for (; v && *v; v++)
		strv_push(s, *v);
}

void strv_pop(struct strv *s)
{
	if (!s->n)
		return;
	free(s->v[--s->n]);
	s->v[s->n] = NULL;
}

void strv_clear(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->alloc = 0;
}

void strv_copy(struct strv *dst, const struct strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		strv_push(dst, src->v[i]);
}

char **strv_argv(struct strv *s)
{
	if (!s->v) {
		ALLOC_GROW(s->v, 1, s->alloc);
		s->v[0] = NULL;
	}
	return s->v;
}

ssize_t strv_find(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i], str))
			return (ssize_t)i;
	return -1;
}

ssize_t strv_env_find(const struct strv *s, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->v[i], key, klen) == 0 && s->v[i][klen] == '=')
			return (ssize_t)i;
	return -1;
}

void strv_env_set(struct strv *s, const char *key, const char *value)
{
	ssize_t i = strv_env_find(s, key);
	char *kv = xasprintf("%s=%s", key, value);

	if (i < 0) {
		strv_push_take(s, kv);
		return;
	}
	free(s->v[i]);
	s->v[i] = kv;
}

const char *strv_env_get(const struct strv *s, const char *key)
{
	ssize_t i = strv_env_find(s, key);

	return i < 0 ? NULL : s->v[i] + strlen(key) + 1;
}

char *strv_join(const struct strv *s, const char *sep)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < s->n; i++) {
		if (i)
			strbuf_addstr(&sb, sep);
		strbuf_addstr(&sb, s->v[i]);
	}
	return strbuf_detach(&sb, NULL);
}
