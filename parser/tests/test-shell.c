/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Word expansion: BuildKit's envVarTest and wordsTest vectors, read in place,
 * plus the forms they do not cover (#, %, /, the backtick escape).
 */
#include "tap.h"
#include "test-util.h"

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = 0;
	return s;
}

static int read_vector(const char *name, struct strbuf *sb)
{
	_cleanup_free_ char *p = NULL;
	const char *dir = conformance_dir();

	if (!dir || asprintf(&p, "%s/buildkit-shell/%s", dir, name) < 0)
		return -1;
	return read_path(p, sb);
}

static void env_var_env(struct strv *env)
{
	strv_env_set(env, "PWD", "/home");
	strv_env_set(env, "SHELL", "bash");
	strv_env_set(env, "KOREAN", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4");
	strv_env_set(env, "NULL", "");
}

/* One envVarTest line: 1 passed, 0 failed. */
static int env_var_case(const struct strv *env, char *in, char *want, size_t lineno)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	int r = shell_expand_word(in, env, '\\', &got, &err);

	if (strcmp(want, "error") == 0) {
		if (r < 0)
			return 1;
		printf("# line %zu: '%s': want an error, got '%s'\n", lineno, in, got);
		return 0;
	}
	if (r < 0) {
		printf("# line %zu: '%s': want '%s', got error: %s\n", lineno, in, want, err->msg);
		return 0;
	}
	if (strcmp(got, want) != 0) {
		printf("# line %zu: '%s': want '%s', got '%s'\n", lineno, in, want, got);
		return 0;
	}
	return 1;
}

TEST(env_var_test)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_strv_ struct strv env = STRV_INIT;
	size_t total = 0, passed = 0, errors = 0, lineno = 0;
	char *save = NULL;

	ASSERT_GE(read_vector("envVarTest", &sb), 0);
	env_var_env(&env);
	for (char *l = strtok_r(sb.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f1 = l, *f2, *f3;

		lineno++;
		if (l[0] == '#' || !*strip(l))
			continue;
		f2 = strchr(f1, '|');
		f3 = f2 ? strchr(f2 + 1, '|') : NULL;
		ASSERT_NOT_NULL(f3);
		*f2++ = 0;
		*f3++ = 0;
		if (strcmp(strip(f1), "W") == 0)
			continue;
		total++;
		errors += strcmp(strip(f3), "error") == 0;
		passed += env_var_case(&env, strip(f2), strip(f3), lineno);
	}
	printf("# envVarTest: %zu/%zu A and U cases pass (%zu expect an error)\n", passed, total,
	       errors);
	ASSERT_EQ(total, 228);
	ASSERT_EQ(passed, total);
}

static int words_case(const struct strv *env, char *in, char *want)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_strv_ struct strv got = STRV_INIT;
	_cleanup_free_ char *joined = NULL;
	int r = shell_expand_words(in, env, '\\', &got, &err);

	if (strcmp(want, "error") == 0) {
		if (r < 0)
			return 1;
		printf("# '%s': want an error\n", in);
		return 0;
	}
	if (r < 0) {
		printf("# '%s': error: %s\n", in, err->msg);
		return 0;
	}
	joined = strv_join(&got, ",");
	if (strcmp(joined, want) != 0) {
		printf("# '%s': want '%s', got '%s'\n", in, want, joined);
		return 0;
	}
	return 1;
}

TEST(words_test)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_strv_ struct strv env = STRV_INIT;
	size_t total = 0, passed = 0;
	char *save = NULL;

	ASSERT_GE(read_vector("wordsTest", &sb), 0);
	for (char *l = strtok_r(sb.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *bar, *want;

		if (l[0] == '#')
			continue;
		if (strncmp(l, "ENV ", 4) == 0) {
			char *kv = l + 4, *eq;

			while (*kv == ' ')
				kv++;
			eq = strchr(kv, '=');
			ASSERT_NOT_NULL(eq);
			*eq = 0;
			strv_env_set(&env, kv, eq + 1);
			continue;
		}
		bar = strchr(l, '|');
		if (!bar)
			continue;
		*bar = 0;
		want = bar + 1;
		while (*want == ' ')
			want++;
		total++;
		passed += words_case(&env, strip(l), want);
	}
	printf("# wordsTest: %zu/%zu cases pass\n", passed, total);
	ASSERT_EQ(total, 24);
	ASSERT_EQ(passed, total);
}

static void expect_word(const char *in, const char *want, char escape, bool *ok)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *got = NULL;

	strv_env_set(&env, "path", "/usr/local/lib/libfoo.so.1");
	strv_env_set(&env, "v", "aXbXc");
	strv_env_set(&env, "star", "a*b");
	if (shell_expand_word(in, &env, escape, &got, &err) < 0) {
		printf("# '%s': error: %s\n", in, err->msg);
		*ok = false;
	} else if (strcmp(got, want) != 0) {
		printf("# '%s': want '%s', got '%s'\n", in, want, got);
		*ok = false;
	}
}

