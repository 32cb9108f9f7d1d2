/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lint warnings (BuildKit's check rules, by the same names, so "# check=skip="
 * lists carry over) and the checks across stages.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/validate-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static bool all_case(const char *s, int (*is)(int))
{
	for (; *s; s++)
		if (isalpha((unsigned char)*s) && !is((unsigned char)*s))
			return false;
	return true;
}

static int lint_from(struct vctx *v, const struct instruction *in)
{
	const char *name = instr_from_stage_name(in);
	bool kw_upper = all_case(in->keyword, isupper);
	int r = 0;

	if (!name)
		return 0;
	if (!all_case(name, islower))
		r = v_diag(v, in, DIAG_WARNING, "StageNameCasing", v_col_of(v, in, name),
			   "stage name '%s' should be lowercase", name);
	if (r >= 0 && kw_upper != all_case(in->args.v[1], isupper))
		r = v_diag(v, in, DIAG_WARNING, "FromAsCasing", v_col_of(v, in, in->args.v[1]),
			   "'%s' and '%s' keywords' casing do not match", in->args.v[1],
			   in->keyword);
	return r;
}

static int lint_instr(struct vctx *v, const struct instruction *in)
{
	switch (in->kind) {
	case INSTR_CMD:
	case INSTR_ENTRYPOINT:
		if (in->json || in->args.n == 0)
			return 0;
		return v_diag(
			v, in, DIAG_WARNING, "JSONArgsRecommended", 0,
			"JSON arguments recommended for %s to prevent unintended behavior related to OS signals",
			in->keyword);
	case INSTR_MAINTAINER:
		return v_diag(v, in, DIAG_WARNING, "MaintainerDeprecated", 0,
			      "MAINTAINER is deprecated in favor of using LABEL");
	case INSTR_ENV:
	case INSTR_LABEL:
		if (in->n_kvs == 0 || !in->kvs[0].legacy)
			return 0;
		return v_diag(
			v, in, DIAG_WARNING, "LegacyKeyValueFormat", 0,
			"\"%s key=value\" should be used instead of legacy \"%s key value\" format",
			in->keyword, in->keyword);
	case INSTR_FROM:
		return lint_from(v, in);
	default:
		return 0;
	}
}

int v_lint_instruction(struct vctx *v, const struct instruction *in)
{
	return lint_instr(v, in);
}

/* BuildKit's ConsistentInstructionCasing: keywords should follow the file's majority. */
static int lint_casing(struct vctx *v)
{
	const struct dockerfile *df = v->df;
	size_t upper = 0, lower = 0;
	bool want_lower;
	int r = 0;

	for (size_t i = 0; i < df->n_instrs; i++) {
		upper += all_case(df->instrs[i].keyword, isupper);
		lower += all_case(df->instrs[i].keyword, islower);
	}
	want_lower = lower > upper;
	for (size_t i = 0; r >= 0 && i < df->n_instrs; i++) {
		const struct instruction *in = &df->instrs[i];

		if (!all_case(in->keyword, want_lower ? islower : isupper))
			r = v_diag(
				v, in, DIAG_WARNING, "ConsistentInstructionCasing", 0,
				"command '%s' should match the case of the command majority (%s)",
				in->keyword, want_lower ? "lowercase" : "uppercase");
	}
	return r;
}

static int lint_multiple(struct vctx *v, const struct stage *st)
{
	static const enum instr_kind once[] = {INSTR_CMD, INSTR_ENTRYPOINT, INSTR_HEALTHCHECK};
	int r = 0;

	for (size_t k = 0; k < ARRAY_SIZE(once); k++) {
		size_t seen = 0;

		for (size_t i = st->first; r >= 0 && i < st->first + st->n; i++) {
			const struct instruction *in = &v->df->instrs[i];

			if (in->kind == once[k] && seen++)
				r = v_diag(
					v, in, DIAG_WARNING, "MultipleInstructionsDisallowed", 0,
					"multiple %s instructions should not be used in the same stage because only the last one will be used",
					instr_kind_name(once[k]));
		}
	}
	return r;
}

int v_stages(struct vctx *v)
{
	const struct dockerfile *df = v->df;
	int r = lint_casing(v);

	if (r >= 0)
		r = v_lint_rules(v);

	for (size_t s = 0; r >= 0 && s < df->n_stages; s++) {
		const struct stage *st = &df->stages[s];

		r = lint_multiple(v, st);
		for (size_t p = 0; r >= 0 && st->name && p < s; p++)
			if (df->stages[p].name && streq(df->stages[p].name, st->name))
				r = v_diag(v, &df->instrs[st->first], DIAG_WARNING,
					   "DuplicateStageName",
					   v_col_of(v, &df->instrs[st->first],
						    instr_from_stage_name(&df->instrs[st->first])),
					   "duplicate stage name '%s' (first used on line %u)",
					   st->name, df->instrs[df->stages[p].first].loc.line);
	}
	return r;
}

static int duration_unit(const char **p, int64_t *ret)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
		{"ns", 1},	 {"us", 1000},	    {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
		{"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		const char *rest = startswith(*p, units[i].name);

		if (rest && !(streq(units[i].name, "m") && *rest == 's')) {
			*p = rest;
			*ret = units[i].ns;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_go_duration(const char *s, int64_t *ret_ns)
{
	const char *p = s;
	double total = 0;
	bool neg = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (streq(p, "0")) {
		*ret_ns = 0;
		return 0;
	}
	if (!*p)
		return -EINVAL;
	while (*p) {
		size_t ip = strspn(p, "0123456789"), fp = 0;
		double num = 0, scale = 1;
		int64_t unit;

		for (size_t i = 0; i < ip; i++)
			num = num * 10 + (p[i] - '0');
		p += ip;
		if (*p == '.') {
			fp = strspn(++p, "0123456789");
			for (size_t i = 0; i < fp; i++)
				num += (p[i] - '0') * (scale /= 10);
			p += fp;
		}
		if ((ip == 0 && fp == 0) || duration_unit(&p, &unit) < 0)
			return -EINVAL;
		total += num * (double)unit;
		if (total > 9.2e18)
			return -ERANGE;
	}
	*ret_ns = (int64_t)(neg ? -total : total);
	return 0;
}
