/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-instruction checks, dispatched through a table: the flags each
 * instruction takes, argument counts, and value syntax that can be checked
 * before expansion (values holding '$' are left to the builder).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser/validate-internal.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

enum flag_type {
	FLAG_STRING,
	FLAG_STRINGS, /* may repeat */
	FLAG_BOOL,
};

struct flag_spec {
	const char *name;
	enum flag_type type;
	int (*check)(struct vctx *v, const struct instruction *in, const char *value);
};

typedef int (*check_fn)(struct vctx *v, const struct instruction *in);

struct check_spec {
	const struct flag_spec *flags;
	check_fn check;
};

static int chk_mount(struct vctx *v, const struct instruction *in, const char *value);
static int chk_network(struct vctx *v, const struct instruction *in, const char *value);
static int chk_security(struct vctx *v, const struct instruction *in, const char *value);
static int chk_chmod(struct vctx *v, const struct instruction *in, const char *value);
static int chk_duration(struct vctx *v, const struct instruction *in, const char *value);
static int chk_retries(struct vctx *v, const struct instruction *in, const char *value);
static int chk_checksum(struct vctx *v, const struct instruction *in, const char *value);
static int chk_copy_from(struct vctx *v, const struct instruction *in, const char *value);

static const struct flag_spec from_flags[] = {
	{"platform", FLAG_STRING, NULL},
	{},
};
static const struct flag_spec run_flags[] = {
	{"mount", FLAG_STRINGS, chk_mount},
	{"network", FLAG_STRING, chk_network},
	{"security", FLAG_STRING, chk_security},
	{},
};
static const struct flag_spec copy_flags[] = {
	{"from", FLAG_STRING, chk_copy_from},
	{"chown", FLAG_STRING, NULL},
	{"chmod", FLAG_STRING, chk_chmod},
	{"link", FLAG_BOOL, NULL},
	{"parents", FLAG_BOOL, NULL},
	{"exclude", FLAG_STRINGS, NULL},
	{},
};
static const struct flag_spec add_flags[] = {
	{"chown", FLAG_STRING, NULL},
	{"chmod", FLAG_STRING, chk_chmod},
	{"link", FLAG_BOOL, NULL},
	{"keep-git-dir", FLAG_BOOL, NULL},
	{"checksum", FLAG_STRING, chk_checksum},
	{"exclude", FLAG_STRINGS, NULL},
	{"unpack", FLAG_BOOL, NULL},
	{},
};
static const struct flag_spec health_flags[] = {
	{"interval", FLAG_STRING, chk_duration},     {"timeout", FLAG_STRING, chk_duration},
	{"start-period", FLAG_STRING, chk_duration}, {"start-interval", FLAG_STRING, chk_duration},
	{"retries", FLAG_STRING, chk_retries},	     {},
};
static const struct flag_spec no_flags[] = {
	{},
};

static bool has_dollar(const char *s)
{
	return strchr(s, '$') != NULL;
}

static const char *suggest(const char *word, const char *const *cands, size_t n, bool upper)
{
	const char *best = NULL;
	size_t best_d = 3;
	_cleanup_free_ char *w = xstrdup(word);

	for (char *p = w; *p; p++)
		*p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
	for (size_t i = 0; i < n; i++) {
		size_t d = text_edit_distance(w, cands[i]);

		if (d < best_d && d <= strlen(cands[i]) / 2 + 1) {
			best_d = d;
			best = cands[i];
		}
	}
	return best;
}

static int chk_unknown_flag(struct vctx *v, const struct instruction *in,
			    const struct flag_spec *specs, const char *name)
{
	const char *cands[16];
	size_t n = 0;
	const char *s;
	_cleanup_free_ char *needle = xasprintf("--%s", name);

	for (; specs[n].name && n < ARRAY_SIZE(cands); n++)
		cands[n] = specs[n].name;
	s = suggest(name, cands, n, false);
	if (s)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, needle),
			      "unknown flag '--%s' for %s (did you mean --%s?)", name, in->keyword,
			      s);
	if (n == 0)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, needle),
			      "unknown flag '--%s': %s takes no flags", name, in->keyword);
	return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, needle),
		      "unknown flag '--%s' for %s", name, in->keyword);
}

static bool flag_value_ok(const struct flag_spec *spec, const struct instr_flag *f)
{
	if (spec->type != FLAG_BOOL)
		return f->has_value;
	return !f->has_value || !strcasecmp(f->value, "true") || !strcasecmp(f->value, "false");
}

