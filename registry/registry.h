/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * registry/: the OCI distribution API over libcurl (DESIGN.md, section 4).
 *
 * References are parsed with Docker's normalisation rules; a client talks to
 * one registry host, authenticates anonymously, with basic credentials or with
 * bearer tokens obtained through the WWW-Authenticate challenge, and retries
 * connection errors, 429 and 5xx with backoff. Credentials never appear in
 * logs or error messages.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_error;

/* ---- references ---- */

/*
 * A normalised image reference: "alpine" is domain "docker.io", path
 * "library/alpine", tag "latest". @tag is NULL only when @digest is set and no
 * tag was given. All fields are owned by the struct.
 */
struct registry_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000", "quay.io" */
	char *path; /* "library/alpine", "team/app" */
	char *tag; /* "latest", or NULL */
	char *digest; /* "sha256:<64 hex>", or NULL */
};

/* Parse @s (an optional "docker://" prefix is accepted); *ret is set on success only. */
int registry_ref_parse(const char *s, struct registry_ref *ret, struct kiln_error **err);
void registry_ref_release(struct registry_ref *r);
/* "domain/path[:tag][@digest]", malloc'd. */
char *registry_ref_format(const struct registry_ref *r);
/* "domain/path", malloc'd. */
char *registry_ref_name(const struct registry_ref *r);
/* @s in full for messages ("alpine" -> "docker.io/library/alpine:latest"), or a copy. */
char *registry_ref_display(const char *s);
/* True for localhost, 127.0.0.0/8 and [::1] registries (plain HTTP allowed, as podman). */
bool registry_domain_is_local(const char *domain);

/* ---- clients ---- */

enum registry_event {
	REGISTRY_EV_START, /* a blob transfer starts: @total is its size */
	REGISTRY_EV_PROGRESS, /* @done of @total bytes */
	REGISTRY_EV_SKIPPED, /* the destination already has the blob */
	REGISTRY_EV_MOUNTED, /* mounted from another repository, nothing uploaded */
	REGISTRY_EV_DONE, /* transferred and verified */
	REGISTRY_EV_RETRY, /* a transient failure; retrying (@done bytes kept) */
};

/* Called from any transfer thread, serialised by the client; may be NULL. */
typedef void (*registry_progress_fn)(void *userdata, enum registry_event ev, const char *digest,
				     uint64_t done, uint64_t total);

struct registry_opts {
	int tls_verify; /* 1 (default when 0 is not set explicitly: see REGISTRY_OPTS_INIT), 0 */
	const char *ca_file; /* extra trust: a PEM bundle (else $SSL_CERT_FILE or the system's) */
	const char *auth_file; /* credentials file; NULL: the usual search (registry_auth_path) */
	const char *username; /* explicit credentials (--creds); override the auth files */
	const char *password;
	unsigned parallel; /* blob transfers at once, 1..8 (default 3) */
	unsigned retries; /* attempts after the first on transient failures (default 4) */
	uint64_t chunk_size; /* upload chunk size in bytes (default 64 MiB) */
	const char *platform; /* pull: "os/arch[/variant]" from an index (NULL: this machine's) */
	/*
	 * pull: name the index itself (stored as sent, with the one manifest
	 * taken from it), so the store can add its other platforms later (builds)
	 */
	bool keep_index;
	registry_progress_fn progress;
	void *progress_data;
};

#define REGISTRY_OPTS_INIT                                   \
	{                                                    \
		.tls_verify = 1, .parallel = 3, .retries = 4 \
	}

/* One registry host. Thread-safe for the blob operations below. */
struct registry_client;

int registry_client_new(const char *domain, const struct registry_opts *opts,
			struct registry_client **ret, struct kiln_error **err);
void registry_client_free(struct registry_client *c);

/* Check that the registry answers /v2/ with the credentials we have (login). */
int registry_client_ping(struct registry_client *c, struct kiln_error **err);

/* ---- the distribution API ---- */

#define REGISTRY_MT_OCI_INDEX	    "application/vnd.oci.image.index.v1+json"
#define REGISTRY_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define REGISTRY_MT_DOCKER_LIST	    "application/vnd.docker.distribution.manifest.list.v2+json"
#define REGISTRY_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct registry_manifest {
	char *media_type;
	char *digest; /* "sha256:…" of @data, verified against the request when it was a digest */
	char *data;
	size_t len;
};
void registry_manifest_release(struct registry_manifest *m);

/* GET a manifest or index by tag or digest; @ref is "latest" or "sha256:…". */
int registry_manifest_get(struct registry_client *c, const char *repo, const char *ref,
			  struct registry_manifest *ret, struct kiln_error **err);
/* HEAD: 1 and *ret_digest (may be NULL) when present, 0 when absent. */
int registry_manifest_head(struct registry_client *c, const char *repo, const char *ref,
			   char **ret_digest, struct kiln_error **err);
