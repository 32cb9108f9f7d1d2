/* SPDX-License-Identifier: Apache-2.0 */
/* kiln images, inspect, tag, rmi, fsck, prune: looking after the store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "cmd/cmd-layers.h"
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

/* Parse "--root DIR" (and "--format F" when @format is not NULL); returns optind. */
static int parse_opts(int argc, char **argv, const char **root, const char **format,
		      struct kiln_error **err)
{
	static const struct option opts[] = {
		{"root", required_argument, NULL, 'r'},
		{"format", required_argument, NULL, 'f'},
		{},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'r')
			*root = optarg;
		else if (c == 'f' && format)
			*format = optarg;
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

int cmd_inspect(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_(json_decrefp) json_t *out = NULL;
	char id[DIGEST_STR_SIZE], digest[DIGEST_STR_SIZE];
	const char *root = NULL;
	int i = parse_opts(argc, argv, &root, NULL, err), r;

	if (i < 0)
		return i;
	if (argc - i != 1)
		return err_usage(err, "inspect: expected one image name or ID");
	r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = image_read_named(s, argv[i], &img, err);
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
	const char *root = NULL;
	struct digest d;
	int i = parse_opts(argc, argv, &root, NULL, err), r;

	if (i < 0)
		return i;
	if (argc - i != 2)
		return err_usage(err, "tag: expected SOURCE and TARGET");
	r = cmd_open_store(root, &s, err);
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

static bool take_flag(int *argc, char **argv, const char *flag);

int cmd_rmi(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	const char *root = NULL;
	bool force = take_flag(&argc, argv, "-f");
	int i, r;

	/* both spellings are taken out, whichever came first */
	if (take_flag(&argc, argv, "--force"))
		force = true;
	i = parse_opts(argc, argv, &root, NULL, err);
	if (i < 0)
		return i;
	if (i >= argc)
		return err_usage(err, "rmi: expected at least one image");
	r = cmd_open_store(root, &s, err);
	for (; r >= 0 && i < argc; i++)
		r = rmi_one(s, argv[i], force, err);
	return r < 0 ? r : 0;
}

/* Remove @flag from argv (it may come anywhere); true when it was there. */
static bool take_flag(int *argc, char **argv, const char *flag)
{
	bool found = false;
	int i = 1;

	for (int j = 1; j < *argc; j++) {
		if (streq(argv[j], flag))
			found = true;
		else
			argv[i++] = argv[j];
	}
	*argc = i;
	return found;
}

static void print_problem(void *ctx, const char *problem)
{
	printf("%s\n", problem);
}

int cmd_fsck(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *default_root = NULL;
	const char *root = NULL;
	bool snapshots = take_flag(&argc, argv, "--snapshots");
	int i = parse_opts(argc, argv, &root, NULL, err), r, n = 0;

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

/* Remove "@flag VALUE" or "@flag=VALUE" from argv (the last one wins); 1 when there. */
static int take_value(int *argc, char **argv, const char *flag, const char **ret,
		      struct kiln_error **err)
{
	size_t len = strlen(flag);
	int i = 1, found = 0;

	for (int j = 1; j < *argc; j++) {
		if (streq(argv[j], flag)) {
			if (j + 1 >= *argc)
				return err_usage(err, "prune: option '%s' needs a value", flag);
			*ret = argv[++j];
			found = 1;
		} else if (strncmp(argv[j], flag, len) == 0 && argv[j][len] == '=') {
			*ret = argv[j] + len + 1;
			found = 1;
		} else {
			argv[i++] = argv[j];
		}
	}
	*argc = i;
	return found;
}

/* --keep-storage SIZE and --filter until=DURATION: a budget for the cache. */
static int prune_budget(int *argc, char **argv, bool cache, struct store_cache_budget *b,
			bool *ret_have, struct kiln_error **err)
{
	const char *size = NULL, *filter = NULL;
	int64_t ns;
	int r = take_value(argc, argv, "--keep-storage", &size, err), f;

	if (r < 0 || (f = take_value(argc, argv, "--filter", &filter, err)) < 0)
		return r < 0 ? r : f;
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
	const char *root = NULL;
	enum store_prune_flags flags = 0;
	uint64_t freed = 0, kept = 0;
	bool have_budget = false;
	char buf[32];
	int i, r;

	/* --cache and the budget are ours alone: take them out before the shared options */
	if (take_flag(&argc, argv, "--cache"))
		flags |= STORE_PRUNE_CACHE;
	r = prune_budget(&argc, argv, flags & STORE_PRUNE_CACHE, &budget, &have_budget, err);
	if (r < 0)
		return r;
	i = parse_opts(argc, argv, &root, NULL, err);
	if (i < 0)
		return i;
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
