/* SPDX-License-Identifier: Apache-2.0 */
/* kiln fsck and kiln prune: checking and sweeping the store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ---- a set of digests ---- */

struct digest_set {
	struct digest *v;
	size_t n, alloc;
	bool sorted;
};

static void set_add(struct digest_set *set, const struct digest *d)
{
	ALLOC_GROW(set->v, set->n + 1, set->alloc);
	set->v[set->n++] = *d;
	set->sorted = false;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct digest));
}

static bool set_has(struct digest_set *set, const struct digest *d)
{
	if (!set->sorted && set->n)
		qsort(set->v, set->n, sizeof(*set->v), cmp_digest);
	set->sorted = true;
	return set->n && bsearch(d, set->v, set->n, sizeof(*set->v), cmp_digest);
}

/* ---- walking the references ---- */

struct walk {
	struct store *s;
	struct digest_set blobs, diff_ids;
	void (*report)(void *ctx, const char *problem);
	void *ctx;
	int problems;
};

static void problem(struct walk *w, const char *fmt, ...) _printf_(2, 3);
static void problem(struct walk *w, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	w->problems++;
	if (w->report)
		w->report(w->ctx, msg);
}

static void mark_image(struct walk *w, const char *what, const struct digest *d);

static void mark_index(struct walk *w, const char *what, const json_t *idx)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		struct digest d;

		if (json_get_digest(e, "digest", &d, NULL) < 0) {
			problem(w, "%s: manifest %zu has no valid digest", what, i + 1);
			continue;
		}
		/* an index a build pulled holds only the platforms it was built for */
		if (!store_blob_exists(w->s, &d, NULL))
			continue;
		mark_image(w, what, &d);
	}
}

static void mark_blob(struct walk *w, const char *what, const json_t *desc, const char *kind)
{
	char buf[DIGEST_STR_SIZE];
	json_int_t want = json_integer_value(json_object_get(desc, "size"));
	struct digest d;
	uint64_t size;

	if (json_get_digest(desc, "digest", &d, NULL) < 0)
		return problem(w, "%s: %s descriptor has no valid digest", what, kind);
	set_add(&w->blobs, &d);
	if (!store_blob_exists(w->s, &d, &size))
		return problem(w, "%s: %s blob '%s' is missing", what, kind,
			       digest_format(&d, buf));
	if (json_object_get(desc, "size") && (uint64_t)want != size)
		problem(w, "%s: %s blob '%s' has %llu bytes, the descriptor says %lld", what, kind,
			digest_format(&d, buf), (unsigned long long)size, (long long)want);
}

static void mark_manifest(struct walk *w, const char *what, const json_t *m)
{
	json_t *config = json_object_get(m, "config"), *e;
	_cleanup_(json_decrefp) json_t *cj = NULL;
	json_t *diff_ids;
	struct digest d;
	size_t i;

	mark_blob(w, what, config, "config");
	json_array_foreach(json_object_get(m, "layers"), i, e)
		mark_blob(w, what, e, "layer");
	if (json_get_digest(config, "digest", &d, NULL) < 0 ||
	    store_blob_read_json(w->s, &d, &cj, NULL) < 0)
		return;
	diff_ids = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
	if (json_array_size(diff_ids) != json_array_size(json_object_get(m, "layers")))
		problem(w, "%s: the config lists %zu diff_ids for %zu layers", what,
			json_array_size(diff_ids), json_array_size(json_object_get(m, "layers")));
	json_array_foreach(diff_ids, i, e)
		if (digest_parse(json_string_value(e), &d, NULL) >= 0)
			set_add(&w->diff_ids, &d);
}

static void mark_image(struct walk *w, const char *what, const struct digest *d)
{
	_cleanup_(json_decrefp) json_t *m = NULL;
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	char buf[DIGEST_STR_SIZE];

	set_add(&w->blobs, d);
	if (store_blob_read_json(w->s, d, &m, &e) < 0)
		return problem(w, "%s: manifest '%s': %s", what, digest_format(d, buf), e->msg);
	if (json_is_array(json_object_get(m, "manifests")))
		mark_index(w, what, m);
	else
		mark_manifest(w, what, m);
}

static int mark_all(struct walk *w, struct kiln_error **err)
{
	struct store_image_ref *refs = NULL;
	size_t n = 0;
	int r = store_list(w->s, &refs, &n, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char buf[DIGEST_STR_SIZE];
		_cleanup_free_ char *what =
			xasprintf("image '%s'", refs[i].name ? refs[i].name
							     : digest_format(&refs[i].digest, buf));

		mark_image(w, what, &refs[i].digest);
	}
	store_image_refs_free(refs, n);
	return 0;
}

