/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox_run(): the one entry point for running a RUN step (README.md, "How
 * RUN is sandboxed"). The plan is built here, in the parent; the child
 * (sandbox-child.c) follows it with syscalls only and reports failures as
 * {errno, stage} over a CLOEXEC pipe, which become one kiln_error.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/macro.h"

#include "util/banned.h"

/* crun's cleanup_pid: a child still running at an early return is killed and reaped. */
static void child_guard(pid_t *pid)
{
	int saved = errno;

	if (*pid > 0) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	errno = saved;
}

static void plan_releasep(struct sandbox_plan *p)
{
	sandbox_plan_release(p);
}

static void net_releasep(struct sandbox_net *n)
{
	sandbox_net_release(n);
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int report_error(const struct sandbox_plan *p, const struct sandbox_report *rep,
			struct kiln_error **err)
{
	const char *what = sandbox_plan_stage_what(p, rep->stage);

	switch (rep->stage) {
	case SANDBOX_STAGE_EXEC:
		return err_sys(err, rep->errnum, "sandbox: exec '%s'", p->argv.v[0]);
	case SANDBOX_STAGE_SETUID:
		return err_sys(err, rep->errnum, "sandbox: set the user id to %u%s",
			       (unsigned)p->uid,
			       rep->errnum == EINVAL ? " (not mapped in the user namespace)" : "");
	case SANDBOX_STAGE_SETGID:
		return err_sys(err, rep->errnum, "sandbox: set the group id to %u%s",
			       (unsigned)p->gid,
			       rep->errnum == EINVAL ? " (not mapped in the user namespace)" : "");
	case SANDBOX_STAGE_CHDIR:
		return err_sys(err, rep->errnum, "sandbox: change to the working directory '%s'",
			       p->cwd);
	default:
		return err_sys(err, rep->errnum, "sandbox: %s", what);
	}
}

/* Read the child's report: none (EOF) means the command was exec'd. */
static int read_report(int fd, struct sandbox_report *rep)
{
	return fs_read_all(fd, rep, sizeof(*rep), NULL) == (ssize_t)sizeof(*rep);
}

/*
 * The child has entered its user namespace: write its maps, then let it go
 * on. With a network namespace of the step's own to come, keep the one the
 * child has now (the one its /sys shows) alive in *netns_fd: sysfs does not.
 */
static int map_ids(const struct sandbox_plan *p, pid_t pid, int go_fd, int *netns_fd,
		   struct kiln_error **err)
{
	const char *const files[][2] = {{"uid_map", p->uid_map}, {"gid_map", p->gid_map}};
	char path[64];

	if (p->own_netns && *netns_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		*netns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*netns_fd < 0)
			return err_sys(err, errno, "sandbox: open '%s'", path);
	}

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_close_ int fd = -1;
		size_t len = strlen(files[i][1]);

		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i][0]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, files[i][1], len) != (ssize_t)len)
			return err_sys(err, errno,
				       "sandbox: write '%s' of the step's user namespace", path);
	}
	if (write(go_fd, "x", 1) != 1)
		return err_sys(err, errno, "sandbox: resume the step");
	return 0;
}

static int wait_status(pid_t pid, int *ret_status, struct kiln_error **err)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(err, errno, "sandbox: wait for the step");
	*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

int sandbox_run(const struct sandbox_spec *spec, int *ret_status, struct kiln_error **err)
{
	struct sandbox_plan plan __attribute__((cleanup(plan_releasep)));
	pid_t pid __attribute__((cleanup(child_guard))) = -1;
	struct sandbox_net net __attribute__((cleanup(net_releasep)));
	int report[2] = {-1, -1}, alive[2] = {-1, -1};
	_cleanup_close_ int netns_fd = -1;
	struct sandbox_report rep;
	int r, status = 0, watch;
	bool failed;

	sandbox_plan_init(&plan);
	sandbox_net_init(&net);
	if (spec->isolation == SANDBOX_ISOLATION_CHROOT)
		return sandbox_chroot_run(spec, ret_status, err);
	if (geteuid() != 0)
		return err_new(err, KILN_ERR_INTERNAL, EPERM,
			       "sandbox: not root: call sandbox_enter_userns() first");
	r = sandbox_net_prepare(&net, spec, err);
	if (r < 0)
		return r;
	plan.net_wait_fd = net.child_fds[0];
	plan.netns_fd = net.netns_fd;
	plan.net_dns = net.dns;
	r = sandbox_plan_build(&plan, spec, err);
	if (r < 0) {
		sandbox_plan_undo(&plan);
		return r;
	}
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(alive, O_CLOEXEC) < 0) {
		r = err_sys(err, errno, "sandbox: pipe");
		goto out;
	}
	pid = sandbox_raw_clone((unsigned long)plan.clone_flags);
	if (pid < 0) {
		r = err_sys(err, errno, "sandbox: clone the namespaces");
		goto out;
	}
	if (pid == 0) {
		close(report[0]);
		close(alive[1]);
		sandbox_child_main(&plan, report[1], alive[0]);
	}
	close(report[1]);
	report[1] = -1;
	watch = interrupt_watch_child(pid); /* SIGINT, SIGTERM: the step is killed */
	r = sandbox_net_start(&net, err); /* while the child sets its mounts up */
	if (r < 0) {
		interrupt_forget_child(watch);
		goto out;
	}
	while ((failed = read_report(report[0], &rep)) && rep.stage == SANDBOX_STAGE_MAP_IDS) {
		r = map_ids(&plan, pid, alive[1], &netns_fd, err);
		if (r < 0) {
			interrupt_forget_child(watch);
			goto out;
		}
	}
	r = wait_status(pid, &status, err);
	interrupt_forget_child(watch);
	if (r >= 0)
		pid = -1;
	if (r >= 0 && failed)
		r = report_error(&plan, &rep, err);
	if (r >= 0) {
		log_debug("sandbox: '%s' exited with status %d", plan.argv.v[0], status);
		*ret_status = status;
	}
out:
	close_pair(report);
	close_pair(alive);
	child_guard(&pid);
	pid = -1;
	if (r >= 0)
		sandbox_net_recycle(&net);
	sandbox_net_release(&net);
	sandbox_plan_undo(&plan);
	return r;
}
