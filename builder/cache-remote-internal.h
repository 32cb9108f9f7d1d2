/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The shared step cache (README.md, "Sharing the cache between CI runners"):
 * `--cache-to` writes the step cache entries of a build, with their layer
 * blobs, as one OCI image manifest, into a registry (type=registry) or an OCI
 * image layout directory (type=local); `--cache-from` reads such manifests
 * and, on a miss in the store, looks the step key up in them.
 *
 * The manifest's config (media type KILN_CACHE_CONFIG_TYPE) is
 *   {"schemaVersion": 1,
 *    "records": {"linux/amd64": {"sha256:<step key>": <entry>, ...}}}
 * where <entry> is exactly what the store keeps in cache/<key> (cache.c):
 * {"created": RFC 3339, "layer": {"mediaType", "digest", "diff_id", "size"} | null};
 * its layers are the blobs the entries name, sorted by digest. Serialised with
 * sorted keys, so the same entries give the same manifest digest.
 *
 * Nothing read from a cache is trusted: a blob is stored only when its digest
 * matches and used only when its diffID matches; anything else is a miss.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "builder/cache-internal.h"
#include "layers/layers.h"
#include "util/error.h"
#include "util/strv.h"

#define KILN_CACHE_CONFIG_TYPE "application/vnd.kiln.cache.config.v1+json"
#define KILN_CACHE_DEFAULT_TAG "latest"
/*
 * The inline cache (--cache-to type=inline): the image manifest's annotation
 * KILN_CACHE_ANNOTATION holds the config document above, as compact JSON with
 * sorted keys: the records of the steps built (in any stage) that made no layer or
 * a layer of that image, so no other blob is needed. The image config is untouched: the
 * image ID does not depend on whether an inline cache was asked for.
 */
#define KILN_CACHE_ANNOTATION "dev.kiln.cache.v1"

enum cache_io_type {
	CACHE_IO_REGISTRY = 0,
	CACHE_IO_LOCAL,
	CACHE_IO_INLINE, /* --cache-to only: the records go into the image's manifest */
};

/* One --cache-to or --cache-from value, parsed (cache-spec.c). */
struct cache_io_spec {
	enum cache_io_type type;
	char *ref; /* registry: REG/REPO[:TAG] */
	char *dir; /* local: dest= or src= */
	char *tag; /* local: the index.json name (tag=), default "latest" */
	bool mode_max; /* mode=max: every stage built, not only the exported image's */
	bool ignore_error; /* ignore-error=true: a failed export is a warning */
	bool mounts; /* mounts=true: RUN --mount=type=cache directories too (cache-mounts.c) */
	char *text; /* the value as given, for messages */
};

/* Parse @text ("type=local,dest=DIR", "REF", ...); @to: --cache-to, else --cache-from. */
int cache_spec_parse(const char *text, bool to, struct cache_io_spec *ret, struct kiln_error **err);
void cache_spec_release(struct cache_io_spec *s);

/* ---- the format (cache-format.c) ---- */

/* "linux/amd64": the platform records are filed under. */
const char *cache_platform(void);
/* The records of the config document @config; input error when it is not one. */
int cache_config_records(json_t *config, json_t **ret, struct kiln_error **err);
/* Into @into (platform -> key -> entry), the records of @from: @from wins for equal keys. */
void cache_records_merge(json_t *into, json_t *from);
/* The config document of @records, and the manifest naming it and their layers. */
json_t *cache_config_new(json_t *records);
json_t *cache_manifest_new(json_t *records, const struct digest *config, uint64_t config_size);
/* Check that @manifest is a kiln cache manifest (EMEDIUMTYPE when it is another kind, such
 * as an image); its config descriptor in *ret_*. */
int cache_manifest_config(json_t *manifest, struct digest *ret_digest, uint64_t *ret_size,
			  struct kiln_error **err);
/* Each distinct layer of @records, in digest order. */
typedef int (*cache_layer_fn)(void *userdata, const struct layer_desc *l, struct kiln_error **err);
int cache_records_layers(json_t *records, cache_layer_fn fn, void *userdata,
			 struct kiln_error **err);

/* ---- where a cache lives (cache-local.c, cache-registry.c) ---- */

struct registry_opts;

/* The records (platform -> key -> entry) of the cache @spec names; an empty object when it
 * has none yet. */
int cache_local_read(const struct cache_io_spec *spec, json_t **ret, struct kiln_error **err);
/* Copy @l's blob from the cache into the store (digest checked). */
int cache_local_fetch(const struct cache_io_spec *spec, struct store *s, const struct layer_desc *l,
		      struct kiln_error **err);
