/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Manifests: GET/HEAD/PUT with the OCI and Docker schema 2 media types, the
 * digest of what came back checked when we asked by digest, and platform
 * selection from an OCI index or a Docker manifest list.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static const char accept_all[] = REGISTRY_MT_OCI_INDEX
	", " REGISTRY_MT_OCI_MANIFEST ", " REGISTRY_MT_DOCKER_LIST ", " REGISTRY_MT_DOCKER_MANIFEST;

char *reg_sha256_digest(const void *data, size_t len)
{
	struct digest d;

	digest_buffer(data, len, &d);
	return digest_str(&d);
}

bool reg_digest_valid(const char *digest)
{
	struct digest d;

	return digest_parse(digest, &d, NULL) == 0;
}

void registry_manifest_release(struct registry_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->digest);
	free(m->data);
	*m = (struct registry_manifest){0};
}

static char *media_type_of(const struct http_resp *rs)
{
	_cleanup_(json_decrefp) json_t *j = json_loadb(rs->body.buf, rs->body.len, 0, NULL);
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	size_t n;

	if (mt)
		return xstrdup(mt);
	if (!rs->content_type)
		return xstrdup(REGISTRY_MT_OCI_MANIFEST);
	n = strcspn(rs->content_type, "; ");
	return xstrndup(rs->content_type, n);
}

static int check_manifest(struct registry_client *c, const char *repo, const char *ref,
			  const char *digest, struct kiln_error **err)
{
	if (reg_digest_valid(ref) && !streq(ref, digest))
		return err_new(err, KILN_ERR_SYSTEM, EBADMSG,
			       "registry '%s': repository '%s': manifest '%s' has digest '%s'",
			       c->domain, repo, ref, digest);
	return 0;
}

int registry_manifest_get(struct registry_client *c, const char *repo, const char *ref,
			  struct registry_manifest *ret, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL, *what = xasprintf("GET manifest '%s'", ref);
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull", repo), *digest = NULL;
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "GET", .body_fd = -1, .accept = accept_all};
	_cleanup_(json_decrefp) json_t *j = NULL;
	int r = reg_ensure(c, err);

	if (r < 0)
		return r;
	url = reg_url(c, "/v2/%s/manifests/%s", repo, ref);
	rq.url = url;
	r = reg_request(c, repo, scope, what, &rq, &rs, err);
	if (r == 0 && rs.status != 200)
		r = reg_status_error(c, repo, what, &rs, err);
	if (r == 0) {
		digest = reg_sha256_digest(rs.body.buf, rs.body.len);
		r = check_manifest(c, repo, ref, digest, err);
	}
	if (r == 0)
		j = json_loadb(rs.body.buf, rs.body.len, 0, NULL);
	if (r == 0 && !json_is_object(j))
		r = err_new(err, KILN_ERR_SYSTEM, EBADMSG,
			    "registry '%s': repository '%s': manifest '%s' is not a JSON object",
			    c->domain, repo, ref);
	if (r == 0) {
		ret->media_type = media_type_of(&rs);
		ret->digest = TAKE_PTR(digest);
		ret->len = rs.body.len;
		ret->data = strbuf_detach(&rs.body, NULL);
	}
	http_resp_release(&rs);
	return r;
}

int registry_manifest_head(struct registry_client *c, const char *repo, const char *ref,
			   char **ret_digest, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL, *what = xasprintf("HEAD manifest '%s'", ref);
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull", repo);
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "HEAD", .body_fd = -1, .accept = accept_all};
	int r = reg_ensure(c, err);

	if (r < 0)
		return r;
	url = reg_url(c, "/v2/%s/manifests/%s", repo, ref);
	rq.url = url;
	r = reg_request(c, repo, scope, what, &rq, &rs, err);
	if (r == 0 && rs.status == 200) {
		if (ret_digest)
			*ret_digest = rs.digest ? xstrdup(rs.digest) : NULL;
		r = 1;
	} else if (r == 0 && rs.status != 404) {
		r = reg_status_error(c, repo, what, &rs, err);
	}
	http_resp_release(&rs);
	return r;
}

int registry_manifest_put(struct registry_client *c, const char *repo, const char *ref,
			  const char *media_type, const void *data, size_t len, char **ret_digest,
			  struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL, *what = xasprintf("PUT manifest '%s'", ref);
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull,push", repo);
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "PUT", .body_fd = -1, .content_type = media_type};
	int r = reg_ensure(c, err);

	if (r < 0)
		return r;
	url = reg_url(c, "/v2/%s/manifests/%s", repo, ref);
	rq.url = url;
	rq.body = data;
	rq.body_len = rq.body_size = len;
	rq.has_body = true;
	r = reg_request(c, repo, scope, what, &rq, &rs, err);
	if (r == 0 && rs.status != 201 && rs.status != 200)
		r = reg_status_error(c, repo, what, &rs, err);
	if (r == 0 && ret_digest)
		*ret_digest = reg_sha256_digest(data, len);
	http_resp_release(&rs);
	return r;
}

/* ---- platforms ---- */

int registry_select_platform(const char *index_json, size_t len, const char *platform,
			     char **ret_digest, char **ret_media_type, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *j = json_loadb(index_json, len, 0, NULL);
	json_t *manifests = json_object_get(j, "manifests"), *m;
	_cleanup_free_ char *avail = NULL;
	char buf[PLATFORM_STR_SIZE];
	struct platform want;
	size_t i;

	if (!platform)
		platform_host(&want);
	else if (platform_parse(platform, &want, err) < 0)
		return -EINVAL;
	json_array_foreach(manifests, i, m) {
		const char *d = json_string_value(json_object_get(m, "digest"));
		const char *mt = json_string_value(json_object_get(m, "mediaType"));

		if (d && reg_digest_valid(d) &&
		    platform_matches_json(json_object_get(m, "platform"), &want)) {
			*ret_digest = xstrdup(d);
			*ret_media_type = xstrdup(mt ? mt : REGISTRY_MT_OCI_MANIFEST);
			return 0;
		}
	}
	avail = platform_list_json(manifests);
	return err_new(err, KILN_ERR_INPUT, ENOENT,
		       "no image for platform '%s' in the index (it has: %s)",
		       platform_format(&want, buf), *avail ? avail : "nothing");
}
