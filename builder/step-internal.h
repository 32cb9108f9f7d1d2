/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "builder/rootfs-internal.h"

/*
 * step.c: the one life of a layer step (RUN, COPY/ADD, WORKDIR), run by
 * layer_step_run():
 *
 *  1. key:    ops->key adds what the step depends on to a key chained from
 *             the stage's (and prepares what the work needs);
 *  2. lookup: on a hit, the cached layer, its time and its history entry are
 *             taken, nothing runs, and the step reports CACHED (returns 1);
 *  3. work:   on a miss, ops->work changes a fresh step directory, ls->dirs;
 *  4. commit: commit_step_extra() makes the upper directory the layer and its
 *             snapshot and records the key; ops->committed (if any) then sees
 *             the layer in ls->commit.
 *
 * The stage's key moves on to the step's only when the step succeeds.
 */
/* How a step is committed beyond the defaults (incremental COPY). */
struct commit_extra {
	const struct digest *reuse_blob; /* an earlier layer of the step (layers_commit_opts) */
	bool keep_index;
	bool has_layer; /* out: whether the step made a layer, and which */
	struct layer_desc layer; /* out, owned by the caller when has_layer */
};

struct layer_step {
	struct build_ctx *b;
	struct stage_state *s;
	const struct instruction *in;
	struct step *st; /* the progress event the step's output goes to */
	char *text; /* the instruction as history shows it (instr_text) */
	struct digest key;
	struct step_dirs dirs; /* made empty before ops->work, removed after the commit */
	/* ops->work may set reuse_blob and keep_index; has_layer and layer after the commit */
	struct commit_extra commit;
	void *data; /* the instruction's own state */
};

struct layer_step_ops {
	int (*key)(struct layer_step *ls, struct cache_key *k, struct kiln_error **err);
	int (*work)(struct layer_step *ls, struct kiln_error **err);
	void (*committed)(struct layer_step *ls); /* NULL: nothing to do */
};

/* Returns 0 (done), 1 (from the cache) or a negative errno with *err set. */
int layer_step_run(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		   struct step *st, const struct layer_step_ops *ops, void *data,
		   struct kiln_error **err);

/*
 * Commit d->upper as the step's layer (none when it is empty) and record it.
 * Failing to keep the upper as the snapshot or to record the key in the cache
 * does not fail the step (the first is logged, the second warned about): on
 * success *err is as it was, NULL.
 */
int commit_step(struct build_ctx *b, struct stage_state *s, struct step_dirs *d,
		const struct digest *key, const char *created_by, struct kiln_error **err);
int commit_step_extra(struct build_ctx *b, struct stage_state *s, struct step_dirs *d,
		      const struct digest *key, const char *created_by, struct commit_extra *x,
		      struct kiln_error **err);
/* On a hit, take the cached layer; returns 1 for a hit, 0 for a miss. */
int try_cache(struct build_ctx *b, struct stage_state *s, const struct digest *key,
	      const char *created_by, struct kiln_error **err);
