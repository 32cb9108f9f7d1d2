/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <time.h>

#include "builder/build-internal.h"

/*
 * A step's working directories under the store's tmp/: upper/ (the step's
 * diff, committed as its layer), work/ (the sandbox's or overlay's state) and
 * merged/ (where COPY sees the image's root). Removed by step_dirs_release();
 * a build killed half way leaves them in tmp/, which the next store_open()
 * sweeps (or `kiln prune` empties).
 */
struct step_dirs {
	char *base; /* tmp/step.XXXXXXXX */
	int lock; /* an fd on base holding its lock (layers' store_tmp_mkdir), valid with base */
	char *upper;
	char *work;
	char *merged;
	bool mounted;
	/* `copy` storage: merged/ is a plain copy of these layers (top first) */
	bool copied;
	struct strv copied_from;
	struct timespec copied_at; /* the birth time of a directory made after the copy */
	bool stamped; /* copied_at is known */
};

int step_dirs_make(struct build_ctx *b, struct step_dirs *ret, struct kiln_error **err);
void step_dirs_release(struct step_dirs *d);

/* The snapshot paths of @layers, top first, unpacking what is missing. */
int rootfs_lowers(struct build_ctx *b, const struct layer_desc *layers, size_t n, struct strv *ret,
		  struct kiln_error **err);
/*
 * Does the build use `copy` storage? --storage says, else overlay where the
 * store's tmp/ can hold an overlay's upper layer, else copy (with a warning).
 * Decided once, when the first step needs a rootfs (a cached build never
 * probes); returns 1, 0, or a negative errno.
 */
int rootfs_copy_storage(struct build_ctx *b, struct kiln_error **err);
/* RUN: with `copy` storage, d->merged becomes the copy the sandbox runs in. */
int rootfs_prepare_run(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		       struct kiln_error **err);
/*
 * Mount lowers + d->upper at d->merged (overlayfs, userxattr); with `copy`
 * storage, d->merged becomes a plain copy of the lowers instead, and
 * rootfs_diff() writes what changed in it to d->upper. For kiln's own writes
 * only (COPY, WORKDIR): the copy's files are links to the snapshots', which
 * kiln replaces and never writes into.
 */
int rootfs_mount(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		 struct kiln_error **err);
/*
 * The same with files of its own (with `copy` storage, a real copy): where a
 * RUN's processes may write (a rw bind mount), or ADD may hard-link a new
 * name to a file of the image (which overlayfs copies up, so the layer holds
 * both names, as the diff then finds).
 */
int rootfs_mount_own(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		     struct kiln_error **err);
/* A read-only view of @layers at d->merged, for COPY --from (links, as rootfs_mount). */
int rootfs_mount_ro(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		    struct kiln_error **err);
/* The same for a RUN's bind mount (with `copy` storage, a real copy). */
int rootfs_mount_ro_own(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
			struct kiln_error **err);
void rootfs_umount(struct step_dirs *d);
/* `copy` storage: the changes made in d->merged, into d->upper; a no-op for overlays. */
int rootfs_diff(struct step_dirs *d, struct kiln_error **err);
/*
 * rootfs-copy.c: apply the snapshots @lowers (top first) bottom-up into @dir;
 * @link: regular files become hard links to the snapshots' (for a step that
 * runs no process, which replaces files and never writes into one).
 */
int rootfs_copy_layers(const struct strv *lowers, const char *dir, bool link,
		       struct kiln_error **err);
/* True when @dir has no entries. */
bool rootfs_dir_empty(const char *dir);
/* A private mount namespace for the builder's own overlay mounts (real root). */
int rootfs_private_mounts(struct kiln_error **err);
/* The same, where refusal (EPERM: no CAP_SYS_ADMIN) only means chroot isolation (isolation.c). */
int isolation_private_mounts(struct kiln_error **err);

struct copy_chown;
/*
 * "user[:group]" -> ids from the image's /etc/passwd and /etc/group (instr-run.c;
 * RUN, COPY --chown, WORKDIR and kiln run); @as_user: USER's rules (copy_user_resolve).
 */
int resolve_owner(const struct strv *lowers, const char *spec, bool as_user, struct copy_chown *ret,
		  struct kiln_error **err);
/* HOME (when @env lacks it) and the supplementary groups of @uid, as Docker's runtime. */
void run_identity(const struct strv *lowers, uid_t uid, gid_t gid, struct strv *env,
		  gid_t **ret_groups, size_t *ret_n);

struct copy_opts;
/* copy_digest() under the build's lock: the stat cache is shared by parallel stages. */
int locked_copy_digest(struct build_ctx *b, const struct copy_opts *o, char ret_hex[65],
		       struct kiln_error **err);
