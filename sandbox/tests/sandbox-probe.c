/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox-probe: the sandbox, exposed for the end-to-end tests (tests/t03*).
 * Not installed.
 *
 *   sandbox-probe [--userns] --exec -- CMD...            CMD as root of our user namespace
 *   sandbox-probe [--userns] --overlay-supported DIR     prints 1 or 0
 *   sandbox-probe [--userns] --rootfs DIR --lower DIR... --diff DIFF
 *                                                        copy storage's diff
 *   sandbox-probe [--userns] (--lower DIR... --upper DIR | --rootfs DIR) --work DIR
 *                 [--network none|host] [--uid N] [--gid N] [--groups N,N...]
 *                 [--cwd DIR] [--hostname NAME] [--env K=V]...
 *                 [--bind SRC:DST[:ro]]... [--tmpfs DST[:OPTIONS]]...
 *                 [--stdin] [--repeat N] [--busy-threads N] -- CMD...
 *
 * The command's stdin is /dev/null unless --stdin passes ours on.
 * --busy-threads N keeps N threads allocating memory while steps run: the
 * sandbox must not deadlock on a malloc lock copied into the child.
 *
 * Exits with the command's status; 125 when the sandbox itself failed.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/error.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define PROBE_FAIL 125

struct probe {
	struct sandbox_spec spec;
	struct strv lowers, env;
	struct sandbox_mount *mounts;
	size_t n_mounts;
	gid_t *groups;
	bool userns, exec;
	const char *overlay_dir;
	const char *diff_dir;
	unsigned repeat;
	unsigned busy_threads;
};

_printf_(1, 2) static _noreturn_ void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "sandbox-probe: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(PROBE_FAIL);
}

static unsigned num(const char *s)
{
	unsigned v;

	if (parse_uint(s, &v) < 0)
		die("not a number: '%s'", s);
	return v;
}

static struct sandbox_mount *new_mount(struct probe *p)
{
	p->mounts = xreallocarray(p->mounts, p->n_mounts + 1, sizeof(*p->mounts));
	p->mounts[p->n_mounts] = (struct sandbox_mount){0};
	return &p->mounts[p->n_mounts++];
}

/* SRC:DST[:ro] */
static void add_bind(struct probe *p, char *arg)
{
	struct sandbox_mount *m = new_mount(p);
	char *dst = strchr(arg, ':'), *ro;

	if (!dst)
		die("--bind wants SRC:DST[:ro], got '%s'", arg);
	*dst++ = '\0';
	ro = strchr(dst, ':');
	if (ro) {
		*ro++ = '\0';
		m->readonly = streq(ro, "ro");
	}
	m->type = SANDBOX_MOUNT_BIND;
	m->source = arg;
	m->target = dst;
}

/* DST[:OPTIONS] */
static void add_tmpfs(struct probe *p, char *arg)
{
	struct sandbox_mount *m = new_mount(p);
	char *opts = strchr(arg, ':');

	if (opts)
		*opts++ = '\0';
	m->type = SANDBOX_MOUNT_TMPFS;
	m->target = arg;
	m->options = opts;
}

static void add_groups(struct probe *p, char *arg)
{
	char *save = NULL;

	for (char *g = strtok_r(arg, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		p->groups = xreallocarray(p->groups, p->spec.n_groups + 1, sizeof(gid_t));
		p->groups[p->spec.n_groups++] = num(g);
	}
	p->spec.groups = p->groups;
}

enum {
	OPT_LOWER = 256,
	OPT_UPPER,
	OPT_WORK,
	OPT_ROOTFS,
	OPT_NETWORK,
	OPT_UID,
	OPT_GID,
	OPT_GROUPS,
	OPT_CWD,
	OPT_HOSTNAME,
	OPT_ENV,
	OPT_BIND,
	OPT_TMPFS,
	OPT_REPEAT,
	OPT_USERNS,
	OPT_EXEC,
	OPT_OVERLAY,
	OPT_BUSY,
	OPT_STDIN,
	OPT_DIFF,
};

static const struct option options[] = {
	{"lower", required_argument, NULL, OPT_LOWER},
	{"upper", required_argument, NULL, OPT_UPPER},
	{"work", required_argument, NULL, OPT_WORK},
	{"rootfs", required_argument, NULL, OPT_ROOTFS},
	{"network", required_argument, NULL, OPT_NETWORK},
	{"uid", required_argument, NULL, OPT_UID},
	{"gid", required_argument, NULL, OPT_GID},
	{"groups", required_argument, NULL, OPT_GROUPS},
	{"cwd", required_argument, NULL, OPT_CWD},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"env", required_argument, NULL, OPT_ENV},
	{"bind", required_argument, NULL, OPT_BIND},
	{"tmpfs", required_argument, NULL, OPT_TMPFS},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"userns", no_argument, NULL, OPT_USERNS},
	{"exec", no_argument, NULL, OPT_EXEC},
	{"overlay-supported", required_argument, NULL, OPT_OVERLAY},
	{"busy-threads", required_argument, NULL, OPT_BUSY},
	{"stdin", no_argument, NULL, OPT_STDIN},
	{"diff", required_argument, NULL, OPT_DIFF},
	{NULL, 0, NULL, 0},
};

