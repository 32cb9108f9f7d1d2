/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ADD of a local tar archive (gzip, bzip2, xz, zstd or none, found by content
 * as Docker does, never by name), unpacked so that no entry lands outside the
 * destination: names are cleaned ("/x" is "x", a ".." that climbs out fails),
 * parents are resolved with the destination as "/" (a symlinked parent
 * cannot lead out), the last component is never followed, and a hardlink's
 * target is looked up the same way. Owners and modes come from the archive
 * (--chown does not apply to archives, as in Docker); --checksum is checked
 * on the archive itself.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free)

static struct archive *tar_reader(int fd)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

bool copy_is_archive(int fd)
{
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	struct archive_entry *e;
	bool yes;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return false;
	a = tar_reader(fd);
	/* an archive with no entry is copied as a file, as Docker does */
	yes = a && archive_read_next_header(a, &e) == ARCHIVE_OK;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return false;
	return yes;
}

/* ---- checksums ------------------------------------------------------------------------- */

int copy_sha256_fd(int fd, struct digest *ret, struct kiln_error **err)
{
	_cleanup_(sha256_freep) struct sha256 *h = sha256_new();
	char buf[65536];
	ssize_t n;

	while ((n = fs_read_all(fd, buf, sizeof(buf), err)) != 0) {
		if (n < 0)
			return (int)n;
		sha256_update(h, buf, (size_t)n);
	}
	sha256_final(h, ret);
	return 0;
}

int copy_check_checksum(int fd, const char *checksum, const char *what, struct kiln_error **err)
{
	struct digest want, got;
	char hex[DIGEST_HEX_LEN + 1];

	if (digest_parse(checksum, &want, NULL) < 0)
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "invalid --checksum '%s' (expected sha256: and 64 hex digits)",
			       checksum);
	if (lseek(fd, 0, SEEK_SET) < 0 || copy_sha256_fd(fd, &got, err) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0)
		return err_new(err, KILN_ERR_SYSTEM, EIO, "checksum of '%s'", what);
	digest_hex(&got, hex);
	if (!digest_eq(&got, &want))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "checksum mismatch for '%s': expected %s, got sha256:%s", what,
			       checksum, hex);
	return 0;
}

/* ---- unpacking ------------------------------------------------------------------------------- */

struct unpacker {
	int dest; /* the destination directory: "/" for every entry */
	const char *dest_path; /* below the image root, for the result list */
	struct copy_result *res;
	struct archive *a;
	bool do_chown;
	struct strv dirs; /* directories whose times are set at the end */
	struct timespec *dir_times;
	size_t n_dir_times, dir_times_alloc;
};

/* "./a//b/../c" -> "a/c"; fails when a ".." climbs above the destination. */
static int clean_entry(const char *name, struct strbuf *out)
{
	_cleanup_free_ char *s = xstrdup(name);
	char *save = NULL;

	strbuf_reset(out);
	for (char *c = strtok_r(s, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		char *slash;

		if (streq(c, "."))
			continue;
		if (!streq(c, "..")) {
			if (out->len)
				strbuf_addch(out, '/');
			strbuf_addstr(out, c);
			continue;
		}
		if (!out->len)
			return -EXDEV;
		slash = strrchr(out->buf, '/');
		strbuf_setlen(out, slash ? (size_t)(slash - out->buf) : 0);
	}
	return 0;
}

/* The directory holding @clean (created as needed, resolved inside the destination). */
static int entry_parent(struct unpacker *u, const char *clean, bool create, int *ret_dir,
			const char **ret_base, struct kiln_error **err)
{
	_cleanup_free_ char *parent = xstrdup(clean);
	char *slash = strrchr(parent, '/');

	*ret_base = strrchr(clean, '/') ? strrchr(clean, '/') + 1 : clean;
	if (slash)
		*slash = '\0';
	else
		parent[0] = '\0';
	return copy_dest_dir(u->dest, parent, create, NULL, ret_dir, NULL, err);
}

static int make_room(int dir, const char *base, bool for_dir, const char *name,
		     struct kiln_error **err)
{
	struct stat st;

	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		if (for_dir)
			return 1;
		return fs_rm_rf(dir, base, err) < 0 ? err_wrap(err, "replace '%s'", name) : 0;
	}
	if (unlinkat(dir, base, 0) < 0)
		return err_sys(err, errno, "replace '%s'", name);
	return 0;
}

