/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder/build-internal.h"
#include "builder/rootfs-internal.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

void stage_add_layer(struct stage_state *s, const struct layer_desc *l)
{
	ALLOC_GROW(s->layers, s->n_layers + 1, s->alloc_layers);
	layer_desc_copy(&s->layers[s->n_layers++], l);
}

void stage_set_created(struct build_ctx *b, struct stage_state *s, const char *created)
{
	free(s->created);
	s->created = created && b->epoch < 0 ? xstrdup(created) : NULL;
}

const char *stage_created(const struct build_ctx *b, const struct stage_state *s)
{
	return s->created ? s->created : b->created;
}

void stage_history(struct build_ctx *b, struct stage_state *s, const char *created_by,
		   bool empty_layer)
{
	imgcfg_add_history(s->config, stage_created(b, s), created_by, empty_layer, NULL);
}

void stage_release(struct stage_state *s)
{
	free(s->base);
	json_decref(s->config);
	for (size_t i = 0; i < s->n_layers; i++)
		layer_desc_release(&s->layers[i]);
	free(s->layers);
	strv_clear(&s->args);
	free(s->workdir_created);
	free(s->created);
	json_decref(s->cache_notes);
}

/* ---- FROM ---------------------------------------------------------------------------- */

static int base_from_stage(struct build_ctx *b, struct stage_state *s, struct stage_state *from)
{
	s->config = json_deep_copy(from->config);
	for (size_t i = 0; i < from->n_layers; i++)
		stage_add_layer(s, &from->layers[i]);
	s->key = from->key;
	stage_set_created(b, s, from->created);
	return 0;
}

/*
 * A stage always has a PATH: BuildKit (dockerfile2llb) appends its default to
 * the Env of a base that has none, such as a `kiln import`ed rootfs.
 */
