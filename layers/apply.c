/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying a layer to a directory, safely. Every name is split into components;
 * ".." is refused, a leading "/" or "./" dropped, and parents are opened one
 * component at a time with O_NOFOLLOW|O_DIRECTORY, so a symlink in a parent
 * path is an error, never followed. Entries are created with *at() calls in
 * their parent's fd, and nothing is ever opened by a path string.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER	".wh..wh..opq"

struct dir_fixup {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct apply {
	int target;
	enum layers_apply_flags flags;
	struct archive *a;
	/* the last parent opened, reused while entries stay in one directory */
	char *parent_path;
	int parent_fd;
	struct dir_fixup *dirs;
	size_t n_dirs, dirs_alloc;
	bool warned_owner, warned_dev, warned_xattr;
};

struct archive *layers_archive_reader(int fd, struct kiln_error **err)
{
	struct archive *a = archive_read_new();

	if (!a)
		abort();
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_none(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 128 * 1024) != ARCHIVE_OK) {
		err_new(err, KILN_ERR_INPUT, EINVAL, "not a tar archive: %s",
			archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* ---- names ---- */

/* Split @name into components; ".." is an error; "", "." and leading '/' vanish. */
static int split_name(const char *name, struct strv *ret, struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(name);
	char *save = NULL;

	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (streq(c, "."))
			continue;
		if (streq(c, ".."))
			return err_at(err, NULL, "entry '%s': '..' in a layer name is not allowed",
				      name);
		strv_push(ret, c);
	}
	return 0;
}

static char *join_parent(const struct strv *comps)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i + 1 < comps->n; i++) {
		if (i)
			strbuf_addch(&sb, '/');
		strbuf_addstr(&sb, comps->v[i]);
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- parents ---- */

static void parent_forget(struct apply *ap)
{
	if (ap->parent_fd >= 0)
		close(ap->parent_fd);
	ap->parent_fd = -1;
	free(ap->parent_path);
	ap->parent_path = NULL;
}

/*
 * Open the directory of comps[0..n-1] below the target, creating missing ones
 * (0755) when @create. A symlink or a non-directory on the way is an error.
 */
static int open_dir_comps(struct apply *ap, const struct strv *comps, size_t n, bool create,
			  const char *entry, struct kiln_error **err)
{
	int cur = openat(ap->target, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; i < n && cur >= 0; i++) {
		int next = openat(cur, comps->v[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comps->v[i], 0755) < 0 && errno != EEXIST) {
				close(cur);
				return err_sys(err, errno, "entry '%s': create parent '%s'", entry,
					       comps->v[i]);
			}
			next = openat(cur, comps->v[i],
				      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = errno;

			close(cur);
			if (e == ENOTDIR || e == ELOOP)
				return err_new(
					err, KILN_ERR_INPUT, e,
					"entry '%s': parent '%s' is a symlink or not a directory; refusing to follow it",
					entry, comps->v[i]);
			return err_sys(err, e, "entry '%s': open parent '%s'", entry, comps->v[i]);
		}
		close(cur);
		cur = next;
	}
	if (cur < 0)
		return err_sys(err, errno, "open the target directory");
	return cur;
}

/* The parent of @comps' last component; the fd belongs to @ap (do not close). */
static int open_parent(struct apply *ap, const struct strv *comps, const char *entry,
		       struct kiln_error **err)
{
	_cleanup_free_ char *path = join_parent(comps);
	int fd;

	if (ap->parent_fd >= 0 && streq(ap->parent_path, path))
		return ap->parent_fd;
	parent_forget(ap);
	fd = open_dir_comps(ap, comps, comps->n - 1, true, entry, err);
	if (fd < 0)
		return fd;
	ap->parent_fd = fd;
	ap->parent_path = TAKE_PTR(path);
	return fd;
}

/* ---- metadata ---- */

static bool lax_errno(int e)
{
	return e == EPERM || e == EINVAL || e == EACCES;
}

static int set_owner(struct apply *ap, int pfd, const char *name, struct archive_entry *e,
		     const char *entry, struct kiln_error **err)
{
	uid_t uid = (uid_t)archive_entry_uid(e);
	gid_t gid = (gid_t)archive_entry_gid(e);

	if (ap->flags & LAYERS_APPLY_NO_OWNER)
		return 0;
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (!(ap->flags & LAYERS_APPLY_LAX_OWNER) || !lax_errno(errno))
		return err_sys(err, errno, "entry '%s': chown to %u:%u", entry, (unsigned)uid,
			       (unsigned)gid);
	if (!ap->warned_owner)
		log_warn("cannot keep the owner %u:%u of '%s' (and maybe others): %s, ignoring",
			 (unsigned)uid, (unsigned)gid, entry, strerror(errno));
	ap->warned_owner = true;
	return 0;
}

static bool xattr_allowed(const char *name)
{
	if (streq(name, "security.capability"))
		return true;
	return startswith(name, "user.") && !startswith(name, "user.overlay.");
}

static void set_xattrs(struct apply *ap, int fd, struct archive_entry *e, const char *entry)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!xattr_allowed(name))
			continue;
		if (fsetxattr(fd, name, value, size, 0) == 0)
			continue;
		if (!ap->warned_xattr)
			log_warn("cannot set xattr '%s' on '%s': %s, ignoring", name, entry,
				 strerror(errno));
		ap->warned_xattr = true;
	}
}

