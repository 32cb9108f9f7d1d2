/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What docker build's run options give RUN, through the spec (sandbox.h):
 * --add-host entries for the step's /etc/hosts (a bind mount from
 * WORKDIR/files, so never in the layer), and --ulimit values, which the child
 * sets with setrlimit(2) before it enters the step's user namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/resource.h>

#include "sandbox/sandbox-internal.h"
#include "sandbox/userns-internal.h"
#include "util/error.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* A name /etc/hosts can hold: letters, digits, '.', '-', '_', at most 253. */
static bool valid_host_name(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '-' && c != '_')
			return false;
	}
	return true;
}

/* An IPv4 or IPv6 address (IPv6 maybe in brackets), in the form inet_ntop gives it. */
static char *canonical_ip(const char *s)
{
	_cleanup_free_ char *bare = NULL;
	unsigned char addr[16];
	char out[INET6_ADDRSTRLEN];
	size_t n = strlen(s);

	if (n > 2 && s[0] == '[' && s[n - 1] == ']')
		s = bare = xstrndup(s + 1, n - 2);
	if (inet_pton(AF_INET, s, addr) == 1)
		return xstrdup(inet_ntop(AF_INET, addr, out, sizeof(out)));
	if (inet_pton(AF_INET6, s, addr) == 1)
		return xstrdup(inet_ntop(AF_INET6, addr, out, sizeof(out)));
	return NULL;
}

int sandbox_host_parse(const char *text, char **ret_name, char **ret_ip, struct kiln_error **err)
{
	/* docker's HOST=IP, or HOST:IP split at the first ':' (the IP may be IPv6) */
	const char *sep = strchr(text, '=');
	char *ip;

	if (!sep)
		sep = strchr(text, ':');
	if (!sep)
		return err_usage(err, "--add-host: expected HOST:IP, got '%s'", text);
	if (!valid_host_name(text, (size_t)(sep - text)))
		return err_usage(
			err,
			"--add-host '%s': expected a host name (letters, digits, '.', '-', "
			"'_') before the IP",
			text);
	if (streq(sep + 1, "host-gateway"))
		return err_usage(err,
				 "--add-host '%s': host-gateway is not supported: RUN's network "
				 "cannot reach the host (use --network=host and 127.0.0.1)",
				 text);
	ip = canonical_ip(sep + 1);
	if (!ip)
		return err_usage(err, "--add-host '%s': expected an IPv4 or IPv6 address, got '%s'",
				 text, sep + 1);
	*ret_name = xstrndup(text, (size_t)(sep - text));
	*ret_ip = ip;
	return 0;
}

int sandbox_hosts_append(const struct sandbox_spec *spec, struct strbuf *hosts,
			 struct kiln_error **err)
{
	for (const char *const *h = spec->extra_hosts; h && *h; h++) {
		_cleanup_free_ char *name = NULL, *ip = NULL;
		int r = sandbox_host_parse(*h, &name, &ip, err);

		if (r < 0)
			return r;
		strbuf_addf(hosts, "%s\t%s\n", ip, name);
	}
	return 0;
}

/* docker's --ulimit names (go-units), each the RLIMIT_ of the same name */
static const struct {
	const char *name;
	int resource;
} ulimit_names[] = {
	{"as", RLIMIT_AS},
	{"core", RLIMIT_CORE},
	{"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},
	{"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},
	{"memlock", RLIMIT_MEMLOCK},
	{"msgqueue", RLIMIT_MSGQUEUE},
	{"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},
	{"nproc", RLIMIT_NPROC},
	{"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},
	{"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
};

/* A limit: a number, or -1 or "unlimited" for RLIM_INFINITY. */
static int parse_limit(const char *s, rlim_t *ret)
{
	uint64_t v;

	if (streq(s, "-1") || streq(s, "unlimited")) {
		*ret = RLIM_INFINITY;
		return 0;
	}
	if (parse_u64(s, 10, &v) < 0 || v >= (uint64_t)RLIM_INFINITY)
		return -EINVAL;
	*ret = (rlim_t)v;
	return 0;
}

static int find_ulimit(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(ulimit_names); i++)
		if (strlen(ulimit_names[i].name) == n && !strncmp(ulimit_names[i].name, name, n))
			return ulimit_names[i].resource;
	return -1;
}

static char *limit_text(rlim_t v)
{
	return v == RLIM_INFINITY ? xstrdup("unlimited") : xasprintf("%llu", (unsigned long long)v);
}

/* Only a kiln with CAP_SYS_RESOURCE in the initial user namespace raises a hard limit. */
static int check_hard(const char *text, const struct sandbox_rlimit *l, struct kiln_error **err)
{
	_cleanup_free_ char *want = NULL, *own_text = NULL;
	struct rlimit own;

	if (getrlimit(l->resource, &own) < 0 || l->limit.rlim_max <= own.rlim_max ||
	    (userns_is_initial() && (sandbox_permitted_caps() >> CAP_SYS_RESOURCE & 1)))
		return 0;
	want = limit_text(l->limit.rlim_max);
	own_text = limit_text(own.rlim_max);
	return err_usage(err,
			 "--ulimit '%s': the hard limit %s is above kiln's own, %s, which only "
			 "root with CAP_SYS_RESOURCE can raise",
			 text, want, own_text);
}

int sandbox_ulimit_parse(const char *text, struct sandbox_rlimit *ret, struct kiln_error **err)
{
	const char *eq = strchr(text, '='), *colon;
	_cleanup_free_ char *soft = NULL;
	struct sandbox_rlimit l;

	if (!eq)
		return err_usage(err, "--ulimit: expected NAME=SOFT[:HARD], got '%s'", text);
	l.resource = find_ulimit(text, (size_t)(eq - text));
	if (l.resource < 0)
		return err_usage(
			err,
			"--ulimit '%s': unknown limit (expected as, core, cpu, data, fsize, "
			"locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, "
			"sigpending or stack)",
			text);
	colon = strchr(eq + 1, ':');
	soft = colon ? xstrndup(eq + 1, (size_t)(colon - eq - 1)) : xstrdup(eq + 1);
	if (parse_limit(soft, &l.limit.rlim_cur) < 0 ||
	    parse_limit(colon ? colon + 1 : soft, &l.limit.rlim_max) < 0)
		return err_usage(err, "--ulimit '%s': expected numbers (or -1 for unlimited)",
				 text);
	if (l.limit.rlim_cur > l.limit.rlim_max)
		return err_usage(err, "--ulimit '%s': the soft limit is above the hard limit",
				 text);
	if (check_hard(text, &l, err) < 0)
		return -EINVAL;
	*ret = l;
	return 0;
}

int sandbox_plan_rlimits(struct sandbox_plan *p, const struct sandbox_spec *spec,
			 struct kiln_error **err)
{
	size_t n = 0;

	for (const char *const *u = spec->ulimits; u && *u; u++)
		n++;
	p->rlimits = n ? xcalloc(n, sizeof(*p->rlimits)) : NULL;
	for (p->n_rlimits = 0; p->n_rlimits < n; p->n_rlimits++) {
		int r = sandbox_ulimit_parse(spec->ulimits[p->n_rlimits], &p->rlimits[p->n_rlimits],
					     err);

		if (r < 0)
			return r;
	}
	return 0;
}
