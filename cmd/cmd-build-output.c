/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build --output, --iidfile, --metadata-file and '-' as the context:
 * what docker build and buildx write besides the image.
 */
#include "cmd/cmd-build-output.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
#include "layers/layers.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ---- --output ---- */

static int output_type(const char *v, enum build_output_type *ret, struct kiln_error **err)
{
	static const struct {
		const char *name;
		enum build_output_type type;
	} types[] = {
		{"image", BUILD_OUTPUT_IMAGE},	 {"local", BUILD_OUTPUT_LOCAL},
		{"tar", BUILD_OUTPUT_TAR},	 {"oci", BUILD_OUTPUT_OCI},
		{"docker", BUILD_OUTPUT_DOCKER},
	};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (streq(v, types[i].name)) {
			*ret = types[i].type;
			return 0;
		}
	return err_usage(err, "--output: type: expected local, tar, oci, docker or image, got '%s'",
			 v);
}

static int parse_kv(struct build_output *o, char *kv, struct kiln_error **err)
{
	char *eq = strchr(kv, '=');

	if (!eq)
		return err_usage(err, "--output: expected KEY=VALUE, got '%s'", kv);
	*eq = '\0';
	if (streq(kv, "type"))
		return output_type(eq + 1, &o->type, err);
	if (streq(kv, "dest")) {
		free(o->dest);
		o->dest = xstrdup(eq + 1);
		return 0;
	}
	return err_usage(err, "--output: unknown key '%s' (expected type and dest)", kv);
}

int build_output_parse(const char *spec, struct build_output *ret, struct kiln_error **err)
{
	struct build_output o = {0};
	_cleanup_free_ char *copy = xstrdup(spec);
	char *save = NULL;
	int r = 0;

	/* docker's short forms: "-o DIR" is local, "-o -" a tar on stdout */
	if (!strchr(spec, '=')) {
		ret->type = streq(spec, "-") ? BUILD_OUTPUT_TAR : BUILD_OUTPUT_LOCAL;
		ret->dest = xstrdup(spec);
		return 0;
	}
	for (char *kv = strtok_r(copy, ",", &save); kv && r >= 0; kv = strtok_r(NULL, ",", &save))
		r = parse_kv(&o, kv, err);
	if (r >= 0 && o.type != BUILD_OUTPUT_IMAGE && (!o.dest || !*o.dest))
		r = err_usage(err, "--output '%s': dest= is required", spec);
	if (r >= 0 && o.type == BUILD_OUTPUT_LOCAL && streq(o.dest, "-"))
		r = err_usage(err, "--output '%s': a directory cannot go to stdout", spec);
	if (r < 0) {
		build_output_release(&o);
		return r;
	}
	*ret = o;
	return 0;
}

void build_output_release(struct build_output *o)
{
	free(o->dest);
	o->dest = NULL;
}

/* type=local: every layer applied, in order, into a new directory renamed to @dest */
static int apply_all(struct store *s, const struct image *img, int dfd, struct kiln_error **err)
{
	for (size_t i = 0; i < img->n_layers; i++) {
		_cleanup_close_ int fd = store_blob_open(s, &img->layers[i].digest, err);
		int r = fd < 0 ? fd
			       : layers_apply_verified(fd, dfd, LAYERS_APPLY_NO_OWNER,
						       &img->layers[i].diff_id, err);

		if (r < 0)
			return err_wrap(err, "layer %zu", i + 1);
	}
	return 0;
}

/* @dest may be missing or an empty directory: the build's files never mix with others */
static int dest_free(const char *dest, struct kiln_error **err)
{
	struct stat st;

	if (lstat(dest, &st) < 0)
		return errno == ENOENT ? 0 : err_sys(err, errno, "--output: '%s'", dest);
	if (!S_ISDIR(st.st_mode))
		return err_new(err, KILN_ERR_INPUT, ENOTDIR, "--output: '%s' is not a directory",
			       dest);
	if (rmdir(dest) < 0)
		return err_new(err, KILN_ERR_INPUT,
			       errno == ENOTEMPTY || errno == EEXIST ? ENOTEMPTY : errno,
			       "--output: directory '%s' is not empty", dest);
	return 0;
}

