/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"
#include "cmd/cmd-build-output.h"
#include "cmd/cmd-format.h"
#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "layers/layers.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct build_cli {
	struct build_opts opts;
	enum progress_mode progress;
	bool quiet;
	bool push;
	struct cmd_registry_opts reg; /* --tls-verify, --authfile, ... as kiln pull */
	struct build_output output; /* -o, --output */
	const char *iidfile, *metadata_file;
	bool check; /* --check, --call=check: kiln check instead of a build */
	struct strv owned; /* strings opts points at, for '-' as the context */
	char *stdin_tmp; /* the directory '-' was unpacked in */
	const char *keep_storage; /* KILN_CACHE_KEEP_STORAGE as given, or NULL */
	uint64_t keep_bytes; /* ... parsed */
};

/* After the registry options of cmd-registry.h (OPT_TLS_VERIFY, ...). */
enum {
	OPT_BUILD_ARG = OPT_PULL_FLAG_LAST,
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
	OPT_PULL,
	OPT_PUSH,
	OPT_STORAGE,
	OPT_IIDFILE,
	OPT_METADATA_FILE,
	OPT_CHECK,
	OPT_CALL,
	OPT_ANNOTATION,
	OPT_ALLOW,
	OPT_CACHE_TO,
	OPT_CACHE_FROM,
	OPT_ISOLATION,
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
	{"pull", optional_argument, NULL, OPT_PULL},
	{"push", no_argument, NULL, OPT_PUSH},
	{"storage", required_argument, NULL, OPT_STORAGE},
	{"output", required_argument, NULL, 'o'},
	{"iidfile", required_argument, NULL, OPT_IIDFILE},
	{"metadata-file", required_argument, NULL, OPT_METADATA_FILE},
	{"check", no_argument, NULL, OPT_CHECK},
	{"call", required_argument, NULL, OPT_CALL},
	{"annotation", required_argument, NULL, OPT_ANNOTATION},
	{"allow", required_argument, NULL, OPT_ALLOW},
	{"cache-to", required_argument, NULL, OPT_CACHE_TO},
	{"cache-from", required_argument, NULL, OPT_CACHE_FROM},
	{"isolation", required_argument, NULL, OPT_ISOLATION},
	{"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
	{"cert-file", required_argument, NULL, OPT_CERT_FILE},
	{"authfile", required_argument, NULL, OPT_AUTHFILE},
	{"creds", required_argument, NULL, OPT_CREDS},
	{},
};

static int set_network(struct build_cli *b, const char *v, struct kiln_error **err)
{
	if (streq(v, "default"))
		b->opts.network = BUILD_NETWORK_DEFAULT;
	else if (streq(v, "host"))
		b->opts.network = BUILD_NETWORK_HOST;
	else if (streq(v, "none"))
		b->opts.network = BUILD_NETWORK_NONE;
	else
		return err_usage(err, "--network: expected default, host or none, got '%s'", v);
	return 0;
}

/* --allow ENTITLEMENT[,ENTITLEMENT...], as docker buildx build --allow. */
static int set_allow(struct build_cli *b, const char *v, struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(v);
	char *save = NULL;

	for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		if (streq(e, "security.insecure"))
			b->opts.allow_insecure = true;
		else if (streq(e, "network.host"))
			b->opts.allow_network_host = true;
		else
			return err_usage(
				err,
				"--allow: expected security.insecure or network.host, got '%s'", e);
	}
	return 0;
}

static int set_epoch(struct build_cli *b, const char *v, struct kiln_error **err)
{
	int64_t t;

	if (parse_i64(v, 10, &t) < 0 || t < 0)
		return err_usage(err, "SOURCE_DATE_EPOCH: expected seconds since 1970, got '%s'",
				 v);
	b->opts.source_date_epoch = t;
	return 0;
}

static int set_pull(struct build_cli *b, const char *v, struct kiln_error **err)
{
	static const struct {
		const char *name;
		enum build_pull pull;
	} policies[] = {
		{"missing", BUILD_PULL_MISSING}, {"always", BUILD_PULL_ALWAYS},
		{"never", BUILD_PULL_NEVER},	 {"true", BUILD_PULL_ALWAYS},
		{"false", BUILD_PULL_MISSING},
	};

	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		if (streq(v ? v : "always", policies[i].name)) {
			b->opts.pull = policies[i].pull;
			return 0;
		}
	}
	return err_usage(err, "--pull: expected missing, always or never, got '%s'", v);
}

