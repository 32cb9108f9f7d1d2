/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/cache-remote-internal.h"
#include "builder/imgcfg-internal.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * type=local: DIR is an OCI image layout (oci-layout, index.json,
 * blobs/sha256/) whose index names the cache manifest with the tag (default
 * "latest"), as CI cache actions save and restore a directory. Writers take
 * DIR/.kiln-lock, add blobs by rename, and replace index.json last, so a
 * reader sees the old cache or the new one, never half of one.
 */

#define MAX_JSON_SIZE (64 << 20)
#define LOCK_NAME     ".kiln-lock"
#define INDEX_NAME    "index.json"

static int open_dir(const char *path, bool create, struct kiln_error **err)
{
	int fd;

	if (create) {
		_cleanup_free_ char *p = xstrdup(path);

		for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return err_sys(err, errno, "create '%s'", p);
			*s = '/';
		}
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return err_sys(err, errno, "create '%s'", p);
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "open cache directory '%s'", path);
	return fd;
}

/* A file of DIR, at most MAX_JSON_SIZE bytes, with no symlink on the way. */
static int read_small(int dirfd, const char *name, struct strbuf *sb, struct kiln_error **err)
{
	_cleanup_close_ int fd = fs_open_in(dirfd, name, O_RDONLY | O_NONBLOCK, 0,
					    FS_BENEATH | FS_NOFOLLOW_LAST, err);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return err_sys(err, errno, "stat '%s'", name);
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_JSON_SIZE)
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "'%s' is not a file of at most %d bytes", name, MAX_JSON_SIZE);
	return strbuf_read_fd(sb, fd, err);
}

static char *blob_name(const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("blobs/sha256/%s", digest_hex(d, hex));
}

/* A JSON blob of the layout, its digest checked. */
static int read_json_blob(int dirfd, const struct digest *d, json_t **ret, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *name = blob_name(d);
	char dg[DIGEST_STR_SIZE];
	struct digest got;
	json_error_t je;
	int r = read_small(dirfd, name, &sb, err);

	if (r < 0)
		return r;
	digest_buffer(sb.buf, sb.len, &got);
	if (!digest_eq(&got, d))
		return err_new(err, KILN_ERR_INPUT, EINVAL, "blob %s does not match its digest",
			       digest_format(d, dg));
	*ret = json_loadb(sb.buf, sb.len, 0, &je);
	if (!*ret)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "blob %s: %s", digest_format(d, dg),
			       je.text);
	return 0;
}

static json_t *read_index(int dirfd, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	json_t *j;

	if (read_small(dirfd, INDEX_NAME, &sb, err) < 0)
		return NULL;
	j = json_loadb(sb.buf, sb.len, 0, NULL);
	if (!json_is_array(json_object_get(j, "manifests"))) {
		json_decref(j);
		err_new(err, KILN_ERR_INPUT, EINVAL, "index.json is not an OCI image index");
		return NULL;
	}
	return j;
}

/* The index entry named @tag, or -1. */
static ssize_t find_tag(json_t *index, const char *tag)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, m) {
		const char *name = json_string_value(
			json_object_get(json_object_get(m, "annotations"), ANNOTATION_REF_NAME));

		if (name && streq(name, tag))
			return (ssize_t)i;
	}
	return -1;
}

static int records_of(int dirfd, json_t *index, const char *tag, json_t **ret,
		      struct kiln_error **err)
{
	ssize_t i = find_tag(index, tag);
	_cleanup_json_ json_t *manifest = NULL, *config = NULL;
	json_t *m = json_array_get(json_object_get(index, "manifests"), (size_t)i);
	const char *dg = json_string_value(json_object_get(m, "digest"));
	struct digest md, cd;
	uint64_t size;

	if (i < 0) {
		*ret = json_object();
		return 0;
	}
	if (!dg || digest_parse(dg, &md, err) < 0 ||
	    read_json_blob(dirfd, &md, &manifest, err) < 0 ||
	    cache_manifest_config(manifest, &cd, &size, err) < 0 ||
	    read_json_blob(dirfd, &cd, &config, err) < 0)
		return err ? err_wrap(err, "tag '%s'", tag) : -EINVAL;
	return cache_config_records(config, ret, err);
}

