/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sandbox/userns-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/strv.h"

static const char sample[] = "# a comment\n"
			     "\n"
			     "alice:100000:65536\n"
			     "broken line\n"
			     "bob:bad:65536\n"
			     "1002:300000:1000\r\n"
			     "bob:200000:0\n"
			     "bob:400000:65536  \n"
			     "alice:500000:65536\n";

TEST(finds_by_name)
{
	struct subid_range r = {0, 0};

	ASSERT_EQ(subid_find(sample, "alice", 1001, &r), 1);
	ASSERT_EQ(r.start, 100000);
	ASSERT_EQ(r.count, 65536);
}

TEST(finds_by_uid)
{
	struct subid_range r = {0, 0};

	ASSERT_EQ(subid_find(sample, "carol", 1002, &r), 1);
	ASSERT_EQ(r.start, 300000);
	ASSERT_EQ(r.count, 1000);
	ASSERT_EQ(subid_find(sample, NULL, 1002, &r), 1);
	ASSERT_EQ(r.start, 300000);
}

TEST(skips_malformed_and_empty_ranges)
{
	struct subid_range r = {0, 0};

	/* "bob:bad:..." and "bob:200000:0" are skipped; trailing blanks are trimmed */
	ASSERT_EQ(subid_find(sample, "bob", 1003, &r), 1);
	ASSERT_EQ(r.start, 400000);
	ASSERT_EQ(r.count, 65536);
}

TEST(not_found)
{
	struct subid_range r = {7, 7};

	ASSERT_EQ(subid_find(sample, "dave", 1004, &r), 0);
	ASSERT_EQ(r.start, 7); /* untouched */
	ASSERT_EQ(subid_find("", "dave", 1004, &r), 0);
	ASSERT_EQ(subid_find("dave", "dave", 1004, &r), 0);
	ASSERT_EQ(subid_find("dave:1", "dave", 1004, &r), 0);
	ASSERT_EQ(subid_find("dave:1:-1", "dave", 1004, &r), 0);
	ASSERT_EQ(subid_find("dave:1:99999999999", "dave", 1004, &r), 0);
}

TEST(reads_a_file_and_a_missing_file)
{
	char path[] = "/tmp/kiln-test-subid.XXXXXX";
	struct kiln_error *e = NULL;
	struct subid_range r = {0, 0};
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, sample, sizeof(sample) - 1), (ssize_t)sizeof(sample) - 1);
	close(fd);
	ASSERT_EQ(subid_find_in_file(path, "alice", 1, &r, &e), 1);
	ASSERT_EQ(r.start, 100000);
	unlink(path);
	ASSERT_EQ(subid_find_in_file(path, "alice", 1, &r, &e), 0);
	ASSERT_NULL(e);
}

TEST(map_args_cover_65536_ids)
{
	struct strv a = STRV_INIT;
	struct subid_range big = {100000, 200000}, small = {100000, 1000};

	subid_map_args(&a, "newuidmap", 42, 1001, &big);
	ASSERT_EQ(a.n, 8);
	ASSERT_STREQ(a.v[0], "newuidmap");
	ASSERT_STREQ(a.v[1], "42");
	ASSERT_STREQ(a.v[2], "0");
	ASSERT_STREQ(a.v[3], "1001");
	ASSERT_STREQ(a.v[4], "1");
	ASSERT_STREQ(a.v[5], "1");
	ASSERT_STREQ(a.v[6], "100000");
	ASSERT_STREQ(a.v[7], "65535");
	strv_clear(&a);
	subid_map_args(&a, "newgidmap", 42, 1001, &small);
	ASSERT_STREQ(a.v[7], "1000");
	strv_clear(&a);
}

TEST(initial_namespace_is_detected)
{
	/* The unit tests run outside any user namespace we make. */
	FILE *f = fopen("/proc/self/uid_map", "r");
	unsigned a = 1, b = 1, c = 0;

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fscanf(f, "%u %u %u", &a, &b, &c), 3);
	fclose(f);
	ASSERT_EQ(userns_is_initial(), a == 0 && b == 0 && c == 4294967295u);
}

TAP_MAIN(TAP_ENTRY(finds_by_name), TAP_ENTRY(finds_by_uid),
	 TAP_ENTRY(skips_malformed_and_empty_ranges), TAP_ENTRY(not_found),
	 TAP_ENTRY(reads_a_file_and_a_missing_file), TAP_ENTRY(map_args_cover_65536_ids),
	 TAP_ENTRY(initial_namespace_is_detected))
