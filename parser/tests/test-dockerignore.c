/* SPDX-License-Identifier: Apache-2.0 */
/*
 * .dockerignore: pattern rules one by one, then whole contexts from the
 * conformance data walked the way a builder would (buildah-bud dockerignore3
 * has an exact expected listing).
 */
#include <sys/stat.h>

#include "tap.h"
#include "test-util.h"

static struct dockerignore *load(const char *text)
{
	struct dockerignore *di = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	if (dockerignore_parse(text, strlen(text), ".dockerignore", &di, &err) < 0) {
		printf("# %s\n", err->msg);
		return NULL;
	}
	return di;
}

struct match_case {
	const char *patterns;
	const char *path;
	bool excluded;
};

static const struct match_case cases[] = {
	{"foo", "foo", true},
	{"foo", "foo/bar", true}, /* a matching directory excludes its contents */
	{"foo", "foobar", false},
	{"/foo", "foo", true}, /* leading '/' cleaned */
	{"./foo/../bar", "bar", true},
	{"*.md", "README.md", true},
	{"*.md", "docs/README.md", false}, /* '*' does not cross '/' */
	{"**/*.md", "docs/README.md", true},
	{"**/*.md", "README.md", true}, /* '**' matches no directory too */
	{"docs/**", "docs/a/b", true},
	{"docs/**", "docs", false},
	{"a/**/b", "a/b", true},
	{"a/**/b", "a/x/y/b", true},
	{"a/**/b", "a/xb", false},
	{"?.txt", "a.txt", true},
	{"?.txt", "ab.txt", false},
	{"[a-c].txt", "b.txt", true},
	{"[^a-c].txt", "b.txt", false},
	{"[!a-c].txt", "d.txt", true},
	{"\\*", "*", true},
	{"\\*", "x", false},
	{"# comment\n\n  spaced  \n", "spaced", true},
	{"*\n!keep", "keep", false},
	{"*\n!keep", "other", true},
	{"*\n!keep\nkeep", "keep", true}, /* the last match wins */
	{"dir\n!dir/keep", "dir/keep", false},
	{"dir\n!dir/keep", "dir/other", true},
	{"*.go\n!main.go", "main.go", false},
	{"!*.go", "x.go", false},
	{"", "anything", false},
	{"caf\xc3\xa9?", "caf\xc3\xa9x", true},
	{"?", "\xc3\xa9", true}, /* '?' is one character, not one byte */
	{"x\r\ny\r\n", "y", true}, /* CRLF */
};

TEST(pattern_rules)
{
	size_t ok = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(dockerignore_freep) struct dockerignore *di = load(cases[i].patterns);
		bool got;

		ASSERT_NOT_NULL(di);
		got = dockerignore_excluded(di, cases[i].path, false);
		if (got == cases[i].excluded)
			ok++;
		else
			printf("# patterns '%s', path '%s': want %s\n", cases[i].patterns,
			       cases[i].path, cases[i].excluded ? "excluded" : "included");
	}
	printf("# %zu/%zu pattern cases\n", ok, ARRAY_SIZE(cases));
	ASSERT_EQ(ok, ARRAY_SIZE(cases));
}

TEST(may_reinclude_under)
{
	_cleanup_(dockerignore_freep) struct dockerignore *di = load("*\n!src/keep\n!**/*.keep");
	_cleanup_(dockerignore_freep) struct dockerignore *plain = load("build\n");

	ASSERT_NOT_NULL(di);
	ASSERT_NOT_NULL(plain);
	ASSERT_TRUE(dockerignore_may_reinclude_under(di, "src"));
	ASSERT_TRUE(dockerignore_may_reinclude_under(di, "other")); /* **.keep anywhere */
	ASSERT_FALSE(dockerignore_may_reinclude_under(plain, "build"));
	ASSERT_EQ(dockerignore_n_patterns(di), 3);
}

TEST(bad_pattern_is_an_error)
{
	struct dockerignore *di = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *msg = NULL;
	const char *text = "ok\n[abc\n";

	ASSERT_LT(dockerignore_parse(text, strlen(text), "ctx/.dockerignore", &di, &err), 0);
	ASSERT_NULL(di);
	msg = err_format(err);
	ASSERT_STREQ(msg,
		     "ctx/.dockerignore:2: bad pattern '[abc': unterminated '[' or trailing '\\'");
}

TEST(lone_exclamation_mark_is_an_error)
{
	struct dockerignore *di = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *msg = NULL;

	ASSERT_LT(dockerignore_parse("a\n  !  \n", 9, ".dockerignore", &di, &err), 0);
	msg = err_format(err);
	ASSERT_STREQ(msg, ".dockerignore:2: illegal exclusion pattern '!': expected '!PATTERN'");
}

TEST(comment_only_at_line_start)
{
	_cleanup_(dockerignore_freep) struct dockerignore *di =
		load(" # not a comment\n#comment\n");

	ASSERT_NOT_NULL(di);
	ASSERT_EQ(dockerignore_n_patterns(di), 1);
	ASSERT_TRUE(dockerignore_excluded(di, "# not a comment", false));
}

TEST(name_for_dockerfile)
{
	_cleanup_free_ char *a = dockerignore_name_for("Dockerfile.test");

	ASSERT_STREQ(a, "Dockerfile.test.dockerignore");
}

