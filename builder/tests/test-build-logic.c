/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build logic that only e2e tests reached: ARG scoping, the image config
 * each instruction writes, and when a rebuild is the same image (the cache
 * keys of config steps). Inline Dockerfiles of config-only steps FROM scratch,
 * built by builder_build() into a store in /tmp: no root, no registry, no RUN.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/builder.h"
#include "layers/layers.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static char top[64];
static unsigned n_builds;
static const char *context_file; /* a file copied into each new context, or NULL */

struct seen {
	struct strv warnings;
	unsigned cached, done;
};

static void on_step(void *userdata, const struct build_step_info *step)
{
	struct seen *s = userdata;

	s->cached += step->state == BUILD_STEP_CACHED;
	s->done += step->state == BUILD_STEP_DONE;
}

static void on_warning(void *userdata, const char *msg)
{
	strv_push(&((struct seen *)userdata)->warnings, msg);
}

struct build {
	const char *dockerfile;
	const char *const *args; /* --build-arg K=V, NULL-terminated, or NULL */
	const char *target;
	int64_t epoch; /* SOURCE_DATE_EPOCH, -1 for none */
	bool no_cache;
};

static int put(const char *path, const char *data, size_t len, mode_t mode)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || fs_write_all(fd, data, len, NULL) < 0)
		return -1;
	return fchmod(fd, mode);
}

/* cp -p FILE DIR/, by hand: content, mode and times */
static int copy_into(const char *file, const char *dir)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *dst = xasprintf("%s/%s", dir, strrchr(file, '/') + 1);
	struct stat st;
	struct timespec times[2];

	if (stat(file, &st) < 0 || strbuf_read_file(&sb, AT_FDCWD, file, NULL) < 0 ||
	    put(dst, sb.buf, sb.len, st.st_mode & 07777) < 0)
		return -1;
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	return utimensat(AT_FDCWD, dst, times, 0);
}

/*
 * Build @bd in the store $top/store: returns the image's config (NULL on
 * failure, the message printed), its ID in @ret_id when not NULL.
 */
static json_t *build(const struct build *bd, char ret_id[DIGEST_STR_SIZE], struct seen *seen)
{
	_cleanup_free_ char *dir = xasprintf("%s/ctx%u", top, n_builds++);
	_cleanup_free_ char *store_root = xasprintf("%s/store", top), *id = NULL;
	_cleanup_free_ char *file = fs_path_join(dir, "Dockerfile");
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	_cleanup_(store_freep) struct store *st = NULL;
	struct build_events ev = {seen, on_step, NULL, NULL, on_warning};
	struct build_opts o;
	struct digest d;
	json_t *config = NULL;
	FILE *f;

	if (mkdir(dir, 0755) < 0 || !(f = fopen(file, "we")))
		abort();
	fputs(bd->dockerfile, f);
	fclose(f);
	if (context_file && copy_into(context_file, dir) < 0)
		abort();
	build_opts_init(&o);
	o.context_dir = dir;
	o.store_root = store_root;
	o.storage = BUILD_STORAGE_COPY;
	o.pull = BUILD_PULL_NEVER;
	o.source_date_epoch = bd->epoch;
	o.target = bd->target;
	o.no_cache = bd->no_cache;
	o.jobs = 1;
	for (const char *const *a = bd->args; a && *a; a++)
		strv_push(&o.build_args, *a);
	if (builder_build(&o, &ev, &id, &err) < 0 || digest_parse(id, &d, &err) < 0 ||
	    store_open(store_root, 0, &st, &err) < 0 ||
	    store_blob_read_json(st, &d, &config, &err) < 0) {
		_cleanup_free_ char *msg = err_format(err);

		printf("# build failed: %s\n", msg);
		config = NULL;
	}
	if (ret_id)
		snprintf(ret_id, DIGEST_STR_SIZE, "%s", id ? id : "");
	build_opts_release(&o);
	return config;
}

/* config.Env as one string, "A=1 B=2", without the default PATH */
static char *env_of(json_t *config)
{
	/* what every image FROM scratch starts with, as BuildKit */
	static const char default_path[] =
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	json_t *env = json_object_get(json_object_get(config, "config"), "Env"), *v;
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	json_array_foreach(env, i, v) {
		if (streq(json_string_value(v), default_path))
			continue;
		strbuf_addf(&sb, "%s%s", sb.len ? " " : "", json_string_value(v));
	}
	return strbuf_detach(&sb, NULL);
}

/* config.FIELD (or the top-level FIELD with a leading '/') as compact JSON */
static char *field_of(json_t *config, const char *field)
{
	json_t *v = *field == '/' ? json_object_get(config, field + 1)
				  : json_object_get(json_object_get(config, "config"), field);

	return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : xstrdup("");
}

#define ASSERT_ENV(config, want)                          \
	do {                                              \
		_cleanup_free_ char *e_ = env_of(config); \
		ASSERT_STREQ(e_, want);                   \
	} while (0)
