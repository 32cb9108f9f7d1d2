/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client: one registry host, its scheme (https, or http for local
 * registries and --tls-verify=false as podman does), its credentials and
 * auth state, and reg_request(), which wraps one exchange with auth and
 * retries (backoff on connection errors, 429 and 5xx).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS	 8000
#define DEFAULT_RETRIES	 4
#define DEFAULT_PARALLEL 3
#define DEFAULT_CHUNK	 (64ULL << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	struct registry_client *c = ud;

	pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	struct registry_client *c = ud;

	pthread_mutex_unlock(&c->share_locks[data]);
}

/*
 * Per-registry trust as podman and docker keep it: the first of
 * $XDG_CONFIG_HOME/containers/certs.d/HOST/ca.crt (~/.config/…),
 * /etc/containers/certs.d/HOST/ca.crt, /etc/docker/certs.d/HOST/ca.crt.
 */
static char *certs_d_ca(const char *domain)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *candidates[3];
	char *found = NULL;

	candidates[0] = xdg && *xdg ? xasprintf("%s/containers/certs.d/%s/ca.crt", xdg, domain)
				    : xasprintf("%s/.config/containers/certs.d/%s/ca.crt",
						home ? home : "/", domain);
	candidates[1] = xasprintf("/etc/containers/certs.d/%s/ca.crt", domain);
	candidates[2] = xasprintf("/etc/docker/certs.d/%s/ca.crt", domain);
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		if (!found && access(candidates[i], R_OK) == 0)
			found = TAKE_PTR(candidates[i]);
		free(candidates[i]);
	}
	return found;
}

static void copy_opts(struct registry_client *c, const struct registry_opts *o)
{
	c->opts = *o;
	c->opts.ca_file = o->ca_file ? xstrdup(o->ca_file) : certs_d_ca(c->domain);
	if (c->opts.ca_file && !o->ca_file)
		log_debug("registry '%s': trusting '%s'", c->domain, c->opts.ca_file);
	c->opts.auth_file = o->auth_file ? xstrdup(o->auth_file) : NULL;
	c->opts.username = c->opts.password = NULL;
	if (!c->opts.retries)
		c->opts.retries = DEFAULT_RETRIES;
	if (c->opts.parallel < 1 || c->opts.parallel > 8)
		c->opts.parallel = DEFAULT_PARALLEL;
	if (!c->opts.chunk_size)
		c->opts.chunk_size = DEFAULT_CHUNK;
}

static void init_share(struct registry_client *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(c->share_locks); i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	c->share = curl_share_init();
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

static int load_creds(struct registry_client *c, const struct registry_opts *o,
		      struct kiln_error **err)
{
	int r;

	if (o->username) {
		c->user = xstrdup(o->username);
		c->secret = xstrdup(o->password ? o->password : "");
		return 0;
	}
	r = registry_auth_lookup(o->auth_file, c->domain, NULL, &c->user, &c->secret, err);
	return r < 0 ? r : 0;
}

int registry_client_new(const char *domain, const struct registry_opts *opts,
			struct registry_client **ret, struct kiln_error **err)
{
	static const struct registry_opts defaults = REGISTRY_OPTS_INIT;
	struct registry_client *c = xcalloc(1, sizeof(*c));
	int r;

	pthread_once(&curl_once, curl_init_once);
	opts = opts ? opts : &defaults;
	c->domain = xstrdup(domain);
	c->host = xstrdup(streq(domain, "docker.io") ? "registry-1.docker.io" : domain);
	copy_opts(c, opts);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->progress_lock, NULL);
	init_share(c);
	r = load_creds(c, opts, err);
	if (r < 0) {
		registry_client_free(c);
		return err_wrap(err, "registry '%s': credentials", domain);
	}
	*ret = c;
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	reg_auth_clear(c);
	curl_share_cleanup(c->share);
	for (size_t i = 0; i < ARRAY_SIZE(c->share_locks); i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->progress_lock);
	free((char *)c->opts.ca_file);
	free((char *)c->opts.auth_file);
	free_secret(c->user);
	free_secret(c->secret);
	free(c->domain);
	free(c->host);
	free(c->base);
	free(c);
}

