/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ---- media types ---- */

static const struct {
	const char *name;
	enum layer_compression c;
} compression_names[] = {
	{"gzip", LAYER_GZIP},
	{"zstd", LAYER_ZSTD},
	{"none", LAYER_NONE},
	{"uncompressed", LAYER_NONE},
};

int layer_compression_parse(const char *s, enum layer_compression *ret, struct kiln_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(compression_names); i++)
		if (streq(s, compression_names[i].name)) {
			*ret = compression_names[i].c;
			return 0;
		}
	return err_usage(err, "unknown compression '%s' (expected gzip, zstd or none)", s);
}

const char *layer_compression_name(enum layer_compression c)
{
	return c == LAYER_ZSTD ? "zstd" : c == LAYER_NONE ? "none" : "gzip";
}

static const struct {
	const char *media_type;
	enum layer_compression c;
	enum image_format format;
} layer_types[] = {
	{MEDIA_OCI_LAYER_GZIP, LAYER_GZIP, IMAGE_FORMAT_OCI},
	{MEDIA_OCI_LAYER_ZSTD, LAYER_ZSTD, IMAGE_FORMAT_OCI},
	{MEDIA_OCI_LAYER, LAYER_NONE, IMAGE_FORMAT_OCI},
	{MEDIA_DOCKER_LAYER_GZIP, LAYER_GZIP, IMAGE_FORMAT_DOCKER},
	{MEDIA_DOCKER_LAYER, LAYER_NONE, IMAGE_FORMAT_DOCKER},
	{"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_GZIP,
	 IMAGE_FORMAT_OCI},
	{"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_GZIP,
	 IMAGE_FORMAT_DOCKER},
};

const char *layer_media_type(enum layer_compression c, enum image_format format)
{
	for (size_t i = 0; i < ARRAY_SIZE(layer_types); i++)
		if (layer_types[i].c == c && layer_types[i].format == format)
			return layer_types[i].media_type;
	return MEDIA_OCI_LAYER_ZSTD; /* Docker has no zstd type */
}

int layer_media_type_compression(const char *media_type, enum layer_compression *ret,
				 struct kiln_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(layer_types); i++)
		if (streq(media_type, layer_types[i].media_type)) {
			*ret = layer_types[i].c;
			return 0;
		}
	return err_at(err, NULL, "unsupported layer media type '%s'", media_type);
}

/* ---- layer descriptors ---- */

void layer_desc_release(struct layer_desc *l)
{
	if (!l)
		return;
	free(l->media_type);
	l->media_type = NULL;
}

void layer_desc_copy(struct layer_desc *dst, const struct layer_desc *src)
{
	*dst = *src;
	dst->media_type = src->media_type ? xstrdup(src->media_type) : NULL;
}

/* ---- config ---- */

static const struct {
	const char *uname;
	const char *goarch;
} arch_names[] = {
	{"x86_64", "amd64"},	{"aarch64", "arm64"}, {"armv7l", "arm"},
	{"armv6l", "arm"},	{"i686", "386"},      {"i386", "386"},
	{"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"},
};

const char *image_host_arch(void)
{
	static char arch[65];
	struct utsname u;

	if (arch[0])
		return arch;
	if (uname(&u) < 0)
		return "amd64";
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (streq(u.machine, arch_names[i].uname)) {
			snprintf(arch, sizeof(arch), "%s", arch_names[i].goarch);
			return arch;
		}
	snprintf(arch, sizeof(arch), "%s", u.machine);
	return arch;
}

json_t *image_config_new(void)
{
	return json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", image_host_arch(),
			 "os", "linux", "config", "rootfs", "type", "layers", "diff_ids",
			 "history");
}

void image_config_add_history(json_t *config, const char *created, const char *created_by,
			      bool empty_layer)
{
	json_t *h = json_object_get(config, "history"), *e = json_object();

	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(config, "history", h);
	}
	if (created)
		json_object_set_new(e, "created", json_string(created));
	if (created_by)
		json_object_set_new(e, "created_by", json_string(created_by));
	if (empty_layer)
		json_object_set_new(e, "empty_layer", json_true());
	json_array_append_new(h, e);
}

