/* SPDX-License-Identifier: Apache-2.0 */
/* COPY rules: destinations, wildcards, directories, symlinks, escapes, owners, modes. */
#include <dirent.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include "copy-test.h"

TEST(file_to_file_keeps_mode_and_mtime)
{
	struct timespec t[2] = {{1000000000, 123456789}, {1000000000, 123456789}};
	struct stat st;

	t_reset();
	t_write(ctxfd, "a.txt", "A", 0640);
	utimensat(ctxfd, "a.txt", t, 0);
	ASSERT_EQ(COPY1("/b.txt", "a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "b.txt", "A"));
	st = t_lstat(rootfd, "b.txt");
	ASSERT_EQ(st.st_mode & 07777, 0640);
	ASSERT_EQ(st.st_mtim.tv_sec, 1000000000);
	ASSERT_EQ(st.st_mtim.tv_nsec, 123456789);
}

TEST(trailing_slash_makes_directory)
{
	t_reset();
	t_write(ctxfd, "a.txt", "A", 0644);
	ASSERT_EQ(COPY1("/new/deep/", "a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "new/deep/a.txt", "A"));
	ASSERT_EQ(t_lstat(rootfd, "new").st_mode & 07777, 0755);
	ASSERT_EQ(t_lstat(rootfd, "new/deep").st_mode & 07777, 0755);
	/* without the slash the destination is the file, parents 0755 */
	ASSERT_EQ(COPY1("/x/y/file", "a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "x/y/file", "A"));
	ASSERT_EQ(t_lstat(rootfd, "x/y").st_mode & 07777, 0755);
}

TEST(existing_directory_receives_file)
{
	t_reset();
	t_write(ctxfd, "a.txt", "A", 0644);
	t_mkdirs(rootfd, "d");
	ASSERT_EQ(COPY1("/d", "a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "d/a.txt", "A"));
	ASSERT_EQ(COPY1("/", "a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "a.txt", "A"));
}

TEST(directory_copies_contents)
{
	t_reset();
	t_write(ctxfd, "dir/x", "X", 0644);
	t_write(ctxfd, "dir/sub/y", "Y", 0600);
	fchmodat(ctxfd, "dir", 0700, 0);
	ASSERT_EQ(COPY1("/out", "dir"), 0);
	/* the destination is made 0755, not with the source directory's mode */
	ASSERT_EQ(t_lstat(rootfd, "out").st_mode & 07777, 0755);
	ASSERT_TRUE(t_content_is(rootfd, "out/x", "X"));
	ASSERT_TRUE(t_content_is(rootfd, "out/sub/y", "Y"));
	ASSERT_FALSE(t_exists(rootfd, "out/dir"));
	/* into an existing directory, with a trailing slash: still the contents */
	ASSERT_EQ(COPY1("/out/", "dir/"), 0);
	ASSERT_FALSE(t_exists(rootfd, "out/dir"));
	/* the whole context */
	ASSERT_EQ(COPY1("/all", "."), 0);
	ASSERT_TRUE(t_content_is(rootfd, "all/dir/sub/y", "Y"));
	ASSERT_EQ(t_lstat(rootfd, "all").st_mode & 07777, 0755);
}

TEST(directory_onto_file_fails)
{
	char *msg = NULL;
	static const char *const src[] = {"dir"};
	struct copy_opts o = t_opts("/f", src, 1);

	t_reset();
	t_write(ctxfd, "dir/x", "X", 0644);
	t_write(rootfd, "f", "F", 0644);
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "dir"));
	free(msg);
	ASSERT_TRUE(t_content_is(rootfd, "f", "F"));
}

/*
 * Inside a copied tree, BuildKit (fsutil copy) merges a directory into a
 * directory and replaces a non-directory by a non-directory, but fails on a
 * directory onto anything else ("cannot copy to non-directory") and on a
 * non-directory onto a directory ("cannot replace to directory ... with file").
 */
TEST(copy_conflicts_fail_as_buildkit)
{
	char *msg = NULL;
	static const char *const tree1[] = {"tree1/"}, *const tree2[] = {"tree2/"};
	struct copy_opts o1 = t_opts("/", tree1, 1), o2 = t_opts("/", tree2, 1);

	t_reset();
	t_write(ctxfd, "tree1/maybe-directory", "a file\n", 0444);
	t_write(ctxfd, "tree1/directory/file-in-directory", "f", 0444);
	t_write(ctxfd, "tree2/maybe-directory/file-in-maybe-directory", "g", 0444);
	ASSERT_EQ(t_copy(&o1, NULL), 0);
	ASSERT_TRUE(t_copy(&o2, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "cannot copy to non-directory '/maybe-directory'"));
	free(TAKE_PTR(msg));
	ASSERT_TRUE(t_content_is(rootfd, "maybe-directory", "a file\n"));
	t_reset();
	t_write(ctxfd, "tree1/maybe-directory", "a file\n", 0444);
	t_write(ctxfd, "tree2/maybe-directory/file-in-maybe-directory", "g", 0444);
	ASSERT_EQ(t_copy(&o2, NULL), 0);
	ASSERT_TRUE(t_copy(&o1, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "cannot replace directory '/maybe-directory' with a file"));
	free(TAKE_PTR(msg));
	ASSERT_TRUE(t_content_is(rootfd, "maybe-directory/file-in-maybe-directory", "g"));
	/* a file over a file or a symlink is replaced; read-only sources keep their modes */
	t_symlink(rootfd, "maybe-directory", "f");
	t_write(ctxfd, "tree3/f", "new", 0444);
	ASSERT_EQ(COPY1("/", "tree3/"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "f", "new"));
	ASSERT_EQ(t_lstat(rootfd, "f").st_mode & 07777, 0444);
	ASSERT_EQ(COPY1("/", "tree3/"), 0);
}

/*
 * Several sources to a path that is not a directory: each is copied there in
 * turn, as BuildKit (no "must end with a '/'" error, that was the classic
 * builder's): the last file stays; a directory first makes a directory.
 */
TEST(several_sources_copied_in_turn)
{
	static const char *const src[] = {"a", "b"}, *const dsrc[] = {"d", "a", "b"};
	struct copy_opts o = t_opts("/x", src, 2), od = t_opts("/y", dsrc, 3);

	t_reset();
	t_write(ctxfd, "a", "A", 0644);
	t_write(ctxfd, "b", "B", 0644);
	t_write(ctxfd, "d/f", "F", 0644);
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "x", "B"));
	ASSERT_EQ(t_copy(&od, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "y/f", "F") && t_content_is(rootfd, "y/a", "A") &&
		    t_content_is(rootfd, "y/b", "B"));
	o.dest = "/x2/";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "x2/a", "A") && t_content_is(rootfd, "x2/b", "B"));
	/* an existing directory without the slash works too */
	t_mkdirs(rootfd, "e");
	o.dest = "/e";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "e/b", "B"));
}

TEST(wildcards)
{
	char *msg = NULL;
	static const char *const bad[] = {"*foo"};
	static const char *const some[] = {"*foo", "*.txt"};
	struct copy_opts o = t_opts("/g/", bad, 1);

	t_reset();
	t_write(ctxfd, "a.txt", "A", 0644);
	t_write(ctxfd, "b.txt", "B", 0644);
	t_write(ctxfd, "c.md", "C", 0644);
	t_write(ctxfd, "sub1/f", "F1", 0644);
	t_write(ctxfd, "sub2/f", "F2", 0644);
	t_write(ctxfd, "[x]", "brackets", 0644);
	ASSERT_EQ(t_copy(&o, &msg), 0); /* matching nothing is no error: see empty_wildcard */
	ASSERT_FALSE(t_exists(rootfd, "g"));
	o.sources = some;
	o.n_sources = 2;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_exists(rootfd, "g/a.txt") && t_exists(rootfd, "g/b.txt"));
	ASSERT_FALSE(t_exists(rootfd, "g/c.md"));
	ASSERT_EQ(COPY1("/q/", "?.md", "[ab].txt"), 0);
	ASSERT_TRUE(t_exists(rootfd, "q/c.md") && t_exists(rootfd, "q/a.txt"));
	ASSERT_EQ(COPY1("/s/", "sub*/f"), 0); /* both are called f: the last one wins */
	ASSERT_TRUE(t_content_is(rootfd, "s/f", "F2"));
	ASSERT_EQ(COPY1("/br", "\\[x\\]"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "br", "brackets"));
	/* a wildcard matching several files, no directory there and no '/': each match
	 * is written to the destination in turn, so it is a file holding the last one
	 * (BuildKit's fsutil Copy; buildah-bud copy-globs: Containerfile, .missing) */
	ASSERT_EQ(COPY1("/testdir", "*.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "testdir", "B"));
	ASSERT_EQ(COPY1("/testdir2", "*foo", "*.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "testdir2", "B"));
	/* an existing directory receives them */
	t_mkdirs(rootfd, "td3");
	ASSERT_EQ(COPY1("/td3", "*.txt"), 0);
	ASSERT_TRUE(t_exists(rootfd, "td3/a.txt") && t_exists(rootfd, "td3/b.txt"));
	/* two sources written out too */
	ASSERT_EQ(COPY1("/testdir3", "b.txt", "a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "testdir3", "A"));
	/* a wildcard matching one file behaves as that file */
	ASSERT_EQ(COPY1("/one", "c.*"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "one", "C"));
}

/*
 * BuildKit matches the path after the first wildcard as a whole with Go's
 * filepath.Match, where "**" is "*": one component, never '/'.
 */
TEST(double_star_is_star)
{
	t_reset();
	t_write(ctxfd, "a/x.txt", "X", 0644);
	t_write(ctxfd, "a/b/y.txt", "Y", 0644);
	t_write(ctxfd, "a/b/c/z.txt", "Z", 0644);
	t_write(ctxfd, "top.txt", "T", 0644);
	ASSERT_EQ(COPY1("/one/", "a/**/*.txt"), 0);
	ASSERT_TRUE(tree_is("one", "one/y.txt"));
	ASSERT_EQ(COPY1("/two/", "**/**/*.txt"), 0);
	ASSERT_TRUE(tree_is("two", "two/y.txt"));
	ASSERT_EQ(COPY1("/three/", "**/*.txt"), 0);
	ASSERT_TRUE(tree_is("three", "three/x.txt"));
	/* "**" matching nothing at depth 0: top.txt is not "**" + "/" + "*.txt" */
	ASSERT_FALSE(t_exists(rootfd, "three/top.txt"));
}

/* Past the first wildcard, BuildKit walks without following symlinks. */
TEST(wildcard_walk_does_not_follow_symlinks)
{
	t_reset();
	t_write(ctxfd, "real/f", "F", 0644);
	t_symlink(ctxfd, "real", "link");
	t_symlink(ctxfd, "real/f", "flink");
	ASSERT_EQ(COPY1("/w/", "*/f"), 0);
	ASSERT_TRUE(tree_is("w", "w/f"));
	ASSERT_EQ(COPY1("/l/", "l*/f"), 0); /* matches nothing: link/ is a symlink */
	ASSERT_FALSE(t_exists(rootfd, "l"));
	/* a match that is itself a symlink is followed, as any source */
	ASSERT_EQ(COPY1("/fl", "fl*"), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "fl").st_mode));
	/* before the first wildcard, symlinks are followed (inside the context) */
	ASSERT_EQ(COPY1("/before/", "link/*"), 0);
	ASSERT_TRUE(tree_is("before", "before/f"));
}

/* testEmptyWildcard: a wildcard matching nothing copies nothing and is no error. */
TEST(empty_wildcard)
{
	char *msg = NULL;
	static const char *const missing[] = {"nomatch"};
	struct copy_opts o = t_opts("/", missing, 1);

	t_reset();
	t_write(ctxfd, "foo", "contents0", 0600);
	ASSERT_EQ(COPY1("/", "foo", "nomatch*"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "foo", "contents0"));
	ASSERT_EQ(COPY1("/new/dir/", "nomatch*", "no?match", "[x]*"), 0);
	ASSERT_FALSE(t_exists(rootfd, "new")); /* not even the destination */
	/* a source without a wildcard must exist */
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "'nomatch': no such file or directory"));
	free(msg);
}

/* testCopyWildcards, on the engine. */
TEST(copy_wildcards)
{
	t_reset();
	t_write(ctxfd, "foo.go", "foo-contents", 0600);
	t_write(ctxfd, "bar.go", "bar-contents", 0600);
	t_write(ctxfd, "sub/dir1/dir2/foo", "foo-contents", 0600);
	ASSERT_EQ(COPY1("/gofiles/", "*.go"), 0);
	ASSERT_EQ(COPY1("/foo2.go", "f*.go"), 0);
	ASSERT_EQ(COPY1("/subdest/", "sub/*"), 0);
	ASSERT_EQ(COPY1("/subdest2/", "sub/*/dir2/foo"), 0);
	ASSERT_EQ(COPY1("/subdest3/bar", "sub/*/dir2/foo"), 0);
	ASSERT_EQ(COPY1("/all/", "."), 0);
	ASSERT_EQ(COPY1("/subdest4", "sub/dir1/"), 0);
	ASSERT_EQ(COPY1("/subdest5", "sub/dir1/."), 0);
	ASSERT_EQ(COPY1("/subdest6", "sub/dir1"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "gofiles/foo.go", "foo-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "gofiles/bar.go", "bar-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "foo2.go", "foo-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "subdest/dir2/foo", "foo-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "subdest2/foo", "foo-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "subdest3/bar", "foo-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "all/foo.go", "foo-contents"));
	for (int i = 4; i <= 6; i++) {
		char path[64];

		snprintf(path, sizeof(path), "subdest%d/dir2/foo", i);
		ASSERT_TRUE(t_content_is(rootfd, path, "foo-contents"));
	}
}

/* testCopyOverrideFiles: copying the same files again over themselves. */
TEST(copy_override_files)
{
	t_reset();
	t_write(ctxfd, "sub/dir1/dir2/foo", "foo-contents", 0600);
	t_write(ctxfd, "files/foo.go", "foo.go-contents", 0600);
	ASSERT_EQ(COPY1("/sub", "sub"), 0);
	ASSERT_EQ(COPY1("/sub", "sub"), 0);
	ASSERT_EQ(COPY1("/dest/foo.go", "files/foo.go"), 0);
	ASSERT_EQ(COPY1("/dest/foo.go", "files/foo.go"), 0);
	ASSERT_EQ(COPY1("/dest", "files"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "sub/dir1/dir2/foo", "foo-contents"));
	ASSERT_TRUE(t_content_is(rootfd, "dest/foo.go", "foo.go-contents"));
}

TEST(missing_source_names_it)
{
	char *msg = NULL;
	static const char *const src[] = {"nope.txt"};
	static const char *src_loop[1];
	struct copy_opts o = t_opts("/", src, 1);

	t_reset();
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "'nope.txt'"));
	ASSERT_TRUE(t_contains(msg, "no such file or directory"));
	free(msg);
	msg = NULL;
	/* a symlink loop says so */
	t_symlink(ctxfd, "loop", "loop");
	src_loop[0] = "loop";
	o.sources = src_loop;
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "source 'loop': Too many levels of symbolic links"));
	free(msg);
}

