/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/step-internal.h"
#include "copy/copy.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * COPY and ADD: sources from the context (or --from a stage or an image),
 * written through a mounted overlay of the stage's layers by the copy engine.
 */

struct copy_step {
	struct strv sources; /* expanded, heredoc markers taken out */
	char *dest;
	struct copy_inline *inlines;
	size_t n_inlines;
	struct strv inline_data; /* the expanded bodies of unquoted here-documents */
	struct copy_patterns excludes;
	struct strv lowers; /* the stage's snapshots, top first */
	struct step_dirs from; /* --from: the source's read-only view */
	char *src_desc; /* --from: "stage 'NAME'" or "image 'REF'" */
	const struct named_context *dir; /* --from a directory named context */
	int src_root;
	struct copy_opts o;
};

static void copy_step_release(struct copy_step *c)
{
	strv_clear(&c->sources);
	free(c->dest);
	free(c->inlines);
	strv_clear(&c->inline_data);
	copy_patterns_clear(&c->excludes);
	strv_clear(&c->lowers);
	step_dirs_release(&c->from);
	free(c->src_desc);
	if (c->src_root >= 0)
		close(c->src_root);
}

static bool ignore_excluded(const char *relpath, bool is_dir, void *ud)
{
	return dockerignore_excluded(ud, relpath, is_dir);
}

static bool ignore_may_reinclude(const char *relpath, void *ud)
{
	return dockerignore_may_reinclude_under(ud, relpath);
}

static const struct heredoc *find_heredoc(const struct instruction *in, const char *arg)
{
	const char *name;

	if (strncmp(arg, "<<", 2) != 0)
		return NULL;
	name = arg + 2 + (arg[2] == '-');
	for (size_t i = 0; i < in->n_heredocs; i++) {
		/* the marker may be quoted: <<"EOF" */
		size_t n = strlen(in->heredocs[i].name);
		const char *p = name + (*name == '"' || *name == '\'');

		if (strncmp(p, in->heredocs[i].name, n) == 0)
			return &in->heredocs[i];
	}
	return NULL;
}

/* An unquoted here-document's body: variables expanded, quotes kept (as BuildKit). */
static int expand_heredoc(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
			  const struct heredoc *h, struct copy_step *c, const char **ret,
			  struct kiln_error **err)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	struct kiln_error *e = NULL;
	char *v = NULL;

	*ret = h->body;
	if (!h->expand)
		return 0;
	args_expansion_env(s, &env);
	if (shell_expand_heredoc(h->body, &env, b->df->escape, &v, &e) < 0) {
		int r = instr_error(b, in, err, "%s: here-document %s: %s", in->keyword, h->name,
				    e ? e->msg : "bad expansion");

		err_free(e);
		return r;
	}
	strv_push_take(&c->inline_data, v);
	*ret = v;
	return 0;
}

/* A source keeps its escapes for the wildcard match ("n\?pe" names only "n?pe"), as in
 * BuildKit; a URL, or a Dockerfile whose escape is '`', is expanded as any word. */
static int expand_source(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
			 const char *word, char **ret, struct kiln_error **err)
{
	_cleanup_strv_ struct strv env = STRV_INIT;
	struct kiln_error *e = NULL;
	char *v = NULL;

	if (b->df->escape != '\\')
		return expand_word(b, s, in, word, ret, err);
	args_expansion_env(s, &env);
	if (shell_expand_word_raw(word, &env, '\\', &v, &e) < 0) {
		err_free(e);
		return expand_word(b, s, in, word, ret, err); /* reports the error */
	}
	if (startswith(v, "http://") || startswith(v, "https://")) {
		free(v);
		return expand_word(b, s, in, word, ret, err);
	}
	*ret = v;
	return 0;
}