/* ---- reading ---- */

void image_free(struct image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->n_layers; i++)
		layer_desc_release(&img->layers[i]);
	free(img->layers);
	free(img->manifest_media_type);
	json_decref(img->manifest);
	json_decref(img->config);
	free(img);
}

static bool is_index(const json_t *m)
{
	const char *mt = json_get_str(m, "mediaType");

	if (mt)
		return streq(mt, MEDIA_OCI_INDEX) || streq(mt, MEDIA_DOCKER_LIST);
	return json_is_array(json_object_get(m, "manifests"));
}

/*
 * From an image index, the manifest for @want; with @want NULL, for this
 * machine's platform, or the only one there is.
 */
int image_index_pick(const json_t *idx, const struct platform *want, struct digest *ret,
		     struct kiln_error **err)
{
	json_t *arr = json_object_get(idx, "manifests"), *e;
	_cleanup_free_ char *have = NULL;
	char buf[PLATFORM_STR_SIZE];
	struct platform host;
	size_t i;

	platform_host(&host);
	json_array_foreach(arr, i, e) {
		json_t *p = json_object_get(e, "platform");

		if ((!want && json_array_size(arr) == 1) ||
		    platform_matches_json(p, want ? want : &host))
			return json_get_digest(e, "digest", ret, err);
	}
	have = platform_list_json(arr);
	return err_new(err, KILN_ERR_INPUT, ENOENT,
		       "image index has no manifest for %s (it has: %s)",
		       platform_format(want ? want : &host, buf), *have ? have : "nothing");
}

static int read_layers(struct image *img, struct kiln_error **err)
{
	json_t *layers = json_object_get(img->manifest, "layers"), *e;
	json_t *diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	size_t i;
	int r;

	if (!json_is_array(layers) || json_array_size(layers) != json_array_size(diff_ids))
		return err_at(err, NULL, "manifest has %zu layers but config has %zu diff_ids",
			      json_array_size(layers), json_array_size(diff_ids));
	img->layers = xcalloc(json_array_size(layers) + 1, sizeof(*img->layers));
	json_array_foreach(layers, i, e) {
		struct layer_desc *l = &img->layers[i];
		const char *mt = json_get_str(e, "mediaType");

		img->n_layers = i + 1;
		l->media_type = xstrdup(mt ? mt : "");
		r = layer_media_type_compression(l->media_type, &l->compression, err);
		if (r >= 0)
			r = json_get_digest(e, "digest", &l->digest, err);
		if (r >= 0)
			r = digest_parse(json_string_value(json_array_get(diff_ids, i)),
					 &l->diff_id, err);
		if (r < 0)
			return err_wrap(err, "layer %zu", i + 1);
		l->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	}
	return 0;
}

static int image_load(struct store *s, struct image *img, const struct platform *want,
		      struct kiln_error **err)
{
	const char *mt;
	char buf[DIGEST_STR_SIZE];
	int r = store_blob_read_json(s, &img->manifest_digest, &img->manifest, err);

	if (r < 0)
		return r;
	if (is_index(img->manifest)) {
		r = image_index_pick(img->manifest, want, &img->manifest_digest, err);
		json_decref(TAKE_PTR(img->manifest));
		if (r >= 0 && !store_blob_exists(s, &img->manifest_digest, NULL))
			return err_new(err, KILN_ERR_INPUT, ENOENT,
				       "the index's manifest '%s' for this platform is not stored",
				       digest_format(&img->manifest_digest, buf));
		if (r >= 0)
			r = store_blob_read_json(s, &img->manifest_digest, &img->manifest, err);
		if (r < 0)
			return r;
	}
	store_blob_exists(s, &img->manifest_digest, &img->manifest_size);
	mt = json_get_str(img->manifest, "mediaType");
	img->manifest_media_type = xstrdup(mt ? mt : MEDIA_OCI_MANIFEST);
	r = json_get_digest(json_object_get(img->manifest, "config"), "digest", &img->config_digest,
			    err);
	if (r >= 0)
		r = store_blob_read_json(s, &img->config_digest, &img->config, err);
	if (r < 0)
		return err_wrap(err, "config");
	return read_layers(img, err);
}

