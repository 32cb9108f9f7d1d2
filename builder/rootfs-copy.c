/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `copy` storage: where overlayfs cannot be mounted, a step's root filesystem
 * is a plain directory made by applying the stage's snapshots bottom-up, as
 * overlayfs would show them: a 0/0 character device deletes what is below it,
 * an opaque directory hides everything below it, and an entry of a higher
 * layer replaces the one below (a directory's metadata too). Every entry keeps
 * its owner, mode, times and xattrs to the nanosecond, so sandbox_copy_diff()
 * later finds only what the step changed. Hard links are not kept, as
 * overlayfs breaks them when it copies a file up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/rootfs-internal.h"
#include "builder/snapshot-internal.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define APPLY_MAX_DEPTH 4096

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

static bool is_opaque(int fd)
{
	char v[2];

	return fgetxattr(fd, SNAPSHOT_OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y';
}

static int read_names(int fd, struct strv *out, struct kiln_error **err)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return err_sys(err, errno, "open directory");
	}
	for (struct dirent *de; (de = readdir(d));)
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(out, de->d_name);
	closedir(d);
	return 0;
}

/* Remove what @to has at @name unless it is a directory to merge into. */
static int clear_target(int to, const char *name, bool keep_dir, struct kiln_error **err)
{
	struct stat st;

	if (fstatat(to, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(err, errno, "stat");
	if (S_ISDIR(st.st_mode))
		return keep_dir ? 1 : fs_rm_rf(to, name, err);
	if (unlinkat(to, name, 0) < 0)
		return err_sys(err, errno, "remove");
	return 0;
}

struct apply {
	bool link; /* regular files are hard links to the snapshots' */
};

static int apply_dir(const struct apply *a, int from, int to, unsigned depth,
		     struct kiln_error **err);

static int apply_subdir(const struct apply *a, int from, int to, const char *name,
			const struct stat *st, unsigned depth, struct kiln_error **err)
{
	_cleanup_close_ int sfd = -1, dfd = -1;
	int r;

	sfd = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return err_sys(err, errno, "open");
	r = clear_target(to, name, !is_opaque(sfd), err);
	if (r < 0)
		return r;
	if (r == 0 && mkdirat(to, name, 0700) < 0)
		return err_sys(err, errno, "create");
	dfd = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, errno, "open the copy");
	r = apply_dir(a, sfd, dfd, depth + 1, err);
	if (r >= 0)
		r = sandbox_copy_meta(sfd, dfd, st, err);
	return r;
}

static int apply_entry(const struct apply *a, int from, int to, const char *name, unsigned depth,
		       struct kiln_error **err)
{
	struct stat st;
	int r;

	if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "stat");
	if (S_ISDIR(st.st_mode))
		return apply_subdir(a, from, to, name, &st, depth, err);
	r = clear_target(to, name, false, err);
	if (r < 0 || is_whiteout(&st))
		return r;
	/* another file system, too many links, not ours to link: copied instead */
	if (a->link && S_ISREG(st.st_mode) && linkat(from, name, to, name, 0) == 0)
		return 0;
	return sandbox_copy_nondir(from, to, name, &st, err);
}

static int apply_dir(const struct apply *a, int from, int to, unsigned depth,
		     struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	int r;

	if (depth > APPLY_MAX_DEPTH)
		return err_new(err, KILN_ERR_INPUT, ELOOP, "directories nest too deep");
	r = read_names(from, &names, err);
	strv_foreach(&names, name) {
		if (r < 0)
			break;
		r = apply_entry(a, from, to, *name, depth, err);
		if (r < 0)
			err_wrap(err, "'%s'", *name);
	}
	return r;
}

/* Apply one snapshot on @to_fd; the root takes the snapshot root's metadata. */
static int apply_layer(const struct apply *a, const char *layer, int to_fd, struct kiln_error **err)
{
	_cleanup_close_ int from = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r;

	if (from < 0 || fstat(from, &st) < 0)
		return err_sys(err, errno, "open layer '%s'", layer);
	r = apply_dir(a, from, to_fd, 0, err);
	if (r >= 0)
		r = sandbox_copy_meta(from, to_fd, &st, err);
	return r < 0 ? err_wrap(err, "copy layer '%s'", layer) : 0;
}

int rootfs_copy_layers(const struct strv *lowers, const char *dir, bool link,
		       struct kiln_error **err)
{
	_cleanup_close_ int to = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct apply a = {.link = link};
	int r = 0;

	if (to < 0)
		return err_sys(err, errno, "open '%s'", dir);
	for (size_t i = lowers->n; r >= 0 && i > 0; i--)
		r = apply_layer(&a, lowers->v[i - 1], to, err);
	return r;
}