TEST(relative_destination_uses_workdir)
{
	static const char *const src[] = {"a"};
	struct copy_opts o = t_opts("sub/", src, 1);

	t_reset();
	t_write(ctxfd, "a", "A", 0644);
	o.workdir = "/app";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "app/sub/a", "A"));
	o.dest = ".";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "app/a", "A"));
	o.dest = "renamed";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "app/renamed", "A"));
}

TEST(dotdot_is_clamped_to_the_context)
{
	char *msg = NULL;
	static const char *const src[] = {"../secret"};
	struct copy_opts o = t_opts("/s", src, 1);

	t_reset();
	/* ../secret is the context's own "secret", which does not exist */
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "no such file"));
	free(msg);
	ASSERT_FALSE(t_exists(rootfd, "s"));
	t_write(ctxfd, "secret", "inside", 0644);
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "s", "inside"));
	ASSERT_EQ(COPY1("/t", "/../../ctx/../secret"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "t", "inside"));
}

TEST(symlinks_inside_are_copied_as_links)
{
	char buf[256];
	ssize_t n;

	t_reset();
	t_write(ctxfd, "dir/x", "X", 0644);
	t_symlink(ctxfd, "/etc/passwd", "dir/pw");
	t_symlink(ctxfd, "../../../secret", "dir/up");
	ASSERT_EQ(COPY1("/out", "dir"), 0);
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "out/pw").st_mode));
	n = readlinkat(rootfd, "out/pw", buf, sizeof(buf) - 1);
	ASSERT_EQ(n, 11);
	buf[n] = '\0';
	ASSERT_STREQ(buf, "/etc/passwd");
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "out/up").st_mode));
}

