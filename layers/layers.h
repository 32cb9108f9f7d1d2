/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * layers/: everything kiln keeps on disk in OCI form (DESIGN.md, "The store").
 *
 *   digests      struct digest, streaming SHA-256 through OpenSSL EVP
 *   the store    an OCI image layout at a root directory, plus snapshots/, cache/, tmp/
 *   blobs        content-addressed, written to tmp/, fsynced, verified, renamed
 *   names        index.json entries named by org.opencontainers.image.ref.name
 *   images       manifest + config (jansson), layer descriptors
 *   layers       a diff directory -> a tar layer blob (commit); a blob -> a directory (apply)
 *
 * Every function returns >= 0 on success, or a negative errno-style value with
 * *err set. Output parameters (ret_*) are set only on success.
 *
 * A struct store holds only directory fds and a shared flock on .kiln-gc (which
 * makes 'kiln prune' wait for nobody and refuse while the store is in use); it
 * may be used from several threads, and by several processes at once: every
 * index.json change takes an exclusive flock on .kiln-lock for its duration.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/cleanup.h"

struct strbuf;

struct kiln_error;

/* ---- digests ---------------------------------------------------------------------------- */

#define DIGEST_RAW_LEN 32
#define DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex digits + NUL */
#define DIGEST_STR_SIZE (7 + DIGEST_HEX_LEN + 1)

struct digest {
	unsigned char raw[DIGEST_RAW_LEN]; /* SHA-256 */
};

/* Parse "sha256:<64 lowercase hex>"; anything else is an input error naming the text. */
int digest_parse(const char *s, struct digest *ret, struct kiln_error **err);
/* Parse 64 hex digits (no algorithm prefix). */
int digest_parse_hex(const char *hex, struct digest *ret, struct kiln_error **err);
/* "sha256:<hex>" into @buf (DIGEST_STR_SIZE bytes); returns @buf. */
char *digest_format(const struct digest *d, char buf[DIGEST_STR_SIZE]);
/* The 64 hex digits only, into @buf (DIGEST_HEX_LEN + 1 bytes); returns @buf. */
char *digest_hex(const struct digest *d, char buf[DIGEST_HEX_LEN + 1]);
/* "sha256:<hex>", malloc'd. */
char *digest_str(const struct digest *d);
bool digest_eq(const struct digest *a, const struct digest *b);
/* SHA-256 of a buffer. */
void digest_buffer(const void *data, size_t len, struct digest *ret);

/* Streaming SHA-256 (OpenSSL EVP). sha256_new() aborts on failure, like xmalloc. */
struct sha256;
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Finish into *ret; @h can be reused after sha256_reset(). */
void sha256_final(struct sha256 *h, struct digest *ret);
void sha256_reset(struct sha256 *h);
void sha256_free(struct sha256 *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sha256 *, sha256_free)

/* ---- media types -------------------------------------------------------------------------- */

#define MEDIA_OCI_INDEX		"application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_MANIFEST	"application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_CONFIG	"application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER		"application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP	"application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD	"application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_DOCKER_LIST	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_MANIFEST	"application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_CONFIG	"application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER	"application/vnd.docker.image.rootfs.diff.tar"
#define MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

enum layer_compression {
	LAYER_GZIP = 0, /* the default */
	LAYER_ZSTD,
	LAYER_NONE,
};

enum image_format {
	IMAGE_FORMAT_OCI = 0, /* the default */
	IMAGE_FORMAT_DOCKER, /* Docker image manifest v2, schema 2 */
};

/* "gzip", "zstd", "none" (also "uncompressed"); input error otherwise. */
int layer_compression_parse(const char *s, enum layer_compression *ret, struct kiln_error **err);
const char *layer_compression_name(enum layer_compression c);
/* The layer media type for @c in @format (Docker has no zstd type: the OCI one is used). */
const char *layer_media_type(enum layer_compression c, enum image_format format);
/* The compression a layer media type names; input error for non-layer types. */
int layer_media_type_compression(const char *media_type, enum layer_compression *ret,
				 struct kiln_error **err);

