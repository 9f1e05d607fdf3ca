/*
 * money: the one home of money arithmetic. Amounts are int64 fen (分, a
 * hundredth of a yuan), never floating point; every sum a running total
 * takes goes through money_add or money_sub, which refuse to wrap.
 */
#ifndef JICENG_MONEY_H
#define JICENG_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* *out = a + b, or a - b. Returns false, *out untouched, when the result
 * does not fit in int64. */
bool money_add(int64_t a, int64_t b, int64_t *out);
bool money_sub(int64_t a, int64_t b, int64_t *out);

/* The amount in yuan for a reason text: "1234.05" (two decimals, a minus
 * sign when negative, any int64 including INT64_MIN). Returns buf. */
#define MONEY_TEXT_LEN 32
char *money_text(int64_t fen, char buf[MONEY_TEXT_LEN]);

#endif
