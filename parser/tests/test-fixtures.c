/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixtures of testdata/parser: ok/NAME.Dockerfile must parse and render
 * exactly as ok/NAME.ast.json; bad/NAME.Dockerfile must fail with exactly the
 * message of bad/NAME.err (as kiln prints it after "kiln: error: ").
 */
#include "tap.h"
#include "test-util.h"

static char *fixture_dir(const char *sub)
{
	const char *src = getenv("KILN_SRC");
	char *p = NULL;

	if (asprintf(&p, "%s/testdata/parser/%s", src ? src : ".", sub) < 0)
		return NULL;
	return p;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* NAME.Dockerfile -> NAME<ext> */
static char *sibling(const char *dir, const char *name, const char *ext)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%.*s%s", dir, (int)(strlen(name) - strlen(".Dockerfile")), name, ext) <
	    0)
		return NULL;
	return p;
}

static bool check_ok(const char *dir, const char *name)
{
	_cleanup_free_ char *path = NULL, *want_path = sibling(dir, name, ".ast.json");
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT, want = STRBUF_INIT, got = STRBUF_INIT;
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	if (asprintf(&path, "%s/%s", dir, name) < 0 || read_path(path, &in) < 0 ||
	    read_path(want_path, &want) < 0) {
		printf("# %s: cannot read the fixture or its .ast.json\n", name);
		return false;
	}
	if (parser_parse(in.buf, in.len, name, &df, &err) < 0) {
		printf("# %s: %s\n", name, err->msg);
		return false;
	}
	dockerfile_dump_json(df, &got);
	if (got.len != want.len || memcmp(got.buf, want.buf, got.len) != 0) {
		printf("# %s: JSON differs; got:\n%s", name, got.buf);
		return false;
	}
	return true;
}

static bool check_bad(const char *dir, const char *name)
{
	_cleanup_free_ char *path = NULL, *want_path = sibling(dir, name, ".err"), *msg = NULL;
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT, want = STRBUF_INIT;
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL, *kept = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL, *err2 = NULL;

	if (asprintf(&path, "%s/%s", dir, name) < 0 || read_path(path, &in) < 0 ||
	    read_path(want_path, &want) < 0) {
		printf("# %s: cannot read the fixture or its .err\n", name);
		return false;
	}
	strbuf_rtrim(&want);
	if (parser_parse(in.buf, in.len, name, &df, &err) == 0) {
		printf("# %s: parsed but must fail\n", name);
		return false;
	}
	msg = err_format(err);
	if (strcmp(msg, want.buf) != 0) {
		printf("# %s: message differs; got:\n%s\n", name, msg);
		return false;
	}
	/* kiln check's mode: a syntax error, or at least one recorded error */
	if (parser_parse_flags(in.buf, in.len, name, PARSER_KEEP_GOING, &kept, &err2) == 0 &&
	    kept->n_errors == 0) {
		printf("# %s: PARSER_KEEP_GOING recorded no error\n", name);
		return false;
	}
	return true;
}

static void run_dir(const char *sub, bool (*check)(const char *, const char *), size_t min)
{
	_cleanup_free_ char *dir = fixture_dir(sub);
	_cleanup_strv_ struct strv names = STRV_INIT;
	size_t n = 0, ok = 0;

	if (!dir || list_dir(dir, &names) < 0) {
		printf("# cannot list %s\n", dir ? dir : sub);
		tap_failed_ = true;
		return;
	}
	strv_foreach(&names, e) {
		if (!ends_with(*e, ".Dockerfile"))
			continue;
		n++;
		ok += check(dir, *e);
	}
	printf("# %s: %zu/%zu fixtures\n", sub, ok, n);
	if (ok != n || n < min)
		tap_failed_ = true;
}

TEST(ok_fixtures)
{
	run_dir("ok", check_ok, 9);
}

TEST(bad_fixtures)
{
	run_dir("bad", check_bad, 39);
}

TAP_MAIN(TAP_ENTRY(ok_fixtures), TAP_ENTRY(bad_fixtures))