TEST(top_level_symlink_resolves_inside_context)
{
	char *msg = NULL;
	static const char *const src[] = {"pw"};
	struct copy_opts o = t_opts("/x", src, 1);

	t_reset();
	t_symlink(ctxfd, "/etc/passwd", "pw");
	ASSERT_TRUE(t_copy(&o, &msg) < 0); /* the context has no etc/passwd */
	free(msg);
	ASSERT_FALSE(t_exists(rootfd, "x"));
	t_symlink(ctxfd, "../secret", "esc");
	t_write(ctxfd, "real", "R", 0644);
	t_symlink(ctxfd, "real", "rel");
	ASSERT_EQ(COPY1("/y", "rel"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "y", "R"));
	ASSERT_FALSE(S_ISLNK(t_lstat(rootfd, "y").st_mode));
	/* copied under the name written, not the target's */
	ASSERT_EQ(COPY1("/d/", "rel"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "d/rel", "R"));
	/* a link to a directory copies the directory's contents */
	t_write(ctxfd, "realdir/f", "F", 0644);
	t_symlink(ctxfd, "/realdir", "dirlink");
	ASSERT_EQ(COPY1("/dl", "dirlink"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "dl/f", "F"));
}

TEST(symlinked_parent_in_source_stays_inside)
{
	t_reset();
	t_write(ctxfd, "sub/f", "F", 0644);
	t_symlink(ctxfd, "/sub", "lnk");
	t_symlink(ctxfd, "../../outside", "out");
	ASSERT_EQ(COPY1("/r", "lnk/f"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "r", "F"));
	ASSERT_TRUE(COPY1("/s", "out/secret") < 0);
	ASSERT_FALSE(t_exists(rootfd, "s"));
}

