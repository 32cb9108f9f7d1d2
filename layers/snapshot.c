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
	return layers_apply(blob, dfd, flags, err);
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
	if (fstatat(snapfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		goto done;
	r = store_tmp_mkdir(s, "snapshot", 0755, &tmpname, &lock, err);
	if (r < 0)
		return r;
	r = unpack(s, layer, tmpname, flags, err);
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
