/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The COPY/ADD cases of ../shared/conformance (buildah-bud and
 * buildah-conformance), run through the engine on their contexts, read in
 * place ($KILN_CONFORMANCE_DIR), with the results their INDEX.md describes.
 * The COPY lines are transcribed from each Dockerfile after shell-word
 * processing (the parser's job); RUN lines are replaced by direct checks.
 */
#include <dirent.h>

#include "copy-test.h"

static int confd = -1;

static bool have_conformance(void)
{
	const char *dir = getenv("KILN_CONFORMANCE_DIR");

	if (confd >= 0)
		return true;
	confd = open(dir && *dir ? dir : "../shared/conformance", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (confd < 0)
		printf("# skip: no conformance data (set KILN_CONFORMANCE_DIR)\n");
	return confd >= 0;
}

/* Use conformance context @path as the source root. */
static bool use_context(const char *path)
{
	int fd;

	t_reset();
	if (!have_conformance())
		return false;
	fd = openat(confd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		printf("# skip: no '%s'\n", path);
		return false;
	}
	close(ctxfd);
	ctxfd = fd;
	return true;
}

/* The conformance trees are read-only: writing into a copy of one needs root's DAC
 * override, which the builder has inside its user namespace. */
static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	printf("# skip: not root (copies of read-only trees are written to again)\n");
	return false;
}

static int copy_with(const char *dest, const char *const *srcs, size_t n, bool parents)
{
	struct copy_opts o = t_opts(dest, srcs, n);

	o.parents = parents;
	return t_copy(&o, NULL);
}

#define SRCS(...)		  ((const char *const[]){__VA_ARGS__})
#define NSRCS(...)		  ARRAY_SIZE(((const char *const[]){__VA_ARGS__}))
#define COPYP(dest, parents, ...) copy_with(dest, SRCS(__VA_ARGS__), NSRCS(__VA_ARGS__), parents)

TEST(bud_copy_parents)
{
	if (!use_context("buildah-bud/bud/copy-parents"))
		return;
	ASSERT_EQ(COPYP("/no_parents/", false, "./x/a.txt", "./y/a.txt"), 0);
	ASSERT_EQ(COPYP("/parents/", true, "./x/a.txt", "./y/a.txt"), 0);
	ASSERT_EQ(COPYP("/parents_file_point/", true, "./x/./y/*"), 0);
	ASSERT_EQ(COPYP("/parents_dir_point/", true, "./x/./y/"), 0);
	ASSERT_TRUE(tree_is("no_parents", "no_parents/a.txt"));
	ASSERT_TRUE(tree_is("parents", "parents/x parents/x/a.txt parents/y parents/y/a.txt"));
	ASSERT_TRUE(tree_is(
		"parents_file_point",
		"parents_file_point/y parents_file_point/y/a.txt parents_file_point/y/b.txt"));
	ASSERT_TRUE(
		tree_is("parents_dir_point",
			"parents_dir_point/y parents_dir_point/y/a.txt parents_dir_point/y/b.txt"));
}

TEST(bud_copy_parents_hardlinks)
{
	int stage;

	if (!need_root() || !use_context("buildah-bud/bud/copy-parents"))
		return;
	/* stage 0: COPY --parents ./x/ ./y/ /, then the RUN lines' links */
	ASSERT_EQ(COPYP("/", true, "./x/", "./y/"), 0);
	ASSERT_EQ(symlinkat("/x/z/b.txt", rootfd, "x/z/symlink-b.txt"), 0);
	ASSERT_EQ(linkat(rootfd, "x/z/a.txt", rootfd, "x/z/hardlink-a.txt", 0), 0);
	ASSERT_EQ(linkat(rootfd, "x/y/b.txt", rootfd, "x/z/hardlink-y-b.txt", 0), 0);
	/* stage 1: COPY --from=0 --parents ./x/ /parents and ./x/./ /parents_dir_point/ */
	stage = rootfd;
	rootfd = -1;
	fs_mkdir_p(topfd, "root2", 0755, NULL);
	rootfd = openat(topfd, "root2", O_PATH | O_DIRECTORY | O_CLOEXEC);
	close(ctxfd);
	ctxfd = stage;
	ASSERT_EQ(COPYP("/parents", true, "./x/"), 0);
	ASSERT_EQ(COPYP("/parents_dir_point/", true, "./x/./"), 0);
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "parents/x/z/symlink-b.txt").st_mode));
	ASSERT_EQ(t_lstat(rootfd, "parents/x/z/a.txt").st_ino,
		  t_lstat(rootfd, "parents/x/z/hardlink-a.txt").st_ino);
	ASSERT_EQ(t_lstat(rootfd, "parents/x/y/b.txt").st_ino,
		  t_lstat(rootfd, "parents/x/z/hardlink-y-b.txt").st_ino);
	ASSERT_EQ(t_lstat(rootfd, "parents/x/y/b.txt").st_nlink, 2);
	ASSERT_EQ(t_lstat(rootfd, "parents_dir_point/z/a.txt").st_ino,
		  t_lstat(rootfd, "parents_dir_point/z/hardlink-a.txt").st_ino);
	close(rootfd);
	rootfd = openat(topfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	t_make_writable(topfd, "root2");
	fs_rm_rf(topfd, "root2", NULL);
}

