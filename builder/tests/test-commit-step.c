/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commit_step()'s error contract: what may fail without failing the step
 * (keeping the upper directory as the snapshot, recording the key in the
 * cache) leaves *err NULL on success, and the cache failure is a warning
 * through the log's one channel. On real directories, no root needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/step-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xmalloc.h"

static char top[64], shm[64];

static void make_dirs(void)
{
	snprintf(top, sizeof(top), "/tmp/kiln-test-commit-step.XXXXXX");
	/* another file system than the store's: the upper cannot be renamed into it */
	snprintf(shm, sizeof(shm), "/dev/shm/kiln-test-commit-step.XXXXXX");
	if (!mkdtemp(top) || !mkdtemp(shm))
		abort();
}

static void remove_dirs(void)
{
	fs_rm_rf(AT_FDCWD, top, NULL);
	fs_rm_rf(AT_FDCWD, shm, NULL);
}

static struct strv warnings = STRV_INIT;

static void capture(void *userdata, enum log_level level, const char *msg)
{
	if (level == LOG_LEVEL_WARN)
		strv_push(&warnings, msg);
}

TEST(soft_failures_leave_no_error)
{
	_cleanup_free_ char *root = NULL, *upper = NULL, *file = NULL, *blocker = NULL;
	struct log_handler h = {capture, NULL}, old;
	struct kiln_error *err = NULL;
	struct build_ctx b = {.epoch = 0, .created = xstrdup("1970-01-01T00:00:00Z")};
	struct stage_state s = {.config = json_object()};
	struct step_dirs d = {0};
	struct digest key;
	char hex[DIGEST_HEX_LEN + 1];
	int fd, r;

	make_dirs();
	root = fs_path_join(top, "store");
	upper = fs_path_join(shm, "upper");
	file = fs_path_join(upper, "f");
	d.upper = upper;
	ASSERT_EQ(store_open(root, STORE_CREATE, &b.store, NULL), 0);
	digest_buffer("step", 4, &key);
	/* cache/<key> a non-empty directory: the entry cannot be written over it */
	blocker = xasprintf("%s/cache/%s/x", root, digest_hex(&key, hex));
	ASSERT_EQ(fs_mkdir_p(AT_FDCWD, blocker, 0755, NULL), 0);
	ASSERT_EQ(mkdir(upper, 0755), 0);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(fs_write_all(fd, "data\n", 5, NULL), 0);
	close(fd);

	log_set_handler(&h, &old);
	r = commit_step(&b, &s, &d, &key, "RUN make", &err);
	log_set_handler(&old, NULL);
	ASSERT_EQ(r, 0);
	ASSERT_NULL(err); /* before: set, by snapshot_adopt (EXDEV) then cache_store */
	ASSERT_EQ(s.n_layers, 1); /* the layer is there all the same */
	ASSERT_EQ(warnings.n, 1);
	ASSERT_TRUE(strstr(warnings.v[0], "cannot record the step in the cache: ") ==
		    warnings.v[0]);
	ASSERT_TRUE(strstr(warnings.v[0], ", ignoring") != NULL);

	strv_clear(&warnings);
	stage_release(&s);
	store_free(b.store);
	free(b.created);
	remove_dirs();
}

TEST(an_empty_upper_records_the_key)
{
	_cleanup_free_ char *root = NULL, *entry = NULL;
	struct kiln_error *err = NULL;
	struct build_ctx b = {.epoch = 0, .created = xstrdup("1970-01-01T00:00:00Z")};
	struct stage_state s = {.config = json_object()};
	struct step_dirs d = {0};
	struct digest key;
	char hex[DIGEST_HEX_LEN + 1];

	make_dirs();
	root = fs_path_join(top, "store");
	d.upper = fs_path_join(top, "upper");
	ASSERT_EQ(mkdir(d.upper, 0755), 0);
	ASSERT_EQ(store_open(root, STORE_CREATE, &b.store, NULL), 0);
	digest_buffer("step2", 5, &key);
	ASSERT_EQ(commit_step(&b, &s, &d, &key, "WORKDIR /x", &err), 0);
	ASSERT_NULL(err);
	ASSERT_EQ(s.n_layers, 0);
	entry = xasprintf("%s/cache/%s", root, digest_hex(&key, hex));
	ASSERT_EQ(access(entry, F_OK), 0);
	free(d.upper);
	stage_release(&s);
	store_free(b.store);
	free(b.created);
	remove_dirs();
}

TEST(a_failure_sets_the_error)
{
	_cleanup_free_ char *root = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	struct build_ctx b = {.epoch = 0, .created = xstrdup("1970-01-01T00:00:00Z")};
	struct stage_state s = {.config = json_object()};
	struct step_dirs d = {.copied = true};
	struct digest key;

	make_dirs();
	root = fs_path_join(top, "store");
	d.upper = fs_path_join(top, "upper");
	d.merged = fs_path_join(top, "no-such-root");
	ASSERT_EQ(mkdir(d.upper, 0755), 0);
	ASSERT_EQ(store_open(root, STORE_CREATE, &b.store, NULL), 0);
	digest_buffer("step3", 5, &key);
	ASSERT_LT(commit_step(&b, &s, &d, &key, "RUN make", &err), 0);
	ASSERT_NOT_NULL(err);
	ASSERT_TRUE(err && strstr(err->msg, "find the step's changes") == err->msg);
	free(d.upper);
	free(d.merged);
	strv_clear(&d.copied_from);
	stage_release(&s);
	store_free(b.store);
	free(b.created);
	remove_dirs();
}

TAP_MAIN(TAP_ENTRY(soft_failures_leave_no_error), TAP_ENTRY(an_empty_upper_records_the_key),
	 TAP_ENTRY(a_failure_sets_the_error))
