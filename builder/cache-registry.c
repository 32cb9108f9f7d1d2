/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/cache-remote-internal.h"
#include "builder/imgcfg-internal.h"
#include "registry/registry.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * type=registry: the cache is a manifest under REG/REPO:TAG. Reading costs
 * one manifest GET and one config blob GET; a hit fetches only its layer.
 * Writing skips the blobs the registry has (HEAD), puts the manifest last,
 * and merges with what is there: GET, merge, and before the PUT a HEAD that
 * must still show the manifest merged with (else merge again, once).
 */

struct reg_conn {
	struct registry_ref ref;
	struct registry_client *c;
	const char *tag;
};

static int conn_open(const struct cache_io_spec *spec, const struct registry_opts *o,
		     struct reg_conn *ret, struct kiln_error **err)
{
	struct registry_opts defaults = REGISTRY_OPTS_INIT;
	int r = registry_ref_parse(spec->ref, &ret->ref, err);

	if (r < 0)
		return r;
	if (ret->ref.digest && !ret->ref.tag) {
		registry_ref_release(&ret->ref);
		return err_usage(err, "cache ref '%s': expected a tag, not a digest", spec->ref);
	}
	ret->tag = ret->ref.tag ? ret->ref.tag : "latest";
	r = registry_client_new(ret->ref.domain, o ? o : &defaults, &ret->c, err);
	if (r < 0)
		registry_ref_release(&ret->ref);
	return r;
}

static void conn_close(struct reg_conn *c)
{
	registry_client_free(c->c);
	registry_ref_release(&c->ref);
}

/* A blob into a temp file of the store's tmp/ (digest checked while it streams). */
static int get_blob_fd(struct reg_conn *c, struct store *s, const struct digest *d, uint64_t size,
		       struct kiln_error **err)
{
	int tmp = store_dirfd(s, STORE_DIR_TMP), fd;
	_cleanup_free_ char *name = NULL;
	char dg[DIGEST_STR_SIZE];
	int r;

	fd = fs_mkstemp(tmp, "cache-blob", 0600, &name, err);
	if (fd < 0)
		return fd;
	unlinkat(tmp, name, 0);
	r = registry_blob_get(c->c, c->ref.path, digest_format(d, dg), fd, 0, size, err);
	if (r >= 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = err_sys(err, errno, "seek");
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int get_config(struct reg_conn *c, struct store *s, json_t *manifest, json_t **ret,
		      struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_json_ json_t *config = NULL;
	_cleanup_close_ int fd = -1;
	struct digest d;
	uint64_t size;
	int r = cache_manifest_config(manifest, &d, &size, err);

	if (r < 0)
		return r;
	fd = get_blob_fd(c, s, &d, size, err);
	if (fd < 0)
		return fd;
	if (strbuf_read_fd(&sb, fd, err) < 0)
		return err_code(*err);
	config = json_loadb(sb.buf, sb.len, 0, NULL);
	if (!config)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "the cache config is not JSON");
	return cache_config_records(config, ret, err);
}

/* The inline cache of an image manifest (--cache-to type=inline): its annotation. */
static int inline_records(json_t *manifest, json_t **ret, struct kiln_error **err)
{
	const char *text = json_string_value(
		json_object_get(json_object_get(manifest, "annotations"), KILN_CACHE_ANNOTATION));
	_cleanup_json_ json_t *doc = NULL;

	if (!text)
		return err_new(err, KILN_ERR_INPUT, ENOENT,
			       "an image without an inline cache (no '%s' annotation: was it built "
			       "with --cache-to type=inline?)",
			       KILN_CACHE_ANNOTATION);
	doc = json_loads(text, 0, NULL);
	if (!doc)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "annotation '%s' is not JSON",
			       KILN_CACHE_ANNOTATION);
	return cache_config_records(doc, ret, err);
}

/* For an index, the manifest of our platform instead (one more GET). */
static int platform_manifest(struct reg_conn *c, struct registry_manifest *m,
			     struct kiln_error **err)
{
	_cleanup_free_ char *digest = NULL, *mt = NULL;
	int r;

	if (!streq_ptr(m->media_type, REGISTRY_MT_OCI_INDEX) &&
	    !streq_ptr(m->media_type, REGISTRY_MT_DOCKER_LIST))
		return 0;
	r = registry_select_platform(m->data, m->len, cache_platform(), &digest, &mt, err);
	if (r < 0)
		return r;
	registry_manifest_release(m);
	memset(m, 0, sizeof(*m));
	return registry_manifest_get(c->c, c->ref.path, digest, m, err);
}

