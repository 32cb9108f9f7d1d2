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

static uint64_t image_size(const struct image *img)
{
	uint64_t total = img->manifest_size;

	for (size_t i = 0; i < img->n_layers; i++)
		total += img->layers[i].size;
	return total;
}

static void print_row(const struct store_image_ref *ref, const struct image *img, json_t *list)
{
	const char *created = json_string_value(json_object_get(img->config, "created"));
	char id[DIGEST_HEX_LEN + 1], cfg[DIGEST_STR_SIZE], digest[DIGEST_STR_SIZE], size[32];

	digest_hex(&img->config_digest, id);
	if (list) {
		json_array_append_new(
			list, json_pack("{s:s?, s:s, s:s, s:s?, s:I}", "name", ref->name, "id",
					digest_format(&img->config_digest, cfg), "digest",
					digest_format(&ref->digest, digest), "created", created,
					"size", (json_int_t)image_size(img)));
		return;
	}
	id[12] = '\0';
	human_size(image_size(img), size);
	printf("%-40s %-12s %-20s %s\n", ref->name ? ref->name : "<none>", id,
	       created ? created : "-", size);
}

static int list_images(struct store *s, bool json, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *list = json ? json_array() : NULL;
	struct store_image_ref *refs = NULL;
	size_t n = 0;
	int r = store_list(s, &refs, &n, err);

	if (r < 0)
		return r;
	if (!json)
		printf("%-40s %-12s %-20s %s\n", "NAME", "IMAGE ID", "CREATED", "SIZE");
	for (size_t i = 0; i < n; i++) {
		_cleanup_(image_freep) struct image *img = NULL;

		if (image_read(s, &refs[i].digest, &img, NULL) >= 0)
			print_row(&refs[i], img, list);
	}
	store_image_refs_free(refs, n);
	if (list)
		json_dumpf(list, stdout, JSON_INDENT(2));
	if (list)
		putchar('\n');
	return 0;
}

int cmd_images(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	const char *root = NULL, *format = NULL;
	int i = parse_opts(argc, argv, &root, &format, err), r;

	if (i < 0)
		return i;
	if (i < argc)
		return err_usage(err, "images: unexpected argument '%s'", argv[i]);
	if (format && !streq(format, "json") && !streq(format, "table"))
		return err_usage(err, "images: --format: expected json or table, got '%s'", format);
	r = cmd_open_store(root, &s, err);
	if (r < 0)
		return r;
	r = list_images(s, format && streq(format, "json"), err);
	return r < 0 ? r : 0;
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

/* Remove a name; for an ID or digest, every name of that image. */
static int rmi_one(struct store *s, const char *what, struct kiln_error **err)
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
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (digest_eq(&refs[i].digest, &d) && refs[i].name) {
			r = store_untag(s, refs[i].name, err);
			if (r >= 0)
				printf("Untagged: %s\n", refs[i].name);
		}
	store_image_refs_free(refs, n);
	return r;
}

int cmd_rmi(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	const char *root = NULL;
	int i = parse_opts(argc, argv, &root, NULL, err), r;

	if (i < 0)
		return i;
	if (i >= argc)
		return err_usage(err, "rmi: expected at least one image");
	r = cmd_open_store(root, &s, err);
	for (; r >= 0 && i < argc; i++)
		r = rmi_one(s, argv[i], err);
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

static void enter_build_userns(void);

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
static void enter_build_userns(void)
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

int cmd_prune(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *default_root = NULL;
	const char *root = NULL;
	enum store_prune_flags flags = 0;
	uint64_t freed = 0;
	char buf[32];
	int i, r;

	/* --cache is ours alone: take it out before the shared options */
	if (take_flag(&argc, argv, "--cache"))
		flags |= STORE_PRUNE_CACHE;
	i = parse_opts(argc, argv, &root, NULL, err);
	if (i < 0)
		return i;
	if (i < argc)
		return err_usage(err, "prune: unexpected argument '%s'", argv[i]);
	if (!root)
		root = default_root = store_default_root();
	enter_build_userns();
	r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = store_prune_flags(s, NULL, 0, flags, print_freed, NULL, &freed, err);
	if (r < 0)
		return r;
	human_size(freed, buf);
	printf("freed %s\n", buf);
	return 0;
}
