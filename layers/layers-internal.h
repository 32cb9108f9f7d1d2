/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>

#include "layers/layers.h"

struct kiln_error;

struct store {
	char *root; /* absolute */
	int dirfds[STORE_DIR_TMP + 1]; /* O_RDONLY|O_DIRECTORY, indexed by enum store_dir */
	int gc_lock; /* shared flock on .kiln-gc while the store is open; prune upgrades it */
};

#define STORE_LOCK_NAME	   ".kiln-lock"
#define STORE_GC_LOCK_NAME ".kiln-gc"

/* json_decrefp (for _cleanup_) comes with jansson.h. */

/*
 * Read index.json, let @fn change it, replace it atomically; all under the
 * store lock. @fn returns < 0 to abort (nothing written), 0 to write, 1 to
 * leave the file as it was.
 */
int store_index_update(struct store *s,
		       int (*fn)(json_t *index, void *ctx, struct kiln_error **err), void *ctx,
		       struct kiln_error **err);
/* The current index.json (no lock: it is always replaced atomically). */
int store_index_read(struct store *s, json_t **ret, struct kiln_error **err);

/* A JSON string member, or NULL. */
const char *json_get_str(const json_t *obj, const char *key);
/* Parse a descriptor's "digest" member. */
int json_get_digest(const json_t *obj, const char *key, struct digest *ret,
		    struct kiln_error **err);
/* Canonical serialization (sorted keys, compact), malloc'd. */
char *json_canonical(const json_t *json, size_t *ret_len);
/* Parse JSON text; input error naming @what on failure. */
int json_parse_buf(const char *buf, size_t len, const char *what, json_t **ret,
		   struct kiln_error **err);

/* Byte sinks for the layer writer (compress.c). */
struct layer_sink;
typedef int (*layer_out_fn)(void *ctx, const void *data, size_t len, struct kiln_error **err);
/*
 * Tar bytes in; compressed bytes out through @out; diffID and (with @hash_out)
 * the digest of the output computed on the way.
 */
struct layer_sink *layer_sink_new(enum layer_compression c, int level, int threads, bool hash_out,
				  layer_out_fn out, void *out_ctx);
int layer_sink_write(struct layer_sink *k, const void *data, size_t len, struct kiln_error **err);
/* Flush; the digests (*ret_digest only with hash_out) and compressed size on success. */
int layer_sink_finish(struct layer_sink *k, struct digest *ret_diff_id, struct digest *ret_digest,
		      uint64_t *ret_size, struct kiln_error **err);
void layer_sink_free(struct layer_sink *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct layer_sink *, layer_sink_free)

/* A pax tar writer (libarchive) feeding a layer sink. */
struct layer_tar {
	struct archive *a;
	struct layer_sink *sink;
	struct kiln_error *sink_err; /* an error from the sink, seen through libarchive */
};
int layer_tar_open(struct layer_tar *t, const struct layers_commit_opts *opts, bool hash_out,
		   layer_out_fn out, void *out_ctx, struct kiln_error **err);
/* The error for a failed libarchive call on @path. */
int layer_tar_fail(struct layer_tar *t, const char *path, struct kiln_error **err);
/* Close the archive, finish the sink: digests, size, compression and media type. */
int layer_tar_finish(struct layer_tar *t, const struct layers_commit_opts *opts,
		     struct layer_desc *ret, struct kiln_error **err);
void layer_tar_release(struct layer_tar *t);

/* A libarchive reader over @fd: tar (any format) with gzip, zstd or no compression. */
struct archive *layers_archive_reader(int fd, struct kiln_error **err);

/* A new directory tmp/@prefix.XXXXXXXX; its name in *ret_name. */
int store_mkdtemp(struct store *s, const char *prefix, char **ret_name, struct kiln_error **err);

/*
 * Write a manifest for an existing config blob and layer blobs (not named):
 * the low level of image_write, used when a config must keep its bytes.
 */
int image_write_manifest(struct store *s, const struct digest *config, uint64_t config_size,
			 const struct layer_desc *layers, size_t n_layers, enum image_format format,
			 json_t *annotations, struct digest *ret_manifest, struct kiln_error **err);

/* From an image index, the digest of the manifest for linux/<host arch> (or the only one). */
int image_index_pick(const json_t *idx, struct digest *ret, struct kiln_error **err);