/* ---- platforms ---------------------------------------------------------------------------- */

#define PLATFORM_FIELD_SIZE 32
#define PLATFORM_STR_SIZE   (3 * PLATFORM_FIELD_SIZE)

/* "os/arch[/variant]", lower case, normalised as containerd does (platform.c). */
struct platform {
	char os[PLATFORM_FIELD_SIZE];
	char arch[PLATFORM_FIELD_SIZE];
	char variant[PLATFORM_FIELD_SIZE]; /* "" when none */
};

/*
 * Parse and normalise "os/arch[/variant]": x86_64 -> amd64, aarch64 and
 * arm64/v8 -> arm64, armhf and arm -> arm/v7, armel -> arm/v6, i386 -> 386.
 * A usage error names the text.
 */
int platform_parse(const char *s, struct platform *ret, struct kiln_error **err);
void platform_normalize(struct platform *p);
/* This machine's: linux/<image_host_arch()>. */
void platform_host(struct platform *ret);
/* "linux/arm/v7" into @buf; returns @buf. */
char *platform_format(const struct platform *p, char buf[PLATFORM_STR_SIZE]);
bool platform_eq(const struct platform *a, const struct platform *b);
/* From an object with "os", "architecture", "variant" (a descriptor's platform, a config). */
bool platform_from_json(const json_t *obj, struct platform *ret);
/* Does @obj name @want? A @want without a variant takes any variant. */
bool platform_matches_json(const json_t *obj, const struct platform *want);
/* Set "architecture", "os" and "variant" (removed when none) of @obj. */
void platform_to_json(const struct platform *p, json_t *obj);
/* "linux/amd64, linux/arm64" of an index's manifests array, malloc'd. */
char *platform_list_json(const json_t *manifests);

/* ---- layer descriptors ---------------------------------------------------------------------- */

struct layer_desc {
	char *media_type; /* owned */
	struct digest digest; /* of the blob as stored (compressed) */
	struct digest diff_id; /* of the uncompressed tar */
	uint64_t size; /* of the blob */
	enum layer_compression compression;
};

void layer_desc_release(struct layer_desc *l);
void layer_desc_copy(struct layer_desc *dst, const struct layer_desc *src);

/* ---- the store ---------------------------------------------------------------------------- */

struct store;

enum store_open_flags {
	STORE_CREATE = 1 << 0, /* create the layout when missing (else ENOENT is an error) */
};

/*
 * The store root when none is given: $KILN_ROOT, else /var/lib/kiln for root,
 * else $XDG_DATA_HOME/kiln, else ~/.local/share/kiln. Malloc'd.
 */
char *store_default_root(void);
/*
 * Open (and with STORE_CREATE, create) the store at @root (NULL: the default).
 * Creates the missing pieces: oci-layout, index.json, blobs/sha256, snapshots/,
 * cache/, tmp/. An existing oci-layout with another imageLayoutVersion is refused.
 */
int store_open(const char *root, enum store_open_flags flags, struct store **ret,
	       struct kiln_error **err);
void store_free(struct store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct store *, store_free)

/* The absolute root path. */
const char *store_root(const struct store *s);

enum store_dir {
	STORE_DIR_ROOT,
	STORE_DIR_BLOBS, /* blobs/sha256 */
	STORE_DIR_SNAPSHOTS,
	STORE_DIR_CACHE,
	STORE_DIR_TMP,
	STORE_DIR_BLOCKS, /* blocks/: indexes of gzip layers (hints, for incremental commits) */
	STORE_DIR_DIFFIDS, /* diffids/<blob hex>: the diffID that blob was verified to have */
};
/* An O_PATH|O_DIRECTORY fd owned by the store (do not close). */
int store_dirfd(const struct store *s, enum store_dir which);
/* The absolute path of @which, malloc'd. */
char *store_dir_path(const struct store *s, enum store_dir which);

