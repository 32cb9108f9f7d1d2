/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/cache-remote-internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * The build's side of --cache-from and --cache-to: sources are read when the
 * first step misses the store (one read per source and build), a hit's blob
 * is fetched then; each stage notes the entries it used or made, and the
 * export writes those of the exported image (mode=min) or of every stage
 * built (mode=max) once the image is written.
 */

int cache_remote_new(const struct strv *to, const struct strv *from, struct cache_remote **ret,
		     struct kiln_error **err)
{
	struct cache_remote *c;
	int r = 0;

	*ret = NULL;
	if (to->n == 0 && from->n == 0)
		return 0;
	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->from = xcalloc(from->n + 1, sizeof(*c->from));
	c->to = xcalloc(to->n + 1, sizeof(*c->to));
	c->up = xcalloc(to->n + 1, sizeof(*c->up));
	c->up_failed = xcalloc(to->n + 1, sizeof(*c->up_failed));
	for (size_t i = 0; i < from->n && r >= 0; i++)
		if ((r = cache_spec_parse(from->v[i], false, &c->from[i].spec, err)) >= 0)
			c->n_from++;
	for (size_t i = 0; i < to->n && r >= 0; i++)
		if ((r = cache_spec_parse(to->v[i], true, &c->to[i], err)) >= 0)
			c->n_to++;
	if (r < 0) {
		cache_remote_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void cache_remote_free(struct cache_remote *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_from; i++) {
		cache_spec_release(&c->from[i].spec);
		json_decref(c->from[i].records);
		cache_registry_close(c->from[i].conn);
	}
	for (size_t i = 0; i < c->n_to; i++) {
		cache_uploader_free(c->up[i]);
		cache_spec_release(&c->to[i]);
	}
	free(c->up);
	free(c->up_failed);
	strv_clear(&c->mounts);
	json_decref(c->mount_records);
	free(c->from);
	free(c->to);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- --cache-from ---- */

static void load_source(struct build_ctx *b, struct cache_source *src)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	int r;

	src->loaded = true;
	if (src->spec.type == CACHE_IO_LOCAL)
		r = cache_local_read(&src->spec, &src->records, &e);
	else
		r = cache_registry_open(&src->spec, b->opts->registry, &src->conn, &e);
	if (r >= 0 && src->spec.type == CACHE_IO_REGISTRY)
		r = cache_registry_read(src->conn, b->store, &src->records, &e);
	if (r < 0) {
		log_warn("--cache-from %s: %s: not using it", src->spec.text,
			 e ? e->msg : "failed");
		src->records = NULL;
		return;
	}
	build_message(b, "importing cache from %s: %zu entries", src->spec.text,
		      json_object_size(json_object_get(src->records, cache_platform())));
}

/* The entry of @key in @src (loaded on first use), or NULL; a new reference. */
static json_t *source_find(struct build_ctx *b, struct cache_source *src, const char *key)
{
	json_t *e;

	pthread_mutex_lock(&b->remote->lock);
	if (!src->loaded)
		load_source(b, src);
	e = json_incref(json_object_get(json_object_get(src->records, cache_platform()), key));
	pthread_mutex_unlock(&b->remote->lock);
	return e;
}

/* The blob's bytes are compressed as its media type says, and *size is its real size. */
static int check_blob(struct store *s, struct layer_desc *l, struct kiln_error **err)
{
	_cleanup_close_ int fd = store_blob_open(s, &l->digest, err);
	unsigned char m[4] = {0};
	enum layer_compression c = LAYER_NONE;
	uint64_t size = 0;

	if (fd < 0)
		return fd;
	if (pread(fd, m, sizeof(m), 0) < 0)
		return err_sys(err, errno, "read layer");
	if (m[0] == 0x1f && m[1] == 0x8b)
		c = LAYER_GZIP;
	else if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		c = LAYER_ZSTD;
	if (c != l->compression)
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "the layer is %s, its media type says %s", layer_compression_name(c),
			       l->media_type);
	store_blob_exists(s, &l->digest, &size);
	l->size = size;
	return 0;
}

