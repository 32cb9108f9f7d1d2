/* SPDX-License-Identifier: Apache-2.0 */
/* kiln images, inspect, tag, rmi, fsck, prune: looking after the store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "cmd/cmd-layers.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "sandbox/sandbox.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

int cmd_open_store(const char *root, struct store **ret, struct kiln_error **err)
{
	return store_open(root, STORE_CREATE, ret, err);
}

enum { OPT_ROOT = 256, OPT_SNAPSHOTS, OPT_CACHE, OPT_KEEP_STORAGE, OPT_FILTER };

#define ROOT_HELP                                        \
	"the store (default $KILN_ROOT, else\n"          \
	"$XDG_DATA_HOME/kiln, ~/.local/share/kiln, or\n" \
	"/var/lib/kiln for root)"

const struct cmd_option cmd_inspect_options[] = {
	{"root", 0, required_argument, OPT_ROOT, "DIR", ROOT_HELP},
	CMD_OPTION_END,
};

const struct cmd_option cmd_tag_options[] = {
	{"root", 0, required_argument, OPT_ROOT, "DIR", ROOT_HELP},
	CMD_OPTION_END,
};

const struct cmd_option cmd_rmi_options[] = {
	{"force", 'f', no_argument, 'f', NULL,
	 "remove an ID whose image has several names\n"
	 "(without it, refused as docker: \"image is\n"
	 "referenced in multiple repositories\")"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", ROOT_HELP},
	CMD_OPTION_END,
};

const struct cmd_option cmd_fsck_options[] = {
	{"snapshots", 0, no_argument, OPT_SNAPSHOTS, NULL,
	 "also unpack each snapshot's layer again and\n"
	 "compare the two trees"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", ROOT_HELP},
	CMD_OPTION_END,
};

const struct cmd_option cmd_prune_options[] = {
	{"cache", 0, no_argument, OPT_CACHE, NULL,
	 "empty the build cache first, so what only it\n"
	 "reached goes too"},
	{"keep-storage", 0, required_argument, OPT_KEEP_STORAGE, "SIZE",
	 "with --cache: drop the least recently used\n"
	 "entries until the cache keeps at most SIZE"},
	{"filter", 0, required_argument, OPT_FILTER, "until=DURATION",
	 "with --cache: drop the entries unused for longer"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", ROOT_HELP},
	CMD_OPTION_END,
};

struct store_cli {
	const char *root;
	bool force, snapshots, cache;
	const char *keep_storage, *filter; /* prune's --keep-storage, --filter */
};

/* The options of @table (a subset of store_cli's) into @o; returns optind. */
static int parse_opts(int argc, char **argv, const struct cmd_option *table, struct store_cli *o,
		      struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	int c;

	cmd_getopt_init(&g, table);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == OPT_ROOT)
			o->root = optarg;
		else if (c == 'f')
			o->force = true;
		else if (c == OPT_SNAPSHOTS)
			o->snapshots = true;
		else if (c == OPT_CACHE)
			o->cache = true;
		else if (c == OPT_KEEP_STORAGE)
			o->keep_storage = optarg;
		else if (c == OPT_FILTER)
			o->filter = optarg;
		else if (c == ':')
			return err_usage(err, "%s: option '%s' needs an argument", argv[0],
					 argv[optind - 1]);
		else
			return err_usage(err, "%s: unknown option '%s' (see 'kiln help %s')",
					 argv[0], argv[optind - 1], argv[0]);
	}
	return optind;
}

static void human_size(uint64_t n, char buf[32])
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", v, units[u]);
}

/*
 * An image index: its digest and JSON, and per manifest its platform, digest,
 * image ID and config ("Stored": false for a platform the store lacks).
 */
static int inspect_index(struct store *s, const char *name, const struct digest *top,
			 const json_t *idx, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *out = NULL, *arr = json_array();
	char digest[DIGEST_STR_SIZE];
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		_cleanup_(image_freep) struct image *img = NULL;
		const char *ds = json_string_value(json_object_get(e, "digest"));
		json_t *m = json_pack("{s:O*, s:s*}", "Platform", json_object_get(e, "platform"),
				      "Digest", ds);
		struct digest md;
		char id[DIGEST_STR_SIZE];

		if (ds && digest_parse(ds, &md, NULL) >= 0 && image_read(s, &md, &img, NULL) >= 0) {
			json_object_set_new(m, "Id",
					    json_string(digest_format(&img->config_digest, id)));
			json_object_set(m, "Config", img->config);
		}
		json_object_set_new(m, "Stored", json_boolean(img != NULL));
		json_array_append_new(arr, m);
	}
	out = json_pack("{s:s, s:s, s:O, s:O}", "Name", name, "Digest", digest_format(top, digest),
			"Index", idx, "Manifests", arr);
	if (!out)
		return err_new(err, KILN_ERR_INTERNAL, EINVAL,
			       "inspect: cannot describe the index");
	json_dumpf(out, stdout, JSON_INDENT(2));
	putchar('\n');
	return 0;
}

