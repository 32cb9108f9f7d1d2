/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/cache-remote-internal.h"
#include "builder/mounts-internal.h"
#include "copy/copy.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * One --mount value, expanded, through the grammar kiln check uses; buildah's
 * extensions parse there but are not done here.
 */
static int parse_one(struct build_ctx *b, const struct instruction *in, const char *spec,
		     struct run_mount *m, struct kiln_error **err)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;

	memset(m, 0, sizeof(*m));
	m->lock_fd = -1;
	m->secret_lock = -1;
	if (mount_spec_parse(spec, 0, &m->spec, &e) < 0)
		return instr_error(b, in, err, "%s", e->msg);
	if (m->spec.buildah_key)
		return instr_error(
			b, in, err,
			"--mount: key '%s' is buildah's extension, which kiln build does "
			"not support",
			m->spec.buildah_key);
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

/*
 * The layers of the stage or image @from names: a named context (a directory
 * one in *ret_dir, with no layers), a stage built before this one (by name or
 * index), else an image (read into *ret_img).
 */
static int from_layers(struct build_ctx *b, struct stage_state *s, const char *from,
		       const struct layer_desc **ret, size_t *ret_n, struct image **ret_img,
		       struct named_context **ret_dir, struct kiln_error **err)
{
	struct named_context *nc = context_find(b, from);
	unsigned idx;