static int chk_flag_value(struct vctx *v, const struct instruction *in,
			  const struct flag_spec *spec, const struct instr_flag *f)
{
	char needle[64];
	unsigned col;

	if (flag_value_ok(spec, f))
		return spec->check ? spec->check(v, in, f->value) : 0;
	/* an error: only now is its column worth looking up */
	snprintf(needle, sizeof(needle), "--%s", f->name);
	col = v_col_of(v, in, needle);
	if (spec->type == FLAG_BOOL && *f->value)
		return v_diag(v, in, DIAG_ERROR, NULL, col,
			      "expecting a boolean value for flag '--%s', not '%s'", f->name,
			      f->value);
	if (spec->type == FLAG_BOOL)
		return v_diag(v, in, DIAG_ERROR, NULL, col, "missing a value on flag '--%s'",
			      f->name);
	return v_diag(v, in, DIAG_ERROR, NULL, col,
		      "missing a value on flag '--%s' (expected --%s=VALUE)", f->name, f->name);
}

static int chk_flags(struct vctx *v, const struct instruction *in, const struct flag_spec *specs)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		const struct instr_flag *f = &in->flags[i];
		const struct flag_spec *spec = NULL;
		int r;

		for (const struct flag_spec *s = specs; s->name; s++)
			if (streq(s->name, f->name))
				spec = s;
		if (!spec) {
			r = chk_unknown_flag(v, in, specs, f->name);
		} else {
			r = chk_flag_value(v, in, spec, f);
			for (size_t j = 0; r >= 0 && j < i && spec->type != FLAG_STRINGS; j++)
				if (streq(in->flags[j].name, f->name))
					r = v_diag(v, in, DIAG_ERROR, NULL, 0,
						   "duplicate flag specified: '--%s'", f->name);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int need_args(struct vctx *v, const struct instruction *in, size_t min, const char *what)
{
	if (in->args.n >= min)
		return 0;
	return v_diag(v, in, DIAG_ERROR, NULL, 0, "%s requires %s", in->keyword, what);
}

static int chk_from(struct vctx *v, const struct instruction *in)
{
	const char *name;

	if (in->args.n != 1 && in->args.n != 3)
		return v_diag(
			v, in, DIAG_ERROR, NULL, 0,
			"FROM requires either one or three arguments (IMAGE [AS NAME]), got %zu",
			in->args.n);
	if (in->args.n == 3 && strcasecmp(in->args.v[1], "as"))
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, in->args.v[1]),
			      "FROM: expected 'AS' after the image, got '%s'", in->args.v[1]);
	name = instr_from_stage_name(in);
	if (!name || has_dollar(name))
		return 0;
	/* BuildKit's rule, plus '/' as buildah takes it (bud/base-with-arg: platform-arm/v7) */
	if (!isalpha((unsigned char)name[0]) ||
	    name[strspn(name,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")])
		return v_diag(
			v, in, DIAG_ERROR, NULL, v_col_of(v, in, name),
			"invalid stage name '%s': it must start with a letter and hold only letters, digits, '-', '_', '.' and '/'",
			name);
	return 0;
}

static int chk_copy(struct vctx *v, const struct instruction *in)
{
	return need_args(v, in, 2, "at least two arguments (SOURCE... DEST)");
}

/*
 * BuildKit's parser takes a bare RUN (the shell then fails with "-c requires
 * an argument" at build time), so it is a warning here, not an error.
 */
static int chk_run(struct vctx *v, const struct instruction *in)
{
	if (in->args.n || in->n_heredocs)
		return 0;
	return v_diag(v, in, DIAG_WARNING, "EmptyCommand", 0,
		      "RUN has no command: the shell will fail with it at build time");
}

static int chk_name_val(struct vctx *v, const struct instruction *in)
{
	int r = need_args(v, in, 1, "at least one argument");

	for (size_t i = 0; r >= 0 && i < in->n_kvs; i++)
		if (!*in->kvs[i].key)
			r = v_diag(v, in, DIAG_ERROR, NULL, 0, "%s names can not be blank",
				   in->keyword);
	return r;
}

static int chk_arg(struct vctx *v, const struct instruction *in)
{
	int r = need_args(v, in, 1, "at least one argument");

	for (size_t i = 0; r >= 0 && i < in->n_kvs; i++)
		if (!*in->kvs[i].key)
			r = v_diag(v, in, DIAG_ERROR, NULL, 0, "ARG names can not be blank");
	return r;
}

static int chk_one(struct vctx *v, const struct instruction *in)
{
	return need_args(v, in, 1, "exactly one argument");
}

static int chk_expose(struct vctx *v, const struct instruction *in)
{
	int r = need_args(v, in, 1, "at least one argument");

	for (size_t i = 0; r >= 0 && i < in->args.n; i++) {
		const char *p = in->args.v[i];
		size_t d = strspn(p, "0123456789");

		if (has_dollar(p))
			continue;
		if (d && p[d] == '-' && strspn(p + d + 1, "0123456789"))
			d += 1 + strspn(p + d + 1, "0123456789");
		if (d == 0 || (p[d] && strcasecmp(p + d, "/tcp") && strcasecmp(p + d, "/udp") &&
			       strcasecmp(p + d, "/sctp")))
			r = v_diag(
				v, in, DIAG_ERROR, NULL, v_col_of(v, in, p),
				"EXPOSE: invalid port '%s' (expected PORT[-PORT][/tcp|/udp|/sctp])",
				p);
	}
	return r;
}

static int chk_volume(struct vctx *v, const struct instruction *in)
{
	int r = need_args(v, in, 1, "at least one argument");

	for (size_t i = 0; r >= 0 && i < in->args.n; i++)
		if (!*in->args.v[i])
			r = v_diag(v, in, DIAG_ERROR, NULL, 0,
				   "VOLUME specified can not be an empty string");
	return r;
}

static int chk_shell(struct vctx *v, const struct instruction *in)
{
	if (!in->json)
		return v_diag(
			v, in, DIAG_ERROR, NULL, 0,
			"SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
	return need_args(v, in, 1, "at least one argument");
}

static int chk_health(struct vctx *v, const struct instruction *in)
{
	if (in->args.n == 0)
		return v_diag(v, in, DIAG_ERROR, NULL, 0,
			      "HEALTHCHECK requires an argument: NONE or CMD COMMAND");
	if (strcasecmp(in->args.v[0], "NONE") == 0) {
		if (in->args.n > 1)
			return v_diag(v, in, DIAG_ERROR, NULL, 0,
				      "HEALTHCHECK NONE takes no arguments");
		return 0;
	}
	if (strcasecmp(in->args.v[0], "CMD") == 0) {
		if (in->args.n < 2)
			return v_diag(v, in, DIAG_ERROR, NULL, 0,
				      "missing command after HEALTHCHECK CMD");
		return 0;
	}
	return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, in->args.v[0]),
		      "unknown type '%s' in HEALTHCHECK (expected CMD or NONE)", in->args.v[0]);
}

static int chk_onbuild(struct vctx *v, const struct instruction *in)
{
	const struct instruction *t = in->onbuild;

	if (!t)
		return v_diag(v, in, DIAG_ERROR, NULL, 0, "ONBUILD requires at least one argument");
	if (t->kind == INSTR_ONBUILD || t->kind == INSTR_FROM || t->kind == INSTR_MAINTAINER)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, in->rest),
			      "'%s' isn't allowed as an ONBUILD trigger", t->keyword);
	return v_instruction(v, t, true);
}

