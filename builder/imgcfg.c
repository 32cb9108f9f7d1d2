/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <time.h>

#include "builder/imgcfg-internal.h"
#include "util/xmalloc.h"

#include "util/banned.h"

json_t *imgcfg_new(const char *arch, const char *os)
{
	return json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", arch, "os", os,
			 "config", "rootfs", "type", "layers", "diff_ids", "history");
}

json_t *imgcfg_config(json_t *doc)
{
	json_t *c = json_object_get(doc, "config");

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(doc, "config", c);
	}
	return c;
}

void imgcfg_get_env(json_t *doc, struct strv *ret)
{
	json_t *env = json_object_get(imgcfg_config(doc), "Env"), *v;
	size_t i;

	json_array_foreach(env, i, v)
		if (json_is_string(v))
			strv_push(ret, json_string_value(v));
}

void imgcfg_set_env(json_t *doc, const char *key, const char *value)
{
	json_t *c = imgcfg_config(doc), *env = json_object_get(c, "Env"), *v;
	_cleanup_free_ char *kv = xasprintf("%s=%s", key, value);
	size_t klen = strlen(key), i;

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(c, "Env", env);
	}
	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);

		if (s && strncmp(s, key, klen) == 0 && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

void imgcfg_set_argv(json_t *doc, const char *field, const struct strv *argv)
{
	json_t *c = imgcfg_config(doc), *a;

	if (!argv) {
		json_object_del(c, field);
		return;
	}
	a = json_array();
	for (size_t i = 0; i < argv->n; i++)
		json_array_append_new(a, json_string(argv->v[i]));
	json_object_set_new(c, field, a);
}

bool imgcfg_get_argv(json_t *doc, const char *field, struct strv *ret)
{
	json_t *a = json_object_get(imgcfg_config(doc), field), *v;
	size_t i;

	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			strv_push(ret, json_string_value(v));
	return true;
}

void imgcfg_set_string(json_t *doc, const char *field, const char *value)
{
	json_object_set_new(imgcfg_config(doc), field, json_string(value));
}

const char *imgcfg_get_string(json_t *doc, const char *field)
{
	return json_string_value(json_object_get(imgcfg_config(doc), field));
}

static json_t *object_field(json_t *doc, const char *field)
{
	json_t *c = imgcfg_config(doc), *o = json_object_get(c, field);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, field, o);
	}
	return o;
}

void imgcfg_add_set_member(json_t *doc, const char *field, const char *key)
{
	json_object_set_new(object_field(doc, field), key, json_object());
}

void imgcfg_set_label(json_t *doc, const char *key, const char *value)
{
	json_object_set_new(object_field(doc, "Labels"), key, json_string(value));
}

void imgcfg_add_onbuild(json_t *doc, const char *line)
{
	json_t *c = imgcfg_config(doc), *a = json_object_get(c, "OnBuild");

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(c, "OnBuild", a);
	}
	json_array_append_new(a, json_string(line));
}

void imgcfg_set_healthcheck(json_t *doc, const struct strv *test, int64_t interval, int64_t timeout,
			    int64_t start_period, int64_t start_interval, int retries)
{
	json_t *hc = json_object(), *t = json_array();

	if (!test) {
		json_array_append_new(t, json_string("NONE"));
	} else {
		for (size_t i = 0; i < test->n; i++)
			json_array_append_new(t, json_string(test->v[i]));
	}
	json_object_set_new(hc, "Test", t);
	if (interval)
		json_object_set_new(hc, "Interval", json_integer(interval));
	if (timeout)
		json_object_set_new(hc, "Timeout", json_integer(timeout));
	if (start_period)
		json_object_set_new(hc, "StartPeriod", json_integer(start_period));
	if (start_interval)
		json_object_set_new(hc, "StartInterval", json_integer(start_interval));
	if (retries)
		json_object_set_new(hc, "Retries", json_integer(retries));
	json_object_set_new(imgcfg_config(doc), "Healthcheck", hc);
}

void imgcfg_add_diff_id(json_t *doc, const char *diff_id)
{
	json_t *rootfs = json_object_get(doc, "rootfs"), *ids;

	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(doc, "rootfs", rootfs);
	}
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		ids = json_array();
		json_object_set_new(rootfs, "diff_ids", ids);
	}
	json_array_append_new(ids, json_string(diff_id));
}

void imgcfg_add_history(json_t *doc, const char *created, const char *created_by, bool empty_layer,
			const char *comment)
{
	json_t *h = json_object_get(doc, "history"), *e = json_object();

	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(doc, "history", h);
	}
	if (created)
		json_object_set_new(e, "created", json_string(created));
	json_object_set_new(e, "created_by", json_string(created_by));
	if (comment)
		json_object_set_new(e, "comment", json_string(comment));
	if (empty_layer)
		json_object_set_new(e, "empty_layer", json_true());
	json_array_append_new(h, e);
}

void imgcfg_set_created(json_t *doc, const char *created)
{
	json_object_set_new(doc, "created", json_string(created));
}

char *imgcfg_time(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}
