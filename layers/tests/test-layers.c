/* SPDX-License-Identifier: Apache-2.0 */
/* Commit and apply of layers on real directories; hostile layers; whiteouts. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layers.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char top[64];

static void mk_top(void)
{
	if (top[0])
		fs_rm_rf(AT_FDCWD, top, NULL);
	snprintf(top, sizeof(top), "/tmp/kiln-test-layers.XXXXXX");
	if (!mkdtemp(top))
		abort();
}

static char *p(const char *rel)
{
	static char buf[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", top, rel);
	return buf[i];
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static char *read_file(const char *path)
{
	struct strbuf sb = STRBUF_INIT;

	if (strbuf_read_file(&sb, AT_FDCWD, path, NULL) < 0)
		return NULL;
	return strbuf_detach(&sb, NULL);
}

static void mkdir_p(const char *abs)
{
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fs_mkdir_p(root, abs, 0755, NULL) < 0)
		abort();
	close(root);
}

static int opendir_at(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* A tree with most kinds of entry. */
static void make_tree(const char *root)
{
	char path[300];
	static char big[3 << 20];

	snprintf(path, sizeof(path), "%s/d/e", root);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/d/e/text", root);
	write_file(path, "hello\n", 6);
	chmod(path, 04755);
	setxattr(path, "user.kiln", "v", 1, 0);
	snprintf(path, sizeof(path), "%s/d/hl", root);
	{
		char src[300];

		snprintf(src, sizeof(src), "%s/d/e/text", root);
		if (link(src, path) < 0)
			abort();
	}
	snprintf(path, sizeof(path), "%s/link", root);
	if (symlink("d/e/text", path) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/fifo", root);
	mkfifo(path, 0600);
	{
		/* a socket left behind by a RUN step is skipped, like GNU tar does */
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", root);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			abort();
		close(fd);
	}
	/* half compressible text, half random: both kinds of gzip block */
	for (size_t i = 0; i < sizeof(big) / 2; i++)
		big[i] = (char)('a' + (i * 7 % 13));
	{
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, big + sizeof(big) / 2, sizeof(big) / 2) < 0)
			abort();
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/big", root);
	write_file(path, big, sizeof(big));
}

static int commit(const char *dir, enum layer_compression c, int threads, const char *out,
		  struct layer_desc *ret)
{
	struct layers_commit_opts opts = LAYERS_COMMIT_OPTS_INIT;
	int dfd = opendir_at(dir), ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	opts.compression = c;
	opts.threads = threads;
	opts.source_date_epoch = 1000;
	r = layers_write_dir(dfd, &opts, ofd, ret, NULL);
	close(dfd);
	close(ofd);
	return r;
}

static int apply(const char *blob, const char *dir, struct kiln_error **err)
{
	int in = open(blob, O_RDONLY | O_CLOEXEC), dfd = opendir_at(dir);
	int r = layers_apply(in, dfd, LAYERS_APPLY_LAX_OWNER, err);

	close(in);
	close(dfd);
	return r;
}

TEST(commit_apply_round_trip)
{
	static const enum layer_compression cs[] = {LAYER_GZIP, LAYER_ZSTD, LAYER_NONE};

	mk_top();
	make_tree(p("src"));
	for (size_t i = 0; i < 3; i++) {
		struct layer_desc l;
		_cleanup_free_ char *text = NULL, *big = NULL, *orig = NULL;
		struct stat a, b;
		char link[64] = {0}, x[4] = {0};

		fs_rm_rf(AT_FDCWD, p("dst"), NULL);
		mkdir(p("dst"), 0755);
		ASSERT_EQ(commit(p("src"), cs[i], 2, p("layer"), &l), 0);
		ASSERT_EQ(apply(p("layer"), p("dst"), NULL), 0);
		text = read_file(p("dst/d/e/text"));
		ASSERT_STREQ(text, "hello\n");
		ASSERT_EQ(stat(p("dst/d/e/text"), &a), 0);
		ASSERT_EQ(a.st_mode & 07777, 04755);
		ASSERT_EQ(a.st_mtime, 1000);
		ASSERT_EQ(stat(p("dst/d/hl"), &b), 0);
		ASSERT_EQ(a.st_ino, b.st_ino); /* the hardlink survived */
		ASSERT_EQ(readlink(p("dst/link"), link, sizeof(link) - 1), 8);
		ASSERT_STREQ(link, "d/e/text");
		ASSERT_EQ(lstat(p("dst/fifo"), &a), 0);
		ASSERT_TRUE(S_ISFIFO(a.st_mode));
		ASSERT_LT(lstat(p("dst/sock"), &a), 0);
		if (getxattr(p("src/d/e/text"), "user.kiln", x, 3) == 1) {
			ASSERT_EQ(getxattr(p("dst/d/e/text"), "user.kiln", x, 3), 1);
		}
		big = read_file(p("dst/big"));
		orig = read_file(p("src/big"));
		ASSERT_NOT_NULL(big);
		ASSERT_TRUE(memcmp(big, orig, 3 << 20) == 0);
		layer_desc_release(&l);
	}
}

