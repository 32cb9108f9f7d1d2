/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs: HEAD, GET streamed into an fd with the SHA-256 computed on the way
 * (a transient failure resumes with Range from the bytes already received),
 * and uploads: cross-repository mount, a monolithic POST+PUT for small blobs,
 * POST, PATCH chunks and PUT for large ones; a chunk the registry lost (it
 * restarted) is recovered from the upload's reported Range, or the upload
 * starts over once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers.h"
#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define HASH_BUF	(256 * 1024)
#define UPLOAD_RESTARTS 1
#define PROGRESS_STEP	(2ULL << 20)

static int blob_head(struct registry_client *c, const char *repo, const char *digest,
		     const char *scope, uint64_t *ret_size, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL, *what = xasprintf("HEAD blob '%s'", digest);
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "HEAD", .body_fd = -1, .follow = true};
	int r = reg_ensure(c, err);

	if (r < 0)
		return r;
	url = reg_url(c, "/v2/%s/blobs/%s", repo, digest);
	rq.url = url;
	r = reg_request(c, repo, scope, what, &rq, &rs, err);
	if (r == 0 && rs.status == 200) {
		if (ret_size && rs.length >= 0)
			*ret_size = (uint64_t)rs.length;
		r = 1;
	} else if (r == 0 && rs.status != 404) {
		r = reg_status_error(c, repo, what, &rs, err);
	}
	http_resp_release(&rs);
	return r;
}

int registry_blob_exists(struct registry_client *c, const char *repo, const char *digest,
			 uint64_t *ret_size, struct kiln_error **err)
{
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull", repo);

	return blob_head(c, repo, digest, scope, ret_size, err);
}

/* ---- GET ---- */

struct blob_get {
	struct registry_client *c;
	const char *digest;
	int fd;
	uint64_t have, total, reported;
	uint64_t limit; /* the descriptor's size: more is an error */
	struct sha256 *h; /* of the bytes in fd so far */
	bool checked; /* this attempt's first byte has been seen */
	bool too_long;
	int write_errno;
};

static int hash_existing(struct blob_get *g, struct kiln_error **err)
{
	_cleanup_free_ char *buf = xmalloc(HASH_BUF);
	uint64_t off = 0;

	while (off < g->have) {
		size_t want = (size_t)MIN((uint64_t)HASH_BUF, g->have - off);
		ssize_t n = fs_pread_all(g->fd, buf, want, (off_t)off, NULL);

		if (n < 0)
			return err_sys(err, (int)-n, "read the partial download");
		sha256_update(g->h, buf, (size_t)n);
		off += (uint64_t)n;
		if ((size_t)n < want) {
			g->have = off; /* shorter than claimed: resume from what is there */
			break;
		}
	}
	return 0;
}

static size_t get_sink(void *ud, long status, const void *p, size_t n)
{
	struct blob_get *g = ud;

	if (!g->checked) {
		g->checked = true;
		if (status == 200 && g->have > 0) { /* the server ignored Range: start over */
			log_debug("registry: '%s': server ignored Range, restarting", g->digest);
			if (ftruncate(g->fd, 0) < 0) {
				g->write_errno = errno;
				return 0;
			}
			g->have = 0;
			sha256_reset(g->h);
		}
	}
	if (n > g->limit - g->have) { /* not one byte past the descriptor's size */
		g->too_long = true;
		return 0;
	}
	int w = fs_pwrite_all(g->fd, p, n, (off_t)g->have, NULL);

	if (w < 0) {
		g->write_errno = -w;
		return 0;
	}
	sha256_update(g->h, p, n);
	g->have += n;
	if (g->have - g->reported >= PROGRESS_STEP) {
		g->reported = g->have;
		reg_progress(g->c, REGISTRY_EV_PROGRESS, g->digest, g->have, g->total);
	}
	return n;
}

static void get_before_retry(void *ud, struct http_req *rq)
{
	struct blob_get *g = ud;

	g->checked = false;
	free(rq->range);
	rq->range = g->have ? xasprintf("bytes=%" PRIu64 "-", g->have) : NULL;
}

