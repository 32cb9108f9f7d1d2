/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The conformance data of ../shared/conformance, read in place: BuildKit's
 * parser vectors (dump byte for byte, negatives, line numbers) and the
 * real-world corpora that must parse.
 */
#include <sys/stat.h>

#include "tap.h"
#include "test-util.h"

static struct strbuf path = STRBUF_INIT;

/* conformance_dir()/a/b/c/d (NULLs end the list); valid until the next call. */
static const char *cpath(const char *a, const char *b, const char *c, const char *d)
{
	strbuf_reset(&path);
	strbuf_addstr(&path, conformance_dir());
	for (const char *const *p = (const char *const[]){a, b, c, d, NULL}; *p; p++)
		strbuf_addf(&path, "/%s", *p);
	return path.buf;
}

TEST(buildkit_parser_results)
{
	_cleanup_strv_ struct strv cases = STRV_INIT;
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT, want = STRBUF_INIT;
	size_t ok = 0;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_EQ(list_dir(cpath("buildkit-parser", "testfiles", NULL, NULL), &cases), 0);
	strv_foreach(&cases, c) {
		_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		_cleanup_strbuf_ struct strbuf got = STRBUF_INIT;

		ASSERT_GE(read_path(cpath("buildkit-parser", "testfiles", *c, "Dockerfile"), &in),
			  0);
		ASSERT_GE(read_path(cpath("buildkit-parser", "testfiles", *c, "result"), &want), 0);
		if (parser_parse_flags(in.buf, in.len, "Dockerfile", PARSER_SYNTAX_ONLY, &df,
				       &err) < 0) {
			printf("# %s: %s\n", *c, err->msg);
			continue;
		}
		dockerfile_dump_buildkit(df, &got);
		if (got.len == want.len && memcmp(got.buf, want.buf, got.len) == 0)
			ok++;
		else
			printf("# %s: dump differs:\n# got:\n%s# want:\n%s", *c, got.buf, want.buf);
	}
	printf("# buildkit-parser: %zu/%zu result files reproduced byte for byte\n", ok, cases.n);
	ASSERT_EQ(cases.n, 33);
	ASSERT_EQ(ok, cases.n);
}

TEST(buildkit_parser_negatives)
{
	_cleanup_strv_ struct strv cases = STRV_INIT;
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT;
	size_t rejected = 0;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_EQ(list_dir(cpath("buildkit-parser", "testfiles-negative", NULL, NULL), &cases), 0);
	strv_foreach(&cases, c) {
		_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		_cleanup_(dockerfile_freep) struct dockerfile *df2 = NULL;
		_cleanup_(err_freep) struct kiln_error *err2 = NULL;
		int r1, r2;

		ASSERT_GE(
			read_path(cpath("buildkit-parser", "testfiles-negative", *c, "Dockerfile"),
				  &in),
			0);
		r1 = parser_parse_flags(in.buf, in.len, "Dockerfile", PARSER_SYNTAX_ONLY, &df,
					&err);
		r2 = parser_parse(in.buf, in.len, "Dockerfile", &df2, &err2);
		if (r1 < 0 && r2 < 0) {
			rejected++;
			printf("# %s: rejected: %s\n", *c, err->msg);
		} else {
			printf("# %s: accepted\n", *c);
		}
	}
	printf("# buildkit-parser: %zu/%zu negative files rejected\n", rejected, cases.n);
	ASSERT_EQ(cases.n, 4);
	ASSERT_EQ(rejected, cases.n);
}

