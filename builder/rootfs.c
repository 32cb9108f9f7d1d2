/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/rootfs-internal.h"
#include "builder/snapshot-internal.h"
#include "sandbox/sandbox.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

int step_dirs_make(struct build_ctx *b, struct step_dirs *ret, struct kiln_error **err)
{
	_cleanup_free_ char *tmp = store_dir_path(b->store, STORE_DIR_TMP), *name = NULL;
	struct step_dirs d = {0};
	/* locked while the step lives: a later kiln sweeps it if this one is killed */
	int r = store_tmp_mkdir(b->store, "step", 0700, &name, &d.lock, err);

	if (r < 0)
		return r;
	d.base = fs_path_join(tmp, name);
	d.upper = xasprintf("%s/upper", d.base);
	d.work = xasprintf("%s/work", d.base);
	d.merged = xasprintf("%s/merged", d.base);
	if (mkdir(d.upper, 0755) < 0 || mkdir(d.work, 0700) < 0 || mkdir(d.merged, 0755) < 0) {
		r = err_sys(err, errno, "create step directories in '%s'", d.base);
		step_dirs_release(&d);
		return r;
	}
	*ret = d;
	return 0;
}

void step_dirs_release(struct step_dirs *d)
{
	if (!d->base)
		return;
	rootfs_umount(d);
	/* overlay leaves work/work mode 000: rm_rf copes through unlinkat */
	fs_rm_rf(AT_FDCWD, d->base, NULL);
	close(d->lock); /* set with base */
	free(d->base);
	free(d->upper);
	free(d->work);
	free(d->merged);
	strv_clear(&d->copied_from);
	memset(d, 0, sizeof(*d));
}

static int choose_storage(struct build_ctx *b, struct kiln_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	int r;

	r = build_isolation_locked(b, err);
	if (r < 0)
		return r;
	if (r == BUILD_ISOLATION_CHROOT) {
		if (b->opts->storage == BUILD_STORAGE_OVERLAY)
			return err_usage(err, "--storage=overlay: chroot isolation works on the "
					      "copy storage only");
		return 1;
	}
	if (b->opts->storage != BUILD_STORAGE_AUTO)
		return b->opts->storage == BUILD_STORAGE_COPY;
	tmp = store_dir_path(b->store, STORE_DIR_TMP);
	r = sandbox_overlay_supported(tmp, err);
	if (r < 0)
		return err_wrap(err, "choose the storage");
	if (r == 0)
		log_warn("overlayfs cannot be mounted in '%s': using copy storage, builds will be "
			 "slower (see --storage)",
			 tmp);
	return r == 0;
}

int rootfs_copy_storage(struct build_ctx *b, struct kiln_error **err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = b->copy_storage;
	if (r < 0 && (r = choose_storage(b, err)) >= 0) {
		b->copy_storage = r;
		if (r)
			build_message(
				b, "storage: copy (each step works on a full copy of its rootfs)");
		else
			log_debug("build: overlay storage");
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

static bool stamp_at(const char *p, struct timespec *ret)
{
	struct statx stx;

	if (mkdir(p, 0700) < 0 || statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return false;
	*ret = (struct timespec){.tv_sec = stx.stx_btime.tv_sec, .tv_nsec = stx.stx_btime.tv_nsec};
	return true;
}

/*
 * The birth time of a directory made now, on the copy's filesystem: the
 * directories of the copy are older, those the step makes younger, and so are
 * the status-change times (sandbox-diff.c). The file system's clock ticks
 * coarsely (a few ms): wait for its next tick, so that nothing the step does
 * can carry the copy's time.
 */
static void copy_stamp(struct step_dirs *d)
{
	_cleanup_free_ char *p = xasprintf("%s/stamp", d->base);
	_cleanup_free_ char *q = xasprintf("%s/stamp-next", d->base);
	struct timespec next;

	if (!stamp_at(p, &d->copied_at)) {
		log_debug("no birth times in '%s': replaced directories become whiteouts", d->base);
		return;
	}
	for (int i = 0; i < 1000; i++) {
		bool ok = stamp_at(q, &next);

		rmdir(q);
		if (!ok)
			return;
		if (next.tv_sec != d->copied_at.tv_sec || next.tv_nsec != d->copied_at.tv_nsec) {
			d->stamped = true;
			return;
		}
		nanosleep(&(struct timespec){.tv_nsec = 500000}, NULL);
	}
	log_debug("the clock of '%s' stands still: replaced directories become whiteouts", d->base);
}

/*
 * `copy` storage: d->merged becomes a plain copy of @lowers; @link for a step
 * that runs no process (rootfs_copy_layers).
 */
static int copy_rootfs(const struct strv *lowers, struct step_dirs *d, bool link,
		       struct kiln_error **err)
{
	double t0 = mono_seconds();
	int r = rootfs_copy_layers(lowers, d->merged, link, err);

	if (r < 0)
		return err_wrap(err, "copy the rootfs into '%s'", d->merged);
	log_debug("copy storage: %zu layers %s in %.3f s", lowers->n, link ? "linked" : "copied",
		  mono_seconds() - t0);
	copy_stamp(d);
	strv_copy(&d->copied_from, lowers);
	d->copied = true;
	return 0;
}

int rootfs_prepare_run(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		       struct kiln_error **err)
{
	int r = rootfs_copy_storage(b, err);

	return r <= 0 ? r : copy_rootfs(lowers, d, false, err);
}

int rootfs_diff(struct step_dirs *d, struct kiln_error **err)
{
	double t0 = mono_seconds();
	int r;

	if (!d->copied)
		return 0;
	/* merged/ is removed with the step: what changed moves from it to upper/ */
	r = sandbox_copy_diff_since(d->merged, (const char *const *)d->copied_from.v,
				    d->copied_from.n, d->upper, d->stamped ? &d->copied_at : NULL,
				    SANDBOX_DIFF_MOVE, err);
	log_debug("copy storage: diff in %.3f s", mono_seconds() - t0);
	return r;
}

/*
 * The snapshots of @layers, top first. A layer that comes again lower down
 * (two steps that made the same diff) is listed once, at its upper place:
 * overlayfs refuses a directory twice (ELOOP), and the lower copy changes
 * nothing, since for every path it has, the upper copy has the same entry
 * and decides it first (a whiteout or opaque directory between them hides
 * only what lies below it, never the upper copy).
 */
int rootfs_lowers(struct build_ctx *b, const struct layer_desc *layers, size_t n, struct strv *ret,
		  struct kiln_error **err)
{
	for (size_t i = n; i > 0; i--) {
		char *path = NULL;
		int r = snapshot_ensure(b->store, &layers[i - 1], &path, err);

		if (r < 0)
			return r;
		if (strv_find(ret, path) >= 0) {
			log_debug("layer %zu equals one above it: one lowerdir for both", i);
			free(path);
			continue;
		}
		strv_push_take(ret, path);
	}
	return 0;
}

static int mount_overlay(const char *target, const char *lowerdir, const char *upper,
			 const char *work, struct kiln_error **err)
{
	_cleanup_free_ char *opts = NULL;

	if (upper)
		opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lowerdir, upper,
				 work);
	else
		opts = xasprintf("lowerdir=%s,userxattr", lowerdir);
	if (strlen(opts) >= 4095)
		return err_new(err, KILN_ERR_SYSTEM, E2BIG,
			       "mount overlay on '%s': too many layers for one mount", target);
	if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts) < 0)
		return err_sys(err, errno, "mount overlay on '%s'", target);
	return 0;
}

