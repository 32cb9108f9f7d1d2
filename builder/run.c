/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln run: an image's entrypoint and command in the sandbox RUN steps use,
 * over a throwaway overlay of the image's snapshots (the upper directory is
 * deleted afterwards, the snapshots are only ever lower layers). A debugging
 * aid: no ports, no detaching, no restart, nothing kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "builder/rootfs-internal.h"
#include "copy/copy.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void run_opts_init(struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
}

void run_opts_release(struct run_opts *o)
{
	strv_clear(&o->cmd);
	strv_clear(&o->env);
	strv_clear(&o->volumes);
}

struct run_state {
	const struct run_opts *o;
	struct build_opts bo;
	struct build_ctx b;
	struct image *img;
	struct strv lowers, argv, env, vol_paths;
	struct step_dirs d;
	struct sandbox_mount *mounts;
	size_t n_mounts;
	gid_t *groups;
};

static void run_state_release(struct run_state *st)
{
	step_dirs_release(&st->d);
	image_free(st->img);
	strv_clear(&st->lowers);
	strv_clear(&st->argv);
	strv_clear(&st->env);
	strv_clear(&st->vol_paths);
	free(st->mounts);
	free(st->groups);
	store_free(st->b.store);
	strv_clear(&st->b.pulled);
	free(st->b.created);
	pthread_mutex_destroy(&st->b.lock);
	pthread_mutex_destroy(&st->b.pull_lock);
}

/* The entrypoint (or --entrypoint) and the CLI's command, else the image's Cmd. */
static int run_argv(struct run_state *st, struct kiln_error **err)
{
	const struct run_opts *o = st->o;
	_cleanup_strv_ struct strv cmd = STRV_INIT;

	if (o->entrypoint && *o->entrypoint)
		strv_push(&st->argv, o->entrypoint);
	else if (!o->entrypoint)
		imgcfg_get_argv(st->img->config, "Entrypoint", &st->argv);
	/* docker: --entrypoint clears the image's Cmd too */
	if (o->cmd.n)
		strv_copy(&cmd, &o->cmd);
	else if (!o->entrypoint)
		imgcfg_get_argv(st->img->config, "Cmd", &cmd);
	strv_foreach(&cmd, a)
		strv_push(&st->argv, *a);
	if (!st->argv.n)
		return err_usage(err, "run: image '%s' has no command: give one after its name",
				 o->image);
	return 0;
}

/* The image's Env, then -e K=V (K alone: kiln's own value, or unset when it has none). */
static void run_env(struct run_state *st)
{
	imgcfg_get_env(st->img->config, &st->env);
	if (strv_env_find(&st->env, "PATH") < 0)
		strv_env_set(&st->env, "PATH", DEFAULT_PATH);
	strv_env_set(&st->env, "HOSTNAME", "kiln");
	if (st->o->tty && strv_env_find(&st->env, "TERM") < 0)
		strv_env_set(&st->env, "TERM", "xterm");
	strv_foreach(&st->o->env, kv) {
		const char *eq = strchr(*kv, '='), *v;
		_cleanup_free_ char *k = eq ? xstrndup(*kv, (size_t)(eq - *kv)) : xstrdup(*kv);
		ssize_t i;

		v = eq ? eq + 1 : getenv(k);
		if (v) {
			strv_env_set(&st->env, k, v);
			continue;
		}
		i = strv_env_find(&st->env, k);
		if (i >= 0) {
			free(st->env.v[i]);
			memmove(&st->env.v[i], &st->env.v[i + 1],
				(st->env.n - (size_t)i) * sizeof(char *));
			st->env.n--;
		}
	}
}

/*
 * -v HOST:CTR[:ro|rw]. HOST is opened once and bound by its real path (a
 * symlink swapped in later does not move the mount); CTR is resolved inside
 * the root by the sandbox, as a RUN --mount target, so a symlink in the image
 * cannot point the mount (or the mount point it creates) outside the root.
 */
