/*
 * civil: proleptic Gregorian calendar arithmetic on day numbers (days since
 * 1970-01-01), after Howard Hinnant's days_from_civil / civil_from_days.
 * Pure integer code: the rules, the ID-number checks, the simulator and the
 * benchmark all count days the same way. Time zones are the caller's.
 */
#ifndef JICENG_CIVIL_H
#define JICENG_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* Day number of y-m-d (m 1..12, d 1..31; not range-checked). */
int64_t civil_to_days(int64_t y, int m, int d);
/* The date of a day number. */
void civil_from_days(int64_t days, int *y, int *m, int *d);
bool civil_leap(int64_t y);
/* Days in month m (1..12) of year y. */
int civil_month_days(int64_t y, int m);

#endif