static int chk_nothing(struct vctx *v, const struct instruction *in)
{
	return 0;
}

static int chk_unknown(struct vctx *v, const struct instruction *in)
{
	static const char *const names[] = {
		"ADD",	  "ARG",   "CMD",	  "COPY",  "ENTRYPOINT", "ENV",
		"EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
		"RUN",	  "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",	 "WORKDIR",
	};
	const char *s = suggest(in->keyword, names, ARRAY_SIZE(names), true);

	if (s)
		return v_diag(v, in, DIAG_ERROR, NULL, 0,
			      "unknown instruction '%s' (did you mean %s?)", in->keyword, s);
	return v_diag(v, in, DIAG_ERROR, NULL, 0,
		      "unknown instruction '%s' (expected FROM, RUN, COPY, ADD, ENV, ARG, ...)",
		      in->keyword);
}

static const struct check_spec checks[INSTR_KIND_MAX_] = {
	[INSTR_UNKNOWN] = {no_flags, chk_unknown}, [INSTR_ADD] = {add_flags, chk_copy},
	[INSTR_ARG] = {no_flags, chk_arg},	   [INSTR_CMD] = {no_flags, chk_nothing},
	[INSTR_COPY] = {copy_flags, chk_copy},	   [INSTR_ENTRYPOINT] = {no_flags, chk_nothing},
	[INSTR_ENV] = {no_flags, chk_name_val},	   [INSTR_EXPOSE] = {no_flags, chk_expose},
	[INSTR_FROM] = {from_flags, chk_from},	   [INSTR_HEALTHCHECK] = {health_flags, chk_health},
	[INSTR_LABEL] = {no_flags, chk_name_val},  [INSTR_MAINTAINER] = {no_flags, chk_one},
	[INSTR_ONBUILD] = {no_flags, chk_onbuild}, [INSTR_RUN] = {run_flags, chk_run},
	[INSTR_SHELL] = {no_flags, chk_shell},	   [INSTR_STOPSIGNAL] = {no_flags, chk_one},
	[INSTR_USER] = {no_flags, chk_one},	   [INSTR_VOLUME] = {no_flags, chk_volume},
	[INSTR_WORKDIR] = {no_flags, chk_one},
};

