/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * copy/: the one public header of the COPY/ADD engine: pure file-system work on two directory fds,
 *with Docker/BuildKit semantics. No processes, no mounts, no global state (except the read counter
 *test hook below).
 *
 * The builder mounts the step's root filesystem (lower layers + this step's
 * upperdir) and calls copy_run() with a dirfd of it; every write goes through
 * that fd, resolved as if it were "/" (symlinks inside the image are followed,
 * never out of it). Sources are read through @src_root with the same in-root
 * rule: "../x" and "/x" name the context's own "x", a symlink met inside a
 * copied directory is copied as a symlink, and a source path whose components
 * are symlinks is resolved inside the source root.
 *
 * Before copying, copy_digest() gives the step's content key (what lands in the
 * image, never mtimes), so the builder can skip the copy on a cache hit.
 *
 * How the builder calls it, for one COPY/ADD step:
 *
 *	struct copy_opts o = {.src_root = ctx_fd, .sources = srcs, .n_sources = n,
 *			      .dest = dest, .workdir = cfg_workdir, .add = is_add,
 *			      .stat_cache = sc};
 *	copy_chmod_parse(flag_chmod, &o.chmod, err);       (when --chmod= is given)
 *	copy_patterns_add(&ex, pattern) for each --exclude; o.excludes = &ex;
 *	.dockerignore (context only): o.excluded, o.may_contain_included, o.exclude_ud
 *	heredocs: o.inlines = {name, body, len}, o.n_inlines
 *	--chown: copy_chown_resolve(root_fd, spec, &o.chown, err) needs the image root;
 *	         before the root is mounted, hash the spec text into the step key
 *	         instead (the parent key fixes what the names resolve to)
 *	copy_digest(&o, hex, err)  -> look the step up; on a hit, stop here
 *	mount the step's root; copy_run(root_fd, &o, &res, err)
 *	copy_stat_cache_save(sc, err) once per build; copy_stat_cache_free(sc)
 *
 * One stat cache per source root (its paths are relative to it): the
 * context's, e.g. under KILN_ROOT/cache/, and none for --from stages.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct kiln_error;
struct strbuf;
struct strv;

/* ---- --chmod ------------------------------------------------------------ */

/* One clause of a symbolic mode ("u+x", "go-w", "a=rX"). */
struct copy_chmod_clause {
	mode_t who; /* mask of the bits the clause may touch (S_IRWXU|S_ISUID…) */
	char op; /* '+', '-' or '=' */
	mode_t perm; /* rwx/st bits, already spread over who */
	bool cond_x; /* 'X': x only for directories or files already executable */
};

struct copy_chmod {
	bool set;
	bool octal;
	mode_t mode; /* when octal */
	struct copy_chmod_clause clauses[16];
	size_t n_clauses;
};

/* Parse "755", "0644", "u+x,g-w", "a=rX". */
int copy_chmod_parse(const char *spec, struct copy_chmod *ret, struct kiln_error **err);
/* The new permission bits (07777) of a file whose old mode is @old. */
mode_t copy_chmod_apply(const struct copy_chmod *c, mode_t old, bool is_dir);

/* ---- --chown ------------------------------------------------------------ */

struct copy_chown {
	bool set;
	uid_t uid;
	gid_t gid;
};

/*
 * Resolve "user", "user:group", "uid", "uid:gid" (names through
 * /etc/passwd and /etc/group read inside @root_fd, FS_IN_ROOT). A user alone
 * gives its primary group (a number alone: gid = uid). Unknown names fail with
 * "unable to find user 'x': no matching entries in passwd file".
 */
int copy_chown_resolve(int root_fd, const char *spec, struct copy_chown *ret,
		       struct kiln_error **err);
/*
 * The same for USER, as runc does at run time: a uid alone takes the primary
 * group of its /etc/passwd entry, or 0 when it has none.
 */
int copy_user_resolve(int root_fd, const char *spec, struct copy_chown *ret,
		      struct kiln_error **err);
/* The name and home directory (NULL when empty) of @uid's /etc/passwd entry;
 * -ENOENT without an entry. */
