/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/rootfs-internal.h"
#include "copy/copy.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define STAT_CACHE_NAME "stat-cache"

void build_opts_init(struct build_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->source_date_epoch = -1;
}

void build_opts_release(struct build_opts *o)
{
	strv_clear(&o->tags);
	strv_clear(&o->build_args);
	strv_clear(&o->labels);
	strv_clear(&o->no_cache_filter);
	strv_clear(&o->secrets);
	strv_clear(&o->ssh);
	strv_clear(&o->annotations);
	strv_clear(&o->cache_to);
	strv_clear(&o->cache_from);
	strv_clear(&o->add_hosts);
	strv_clear(&o->ulimits);
	strv_clear(&o->platforms);
	strv_clear(&o->build_contexts);
}

static int read_dockerfile(struct build_ctx *b, struct strbuf *ret, struct kiln_error **err)
{
	const char *f = b->opts->dockerfile;

	if (f && streq(f, "-")) {
		b->dockerfile_name = xstrdup("<stdin>");
		return strbuf_read_fd(ret, 0, err);
	}
	b->dockerfile_name = f ? xstrdup(f) : fs_path_join(b->opts->context_dir, "Dockerfile");
	if (strbuf_read_file(ret, AT_FDCWD, b->dockerfile_name, err) < 0)
		return err_code(*err);
	return 0;
}

/* <Dockerfile>.dockerignore beside the Dockerfile wins over CONTEXT/.dockerignore. */
static int load_ignore(struct build_ctx *b, struct kiln_error **err)
{
	_cleanup_free_ char *beside = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *name = ".dockerignore";
	int dfd = b->context_fd;

	if (!streq(b->dockerfile_name, "<stdin>")) {
		beside = xasprintf("%s.dockerignore", b->dockerfile_name);
		if (access(beside, F_OK) == 0) {
			name = beside;
			dfd = AT_FDCWD;
		}
	}
	if (strbuf_read_file(&sb, dfd, name, NULL) < 0)
		return 0; /* none */
	return dockerignore_parse(sb.buf, sb.len, name, &b->ignore, err);
}

static int find_stage(struct build_ctx *b, const char *name, size_t before)
{
	unsigned idx;

	for (size_t i = 0; i < before; i++)
		if (b->df->stages[i].name && strcasecmp(b->df->stages[i].name, name) == 0)
			return (int)i;
	if (parse_uint(name, &idx) == 0 && idx < before)
		return (int)idx;
	return -1;
}

static void mark_needed(struct build_ctx *b, size_t i);

static void add_dep(struct build_ctx *b, struct stage_state *s, size_t dep)
{
	ALLOC_GROW(s->deps, s->n_deps + 1, s->alloc_deps);
	s->deps[s->n_deps++] = dep;
	mark_needed(b, dep);
}

/* A --from of stage @i. Its value is expanded when the step runs, with the ARGs
 * of that point of the stage: one that needs expansion (or quote removal) may
 * name any earlier stage, so all of them are built first. */
static void mark_from(struct build_ctx *b, struct stage_state *s, const char *name, size_t i)
{
	int dep;

	if (context_find(b, name))
		return; /* a named context, even over a stage of that name */
	if (strpbrk(name, "$\"'\\")) {
		for (size_t j = 0; j < i; j++)
			add_dep(b, s, j);
		return;
	}
	if ((dep = find_stage(b, name, i)) >= 0)
		add_dep(b, s, (size_t)dep);
}

/* A stage's own dependencies: its base and every --from of COPY and RUN --mount. */
static void mark_needed(struct build_ctx *b, size_t i)
{
	const struct stage *st = &b->df->stages[i];
	struct stage_state *s = &b->stages[i];

	if (s->needed)
		return;
	s->needed = true;
	if (s->base_stage >= 0)
		add_dep(b, s, (size_t)s->base_stage);
	if (s->replaced)
		return;
	for (size_t k = st->first + 1; k < st->first + st->n; k++) {
		const struct instruction *in = &b->df->instrs[k];
		const char *from = instr_flag_get(in, "from");

		for (size_t f = 0; f < in->n_flags && in->kind == INSTR_RUN; f++) {
			const char *m = in->flags[f].value, *p;

			if (!streq(in->flags[f].name, "mount") || !(p = strstr(m, "from=")))
				continue;
			_cleanup_free_ char *name = xstrndup(p + 5, strcspn(p + 5, ","));
			mark_from(b, s, name, i);
		}
		if (from)
			mark_from(b, s, from, i);
	}
}

/*
 * What stage @s builds for: its base stage's platform, else FROM --platform
 * expanded with the global ARGs (so $BUILDPLATFORM works), else the target.
 */
