/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Work in progress in the store's tmp/. Each entry is made locked: its maker
 * holds an flock on it (on the directory or file itself) for as long as it
 * lives, so the kernel drops the lock when that kiln dies, however it dies.
 * store_sweep_tmp() removes the entries whose lock it can take: the work of
 * a kiln that was killed (kill -9, a crash, a second Ctrl-C), never that of
 * one still running.
 *
 * The name exists a moment before its lock is held. A sweep that takes the
 * lock in that moment removes the entry; its maker, which waits for the
 * lock, then finds its entry gone (or another in its place) and makes a new
 * one. So no entry is removed under a live maker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define MAKE_TRIES 100

/* The entries made here: a sweep touches nothing else (partial downloads are resumed). */
static const char *const swept_prefixes[] = {"step.", "blob.", "snapshot.", "load.",
					     "snap-", "fsck.", "secret.",   "cache-seed."};

/* Lock @fd, the new entry @name: 0, 1 when a sweep removed it first, or an error. */
static int hold(int tmpfd, const char *name, int fd, struct kiln_error **err)
{
	struct stat mine, now;

	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &mine) < 0)
		return err_sys(err, errno, "lock '%s' in the store's tmp/", name);
	if (fstatat(tmpfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : err_sys(err, errno, "stat '%s'", name);
	return mine.st_dev == now.st_dev && mine.st_ino == now.st_ino ? 0 : 1;
}

int store_tmp_mkstemp(struct store *s, const char *prefix, mode_t mode, char **ret_name,
		      struct kiln_error **err)
{
	int tmpfd = s->dirfds[STORE_DIR_TMP];

	for (int tries = 0; tries < MAKE_TRIES; tries++) {
		char *name;
		int fd = fs_mkstemp(tmpfd, prefix, mode, &name, err), r;

		if (fd < 0)
			return fd;
		r = hold(tmpfd, name, fd, err);
		if (r == 0) {
			*ret_name = name;
			return fd;
		}
		close(fd);
		free(name);
		if (r < 0)
			return r;
	}
	return err_sys(err, EAGAIN, "create a file in '%s/tmp'", s->root);
}

/* One try: 0 with the entry made and held, 1 to try again, or an error. */
static int mkdir_once(int tmpfd, const char *name, mode_t mode, int *ret_lock,
		      struct kiln_error **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (mkdirat(tmpfd, name, mode) < 0)
		return errno == EEXIST ? 1 : err_sys(err, errno, "create '%s'", name);
	fd = openat(tmpfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : err_sys(err, errno, "open '%s'", name);
	r = hold(tmpfd, name, fd, err);
	if (r == 0)
		*ret_lock = TAKE_FD(fd);
	return r;
}

int store_tmp_mkdir(struct store *s, const char *prefix, mode_t mode, char **ret_name,
		    int *ret_lock, struct kiln_error **err)
{
	int tmpfd = s->dirfds[STORE_DIR_TMP];

	for (int tries = 0; tries < MAKE_TRIES; tries++) {
		unsigned rnd;
		char *name;
		int r;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return err_sys(err, errno, "getrandom");
		name = xasprintf("%s.%08x", prefix, rnd);
		r = mkdir_once(tmpfd, name, mode, ret_lock, err);
		if (r == 0) {
			*ret_name = name;
			return 0;
		}
		free(name);
		if (r < 0)
			return err_wrap(err, "store '%s/tmp'", s->root);
	}
	return err_sys(err, EEXIST, "create a directory in '%s/tmp'", s->root);
}

static bool swept(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(swept_prefixes); i++)
		if (startswith(name, swept_prefixes[i]))
			return true;
	return false;
}

/*
 * Make every directory under @dfd ours to empty: overlayfs leaves its
 * work/work mode 000, which only a user with CAP_DAC_OVERRIDE (kiln in its
 * user namespace) removes as it is; `kiln images` runs outside it.
 */
static void open_up(int dfd, unsigned depth)
{
	DIR *d;
	struct dirent *de;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || depth > 64 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -1;

		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		(void)fchmodat(dirfd(d), de->d_name, 0700, 0);
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			open_up(sub, depth + 1);
	}
	closedir(d);
}

/* Remove @name when no live kiln holds it: 1 when removed, else 0. */
static int sweep_one(int tmpfd, const char *name)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	_cleanup_close_ int fd =
		openat(tmpfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return 0; /* in use (EWOULDBLOCK), or already gone */
	/* removed while we hold its lock: a maker that was about to take it makes another */
	if (fs_rm_rf(tmpfd, name, NULL) < 0)
		open_up(fd, 0);
	else
		goto removed;
	if (fs_rm_rf(tmpfd, name, &e) < 0) {
		log_debug("store: cannot remove stale 'tmp/%s': %s", name, e->msg);
		return 0;
	}
removed:
	log_debug("store: removed 'tmp/%s', left by a kiln that is gone", name);
	return 1;
}

int store_sweep_tmp(struct store *s)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	int fd = openat(s->dirfds[STORE_DIR_TMP], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)))
		if (swept(de->d_name))
			strv_push(&names, de->d_name);
	closedir(d);
	strv_foreach(&names, it)
		n += sweep_one(s->dirfds[STORE_DIR_TMP], *it);
	return n;
}
