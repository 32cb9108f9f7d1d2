/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount's grammar, the one `kiln check` and `kiln build` share: the
 * keys each mount type takes, their values, and the defaults BuildKit fills
 * in. Check runs it on the value as written (MOUNT_SPEC_UNEXPANDED: a value
 * holding '$' is judged after expansion), build again on the expanded value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "parser/parser.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/xmalloc.h"

#include "util/banned.h"

enum mount_key_flags {
	MK_VALUE = 1 << 0, /* key=VALUE, never bare */
	MK_BOOL = 1 << 1, /* bare, or =true/false/1/0 */
	MK_BUILDAH = 1 << 2, /* buildah's extension: parses, kiln build does not do it */
};

enum mount_field {
	MF_NONE,
	MF_TYPE,
	MF_TARGET,
	MF_SOURCE,
	MF_FROM,
	MF_RO,
	MF_RW,
	MF_ID,
	MF_SHARING,
	MF_MODE,
	MF_UID,
	MF_GID,
	MF_SIZE,
	MF_REQUIRED,
	MF_ENV,
};

struct mount_key {
	const char *key;
	const char *types; /* the mount types taking it, space-separated, "" for all */
	unsigned flags;
	enum mount_field field;
};

static const struct mount_key mount_keys[] = {
	{"type", "", MK_VALUE, MF_TYPE},
	{"target", "", MK_VALUE, MF_TARGET},
	{"dst", "", MK_VALUE, MF_TARGET},
	{"destination", "", MK_VALUE, MF_TARGET},
	{"source", "bind cache secret ssh", MK_VALUE, MF_SOURCE},
	{"src", "bind cache secret ssh", MK_VALUE, MF_SOURCE},
	{"from", "bind cache", MK_VALUE, MF_FROM},
	{"readonly", "bind cache", MK_BOOL, MF_RO},
	{"ro", "bind cache", MK_BOOL, MF_RO},
	{"readwrite", "bind cache", MK_BOOL, MF_RW},
	{"rw", "bind cache", MK_BOOL, MF_RW},
	{"id", "cache secret ssh", MK_VALUE, MF_ID},
	{"sharing", "cache", MK_VALUE, MF_SHARING},
	{"mode", "cache secret ssh", MK_VALUE, MF_MODE},
	{"uid", "cache secret ssh", MK_VALUE, MF_UID},
	{"gid", "cache secret ssh", MK_VALUE, MF_GID},
	{"size", "tmpfs", MK_VALUE, MF_SIZE},
	{"required", "secret ssh", MK_BOOL, MF_REQUIRED},
	{"env", "secret", MK_VALUE, MF_ENV},
	/* buildah's extensions, accepted so its Dockerfiles parse (bud/buildkit-mount) */
	{"z", "", MK_BUILDAH, MF_NONE},
	{"Z", "", MK_BUILDAH, MF_NONE},
	{"U", "", MK_BUILDAH, MF_NONE},
	{"relabel", "", MK_VALUE | MK_BUILDAH, MF_NONE},
	{"bind-propagation", "bind", MK_VALUE | MK_BUILDAH, MF_NONE},
	{"tmpcopyup", "tmpfs", MK_BUILDAH, MF_NONE},
	{"notmpcopyup", "tmpfs", MK_BUILDAH, MF_NONE},
	{"chown", "", MK_BUILDAH, MF_NONE},
};

static const char *const type_names[] = {
	[MOUNT_BIND] = "bind",	   [MOUNT_CACHE] = "cache", [MOUNT_TMPFS] = "tmpfs",
	[MOUNT_SECRET] = "secret", [MOUNT_SSH] = "ssh",
};

const char *mount_type_name(enum mount_type t)
{
	return t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

static const struct mount_key *mount_key_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(mount_keys); i++)
		if (streq(mount_keys[i].key, key))
			return &mount_keys[i];
	return NULL;
}

static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t w = strcspn(p, " ");

		if (w == n && strncmp(p, word, n) == 0)
			return true;
		p += w + (p[w] == ' ');
	}
	return false;
}

static int mount_error(struct kiln_error **err, const char *fmt, ...) _printf_(2, 3);

static int mount_error(struct kiln_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	return err_new(err, KILN_ERR_INPUT, EINVAL, "--mount: %s", msg);
}