TEST(destination_symlink_followed_inside_root)
{
	t_reset();
	t_write(ctxfd, "a", "A", 0644);
	t_mkdirs(rootfd, "usr/local/hbase");
	t_mkdirs(rootfd, "etc");
	t_symlink(rootfd, "/usr/local/hbase", "etc/hbase");
	ASSERT_EQ(COPY1("/etc/hbase", "a"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "usr/local/hbase/a", "A"));
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "etc/hbase").st_mode));
	/* dangling: the target directory is created */
	t_symlink(rootfd, "/symlink", "src");
	ASSERT_EQ(COPY1("/src/", "a"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "symlink/a", "A"));
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "src").st_mode));
}

TEST(destination_symlink_cannot_leave_root)
{
	t_reset();
	t_write(ctxfd, "a", "A", 0644);
	t_write(ctxfd, "dir/secret", "evil", 0644);
	t_symlink(rootfd, "../outside", "esc");
	t_symlink(rootfd, "/../../outside", "abs");
	ASSERT_EQ(COPY1("/esc/", "a"), 0);
	ASSERT_EQ(COPY1("/abs/", "a"), 0);
	ASSERT_EQ(COPY1("/esc", "dir"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "outside/a", "A"));
	ASSERT_TRUE(t_content_is(rootfd, "outside/secret", "evil"));
	ASSERT_FALSE(t_exists(topfd, "outside/a"));
	ASSERT_TRUE(t_content_is(topfd, "outside/secret", "outside"));
}

TEST(file_replaces_symlink_not_its_target)
{
	t_reset();
	t_write(ctxfd, "a", "A", 0644);
	t_write(rootfd, "victim", "V", 0644);
	t_symlink(rootfd, "/victim", "x");
	t_symlink(rootfd, "../outside/secret", "y");
	ASSERT_EQ(COPY1("/x", "a"), 0);
	ASSERT_EQ(COPY1("/y", "a"), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "x").st_mode));
	ASSERT_TRUE(t_content_is(rootfd, "victim", "V"));
	ASSERT_TRUE(t_content_is(topfd, "outside/secret", "outside"));
}

/*
 * A directory of the copied tree onto a symlink in the image fails, as in
 * BuildKit (merged /usr: copy into /usr/lib, not through /lib); the
 * destination itself is followed.
 */
