/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "util/error.h"
#include "util/run-cmd.h"
#include "util/strbuf.h"

TEST(run_cmd_exit_status)
{
	struct run_cmd cmd = RUN_CMD_INIT;

	strv_push(&cmd.args, "sh");
	strv_push(&cmd.args, "-c");
	strv_push(&cmd.args, "exit 3");
	ASSERT_EQ(run_cmd_run(&cmd, NULL), 3);
	run_cmd_release(&cmd);
}

TEST(run_cmd_signal_is_128_plus)
{
	struct run_cmd cmd = RUN_CMD_INIT;

	strv_pushv(&cmd.args, (const char *const[]){"sh", "-c", "kill -TERM $$", NULL});
	ASSERT_EQ(run_cmd_run(&cmd, NULL), 128 + 15);
	run_cmd_release(&cmd);
}

TEST(run_cmd_missing_program_is_an_error)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	struct run_cmd cmd = RUN_CMD_INIT;

	strv_push(&cmd.args, "kiln-no-such-program");
	ASSERT_EQ(run_cmd_run(&cmd, &err), -ENOENT);
	ASSERT_STREQ(err->msg, "run 'kiln-no-such-program': No such file or directory");
	run_cmd_release(&cmd);
}

TEST(run_cmd_env_and_fds)
{
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct run_cmd cmd = RUN_CMD_INIT;
	int p[2];

	ASSERT_EQ(pipe(p), 0);
	strv_pushv(&cmd.args,
		   (const char *const[]){"sh", "-c", "echo \"$FOO-${HOME-unset}\"; cat", NULL});
	strv_push(&cmd.env, "FOO=bar");
	strv_push(&cmd.env, "PATH=/usr/bin:/bin");
	cmd.clear_env = true;
	cmd.out = p[1];
	cmd.in = RUN_CMD_NULL;
	ASSERT_EQ(run_cmd_start(&cmd, NULL), 0);
	close(p[1]);
	ASSERT_GE(strbuf_read_fd(&out, p[0], NULL), 0);
	close(p[0]);
	ASSERT_EQ(run_cmd_finish(&cmd, NULL), 0);
	ASSERT_STREQ(out.buf, "bar-unset\n");
	run_cmd_release(&cmd);
}

TEST(run_cmd_env_removal)
{
	struct run_cmd cmd = RUN_CMD_INIT;

	setenv("KILN_TEST_VAR", "1", 1);
	strv_pushv(&cmd.args,
		   (const char *const[]){"sh", "-c", "test -z \"$KILN_TEST_VAR\"", NULL});
	strv_push(&cmd.env, "KILN_TEST_VAR");
	ASSERT_EQ(run_cmd_run(&cmd, NULL), 0);
	run_cmd_release(&cmd);
}

TEST(run_cmd_release_kills_a_running_child)
{
	struct run_cmd cmd = RUN_CMD_INIT;
	pid_t pid;

	strv_pushv(&cmd.args, (const char *const[]){"sleep", "100", NULL});
	ASSERT_EQ(run_cmd_start(&cmd, NULL), 0);
	pid = cmd.pid;
	run_cmd_release(&cmd);
	ASSERT_EQ(kill(pid, 0), -1);
	ASSERT_EQ(errno, ESRCH);
}

TEST(which_finds_sh)
{
	char *p = run_cmd_which("sh");

	ASSERT_NOT_NULL(p);
	ASSERT_EQ(access(p, X_OK), 0);
	free(p);
	ASSERT_NULL(run_cmd_which("kiln-no-such-program"));
}

TAP_MAIN(TAP_ENTRY(run_cmd_exit_status), TAP_ENTRY(run_cmd_signal_is_128_plus),
	 TAP_ENTRY(run_cmd_missing_program_is_an_error), TAP_ENTRY(run_cmd_env_and_fds),
	 TAP_ENTRY(run_cmd_env_removal), TAP_ENTRY(run_cmd_release_kills_a_running_child),
	 TAP_ENTRY(which_finds_sh))
