/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where blobs came from: one line "sha256:… domain/repo" per blob that was
 * pulled from or pushed to a registry, appended to <store>/registry-sources.
 * Push reads it to mount a blob from another repository of the same
 * registry instead of uploading it. Lines are short and written with one
 * O_APPEND write each, so concurrent kilns do not interleave them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers.h"
#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define SOURCES_FILE "registry-sources"

static int open_sources(struct store *s, int flags, struct kiln_error **err)
{
	_cleanup_free_ char *path = fs_path_join(store_root(s), SOURCES_FILE);
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0 && errno == ENOENT && !(flags & O_CREAT))
		return -ENOENT; /* nothing recorded yet: not an error */
	if (fd < 0)
		return err_sys(err, errno, "open '%s'", path);
	return fd;
}

int reg_sources_add(struct store *s, const char *domain, const char *repo,
		    const char *const *digests, size_t n, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf old = STRBUF_INIT;
	_cleanup_close_ int fd = -1;
	int r = reg_sources_load(s, &old, err);

	if (r < 0)
		return r;
	fd = open_sources(s, O_WRONLY | O_APPEND | O_CREAT, err);
	if (fd < 0)
		return fd;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *line = xasprintf("%s %s/%s\n", digests[i], domain, repo);

		if (strstr(old.buf, line))
			continue; /* already recorded */
		r = fs_write_all(fd, line, strlen(line), err);

		if (r < 0)
			return r;
	}
	return 0;
}

int reg_sources_load(struct store *s, struct strbuf *ret, struct kiln_error **err)
{
	_cleanup_close_ int fd = open_sources(s, O_RDONLY, err);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	return strbuf_read_fd(ret, fd, err);
}

char *reg_sources_find(const struct strbuf *records, const char *domain, const char *not_repo,
		       const char *digest)
{
	size_t dlen = strlen(digest), hlen = strlen(domain);
	const char *p = records->buf, *end = records->buf + records->len;
	char *found = NULL;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *repo = p + dlen + 1 + hlen + 1;

		if (repo < eol && strncmp(p, digest, dlen) == 0 && p[dlen] == ' ' &&
		    strncmp(p + dlen + 1, domain, hlen) == 0 && repo[-1] == '/' &&
		    !(strlen(not_repo) == (size_t)(eol - repo) &&
		      strncmp(repo, not_repo, (size_t)(eol - repo)) == 0)) {
			free(found);
			found = xstrndup(repo, (size_t)(eol - repo));
		}
		p = eol + 1;
	}
	return found;
}
