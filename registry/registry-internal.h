/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* registry/ internals: the client, one HTTP exchange, auth. Not for other modules. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "registry/registry.h"
#include "util/strbuf.h"

enum reg_auth_scheme {
	REG_AUTH_UNKNOWN,
	REG_AUTH_NONE,
	REG_AUTH_BASIC,
	REG_AUTH_BEARER,
};

struct reg_token {
	char *scope;
	char *token;
	time_t expires;
};

struct registry_client {
	char *domain; /* as the user wrote it: "docker.io", "127.0.0.1:5000" */
	char *host; /* what we connect to: "registry-1.docker.io" for docker.io */
	char *base; /* "https://host" or "http://host", set by the first ping */
	struct registry_opts opts; /* the strings are owned copies */
	char *user, *secret; /* credentials, or NULL */

	pthread_mutex_t lock; /* auth state and tokens */
	enum reg_auth_scheme scheme;
	char *realm, *service;
	struct reg_token *tokens;
	size_t n_tokens, alloc_tokens;

	CURLSH *share; /* DNS, TLS sessions and connections, shared by all transfers */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t progress_lock;
};

/* ---- http.c: one exchange, no auth logic, no retries ---- */

struct http_req {
	const char *method;
	const char *url;
	const char *accept; /* header value, or NULL */
	const char *content_type;
	char *range; /* "bytes=N-" or NULL (owned by the caller) */
	const char *authorization; /* the Authorization header value, or NULL */
	const char *extra_header; /* one more "Name: value" header, or NULL */
	const void *body; /* request body in memory, or ... */
	size_t body_len;
	int body_fd; /* ... from this fd (pread) when >= 0 */
	uint64_t body_off, body_size;
	bool has_body;
	bool follow; /* follow redirects (blob GETs) */
	bool no_retry; /* one attempt only (probes) */
	bool no_auth; /* a 401 is an answer, not a challenge to meet (the first ping) */
	/* 2xx response bodies go to @sink when set (returning < n aborts), else into resp.body. */
	size_t (*sink)(void *ud, long status, const void *p, size_t n);
	void *sink_ud;
	/* Called before each attempt after the first (to set Range, rewind state). */
	void (*before_retry)(void *ud, struct http_req *rq);
	/* Upload progress: bytes of the body sent so far. */
	void (*sent)(void *ud, uint64_t n);
};

struct http_resp {
	long status;
	struct strbuf body; /* non-2xx bodies (errors), or 2xx without a sink; capped */
	char *location, *content_type, *digest, *www_auth, *range, *retry_after;
	int64_t length;
	CURLcode curl;
	char curl_msg[CURL_ERROR_SIZE];
};

void http_resp_release(struct http_resp *rs);
/* 0 when an HTTP response arrived (any status), -1 on a transport error (rs->curl says). */
int http_perform(struct registry_client *c, struct http_req *rq, struct http_resp *rs);
/* True for transport errors worth retrying (connection refused, reset, timeouts). */
bool http_curl_retryable(CURLcode code);

/* ---- client.c ---- */

/*
 * One request with auth and retries. @scope is the token scope(s), space
 * separated ("repository:app:pull,push"), or NULL. @what names the operation
 * for errors ("GET manifest 'latest'"). Returns 0 with rs filled for any HTTP
 * status (the caller judges it), or a negative error.
 */
int reg_request(struct registry_client *c, const char *repo, const char *scope, const char *what,
		struct http_req *rq, struct http_resp *rs, struct kiln_error **err);
/* The standard error for an unexpected status: names registry, repository, HTTP status. */
int reg_status_error(struct registry_client *c, const char *repo, const char *what,
		     const struct http_resp *rs, struct kiln_error **err);
/* Find the scheme (https, or http for local registries) and the auth scheme, once. */
int reg_ensure(struct registry_client *c, struct kiln_error **err);
void reg_progress(struct registry_client *c, enum registry_event ev, const char *digest,
		  uint64_t done, uint64_t total);
char *reg_url(struct registry_client *c, const char *fmt, ...) _printf_(2, 3);

/* ---- auth.c ---- */

struct reg_challenge {
	enum reg_auth_scheme scheme;
	char *realm, *service, *scope, *error;
};
/* Parse a WWW-Authenticate value; unknown schemes give REG_AUTH_UNKNOWN. */
int reg_challenge_parse(const char *value, struct reg_challenge *ret);
void reg_challenge_release(struct reg_challenge *ch);
/* Remember the scheme (and realm, service) of a 401's challenge. */
int reg_auth_learn(struct registry_client *c, const struct http_resp *rs, struct kiln_error **err);
/* Handle a 401: learn the scheme, fetch a token for @scope. 0 to retry, < 0 to give up. */
int reg_auth_handle_401(struct registry_client *c, const char *repo, const char *scope,
			const struct http_resp *rs, struct kiln_error **err);
/* Before a request: fetch a bearer token for @scope when the registry wants one. */
int reg_auth_prepare(struct registry_client *c, const char *repo, const char *scope,
		     struct kiln_error **err);
/* The Authorization header value for a request with @scope, or NULL (malloc'd). */
char *reg_auth_header(struct registry_client *c, const char *scope);
/* Drop the cached token for @scope (the registry refused it). */
void reg_auth_forget(struct registry_client *c, const char *scope);
void reg_auth_clear(struct registry_client *c);
char *reg_base64(const void *data, size_t len);
/* Decode; returns NULL on bad input. */
char *reg_base64_decode(const char *s, size_t *ret_len);

/* ---- digest helpers (digest.c) ---- */
/* "sha256:<hex>" of a buffer, malloc'd. */
char *reg_sha256_digest(const void *data, size_t len);
bool reg_digest_valid(const char *digest);

/* ---- pool.c ---- */
struct reg_job {
	int (*fn)(void *arg, struct kiln_error **err);
	void *arg;
};
/* Run @jobs on up to @parallel threads; returns the first failure's code and error. */
int reg_run_jobs(struct reg_job *jobs, size_t n, unsigned parallel, struct kiln_error **err);

/* ---- sources.c: which repository each blob came from or went to ---- */
struct store;
/* Append "digest domain/repo" records to the store's registry-sources file. */
int reg_sources_add(struct store *s, const char *domain, const char *repo,
		    const char *const *digests, size_t n, struct kiln_error **err);
/* A repository on @domain other than @not_repo known to hold @digest (malloc'd), or NULL. */
char *reg_sources_find(const struct strbuf *records, const char *domain, const char *not_repo,
		       const char *digest);
/* Load the records (an empty buffer when there are none). */
int reg_sources_load(struct store *s, struct strbuf *ret, struct kiln_error **err);
