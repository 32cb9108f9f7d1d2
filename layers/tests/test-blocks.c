/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental commits: blocks of an earlier layer reused, output as a fresh commit's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char top[64];
static struct store *store;
static int src = -1;

static void put(const char *rel, size_t len, unsigned seed)
{
	char *buf = malloc(len);
	int fd;

	/* text-like bytes, different per seed, so deflate has work to do */
	for (size_t i = 0; i < len; i++)
		buf[i] = "abcdefgh ijklmnop\n"[(i * 7 + seed * 13 + i / 64 * seed) % 18];
	fd = openat(src, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
	free(buf);
}

static void make_tree(void)
{
	char name[64];

	for (unsigned d = 0; d < 8; d++) {
		snprintf(name, sizeof(name), "d%u", d);
		if (mkdirat(src, name, 0755) < 0)
			abort();
		for (unsigned f = 0; f < 60; f++) {
			snprintf(name, sizeof(name), "d%u/f%03u.txt", d, f);
			put(name, 2000 + (d * 60 + f) * 7 % 3000, d * 60 + f);
		}
	}
}

static int commit(const struct digest *reuse, bool keep, struct layer_desc *ret)
{
	struct layers_commit_opts o = LAYERS_COMMIT_OPTS_INIT;

	o.threads = 2;
	o.source_date_epoch = 0;
	o.reuse_blob = reuse;
	o.keep_index = keep;
	return layers_commit_dir(store, src, &o, ret, NULL);
}

static char *index_path(const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/store/blocks/%s", top, digest_hex(d, hex));
	return buf;
}

TEST(a_rebuild_reuses_blocks_and_gives_a_fresh_commit_s_bytes)
{
	struct layer_desc first, fresh, again, broken;
	unsigned long before;
	struct stat st;
	char path[128];

	snprintf(top, sizeof(top), "/tmp/kiln-test-blocks.XXXXXX");
	ASSERT_TRUE(mkdtemp(top) != NULL);
	snprintf(path, sizeof(path), "%s/store", top);
	ASSERT_EQ(store_open(path, STORE_CREATE, &store, NULL), 0);
	snprintf(path, sizeof(path), "%s/src", top);
	ASSERT_EQ(mkdir(path, 0755), 0);
	src = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	make_tree();
	ASSERT_EQ(commit(NULL, true, &first), 0);
	ASSERT_EQ(stat(index_path(&first.digest), &st), 0);

	/* one file grows (every later tar offset moves), one goes, one comes */
	put("d1/f010.txt", 4321, 999);
	ASSERT_EQ(unlinkat(src, "d5/f020.txt", 0), 0);
	put("d6/new.txt", 1234, 77);
	ASSERT_EQ(commit(NULL, false, &fresh), 0);
	before = layer_blocks_reused;
	ASSERT_EQ(commit(&first.digest, false, &again), 0);
	ASSERT_TRUE(digest_eq(&fresh.diff_id, &again.diff_id));
	ASSERT_TRUE(digest_eq(&fresh.digest, &again.digest));
	/* the blocks after the grown file still line up: most are reused */
	printf("# %lu blocks reused\n", layer_blocks_reused - before);
	ASSERT_LT(2, layer_blocks_reused - before);

	/* a damaged index is not used, and changes nothing */
	ASSERT_EQ(truncate(index_path(&first.digest), 100), 0);
	before = layer_blocks_reused;
	ASSERT_EQ(commit(&first.digest, false, &broken), 0);
	ASSERT_EQ(layer_blocks_reused - before, 0);
	ASSERT_TRUE(digest_eq(&fresh.digest, &broken.digest));

	layer_desc_release(&first);
	layer_desc_release(&fresh);
	layer_desc_release(&again);
	layer_desc_release(&broken);
}

TEST(prune_drops_the_index_with_its_blob)
{
	struct layer_desc l;
	struct stat st;

	put("d0/f000.txt", 100, 5);
	ASSERT_EQ(commit(NULL, true, &l), 0);
	ASSERT_EQ(stat(index_path(&l.digest), &st), 0);
	uint64_t freed = 0;

	ASSERT_EQ(store_prune(store, NULL, 0, NULL, NULL, &freed, NULL), 0);
	ASSERT_EQ(stat(index_path(&l.digest), &st) < 0 && errno == ENOENT, 1);
	layer_desc_release(&l);
}

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(a_rebuild_reuses_blocks_and_gives_a_fresh_commit_s_bytes),
		TAP_ENTRY(prune_drops_the_index_with_its_blob),
	};
	int r = tap_run(tests, ARRAY_SIZE(tests));

	close(src);
	store_free(store);
	fs_rm_rf(AT_FDCWD, top, NULL);
	return r;
}

bool tap_failed_;