static int set_isolation(struct build_cli *b, const char *v, struct kiln_error **err)
{
	static const char *const names[] = {
		[BUILD_ISOLATION_AUTO] = "auto",
		[BUILD_ISOLATION_SANDBOX] = "sandbox",
		[BUILD_ISOLATION_CHROOT] = "chroot",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (streq(v, names[i])) {
			b->opts.isolation = (enum build_isolation)i;
			return 0;
		}
	}
	return err_usage(err, "--isolation: expected auto, sandbox or chroot, got '%s'", v);
}

/* --storage, or $KILN_STORAGE (@what) as the default */
static int set_storage(struct build_cli *b, const char *what, const char *v,
		       struct kiln_error **err)
{
	static const struct {
		const char *name;
		enum build_storage storage;
	} kinds[] = {
		{"overlay", BUILD_STORAGE_OVERLAY},
		{"copy", BUILD_STORAGE_COPY},
		{"auto", BUILD_STORAGE_AUTO},
	};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (streq(v, kinds[i].name)) {
			b->opts.storage = kinds[i].storage;
			return 0;
		}
	}
	return err_usage(err, "%s: expected overlay, copy or auto, got '%s'", what, v);
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
			return err_usage(
				err, "--progress: expected auto, tty, plain or json, got '%s'", v);
		return 0;
	case OPT_ROOT:
		o->store_root = v;
		return 0;
	case OPT_COMPRESSION:
		if (!streq(v, "gzip") && !streq(v, "zstd") && !streq(v, "none"))
			return err_usage(err,
					 "--compression: expected gzip, zstd or none, got '%s'", v);
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
			return err_usage(err, "--jobs: expected a number of at least 1, got '%s'",
					 v);
		o->jobs = n;
		return 0;
	case OPT_SOURCE_DATE_EPOCH:
		return set_epoch(b, v, err);
	case OPT_PULL:
		return set_pull(b, v, err);
	case OPT_PUSH:
		b->push = true;
		return 0;
	case OPT_STORAGE:
		return set_storage(b, "--storage", v, err);
	case 'o':
		build_output_release(&b->output);
		return build_output_parse(v, &b->output, err);
	case OPT_IIDFILE:
		b->iidfile = v;
		return 0;
	case OPT_METADATA_FILE:
		b->metadata_file = v;
		return 0;
	case OPT_CHECK:
		b->check = true;
		return 0;
	case OPT_ANNOTATION:
		/* buildx's "manifest:" prefix names the only place kiln writes them */
		v = startswith(v, "manifest:") ? v + 9 : v;
		if (!strchr(v, '=') || v[0] == '=')
			return err_usage(err, "--annotation: expected KEY=VALUE, got '%s'", v);
		strv_push(&o->annotations, v);
		return 0;
	case OPT_CALL:
		if (!streq(v, "check") && !streq(v, "build"))
			return err_usage(err, "--call: expected build or check, got '%s'", v);
		b->check = streq(v, "check");
		return 0;
	case OPT_ALLOW:
		return set_allow(b, v, err);
	case OPT_CACHE_TO:
		strv_push(&o->cache_to, v);
		return 0;
	case OPT_CACHE_FROM:
		strv_push(&o->cache_from, v);
		return 0;
	case OPT_ISOLATION:
		return set_isolation(b, v, err);
	}
	n = cmd_registry_option(&b->reg, "build", c, v, err);
	if (n != 0)
		return n < 0 ? n : 0;
	return err_usage(err, "build: unknown option (see 'kiln help build')");
}

/* --push sends every -t name to its registry: each must be a valid reference. */
static int check_push(struct build_cli *b, struct kiln_error **err)
{
	if (!b->push)
		return 0;
	if (b->opts.tags.n == 0)
		return err_usage(
			err, "--push: name the image to push with -t REGISTRY/REPOSITORY[:TAG]");
	strv_foreach(&b->opts.tags, t) {
		_cleanup_(err_freep) struct kiln_error *e = NULL;
		struct registry_ref ref;

		if (registry_ref_parse(*t, &ref, &e) < 0)
			return err_usage(err, "--push: -t '%s': %s", *t, e ? e->msg : "invalid");
		registry_ref_release(&ref);
	}
	return 0;
}

