/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials files, read the way podman and docker read them:
 *   $REGISTRY_AUTH_FILE, or $XDG_RUNTIME_DIR/containers/auth.json, or
 *   $XDG_CONFIG_HOME/containers/auth.json, then $DOCKER_CONFIG/config.json
 *   (~/.docker/config.json).
 * Each is {"auths": {KEY: {"auth": base64("user:pass"), "identitytoken": …}},
 * "credHelpers": {REGISTRY: NAME}, "credsStore": NAME}; helpers are the
 * docker-credential-NAME programs ("get", registry on stdin, JSON out).
 * `kiln login` writes the first file atomically, mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/run-cmd.h"
#include "util/xmalloc.h"

#include "util/banned.h"

char *registry_auth_path(void)
{
	const char *e = getenv("REGISTRY_AUTH_FILE");

	if (e && *e)
		return xstrdup(e);
	if ((e = getenv("XDG_RUNTIME_DIR")) && *e)
		return xasprintf("%s/containers/auth.json", e);
	if ((e = getenv("XDG_CONFIG_HOME")) && *e)
		return xasprintf("%s/containers/auth.json", e);
	return xasprintf("%s/.config/containers/auth.json", getenv("HOME") ? getenv("HOME") : "/");
}

static char *docker_config_path(void)
{
	const char *e = getenv("DOCKER_CONFIG");

	if (e && *e)
		return xasprintf("%s/config.json", e);
	return xasprintf("%s/.docker/config.json", getenv("HOME") ? getenv("HOME") : "/");
}

/* Load @path; a missing file is an empty object, a bad one an error naming it. */
static int load_json(const char *path, json_t **ret, struct kiln_error **err)
{
	json_error_t je;
	json_t *j;

	if (access(path, F_OK) < 0) {
		*ret = errno == ENOENT ? json_object() : NULL;
		if (!*ret)
			return err_sys(err, errno, "'%s'", path);
		return 0;
	}
	j = json_load_file(path, 0, &je);
	if (!j || !json_is_object(j)) {
		struct srcloc loc = {
			.file = path, .line = (unsigned)je.line, .col = (unsigned)je.column};

		json_decref(j);
		return err_at(err, &loc, "bad credentials file: %s",
			      j ? "expected a JSON object" : je.text);
	}
	*ret = j;
	return 0;
}

/* docker config keys may be URLs: "https://index.docker.io/v1/" means docker.io. */
static char *normalize_key(const char *key)
{
	const char *k = key, *rest;
	size_t n;

	if ((rest = startswith(k, "https://")) || (rest = startswith(k, "http://")))
		k = rest;
	n = strcspn(k, "/");
	if (k != key) /* a URL: the host only */
		rest = k + n + strlen(k + n);
	else
		rest = k + n;
	if ((n == 15 && strncmp(k, "index.docker.io", 15) == 0) ||
	    (n == 20 && strncmp(k, "registry-1.docker.io", 20) == 0))
		return xasprintf("docker.io%s", k != key ? "" : rest);
	return k != key ? xstrndup(k, n) : xstrdup(k);
}

static json_t *find_auth_entry(json_t *auths, const char *want)
{
	const char *key;
	json_t *v;

	json_object_foreach(auths, key, v) {
		_cleanup_free_ char *k = normalize_key(key);

		if (streq(k, want))
			return v;
	}
	return NULL;
}

static int decode_entry(const char *path, const char *key, json_t *entry, char **ret_user,
			char **ret_secret, struct kiln_error **err)
{
	const char *auth = json_string_value(json_object_get(entry, "auth"));
	const char *idt = json_string_value(json_object_get(entry, "identitytoken"));
	_cleanup_free_ char *plain = NULL;
	size_t len;
	char *colon;

	if (idt && *idt) {
		*ret_user = xstrdup("<token>");
		*ret_secret = xstrdup(idt);
		return 1;
	}
	if (!auth || !*auth)
		return 0;
	plain = reg_base64_decode(auth, &len);
	colon = plain ? memchr(plain, ':', len) : NULL;
	if (!colon)
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "'%s': entry '%s': \"auth\" is not base64 of 'user:password'", path,
			       key);
	*ret_user = xstrndup(plain, (size_t)(colon - plain));
	*ret_secret = xstrdup(colon + 1);
	explicit_bzero(plain, len);
	return 1;
}