TEST(bud_copy_globs)
{
	if (!use_context("buildah-bud/bud/copy-globs"))
		return;
	/* no '/' and nothing there: each match replaces the last, as BuildKit and buildah
	 * (the corpus's test1.txt and test2.txt are both empty) */
	ASSERT_EQ(COPY1("/testdir", "*.txt"), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "testdir").st_mode));
	ASSERT_TRUE(t_content_is(rootfd, "testdir", ""));
	t_reset();
	use_context("buildah-bud/bud/copy-globs");
	ASSERT_EQ(COPY1("/testdir", "*foo", "*.txt"), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "testdir").st_mode));
	t_reset();
	use_context("buildah-bud/bud/copy-globs");
	ASSERT_EQ(COPY1("/testdir/", "*.txt"), 0);
	ASSERT_TRUE(tree_is("testdir", "testdir/test1.txt testdir/test2.txt"));
	/* Containerfile.bad: buildah fails; BuildKit copies nothing (AllowEmptyWildcard) */
	t_reset();
	use_context("buildah-bud/bud/copy-globs");
	ASSERT_EQ(COPY1("/testdir", "*foo"), 0);
	ASSERT_FALSE(t_exists(rootfd, "testdir"));
}

TEST(bud_context_escape_dir)
{
	char *msg = NULL;
	const char *srcs[] = {"../upperfile.txt"};
	struct copy_opts o;

	if (!use_context("buildah-bud/bud/context-escape-dir/testdir"))
		return;
	o = t_opts("/", srcs, 1);
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "'../upperfile.txt'"));
	free(msg);
	ASSERT_FALSE(t_exists(rootfd, "upperfile.txt"));
}

TEST(bud_copy_workdir_and_create_paths)
{
	const char *srcs[] = {"file1.txt"};
	struct copy_opts o;

	if (!use_context("buildah-bud/bud/copy-workdir"))
		return;
	t_mkdirs(rootfd, "subdir"); /* WORKDIR /subdir */
	ASSERT_EQ(COPY1("/", "file1.txt"), 0);
	ASSERT_EQ(COPY1("/subdir", "file2.txt"), 0);
	ASSERT_TRUE(tree_is("subdir", "subdir/file2.txt"));
	ASSERT_TRUE(t_exists(rootfd, "file1.txt"));
	o = t_opts("/subdir", srcs, 1); /* Dockerfile.2 */
	o.workdir = "/subdir";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_exists(rootfd, "subdir/file1.txt"));
	if (!use_context("buildah-bud/bud/add-create-absolute-path"))
		return;
	ASSERT_EQ(COPY1("/usr/lib/python3.7/distutils/distutils.cfg", "distutils.cfg"), 0);
	ASSERT_EQ(t_lstat(rootfd, "usr/lib/python3.7").st_mode & 07777, 0755);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "usr/lib/python3.7/distutils/distutils.cfg").st_mode));
}

