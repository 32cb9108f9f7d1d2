/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/cache-internal.h"
#include "builder/imgcfg-internal.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

void cache_key_begin(struct cache_key *k, const struct digest *parent)
{
	char buf[DIGEST_STR_SIZE];

	k->h = sha256_new();
	cache_key_add(k, "kiln-cache-v1", parent ? digest_format(parent, buf) : "scratch");
}

void cache_key_add(struct cache_key *k, const char *name, const char *value)
{
	char len[32];

	snprintf(len, sizeof(len), " %zu ", strlen(value));
	sha256_update(k->h, name, strlen(name));
	sha256_update(k->h, len, strlen(len));
	sha256_update(k->h, value, strlen(value));
	sha256_update(k->h, "\n", 1);
}

void cache_key_addf(struct cache_key *k, const char *name, const char *fmt, ...)
{
	_cleanup_free_ char *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	v = xvasprintf(fmt, ap);
	va_end(ap);
	cache_key_add(k, name, v);
}

void cache_key_finish(struct cache_key *k, struct digest *ret)
{
	sha256_final(k->h, ret);
	sha256_free(k->h);
	k->h = NULL;
}

int cache_entry_from_json(json_t *j, struct cache_entry *ret, struct kiln_error **err)
{
	json_t *l = json_object_get(j, "layer"), *c = json_object_get(j, "created");
	const char *mt, *dg, *di;
	json_int_t size;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(j))
		return err_new(err, KILN_ERR_INPUT, EINVAL, "malformed cache entry");
	if (json_is_string(c))
		ret->created = xstrdup(json_string_value(c));
	if (json_is_null(l) || !l)
		return 0;
	if (json_unpack(l, "{s:s, s:s, s:s, s:I}", "mediaType", &mt, "digest", &dg, "diff_id", &di,
			"size", &size) < 0)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "malformed cache entry");
	if (digest_parse(dg, &ret->layer.digest, err) < 0 ||
	    digest_parse(di, &ret->layer.diff_id, err) < 0 ||
	    layer_media_type_compression(mt, &ret->layer.compression, err) < 0)
		return err_code(*err);
	ret->layer.media_type = xstrdup(mt);
	ret->layer.size = (uint64_t)size;
	ret->has_layer = true;
	return 0;
}

int cache_lookup(struct store *s, const struct digest *key, struct cache_entry *ret,
		 struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_json_ json_t *j = NULL;
	struct cache_entry e = {0};
	char hex[DIGEST_HEX_LEN + 1];
	int r;

	r = strbuf_read_file(&sb, store_dirfd(s, STORE_DIR_CACHE), digest_hex(key, hex), NULL);
	if (r < 0)
		return 0; /* no entry (or unreadable): a miss */
	j = json_loadb(sb.buf, sb.len, 0, NULL);
	if (!j || cache_entry_from_json(j, &e, NULL) < 0) {
		cache_entry_release(&e);
		return 0; /* a damaged entry is a miss; it will be rewritten */
	}
	if (e.has_layer && !store_blob_exists(s, &e.layer.digest, NULL)) {
		cache_entry_release(&e);
		return 0;
	}
	/* the mtime says when it was last used: kiln prune --keep-storage drops the oldest */
	utimensat(store_dirfd(s, STORE_DIR_CACHE), hex, NULL, 0);
	*ret = e;
	return 1;
}

json_t *cache_entry_to_json(const struct cache_entry *e)
{
	json_t *j = json_object();
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE];

	if (e->has_layer)
		json_object_set_new(j, "layer",
				    json_pack("{s:s, s:s, s:s, s:I}", "mediaType",
					      e->layer.media_type, "digest",
					      digest_format(&e->layer.digest, a), "diff_id",
					      digest_format(&e->layer.diff_id, b), "size",
					      (json_int_t)e->layer.size));
	else
		json_object_set_new(j, "layer", json_null());
	if (e->created)
		json_object_set_new(j, "created", json_string(e->created));
	return j;
}

int cache_store(struct store *s, const struct digest *key, const struct cache_entry *e,
		struct kiln_error **err)
{
	_cleanup_json_ json_t *j = cache_entry_to_json(e);
	_cleanup_free_ char *text = NULL;
	char hex[DIGEST_HEX_LEN + 1];

	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	return fs_atomic_write(store_dirfd(s, STORE_DIR_CACHE), digest_hex(key, hex), text,
			       strlen(text), 0644, err);
}

void cache_entry_release(struct cache_entry *e)
{
	if (e->has_layer)
		layer_desc_release(&e->layer);
	free(e->created);
	memset(e, 0, sizeof(*e));
}
