/* SPDX-License-Identifier: Apache-2.0 */
/* kiln images and kiln history, with docker's columns, filters and --format. */
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd-format.h"
#include "cmd/cmd-layers.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* One line of `kiln images`: an index entry and its image. */
struct img_row {
	char *repo, *tag; /* familiar: "busybox", not "docker.io/library/busybox" */
	char *name; /* familiar "repo:tag", NULL for an unnamed entry */
	char *stored; /* the name in index.json */
	struct digest manifest, config;
	long long created; /* -1: unknown */
	uint64_t size;
	json_t *labels; /* owned reference, may be NULL */
	char *platforms; /* "linux/amd64", or an index's "linux/amd64, linux/arm64" */
};

struct img_list {
	struct img_row *rows;
	size_t n;
};

static void img_list_release(struct img_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->rows[i].repo);
		free(l->rows[i].tag);
		free(l->rows[i].name);
		free(l->rows[i].stored);
		json_decref(l->rows[i].labels);
		free(l->rows[i].platforms);
	}
	free(l->rows);
}

/* docker's FamiliarName: no docker.io/ or docker.io/library/ in front */
static const char *familiar(const char *name)
{
	if (strncmp(name, "docker.io/library/", 18) == 0 && !strchr(name + 18, '/'))
		return name + 18;
	if (strncmp(name, "docker.io/", 10) == 0)
		return name + 10;
	return name;
}

/* "repo:tag" or "repo@sha256:..." into repository and tag ("<none>" for a digest) */
static void split_name(struct img_row *r, const char *stored)
{
	const char *name = familiar(stored), *at = strchr(name, '@');
	const char *slash = strrchr(name, '/'), *colon = strrchr(slash ? slash : name, ':');

	if (at) {
		r->repo = xstrndup(name, (size_t)(at - name));
		r->tag = xstrdup("<none>");
	} else if (colon) {
		r->repo = xstrndup(name, (size_t)(colon - name));
		r->tag = xstrdup(colon + 1);
	} else {
		r->repo = xstrdup(name);
		r->tag = xstrdup("latest");
	}
	r->name = xstrdup(name);
	r->stored = xstrdup(stored);
}

static uint64_t image_size(const struct image *img)
{
	uint64_t total = img->manifest_size;

	for (size_t i = 0; i < img->n_layers; i++)
		total += img->layers[i].size;
	return total;
}

static void fill_row(struct img_row *r, const struct store_image_ref *ref, const struct image *img)
{
	json_t *cfg = json_object_get(img->config, "config");

	if (ref->name) {
		split_name(r, ref->name);
	} else {
		r->repo = xstrdup("<none>");
		r->tag = xstrdup("<none>");
	}
	r->manifest = ref->digest; /* an index's own digest, as docker shows it */
	r->config = img->config_digest;
	r->created = fmt_parse_rfc3339(json_string_value(json_object_get(img->config, "created")));
	r->size = image_size(img);
	r->labels = json_incref(json_object_get(cfg, "Labels"));
}

/* newest first, as docker; then by name, so that the order does not depend on index.json */
static int cmp_rows(const void *a, const void *b)
{
	const struct img_row *x = a, *y = b;
	int c;

	if (x->created != y->created)
		return x->created < y->created ? 1 : -1;
	c = strcmp(x->repo, y->repo);
	return c ? c : strcmp(x->tag, y->tag);
}

/* The image an index row shows: this machine's platform, else the first one stored. */
static void read_index_image(struct store *s, const struct digest *d, const json_t *idx,
			     struct image **ret)
{
	json_t *e;
	size_t i;

	*ret = NULL;
	if (image_read(s, d, ret, NULL) >= 0)
		return;
	json_array_foreach(json_object_get(idx, "manifests"), i, e) {
		const char *ds = json_string_value(json_object_get(e, "digest"));
		struct digest md;

		if (ds && digest_parse(ds, &md, NULL) >= 0 && image_read(s, &md, ret, NULL) >= 0)
			return;
	}
}