/* ---- fsck ---- */

static int hash_fd(int fd, struct digest *ret, struct kiln_error **err)
{
	_cleanup_(sha256_freep) struct sha256 *h = sha256_new();
	_cleanup_free_ char *buf = xmalloc(1 << 17);

	for (;;) {
		ssize_t n = fs_read_all(fd, buf, 1 << 17, err);

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		sha256_update(h, buf, (size_t)n);
	}
	sha256_final(h, ret);
	return 0;
}

static int list_dir(int dfd, struct strv *ret, struct kiln_error **err)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_sys(err, errno, "open directory");
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			strv_push(ret, de->d_name);
	closedir(d);
	return 0;
}

static void check_blob(struct walk *w, int blobs, const char *name)
{
	char buf[DIGEST_STR_SIZE];
	_cleanup_close_ int fd = -1;
	struct digest want, got;

	if (digest_parse_hex(name, &want, NULL) < 0)
		return problem(w, "blobs/sha256/%s: not a digest name", name);
	fd = openat(blobs, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || hash_fd(fd, &got, NULL) < 0)
		return problem(w, "blob 'sha256:%s': cannot be read: %s", name, strerror(errno));
	if (!digest_eq(&want, &got))
		problem(w, "blob 'sha256:%s' is damaged: its content has digest '%s'", name,
			digest_format(&got, buf));
}

int store_fsck(struct store *s, void (*report)(void *ctx, const char *problem), void *ctx,
	       struct kiln_error **err)
{
	struct walk w = {.s = s, .report = report, .ctx = ctx};
	_cleanup_strv_ struct strv names = STRV_INIT;
	int r = list_dir(s->dirfds[STORE_DIR_BLOBS], &names, err);

	if (r >= 0)
		r = mark_all(&w, err);
	strv_foreach(&names, it)
		if (r >= 0)
			check_blob(&w, s->dirfds[STORE_DIR_BLOBS], *it);
	free(w.blobs.v);
	free(w.diff_ids.v);
	return r < 0 ? r : w.problems;
}

/* ---- prune ---- */

/* Keep every "sha256:<hex>" mentioned in the step cache's files. */
static void mark_cache_file(struct walk *w, int dfd, const char *name)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct digest d;

	if (strbuf_read_file(&sb, dfd, name, NULL) < 0)
		return;
	for (const char *p = sb.buf; (p = strstr(p, "sha256:")); p += 7) {
		char hex[DIGEST_HEX_LEN + 1];

		if (strlen(p + 7) < DIGEST_HEX_LEN)
			break;
		memcpy(hex, p + 7, DIGEST_HEX_LEN);
		hex[DIGEST_HEX_LEN] = '\0';
		if (digest_parse_hex(hex, &d, NULL) >= 0) {
			set_add(&w->blobs, &d);
			set_add(&w->diff_ids, &d);
		}
	}
}

