/*
 * latency: the ack-latency histogram (latency.h).
 */
#include "latency.h"

#include <stdlib.h>
#include <string.h>

const uint32_t latency_bounds_us[LATENCY_BUCKETS] = {
	250, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000,
	10000, 15000, 20000, 30000, 50000, 75000, 100000, 250000, 500000, 1000000,
	2500000, 10000000,
};

void
latency_add(struct latency *l, int64_t ns)
{
	unsigned lo = 0, hi = LATENCY_BUCKETS;
	if (ns < 0)
		ns = 0;
	while (lo < hi) {   /* the first bound >= ns */
		unsigned mid = (lo + hi) / 2;
		if ((int64_t)latency_bounds_us[mid] * 1000 < ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	l->n[lo]++;
	l->count++;
	l->sum_ns += ns;
}

void
latency_write(FILE *f, const char *name, const char *labels, const struct latency *l)
{
	uint64_t below = 0;
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
		below += l->n[i];
		fprintf(f, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
		    latency_bounds_us[i] / 1e6, (unsigned long long)below);
	}
	fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)l->count);
	fprintf(f, "%s_sum{%s} %.6f\n", name, labels, (double)l->sum_ns / 1e9);
	fprintf(f, "%s_count{%s} %llu\n", name, labels, (unsigned long long)l->count);
}

/* The value after `name<suffix>{labels` + rest + `} `, or NULL. */
static const char *
s_find(const char *text, const char *name, const char *suffix, const char *labels,
    const char *rest)
{
	char key[256];
	snprintf(key, sizeof key, "%s%s{%s%s} ", name, suffix, labels, rest);
	for (const char *at = text; (at = strstr(at, key)); at++)
		if (at == text || at[-1] == '\n')
			return at + strlen(key);
	return NULL;
}

int
latency_read(const char *text, const char *name, const char *labels, struct latency *l)
{
	const char *v;
	char le[48];
	uint64_t below = 0;
	memset(l, 0, sizeof *l);
	for (unsigned i = 0; i <= LATENCY_BUCKETS; i++) {
		if (i < LATENCY_BUCKETS)
			snprintf(le, sizeof le, ",le=\"%g\"", latency_bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof le, ",le=\"+Inf\"");
		if (!(v = s_find(text, name, "_bucket", labels, le)))
			return -1;
		uint64_t cum = strtoull(v, NULL, 10);
		if (cum < below)
			return -1;
		l->n[i] = cum - below;
		below = cum;
	}
	if (!(v = s_find(text, name, "_count", labels, "")) || strtoull(v, NULL, 10) != below)
		return -1;
	l->count = below;
	if (!(v = s_find(text, name, "_sum", labels, "")))
		return -1;
	l->sum_ns = (int64_t)(strtod(v, NULL) * 1e9);
	return 0;
}

void
latency_since(struct latency *l, const struct latency *earlier)
{
	for (unsigned i = 0; i <= LATENCY_BUCKETS; i++)
		l->n[i] -= earlier->n[i];
	l->count -= earlier->count;
	l->sum_ns -= earlier->sum_ns;
}

double
latency_quantile_us(const struct latency *l, double q)
{
	double rank = q * (double)l->count, below = 0;
	if (l->count == 0)
		return 0;
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
		if (l->n[i] && below + (double)l->n[i] >= rank) {
			double lo = i ? latency_bounds_us[i - 1] : 0;
			return lo + (latency_bounds_us[i] - lo) * (rank - below) / (double)l->n[i];
		}
		below += (double)l->n[i];
	}
	return latency_bounds_us[LATENCY_BUCKETS - 1];
}

double
latency_share_within(const struct latency *l, uint32_t bound_us)
{
	uint64_t within = 0;
	if (l->count == 0)
		return 1;
	for (unsigned i = 0; i < LATENCY_BUCKETS && latency_bounds_us[i] <= bound_us; i++)
		within += l->n[i];
	return (double)within / (double)l->count;
}
