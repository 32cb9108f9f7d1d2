/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/build-internal.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * The instructions that only edit the image config, one instr_NAME() each, as
 * instructions[] in stage.c names them. Each changes s->config; stage.c then
 * records the history entry and moves the cache key on with the new config.
 */

/* Every pair is expanded with the environment from before the instruction, as Docker:
 * in "ENV A=2 B=$A", B gets the previous A. */
static int do_env_label(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
			bool label, struct kiln_error **err)
{
	_cleanup_strv_ struct strv kv = STRV_INIT;

	for (size_t i = 0; i < in->n_kvs; i++) {
		char *key = NULL, *value = NULL;
		int r = expand_word(b, s, in, in->kvs[i].key, &key, err);

		if (r >= 0)
			r = expand_word(b, s, in, in->kvs[i].value, &value, err);
		if (r >= 0 && !*key)
			r = instr_error(b, in, err, "%s names an empty key", in->keyword);
		if (r < 0) {
			free(key);
			free(value);
			return r;
		}
		strv_push_take(&kv, key);
		strv_push_take(&kv, value);
	}
	for (size_t i = 0; i + 1 < kv.n; i += 2) {
		if (label)
			imgcfg_set_label(s->config, kv.v[i], kv.v[i + 1]);
		else
			imgcfg_set_env(s->config, kv.v[i], kv.v[i + 1]);
	}
	return 0;
}

int instr_env(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
	      struct step *st, struct kiln_error **err)
{
	return do_env_label(b, s, in, false, err);
}

int instr_label(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		struct step *st, struct kiln_error **err)
{
	return do_env_label(b, s, in, true, err);
}

int instr_arg(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
	      struct step *st, struct kiln_error **err)
{
	return args_declare(b, s, in, err);
}

/* Shell form: SHELL + [text]; exec form: the JSON elements. */
static void command_argv(struct stage_state *s, const struct instruction *in, size_t from,
			 struct strv *ret)
{
	if (in->json) {
		for (size_t i = from; i < in->args.n; i++)
			strv_push(ret, in->args.v[i]);
		return;
	}
	if (!imgcfg_get_argv(s->config, "Shell", ret) || ret->n == 0) {
		strv_clear(ret);
		strv_push(ret, "/bin/sh");
		strv_push(ret, "-c");
	}
	if (from < in->args.n)
		strv_push(ret, in->args.v[from]);
}

int instr_cmd(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
	      struct step *st, struct kiln_error **err)
{
	_cleanup_strv_ struct strv argv = STRV_INIT;

	command_argv(s, in, 0, &argv);
	imgcfg_set_argv(s->config, "Cmd", &argv);
	s->cmd_set = true;
	return 0;
}

int instr_entrypoint(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		     struct step *st, struct kiln_error **err)
{
	_cleanup_strv_ struct strv argv = STRV_INIT;

	command_argv(s, in, 0, &argv);
	imgcfg_set_argv(s->config, "Entrypoint", &argv);
	/* an ENTRYPOINT resets the CMD inherited from the base image (docker) */
	if (!s->cmd_set)
		imgcfg_set_argv(s->config, "Cmd", NULL);
	return 0;
}

int instr_shell(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		struct step *st, struct kiln_error **err)
{
	if (!in->json || in->args.n == 0)
		return instr_error(
			b, in, err,
			"SHELL requires the arguments to be in JSON form, as in SHELL [\"/bin/sh\", \"-c\"]");
	imgcfg_set_argv(s->config, "Shell", &in->args);
	return 0;
}

int instr_user(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
	       struct step *st, struct kiln_error **err)
{
	_cleanup_free_ char *user = NULL;
	int r = expand_word(b, s, in, in->args.n ? in->args.v[0] : "", &user, err);

	if (r < 0)
		return r;
	if (!*user)
		return instr_error(b, in, err, "USER requires a user name or id");
	imgcfg_set_string(s->config, "User", user);
	return 0;
}

int instr_stopsignal(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		     struct step *st, struct kiln_error **err)
{
	_cleanup_free_ char *sig = NULL;
	int r = expand_word(b, s, in, in->args.n ? in->args.v[0] : "", &sig, err);

	if (r < 0)
		return r;
	if (!*sig)
		return instr_error(b, in, err, "STOPSIGNAL requires a signal name or number");
	imgcfg_set_string(s->config, "StopSignal", sig);
	return 0;
}

