/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A diff directory -> a layer: a pax tar written through libarchive, names in
 * byte order within each directory (parents before children, like GNU tar's
 * --sort=name), overlay whiteouts and opaque directories translated to the OCI
 * ".wh." forms, hardlinks within the layer stored once.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define WHITEOUT_PREFIX ".wh."
/* ".wh." + this = ".wh..wh..opq", the opaque-directory marker */
#define OPAQUE_SUFFIX ".wh..opq"
#define COPY_BUF      (128 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free)

/* (dev, ino) -> the first path seen, for hardlinks. Open addressing. */
struct link_slot {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct commit {
	struct layer_tar t;
	struct archive *a; /* t.a */
	const struct layers_commit_opts *opts;
	struct link_slot *links;
	size_t n_links, links_alloc;
	char *buf;
};

static size_t link_hash(dev_t dev, ino_t ino, size_t mask)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & mask;
}

static struct link_slot *link_find(struct commit *c, dev_t dev, ino_t ino)
{
	size_t mask = c->links_alloc - 1, i = link_hash(dev, ino, mask);

	while (c->links[i].path && !(c->links[i].dev == dev && c->links[i].ino == ino))
		i = (i + 1) & mask;
	return &c->links[i];
}

static void link_grow(struct commit *c)
{
	struct link_slot *old = c->links;
	size_t n = c->links_alloc;

	c->links_alloc = n ? n * 2 : 64;
	c->links = xcalloc(c->links_alloc, sizeof(*c->links));
	for (size_t i = 0; i < n; i++)
		if (old[i].path)
			*link_find(c, old[i].dev, old[i].ino) = old[i];
	free(old);
}

/* The path this inode was first stored under, or NULL (and remember @path). */
static const char *link_target(struct commit *c, const struct stat *st, const char *path)
{
	struct link_slot *s;

	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return NULL;
	if ((c->n_links + 1) * 2 > c->links_alloc)
		link_grow(c);
	s = link_find(c, st->st_dev, st->st_ino);
	if (s->path)
		return s->path;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->path = xstrdup(path);
	c->n_links++;
	return NULL;
}

/* ---- libarchive plumbing ---- */

static la_ssize_t write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct layer_tar *t = ctx;

	if (layer_sink_write(t->sink, buf, len, &t->sink_err) < 0) {
		archive_set_error(a, EIO, "layer output failed");
		return -1;
	}
	return (la_ssize_t)len;
}

int layer_tar_fail(struct layer_tar *t, const char *path, struct kiln_error **err)
{
	if (t->sink_err) {
		*err = TAKE_PTR(t->sink_err);
		return err_wrap(err, "write '%s'", path);
	}
	return err_new(err, KILN_ERR_SYSTEM, archive_errno(t->a) > 0 ? archive_errno(t->a) : EIO,
		       "tar '%s': %s", path, archive_error_string(t->a));
}

int layer_tar_open(struct layer_tar *t, const struct layers_commit_opts *opts, bool hash_out,
		   layer_out_fn out, void *out_ctx, struct kiln_error **err)
{
	t->sink = layer_sink_new(opts->compression, opts->level, opts->threads, hash_out, out,
				 out_ctx);
	t->a = archive_write_new();
	if (!t->a || archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
	    archive_write_set_options(t->a, "pax:xattrheader=SCHILY") != ARCHIVE_OK ||
	    /* unblocked: the sink sees each entry's bytes before the next is marked */
	    archive_write_set_bytes_per_block(t->a, 0) != ARCHIVE_OK ||
	    archive_write_open2(t->a, t, NULL, write_cb, NULL, NULL) != ARCHIVE_OK)
		return err_new(err, KILN_ERR_SYSTEM, EIO, "libarchive: %s",
			       t->a ? archive_error_string(t->a) : "out of memory");
	return 0;
}

int layer_tar_finish(struct layer_tar *t, const struct layers_commit_opts *opts,
		     struct layer_desc *ret, struct kiln_error **err)
{
	int r;

	if (archive_write_close(t->a) != ARCHIVE_OK)
		return layer_tar_fail(t, "(end of archive)", err);
	r = layer_sink_finish(t->sink, &ret->diff_id, &ret->digest, &ret->size, err);
	if (r < 0)
		return r;
	ret->compression = opts->compression;
	ret->media_type = xstrdup(layer_media_type(opts->compression, opts->format));
	return 0;
}

void layer_tar_release(struct layer_tar *t)
{
	if (t->a)
		archive_write_free(t->a);
	t->a = NULL;
	err_free(TAKE_PTR(t->sink_err));
	layer_sink_free(TAKE_PTR(t->sink));
}

