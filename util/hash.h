/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

/* FNV-1a, 64 bits: for hash tables and content-defined choices, never for integrity. */
static inline uint64_t fnv1a64(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}
