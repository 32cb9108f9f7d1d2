/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "registry/registry.h"
#include "tap.h"
#include "util/error.h"
#include "util/macro.h"

struct ok_case {
	const char *in, *domain, *path, *tag, *digest;
};

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct ok_case ok_cases[] = {
	{"alpine", "docker.io", "library/alpine", "latest", NULL},
	{"alpine:3.19", "docker.io", "library/alpine", "3.19", NULL},
	{"docker://alpine", "docker.io", "library/alpine", "latest", NULL},
	{"team/app", "docker.io", "team/app", "latest", NULL},
	{"docker.io/alpine", "docker.io", "library/alpine", "latest", NULL},
	{"index.docker.io/library/alpine:1", "docker.io", "library/alpine", "1", NULL},
	{"localhost/app", "localhost", "app", "latest", NULL},
	{"localhost:5000/app:v1", "localhost:5000", "app", "v1", NULL},
	{"127.0.0.1:5000/a/b/c:x_Y.z-1", "127.0.0.1:5000", "a/b/c", "x_Y.z-1", NULL},
	{"quay.io/org/img@" D64, "quay.io", "org/img", NULL, D64},
	{"quay.io/org/img:t@" D64, "quay.io", "org/img", "t", D64},
	{"Registry/app", "Registry", "app", "latest", NULL},
	{"my-reg.example.com/a__b/c.d/e---f", "my-reg.example.com", "a__b/c.d/e---f", "latest",
	 NULL},
	{"[::1]:5000/app", "[::1]:5000", "app", "latest", NULL},
};

TEST(valid_references_normalise)
{
	for (size_t i = 0; i < ARRAY_SIZE(ok_cases); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct kiln_error *err = NULL;
		struct registry_ref r;

		if (registry_ref_parse(c->in, &r, &err) < 0) {
			printf("# '%s': %s\n", c->in, err->msg);
			err_free(err);
			ASSERT_TRUE(false);
		}
		ASSERT_STREQ(r.domain, c->domain);
		ASSERT_STREQ(r.path, c->path);
		ASSERT_TRUE(streq_ptr(r.tag, c->tag));
		ASSERT_TRUE(streq_ptr(r.digest, c->digest));
		registry_ref_release(&r);
	}
}

struct bad_case {
	const char *in, *msg;
};

static const struct bad_case bad_cases[] = {
	{"", "empty"},
	{"Alpine", "repository name must be lowercase"},
	{"docker.io/Team/app", "repository name must be lowercase"},
	{"app:", "bad tag ''"},
	{"app:-x", "bad tag '-x'"},
	{"app:a/b", "registry port 'a' is not a number"},
	{"a//b", "bad name component ''"},
	{"a-/b", "bad name component 'a-'"},
	{"_a", "bad name component '_a'"},
	{"a@sha256:abc", "bad digest 'sha256:abc'"},
	{"a@md5:0123", "unsupported digest 'md5:0123'"},
	{"host:x/app", "registry port 'x' is not a number"},
	{"host:/app", "empty port"},
	{"a b", "contains white space"},
	{"docker://", "empty"},
	{"ho$t.io/app", "bad character '$'"},
};

TEST(invalid_references_explain)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct kiln_error *err = NULL;
		struct registry_ref r = {0};
		int rc = registry_ref_parse(c->in, &r, &err);

		if (rc >= 0) {
			printf("# '%s' was accepted\n", c->in);
			registry_ref_release(&r);
			ASSERT_TRUE(false);
		}
		ASSERT_NOT_NULL(err);
		if (!strstr(err->msg, c->msg))
			printf("# '%s': got '%s', want '%s'\n", c->in, err->msg, c->msg);
		ASSERT_TRUE(strstr(err->msg, c->msg) != NULL);
		ASSERT_TRUE(strstr(err->msg, "invalid reference") != NULL);
		err_free(err);
	}
}

TEST(long_tag_and_name_refused)
{
	char tag[200], name[300];
	struct kiln_error *err = NULL;
	struct registry_ref r;

	memset(tag, 'a', sizeof(tag));
	memcpy(tag, "x:", 2);
	tag[129 + 2] = '\0';
	ASSERT_TRUE(registry_ref_parse(tag, &r, &err) < 0);
	err_free(TAKE_PTR(err));
	tag[128 + 2] = '\0';
	ASSERT_EQ(registry_ref_parse(tag, &r, &err), 0);
	registry_ref_release(&r);
	memset(name, 'a', sizeof(name));
	name[sizeof(name) - 1] = '\0';
	ASSERT_TRUE(registry_ref_parse(name, &r, &err) < 0);
	ASSERT_TRUE(strstr(err->msg, "longer than 255") != NULL);
	err_free(err);
}

TEST(format_round_trips)
{
	struct registry_ref r;
	char *s, *n;

	ASSERT_EQ(registry_ref_parse("busybox", &r, NULL), 0);
	s = registry_ref_format(&r);
	n = registry_ref_name(&r);
	ASSERT_STREQ(s, "docker.io/library/busybox:latest");
	ASSERT_STREQ(n, "docker.io/library/busybox");
	free(s);
	free(n);
	registry_ref_release(&r);
	ASSERT_EQ(registry_ref_parse("h:1/x:t@" D64, &r, NULL), 0);
	s = registry_ref_format(&r);
	ASSERT_STREQ(s, "h:1/x:t@" D64);
	free(s);
	registry_ref_release(&r);
}

TEST(local_domains)
{
	ASSERT_TRUE(registry_domain_is_local("localhost"));
	ASSERT_TRUE(registry_domain_is_local("localhost:5000"));
	ASSERT_TRUE(registry_domain_is_local("127.0.0.1:5000"));
	ASSERT_TRUE(registry_domain_is_local("[::1]:5000"));
	ASSERT_FALSE(registry_domain_is_local("localhost.example.com"));
	ASSERT_FALSE(registry_domain_is_local("docker.io"));
	ASSERT_FALSE(registry_domain_is_local("10.0.0.1:5000"));
}

TAP_MAIN(TAP_ENTRY(valid_references_normalise), TAP_ENTRY(invalid_references_explain),
	 TAP_ENTRY(long_tag_and_name_refused), TAP_ENTRY(format_round_trips),
	 TAP_ENTRY(local_domains))