static int expand_args(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		       struct copy_step *c, struct kiln_error **err)
{
	int r;

	if (in->args.n < 2)
		return instr_error(
			b, in, err,
			"%s requires at least two arguments, but only one was provided. Destination could not be determined",
			in->keyword);
	c->inlines = xcalloc(in->n_heredocs + 1, sizeof(*c->inlines));
	for (size_t i = 0; i + 1 < in->args.n; i++) {
		const struct heredoc *h = find_heredoc(in, in->args.v[i]);
		char *v = NULL;

		if (h) {
			const char *data;

			r = expand_heredoc(b, s, in, h, c, &data, err);
			if (r < 0)
				return r;
			c->inlines[c->n_inlines++] = (struct copy_inline){
				.name = h->name, .data = data, .len = strlen(data)};
			continue;
		}
		r = expand_source(b, s, in, in->args.v[i], &v, err);
		if (r < 0)
			return r;
		strv_push_take(&c->sources, v);
	}
	return expand_word(b, s, in, in->args.v[in->args.n - 1], &c->dest, err);
}

/* --from=NAME|INDEX|IMAGE: the layers to read from. */
static int from_layers(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		       const char *from, struct image **ret_img, const struct stage_state **ret_st,
		       struct kiln_error **err)
{
	unsigned idx;

	struct named_context *nc = context_find(b, from);

	*ret_img = NULL;
	*ret_st = NULL;
	if (nc) /* a named context wins over a stage of its name (BuildKit) */
		return context_image(b, nc, &s->plat, ret_img, err) < 0
			       ? err_wrap(err, "%s --from=%s", in->keyword, from)
			       : 0;
	for (size_t i = 0; i < s->index; i++) {
		const char *name = b->stages[i].st->name;

		if ((name && strcasecmp(name, from) == 0) ||
		    (parse_uint(from, &idx) == 0 && idx == i)) {
			*ret_st = &b->stages[i];
			return 0;
		}
	}
	if (parse_uint(from, &idx) == 0)
		return instr_error(b, in, err, "%s --from=%s: there is no stage %u before this one",
				   in->keyword, from, idx);
	if (build_image_read(b, from, &s->plat, ret_img, err) < 0)
		return err_wrap(err, "%s --from=%s", in->keyword, from);
	return 0;
}

static int check_literal_from(struct build_ctx *b, const struct instruction *in, const char *raw,
			      struct kiln_error **err)
{
	struct kiln_error *e = NULL;
	int r = shell_check_literal_from(raw, b->df->escape, &e);

	if (r < 0)
		r = instr_error(b, in, err, "%s: %s", in->keyword, e->msg);
	err_free(e);
	return r;
}

