/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references with Docker's normalisation (distribution/reference's
 * grammar, written from its documentation):
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] component ( "/" component )*
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest    := "sha256:" 64 lowercase hex (other algorithms are refused)
 *
 * The first component is a domain when it contains '.' or ':', is
 * "localhost", or has an upper-case letter; otherwise the domain is
 * docker.io, and a one-component path there gets "library/".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "registry/registry.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define DOCKER_DOMAIN "docker.io"
#define NAME_MAX_LEN  255
#define TAG_MAX_LEN   128

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Length of a valid separator at @s ("." "_" "__" "-"+), or 0. */
static size_t separator_len(const char *s, size_t n)
{
	size_t i = 0;

	if (n >= 1 && s[0] == '.')
		return 1;
	if (n >= 2 && s[0] == '_' && s[1] == '_')
		return 2;
	if (n >= 1 && s[0] == '_')
		return 1;
	while (i < n && s[i] == '-')
		i++;
	return i;
}

static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0, sep;

		while (i + run < n && is_lower_alnum(s[i + run]))
			run++;
		if (run == 0)
			return false;
		i += run;
		if (i == n)
			return true;
		sep = separator_len(s + i, n - i);
		if (sep == 0)
			return false;
		i += sep;
		if (i == n)
			return false;
	}
	return n > 0;
}

static bool domain_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == ':' || c == '[' ||
	       c == ']';
}

static int check_domain(const char *d, const char *input, struct kiln_error **err)
{
	const char *colon = strrchr(d, ':');

	if (!*d)
		return err_at(err, NULL, "invalid reference '%s': empty registry name", input);
	for (const char *p = d; *p; p++)
		if (!domain_char_ok(*p))
			return err_at(
				err, NULL,
				"invalid reference '%s': registry '%s' has a bad character '%c'",
				input, d, *p);
	if (colon && !strchr(colon, ']')) {
		if (!colon[1])
			return err_at(err, NULL,
				      "invalid reference '%s': registry '%s' has an empty port",
				      input, d);
		for (const char *p = colon + 1; *p; p++)
			if (!isdigit((unsigned char)*p))
				return err_at(
					err, NULL,
					"invalid reference '%s': registry port '%s' is not a number",
					input, colon + 1);
	}
	return 0;
}

static int check_path(const char *path, const char *input, struct kiln_error **err)
{
	const char *p = path;

	for (const char *c = path; *c; c++)
		if (isupper((unsigned char)*c))
			return err_at(err, NULL,
				      "invalid reference '%s': repository name must be lowercase",
				      input);
	while (true) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!component_valid(p, n))
			return err_at(
				err, NULL,
				"invalid reference '%s': bad name component '%.*s' (expected lowercase letters and digits separated by '.', '_', '__' or '-')",
				input, (int)n, p);
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

static int check_tag(const char *tag, const char *input, struct kiln_error **err)
{
	size_t n = strlen(tag);
	bool ok = n > 0 && n <= TAG_MAX_LEN && (isalnum((unsigned char)tag[0]) || tag[0] == '_');

	for (size_t i = 1; ok && i < n; i++)
		ok = isalnum((unsigned char)tag[i]) || strchr("_.-", tag[i]);
	if (!ok)
		return err_at(
			err, NULL,
			"invalid reference '%s': bad tag '%s' (expected up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-')",
			input, tag);
	return 0;
}

static int check_digest(const char *d, const char *input, struct kiln_error **err)
{
	struct digest parsed;

	if (!startswith(d, "sha256:"))
		return err_at(
			err, NULL,
			"invalid reference '%s': unsupported digest '%s' (expected sha256:<64 hex digits>)",
			input, d);
	if (digest_parse(d, &parsed, NULL) < 0)
		return err_at(
			err, NULL,
			"invalid reference '%s': bad digest '%s' (expected sha256:<64 lowercase hex digits>)",
			input, d);
	return 0;
}

