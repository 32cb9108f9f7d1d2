/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incremental COPY (copy-internal.h says how the pieces fit): a manifest of
 * an earlier result, cloning its files into a new upperdir with hardlinks,
 * and removing afterwards what the copy did not keep.
 */
#include <dirent.h>
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
#include "util/hash.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct reuse_file {
	char *path;
	uint64_t hash;
	unsigned char dg[32];
	ino_t ino;
	bool linked; /* in the new upperdir (removed after the copy unless written) */
	bool matchable; /* the only name of its inode there: may be kept as it is */
};

struct copy_reuse {
	struct reuse_file *slots;
	size_t cap, n;
	struct strv dirs; /* made by the clone, parents first */
};

static struct reuse_file *find(const struct copy_reuse *r, const char *path, uint64_t h)
{
	size_t i = h & (r->cap - 1);

	while (r->slots[i].path && (r->slots[i].hash != h || !streq(r->slots[i].path, path)))
		i = (i + 1) & (r->cap - 1);
	return &r->slots[i];
}

static bool parse_line(struct copy_reuse *r, const char *line, size_t len)
{
	unsigned char dg[32];
	struct reuse_file *f;
	uint64_t h;

	if (len < 66 || line[64] != ' ' || copy_hex_decode(line, dg) < 0)
		return false;
	h = fnv1a64(line + 65);
	f = find(r, line + 65, h);
	if (!f->path) {
		f->path = xstrndup(line + 65, len - 65);
		f->hash = h;
		r->n++;
	}
	memcpy(f->dg, dg, 32);
	return true;
}

struct copy_reuse *copy_reuse_parse(const char *buf, size_t len)
{
	_cleanup_free_ char *copy = xstrndup(buf, len);
	struct copy_reuse *r = xcalloc(1, sizeof(*r));
	size_t lines = 0;

	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	r->cap = 16;
	while (r->cap < 2 * lines)
		r->cap *= 2;
	r->slots = xcalloc(r->cap, sizeof(*r->slots));
	r->dirs = (struct strv)STRV_INIT;
	for (char *line = copy, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		if (!parse_line(r, line, (size_t)(nl - line))) {
			copy_reuse_free(r);
			return NULL;
		}
	}
	if (!r->n) {
		copy_reuse_free(r);
		return NULL;
	}
	return r;
}

void copy_reuse_free(struct copy_reuse *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++)
		free(r->slots[i].path);
	free(r->slots);
	strv_clear(&r->dirs);
	free(r);
}

bool copy_reuse_match(const struct copy_reuse *r, const char *path, const unsigned char dg[32])
{
	const struct reuse_file *f;

	if (!r)
		return false;
	f = find(r, path, fnv1a64(path));
	return f->path && f->linked && f->matchable && memcmp(f->dg, dg, 32) == 0;
}

/* ---- the clone ------------------------------------------------------------------------ */

static bool is_opaque(int fd)
{
	char v[2];

	return fgetxattr(fd, "user.overlay.opaque", v, sizeof(v)) == 1 ||
	       fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1;
}

/* Owner, mode, the xattrs COPY keeps and times of a directory. */
static int copy_dir_meta(int from, int to, const struct stat *st, const char *path,
			 struct kiln_error **err)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};

	copy_xattrs(from, to, path);
	if (fchown(to, st->st_uid, st->st_gid) < 0 && geteuid() == 0)
		return err_sys(err, errno, "chown '/%s'", path);
	if (fchmod(to, st->st_mode & 07777) < 0)
		return err_sys(err, errno, "chmod '/%s'", path);
	if (futimens(to, times) < 0)
		return err_sys(err, errno, "set times of '/%s'", path);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct clone {
	struct copy_reuse *r;
	struct strbuf path;
	struct reuse_file **by_ino;
	size_t n_ino, ino_alloc;
};

static int clone_dir(struct clone *c, int ref, int up, struct kiln_error **err);

