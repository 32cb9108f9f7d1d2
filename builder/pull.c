/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images a build names (FROM, COPY --from, RUN --mount=from) that are not
 * stages: read from the store, pulled from their registry first as --pull
 * says. `missing` pulls only what the store lacks; `always` pulls each name
 * once per build, so a tag moved in the registry is seen (its new manifest
 * digest starts the cache key chain, so every step after FROM misses);
 * `never` makes a missing image an error. The callers look for a stage of
 * that name first, so a stage is never pulled.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "builder/build-internal.h"
#include "builder/snapshot-internal.h"
#include "registry/registry.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static void pull_progress(void *userdata, enum registry_event ev, const char *digest, uint64_t done,
			  uint64_t total)
{
	static const char *const what[] = {
		[REGISTRY_EV_DONE] = "pulled",
		[REGISTRY_EV_SKIPPED] = "already stored",
		[REGISTRY_EV_RETRY] = "retrying",
	};
	struct build_ctx *b = userdata;

	if ((size_t)ev >= ARRAY_SIZE(what) || !what[ev] || !digest)
		return;
	if (total)
		build_message(b, "blob %.19s: %s (%" PRIu64 " bytes)", digest, what[ev], total);
	else
		build_message(b, "blob %.19s: %s", digest, what[ev]);
}

/* Could @name be pulled: a registry reference, not an image ID? */
static bool pullable(const char *name, bool *ret_by_digest)
{
	struct registry_ref ref;

	if (startswith(name, "sha256:") || registry_ref_parse(name, &ref, NULL) < 0)
		return false;
	*ret_by_digest = ref.digest != NULL;
	registry_ref_release(&ref);
	return true;
}

/* The --pull bookkeeping of one name for one platform: "NAME PLATFORM". */
static char *pulled_key(const char *name, const struct platform *platform)
{
	char buf[PLATFORM_STR_SIZE];

	return xasprintf("%s %s", name, platform_format(platform, buf));
}

/*
 * The manifest for @platform from the registry. The index it comes from is
 * stored and named too, so a build for another platform finds its manifest
 * beside this one (and pulls only what it lacks).
 */
static int pull(struct build_ctx *b, const char *name, const struct platform *platform,
		struct digest *ret, struct kiln_error **err)
{
	struct registry_opts o = REGISTRY_OPTS_INIT;
	_cleanup_free_ char *digest = NULL;
	char buf[PLATFORM_STR_SIZE];
	int r;

	if (b->opts->registry)
		o = *b->opts->registry;
	o.progress = pull_progress;
	o.progress_data = b;
	o.platform = platform_format(platform, buf);
	o.keep_index = true;
	build_message(b, "pulling %s", name);
	r = registry_pull(b->store, name, NULL, &o, &digest, err);
	if (r < 0) {
		_cleanup_free_ char *full = registry_ref_display(name);

		return err_wrap(err, "pull '%s'", full);
	}
	strv_push_take(&b->pulled, pulled_key(name, platform));
	build_message(b, "pulled %s: %s", name, digest);
	return digest_parse(digest, ret, err);
}

/* Not in the store: pull it (missing), or say why not. */
static int not_stored(struct build_ctx *b, const char *name, const struct platform *platform,
		      bool can_pull, struct digest *ret, struct kiln_error **err)
{
	if (!can_pull)
		return err_new(
			err, KILN_ERR_INPUT, ENOENT,
			"image '%s' not found (import it with 'kiln import' or load it with 'kiln load')",
			name);
	if (b->opts->pull == BUILD_PULL_NEVER)
		return err_new(
			err, KILN_ERR_INPUT, ENOENT,
			"image '%s' is not in the store and --pull=never forbids pulling it (pull it first with 'kiln pull %s')",
			name, name);
	return pull(b, name, platform, ret, err);
}

/*
 * Does the store hold @d's image for @platform? An index must have its
 * manifest for it stored (a build's pull keeps the index, and adds the
 * manifest of each platform it builds for). A single manifest is what the
 * store has under that name, whatever its platform (an import, a pull of
 * one platform): it is used, with a warning when its platform differs.
 */
static bool stored_for(struct build_ctx *b, const struct digest *d, const struct platform *platform)
{
	_cleanup_(image_freep) struct image *img = NULL;

	if (!image_is_index(b->store, d, NULL))
		return true;
	return image_read_platform(b->store, d, platform, &img, NULL) >= 0;
}

static int resolve(struct build_ctx *b, const char *name, const struct platform *platform,
		   struct digest *ret, struct kiln_error **err)
{
	bool by_digest = false, can_pull = pullable(name, &by_digest);
	_cleanup_free_ char *key = pulled_key(name, platform);
	bool pulled = strv_find(&b->pulled, key) >= 0;
	int r;

	if (can_pull && !pulled && !by_digest && b->opts->pull == BUILD_PULL_ALWAYS)
		return pull(b, name, platform, ret, err);
	r = store_resolve(b->store, name, ret, err);
	if (r >= 0 && can_pull && !pulled && b->opts->pull != BUILD_PULL_NEVER &&
	    !stored_for(b, ret, platform))
		return pull(b, name, platform, ret, err);
	if (r == -ENOENT && !pulled) {
		if (err) {
			err_free(*err);
			*err = NULL;
		}
		r = not_stored(b, name, platform, can_pull, ret, err);
	}
	return r;
}

int build_image_read(struct build_ctx *b, const char *name, const struct platform *platform,
		     struct image **ret, struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	struct digest d;
	int r;

	/* stages built in parallel may want the same image: one pulls, the other waits */
	pthread_mutex_lock(&b->pull_lock);
	r = resolve(b, name, platform, &d, err);
	pthread_mutex_unlock(&b->pull_lock);
	if (r < 0)
		return r;
	r = image_read_platform(b->store, &d, platform, &img, err);
	if (r >= 0)
		r = snapshot_check_image(b->store, name, img, err);
	if (r < 0)
		return r;
	if (!platform_matches_json(img->config, platform)) {
		char want[PLATFORM_STR_SIZE], have[PLATFORM_STR_SIZE] = "an unknown platform";
		struct platform p;

		if (platform_from_json(img->config, &p))
			platform_format(&p, have);
		log_warn(
			"image '%s' is for %s, not %s, and the store has no index of it to choose from, ignoring",
			name, have, platform_format(platform, want));
	}
	*ret = TAKE_PTR(img);
	return 0;
}