static int img_list_read(struct store *s, struct img_list *l, struct kiln_error **err)
{
	struct store_image_ref *refs = NULL;
	size_t n = 0;
	int r = store_list(s, &refs, &n, err);

	if (r < 0)
		return r;
	l->rows = xcalloc(n ? n : 1, sizeof(*l->rows));
	for (size_t i = 0; i < n; i++) {
		_cleanup_(image_freep) struct image *img = NULL;

		_cleanup_(json_decrefp) json_t *idx = NULL;
		char buf[PLATFORM_STR_SIZE];
		struct platform p;

		if (image_is_index(s, &refs[i].digest, &idx))
			read_index_image(s, &refs[i].digest, idx, &img);
		else if (image_read(s, &refs[i].digest, &img, NULL) < 0)
			img = NULL;
		if (!img)
			continue;
		fill_row(&l->rows[l->n], &refs[i], img);
		if (idx)
			l->rows[l->n].platforms =
				platform_list_json(json_object_get(idx, "manifests"));
		else if (platform_from_json(img->config, &p))
			l->rows[l->n].platforms = xstrdup(platform_format(&p, buf));
		l->n++;
	}
	store_image_refs_free(refs, n);
	qsort(l->rows, l->n, sizeof(*l->rows), cmp_rows);
	return 0;
}

/* ---- --filter ---- */

struct img_filter {
	struct strv refs; /* reference=, and kiln images NAME: any may match */
	struct strv labels; /* label=K or K=V: all must match */
	int dangling; /* -1: either */
	long long before, since; /* -1: no bound */
};

/* docker's reference filter: path.Match on the familiar name, with and without the tag */
static bool match_ref(const struct img_filter *f, const struct img_row *r)
{
	_cleanup_free_ char *with_tag = NULL;

	if (f->refs.n == 0)
		return true;
	if (!r->name)
		return false;
	with_tag = xasprintf("%s:%s", r->repo, r->tag);
	strv_foreach(&f->refs, p) {
		if (fnmatch(*p, r->repo, FNM_PATHNAME) == 0 ||
		    fnmatch(*p, r->name, FNM_PATHNAME) == 0 ||
		    fnmatch(*p, r->stored, FNM_PATHNAME) == 0 ||
		    fnmatch(*p, with_tag, FNM_PATHNAME) == 0)
			return true;
	}
	return false;
}

static bool match_labels(const struct img_filter *f, const struct img_row *r)
{
	strv_foreach(&f->labels, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = eq ? xstrndup(*kv, (size_t)(eq - *kv)) : xstrdup(*kv);
		const char *v = json_string_value(json_object_get(r->labels, k));

		if (!v || (eq && !streq(v, eq + 1)))
			return false;
	}
	return true;
}

static bool match(const struct img_filter *f, const struct img_row *r)
{
	if (f->dangling >= 0 && (f->dangling == 1) != (r->name == NULL))
		return false;
	if (f->before >= 0 && !(r->created >= 0 && r->created < f->before))
		return false;
	if (f->since >= 0 && !(r->created > f->since))
		return false;
	return match_ref(f, r) && match_labels(f, r);
}

/* The creation time of the image @what names, for before= and since= */
static int created_of(struct store *s, const char *what, long long *ret, struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	int r = image_read_named(s, what, &img, err);

	if (r < 0)
		return r;
	*ret = fmt_parse_rfc3339(json_string_value(json_object_get(img->config, "created")));
	return 0;
}

static int add_filter(struct store *s, struct img_filter *f, const char *kv,
		      struct kiln_error **err)
{
	const char *eq = strchr(kv, '='), *v = eq ? eq + 1 : "";
	size_t n = eq ? (size_t)(eq - kv) : strlen(kv);

	if (n == 9 && strncmp(kv, "reference", n) == 0)
		strv_push(&f->refs, v);
	else if (n == 5 && strncmp(kv, "label", n) == 0)
		strv_push(&f->labels, v);
	else if (n == 8 && strncmp(kv, "dangling", n) == 0 && (streq(v, "true") || streq(v, "1")))
		f->dangling = 1;
	else if (n == 8 && strncmp(kv, "dangling", n) == 0 && (streq(v, "false") || streq(v, "0")))
		f->dangling = 0;
	else if (n == 8 && strncmp(kv, "dangling", n) == 0)
		return err_usage(err, "images: --filter dangling: expected true or false, got '%s'",
				 v);
	else if (n == 6 && strncmp(kv, "before", n) == 0)
		return created_of(s, v, &f->before, err);
	else if (n == 5 && strncmp(kv, "since", n) == 0)
		return created_of(s, v, &f->since, err);
	else
		return err_usage(err,
				 "images: --filter: invalid filter '%.*s' (expected reference, "
				 "dangling, before, since or label)",
				 (int)n, kv);
	return 0;
}