TEST(conformance_copy_escape_glob)
{
	if (!use_context("buildah-conformance/testdata/copy-escape-glob"))
		return;
	ASSERT_EQ(COPY1("/app/", "./app/[[]xyz]/file.txt"), 0);
	ASSERT_EQ(COPY1("/app2/", "./app/[[]xyz]/[[]abc]/file.txt"), 0);
	ASSERT_EQ(COPY1("/app3/", "./app/*"), 0);
	ASSERT_EQ(COPY1("/app4/file.txt", "./app/n?pe/file.txt"), 0);
	ASSERT_EQ(COPY1("/app5/file.txt", "./app/st*uv/file.txt"), 0);
	ASSERT_TRUE(tree_is("app", "app/file.txt"));
	ASSERT_TRUE(tree_is("app2", "app2/file.txt"));
	ASSERT_TRUE(tree_is("app3", "app3/[abc] app3/[abc]/file.txt app3/file.txt"));
	ASSERT_TRUE(tree_is("app4", "app4/file.txt"));
	ASSERT_TRUE(tree_is("app5", "app5/file.txt"));
}

/* The copyglob cases' SOURCE build args, with BuildKit's "**" (as "*", one level). */
TEST(conformance_copyglob)
{
	static const struct {
		const char *src, *want;
	} cases[] = {
		{"**/*.txt", "Etnean.txt Sheya.txt Towroy.txt coembody.txt heliacally.txt "
			     "overgoing.txt subjectivities.txt torpifying.txt triple-throw.txt "
			     "unexciting.txt unmarring.txt unvoweled.txt"},
		{"**/sub/*.txt",
		 "Hamon.txt Vernaccia.txt alkalinity.txt cache.txt chromaticness.txt "
		 "disadvise.txt glandules.txt huerta.txt ileosigmoidostomy.txt "
		 "inaccordance.txt noninhabitancy.txt overdilation.txt "
		 "ribbon-marked.txt smopple.txt topsy-turvydom.txt travel-sick.txt"},
		{"e/**/*sub/*.txt", "near-blindness.txt paymaster-generalship.txt"},
		{"e/**/**/*sub/*.txt", ""}, /* matches nothing, copies nothing */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_strv_ struct strv got = STRV_INIT;
		_cleanup_free_ char *joined = NULL;

		if (!use_context("buildah-conformance/testdata/copyglob"))
			return;
		t_mkdirs(rootfd, "out");
		ASSERT_EQ(copy_with("/out/", &cases[i].src, 1, false), 0);
		list_into(rootfd, "out", &got);
		for (size_t k = 0; k < got.n; k++)
			memmove(got.v[k], got.v[k] + 4, strlen(got.v[k] + 4) + 1); /* "out/" */
		if (got.n)
			qsort(got.v, got.n, sizeof(char *), t_cmp_str);
		joined = strv_join(&got, " ");
		if (strcmp(joined, cases[i].want) != 0)
			printf("# %s: got '%s'\n", cases[i].src, joined);
		ASSERT_STREQ(joined, cases[i].want);
	}
}

/*
 * replace/symlink-with-directory, its four Dockerfiles: the second COPY fails
 * in each, as in BuildKit (buildah and the classic builder replace). The
 * result is the same whether tree1/maybe-directory is the symlink upstream
 * has or the regular file a copy of the corpus that lost it holds.
 */
