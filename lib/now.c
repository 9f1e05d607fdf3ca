/*
 * now: the clocks every process reads.
 */
#include "now.h"

#include <time.h>

int64_t
now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
now_mono_ms(void)
{
	return now_mono_ns() / 1000000;
}

int64_t
now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
