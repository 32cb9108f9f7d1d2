/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The destination side of COPY/ADD: resolving a directory inside the image
 * root (symlinks followed, never out of it), streaming file contents, and
 * the extended attributes worth keeping.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define MAX_SYMLINKS 40

/* ---- resolving a destination directory ------------------------------------------ */

struct dstack {
	int *fds;
	size_t n, alloc; /* fds[0] is the root (not owned) */
	struct strbuf canon;
};

static void dstack_pop(struct dstack *s)
{
	char *slash;

	if (s->n <= 1)
		return;
	close(s->fds[--s->n]);
	slash = strrchr(s->canon.buf, '/');
	strbuf_setlen(&s->canon, slash ? (size_t)(slash - s->canon.buf) : 0);
}

static void dstack_push(struct dstack *s, int fd, const char *name)
{
	ALLOC_GROW(s->fds, s->n + 1, s->alloc);
	s->fds[s->n++] = fd;
	if (s->canon.len)
		strbuf_addch(&s->canon, '/');
	strbuf_addstr(&s->canon, name);
}

static void dstack_release(struct dstack *s)
{
	while (s->n > 1)
		close(s->fds[--s->n]);
	free(s->fds);
	strbuf_release(&s->canon);
}

static int follow(struct dstack *s, const char *name, struct strbuf *rest, unsigned *links)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(s->fds[s->n - 1], name, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	if (++*links > MAX_SYMLINKS)
		return -ELOOP;
	target[n] = '\0';
	if (target[0] == '/')
		while (s->n > 1)
			dstack_pop(s);
	if (rest->len)
		strbuf_insert(rest, 0, "/", 1);
	strbuf_insert(rest, 0, target, (size_t)n);
	return 0;
}

static int make_dir(int dirfd, const char *name, const struct copy_chown *owner)
{
	if (mkdirat(dirfd, name, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	if (fchmodat(dirfd, name, 0755, 0) < 0)
		return -errno;
	if (owner && owner->set && geteuid() == 0 &&
	    fchownat(dirfd, name, owner->uid, owner->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* One step of the walk; returns 0, or -errno. */
static int dest_step(struct dstack *s, const char *comp, struct strbuf *rest, bool create,
		     const struct copy_chown *owner, unsigned *links)
{
	int cur = s->fds[s->n - 1], fd, r;
	struct stat st;

	if (streq(comp, "."))
		return 0;
	if (streq(comp, "..")) {
		dstack_pop(s);
		return 0;
	}
	if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || !create)
			return -errno;
		r = make_dir(cur, comp, owner);
		if (r < 0)
			return r;
		return dest_step(s, comp, rest, create, owner, links);
	}
	if (S_ISLNK(st.st_mode))
		return follow(s, comp, rest, links);
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dstack_push(s, fd, comp);
	return 0;
}

int copy_dest_dir(int root, const char *path, bool create, const struct copy_chown *owner,
		  int *ret_fd, char **ret_canon, struct kiln_error **err)
{
	struct dstack s = {.canon = STRBUF_INIT};
	_cleanup_strbuf_ struct strbuf rest = STRBUF_INIT, comp = STRBUF_INIT;
	unsigned links = 0;
	int r = 0, fd;

	dstack_push(&s, root, "");
	strbuf_addstr(&rest, path);
	while (r >= 0 && fs_next_component(&rest, &comp))
		r = dest_step(&s, comp.buf, &rest, create, owner, &links);
	if (r < 0) {
		dstack_release(&s);
		return err_new(err, r == -ENOENT ? KILN_ERR_INPUT : KILN_ERR_SYSTEM, -r,
			       "destination '%s': %s", path,
			       r == -ENOTDIR ? "a path component is not a directory"
					     : strerror(-r));
	}
	fd = s.n > 1 ? s.fds[--s.n] : openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		dstack_release(&s);
		return err_sys(err, r, "open destination root");
	}
	*ret_fd = fd;
	if (ret_canon)
		*ret_canon = strbuf_detach(&s.canon, NULL);
	dstack_release(&s);
	return 0;
}

/* ---- contents ----------------------------------------------------------------------------- */

enum { STREAM_CFR, STREAM_SENDFILE, STREAM_RW };

static int stream_rw(int src, int dst, uint64_t *total, struct kiln_error **err)
{
	char buf[65536];

	for (;;) {
		ssize_t n = fs_read_all(src, buf, sizeof(buf), err);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		if (fs_write_all(dst, buf, (size_t)n, err) < 0)
			return -EIO;
		*total += (uint64_t)n;
	}
}

static bool fall_back(int e)
{
	return e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EBADF;
}

int copy_stream(int src, int dst, uint64_t size, int *hint, uint64_t *ret_bytes,
		struct kiln_error **err)
{
	uint64_t total = 0;
	int r;

	while (*hint != STREAM_RW) {
		if (size && total >= size)
			break; /* the size stat() gave: spare the call that would return 0 */
		ssize_t n = *hint == STREAM_CFR ? copy_file_range(src, NULL, dst, NULL, 1 << 30, 0)
						: sendfile(dst, src, NULL, 1 << 30);

		if (n > 0) {
			total += (uint64_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (total || !fall_back(errno))
			return err_sys(err, errno, "copy");
		(*hint)++;
	}
	if (*hint != STREAM_RW) {
		*ret_bytes = total;
		return 0;
	}
	r = stream_rw(src, dst, &total, err);
	*ret_bytes = total;
	return r;
}

/* ---- extended attributes -------------------------------------------------------------- */

/*
 * BuildKit copies every xattr; we keep user.* (but not user.overlay.*, which
 * overlayfs owns in a user namespace) and security.capability (file
 * capabilities must survive a COPY of a binary). security.selinux, ima and
 * evm describe the build host, trusted.* and system.* (ACLs) need privileges
 * the rootless builder does not have.
 */
bool copy_keep_xattr(const char *name)
{
	if (startswith(name, "user."))
		return !startswith(name, "user.overlay.");
	return streq(name, "security.capability");
}

void copy_xattrs(int src, int dst, const char *what)
{
	char names[4096], value[4096];
	ssize_t len = flistxattr(src, names, sizeof(names));

	if (len <= 0)
		return;
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t vlen;

		if (!copy_keep_xattr(n))
			continue;
		vlen = fgetxattr(src, n, value, sizeof(value));
		if (vlen < 0 || fsetxattr(dst, n, value, (size_t)vlen, 0) < 0)
			log_warn("copy xattr '%s' of '%s': %s, ignoring", n, what, strerror(errno));
	}
}
