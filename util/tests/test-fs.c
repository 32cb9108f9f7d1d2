/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

/*
 * A tree with a secret beside it:
 *   top/secret            "outside"
 *   top/root/a/file       "inside"
 *   top/root/secret       "decoy"       (what in-root resolution must find)
 *   top/root/up -> ../..  top/root/abs -> /secret  top/root/dotdot -> a/../../secret
 */
static char top[64];
static int rootfd = -1, topfd = -1;

static void write_file(int dfd, const char *name, const char *data)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		abort();
	close(fd);
}

static void setup(void)
{
	snprintf(top, sizeof(top), "/tmp/kiln-test-fs.XXXXXX");
	if (!mkdtemp(top))
		abort();
	topfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (mkdirat(topfd, "root", 0755) < 0)
		abort();
	rootfd = openat(topfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	write_file(topfd, "secret", "outside");
	if (mkdirat(rootfd, "a", 0755) < 0)
		abort();
	write_file(rootfd, "a/file", "inside");
	write_file(rootfd, "secret", "decoy");
	if (symlinkat("../..", rootfd, "up") < 0 || symlinkat("/secret", rootfd, "abs") < 0 ||
	    symlinkat("a/../../secret", rootfd, "dotdot") < 0 || symlinkat("a", rootfd, "rel") < 0)
		abort();
}

static void teardown(void)
{
	fs_rm_rf(AT_FDCWD, top, NULL);
	close(rootfd);
	close(topfd);
}

/* Returns the file's content through an in-root open, or "E<errno>". */
static char *read_in(const char *path, enum fs_resolve_flags flags)
{
	static char buf[64];
	struct strbuf sb = STRBUF_INIT;
	int fd = fs_open_in(rootfd, path, O_RDONLY, 0, flags, NULL);

	if (fd < 0) {
		snprintf(buf, sizeof(buf), "E%d", -fd);
		return buf;
	}
	strbuf_read_fd(&sb, fd, NULL);
	close(fd);
	snprintf(buf, sizeof(buf), "%s", sb.buf);
	strbuf_release(&sb);
	return buf;
}

static char expect_exdev[8], expect_enoent[8];

static void check_resolution(void)
{
	snprintf(expect_exdev, sizeof(expect_exdev), "E%d", EXDEV);
	snprintf(expect_enoent, sizeof(expect_enoent), "E%d", ENOENT);
}

static void in_root_cases(void)
{
	ASSERT_STREQ(read_in("a/file", FS_IN_ROOT), "inside");
	ASSERT_STREQ(read_in("/a/file", FS_IN_ROOT), "inside");
	ASSERT_STREQ(read_in("../secret", FS_IN_ROOT), "decoy");
	ASSERT_STREQ(read_in("../../../secret", FS_IN_ROOT), "decoy");
	ASSERT_STREQ(read_in("abs", FS_IN_ROOT), "decoy");
	ASSERT_STREQ(read_in("up/secret", FS_IN_ROOT), "decoy");
	ASSERT_STREQ(read_in("dotdot", FS_IN_ROOT), "decoy");
	ASSERT_STREQ(read_in("rel/file", FS_IN_ROOT), "inside");
	ASSERT_STREQ(read_in("a/missing", FS_IN_ROOT), expect_enoent);
}

static void beneath_cases(void)
{
	ASSERT_STREQ(read_in("a/file", FS_BENEATH), "inside");
	ASSERT_STREQ(read_in("a/../a/file", FS_BENEATH), "inside");
	ASSERT_STREQ(read_in("rel/file", FS_BENEATH), "inside");
	ASSERT_STREQ(read_in("../secret", FS_BENEATH), expect_exdev);
	ASSERT_STREQ(read_in("/a/file", FS_BENEATH), expect_exdev);
	ASSERT_STREQ(read_in("abs", FS_BENEATH), expect_exdev);
	ASSERT_STREQ(read_in("up/secret", FS_BENEATH), expect_exdev);
	ASSERT_STREQ(read_in("dotdot", FS_BENEATH), expect_exdev);
}

TEST(open_in_root_never_leaves_the_tree)
{
	check_resolution();
	fs_force_fallback(false);
	in_root_cases();
}

TEST(open_in_root_fallback_walk_agrees)
{
	fs_force_fallback(true);
	in_root_cases();
	fs_force_fallback(false);
}

TEST(open_beneath_refuses_escapes)
{
	fs_force_fallback(false);
	beneath_cases();
}

TEST(open_beneath_fallback_walk_agrees)
{
	fs_force_fallback(true);
	beneath_cases();
	fs_force_fallback(false);
}

static void create_through_link(bool fallback)
{
	int fd;

	fs_force_fallback(fallback);
	/* "up" points at ../..: in root that is the root itself, so the file lands inside */
	fd = fs_open_in(rootfd, "up/created", O_WRONLY | O_CREAT | O_EXCL, 0600, FS_IN_ROOT, NULL);
	fs_force_fallback(false);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(faccessat(rootfd, "created", F_OK, 0), 0);
	ASSERT_EQ(faccessat(topfd, "created", F_OK, 0), -1);
	ASSERT_EQ(unlinkat(rootfd, "created", 0), 0);
}

TEST(create_through_symlink_stays_inside)
{
	create_through_link(false);
}

TEST(create_through_symlink_stays_inside_fallback)
{
	create_through_link(true);
}

TEST(nofollow_last_opens_the_link_itself)
{
	struct stat st;
	int fd;

	for (int fb = 0; fb < 2; fb++) {
		fs_force_fallback(fb);
		fd = fs_open_in(rootfd, "abs", O_PATH, 0, FS_IN_ROOT | FS_NOFOLLOW_LAST, NULL);
		fs_force_fallback(false);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(fstat(fd, &st), 0);
		close(fd);
		ASSERT_TRUE(S_ISLNK(st.st_mode));
		fd = fs_open_in(rootfd, "abs", O_RDONLY, 0, FS_IN_ROOT | FS_NOFOLLOW_LAST, NULL);
		ASSERT_EQ(fd, -ELOOP);
	}
}

TEST(open_error_names_the_path)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	ASSERT_EQ(fs_open_in(rootfd, "nope/x", O_RDONLY, 0, FS_IN_ROOT, &err), -ENOENT);
	ASSERT_STREQ(err->msg, "open 'nope/x': No such file or directory");
}

