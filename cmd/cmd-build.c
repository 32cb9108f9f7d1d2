/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "layers/layers.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct build_cli {
	struct build_opts opts;
	enum progress_mode progress;
	bool quiet;
};

enum {
	OPT_BUILD_ARG = 0x100,
	OPT_LABEL,
	OPT_TARGET,
	OPT_NO_CACHE,
	OPT_NO_CACHE_FILTER,
	OPT_NETWORK,
	OPT_PROGRESS,
	OPT_ROOT,
	OPT_COMPRESSION,
	OPT_SECRET,
	OPT_SSH,
	OPT_JOBS,
	OPT_SOURCE_DATE_EPOCH,
};

static const struct option build_options[] = {
	{"tag", required_argument, NULL, 't'},
	{"file", required_argument, NULL, 'f'},
	{"quiet", no_argument, NULL, 'q'},
	{"build-arg", required_argument, NULL, OPT_BUILD_ARG},
	{"label", required_argument, NULL, OPT_LABEL},
	{"target", required_argument, NULL, OPT_TARGET},
	{"no-cache", no_argument, NULL, OPT_NO_CACHE},
	{"no-cache-filter", required_argument, NULL, OPT_NO_CACHE_FILTER},
	{"network", required_argument, NULL, OPT_NETWORK},
	{"progress", required_argument, NULL, OPT_PROGRESS},
	{"root", required_argument, NULL, OPT_ROOT},
	{"compression", required_argument, NULL, OPT_COMPRESSION},
	{"secret", required_argument, NULL, OPT_SECRET},
	{"ssh", required_argument, NULL, OPT_SSH},
	{"jobs", required_argument, NULL, OPT_JOBS},
	{"source-date-epoch", required_argument, NULL, OPT_SOURCE_DATE_EPOCH},
	{},
};

static int set_network(struct build_cli *b, const char *v, struct kiln_error **err)
{
	if (streq(v, "host") || streq(v, "default"))
		b->opts.network = BUILD_NETWORK_HOST;
	else if (streq(v, "none"))
		b->opts.network = BUILD_NETWORK_NONE;
	else
		return err_usage(err, "--network: expected host or none, got '%s'", v);
	return 0;
}

static int set_epoch(struct build_cli *b, const char *v, struct kiln_error **err)
{
	int64_t t;

	if (parse_i64(v, 10, &t) < 0 || t < 0)
		return err_usage(err, "SOURCE_DATE_EPOCH: expected seconds since 1970, got '%s'", v);
	b->opts.source_date_epoch = t;
	return 0;
}

static int set_option(struct build_cli *b, int c, const char *v, struct kiln_error **err)
{
	struct build_opts *o = &b->opts;
	int n;

	switch (c) {
	case 't': {
		/* a bad name is a usage error before anything is built, as docker build */
		_cleanup_free_ char *norm = NULL;
		struct kiln_error *e = NULL;

		if (image_name_normalize(v, &norm, &e) < 0) {
			int r = err_usage(err, "-t: %s", e->msg);

			err_free(e);
			return r;
		}
		strv_push(&o->tags, v);
		return 0;
	}
	case 'f':
		o->dockerfile = v;
		return 0;
	case 'q':
		b->quiet = true;
		return 0;
	case OPT_BUILD_ARG:
		strv_push(&o->build_args, v);
		return 0;
	case OPT_LABEL:
		if (!strchr(v, '='))
			return err_usage(err, "--label: expected KEY=VALUE, got '%s'", v);
		strv_push(&o->labels, v);
		return 0;
	case OPT_TARGET:
		o->target = v;
		return 0;
	case OPT_NO_CACHE:
		o->no_cache = true;
		return 0;
	case OPT_NO_CACHE_FILTER:
		strv_push(&o->no_cache_filter, v);
		return 0;
	case OPT_NETWORK:
		return set_network(b, v, err);
	case OPT_PROGRESS:
		if (progress_parse_mode(v, &b->progress) < 0)
			return err_usage(err, "--progress: expected auto, tty, plain or json, got '%s'", v);
		return 0;
	case OPT_ROOT:
		o->store_root = v;
		return 0;
	case OPT_COMPRESSION:
		if (!streq(v, "gzip") && !streq(v, "zstd") && !streq(v, "none"))
			return err_usage(err, "--compression: expected gzip, zstd or none, got '%s'", v);
		o->compression = v;
		return 0;
	case OPT_SECRET:
		strv_push(&o->secrets, v);
		return 0;
	case OPT_SSH:
		strv_push(&o->ssh, v);
		return 0;
	case OPT_JOBS:
		if (parse_int(v, &n) < 0 || n < 1)
			return err_usage(err, "--jobs: expected a number of at least 1, got '%s'", v);
		o->jobs = n;
		return 0;
	case OPT_SOURCE_DATE_EPOCH:
		return set_epoch(b, v, err);
	}
	return err_usage(err, "build: unknown option (see 'kiln help build')");
}

static int parse_build_args(struct build_cli *b, int argc, char **argv, struct kiln_error **err)
{
	const char *env_epoch = getenv("SOURCE_DATE_EPOCH");
	int c, r;

	if (env_epoch && *env_epoch && (r = set_epoch(b, env_epoch, err)) < 0)
		return r;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:f:q", build_options, NULL)) != -1) {
		if (c == ':')
			return err_usage(err, "build: option '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return err_usage(err, "build: unknown option '%s' (see 'kiln help build')",
					 argv[optind - 1]);
		r = set_option(b, c, optarg, err);
		if (r < 0)
			return r;
	}
	if (argc - optind > 1)
		return err_usage(err, "build: expected one context directory, got %d", argc - optind);
	b->opts.context_dir = optind < argc ? argv[optind] : ".";
	return 0;
}

int cmd_build(int argc, char **argv, struct kiln_error **err)
{
	struct build_cli b = {.progress = PROGRESS_AUTO};
	_cleanup_free_ char *image_id = NULL;
	struct build_events ev;
	struct progress *p;
	int r;

	build_opts_init(&b.opts);
	r = parse_build_args(&b, argc, argv, err);
	if (r < 0)
		goto out;
	r = builder_prepare(err);
	if (r < 0)
		goto out;
	p = progress_new(b.quiet ? PROGRESS_QUIET : b.progress, stderr);
	progress_events(p, &ev);
	r = builder_build(&b.opts, &ev, &image_id, err);
	progress_finish(p, r >= 0);
	progress_free(p);
	if (r >= 0)
		printf("%s\n", image_id);
out:
	build_opts_release(&b.opts);
	return r < 0 ? r : 0;
}
