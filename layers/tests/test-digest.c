/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "tap.h"
#include "util/error.h"

TEST(digest_of_empty_and_abc)
{
	char buf[DIGEST_STR_SIZE];
	struct digest d;
	_cleanup_(sha256_freep) struct sha256 *h = sha256_new();

	digest_buffer("", 0, &d);
	ASSERT_STREQ(digest_format(&d, buf),
		     "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* streaming in pieces gives the same as one buffer */
	sha256_update(h, "a", 1);
	sha256_update(h, "bc", 2);
	sha256_final(h, &d);
	ASSERT_STREQ(digest_format(&d, buf),
		     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(digest_parse_round_trip)
{
	const char *s = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	_cleanup_free_ char *again = NULL;
	struct digest d, e;

	ASSERT_EQ(digest_parse(s, &d, NULL), 0);
	again = digest_str(&d);
	ASSERT_STREQ(again, s);
	ASSERT_EQ(digest_parse_hex(s + 7, &e, NULL), 0);
	ASSERT_TRUE(digest_eq(&d, &e));
}

TEST(digest_parse_rejects_bad_input)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	struct digest d;

	ASSERT_LT(digest_parse("sha512:abcd", &d, NULL), 0);
	ASSERT_LT(digest_parse("sha256:ABC", &d, NULL), 0);
	/* upper case hex is not canonical */
	ASSERT_LT(digest_parse(
			  "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
			  &d, NULL),
		  0);
	ASSERT_LT(digest_parse(
			  "sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
			  &d, &err),
		  0);
	ASSERT_NOT_NULL(strstr(err->msg, "invalid digest 'sha256:zz78"));
}

TEST(image_names_normalise)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"busybox", "busybox:latest"},
		{"busybox:1", "busybox:1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost:5000/app:1", "localhost:5000/app:1"},
		{"registry.example.com/a/b-c_d.e:v1.2", "registry.example.com/a/b-c_d.e:v1.2"},
	};
	static const char *const bad[] = {"", "Busybox", "a:", "a:-x", "/a", "a//b", "a b"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		_cleanup_free_ char *n = NULL;

		ASSERT_EQ(image_name_normalize(cases[i].in, &n, NULL), 0);
		ASSERT_STREQ(n, cases[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		char *n = NULL;

		ASSERT_LT(image_name_normalize(bad[i], &n, &err), 0);
		ASSERT_NULL(n);
		ASSERT_NOT_NULL(strstr(err->msg, "invalid image name"));
	}
}

TEST(media_types)
{
	enum layer_compression c;

	ASSERT_STREQ(layer_media_type(LAYER_GZIP, IMAGE_FORMAT_OCI), MEDIA_OCI_LAYER_GZIP);
	ASSERT_STREQ(layer_media_type(LAYER_GZIP, IMAGE_FORMAT_DOCKER), MEDIA_DOCKER_LAYER_GZIP);
	ASSERT_STREQ(layer_media_type(LAYER_ZSTD, IMAGE_FORMAT_OCI), MEDIA_OCI_LAYER_ZSTD);
	ASSERT_EQ(layer_media_type_compression(MEDIA_DOCKER_LAYER, &c, NULL), 0);
	ASSERT_EQ(c, LAYER_NONE);
	ASSERT_LT(layer_media_type_compression(MEDIA_OCI_CONFIG, &c, NULL), 0);
	ASSERT_EQ(layer_compression_parse("zstd", &c, NULL), 0);
	ASSERT_EQ(c, LAYER_ZSTD);
	ASSERT_LT(layer_compression_parse("lz4", &c, NULL), 0);
}

TAP_MAIN(TAP_ENTRY(digest_of_empty_and_abc), TAP_ENTRY(digest_parse_round_trip),
	 TAP_ENTRY(digest_parse_rejects_bad_input), TAP_ENTRY(image_names_normalise),
	 TAP_ENTRY(media_types))