/* ---- xattrs ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool xattr_wanted(const char *name)
{
	if (streq(name, "security.capability"))
		return true;
	return startswith(name, "user.") && !startswith(name, "user.overlay.");
}

/* @procpath is /proc/self/fd/N: the plain (following) calls reach the opened inode. */
static void add_xattrs(struct archive_entry *e, const char *procpath)
{
	char names[4096], value[4096];
	ssize_t n = listxattr(procpath, names, sizeof(names));
	_cleanup_strv_ struct strv sorted = STRV_INIT;

	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1)
		if (xattr_wanted(names + off))
			strv_push(&sorted, names + off);
	if (sorted.n > 1)
		qsort(sorted.v, sorted.n, sizeof(char *), cmp_names);
	strv_foreach(&sorted, it) {
		ssize_t len = getxattr(procpath, *it, value, sizeof(value));

		if (len >= 0)
			archive_entry_xattr_add_entry(e, *it, value, (size_t)len);
	}
}

static bool is_opaque(const char *procpath)
{
	static const char *const names[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
	char v[4];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ssize_t n = getxattr(procpath, names[i], v, sizeof(v));

		if (n == 1 && v[0] == 'y')
			return true;
	}
	return false;
}

/* ---- entries ---- */

static void fill_entry(struct commit *c, struct archive_entry *e, const char *path,
		       const struct stat *st)
{
	time_t mtime = st->st_mtim.tv_sec;

	if (c->opts->source_date_epoch >= 0 && mtime > c->opts->source_date_epoch)
		mtime = (time_t)c->opts->source_date_epoch;
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, mtime, 0);
	if (S_ISREG(st->st_mode))
		archive_entry_set_size(e, st->st_size);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		archive_entry_set_rdev(e, st->st_rdev);
}

/* Each entry may start a compression block (compress.c), chosen from its name. */
static int write_header(struct commit *c, struct archive_entry *e, const char *path,
			struct kiln_error **err)
{
	if (archive_write_finish_entry(c->a) < ARCHIVE_WARN)
		return layer_tar_fail(&c->t, path, err);
	uint64_t h = fnv1a64(path);

	if (layer_sink_mark(c->t.sink, h ^ (h >> 32), &c->t.sink_err) < 0)
		return layer_tar_fail(&c->t, path, err);
	if (archive_write_header(c->a, e) < ARCHIVE_WARN)
		return layer_tar_fail(&c->t, path, err);
	return 0;
}

static int write_body(struct commit *c, int fd, const char *path, off_t size,
		      struct kiln_error **err)
{
	off_t left = size;

	while (left > 0) {
		ssize_t n = fs_read_all(fd, c->buf, (size_t)MIN(left, (off_t)COPY_BUF), NULL);

		if (n < 0)
			return err_sys(err, (int)-n, "read '%s'", path);
		if (n == 0)
			return err_new(err, KILN_ERR_SYSTEM, EIO, "'%s' shrank while being read",
				       path);
		if (archive_write_data(c->a, c->buf, (size_t)n) != n)
			return layer_tar_fail(&c->t, path, err);
		left -= n;
	}
	return 0;
}

/* A whiteout: an empty regular file ".wh.NAME" beside NAME. */
static int write_whiteout(struct commit *c, const char *dir, const char *name,
			  const struct stat *st, struct kiln_error **err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
	_cleanup_free_ char *path =
		xasprintf("%s%s%s%s", dir, *dir ? "/" : "", WHITEOUT_PREFIX, name);
	struct stat wst = {.st_mode = S_IFREG | 0600, .st_mtim = st->st_mtim};

	fill_entry(c, e, path, &wst);
	return write_header(c, e, path, err);
}

static int walk_dir(struct commit *c, int dfd, struct strbuf *path, struct kiln_error **err);

static int write_entry(struct commit *c, int dfd, const char *name, struct strbuf *path,
		       struct kiln_error **err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
	_cleanup_free_ char *procpath = NULL;
	_cleanup_close_ int fd = -1;
	const char *target;
	struct stat st;
	size_t dirlen = path->len;
	int r;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "stat '%s/%s'", path->buf, name);
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
		return write_whiteout(c, path->buf, name, &st, err);
	if (S_ISSOCK(st.st_mode)) {
		log_debug("'%s/%s': a socket cannot go in a layer, ignoring", path->buf, name);
		return 0;
	}
	if (path->len)
		strbuf_addch(path, '/');
	strbuf_addstr(path, name);
	fd = openat(dfd, name,
		    (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ? O_RDONLY : O_PATH) | O_NOFOLLOW |
			    O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = err_sys(err, errno, "open '%s'", path->buf);
		goto out;
	}
	procpath = xasprintf("/proc/self/fd/%d", fd);
	fill_entry(c, e, path->buf, &st);
	target = link_target(c, &st, path->buf);
	if (target) {
		archive_entry_set_hardlink(e, target);
		archive_entry_set_size(e, 0);
		r = write_header(c, e, path->buf, err);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		char link[PATH_MAX + 1];
		ssize_t n = readlinkat(dfd, name, link, PATH_MAX);

		if (n < 0) {
			r = err_sys(err, errno, "readlink '%s'", path->buf);
			goto out;
		}
		link[n] = '\0';
		archive_entry_set_symlink(e, link);
	} else {
		add_xattrs(e, procpath);
	}
	r = write_header(c, e, path->buf, err);
	if (r >= 0 && S_ISREG(st.st_mode))
		r = write_body(c, fd, path->buf, st.st_size, err);
	if (r >= 0 && S_ISDIR(st.st_mode)) {
		if (is_opaque(procpath)) {
			struct stat ost = {.st_mode = S_IFREG | 0600, .st_mtim = st.st_mtim};
			_cleanup_free_ char *dir = xstrdup(path->buf);

			/* the marker must come before the directory's other entries */
			r = write_whiteout(c, dir, OPAQUE_SUFFIX, &ost, err);
		}
		if (r >= 0)
			r = walk_dir(c, TAKE_FD(fd), path, err);
	}
