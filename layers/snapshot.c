/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

char *store_snapshot_path(const struct store *s, const struct digest *diff_id)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/snapshots/%s", s->root, digest_hex(diff_id, hex));
}

static int unpack(struct store *s, const struct layer_desc *layer, const char *tmpname,
		  enum layers_apply_flags flags, struct kiln_error **err)
{
	_cleanup_close_ int blob = store_blob_open(s, &layer->digest, err);
	_cleanup_close_ int dfd = -1;

	if (blob < 0)
		return blob;
	dfd = openat(s->dirfds[STORE_DIR_TMP], tmpname,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, errno, "open '%s/tmp/%s'", s->root, tmpname);
	return layers_apply_verified(blob, dfd, flags, &layer->diff_id, err);
}

/* ---- which blob has which diffID ---- */

/*
 * A record is a hint, written without fsync (a step commit should not pay two
 * for it): after a crash it is whole or short, and a short one only costs the
 * blob being hashed again. It is written only once the blob was seen to have
 * that diffID, so no crash can make it claim a wrong one.
 */
void store_layer_verified(struct store *s, const struct layer_desc *layer)
{
	int dfd = s->dirfds[STORE_DIR_DIFFIDS];
	char hex[DIGEST_HEX_LEN + 1], id[DIGEST_STR_SIZE];
	_cleanup_free_ char *line = xasprintf("%s\n", digest_format(&layer->diff_id, id));
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = fs_mkstemp(dfd, ".tmp", 0644, &tmp, NULL);

	digest_hex(&layer->digest, hex);
	if (fd >= 0 && fs_write_all(fd, line, strlen(line), NULL) >= 0 &&
	    renameat(dfd, tmp, dfd, hex) == 0)
		return;
	if (fd >= 0)
		unlinkat(dfd, tmp, 0);
	log_debug("store: cannot record the diffID of blob 'sha256:%s'", hex);
}

static bool recorded(struct store *s, const struct layer_desc *layer)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char hex[DIGEST_HEX_LEN + 1], id[DIGEST_STR_SIZE];

	if (strbuf_read_file(&sb, s->dirfds[STORE_DIR_DIFFIDS], digest_hex(&layer->digest, hex),
			     NULL) < 0)
		return false;
	strbuf_trim(&sb);
	return streq(sb.buf, digest_format(&layer->diff_id, id));
}

int store_layer_verify(struct store *s, const struct layer_desc *layer, struct kiln_error **err)
{
	char a[DIGEST_STR_SIZE], b[DIGEST_STR_SIZE], c[DIGEST_STR_SIZE];
	_cleanup_close_ int fd = -1;
	struct digest got;
	int r;

	if (recorded(s, layer))
		return 0;
	fd = store_blob_open(s, &layer->digest, err);
	if (fd < 0)
		return fd;
	r = layers_diff_id(fd, &got, err);
	if (r < 0)
		return err_wrap(err, "layer '%s'", digest_format(&layer->digest, a));
	if (!digest_eq(&got, &layer->diff_id))
		return err_new(
			err, KILN_ERR_INPUT, EBADMSG,
			"layer '%s': wrong diffID: the image says '%s', the uncompressed layer has '%s'",
			digest_format(&layer->digest, a), digest_format(&layer->diff_id, b),
			digest_format(&got, c));
	store_layer_verified(s, layer);
	return 0;
}

int store_snapshot_ensure(struct store *s, const struct layer_desc *layer,
			  enum layers_apply_flags flags, char **ret_path, struct kiln_error **err)
{
	int snapfd = s->dirfds[STORE_DIR_SNAPSHOTS], tmpfd = s->dirfds[STORE_DIR_TMP];
	_cleanup_free_ char *tmpname = NULL;
	_cleanup_close_ int lock = -1; /* held until the copy is renamed or removed */
	char hex[DIGEST_HEX_LEN + 1];
	struct stat st;
	int r;

	digest_hex(&layer->diff_id, hex);
	if (fstatat(snapfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		r = store_layer_verify(s, layer, err);
		if (r < 0)
			return r;
		goto done;
	}
	r = store_tmp_mkdir(s, "snapshot", 0755, &tmpname, &lock, err);
	if (r < 0)
		return r;
	r = unpack(s, layer, tmpname, flags, err);
	if (r >= 0)
		store_layer_verified(s, layer);
	if (r >= 0 && renameat(tmpfd, tmpname, snapfd, hex) < 0 && errno != EEXIST &&
	    errno != ENOTEMPTY)
		r = err_sys(err, errno, "rename snapshot into '%s/snapshots/%s'", s->root, hex);
	/* after a lost race (or a failure) the temporary copy goes */
	fs_rm_rf(tmpfd, tmpname, NULL);
	if (r < 0)
		return err_wrap(err, "unpack layer 'sha256:%s'", hex);
done:
	if (ret_path)
		*ret_path = store_snapshot_path(s, &layer->diff_id);
	return 0;
}
