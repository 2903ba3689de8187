/*
 * clock-offset: prints CLOCK_REALTIME minus CLOCK_MONOTONIC in nanoseconds,
 * to turn realtime stamps (WAYLAND_DEBUG traces) into monotonic ones
 * (weston's timeline, the workload client). The smallest of a few tries.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <time.h>

static long long ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(void)
{
	long long best = 0, best_gap = -1;
	for (int i = 0; i < 5; i++) {
		long long m0 = ns(CLOCK_MONOTONIC), r = ns(CLOCK_REALTIME), m1 = ns(CLOCK_MONOTONIC);
		if (best_gap < 0 || m1 - m0 < best_gap) {
			best_gap = m1 - m0;
			best = r - (m0 + m1) / 2;
		}
	}
	printf("%lld\n", best);
	return 0;
}
