/* SPDX-License-Identifier: Apache-2.0 */
/* The store on a real directory: blobs, names, images, fsck, snapshots, prune. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"

static char top[64];

static struct store *fresh_store(void)
{
	struct store *s = NULL;

	if (top[0])
		fs_rm_rf(AT_FDCWD, top, NULL);
	snprintf(top, sizeof(top), "/tmp/kiln-test-store.XXXXXX");
	if (!mkdtemp(top) || store_open(top, STORE_CREATE, &s, NULL) < 0)
		abort();
	return s;
}

static void count_problem(void *ctx, const char *problem)
{
	(*(int *)ctx)++;
	printf("# fsck: %s\n", problem);
}

/* A one-layer image from a directory holding one file; returns the manifest digest. */
static struct digest make_image(struct store *s, const char *name, const char *content)
{
	char dir[128];
	struct layers_commit_opts opts = LAYERS_COMMIT_OPTS_INIT;
	struct layer_desc l;
	json_t *config = image_config_new();
	struct image_spec spec = {.config = config, .layers = &l, .n_layers = 1};
	struct digest d;
	int dfd, fd;

	snprintf(dir, sizeof(dir), "%s/src-%s", top, content);
	mkdir(dir, 0755);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = openat(dfd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) < 0)
		abort();
	close(fd);
	if (layers_commit_dir(s, dfd, &opts, &l, NULL) < 0)
		abort();
	image_config_add_history(config, NULL, "test", false);
	if (image_write(s, &spec, &d, NULL) < 0 || store_tag(s, name, &d, NULL) < 0)
		abort();
	layer_desc_release(&l);
	json_decref(config);
	close(dfd);
	return d;
}

TEST(store_layout_is_created)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	static const char *const dirs[] = {"blobs/sha256", "snapshots", "cache", "tmp"};

	ASSERT_GE(strbuf_read_file(&sb, AT_FDCWD, store_root(s), NULL), -100);
	strbuf_reset(&sb);
	ASSERT_GE(strbuf_read_file(&sb, store_dirfd(s, STORE_DIR_ROOT), "oci-layout", NULL), 0);
	ASSERT_STREQ(sb.buf, "{\"imageLayoutVersion\":\"1.0.0\"}");
	for (size_t i = 0; i < 4; i++)
		ASSERT_EQ(faccessat(store_dirfd(s, STORE_DIR_ROOT), dirs[i], F_OK, 0), 0);
}

TEST(blob_writer_verifies_the_digest)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	_cleanup_(blob_writer_freep) struct blob_writer *w = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct digest wrong, d;
	uint64_t size;

	digest_buffer("other", 5, &wrong);
	ASSERT_EQ(blob_writer_begin(s, &w, NULL), 0);
	ASSERT_EQ(blob_writer_write(w, "hello", 5, NULL), 0);
	ASSERT_LT(blob_writer_commit(w, &wrong, &d, &size, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "blob digest mismatch"));
	ASSERT_FALSE(store_blob_exists(s, &wrong, NULL));
	blob_writer_free(TAKE_PTR(w));
	/* the temp file is gone with the writer */
	ASSERT_EQ(unlinkat(store_dirfd(s, STORE_DIR_TMP), "blob", 0) < 0 && errno == ENOENT, 1);
	digest_buffer("hello", 5, &wrong);
	ASSERT_EQ(store_blob_write(s, "hello", 5, &wrong, &d, NULL), 0);
	ASSERT_TRUE(store_blob_exists(s, &d, &size));
	ASSERT_EQ(size, 5);
	ASSERT_EQ(store_blob_read(s, &d, &sb, NULL), 0);
	ASSERT_STREQ(sb.buf, "hello");
}

TEST(names_resolve_tag_untag)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	struct digest a = make_image(s, "app", "one"),
		      b = make_image(s, "localhost:5000/app:2", "two");
	struct digest r;
	char hex[DIGEST_HEX_LEN + 1];

	ASSERT_EQ(store_resolve(s, "app:latest", &r, NULL), 0);
	ASSERT_TRUE(digest_eq(&r, &a));
	ASSERT_EQ(store_resolve(s, "localhost:5000/app:2", &r, NULL), 0);
	ASSERT_TRUE(digest_eq(&r, &b));
	digest_hex(&b, hex);
	hex[10] = '\0';
	ASSERT_EQ(store_resolve(s, hex, &r, NULL), 0);
	ASSERT_TRUE(digest_eq(&r, &b));
	ASSERT_EQ(store_tag(s, "copy:1", &a, NULL), 0);
	ASSERT_EQ(store_tag(s, "app", &b, NULL), 0); /* replaces the old app:latest */
	ASSERT_EQ(store_resolve(s, "app", &r, NULL), 0);
	ASSERT_TRUE(digest_eq(&r, &b));
	ASSERT_EQ(store_untag(s, "copy:1", NULL), 0);
	ASSERT_LT(store_resolve(s, "copy:1", &r, &err), 0);
	ASSERT_NOT_NULL(strstr(err->msg, "image 'copy:1' not found"));
}