static int get_finish(struct blob_get *g, const char *repo, struct kiln_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;

	sha256_final(g->h, &d);
	digest_hex(&d, hex);
	if (!streq(g->digest + strlen("sha256:"), hex))
		return err_new(
			err, KILN_ERR_SYSTEM, EBADMSG,
			"registry '%s': repository '%s': blob '%s': digest mismatch, got sha256:%s (%" PRIu64
			" bytes)",
			g->c->domain, repo, g->digest, hex, g->have);
	reg_progress(g->c, REGISTRY_EV_DONE, g->digest, g->have, g->have);
	return 0;
}

static int too_long(struct blob_get *g, const char *repo, struct kiln_error **err)
{
	return err_new(err, KILN_ERR_INPUT, EFBIG,
		       "registry '%s': repository '%s': blob '%s' is larger than the %" PRIu64
		       " bytes its descriptor says; stopped reading",
		       g->c->domain, repo, g->digest, g->limit);
}

int registry_blob_get(struct registry_client *c, const char *repo, const char *digest, int fd,
		      uint64_t have, uint64_t size, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL, *what = xasprintf("GET blob '%s'", digest);
	_cleanup_free_ char *scope = xasprintf("repository:%s:pull", repo);
	_cleanup_(sha256_freep) struct sha256 *h = sha256_new();
	struct blob_get g = {
		.c = c, .digest = digest, .fd = fd, .have = have, .limit = size, .h = h};
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "GET", .body_fd = -1, .follow = true};
	int r;

	if (!reg_digest_valid(digest))
		return err_new(err, KILN_ERR_INPUT, EINVAL, "bad blob digest '%s'", digest);
	if (have > size)
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "blob '%s': %" PRIu64 " bytes already, more than its %" PRIu64,
			       digest, have, size);
	if ((r = reg_ensure(c, err)) < 0)
		return r;
	if ((r = hash_existing(&g, err)) < 0)
		return r;
	url = reg_url(c, "/v2/%s/blobs/%s", repo, digest);
	rq.url = url;
	rq.sink = get_sink;
	rq.sink_ud = &g;
	rq.before_retry = get_before_retry;
	get_before_retry(&g, &rq);
	reg_progress(c, REGISTRY_EV_START, digest, have, 0);
	r = reg_request(c, repo, scope, what, &rq, &rs, err);
	if (g.too_long)
		r = too_long(&g, repo, err);
	else if (g.write_errno)
		r = err_sys(err, g.write_errno, "%s: write", what);
	else if (r == 0 && rs.status != 200 && rs.status != 206)
		r = reg_status_error(c, repo, what, &rs, err);
	if (r == 0)
		r = get_finish(&g, repo, err);
	free(rq.range);
	http_resp_release(&rs);
	return r;
}

/* ---- upload ---- */

struct upload {
	struct registry_client *c;
	const char *repo, *digest, *scope;
	int fd;
	uint64_t size, base, reported;
	char *location; /* the upload session's URL */
};

static char *absolute_url(struct registry_client *c, const char *loc)
{
	if (startswith(loc, "http://") || startswith(loc, "https://"))
		return xstrdup(loc);
	return reg_url(c, "%s%s", loc[0] == '/' ? "" : "/", loc);
}

static int take_location(struct upload *u, struct http_resp *rs, const char *what,
			 struct kiln_error **err)
{
	if (!rs->location)
		return err_new(err, KILN_ERR_SYSTEM, EPROTO,
			       "registry '%s': repository '%s': %s: HTTP %ld without a Location",
			       u->c->domain, u->repo, what, rs->status);
	free(u->location);
	u->location = absolute_url(u->c, rs->location);
	return 0;
}

