/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/copy-internal.h"
#include "builder/mounts-internal.h"
#include "util/fs.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static const char *const type_names[] = {
	[RUN_MOUNT_BIND] = "bind",     [RUN_MOUNT_CACHE] = "cache", [RUN_MOUNT_TMPFS] = "tmpfs",
	[RUN_MOUNT_SECRET] = "secret", [RUN_MOUNT_SSH] = "ssh",
};

static int parse_bool(const char *v, bool *ret)
{
	if (!v || streq(v, "true") || streq(v, "1")) {
		*ret = true;
		return 0;
	}
	if (streq(v, "false") || streq(v, "0")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

/* One "key=value" (or bare "key") of a --mount option. */
static int set_field(struct run_mount *m, const char *key, const char *v)
{
	unsigned u;
	bool ro;

	if (streq(key, "type")) {
		for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
			if (v && streq(v, type_names[i])) {
				m->type = (enum run_mount_type)i;
				return 0;
			}
		return -EINVAL;
	}
	if (streq(key, "target") || streq(key, "dst") || streq(key, "destination"))
		return v ? (free(m->target), m->target = xstrdup(v), 0) : -EINVAL;
	if (streq(key, "source") || streq(key, "src"))
		return v ? (free(m->source), m->source = xstrdup(v), 0) : -EINVAL;
	if (streq(key, "from"))
		return v ? (free(m->from), m->from = xstrdup(v), 0) : -EINVAL;
	if (streq(key, "id"))
		return v ? (free(m->id), m->id = xstrdup(v), 0) : -EINVAL;
	if (streq(key, "env"))
		return v ? (free(m->env), m->env = xstrdup(v), 0) : -EINVAL;
	if (streq(key, "sharing")) {
		if (!v || (!streq(v, "shared") && !streq(v, "private") && !streq(v, "locked")))
			return -EINVAL;
		free(m->sharing);
		m->sharing = xstrdup(v);
		return 0;
	}
	if (streq(key, "mode"))
		return v ? parse_mode(v, &m->mode) : -EINVAL;
	if (streq(key, "uid"))
		return v && parse_uint(v, &u) == 0 ? (m->uid = u, 0) : -EINVAL;
	if (streq(key, "gid"))
		return v && parse_uint(v, &u) == 0 ? (m->gid = u, 0) : -EINVAL;
	if (streq(key, "size"))
		return v ? parse_size(v, &m->size) : -EINVAL;
	if (streq(key, "rw") || streq(key, "readwrite"))
		return parse_bool(v, &m->rw);
	if (streq(key, "ro") || streq(key, "readonly")) {
		if (parse_bool(v, &ro) < 0)
			return -EINVAL;
		m->rw = !ro;
		return 0;
	}
	if (streq(key, "required"))
		return parse_bool(v, &m->required);
	return -ENOENT;
}

static int parse_one(struct build_ctx *b, const struct instruction *in, const char *spec,
		     struct run_mount *m, struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *save = NULL;

	memset(m, 0, sizeof(*m));
	m->mode = 0755;
	m->lock_fd = -1;
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		int r;

		if (eq)
			*eq++ = '\0';
		r = set_field(m, f, eq);
		if (r == -ENOENT)
			return instr_error(b, in, err, "RUN --mount: unknown option '%s' in '%s'",
					   f, spec);
		if (r < 0)
			return instr_error(b, in, err,
					   "RUN --mount: invalid value for '%s' in '%s'", f, spec);
	}
	if (m->type == RUN_MOUNT_SECRET && !m->target && !m->env)
		m->target = xasprintf("/run/secrets/%s", m->id ? m->id : "");
	if (m->type == RUN_MOUNT_SECRET && !m->id && m->target) {
		const char *slash = strrchr(m->target, '/');

		m->id = xstrdup(slash ? slash + 1 : m->target);
	}
	if (m->type == RUN_MOUNT_SSH && !m->target)
		m->target = xstrdup("/run/buildkit/ssh_agent.0");
	if (!m->target && m->type != RUN_MOUNT_SECRET)
		return instr_error(b, in, err, "RUN --mount=%s: a target is required", spec);
	if (m->type == RUN_MOUNT_CACHE && !m->id)
		m->id = xstrdup(m->target);
	if (m->type == RUN_MOUNT_SSH && !m->id)
		m->id = xstrdup("default");
	return 0;
}

int run_mounts_parse(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		     struct run_mounts *ret, struct kiln_error **err)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		_cleanup_free_ char *spec = NULL;
		int r;

		if (!streq(in->flags[i].name, "mount"))
			continue;
		r = expand_word(b, s, in, in->flags[i].value, &spec, err);
		if (r < 0)
			return r;
		ALLOC_GROW(ret->v, ret->n + 1, ret->alloc);
		r = parse_one(b, in, spec, &ret->v[ret->n], err);
		ret->n++;
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- where each mount's content comes from ---------------------------------------------- */

/* The stage or image a bind mount reads from; its layers' read-only view in m->view. */
static int from_view(struct build_ctx *b, struct stage_state *s, struct run_mount *m,
		     struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_strv_ struct strv lowers = STRV_INIT;
	const struct stage_state *st = NULL;
	unsigned idx;
	int r;

	for (size_t i = 0; i < s->index && !st; i++) {
		const char *name = b->stages[i].st->name;

		if ((name && strcasecmp(name, m->from) == 0) ||
		    (parse_uint(m->from, &idx) == 0 && idx == i))
			st = &b->stages[i];
	}
	if (!st && (r = build_image_read(b, m->from, &img, err)) < 0)
		return err_wrap(err, "RUN --mount from=%s", m->from);
	r = st ? rootfs_lowers(b, st->layers, st->n_layers, &lowers, err)
	       : rootfs_lowers(b, img->layers, img->n_layers, &lowers, err);
	if (r >= 0)
		r = step_dirs_make(b, &m->view, err);
	if (r >= 0)
		r = rootfs_mount_ro(b, &lowers, &m->view, err);
	return r;
}

/* The real path of @source inside @root_fd (resolved in-root), as a host path. */
static int resolve_in(int root_fd, const char *source, char **ret, struct kiln_error **err)
{
	_cleanup_close_ int fd = fs_open_in(root_fd, source, O_PATH, 0, FS_IN_ROOT, err);
	char proc[64], buf[PATH_MAX];
	ssize_t n;

	if (fd < 0)
		return err_wrap(err, "RUN --mount source '%s'", source);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return err_sys(err, errno, "readlink '%s'", proc);
	buf[n] = '\0';
	*ret = xstrdup(buf);
	return 0;
}

static int prepare_bind(struct build_ctx *b, struct stage_state *s, struct run_mount *m,
			struct kiln_error **err)
{
	_cleanup_close_ int root = -1;
	const char *src = m->source ? m->source : "/";
	int r;

	if (m->from) {
		r = from_view(b, s, m, err);
		if (r < 0)
			return r;
		root = open(m->view.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return err_sys(err, errno, "open '%s'", m->view.merged);
	} else {
		root = fcntl(b->context_fd, F_DUPFD_CLOEXEC, 3);
	}
	r = resolve_in(root, src, &m->host_path, err);
	if (r < 0 || !m->rw)
		return r;
	/* rw: writes go to a throwaway overlay and are discarded with it */
	{
		struct step_dirs rw = {0};
		struct strv lower = STRV_INIT;

		strv_push(&lower, m->host_path);
		r = step_dirs_make(b, &rw, err);
		if (r >= 0)
			r = rootfs_mount(b, &lower, &rw, err);
		strv_clear(&lower);
		if (r < 0) {
			step_dirs_release(&rw);
			return r;
		}
		m->rwview = rw;
		free(m->host_path);
		m->host_path = xstrdup(rw.merged);
	}
	return 0;
}

static int prepare_cache(struct build_ctx *b, struct run_mount *m, struct kiln_error **err)
{
	_cleanup_free_ char *cache = store_dir_path(b->store, STORE_DIR_CACHE), *dir = NULL,
			    *rel = NULL;
	_cleanup_close_ int cache_fd = open(cache, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	struct stat st;

	if (cache_fd < 0)
		return err_sys(err, errno, "open '%s'", cache);
	digest_buffer(m->id, strlen(m->id), &d);
	rel = xasprintf("mounts/%s", digest_hex(&d, hex));
	dir = xasprintf("%s/%s", cache, rel);
	/* fs_mkdir_p() walks below its dirfd: give it the cache dir, not the cwd */
	if (fs_mkdir_p(cache_fd, rel, 0755, err) < 0)
		return err_wrap(err, "RUN --mount=type=cache,id=%s", m->id);
	if (stat(dir, &st) == 0 && st.st_nlink == 2 && st.st_uid == 0) {
		/* a new cache directory gets the requested owner and mode */
		if (chown(dir, m->uid, m->gid) < 0 || chmod(dir, m->mode) < 0)
			return err_sys(err, errno, "set up cache mount '%s'", m->id);
	}
	if (m->sharing && streq(m->sharing, "locked")) {
		_cleanup_free_ char *lock = xasprintf("%s.lock", dir);

		m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX) < 0)
			return err_sys(err, errno, "lock cache mount '%s'", m->id);
	}
	m->host_path = TAKE_PTR(dir);
	m->rw = true;
	return 0;
}

/* "id=ID,src=PATH" | "id=ID,env=VAR" | "id=ID" (the variable ID) from --secret. */
static int secret_source(struct build_ctx *b, const char *id, char **ret_path, char **ret_env)
{
	strv_foreach(&b->opts->secrets, spec) {
		_cleanup_free_ char *copy = xstrdup(*spec);
		char *save = NULL, *sid = NULL, *src = NULL, *env = NULL;

		for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
			if (startswith(f, "id="))
				sid = f + 3;
			else if (startswith(f, "src=") || startswith(f, "source="))
				src = strchr(f, '=') + 1;
			else if (startswith(f, "env="))
				env = f + 4;
		}
		if (!sid || !streq(sid, id))
			continue;
		*ret_path = src ? xstrdup(src) : NULL;
		*ret_env = xstrdup(env ? env : id);
		return 1;
	}
	return 0;
}