static bool first_is_domain(const char *name, size_t n)
{
	if (n == 9 && strncmp(name, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '.' || name[i] == ':' || isupper((unsigned char)name[i]))
			return true;
	return false;
}

/* Split "name[:tag]" (digest already removed) into name and tag. */
static void split_tag(char *s, char **ret_tag)
{
	char *slash = strrchr(s, '/');
	char *colon = strrchr(slash ? slash : s, ':');

	*ret_tag = NULL;
	if (colon) {
		*colon = '\0';
		*ret_tag = colon + 1;
	}
}

static void split_domain(const char *name, char **ret_domain, char **ret_path)
{
	const char *slash = strchr(name, '/');

	if (slash && first_is_domain(name, (size_t)(slash - name))) {
		*ret_domain = xstrndup(name, (size_t)(slash - name));
		*ret_path = xstrdup(slash + 1);
	} else {
		*ret_domain = xstrdup(DOCKER_DOMAIN);
		*ret_path = slash ? xstrdup(name) : xasprintf("library/%s", name);
	}
	if (streq(*ret_domain, "index.docker.io") || streq(*ret_domain, "registry-1.docker.io")) {
		free(*ret_domain);
		*ret_domain = xstrdup(DOCKER_DOMAIN);
	}
	if (streq(*ret_domain, DOCKER_DOMAIN) && !strchr(*ret_path, '/')) {
		char *p = xasprintf("library/%s", *ret_path);

		free(*ret_path);
		*ret_path = p;
	}
}

static int parse_parts(const char *input, char *s, struct registry_ref *r, struct kiln_error **err)
{
	char *at = strchr(s, '@'), *tag;
	int ret;

	if (at) {
		*at = '\0';
		if ((ret = check_digest(at + 1, input, err)) < 0)
			return ret;
		r->digest = xstrdup(at + 1);
	}
	split_tag(s, &tag);
	if (tag && (ret = check_tag(tag, input, err)) < 0)
		return ret;
	if (!*s)
		return err_at(err, NULL, "invalid reference '%s': empty repository name", input);
	if (strlen(s) > NAME_MAX_LEN)
		return err_at(err, NULL, "invalid reference '%s': name longer than %d characters",
			      input, NAME_MAX_LEN);
	split_domain(s, &r->domain, &r->path);
	if ((ret = check_domain(r->domain, input, err)) < 0 ||
	    (ret = check_path(r->path, input, err)) < 0)
		return ret;
	if (tag)
		r->tag = xstrdup(tag);
	else if (!r->digest)
		r->tag = xstrdup("latest");
	return 0;
}

int registry_ref_parse(const char *s, struct registry_ref *ret, struct kiln_error **err)
{
	struct registry_ref r = {0};
	const char *rest = startswith(s, "docker://");
	_cleanup_free_ char *copy = NULL;
	int rc;

	rest = rest ? rest : s;
	if (!*rest)
		return err_at(err, NULL, "invalid reference '%s': empty", s);
	for (const char *p = rest; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return err_at(err, NULL, "invalid reference '%s': contains white space", s);
	copy = xstrdup(rest);
	rc = parse_parts(s, copy, &r, err);
	if (rc < 0) {
		registry_ref_release(&r);
		return rc;
	}
	*ret = r;
	return 0;
}

void registry_ref_release(struct registry_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	*r = (struct registry_ref){0};
}

char *registry_ref_name(const struct registry_ref *r)
{
	return xasprintf("%s/%s", r->domain, r->path);
}

char *registry_ref_format(const struct registry_ref *r)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/%s", r->domain, r->path);
	if (r->tag)
		strbuf_addf(&sb, ":%s", r->tag);
	if (r->digest)
		strbuf_addf(&sb, "@%s", r->digest);
	return strbuf_detach(&sb, NULL);
}

char *registry_ref_display(const char *s)
{
	struct registry_ref ref;
	char *full;

	if (registry_ref_parse(s, &ref, NULL) < 0)
		return xstrdup(s);
	full = registry_ref_format(&ref);
	registry_ref_release(&ref);
	return full;
}

bool registry_domain_is_local(const char *domain)
{
	size_t n = strcspn(domain, ":");

	if (domain[0] == '[')
		return startswith(domain, "[::1]") != NULL;
	if (n == 9 && strncmp(domain, "localhost", 9) == 0)
		return true;
	return strncmp(domain, "127.", 4) == 0;
}
