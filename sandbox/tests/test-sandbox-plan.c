/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parent half of the sandbox, without running anything: the workdir it
 * prepares, the extra layer of mount points, and the undo of dir mode. No
 * root needed; the namespaces themselves are tested end to end (t03*).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/userns-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static char top[64];

static char *at(const char *rel)
{
	return fs_path_join(top, rel);
}

static void mkdirs(const char *const *rels)
{
	for (; *rels; rels++) {
		char *p = at(*rels);

		if (mkdir(p, 0755) < 0)
			abort();
		free(p);
	}
}

static void set_mtime(const char *rel, time_t t)
{
	struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
	char *p = at(rel);

	if (utimensat(AT_FDCWD, p, ts, 0) < 0)
		abort();
	free(p);
}

static struct stat stat_of(const char *rel)
{
	struct stat st = {0};
	char *p = at(rel);

	if (lstat(p, &st) < 0)
		st.st_mode = 0;
	free(p);
	return st;
}

static bool exists(const char *rel)
{
	return stat_of(rel).st_mode != 0;
}

static const struct sandbox_op *find_op(const struct sandbox_plan *p, const char *what)
{
	for (size_t i = 0; i < p->n_ops; i++)
		if (strstr(p->ops[i].what, what))
			return &p->ops[i];
	return NULL;
}

static void fresh_top(void)
{
	snprintf(top, sizeof(top), "/tmp/kiln-test-plan.XXXXXX");
	if (!mkdtemp(top))
		abort();
}

static void remove_top(void)
{
	(void)fs_rm_rf(AT_FDCWD, top, NULL);
}

TEST(overlay_options_escape_separators)
{
	const char *lowers[] = {"/a,b", "/c:d\\e"};
	char *o = sandbox_overlay_options(lowers, 2, "/up", "/wo,rk", true);

	ASSERT_STREQ(o, "lowerdir=/a\\,b:/c\\:d\\\\e,upperdir=/up,workdir=/wo\\,rk,"
			"index=off,metacopy=off,redirect_dir=nofollow,userxattr");
	free(o);
	o = sandbox_overlay_options(lowers, 1, "/up", "/w", false);
	ASSERT_STREQ(o, "lowerdir=/a\\,b,upperdir=/up,workdir=/w,index=off,metacopy=off,"
			"redirect_dir=nofollow");
	free(o);
}

