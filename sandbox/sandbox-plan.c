/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's parent side: everything the child will need, prepared and
 * allocated before the clone (sandbox-internal.h).
 *
 * Keeping the layer clean. The mount points the sandbox needs (/etc/hosts,
 * /etc/resolv.conf, /etc/hostname, and /proc, /dev or a RUN --mount target
 * when the image lacks them) never go into the upperdir: in overlay mode they
 * are created in WORKDIR/extra, an extra lower layer on top of the image's
 * layers. Directories there that also exist in the image get the image's
 * owner, mode and times, so a copy-up (say of /etc when RUN adds a file to
 * it) stays faithful. The three /etc files are bind-mounted from
 * WORKDIR/files. In dir mode there is no layer to hide them in: missing mount
 * points are created in the rootfs and removed after the run, and their
 * parents get their times back (sandbox_plan_undo).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/userns-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Where mount points are looked up (the image) and created (extra/ or the rootfs). */
struct layer_view {
	int *fds; /* top first: upperdir, lowerdirs (overlay) or the rootfs (dir) */
	size_t n;
	int create_fd;
	bool in_place; /* dir mode: create_fd is the image itself */
};

void sandbox_plan_init(struct sandbox_plan *p)
{
	*p = (struct sandbox_plan){.strings = STRV_INIT,
				   .ovl_params = {STRV_INIT, STRV_INIT},
				   .exec_paths = STRV_INIT,
				   .argv = STRV_INIT,
				   .env = STRV_INIT,
				   .rootdir_fd = -1,
				   .net_wait_fd = -1,
				   .netns_fd = -1};
}

void sandbox_plan_release(struct sandbox_plan *p)
{
	free(p->ops);
	strv_clear(&p->strings);
	strv_clear(&p->ovl_params[0]);
	strv_clear(&p->ovl_params[1]);
	strv_clear(&p->exec_paths);
	strv_clear(&p->argv);
	strv_clear(&p->env);
	free(p->groups);
	free(p->rlimits);
	free(p->uid_map);
	free(p->gid_map);
	for (size_t i = 0; i < p->n_fixups; i++)
		free(p->fixups[i].path);
	free(p->fixups);
	if (p->rootdir_fd >= 0)
		close(p->rootdir_fd);
	sandbox_plan_init(p);
}

/* Keep @s (taking it) for as long as the plan lives. */
static const char *keep(struct sandbox_plan *p, char *s)
{
	strv_push_take(&p->strings, s);
	return s;
}

static struct sandbox_op *add_op(struct sandbox_plan *p, enum sandbox_op_kind kind,
				 const char *target, char *what)
{
	struct sandbox_op *op;

	if (p->n_ops == p->alloc_ops) {
		p->alloc_ops = p->alloc_ops ? 2 * p->alloc_ops : 32;
		p->ops = xreallocarray(p->ops, p->alloc_ops, sizeof(*p->ops));
	}
	op = &p->ops[p->n_ops++];
	*op = (struct sandbox_op){.kind = kind, .target = target, .what = keep(p, what)};
	return op;
}

struct sandbox_op *sandbox_plan_add_op(struct sandbox_plan *p, enum sandbox_op_kind kind,
				       const char *target, char *what)
{
	return add_op(p, kind, target, what);
}

static void add_mount_in(struct sandbox_plan *p, const char *source, const char *target,
			 const char *fstype, unsigned long mflags, const char *data)
{
	struct sandbox_op *op;
	const char *t = keep(p, xstrdup(target));

	if (mflags & MS_BIND)
		op = add_op(p, SOP_MOUNT_IN, t, xasprintf("bind '%s' on '%s'", source, target));
	else
		op = add_op(p, SOP_MOUNT_IN, t, xasprintf("mount %s on '%s'", fstype, target));
	op->source = keep(p, xstrdup(source));
	op->fstype = fstype;
	op->mflags = mflags;
	op->data = data ? keep(p, xstrdup(data)) : NULL;
}

static void add_fixup(struct sandbox_plan *p, const char *path, const struct stat *st, bool remove)
{
	if (p->n_fixups == p->alloc_fixups) {
		p->alloc_fixups = p->alloc_fixups ? 2 * p->alloc_fixups : 8;
		p->fixups = xreallocarray(p->fixups, p->alloc_fixups, sizeof(*p->fixups));
	}
	p->fixups[p->n_fixups++] =
		(struct sandbox_fixup){.path = xstrdup(path), .st = *st, .remove = remove};
}

