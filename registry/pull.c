/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln pull REF: manifest (an index resolved to one platform), then the
 * config and layer blobs the store lacks, a few at a time, each streamed into
 * <store>/tmp/registry-<hex>.partial with its digest checked on the way, then
 * fsynced and renamed into blobs/ (the store's recipe). A partial file left by
 * an interrupted pull is resumed with a Range request. The manifest is stored
 * byte for byte, so its digest is the registry's, and named in index.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers.h"
#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct pull_blob {
	struct registry_client *c;
	struct store *s;
	const char *repo;
	char *digest;
	uint64_t size;
};

static bool is_manifest_type(const char *mt)
{
	return streq(mt, REGISTRY_MT_OCI_MANIFEST) || streq(mt, REGISTRY_MT_DOCKER_MANIFEST);
}

static bool is_index_type(const char *mt)
{
	return streq(mt, REGISTRY_MT_OCI_INDEX) || streq(mt, REGISTRY_MT_DOCKER_LIST);
}

/* The image manifest for @ref, following an index (kept in *ret_index when asked) to @platform. */
static int fetch_manifest(struct registry_client *c, const struct registry_ref *ref,
			  const char *platform, struct registry_manifest *ret,
			  struct registry_manifest *ret_index, struct kiln_error **err)
{
	struct registry_manifest m = {0};
	_cleanup_free_ char *digest = NULL, *mt = NULL;
	int r = registry_manifest_get(c, ref->path, ref->digest ? ref->digest : ref->tag, &m, err);

	if (r < 0)
		return r;
	if (is_index_type(m.media_type)) {
		r = registry_select_platform(m.data, m.len, platform, &digest, &mt, err);
		if (r >= 0 && ret_index)
			*ret_index = m;
		else
			registry_manifest_release(&m);
		memset(&m, 0, sizeof(m));
		if (r < 0)
			return r;
		r = registry_manifest_get(c, ref->path, digest, &m, err);
		if (r < 0)
			return r;
	}
	if (!is_manifest_type(m.media_type)) {
		r = err_new(
			err, KILN_ERR_INPUT, ENOTSUP,
			"registry '%s': repository '%s': unsupported manifest type '%s' (expected OCI or Docker schema 2)",
			c->domain, ref->path, m.media_type);
		registry_manifest_release(&m);
		return r;
	}
	*ret = m;
	return 0;
}

static int add_blob(struct pull_blob **blobs, size_t *n, json_t *desc, const char *what,
		    struct kiln_error **err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	json_t *size = json_object_get(desc, "size");

	if (!d || !reg_digest_valid(d) || !json_is_integer(size) || json_integer_value(size) < 0)
		return err_new(err, KILN_ERR_INPUT, EBADMSG,
			       "manifest: %s has no valid digest and size", what);
	*blobs = xreallocarray(*blobs, *n + 1, sizeof(**blobs));
	(*blobs)[*n] = (struct pull_blob){.digest = xstrdup(d),
					  .size = (uint64_t)json_integer_value(size)};
	(*n)++;
	return 0;
}

/* The config and layer descriptors of a manifest. */
static int manifest_blobs(const struct registry_manifest *m, struct pull_blob **ret, size_t *ret_n,
			  struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *j = json_loadb(m->data, m->len, 0, NULL);
	json_t *layers = json_object_get(j, "layers"), *l;
	struct pull_blob *blobs = NULL;
	size_t n = 0, i;
	int r = add_blob(&blobs, &n, json_object_get(j, "config"), "the config", err);

	if (r == 0 && !json_is_array(layers))
		r = err_new(err, KILN_ERR_INPUT, EBADMSG, "manifest: no \"layers\" array");
	json_array_foreach(layers, i, l) {
		if (r < 0)
			break;
		r = add_blob(&blobs, &n, l, "a layer", err);
	}
	if (r < 0) {
		for (i = 0; i < n; i++)
			free(blobs[i].digest);
		free(blobs);
		return r;
	}
	*ret = blobs;
	*ret_n = n;
	return 0;
}

/* Move the verified partial file into blobs/ (the store's tmp, fsync, rename recipe). */
static int adopt(struct pull_blob *b, int fd, const char *tmpname, struct kiln_error **err)
{
	const char *hex = b->digest + strlen("sha256:");
	int blobs = store_dirfd(b->s, STORE_DIR_BLOBS);
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_sys(err, errno, "stat '%s'", tmpname);
	if ((uint64_t)st.st_size != b->size)
		return err_new(
			err, KILN_ERR_SYSTEM, EBADMSG,
			"registry '%s': repository '%s': blob '%s' has %lld bytes, the manifest says %llu",
			b->c->domain, b->repo, b->digest, (long long)st.st_size,
			(unsigned long long)b->size);
	if (fsync(fd) < 0)
		return err_sys(err, errno, "fsync '%s'", tmpname);
	if (renameat(store_dirfd(b->s, STORE_DIR_TMP), tmpname, blobs, hex) < 0)
		return err_sys(err, errno, "rename '%s' into the store", tmpname);
	return fs_fsync_dir(blobs, err);
}

