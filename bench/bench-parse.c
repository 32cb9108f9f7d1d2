/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parse benchmark: the official-dockerfiles corpus (MANIFEST.tsv) read into
 * memory once, then parsed (full checks, as a build does) repeatedly for at
 * least a second. Prints MB/s and microseconds per file.
 *
 *   meson compile -C build bench/bench-parse && build/bench/bench-parse [CONFORMANCE_DIR]
 *   meson test -C build --benchmark
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parser/parser.h"
#include "util/strbuf.h"
#include "util/strv.h"

#include "util/banned.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static int load(const char *dir, struct strbuf **ret, size_t *ret_n)
{
	struct strbuf manifest = STRBUF_INIT, path = STRBUF_INIT;
	struct strbuf *files = NULL;
	size_t n = 0;
	char *save = NULL;

	strbuf_addf(&path, "%s/official-dockerfiles/MANIFEST.tsv", dir);
	if (strbuf_read_file(&manifest, AT_FDCWD, path.buf, NULL) < 0) {
		fprintf(stderr, "bench-parse: cannot read '%s'\n", path.buf);
		return -1;
	}
	for (char *l = strtok_r(manifest.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (l[0] == '#')
			continue;
		l[strcspn(l, "\t")] = 0;
		files = realloc(files, (n + 1) * sizeof(*files));
		if (!files)
			abort();
		strbuf_init(&files[n], 0);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/official-dockerfiles/%s", dir, l);
		if (strbuf_read_file(&files[n++], AT_FDCWD, path.buf, NULL) < 0) {
			fprintf(stderr, "bench-parse: cannot read '%s'\n", path.buf);
			return -1;
		}
	}
	strbuf_release(&manifest);
	strbuf_release(&path);
	*ret = files;
	*ret_n = n;
	return 0;
}

/* One pass over every file; returns the number of failures. */
static size_t parse_all(const struct strbuf *files, size_t n)
{
	size_t failed = 0;

	for (size_t i = 0; i < n; i++) {
		struct dockerfile *df = NULL;
		struct kiln_error *err = NULL;

		if (parser_parse(files[i].buf, files[i].len, "Dockerfile", &df, &err) < 0)
			failed++;
		err_free(err);
		dockerfile_free(df);
	}
	return failed;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("KILN_CONFORMANCE_DIR");
	struct strbuf *files = NULL;
	size_t n = 0, bytes = 0, passes = 0;
	double start, cpu_start, secs, cpu;

	if (!dir)
		dir = getenv("KILN_CONFORMANCE_DIR_DEFAULT");
	if (!dir || load(dir, &files, &n) < 0 || n == 0) {
		fprintf(stderr, "usage: bench-parse CONFORMANCE_DIR (or set KILN_CONFORMANCE_DIR)\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		bytes += files[i].len;
	if (parse_all(files, n)) {
		fprintf(stderr, "bench-parse: some files failed to parse\n");
		return 1;
	}
	start = now();
	cpu_start = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		parse_all(files, n);
		passes++;
	} while ((secs = now() - start) < 1.0);
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
	/* CPU time too: on a busy machine the wall clock counts other processes' turns */
	printf("parsed %zu files (%zu bytes) %zu times in %.3f s: %.1f MB/s, %.2f us/file "
	       "(CPU time %.3f s: %.1f MB/s, %.2f us/file)\n",
	       n, bytes, passes, secs, (double)bytes * (double)passes / secs / 1e6,
	       secs * 1e6 / (double)(passes * n), cpu, (double)bytes * (double)passes / cpu / 1e6,
	       cpu * 1e6 / (double)(passes * n));
	for (size_t i = 0; i < n; i++)
		strbuf_release(&files[i]);
	free(files);
	return 0;
}
