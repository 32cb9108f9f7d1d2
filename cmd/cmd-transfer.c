/* SPDX-License-Identifier: Apache-2.0 */
/* kiln import, pull, save, load: images into and out of the store. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd-layers.h"
#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "util/fs.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct xfer_opts {
	const char *root, *format, *output, *input, *compression, *platform;
};

enum { OPT_ROOT = 'r', OPT_FORMAT = 'f', OPT_COMPRESSION = 'c', OPT_XFER_PLATFORM = 'p' };

const struct cmd_option cmd_import_options[] = {
	{"compression", 0, required_argument, OPT_COMPRESSION, "gzip|zstd|none",
	 "layer compression (default gzip)"},
	{"format", 0, required_argument, OPT_FORMAT, "oci|docker",
	 "the image's media types (default oci)"},
	{"platform", 0, required_argument, OPT_XFER_PLATFORM, "OS/ARCH[/VARIANT]",
	 "the platform the config names (default: this\n"
	 "machine's)"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", "the store (default as for kiln images)"},
	CMD_OPTION_END,
};

const struct cmd_option cmd_save_options[] = {
	{"output", 'o', required_argument, 'o', "FILE",
	 "the archive (- for stdout), or the directory of\n"
	 "an oci-layout"},
	{"format", 0, required_argument, OPT_FORMAT, "oci-archive|docker-archive|oci-layout",
	 "what to write (default oci-archive)"},
	{"platform", 0, required_argument, OPT_XFER_PLATFORM, "OS/ARCH[/VARIANT]",
	 "of an index, the one manifest to write (a\n"
	 "docker-archive of an index needs it)"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", "the store (default as for kiln images)"},
	CMD_OPTION_END,
};

const struct cmd_option cmd_load_options[] = {
	{"input", 'i', required_argument, 'i', "FILE", "the archive to read"},
	{"root", 0, required_argument, OPT_ROOT, "DIR", "the store (default as for kiln images)"},
	CMD_OPTION_END,
};

/* pull's own, after cmd_pull_registry_args() took the registry options out */
static const struct cmd_option pull_options[] = {
	{"root", 0, required_argument, OPT_ROOT, "DIR", "the store (default as for kiln images)"},
	CMD_OPTION_END,
};

/* The options of @table (--root, --format, -o, -i, --compression) into @o; returns optind. */
static int parse_xfer(int argc, char **argv, struct xfer_opts *o, const struct cmd_option *table,
		      struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	int c;

	cmd_getopt_init(&g, table);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == ':')
			return err_usage(err, "%s: option '%s' needs an argument", argv[0],
					 argv[optind - 1]);
		if (c == '?')
			return err_usage(err, "%s: unknown option '%s' (see 'kiln help %s')",
					 argv[0], argv[optind - 1], argv[0]);
		*(c == 'r'   ? &o->root
		  : c == 'f' ? &o->format
		  : c == 'o' ? &o->output
		  : c == 'i' ? &o->input
		  : c == 'p' ? &o->platform
			     : &o->compression) = optarg;
	}
	return optind;
}

static void print_digest(const struct digest *d)
{
	char buf[DIGEST_STR_SIZE];

	printf("%s\n", digest_format(d, buf));
}

/* ---- import ---- */

static int source_date_epoch(int64_t *ret, struct kiln_error **err)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");

	*ret = -1;
	if (!e || !*e)
		return 0;
	if (parse_i64(e, 10, ret) < 0 || *ret < 0)
		return err_usage(err, "SOURCE_DATE_EPOCH: expected seconds since 1970, got '%s'",
				 e);
	return 0;
}

static int commit_opts(const struct xfer_opts *o, struct layers_commit_opts *ret,
		       struct kiln_error **err)
{
	struct layers_commit_opts opts = LAYERS_COMMIT_OPTS_INIT;
	int r = o->compression ? layer_compression_parse(o->compression, &opts.compression, err)
			       : 0;