TEST(conformance_replace_symlink_with_directory)
{
	static const struct {
		const char *first, *second, *dest, *msg;
	} cases[] = {
		{"tree1/", "tree2/", "/", "cannot copy to non-directory '/maybe-directory'"},
		{"tree2/", "tree1/", "/",
		 "cannot replace directory '/maybe-directory' with a file"},
		{"tree2/", "tree1/", "/tree/", "cannot replace directory '/tree/maybe-directory'"},
		{"tree1/", "tree2/", "/tree/",
		 "cannot copy to non-directory '/tree/maybe-directory'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *msg = NULL;
		struct copy_opts o;

		if (!need_root() ||
		    !use_context("buildah-conformance/testdata/replace/symlink-with-directory"))
			return;
		o = t_opts(cases[i].dest, &cases[i].second, 1); /* after use_context(): ctxfd */
		ASSERT_EQ(copy_with(cases[i].dest, &cases[i].first, 1, false), 0);
		ASSERT_TRUE(t_copy(&o, &msg) < 0);
		ASSERT_TRUE(t_contains(msg, cases[i].msg));
		free(msg);
	}
}

TEST(conformance_overlapping_directories)
{
	if (!use_context("buildah-conformance/testdata/overlapdirwithslash"))
		return;
	t_write(rootfd, "etc/passwd", "root:x:0:0::/:/bin/sh\n", 0644);
	ASSERT_EQ(COPY1(".", "existing/"), 0);
	ASSERT_TRUE(tree_is("etc", "etc/file-in-existing-dir etc/passwd"));
	if (!use_context("buildah-conformance/testdata/overlapdirwithoutslash"))
		return;
	t_write(rootfd, "etc/passwd", "root:x:0:0::/:/bin/sh\n", 0644);
	ASSERT_EQ(COPY1(".", "existing"), 0);
	ASSERT_TRUE(tree_is("etc", "etc/file-in-existing-dir etc/passwd"));
}

TEST(conformance_add_dir_not_dir)
{
	const char *srcs[] = {"test.tar"};
	struct copy_opts o;

	if (!use_context("buildah-conformance/testdata/add/dir-not-dir"))
		return;
	t_mkdirs(rootfd, "fileone"); /* RUN mkdir fileone */
	o = t_opts("/", srcs, 1);
	o.add = true;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "fileone").st_mode));
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "app/content/file").st_mode));
	if (!use_context("buildah-conformance/testdata/add/not-dir-dir"))
		return;
	t_write(rootfd, "new-directory", "", 0644); /* RUN touch /new-directory */
	o = t_opts("/", srcs, 1);
	o.add = true;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(S_ISDIR(t_lstat(rootfd, "new-directory").st_mode));
}

TEST(conformance_copyempty)
{
	if (!use_context("buildah-conformance/testdata/copyempty"))
		return;
	/* COPY "" /usr/local/tmp/: the empty source is the context itself */
	ASSERT_EQ(COPY1("/usr/local/tmp/", ""), 0);
	ASSERT_TRUE(t_exists(rootfd, "usr/local/tmp/script1"));
	ASSERT_TRUE(t_exists(rootfd, "usr/local/tmp/.script"));
}

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(bud_copy_parents),
		TAP_ENTRY(bud_copy_parents_hardlinks),
		TAP_ENTRY(bud_copy_globs),
		TAP_ENTRY(bud_context_escape_dir),
		TAP_ENTRY(bud_copy_workdir_and_create_paths),
		TAP_ENTRY(conformance_copy_escape_glob),
		TAP_ENTRY(conformance_copyglob),
		TAP_ENTRY(conformance_replace_symlink_with_directory),
		TAP_ENTRY(conformance_overlapping_directories),
		TAP_ENTRY(conformance_add_dir_not_dir),
		TAP_ENTRY(conformance_copyempty),
	};
	int r = tap_run(tests, ARRAY_SIZE(tests));

	if (confd >= 0)
		close(confd);
	t_teardown();
	return r;
}

bool tap_failed_;
