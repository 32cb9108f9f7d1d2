/* SPDX-License-Identifier: Apache-2.0 */
/* --add-host and --ulimit values (sandbox-extra.c): what they become, what is refused. */
#include <stdlib.h>
#include <sys/resource.h>

#include "sandbox/sandbox.h"
#include "tap.h"
#include "util/error.h"

/* sandbox_host_parse(@text): 0 with "IP HOST" in @buf, or -1 with the error's message */
static int host(const char *text, char buf[256])
{
	struct kiln_error *e = NULL;
	char *name = NULL, *ip = NULL;
	int r = sandbox_host_parse(text, &name, &ip, &e);

	if (r < 0) {
		snprintf(buf, 256, "%s", e->msg);
		err_free(e);
		return -1;
	}
	snprintf(buf, 256, "%s %s", ip, name);
	free(name);
	free(ip);
	return 0;
}

TEST(hosts_are_parsed_as_docker_does)
{
	char b[256];

	ASSERT_EQ(host("db:10.0.0.1", b), 0);
	ASSERT_STREQ(b, "10.0.0.1 db");
	ASSERT_EQ(host("db=10.0.0.1", b), 0);
	ASSERT_STREQ(b, "10.0.0.1 db");
	ASSERT_EQ(host("v6:fd00:0:0::1", b), 0); /* split at the first ':' */
	ASSERT_STREQ(b, "fd00::1 v6");
	ASSERT_EQ(host("v6=[::1]", b), 0);
	ASSERT_STREQ(b, "::1 v6");
	ASSERT_EQ(host("a.b-c_d:1.2.3.4", b), 0);
	ASSERT_STREQ(b, "1.2.3.4 a.b-c_d");
}

TEST(hosts_that_could_forge_lines_are_refused)
{
	char b[256];

	ASSERT_EQ(host("x\n6.6.6.6 evil:1.2.3.4", b), -1);
	ASSERT_EQ(host("a b:1.2.3.4", b), -1);
	ASSERT_EQ(host("a#b:1.2.3.4", b), -1);
	ASSERT_EQ(host(":1.2.3.4", b), -1);
	ASSERT_EQ(host("-x:1.2.3.4", b), -1);
	ASSERT_EQ(host("db:1.2.3.4\n5.6.7.8 evil", b), -1);
	ASSERT_STREQ(b, "--add-host 'db:1.2.3.4\n5.6.7.8 evil': expected an IPv4 or IPv6 address, "
			"got '1.2.3.4\n5.6.7.8 evil'");
	ASSERT_EQ(host("db:1.2.3", b), -1);
	ASSERT_EQ(host("nocolon", b), -1);
	ASSERT_STREQ(b, "--add-host: expected HOST:IP, got 'nocolon'");
	ASSERT_EQ(host("gw:host-gateway", b), -1);
}

static int ulimit(const char *text, struct sandbox_rlimit *l)
{
	struct kiln_error *e = NULL;
	int r = sandbox_ulimit_parse(text, l, &e);

	err_free(e);
	return r < 0 ? -1 : 0;
}

TEST(ulimits_take_docker_names)
{
	struct sandbox_rlimit l;

	ASSERT_EQ(ulimit("nofile=64:128", &l), 0);
	ASSERT_EQ(l.resource, RLIMIT_NOFILE);
	ASSERT_EQ(l.limit.rlim_cur, 64);
	ASSERT_EQ(l.limit.rlim_max, 128);
	ASSERT_EQ(ulimit("core=0", &l), 0);
	ASSERT_EQ(l.resource, RLIMIT_CORE);
	ASSERT_EQ(l.limit.rlim_cur, 0);
	ASSERT_EQ(l.limit.rlim_max, 0); /* HARD defaults to SOFT */
	ASSERT_EQ(ulimit("nproc=10", &l), 0);
	ASSERT_EQ(l.resource, RLIMIT_NPROC);
	ASSERT_EQ(ulimit("stack=1024", &l), 0);
	ASSERT_EQ(l.resource, RLIMIT_STACK);
}

TEST(ulimits_refused)
{
	struct sandbox_rlimit l = {.resource = -7};
	struct rlimit own;

	ASSERT_EQ(ulimit("nofiles=1", &l), -1);
	ASSERT_EQ(ulimit("nofile", &l), -1);
	ASSERT_EQ(ulimit("=1", &l), -1);
	ASSERT_EQ(ulimit("nofile=", &l), -1);
	ASSERT_EQ(ulimit("nofile=1:", &l), -1);
	ASSERT_EQ(ulimit("nofile=x", &l), -1);
	ASSERT_EQ(ulimit("nofile=-2", &l), -1);
	ASSERT_EQ(ulimit("nofile=2:1", &l), -1);
	ASSERT_EQ(ulimit("nofile=99999999999999999999", &l), -1);
	ASSERT_EQ(l.resource, -7); /* untouched on failure */
	/* below our own hard limit is always fine; above it only with CAP_SYS_RESOURCE */
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &own), 0);
	if (own.rlim_max != RLIM_INFINITY && own.rlim_max > 0) {
		char text[64];

		snprintf(text, sizeof(text), "nofile=1:%llu", (unsigned long long)own.rlim_max);
		ASSERT_EQ(ulimit(text, &l), 0);
		if (setrlimit(RLIMIT_NOFILE, &(struct rlimit){own.rlim_cur, own.rlim_max + 1}) <
		    0) {
			snprintf(text, sizeof(text), "nofile=1:%llu",
				 (unsigned long long)own.rlim_max + 1);
			ASSERT_EQ(ulimit(text, &l), -1);
		}
	}
}

TAP_MAIN(TAP_ENTRY(hosts_are_parsed_as_docker_does),
	 TAP_ENTRY(hosts_that_could_forge_lines_are_refused), TAP_ENTRY(ulimits_take_docker_names),
	 TAP_ENTRY(ulimits_refused))
