/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/*
 * Checked number parsing (banned.h forbids atoi): the whole string must be a
 * number in range. Return 0, or -EINVAL / -ERANGE; *ret is set only on success.
 */
int parse_u64(const char *s, int base, uint64_t *ret);
int parse_i64(const char *s, int base, int64_t *ret);
int parse_uint(const char *s, unsigned *ret);
int parse_int(const char *s, int *ret);
/* An octal mode such as "0755" or "755", at most 07777. */
int parse_mode(const char *s, mode_t *ret);
/* A size with an optional k/m/g suffix (powers of 1024), e.g. "64m". */
int parse_size(const char *s, uint64_t *ret);
/* A Go duration in nanoseconds: "30s", "1m30s", "500ms", "1.5h"; "0" is allowed. */
int parse_duration_ns(const char *s, int64_t *ret);
