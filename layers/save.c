/* SPDX-License-Identifier: Apache-2.0 */
/* kiln save: an image from the store as an oci-archive or a docker-archive. */
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

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_write_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free)

#define BUF_SIZE (1 << 17)

static int tar_fail(struct archive *a, const char *name, struct kiln_error **err)
{
	return err_new(err, KILN_ERR_SYSTEM, archive_errno(a) > 0 ? archive_errno(a) : EIO,
		       "write '%s': %s", name, archive_error_string(a));
}

static int add_header(struct archive *a, const char *name, mode_t type, int64_t size,
		      struct kiln_error **err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_mtime(e, 0, 0);
	if (type == AE_IFREG)
		archive_entry_set_size(e, size);
	if (archive_write_header(a, e) < ARCHIVE_WARN)
		return tar_fail(a, name, err);
	return 0;
}

static int add_mem(struct archive *a, const char *name, const void *data, size_t len,
		   struct kiln_error **err)
{
	int r = add_header(a, name, AE_IFREG, (int64_t)len, err);

	if (r >= 0 && archive_write_data(a, data, len) != (la_ssize_t)len)
		return tar_fail(a, name, err);
	return r;
}

static int add_fd(struct archive *a, const char *name, int fd, char *buf, struct kiln_error **err)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return err_sys(err, errno, "stat for '%s'", name);
	r = add_header(a, name, AE_IFREG, st.st_size, err);
	for (off_t left = st.st_size; r >= 0 && left > 0;) {
		ssize_t n = read(fd, buf, (size_t)MIN(left, (off_t)BUF_SIZE));

		if (n <= 0)
			return err_sys(err, n < 0 ? errno : EIO, "read for '%s'", name);
		if (archive_write_data(a, buf, (size_t)n) != n)
			return tar_fail(a, name, err);
		left -= n;
	}
	return r;
}

static int add_blob(struct store *s, struct archive *a, const char *name, const struct digest *d,
		    char *buf, struct kiln_error **err)
{
	_cleanup_close_ int fd = store_blob_open(s, d, err);

	return fd < 0 ? fd : add_fd(a, name, fd, buf, err);
}

static int add_json(struct archive *a, const char *name, const json_t *j, struct kiln_error **err)
{
	size_t len;
	_cleanup_free_ char *text = json_canonical(j, &len);

	return add_mem(a, name, text, len, err);
}

/* ---- what an image or index saves ---- */

/* The top descriptor, and every blob under it once (an index's manifests share blobs). */
struct save_set {
	struct digest top;
	uint64_t top_size;
	char *top_media_type;
	struct digest *blobs;
	size_t n, alloc;
	struct image *img; /* the image, when @top is not an index */
};

static void save_set_add(struct save_set *set, const struct digest *d)
{
	for (size_t i = 0; i < set->n; i++)
		if (digest_eq(&set->blobs[i], d))
			return;
	ALLOC_GROW(set->blobs, set->n + 1, set->alloc);
	set->blobs[set->n++] = *d;
}

static void save_set_add_image(struct save_set *set, const struct image *img)
{
	save_set_add(set, &img->manifest_digest);
	save_set_add(set, &img->config_digest);
	for (size_t i = 0; i < img->n_layers; i++)
		save_set_add(set, &img->layers[i].digest);
}

static void save_set_release(struct save_set *set)
{
	free(set->top_media_type);
	free(set->blobs);
	image_free(set->img);
}

static int save_set_index(struct store *s, struct save_set *set, const json_t *idx,
			  struct kiln_error **err)
{
	const char *mt = json_get_str(idx, "mediaType");
	json_t *e;
	size_t i;

	set->top_media_type = xstrdup(mt ? mt : MEDIA_OCI_INDEX);
	store_blob_exists(s, &set->top, &set->top_size);
	save_set_add(set, &set->top);
	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		_cleanup_(image_freep) struct image *img = NULL;
		struct digest d;
		int r = json_get_digest(e, "digest", &d, err);

		if (r >= 0)
			r = image_read(s, &d, &img, err);
		if (r < 0)
			return err_wrap(err, "the index's manifest %zu", i + 1);
		save_set_add_image(set, img);
	}
	return 0;
}

static int save_set_load(struct store *s, const char *what, const struct platform *platform,
			 bool one_image, struct save_set *set, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *idx = NULL;
	int r = store_resolve(s, what, &set->top, err);

	if (r < 0)
		return r;
	if (!platform && image_is_index(s, &set->top, &idx)) {
		_cleanup_free_ char *have = platform_list_json(json_object_get(idx, "manifests"));

		if (one_image)
			return err_usage(
				err,
				"'%s' is an image index (%s) and a docker-archive holds one image: pick one with --platform",
				what, have);
		return save_set_index(s, set, idx, err);
	}
	r = image_read_platform(s, &set->top, platform, &set->img, err);
	if (r < 0)
		return r;
	set->top = set->img->manifest_digest;
	set->top_size = set->img->manifest_size;
	set->top_media_type = xstrdup(set->img->manifest_media_type);
	save_set_add_image(set, set->img);
	return 0;
}

