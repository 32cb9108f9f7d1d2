/* SPDX-License-Identifier: Apache-2.0 */
/* kiln import: a root filesystem tarball becomes a one-layer image. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free)

/* "./a//b/" -> "a/b"; ".." is refused; the root itself gives "". */
static int clean_name(const char *name, struct strbuf *out, struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(name);
	char *save = NULL;

	strbuf_reset(out);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (streq(c, "."))
			continue;
		if (streq(c, ".."))
			return err_at(err, NULL, "entry '%s': '..' is not allowed", name);
		if (out->len)
			strbuf_addch(out, '/');
		strbuf_addstr(out, c);
	}
	return 0;
}

static int copy_entry(struct layer_tar *t, struct archive *in, struct archive_entry *e, int64_t sde,
		      char *buf, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf name = STRBUF_INIT, link = STRBUF_INIT;
	const char *path = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
	int r = clean_name(path ? path : "", &name, err);

	if (r < 0 || name.len == 0)
		return r;
	if (hl) {
		r = clean_name(hl, &link, err);
		if (r < 0)
			return r;
		archive_entry_set_hardlink(e, link.buf);
	}
	archive_entry_set_pathname(e, name.buf);
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	if (sde >= 0 && archive_entry_mtime(e) > sde)
		archive_entry_set_mtime(e, (time_t)sde, 0);
	if (archive_write_header(t->a, e) < ARCHIVE_WARN)
		return layer_tar_fail(t, name.buf, err);
	for (;;) {
		la_ssize_t n = archive_read_data(in, buf, 1 << 17);

		if (n < 0)
			return err_at(err, NULL, "entry '%s': %s", path, archive_error_string(in));
		if (n == 0)
			break;
		if (archive_write_data(t->a, buf, (size_t)n) != n)
			return layer_tar_fail(t, name.buf, err);
	}
	return 0;
}

static int out_blob(void *ctx, const void *data, size_t len, struct kiln_error **err)
{
	return blob_writer_write(ctx, data, len, err);
}

/* Stream the entries of @in into a new layer blob. */
static int rewrite_layer(struct store *s, struct archive *in, const struct layers_commit_opts *opts,
			 struct layer_desc *ret, struct kiln_error **err)
{
	_cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
	_cleanup_free_ char *buf = xmalloc(1 << 17);
	struct layer_tar t = {0};
	struct archive_entry *e;
	int r = blob_writer_begin(s, &w, err), ar = ARCHIVE_EOF;

	if (r >= 0)
		r = layer_tar_open(&t, opts, false, out_blob, w, err);
	while (r >= 0 &&
	       ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN))
		r = copy_entry(&t, in, e, opts->source_date_epoch, buf, err);
	if (r >= 0 && ar != ARCHIVE_EOF)
		r = err_at(err, NULL, "bad tar data: %s", archive_error_string(in));
	if (r >= 0)
		r = layer_tar_finish(&t, opts, ret, err);
	if (r >= 0)
		r = blob_writer_commit(w, NULL, &ret->digest, &ret->size, err);
	layer_tar_release(&t);
	return r;
}

static void rfc3339(int64_t sde, char buf[32])
{
	time_t t = sde >= 0 ? (time_t)sde : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int store_import_rootfs(struct store *s, int tarfd, const char *name,
			const struct layers_commit_opts *opts, const struct platform *platform,
			struct digest *ret_manifest, struct kiln_error **err)
{
	_cleanup_(archive_read_freep) struct archive *in = NULL;
	_cleanup_(json_decrefp) json_t *config = image_config_new();
	_cleanup_free_ char *norm = NULL;
	struct layer_desc l = {0};
	struct image_spec spec = {
		.config = config, .layers = &l, .n_layers = 1, .format = opts->format};
	struct digest manifest;
	char created[32];
	int r = image_name_normalize(name, &norm, err);

	if (r < 0)
		return r;
	in = layers_archive_reader(tarfd, err);
	if (!in)
		return err_wrap(err, "import");
	r = rewrite_layer(s, in, opts, &l, err);
	if (r < 0) {
		layer_desc_release(&l);
		return err_wrap(err, "import");
	}
	if (platform)
		platform_to_json(platform, config);
	rfc3339(opts->source_date_epoch, created);
	json_object_set_new(config, "created", json_string(created));
	image_config_add_history(config, created, "kiln import", false);
	r = image_write(s, &spec, &manifest, err);
	layer_desc_release(&l);
	if (r >= 0)
		r = store_tag(s, norm, &manifest, err);
	if (r < 0)
		return err_wrap(err, "import");
	if (ret_manifest)
		*ret_manifest = manifest;
	return 0;
}
