/* SPDX-License-Identifier: Apache-2.0 */
#include "util/interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"
#include "util/macro.h"

#include "util/banned.h"

static const int caught_signals[] = {SIGINT, SIGTERM, SIGHUP};
static volatile sig_atomic_t caught;
static int wake[2] = {-1, -1}; /* the handler writes a byte, the watcher reads it */

/* Async-signal-safe: a note and a byte, nothing else. */
static void on_signal(int sig)
{
	int saved = errno;

	if (caught) {
		/* the second one: stop waiting for the clean exit */
		signal(sig, SIG_DFL);
		raise(sig);
		errno = saved;
		return;
	}
	caught = sig;
	(void)!write(wake[1], "", 1);
	errno = saved;
}

void interrupt_install(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	if (wake[0] >= 0 || pipe2(wake, O_CLOEXEC) < 0)
		return;
	(void)fcntl(wake[1], F_SETFL, O_NONBLOCK);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(caught_signals); i++) {
		struct sigaction old;

		if (sigaction(caught_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(caught_signals[i], &sa, NULL);
	}
}

int interrupt_signal(void)
{
	return caught;
}

int interrupt_check(struct kiln_error **err)
{
	int sig = caught;

	if (!sig)
		return 0;
	return err_new(err, KILN_ERR_SYSTEM, EINTR, "interrupted by SIG%s", sigabbrev_np(sig));
}

/* ---- the children to kill ---- */

struct watched {
	pid_t pid; /* 0: a free slot */
	int pidfd; /* -1 where pidfds are missing: then the pid itself */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t watcher_once = PTHREAD_ONCE_INIT;
static struct watched children[64];

static void kill_child(const struct watched *w)
{
	if (w->pidfd >= 0)
		(void)pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
	else
		(void)kill(w->pid, SIGKILL);
}

static void *watcher_main(void *arg)
{
	char c;

	while (read(wake[0], &c, 1) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ARRAY_SIZE(children); i++)
		if (children[i].pid)
			kill_child(&children[i]);
	pthread_mutex_unlock(&lock);
	return arg;
}

static void start_watcher(void)
{
	pthread_t t;
	sigset_t all, old;

	if (wake[0] < 0)
		return;
	/* the signals go to the other threads, whose system calls restart */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, watcher_main, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int interrupt_watch_child(pid_t pid)
{
	int pidfd = pidfd_open(pid, 0);

	pthread_once(&watcher_once, start_watcher);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ARRAY_SIZE(children); i++) {
		if (children[i].pid)
			continue;
		children[i] = (struct watched){pid, pidfd};
		if (caught)
			kill_child(&children[i]);
		pthread_mutex_unlock(&lock);
		return (int)i;
	}
	pthread_mutex_unlock(&lock);
	log_debug("interrupt: more than %zu steps at once, pid %d not watched",
		  ARRAY_SIZE(children), (int)pid);
	if (pidfd >= 0)
		close(pidfd);
	return -1;
}

void interrupt_forget_child(int handle)
{
	if (handle < 0 || (size_t)handle >= ARRAY_SIZE(children))
		return;
	pthread_mutex_lock(&lock);
	if (children[handle].pidfd >= 0)
		close(children[handle].pidfd);
	children[handle] = (struct watched){0, -1};
	pthread_mutex_unlock(&lock);
}
