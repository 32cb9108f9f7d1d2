/* SPDX-License-Identifier: Apache-2.0 */
/* ADD: archives found by content, safe unpacking, --checksum, URLs over loopback HTTP. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "copy-test.h"

/* Run a shell command in the scratch directory; abort when it fails. */
static void sh(const char *fmt, ...) _printf_(1, 2);
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", top);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		printf("# command failed: %s\n", cmd);
		abort();
	}
}

static int add1(const char *dest, const char *src, char **ret_msg)
{
	const char *srcs[] = {src};
	struct copy_opts o = t_opts(dest, srcs, 1);

	o.add = true;
	return t_copy(&o, ret_msg);
}

/* ctx/payload/{a.txt,sub/b.txt,link->a.txt} archived as ctx/NAME with the given compressor. */
static void make_archive(const char *name, const char *compress)
{
	sh("mkdir -p payload/sub && echo A > payload/a.txt && echo B > payload/sub/b.txt && "
	   "ln -sf a.txt payload/link && touch -d @1234567890 payload/a.txt && "
	   "tar -C payload -cf - . %s > ctx/%s",
	   compress, name);
}

static bool unpacked_ok(const char *dir)
{
	char p[256];
	char buf[64];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/a.txt", dir);
	if (!t_content_is(rootfd, p, "A\n") || t_lstat(rootfd, p).st_mtim.tv_sec != 1234567890)
		return false;
	snprintf(p, sizeof(p), "%s/sub/b.txt", dir);
	if (!t_content_is(rootfd, p, "B\n"))
		return false;
	snprintf(p, sizeof(p), "%s/link", dir);
	n = readlinkat(rootfd, p, buf, sizeof(buf) - 1);
	return n == 5 && memcmp(buf, "a.txt", 5) == 0;
}

TEST(add_unpacks_every_compression)
{
	static const struct {
		const char *name, *compress;
	} cases[] = {
		{"plain.tar", ""},
		{"x.tar.gz", "| gzip"},
		{"x.tar.bz2", "| bzip2"},
		{"x.tar.xz", "| xz"},
		{"x.tar.zst", "| zstd -q"},
		{"no-extension", "| gzip"}, /* found by content, not name */
	};

	t_reset();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char dest[128];

		make_archive(cases[i].name, cases[i].compress);
		snprintf(dest, sizeof(dest), "/u%zu", i);
		ASSERT_EQ(add1(dest, cases[i].name, NULL), 0);
		ASSERT_TRUE(unpacked_ok(dest + 1));
	}
	/* COPY never unpacks */
	ASSERT_EQ(COPY1("/c/", "x.tar.gz"), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "c/x.tar.gz").st_mode));
}

TEST(add_copies_non_archives_as_files)
{
	t_reset();
	t_write(ctxfd, "fake.tar.gz", "not really an archive", 0644);
	t_write(ctxfd, "empty.tar", "", 0644);
	ASSERT_EQ(add1("/f/", "fake.tar.gz", NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "f/fake.tar.gz", "not really an archive"));
	ASSERT_EQ(add1("/f/", "empty.tar", NULL), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "f/empty.tar").st_mode));
	/* a symlink to an archive is unpacked (it is followed inside the context) */
	make_archive("real.tar", "");
	t_symlink(ctxfd, "real.tar", "link.tar");
	ASSERT_EQ(add1("/tmp/", "link.tar", NULL), 0);
	ASSERT_TRUE(unpacked_ok("tmp"));
}

/* Write a Python tarfile script producing ctx/NAME; @body adds members to `t`. */
static void py_tar(const char *name, const char *body)
{
	FILE *f;
	char path[256];

	snprintf(path, sizeof(path), "%s/mk.py", top);
	f = fopen(path, "w");
	if (!f)
		die(path);
	fprintf(f,
		"import io, tarfile\n"
		"t = tarfile.open('ctx/%s', 'w')\n"
		"def add(name, data=b'x', **kw):\n"
		"    i = tarfile.TarInfo(name); i.size = len(data)\n"
		"    for k, v in kw.items(): setattr(i, k, v)\n"
		"    t.addfile(i, io.BytesIO(data))\n"
		"def link(name, target, kind=tarfile.SYMTYPE):\n"
		"    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)\n"
		"%s\n"
		"t.close()\n",
		name, body);
	fclose(f);
	sh("python3 mk.py");
}

/* Nothing outside root/ changed: outside/ holds only "secret", intact. */
static bool outside_intact(void)
{
	DIR *d = opendir(top);
	struct dirent *de;
	int extra = 0;
	char path[256];

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "ctx") && strcmp(de->d_name, "root") &&
		    strcmp(de->d_name, "outside") && strcmp(de->d_name, "secret") &&
		    strcmp(de->d_name, "mk.py") && strcmp(de->d_name, "payload") &&
		    strcmp(de->d_name, "srv")) {
			printf("# unexpected '%s' beside root/\n", de->d_name);
			extra++;
		}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/outside", top);
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "secret")) {
			printf("# unexpected 'outside/%s'\n", de->d_name);
			extra++;
		}
	if (d)
		closedir(d);
	return extra == 0 && t_content_is(topfd, "outside/secret", "outside") &&
	       t_content_is(topfd, "secret", "top-secret") &&
	       t_lstat(topfd, "outside/secret").st_nlink == 1;
}

