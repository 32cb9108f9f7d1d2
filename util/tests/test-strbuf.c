/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"

TEST(strbuf_init_is_empty_string)
{
	struct strbuf sb = STRBUF_INIT;

	ASSERT_EQ(sb.len, 0);
	ASSERT_STREQ(sb.buf, "");
	strbuf_release(&sb);
	ASSERT_STREQ(sb.buf, "");
}

TEST(strbuf_add_and_detach)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;
	char *s;

	strbuf_addstr(&sb, "hello");
	strbuf_addch(&sb, ' ');
	strbuf_addf(&sb, "%s-%d", "world", 42);
	ASSERT_STREQ(sb.buf, "hello world-42");
	s = strbuf_detach(&sb, &len);
	ASSERT_EQ(len, 14);
	ASSERT_STREQ(s, "hello world-42");
	ASSERT_EQ(sb.len, 0);
	ASSERT_STREQ(sb.buf, "");
	free(s);
}

TEST(strbuf_detach_of_empty_is_owned)
{
	struct strbuf sb = STRBUF_INIT;
	char *s = strbuf_detach(&sb, NULL);

	ASSERT_STREQ(s, "");
	free(s); /* must be a heap pointer, not the slop buffer */
}

TEST(strbuf_addf_grows_past_initial_guess)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%0500d", 7);
	ASSERT_EQ(sb.len, 500);
	ASSERT_EQ(sb.buf[499], '7');
	ASSERT_EQ(sb.buf[500], '\0');
}

TEST(strbuf_trim_and_insert)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, " \t abc \n");
	strbuf_trim(&sb);
	ASSERT_STREQ(sb.buf, "abc");
	strbuf_insert(&sb, 1, "XY", 2);
	ASSERT_STREQ(sb.buf, "aXYbc");
	ASSERT_TRUE(strbuf_endswith(&sb, "bc"));
	ASSERT_FALSE(strbuf_endswith(&sb, "xbc"));
	strbuf_setlen(&sb, 2);
	ASSERT_STREQ(sb.buf, "aX");
}

TEST(strbuf_embedded_nul)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_add(&sb, "a\0b", 3);
	ASSERT_EQ(sb.len, 3);
	ASSERT_EQ(sb.buf[2], 'b');
	ASSERT_EQ(sb.buf[3], '\0');
}

TEST(strbuf_read_fd_reads_everything)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	int p[2];
	char big[20000];

	memset(big, 'x', sizeof(big));
	ASSERT_EQ(pipe(p), 0);
	if (fork() == 0) {
		close(p[0]);
		(void)!write(p[1], big, sizeof(big));
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(strbuf_read_fd(&sb, p[0], &err), 20000);
	close(p[0]);
	ASSERT_EQ(sb.len, 20000);
	ASSERT_EQ(sb.buf[19999], 'x');
}

TEST(strv_push_and_env)
{
	_cleanup_strv_ struct strv s = STRV_INIT;
	_cleanup_free_ char *joined = NULL;

	ASSERT_NOT_NULL(strv_argv(&s));
	ASSERT_NULL(strv_argv(&s)[0]);
	strv_push(&s, "a");
	strv_pushf(&s, "%s=%d", "B", 2);
	ASSERT_EQ(s.n, 2);
	ASSERT_NULL(s.v[2]);
	ASSERT_EQ(strv_find(&s, "a"), 0);
	ASSERT_EQ(strv_find(&s, "zz"), -1);
	ASSERT_STREQ(strv_env_get(&s, "B"), "2");
	strv_env_set(&s, "B", "3");
	strv_env_set(&s, "C", "x=y");
	ASSERT_EQ(s.n, 3);
	ASSERT_STREQ(strv_env_get(&s, "B"), "3");
	ASSERT_STREQ(strv_env_get(&s, "C"), "x=y");
	ASSERT_NULL(strv_env_get(&s, "A"));
	joined = strv_join(&s, ",");
	ASSERT_STREQ(joined, "a,B=3,C=x=y");
	strv_pop(&s);
	ASSERT_EQ(s.n, 2);
	ASSERT_NULL(s.v[2]);
}

TAP_MAIN(TAP_ENTRY(strbuf_init_is_empty_string), TAP_ENTRY(strbuf_add_and_detach),
	 TAP_ENTRY(strbuf_detach_of_empty_is_owned),
	 TAP_ENTRY(strbuf_addf_grows_past_initial_guess), TAP_ENTRY(strbuf_trim_and_insert),
	 TAP_ENTRY(strbuf_embedded_nul), TAP_ENTRY(strbuf_read_fd_reads_everything),
	 TAP_ENTRY(strv_push_and_env))