/* Fetch and check @e's layer; a record that is not what it says is a miss. */
static int import_entry(struct build_ctx *b, struct cache_source *src, const struct digest *key,
			json_t *j, struct cache_entry *ret)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	struct cache_entry ce;
	char dg[DIGEST_STR_SIZE];
	int r = cache_entry_from_json(j, &ce, &e);

	if (r >= 0 && ce.has_layer && !store_blob_exists(b->store, &ce.layer.digest, NULL))
		r = src->spec.type == CACHE_IO_LOCAL
			    ? cache_local_fetch(&src->spec, b->store, &ce.layer, &e)
			    : cache_registry_fetch(src->conn, b->store, &ce.layer, &e);
	if (r >= 0 && ce.has_layer)
		r = check_blob(b->store, &ce.layer, &e);
	if (r >= 0 && ce.has_layer)
		r = store_layer_verify(b->store, &ce.layer, &e);
	if (r < 0) {
		log_warn("--cache-from %s: step %s: %s: running the step", src->spec.text,
			 digest_format(key, dg), e ? e->msg : "failed");
		cache_entry_release(&ce);
		return 0;
	}
	if (cache_store(b->store, key, &ce, NULL) < 0)
		log_debug("cannot record an imported cache entry, ignoring");
	*ret = ce;
	return 1;
}

int cache_lookup_shared(struct build_ctx *b, const struct digest *key, struct cache_entry *ret)
{
	char dg[DIGEST_STR_SIZE];
	int r = cache_lookup(b->store, key, ret, NULL);

	if (r != 0 || !b->remote)
		return r < 0 ? 0 : r;
	digest_format(key, dg);
	for (size_t i = 0; i < b->remote->n_from; i++) {
		struct cache_source *src = &b->remote->from[i];
		_cleanup_(json_decrefp) json_t *j = source_find(b, src, dg);

		if (j && import_entry(b, src, key, j, ret) > 0)
			return 1;
	}
	return 0;
}

/* ---- --cache-to ---- */

/* Is stage @s exported with mode=min: the target, or a stage it is built FROM? */
static bool in_target_chain(struct build_ctx *b, const struct stage_state *s)
{
	for (int i = (int)b->target; i >= 0; i = b->stages[i].base_stage)
		if (&b->stages[i] == s)
			return true;
	return false;
}

/* The uploader of --cache-to @i, started on first use (under the lock); NULL if none. */
static struct cache_uploader *uploader(struct build_ctx *b, size_t i)
{
	struct cache_remote *c = b->remote;
	_cleanup_(err_freep) struct kiln_error *e = NULL;

	if (c->up[i] || c->up_failed[i])
		return c->up[i];
	if (cache_uploader_start(&c->to[i], b->opts->registry, b->store, &c->up[i], &e) < 0) {
		log_debug("--cache-to %s: no upload during the build: %s", c->to[i].text,
			  e ? e->msg : "failed");
		c->up_failed[i] = true;
	}
	return c->up[i];
}

void cache_upload_early(struct build_ctx *b, struct stage_state *s, const struct cache_entry *e)
{
	struct cache_remote *c = b->remote;

	if (!c || !e->has_layer)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_to; i++)
		if (c->to[i].type == CACHE_IO_REGISTRY &&
		    (c->to[i].mode_max || in_target_chain(b, s)))
			cache_uploader_add(uploader(b, i), &e->layer);
	pthread_mutex_unlock(&c->lock);
}

void cache_export_note(struct stage_state *s, const struct digest *key, const struct cache_entry *e)
{
	char dg[DIGEST_STR_SIZE];

	if (!s->cache_notes)
		s->cache_notes = json_object();
	json_object_set_new(s->cache_notes, digest_format(key, dg), cache_entry_to_json(e));
}