TEST(add_rejects_dotdot_escape)
{
	char *msg = NULL;

	t_reset();
	py_tar("evil.tar", "add('ok'); add('../../escape'); add('a/../../../outside/pwned')");
	ASSERT_TRUE(add1("/dst/", "evil.tar", &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "outside the destination"));
	free(msg);
	ASSERT_TRUE(outside_intact());
	ASSERT_FALSE(t_exists(rootfd, "escape"));
}

TEST(add_keeps_absolute_names_inside)
{
	char body[512];

	t_reset();
	snprintf(body, sizeof(body), "add('%s/outside/pwned'); add('/etc/passwd', b'fake')", top);
	py_tar("abs.tar", body);
	ASSERT_EQ(add1("/dst/", "abs.tar", NULL), 0);
	ASSERT_TRUE(outside_intact());
	ASSERT_TRUE(t_content_is(rootfd, "dst/etc/passwd", "fake"));
}

TEST(add_symlink_then_write_through_stays_inside)
{
	char body[1024];

	t_reset();
	snprintf(body, sizeof(body),
		 "link('up', '../../..'); add('up/outside/pwned')\n"
		 "link('abs', '%s/outside'); add('abs/pwned2')\n"
		 "link('deep/x', '/'); add('deep/x/outside/pwned3')\n"
		 "link('f', '%s/outside/secret'); add('f', b'overwritten')",
		 top, top);
	py_tar("link.tar", body);
	ASSERT_EQ(add1("/dst", "link.tar", NULL), 0);
	ASSERT_TRUE(outside_intact());
	/* the writes landed inside the destination, resolved as if it were "/" */
	ASSERT_TRUE(t_exists(rootfd, "dst/outside/pwned"));
	ASSERT_TRUE(t_content_is(rootfd, "dst/f", "overwritten"));
}

TEST(add_hardlink_out_is_refused)
{
	char *msg = NULL;
	char body[512];

	t_reset();
	py_tar("hl1.tar", "add('a'); link('shadow', '/etc/shadow', tarfile.LNKTYPE)");
	ASSERT_TRUE(add1("/dst/", "hl1.tar", &msg) < 0);
	free(msg);
	ASSERT_FALSE(t_exists(rootfd, "dst/etc")); /* looking the target up creates nothing */
	msg = NULL;
	snprintf(body, sizeof(body), "link('h', '../../../outside/secret', tarfile.LNKTYPE)");
	py_tar("hl2.tar", body);
	ASSERT_TRUE(add1("/dst/", "hl2.tar", &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "outside the destination"));
	free(msg);
	/* a hardlink to a symlink pointing out links the symlink, never its target */
	snprintf(body, sizeof(body),
		 "link('s', '%s/outside/secret'); link('h', 's', tarfile.LNKTYPE)", top);
	py_tar("hl3.tar", body);
	ASSERT_EQ(add1("/dst/", "hl3.tar", NULL), 0);
	ASSERT_TRUE(S_ISLNK(t_lstat(rootfd, "dst/h").st_mode));
	ASSERT_TRUE(outside_intact());
	/* a proper hardlink inside works */
	py_tar("hl4.tar", "add('a', b'AA'); link('b', 'a', tarfile.LNKTYPE)");
	ASSERT_EQ(add1("/ok/", "hl4.tar", NULL), 0);
	ASSERT_EQ(t_lstat(rootfd, "ok/a").st_ino, t_lstat(rootfd, "ok/b").st_ino);
}

TEST(add_archive_owner_comes_from_the_archive)
{
	const char *srcs[] = {"own.tar"};
	struct copy_opts o = t_opts("/own/", srcs, 1);

	if (geteuid() != 0) {
		printf("# skip: not root\n");
		return;
	}
	t_reset();
	py_tar("own.tar", "add('f', uid=1234, gid=4321, mode=0o640)");
	o.add = true;
	o.chown = (struct copy_chown){.set = true, .uid = 7, .gid = 7}; /* ignored for archives */
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_EQ(t_lstat(rootfd, "own/f").st_uid, 1234);
	ASSERT_EQ(t_lstat(rootfd, "own/f").st_gid, 4321);
	ASSERT_EQ(t_lstat(rootfd, "own/f").st_mode & 07777, 0640);
}

TEST(add_archive_xattrs)
{
	char path[256], buf[64];
	ssize_t n;

	t_reset();
	py_tar("x.tar",
	       "i = tarfile.TarInfo('f'); i.size = 1\n"
	       "i.pax_headers = {'SCHILY.xattr.user.kiln': 'yes', 'SCHILY.xattr.trusted.no': 'x'}\n"
	       "t.addfile(i, io.BytesIO(b'F'))");
	ASSERT_EQ(add1("/x/", "x.tar", NULL), 0);
	snprintf(path, sizeof(path), "%s/root/x/f", top);
	n = getxattr(path, "user.kiln", buf, sizeof(buf));
	if (n < 0 && errno == ENOTSUP) {
		printf("# skip: no user xattrs here\n");
		return;
	}
	ASSERT_EQ(n, 3);
	ASSERT_TRUE(memcmp(buf, "yes", 3) == 0);
	ASSERT_TRUE(getxattr(path, "trusted.no", buf, sizeof(buf)) < 0);
}