int v_instruction(struct vctx *v, const struct instruction *in, bool in_onbuild)
{
	const struct check_spec *c = &checks[in->kind];
	int r;

	if (in->kind == INSTR_UNKNOWN)
		return c->check(v, in);
	if (!in_onbuild && !v->stage_seen && in->kind != INSTR_ARG)
		return v_diag(v, in, DIAG_ERROR, NULL, 0,
			      "'%s' before the first FROM: only ARG may come before FROM",
			      in->keyword);
	r = chk_flags(v, in, c->flags);
	if (r >= 0)
		r = c->check(v, in);
	if (r >= 0)
		r = v_lint_instruction(v, in);
	return r;
}

/* ---- flag values ---- */

static bool word_in(const char *word, size_t n, const char *list)
{
	for (const char *p = list; *p;) {
		size_t w = strcspn(p, " ");

		if (w == n && strncmp(p, word, n) == 0)
			return true;
		p += w + (p[w] == ' ');
	}
	return false;
}

/* The grammar is parser/mount.c's, shared with kiln build. */
static int chk_mount(struct vctx *v, const struct instruction *in, const char *value)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	struct mount_spec m;

	if (mount_spec_parse(value, MOUNT_SPEC_UNEXPANDED, &m, &e) < 0)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--mount"), "%s", e->msg);
	mount_spec_release(&m);
	return 0;
}

static int chk_network(struct vctx *v, const struct instruction *in, const char *value)
{
	if (has_dollar(value) || word_in(value, strlen(value), "default none host"))
		return 0;
	return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--network"),
		      "--network: unsupported value '%s' (expected default, none or host)", value);
}

static int chk_security(struct vctx *v, const struct instruction *in, const char *value)
{
	if (has_dollar(value) || word_in(value, strlen(value), "sandbox insecure"))
		return 0;
	return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--security"),
		      "--security: unsupported value '%s' (expected sandbox or insecure)", value);
}

/* Octal (0755) or symbolic (u=rwx,go+rx) as chmod(1) takes it. */
static bool valid_chmod(const char *s)
{
	mode_t m;

	if (parse_mode(s, &m) == 0)
		return true;
	for (const char *p = s; *p;) {
		size_t who = strspn(p, "ugoa");

		p += who;
		if (!*p || !strchr("+-=", *p))
			return false;
		while (*p && strchr("+-=", *p)) {
			p++;
			p += strspn(p, "rwxXstugo");
		}
		if (*p == ',')
			p++;
		else if (*p)
			return false;
	}
	return *s != 0;
}

static int chk_chmod(struct vctx *v, const struct instruction *in, const char *value)
{
	if (has_dollar(value) || valid_chmod(value))
		return 0;
	return v_diag(
		v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--chmod"),
		"--chmod: invalid mode '%s' (expected octal such as 0755 or symbolic such as u=rwx,go=rx)",
		value);
}

/*
 * COPY --from takes no variables: BuildKit expands it with an empty
 * environment and fails when that changes it (quotes, escapes, $X, ${X:-y}).
 */
static int chk_copy_from(struct vctx *v, const struct instruction *in, const char *value)
{
	struct kiln_error *e = NULL;
	int r = shell_check_literal_from(value, v->df->escape, &e);

	if (r < 0)
		r = v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--from"), "%s", e->msg);
	err_free(e);
	return r;
}

static int chk_checksum(struct vctx *v, const struct instruction *in, const char *value)
{
	const char *colon = strchr(value, ':');

	if (has_dollar(value) ||
	    (colon && colon > value && strspn(colon + 1, "0123456789abcdef") == strlen(colon + 1) &&
	     colon[1]))
		return 0;
	return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--checksum"),
		      "--checksum: invalid digest '%s' (expected ALGORITHM:HEX such as sha256:...)",
		      value);
}

static int chk_duration(struct vctx *v, const struct instruction *in, const char *value)
{
	int64_t ns;

	if (has_dollar(value))
		return 0;
	if (parse_go_duration(value, &ns) < 0)
		return v_diag(
			v, in, DIAG_ERROR, NULL, v_col_of(v, in, value),
			"HEALTHCHECK: invalid duration '%s' (expected a number with a unit such as 30s, 1m30s, 500ms)",
			value);
	if (ns != 0 && ns < 1000000)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, value),
			      "HEALTHCHECK: duration '%s' cannot be less than 1ms", value);
	return 0;
}

static int chk_retries(struct vctx *v, const struct instruction *in, const char *value)
{
	int64_t n;

	if (has_dollar(value))
		return 0;
	if (parse_i64(value, 10, &n) < 0)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--retries"),
			      "HEALTHCHECK: --retries expects an integer, got '%s'", value);
	if (n < 0)
		return v_diag(v, in, DIAG_ERROR, NULL, v_col_of(v, in, "--retries"),
			      "HEALTHCHECK: --retries cannot be negative");
	return 0;
}