	if (r >= 0 && o->format && !streq(o->format, "oci") && !streq(o->format, "docker"))
		r = err_usage(err, "--format: expected oci or docker, got '%s'", o->format);
	if (r >= 0)
		r = source_date_epoch(&opts.source_date_epoch, err);
	if (r < 0)
		return r;
	opts.format =
		o->format && streq(o->format, "docker") ? IMAGE_FORMAT_DOCKER : IMAGE_FORMAT_OCI;
	*ret = opts;
	return 0;
}

int cmd_import(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_(image_freep) struct image *img = NULL;
	struct xfer_opts o = {0};
	struct layers_commit_opts opts;
	_cleanup_close_ int fd = -1;
	struct digest d;
	struct platform plat;
	int i = parse_xfer(argc, argv, &o, cmd_import_options, err), r;

	if (i < 0)
		return i;
	if (argc - i != 2)
		return err_usage(err, "import: expected ROOTFS.tar and NAME");
	r = commit_opts(&o, &opts, err);
	if (r >= 0 && o.platform)
		r = platform_parse(o.platform, &plat, err);
	if (r < 0)
		return r;
	fd = streq(argv[i], "-") ? dup(STDIN_FILENO) : open(argv[i], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "import: open '%s'", argv[i]);
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = store_import_rootfs(s, fd, argv[i + 1], &opts, o.platform ? &plat : NULL, &d,
					err);
	if (r >= 0)
		r = image_read(s, &d, &img, err);
	if (r < 0)
		return err_wrap(err, "'%s'", argv[i]);
	/* the image ID, as `kiln build` prints it and `kiln images` shortens it */
	print_digest(&img->config_digest);
	return 0;
}

/* ---- pull ---- */

/* "PATH[:REF]" -> PATH and REF (NULL when absent), split at the first ':'. */
static void split_ref(const char *ref, char **ret_path, char **ret_tag)
{
	const char *colon = strchr(ref, ':');

	*ret_path = colon ? xstrndup(ref, (size_t)(colon - ref)) : xstrdup(ref);
	*ret_tag = colon && colon[1] ? xstrdup(colon + 1) : NULL;
}

static int pull_archive(struct store *s, enum archive_format fmt, const char *ref, const char *name,
			struct kiln_error **err)
{
	_cleanup_free_ char *path = NULL, *tag = NULL;
	struct digest d;
	int r;

	split_ref(ref, &path, &tag);
	r = store_pull_archive(s, fmt, path, tag, name, &d, err);
	if (r < 0)
		return r;
	print_digest(&d);
	return 0;
}

static int pull_oci(struct store *s, const char *ref, const char *name, struct kiln_error **err)
{
	return pull_archive(s, ARCHIVE_OCI_LAYOUT, ref, name, err);
}

static int pull_oci_archive(struct store *s, const char *ref, const char *name,
			    struct kiln_error **err)
{
	return pull_archive(s, ARCHIVE_OCI, ref, name, err);
}

static int pull_docker_archive(struct store *s, const char *ref, const char *name,
			       struct kiln_error **err)
{
	return pull_archive(s, ARCHIVE_DOCKER, ref, name, err);
}

/* The registry module replaces the last row (empty prefix: everything else). */
static const struct cmd_pull_transport cmd_pull_transports[] = {
	{"oci:", pull_oci},
	{"oci-archive:", pull_oci_archive},
	{"docker-archive:", pull_docker_archive},
	{"docker://", cmd_pull_registry},
	{"", cmd_pull_registry},
};

/* A registry reference is named in full: "alpine" is 'docker.io/library/alpine:latest'. */
static int pull_failed(const char *what, const struct cmd_pull_transport *t,
		       struct kiln_error **err)
{
	_cleanup_free_ char *full =
		t->pull == cmd_pull_registry ? registry_ref_display(what) : xstrdup(what);

	return err_wrap(err, "pull '%s'", full);
}

