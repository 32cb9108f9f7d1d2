/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN's default network (README.md, "RUN's network"): a network namespace of
 * the step's own, wired to the outside by a user-mode TCP/IP helper, pasta
 * (Debian's passt) or else slirp4netns, as rootless Podman and BuildKit do.
 * The host's loopback services and its abstract unix sockets stay out of
 * reach: they belong to the host's network namespace. Neither helper gets to
 * map the host's 127.0.0.1 into the namespace (pasta: no port forwarding in
 * either direction, --no-map-gw; slirp4netns: --disable-host-loopback).
 *
 * kiln makes the namespace itself (a thread unshares it) and hands it to the
 * helper as its stdin ("/proc/self/fd/0"), so the helper never needs to look
 * at another process; the helper says it is attached by writing to its stdout
 * (pasta's pid file, slirp4netns's ready fd), a pipe kiln reads while the
 * step's child, which joined the namespace with setns() first thing, sets up
 * its mounts. Then kiln writes one byte to the child, which waits for it
 * before running the command. The helper is kiln's child, dies with it
 * (PR_SET_PDEATHSIG); the next step of the same thread gets the same namespace
 * and helper (the spare, below), which are killed when that thread ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* Where pasta answers DNS queries (forwarded to the host's first nameserver). */
#define PASTA_DNS "169.254.1.1"
/* slirp4netns's built-in DNS forwarder. */
#define SLIRP_DNS "10.0.2.3"
/* How long a helper may take to attach. */
#define READY_TIMEOUT_MS 10000

static const char *const pasta_args[] = {
	"--runas",
	"0", /* stay who kiln is: as "nobody" it could not join the namespace */
	"--foreground",
	"--quiet",
	"--config-net",
	"--no-map-gw",
	"--ipv4-only", /* as Docker's default bridge; a fifth of pasta's start-up CPU */
	"--tcp-ports",
	"none",
	"--udp-ports",
	"none",
	"--tcp-ns",
	"none",
	"--udp-ns",
	"none",
	"--dns-forward",
	PASTA_DNS,
	"--netns",
	"/proc/self/fd/0",
	"--pid",
	"/proc/self/fd/1",
	NULL,
};

static const char *const slirp_args[] = {
	"--configure",
	"--mtu=65520",
	"--disable-host-loopback",
	"--netns-type=path",
	"--ready-fd=1",
	"/proc/self/fd/0",
	"tap0",
	NULL,
};

void sandbox_net_init(struct sandbox_net *n)
{
	*n = (struct sandbox_net){.helper = RUN_CMD_INIT,
				  .netns_fd = -1,
				  .child_fds = {-1, -1},
				  .ready_fd = -1,
				  .log_fd = -1};
}

/*
 * A killed pasta takes a while (~25 ms here) to tear down its buffers and the
 * namespace: the step need not wait for that. Helpers are SIGKILLed at once and
 * reaped (by pid, never waitpid(-1)) when the next step starts.
 */
static pthread_mutex_t dying_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t dying[32];
static size_t n_dying;

static void reap_dying(void)
{
	size_t kept = 0;

	pthread_mutex_lock(&dying_lock);
	for (size_t i = 0; i < n_dying; i++)
		if (waitpid(dying[i], NULL, WNOHANG) == 0)
			dying[kept++] = dying[i];
	n_dying = kept;
	pthread_mutex_unlock(&dying_lock);
}

static void kill_helper(struct run_cmd *helper)
{
	bool queued = false;

	if (helper->pid <= 0)
		return;
	kill(helper->pid, SIGKILL);
	pthread_mutex_lock(&dying_lock);
	if (n_dying < ARRAY_SIZE(dying)) {
		dying[n_dying++] = helper->pid;
		queued = true;
	}
	pthread_mutex_unlock(&dying_lock);
	if (queued)
		helper->pid = -1; /* else run_cmd_release() reaps it now */
}

void sandbox_net_release(struct sandbox_net *n)
{
	kill_helper(&n->helper);
	run_cmd_release(&n->helper);
	for (int i = 0; i < 2; i++)
		if (n->child_fds[i] >= 0)
			close(n->child_fds[i]);
	if (n->ready_fd >= 0)
		close(n->ready_fd);
	if (n->netns_fd >= 0)
		close(n->netns_fd);
	if (n->log_fd >= 0)
		close(n->log_fd);
	free(n->path);
	sandbox_net_init(n);
}

/* The helper to use: pasta, else slirp4netns, else an error naming the fix. */
static int find_helper(struct sandbox_net *n, struct kiln_error **err)
{
	n->path = run_cmd_which("pasta");
	n->name = "pasta";
	n->dns = PASTA_DNS;
	if (!n->path) {
		n->path = run_cmd_which("slirp4netns");
		n->name = "slirp4netns";
		n->dns = SLIRP_DNS;
	}
	if (n->path && access("/dev/net/tun", R_OK | W_OK) < 0)
		return err_sys(
			err, errno,
			"RUN's default network: %s needs '/dev/net/tun' readable and writable by the user who runs kiln (Debian's mode is 0666: chmod 0666 /dev/net/tun), or build with --network=host or --network=none",
			n->name);
	if (n->path)
		return 0;
	return err_new(
		err, KILN_ERR_INPUT, ENOENT,
		"RUN's default network needs pasta or slirp4netns, and neither is in PATH: install one (Debian: apt-get install passt), or build with --network=host or --network=none");
}

/* The resolver RUN gets: the host's resolv.conf with the helper's DNS forwarder as nameserver. */
void sandbox_net_resolv_conf(const char *dns, const char *host, struct strbuf *out)
{
	const char *line = host, *end;

	strbuf_addf(out, "nameserver %s\n", dns);
	for (; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		/* search and options lines only: the host's servers may be its loopback */
		if (!strncmp(line, "search", 6) || !strncmp(line, "domain", 6) ||
		    !strncmp(line, "options", 7)) {
			strbuf_add(out, line, (size_t)(end - line));
			strbuf_addch(out, '\n');
		}
	}
}

/*
 * A new network namespace, made by a thread that lives only for that: kiln
 * cannot setns() back into the host's namespace when it runs rootless.
 */
static void *make_netns_thread(void *arg)
{
	int *fd = arg;

	if (unshare(CLONE_NEWNET) < 0)
		*fd = -errno;
	else if ((*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		*fd = -errno;
	return NULL;
}

static int make_netns(struct kiln_error **err)
{
	pthread_t t;
	int fd = -EAGAIN, e;

	e = pthread_create(&t, NULL, make_netns_thread, &fd);
	if (e != 0)
		return err_sys(err, e, "sandbox: start a thread");
	pthread_join(t, NULL);
	if (fd < 0)
		return err_sys(err, -fd, "sandbox: make a network namespace");
	return fd;
}

static int spawn_helper(struct sandbox_net *n, int out_fd, struct kiln_error **err)
{
	const char *const *args = streq(n->name, "pasta") ? pasta_args : slirp_args;

	n->log_fd = memfd_create("kiln-net-log", MFD_CLOEXEC);
	if (n->log_fd < 0)
		return err_sys(err, errno, "create a log file for %s", n->name);
	strv_push(&n->helper.args, n->path);
	strv_pushv(&n->helper.args, args);
	n->helper.in = n->netns_fd;
	n->helper.out = out_fd;
	n->helper.err = n->log_fd;
	n->helper.die_with_parent = true;
	return run_cmd_start(&n->helper, err);
}

/* A namespace with a helper attaching to it; it says so on ready_fd. */
static int launch(struct sandbox_net *n, struct kiln_error **err)
{
	int pipefd[2], r = find_helper(n, err);

	if (r < 0)
		return r;
	n->netns_fd = r = make_netns(err);
	if (r < 0)
		return r;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	n->ready_fd = pipefd[0];
	r = spawn_helper(n, pipefd[1], err);
	close(pipefd[1]);
	if (r < 0)
		return err_wrap(err, "sandbox: start %s for RUN's network", n->name);
	log_debug("sandbox: RUN's network through %s (pid %d)", n->path, (int)n->helper.pid);
	return 0;
}

/*
 * One namespace is kept for the next step: pasta takes longer to start than the rest of a RUN. A
 * step that ended leaves its namespace and helper to the next step of the same thread
 * (sandbox_net_recycle), as BuildKit's pool does: nothing of the step is left in it, since every
 * one of its processes died with its pid namespace, and it could not change the namespace (it holds
 * no capability there: the namespace belongs to kiln's user namespace, the step runs in a child
 * one). The spare belongs to the thread that started it: its helper dies with that thread
 * (PR_SET_PDEATHSIG), so only that thread may use it; the thread's exit
 * releases it.
 */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_free(void *p)
{
	sandbox_net_release(p);
	free(p);
}

static void spare_key_make(void)
{
	if (pthread_key_create(&spare_key, spare_free) != 0)
		abort();
}

static bool helper_alive(struct sandbox_net *n)
{
	struct pollfd pfd = {.fd = n->ready_fd, .events = POLLIN};

	if (!n->ready && poll(&pfd, 1, 0) == 1 && !(pfd.revents & POLLIN))
		return false; /* hung up before it was ready */
	if (waitpid(n->helper.pid, NULL, WNOHANG) == 0)
		return true;
	n->helper.pid = -1; /* reaped (or gone) */
	return false;
}

static bool spare_take(struct sandbox_net *n)
{
	struct sandbox_net *s;

	pthread_once(&spare_once, spare_key_make);
	s = pthread_getspecific(spare_key);
	if (!s)
		return false;
	(void)pthread_setspecific(spare_key, NULL);
	*n = *s;
	free(s);
	if (helper_alive(n))
		return true;
	sandbox_net_release(n);
	return false;
}

int sandbox_net_prepare(struct sandbox_net *n, const struct sandbox_spec *spec,
			struct kiln_error **err)
{
	int r;

	reap_dying();
	if (spec->network != SANDBOX_NETWORK_PRIVATE)
		return 0;
	if (!spare_take(n)) {
		r = launch(n, err);
		if (r < 0)
			return r;
	}
	if (pipe2(n->child_fds, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	return 0;
}

void sandbox_net_recycle(struct sandbox_net *n)
{
	struct sandbox_net *s;

	if (!n->ready || !helper_alive(n)) {
		sandbox_net_release(n);
		return;
	}
	pthread_once(&spare_once, spare_key_make);
	for (int i = 0; i < 2; i++)
		if (n->child_fds[i] >= 0)
			close(n->child_fds[i]);
	n->child_fds[0] = n->child_fds[1] = -1;
	s = pthread_getspecific(spare_key);
	if (s)
		spare_free(s);
	s = xmalloc(sizeof(*s));
	*s = *n;
	sandbox_net_init(n);
	if (pthread_setspecific(spare_key, s) != 0)
		spare_free(s);
}

/* What the helper said before it died, for the error. */
static int helper_failed(struct sandbox_net *n, const char *why, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf log = STRBUF_INIT;
	int status = run_cmd_finish(&n->helper, NULL);

	if (n->log_fd >= 0 && lseek(n->log_fd, 0, SEEK_SET) == 0)
		(void)strbuf_read_fd(&log, n->log_fd, NULL);
	strbuf_trim(&log);
	return err_new(err, KILN_ERR_INTERNAL, ECONNREFUSED,
		       "sandbox: %s for RUN's network %s (status %d)%s%s", n->name, why, status,
		       log.len ? ": " : "", log.buf);
}

static int wait_ready(struct sandbox_net *n, struct kiln_error **err)
{
	struct pollfd pfd = {.fd = n->ready_fd, .events = POLLIN};
	char buf[64];
	ssize_t got;
	int r;

	do
		r = poll(&pfd, 1, READY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_sys(err, errno, "sandbox: wait for %s", n->name);
	if (r == 0) {
		kill(n->helper.pid, SIGKILL);
		return helper_failed(n, "did not attach in time", err);
	}
	do
		got = read(n->ready_fd, buf, sizeof(buf));
	while (got < 0 && errno == EINTR);
	if (got <= 0)
		return helper_failed(n, "exited", err);
	return 0;
}

int sandbox_net_start(struct sandbox_net *n, struct kiln_error **err)
{
	int r;

	if (n->child_fds[1] < 0)
		return 0;
	if (!n->ready) {
		r = wait_ready(n, err);
		if (r < 0)
			return r;
		n->ready = true;
	}
	if (write(n->child_fds[1], "", 1) != 1)
		return err_sys(err, errno, "sandbox: tell the step its network is up");
	return 0;
}

int sandbox_net_child_wait(int fd)
{
	char c;
	ssize_t n;

	n = fs_read_all(fd, &c, 1, NULL);
	if (n == 1)
		return 0;
	if (n == 0)
		errno = ENETDOWN;
	return -1;
}