static int stage_platform(struct build_ctx *b, struct stage_state *meta, struct stage_state *s,
			  const struct instruction *in, struct kiln_error **err)
{
	const char *flag = instr_flag_get(in, "platform");
	_cleanup_free_ char *v = NULL;
	struct kiln_error *e = NULL;
	int r;

	if (s->base_stage >= 0) {
		s->plat = b->stages[s->base_stage].plat;
		return 0;
	}
	s->plat = b->target_plat;
	if (!flag)
		return 0;
	r = expand_word(b, meta, in, flag, &v, err);
	if (r >= 0 && platform_parse(v, &s->plat, &e) < 0) {
		r = instr_error(b, in, err, "FROM --platform: %s", e->msg);
		err_free(e);
	}
	return r;
}

static int plan_stages(struct build_ctx *b, struct kiln_error **err)
{
	struct stage_state meta = {.config = NULL};

	b->n_stages = b->df->n_stages;
	b->stages = xcalloc(b->n_stages, sizeof(*b->stages));
	strv_copy(&meta.args, &b->meta_args);
	for (size_t i = 0; i < b->n_stages; i++) {
		struct stage_state *s = &b->stages[i];
		const struct instruction *in = &b->df->instrs[b->df->stages[i].first];
		int r;

		s->index = i;
		s->st = &b->df->stages[i];
		s->step_total = (unsigned)s->st->n;
		r = expand_word(b, &meta, in, s->st->base, &s->base, err);
		if (r < 0) {
			strv_clear(&meta.args);
			return r;
		}
		s->base_stage = find_stage(b, s->base, i);
		if (s->base_stage >= 0 && !b->df->stages[s->base_stage].name)
			s->base_stage = -1; /* FROM 0 is an image called "0", not a stage */
		r = stage_platform(b, &meta, s, in, err);
		if (r < 0) {
			strv_clear(&meta.args);
			return r;
		}
		/* a named context replaces a stage of its name, else FROM's stage or image */
		s->base_ctx = context_find(b, s->st->name);
		s->replaced = s->base_ctx != NULL;
		if (!s->base_ctx)
			s->base_ctx = context_find(b, s->base);
		if (s->base_ctx)
			s->base_stage = -1;
		if (s->replaced)
			s->step_total = 1;
		s->cache_off =
			b->opts->no_cache ||
			(s->st->name && strv_find(&b->opts->no_cache_filter, s->st->name) >= 0);
	}
	strv_clear(&meta.args);
	b->target = b->n_stages - 1;
	if (b->opts->target) {
		int t = find_stage(b, b->opts->target, b->n_stages);

		if (t < 0 || !b->df->stages[t].name)
			return err_usage(err, "--target: stage '%s' is not defined in %s",
					 b->opts->target, b->dockerfile_name);
		b->target = (size_t)t;
	}
	mark_needed(b, b->target);
	return 0;
}

static int build_stage(struct build_ctx *b, struct stage_state *s, struct kiln_error **err)
{
	int r = stage_begin(b, s, err);

	for (size_t k = s->st->first + 1; r >= 0 && !s->replaced && k < s->st->first + s->st->n;
	     k++)
		r = stage_run_instruction(b, s, &b->df->instrs[k], err);
	return r;
}

/*
 * Independent stages build in parallel, at most --jobs at a time (default:
 * the number of cores); a stage starts when every stage it reads from is done.
 */
struct scheduler {
	struct build_ctx *b;
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned running;
	struct kiln_error *first_err;
	int first_r;
};

struct stage_job {
	struct scheduler *sched;
	struct stage_state *s;
};

static void *stage_thread(void *arg)
{
	struct stage_job *job = arg;
	struct scheduler *sc = job->sched;
	struct kiln_error *e = NULL;
	int r = build_stage(sc->b, job->s, &e);

	pthread_mutex_lock(&sc->lock);
	if (r < 0 && !sc->first_err) {
		sc->first_err = e;
		sc->first_r = r;
		e = NULL;
	}
	err_free(e);
	job->s->built = r >= 0;
	sc->running--;
	pthread_cond_signal(&sc->done);
	pthread_mutex_unlock(&sc->lock);
	free(job);
	return NULL;
}

static bool stage_ready(struct build_ctx *b, const struct stage_state *s)
{
	if (!s->needed || s->started)
		return false;
	for (size_t i = 0; i < s->n_deps; i++)
		if (!b->stages[s->deps[i]].built)
			return false;
	return true;
}

static unsigned max_jobs(const struct build_ctx *b)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (b->opts->jobs > 0)
		return (unsigned)b->opts->jobs;
	return n > 0 ? (unsigned)n : 1;
}

