/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/cache-remote-internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/*
 * --cache-to / --cache-from values, as docker buildx reads them: comma
 * separated KEY=VALUE pairs, or a bare REF meaning type=registry,ref=REF.
 * Without type=, ref= means registry and dest=/src= local.
 */

/* Keys buildx knows that change nothing here: our layers are stored as built. */
static const char *const ignored_keys[] = {
	"compression",	  "compression-level", "force-compression",
	"oci-mediatypes", "image-manifest",    "oci-artifact",
	"digest",
};

static bool is_ignored(const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(ignored_keys); i++)
		if (streq(k, ignored_keys[i]))
			return true;
	return false;
}

static int parse_bool(const char *flag, const char *k, const char *v, bool *ret,
		      struct kiln_error **err)
{
	if (streq(v, "true") || streq(v, "1"))
		*ret = true;
	else if (streq(v, "false") || streq(v, "0"))
		*ret = false;
	else
		return err_usage(err, "%s: %s: expected true or false, got '%s'", flag, k, v);
	return 0;
}

static int set_type(const char *flag, bool to, const char *v, struct cache_io_spec *s,
		    bool *have_type, struct kiln_error **err)
{
	*have_type = true;
	if (streq(v, "registry"))
		s->type = CACHE_IO_REGISTRY;
	else if (streq(v, "local"))
		s->type = CACHE_IO_LOCAL;
	else if (streq(v, "inline") && to)
		s->type = CACHE_IO_INLINE;
	else if (streq(v, "inline"))
		return err_usage(err,
				 "%s: type=inline is only for --cache-to: read an image's inline "
				 "cache with --cache-from IMAGE",
				 flag);
	else if (streq(v, "gha") || streq(v, "s3") || streq(v, "azblob"))
		return err_usage(
			err, "%s: type=%s is not supported (kiln has registry, local and inline)",
			flag, v);
	else
		return err_usage(err, "%s: type: expected registry, local or inline, got '%s'",
				 flag, v);
	return 0;
}

static int set_key(const char *flag, bool to, const char *k, const char *v, struct cache_io_spec *s,
		   bool *have_type, struct kiln_error **err)
{
	if (streq(k, "type"))
		return set_type(flag, to, v, s, have_type, err);
	if (streq(k, "ref")) {
		free(s->ref);
		s->ref = xstrdup(v);
	} else if (streq(k, to ? "dest" : "src")) {
		free(s->dir);
		s->dir = xstrdup(v);
	} else if (streq(k, "tag")) {
		free(s->tag);
		s->tag = xstrdup(v);
	} else if (to && streq(k, "mode")) {
		if (!streq(v, "min") && !streq(v, "max"))
			return err_usage(err, "%s: mode: expected min or max, got '%s'", flag, v);
		s->mode_max = streq(v, "max");
	} else if (to && streq(k, "ignore-error")) {
		return parse_bool(flag, k, v, &s->ignore_error, err);
	} else if (to && streq(k, "mounts")) {
		return parse_bool(flag, k, v, &s->mounts, err);
	} else if (is_ignored(k)) {
		log_debug("%s: %s=%s changes nothing in kiln, ignoring", flag, k, v);
	} else {
		return err_usage(err, "%s: unknown key '%s' in '%s'", flag, k, s->text);
	}
	return 0;
}

static int check_spec(const char *flag, bool to, bool have_type, struct cache_io_spec *s,
		      struct kiln_error **err)
{
	if (!have_type && !s->ref && !s->dir)
		return err_usage(err,
				 "%s: '%s': expected type=registry,ref=REF or type=local,%s=DIR",
				 flag, s->text, to ? "dest" : "src");
	if (!have_type)
		s->type = s->ref ? CACHE_IO_REGISTRY : CACHE_IO_LOCAL;
	if (s->type == CACHE_IO_REGISTRY && (!s->ref || !*s->ref))
		return err_usage(err, "%s: '%s': type=registry needs ref=REGISTRY/REPOSITORY[:TAG]",
				 flag, s->text);
	if (s->type == CACHE_IO_LOCAL && (!s->dir || !*s->dir))
		return err_usage(err, "%s: '%s': type=local needs %s=DIR", flag, s->text,
				 to ? "dest" : "src");
	if (s->type == CACHE_IO_INLINE && (s->ref || s->dir || s->mode_max || s->mounts))
		return err_usage(
			err,
			"%s: '%s': type=inline takes no ref, dest, mode=max or mounts=true "
			"(it writes the exported image's steps into that image)",
			flag, s->text);
	if (!s->tag)
		s->tag = xstrdup(KILN_CACHE_DEFAULT_TAG);
	return 0;
}

int cache_spec_parse(const char *text, bool to, struct cache_io_spec *ret, struct kiln_error **err)
{
	const char *flag = to ? "--cache-to" : "--cache-from";
	struct cache_io_spec s = {.text = xstrdup(text)};
	_cleanup_free_ char *copy = xstrdup(text);
	bool have_type = false;
	char *save = NULL;
	int r = 0;

	if (!strchr(text, '=')) {
		s.ref = xstrdup(text);
		have_type = true;
	}
	for (char *f = have_type ? NULL : strtok_r(copy, ",", &save); f && r >= 0;
	     f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');

		if (!eq) {
			r = err_usage(err, "%s: expected KEY=VALUE, got '%s' in '%s'", flag, f,
				      text);
			break;
		}
		*eq = '\0';
		r = set_key(flag, to, f, eq + 1, &s, &have_type, err);
	}
	if (r >= 0)
		r = check_spec(flag, to, have_type, &s, err);
	if (r < 0) {
		cache_spec_release(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void cache_spec_release(struct cache_io_spec *s)
{
	free(s->ref);
	free(s->dir);
	free(s->tag);
	free(s->text);
	memset(s, 0, sizeof(*s));
}