/* ---- oci-archive ---- */

static int save_oci(struct store *s, struct archive *a, const struct save_set *set,
		    const char *name, char *buf, struct kiln_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char hex[DIGEST_HEX_LEN + 1], d[DIGEST_STR_SIZE];
	_cleanup_(json_decrefp) json_t *idx = json_pack(
		"{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests", "mediaType",
		set->top_media_type, "digest", digest_format(&set->top, d), "size",
		(json_int_t)set->top_size, "annotations", ANNOTATION_REF_NAME, name);
	int r = add_mem(a, "oci-layout", layout, strlen(layout), err);

	if (r >= 0)
		r = add_json(a, "index.json", idx, err);
	if (r >= 0)
		r = add_header(a, "blobs", AE_IFDIR, 0, err);
	if (r >= 0)
		r = add_header(a, "blobs/sha256", AE_IFDIR, 0, err);
	for (size_t i = 0; r >= 0 && i < set->n; i++) {
		_cleanup_free_ char *path =
			xasprintf("blobs/sha256/%s", digest_hex(&set->blobs[i], hex));

		r = add_blob(s, a, path, &set->blobs[i], buf, err);
	}
	return r;
}

/* ---- docker-archive ---- */

/* Decompress layer @l into an unnamed temp file in tmp/ (its size must precede it). */
static int layer_tar_file(struct store *s, const struct layer_desc *l, char *buf,
			  struct kiln_error **err)
{
	_cleanup_close_ int blob = store_blob_open(s, &l->digest, err), out = -1;
	_cleanup_(archive_read_freep) struct archive *in = archive_read_new();
	struct archive_entry *e;
	la_ssize_t n;

	if (blob < 0)
		return blob;
	out = openat(store_dirfd(s, STORE_DIR_TMP), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return err_sys(err, errno, "create a temporary file in '%s/tmp'", store_root(s));
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_zstd(in);
	archive_read_support_filter_none(in);
	archive_read_support_format_raw(in);
	if (archive_read_open_fd(in, blob, BUF_SIZE) != ARCHIVE_OK ||
	    archive_read_next_header(in, &e) != ARCHIVE_OK)
		return err_at(err, NULL, "layer: %s", archive_error_string(in));
	while ((n = archive_read_data(in, buf, BUF_SIZE)) > 0)
		if (fs_write_all(out, buf, (size_t)n, err) < 0)
			return err_wrap(err, "decompress layer");
	if (n < 0)
		return err_at(err, NULL, "layer: %s", archive_error_string(in));
	if (lseek(out, 0, SEEK_SET) < 0)
		return err_sys(err, errno, "seek");
	return TAKE_FD(out);
}

static int save_docker(struct store *s, struct archive *a, const struct image *img,
		       const char *name, char *buf, struct kiln_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	_cleanup_free_ char *cname = xasprintf("%s.json", digest_hex(&img->config_digest, hex));
	_cleanup_(json_decrefp) json_t *layers = json_array(), *m = NULL;
	int r = add_blob(s, a, cname, &img->config_digest, buf, err);

	for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
		_cleanup_free_ char *dir = xstrdup(digest_hex(&img->layers[i].diff_id, hex));
		_cleanup_free_ char *path = xasprintf("%s/layer.tar", dir);
		_cleanup_close_ int fd = layer_tar_file(s, &img->layers[i], buf, err);

		if (fd < 0)
			return fd;
		r = add_header(a, dir, AE_IFDIR, 0, err);
		if (r >= 0)
			r = add_fd(a, path, fd, buf, err);
		json_array_append_new(layers, json_string(path));
	}
	m = json_pack("[{s:s, s:[s], s:O}]", "Config", cname, "RepoTags", name, "Layers", layers);
	return r < 0 ? r : add_json(a, "manifest.json", m, err);
}

int store_save_archive(struct store *s, const char *what, const struct platform *platform,
		       enum archive_format fmt, int outfd, struct kiln_error **err)
{
	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	_cleanup_free_ char *buf = xmalloc(BUF_SIZE), *name = NULL;
	struct save_set set = {0};
	int r = save_set_load(s, what, platform, fmt == ARCHIVE_DOCKER, &set, err);

