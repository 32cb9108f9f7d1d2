/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What docker build's run options give RUN, through the spec (sandbox.h):
 * --add-host entries for the step's /etc/hosts (a bind mount from
 * WORKDIR/files, so never in the layer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sandbox/sandbox-internal.h"
#include "util/error.h"
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
