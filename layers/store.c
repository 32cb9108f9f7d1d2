/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static const char *const store_dir_names[] = {
	[STORE_DIR_ROOT] = ".",
	[STORE_DIR_BLOBS] = "blobs/sha256",
	[STORE_DIR_SNAPSHOTS] = "snapshots",
	[STORE_DIR_CACHE] = "cache",
	[STORE_DIR_TMP] = "tmp",
	[STORE_DIR_BLOCKS] = "blocks",
	[STORE_DIR_DIFFIDS] = "diffids",
};

static const char layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char empty_index_json[] = "{\"schemaVersion\":2,\"manifests\":[]}";

char *store_default_root(void)
{
	const char *e = getenv("KILN_ROOT"), *home;
	struct passwd *pw;

	if (e && *e)
		return xstrdup(e);
	if (geteuid() == 0)
		return xstrdup("/var/lib/kiln");
	e = getenv("XDG_DATA_HOME");
	if (e && *e == '/')
		return fs_path_join(e, "kiln");
	home = getenv("HOME");
	if (!home || *home != '/') {
		pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.local/share/kiln", home);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(s->dirfds); i++)
		if (s->dirfds[i] >= 0)
			close(s->dirfds[i]);
	if (s->gc_lock >= 0)
		close(s->gc_lock);
	free(s->root);
	free(s);
}

const char *store_root(const struct store *s)
{
	return s->root;
}

int store_dirfd(const struct store *s, enum store_dir which)
{
	return s->dirfds[which];
}

char *store_dir_path(const struct store *s, enum store_dir which)
{
	if (which == STORE_DIR_ROOT)
		return xstrdup(s->root);
	return fs_path_join(s->root, store_dir_names[which]);
}

/* Write @name with @content when it is missing; under the store lock. */
static int ensure_file(struct store *s, const char *name, const char *content,
		       struct kiln_error **err)
{
	_cleanup_close_ int lock = -1;
	int rootfd = s->dirfds[STORE_DIR_ROOT];

	if (faccessat(rootfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	lock = fs_lock(rootfd, STORE_LOCK_NAME, false, err);
	if (lock < 0)
		return lock;
	if (faccessat(rootfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return fs_atomic_write(rootfd, name, content, strlen(content), 0644, err);
}

static int check_layout(struct store *s, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(json_decrefp) json_t *j = NULL;
	const char *v;
	int r;

	r = strbuf_read_file(&sb, s->dirfds[STORE_DIR_ROOT], "oci-layout", err);
	if (r < 0)
		return r;
	r = json_parse_buf(sb.buf, sb.len, "oci-layout", &j, err);
	if (r < 0)
		return r;
	v = json_get_str(j, "imageLayoutVersion");
	if (!v || !startswith(v, "1."))
		return err_at(err, NULL, "oci-layout: unsupported imageLayoutVersion '%s'",
			      v ? v : "(none)");
	return 0;
}

/*
 * Mark tmp/, where every step's upper directory and every unpacked snapshot
 * is made, as the top of a directory hierarchy for ext4's Orlov allocator
 * (chattr +T): each new directory in it goes to a block group with free
 * inodes rather than beside its parent. Without a journal, ext4 passes over
 * inodes freed in the last minutes one at a time when it allocates, so
 * creating a 20,000-file COPY in the group where the last build's files were
 * just deleted took 14 s instead of 0.6 s. A hint: other file systems refuse
 * the flag, and that is fine.
 */
static void spread_new_dirs(int dirfd)
{
	int flags = 0;

	if (ioctl(dirfd, FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL))
		return;
	flags |= FS_TOPDIR_FL;
	(void)ioctl(dirfd, FS_IOC_SETFLAGS, &flags);
}

/*
 * The store is private (the CVE-2021-41091 class: another local user running a
 * setuid binary of a snapshot, or holding a lock file open to hang every
 * kiln): its directories are 0700 whatever the umask, and a store an older
 * kiln left 0755 is tightened when it is opened. Only the owner (or root) may
 * change the mode; anyone else opening the store only reads it.
 */
static void make_private(int dirfd, const char *what)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0 || (st.st_mode & 07777) == STORE_DIR_MODE)
		return;
	if (fchmod(dirfd, STORE_DIR_MODE) < 0)
		log_debug("store: cannot make '%s' private: %s", what, strerror(errno));
}

/* An existing lock file 0644 (an older kiln's) becomes 0600 before anyone else opens it. */
static void lock_private(int rootfd, const char *name)
{
	_cleanup_close_ int fd =
		openat(rootfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
		(void)fchmod(fd, 0600);
}

static int open_dirs(struct store *s, bool create, struct kiln_error **err)
{
	int rootfd = s->dirfds[STORE_DIR_ROOT];

	for (size_t i = STORE_DIR_BLOBS; i < ARRAY_SIZE(store_dir_names); i++) {
		const char *name = store_dir_names[i];
		int r;

		if (create) {
			r = fs_mkdir_p(rootfd, name, STORE_DIR_MODE, err);
			if (r < 0)
				return r;
		}
		s->dirfds[i] =
			openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s->dirfds[i] < 0 && errno == ENOENT && i != STORE_DIR_BLOBS) {
			/* a layout made by another tool: add our directories */
			if (mkdirat(rootfd, name, STORE_DIR_MODE) < 0 && errno != EEXIST)
				return err_sys(err, errno, "create '%s/%s'", s->root, name);
			s->dirfds[i] = openat(rootfd, name,
					      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (s->dirfds[i] < 0)
			return err_sys(err, errno, "open '%s/%s'", s->root, name);
		make_private(s->dirfds[i], name);
		if (i == STORE_DIR_BLOBS) {
			_cleanup_close_ int top = openat(
				rootfd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (top >= 0)
				make_private(top, "blobs");
		}
		if (i == STORE_DIR_TMP)
			spread_new_dirs(s->dirfds[i]);
	}
	return 0;
}

static int store_init(struct store *s, bool create, struct kiln_error **err)
{
	int r;

	if (create) {
		r = ensure_file(s, "oci-layout", layout_json, err);
		if (r < 0)
			return r;
	}
	r = check_layout(s, err);
	if (r < 0)
		return r;
	r = open_dirs(s, create, err);
	if (r < 0)
		return r;
	if (create) {
		r = ensure_file(s, "index.json", empty_index_json, err);
		if (r < 0)
			return r;
	}
	lock_private(s->dirfds[STORE_DIR_ROOT], STORE_LOCK_NAME);
	s->gc_lock = fs_lock(s->dirfds[STORE_DIR_ROOT], STORE_GC_LOCK_NAME, true, err);
	return s->gc_lock < 0 ? s->gc_lock : 0;
}

int store_open(const char *root, enum store_open_flags flags, struct store **ret,
	       struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = xcalloc(1, sizeof(*s));
	_cleanup_free_ char *def = root ? NULL : store_default_root();
	bool create = flags & STORE_CREATE;
	char *real;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(s->dirfds); i++)
		s->dirfds[i] = -1;
	s->gc_lock = -1;
	root = root ? root : def;
	if (create) {
		_cleanup_close_ int top =
			open(root[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

		r = top < 0 ? err_sys(err, errno, "open '/'") : fs_mkdir_p(top, root, 0755, err);
		if (r < 0)
			return err_wrap(err, "store '%s'", root);
	}
	real = realpath(root, NULL);
	if (!real)
		return err_sys(err, errno, "store '%s'", root);
	s->root = real;
	s->dirfds[STORE_DIR_ROOT] = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfds[STORE_DIR_ROOT] < 0)
		return err_sys(err, errno, "store '%s'", real);
	make_private(s->dirfds[STORE_DIR_ROOT], real);
	r = store_init(s, create, err);
	if (r < 0)
		return err_wrap(err, "store '%s'", real);
	store_sweep_tmp(s); /* what killed kilns left in tmp/ */
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- blobs ---- */

char *store_blob_path(const struct store *s, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/blobs/sha256/%s", s->root, digest_hex(d, hex));
}

bool store_blob_exists(const struct store *s, const struct digest *d, uint64_t *ret_size)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct stat st;

	if (fstatat(s->dirfds[STORE_DIR_BLOBS], digest_hex(d, hex), &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return false;
	if (ret_size)
		*ret_size = (uint64_t)st.st_size;
	return true;
}

int store_blob_open(const struct store *s, const struct digest *d, struct kiln_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	int fd = openat(s->dirfds[STORE_DIR_BLOBS], digest_hex(d, hex),
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, errno, "blob 'sha256:%s'", hex);
	return fd;
}

int store_blob_read(const struct store *s, const struct digest *d, struct strbuf *sb,
		    struct kiln_error **err)
{
	char want[DIGEST_STR_SIZE], got[DIGEST_STR_SIZE];
	_cleanup_close_ int fd = store_blob_open(s, d, err);
	size_t start = sb->len;
	struct digest actual;
	int r;

	if (fd < 0)
		return fd;
	r = strbuf_read_fd(sb, fd, err);
	if (r < 0)
		return err_wrap(err, "blob '%s'", digest_format(d, want));
	digest_buffer(sb->buf + start, sb->len - start, &actual);
	if (!digest_eq(&actual, d))
		return err_new(err, KILN_ERR_INPUT, EBADMSG,
			       "blob '%s' is damaged: its content has digest '%s'",
			       digest_format(d, want), digest_format(&actual, got));
	return 0;
}

int store_blob_read_json(const struct store *s, const struct digest *d, json_t **ret,
			 struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char name[DIGEST_STR_SIZE];
	int r = store_blob_read(s, d, &sb, err);

	if (r < 0)
		return r;
	return json_parse_buf(sb.buf, sb.len, digest_format(d, name), ret, err);
}

/* ---- the blob writer ---- */

struct blob_writer {
	struct store *store;
	struct sha256 *hash;
	char *tmpname;
	int fd;
	uint64_t size;
	uint64_t flushed; /* bytes whose writeback has been started */
	bool committed;
};

/* Start writeback every so often, so the fsync at the end has little left to wait for. */
#define BLOB_FLUSH_EVERY (8U << 20)

int blob_writer_begin(struct store *s, struct blob_writer **ret, struct kiln_error **err)
{
	struct blob_writer *w;
	char *name;
	int fd = store_tmp_mkstemp(s, "blob", 0644, &name, err); /* locked: tmpwork.c */

	if (fd < 0)
		return err_wrap(err, "store '%s'", s->root);
	w = xcalloc(1, sizeof(*w));
	w->store = s;
	w->hash = sha256_new();
	w->tmpname = name;
	w->fd = fd;
	*ret = w;
	return 0;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct kiln_error **err)
{
	int r = interrupt_check(err);

	if (r >= 0)
		r = fs_write_all(w->fd, data, len, err);

	if (r < 0)
		return err_wrap(err, "write blob in '%s/tmp'", w->store->root);
	sha256_update(w->hash, data, len);
	w->size += len;
	if (w->size - w->flushed >= BLOB_FLUSH_EVERY) {
		/* a hint: an error here shows again at the fsync */
		(void)sync_file_range(w->fd, (off_t)w->flushed, (off_t)(w->size - w->flushed),
				      SYNC_FILE_RANGE_WRITE);
		w->flushed = w->size;
	}
	return 0;
}

uint64_t blob_writer_size(const struct blob_writer *w)
{
	return w->size;
}

static int blob_install(struct blob_writer *w, const struct digest *d, struct kiln_error **err)
{
	int tmpfd = w->store->dirfds[STORE_DIR_TMP], blobsfd = w->store->dirfds[STORE_DIR_BLOBS];
	char hex[DIGEST_HEX_LEN + 1];

	digest_hex(d, hex);
	if (store_blob_exists(w->store, d, NULL)) {
		unlinkat(tmpfd, w->tmpname, 0); /* content-addressed: keep the existing one */
		return 0;
	}
	if (fsync(w->fd) < 0)
		return err_sys(err, errno, "fsync blob 'sha256:%s'", hex);
	if (renameat(tmpfd, w->tmpname, blobsfd, hex) < 0)
		return err_sys(err, errno, "install blob 'sha256:%s'", hex);
	return fs_fsync_dir(blobsfd, err);
}

int blob_writer_commit(struct blob_writer *w, const struct digest *expected, struct digest *ret,
		       uint64_t *ret_size, struct kiln_error **err)
{
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE];
	struct digest d;
	int r;

	sha256_final(w->hash, &d);
	if (expected && !digest_eq(expected, &d))
		return err_new(err, KILN_ERR_INPUT, EBADMSG,
			       "blob digest mismatch: expected '%s', got '%s' (%llu bytes)",
			       digest_format(expected, a), digest_format(&d, b),
			       (unsigned long long)w->size);
	r = blob_install(w, &d, err);
	if (r < 0)
		return r;
	w->committed = true;
	if (ret)
		*ret = d;
	if (ret_size)
		*ret_size = w->size;
	return 0;
}

void blob_writer_free(struct blob_writer *w)
{
	if (!w)
		return;
	if (!w->committed)
		unlinkat(w->store->dirfds[STORE_DIR_TMP], w->tmpname, 0);
	close(w->fd);
	sha256_free(w->hash);
	free(w->tmpname);
	free(w);
}

int store_blob_write(struct store *s, const void *data, size_t len, const struct digest *expected,
		     struct digest *ret, struct kiln_error **err)
{
	_cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
	struct digest d;
	int r;

	digest_buffer(data, len, &d);
	if (store_blob_exists(s, &d, NULL) && (!expected || digest_eq(expected, &d))) {
		if (ret)
			*ret = d;
		return 0;
	}
	r = blob_writer_begin(s, &w, err);
	if (r < 0)
		return r;
	r = blob_writer_write(w, data, len, err);
	if (r < 0)
		return r;
	return blob_writer_commit(w, expected, ret, NULL, err);
}

int store_blob_write_fd(struct store *s, int fd, const struct digest *expected, struct digest *ret,
			uint64_t *ret_size, struct kiln_error **err)
{
	_cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
	_cleanup_free_ char *buf = xmalloc(1 << 17);
	int r = blob_writer_begin(s, &w, err);

	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = fs_read_all(fd, buf, 1 << 17, NULL);

		if (n < 0)
			return err_sys(err, (int)-n, "read blob");
		if (n == 0)
			break;
		r = blob_writer_write(w, buf, (size_t)n, err);
		if (r < 0)
			return r;
	}
	return blob_writer_commit(w, expected, ret, ret_size, err);
}

int store_blob_write_json(struct store *s, const json_t *json, struct digest *ret,
			  uint64_t *ret_size, struct kiln_error **err)
{
	size_t len;
	_cleanup_free_ char *text = json_canonical(json, &len);
	int r = store_blob_write(s, text, len, NULL, ret, err);

	if (r >= 0 && ret_size)
		*ret_size = len;
	return r;
}
