/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Platforms ("os/arch[/variant]") as OCI indexes and image configs name them,
 * normalised the way containerd's platforms package does, so "linux/x86_64",
 * "linux/aarch64/v8" and "linux/armhf" mean what docker and BuildKit take
 * them to mean: linux/amd64, linux/arm64, linux/arm/v7.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "layers/layers-internal.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* Architecture aliases and the variant each implies ("" keeps the one given). */
static const struct {
	const char *alias, *arch, *variant;
} arch_aliases[] = {
	{"x86_64", "amd64", ""}, {"x86-64", "amd64", ""},  {"i386", "386", ""},
	{"i686", "386", ""},	 {"aarch64", "arm64", ""}, {"armhf", "arm", "v7"},
	{"armel", "arm", "v6"},
};

static bool copy_field(char *dst, const char *src, size_t n)
{
	if (n == 0 || n >= PLATFORM_FIELD_SIZE)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return false;
		dst[i] = (char)tolower(c);
	}
	dst[n] = '\0';
	return true;
}

static void set_field(char *dst, const char *src)
{
	snprintf(dst, PLATFORM_FIELD_SIZE, "%s", src);
}

void platform_normalize(struct platform *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(arch_aliases); i++)
		if (streq(p->arch, arch_aliases[i].alias)) {
			set_field(p->arch, arch_aliases[i].arch);
			if (*arch_aliases[i].variant)
				set_field(p->variant, arch_aliases[i].variant);
		}
	if (streq(p->arch, "amd64") && streq(p->variant, "v1"))
		p->variant[0] = '\0';
	if (streq(p->arch, "arm64") &&
	    (streq(p->variant, "8") || streq(p->variant, "v8") || streq(p->variant, "v8.0")))
		p->variant[0] = '\0';
	if (streq(p->arch, "arm")) {
		if (!*p->variant || streq(p->variant, "7"))
			set_field(p->variant, "v7");
		else if (streq(p->variant, "5") || streq(p->variant, "6") || streq(p->variant, "8"))
			snprintf(p->variant, PLATFORM_FIELD_SIZE, "v%c", p->variant[0]);
	}
}

int platform_parse(const char *s, struct platform *ret, struct kiln_error **err)
{
	const char *s1 = strchr(s, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	struct platform p = {{0}};
	bool ok = s1 != NULL;

	if (ok)
		ok = copy_field(p.os, s, (size_t)(s1 - s));
	if (ok)
		ok = copy_field(p.arch, s1 + 1, s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1));
	if (ok && s2)
		ok = copy_field(p.variant, s2 + 1, strlen(s2 + 1));
	if (!ok)
		return err_usage(
			err, "bad platform '%s' (expected OS/ARCH[/VARIANT], e.g. linux/amd64)", s);
	platform_normalize(&p);
	*ret = p;
	return 0;
}

void platform_host(struct platform *ret)
{
	memset(ret, 0, sizeof(*ret));
	set_field(ret->os, "linux");
	set_field(ret->arch, image_host_arch());
	platform_normalize(ret);
}

char *platform_format(const struct platform *p, char buf[PLATFORM_STR_SIZE])
{
	snprintf(buf, PLATFORM_STR_SIZE, "%s/%s%s%s", p->os, p->arch, *p->variant ? "/" : "",
		 p->variant);
	return buf;
}

bool platform_eq(const struct platform *a, const struct platform *b)
{
	return streq(a->os, b->os) && streq(a->arch, b->arch) && streq(a->variant, b->variant);
}

/* A descriptor's "platform" or a config's own fields, normalised; false when unusable. */
bool platform_from_json(const json_t *obj, struct platform *ret)
{
	const char *os = json_string_value(json_object_get(obj, "os"));
	const char *arch = json_string_value(json_object_get(obj, "architecture"));
	const char *variant = json_string_value(json_object_get(obj, "variant"));
	struct platform p = {{0}};

	if (!os || !arch || !copy_field(p.os, os, strlen(os)) ||
	    !copy_field(p.arch, arch, strlen(arch)))
		return false;
	if (variant && *variant && !copy_field(p.variant, variant, strlen(variant)))
		return false;
	platform_normalize(&p);
	*ret = p;
	return true;
}

/* @want with no variant takes any variant of its architecture (but arm's is always set). */
bool platform_matches_json(const json_t *obj, const struct platform *want)
{
	struct platform p;

	if (!platform_from_json(obj, &p))
		return false;
	if (!streq(p.os, want->os) || !streq(p.arch, want->arch))
		return false;
	return !*want->variant || streq(p.variant, want->variant);
}

void platform_to_json(const struct platform *p, json_t *obj)
{
	json_object_set_new(obj, "architecture", json_string(p->arch));
	json_object_set_new(obj, "os", json_string(p->os));
	if (*p->variant)
		json_object_set_new(obj, "variant", json_string(p->variant));
	else
		json_object_del(obj, "variant");
}

char *platform_list_json(const json_t *manifests)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *m;

	json_array_foreach(manifests, i, m) {
		char buf[PLATFORM_STR_SIZE];
		struct platform p;

		if (platform_from_json(json_object_get(m, "platform"), &p))
			strbuf_addf(&sb, "%s%s", sb.len ? ", " : "", platform_format(&p, buf));
	}
	return strbuf_detach(&sb, NULL);
}
