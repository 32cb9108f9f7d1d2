/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-internal.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

TEST(challenge_bearer)
{
	struct reg_challenge ch;

	ASSERT_EQ(
		reg_challenge_parse(
			"Bearer realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:a/b:pull,push\"",
			&ch),
		0);
	ASSERT_EQ(ch.scheme, REG_AUTH_BEARER);
	ASSERT_STREQ(ch.realm, "https://auth.example/token");
	ASSERT_STREQ(ch.service, "reg");
	ASSERT_STREQ(ch.scope, "repository:a/b:pull,push");
	reg_challenge_release(&ch);
	/* unquoted values, odd spacing, escapes, unknown params */
	ASSERT_EQ(
		reg_challenge_parse("bearer  realm=http://x/t , service=\"a\\\"b\", foo=bar", &ch),
		0);
	ASSERT_STREQ(ch.realm, "http://x/t");
	ASSERT_STREQ(ch.service, "a\"b");
	ASSERT_NULL(ch.scope);
	reg_challenge_release(&ch);
}

TEST(challenge_basic_and_bad)
{
	struct reg_challenge ch;

	ASSERT_EQ(reg_challenge_parse("Basic realm=\"Registry Realm\"", &ch), 0);
	ASSERT_EQ(ch.scheme, REG_AUTH_BASIC);
	ASSERT_STREQ(ch.realm, "Registry Realm");
	reg_challenge_release(&ch);
	ASSERT_EQ(reg_challenge_parse("Negotiate", &ch), 0);
	ASSERT_EQ(ch.scheme, REG_AUTH_UNKNOWN);
	reg_challenge_release(&ch);
	ASSERT_TRUE(reg_challenge_parse("Bearer service=\"x\"", &ch) < 0); /* no realm */
	ASSERT_TRUE(reg_challenge_parse("Bearer realm=\"unterminated", &ch) < 0);
}

TEST(base64_round_trip)
{
	const char *in[] = {"", "a", "ab", "abc", "user:p@ss:w0rd"};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char *e = reg_base64(in[i], strlen(in[i]));
		size_t n = 99;
		char *d = reg_base64_decode(e, &n);

		ASSERT_NOT_NULL(d);
		ASSERT_EQ(n, strlen(in[i]));
		ASSERT_STREQ(d, in[i]);
		free(e);
		free(d);
	}
	{
		char *e = reg_base64("user:pass", 9);

		ASSERT_STREQ(e, "dXNlcjpwYXNz");
		free(e);
	}
}

