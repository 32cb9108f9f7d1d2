/* SPDX-License-Identifier: Apache-2.0 */
/*
 * More of BuildKit's check rules, by the same names: arguments in FROM,
 * platform flags, reserved stage names, relative WORKDIRs, and secrets in
 * ARG or ENV. Warnings only; values holding variables are judged as written.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "parser/validate-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ARGs every build defines (BuildKit's automatic platform ARGs). */
static const char *const predefined_args[] = {
	"BUILDPLATFORM", "BUILDOS",    "BUILDARCH",	"BUILDVARIANT", "TARGETPLATFORM",
	"TARGETOS",	 "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE",	"BUILDKIT_SYNTAX",
};

static bool in_list(const char *word, size_t n, const char *const *list, size_t list_n)
{
	for (size_t i = 0; i < list_n; i++)
		if (strlen(list[i]) == n && strncasecmp(list[i], word, n) == 0)
			return true;
	return false;
}

/* Calls @fn for each $NAME / ${NAME...} in @s that is not escaped; stops on < 0. */
static int each_var(const char *s, char escape, int (*fn)(const char *name, size_t n, void *data),
		    void *data)
{
	for (const char *p = s; *p; p++) {
		const char *name;
		size_t n;
		int r;

		if (*p == escape && p[1]) {
			p++;
			continue;
		}
		if (*p != '$')
			continue;
		name = p + 1 + (p[1] == '{');
		if (!isalpha((unsigned char)*name) && *name != '_')
			continue;
		for (n = 0; isalnum((unsigned char)name[n]) || name[n] == '_'; n++)
			;
		if ((r = fn(name, n, data)) < 0)
			return r;
		p = name + n - 1;
	}
	return 0;
}

struct from_ctx {
	struct vctx *v;
	const struct instruction *in;
};

static int check_from_var(const char *name, size_t n, void *data)
{
	struct from_ctx *c = data;
	const struct dockerfile *df = c->v->df;
	_cleanup_free_ char *var = xstrndup(name, n);

	if (in_list(name, n, predefined_args, ARRAY_SIZE(predefined_args)))
		return 0;
	for (size_t i = 0; i < df->n_instrs && df->instrs[i].kind != INSTR_FROM; i++)
		for (size_t k = 0; k < df->instrs[i].n_kvs; k++)
			if (streq(df->instrs[i].kvs[k].key, var))
				return 0;
	return v_diag(c->v, c->in, DIAG_WARNING, "UndefinedArgInFrom", v_col_of(c->v, c->in, var),
		      "FROM argument '%s' is not declared (add 'ARG %s' before the first FROM)",
		      var, var);
}

static int lint_from_platform(struct vctx *v, const struct instruction *in)
{
	const char *p = instr_flag_get(in, "platform");

	if (!p)
		return 0;
	if (streq(p, "$TARGETPLATFORM") || streq(p, "${TARGETPLATFORM}"))
		return v_diag(
			v, in, DIAG_WARNING, "RedundantTargetPlatform",
			v_col_of(v, in, "--platform"),
			"setting platform to predefined %s in FROM is redundant as this is the default behavior",
			p);
	if (!strchr(p, '$'))
		return v_diag(v, in, DIAG_WARNING, "FromPlatformFlagConstDisallowed",
			      v_col_of(v, in, "--platform"),
			      "FROM --platform flag should not use a constant value '%s'", p);
	return 0;
}

static int lint_from_rules(struct vctx *v, const struct instruction *in)
{
	struct from_ctx c = {v, in};
	const char *name = instr_from_stage_name(in);
	const char *platform = instr_flag_get(in, "platform");
	int r = 0;

	if (name && (!strcasecmp(name, "scratch") || !strcasecmp(name, "context")))
		r = v_diag(v, in, DIAG_WARNING, "ReservedStageName", v_col_of(v, in, name),
			   "'%s' is reserved and should not be used as a stage name", name);
	if (r >= 0 && in->args.n)
		r = each_var(in->args.v[0], v->df->escape, check_from_var, &c);
	if (r >= 0 && platform)
		r = each_var(platform, v->df->escape, check_from_var, &c);
	return r < 0 ? r : lint_from_platform(v, in);
}

/* BuildKit's pattern: a '_'-separated part of the name is a secret word, and none is "public". */
static bool looks_secret(const char *key)
{
	static const char *const deny[] = {
		"apikey",   "auth",  "credential", "credentials", "key",
		"password", "pword", "passwd",	   "secret",	  "token",
	};
	bool hit = false;

	for (const char *p = key; *p;) {
		size_t n = strcspn(p, "_");

		if (n == 6 && strncasecmp(p, "public", 6) == 0)
			return false;
		hit |= in_list(p, n, deny, ARRAY_SIZE(deny));
		p += n + (p[n] == '_');
	}
	return hit;
}

static int lint_secrets(struct vctx *v, const struct instruction *in)
{
	for (size_t i = 0; i < in->n_kvs; i++) {
		int r;

		if (!looks_secret(in->kvs[i].key))
			continue;
		r = v_diag(
			v, in, DIAG_WARNING, "SecretsUsedInArgOrEnv", 0,
			"do not use ARG or ENV instructions for sensitive data (%s '%s'); use secret mounts",
			instr_kind_name(in->kind), in->kvs[i].key);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool is_absolute(const char *path, char escape)
{
	/* Windows images (escape=`) take C:\dir and \dir */
	if (escape == '`' &&
	    (path[0] == '\\' || (isalpha((unsigned char)path[0]) && path[1] == ':')))
		return true;
	return path[0] == '/' || path[0] == '$';
}

static int lint_stage(struct vctx *v, const struct stage *st)
{
	bool abs_seen = false;
	int r = 0;

	for (size_t i = st->first; r >= 0 && i < st->first + st->n; i++) {
		const struct instruction *in = &v->df->instrs[i];

		if (in->kind == INSTR_ARG || in->kind == INSTR_ENV)
			r = lint_secrets(v, in);
		if (in->kind != INSTR_WORKDIR || in->args.n != 1 || r < 0)
			continue;
		if (is_absolute(in->args.v[0], v->df->escape))
			abs_seen = true;
		else if (!abs_seen)
			r = v_diag(
				v, in, DIAG_WARNING, "WorkdirRelativePath", 0,
				"relative workdir '%s' can have unexpected results if the base image changes",
				in->args.v[0]);
	}
	return r;
}

int v_lint_rules(struct vctx *v)
{
	const struct dockerfile *df = v->df;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < df->n_instrs; i++) {
		if (df->instrs[i].kind == INSTR_FROM)
			r = lint_from_rules(v, &df->instrs[i]);
		else if (i < (df->n_stages ? df->stages[0].first : df->n_instrs))
			r = lint_secrets(v, &df->instrs[i]);
	}
	for (size_t s = 0; r >= 0 && s < df->n_stages; s++)
		r = lint_stage(v, &df->stages[s]);
	return r;
}
