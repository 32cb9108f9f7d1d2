/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's child side. Everything here runs after clone() in a process
 * that may be a copy of a multi-threaded parent, so it only makes syscalls:
 * no malloc, no stdio, no locks (systemd's rule). The plan it follows was
 * built and allocated by sandbox-plan.c before the clone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "util/macro.h"
#include "util/syscalls.h"

#include "util/banned.h"

pid_t sandbox_raw_clone(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

_noreturn_ static void fail(int report_fd, int stage, int errnum)
{
	struct sandbox_report r = {.errnum = errnum, .stage = stage};

	(void)!write(report_fd, &r, sizeof(r));
	_exit(127);
}

/* "/proc/self/fd/N" without snprintf. */
static const char *fd_path(char buf[32], int fd)
{
	char digits[12];
	int n = 0;
	size_t len = sizeof("/proc/self/fd/") - 1;

	memcpy(buf, "/proc/self/fd/", len);
	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0);
	while (n > 0)
		buf[len++] = digits[--n];
	buf[len] = '\0';
	return buf;
}

/* Resolve @path inside the new root, as if it were "/": symlinks cannot leave it. */
static int open_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return sys_openat2(root_fd, path, &how, sizeof(how));
}

static int mount_in(int root_fd, const struct sandbox_op *op)
{
	char buf[32];
	int fd = open_in_root(root_fd, op->target, O_PATH);
	int r;

	if (fd < 0)
		return -1;
	r = mount(op->source, fd_path(buf, fd), op->fstype, op->mflags, op->data);
	close(fd);
	return r;
}

static int remount_ro_in(int root_fd, const struct sandbox_op *op)
{
	static const struct {
		unsigned long st, ms;
	} locked[] = {
		{ST_NOSUID, MS_NOSUID},		{ST_NODEV, MS_NODEV},
		{ST_NOEXEC, MS_NOEXEC},		{ST_NOATIME, MS_NOATIME},
		{ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
	};
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
	struct statvfs sv;
	char buf[32];
	int fd = open_in_root(root_fd, op->target, O_PATH);
	int r = -1;

	if (fd < 0)
		return -1;
	/* In a user namespace the flags of the source mount are locked: keep them. */
	if (fstatvfs(fd, &sv) == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(locked); i++)
			if (sv.f_flag & locked[i].st)
				flags |= locked[i].ms;
		r = mount(NULL, fd_path(buf, fd), NULL, flags, NULL);
	}
	close(fd);
	return r;
}

/* Docker's masked paths: a directory under an empty read-only tmpfs, anything else under @source.
 */
static int mask_in(int root_fd, const struct sandbox_op *op)
{
	struct stat st;
	char buf[32];
	int fd = open_in_root(root_fd, op->target, O_PATH | O_NOFOLLOW);
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = fstat(fd, &st);
	if (r == 0 && S_ISDIR(st.st_mode))
		r = mount("tmpfs", fd_path(buf, fd), "tmpfs",
			  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555");
	else if (r == 0)
		r = mount(op->source, fd_path(buf, fd), NULL, MS_BIND, NULL);
	close(fd);
	return r;
}

/* Docker's read-only paths: bind the path on itself, then make that read-only. */
static int readonly_in(int root_fd, const struct sandbox_op *op)
{
	char buf[32];
	int fd = open_in_root(root_fd, op->target, O_PATH | O_NOFOLLOW);
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = mount(fd_path(buf, fd), fd_path(buf, fd), NULL, MS_BIND | MS_REC, NULL);
	close(fd);
	return r < 0 ? -1 : remount_ro_in(root_fd, op);
}

/* Read-only all the way down (/sys with its cgroup and other submounts). */
static int readonly_rec_in(int root_fd, const struct sandbox_op *op)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	int fd = open_in_root(root_fd, op->target, O_PATH);
	int r;

	if (fd < 0)
		return -1;
	r = mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr));
	close(fd);
	if (r < 0 && errno == ENOSYS)
		return remount_ro_in(root_fd, op); /* before 5.12: the top mount only */
	return r;
}

static int parent_fd_of(int root_fd, const char *path, const char **ret_name)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	size_t n;

	if (!slash) {
		*ret_name = path;
		return fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	}
	n = (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	*ret_name = slash + 1;
	return open_in_root(root_fd, n ? dir : "/", O_PATH | O_DIRECTORY);
}

