/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Becoming root of a user namespace (README.md, "How RUN is sandboxed").
 *
 * The process unshares CLONE_NEWUSER|CLONE_NEWNS itself and keeps its pid, so
 * signals, job control and exit statuses stay exactly as they were. The maps
 * for a whole 0..65535 range need the setuid helpers newuidmap/newgidmap to
 * run from outside the namespace, against our pid: a helper child forked
 * before the unshare waits on a pipe, runs them, reports, and exits. Without
 * a subordinate range (or the helpers) we write a single-id map ourselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/sandbox.h"
#include "sandbox/userns-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/run-cmd.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define MAP_SIZE 65536u /* container ids 0..65535 */

static enum sandbox_userns_mode userns_mode = -1;

static int subid_parse_line(char *line, const char *name, uint32_t id, struct subid_range *ret)
{
	char *f1 = line, *f2, *f3;
	uint32_t who;
	unsigned start, count;

	f2 = strchr(f1, ':');
	if (!f2)
		return 0;
	*f2++ = '\0';
	f3 = strchr(f2, ':');
	if (!f3)
		return 0;
	*f3++ = '\0';
	if (parse_uint(f2, &start) < 0 || parse_uint(f3, &count) < 0 || count == 0)
		return 0;
	if (!(name && streq(f1, name)) && !(parse_uint(f1, &who) == 0 && who == id))
		return 0;
	ret->start = start;
	ret->count = count;
	return 1;
}

int subid_find(const char *content, const char *name, uint32_t id, struct subid_range *ret)
{
	_cleanup_free_ char *copy = xstrdup(content);
	char *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(l);

		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
			l[--n] = '\0';
		if (!*l || *l == '#')
			continue;
		if (subid_parse_line(l, name, id, ret))
			return 1;
	}
	return 0;
}

int subid_find_in_file(const char *path, const char *name, uint32_t id, struct subid_range *ret,
		       struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(err_freep) struct kiln_error *e = NULL;

	if (strbuf_read_file(&sb, AT_FDCWD, path, &e) < 0) {
		if (e->errnum == ENOENT)
			return 0;
		return err_sys(err, e->errnum, "read '%s'", path);
	}
	return subid_find(sb.buf, name, id, ret);
}

int sandbox_subids(const char *path, const char *user, uid_t uid, unsigned *ret_start,
		   unsigned *ret_count, struct kiln_error **err)
{
	struct subid_range range;
	int r = subid_find_in_file(path, user, (uint32_t)uid, &range, err);

	if (r > 0) {
		*ret_start = range.start;
		*ret_count = range.count;
	}
	return r;
}

void subid_map_args(struct strv *args, const char *tool, pid_t pid, uint32_t self,
		    const struct subid_range *range)
{
	strv_push(args, tool);
	strv_pushf(args, "%d", (int)pid);
	strv_pushf(args, "%u", 0u); /* container id, host id, count */
	strv_pushf(args, "%u", self);
	strv_pushf(args, "%u", 1u);
	strv_pushf(args, "%u", 1u);
	strv_pushf(args, "%u", range->start);
	strv_pushf(args, "%u", MIN(range->count, MAP_SIZE - 1));
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

bool userns_is_initial(void)
{
	char buf[256];
	unsigned a, b, c;

	if (userns_mode == SANDBOX_USERNS_ROOT)
		return false; /* the identity map of every id root had: not the initial one */

	if (read_small("/proc/self/uid_map", buf, sizeof(buf)) < 0)
		return true;
	/* "0 0 4294967295": no other line can follow a map of every id. */
	if (sscanf(buf, "%u %u %u", &a, &b, &c) != 3)
		return true;
	return a == 0 && b == 0 && c == 4294967295u;
}

bool userns_setgroups_denied(void)
{
	char buf[32];

	return read_small("/proc/self/setgroups", buf, sizeof(buf)) == 0 && startswith(buf, "deny");
}

static int write_proc(const char *path, const char *text, struct kiln_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, errno, "open '%s'", path);
	if (write(fd, text, strlen(text)) < 0)
		return err_sys(err, errno, "write '%s' to '%s'", text, path);
	return 0;
}

/* The plan for the whole-range case, all allocated before the fork. */
struct idmap_plan {
	struct run_cmd uidmap, gidmap;
};