static int clone_subdir(struct clone *c, int ref, int up, const char *name, const struct stat *st,
			struct kiln_error **err)
{
	_cleanup_close_ int from =
		openat(ref, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int to = -1;
	int r;

	if (from < 0)
		return err_sys(err, errno, "open '/%s'", c->path.buf);
	if (is_opaque(from))
		return 1;
	if (mkdirat(up, name, 0700) < 0)
		return err_sys(err, errno, "mkdir '/%s'", c->path.buf);
	to = openat(up, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (to < 0)
		return err_sys(err, errno, "open '/%s'", c->path.buf);
	strv_push(&c->r->dirs, c->path.buf);
	r = clone_dir(c, from, to, err);
	if (r == 0)
		r = copy_dir_meta(from, to, st, c->path.buf, err);
	return r;
}

static int clone_file(struct clone *c, int ref, int up, const char *name, const struct stat *st,
		      struct kiln_error **err)
{
	struct reuse_file *f = find(c->r, c->path.buf, fnv1a64(c->path.buf));

	if (!f->path)
		return 0; /* not in the manifest: the copy writes it if it still should */
	if (linkat(ref, name, up, name, 0) < 0)
		return err_sys(err, errno, "link '/%s'", c->path.buf);
	f->linked = f->matchable = true;
	f->ino = st->st_ino;
	ALLOC_GROW(c->by_ino, c->n_ino + 1, c->ino_alloc);
	c->by_ino[c->n_ino++] = f;
	return 0;
}

static int clone_entry(struct clone *c, int ref, int up, const char *name, struct kiln_error **err)
{
	struct stat st;

	if (fstatat(ref, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "stat '/%s'", c->path.buf);
	if (S_ISDIR(st.st_mode))
		return clone_subdir(c, ref, up, name, &st, err);
	if (S_ISREG(st.st_mode))
		return clone_file(c, ref, up, name, &st, err);
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		return 1; /* a whiteout (or a device): the clone cannot stand for it */
	return 0; /* symlinks and the rest are quick to write again */
}

static int clone_dir(struct clone *c, int ref, int up, struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	size_t len = c->path.len;
	DIR *d = fdopendir(dup(ref));
	struct dirent *de;
	int r = 0;

	if (!d)
		return err_sys(err, errno, "read '/%s'", c->path.buf);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&names, de->d_name);
	closedir(d);
	if (names.n > 1) /* no readdir order reaches the step: the same work in the same order */
		qsort(names.v, names.n, sizeof(char *), cmp_str);
	strv_foreach(&names, it) {
		if (len)
			strbuf_addch(&c->path, '/');
		strbuf_addstr(&c->path, *it);
		r = clone_entry(c, ref, up, *it, err);
		strbuf_setlen(&c->path, len);
		if (r != 0)
			break;
	}
	return r;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct reuse_file *x = *(struct reuse_file *const *)a;
	const struct reuse_file *y = *(struct reuse_file *const *)b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Names that share an inode are never kept as they are: the copy decides their links. */
static void unmatch_shared(struct clone *c)
{
	if (c->n_ino > 1)
		qsort(c->by_ino, c->n_ino, sizeof(*c->by_ino), cmp_ino);
	for (size_t i = 1; i < c->n_ino; i++)
		if (c->by_ino[i]->ino == c->by_ino[i - 1]->ino)
			c->by_ino[i]->matchable = c->by_ino[i - 1]->matchable = false;
}

static int empty_dir(int fd, struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	int r = 0;

	if (!d)
		return err_sys(err, errno, "read the upperdir");
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&names, de->d_name);
	closedir(d);
	strv_foreach(&names, it) {
		r = fs_rm_rf(fd, *it, err);
		if (r < 0)
			break;
	}
	return r;
}

int copy_reuse_clone(struct copy_reuse *r, int ref_fd, int upper_fd, struct kiln_error **err)
{
	struct clone c = {.r = r, .path = STRBUF_INIT};
	int ret = clone_dir(&c, ref_fd, upper_fd, err);

	unmatch_shared(&c);
	free(c.by_ino);
	strbuf_release(&c.path);
	if (ret == 0)
		return 0;
	if (ret < 0) {
		log_debug("not reusing the step's last result: %s", (*err)->msg);
		err_free(TAKE_PTR(*err));
	}
	for (size_t i = 0; i < r->cap; i++)
		r->slots[i].linked = false;
	strv_clear(&r->dirs);
	return empty_dir(upper_fd, err) < 0 ? -EIO : 1;
}

bool copy_reuse_cloned(const struct copy_reuse *r, const char *path)
{
	const struct reuse_file *f;

	if (!r)
		return false;
	f = find(r, path, fnv1a64(path));
	return (f->path && f->linked) || strv_find(&r->dirs, path) >= 0;
}

/* ---- after the copy ------------------------------------------------------------------- */

static bool was_written(const struct strv *written, const char *path)
{
	return bsearch(&path, written->v, written->n, sizeof(char *), cmp_str) != NULL;
}

/* The parent directory of @path ("." for a top-level name). */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

/*
 * The directory holding @path in the upperdir, reached without following any
 * symlink, and the last component in *ret_name ("." for the upperdir itself).
 * The copy may have put a symlink (to anywhere, the host included) where the
 * clone made a directory: a path through it names nothing the clone made, and
 * gives -ELOOP or -ENOTDIR, never a step outside.
 */
static int open_parent(int upper_fd, const char *path, const char **ret_name)
{
	_cleanup_strbuf_ struct strbuf rest = STRBUF_INIT, comp = STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	int fd = fcntl(upper_fd, F_DUPFD_CLOEXEC, 3);

	*ret_name = slash ? slash + 1 : path;
	if (slash)
		strbuf_add(&rest, path, (size_t)(slash - path));
	while (fd >= 0 && fs_next_component(&rest, &comp)) {
		int next = -1;

		if (!streq(comp.buf, ".") && !streq(comp.buf, ".."))
			next = openat(fd, comp.buf,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		else
			errno = EINVAL;
		close(fd);
		fd = next;
	}
	if (fd < 0)
		return -errno;
	if (!**ret_name || (streq(*ret_name, "..") || (streq(*ret_name, ".") && slash))) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* unlinkat() of @path below the upperdir, through no symlink; gone already is fine. */
static int remove_below(int upper_fd, const char *path, int flags, struct kiln_error **err)
{
	const char *name;
	_cleanup_close_ int dir = open_parent(upper_fd, path, &name);

	if (dir == -ENOENT || dir == -ELOOP || dir == -ENOTDIR)
		return 0;
	if (dir < 0)
		return err_sys(err, -dir, "remove '/%s'", path);
	if (unlinkat(dir, name, flags) < 0 && errno != ENOENT && errno != EISDIR &&
	    errno != ENOTDIR && errno != ENOTEMPTY && errno != EEXIST)
		return err_sys(err, errno, "remove '/%s'", path);
	return 0;
}

struct dir_times {
	char *path;
	struct timespec t[2];
};

/*
 * The times of the directories prune will remove entries from, as the copy
 * left them (from the sources): removing an entry sets its directory's mtime
 * to now, which a fresh copy never does.
 */
static struct dir_times *save_parent_times(struct copy_reuse *r, int upper_fd,
					   const struct strv *written, size_t *ret_n)
{
	_cleanup_strv_ struct strv parents = STRV_INIT;
	struct dir_times *v;
	size_t n = 0;

	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i].path && r->slots[i].linked &&
		    !was_written(written, r->slots[i].path))
			strv_push_take(&parents, parent_of(r->slots[i].path));
	strv_foreach(&r->dirs, it) {
		if (!was_written(written, *it))
			strv_push_take(&parents, parent_of(*it));
	}
	if (parents.n > 1)
		qsort(parents.v, parents.n, sizeof(char *), cmp_str);
	v = xcalloc(parents.n + 1, sizeof(*v));
	for (size_t i = 0; i < parents.n; i++) {
		const char *name;
		_cleanup_close_ int dir = -1;
		struct stat st;

		if (i && streq(parents.v[i], parents.v[i - 1]))
			continue;
		dir = open_parent(upper_fd, parents.v[i], &name);
		if (dir < 0 || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		v[n].path = xstrdup(parents.v[i]);
		v[n].t[0] = st.st_atim;
		v[n++].t[1] = st.st_mtim;
	}
	*ret_n = n;
	return v;
}

static int restore_times(int upper_fd, struct dir_times *v, size_t n, struct kiln_error **err)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name;
		_cleanup_close_ int dir = open_parent(upper_fd, v[i].path, &name);

		/* a directory the copy did not replace since (else it is not ours) */
		if (dir >= 0 && utimensat(dir, name, v[i].t, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT && r == 0)
			r = err_sys(err, errno, "set times of '/%s'", v[i].path);
		free(v[i].path);
	}
	free(v);
	return r;
}

static int remove_unwritten(struct copy_reuse *r, int upper_fd, const struct strv *written,
			    struct kiln_error **err)
{
	for (size_t i = 0; i < r->cap; i++) {
		const struct reuse_file *f = &r->slots[i];

		if (!f->path || !f->linked || was_written(written, f->path))
			continue;
		if (remove_below(upper_fd, f->path, 0, err) < 0)
			return -EIO;
	}
	/* children first; a directory with something the copy wrote in it stays */
	for (size_t i = r->dirs.n; i > 0; i--) {
		const char *path = r->dirs.v[i - 1];

		if (was_written(written, path))
			continue;
		if (remove_below(upper_fd, path, AT_REMOVEDIR, err) < 0)
			return -EIO;
	}
	return 0;
}

int copy_reuse_prune(struct copy_reuse *r, int upper_fd, struct strv *written,
		     struct kiln_error **err)
{
	struct dir_times *times;
	size_t n;
	int ret;

	if (written->n > 1)
		qsort(written->v, written->n, sizeof(char *), cmp_str);
	times = save_parent_times(r, upper_fd, written, &n);
	ret = remove_unwritten(r, upper_fd, written, err);
	if (ret < 0) {
		restore_times(upper_fd, times, n, NULL);
		return ret;
	}
	return restore_times(upper_fd, times, n, err);
}