static struct timespec entry_mtime(struct archive_entry *e)
{
	struct timespec ts = {0, 0};

	if (archive_entry_mtime_is_set(e)) {
		ts.tv_sec = archive_entry_mtime(e);
		ts.tv_nsec = archive_entry_mtime_nsec(e);
	}
	return ts;
}

static void set_times_at(int pfd, const char *name, struct archive_entry *e)
{
	struct timespec ts[2];

	ts[1] = entry_mtime(e);
	ts[0] = ts[1];
	utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* ---- entry kinds ---- */

/* Remove what is at @name unless it is a directory and @keep_dir. */
static int clear_slot(struct apply *ap, int pfd, const char *name, bool keep_dir, const char *entry,
		      struct kiln_error **err)
{
	struct stat st;
	int r;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(err, errno, "entry '%s': stat", entry);
	if (S_ISDIR(st.st_mode) && keep_dir)
		return 1;
	/* @pfd (the cached parent) stays valid: only a child of it goes */
	r = fs_rm_rf(pfd, name, err);
	return r < 0 ? err_wrap(err, "entry '%s': replace", entry) : 0;
}

static int write_data(struct apply *ap, int fd, struct archive_entry *e, const char *entry,
		      struct kiln_error **err)
{
	const void *buf;
	size_t size;
	la_int64_t off, end = 0;
	int r;

	while ((r = archive_read_data_block(ap->a, &buf, &size, &off)) == ARCHIVE_OK) {
		int w = fs_pwrite_all(fd, buf, size, (off_t)off, NULL);

		if (w < 0)
			return err_sys(err, -w, "entry '%s': write", entry);
		end = MAX(end, off + (la_int64_t)size);
	}
	if (r != ARCHIVE_EOF)
		return err_at(err, NULL, "entry '%s': %s", entry, archive_error_string(ap->a));
	/* a sparse file's hole at the end (truncating otherwise costs a journal update) */
	if (end < archive_entry_size(e) && ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		return err_sys(err, errno, "entry '%s': truncate", entry);
	return 0;
}

static int make_file(struct apply *ap, int pfd, const char *name, struct archive_entry *e,
		     const char *entry, struct kiln_error **err)
{
	_cleanup_close_ int fd =
		openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct timespec ts[2];
	int r;

	if (fd < 0)
		return err_sys(err, errno, "entry '%s': create", entry);
	r = write_data(ap, fd, e, entry, err);
	if (r >= 0)
		r = set_owner(ap, pfd, name, e, entry, err);
	if (r < 0)
		return r;
	if (fchmod(fd, archive_entry_mode(e) & 07777) < 0)
		return err_sys(err, errno, "entry '%s': chmod", entry);
	set_xattrs(ap, fd, e, entry);
	ts[1] = entry_mtime(e);
	ts[0] = ts[1];
	futimens(fd, ts);
	return 0;
}

static int make_dir(struct apply *ap, int pfd, const char *name, const struct strv *comps,
		    struct archive_entry *e, const char *entry, struct kiln_error **err)
{
	_cleanup_close_ int fd = -1;
	struct dir_fixup *f;
	int r = clear_slot(ap, pfd, name, true, entry, err);

	if (r < 0)
		return r;
	if (r == 0 && mkdirat(pfd, name, 0755) < 0)
		return err_sys(err, errno, "entry '%s': mkdir", entry);
	r = set_owner(ap, pfd, name, e, entry, err);
	if (r < 0)
		return r;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		set_xattrs(ap, fd, e, entry);
	/* mode and mtime once the children are in (a 0555 directory, an mtime that sticks) */
	ALLOC_GROW(ap->dirs, ap->n_dirs + 1, ap->dirs_alloc);
	f = &ap->dirs[ap->n_dirs++];
	f->path = strv_join(comps, "/");
	f->mode = archive_entry_mode(e) & 07777;
	f->mtime = entry_mtime(e);
	return 0;
}

static int make_hardlink(struct apply *ap, int pfd, const char *name, const char *target,
			 const char *entry, struct kiln_error **err)
{
	_cleanup_strv_ struct strv tcomps = STRV_INIT;
	_cleanup_close_ int tdir = -1;
	int r = split_name(target, &tcomps, err);

	if (r < 0)
		return err_wrap(err, "hardlink '%s'", entry);
	if (tcomps.n == 0)
		return err_at(err, NULL, "entry '%s': hardlink to the layer root", entry);
	tdir = open_dir_comps(ap, &tcomps, tcomps.n - 1, false, entry, err);
	if (tdir < 0)
		return err_wrap(err, "hardlink target '%s'", target);
	if (linkat(tdir, tcomps.v[tcomps.n - 1], pfd, name, 0) < 0)
		return err_new(err, KILN_ERR_INPUT, errno,
			       "entry '%s': hardlink to '%s', which is not in the layer: %s", entry,
			       target, strerror(errno));
	return 0;
}

/* Real root of the host (the initial user namespace), where mknod is expected to work? */
static bool initial_userns(void)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_close_ int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	unsigned long in, out, count;

	if (fd < 0 || strbuf_read_fd(&sb, fd, NULL) < 0)
		return false;
	return sscanf(sb.buf, "%lu %lu %lu", &in, &out, &count) == 3 && in == 0 && out == 0 &&
	       count == 4294967295UL;
}

/*
 * mknod refused: rootless (a user namespace) no device can be made, and a base
 * image's dev/console, dev/null ... are skipped with one debug line, as podman
 * does (RUN gets its own /dev); only where they could be made is it a warning.
 */
static void device_skipped(struct apply *ap, const char *entry, int e)
{
	if (!ap->warned_dev && initial_userns())
		log_warn("cannot create device node '%s' (and maybe others): %s, ignoring", entry,
			 strerror(e));
	else if (!ap->warned_dev)
		log_debug("skipping device node '%s' (and maybe others) in a user namespace: %s",
			  entry, strerror(e));
	ap->warned_dev = true;
}

static int make_special(struct apply *ap, int pfd, const char *name, struct archive_entry *e,
			const char *entry, struct kiln_error **err)
{
	mode_t type = archive_entry_filetype(e);
	mode_t mode = archive_entry_mode(e) & 07777;

	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);

		if (!target)
			return err_at(err, NULL, "entry '%s': a symlink without a usable target",
				      entry);
		if (symlinkat(target, pfd, name) < 0)
			return err_sys(err, errno, "entry '%s': symlink", entry);
	} else if (type == AE_IFIFO) {
		if (mkfifoat(pfd, name, mode) < 0)
			return err_sys(err, errno, "entry '%s': mkfifo", entry);
	} else if (mknodat(pfd, name, type | mode, archive_entry_rdev(e)) < 0) {
		if (errno != EPERM && errno != EACCES)
			return err_sys(err, errno, "entry '%s': mknod", entry);
		device_skipped(ap, entry, errno);
		return 1;
	}
	return 0;
}