TEST(commit_is_deterministic_for_any_thread_count)
{
	struct layer_desc l1, l2, l4;
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE];

	mk_top();
	make_tree(p("src"));
	ASSERT_EQ(commit(p("src"), LAYER_GZIP, 1, p("l1"), &l1), 0);
	ASSERT_EQ(commit(p("src"), LAYER_GZIP, 2, p("l2"), &l2), 0);
	ASSERT_EQ(commit(p("src"), LAYER_GZIP, 4, p("l4"), &l4), 0);
	ASSERT_STREQ(digest_format(&l1.digest, a), digest_format(&l2.digest, b));
	ASSERT_STREQ(digest_format(&l1.digest, a), digest_format(&l4.digest, b));
	ASSERT_TRUE(digest_eq(&l1.diff_id, &l4.diff_id));
	/* random data is stored, not inflated: the blob is not much bigger than the data */
	ASSERT_LT(l1.size, (3 << 20) / 2 + (3 << 20) / 8);
	layer_desc_release(&l1);
	layer_desc_release(&l2);
	layer_desc_release(&l4);
	ASSERT_EQ(commit(p("src"), LAYER_ZSTD, 1, p("z1"), &l1), 0);
	ASSERT_EQ(commit(p("src"), LAYER_ZSTD, 2, p("z2"), &l2), 0);
	ASSERT_TRUE(digest_eq(&l1.digest, &l2.digest));
	layer_desc_release(&l1);
	layer_desc_release(&l2);
}

/* ---- crafted layers ---- */

struct ent {
	char type; /* f file, d dir, l symlink, h hardlink */
	const char *name;
	const char *data; /* file content, link target */
};

static void make_tar(const char *path, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();

		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_perm(ae, 0644);
		switch (e[i].type) {
		case 'f':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			if (e[i].data)
				archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		}
		archive_write_header(a, ae);
		if (e[i].type == 'f')
			archive_write_data(a, e[i].data, strlen(e[i].data));
		archive_entry_free(ae);
	}
	archive_write_free(a);
}

/* Apply @e to top/root with a secret at top/secret; the secret must survive. */
static int hostile(const struct ent *e, size_t n, struct kiln_error **err)
{
	_cleanup_free_ char *secret = NULL;
	int r;

	mk_top();
	mkdir(p("root"), 0755);
	write_file(p("secret"), "keep", 4);
	make_tar(p("evil.tar"), e, n);
	r = apply(p("evil.tar"), p("root"), err);
	secret = read_file(p("secret"));
	if (!secret || strcmp(secret, "keep") != 0)
		abort(); /* something escaped: fail loudly */
	return r;
}

/* A file with three user xattrs set in the order @names gives. */
static bool xattr_file(const char *dir, const char *const names[3])
{
	char path[300];

	mkdir_p(dir);
	snprintf(path, sizeof(path), "%s/f", dir);
	write_file(path, "x", 1);
	for (size_t i = 0; i < 3; i++)
		if (setxattr(path, names[i], names[i], strlen(names[i]), 0) < 0)
			return false;
	return true;
}

/* The xattr names of the tar entry "f" in @blob, joined by spaces. */
static char *tar_xattr_names(const char *blob)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct strbuf sb = STRBUF_INIT;

	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, blob, 10240) != ARCHIVE_OK)
		abort();
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name;
		const void *v;
		size_t len;

		if (strcmp(archive_entry_pathname(e), "f") != 0)
			continue;
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &name, &v, &len) == ARCHIVE_OK)
			strbuf_addf(&sb, "%s%s", sb.len ? " " : "", name);
	}
	archive_read_free(a);
	return strbuf_detach(&sb, NULL);
}

TEST(commit_sorts_xattr_names)
{
	static const char *const order1[] = {"user.c", "user.a", "user.b"};
	static const char *const order2[] = {"user.b", "user.c", "user.a"};
	struct layer_desc l1, l2;
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE];
	_cleanup_free_ char *names1 = NULL, *names2 = NULL;

	mk_top();
	if (!xattr_file(p("x1"), order1) || !xattr_file(p("x2"), order2)) {
		printf("# skip: no user xattrs on '%s'\n", top);
		return;
	}
	ASSERT_EQ(commit(p("x1"), LAYER_NONE, 1, p("l1"), &l1), 0);
	ASSERT_EQ(commit(p("x2"), LAYER_NONE, 1, p("l2"), &l2), 0);
	names1 = tar_xattr_names(p("l1"));
	names2 = tar_xattr_names(p("l2"));
	ASSERT_STREQ(names1, "user.a user.b user.c");
	ASSERT_STREQ(names2, "user.a user.b user.c");
	ASSERT_STREQ(digest_format(&l1.diff_id, a), digest_format(&l2.diff_id, b));
	layer_desc_release(&l1);
	layer_desc_release(&l2);
}

