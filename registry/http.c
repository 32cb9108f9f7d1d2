/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTP exchange over libcurl: a fresh easy handle per transfer, sharing
 * DNS, TLS sessions and connections through the client's share handle, so
 * transfers on several threads reuse connections safely. No auth and no
 * retries here; client.c does both.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kiln-config.h"
#include "registry/registry-internal.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define ERROR_BODY_MAX (64 * 1024)
#define MEM_BODY_MAX   (16 * 1024 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)

struct xfer {
	struct http_req *rq;
	struct http_resp *rs;
	CURL *h;
	uint64_t read_pos;
	bool sink_failed;
};

void http_resp_release(struct http_resp *rs)
{
	strbuf_release(&rs->body);
	free(rs->location);
	free(rs->content_type);
	free(rs->digest);
	free(rs->www_auth);
	free(rs->range);
	free(rs->retry_after);
	*rs = (struct http_resp){.body = STRBUF_INIT};
}

bool http_curl_retryable(CURLcode code)
{
	/* not CURLE_COULDNT_RESOLVE_HOST: a name that does not resolve rarely starts to */
	static const CURLcode transient[] = {
		CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR,   CURLE_RECV_ERROR,
		CURLE_GOT_NOTHING,     CURLE_PARTIAL_FILE, CURLE_OPERATION_TIMEDOUT,
	};

	for (size_t i = 0; i < ARRAY_SIZE(transient); i++)
		if (code == transient[i])
			return true;
	return false;
}

/* The headers we keep, by name. */
static char **header_slot(struct http_resp *rs, const char *name, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} keep[] = {
		{"location", offsetof(struct http_resp, location)},
		{"content-type", offsetof(struct http_resp, content_type)},
		{"docker-content-digest", offsetof(struct http_resp, digest)},
		{"www-authenticate", offsetof(struct http_resp, www_auth)},
		{"range", offsetof(struct http_resp, range)},
		{"retry-after", offsetof(struct http_resp, retry_after)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (strlen(keep[i].name) == n && strncasecmp(keep[i].name, name, n) == 0)
			return (char **)((char *)rs + keep[i].off);
	return NULL;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nitems, n = len;
	const char *colon = memchr(data, ':', len), *v;
	char **slot;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (redirect, 100) */
		free(x->rs->www_auth);
		x->rs->www_auth = NULL;
		return len;
	}
	if (!colon)
		return len;
	slot = header_slot(x->rs, data, (size_t)(colon - data));
	if (!slot)
		return len;
	v = colon + 1;
	while (v < data + n && (*v == ' ' || *v == '\t'))
		v++;
	while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n' || data[n - 1] == ' '))
		n--;
	free(*slot);
	*slot = xstrndup(v, (size_t)(data + n - v));
	return len;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300 && x->rq->sink) {
		size_t got = x->rq->sink(x->rq->sink_ud, status, data, n);

		if (got != n)
			x->sink_failed = true;
		return got;
	}
	if (x->rs->body.len + n > (status >= 300 ? ERROR_BODY_MAX : MEM_BODY_MAX))
		return status >= 300 ? n : 0; /* drop the rest of long error pages */
	strbuf_add(&x->rs->body, data, n);
	return n;
}

/* Any transfer stops when kiln is interrupted (util/interrupt.h). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	return interrupt_signal() ? 1 : 0;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	struct http_req *rq = x->rq;
	size_t want = size * nitems;
	uint64_t left = rq->body_size - x->read_pos;
	ssize_t n;

	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (rq->body_fd < 0) {
		memcpy(buf, (const char *)rq->body + x->read_pos, want);
		n = (ssize_t)want;
	} else {
		n = fs_pread_all(rq->body_fd, buf, want, (off_t)(rq->body_off + x->read_pos), NULL);
		if (n <= 0)
			return CURL_READFUNC_ABORT;
	}
	x->read_pos += (uint64_t)n;
	if (rq->sent)
		rq->sent(rq->sink_ud, x->read_pos);
	return (size_t)n;
}

/* Rewind for curl (redirects, auth replays on the same handle). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct xfer *x = ud;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->rq->body_size)
		return CURL_SEEKFUNC_CANTSEEK;
	x->read_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static struct curl_slist *build_headers(const struct http_req *rq)
{
	struct curl_slist *l = NULL;
	_cleanup_free_ char *tmp = NULL;

	l = curl_slist_append(l, "Expect:"); /* no 100-continue round trip */
	if (rq->accept) {
		tmp = xasprintf("Accept: %s", rq->accept);
		l = curl_slist_append(l, tmp);
		free(TAKE_PTR(tmp));
	}
	if (rq->content_type) {
		tmp = xasprintf("Content-Type: %s", rq->content_type);
		l = curl_slist_append(l, tmp);
		free(TAKE_PTR(tmp));
	}
	if (rq->range) {
		tmp = xasprintf("Range: %s", rq->range);
		l = curl_slist_append(l, tmp);
		free(TAKE_PTR(tmp));
	}
	if (rq->extra_header)
		l = curl_slist_append(l, rq->extra_header);
	if (rq->authorization) {
		tmp = xasprintf("Authorization: %s", rq->authorization);
		l = curl_slist_append(l, tmp);
		explicit_bzero(tmp, strlen(tmp));
	}
	return l;
}

static void set_tls(struct registry_client *c, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->opts.tls_verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->opts.tls_verify ? 2L : 0L);
	if (c->opts.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->opts.ca_file);
	else if (getenv("SSL_CERT_FILE"))
		curl_easy_setopt(h, CURLOPT_CAINFO, getenv("SSL_CERT_FILE"));
}

static void set_method(CURL *h, const struct http_req *rq)
{
	if (streq(rq->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (rq->has_body || !streq(rq->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_size);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
}

static void setup(struct registry_client *c, CURL *h, struct xfer *x, struct curl_slist *hdrs)
{
	curl_easy_setopt(h, CURLOPT_URL, x->rq->url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->rs->curl_msg);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, x);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a stalled transfer (under 1 KiB/s for 60 s) is a connection error */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, x->rq->follow ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	set_tls(c, h);
	set_method(h, x->rq);
}

int http_perform(struct registry_client *c, struct http_req *rq, struct http_resp *rs)
{
	_cleanup_(curl_easy_cleanupp) CURL *h = curl_easy_init();
	_cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = build_headers(rq);
	struct xfer x = {.rq = rq, .rs = rs, .h = h};
	curl_off_t len = -1;

	if (!rq->has_body)
		rq->body_size = 0;
	if (!h)
		abort();
	setup(c, h, &x, hdrs);
	log_debug("registry: %s %s", rq->method, rq->url);
	rs->curl = curl_easy_perform(h);
	if (hdrs && rq->authorization) /* wipe the credential from our copy of the headers */
		for (struct curl_slist *l = hdrs; l; l = l->next)
			if (startswith(l->data, "Authorization:"))
				explicit_bzero(l->data, strlen(l->data));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	rs->length = len;
	if (rs->curl != CURLE_OK && !(x.sink_failed && rs->curl == CURLE_WRITE_ERROR)) {
		if (!rs->curl_msg[0])
			snprintf(rs->curl_msg, sizeof(rs->curl_msg), "%s",
				 curl_easy_strerror(rs->curl));
		log_debug("registry: %s %s: %s", rq->method, rq->url, rs->curl_msg);
		return -1;
	}
	log_debug("registry: %s %s: %ld", rq->method, rq->url, rs->status);
	return rs->curl == CURLE_OK ? 0 : -1;
}