static int pull_one(void *arg, struct kiln_error **err)
{
	struct pull_blob *b = arg;
	struct digest d;
	_cleanup_free_ char *tmpname = NULL;
	_cleanup_close_ int fd = -1;
	int tmp = store_dirfd(b->s, STORE_DIR_TMP), r;
	uint64_t have;
	struct stat st;

	if ((r = digest_parse(b->digest, &d, err)) < 0)
		return r;
	if (store_blob_exists(b->s, &d, NULL)) {
		reg_progress(b->c, REGISTRY_EV_SKIPPED, b->digest, b->size, b->size);
		return 0;
	}
	tmpname = xasprintf("registry-%s.partial", b->digest + strlen("sha256:"));
	fd = openat(tmp, tmpname, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
		return err_sys(err, errno, "open '%s' in the store's tmp/", tmpname);
	if (store_blob_exists(b->s, &d, NULL)) { /* another kiln finished it meanwhile */
		unlinkat(tmp, tmpname, 0);
		return 0;
	}
	/*
	 * Too long: start over. Complete (killed before the rename): fetch the
	 * last byte again, so the resumed range is never empty.
	 */
	have = (uint64_t)st.st_size > b->size ? 0 : (uint64_t)st.st_size;
	if (have && have == b->size)
		have--;
	if (have != (uint64_t)st.st_size && ftruncate(fd, (off_t)have) < 0)
		return err_sys(err, errno, "truncate '%s'", tmpname);
	r = registry_blob_get(b->c, b->repo, b->digest, fd, have, b->size, err);
	if (r == 0)
		r = adopt(b, fd, tmpname, err);
	if (r < 0 && err && *err && (*err)->errnum == EBADMSG)
		unlinkat(tmp, tmpname, 0); /* bad bytes: do not resume from them */
	return r;
}

static int pull_blobs(struct registry_client *c, struct store *s, const char *repo,
		      struct pull_blob *blobs, size_t n, struct kiln_error **err)
{
	struct reg_job *jobs = xcalloc(n, sizeof(*jobs));
	int r;

	for (size_t i = 0; i < n; i++) {
		blobs[i].c = c;
		blobs[i].s = s;
		blobs[i].repo = repo;
		jobs[i] = (struct reg_job){.fn = pull_one, .arg = &blobs[i]};
	}
	r = reg_run_jobs(jobs, n, c->opts.parallel, err);
	free(jobs);
	return r;
}

/* The manifest, and the index it came from when kept, as the registry sent them; @name names the
 * top. */
static int store_manifest(struct store *s, const struct registry_manifest *m,
			  const struct registry_manifest *idx, const char *name,
			  struct kiln_error **err)
{
	struct digest want, got;
	int r = digest_parse(m->digest, &want, err);

	if (r == 0)
		r = store_blob_write(s, m->data, m->len, &want, &got, err);
	if (r == 0 && idx->data) {
		r = digest_parse(idx->digest, &want, err);
		if (r == 0)
			r = store_blob_write(s, idx->data, idx->len, &want, &got, err);
	}
	if (r == 0)
		r = store_tag(s, name, &got, err);
	return r;
}

static int pull_image(struct registry_client *c, struct store *s, const struct registry_ref *ref,
		      const char *name, char **ret_digest, struct kiln_error **err)
{
	struct registry_manifest m = {0}, idx = {0};
	struct pull_blob *blobs = NULL;
	const char **digests = NULL;
	size_t n = 0;
	int r = fetch_manifest(c, ref, c->opts.platform, &m, c->opts.keep_index ? &idx : NULL, err);

	if (r == 0)
		r = manifest_blobs(&m, &blobs, &n, err);
	if (r == 0)
		r = pull_blobs(c, s, ref->path, blobs, n, err);
	if (r == 0)
		r = store_manifest(s, &m, &idx, name, err);
	if (r == 0) {
		digests = xcalloc(n + 1, sizeof(*digests));
		for (size_t i = 0; i < n; i++)
			digests[i] = blobs[i].digest;
		reg_sources_add(s, c->domain, ref->path, digests, n, NULL); /* best effort */
		if (ret_digest)
			*ret_digest = TAKE_PTR(m.digest);
	}
	free(digests);
	for (size_t i = 0; i < n; i++)
		free(blobs[i].digest);
	free(blobs);
	registry_manifest_release(&m);
	registry_manifest_release(&idx);
	return r;
}

int registry_pull(struct store *s, const char *ref, const char *name,
		  const struct registry_opts *opts, char **ret_digest, struct kiln_error **err)
{
	struct registry_ref rf;
	struct registry_client *c = NULL;
	const char *plain = startswith(ref, "docker://");
	int r = registry_ref_parse(ref, &rf, err);

	if (r < 0)
		return r;
	r = registry_client_new(rf.domain, opts, &c, err);
	if (r == 0)
		r = pull_image(c, s, &rf, name ? name : plain ? plain : ref, ret_digest, err);
	registry_client_free(c);
	registry_ref_release(&rf);
	return r < 0 ? r : 0;
}