static void parse_option(struct probe *p, int c, char *arg)
{
	switch (c) {
	case OPT_LOWER:
		strv_push(&p->lowers, arg);
		break;
	case OPT_UPPER:
		p->spec.upperdir = arg;
		break;
	case OPT_WORK:
		p->spec.workdir = arg;
		break;
	case OPT_ROOTFS:
		p->spec.rootfs = SANDBOX_ROOTFS_DIR;
		p->spec.rootdir = arg;
		break;
	case OPT_NETWORK:
		if (!streq(arg, "none") && !streq(arg, "host"))
			die("--network wants none or host, got '%s'", arg);
		p->spec.network = streq(arg, "none") ? SANDBOX_NETWORK_NONE : SANDBOX_NETWORK_HOST;
		break;
	case OPT_UID:
		p->spec.uid = num(arg);
		break;
	case OPT_GID:
		p->spec.gid = num(arg);
		break;
	case OPT_GROUPS:
		add_groups(p, arg);
		break;
	case OPT_CWD:
		p->spec.cwd = arg;
		break;
	case OPT_HOSTNAME:
		p->spec.hostname = arg;
		break;
	case OPT_ENV:
		strv_push(&p->env, arg);
		break;
	case OPT_BIND:
		add_bind(p, arg);
		break;
	case OPT_TMPFS:
		add_tmpfs(p, arg);
		break;
	case OPT_REPEAT:
		p->repeat = num(arg);
		break;
	case OPT_USERNS:
		p->userns = true;
		break;
	case OPT_EXEC:
		p->exec = true;
		break;
	case OPT_DIFF:
		p->diff_dir = arg;
		break;
	case OPT_STDIN:
		p->spec.stdin_fd = 0;
		break;
	case OPT_BUSY:
		p->busy_threads = num(arg);
		break;
	case OPT_OVERLAY:
		p->overlay_dir = arg;
		break;
	default:
		die("unknown option (see the comment at the top of %s)", __FILE__);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail_with(struct kiln_error *e)
{
	fprintf(stderr, "sandbox-probe: error: %s\n", e->msg);
	err_free(e);
	return PROBE_FAIL;
}

static double cpu_ms(void)
{
	struct rusage self, children;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
			children.ru_stime.tv_sec) *
		       1e3 +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
			children.ru_stime.tv_usec) /
		       1e3;
}

static void *busy(void *arg)
{
	for (size_t i = 0;; i++) {
		char *s = xasprintf("%zu", i);

		free(xmalloc(1 + i % 4096));
		free(s);
	}
	return arg;
}

static int run(struct probe *p)
{
	struct kiln_error *e = NULL;
	int status = 0;
	double t0 = now_ms(), c0 = cpu_ms();
	unsigned n = p->repeat ? p->repeat : 1;
	pthread_t t;

	for (unsigned i = 0; i < p->busy_threads; i++)
		if (pthread_create(&t, NULL, busy, NULL) != 0)
			die("pthread_create failed%s", "");
	for (unsigned i = 0; i < n; i++)
		if (sandbox_run(&p->spec, &status, &e) < 0)
			return fail_with(e);
	if (p->repeat)
		fprintf(stderr, "sandbox-probe: %u runs, %.2f ms each (cpu %.2f ms)\n", n,
			(now_ms() - t0) / n, (cpu_ms() - c0) / n);
	return status;
}

int main(int argc, char **argv)
{
	struct probe p = {.spec = SANDBOX_SPEC_INIT, .lowers = STRV_INIT, .env = STRV_INIT};
	struct kiln_error *e = NULL;
	int c, r;

	if (getenv("KILN_LOG_LEVEL"))
		log_set_level(LOG_LEVEL_DEBUG);
	while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1)
		parse_option(&p, c, optarg);
	if (p.userns && sandbox_enter_userns(&e) < 0)
		return fail_with(e);
	if (p.overlay_dir) {
		r = sandbox_overlay_supported(p.overlay_dir, &e);
		if (r < 0)
			return fail_with(e);
		printf("%d\n", r);
		return 0;
	}
	if (p.diff_dir) {
		r = sandbox_copy_diff(p.spec.rootdir ? p.spec.rootdir : ".",
				      (const char *const *)strv_argv(&p.lowers), p.lowers.n,
				      p.diff_dir, &e);
		strv_clear(&p.lowers);
		return r < 0 ? fail_with(e) : 0;
	}
	if (optind >= argc)
		die("no command given%s", "");
	if (p.exec) {
		execvp(argv[optind], argv + optind);
		die("exec '%s' failed", argv[optind]);
	}
	if (!p.env.n)
		strv_push(&p.env,
			  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	p.spec.lowerdirs = (const char *const *)strv_argv(&p.lowers);
	p.spec.n_lowerdirs = p.lowers.n;
	p.spec.env = (const char *const *)strv_argv(&p.env);
	p.spec.argv = (const char *const *)(argv + optind);
	p.spec.mounts = p.mounts;
	p.spec.n_mounts = p.n_mounts;
	r = run(&p);
	strv_clear(&p.lowers);
	strv_clear(&p.env);
	free(p.mounts);
	free(p.groups);
	return r;
}
