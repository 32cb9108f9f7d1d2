/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "tap.h"
#include "util/error.h"

/* "in" normalises to "out", as containerd's platforms.Normalize does */
static void expect_norm(const char *in, const char *out)
{
	char buf[PLATFORM_STR_SIZE];
	struct platform p;

	ASSERT_EQ(platform_parse(in, &p, NULL), 0);
	ASSERT_STREQ(platform_format(&p, buf), out);
}

TEST(platform_normalise)
{
	expect_norm("linux/amd64", "linux/amd64");
	expect_norm("Linux/X86_64", "linux/amd64");
	expect_norm("linux/amd64/v1", "linux/amd64");
	expect_norm("linux/amd64/v3", "linux/amd64/v3");
	expect_norm("linux/aarch64", "linux/arm64");
	expect_norm("linux/arm64/v8", "linux/arm64");
	expect_norm("linux/arm64/8", "linux/arm64");
	expect_norm("linux/arm", "linux/arm/v7");
	expect_norm("linux/arm/6", "linux/arm/v6");
	expect_norm("linux/armhf", "linux/arm/v7");
	expect_norm("linux/armel", "linux/arm/v6");
	expect_norm("linux/i386", "linux/386");
	expect_norm("linux/s390x", "linux/s390x");
}

TEST(platform_parse_rejects_bad_input)
{
	const char *bad[] = {"",	  "linux",	     "/amd64",	"linux/",
			     "linux//v7", "linux/arm/",	     "a/b/c/d", "linux/am d64",
			     "linux/$X",  "linux/amd64/v1/x"};
	struct kiln_error *err = NULL;
	struct platform p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_TRUE(platform_parse(bad[i], &p, &err) < 0);
		ASSERT_EQ(err->kind, KILN_ERR_USAGE);
		ASSERT_TRUE(strstr(err->msg, "expected OS/ARCH[/VARIANT]") != NULL);
		err_free(err);
		err = NULL;
	}
}

TEST(platform_matches_descriptors)
{
	json_t *arm64v8 = json_pack("{s:s, s:s, s:s}", "os", "linux", "architecture", "arm64",
				    "variant", "v8");
	json_t *armv7 =
		json_pack("{s:s, s:s, s:s}", "os", "linux", "architecture", "arm", "variant", "v7");
	json_t *arr = json_pack("[{s:O}, {s:O}]", "platform", arm64v8, "platform", armv7);
	struct platform p;
	char *list;

	ASSERT_EQ(platform_parse("linux/arm64", &p, NULL), 0);
	ASSERT_TRUE(platform_matches_json(arm64v8, &p));
	ASSERT_TRUE(!platform_matches_json(armv7, &p));
	ASSERT_EQ(platform_parse("linux/arm/v6", &p, NULL), 0);
	ASSERT_TRUE(!platform_matches_json(armv7, &p));
	ASSERT_EQ(platform_parse("linux/arm", &p, NULL), 0);
	ASSERT_TRUE(platform_matches_json(armv7, &p));
	list = platform_list_json(arr);
	ASSERT_STREQ(list, "linux/arm64, linux/arm/v7");
	free(list);
	/* written back without the variant arm64 does not need */
	ASSERT_EQ(platform_parse("linux/arm64/v8", &p, NULL), 0);
	platform_to_json(&p, arm64v8);
	ASSERT_TRUE(json_object_get(arm64v8, "variant") == NULL);
	json_decref(arm64v8);
	json_decref(armv7);
	json_decref(arr);
}

TAP_MAIN(TAP_ENTRY(platform_normalise), TAP_ENTRY(platform_parse_rejects_bad_input),
	 TAP_ENTRY(platform_matches_descriptors))
