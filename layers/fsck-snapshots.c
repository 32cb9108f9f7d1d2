/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln fsck --snapshots: is each snapshots/<diffID> still what its layer
 * unpacks to? A layer blob of that diffID (from an image, or from diffids/)
 * is unpacked again into tmp/, its diffID checked on the way, and both trees
 * are listed entry by entry (path, type, mode, owner, size, device, content
 * digest, link target, the xattrs layers keep, the opaque marker) in byte
 * order of paths, then compared. Times are left out: a step's upperdir keeps
 * its own, the tar has them clamped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define MAX_SHOWN 5 /* differing paths reported per snapshot */

/* ---- listing a tree ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hash_file(int fd, struct strbuf *line)
{
	_cleanup_(sha256_freep) struct sha256 *h = sha256_new();
	_cleanup_free_ char *buf = xmalloc(1 << 16);
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;
	ssize_t n;

	while ((n = read(fd, buf, 1 << 16)) > 0)
		sha256_update(h, buf, (size_t)n);
	if (n < 0) {
		strbuf_addf(line, " unreadable:%d", errno);
		return;
	}
	sha256_final(h, &d);
	strbuf_addf(line, " %s", digest_hex(&d, hex));
}

static bool xattr_listed(const char *name)
{
	if (streq(name, "security.capability"))
		return true;
	return startswith(name, "user.") && !startswith(name, "user.overlay.");
}

static void add_xattrs(int fd, struct strbuf *line)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	char list[8192], value[4096];
	ssize_t n = flistxattr(fd, list, sizeof(list));

	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1)
		if (xattr_listed(list + off))
			strv_push(&names, list + off);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	strv_foreach(&names, it) {
		ssize_t len = fgetxattr(fd, *it, value, sizeof(value));

		strbuf_addf(line, " %s=", *it);
		for (ssize_t i = 0; i < len; i++)
			strbuf_addf(line, "%02x", (unsigned char)value[i]);
	}
	if ((fgetxattr(fd, "user.overlay.opaque", value, 1) == 1 ||
	     fgetxattr(fd, "trusted.overlay.opaque", value, 1) == 1) &&
	    value[0] == 'y')
		strbuf_addstr(line, " opaque");
}

/* One entry's line; *ret_dir is an open fd when @name is a directory to descend into. */
static char *entry_line(int dfd, const char *path, const char *name, int *ret_dir)
{
	struct strbuf line = STRBUF_INIT;
	char target[4096];
	struct stat st;
	int fd = -1;

	*ret_dir = -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		strbuf_addf(&line, "%s unstatable:%d", path, errno);
		return strbuf_detach(&line, NULL);
	}
	strbuf_addf(&line, "%s %06o %u:%u", path, (unsigned)st.st_mode, (unsigned)st.st_uid,
		    (unsigned)st.st_gid);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		target[n < 0 ? 0 : n] = '\0';
		strbuf_addf(&line, " -> %s", target);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		strbuf_addf(&line, " %u,%u", major(st.st_rdev), minor(st.st_rdev));
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			strbuf_addf(&line, " unreadable:%d", errno);
	}
	if (fd >= 0 && S_ISREG(st.st_mode)) {
		strbuf_addf(&line, " %" PRIu64, (uint64_t)st.st_size);
		hash_file(fd, &line);
	}
	if (fd >= 0)
		add_xattrs(fd, &line);
	if (fd >= 0 && S_ISDIR(st.st_mode))
		*ret_dir = fd;
	else if (fd >= 0)
		close(fd);
	return strbuf_detach(&line, NULL);
}

static void list_tree(int dfd, const char *prefix, unsigned depth, struct strv *out)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		strv_pushf(out, "%s/ unlistable:%d", prefix, errno);
		return;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&names, de->d_name);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	strv_foreach(&names, it) {
		_cleanup_free_ char *path = xasprintf("%s/%s", prefix, *it);
		int sub;

		strv_push_take(out, entry_line(dirfd(d), path, *it, &sub));
		if (sub >= 0 && depth < 4096)
			list_tree(sub, path, depth + 1, out);
		if (sub >= 0)
			close(sub);
	}
	closedir(d);
}

