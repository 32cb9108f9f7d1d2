/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "layers/layers.h"
#include "util/error.h"

/*
 * The step cache (DESIGN.md, "Cache keys"). A key is the SHA-256 of a list of
 * lines that start with the parent's key; an entry in cache/<key hex> records
 * the layer the step produced (or that it produced none). Entries are written
 * atomically and never trusted blindly: a hit whose blob is gone is a miss.
 */
struct cache_key {
	struct sha256 *h;
};

void cache_key_begin(struct cache_key *k, const struct digest *parent);
/* Add one field: "NAME VALUE\n", with the value length so fields cannot run together. */
void cache_key_add(struct cache_key *k, const char *name, const char *value);
void cache_key_addf(struct cache_key *k, const char *name, const char *fmt, ...) _printf_(3, 4);
void cache_key_finish(struct cache_key *k, struct digest *ret);

struct cache_entry {
	bool has_layer;
	struct layer_desc layer;
	char *created; /* RFC 3339: when the step first ran (NULL in older entries) */
};

/* 1 and *ret filled on a hit, 0 on a miss, < 0 on error. */
int cache_lookup(struct store *s, const struct digest *key, struct cache_entry *ret,
		 struct kiln_error **err);
int cache_store(struct store *s, const struct digest *key, const struct cache_entry *e,
		struct kiln_error **err);
void cache_entry_release(struct cache_entry *e);
/* An entry as cache/<key> stores it (and a remote cache's records, cache-remote.h). */
json_t *cache_entry_to_json(const struct cache_entry *e);
int cache_entry_from_json(json_t *j, struct cache_entry *ret, struct kiln_error **err);