static int write_local(struct store *s, const struct image *img, const char *dest,
		       struct kiln_error **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.kiln-XXXXXX", dest);
	_cleanup_close_ int dfd = -1;
	int r;

	if (!mkdtemp(tmp))
		return err_sys(err, errno, "--output: create a directory next to '%s'", dest);
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* mkdtemp's 0700 is not the image's: a layer's "./" entry may change it again */
	if (dfd >= 0)
		fchmod(dfd, 0755);
	r = dfd < 0 ? err_sys(err, errno, "open '%s'", tmp) : apply_all(s, img, dfd, err);
	if (r >= 0)
		r = dest_free(dest, err);
	if (r >= 0 && rename(tmp, dest) < 0)
		r = err_sys(err, errno, "--output: rename to '%s'", dest);
	if (r < 0)
		fs_rm_rf(AT_FDCWD, tmp, NULL);
	return r;
}

/* ---- type=tar: the layers merged top down, as one tar of the final tree ---- */

struct path_set {
	char **v;
	size_t n, cap;
};

static bool set_has(const struct path_set *set, const char *p)
{
	if (!set->cap)
		return false;
	for (size_t i = fnv1a64(p) & (set->cap - 1); set->v[i]; i = (i + 1) & (set->cap - 1))
		if (streq(set->v[i], p))
			return true;
	return false;
}

static void set_put(struct path_set *set, char *p);

static void set_grow(struct path_set *set)
{
	struct path_set bigger = {.cap = set->cap ? set->cap * 2 : 64};

	bigger.v = xcalloc(bigger.cap, sizeof(*bigger.v));
	for (size_t i = 0; i < set->cap; i++)
		if (set->v[i])
			set_put(&bigger, set->v[i]);
	free(set->v);
	*set = bigger;
}

static void set_put(struct path_set *set, char *p)
{
	size_t i;

	if (2 * (set->n + 1) > set->cap)
		set_grow(set);
	for (i = fnv1a64(p) & (set->cap - 1); set->v[i]; i = (i + 1) & (set->cap - 1))
		if (streq(set->v[i], p)) {
			free(p);
			return;
		}
	set->v[i] = p;
	set->n++;
}

static void set_free(struct path_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->v[i]);
	free(set->v);
}

struct merge {
	struct path_set seen, nondir; /* emitted; emitted and not a directory */
	struct path_set gone, opaque; /* whited out, opaque: by upper layers */
	struct path_set new_gone, new_opaque; /* by this layer, for the ones below */
	struct archive *out;
};

/* "./a/b/" -> "a/b" */
static char *clean_path(const char *name)
{
	char *p;
	size_t n;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	p = xstrdup(name);
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	return p;
}

/* hidden by an upper layer: whited out, below an opaque directory or a non-directory */
static bool hidden(const struct merge *m, char *p)
{
	if (set_has(&m->gone, p))
		return true;
	for (char *sl = strchr(p, '/'); sl; sl = strchr(sl + 1, '/')) {
		bool h;

		*sl = '\0';
		h = set_has(&m->gone, p) || set_has(&m->opaque, p) || set_has(&m->nondir, p);
		*sl = '/';
		if (h)
			return true;
	}
	return false;
}

/* A whiteout entry: true when @p is one (recorded for the layers below). */
static bool whiteout(struct merge *m, const char *p)
{
	const char *slash = strrchr(p, '/'), *base = slash ? slash + 1 : p;
	int dirlen = slash ? (int)(slash - p) : 0;

	if (strncmp(base, ".wh.", 4) != 0)
		return false;
	if (streq(base, ".wh..wh..opq"))
		set_put(&m->new_opaque, xstrndup(p, (size_t)dirlen));
	else
		set_put(&m->new_gone, xasprintf("%.*s%s%s", dirlen, p, slash ? "/" : "", base + 4));
	return true;
}