/* ---- whiteouts ---- */

static int opaque_dir(int pfd, const char *entry, struct kiln_error **err)
{
	_cleanup_close_ int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_strv_ struct strv names = STRV_INIT;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return err_sys(err, errno, "entry '%s': open", entry);
	d = fdopendir(TAKE_FD(fd));
	if (!d)
		return err_sys(err, errno, "entry '%s': open", entry);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&names, de->d_name);
	closedir(d);
	strv_foreach(&names, it) {
		r = fs_rm_rf(pfd, *it, err);
		if (r < 0)
			return err_wrap(err, "entry '%s'", entry);
	}
	return 0;
}

/* Overlay form: a 0/0 character device for NAME, an xattr for an opaque directory. */
static int overlay_whiteout(int pfd, const char *victim, bool opaque, const char *entry,
			    struct kiln_error **err)
{
	_cleanup_close_ int fd = -1;

	if (!opaque) {
		if (fs_rm_rf(pfd, victim, err) < 0)
			return err_wrap(err, "entry '%s'", entry);
		if (mknodat(pfd, victim, S_IFCHR | 0, 0) < 0)
			return err_sys(err, errno, "entry '%s': make an overlay whiteout", entry);
		return 0;
	}
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "entry '%s': open", entry);
	if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0 &&
	    fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
		return err_sys(err, errno, "entry '%s': mark the directory opaque", entry);
	return 0;
}