#define ASSERT_FIELD(config, field, want)                          \
	do {                                                       \
		_cleanup_free_ char *f_ = field_of(config, field); \
		ASSERT_STREQ(f_, want);                            \
	} while (0)

static const char scoping[] = "ARG A=global\n"
			      "ARG B=only-global\n"
			      "ARG BASE=scratch\n"
			      "FROM $BASE AS first\n"
			      "ARG A\n"
			      "ENV SEEN_A=$A SEEN_B=${B:-unset}\n"
			      "ARG C=stage\n"
			      "ENV SEEN_C=$C\n"
			      "FROM scratch AS second\n"
			      "ENV SEEN_C=${C:-unset} SEEN_A=${A:-unset}\n";

TEST(arg_scoping)
{
	struct seen s = {STRV_INIT, 0, 0};
	struct build b = {.dockerfile = scoping, .target = "first", .epoch = 0};
	static const char *const cli[] = {"A=cli", "C=cli-c", NULL};
	json_t *c;

	/* a global ARG is seen in FROM, and in a stage only where the stage declares it */
	c = build(&b, NULL, &s);
	ASSERT_NOT_NULL(c);
	ASSERT_ENV(c, "SEEN_A=global SEEN_B=unset SEEN_C=stage");
	json_decref(c);
	/* --build-arg overrides both the global default and the stage's */
	b.args = cli;
	c = build(&b, NULL, &s);
	ASSERT_ENV(c, "SEEN_A=cli SEEN_B=unset SEEN_C=cli-c");
	json_decref(c);
	/* nothing of the first stage's ARGs reaches the second, not even a --build-arg */
	b.target = "second";
	c = build(&b, NULL, &s);
	ASSERT_ENV(c, "SEEN_C=unset SEEN_A=unset");
	json_decref(c);
	/* (the Env above is the whole Env: an ARG never reaches the image's) */
	/* A is declared globally, so consumed; C only in the stage that was not built */
	ASSERT_EQ(s.warnings.n, 1);
	ASSERT_STREQ(s.warnings.v[0], "one or more build args were not consumed: [C]");
	strv_clear(&s.warnings);
}

TEST(unused_build_args_are_a_warning_event)
{
	struct seen s = {STRV_INIT, 0, 0};
	static const char *const args[] = {"UNUSED=1", "HTTP_PROXY=http://p:3128", "USED=x", NULL};
	struct build b = {.dockerfile = "FROM scratch\nARG USED\nLABEL used=$USED\n",
			  .args = args,
			  .epoch = 0};
	json_t *c = build(&b, NULL, &s);

	ASSERT_NOT_NULL(c);
	ASSERT_FIELD(c, "Labels", "{\"used\":\"x\"}");
	/* proxies are predefined: never reported */
	ASSERT_EQ(s.warnings.n, 1);
	ASSERT_STREQ(s.warnings.v[0], "one or more build args were not consumed: [UNUSED]");
	json_decref(c);
	strv_clear(&s.warnings);
}

TEST(image_config_edits)
{
	struct seen s = {STRV_INIT, 0, 0};
	struct build b = {.dockerfile = "FROM scratch\n"
					"ENV PATH=/usr/bin K1=v1\n"
					"ENV K1=v2 K2=\"two words\"\n"
					"LABEL a=1 b=\"two words\"\n"
					"LABEL a=3\n"
					"CMD [\"run\"]\n"
					"ENTRYPOINT [\"/bin/app\"]\n"
					"USER 1000:1000\n"
					"EXPOSE 80 53/udp\n"
					"VOLUME /data\n"
					"VOLUME [\"/logs\", \"/l 2\"]\n"
					"STOPSIGNAL SIGTERM\n"
					"SHELL [\"/bin/bash\", \"-c\"]\n"
					"HEALTHCHECK --interval=5s --retries=2 CMD [\"true\"]\n"
					"ONBUILD RUN echo hi\n",
			  .epoch = 0};
	json_t *c = build(&b, NULL, &s), *h;

	ASSERT_NOT_NULL(c);
	/* ENV replaces in place, as docker */
	ASSERT_ENV(c, "PATH=/usr/bin K1=v2 K2=two words");
	ASSERT_FIELD(c, "Labels", "{\"a\":\"3\",\"b\":\"two words\"}");
	/* an ENTRYPOINT after the stage's own CMD keeps it */
	ASSERT_FIELD(c, "Cmd", "[\"run\"]");
	ASSERT_FIELD(c, "Entrypoint", "[\"/bin/app\"]");
	ASSERT_FIELD(c, "User", "\"1000:1000\"");
	ASSERT_FIELD(c, "ExposedPorts", "{\"53/udp\":{},\"80/tcp\":{}}");
	ASSERT_FIELD(c, "Volumes", "{\"/data\":{},\"/l 2\":{},\"/logs\":{}}");
	ASSERT_FIELD(c, "StopSignal", "\"SIGTERM\"");
	ASSERT_FIELD(c, "Shell", "[\"/bin/bash\",\"-c\"]");
	ASSERT_FIELD(c, "Healthcheck",
		     "{\"Interval\":5000000000,\"Retries\":2,\"Test\":[\"CMD\",\"true\"]}");
	ASSERT_FIELD(c, "OnBuild", "[\"RUN echo hi\"]");
	/* config steps: a history entry each, no layer */
	ASSERT_FIELD(c, "/rootfs", "{\"diff_ids\":[],\"type\":\"layers\"}");
	h = json_object_get(c, "history");
	ASSERT_EQ(json_array_size(h), 14);
	ASSERT_TRUE(json_is_true(json_object_get(json_array_get(h, 0), "empty_layer")));
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(h, 0), "created_by")),
		     "ENV PATH=/usr/bin K1=v1");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(h, 0), "created")),
		     "1970-01-01T00:00:00Z");
	json_decref(c);
}

