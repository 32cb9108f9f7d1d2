/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the parser's unit tests. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parser/parser.h"
#include "util/strbuf.h"
#include "util/strv.h"

/*
 * $KILN_CONFORMANCE_DIR, else the build's default (../shared/conformance
 * beside the source tree). A missing directory is a failure, not a skip.
 */
static inline const char *conformance_dir(void)
{
	const char *d = getenv("KILN_CONFORMANCE_DIR");

	if (!d || !*d)
		d = getenv("KILN_CONFORMANCE_DIR_DEFAULT");
	if (!d || access(d, R_OK | X_OK) != 0) {
		printf("# conformance data not found at '%s': set KILN_CONFORMANCE_DIR to the "
		       "shared/conformance directory\n",
		       d ? d : "(unset)");
		return NULL;
	}
	return d;
}

static inline int read_path(const char *path, struct strbuf *sb)
{
	strbuf_reset(sb);
	return strbuf_read_file(sb, AT_FDCWD, path, NULL);
}

static inline int cmp_str_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of @dir (no dot files). */
static inline int list_dir(const char *dir, struct strv *ret)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			strv_push(ret, de->d_name);
	closedir(d);
	qsort(ret->v, ret->n, sizeof(char *), cmp_str_p);
	return 0;
}