out:
	strbuf_setlen(path, dirlen);
	return r;
}

/* Takes ownership of @dfd. */
static int walk_dir(struct commit *c, int dfd, struct strbuf *path, struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return err_sys(err, errno, "open directory '%s'", path->len ? path->buf : ".");
	}
	while ((errno = 0, de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&names, de->d_name);
	if (errno) {
		r = err_sys(err, errno, "read directory '%s'", path->len ? path->buf : ".");
		closedir(d);
		return r;
	}
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(char *), cmp_names);
	strv_foreach(&names, it) {
		r = write_entry(c, dirfd(d), *it, path, err);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* ---- the writer ---- */

static void commit_release(struct commit *c)
{
	for (size_t i = 0; i < c->links_alloc; i++)
		free(c->links[i].path);
	free(c->links);
	free(c->buf);
	layer_tar_release(&c->t);
}

/* opts->reuse_blob: blocks of an earlier layer to reuse; keep_index: index this one. */
static void setup_blocks(struct commit *c, struct store *s, const struct layers_commit_opts *opts)
{
	int level = layer_sink_level(c->t.sink);

	if (s && opts->reuse_blob) {
		struct gz_index *ix = gz_index_load(s, opts->reuse_blob, level);

		if (ix)
			layer_sink_reuse(c->t.sink, ix);
	}
	if (s && opts->keep_index)
		layer_sink_keep_index(c->t.sink);
}

/*
 * Walk @dirfd into a layer; fills *ret (digest only with @hash_out), and
 * *ret_index with the block index when @s and opts->keep_index ask for one.
 */
static int commit_walk(struct store *s, int dirfd, const struct layers_commit_opts *opts,
		       bool hash_out, layer_out_fn out, void *out_ctx, struct layer_desc *ret,
		       struct gz_index **ret_index, int *ret_level, struct kiln_error **err)
{
	struct commit c = {.opts = opts, .buf = xmalloc(COPY_BUF)};
	_cleanup_strbuf_ struct strbuf path = STRBUF_INIT;
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dfd < 0)
		r = err_sys(err, errno, "open the diff directory");
	else
		r = layer_tar_open(&c.t, opts, hash_out, out, out_ctx, err);
	c.a = c.t.a;
	if (r >= 0)
		setup_blocks(&c, s, opts);
	if (r >= 0)
		r = walk_dir(&c, TAKE_FD(dfd), &path, err);
	if (r >= 0)
		r = layer_tar_finish(&c.t, opts, ret, err);
	if (r >= 0 && ret_index) {
		*ret_index = layer_sink_take_index(c.t.sink);
		*ret_level = layer_sink_level(c.t.sink);
	}
	if (dfd >= 0)
		close(dfd);
	commit_release(&c);
	return r;
}

static int out_fd(void *ctx, const void *data, size_t len, struct kiln_error **err)
{
	return fs_write_all(*(int *)ctx, data, len, err);
}

int layers_write_dir(int dirfd, const struct layers_commit_opts *opts, int outfd,
		     struct layer_desc *ret, struct kiln_error **err)
{
	struct layer_desc l = {0};
	int r = commit_walk(NULL, dirfd, opts, true, out_fd, &outfd, &l, NULL, NULL, err);

	if (r < 0)
		return err_wrap(err, "commit layer");
	*ret = l;
	return 0;
}

static int out_blob(void *ctx, const void *data, size_t len, struct kiln_error **err)
{
	return blob_writer_write(ctx, data, len, err);
}

int layers_commit_dir(struct store *s, int dirfd, const struct layers_commit_opts *opts,
		      struct layer_desc *ret, struct kiln_error **err)
{
	_cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
	_cleanup_(gz_index_freep) struct gz_index *ix = NULL;
	struct layer_desc l = {0};
	int level = 0;
	int r = blob_writer_begin(s, &w, err);

	if (r >= 0)
		r = commit_walk(s, dirfd, opts, false, out_blob, w, &l, &ix, &level, err);
	if (r >= 0)
		r = blob_writer_commit(w, NULL, &l.digest, &l.size, err);
	if (r < 0) {
		layer_desc_release(&l);
		return err_wrap(err, "commit layer");
	}
	if (ix && gz_index_save(s, &l.digest, ix, level, err) < 0) {
		log_debug("no block index for the layer: %s", (*err)->msg);
		err_free(TAKE_PTR(*err));
	}
	*ret = l;
	return 0;
}