/* 1 when @e was a whiteout (and is handled), 0 when it is an ordinary entry. */
static int whiteout(struct apply *ap, int pfd, const char *base, const char *entry,
		    struct kiln_error **err)
{
	const char *victim = startswith(base, WHITEOUT_PREFIX);
	bool opaque = streq(base, OPAQUE_MARKER);
	int r;

	if (!victim || (ap->flags & LAYERS_APPLY_NO_WHITEOUTS))
		return 0;
	if (!opaque && (!*victim || streq(victim, ".") || streq(victim, "..")))
		r = err_at(err, NULL, "entry '%s': invalid whiteout name", entry);
	else if (ap->flags & LAYERS_APPLY_OVERLAY)
		r = overlay_whiteout(pfd, victim, opaque, entry, err);
	else if (opaque)
		r = opaque_dir(pfd, entry, err);
	else
		r = fs_rm_rf(pfd, victim, err);
	parent_forget(ap); /* pfd is the cached parent: a removal may have changed the tree */
	return r < 0 ? r : 1;
}

/* ---- one entry ---- */

static int apply_entry(struct apply *ap, struct archive_entry *e, const char *entry,
		       struct kiln_error **err)
{
	_cleanup_strv_ struct strv comps = STRV_INIT;
	const char *name, *link = archive_entry_hardlink(e);
	int pfd, r = split_name(entry, &comps, err);

	if (r < 0 || comps.n == 0)
		return r; /* the root itself: nothing to create */
	name = comps.v[comps.n - 1];
	pfd = open_parent(ap, &comps, entry, err);
	if (pfd < 0)
		return pfd;
	r = whiteout(ap, pfd, name, entry, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (archive_entry_filetype(e) == AE_IFDIR && !link)
		return make_dir(ap, pfd, name, &comps, e, entry, err);
	r = clear_slot(ap, pfd, name, false, entry, err);
	if (r < 0)
		return r;
	if (link)
		return make_hardlink(ap, pfd, name, link, entry, err);
	if (archive_entry_filetype(e) == AE_IFREG)
		return make_file(ap, pfd, name, e, entry, err);
	r = make_special(ap, pfd, name, e, entry, err);
	if (r != 0)
		return r < 0 ? r : 0;
	r = set_owner(ap, pfd, name, e, entry, err);
	if (r >= 0 && archive_entry_filetype(e) != AE_IFLNK &&
	    fchmodat(pfd, name, archive_entry_mode(e) & 07777, 0) < 0)
		return err_sys(err, errno, "entry '%s': chmod", entry);
	if (r >= 0)
		set_times_at(pfd, name, e);
	return r;
}

static int fix_dirs(struct apply *ap, struct kiln_error **err)
{
	for (size_t i = ap->n_dirs; i-- > 0;) {
		_cleanup_strv_ struct strv comps = STRV_INIT;
		struct dir_fixup *f = &ap->dirs[i];
		struct timespec ts[2] = {f->mtime, f->mtime};
		_cleanup_close_ int fd = -1;
		int r = split_name(f->path, &comps, err);

		if (r < 0)
			return r;
		fd = open_dir_comps(ap, &comps, comps.n, false, f->path, NULL);
		if (fd < 0)
			continue; /* removed by a later entry */
		if (fchmodat(fd, ".", f->mode, 0) < 0)
			return err_sys(err, errno, "entry '%s': chmod", f->path);
		utimensat(fd, ".", ts, 0);
	}
	return 0;
}

static void apply_release(struct apply *ap)
{
	parent_forget(ap);
	for (size_t i = 0; i < ap->n_dirs; i++)
		free(ap->dirs[i].path);
	free(ap->dirs);
	if (ap->a)
		archive_read_free(ap->a);
}

static int apply_all(struct apply *ap, struct kiln_error **err)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(ap->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *entry = archive_entry_pathname(e);

		if (!entry)
			return err_at(err, NULL, "an entry has no usable name");
		if ((r = interrupt_check(err)) < 0)
			return r;
		r = apply_entry(ap, e, entry, err);
		if (r < 0)
			return r;
	}
	if (r != ARCHIVE_EOF)
		return err_at(err, NULL, "bad tar data: %s", archive_error_string(ap->a));
	return fix_dirs(ap, err);
}

/* ---- the uncompressed stream, hashed on its way to the tar reader ---- */

#define TAR_CHUNK (128 * 1024)

struct tar_stream {
	struct archive *raw; /* decompresses: the "raw" format, every filter */
	struct sha256 *hash; /* of the uncompressed bytes: the diffID */
	char *buf;
	bool empty; /* the blob holds no bytes at all */
};