/* An empty lower layer, for a scratch image: overlayfs needs at least one. */
static char *empty_lower(struct step_dirs *d)
{
	char *p = xasprintf("%s/empty", d->base);

	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		log_debug("mkdir '%s': %m", p);
	return p;
}

static int mount_rw(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d, bool link,
		    struct kiln_error **err)
{
	_cleanup_free_ char *joined = NULL, *empty = NULL;
	int r = rootfs_copy_storage(b, err);

	if (r != 0)
		return r < 0 ? r : copy_rootfs(lowers, d, link, err);
	if (lowers->n == 0)
		joined = empty = empty_lower(d);
	else
		joined = strv_join(lowers, ":");
	if (empty)
		empty = NULL; /* joined owns it */
	r = mount_overlay(d->merged, joined, d->upper, d->work, err);
	if (r >= 0)
		d->mounted = true;
	return r;
}

int rootfs_mount(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		 struct kiln_error **err)
{
	return mount_rw(b, lowers, d, true, err);
}

int rootfs_mount_own(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		     struct kiln_error **err)
{
	return mount_rw(b, lowers, d, false, err);
}

static int mount_ro(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d, bool link,
		    struct kiln_error **err)
{
	_cleanup_free_ char *joined = NULL;
	const char *src;
	int r = rootfs_copy_storage(b, err);

	if (r != 0)
		return r < 0 ? r : copy_rootfs(lowers, d, link, err);
	if (lowers->n >= 2) {
		joined = strv_join(lowers, ":");
		r = mount_overlay(d->merged, joined, NULL, NULL, err);
		if (r >= 0)
			d->mounted = true;
		return r;
	}
	/* one layer (or none) needs no overlay: bind it read-only */
	joined = lowers->n ? xstrdup(lowers->v[0]) : empty_lower(d);
	src = joined;
	if (mount(src, d->merged, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(err, errno, "bind '%s' on '%s'", src, d->merged);
	d->mounted = true;
	if (mount(NULL, d->merged, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return err_sys(err, errno, "remount '%s' read-only", d->merged);
	return 0;
}

int rootfs_mount_ro(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
		    struct kiln_error **err)
{
	return mount_ro(b, lowers, d, true, err);
}

int rootfs_mount_ro_own(struct build_ctx *b, const struct strv *lowers, struct step_dirs *d,
			struct kiln_error **err)
{
	return mount_ro(b, lowers, d, false, err);
}

void rootfs_umount(struct step_dirs *d)
{
	if (!d->mounted)
		return;
	if (umount2(d->merged, MNT_DETACH) < 0)
		log_debug("umount '%s': %m", d->merged);
	d->mounted = false;
}

bool rootfs_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	bool empty = true;

	if (!d)
		return true;
	for (struct dirent *de; (de = readdir(d));) {
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

int rootfs_private_mounts(struct kiln_error **err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return err_sys(err, errno, "unshare mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_sys(err, errno, "make mounts private");
	return 0;
}
