/* SPDX-License-Identifier: Apache-2.0 */
/*
 * .dockerignore patterns on arbitrary bytes: parse them, then match a fixed
 * set of paths and every line of the input itself used as a path.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "parser/parser.h"
#include "util/xmalloc.h"

static void probe(const struct dockerignore *di, const char *path)
{
	if (dockerignore_excluded(di, path, false))
		dockerignore_may_reinclude_under(di, path);
	dockerignore_excluded(di, path, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"a", "a/b", "a/b/c.txt", "README.md", "src/main.c", ".git/config", "x/y/z/w",
	};
	struct dockerignore *di = NULL;
	struct kiln_error *err = NULL;
	char *copy, *save = NULL;

	if (dockerignore_parse((const char *)data, size, ".dockerignore", &di, &err) < 0) {
		err_free(err);
		return 0;
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		probe(di, paths[i]);
	copy = xstrndup((const char *)data, size);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		probe(di, l);
	free(copy);
	dockerignore_free(di);
	return 0;
}