static la_ssize_t tar_stream_read(struct archive *a, void *ud, const void **ret)
{
	struct tar_stream *ts = ud;
	la_ssize_t n = ts->empty ? 0 : archive_read_data(ts->raw, ts->buf, TAR_CHUNK);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(ts->raw));
		return -1;
	}
	sha256_update(ts->hash, ts->buf, (size_t)n);
	*ret = ts->buf;
	return n;
}

static int tar_stream_open(struct tar_stream *ts, int fd, struct kiln_error **err)
{
	struct archive_entry *e;
	struct stat st;
	int r;

	ts->raw = archive_read_new();
	if (!ts->raw)
		abort();
	archive_read_support_filter_gzip(ts->raw);
	archive_read_support_filter_zstd(ts->raw);
	archive_read_support_filter_xz(ts->raw);
	archive_read_support_filter_bzip2(ts->raw);
	archive_read_support_filter_none(ts->raw);
	archive_read_support_format_raw(ts->raw);
	ts->hash = sha256_new();
	ts->buf = xmalloc(TAR_CHUNK);
	/* libarchive finds no format in zero bytes: an empty blob is an empty stream */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
		ts->empty = true;
		return 0;
	}
	if (archive_read_open_fd(ts->raw, fd, TAR_CHUNK) != ARCHIVE_OK)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "not a layer: %s",
			       archive_error_string(ts->raw));
	r = archive_read_next_header(ts->raw, &e);
	if (r == ARCHIVE_EOF)
		ts->empty = true;
	else if (r != ARCHIVE_OK)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "not a layer: %s",
			       archive_error_string(ts->raw));
	return 0;
}

/* Hash what the tar reader left (the padding after the end-of-archive blocks). */
static int tar_stream_drain(struct tar_stream *ts, struct digest *ret, struct kiln_error **err)
{
	la_ssize_t n;

	while (!ts->empty && (n = archive_read_data(ts->raw, ts->buf, TAR_CHUNK)) > 0)
		sha256_update(ts->hash, ts->buf, (size_t)n);
	if (!ts->empty && n < 0)
		return err_at(err, NULL, "bad layer data: %s", archive_error_string(ts->raw));
	sha256_final(ts->hash, ret);
	return 0;
}

static void tar_stream_release(struct tar_stream *ts)
{
	if (ts->raw)
		archive_read_free(ts->raw);
	sha256_free(ts->hash);
	free(ts->buf);
}

static int tar_reader(struct tar_stream *ts, struct archive **ret, struct kiln_error **err)
{
	struct archive *a = archive_read_new();

	if (!a)
		abort();
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (archive_read_open(a, ts, NULL, tar_stream_read, NULL) != ARCHIVE_OK) {
		int r = err_new(err, KILN_ERR_INPUT, EINVAL, "not a tar archive: %s",
				archive_error_string(a));

		archive_read_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static int check_diff_id(const struct digest *want, const struct digest *got,
			 struct kiln_error **err)
{
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE];

	if (digest_eq(want, got))
		return 0;
	return err_new(
		err, KILN_ERR_INPUT, EBADMSG,
		"wrong diffID calculated on extraction: the image says '%s', the uncompressed layer has '%s'",
		digest_format(want, a), digest_format(got, b));
}

int layers_apply_verified(int blobfd, int targetfd, enum layers_apply_flags flags,
			  const struct digest *diff_id, struct kiln_error **err)
{
	struct apply ap = {.target = targetfd, .flags = flags, .parent_fd = -1};
	struct tar_stream ts = {0};
	struct digest got;
	int r = tar_stream_open(&ts, blobfd, err);

	if (r >= 0)
		r = tar_reader(&ts, &ap.a, err);
	if (r >= 0)
		r = apply_all(&ap, err);
	if (r >= 0)
		r = tar_stream_drain(&ts, &got, err);
	if (r >= 0 && diff_id)
		r = check_diff_id(diff_id, &got, err);
	apply_release(&ap);
	tar_stream_release(&ts);
	return r < 0 ? err_wrap(err, "apply layer") : 0;
}

int layers_apply(int blobfd, int targetfd, enum layers_apply_flags flags, struct kiln_error **err)
{
	return layers_apply_verified(blobfd, targetfd, flags, NULL, err);
}

int layers_diff_id(int blobfd, struct digest *ret, struct kiln_error **err)
{
	struct tar_stream ts = {0};
	int r = tar_stream_open(&ts, blobfd, err);

	if (r >= 0)
		r = tar_stream_drain(&ts, ret, err);
	tar_stream_release(&ts);
	return r;
}
