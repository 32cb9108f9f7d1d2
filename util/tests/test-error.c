/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "tap.h"
#include "util/error.h"
#include "util/log.h"
#include "util/parse.h"

static int inner(struct kiln_error **err)
{
	return err_sys(err, ENOENT, "open '%s'", "/x/y");
}

static int outer(struct kiln_error **err)
{
	int r = inner(err);

	if (r < 0)
		return err_wrap(err, "step %u/%u '%s'", 2u, 5u, "COPY y /");
	return 0;
}

TEST(error_chain_reads_outermost_first)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *s = NULL;

	ASSERT_EQ(outer(&err), -ENOENT);
	ASSERT_EQ(err->kind, KILN_ERR_SYSTEM);
	ASSERT_EQ(err_code(err), -ENOENT);
	s = err_format(err);
	ASSERT_STREQ(s, "step 2/5 'COPY y /': open '/x/y': No such file or directory");
}

TEST(error_null_err_still_returns_code)
{
	ASSERT_EQ(err_sys(NULL, EACCES, "x"), -EACCES);
	ASSERT_EQ(err_at(NULL, NULL, "x"), -EINVAL);
	ASSERT_EQ(err_wrap(NULL, "x"), -EIO);
	ASSERT_EQ(err_sys(NULL, 0, "x"), -EIO);
}

TEST(error_at_formats_like_a_compiler)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *s = NULL;
	struct srcloc loc = {.file = "Dockerfile", .line = 12, .col = 3};
	const char *line = "\tRUNN make";

	ASSERT_EQ(err_at(&err, &loc, "unknown instruction '%s'", "RUNN"), -EINVAL);
	err_set_excerpt(err, line, strlen(line));
	ASSERT_EQ(err->kind, KILN_ERR_INPUT);
	s = err_format(err);
	ASSERT_STREQ(s, "Dockerfile:12:3: unknown instruction 'RUNN'\n"
			"    12 | \tRUNN make\n"
			"       | \t ^");
}

TEST(error_source_marks_the_failing_lines_as_buildkit)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_free_ char *one = NULL, *two = NULL;
	const char *text = "FROM a\nENV x=1\nRUN one\nRUN two \\\r\n  three\nCMD x\n";
	struct srcloc loc = {.file = "c/Dockerfile", .line = 3, .col = 1};

	err_new(&err, KILN_ERR_INPUT, EINVAL, "step 3/5 'RUN one': exit code: 1");
	err_set_source(err, &loc, 3, text, strlen(text));
	one = err_format(err);
	ASSERT_STREQ(one, "step 3/5 'RUN one': exit code: 1\n"
			  "c/Dockerfile:3\n"
			  "--------------------\n"
			  "     1 |     FROM a\n"
			  "     2 |     ENV x=1\n"
			  "     3 | >>> RUN one\n"
			  "     4 |     RUN two \\\n"
			  "     5 |       three\n"
			  "--------------------");
	loc.line = 4;
	err_set_source(err, &loc, 5, text, strlen(text));
	two = err_format(err);
	ASSERT_STREQ(two, "step 3/5 'RUN one': exit code: 1\n"
			  "c/Dockerfile:4\n"
			  "--------------------\n"
			  "     3 |     RUN one\n"
			  "     4 | >>> RUN two \\\n"
			  "     5 | >>>   three\n"
			  "     6 |     CMD x\n"
			  "--------------------");
	loc.line = 9; /* past the end: the error keeps no location */
	err_set_source(err, &loc, 9, text, strlen(text));
	ASSERT_EQ(err->loc.line, 4u);
}

TEST(error_replacing_frees_the_old_one)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	err_usage(&err, "first");
	err_usage(&err, "second %d", 2);
	ASSERT_EQ(err->kind, KILN_ERR_USAGE);
	ASSERT_STREQ(err->msg, "second 2");
}

TEST(parse_numbers_are_checked)
{
	unsigned u;
	int i;
	mode_t m;
	uint64_t sz;
	int64_t d;

	ASSERT_EQ(parse_uint("42", &u), 0);
	ASSERT_EQ(u, 42);
	ASSERT_EQ(parse_uint("42x", &u), -EINVAL);
	ASSERT_EQ(parse_uint("", &u), -EINVAL);
	ASSERT_EQ(parse_uint("-1", &u), -EINVAL);
	ASSERT_EQ(parse_uint(" 1", &u), -EINVAL);
	ASSERT_EQ(parse_uint("99999999999", &u), -ERANGE);
	ASSERT_EQ(parse_int("-7", &i), 0);
	ASSERT_EQ(i, -7);
	ASSERT_EQ(parse_mode("0755", &m), 0);
	ASSERT_EQ(m, 0755);
	ASSERT_EQ(parse_mode("4755", &m), 0);
	ASSERT_EQ(m, 04755);
	ASSERT_EQ(parse_mode("0789", &m), -EINVAL);
	ASSERT_EQ(parse_mode("17777", &m), -ERANGE);
	ASSERT_EQ(parse_size("64m", &sz), 0);
	ASSERT_EQ(sz, 64u << 20);
	ASSERT_EQ(parse_size("1kb", &sz), 0);
	ASSERT_EQ(sz, 1024);
	ASSERT_EQ(parse_size("12", &sz), 0);
	ASSERT_EQ(sz, 12);
	ASSERT_EQ(parse_size("m", &sz), -EINVAL);
	ASSERT_EQ(parse_duration_ns("24h", &d), 0);
	ASSERT_EQ(d, 86400 * 1000000000LL);
	ASSERT_EQ(parse_duration_ns("1h30m5s", &d), 0);
	ASSERT_EQ(d, 5405 * 1000000000LL);
	ASSERT_EQ(parse_duration_ns("500ms", &d), 0);
	ASSERT_EQ(d, 500000000);
	ASSERT_EQ(parse_duration_ns("0", &d), 0);
	ASSERT_EQ(d, 0);
	ASSERT_EQ(parse_duration_ns("10", &d), -EINVAL);
	ASSERT_EQ(parse_duration_ns("h", &d), -EINVAL);
	ASSERT_EQ(parse_duration_ns("1x", &d), -EINVAL);
}

TEST(log_levels_parse)
{
	enum log_level l;

	ASSERT_EQ(log_parse_level("debug", &l), 0);
	ASSERT_EQ(l, LOG_LEVEL_DEBUG);
	ASSERT_EQ(log_parse_level("warning", &l), 0);
	ASSERT_EQ(l, LOG_LEVEL_WARN);
	ASSERT_EQ(log_parse_level("loud", &l), -EINVAL);
}

TAP_MAIN(TAP_ENTRY(error_chain_reads_outermost_first), TAP_ENTRY(error_null_err_still_returns_code),
	 TAP_ENTRY(error_at_formats_like_a_compiler),
	 TAP_ENTRY(error_source_marks_the_failing_lines_as_buildkit),
	 TAP_ENTRY(error_replacing_frees_the_old_one), TAP_ENTRY(parse_numbers_are_checked),
	 TAP_ENTRY(log_levels_parse))