static int copy_entry(struct merge *m, struct archive *in, struct archive_entry *e,
		      struct kiln_error **err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	if (archive_write_header(m->out, e) != ARCHIVE_OK)
		return err_new(err, KILN_ERR_SYSTEM, EIO, "write '%s': %s",
			       archive_entry_pathname(e), archive_error_string(m->out));
	while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
		if (archive_write_data(m->out, buf, len) < 0)
			return err_new(err, KILN_ERR_SYSTEM, EIO, "write: %s",
				       archive_error_string(m->out));
	if (r != ARCHIVE_EOF)
		return err_new(err, KILN_ERR_INPUT, EIO, "read '%s': %s", archive_entry_pathname(e),
			       archive_error_string(in));
	return 0;
}

static int merge_entry(struct merge *m, struct archive *in, struct archive_entry *e,
		       struct kiln_error **err)
{
	char *p = clean_path(archive_entry_pathname(e));
	bool dir = archive_entry_filetype(e) == AE_IFDIR;

	if (!*p || whiteout(m, p) || hidden(m, p) || set_has(&m->seen, p)) {
		free(p);
		return 0;
	}
	if (!dir)
		set_put(&m->nondir, xstrdup(p));
	set_put(&m->seen, p);
	return copy_entry(m, in, e, err);
}

static int merge_layer(struct merge *m, int fd, struct kiln_error **err)
{
	struct archive *in = archive_read_new();
	struct archive_entry *e;
	int r = 0, ar;

	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	if (archive_read_open_fd(in, fd, 64 << 10) != ARCHIVE_OK)
		r = err_new(err, KILN_ERR_INPUT, EIO, "%s", archive_error_string(in));
	while (r >= 0 && (ar = archive_read_next_header(in, &e)) == ARCHIVE_OK)
		r = merge_entry(m, in, e, err);
	if (r >= 0 && ar != ARCHIVE_EOF)
		r = err_new(err, KILN_ERR_INPUT, EIO, "%s", archive_error_string(in));
	archive_read_free(in);
	return r;
}

static void merge_next_layer(struct merge *m)
{
	for (size_t i = 0; i < m->new_gone.cap; i++)
		if (m->new_gone.v[i])
			set_put(&m->gone, TAKE_PTR(m->new_gone.v[i]));
	for (size_t i = 0; i < m->new_opaque.cap; i++)
		if (m->new_opaque.v[i])
			set_put(&m->opaque, TAKE_PTR(m->new_opaque.v[i]));
	m->new_gone.n = m->new_opaque.n = 0;
}

static int write_tar_fd(struct store *s, const struct image *img, int outfd,
			struct kiln_error **err)
{
	struct merge m = {.out = archive_write_new()};
	int r = 0;

	archive_write_set_format_pax_restricted(m.out);
	if (archive_write_open_fd(m.out, outfd) != ARCHIVE_OK)
		r = err_new(err, KILN_ERR_SYSTEM, EIO, "%s", archive_error_string(m.out));
	for (size_t i = img->n_layers; r >= 0 && i-- > 0;) {
		_cleanup_close_ int fd = store_blob_open(s, &img->layers[i].digest, err);

		r = fd < 0 ? fd : merge_layer(&m, fd, err);
		if (r < 0)
			r = err_wrap(err, "--output type=tar: layer %zu", i + 1);
		merge_next_layer(&m);
	}
	if (r >= 0 && archive_write_close(m.out) != ARCHIVE_OK)
		r = err_new(err, KILN_ERR_SYSTEM, EIO, "%s", archive_error_string(m.out));
	archive_write_free(m.out);
	set_free(&m.seen);
	set_free(&m.nondir);
	set_free(&m.gone);
	set_free(&m.opaque);
	set_free(&m.new_gone);
	set_free(&m.new_opaque);
	return r;
}

/* A file output: stdout for "-", else a temp file renamed onto @dest when complete. */
static int write_file(struct store *s, const struct image *img, const struct build_output *o,
		      struct kiln_error **err)
{
	enum archive_format fmt = o->type == BUILD_OUTPUT_OCI ? ARCHIVE_OCI : ARCHIVE_DOCKER;
	_cleanup_free_ char *tmp = xasprintf("%s.kiln-XXXXXX", o->dest);
	char what[DIGEST_STR_SIZE];
	_cleanup_close_ int fd = -1;
	const char *name = digest_format(&img->manifest_digest, what);
	int r;

