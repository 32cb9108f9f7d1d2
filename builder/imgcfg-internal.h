/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "util/strv.h"

/*
 * Editing an OCI image configuration document (the config blob: architecture,
 * os, config{Env,Cmd,...}, rootfs, history) for the metadata instructions.
 * Field names and forms are the ones docker and BuildKit write, so podman,
 * docker and skopeo read them back the same way.
 */

/* json_decrefp comes with jansson.h */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* An empty image (FROM scratch) for @arch/@os. */
json_t *imgcfg_new(const char *arch, const char *os);
/* The "config" object, created if missing. */
json_t *imgcfg_config(json_t *doc);

/* Env as KEY=VALUE list; set replaces or appends in place, like docker. */
void imgcfg_get_env(json_t *doc, struct strv *ret);
void imgcfg_set_env(json_t *doc, const char *key, const char *value);

/* A string array field (Cmd, Entrypoint, Shell): NULL @argv removes it. */
void imgcfg_set_argv(json_t *doc, const char *field, const struct strv *argv);
/* Reads a string array field into @ret; false when absent or null. */
bool imgcfg_get_argv(json_t *doc, const char *field, struct strv *ret);

/* Plain string fields: WorkingDir, User, StopSignal. */
void imgcfg_set_string(json_t *doc, const char *field, const char *value);
const char *imgcfg_get_string(json_t *doc, const char *field);

/* ExposedPorts / Volumes: add @key with an empty object value. */
void imgcfg_add_set_member(json_t *doc, const char *field, const char *key);
void imgcfg_set_label(json_t *doc, const char *key, const char *value);
void imgcfg_add_onbuild(json_t *doc, const char *line);
/* Healthcheck: NULL @test means NONE. Durations in nanoseconds, 0 = unset. */
void imgcfg_set_healthcheck(json_t *doc, const struct strv *test, int64_t interval, int64_t timeout,
			    int64_t start_period, int64_t start_interval, int retries);

/* rootfs.diff_ids += @diff_id ("sha256:..."). */
void imgcfg_add_diff_id(json_t *doc, const char *diff_id);
/* history += {created, created_by, empty_layer?, comment?}. */
void imgcfg_add_history(json_t *doc, const char *created, const char *created_by, bool empty_layer,
			const char *comment);
void imgcfg_set_created(json_t *doc, const char *created);

/* RFC 3339 UTC time for @t, like "2023-11-14T22:13:20Z". */
char *imgcfg_time(int64_t t);
