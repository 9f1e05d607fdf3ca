/*
 * civil: Gregorian day numbers and China Standard Time periods.
 */
#include "civil.h"

#include <stdlib.h>
#include <string.h>

int64_t
civil_to_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

bool
civil_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
civil_month_days(int64_t y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return mdays[m - 1] + (m == 2 && civil_leap(y));
}

/* ---------------------------------------------------------- China Standard Time */

static int64_t
s_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
s_clamp(int64_t ms)
{
	return ms > CIVIL_TIME_MAX ? CIVIL_TIME_MAX : ms < -CIVIL_TIME_MAX ? -CIVIL_TIME_MAX : ms;
}

int64_t
civil_cst_days(int64_t ms)
{
	return s_floordiv(s_clamp(ms) + CIVIL_CST_OFFSET_MS, CIVIL_DAY_MS);
}

void
civil_cst_date(int64_t ms, int *y, int *mo, int *d)
{
	civil_from_days(civil_cst_days(ms), y, mo, d);
}

int
civil_cst_month(int64_t ms)
{
	int y, m, d;
	civil_cst_date(ms, &y, &m, &d);
	return y * 100 + m;
}

int
civil_cst_quarter(int64_t ms)
{
	int y, m, d;
	civil_cst_date(ms, &y, &m, &d);
	return y * 10 + (m + 2) / 3;
}

int
civil_cst_year(int64_t ms)
{
	int y, m, d;
	civil_cst_date(ms, &y, &m, &d);
	return y;
}

int64_t
civil_cst_midnight(int64_t y, int m, int d)
{
	return civil_to_days(y, m, d) * CIVIL_DAY_MS - CIVIL_CST_OFFSET_MS;
}

int64_t
civil_add_months(int64_t ms, int months)
{
	int64_t local = s_clamp(ms) + CIVIL_CST_OFFSET_MS;
	int64_t days = s_floordiv(local, CIVIL_DAY_MS), tod = local - days * CIVIL_DAY_MS;
	int64_t total, ny;
	int y, m, d, nm;
	civil_from_days(days, &y, &m, &d);
	total = (int64_t)y * 12 + (m - 1) + months;
	ny = s_floordiv(total, 12);
	nm = (int)(total - ny * 12) + 1;
	if (d > civil_month_days(ny, nm))
		d = civil_month_days(ny, nm);
	return civil_to_days(ny, nm, d) * CIVIL_DAY_MS + tod - CIVIL_CST_OFFSET_MS;
}

int
civil_months_between(int64_t a, int64_t b)
{
	int ya, ma, da, yb, mb, db;
	int n;
	civil_cst_date(a, &ya, &ma, &da);
	civil_cst_date(b, &yb, &mb, &db);
	n = (yb - ya) * 12 + (mb - ma);
	/* The estimate is exact or one too many, in either direction. */
	while (civil_add_months(a, n) > b)
		n--;
	while (civil_add_months(a, n + 1) <= b)
		n++;
	return n;
}

bool
civil_month_valid(int yyyymm)
{
	int y = yyyymm / 100, m = yyyymm % 100;
	return y >= 1900 && y <= 9999 && m >= 1 && m <= 12;
}

int
civil_month_diff(int a, int b)
{
	return (b / 100 - a / 100) * 12 + (b % 100 - a % 100);
}

int
civil_month_add(int yyyymm, int n)
{
	int m = (yyyymm / 100) * 12 + (yyyymm % 100 - 1) + n;
	return (m / 12) * 100 + m % 12 + 1;
}

int64_t
civil_month_start(int yyyymm)
{
	return civil_cst_midnight(yyyymm / 100, yyyymm % 100, 1);
}

int
civil_month_quarter(int yyyymm)
{
	return yyyymm / 100 * 10 + (yyyymm % 100 + 2) / 3;
}

bool
civil_period_months(int year, int quarter, int month, int *from, int *to)
{
	if (year < 1900 || year > 9999 || quarter < 0 || quarter > 4 || month < 0 ||
	    month > 12 || (quarter && month))
		return false;
	if (month) {
		*from = *to = year * 100 + month;
	} else if (quarter) {
		*from = year * 100 + 3 * quarter - 2;
		*to = year * 100 + 3 * quarter;
	} else {
		*from = year * 100 + 1;
		*to = year * 100 + 12;
	}
	return true;
}

/* n decimal digits at s, as a number; -1 if any is not a digit. */
static int
s_digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool
civil_month_parse(const char *s, int *yyyymm)
{
	size_t n = s ? strlen(s) : 0;
	int y, m;
	if (n == 7 && s[4] == '-')
		m = s_digits(s + 5, 2);
	else if (n == 6)
		m = s_digits(s + 4, 2);
	else
		return false;
	y = s_digits(s, 4);
	if (y < 0 || m < 0 || !civil_month_valid(y * 100 + m))
		return false;
	*yyyymm = y * 100 + m;
	return true;
}

bool
civil_period_parse(const char *s, int *year, int *quarter, int *month)
{
	size_t n = s ? strlen(s) : 0;
	const char *q = n > 4 && s[4] == '-' ? s + 5 : s + 4;
	int f, t, mm;
	*quarter = *month = 0;
	if (n < 4 || (*year = s_digits(s, 4)) < 0)
		return false;
	if (n == 4)
		return civil_period_months(*year, 0, 0, &f, &t);
	if ((*q == 'Q' || *q == 'q') && strlen(q) == 2)
		return (*quarter = s_digits(q + 1, 1)) >= 1 &&
		    civil_period_months(*year, *quarter, 0, &f, &t);
	if (!civil_month_parse(s, &mm))
		return false;
	*month = mm % 100;
	return true;
}

bool
civil_date_parse(const char *s, int *y, int *mo, int *d)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	*y = atoi(s);
	*mo = atoi(s + 5);
	*d = atoi(s + 8);
	return *y >= 1800 && *y <= 2099 && *mo >= 1 && *mo <= 12 && *d >= 1 &&
	    *d <= civil_month_days(*y, *mo);
}

int
civil_age_at(int by, int bm, int bd, int64_t at)
{
	int y, m, d;
	civil_cst_date(at, &y, &m, &d);
	return y - by - (m < bm || (m == bm && d < bd));
}