/* POST: 201 = mounted, 202 = an upload session (u->location). */
static int upload_start(struct upload *u, const char *mount_from, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL;
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "POST", .body_fd = -1, .has_body = true};
	const char *what = mount_from ? "mount blob" : "start upload";
	int r;

	if (mount_from)
		url = reg_url(u->c, "/v2/%s/blobs/uploads/?mount=%s&from=%s", u->repo, u->digest,
			      mount_from);
	else
		url = reg_url(u->c, "/v2/%s/blobs/uploads/", u->repo);
	rq.url = url;
	r = reg_request(u->c, u->repo, u->scope, what, &rq, &rs, err);
	if (r == 0 && rs.status == 201 && mount_from)
		r = 1;
	else if (r == 0 && rs.status == 202)
		r = take_location(u, &rs, what, err);
	else if (r == 0)
		r = reg_status_error(u->c, u->repo, what, &rs, err);
	http_resp_release(&rs);
	return r;
}

static void upload_sent(void *ud, uint64_t n)
{
	struct upload *u = ud;

	if (u->base + n - u->reported >= PROGRESS_STEP) {
		u->reported = u->base + n;
		reg_progress(u->c, REGISTRY_EV_PROGRESS, u->digest, u->reported, u->size);
	}
}

static char *with_digest(const struct upload *u)
{
	return xasprintf("%s%cdigest=%s", u->location, strchr(u->location, '?') ? '&' : '?',
			 u->digest);
}

/* Send [off, off+len) with PATCH (or the final PUT when @final). */
static int upload_send(struct upload *u, uint64_t off, uint64_t len, bool final,
		       struct http_resp *rs, struct kiln_error **err)
{
	_cleanup_free_ char *url = final ? with_digest(u) : xstrdup(u->location);
	_cleanup_free_ char *crange = NULL;
	struct http_req rq = {
		.method = final ? "PUT" : "PATCH", .body_fd = u->fd, .has_body = true};

	rq.url = url;
	rq.body_off = off;
	rq.body_size = len;
	rq.content_type = "application/octet-stream";
	rq.sent = upload_sent;
	rq.sink_ud = u;
	if (!final && len > 0) {
		crange = xasprintf("Content-Range: %" PRIu64 "-%" PRIu64, off, off + len - 1);
		rq.extra_header = crange;
	}
	u->base = off;
	return reg_request(u->c, u->repo, u->scope, final ? "finish upload" : "upload chunk", &rq,
			   rs, err);
}

/* Where the registry's copy of the upload ends (GET on the session), or -1. */
static int64_t upload_offset(struct upload *u)
{
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "GET", .body_fd = -1, .url = u->location};
	int64_t end = -1;
	uint64_t a, b;

	if (reg_request(u->c, u->repo, u->scope, "upload status", &rq, &rs, NULL) == 0 &&
	    rs.status == 204) {
		if (!rs.range)
			end = 0;
		else if (sscanf(rs.range, "%" SCNu64 "-%" SCNu64, &a, &b) == 2 ||
			 sscanf(rs.range, "bytes=%" SCNu64 "-%" SCNu64, &a, &b) == 2)
			end = (int64_t)b + 1;
		if (rs.range && streq(rs.range, "0-0"))
			end = 0; /* distribution reports an empty upload as 0-0 */
		if (rs.location) {
			free(u->location);
			u->location = absolute_url(u->c, rs.location);
		}
	}
	http_resp_release(&rs);
	return end;
}

/* The chunked body: returns 0 when all bytes are in, < 0 on error, 1 to start over. */
static int upload_chunks(struct upload *u, struct kiln_error **err)
{
	uint64_t off = 0, chunk = u->c->opts.chunk_size;

	while (off < u->size) {
		uint64_t len = MIN(chunk, u->size - off);
		struct http_resp rs = {.body = STRBUF_INIT};
		_cleanup_(err_freep) struct kiln_error *e = NULL;
		int r = upload_send(u, off, len, false, &rs, &e);
		int64_t at;

		if (r == 0 && rs.status == 202 && take_location(u, &rs, "upload chunk", err) == 0) {
			off += len;
			http_resp_release(&rs);
			continue;
		}
		if (r == 0 && rs.status != 202 && rs.status != 404 && rs.status != 416 &&
		    rs.status != 400) {
			r = reg_status_error(u->c, u->repo, "upload chunk", &rs, err);
			http_resp_release(&rs);
			return r;
		}
		http_resp_release(&rs);
		/* lost: ask the registry how far it got */
		at = upload_offset(u);
		log_debug("registry '%s': upload of '%s' interrupted at %" PRIu64
			  ", registry has %" PRId64,
			  u->c->domain, u->digest, off, at);
		if (at < 0 || (uint64_t)at > u->size)
			return 1; /* the session is gone: start over */
		off = (uint64_t)at;
		reg_progress(u->c, REGISTRY_EV_RETRY, u->digest, off, u->size);
	}
	return 0;
}

