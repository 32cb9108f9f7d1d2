/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer sink: tar bytes in, compressed bytes out, both SHA-256 digests
 * computed on the way, in one streaming pass with bounded memory.
 *
 * gzip is deflated in independent blocks of at most GZ_BLOCK bytes, cut at tar
 * entries the writer marks (layer_sink_mark, blocks.c says how), each a fresh raw
 * deflate stream ending in a sync flush, so it ends on a byte boundary, by a
 * small pool of threads, and concatenated in order into one gzip member with a
 * combined CRC-32. Nothing depends on timing or on the thread count, so the
 * output is the same for any number of threads. Within a block, each 512-byte
 * segment whose bytes look random (order-0 entropy above GZ_STORE_ENTROPY bits
 * per byte) is written at level 0, i.e. stored, and a block that deflate does
 * not shrink, or that looks random as a whole (above GZ_BLOCK_STORE_ENTROPY), is
 * written as stored blocks: decisions taken from the data alone,
 * so random data costs a copy rather than a futile search for matches.
 * Segments match tar's 512-byte records (blocks are multiples of 512), so a
 * random file's data is rarely mixed with a header or another file.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define GZ_BLOCK	 GZ_BLOCK_MAX
#define GZ_STORED_MAX	 65535
#define GZ_SEGMENT	 512
#define GZ_STORE_ENTROPY 7.2
/* a whole block above this many bits per byte is stored without trying deflate */
#define GZ_BLOCK_STORE_ENTROPY 7.95

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct gz_slot {
	unsigned char *in, *out;
	size_t in_len, out_len, out_alloc;
	uint32_t crc, out_crc;
	unsigned char sha[32]; /* of the input, when blocks are indexed */
	enum slot_state state;
	z_stream z; /* raw deflate, reset for every block */
};

struct layer_sink {
	enum layer_compression compression;
	int level;
	layer_out_fn out;
	void *out_ctx;
	struct sha256 *tar_hash, *blob_hash;
	uint64_t out_size;
	/* gzip */
	struct gz_slot *slots;
	size_t n_slots, cur; /* cur: the slot being filled */
	uint32_t crc;
	uint64_t isize;
	pthread_t *workers;
	size_t n_workers;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	bool stop;
	pthread_t emitter; /* writes blocks out in order (with workers) */
	bool header_done; /* the writer's: the gzip header is out */
	struct kiln_error *emit_err; /* the first output error, under lock */
	struct gz_index *reuse; /* an earlier blob's blocks */
	struct gz_index *index; /* this blob's blocks, when kept */
	/* zstd */
	ZSTD_CCtx *zstd;
	unsigned char *zbuf;
	size_t zbuf_size;
};

static int emit(struct layer_sink *k, const void *data, size_t len, struct kiln_error **err)
{
	if (!len)
		return 0;
	if (k->blob_hash)
		sha256_update(k->blob_hash, data, len);
	k->out_size += len;
	return k->out(k->out_ctx, data, len, err);
}

/* ---- one gzip block ---- */

/*
 * Order-0 entropy of @n bytes above GZ_STORE_ENTROPY bits per byte: data that
 * deflate cannot shrink (random, already compressed). n * H = n log2 n -
 * sum(c log2 c), with c log2 c from a table for segment-sized counts.
 */
static float clogc[GZ_SEGMENT + 1];
static pthread_once_t clogc_once = PTHREAD_ONCE_INIT;

static void clogc_init(void)
{
	for (size_t c = 1; c <= GZ_SEGMENT; c++)
		clogc[c] = (float)((double)c * log2((double)c));
}

static bool looks_random(const unsigned char *p, size_t n)
{
	uint32_t hist[256] = {0};
	double sum = 0;

	if (n < 256)
		return false;
	for (size_t i = 0; i < n; i++)
		hist[p[i]]++;
	for (int i = 0; i < 256; i++)
		sum += n <= GZ_SEGMENT ? clogc[hist[i]]
				       : (hist[i] ? (double)hist[i] * log2((double)hist[i]) : 0);
	return (n <= GZ_SEGMENT ? clogc[n] : (double)n * log2((double)n)) - sum >
	       GZ_STORE_ENTROPY * (double)n;
}

