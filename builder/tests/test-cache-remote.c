/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "builder/cache-remote-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/xmalloc.h"

#define K1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define L1 "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L2 "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int parse(const char *text, bool to, struct cache_io_spec *s, char **msg)
{
	struct kiln_error *e = NULL;
	int r = cache_spec_parse(text, to, s, &e);

	/* every bad value is a usage error (exit status 2) */
	*msg = e ? xasprintf("%s%s", e->msg, e->kind == KILN_ERR_USAGE ? "" : " (not usage)")
		 : NULL;
	err_free(e);
	return r;
}

TEST(spec_forms)
{
	struct cache_io_spec s;
	char *msg;

	ASSERT_EQ(parse("reg.example/app:cache", false, &s, &msg), 0);
	ASSERT_EQ(s.type, CACHE_IO_REGISTRY);
	ASSERT_STREQ(s.ref, "reg.example/app:cache");
	cache_spec_release(&s);
	ASSERT_EQ(parse("type=local,dest=/d,mode=max,ignore-error=true", true, &s, &msg), 0);
	ASSERT_EQ(s.type, CACHE_IO_LOCAL);
	ASSERT_STREQ(s.dir, "/d");
	ASSERT_STREQ(s.tag, "latest");
	ASSERT_TRUE(s.mode_max);
	ASSERT_TRUE(s.ignore_error);
	cache_spec_release(&s);
	/* no type=: ref= is registry, src= local; compression= changes nothing */
	ASSERT_EQ(parse("ref=r/a:b,compression=zstd", true, &s, &msg), 0);
	ASSERT_EQ(s.type, CACHE_IO_REGISTRY);
	ASSERT_FALSE(s.mode_max);
	cache_spec_release(&s);
	ASSERT_EQ(parse("type=registry,ref=r/a:b,mounts=true", true, &s, &msg), 0);
	ASSERT_TRUE(s.mounts);
	cache_spec_release(&s);
	ASSERT_EQ(parse("type=inline", true, &s, &msg), 0);
	ASSERT_EQ(s.type, CACHE_IO_INLINE);
	ASSERT_NULL(s.ref);
	cache_spec_release(&s);
	ASSERT_EQ(parse("src=/c,tag=v1", false, &s, &msg), 0);
	ASSERT_EQ(s.type, CACHE_IO_LOCAL);
	ASSERT_STREQ(s.tag, "v1");
	cache_spec_release(&s);
}