int copy_user_entry(int root_fd, uid_t uid, char **ret_name, char **ret_home,
		    struct kiln_error **err);
/* The groups of /etc/group that list @name as a member (runc's supplementary groups). */
int copy_user_groups(int root_fd, const char *name, gid_t **ret, size_t *ret_n,
		     struct kiln_error **err);

/* ---- --exclude patterns (.dockerignore syntax) ---------------------------- */

struct copy_patterns {
	struct copy_pattern *v;
	size_t n, alloc;
	bool has_negation;
};

/* Add one pattern ("*.txt", "**\/tmp", "!keep.txt"). */
void copy_patterns_add(struct copy_patterns *p, const char *pattern);
/* True when @relpath (or one of its parents) is excluded by the list. */
bool copy_patterns_match(const struct copy_patterns *p, const char *relpath);
void copy_patterns_clear(struct copy_patterns *p);

/* ---- stat cache ------------------------------------------------------------- */

/*
 * (path, size, mtime_ns, ctime_ns, ino, dev) -> SHA-256 of the content (with
 * the xattrs COPY keeps folded in, when there are any), kept
 * in a file the builder names (one per source root: paths are relative to
 * it). ctime catches a rewrite in place that puts the mtime back. Entries
 * whose mtime or ctime is within 2 s of the cache's loading serve this build
 * only and are never saved (git's racy-entry rule: a same-tick rewrite could
 * keep size and times). Safe for use from several threads.
 */
struct copy_stat_cache;

/* Load @name in @dir_fd (a missing or unreadable file gives an empty cache). */
struct copy_stat_cache *copy_stat_cache_load(int dir_fd, const char *name);
/* Write it back atomically when it changed. */
int copy_stat_cache_save(struct copy_stat_cache *c, struct kiln_error **err);
void copy_stat_cache_free(struct copy_stat_cache *c);

/* ---- incremental COPY (copy-reuse.c) ------------------------------------------- */

/*
 * An earlier result of the same COPY step (a snapshot in overlay form) and
 * its manifest (copy_result.manifest): its regular files are hardlinked into
 * a new upperdir before the copy (copy_reuse_clone), the copy keeps those
 * whose content and metadata it would write anyway (copy_reuse_match), and
 * copy_reuse_prune removes, after the copy, the cloned files and directories
 * the copy did not keep or write. Unchanged files cost a link, not a copy:
 * no data written and no new inode. Snapshots are never written in place
 * (the copy replaces a file by unlinking it first), so sharing inodes is safe.
 */
struct copy_reuse;

/* Parse a manifest; NULL when it is malformed or empty. */
struct copy_reuse *copy_reuse_parse(const char *buf, size_t len);
void copy_reuse_free(struct copy_reuse *r);
/*
 * Link the manifest's files of @ref_fd into the empty @upper_fd, with their
 * directories (mode, owner, times, user xattrs). Returns 0, or 1 when @ref_fd
 * holds what a clone cannot carry (whiteouts, opaque directories) or the
 * clone failed: then @upper_fd is emptied again and the copy runs without
 * reuse; < 0 only when it cannot be emptied.
 */
int copy_reuse_clone(struct copy_reuse *r, int ref_fd, int upper_fd, struct kiln_error **err);
/* True when @path was cloned with content @dg (and not yet kept). */
bool copy_reuse_match(const struct copy_reuse *r, const char *path, const unsigned char dg[32]);
/* True when the clone put @path there (a file or a directory); false for NULL @r. */
bool copy_reuse_cloned(const struct copy_reuse *r, const char *path);
/* After the copy (the overlay unmounted): remove what was cloned but not in @written. */
int copy_reuse_prune(struct copy_reuse *r, int upper_fd, struct strv *written,
		     struct kiln_error **err);

/* Test hook: how many regular files had their content read for a digest. */
extern unsigned long copy_content_reads;

/* ---- the engine --------------------------------------------------------------- */

/* An in-memory source (a heredoc: COPY <<EOF /dest). */
struct copy_inline {
	const char *name; /* file name used when the destination is a directory */
	const void *data;
	size_t len;
};

