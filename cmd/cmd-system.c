/* SPDX-License-Identifier: Apache-2.0 */
/* kiln image SUBCOMMAND, kiln image prune, kiln system df|prune: docker's management commands. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd-format.h"
#include "cmd/cmd-layers.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct sys_opts {
	const char *root, *format;
	bool all, force;
};

static int parse_sys_opts(int argc, char **argv, const char *name, struct sys_opts *o,
			  struct kiln_error **err)
{
	enum { OPT_ROOT = 256, OPT_FORMAT };
	static const struct option opts[] = {
		{"root", required_argument, NULL, OPT_ROOT},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"all", no_argument, NULL, 'a'},
		{"force", no_argument, NULL, 'f'},
		{},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":af", opts, NULL)) != -1) {
		if (c == OPT_ROOT)
			o->root = optarg;
		else if (c == OPT_FORMAT)
			o->format = optarg;
		else if (c == 'a')
			o->all = true;
		else if (c == 'f')
			o->force = true;
		else if (c == ':')
			return err_usage(err, "%s: option '%s' needs an argument", name,
					 argv[optind - 1]);
		else
			return err_usage(err, "%s: unknown option '%s' (see 'kiln help %s')", name,
					 argv[optind - 1], argv[0]);
	}
	if (optind < argc)
		return err_usage(err, "%s: unexpected argument '%s'", name, argv[optind]);
	return 0;
}

/* ---- kiln image prune ---- */

static bool confirm(const char *warning)
{
	char line[64];

	printf("WARNING! %s\nAre you sure you want to continue? [y/N] ", warning);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static void say_header(bool *said)
{
	if (!*said)
		printf("Deleted Images:\n");
	*said = true;
}

/* Untag what prune takes: unnamed entries, and with -a every name. */
static int untag_all(struct store *s, bool all, struct kiln_error **err)
{
	struct store_image_ref *refs = NULL;
	char id[DIGEST_STR_SIZE];
	bool said = false;
	size_t n = 0;
	int r = store_list(s, &refs, &n, err);

	for (size_t i = 0; r >= 0 && i < n; i++) {
		_cleanup_(image_freep) struct image *img = NULL;

		if (refs[i].name && !all)
			continue;
		if (refs[i].name && (r = store_untag(s, refs[i].name, err)) >= 0) {
			say_header(&said);
			printf("untagged: %s\n", refs[i].name);
		}
		if (!refs[i].name && store_untag_unnamed(s, &refs[i].digest, NULL) >= 0 &&
		    image_read(s, &refs[i].digest, &img, NULL) >= 0) {
			say_header(&said);
			printf("deleted: %s\n", digest_format(&img->config_digest, id));
		}
	}
	store_image_refs_free(refs, n);
	if (said)
		putchar('\n');
	return r;
}

static int image_prune(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_free_ char *default_root = NULL;
	struct sys_opts o = {0};
	uint64_t freed = 0;
	char buf[32];
	int r = parse_sys_opts(argc, argv, "image prune", &o, err);

	if (r < 0)
		return r;
	if (!o.force && !confirm(o.all ? "This will remove all images without at least one "
					 "container associated to them."
				       : "This will remove all dangling images."))
		return 0;
	if (!o.root)
		o.root = default_root = store_default_root();
	enter_build_userns();
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = untag_all(s, o.all, err);
	if (r >= 0)
		r = store_prune(s, NULL, 0, NULL, NULL, &freed, err);
	if (r < 0)
		return r;
	fmt_human_size(freed, buf);
	printf("Total reclaimed space: %s\n", buf);
	return 0;
}

/* ---- kiln system df ---- */

struct blob_set {
	struct digest *d;
	size_t n;
	uint64_t size;
};

static void blob_set_add(const struct store *s, struct blob_set *set, const struct digest *d)
{
	uint64_t size = 0;

	for (size_t i = 0; i < set->n; i++)
		if (digest_eq(&set->d[i], d))
			return;
	set->d = xrealloc(set->d, (set->n + 1) * sizeof(*set->d));
	set->d[set->n++] = *d;
	if (store_blob_exists(s, d, &size))
		set->size += size;
}

/* What each image (named, or every one with @all) reaches: entry, manifest, config, layers. */
static int reach(struct store *s, struct blob_set *set, bool named_only, size_t *ret_images,
		 struct kiln_error **err)
{
	struct store_image_ref *refs = NULL;
	struct blob_set ids = {0};
	size_t n = 0;
	int r = store_list(s, &refs, &n, err);

	for (size_t i = 0; r >= 0 && i < n; i++) {
		_cleanup_(image_freep) struct image *img = NULL;

		if (named_only && !refs[i].name)
			continue;
		blob_set_add(s, set, &refs[i].digest);
		if (image_read(s, &refs[i].digest, &img, NULL) < 0)
			continue;
		blob_set_add(s, &ids, &img->config_digest);
		blob_set_add(s, set, &img->config_digest);
		for (size_t l = 0; l < img->n_layers; l++)
			blob_set_add(s, set, &img->layers[l].digest);
	}
	store_image_refs_free(refs, n);
	*ret_images = ids.n;
	free(ids.d);
	return r;
}

/* The bytes of the regular files under @dfd's @name (not following symlinks) */
static uint64_t file_bytes(int dfd, const char *name, int depth)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	uint64_t total = 0;
	struct dirent *e;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d))) {
		if (streq(e->d_name, ".") || streq(e->d_name, "..") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
		else if (S_ISDIR(st.st_mode) && depth < 64)
			total += file_bytes(dirfd(d), e->d_name, depth + 1);
	}
	closedir(d);
	return total;
}

