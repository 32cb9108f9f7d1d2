/* SPDX-License-Identifier: Apache-2.0 */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/strbuf.h"
#include "util/syscalls.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define MAX_SYMLINKS 40
#define MAX_DEPTH    4096

static bool force_fallback;

void fs_force_fallback(bool on)
{
	force_fallback = on;
}

static int open_via_openat2(int rootfd, const char *path, int flags, mode_t mode,
			    enum fs_resolve_flags resolve)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (resolve & FS_NOFOLLOW_LAST)
		how.flags |= O_NOFOLLOW;
	how.resolve |= (resolve & FS_IN_ROOT) ? RESOLVE_IN_ROOT : RESOLVE_BENEATH;
	do
		fd = sys_openat2(rootfd, *path ? path : ".", &how, sizeof(how));
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	return fd;
}

/* The directories walked so far, so that ".." can go back up without a lookup. */
struct walk {
	int fds[MAX_DEPTH];
	size_t depth; /* fds[0] is the root */
};

static void walk_pop_to(struct walk *w, size_t depth)
{
	while (w->depth > depth)
		close(w->fds[w->depth--]);
}

static int walk_up(struct walk *w, enum fs_resolve_flags resolve)
{
	if (w->depth > 0) {
		walk_pop_to(w, w->depth - 1);
		return 0;
	}
	return (resolve & FS_IN_ROOT) ? 0 : -EXDEV;
}

bool fs_next_component(struct strbuf *rest, struct strbuf *comp)
{
	size_t i = 0, start;

	strbuf_reset(comp);
	while (i < rest->len && rest->buf[i] == '/')
		i++;
	start = i;
	while (i < rest->len && rest->buf[i] != '/')
		i++;
	strbuf_add(comp, rest->buf + start, i - start);
	while (i < rest->len && rest->buf[i] == '/')
		i++;
	memmove(rest->buf, rest->buf + i, rest->len - i);
	strbuf_setlen(rest, rest->len - i);
	return comp->len > 0;
}

/* Replace the walk's remaining path with @target + "/" + @rest. */
static int follow_link(struct walk *w, int linkfd, struct strbuf *rest,
		       enum fs_resolve_flags resolve)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(linkfd, "", target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (target[0] == '/') {
		if (!(resolve & FS_IN_ROOT))
			return -EXDEV;
		walk_pop_to(w, 0);
	}
	if (rest->len)
		strbuf_insert(rest, 0, "/", 1);
	strbuf_insert(rest, 0, target, (size_t)n);
	return 0;
}

static int open_via_walk(int rootfd, const char *path, int flags, mode_t mode,
			 enum fs_resolve_flags resolve)
{
	_cleanup_strbuf_ struct strbuf rest = STRBUF_INIT, comp = STRBUF_INIT;
	struct walk *w = xmalloc(sizeof(*w));
	unsigned links = 0;
	int r = -ENOENT, fd;

	if (path[0] == '/' && !(resolve & FS_IN_ROOT)) {
		free(w);
		return -EXDEV;
	}
	w->depth = 0;
	w->fds[0] = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->fds[0] < 0) {
		r = -errno;
		free(w);
		return r;
	}
	strbuf_addstr(&rest, path);
	for (;;) {
		struct stat st;
		bool last;
		int cur = w->fds[w->depth];

		if (!fs_next_component(&rest, &comp)) {
			fd = openat(cur, ".", flags | O_CLOEXEC, mode);
			r = fd < 0 ? -errno : fd;
			break;
		}
		if (streq(comp.buf, "."))
			continue;
		if (streq(comp.buf, "..")) {
			r = walk_up(w, resolve);
			if (r < 0)
				break;
			continue;
		}
		last = rest.len == 0;
		if (last && (resolve & FS_NOFOLLOW_LAST)) {
			fd = openat(cur, comp.buf, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			r = fd < 0 ? -errno : fd;
			break;
		}
		fd = openat(cur, comp.buf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			if (last && r == -ENOENT && (flags & O_CREAT)) {
				fd = openat(cur, comp.buf, flags | O_NOFOLLOW | O_CLOEXEC, mode);
				r = fd < 0 ? -errno : fd;
			}
			break;
		}
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			r = ++links > MAX_SYMLINKS ? -ELOOP : follow_link(w, fd, &rest, resolve);
			close(fd);
			if (r < 0)
				break;
			continue;
		}
		if (last) {
			close(fd);
			/* O_NOFOLLOW: a symlink swapped in since the check fails with ELOOP */
			fd = openat(cur, comp.buf, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			r = fd < 0 ? -errno : fd;
			break;
		}
		if (!S_ISDIR(st.st_mode) || w->depth + 1 >= MAX_DEPTH) {
			close(fd);
			r = S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
			break;
		}
		w->fds[++w->depth] = fd;
	}
	walk_pop_to(w, 0);
	close(w->fds[0]);
	free(w);
	return r;
}

int fs_open_in(int rootfd, const char *path, int flags, mode_t mode, enum fs_resolve_flags resolve,
	       struct kiln_error **err)
{
	int fd = -1;

	if (!force_fallback) {
		fd = open_via_openat2(rootfd, path, flags, mode, resolve);
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS && errno != EPERM)
			return err_sys(err, errno, "open '%s'", path);
	}
	fd = open_via_walk(rootfd, path, flags, mode, resolve);
	if (fd < 0)
		return err_sys(err, -fd, "open '%s'", path);
	return fd;
}

