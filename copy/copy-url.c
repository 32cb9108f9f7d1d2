/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ADD from a URL: the body goes to an unlinked temp file (never memory), the
 * file's mtime comes from Last-Modified when the server sends it (Docker),
 * and an HTTP error status is an error naming the URL. A download is bounded:
 * at most KILN_ADD_MAX_SIZE bytes (default 4 GiB; a Content-Length over it is
 * refused before the body), KILN_ADD_TIMEOUT seconds in all (default 3600),
 * and it fails when slower than 1 KiB/s for KILN_ADD_LOW_SPEED_TIME seconds
 * (default 60), so a server that never ends or trickles holds no build.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/parse.h"

#include "util/banned.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)

#define ADD_MAX_SIZE	   (4ULL << 30)
#define ADD_TIMEOUT	   3600
#define ADD_LOW_SPEED	   1024 /* bytes a second ... */
#define ADD_LOW_SPEED_TIME 60 /* ... for this long */

struct add_limits {
	uint64_t max_size;
	unsigned timeout, low_speed_time;
};

struct sink {
	int fd;
	int errnum;
	uint64_t have, max;
	bool too_large;
};

static int env_setting(const char *name, bool size, uint64_t *val, struct kiln_error **err)
{
	const char *v = getenv(name);
	unsigned u;

	if (!v || !*v)
		return 0;
	if (size ? parse_size(v, val) == 0 && *val > 0 : parse_uint(v, &u) == 0 && u > 0) {
		if (!size)
			*val = u;
		return 0;
	}
	return err_new(err, KILN_ERR_INPUT, EINVAL, "%s: expected %s, got '%s'", name,
		       size ? "a size in bytes (with k, m or g)" : "a number of seconds", v);
}

static int add_limits_get(struct add_limits *l, struct kiln_error **err)
{
	uint64_t size = ADD_MAX_SIZE, timeout = ADD_TIMEOUT, slow = ADD_LOW_SPEED_TIME;
	int r = env_setting("KILN_ADD_MAX_SIZE", true, &size, err);

	if (r >= 0)
		r = env_setting("KILN_ADD_TIMEOUT", false, &timeout, err);
	if (r >= 0)
		r = env_setting("KILN_ADD_LOW_SPEED_TIME", false, &slow, err);
	if (r < 0)
		return r;
	*l = (struct add_limits){size, (unsigned)timeout, (unsigned)slow};
	return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

	if (size * n > s->max - s->have) {
		s->too_large = true;
		return 0;
	}
	s->have += size * n;
	if (fs_write_all(s->fd, p, size * n, NULL) < 0) {
		s->errnum = errno ? errno : EIO;
		return 0;
	}
	return size * n;
}

static int tmp_file(struct kiln_error **err)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !*dir)
		dir = "/var/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, errno, "temporary file for a download in '%s'", dir);
	return fd;
}

static void set_limits(CURL *c, const struct add_limits *l)
{
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)l->max_size);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)l->timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)ADD_LOW_SPEED);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)l->low_speed_time);
}

static int fetch_error(const char *url, CURLcode rc, const struct sink *s, const char *ebuf,
		       const struct add_limits *l, struct kiln_error **err)
{
	if (s->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return err_new(
			err, KILN_ERR_INPUT, EFBIG,
			"fetch '%s': larger than the ADD size limit of %llu bytes (KILN_ADD_MAX_SIZE)",
			url, (unsigned long long)l->max_size);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return err_new(
			err, KILN_ERR_SYSTEM, ETIMEDOUT,
			"fetch '%s': %s (limits: %u s in all, KILN_ADD_TIMEOUT; under %d bytes/s for %u s, KILN_ADD_LOW_SPEED_TIME)",
			url, *ebuf ? ebuf : curl_easy_strerror(rc), l->timeout, ADD_LOW_SPEED,
			l->low_speed_time);
	return err_new(err, KILN_ERR_SYSTEM, s->errnum ? s->errnum : EIO, "fetch '%s': %s", url,
		       *ebuf ? ebuf : curl_easy_strerror(rc));
}

int copy_fetch_url(const char *url, int *ret_fd, struct timespec *ret_mtime,
		   struct kiln_error **err)
{
	_cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
	_cleanup_close_ int fd = -1;
	struct add_limits lim;
	struct sink s = {0};
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_off_t filetime = -1;
	long status = 0;
	CURLcode rc;
	int r = add_limits_get(&lim, err);

	if (r < 0)
		return r;
	fd = tmp_file(err);
	if (fd < 0)
		return fd;
	if (!c)
		return err_new(err, KILN_ERR_SYSTEM, ENOMEM, "curl init");
	s = (struct sink){.fd = fd, .max = lim.max_size};
	set_limits(c, &lim);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		return fetch_error(url, rc, &s, ebuf, &lim, err);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400)
		return err_new(err, KILN_ERR_INPUT, EIO, "fetch '%s': HTTP status %ld", url,
			       status);
	curl_easy_getinfo(c, CURLINFO_FILETIME_T, &filetime);
	if (filetime >= 0)
		*ret_mtime = (struct timespec){.tv_sec = (time_t)filetime};
	else
		clock_gettime(CLOCK_REALTIME, ret_mtime);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return err_sys(err, errno, "seek download of '%s'", url);
	*ret_fd = TAKE_FD(fd);
	return 0;
}