static int start_ready(struct scheduler *sc, unsigned jobs, struct kiln_error **err)
{
	struct build_ctx *b = sc->b;

	for (size_t i = 0; i <= b->target && sc->running < jobs && !sc->first_err; i++) {
		struct stage_state *s = &b->stages[i];
		struct stage_job *job;
		pthread_t t;

		if (!stage_ready(b, s))
			continue;
		job = xmalloc(sizeof(*job));
		*job = (struct stage_job){.sched = sc, .s = s};
		s->started = true;
		sc->running++;
		if (pthread_create(&t, NULL, stage_thread, job) != 0) {
			sc->running--;
			free(job);
			return err_sys(err, EAGAIN, "start a thread for stage %zu", i);
		}
		pthread_detach(t);
	}
	return 0;
}

static int build_stages(struct build_ctx *b, struct kiln_error **err)
{
	struct scheduler sc = {.b = b};
	unsigned jobs = max_jobs(b);
	int r = 0;

	pthread_mutex_init(&sc.lock, NULL);
	pthread_cond_init(&sc.done, NULL);
	pthread_mutex_lock(&sc.lock);
	for (;;) {
		if (r >= 0)
			r = start_ready(&sc, jobs, err);
		if (sc.running == 0)
			break;
		pthread_cond_wait(&sc.done, &sc.lock);
	}
	pthread_mutex_unlock(&sc.lock);
	if (sc.first_err) {
		err_free(*err);
		*err = sc.first_err;
		r = sc.first_r;
	}
	if (r >= 0 && !b->stages[b->target].built)
		r = err_new(err, KILN_ERR_INTERNAL, EIO, "stage %zu was never built", b->target);
	pthread_cond_destroy(&sc.done);
	pthread_mutex_destroy(&sc.lock);
	return r;
}

void build_key_made(struct build_ctx *b, const struct digest *key)
{
	char hex[DIGEST_HEX_LEN + 1];

	if (!b->made_keys)
		return; /* a context made without a build (the unit tests) */
	pthread_mutex_lock(&b->lock);
	strv_push(b->made_keys, digest_hex(key, hex));
	pthread_mutex_unlock(&b->lock);
}

bool build_key_was_made(struct build_ctx *b, const struct digest *key)
{
	char hex[DIGEST_HEX_LEN + 1];
	bool made;

	if (!b->made_keys)
		return false;
	pthread_mutex_lock(&b->lock);
	made = strv_find(b->made_keys, digest_hex(key, hex)) >= 0;
	pthread_mutex_unlock(&b->lock);
	return made;
}

/* --annotation K=V, and the inline cache (--cache-to type=inline), for the manifest */
static json_t *manifest_annotations(struct build_ctx *b, const struct stage_state *s)
{
	json_t *a = json_object();
	char *inline_cache = cache_inline_annotation(b, s->layers, s->n_layers);

	strv_foreach(&b->opts->annotations, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = xstrndup(*kv, (size_t)(eq - *kv));

		json_object_set_new(a, k, json_string(eq + 1));
	}
	if (inline_cache)
		json_object_set_new(a, KILN_CACHE_ANNOTATION, json_string(inline_cache));
	free(inline_cache);
	return a;
}

static int write_image(struct build_ctx *b, struct digest *ret_manifest, char **ret_id,
		       struct kiln_error **err)
{
	struct stage_state *s = &b->stages[b->target];
	_cleanup_(image_freep) struct image *img = NULL;
	struct image_spec spec = {0};
	struct digest manifest;
	int r;

	strv_foreach(&b->opts->labels, kv) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = xstrndup(*kv, (size_t)(eq - *kv));

		imgcfg_set_label(s->config, k, eq + 1);
	}
	imgcfg_set_created(s->config, stage_created(b, s));
	spec.config = s->config;
	spec.layers = s->layers;
	spec.n_layers = s->n_layers;
	spec.annotations = manifest_annotations(b, s);
	r = image_write(b->store, &spec, &manifest, err);
	json_decref(spec.annotations);
	if (r >= 0)
		r = image_read(b->store, &manifest, &img, err);
	if (r < 0)
		return err_wrap(err, "write image");
	*ret_manifest = manifest;
	*ret_id = digest_str(&img->config_digest);
	return 0;
}

