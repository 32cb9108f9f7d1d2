/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "builder/step-internal.h"
#include "copy/copy.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* An absolute path cleaned as Go's path.Clean: no "//", ".", ".." or trailing '/'. */
static char *clean_abs_path(const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	struct strbuf out = STRBUF_INIT;
	char *save = NULL;

	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (streq(c, "."))
			continue;
		if (streq(c, "..")) {
			char *slash = strrchr(out.buf ? out.buf : "", '/');

			if (slash)
				strbuf_setlen(&out, (size_t)(slash - out.buf));
			continue;
		}
		strbuf_addf(&out, "/%s", c);
	}
	if (!out.len)
		strbuf_addch(&out, '/');
	return strbuf_detach(&out, NULL);
}

/*
 * WORKDIR: set it, and create the directory (a layer only when it was missing),
 * owned by the current USER as BuildKit does.
 */
struct workdir_step {
	char *full; /* the new WorkingDir, clean and absolute */
	const char *user; /* the config's User, or NULL */
};

/* The key: the new WorkingDir and the USER it would be created for. */
static int workdir_key(struct layer_step *ls, struct cache_key *k, struct kiln_error **err)
{
	struct workdir_step *w = ls->data;
	struct stage_state *s = ls->s;
	const char *cur = imgcfg_get_string(s->config, "WorkingDir");
	_cleanup_free_ char *path = NULL, *joined = NULL;
	int r;

	w->user = imgcfg_get_string(s->config, "User");
	r = expand_word(ls->b, s, ls->in, ls->in->args.n ? ls->in->args.v[0] : "", &path, err);
	if (r < 0)
		return r;
	if (!*path)
		return instr_error(ls->b, ls->in, err, "WORKDIR requires a path");
	joined = path[0] == '/' ? xstrdup(path) : fs_path_join(cur && *cur ? cur : "/", path);
	w->full = clean_abs_path(joined); /* as BuildKit: "/app/./a/../b/" is "/app/b" */
	imgcfg_set_string(s->config, "WorkingDir", w->full);
	cache_key_add(k, "WORKDIR", w->full);
	if (w->user && *w->user)
		cache_key_add(k, "user", w->user);
	return 0;
}

/* The work: the directory, through the mounted root, if it is missing. */
static int workdir_work(struct layer_step *ls, struct kiln_error **err)
{
	struct workdir_step *w = ls->data;
	struct step_dirs *d = &ls->dirs;
	_cleanup_strv_ struct strv lowers = STRV_INIT;
	_cleanup_close_ int root = -1, dfd = -1;
	_cleanup_free_ char *canon = NULL;
	struct copy_chown owner = {0};
	int r;

	r = rootfs_lowers(ls->b, ls->s->layers, ls->s->n_layers, &lowers, err);
	if (r >= 0 && w->user && *w->user &&
	    resolve_owner(&lowers, w->user, false, &owner, NULL) < 0) {
		/* an unknown USER fails at the next RUN, not here: the directory stays root's */
		log_debug("WORKDIR %s: USER '%s' is not in the image, creating it as root", w->full,
			  w->user);
		owner.set = false;
	}
	if (r >= 0)
		r = rootfs_mount(ls->b, &lowers, d, err);
	if (r >= 0 && (root = open(d->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = err_sys(err, errno, "open '%s'", d->merged);
	if (r >= 0)
		r = copy_dest_dir(root, w->full, true, owner.set ? &owner : NULL, &dfd, &canon,
				  err);
	return r < 0 ? r : 0;
}

static const struct layer_step_ops workdir_ops = {
	.key = workdir_key,
	.work = workdir_work,
};

int instr_workdir(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		  struct step *st, struct kiln_error **err)
{
	struct workdir_step w = {0};
	int r = layer_step_run(b, s, in, st, &workdir_ops, &w, err);

	free(w.full);
	return r;
}
