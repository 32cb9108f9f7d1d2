/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test and benchmark driver for layers/ (not installed):
 *   layer-tool commit DIR OUT [gzip|zstd|none] [THREADS]   write DIR as a layer blob to OUT
 *   layer-tool apply BLOB DIR [lax] [overlay]              extract a layer blob into DIR
 *   layer-tool image ROOT NAME DIR...                      one layer per DIR, an image NAME
 *   layer-tool snapshot ROOT NAME                          unpack every layer of NAME
 *   layer-tool sha256 FILE                                 digest and MB/s of SHA-256
 * commit prints "diffID digest size"; SOURCE_DATE_EPOCH clamps mtimes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layers/layers.h"
#include "util/error.h"
#include "util/parse.h"

static int fail(struct kiln_error *e)
{
	char *s = err_format(e);

	fprintf(stderr, "layer-tool: error: %s\n", s);
	free(s);
	err_free(e);
	return 1;
}

static int do_commit(int argc, char **argv)
{
	struct layers_commit_opts opts = LAYERS_COMMIT_OPTS_INIT;
	struct kiln_error *err = NULL;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE];
	struct layer_desc l;
	int dfd, out;

	if (argc > 4 && layer_compression_parse(argv[4], &opts.compression, &err) < 0)
		return fail(err);
	if (argc > 5 && parse_int(argv[5], &opts.threads) < 0)
		return 2;
	if (sde && parse_i64(sde, 10, &opts.source_date_epoch) < 0)
		return 2;
	dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (dfd < 0 || out < 0) {
		perror("open");
		return 1;
	}
	if (layers_write_dir(dfd, &opts, out, &l, &err) < 0)
		return fail(err);
	printf("%s %s %llu\n", digest_format(&l.diff_id, a), digest_format(&l.digest, b),
	       (unsigned long long)l.size);
	layer_desc_release(&l);
	close(dfd);
	return close(out) < 0;
}

static int do_apply(int argc, char **argv)
{
	struct kiln_error *err = NULL;
	int in = open(argv[2], O_RDONLY | O_CLOEXEC);
	int dfd = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (in < 0 || dfd < 0) {
		perror("open");
		return 1;
	}
	enum layers_apply_flags flags = 0;

	for (int i = 4; i < argc; i++)
		flags |= strcmp(argv[i], "lax") == 0	   ? LAYERS_APPLY_LAX_OWNER
			 : strcmp(argv[i], "overlay") == 0 ? LAYERS_APPLY_OVERLAY
							   : 0;
	if (layers_apply(in, dfd, flags, &err) < 0)
		return fail(err);
	close(in);
	close(dfd);
	return 0;
}

static int do_snapshot(int argc, char **argv)
{
	struct kiln_error *err = NULL;
	struct store *s = NULL;
	struct image *img = NULL;

	if (store_open(argv[2], 0, &s, &err) < 0 || image_read_named(s, argv[3], &img, &err) < 0)
		return fail(err);
	for (size_t i = 0; i < img->n_layers; i++) {
		char *path = NULL;

		if (store_snapshot_ensure(s, &img->layers[i], LAYERS_APPLY_LAX_OWNER, &path, &err) <
		    0)
			return fail(err);
		printf("%s\n", path);
		free(path);
	}
	image_free(img);
	store_free(s);
	return 0;
}

/* Hash a file in 128 KiB reads; prints MB/s (10^6 bytes) of the hashing alone (reads not timed). */
static int do_sha256(char **argv)
{
	static unsigned char buf[1 << 17];
	struct sha256 *h = sha256_new();
	struct timespec a, b;
	double secs, total = 0;
	struct digest d;
	char out[DIGEST_STR_SIZE];
	int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		perror("open");
		return 1;
	}
	secs = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		sha256_update(h, buf, (size_t)n);
		clock_gettime(CLOCK_MONOTONIC, &b);
		secs += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		total += (double)n;
	}
	sha256_final(h, &d);
	printf("%s %.0f\n", digest_format(&d, out), total / secs / 1e6);
	sha256_free(h);
	close(fd);
	return 0;
}

/* image ROOT NAME DIR...: commit each DIR as a layer (bottom first), write and name an image. */
static int do_image(int argc, char **argv)
{
	struct layers_commit_opts opts = LAYERS_COMMIT_OPTS_INIT;
	struct layer_desc layers[16];
	struct kiln_error *err = NULL;
	struct store *s = NULL;
	json_t *config = image_config_new();
	struct image_spec spec = {.config = config, .layers = layers};
	char buf[DIGEST_STR_SIZE];
	struct digest d;

	if (store_open(argv[2], STORE_CREATE, &s, &err) < 0)
		return fail(err);
	for (int i = 4; i < argc && spec.n_layers < 16; i++) {
		int dfd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0 || layers_commit_dir(s, dfd, &opts, &layers[spec.n_layers], &err) < 0)
			return dfd < 0 ? 1 : fail(err);
		image_config_add_history(config, NULL, argv[i], false);
		spec.n_layers++;
		close(dfd);
	}
	json_object_set_new(json_object_get(config, "config"), "Cmd", json_pack("[s]", "/bin/sh"));
	if (image_write(s, &spec, &d, &err) < 0 || store_tag(s, argv[3], &d, &err) < 0)
		return fail(err);
	printf("%s\n", digest_format(&d, buf));
	for (size_t i = 0; i < spec.n_layers; i++)
		layer_desc_release(&layers[i]);
	json_decref(config);
	store_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "image") == 0)
		return do_image(argc, argv);
	if (argc == 3 && strcmp(argv[1], "sha256") == 0)
		return do_sha256(argv);
	if (argc >= 4 && strcmp(argv[1], "commit") == 0)
		return do_commit(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "apply") == 0)
		return do_apply(argc, argv);
	if (argc == 4 && strcmp(argv[1], "snapshot") == 0)
		return do_snapshot(argc, argv);
	fputs("usage: layer-tool commit DIR OUT [gzip|zstd|none] [THREADS] | apply BLOB DIR [lax] [overlay] | image ROOT NAME DIR... | snapshot ROOT NAME | sha256 FILE\n",
	      stderr);
	return 2;
}
