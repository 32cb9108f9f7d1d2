/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/mounts-internal.h"
#include "builder/step-internal.h"
#include "copy/copy.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * RUN: the command in the sandbox, on an overlay of the stage's layers. The
 * step looks its cache key up first; on a miss it works in a fresh step
 * directory, commits the upperdir as a layer, and keeps the upperdir as that
 * layer's snapshot for the steps after it.
 */

/* ---- RUN ---------------------------------------------------------------------------- */

struct output_pump {
	struct build_ctx *b;
	struct step *st;
	int fd;
};

static void *pump_main(void *arg)
{
	struct output_pump *p = arg;
	char buf[8192];
	ssize_t n;

	while ((n = read(p->fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p->b->ev && p->b->ev->output)
			p->b->ev->output(p->b->ev->userdata, &p->st->info, buf, (size_t)n);
	}
	return NULL;
}

/* The command line: exec form as is, shell form through SHELL, heredocs as scripts. */
static void run_argv(struct stage_state *s, const struct instruction *in, struct strv *ret)
{
	_cleanup_strv_ struct strv shell = STRV_INIT;
	struct strbuf script = STRBUF_INIT;
	const char *cmd = in->args.n ? in->args.v[0] : "";

	if (in->json) {
		strv_copy(ret, &in->args);
		return;
	}
	if (!imgcfg_get_argv(s->config, "Shell", &shell) || shell.n == 0) {
		strv_clear(&shell);
		strv_push(&shell, "/bin/sh");
		strv_push(&shell, "-c");
	}
	strv_copy(ret, &shell);
	if (in->n_heredocs == 1 && strncmp(cmd, "<<", 2) == 0 && !strchr(cmd, ' ')) {
		/* RUN <<EOF: the body is the script */
		strv_push(ret, in->heredocs[0].body);
		return;
	}
	/* a command with here-documents: the shell reads them as written */
	strbuf_addstr(&script, cmd);
	for (size_t i = 0; i < in->n_heredocs; i++)
		strbuf_addf(&script, "\n%s%s", in->heredocs[i].body, in->heredocs[i].name);
	strv_push_take(ret, strbuf_detach(&script, NULL));
}

/* The RUN environment: ARGs in scope and proxy build args under the image's Env. */
static void run_env(struct build_ctx *b, struct stage_state *s, struct strv *ret)
{
	strv_foreach(&b->build_args, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = xstrndup(*kv, (size_t)(eq - *kv));

		if (args_is_proxy(k))
			strv_env_set(ret, k, eq + 1);
	}
	args_expansion_env(s, ret);
	if (strv_env_find(ret, "PATH") < 0)
		strv_env_set(ret, "PATH",
			     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

/* RUN --network=none|host|default over the build's --network. */
static enum build_network run_network(struct build_ctx *b, const struct instruction *in)
{
	const char *v = instr_flag_get(in, "network");

	if (v && streq(v, "none"))
		return BUILD_NETWORK_NONE;
	if (v && streq(v, "host"))
		return BUILD_NETWORK_HOST;
	return b->opts->network;
}

static enum sandbox_network sandbox_network_of(enum build_network n)
{
	switch (n) {
	case BUILD_NETWORK_HOST:
		return SANDBOX_NETWORK_HOST;
	case BUILD_NETWORK_NONE:
		return SANDBOX_NETWORK_NONE;
	case BUILD_NETWORK_DEFAULT:
		break;
	}
	return SANDBOX_NETWORK_PRIVATE;
}

/*
 * What a Dockerfile alone may not ask for (BuildKit's entitlements): RUN
 * --security=insecure needs --allow security.insecure, RUN --network=host needs
 * --allow network.host or a build run with --network=host.
 */
static int run_entitlements(struct build_ctx *b, const struct instruction *in, bool *ret_insecure,
			    struct kiln_error **err)
{
	const char *sec = instr_flag_get(in, "security");
	const char *net = instr_flag_get(in, "network");

	*ret_insecure = sec && streq(sec, "insecure");
	if (sec && !*ret_insecure && !streq(sec, "sandbox"))
		return instr_error(
			b, in, err,
			"RUN --security: unsupported value '%s' (expected sandbox or insecure)",
			sec);
	if (*ret_insecure && !b->opts->allow_insecure)
		return instr_error(
			b, in, err,
			"RUN --security=insecure is not allowed: start the build with 'kiln build --allow security.insecure' to run this step with every capability and no seccomp filter");
	if (net && streq(net, "host") && b->opts->network != BUILD_NETWORK_HOST &&
	    !b->opts->allow_network_host)
		return instr_error(
			b, in, err,
			"RUN --network=host is not allowed: start the build with 'kiln build --allow network.host' (or --network=host)");
	return 0;
}

/* RUN's state through its layer step (step.c). */
struct run_step {
	struct run_mounts m;
	bool insecure;
};

/* The key: the mounts' sources, the command, the ARGs in scope, what the sandbox gets. */
static int run_key(struct layer_step *ls, struct cache_key *k, struct kiln_error **err)
{
	struct run_step *rs = ls->data;
	struct build_ctx *b = ls->b;
	struct stage_state *s = ls->s;
	const struct instruction *in = ls->in;
	int r;

	r = run_entitlements(b, in, &rs->insecure, err);
	if (r >= 0)
		r = run_mounts_parse(b, s, in, &rs->m, err);
	if (r >= 0)
		r = run_mounts_cache_key(b, s, &rs->m, k, err);
	if (r < 0)
		return r;
	cache_key_add(k, "RUN", ls->text);
	for (size_t i = 0; i < in->n_heredocs; i++)
		cache_key_add(k, "heredoc", in->heredocs[i].body);
	strv_foreach(&s->args, a)
		cache_key_add(k, "arg", *a);
	cache_key_addf(k, "network", "%d", run_network(b, in));
	if (rs->insecure)
		cache_key_add(k, "security", "insecure");
	/* what BuildKit keeps in the step's meta: a change reruns the step */
	strv_foreach(&b->opts->add_hosts, h)
		cache_key_add(k, "add-host", *h);
	if (b->opts->shm_size)
		cache_key_addf(k, "shm-size", "%llu", b->opts->shm_size);
	strv_foreach(&b->opts->ulimits, u)
		cache_key_add(k, "ulimit", *u);
	return 0;
}

/*
 * "user[:group]" -> numbers, from /etc/passwd and /etc/group of the image: the
 * top-most layer that has an /etc/passwd holds the one the image sees.
 */
int resolve_owner(const struct strv *lowers, const char *spec, bool as_user, struct copy_chown *ret,
		  struct kiln_error **err)
{
	int (*resolve)(int, const char *, struct copy_chown *, struct kiln_error **) =
		as_user ? copy_user_resolve : copy_chown_resolve;
	_cleanup_close_ int none = -1;
	int r = -ENOENT;

	for (size_t i = 0; i < lowers->n && r == -ENOENT; i++) {
		_cleanup_close_ int root = open(lowers->v[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat st;

		if (root < 0 || fstatat(root, "etc/passwd", &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		r = resolve(root, spec, ret, err);
	}
	if (r != -ENOENT)
		return r;
	/* no passwd file at all: only numbers can work */
	none = open("/proc/self/fdinfo", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return resolve(none, spec, ret, err);
}

static int resolve_user(struct build_ctx *b, struct stage_state *s, const struct strv *lowers,
			uid_t *ret_uid, gid_t *ret_gid, struct kiln_error **err)
{
	const char *user = imgcfg_get_string(s->config, "User");
	struct copy_chown c = {0};
	int r;

	*ret_uid = 0;
	*ret_gid = 0;
	if (!user || !*user)
		return 0;
	r = resolve_owner(lowers, user, true, &c, err);
	if (r < 0)
		return err_wrap(err, "USER '%s'", user);
	*ret_uid = c.uid;
	*ret_gid = c.gid;
	return 0;
}

/*
 * As Docker's runtime: HOME, when the environment lacks it, from @uid's passwd
 * entry (else "/"); the groups are @gid then those of /etc/group that list the
 * user (none where setgroups(2) is denied: a single-id map).
 */
void run_identity(const struct strv *lowers, uid_t uid, gid_t gid, struct strv *env,
		  gid_t **ret_groups, size_t *ret_n)
{
	_cleanup_free_ char *name = NULL, *home = NULL;
	_cleanup_free_ gid_t *member = NULL;
	size_t n_member = 0;
	int r = -ENOENT;

	for (size_t i = 0; i < lowers->n; i++) {
		_cleanup_close_ int root = open(lowers->v[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat st;

		if (root < 0 || fstatat(root, "etc/passwd", &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		r = copy_user_entry(root, uid, &name, &home, NULL);
		if (r >= 0 && name)
			copy_user_groups(root, name, &member, &n_member, NULL);
		break;
	}
	if (strv_env_find(env, "HOME") < 0)
		strv_env_set(env, "HOME", r >= 0 && home ? home : "/");
	*ret_groups = NULL;
	*ret_n = 0;
	if (userns_setgroups_denied())
		return;
	*ret_groups = xcalloc(n_member + 1, sizeof(gid_t));
	(*ret_groups)[(*ret_n)++] = gid;
	for (size_t i = 0; i < n_member; i++)
		if (member[i] != gid)
			(*ret_groups)[(*ret_n)++] = member[i];
}

static struct sandbox_mount *sandbox_mounts(const struct run_mounts *m)
{
	struct sandbox_mount *v = xcalloc(m->n + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct run_mount *rm = &m->v[i];

		if (rm->spec.type == MOUNT_TMPFS) {
			v[n++] = (struct sandbox_mount){.type = SANDBOX_MOUNT_TMPFS,
							.target = rm->spec.target};
			continue;
		}
		if (!rm->host_path || !rm->spec.target)
			continue; /* an optional secret that was not given, or env= only */
		v[n++] = (struct sandbox_mount){.type = SANDBOX_MOUNT_BIND,
						.source = rm->host_path,
						.target = rm->spec.target,
						.readonly = !rm->spec.rw};
	}
	return v;
}

static int run_in_sandbox(struct build_ctx *b, struct stage_state *s, struct step *st,
			  const struct strv *lowers, struct step_dirs *d, const struct strv *argv,
			  const struct run_mounts *m, bool insecure, int *ret_status,
			  struct kiln_error **err)
{
	_cleanup_free_ struct sandbox_mount *mounts = sandbox_mounts(m);
	_cleanup_strv_ struct strv env = STRV_INIT;
	_cleanup_strv_ struct strv tmpfs_opts = STRV_INIT;
	_cleanup_free_ gid_t *groups = NULL;
	struct sandbox_spec spec = SANDBOX_SPEC_INIT;
	const char *wd = imgcfg_get_string(s->config, "WorkingDir");
	struct output_pump pump = {.b = b, .st = st};
	pthread_t thread;
	int pipefd[2], r;

	r = resolve_user(b, s, lowers, &spec.uid, &spec.gid, err);
	if (r < 0)
		return r;
	run_env(b, s, &env);
	run_identity(lowers, spec.uid, spec.gid, &env, &groups, &spec.n_groups);
	spec.groups = groups;
	strv_foreach(&m->env, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = xstrndup(*kv, (size_t)(eq - *kv));

		strv_env_set(&env, k, eq + 1);
	}
	for (size_t i = 0, j = 0; i < m->n; i++) {
		if (m->v[i].spec.type != MOUNT_TMPFS)
			continue;
		while (mounts[j].type != SANDBOX_MOUNT_TMPFS)
			j++;
		if (m->v[i].spec.size) {
			strv_pushf(&tmpfs_opts, "size=%llu", (unsigned long long)m->v[i].spec.size);
			mounts[j].options = tmpfs_opts.v[tmpfs_opts.n - 1];
		}
		j++;
	}
	for (spec.n_mounts = 0; mounts[spec.n_mounts].target; spec.n_mounts++)
		;
	spec.mounts = mounts;
	if (d->copied) {
		spec.rootfs = SANDBOX_ROOTFS_DIR;
		spec.rootdir = d->merged;
	} else {
		spec.lowerdirs = (const char *const *)lowers->v;
		spec.n_lowerdirs = lowers->n;
		spec.upperdir = d->upper;
	}
	spec.workdir = d->work;
	spec.isolation = b->isolation == BUILD_ISOLATION_CHROOT ? SANDBOX_ISOLATION_CHROOT
								: SANDBOX_ISOLATION_NAMESPACES;
	spec.argv = (const char *const *)argv->v;
	spec.env = (const char *const *)strv_argv(&env);
	spec.cwd = wd && *wd ? wd : "/";
	spec.network = sandbox_network_of(run_network(b, st->in));
	if (spec.network == SANDBOX_NETWORK_PRIVATE && b->container_network)
		spec.network = SANDBOX_NETWORK_HOST; /* said once (isolation.c) */
	spec.insecure = insecure;
	spec.extra_hosts = (const char *const *)b->opts->add_hosts.v;
	spec.shm_size = b->opts->shm_size;
	spec.ulimits = (const char *const *)b->opts->ulimits.v;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	pump.fd = pipefd[0];
	spec.stdout_fd = spec.stderr_fd = pipefd[1];
	if (pthread_create(&thread, NULL, pump_main, &pump) != 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return err_sys(err, EAGAIN, "start output thread");
	}
	r = sandbox_run(&spec, ret_status, err);
	close(pipefd[1]);
	pthread_join(thread, NULL);
	close(pipefd[0]);
	return r;
}

/* The work: the command in the sandbox, on the stage's layers and an empty upper. */
static int run_work(struct layer_step *ls, struct kiln_error **err)
{
	struct run_step *rs = ls->data;
	struct build_ctx *b = ls->b;
	struct stage_state *s = ls->s;
	_cleanup_strv_ struct strv argv = STRV_INIT, lowers = STRV_INIT;
	int r, status = 0;

	r = emulation_check(&s->plat, err); /* a cache hit runs nothing */
	if (r < 0)
		return r;
	run_argv(s, ls->in, &argv);
	r = rootfs_lowers(b, s->layers, s->n_layers, &lowers, err);
	if (r >= 0)
		r = run_mounts_prepare(b, s, &rs->m, err);
	if (r >= 0)
		r = rootfs_prepare_run(b, &lowers, &ls->dirs, err);
	if (r >= 0)
		r = run_in_sandbox(b, s, ls->st, &lowers, &ls->dirs, &argv, &rs->m, rs->insecure,
				   &status, err);
	if (r >= 0)
		r = interrupt_check(err); /* its status is the kill's */
	if (r >= 0 && status != 0) {
		_cleanup_free_ char *cmd = strv_join(&argv, " ");

		/* BuildKit's words: the command as run, shell included */
		ls->st->info.exit_status = status;
		r = err_new(err, KILN_ERR_INPUT, EINVAL,
			    "process \"%s\" did not complete successfully: exit code: %d", cmd,
			    status);
	}
	return r < 0 ? r : 0;
}

static const struct layer_step_ops run_ops = {
	.key = run_key,
	.work = run_work,
};

int instr_run(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
	      struct step *st, struct kiln_error **err)
{
	struct run_step rs = {0};
	int r = layer_step_run(b, s, in, st, &run_ops, &rs, err);

	run_mounts_release(&rs.m);
	return r;
}