TEST(a_rebuild_is_the_same_image)
{
	struct seen s = {STRV_INIT, 0, 0};
	static const char *const one[] = {"V=1", NULL}, *const two[] = {"V=2", NULL};
	struct build b = {.dockerfile = "FROM scratch\nLABEL x=y\nARG V\nENV V=$V\n",
			  .args = one,
			  .epoch = -1};
	char id1[DIGEST_STR_SIZE], id2[DIGEST_STR_SIZE], id3[DIGEST_STR_SIZE];
	struct timespec second = {1, 100 * 1000 * 1000};
	json_t *c;

	/* without SOURCE_DATE_EPOCH the time is now's, but a rebuild keeps the cached one */
	json_decref(build(&b, id1, &s));
	nanosleep(&second, NULL);
	json_decref(build(&b, id2, &s));
	ASSERT_STREQ(id2, id1);
	/* a changed build arg is another ENV: another image */
	b.args = two;
	c = build(&b, id3, &s);
	ASSERT_ENV(c, "V=2");
	ASSERT_TRUE(strcmp(id3, id1) != 0);
	json_decref(c);
	/* ...and going back is the first image again, from the cache */
	b.args = one;
	json_decref(build(&b, id3, &s));
	ASSERT_STREQ(id3, id1);
	/* --no-cache takes the time afresh */
	b.no_cache = true;
	json_decref(build(&b, id3, &s));
	ASSERT_TRUE(strcmp(id3, id1) != 0);
	/* under SOURCE_DATE_EPOCH the time is fixed: same inputs, same image, cache or not */
	b.epoch = 1700000000;
	json_decref(build(&b, id1, &s));
	nanosleep(&second, NULL);
	json_decref(build(&b, id2, &s));
	ASSERT_STREQ(id2, id1);
	strv_clear(&s.warnings);
}

/* COPY's key is the content, modes and owners of what it copies, never the mtimes */
TEST(copy_keys_on_content_not_mtime)
{
	struct seen s = {STRV_INIT, 0, 0};
	_cleanup_free_ char *src = xasprintf("%s/src.txt", top);
	_cleanup_free_ char *df = xasprintf("FROM scratch\nCOPY %s /f\n", "src.txt");
	struct build b = {.dockerfile = df, .epoch = 0};
	char id1[DIGEST_STR_SIZE], id2[DIGEST_STR_SIZE];
	struct timespec times[2] = {{1000000, 0}, {1000000, 0}};

	context_file = src;
	ASSERT_EQ(put(src, "one\n", 4, 0644), 0);
	json_decref(build(&b, id1, &s));
	ASSERT_EQ(s.done, 2);
	/* only the mtime changes: every step from the cache, the same image */
	ASSERT_EQ(utimensat(AT_FDCWD, src, times, 0), 0);
	s.cached = s.done = 0;
	json_decref(build(&b, id2, &s));
	ASSERT_STREQ(id2, id1);
	ASSERT_EQ(s.cached, 1);
	/* the content changes: COPY runs again, another image */
	ASSERT_EQ(put(src, "two\n", 4, 0644), 0);
	s.cached = s.done = 0;
	json_decref(build(&b, id2, &s));
	ASSERT_TRUE(strcmp(id2, id1) != 0);
	ASSERT_EQ(s.cached, 0);
	/* a mode change too */
	ASSERT_EQ(put(src, "one\n", 4, 0600), 0);
	json_decref(build(&b, id2, &s));
	ASSERT_TRUE(strcmp(id2, id1) != 0);
	context_file = NULL;
	strv_clear(&s.warnings);
}

static void make_top(void)
{
	snprintf(top, sizeof(top), "/tmp/kiln-test-build-logic.XXXXXX");
	if (!mkdtemp(top))
		abort();
}

bool tap_failed_;

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(arg_scoping), TAP_ENTRY(unused_build_args_are_a_warning_event),
		TAP_ENTRY(image_config_edits), TAP_ENTRY(a_rebuild_is_the_same_image),
		TAP_ENTRY(copy_keys_on_content_not_mtime)};
	int r;

	make_top();
	r = tap_run(tests, sizeof(tests) / sizeof(tests[0]));
	fs_rm_rf(AT_FDCWD, top, NULL);
	return r;
}
