/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `copy` storage on real directories: snapshots in overlay form applied
 * bottom-up into a plain directory (whiteouts, opaque directories, entries
 * replaced by another type, metadata to the nanosecond), and the diff walk
 * back: an untouched copy has no diff, a directory made again is opaque.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/rootfs-internal.h"
#include "builder/snapshot-internal.h"
#include "sandbox/sandbox.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/xmalloc.h"

static char top[64];

static char *at(const char *rel)
{
	return fs_path_join(top, rel);
}

static void make_top(void)
{
	snprintf(top, sizeof(top), "/tmp/kiln-test-rootfs-copy.XXXXXX");
	if (!mkdtemp(top))
		abort();
}

static void remove_top(void)
{
	fs_rm_rf(AT_FDCWD, top, NULL);
}

static void mkdir_at(const char *rel, mode_t mode)
{
	char *p = at(rel);

	if (mkdir(p, mode) < 0 || chmod(p, mode) < 0)
		abort();
	free(p);
}

static void file_at(const char *rel, const char *data, mode_t mode)
{
	char *p = at(rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || fs_write_all(fd, data, strlen(data), NULL) < 0 || fchmod(fd, mode) < 0)
		abort();
	close(fd);
	free(p);
}

static void whiteout_at(const char *rel)
{
	char *p = at(rel);

	if (mknod(p, S_IFCHR | 0000, makedev(0, 0)) < 0)
		abort();
	free(p);
}

static void opaque_at(const char *rel)
{
	char *p = at(rel);

	if (setxattr(p, SNAPSHOT_OPAQUE_XATTR, "y", 1, 0) < 0)
		abort();
	free(p);
}

static void mtime_at(const char *rel, time_t sec, long nsec)
{
	struct timespec ts[2] = {{.tv_sec = sec, .tv_nsec = nsec},
				 {.tv_sec = sec, .tv_nsec = nsec}};
	char *p = at(rel);

	if (utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) < 0)
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