	if (o->name && fmt == ARCHIVE_DOCKER)
		name = o->name; /* a docker archive's RepoTags: the name asked for */

	if (streq(o->dest, "-"))
		return o->type == BUILD_OUTPUT_TAR
			       ? write_tar_fd(s, img, STDOUT_FILENO, err)
			       : store_save_archive(s, name, NULL, fmt, STDOUT_FILENO, err);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "--output: create a file next to '%s'", o->dest);
	fchmod(fd, 0644);
	r = o->type == BUILD_OUTPUT_TAR ? write_tar_fd(s, img, fd, err)
					: store_save_archive(s, name, NULL, fmt, fd, err);
	if (r >= 0 && fsync(fd) < 0)
		r = err_sys(err, errno, "write '%s'", o->dest);
	if (r >= 0 && rename(tmp, o->dest) < 0)
		r = err_sys(err, errno, "--output: rename to '%s'", o->dest);
	if (r < 0)
		unlink(tmp);
	return r;
}

int build_output_write(const char *root, const struct digest *manifest,
		       const struct build_output *o, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(image_freep) struct image *img = NULL;
	int r;

	if (o->type == BUILD_OUTPUT_IMAGE)
		return 0;
	r = cmd_open_store(root, &s, err);
	if (r >= 0)
		r = image_read(s, manifest, &img, err);
	if (r >= 0)
		r = o->type == BUILD_OUTPUT_LOCAL ? write_local(s, img, o->dest, err)
						  : write_file(s, img, o, err);
	return r < 0 ? err_wrap(err, "--output '%s'", o->dest) : 0;
}

/* ---- --iidfile, --metadata-file ---- */

