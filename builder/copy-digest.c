/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy_digest(): the content key of a COPY/ADD, computed before copying by
 * walking exactly what copy_run() would write. Each record is length-framed
 * so that no two different inputs serialise alike. mtimes are left out, as
 * in Docker's cache; the stat cache spares re-reading unchanged files.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/copy-internal.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)

struct linked {
	dev_t dev;
	ino_t ino;
	size_t index; /* which multiply-linked file, in walk order */
};

struct digester {
	const struct copy_opts *o;
	const struct copy_item *item;
	EVP_MD_CTX *ctx;
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
	EVP_DigestUpdate(d->ctx, b, sizeof(b));
}

static void put_bytes(struct digester *d, const void *p, size_t len)
{
	put_u64(d, len);
	EVP_DigestUpdate(d->ctx, p, len);
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
static void fold_xattrs(int fd, unsigned char dg[32])
{
	char names[4096], value[4096];
	char *kept[128];
	size_t n = 0;
	ssize_t len = flistxattr(fd, names, sizeof(names));
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;

	for (char *p = names; len > 0 && p < names + len && n < ARRAY_SIZE(kept);
	     p += strlen(p) + 1)
		if (copy_keep_xattr(p))
			kept[n++] = p;
	if (!n || !(ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		return;
	qsort(kept, n, sizeof(char *), cmp_str);
	EVP_DigestUpdate(ctx, dg, 32);
	for (size_t i = 0; i < n; i++) {
		ssize_t vlen = fgetxattr(fd, kept[i], value, sizeof(value));

		EVP_DigestUpdate(ctx, kept[i], strlen(kept[i]) + 1);
		if (vlen > 0)
			EVP_DigestUpdate(ctx, value, (size_t)vlen);
		EVP_DigestUpdate(ctx, "", 1);
	}
	EVP_DigestFinal_ex(ctx, dg, NULL);
}

/* The digest of a regular file's content and kept xattrs, from the stat cache when fresh. */
static int content_digest(struct digester *d, const struct copy_node *n, unsigned char dg[32],
			  struct kiln_error **err)
{
	int fd, r;

	strbuf_reset(&d->path);
	strbuf_addstr(&d->path, d->item->ctxpath);
	if (d->path.len && n->rel.len)
		strbuf_addch(&d->path, '/');
	strbuf_addstr(&d->path, n->rel.buf);
	if (copy_stat_cache_get(d->o->stat_cache, d->path.buf, &n->st, dg))
		return 0;
	fd = copy_node_open(n, err);
	if (fd < 0)
		return fd;
	copy_content_reads++;
	r = copy_sha256_fd(fd, dg, err);
	if (r >= 0)
		fold_xattrs(fd, dg);
	close(fd);
	if (r < 0)
		return err_wrap(err, "digest '%s'", d->path.buf);
	copy_stat_cache_put(d->o->stat_cache, d->path.buf, &n->st, dg);
	return 0;
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
	unsigned char dg[32];
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
		r = content_digest(d, n, dg, err);
		if (r < 0)
			return r;
		put_u64(d, (uint64_t)n->st.st_size);
		put_bytes(d, dg, sizeof(dg));
		put_u64(d, link_group(d, &n->st));
	} else if (type == S_IFLNK) {
		r = copy_node_readlink(n, &d->link, err);
		if (r < 0)
			return r;
		put_str(d, d->link.buf);
	} else if (type == S_IFCHR || type == S_IFBLK) {
		put_u64(d, n->st.st_rdev);
	} else if (type == S_IFDIR && n->fd >= 0) {
		memset(dg, 0, sizeof(dg));
		fold_xattrs(n->fd, dg);
		put_bytes(d, dg, sizeof(dg));
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
	unsigned char dg[32];
	int r = copy_fetch_url(it->url, &fd, &mtime, err);

	if (r >= 0)
		r = copy_sha256_fd(fd, dg, err);
	if (r < 0)
		return r;
	put_str(d, it->url);
	put_bytes(d, dg, sizeof(dg));
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
	int r;

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
	if (it->archive) {
		unsigned char dg[32];

		r = content_digest(d, &n, dg, err);
		if (r >= 0)
			put_bytes(d, dg, sizeof(dg));
		return r;
	}
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
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct digester d = {.o = o, .ctx = ctx, .path = STRBUF_INIT, .link = STRBUF_INIT};
	struct copy_plan p;
	unsigned char out[32];
	int r;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		return err_new(err, KILN_ERR_SYSTEM, EIO, "sha256 init");
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
	copy_plan_release(&p);
	strbuf_release(&d.path);
	strbuf_release(&d.link);
	free(d.links);
	if (r < 0)
		return r;
	EVP_DigestFinal_ex(ctx, out, NULL);
	for (size_t i = 0; i < 32; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", out[i]);
	return 0;
}