static int parse_bool(const char *v, bool *ret)
{
	if (!v || streq(v, "true") || streq(v, "1"))
		*ret = true;
	else if (streq(v, "false") || streq(v, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_type(const char *v, enum mount_type *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (streq(v, type_names[i])) {
			*ret = (enum mount_type)i;
			return 0;
		}
	return -EINVAL;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* Store a checked value @v (NULL: bare key) of @mk in @m. */
static int set_field(struct mount_spec *m, const struct mount_key *mk, const char *v)
{
	unsigned u;
	bool b;

	switch (mk->field) {
	case MF_NONE:
	case MF_TYPE:
		return 0;
	case MF_TARGET:
		return set_str(&m->target, v), 0;
	case MF_SOURCE:
		return set_str(&m->source, v), 0;
	case MF_FROM:
		return set_str(&m->from, v), 0;
	case MF_ID:
		return set_str(&m->id, v), 0;
	case MF_ENV:
		return set_str(&m->env, v), 0;
	case MF_SHARING:
		return word_in(v, "shared private locked") ? (set_str(&m->sharing, v), 0) : -EINVAL;
	case MF_MODE:
		return parse_mode(v, &m->mode) < 0 ? -EINVAL : (m->mode_set = true, 0);
	case MF_UID:
		return parse_uint(v, &u) < 0 ? -EINVAL : (m->uid = u, 0);
	case MF_GID:
		return parse_uint(v, &u) < 0 ? -EINVAL : (m->gid = u, 0);
	case MF_SIZE:
		return parse_size(v, &m->size) < 0 ? -EINVAL : 0;
	case MF_RW:
		return parse_bool(v, &m->rw);
	case MF_RO:
		return parse_bool(v, &b) < 0 ? -EINVAL : (m->rw = !b, 0);
	case MF_REQUIRED:
		return parse_bool(v, &m->required);
	}
	return -EINVAL;
}

/* The mount type: the last type= (bind without one), checked before the other keys. */
static int find_type(const char *spec, enum mount_type *ret, struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	const char *type = NULL;
	char *save = NULL;

	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (startswith(f, "type="))
			type = f + 5;
	*ret = MOUNT_BIND;
	if (!type)
		return 0;
	if (parse_type(type, ret) < 0)
		return mount_error(
			err,
			"unsupported mount type '%s' (expected bind, cache, tmpfs, secret or ssh)",
			type);
	return 0;
}

/* One "key=value" (@v the value) or bare "key" (@v NULL). */
static int parse_field(struct mount_spec *m, const char *f, const char *v, unsigned flags,
		       struct kiln_error **err)
{
	const struct mount_key *mk = mount_key_find(f);
	const char *t = mount_type_name(m->type);

	if (!mk)
		return mount_error(err, "unexpected key '%s'", f);
	if (*mk->types && !word_in(t, mk->types))
		return mount_error(err, "key '%s' is not valid for type=%s", mk->key, t);
	if ((mk->flags & MK_VALUE) && !v)
		return mount_error(err, "key '%s' needs a value (%s=VALUE)", mk->key, mk->key);
	if ((mk->flags & MK_BUILDAH) && !m->buildah_key)
		m->buildah_key = xstrdup(mk->key);
	/* BuildKit's parser: a '$' anywhere but last in from= is an error */
	if (mk->field == MF_FROM && (flags & MOUNT_SPEC_UNEXPANDED) && strchr(v, '$') &&
	    strchr(v, '$') != v + strlen(v) - 1)
		return mount_error(
			err,
			"'from' doesn't support variable expansion, define alias stage instead");
	/* as written, a '$' value is kept as it is (it names a target), judged once expanded */
	if (v && (flags & MOUNT_SPEC_UNEXPANDED) && strchr(v, '$'))
		return mk->field >= MF_TARGET && mk->field <= MF_FROM ? set_field(m, mk, v) : 0;
	if (set_field(m, mk, v) >= 0)
		return 0;
	if (mk->field == MF_SHARING)
		return mount_error(
			err, "unsupported sharing value '%s' (expected shared, private or locked)",
			v);
	return mount_error(err, "invalid value '%s' for key '%s'", v ? v : "", mk->key);
}

/*
 * BuildKit's defaults: a secret's target and id from each other, a cache's id
 * from its target. A missing target parses (BuildKit's own Dockerfile has
 * --mount=from=binaries); the build refuses it.
 */
static int fill_defaults(struct mount_spec *m, unsigned flags, struct kiln_error **err)
{
	if (m->type == MOUNT_SECRET && !m->target && !m->env)
		m->target = xasprintf("/run/secrets/%s", m->id ? m->id : "");
	if (m->type == MOUNT_SECRET && !m->id && m->target) {
		const char *slash = strrchr(m->target, '/');

		m->id = xstrdup(slash ? slash + 1 : m->target);
	}
	if (m->type == MOUNT_SSH && !m->target)
		m->target = xstrdup("/run/buildkit/ssh_agent.0");
	if (!m->target && m->type != MOUNT_SECRET && !(flags & MOUNT_SPEC_UNEXPANDED))
		return mount_error(err, "a target is required (target=PATH)");
	if (m->type == MOUNT_CACHE && !m->id && m->target)
		m->id = xstrdup(m->target);
	if (m->type == MOUNT_SSH && !m->id)
		m->id = xstrdup("default");
	return 0;
}

int mount_spec_parse(const char *spec, unsigned flags, struct mount_spec *ret,
		     struct kiln_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	struct mount_spec m = {.mode = 0755};
	char *save = NULL;
	int r = find_type(spec, &m.type, err);

	for (char *f = strtok_r(copy, ",", &save); r >= 0 && f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');

		if (eq)
			*eq++ = '\0';
		r = parse_field(&m, f, eq, flags, err);
	}
	if (r >= 0)
		r = fill_defaults(&m, flags, err);
	if (r < 0) {
		mount_spec_release(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void mount_spec_release(struct mount_spec *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->env);
	free(m->sharing);
	free(m->buildah_key);
	memset(m, 0, sizeof(*m));
}