static char *read_at(const char *rel)
{
	char *p = at(rel), buf[256];
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	free(p);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/*
 * low: a/{x,y}, d/old, f (a file), s -> a/x
 * high: a/y deleted, a/z new, d opaque with d/new, f now a directory
 */
static void make_layers(struct strv *lowers)
{
	mkdir_at("low", 0755);
	mkdir_at("low/a", 0750);
	file_at("low/a/x", "x", 0640);
	file_at("low/a/y", "y", 0644);
	mkdir_at("low/d", 0755);
	file_at("low/d/old", "old", 0644);
	file_at("low/f", "f", 0644);
	{
		char *p = at("low/s");

		if (symlink("a/x", p) < 0)
			abort();
		free(p);
	}
	mtime_at("low/a/x", 1600000000, 123456789);
	mtime_at("low/s", 1600000001, 5);
	mtime_at("low/a", 1600000002, 0);

	mkdir_at("high", 0755);
	mkdir_at("high/a", 0700);
	whiteout_at("high/a/y");
	file_at("high/a/z", "z", 0600);
	mkdir_at("high/d", 0711);
	opaque_at("high/d");
	file_at("high/d/new", "new", 0644);
	mkdir_at("high/f", 0755);
	file_at("high/f/in", "in", 0644);
	mtime_at("high/a", 1700000000, 42);
	/* top first, as rootfs_lowers() lists them */
	strv_push_take(lowers, at("high"));
	strv_push_take(lowers, at("low"));
}

TEST(layers_apply_bottom_up)
{
	struct strv lowers = STRV_INIT;
	struct kiln_error *e = NULL;
	char *root, *s = NULL;
	struct stat st;
	char v[4];

	make_top();
	make_layers(&lowers);
	mkdir_at("root", 0755);
	root = at("root");
	ASSERT_EQ(rootfs_copy_layers(&lowers, root, false, &e), 0);
	/* a file of the low layer keeps its mode and its mtime to the nanosecond */
	st = stat_of("root/a/x");
	ASSERT_TRUE(S_ISREG(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0640);
	ASSERT_EQ(st.st_mtim.tv_sec, 1600000000);
	ASSERT_EQ(st.st_mtim.tv_nsec, 123456789);
	ASSERT_STREQ(s = read_at("root/a/x"), "x");
	free(s);
	/* a whiteout deletes, and is not copied itself */
	ASSERT_FALSE(exists("root/a/y"));
	ASSERT_STREQ(s = read_at("root/a/z"), "z");
	free(s);
	/* the directory takes the high layer's metadata */
	st = stat_of("root/a");
	ASSERT_EQ(st.st_mode & 07777, 0700);
	ASSERT_EQ(st.st_mtim.tv_sec, 1700000000);
	ASSERT_EQ(st.st_mtim.tv_nsec, 42);
	/* an opaque directory hides what is below, and is a plain directory in the copy */
	ASSERT_FALSE(exists("root/d/old"));
	ASSERT_TRUE(exists("root/d/new"));
	ASSERT_EQ(stat_of("root/d").st_mode & 07777, 0711);
	{
		char *p = at("root/d");

		ASSERT_EQ(lgetxattr(p, SNAPSHOT_OPAQUE_XATTR, v, sizeof(v)), -1);
		free(p);
	}
	/* a file replaced by a directory; a symlink kept as one */
	ASSERT_TRUE(S_ISDIR(stat_of("root/f").st_mode));
	ASSERT_TRUE(exists("root/f/in"));
	st = stat_of("root/s");
	ASSERT_TRUE(S_ISLNK(st.st_mode));
	ASSERT_EQ(st.st_mtim.tv_nsec, 5);
	free(root);
	strv_clear(&lowers);
	remove_top();
}

static int diff_flags(const struct strv *lowers, const char *root, const char *diff,
		      const struct timespec *since, unsigned flags)
{
	struct kiln_error *e = NULL;
	int r = sandbox_copy_diff_since(root, (const char *const *)lowers->v, lowers->n, diff,
					since, flags, &e);

	if (r < 0)
		printf("# %s\n", e->msg);
	err_free(e);
	return r;
}

static int diff_of(const struct strv *lowers, const char *root, const char *diff,
		   const struct timespec *since)
{
	return diff_flags(lowers, root, diff, since, 0);
}

static void stamp_now(struct timespec *ret)
{
	char *stamp = at("stamp");
	struct statx stx;

	ASSERT_EQ(mkdir(stamp, 0700), 0);
	ASSERT_EQ(statx(AT_FDCWD, stamp, 0, STATX_BTIME, &stx), 0);
	free(stamp);
	usleep(10000); /* past the file system's clock tick */
	*ret = (struct timespec){.tv_sec = stx.stx_btime.tv_sec, .tv_nsec = stx.stx_btime.tv_nsec};
}

TEST(a_linked_copy_diffs_by_moving_what_changed)
{
	struct strv lowers = STRV_INIT;
	struct kiln_error *e = NULL;
	struct timespec since;
	struct stat low, st;
	char *root, *diff, *p, *s = NULL;

	make_top();
	make_layers(&lowers);
	mkdir_at("root", 0755);
	mkdir_at("diff1", 0755);
	mkdir_at("diff2", 0755);
	root = at("root");
	ASSERT_EQ(rootfs_copy_layers(&lowers, root, true, &e), 0);
	/* a regular file is the layer's own inode; a symlink is copied */
	low = stat_of("low/a/x");
	st = stat_of("root/a/x");
	ASSERT_EQ(st.st_ino, low.st_ino);
	ASSERT_TRUE(stat_of("root/s").st_ino != stat_of("low/s").st_ino);
	stamp_now(&since);
	/* another step links the same file meanwhile: its ctime moves, it is still unchanged */
	p = at("low/a/x");
	ASSERT_EQ(chmod(p, low.st_mode & 07777), 0);
	free(p);
	diff = at("diff1");
	ASSERT_EQ(diff_flags(&lowers, root, diff, &since, SANDBOX_DIFF_MOVE), 0);
	ASSERT_TRUE(rootfs_dir_empty(diff));
	free(diff);

	/* COPY replaces /a/x and adds /a/n and a pair of links /a/l1 /a/l2 */
	p = at("root/a/x");
	ASSERT_EQ(unlink(p), 0);
	free(p);
	file_at("root/a/x", "X2", 0640);
	file_at("root/a/n", "n", 0600);
	file_at("root/a/l1", "l", 0644);
	{
		char *a = at("root/a/l1"), *b = at("root/a/l2");

		ASSERT_EQ(link(a, b), 0);
		free(a);
		free(b);
	}
	st = stat_of("root/a/n");
	diff = at("diff2");
	ASSERT_EQ(diff_flags(&lowers, root, diff, &since, SANDBOX_DIFF_MOVE), 0);
	free(diff);
	/* the changed files moved: the same inode, gone from the rootfs */
	ASSERT_EQ(stat_of("diff2/a/n").st_ino, st.st_ino);
	ASSERT_EQ(stat_of("diff2/a/n").st_mode & 07777, 0600);
	ASSERT_FALSE(exists("root/a/n"));
	ASSERT_STREQ(s = read_at("diff2/a/x"), "X2");
	free(s);
	/* the layer's own file is as it was */
	ASSERT_STREQ(s = read_at("low/a/x"), "x");
	free(s);
	/* two names of one file are copied, and linked in the diff */
	ASSERT_EQ(stat_of("diff2/a/l1").st_ino, stat_of("diff2/a/l2").st_ino);
	ASSERT_TRUE(stat_of("diff2/a/l1").st_ino != stat_of("root/a/l1").st_ino);
	/* what did not change stays out */
	ASSERT_FALSE(exists("diff2/a/z"));
	ASSERT_FALSE(exists("diff2/s"));
	free(root);
	strv_clear(&lowers);
	remove_top();
}

TEST(an_untouched_copy_has_no_diff_and_a_remade_dir_is_opaque)
{
	struct strv lowers = STRV_INIT;
	struct kiln_error *e = NULL;
	struct timespec since;
	struct statx stx;
	char *root, *diff, *stamp, *p, v[4];

	make_top();
	make_layers(&lowers);
	mkdir_at("root", 0755);
	mkdir_at("diff1", 0755);
	mkdir_at("diff2", 0755);
	root = at("root");
	ASSERT_EQ(rootfs_copy_layers(&lowers, root, false, &e), 0);
	stamp = at("stamp");
	ASSERT_EQ(mkdir(stamp, 0700), 0);
	ASSERT_EQ(statx(AT_FDCWD, stamp, 0, STATX_BTIME, &stx), 0);
	free(stamp);
	since.tv_sec = stx.stx_btime.tv_sec;
	since.tv_nsec = stx.stx_btime.tv_nsec;

	diff = at("diff1");
	ASSERT_EQ(diff_of(&lowers, root, diff, &since), 0);
	ASSERT_TRUE(rootfs_dir_empty(diff));
	free(diff);

	/* rm -rf /a && mkdir /a && echo n >/a/n; rm /d/new */
	p = at("root/a");
	ASSERT_EQ(fs_rm_rf(AT_FDCWD, p, NULL), 0);
	free(p);
	usleep(10000);
	mkdir_at("root/a", 0755);
	file_at("root/a/n", "n", 0644);
	p = at("root/d/new");
	ASSERT_EQ(unlink(p), 0);
	free(p);
	diff = at("diff2");
	ASSERT_EQ(diff_of(&lowers, root, diff, &since), 0);
	free(diff);
	/* the new /a is opaque and holds only what is in it now */
	p = at("diff2/a");
	ASSERT_EQ(lgetxattr(p, SNAPSHOT_OPAQUE_XATTR, v, sizeof(v)), 1);
	free(p);
	ASSERT_TRUE(exists("diff2/a/n"));
	ASSERT_FALSE(exists("diff2/a/x"));
	ASSERT_FALSE(exists("diff2/a/z"));
	/* /d was only emptied: a whiteout, not an opaque directory */
	ASSERT_EQ(stat_of("diff2/d/new").st_rdev, makedev(0, 0));
	ASSERT_TRUE(S_ISCHR(stat_of("diff2/d/new").st_mode));
	p = at("diff2/d");
	ASSERT_EQ(lgetxattr(p, SNAPSHOT_OPAQUE_XATTR, v, sizeof(v)), -1);
	free(p);
	ASSERT_FALSE(exists("diff2/f"));
	free(root);
	strv_clear(&lowers);
	remove_top();
}

TEST(a_missing_layer_is_an_error)
{
	struct strv lowers = STRV_INIT;
	struct kiln_error *e = NULL;
	char *root;

	make_top();
	mkdir_at("root", 0755);
	root = at("root");
	strv_push_take(&lowers, at("nosuch"));
	ASSERT_EQ(rootfs_copy_layers(&lowers, root, false, &e), -ENOENT);
	ASSERT_NOT_NULL(strstr(e->msg, "open layer"));
	err_free(e);
	free(root);
	strv_clear(&lowers);
	remove_top();
}

TAP_MAIN(TAP_ENTRY(layers_apply_bottom_up),
	 TAP_ENTRY(an_untouched_copy_has_no_diff_and_a_remade_dir_is_opaque),
	 TAP_ENTRY(a_linked_copy_diffs_by_moving_what_changed),
	 TAP_ENTRY(a_missing_layer_is_an_error))