TEST(directory_onto_image_symlink_fails)
{
	char *msg = NULL;
	static const char *const all[] = {"."};
	struct copy_opts o = t_opts("/", all, 1);

	t_reset();
	t_write(ctxfd, "lib/mod.so", "M", 0644);
	t_mkdirs(rootfd, "usr/lib");
	t_symlink(rootfd, "usr/lib", "lib");
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "cannot copy to non-directory '/lib'"));
	free(msg);
	ASSERT_FALSE(t_exists(rootfd, "usr/lib/mod.so"));
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "lib").st_mode));
	ASSERT_EQ(COPY1("/lib/", "lib/"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "usr/lib/mod.so", "M"));
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "lib").st_mode));
}

TEST(owner_is_root_or_chown)
{
	static const char *const src[] = {"dir", "f"};
	struct copy_opts o = t_opts("/o/deep/", src, 2);
	struct stat st;

	if (geteuid() != 0) {
		printf("# skip: not root\n");
		return;
	}
	t_reset();
	t_write(ctxfd, "dir/x", "X", 0644);
	t_write(ctxfd, "f", "F", 0644);
	fchownat(ctxfd, "dir/x", 1234, 1234, 0);
	fchownat(ctxfd, "f", 1234, 1234, 0);
	ASSERT_EQ(COPY1("/p/", "f", "dir"), 0);
	st = t_lstat(rootfd, "p/f");
	ASSERT_EQ(st.st_uid, 0);
	ASSERT_EQ(st.st_gid, 0);
	ASSERT_EQ(t_lstat(rootfd, "p/x").st_uid, 0);
	o.chown = (struct copy_chown){.set = true, .uid = 1000, .gid = 1001};
	ASSERT_EQ(t_copy(&o, NULL), 0);
	st = t_lstat(rootfd, "o/deep/f");
	ASSERT_EQ(st.st_uid, 1000);
	ASSERT_EQ(st.st_gid, 1001);
	ASSERT_EQ(t_lstat(rootfd, "o/deep/x").st_gid, 1001);
	/* every directory the copy creates gets the owner (BuildKit's MkdirAll, buildah too) */
	ASSERT_EQ(t_lstat(rootfd, "o/deep").st_uid, 1000);
	ASSERT_EQ(t_lstat(rootfd, "o").st_uid, 1000);
	/* a directory that was there keeps its owner */
	t_mkdirs(rootfd, "keep");
	o.dest = "/keep/";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_EQ(t_lstat(rootfd, "keep").st_uid, 0);
	ASSERT_EQ(t_lstat(rootfd, "keep/f").st_uid, 1000);
}

TEST(chmod_applies_to_files_and_directories)
{
	static const char *const src[] = {"dir"};
	struct copy_opts o = t_opts("/m", src, 1);

	t_reset();
	t_write(ctxfd, "dir/x", "X", 0644);
	t_write(ctxfd, "dir/sub/y", "Y", 0755);
	ASSERT_EQ(copy_chmod_parse("750", &o.chmod, NULL), 0);
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_EQ(t_lstat(rootfd, "m/x").st_mode & 07777, 0750);
	ASSERT_EQ(t_lstat(rootfd, "m/sub").st_mode & 07777, 0750);
	ASSERT_EQ(copy_chmod_parse("u+x,g-r,o=", &o.chmod, NULL), 0);
	o.dest = "/n";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_EQ(t_lstat(rootfd, "n/x").st_mode & 07777, 0704 & ~0004);
	ASSERT_EQ(t_lstat(rootfd, "n/sub/y").st_mode & 07777, 0710);
}

TEST(parents_keeps_source_path)
{
	t_reset();
	t_write(ctxfd, "x/a.txt", "XA", 0644);
	t_write(ctxfd, "y/a.txt", "YA", 0644);
	t_write(ctxfd, "x/y/a.txt", "XYA", 0644);
	t_write(ctxfd, "x/y/b.txt", "XYB", 0644);
	{
		static const char *const src[] = {"x/a.txt", "y/a.txt"};
		struct copy_opts o = t_opts("/parents/", src, 2);

		o.parents = true;
		ASSERT_EQ(t_copy(&o, NULL), 0);
		ASSERT_TRUE(t_content_is(rootfd, "parents/x/a.txt", "XA"));
		ASSERT_TRUE(t_content_is(rootfd, "parents/y/a.txt", "YA"));
	}
	{
		static const char *const src[] = {"./x/./y/*"};
		struct copy_opts o = t_opts("/pivot/", src, 1);

		o.parents = true;
		ASSERT_EQ(t_copy(&o, NULL), 0);
		ASSERT_TRUE(t_content_is(rootfd, "pivot/y/a.txt", "XYA"));
		ASSERT_FALSE(t_exists(rootfd, "pivot/x"));
	}
	{
		static const char *const src[] = {"./x/./y/"};
		struct copy_opts o = t_opts("/pdir/", src, 1);

		o.parents = true;
		ASSERT_EQ(t_copy(&o, NULL), 0);
		ASSERT_TRUE(t_content_is(rootfd, "pdir/y/b.txt", "XYB"));
	}
	/* without --parents both a.txt collapse */
	ASSERT_EQ(COPY1("/np/", "x/a.txt", "y/a.txt"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "np/a.txt", "YA"));
}