/* ---- blobs ---------------------------------------------------------------------------- */

/* Absolute path of the blob (it may not exist), malloc'd. */
char *store_blob_path(const struct store *s, const struct digest *d);
/* True when the blob exists; its size in *ret_size (may be NULL). */
bool store_blob_exists(const struct store *s, const struct digest *d, uint64_t *ret_size);
/* A read-only fd on the blob (not verified); ENOENT names the digest. */
int store_blob_open(const struct store *s, const struct digest *d, struct kiln_error **err);
/* The whole blob into @sb, verified against @d (for manifests and configs). */
int store_blob_read(const struct store *s, const struct digest *d, struct strbuf *sb,
		    struct kiln_error **err);
/* The blob parsed as JSON (verified); caller owns *ret. */
int store_blob_read_json(const struct store *s, const struct digest *d, json_t **ret,
			 struct kiln_error **err);

/*
 * A streaming blob writer (for the registry module and for layers): bytes go to
 * a temp file in tmp/ and are hashed on the way. commit fsyncs, checks the
 * digest against @expected (when not NULL; a mismatch is an error naming both),
 * and renames into blobs/sha256. An existing blob is kept (content-addressed).
 * free without commit unlinks the temp file.
 */
struct blob_writer;
int blob_writer_begin(struct store *s, struct blob_writer **ret, struct kiln_error **err);
int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct kiln_error **err);
/* Bytes written so far. */
uint64_t blob_writer_size(const struct blob_writer *w);
int blob_writer_commit(struct blob_writer *w, const struct digest *expected, struct digest *ret,
		       uint64_t *ret_size, struct kiln_error **err);
void blob_writer_free(struct blob_writer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct blob_writer *, blob_writer_free)

/* Whole blobs: from memory, or everything readable from @fd. @expected may be NULL. */
int store_blob_write(struct store *s, const void *data, size_t len, const struct digest *expected,
		     struct digest *ret, struct kiln_error **err);
int store_blob_write_fd(struct store *s, int fd, const struct digest *expected, struct digest *ret,
			uint64_t *ret_size, struct kiln_error **err);
/* Serialize @json canonically (sorted keys, compact) and store it. */
int store_blob_write_json(struct store *s, const json_t *json, struct digest *ret,
			  uint64_t *ret_size, struct kiln_error **err);

/* ---- names and index.json ---------------------------------------------------------------- */

/*
 * Normalise an image name: "busybox" -> "busybox:latest", "busybox:1" stays,
 * "localhost:5000/app" -> "localhost:5000/app:latest", "app@sha256:..." stays.
 * Input error for an empty name, upper case repository, or bad characters.
 */
int image_name_normalize(const char *name, char **ret, struct kiln_error **err);

struct store_image_ref {
	char *name; /* ref.name annotation, or NULL for an unnamed entry */
	struct digest digest; /* manifest (or index) digest */
	uint64_t size;
	char *media_type;
};
/* Every index.json entry, in file order. Free with store_image_refs_free. */
int store_list(struct store *s, struct store_image_ref **ret, size_t *ret_n,
	       struct kiln_error **err);
void store_image_refs_free(struct store_image_ref *refs, size_t n);

/*
 * Resolve @what to a manifest digest: a name (normalised as above), "sha256:<hex>"
 * or a unique prefix (>= 4 hex digits) of a manifest digest or of an image ID
 * (the config digest). An index entry pointing at an image index is followed to
 * the manifest for this machine's platform. ENOENT: "image 'x' not found".
 */
int store_resolve(struct store *s, const char *what, struct digest *ret_manifest,
		  struct kiln_error **err);
/* Name @manifest as @name (normalised), replacing any entry of that name. */
int store_tag(struct store *s, const char *name, const struct digest *manifest,
	      struct kiln_error **err);
