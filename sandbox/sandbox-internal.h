/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The sandbox is split in two halves (STYLE.md, "Processes and the sandbox"):
 *
 *  - sandbox-plan.c, in the parent, allocates and prepares everything: the
 *    workdir layout, the extra top layer of mount points, /etc files, the
 *    overlay options, and a list of operations (`struct sandbox_op`);
 *  - sandbox-child.c, in the child, only makes syscalls: it walks the list,
 *    pivots into the new root, enters a user namespace of its own (the
 *    parent writes its maps), drops to Docker's privileges and execs the
 *    command, which is pid 1 of the step's pid namespace. A failure goes back
 *    to the parent as {errno, stage} over a CLOEXEC pipe; the stage is the index
 *    of the operation (or a negative SANDBOX_STAGE_*), whose message the parent
 *    prepared.
 */
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"
#include "util/macro.h"
#include "util/run-cmd.h"
#include "util/strv.h"

enum sandbox_op_kind {
	SOP_MOUNT, /* mount(source, target, fstype, mflags, data), host paths */
	SOP_MOUNT_FSCONFIG, /* fsopen(fstype) + fsconfig(params) + fsmount, moved on target */
	SOP_OPEN_ROOT, /* the new root: open(target) */
	SOP_MOUNT_IN, /* like SOP_MOUNT, target resolved inside the new root */
	SOP_REMOUNT_RO_IN, /* bind-remount target read-only, keeping its locked flags */
	SOP_MKDIR_IN, /* mkdir target inside the new root; EEXIST is fine */
	SOP_MKFILE_IN, /* create the empty file target inside the new root */
	SOP_SYMLINK_IN, /* symlink(source, target) inside the new root */
	SOP_PIVOT, /* pivot_root into the new root and detach the old one */
	SOP_HOSTNAME, /* sethostname(source) */
	SOP_LOOPBACK_UP, /* bring `lo` up */
	SOP_MASK_IN, /* hide target if it exists: a directory under an empty ro tmpfs, else source
		      */
	SOP_READONLY_IN, /* bind target on itself read-only, if it exists */
	SOP_READONLY_REC_IN, /* make target and every mount below it read-only */
};

enum sandbox_op_flags {
	/* On success skip the next op; on failure run it instead (a fallback). */
	SOP_OR_NEXT = 1 << 0,
};

struct sandbox_op {
	enum sandbox_op_kind kind;
	unsigned flags;
	const char *source, *target, *fstype, *data;
	unsigned long mflags;
	char *const *params; /* SOP_MOUNT_FSCONFIG: key, value pairs; "" is a flag */
	size_t n_params;
	const char *what; /* for the error: "mount overlay on '/…/root'" */
};

/* Stages of the command process, reported as negative numbers. */
enum sandbox_stage {
	SANDBOX_STAGE_SETUP = -1, /* making / private, the parent-death signal */
	SANDBOX_STAGE_FORK = -2,
	SANDBOX_STAGE_GROUPS = -3,
	SANDBOX_STAGE_SETGID = -4,
	SANDBOX_STAGE_SETUID = -5,
	SANDBOX_STAGE_NO_NEW_PRIVS = -6,
	SANDBOX_STAGE_CHDIR = -7,
	SANDBOX_STAGE_STDIO = -8,
	SANDBOX_STAGE_EXEC = -9,
	SANDBOX_STAGE_USERNS = -10, /* unshare the user namespace */
	SANDBOX_STAGE_MAP_IDS = -11, /* a request: the parent writes the maps, then answers */
	SANDBOX_STAGE_SESSION = -12, /* setsid, the session keyring */
	SANDBOX_STAGE_CAPS = -13,
	SANDBOX_STAGE_CLOSE_FDS = -14,
	SANDBOX_STAGE_SECCOMP = -15,
	SANDBOX_STAGE_NET = -16, /* waiting for the network helper (sandbox-net.c) */
	SANDBOX_STAGE_RLIMIT = -17, /* setrlimit for --ulimit */
};

struct sandbox_report {
	int errnum;
	int stage;
};

/* A change to undo or to finish after the setup (see sandbox-plan.c). */
struct sandbox_fixup {
	char *path; /* relative to the tree it applies to */
	struct stat st; /* owner, mode and times to give it back */
	struct timespec after; /* dir mode, a parent: its mtime after our last creation in it */
	bool remove; /* dir mode: we created it, remove it afterwards */
};

struct sandbox_plan {
	struct sandbox_op *ops;
	size_t n_ops, alloc_ops;
	struct strv strings; /* owns every string the ops point at */
	struct strv ovl_params[2]; /* overlay parameters for fsconfig: plain, userxattr */

	/* the command */
	struct strv exec_paths; /* candidates for argv[0], in PATH order */
	struct strv argv, env;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	bool set_groups;
	int stdio[3];
	bool ctty; /* stdin is a terminal to become the session's controlling one */
	bool own_stdio[3]; /* chroot isolation: opened for it, closed after */
	int clone_flags;
	int net_wait_fd; /* default network: read one byte before the command runs, or -1 */
	int netns_fd; /* default network: the namespace to join (setns) first, or -1 */
	const char *net_dns; /* default network: the helper's DNS forwarder */

	/* the step's privileges (sandbox-seccomp.c, sandbox-plan.c) */
	bool new_userns; /* unshare a user namespace after the mounts */
	bool own_netns; /* and a network namespace it owns, so CAP_NET_RAW works (ping) */
	char *uid_map, *gid_map; /* what the parent writes for it */
	unsigned cap_last; /* /proc/sys/kernel/cap_last_cap */
	uint64_t caps; /* bounding, permitted and effective set (Docker's default) */
	const struct sock_fprog *seccomp;
	struct sandbox_rlimit *rlimits; /* --ulimit, set before the step's user namespace */
	size_t n_rlimits;