TEST(exclude_patterns)
{
	static const char *const src[] = {"."};
	struct copy_opts o = t_opts("/t", src, 1);
	struct copy_patterns ex = {0};

	t_reset();
	t_write(ctxfd, "test1.txt", "1", 0644);
	t_write(ctxfd, "keep.md", "k", 0644);
	t_write(ctxfd, "sub/deep.txt", "d", 0644);
	t_write(ctxfd, "sub/keep.txt", "k", 0644);
	copy_patterns_add(&ex, "*txt");
	o.excludes = &ex;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_FALSE(t_exists(rootfd, "t/test1.txt"));
	ASSERT_TRUE(t_exists(rootfd, "t/keep.md"));
	ASSERT_TRUE(t_exists(rootfd, "t/sub/deep.txt")); /* "*txt" is for the top level */
	copy_patterns_add(&ex, "**/*.txt");
	copy_patterns_add(&ex, "!sub/keep.txt");
	o.dest = "/u";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_FALSE(t_exists(rootfd, "u/sub/deep.txt"));
	ASSERT_TRUE(t_exists(rootfd, "u/sub/keep.txt"));
	/* on a wildcard's files, by name */
	{
		static const char *const w[] = {"*"};

		o.sources = w;
		o.dest = "/w/";
		ASSERT_EQ(t_copy(&o, NULL), 0);
		ASSERT_FALSE(t_exists(rootfd, "w/test1.txt"));
		ASSERT_TRUE(t_exists(rootfd, "w/keep.md"));
	}
	copy_patterns_clear(&ex);
}

/* A .dockerignore of "sub", "*.log", "!sub/keep" */
static bool ign_excluded(const char *rel, bool is_dir, void *ud)
{
	(void)ud;
	if (strcmp(rel, "sub/keep") == 0)
		return false;
	return strcmp(rel, "sub") == 0 || strncmp(rel, "sub/", 4) == 0 ||
	       (strlen(rel) > 4 && strcmp(rel + strlen(rel) - 4, ".log") == 0);
}

static bool ign_may_contain(const char *rel, void *ud)
{
	(void)ud;
	return strcmp(rel, "sub") == 0;
}

TEST(dockerignore_callbacks)
{
	static const char *const src[] = {"."};
	static const char *const logsrc[] = {"a.log"};
	struct copy_opts o = t_opts("/c", src, 1);
	char *msg = NULL;

	t_reset();
	t_write(ctxfd, "a.log", "L", 0644);
	t_write(ctxfd, "b.txt", "B", 0644);
	t_write(ctxfd, "sub/drop", "D", 0644);
	t_write(ctxfd, "sub/keep", "K", 0644);
	t_write(ctxfd, "other/x.log", "L", 0644);
	o.excluded = ign_excluded;
	o.may_contain_included = ign_may_contain;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_exists(rootfd, "c/b.txt"));
	ASSERT_FALSE(t_exists(rootfd, "c/a.log"));
	ASSERT_FALSE(t_exists(rootfd, "c/other/x.log"));
	ASSERT_TRUE(t_exists(rootfd, "c/other"));
	ASSERT_TRUE(t_content_is(rootfd, "c/sub/keep", "K"));
	ASSERT_FALSE(t_exists(rootfd, "c/sub/drop"));
	o.sources = logsrc;
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "excluded by .dockerignore"));
	free(msg);
	/* wildcards do not see excluded files */
	{
		static const char *const w[] = {"*.log", "b.txt"};

		o.sources = w;
		o.n_sources = 2;
		o.dest = "/w/";
		ASSERT_EQ(t_copy(&o, NULL), 0);
		ASSERT_FALSE(t_exists(rootfd, "w/a.log"));
	}
}

TEST(hardlinks_stay_hardlinks)
{
	struct stat a, b;

	t_reset();
	t_write(ctxfd, "d/a", "A", 0644);
	if (linkat(ctxfd, "d/a", ctxfd, "d/z", 0) < 0)
		die("link");
	ASSERT_EQ(COPY1("/h", "d"), 0);
	a = t_lstat(rootfd, "h/a");
	b = t_lstat(rootfd, "h/z");
	ASSERT_EQ(a.st_ino, b.st_ino);
	ASSERT_EQ(a.st_nlink, 2);
	/* the same linked file named twice, and both names as sources */
	ASSERT_EQ(COPY1("/twice/", "d/a", "d/a", "d/z"), 0);
	ASSERT_TRUE(t_content_is(rootfd, "twice/a", "A"));
	ASSERT_EQ(t_lstat(rootfd, "twice/a").st_ino, t_lstat(rootfd, "twice/z").st_ino);
}

TEST(heredoc_inline_source)
{
	static const struct copy_inline inl[] = {{"EOF", "hello\n", 6}};
	struct copy_opts o = t_opts("/etc/motd", NULL, 0);
	struct stat st;

	t_reset();
	o.inlines = inl;
	o.n_inlines = 1;
	o.inline_mtime.tv_sec = 42;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "etc/motd", "hello\n"));
	st = t_lstat(rootfd, "etc/motd");
	ASSERT_EQ(st.st_mode & 07777, 0644);
	ASSERT_EQ(st.st_mtim.tv_sec, 42);
	o.dest = "/d/";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "d/EOF", "hello\n"));
}

