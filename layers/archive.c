/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images in and out of the store: OCI layout directories, oci-archive (a tar
 * of a layout) and docker-archive (`docker save`'s manifest.json format).
 * Archives are first extracted into tmp/ with layers_apply (so a hostile
 * archive gets the same protection as a layer), then read as directories.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static int read_json_in(int dfd, const char *path, json_t **ret, bool any, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_close_ int fd = fs_open_in(dfd, path, O_RDONLY, 0, FS_BENEATH, err);
	json_error_t je;
	int r;

	if (fd < 0)
		return fd;
	r = strbuf_read_fd(&sb, fd, err);
	if (r < 0)
		return err_wrap(err, "'%s'", path);
	if (!any)
		return json_parse_buf(sb.buf, sb.len, path, ret, err);
	*ret = json_loadb(sb.buf, sb.len, 0, &je);
	if (!*ret)
		return err_at(err, NULL, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column,
			      je.text);
	return 0;
}

/* Copy blob @d from the layout @srcfd into the store, verifying it. */
static int copy_blob(struct store *s, int srcfd, const struct digest *d, struct kiln_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	_cleanup_free_ char *path = xasprintf("blobs/sha256/%s", digest_hex(d, hex));
	_cleanup_close_ int fd = -1;
	int r;

	if (store_blob_exists(s, d, NULL))
		return 0;
	fd = fs_open_in(srcfd, path, O_RDONLY, 0, FS_BENEATH, err);
	if (fd < 0)
		return fd;
	r = store_blob_write_fd(s, fd, d, NULL, NULL, err);
	return r < 0 ? err_wrap(err, "'%s'", path) : 0;
}

static int copy_desc(struct store *s, int srcfd, const json_t *desc, struct kiln_error **err)
{
	struct digest d;
	int r = json_get_digest(desc, "digest", &d, err);

	return r < 0 ? r : copy_blob(s, srcfd, &d, err);
}

/* Copy one manifest and its blobs; an index with every manifest it lists (not nested). */
static int copy_image(struct store *s, int srcfd, struct digest *d, bool nested,
		      struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *m = NULL;
	json_t *e;
	size_t i;
	int r = copy_blob(s, srcfd, d, err);

	if (r >= 0)
		r = store_blob_read_json(s, d, &m, err);
	if (r < 0)
		return r;
	if (json_is_array(json_object_get(m, "manifests"))) {
		if (nested)
			return err_at(err, NULL, "an image index inside an image index");
		json_array_foreach(json_object_get(m, "manifests"), i, e) {
			struct digest child;

			r = json_get_digest(e, "digest", &child, err);
			if (r >= 0)
				r = copy_image(s, srcfd, &child, true, err);
			if (r < 0)
				return err_wrap(err, "the index's manifest %zu", i + 1);
		}
		return 0;
	}
	r = copy_desc(s, srcfd, json_object_get(m, "config"), err);
	json_array_foreach(json_object_get(m, "layers"), i, e)
		if (r >= 0)
			r = copy_desc(s, srcfd, e, err);
	return r;
}

/* The store name for an image pulled from a layout without an explicit name. */
static char *default_name(const char *path, const char *ref)
{
	_cleanup_free_ char *base = NULL;
	const char *slash;
	size_t n;

	if (ref && strchr(ref, ':'))
		return xstrdup(ref);
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	slash = memrchr(path, '/', n);
	base = slash ? xstrndup(slash + 1, n - (size_t)(slash + 1 - path)) : xstrndup(path, n);
	for (char *p = base; *p; p++)
		*p = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	return ref ? xasprintf("%s:%s", base, ref) : xstrdup(base);
}

static int pull_one(struct store *s, int srcfd, const json_t *entry, const char *path,
		    const char *name, struct digest *ret, struct kiln_error **err)
{
	const char *ref = json_get_str(json_object_get(entry, "annotations"), ANNOTATION_REF_NAME);
	_cleanup_free_ char *n = name ? xstrdup(name) : default_name(path, ref);
	struct digest d;
	int r = json_get_digest(entry, "digest", &d, err);

	if (r >= 0)
		r = copy_image(s, srcfd, &d, false, err);
	if (r >= 0)
		r = store_tag(s, n, &d, err);
	if (r < 0)
		return err_wrap(err, "image '%s'", ref ? ref : n);
	if (ret)
		*ret = d;
	return 0;
}

/* From a layout directory: the entry named @tag, or every named entry when @tag is NULL. */
static int pull_layout(struct store *s, int srcfd, const char *path, const char *tag,
		       const char *name, struct digest *ret, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *idx = NULL;
	json_t *arr, *e;
	size_t i, found = 0;
	int r = read_json_in(srcfd, "index.json", &idx, false, err);

	if (r < 0)
		return r;
	arr = json_object_get(idx, "manifests");
	json_array_foreach(arr, i, e) {
		const char *ref =
			json_get_str(json_object_get(e, "annotations"), ANNOTATION_REF_NAME);

		if (tag ? !streq_ptr(ref, tag) : (json_array_size(arr) > 1 && !ref))
			continue;
		r = pull_one(s, srcfd, e, path, name, ret, err);
		if (r < 0)
			return r;
		found++;
	}
	if (!found)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "no image%s%s%s in '%s'",
			       tag ? " '" : "", tag ? tag : "", tag ? "'" : "", path);
	return 0;
}

