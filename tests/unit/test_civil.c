/*
 * Unit tests of the calendar arithmetic (lib/civil.c): day numbers and
 * China Standard Time periods, before 1970 as after.
 */
#include "unit.h"

#include "civil.h"

static void
test_known_dates(void **state)
{
	(void)state;
	int y, m, d;
	assert_int_equal(civil_to_days(1970, 1, 1), 0);
	assert_int_equal(civil_to_days(2000, 3, 1), 11017);
	assert_int_equal(civil_to_days(1969, 12, 31), -1);
	civil_from_days(20414, &y, &m, &d);  /* 2025-11-22 */
	assert_int_equal(y, 2025);
	assert_int_equal(m, 11);
	assert_int_equal(d, 22);
	assert_true(civil_leap(2000));
	assert_false(civil_leap(1900));
	assert_true(civil_leap(2024));
	assert_int_equal(civil_month_days(2024, 2), 29);
	assert_int_equal(civil_month_days(2100, 2), 28);
	assert_int_equal(civil_month_days(2026, 11), 30);
}

static void
test_round_trip(void **state)
{
	(void)state;
	int y, m, d;
	/* Every day from 1800 to 2200, each following the last. */
	int64_t first = civil_to_days(1800, 1, 1), last = civil_to_days(2200, 12, 31);
	int py = 1799, pm = 12, pd = 31;
	for (int64_t z = first; z <= last; z++) {
		civil_from_days(z, &y, &m, &d);
		assert_int_equal(civil_to_days(y, m, d), z);
		bool next_day = y == py && m == pm && d == pd + 1;
		bool next_month = y == py && m == pm + 1 && d == 1 && pd == civil_month_days(py, pm);
		bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
		assert_true(next_day || next_month || next_year);
		py = y, pm = m, pd = d;
	}
}

/* Unix ms of a CST wall-clock time. */
static int64_t
s_cst(int y, int mo, int d, int h, int mi)
{
	return civil_cst_midnight(y, mo, d) + ((int64_t)h * 60 + mi) * 60000;
}

static void
test_cst_periods(void **state)
{
	(void)state;
	int y, m, d;
	/* 1970-01-01 00:00 UTC is 08:00 CST; 15:59:59.999 UTC is still that day. */
	assert_int_equal(civil_cst_days(0), 0);
	assert_int_equal(civil_cst_days(-8 * 3600000LL), 0);
	assert_int_equal(civil_cst_days(-8 * 3600000LL - 1), -1);
	assert_int_equal(civil_cst_days(16 * 3600000LL - 1), 0);
	assert_int_equal(civil_cst_days(16 * 3600000LL), 1);
	/* 1969-12-31 23:59 CST and 1970-01-01 00:00 CST. */
	assert_int_equal(civil_cst_month(s_cst(1969, 12, 31, 23, 59)), 196912);
	assert_int_equal(civil_cst_month(s_cst(1970, 1, 1, 0, 0)), 197001);
	assert_int_equal(civil_cst_quarter(s_cst(1969, 12, 31, 23, 59)), 19694);
	assert_int_equal(civil_cst_year(s_cst(1969, 12, 31, 23, 59)), 1969);
	/* 1949-10-01 10:00 CST, 1956-07-01, 1900-01-01 00:00 CST. */
	civil_cst_date(s_cst(1949, 10, 1, 10, 0), &y, &m, &d);
	assert_int_equal(y * 10000 + m * 100 + d, 19491001);
	assert_int_equal(civil_cst_quarter(s_cst(1949, 10, 1, 10, 0)), 19494);
	assert_int_equal(s_cst(1956, 7, 1, 0, 0), -426153600000LL);
	civil_cst_date(s_cst(1900, 1, 1, 0, 0), &y, &m, &d);
	assert_int_equal(y * 10000 + m * 100 + d, 19000101);
	civil_cst_date(s_cst(1900, 1, 1, 0, 0) - 1, &y, &m, &d);
	assert_int_equal(y * 10000 + m * 100 + d, 18991231);
	/* Quarters and months of a late-evening UTC instant. */
	assert_int_equal(civil_cst_month(s_cst(2026, 3, 31, 23, 30)), 202603);
	assert_int_equal(civil_cst_month(s_cst(2026, 4, 1, 0, 30)), 202604);
	assert_int_equal(civil_cst_quarter(s_cst(2026, 4, 1, 0, 30)), 20262);
}

