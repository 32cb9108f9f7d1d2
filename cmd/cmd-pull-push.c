/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln push, and the registry transport of kiln pull (docker://REF or a bare
 * reference; cmd-transfer.c dispatches to cmd_pull_registry).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
#include "layers/layers.h"
#include "util/error.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static const struct option registry_long_opts[] = {
	{"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
	{"cert-file", required_argument, NULL, OPT_CERT_FILE},
	{"authfile", required_argument, NULL, OPT_AUTHFILE},
	{"creds", required_argument, NULL, OPT_CREDS},
	{"platform", required_argument, NULL, OPT_PLATFORM},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"jobs", required_argument, NULL, 'j'},
	{"chunk-size", required_argument, NULL, 'k'},
	{"root", required_argument, NULL, 'r'},
	{},
};

/* Options of `kiln pull` for the registry transport, taken out of argv first. */
static struct cmd_registry_opts pull_opts = {.reg = REGISTRY_OPTS_INIT};

static int one_option(struct cmd_registry_opts *o, const char *cmd, int c, const char *arg,
		      struct kiln_error **err)
{
	unsigned n;
	int r = cmd_registry_option(o, cmd, c, arg, err);

	if (r != 0)
		return r;
	if (c == OPT_PLATFORM) {
		const char *s1 = strchr(arg, '/');

		if (!s1 || s1 == arg || !s1[1] || strchr(s1 + 1, '/') == s1 + 1)
			return err_usage(err,
					 "%s: --platform: expected OS/ARCH[/VARIANT], got '%s'",
					 cmd, arg);
		o->reg.platform = arg;
		return 1;
	}
	if (c == 'k') {
		if (parse_size(arg, &o->reg.chunk_size) < 0 || o->reg.chunk_size < 4096)
			return err_usage(
				err, "%s: --chunk-size: expected a size of 4k or more, got '%s'",
				cmd, arg);
		return 1;
	}
	if (c == 'j') {
		if (parse_uint(arg, &n) < 0 || n < 1 || n > 8)
			return err_usage(err, "%s: --jobs: expected 1 to 8, got '%s'", cmd, arg);
		o->reg.parallel = n;
		return 1;
	}
	return 0;
}

/* Is argv[i] one of our options? Sets *ret_width to the argv slots it uses. */
static const struct option *match_option(char **argv, int argc, int i, int *ret_width,
					 const char **ret_arg)
{
	static const struct option quiet = {"quiet", no_argument, NULL, OPT_QUIET};
	static const struct option jobs = {"jobs", required_argument, NULL, 'j'};
	const char *a = startswith(argv[i], "--");

	*ret_width = 1;
	*ret_arg = NULL;
	if (streq(argv[i], "-q"))
		return &quiet;
	if (streq(argv[i], "-j") || startswith(argv[i], "-j")) {
		*ret_arg = argv[i][2] ? argv[i] + 2 : i + 1 < argc ? argv[i + 1] : NULL;
		*ret_width = argv[i][2] ? 1 : 2;
		return &jobs;
	}
	if (!a)
		return NULL;
	for (const struct option *o = registry_long_opts; o->name; o++) {
		size_t n = strlen(o->name);

		if (strncmp(a, o->name, n) != 0 || (a[n] && a[n] != '=') || o->val == 'r')
			continue;
		*ret_width = 1;
		*ret_arg = a[n] == '=' ? a + n + 1 : NULL;
		if (!*ret_arg && o->has_arg == required_argument && i + 1 < argc) {
			*ret_arg = argv[i + 1];
			*ret_width = 2;
		}
		return o;
	}
	return NULL;
}

int cmd_pull_registry_args(int *argc, char **argv, struct kiln_error **err)
{
	int out = 1;

	pull_opts.reg.progress = cmd_registry_progress;
	pull_opts.reg.progress_data = &pull_opts;
	for (int i = 1; i < *argc;) {
		const char *arg = NULL;
		int width = 1, r;
		const struct option *o =
			streq(argv[i], "--") ? NULL : match_option(argv, *argc, i, &width, &arg);

		if (!o) {
			argv[out++] = argv[i++];
			continue;
		}
		if (o->has_arg == required_argument && !arg)
			return err_usage(err, "pull: option '%s' needs an argument", argv[i]);
		r = one_option(&pull_opts, "pull", o->val, arg, err);
		if (r < 0)
			return r;
		i += width;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int cmd_pull_registry(struct store *s, const char *ref, const char *name, struct kiln_error **err)
{
	_cleanup_free_ char *digest = NULL;
	int r = registry_pull(s, ref, name, &pull_opts.reg, &digest, err);

	cmd_registry_opts_release(&pull_opts);
	if (r < 0)
		return r;
	printf("%s\n", digest);
	return 0;
}

/* ---- push ---- */

int cmd_push(int argc, char **argv, struct kiln_error **err)
{
	struct cmd_registry_opts o = {.reg = REGISTRY_OPTS_INIT};
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *digest = NULL;
	const char *root = NULL;
	int c, r = 0;

	opterr = 0;
	while (r >= 0 && (c = getopt_long(argc, argv, "+:qj:", registry_long_opts, NULL)) != -1) {
		if (c == 'r')
			root = optarg;
		else if (c == 'q')
			o.quiet = true;
		else if (c == ':')
			r = err_usage(err, "push: option '%s' needs an argument", argv[optind - 1]);
		else if ((r = one_option(&o, "push", c, optarg, err)) == 0)
			r = err_usage(err, "push: unknown option '%s' (see 'kiln help push')",
				      argv[optind - 1]);
	}
	if (r >= 0 && (argc - optind < 1 || argc - optind > 2))
		r = err_usage(err, "push: expected NAME [DESTINATION]");
	o.reg.progress = cmd_registry_progress;
	o.reg.progress_data = &o;
	if (r >= 0)
		r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = registry_push(s, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL,
				  &o.reg, &digest, err);
	cmd_registry_opts_release(&o);
	if (r < 0)
		return r;
	printf("%s\n", digest);
	return 0;
}
