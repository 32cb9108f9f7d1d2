/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chroot isolation (README.md, "Building in an unprivileged container"): for
 * where no namespace can be made, root in a default Docker, podman or
 * Kubernetes container (no CAP_SYS_ADMIN, a seccomp filter that refuses
 * unshare and mount, masked /proc paths). The command runs in chroot(2) over
 * the `copy` storage's plain directory, with what is still possible of the
 * sandbox: Docker's capabilities less CAP_SYS_CHROOT (a chroot is escapable
 * with it) and CAP_MKNOD (no device cgroup guards the nodes it would make),
 * the seccomp filter, no_new_privs, a new session, no fd of kiln's. Also the
 * probe that tells `auto` which isolation it gets.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/macro.h"

#include "util/banned.h"

/* ---- the probe ----------------------------------------------------------------------------- */

enum probe_stage {
	PROBE_OK = 0,
	PROBE_UNSHARE,
	PROBE_HOSTNAME,
	PROBE_PRIVATE,
	PROBE_FORK,
	PROBE_PROC,
	PROBE_USERNS,
	PROBE_PROC_BOUND, /* not a failure: no fresh procfs, the outer one bound instead */
};

static const char *const probe_what[] = {
	[PROBE_UNSHARE] = "unshare",
	[PROBE_HOSTNAME] = "sethostname",
	[PROBE_PRIVATE] = "make mounts private",
	[PROBE_FORK] = "fork into the pid namespace",
	[PROBE_PROC] = "mount proc",
	[PROBE_USERNS] = "unshare a user namespace",
	[PROBE_PROC_BOUND] = "mount proc",
};

static void probe_report(int fd, int errnum, int stage)
{
	struct sandbox_report rep = {.errnum = errnum, .stage = stage};

	(void)!write(fd, &rep, sizeof(rep));
}

static _noreturn_ void probe_fail(int fd, int stage)
{
	probe_report(fd, errno, stage);
	_exit(1);
}

/*
 * pid 1 of the new pid namespace: what the sandbox's child does, in brief. A
 * fresh procfs is refused where the outer one has paths masked by mounts (a
 * container's): binding the outer one, as buildah's chroot isolation does, is
 * the reduced sandbox.
 */
static _noreturn_ void probe_pid1(int fd)
{
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		int errnum = errno;

		if (errnum != EPERM || mount("/proc", "/proc", "none", MS_BIND | MS_REC, NULL) < 0)
			probe_fail(fd, PROBE_PROC);
		probe_report(fd, errnum, PROBE_PROC_BOUND);
		/* the report is one write: the parent reads it whole, then sees EOF */
	}
	if (getuid() == 0 && sandbox_userns_mode() == SANDBOX_USERNS_NONE &&
	    unshare(CLONE_NEWUSER) < 0)
		probe_fail(fd, PROBE_USERNS);
	_exit(0);
}

static _noreturn_ void probe_child(int fd, bool own_userns)
{
	pid_t pid;
	int status;

	/* root without CAP_SYS_ADMIN: would a user namespace of its own give the sandbox? */
	if (own_userns && unshare(CLONE_NEWUSER) < 0)
		probe_fail(fd, PROBE_USERNS);
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
		probe_fail(fd, PROBE_UNSHARE);
	if (sethostname("kiln", 4) < 0)
		probe_fail(fd, PROBE_HOSTNAME);
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		probe_fail(fd, PROBE_PRIVATE);
	pid = fork();
	if (pid < 0)
		probe_fail(fd, PROBE_FORK);
	if (pid == 0)
		probe_pid1(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}

struct probe_result {
	char why[160]; /* why the sandbox cannot be made, or "" */
	char reduced[160]; /* why it is reduced, or "" */
};

static void probe(bool own_userns, struct probe_result *ret)
{
	struct sandbox_report rep;
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	*ret = (struct probe_result){""};
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(ret->why, sizeof(ret->why), "pipe failed");
		return;
	}
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		snprintf(ret->why, sizeof(ret->why), "fork failed");
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		probe_child(fds[1], own_userns);
	}
	close(fds[1]);
	/* reports until EOF: a bound /proc, then perhaps a failure after it */
	for (;;) {
		n = read(fds[0], &rep, sizeof(rep));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(rep))
			break;
		if (rep.stage <= PROBE_OK || (size_t)rep.stage >= ARRAY_SIZE(probe_what))
			continue;
		snprintf(rep.stage == PROBE_PROC_BOUND ? ret->reduced : ret->why, sizeof(ret->why),
			 "%s: %s", probe_what[rep.stage], strerror(rep.errnum));
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static struct probe_result probed;
static char reduced_why[240];

