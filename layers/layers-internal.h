/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>

#include "layers/layers.h"

struct kiln_error;

struct store {
	char *root; /* absolute */
	int dirfds[STORE_DIR_DIFFIDS + 1]; /* O_RDONLY|O_DIRECTORY, indexed by enum store_dir */
	int gc_lock; /* shared flock on .kiln-gc while the store is open; prune upgrades it */
};

/* Every directory of the store; its lock files are 0600 (fs_lock). */
#define STORE_DIR_MODE 0700

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

/*
 * gzip blocks and their indexes (blocks.c). A block ends at an entry boundary
 * whose name hash has the low GZ_CUT_BITS clear, once it holds GZ_BLOCK_MIN
 * bytes, or at GZ_BLOCK_MAX bytes: cut points come from the content, so an
 * unchanged run of entries gives the same blocks wherever it sits.
 */
#define GZ_BLOCK_MAX (256 * 1024)
#define GZ_BLOCK_MIN (64 * 1024)
#define GZ_CUT_BITS  5

struct gz_block {
	unsigned char sha[32]; /* SHA-256 of the uncompressed bytes */
	uint64_t out_off; /* of the compressed bytes in the blob */
	uint32_t in_len, out_len;
	uint32_t crc, out_crc; /* CRC-32 of the uncompressed and of the compressed bytes */
};

struct gz_index {
	struct gz_block *v;
	size_t n, alloc;
	size_t *table, mask; /* open addressing on the SHA-256 */
	int blob_fd; /* the blob the blocks are in (loaded indexes) */
};

void gz_index_add(struct gz_index *ix, const struct gz_block *b);
const struct gz_block *gz_index_find(const struct gz_index *ix, const unsigned char sha[32],
				     uint32_t in_len);
/* Read block @b into @out and check its CRC; false when it cannot be used. */
bool gz_index_read_block(const struct gz_index *ix, const struct gz_block *b, unsigned char *out,
			 size_t out_alloc);
int gz_index_save(struct store *s, const struct digest *blob, const struct gz_index *ix, int level,
		  struct kiln_error **err);
/* The index of @blob compressed at @level, with the blob open; NULL when there is none. */
struct gz_index *gz_index_load(struct store *s, const struct digest *blob, int level);
void gz_index_free(struct gz_index *ix);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct gz_index *, gz_index_free)

/* Test hook: how many blocks were copied from an earlier blob. */
extern unsigned long layer_blocks_reused;

/* A possible cut before the next tar entry, whose name hashes to @h (gzip only). */
int layer_sink_mark(struct layer_sink *k, uint64_t h, struct kiln_error **err);
/* Reuse the blocks of @ix (taken) where the tar bytes match. */
void layer_sink_reuse(struct layer_sink *k, struct gz_index *ix);
/* Keep an index of the blocks written; after finish, layer_sink_take_index(). */
void layer_sink_keep_index(struct layer_sink *k);
struct gz_index *layer_sink_take_index(struct layer_sink *k);
/* The compression level in use. */
int layer_sink_level(const struct layer_sink *k);

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

/*
 * Write a manifest for an existing config blob and layer blobs (not named):
 * the low level of image_write, used when a config must keep its bytes.
 */
int image_write_manifest(struct store *s, const struct digest *config, uint64_t config_size,
			 const struct layer_desc *layers, size_t n_layers, enum image_format format,
			 json_t *annotations, struct digest *ret_manifest, struct kiln_error **err);

/*
 * From an image index, the digest of the manifest for @want (NULL: linux/<host
 * arch>, or the only one).
 */
int image_index_pick(const json_t *idx, const struct platform *want, struct digest *ret,
		     struct kiln_error **err);
