/*
 * be64: big-endian u64, the byte order of every seq and counter key and
 * value in the LMDB environments (so keys sort by number).
 */
#ifndef JICENG_BE64_H
#define JICENG_BE64_H

#include <stdint.h>

static inline void
be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t
be64_get(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

#endif
