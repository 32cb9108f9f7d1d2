/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "layers/layers.h"
#include "registry/registry-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/xmalloc.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

TEST(sources_record_and_find)
{
	char dir[] = "/tmp/kiln-test-sources.XXXXXX";
	struct store *s = NULL;
	struct strbuf sb = STRBUF_INIT;
	const char *both[] = {DA, DB};
	char *found;

	ASSERT_NOT_NULL(mkdtemp(dir));
	ASSERT_EQ(store_open(dir, STORE_CREATE, &s, NULL), 0);
	ASSERT_EQ(reg_sources_load(s, &sb, NULL), 0); /* nothing yet: empty, no error */
	ASSERT_EQ(sb.len, 0);
	ASSERT_EQ(reg_sources_add(s, "r:5000", "team/base", both, 2, NULL), 0);
	ASSERT_EQ(reg_sources_add(s, "r:5000", "team/base", both, 2, NULL), 0); /* no duplicates */
	ASSERT_EQ(reg_sources_add(s, "other.io", "x", both + 1, 1, NULL), 0);
	ASSERT_GE(reg_sources_load(s, &sb, NULL), 0);
	ASSERT_EQ(sb.len, 2 * (71 + 1 + 16 + 1) + 71 + 1 + 10 + 1);
	found = reg_sources_find(&sb, "r:5000", "team/app", DA);
	ASSERT_STREQ(found, "team/base");
	free(found);
	/* not from the repository we push to, nor from another registry */
	ASSERT_NULL(reg_sources_find(&sb, "r:5000", "team/base", DA));
	ASSERT_NULL(reg_sources_find(&sb, "r:500", "y", DA));
	ASSERT_NULL(reg_sources_find(&sb, "other.io", "y", DA));
	found = reg_sources_find(&sb, "other.io", "y", DB);
	ASSERT_STREQ(found, "x");
	free(found);
	strbuf_release(&sb);
	store_free(s);
	fs_rm_rf(AT_FDCWD, dir, NULL);
}

static int job_count(void *arg, struct kiln_error **err)
{
	int *n = arg;

	__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int job_fail(void *arg, struct kiln_error **err)
{
	return err_new(err, KILN_ERR_SYSTEM, EIO, "job %d failed", *(int *)arg);
}

TEST(pool_runs_all_and_reports_first_error)
{
	struct reg_job jobs[20];
	int n = 0, id = 7;
	struct kiln_error *err = NULL;

	for (size_t i = 0; i < 20; i++)
		jobs[i] = (struct reg_job){.fn = job_count, .arg = &n};
	ASSERT_EQ(reg_run_jobs(jobs, 20, 3, &err), 0);
	ASSERT_EQ(n, 20);
	jobs[5] = (struct reg_job){.fn = job_fail, .arg = &id};
	ASSERT_EQ(reg_run_jobs(jobs, 20, 4, &err), -EIO);
	ASSERT_STREQ(err->msg, "job 7 failed");
	err_free(err);
	ASSERT_EQ(reg_run_jobs(jobs, 0, 3, NULL), 0);
}

TAP_MAIN(TAP_ENTRY(sources_record_and_find), TAP_ENTRY(pool_runs_all_and_reports_first_error))
