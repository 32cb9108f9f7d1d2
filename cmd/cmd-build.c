/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/builder.h"
#include "cmd/cmd-build-output.h"
#include "cmd/cmd-format.h"
#include "cmd/cmd-layers.h"
#include "cmd/cmd-options.h"
#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "cmd/progress.h"
#include "layers/layers.h"
#include "sandbox/sandbox.h"
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
	struct build_kaniko kaniko; /* kaniko's flags, as aliases (cmd-build-output.h) */
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
	OPT_ADD_HOST,
	OPT_SHM_SIZE,
	OPT_ULIMIT,
	OPT_BUILD_CONTEXT,
	OPT_KANIKO_FIRST,
	OPT_DESTINATION = OPT_KANIKO_FIRST,
	OPT_NO_PUSH,
	OPT_DIGEST_FILE,
	OPT_TAR_PATH,
	OPT_CONTEXT,
	OPT_DOCKERFILE,
	OPT_KANIKO_LAST = OPT_DOCKERFILE,
};

/* The options of kiln build and their help: cmd-options.h says what is made from it. */
const struct cmd_option cmd_build_options[] = {
	{"tag", 't', required_argument, 't', "NAME[:TAG]",
	 "name the image (repeatable; ':latest' when no tag)"},
	{"file", 'f', required_argument, 'f', "FILE",
	 "the Dockerfile (default CONTEXT/Dockerfile; -:\n"
	 "stdin)"},
	{"build-arg", 0, required_argument, OPT_BUILD_ARG, "K[=V]",
	 "set a build argument (K alone: from the\n"
	 "environment)"},
	{"label", 0, required_argument, OPT_LABEL, "K=V", "add a label to the image"},
	{"annotation", 0, required_argument, OPT_ANNOTATION, "[manifest:]K=V",
	 "add an annotation to the manifest (repeatable; not\n"
	 "for docker-format images, which have none)"},
	{"target", 0, required_argument, OPT_TARGET, "STAGE", "build up to this stage"},
	{"platform", 0, required_argument, OPT_PLATFORM, "OS/ARCH[/VARIANT][,...]",
	 "build for these platforms (repeatable; default:\n"
	 "this machine): one gives its manifest, several an\n"
	 "OCI image index the -t names point to"},
	{"build-context", 0, required_argument, OPT_BUILD_CONTEXT, "NAME=VALUE",
	 "a named context (repeatable): VALUE a directory,\n"
	 "docker-image://REF or\n"
	 "oci-layout://DIR[:TAG|@DIGEST]; it replaces the\n"
	 "stage or image NAME in FROM, COPY --from and\n"
	 "RUN --mount=from"},
	{"no-cache", 0, no_argument, OPT_NO_CACHE, NULL, "do not use the step cache"},
	{"no-cache-filter", 0, required_argument, OPT_NO_CACHE_FILTER, "STAGE",
	 "do not use the cache for this stage (repeatable)"},
	{"jobs", 0, required_argument, OPT_JOBS, "N",
	 "stages built at once (default: the number of CPUs)"},
	{"check", 0, no_argument, OPT_CHECK, NULL,
	 "check the Dockerfile as 'kiln check' does, build\n"
	 "nothing"},
	{"call", 0, required_argument, OPT_CALL, "build|check",
	 "--call=check is --check; --call=build builds"},
	{"network", 0, required_argument, OPT_NETWORK, "default|host|none",
	 "RUN steps' network (default: a private namespace\n"
	 "through pasta or slirp4netns)"},
	{"add-host", 0, required_argument, OPT_ADD_HOST, "HOST:IP",
	 "add 'IP HOST' to RUN's /etc/hosts (repeatable; not\n"
	 "in the image; host-gateway is refused)"},
	{"shm-size", 0, required_argument, OPT_SHM_SIZE, "SIZE",
	 "RUN's /dev/shm size (bytes, k, m, g; default 64m)"},
	{"ulimit", 0, required_argument, OPT_ULIMIT, "NAME=SOFT[:HARD]",
	 "a resource limit for RUN (nofile, nproc, core, ...;\n"
	 "repeatable; HARD at most kiln's own)"},
	{"allow", 0, required_argument, OPT_ALLOW, "ENTITLEMENT",
	 "let RUN --security=insecure (security.insecure) or\n"
	 "RUN --network=host (network.host) run"},
	{"secret", 0, required_argument, OPT_SECRET, "id=ID,src=PATH|env=VAR",
	 "a secret for RUN --mount=type=secret"},
	{"ssh", 0, required_argument, OPT_SSH, "default[=SOCKET]",
	 "an SSH agent for RUN --mount=type=ssh"},
	{"progress", 0, required_argument, OPT_PROGRESS, "auto|tty|plain|json",
	 "how to show progress (default auto)"},
	{"quiet", 'q', no_argument, 'q', NULL, "print only the image ID"},
	{"iidfile", 0, required_argument, OPT_IIDFILE, "FILE",
	 "write the image ID (sha256:..., no newline) to FILE"},
	{"metadata-file", 0, required_argument, OPT_METADATA_FILE, "FILE",
	 "write buildx's JSON: containerimage.digest (the\n"
	 "manifest), containerimage.config.digest (the image\n"
	 "ID), containerimage.descriptor, image.name"},
	{"output", 'o', required_argument, 'o', "type=TYPE,dest=DEST",
	 "also write the image out:\n"
	 "local: its final filesystem into the directory DEST\n"
	 "(missing or empty), files the caller's, modes kept;\n"
	 "tar: the same as a tarball (image owners; -:\n"
	 "stdout);\n"
	 "oci, docker: an oci-archive or docker-archive;\n"
	 "image: the store only (the default). -o DIR is\n"
	 "type=local, -o - a tar on stdout"},
	{"compression", 0, required_argument, OPT_COMPRESSION, "gzip|zstd|none",
	 "layer compression (default gzip)"},
	{"source-date-epoch", 0, required_argument, OPT_SOURCE_DATE_EPOCH, "SECONDS",
	 "clamp times (default $SOURCE_DATE_EPOCH)"},
	{"storage", 0, required_argument, OPT_STORAGE, "overlay|copy|auto",
	 "how steps see their parent's files: overlayfs,\n"
	 "or a plain copy diffed by walking it (slower, the\n"
	 "same layers); default $KILN_STORAGE, else auto:\n"
	 "overlay where it can be mounted"},
	{"isolation", 0, required_argument, OPT_ISOLATION, "auto|sandbox|chroot",
	 "how RUN steps are isolated: the sandbox of\n"
	 "namespaces, or chroot(2) over the copy storage\n"
	 "where no namespace can be made (root in a default\n"
	 "container); default auto, said in the progress"},
	{"pull", 0, optional_argument, OPT_PULL, "missing|always|never",
	 "pull FROM, COPY --from and RUN --mount=from\n"
	 "images that are not stages: when the store lacks\n"
	 "them (default), every build (--pull alone), or\n"
	 "never"},
	{"push", 0, no_argument, OPT_PUSH, NULL,
	 "push every -t name to its registry after the build;\n"
	 "prints NAME@DIGEST per name after the image ID"},
	{"cache-to", 0, required_argument, OPT_CACHE_TO, "VALUE",
	 "export the step cache, merged with what is there\n"
	 "(repeatable): type=local,dest=DIR or\n"
	 "type=registry,ref=REF, then [,mode=min|max]\n"
	 "[,ignore-error=true][,mounts=true] (mounts: RUN\n"
	 "cache mounts too); type=inline: into the image's\n"
	 "manifest, for --cache-from IMAGE"},
	{"cache-from", 0, required_argument, OPT_CACHE_FROM, "VALUE",
	 "look steps that miss the store up there\n"
	 "(repeatable): type=local,src=DIR, type=registry,\n"
	 "ref=REF, or REF: a cache or an image with an\n"
	 "inline cache"},
	{"tls-verify", 0, optional_argument, OPT_TLS_VERIFY, "true|false",
	 "--tls-verify=false: do not verify TLS (and allow\n"
	 "plain HTTP) for the pulls and the push"},
	{"cert-file", 0, required_argument, OPT_CERT_FILE, "FILE",
	 "trust the CA certificates in FILE (PEM)"},
	{"authfile", 0, required_argument, OPT_AUTHFILE, "FILE",
	 "credentials file (default: see 'kiln help login')"},
	{"creds", 0, required_argument, OPT_CREDS, "USER[:PASS]",
	 "credentials for the pulls and the push"},
	{"root", 0, required_argument, OPT_ROOT, "DIR",
	 "the store (default $KILN_ROOT, else\n"
	 "$XDG_DATA_HOME/kiln, or /var/lib/kiln for root)"},
	/* kaniko's, where they map onto kiln's (README.md, "Coming from kaniko") */
	{"destination", 0, required_argument, OPT_DESTINATION, "NAME",
	 "kaniko's: -t NAME, and push it after the build\n"
	 "(repeatable)"},
	{"no-push", 0, no_argument, OPT_NO_PUSH, NULL,
	 "kaniko's: push nothing (not --destination, not\n"
	 "--push)"},
	{"digest-file", 0, required_argument, OPT_DIGEST_FILE, "FILE",
	 "kaniko's: write the image's manifest digest to FILE"},
	{"tar-path", 0, required_argument, OPT_TAR_PATH, "FILE",
	 "kaniko's: -o type=docker,dest=FILE, tagged with the\n"
	 "first name"},
	{"context", 0, required_argument, OPT_CONTEXT, "[dir://]DIR",
	 "kaniko's: the context directory"},
	{"dockerfile", 0, required_argument, OPT_DOCKERFILE, "FILE",
	 "kaniko's: -f FILE; a relative FILE that is not\n"
	 "found is looked for in the context"},
	CMD_OPTION_END,
};