static int prepare_secret(struct build_ctx *b, struct run_mounts *ms, struct run_mount *m,
			  struct kiln_error **err)
{
	_cleanup_free_ char *path = NULL, *env = NULL, *tmpdir = NULL, *name = NULL;
	_cleanup_strbuf_ struct strbuf value = STRBUF_INIT;
	_cleanup_close_ int fd = -1;
	int r;

	if (!secret_source(b, m->id, &path, &env) || (!path && !getenv(env))) {
		if (m->required)
			return err_new(
				err, KILN_ERR_INPUT, ENOENT,
				"secret '%s' is required but was not given (use --secret id=%s,src=FILE)",
				m->id, m->id);
		return 0;
	}
	if (path && strbuf_read_file(&value, AT_FDCWD, path, err) < 0)
		return err_wrap(err, "secret '%s'", m->id);
	if (!path)
		strbuf_addstr(&value, getenv(env));
	if (m->env) {
		strv_env_set(&ms->env, m->env, value.buf);
		if (!m->target)
			return 0;
	}
	/* a private copy, readable by the step's user only, removed after the step */
	tmpdir = store_dir_path(b->store, STORE_DIR_TMP);
	{
		_cleanup_close_ int dfd = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);

		fd = fs_mkstemp(dfd, "secret", 0400, &name, err);
	}
	if (fd < 0)
		return fd;
	m->host_path = xasprintf("%s/%s", tmpdir, name);
	strv_push(&ms->tmpfiles, m->host_path);
	r = fs_write_all(fd, value.buf, value.len, err);
	if (r >= 0 &&
	    (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->mode == 0755 ? 0400 : m->mode) < 0))
		r = err_sys(err, errno, "secret '%s'", m->id);
	return r;
}