static int write_data(struct unpacker *u, int fd, const char *name, struct kiln_error **err)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(u->a, &buf, &size, &off)) == ARCHIVE_OK) {
		if (lseek(fd, off, SEEK_SET) < 0 || fs_write_all(fd, buf, size, err) < 0)
			return err_new(err, KILN_ERR_SYSTEM, EIO, "write '%s'", name);
		u->res->bytes += size;
	}
	if (r != ARCHIVE_EOF)
		return err_new(err, KILN_ERR_INPUT, EIO, "read '%s': %s", name,
			       archive_error_string(u->a));
	if (ftruncate(fd, lseek(fd, 0, SEEK_CUR)) < 0 && errno != EINVAL)
		return err_sys(err, errno, "truncate '%s'", name);
	return 0;
}

static int meta_at(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		   bool is_link, const char *name, struct kiln_error **err)
{
	struct timespec t[2] = {
		{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
		{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	};

	if (u->do_chown && fchownat(dir, base, (uid_t)archive_entry_uid(e),
				    (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "chown '%s'", name);
	if (!is_link && fchmodat(dir, base, archive_entry_perm(e) & 07777, 0) < 0)
		return err_sys(err, errno, "chmod '%s'", name);
	if (utimensat(dir, base, t, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "set times of '%s'", name);
	return 0;
}

/* The archive's xattrs worth keeping (PAX SCHILY.xattr), set after the chown. */
static void set_xattrs(int fd, struct archive_entry *e, const char *name)
{
	const char *key;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK)
		if (copy_keep_xattr(key) && fsetxattr(fd, key, value, size, 0) < 0)
			log_warn("set xattr '%s' of '%s': %s, ignoring", key, name,
				 strerror(errno));
}

static int un_reg(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		  const char *name, struct kiln_error **err)
{
	_cleanup_close_ int fd =
		openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return err_sys(err, errno, "create '%s'", name);
	r = write_data(u, fd, name, err);
	if (r >= 0)
		r = meta_at(u, dir, base, e, false, name, err);
	if (r >= 0)
		set_xattrs(fd, e, name);
	return r;
}

static int un_dir(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		  const char *name, struct kiln_error **err)
{
	if (mkdirat(dir, base, 0700) < 0 && errno != EEXIST)
		return err_sys(err, errno, "mkdir '%s'", name);
	ALLOC_GROW(u->dir_times, u->n_dir_times + 1, u->dir_times_alloc);
	u->dir_times[u->n_dir_times++] =
		(struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
	strv_push(&u->dirs, name);
	return meta_at(u, dir, base, e, false, name, err);
}

static int un_symlink(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		      const char *name, struct kiln_error **err)
{
	const char *target = archive_entry_symlink(e);

	if (!target || symlinkat(target, dir, base) < 0)
		return err_sys(err, target ? errno : EINVAL, "symlink '%s'", name);
	return meta_at(u, dir, base, e, true, name, err);
}

static int un_hardlink(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		       const char *name, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf target = STRBUF_INIT;
	_cleanup_close_ int tdir = -1;
	const char *tbase;

	if (clean_entry(archive_entry_hardlink(e), &target) < 0 || !target.len)
		return err_new(err, KILN_ERR_INPUT, EXDEV,
			       "archive entry '%s' links to '%s', outside the destination", name,
			       archive_entry_hardlink(e));
	if (entry_parent(u, target.buf, false, &tdir, &tbase, err) < 0)
		return -EXDEV;
	if (linkat(tdir, tbase, dir, base, 0) < 0)
		return err_sys(err, errno, "hardlink '%s' to '%s'", name, target.buf);
	return 0;
}

static int un_special(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		      const char *name, struct kiln_error **err)
{
	mode_t type = archive_entry_filetype(e);

	if (mknodat(dir, base, type | 0600, archive_entry_rdev(e)) < 0) {
		if (errno != EPERM)
			return err_sys(err, errno, "mknod '%s'", name);
		log_warn("'%s': creating a device node is not permitted here, ignoring", name);
		return 1;
	}
	return meta_at(u, dir, base, e, false, name, err);
}

static const struct {
	mode_t type;
	int (*fn)(struct unpacker *u, int dir, const char *base, struct archive_entry *e,
		  const char *name, struct kiln_error **err);
} unpackers[] = {
	{AE_IFREG, un_reg},	{AE_IFDIR, un_dir},	{AE_IFLNK, un_symlink},
	{AE_IFIFO, un_special}, {AE_IFCHR, un_special}, {AE_IFBLK, un_special},
};

static int unpack_entry(struct unpacker *u, struct archive_entry *e, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf name = STRBUF_INIT;
	_cleanup_close_ int dir = -1;
	const char *base;
	bool hard = archive_entry_hardlink(e) != NULL;
	mode_t type = archive_entry_filetype(e);
	int r;

	if (clean_entry(archive_entry_pathname(e), &name) < 0)
		return err_new(err, KILN_ERR_INPUT, EXDEV,
			       "archive entry '%s' would land outside the destination",
			       archive_entry_pathname(e));
	if (!name.len)
		return 0; /* "./": the destination itself */
	r = entry_parent(u, name.buf, true, &dir, &base, err);
	if (r < 0)
		return err_wrap(err, "archive entry '%s'", name.buf);
	r = make_room(dir, base, !hard && type == AE_IFDIR, name.buf, err);
	if (r < 0)
		return r;
	if (hard)
		return un_hardlink(u, dir, base, e, name.buf, err);
	for (size_t i = 0; i < ARRAY_SIZE(unpackers); i++)
		if (unpackers[i].type == type) {
			r = unpackers[i].fn(u, dir, base, e, name.buf, err);
			if (r == 0 && u->res->written)
				strv_push_take(u->res->written,
					       *u->dest_path
						       ? xasprintf("%s/%s", u->dest_path, name.buf)
						       : xstrdup(name.buf));
			if (r == 0)
				u->res->n_files++;
			return r < 0 ? r : 0;
		}
	log_warn("archive entry '%s' has an unsupported type, ignoring", name.buf);
	return 0;
}

/* Directory times last: writing their entries changed them. */
static void fix_dir_times(struct unpacker *u)
{
	for (size_t i = u->dirs.n; i-- > 0;) {
		struct timespec t[2] = {u->dir_times[i], u->dir_times[i]};
		_cleanup_close_ int fd = -1;

		if (copy_dest_dir(u->dest, u->dirs.v[i], false, NULL, &fd, NULL, NULL) >= 0)
			futimens(fd, t);
	}
}

int copy_unpack(int fd, int dest_dir, const char *dest_path, struct copy_result *res,
		struct kiln_error **err)
{
	struct unpacker u = {.dest = dest_dir,
			     .dest_path = dest_path,
			     .res = res,
			     .do_chown = geteuid() == 0,
			     .dirs = STRV_INIT};
	_cleanup_(archive_read_freep) struct archive *a = tar_reader(fd);
	struct archive_entry *e;
	int r = 0, ar;

	if (!a)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "not a tar archive");
	u.a = a;
	while (r >= 0 && (ar = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (ar < ARCHIVE_WARN) {
			r = err_new(err, KILN_ERR_INPUT, EIO, "read archive: %s",
				    archive_error_string(a));
			break;
		}
		r = unpack_entry(&u, e, err);
	}
	if (r >= 0)
		fix_dir_times(&u);
	strv_clear(&u.dirs);
	free(u.dir_times);
	return r;
}