static void default_path(json_t *config)
{
	_cleanup_strv_ struct strv env = STRV_INIT;

	imgcfg_get_env(config, &env);
	strv_foreach(&env, kv)
		if (streq(*kv, "PATH") || startswith(*kv, "PATH="))
			return;
	imgcfg_set_env(config, "PATH",
		       "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

/* BuildKit's empty image: the default PATH and WorkingDir "/" */
static void base_scratch(struct stage_state *s)
{
	s->config = imgcfg_new(s->plat.arch, s->plat.os);
	default_path(s->config);
	imgcfg_set_string(s->config, "WorkingDir", "/");
	digest_buffer("scratch", 7, &s->key);
}

static void base_set_image(struct stage_state *s, const struct image *img)
{
	s->config = json_deep_copy(img->config);
	default_path(s->config);
	for (size_t i = 0; i < img->n_layers; i++)
		stage_add_layer(s, &img->layers[i]);
	s->key = img->manifest_digest;
	/* a child image starts with no history of its own steps, but keeps the base's */
}

static int base_from_image(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
			   struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	int r;

	if (strcasecmp(s->base, "scratch") == 0) {
		base_scratch(s);
		return 0;
	}
	r = build_image_read(b, s->base, &s->plat, &img, err);
	if (r < 0)
		return instr_error(b, in, err, "FROM %s: %s", s->base,
				   err && *err ? (*err)->msg : "failed");
	base_set_image(s, img);
	return 0;
}

/*
 * A named context as the base (or as the whole stage): its image, or for a
 * directory, scratch with the directory copied in as COPY copies the main
 * context (.dockerignore applied, content in the cache key).
 */
static int base_from_context(struct build_ctx *b, struct stage_state *s,
			     const struct instruction *in, struct step *st, struct kiln_error **err)
{
	struct named_context *c = s->base_ctx;
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_free_ char *text = NULL;
	int r;

	if (c->kind != NAMED_CONTEXT_DIR) {
		r = context_image(b, c, &s->plat, &img, err);
		if (r < 0)
			return instr_error(b, in, err, "FROM %s: %s", s->base,
					   err && *err ? (*err)->msg : "failed");
		base_set_image(s, img);
		return 0;
	}
	base_scratch(s);
	text = xasprintf("FROM scratch\nCOPY --from=%s / /\n", c->name);
	r = parser_parse(text, strlen(text), "--build-context", &df, err);
	if (r >= 0)
		r = instr_copy(b, s, &df->instrs[1], st, err);
	if (r < 0)
		return err_wrap(err, "FROM %s (--build-context %s)", s->base, c->name);
	return 0;
}

/* ONBUILD triggers of the base run first, then are dropped from the new image. */
static int run_onbuild(struct build_ctx *b, struct stage_state *s, struct kiln_error **err)
{
	json_t *c = imgcfg_config(s->config), *triggers = json_object_get(c, "OnBuild"), *t;
	_cleanup_(json_decrefp) json_t *held = json_incref(triggers);
	size_t i;

	json_object_del(c, "OnBuild");
	json_array_foreach(held, i, t) {
		_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
		_cleanup_free_ char *text = xasprintf("FROM scratch\n%s\n", json_string_value(t));
		int r = parser_parse(text, strlen(text), "ONBUILD", &df, err);

		if (r < 0)
			return err_wrap(err, "base image '%s': ONBUILD trigger '%s'", s->base,
					json_string_value(t));
		for (size_t k = 1; k < df->n_instrs; k++) {
			r = stage_run_instruction(b, s, &df->instrs[k], err);
			if (r < 0)
				return err_wrap(err, "ONBUILD trigger from '%s'", s->base);
		}
	}
	return 0;
}

/* A failed step's error names its Dockerfile lines, unless an inner one did already. */
static void step_locate(struct build_ctx *b, const struct instruction *in, struct kiln_error **err)
{
	if (err && *err && !(*err)->excerpt_line)
		instr_locate(b, in, err);
}

/*
 * The stage's config says its platform, and the cache key chain starts from it:
 * the same base (scratch, a single-platform image) built for two platforms
 * never shares a step.
 */
static void stage_platform_begin(struct stage_state *s)
{
	char buf[PLATFORM_STR_SIZE];
	struct cache_key k;

	platform_to_json(&s->plat, s->config);
	cache_key_begin(&k, &s->key);
	cache_key_add(&k, "platform", platform_format(&s->plat, buf));
	cache_key_finish(&k, &s->key);
}

int stage_begin(struct build_ctx *b, struct stage_state *s, struct kiln_error **err)
{
	const struct instruction *in = &b->df->instrs[s->st->first];
	struct step st;
	int r = interrupt_check(err);

	if (r < 0)
		return r;
	step_begin(b, s, in, &st);
	if (s->base_ctx)
		r = base_from_context(b, s, in, &st, err);
	else if (s->base_stage >= 0)
		r = base_from_stage(b, s, &b->stages[s->base_stage]);
	else
		r = base_from_image(b, s, in, err);
	if (r >= 0 && s->base_stage < 0)
		stage_platform_begin(s);
	if (r >= 0)
		r = run_onbuild(b, s, err);
	if (r < 0)
		step_locate(b, in, err);
	step_end(b, &st, r < 0 ? BUILD_STEP_FAILED : BUILD_STEP_DONE, -1);
	return r;
}

/* ---- one instruction ------------------------------------------------------------------- */

/* After a config-only step, the key covers the config as it now is. */
static void meta_key(struct stage_state *s, const char *text)
{
	_cleanup_free_ char *dump =
		json_dumps(imgcfg_config(s->config), JSON_COMPACT | JSON_SORT_KEYS);
	struct cache_key k;

	cache_key_begin(&k, &s->key);
	cache_key_add(&k, "meta", text);
	cache_key_add(&k, "config", dump ? dump : "");
	/* ARG values reach the key through the RUN steps that see them (as BuildKit) */
	cache_key_finish(&k, &s->key);
}

/* A config-only step (ENV, LABEL, ...) keeps the time it was first built at too, so a
 * rebuild from the cache is the same image even when such steps come before the first
 * RUN or COPY: its key, which covers the resulting config, gets a layerless entry. */
static void meta_created(struct build_ctx *b, struct stage_state *s)
{
	struct cache_entry e = {0};
	struct kiln_error *err = NULL;

	if (s->cache_off || cache_lookup_shared(b, &s->key, &e) <= 0 || !e.created) {
		cache_entry_release(&e);
		e.created = xstrdup(b->created);
		if (cache_store(b->store, &s->key, &e, &err) < 0) {
			log_warn("cannot record the step in the cache: %s, ignoring", err->msg);
			err_free(err);
		}
	}
	cache_export_note(s, &s->key, &e);
	stage_set_created(b, s, e.created);
	cache_entry_release(&e);
}

/*
 * Every instruction after a stage's FROM, by kind: its handler, and whether
 * it is a layer step (its handler looks up the cache, works and commits) or
 * config-only (it edits s->config; run_step() moves the key on and records
 * the history).
 */
enum {
	INSTR_CONFIG_ONLY = 0,
	INSTR_MAKES_LAYER = 1 << 0, /* RUN, COPY/ADD; WORKDIR when the directory is missing */
};

static const struct {
	instr_fn *run;
	unsigned flags;
} instructions[INSTR_KIND_MAX_] = {
	/* [INSTR_FROM]: stage_begin() */
	[INSTR_RUN] = {instr_run, INSTR_MAKES_LAYER},
	[INSTR_COPY] = {instr_copy, INSTR_MAKES_LAYER},
	[INSTR_ADD] = {instr_copy, INSTR_MAKES_LAYER},
	[INSTR_WORKDIR] = {instr_workdir, INSTR_MAKES_LAYER},
	[INSTR_ENV] = {instr_env, INSTR_CONFIG_ONLY},
	[INSTR_LABEL] = {instr_label, INSTR_CONFIG_ONLY},
	[INSTR_ARG] = {instr_arg, INSTR_CONFIG_ONLY},
	[INSTR_CMD] = {instr_cmd, INSTR_CONFIG_ONLY},
	[INSTR_ENTRYPOINT] = {instr_entrypoint, INSTR_CONFIG_ONLY},
	[INSTR_SHELL] = {instr_shell, INSTR_CONFIG_ONLY},
	[INSTR_USER] = {instr_user, INSTR_CONFIG_ONLY},
	[INSTR_STOPSIGNAL] = {instr_stopsignal, INSTR_CONFIG_ONLY},
	[INSTR_EXPOSE] = {instr_expose, INSTR_CONFIG_ONLY},
	[INSTR_VOLUME] = {instr_volume, INSTR_CONFIG_ONLY},
	[INSTR_MAINTAINER] = {instr_maintainer, INSTR_CONFIG_ONLY},
	[INSTR_ONBUILD] = {instr_onbuild, INSTR_CONFIG_ONLY},
	[INSTR_HEALTHCHECK] = {instr_healthcheck, INSTR_CONFIG_ONLY},
};

static int run_step(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		    struct step *st, struct kiln_error **err)
{
	int r;

	if (in->kind >= INSTR_KIND_MAX_ || !instructions[in->kind].run)
		return instr_error(b, in, err, "unknown instruction '%s'", in->keyword);
	r = instructions[in->kind].run(b, s, in, st, err);
	if (r < 0 || (instructions[in->kind].flags & INSTR_MAKES_LAYER))
		return r;
	meta_key(s, st->text);
	meta_created(b, s);
	stage_history(b, s, st->text, true);
	return r;
}

int stage_run_instruction(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
			  struct kiln_error **err)
{
	struct step st;
	int r = interrupt_check(err);

	if (r < 0)
		return r;
	step_begin(b, s, in, &st);
	r = run_step(b, s, in, &st, err);
	if (r < 0) {
		unsigned idx = st.info.index, total = st.info.total;
		_cleanup_free_ char *text = xstrdup(st.text);

		step_end(b, &st, BUILD_STEP_FAILED, st.info.exit_status);
		step_locate(b, in, err);
		if (s->st->name)
			return err_wrap(err, "step %u/%u [%s] '%s'", idx, total, s->st->name, text);
		return err_wrap(err, "step %u/%u '%s'", idx, total, text);
	}
	step_end(b, &st, r > 0 ? BUILD_STEP_CACHED : BUILD_STEP_DONE, -1);
	return 0;
}