static int parse_build_args(struct build_cli *b, int argc, char **argv, struct kiln_error **err)
{
	const char *env_epoch = getenv("SOURCE_DATE_EPOCH");
	const char *env_storage = getenv("KILN_STORAGE");
	const char *env_keep = getenv("KILN_CACHE_KEEP_STORAGE");
	int c, r;

	if (env_keep && *env_keep && parse_size(env_keep, &b->keep_bytes) < 0)
		return err_usage(err,
				 "KILN_CACHE_KEEP_STORAGE: expected a size such as 10g or 512m, "
				 "got '%s'",
				 env_keep);
	if (env_keep && *env_keep)
		b->keep_storage = env_keep;

	if (env_epoch && *env_epoch && (r = set_epoch(b, env_epoch, err)) < 0)
		return r;
	if (env_storage && *env_storage &&
	    (r = set_storage(b, "KILN_STORAGE", env_storage, err)) < 0)
		return r;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:f:qo:", build_options, NULL)) != -1) {
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
		return err_usage(err, "build: expected one context directory, got %d",
				 argc - optind);
	b->opts.context_dir = optind < argc ? argv[optind] : ".";
	b->opts.registry = &b->reg.reg;
	r = b->check ? 0 : check_push(b, err);
	if (r >= 0 && !b->check && streq(b->opts.context_dir, "-"))
		r = build_stdin_context(&b->opts, &b->owned, &b->stdin_tmp, err);
	return r;
}

/* --check: what `docker build --check` does, kiln check on the same Dockerfile. */
static int run_check(struct build_cli *b, struct kiln_error **err)
{
	char *argv[5] = {"check"};
	int argc = 1;

	if (b->opts.dockerfile) {
		argv[argc++] = "-f";
		argv[argc++] = (char *)b->opts.dockerfile;
	}
	argv[argc++] = (char *)b->opts.context_dir;
	optind = 0; /* cmd_check parses again */
	return cmd_check(argc, argv, err);
}

/* After the image is stored: --iidfile, --metadata-file, --output. */
static int write_outputs(struct build_cli *b, const char *image_id, const struct digest *manifest,
			 struct kiln_error **err)
{
	int r = 0;

	if (b->iidfile)
		r = build_write_iidfile(b->iidfile, image_id, err);
	if (r >= 0 && b->metadata_file)
		r = build_write_metadata(b->metadata_file, b->opts.store_root, manifest,
					 &b->opts.tags, err);
	if (r >= 0)
		r = build_output_write(b->opts.store_root, manifest, &b->output, err);
	return r;
}

static void build_cli_release(struct build_cli *b)
{
	build_opts_release(&b->opts);
	cmd_registry_opts_release(&b->reg);
	build_output_release(&b->output);
	if (b->stdin_tmp)
		fs_rm_rf(AT_FDCWD, b->stdin_tmp, NULL);
	free(b->stdin_tmp);
	strv_clear(&b->owned);
}

/* ---- --push ---- */

struct push_view {
	const struct build_events *ev;
	bool lines; /* the tty renderer shows no messages: blob lines go to stderr */
};

static void push_say(struct push_view *v, const char *msg)
{
	if (v->lines)
		fprintf(stderr, "%s\n", msg);
	else if (v->ev->message)
		v->ev->message(v->ev->userdata, msg);
}

static void push_progress(void *userdata, enum registry_event ev, const char *digest, uint64_t done,
			  uint64_t total)
{
	static const char *const what[] = {
		[REGISTRY_EV_SKIPPED] = "exists",
		[REGISTRY_EV_MOUNTED] = "mounted",
		[REGISTRY_EV_DONE] = "pushed",
		[REGISTRY_EV_RETRY] = "retrying",
	};
	_cleanup_free_ char *msg = NULL;

	if ((size_t)ev >= ARRAY_SIZE(what) || !what[ev] || !digest)
		return;
	msg = xasprintf("blob %.19s: %s", digest, what[ev]);
	push_say(userdata, msg);
}

/* "host/repo:tag@sha256:..." for what was pushed under @name. */
static char *pushed_ref(const char *name, const char *digest)
{
	struct registry_ref ref;
	char *s;

	if (registry_ref_parse(name, &ref, NULL) < 0)
		return xasprintf("%s@%s", name, digest);
	free(ref.digest);
	ref.digest = xstrdup(digest);
	s = registry_ref_format(&ref);
	registry_ref_release(&ref);
	return s;
}

