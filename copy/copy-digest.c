/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy_digest(): the content key of a COPY/ADD, computed before copying by
 * walking exactly what copy_run() would write. Each record is length-framed
 * so that no two different inputs serialise alike. mtimes are left out, as
 * in Docker's cache; the stat cache spares re-reading unchanged files.
 *
 * The records are gathered in memory and hashed at the end, so the files the
 * stat cache does not know can be read by a few threads meanwhile: each gets
 * a placeholder filled in when its digest is known.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "layers/layers.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct linked {
	dev_t dev;
	ino_t ino;
	size_t index; /* which multiply-linked file, in walk order */
};

/* A file to read for its digest, which goes at @off in the records. */
struct read_job {
	int fd;
	size_t off;
	char *path; /* in the source root, for the stat cache and messages */
	struct stat st;
	struct digest dg;
	struct kiln_error *err;
};

#define READERS_MAX 4
#define QUEUE_MAX   256 /* jobs (open files) waiting for a reader */

struct readers {
	pthread_t threads[READERS_MAX];
	size_t n_threads;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct read_job **queue; /* a ring of QUEUE_MAX */
	size_t head, len;
	bool stop;
};

struct reader_arg {
	struct readers *rd;
	const struct copy_opts *o;
};

struct digester {
	const struct copy_opts *o;
	const struct copy_item *item;
	struct strbuf rec; /* the records, hashed at the end */
	struct read_job **jobs;
	size_t n_jobs, jobs_alloc;
	struct readers *readers; /* started at the first file to read */
	struct reader_arg reader_arg;
	uid_t uid;
	gid_t gid;
	struct strbuf path, link;
	struct linked *links; /* files with several links: copied as hardlinks of each other */
	size_t n_links, links_alloc;
};

static void put_u64(struct digester *d, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_add(&d->rec, b, sizeof(b));
}

static void put_bytes(struct digester *d, const void *p, size_t len)
{
	put_u64(d, len);
	strbuf_add(&d->rec, p, len);
}