static char *tmpdir_new(void)
{
	char *d = xstrdup("/tmp/kiln-test-auth.XXXXXX");

	if (!mkdtemp(d))
		abort();
	return d;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

TEST(authfile_store_lookup_remove)
{
	char *dir = tmpdir_new(), *path = fs_path_join(dir, "sub/auth.json");
	char *user = NULL, *secret = NULL;
	struct kiln_error *err = NULL;
	struct stat st;

	ASSERT_EQ(registry_auth_lookup(path, "r.example", NULL, &user, &secret, &err), 0);
	ASSERT_EQ(registry_auth_store(path, "r.example", "bob", "s3:cret", &err), 0);
	ASSERT_EQ(registry_auth_store(path, "other:5000", "amy", "x", &err), 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_EQ(registry_auth_lookup(path, "r.example", "team/app", &user, &secret, &err), 1);
	ASSERT_STREQ(user, "bob");
	ASSERT_STREQ(secret, "s3:cret");
	free(user);
	free(secret);
	ASSERT_EQ(registry_auth_remove(path, "r.example", &err), 1);
	ASSERT_EQ(registry_auth_remove(path, "r.example", &err), 0);
	ASSERT_EQ(registry_auth_lookup(path, "r.example", NULL, &user, &secret, &err), 0);
	ASSERT_EQ(registry_auth_lookup(path, "other:5000", NULL, &user, &secret, &err), 1);
	free(user);
	free(secret);
	fs_rm_rf(AT_FDCWD, dir, NULL);
	free(path);
	free(dir);
}

TEST(authfile_docker_keys_and_repo_scope)
{
	char *dir = tmpdir_new(), *path = fs_path_join(dir, "config.json");
	char *user = NULL, *secret = NULL;

	/* "https://index.docker.io/v1/" is docker.io; repo keys win over the registry's */
	write_file(path,
		   "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"ZDpw\"},"
		   " \"r.io\": {\"auth\": \"YTpi\"}, \"r.io/team\": {\"auth\": \"dDpx\"},"
		   " \"tok.io\": {\"identitytoken\": \"IDT\"}}}",
		   0600);
	ASSERT_EQ(registry_auth_lookup(path, "docker.io", NULL, &user, &secret, NULL), 1);
	ASSERT_STREQ(user, "d");
	free(user);
	free(secret);
	ASSERT_EQ(registry_auth_lookup(path, "r.io", "team/app", &user, &secret, NULL), 1);
	ASSERT_STREQ(user, "t");
	free(user);
	free(secret);
	ASSERT_EQ(registry_auth_lookup(path, "r.io", "other/app", &user, &secret, NULL), 1);
	ASSERT_STREQ(user, "a");
	free(user);
	free(secret);
	ASSERT_EQ(registry_auth_lookup(path, "tok.io", NULL, &user, &secret, NULL), 1);
	ASSERT_STREQ(user, "<token>");
	ASSERT_STREQ(secret, "IDT");
	free(user);
	free(secret);
	fs_rm_rf(AT_FDCWD, dir, NULL);
	free(path);
	free(dir);
}

TEST(authfile_bad_json_names_file)
{
	char *dir = tmpdir_new(), *path = fs_path_join(dir, "auth.json");
	char *user = NULL, *secret = NULL, *msg;
	struct kiln_error *err = NULL;

	write_file(path, "{\"auths\": {\n  \"x\": {\"auth\": \"!!!\"}", 0600);
	ASSERT_TRUE(registry_auth_lookup(path, "x", NULL, &user, &secret, &err) < 0);
	msg = err_format(err);
	ASSERT_TRUE(strstr(msg, path) != NULL);
	ASSERT_TRUE(strstr(msg, ":2:") != NULL);
	free(msg);
	err_free(TAKE_PTR(err));
	write_file(path, "{\"auths\": {\"x\": {\"auth\": \"bm9jb2xvbg==\"}}}", 0600);
	ASSERT_TRUE(registry_auth_lookup(path, "x", NULL, &user, &secret, &err) < 0);
	ASSERT_TRUE(strstr(err->msg, "not base64 of 'user:password'") != NULL);
	err_free(err);
	fs_rm_rf(AT_FDCWD, dir, NULL);
	free(path);
	free(dir);
}

/* A real docker-credential-NAME program, found through $PATH. */
TEST(credential_helper)
{
	char *dir = tmpdir_new(), *path = fs_path_join(dir, "config.json");
	char *helper = fs_path_join(dir, "docker-credential-kilntest");
	char *old_path = xstrdup(getenv("PATH")), *new_path = xasprintf("%s:%s", dir, old_path);
	char *user = NULL, *secret = NULL;

	write_file(helper,
		   "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread host\n"
		   "[ \"$host\" = helped.io ] || { echo 'credentials not found' >&2; exit 1; }\n"
		   "echo '{\"ServerURL\":\"helped.io\",\"Username\":\"hu\",\"Secret\":\"hs\"}'\n",
		   0755);
	write_file(path,
		   "{\"credHelpers\": {\"helped.io\": \"kilntest\"}, \"credsStore\": \"kilntest\"}",
		   0600);
	setenv("PATH", new_path, 1);
	ASSERT_EQ(registry_auth_lookup(path, "helped.io", NULL, &user, &secret, NULL), 1);
	ASSERT_STREQ(user, "hu");
	ASSERT_STREQ(secret, "hs");
	free(user);
	free(secret);
	/* credsStore is asked for other registries; "not found" is no credentials */
	ASSERT_EQ(registry_auth_lookup(path, "other.io", NULL, &user, &secret, NULL), 0);
	setenv("PATH", old_path, 1);
	fs_rm_rf(AT_FDCWD, dir, NULL);
	free(old_path);
	free(new_path);
	free(helper);
	free(path);
	free(dir);
}

static const char index_json[] =
	"{\"schemaVersion\":2,\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
	"1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"sha256:"
	"2222222222222222222222222222222222222222222222222222222222222222\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

TEST(platform_selection)
{
	char *d = NULL, *mt = NULL;
	struct kiln_error *err = NULL;

	ASSERT_EQ(registry_select_platform(index_json, strlen(index_json), NULL, &d, &mt, &err), 0);
	ASSERT_TRUE(strstr(d, "sha256:2222") == d);
	ASSERT_STREQ(mt, REGISTRY_MT_DOCKER_MANIFEST);
	free(d);
	free(mt);
	ASSERT_EQ(registry_select_platform(index_json, strlen(index_json), "linux/arm64", &d, &mt,
					   &err),
		  0);
	ASSERT_TRUE(strstr(d, "sha256:1111") == d);
	free(d);
	free(mt);
	ASSERT_TRUE(registry_select_platform(index_json, strlen(index_json), "linux/s390x", &d, &mt,
					     &err) < 0);
	/* the platforms it has, normalised as containerd does (arm64/v8 is arm64) */
	ASSERT_TRUE(strstr(err->msg, "linux/arm64, linux/amd64") != NULL);
	err_free(TAKE_PTR(err));
	ASSERT_TRUE(registry_select_platform(index_json, strlen(index_json), "linux", &d, &mt,
					     &err) < 0);
	ASSERT_EQ(err->kind, KILN_ERR_USAGE);
	err_free(err);
}

TEST(sha256_digest)
{
	char *d = reg_sha256_digest("abc", 3);

	ASSERT_STREQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ASSERT_TRUE(reg_digest_valid(d));
	ASSERT_FALSE(reg_digest_valid(
		"sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	ASSERT_FALSE(reg_digest_valid("sha512:ab"));
	free(d);
}

TAP_MAIN(TAP_ENTRY(challenge_bearer), TAP_ENTRY(challenge_basic_and_bad),
	 TAP_ENTRY(base64_round_trip), TAP_ENTRY(authfile_store_lookup_remove),
	 TAP_ENTRY(authfile_docker_keys_and_repo_scope), TAP_ENTRY(authfile_bad_json_names_file),
	 TAP_ENTRY(credential_helper), TAP_ENTRY(platform_selection), TAP_ENTRY(sha256_digest))
