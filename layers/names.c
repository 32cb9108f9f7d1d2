/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ---- JSON helpers ---- */

const char *json_get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int json_get_digest(const json_t *obj, const char *key, struct digest *ret, struct kiln_error **err)
{
	const char *s = json_get_str(obj, key);

	if (!s)
		return err_at(err, NULL, "descriptor has no '%s' string", key);
	return digest_parse(s, ret, err);
}

char *json_canonical(const json_t *json, size_t *ret_len)
{
	char *s = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	if (!s)
		abort(); /* only on out of memory */
	*ret_len = strlen(s);
	return s;
}

int json_parse_buf(const char *buf, size_t len, const char *what, json_t **ret,
		   struct kiln_error **err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);

	if (!j)
		return err_at(err, NULL, "%s:%d:%d: invalid JSON: %s", what, je.line, je.column,
			      je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return err_at(err, NULL, "%s: expected a JSON object", what);
	}
	*ret = j;
	return 0;
}

/* ---- index.json ---- */

static int index_check(json_t *idx, struct kiln_error **err)
{
	if (!json_is_array(json_object_get(idx, "manifests")))
		return err_at(err, NULL, "index.json: no 'manifests' array");
	return 0;
}

int store_index_read(struct store *s, json_t **ret, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(json_decrefp) json_t *j = NULL;
	int r = strbuf_read_file(&sb, s->dirfds[STORE_DIR_ROOT], "index.json", err);

	if (r < 0)
		return err_wrap(err, "store '%s'", s->root);
	r = json_parse_buf(sb.buf, sb.len, "index.json", &j, err);
	if (r >= 0)
		r = index_check(j, err);
	if (r < 0)
		return err_wrap(err, "store '%s'", s->root);
	*ret = TAKE_PTR(j);
	return 0;
}

int store_index_update(struct store *s,
		       int (*fn)(json_t *index, void *ctx, struct kiln_error **err), void *ctx,
		       struct kiln_error **err)
{
	_cleanup_close_ int lock = fs_lock(s->dirfds[STORE_DIR_ROOT], STORE_LOCK_NAME, false, err);
	_cleanup_(json_decrefp) json_t *idx = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (lock < 0)
		return err_wrap(err, "store '%s'", s->root);
	r = store_index_read(s, &idx, err);
	if (r < 0)
		return r;
	r = fn(idx, ctx, err);
	if (r != 0)
		return r < 0 ? r : 0;
	text = json_canonical(idx, &len);
	r = fs_atomic_write(s->dirfds[STORE_DIR_ROOT], "index.json", text, len, 0644, err);
	if (r < 0)
		return err_wrap(err, "store '%s'", s->root);
	return 0;
}

/* ---- names ---- */

static bool valid_chars(const char *s, size_t n, const char *extra)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(islower(c) || isdigit(c) || strchr(extra, c)))
			return false;
	}
	return true;
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

/* The first path component is a registry host when it has '.', ':' or is localhost. */
static bool valid_repo(const char *repo, size_t n)
{
	const char *slash = memchr(repo, '/', n);

	if (slash) {
		size_t hn = (size_t)(slash - repo);
		bool host = memchr(repo, '.', hn) || memchr(repo, ':', hn) ||
			    (hn == 9 && !memcmp(repo, "localhost", 9));

		if (host) {
			for (size_t i = 0; i < hn; i++)
				if (!isalnum((unsigned char)repo[i]) && !strchr(".-:", repo[i]))
					return false;
			repo = slash + 1;
			n -= hn + 1;
		}
	}
	if (!valid_chars(repo, n, "._-/") || repo[0] == '/' || repo[n - 1] == '/' ||
	    strstr(repo, "//"))
		return false;
	return true;
}

int image_name_normalize(const char *name, char **ret, struct kiln_error **err)
{
	const char *at = strchr(name, '@'), *slash, *colon;
	size_t repo_len = at ? (size_t)(at - name) : strlen(name);
	struct digest d;

	if (at && digest_parse(at + 1, &d, NULL) < 0)
		return err_at(err, NULL, "invalid image name '%s': bad digest after '@'", name);
	slash = memrchr(name, '/', repo_len);
	colon = memrchr(slash ? slash : name, ':', repo_len - (size_t)(slash ? slash - name : 0));
	if (colon) {
		_cleanup_free_ char *tag =
			xstrndup(colon + 1, repo_len - (size_t)(colon + 1 - name));

		if (!valid_tag(tag))
			return err_at(err, NULL, "invalid image name '%s': bad tag '%s'", name,
				      tag);
		repo_len = (size_t)(colon - name);
	}
	if (!valid_repo(name, repo_len))
		return err_at(
			err, NULL,
			"invalid image name '%s': expected [HOST[:PORT]/]NAME[:TAG] in lower case",
			name);
	*ret = (colon || at) ? xstrdup(name) : xasprintf("%s:latest", name);
	return 0;
}

/* ---- listing ---- */

void store_image_refs_free(struct store_image_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(refs[i].name);
		free(refs[i].media_type);
	}
	free(refs);
}

