/* SPDX-License-Identifier: Apache-2.0 */
/*
 * overlayfs: the mount options for a step, and whether overlay works here at
 * all (the `copy` storage fallback is used where it does not).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/sandbox.h"
#include "sandbox/userns-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* overlayfs splits options at ',' and lowerdir at ':'; a backslash escapes both. */
static void add_escaped(struct strbuf *sb, const char *path)
{
	for (const char *s = path; *s; s++) {
		if (*s == ',' || *s == ':' || *s == '\\')
			strbuf_addch(sb, '\\');
		strbuf_addch(sb, *s);
	}
}

char *sandbox_overlay_options(const char *const *lowerdirs, size_t n, const char *upperdir,
			      const char *workdir, bool userxattr)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "lowerdir=");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(&sb, ':');
		add_escaped(&sb, lowerdirs[i]);
	}
	strbuf_addstr(&sb, ",upperdir=");
	add_escaped(&sb, upperdir);
	strbuf_addstr(&sb, ",workdir=");
	add_escaped(&sb, workdir);
	/*
	 * No index, no metacopy, no redirects: the upper directory must be a
	 * plain diff that layers/ can turn into a tar (a renamed directory is
	 * copied up whole instead of redirected).
	 */
	strbuf_addstr(&sb, ",index=off,metacopy=off,redirect_dir=nofollow");
	if (userxattr)
		strbuf_addstr(&sb, ",userxattr");
	return strbuf_detach(&sb, NULL);
}

void sandbox_overlay_params(struct strv *params, const char *const *lowerdirs, size_t n,
			    const char *upperdir, const char *workdir, bool userxattr)
{
	for (size_t i = 0; i < n; i++) {
		strv_push(params, "lowerdir+");
		strv_push(params, lowerdirs[i]);
	}
	strv_pushv(params,
		   (const char *const[]){"upperdir", upperdir, "workdir", workdir, "index", "off",
					 "metacopy", "off", "redirect_dir", "nofollow", NULL});
	if (userxattr)
		strv_pushv(params, (const char *const[]){"userxattr", "", NULL});
}

/* In a throwaway mount namespace: mount, write through, check the upper layer. */
_noreturn_ static void probe_child(const char *opts, const char *merged, int upper_fd)
{
	int fd;

	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(2);
	if (mount("overlay", merged, "overlay", 0, opts) < 0)
		_exit(1);
	fd = openat(AT_FDCWD, merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || mkdirat(fd, "probe", 0755) < 0)
		_exit(1);
	if (faccessat(upper_fd, "probe", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		_exit(1);
	_exit(0);
}

static int try_overlay(const char *top, bool userxattr)
{
	_cleanup_free_ char *lower = fs_path_join(top, "lower");
	_cleanup_free_ char *upper = fs_path_join(top, "upper");
	_cleanup_free_ char *work = fs_path_join(top, "work");
	_cleanup_free_ char *merged = fs_path_join(top, "merged");
	const char *lowers[] = {lower};
	_cleanup_free_ char *opts = sandbox_overlay_options(lowers, 1, upper, work, userxattr);
	_cleanup_close_ int upper_fd = -1;
	int status;
	pid_t pid;
	const char *dirs[] = {lower, upper, work, merged};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir(dirs[i], 0755) < 0)
			return -errno;
	upper_fd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (upper_fd < 0)
		return -errno;
	pid = sandbox_raw_clone(CLONE_NEWNS);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		probe_child(opts, merged, upper_fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int sandbox_overlay_supported(const char *dir, struct kiln_error **err)
{
	static int cached = -1;
	_cleanup_free_ char *top = NULL;
	int r;

	if (cached >= 0)
		return cached;
	top = fs_path_join(dir, "overlay-probe.XXXXXX");
	if (!mkdtemp(top))
		return err_sys(err, errno, "create a directory in '%s'", dir);
	r = try_overlay(top, !userns_is_initial());
	(void)fs_rm_rf(AT_FDCWD, top, NULL);
	if (r < 0)
		return err_sys(err, -r, "probe overlayfs in '%s'", dir);
	log_debug("sandbox: overlayfs %s in '%s'", r ? "works" : "does not work", dir);
	cached = r;
	return r;
}
