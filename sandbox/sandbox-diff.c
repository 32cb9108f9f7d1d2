/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `copy` storage: where overlayfs cannot be mounted, a step runs on a plain
 * copy of its parent's rootfs, and this walk finds what it changed, writing
 * it in the form overlayfs leaves in an upperdir, so layers/ commits both the
 * same way: new and changed entries, their parent directories, and 0/0
 * character-device whiteouts for what was deleted.
 *
 * Entries are compared by type, mode, owner, size, mtime, device number and
 * symlink target; contents are not read (Docker's naive differ does the same:
 * with nanosecond mtimes a rewrite shows). A file or link whose status
 * changed during the step (ctime after the copy's stamp) is in the diff even
 * when it compares equal: overlayfs copies up whatever a step writes, chmods,
 * chowns or links, unchanged or not, so the two storages give the same layer. Every lookup is
 * dirfd-relative with O_NOFOLLOW, so a symlink the step made cannot lead the walk out of the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/sandbox.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* A file with other links, already written to the diff at @path. */
struct diff_link {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct diff_ctx {
	int diff_fd; /* the diff's root */
	const struct timespec *since; /* directories born after it are new, or NULL */
	bool move; /* SANDBOX_DIFF_MOVE: changed entries leave the rootfs for the diff */
	struct diff_link *links;
	size_t n_links, alloc_links;
};

static char *join_rel(const char *rel, const char *name)
{
	return *rel ? fs_path_join(rel, name) : xstrdup(name);
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

static bool is_opaque_fd(int fd)
{
	static const char *const names[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
	char value[2];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (fgetxattr(fd, names[i], value, sizeof(value)) == 1 && value[0] == 'y')
			return true;
	return false;
}

/* The entry @name in the merged lower layers @fds: its layer index, or -1 when absent. */
static int lower_lookup(const int *fds, size_t n, const char *name, struct stat *st)
{
	for (size_t i = 0; i < n; i++) {
		if (fstatat(fds[i], name, st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		return is_whiteout(st) ? -1 : (int)i;
	}
	return -1;
}

static bool same_entry(const struct stat *a, const struct stat *b, int fd_a, int fd_b,
		       const char *name)
{
	char la[4096], lb[4096];
	ssize_t na, nb;

	if (a->st_mode != b->st_mode || a->st_uid != b->st_uid || a->st_gid != b->st_gid ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec)
		return false;
	if (S_ISDIR(a->st_mode))
		return true;
	if (a->st_size != b->st_size || a->st_rdev != b->st_rdev)
		return false;
	if (!S_ISLNK(a->st_mode))
		return true;
	na = readlinkat(fd_a, name, la, sizeof(la));
	nb = readlinkat(fd_b, name, lb, sizeof(lb));
	return na >= 0 && na == nb && memcmp(la, lb, (size_t)na) == 0;
}

static int copy_xattrs(int from, int to, struct kiln_error **err)
{
	char names[4096], value[65536];
	ssize_t n = flistxattr(from, names, sizeof(names));

	for (char *x = names; n > 0 && x < names + n; x += strlen(x) + 1) {
		ssize_t len;

		if (startswith(x, "trusted.overlay.") || startswith(x, "user.overlay."))
			continue;
		len = fgetxattr(from, x, value, sizeof(value));
		if (len >= 0 && fsetxattr(to, x, value, (size_t)len, 0) < 0 && errno != ENOTSUP)
			return err_sys(err, errno, "set xattr '%s'", x);
	}
	return 0;
}

/* Owner, then mode (chown clears set-id bits), xattrs, times. */
static int copy_meta(int from, int to, const struct stat *st, struct kiln_error **err)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (fchown(to, st->st_uid, st->st_gid) < 0)
		return err_sys(err, errno, "chown to %u:%u", st->st_uid, st->st_gid);
	if (fchmod(to, st->st_mode & 07777) < 0)
		return err_sys(err, errno, "chmod");
	if (copy_xattrs(from, to, err) < 0)
		return -errno;
	if (futimens(to, ts) < 0)
		return err_sys(err, errno, "set times");
	return 0;
}

static int copy_data(int from, int to, off_t size, struct kiln_error **err)
{
	char buf[65536];
	ssize_t n = 0;

	if (ioctl(to, FICLONE, from) == 0)
		return 0;
	while (size > 0) {
		n = copy_file_range(from, NULL, to, NULL, (size_t)size, 0);
		if (n <= 0)
			break;
		size -= n;
	}
	while (size > 0 && (n = read(from, buf, sizeof(buf))) > 0) {
		if (fs_write_all(to, buf, (size_t)n, err) < 0)
			return -errno;
		size -= n;
	}
	return n < 0 ? err_sys(err, errno, "read") : 0;
}

static int copy_file(int root_fd, int dfd, const char *name, const struct stat *st,
		     struct kiln_error **err)
{
	_cleanup_close_ int from = openat(root_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int to = -1;

	if (from < 0)
		return err_sys(err, errno, "open");
	to = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (to < 0)
		return err_sys(err, errno, "create");
	if (copy_data(from, to, st->st_size, err) < 0)
		return -errno;
	return copy_meta(from, to, st, err);
}

static int copy_symlink(int root_fd, int dfd, const char *name, const struct stat *st,
			struct kiln_error **err)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	char target[4096];
	ssize_t n = readlinkat(root_fd, name, target, sizeof(target) - 1);

	if (n < 0)
		return err_sys(err, errno, "readlink");
	target[n] = '\0';
	if (symlinkat(target, dfd, name) < 0)
		return err_sys(err, errno, "symlink");
	if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "chown to %u:%u", st->st_uid, st->st_gid);
	(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int copy_node(int dfd, const char *name, const struct stat *st, struct kiln_error **err)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (mknodat(dfd, name, st->st_mode, st->st_rdev) < 0)
		return err_sys(err, errno, "mknod");
	if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "chown to %u:%u", st->st_uid, st->st_gid);
	(void)fchmodat(dfd, name, st->st_mode & 07777, 0);
	(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

int sandbox_copy_nondir(int from_dirfd, int to_dirfd, const char *name, const struct stat *st,
			struct kiln_error **err)
{
	if (S_ISREG(st->st_mode))
		return copy_file(from_dirfd, to_dirfd, name, st, err);
	if (S_ISLNK(st->st_mode))
		return copy_symlink(from_dirfd, to_dirfd, name, st, err);
	return copy_node(to_dirfd, name, st, err);
}

int sandbox_copy_meta(int from_fd, int to_fd, const struct stat *st, struct kiln_error **err)
{
	return copy_meta(from_fd, to_fd, st, err);
}

/* A second name of a file already in the diff becomes a hard link there too. */
static int link_or_remember(struct diff_ctx *c, int dfd, const char *name, const char *rel,
			    const struct stat *st, bool *ret_linked, struct kiln_error **err)
{
	*ret_linked = false;
	if (!S_ISREG(st->st_mode) || st->st_nlink < 2)
		return 0;
	for (size_t i = 0; i < c->n_links; i++) {
		if (c->links[i].dev != st->st_dev || c->links[i].ino != st->st_ino)
			continue;
		if (linkat(c->diff_fd, c->links[i].path, dfd, name, 0) < 0)
			return err_sys(err, errno, "link to '%s'", c->links[i].path);
		*ret_linked = true;
		return 0;
	}
	if (c->n_links == c->alloc_links) {
		c->alloc_links = c->alloc_links ? 2 * c->alloc_links : 16;
		c->links = xreallocarray(c->links, c->alloc_links, sizeof(*c->links));
	}
	c->links[c->n_links++] =
		(struct diff_link){.dev = st->st_dev, .ino = st->st_ino, .path = xstrdup(rel)};
	return 0;
}

/* Does the entry carry an overlay xattr (which a copy leaves out)? True when unknown. */
static bool has_overlay_xattr(int root_fd, const char *name)
{
	_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d/%s", root_fd, name);
	char names[4096];
	ssize_t n = llistxattr(p, names, sizeof(names));

	if (n < 0)
		return errno != ENOTSUP;
	for (char *x = names; x < names + n; x += strlen(x) + 1)
		if (startswith(x, "trusted.overlay.") || startswith(x, "user.overlay."))
			return true;
	return false;
}

/*
 * SANDBOX_DIFF_MOVE: rename the entry into the diff rather than copy it, when
 * that gives the same result (one name, no overlay xattr): owner, mode, times
 * and xattrs go with it. Returns 1 when it must be copied instead.
 */
static int move_entry(int root_fd, int dfd, const char *name, const struct stat *st)
{
	if (st->st_nlink != 1 || has_overlay_xattr(root_fd, name))
		return 1;
	return renameat(root_fd, name, dfd, name) < 0;
}

/* Copy (or move) one changed non-directory into the diff directory @dfd. */
static int copy_entry(struct diff_ctx *c, int root_fd, int dfd, const char *name, const char *rel,
		      const struct stat *st, struct kiln_error **err)
{
	bool linked;
	int r = link_or_remember(c, dfd, name, rel, st, &linked, err);

	if (r < 0 || linked)
		return r;
	if (c->move && move_entry(root_fd, dfd, name, st) == 0)
		return 0;
	if (S_ISREG(st->st_mode))
		r = copy_file(root_fd, dfd, name, st, err);
	else if (S_ISLNK(st->st_mode))
		r = copy_symlink(root_fd, dfd, name, st, err);
	else
		r = copy_node(dfd, name, st, err);
	return r < 0 ? err_wrap(err, "copy '/%s' to the diff", rel) : 0;
}

struct diff_dir {
	struct diff_dir *parent;
	const char *rel; /* "" at the top */
	int root_fd; /* the directory in the rootfs */
	struct stat st; /* its metadata, given to the diff's copy */
	int *lower_fds; /* the lower layers still visible here, top first */
	size_t n_lowers;
	int dfd; /* the directory in the diff, -1 until something goes in it */
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory @fd, sorted. */
static int read_names(int fd, struct strv *out, struct kiln_error **err)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return err_sys(err, errno, "open directory");
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(out, de->d_name);
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), name_cmp);
	return 0;
}

/* Create @d (and its parents) in the diff; the metadata follows once it is filled. */
static int diff_dir_open(struct diff_ctx *c, struct diff_dir *d, struct kiln_error **err)
{
	int r;

	if (d->dfd >= 0)
		return 0;
	r = diff_dir_open(c, d->parent, err);
	if (r < 0)
		return r;
	if (mkdirat(c->diff_fd, d->rel, 0700) < 0 && errno != EEXIST)
		return err_sys(err, errno, "create '/%s' in the diff", d->rel);
	d->dfd = openat(c->diff_fd, d->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->dfd < 0)
		return err_sys(err, errno, "open '/%s' in the diff", d->rel);
	return 0;
}

static void diff_dir_release(struct diff_dir *d)
{
	for (size_t i = 0; i < d->n_lowers; i++)
		close(d->lower_fds[i]);
	free(d->lower_fds);
	if (d->root_fd >= 0)
		close(d->root_fd);
	if (d->dfd >= 0)
		close(d->dfd);
}

/* The layers below @name that still show through: down to an opaque dir or a non-dir. */
static void child_lowers(const struct diff_dir *d, int from, const char *name,
			 struct diff_dir *child)
{
	child->lower_fds = xcalloc(d->n_lowers, sizeof(int));
	for (size_t i = (size_t)from; i < d->n_lowers; i++) {
		int fd = openat(d->lower_fds[i], name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;

		if (fd < 0) {
			if (fstatat(d->lower_fds[i], name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				break; /* a whiteout or a file: nothing below shows */
			continue;
		}
		child->lower_fds[child->n_lowers++] = fd;
		if (is_opaque_fd(fd))
			break;
	}
}

static int walk_dir(struct diff_ctx *c, struct diff_dir *d, struct kiln_error **err);

static bool after(const struct timespec *t, const struct timespec *since)
{
	if (t->tv_sec != since->tv_sec)
		return t->tv_sec > since->tv_sec;
	return t->tv_nsec > since->tv_nsec;
}

/* Did the step write, chmod, chown or link this non-directory (its ctime is after the copy)? */
static bool touched(const struct diff_ctx *c, const struct stat *st)
{
	return c->since && after(&st->st_ctim, c->since);
}

/* Was directory @fd made after the rootfs was (statx birth time)? False when unknown. */
static bool dir_is_new(const struct diff_ctx *c, int fd)
{
	struct statx stx;

	if (!c->since ||
	    statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return false;
	return after(&(struct timespec){.tv_sec = stx.stx_btime.tv_sec,
					.tv_nsec = stx.stx_btime.tv_nsec},
		     c->since);
}

static int walk_subdir(struct diff_ctx *c, struct diff_dir *d, const char *name,
		       const struct stat *st, int li, const struct stat *lst,
		       struct kiln_error **err)
{
	_cleanup_free_ char *rel = join_rel(d->rel, name);
	struct diff_dir child = {.parent = d, .rel = rel, .st = *st, .dfd = -1};
	bool opaque;
	int r = 0;

	child.root_fd = openat(d->root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (child.root_fd < 0)
		return err_sys(err, errno, "open '/%s'", rel);
	/*
	 * A directory made again where the layers below show an entry: overlayfs
	 * makes it opaque, hiding all below, and so does the diff.
	 */
	opaque = li >= 0 && dir_is_new(c, child.root_fd);
	if (li >= 0 && S_ISDIR(lst->st_mode) && !opaque)
		child_lowers(d, li, name, &child);
	if (li < 0 || !S_ISDIR(lst->st_mode) || opaque || !same_entry(st, lst, -1, -1, name))
		r = diff_dir_open(c, &child, err);
	if (r >= 0)
		r = walk_dir(c, &child, err);
	if (r >= 0 && child.dfd >= 0)
		r = copy_meta(child.root_fd, child.dfd, st, err);
	if (r >= 0 && opaque && fsetxattr(child.dfd, "user.overlay.opaque", "y", 1, 0) < 0)
		r = err_sys(err, errno, "mark '/%s' opaque", rel);
	if (r < 0 && child.dfd >= 0)
		r = err_wrap(err, "copy '/%s' to the diff", rel);
	diff_dir_release(&child);
	return r;
}

static int walk_entry(struct diff_ctx *c, struct diff_dir *d, const char *name,
		      struct kiln_error **err)
{
	_cleanup_free_ char *rel = join_rel(d->rel, name);
	struct stat st, lst;
	int li, r;

	if (fstatat(d->root_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "stat '/%s'", rel);
	li = lower_lookup(d->lower_fds, d->n_lowers, name, &lst);
	if (S_ISDIR(st.st_mode))
		return walk_subdir(c, d, name, &st, li, &lst, err);
	/* a link to the lower file itself (a rootfs made for a step that runs nothing) */
	if (li >= 0 && st.st_dev == lst.st_dev && st.st_ino == lst.st_ino)
		return 0;
	if (li >= 0 && !touched(c, &st) &&
	    same_entry(&st, &lst, d->root_fd, d->lower_fds[li], name))
		return 0;
	r = diff_dir_open(c, d, err);
	if (r < 0)
		return r;
	return copy_entry(c, d->root_fd, d->dfd, name, rel, &st, err);
}

/* Whiteouts for what the lower layers show here and the rootfs no longer has. */
static int walk_deleted(struct diff_ctx *c, struct diff_dir *d, const struct strv *names,
			struct kiln_error **err)
{
	struct stat st;
	int r;

	for (size_t i = 0; i < d->n_lowers; i++) {
		_cleanup_strv_ struct strv lower = STRV_INIT;

		r = read_names(d->lower_fds[i], &lower, err);
		if (r < 0)
			return r;
		strv_foreach(&lower, name) {
			if (names->n && bsearch(name, names->v, names->n, sizeof(char *), name_cmp))
				continue;
			if (lower_lookup(d->lower_fds, d->n_lowers, *name, &st) < 0)
				continue; /* already hidden */
			r = diff_dir_open(c, d, err);
			if (r < 0)
				return r;
			if (mknodat(d->dfd, *name, S_IFCHR, makedev(0, 0)) < 0 && errno != EEXIST)
				return err_sys(err, errno, "create a whiteout for '/%s/%s'", d->rel,
					       *name);
		}
	}
	return 0;
}

static int walk_dir(struct diff_ctx *c, struct diff_dir *d, struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	int r = read_names(d->root_fd, &names, err);

	for (size_t i = 0; r >= 0 && i < names.n; i++)
		r = walk_entry(c, d, names.v[i], err);
	if (r >= 0)
		r = walk_deleted(c, d, &names, err);
	return r;
}

int sandbox_copy_diff(const char *rootdir, const char *const *lowerdirs, size_t n_lowerdirs,
		      const char *diffdir, struct kiln_error **err)
{
	return sandbox_copy_diff_since(rootdir, lowerdirs, n_lowerdirs, diffdir, NULL, 0, err);
}

int sandbox_copy_diff_since(const char *rootdir, const char *const *lowerdirs, size_t n_lowerdirs,
			    const char *diffdir, const struct timespec *since, unsigned flags,
			    struct kiln_error **err)
{
	struct diff_ctx c = {
		.diff_fd = -1, .since = since, .move = (flags & SANDBOX_DIFF_MOVE) != 0};
	struct diff_dir top = {.rel = "", .dfd = -1};
	int r = 0;

	top.root_fd = open(rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top.root_fd < 0)
		return err_sys(err, errno, "open rootfs '%s'", rootdir);
	top.lower_fds = xcalloc(n_lowerdirs + 1, sizeof(int));
	for (size_t i = 0; r >= 0 && i < n_lowerdirs; i++) {
		r = open(lowerdirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r < 0)
			r = err_sys(err, errno, "open lowerdir '%s'", lowerdirs[i]);
		else
			top.lower_fds[top.n_lowers++] = r;
	}
	if (r >= 0) {
		c.diff_fd = open(diffdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = c.diff_fd < 0 ? err_sys(err, errno, "open diff directory '%s'", diffdir) : 0;
	}
	if (r >= 0) {
		top.dfd = fcntl(c.diff_fd, F_DUPFD_CLOEXEC, 3);
		r = walk_dir(&c, &top, err);
	}
	diff_dir_release(&top);
	if (c.diff_fd >= 0)
		close(c.diff_fd);
	for (size_t i = 0; i < c.n_links; i++)
		free(c.links[i].path);
	free(c.links);
	return r < 0 ? err_wrap(err, "diff '%s'", rootdir) : 0;
}
