/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy_run(): place each expanded source at the destination with Docker's
 * rules (trailing slash, existing directory, several sources, a directory's
 * contents, --parents), writing through the image root with in-root symlink
 * resolution. Files keep their mode and mtime, get the --chown owner or 0:0,
 * and --chmod applies to files and directories copied. Hardlinks inside the
 * copied set stay hardlinks (BuildKit keeps them). Directories the copy has
 * to create (the destination and its missing parents) are made 0755 with the
 * --chown owner and the current time, as BuildKit's MkdirAll and buildah do;
 * directories inside a copied tree keep the source's mode and mtime.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "layers/layers.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

unsigned long copy_content_reads;

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *dir; /* destination directory below the root */
	char *name;
};

struct copier {
	const struct copy_opts *o;
	int root;
	struct copy_result *res; /* under res_lock when there is a pool */
	struct copy_pool *pool; /* NULL: copy serially */
	pthread_mutex_t res_lock;
	struct hardlink *hl;
	size_t hl_n, hl_alloc;
	int hint; /* copy_stream()'s, shared: atomic */
	const struct copy_item *item; /* being placed */
	struct strbuf ctxpath; /* scratch: a source's path in the context */
	bool do_chown;
	uid_t uid;
	gid_t gid;
};

static char *join_path(const char *dir, const char *name)
{
	if (!*name)
		return xstrdup(dir);
	return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

/* Add @path (taken) to the result. */
static void record_path(struct copier *c, char *path, bool is_dir, uint64_t bytes)
{
	if (c->pool)
		pthread_mutex_lock(&c->res_lock);
	if (c->res->written)
		strv_push_take(c->res->written, path);
	else
		free(path);
	if (is_dir)
		c->res->n_dirs++;
	else
		c->res->n_files++;
	c->res->bytes += bytes;
	if (c->pool)
		pthread_mutex_unlock(&c->res_lock);
}

static void add_bytes(struct copier *c, uint64_t bytes)
{
	if (c->pool)
		pthread_mutex_lock(&c->res_lock);
	c->res->bytes += bytes;
	if (c->pool)
		pthread_mutex_unlock(&c->res_lock);
}

static void record(struct copier *c, const char *dir, const char *name, bool is_dir)
{
	record_path(c, join_path(dir, name), is_dir, 0);
}

/* A line of the manifest: the content digest of a regular file written or kept. */
static void record_digest(struct copier *c, const char *what, const unsigned char dg[32])
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];

	if (!c->res->manifest || strchr(what, '\n'))
		return;
	memcpy(d.raw, dg, sizeof(d.raw));
	digest_hex(&d, hex);
	if (c->pool)
		pthread_mutex_lock(&c->res_lock);
	strbuf_addf(c->res->manifest, "%s %s\n", hex, what);
	if (c->pool)
		pthread_mutex_unlock(&c->res_lock);
}

/* The content digest of a context file, when the digest pass left it in the stat cache. */
static bool source_digest(struct copier *c, const struct copy_node *n, unsigned char dg[32])
{
	if (!c->o->stat_cache || !c->item || c->item->url || c->item->inl)
		return false;
	copy_node_source_path(&c->ctxpath, c->item, n);
	return copy_stat_cache_get(c->o->stat_cache, c->ctxpath.buf, &n->st, dg);
}

/*
 * The file a clone left at @name (copy_reuse) is what writing @n would give:
 * same content (the caller checked the digests), size, mode, owner and mtime.
 */
static bool same_as_written(struct copier *c, int dir, const char *name, const struct stat *src)
{
	bool keep = c->o->keep_owner && !c->o->chown.set;
	uid_t uid = !c->do_chown ? geteuid() : keep ? src->st_uid : c->uid;
	gid_t gid = !c->do_chown ? getegid() : keep ? src->st_gid : c->gid;
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return false;
	return st.st_size == src->st_size && st.st_uid == uid && st.st_gid == gid &&
	       (st.st_mode & 07777) ==
		       (copy_chmod_apply(&c->o->chmod, src->st_mode, false) & 07777) &&
	       st.st_mtim.tv_sec == src->st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == src->st_mtim.tv_nsec;
}