/* ---- output ---- */

enum img_field {
	IF_CONTAINERS,
	IF_CREATED_AT,
	IF_CREATED_SINCE,
	IF_DIGEST,
	IF_ID,
	IF_PLATFORM,
	IF_REPOSITORY,
	IF_SHARED_SIZE,
	IF_SIZE,
	IF_TAG,
	IF_UNIQUE_SIZE,
	IF_VIRTUAL_SIZE,
	IF_N,
};

/* docker's image formatter fields, with its headers */
static const struct fmt_field img_fields[IF_N] = {
	[IF_CONTAINERS] = {"Containers", "CONTAINERS"},
	[IF_CREATED_AT] = {"CreatedAt", "CREATED AT"},
	[IF_CREATED_SINCE] = {"CreatedSince", "CREATED"},
	[IF_DIGEST] = {"Digest", "DIGEST"},
	[IF_ID] = {"ID", "IMAGE ID"},
	[IF_PLATFORM] = {"Platform", "PLATFORM"},
	[IF_REPOSITORY] = {"Repository", "REPOSITORY"},
	[IF_SHARED_SIZE] = {"SharedSize", "SHARED SIZE"},
	[IF_SIZE] = {"Size", "SIZE"},
	[IF_TAG] = {"Tag", "TAG"},
	[IF_UNIQUE_SIZE] = {"UniqueSize", "UNIQUE SIZE"},
	[IF_VIRTUAL_SIZE] = {"VirtualSize", "VIRTUAL SIZE"},
};

struct img_opts {
	const char *root, *format;
	bool quiet, all, no_trunc, digests;
	struct strv filters;
};

static void print_row(struct fmt *f, const struct img_opts *o, const struct img_row *r)
{
	char id[DIGEST_STR_SIZE], digest[DIGEST_STR_SIZE], at[64], since[64], size[32];
	const char *v[IF_N];

	if (o->no_trunc)
		digest_format(&r->config, id);
	else
		digest_hex(&r->config, id)[12] = '\0';
	fmt_time(r->created, at);
	fmt_human_since(r->created, since);
	fmt_human_size(r->size, size);
	v[IF_CONTAINERS] = v[IF_SHARED_SIZE] = v[IF_UNIQUE_SIZE] = "N/A";
	v[IF_CREATED_AT] = at;
	v[IF_CREATED_SINCE] = since;
	v[IF_DIGEST] = digest_format(&r->manifest, digest);
	v[IF_ID] = id;
	v[IF_PLATFORM] = r->platforms ? r->platforms : "";
	v[IF_REPOSITORY] = r->repo;
	v[IF_SIZE] = v[IF_VIRTUAL_SIZE] = size;
	v[IF_TAG] = r->tag;
	fmt_row(f, v);
}

enum { OPT_ROOT = 256, OPT_FORMAT, OPT_NO_TRUNC, OPT_DIGESTS };

const struct cmd_option cmd_images_options[] = {
	{"all", 'a', no_argument, 'a', NULL,
	 "every image (kiln keeps no intermediate images: the\n"
	 "same list)"},
	{"quiet", 'q', no_argument, 'q', NULL, "only the image IDs, one per line"},
	{"no-trunc", 0, no_argument, OPT_NO_TRUNC, NULL, "full image IDs (sha256:...)"},
	{"digests", 0, no_argument, OPT_DIGESTS, NULL, "a DIGEST column (the manifest digest)"},
	{"filter", 'f', required_argument, 'f', "K=V",
	 "keep only matching images (repeatable; different\n"
	 "keys must all match, several reference= any):\n"
	 "reference=PATTERN: the name, with or without\n"
	 "  :TAG, matches PATTERN (*, ?, [...]; * stops at /)\n"
	 "dangling=true|false: unnamed entries only, or\n"
	 "  named only\n"
	 "before=IMAGE, since=IMAGE: created before or\n"
	 "  after IMAGE\n"
	 "label=KEY, label=KEY=VALUE: has the label (with\n"
	 "  the value)"},
	{"format", 0, required_argument, OPT_FORMAT, "FORMAT",
	 "table (default), table TEMPLATE, json (one object\n"
	 "per line), or TEMPLATE with {{.Repository}},\n"
	 "{{.Tag}}, {{.ID}}, {{.Digest}}, {{.CreatedSince}},\n"
	 "{{.CreatedAt}}, {{.Size}}, {{json .}},\n"
	 "{{json .Field}}; \\t is a tab"},
	{"root", 0, required_argument, OPT_ROOT, "DIR",
	 "the store (default $KILN_ROOT, else\n"
	 "$XDG_DATA_HOME/kiln, ~/.local/share/kiln, or\n"
	 "/var/lib/kiln for root)"},
	CMD_OPTION_END,
};

