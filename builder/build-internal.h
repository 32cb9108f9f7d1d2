/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "builder/builder.h"
#include "builder/cache-internal.h"
#include "builder/cache-remote-internal.h"
#include "builder/imgcfg-internal.h"
#include "layers/layers.h"
#include "parser/parser.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"

/*
 * The state of one build. Stages are built in order (a stage can only use the
 * stages before it); a stage the target does not reach is never built.
 */
struct named_context;

struct stage_state {
	size_t index;
	const struct stage *st;
	bool needed;
	bool built;
	char *base; /* the FROM image, expanded */
	int base_stage; /* index of the stage used as base, or -1 */
	struct named_context *base_ctx; /* --build-context for the base (or the whole stage) */
	bool replaced; /* a named context of the stage's name is the stage: no steps of its own */
	json_t *config; /* the image config document */
	struct layer_desc *layers;
	size_t n_layers, alloc_layers;
	struct digest key; /* cache chain: the key of the last step */
	struct strv args; /* ARGs in scope with a value: K=V */
	bool cmd_set; /* CMD was set in this stage (ENTRYPOINT then keeps it) */
	bool cache_off; /* --no-cache or --no-cache-filter for this stage */
	char *workdir_created; /* last WORKDIR made sure of */
	char *created; /* when its last layer step first ran (a cache hit's time), or NULL */
	unsigned step_index, step_total;
	size_t *deps; /* stages this one reads from (FROM, --from, --mount from=) */
	size_t n_deps, alloc_deps;
	bool started;
	struct digest manifest; /* written for the target */
	struct platform
		plat; /* what it builds for: FROM --platform, its base stage's, or the target */
	json_t *cache_notes; /* step key -> cache entry this stage used or made (--cache-to) */
};

struct build_ctx {
	const struct build_opts *opts;
	const struct build_events *ev;
	struct store *store;
	struct dockerfile *df;
	char *dockerfile_name; /* for messages */
	struct strbuf text; /* the Dockerfile, for the source line under errors */
	int context_fd;
	struct dockerignore *ignore;
	struct strv build_args; /* --build-arg values: K=V */
	struct strv used_args; /* names of build args some ARG consumed */
	struct strv meta_args; /* global ARGs (before the first FROM): K=V */
	struct platform target_plat; /* this pass's --platform (TARGETPLATFORM), else the host's */
	struct platform host_plat; /* BUILDPLATFORM */
	/* keys of the steps this kiln build ran, in any pass (under lock): with --no-cache,
	 * a step on $BUILDPLATFORM that another platform's pass ran is still taken */
	struct strv *made_keys;
	bool multi; /* one of several platforms: steps name theirs */
	struct stage_state *stages;
	size_t n_stages;
	size_t target;
	unsigned next_step_id;
	int64_t epoch; /* SOURCE_DATE_EPOCH or -1 */
	char *created; /* RFC 3339 time for history and config */
	enum layer_compression compression;
	/* steps work on plain copies, not overlays: -1 until the first step needs to know */
	int copy_storage; /* rootfs.c, under lock */
	int isolation; /* enum build_isolation, -1 until decided (isolation.c, under lock) */
	bool container_network; /* reduced sandbox, no /dev/net/tun: default network = host's */
	struct copy_stat_cache *stat_cache;
	struct strv pulled; /* images pulled by this build (pull.c) */
	pthread_mutex_t pull_lock; /* pulled; one pull at a time (pull.c) */
	pthread_mutex_t lock; /* next_step_id, used_args, stat_cache; parallel stages */
	struct cache_remote *remote; /* --cache-from, --cache-to; NULL without them */
	struct named_context *contexts; /* --build-context (contexts.c) */
	size_t n_contexts;
};

/* One step's progress bookkeeping. */
struct step {
	struct build_step_info info;
	const struct instruction *in;
	double started;
	char *text;
	char platform[2 * PLATFORM_STR_SIZE];
};

void step_begin(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		struct step *ret);
void step_end(struct build_ctx *b, struct step *st, enum build_step_state state, int status);
/* The isolation of RUN steps, decided once and said in the progress (isolation.c); under b->lock.
 */
int build_isolation_locked(struct build_ctx *b, struct kiln_error **err);
void build_message(struct build_ctx *b, const char *fmt, ...) _printf_(2, 3);
/* Record that this build ran the step of @key; did it? (build.c) */
void build_key_made(struct build_ctx *b, const struct digest *key);
bool build_key_was_made(struct build_ctx *b, const struct digest *key);