	/* dir mode: what to remove from the rootfs after the run */
	int rootdir_fd;
	struct sandbox_fixup *fixups;
	size_t n_fixups, alloc_fixups;
};

/* sandbox-extra.c: append @spec's --add-host entries to @hosts, the step's /etc/hosts. */
struct strbuf;
int sandbox_hosts_append(const struct sandbox_spec *spec, struct strbuf *hosts,
			 struct kiln_error **err);
struct sandbox_plan;
/* sandbox-privs.c: the capabilities kiln holds (permitted set), as a bit mask. */
uint64_t sandbox_permitted_caps(void);
/* sandbox-extra.c: @spec's --ulimit values into p->rlimits. */
int sandbox_plan_rlimits(struct sandbox_plan *p, const struct sandbox_spec *spec,
			 struct kiln_error **err);

void sandbox_plan_init(struct sandbox_plan *p);
void sandbox_plan_release(struct sandbox_plan *p);
/* Prepare the workdir and the operations for @spec. */
int sandbox_plan_build(struct sandbox_plan *p, const struct sandbox_spec *spec,
		       struct kiln_error **err);
/* Dir mode: remove the mount points the plan created in the rootfs. */
void sandbox_plan_undo(struct sandbox_plan *p);
/* Append an operation; @what (taken) is its message. */
struct sandbox_op *sandbox_plan_add_op(struct sandbox_plan *p, enum sandbox_op_kind kind,
				       const char *target, char *what);
/* sandbox-privs.c: the user namespace, capabilities and seccomp filter of the step. */
/* The command alone: argv, env, exec paths, credentials, stdio, cwd. */
int sandbox_plan_command(struct sandbox_plan *p, const struct sandbox_spec *spec,
			 struct kiln_error **err);
/* chroot isolation's child (sandbox-child.c): chroot(@rootdir), make the cwd, exec. */
_noreturn_ void sandbox_child_chroot_main(const struct sandbox_plan *p, const char *rootdir,
					  int report_fd);
int sandbox_plan_privileges(struct sandbox_plan *p, const struct sandbox_spec *spec,
			    struct kiln_error **err);
/* sandbox-privs.c: Docker's masked and read-only paths, after /proc and /sys. */
void sandbox_plan_masks(struct sandbox_plan *p);
/* The ids of @path (/proc/self/uid_map, gid_map) mapped to themselves, for a child namespace. */
char *sandbox_identity_map(const char *path, struct kiln_error **err);
/* The message for a stage the child reported. */
const char *sandbox_plan_stage_what(const struct sandbox_plan *p, int stage);

/* The child (sandbox-child.c): never returns. */
_noreturn_ void sandbox_child_main(const struct sandbox_plan *p, int report_fd, int alive_fd);
/* A plain fork through the raw syscall: no atfork handlers, no glibc locks. */
pid_t sandbox_raw_clone(unsigned long flags);

/* sandbox-seccomp.c: the step's filter, built once per process; not to be freed. */
int sandbox_seccomp_program(const struct sock_fprog **ret, struct kiln_error **err);

/* sandbox-overlay.c */
/* The overlay mount options for these layers, with ',' ':' '\' escaped. */
char *sandbox_overlay_options(const char *const *lowerdirs, size_t n, const char *upperdir,
			      const char *workdir, bool userxattr);
/* The same as fsconfig() key, value pairs (one "lowerdir+" per layer, no escaping). */
void sandbox_overlay_params(struct strv *params, const char *const *lowerdirs, size_t n,
			    const char *upperdir, const char *workdir, bool userxattr);
/* mount(2) copies one page of options; longer ones need fsconfig(). */
#define SANDBOX_MOUNT_DATA_MAX 4000

/* sandbox-diff.c, shared with the `copy` storage's rootfs (rootfs-copy.c) */
/* (sandbox_copy_nondir, sandbox_copy_meta: sandbox/sandbox.h) */

/* sandbox-net.c: RUN's default network, a namespace of its own wired up by pasta/slirp4netns */
struct strbuf;
struct sandbox_net {
	struct run_cmd helper; /* pasta or slirp4netns, kiln's child while the step runs */
	char *path;
	const char *name, *dns;
	int netns_fd; /* the step's network namespace, which the child joins */
	bool ready; /* the helper is attached */
	int child_fds[2]; /* the child reads [0]: one byte once the helper is attached */
	int ready_fd; /* the helper writes here once it is attached */
	int log_fd; /* the helper's stderr, for the error */
};
void sandbox_net_init(struct sandbox_net *n);
void sandbox_net_release(struct sandbox_net *n);
/* After a step that ended: keep the attached namespace for the thread's next step. */
void sandbox_net_recycle(struct sandbox_net *n);
/* Before the clone: pick the helper (or fail naming the fix); no-op unless the network is private.
 */
int sandbox_net_prepare(struct sandbox_net *n, const struct sandbox_spec *spec,
			struct kiln_error **err);
/* After the clone: wait until the helper is attached, then let the child go on. */
int sandbox_net_start(struct sandbox_net *n, struct kiln_error **err);
/* In the child: block until the parent says the network is up; -1 with errno set otherwise. */
int sandbox_net_child_wait(int fd);
/* RUN's resolv.conf: @dns as the nameserver, the search and options lines of @host. */
void sandbox_net_resolv_conf(const char *dns, const char *host, struct strbuf *out);