static void probe_once(void)
{
	probe(false, &probed);
	if (!probed.why[0] && probed.reduced[0])
		snprintf(reduced_why, sizeof(reduced_why),
			 "no fresh /proc: %s; the outer /proc is bound read-only", probed.reduced);
	log_debug("sandbox: namespaces %s%s%s%s", probed.why[0] ? "unusable: " : "usable",
		  probed.why, probed.reduced[0] ? ", reduced: " : "", probed.reduced);
}

static pthread_once_t probe_once_control = PTHREAD_ONCE_INIT;

int sandbox_namespaces_usable(const char **ret_why)
{
	pthread_once(&probe_once_control, probe_once);
	if (ret_why)
		*ret_why = probed.why[0] ? probed.why : NULL;
	return !probed.why[0];
}

const char *sandbox_reduced_why(void)
{
	pthread_once(&probe_once_control, probe_once);
	return reduced_why[0] ? reduced_why : NULL;
}

bool sandbox_own_userns_usable(void)
{
	struct probe_result r;

	probe(true, &r);
	log_debug("sandbox: namespaces in a user namespace of root's own %s%s",
		  r.why[0] ? "unusable: " : "usable", r.why);
	return !r.why[0];
}

/* ---- /dev ---------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned major, minor;
} dev_nodes[] = {
	{"null", 1, 3},	  {"zero", 1, 5},    {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/* What was added to the rootfs's /dev, to take away again. */
struct dev_state {
	int dev_fd;
	bool made_dev;
	struct stat dev_st;
	bool made[ARRAY_SIZE(dev_nodes)], bound[ARRAY_SIZE(dev_nodes)];
	bool missing[ARRAY_SIZE(dev_nodes)]; /* could not be made: RUN may write a file there */
};