/* ---- comparing ---- */

static size_t path_len(const char *line)
{
	const char *sp = strchr(line, ' ');

	return sp ? (size_t)(sp - line) : strlen(line);
}

static int cmp_path(const char *a, const char *b)
{
	size_t la = path_len(a), lb = path_len(b);
	int c = memcmp(a, b, MIN(la, lb));

	return c ? c : (la > lb) - (la < lb);
}

/* The differences of @have from @want, as "changed", "missing" and "unexpected" paths. */
static size_t compare_trees(const struct strv *want, const struct strv *have, struct strv *ret)
{
	size_t i = 0, j = 0, n = 0;

	while (i < want->n || j < have->n) {
		int c = i == want->n ? 1 : j == have->n ? -1 : cmp_path(want->v[i], have->v[j]);
		const char *kind = NULL, *line = c <= 0 ? want->v[i] : have->v[j];

		if (c == 0 && !streq(want->v[i], have->v[j]))
			kind = "changed";
		else if (c < 0)
			kind = "missing";
		else if (c > 0)
			kind = "unexpected";
		if (kind && n++ < MAX_SHOWN)
			strv_pushf(ret, "%s '%.*s'", kind, (int)path_len(line) - 1, line + 1);
		i += c <= 0;
		j += c >= 0;
	}
	return n;
}

/* ---- which blob unpacks to each diffID ---- */

struct pair {
	struct digest diff_id, blob;
	enum layer_compression compression;
};

struct pairs {
	struct pair *v;
	size_t n, alloc;
};

static void pairs_add(struct pairs *p, const struct layer_desc *l)
{
	for (size_t i = 0; i < p->n; i++)
		if (digest_eq(&p->v[i].diff_id, &l->diff_id))
			return;
	ALLOC_GROW(p->v, p->n + 1, p->alloc);
	p->v[p->n++] = (struct pair){l->diff_id, l->digest, l->compression};
}

static void pairs_from_images(struct store *s, struct pairs *p)
{
	struct store_image_ref *refs = NULL;
	size_t n = 0;

	if (store_list(s, &refs, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		_cleanup_(image_freep) struct image *img = NULL;

		if (image_read(s, &refs[i].digest, &img, NULL) < 0)
			continue; /* plain fsck reports it */
		for (size_t k = 0; k < img->n_layers; k++)
			pairs_add(p, &img->layers[k]);
	}
	store_image_refs_free(refs, n);
}

/* diffids/<blob hex> records (layers of the step cache, of untagged builds). */
static void pairs_from_records(struct store *s, struct pairs *p)
{
	int dfd = s->dirfds[STORE_DIR_DIFFIDS];
	_cleanup_strv_ struct strv names = STRV_INIT;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.')
			strv_push(&names, de->d_name);
	closedir(d);
	strv_foreach(&names, it) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		struct layer_desc l = {0};

		if (digest_parse_hex(*it, &l.digest, NULL) < 0 ||
		    strbuf_read_file(&sb, dfd, *it, NULL) < 0)
			continue;
		strbuf_trim(&sb);
		if (digest_parse(sb.buf, &l.diff_id, NULL) >= 0 &&
		    store_blob_exists(s, &l.digest, NULL))
			pairs_add(p, &l);
	}
}

static const struct pair *pairs_find(const struct pairs *p, const struct digest *diff_id)
{
	for (size_t i = 0; i < p->n; i++)
		if (digest_eq(&p->v[i].diff_id, diff_id))
			return &p->v[i];
	return NULL;
}

/* ---- one snapshot ---- */

struct fsck_snap {
	struct store *s;
	void (*report)(void *ctx, const char *problem);
	void *ctx;
	int problems;
};