TEST(special_files)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	t_reset();
	t_write(ctxfd, "sp/f", "F", 0644);
	if (mkfifoat(ctxfd, "sp/fifo", 0640) < 0)
		die("mkfifo");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctx/sp/sock", top);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	close(s);
	ASSERT_EQ(COPY1("/sp", "sp"), 0);
	ASSERT_TRUE(S_ISFIFO(t_lstat(rootfd, "sp/fifo").st_mode));
	ASSERT_EQ(t_lstat(rootfd, "sp/fifo").st_mode & 07777, 0640);
	ASSERT_FALSE(t_exists(rootfd, "sp/sock")); /* skipped with a warning */
	ASSERT_TRUE(t_exists(rootfd, "sp/f"));
	/* named directly (opened O_PATH only: a device is never opened) */
	ASSERT_EQ(COPY1("/top-fifo", "sp/fifo"), 0);
	ASSERT_TRUE(S_ISFIFO(t_lstat(rootfd, "top-fifo").st_mode));
	if (geteuid() == 0 && mknodat(ctxfd, "sp/null", S_IFCHR | 0666, makedev(1, 3)) == 0) {
		ASSERT_EQ(COPY1("/null", "sp/null"), 0);
		ASSERT_TRUE(S_ISCHR(t_lstat(rootfd, "null").st_mode));
		ASSERT_EQ(t_lstat(rootfd, "null").st_rdev, makedev(1, 3));
	}
}

TEST(xattrs_user_and_capability_only)
{
	char buf[64];
	ssize_t n;

	t_reset();
	t_write(ctxfd, "x/f", "F", 0755);
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/ctx/x/f", top);
		if (setxattr(path, "user.kiln", "yes", 3, 0) < 0) {
			printf("# skip: no user xattrs on %s\n", top);
			return;
		}
		if (geteuid() == 0)
			setxattr(path, "trusted.kiln", "no", 2, 0);
	}
	ASSERT_EQ(COPY1("/x", "x"), 0);
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/root/x/f", top);
		n = getxattr(path, "user.kiln", buf, sizeof(buf));
		ASSERT_EQ(n, 3);
		ASSERT_TRUE(memcmp(buf, "yes", 3) == 0);
		ASSERT_TRUE(getxattr(path, "trusted.kiln", buf, sizeof(buf)) < 0);
	}
}

TEST(reused_directory_takes_source_metadata)
{
	/* checked against buildah: FROM scratch; COPY a/ /; COPY --chown=7:7 b/ / */
	struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};
	static const char *const src[] = {"b/"};
	struct copy_opts o = t_opts("/", src, 1);
	struct stat st;

	t_reset();
	t_write(ctxfd, "a/d/x", "x", 0644);
	t_write(ctxfd, "b/d/y", "y", 0644);
	fchmodat(ctxfd, "b/d", 0700, 0);
	utimensat(ctxfd, "b/d", t, 0);
	ASSERT_EQ(COPY1("/", "a/"), 0);
	o.chown = (struct copy_chown){.set = true, .uid = 7, .gid = 7};
	ASSERT_EQ(t_copy(&o, NULL), 0);
	st = t_lstat(rootfd, "d");
	ASSERT_EQ(st.st_mode & 07777, 0700);
	ASSERT_EQ(st.st_mtim.tv_sec, 1000000000);
	if (geteuid() == 0)
		ASSERT_EQ(st.st_uid, 7);
	ASSERT_TRUE(t_exists(rootfd, "d/x") && t_exists(rootfd, "d/y"));
	/* the destination directory itself keeps its own */
	ASSERT_EQ(t_lstat(rootfd, ".").st_mode & 07777, 0755);
}

TEST(directory_mtime_kept)
{
	struct timespec t[2] = {{1500000000, 0}, {1500000000, 0}};

	t_reset();
	t_write(ctxfd, "d/sub/f", "F", 0644);
	utimensat(ctxfd, "d/sub", t, 0);
	ASSERT_EQ(COPY1("/m", "d"), 0);
	ASSERT_EQ(t_lstat(rootfd, "m/sub").st_mtim.tv_sec, 1500000000);
}

TEST(result_lists_what_was_written)
{
	static const char *const src[] = {"d"};
	struct copy_opts o = t_opts("/r", src, 1);
	struct strv w = STRV_INIT;
	struct copy_result res = {.written = &w};

	t_reset();
	t_write(ctxfd, "d/a", "AAAA", 0644);
	t_write(ctxfd, "d/s/b", "BB", 0644);
	ASSERT_EQ(copy_run(rootfd, &o, &res, NULL), 0);
	ASSERT_EQ(res.n_files, 2);
	ASSERT_EQ(res.bytes, 6);
	ASSERT_TRUE(strv_find(&w, "r/a") >= 0);
	ASSERT_TRUE(strv_find(&w, "r/s/b") >= 0);
	ASSERT_TRUE(strv_find(&w, "r/s") >= 0);
	strv_clear(&w);
}