static void put_str(struct digester *d, const char *s)
{
	put_bytes(d, s ? s : "", s ? strlen(s) : 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Fold the xattrs copy_run() keeps into @dg: SHA-256(dg, (name, value)...)
 * in name order; @dg is left alone when there are none. A change of xattr
 * changes the ctime, so what the stat cache holds stays right.
 */
static void fold_xattrs(int fd, struct digest *dg)
{
	char names[4096], value[4096];
	char *kept[128];
	size_t n = 0;
	ssize_t len = flistxattr(fd, names, sizeof(names));
	_cleanup_(sha256_freep) struct sha256 *h = NULL;

	for (char *p = names; len > 0 && p < names + len && n < ARRAY_SIZE(kept);
	     p += strlen(p) + 1)
		if (copy_keep_xattr(p))
			kept[n++] = p;
	if (!n)
		return;
	h = sha256_new();
	qsort(kept, n, sizeof(char *), cmp_str);
	sha256_update(h, dg->raw, DIGEST_RAW_LEN);
	for (size_t i = 0; i < n; i++) {
		ssize_t vlen = fgetxattr(fd, kept[i], value, sizeof(value));

		sha256_update(h, kept[i], strlen(kept[i]) + 1);
		if (vlen > 0)
			sha256_update(h, value, (size_t)vlen);
		sha256_update(h, "", 1);
	}
	sha256_final(h, dg);
}

/* Read @j's file for its digest (any thread). */
static void read_job_run(const struct copy_opts *o, struct read_job *j)
{
	int r;

	__atomic_add_fetch(&copy_content_reads, 1, __ATOMIC_RELAXED);
	r = copy_sha256_fd(j->fd, &j->dg, &j->err);
	if (r >= 0)
		fold_xattrs(j->fd, &j->dg);
	close(j->fd);
	j->fd = -1;
	if (r < 0)
		err_wrap(&j->err, "digest '%s'", j->path);
	else
		copy_stat_cache_put(o->stat_cache, j->path, &j->st, j->dg.raw);
}

static void *reader_main(void *arg)
{
	struct reader_arg *a = arg;
	struct readers *rd = a->rd;

	pthread_mutex_lock(&rd->lock);
	for (;;) {
		struct read_job *j;

		while (!rd->len && !rd->stop)
			pthread_cond_wait(&rd->more, &rd->lock);
		if (!rd->len)
			break;
		j = rd->queue[rd->head];
		rd->head = (rd->head + 1) % QUEUE_MAX;
		rd->len--;
		pthread_mutex_unlock(&rd->lock);
		read_job_run(a->o, j);
		pthread_mutex_lock(&rd->lock);
	}
	pthread_mutex_unlock(&rd->lock);
	return NULL;
}

static struct readers *readers_start(const struct copy_opts *o, struct reader_arg *arg)
{
	struct readers *rd = xcalloc(1, sizeof(*rd));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	rd->queue = xcalloc(QUEUE_MAX, sizeof(*rd->queue));
	pthread_mutex_init(&rd->lock, NULL);
	pthread_cond_init(&rd->more, NULL);
	*arg = (struct reader_arg){rd, o};
	for (long i = 0; i < MIN(ncpu, READERS_MAX); i++)
		if (pthread_create(&rd->threads[rd->n_threads], NULL, reader_main, arg) == 0)
			rd->n_threads++;
	return rd;
}

/* Queue @j; with no reader thread, or the queue full, the walker reads it itself. */
static void readers_submit(struct readers *rd, const struct copy_opts *o, struct read_job *j)
{
	pthread_mutex_lock(&rd->lock);
	if (!rd->n_threads || rd->len == QUEUE_MAX) {
		pthread_mutex_unlock(&rd->lock);
		read_job_run(o, j);
		return;
	}
	rd->queue[(rd->head + rd->len) % QUEUE_MAX] = j;
	rd->len++;
	pthread_cond_signal(&rd->more);
	pthread_mutex_unlock(&rd->lock);
}

/* Let the readers finish the queue, then stop them. */
static void readers_stop(struct readers *rd)
{
	if (!rd)
		return;
	pthread_mutex_lock(&rd->lock);
	rd->stop = true;
	pthread_cond_broadcast(&rd->more);
	pthread_mutex_unlock(&rd->lock);
	for (size_t i = 0; i < rd->n_threads; i++)
		pthread_join(rd->threads[i], NULL);
	pthread_mutex_destroy(&rd->lock);
	pthread_cond_destroy(&rd->more);
	free(rd->queue);
	free(rd);
}

/*
 * The digest of a regular file's content and kept xattrs: from the stat cache
 * when fresh, else a placeholder in the records that a reader fills in.
 */
static int put_content_digest(struct digester *d, const struct copy_node *n,
			      struct kiln_error **err)
{
	unsigned char dg[32] = {0};
	struct read_job *j;
	int fd;

	copy_node_source_path(&d->path, d->item, n);
	if (copy_stat_cache_get(d->o->stat_cache, d->path.buf, &n->st, dg)) {
		put_bytes(d, dg, sizeof(dg));
		return 0;
	}
	fd = copy_node_open(n, err);
	if (fd < 0)
		return fd;
	j = xcalloc(1, sizeof(*j));
	*j = (struct read_job){.fd = fd, .path = xstrdup(d->path.buf), .st = n->st};
	put_u64(d, sizeof(dg));
	j->off = d->rec.len;
	strbuf_add(&d->rec, dg, sizeof(dg));
	ALLOC_GROW(d->jobs, d->n_jobs + 1, d->jobs_alloc);
	d->jobs[d->n_jobs++] = j;
	if (!d->readers)
		d->readers = readers_start(d->o, &d->reader_arg);
	readers_submit(d->readers, d->o, j);
	return 0;
}

/* Wait for the readers; fill the placeholders in (the first error in walk order wins). */
static int finish_jobs(struct digester *d, struct kiln_error **err)
{
	int r = 0;

	readers_stop(TAKE_PTR(d->readers));
	for (size_t i = 0; i < d->n_jobs; i++) {
		struct read_job *j = d->jobs[i];

		if (j->err && r == 0) {
			r = err_code(j->err);
			if (err)
				*err = TAKE_PTR(j->err);
		}
		memcpy(d->rec.buf + j->off, j->dg.raw, sizeof(j->dg.raw));
		err_free(j->err);
		free(j->path);
		free(j);
	}
	free(d->jobs);
	d->jobs = NULL;
	d->n_jobs = 0;
	return r;
}

/* Which group of hardlinked files @st belongs to (1-based), so linking changes the key. */
static uint64_t link_group(struct digester *d, const struct stat *st)
{
	if (st->st_nlink < 2)
		return 0;
	for (size_t i = 0; i < d->n_links; i++)
		if (d->links[i].dev == st->st_dev && d->links[i].ino == st->st_ino)
			return d->links[i].index + 1;
	ALLOC_GROW(d->links, d->n_links + 1, d->links_alloc);
	d->links[d->n_links] = (struct linked){st->st_dev, st->st_ino, d->n_links};
	return ++d->n_links;
}

/* One entry: path, type, resulting mode and owner, and what defines its content. */
static int put_node(struct digester *d, const struct copy_node *n, struct kiln_error **err)
{
	mode_t type = n->st.st_mode & S_IFMT;
	struct digest dg;
	int r;

	put_str(d, "E");
	put_str(d, n->rel.buf);
	put_u64(d, type);
	put_u64(d, copy_chmod_apply(&d->o->chmod, n->st.st_mode, type == S_IFDIR));
	if (d->o->keep_owner && !d->o->chown.set) {
		put_u64(d, n->st.st_uid);
		put_u64(d, n->st.st_gid);
	} else {
		put_u64(d, d->uid);
		put_u64(d, d->gid);
	}
	if (type == S_IFREG) {
		put_u64(d, (uint64_t)n->st.st_size);
		r = put_content_digest(d, n, err);
		if (r < 0)
			return r;
		put_u64(d, link_group(d, &n->st));
	} else if (type == S_IFLNK) {
		r = copy_node_readlink(n, &d->link, err);
		if (r < 0)
			return r;
		put_str(d, d->link.buf);
	} else if (type == S_IFCHR || type == S_IFBLK) {
		put_u64(d, n->st.st_rdev);
	} else if (type == S_IFDIR && n->fd >= 0) {
		memset(&dg, 0, sizeof(dg));
		fold_xattrs(n->fd, &dg);
		put_bytes(d, dg.raw, sizeof(dg.raw));
	}
	return 0;
}

static int cb_enter(void *ud, struct copy_node *n, struct kiln_error **err)
{
	return put_node(ud, n, err);
}

static int cb_leave(void *ud, struct copy_node *n, struct kiln_error **err)
{
	return 0;
}

static const struct copy_walk_ops digest_ops = {cb_enter, cb_enter, cb_leave};

static int put_url(struct digester *d, const struct copy_item *it, struct kiln_error **err)
{
	_cleanup_close_ int fd = -1;
	struct timespec mtime;
	struct digest dg;
	int r = copy_fetch_url(it->url, &fd, &mtime, err);

	if (r >= 0)
		r = copy_sha256_fd(fd, &dg, err);
	if (r < 0)
		return r;
	put_str(d, it->url);
	put_bytes(d, dg.raw, sizeof(dg.raw));
	return 0;
}

static int put_item(struct digester *d, const struct copy_item *it, struct kiln_error **err)
{
	struct copy_node n = {.fd = it->fd,
			      .parent_fd = -1,
			      .name = it->name,
			      .rel = STRBUF_INIT,
			      .st = it->st,
			      .dst_fd = -1};

	d->item = it;
	put_str(d, "I");
	put_str(d, it->name);
	put_str(d, it->keep);
	put_u64(d, it->archive);
	if (it->url)
		return put_url(d, it, err);
	if (it->inl) {
		put_u64(d, copy_chmod_apply(&d->o->chmod, 0644, false));
		put_bytes(d, it->inl->data, it->inl->len);
		return 0;
	}
	if (it->archive)
		return put_content_digest(d, &n, err);
	/* a directory source's own metadata never lands in the image: only its contents */
	if (S_ISDIR(it->st.st_mode))
		return copy_walk_item(d->o, it, &n, &digest_ops, d, err);
	return put_node(d, &n, err);
}

static void put_options(struct digester *d, const struct copy_plan *p)
{
	const struct copy_chmod *m = &d->o->chmod;
	bool archives_only = true;

	for (size_t i = 0; i < p->n; i++)
		archives_only &= p->items[i].archive;
	put_str(d, "kiln-copy-v1");
	put_str(d, p->dest);
	put_u64(d, p->dest_is_dir);
	put_u64(d, d->o->parents);
	put_u64(d, d->o->add);
	/* --chown does not apply to unpacked archives, so it must not change their key */
	put_u64(d, d->o->chown.set && !archives_only);
	put_u64(d, archives_only ? 0 : d->uid);
	put_u64(d, archives_only ? 0 : d->gid);
	put_u64(d, m->set);
	put_u64(d, m->set && m->octal);
	put_u64(d, m->set && m->octal ? m->mode : 0);
	for (size_t i = 0; m->set && !m->octal && i < m->n_clauses; i++) {
		put_u64(d, m->clauses[i].who);
		put_u64(d, (uint64_t)m->clauses[i].op);
		put_u64(d, m->clauses[i].perm);
		put_u64(d, m->clauses[i].cond_x);
	}
	put_str(d, d->o->checksum);
	put_u64(d, p->n);
}

int copy_digest(const struct copy_opts *o, char ret_hex[65], struct kiln_error **err)
{
	struct digester d = {.o = o, .rec = STRBUF_INIT, .path = STRBUF_INIT, .link = STRBUF_INIT};
	struct copy_plan p;
	struct digest out;
	int r, r2;

	r = copy_plan_build(o, &p, err);
	if (r < 0)
		return r;
	if (o->chown.set) {
		d.uid = o->chown.uid;
		d.gid = o->chown.gid;
	}
	put_options(&d, &p);
	for (size_t i = 0; r >= 0 && i < p.n; i++)
		r = put_item(&d, &p.items[i], err);
	r2 = finish_jobs(&d, r < 0 ? NULL : err);
	copy_plan_release(&p);
	strbuf_release(&d.path);
	strbuf_release(&d.link);
	free(d.links);
	if (r >= 0 && r2 >= 0) {
		digest_buffer(d.rec.buf, d.rec.len, &out);
		digest_hex(&out, ret_hex);
	}
	strbuf_release(&d.rec);
	return r < 0 ? r : r2;
}