/* The records of @manifest: a cache's, or with @allow_inline an image's inline cache. */
static int manifest_records(struct reg_conn *c, struct store *s, json_t *manifest,
			    bool allow_inline, json_t **ret, struct kiln_error **err)
{
	int r = get_config(c, s, manifest, ret, err);

	if (r >= 0 || !allow_inline || (*err)->errnum != EMEDIUMTYPE)
		return r;
	err_free(*err);
	*err = NULL;
	return inline_records(manifest, ret, err);
}

/* The records under the tag (an empty object when there is no such tag); its digest. */
static int read_records(struct reg_conn *c, struct store *s, bool allow_inline, json_t **ret,
			char **ret_digest, struct kiln_error **err)
{
	struct registry_manifest m = {0};
	_cleanup_json_ json_t *manifest = NULL;
	int r = registry_manifest_get(c->c, c->ref.path, c->tag, &m, err);

	if (r < 0 && *err && (*err)->errnum == ENOENT) {
		err_free(*err);
		*err = NULL;
		*ret = json_object();
		*ret_digest = NULL;
		return 0;
	}
	if (r >= 0 && allow_inline)
		r = platform_manifest(c, &m, err);
	if (r < 0) {
		registry_manifest_release(&m);
		return r;
	}
	manifest = json_loadb(m.data, m.len, 0, NULL);
	r = manifest ? manifest_records(c, s, manifest, allow_inline, ret, err)
		     : err_new(err, KILN_ERR_INPUT, EINVAL, "the cache manifest is not JSON");
	if (r >= 0)
		*ret_digest = TAKE_PTR(m.digest);
	registry_manifest_release(&m);
	return r;
}

int cache_registry_open(const struct cache_io_spec *spec, const struct registry_opts *o,
			struct cache_reg_conn **ret, struct kiln_error **err)
{
	struct reg_conn *c = xcalloc(1, sizeof(*c));
	int r = conn_open(spec, o, c, err);

	if (r < 0) {
		free(c);
		return r;
	}
	*ret = (struct cache_reg_conn *)c;
	return 0;
}

void cache_registry_close(struct cache_reg_conn *conn)
{
	if (!conn)
		return;
	conn_close((struct reg_conn *)conn);
	free(conn);
}

int cache_registry_read(struct cache_reg_conn *conn, struct store *s, json_t **ret,
			struct kiln_error **err)
{
	_cleanup_free_ char *digest = NULL;

	return read_records((struct reg_conn *)conn, s, true, ret, &digest, err);
}

int cache_registry_fetch(struct cache_reg_conn *conn, struct store *s, const struct layer_desc *l,
			 struct kiln_error **err)
{
	_cleanup_close_ int fd = get_blob_fd((struct reg_conn *)conn, s, &l->digest, l->size, err);

	if (fd < 0)
		return fd;
	return store_blob_write_fd(s, fd, &l->digest, NULL, NULL, err);
}

/* ---- writing ---- */

/* The layers go up PUSH_THREADS at a time (the client is thread-safe for blobs). */
#define PUSH_THREADS 3

struct push_ctx {
	struct reg_conn *c;
	struct store *s;
	json_t *uploaded; /* may be NULL: digests already sent during the build (read-only) */
	json_t *missing; /* under lock */
	struct layer_desc *layers;
	size_t n, alloc, next; /* next: under lock */
	pthread_mutex_t lock;
	struct kiln_error *err; /* the first failure, under lock */
	int r;
};

static int collect_layer(void *userdata, const struct layer_desc *l, struct kiln_error **err)
{
	struct push_ctx *p = userdata;

	(void)err;
	ALLOC_GROW(p->layers, p->n + 1, p->alloc);
	layer_desc_copy(&p->layers[p->n++], l);
	return 0;
}

static int push_layer(struct push_ctx *p, const struct layer_desc *l, struct kiln_error **err)
{
	_cleanup_close_ int fd = -1;
	char dg[DIGEST_STR_SIZE];
	int r;

	digest_format(&l->digest, dg);
	if (json_object_get(p->uploaded, dg))
		return 0; /* sent while the build went on */
	if (!store_blob_exists(p->s, &l->digest, NULL)) {
		/* another runner's: the registry should have it */
		r = registry_blob_exists(p->c->c, p->c->ref.path, dg, NULL, err);
		if (r == 0) {
			pthread_mutex_lock(&p->lock);
			json_object_set_new(p->missing, dg, json_true());
			pthread_mutex_unlock(&p->lock);
		}
		return r < 0 ? r : 0;
	}
	fd = store_blob_open(p->s, &l->digest, err);
	if (fd < 0)
		return fd;
	r = registry_blob_put(p->c->c, p->c->ref.path, dg, fd, l->size, NULL, err);
	return r < 0 ? r : 0;
}

