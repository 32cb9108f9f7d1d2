/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The source side of COPY/ADD: expanding the patterns as written into items
 * (wildcards matched as BuildKit does, .dockerignore and --exclude applied), and
 * walking a directory item in sorted order with the exclusions, so that the
 * copy and the digest see exactly the same entries.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ---- path cleaning -------------------------------------------------------------- */

/*
 * Clean @path as if it were absolute ("../x" is "x", as in Docker) into
 * components joined by '/'. With --parents, *ret_pivot is the number of
 * components before a "/./" pivot (0 when there is none).
 */
static char *clean_path(const char *path, size_t *ret_pivot)
{
	_cleanup_free_ char *s = xstrdup(path);
	struct strbuf out = STRBUF_INIT;
	const char *pivot = strstr(path, "/./");
	size_t depth = 0, pivot_at = pivot ? (size_t)(pivot - path) : (size_t)-1;
	char *save = NULL;

	if (ret_pivot)
		*ret_pivot = 0;
	for (char *c = strtok_r(s, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (ret_pivot && pivot && (size_t)(c - s) > pivot_at) {
			*ret_pivot = depth;
			pivot = NULL;
		}
		if (streq(c, "."))
			continue;
		if (streq(c, "..")) {
			char *slash = strrchr(out.buf, '/');

			strbuf_setlen(&out, slash ? (size_t)(slash - out.buf) : 0);
			depth -= depth > 0;
			continue;
		}
		if (out.len)
			strbuf_addch(&out, '/');
		strbuf_addstr(&out, c);
		depth++;
	}
	return strbuf_detach(&out, NULL);
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[\\") != NULL;
}

/* ---- exclusions ---------------------------------------------------------------------- */

static void join(struct strbuf *sb, const char *a, const char *b)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, a);
	if (*a && *b)
		strbuf_addch(sb, '/');
	strbuf_addstr(sb, b);
}

/* .dockerignore on a context path; *ret_descend says an excluded dir is still walked. */
static bool ignored(const struct copy_opts *o, const char *ctxrel, bool is_dir, bool *ret_descend)
{
	*ret_descend = false;
	if (!o->excluded || !*ctxrel || !o->excluded(ctxrel, is_dir, o->exclude_ud))
		return false;
	*ret_descend =
		is_dir && o->may_contain_included && o->may_contain_included(ctxrel, o->exclude_ud);
	return true;
}

/* ---- directory listing ------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in @dirfd, sorted, in a NULL-terminated array. */
static int list_dir(int dirfd, struct strv *ret, struct kiln_error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return err_sys(err, errno, "open directory");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_sys(err, errno, "opendir");
	}
	errno = 0;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(ret, de->d_name);
	closedir(d);
	if (ret->n)
		qsort(ret->v, ret->n, sizeof(char *), cmp_str);
	return 0;
}

/* ---- expansion -------------------------------------------------------------------------- */

struct expand {
	const struct copy_opts *o;
	struct copy_plan *plan;
	const char *pattern;
	size_t pivot;
	size_t matched;
	size_t first; /* this source's first item */
	size_t first_glob; /* the first component with a wildcard (n: none) */
	bool globstar; /* --parents and "**": one path may be reached twice */
};

static void add_match(struct expand *x, const char *ctxpath)
{
	struct copy_item *it;
	const char *slash = strrchr(ctxpath, '/');

	for (size_t i = x->first; x->globstar && i < x->plan->n; i++)
		if (streq(x->plan->items[i].ctxpath, ctxpath))
			return;
	ALLOC_GROW(x->plan->items, x->plan->n + 1, x->plan->alloc);
	it = &x->plan->items[x->plan->n++];
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->pattern = xstrdup(x->pattern);
	it->ctxpath = xstrdup(ctxpath);
	it->name = xstrdup(slash ? slash + 1 : ctxpath);
	it->keep = xstrdup("");
	if (x->o->parents) {
		/* drop the components before the pivot */
		const char *k = ctxpath;

		for (size_t i = 0; i < x->pivot && k; i++) {
			k = strchr(k, '/');
			k = k ? k + 1 : NULL;
		}
		free(it->keep);
		it->keep = xstrdup(k ? k : "");
	}
	x->matched++;
}