static int make_in(int root_fd, const struct sandbox_op *op)
{
	const char *name;
	int dfd = parent_fd_of(root_fd, op->target, &name);
	int r;

	if (dfd < 0)
		return -1;
	if (op->kind == SOP_MKDIR_IN) {
		r = mkdirat(dfd, name, 0755);
		if (r < 0 && errno == EEXIST)
			r = 0;
	} else if (op->kind == SOP_SYMLINK_IN) {
		r = symlinkat(op->source, dfd, name);
	} else {
		r = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (r >= 0)
			r = close(r);
	}
	close(dfd);
	return r;
}

/* The new mount API, for options longer than mount(2) takes (many overlay layers). */
static int mount_fsconfig(const struct sandbox_op *op)
{
	int fs = fsopen(op->fstype, FSOPEN_CLOEXEC), mnt = -1, r = -1;

	if (fs < 0)
		return -1;
	for (size_t i = 0; i < op->n_params; i++) {
		const char *key = op->params[2 * i], *value = op->params[2 * i + 1];

		if (fsconfig(fs, *value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, key,
			     *value ? value : NULL, 0) < 0)
			goto out;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto out;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt >= 0)
		r = move_mount(mnt, "", AT_FDCWD, op->target, MOVE_MOUNT_F_EMPTY_PATH);
out:
	if (mnt >= 0)
		close(mnt);
	close(fs);
	return r;
}

static int pivot(int root_fd)
{
	if (fchdir(root_fd) < 0)
		return -1;
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -1;
	if (umount2(".", MNT_DETACH) < 0)
		return -1;
	return chdir("/");
}

static int loopback_up(void)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return r;
}

/* One operation; returns -1 with errno set on failure. */
static int run_op(const struct sandbox_op *op, int *root_fd)
{
	switch (op->kind) {
	case SOP_MOUNT:
		return mount(op->source, op->target, op->fstype, op->mflags, op->data);
	case SOP_MOUNT_FSCONFIG:
		return mount_fsconfig(op);
	case SOP_OPEN_ROOT:
		*root_fd = open(op->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
		return *root_fd < 0 ? -1 : 0;
	case SOP_MOUNT_IN:
		return mount_in(*root_fd, op);
	case SOP_REMOUNT_RO_IN:
		return remount_ro_in(*root_fd, op);
	case SOP_MKDIR_IN:
	case SOP_MKFILE_IN:
	case SOP_SYMLINK_IN:
		return make_in(*root_fd, op);
	case SOP_PIVOT:
		return pivot(*root_fd);
	case SOP_HOSTNAME:
		return sethostname(op->source, strlen(op->source));
	case SOP_LOOPBACK_UP:
		return loopback_up();
	case SOP_MASK_IN:
		return mask_in(*root_fd, op);
	case SOP_READONLY_IN:
		return readonly_in(*root_fd, op);
	case SOP_READONLY_REC_IN:
		return readonly_rec_in(*root_fd, op);
	}
	errno = EINVAL;
	return -1;
}

static void run_ops(const struct sandbox_plan *p, int report_fd)
{
	int root_fd = -1, first_stage = -1, first_errno = 0;

	for (size_t i = 0; i < p->n_ops; i++) {
		const struct sandbox_op *op = &p->ops[i];

		if (run_op(op, &root_fd) == 0) {
			if (op->flags & SOP_OR_NEXT)
				i++;
			first_stage = -1;
			continue;
		}
		/* Of a chain of fallbacks, the first attempt's error says the most. */
		if (first_stage < 0) {
			first_stage = (int)i;
			first_errno = errno;
		}
		if (!(op->flags & SOP_OR_NEXT) || i + 1 == p->n_ops)
			fail(report_fd, first_stage, first_errno);
	}
	if (root_fd >= 0)
		close(root_fd);
}

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Enter the step's own user namespace, now that every mount is made: the
 * kernel locks them all (a read-only bind stays read-only, nothing mounted
 * over a path can be removed to show what is below). The parent writes the
 * maps and then answers on @alive_fd.
 */
static void enter_userns(const struct sandbox_plan *p, int report_fd, int alive_fd)
{
	struct sandbox_report req = {.stage = SANDBOX_STAGE_MAP_IDS};
	char c;

	if (!p->new_userns)
		return;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		fail(report_fd, SANDBOX_STAGE_USERNS, errno);
	if (write(report_fd, &req, sizeof(req)) != (ssize_t)sizeof(req))
		fail(report_fd, SANDBOX_STAGE_MAP_IDS, errno);
	if (read(alive_fd, &c, 1) != 1)
		_exit(127); /* the parent is gone, or gave up */
	/* the parent holds the first network namespace, which /sys shows, open */
	if (p->own_netns && (unshare(CLONE_NEWNET) < 0 || loopback_up() < 0))
		fail(report_fd, SANDBOX_STAGE_USERNS, errno);
}

/* A new session without a terminal, and a new session keyring, as runc gives a container. */
static void new_session(int report_fd)
{
	if (setsid() < 0)
		fail(report_fd, SANDBOX_STAGE_SESSION, errno);
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
		fail(report_fd, SANDBOX_STAGE_SESSION, errno);
}

static void set_stdio(const struct sandbox_plan *p, int report_fd)
{
	int fds[3];

	for (int i = 0; i < 3; i++) {
		fds[i] = p->stdio[i] >= 0 ? fcntl(p->stdio[i], F_DUPFD_CLOEXEC, 3)
					  : open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) |
								      O_CLOEXEC | O_NOCTTY);
		if (fds[i] < 0)
			fail(report_fd, SANDBOX_STAGE_STDIO, errno);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			fail(report_fd, SANDBOX_STAGE_STDIO, errno);
	/* kiln run -t: the pty kiln made (never kiln's own terminal) becomes ours */
	if (p->ctty && ioctl(0, TIOCSCTTY, 0) < 0)
		fail(report_fd, SANDBOX_STAGE_STDIO, errno);
}

