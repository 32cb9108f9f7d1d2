/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>

#include "util/cleanup.h"
#include "util/macro.h"

/*
 * One error object travels up the stack (crun's libcrun_error_t, with systemd's
 * message style). Functions return >= 0 on success and a negative errno-style
 * value on failure, having set *err. Every constructor returns that negative
 * value, so a failure is one line:
 *
 *	return err_sys(err, errno, "open '%s'", path);
 *
 * @err may be NULL when the caller does not want the message.
 */
enum kiln_error_kind {
	KILN_ERR_SYSTEM, /* a syscall or library call failed: errnum says why */
	KILN_ERR_INPUT, /* the user's input is wrong: loc says where */
	KILN_ERR_USAGE, /* the command line is wrong: exit status 2 */
	KILN_ERR_INTERNAL, /* a bug or an impossible state */
};

/* A place in an input file; lines and columns count from 1, 0 means unknown. */
struct srcloc {
	const char *file;
	unsigned line;
	unsigned col;
};

struct kiln_error {
	int errnum; /* positive errno value */
	enum kiln_error_kind kind;
	struct srcloc loc; /* loc.file is owned by the error */
	char *msg; /* the chain, outermost context first: "step 2/5 'RUN x': open 'y': No such file"
		    */
	char *excerpt; /* for input errors: the offending source line, or NULL */
	/*
	 * Build-time errors (err_set_source): the excerpt is lines excerpt_line..
	 * of the file, of which loc.line..loc_end are the failing instruction's.
	 */
	unsigned excerpt_line;
	unsigned loc_end;
};

/* @errnum's strerror() is appended: "open 'x': No such file or directory". */
int err_sys(struct kiln_error **err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* An input error at @loc (may be NULL); returns -EINVAL. */
int err_at(struct kiln_error **err, const struct srcloc *loc, const char *fmt, ...) _printf_(3, 4);
/* A usage error (exit status 2); returns -EINVAL. */
int err_usage(struct kiln_error **err, const char *fmt, ...) _printf_(2, 3);
/* Any kind with an explicit errnum (positive); no strerror() is appended. */
int err_new(struct kiln_error **err, enum kiln_error_kind kind, int errnum, const char *fmt, ...)
	_printf_(4, 5);
int err_newv(struct kiln_error **err, enum kiln_error_kind kind, int errnum, const char *fmt,
	     va_list ap) _printf_(4, 0);
/* Prefix context to the existing error: "ctx: old message". Returns -errnum. */
int err_wrap(struct kiln_error **err, const char *fmt, ...) _printf_(2, 3);
/* Attach the offending source line to an input error. */
void err_set_excerpt(struct kiln_error *e, const char *line, size_t len);
/*
 * Point @e at lines @loc->line..@end_line of @text (the whole file named
 * loc->file), as BuildKit shows a failed step: err_format() then prints the
 * message, "FILE:LINE" and those lines with a few around them, the failing
 * ones marked ">>>". Replaces any location and excerpt @e had.
 */
void err_set_source(struct kiln_error *e, const struct srcloc *loc, unsigned end_line,
		    const char *text, size_t len);
/* The negative return value for @e (-EIO when there is none). */
int err_code(const struct kiln_error *e);
/*
 * Render for the user: "FILE:LINE:COL: msg" for input errors with a location
 * (and the excerpt with a caret on the following lines), "msg" then the block
 * of err_set_source() for build-time errors, else just msg.
 */
char *err_format(const struct kiln_error *e);
void err_free(struct kiln_error *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kiln_error *, err_free)