static uint64_t dir_bytes(const struct store *s, enum store_dir which)
{
	return file_bytes(store_dirfd(s, which), ".", 0);
}

static size_t count_entries(const struct store *s, enum store_dir which)
{
	int fd = openat(store_dirfd(s, which), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	size_t n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

enum df_field { DF_ACTIVE, DF_RECLAIMABLE, DF_SIZE, DF_TOTAL, DF_TYPE, DF_N };

static const struct fmt_field df_fields[DF_N] = {
	[DF_ACTIVE] = {"Active", "ACTIVE"}, [DF_RECLAIMABLE] = {"Reclaimable", "RECLAIMABLE"},
	[DF_SIZE] = {"Size", "SIZE"},	    [DF_TOTAL] = {"TotalCount", "TOTAL"},
	[DF_TYPE] = {"Type", "TYPE"},
};

static void df_row(struct fmt *f, const char *type, size_t total, size_t active, uint64_t size,
		   uint64_t reclaimable)
{
	char t[24], a[24], sz[32], rc[32], rcp[48];
	const char *v[DF_N] = {[DF_ACTIVE] = a,
			       [DF_RECLAIMABLE] = rcp,
			       [DF_SIZE] = sz,
			       [DF_TOTAL] = t,
			       [DF_TYPE] = type};

	snprintf(t, sizeof(t), "%zu", total);
	snprintf(a, sizeof(a), "%zu", active);
	fmt_human_size(size, sz);
	fmt_human_size(reclaimable, rc);
	if (size > 0)
		snprintf(rcp, sizeof(rcp), "%s (%d%%)", rc, (int)(100 * reclaimable / size));
	else
		snprintf(rcp, sizeof(rcp), "%s", rc);
	fmt_row(f, v);
}

/*
 * Images: every image; ACTIVE the named ones (kiln has no containers: a name is
 * what keeps an image); SIZE the blobs; RECLAIMABLE what 'kiln image prune' and
 * 'kiln prune' would free (blobs no named image reaches). Build Cache: cache/
 * and snapshots/, all of it reclaimable by 'kiln prune --cache'.
 */
static int system_df(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(fmt_freep) struct fmt *f = NULL;
	_cleanup_free_ char *default_root = NULL;
	struct blob_set all = {0}, named = {0};
	struct sys_opts o = {0};
	size_t n_all = 0, n_named = 0;
	uint64_t blobs, cache;
	int r = parse_sys_opts(argc, argv, "system df", &o, err);

	if (r >= 0)
		r = fmt_parse("system df", o.format,
			      "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}"
			      "\\t{{.Reclaimable}}",
			      df_fields, DF_N, &f, err);
	if (r < 0)
		return r;
	if (!o.root)
		o.root = default_root = store_default_root();
	enter_build_userns();
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = reach(s, &all, false, &n_all, err);
	if (r >= 0)
		r = reach(s, &named, true, &n_named, err);
	blobs = dir_bytes(s, STORE_DIR_BLOBS);
	cache = dir_bytes(s, STORE_DIR_CACHE) + dir_bytes(s, STORE_DIR_SNAPSHOTS);
	if (r >= 0) {
		df_row(f, "Images", n_all, n_named, blobs,
		       blobs > named.size ? blobs - named.size : 0);
		df_row(f, "Containers", 0, 0, 0, 0);
		df_row(f, "Local Volumes", 0, 0, 0, 0);
		df_row(f, "Build Cache",
		       count_entries(s, STORE_DIR_CACHE) + count_entries(s, STORE_DIR_SNAPSHOTS), 0,
		       cache, cache);
		fmt_flush(f);
	}
	free(all.d);
	free(named.d);
	return r;
}

/* ---- dispatch ---- */

int cmd_dispatch(const char *group, const struct subcommand *subs, size_t n, int argc, char **argv,
		 struct kiln_error **err)
{
	if (argc < 2)
		return err_usage(err, "%s: expected a subcommand (see 'kiln help %s')", group,
				 group);
	for (size_t i = 0; i < n; i++)
		if (streq(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1, err);
	return err_usage(err, "%s: unknown subcommand '%s' (see 'kiln help %s')", group, argv[1],
			 group);
}

int cmd_image(int argc, char **argv, struct kiln_error **err)
{
	static const struct subcommand subs[] = {
		{"ls", cmd_images},	  {"list", cmd_images}, {"history", cmd_history},
		{"inspect", cmd_inspect}, {"tag", cmd_tag},	{"rm", cmd_rmi},
		{"prune", image_prune},	  {"build", cmd_build}, {"import", cmd_import},
		{"save", cmd_save},	  {"load", cmd_load},
	};

	return cmd_dispatch("image", subs, ARRAY_SIZE(subs), argc, argv, err);
}

int cmd_system(int argc, char **argv, struct kiln_error **err)
{
	static const struct subcommand subs[] = {
		{"df", system_df},
		{"prune", cmd_prune},
	};

	return cmd_dispatch("system", subs, ARRAY_SIZE(subs), argc, argv, err);
}