static int stream(struct copier *c, int src, int dst, const struct stat *st, uint64_t *ret_bytes,
		  struct kiln_error **err)
{
	int hint = __atomic_load_n(&c->hint, __ATOMIC_RELAXED);
	int r = copy_stream(src, dst, (uint64_t)st->st_size, &hint, ret_bytes, err);

	__atomic_store_n(&c->hint, hint, __ATOMIC_RELAXED);
	return r;
}

/* Owner, mode, xattrs and times of a written file or directory. */
static int set_meta(struct copier *c, int fd, int src_fd, const struct stat *st, const char *what,
		    struct kiln_error **err)
{
	struct timespec times[2] = {st->st_mtim, st->st_mtim};
	mode_t mode = copy_chmod_apply(&c->o->chmod, st->st_mode, S_ISDIR(st->st_mode));
	bool keep = c->o->keep_owner && !c->o->chown.set;

	if (c->do_chown && fchown(fd, keep ? st->st_uid : c->uid, keep ? st->st_gid : c->gid) < 0)
		return err_sys(err, errno, "chown '%s'", what);
	if (fchmod(fd, mode) < 0)
		return err_sys(err, errno, "chmod '%s'", what);
	if (src_fd >= 0)
		copy_xattrs(src_fd, fd, what);
	if (futimens(fd, times) < 0)
		return err_sys(err, errno, "set times of '%s'", what);
	return 0;
}

/*
 * Make room for a non-directory called @name: a non-directory there goes, a
 * directory stays and fails the copy, as in BuildKit ("cannot replace to
 * directory ... with file"; buildah and the classic builder replace it).
 */
static int prepare_target(struct copier *c, int dir, const char *name, const char *what,
			  struct kiln_error **err)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(err, errno, "stat '%s'", what);
	/* what the step's last result left there (incremental COPY) is not the image's */
	if (S_ISDIR(st.st_mode) && copy_reuse_cloned(c->o->reuse, what))
		return fs_rm_rf(dir, name, err) < 0 ? err_wrap(err, "replace '/%s'", what) : 0;
	if (S_ISDIR(st.st_mode))
		return err_new(err, KILN_ERR_INPUT, EISDIR,
			       "cannot replace directory '/%s' with a file", what);
	if (unlinkat(dir, name, 0) < 0)
		return err_sys(err, errno, "replace '%s'", what);
	return 0;
}

/* ---- hardlinks inside the copied set ------------------------------------------------- */

static struct hardlink *hl_find(struct copier *c, const struct stat *st)
{
	for (size_t i = 0; i < c->hl_n; i++)
		if (c->hl[i].dev == st->st_dev && c->hl[i].ino == st->st_ino)
			return &c->hl[i];
	return NULL;
}

static void hl_add(struct copier *c, const struct stat *st, const char *dir, const char *name)
{
	ALLOC_GROW(c->hl, c->hl_n + 1, c->hl_alloc);
	c->hl[c->hl_n++] = (struct hardlink){st->st_dev, st->st_ino, xstrdup(dir), xstrdup(name)};
}

static int hl_link(struct copier *c, const struct hardlink *h, int dir, const char *name,
		   const char *what, struct kiln_error **err)
{
	_cleanup_close_ int from = -1;
	int r = copy_dest_dir(c->root, h->dir, false, NULL, &from, NULL, err);

	if (r < 0)
		return r;
	if (linkat(from, h->name, dir, name, 0) < 0)
		return err_sys(err, errno, "link '%s' to '%s/%s'", what, h->dir, h->name);
	return 0;
}

/* ---- non-directories ---------------------------------------------------------------- */

/* Create @name for writing; an existing non-directory there is replaced. */
static int create_file(struct copier *c, int dir, const char *name, const char *what,
		       struct kiln_error **err)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST) {
		int r = prepare_target(c, dir, name, what, err);

		if (r < 0)
			return r;
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return err_sys(err, errno, "create '/%s'", what);
	return fd;
}

