/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * builder/: the one public header of the builder module.
 *
 * This part is the sandbox that runs RUN steps (README.md, "How RUN is
 * sandboxed"). Two calls do all the work:
 *
 *   sandbox_enter_userns()  once, early, in cmd/, before any thread exists:
 *                           an unprivileged kiln becomes root of its own user
 *                           namespace (ids from /etc/subuid and /etc/subgid);
 *   sandbox_run()           once per RUN step: a child in new mount, pid, uts
 *                           and ipc (and, for --network=none, net) namespaces
 *                           on an overlayfs over the parent layers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct kiln_error;

/* ---- the user namespace ---------------------------------------------------------------- */

enum sandbox_userns_mode {
	SANDBOX_USERNS_NONE = 0, /* real root in the initial user namespace: no mapping needed */
	SANDBOX_USERNS_SUBID, /* 0 -> our uid, 1..N -> our /etc/subuid range (newuidmap) */
	SANDBOX_USERNS_SINGLE, /* only 0 -> our uid: chown to other ids fails */
	SANDBOX_USERNS_INHERITED, /* already root of a user namespace someone else made */
};

/*
 * Make the calling process root of a new user namespace (with a new mount
 * namespace) when it is not root already. Must be called while the process
 * has a single thread. With a subordinate id range for the user (by name or
 * uid in /etc/subuid and /etc/subgid) and newuidmap/newgidmap installed,
 * container ids 0..65535 are mapped (0 -> the real uid, 1.. -> the range);
 * otherwise a single-id map is written and one warning says what will not
 * work and how to fix it. Idempotent: a no-op when getuid() is already 0.
 * The process keeps its pid; nothing is forked that outlives this call.
 */
int sandbox_enter_userns(struct kiln_error **err);
/* What sandbox_enter_userns() found or did (it probes when it was not called). */
enum sandbox_userns_mode sandbox_userns_mode(void);

/* ---- running one step --------------------------------------------------------------------- */

enum sandbox_rootfs_kind {
	SANDBOX_ROOTFS_OVERLAY = 0, /* overlayfs: lowerdirs + upperdir (+ workdir) */
	SANDBOX_ROOTFS_DIR, /* a plain directory, used and modified in place ("copy" storage) */
};

enum sandbox_network {
	SANDBOX_NETWORK_HOST = 0, /* the host's network namespace */
	SANDBOX_NETWORK_NONE, /* a new network namespace with only `lo`, up */
};

enum sandbox_mount_type {
	SANDBOX_MOUNT_BIND = 0, /* bind @source (a host path) on @target */
	SANDBOX_MOUNT_TMPFS, /* a tmpfs on @target; @options such as "size=64m,mode=1777" */
};

/* An extra mount for RUN --mount. Targets are absolute paths inside the sandbox. */
struct sandbox_mount {
	enum sandbox_mount_type type;
	const char *source;
	const char *target;
	const char *options;
	bool readonly;
};

/*
 * One RUN step. Nothing here is taken over; the caller keeps ownership.
 *
 * Overlay: @lowerdirs (top first, n_lowerdirs >= 0), an EMPTY @upperdir
 * (this step's diff) and an EMPTY @workdir on the same filesystem as
 * @upperdir. The sandbox keeps its own state under @workdir (ovl/, the
 * overlay's work directory; extra/, an extra top lower layer holding the
 * mount points /etc/hosts, /etc/resolv.conf, /etc/hostname and any missing
 * /proc, /dev or mount target; files/, the content of those three files;
 * root/, the mount point). Nothing the sandbox adds reaches @upperdir: the
 * builder commits @upperdir as it is and deletes @workdir afterwards (overlay
 * leaves a mode-000 ovl/work inside it).
 *
 * Dir: @rootdir is the whole root filesystem, modified in place; @workdir is
 * still needed (files/, root/). Mount points missing from @rootdir are
 * created and removed again afterwards, and their parent directories get
 * their times back; the builder's diff walk must ignore ctime.
 *
 * @argv[0] is searched in the PATH of @env (as Docker does) unless it holds a
 * '/'. @cwd (default "/") is created, owned by root, when missing. The
 * command runs as @uid/@gid with @groups (numeric: the builder resolves names).
 * Standard fds: -1 gives /dev/null.
 */
struct sandbox_spec {
	enum sandbox_rootfs_kind rootfs;
	const char *const *lowerdirs;
	size_t n_lowerdirs;
	const char *upperdir;
	const char *rootdir;
	const char *workdir;

	const char *const *argv; /* NULL-terminated, argv[0] required */
	const char *const *env; /* NULL-terminated KEY=VALUE list, may be NULL */
	const char *cwd;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	const char *hostname; /* default "kiln" */
	enum sandbox_network network;
	int stdin_fd, stdout_fd, stderr_fd;

	const struct sandbox_mount *mounts;
	size_t n_mounts;
};

#define SANDBOX_SPEC_INIT                                                                        \
	{                                                                                        \
		.rootfs = SANDBOX_ROOTFS_OVERLAY, .stdin_fd = -1, .stdout_fd = 1, .stderr_fd = 2 \
	}

/*
 * Run @spec->argv in a new sandbox and wait for it. On success returns 0 and
 * sets *ret_status to the command's exit status, or 128+signal when it was
 * killed. Any failure to set the sandbox up (a mount, a missing command, a
 * uid that is not mapped) is an error: "sandbox: mount overlay on '…':
 * Operation not permitted", "sandbox: exec 'nosuch': No such file or
 * directory". Processes the command leaves behind are killed when it exits;
 * a killed kiln leaves no process and no mount behind. Safe to call from any
 * thread of a multi-threaded kiln; SIGCHLD must not be ignored (SIG_IGN), and
 * nothing else may reap children with waitpid(-1) meanwhile.
 */
int sandbox_run(const struct sandbox_spec *spec, int *ret_status, struct kiln_error **err);

/*
 * `copy` storage: after a step ran in @rootdir (a plain directory that started
 * as the merge of @lowerdirs, top first), write what it changed into the empty
 * @diffdir exactly as overlayfs leaves an upperdir: new and changed entries
 * (with owner, mode, times and xattrs; hard links kept), the directories they
 * are in, and a 0/0 character device (a whiteout) for each deleted entry. So
 * layers/ commits a diff the same way in both storage modes. Entries compare
 * by type, mode, owner, size, mtime, rdev and symlink target, not content.
 * Must run where the ids are mapped (in the user namespace, rootless).
 */
int sandbox_copy_diff(const char *rootdir, const char *const *lowerdirs, size_t n_lowerdirs,
		      const char *diffdir, struct kiln_error **err);
/*
 * The same, knowing when @rootdir was made: a directory born after @since
 * (statx birth time) where the lower layers show an entry was deleted and
 * made again, and goes into the diff opaque, as overlayfs makes it (so the
 * layer is the same byte for byte). Without birth times it falls back to
 * whiteouts for what is gone: the same files, another layer.
 */
struct timespec;
int sandbox_copy_diff_since(const char *rootdir, const char *const *lowerdirs, size_t n_lowerdirs,
			    const char *diffdir, const struct timespec *since,
			    struct kiln_error **err);

/*
 * Can an overlayfs be mounted here (in the current namespaces, `userxattr`
 * inside a user namespace) with its upper layer in @dir? Tried once, in a
 * throwaway child and mount namespace, and cached per process. Returns 1, 0,
 * or -errno when the probe itself could not be set up.
 */
int sandbox_overlay_supported(const char *dir, struct kiln_error **err);

/* ---- building an image ---------------------------------------------------------------- */

#include <stdint.h>

#include "util/strv.h"

/*
 * cmd/ fills a build_opts, supplies the event callbacks it renders as tty,
 * plain or json progress, and calls builder_build().
 */
enum build_network {
	BUILD_NETWORK_HOST = 0,
	BUILD_NETWORK_NONE,
};

/* When an image named by FROM, COPY --from or RUN --mount=from is pulled. */
enum build_pull {
	BUILD_PULL_MISSING = 0, /* only when the store lacks it */
	BUILD_PULL_ALWAYS, /* once per build, even when stored (a moved tag is seen) */
	BUILD_PULL_NEVER, /* never: a missing image is an error */
};

/* How a step sees its parent's files: --storage=overlay|copy. */
enum build_storage {
	BUILD_STORAGE_AUTO = 0, /* overlay where it can be mounted, else copy */
	BUILD_STORAGE_OVERLAY, /* overlayfs over the layers' snapshots */
	BUILD_STORAGE_COPY, /* a plain copy, diffed by walking it (slower) */
};

struct registry_opts;

struct build_opts {
	const char *context_dir; /* the build context directory */
	const char *dockerfile; /* path, "-" for stdin; NULL: CONTEXT/Dockerfile */
	const char *store_root; /* NULL: the default store */
	struct strv tags; /* names given to -t */
	struct strv build_args; /* K=V, or K alone to take it from the environment */
	struct strv labels; /* K=V added to the final image */
	struct strv no_cache_filter; /* stages to rebuild without the cache */
	const char *target; /* --target STAGE, or NULL for the last stage */
	bool no_cache;
	enum build_network network;
	int64_t source_date_epoch; /* -1: not set */
	const char *compression; /* "gzip" (default), "zstd", "none" */
	int jobs; /* parallel stages, 0: number of cores */
	struct strv secrets; /* id=ID,src=PATH | id=ID,env=VAR */
	struct strv ssh; /* default[=SOCKET] */
	enum build_pull pull;
	enum build_storage storage;
	const struct registry_opts *registry; /* TLS, credentials for pulls; NULL: defaults */
	struct strv cache_to; /* --cache-to values, as given ("type=local,dest=DIR", "REF") */
	struct strv cache_from; /* --cache-from values */
};

enum build_step_state {
	BUILD_STEP_RUNNING,
	BUILD_STEP_CACHED,
	BUILD_STEP_DONE,
	BUILD_STEP_FAILED,
};

struct build_step_info {
	unsigned id; /* unique within the build, from 1 */
	unsigned stage; /* stage index, from 0 */
	const char *stage_name; /* "AS name" or NULL */
	unsigned index, total; /* step index within its stage, from 1 */
	const char *text; /* "RUN make", as written */
	enum build_step_state state;
	double seconds; /* for DONE and FAILED */
	int exit_status; /* for FAILED RUN steps, else -1 */
};

/* Progress callbacks; any may be NULL. Called from the building thread(s). */
struct build_events {
	void *userdata;
	void (*step)(void *userdata, const struct build_step_info *step);
	/* Output of a running RUN step, in chunks as they arrive. */
	void (*output)(void *userdata, const struct build_step_info *step, const char *buf,
		       size_t len);
	/* A line of information ("naming to busybox:1"). */
	void (*message)(void *userdata, const char *msg);
};

void build_opts_init(struct build_opts *o);
void build_opts_release(struct build_opts *o);
/*
 * Call once, early, while the process has one thread: become root of a user
 * namespace (rootless) or enter a private mount namespace (real root), so the
 * build can mount overlays of its own.
 */
int builder_prepare(struct kiln_error **err);

/*
 * Build and store the image. On success *ret_image_id is the config digest
 * ("sha256:...") and the tags name the manifest in the store's index.json.
 */
int builder_build(const struct build_opts *opts, const struct build_events *ev, char **ret_image_id,
		  struct kiln_error **err);