static void *push_thread(void *arg)
{
	struct push_ctx *p = arg;

	for (;;) {
		struct kiln_error *e = NULL;
		size_t i;
		int r;

		pthread_mutex_lock(&p->lock);
		i = p->err ? p->n : p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->n)
			return NULL;
		r = push_layer(p, &p->layers[i], &e);
		pthread_mutex_lock(&p->lock);
		if (r < 0 && !p->err) {
			p->err = e;
			p->r = r;
			e = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		err_free(e);
	}
}

static int push_layers(struct push_ctx *p, json_t *records, struct kiln_error **err)
{
	pthread_t t[PUSH_THREADS];
	size_t n = 0;

	cache_records_layers(records, collect_layer, p, NULL);
	pthread_mutex_init(&p->lock, NULL);
	for (; n < PUSH_THREADS && n < p->n; n++)
		if (pthread_create(&t[n], NULL, push_thread, p) != 0)
			break;
	if (n == 0)
		push_thread(p);
	for (size_t i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p->lock);
	for (size_t i = 0; i < p->n; i++)
		layer_desc_release(&p->layers[i]);
	free(p->layers);
	if (p->err) {
		*err = p->err;
		return p->r;
	}
	return 0;
}

static void drop_missing(json_t *records, json_t *missing)
{
	const char *platform, *key;
	json_t *keys, *e, *tmp;

	json_object_foreach(records, platform, keys) {
		json_object_foreach_safe(keys, tmp, key, e)
		{
			const char *dg = json_string_value(
				json_object_get(json_object_get(e, "layer"), "digest"));

			if (dg && json_object_get(missing, dg))
				json_object_del(keys, key);
		}
	}
}

static int push_json_blob(struct reg_conn *c, struct store *s, json_t *j, struct digest *ret,
			  uint64_t *ret_size, struct kiln_error **err)
{
	_cleanup_close_ int fd = -1;
	char dg[DIGEST_STR_SIZE];
	int r = store_blob_write_json(s, j, ret, ret_size, err);

	if (r < 0)
		return r;
	fd = store_blob_open(s, ret, err);
	if (fd < 0)
		return fd;
	r = registry_blob_put(c->c, c->ref.path, digest_format(ret, dg), fd, *ret_size, NULL, err);
	return r < 0 ? r : 0;
}

/* Does the manifest of @records have the digest @base (the registry has it all)? */
static bool unchanged(json_t *records, const char *base)
{
	_cleanup_json_ json_t *config = cache_config_new(records), *manifest = NULL;
	_cleanup_free_ char *ctext = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS),
			    *mtext = NULL;
	char dg[DIGEST_STR_SIZE];
	struct digest cd, md;

	digest_buffer(ctext, strlen(ctext), &cd);
	manifest = cache_manifest_new(records, &cd, strlen(ctext));
	mtext = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
	digest_buffer(mtext, strlen(mtext), &md);
	return base && streq(digest_format(&md, dg), base);
}

/* Blobs, config and manifest of @records; the manifest is PUT only when the tag still
 * names @base (1 and nothing written when it moved meanwhile). */
static int push_records(struct reg_conn *c, struct store *s, json_t *records, json_t *uploaded,
			const char *base, bool last, struct kiln_error **err)
{
	_cleanup_json_ json_t *missing = json_object(), *config = NULL, *manifest = NULL;
	struct push_ctx p = {.c = c, .s = s, .uploaded = uploaded, .missing = missing};
	_cleanup_free_ char *text = NULL, *now = NULL;
	struct digest cd;
	uint64_t csize;
	int r = push_layers(&p, records, err);

	if (r < 0)
		return r;
	drop_missing(records, missing);
	config = cache_config_new(records);
	r = push_json_blob(c, s, config, &cd, &csize, err);
	if (r < 0)
		return r;
	manifest = cache_manifest_new(records, &cd, csize);
	text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
	r = registry_manifest_head(c->c, c->ref.path, c->tag, &now, err);
	if (r < 0)
		return r;
	if (!last && !streq_ptr(r > 0 ? now : NULL, base))
		return 1; /* another writer was faster: merge with theirs */
	return registry_manifest_put(c->c, c->ref.path, c->tag, MEDIA_OCI_MANIFEST, text,
				     strlen(text), NULL, err);
}

int cache_registry_write(const struct cache_io_spec *spec, const struct registry_opts *o,
			 struct store *s, json_t *records, struct cache_uploader *up,
			 struct kiln_error **err)
{
	json_t *uploaded = cache_uploader_finish(up);
	struct reg_conn c;
	int r = conn_open(spec, o, &c, err);