TEST(pattern_forms)
{
	bool ok = true;

	expect_word("${path#*/}", "usr/local/lib/libfoo.so.1", '\\', &ok);
	expect_word("${path##*/}", "libfoo.so.1", '\\', &ok);
	expect_word("${path%.*}", "/usr/local/lib/libfoo.so", '\\', &ok);
	expect_word("${path%%.*}", "/usr/local/lib/libfoo", '\\', &ok);
	expect_word("${path#nomatch}", "/usr/local/lib/libfoo.so.1", '\\', &ok);
	expect_word("${v/X/-}", "a-bXc", '\\', &ok);
	expect_word("${v//X/-}", "a-b-c", '\\', &ok);
	expect_word("${v//[ab]/_}", "_X_Xc", '\\', &ok);
	expect_word("${v///_}", "aXbXc", '\\', &ok); /* empty pattern: unchanged */
	expect_word("${star#a\\*}", "b", '\\', &ok);
	expect_word("${unset#x}", "", '\\', &ok);
	expect_word("${v:+set}${unset:-dflt}", "setdflt", '\\', &ok);
	expect_word("a`$v", "a$v", '`', &ok);
	expect_word("\"q`\"q\"", "q\"q", '`', &ok);
	expect_word("C:\\path", "C:\\path", '`', &ok);
	ASSERT_TRUE(ok);
}

TEST(raw_keeps_escapes_outside_quotes)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	static const char *const cases[][2] = {
		{"n\\?pe", "n\\?pe"}, {"st\\*uv/f", "st\\*uv/f"}, {"a\\ b", "a\\ b"},
		{"\"q\\*\"", "q\\*"}, {"'s\\?'", "s\\?"},	  {"$star\\?", "a*b\\?"},
		{"${star}x", "a*bx"}, {"plain", "plain"},
	};

	strv_env_set(&env, "star", "a*b");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		_cleanup_free_ char *got = NULL;

		ASSERT_EQ(shell_expand_word_raw(cases[i][0], &env, '\\', &got, &err), 0);
		ASSERT_STREQ(got, cases[i][1]);
	}
}

TEST(errors_carry_the_message)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	char *got = NULL;

	ASSERT_LT(shell_expand_word("${NOPE:?must be set for the build}", &env, '\\', &got, &err),
		  0);
	ASSERT_STREQ(err->msg, "NOPE: must be set for the build");
	ASSERT_NULL(got);
	err_free(TAKE_PTR(err));
	ASSERT_LT(shell_expand_word("${x:=y}", &env, '\\', &got, &err), 0);
	ASSERT_STREQ(err->msg, "unsupported modifier (=) in substitution");
	err_free(TAKE_PTR(err));
	ASSERT_LT(shell_expand_word("'abc", &env, '\\', &got, &err), 0);
	ASSERT_STREQ(err->msg,
		     "unexpected end of statement while looking for matching single-quote");
}

TEST(expansion_size_is_bounded)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_strbuf_ struct strbuf w = STRBUF_INIT;
	char *got = NULL;

	strv_env_set(&env, "v", "0123456789abcdefghijklmnopqrstuvwxyz");
	/* each level multiplies the length by 36: 36^5 > 4 MiB */
	strbuf_addstr(&w, "${v//?/${v//?/${v//?/${v//?/${v//?/$v}}}}}");
	ASSERT_LT(shell_expand_word(w.buf, &env, '\\', &got, &err), 0);
	ASSERT_NULL(got);
	ASSERT_TRUE(strstr(err->msg, "larger than 4 MiB") != NULL);
}

TEST(heredoc_raw_expansion)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *got = NULL;

	strv_env_set(&env, "A", "x y");
	ASSERT_EQ(shell_expand_heredoc("echo \"$A\" '$A' \\$A ${A} ${U:-\"d\"} \\n\"\\q\"\n", &env,
				       '\\', &got, &err),
		  0);
	ASSERT_STREQ(got, "echo \"x y\" 'x y' $A x y \"d\" n\"q\"\n");
	free(TAKE_PTR(got));
	/* quotes are not special: an odd one is fine */
	ASSERT_EQ(shell_expand_heredoc("it's\n", &env, '\\', &got, &err), 0);
	ASSERT_STREQ(got, "it's\n");
}

/* COPY <<EOF bodies: variables and escapes processed, quotes kept (BuildKit's ExpandRaw). */
TEST(keep_quotes)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	static const char *const cases[][2] = {
		{"v=$v \"q\" 'q'\n", "v=kiln \"q\" 'q'\n"},
		{"'$v' \"${v}\"", "'kiln' \"kiln\""},
		{"\\$v ${unset:-d}", "$v d"},
		{"<?xml version=\"1.0\"?>", "<?xml version=\"1.0\"?>"},
		{"it's", "it's"},
	};

	strv_env_set(&env, "v", "kiln");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		_cleanup_free_ char *got = NULL;

		ASSERT_EQ(shell_expand_heredoc(cases[i][0], &env, '\\', &got, &err), 0);
		ASSERT_STREQ(got, cases[i][1]);
	}
}

/* COPY --from: only words the lexer leaves as they are (BuildKit's toCommand) */
TEST(literal_from)
{
	static const char *const ok[] = {"one", "0", "docker.io/library/busybox:1", "a$", "$"};
	static const char *const bad[] = {"$X", "${X}", "${X:-one}", "a\\b", "o\"n\"e", "$$"};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		_cleanup_(err_freep) struct kiln_error *err = NULL;

		ASSERT_EQ(shell_check_literal_from(ok[i], '\\', &err), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_(err_freep) struct kiln_error *err = NULL;

		ASSERT_LT(shell_check_literal_from(bad[i], '\\', &err), 0);
		ASSERT_NOT_NULL(err);
	}
}

TAP_MAIN(TAP_ENTRY(env_var_test), TAP_ENTRY(words_test), TAP_ENTRY(pattern_forms),
	 TAP_ENTRY(raw_keeps_escapes_outside_quotes), TAP_ENTRY(errors_carry_the_message),
	 TAP_ENTRY(expansion_size_is_bounded), TAP_ENTRY(heredoc_raw_expansion),
	 TAP_ENTRY(keep_quotes), TAP_ENTRY(literal_from))
