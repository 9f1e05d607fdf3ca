/*
 * money: checked int64 fen arithmetic and its text.
 */
#include "money.h"

#include <stdio.h>

bool
money_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool
money_sub(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

char *
money_text(int64_t fen, char buf[MONEY_TEXT_LEN])
{
	/* The magnitude as unsigned, so INT64_MIN has one too. */
	uint64_t m = fen < 0 ? 0 - (uint64_t)fen : (uint64_t)fen;
	snprintf(buf, MONEY_TEXT_LEN, "%s%llu.%02llu", fen < 0 ? "-" : "",
	    (unsigned long long)(m / 100), (unsigned long long)(m % 100));
	return buf;
}