int cmd_inspect(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_(json_decrefp) json_t *out = NULL, *idx = NULL;
	char id[DIGEST_STR_SIZE], digest[DIGEST_STR_SIZE];
	struct store_cli o = {0};
	int i = parse_opts(argc, argv, cmd_inspect_options, &o, err), r;
	struct digest top;

	if (i < 0)
		return i;
	if (argc - i != 1)
		return err_usage(err, "inspect: expected one image name or ID");
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = store_resolve(s, argv[i], &top, err);
	if (r >= 0 && image_is_index(s, &top, &idx))
		return inspect_index(s, argv[i], &top, idx, err);
	if (r >= 0)
		r = image_read(s, &top, &img, err);
	if (r < 0)
		return r;
	out = json_pack("{s:s, s:s, s:s, s:O, s:O}", "Name", argv[i], "Id",
			digest_format(&img->config_digest, id), "Digest",
			digest_format(&img->manifest_digest, digest), "Manifest", img->manifest,
			"Config", img->config);
	json_dumpf(out, stdout, JSON_INDENT(2));
	putchar('\n');
	return 0;
}

int cmd_tag(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct store_cli o = {0};
	struct digest d;
	int i = parse_opts(argc, argv, cmd_tag_options, &o, err), r;

	if (i < 0)
		return i;
	if (argc - i != 2)
		return err_usage(err, "tag: expected SOURCE and TARGET");
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = store_resolve(s, argv[i], &d, err);
	if (r >= 0)
		r = store_tag(s, argv[i + 1], &d, err);
	return r < 0 ? r : 0;
}

static int count_names(const struct store_image_ref *refs, size_t n, const struct digest *d)
{
	int k = 0;

	for (size_t i = 0; i < n; i++)
		k += digest_eq(&refs[i].digest, d) && refs[i].name;
	return k;
}

/* An ID of an image with several names needs -f, as docker's rmi. */
static int rmi_refuse(struct store *s, const char *what, const struct digest *d,
		      struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	char id[DIGEST_HEX_LEN + 1] = "";

	if (image_read(s, d, &img, NULL) >= 0)
		digest_hex(&img->config_digest, id)[12] = '\0';
	return err_new(err, KILN_ERR_INPUT, EBUSY,
		       "rmi '%s': conflict: unable to delete %s (must be forced) - image is "
		       "referenced in multiple repositories",
		       what, id);
}

/* The unnamed entries of @d go too: print the image ID, as docker's "Deleted:". */
static void rmi_unnamed(struct store *s, const struct digest *d)
{
	_cleanup_(image_freep) struct image *img = NULL;
	char id[DIGEST_STR_SIZE];

	if (store_untag_unnamed(s, d, NULL) >= 0 && image_read(s, d, &img, NULL) >= 0)
		printf("Deleted: %s\n", digest_format(&img->config_digest, id));
}

