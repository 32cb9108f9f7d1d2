/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln manifest create|add|inspect|push (podman's and docker's verbs): an
 * OCI image index assembled from images in the store, say each built on a
 * runner of its own architecture and pulled here, then pushed as one name.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* The manifests of the index being made, one per platform. */
struct entries {
	struct digest *d;
	struct platform *p;
	size_t n, alloc, alloc_p;
};

/* A platform already listed is replaced (the image added last wins), as docker's --amend. */
static void entries_put(struct entries *e, const struct digest *d, const struct platform *p)
{
	for (size_t i = 0; i < e->n; i++)
		if (platform_eq(&e->p[i], p)) {
			e->d[i] = *d;
			return;
		}
	ALLOC_GROW(e->d, e->n + 1, e->alloc);
	ALLOC_GROW(e->p, e->n + 1, e->alloc_p);
	e->d[e->n] = *d;
	e->p[e->n++] = *p;
}

static void entries_release(struct entries *e)
{
	free(e->d);
	free(e->p);
}

/* The stored manifests of index @idx, each with the platform its descriptor says. */
static int put_index(struct store *s, const char *what, const json_t *idx, struct entries *e,
		     struct kiln_error **err)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(idx, "manifests"), i, m) {
		const char *ds = json_string_value(json_object_get(m, "digest"));
		struct platform p;
		struct digest d;

		if (!ds || digest_parse(ds, &d, NULL) < 0 ||
		    !platform_from_json(json_object_get(m, "platform"), &p))
			return err_new(err, KILN_ERR_INPUT, EINVAL,
				       "'%s': manifest %zu of the index has no digest or platform",
				       what, i + 1);
		if (store_blob_exists(s, &d, NULL))
			entries_put(e, &d, &p);
	}
	return 0;
}

/* @what (a name or ID): an image, its config's platform; an index, its stored manifests. */
static int put_image(struct store *s, const char *what, struct entries *e, struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_(json_decrefp) json_t *idx = NULL;
	struct platform p;
	struct digest d;
	int r = store_resolve(s, what, &d, err);

	if (r < 0)
		return r;
	if (image_is_index(s, &d, &idx))
		return put_index(s, what, idx, e, err);
	r = image_read(s, &d, &img, err);
	if (r < 0)
		return r;
	if (!platform_from_json(img->config, &p))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "'%s': the image config names no architecture and os", what);
	entries_put(e, &img->manifest_digest, &p);
	return 0;
}

/* Write the index of @e and name it @list; prints its digest. */
static int write_list(struct store *s, const char *list, const struct entries *e,
		      struct kiln_error **err)
{
	char buf[DIGEST_STR_SIZE];
	struct digest idx;
	int r = image_write_index(s, e->d, e->p, e->n, NULL, &idx, err);

	if (r >= 0)
		r = store_tag(s, list, &idx, err);
	if (r < 0)
		return r;
	printf("%s\n", digest_format(&idx, buf));
	return 0;
}

static int parse_root(int argc, char **argv, const char **root, struct kiln_error **err)
{
	static const struct option opts[] = {{"root", required_argument, NULL, 'r'}, {}};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'r')
			*root = optarg;
		else if (c == ':')
			return err_usage(err, "manifest %s: option '%s' needs an argument", argv[0],
					 argv[optind - 1]);
		else
			return err_usage(
				err, "manifest %s: unknown option '%s' (see 'kiln help manifest')",
				argv[0], argv[optind - 1]);
	}
	return optind;
}

/* create LIST [IMAGE...] (a new name) and add LIST IMAGE... (an existing index). */
static int create_or_add(int argc, char **argv, bool add, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(json_decrefp) json_t *idx = NULL;
	struct entries e = {0};
	const char *root = NULL;
	struct digest d;
	int i = parse_root(argc, argv, &root, err), r;

	if (i < 0)
		return i;
	if (argc - i < (add ? 2 : 1))
		return err_usage(err, add ? "manifest add: expected LIST and IMAGE..."
					  : "manifest create: expected LIST [IMAGE...]");
	r = cmd_open_store(root, &s, err);
	if (r < 0)
		return r;
	r = store_resolve(s, argv[i], &d, NULL);
	if (!add && r >= 0)
		return err_new(err, KILN_ERR_INPUT, EEXIST,
			       "manifest create: '%s' exists (add to it with 'kiln manifest add')",
			       argv[i]);
	if (add && (r < 0 || !image_is_index(s, &d, &idx)))
		return err_new(err, KILN_ERR_INPUT, ENOENT,
			       "manifest add: '%s' is not an image index in the store", argv[i]);
	r = idx ? put_index(s, argv[i], idx, &e, err) : 0;
	for (int k = i + 1; r >= 0 && k < argc; k++)
		r = put_image(s, argv[k], &e, err);
	if (r >= 0)
		r = write_list(s, argv[i], &e, err);
	entries_release(&e);
	return r < 0 ? err_wrap(err, "manifest %s", argv[0]) : 0;
}

static int manifest_create(int argc, char **argv, struct kiln_error **err)
{
	return create_or_add(argc, argv, false, err);
}

static int manifest_add(int argc, char **argv, struct kiln_error **err)
{
	return create_or_add(argc, argv, true, err);
}

/* The index as stored, indented. */
static int manifest_inspect(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(json_decrefp) json_t *idx = NULL;
	const char *root = NULL;
	struct digest d;
	int i = parse_root(argc, argv, &root, err), r;

	if (i < 0)
		return i;
	if (argc - i != 1)
		return err_usage(err, "manifest inspect: expected LIST");
	r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = store_resolve(s, argv[i], &d, err);
	if (r < 0)
		return err_wrap(err, "manifest inspect");
	if (!image_is_index(s, &d, &idx))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "manifest inspect: '%s' is an image, not an image index", argv[i]);
	json_dumpf(idx, stdout, JSON_INDENT(4));
	putchar('\n');
	return 0;
}

int cmd_manifest(int argc, char **argv, struct kiln_error **err)
{
	static const struct subcommand subs[] = {
		{"create", manifest_create},
		{"add", manifest_add},
		{"inspect", manifest_inspect},
		{"push", cmd_push}, /* kiln push sends an index and each of its manifests */
	};

	return cmd_dispatch("manifest", subs, ARRAY_SIZE(subs), argc, argv, err);
}
