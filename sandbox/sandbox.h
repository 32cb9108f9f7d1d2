/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * sandbox/: the one public header of the sandbox module: the sandbox that runs
 * RUN steps (README.md, "How RUN is sandboxed"). Two calls do all the work:
 *
 *   sandbox_enter_userns()  once, early, in cmd/, before any thread exists:
 *                           an unprivileged kiln becomes root of its own user
 *                           namespace (ids from /etc/subuid and /etc/subgid);
 *   sandbox_run()           once per RUN step: a child in new mount, pid, uts
 *                           ipc and (unless --network=host) net namespaces
 *                           on an overlayfs over the parent layers, which
 *                           after its mounts enters a user namespace of its
 *                           own, drops to Docker's privileges and becomes the
 *                           command, pid 1.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct kiln_error;

/* ---- the user namespace ---------------------------------------------------------------- */

enum sandbox_userns_mode {
	SANDBOX_USERNS_NONE = 0, /* real root in the initial user namespace: no mapping needed */
	SANDBOX_USERNS_SUBID, /* 0 -> our uid, 1..N -> our /etc/subuid range (newuidmap) */
	SANDBOX_USERNS_SINGLE, /* only 0 -> our uid: chown to other ids fails */
	SANDBOX_USERNS_INHERITED, /* already root of a user namespace someone else made */
	SANDBOX_USERNS_ROOT, /* root without CAP_SYS_ADMIN made one: its ids mapped to themselves */
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
/*
 * Root lacking CAP_SYS_ADMIN (a container's) becomes root of a user namespace
 * of its own (with a new mount namespace), every id it has mapped to itself,
 * so that the sandbox's namespaces can be made in it. Single thread only.
 */
int sandbox_enter_userns_root(struct kiln_error **err);
/* What sandbox_enter_userns() found or did (it probes when it was not called). */
enum sandbox_userns_mode sandbox_userns_mode(void);
/* @user's (or @uid's) range in @path (/etc/subuid, /etc/subgid): 1 found, 0 none, -1 error. */
int sandbox_subids(const char *path, const char *user, uid_t uid, unsigned *ret_start,
		   unsigned *ret_count, struct kiln_error **err);

/* ---- running one step --------------------------------------------------------------------- */

enum sandbox_rootfs_kind {
	SANDBOX_ROOTFS_OVERLAY = 0, /* overlayfs: lowerdirs + upperdir (+ workdir) */
	SANDBOX_ROOTFS_DIR, /* a plain directory, used and modified in place ("copy" storage) */
};

enum sandbox_network {
	/* a new network namespace, outbound access through pasta or slirp4netns */
	SANDBOX_NETWORK_PRIVATE = 0,
	SANDBOX_NETWORK_HOST, /* the host's network namespace */
	SANDBOX_NETWORK_NONE, /* a new network namespace with only `lo`, up */
};

enum sandbox_mount_type {
	SANDBOX_MOUNT_BIND = 0, /* bind @source (a host path) on @target */
	SANDBOX_MOUNT_TMPFS, /* a tmpfs on @target; @options such as "size=64m,mode=1777" */
};

/* How a step is isolated (README.md, "Building in an unprivileged container"). */
enum sandbox_isolation {
	SANDBOX_ISOLATION_NAMESPACES =
		0, /* the full sandbox: namespaces, overlay or bind, pivot_root */
	SANDBOX_ISOLATION_CHROOT, /* chroot(2) into a plain directory (dir rootfs only), no
				     namespace */
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
	/*
	 * docker build --add-host: NULL-terminated "HOST:IP" (or "HOST=IP") entries,
	 * checked by sandbox_host_parse(), appended to RUN's /etc/hosts as "IP\tHOST"
	 * lines; may be NULL. Namespaced isolation only (chroot has no /etc/hosts).
	 */
	const char *const *extra_hosts;
	/* docker build --shm-size: RUN's /dev/shm tmpfs size in bytes; 0: 64 MiB, docker's */
	unsigned long long shm_size;
	/*
	 * docker build --ulimit: NULL-terminated NAME=SOFT[:HARD] values
	 * (sandbox_ulimit_parse), set with setrlimit(2) in the command's process
	 * before it enters the step's user namespace; may be NULL.
	 */
	const char *const *ulimits;
	enum sandbox_network network;
	/*
	 * RUN --security=insecure (allowed by kiln build --allow security.insecure):
	 * the command keeps every capability of the sandbox's user namespace and
	 * gets no seccomp filter, as BuildKit's insecure mode.
	 */
	bool insecure;
	int stdin_fd, stdout_fd, stderr_fd;
	/*
	 * kiln run -t: @stdin_fd is a pseudo-terminal's slave that becomes the
	 * command's controlling terminal (in its new session). Never pass kiln's
	 * own terminal: a command could push input into it (TIOCSTI).
	 */
	bool tty;

	const struct sandbox_mount *mounts;
	size_t n_mounts;