TEST(spec_errors_name_the_key)
{
	static const struct {
		const char *text;
		bool to;
		const char *msg;
	} bad[] = {
		{"type=local,dest=/d,colour=red", true,
		 "--cache-to: unknown key 'colour' in 'type=local,dest=/d,colour=red'"},
		{"type=local,src=/d,mode=max", false, "--cache-from: unknown key 'mode'"},
		{"type=local,dest=/d,mode=all", true, "--cache-to: mode: expected min or max"},
		{"type=local", true, "type=local needs dest=DIR"},
		{"type=local,dest=/d", false, "--cache-from: unknown key 'dest'"},
		{"type=local", false, "type=local needs src=DIR"},
		{"type=registry", false, "type=registry needs ref="},
		{"type=gha,url=x", true, "type=gha is not supported"},
		{"type=inline", false, "type=inline is only for --cache-to"},
		{"type=inline,mode=max", true, "type=inline takes no ref, dest, mode=max"},
		{"type=local,src=/d,mounts=true", false, "--cache-from: unknown key 'mounts'"},
		{"type=inline,mounts=true", true, "type=inline takes no ref, dest, mode=max"},
		{"type=inline,dest=/d", true, "type=inline takes no ref, dest, mode=max"},
		{"type=local,dest", true, "expected KEY=VALUE, got 'dest'"},
		{"mode=max", true, "expected type=registry,ref=REF or type=local,dest=DIR"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cache_io_spec s;
		char *msg;

		ASSERT_LT(parse(bad[i].text, bad[i].to, &s, &msg), 0);
		if (!strstr(msg, bad[i].msg) || strstr(msg, "(not usage)"))
			printf("# %s\n", msg);
		ASSERT_NOT_NULL(strstr(msg, bad[i].msg));
		ASSERT_NULL(strstr(msg, "(not usage)"));
		free(msg);
	}
}

static json_t *record(const char *layer)
{
	if (!layer)
		return json_pack("{s:s, s:n}", "created", "2026-01-01T00:00:00Z", "layer");
	return json_pack("{s:s, s:{s:s, s:s, s:s, s:i}}", "created", "2026-01-01T00:00:00Z",
			 "layer", "mediaType", MEDIA_OCI_LAYER_GZIP, "digest", layer, "diff_id",
			 layer, "size", 10);
}

TEST(merge_newer_wins_and_unions)
{
	json_t *a = json_pack("{s:{s:o, s:o}}", "linux/amd64", K1, record(L1), K2, record(NULL));
	json_t *b = json_pack("{s:{s:o}, s:{s:o}}", "linux/amd64", K1, record(L2), "linux/arm64",
			      K1, record(L1));

	cache_records_merge(a, b);
	ASSERT_EQ(json_object_size(json_object_get(a, "linux/amd64")), 2);
	ASSERT_STREQ(json_string_value(json_object_get(
			     json_object_get(json_object_get(json_object_get(a, "linux/amd64"), K1),
					     "layer"),
			     "digest")),
		     L2);
	ASSERT_NOT_NULL(json_object_get(a, "linux/arm64"));
	json_decref(a);
	json_decref(b);
}

TEST(manifest_is_deterministic_and_checked)
{
	json_t *r1 = json_pack("{s:{s:o, s:o}}", "linux/amd64", K2, record(L2), K1, record(L1));
	json_t *r2 = json_pack("{s:{s:o, s:o}}", "linux/amd64", K1, record(L1), K2, record(L2));
	json_t *c1 = cache_config_new(r1), *c2 = cache_config_new(r2), *m, *back;
	char *t1 = json_dumps(c1, JSON_COMPACT | JSON_SORT_KEYS);
	char *t2 = json_dumps(c2, JSON_COMPACT | JSON_SORT_KEYS);
	struct digest d, got;
	uint64_t size;

	ASSERT_STREQ(t1, t2);
	digest_buffer(t1, strlen(t1), &d);
	m = cache_manifest_new(r1, &d, strlen(t1));
	ASSERT_EQ(json_array_size(json_object_get(m, "layers")), 2);
	ASSERT_STREQ(json_string_value(json_object_get(
			     json_array_get(json_object_get(m, "layers"), 0), "digest")),
		     L1);
	ASSERT_EQ(cache_manifest_config(m, &got, &size, NULL), 0);
	ASSERT_TRUE(digest_eq(&got, &d));
	ASSERT_EQ(cache_config_records(c1, &back, NULL), 0);
	ASSERT_TRUE(json_equal(back, r1));
	json_decref(back);
	/* a manifest of an image is not a cache */
	json_object_set_new(json_object_get(m, "config"), "mediaType",
			    json_string(MEDIA_OCI_CONFIG));
	ASSERT_LT(cache_manifest_config(m, &got, &size, NULL), 0);
	json_decref(m);
	json_decref(c1);
	json_decref(c2);
	json_decref(r1);
	json_decref(r2);
	free(t1);
	free(t2);
}

TEST(bad_records_are_dropped)
{
	json_t *c = json_pack("{s:i, s:{s:{s:o, s:s, s:{s:s}}}}", "schemaVersion", 1, "records",
			      "linux/amd64", K1, record(L1), "not-a-digest", "x", K2, "layer",
			      "garbage"),
	       *r;

	ASSERT_EQ(cache_config_records(c, &r, NULL), 0);
	ASSERT_EQ(json_object_size(json_object_get(r, "linux/amd64")), 1);
	ASSERT_NOT_NULL(json_object_get(json_object_get(r, "linux/amd64"), K1));
	json_decref(r);
	json_object_set_new(c, "schemaVersion", json_integer(2));
	ASSERT_LT(cache_config_records(c, &r, NULL), 0);
	json_decref(c);
}

TAP_MAIN(TAP_ENTRY(spec_forms), TAP_ENTRY(spec_errors_name_the_key),
	 TAP_ENTRY(merge_newer_wins_and_unions), TAP_ENTRY(manifest_is_deterministic_and_checked),
	 TAP_ENTRY(bad_records_are_dropped))