TEST(buildkit_parser_line_numbers)
{
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT, exp = STRBUF_INIT;
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	size_t checked = 0;
	char *save = NULL;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_GE(read_path(cpath("buildkit-parser", "testfile-line", "Dockerfile", NULL), &in), 0);
	ASSERT_GE(read_path(cpath("buildkit-parser", "testfile-line", "EXPECTED-lines.txt", NULL),
			    &exp),
		  0);
	ASSERT_EQ(parser_parse(in.buf, in.len, "Dockerfile", &df, &err), 0);
	for (char *l = strtok_r(exp.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char node[32];
		unsigned a, b, got_a, got_b;
		size_t idx;

		if (l[0] == '#' || sscanf(l, "%31s %u %u", node, &a, &b) != 3)
			continue;
		if (strcmp(node, "root") == 0) {
			got_a = df->instrs[0].loc.line;
			got_b = df->instrs[df->n_instrs - 1].end_line;
		} else {
			ASSERT_EQ(sscanf(node, "child%zu", &idx), 1);
			ASSERT_LT(idx, df->n_instrs);
			got_a = df->instrs[idx].loc.line;
			got_b = df->instrs[idx].end_line;
		}
		printf("# %s: want %u-%u, got %u-%u\n", node, a, b, got_a, got_b);
		ASSERT_EQ(got_a, a);
		ASSERT_EQ(got_b, b);
		checked++;
	}
	printf("# buildkit-parser: %zu/4 line ranges met\n", checked);
	ASSERT_EQ(checked, 4);
}

/* Parse every file; @must_fail lists base paths that must be rejected. */
static size_t parse_corpus(const struct strv *files, const char *const *must_fail, size_t *failed,
			   size_t *expected_failures)
{
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT;
	size_t ok = 0;

	*failed = *expected_failures = 0;
	strv_foreach(files, f) {
		_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		bool want_fail = false;
		int r;

		for (size_t i = 0; must_fail && must_fail[i]; i++) {
			size_t fl = strlen(*f), ml = strlen(must_fail[i]);

			want_fail |= fl >= ml && strcmp(*f + fl - ml, must_fail[i]) == 0;
		}
		if (read_path(*f, &in) < 0) {
			printf("# cannot read '%s'\n", *f);
			(*failed)++;
			continue;
		}
		r = parser_parse(in.buf, in.len, *f, &df, &err);
		if (r < 0 && want_fail) {
			(*expected_failures)++;
			printf("# expected failure: %s:%u: %s\n", *f, err->loc.line, err->msg);
		} else if (r < 0 || want_fail) {
			(*failed)++;
			if (r < 0)
				printf("# FAILED: %s:%u:%u: %s\n", *f, err->loc.line, err->loc.col,
				       err->msg);
			else
				printf("# FAILED: %s parsed but must fail\n", *f);
		} else {
			ok++;
		}
	}
	return ok;
}

TEST(official_dockerfiles_parse)
{
	_cleanup_strbuf_ struct strbuf manifest = STRBUF_INIT;
	_cleanup_strv_ struct strv files = STRV_INIT;
	size_t ok, failed, xfail;
	char *save = NULL;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_GE(read_path(cpath("official-dockerfiles", "MANIFEST.tsv", NULL, NULL), &manifest),
		  0);
	for (char *l = strtok_r(manifest.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (l[0] == '#')
			continue;
		l[strcspn(l, "\t")] = 0;
		strv_push(&files, cpath("official-dockerfiles", l, NULL, NULL));
	}
	ok = parse_corpus(&files, NULL, &failed, &xfail);
	printf("# official-dockerfiles: %zu/%zu parse\n", ok, files.n);
	ASSERT_EQ(files.n, 86);
	ASSERT_EQ(ok, files.n);
}

/* kaniko: the files of dockerfiles/ (but the one .dockerignore) and each dockerfiles-with-context
 * case. */
TEST(kaniko_parse)
{
	_cleanup_strv_ struct strv names = STRV_INIT, cases = STRV_INIT, files = STRV_INIT;
	size_t ok, failed, xfail;

	ASSERT_NOT_NULL(conformance_dir());
	ASSERT_EQ(list_dir(cpath("kaniko", "dockerfiles", NULL, NULL), &names), 0);
	strv_foreach(&names, n)
		if (!strstr(*n, ".dockerignore"))
			strv_push(&files, cpath("kaniko", "dockerfiles", *n, NULL));
	ASSERT_EQ(list_dir(cpath("kaniko", "dockerfiles-with-context", NULL, NULL), &cases), 0);
	strv_foreach(&cases, c)
		strv_push(&files, cpath("kaniko", "dockerfiles-with-context", *c, "Dockerfile"));
	ok = parse_corpus(&files, NULL, &failed, &xfail);
	printf("# kaniko: %zu/%zu parse (%zu in dockerfiles/, %zu with context)\n", ok, files.n,
	       files.n - cases.n, cases.n);
	ASSERT_EQ(files.n, 96);
	ASSERT_EQ(ok, files.n);
}

static void find_dockerfiles(const char *dir, struct strv *ret)
{
	_cleanup_strv_ struct strv ents = STRV_INIT;

	if (list_dir(dir, &ents) < 0)
		return;
	strv_foreach(&ents, e) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (asprintf(&p, "%s/%s", dir, *e) < 0 || lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			find_dockerfiles(p, ret);
		else if (S_ISREG(st.st_mode) &&
			 (strstr(*e, "Dockerfile") || strstr(*e, "Containerfile")) &&
			 !strstr(*e, ".dockerignore") && !strstr(*e, ".containerignore"))
			strv_push(ret, p);
	}
}

TEST(buildah_bud_parse)
{
	/* Meant to fail at parse time, per INDEX.md (see the comment beside each). */
	static const char *const must_fail[] = {
		/* "BOGUS nope-nope-nope": unknown instruction */
		"/unrecognized/Dockerfile",
		/* flags without '=' ("--chmod 777"), rejected as INDEX.md says */
		"/copy-multistage-paths/Dockerfile.invalid_from",
		"/add-chmod/Dockerfile.bad",
		"/add-chown/Dockerfile.bad",
		"/copy-chmod/Dockerfile.bad",
		"/copy-chown/Dockerfile.bad",
		"/copy-from/Dockerfile.bad",
		/* RUN --network=fake: "unsupported value" */
		"/inline-network/Dockerfile3",
		/* COPY --from=$ARG: BuildKit's "variable expansion is not supported" */
		"/arg-scope/Containerfile.copy-from-arg",
		"/arg-scope/Containerfile.stage-overrides-header-copy-from",
		"/copy-from-stage-scoped-arg/Containerfile",
		"/copy-from-stage-scoped-arg/Containerfile.multi-copy-arg-override",
		"/from-with-arg/Containerfile",
		"/multi-stage-builds/Dockerfile.arg_in_copy",
		/* not Dockerfiles by themselves: cpp input, and a fragment for -f a -f b */
		"/containerfile/Containerfile.in",
		"/from-multiple-files/Dockerfile2.nofrom",
		NULL,
	};
	_cleanup_strv_ struct strv files = STRV_INIT;
	size_t ok, failed, xfail;

	ASSERT_NOT_NULL(conformance_dir());
	find_dockerfiles(cpath("buildah-bud", "bud", NULL, NULL), &files);
	ok = parse_corpus(&files, must_fail, &failed, &xfail);
	printf("# buildah-bud: %zu/%zu parse, %zu fail as meant to\n", ok, files.n, xfail);
	ASSERT_GE(files.n, 250);
	ASSERT_EQ(xfail, 16);
	ASSERT_EQ(failed, 0);
}

TAP_MAIN(TAP_ENTRY(buildkit_parser_results), TAP_ENTRY(buildkit_parser_negatives),
	 TAP_ENTRY(buildkit_parser_line_numbers), TAP_ENTRY(official_dockerfiles_parse),
	 TAP_ENTRY(kaniko_parse), TAP_ENTRY(buildah_bud_parse))