TEST(overlay_plan_keeps_the_upperdir_empty)
{
	static const char *const dirs[] = {"lower", "lower/etc", "lower/dev", "lower/var",
					   "upper", "work",	 "data",      NULL};
	const char *const argv[] = {"sh", "-c", "true", NULL};
	const char *const env[] = {"PATH=/bin:/usr/bin", NULL};
	struct sandbox_mount m = {.type = SANDBOX_MOUNT_BIND, .target = "/var/cache/x/y"};
	struct sandbox_plan p;
	struct sandbox_spec spec = SANDBOX_SPEC_INIT;
	struct kiln_error *e = NULL;
	struct strbuf sb = STRBUF_INIT;
	char *lower = NULL, *expect = NULL;
	const char *lowers[1];
	const struct sandbox_op *op;

	fresh_top();
	mkdirs(dirs);
	lower = at("lower");
	lowers[0] = lower;
	chmod(lower, 0755);
	{
		char *etc = at("lower/etc");

		chmod(etc, 0750);
		free(etc);
	}
	set_mtime("lower/etc", 1000000000);
	set_mtime("lower/var", 1100000000);
	m.source = at("data");
	spec.lowerdirs = lowers;
	spec.n_lowerdirs = 1;
	spec.upperdir = at("upper");
	spec.workdir = at("work");
	spec.argv = argv;
	spec.env = env;
	spec.hostname = "box";
	spec.mounts = &m;
	spec.n_mounts = 1;
	sandbox_plan_init(&p);
	ASSERT_EQ(sandbox_plan_build(&p, &spec, &e), 0);

	/* the mount points are in extra/, with the image's /etc and /var attributes */
	ASSERT_TRUE(S_ISREG(stat_of("work/extra/etc/hosts").st_mode));
	ASSERT_TRUE(S_ISREG(stat_of("work/extra/etc/resolv.conf").st_mode));
	ASSERT_TRUE(S_ISREG(stat_of("work/extra/etc/hostname").st_mode));
	ASSERT_EQ(stat_of("work/extra/etc").st_mode & 07777, 0750);
	ASSERT_EQ(stat_of("work/extra/etc").st_mtim.tv_sec, 1000000000);
	ASSERT_EQ(stat_of("work/extra/var").st_mtim.tv_sec, 1100000000);
	ASSERT_TRUE(S_ISDIR(stat_of("work/extra/var/cache/x/y").st_mode));
	/* missing in the image: in the step's layer, as BuildKit leaves them */
	ASSERT_TRUE(S_ISDIR(stat_of("upper/proc").st_mode));
	ASSERT_EQ(stat_of("upper/proc").st_mode & 07777, 0755);
	ASSERT_EQ(stat_of("upper/proc").st_mtim.tv_sec, 0);
	ASSERT_TRUE(S_ISDIR(stat_of("upper/sys").st_mode));
	ASSERT_FALSE(exists("work/extra/proc"));
	ASSERT_FALSE(exists("work/extra/dev")); /* present in the image */
	ASSERT_FALSE(exists("upper/dev"));
	ASSERT_FALSE(exists("upper/etc"));

	/* the /etc files' content */
	ASSERT_GE(strbuf_read_file(&sb, AT_FDCWD, expect = at("work/files/hostname"), &e), 0);
	ASSERT_STREQ(sb.buf, "box\n");
	free(expect);
	strbuf_reset(&sb);
	ASSERT_GE(strbuf_read_file(&sb, AT_FDCWD, expect = at("work/files/hosts"), &e), 0);
	ASSERT_NOT_NULL(strstr(sb.buf, "127.0.1.1\tbox\n"));
	free(expect);

	/* the overlay: extra/ on top of the image */
	op = find_op(&p, "mount overlay on");
	ASSERT_NOT_NULL(op);
	expect = xasprintf("lowerdir=%s/work/extra:%s,upperdir=%s/upper,", top, lower, top);
	ASSERT_TRUE(strncmp(op->data, expect, strlen(expect)) == 0);
	free(expect);
	ASSERT_NOT_NULL(find_op(&p, "bind '/dev/null' on '/dev/null'"));
	ASSERT_NOT_NULL(find_op(&p, "on '/var/cache/x/y'"));
	ASSERT_STREQ(p.exec_paths.v[0], "/bin/sh");
	ASSERT_STREQ(p.exec_paths.v[1], "/usr/bin/sh");
	ASSERT_STREQ(p.cwd, "/");

	/* the step's privileges: Docker's masks and capabilities, a user namespace, seccomp */
	ASSERT_NOT_NULL(find_op(&p, "mask '/proc/kcore'"));
	ASSERT_NOT_NULL(find_op(&p, "mask '/sys/firmware'"));
	ASSERT_NOT_NULL(find_op(&p, "make '/proc/sys' read-only"));
	ASSERT_TRUE(p.new_userns);
	ASSERT_NOT_NULL(p.uid_map);
	ASSERT_NOT_NULL(p.gid_map);
	ASSERT_EQ(p.caps, 0xa80425fbu);
	ASSERT_NOT_NULL(p.seccomp);
	ASSERT_GE(p.seccomp->len, 100);

	sandbox_plan_release(&p);
	strbuf_release(&sb);
	free(lower);
	free((char *)m.source);
	free((char *)spec.upperdir);
	free((char *)spec.workdir);
	remove_top();
}

TEST(many_layers_use_fsconfig)
{
	static const char *const dirs[] = {"upper", "work", NULL};
	const char *const argv[] = {"true", NULL};
	const char *lowers[60];
	struct sandbox_plan p;
	struct sandbox_spec spec = SANDBOX_SPEC_INIT;
	struct kiln_error *e = NULL;
	const struct sandbox_op *op;

	fresh_top();
	mkdirs(dirs);
	for (size_t i = 0; i < ARRAY_SIZE(lowers); i++) {
		char *name = xasprintf("snapshot-sha256-0123456789abcdef0123456789abcdef-%zu", i);
		char *dir = at(name);

		ASSERT_EQ(mkdir(dir, 0755), 0);
		lowers[i] = dir;
		free(name);
	}
	spec.lowerdirs = lowers;
	spec.n_lowerdirs = ARRAY_SIZE(lowers);
	spec.upperdir = at("upper");
	spec.workdir = at("work");
	spec.argv = argv;
	sandbox_plan_init(&p);
	ASSERT_EQ(sandbox_plan_build(&p, &spec, &e), 0);
	op = find_op(&p, "mount overlay on");
	ASSERT_NOT_NULL(op);
	ASSERT_GE(strlen(op->data), SANDBOX_MOUNT_DATA_MAX);
	ASSERT_EQ(op->kind, SOP_MOUNT_FSCONFIG);
	/* extra/ + 60 layers, upperdir, workdir, index, metacopy, redirect_dir (+ userxattr) */
	ASSERT_EQ(op->n_params, 61 + 5 + 1 /* userxattr, always tried first */);
	ASSERT_STREQ(op->params[0], "lowerdir+");
	ASSERT_STREQ(op->params[3], lowers[0]);
	sandbox_plan_release(&p);
	for (size_t i = 0; i < ARRAY_SIZE(lowers); i++)
		free((char *)lowers[i]);
	free((char *)spec.upperdir);
	free((char *)spec.workdir);
	remove_top();
}