/* PUT @data under @ref (tag or digest); *ret_digest (may be NULL) is its digest. */
int registry_manifest_put(struct registry_client *c, const char *repo, const char *ref,
			  const char *media_type, const void *data, size_t len, char **ret_digest,
			  struct kiln_error **err);

/* HEAD: 1 (and *ret_size when not NULL) when the blob exists in @repo, 0 when not. */
int registry_blob_exists(struct registry_client *c, const char *repo, const char *digest,
			 uint64_t *ret_size, struct kiln_error **err);
/*
 * GET a blob into @fd, which already holds its first @have bytes (a resumed
 * download: the rest is requested with Range and the hash covers all of it).
 * The SHA-256 is checked while the data streams; a mismatch is an error and
 * @fd then holds garbage. Transient failures resume from the bytes received.
 * @size is the descriptor's: a server sending more (a longer Content-Length,
 * or a chunked body that does not end) is cut off at @size + 1 bytes with an
 * error, so neither memory nor @fd grows past it. UINT64_MAX: unknown.
 */
int registry_blob_get(struct registry_client *c, const char *repo, const char *digest, int fd,
		      uint64_t have, uint64_t size, struct kiln_error **err);

enum registry_upload_result {
	REGISTRY_UPLOAD_EXISTED = 0,
	REGISTRY_UPLOAD_MOUNTED = 1,
	REGISTRY_UPLOAD_SENT = 2,
};

/*
 * Make @digest (the @size bytes at the start of @fd, read with pread) exist in
 * @repo: skipped when present, mounted from @mount_from (a repository on the
 * same registry, may be NULL) when the registry allows it, else uploaded with
 * POST, PATCH chunks and PUT. Returns an enum registry_upload_result.
 */
int registry_blob_put(struct registry_client *c, const char *repo, const char *digest, int fd,
		      uint64_t size, const char *mount_from, struct kiln_error **err);

/*
 * From an OCI index or Docker manifest list, the manifest for @platform
 * ("os/arch[/variant]", NULL: this machine's). Sets *ret_digest and
 * *ret_media_type (malloc'd).
 */
int registry_select_platform(const char *index_json, size_t len, const char *platform,
			     char **ret_digest, char **ret_media_type, struct kiln_error **err);

/* ---- credentials ---- */

/*
 * The credentials file kiln reads first and `kiln login` writes: $REGISTRY_AUTH_FILE,
 * else $XDG_RUNTIME_DIR/containers/auth.json, else
 * $XDG_CONFIG_HOME/containers/auth.json (~/.config/…). malloc'd.
 */
char *registry_auth_path(void);
/*
 * Look up credentials for @domain (and, in auth.json, "@domain/@repo" keys):
 * @auth_file or registry_auth_path(), then $DOCKER_CONFIG/config.json
 * (~/.docker/config.json) with credHelpers and credsStore through
 * docker-credential-NAME. Returns 1 with *ret_user and *ret_secret set, 0 when none.
 * An identity token comes back with user "<token>".
 */
int registry_auth_lookup(const char *auth_file, const char *domain, const char *repo,
			 char **ret_user, char **ret_secret, struct kiln_error **err);
/* Store (login) or remove (logout; returns 0 when nothing was stored) credentials. */
int registry_auth_store(const char *auth_file, const char *domain, const char *user,
			const char *secret, struct kiln_error **err);
int registry_auth_remove(const char *auth_file, const char *domain, struct kiln_error **err);

/* ---- pull and push with the store (layers/layers.h) ---- */

struct store;

/*
 * Pull @ref (a reference, "docker://" optional) into the store: an index is
 * resolved to @opts->platform, blobs the store has are not fetched, the rest
 * stream into tmp/ (an interrupted download resumes there next time, with
 * Range), verified, then renamed into blobs/. The manifest is stored as the
 * registry sent it (its digest is kept) and named @name (NULL: @ref as
 * written, without "docker://"). *ret_digest (may be NULL): the manifest digest.
 */
int registry_pull(struct store *s, const char *ref, const char *name,
		  const struct registry_opts *opts, char **ret_digest, struct kiln_error **err);

/*
 * Push the stored image @what (a name or digest) to @dest (a reference; NULL:
 * @what itself). Nothing is sent when the registry already has this manifest
 * under the tag; blobs it has are skipped, blobs the store pulled from (or
 * pushed to) another repository of the same registry are mounted, the rest
 * uploaded @opts->parallel at a time; the manifest goes last.
 * *ret_digest (may be NULL): the pushed manifest's digest.
 */
int registry_push(struct store *s, const char *what, const char *dest,
		  const struct registry_opts *opts, char **ret_digest, struct kiln_error **err);
