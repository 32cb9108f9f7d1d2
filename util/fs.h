/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct kiln_error;

/*
 * Opening paths inside an untrusted tree (a build context, a layer, a rootfs).
 *
 * FS_IN_ROOT:  resolve as if @rootfd were "/": absolute symlinks and ".." stop
 *              at the root (a chroot-style lookup, openat2's RESOLVE_IN_ROOT).
 * FS_BENEATH:  fail with EXDEV when any step (a "..", an absolute name, a
 *              symlink) would leave the tree (RESOLVE_BENEATH).
 * FS_NOFOLLOW_LAST: do not follow a symlink in the last component (O_NOFOLLOW;
 *              with O_PATH the link itself is opened).
 *
 * Magic links (/proc/PID/fd/N) are never followed. openat2 is used when the
 * kernel has it; otherwise the path is walked one component at a time with
 * O_NOFOLLOW and symlinks are resolved here, with the same result.
 */
enum fs_resolve_flags {
	FS_IN_ROOT = 1 << 0,
	FS_BENEATH = 1 << 1,
	FS_NOFOLLOW_LAST = 1 << 2,
};

/* Returns a new fd (>= 0) or -errno with *err set. @flags gets O_CLOEXEC added. */
int fs_open_in(int rootfd, const char *path, int flags, mode_t mode, enum fs_resolve_flags resolve,
	       struct kiln_error **err);
/* Test hook: force the userspace walk even where openat2 exists. */
void fs_force_fallback(bool on);

/*
 * Open (O_PATH) the directory that holds @path's last component, walking from
 * @dirfd one component at a time and following no symlink at all (a symlink on
 * the way fails with ENOTDIR, ".." with EXDEV); *ret_name is the last
 * component, inside @path. For cleaning up in a tree someone else could change.
 */
int fs_open_parent_nofollow(int dirfd, const char *path, const char **ret_name,
			    struct kiln_error **err);

/* mkdir -p of @path relative to @dirfd (no symlink following outside); mode for new dirs. */
int fs_mkdir_p(int dirfd, const char *path, mode_t mode, struct kiln_error **err);
/* rm -rf of @path relative to @dirfd, never following symlinks; ENOENT is success. */
int fs_rm_rf(int dirfd, const char *path, struct kiln_error **err);

/* write(2)/read(2) loops that restart on EINTR and short counts. */
int fs_write_all(int fd, const void *buf, size_t len, struct kiln_error **err);
/* Reads up to @len bytes; returns the count (< len only at EOF) or -errno. */
ssize_t fs_read_all(int fd, void *buf, size_t len, struct kiln_error **err);
/* The same at offset @off (pread/pwrite: the file offset is left alone). */
int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off, struct kiln_error **err);
ssize_t fs_pread_all(int fd, void *buf, size_t len, off_t off, struct kiln_error **err);

/*
 * Atomic replacement (git's lockfile recipe): write to a temp file beside
 * @name in @dirfd, fsync it, rename over @name, fsync the directory. A crash at
 * any instant leaves either the old or the new content.
 */
int fs_atomic_write(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		    struct kiln_error **err);

/* A temp file in @dirfd named "@prefix.XXXXXX"; returns the fd, the name in *ret_name. */
int fs_mkstemp(int dirfd, const char *prefix, mode_t mode, char **ret_name,
	       struct kiln_error **err);
/* fsync the directory @dirfd refers to. */
int fs_fsync_dir(int dirfd, struct kiln_error **err);

/*
 * An exclusive (or @shared) flock(2) on @name in @dirfd, created 0600 if missing
 * (an existing one is made 0600: another user able to open it could hold it); the fd.
 */
int fs_lock(int dirfd, const char *name, bool shared, struct kiln_error **err);

struct strbuf;
/*
 * Take the next component off the front of @rest into @comp, dropping the
 * slashes around it; false when none is left ("a//b/" gives "a", then "b").
 */
bool fs_next_component(struct strbuf *rest, struct strbuf *comp);

/* Join two path pieces with one '/'. */
char *fs_path_join(const char *a, const char *b);