/* The target and the stages it is built FROM (mode=min), or every stage built (max). */
static json_t *export_records(struct build_ctx *b, bool max)
{
	json_t *keys = json_object();

	if (max) {
		for (size_t i = 0; i < b->n_stages; i++)
			if (b->stages[i].built && b->stages[i].cache_notes)
				json_object_update(keys, b->stages[i].cache_notes);
	} else {
		for (int i = (int)b->target; i >= 0; i = b->stages[i].base_stage)
			if (b->stages[i].cache_notes)
				json_object_update(keys, b->stages[i].cache_notes);
	}
	return json_pack("{s:o}", cache_platform(), keys);
}

/* Keep in @records only the entries with no layer or one of @layers. */
static void keep_image_layers(json_t *records, const struct layer_desc *layers, size_t n)
{
	json_t *keys = json_object_get(records, cache_platform()), *e, *tmp;
	char dg[DIGEST_STR_SIZE];
	const char *key;

	json_object_foreach_safe(keys, tmp, key, e)
	{
		const char *l =
			json_string_value(json_object_get(json_object_get(e, "layer"), "digest"));
		bool found = !l;

		for (size_t i = 0; i < n && !found; i++)
			found = streq(l, digest_format(&layers[i].digest, dg));
		if (!found)
			json_object_del(keys, key);
	}
}

char *cache_inline_annotation(struct build_ctx *b, const struct layer_desc *layers, size_t n)
{
	_cleanup_json_ json_t *records = NULL, *doc = NULL;
	bool inline_to = false;

	for (size_t i = 0; b->remote && i < b->remote->n_to; i++)
		inline_to |= b->remote->to[i].type == CACHE_IO_INLINE;
	if (!inline_to)
		return NULL;
	/* every stage's: a step of another stage whose layer the image holds (a COPY --from
	 * of all it wrote makes the same tar) is kept too */
	records = export_records(b, true);
	keep_image_layers(records, layers, n);
	build_message(b, "writing the inline cache: %zu entries",
		      json_object_size(json_object_get(records, cache_platform())));
	doc = cache_config_new(records);
	return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
}

/* With mounts=true, the records of the cache mounts too (committed once per build). */
static int add_mounts(struct build_ctx *b, const struct cache_io_spec *to, json_t *records,
		      struct kiln_error **err)
{
	int r = 0;

	if (!to->mounts)
		return 0;
	if (!b->remote->mount_records)
		r = cache_mounts_records(b, &b->remote->mount_records, err);
	if (r >= 0)
		cache_records_merge(records, b->remote->mount_records);
	return r;
}

static int export_one(struct build_ctx *b, size_t i, struct kiln_error **err)
{
	const struct cache_io_spec *to = &b->remote->to[i];
	_cleanup_(json_decrefp) json_t *records = export_records(b, to->mode_max);
	int r = add_mounts(b, to, records, err);

	if (r >= 0) {
		build_message(b, "exporting cache to %s: %zu entries", to->text,
			      json_object_size(json_object_get(records, cache_platform())));
		if (to->type == CACHE_IO_LOCAL)
			r = cache_local_write(to, b->store, records, err);
		else
			r = cache_registry_write(to, b->opts->registry, b->store, records,
						 b->remote->up[i], err);
	}
	if (r < 0 && to->ignore_error) {
		log_warn("--cache-to %s: %s (ignore-error=true)", to->text, (*err)->msg);
		err_free(*err);
		*err = NULL;
		return 0;
	}
	return r < 0 ? err_wrap(err, "--cache-to %s", to->text) : 0;
}

int cache_export(struct build_ctx *b, struct kiln_error **err)
{
	int r = 0;

	for (size_t i = 0; b->remote && i < b->remote->n_to && r >= 0; i++)
		if (b->remote->to[i].type != CACHE_IO_INLINE) /* written with the image */
			r = export_one(b, i, err);
	return r;
}
