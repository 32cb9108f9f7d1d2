/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <time.h>

/* Seconds on the monotonic clock, for measuring how long something took. */
static inline double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