/* "80" -> "80/tcp", "53/UDP" -> "53/udp", "8000-8002" -> three entries. */
static int expose_one(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		      const char *word, struct kiln_error **err)
{
	_cleanup_free_ char *ports = xstrdup(word), *proto = NULL;
	char *slash = strchr(ports, '/'), *dash;
	unsigned lo, hi;

	if (slash) {
		*slash = '\0';
		proto = xstrdup(slash + 1);
		for (char *p = proto; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	} else {
		proto = xstrdup("tcp");
	}
	if (!streq(proto, "tcp") && !streq(proto, "udp") && !streq(proto, "sctp"))
		return instr_error(b, in, err, "EXPOSE: invalid protocol '%s' in '%s'", proto,
				   word);
	dash = strchr(ports, '-');
	if (dash)
		*dash = '\0';
	if (parse_uint(ports, &lo) < 0 || (dash && parse_uint(dash + 1, &hi) < 0))
		return instr_error(b, in, err, "EXPOSE: invalid port '%s'", word);
	if (!dash)
		hi = lo;
	if (lo > 65535 || hi > 65535 || hi < lo)
		return instr_error(b, in, err, "EXPOSE: invalid port range '%s'", word);
	for (unsigned p = lo; p <= hi; p++) {
		_cleanup_free_ char *key = xasprintf("%u/%s", p, proto);

		imgcfg_add_set_member(s->config, "ExposedPorts", key);
	}
	return 0;
}

int instr_expose(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		 struct step *st, struct kiln_error **err)
{
	for (size_t i = 0; i < in->args.n; i++) {
		_cleanup_strv_ struct strv words = STRV_INIT;
		int r = expand_words(b, s, in, in->args.v[i], &words, err);

		for (size_t j = 0; r >= 0 && j < words.n; j++)
			r = expose_one(b, s, in, words.v[j], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int instr_volume(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		 struct step *st, struct kiln_error **err)
{
	if (in->args.n == 0)
		return instr_error(b, in, err, "VOLUME requires at least one path");
	for (size_t i = 0; i < in->args.n; i++) {
		_cleanup_free_ char *v = NULL;
		int r = expand_word(b, s, in, in->args.v[i], &v, err);

		if (r < 0)
			return r;
		if (!*v)
			return instr_error(b, in, err,
					   "VOLUME specified can not be an empty string");
		imgcfg_add_set_member(s->config, "Volumes", v);
	}
	return 0;
}

int instr_maintainer(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		     struct step *st, struct kiln_error **err)
{
	json_object_set_new(s->config, "author", json_string(in->args.n ? in->args.v[0] : ""));
	return 0;
}

int instr_onbuild(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		  struct step *st, struct kiln_error **err)
{
	const char *rest = in->rest ? in->rest : "";

	/* the trigger is stored as written: "RUN echo hi" */
	while (*rest == ' ' || *rest == '\t')
		rest++;
	imgcfg_add_onbuild(s->config, rest);
	return 0;
}

static int healthcheck_flag(struct build_ctx *b, const struct instruction *in, const char *name,
			    int64_t *ret, struct kiln_error **err)
{
	const char *v = instr_flag_get(in, name);

	*ret = 0;
	if (!v)
		return 0;
	if (parse_duration_ns(v, ret) < 0)
		return instr_error(b, in, err, "HEALTHCHECK --%s: invalid duration '%s'", name, v);
	if (*ret != 0 && *ret < 1000000)
		return instr_error(b, in, err, "HEALTHCHECK --%s: duration '%s' is below 1ms", name,
				   v);
	return 0;
}

int instr_healthcheck(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		      struct step *st, struct kiln_error **err)
{
	_cleanup_strv_ struct strv test = STRV_INIT;
	int64_t interval, timeout, start_period, start_interval;
	const char *retries_s = instr_flag_get(in, "retries");
	int retries = 0, r;

	if (in->args.n == 0 || strcasecmp(in->args.v[0], "NONE") == 0) {
		imgcfg_set_healthcheck(s->config, NULL, 0, 0, 0, 0, 0);
		return 0;
	}
	if ((r = healthcheck_flag(b, in, "interval", &interval, err)) < 0 ||
	    (r = healthcheck_flag(b, in, "timeout", &timeout, err)) < 0 ||
	    (r = healthcheck_flag(b, in, "start-period", &start_period, err)) < 0 ||
	    (r = healthcheck_flag(b, in, "start-interval", &start_interval, err)) < 0)
		return r;
	if (retries_s && (parse_int(retries_s, &retries) < 0 || retries < 0))
		return instr_error(b, in, err, "HEALTHCHECK --retries: expected a number, got '%s'",
				   retries_s);
	if (in->json) {
		strv_push(&test, "CMD");
		for (size_t i = 1; i < in->args.n; i++)
			strv_push(&test, in->args.v[i]);
	} else {
		strv_push(&test, "CMD-SHELL");
		strv_push(&test, in->args.n > 1 ? in->args.v[1] : "");
	}
	imgcfg_set_healthcheck(s->config, &test, interval, timeout, start_period, start_interval,
			       retries);
	return 0;
}

char *instr_text(const struct instruction *in)
{
	struct strbuf sb = STRBUF_INIT;
	const char *rest = in->rest ? in->rest : "";

	strbuf_addstr(&sb, instr_kind_name(in->kind));
	if (*rest)
		strbuf_addf(&sb, " %s", rest);
	for (char *p = sb.buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return strbuf_detach(&sb, NULL);
}