static int setup(struct build_ctx *b, struct kiln_error **err)
{
	struct strbuf *text = &b->text;
	int r;

	if (b->opts->compression &&
	    layer_compression_parse(b->opts->compression, &b->compression, err) < 0)
		return err_code(*err);
	r = cache_remote_new(&b->opts->cache_to, &b->opts->cache_from, &b->remote, err);
	if (r < 0)
		return r;
	r = store_open(b->opts->store_root, STORE_CREATE, &b->store, err);
	if (r < 0)
		return r;
	r = read_dockerfile(b, text, err);
	if (r < 0)
		return err_wrap(err, "read Dockerfile");
	r = parser_parse(text->buf, text->len, b->dockerfile_name, &b->df, err);
	if (r < 0)
		return r;
	b->context_fd = open(b->opts->context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->context_fd < 0)
		return err_sys(err, errno, "open build context '%s'", b->opts->context_dir);
	r = load_ignore(b, err);
	if (r >= 0)
		r = contexts_init(b, err);
	if (r < 0)
		return r;
	b->stat_cache =
		copy_stat_cache_load(store_dirfd(b->store, STORE_DIR_CACHE), STAT_CACHE_NAME);
	b->epoch = b->opts->source_date_epoch;
	b->created = imgcfg_time(b->epoch >= 0 ? b->epoch : (int64_t)time(NULL));
	r = args_init(b, err);
	if (r >= 0)
		r = plan_stages(b, err);
	return r;
}

static void build_release(struct build_ctx *b)
{
	for (size_t i = 0; i < b->n_stages; i++) {
		stage_release(&b->stages[i]);
		free(b->stages[i].deps);
	}
	free(b->stages);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->pull_lock);
	if (b->stat_cache) {
		copy_stat_cache_save(b->stat_cache, NULL);
		copy_stat_cache_free(b->stat_cache);
	}
	dockerignore_free(b->ignore);
	contexts_release(b);
	dockerfile_free(b->df);
	if (b->context_fd >= 0)
		close(b->context_fd);
	store_free(b->store);
	cache_remote_free(b->remote);
	strv_clear(&b->build_args);
	strv_clear(&b->used_args);
	strv_clear(&b->meta_args);
	strv_clear(&b->pulled);
	free(b->dockerfile_name);
	free(b->created);
	strbuf_release(&b->text);
}

int builder_prepare(struct kiln_error **err)
{
	static bool done;
	int r;

	if (done)
		return 0;
	r = sandbox_enter_userns(err);
	if (r < 0 && (*err)->errnum == EPERM)
		log_warn("a non-root kiln needs a user namespace, and none can be made here (a "
			 "container's seccomp profile?): run kiln as root in the container, where "
			 "RUN gets chroot isolation (README.md, \"Building in an unprivileged "
			 "container\")");
	/* root of a namespace kiln did not make: kiln's mounts (secrets too) die with it */
	if (r >= 0 && (sandbox_userns_mode() == SANDBOX_USERNS_NONE ||
		       sandbox_userns_mode() == SANDBOX_USERNS_INHERITED))
		r = isolation_private_mounts(err);
	if (r >= 0)
		done = true;
	return r;
}

/* The one channel for the modules' warnings during a build: the caller's warning event. */
static void warning_event(void *userdata, enum log_level level, const char *msg)
{
	const struct build_events *ev = userdata;

	if (level == LOG_LEVEL_WARN)
		ev->warning(ev->userdata, msg);
	else
		log_write(stderr, level, msg);
}

/*
 * One pass: the whole graph for @target. Stages on another platform (FROM
 * --platform=$BUILDPLATFORM) have the same cache keys in every pass, so the
 * first pass builds them and the others find them in the step cache.
 */
static int build_pass(const struct build_opts *opts, const struct build_events *ev,
		      const struct platform *target, bool multi, struct strv *made_keys,
		      unsigned *step_id, struct digest *ret_manifest, char **ret_id,
		      struct kiln_error **err)
{
	struct log_handler events = {warning_event, (void *)ev}, old;
	struct build_ctx b = {.opts = opts,
			      .ev = ev,
			      .context_fd = -1,
			      .text = STRBUF_INIT,
			      .copy_storage = -1,
			      .made_keys = made_keys,
			      .multi = multi};
	char *id = NULL;
	int r;

	b.isolation = -1; /* isolation.c decides */
	if (ev && ev->warning)
		log_set_handler(&events, &old);
	b.target_plat = *target;
	platform_host(&b.host_plat);
	b.next_step_id = *step_id;
	pthread_mutex_init(&b.lock, NULL);
	pthread_mutex_init(&b.pull_lock, NULL);
	r = setup(&b, err);
	/* the isolation (and so the storage) is said before any step, cached or not */
	if (r >= 0)
		r = rootfs_copy_storage(&b, err);
	if (r >= 0)
		r = build_stages(&b, err);
	if (r >= 0)
		r = interrupt_check(err); /* an interrupted build names nothing */
	if (r >= 0)
		r = write_image(&b, ret_manifest, &id, err);
	if (r >= 0)
		r = cache_export(&b, err);
	if (r >= 0)
		args_warn_unused(&b);
	*step_id = b.next_step_id;
	build_release(&b);
	if (ev && ev->warning)
		log_set_handler(&old, NULL);
	if (r < 0) {
		free(id); /* written, but the cache export failed */
		return r;
	}
	*ret_id = id;
	return 0;
}