/*
 * Close every fd but 0, 1, 2 and the report pipe, which becomes fd 3 (and is
 * closed at exec): no directory of kiln's stays reachable through
 * /proc/self/fd (CVE-2024-21626) when the working directory is resolved.
 */
static int close_fds(int report_fd)
{
	if (report_fd != 3 && dup3(report_fd, 3, O_CLOEXEC) < 0)
		fail(report_fd, SANDBOX_STAGE_CLOSE_FDS, errno);
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0)
		for (int fd = 4; fd < 65536; fd++)
			(void)close(fd);
	return 3;
}

/* Docker's capabilities: the bounding set first, while we may still drop from it. */
static void drop_bounding(const struct sandbox_plan *p, int report_fd)
{
	for (unsigned c = 0; c <= p->cap_last; c++)
		if (!(p->caps & (UINT64_C(1) << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			fail(report_fd, SANDBOX_STAGE_CAPS, errno);
}

/* Root keeps Docker's set in effective and permitted; another user has none (setresuid cleared
 * them). */
static void set_caps(const struct sandbox_plan *p, int report_fd)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	uint64_t set = p->uid == 0 ? p->caps : 0;

	d[0].effective = d[0].permitted = (uint32_t)set;
	d[1].effective = d[1].permitted = (uint32_t)(set >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		fail(report_fd, SANDBOX_STAGE_CAPS, errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(report_fd, SANDBOX_STAGE_CAPS, errno);
}

static void set_credentials(const struct sandbox_plan *p, int report_fd)
{
	drop_bounding(p, report_fd);
	/*
	 * Raw syscalls: glibc's wrappers would broadcast the change to the
	 * threads of the parent, which it still believes are ours after a raw
	 * clone. Credentials are per thread, and we are the only one.
	 */
	if (p->set_groups && syscall(SYS_setgroups, p->n_groups, p->groups) < 0)
		fail(report_fd, SANDBOX_STAGE_GROUPS, errno);
	if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
		fail(report_fd, SANDBOX_STAGE_SETGID, errno);
	if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
		fail(report_fd, SANDBOX_STAGE_SETUID, errno);
	set_caps(p, report_fd);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(report_fd, SANDBOX_STAGE_NO_NEW_PRIVS, errno);
	/* A change of credentials clears the parent-death signal: set it again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(report_fd, SANDBOX_STAGE_SETUP, errno);
}

/* Enter the working directory, resolved inside the root and never through a magic link. */
static void enter_cwd(const struct sandbox_plan *p, int report_fd)
{
	static char buf[4096]; /* not on the stack: the child runs on a copy of a thread's */
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;

	if (root >= 0)
		fd = open_in_root(root, p->cwd, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOSYS) {
		/*
		 * No openat2 (before 5.6): only fds 0-3 are left for a magic
		 * link, and the getcwd check below refuses a directory that a
		 * magic link found outside the root.
		 */
		if (chdir(p->cwd) < 0)
			fail(report_fd, SANDBOX_STAGE_CHDIR, errno);
	} else if (fd < 0 || fchdir(fd) < 0) {
		fail(report_fd, SANDBOX_STAGE_CHDIR, errno);
	}
	/* the kernel names a directory outside the root "(unreachable)/…": refuse it */
	if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0 ? errno != ENAMETOOLONG : buf[0] != '/')
		fail(report_fd, SANDBOX_STAGE_CHDIR, EXDEV);
	if (fd >= 0)
		close(fd);
	if (root >= 0)
		close(root);
}

static void load_seccomp(const struct sandbox_plan *p, int report_fd)
{
	if (p->seccomp && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p->seccomp, 0, 0) < 0)
		fail(report_fd, SANDBOX_STAGE_SECCOMP, errno);
}

_noreturn_ static void exec_command(const struct sandbox_plan *p, int report_fd)
{
	char **envp = p->env.v ? p->env.v : (char *[]){NULL};
	int err = ENOENT;

	reset_signals();
	new_session(report_fd);
	set_stdio(p, report_fd);
	report_fd = close_fds(report_fd);
	set_credentials(p, report_fd);
	enter_cwd(p, report_fd);
	load_seccomp(p, report_fd);
	for (size_t i = 0; i < p->exec_paths.n; i++) {
		execve(p->exec_paths.v[i], p->argv.v, envp);
		/* like execvp: remember a permission problem, keep looking past ENOENT */
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			err = errno;
		if (errno != ENOENT && errno != ENOTDIR && errno != EACCES && errno != ELOOP)
			break;
	}
	fail(report_fd, SANDBOX_STAGE_EXEC, err);
}

/* --ulimit, while the process may still raise a hard limit (root of the initial namespace) */
static void set_rlimits(const struct sandbox_plan *p, int report_fd)
{
	for (size_t i = 0; i < p->n_rlimits; i++)
		if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].limit) < 0)
			fail(report_fd, SANDBOX_STAGE_RLIMIT, errno);
}

