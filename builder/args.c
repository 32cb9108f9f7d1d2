/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "builder/build-internal.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* The platform ARGs every build knows without a --build-arg (BuildKit's automatic ARGs). */
static const char *const predefined[] = {
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
	"BUILDPLATFORM",  "BUILDOS",  "BUILDARCH",  "BUILDVARIANT",
};

/* Proxy variables pass through to RUN without an ARG and stay out of the cache key. */
static const char *const proxy_args[] = {
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
	"ftp_proxy",  "NO_PROXY",   "no_proxy",	   "ALL_PROXY",	  "all_proxy",
};

/* The value of a predefined ARG for this pass of the build, in @buf. */
static const char *predefined_value(const struct build_ctx *b, const char *name,
				    char buf[PLATFORM_STR_SIZE])
{
	const struct platform *p = startswith(name, "TARGET") ? &b->target_plat : &b->host_plat;
	const char *what = startswith(name, "TARGET") ? name + 6 : name + 5;

	if (streq(what, "PLATFORM"))
		return platform_format(p, buf);
	return streq(what, "OS") ? p->os : streq(what, "ARCH") ? p->arch : p->variant;
}

bool args_is_predefined(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(predefined); i++)
		if (streq(predefined[i], name))
			return true;
	return false;
}

bool args_is_proxy(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++)
		if (streq(proxy_args[i], name))
			return true;
	return false;
}

int instr_error(struct build_ctx *b, const struct instruction *in, struct kiln_error **err,
		const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	r = err_at(err, &in->loc, "%s", msg);
	instr_locate(b, in, err);
	return r;
}

void instr_locate(struct build_ctx *b, const struct instruction *in, struct kiln_error **err)
{
	/* an ONBUILD trigger's lines are not the Dockerfile's: its FROM is located instead */
	if (!err || !*err || !in->loc.file || !streq(in->loc.file, b->dockerfile_name))
		return;
	err_set_source(*err, &in->loc, in->end_line, b->text.buf, b->text.len);
}

int expand_word(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		const char *word, char **ret, struct kiln_error **err)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	struct kiln_error *e = NULL;
	int r;

	args_expansion_env(s, &env);
	r = shell_expand_word(word, &env, b->df->escape, ret, &e);
	if (r < 0) {
		r = instr_error(b, in, err, "%s: %s", in->keyword, e ? e->msg : "bad word");
		err_free(e);
	}
	return r;
}

int expand_words(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		 const char *text, struct strv *ret, struct kiln_error **err)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	struct kiln_error *e = NULL;
	int r;

	args_expansion_env(s, &env);
	r = shell_expand_words(text, &env, b->df->escape, ret, &e);
	if (r < 0) {
		r = instr_error(b, in, err, "%s: %s", in->keyword, e ? e->msg : "bad word");
		err_free(e);
	}
	return r;
}

void args_expansion_env(const struct stage_state *s, struct strv *ret)
{
	_cleanup_strv_ struct strv env = STRV_INIT;

	strv_copy(ret, &s->args);
	if (s->config)
		imgcfg_get_env(s->config, &env);
	strv_foreach(&env, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *key = NULL;

		if (!eq)
			continue;
		key = xstrndup(*kv, (size_t)(eq - *kv));
		strv_env_set(ret, key, eq + 1);
	}
}

/* The --build-arg value of @name, or NULL. Marks it used. */
static const char *build_arg(struct build_ctx *b, const char *name)
{
	const char *v = strv_env_get(&b->build_args, name);

	pthread_mutex_lock(&b->lock);
	if (v && strv_find(&b->used_args, name) < 0)
		strv_push(&b->used_args, name);
	pthread_mutex_unlock(&b->lock);
	return v;
}

/*
 * The name an ARG declares: in a stage, the name as written expanded like the
 * value (`ARG ${src}=x`, as the classic builder, kaniko and BuildKit up to
 * v0.13 do); before the first FROM, as written.
 */