TEST(apply_refuses_dotdot)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	const struct ent e[] = {{'f', "../secret", "pwned"}};

	ASSERT_LT(hostile(e, 1, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "entry '../secret': '..' in a layer name is not allowed"));
}

TEST(apply_makes_absolute_names_relative)
{
	const struct ent e[] = {{'f', p("secret"), "inside"}};
	_cleanup_free_ char *in = NULL;

	ASSERT_EQ(hostile(e, 1, NULL), 0);
	/* top/secret's absolute path landed below root/ */
	in = read_file(p("root/secret") + 0);
	ASSERT_TRUE(access(p("root/tmp"), F_OK) == 0);
}

TEST(apply_never_follows_symlinked_parents)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	char target[128];
	struct ent e[] = {{'l', "up", target}, {'f', "up/secret", "pwned"}};

	mk_top();
	snprintf(target, sizeof(target), "%s", top);
	ASSERT_LT(hostile(e, 2, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "parent 'up' is a symlink"));
}

TEST(apply_refuses_relative_symlinked_parent)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	const struct ent e[] = {{'l', "up", ".."}, {'f', "up/secret", "pwned"}};

	ASSERT_LT(hostile(e, 2, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "refusing to follow"));
}

TEST(apply_refuses_hardlinks_out)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL, *err2 = NULL;
	const struct ent e[] = {{'h', "x", "../secret"}};
	const struct ent e2[] = {{'h', "x", "secret"}};

	ASSERT_LT(hostile(e, 1, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "'..'"));
	ASSERT_LT(hostile(e2, 1, &err2), 0);
	ASSERT_NOT_NULL(strstr(err2->msg, "entry 'x': hardlink to 'secret'"));
}

TEST(apply_replaces_a_symlink_by_a_directory)
{
	char target[128];
	struct ent e[] = {{'l', "d", target}, {'d', "d", NULL}, {'f', "d/secret", "inside"}};
	_cleanup_free_ char *in = NULL;
	struct stat st;

	mk_top();
	snprintf(target, sizeof(target), "%s", top);
	ASSERT_EQ(hostile(e, 3, NULL), 0);
	ASSERT_EQ(lstat(p("root/d"), &st), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	in = read_file(p("root/d/secret"));
	ASSERT_STREQ(in, "inside");
}

TEST(apply_symlink_then_file_over_it)
{
	/* a file entry over a symlink replaces the link, never writes through it */
	struct ent e[] = {{'l', "f", "../secret"}, {'f', "f", "inside"}};
	_cleanup_free_ char *in = NULL;

	ASSERT_EQ(hostile(e, 2, NULL), 0);
	in = read_file(p("root/f"));
	ASSERT_STREQ(in, "inside");
}

TEST(apply_whiteouts_and_opaque_dirs)
{
	const struct ent base[] = {{'d', "a", NULL},
				   {'f', "a/x", "1"},
				   {'f', "a/y", "2"},
				   {'d', "o", NULL},
				   {'f', "o/old", "3"}};
	const struct ent upper[] = {{'f', "a/.wh.x", ""},
				    {'d', "o", NULL},
				    {'f', "o/.wh..wh..opq", ""},
				    {'f', "o/new", "4"}};
	struct stat st;

	mk_top();
	mkdir(p("root"), 0755);
	make_tar(p("base.tar"), base, 5);
	make_tar(p("upper.tar"), upper, 4);
	ASSERT_EQ(apply(p("base.tar"), p("root"), NULL), 0);
	ASSERT_EQ(apply(p("upper.tar"), p("root"), NULL), 0);
	ASSERT_LT(lstat(p("root/a/x"), &st), 0);
	ASSERT_EQ(lstat(p("root/a/y"), &st), 0);
	ASSERT_LT(lstat(p("root/o/old"), &st), 0);
	ASSERT_EQ(lstat(p("root/o/new"), &st), 0);
	ASSERT_LT(lstat(p("root/a/.wh.x"), &st), 0);
	ASSERT_LT(lstat(p("root/o/.wh..wh..opq"), &st), 0);
}

TEST(apply_replaces_a_directory_by_a_file)
{
	const struct ent base[] = {{'d', "d", NULL}, {'d', "d/sub", NULL}, {'f', "d/sub/x", "1"}};
	const struct ent upper[] = {{'f', "d/sub", "now a file"}, {'f', "d/y", "2"}};
	_cleanup_free_ char *f = NULL, *y = NULL;

	mk_top();
	mkdir(p("root"), 0755);
	make_tar(p("base.tar"), base, 3);
	make_tar(p("upper.tar"), upper, 2);
	ASSERT_EQ(apply(p("base.tar"), p("root"), NULL), 0);
	ASSERT_EQ(apply(p("upper.tar"), p("root"), NULL), 0);
	f = read_file(p("root/d/sub"));
	ASSERT_STREQ(f, "now a file");
	y = read_file(p("root/d/y"));
	ASSERT_STREQ(y, "2");
}

TEST(apply_refuses_a_symlink_without_target)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	const struct ent e[] = {{'l', "l", NULL}};

	ASSERT_LT(hostile(e, 1, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "entry 'l': a symlink without a usable target"));
}