static bool idmap_plan_init(struct idmap_plan *p, uid_t uid, gid_t gid, const char *user)
{
	_cleanup_free_ char *newuidmap = run_cmd_which("newuidmap");
	_cleanup_free_ char *newgidmap = run_cmd_which("newgidmap");
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	struct subid_range ur, gr;
	const char *why = NULL;

	if (subid_find_in_file("/etc/subuid", user, uid, &ur, &e) <= 0)
		why = "no range for the user in /etc/subuid";
	else if (subid_find_in_file("/etc/subgid", user, uid, &gr, &e) <= 0)
		why = "no range for the user in /etc/subgid";
	else if (!newuidmap || !newgidmap)
		why = "newuidmap/newgidmap are not installed (Debian: the uidmap package)";
	if (why) {
		log_debug("userns: single-id map: %s%s%s", why, e ? ": " : "", e ? e->msg : "");
		return false;
	}
	subid_map_args(&p->uidmap.args, newuidmap, getpid(), uid, &ur);
	subid_map_args(&p->gidmap.args, newgidmap, getpid(), gid, &gr);
	log_debug("userns: mapping 1..%u to uids %u.. and gids %u..", MIN(ur.count, MAP_SIZE - 1),
		  ur.start, gr.start);
	return true;
}

/*
 * The helper: wait until the parent has unshared, run both tools, and send
 * back an error message (empty for success). It is a fork of a process with
 * a single thread, so it may allocate.
 */
_noreturn_ static void idmap_helper(struct idmap_plan *p, int go_fd, int result_fd)
{
	struct run_cmd *cmds[] = {&p->uidmap, &p->gidmap};
	struct kiln_error *e = NULL;
	char c;

	if (read(go_fd, &c, 1) != 1)
		_exit(1); /* the parent gave up */
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		int r = run_cmd_run(cmds[i], &e);

		if (r > 0)
			err_new(&e, KILN_ERR_SYSTEM, EPERM, "'%s' failed with exit status %d",
				cmds[i]->args.v[0], r);
		if (r != 0) {
			(void)!write(result_fd, e->msg, strlen(e->msg));
			_exit(1);
		}
	}
	_exit(0);
}

static void idmap_plan_release(struct idmap_plan *p)
{
	run_cmd_release(&p->uidmap);
	run_cmd_release(&p->gidmap);
}