static int ref_from_json(const json_t *e, struct store_image_ref *ref, struct kiln_error **err)
{
	const char *name = json_get_str(json_object_get(e, "annotations"), ANNOTATION_REF_NAME);
	const char *mt = json_get_str(e, "mediaType");
	json_int_t size = json_integer_value(json_object_get(e, "size"));
	int r = json_get_digest(e, "digest", &ref->digest, err);

	if (r < 0)
		return err_wrap(err, "index.json");
	ref->name = name ? xstrdup(name) : NULL;
	ref->media_type = xstrdup(mt ? mt : MEDIA_OCI_MANIFEST);
	ref->size = size > 0 ? (uint64_t)size : 0;
	return 0;
}

int store_list(struct store *s, struct store_image_ref **ret, size_t *ret_n,
	       struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *idx = NULL;
	struct store_image_ref *refs;
	json_t *arr, *e;
	size_t i, n;
	int r = store_index_read(s, &idx, err);

	if (r < 0)
		return r;
	arr = json_object_get(idx, "manifests");
	n = json_array_size(arr);
	refs = xcalloc(n ? n : 1, sizeof(*refs));
	json_array_foreach(arr, i, e) {
		r = ref_from_json(e, &refs[i], err);
		if (r < 0) {
			store_image_refs_free(refs, i);
			return r;
		}
	}
	*ret = refs;
	*ret_n = n;
	return 0;
}

/* ---- tag / untag ---- */

struct tag_ctx {
	const char *name; /* normalised */
	const struct digest *digest;
	uint64_t size;
	const char *media_type;
	bool found;
};

static bool entry_named(const json_t *e, const char *name)
{
	return streq_ptr(json_get_str(json_object_get(e, "annotations"), ANNOTATION_REF_NAME),
			 name);
}

static void remove_named(json_t *arr, const char *name, bool *found)
{
	for (size_t i = json_array_size(arr); i-- > 0;)
		if (entry_named(json_array_get(arr, i), name)) {
			json_array_remove(arr, i);
			*found = true;
		}
}

static int tag_fn(json_t *idx, void *ctx, struct kiln_error **err)
{
	struct tag_ctx *t = ctx;
	json_t *arr = json_object_get(idx, "manifests");
	char d[DIGEST_STR_SIZE];

	remove_named(arr, t->name, &t->found);
	json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", t->media_type,
					     "digest", digest_format(t->digest, d), "size",
					     (json_int_t)t->size, "annotations",
					     ANNOTATION_REF_NAME, t->name));
	return 0;
}

static int manifest_media_type(struct store *s, const struct digest *d, char **ret,
			       struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *m = NULL;
	const char *mt;
	int r = store_blob_read_json(s, d, &m, err);

	if (r < 0)
		return r;
	mt = json_get_str(m, "mediaType");
	if (!mt)
		mt = json_object_get(m, "manifests") ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST;
	*ret = xstrdup(mt);
	return 0;
}

int store_tag(struct store *s, const char *name, const struct digest *manifest,
	      struct kiln_error **err)
{
	_cleanup_free_ char *norm = NULL, *mt = NULL;
	struct tag_ctx t = {.digest = manifest};
	int r = image_name_normalize(name, &norm, err);

	if (r < 0)
		return r;
	if (!store_blob_exists(s, manifest, &t.size)) {
		char d[DIGEST_STR_SIZE];

		return err_new(err, KILN_ERR_INPUT, ENOENT,
			       "tag '%s': no manifest '%s' in the store", norm,
			       digest_format(manifest, d));
	}
	r = manifest_media_type(s, manifest, &mt, err);
	if (r < 0)
		return err_wrap(err, "tag '%s'", norm);
	t.name = norm;
	t.media_type = mt;
	return store_index_update(s, tag_fn, &t, err);
}

static int untag_fn(json_t *idx, void *ctx, struct kiln_error **err)
{
	struct tag_ctx *t = ctx;

	remove_named(json_object_get(idx, "manifests"), t->name, &t->found);
	if (!t->found)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "image '%s' not found", t->name);
	return 0;
}

int store_untag(struct store *s, const char *name, struct kiln_error **err)
{
	_cleanup_free_ char *norm = NULL;
	struct tag_ctx t = {0};
	int r = image_name_normalize(name, &norm, err);

	if (r < 0)
		return r;
	t.name = norm;
	return store_index_update(s, untag_fn, &t, err);
}

static int untag_unnamed_fn(json_t *idx, void *ctx, struct kiln_error **err)
{
	const struct digest *d = ctx;
	json_t *arr = json_object_get(idx, "manifests");
	char want[DIGEST_STR_SIZE];
	bool found = false;

	digest_format(d, want);
	for (size_t i = json_array_size(arr); i-- > 0;) {
		json_t *e = json_array_get(arr, i);

		if (!json_get_str(json_object_get(e, "annotations"), ANNOTATION_REF_NAME) &&
		    streq_ptr(json_get_str(e, "digest"), want)) {
			json_array_remove(arr, i);
			found = true;
		}
	}
	if (!found)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "no unnamed entry '%s'", want);
	return 0;
}

int store_untag_unnamed(struct store *s, const struct digest *manifest, struct kiln_error **err)
{
	return store_index_update(s, untag_unnamed_fn, (void *)manifest, err);
}