TEST(dir_mode_undoes_its_mount_points)
{
	static const char *const dirs[] = {"root", "root/etc", "work", NULL};
	const char *const argv[] = {"/bin/true", NULL};
	struct sandbox_plan p;
	struct sandbox_spec spec = SANDBOX_SPEC_INIT;
	struct kiln_error *e = NULL;

	fresh_top();
	mkdirs(dirs);
	set_mtime("root/etc", 1000000000);
	set_mtime("root", 1200000000);
	spec.rootfs = SANDBOX_ROOTFS_DIR;
	spec.rootdir = at("root");
	spec.workdir = at("work");
	spec.argv = argv;
	spec.cwd = "/w";
	sandbox_plan_init(&p);
	ASSERT_EQ(sandbox_plan_build(&p, &spec, &e), 0);
	ASSERT_TRUE(exists("root/etc/hosts"));
	ASSERT_TRUE(exists("root/proc"));
	ASSERT_TRUE(exists("root/dev"));
	ASSERT_EQ(p.exec_paths.n, 1);
	ASSERT_NOT_NULL(find_op(&p, "create '/w'"));
	sandbox_plan_undo(&p);
	ASSERT_FALSE(exists("root/etc/hosts"));
	ASSERT_FALSE(exists("root/etc/resolv.conf"));
	ASSERT_FALSE(exists("root/proc"));
	ASSERT_FALSE(exists("root/dev"));
	ASSERT_EQ(stat_of("root/etc").st_mtim.tv_sec, 1000000000);
	ASSERT_EQ(stat_of("root").st_mtim.tv_sec, 1200000000);
	sandbox_plan_release(&p);
	free((char *)spec.rootdir);
	free((char *)spec.workdir);
	remove_top();
}

TEST(bad_specs_are_errors)
{
	static const char *const dirs[] = {"root", "work", NULL};
	const char *const argv[] = {"true", NULL};
	const char *const empty[] = {NULL};
	struct sandbox_mount m = {.type = SANDBOX_MOUNT_TMPFS, .target = "/f/x"};
	struct sandbox_plan p;
	struct sandbox_spec spec = SANDBOX_SPEC_INIT;
	struct kiln_error *e = NULL;
	char *f;
	int fd;

	fresh_top();
	mkdirs(dirs);
	f = at("root/f");
	fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	close(fd);
	free(f);
	spec.rootfs = SANDBOX_ROOTFS_DIR;
	spec.rootdir = at("root");
	spec.workdir = at("work");
	spec.argv = empty;
	sandbox_plan_init(&p);
	ASSERT_EQ(sandbox_plan_build(&p, &spec, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "no command to run");
	err_free(e);
	e = NULL;
	sandbox_plan_release(&p);

	spec.argv = argv;
	spec.cwd = "relative";
	ASSERT_EQ(sandbox_plan_build(&p, &spec, &e), -EINVAL);
	ASSERT_STREQ(e->msg, "working directory 'relative' is not an absolute path");
	err_free(e);
	e = NULL;
	sandbox_plan_release(&p);

	spec.cwd = NULL;
	spec.mounts = &m;
	spec.n_mounts = 1;
	ASSERT_EQ(sandbox_plan_build(&p, &spec, &e), -ENOTDIR);
	ASSERT_STREQ(e->msg, "mount point '/f/x': '/f' is not a directory in the image");
	err_free(e);
	sandbox_plan_undo(&p);
	sandbox_plan_release(&p);
	ASSERT_FALSE(exists("root/etc/hosts"));
	free((char *)spec.rootdir);
	free((char *)spec.workdir);
	remove_top();
}

TAP_MAIN(TAP_ENTRY(overlay_options_escape_separators),
	 TAP_ENTRY(overlay_plan_keeps_the_upperdir_empty), TAP_ENTRY(many_layers_use_fsconfig),
	 TAP_ENTRY(dir_mode_undoes_its_mount_points), TAP_ENTRY(bad_specs_are_errors))
