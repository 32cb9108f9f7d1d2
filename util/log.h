/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "util/macro.h"

/* Diagnostics go to stderr; stdout carries results only. */
enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug"; returns -EINVAL for anything else. */
int log_parse_level(const char *s, enum log_level *ret_level);
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);

/*
 * Where messages go instead of stderr: the build sends warnings to cmd/ as
 * events (builder_build), so each progress mode renders them its way. @msg
 * is the message alone, without "kiln: warning: " and the newline. Set and
 * reset it while one thread runs; a NULL fn means stderr.
 */
struct log_handler {
	void (*fn)(void *userdata, enum log_level level, const char *msg);
	void *userdata;
};
/* Install @h (NULL: stderr again); the previous handler in *ret_old when not NULL. */
void log_set_handler(const struct log_handler *h, struct log_handler *ret_old);
/* What log_msg() writes without a handler: "kiln: warning: @msg\n" on @f, in one write. */
void log_write(FILE *f, enum log_level level, const char *msg);

#define log_debug(...)                                         \
	do {                                                   \
		if (log_get_level() >= LOG_LEVEL_DEBUG)        \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
