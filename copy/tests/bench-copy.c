/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timing driver for bench/copy.sh:
 *   bench-copy copy SRC DEST [JOBS]    COPY SRC/. DEST/ (DEST is the image root)
 *   bench-copy digest SRC CACHEFILE    copy_digest() of COPY . /app with a stat cache
 * Prints "<seconds> <what>" on stdout.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "util/error.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(struct kiln_error *e)
{
	fprintf(stderr, "bench-copy: %s\n", e && e->msg ? e->msg : "failed");
	err_free(e);
	return 1;
}

int main(int argc, char **argv)
{
	static const char *const src[] = {"."};
	struct copy_opts o = {.sources = src, .n_sources = 1, .dest = "/app/"};
	struct kiln_error *e = NULL;
	double t0;

	if (argc < 4 || argc > 5 || (strcmp(argv[1], "copy") && strcmp(argv[1], "digest"))) {
		fprintf(stderr, "usage: bench-copy copy|digest SRC DEST|CACHEFILE [JOBS]\n");
		return 2;
	}
	o.src_root = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (o.src_root < 0) {
		perror(argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "copy")) {
		struct copy_result res = {0};
		int root = open(argv[3], O_PATH | O_DIRECTORY | O_CLOEXEC);

		o.jobs = argc == 5 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;

		t0 = now();
		if (root < 0 || copy_run(root, &o, &res, &e) < 0)
			return fail(e);
		printf("%.3f copy %zu files %zu dirs %llu bytes\n", now() - t0, res.n_files,
		       res.n_dirs, (unsigned long long)res.bytes);
	} else {
		char hex[65];
		unsigned long reads;

		char *slash = strrchr(argv[3], '/');
		int dir = AT_FDCWD;

		if (slash) {
			*slash = '\0';
			dir = open(argv[3], O_PATH | O_DIRECTORY | O_CLOEXEC);
			argv[3] = slash + 1;
		}
		t0 = now();
		o.stat_cache = copy_stat_cache_load(dir, argv[3]);
		if (copy_digest(&o, hex, &e) < 0 || copy_stat_cache_save(o.stat_cache, &e) < 0)
			return fail(e);
		reads = copy_content_reads;
		copy_stat_cache_free(o.stat_cache);
		printf("%.3f digest %s (%lu files read)\n", now() - t0, hex, reads);
	}
	return 0;
}