int image_read_platform(struct store *s, const struct digest *manifest,
			const struct platform *platform, struct image **ret,
			struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = xcalloc(1, sizeof(*img));
	char d[DIGEST_STR_SIZE];
	int r;

	img->manifest_digest = *manifest;
	r = image_load(s, img, platform, err);
	if (r < 0)
		return err_wrap(err, "image '%s'", digest_format(manifest, d));
	*ret = TAKE_PTR(img);
	return 0;
}

int image_read(struct store *s, const struct digest *manifest, struct image **ret,
	       struct kiln_error **err)
{
	return image_read_platform(s, manifest, NULL, ret, err);
}

bool image_is_index(struct store *s, const struct digest *d, json_t **ret_json)
{
	_cleanup_(json_decrefp) json_t *j = NULL;

	if (store_blob_read_json(s, d, &j, NULL) < 0 || !is_index(j))
		return false;
	if (ret_json)
		*ret_json = TAKE_PTR(j);
	return true;
}

/* ---- resolving names and IDs ---- */

static bool is_hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 4 || n > DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* Does the manifest (or its config, the image ID) start with @prefix? */
static bool ref_matches(struct store *s, const struct store_image_ref *ref, const char *prefix,
			struct digest *ret)
{
	_cleanup_(image_freep) struct image *img = NULL;
	char hex[DIGEST_HEX_LEN + 1];

	if (startswith(digest_hex(&ref->digest, hex), prefix)) {
		*ret = ref->digest;
		return true;
	}
	if (image_read(s, &ref->digest, &img, NULL) < 0)
		return false;
	if (!startswith(digest_hex(&img->config_digest, hex), prefix))
		return false;
	*ret = ref->digest;
	return true;
}

static int resolve_prefix(struct store *s, const char *what, const char *prefix,
			  struct store_image_ref *refs, size_t n, struct digest *ret,
			  struct kiln_error **err)
{
	struct digest found, d;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!ref_matches(s, &refs[i], prefix, &d))
			continue;
		if (any && !digest_eq(&d, &found))
			return err_new(err, KILN_ERR_INPUT, EINVAL,
				       "image ID prefix '%s' is ambiguous", what);
		found = d;
		any = true;
	}
	if (!any)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "image '%s' not found", what);
	*ret = found;
	return 0;
}

int store_resolve(struct store *s, const char *what, struct digest *ret_manifest,
		  struct kiln_error **err)
{
	struct store_image_ref *refs = NULL;
	_cleanup_free_ char *norm = NULL;
	const char *hex = startswith(what, "sha256:");
	struct digest d;
	size_t n = 0;
	int r;

	if (hex && digest_parse(what, &d, NULL) >= 0 && store_blob_exists(s, &d, NULL)) {
		*ret_manifest = d;
		return 0;
	}
	r = store_list(s, &refs, &n, err);
	if (r < 0)
		return r;
	if (!hex && image_name_normalize(what, &norm, NULL) >= 0)
		for (size_t i = n; i-- > 0;)
			if (streq_ptr(refs[i].name, norm)) {
				*ret_manifest = refs[i].digest;
				store_image_refs_free(refs, n);
				return 0;
			}
	if (is_hex_prefix(hex ? hex : what))
		r = resolve_prefix(s, what, hex ? hex : what, refs, n, ret_manifest, err);
	else
		r = err_new(err, KILN_ERR_INPUT, ENOENT, "image '%s' not found", what);
	store_image_refs_free(refs, n);
	return r;
}

int image_read_named(struct store *s, const char *what, struct image **ret, struct kiln_error **err)
{
	struct digest d;
	int r = store_resolve(s, what, &d, err);

	if (r < 0)
		return r;
	r = image_read(s, &d, ret, err);
	if (r < 0)
		return err_wrap(err, "'%s'", what);
	return 0;
}

/* ---- writing ---- */

static json_t *descriptor(const char *mt, const struct digest *d, uint64_t size)
{
	char buf[DIGEST_STR_SIZE];

	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest_format(d, buf),
			 "size", (json_int_t)size);
}