TEST(image_round_trip)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	_cleanup_(image_freep) struct image *img = NULL;
	struct digest d = make_image(s, "rt:1", "content");

	ASSERT_EQ(image_read_named(s, "rt:1", &img, NULL), 0);
	ASSERT_TRUE(digest_eq(&img->manifest_digest, &d));
	ASSERT_EQ(img->n_layers, 1);
	ASSERT_EQ(img->layers[0].compression, LAYER_GZIP);
	ASSERT_STREQ(img->layers[0].media_type, MEDIA_OCI_LAYER_GZIP);
	ASSERT_STREQ(json_string_value(json_object_get(img->config, "os")), "linux");
	ASSERT_EQ(json_array_size(json_object_get(img->config, "history")), 1);
}

TEST(fsck_finds_damage)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	_cleanup_(image_freep) struct image *img = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	int problems = 0, fd;

	make_image(s, "x", "data");
	ASSERT_EQ(store_fsck(s, count_problem, &problems, NULL), 0);
	ASSERT_EQ(image_read_named(s, "x", &img, NULL), 0);
	fd = openat(store_dirfd(s, STORE_DIR_BLOBS), digest_hex(&img->layers[0].digest, hex),
		    O_WRONLY | O_APPEND | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "x", 1), 1);
	close(fd);
	ASSERT_EQ(store_fsck(s, count_problem, &problems, NULL), 2); /* damaged + wrong size */
	unlinkat(store_dirfd(s, STORE_DIR_BLOBS), hex, 0);
	problems = 0;
	ASSERT_EQ(store_fsck(s, count_problem, &problems, NULL), 1); /* missing */
}

TEST(snapshots_are_made_once)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_free_ char *p1 = NULL, *p2 = NULL, *file = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	make_image(s, "snap", "abc");
	ASSERT_EQ(image_read_named(s, "snap", &img, NULL), 0);
	ASSERT_EQ(store_snapshot_ensure(s, &img->layers[0], 0, &p1, NULL), 0);
	ASSERT_EQ(store_snapshot_ensure(s, &img->layers[0], 0, &p2, NULL), 0);
	ASSERT_STREQ(p1, p2);
	file = fs_path_join(p1, "file");
	ASSERT_EQ(strbuf_read_file(&sb, AT_FDCWD, file, NULL), 3);
	ASSERT_STREQ(sb.buf, "abc");
}

static void ignore_freed(void *ctx, const char *what, uint64_t size)
{
	(*(int *)ctx)++;
}

TEST(prune_keeps_what_images_reach)
{
	_cleanup_(store_freep) struct store *s = fresh_store();
	struct digest junk;
	uint64_t freed = 0;
	int n = 0, problems = 0;

	make_image(s, "keep", "k");
	make_image(s, "drop", "d");
	ASSERT_EQ(store_untag(s, "drop", NULL), 0);
	ASSERT_EQ(store_blob_write(s, "junk", 4, NULL, &junk, NULL), 0);
	ASSERT_EQ(store_prune(s, NULL, 0, ignore_freed, &n, &freed, NULL), 0);
	ASSERT_EQ(n, 4); /* junk + drop's manifest, config, layer */
	ASSERT_FALSE(store_blob_exists(s, &junk, NULL));
	ASSERT_EQ(store_fsck(s, count_problem, &problems, NULL), 0);
	ASSERT_EQ(store_resolve(s, "keep", &junk, NULL), 0);
	fs_rm_rf(AT_FDCWD, top, NULL);
}

TAP_MAIN(TAP_ENTRY(store_layout_is_created), TAP_ENTRY(blob_writer_verifies_the_digest),
	 TAP_ENTRY(names_resolve_tag_untag), TAP_ENTRY(image_round_trip),
	 TAP_ENTRY(fsck_finds_damage), TAP_ENTRY(snapshots_are_made_once),
	 TAP_ENTRY(prune_keeps_what_images_reach))