int cache_local_read(const struct cache_io_spec *spec, json_t **ret, struct kiln_error **err)
{
	_cleanup_close_ int dirfd = open(spec->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_json_ json_t *index = NULL;

	if (dirfd < 0 && errno == ENOENT) {
		*ret = json_object();
		return 0;
	}
	if (dirfd < 0)
		return err_sys(err, errno, "open '%s'", spec->dir);
	if (faccessat(dirfd, INDEX_NAME, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		*ret = json_object();
		return 0;
	}
	index = read_index(dirfd, err);
	if (!index)
		return err_code(*err);
	return records_of(dirfd, index, spec->tag, ret, err);
}

int cache_local_fetch(const struct cache_io_spec *spec, struct store *s, const struct layer_desc *l,
		      struct kiln_error **err)
{
	_cleanup_close_ int dirfd = open(spec->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *name = blob_name(&l->digest);
	_cleanup_close_ int fd = -1;

	if (dirfd < 0)
		return err_sys(err, errno, "open '%s'", spec->dir);
	fd = fs_open_in(dirfd, name, O_RDONLY | O_NONBLOCK, 0, FS_BENEATH | FS_NOFOLLOW_LAST, err);
	if (fd < 0)
		return fd;
	return store_blob_write_fd(s, fd, &l->digest, NULL, NULL, err);
}

/* ---- writing ---- */

static int copy_fd(int in, int out, struct kiln_error **err)
{
	char buf[128 << 10];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(err, errno, "read blob");
		if (fs_write_all(out, buf, (size_t)n, err) < 0)
			return err_code(*err);
	}
	return 0;
}

/* blobs/sha256/<hex> from @data, or from @in when @data is NULL: a temp file, renamed. */
static int put_blob(int dirfd, const struct digest *d, const void *data, size_t len, int in,
		    struct kiln_error **err)
{
	_cleanup_close_ int bfd = openat(dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	char hex[DIGEST_HEX_LEN + 1];
	int r;

	if (bfd < 0)
		return err_sys(err, errno, "open blobs/sha256");
	digest_hex(d, hex);
	if (faccessat(bfd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* content-addressed: already there */
	fd = fs_mkstemp(bfd, ".tmp", 0644, &tmp, err);
	if (fd < 0)
		return fd;
	r = data ? fs_write_all(fd, data, len, err) : copy_fd(in, fd, err);
	if (r >= 0 && fsync(fd) < 0)
		r = err_sys(err, errno, "fsync blob");
	if (r >= 0 && renameat(bfd, tmp, bfd, hex) < 0)
		r = err_sys(err, errno, "rename blob into place");
	if (r < 0)
		unlinkat(bfd, tmp, 0);
	return r;
}

static int put_json_blob(int dirfd, json_t *j, struct digest *ret, uint64_t *ret_size,
			 struct kiln_error **err)
{
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len = strlen(text);

	digest_buffer(text, len, ret);
	*ret_size = len;
	return put_blob(dirfd, ret, text, len, -1, err);
}

struct copy_ctx {
	int dirfd;
	struct store *s;
	json_t *missing; /* digests neither the directory nor the store has */
};

/* A hard link to the store's blob when both are on one file system (blobs never change). */
static int link_blob(struct copy_ctx *c, const struct digest *d)
{
	_cleanup_free_ char *src = store_blob_path(c->s, d), *name = blob_name(d);

	return linkat(AT_FDCWD, src, c->dirfd, name, 0) == 0 || errno == EEXIST ? 0 : -errno;
}

static int copy_layer(void *userdata, const struct layer_desc *l, struct kiln_error **err)
{
	struct copy_ctx *c = userdata;
	_cleanup_free_ char *name = blob_name(&l->digest);
	_cleanup_close_ int fd = -1;
	char dg[DIGEST_STR_SIZE];

	if (faccessat(c->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (!store_blob_exists(c->s, &l->digest, NULL)) {
		json_object_set_new(c->missing, digest_format(&l->digest, dg), json_true());
		return 0;
	}
	if (link_blob(c, &l->digest) == 0)
		return 0;
	fd = store_blob_open(c->s, &l->digest, err);
	if (fd < 0)
		return fd;
	return put_blob(c->dirfd, &l->digest, NULL, 0, fd, err);
}

/* Records whose blob is nowhere (a damaged old cache) are dropped. */
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

static int write_index(int dirfd, json_t *old, const char *tag, const struct digest *m,
		       uint64_t size, struct kiln_error **err)
{
	_cleanup_json_ json_t *index = old ? json_incref(old) : NULL;
	_cleanup_free_ char *text = NULL;
	json_t *manifests;
	char dg[DIGEST_STR_SIZE];
	ssize_t i;

	if (!index)
		index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
				  MEDIA_OCI_INDEX, "manifests");
	manifests = json_object_get(index, "manifests");
	if ((i = find_tag(index, tag)) >= 0)
		json_array_remove(manifests, (size_t)i);
	json_array_append_new(manifests,
			      json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", MEDIA_OCI_MANIFEST,
					"digest", digest_format(m, dg), "size", (json_int_t)size,
					"annotations", ANNOTATION_REF_NAME, tag));
	text = json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
	return fs_atomic_write(dirfd, INDEX_NAME, text, strlen(text), 0644, err);
}

/* The new blobs' names are on disk before index.json names them. */
static int sync_blobs(int dirfd, struct kiln_error **err)
{
	_cleanup_close_ int bfd = openat(dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (bfd < 0)
		return err_sys(err, errno, "open blobs/sha256");
	if (fs_fsync_dir(bfd, err) < 0 || fs_fsync_dir(dirfd, err) < 0)
		return err_code(*err);
	return 0;
}

static int write_layout(int dirfd, json_t *index, const char *tag, json_t *records, struct store *s,
			struct kiln_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	_cleanup_json_ json_t *missing = json_object(), *config = NULL, *manifest = NULL;
	struct copy_ctx c = {.dirfd = dirfd, .s = s, .missing = missing};
	struct digest cd, md;
	uint64_t csize, msize;
	int r;

	if (fs_mkdir_p(dirfd, "blobs/sha256", 0755, err) < 0)
		return err_code(*err);
	r = cache_records_layers(records, copy_layer, &c, err);
	if (r < 0)
		return r;
	drop_missing(records, missing);
	config = cache_config_new(records);
	r = put_json_blob(dirfd, config, &cd, &csize, err);
	if (r < 0)
		return r;
	manifest = cache_manifest_new(records, &cd, csize);
	r = put_json_blob(dirfd, manifest, &md, &msize, err);
	if (r >= 0 && faccessat(dirfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		r = fs_atomic_write(dirfd, "oci-layout", layout, strlen(layout), 0644, err);
	if (r >= 0)
		r = sync_blobs(dirfd, err);
	if (r >= 0)
		r = write_index(dirfd, index, tag, &md, msize, err);
	return r;
}

/* The manifest and config blobs of @old_manifest, once no index entry names it. */
static void drop_old(int dirfd, const char *old_manifest)
{
	_cleanup_json_ json_t *index = read_index(dirfd, NULL), *m = NULL;
	_cleanup_free_ char *mname = NULL, *cname = NULL;
	struct digest md, cd;
	json_t *e;
	size_t i;
	uint64_t size;

	if (!index || digest_parse(old_manifest, &md, NULL) < 0)
		return;
	json_array_foreach(json_object_get(index, "manifests"), i, e)
		if (streq_ptr(json_string_value(json_object_get(e, "digest")), old_manifest))
			return;
	mname = blob_name(&md);
	if (read_json_blob(dirfd, &md, &m, NULL) >= 0 &&
	    cache_manifest_config(m, &cd, &size, NULL) >= 0) {
		cname = blob_name(&cd);
		unlinkat(dirfd, cname, 0);
	}
	unlinkat(dirfd, mname, 0);
}

int cache_local_write(const struct cache_io_spec *spec, struct store *s, json_t *records,
		      struct kiln_error **err)
{
	_cleanup_close_ int dirfd = open_dir(spec->dir, true, err), lock = -1;
	_cleanup_json_ json_t *index = NULL, *merged = NULL;
	_cleanup_free_ char *old = NULL;
	ssize_t i;
	int r;

	if (dirfd < 0)
		return dirfd;
	lock = fs_lock(dirfd, LOCK_NAME, false, err);
	if (lock < 0)
		return lock;
	if (faccessat(dirfd, INDEX_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		_cleanup_(err_freep) struct kiln_error *e = NULL;

		index = read_index(dirfd, err);
		if (!index)
			return err_code(*err);
		if (records_of(dirfd, index, spec->tag, &merged, &e) < 0) {
			/* an image is never replaced by a cache; a damaged cache is */
			if (e->errnum == EMEDIUMTYPE)
				return err_new(err, KILN_ERR_INPUT, EEXIST,
					       "'%s': %s: refusing to replace it", spec->dir,
					       e->msg);
			log_warn("cache in '%s': %s: writing a new one", spec->dir, e->msg);
			merged = NULL;
		}
	}
	if (!merged)
		merged = json_object();
	cache_records_merge(merged, records);
	if (index && (i = find_tag(index, spec->tag)) >= 0) {
		json_t *e = json_array_get(json_object_get(index, "manifests"), (size_t)i);
		const char *d = json_string_value(json_object_get(e, "digest"));

		old = d ? xstrdup(d) : NULL;
	}
	r = write_layout(dirfd, index, spec->tag, merged, s, err);
	if (r >= 0 && old)
		drop_old(dirfd, old);
	return r;
}
