/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln push, and the registry transport of kiln pull (docker://REF or a bare
 * reference; cmd-transfer.c dispatches to cmd_pull_registry).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "util/error.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define TLS_VERIFY_HELP "--tls-verify=false: do not verify TLS (and allow\nplain HTTP)"
#define AUTHFILE_HELP	"credentials file (default: see 'kiln help login')"

const struct cmd_option cmd_pull_options[] = {
	{"platform", 0, required_argument, OPT_PLATFORM, "OS/ARCH[/VARIANT]",
	 "the image to take from an index (default\n"
	 "linux/amd64)"},
	{"tls-verify", 0, optional_argument, OPT_TLS_VERIFY, "true|false", TLS_VERIFY_HELP},
	{"cert-file", 0, required_argument, OPT_CERT_FILE, "FILE",
	 "trust the CA certificates in FILE (PEM)"},
	{"authfile", 0, required_argument, OPT_AUTHFILE, "FILE", AUTHFILE_HELP},
	{"creds", 0, required_argument, OPT_CREDS, "USER[:PASS]", "credentials for this pull"},
	{"jobs", 'j', required_argument, 'j', "N", "blobs fetched at once, 1 to 8 (default 3)"},
	{"quiet", 'q', no_argument, OPT_QUIET, NULL, "no progress lines on stderr"},
	{"root", 0, required_argument, 'r', "DIR", "the store (default as for kiln images)"},
	CMD_OPTION_END,
};

const struct cmd_option cmd_push_options[] = {
	{"tls-verify", 0, optional_argument, OPT_TLS_VERIFY, "true|false", TLS_VERIFY_HELP},
	{"cert-file", 0, required_argument, OPT_CERT_FILE, "FILE",
	 "trust the CA certificates in FILE (PEM)"},
	{"authfile", 0, required_argument, OPT_AUTHFILE, "FILE", AUTHFILE_HELP},
	{"creds", 0, required_argument, OPT_CREDS, "USER[:PASS]", "credentials for this push"},
	{"jobs", 'j', required_argument, 'j', "N", "blobs sent at once, 1 to 8 (default 3)"},
	{"chunk-size", 0, required_argument, 'k', "SIZE",
	 "blobs larger than SIZE go up in PATCH chunks of\n"
	 "SIZE (default 64m)"},
	{"quiet", 'q', no_argument, OPT_QUIET, NULL, "no progress lines on stderr"},
	{"root", 0, required_argument, 'r', "DIR", "the store (default as for kiln images)"},
	CMD_OPTION_END,
};

/* ---- progress ---- */

#define VIEW_MAX_LINES 64
#define REDRAW_NS      (100 * 1000 * 1000LL)

struct view_line {
	char id[20]; /* "sha256:" + 12 hex */
	enum registry_event state;
	uint64_t done, total;
};

struct cmd_progress_view {
	struct view_line lines[VIEW_MAX_LINES];
	size_t n, drawn;
	long long last_draw;
};

static const char *event_name(enum registry_event ev)
{
	static const char *const names[] = {
		[REGISTRY_EV_START] = "copying",  [REGISTRY_EV_PROGRESS] = "copying",
		[REGISTRY_EV_SKIPPED] = "exists", [REGISTRY_EV_MOUNTED] = "mounted",
		[REGISTRY_EV_DONE] = "done",	  [REGISTRY_EV_RETRY] = "retrying",
	};

	return names[ev];
}

static void human_size(uint64_t n, char buf[16])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 16, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct view_line *view_find(struct cmd_progress_view *v, const char *digest)
{
	for (size_t i = 0; i < v->n; i++)
		if (strncmp(v->lines[i].id, digest, sizeof(v->lines[i].id) - 1) == 0)
			return &v->lines[i];
	if (v->n == VIEW_MAX_LINES)
		return NULL;
	snprintf(v->lines[v->n].id, sizeof(v->lines[v->n].id), "%s", digest);
	return &v->lines[v->n++];
}

static void view_draw(struct cmd_progress_view *v)
{
	char done[16], total[16];

	if (v->drawn)
		fprintf(stderr, "\033[%zuA", v->drawn);
	for (size_t i = 0; i < v->n; i++) {
		const struct view_line *l = &v->lines[i];

		human_size(l->done, done);
		human_size(l->total, total);
		if (l->total && (l->state == REGISTRY_EV_PROGRESS || l->state == REGISTRY_EV_START))
			fprintf(stderr, "\033[Kblob %s: %s %s / %s (%d%%)\n", l->id,
				event_name(l->state), done, total, (int)(100 * l->done / l->total));
		else
			fprintf(stderr, "\033[Kblob %s: %s%s%s\n", l->id, event_name(l->state),
				l->total ? " " : "", l->total ? total : "");
	}
	v->drawn = v->n;
	v->last_draw = now_ns();
}