static int run_volume(struct run_state *st, const char *spec, struct sandbox_mount *ret,
		      struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *host = copy, *ctr = strchr(copy, ':'), *mode, proc[64], buf[4096];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (!ctr || ctr == host || !ctr[1])
		return err_usage(err, "-v: expected HOST:CONTAINER[:ro|rw], got '%s'", spec);
	*ctr++ = '\0';
	mode = strchr(ctr, ':');
	if (mode)
		*mode++ = '\0';
	if (mode && !streq(mode, "ro") && !streq(mode, "rw"))
		return err_usage(err, "-v %s: expected ro or rw after the paths, got '%s'", spec,
				 mode);
	if (ctr[0] != '/' || !ctr[1])
		return err_usage(err, "-v %s: the container path must be absolute, below '/'",
				 spec);
	fd = open(host, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "-v %s: open '%s'", spec, host);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return err_sys(err, errno, "readlink '%s'", proc);
	buf[n] = '\0';
	strv_push(&st->vol_paths, buf);
	strv_push(&st->vol_paths, ctr);
	*ret = (struct sandbox_mount){.type = SANDBOX_MOUNT_BIND,
				      .readonly = mode && streq(mode, "ro")};
	return 0;
}

static int run_volumes(struct run_state *st, struct kiln_error **err)
{
	const struct strv *v = &st->o->volumes;

	st->mounts = xcalloc(v->n + 1, sizeof(*st->mounts));
	for (size_t i = 0; i < v->n; i++) {
		int r = run_volume(st, v->v[i], &st->mounts[i], err);

		if (r < 0)
			return r;
	}
	/* vol_paths no longer grows: its strings stay where they are */
	for (size_t i = 0; i < v->n; i++) {
		st->mounts[i].source = st->vol_paths.v[2 * i];
		st->mounts[i].target = st->vol_paths.v[2 * i + 1];
	}
	st->n_mounts = v->n;
	return 0;
}

static int run_user(struct run_state *st, struct sandbox_spec *spec, struct kiln_error **err)
{
	const char *user = st->o->user ? st->o->user : imgcfg_get_string(st->img->config, "User");
	struct copy_chown c = {0};
	int r;

	if (!user || !*user)
		return 0;
	r = resolve_owner(&st->lowers, user, true, &c, err);
	if (r < 0)
		return err_wrap(err, "%s '%s'", st->o->user ? "--user" : "the image's USER", user);
	spec->uid = c.uid;
	spec->gid = c.gid;
	return 0;
}

static enum sandbox_network run_network(enum build_network n)
{
	if (n == BUILD_NETWORK_HOST)
		return SANDBOX_NETWORK_HOST;
	if (n == BUILD_NETWORK_NONE)
		return SANDBOX_NETWORK_NONE;
	return SANDBOX_NETWORK_PRIVATE;
}

/*
 * ---- kiln's terminal stays kiln's ----
 *
 * The command never gets an fd of kiln's terminal: it could change its modes,
 * or push input into it. With -t it gets a pseudo-terminal of its own, copied
 * to and from kiln's stdio; without -t, any of kiln's stdin (with -i), stdout
 * or stderr that is a terminal is relayed through a pipe.
 */

struct relay_link {
	int from, to;
	bool input; /* from kiln's stdin: the command may outlive it; stopped afterwards */
	bool own_from, own_to; /* pipe ends of ours, closed at the link's end (EOF for stdin) */
};