static void mark_cache_dir(struct walk *w, int dfd, int depth)
{
	_cleanup_strv_ struct strv names = STRV_INIT;

	if (depth > 4 || list_dir(dfd, &names, NULL) < 0)
		return;
	strv_foreach(&names, it) {
		struct stat st;

		if (fstatat(dfd, *it, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			mark_cache_file(w, dfd, *it);
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
				openat(dfd, *it, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				mark_cache_dir(w, sub, depth + 1);
		}
	}
}

static uint64_t du(int dfd, const char *name)
{
	struct stat st;
	uint64_t total;
	_cleanup_strv_ struct strv names = STRV_INIT;
	_cleanup_close_ int sub = -1;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	total = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return total;
	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0 || list_dir(sub, &names, NULL) < 0)
		return total;
	strv_foreach(&names, it)
		total += du(sub, *it);
	return total;
}

struct sweep {
	struct walk *w;
	bool clear_cache;
	const struct store_cache_budget *budget; /* trim cache/ instead of emptying it */
	bool only_trimmed; /* free only what the trimmed entries alone kept */
	void (*report)(void *ctx, const char *what, uint64_t size);
	void *ctx;
	uint64_t freed;
};

static int sweep_dir(struct sweep *sw, enum store_dir which, struct digest_set *keep,
		     struct kiln_error **err)
{
	static const char *const label[] = {
		[STORE_DIR_BLOBS] = "blob sha256:",  [STORE_DIR_SNAPSHOTS] = "snapshot ",
		[STORE_DIR_CACHE] = "cache/",	     [STORE_DIR_TMP] = "tmp/",
		[STORE_DIR_BLOCKS] = "block index ", [STORE_DIR_DIFFIDS] = "diffID record "};
	int dfd = sw->w->s->dirfds[which];
	_cleanup_strv_ struct strv names = STRV_INIT;
	int r = list_dir(dfd, &names, err);

	strv_foreach(&names, it) {
		struct digest d;
		uint64_t size;

		if (r < 0)
			break;
		if (keep && digest_parse_hex(*it, &d, NULL) >= 0 && set_has(keep, &d))
			continue;
		size = du(dfd, *it);
		r = fs_rm_rf(dfd, *it, err);
		if (r < 0)
			break;
		sw->freed += size;
		if (sw->report) {
			_cleanup_free_ char *what = xasprintf("%s%s", label[which], *it);

			sw->report(sw->ctx, what, size);
		}
	}
	return r;
}

/* ---- trimming the cache to a budget ---- */

/*
 * An entry of cache/ that may go: a step cache entry (a file named by its key's hex,
 * with the incremental COPY file list "<hex>.files" that goes with it) or a RUN
 * --mount=type=cache directory (mounts/<hex>). Its mtime says when a build last
 * wrote or used it (builder/cache.c and mounts.c touch them on a hit). Anything else
 * in cache/ (the stat cache) stays, and keeps what it names.
 */
struct cache_item {
	char *name; /* "<hex>" or "mounts/<hex>" */
	int64_t used; /* ns since 1970 */
	uint64_t own; /* its own files */
	struct strv refs; /* the digests (hex) it names that no image or kept file reaches */
};

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static bool is_hex_name(const char *name, size_t len)
{
	if (len != DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* Each "sha256:<hex>" of @name, below @dfd, into @ret (hex). */
static void file_refs(int dfd, const char *name, struct strv *ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	if (strbuf_read_file(&sb, dfd, name, NULL) < 0)
		return;
	for (const char *p = sb.buf; (p = strstr(p, "sha256:")); p += 7) {
		if (strlen(p + 7) < DIGEST_HEX_LEN)
			break;
		if (is_hex_name(p + 7, DIGEST_HEX_LEN))
			strv_push_take(ret, xstrndup(p + 7, DIGEST_HEX_LEN));
	}
}

static struct cache_item *item_get(struct cache_item **v, size_t *n, size_t *alloc,
				   const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (streq((*v)[i].name, name))
			return &(*v)[i];
	ALLOC_GROW(*v, *n + 1, *alloc);
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].name = xstrdup(name);
	(*v)[*n].used = INT64_MIN;
	return &(*v)[(*n)++];
}

struct trim {
	struct sweep *sw;
	struct cache_item *v;
	size_t n, alloc;
	json_t *count; /* hex -> entries still naming it */
	json_t *cost; /* hex -> bytes its blob, snapshot and records take */
	uint64_t total;
};

/* The step entries and their file lists: items; other files: kept, with what they name. */
static void list_entries(struct trim *t, int cache)
{
	_cleanup_strv_ struct strv names = STRV_INIT;

	list_dir(cache, &names, NULL);
	strv_foreach(&names, it) {
		size_t len = strcspn(*it, ".");
		struct cache_item *item;
		struct stat st;

		if (fstatat(cache, *it, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!is_hex_name(*it, len) || ((*it)[len] && !streq(*it + len, ".files"))) {
			mark_cache_file(t->sw->w, cache, *it);
			continue;
		}
		_cleanup_free_ char *hex = xstrndup(*it, len);
		item = item_get(&t->v, &t->n, &t->alloc, hex);
		if (!(*it)[len] || item->used == INT64_MIN)
			item->used = ts_ns(&st.st_mtim);
		item->own += (uint64_t)st.st_blocks * 512;
		file_refs(cache, *it, &item->refs);
	}
}

static void list_mounts(struct trim *t, int cache)
{
	_cleanup_strv_ struct strv names = STRV_INIT;
	_cleanup_close_ int mounts =
		openat(cache, "mounts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (mounts < 0 || list_dir(mounts, &names, NULL) < 0)
		return;
	strv_foreach(&names, it) {
		_cleanup_free_ char *name = xasprintf("mounts/%s", *it);
		struct cache_item *item;
		struct stat st;

		if (fstatat(mounts, *it, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    !is_hex_name(*it, strlen(*it)))
			continue;
		item = item_get(&t->v, &t->n, &t->alloc, name);
		item->used = ts_ns(&st.st_mtim);
		item->own = du(mounts, *it);
	}
}

/* What freeing digest @hex gives back: each store directory's entry of that name. */
static uint64_t digest_cost(struct store *s, const char *hex)
{
	static const enum store_dir dirs[] = {STORE_DIR_BLOBS, STORE_DIR_SNAPSHOTS,
					      STORE_DIR_BLOCKS, STORE_DIR_DIFFIDS};
	uint64_t total = 0;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		total += du(s->dirfds[dirs[i]], hex);
	return total;
}

/* Count each item's digests that nothing kept reaches; the cache's total size. */
static void count_refs(struct trim *t)
{
	struct walk *w = t->sw->w;

	for (size_t i = 0; i < t->n; i++) {
		struct cache_item *item = &t->v[i];
		struct strv kept = STRV_INIT;

		t->total += item->own;
		strv_foreach(&item->refs, hex) {
			struct digest d;
			json_t *c;

			if (digest_parse_hex(*hex, &d, NULL) < 0 || set_has(&w->blobs, &d) ||
			    set_has(&w->diff_ids, &d) || strv_find(&kept, *hex) >= 0)
				continue;
			strv_push(&kept, *hex);
			c = json_object_get(t->count, *hex);
			if (c) {
				json_integer_set(c, json_integer_value(c) + 1);
				continue;
			}
			uint64_t cost = digest_cost(w->s, *hex);

			json_object_set_new(t->count, *hex, json_integer(1));
			json_object_set_new(t->cost, *hex, json_integer((json_int_t)cost));
			t->total += cost;
		}
		strv_clear(&item->refs);
		item->refs = kept;
	}
}

static int cmp_item(const void *a, const void *b)
{
	const struct cache_item *x = a, *y = b;

	if (x->used != y->used)
		return x->used < y->used ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Remove one item's files; with only_trimmed, the digests no entry names any more too. */
static int drop_item(struct trim *t, struct cache_item *item, int cache, struct kiln_error **err)
{
	_cleanup_free_ char *files = xasprintf("%s.files", item->name);
	int r = fs_rm_rf(cache, item->name, err);

	if (r < 0)
		return r;
	unlinkat(cache, files, 0);
	t->total -= item->own;
	t->sw->freed += item->own;
	if (t->sw->report) {
		_cleanup_free_ char *what = xasprintf("cache/%s", item->name);

		t->sw->report(t->sw->ctx, what, item->own);
	}
	strv_foreach(&item->refs, hex) {
		json_t *c = json_object_get(t->count, *hex);

		json_integer_set(c, json_integer_value(c) - 1);
		if (json_integer_value(c) == 0)
			t->total -= (uint64_t)json_integer_value(json_object_get(t->cost, *hex));
	}
	return 0;
}

/* The digests only dropped entries named (after a build: nothing else is swept). */
static int free_unnamed(struct trim *t, struct kiln_error **err)
{
	static const enum store_dir dirs[] = {STORE_DIR_BLOBS, STORE_DIR_SNAPSHOTS,
					      STORE_DIR_BLOCKS, STORE_DIR_DIFFIDS};
	static const char *const label[] = {"blob sha256:", "snapshot ", "block index ",
					    "diffID record "};
	const char *hex;
	json_t *c;
	int r = 0;

	json_object_foreach(t->count, hex, c) {
		if (json_integer_value(c) != 0)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(dirs) && r >= 0; i++) {
			int dfd = t->sw->w->s->dirfds[dirs[i]];
			uint64_t size = du(dfd, hex);
			struct stat st;

			if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			r = fs_rm_rf(dfd, hex, err);
			t->sw->freed += size;
			if (r >= 0 && t->sw->report) {
				_cleanup_free_ char *what = xasprintf("%s%s", label[i], hex);

				t->sw->report(t->sw->ctx, what, size);
			}
		}
	}
	return r;
}

/* Drop the least recently used entries until the cache fits the budget. */
static int trim_cache(struct sweep *sw, struct kiln_error **err)
{
	const struct store_cache_budget *b = sw->budget;
	int cache = sw->w->s->dirfds[STORE_DIR_CACHE];
	struct trim t = {.sw = sw, .count = json_object(), .cost = json_object()};
	struct timespec ts;
	int64_t now;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts_ns(&ts);
	list_entries(&t, cache);
	list_mounts(&t, cache);
	count_refs(&t);
	qsort(t.v, t.n, sizeof(*t.v), cmp_item);
	for (size_t i = 0; i < t.n && r >= 0; i++) {
		bool old = b->until > 0 && t.v[i].used < now - b->until * 1000000000;

		if (old || t.total > b->keep_storage)
			r = drop_item(&t, &t.v[i], cache, err);
	}
	if (r >= 0 && sw->only_trimmed)
		r = free_unnamed(&t, err);
	if (b->ret_kept)
		*b->ret_kept = t.total;
	for (size_t i = 0; i < t.n; i++) {
		free(t.v[i].name);
		strv_clear(&t.v[i].refs);
	}
	free(t.v);
	json_decref(t.count);
	json_decref(t.cost);
	return r;
}

static int prune_locked(struct sweep *sw, const struct digest *keep, size_t n_keep,
			struct kiln_error **err)
{
	struct walk *w = sw->w;
	int r = mark_all(w, err);

	if (r < 0)
		return r;
	if (w->problems)
		return err_new(err, KILN_ERR_INPUT, EUCLEAN,
			       "the store has %d problems (see 'kiln fsck'); not pruning",
			       w->problems);
	for (size_t i = 0; i < n_keep; i++) {
		set_add(&w->blobs, &keep[i]);
		set_add(&w->diff_ids, &keep[i]);
	}
	if (sw->budget) {
		r = trim_cache(sw, err);
		if (r < 0 || sw->only_trimmed)
			return r;
	} else if (sw->clear_cache) {
		r = sweep_dir(sw, STORE_DIR_CACHE, NULL, err);
		if (r < 0)
			return r;
	}
	mark_cache_dir(w, w->s->dirfds[STORE_DIR_CACHE], 0);
	r = sweep_dir(sw, STORE_DIR_TMP, NULL, err);
	if (r >= 0)
		r = sweep_dir(sw, STORE_DIR_BLOBS, &w->blobs, err);
	if (r >= 0)
		r = sweep_dir(sw, STORE_DIR_SNAPSHOTS, &w->diff_ids, err);
	if (r >= 0)
		r = sweep_dir(sw, STORE_DIR_BLOCKS, &w->blobs, err);
	if (r >= 0)
		r = sweep_dir(sw, STORE_DIR_DIFFIDS, &w->blobs, err);
	return r;
}

int store_prune(struct store *s, const struct digest *keep, size_t n_keep,
		void (*report)(void *ctx, const char *what, uint64_t size), void *ctx,
		uint64_t *ret_freed, struct kiln_error **err)
{
	return store_prune_flags(s, keep, n_keep, 0, report, ctx, ret_freed, err);
}

static int prune_sweep(struct store *s, struct sweep *sw, const struct digest *keep, size_t n_keep,
		       uint64_t *ret_freed, struct kiln_error **err)
{
	_cleanup_close_ int lock = -1;
	int r;

	/* every other kiln holds the gc lock shared while it has the store open */
	if (flock(s->gc_lock, LOCK_EX | LOCK_NB) < 0)
		return err_new(err, KILN_ERR_SYSTEM, errno == EWOULDBLOCK ? EBUSY : errno,
			       "store '%s' is in use by another kiln process; try again later",
			       s->root);
	lock = fs_lock(s->dirfds[STORE_DIR_ROOT], STORE_LOCK_NAME, false, err);
	if (lock < 0) {
		flock(s->gc_lock, LOCK_SH);
		return lock;
	}
	r = prune_locked(sw, keep, n_keep, err);
	flock(s->gc_lock, LOCK_SH);
	free(sw->w->blobs.v);
	free(sw->w->diff_ids.v);
	if (r < 0)
		return r;
	if (ret_freed)
		*ret_freed = sw->freed;
	return 0;
}

int store_prune_flags(struct store *s, const struct digest *keep, size_t n_keep,
		      enum store_prune_flags flags,
		      void (*report)(void *ctx, const char *what, uint64_t size), void *ctx,
		      uint64_t *ret_freed, struct kiln_error **err)
{
	struct walk w = {.s = s};
	struct sweep sw = {
		.w = &w, .clear_cache = flags & STORE_PRUNE_CACHE, .report = report, .ctx = ctx};

	return prune_sweep(s, &sw, keep, n_keep, ret_freed, err);
}

int store_prune_cache(struct store *s, const struct store_cache_budget *b,
		      enum store_prune_flags flags,
		      void (*report)(void *ctx, const char *what, uint64_t size), void *ctx,
		      uint64_t *ret_freed, struct kiln_error **err)
{
	struct walk w = {.s = s};
	struct sweep sw = {.w = &w,
			   .budget = b,
			   .only_trimmed = flags & STORE_PRUNE_ONLY_TRIMMED,
			   .report = report,
			   .ctx = ctx};

	return prune_sweep(s, &sw, NULL, 0, ret_freed, err);
}
