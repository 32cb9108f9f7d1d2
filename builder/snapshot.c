/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/snapshot-internal.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

static int convert_entry(int dfd, const char *name, struct kiln_error **err)
{
	const char *target;

	if (streq(name, WH_OPAQUE)) {
		if (unlinkat(dfd, name, 0) < 0)
			return err_sys(err, errno, "remove '%s'", name);
		if (fsetxattr(dfd, SNAPSHOT_OPAQUE_XATTR, "y", 1, 0) < 0)
			return err_sys(err, errno, "set '%s'", SNAPSHOT_OPAQUE_XATTR);
		return 0;
	}
	target = name + strlen(WH_PREFIX);
	if (unlinkat(dfd, name, 0) < 0)
		return err_sys(err, errno, "remove '%s'", name);
	if (mknodat(dfd, target, S_IFCHR | 0000, makedev(0, 0)) < 0 && errno != EEXIST)
		return err_sys(err, errno, "create whiteout '%s'", target);
	return 0;
}

static int convert_dir(int dfd, unsigned depth, struct kiln_error **err)
{
	_cleanup_strv_ struct strv subdirs = STRV_INIT, whiteouts = STRV_INIT;
	DIR *d;
	int r = 0;

	if (depth > 4096)
		return err_new(err, KILN_ERR_INPUT, ELOOP, "layer nests directories too deep");
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return err_sys(err, errno, "opendir");
	}
	/* collect first: changing a directory while reading it may skip entries */
	for (struct dirent *de; (de = readdir(d));) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (startswith(de->d_name, WH_PREFIX))
			strv_push(&whiteouts, de->d_name);
		else if (de->d_type == DT_DIR)
			strv_push(&subdirs, de->d_name);
	}
	strv_foreach(&whiteouts, w) {
		r = convert_entry(dirfd(d), *w, err);
		if (r < 0)
			goto out;
	}
	strv_foreach(&subdirs, sd) {
		int sub = openat(dirfd(d), *sd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub < 0) {
			r = err_sys(err, errno, "open '%s'", *sd);
			goto out;
		}
		r = convert_dir(sub, depth + 1, err);
		if (r < 0) {
			err_wrap(err, "'%s'", *sd);
			goto out;
		}
	}
out:
	closedir(d);
	return r;
}

int snapshot_convert_whiteouts(int dirfd, struct kiln_error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, errno, "open snapshot");
	return convert_dir(fd, 0, err);
}

static int rename_into_place(struct store *s, const char *tmp_path, const char *final_path,
			     struct kiln_error **err)
{
	if (rename(tmp_path, final_path) == 0)
		return fs_fsync_dir(store_dirfd(s, STORE_DIR_SNAPSHOTS), err);
	if (errno != EEXIST && errno != ENOTEMPTY)
		return err_sys(err, errno, "rename '%s' to '%s'", tmp_path, final_path);
	/* another build unpacked it first: theirs is as good as ours */
	return fs_rm_rf(AT_FDCWD, tmp_path, err);
}

int snapshot_ensure(struct store *s, const struct layer_desc *layer, char **ret_path,
		    struct kiln_error **err)
{
	_cleanup_free_ char *path = store_snapshot_path(s, &layer->diff_id), *tmp = NULL;
	_cleanup_free_ char *tmpdir = store_dir_path(s, STORE_DIR_TMP), *prefix = NULL,
			    *name = NULL;
	_cleanup_close_ int blobfd = -1, tfd = -1; /* tfd holds the lock of tmp (tmpwork.c) */
	char hex[DIGEST_HEX_LEN + 1];
	int r;

	if (access(path, F_OK) == 0) {
		/* someone's snapshot of this diffID: is this blob really that layer? */
		r = store_layer_verify(s, layer, err);
		if (r < 0)
			return r;
		goto done;
	}
	prefix = xasprintf("snap-%s", digest_hex(&layer->diff_id, hex));
	r = store_tmp_mkdir(s, prefix, 0700, &name, &tfd, err);
	if (r < 0)
		return r;
	tmp = fs_path_join(tmpdir, name);
	blobfd = store_blob_open(s, &layer->digest, err);
	if (blobfd < 0) {
		r = blobfd;
		goto out_remove;
	}
	r = layers_apply_verified(blobfd, tfd, LAYERS_APPLY_NO_WHITEOUTS | LAYERS_APPLY_LAX_OWNER,
				  &layer->diff_id, err);
	if (r >= 0)
		r = snapshot_convert_whiteouts(tfd, err);
	if (r >= 0)
		store_layer_verified(s, layer);
	if (r >= 0)
		r = rename_into_place(s, tmp, path, err);
	if (r < 0)
		goto out_remove;
done:
	if (ret_path)
		*ret_path = TAKE_PTR(path);
	return 0;
out_remove:
	fs_rm_rf(AT_FDCWD, tmp, NULL);
	return err_wrap(err, "unpack layer %s", digest_hex(&layer->diff_id, hex));
}

int snapshot_adopt(struct store *s, const char *upper_path, const struct layer_desc *layer,
		   struct kiln_error **err)
{
	_cleanup_free_ char *path = store_snapshot_path(s, &layer->diff_id);

	store_layer_verified(s, layer); /* the blob was written from this very tree */
	return rename_into_place(s, upper_path, path, err);
}

int snapshot_check_image(struct store *s, const char *name, const struct image *img,
			 struct kiln_error **err)
{
	char d[DIGEST_STR_SIZE];

	for (size_t i = 0; i < img->n_layers; i++) {
		int r = snapshot_ensure(s, &img->layers[i], NULL, err);

		if (r < 0)
			return err_wrap(err, "image '%s': layer %zu/%zu '%s'", name, i + 1,
					img->n_layers, digest_format(&img->layers[i].digest, d));
	}
	return 0;
}