int fs_mkdir_p(int dirfd, const char *path, mode_t mode, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf rest = STRBUF_INIT, comp = STRBUF_INIT;
	/* like mkdirat(2): an absolute path ignores @dirfd */
	_cleanup_close_ int cur =
		openat(dirfd, path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (cur < 0)
		return err_sys(err, errno, "open directory for '%s'", path);
	strbuf_addstr(&rest, path);
	while (fs_next_component(&rest, &comp)) {
		int next;

		if (streq(comp.buf, "."))
			continue;
		if (streq(comp.buf, ".."))
			return err_new(err, KILN_ERR_INPUT, EXDEV, "mkdir '%s': '..' not allowed",
				       path);
		if (mkdirat(cur, comp.buf, mode) < 0 && errno != EEXIST)
			return err_sys(err, errno, "mkdir '%s'", path);
		next = openat(cur, comp.buf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return err_sys(err, errno == ELOOP ? ENOTDIR : errno, "mkdir '%s'", path);
		close(cur);
		cur = next;
	}
	return 0;
}

static int rm_rf_children(int dfd, struct kiln_error **err)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return err_sys(err, errno, "opendir");
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		r = fs_rm_rf(dirfd(d), de->d_name, err);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int fs_rm_rf(int dirfd, const char *path, struct kiln_error **err)
{
	int dfd, r;

	if (unlinkat(dirfd, path, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return err_sys(err, errno, "remove '%s'", path);
	dfd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, errno, "remove '%s'", path);
	}
	r = rm_rf_children(dfd, err);
	if (r < 0)
		return err_wrap(err, "remove '%s'", path);
	if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_sys(err, errno, "remove '%s'", path);
	return 0;
}

int fs_write_all(int fd, const void *buf, size_t len, struct kiln_error **err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(err, errno, "write");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fs_read_all(int fd, void *buf, size_t len, struct kiln_error **err)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(err, errno, "read");
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off, struct kiln_error **err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(err, errno, "write");
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fs_pread_all(int fd, void *buf, size_t len, off_t off, struct kiln_error **err)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(err, errno, "read");
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fs_mkstemp(int dirfd, const char *prefix, mode_t mode, char **ret_name, struct kiln_error **err)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int tries = 0; tries < 100; tries++) {
		unsigned char rnd[8];
		char suffix[9];
		char *name;
		int fd;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return err_sys(err, errno, "getrandom");
		for (size_t i = 0; i < sizeof(rnd); i++)
			suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
		suffix[8] = '\0';
		name = xasprintf("%s.%s", prefix, suffix);
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0) {
			*ret_name = name;
			return fd;
		}
		free(name);
		if (errno != EEXIST)
			return err_sys(err, errno, "create temporary file '%s.*'", prefix);
	}
	return err_sys(err, EEXIST, "create temporary file '%s.*'", prefix);
}

int fs_fsync_dir(int dirfd, struct kiln_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, errno, "open directory");
	if (fsync(fd) < 0)
		return err_sys(err, errno, "fsync directory");
	return 0;
}

int fs_atomic_write(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		    struct kiln_error **err)
{
	_cleanup_free_ char *prefix = xasprintf(".tmp-%s", name), *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (strchr(name, '/'))
		return err_new(err, KILN_ERR_INTERNAL, EINVAL,
			       "atomic write: '%s' is not a plain name", name);
	fd = fs_mkstemp(dirfd, prefix, mode, &tmp, err);
	if (fd < 0)
		return fd;
	r = fs_write_all(fd, data, len, err);
	if (r < 0)
		goto out_unlink;
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = err_sys(err, errno, "write '%s'", name);
		goto out_unlink;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = err_sys(err, errno, "rename '%s' to '%s'", tmp, name);
		goto out_unlink;
	}
	return fs_fsync_dir(dirfd, err);
out_unlink:
	unlinkat(dirfd, tmp, 0);
	return err_wrap(err, "write '%s'", name);
}

int fs_lock(int dirfd, const char *name, bool shared, struct kiln_error **err)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;

	if (fd < 0)
		return err_sys(err, errno, "open lock '%s'", name);
	/* nobody else may open it (and hold the lock); an older 0644 one is tightened */
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) != 0600)
		(void)fchmod(fd, 0600);
	while (flock(fd, shared ? LOCK_SH : LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return err_sys(err, errno, "lock '%s'", name);
	}
	return fd;
}

char *fs_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (*b == '/')
		b++;
	if (la && a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

int fs_open_parent_nofollow(int dirfd, const char *path, const char **ret_name,
			    struct kiln_error **err)
{
	const char *slash = strrchr(path, '/');
	_cleanup_strbuf_ struct strbuf rest = STRBUF_INIT, comp = STRBUF_INIT;
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return err_sys(err, errno, "dup");
	if (slash)
		strbuf_add(&rest, path, (size_t)(slash - path));
	while (fs_next_component(&rest, &comp)) {
		int next = -1;

		if (!streq(comp.buf, ".."))
			next = openat(fd, comp.buf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		else
			errno = EXDEV;
		close(fd);
		if (next < 0) /* a symlink is ENOTDIR here: O_DIRECTORY refuses the link itself */
			return err_sys(err, errno, "open the directory of '%s'", path);
		fd = next;
	}
	*ret_name = slash ? slash + 1 : path;
	return fd;
}
