/*
 * now: the clocks every process reads.
 */
#ifndef JICENG_NOW_H
#define JICENG_NOW_H

#include <stdint.h>

int64_t now_mono_ns(void);   /* CLOCK_MONOTONIC */
int64_t now_mono_ms(void);
int64_t now_wall_ms(void);   /* Unix ms (CLOCK_REALTIME) */

#endif