static void progress_plain(enum registry_event ev, const char *digest, uint64_t total)
{
	char size[16];

	if (ev == REGISTRY_EV_PROGRESS)
		return;
	human_size(total, size);
	fprintf(stderr, "blob %.19s: %s%s%s%s\n", digest, event_name(ev), total ? " (" : "",
		total ? size : "", total ? ")" : "");
}

void cmd_registry_progress(void *userdata, enum registry_event ev, const char *digest,
			   uint64_t done, uint64_t total)
{
	struct cmd_registry_opts *o = userdata;
	struct view_line *l;

	if (o->quiet || !digest)
		return;
	if (!o->view || !(l = view_find(o->view, digest))) {
		progress_plain(ev, digest, total);
		return;
	}
	l->state = ev;
	l->done = done;
	if (total)
		l->total = total;
	if (ev != REGISTRY_EV_PROGRESS || now_ns() - o->view->last_draw >= REDRAW_NS)
		view_draw(o->view);
}

static void progress_setup(struct cmd_registry_opts *o)
{
	o->reg.progress = cmd_registry_progress;
	o->reg.progress_data = o;
	if (!o->quiet && isatty(STDERR_FILENO) && !o->view)
		o->view = xcalloc(1, sizeof(*o->view));
}

static void progress_release(struct cmd_registry_opts *o)
{
	free(o->view);
	o->view = NULL;
}

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
		struct platform p;

		if (platform_parse(arg, &p, err) < 0)
			return err_wrap(err, "%s: --platform", cmd);
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

/* The value of option @o at argv[i]: attached (@attached, or NULL) or the next word. */
static const char *option_value(const struct cmd_option *o, char **argv, int argc, int i,
				const char *attached, int *ret_width)
{
	*ret_width = 1;
	if (attached || o->has_arg != required_argument)
		return attached;
	if (i + 1 >= argc)
		return NULL;
	*ret_width = 2;
	return argv[i + 1];
}

/*
 * Is argv[i] an option of cmd_pull_options[] (but --root, which cmd_pull's
 * own parser takes)? Sets *ret_width to the argv slots it uses.
 */
static const struct cmd_option *match_option(char **argv, int argc, int i, int *ret_width,
					     const char **ret_arg)
{
	const char *a = startswith(argv[i], "--");

	for (const struct cmd_option *o = cmd_pull_options; o->name; o++) {
		size_t n = strlen(o->name);

		if (o->val == 'r')
			continue;
		if (!a && o->short_name && argv[i][0] == '-' && argv[i][1] == o->short_name &&
		    (o->has_arg != no_argument || !argv[i][2])) {
			*ret_arg = option_value(o, argv, argc, i, argv[i][2] ? argv[i] + 2 : NULL,
						ret_width);
			return o;
		}
		if (a && !strncmp(a, o->name, n) && (!a[n] || a[n] == '=')) {
			*ret_arg =
				option_value(o, argv, argc, i, a[n] ? a + n + 1 : NULL, ret_width);
			return o;
		}
	}
	return NULL;
}

int cmd_pull_registry_args(int *argc, char **argv, struct kiln_error **err)
{
	int out = 1;

	for (int i = 1; i < *argc;) {
		const char *arg = NULL;
		int width = 1, r;
		const struct cmd_option *o =
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
	int r;

	progress_setup(&pull_opts);
	r = registry_pull(s, ref, name, &pull_opts.reg, &digest, err);
	progress_release(&pull_opts);
	cmd_registry_opts_release(&pull_opts);
	if (r < 0)
		return r;
	printf("%s\n", digest);
	return 0;
}

/* ---- push ---- */

/* docker's first line, with the registry spelled out: docker.io/user/app */
static void say_push_repo(const char *dest)
{
	struct registry_ref ref;

	if (registry_ref_parse(dest, &ref, NULL) < 0)
		return;
	fprintf(stderr, "The push refers to repository [%s/%s]\n", ref.domain, ref.path);
	registry_ref_release(&ref);
}

int cmd_push(int argc, char **argv, struct kiln_error **err)
{
	struct cmd_registry_opts o = {.reg = REGISTRY_OPTS_INIT};
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *digest = NULL;
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	_cleanup_free_ char *shortopts = NULL;
	const char *root = NULL;
	int c, r = 0;

	cmd_getopt_init(&g, cmd_push_options);
	shortopts = xasprintf("+%s", g.shortopts); /* options before NAME only */
	opterr = 0;
	while (r >= 0 && (c = getopt_long(argc, argv, shortopts, g.longopts, NULL)) != -1) {
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
	progress_setup(&o);
	if (r >= 0 && !o.quiet)
		say_push_repo(argc - optind == 2 ? argv[optind + 1] : argv[optind]);
	if (r >= 0)
		r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = registry_push(s, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL,
				  &o.reg, &digest, err);
	progress_release(&o);
	cmd_registry_opts_release(&o);
	if (r < 0)
		return r;
	printf("%s\n", digest);
	return 0;
}