/* The entry of @idx for @tag (NULL: the only one, else the one named "latest"). */
static int layout_entry(json_t *idx, const char *path, const char *tag, struct digest *ret,
			struct kiln_error **err)
{
	json_t *arr = json_object_get(idx, "manifests"), *e, *only = NULL;
	const char *want = tag ? tag : "latest";
	size_t i;

	if (!tag && json_array_size(arr) == 1)
		only = json_array_get(arr, 0);
	json_array_foreach(arr, i, e) {
		const char *ref =
			json_get_str(json_object_get(e, "annotations"), ANNOTATION_REF_NAME);

		if (!only && streq_ptr(ref, want))
			only = e;
	}
	if (!only)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "no image '%s' in '%s'", want, path);
	return json_get_digest(only, "digest", ret, err);
}

int store_copy_layout_image(struct store *s, const char *path, const char *tag,
			    const struct digest *digest, struct digest *ret_manifest,
			    struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *idx = NULL;
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct digest d;
	int r;

	if (dfd < 0)
		return err_sys(err, errno, "open layout '%s'", path);
	if (digest) {
		d = *digest;
	} else {
		r = read_json_in(dfd, "index.json", &idx, false, err);
		if (r >= 0)
			r = layout_entry(idx, path, tag, &d, err);
		if (r < 0)
			return r;
	}
	r = copy_image(s, dfd, &d, false, err);
	if (r < 0)
		return err_wrap(err, "layout '%s'", path);
	*ret_manifest = d;
	return 0;
}

/* ---- docker-archive ---- */

static int docker_layer(struct store *s, int dfd, const char *path, const json_t *diff_id,
			struct layer_desc *l, struct kiln_error **err)
{
	_cleanup_close_ int fd = fs_open_in(dfd, path, O_RDONLY, 0, FS_BENEATH, err);
	unsigned char magic[4] = {0};
	int r;

	if (fd < 0)
		return fd;
	if (pread(fd, magic, sizeof(magic), 0) < 0)
		return err_sys(err, errno, "read '%s'", path);
	r = store_blob_write_fd(s, fd, NULL, &l->digest, &l->size, err);
	if (r < 0)
		return err_wrap(err, "'%s'", path);
	l->compression = magic[0] == 0x1f && magic[1] == 0x8b			    ? LAYER_GZIP
			 : magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f ? LAYER_ZSTD
										    : LAYER_NONE;
	if (digest_parse(json_string_value(diff_id), &l->diff_id, err) < 0)
		return err_wrap(err, "'%s': config diff_ids", path);
	if (l->compression == LAYER_NONE && !digest_eq(&l->diff_id, &l->digest))
		return err_at(err, NULL, "'%s' does not match the config's diff_id", path);
	return 0;
}

static int docker_image(struct store *s, int dfd, const json_t *item, const char *name,
			struct digest *ret, struct kiln_error **err)
{
	const char *cpath = json_get_str(item, "Config");
	json_t *layers = json_object_get(item, "Layers"), *tags = json_object_get(item, "RepoTags");
	_cleanup_(json_decrefp) json_t *config = NULL;
	_cleanup_close_ int cfd = -1;
	struct layer_desc *l = NULL;
	struct digest cd, md;
	uint64_t csize;
	size_t i, n = json_array_size(layers);
	int r;