TEST(mkdir_p_refuses_symlinked_parents)
{
	struct stat st;

	ASSERT_EQ(fs_mkdir_p(rootfd, "x/y/z", 0755, NULL), 0);
	ASSERT_EQ(fstatat(rootfd, "x/y/z", &st, 0), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(fs_mkdir_p(rootfd, "x/y/z", 0755, NULL), 0);
	ASSERT_EQ(fs_mkdir_p(rootfd, "up/escaped", 0755, NULL), -ENOTDIR);
	ASSERT_EQ(faccessat(topfd, "escaped", F_OK, 0), -1);
	ASSERT_EQ(fs_mkdir_p(rootfd, "../escaped", 0755, NULL), -EXDEV);
}

TEST(mkdir_p_absolute_ignores_dirfd)
{
	char abs[128];
	struct stat st;

	snprintf(abs, sizeof(abs), "%s/root/abs/dir", top);
	/* "root/abs" is a symlink: refused, as for relative paths */
	ASSERT_EQ(fs_mkdir_p(topfd, abs, 0755, NULL), -ENOTDIR);
	snprintf(abs, sizeof(abs), "%s/root/a/new/dir", top);
	ASSERT_EQ(fs_mkdir_p(topfd, abs, 0755, NULL), 0);
	ASSERT_EQ(stat(abs, &st), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
}

TEST(rm_rf_does_not_follow_symlinks)
{
	int fd;

	ASSERT_EQ(fs_mkdir_p(rootfd, "victim/sub", 0755, NULL), 0);
	ASSERT_EQ(symlinkat("../../a", rootfd, "victim/sub/link-to-a"), 0);
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(fs_rm_rf(fd, "victim", NULL), 0);
	ASSERT_EQ(faccessat(fd, "victim", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	ASSERT_EQ(faccessat(fd, "a/file", F_OK, 0), 0);
	ASSERT_EQ(fs_rm_rf(fd, "victim", NULL), 0); /* gone already: fine */
	close(fd);
}

TEST(atomic_write_replaces_and_leaves_no_temp)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int dfd = openat(topfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int entries = 0;
	DIR *d;

	ASSERT_EQ(fs_atomic_write(dfd, "index.json", "{}", 2, 0644, NULL), 0);
	ASSERT_EQ(fs_atomic_write(dfd, "index.json", "{\"a\":1}", 7, 0600, NULL), 0);
	ASSERT_GE(strbuf_read_file(&sb, dfd, "index.json", NULL), 0);
	ASSERT_STREQ(sb.buf, "{\"a\":1}");
	ASSERT_EQ(fstatat(dfd, "index.json", &st, 0), 0);
	ASSERT_EQ(st.st_mode & 07777, 0600);
	ASSERT_EQ(fs_atomic_write(dfd, "a/b", "x", 1, 0644, NULL), -EINVAL);
	d = fdopendir(dfd);
	for (struct dirent *de; (de = readdir(d));)
		entries += strncmp(de->d_name, ".tmp-", 5) == 0;
	closedir(d);
	ASSERT_EQ(entries, 0);
}

TEST(lock_is_exclusive)
{
	int a = fs_lock(topfd, "lock", false, NULL), b;

	ASSERT_GE(a, 0);
	b = openat(topfd, "lock", O_RDWR | O_CLOEXEC);
	ASSERT_GE(b, 0);
	ASSERT_EQ(flock(b, LOCK_EX | LOCK_NB), -1);
	ASSERT_EQ(errno, EWOULDBLOCK);
	close(a);
	ASSERT_EQ(flock(b, LOCK_EX | LOCK_NB), 0);
	close(b);
}

TEST(next_component_drops_slashes)
{
	_cleanup_strbuf_ struct strbuf rest = STRBUF_INIT, comp = STRBUF_INIT;

	strbuf_addstr(&rest, "//a//bc/./");
	ASSERT_TRUE(fs_next_component(&rest, &comp));
	ASSERT_STREQ(comp.buf, "a");
	ASSERT_TRUE(fs_next_component(&rest, &comp));
	ASSERT_STREQ(comp.buf, "bc");
	ASSERT_TRUE(fs_next_component(&rest, &comp));
	ASSERT_STREQ(comp.buf, ".");
	ASSERT_FALSE(fs_next_component(&rest, &comp));
	ASSERT_EQ(rest.len, 0);
}

TEST(path_join)
{
	char *p = fs_path_join("a/", "/b");

	ASSERT_STREQ(p, "a/b");
	free(p);
	p = fs_path_join("a", "b");
	ASSERT_STREQ(p, "a/b");
	free(p);
}

bool tap_failed_;

/* The read/write loops: whole counts, short only at EOF, offsets left alone by p*. */
TEST(read_write_all_and_at_offsets)
{
	_cleanup_close_ int fd = openat(topfd, "rw", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	char buf[16] = {0};
	int p[2];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(fs_write_all(fd, "0123456789", 10, NULL), 0);
	ASSERT_EQ(fs_pwrite_all(fd, "ab", 2, 4, NULL), 0);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 10); /* pwrite moved nothing */
	ASSERT_EQ(fs_pread_all(fd, buf, sizeof(buf), 2, NULL), 8);
	ASSERT_STREQ(buf, "23ab6789");
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(fs_read_all(fd, buf, 4, NULL), 4);
	ASSERT_EQ(fs_read_all(fd, buf + 4, sizeof(buf) - 5, NULL), 6); /* EOF */
	ASSERT_STREQ(buf, "0123ab6789");
	/* a pipe gives what was written in pieces, whole */
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	ASSERT_EQ(fs_write_all(p[1], "xy", 2, NULL), 0);
	ASSERT_EQ(fs_write_all(p[1], "z", 1, NULL), 0);
	close(p[1]);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(fs_read_all(p[0], buf, sizeof(buf), NULL), 3);
	ASSERT_STREQ(buf, "xyz");
	close(p[0]);
	/* errors are set and returned */
	ASSERT_LT(fs_pread_all(-1, buf, 1, 0, &err), 0);
	ASSERT_NOT_NULL(err);
	ASSERT_EQ(err ? err->errnum : 0, EBADF);
}

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(open_in_root_never_leaves_the_tree),
		TAP_ENTRY(open_in_root_fallback_walk_agrees),
		TAP_ENTRY(open_beneath_refuses_escapes),
		TAP_ENTRY(open_beneath_fallback_walk_agrees),
		TAP_ENTRY(create_through_symlink_stays_inside),
		TAP_ENTRY(create_through_symlink_stays_inside_fallback),
		TAP_ENTRY(nofollow_last_opens_the_link_itself),
		TAP_ENTRY(open_error_names_the_path),
		TAP_ENTRY(mkdir_p_refuses_symlinked_parents),
		TAP_ENTRY(mkdir_p_absolute_ignores_dirfd),
		TAP_ENTRY(rm_rf_does_not_follow_symlinks),
		TAP_ENTRY(atomic_write_replaces_and_leaves_no_temp),
		TAP_ENTRY(read_write_all_and_at_offsets),
		TAP_ENTRY(lock_is_exclusive),
		TAP_ENTRY(next_component_drops_slashes),
		TAP_ENTRY(path_join),
	};
	int r;

	setup();
	r = tap_run(tests, ARRAY_SIZE(tests));
	teardown();
	return r;
}