	enum sandbox_isolation isolation;
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
 * One --add-host value: HOST:IP or HOST=IP, HOST letters, digits, '.', '-' and
 * '_', IP an IPv4 or IPv6 address (in brackets or not). Sets *ret_name and
 * *ret_ip (malloc'd; the IP as inet_ntop writes it), or fails with a usage
 * error naming the value. docker's "host-gateway" is refused: RUN's default
 * network cannot reach the host by design (README.md, "RUN's network").
 */
int sandbox_host_parse(const char *text, char **ret_name, char **ret_ip, struct kiln_error **err);

/* One resource limit of --ulimit. */
struct sandbox_rlimit {
	int resource; /* RLIMIT_NOFILE, ... */
	struct rlimit limit;
};

/*
 * One --ulimit value, docker's NAME=SOFT[:HARD]: NAME as, core, cpu, data,
 * fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime,
 * sigpending or stack; HARD defaults to SOFT; -1 or "unlimited" is no limit.
 * A soft limit above the hard one, or a hard limit above kiln's own (unless
 * kiln has CAP_SYS_RESOURCE in the initial user namespace, so may raise it),
 * is a usage error naming the value.
 */
int sandbox_ulimit_parse(const char *text, struct sandbox_rlimit *ret, struct kiln_error **err);

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
 * SANDBOX_DIFF_MOVE in @flags: the caller discards @rootdir afterwards, so a
 * changed entry is renamed into @diffdir where that gives what a copy would
 * (the diff costs what the step changed, not a second copy of it). A file in
 * @rootdir that is a hard link to the lower layer's own file (same inode) is
 * unchanged, whatever its status-change time says.
 */
struct timespec;
enum { SANDBOX_DIFF_MOVE = 1 << 0 };
int sandbox_copy_diff_since(const char *rootdir, const char *const *lowerdirs, size_t n_lowerdirs,
			    const char *diffdir, const struct timespec *since, unsigned flags,
			    struct kiln_error **err);

/*
 * Can an overlayfs be mounted here (in the current namespaces, `userxattr`
 * inside a user namespace) with its upper layer in @dir? Tried once, in a
 * throwaway child and mount namespace, and cached per process. Returns 1, 0,
 * or -errno when the probe itself could not be set up.
 */
int sandbox_overlay_supported(const char *dir, struct kiln_error **err);

/*
 * Can the full sandbox's namespaces be made here: new mount, pid, uts and ipc
 * namespaces, a hostname, a fresh /proc, and (as real root) the step's own
 * user namespace? Tried once in a throwaway child and cached. Returns 1, or 0
 * with *ret_why (static) naming the first step that failed, such as
 * "unshare: Operation not permitted" or "mount proc: Operation not permitted".
 */
int sandbox_namespaces_usable(const char **ret_why);
/*
 * The reduced sandbox: the namespaces can be made but a fresh procfs cannot
 * be mounted (the outer /proc has paths masked by mounts, as in a container),
 * so RUN gets the outer /proc bound read-only, recursively. Returns why
 * (static), or NULL for the full sandbox or none.
 */
const char *sandbox_reduced_why(void);
/*
 * Root without CAP_SYS_ADMIN (a container whose seccomp profile allows
 * unshare): would the namespaces be usable in a user namespace of its own?
 * Tried in a throwaway child, each call.
 */
bool sandbox_own_userns_usable(void);

/*
 * chroot isolation (sandbox-chroot.c), what sandbox_run() does for a spec with
 * SANDBOX_ISOLATION_CHROOT: @rootdir (a dir rootfs) becomes the root of a
 * forked command, with /dev/null, zero, full, random, urandom and tty made by
 * mknod (or bound from the host's /dev when mknod is refused and a mount is
 * allowed) and removed afterwards, no /proc, Docker's capabilities less
 * CAP_SYS_CHROOT and CAP_MKNOD, the seccomp filter and no_new_privs, a new
 * session, the spec's environment only, no fd of kiln's. RUN --mount and
 * --network=none need namespaces: an error. kiln becomes non-dumpable, so
 * the command, root as kiln is, cannot ptrace it.
 */
int sandbox_chroot_run(const struct sandbox_spec *spec, int *ret_status, struct kiln_error **err);

/* ---- shared with the builder ---------------------------------------------------------- */

struct stat;
/* Copy the file, symlink or node @name of @from_dirfd into @to_dirfd with its metadata. */
int sandbox_copy_nondir(int from_dirfd, int to_dirfd, const char *name, const struct stat *st,
			struct kiln_error **err);
/* Give @to_fd @st's owner, mode and times and @from_fd's xattrs (not overlay's own). */
int sandbox_copy_meta(int from_fd, int to_fd, const struct stat *st, struct kiln_error **err);
/* True when /proc/self/setgroups says "deny" (a single-id map): setgroups(2) fails. */
bool userns_setgroups_denied(void);