	if (!cpath || !json_is_array(layers))
		return err_at(err, NULL, "manifest.json: an entry lacks Config or Layers");
	cfd = fs_open_in(dfd, cpath, O_RDONLY, 0, FS_BENEATH, err);
	if (cfd < 0)
		return cfd;
	r = store_blob_write_fd(s, cfd, NULL, &cd, &csize, err);
	if (r >= 0)
		r = store_blob_read_json(s, &cd, &config, err);
	if (r < 0)
		return r;
	l = xcalloc(n + 1, sizeof(*l));
	for (i = 0; i < n && r >= 0; i++)
		r = docker_layer(
			s, dfd, json_string_value(json_array_get(layers, i)),
			json_array_get(
				json_object_get(json_object_get(config, "rootfs"), "diff_ids"), i),
			&l[i], err);
	if (r >= 0)
		r = image_write_manifest(s, &cd, csize, l, n, IMAGE_FORMAT_OCI, NULL, &md, err);
	free(l);
	if (r >= 0 && name)
		r = store_tag(s, name, &md, err);
	json_array_foreach(tags, i, item)
		if (r >= 0 && !name && json_string_value(item))
			r = store_tag(s, json_string_value(item), &md, err);
	if (r >= 0 && ret)
		*ret = md;
	return r;
}

static int pull_docker(struct store *s, int dfd, const char *tag, const char *name,
		       struct digest *ret, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *m = NULL;
	json_t *item;
	size_t i, found = 0;
	int r = read_json_in(dfd, "manifest.json", &m, true, err);

	if (r < 0)
		return r;
	if (!json_is_array(m))
		return err_at(err, NULL, "manifest.json: expected an array");
	json_array_foreach(m, i, item) {
		bool match = !tag;
		json_t *t;
		size_t j;

		json_array_foreach(json_object_get(item, "RepoTags"), j, t)
			match = match || streq_ptr(json_string_value(t), tag);
		if (!match)
			continue;
		r = docker_image(s, dfd, item, name, ret, err);
		if (r < 0)
			return err_wrap(err, "docker-archive image %zu", i + 1);
		found++;
	}
	if (!found)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "no image '%s' in the archive",
			       tag ? tag : "");
	return 0;
}

/* ---- entry points ---- */

static int extract(struct store *s, const char *path, char **ret_tmp, int *ret_fd,
		   struct kiln_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *tmp = NULL;
	int dfd, r;

	if (fd < 0)
		return err_sys(err, errno, "open '%s'", path);
	/* dfd holds the directory's lock (tmpwork.c) until it is removed */
	r = store_tmp_mkdir(s, "load", 0755, &tmp, &dfd, err);
	if (r < 0)
		return r;
	r = layers_apply(fd, dfd, LAYERS_APPLY_NO_WHITEOUTS | LAYERS_APPLY_NO_OWNER, err);
	if (r < 0) {
		fs_rm_rf(store_dirfd(s, STORE_DIR_TMP), tmp, NULL);
		close(dfd);
		return err_wrap(err, "'%s'", path);
	}
	*ret_tmp = TAKE_PTR(tmp);
	*ret_fd = dfd;
	return 0;
}

int store_pull_archive(struct store *s, enum archive_format fmt, const char *path, const char *tag,
		       const char *name, struct digest *ret_manifest, struct kiln_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	if (fmt == ARCHIVE_OCI_LAYOUT) {
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return err_sys(err, errno, "open layout '%s'", path);
		return pull_layout(s, dfd, path, tag, name, ret_manifest, err);
	}
	r = extract(s, path, &tmp, &dfd, err);
	if (r < 0)
		return r;
	if (fmt == ARCHIVE_AUTO)
		fmt = faccessat(dfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? ARCHIVE_OCI
										   : ARCHIVE_DOCKER;
	if (fmt == ARCHIVE_OCI)
		r = pull_layout(s, dfd, path, tag, name, ret_manifest, err);
	else
		r = pull_docker(s, dfd, tag, name, ret_manifest, err);
	fs_rm_rf(store_dirfd(s, STORE_DIR_TMP), tmp, NULL);
	return r;
}