TEST(apply_refuses_garbage)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	mk_top();
	mkdir(p("root"), 0755);
	write_file(p("junk"), "this is not a tar archive at all, not even close........", 56);
	ASSERT_LT(apply(p("junk"), p("root"), &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "apply layer"));
	fs_rm_rf(AT_FDCWD, top, NULL);
}

static int apply_checked(const char *blob, const char *dir, const struct digest *diff_id,
			 struct kiln_error **err)
{
	int in = open(blob, O_RDONLY | O_CLOEXEC), dfd = opendir_at(dir);
	int r = layers_apply_verified(in, dfd, LAYERS_APPLY_LAX_OWNER, diff_id, err);

	close(in);
	close(dfd);
	return r;
}

TEST(apply_checks_the_diff_id)
{
	static const enum layer_compression cs[] = {LAYER_GZIP, LAYER_ZSTD, LAYER_NONE};

	mk_top();
	make_tree(p("src"));
	for (size_t i = 0; i < 3; i++) {
		_cleanup_(err_freep) struct kiln_error *err = NULL;
		struct layer_desc l;
		struct digest wrong, got;
		int fd;

		fs_rm_rf(AT_FDCWD, p("dst"), NULL);
		mkdir(p("dst"), 0755);
		ASSERT_EQ(commit(p("src"), cs[i], 2, p("layer"), &l), 0);
		ASSERT_EQ(apply_checked(p("layer"), p("dst"), &l.diff_id, NULL), 0);
		fd = open(p("layer"), O_RDONLY | O_CLOEXEC);
		ASSERT_EQ(layers_diff_id(fd, &got, NULL), 0);
		close(fd);
		ASSERT_TRUE(digest_eq(&got, &l.diff_id));
		wrong = l.diff_id;
		wrong.raw[0] ^= 1;
		fs_rm_rf(AT_FDCWD, p("dst"), NULL);
		mkdir(p("dst"), 0755);
		ASSERT_LT(apply_checked(p("layer"), p("dst"), &wrong, &err), 0);
		ASSERT_NOT_NULL(strstr(err->msg, "wrong diffID calculated on extraction"));
		layer_desc_release(&l);
	}
	fs_rm_rf(AT_FDCWD, top, NULL);
}

TEST(apply_an_empty_blob)
{
	struct digest empty, got;
	int fd;

	mk_top();
	mkdir(p("root"), 0755);
	write_file(p("empty"), "", 0);
	digest_buffer("", 0, &empty);
	ASSERT_EQ(apply_checked(p("empty"), p("root"), &empty, NULL), 0);
	fd = open(p("empty"), O_RDONLY | O_CLOEXEC);
	ASSERT_EQ(layers_diff_id(fd, &got, NULL), 0);
	close(fd);
	ASSERT_TRUE(digest_eq(&got, &empty));
	fs_rm_rf(AT_FDCWD, top, NULL);
}

TAP_MAIN(TAP_ENTRY(commit_apply_round_trip),
	 TAP_ENTRY(commit_is_deterministic_for_any_thread_count),
	 TAP_ENTRY(commit_sorts_xattr_names), TAP_ENTRY(apply_refuses_dotdot),
	 TAP_ENTRY(apply_makes_absolute_names_relative),
	 TAP_ENTRY(apply_never_follows_symlinked_parents),
	 TAP_ENTRY(apply_refuses_relative_symlinked_parent), TAP_ENTRY(apply_refuses_hardlinks_out),
	 TAP_ENTRY(apply_replaces_a_symlink_by_a_directory),
	 TAP_ENTRY(apply_symlink_then_file_over_it), TAP_ENTRY(apply_whiteouts_and_opaque_dirs),
	 TAP_ENTRY(apply_replaces_a_directory_by_a_file),
	 TAP_ENTRY(apply_refuses_a_symlink_without_target), TAP_ENTRY(apply_refuses_garbage),
	 TAP_ENTRY(apply_checks_the_diff_id), TAP_ENTRY(apply_an_empty_blob))
