/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/snapshot-internal.h"
#include "builder/step-internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * A step of the build: its progress events (step_begin, step_end), and the
 * one life of the steps that make a layer, layer_step_run(), which RUN
 * (instr-run.c), COPY/ADD (instr-copy.c) and WORKDIR (instr-workdir.c) give
 * only their key inputs and their work.
 */

/* ---- progress events ---------------------------------------------------------------- */

static void emit(struct build_ctx *b, const struct build_step_info *info)
{
	if (b->ev && b->ev->step)
		b->ev->step(b->ev->userdata, info);
}

void step_begin(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		struct step *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->text = instr_text(in);
	ret->in = in;
	pthread_mutex_lock(&b->lock);
	ret->info.id = ++b->next_step_id;
	pthread_mutex_unlock(&b->lock);
	ret->info.stage = (unsigned)s->index;
	ret->info.stage_name = s->st->name;
	if (b->multi) {
		char t[PLATFORM_STR_SIZE], p[PLATFORM_STR_SIZE];

		platform_format(&b->target_plat, t);
		if (platform_eq(&s->plat, &b->target_plat))
			snprintf(ret->platform, sizeof(ret->platform), "%s", t);
		else
			snprintf(ret->platform, sizeof(ret->platform), "%s->%s",
				 platform_format(&s->plat, p), strchr(t, '/') + 1);
		ret->info.platform = ret->platform;
	}
	ret->info.index = ++s->step_index;
	ret->info.total = s->step_total;
	ret->info.text = ret->text;
	ret->info.state = BUILD_STEP_RUNNING;
	ret->info.exit_status = -1;
	ret->started = mono_seconds();
	emit(b, &ret->info);
}

void step_end(struct build_ctx *b, struct step *st, enum build_step_state state, int status)
{
	st->info.state = state;
	st->info.seconds = mono_seconds() - st->started;
	if (status >= 0)
		st->info.exit_status = status;
	emit(b, &st->info);
	free(st->text);
	st->text = NULL;
}

void build_message(struct build_ctx *b, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (b->ev && b->ev->message)
		b->ev->message(b->ev->userdata, msg);
}

/* ---- the life of a layer step -------------------------------------------------------- */

int layer_step_run(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		   struct step *st, const struct layer_step_ops *ops, void *data,
		   struct kiln_error **err)
{
	struct layer_step ls = {.b = b, .s = s, .in = in, .st = st, .data = data};
	struct cache_key k;
	int r;

	ls.text = instr_text(in);
	/* 1. key */
	cache_key_begin(&k, &s->key);
	r = ops->key(&ls, &k, err);
	cache_key_finish(&k, &ls.key);
	/* 2. lookup */
	if (r >= 0)
		r = try_cache(b, s, &ls.key, ls.text, err);
	/* 3. work, on a miss */
	if (r == 0)
		r = step_dirs_make(b, &ls.dirs, err);
	if (r == 0)
		r = ops->work(&ls, err);
	/* 4. commit */
	if (r == 0)
		r = commit_step_extra(b, s, &ls.dirs, &ls.key, ls.text, &ls.commit, err);
	if (r == 0 && ops->committed)
		ops->committed(&ls);
	if (r >= 0)
		s->key = ls.key;
	if (ls.commit.has_layer)
		layer_desc_release(&ls.commit.layer);
	step_dirs_release(&ls.dirs);
	free(ls.text);
	return r;
}

/* ---- commit and lookup ---------------------------------------------------------------- */

/* Commit d->upper as the step's layer (none when it is empty) and record it. */
int commit_step(struct build_ctx *b, struct stage_state *s, struct step_dirs *d,
		const struct digest *key, const char *created_by, struct kiln_error **err)
{
	return commit_step_extra(b, s, d, key, created_by, NULL, err);
}

int commit_step_extra(struct build_ctx *b, struct stage_state *s, struct step_dirs *d,
		      const struct digest *key, const char *created_by, struct commit_extra *x,
		      struct kiln_error **err)
{
	struct layers_commit_opts o = LAYERS_COMMIT_OPTS_INIT;
	struct cache_entry e = {0}; /* owns nothing until the layer is committed */
	/* what may fail without failing the step: never left in *err */
	_cleanup_(err_freep) struct kiln_error *soft = NULL;
	_cleanup_close_ int ufd = -1;
	double t0 = mono_seconds();
	int r;

	r = rootfs_diff(d, err);
	if (r < 0)
		return err_wrap(err, "find the step's changes");
	rootfs_umount(d);
	if (!rootfs_dir_empty(d->upper)) {
		ufd = open(d->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ufd < 0)
			return err_sys(err, errno, "open '%s'", d->upper);
		o.compression = b->compression;
		o.source_date_epoch = b->epoch;
		if (x) {
			o.reuse_blob = x->reuse_blob;
			o.keep_index = x->keep_index;
		}
		r = layers_commit_dir(b->store, ufd, &o, &e.layer, err);
		if (r < 0)
			return err_wrap(err, "commit layer");
		e.has_layer = true;
		/* the upperdir is already in overlay form: it becomes the snapshot */
		if (snapshot_adopt(b->store, d->upper, &e.layer, &soft) < 0) {
			log_debug("keeping no snapshot of the step: %s", soft->msg);
			err_free(TAKE_PTR(soft)); /* a later step unpacks the layer instead */
		}
		log_debug("%s: layer of %" PRIu64 " bytes committed in %.3f s", created_by,
			  e.layer.size, mono_seconds() - t0);
	}
	e.created = xstrdup(b->created);
	if (cache_store(b->store, key, &e, &soft) < 0)
		log_warn("cannot record the step in the cache: %s, ignoring", soft->msg);
	else
		build_key_made(b, key);
	cache_export_note(s, key, &e);
	cache_upload_early(b, s, &e);
	if (e.has_layer)
		stage_add_layer(s, &e.layer);
	if (x && e.has_layer) {
		x->has_layer = true;
		layer_desc_copy(&x->layer, &e.layer);
	}
	stage_set_created(b, s, e.created);
	stage_history(b, s, created_by, !e.has_layer);
	cache_entry_release(&e);
	return 0;
}

/* On a hit, take the cached layer; returns 1 for a hit, 0 for a miss. */
int try_cache(struct build_ctx *b, struct stage_state *s, const struct digest *key,
	      const char *created_by, struct kiln_error **err)
{
	struct cache_entry e;
	int r;

	if (s->cache_off && !build_key_was_made(b, key))
		return 0;
	r = cache_lookup_shared(b, key, &e);
	if (r <= 0)
		return r;
	cache_export_note(s, key, &e);
	if (e.has_layer)
		stage_add_layer(s, &e.layer);
	stage_set_created(b, s, e.created);
	stage_history(b, s, created_by, !e.has_layer);
	cache_entry_release(&e);
	return 1;
}
