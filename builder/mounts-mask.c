/* SPDX-License-Identifier: Apache-2.0 */
/*
 * .dockerignore on RUN --mount=type=bind of the context: a tree of overlay
 * whiteouts (0/0 character devices) for every excluded entry, laid as the top
 * lower layer over the context, so the mount shows what COPY sees without a
 * copy of the context. An excluded directory that a "!" rule reaches into is
 * walked like COPY walks it: kept (with its own metadata) when something in it
 * stays, hidden when nothing does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/mounts-internal.h"
#include "copy/copy.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"

#include "util/banned.h"

struct mask_walk {
	const struct dockerignore *di;
	struct strbuf rel; /* the directory's path in the context, "" for its root */
};

static int whiteout(int dst_fd, const char *name, struct kiln_error **err)
{
	if (mknodat(dst_fd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return err_sys(err, errno, "RUN --mount=type=bind: hide '%s' (.dockerignore)",
			       name);
	return 0;
}

/* A mask directory shows through the overlay with its own metadata: the source's. */
static void copy_dir_meta(int dst_fd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (fchownat(dst_fd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		log_debug("chown mask dir '%s': %m", name);
	if (fchmodat(dst_fd, name, st->st_mode & 07777, 0) < 0)
		log_debug("chmod mask dir '%s': %m", name);
	if (utimensat(dst_fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		log_debug("utimes mask dir '%s': %m", name);
}

static int mask_tree(struct mask_walk *w, int src_fd, int dst_fd, bool *ret_put, bool *ret_visible,
		     struct kiln_error **err);

/* One directory entry @name: hidden, shown, or walked. */
static int mask_dir_entry(struct mask_walk *w, int src_fd, int dst_fd, const char *name,
			  const struct stat *st, bool excluded, bool *put, bool *visible,
			  struct kiln_error **err)
{
	_cleanup_close_ int sub_src = -1, sub_dst = -1;
	size_t len = w->rel.len;
	bool sub_put = false, sub_visible = false;
	int r;

	if (excluded && !dockerignore_may_reinclude_under(w->di, w->rel.buf))
		return *put = true, whiteout(dst_fd, name, err);
	if (mkdirat(dst_fd, name, 0700) < 0)
		return err_sys(err, errno, "create mask directory '%s'", w->rel.buf);
	sub_src = openat(src_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_src < 0 && errno == EACCES && !excluded) {
		/* kiln cannot read it, so neither can the overlay, nor the step through it */
		log_debug("mask: cannot read '%s', left as it is", w->rel.buf);
		*visible = true;
		return unlinkat(dst_fd, name, AT_REMOVEDIR) < 0
			       ? err_sys(err, errno, "remove mask directory '%s'", w->rel.buf)
			       : 0;
	}
	sub_dst = openat(dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_src < 0 || sub_dst < 0)
		return err_sys(err, errno, "open '%s'", w->rel.buf);
	strbuf_addch(&w->rel, '/');
	r = mask_tree(w, sub_src, sub_dst, &sub_put, &sub_visible, err);
	strbuf_setlen(&w->rel, len);
	if (r < 0)
		return r;
	if (excluded && !sub_visible) {
		/* COPY makes an excluded directory only for what it keeps inside */
		r = fs_rm_rf(dst_fd, name, err);
		*put = true;
		return r < 0 ? r : whiteout(dst_fd, name, err);
	}
	*visible = true;
	if (!sub_put) {
		if (unlinkat(dst_fd, name, AT_REMOVEDIR) < 0)
			return err_sys(err, errno, "remove mask directory '%s'", w->rel.buf);
		return 0;
	}
	*put = true;
	copy_dir_meta(dst_fd, name, st);
	copy_xattrs(sub_src, sub_dst, name); /* the xattrs COPY keeps */
	return 0;
}

static int mask_entry(struct mask_walk *w, int src_fd, int dst_fd, const char *name, bool *put,
		      bool *visible, struct kiln_error **err)
{
	size_t len = w->rel.len;
	struct stat st;
	bool excluded;
	int r;

	if (fstatat(src_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "stat '%s%s'", w->rel.buf, name);
	strbuf_addstr(&w->rel, name);
	excluded = dockerignore_excluded(w->di, w->rel.buf, S_ISDIR(st.st_mode));
	if (S_ISDIR(st.st_mode))
		r = mask_dir_entry(w, src_fd, dst_fd, name, &st, excluded, put, visible, err);
	else if (excluded)
		r = (*put = true, whiteout(dst_fd, name, err));
	else
		r = (*visible = true, 0);
	strbuf_setlen(&w->rel, len);
	return r;
}

/*
 * Mirror @src_fd into @dst_fd: *ret_put when @dst_fd got an entry (a
 * whiteout somewhere below), *ret_visible when an entry of @src_fd stays.
 */
static int mask_tree(struct mask_walk *w, int src_fd, int dst_fd, bool *ret_put, bool *ret_visible,
		     struct kiln_error **err)
{
	/* a new open file, not a dup: its own readdir position (the context fd is reused) */
	int fd = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	int r = 0;

	if (!d) {
		r = err_sys(err, errno, "read directory '%s'", w->rel.len ? w->rel.buf : ".");
		if (fd >= 0)
			close(fd);
		return r;
	}
	for (struct dirent *de; r >= 0 && (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		r = mask_entry(w, src_fd, dst_fd, de->d_name, ret_put, ret_visible, err);
	}
	closedir(d);
	return r;
}

int run_mounts_ignore_mask(int context_fd, const struct dockerignore *di, const char *mask_dir,
			   struct kiln_error **err)
{
	struct mask_walk w = {.di = di, .rel = STRBUF_INIT};
	_cleanup_close_ int dst = -1;
	bool put = false, visible = false;
	int r;

	if (mkdir(mask_dir, 0755) < 0 && errno != EEXIST)
		return err_sys(err, errno, "create '%s'", mask_dir);
	if (!di || !dockerignore_n_patterns(di))
		return 0;
	dst = open(mask_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return err_sys(err, errno, "open '%s'", mask_dir);
	r = mask_tree(&w, context_fd, dst, &put, &visible, err);
	strbuf_release(&w.rel);
	return r;
}