/* mknod refused (a user namespace): bind the host's node on an empty file. */
static int bind_node(int dev_fd, const char *name)
{
	_cleanup_close_ int fd = -1;
	char host[64], target[64];

	fd = openat(dev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	snprintf(host, sizeof(host), "/dev/%s", name);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (mount(host, target, NULL, MS_BIND, NULL) < 0) {
		int e = -errno;

		(void)unlinkat(dev_fd, name, 0);
		return e;
	}
	return 0;
}

static void dev_populate(int root_fd, struct dev_state *d)
{
	static bool warned;
	struct stat st;

	if (fstatat(root_fd, "dev", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		if (mkdirat(root_fd, "dev", 0755) < 0)
			return;
		d->made_dev = true;
	} else if (!S_ISDIR(st.st_mode)) {
		log_warn("sandbox: the rootfs's /dev is not a directory: RUN gets no device nodes");
		return;
	}
	d->dev_fd = openat(root_fd, "dev", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->dev_fd < 0 || fstat(d->dev_fd, &d->dev_st) < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		const char *n = dev_nodes[i].name;
		dev_t dev = makedev(dev_nodes[i].major, dev_nodes[i].minor);
		int r;

		if (fstatat(d->dev_fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			continue; /* the image's own */
		if (mknodat(d->dev_fd, n, S_IFCHR | 0666, dev) == 0) {
			(void)fchmodat(d->dev_fd, n, 0666, 0);
			d->made[i] = true;
		} else if ((r = bind_node(d->dev_fd, n)) == 0) {
			d->made[i] = d->bound[i] = true;
		} else {
			d->missing[i] = true;
			if (!warned)
				log_warn("sandbox: no /dev/%s for RUN (mknod and bind refused: %s)",
					 n, strerror(-r));
			warned = true;
		}
	}
}

static void dev_undo(int root_fd, struct dev_state *d)
{
	char target[64];
	struct stat st;

	if (d->dev_fd < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		if (d->bound[i]) {
			_cleanup_close_ int fd = openat(d->dev_fd, dev_nodes[i].name,
							O_PATH | O_NOFOLLOW | O_CLOEXEC);

			snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
			if (fd >= 0 && umount2(target, MNT_DETACH) < 0)
				log_debug("umount /dev/%s: %m", dev_nodes[i].name);
		}
		if (d->made[i] && unlinkat(d->dev_fd, dev_nodes[i].name, 0) < 0 && errno != ENOENT)
			log_debug("remove /dev/%s: %m", dev_nodes[i].name);
		/* `> /dev/null` made a plain file where the device should be: not for the layer */
		if (d->missing[i] &&
		    fstatat(d->dev_fd, dev_nodes[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && unlinkat(d->dev_fd, dev_nodes[i].name, 0) == 0)
			log_debug("removed the plain file RUN made at /dev/%s", dev_nodes[i].name);
	}
	if (d->made_dev) {
		(void)unlinkat(root_fd, "dev", AT_REMOVEDIR);
	} else {
		struct timespec t[2] = {d->dev_st.st_atim, d->dev_st.st_mtim};

		(void)futimens(d->dev_fd, t);
	}
	close(d->dev_fd);
	d->dev_fd = -1;
}

/* ---- the step ------------------------------------------------------------------------------ */

static int refuse(const char *what, struct kiln_error **err)
{
	return err_new(err, KILN_ERR_INPUT, EPERM,
		       "sandbox: %s needs namespaces, which chroot isolation does not have "
		       "(see README.md, \"Building in an unprivileged container\")",
		       what);
}

static int plan_chroot(struct sandbox_plan *p, const struct sandbox_spec *spec,
		       struct kiln_error **err)
{
	int r;

	if (spec->rootfs != SANDBOX_ROOTFS_DIR || !spec->rootdir)
		return err_new(err, KILN_ERR_INTERNAL, EINVAL,
			       "chroot isolation needs a dir rootfs");
	if (spec->n_mounts)
		return refuse("RUN --mount", err);
	if (spec->network == SANDBOX_NETWORK_NONE)
		return refuse("--network=none", err);
	if (spec->extra_hosts && spec->extra_hosts[0])
		return refuse("--add-host", err);
	if (spec->shm_size)
		return refuse("--shm-size", err);
	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
		return err_new(err, KILN_ERR_INPUT, EINVAL, "no command to run");
	r = sandbox_plan_command(p, spec, err);
	if (r >= 0)
		r = sandbox_plan_privileges(p, spec, err);
	if (r < 0)
		return r;
	p->new_userns = p->own_netns = false;
	p->caps &= ~((UINT64_C(1) << CAP_SYS_CHROOT) | (UINT64_C(1) << CAP_MKNOD));
	p->caps &= sandbox_permitted_caps();
	/* before the chroot: the rootfs may have no /dev/null */
	for (int i = 0; i < 3; i++)
		if (p->stdio[i] < 0) {
			p->stdio[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
			if (p->stdio[i] < 0)
				return err_sys(err, errno, "sandbox: open /dev/null");
			p->own_stdio[i] = true;
		}
	return 0;
}

static int chroot_error(const struct sandbox_plan *p, const struct sandbox_spec *spec,
			const struct sandbox_report *rep, struct kiln_error **err)
{
	switch (rep->stage) {
	case SANDBOX_STAGE_EXEC:
		return err_sys(err, rep->errnum, "sandbox: exec '%s'", p->argv.v[0]);
	case SANDBOX_STAGE_SETUP:
		return err_sys(err, rep->errnum, "sandbox: chroot to '%s'", spec->rootdir);
	case SANDBOX_STAGE_CHDIR:
		return err_sys(err, rep->errnum, "sandbox: change to the working directory '%s'",
			       p->cwd);
	default:
		return err_sys(err, rep->errnum, "sandbox: %s",
			       sandbox_plan_stage_what(p, rep->stage));
	}
}

static int spawn(const struct sandbox_plan *p, const struct sandbox_spec *spec, int *ret_status,
		 struct kiln_error **err)
{
	struct sandbox_report rep;
	siginfo_t info;
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_sys(err, errno, "sandbox: pipe");
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_sys(err, errno, "sandbox: fork the command");
	}
	if (pid == 0) {
		close(fds[0]);
		sandbox_child_chroot_main(p, spec->rootdir, fds[1]);
	}
	close(fds[1]);
	n = fs_read_all(fds[0], &rep, sizeof(rep), NULL);
	close(fds[0]);
	/*
	 * Kill what the command left in its process group (one that left the
	 * group survives: README) while its leader is a zombie, not yet reaped,
	 * so that the group id cannot have been reused.
	 */
	while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			return err_sys(err, errno, "sandbox: wait for the step");
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(err, errno, "sandbox: wait for the step");
	if (n == (ssize_t)sizeof(rep))
		return chroot_error(p, spec, &rep, err);
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

int sandbox_chroot_run(const struct sandbox_spec *spec, int *ret_status, struct kiln_error **err)
{
	struct sandbox_plan plan;
	struct dev_state dev = {.dev_fd = -1};
	_cleanup_close_ int root_fd = -1;
	int r;

	sandbox_plan_init(&plan);
	r = plan_chroot(&plan, spec, err);
	if (r >= 0 && (root_fd = open(spec->rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = err_sys(err, errno, "sandbox: open rootfs '%s'", spec->rootdir);
	/* the command is root as kiln is: without this it could ptrace kiln and its memory */
	if (r >= 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		r = err_sys(err, errno, "sandbox: make kiln non-dumpable");
	if (r >= 0) {
		dev_populate(root_fd, &dev);
		r = spawn(&plan, spec, ret_status, err);
		dev_undo(root_fd, &dev);
	}
	for (int i = 0; i < 3; i++)
		if (plan.own_stdio[i])
			close(plan.stdio[i]);
	sandbox_plan_release(&plan);
	return r;
}
