/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stat cache: (path, size, mtime_ns, ctime_ns, ino, dev) -> SHA-256 of the
 * content, so a no-op rebuild does not re-read the context. The ctime is
 * git's addition: a rewrite in place that restores the mtime (rsync
 * --inplace -t) still changes it. One text line per entry:
 *
 *	HEX64 SIZE MTIME_NS CTIME_NS INO DEV PATH\n
 *
 * Paths with a newline are never stored. An open-addressing hash table on the
 * path keeps a lookup at one probe or two for 20,000 entries.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define RACY_NS (2LL * 1000000000LL)

struct sc_entry {
	char *path;
	uint64_t hash;
	uint64_t size, mtime_ns, ctime_ns, ino, dev;
	unsigned char digest[32];
	bool used; /* looked up or stored since loading */
	bool racy; /* good for this build only: never saved */
};

struct copy_stat_cache {
	pthread_mutex_t lock; /* the digest pass and copy_run() of parallel stages */
	int dir_fd;
	char *name;
	struct sc_entry *slots;
	size_t n, cap; /* cap is a power of two */
	bool dirty;
	int64_t now_ns;
	size_t n_used;
};

static struct sc_entry *find_slot(struct copy_stat_cache *c, const char *path, uint64_t h)
{
	size_t i = h & (c->cap - 1);

	while (c->slots[i].path && (c->slots[i].hash != h || !streq(c->slots[i].path, path)))
		i = (i + 1) & (c->cap - 1);
	return &c->slots[i];
}

static void grow(struct copy_stat_cache *c)
{
	struct sc_entry *old = c->slots;
	size_t oldcap = c->cap;

	c->cap = oldcap ? oldcap * 2 : 1024;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].path)
			*find_slot(c, old[i].path, old[i].hash) = old[i];
	free(old);
}

static struct sc_entry *insert(struct copy_stat_cache *c, const char *path)
{
	uint64_t h = fnv1a64(path);
	struct sc_entry *e;

	if ((c->n + 1) * 4 > c->cap * 3)
		grow(c);
	e = find_slot(c, path, h);
	if (!e->path) {
		e->path = xstrdup(path);
		e->hash = h;
		c->n++;
	}
	return e;
}

int copy_hex_decode(const char *hex, unsigned char out[32])
{
	char buf[DIGEST_HEX_LEN + 1];
	struct digest d;

	memcpy(buf, hex, DIGEST_HEX_LEN);
	buf[DIGEST_HEX_LEN] = '\0';
	if (digest_parse_hex(buf, &d, NULL) < 0)
		return -EINVAL;
	memcpy(out, d.raw, DIGEST_RAW_LEN);
	return 0;
}

/* A decimal number followed by one space; NULL when malformed. */
static char *parse_u64(char *p, uint64_t *ret)
{
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	*ret = v;
	return *p == ' ' ? p + 1 : NULL;
}