	*ret_dir = NULL;
	if (nc && nc->kind == NAMED_CONTEXT_DIR) {
		*ret_dir = nc;
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (nc && context_image(b, nc, &s->plat, ret_img, err) < 0)
		return err_wrap(err, "RUN --mount from=%s", from);
	if (nc) {
		*ret = (*ret_img)->layers;
		*ret_n = (*ret_img)->n_layers;
		return 0;
	}
	for (size_t i = 0; i < s->index; i++) {
		const char *name = b->stages[i].st->name;

		if ((name && strcasecmp(name, from) == 0) ||
		    (parse_uint(from, &idx) == 0 && idx == i)) {
			*ret = b->stages[i].layers;
			*ret_n = b->stages[i].n_layers;
			return 0;
		}
	}
	if (build_image_read(b, from, &s->plat, ret_img, err) < 0)
		return err_wrap(err, "RUN --mount from=%s", from);
	*ret = (*ret_img)->layers;
	*ret_n = (*ret_img)->n_layers;
	return 0;
}

/*
 * A read-only overlay of @lowers (or of the context at @context) at
 * m->view.merged. Never a bind of a lower itself: a bind can be remounted rw
 * from inside the step, an overlay without an upper layer cannot be written
 * at all. mask/ (whiteouts or empty) is its top layer, so there are always
 * the two lowers an upper-less overlay needs. The context is named through a
 * symlink in the step's directory: its path may hold ',' or ':'.
 */
static int ro_view(struct build_ctx *b, struct run_mount *m, const struct strv *lowers,
		   const struct named_context *dir, const char *context, struct kiln_error **err)
{
	int context_fd = dir ? dir->dir_fd : b->context_fd;
	const struct dockerignore *ignore = dir ? dir->ignore : b->ignore;
	_cleanup_strv_ struct strv all = STRV_INIT;
	int r = step_dirs_make(b, &m->view, err);

	if (r < 0)
		return r;
	strv_push_take(&all, xasprintf("%s/mask", m->view.base));
	r = run_mounts_ignore_mask(context ? context_fd : -1, context ? ignore : NULL, all.v[0],
				   err);
	if (r < 0)
		return r;
	if (context) {
		strv_push_take(&all, xasprintf("%s/context", m->view.base));
		if (symlink(context, all.v[1]) < 0)
			return err_sys(err, errno, "symlink '%s'", all.v[1]);
	}
	for (size_t i = 0; lowers && i < lowers->n; i++)
		strv_push(&all, lowers->v[i]);
	return rootfs_mount_ro_own(b, &all, &m->view, err);
}

/* The stage, image or context a bind mount reads from, read-only, in m->view. */
static int bind_view(struct build_ctx *b, struct stage_state *s, struct run_mount *m,
		     struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_strv_ struct strv lowers = STRV_INIT;
	const struct layer_desc *layers = NULL;
	struct named_context *dir = NULL;
	size_t n = 0;
	char proc[64], buf[PATH_MAX];
	ssize_t len;
	int r;

	if (m->spec.from) {
		r = from_layers(b, s, m->spec.from, &layers, &n, &img, &dir, err);
		if (r >= 0 && dir)
			return ro_view(b, m, NULL, dir, dir->dir_path, err);
		if (r >= 0)
			r = rootfs_lowers(b, layers, n, &lowers, err);
		return r < 0 ? r : ro_view(b, m, &lowers, NULL, NULL, err);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", b->context_fd);
	len = readlink(proc, buf, sizeof(buf) - 1);
	if (len < 0)
		return err_sys(err, errno, "readlink '%s'", proc);
	buf[len] = '\0';
	return ro_view(b, m, NULL, NULL, buf, err);
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

/* rw: writes go to a throwaway overlay over the read-only view, discarded with it. */
static int rw_view(struct build_ctx *b, struct run_mount *m, struct kiln_error **err)
{
	_cleanup_strv_ struct strv lower = STRV_INIT;
	int r;

	strv_push(&lower, m->host_path);
	r = step_dirs_make(b, &m->rwview, err);
	if (r >= 0)
		r = rootfs_mount_own(b, &lower, &m->rwview, err);
	if (r < 0)
		return r;
	free(m->host_path);
	m->host_path = xstrdup(m->rwview.merged);
	return 0;
}

static int prepare_bind(struct build_ctx *b, struct stage_state *s, struct run_mount *m,
			struct kiln_error **err)
{
	_cleanup_close_ int root = -1;
	int r = bind_view(b, s, m, err);

	if (r < 0)
		return r;
	root = open(m->view.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return err_sys(err, errno, "open '%s'", m->view.merged);
	r = resolve_in(root, m->spec.source ? m->spec.source : "/", &m->host_path, err);
	return r < 0 || !m->spec.rw ? r : rw_view(b, m, err);
}

static int key_dir(struct build_ctx *b, int dir_fd, struct dockerignore *ignore,
		   struct copy_stat_cache *stat_cache, const char *src, struct cache_key *k,
		   struct kiln_error **err);

/* What a from= source brings in: its layers (content-addressed) and the path in them. */
static int key_from(struct build_ctx *b, struct stage_state *s, const struct run_mount *m,
		    struct cache_key *k, struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	const struct layer_desc *layers = NULL;
	struct named_context *dir = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	size_t n = 0;
	int r = from_layers(b, s, m->spec.from, &layers, &n, &img, &dir, err);

	if (r < 0)
		return r;
	cache_key_add(k, "mount-from", m->spec.from);
	if (dir) /* a directory named context: its content, as a bind of the context */
		return key_dir(b, dir->dir_fd, dir->ignore, NULL,
			       m->spec.source ? m->spec.source : ".", k, err);
	for (size_t i = 0; i < n; i++)
		cache_key_add(k, "mount-from-layer", digest_hex(&layers[i].diff_id, hex));
	cache_key_add(k, "mount-from-source", m->spec.source ? m->spec.source : "/");
	return 0;
}

/* A cache's directory: by id, and with from= by what seeds it (as BuildKit's cache refs). */
static int cache_rel(struct build_ctx *b, struct stage_state *s, const struct run_mount *m,
		     char **ret, struct kiln_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct cache_key k;
	struct digest d;
	int r = 0;

	if (!m->spec.from) {
		digest_buffer(m->spec.id, strlen(m->spec.id), &d);
		*ret = xasprintf("mounts/%s", digest_hex(&d, hex));
		return 0;
	}
	cache_key_begin(&k, NULL);
	cache_key_add(&k, "cache-id", m->spec.id);
	r = key_from(b, s, m, &k, err);
	cache_key_finish(&k, &d);
	if (r >= 0)
		*ret = xasprintf("mounts/%s", digest_hex(&d, hex));
	return r;
}

/* A new cache's owner and mode: uid=, gid=, mode= (0755 root by default). */
static int cache_init_dir(const struct run_mount *m, const char *dir, struct kiln_error **err)
{
	if (chown(dir, m->spec.uid, m->spec.gid) < 0 || chmod(dir, m->spec.mode) < 0)
		return err_sys(err, errno, "set up cache mount '%s'", m->spec.id);
	return 0;
}

/* Copy from=STAGE's source= (its root by default) into the new cache directory @dir. */
static int cache_seed_into(struct build_ctx *b, struct stage_state *s, struct run_mount *m,
			   const char *dir, struct kiln_error **err)
{
	_cleanup_close_ int src = -1, dst = -1;
	const char *source = m->spec.source ? m->spec.source : "/";
	struct copy_opts o = {0};
	struct copy_result res = {0};
	int r = bind_view(b, s, m, err);

	if (r < 0)
		return r;
	src = open(m->view.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dst = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || dst < 0)
		return err_sys(err, errno, "open '%s'", src < 0 ? m->view.merged : dir);
	o.src_root = src;
	o.src_desc = m->spec.from;
	o.sources = &source;
	o.n_sources = 1;
	o.dest = "/";
	o.keep_owner = true;
	r = copy_run(dst, &o, &res, err);
	step_dirs_release(&m->view);
	if (r < 0)
		return err_wrap(err, "RUN --mount=type=cache,from=%s,source=%s", m->spec.from,
				source);
	return cache_init_dir(m, dir, err);
}

/*
 * Seed a new cache in tmp/ (where a killed build's leftovers are swept), then
 * rename it in place: a parallel build's seed may win.
 */
static int cache_seed(struct build_ctx *b, struct stage_state *s, struct run_mount *m, int cache_fd,
		      const char *rel, struct kiln_error **err)
{
	_cleanup_free_ char *tmpdir = store_dir_path(b->store, STORE_DIR_TMP), *name = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int lock = -1; /* held until the seed is renamed or removed */
	int r = fs_mkdir_p(cache_fd, "mounts", 0755, err);

	if (r < 0)
		return r;
	r = store_tmp_mkdir(b->store, "cache-seed", 0700, &name, &lock, err);
	if (r < 0)
		return r;
	tmp = fs_path_join(tmpdir, name);
	r = cache_seed_into(b, s, m, tmp, err);
	if (r >= 0 && renameat(AT_FDCWD, tmp, cache_fd, rel) < 0 && errno != EEXIST &&
	    errno != ENOTEMPTY)
		r = err_sys(err, errno, "rename '%s'", tmp);
	fs_rm_rf(AT_FDCWD, tmp, NULL);
	return r;
}

static int prepare_cache(struct build_ctx *b, struct stage_state *s, struct run_mount *m,
			 struct kiln_error **err)
{
	_cleanup_free_ char *cache = store_dir_path(b->store, STORE_DIR_CACHE), *dir = NULL,
			    *rel = NULL;
	_cleanup_close_ int cache_fd = open(cache, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r;

	if (cache_fd < 0)
		return err_sys(err, errno, "open '%s'", cache);
	r = cache_rel(b, s, m, &rel, err);
	if (r < 0)
		return err_wrap(err, "RUN --mount=type=cache,id=%s", m->spec.id);
	dir = xasprintf("%s/%s", cache, rel);
	/* a cache this store does not have yet: from --cache-from (mounts=true), else new */
	if (fstatat(cache_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    cache_mount_restore(b, cache_fd, rel, m) > 0)
		r = 0;
	else if (m->spec.from && fstatat(cache_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = cache_seed(b, s, m, cache_fd, rel, err);
	/* fs_mkdir_p() walks below its dirfd: give it the cache dir, not the cwd */
	else if ((r = fs_mkdir_p(cache_fd, rel, 0755, err)) >= 0 && stat(dir, &st) == 0 &&
		 st.st_nlink == 2 && st.st_uid == 0)
		r = cache_init_dir(m, dir, err); /* a new cache directory */
	if (r < 0)
		return err_wrap(err, "RUN --mount=type=cache,id=%s", m->spec.id);
	if (m->spec.sharing && streq(m->spec.sharing, "locked")) {
		_cleanup_free_ char *lock = xasprintf("%s.lock", dir);

		m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX) < 0)
			return err_sys(err, errno, "lock cache mount '%s'", m->spec.id);
	}
	cache_mount_note(b, rel);
	utimensat(cache_fd, rel, NULL, 0); /* last used now (kiln prune --keep-storage) */
	m->host_path = TAKE_PTR(dir);
	m->spec.rw = true;
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

/*
 * The secret's file, alone on a tmpfs mounted in kiln's private mount
 * namespace: it is never on disk, and it is gone with that namespace when
 * kiln dies, even of kill -9. 0400 unless mode= says otherwise.
 */
static int secret_file(struct build_ctx *b, struct run_mount *m, const struct strbuf *value,
		       struct kiln_error **err)
{
	_cleanup_free_ char *tmp = store_dir_path(b->store, STORE_DIR_TMP), *opts = NULL;
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	r = store_tmp_mkdir(b->store, "secret", 0700, &name, &m->secret_lock, err);
	if (r < 0)
		return r;
	m->secret_dir = fs_path_join(tmp, name);
	opts = xasprintf("size=%zu,mode=0700", value->len + 4096);
	if (mount("tmpfs", m->secret_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return err_sys(err, errno, "secret '%s': mount tmpfs on '%s'", m->spec.id,
			       m->secret_dir);
	m->host_path = xasprintf("%s/%s", m->secret_dir, "secret");
	fd = open(m->host_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return err_sys(err, errno, "secret '%s': create '%s'", m->spec.id, m->host_path);
	r = fs_write_all(fd, value->buf, value->len, err);
	if (r >= 0 && fchown(fd, m->spec.uid, m->spec.gid) < 0)
		r = err_sys(err, errno, "secret '%s': chown to %u:%u", m->spec.id,
			    (unsigned)m->spec.uid, (unsigned)m->spec.gid);
	if (r >= 0 && fchmod(fd, m->spec.mode_set ? m->spec.mode : 0400) < 0)
		r = err_sys(err, errno, "secret '%s': chmod", m->spec.id);
	return r;
}

static int prepare_secret(struct build_ctx *b, struct run_mounts *ms, struct run_mount *m,
			  struct kiln_error **err)
{
	_cleanup_free_ char *path = NULL, *env = NULL;
	_cleanup_strbuf_ struct strbuf value = STRBUF_INIT;

	if (!secret_source(b, m->spec.id, &path, &env) || (!path && !getenv(env))) {
		if (m->spec.required)
			return err_new(
				err, KILN_ERR_INPUT, ENOENT,
				"secret '%s' is required but was not given (use --secret id=%s,src=FILE)",
				m->spec.id, m->spec.id);
		return 0;
	}
	if (path && strbuf_read_file(&value, AT_FDCWD, path, err) < 0)
		return err_wrap(err, "secret '%s'", m->spec.id);
	if (!path)
		strbuf_addstr(&value, getenv(env));
	if (m->spec.env) {
		strv_env_set(&ms->env, m->spec.env, value.buf);
		if (!m->spec.target)
			return 0;
	}
	return secret_file(b, m, &value, err);
}

static int prepare_ssh(struct build_ctx *b, struct run_mounts *ms, struct run_mount *m,
		       struct kiln_error **err)
{
	const char *sock = NULL;

	strv_foreach(&b->opts->ssh, spec) {
		const char *eq = strchr(*spec, '=');
		size_t idlen = eq ? (size_t)(eq - *spec) : strlen(*spec);

		if (strlen(m->spec.id) == idlen && strncmp(*spec, m->spec.id, idlen) == 0)
			sock = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
	}
	if (!sock || !*sock)
		return err_new(
			err, KILN_ERR_INPUT, ENOENT,
			"RUN --mount=type=ssh: no SSH agent '%s' was given (use --ssh %s=$SSH_AUTH_SOCK)",
			m->spec.id, m->spec.id);
	m->host_path = xstrdup(sock);
	strv_env_set(&ms->env, "SSH_AUTH_SOCK", m->spec.target);
	return 0;
}

int run_mounts_prepare(struct build_ctx *b, struct stage_state *s, struct run_mounts *m,
		       struct kiln_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		struct run_mount *rm = &m->v[i];
		int r = 0;

		switch (rm->spec.type) {
		case MOUNT_BIND:
			r = prepare_bind(b, s, rm, err);
			break;
		case MOUNT_CACHE:
			r = prepare_cache(b, s, rm, err);
			break;
		case MOUNT_TMPFS:
			break;
		case MOUNT_SECRET:
			r = prepare_secret(b, m, rm, err);
			break;
		case MOUNT_SSH:
			r = prepare_ssh(b, m, rm, err);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static bool ignore_excluded(const char *relpath, bool is_dir, void *ud)
{
	return dockerignore_excluded(ud, relpath, is_dir);
}

static bool ignore_may_reinclude(const char *relpath, void *ud)
{
	return dockerignore_may_reinclude_under(ud, relpath);
}

/* A bind of a directory: the content it shows, .dockerignore applied as COPY does. */
static int key_dir(struct build_ctx *b, int dir_fd, struct dockerignore *ignore,
		   struct copy_stat_cache *stat_cache, const char *src, struct cache_key *k,
		   struct kiln_error **err)
{
	struct copy_opts o = {0};
	char hex[65];

	o.src_root = dir_fd;
	o.sources = &src;
	o.n_sources = 1;
	o.dest = "/.kiln-bind/";
	o.stat_cache = stat_cache;
	if (ignore) {
		o.excluded = ignore_excluded;
		o.may_contain_included = ignore_may_reinclude;
		o.exclude_ud = ignore;
	}
	if (locked_copy_digest(b, &o, hex, err) < 0)
		return err_wrap(err, "RUN --mount=type=bind,source=%s", src);
	cache_key_add(k, "bind", hex);
	return 0;
}

static int key_context(struct build_ctx *b, const struct run_mount *m, struct cache_key *k,
		       struct kiln_error **err)
{
	return key_dir(b, b->context_fd, b->ignore, b->stat_cache,
		       m->spec.source ? m->spec.source : ".", k, err);
}

int run_mounts_cache_key(struct build_ctx *b, struct stage_state *s, struct run_mounts *m,
			 struct cache_key *k, struct kiln_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		struct run_mount *rm = &m->v[i];
		int r = 0;

		/* secrets never reach the key; a cache without from= is not content */
		if (rm->spec.from && (rm->spec.type == MOUNT_BIND || rm->spec.type == MOUNT_CACHE))
			r = key_from(b, s, rm, k, err);
		else if (rm->spec.type == MOUNT_BIND)
			r = key_context(b, rm, k, err);
		if (r < 0)
			return r;
	}
	return 0;
}

void run_mounts_release(struct run_mounts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct run_mount *rm = &m->v[i];

		mount_spec_release(&rm->spec);
		free(rm->host_path);
		if (rm->secret_dir) {
			if (umount2(rm->secret_dir, MNT_DETACH) < 0)
				log_debug("umount '%s': %m", rm->secret_dir);
			rmdir(rm->secret_dir);
			free(rm->secret_dir);
		}
		if (rm->secret_lock >= 0)
			close(rm->secret_lock);
		step_dirs_release(&rm->rwview);
		step_dirs_release(&rm->view);
		if (rm->lock_fd >= 0)
			close(rm->lock_fd);
	}
	free(m->v);
	strv_clear(&m->env);
	memset(m, 0, sizeof(*m));
}