TEST(add_checksum)
{
	/* sha256("hello\n") */
	static const char good[] =
		"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
	static const char bad[] =
		"sha256:0000000000000000000000000000000000000000000000000000000000000000";
	const char *srcs[] = {"h.txt"};
	struct copy_opts o = t_opts("/h.txt", srcs, 1);
	char *msg = NULL;

	t_reset();
	t_write(ctxfd, "h.txt", "hello\n", 0644);
	o.add = true;
	o.checksum = bad;
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "checksum mismatch for 'h.txt'"));
	ASSERT_TRUE(t_contains(msg, good));
	free(msg);
	msg = NULL;
	ASSERT_FALSE(t_exists(rootfd, "h.txt"));
	o.checksum = "md5:abc";
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "invalid --checksum"));
	free(msg);
	o.checksum = good;
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "h.txt", "hello\n"));
}

/* ---- URLs: a python3 http.server on 127.0.0.1 ------------------------------------------ */

static pid_t server_pid = -1;
static int server_port;

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		die("port");
	port = ntohs(sa.sin_port);
	close(s);
	return port;
}

static bool server_up(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)server_port)};

	for (int i = 0; i < 100; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r = connect(s, (struct sockaddr *)&sa, sizeof(sa));

		close(s);
		if (r == 0)
			return true;
		nanosleep(&(struct timespec){0, 50000000}, NULL);
	}
	return false;
}

static bool start_server(void)
{
	char port[16], dir[128];

	server_port = free_port();
	snprintf(port, sizeof(port), "%d", server_port);
	snprintf(dir, sizeof(dir), "%s/srv", top);
	server_pid = fork();
	if (server_pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("python3", "python3", "-m", "http.server", "-b", "127.0.0.1", "-d", dir,
		       port, (char *)NULL);
		_exit(127);
	}
	return server_pid > 0 && server_up();
}

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
}

TEST(add_url)
{
	struct timespec t[2] = {{1600000000, 0}, {1600000000, 0}};
	char url[128], hex[65], hex2[65];
	const char *srcs[] = {url};
	struct copy_opts o = t_opts("/dl/", srcs, 1);
	char *msg = NULL;
	struct stat st;

	t_reset();
	t_mkdirs(topfd, "srv");
	t_write(topfd, "srv/file.txt", "served\n", 0644);
	utimensat(topfd, "srv/file.txt", t, 0);
	if (!start_server()) {
		printf("# skip: no python3 http.server\n");
		stop_server();
		return;
	}
	o.add = true;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/file.txt?x=1", server_port);
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(t_content_is(rootfd, "dl/file.txt", "served\n"));
	st = t_lstat(rootfd, "dl/file.txt");
	ASSERT_EQ(st.st_mode & 07777, 0600);
	ASSERT_EQ(st.st_mtim.tv_sec, 1600000000); /* from Last-Modified */
	/* the digest follows the content */
	ASSERT_EQ(copy_digest(&o, hex, NULL), 0);
	t_write(topfd, "srv/file.txt", "changed\n", 0644);
	ASSERT_EQ(copy_digest(&o, hex2, NULL), 0);
	ASSERT_TRUE(strcmp(hex, hex2) != 0);
	/* a URL without a file name needs one in the destination */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server_port);
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "name the destination file"));
	free(msg);
	msg = NULL;
	o.dest = "/index.html";
	ASSERT_EQ(t_copy(&o, NULL), 0);
	ASSERT_TRUE(S_ISREG(t_lstat(rootfd, "index.html").st_mode));
	o.dest = "/dl/";
	/* not found: an error naming the URL */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/missing", server_port);
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "missing"));
	ASSERT_TRUE(t_contains(msg, "404"));
	free(msg);
	msg = NULL;
	/* COPY refuses URLs */
	o.add = false;
	ASSERT_TRUE(t_copy(&o, &msg) < 0);
	ASSERT_TRUE(t_contains(msg, "use ADD"));
	free(msg);
	stop_server();
}

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(add_unpacks_every_compression),
		TAP_ENTRY(add_copies_non_archives_as_files),
		TAP_ENTRY(add_rejects_dotdot_escape),
		TAP_ENTRY(add_keeps_absolute_names_inside),
		TAP_ENTRY(add_symlink_then_write_through_stays_inside),
		TAP_ENTRY(add_hardlink_out_is_refused),
		TAP_ENTRY(add_archive_owner_comes_from_the_archive),
		TAP_ENTRY(add_archive_xattrs),
		TAP_ENTRY(add_checksum),
		TAP_ENTRY(add_url),
	};
	int r = tap_run(tests, ARRAY_SIZE(tests));

	stop_server();
	t_teardown();
	return r;
}

bool tap_failed_;
