/* SPDX-License-Identifier: Apache-2.0 */
#include "util/error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static struct kiln_error *err_replace(struct kiln_error **err, enum kiln_error_kind kind,
				      int errnum)
{
	struct kiln_error *e;

	if (!err)
		return NULL;
	err_free(*err);
	e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->errnum = errnum > 0 ? errnum : EIO;
	*err = e;
	return e;
}

int err_newv(struct kiln_error **err, enum kiln_error_kind kind, int errnum, const char *fmt,
	     va_list ap)
{
	struct kiln_error *e = err_replace(err, kind, errnum);

	if (!e)
		return -(errnum > 0 ? errnum : EIO);
	e->msg = xvasprintf(fmt, ap);
	return -e->errnum;
}

int err_new(struct kiln_error **err, enum kiln_error_kind kind, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_newv(err, kind, errnum, fmt, ap);
	va_end(ap);
	return r;
}

int err_sys(struct kiln_error **err, int errnum, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	struct kiln_error *e;
	va_list ap;

	if (errnum <= 0)
		errnum = EIO;
	e = err_replace(err, KILN_ERR_SYSTEM, errnum);
	if (!e)
		return -errnum;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addf(&sb, ": %s", strerror(errnum));
	e->msg = strbuf_detach(&sb, NULL);
	return -errnum;
}

int err_at(struct kiln_error **err, const struct srcloc *loc, const char *fmt, ...)
{
	struct kiln_error *e = err_replace(err, KILN_ERR_INPUT, EINVAL);
	va_list ap;

	if (!e)
		return -EINVAL;
	va_start(ap, fmt);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (loc) {
		e->loc = *loc;
		e->loc.file = loc->file ? xstrdup(loc->file) : NULL;
	}
	return -EINVAL;
}

int err_usage(struct kiln_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_newv(err, KILN_ERR_USAGE, EINVAL, fmt, ap);
	va_end(ap);
	return r;
}

int err_wrap(struct kiln_error **err, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (!err)
		return -EIO;
	if (!*err)
		return err_new(err, KILN_ERR_INTERNAL, EIO, "unknown error");
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addf(&sb, ": %s", (*err)->msg);
	free((*err)->msg);
	(*err)->msg = strbuf_detach(&sb, NULL);
	return -(*err)->errnum;
}

void err_set_excerpt(struct kiln_error *e, const char *line, size_t len)
{
	if (!e)
		return;
	free(e->excerpt);
	e->excerpt = xstrndup(line, len);
	e->excerpt_line = 0;
}

int err_code(const struct kiln_error *e)
{
	return e ? -e->errnum : -EIO;
}

/* Start of line @n (from 1) of @text, or NULL past its end; *ret_len: its length. */
static const char *nth_line(const char *text, size_t len, unsigned n, size_t *ret_len)
{
	const char *p = text, *end = text + len, *nl;

	for (unsigned i = 1; i < n && p < end; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	if (p >= end)
		return NULL;
	nl = memchr(p, '\n', (size_t)(end - p));
	*ret_len = (size_t)((nl ? nl : end) - p);
	if (*ret_len && p[*ret_len - 1] == '\r')
		(*ret_len)--;
	return p;
}

/* Two lines of context around a one-line instruction, one around a longer one. */
#define SOURCE_CONTEXT(first, last) ((first) == (last) ? 2u : 1u)

void err_set_source(struct kiln_error *e, const struct srcloc *loc, unsigned end_line,
		    const char *text, size_t len)
{
	unsigned last = end_line > loc->line ? end_line : loc->line;
	unsigned ctx = SOURCE_CONTEXT(loc->line, last), first;
	struct strbuf sb = STRBUF_INIT;
	size_t n;

	if (!e || !loc->file || !loc->line || !nth_line(text, len, loc->line, &n))
		return;
	first = loc->line > ctx ? loc->line - ctx : 1;
	for (unsigned i = first; i <= last + ctx; i++) {
		const char *l = nth_line(text, len, i, &n);

		if (!l)
			break;
		if (i > first)
			strbuf_addch(&sb, '\n');
		strbuf_add(&sb, l, n);
	}
	free((char *)e->loc.file);
	free(e->excerpt);
	e->loc = (struct srcloc){xstrdup(loc->file), loc->line, 0};
	e->loc_end = last;
	e->excerpt_line = first;
	e->excerpt = strbuf_detach(&sb, NULL);
}

/* "msg", then "FILE:LINE" and the numbered lines, the failing ones marked ">>>". */
static void format_source(const struct kiln_error *e, struct strbuf *sb)
{
	static const char rule[] = "--------------------";
	const char *l = e->excerpt;
	unsigned n = e->excerpt_line;

	strbuf_addstr(sb, e->msg ? e->msg : "unknown error");
	strbuf_addf(sb, "\n%s:%u\n%s", e->loc.file, e->loc.line, rule);
	for (; l; n++) {
		const char *nl = strchr(l, '\n');
		int len = nl ? (int)(nl - l) : (int)strlen(l);
		bool mark = n >= e->loc.line && n <= e->loc_end;

		strbuf_addf(sb, "\n %5u | %s%.*s", n, mark ? ">>> " : "    ", len, l);
		l = nl ? nl + 1 : NULL;
	}
	strbuf_addf(sb, "\n%s", rule);
}

char *err_format(const struct kiln_error *e)
{
	struct strbuf sb = STRBUF_INIT;

	if (!e)
		return xstrdup("unknown error");
	if (e->excerpt_line && e->excerpt && e->loc.file) {
		format_source(e, &sb);
		return strbuf_detach(&sb, NULL);
	}
	if (e->loc.file) {
		strbuf_addstr(&sb, e->loc.file);
		if (e->loc.line)
			strbuf_addf(&sb, ":%u", e->loc.line);
		if (e->loc.line && e->loc.col)
			strbuf_addf(&sb, ":%u", e->loc.col);
		strbuf_addstr(&sb, ": ");
	}
	strbuf_addstr(&sb, e->msg ? e->msg : "unknown error");
	if (e->excerpt) {
		strbuf_addf(&sb, "\n %5u | %s", e->loc.line, e->excerpt);
		if (e->loc.col) {
			strbuf_addstr(&sb, "\n       | ");
			/* keep tabs so the caret lines up under the offending column */
			for (unsigned i = 1; i < e->loc.col && e->excerpt[i - 1]; i++)
				strbuf_addch(&sb, e->excerpt[i - 1] == '\t' ? '\t' : ' ');
			strbuf_addch(&sb, '^');
		}
	}
	return strbuf_detach(&sb, NULL);
}

void err_free(struct kiln_error *e)
{
	if (!e)
		return;
	free((char *)e->loc.file);
	free(e->msg);
	free(e->excerpt);
	free(e);
}
