/* SPDX-License-Identifier: Apache-2.0 */
#include "util/run-cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fs.h"
#include "util/xmalloc.h"

#include "util/banned.h"

extern char **environ;

static void build_env(const struct run_cmd *cmd, struct strv *out)
{
	if (!cmd->clear_env)
		strv_pushv(out, (const char *const *)environ);
	for (size_t i = 0; i < cmd->env.n; i++) {
		const char *kv = cmd->env.v[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *key = NULL;

		if (!eq) {
			ssize_t at = strv_env_find(out, kv);

			if (at >= 0) { /* "KEY" alone removes KEY */
				free(out->v[at]);
				memmove(out->v + at, out->v + at + 1,
					(out->n - (size_t)at) * sizeof(char *));
				out->n--;
			}
			continue;
		}
		key = xstrndup(kv, (size_t)(eq - kv));
		strv_env_set(out, key, eq + 1);
	}
}

/* In the child: only async-signal-safe calls from here on. */
_noreturn_ static void child_exec(const struct run_cmd *cmd, char **envp, int errpipe)
{
	const int want[3] = {cmd->in, cmd->out, cmd->err};
	int fds[3];
	int e;

	for (int i = 0; i < 3; i++) {
		fds[i] = want[i];
		if (want[i] == RUN_CMD_NULL)
			fds[i] = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
		else if (want[i] >= 0 && want[i] < 3)
			fds[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 3); /* do not clobber it below */
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0 && dup2(fds[i], i) < 0)
			goto fail;
	signal(SIGPIPE, SIG_DFL);
	if (cmd->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		goto fail;
	execvpe(cmd->args.v[0], cmd->args.v, envp);
fail:
	e = errno;
	(void)!write(errpipe, &e, sizeof(e));
	_exit(127);
}

int run_cmd_start(struct run_cmd *cmd, struct kiln_error **err)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	int pipefd[2], child_errno = 0;
	ssize_t n;
	pid_t pid;

	if (!cmd->args.n)
		return err_new(err, KILN_ERR_INTERNAL, EINVAL, "run: no program given");
	build_env(cmd, &env);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return err_sys(err, errno, "fork for '%s'", cmd->args.v[0]);
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(cmd, strv_argv(&env), pipefd[1]);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return err_sys(err, child_errno, "run '%s'", cmd->args.v[0]);
	}
	cmd->pid = pid;
	return 0;
}

int run_cmd_finish(struct run_cmd *cmd, struct kiln_error **err)
{
	int status;

	if (cmd->pid <= 0)
		return err_new(err, KILN_ERR_INTERNAL, ECHILD, "run: '%s' was not started",
			       cmd->args.n ? cmd->args.v[0] : "?");
	while (waitpid(cmd->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return err_sys(err, errno, "wait for '%s'", cmd->args.v[0]);
	}
	cmd->pid = -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int run_cmd_run(struct run_cmd *cmd, struct kiln_error **err)
{
	int r = run_cmd_start(cmd, err);

	if (r < 0)
		return r;
	return run_cmd_finish(cmd, err);
}

void run_cmd_release(struct run_cmd *cmd)
{
	if (cmd->pid > 0) {
		kill(cmd->pid, SIGKILL);
		while (waitpid(cmd->pid, NULL, 0) < 0 && errno == EINTR)
			;
		cmd->pid = -1;
	}
	strv_clear(&cmd->args);
	strv_clear(&cmd->env);
}

char *run_cmd_which(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
	copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *full = fs_path_join(*dir ? dir : ".", name);

		if (access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return NULL;
}