/* Remove the entry named @name; ENOENT when there is none. */
int store_untag(struct store *s, const char *name, struct kiln_error **err);
/* Remove the unnamed entries of @manifest (dangling images); ENOENT when there is none. */
int store_untag_unnamed(struct store *s, const struct digest *manifest, struct kiln_error **err);

/* ---- images ---------------------------------------------------------------------------- */

struct image {
	struct digest manifest_digest;
	uint64_t manifest_size;
	char *manifest_media_type;
	json_t *manifest;
	struct digest config_digest; /* the image ID */
	json_t *config;
	struct layer_desc *layers; /* diff_id from config rootfs.diff_ids */
	size_t n_layers;
};

/*
 * Read and check manifest + config: blobs verified, diff_ids count matches
 * layers. An image index is followed to the manifest for this machine's platform.
 */
int image_read(struct store *s, const struct digest *manifest, struct image **ret,
	       struct kiln_error **err);
/*
 * The same for @platform (NULL: this machine's): an index is followed to its
 * manifest for @platform; ENOENT when the index has none, or the store lacks
 * it (an index pulled for other platforms), naming the platforms it has.
 */
int image_read_platform(struct store *s, const struct digest *manifest,
			const struct platform *platform, struct image **ret,
			struct kiln_error **err);
/* Is the blob @d an image index (OCI) or manifest list (Docker)? Its JSON in *ret_json. */
bool image_is_index(struct store *s, const struct digest *d, json_t **ret_json);
/* store_resolve + image_read. */
int image_read_named(struct store *s, const char *what, struct image **ret,
		     struct kiln_error **err);
void image_free(struct image *img);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct image *, image_free)

/*
 * A new config object: {"architecture": host GOARCH, "os": "linux",
 * "config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}.
 */
json_t *image_config_new(void);
/* Append a history entry; @created (RFC 3339) and @created_by may be NULL. */
void image_config_add_history(json_t *config, const char *created, const char *created_by,
			      bool empty_layer);
/* The host's GOARCH name ("amd64", "arm64", ...). */
const char *image_host_arch(void);

struct image_spec {
	json_t *config; /* borrowed; rootfs.diff_ids is replaced from @layers */
	const struct layer_desc *layers;
	size_t n_layers;
	enum image_format format;
	json_t *annotations; /* borrowed, may be NULL: manifest annotations */
};

/*
 * Write config and manifest blobs (layer blobs must already be in the store)
 * and return the manifest digest in *ret_manifest. Does not name the image:
 * follow with store_tag().
 */
int image_write(struct store *s, const struct image_spec *spec, struct digest *ret_manifest,
		struct kiln_error **err);

/*
 * Write an OCI image index of the @n manifests (in the store), each
 * described with its platform, and return its digest (name it with store_tag).
 */
int image_write_index(struct store *s, const struct digest *manifests,
		      const struct platform *platforms, size_t n, json_t *annotations,
		      struct digest *ret_index, struct kiln_error **err);

/* ---- layers: commit ---------------------------------------------------------------------- */

struct layers_commit_opts {
	enum layer_compression compression;
	int64_t source_date_epoch; /* clamp mtimes to this; < 0: no clamping */
	int level; /* compression level; 0: default (gzip 6, zstd 3) */
	int threads; /* compression threads; 0: online CPUs. Output does not depend on it. */
	enum image_format format; /* chooses the media type */
	/*
	 * Incremental commits (gzip): an earlier layer of the same step, whose
	 * compressed blocks are copied where the tar bytes are the same (the
	 * output does not change, only the time it takes), and whether to keep a
	 * block index of this layer for the next such commit.
	 */
	const struct digest *reuse_blob;
	bool keep_index;
};
#define LAYERS_COMMIT_OPTS_INIT                                    \
	{                                                          \
		.compression = LAYER_GZIP, .source_date_epoch = -1 \
	}