static void parse_line(struct copy_stat_cache *c, char *line, size_t len)
{
	unsigned char digest[32];
	uint64_t v[5];
	char *p = line + 65;
	struct sc_entry *e;

	if (len < 66 || line[64] != ' ' || copy_hex_decode(line, digest) < 0)
		return;
	for (size_t i = 0; i < 5 && p; i++)
		p = parse_u64(p, &v[i]);
	if (!p || !*p)
		return;
	e = insert(c, p);
	e->size = v[0];
	e->mtime_ns = v[1];
	e->ctime_ns = v[2];
	e->ino = v[3];
	e->dev = v[4];
	memcpy(e->digest, digest, 32);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct copy_stat_cache *copy_stat_cache_load(int dir_fd, const char *name)
{
	struct copy_stat_cache *c = xcalloc(1, sizeof(*c));
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	pthread_mutex_init(&c->lock, NULL);
	c->dir_fd = dir_fd;
	c->name = xstrdup(name);
	c->now_ns = now_ns();
	if (strbuf_read_file(&sb, dir_fd, name, NULL) < 0) {
		grow(c);
		return c;
	}
	/* about 100 bytes a line, at most 3/4 full */
	c->cap = 512;
	while (c->cap * 3 / 4 < sb.len / 64)
		c->cap *= 2;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	for (char *line = sb.buf; line && *line;) {
		char *nl = strchr(line, '\n');

		if (!nl)
			break; /* a torn last line is dropped */
		*nl = '\0';
		parse_line(c, line, (size_t)(nl - line));
		line = nl + 1;
	}
	return c;
}

static uint64_t ns_of(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

static bool get_locked(struct copy_stat_cache *c, const char *path, const struct stat *st,
		       unsigned char digest[32])
{
	struct sc_entry *e = find_slot(c, path, fnv1a64(path));

	if (e->path && !e->used) {
		e->used = true;
		c->n_used++;
	}
	if (!e->path || e->size != (uint64_t)st->st_size || e->mtime_ns != ns_of(&st->st_mtim) ||
	    e->ctime_ns != ns_of(&st->st_ctim) || e->ino != (uint64_t)st->st_ino ||
	    e->dev != (uint64_t)st->st_dev)
		return false;
	memcpy(digest, e->digest, 32);
	return true;
}

bool copy_stat_cache_get(struct copy_stat_cache *c, const char *path, const struct stat *st,
			 unsigned char digest[32])
{
	bool r;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	r = get_locked(c, path, st, digest);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * A racy entry (see the header) is kept in memory for the rest of the build,
 * where the copy after the digest pass looks it up, and never saved.
 */
static void put_locked(struct copy_stat_cache *c, const char *path, const struct stat *st,
		       const unsigned char digest[32])
{
	struct sc_entry *e = insert(c, path);

	if (!e->used) {
		e->used = true;
		c->n_used++;
	}
	e->racy = (int64_t)ns_of(&st->st_mtim) > c->now_ns - RACY_NS ||
		  (int64_t)ns_of(&st->st_ctim) > c->now_ns - RACY_NS;
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = ns_of(&st->st_mtim);
	e->ctime_ns = ns_of(&st->st_ctim);
	e->ino = (uint64_t)st->st_ino;
	e->dev = (uint64_t)st->st_dev;
	memcpy(e->digest, digest, 32);
	c->dirty = true;
}

void copy_stat_cache_put(struct copy_stat_cache *c, const char *path, const struct stat *st,
			 const unsigned char digest[32])
{
	if (!c || strchr(path, '\n'))
		return;
	pthread_mutex_lock(&c->lock);
	put_locked(c, path, st, digest);
	pthread_mutex_unlock(&c->lock);
}

static void add_hex(struct strbuf *sb, const unsigned char raw[DIGEST_RAW_LEN])
{
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;

	memcpy(d.raw, raw, DIGEST_RAW_LEN);
	strbuf_addstr(sb, digest_hex(&d, hex));
	sb->buf[sb->len] = '\0';
}

/*
 * Entries nobody looked at since loading are dropped once they outnumber
 * the used ones twice over (plus some slack): files renamed or deleted do
 * not pile up, and a build that stopped early loses little.
 */
int copy_stat_cache_save(struct copy_stat_cache *c, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	bool prune;

	if (!c)
		return 0;
	prune = c->n > 2 * c->n_used + 1024;
	if (!c->dirty && !prune)
		return 0;
	for (size_t i = 0; i < c->cap; i++) {
		const struct sc_entry *e = &c->slots[i];

		if (!e->path || e->racy || (prune && !e->used))
			continue;
		add_hex(&sb, e->digest);
		strbuf_addf(&sb,
			    " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
			    e->size, e->mtime_ns, e->ctime_ns, e->ino, e->dev, e->path);
	}
	if (fs_atomic_write(c->dir_fd, c->name, sb.buf, sb.len, 0644, err) < 0)
		return err_wrap(err, "save stat cache '%s'", c->name);
	c->dirty = false;
	return 0;
}

void copy_stat_cache_free(struct copy_stat_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->slots[i].path);
	free(c->slots);
	free(c->name);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
