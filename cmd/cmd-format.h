/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * docker's --format for listing commands, without a Go template engine:
 * "table" (the command's default columns), "table TEMPLATE" (a header row,
 * then one row per item, aligned as docker's tabwriter does), "json" (one JSON
 * object per line, as {{json .}}), or a TEMPLATE printed once per item.
 * A TEMPLATE is text with {{.Field}}, {{json .Field}} and {{json .}}; "\t"
 * and "\n" written as two characters are a tab and a newline, as in docker.
 */
#include <stdbool.h>
#include <stddef.h>

#include "util/cleanup.h"

struct kiln_error;

struct fmt_field {
	const char *name; /* "Repository" */
	const char *header; /* "REPOSITORY" */
};

struct fmt;

/*
 * @format as given to --format (NULL: "table"); @table_default is the template of
 * plain "table". Unknown fields and unclosed {{ are usage errors naming @cmd.
 */
int fmt_parse(const char *cmd, const char *format, const char *table_default,
	      const struct fmt_field *fields, size_t n_fields, struct fmt **ret,
	      struct kiln_error **err);
/* One item: @values[i] is fields[i]'s text. Buffered until fmt_flush for tables. */
void fmt_row(struct fmt *f, const char *const *values);
/* Print what is buffered (a table: aligned, with its header) to stdout. */
void fmt_flush(struct fmt *f);
void fmt_free(struct fmt *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fmt *, fmt_free)

/* docker's sizes: "4.26MB", "512B" (SI units, 3 significant digits). */
void fmt_human_size(unsigned long long n, char buf[32]);
/* docker's "3 minutes ago" for a time @secs seconds in the past ("N/A" when < 0 given as created).
 */
void fmt_human_since(long long created, char buf[64]);
/* Go's time.Time.String() of @created in local time: "2026-12-07 12:00:00 +0000 UTC". */
void fmt_time(long long created, char buf[64]);
/* An RFC 3339 time ("2026-12-07T12:00:00.5Z", "...+01:00") as seconds; -1 when not one. */
long long fmt_parse_rfc3339(const char *s);