const struct cmd_option cmd_history_options[] = {
	{"quiet", 'q', no_argument, 'q', NULL, "only the IMAGE column"},
	{"no-trunc", 0, no_argument, OPT_NO_TRUNC, NULL, "full image ID and CREATED BY"},
	{"format", 0, required_argument, OPT_FORMAT, "FORMAT",
	 "table, table TEMPLATE, json or TEMPLATE with\n"
	 "{{.ID}}, {{.CreatedSince}}, {{.CreatedAt}},\n"
	 "{{.CreatedBy}}, {{.Size}}, {{.Comment}}"},
	{"root", 0, required_argument, OPT_ROOT, "DIR",
	 "the store (default $KILN_ROOT, else\n"
	 "$XDG_DATA_HOME/kiln, ~/.local/share/kiln, or\n"
	 "/var/lib/kiln for root)"},
	CMD_OPTION_END,
};

static int parse_images_opts(int argc, char **argv, const struct cmd_option *table,
			     struct img_opts *o, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	int c;

	cmd_getopt_init(&g, table);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			o->root = optarg;
			break;
		case OPT_FORMAT:
			o->format = optarg;
			break;
		case 'f':
			strv_push(&o->filters, optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'a':
			o->all = true;
			break;
		case OPT_NO_TRUNC:
			o->no_trunc = true;
			break;
		case OPT_DIGESTS:
			o->digests = true;
			break;
		case ':':
			return err_usage(err, "%s: option '%s' needs an argument", argv[0],
					 argv[optind - 1]);
		default:
			return err_usage(err, "%s: unknown option '%s' (see 'kiln help %s')",
					 argv[0], argv[optind - 1], argv[0]);
		}
	}
	return optind;
}

static int list(struct store *s, struct img_opts *o, struct img_filter *flt,
		struct kiln_error **err)
{
	_cleanup_(fmt_freep) struct fmt *f = NULL;
	struct img_list l = {0};
	const char *table = o->digests ? "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}"
					 "\\t{{.CreatedSince}}\\t{{.Size}}"
				       : "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}"
					 "\\t{{.CreatedSince}}\\t{{.Size}}";
	int r = fmt_parse("images", o->quiet ? "{{.ID}}" : o->format, table, img_fields, IF_N, &f,
			  err);

	if (r >= 0)
		r = img_list_read(s, &l, err);
	for (size_t i = 0; r >= 0 && i < l.n; i++)
		if (match(flt, &l.rows[i]))
			print_row(f, o, &l.rows[i]);
	if (r >= 0)
		fmt_flush(f);
	img_list_release(&l);
	return r;
}

int cmd_images(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct img_opts o = {0};
	struct img_filter flt = {.dangling = -1, .before = -1, .since = -1};
	int i = parse_images_opts(argc, argv, cmd_images_options, &o, err), r = i;

	if (i >= 0 && argc - i > 1)
		r = err_usage(err, "images: expected at most one REPOSITORY[:TAG], got %d",
			      argc - i);
	if (r >= 0)
		r = cmd_open_store(o.root, &s, err);
	if (r >= 0 && i < argc)
		strv_push(&flt.refs, argv[i]);
	strv_foreach(&o.filters, kv) {
		if (r >= 0)
			r = add_filter(s, &flt, *kv, err);
	}
	if (r >= 0)
		r = list(s, &o, &flt, err);
	strv_clear(&o.filters);
	strv_clear(&flt.refs);
	strv_clear(&flt.labels);
	return r < 0 ? r : 0;
}

/* ---- kiln history ---- */