static void snap_problem(struct fsck_snap *f, const char *hex, const char *what)
{
	_cleanup_free_ char *msg = xasprintf("snapshot 'sha256:%s': %s", hex, what);

	f->problems++;
	if (f->report)
		f->report(f->ctx, msg);
}

/* Unpack @p's blob into tmp/@tmpname and list it in @ret. */
static int unpack_listed(struct fsck_snap *f, const struct pair *p, const char *tmpname,
			 struct strv *ret, struct kiln_error **err)
{
	struct layer_desc l = {.digest = p->blob, .diff_id = p->diff_id};
	_cleanup_close_ int blob = store_blob_open(f->s, &l.digest, err);
	_cleanup_close_ int dfd = -1;
	int r;

	if (blob < 0)
		return blob;
	dfd = openat(f->s->dirfds[STORE_DIR_TMP], tmpname,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, errno, "open '%s/tmp/%s'", f->s->root, tmpname);
	r = layers_apply_verified(blob, dfd, LAYERS_APPLY_OVERLAY | LAYERS_APPLY_LAX_OWNER,
				  &l.diff_id, err);
	if (r >= 0)
		list_tree(dfd, "", 0, ret);
	return r;
}

static void check_snapshot(struct fsck_snap *f, const struct pairs *p, const char *hex)
{
	_cleanup_strv_ struct strv want = STRV_INIT, have = STRV_INIT, diffs = STRV_INIT;
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	_cleanup_free_ char *tmpname = NULL;
	_cleanup_close_ int sfd = -1, lock = -1; /* lock: held while tmp/fsck.* lives */
	const struct pair *pair;
	struct digest d;
	size_t n;

	if (digest_parse_hex(hex, &d, NULL) < 0)
		return snap_problem(f, hex, "not a digest name");
	pair = pairs_find(p, &d);
	if (!pair) {
		log_debug("snapshot 'sha256:%s': no layer blob has this diffID, not checked", hex);
		return;
	}
	sfd = openat(f->s->dirfds[STORE_DIR_SNAPSHOTS], hex,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return snap_problem(f, hex, strerror(errno));
	if (store_tmp_mkdir(f->s, "fsck", 0700, &tmpname, &lock, &e) < 0 ||
	    unpack_listed(f, pair, tmpname, &want, &e) < 0) {
		char b[DIGEST_STR_SIZE];
		_cleanup_free_ char *msg = xasprintf("cannot unpack its layer '%s': %s",
						     digest_format(&pair->blob, b), e->msg);

		if (tmpname)
			fs_rm_rf(f->s->dirfds[STORE_DIR_TMP], tmpname, NULL);
		return snap_problem(f, hex, msg);
	}
	fs_rm_rf(f->s->dirfds[STORE_DIR_TMP], tmpname, NULL);
	list_tree(sfd, "", 0, &have);
	n = compare_trees(&want, &have, &diffs);
	if (n) {
		_cleanup_free_ char *list = strv_join(&diffs, ", ");
		_cleanup_free_ char *msg =
			xasprintf("differs from its layer in %zu entr%s: %s%s", n,
				  n == 1 ? "y" : "ies", list, n > MAX_SHOWN ? ", ..." : "");

		snap_problem(f, hex, msg);
	}
}

int store_fsck_snapshots(struct store *s, void (*report)(void *ctx, const char *problem), void *ctx,
			 struct kiln_error **err)
{
	struct fsck_snap f = {.s = s, .report = report, .ctx = ctx};
	_cleanup_strv_ struct strv names = STRV_INIT;
	struct pairs p = {0};
	int fd = openat(s->dirfds[STORE_DIR_SNAPSHOTS], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_sys(err, errno, "open '%s/snapshots'", s->root);
	}
	for (struct dirent *de; (de = readdir(d));)
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(&names, de->d_name);
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	/* the blobs kiln verified first, then the ones images name */
	pairs_from_records(s, &p);
	pairs_from_images(s, &p);
	strv_foreach(&names, it)
		check_snapshot(&f, &p, *it);
	free(p.v);
	return f.problems;
}