/* --network for kiln build and kiln run (docker's "bridge" is the default network) */
int cmd_parse_network(const char *v, enum build_network *ret, struct kiln_error **err)
{
	static const struct {
		const char *name;
		enum build_network net;
	} nets[] = {
		{"default", BUILD_NETWORK_DEFAULT},
		{"bridge", BUILD_NETWORK_DEFAULT},
		{"host", BUILD_NETWORK_HOST},
		{"none", BUILD_NETWORK_NONE},
	};

	for (size_t i = 0; i < ARRAY_SIZE(nets); i++) {
		if (streq(v, nets[i].name)) {
			*ret = nets[i].net;
			return 0;
		}
	}
	return err_usage(err, "--network: expected default, host or none, got '%s'", v);
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

/* --add-host HOST:IP, checked here so that a bad one is a usage error before the build */
static int add_host(struct build_cli *b, const char *v, struct kiln_error **err)
{
	_cleanup_free_ char *name = NULL, *ip = NULL;
	int r = sandbox_host_parse(v, &name, &ip, err);

	if (r >= 0)
		strv_push(&b->opts.add_hosts, v);
	return r;
}

/* --shm-size SIZE: bytes, or with docker's k, m, g suffixes (powers of 1024) */
static int set_shm_size(struct build_cli *b, const char *v, struct kiln_error **err)
{
	uint64_t size;

	if (parse_size(v, &size) < 0 || size == 0)
		return err_usage(err, "--shm-size: expected a size such as 64m or 1g, got '%s'", v);
	b->opts.shm_size = size;
	return 0;
}

static int add_ulimit(struct build_cli *b, const char *v, struct kiln_error **err)
{
	struct sandbox_rlimit l;
	int r = sandbox_ulimit_parse(v, &l, err);

	if (r >= 0)
		strv_push(&b->opts.ulimits, v);
	return r;
}

/* -t NAME, --destination NAME: a bad name is a usage error before anything is built */
static int add_tag(struct build_cli *b, const char *flag, const char *v, struct kiln_error **err)
{
	_cleanup_free_ char *norm = NULL;
	struct kiln_error *e = NULL;

	if (image_name_normalize(v, &norm, &e) < 0) {
		int r = err_usage(err, "%s: %s", flag, e->msg);

		err_free(e);
		return r;
	}
	strv_push(&b->opts.tags, v);
	return 0;
}

/* kaniko's flags: what each is in kiln's terms, settled after the parse (kaniko_finish) */
static int set_kaniko(struct build_cli *b, int c, const char *v, struct kiln_error **err)
{
	struct build_kaniko *k = &b->kaniko;

	switch (c) {
	case OPT_DESTINATION:
		k->destination = true; /* -t NAME, then a push unless --no-push */
		return add_tag(b, "--destination", v, err);
	case OPT_NO_PUSH:
		k->no_push = true;
		return 0;
	case OPT_DIGEST_FILE:
		k->digest_file = v;
		return 0;
	case OPT_TAR_PATH:
		k->tar_path = v;
		return 0;
	case OPT_CONTEXT:
		k->context = startswith(v, "dir://") ? v + 6 : v;
		if (strstr(v, "://") && !startswith(v, "dir://"))
			return err_usage(err,
					 "--context: expected a directory (DIR or dir://DIR), got "
					 "'%s'; fetch other contexts first",
					 v);
		return 0;
	default:
		k->dockerfile = v;
		return 0;
	}
}

/*
 * After the parse. The context of --context; --dockerfile as kaniko finds it
 * (the path, else the path inside the context); a push for --destination
 * unless --no-push (which also stops --push); --tar-path as -o type=docker,
 * with the first name as its tag.
 */
static int kaniko_finish(struct build_cli *b, bool positional, struct kiln_error **err)
{
	struct build_kaniko *k = &b->kaniko;
	struct stat st;

	if (k->context && positional)
		return err_usage(err, "build: --context and a context directory both given");
	if (k->context)
		b->opts.context_dir = k->context;
	if (k->dockerfile) {
		b->opts.dockerfile = k->dockerfile;
		if (k->dockerfile[0] != '/' && stat(k->dockerfile, &st) < 0) {
			k->joined = fs_path_join(b->opts.context_dir, k->dockerfile);
			b->opts.dockerfile = k->joined;
		}
	}
	if (k->destination)
		b->push = true;
	if (k->no_push)
		b->push = false;
	if (!k->tar_path)
		return 0;
	if (b->output.type != BUILD_OUTPUT_IMAGE)
		return err_usage(err, "build: --tar-path and --output both name an output");
	b->output.type = BUILD_OUTPUT_DOCKER;
	b->output.dest = xstrdup(k->tar_path);
	b->output.name = b->opts.tags.n ? b->opts.tags.v[0] : NULL;
	return 0;
}

static int set_option(struct build_cli *b, int c, const char *v, struct kiln_error **err)
{
	struct build_opts *o = &b->opts;
	int n;

	if (c >= OPT_KANIKO_FIRST && c <= OPT_KANIKO_LAST)
		return set_kaniko(b, c, v, err);
	switch (c) {
	case 't':
		return add_tag(b, "-t", v, err);
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
	case OPT_PLATFORM:
		strv_push(&o->platforms, v);
		return 0;
	case OPT_NO_CACHE:
		o->no_cache = true;
		return 0;
	case OPT_NO_CACHE_FILTER:
		strv_push(&o->no_cache_filter, v);
		return 0;
	case OPT_NETWORK:
		return cmd_parse_network(v, &b->opts.network, err);
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
	case OPT_ADD_HOST:
		return add_host(b, v, err);
	case OPT_SHM_SIZE:
		return set_shm_size(b, v, err);
	case OPT_ULIMIT:
		return add_ulimit(b, v, err);
	case OPT_BUILD_CONTEXT:
		if (!strchr(v, '=') || v[0] == '=')
			return err_usage(err, "--build-context: expected NAME=VALUE, got '%s'", v);
		strv_push(&o->build_contexts, v);
		return 0;
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

static int parse_options(struct build_cli *b, int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	int c, r = 0;

	cmd_getopt_init(&g, cmd_build_options);
	opterr = 0;
	while (r >= 0 && (c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == ':')
			r = err_usage(err, "build: option '%s' needs a value", argv[optind - 1]);
		else if (c == '?')
			r = err_usage(err, "build: unknown option '%s' (see 'kiln help build')",
				      argv[optind - 1]);
		else
			r = set_option(b, c, optarg, err);
	}
	return r;
}

static int parse_build_args(struct build_cli *b, int argc, char **argv, struct kiln_error **err)
{
	const char *env_epoch = getenv("SOURCE_DATE_EPOCH");
	const char *env_storage = getenv("KILN_STORAGE");
	const char *env_keep = getenv("KILN_CACHE_KEEP_STORAGE");
	int r;

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
	r = parse_options(b, argc, argv, err);
	if (r < 0)
		return r;
	if (argc - optind > 1)
		return err_usage(err, "build: expected one context directory, got %d",
				 argc - optind);
	b->opts.context_dir = optind < argc ? argv[optind] : ".";
	b->opts.registry = &b->reg.reg;
	r = kaniko_finish(b, optind < argc, err);
	if (r < 0)
		return r;
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
	if (r >= 0 && b->kaniko.digest_file)
		r = build_write_digest_file(b->kaniko.digest_file, manifest, err);
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
	free(b->kaniko.joined);
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
