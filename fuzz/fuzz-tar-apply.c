/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz layers_apply: any bytes, as a layer, extracted into a fresh directory.
 * Beyond crashes and sanitizer reports, the target checks the one property that
 * matters: nothing outside the target directory is created, changed or
 * removed (a sibling file and the parent's listing are compared after
 * every input).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layers/layers.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int base_fd = -1;

static void setup(void)
{
	char base[] = "/tmp/kiln-fuzz-tar-apply.XXXXXX";
	int fd;

	if (!mkdtemp(base))
		abort();
	base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = openat(base_fd, "secret", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (base_fd < 0 || fd < 0 || write(fd, "keep", 4) != 4)
		abort();
	close(fd);
	log_set_level(LOG_LEVEL_ERROR);
}

/* Only "secret" (unchanged) and "t" may be beside the target. */
static void check_outside(void)
{
	int fd = openat(base_fd, "secret", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[8] = {0};
	struct dirent *de;
	DIR *d;

	if (fd < 0 || read(fd, buf, sizeof(buf)) != 4 || memcmp(buf, "keep", 4) != 0)
		abort();
	close(fd);
	fd = openat(base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdopendir(fd);
	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "secret") && strcmp(de->d_name, "t"))
			abort();
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_error *err = NULL;
	int in, target;

	if (base_fd < 0)
		setup();
	in = memfd_create("layer", MFD_CLOEXEC);
	if (in < 0 || (size && write(in, data, size) != (ssize_t)size) || lseek(in, 0, SEEK_SET))
		abort();
	if (mkdirat(base_fd, "t", 0755) < 0)
		abort();
	target = openat(base_fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (target < 0)
		abort();
	layers_apply(in, target, LAYERS_APPLY_LAX_OWNER, &err);
	err_free(err);
	close(target);
	close(in);
	check_outside();
	if (fs_rm_rf(base_fd, "t", NULL) < 0) {
		/* a 0555 directory from the layer: make the tree writable, then retry */
		if (system("chmod -R u+rwX /tmp/kiln-fuzz-tar-apply.*/t 2>/dev/null") < 0 ||
		    fs_rm_rf(base_fd, "t", NULL) < 0)
			abort();
	}
	return 0;
}
