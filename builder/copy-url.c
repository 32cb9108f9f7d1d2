/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ADD from a URL: the body goes to an unlinked temp file (never memory), the
 * file's mtime comes from Last-Modified when the server sends it (Docker),
 * and an HTTP error status is an error naming the URL.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"

#include "util/banned.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)

struct sink {
	int fd;
	int errnum;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

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

int copy_fetch_url(const char *url, int *ret_fd, struct timespec *ret_mtime,
		   struct kiln_error **err)
{
	_cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
	_cleanup_close_ int fd = tmp_file(err);
	struct sink s = {.fd = fd};
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_off_t filetime = -1;
	long status = 0;
	CURLcode rc;

	if (fd < 0)
		return fd;
	if (!c)
		return err_new(err, KILN_ERR_SYSTEM, ENOMEM, "curl init");
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
		return err_new(err, KILN_ERR_SYSTEM, s.errnum ? s.errnum : EIO, "fetch '%s': %s",
			       url, *ebuf ? ebuf : curl_easy_strerror(rc));
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
