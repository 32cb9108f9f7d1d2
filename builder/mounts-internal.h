/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "builder/build-internal.h"
#include "builder/rootfs-internal.h"

/*
 * RUN --mount=type=bind|cache|tmpfs|secret|ssh: the parsed mounts of one RUN
 * step, turned into sandbox mounts. Nothing a mount brings in reaches the
 * step's layer: the sandbox mounts them over the overlay.
 */
struct run_mount {
	struct mount_spec spec; /* as parsed, expanded (parser/mount.c) */
	/* prepared */
	char *host_path; /* what is bound on target */
	char *secret_dir; /* secret: the tmpfs holding it, in kiln's mount namespace */
	int secret_lock; /* holds tmp/secret.* against the sweep of a dead kiln's work */
	struct step_dirs view; /* bind: the read-only overlay of the stage, image or context */
	struct step_dirs rwview; /* bind rw: a throwaway overlay over the source */
	int lock_fd; /* cache sharing=locked */
};

struct run_mounts {
	struct run_mount *v;
	size_t n, alloc;
	struct strv env; /* secret env=, SSH_AUTH_SOCK */
};

/* Parse every --mount of @in (values expanded); errors name the option. */
int run_mounts_parse(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		     struct run_mounts *ret, struct kiln_error **err);
/* Add what the mounts bring in that the cache key must see (bind content digests). */
int run_mounts_cache_key(struct build_ctx *b, struct stage_state *s, struct run_mounts *m,
			 struct cache_key *k, struct kiln_error **err);
/* Make host paths ready: cache dirs, secret files, read-only views. */
int run_mounts_prepare(struct build_ctx *b, struct stage_state *s, struct run_mounts *m,
		       struct kiln_error **err);
void run_mounts_release(struct run_mounts *m);

/*
 * mounts-mask.c: fill @mask_dir (created) with an overlay whiteout for each
 * entry of the context that @di excludes, so an overlay with @mask_dir over
 * the context shows what COPY would copy. Nothing to do without patterns.
 */
int run_mounts_ignore_mask(int context_fd, const struct dockerignore *di, const char *mask_dir,
			   struct kiln_error **err);
