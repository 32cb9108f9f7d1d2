/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block indexes of gzip layers, for incremental commits.
 *
 * compress.c deflates a layer in independent blocks cut at tar entry
 * boundaries chosen from the entries' names, so the same run of entries gives
 * the same compressed bytes wherever it sits in the tar. The index of a blob
 * lists its blocks: SHA-256 of the uncompressed bytes, where the compressed
 * bytes are in the blob, and their CRCs. When a step is committed again with a
 * few files changed, the blocks whose tar bytes did not change are copied from
 * the earlier blob instead of being deflated again; the output is the same
 * byte for byte as a fresh commit, so reproducibility does not depend on it.
 *
 * Indexes live in blocks/<blob hex> and are hints: one that does not match
 * its header, or a block whose bytes do not match its CRC, is not used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* Everything the compressed bytes of a block depend on, besides the block. */
static char *index_header(int level)
{
	return xasprintf("kiln-gzip-blocks 1 level=%d zlib=%s block=%d rec=%zu\n", level,
			 zlibVersion(), GZ_BLOCK_MAX, sizeof(struct gz_block));
}

void gz_index_add(struct gz_index *ix, const struct gz_block *b)
{
	ALLOC_GROW(ix->v, ix->n + 1, ix->alloc);
	ix->v[ix->n++] = *b;
}

static uint64_t block_hash(const unsigned char sha[32])
{
	uint64_t h;

	memcpy(&h, sha, sizeof(h));
	return h;
}

static void build_table(struct gz_index *ix)
{
	size_t cap = 16;

	while (cap < ix->n * 2)
		cap *= 2;
	ix->mask = cap - 1;
	ix->table = xmalloc(cap * sizeof(*ix->table));
	for (size_t i = 0; i < cap; i++)
		ix->table[i] = SIZE_MAX;
	for (size_t i = 0; i < ix->n; i++) {
		size_t j = block_hash(ix->v[i].sha) & ix->mask;

		while (ix->table[j] != SIZE_MAX)
			j = (j + 1) & ix->mask;
		ix->table[j] = i;
	}
}

const struct gz_block *gz_index_find(const struct gz_index *ix, const unsigned char sha[32],
				     uint32_t in_len)
{
	size_t j;

	if (!ix->table)
		return NULL;
	for (j = block_hash(sha) & ix->mask; ix->table[j] != SIZE_MAX; j = (j + 1) & ix->mask) {
		const struct gz_block *b = &ix->v[ix->table[j]];

		if (b->in_len == in_len && memcmp(b->sha, sha, 32) == 0)
			return b;
	}
	return NULL;
}

void gz_index_free(struct gz_index *ix)
{
	if (!ix)
		return;
	if (ix->blob_fd >= 0)
		close(ix->blob_fd);
	free(ix->v);
	free(ix->table);
	free(ix);
}

int gz_index_save(struct store *s, const struct digest *blob, const struct gz_index *ix, int level,
		  struct kiln_error **err)
{
	_cleanup_free_ char *hdr = index_header(level);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char hex[DIGEST_HEX_LEN + 1];

	strbuf_addstr(&sb, hdr);
	strbuf_add(&sb, ix->v, ix->n * sizeof(*ix->v));
	digest_hex(blob, hex);
	return fs_atomic_write(s->dirfds[STORE_DIR_BLOCKS], hex, sb.buf, sb.len, 0644, err);
}

struct gz_index *gz_index_load(struct store *s, const struct digest *blob, int level)
{
	_cleanup_free_ char *hdr = index_header(level);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char hex[DIGEST_HEX_LEN + 1];
	struct gz_index *ix;
	size_t hlen = strlen(hdr), n;

	digest_hex(blob, hex);
	if (strbuf_read_file(&sb, s->dirfds[STORE_DIR_BLOCKS], hex, NULL) < 0)
		return NULL;
	if (sb.len < hlen || memcmp(sb.buf, hdr, hlen) != 0 ||
	    (sb.len - hlen) % sizeof(struct gz_block))
		return NULL;
	n = (sb.len - hlen) / sizeof(struct gz_block);
	ix = xcalloc(1, sizeof(*ix));
	ix->blob_fd = store_blob_open(s, blob, NULL);
	if (ix->blob_fd < 0 || !n) {
		gz_index_free(ix);
		return NULL;
	}
	ix->v = xmalloc(n * sizeof(*ix->v));
	memcpy(ix->v, sb.buf + hlen, n * sizeof(*ix->v));
	ix->n = ix->alloc = n;
	build_table(ix);
	return ix;
}

bool gz_index_read_block(const struct gz_index *ix, const struct gz_block *b, unsigned char *out,
			 size_t out_alloc)
{
	ssize_t n;

	if (b->out_len > out_alloc)
		return false;
	n = pread(ix->blob_fd, out, b->out_len, (off_t)b->out_off);
	return n == (ssize_t)b->out_len && (uint32_t)crc32(0, out, b->out_len) == b->out_crc;
}
