/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/cache-remote-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* The cache manifest and its config (cache-remote-internal.h has the format). */

const char *cache_platform(void)
{
	static char buf[64];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "linux/%s", image_host_arch());
	return buf;
}

/* Each record must parse as a store entry; a bad one is dropped, not fatal. */
static json_t *valid_records(json_t *in)
{
	json_t *out = json_object(), *keys, *e;
	const char *platform, *key;
	struct digest d;

	json_object_foreach(in, platform, keys) {
		json_t *kept = json_object();

		json_object_foreach(keys, key, e) {
			struct cache_entry ce;

			if (digest_parse(key, &d, NULL) < 0 ||
			    cache_entry_from_json(e, &ce, NULL) < 0) {
				cache_entry_release(&ce);
				continue;
			}
			cache_entry_release(&ce);
			json_object_set(kept, key, e);
		}
		json_object_set_new(out, platform, kept);
	}
	return out;
}

int cache_config_records(json_t *config, json_t **ret, struct kiln_error **err)
{
	json_t *records = json_object_get(config, "records");
	json_int_t version = json_integer_value(json_object_get(config, "schemaVersion"));

	if (!json_is_object(config) || version != 1 || !json_is_object(records))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "not a kiln cache config (schemaVersion 1 with records)");
	*ret = valid_records(records);
	return 0;
}

void cache_records_merge(json_t *into, json_t *from)
{
	const char *platform;
	json_t *keys;

	json_object_foreach(from, platform, keys) {
		json_t *dst = json_object_get(into, platform);

		if (!dst) {
			dst = json_object();
			json_object_set_new(into, platform, dst);
		}
		json_object_update(dst, keys);
	}
}

json_t *cache_config_new(json_t *records)
{
	return json_pack("{s:i, s:O}", "schemaVersion", 1, "records", records);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each distinct layer once, in digest order: a sorted object does both. */
static json_t *layer_set(json_t *records)
{
	json_t *set = json_object(), *keys, *e;
	const char *platform, *key;

	json_object_foreach(records, platform, keys) {
		json_object_foreach(keys, key, e) {
			json_t *l = json_object_get(e, "layer");
			const char *dg = json_string_value(json_object_get(l, "digest"));

			if (dg)
				json_object_set(set, dg, l);
		}
	}
	return set;
}

int cache_records_layers(json_t *records, cache_layer_fn fn, void *userdata,
			 struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *set = layer_set(records);
	const char **keys = xcalloc(json_object_size(set) + 1, sizeof(*keys));
	const char *k;
	json_t *l;
	size_t n = 0;
	int r = 0;

	json_object_foreach(set, k, l)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct cache_entry e;
		_cleanup_(json_decrefp) json_t *wrap =
			json_pack("{s:O}", "layer", json_object_get(set, keys[i]));

		r = cache_entry_from_json(wrap, &e, err);
		if (r >= 0)
			r = fn(userdata, &e.layer, err);
		cache_entry_release(&e);
	}
	free(keys);
	return r;
}

static int add_descriptor(void *userdata, const struct layer_desc *l, struct kiln_error **err)
{
	char dg[DIGEST_STR_SIZE];

	(void)err;
	json_array_append_new(userdata, json_pack("{s:s, s:s, s:I}", "mediaType", l->media_type,
						  "digest", digest_format(&l->digest, dg), "size",
						  (json_int_t)l->size));
	return 0;
}

json_t *cache_manifest_new(json_t *records, const struct digest *config, uint64_t config_size)
{
	json_t *layers = json_array();
	char dg[DIGEST_STR_SIZE];

	cache_records_layers(records, add_descriptor, layers, NULL);
	return json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			 MEDIA_OCI_MANIFEST, "config", "mediaType", KILN_CACHE_CONFIG_TYPE,
			 "digest", digest_format(config, dg), "size", (json_int_t)config_size,
			 "layers", layers);
}

int cache_manifest_config(json_t *manifest, struct digest *ret_digest, uint64_t *ret_size,
			  struct kiln_error **err)
{
	json_t *c = json_object_get(manifest, "config");
	const char *mt = json_string_value(json_object_get(c, "mediaType"));
	const char *dg = json_string_value(json_object_get(c, "digest"));
	json_int_t size = json_integer_value(json_object_get(c, "size"));

	if (!mt || !streq(mt, KILN_CACHE_CONFIG_TYPE) || !dg || size <= 0)
		return err_new(err, KILN_ERR_INPUT, EMEDIUMTYPE,
			       "not a kiln cache: the manifest's config is %s, not %s",
			       mt ? mt : "missing", KILN_CACHE_CONFIG_TYPE);
	if (size > 64 << 20)
		return err_new(err, KILN_ERR_INPUT, EFBIG, "cache config of %lld bytes is too big",
			       (long long)size);
	if (digest_parse(dg, ret_digest, err) < 0)
		return err_code(*err);
	*ret_size = (uint64_t)size;
	return 0;
}