/* The same test over a whole block, on every fourth byte (it only has to be cheap and fixed). */
static bool block_looks_random(const unsigned char *p, size_t n)
{
	uint32_t hist[256] = {0};
	size_t m = 0;
	double sum = 0;

	if (n < 4 * GZ_SEGMENT)
		return false;
	for (size_t i = 0; i < n; i += 4, m++)
		hist[p[i]]++;
	for (int i = 0; i < 256; i++)
		sum += hist[i] ? (double)hist[i] * log2((double)hist[i]) : 0;
	return (double)m * log2((double)m) - sum > GZ_BLOCK_STORE_ENTROPY * (double)m;
}

static void store_block(struct gz_slot *s)
{
	unsigned char *o = s->out;
	size_t off = 0;

	while (off < s->in_len) {
		size_t n = MIN(s->in_len - off, (size_t)GZ_STORED_MAX);

		*o++ = 0; /* BFINAL=0, BTYPE=00, then padding to the byte boundary */
		*o++ = (unsigned char)(n & 0xff);
		*o++ = (unsigned char)(n >> 8);
		*o++ = (unsigned char)(~n & 0xff);
		*o++ = (unsigned char)((~n >> 8) & 0xff);
		memcpy(o, s->in + off, n);
		o += n;
		off += n;
	}
	s->out_len = (size_t)(o - s->out);
}

/*
 * One raw deflate stream over the block, segment by segment: segments that
 * look random are written at level 0 (stored), the others at @level; the
 * stream can still refer back into stored data. Ends with a sync flush so the
 * next block starts on a byte boundary. False when the result is not smaller.
 */
static bool deflate_block(struct gz_slot *s, int level)
{
	z_stream *z = &s->z;
	int cur = -1, r = Z_OK;

	if (deflateReset(z) != Z_OK)
		abort();
	z->next_out = s->out;
	z->avail_out = (uInt)s->out_alloc;
	for (size_t off = 0; off < s->in_len && r == Z_OK; off += GZ_SEGMENT) {
		size_t n = MIN((size_t)GZ_SEGMENT, s->in_len - off);
		int want = looks_random(s->in + off, n) ? 0 : level;

		if (want != cur && deflateParams(z, want, Z_DEFAULT_STRATEGY) != Z_OK)
			return false;
		cur = want;
		z->next_in = s->in + off;
		z->avail_in = (uInt)n;
		r = deflate(z, Z_NO_FLUSH);
	}
	if (r != Z_OK || deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in || !z->avail_out)
		return false;
	s->out_len = (size_t)(z->next_out - s->out);
	return s->out_len < s->in_len;
}

unsigned long layer_blocks_reused;

/* Take the compressed bytes of an identical block of the earlier blob. */
static bool reuse_block(const struct gz_index *ix, struct gz_slot *s)
{
	const struct gz_block *b = gz_index_find(ix, s->sha, (uint32_t)s->in_len);

	if (!b || !gz_index_read_block(ix, b, s->out, s->out_alloc))
		return false;
	__atomic_add_fetch(&layer_blocks_reused, 1, __ATOMIC_RELAXED);
	s->out_len = b->out_len;
	s->crc = b->crc;
	s->out_crc = b->out_crc;
	return true;
}

static void compress_slot(struct layer_sink *k, struct gz_slot *s)
{
	if (k->reuse || k->index) {
		struct digest d;

		digest_buffer(s->in, s->in_len, &d);
		memcpy(s->sha, d.raw, sizeof(s->sha));
		if (k->reuse && reuse_block(k->reuse, s))
			return;
	}
	s->crc = (uint32_t)crc32(0, s->in, (uInt)s->in_len);
	if (block_looks_random(s->in, s->in_len) || !deflate_block(s, k->level))
		store_block(s);
	if (k->index)
		s->out_crc = (uint32_t)crc32(0, s->out, (uInt)s->out_len);
}

/* ---- the pool ---- */

/* The oldest block waiting for a thread (the slot after the one being filled); under lock. */
static struct gz_slot *take_ready(struct layer_sink *k)
{
	for (size_t i = 1; i <= k->n_slots; i++) {
		struct gz_slot *c = &k->slots[(k->cur + i) % k->n_slots];

		if (c->state == SLOT_READY) {
			c->state = SLOT_BUSY;
			return c;
		}
	}
	return NULL;
}