static int upload_finish(struct upload *u, bool with_body, struct kiln_error **err)
{
	struct http_resp rs = {.body = STRBUF_INIT};
	int r = upload_send(u, 0, with_body ? u->size : 0, true, &rs, err);

	if (r == 0 && rs.status != 201 && rs.status != 204)
		r = reg_status_error(u->c, u->repo, "finish upload", &rs, err);
	http_resp_release(&rs);
	return r;
}

static int upload_once(struct upload *u, struct kiln_error **err)
{
	int r = upload_start(u, NULL, err);

	if (r < 0)
		return r;
	if (u->size <= u->c->opts.chunk_size) /* monolithic: the body rides on the PUT */
		return upload_finish(u, true, err);
	r = upload_chunks(u, err);
	if (r != 0)
		return r;
	return upload_finish(u, false, err);
}

static int upload_blob(struct upload *u, struct kiln_error **err)
{
	int r;

	for (unsigned restart = 0;; restart++) {
		_cleanup_(err_freep) struct kiln_error *e = NULL;

		r = upload_once(u, &e);
		bool lost = r < 0 && e && (e->errnum == EHOSTUNREACH || e->errnum == ENOENT);

		if (r <= 0 && !(lost && restart < UPLOAD_RESTARTS)) {
			if (r < 0 && err)
				*err = TAKE_PTR(e);
			return r;
		}
		if (r > 0 && restart >= UPLOAD_RESTARTS)
			return err_new(
				err, KILN_ERR_SYSTEM, EIO,
				"registry '%s': repository '%s': upload of blob '%s' was lost twice; giving up",
				u->c->domain, u->repo, u->digest);
		log_debug("registry '%s': restarting the upload of '%s'", u->c->domain, u->digest);
		reg_progress(u->c, REGISTRY_EV_RETRY, u->digest, 0, u->size);
	}
}

int registry_blob_put(struct registry_client *c, const char *repo, const char *digest, int fd,
		      uint64_t size, const char *mount_from, struct kiln_error **err)
{
	_cleanup_free_ char *scope = NULL;
	struct upload u = {.c = c, .repo = repo, .digest = digest, .fd = fd, .size = size};
	int r;

	if (!reg_digest_valid(digest))
		return err_new(err, KILN_ERR_INPUT, EINVAL, "bad blob digest '%s'", digest);
	if (mount_from && streq(mount_from, repo))
		mount_from = NULL;
	scope = mount_from
			? xasprintf("repository:%s:pull,push repository:%s:pull", repo, mount_from)
			: xasprintf("repository:%s:pull,push", repo);
	u.scope = scope;
	r = blob_head(c, repo, digest, scope, NULL, err);
	if (r != 0) {
		if (r > 0)
			reg_progress(c, REGISTRY_EV_SKIPPED, digest, size, size);
		return r < 0 ? r : REGISTRY_UPLOAD_EXISTED;
	}
	if (mount_from) {
		r = upload_start(&u, mount_from, err);
		if (r > 0) {
			reg_progress(c, REGISTRY_EV_MOUNTED, digest, size, size);
			free(u.location);
			return REGISTRY_UPLOAD_MOUNTED;
		}
		free(u.location); /* not mounted: start a clean session below */
		u.location = NULL;
		if (r < 0)
			return r;
	}
	reg_progress(c, REGISTRY_EV_START, digest, 0, size);
	r = upload_blob(&u, err);
	free(u.location);
	if (r < 0)
		return r;
	reg_progress(c, REGISTRY_EV_DONE, digest, size, size);
	return REGISTRY_UPLOAD_SENT;
}