static int arg_name(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		    const char *key, char **ret, struct kiln_error **err)
{
	int r;

	if (!s) {
		*ret = xstrdup(key);
		return 0;
	}
	r = expand_word(b, s, in, key, ret, err);
	if (r >= 0 && !**ret) {
		free(TAKE_PTR(*ret));
		return instr_error(b, in, err, "ARG: name '%s' expands to nothing", key);
	}
	return r;
}

/*
 * ARG NAME[=default] in @s (or, with @s NULL, before the first FROM). The
 * value: a --build-arg, else the default expanded, else (in a stage) the global
 * ARG of that name, else the platform value for the predefined names.
 */
static int declare_one(struct build_ctx *b, struct stage_state *s, struct stage_state *scope,
		       const struct instruction *in, const struct instr_kv *kv,
		       struct kiln_error **err)
{
	_cleanup_free_ char *def = NULL, *name = NULL;
	char buf[PLATFORM_STR_SIZE];
	const char *v;
	struct strv *target = s ? &s->args : &b->meta_args;
	int r = arg_name(b, s, in, kv->key, &name, err);

	if (r < 0)
		return r;
	v = build_arg(b, name);
	if (!v && kv->has_value) {
		r = expand_word(b, scope, in, kv->value, &def, err);
		if (r < 0)
			return r;
		v = def;
	}
	if (!v && s)
		v = strv_env_get(&b->meta_args, name);
	if (!v && args_is_predefined(name))
		v = predefined_value(b, name, buf);
	if (v)
		strv_env_set(target, name, v);
	return 0;
}

int args_declare(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		 struct kiln_error **err)
{
	struct stage_state meta = {.config = NULL};
	int r = 0;

	if (!s)
		strv_copy(&meta.args, &b->meta_args);
	for (size_t i = 0; i < in->n_kvs && r >= 0; i++) {
		r = declare_one(b, s, s ? s : &meta, in, &in->kvs[i], err);
		if (!s) { /* later global ARGs see the earlier ones */
			strv_clear(&meta.args);
			strv_copy(&meta.args, &b->meta_args);
		}
	}
	strv_clear(&meta.args);
	return r;
}

int args_init(struct build_ctx *b, struct kiln_error **err)
{
	strv_foreach(&b->opts->build_args, a) {
		const char *eq = strchr(*a, '='), *env;

		if (eq == *a)
			return err_usage(err, "--build-arg: expected NAME=VALUE or NAME, got '%s'",
					 *a);
		if (eq) {
			_cleanup_free_ char *k = xstrndup(*a, (size_t)(eq - *a));

			strv_env_set(&b->build_args, k, eq + 1);
			continue;
		}
		env = getenv(*a); /* NAME alone: from our environment, when set there */
		if (env)
			strv_env_set(&b->build_args, *a, env);
	}
	for (size_t i = 0; i < ARRAY_SIZE(predefined); i++) {
		char buf[PLATFORM_STR_SIZE];

		strv_env_set(&b->meta_args, predefined[i], predefined_value(b, predefined[i], buf));
	}
	for (size_t i = 0; i < b->df->n_meta_args; i++) {
		int r = args_declare(b, NULL, &b->df->instrs[i], err);

		if (r < 0)
			return r;
	}
	return 0;
}

void args_warn_unused(struct build_ctx *b)
{
	struct strbuf sb = STRBUF_INIT;

	strv_foreach(&b->build_args, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = xstrndup(*kv, (size_t)(eq - *kv));

		if (strv_find(&b->used_args, k) >= 0 || args_is_proxy(k) || args_is_predefined(k))
			continue;
		strbuf_addf(&sb, "%s%s", sb.len ? " " : "", k);
	}
	if (sb.len)
		log_warn("one or more build args were not consumed: [%s]", sb.buf);
	strbuf_release(&sb);
}