/*
 * Turn the directory @dirfd (an overlayfs upperdir or a plain tree of new files)
 * into a layer blob in the store: a pax tar in byte order of names, numeric
 * owners as on disk, hardlinks within the layer as links, xattrs
 * (security.capability, user.* except user.overlay.*), overlay whiteouts
 * (0/0 char devices) as ".wh.NAME", opaque directories (trusted.overlay.opaque or
 * user.overlay.opaque = "y") as ".wh..wh..opq". diffID and digest are computed in
 * the same streaming pass; memory stays bounded. The same tree gives the same
 * digest every time (and for every thread count).
 */
int layers_commit_dir(struct store *s, int dirfd, const struct layers_commit_opts *opts,
		      struct layer_desc *ret, struct kiln_error **err);
/* The same, writing the compressed layer to @outfd instead of the store (benchmarks). */
int layers_write_dir(int dirfd, const struct layers_commit_opts *opts, int outfd,
		     struct layer_desc *ret, struct kiln_error **err);

/* ---- layers: apply ---------------------------------------------------------------------- */

enum layers_apply_flags {
	/* chown failing with EPERM/EINVAL (an unmapped id) is a warning, not an error */
	LAYERS_APPLY_LAX_OWNER = 1 << 0,
	/* do not honour whiteouts: keep ".wh." entries as files (for import of a rootfs) */
	LAYERS_APPLY_NO_WHITEOUTS = 1 << 1,
	/*
	 * for a snapshot used as an overlayfs lowerdir: ".wh.NAME" becomes an overlay
	 * whiteout (a 0/0 character device NAME) and ".wh..wh..opq" makes the directory
	 * opaque (trusted.overlay.opaque=y, or user.overlay.opaque=y where trusted.* is
	 * not permitted, as in a user namespace), instead of deleting anything
	 */
	LAYERS_APPLY_OVERLAY = 1 << 2,
	/* do not chown at all: files belong to the caller (for reading archives) */
	LAYERS_APPLY_NO_OWNER = 1 << 3,
};

/*
 * Extract the layer blob read from @blobfd (tar, gzip or zstd, detected from the
 * bytes) into the directory @targetfd: whiteouts and opaque directories are
 * honoured, ownership, modes, mtimes and xattrs kept; device nodes are skipped
 * with a warning when mknod is not permitted. No entry can create, change or
 * read anything outside @targetfd: ".." is refused, absolute names are made
 * relative, symlinks in parent paths are never followed, hardlinks must name an
 * entry already extracted by this layer or present below the target. A bad entry
 * is an input error naming it. Pure file-system work relative to @targetfd, no
 * global state, so it can run in a forked child inside a user namespace.
 */
int layers_apply(int blobfd, int targetfd, enum layers_apply_flags flags, struct kiln_error **err);
/*
 * The same, hashing the uncompressed tar on the way: when it is not @diff_id
 * (may be NULL: no check), the layer is refused ("wrong diffID calculated on
 * extraction", as containerd says) after the whole stream was read. What was
 * extracted stays in @targetfd: extract into a temporary directory and rename
 * it into place only on success.
 */
int layers_apply_verified(int blobfd, int targetfd, enum layers_apply_flags flags,
			  const struct digest *diff_id, struct kiln_error **err);

/* ---- snapshots ---------------------------------------------------------------------------- */

/* Absolute path of snapshots/<diffID hex> (it may not exist), malloc'd. */
char *store_snapshot_path(const struct store *s, const struct digest *diff_id);
/*
 * Unpack @layer once under snapshots/<diffID hex>/: extracted into tmp/, its
 * diffID checked on the way (layers_apply_verified), then renamed into place. Idempotent; when two
 * processes race, both succeed and one copy wins. The path in *ret_path (may be NULL).
 */
