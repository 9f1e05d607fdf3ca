/*
 * Unit tests of the calendar arithmetic (lib/civil.c).
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

int
unit_civil(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_dates),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("civil", tests, NULL, NULL);
}
