/* SPDX-License-Identifier: Apache-2.0 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/strbuf.h"

#include "util/banned.h"

static enum log_level current_level = LOG_LEVEL_WARN;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_parse_level(const char *s, enum log_level *ret_level)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (streq(s, level_names[i])) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	}
	if (streq(s, "warning")) {
		*ret_level = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

static struct log_handler handler;

void log_set_handler(const struct log_handler *h, struct log_handler *ret_old)
{
	if (ret_old)
		*ret_old = handler;
	handler = h ? *h : (struct log_handler){0};
}

void log_write(FILE *f, enum log_level level, const char *msg)
{
	static const char *const prefix[] = {
		[LOG_LEVEL_ERROR] = "error",
		[LOG_LEVEL_WARN] = "warning",
		[LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_DEBUG] = "debug",
	};
	struct strbuf sb = STRBUF_INIT;

	/* one write per message, so lines from parallel steps do not interleave */
	strbuf_addf(&sb, "kiln: %s: %s\n", prefix[level], msg);
	fwrite(sb.buf, 1, sb.len, f);
	fflush(f);
	strbuf_release(&sb);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	int saved = errno;
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (handler.fn)
		handler.fn(handler.userdata, level, sb.buf);
	else
		log_write(stderr, level, sb.buf);
	strbuf_release(&sb);
	errno = saved;
}
