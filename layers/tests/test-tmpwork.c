/* SPDX-License-Identifier: Apache-2.0 */
/* tmp/ work in progress: held entries survive sweeps, orphans do not, and the race is lost by no
 * one. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers.h"
#include "tap.h"
#include "util/fs.h"

static char top[64];

static struct store *open_store(void)
{
	struct store *s = NULL;

	if (!top[0]) {
		snprintf(top, sizeof(top), "/tmp/kiln-test-tmpwork.XXXXXX");
		if (!mkdtemp(top))
			abort();
	}
	if (store_open(top, STORE_CREATE, &s, NULL) < 0)
		abort();
	return s;
}

static bool exists(struct store *s, const char *name)
{
	struct stat st;

	return fstatat(store_dirfd(s, STORE_DIR_TMP), name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

TEST(sweep_takes_orphans_only)
{
	_cleanup_(store_freep) struct store *s = open_store();
	_cleanup_(store_freep) struct store *other = NULL;
	_cleanup_free_ char *held = NULL, *orphan = NULL, *file = NULL, *gone_file = NULL;
	int lock = -1, orphan_lock = -1, tmp = store_dirfd(s, STORE_DIR_TMP);
	int fd, gone_fd;

	ASSERT_EQ(store_tmp_mkdir(s, "step", 0700, &held, &lock, NULL), 0);
	ASSERT_EQ(store_tmp_mkdir(s, "step", 0700, &orphan, &orphan_lock, NULL), 0);
	ASSERT_EQ(mkdirat(orphan_lock, "work", 0), 0); /* mode 000, as overlayfs leaves it */
	fd = store_tmp_mkstemp(s, "blob", 0644, &file, NULL);
	gone_fd = store_tmp_mkstemp(s, "blob", 0644, &gone_file, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_GE(gone_fd, 0);
	ASSERT_EQ(mkdirat(tmp, "registry-x.partial", 0755), 0); /* not ours to sweep */
	close(orphan_lock); /* its maker died */
	close(gone_fd);
	ASSERT_EQ(store_sweep_tmp(s), 2);
	ASSERT_TRUE(exists(s, held));
	ASSERT_TRUE(exists(s, file));
	ASSERT_FALSE(exists(s, orphan));
	ASSERT_FALSE(exists(s, gone_file));
	ASSERT_TRUE(exists(s, "registry-x.partial"));
	/* store_open sweeps too */
	close(lock);
	ASSERT_EQ(store_open(top, 0, &other, NULL), 0);
	ASSERT_FALSE(exists(s, held));
	ASSERT_TRUE(exists(s, file));
	close(fd);
}

static atomic_bool stop;

static void *sweeper(void *arg)
{
	struct store *s = open_store();
	long n = 0;

	while (!atomic_load(&stop))
		n += store_sweep_tmp(s);
	store_free(s);
	*(long *)arg = n;
	return NULL;
}

/* A sweep racing makers never removes an entry a maker has been given. */
TEST(sweep_never_takes_a_held_entry)
{
	_cleanup_(store_freep) struct store *s = open_store();
	int tmp = store_dirfd(s, STORE_DIR_TMP), lost = 0;
	long swept = 0;
	pthread_t t;

	atomic_store(&stop, false);
	ASSERT_EQ(pthread_create(&t, NULL, sweeper, &swept), 0);
	for (int i = 0; i < 3000; i++) {
		_cleanup_free_ char *dir = NULL, *file = NULL;
		int lock = -1, fd;

		if (store_tmp_mkdir(s, "step", 0700, &dir, &lock, NULL) < 0)
			abort();
		fd = store_tmp_mkstemp(s, "blob", 0644, &file, NULL);
		if (fd < 0)
			abort();
		/* held: still there and usable, whatever the sweeper does meanwhile */
		if (mkdirat(lock, "upper", 0755) < 0 || write(fd, "x", 1) != 1 || !exists(s, dir) ||
		    !exists(s, file))
			lost++;
		if (i % 2) { /* half go the normal way; the others are orphans for the sweeper */
			fs_rm_rf(tmp, dir, NULL);
			unlinkat(tmp, file, 0);
		}
		close(fd);
		close(lock);
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("# %ld orphans swept during the race\n", swept);
	fs_rm_rf(AT_FDCWD, top, NULL);
	ASSERT_EQ(lost, 0);
}

TAP_MAIN(TAP_ENTRY(sweep_takes_orphans_only), TAP_ENTRY(sweep_never_takes_a_held_entry))
