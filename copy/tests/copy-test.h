/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Helpers for the COPY/ADD engine tests: a scratch directory holding
 * ctx/ (the build context), root/ (the image root) and outside/ (files that
 * must never be read or written), built from real files in /tmp.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/strv.h"

static char top[64];
static int ctxfd = -1, rootfd = -1, topfd = -1;

static inline void die(const char *what)
{
	perror(what);
	abort();
}

static inline void t_mkdirs(int dfd, const char *path)
{
	if (fs_mkdir_p(dfd, path, 0755, NULL) < 0)
		die(path);
}

static inline void t_write(int dfd, const char *path, const char *data, mode_t mode)
{
	char *dir = strdup(path), *slash = strrchr(dir, '/');
	int fd;

	if (slash) {
		*slash = '\0';
		t_mkdirs(dfd, dir);
	}
	free(dir);
	unlinkat(dfd, path, 0);
	fd = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		die(path);
	fchmod(fd, mode);
	close(fd);
}

static inline void t_symlink(int dfd, const char *target, const char *path)
{
	unlinkat(dfd, path, 0);
	if (symlinkat(target, dfd, path) < 0)
		die(path);
}

/* The file's content, or NULL when it cannot be read (caller frees). */
static inline char *t_read(int dfd, const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	if (strbuf_read_file(&sb, dfd, path, NULL) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

static inline bool t_content_is(int dfd, const char *path, const char *want)
{
	char *got = t_read(dfd, path);
	bool ok = got && strcmp(got, want) == 0;

	if (!ok)
		printf("# '%s': got '%s', want '%s'\n", path, got ? got : "(unreadable)", want);
	free(got);
	return ok;
}

static inline bool t_exists(int dfd, const char *path)
{
	struct stat st;

	return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static inline struct stat t_lstat(int dfd, const char *path)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW);
	return st;
}

/* chmod -R u+rwx on directories, so a non-root run can remove read-only copies. */
static inline void t_make_writable(int dfd, const char *path)
{
	int fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (fd < 0 || fstat(fd, &st) < 0 || fchmod(fd, (st.st_mode & 07777) | 0700) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	d = fdopendir(fd);
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			t_make_writable(fd, de->d_name);
	if (d)
		closedir(d);
}

static inline void t_setup(void)
{
	snprintf(top, sizeof(top), "/tmp/kiln-test-copy.XXXXXX");
	if (!mkdtemp(top))
		die("mkdtemp");
	topfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	t_mkdirs(topfd, "ctx");
	t_mkdirs(topfd, "root");
	t_mkdirs(topfd, "outside");
	ctxfd = openat(topfd, "ctx", O_PATH | O_DIRECTORY | O_CLOEXEC);
	rootfd = openat(topfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	t_write(topfd, "outside/secret", "outside", 0644);
	t_write(topfd, "secret", "top-secret", 0644);
}

static inline void t_teardown(void)
{
	close(ctxfd);
	close(rootfd);
	close(topfd);
	t_make_writable(AT_FDCWD, top);
	fs_rm_rf(AT_FDCWD, top, NULL);
}

/* Fresh ctx/ and root/ for one test. */
static inline void t_reset(void)
{
	if (topfd < 0)
		t_setup();
	close(ctxfd);
	close(rootfd);
	t_make_writable(topfd, "ctx");
	t_make_writable(topfd, "root");
	fs_rm_rf(topfd, "ctx", NULL);
	fs_rm_rf(topfd, "root", NULL);
	t_mkdirs(topfd, "ctx");
	t_mkdirs(topfd, "root");
	ctxfd = openat(topfd, "ctx", O_PATH | O_DIRECTORY | O_CLOEXEC);
	rootfd = openat(topfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static inline struct copy_opts t_opts(const char *dest, const char *const *sources, size_t n)
{
	struct copy_opts o = {.src_root = ctxfd, .sources = sources, .n_sources = n, .dest = dest};

	return o;
}

/* Run copy_run; on failure the message goes to *ret_msg (caller frees) or is printed. */
static inline int t_copy(const struct copy_opts *o, char **ret_msg)
{
	struct kiln_error *e = NULL;
	struct copy_result res = {0};
	int r = copy_run(rootfd, o, &res, &e);

	if (r < 0 && ret_msg)
		*ret_msg = strdup(e && e->msg ? e->msg : "(no message)");
	else if (r < 0)
		printf("# copy_run: %s\n", e && e->msg ? e->msg : "(no message)");
	err_free(e);
	return r;
}

#define COPY1(dest, ...)                                                      \
	({                                                                    \
		static const char *const srcs_[] = {__VA_ARGS__};             \
		struct copy_opts o_ = t_opts(dest, srcs_, ARRAY_SIZE(srcs_)); \
		t_copy(&o_, NULL);                                            \
	})

static inline bool t_contains(const char *msg, const char *needle)
{
	bool ok = msg && strstr(msg, needle);

	if (!ok)
		printf("# message '%s' lacks '%s'\n", msg ? msg : "(null)", needle);
	return ok;
}

/* `find DIR -mindepth 1 | sort`, relative to DIR, joined by spaces. */
static inline void list_into(int dfd, const char *rel, struct strv *out)
{
	int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		struct strbuf sub = STRBUF_INIT;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_addf(&sub, "%s/%s", rel, de->d_name);
		strv_push(out, sub.buf);
		if (de->d_type == DT_DIR)
			list_into(dfd, sub.buf, out);
		strbuf_release(&sub);
	}
	if (d)
		closedir(d);
}

static inline int t_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted paths below @dir in the root, joined by spaces, are @want. */
static inline bool tree_is(const char *dir, const char *want)
{
	struct strv l = STRV_INIT;
	char *got;
	bool ok;

	list_into(rootfd, dir, &l);
	if (l.n)
		qsort(l.v, l.n, sizeof(char *), t_cmp_str);
	got = strv_join(&l, " ");
	ok = strcmp(got, want) == 0;
	if (!ok)
		printf("# %s: got '%s'\n#   want '%s'\n", dir, got, want);
	free(got);
	strv_clear(&l);
	return ok;
}
