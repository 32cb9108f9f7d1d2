/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named build contexts (--build-context NAME=VALUE), as docker buildx: a
 * directory, docker-image://REF or oci-layout://DIR[:TAG|@DIGEST]. A named
 * context stands in for the stage or image of that name wherever the build
 * names it (FROM, COPY --from, RUN --mount from=), and wins over a stage of
 * the same name, as in BuildKit. A directory is read like the main context,
 * its own .dockerignore applied; an image is read from the store (pulled as
 * --pull says), a layout's image copied into the store unnamed on first use.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/snapshot-internal.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define FLAG "--build-context"

static void context_release(struct named_context *c)
{
	free(c->name);
	free(c->ref);
	free(c->tag);
	free(c->dir_path);
	dockerignore_free(c->ignore);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
}

/* NAME as BuildKit accepts it: a stage name or an image reference, nothing else. */
static bool valid_name(const char *n)
{
	if (!*n)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-/:@", *p)))
			return false;
	return true;
}

static int open_dir(struct named_context *c, const char *dir, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char proc[64], buf[PATH_MAX];
	ssize_t n;

	c->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dir_fd < 0)
		return err_sys(err, errno, FLAG " %s: open directory '%s'", c->name, dir);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", c->dir_fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return err_sys(err, errno, "readlink '%s'", proc);
	buf[n] = '\0';
	c->dir_path = xstrdup(buf);
	if (strbuf_read_file(&sb, c->dir_fd, ".dockerignore", NULL) < 0)
		return 0; /* none */
	if (dockerignore_parse(sb.buf, sb.len, ".dockerignore", &c->ignore, err) < 0)
		return err_wrap(err, FLAG " %s: '%s'", c->name, dir);
	return 0;
}

/* oci-layout://DIR[:TAG|@DIGEST]: the suffix is the part after the last '/'. */
static int parse_layout(struct named_context *c, const char *v, struct kiln_error **err)
{
	const char *slash = strrchr(v, '/'), *base = slash ? slash + 1 : v;
	const char *at = strchr(base, '@'), *colon = strchr(base, ':');

	if (at) {
		c->by_digest = true;
		c->ref = xstrndup(v, (size_t)(at - v));
		if (digest_parse(at + 1, &c->digest, NULL) < 0)
			return err_usage(err,
					 FLAG " %s: expected oci-layout://DIR@sha256:HEX, got '%s'",
					 c->name, at + 1);
	} else if (colon) {
		c->ref = xstrndup(v, (size_t)(colon - v));
		c->tag = xstrdup(colon + 1);
	} else {
		c->ref = xstrdup(v);
	}
	if (!*c->ref || (c->tag && !*c->tag))
		return err_usage(err, FLAG " %s: expected oci-layout://DIR[:TAG|@DIGEST], got '%s'",
				 c->name, v);
	return 0;
}

static int context_parse(const char *spec, struct named_context *c, struct kiln_error **err)
{
	const char *eq = strchr(spec, '='), *v;

	c->dir_fd = -1;
	if (!eq || eq == spec)
		return err_usage(err, FLAG ": expected NAME=VALUE, got '%s'", spec);
	c->name = xstrndup(spec, (size_t)(eq - spec));
	v = eq + 1;
	if (!valid_name(c->name))
		return err_usage(err, FLAG ": '%s' is not a valid stage or image name", c->name);
	if (!*v)
		return err_usage(
			err,
			FLAG
			" %s: expected a directory, docker-image://REF or oci-layout://DIR, got ''",
			c->name);
	if (startswith(v, "docker-image://")) {
		c->kind = NAMED_CONTEXT_IMAGE;
		c->ref = xstrdup(v + 15);
		if (!*c->ref)
			return err_usage(err, FLAG " %s: expected docker-image://REF, got '%s'",
					 c->name, v);
		return 0;
	}
	if (startswith(v, "oci-layout://")) {
		c->kind = NAMED_CONTEXT_LAYOUT;
		return parse_layout(c, v + 13, err);
	}
	if (strstr(v, "://"))
		return err_usage(
			err,
			FLAG
			" %s: expected a directory, docker-image://REF or oci-layout://DIR, got '%s'",
			c->name, v);
	c->kind = NAMED_CONTEXT_DIR;
	return open_dir(c, v, err);
}

int contexts_init(struct build_ctx *b, struct kiln_error **err)
{
	const struct strv *specs = &b->opts->build_contexts;

	b->contexts = xcalloc(specs->n + 1, sizeof(*b->contexts));
	for (size_t i = 0; i < specs->n; i++) {
		struct named_context *c = &b->contexts[b->n_contexts++];
		int r = context_parse(specs->v[i], c, err);

		if (r < 0)
			return r;
		for (size_t j = 0; j + 1 < b->n_contexts; j++)
			if (strcasecmp(b->contexts[j].name, c->name) == 0)
				return err_usage(err, FLAG ": '%s' is given twice", c->name);
	}
	return 0;
}

void contexts_release(struct build_ctx *b)
{
	for (size_t i = 0; i < b->n_contexts; i++)
		context_release(&b->contexts[i]);
	free(b->contexts);
	b->contexts = NULL;
	b->n_contexts = 0;
}

struct named_context *context_find(const struct build_ctx *b, const char *name)
{
	for (size_t i = 0; name && i < b->n_contexts; i++)
		if (strcasecmp(b->contexts[i].name, name) == 0)
			return &b->contexts[i];
	return NULL;
}

/* The layout's image, copied into the store once per build (under pull_lock). */
static int layout_image(struct build_ctx *b, struct named_context *c, struct digest *ret,
			struct kiln_error **err)
{
	int r = 0;

	pthread_mutex_lock(&b->pull_lock);
	if (!c->copied) {
		r = store_copy_layout_image(b->store, c->ref, c->tag,
					    c->by_digest ? &c->digest : NULL, &c->manifest, err);
		c->copied = r >= 0;
	}
	pthread_mutex_unlock(&b->pull_lock);
	if (r >= 0)
		*ret = c->manifest;
	return r;
}

int context_image(struct build_ctx *b, struct named_context *c, const struct platform *platform,
		  struct image **ret, struct kiln_error **err)
{
	_cleanup_(image_freep) struct image *img = NULL;
	struct digest d;
	int r;

	if (c->kind == NAMED_CONTEXT_IMAGE) {
		r = build_image_read(b, c->ref, platform, ret, err);
		return r < 0 ? err_wrap(err, FLAG " %s=docker-image://%s", c->name, c->ref) : r;
	}
	r = layout_image(b, c, &d, err);
	if (r >= 0)
		r = image_read_platform(b->store, &d, platform, &img, err);
	if (r >= 0)
		r = snapshot_check_image(b->store, c->ref, img, err);
	if (r < 0)
		return err_wrap(err, FLAG " %s=oci-layout://%s", c->name, c->ref);
	*ret = TAKE_PTR(img);
	return 0;
}
