/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* copy/: private to the engine (its .c files and copy/tests/). */
#include <sys/stat.h>

#include "copy/copy.h"
#include "layers/layers.h"
#include "util/strbuf.h"

bool copy_stat_cache_get(struct copy_stat_cache *c, const char *path, const struct stat *st,
			 unsigned char digest[32]);
void copy_stat_cache_put(struct copy_stat_cache *c, const char *path, const struct stat *st,
			 const unsigned char digest[32]);
/* 64 lowercase hex digits -> 32 bytes; -EINVAL on anything else. */
int copy_hex_decode(const char *hex, unsigned char out[32]);

/* One source after wildcard expansion. */
struct copy_item {
	char *pattern; /* the source as written, for messages */
	char *ctxpath; /* path in src_root, cleaned, no leading '/'; "" is the root */
	char *keep; /* --parents: directories kept under the destination, or "" */
	char *name; /* name at the destination for a non-directory */
	int fd; /* O_RDONLY (dirs: O_DIRECTORY), symlinks followed inside src_root */
	struct stat st;
	const struct copy_inline *inl; /* heredoc source (fd = -1) */
	char *url; /* ADD http(s) source (fd = -1) */
	bool archive; /* ADD: a local tar archive to unpack */
};

struct copy_plan {
	struct copy_item *items;
	size_t n, alloc;
	char *dest; /* absolute, cleaned, no trailing '/' ("/" for the root) */
	bool dest_is_dir; /* written with a trailing '/' (or "." / --parents / several sources) */
	char *unmatched; /* the first wildcard that matched nothing */
};

int copy_plan_build(const struct copy_opts *o, struct copy_plan *ret, struct kiln_error **err);
void copy_plan_release(struct copy_plan *p);

/* A node of the source walk. */
struct copy_node {
	struct copy_node *parent;
	int fd; /* dirs: O_RDONLY|O_DIRECTORY; top-level files: O_RDONLY; else -1 */
	int parent_fd; /* the directory holding @name, or -1 for a top-level item */
	const char *name;
	struct strbuf rel; /* path below the item ("" for the item itself) */
	struct stat st;
	bool announced; /* enter() was called (lazy for excluded-but-walked dirs) */
	int dst_fd; /* copy: the destination directory made for this dir */
	char *dst_path; /* copy: its path below the destination root */
	bool dst_meta; /* copy: gets the source's metadata when left (made or reused) */
	bool serial; /* copy: reached through a symlink in the image: no parallel jobs */
	struct copy_dref *src_ref, *dst_ref; /* copy: shared with the pool's jobs */
};

struct copy_walk_ops {
	/* A directory (before its children), a non-directory, a directory after its children. */
	int (*enter)(void *ud, struct copy_node *n, struct kiln_error **err);
	int (*leaf)(void *ud, struct copy_node *n, struct kiln_error **err);
	int (*leave)(void *ud, struct copy_node *n, struct kiln_error **err);
};

/* Walk @item (a directory) calling @ops; @root is the item's node, already entered. */
int copy_walk_item(const struct copy_opts *o, const struct copy_item *item, struct copy_node *root,
		   const struct copy_walk_ops *ops, void *ud, struct kiln_error **err);
/* Open a non-directory node's content for reading. */
/* @n's path in the source root (item's path + the node's), for the stat cache. */
void copy_node_source_path(struct strbuf *sb, const struct copy_item *it,
			   const struct copy_node *n);
int copy_node_open(const struct copy_node *n, struct kiln_error **err);
/* A symlink node's target. */
int copy_node_readlink(const struct copy_node *n, struct strbuf *ret, struct kiln_error **err);

/* The pool copying file contents in parallel (copy-pool.c). */
struct copy_dref {
	int fd; /* owned; closed by the last release */
	unsigned refs; /* under the pool's lock */
	struct copy_dref *src; /* for a destination directory: its source (one reference) */
	bool meta; /* apply @st to it when the last reference goes */
	struct stat st;
	char *path; /* below the destination root, for messages */
};

struct copy_job {
	struct copy_dref *src, *dst; /* the directories; the job holds a reference on each */
	char *name; /* the entry, in both */
	char *what; /* its destination path, for messages and the result list */
	struct stat st;
	unsigned char dg[32]; /* content digest, when has_dg (for the manifest) */
	bool has_dg;
};

struct copy_pool_ops {
	int (*run)(void *ud, const struct copy_job *j, struct kiln_error **err);
	int (*dir_done)(void *ud, struct copy_dref *d, struct kiln_error **err);
};

struct copy_pool;
/* NULL when no thread could be started (then copy serially). */
struct copy_pool *copy_pool_new(unsigned workers, const struct copy_pool_ops *ops, void *ud);
/* A shared directory holding a dup of @fd, with one reference for the caller. */
struct copy_dref *copy_pool_dref(struct copy_pool *p, int fd, struct copy_dref *src);
void copy_pool_release(struct copy_pool *p, struct copy_dref *d);
/* Queue @j (takes its strings); -ECANCELED once a job failed. */
int copy_pool_submit(struct copy_pool *p, struct copy_job *j);
/* Wait for every queued job; the first failure, if any. */
int copy_pool_drain(struct copy_pool *p, struct kiln_error **err);
/* Stop and join the threads, close what is left. */
void copy_pool_free(struct copy_pool *p);

/* Archives (ADD). */
bool copy_is_archive(int fd);
int copy_unpack(int fd, int dest_dir, const char *dest_path, struct copy_result *res,
		struct kiln_error **err);
int copy_sha256_fd(int fd, struct digest *ret, struct kiln_error **err);
int copy_check_checksum(int fd, const char *checksum, const char *what, struct kiln_error **err);
/* ADD URL: download to an unlinked temp file ($TMPDIR or /var/tmp); *ret_mtime from
 * Last-Modified (else now). */
int copy_fetch_url(const char *url, int *ret_fd, struct timespec *ret_mtime,
		   struct kiln_error **err);

/* Stream @src into @dst (copy_file_range, sendfile, read/write), stopping at @size when
 * it is not 0; *hint (start at 0) remembers which one worked, across calls. */
int copy_stream(int src, int dst, uint64_t size, int *hint, uint64_t *ret_bytes,
		struct kiln_error **err);
