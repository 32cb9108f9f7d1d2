/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/cleanup.h"
#include "util/macro.h"

struct kiln_error;

/*
 * git's strbuf contract: buf is never NULL and always NUL-terminated, len bytes
 * are in use (embedded NULs allowed), STRBUF_INIT initialises, strbuf_detach
 * hands the buffer to the caller.
 */
struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT                                         \
	{                                                   \
		.alloc = 0, .len = 0, .buf = strbuf_slopbuf \
	}

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);
static inline void strbuf_reset(struct strbuf *sb)
{
	strbuf_setlen(sb, 0);
}
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) _printf_(2, 0);
void strbuf_insert(struct strbuf *sb, size_t pos, const void *data, size_t len);
void strbuf_rtrim(struct strbuf *sb);
void strbuf_ltrim(struct strbuf *sb);
void strbuf_trim(struct strbuf *sb);
bool strbuf_endswith(const struct strbuf *sb, const char *suffix);

/* Append everything readable from @fd (until EOF). Returns bytes read or -errno. */
int strbuf_read_fd(struct strbuf *sb, int fd, struct kiln_error **err);
/* Append the contents of @path (relative to @dirfd). Returns >= 0 or -errno. */
int strbuf_read_file(struct strbuf *sb, int dirfd, const char *path, struct kiln_error **err);

static inline void strbuf_releasep(struct strbuf *sb)
{
	strbuf_release(sb);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_releasep)