static void
test_add_months(void **state)
{
	(void)state;
	/* The day clamps to the end of a shorter month; the time of day stays. */
	assert_int_equal(civil_add_months(s_cst(2024, 2, 29, 9, 30), 12), s_cst(2025, 2, 28, 9, 30));
	assert_int_equal(civil_add_months(s_cst(2025, 1, 31, 0, 0), 1), s_cst(2025, 2, 28, 0, 0));
	assert_int_equal(civil_add_months(s_cst(2024, 1, 31, 0, 0), 1), s_cst(2024, 2, 29, 0, 0));
	assert_int_equal(civil_add_months(s_cst(2025, 3, 31, 8, 0), -1), s_cst(2025, 2, 28, 8, 0));
	assert_int_equal(civil_add_months(s_cst(1969, 12, 15, 1, 0), 1), s_cst(1970, 1, 15, 1, 0));
	assert_int_equal(civil_add_months(s_cst(1956, 7, 1, 0, 0), 12), s_cst(1957, 7, 1, 0, 0));
	assert_int_equal(civil_add_months(s_cst(1948, 2, 29, 0, 0), 12 * 18), s_cst(1966, 2, 28, 0, 0));
	assert_int_equal(civil_add_months(s_cst(2025, 6, 1, 0, 0), 0), s_cst(2025, 6, 1, 0, 0));
}

static void
test_months_between(void **state)
{
	(void)state;
	int64_t a = s_cst(2025, 1, 31, 12, 0);
	assert_int_equal(civil_months_between(a, a), 0);
	assert_int_equal(civil_months_between(a, s_cst(2025, 2, 28, 11, 59)), 0);
	assert_int_equal(civil_months_between(a, s_cst(2025, 2, 28, 12, 0)), 1);
	assert_int_equal(civil_months_between(a, s_cst(2025, 7, 31, 12, 0)), 6);
	assert_int_equal(civil_months_between(a, s_cst(2025, 7, 31, 11, 0)), 5);
	assert_int_equal(civil_months_between(s_cst(1969, 12, 31, 0, 0), s_cst(1970, 1, 31, 0, 0)), 1);
	assert_int_equal(civil_months_between(s_cst(2025, 7, 31, 12, 0), a), -6);
	/* The defining property, over a spread of instants either side of 1970. */
	for (int64_t t = s_cst(1940, 1, 1, 0, 0); t < s_cst(2040, 1, 1, 0, 0); t += 37 * 86400000LL + 3600000) {
		int64_t u = t + 400 * 86400000LL + 7 * 3600000;
		int n = civil_months_between(t, u);
		assert_true(civil_add_months(t, n) <= u);
		assert_true(civil_add_months(t, n + 1) > u);
	}
}

static void
test_months_and_dates(void **state)
{
	(void)state;
	int y, m, d;
	assert_true(civil_month_valid(202611));
	assert_true(civil_month_valid(190001));
	assert_false(civil_month_valid(189912));
	assert_false(civil_month_valid(202613));
	assert_false(civil_month_valid(202600));
	assert_int_equal(civil_month_diff(202511, 202602), 3);
	assert_int_equal(civil_month_diff(202602, 202511), -3);
	assert_int_equal(civil_month_add(202511, 3), 202602);
	assert_int_equal(civil_month_add(202602, -3), 202511);
	assert_int_equal(civil_month_add(202612, 0), 202612);
	assert_int_equal(civil_month_add(202601, -1), 202512);
	assert_int_equal(civil_month_add(202701, 25), 202902);
	assert_true(civil_date_parse("1935-02-28", &y, &m, &d));
	assert_int_equal(y * 10000 + m * 100 + d, 19350228);
	assert_false(civil_date_parse("1935-02-29", &y, &m, &d));
	assert_true(civil_date_parse("2024-02-29", &y, &m, &d));
	assert_false(civil_date_parse("2024-2-29", &y, &m, &d));
	/* The 18th birthday, on a leap day too. */
	assert_int_equal(civil_age_at(2004, 2, 29, s_cst(2022, 2, 28, 23, 59)), 17);
	assert_int_equal(civil_age_at(2004, 2, 29, s_cst(2022, 3, 1, 0, 0)), 18);
	assert_int_equal(civil_age_at(1938, 7, 1, s_cst(1956, 7, 1, 0, 0)), 18);
	assert_int_equal(civil_age_at(1938, 7, 2, s_cst(1956, 7, 1, 23, 59)), 17);
}

int
unit_civil(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_dates),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_cst_periods),
		cmocka_unit_test(test_add_months),
		cmocka_unit_test(test_months_between),
		cmocka_unit_test(test_months_and_dates),
	};
	return cmocka_run_group_tests_name("civil", tests, NULL, NULL);
}