/*
 * Work in progress in tmp/ (tmpwork.c). Each entry is made with an flock held
 * on it for its maker's lifetime; store_open() sweeps the entries no live kiln
 * holds (what a kill -9 left). A new directory tmp/@prefix.XXXXXXXX (mode
 * @mode): its name, and in *ret_lock an fd on it that holds the lock (close it
 * once the directory is removed or renamed away).
 */
int store_tmp_mkdir(struct store *s, const char *prefix, mode_t mode, char **ret_name,
		    int *ret_lock, struct kiln_error **err);
/* A new file tmp/@prefix.XXXXXXXX open read-write; the fd returned holds the lock. */
int store_tmp_mkstemp(struct store *s, const char *prefix, mode_t mode, char **ret_name,
		      struct kiln_error **err);
/* Remove the entries of tmp/ whose maker is gone; returns how many. */
int store_sweep_tmp(struct store *s);

int store_snapshot_ensure(struct store *s, const struct layer_desc *layer,
			  enum layers_apply_flags flags, char **ret_path, struct kiln_error **err);

/* The SHA-256 of the uncompressed bytes of the layer blob read from @blobfd. */
int layers_diff_id(int blobfd, struct digest *ret, struct kiln_error **err);
/*
 * Has @layer's blob been seen to have @layer's diffID? diffids/<blob hex>
 * records what kiln checked (an unpack, a commit); without a record the blob
 * is hashed now (and the answer recorded). A blob whose uncompressed bytes
 * are not the diffID is an input error: another layer's snapshot must never
 * stand in for it.
 */
int store_layer_verify(struct store *s, const struct layer_desc *layer, struct kiln_error **err);
/* Record that @layer's blob has @layer's diffID (best effort: a missing record costs a hash). */
void store_layer_verified(struct store *s, const struct layer_desc *layer);

/* ---- maintenance ---------------------------------------------------------------------------- */

/*
 * Check every blob's digest and every reference (index -> manifests -> config,
 * layers). Problems are reported through @report (one line each, may be NULL);
 * returns the number of problems found (0: the store is valid) or -errno.
 */
int store_fsck(struct store *s, void (*report)(void *ctx, const char *problem), void *ctx,
	       struct kiln_error **err);
/*
 * Check that every snapshot is what its layer unpacks to: a blob of that
 * diffID is unpacked again into tmp/ (its diffID checked) and both trees are
 * compared entry by entry (type, mode, owner, size, content, link target,
 * device, xattrs; not times). A snapshot no blob in the store has the diffID
 * of is left alone. Returns the number of differing snapshots, or -errno.
 * Run it where builds run (rootless: in the build's user namespace).
 */
int store_fsck_snapshots(struct store *s, void (*report)(void *ctx, const char *problem), void *ctx,
			 struct kiln_error **err);

/*
 * Remove what no image reaches: unreferenced blobs, snapshots of unreferenced
 * diffIDs, and stale tmp/ entries. @keep (may be NULL) lists extra digests to keep
 * (cache entries). Each freed item goes to @report with its size.
 */
int store_prune(struct store *s, const struct digest *keep, size_t n_keep,
		void (*report)(void *ctx, const char *what, uint64_t size), void *ctx,
		uint64_t *ret_freed, struct kiln_error **err);
enum store_prune_flags {
	/* empty cache/ first: the step cache, the stat cache, incremental COPY's file
	 * lists and RUN --mount=type=cache directories; what only they reached goes too */
	STORE_PRUNE_CACHE = 1 << 0,
	/* store_prune_cache(): free only what the dropped cache entries alone kept (no
	 * sweep of other unreferenced blobs or of tmp/: what a build runs afterwards) */
	STORE_PRUNE_ONLY_TRIMMED = 1 << 1,
};
int store_prune_flags(struct store *s, const struct digest *keep, size_t n_keep,
		      enum store_prune_flags flags,
		      void (*report)(void *ctx, const char *what, uint64_t size), void *ctx,
		      uint64_t *ret_freed, struct kiln_error **err);