static int layers_json(struct store *s, const struct layer_desc *l, size_t n,
		       enum image_format format, json_t *layers, struct kiln_error **err)
{
	char buf[DIGEST_STR_SIZE];

	for (size_t i = 0; i < n; i++) {
		uint64_t size;

		if (!store_blob_exists(s, &l[i].digest, &size))
			return err_new(err, KILN_ERR_INTERNAL, ENOENT,
				       "layer %zu: blob '%s' is not in the store", i + 1,
				       digest_format(&l[i].digest, buf));
		json_array_append_new(layers, descriptor(layer_media_type(l[i].compression, format),
							 &l[i].digest, size));
	}
	return 0;
}

int image_write_manifest(struct store *s, const struct digest *config, uint64_t config_size,
			 const struct layer_desc *layers, size_t n_layers, enum image_format format,
			 json_t *annotations, struct digest *ret_manifest, struct kiln_error **err)
{
	bool docker = format == IMAGE_FORMAT_DOCKER;
	_cleanup_(json_decrefp) json_t *arr = json_array(), *manifest = NULL;
	int r = layers_json(s, layers, n_layers, format, arr, err);

	if (r < 0)
		return r;
	manifest = json_pack(
		"{s:i, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType",
		docker ? MEDIA_DOCKER_MANIFEST : MEDIA_OCI_MANIFEST, "config",
		descriptor(docker ? MEDIA_DOCKER_CONFIG : MEDIA_OCI_CONFIG, config, config_size),
		"layers", arr);
	if (annotations && json_object_size(annotations) && !docker)
		json_object_set(manifest, "annotations", annotations);
	return store_blob_write_json(s, manifest, ret_manifest, NULL, err);
}

int image_write_index(struct store *s, const struct digest *manifests,
		      const struct platform *platforms, size_t n, json_t *annotations,
		      struct digest *ret_index, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *arr = json_array(), *idx = NULL;

	for (size_t i = 0; i < n; i++) {
		uint64_t size;
		json_t *d, *p = json_object();
		char buf[DIGEST_STR_SIZE];

		if (!store_blob_exists(s, &manifests[i], &size)) {
			json_decref(p);
			return err_new(err, KILN_ERR_INTERNAL, ENOENT,
				       "manifest '%s' is not in the store",
				       digest_format(&manifests[i], buf));
		}
		_cleanup_(json_decrefp) json_t *m = NULL;
		const char *mt = NULL;

		if (store_blob_read_json(s, &manifests[i], &m, NULL) >= 0)
			mt = json_get_str(m, "mediaType");
		d = descriptor(mt ? mt : MEDIA_OCI_MANIFEST, &manifests[i], size);
		platform_to_json(&platforms[i], p);
		json_object_set_new(d, "platform", p);
		json_array_append_new(arr, d);
	}
	idx = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", MEDIA_OCI_INDEX,
			"manifests", arr);
	if (annotations && json_object_size(annotations))
		json_object_set(idx, "annotations", annotations);
	return store_blob_write_json(s, idx, ret_index, NULL, err);
}

int image_write(struct store *s, const struct image_spec *spec, struct digest *ret_manifest,
		struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *config = json_deep_copy(spec->config);
	json_t *diff_ids = json_array();
	char buf[DIGEST_STR_SIZE];
	struct digest config_digest;
	uint64_t config_size;
	int r;

	if (!json_is_object(config)) {
		json_decref(diff_ids);
		return err_new(err, KILN_ERR_INTERNAL, EINVAL, "image config is not an object");
	}
	for (size_t i = 0; i < spec->n_layers; i++)
		json_array_append_new(diff_ids,
				      json_string(digest_format(&spec->layers[i].diff_id, buf)));
	json_object_set_new(config, "rootfs",
			    json_pack("{s:s, s:o}", "type", "layers", "diff_ids", diff_ids));
	r = store_blob_write_json(s, config, &config_digest, &config_size, err);
	if (r >= 0)
		r = image_write_manifest(s, &config_digest, config_size, spec->layers,
					 spec->n_layers, spec->format, spec->annotations,
					 ret_manifest, err);
	return r < 0 ? err_wrap(err, "write image") : 0;
}