TEST(copy_from_another_root)
{
	static const char *const src[] = {"/bin/myexe"};
	struct copy_opts o = t_opts("/bin/", src, 1);

	t_reset();
	t_write(ctxfd, "stage/my/exe", "symlink-test", 0755);
	t_mkdirs(ctxfd, "stage/bin");
	t_symlink(ctxfd, "/my/exe", "stage/bin/myexe");
	/* the "stage root" is ctx/stage */
	o.src_root = openat(ctxfd, "stage", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(t_copy(&o, NULL), 0);
	close(o.src_root);
	ASSERT_TRUE(t_content_is(rootfd, "bin/myexe", "symlink-test"));
}

/* "path mode uid:gid size mtime content" for every entry below @dir, sorted. */
static void describe(int dfd, const char *dir, struct strv *out)
{
	struct strv names = STRV_INIT;
	int fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strv_push(&names, de->d_name);
	if (d)
		closedir(d);
	strv_foreach(&names, name) {
		char path[512], *data;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, *name);
		st = t_lstat(dfd, path);
		data = S_ISREG(st.st_mode) ? t_read(dfd, path) : NULL;
		strv_pushf(out, "%s %o %u:%u %lld %lld.%09ld %s", strchr(path, '/') + 1, st.st_mode,
			   st.st_uid, st.st_gid, (long long)st.st_size,
			   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, data ? data : "");
		free(data);
		if (S_ISDIR(st.st_mode))
			describe(dfd, path, out);
	}
	strv_clear(&names);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(parallel_copy_equals_serial)
{
	static const char *const src[] = {"big"};
	struct copy_opts o = t_opts("/serial", src, 1);
	struct strv a = STRV_INIT, b = STRV_INIT;
	char *ja, *jb;

	t_reset();
	for (int i = 0; i < 40; i++)
		for (int k = 0; k < 12; k++) {
			char path[64], data[64];
			struct timespec t[2] = {{1000000000 + i * 7 + k, k}, {1000000000 + i, k}};

			snprintf(path, sizeof(path), "big/d%02d/s%d/f%02d", i % 7, i % 3, k + i);
			snprintf(data, sizeof(data), "%d-%d", i, k);
			t_write(ctxfd, path, data, 0600 | (mode_t)(k % 3) << 3);
			utimensat(ctxfd, path, t, 0);
		}
	t_symlink(ctxfd, "d00", "big/link");
	ASSERT_EQ(copy_chmod_parse("u+x", &o.chmod, NULL), 0);
	o.chown = (struct copy_chown){.set = true, .uid = 3, .gid = 4};
	o.jobs = 1;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	o.jobs = 4;
	o.dest = "/parallel";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	describe(rootfd, "serial", &a);
	describe(rootfd, "parallel", &b);
	qsort(a.v, a.n, sizeof(char *), cmp_str);
	qsort(b.v, b.n, sizeof(char *), cmp_str);
	ja = strv_join(&a, "\n");
	jb = strv_join(&b, "\n");
	ASSERT_TRUE(a.n > 300);
	if (strcmp(ja, jb) != 0)
		printf("# serial:\n%s\n# parallel:\n%s\n", ja, jb);
	ASSERT_STREQ(ja, jb);
	free(ja);
	free(jb);
	strv_clear(&a);
	strv_clear(&b);
}

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(file_to_file_keeps_mode_and_mtime),
		TAP_ENTRY(trailing_slash_makes_directory),
		TAP_ENTRY(existing_directory_receives_file),
		TAP_ENTRY(directory_copies_contents),
		TAP_ENTRY(directory_onto_file_fails),
		TAP_ENTRY(copy_conflicts_fail_as_buildkit),
		TAP_ENTRY(several_sources_copied_in_turn),
		TAP_ENTRY(wildcards),
		TAP_ENTRY(double_star_is_star),
		TAP_ENTRY(wildcard_walk_does_not_follow_symlinks),
		TAP_ENTRY(empty_wildcard),
		TAP_ENTRY(copy_wildcards),
		TAP_ENTRY(copy_override_files),
		TAP_ENTRY(missing_source_names_it),
		TAP_ENTRY(relative_destination_uses_workdir),
		TAP_ENTRY(dotdot_is_clamped_to_the_context),
		TAP_ENTRY(symlinks_inside_are_copied_as_links),
		TAP_ENTRY(top_level_symlink_resolves_inside_context),
		TAP_ENTRY(symlinked_parent_in_source_stays_inside),
		TAP_ENTRY(destination_symlink_followed_inside_root),
		TAP_ENTRY(destination_symlink_cannot_leave_root),
		TAP_ENTRY(file_replaces_symlink_not_its_target),
		TAP_ENTRY(directory_onto_image_symlink_fails),
		TAP_ENTRY(owner_is_root_or_chown),
		TAP_ENTRY(chmod_applies_to_files_and_directories),
		TAP_ENTRY(parents_keeps_source_path),
		TAP_ENTRY(exclude_patterns),
		TAP_ENTRY(dockerignore_callbacks),
		TAP_ENTRY(hardlinks_stay_hardlinks),
		TAP_ENTRY(heredoc_inline_source),
		TAP_ENTRY(special_files),
		TAP_ENTRY(xattrs_user_and_capability_only),
		TAP_ENTRY(reused_directory_takes_source_metadata),
		TAP_ENTRY(directory_mtime_kept),
		TAP_ENTRY(result_lists_what_was_written),
		TAP_ENTRY(copy_from_another_root),
		TAP_ENTRY(parallel_copy_equals_serial),
	};
	int r = tap_run(tests, ARRAY_SIZE(tests));

	t_teardown();
	return r;
}

bool tap_failed_;