/* A regular file for the pool: one new name in a directory only this job writes. */
static int queue_reg(struct copier *c, struct copy_node *n, const char *dirpath, const char *name,
		     const unsigned char *dg, struct kiln_error **err)
{
	struct copy_node *d = n->parent;
	struct copy_job j;

	if (!d->dst_ref) {
		d->src_ref = copy_pool_dref(c->pool, d->fd, NULL);
		d->dst_ref = copy_pool_dref(c->pool, d->dst_fd, d->src_ref);
	}
	j = (struct copy_job){d->src_ref, d->dst_ref, xstrdup(name), join_path(dirpath, name),
			      n->st};
	if (dg) {
		memcpy(j.dg, dg, sizeof(j.dg));
		j.has_dg = true;
	}
	if (copy_pool_submit(c->pool, &j) < 0)
		return copy_pool_drain(c->pool, err);
	return 2; /* recorded by the job */
}

static int run_job(void *ud, const struct copy_job *j, struct kiln_error **err)
{
	struct copier *c = ud;
	_cleanup_close_ int src = openat(j->src->fd, j->name,
					 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	_cleanup_close_ int dst = -1;
	uint64_t bytes = 0;
	int r;

	if (src < 0)
		return err_sys(err, errno, "open source of '/%s'", j->what);
	dst = create_file(c, j->dst->fd, j->name, j->what, err);
	if (dst < 0)
		return dst;
	r = stream(c, src, dst, &j->st, &bytes, err);
	if (r < 0)
		return err_wrap(err, "copy to '/%s'", j->what);
	r = set_meta(c, dst, src, &j->st, j->what, err);
	if (r >= 0 && j->has_dg)
		record_digest(c, j->what, j->dg);
	if (r >= 0)
		record_path(c, xstrdup(j->what), false, bytes);
	return r;
}

static int write_reg(struct copier *c, struct copy_node *n, int dir, const char *dirpath,
		     const char *name, struct kiln_error **err)
{
	_cleanup_free_ char *what = join_path(dirpath, name);
	_cleanup_close_ int src = -1, dst = -1;
	struct hardlink *h = n->st.st_nlink > 1 ? hl_find(c, &n->st) : NULL;
	unsigned char dg[32];
	bool has_dg = source_digest(c, n, dg);
	uint64_t bytes = 0;
	int r;

	if (has_dg && n->st.st_nlink == 1 && copy_reuse_match(c->o->reuse, what, dg) &&
	    same_as_written(c, dir, name, &n->st)) {
		record_digest(c, what, dg);
		record_path(c, TAKE_PTR(what), false, 0);
		c->res->n_reused++; /* the walker's thread: no job touches it */
		return 2;
	}
	if (c->pool && n->parent && !n->parent->serial && n->st.st_nlink == 1)
		return queue_reg(c, n, dirpath, name, has_dg ? dg : NULL, err);
	if (h && streq(h->dir, dirpath) && streq(h->name, name))
		return 0; /* the same file named twice: it is there already */
	if (h) {
		r = prepare_target(c, dir, name, what, err);
		return r < 0 ? r : hl_link(c, h, dir, name, what, err);
	}
	src = copy_node_open(n, err);
	if (src < 0)
		return src;
	dst = create_file(c, dir, name, what, err);
	if (dst < 0)
		return dst;
	r = stream(c, src, dst, &n->st, &bytes, err);
	if (r < 0)
		return err_wrap(err, "copy '%s' to '/%s'", n->rel.len ? n->rel.buf : n->name, what);
	add_bytes(c, bytes);
	r = set_meta(c, dst, src, &n->st, what, err);
	if (r >= 0 && n->st.st_nlink > 1)
		hl_add(c, &n->st, dirpath, name);
	if (r >= 0 && has_dg)
		record_digest(c, what, dg);
	return r;
}

static int set_meta_at(struct copier *c, int dir, const char *name, const struct stat *st,
		       const char *what, struct kiln_error **err)
{
	struct timespec times[2] = {st->st_mtim, st->st_mtim};
	bool keep = c->o->keep_owner && !c->o->chown.set;

	if (c->do_chown && fchownat(dir, name, keep ? st->st_uid : c->uid,
				    keep ? st->st_gid : c->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "chown '/%s'", what);
	if (!S_ISLNK(st->st_mode) &&
	    fchmodat(dir, name, copy_chmod_apply(&c->o->chmod, st->st_mode, false), 0) < 0)
		return err_sys(err, errno, "chmod '/%s'", what);
	if (utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "set times of '/%s'", what);
	return 0;
}

static int write_link(struct copier *c, struct copy_node *n, int dir, const char *dirpath,
		      const char *name, struct kiln_error **err)
{
	_cleanup_free_ char *what = join_path(dirpath, name);
	_cleanup_strbuf_ struct strbuf target = STRBUF_INIT;
	int r = copy_node_readlink(n, &target, err);

	if (r >= 0)
		r = prepare_target(c, dir, name, what, err);
	if (r < 0)
		return r;
	if (symlinkat(target.buf, dir, name) < 0)
		return err_sys(err, errno, "symlink '/%s'", what);
	return set_meta_at(c, dir, name, &n->st, what, err);
}

static int write_special(struct copier *c, struct copy_node *n, int dir, const char *dirpath,
			 const char *name, struct kiln_error **err)
{
	_cleanup_free_ char *what = join_path(dirpath, name);
	int r;

	if (S_ISSOCK(n->st.st_mode)) {
		log_warn("'%s' is a socket, which cannot be copied, ignoring", what);
		return 1;
	}
	r = prepare_target(c, dir, name, what, err);
	if (r < 0)
		return r;
	if (mknodat(dir, name, (n->st.st_mode & S_IFMT) | 0600, n->st.st_rdev) < 0) {
		if (errno != EPERM)
			return err_sys(err, errno, "mknod '/%s'", what);
		log_warn("'%s': creating a device node is not permitted here, ignoring", what);
		return 1;
	}
	return set_meta_at(c, dir, name, &n->st, what, err);
}

static const struct {
	mode_t type;
	int (*fn)(struct copier *c, struct copy_node *n, int dir, const char *dirpath,
		  const char *name, struct kiln_error **err);
} writers[] = {
	{S_IFREG, write_reg},	  {S_IFLNK, write_link},    {S_IFIFO, write_special},
	{S_IFCHR, write_special}, {S_IFBLK, write_special}, {S_IFSOCK, write_special},
};

static int write_node(struct copier *c, struct copy_node *n, int dir, const char *dirpath,
		      const char *name, struct kiln_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(writers); i++) {
		int r;

		if ((n->st.st_mode & S_IFMT) != writers[i].type)
			continue;
		r = writers[i].fn(c, n, dir, dirpath, name, err);
		if (r == 0)
			record(c, dirpath, name, false);
		return r < 0 ? r : 0;
	}
	return err_new(err, KILN_ERR_INPUT, EINVAL, "'%s': unknown file type", n->rel.buf);
}

/* ---- directories (walk callbacks) ---------------------------------------------------- */

/*
 * Something already where a directory goes: a directory is reused; anything
 * else, a symlink to a directory too (/lib -> usr/lib), fails the copy, as in
 * BuildKit ("cannot copy to non-directory"; buildah replaces a symlink, the
 * classic builder writes through it). A reused directory takes the source's
 * owner, mode and times too, as in BuildKit and buildah (and Docker's untar):
 * only the destination directory itself keeps its own.
 */
static int enter_existing(struct copier *c, struct copy_node *n, int dir, const struct stat *st,
			  struct kiln_error **err)
{
	_cleanup_free_ char *path = join_path(n->parent->dst_path, n->name);

	if (!S_ISDIR(st->st_mode) && copy_reuse_cloned(c->o->reuse, path)) {
		/* the step's last result (incremental COPY), not the image */
		if (unlinkat(dir, n->name, 0) < 0)
			return err_sys(err, errno, "replace '/%s'", path);
		return 0;
	}
	if (!S_ISDIR(st->st_mode))
		return err_new(err, KILN_ERR_INPUT, ENOTDIR,
			       "cannot copy to non-directory '/%s' (a %s in the image)", path,
			       S_ISLNK(st->st_mode) ? "symlink" : "file");
	n->dst_fd = openat(dir, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (n->dst_fd < 0)
		return err_sys(err, errno, "open '/%s'", path);
	n->dst_path = TAKE_PTR(path);
	n->dst_meta = true;
	record(c, n->dst_path, "", true);
	return 1;
}

static int cb_enter(void *ud, struct copy_node *n, struct kiln_error **err)
{
	struct copier *c = ud;
	int dir = n->parent->dst_fd;
	struct stat st;
	int r = 0;

	n->serial = n->parent->serial;
	if (fstatat(dir, n->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = enter_existing(c, n, dir, &st, err);
	if (r != 0)
		return r < 0 ? r : 0;
	n->dst_path = join_path(n->parent->dst_path, n->name);
	if (mkdirat(dir, n->name, 0700) < 0)
		return err_sys(err, errno, "mkdir '/%s'", n->dst_path);
	n->dst_fd = openat(dir, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (n->dst_fd < 0)
		return err_sys(err, errno, "open '/%s'", n->dst_path);
	n->dst_meta = true;
	record(c, n->dst_path, "", true);
	return 0;
}

static int cb_leaf(void *ud, struct copy_node *n, struct kiln_error **err)
{
	return write_node(ud, n, n->parent->dst_fd, n->parent->dst_path, n->name, err);
}

/* Hand the walker's references on a directory's shared fds back to the pool. */
static void release_refs(struct copier *c, struct copy_node *n)
{
	if (!n->dst_ref)
		return;
	copy_pool_release(c->pool, n->dst_ref);
	copy_pool_release(c->pool, n->src_ref);
	n->dst_ref = n->src_ref = NULL;
}

static int cb_leave(void *ud, struct copy_node *n, struct kiln_error **err)
{
	struct copier *c = ud;

	if (n->dst_ref) {
		/* files may still be in flight: the last job sets the metadata */
		n->dst_ref->meta = n->dst_meta;
		n->dst_ref->st = n->st;
		n->dst_ref->path = xstrdup(n->dst_path);
		release_refs(c, n);
		return 0;
	}
	if (!n->dst_meta)
		return 0;
	return set_meta(c, n->dst_fd, n->fd, &n->st, n->dst_path, err);
}

static int dir_done(void *ud, struct copy_dref *d, struct kiln_error **err)
{
	return set_meta(ud, d->fd, d->src->fd, &d->st, d->path, err);
}

static const struct copy_pool_ops pool_ops = {run_job, dir_done};

static const struct copy_walk_ops copy_ops = {cb_enter, cb_leaf, cb_leave};

/* ---- placing the items ---------------------------------------------------------------- */

static char *item_dir(const struct copy_plan *p, const struct copy_item *it, bool is_dir)
{
	_cleanup_free_ char *keep = xstrdup(it->keep);
	char *slash = strrchr(keep, '/');

	if (!is_dir)
		*(slash ? slash : keep) = '\0';
	return *keep ? xasprintf("%s/%s", p->dest, keep) : xstrdup(p->dest);
}

static int place_dir(struct copier *c, const struct copy_plan *p, const struct copy_item *it,
		     struct kiln_error **err)
{
	_cleanup_free_ char *path = item_dir(p, it, true);
	struct copy_node root = {.fd = it->fd,
				 .parent_fd = -1,
				 .name = it->name,
				 .rel = STRBUF_INIT,
				 .st = it->st,
				 .dst_fd = -1};
	int r = copy_dest_dir(c->root, path, false, NULL, &root.dst_fd, &root.dst_path, NULL);

	if (r < 0) {
		r = copy_dest_dir(c->root, path, true, &c->o->chown, &root.dst_fd, &root.dst_path,
				  err);
		if (r < 0)
			return r == -ENOTDIR
				       ? err_wrap(err, "cannot copy directory '%s'", it->pattern)
				       : r;
	}
	record(c, root.dst_path, "", true);
	r = copy_walk_item(c->o, it, &root, &copy_ops, c, err);
	release_refs(c, &root);
	close(root.dst_fd);
	free(root.dst_path);
	return r;
}

/* Where a non-directory goes: the directory to create and the name in it. */
static int file_target(struct copier *c, const struct copy_plan *p, const struct copy_item *it,
		       int *ret_dir, char **ret_dirpath, char **ret_name, struct kiln_error **err)
{
	bool into_dir = p->dest_is_dir || streq(p->dest, "/");
	_cleanup_free_ char *dir = NULL;
	char *slash;
	int r;

	*ret_dir = -1;
	/* an existing directory (through symlinks in the image) receives the file */
	if (!into_dir &&
	    copy_dest_dir(c->root, p->dest, false, NULL, ret_dir, ret_dirpath, NULL) >= 0)
		into_dir = true;
	if (into_dir && !*it->name) {
		if (*ret_dir >= 0) {
			close(TAKE_FD(*ret_dir));
			free(TAKE_PTR(*ret_dirpath));
		}
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "cannot tell a file name from '%s': name the destination file",
			       it->pattern);
	}
	if (*ret_dir >= 0) {
		*ret_name = xstrdup(it->name);
		return 0;
	}
	if (into_dir) {
		dir = item_dir(p, it, false);
		*ret_name = xstrdup(it->name);
	} else {
		dir = xstrdup(p->dest);
		slash = strrchr(dir, '/');
		*ret_name = xstrdup(slash + 1);
		slash[slash == dir] = '\0';
	}
	r = copy_dest_dir(c->root, dir, true, &c->o->chown, ret_dir, ret_dirpath, err);
	if (r < 0)
		free(TAKE_PTR(*ret_name));
	return r;
}

static int write_inline(struct copier *c, const struct copy_item *it, int dir, const char *dirpath,
			const char *name, struct kiln_error **err)
{
	_cleanup_free_ char *what = join_path(dirpath, name);
	_cleanup_close_ int fd = -1;
	struct stat st = {.st_mode = S_IFREG | 0644, .st_mtim = c->o->inline_mtime};
	int r;

	if (!st.st_mtim.tv_sec && !st.st_mtim.tv_nsec)
		clock_gettime(CLOCK_REALTIME, &st.st_mtim);
	fd = create_file(c, dir, name, what, err);
	if (fd < 0)
		return fd;
	r = fs_write_all(fd, it->inl->data, it->inl->len, err);
	if (r < 0)
		return err_wrap(err, "write '/%s'", what);
	add_bytes(c, it->inl->len);
	r = set_meta(c, fd, -1, &st, what, err);
	if (r >= 0)
		record(c, dirpath, name, false);
	return r;
}

static int place_file(struct copier *c, const struct copy_plan *p, const struct copy_item *it,
		      struct kiln_error **err)
{
	_cleanup_free_ char *dirpath = NULL, *name = NULL;
	_cleanup_close_ int dir = -1;
	struct copy_node n = {.fd = it->fd,
			      .parent_fd = -1,
			      .name = it->name,
			      .rel = STRBUF_INIT,
			      .st = it->st,
			      .dst_fd = -1};
	int r = file_target(c, p, it, &dir, &dirpath, &name, err);

	if (r < 0)
		return r;
	if (it->inl)
		return write_inline(c, it, dir, dirpath, name, err);
	return write_node(c, &n, dir, dirpath, name, err);
}

static int place_archive(struct copier *c, const struct copy_plan *p, const struct copy_item *it,
			 struct kiln_error **err)
{
	_cleanup_free_ char *path = item_dir(p, it, false), *canon = NULL;
	_cleanup_close_ int dir = -1;
	int r = copy_dest_dir(c->root, path, true, NULL, &dir, &canon, err);

	if (r < 0)
		return r;
	if (lseek(it->fd, 0, SEEK_SET) < 0)
		return err_sys(err, errno, "seek '%s'", it->pattern);
	r = copy_unpack(it->fd, dir, canon, c->res, err);
	return r < 0 ? err_wrap(err, "unpack '%s'", it->pattern) : 0;
}

static int place_url(struct copier *c, const struct copy_plan *p, struct copy_item *it,
		     struct kiln_error **err)
{
	_cleanup_close_ int tmp = -1;
	struct timespec mtime;
	int r = copy_fetch_url(it->url, &tmp, &mtime, err);

	if (r < 0)
		return r;
	if (c->o->checksum && copy_check_checksum(tmp, c->o->checksum, it->url, err) < 0)
		return -EINVAL;
	it->fd = TAKE_FD(tmp);
	if (fstat(it->fd, &it->st) < 0)
		return err_sys(err, errno, "stat download of '%s'", it->url);
	it->st.st_mode = S_IFREG | 0600;
	it->st.st_nlink = 1;
	it->st.st_mtim = mtime;
	return place_file(c, p, it, err);
}

static int place_item(struct copier *c, const struct copy_plan *p, struct copy_item *it,
		      struct kiln_error **err)
{
	c->item = it;
	if (it->url)
		return place_url(c, p, it, err);
	if (c->o->checksum && !it->inl) {
		if (!S_ISREG(it->st.st_mode))
			return err_new(err, KILN_ERR_INPUT, EINVAL,
				       "source '%s': --checksum needs a single file", it->pattern);
		if (copy_check_checksum(it->fd, c->o->checksum, it->pattern, err) < 0)
			return -EINVAL;
	}
	if (it->archive)
		return place_archive(c, p, it, err);
	if (S_ISDIR(it->st.st_mode))
		return place_dir(c, p, it, err);
	return place_file(c, p, it, err);
}

/*
 * Several items (sources written out, or the matches of wildcards) are each
 * written to the destination in turn, as BuildKit does (one fsutil Copy per
 * source, whose prepareTargetDir looks at the destination anew for each
 * match): an existing directory, or a '/', receives them; with nothing there,
 * "COPY *.txt /testdir" or "COPY a b /testdir" makes /testdir a file and each
 * later file replaces it, so the last one stays (buildah does the same for a
 * wildcard); a directory makes it a directory that the later ones go in.
 */
static void mark_existing_dir(struct copier *c, struct copy_plan *p)
{
	_cleanup_close_ int fd = -1;

	if (p->n < 2 || p->dest_is_dir)
		return;
	if (copy_dest_dir(c->root, p->dest, false, NULL, &fd, NULL, NULL) >= 0)
		p->dest_is_dir = true;
}

static unsigned workers(const struct copy_opts *o)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (o->jobs)
		return o->jobs;
	return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

static int place_all(struct copier *c, struct copy_plan *p, struct kiln_error **err)
{
	int r = 0;

	mark_existing_dir(c, p);
	for (size_t i = 0; r >= 0 && i < p->n; i++) {
		r = place_item(c, p, &p->items[i], err);
		/* one item at a time, so a later source overwrites an earlier one */
		if (c->pool) {
			int r2 = copy_pool_drain(c->pool, err);

			r = r < 0 ? r : r2;
		}
	}
	return r;
}

int copy_run(int dest_root, const struct copy_opts *o, struct copy_result *ret,
	     struct kiln_error **err)
{
	struct copy_result local = {0};
	struct copier c = {.o = o,
			   .root = dest_root,
			   .res = ret ? ret : &local,
			   .ctxpath = STRBUF_INIT,
			   .do_chown = geteuid() == 0};
	struct copy_plan p;
	int r = copy_plan_build(o, &p, err);

	if (r < 0)
		return r;
	if (o->chown.set) {
		c.uid = o->chown.uid;
		c.gid = o->chown.gid;
	}
	pthread_mutex_init(&c.res_lock, NULL);
	if (workers(o) > 1)
		c.pool = copy_pool_new(workers(o), &pool_ops, &c);
	r = place_all(&c, &p, err);
	copy_pool_free(c.pool);
	pthread_mutex_destroy(&c.res_lock);
	for (size_t i = 0; i < c.hl_n; i++) {
		free(c.hl[i].dir);
		free(c.hl[i].name);
	}
	free(c.hl);
	strbuf_release(&c.ctxpath);
	copy_plan_release(&p);
	return r;
}
