/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The validation context shared by validate.c and checks.c. */
#include "parser/parser-internal.h"

struct vctx {
	struct dockerfile *df;
	const char *buf;
	size_t len;
	unsigned flags;
	struct kiln_error **err;
	bool stage_seen;
	size_t *line_starts; /* offsets of each line in buf, built on first use */
	size_t n_lines;
};

/*
 * Report at @in (column @col, 0 for the keyword's). Warnings are recorded
 * (unless "# check=skip=" names @rule) and return 0; errors are recorded and
 * return 0 with PARSER_KEEP_GOING, else set *err and return -EINVAL.
 */
int v_diag(struct vctx *v, const struct instruction *in, enum diag_severity sev, const char *rule,
	   unsigned col, const char *fmt, ...) _printf_(6, 7);
unsigned v_col_of(struct vctx *v, const struct instruction *in, const char *needle);
bool v_rule_skipped(const struct vctx *v, const char *rule);
/* checks.c */
int v_instruction(struct vctx *v, const struct instruction *in, bool in_onbuild);
int v_stages(struct vctx *v);
/* lint-rules.c */
int v_lint_rules(struct vctx *v);
/* lint.c */
int v_lint_instruction(struct vctx *v, const struct instruction *in);
/* Go's time.ParseDuration ("1m30s", "500ms", "0"); nanoseconds. */
int parse_go_duration(const char *s, int64_t *ret_ns);
