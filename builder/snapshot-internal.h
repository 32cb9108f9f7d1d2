/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "layers/layers.h"
#include "util/error.h"

/*
 * Snapshots are layers unpacked once under snapshots/<diffID hex>/ in the
 * overlayfs format, so each one can be stacked as a lowerdir as it is:
 * whiteouts are 0/0 character devices and opaque directories carry the
 * overlay.opaque xattr ("user." with userxattr, which kiln always uses, so one
 * store works for both rootless and root builds).
 */
#define SNAPSHOT_OPAQUE_XATTR "user.overlay.opaque"

/* Make sure @layer's snapshot exists; its path in *ret_path (may be NULL). */
int snapshot_ensure(struct store *s, const struct layer_desc *layer, char **ret_path,
		    struct kiln_error **err);
/*
 * Adopt @upper_path (a step's overlay upperdir, already in the overlay format)
 * as the snapshot of the layer committed from it; renames it into place, or
 * removes it when a snapshot exists already.
 */
int snapshot_adopt(struct store *s, const char *upper_path, const struct layer_desc *layer,
		   struct kiln_error **err);
/*
 * Unpack (or find) the snapshot of every layer of @img, named @name in errors:
 * each blob checked against its diffID first (store_layer_verify), so an
 * image that claims another image's diffID fails here, naming itself and the
 * layer, before any step uses it.
 */
int snapshot_check_image(struct store *s, const char *name, const struct image *img,
			 struct kiln_error **err);
/* Turn ".wh." entries under @dirfd into overlay whiteouts and opaque markers. */
int snapshot_convert_whiteouts(int dirfd, struct kiln_error **err);