/* Remove a name; for an ID or digest, every name of that image (-f when several). */
static int rmi_one(struct store *s, const char *what, bool force, struct kiln_error **err)
{
	struct store_image_ref *refs = NULL;
	_cleanup_free_ char *norm = NULL;
	struct digest d;
	size_t n = 0;
	int r = store_resolve(s, what, &d, err);

	if (r < 0)
		return r;
	if (image_name_normalize(what, &norm, NULL) >= 0 && store_untag(s, norm, NULL) >= 0) {
		printf("Untagged: %s\n", norm);
		return 0;
	}
	r = store_list(s, &refs, &n, err);
	if (r >= 0 && !force && count_names(refs, n, &d) > 1)
		r = rmi_refuse(s, what, &d, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (digest_eq(&refs[i].digest, &d) && refs[i].name) {
			r = store_untag(s, refs[i].name, err);
			if (r >= 0)
				printf("Untagged: %s\n", refs[i].name);
		}
	store_image_refs_free(refs, n);
	if (r >= 0)
		rmi_unnamed(s, &d);
	return r;
}

int cmd_rmi(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct store_cli o = {0};
	int i = parse_opts(argc, argv, cmd_rmi_options, &o, err), r;

	if (i < 0)
		return i;
	if (i >= argc)
		return err_usage(err, "rmi: expected at least one image");
	r = cmd_open_store(o.root, &s, err);
	for (; r >= 0 && i < argc; i++)
		r = rmi_one(s, argv[i], o.force, err);
	return r < 0 ? r : 0;
}

static void print_problem(void *ctx, const char *problem)
{
	printf("%s\n", problem);
}

int cmd_fsck(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *default_root = NULL;
	struct store_cli o = {0};
	int i = parse_opts(argc, argv, cmd_fsck_options, &o, err), r, n = 0;
	const char *root = o.root;
	bool snapshots = o.snapshots;

	if (i < 0)
		return i;
	if (i < argc)
		return err_usage(err, "fsck: unexpected argument '%s'", argv[i]);
	if (snapshots) {
		/* snapshots hold files of the build's user namespace: read them from there */
		if (!root)
			root = default_root = store_default_root();
		enter_build_userns();
	}
	r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = n = store_fsck(s, print_problem, NULL, err);
	if (r >= 0 && snapshots)
		r = store_fsck_snapshots(s, print_problem, NULL, err);
	if (r < 0)
		return r;
	n += snapshots ? r : 0;
	if (n > 0)
		return err_new(err, KILN_ERR_INPUT, EUCLEAN, "fsck: store '%s' has %d problem%s",
			       store_root(s), n, n == 1 ? "" : "s");
	return 0;
}

static void print_freed(void *ctx, const char *what, uint64_t size)
{
	char buf[32];

	human_size(size, buf);
	printf("deleted %s (%s)\n", what, buf);
}

/*
 * Rootless snapshots hold files of the build's user namespace (a --chown'ed
 * directory belongs to a subordinate id): delete from inside it, as root
 * there. The store's default place is decided before, as the user.
 */
void enter_build_userns(void)
{
	enum log_level level = log_get_level();
	struct kiln_error *e = NULL;

	if (getuid() == 0)
		return;
	/* its warning about RUN steps without subordinate ids is not for prune or fsck */
	if (level < LOG_LEVEL_DEBUG)
		log_set_level(LOG_LEVEL_ERROR);
	if (sandbox_enter_userns(&e) < 0) {
		log_debug("outside a user namespace: %s", e->msg);
		err_free(e);
	}
	log_set_level(level);
}

/* --keep-storage SIZE and --filter until=DURATION: a budget for the cache. */
static int prune_budget(const char *size, const char *filter, bool cache,
			struct store_cache_budget *b, bool *ret_have, struct kiln_error **err)
{
	int64_t ns;

	*ret_have = size || filter;
	if (*ret_have && !cache)
		return err_usage(err, "prune: --keep-storage and --filter trim the build cache: "
				      "give --cache too");
	b->keep_storage = UINT64_MAX;
	if (size && parse_size(size, &b->keep_storage) < 0)
		return err_usage(err,
				 "prune: --keep-storage: expected a size such as 10g or 512m, "
				 "got '%s'",
				 size);
	if (filter && !startswith(filter, "until="))
		return err_usage(err, "prune: --filter: expected until=DURATION, got '%s'", filter);
	if (filter && (parse_duration_ns(filter + 6, &ns) < 0 || ns < 0))
		return err_usage(err,
				 "prune: --filter until: expected a duration such as 24h or 90m, "
				 "got '%s'",
				 filter + 6);
	if (filter)
		b->until = ns / 1000000000 > 0 ? ns / 1000000000 : 1;
	return 0;
}

int cmd_prune(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *default_root = NULL;
	struct store_cache_budget budget = {0};
	struct store_cli o = {0};
	const char *root;
	enum store_prune_flags flags = 0;
	uint64_t freed = 0, kept = 0;
	bool have_budget = false;
	char buf[32];
	int i, r;

	i = parse_opts(argc, argv, cmd_prune_options, &o, err);
	if (i < 0)
		return i;
	root = o.root;
	flags = o.cache ? STORE_PRUNE_CACHE : 0;
	r = prune_budget(o.keep_storage, o.filter, o.cache, &budget, &have_budget, err);
	if (r < 0)
		return r;
	if (i < argc)
		return err_usage(err, "prune: unexpected argument '%s'", argv[i]);
	if (!root)
		root = default_root = store_default_root();
	enter_build_userns();
	budget.ret_kept = &kept;
	r = cmd_open_store(root, &s, err);
	if (r >= 0 && have_budget)
		r = store_prune_cache(s, &budget, 0, print_freed, NULL, &freed, err);
	else if (r >= 0)
		r = store_prune_flags(s, NULL, 0, flags, print_freed, NULL, &freed, err);
	if (r < 0)
		return r;
	human_size(freed, buf);
	printf("freed %s\n", buf);
	if (have_budget) {
		human_size(kept, buf);
		printf("build cache: %s\n", buf);
	}
	return 0;
}