int cmd_pull(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct xfer_opts o = {0};
	int i = cmd_pull_registry_args(&argc, argv, err), r;

	if (i >= 0)
		i = parse_xfer(argc, argv, &o, pull_options, err);
	if (i < 0)
		return i;
	if (argc - i < 1 || argc - i > 2)
		return err_usage(err, "pull: expected SOURCE [NAME]");
	r = cmd_open_store(o.root, &s, err);
	if (r < 0)
		return r;
	for (size_t t = 0; t < ARRAY_SIZE(cmd_pull_transports); t++) {
		const char *rest = startswith(argv[i], cmd_pull_transports[t].prefix);

		if (rest) {
			r = cmd_pull_transports[t].pull(s, rest, argc - i == 2 ? argv[i + 1] : NULL,
							err);
			return r < 0 ? pull_failed(argv[i], &cmd_pull_transports[t], err) : 0;
		}
	}
	return 0;
}

/* ---- save / load ---- */

static int save_to(struct store *s, const char *what, const struct platform *plat,
		   enum archive_format fmt, const char *output, struct kiln_error **err)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL;
	const char *slash = strrchr(output, '/');
	_cleanup_close_ int dfd = -1, fd = -1;
	const char *base = slash ? slash + 1 : output;
	int r;

	if (streq(output, "-"))
		return store_save_archive(s, what, plat, fmt, STDOUT_FILENO, err);
	dir = slash ? xstrndup(output, (size_t)(slash - output + (slash == output))) : xstrdup(".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, errno, "open directory '%s'", dir);
	fd = fs_mkstemp(dfd, ".kiln-save", 0644, &tmp, err);
	if (fd < 0)
		return fd;
	r = store_save_archive(s, what, plat, fmt, fd, err);
	if (r >= 0 && fsync(fd) < 0)
		r = err_sys(err, errno, "write '%s'", output);
	if (r >= 0 && renameat(dfd, tmp, dfd, base) < 0)
		r = err_sys(err, errno, "rename to '%s'", output);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

int cmd_save(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct xfer_opts o = {0};
	enum archive_format fmt = ARCHIVE_OCI;
	struct platform plat;
	int i = parse_xfer(argc, argv, &o, cmd_save_options, err), r;

	if (i < 0)
		return i;
	if (argc - i != 1)
		return err_usage(err, "save: expected one image");
	if (!o.output)
		return err_usage(err, "save: -o FILE is required");
	if (o.format && streq(o.format, "docker-archive"))
		fmt = ARCHIVE_DOCKER;
	else if (o.format && streq(o.format, "oci-layout"))
		fmt = ARCHIVE_OCI_LAYOUT;
	else if (o.format && !streq(o.format, "oci-archive"))
		return err_usage(
			err,
			"save: --format: expected oci-archive, docker-archive or oci-layout, got '%s'",
			o.format);
	if (o.platform && platform_parse(o.platform, &plat, err) < 0)
		return -EINVAL;
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0 && fmt == ARCHIVE_OCI_LAYOUT)
		r = store_save_layout(s, argv[i], o.platform ? &plat : NULL, o.output, NULL, err);
	else if (r >= 0)
		r = save_to(s, argv[i], o.platform ? &plat : NULL, fmt, o.output, err);
	return r < 0 ? r : 0;
}

int cmd_load(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	struct xfer_opts o = {0};
	struct digest d;
	int i = parse_xfer(argc, argv, &o, cmd_load_options, err), r;

	if (i < 0)
		return i;
	if (i < argc)
		return err_usage(err, "load: unexpected argument '%s'", argv[i]);
	if (!o.input)
		return err_usage(err, "load: -i FILE is required");
	r = cmd_open_store(o.root, &s, err);
	if (r >= 0)
		r = store_pull_archive(s, ARCHIVE_AUTO, o.input, NULL, NULL, &d, err);
	if (r < 0)
		return err_wrap(err, "load '%s'", o.input);
	print_digest(&d);
	return 0;
}
