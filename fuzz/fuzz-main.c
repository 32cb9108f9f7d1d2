/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay driver: without libFuzzer, run LLVMFuzzerTestOneInput on every
 * file named on the command line, or in the directories named (systemd's
 * fuzz-main). A crash, a sanitizer report or a leak fails the test.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "util/strbuf.h"

#include "util/banned.h"

static int run_file(const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	if (strbuf_read_file(&sb, AT_FDCWD, path, NULL) < 0) {
		fprintf(stderr, "fuzz-main: cannot read '%s'\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
	strbuf_release(&sb);
	return 0;
}

static int run_path(const char *path, size_t *count)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "fuzz-main: '%s' does not exist\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	d = opendir(path);
	if (!d)
		return -1;
	while (r == 0 && (de = readdir(d))) {
		struct strbuf p = STRBUF_INIT;

		if (de->d_name[0] == '.')
			continue;
		strbuf_addf(&p, "%s/%s", path, de->d_name);
		r = run_path(p.buf, count);
		strbuf_release(&p);
	}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			return 1;
	printf("%s: replayed %zu inputs\n", argv[0], count);
	return count ? 0 : 1;
}