static int open_source(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		       struct copy_step *c, struct kiln_error **err)
{
	const char *raw = instr_flag_get(in, "from");
	_cleanup_(image_freep) struct image *img = NULL;
	_cleanup_strv_ struct strv lowers = STRV_INIT;
	_cleanup_free_ char *from = NULL;
	const struct stage_state *st;
	int r;

	if (!raw) {
		c->src_root = fcntl(b->context_fd, F_DUPFD_CLOEXEC, 3);
		return c->src_root < 0 ? err_sys(err, errno, "dup") : 0;
	}
	/* no expansion, as in BuildKit (the parser's check; again for ONBUILD triggers) */
	r = check_literal_from(b, in, raw, err);
	from = xstrdup(raw);
	c->dir = context_find(b, from);
	if (c->dir && c->dir->kind != NAMED_CONTEXT_DIR)
		c->dir = NULL;
	if (r >= 0 && c->dir) {
		/* a directory is read as the main context is */
		c->src_desc = xasprintf("build context '%s'", c->dir->name);
		c->src_root = fcntl(c->dir->dir_fd, F_DUPFD_CLOEXEC, 3);
		return c->src_root < 0 ? err_sys(err, errno, "dup") : 0;
	}
	if (r >= 0)
		r = from_layers(b, s, in, from, &img, &st, err);
	if (r >= 0)
		c->src_desc = img ? xasprintf("image '%s'", from)
				  : xasprintf("stage '%s'", st->st->name ? st->st->name : from);
	if (r >= 0)
		r = img ? rootfs_lowers(b, img->layers, img->n_layers, &lowers, err)
			: rootfs_lowers(b, st->layers, st->n_layers, &lowers, err);
	if (r >= 0)
		r = step_dirs_make(b, &c->from, err);
	if (r >= 0)
		r = rootfs_mount_ro(b, &lowers, &c->from, err);
	if (r < 0)
		return r;
	c->src_root = open(c->from.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return c->src_root < 0 ? err_sys(err, errno, "open '%s'", c->from.merged) : 0;
}

static int set_options(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
		       struct copy_step *c, struct kiln_error **err)
{
	const char *chown = instr_flag_get(in, "chown"), *chmod = instr_flag_get(in, "chmod");
	struct copy_opts *o = &c->o;
	struct dockerignore *ignore;
	int r;

	o->src_root = c->src_root;
	o->src_desc = c->src_desc;
	o->sources = (const char *const *)c->sources.v;
	o->n_sources = c->sources.n;
	o->inlines = c->inlines;
	o->n_inlines = c->n_inlines;
	o->dest = c->dest;
	o->workdir = imgcfg_get_string(s->config, "WorkingDir");
	o->add = in->kind == INSTR_ADD;
	o->checksum = instr_flag_get(in, "checksum");
	o->parents = instr_flag_get(in, "parents") != NULL;
	o->stat_cache = instr_flag_get(in, "from") ? NULL : b->stat_cache;
	/* from a stage or an image, files keep their owners (BuildKit; moby#38599) */
	o->keep_owner = instr_flag_get(in, "from") != NULL && !c->dir;
	if (b->epoch >= 0)
		o->inline_mtime.tv_sec = b->epoch;
	ignore = c->dir ? c->dir->ignore : instr_flag_get(in, "from") ? NULL : b->ignore;
	if (ignore) {
		o->excluded = ignore_excluded;
		o->may_contain_included = ignore_may_reinclude;
		o->exclude_ud = ignore;
	}
	for (size_t i = 0; i < in->n_flags; i++)
		if (streq(in->flags[i].name, "exclude"))
			copy_patterns_add(&c->excludes, in->flags[i].value);
	o->excludes = c->excludes.n ? &c->excludes : NULL;
	if (chmod && (r = copy_chmod_parse(chmod, &o->chmod, err)) < 0)
		return err_wrap(err, "%s --chmod", in->keyword);
	if (chown) {
		_cleanup_free_ char *spec = NULL;

		r = expand_word(b, s, in, chown, &spec, err);
		if (r >= 0)
			r = resolve_owner(&c->lowers, spec, false, &o->chown, err);
		if (r < 0)
			return err_wrap(err, "%s --chown=%s", in->keyword, chown);
	}
	return 0;
}

int locked_copy_digest(struct build_ctx *b, const struct copy_opts *o, char ret_hex[65],
		       struct kiln_error **err)
{
	int r;

	pthread_mutex_lock(&b->lock);
	r = copy_digest(o, ret_hex, err);
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* ---- incremental COPY: the files of the step's last result are linked, not copied ---- */

#define MANIFEST_MAGIC "kiln-copy-manifest 1 "

struct incremental {
	struct digest lineage; /* the step without its content: parent key and instruction */
	struct cache_entry last; /* the lineage's last result */
	struct copy_reuse *reuse;
	struct strv written;
	struct strbuf manifest;
};

static void incremental_release(struct incremental *inc)
{
	cache_entry_release(&inc->last);
	copy_reuse_free(inc->reuse);
	strv_clear(&inc->written);
	strbuf_release(&inc->manifest);
}

static char *manifest_name(const struct digest *lineage)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s.files", digest_hex(lineage, hex));
}

/* The last result's manifest, when it was written for that result's layer. */
static struct copy_reuse *load_manifest(struct build_ctx *b, struct incremental *inc)
{
	_cleanup_free_ char *name = manifest_name(&inc->lineage);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char id[DIGEST_STR_SIZE];
	size_t n;

	if (strbuf_read_file(&sb, store_dirfd(b->store, STORE_DIR_CACHE), name, NULL) < 0)
		return NULL;
	digest_format(&inc->last.layer.diff_id, id);
	n = strlen(MANIFEST_MAGIC) + strlen(id) + 1;
	if (sb.len < n || !startswith(sb.buf, MANIFEST_MAGIC) ||
	    strncmp(sb.buf + strlen(MANIFEST_MAGIC), id, strlen(id)) != 0 || sb.buf[n - 1] != '\n')
		return NULL;
	return copy_reuse_parse(sb.buf + n, sb.len - n);
}

/*
 * Before the overlay is mounted: link the files of the step's last result
 * into the empty upperdir (overlay storage only; never with --no-cache).
 */
static void incremental_begin(struct build_ctx *b, struct stage_state *s, const char *text,
			      const struct instruction *in, struct step_dirs *d,
			      struct incremental *inc)
{
	struct cache_key k;
	_cleanup_free_ char *snap = NULL;
	_cleanup_close_ int ref = -1, up = -1;
	struct kiln_error *e = NULL;

	cache_key_begin(&k, &s->key);
	cache_key_add(&k, instr_kind_name(in->kind), text);
	cache_key_add(&k, "lineage", "1");
	cache_key_finish(&k, &inc->lineage);
	if (s->cache_off || rootfs_copy_storage(b, &e) != 0 ||
	    cache_lookup(b->store, &inc->lineage, &inc->last, &e) <= 0 || !inc->last.has_layer)
		goto out;
	snap = store_snapshot_path(b->store, &inc->last.layer.diff_id);
	inc->reuse = load_manifest(b, inc);
	ref = inc->reuse ? open(snap, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	up = ref >= 0 ? open(d->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (up < 0 || copy_reuse_clone(inc->reuse, ref, up, &e) != 0) {
		copy_reuse_free(TAKE_PTR(inc->reuse));
		goto out;
	}
	log_debug("%s: starting from the files of layer %s", text, snap);
out:
	err_free(e);
}

/* After the copy, the overlay unmounted: drop what the copy did not keep. */
static int incremental_prune(struct step_dirs *d, struct incremental *inc, struct kiln_error **err)
{
	_cleanup_close_ int up = -1;

	if (!inc->reuse)
		return 0;
	rootfs_umount(d);
	up = open(d->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (up < 0)
		return err_sys(err, errno, "open '%s'", d->upper);
	return copy_reuse_prune(inc->reuse, up, &inc->written, err);
}

/* Remember this result for the next change: its manifest, then the lineage entry. */
static void incremental_end(struct build_ctx *b, struct incremental *inc, struct commit_extra *x)
{
	_cleanup_free_ char *name = manifest_name(&inc->lineage);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct cache_entry e = {.has_layer = true, .layer = x->layer};
	struct kiln_error *err = NULL;
	char id[DIGEST_STR_SIZE];

	strbuf_addf(&sb, MANIFEST_MAGIC "%s\n", digest_format(&x->layer.diff_id, id));
	strbuf_add(&sb, inc->manifest.buf, inc->manifest.len);
	if (fs_atomic_write(store_dirfd(b->store, STORE_DIR_CACHE), name, sb.buf, sb.len, 0644,
			    &err) < 0 ||
	    cache_store(b->store, &inc->lineage, &e, &err) < 0) {
		log_debug("not keeping the step's files for the next build: %s", err->msg);
		err_free(err);
	}
}

/* Tell the user (step output: plain, tty and json progress show it) what was reused. */
static void report_reuse(struct build_ctx *b, struct step *st, const struct copy_result *res)
{
	_cleanup_free_ char *line = NULL;

	if (!b->ev || !b->ev->output)
		return;
	line = xasprintf("%zu of %zu files unchanged since the last build of this step: linked, "
			 "not copied\n",
			 res->n_reused, res->n_files);
	b->ev->output(b->ev->userdata, &st->info, line, strlen(line));
}

/* COPY's state through its layer step (step.c). */
struct copy_layer {
	struct copy_step c;
	struct incremental inc;
	struct copy_result res;
	double t0, t1, t2; /* work began, the upper was seeded, the copy ended */
};

/* The key: the instruction and copy_digest() of its sources. */
static int copy_key(struct layer_step *ls, struct cache_key *k, struct kiln_error **err)
{
	struct copy_layer *cl = ls->data;
	struct copy_step *c = &cl->c;
	struct build_ctx *b = ls->b;
	struct stage_state *s = ls->s;
	char content[65];
	int r;

	r = expand_args(b, s, ls->in, c, err);
	if (r >= 0)
		r = rootfs_lowers(b, s->layers, s->n_layers, &c->lowers, err);
	if (r >= 0)
		r = open_source(b, s, ls->in, c, err);
	if (r >= 0)
		r = set_options(b, s, ls->in, c, err);
	if (r >= 0) {
		double t = mono_seconds();

		r = locked_copy_digest(b, &c->o, content, err);
		log_debug("%s: content digest %.3f s", ls->text, mono_seconds() - t);
	}
	if (r < 0)
		return r;
	cache_key_add(k, instr_kind_name(ls->in->kind), ls->text);
	cache_key_add(k, "content", content);
	return 0;
}

/* The work: the copy engine on the mounted root, the upper seeded with the last result. */
static int copy_work(struct layer_step *ls, struct kiln_error **err)
{
	struct copy_layer *cl = ls->data;
	struct incremental *inc = &cl->inc;
	struct step_dirs *d = &ls->dirs;
	_cleanup_close_ int root = -1;
	int r;

	cl->t0 = mono_seconds();
	ls->commit.keep_index = true;
	incremental_begin(ls->b, ls->s, ls->text, ls->in, d, inc);
	cl->t1 = mono_seconds();
	cl->c.o.reuse = inc->reuse;
	if (inc->reuse)
		ls->commit.reuse_blob = &inc->last.layer.digest;
	/* ADD's archives may link to a file of the image (rootfs_mount_own) */
	r = cl->c.o.add ? rootfs_mount_own(ls->b, &cl->c.lowers, d, err)
			: rootfs_mount(ls->b, &cl->c.lowers, d, err);
	if (r >= 0) {
		root = open(d->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			r = err_sys(err, errno, "open '%s'", d->merged);
	}
	if (r >= 0)
		r = copy_run(root, &cl->c.o, &cl->res, err);
	if (root >= 0)
		close(TAKE_FD(root));
	cl->t2 = mono_seconds();
	if (r >= 0 && inc->reuse) {
		log_debug("%s: %zu of %zu files kept from the last result", ls->text,
			  cl->res.n_reused, cl->res.n_files);
		report_reuse(ls->b, ls->st, &cl->res);
	}
	if (r >= 0)
		r = incremental_prune(d, inc, err);
	return r < 0 ? r : 0;
}

static void copy_committed(struct layer_step *ls)
{
	struct copy_layer *cl = ls->data;

	if (ls->commit.has_layer)
		incremental_end(ls->b, &cl->inc, &ls->commit);
	log_debug("%s: clone %.3f s, copy %.3f s, commit %.3f s", ls->text, cl->t1 - cl->t0,
		  cl->t2 - cl->t1, mono_seconds() - cl->t2);
}

static const struct layer_step_ops copy_ops = {
	.key = copy_key,
	.work = copy_work,
	.committed = copy_committed,
};

int instr_copy(struct build_ctx *b, struct stage_state *s, const struct instruction *in,
	       struct step *st, struct kiln_error **err)
{
	struct copy_layer cl = {.c = {.sources = STRV_INIT,
				      .lowers = STRV_INIT,
				      .inline_data = STRV_INIT,
				      .src_root = -1},
				.inc = {.written = STRV_INIT, .manifest = STRBUF_INIT}};
	int r;

	cl.res.written = &cl.inc.written;
	cl.res.manifest = &cl.inc.manifest;
	r = layer_step_run(b, s, in, st, &copy_ops, &cl, err);
	incremental_release(&cl.inc);
	copy_step_release(&cl.c);
	return r;
}