static bool is_opaque(int layer_fd, const char *dir)
{
	static const char *const names[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
	_cleanup_close_ int fd =
		openat(layer_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char value[2];

	for (size_t i = 0; fd >= 0 && i < ARRAY_SIZE(names); i++)
		if (fgetxattr(fd, names[i], value, sizeof(value)) == 1 && value[0] == 'y')
			return true;
	return false;
}

/* Does this layer hide what lower layers have at @rel (a whiteout, file or opaque dir above it)? */
static bool layer_hides(int layer_fd, const char *rel)
{
	_cleanup_free_ char *prefix = xstrdup(rel);
	struct stat st;

	for (char *s = strchr(prefix, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (fstatat(layer_fd, prefix, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return false;
		if (!S_ISDIR(st.st_mode) || is_opaque(layer_fd, prefix))
			return true;
		*s = '/';
	}
	return false;
}

/*
 * Is @rel (no leading '/') in the image, as overlayfs will show it? A
 * whiteout (0/0 char device) hides it, and so does a whiteout, a file or an
 * opaque directory above it in a higher layer.
 */
static bool view_lookup(const struct layer_view *v, const char *rel, struct stat *st)
{
	for (size_t i = 0; i < v->n; i++) {
		if (fstatat(v->fds[i], rel, st, AT_SYMLINK_NOFOLLOW) == 0)
			return !(S_ISCHR(st->st_mode) && st->st_rdev == 0);
		if (v->n > 1 && layer_hides(v->fds[i], rel))
			return false;
	}
	return false;
}

/* Dir mode: the fixup that gives @parent its times back, made on first use. */
static struct sandbox_fixup *parent_fixup(struct sandbox_plan *p, int dfd, const char *parent)
{
	struct stat st;

	for (size_t i = 0; i < p->n_fixups; i++)
		if (!p->fixups[i].remove && streq(p->fixups[i].path, parent))
			return &p->fixups[i];
	if (fstatat(dfd, parent, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	add_fixup(p, parent, &st, false);
	return &p->fixups[p->n_fixups - 1];
}

/* Create one missing mount point (or a directory on its way). */
static int create_one(struct sandbox_plan *p, const struct layer_view *v, const char *rel, bool dir,
		      struct kiln_error **err)
{
	char *slash = strrchr(rel, '/');
	_cleanup_free_ char *parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup(".");
	struct sandbox_fixup *pf = v->in_place ? parent_fixup(p, v->create_fd, parent) : NULL;
	size_t parent_at = pf ? (size_t)(pf - p->fixups) + 1 : 0; /* pf moves with add_fixup() */
	struct stat st = {0};
	int r;

	if (dir) {
		r = mkdirat(v->create_fd, rel, 0755);
	} else {
		r = openat(v->create_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			   0644);
		if (r >= 0)
			r = close(r);
	}
	if (r < 0 && errno == EEXIST && !v->in_place)
		return 0; /* made already, for an earlier mount point */
	if (r < 0)
		return err_sys(err, errno, "create mount point '/%s'", rel);
	if (!v->in_place)
		return 0;
	if (parent_at && fstatat(v->create_fd, parent, &st, AT_SYMLINK_NOFOLLOW) == 0)
		p->fixups[parent_at - 1].after = st.st_mtim;
	add_fixup(p, rel, &st, true);
	return 0;
}

/* Make sure @rel exists in the root the child will see, without touching the upperdir. */
static int ensure_mountpoint(struct sandbox_plan *p, const struct layer_view *v, const char *rel,
			     bool dir, struct kiln_error **err)
{
	_cleanup_free_ char *prefix = xstrdup(rel);
	struct stat st;
	int r;

	if (view_lookup(v, rel, &st))
		return 0;
	for (char *s = strchr(prefix, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!view_lookup(v, prefix, &st)) {
			r = create_one(p, v, prefix, true, err);
		} else if (!S_ISDIR(st.st_mode)) {
			r = err_new(err, KILN_ERR_INPUT, ENOTDIR,
				    "mount point '/%s': '/%s' is not a directory in the image", rel,
				    prefix);
		} else if (v->in_place) {
			r = 0;
		} else { /* mirror the image's directory in extra/ */
			r = mkdirat(v->create_fd, prefix, st.st_mode & 07777);
			if (r < 0 && errno != EEXIST)
				r = err_sys(err, errno, "create '%s' in the mount-point layer",
					    prefix);
			else if (r == 0)
				add_fixup(p, prefix, &st, false);
			else
				r = 0;
		}
		if (r < 0)
			return r;
		*s = '/';
	}
	return create_one(p, v, rel, dir, err);
}

/* Give mirrored directories in extra/ the image's owner, mode and times, deepest first. */
static void apply_mirror_fixups(struct sandbox_plan *p, int extra_fd)
{
	for (size_t i = p->n_fixups; i-- > 0;) {
		const struct sandbox_fixup *f = &p->fixups[i];
		struct timespec ts[2] = {f->st.st_atim, f->st.st_mtim};

		if (fchownat(extra_fd, f->path, f->st.st_uid, f->st.st_gid, AT_SYMLINK_NOFOLLOW) <
		    0)
			log_debug("sandbox: chown '%s' in the mount-point layer: %s", f->path,
				  strerror(errno));
		(void)fchmodat(extra_fd, f->path, f->st.st_mode & 07777, 0);
		(void)utimensat(extra_fd, f->path, ts, AT_SYMLINK_NOFOLLOW);
	}
	for (size_t i = 0; i < p->n_fixups; i++)
		free(p->fixups[i].path);
	p->n_fixups = 0;
}

/*
 * The step may have replaced any directory on a fixup's path with a symlink
 * (to a host path, say): every lookup below walks from the rootfs without
 * following one (CVE-2024-23652), and gives up on a path that has one.
 */
static int fixup_parent(const struct sandbox_plan *p, const struct sandbox_fixup *f,
			const char **ret_name)
{
	return fs_open_parent_nofollow(p->rootdir_fd, f->path, ret_name, NULL);
}

/* Remove a mount point we created, if it still is what we created (an empty file or dir). */
static void remove_stub(const struct sandbox_plan *p, const struct sandbox_fixup *f)
{
	const char *name;
	_cleanup_close_ int dfd = fixup_parent(p, f, &name);
	struct stat st;
	int r = -1;

	if (dfd >= 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			r = unlinkat(dfd, name, AT_REMOVEDIR);
		else if (S_ISREG(st.st_mode))
			r = unlinkat(dfd, name, 0);
		else
			errno = EEXIST; /* the step put something else there: its own */
	}
	if (r < 0)
		log_debug("sandbox: remove mount point '/%s': %s", f->path, strerror(errno));
}

/*
 * Dir mode, after the run: remove the mount points we created, and give their
 * parents the times they had, unless the step itself changed them meanwhile
 * (then they keep the step's).
 */
void sandbox_plan_undo(struct sandbox_plan *p)
{
	struct stat cur;
	const char *name;

	if (p->rootdir_fd < 0)
		return;
	for (size_t i = 0; i < p->n_fixups; i++) {
		struct sandbox_fixup *f = &p->fixups[i];
		_cleanup_close_ int dfd = f->remove ? -1 : fixup_parent(p, f, &name);

		if (dfd < 0 || fstatat(dfd, name, &cur, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (cur.st_mtim.tv_sec != f->after.tv_sec ||
		    cur.st_mtim.tv_nsec != f->after.tv_nsec)
			f->st = cur; /* the step changed it: keep its times */
	}
	for (size_t i = p->n_fixups; i-- > 0;)
		if (p->fixups[i].remove)
			remove_stub(p, &p->fixups[i]);
	for (size_t i = 0; i < p->n_fixups; i++) {
		const struct sandbox_fixup *f = &p->fixups[i];
		struct timespec ts[2] = {f->st.st_atim, f->st.st_mtim};
		_cleanup_close_ int dfd = f->remove ? -1 : fixup_parent(p, f, &name);

		if (dfd >= 0)
			(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	}
}

static int write_file_at(int dfd, const char *name, const char *data, struct kiln_error **err)
{
	_cleanup_close_ int fd =
		openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return err_sys(err, errno, "create '%s'", name);
	return fs_write_all(fd, data, strlen(data), err);
}

static int mkdir_at(int dfd, const char *name, mode_t mode, struct kiln_error **err)
{
	if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return err_sys(err, errno, "create '%s'", name);
	return 0;
}

/* WORKDIR/files/{hosts,resolv.conf,hostname}: what RUN sees in /etc. */
static int write_etc_files(const struct sandbox_plan *p, const struct sandbox_spec *spec,
			   const char *hostname, int files_fd, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf hosts = STRBUF_INIT, resolv = STRBUF_INIT,
				       host = STRBUF_INIT;
	_cleanup_free_ char *name_line = xasprintf("%s\n", hostname);
	int r;

	if (spec->network == SANDBOX_NETWORK_HOST) {
		(void)strbuf_read_file(&hosts, AT_FDCWD, "/etc/hosts", NULL);
		if (hosts.len && hosts.buf[hosts.len - 1] != '\n')
			strbuf_addch(&hosts, '\n');
	}
	if (!hosts.len)
		strbuf_addstr(&hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
				      "ip6-loopback\n");
	strbuf_addf(&hosts, "127.0.1.1\t%s\n", hostname);
	r = sandbox_hosts_append(spec, &hosts, err);
	if (r < 0)
		return r;
	(void)strbuf_read_file(&host, AT_FDCWD, "/etc/resolv.conf", NULL);
	if (p->net_dns)
		sandbox_net_resolv_conf(p->net_dns, host.buf, &resolv);
	else
		strbuf_addstr(&resolv, host.buf);
	r = write_file_at(files_fd, "hosts", hosts.buf, err);
	if (r >= 0)
		r = write_file_at(files_fd, "resolv.conf", resolv.buf, err);
	if (r >= 0)
		r = write_file_at(files_fd, "hostname", name_line, err);
	return r;
}

static const char *const etc_files[] = {"hosts", "resolv.conf", "hostname"};

static int plan_etc(struct sandbox_plan *p, const struct sandbox_spec *spec,
		    const struct layer_view *v, const char *files_dir, struct kiln_error **err)
{
	struct stat st;
	bool have_etc = view_lookup(v, "etc", &st);
	int r;

	if (have_etc && !S_ISDIR(st.st_mode)) {
		log_debug("sandbox: /etc is not a directory in the image: no /etc/hosts");
		return 0;
	}
	if (!v->in_place) {
		r = mkdir_at(v->create_fd, "etc", have_etc ? st.st_mode & 07777 : 0755, err);
		if (r < 0)
			return r;
		if (have_etc)
			add_fixup(p, "etc", &st, false);
	}
	for (size_t i = 0; i < ARRAY_SIZE(etc_files); i++) {
		_cleanup_free_ char *rel = xasprintf("etc/%s", etc_files[i]);
		_cleanup_free_ char *src = fs_path_join(files_dir, etc_files[i]);
		_cleanup_free_ char *target = xasprintf("/%s", rel);

		if (v->in_place) {
			if (view_lookup(v, rel, &st) && !S_ISREG(st.st_mode))
				continue; /* a symlink: leave it alone */
			r = ensure_mountpoint(p, v, rel, false, err);
		} else {
			r = create_one(p, v, rel, false, err);
		}
		if (r < 0)
			return r;
		add_mount_in(p, src, target, NULL, MS_BIND, NULL);
	}
	return 0;
}

static void add_make(struct sandbox_plan *p, enum sandbox_op_kind kind, const char *target,
		     const char *link)
{
	struct sandbox_op *op = add_op(p, kind, target, xasprintf("create '%s'", target));

	op->source = link;
}

/*
 * An image without /dev, /proc or /sys (FROM scratch): BuildKit leaves the
 * directories runc made to mount them in the step's layer, and removes only
 * the stubs of its own bind mounts (/etc/hosts, /etc/resolv.conf, RUN
 * --mount targets; moby/buildkit#1739, #3314, #3455). So do we: they go in
 * the upperdir, 0755 and root's, dated 1970-01-01 rather than by the clock
 * (BuildKit's date them by the clock, #3455), so the layer is reproducible.
 */
static int keep_runtime_dirs(const struct layer_view *v, struct kiln_error **err)
{
	static const char *const dirs[] = {"dev", "proc", "sys"};
	const struct timespec ts[2] = {{0}, {0}};
	struct stat st;

	if (v->in_place || v->n < 2)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (view_lookup(v, dirs[i], &st))
			continue;
		if (mkdirat(v->fds[0], dirs[i], 0755) < 0 && errno != EEXIST)
			return err_sys(err, errno, "create '/%s' in the step's layer", dirs[i]);
		(void)fchmodat(v->fds[0], dirs[i], 0755, 0);
		(void)utimensat(v->fds[0], dirs[i], ts, AT_SYMLINK_NOFOLLOW);
	}
	return 0;
}

/*
 * A fresh /proc and a minimal /dev. In the reduced sandbox (sandbox.h) the
 * outer /proc instead, with its masks (locked in RUN's user namespace),
 * read-only down to every mount below it, as buildah's chroot isolation binds
 * it: RUN sees the outer pid namespace's processes, but the user namespace
 * boundary keeps their environ, fds and memory from it (ptrace rules).
 */
static int plan_proc_dev(struct sandbox_plan *p, const struct sandbox_spec *spec,
			 const struct layer_view *v, struct kiln_error **err)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	static const char *const links[][2] = {
		{"/dev/ptmx", "pts/ptmx"},	    {"/dev/fd", "/proc/self/fd"},
		{"/dev/stdin", "/proc/self/fd/0"},  {"/dev/stdout", "/proc/self/fd/1"},
		{"/dev/stderr", "/proc/self/fd/2"}, {"/dev/core", "/proc/kcore"},
	};
	int r = ensure_mountpoint(p, v, "proc", true, err);

	if (r >= 0)
		r = ensure_mountpoint(p, v, "dev", true, err);
	if (r < 0)
		return r;
	if (sandbox_reduced_why()) {
		add_mount_in(p, "/proc", "/proc", NULL, MS_BIND | MS_REC, NULL);
		add_op(p, SOP_READONLY_REC_IN, "/proc", xstrdup("make '/proc' read-only"));
	} else {
		add_mount_in(p, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	}
	add_mount_in(p, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME,
		     "mode=0755,size=65536k");
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		char *path = xasprintf("/dev/%s", nodes[i]);

		add_make(p, SOP_MKFILE_IN, keep(p, path), NULL);
		add_mount_in(p, path, path, NULL, MS_BIND, NULL);
	}
	add_make(p, SOP_MKDIR_IN, "/dev/pts", NULL);
	add_mount_in(p, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=0620");
	add_make(p, SOP_MKDIR_IN, "/dev/shm", NULL);
	if (spec->shm_size) {
		_cleanup_free_ char *o = xasprintf("mode=1777,size=%llu", spec->shm_size);

		add_mount_in(p, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, o);
	} else {
		add_mount_in(p, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
			     "mode=1777,size=65536k");
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		add_make(p, SOP_SYMLINK_IN, links[i][0], links[i][1]);
	return 0;
}

/*
 * A read-only /sys, as Docker gives RUN: a fresh sysfs where the sandbox may mount
 * one (real root, or a network namespace of its own: not --network=host), else the host's bound
 * read-only (a user namespace cannot mount the host network's sysfs).
 */
static int plan_sys(struct sandbox_plan *p, const struct sandbox_spec *spec,
		    const struct layer_view *v, struct kiln_error **err)
{
	int r = ensure_mountpoint(p, v, "sys", true, err);

	if (r < 0)
		return r;
	if (userns_is_initial() || spec->network != SANDBOX_NETWORK_HOST) {
		add_mount_in(p, "sysfs", "/sys", "sysfs",
			     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		p->ops[p->n_ops - 1].flags |= SOP_OR_NEXT;
	}
	add_mount_in(p, "/sys", "/sys", NULL, MS_BIND | MS_REC, NULL);
	add_op(p, SOP_READONLY_REC_IN, "/sys", xstrdup("make '/sys' read-only"));
	return 0;
}

static int plan_one_mount(struct sandbox_plan *p, const struct sandbox_mount *m,
			  const struct layer_view *v, struct kiln_error **err)
{
	struct stat st;
	bool dir = true;
	int r;

	if (!m->target || m->target[0] != '/' || !m->target[1])
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "mount target '%s' must be an absolute path below '/'",
			       m->target ? m->target : "");
	if (m->type == SANDBOX_MOUNT_BIND) {
		if (!m->source || stat(m->source, &st) < 0)
			return err_sys(err, m->source ? errno : EINVAL, "mount source '%s'",
				       m->source ? m->source : "");
		dir = S_ISDIR(st.st_mode);
	}
	r = ensure_mountpoint(p, v, m->target + 1, dir, err);
	if (r < 0)
		return r;
	if (m->type == SANDBOX_MOUNT_TMPFS) {
		add_mount_in(p, "tmpfs", m->target, "tmpfs",
			     MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0), m->options);
		return 0;
	}
	add_mount_in(p, m->source, m->target, NULL, MS_BIND | MS_REC, NULL);
	if (m->readonly)
		add_op(p, SOP_REMOUNT_RO_IN, keep(p, xstrdup(m->target)),
		       xasprintf("make '%s' read-only", m->target));
	return 0;
}

/* The command: argv, environment, where to find argv[0], credentials, stdio. */
int sandbox_plan_command(struct sandbox_plan *p, const struct sandbox_spec *spec,
			 struct kiln_error **err)
{
	const char *argv0 = spec->argv[0], *path = NULL;
	_cleanup_free_ char *dirs = NULL;
	char *save = NULL;

	strv_pushv(&p->argv, (const char *const *)spec->argv);
	if (spec->env)
		strv_pushv(&p->env, spec->env);
	(void)strv_argv(&p->env);
	path = strv_env_get(&p->env, "PATH");
	if (strchr(argv0, '/')) {
		strv_push(&p->exec_paths, argv0);
	} else {
		dirs = xstrdup(path ? path : DEFAULT_PATH);
		for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save))
			strv_push_take(&p->exec_paths, fs_path_join(d, argv0));
	}
	if (!p->exec_paths.n)
		return err_new(err, KILN_ERR_INPUT, ENOENT, "exec '%s': not found in PATH '%s'",
			       argv0, path);
	p->uid = spec->uid;
	p->gid = spec->gid;
	p->n_groups = spec->n_groups;
	if (spec->n_groups)
		p->groups = xmemdup(spec->groups, spec->n_groups * sizeof(gid_t));
	/* With a single-id map setgroups(2) is denied: keep the (unmapped) groups we have. */
	p->set_groups = spec->n_groups > 0 || !userns_setgroups_denied();
	p->stdio[0] = spec->stdin_fd;
	p->stdio[1] = spec->stdout_fd;
	p->stdio[2] = spec->stderr_fd;
	p->ctty = spec->tty && spec->stdin_fd >= 0;
	p->cwd = keep(p, xstrdup(spec->cwd && *spec->cwd ? spec->cwd : "/"));
	if (p->cwd[0] != '/')
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "working directory '%s' is not an absolute path", p->cwd);
	return sandbox_plan_rlimits(p, spec, err);
}

/* mkdir -p of the working directory, inside the new root (as Docker does). */
static void plan_cwd(struct sandbox_plan *p)
{
	_cleanup_free_ char *prefix = xstrdup(p->cwd);

	for (char *s = strchr(prefix + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (prefix[1])
			add_make(p, SOP_MKDIR_IN, keep(p, xstrdup(prefix)), NULL);
		if (!s)
			break;
		*s = '/';
	}
}

static int open_dir(const char *path, const char *what, struct kiln_error **err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, errno, "open %s '%s'", what, path);
	return fd;
}

struct rootfs_ctx {
	struct layer_view view;
	int workdir_fd;
	const char *mountpoint;
};

static void rootfs_ctx_release(struct rootfs_ctx *c)
{
	for (size_t i = 0; i < c->view.n; i++)
		close(c->view.fds[i]);
	free(c->view.fds);
	if (c->view.create_fd >= 0 && !c->view.in_place)
		close(c->view.create_fd);
	if (c->workdir_fd >= 0)
		close(c->workdir_fd);
}

static int plan_overlay(struct sandbox_plan *p, const struct sandbox_spec *spec,
			struct rootfs_ctx *c, struct kiln_error **err)
{
	_cleanup_free_ const char **lowers = xcalloc(spec->n_lowerdirs + 1, sizeof(*lowers));
	const char *ovl = keep(p, fs_path_join(spec->workdir, "ovl"));
	int r;

	if (!spec->upperdir)
		return err_new(err, KILN_ERR_INTERNAL, EINVAL, "overlay rootfs without upperdir");
	r = mkdir_at(c->workdir_fd, "ovl", 0700, err);
	if (r >= 0)
		r = mkdir_at(c->workdir_fd, "extra", 0755, err);
	if (r < 0)
		return r;
	c->view.fds = xcalloc(spec->n_lowerdirs + 1, sizeof(int));
	for (size_t i = 0; i <= spec->n_lowerdirs; i++) {
		r = open_dir(i ? spec->lowerdirs[i - 1] : spec->upperdir,
			     i ? "lowerdir" : "upperdir", err);
		if (r < 0)
			return r;
		c->view.fds[c->view.n++] = r;
	}
	c->view.create_fd =
		openat(c->workdir_fd, "extra", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (c->view.create_fd < 0)
		return err_sys(err, errno, "open '%s/extra'", spec->workdir);
	lowers[0] = keep(p, fs_path_join(spec->workdir, "extra"));
	memcpy(lowers + 1, spec->lowerdirs, spec->n_lowerdirs * sizeof(*lowers));
	/*
	 * userxattr first, as root too: kiln's snapshots and its own COPY mounts
	 * mark opaque directories with user.overlay.*, so one store reads the same
	 * both ways. A kernel that refuses it (before 5.11) gets the plain one.
	 */
	for (int i = 1; i >= 0; i--) {
		const char *opts = keep(p, sandbox_overlay_options(lowers, spec->n_lowerdirs + 1,
								   spec->upperdir, ovl, i));
		struct sandbox_op *op = add_op(p, SOP_MOUNT, c->mountpoint,
					       xasprintf("mount overlay on '%s'", c->mountpoint));

		op->source = "overlay";
		op->fstype = "overlay";
		op->data = opts;
		op->flags = i ? SOP_OR_NEXT : 0;
		if (strlen(opts) < SANDBOX_MOUNT_DATA_MAX)
			continue;
		/* Too many layers for one page of options: one fsconfig() call per layer. */
		sandbox_overlay_params(&p->ovl_params[i], lowers, spec->n_lowerdirs + 1,
				       spec->upperdir, ovl, i);
		op->kind = SOP_MOUNT_FSCONFIG;
		op->params = p->ovl_params[i].v;
		op->n_params = p->ovl_params[i].n / 2;
	}
	return 0;
}

static int plan_dir(struct sandbox_plan *p, const struct sandbox_spec *spec, struct rootfs_ctx *c,
		    struct kiln_error **err)
{
	struct sandbox_op *op;

	if (!spec->rootdir)
		return err_new(err, KILN_ERR_INTERNAL, EINVAL, "dir rootfs without rootdir");
	p->rootdir_fd = open(spec->rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->rootdir_fd < 0)
		return err_sys(err, errno, "open rootfs '%s'", spec->rootdir);
	c->view.fds = xcalloc(1, sizeof(int));
	c->view.fds[c->view.n++] = dup(p->rootdir_fd);
	c->view.create_fd = p->rootdir_fd;
	c->view.in_place = true;
	op = add_op(p, SOP_MOUNT, c->mountpoint,
		    xasprintf("bind '%s' on '%s'", spec->rootdir, c->mountpoint));
	op->source = keep(p, xstrdup(spec->rootdir));
	op->mflags = MS_BIND | MS_REC;
	return 0;
}

static void plan_namespaces(struct sandbox_plan *p, const struct sandbox_spec *spec)
{
	struct sandbox_op *op;

	p->clone_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	op = add_op(p, SOP_HOSTNAME, NULL, xstrdup("set the hostname"));
	op->source = keep(p, xstrdup(spec->hostname ? spec->hostname : "kiln"));
	if (spec->network != SANDBOX_NETWORK_HOST) {
		/* the default network's namespace is made beforehand (sandbox-net.c) */
		if (spec->network == SANDBOX_NETWORK_NONE)
			p->clone_flags |= CLONE_NEWNET;
		add_op(p, SOP_LOOPBACK_UP, NULL, xstrdup("bring the loopback interface up"));
	}
}

int sandbox_plan_build(struct sandbox_plan *p, const struct sandbox_spec *spec,
		       struct kiln_error **err)
{
	struct rootfs_ctx c __attribute__((cleanup(rootfs_ctx_release))) = {.view.create_fd = -1,
									    .workdir_fd = -1};
	_cleanup_free_ char *files_dir = NULL;
	_cleanup_close_ int files_fd = -1;
	int r;

	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
		return err_new(err, KILN_ERR_INPUT, EINVAL, "no command to run");
	if (!spec->workdir)
		return err_new(err, KILN_ERR_INTERNAL, EINVAL, "sandbox without a workdir");
	r = sandbox_plan_command(p, spec, err);
	if (r >= 0)
		r = sandbox_plan_privileges(p, spec, err);
	if (r < 0)
		return r;
	c.workdir_fd = open(spec->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.workdir_fd < 0)
		return err_sys(err, errno, "open workdir '%s'", spec->workdir);
	r = mkdir_at(c.workdir_fd, "root", 0755, err);
	if (r >= 0)
		r = mkdir_at(c.workdir_fd, "files", 0755, err);
	if (r < 0)
		return r;
	files_fd = openat(c.workdir_fd, "files", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (files_fd < 0)
		return err_sys(err, errno, "open '%s/files'", spec->workdir);
	files_dir = fs_path_join(spec->workdir, "files");
	r = write_etc_files(p, spec, spec->hostname ? spec->hostname : "kiln", files_fd, err);
	if (r < 0)
		return r;
	plan_namespaces(p, spec);
	c.mountpoint = keep(p, fs_path_join(spec->workdir, "root"));
	r = spec->rootfs == SANDBOX_ROOTFS_DIR ? plan_dir(p, spec, &c, err)
					       : plan_overlay(p, spec, &c, err);
	if (r < 0)
		return r;
	add_op(p, SOP_OPEN_ROOT, c.mountpoint, xasprintf("open '%s'", c.mountpoint));
	r = keep_runtime_dirs(&c.view, err);
	if (r >= 0)
		r = plan_proc_dev(p, spec, &c.view, err);
	if (r >= 0)
		r = plan_sys(p, spec, &c.view, err);
	if (r >= 0)
		sandbox_plan_masks(p);
	if (r >= 0)
		r = plan_etc(p, spec, &c.view, files_dir, err);
	for (size_t i = 0; r >= 0 && i < spec->n_mounts; i++)
		r = plan_one_mount(p, &spec->mounts[i], &c.view, err);
	if (r < 0)
		return r;
	if (!c.view.in_place)
		apply_mirror_fixups(p, c.view.create_fd);
	add_op(p, SOP_PIVOT, c.mountpoint, xasprintf("pivot_root to '%s'", c.mountpoint));
	plan_cwd(p);
	return 0;
}

const char *sandbox_plan_stage_what(const struct sandbox_plan *p, int stage)
{
	static const char *const stages[] = {
		[-SANDBOX_STAGE_SETUP] = "set the sandbox up",
		[-SANDBOX_STAGE_FORK] = "fork the command",
		[-SANDBOX_STAGE_GROUPS] = "set the supplementary groups",
		[-SANDBOX_STAGE_SETGID] = "set the group id",
		[-SANDBOX_STAGE_SETUID] = "set the user id",
		[-SANDBOX_STAGE_NO_NEW_PRIVS] = "set no_new_privs",
		[-SANDBOX_STAGE_CHDIR] = "change to the working directory",
		[-SANDBOX_STAGE_STDIO] = "set up stdin, stdout and stderr",
		[-SANDBOX_STAGE_EXEC] = "exec",
		[-SANDBOX_STAGE_USERNS] = "unshare the step's user namespace",
		[-SANDBOX_STAGE_MAP_IDS] = "wait for the id maps of the step's user namespace",
		[-SANDBOX_STAGE_SESSION] = "start a new session with a new keyring",
		[-SANDBOX_STAGE_CAPS] = "drop capabilities",
		[-SANDBOX_STAGE_CLOSE_FDS] = "close inherited file descriptors",
		[-SANDBOX_STAGE_SECCOMP] = "load the seccomp filter",
		[-SANDBOX_STAGE_NET] = "wait for RUN's network",
		[-SANDBOX_STAGE_RLIMIT] = "set the resource limits of --ulimit",
	};

	if (stage >= 0 && (size_t)stage < p->n_ops)
		return p->ops[stage].what;
	if (stage < 0 && (size_t)-stage < ARRAY_SIZE(stages) && stages[-stage])
		return stages[-stage];
	return "set the sandbox up";
}
