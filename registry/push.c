/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln push NAME [DEST]: an unchanged image costs one HEAD; otherwise each
 * blob is skipped (HEAD), mounted from another repository of the registry
 * the store knows it from, or uploaded, a few at a time; the manifest goes
 * last, byte for byte as stored, so the pushed digest is the stored one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers.h"
#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct push_blob {
	struct registry_client *c;
	struct store *s;
	const char *repo;
	const struct strbuf *sources;
	struct digest digest;
	char digest_str[DIGEST_STR_SIZE];
};

static int push_one(void *arg, struct kiln_error **err)
{
	struct push_blob *b = arg;
	_cleanup_close_ int fd = store_blob_open(b->s, &b->digest, err);
	_cleanup_free_ char *from = NULL;
	struct stat st;
	int r;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return err_sys(err, errno, "stat blob '%s'", b->digest_str);
	from = reg_sources_find(b->sources, b->c->domain, b->repo, b->digest_str);
	r = registry_blob_put(b->c, b->repo, b->digest_str, fd, (uint64_t)st.st_size, from, err);
	return r < 0 ? r : 0;
}

static int push_blobs(struct registry_client *c, struct store *s, const char *repo,
		      const struct image *img, const struct strbuf *sources,
		      struct kiln_error **err)
{
	size_t n = img->n_layers + 1;
	struct push_blob *blobs = xcalloc(n, sizeof(*blobs));
	struct reg_job *jobs = xcalloc(n, sizeof(*jobs));
	const char **digests = xcalloc(n, sizeof(*digests));
	int r;

	for (size_t i = 0; i < n; i++) {
		/* the config first: it is small, and layers then overlap the rest */
		blobs[i] = (struct push_blob){.c = c, .s = s, .repo = repo, .sources = sources};
		blobs[i].digest = i == 0 ? img->config_digest : img->layers[i - 1].digest;
		digest_format(&blobs[i].digest, blobs[i].digest_str);
		digests[i] = blobs[i].digest_str;
		jobs[i] = (struct reg_job){.fn = push_one, .arg = &blobs[i]};
	}
	r = reg_run_jobs(jobs, n, c->opts.parallel, err);
	if (r == 0)
		reg_sources_add(s, c->domain, repo, digests, n, NULL); /* best effort */
	free(digests);
	free(jobs);
	free(blobs);
	return r;
}

static int put_manifest(struct registry_client *c, struct store *s, const struct registry_ref *ref,
			const struct image *img, const char *digest, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = store_blob_read(s, &img->manifest_digest, &sb, err);

	if (r < 0)
		return r;
	return registry_manifest_put(c, ref->path, ref->tag ? ref->tag : digest,
				     img->manifest_media_type, sb.buf, sb.len, NULL, err);
}

static int push_image(struct registry_client *c, struct store *s, const struct registry_ref *ref,
		      const struct image *img, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sources = STRBUF_INIT;
	_cleanup_free_ char *remote = NULL;
	char digest[DIGEST_STR_SIZE];
	int r;

	digest_format(&img->manifest_digest, digest);
	if (ref->digest && !streq(ref->digest, digest))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "destination digest '%s' is not the image's ('%s')", ref->digest,
			       digest);
	r = registry_manifest_head(c, ref->path, ref->tag ? ref->tag : digest, &remote, err);
	if (r < 0)
		return r;
	if (r > 0 && streq_ptr(remote, digest))
		return 0; /* unchanged: the registry has the manifest, hence every blob */
	if ((r = reg_sources_load(s, &sources, err)) < 0)
		return r;
	if ((r = push_blobs(c, s, ref->path, img, &sources, err)) < 0)
		return r;
	return put_manifest(c, s, ref, img, digest, err);
}

/* Each manifest of the index by digest (blobs they share go once), then the index. */
static int push_index(struct registry_client *c, struct store *s, const struct registry_ref *ref,
		      const struct digest *d, const json_t *idx, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *mt = json_string_value(json_object_get(idx, "mediaType"));
	char digest[DIGEST_STR_SIZE];
	json_t *e;
	size_t i;
	int r;

	digest_format(d, digest);
	if (ref->digest && !streq(ref->digest, digest))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "destination digest '%s' is not the index's ('%s')", ref->digest,
			       digest);
	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		_cleanup_(image_freep) struct image *img = NULL;
		struct registry_ref child = *ref;
		char cd[DIGEST_STR_SIZE];
		struct digest md;

		r = digest_parse(json_string_value(json_object_get(e, "digest")), &md, err);
		if (r >= 0)
			r = image_read(s, &md, &img, err);
		if (r < 0)
			return err_wrap(err, "the index's manifest %zu", i + 1);
		child.tag = NULL;
		child.digest = digest_format(&md, cd);
		r = push_image(c, s, &child, img, err);
		if (r < 0)
			return r;
	}
	r = store_blob_read(s, d, &sb, err);
	if (r < 0)
		return r;
	return registry_manifest_put(c, ref->path, ref->tag ? ref->tag : digest,
				     mt ? mt : REGISTRY_MT_OCI_INDEX, sb.buf, sb.len, NULL, err);
}

int registry_push(struct store *s, const char *what, const char *dest,
		  const struct registry_opts *opts, char **ret_digest, struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_(json_decrefp) json_t *idx = NULL;
	struct registry_client *c = NULL;
	struct registry_ref ref;
	struct digest top;
	int r = store_resolve(s, what, &top, err);

	if (r >= 0 && !image_is_index(s, &top, &idx))
		r = image_read(s, &top, &img, err);
	if (r < 0)
		return err_wrap(err, "push '%s'", what);
	r = registry_ref_parse(dest ? dest : what, &ref, err);
	if (r < 0)
		return r;
	r = registry_client_new(ref.domain, opts, &c, err);
	if (r == 0)
		r = idx ? push_index(c, s, &ref, &top, idx, err) : push_image(c, s, &ref, img, err);
	if (r == 0 && ret_digest)
		*ret_digest = digest_str(idx ? &top : &img->manifest_digest);
	registry_client_free(c);
	if (r < 0) {
		_cleanup_free_ char *full = registry_ref_format(&ref);

		registry_ref_release(&ref);
		if (streq(full, what))
			return err_wrap(err, "push '%s'", what);
		return err_wrap(err, "push '%s' to '%s'", what, full);
	}
	registry_ref_release(&ref);
	return 0;
}
