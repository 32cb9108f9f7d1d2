/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A small TAP producer for unit tests. Each TEST() is one TAP line; a failing
 * ASSERT prints file:line and the expression (systemd's ASSERT_*) and fails
 * only that test. Call tap_run() from main with the test table.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
};

extern bool tap_failed_;

#define TEST(name) static void test_##name(void)
#define TAP_ENTRY(name)            \
	{                          \
#name, test_##name \
	}

#define TAP_FAIL_(fmt, ...)                                                    \
	do {                                                                   \
		printf("# %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
		tap_failed_ = true;                                            \
		return;                                                        \
	} while (0)

#define ASSERT_TRUE(expr)                                         \
	do {                                                      \
		if (!(expr))                                      \
			TAP_FAIL_("assertion failed: %s", #expr); \
	} while (0)

#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

#define ASSERT_EQ(a, b)                                                    \
	do {                                                               \
		intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);           \
		if (a_ != b_)                                              \
			TAP_FAIL_("%s == %s: %jd != %jd", #a, #b, a_, b_); \
	} while (0)

#define ASSERT_GE(a, b)                                                   \
	do {                                                              \
		intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);          \
		if (a_ < b_)                                              \
			TAP_FAIL_("%s >= %s: %jd < %jd", #a, #b, a_, b_); \
	} while (0)

#define ASSERT_LT(a, b)                                                   \
	do {                                                              \
		intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);          \
		if (!(a_ < b_))                                           \
			TAP_FAIL_("%s < %s: %jd >= %jd", #a, #b, a_, b_); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                  \
	do {                                                                                \
		const char *a_ = (a), *b_ = (b);                                            \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                      \
			TAP_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", \
				  b_ ? b_ : "(null)");                                      \
	} while (0)

#define ASSERT_NULL(p)	   ASSERT_TRUE((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

static inline int tap_run(const struct tap_test *tests, size_t n)
{
	int failures = 0;

	printf("1..%zu\n", n);
	fflush(stdout); /* a test that forks must not print the plan again */
	for (size_t i = 0; i < n; i++) {
		tap_failed_ = false;
		tests[i].fn();
		printf("%sok %zu - %s\n", tap_failed_ ? "not " : "", i + 1, tests[i].name);
		fflush(stdout);
		failures += tap_failed_;
	}
	return failures ? 1 : 0;
}

#define TAP_MAIN(...)                                                       \
	bool tap_failed_;                                                   \
	int main(void)                                                      \
	{                                                                   \
		static const struct tap_test tests_[] = {__VA_ARGS__};      \
		return tap_run(tests_, sizeof(tests_) / sizeof(tests_[0])); \
	}