/* Merge @records (ours win) into the cache @spec names; blobs come from @s. */
int cache_local_write(const struct cache_io_spec *spec, struct store *s, json_t *records,
		      struct kiln_error **err);

/* One connection per source, for its reads and fetches (thread-safe for fetches). */
struct cache_reg_conn;
int cache_registry_open(const struct cache_io_spec *spec, const struct registry_opts *o,
			struct cache_reg_conn **ret, struct kiln_error **err);
void cache_registry_close(struct cache_reg_conn *conn);
int cache_registry_read(struct cache_reg_conn *conn, struct store *s, json_t **ret,
			struct kiln_error **err);
int cache_registry_fetch(struct cache_reg_conn *conn, struct store *s, const struct layer_desc *l,
			 struct kiln_error **err);
/* Blobs go up while the build goes on (cache-registry.c); NULL does nothing. */
struct cache_uploader;
int cache_uploader_start(const struct cache_io_spec *spec, const struct registry_opts *o,
			 struct store *s, struct cache_uploader **ret, struct kiln_error **err);
/* Queue @l's blob (once per digest); it is uploaded on the uploader's threads. */
void cache_uploader_add(struct cache_uploader *u, const struct layer_desc *l);
/* Wait for the queue to drain; the digests the registry now has (the uploader's). */
json_t *cache_uploader_finish(struct cache_uploader *u);
void cache_uploader_free(struct cache_uploader *u);
/* @up (may be NULL): the uploader of this destination, whose blobs are not sent again. */
int cache_registry_write(const struct cache_io_spec *spec, const struct registry_opts *o,
			 struct store *s, json_t *records, struct cache_uploader *up,
			 struct kiln_error **err);

/* ---- the build's side (cache-remote.c) ---- */

struct build_ctx;
struct stage_state;

struct cache_source {
	struct cache_io_spec spec;
	bool loaded;
	json_t *records; /* platform -> key -> entry; NULL until loaded */
	struct cache_reg_conn *conn; /* type=registry, once loaded */
};

struct cache_remote {
	struct cache_source *from;
	size_t n_from;
	struct cache_io_spec *to;
	struct cache_uploader **up; /* per --cache-to type=registry, started on first use */
	bool *up_failed; /* ... could not be started: not tried again */
	size_t n_to;
	pthread_mutex_t lock; /* loading the sources, mounts */
	struct strv mounts; /* the cache mounts used: "mounts/<hex>" below the store's cache/ */
	json_t *mount_records; /* their records, made by the first export that wants them */
};

/* From the build options; NULL (and no error) when neither flag was given. */
int cache_remote_new(const struct strv *to, const struct strv *from, struct cache_remote **ret,
		     struct kiln_error **err);
void cache_remote_free(struct cache_remote *r);
/*
 * The store's entry for @key, else the first --cache-from source's: its blob is
 * fetched and verified into the store, and the entry recorded there. 1 on a
 * hit (*ret filled), 0 on a miss; never an error.
 */
int cache_lookup_shared(struct build_ctx *b, const struct digest *key, struct cache_entry *ret);
/* Remember that stage @s used (or made) @e for @key: --cache-to exports it. */
void cache_export_note(struct stage_state *s, const struct digest *key,
		       const struct cache_entry *e);
/* Stage @s just committed @e: each type=registry destination that will export it
 * starts uploading its blob now, while the build goes on. (A cached step's blob is
 * left to the export: there is no build time to hide its upload in.) */
void cache_upload_early(struct build_ctx *b, struct stage_state *s, const struct cache_entry *e);
/* The value of KILN_CACHE_ANNOTATION for an image of @layers when a --cache-to is
 * type=inline (malloc'd), else NULL. */
char *cache_inline_annotation(struct build_ctx *b, const struct layer_desc *layers, size_t n);
/* ---- RUN --mount=type=cache directories (cache-mounts.c) ---- */

struct run_mount;
/* Remember that the build mounted cache/@rel (for --cache-to ...,mounts=true). */
void cache_mount_note(struct build_ctx *b, const char *rel);
/* Restore the missing directory cache/@rel (below @cache_fd) of @m from a --cache-from
 * source: 1 when restored, 0 when not (a warning at worst, never an error). */
int cache_mount_restore(struct build_ctx *b, int cache_fd, const char *rel,
			const struct run_mount *m);
/* The noted directories, each committed as a layer: records (platform -> key -> entry). */
int cache_mounts_records(struct build_ctx *b, json_t **ret, struct kiln_error **err);

/* Write every --cache-to destination (after the image was written). */
int cache_export(struct build_ctx *b, struct kiln_error **err);
