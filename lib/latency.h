/*
 * latency: a fixed-bucket histogram of ack latencies, from the broker
 * reading an envelope to its ack handed to ZeroMQ (the group commit's wait
 * and flush, the owning worker's apply; not the network, nor the time an
 * envelope waits unread while a commit is paced). One per worker, written
 * to the metrics text file as a Prometheus histogram, and read back from
 * it by the benchmark.
 */
#ifndef JICENG_LATENCY_H
#define JICENG_LATENCY_H

#include <stdint.h>
#include <stdio.h>

#define LATENCY_BUCKETS 24

struct latency {
	uint64_t n[LATENCY_BUCKETS + 1];   /* per bucket; the last is above every bound */
	uint64_t count;
	int64_t sum_ns;
};

/* The buckets' upper bounds in microseconds, ascending. */
extern const uint32_t latency_bounds_us[LATENCY_BUCKETS];

void latency_add(struct latency *l, int64_t ns);
/* name_bucket{labels,le="…"} lines (cumulative), name_sum and name_count;
 * labels is `key="value"`. */
void latency_write(FILE *f, const char *name, const char *labels, const struct latency *l);
/* Read back, from text as latency_write wrote it, the histogram name with
 * labels into l (count and per-bucket counts; sum_ns to the microsecond).
 * 0, or -1 when it is not all there. */
int latency_read(const char *text, const char *name, const char *labels, struct latency *l);
/* l minus an earlier reading of the same histogram. */
void latency_since(struct latency *l, const struct latency *earlier);
/* The q-quantile (0 < q < 1) in microseconds, interpolated linearly
 * within its bucket (as Prometheus' histogram_quantile); the last bound
 * when it lies above every bound, 0 when l is empty. */
double latency_quantile_us(const struct latency *l, double q);
/* The share of l at or under bound_us (one of latency_bounds_us). */
double latency_share_within(const struct latency *l, uint32_t bound_us);

#endif