static int push_tags(struct build_cli *b, struct push_view *v, struct strv *ret,
		     struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	int r = cmd_open_store(b->opts.store_root, &s, err);

	b->reg.reg.progress = push_progress;
	b->reg.reg.progress_data = v;
	strv_foreach(&b->opts.tags, t) {
		_cleanup_free_ char *digest = NULL, *msg = NULL;

		if (r < 0)
			return r;
		msg = xasprintf("pushing %s", *t);
		push_say(v, msg);
		r = registry_push(s, *t, NULL, &b->reg.reg, &digest, err);
		if (r < 0)
			return err_wrap(err, "--push");
		strv_push_take(ret, pushed_ref(*t, digest));
		free(msg);
		msg = xasprintf("pushed %s", ret->v[ret->n - 1]);
		push_say(v, msg);
	}
	return r;
}

/*
 * KILN_CACHE_KEEP_STORAGE: trim the build cache after the build as kiln prune
 * --cache --keep-storage would, freeing only what the dropped entries alone kept
 * (an image built without -t is not swept). A store another kiln has open is left
 * for a later build; a failure is a warning: the build itself succeeded.
 */
static void apply_cache_budget(struct build_cli *b)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	uint64_t freed = 0, kept = 0;
	struct store_cache_budget budget = {.keep_storage = b->keep_bytes, .ret_kept = &kept};
	char f[32], k[32];
	int r = store_open(b->opts.store_root, 0, &s, &e);

	if (r >= 0)
		r = store_prune_cache(s, &budget, STORE_PRUNE_ONLY_TRIMMED, NULL, NULL, &freed, &e);
	if (r < 0 && e && e->errnum == EBUSY) {
		log_info("KILN_CACHE_KEEP_STORAGE: the store is in use; a later build trims it");
		return;
	}
	if (r < 0) {
		log_warn("KILN_CACHE_KEEP_STORAGE: %s, ignoring", e ? e->msg : "failed");
		return;
	}
	if (freed && !b->quiet) {
		fmt_human_size(freed, f);
		fmt_human_size(kept, k);
		fprintf(stderr,
			"build cache trimmed to KILN_CACHE_KEEP_STORAGE=%s: freed %s, %s kept\n",
			b->keep_storage, f, k);
	}
}

int cmd_build(int argc, char **argv, struct kiln_error **err)
{
	struct build_cli b = {.progress = PROGRESS_AUTO, .reg = {.reg = REGISTRY_OPTS_INIT}};
	_cleanup_free_ char *image_id = NULL, *default_root = NULL;
	_cleanup_strv_ struct strv pushed = STRV_INIT;
	struct build_events ev;
	struct push_view view = {.ev = &ev};
	struct digest manifest;
	struct progress *p;
	int r;

	build_opts_init(&b.opts);
	b.opts.ret_manifest = &manifest;
	r = parse_build_args(&b, argc, argv, err);
	if (r >= 0 && b.check) {
		r = run_check(&b, err);
		goto out;
	}
	if (r < 0)
		goto out;
	/* the default store is the caller's: decide before becoming root of a user namespace */
	if (!b.opts.store_root)
		b.opts.store_root = default_root = store_default_root();
	r = builder_prepare(err);
	if (r < 0)
		goto out;
	p = progress_new(b.quiet ? PROGRESS_QUIET : b.progress, stderr);
	progress_events(p, &ev);
	r = builder_build(&b.opts, &ev, &image_id, err);
	progress_finish(p, r >= 0);
	view.lines = progress_get_mode(p) == PROGRESS_TTY;
	if (r >= 0)
		r = write_outputs(&b, image_id, &manifest, err);
	if (r >= 0 && b.push && (r = interrupt_check(err)) >= 0)
		r = push_tags(&b, &view, &pushed, err);
	progress_free(p);
	if (r >= 0 && b.keep_storage)
		apply_cache_budget(&b);
	if (r >= 0)
		printf("%s\n", image_id);
	strv_foreach(&pushed, ref)
		printf("%s\n", *ref);
out:
	build_cli_release(&b);
	return r < 0 ? r : 0;
}