/* Walk @dir like a builder: skip excluded dirs unless an exception may re-include below. */
static void walk(const struct dockerignore *di, const char *root, const char *rel, struct strv *out)
{
	_cleanup_strv_ struct strv ents = STRV_INIT;
	_cleanup_free_ char *abs = NULL;

	if (asprintf(&abs, "%s/%s", root, rel) < 0 || list_dir(abs, &ents) < 0)
		return;
	strv_foreach(&ents, e) {
		_cleanup_free_ char *p = NULL, *full = NULL;
		struct stat st;
		bool excl;

		if (asprintf(&p, "%s%s%s", rel, *rel ? "/" : "", *e) < 0 ||
		    asprintf(&full, "%s/%s", root, p) < 0 || lstat(full, &st) < 0)
			continue;
		excl = dockerignore_excluded(di, p, S_ISDIR(st.st_mode));
		if (!S_ISDIR(st.st_mode)) {
			if (!excl)
				strv_push(out, p);
			continue;
		}
		if (!excl) {
			strv_push(out, p);
			walk(di, root, p, out);
		} else if (dockerignore_may_reinclude_under(di, p)) {
			size_t before = out->n;

			walk(di, root, p, out);
			if (out->n > before) /* parents of re-included files come along */
				strv_push(out, p);
		}
	}
}

static void context_listing(const char *ctx, const char *ignore, struct strv *out)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(dockerignore_freep) struct dockerignore *di = NULL;
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", ctx, ignore) < 0 || read_path(p, &sb) < 0 ||
	    dockerignore_parse(sb.buf, sb.len, p, &di, NULL) < 0)
		return;
	walk(di, ctx, "", out);
	qsort(out->v, out->n, sizeof(char *), cmp_str_p);
}

TEST(buildah_dockerignore3_manifest)
{
	_cleanup_strv_ struct strv got = STRV_INIT, want = STRV_INIT;
	_cleanup_strbuf_ struct strbuf manifest = STRBUF_INIT;
	_cleanup_free_ char *ctx = NULL, *mpath = NULL, *g = NULL, *w = NULL;
	char *save = NULL;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_GE(asprintf(&ctx, "%s/buildah-bud/bud/dockerignore3", conformance_dir()), 0);
	ASSERT_GE(asprintf(&mpath, "%s/manifest", ctx), 0);
	ASSERT_GE(read_path(mpath, &manifest), 0);
	/* the manifest lists /upload after "COPY . /upload/" (and src2 from a second COPY) */
	for (char *l = strtok_r(manifest.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, "/upload/", 8) == 0 && strncmp(l, "/upload/src2", 12) != 0)
			strv_push(&want, l + 8);
	context_listing(ctx, ".dockerignore", &got);
	g = strv_join(&got, " ");
	w = strv_join(&want, " ");
	printf("# dockerignore3: %zu entries, want %zu\n", got.n, want.n);
	ASSERT_STREQ(g, w);
}

TEST(buildah_dockerignore_exceptions)
{
	_cleanup_strv_ struct strv got = STRV_INIT;
	_cleanup_free_ char *ctx = NULL, *g = NULL;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_GE(asprintf(&ctx, "%s/buildah-bud/bud/dockerignore", conformance_dir()), 0);
	context_listing(ctx, ".dockerignore", &got);
	g = strv_join(&got, " ");
	/*
	 * moby/patternmatcher semantics: "!*\/sub1*" matches subdir/sub1.txt, so it
	 * comes back although "subdir" is excluded (buildah's bats test expects it
	 * not to; INDEX.md flags that expectation as unverified against Docker).
	 */
	ASSERT_STREQ(g, "subdir subdir/sub1.txt test2.txt");
}

static void collect_ignore_files(const char *dir, struct strv *ret)
{
	_cleanup_strv_ struct strv ents = STRV_INIT;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strv_push(&ents, de->d_name);
	closedir(d);
	strv_foreach(&ents, e) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (asprintf(&p, "%s/%s", dir, *e) < 0 || lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			collect_ignore_files(p, ret);
		else if (S_ISREG(st.st_mode) &&
			 (strstr(*e, ".dockerignore") || strstr(*e, ".containerignore")))
			strv_push(ret, p);
	}
}

TEST(every_conformance_ignore_file_parses)
{
	_cleanup_strv_ struct strv files = STRV_INIT;
	size_t ok = 0;

	ASSERT_NOT_NULL(conformance_dir());
	collect_ignore_files(conformance_dir(), &files);
	strv_foreach(&files, f) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		_cleanup_(dockerignore_freep) struct dockerignore *di = NULL;
		_cleanup_(err_freep) struct kiln_error *err = NULL;

		if (read_path(*f, &sb) >= 0 &&
		    dockerignore_parse(sb.buf, sb.len, *f, &di, &err) >= 0)
			ok++;
		else
			printf("# %s: %s\n", *f, err ? err->msg : "cannot read");
	}
	printf("# %zu/%zu ignore files of the conformance data parse\n", ok, files.n);
	ASSERT_GE(files.n, 25);
	ASSERT_EQ(ok, files.n);
}

TAP_MAIN(TAP_ENTRY(pattern_rules), TAP_ENTRY(may_reinclude_under),
	 TAP_ENTRY(bad_pattern_is_an_error), TAP_ENTRY(lone_exclamation_mark_is_an_error),
	 TAP_ENTRY(comment_only_at_line_start), TAP_ENTRY(name_for_dockerfile),
	 TAP_ENTRY(buildah_dockerignore3_manifest), TAP_ENTRY(buildah_dockerignore_exceptions),
	 TAP_ENTRY(every_conformance_ignore_file_parses))
