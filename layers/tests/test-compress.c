/* SPDX-License-Identifier: Apache-2.0 */
/* The layer sink: what zlib and libzstd decompress is what went in, at any size. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "layers/layers-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/strbuf.h"

static int collect(void *ctx, const void *data, size_t len, struct kiln_error **err)
{
	strbuf_add(ctx, data, len);
	return 0;
}

/* @kind: 0 zeros, 1 text, 2 random, 3 alternating 1 KiB of random and text */
static unsigned char *make_input(size_t n, int kind)
{
	unsigned char *p = malloc(n + 1);
	uint64_t x = 0x9e3779b97f4a7c15ULL * (n + 1);

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (kind) {
		case 0:
			p[i] = 0;
			break;
		case 1:
			p[i] = (unsigned char)("the quick brown fox "[i % 20]);
			break;
		case 2:
			p[i] = (unsigned char)x;
			break;
		default:
			p[i] = (i / 1024) % 2 ? (unsigned char)x : (unsigned char)('a' + i % 7);
		}
	}
	return p;
}

static bool gunzip_equals(const struct strbuf *gz, const unsigned char *want, size_t n)
{
	unsigned char *out = malloc(n + 16);
	z_stream z = {0};
	bool ok;

	inflateInit2(&z, 15 + 16);
	z.next_in = (unsigned char *)gz->buf;
	z.avail_in = (uInt)gz->len;
	z.next_out = out;
	z.avail_out = (uInt)(n + 16);
	/* Z_STREAM_END: the CRC-32 and size in the trailer matched */
	ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == n && z.avail_in == 0 &&
	     memcmp(out, want, n) == 0;
	inflateEnd(&z);
	free(out);
	return ok;
}

static bool unzstd_equals(const struct strbuf *zs, const unsigned char *want, size_t n)
{
	unsigned char *out = malloc(n + 16);
	size_t got = ZSTD_decompress(out, n + 16, zs->buf, zs->len);
	bool ok = !ZSTD_isError(got) && got == n && memcmp(out, want, n) == 0;

	free(out);
	return ok;
}

static int run(enum layer_compression c, int threads, const unsigned char *in, size_t n,
	       struct strbuf *out, struct digest *ret_digest)
{
	struct layer_sink *k = layer_sink_new(c, 0, threads, true, collect, out);
	struct digest diff_id, tar;
	uint64_t size;
	int r = 0;

	/* odd-sized writes, as libarchive's are not aligned to blocks */
	for (size_t off = 0; off < n && r >= 0; off += 7777)
		r = layer_sink_write(k, in + off, MIN((size_t)7777, n - off), NULL);
	if (r >= 0)
		r = layer_sink_finish(k, &diff_id, ret_digest, &size, NULL);
	layer_sink_free(k);
	digest_buffer(in, n, &tar);
	if (r >= 0 && (!digest_eq(&tar, &diff_id) || size != out->len))
		return -1;
	return r;
}

TEST(gzip_round_trips_at_every_size)
{
	static const size_t sizes[] = {0, 1, 1023, 1024, 4097, 262143, 262144, 262145, 800007};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int kind = 0; kind < 4; kind++) {
			_cleanup_free_ unsigned char *in = make_input(sizes[i], kind);
			_cleanup_strbuf_ struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
			struct digest da, db;

			ASSERT_EQ(run(LAYER_GZIP, 1, in, sizes[i], &a, &da), 0);
			ASSERT_EQ(run(LAYER_GZIP, 3, in, sizes[i], &b, &db), 0);
			ASSERT_TRUE(digest_eq(&da, &db));
			ASSERT_TRUE(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
			ASSERT_TRUE(gunzip_equals(&a, in, sizes[i]));
			if (kind == 2) /* random: stored, a few bytes of framing per 64 KiB */
				ASSERT_LT(a.len, sizes[i] + sizes[i] / 1000 + 64);
		}
}

TEST(zstd_and_none_round_trip)
{
	_cleanup_free_ unsigned char *in = make_input(700001, 3);
	_cleanup_strbuf_ struct strbuf z = STRBUF_INIT, n = STRBUF_INIT;
	struct digest d;

	ASSERT_EQ(run(LAYER_ZSTD, 2, in, 700001, &z, &d), 0);
	ASSERT_TRUE(unzstd_equals(&z, in, 700001));
	ASSERT_EQ(run(LAYER_NONE, 2, in, 700001, &n, &d), 0);
	ASSERT_TRUE(n.len == 700001 && memcmp(n.buf, in, 700001) == 0);
}

TAP_MAIN(TAP_ENTRY(gzip_round_trips_at_every_size), TAP_ENTRY(zstd_and_none_round_trip))
