/* SPDX-License-Identifier: Apache-2.0 */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

#include "util/banned.h"

int parse_u64(const char *s, int base, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_i64(const char *s, int base, int64_t *ret)
{
	long long v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_uint(const char *s, unsigned *ret)
{
	uint64_t v;
	int r = parse_u64(s, 10, &v);

	if (r < 0)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

int parse_int(const char *s, int *ret)
{
	int64_t v;
	int r = parse_i64(s, 10, &v);

	if (r < 0)
		return r;
	if (v > INT_MAX || v < INT_MIN)
		return -ERANGE;
	*ret = (int)v;
	return 0;
}

int parse_mode(const char *s, mode_t *ret)
{
	uint64_t v;
	int r = parse_u64(s, 8, &v);

	if (r < 0)
		return r;
	if (v > 07777)
		return -ERANGE;
	*ret = (mode_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = {{'k', 10}, {'m', 20}, {'g', 30}, {'t', 40}};
	char buf[32];
	size_t len;
	uint64_t v;
	unsigned shift = 0;
	int r;

	if (!s)
		return -EINVAL;
	len = __builtin_strlen(s);
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	__builtin_memcpy(buf, s, len + 1);
	if (len > 1 && (buf[len - 1] == 'b' || buf[len - 1] == 'B'))
		buf[--len] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (len > 1 && tolower((unsigned char)buf[len - 1]) == units[i].suffix) {
			shift = units[i].shift;
			buf[--len] = '\0';
			break;
		}
	}
	r = parse_u64(buf, 10, &v);
	if (r < 0)
		return r;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int parse_duration_ns(const char *s, int64_t *ret)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
		{"ns", 1},	   {"us", 1000},	 {"µs", 1000},		{"ms", 1000000},
		{"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
	int64_t total = 0;

	if (streq(s, "0")) {
		*ret = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		size_t best = 0, best_len = 0;

		if (end == s || v < 0)
			return -EINVAL;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].unit);

			if (strncmp(end, units[i].unit, l) == 0 && l > best_len)
				best = i, best_len = l;
		}
		if (!best_len)
			return -EINVAL;
		total += (int64_t)(v * (double)units[best].ns);
		s = end + best_len;
	}
	*ret = total;
	return 0;
}