char *reg_url(struct registry_client *c, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_addstr(&sb, c->base);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return strbuf_detach(&sb, NULL);
}

void reg_progress(struct registry_client *c, enum registry_event ev, const char *digest,
		  uint64_t done, uint64_t total)
{
	if (!c->opts.progress)
		return;
	pthread_mutex_lock(&c->progress_lock);
	c->opts.progress(c->opts.progress_data, ev, digest, done, total);
	pthread_mutex_unlock(&c->progress_lock);
}

/* ---- errors ---- */

/* "CODE: message" of the first entry of a distribution error body, or NULL. */
static char *error_detail(const struct http_resp *rs)
{
	json_t *j = json_loadb(rs->body.buf, rs->body.len, 0, NULL);
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	char *s = NULL;

	if (code || msg)
		s = xasprintf("%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
	json_decref(j);
	return s;
}

/* "registry 'D': repository 'R'", or "registry 'D'" for a request of no repository (ping) */
static char *subject(const struct registry_client *c, const char *repo)
{
	if (!repo)
		return xasprintf("registry '%s'", c->domain);
	return xasprintf("registry '%s': repository '%s'", c->domain, repo);
}

static int status_errno(long status)
{
	if (status == 401 || status == 403)
		return EACCES;
	if (status == 404)
		return ENOENT;
	return EPROTO;
}

int reg_status_error(struct registry_client *c, const char *repo, const char *what,
		     const struct http_resp *rs, struct kiln_error **err)
{
	_cleanup_free_ char *detail = error_detail(rs), *who = subject(c, repo);

	return err_new(err, KILN_ERR_SYSTEM, status_errno(rs->status), "%s: %s: HTTP %ld%s%s", who,
		       what, rs->status, detail ? ": " : "", detail ? detail : "");
}

static int transport_error(struct registry_client *c, const char *repo, const char *what,
			   const struct http_resp *rs, struct kiln_error **err)
{
	_cleanup_free_ char *who = subject(c, repo);
	const char *hint = "";

	if (rs->curl == CURLE_PEER_FAILED_VERIFICATION || rs->curl == CURLE_SSL_CACERT_BADFILE)
		hint = " (use --tls-verify=false, or trust its CA with --cert-file or SSL_CERT_FILE)";
	return err_new(err, KILN_ERR_SYSTEM, EHOSTUNREACH, "%s: %s: %s%s", who, what, rs->curl_msg,
		       hint);
}

/* ---- retries ---- */

static bool status_retryable(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static void backoff(unsigned attempt, const struct http_resp *rs)
{
	unsigned ms = BACKOFF_FIRST_MS << (attempt < 6 ? attempt : 6);
	unsigned secs;
	struct timespec ts;

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	if (rs->retry_after && parse_uint(rs->retry_after, &secs) == 0 && secs <= 30)
		ms = secs * 1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static int auth_failed(struct registry_client *c, const char *repo, const char *what,
		       const struct http_resp *rs, struct kiln_error **err)
{
	_cleanup_free_ char *detail = error_detail(rs), *who = subject(c, repo);

	if (c->user && !streq(c->user, "<token>"))
		return err_new(err, KILN_ERR_SYSTEM, EACCES,
			       "%s: %s: HTTP %ld: authentication failed for user '%s'%s%s", who,
			       what, rs->status, c->user, detail ? ": " : "", detail ? detail : "");
	return err_new(err, KILN_ERR_SYSTEM, EACCES,
		       "%s: %s: HTTP %ld: authentication required (use 'kiln login %s')%s%s", who,
		       what, rs->status, c->domain, detail ? ": " : "", detail ? detail : "");
}

static void reset_resp(struct http_resp *rs)
{
	http_resp_release(rs);
}

int reg_request(struct registry_client *c, const char *repo, const char *scope, const char *what,
		struct http_req *rq, struct http_resp *rs, struct kiln_error **err)
{
	unsigned attempt = 0, max_retries = rq->no_retry ? 0 : c->opts.retries;
	bool auth_done = false;
	int r;

	if (!rq->no_auth && (r = reg_auth_prepare(c, repo, scope, err)) < 0)
		return err_wrap(err, "%s", what);
	for (;;) {
		_cleanup_free_ char *auth = reg_auth_header(c, scope);

		if (attempt > 0 || auth_done) {
			if (rq->before_retry)
				rq->before_retry(rq->sink_ud, rq);
			reset_resp(rs);
		}
		rq->authorization = auth;
		r = http_perform(c, rq, rs);
		rq->authorization = NULL;
		if (auth)
			explicit_bzero(auth, strlen(auth));
		if (r < 0 && interrupt_signal())
			return interrupt_check(err);
		if (r < 0 && !(http_curl_retryable(rs->curl) && attempt < max_retries))
			return transport_error(c, repo, what, rs, err);
		if (r == 0 && rs->status == 401 && !rq->no_auth) {
			if (auth_done)
				return auth_failed(c, repo, what, rs, err);
			r = reg_auth_handle_401(c, repo, scope, rs, err);
			if (r < 0)
				return err_wrap(err, "%s", what);
			auth_done = true;
			continue;
		}
		if (r == 0 && !(status_retryable(rs->status) && attempt < max_retries))
			return 0;
		log_debug("registry '%s': %s: %s, retrying", c->domain, what,
			  r < 0 ? rs->curl_msg : "server busy");
		reg_progress(c, REGISTRY_EV_RETRY, NULL, 0, 0);
		backoff(attempt++, rs);
	}
}

/* ---- ping ---- */

static int ping_once(struct registry_client *c, const char *scheme, struct http_resp *rs,
		     bool probe, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL;
	struct http_req rq = {.method = "GET", .body_fd = -1, .no_auth = true, .no_retry = probe};

	free(c->base);
	c->base = xasprintf("%s://%s", scheme, c->host);
	url = reg_url(c, "/v2/");
	rq.url = url;
	return reg_request(c, NULL, NULL, "ping /v2/", &rq, rs, err);
}

static bool may_use_http(const struct registry_client *c, const struct http_resp *rs)
{
	if (!registry_domain_is_local(c->domain) && c->opts.tls_verify)
		return false;
	return rs->curl == CURLE_SSL_CONNECT_ERROR || rs->curl == CURLE_COULDNT_CONNECT ||
	       rs->curl == CURLE_RECV_ERROR || rs->curl == CURLE_GOT_NOTHING;
}

/*
 * Podman's rule: https first; plain http for local registries or with
 * --tls-verify=false. A 401 here only teaches us the auth scheme.
 */
int reg_ensure(struct registry_client *c, struct kiln_error **err)
{
	_cleanup_(err_freep) struct kiln_error *first = NULL;
	struct http_resp rs = {.body = STRBUF_INIT};
	bool probe = registry_domain_is_local(c->domain) || !c->opts.tls_verify;
	int r;

	if (c->base)
		return 0;
	r = ping_once(c, "https", &rs, probe, &first);
	if (r < 0 && may_use_http(c, &rs)) {
		http_resp_release(&rs);
		r = ping_once(c, "http", &rs, false, err);
	} else if (r < 0 && err) {
		*err = TAKE_PTR(first);
	}
	if (r == 0 && rs.status == 401)
		r = reg_auth_learn(c, &rs, err);
	else if (r == 0 && rs.status != 200)
		r = reg_status_error(c, NULL, "ping /v2/", &rs, err);
	if (r < 0) {
		free(c->base);
		c->base = NULL;
	}
	http_resp_release(&rs);
	return r;
}

/* An authenticated GET /v2/: proves the credentials (kiln login). */
int registry_client_ping(struct registry_client *c, struct kiln_error **err)
{
	_cleanup_free_ char *url = NULL;
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.method = "GET", .body_fd = -1};
	int r = reg_ensure(c, err);

	if (r < 0)
		return r;
	url = reg_url(c, "/v2/");
	rq.url = url;
	r = reg_request(c, NULL, NULL, "GET /v2/", &rq, &rs, err);
	if (r == 0 && rs.status == 401)
		r = auth_failed(c, NULL, "GET /v2/", &rs, err);
	else if (r == 0 && rs.status != 200)
		r = reg_status_error(c, NULL, "GET /v2/", &rs, err);
	http_resp_release(&rs);
	return r;
}
