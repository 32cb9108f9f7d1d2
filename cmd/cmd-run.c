/* SPDX-License-Identifier: Apache-2.0 */
/* kiln run: try an image in RUN's sandbox (builder/run.c); a debugging aid. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "cmd/cmd-options.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "util/cleanup.h"
#include "util/xmalloc.h"

#include "util/banned.h"

enum {
	OPT_RM = 0x100,
	OPT_NETWORK,
	OPT_ENTRYPOINT,
	OPT_PULL,
	OPT_ROOT,
};

/* The options of kiln run and their help: cmd-options.h says what is made from it. */
const struct cmd_option cmd_run_options[] = {
	{"rm", 0, no_argument, OPT_RM, NULL, "accepted as docker's; every run is thrown away"},
	{"interactive", 'i', no_argument, 'i', NULL,
	 "give the command kiln's stdin (else /dev/null)"},
	{"tty", 't', no_argument, 't', NULL,
	 "give the command a terminal of its own (with -i,\n"
	 "kiln's terminal is copied to it in raw mode)"},
	{"env", 'e', required_argument, 'e', "K[=V]",
	 "set a variable (K alone: from kiln's environment,\n"
	 "unset when kiln has none)"},
	{"user", 'u', required_argument, 'u', "USER[:GROUP]",
	 "run as this user (default: the image's USER)"},
	{"workdir", 'w', required_argument, 'w', "DIR",
	 "the working directory (default: the image's)"},
	{"volume", 'v', required_argument, 'v', "HOST:CTR[:ro|rw]",
	 "bind the host path HOST on CTR (repeatable)"},
	{"network", 0, required_argument, OPT_NETWORK, "default|host|none",
	 "default: a private namespace through pasta or\n"
	 "slirp4netns, as RUN steps get"},
	{"entrypoint", 0, required_argument, OPT_ENTRYPOINT, "CMD",
	 "replace the image's entrypoint (\"\" clears it)"},
	{"pull", 0, required_argument, OPT_PULL, "missing|always|never",
	 "pull IMAGE from its registry (default missing)"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", "the store (default as for kiln build)"},
	CMD_OPTION_END,
};

static int set_pull(struct run_opts *o, const char *v, struct kiln_error **err)
{
	if (streq(v, "missing"))
		o->pull = BUILD_PULL_MISSING;
	else if (streq(v, "always"))
		o->pull = BUILD_PULL_ALWAYS;
	else if (streq(v, "never"))
		o->pull = BUILD_PULL_NEVER;
	else
		return err_usage(err, "--pull: expected missing, always or never, got '%s'", v);
	return 0;
}

static int set_option(struct run_opts *o, int c, const char *v, struct kiln_error **err)
{
	switch (c) {
	case OPT_RM: /* always: nothing a run changes is kept */
		return 0;
	case 'i':
		o->interactive = true;
		return 0;
	case 't':
		o->tty = true;
		return 0;
	case 'e':
		if (!*v || v[0] == '=')
			return err_usage(err, "-e: expected KEY=VALUE or KEY, got '%s'", v);
		strv_push(&o->env, v);
		return 0;
	case 'u':
		o->user = v;
		return 0;
	case 'w':
		if (v[0] != '/')
			return err_usage(err, "-w: expected an absolute path, got '%s'", v);
		o->workdir = v;
		return 0;
	case 'v':
		strv_push(&o->volumes, v);
		return 0;
	case OPT_NETWORK:
		return cmd_parse_network(v, &o->network, err);
	case OPT_ENTRYPOINT:
		o->entrypoint = v;
		return 0;
	case OPT_PULL:
		return set_pull(o, v, err);
	case OPT_ROOT:
		o->store_root = v;
		return 0;
	}
	return err_usage(err, "run: unknown option (see 'kiln help run')");
}

static int parse_run_args(struct run_opts *o, int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	_cleanup_free_ char *shortopts = NULL;
	int c, r;

	cmd_getopt_init(&g, cmd_run_options);
	/* '+': options end at IMAGE; what follows is the command's */
	shortopts = xasprintf("+%s", g.shortopts);
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, g.longopts, NULL)) != -1) {
		if (c == ':')
			return err_usage(err, "run: option '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return err_usage(err, "run: unknown option '%s' (see 'kiln help run')",
					 argv[optind - 1]);
		r = set_option(o, c, optarg, err);
		if (r < 0)
			return r;
	}
	if (optind >= argc)
		return err_usage(err, "run: expected an image (usage: kiln run [OPTIONS] IMAGE "
				      "[COMMAND [ARG...]])");
	o->image = argv[optind++];
	for (; optind < argc; optind++)
		strv_push(&o->cmd, argv[optind]);
	return 0;
}

int cmd_run(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_free_ char *default_root = NULL;
	struct run_opts o;
	int status = 0, r;

	run_opts_init(&o);
	r = parse_run_args(&o, argc, argv, err);
	/* the default store is the caller's: decide before becoming root of a user namespace */
	if (r >= 0 && !o.store_root)
		o.store_root = default_root = store_default_root();
	if (r >= 0)
		r = builder_prepare(err);
	if (r >= 0)
		r = builder_run(&o, &status, err);
	run_opts_release(&o);
	return r < 0 ? r : status;
}