/*
 * The child: pid 1 of the step's pid namespace. It sets the sandbox up and
 * becomes the command itself, as runc does: no process of kiln's stays in
 * the sandbox, and kiln waits for the command from outside. When pid 1 exits
 * the kernel kills whatever else still runs in the namespace.
 */
_noreturn_ void sandbox_child_main(const struct sandbox_plan *p, int report_fd, int alive_fd)
{
	struct pollfd pfd = {.fd = alive_fd, .events = POLLIN};

	/* Die with the parent, and do not start at all if it is already gone. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(report_fd, SANDBOX_STAGE_SETUP, errno);
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
		_exit(127);
	if (p->netns_fd >= 0 && setns(p->netns_fd, CLONE_NEWNET) < 0)
		fail(report_fd, SANDBOX_STAGE_NET, errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(report_fd, SANDBOX_STAGE_SETUP, errno);
	umask(022); /* Docker's, whatever the caller's: modes in layers must not depend on it */
	run_ops(p, report_fd);
	if (p->net_wait_fd >= 0 && sandbox_net_child_wait(p->net_wait_fd) < 0)
		fail(report_fd, SANDBOX_STAGE_NET, errno);
	set_rlimits(p, report_fd);
	enter_userns(p, report_fd, alive_fd);
	exec_command(p, report_fd);
}

/* chroot isolation: the working directory's missing parts, made as root inside the root. */
static void make_cwd(const struct sandbox_plan *p, int report_fd)
{
	static char buf[4096];
	size_t n = strlen(p->cwd);

	if (n >= sizeof(buf))
		fail(report_fd, SANDBOX_STAGE_CHDIR, ENAMETOOLONG);
	memcpy(buf, p->cwd, n + 1);
	for (char *s = buf + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;

		*s = '\0';
		if (buf[1] && mkdir(buf, 0755) < 0 && errno != EEXIST)
			fail(report_fd, SANDBOX_STAGE_CHDIR, errno);
		*s = c;
		if (!c)
			break;
	}
}

/*
 * chroot isolation's child: no namespace, only chroot(2). Symlinks and ".."
 * resolve inside the new root from here on; the command gets no
 * CAP_SYS_CHROOT to chroot again and walk out.
 */
_noreturn_ void sandbox_child_chroot_main(const struct sandbox_plan *p, const char *rootdir,
					  int report_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(report_fd, SANDBOX_STAGE_SETUP, errno);
	umask(022);
	if (chroot(rootdir) < 0 || chdir("/") < 0)
		fail(report_fd, SANDBOX_STAGE_SETUP, errno);
	make_cwd(p, report_fd);
	set_rlimits(p, report_fd);
	exec_command(p, report_fd);
}