/* Most specific key first: "domain/a/b", "domain/a", "domain". */
static int lookup_auths(const char *path, json_t *root, const char *domain, const char *repo,
			char **ret_user, char **ret_secret, struct kiln_error **err)
{
	json_t *auths = json_object_get(root, "auths");
	_cleanup_free_ char *key = repo ? xasprintf("%s/%s", domain, repo) : xstrdup(domain);

	for (;;) {
		json_t *e = find_auth_entry(auths, key);
		char *slash;

		if (e)
			return decode_entry(path, key, e, ret_user, ret_secret, err);
		slash = strrchr(key, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
}

static int parse_helper_output(const char *helper, const struct strbuf *out, char **ret_user,
			       char **ret_secret, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *j = json_loadb(out->buf, out->len, 0, NULL);
	const char *u = json_string_value(json_object_get(j, "Username"));
	const char *s = json_string_value(json_object_get(j, "Secret"));

	if (!u || !s)
		return err_new(
			err, KILN_ERR_SYSTEM, EPROTO,
			"credential helper 'docker-credential-%s': expected JSON with Username and Secret",
			helper);
	*ret_user = xstrdup(u);
	*ret_secret = xstrdup(s);
	return 1;
}

static int run_helper(const char *helper, const char *domain, char **ret_user, char **ret_secret,
		      struct kiln_error **err)
{
	struct run_cmd cmd = RUN_CMD_INIT;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int in[2], outp[2], r;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0)
		return err_sys(err, errno, "pipe");
	strv_pushf(&cmd.args, "docker-credential-%s", helper);
	strv_push(&cmd.args, "get");
	cmd.in = in[0];
	cmd.out = outp[1];
	cmd.err = RUN_CMD_NULL;
	r = run_cmd_start(&cmd, err);
	close(in[0]);
	close(outp[1]);
	if (r >= 0) {
		(void)!write(in[1], domain, strlen(domain));
		close(in[1]);
		r = strbuf_read_fd(&out, outp[0], err);
		if (r >= 0)
			r = run_cmd_finish(&cmd, err);
	} else {
		close(in[1]);
	}
	close(outp[0]);
	run_cmd_release(&cmd);
	if (r < 0)
		return err_wrap(err, "credential helper 'docker-credential-%s'", helper);
	if (r != 0) /* "credentials not found": not an error */
		return 0;
	r = parse_helper_output(helper, &out, ret_user, ret_secret, err);
	explicit_bzero(out.buf, out.len);
	return r;
}

static int lookup_file(const char *path, const char *domain, const char *repo, char **ret_user,
		       char **ret_secret, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	const char *helper;
	int r = load_json(path, &root, err);

	if (r < 0)
		return r;
	helper = json_string_value(json_object_get(json_object_get(root, "credHelpers"), domain));
	if (helper && *helper)
		return run_helper(helper, domain, ret_user, ret_secret, err);
	r = lookup_auths(path, root, domain, repo, ret_user, ret_secret, err);
	if (r != 0)
		return r;
	helper = json_string_value(json_object_get(root, "credsStore"));
	if (helper && *helper)
		return run_helper(helper, domain, ret_user, ret_secret, err);
	return 0;
}

int registry_auth_lookup(const char *auth_file, const char *domain, const char *repo,
			 char **ret_user, char **ret_secret, struct kiln_error **err)
{
	_cleanup_free_ char *first = auth_file ? xstrdup(auth_file) : registry_auth_path();
	_cleanup_free_ char *docker = docker_config_path();
	int r;

	r = lookup_file(first, domain, repo, ret_user, ret_secret, err);
	if (r != 0 || auth_file)
		return r;
	r = lookup_file(docker, domain, repo, ret_user, ret_secret, err);
	if (r > 0)
		log_debug("registry '%s': credentials from '%s'", domain, docker);
	return r;
}

/* ---- writing (login, logout) ---- */

/* mkdir -p for a path the user chose (their own home or runtime dir). */
static int mkdir_parents(const char *dir, struct kiln_error **err)
{
	_cleanup_free_ char *p = xstrdup(dir);

	for (char *s = p + 1;; s++) {
		bool end = *s == '\0';

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return err_sys(err, errno, "mkdir '%s'", p);
		if (end)
			return 0;
		*s = '/';
	}
}

static int save_json(const char *path, json_t *root, struct kiln_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path), *text = NULL;
	char *slash = strrchr(dir, '/');
	const char *name = path;
	_cleanup_close_ int dfd = -1;
	int r;

	if (slash) {
		*slash = '\0';
		name = slash + 1;
		if (*dir && (r = mkdir_parents(dir, err)) < 0)
			return r;
	}
	dfd = open(slash ? (*dir ? dir : "/") : ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, errno, "open '%s'", dir);
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	r = fs_atomic_write(dfd, name, text, strlen(text), 0600, err);
	explicit_bzero(text, strlen(text));
	return r;
}

int registry_auth_store(const char *auth_file, const char *domain, const char *user,
			const char *secret, struct kiln_error **err)
{
	_cleanup_free_ char *path = auth_file ? xstrdup(auth_file) : registry_auth_path();
	_cleanup_free_ char *pair = xasprintf("%s:%s", user, secret), *b64 = NULL;
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_t *auths;
	int r = load_json(path, &root, err);

	if (r < 0)
		return r;
	auths = json_object_get(root, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(root, "auths", auths);
	}
	b64 = reg_base64(pair, strlen(pair));
	json_object_set_new(auths, domain, json_pack("{s:s}", "auth", b64));
	explicit_bzero(pair, strlen(pair));
	explicit_bzero(b64, strlen(b64));
	return save_json(path, root, err);
}

int registry_auth_remove(const char *auth_file, const char *domain, struct kiln_error **err)
{
	_cleanup_free_ char *path = auth_file ? xstrdup(auth_file) : registry_auth_path();
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_t *auths;
	const char *key;
	void *tmp;
	json_t *v;
	int r = load_json(path, &root, err), found = 0;

	if (r < 0)
		return r;
	auths = json_object_get(root, "auths");
	json_object_foreach_safe(auths, tmp, key, v)
	{
		_cleanup_free_ char *k = normalize_key(key);

		if (streq(k, domain) || (startswith(k, domain) && k[strlen(domain)] == '/')) {
			json_object_del(auths, key);
			found = 1;
		}
	}
	if (!found)
		return 0;
	r = save_json(path, root, err);
	return r < 0 ? r : 1;
}
