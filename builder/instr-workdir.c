/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "builder/rootfs-internal.h"
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
int instr_workdir(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		  struct step *st, struct kiln_error **err)
{
	_cleanup_free_ char *path = NULL, *full = NULL, *text = instr_text(in), *canon = NULL;
	_cleanup_free_ char *joined = NULL;
	_cleanup_strv_ struct strv lowers = STRV_INIT;
	const char *cur = imgcfg_get_string(s->config, "WorkingDir");
	const char *user = imgcfg_get_string(s->config, "User");
	_cleanup_close_ int root = -1, dfd = -1;
	struct copy_chown owner = {0};
	struct step_dirs d = {0};
	struct cache_key k;
	struct digest key;
	int r;

	r = expand_word(b, s, in, in->args.n ? in->args.v[0] : "", &path, err);
	if (r < 0)
		return r;
	if (!*path)
		return instr_error(b, in, err, "WORKDIR requires a path");
	joined = path[0] == '/' ? xstrdup(path) : fs_path_join(cur && *cur ? cur : "/", path);
	full = clean_abs_path(joined); /* as BuildKit: "/app/./a/../b/" is "/app/b" */
	imgcfg_set_string(s->config, "WorkingDir", full);
	cache_key_begin(&k, &s->key);
	cache_key_add(&k, "WORKDIR", full);
	if (user && *user)
		cache_key_add(&k, "user", user);
	cache_key_finish(&k, &key);
	r = try_cache(b, s, &key, text, err);
	if (r > 0) {
		s->key = key;
		return 1;
	}
	if (r < 0)
		return r;
	r = rootfs_lowers(b, s->layers, s->n_layers, &lowers, err);
	if (r >= 0 && user && *user && resolve_owner(&lowers, user, false, &owner, NULL) < 0) {
		/* an unknown USER fails at the next RUN, not here: the directory stays root's */
		log_debug("WORKDIR %s: USER '%s' is not in the image, creating it as root", full,
			  user);
		owner.set = false;
	}
	if (r >= 0)
		r = step_dirs_make(b, &d, err);
	if (r >= 0)
		r = rootfs_mount(b, &lowers, &d, err);
	if (r >= 0 && (root = open(d.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = err_sys(err, errno, "open '%s'", d.merged);
	if (r >= 0)
		r = copy_dest_dir(root, full, true, owner.set ? &owner : NULL, &dfd, &canon, err);
	if (root >= 0)
		close(TAKE_FD(root));
	if (dfd >= 0)
		close(TAKE_FD(dfd));
	if (r >= 0)
		r = commit_step(b, s, &d, &key, text, err);
	step_dirs_release(&d);
	if (r >= 0)
		s->key = key;
	return r < 0 ? r : 0;
}