enum hist_field {
	HF_COMMENT,
	HF_CREATED_AT,
	HF_CREATED_BY,
	HF_CREATED_SINCE,
	HF_ID,
	HF_SIZE,
	HF_N
};

static const struct fmt_field hist_fields[HF_N] = {
	[HF_COMMENT] = {"Comment", "COMMENT"},
	[HF_CREATED_AT] = {"CreatedAt", "CREATED AT"},
	[HF_CREATED_BY] = {"CreatedBy", "CREATED BY"},
	[HF_CREATED_SINCE] = {"CreatedSince", "CREATED"},
	[HF_ID] = {"ID", "IMAGE"},
	[HF_SIZE] = {"Size", "SIZE"},
};

/* docker's stringutils.Ellipsis: at most @max runes, the last one '…' when cut */
static char *ellipsis(const char *s, size_t max)
{
	size_t n = 0, cut = 0;

	for (size_t i = 0; s[i]; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n++ == max - 1)
			cut = i;
	if (n <= max)
		return xstrdup(s);
	return xasprintf("%.*s…", (int)cut, s);
}

struct hist_entry {
	const json_t *h; /* a config history entry */
	uint64_t size; /* its layer's blob size, 0 for an empty layer */
};

static void print_hist(struct fmt *f, const struct hist_entry *e, const char *id, bool no_trunc)
{
	const char *by = json_string_value(json_object_get(e->h, "created_by"));
	const char *comment = json_string_value(json_object_get(e->h, "comment"));
	long long created = fmt_parse_rfc3339(json_string_value(json_object_get(e->h, "created")));
	_cleanup_free_ char *flat = xstrdup(by ? by : ""), *cut = NULL;
	char at[64], since[64], size[32];
	const char *v[HF_N];

	for (char *c = flat; *c; c++)
		if (*c == '\t' || *c == '\n')
			*c = ' ';
	cut = no_trunc ? xstrdup(flat) : ellipsis(flat, 45);
	fmt_time(created, at);
	fmt_human_since(created, since);
	fmt_human_size(e->size, size);
	v[HF_COMMENT] = comment ? comment : "";
	v[HF_CREATED_AT] = at;
	v[HF_CREATED_BY] = cut;
	v[HF_CREATED_SINCE] = since;
	v[HF_ID] = id;
	v[HF_SIZE] = size;
	fmt_row(f, v);
}

/* Pair history entries with layers (entries without empty_layer take the next one). */
static size_t hist_entries(const struct image *img, struct hist_entry **ret)
{
	json_t *hist = json_object_get(img->config, "history");
	size_t n = json_array_size(hist), layer = 0, i;
	struct hist_entry *e = xcalloc(n ? n : 1, sizeof(*e));
	json_t *h;

	json_array_foreach(hist, i, h) {
		e[i].h = h;
		if (!json_is_true(json_object_get(h, "empty_layer")) && layer < img->n_layers)
			e[i].size = img->layers[layer++].size;
	}
	*ret = e;
	return n;
}

static int history(struct store *s, const char *what, const struct img_opts *o,
		   struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_(fmt_freep) struct fmt *f = NULL;
	_cleanup_free_ struct hist_entry *e = NULL;
	char id[DIGEST_STR_SIZE];
	size_t n;
	int r = fmt_parse("history", o->quiet ? "{{.ID}}" : o->format,
			  "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}"
			  "\\t{{.Comment}}",
			  hist_fields, HF_N, &f, err);

	if (r >= 0)
		r = image_read_named(s, what, &img, err);
	if (r < 0)
		return r;
	if (o->no_trunc)
		digest_format(&img->config_digest, id);
	else
		digest_hex(&img->config_digest, id)[12] = '\0';
	n = hist_entries(img, &e);
	for (size_t i = n; i-- > 0;)
		print_hist(f, &e[i], i == n - 1 ? id : "<missing>", o->no_trunc);
	fmt_flush(f);
	return 0;
}

int cmd_history(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct img_opts o = {0};
	int i = parse_images_opts(argc, argv, cmd_history_options, &o, err), r = i;

	if (r >= 0 && argc - i != 1)
		r = err_usage(err, "history: expected one image name or ID");
	if (r >= 0)
		r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = history(s, argv[i], &o, err);
	strv_clear(&o.filters);
	return r < 0 ? r : 0;
}