	if (r < 0)
		return r;
	for (int attempt = 0; r >= 0 && attempt < 2; attempt++) {
		_cleanup_json_ json_t *merged = NULL;
		_cleanup_free_ char *base = NULL;

		r = read_records(&c, s, false, &merged, &base, err);
		if (r < 0)
			break;
		cache_records_merge(merged, records);
		if (unchanged(merged, base))
			break; /* nothing new: an unchanged re-export is one GET (and the config's)
				*/
		r = push_records(&c, s, merged, uploaded, base, attempt == 1, err);
		if (r == 0)
			break;
		if (r > 0)
			log_info("cache %s changed while it was written: merging again", spec->ref);
	}
	conn_close(&c);
	return r < 0 ? r : 0;
}

/* ---- uploading while the build goes on ---- */

/*
 * A step's blob goes up as soon as it is committed (or taken from the cache), on
 * UPLOAD_THREADS threads of their own, while the next steps run. A failure there is
 * only logged: cache_registry_write() sends, after a HEAD, whatever did not arrive.
 */
#define UPLOAD_THREADS PUSH_THREADS

struct cache_uploader {
	struct reg_conn c;
	struct store *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct layer_desc *queue;
	size_t head, n, alloc; /* queue[head..n) waits */
	json_t *seen; /* digests queued or sent */
	json_t *uploaded; /* digests the registry has (sent, or found by HEAD) */
	bool done;
	pthread_t t[UPLOAD_THREADS];
	size_t n_threads;
};

static void upload_one(struct cache_uploader *u, const struct layer_desc *l)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	_cleanup_close_ int fd = store_blob_open(u->s, &l->digest, &e);
	char dg[DIGEST_STR_SIZE];
	int r = fd;

	digest_format(&l->digest, dg);
	if (fd >= 0)
		r = registry_blob_put(u->c.c, u->c.ref.path, dg, fd, l->size, NULL, &e);
	if (r < 0) {
		log_debug("cache upload of %s: %s; the export sends it", dg, e ? e->msg : "failed");
		return;
	}
	pthread_mutex_lock(&u->lock);
	json_object_set_new(u->uploaded, dg, json_true());
	pthread_mutex_unlock(&u->lock);
}

static void *upload_thread(void *arg)
{
	struct cache_uploader *u = arg;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct layer_desc l;

		while (u->head == u->n && !u->done)
			pthread_cond_wait(&u->cond, &u->lock);
		if (u->head == u->n)
			break;
		l = u->queue[u->head];
		memset(&u->queue[u->head++], 0, sizeof(l));
		pthread_mutex_unlock(&u->lock);
		upload_one(u, &l);
		layer_desc_release(&l);
		pthread_mutex_lock(&u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int cache_uploader_start(const struct cache_io_spec *spec, const struct registry_opts *o,
			 struct store *s, struct cache_uploader **ret, struct kiln_error **err)
{
	struct cache_uploader *u = xcalloc(1, sizeof(*u));
	int r = conn_open(spec, o, &u->c, err);

	if (r < 0) {
		free(u);
		return r;
	}
	u->s = s;
	u->seen = json_object();
	u->uploaded = json_object();
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	for (; u->n_threads < UPLOAD_THREADS; u->n_threads++)
		if (pthread_create(&u->t[u->n_threads], NULL, upload_thread, u) != 0)
			break;
	*ret = u;
	return 0;
}

void cache_uploader_add(struct cache_uploader *u, const struct layer_desc *l)
{
	char dg[DIGEST_STR_SIZE];

	if (!u || u->n_threads == 0)
		return;
	digest_format(&l->digest, dg);
	pthread_mutex_lock(&u->lock);
	if (!u->done && !json_object_get(u->seen, dg)) {
		json_object_set_new(u->seen, dg, json_true());
		ALLOC_GROW(u->queue, u->n + 1, u->alloc);
		layer_desc_copy(&u->queue[u->n++], l);
		pthread_cond_signal(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
}

json_t *cache_uploader_finish(struct cache_uploader *u)
{
	if (!u)
		return NULL;
	pthread_mutex_lock(&u->lock);
	u->done = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	for (size_t i = 0; i < u->n_threads; i++)
		pthread_join(u->t[i], NULL);
	u->n_threads = 0;
	return u->uploaded;
}

void cache_uploader_free(struct cache_uploader *u)
{
	if (!u)
		return;
	/* a failed build does not wait for what is still queued, only for what is sending */
	pthread_mutex_lock(&u->lock);
	for (; u->head < u->n; u->head++)
		layer_desc_release(&u->queue[u->head]);
	pthread_mutex_unlock(&u->lock);
	cache_uploader_finish(u);
	free(u->queue);
	json_decref(u->seen);
	json_decref(u->uploaded);
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	conn_close(&u->c);
	free(u);
}