/*
 * A bounded cache (kiln prune --cache --keep-storage/--filter until=, and
 * KILN_CACHE_KEEP_STORAGE after a build). The cache's entries are the step cache
 * entries (cache/<key hex>, with an incremental COPY file list <hex>.files) and the
 * RUN --mount=type=cache directories (cache/mounts/<hex>), each last used at its
 * mtime (builds touch them on a hit). Its size is what it alone keeps: those
 * files, and the blobs, snapshots and block indexes they name that no image and
 * nothing else in cache/ reaches (shared ones counted once). The least recently
 * used entries go first (ties by name), until the size is at most @keep_storage,
 * and every entry unused for more than @until seconds; what only they kept goes
 * with them. Then, unless STORE_PRUNE_ONLY_TRIMMED, the rest of store_prune.
 */
struct store_cache_budget {
	uint64_t keep_storage; /* bytes; UINT64_MAX: no size limit */
	int64_t until; /* seconds; 0: no age limit */
	uint64_t *ret_kept; /* may be NULL: the cache's size afterwards */
};
int store_prune_cache(struct store *s, const struct store_cache_budget *b,
		      enum store_prune_flags flags,
		      void (*report)(void *ctx, const char *what, uint64_t size), void *ctx,
		      uint64_t *ret_freed, struct kiln_error **err);

/* ---- archives and imports ---------------------------------------------------------------- */

/*
 * Import a root filesystem tarball (tar, tar.gz, tar.zst) as a one-layer image
 * named @name (like `docker import`), for @platform (NULL: this machine's).
 * The tar is re-written as a sorted layer by streaming it through the same
 * writer (bounded memory). *ret_manifest may be NULL.
 */
int store_import_rootfs(struct store *s, int tarfd, const char *name,
			const struct layers_commit_opts *opts, const struct platform *platform,
			struct digest *ret_manifest, struct kiln_error **err);

enum archive_format {
	ARCHIVE_AUTO, /* oci-archive or docker-archive, from the contents */
	ARCHIVE_OCI_LAYOUT, /* a directory */
	ARCHIVE_OCI, /* oci-archive: a tar of an OCI layout */
	ARCHIVE_DOCKER, /* docker-archive: `docker save` format */
};

/*
 * Copy the image @tag (NULL: the only image) from an OCI layout directory, an
 * oci-archive or a docker-archive into the store, verifying every blob, and name
 * it @name (NULL: keep the source's name). *ret_manifest may be NULL.
 */
int store_pull_archive(struct store *s, enum archive_format fmt, const char *path, const char *tag,
		       const char *name, struct digest *ret_manifest, struct kiln_error **err);
/*
 * Copy one image of the OCI layout @path into the store without naming it:
 * the manifest @digest when not NULL, else the entry named @tag (NULL: the
 * only entry, else "latest"); an index is copied whole (every platform's
 * manifest), every blob verified. *ret_manifest is what was copied (a
 * manifest or an index: image_read_platform picks from it).
 */
int store_copy_layout_image(struct store *s, const char *path, const char *tag,
			    const struct digest *digest, struct digest *ret_manifest,
			    struct kiln_error **err);
/*
 * Write image @what as an oci-archive or docker-archive to @outfd. An image
 * index goes whole into an oci-archive, with @platform NULL; otherwise
 * @platform picks one of its manifests (a docker-archive holds one image, so
 * it refuses an index without @platform).
 */
int store_save_archive(struct store *s, const char *what, const struct platform *platform,
		       enum archive_format fmt, int outfd, struct kiln_error **err);
/*
 * Copy image @what (an index whole, or its manifest for @platform when not
 * NULL) into the OCI image layout directory @dir (created when missing; other
 * images there are kept), named @ref (NULL: @what's name) in its index.json,
 * which is replaced atomically.
 */
int store_save_layout(struct store *s, const char *what, const struct platform *platform,
		      const char *dir, const char *ref, struct kiln_error **err);