/* --platform: each value a comma list; a platform named twice is built once. */
static int parse_platforms(const struct build_opts *opts, struct platform **ret, size_t *ret_n,
			   struct kiln_error **err)
{
	struct platform *p = NULL;
	size_t n = 0, alloc = 0;

	strv_foreach(&opts->platforms, v) {
		_cleanup_free_ char *copy = xstrdup(*v);
		char *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			struct platform one;
			bool seen = false;

			if (platform_parse(t, &one, err) < 0) {
				free(p);
				return err_wrap(err, "--platform");
			}
			for (size_t i = 0; i < n; i++)
				seen = seen || platform_eq(&p[i], &one);
			if (seen)
				continue;
			ALLOC_GROW(p, n + 1, alloc);
			p[n++] = one;
		}
	}
	if (opts->platforms.n && !n)
		return err_usage(err, "--platform: expected OS/ARCH[/VARIANT][,...]");
	if (n > 1 && opts->cache_to.n) {
		free(p);
		return err_usage(err,
				 "--cache-to with more than one --platform is not supported yet");
	}
	*ret = p;
	*ret_n = n;
	return 0;
}

static int name_image(const struct build_opts *opts, const struct build_events *ev,
		      const struct digest *top, struct kiln_error **err)
{
	_cleanup_(store_freep) struct store *s = NULL;
	int r = store_open(opts->store_root, STORE_CREATE, &s, err);

	strv_foreach(&opts->tags, t) {
		_cleanup_free_ char *msg = NULL;

		if (r < 0)
			break;
		r = store_tag(s, *t, top, err);
		if (r < 0)
			return err_wrap(err, "name image '%s'", *t);
		msg = xasprintf("naming to %s", *t);
		if (ev && ev->message)
			ev->message(ev->userdata, msg);
	}
	return r;
}

/* Several platforms: one pass each, then the index of their manifests. */
static int build_index(const struct build_opts *opts, const struct build_events *ev,
		       const struct platform *plats, size_t n, struct digest *ret_index,
		       struct kiln_error **err)
{
	_cleanup_free_ struct digest *manifests = xcalloc(n, sizeof(*manifests));
	_cleanup_(store_freep) struct store *s = NULL;
	_cleanup_strv_ struct strv made = STRV_INIT;
	unsigned step_id = 0;
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		char buf[PLATFORM_STR_SIZE];
		_cleanup_free_ char *msg =
			xasprintf("building for %s", platform_format(&plats[i], buf));
		_cleanup_free_ char *id = NULL;

		if (ev && ev->message)
			ev->message(ev->userdata, msg);
		r = build_pass(opts, ev, &plats[i], true, &made, &step_id, &manifests[i], &id, err);
		if (r < 0)
			return err_wrap(err, "platform %s", buf);
	}
	r = store_open(opts->store_root, STORE_CREATE, &s, err);
	if (r >= 0)
		r = image_write_index(s, manifests, plats, n, NULL, ret_index, err);
	return r < 0 ? err_wrap(err, "write image index") : 0;
}

int builder_build(const struct build_opts *opts, const struct build_events *ev, char **ret_image_id,
		  struct kiln_error **err)
{
	_cleanup_free_ struct platform *plats = NULL;
	struct platform host;
	struct digest top;
	unsigned step_id = 0;
	char *id = NULL;
	size_t n = 0;
	int r = parse_platforms(opts, &plats, &n, err);

	if (r < 0)
		return r;
	platform_host(&host);
	if (n > 1) {
		r = build_index(opts, ev, plats, n, &top, err);
		if (r >= 0)
			id = digest_str(&top);
	} else {
		_cleanup_strv_ struct strv made = STRV_INIT;

		r = build_pass(opts, ev, n ? &plats[0] : &host, false, &made, &step_id, &top, &id,
			       err);
	}
	if (r >= 0)
		r = name_image(opts, ev, &top, err);
	if (r < 0) {
		free(id);
		return r;
	}
	if (opts->ret_manifest)
		*opts->ret_manifest = top;
	*ret_image_id = id;
	return 0;
}
