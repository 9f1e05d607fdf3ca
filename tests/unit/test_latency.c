/*
 * Unit tests of the ack-latency histogram (lib/latency.c): the bucket an
 * ack falls in, the text it is written as and read back from, and the
 * quantiles and shares the benchmark reports from it.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "latency.h"

#define MS 1000000LL

static void
test_buckets(void **state)
{
	(void)state;
	struct latency l = { 0 };
	latency_add(&l, -5);             /* a clock step back: the first bucket */
	latency_add(&l, 250 * 1000);     /* on the first bound */
	latency_add(&l, 5 * MS);         /* on 5 ms: counted within it */
	latency_add(&l, 5 * MS + 1);     /* just over: the next bucket */
	latency_add(&l, 11000 * MS);     /* above every bound */
	assert_int_equal(l.n[0], 2);
	unsigned at5 = 0;
	while (latency_bounds_us[at5] != 5000)
		at5++;
	assert_int_equal(l.n[at5], 1);
	assert_int_equal(l.n[at5 + 1], 1);
	assert_int_equal(l.n[LATENCY_BUCKETS], 1);
	assert_int_equal(l.count, 5);
	assert_int_equal(l.sum_ns, 250000 + 10 * MS + 1 + 11000 * MS);
	for (unsigned i = 1; i < LATENCY_BUCKETS; i++)
		assert_true(latency_bounds_us[i] > latency_bounds_us[i - 1]);
}

static void
test_write_read(void **state)
{
	(void)state;
	struct latency l = { 0 }, m = { 0 }, back;
	char *text = NULL;
	size_t len = 0;
	for (int i = 0; i < 40; i++)
		latency_add(&l, (int64_t)i * 700000);
	latency_add(&m, 3 * MS);
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	latency_write(f, "x_seconds", "domain=\"meetings\"", &l);
	latency_write(f, "x_seconds", "domain=\"funds\"", &m);
	fclose(f);
	assert_non_null(strstr(text, "x_seconds_bucket{domain=\"meetings\",le=\"0.005\"} 8\n"));
	assert_non_null(strstr(text, "x_seconds_bucket{domain=\"funds\",le=\"+Inf\"} 1\n"));
	assert_int_equal(latency_read(text, "x_seconds", "domain=\"meetings\"", &back), 0);
	assert_memory_equal(back.n, l.n, sizeof l.n);
	assert_int_equal(back.count, 40);
	assert_true(llabs(back.sum_ns - l.sum_ns) < 1000);
	assert_int_equal(latency_read(text, "x_seconds", "domain=\"funds\"", &back), 0);
	assert_int_equal(back.count, 1);
	assert_int_equal(latency_read(text, "x_seconds", "domain=\"query\"", &back), -1);
	assert_int_equal(latency_read(text, "y_seconds", "domain=\"funds\"", &back), -1);
	/* A count that does not match the buckets is not a histogram. */
	char *bad = strdup(text), *at = strstr(bad, "x_seconds_count{domain=\"funds\"} 1");
	assert_non_null(at);
	at[strlen("x_seconds_count{domain=\"funds\"} ")] = '7';
	assert_int_equal(latency_read(bad, "x_seconds", "domain=\"funds\"", &back), -1);
	free(bad);
	free(text);
}

static void
test_quantiles(void **state)
{
	(void)state;
	struct latency l = { 0 }, earlier;
	assert_true(latency_quantile_us(&l, 0.99) == 0);
	assert_true(latency_share_within(&l, 5000) == 1);
	for (int i = 0; i < 98; i++)
		latency_add(&l, 1 * MS);     /* (750, 1000] us */
	latency_add(&l, 20 * MS);        /* (15000, 20000] */
	latency_add(&l, 20 * MS);
	/* rank 99: the first of the two in (15000, 20000], half way. */
	assert_true(latency_quantile_us(&l, 0.99) == 17500);
	double p50 = latency_quantile_us(&l, 0.5);
	assert_true(p50 > 877 && p50 < 878);   /* 750 + 250 * 50 / 98 */
	assert_true(latency_share_within(&l, 5000) == 0.98);
	assert_true(latency_share_within(&l, 20000) == 1);
	earlier = l;
	latency_add(&l, 3 * MS);
	latency_add(&l, 20000 * MS);       /* above every bound: the last */
	latency_since(&l, &earlier);
	assert_int_equal(l.count, 2);
	assert_true(latency_quantile_us(&l, 0.25) > 2500 && latency_quantile_us(&l, 0.25) <= 3000);
	assert_true(latency_quantile_us(&l, 0.99) == latency_bounds_us[LATENCY_BUCKETS - 1]);
	assert_true(latency_share_within(&l, 5000) == 0.5);
}

int
unit_latency(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_quantiles),
	};
	return cmocka_run_group_tests_name("latency", tests, NULL, NULL);
}