/* args.c: build arguments and ARG scoping. */
int args_init(struct build_ctx *b, struct kiln_error **err);
int args_declare(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		 struct kiln_error **err);
/* The environment variables are expanded against: ARGs in scope, then Env over them. */
void args_expansion_env(const struct stage_state *s, struct strv *ret);
bool args_is_predefined(const char *name);
bool args_is_proxy(const char *name);
void args_warn_unused(struct build_ctx *b);

/* Expand one word / words of @in with @s's environment; errors name the instruction. */
int expand_word(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		const char *word, char **ret, struct kiln_error **err);
int expand_words(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		 const char *text, struct strv *ret, struct kiln_error **err);
/* An input error at @in's location, with its source lines (instr_locate). */
int instr_error(struct build_ctx *b, const struct instruction *in, struct kiln_error **err,
		const char *fmt, ...) _printf_(4, 5);
/* Point *err at @in's lines of the Dockerfile, as BuildKit shows a failed step. */
void instr_locate(struct build_ctx *b, const struct instruction *in, struct kiln_error **err);

/*
 * pull.c: the image @name (FROM, COPY --from, RUN --mount=from; never a
 * stage) from the store, pulled from its registry first as --pull says.
 */
int build_image_read(struct build_ctx *b, const char *name, const struct platform *platform,
		     struct image **ret, struct kiln_error **err);

/*
 * emulation.c: can RUN steps of @p run here: natively, or through a
 * binfmt_misc handler with the F flag? Else an error naming the fix.
 */
int emulation_check(const struct platform *p, struct kiln_error **err);

/* contexts.c: --build-context NAME=DIR|docker-image://REF|oci-layout://DIR[:TAG|@DIGEST]. */
enum named_context_kind {
	NAMED_CONTEXT_DIR,
	NAMED_CONTEXT_IMAGE,
	NAMED_CONTEXT_LAYOUT,
};

struct named_context {
	char *name;
	enum named_context_kind kind;
	char *ref; /* IMAGE: the reference; LAYOUT: the directory */
	char *tag; /* LAYOUT :TAG, or NULL */
	bool by_digest; /* LAYOUT @DIGEST, in digest */
	struct digest digest;
	int dir_fd; /* DIR: the directory, or -1 */
	char *dir_path; /* DIR: its real path, for read-only views */
	struct dockerignore *ignore; /* DIR: its own .dockerignore, or NULL */
	bool copied; /* LAYOUT: copied into the store as manifest (under pull_lock) */
	struct digest manifest;
};

int contexts_init(struct build_ctx *b, struct kiln_error **err);
void contexts_release(struct build_ctx *b);
/* The named context called @name (case-insensitive, as stage names), or NULL. */
struct named_context *context_find(const struct build_ctx *b, const char *name);
/* An IMAGE or LAYOUT context's image for @platform, its snapshots checked (as build_image_read). */
int context_image(struct build_ctx *b, struct named_context *c, const struct platform *platform,
		  struct image **ret, struct kiln_error **err);

/* stage.c */
int stage_begin(struct build_ctx *b, struct stage_state *s, struct kiln_error **err);
int stage_run_instruction(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
			  struct kiln_error **err);
void stage_add_layer(struct stage_state *s, const struct layer_desc *l);
/* The time of the stage's latest step: a cache hit keeps the time of the build that
 * made it (so a fully cached rebuild is the same image), unless SOURCE_DATE_EPOCH. */
void stage_set_created(struct build_ctx *b, struct stage_state *s, const char *created);
/* The time for the stage's history and config: stage_set_created's, else the build's. */
const char *stage_created(const struct build_ctx *b, const struct stage_state *s);
/* history += created_by; the cache key chain moves on with @text. */
void stage_history(struct build_ctx *b, struct stage_state *s, const char *created_by,
		   bool empty_layer);
void stage_release(struct stage_state *s);

/*
 * The instruction handlers stage.c's instructions[] dispatches to, one per
 * keyword (FROM is stage_begin's). Each returns 0 when it did its work, 1 when
 * its layer came from the cache, or a negative errno with *err set.
 */
typedef int instr_fn(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		     struct step *st, struct kiln_error **err);

/* instr-meta.c: instructions that only edit the image config. */
instr_fn instr_env, instr_label, instr_arg, instr_cmd, instr_entrypoint, instr_shell, instr_user,
	instr_stopsignal, instr_expose, instr_volume, instr_maintainer, instr_onbuild,
	instr_healthcheck;
/* "RUN echo hi" as history shows it, from the instruction as written. */
char *instr_text(const struct instruction *in);

/* The instructions that make a layer: instr-run.c, instr-copy.c (COPY, ADD), instr-workdir.c. */
instr_fn instr_run, instr_copy, instr_workdir;