/* Compress @s outside the lock (held on entry and on return). */
static void run_slot(struct layer_sink *k, struct gz_slot *s)
{
	pthread_mutex_unlock(&k->lock);
	compress_slot(k, s);
	pthread_mutex_lock(&k->lock);
	s->state = SLOT_DONE;
	pthread_cond_broadcast(&k->done);
}

static void *worker_main(void *arg)
{
	struct layer_sink *k = arg;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		struct gz_slot *s = take_ready(k);

		if (s)
			run_slot(k, s);
		else if (k->stop)
			break;
		else
			pthread_cond_wait(&k->work, &k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static void *emitter_main(void *arg);

static void gz_init(struct layer_sink *k, int threads)
{
	k->n_workers = threads > 1 ? (size_t)threads : 0;
	/* enough blocks in flight to ride out scheduling hiccups (~0.8 MiB per slot) */
	k->n_slots = k->n_workers ? 4 * k->n_workers : 1;
	k->slots = xcalloc(k->n_slots, sizeof(*k->slots));
	for (size_t i = 0; i < k->n_slots; i++) {
		k->slots[i].in = xmalloc(GZ_BLOCK);
		k->slots[i].out_alloc = GZ_BLOCK + GZ_BLOCK / 8 + 1024;
		k->slots[i].out = xmalloc(k->slots[i].out_alloc);
		if (deflateInit2(&k->slots[i].z, k->level, Z_DEFLATED, -15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
	}
	pthread_once(&clogc_once, clogc_init);
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->work, NULL);
	pthread_cond_init(&k->done, NULL);
	k->workers = xcalloc(k->n_workers + 1, sizeof(*k->workers));
	for (size_t i = 0; i < k->n_workers; i++)
		if (pthread_create(&k->workers[i], NULL, worker_main, k) != 0)
			abort();
	if (k->n_workers && pthread_create(&k->emitter, NULL, emitter_main, k) != 0)
		abort();
}

/*
 * Write out a compressed block, in order; the block index gets its entry.
 * After an error (@failed) blocks are only accounted for. Returns the error.
 */
static struct kiln_error *emit_slot(struct layer_sink *k, struct gz_slot *s, bool failed)
{
	struct kiln_error *e = NULL;

	k->crc = (uint32_t)crc32_combine(k->crc, s->crc, (z_off_t)s->in_len);
	k->isize += s->in_len;
	if (k->index) {
		struct gz_block b = {.out_off = k->out_size,
				     .in_len = (uint32_t)s->in_len,
				     .out_len = (uint32_t)s->out_len,
				     .crc = s->crc,
				     .out_crc = s->out_crc};

		memcpy(b.sha, s->sha, sizeof(b.sha));
		gz_index_add(k->index, &b);
	}
	if (!failed)
		emit(k, s->out, s->out_len, &e);
	return e;
}

/*
 * The emitter thread writes blocks out in order as they are done (the output
 * and its digest are sequential), so the writer only fills blocks and hashes
 * the tar. While nothing is ready to go out, it compresses waiting blocks
 * itself, as the writer does: no idle core, no wake-up latency.
 */
static void *emitter_main(void *arg)
{
	struct layer_sink *k = arg;
	size_t next = 0;
	bool failed = false;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		struct gz_slot *s = &k->slots[next], *t;

		if (s->state == SLOT_DONE) {
			struct kiln_error *e;

			pthread_mutex_unlock(&k->lock);
			e = emit_slot(k, s, failed);
			pthread_mutex_lock(&k->lock);
			if (e) {
				failed = true;
				k->emit_err = e;
			}
			s->state = SLOT_FREE;
			s->in_len = 0;
			next = (next + 1) % k->n_slots;
			pthread_cond_broadcast(&k->done);
		} else if (k->stop) {
			break;
		} else if ((t = take_ready(k))) {
			run_slot(k, t);
		} else {
			pthread_cond_wait(&k->done, &k->lock);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* Under the lock: until @s is free, help compress. */
static void wait_free(struct layer_sink *k, struct gz_slot *s)
{
	while (s->state != SLOT_FREE) {
		struct gz_slot *t = take_ready(k);

		if (t)
			run_slot(k, t);
		else
			pthread_cond_wait(&k->done, &k->lock);
	}
}

static int take_emit_err(struct layer_sink *k, struct kiln_error **err)
{
	int r;

	if (!k->emit_err)
		return 0;
	r = err_code(k->emit_err);
	if (err)
		*err = TAKE_PTR(k->emit_err);
	return r;
}

/* Hand the block being filled over; with threads, wait for the next one to be free. */
static int gz_submit(struct layer_sink *k, struct kiln_error **err)
{
	struct gz_slot *s = &k->slots[k->cur];
	int r;

	if (!s->in_len)
		return 0;
	if (!k->n_workers) {
		struct kiln_error *e;

		compress_slot(k, s);
		e = emit_slot(k, s, false);
		s->in_len = 0;
		if (!e)
			return 0;
		r = err_code(e);
		if (err)
			*err = e;
		else
			err_free(e);
		return r;
	}
	pthread_mutex_lock(&k->lock);
	s->state = SLOT_READY;
	k->cur = (k->cur + 1) % k->n_slots; /* workers read cur under the lock */
	pthread_cond_signal(&k->work);
	wait_free(k, &k->slots[k->cur]);
	r = take_emit_err(k, err);
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int gz_write(struct layer_sink *k, const unsigned char *p, size_t len,
		    struct kiln_error **err)
{
	while (len) {
		struct gz_slot *s = &k->slots[k->cur];
		size_t n = MIN(len, (size_t)GZ_BLOCK - s->in_len);
		int r;

		memcpy(s->in + s->in_len, p, n);
		s->in_len += n;
		p += n;
		len -= n;
		if (s->in_len == GZ_BLOCK) {
			r = gz_submit(k, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int layer_sink_mark(struct layer_sink *k, uint64_t h, struct kiln_error **err)
{
	if (k->compression != LAYER_GZIP || (h & ((1U << GZ_CUT_BITS) - 1)) ||
	    k->slots[k->cur].in_len < GZ_BLOCK_MIN)
		return 0;
	return gz_submit(k, err);
}

void layer_sink_reuse(struct layer_sink *k, struct gz_index *ix)
{
	gz_index_free(k->reuse);
	k->reuse = k->compression == LAYER_GZIP ? ix : (gz_index_free(ix), NULL);
}

void layer_sink_keep_index(struct layer_sink *k)
{
	if (k->compression == LAYER_GZIP && !k->index) {
		k->index = xcalloc(1, sizeof(*k->index));
		k->index->blob_fd = -1;
	}
}

struct gz_index *layer_sink_take_index(struct layer_sink *k)
{
	return TAKE_PTR(k->index);
}

int layer_sink_level(const struct layer_sink *k)
{
	return k->level;
}

static int gz_finish(struct layer_sink *k, struct kiln_error **err)
{
	/* the last, empty, final stored block */
	static const unsigned char last[] = {1, 0, 0, 0xff, 0xff};
	unsigned char trailer[8];
	int r = gz_submit(k, err);

	if (r >= 0 && k->n_workers) {
		pthread_mutex_lock(&k->lock);
		for (size_t i = 0; i < k->n_slots; i++)
			wait_free(k, &k->slots[i]);
		r = take_emit_err(k, err);
		pthread_mutex_unlock(&k->lock);
	}
	if (r < 0)
		return r;
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(k->crc >> (8 * i));
		trailer[4 + i] = (unsigned char)((uint32_t)k->isize >> (8 * i));
	}
	r = emit(k, last, sizeof(last), err);
	return r < 0 ? r : emit(k, trailer, sizeof(trailer), err);
}

/* ---- zstd ---- */

static void zstd_init(struct layer_sink *k, int threads)
{
	k->zstd = ZSTD_createCCtx();
	if (!k->zstd)
		abort();
	ZSTD_CCtx_setParameter(k->zstd, ZSTD_c_compressionLevel, k->level);
	/* any nbWorkers >= 1 gives the same bytes: keep it >= 1 so threads do not matter */
	ZSTD_CCtx_setParameter(k->zstd, ZSTD_c_nbWorkers, MAX(threads, 1));
	/* fixed, small jobs: bounded memory (peak RSS) and output independent of threads */
	ZSTD_CCtx_setParameter(k->zstd, ZSTD_c_jobSize, 2 << 20);
	k->zbuf_size = ZSTD_CStreamOutSize();
	k->zbuf = xmalloc(k->zbuf_size);
}

static int zstd_run(struct layer_sink *k, const void *data, size_t len, ZSTD_EndDirective end,
		    struct kiln_error **err)
{
	ZSTD_inBuffer in = {data, len, 0};
	size_t left;

	do {
		ZSTD_outBuffer out = {k->zbuf, k->zbuf_size, 0};
		int r;

		left = ZSTD_compressStream2(k->zstd, &out, &in, end);
		if (ZSTD_isError(left))
			return err_new(err, KILN_ERR_SYSTEM, EIO, "zstd: %s",
				       ZSTD_getErrorName(left));
		r = emit(k, k->zbuf, out.pos, err);
		if (r < 0)
			return r;
	} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

/* ---- the sink ---- */

struct layer_sink *layer_sink_new(enum layer_compression c, int level, int threads, bool hash_out,
				  layer_out_fn out, void *out_ctx)
{
	struct layer_sink *k = xcalloc(1, sizeof(*k));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (threads <= 0)
		threads = ncpu > 0 ? (int)MIN(ncpu, 16) : 1;
	k->compression = c;
	k->out = out;
	k->out_ctx = out_ctx;
	k->tar_hash = sha256_new();
	k->blob_hash = hash_out ? sha256_new() : NULL;
	k->level = level > 0 ? level : (c == LAYER_ZSTD ? 3 : 6);
	if (c == LAYER_GZIP)
		gz_init(k, threads);
	else if (c == LAYER_ZSTD)
		zstd_init(k, threads);
	return k;
}

static int write_gz_header(struct layer_sink *k, struct kiln_error **err)
{
	/* magic, deflate, no flags, mtime 0, no extra flags, OS = Unix (git's .os = 3) */
	static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

	k->header_done = true;
	return emit(k, hdr, sizeof(hdr), err);
}

int layer_sink_write(struct layer_sink *k, const void *data, size_t len, struct kiln_error **err)
{
	int r;

	if (k->compression == LAYER_GZIP && !k->header_done) {
		r = write_gz_header(k, err);
		if (r < 0)
			return r;
	}
	sha256_update(k->tar_hash, data, len);
	switch (k->compression) {
	case LAYER_GZIP:
		return gz_write(k, data, len, err);
	case LAYER_ZSTD:
		return zstd_run(k, data, len, ZSTD_e_continue, err);
	case LAYER_NONE:
		return emit(k, data, len, err);
	}
	return 0;
}

int layer_sink_finish(struct layer_sink *k, struct digest *ret_diff_id, struct digest *ret_digest,
		      uint64_t *ret_size, struct kiln_error **err)
{
	int r = 0;

	if (k->compression == LAYER_GZIP && !k->header_done)
		r = write_gz_header(k, err);
	if (r >= 0 && k->compression == LAYER_GZIP)
		r = gz_finish(k, err);
	else if (r >= 0 && k->compression == LAYER_ZSTD)
		r = zstd_run(k, NULL, 0, ZSTD_e_end, err);
	if (r < 0)
		return r;
	sha256_final(k->tar_hash, ret_diff_id);
	if (k->blob_hash)
		sha256_final(k->blob_hash, ret_digest);
	*ret_size = k->out_size;
	return 0;
}

void layer_sink_free(struct layer_sink *k)
{
	if (!k)
		return;
	if (k->slots) {
		pthread_mutex_lock(&k->lock);
		k->stop = true;
		pthread_cond_broadcast(&k->work);
		pthread_cond_broadcast(&k->done);
		pthread_mutex_unlock(&k->lock);
		for (size_t i = 0; i < k->n_workers; i++)
			pthread_join(k->workers[i], NULL);
		if (k->n_workers)
			pthread_join(k->emitter, NULL);
		for (size_t i = 0; i < k->n_slots; i++) {
			deflateEnd(&k->slots[i].z);
			free(k->slots[i].in);
			free(k->slots[i].out);
		}
		free(k->slots);
		free(k->workers);
		pthread_mutex_destroy(&k->lock);
		pthread_cond_destroy(&k->work);
		pthread_cond_destroy(&k->done);
	}
	gz_index_free(k->reuse);
	gz_index_free(k->index);
	err_free(k->emit_err);
	ZSTD_freeCCtx(k->zstd);
	free(k->zbuf);
	sha256_free(k->tar_hash);
	sha256_free(k->blob_hash);
	free(k);
}
