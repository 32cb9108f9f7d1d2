/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The instruction layer: what BuildKit's instructions package rejects after
 * the syntax layer accepted it (flags, argument counts, stage names), the
 * stage split, and the lint warnings `kiln check` prints.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/parser-internal.h"
#include "parser/validate-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static int validate_instructions(struct vctx *v);

void diag_add(struct dockerfile *df, enum diag_severity sev, const struct srcloc *loc,
	      const char *rule, const char *excerpt, size_t excerpt_len, const char *fmt, ...)
{
	struct parser_diag *d;
	va_list ap;

	if ((df->n_diags & (df->n_diags - 1)) == 0) /* grow at powers of two */
		df->diags = xreallocarray(df->diags, df->n_diags ? df->n_diags * 2 : 4,
					  sizeof(*df->diags));
	d = &df->diags[df->n_diags++];
	memset(d, 0, sizeof(*d));
	d->severity = sev;
	d->loc = *loc;
	d->loc.file = df->filename;
	d->rule = rule ? xstrdup(rule) : NULL;
	d->excerpt = excerpt ? xstrndup(excerpt, excerpt_len) : NULL;
	va_start(ap, fmt);
	d->msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (sev == DIAG_ERROR)
		df->n_errors++;
}

static void index_lines(struct vctx *v)
{
	size_t alloc = 0;

	v->n_lines = 0;
	for (size_t pos = 0;;) {
		const char *nl;

		ALLOC_GROW(v->line_starts, v->n_lines + 1, alloc);
		v->line_starts[v->n_lines++] = pos;
		nl = pos < v->len ? memchr(v->buf + pos, '\n', v->len - pos) : NULL;
		if (!nl)
			break;
		pos = (size_t)(nl - v->buf) + 1;
	}
}

