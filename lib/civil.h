/*
 * civil: the one calendar of jiceng. Proleptic Gregorian arithmetic on day
 * numbers (days since 1970-01-01, after Howard Hinnant's days_from_civil /
 * civil_from_days), and China Standard Time (UTC+8, no daylight saving)
 * periods of Unix ms instants: the day, month, quarter and year a journal
 * time falls in, months between two instants, adding months. Pure integer
 * code, right before 1970 too: every domain, the reports, the ID-number
 * checks, the simulator and the benchmark count days the same way.
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


#define CIVIL_DAY_MS         86400000LL
#define CIVIL_CST_OFFSET_MS  (8 * 3600000LL)
/* Instants are clamped to +-CIVIL_TIME_MAX (year 9999), so no arithmetic
 * below can overflow. */
#define CIVIL_TIME_MAX       253402300799999LL

/* The CST day number of a Unix ms instant. */
int64_t civil_cst_days(int64_t ms);
/* The CST calendar date of a Unix ms instant. */
void civil_cst_date(int64_t ms, int *y, int *mo, int *d);
/* The CST month as YYYYMM (202611), quarter as YYYYQ (20264), year. */
int civil_cst_month(int64_t ms);
int civil_cst_quarter(int64_t ms);
int civil_cst_year(int64_t ms);
/* The instant of 00:00 CST on y-m-d. */
int64_t civil_cst_midnight(int64_t y, int m, int d);
/* The same CST wall-clock time `months` calendar months later (earlier
 * when negative); a day past the end of the month becomes its last day
 * (29 Feb + 1 year = 28 Feb). Non-decreasing in ms. */
int64_t civil_add_months(int64_t ms, int months);
/* Completed calendar months from a to b (CST): the largest n with
 * civil_add_months(a, n) <= b; negative when b is before a. */
int civil_months_between(int64_t a, int64_t b);
/* Is YYYYMM a real month (years 1900-9999)? */
bool civil_month_valid(int yyyymm);
/* Months from month a to month b, both YYYYMM (b - a in months). */
int civil_month_diff(int a, int b);
/* The month n months after YYYYMM (before, n < 0; the result >= 000101). */
int civil_month_add(int yyyymm, int n);
/* The instant of 00:00 CST on the first day of YYYYMM. */
int64_t civil_month_start(int yyyymm);
/* The quarter of YYYYMM as YYYYQ (202503 -> 20251). */
int civil_month_quarter(int yyyymm);
/* A reporting period in CST: the year (quarter and month 0), a quarter of
 * it (1-4) or a month of it (1-12), as its first and last month (YYYYMM).
 * False for a year outside 1900-9999, a quarter or month out of range, or
 * both a quarter and a month. */
bool civil_period_months(int year, int quarter, int month, int *from, int *to);
/* Parse a period: "2025", "2025Q3" or "2025-Q3" (q too), "2025-07" or
 * "202507", into the arguments of civil_period_months (which must accept
 * them). */
bool civil_period_parse(const char *s, int *year, int *quarter, int *month);
/* Parse a month "2025-07" or "202507" into YYYYMM (a real month). */
bool civil_month_parse(const char *s, int *yyyymm);
/* Parse a real date "YYYY-MM-DD" (years 1800-2099). */
bool civil_date_parse(const char *s, int *y, int *mo, int *d);
/* Completed years of age at instant `at` (CST) for a birth date. */
int civil_age_at(int by, int bm, int bd, int64_t at);

#endif
