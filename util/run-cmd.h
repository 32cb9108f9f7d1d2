/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "util/strv.h"

struct kiln_error;

/*
 * Running helper programs (newuidmap, newgidmap, credential helpers): git's
 * child_process. in/out/err are fds to give the child as 0/1/2; RUN_CMD_INHERIT
 * keeps ours, RUN_CMD_NULL gives /dev/null. With clear_env the child's
 * environment is exactly @env; otherwise @env entries are added to ours.
 */
#define RUN_CMD_INHERIT (-1)
#define RUN_CMD_NULL	(-2)

struct run_cmd {
	struct strv args;
	struct strv env;
	int in, out, err;
	bool clear_env;
	bool die_with_parent; /* PR_SET_PDEATHSIG: SIGKILL when the starting thread exits */
	pid_t pid;
};

#define RUN_CMD_INIT                                                        \
	{                                                                   \
		.args = STRV_INIT, .env = STRV_INIT, .in = RUN_CMD_INHERIT, \
		.out = RUN_CMD_INHERIT, .err = RUN_CMD_INHERIT, .pid = -1   \
	}

int run_cmd_start(struct run_cmd *cmd, struct kiln_error **err);
/* Wait for the child. Returns its exit status (0..255), or 128+signal, or -errno. */
int run_cmd_finish(struct run_cmd *cmd, struct kiln_error **err);
/* start + finish. */
int run_cmd_run(struct run_cmd *cmd, struct kiln_error **err);
/* Kill (if running) and reap the child, free args and env. */
void run_cmd_release(struct run_cmd *cmd);

/* Search $PATH for @name; returns a malloc'd path or NULL. */
char *run_cmd_which(const char *name);