/* The physical line @no of the source, without its line ending (and BOM). */
static void source_line(struct vctx *v, unsigned no, const char **s, size_t *n)
{
	const char *p, *end = v->buf + v->len, *nl;

	*s = NULL;
	*n = 0;
	if (!v->line_starts)
		index_lines(v);
	if (no == 0 || no > v->n_lines)
		return;
	p = v->buf + v->line_starts[no - 1];
	nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
	*s = p;
	*n = nl ? (size_t)(nl - p) : (size_t)(end - p);
	if (no == 1 && *n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		*s += 3, *n -= 3;
	if (*n > 0 && (*s)[*n - 1] == '\r')
		(*n)--;
}

/* The column of @needle in the instruction's first line, or 0. */
unsigned v_col_of(struct vctx *v, const struct instruction *in, const char *needle)
{
	const char *s, *hit;
	size_t n;
	_cleanup_free_ char *line = NULL;

	source_line(v, in->loc.line, &s, &n);
	if (!s)
		return 0;
	line = xstrndup(s, n);
	hit = strstr(line, needle);
	return hit ? (unsigned)(hit - line) + 1 : 0;
}

int v_diag(struct vctx *v, const struct instruction *in, enum diag_severity sev, const char *rule,
	   unsigned col, const char *fmt, ...)
{
	struct srcloc loc = {v->df->filename, in->loc.line, col ? col : in->loc.col};
	_cleanup_free_ char *msg = NULL;
	const char *s;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	source_line(v, in->loc.line, &s, &n);
	if (sev == DIAG_WARNING) {
		if (!v_rule_skipped(v, rule))
			diag_add(v->df, sev, &loc, rule, s, n, "%s", msg);
		return 0;
	}
	if (v->flags & PARSER_KEEP_GOING) {
		diag_add(v->df, sev, &loc, rule, s, n, "%s", msg);
		return 0;
	}
	err_at(v->err, &loc, "%s", msg);
	if (v->err && s)
		err_set_excerpt(*v->err, s, n);
	return -EINVAL;
}

/* "# check=skip=A,B;error=true": whether @rule is skipped. */
bool v_rule_skipped(const struct vctx *v, const char *rule)
{
	const char *skip = v->df->check ? strstr(v->df->check, "skip=") : NULL;
	size_t l;

	if (!skip || !rule)
		return false;
	skip += 5;
	l = strcspn(skip, ";");
	if (l == 3 && strncasecmp(skip, "all", 3) == 0)
		return true;
	for (const char *p = skip; p < skip + l;) {
		size_t w = strcspn(p, ",;");

		if (w == strlen(rule) && strncasecmp(p, rule, w) == 0)
			return true;
		p += w + (p[w] == ',');
		if (p[0] == ';' || !p[0])
			break;
	}
	return false;
}

static void build_stages(struct dockerfile *df)
{
	struct stage *cur = NULL;

	for (size_t i = 0; i < df->n_instrs; i++) {
		const struct instruction *in = &df->instrs[i];
		const char *name;

		if (in->kind != INSTR_FROM) {
			if (cur)
				cur->n++;
			else if (in->kind == INSTR_ARG)
				df->n_meta_args++;
			continue;
		}
		df->stages = xreallocarray(df->stages, df->n_stages + 1, sizeof(*df->stages));
		cur = &df->stages[df->n_stages++];
		memset(cur, 0, sizeof(*cur));
		cur->first = i;
		cur->n = 1;
		cur->base = in->args.n ? in->args.v[0] : "";
		name = instr_from_stage_name(in);
		if (name) {
			cur->name = xstrdup(name);
			for (char *p = cur->name; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		}
	}
}

const char *instr_from_stage_name(const struct instruction *in)
{
	if (!in || in->kind != INSTR_FROM || in->args.n != 3 || strcasecmp(in->args.v[1], "as"))
		return NULL;
	return in->args.v[2];
}

const char *instr_flag_get(const struct instruction *in, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < in->n_flags; i++)
		if (streq(in->flags[i].name, name))
			v = in->flags[i].value;
	return v;
}

bool instr_flag_expands(enum instr_kind kind, const char *name)
{
	if (kind == INSTR_COPY && streq(name, "from"))
		return false;
	return kind == INSTR_COPY || kind == INSTR_ADD || kind == INSTR_RUN || kind == INSTR_FROM;
}

struct diag_key {
	unsigned line, col;
	size_t index;
};

static int diag_key_cmp(const void *a, const void *b)
{
	const struct diag_key *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Source order (stable): the lexer's warnings come before the checks' otherwise. */
static void sort_diags(struct dockerfile *df)
{
	_cleanup_free_ struct diag_key *keys = NULL;
	_cleanup_free_ struct parser_diag *sorted = NULL;

	if (df->n_diags < 2)
		return;
	keys = xcalloc(df->n_diags, sizeof(*keys));
	sorted = xcalloc(df->n_diags, sizeof(*sorted));
	for (size_t i = 0; i < df->n_diags; i++)
		keys[i] = (struct diag_key){df->diags[i].loc.line, df->diags[i].loc.col, i};
	qsort(keys, df->n_diags, sizeof(*keys), diag_key_cmp);
	for (size_t i = 0; i < df->n_diags; i++)
		sorted[i] = df->diags[keys[i].index];
	memcpy(df->diags, sorted, df->n_diags * sizeof(*sorted));
}

int validate_dockerfile(struct dockerfile *df, const char *buf, size_t len, unsigned flags,
			struct kiln_error **err)
{
	struct vctx v = {.df = df, .buf = buf, .len = len, .flags = flags, .err = err};
	int r = validate_instructions(&v);

	free(v.line_starts);
	if (r >= 0)
		sort_diags(df);
	return r;
}

static int validate_instructions(struct vctx *v)
{
	struct dockerfile *df = v->df;
	int r;

	build_stages(df);
	if (v->flags & PARSER_SYNTAX_ONLY)
		return 0;
	for (size_t i = 0; i < df->n_instrs; i++) {
		v->stage_seen = v->stage_seen || df->instrs[i].kind == INSTR_FROM;
		r = v_instruction(v, &df->instrs[i], false);
		if (r < 0)
			return r;
	}
	return v_stages(v);
}