static int expand_at(struct expand *x, char **comps, size_t n, size_t i, const char *dir,
		     struct kiln_error **err);

static int expand_glob(struct expand *x, char **comps, size_t n, size_t i, const char *dir,
		       struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	_cleanup_strbuf_ struct strbuf path = STRBUF_INIT;
	_cleanup_close_ int fd = fs_open_in(x->o->src_root, *dir ? dir : ".",
					    O_RDONLY | O_DIRECTORY, 0, FS_IN_ROOT, NULL);
	int r;

	if (fd < 0)
		return 0; /* not a directory: nothing matches below it */
	r = list_dir(fd, &names, err);
	if (r < 0)
		return r;
	strv_foreach(&names, name) {
		struct stat st;
		bool descend;

		if (fnmatch(comps[i], *name, 0) != 0 ||
		    fstatat(fd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (i + 1 < n && !S_ISDIR(st.st_mode))
			continue; /* the walk never enters a symlink, nor anything else */
		join(&path, dir, *name);
		if (ignored(x->o, path.buf, S_ISDIR(st.st_mode), &descend) && !descend)
			continue;
		r = expand_at(x, comps, n, i + 1, path.buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "**" with --parents: any number of directories, zero included (symlinks are not followed). */
static int expand_globstar(struct expand *x, char **comps, size_t n, size_t i, const char *dir,
			   struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	_cleanup_strbuf_ struct strbuf path = STRBUF_INIT;
	_cleanup_close_ int fd = -1;
	int r = expand_at(x, comps, n, i + 1, dir, err);

	if (r < 0)
		return r;
	fd = fs_open_in(x->o->src_root, *dir ? dir : ".", O_RDONLY | O_DIRECTORY, 0, FS_IN_ROOT,
			NULL);
	if (fd < 0)
		return 0;
	r = list_dir(fd, &names, err);
	strv_foreach(&names, name) {
		struct stat st;
		bool descend;

		if (r < 0)
			break;
		if (fstatat(fd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		join(&path, dir, *name);
		if (ignored(x->o, path.buf, true, &descend) && !descend)
			continue;
		r = expand_globstar(x, comps, n, i, path.buf, err);
	}
	return r;
}

static int expand_at(struct expand *x, char **comps, size_t n, size_t i, const char *dir,
		     struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf path = STRBUF_INIT;

	if (i == n) {
		add_match(x, dir);
		return 0;
	}
	if (x->o->parents && streq(comps[i], "**"))
		return expand_globstar(x, comps, n, i, dir, err);
	if (i >= x->first_glob)
		return expand_glob(x, comps, n, i, dir, err);
	join(&path, dir, comps[i]);
	return expand_at(x, comps, n, i + 1, path.buf, err);
}

static bool is_url(const char *s)
{
	return startswith(s, "http://") || startswith(s, "https://");
}

static int add_url(const struct copy_opts *o, struct copy_plan *plan, const char *url,
		   struct kiln_error **err)
{
	struct copy_item *it;
	_cleanup_free_ char *path = xstrdup(url + strcspn(url + 8, "/") + 8);
	char *q = path + strcspn(path, "?#"), *base;

	if (!o->add)
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "source '%s': COPY cannot fetch a URL (use ADD)", url);
	*q = '\0';
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	ALLOC_GROW(plan->items, plan->n + 1, plan->alloc);
	it = &plan->items[plan->n++];
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->pattern = xstrdup(url);
	it->url = xstrdup(url);
	it->ctxpath = xstrdup("");
	it->keep = xstrdup("");
	it->name = xstrdup(base);
	return 0;
}

static int expand_source(const struct copy_opts *o, struct copy_plan *plan, const char *pattern,
			 struct kiln_error **err)
{
	struct expand x = {.o = o,
			   .plan = plan,
			   .pattern = pattern,
			   .first = plan->n,
			   .globstar = o->parents && strstr(pattern, "**") != NULL};
	_cleanup_free_ char *clean = NULL;
	_cleanup_strv_ struct strv comps = STRV_INIT;
	char *save = NULL;
	int r;

	if (is_url(pattern))
		return add_url(o, plan, pattern, err);
	clean = clean_path(pattern, o->parents ? &x.pivot : NULL);
	{
		_cleanup_free_ char *tmp = xstrdup(clean);

		for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save))
			strv_push(&comps, c);
	}
	for (x.first_glob = 0; x.first_glob < comps.n; x.first_glob++)
		if (has_glob(comps.v[x.first_glob]))
			break;
	r = expand_at(&x, comps.v, comps.n, 0, "", err);
	if (r < 0)
		return r;
	if (x.matched == 0 && has_glob(clean) && !plan->unmatched)
		plan->unmatched = xstrdup(pattern);
	return 0;
}

/* Reopen an O_PATH item for reading, checking it is still the same file. */
static int reopen_item(const struct copy_opts *o, struct copy_item *it, struct kiln_error **err)
{
	struct stat st;
	int fd;

	if (S_ISDIR(it->st.st_mode)) {
		fd = openat(it->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
	} else {
		fd = fs_open_in(o->src_root, *it->ctxpath ? it->ctxpath : ".",
				O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, FS_IN_ROOT, NULL);
	}
	if (fd < 0)
		return err_sys(err, -fd, "source '%s'", it->pattern);
	close(it->fd);
	it->fd = fd;
	if (fstat(fd, &st) < 0 || st.st_ino != it->st.st_ino || st.st_dev != it->st.st_dev)
		return err_new(err, KILN_ERR_INPUT, EAGAIN, "source '%s' changed while being read",
			       it->pattern);
	return 0;
}

/* Whether anything below the excluded directory @dirfd (@ctxrel in the context) is brought
 * back by a "!" rule: only then does the directory exist for COPY, as in Docker, which sends
 * no entry for it otherwise. */
static bool any_included(const struct copy_opts *o, int dirfd, const char *ctxrel)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	_cleanup_strbuf_ struct strbuf rel = STRBUF_INIT;

	if (list_dir(dirfd, &names, NULL) < 0)
		return true; /* let the copy report it */
	strv_foreach(&names, name) {
		_cleanup_close_ int fd = -1;
		struct stat st;
		bool descend;

		if (fstatat(dirfd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		join(&rel, ctxrel, *name);
		if (!ignored(o, rel.buf, S_ISDIR(st.st_mode), &descend))
			return true;
		if (!descend)
			continue;
		fd = openat(dirfd, *name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && any_included(o, fd, rel.buf))
			return true;
	}
	return false;
}

/* Open what the item names (symlinks followed inside the source root) and check it is there. */
static int open_item(const struct copy_opts *o, struct copy_item *it, struct kiln_error **err)
{
	bool descend;
	int r;

	if (it->url)
		return 0;
	it->fd = fs_open_in(o->src_root, *it->ctxpath ? it->ctxpath : ".", O_PATH, 0, FS_IN_ROOT,
			    NULL);
	if (it->fd == -ENOENT || it->fd == -ENOTDIR)
		return err_new(err, KILN_ERR_INPUT, ENOENT,
			       "source '%s': no such file or directory in %s", it->pattern,
			       o->src_desc ? o->src_desc : "the build context");
	if (it->fd < 0)
		return err_sys(err, -it->fd, "source '%s'", it->pattern);
	if (fstat(it->fd, &it->st) < 0)
		return err_sys(err, errno, "source '%s'", it->pattern);
	/* only directories and regular files are opened for reading: never a device */
	if ((S_ISDIR(it->st.st_mode) || S_ISREG(it->st.st_mode)) &&
	    (r = reopen_item(o, it, err)) < 0)
		return r;
	if (ignored(o, it->ctxpath, S_ISDIR(it->st.st_mode), &descend) &&
	    (!descend || !S_ISDIR(it->st.st_mode) || !any_included(o, it->fd, it->ctxpath)))
		return err_new(err, KILN_ERR_INPUT, ENOENT,
			       "source '%s': no such file or directory (excluded by .dockerignore)",
			       it->pattern);
	if (o->add && S_ISREG(it->st.st_mode) && copy_is_archive(it->fd))
		it->archive = true;
	return 0;
}

static void item_release(struct copy_item *it)
{
	if (it->fd >= 0)
		close(it->fd);
	free(it->pattern);
	free(it->ctxpath);
	free(it->keep);
	free(it->name);
	free(it->url);
}

/* Drop file items left out by --exclude (matched on their name). */
static void filter_excluded(const struct copy_opts *o, struct copy_plan *plan)
{
	size_t j = 0;

	for (size_t i = 0; i < plan->n; i++) {
		struct copy_item *it = &plan->items[i];

		if (!it->inl && !it->url && !S_ISDIR(it->st.st_mode) && o->excludes &&
		    copy_patterns_match(o->excludes, it->name)) {
			item_release(it);
			continue;
		}
		plan->items[j++] = *it;
	}
	plan->n = j;
}

static void add_inlines(const struct copy_opts *o, struct copy_plan *plan)
{
	for (size_t i = 0; i < o->n_inlines; i++) {
		struct copy_item *it;

		ALLOC_GROW(plan->items, plan->n + 1, plan->alloc);
		it = &plan->items[plan->n++];
		memset(it, 0, sizeof(*it));
		it->fd = -1;
		it->inl = &o->inlines[i];
		it->pattern = xstrdup(o->inlines[i].name);
		it->ctxpath = xstrdup("");
		it->keep = xstrdup("");
		it->name = xstrdup(o->inlines[i].name);
		it->st.st_mode = S_IFREG | 0644;
		it->st.st_size = (off_t)o->inlines[i].len;
	}
}

static int plan_dest(const struct copy_opts *o, struct copy_plan *p, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf abs = STRBUF_INIT;
	const char *d = o->dest;
	size_t len = d ? strlen(d) : 0;
	_cleanup_free_ char *clean = NULL;

	if (!len)
		return err_new(err, KILN_ERR_INPUT, EINVAL, "destination is empty");
	if (d[0] != '/')
		strbuf_addstr(&abs, o->workdir && *o->workdir ? o->workdir : "/");
	strbuf_addch(&abs, '/');
	strbuf_addstr(&abs, d);
	p->dest_is_dir = d[len - 1] == '/' || streq(d, ".") || strbuf_endswith(&abs, "/.") ||
			 strbuf_endswith(&abs, "/..") || o->parents;
	clean = clean_path(abs.buf, NULL);
	p->dest = xasprintf("/%s", clean);
	return 0;
}

int copy_plan_build(const struct copy_opts *o, struct copy_plan *ret, struct kiln_error **err)
{
	struct copy_plan p = {0};
	int r;

	r = plan_dest(o, &p, err);
	for (size_t i = 0; r >= 0 && i < o->n_sources; i++)
		r = expand_source(o, &p, o->sources[i], err);
	for (size_t i = 0; r >= 0 && i < p.n; i++)
		r = open_item(o, &p.items[i], err);
	if (r < 0) {
		copy_plan_release(&p);
		return r;
	}
	filter_excluded(o, &p);
	add_inlines(o, &p);
	/* wildcards that match nothing copy nothing, as BuildKit's AllowEmptyWildcard */
	if (p.n == 0 && p.unmatched)
		log_debug("copy: '%s' matched nothing: nothing to copy", p.unmatched);
	if (p.n == 0 && !p.unmatched) {
		copy_plan_release(&p);
		return err_new(err, KILN_ERR_INPUT, ENOENT, "no source files were specified");
	}
	*ret = p;
	return 0;
}

void copy_plan_release(struct copy_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		item_release(&p->items[i]);
	free(p->items);
	free(p->dest);
	free(p->unmatched);
	memset(p, 0, sizeof(*p));
}

/* ---- the walk ----------------------------------------------------------------------------- */

struct walker {
	const struct copy_opts *o;
	const struct copy_item *item;
	const struct copy_walk_ops *ops;
	void *ud;
	struct strbuf ctxrel;
};

static int announce(struct walker *w, struct copy_node *n, struct kiln_error **err)
{
	int r;

	if (n->announced)
		return 0;
	if (n->parent) {
		r = announce(w, n->parent, err);
		if (r < 0)
			return r;
	}
	n->announced = true;
	return w->ops->enter(w->ud, n, err);
}

static bool node_excluded(struct walker *w, struct copy_node *n, bool *ret_descend)
{
	bool is_dir = S_ISDIR(n->st.st_mode);

	join(&w->ctxrel, w->item->ctxpath, n->rel.buf);
	if (ignored(w->o, w->ctxrel.buf, is_dir, ret_descend))
		return true;
	if (w->o->excludes && copy_patterns_match(w->o->excludes, n->rel.buf)) {
		*ret_descend = is_dir && w->o->excludes->has_negation;
		return true;
	}
	return false;
}

static int walk_dir(struct walker *w, struct copy_node *dir, struct kiln_error **err);

static int walk_child(struct walker *w, struct copy_node *c, struct kiln_error **err)
{
	bool descend = false, excluded = node_excluded(w, c, &descend);
	int r;

	if (excluded && !descend)
		return 0;
	if (!S_ISDIR(c->st.st_mode)) {
		r = announce(w, c->parent, err);
		return r < 0 ? r : w->ops->leaf(w->ud, c, err);
	}
	c->fd = openat(c->parent_fd, c->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->fd < 0)
		return err_sys(err, errno, "open '%s'", w->ctxrel.buf);
	r = excluded ? 0 : announce(w, c, err);
	if (r >= 0)
		r = walk_dir(w, c, err);
	if (r >= 0 && c->announced)
		r = w->ops->leave(w->ud, c, err);
	return r;
}

static int walk_dir(struct walker *w, struct copy_node *dir, struct kiln_error **err)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	int r = list_dir(dir->fd, &names, err);

	if (r < 0)
		return err_wrap(err, "'%s'", dir->rel.len ? dir->rel.buf : w->item->pattern);
	strv_foreach(&names, name) {
		struct copy_node c = {.parent = dir,
				      .fd = -1,
				      .parent_fd = dir->fd,
				      .name = *name,
				      .rel = STRBUF_INIT,
				      .dst_fd = -1};

		if (fstatat(dir->fd, *name, &c.st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed while we walk */
		join(&c.rel, dir->rel.buf, *name);
		r = walk_child(w, &c, err);
		if (c.fd >= 0)
			close(c.fd);
		if (c.dst_fd >= 0)
			close(c.dst_fd);
		free(c.dst_path);
		strbuf_release(&c.rel);
		if (r < 0)
			return r;
	}
	return 0;
}

int copy_walk_item(const struct copy_opts *o, const struct copy_item *item, struct copy_node *root,
		   const struct copy_walk_ops *ops, void *ud, struct kiln_error **err)
{
	struct walker w = {.o = o, .item = item, .ops = ops, .ud = ud, .ctxrel = STRBUF_INIT};
	int r;

	root->announced = true;
	r = walk_dir(&w, root, err);
	strbuf_release(&w.ctxrel);
	return r;
}

void copy_node_source_path(struct strbuf *sb, const struct copy_item *it, const struct copy_node *n)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, it->ctxpath);
	if (sb->len && n->rel.len)
		strbuf_addch(sb, '/');
	strbuf_addstr(sb, n->rel.buf);
}

int copy_node_open(const struct copy_node *n, struct kiln_error **err)
{
	int fd;

	if (n->parent_fd < 0)
		fd = fcntl(n->fd, F_DUPFD_CLOEXEC, 3);
	else
		fd = openat(n->parent_fd, n->name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "open '%s'", n->rel.len ? n->rel.buf : n->name);
	if (n->parent_fd < 0 && lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return err_sys(err, errno, "seek '%s'", n->name);
	}
	return fd;
}

int copy_node_readlink(const struct copy_node *n, struct strbuf *ret, struct kiln_error **err)
{
	char buf[4096];
	ssize_t len = readlinkat(n->parent_fd, n->name, buf, sizeof(buf) - 1);

	if (len < 0)
		return err_sys(err, errno, "readlink '%s'", n->rel.buf);
	strbuf_reset(ret);
	strbuf_add(ret, buf, (size_t)len);
	return 0;
}