static int prepare_ssh(struct build_ctx *b, struct run_mounts *ms, struct run_mount *m,
		       struct kiln_error **err)
{
	const char *sock = NULL;

	strv_foreach(&b->opts->ssh, spec) {
		const char *eq = strchr(*spec, '=');
		size_t idlen = eq ? (size_t)(eq - *spec) : strlen(*spec);

		if (strlen(m->id) == idlen && strncmp(*spec, m->id, idlen) == 0)
			sock = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
	}
	if (!sock || !*sock)
		return err_new(
			err, KILN_ERR_INPUT, ENOENT,
			"RUN --mount=type=ssh: no SSH agent '%s' was given (use --ssh %s=$SSH_AUTH_SOCK)",
			m->id, m->id);
	m->host_path = xstrdup(sock);
	strv_env_set(&ms->env, "SSH_AUTH_SOCK", m->target);
	return 0;
}

int run_mounts_prepare(struct build_ctx *b, struct stage_state *s, struct run_mounts *m,
		       struct kiln_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		struct run_mount *rm = &m->v[i];
		int r = 0;

		switch (rm->type) {
		case RUN_MOUNT_BIND:
			r = prepare_bind(b, s, rm, err);
			break;
		case RUN_MOUNT_CACHE:
			r = prepare_cache(b, rm, err);
			break;
		case RUN_MOUNT_TMPFS:
			break;
		case RUN_MOUNT_SECRET:
			r = prepare_secret(b, m, rm, err);
			break;
		case RUN_MOUNT_SSH:
			r = prepare_ssh(b, m, rm, err);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int run_mounts_cache_key(struct build_ctx *b, struct stage_state *s, struct run_mounts *m,
			 struct cache_key *k, struct kiln_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		struct run_mount *rm = &m->v[i];
		const char *src = rm->source ? rm->source : ".";
		struct copy_opts o = {0};
		char hex[65];
		int r;

		if (rm->type != RUN_MOUNT_BIND || rm->from)
			continue; /* a stage's content is in its key; secrets never are */
		o.src_root = b->context_fd;
		o.sources = &src;
		o.n_sources = 1;
		o.dest = "/.kiln-bind/";
		o.stat_cache = b->stat_cache;
		r = locked_copy_digest(b, &o, hex, err);
		if (r < 0)
			return err_wrap(err, "RUN --mount=type=bind,source=%s", src);
		cache_key_add(k, "bind", hex);
	}
	return 0;
}

void run_mounts_release(struct run_mounts *m)
{
	strv_foreach(&m->tmpfiles, f)
		unlink(*f);
	for (size_t i = 0; i < m->n; i++) {
		struct run_mount *rm = &m->v[i];

		free(rm->target);
		free(rm->source);
		free(rm->from);
		free(rm->id);
		free(rm->env);
		free(rm->sharing);
		free(rm->host_path);
		step_dirs_release(&rm->rwview);
		step_dirs_release(&rm->view);
		if (rm->lock_fd >= 0)
			close(rm->lock_fd);
	}
	free(m->v);
	strv_clear(&m->env);
	strv_clear(&m->tmpfiles);
	memset(m, 0, sizeof(*m));
}