	if (r < 0)
		goto out;
	if (startswith(what, "sha256:") || image_name_normalize(what, &name, NULL) < 0)
		name = xstrdup(what);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, outfd) != ARCHIVE_OK) {
		r = tar_fail(a, "(archive)", err);
		goto out;
	}
	r = fmt == ARCHIVE_DOCKER ? save_docker(s, a, set.img, name, buf, err)
				  : save_oci(s, a, &set, name, buf, err);
	if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
		r = tar_fail(a, "(end of archive)", err);
out:
	save_set_release(&set);
	return r < 0 ? err_wrap(err, "save '%s'", what) : 0;
}

/* ---- a layout directory ---- */

static int copy_blob_to(struct store *s, int blobs, const struct digest *d, char *buf,
			struct kiln_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	_cleanup_close_ int in = -1, out = -1;
	_cleanup_free_ char *tmp = NULL;
	ssize_t n;

	if (faccessat(blobs, digest_hex(d, hex), F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	in = store_blob_open(s, d, err);
	if (in < 0)
		return in;
	out = fs_mkstemp(blobs, ".tmp-blob", 0644, &tmp, err);
	if (out < 0)
		return out;
	while ((n = read(in, buf, BUF_SIZE)) > 0)
		if (fs_write_all(out, buf, (size_t)n, err) < 0)
			goto out_unlink;
	if (n < 0 || fsync(out) < 0 || renameat(blobs, tmp, blobs, hex) < 0) {
		err_sys(err, errno, "copy blob 'sha256:%s'", hex);
		goto out_unlink;
	}
	return 0;
out_unlink:
	unlinkat(blobs, tmp, 0);
	return -EIO;
}

static int layout_index(int dfd, const struct save_set *set, const char *ref,
			struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(json_decrefp) json_t *idx = NULL;
	_cleanup_free_ char *text = NULL;
	char d[DIGEST_STR_SIZE];
	json_t *arr;
	size_t len;

	if (strbuf_read_file(&sb, dfd, "index.json", NULL) >= 0) {
		if (json_parse_buf(sb.buf, sb.len, "index.json", &idx, err) < 0)
			return -EINVAL;
	} else {
		idx = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
	}
	arr = json_object_get(idx, "manifests");
	if (!json_is_array(arr))
		return err_at(err, NULL, "index.json: no 'manifests' array");
	for (size_t i = json_array_size(arr); i-- > 0;)
		if (streq_ptr(json_string_value(json_object_get(
				      json_object_get(json_array_get(arr, i), "annotations"),
				      ANNOTATION_REF_NAME)),
			      ref))
			json_array_remove(arr, i);
	json_array_append_new(
		arr, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", set->top_media_type,
			       "digest", digest_format(&set->top, d), "size",
			       (json_int_t)set->top_size, "annotations", ANNOTATION_REF_NAME, ref));
	text = json_canonical(idx, &len);
	return fs_atomic_write(dfd, "index.json", text, len, 0644, err);
}

static int save_layout(struct store *s, const struct save_set *set, const char *dir,
		       const char *ref, char *buf, struct kiln_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	_cleanup_close_ int top = open(dir[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dfd = -1, blobs = -1;
	int r = fs_mkdir_p(top, dir, 0755, err);

	if (r >= 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = err_sys(err, errno, "open '%s'", dir);
	if (r >= 0)
		r = fs_mkdir_p(dfd, "blobs/sha256", 0755, err);
	if (r >= 0 && (blobs = openat(dfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = err_sys(err, errno, "open '%s/blobs/sha256'", dir);
	/* the top manifest or index last: a reader never finds it before its blobs */
	for (size_t i = set->n; r >= 0 && i-- > 0;)
		r = copy_blob_to(s, blobs, &set->blobs[i], buf, err);
	if (r >= 0 && faccessat(dfd, "oci-layout", F_OK, 0) < 0)
		r = fs_atomic_write(dfd, "oci-layout", layout, strlen(layout), 0644, err);
	if (r >= 0)
		r = layout_index(dfd, set, ref, err);
	return r;
}

int store_save_layout(struct store *s, const char *what, const struct platform *platform,
		      const char *dir, const char *ref, struct kiln_error **err)
{
	_cleanup_free_ char *buf = xmalloc(BUF_SIZE), *name = NULL;
	struct save_set set = {0};
	int r = save_set_load(s, what, platform, false, &set, err);

	if (r >= 0) {
		if (!ref &&
		    (startswith(what, "sha256:") || image_name_normalize(what, &name, NULL) < 0))
			name = xstrdup(what);
		r = save_layout(s, &set, dir, ref ? ref : name, buf, err);
	}
	save_set_release(&set);
	return r < 0 ? err_wrap(err, "save '%s' to '%s'", what, dir) : 0;
}
