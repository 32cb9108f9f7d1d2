/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/cache-remote-internal.h"
#include "builder/mounts-internal.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * RUN --mount=type=cache directories in a shared cache (--cache-to ...,mounts=true):
 * each directory the build used, cache/mounts/<hex> (<hex> hashes its id, and for a
 * from= cache what seeds it: mounts.c), goes out as a layer of its own, recorded as
 * an ordinary entry under the key cache_mount_key() derives from that name, so the
 * formats, the merge and the checks of the step cache carry it unchanged. A store
 * that has no such directory yet restores it from --cache-from before the step
 * that mounts it runs.
 */

static void mount_key(const char *rel, struct digest *ret)
{
	struct cache_key k;

	cache_key_begin(&k, NULL);
	cache_key_add(&k, "cache-mount", rel);
	cache_key_finish(&k, ret);
}

void cache_mount_note(struct build_ctx *b, const char *rel)
{
	struct cache_remote *c = b->remote;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (strv_find(&c->mounts, rel) < 0)
		strv_push(&c->mounts, rel);
	pthread_mutex_unlock(&c->lock);
}

/* The layer of @e into the new directory @rel of @cache_fd, owned and moded as @m says. */
static int restore_into(struct build_ctx *b, int cache_fd, const char *rel,
			const struct run_mount *m, const struct cache_entry *e,
			struct kiln_error **err)
{
	_cleanup_free_ char *tmpdir = store_dir_path(b->store, STORE_DIR_TMP), *name = NULL,
			    *tmp = NULL;
	_cleanup_close_ int lock = -1, blob = -1, dir = -1;
	int r = fs_mkdir_p(cache_fd, "mounts", 0755, err);

	if (r < 0)
		return r;
	r = store_tmp_mkdir(b->store, "cache-restore", 0700, &name, &lock, err);
	if (r < 0)
		return r;
	tmp = fs_path_join(tmpdir, name);
	blob = store_blob_open(b->store, &e->layer.digest, err);
	dir = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (blob < 0)
		r = blob;
	else if (dir < 0)
		r = err_sys(err, errno, "open '%s'", tmp);
	else
		r = layers_apply_verified(blob, dir, LAYERS_APPLY_LAX_OWNER, &e->layer.diff_id,
					  err);
	if (r >= 0 && (fchown(dir, m->spec.uid, m->spec.gid) < 0 || fchmod(dir, m->spec.mode) < 0))
		r = err_sys(err, errno, "set up cache mount '%s'", m->spec.id);
	/* a parallel build that made or restored it first wins */
	if (r >= 0 && renameat(AT_FDCWD, tmp, cache_fd, rel) < 0 && errno != EEXIST &&
	    errno != ENOTEMPTY)
		r = err_sys(err, errno, "rename '%s'", tmp);
	fs_rm_rf(AT_FDCWD, tmp, NULL);
	return r;
}

int cache_mount_restore(struct build_ctx *b, int cache_fd, const char *rel,
			const struct run_mount *m)
{
	_cleanup_(err_freep) struct kiln_error *e = NULL;
	struct cache_entry ce;
	struct digest key;
	int r;

	if (!b->remote || b->remote->n_from == 0)
		return 0;
	mount_key(rel, &key);
	if (cache_lookup_shared(b, &key, &ce) <= 0)
		return 0;
	r = ce.has_layer ? restore_into(b, cache_fd, rel, m, &ce, &e) : 0;
	cache_entry_release(&ce);
	if (r < 0) {
		log_warn("RUN --mount=type=cache,id=%s: cannot restore it from the imported "
			 "cache: %s, starting empty",
			 m->spec.id, e ? e->msg : "failed");
		return 0;
	}
	build_message(b, "restored RUN --mount=type=cache,id=%s from the imported cache",
		      m->spec.id);
	return 1;
}

/* Commit cache/@rel as a layer, recorded in @keys (key -> entry); empty: nothing. */
static int commit_mount(struct build_ctx *b, int cache_fd, const char *rel, json_t *keys,
			struct kiln_error **err)
{
	struct layers_commit_opts o = LAYERS_COMMIT_OPTS_INIT;
	struct cache_entry e = {.has_layer = true};
	_cleanup_close_ int dfd =
		openat(cache_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char dg[DIGEST_STR_SIZE];
	struct digest key;
	int r;

	if (dfd < 0 && errno == ENOENT)
		return 0; /* pruned meanwhile */
	if (dfd < 0)
		return err_sys(err, errno, "open cache mount 'cache/%s'", rel);
	o.compression = b->compression; /* mtimes kept: tools read them (make, ccache) */
	r = layers_commit_dir(b->store, dfd, &o, &e.layer, err);
	if (r < 0)
		return err_wrap(err, "commit cache mount 'cache/%s'", rel);
	e.created = xstrdup(b->created);
	mount_key(rel, &key);
	json_object_set_new(keys, digest_format(&key, dg), cache_entry_to_json(&e));
	cache_entry_release(&e);
	return 0;
}

int cache_mounts_records(struct build_ctx *b, json_t **ret, struct kiln_error **err)
{
	_cleanup_free_ char *cache = store_dir_path(b->store, STORE_DIR_CACHE);
	_cleanup_close_ int cache_fd = open(cache, O_PATH | O_DIRECTORY | O_CLOEXEC);
	json_t *keys = json_object();
	int r = cache_fd < 0 ? err_sys(err, errno, "open '%s'", cache) : 0;

	strv_foreach(&b->remote->mounts, rel) {
		if (r < 0)
			break;
		r = commit_mount(b, cache_fd, *rel, keys, err);
	}
	if (r < 0) {
		json_decref(keys);
		return r;
	}
	if (json_object_size(keys))
		build_message(b, "exporting %zu cache mount(s)", json_object_size(keys));
	*ret = json_pack("{s:o}", cache_platform(), keys);
	return 0;
}