static int wait_helper(pid_t pid, int result_fd, struct kiln_error **err)
{
	char msg[1024];
	ssize_t n;
	int status;

	n = fs_read_all(result_fd, msg, sizeof(msg) - 1, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(err, errno, "wait for the id-map helper");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	msg[n > 0 ? n : 0] = '\0';
	return err_new(err, KILN_ERR_SYSTEM, EPERM, "map ids: %s",
		       n > 0 ? msg : "the id-map helper failed");
}

/*
 * Fork @helper, unshare a user (and mount) namespace, tell the helper to write
 * its maps, wait for it. @helper(arg, go_fd, result_fd) never returns.
 */
static int unshare_mapped(void (*helper)(void *arg, int go_fd, int result_fd), void *arg,
			  struct kiln_error **err)
{
	int go[2], result[2];
	pid_t pid;
	int r;

	if (pipe2(go, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	if (pipe2(result, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return err_sys(err, errno, "pipe");
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(result[0]);
		helper(arg, go[0], result[1]);
		_exit(1);
	}
	close(go[0]);
	close(result[1]);
	if (pid < 0) {
		r = err_sys(err, errno, "fork");
	} else if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		r = err_sys(err, errno, "unshare a user namespace");
		close(go[1]); /* the helper sees EOF and exits */
		go[1] = -1;
		(void)wait_helper(pid, result[0], NULL);
	} else {
		(void)!write(go[1], "x", 1);
		r = wait_helper(pid, result[0], err);
	}
	if (go[1] >= 0)
		close(go[1]);
	close(result[0]);
	return r;
}

static void subids_helper(void *arg, int go_fd, int result_fd)
{
	idmap_helper(arg, go_fd, result_fd);
}

/* unshare, let newuidmap/newgidmap write the maps, wait for them. */
static int enter_with_subids(struct idmap_plan *p, struct kiln_error **err)
{
	return unshare_mapped(subids_helper, p, err);
}

static int enter_single(uid_t uid, gid_t gid, const char *user, struct kiln_error **err)
{
	char uid_map[32], gid_map[32];
	const char *const writes[][2] = {
		{"/proc/self/setgroups", "deny"},
		{"/proc/self/uid_map", uid_map},
		{"/proc/self/gid_map", gid_map},
	};

	snprintf(uid_map, sizeof(uid_map), "0 %u 1", (unsigned)uid);
	snprintf(gid_map, sizeof(gid_map), "0 %u 1", (unsigned)gid);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return err_sys(err, errno, "unshare a user namespace");
	for (size_t i = 0; i < ARRAY_SIZE(writes); i++) {
		int r = write_proc(writes[i][0], writes[i][1], err);

		if (r < 0)
			return r;
	}
	log_warn("user '%s' has no subordinate id range (or newuidmap is missing): RUN steps get "
		 "a single-id user namespace, where chown to any other user or group fails "
		 "(adduser, apt-get and tar extracting owned files do); fix: add a range such as "
		 "'%s:100000:65536' to /etc/subuid and /etc/subgid",
		 user, user);
	return 0;
}

static int become_root(bool drop_groups, struct kiln_error **err)
{
	if (drop_groups && setgroups(0, NULL) < 0)
		return err_sys(err, errno, "setgroups in the user namespace");
	if (setresgid(0, 0, 0) < 0)
		return err_sys(err, errno, "setresgid 0 in the user namespace");
	if (setresuid(0, 0, 0) < 0)
		return err_sys(err, errno, "setresuid 0 in the user namespace");
	return 0;
}

enum sandbox_userns_mode sandbox_userns_mode(void)
{
	if ((int)userns_mode < 0)
		userns_mode = getuid() != 0	    ? SANDBOX_USERNS_NONE /* not entered (yet) */
			      : userns_is_initial() ? SANDBOX_USERNS_NONE
						    : SANDBOX_USERNS_INHERITED;
	return userns_mode;
}

/*
 * The helper of sandbox_enter_userns_root(): still root of the outer
 * namespace, with CAP_SETUID and CAP_SETGID there, it writes the maps itself.
 */
_noreturn_ static void root_map_helper(pid_t pid, const char *const maps[2], int go_fd,
				       int result_fd)
{
	static const char *const files[] = {"uid_map", "gid_map"};
	struct kiln_error *e = NULL;
	char c;

	if (read(go_fd, &c, 1) != 1)
		_exit(1);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, files[i]);

		if (write_proc(path, maps[i], &e) < 0) {
			(void)!write(result_fd, e->msg, strlen(e->msg));
			_exit(1);
		}
	}
	_exit(0);
}

struct root_maps {
	pid_t pid;
	const char *const *maps;
};

static void root_helper(void *arg, int go_fd, int result_fd)
{
	const struct root_maps *m = arg;

	root_map_helper(m->pid, m->maps, go_fd, result_fd);
}

int sandbox_enter_userns_root(struct kiln_error **err)
{
	_cleanup_free_ char *uid_map = NULL, *gid_map = NULL;
	const char *maps[2];
	struct root_maps m = {getpid(), maps};
	int r;

	uid_map = sandbox_identity_map("/proc/self/uid_map", err);
	gid_map = uid_map ? sandbox_identity_map("/proc/self/gid_map", err) : NULL;
	if (!gid_map)
		return -1;
	maps[0] = uid_map;
	maps[1] = gid_map;
	r = unshare_mapped(root_helper, &m, err);
	if (r >= 0)
		r = become_root(false, err);
	if (r < 0)
		return err_wrap(err, "enter a user namespace as root");
	userns_mode = SANDBOX_USERNS_ROOT;
	log_debug("userns: root entered a user namespace of its own (uid map '%s')", uid_map);
	return 0;
}

int sandbox_enter_userns(struct kiln_error **err)
{
	struct idmap_plan plan = {RUN_CMD_INIT, RUN_CMD_INIT};
	uid_t uid = getuid();
	gid_t gid = getgid();
	struct passwd *pw;
	_cleanup_free_ char *user = NULL;
	bool full;
	int r;

	if (uid == 0) {
		(void)sandbox_userns_mode();
		return 0;
	}
	pw = getpwuid(uid);
	user = pw ? xstrdup(pw->pw_name) : xasprintf("%u", (unsigned)uid);
	full = idmap_plan_init(&plan, uid, gid, pw ? user : NULL);
	r = full ? enter_with_subids(&plan, err) : enter_single(uid, gid, user, err);
	idmap_plan_release(&plan);
	if (r < 0)
		return err_wrap(err, "enter a user namespace as '%s'", user);
	r = become_root(full, err);
	if (r < 0)
		return err_wrap(err, "enter a user namespace as '%s'", user);
	userns_mode = full ? SANDBOX_USERNS_SUBID : SANDBOX_USERNS_SINGLE;
	return 0;
}