struct copy_opts {
	/* Where sources are read: the build context, another stage's or an image's root. */
	int src_root;
	/* What @src_root is, for messages ("stage 'build'"); NULL = the build context. */
	const char *src_desc;
	/* Source patterns as written (after variable expansion); may contain wildcards. */
	const char *const *sources;
	size_t n_sources;
	/* Heredoc sources, copied after @sources. */
	const struct copy_inline *inlines;
	size_t n_inlines;
	/* Destination as written; relative ones are relative to @workdir ("/" if NULL). */
	const char *dest;
	const char *workdir;

	struct copy_chown chown; /* resolved with copy_chown_resolve(); !set = 0:0 */
	bool keep_owner; /* without --chown: the sources' owners, not 0:0 (COPY --from) */
	struct copy_chmod chmod; /* parsed with copy_chmod_parse(); !set = keep modes */

	/*
	 * .dockerignore (only when @src_root is the context): @excluded says whether
	 * a path relative to the context root is left out; for an excluded
	 * directory, @may_contain_included says whether a "!" rule could bring
	 * back something below it (then it is walked, and created only when
	 * something inside is copied). Either may be NULL.
	 */
	bool (*excluded)(const char *relpath, bool is_dir, void *ud);
	bool (*may_contain_included)(const char *relpath, void *ud);
	void *exclude_ud;
	/* --exclude: matched against paths relative to each source (a file: its name). */
	const struct copy_patterns *excludes;

	bool parents; /* --parents: keep the source's path (after a "/./" pivot) */
	bool add; /* ADD: unpack local tar archives, allow URLs, --checksum */
	const char *checksum; /* ADD --checksum=sha256:HEX, or NULL */
	struct timespec inline_mtime; /* mtime of heredoc files (0 = now) */

	struct copy_stat_cache *stat_cache; /* for copy_digest(); may be NULL */
	/* Threads copying file contents in copy_run(): 0 = one per CPU (at most 4), 1 = none. */
	unsigned jobs;
	/*
	 * Incremental COPY: files already at the destination, cloned from an
	 * earlier result of the same step (copy_reuse_clone()); one whose content
	 * digest (through @stat_cache), mode, owner, size and mtime are what the
	 * copy would write is kept instead of written again. NULL: none.
	 */
	const struct copy_reuse *reuse;
};

/* What copy_run() wrote: paths relative to the destination root, no leading '/'. */
struct copy_result {
	struct strv *written; /* caller-owned strv to append to, or NULL */
	size_t n_files; /* regular files, symlinks and specials written */
	size_t n_dirs; /* directories created or updated */
	uint64_t bytes;
	/* "HEX64 PATH\n" for each regular file whose content digest is known, or NULL */
	struct strbuf *manifest;
	size_t n_reused; /* files kept from @reuse */
};

/* Copy the sources into @dest_root (the image root as "/"). */
int copy_run(int dest_root, const struct copy_opts *o, struct copy_result *ret,
	     struct kiln_error **err);

/*
 * The content key of this COPY/ADD, computed before copying: SHA-256 (64 hex
 * digits + NUL in @ret_hex) over the resolved destination, the options, and
 * every source entry's relative path, type, resulting mode and owner, symlink
 * target, and content digest (through the stat cache when given). mtimes are
 * left out, as in Docker's cache. An ADD URL is fetched to hash its content.
 */
int copy_digest(const struct copy_opts *o, char ret_hex[65], struct kiln_error **err);

/* ---- helpers the builder shares (mounts, WORKDIR) ----------------------------- */

/* Destination: resolve @path (absolute) inside @root following symlinks in it, creating
 * missing directories 0755 owned by @owner (when set) if @create, as BuildKit's MkdirAll. */
int copy_dest_dir(int root, const char *path, bool create, const struct copy_chown *owner,
		  int *ret_fd, char **ret_canon, struct kiln_error **err);
/* The xattrs worth keeping: user.* (not user.overlay.*) and security.capability. */
bool copy_keep_xattr(const char *name);
/* Copy the xattrs worth keeping from @src to @dst (after any chown, which drops caps). */
void copy_xattrs(int src, int dst, const char *what);