struct relay {
	struct relay_link links[3];
	size_t n;
	int child_fds[3]; /* the ends the command gets, ours to close after it ran; -1 */
	int stop[2]; /* closed by relay_finish: stop reading stdin */
	int master; /* -t: the pty master, or -1 */
	bool raw; /* kiln's stdin is a terminal in raw mode (-it) */
	struct termios saved;
	pthread_t thread;
	bool started;
};

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy one chunk of @l; false at its end (EOF, EIO of a closed pty, a write error). */
static bool relay_copy(struct relay_link *l)
{
	char buf[8192];
	ssize_t n = read(l->from, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return true;
	return n > 0 && write_all(l->to, buf, (size_t)n) >= 0;
}

static void link_end(struct relay_link *l)
{
	if (l->own_to && l->to >= 0)
		close(l->to);
	if (l->own_from && l->from >= 0)
		close(l->from);
	l->to = -1;
	l->from = -1;
}

/* Until every output link ends (the command and all it started are gone). */
static void *relay_main(void *arg)
{
	struct relay *rl = arg;
	struct pollfd pfd[4];
	size_t outputs;

	for (;;) {
		outputs = 0;
		for (size_t i = 0; i < rl->n; i++) {
			pfd[i] = (struct pollfd){.fd = rl->links[i].from, .events = POLLIN};
			outputs += !rl->links[i].input && rl->links[i].from >= 0;
		}
		pfd[rl->n] = (struct pollfd){.fd = rl->stop[0], .events = POLLIN};
		if (!outputs && rl->stop[0] < 0)
			break;
		if (poll(pfd, rl->n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[rl->n].revents) {
			rl->stop[0] = -1; /* the command is done: no more input */
			for (size_t i = 0; i < rl->n; i++)
				if (rl->links[i].input)
					link_end(&rl->links[i]);
		}
		for (size_t i = 0; i < rl->n; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents && rl->links[i].from >= 0 &&
			    !relay_copy(&rl->links[i]))
				link_end(&rl->links[i]);
	}
	return NULL;
}

static void relay_add(struct relay *rl, int from, int to, bool input, bool own_from, bool own_to)
{
	rl->links[rl->n++] = (struct relay_link){from, to, input, own_from, own_to};
}

/* A pipe for std fd @fd when it is a terminal; *ret_fd is what the command gets. */
static int relay_pipe(struct relay *rl, int fd, int *ret_fd, struct kiln_error **err)
{
	int p[2];

	if (!isatty(fd))
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	/* stdin: the command reads p[0], we write p[1]; stdout, stderr: the reverse */
	rl->child_fds[fd] = fd == 0 ? p[0] : p[1];
	if (fd == 0)
		relay_add(rl, 0, p[1], true, false, true);
	else
		relay_add(rl, p[0], fd, false, true, false);
	*ret_fd = rl->child_fds[fd];
	return 0;
}

static int relay_pty(struct relay *rl, bool in, struct sandbox_spec *spec, struct kiln_error **err)
{
	char name[128];
	struct winsize ws;
	int slave;

	rl->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (rl->master < 0 || grantpt(rl->master) < 0 || unlockpt(rl->master) < 0 ||
	    ptsname_r(rl->master, name, sizeof(name)) != 0)
		return err_sys(err, errno, "-t: make a pseudo-terminal");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return err_sys(err, errno, "-t: open '%s'", name);
	rl->child_fds[0] = slave;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(slave, TIOCSWINSZ, &ws);
	relay_add(rl, rl->master, 1, false, false, false);
	if (in)
		relay_add(rl, 0, rl->master, true, false, false);
	if (in && isatty(0) && tcgetattr(0, &rl->saved) == 0) {
		struct termios raw = rl->saved;

		cfmakeraw(&raw);
		rl->raw = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	spec->tty = true;
	spec->stdin_fd = spec->stdout_fd = spec->stderr_fd = slave;
	return 0;
}

static int relay_start(struct relay *rl, const struct run_opts *o, struct sandbox_spec *spec,
		       struct kiln_error **err)
{
	int r = 0;

	spec->stdin_fd = o->interactive ? 0 : -1;
	if (o->tty)
		r = relay_pty(rl, o->interactive, spec, err);
	else if ((!o->interactive || (r = relay_pipe(rl, 0, &spec->stdin_fd, err)) >= 0) &&
		 (r = relay_pipe(rl, 1, &spec->stdout_fd, err)) >= 0)
		r = relay_pipe(rl, 2, &spec->stderr_fd, err);
	if (r < 0 || rl->n == 0)
		return r;
	if (pipe2(rl->stop, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	if (pthread_create(&rl->thread, NULL, relay_main, rl) != 0)
		return err_sys(err, EAGAIN, "start the terminal thread");
	rl->started = true;
	return 0;
}

/* After the command: stop reading stdin, drain its output, give kiln's terminal back. */
static void relay_finish(struct relay *rl)
{
	int stop_r = rl->stop[0];

	for (int i = 0; i < 3; i++)
		if (rl->child_fds[i] >= 0)
			close(rl->child_fds[i]);
	if (rl->stop[1] >= 0)
		close(rl->stop[1]);
	if (rl->started)
		pthread_join(rl->thread, NULL);
	if (stop_r >= 0)
		close(stop_r);
	for (size_t i = 0; i < rl->n; i++)
		link_end(&rl->links[i]);
	if (rl->raw)
		(void)tcsetattr(0, TCSANOW, &rl->saved);
	if (rl->master >= 0)
		close(rl->master);
}

static int run_sandbox(struct run_state *st, int *ret_status, struct kiln_error **err)
{
	const struct run_opts *o = st->o;
	struct sandbox_spec spec = SANDBOX_SPEC_INIT;
	struct relay rl = {.child_fds = {-1, -1, -1}, .stop = {-1, -1}, .master = -1};
	const char *wd = o->workdir ? o->workdir : imgcfg_get_string(st->img->config, "WorkingDir");
	int r = run_user(st, &spec, err);

	if (r < 0)
		return r;
	run_env(st);
	run_identity(&st->lowers, spec.uid, spec.gid, &st->env, &st->groups, &spec.n_groups);
	spec.groups = st->groups;
	if (st->d.copied) {
		spec.rootfs = SANDBOX_ROOTFS_DIR;
		spec.rootdir = st->d.merged;
	} else {
		spec.lowerdirs = (const char *const *)st->lowers.v;
		spec.n_lowerdirs = st->lowers.n;
		spec.upperdir = st->d.upper;
	}
	spec.workdir = st->d.work;
	spec.isolation = st->b.isolation == BUILD_ISOLATION_CHROOT ? SANDBOX_ISOLATION_CHROOT
								   : SANDBOX_ISOLATION_NAMESPACES;
	spec.argv = (const char *const *)strv_argv(&st->argv);
	spec.env = (const char *const *)strv_argv(&st->env);
	spec.cwd = wd && *wd ? wd : "/";
	spec.network = run_network(o->network);
	if (spec.network == SANDBOX_NETWORK_PRIVATE && st->b.container_network)
		spec.network = SANDBOX_NETWORK_HOST; /* the reduced sandbox's, as for RUN */
	spec.mounts = st->mounts;
	spec.n_mounts = st->n_mounts;
	r = relay_start(&rl, o, &spec, err);
	if (r >= 0)
		r = sandbox_run(&spec, ret_status, err);
	relay_finish(&rl);
	return r;
}

/* What the build would say in its progress, said on stderr when it is not the default. */
static void run_message(void *userdata, const char *msg)
{
	if (!startswith(msg, "isolation: sandbox") && !startswith(msg, "pulling ") &&
	    !startswith(msg, "blob "))
		fprintf(stderr, "kiln: %s\n", msg);
}

int builder_run(const struct run_opts *o, int *ret_status, struct kiln_error **err)
{
	static const struct build_events run_events = {.message = run_message};
	struct run_state st = {.o = o, .lowers = STRV_INIT};
	struct build_ctx *b = &st.b;
	struct platform host;
	int r;

	platform_host(&host); /* an index gives this machine's image */
	build_opts_init(&st.bo);
	st.bo.store_root = o->store_root;
	st.bo.pull = o->pull;
	st.bo.registry = o->registry;
	st.bo.network = o->network;
	b->opts = &st.bo;
	b->ev = &run_events;
	b->context_fd = -1;
	b->copy_storage = -1;
	b->isolation = -1;
	b->epoch = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->pull_lock, NULL);
	r = store_open(o->store_root, STORE_CREATE, &b->store, err);
	if (r >= 0)
		r = build_image_read(b, o->image, &host, &st.img, err);
	if (r >= 0)
		r = run_argv(&st, err);
	if (r >= 0)
		r = run_volumes(&st, err);
	if (r >= 0)
		r = build_isolation_locked(b, err);
	if (r >= 0)
		r = rootfs_lowers(b, st.img->layers, st.img->n_layers, &st.lowers, err);
	if (r >= 0)
		r = step_dirs_make(b, &st.d, err);
	if (r >= 0)
		r = rootfs_prepare_run(b, &st.lowers, &st.d, err);
	if (r >= 0)
		r = run_sandbox(&st, ret_status, err);
	if (r >= 0)
		r = interrupt_check(
			err); /* SIGINT, SIGTERM: the command was killed, kiln says why */
	run_state_release(&st);
	return r < 0 ? r : 0;
}