static int write_small(const char *path, const char *text, struct kiln_error **err)
{
	_cleanup_free_ char *dir = NULL;
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int dfd = -1;

	dir = slash ? xstrndup(path, (size_t)(slash - path + (slash == path))) : xstrdup(".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, errno, "open directory '%s'", dir);
	return fs_atomic_write(dfd, slash ? slash + 1 : path, text, strlen(text), 0644, err);
}

int build_write_iidfile(const char *path, const char *image_id, struct kiln_error **err)
{
	int r = write_small(path, image_id, err);

	return r < 0 ? err_wrap(err, "--iidfile") : 0;
}

int build_write_digest_file(const char *path, const struct digest *manifest,
			    struct kiln_error **err)
{
	char text[DIGEST_STR_SIZE];
	int r = write_small(path, digest_format(manifest, text), err);

	return r < 0 ? err_wrap(err, "--digest-file") : 0;
}

/* buildx's image.name: the -t names in full, comma-separated */
static char *full_names(const struct strv *tags)
{
	struct strbuf sb = STRBUF_INIT;

	strv_foreach(tags, t) {
		struct registry_ref ref;
		_cleanup_free_ char *full = NULL;

		if (registry_ref_parse(*t, &ref, NULL) >= 0) {
			if (!ref.tag && !ref.digest)
				ref.tag = xstrdup("latest");
			full = registry_ref_format(&ref);
			registry_ref_release(&ref);
		}
		strbuf_addf(&sb, "%s%s", sb.len ? "," : "", full ? full : *t);
	}
	return strbuf_detach(&sb, NULL);
}

int build_write_metadata(const char *path, const char *root, const struct digest *manifest,
			 const struct strv *tags, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_(json_decrefp) json_t *j = NULL;
	_cleanup_free_ char *names = full_names(tags), *text = NULL;
	char m[DIGEST_STR_SIZE], c[DIGEST_STR_SIZE];
	uint64_t size = 0;
	int r = cmd_open_store(root, &s, err);

	if (r >= 0)
		r = image_read(s, manifest, &img, err);
	if (r < 0)
		return err_wrap(err, "--metadata-file");
	digest_format(manifest, m);
	/* several platforms: the descriptor is the index's (the config, this machine's image's) */
	if (image_is_index(s, manifest, NULL))
		store_blob_exists(s, manifest, &size);
	j = json_pack("{s:s, s:s, s:{s:s, s:s, s:I}}", "containerimage.digest", m,
		      "containerimage.config.digest", digest_format(&img->config_digest, c),
		      "containerimage.descriptor", "mediaType",
		      size ? MEDIA_OCI_INDEX : img->manifest_media_type, "digest", m, "size",
		      (json_int_t)(size ? size : img->manifest_size));
	if (tags->n)
		json_object_set_new(j, "image.name", json_string(names));
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	r = write_small(path, text, err);
	return r < 0 ? err_wrap(err, "--metadata-file") : 0;
}

/* ---- '-' as the context ---- */

static bool is_archive(const unsigned char *b, size_t n)
{
	static const struct {
		const char *magic;
		size_t len;
	} magics[] = {
		{"\x1f\x8b", 2}, /* gzip */
		{"\x28\xb5\x2f\xfd", 4}, /* zstd */
		{"BZh", 3}, /* bzip2 */
		{"\xfd"
		 "7zXZ",
		 5}, /* xz */
	};

	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if (n >= magics[i].len && memcmp(b, magics[i].magic, magics[i].len) == 0)
			return true;
	return n >= 262 && memcmp(b + 257, "ustar", 5) == 0;
}

static int context_from(const char *tmp, int fd, const struct strbuf *head, struct build_opts *o,
			struct strv *owned, struct kiln_error **err)
{
	char *ctx = xasprintf("%s/context", tmp);
	_cleanup_close_ int cfd = -1;
	int r;

	strv_push_take(owned, ctx);
	if (mkdir(ctx, 0755) < 0)
		return err_sys(err, errno, "mkdir '%s'", ctx);
	o->context_dir = ctx;
	if (!is_archive((const unsigned char *)head->buf, head->len)) {
		strv_push_take(owned, xasprintf("%s/Dockerfile", tmp));
		o->dockerfile = owned->v[owned->n - 1];
		return 0;
	}
	cfd = open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return err_sys(err, errno, "open '%s'", ctx);
	lseek(fd, 0, SEEK_SET);
	r = layers_apply(fd, cfd, LAYERS_APPLY_NO_OWNER | LAYERS_APPLY_NO_WHITEOUTS, err);
	return r < 0 ? err_wrap(err, "the context on stdin") : 0;
}

/* stdin into @fd, in bounded memory; its first bytes (for the magic numbers) kept in @head */
static int copy_stdin(int fd, struct strbuf *head, struct kiln_error **err)
{
	char buf[64 << 10];
	ssize_t n;
	int r;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(err, errno, "read the context from stdin");
		if (head->len < 512)
			strbuf_add(head, buf, MIN((size_t)n, 512 - head->len));
		r = fs_write_all(fd, buf, (size_t)n, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int build_stdin_context(struct build_opts *o, struct strv *owned, char **ret_tmp,
			struct kiln_error **err)
{
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *tmp =
		xasprintf("%s/kiln-context-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	_cleanup_free_ char *file = NULL;
	_cleanup_strbuf_ struct strbuf head = STRBUF_INIT;
	_cleanup_close_ int fd = -1;
	int r;

	if (o->dockerfile && streq(o->dockerfile, "-"))
		return err_usage(err, "build: '-' cannot be both the context and the Dockerfile");
	if (!mkdtemp(tmp))
		return err_sys(err, errno, "create '%s'", tmp);
	file = xasprintf("%s/Dockerfile", tmp);
	fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	r = fd < 0 ? err_sys(err, errno, "create '%s'", file) : copy_stdin(fd, &head, err);
	if (r >= 0)
		r = context_from(tmp, fd, &head, o, owned, err);
	if (r < 0) {
		fs_rm_rf(AT_FDCWD, tmp, NULL);
		return r;
	}
	*ret_tmp = TAKE_PTR(tmp);
	return 0;
}
