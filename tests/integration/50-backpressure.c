/*
 * 50-backpressure: bounded memory under overload. With a small
 * max_backlog and backlog_pause_ms, the membership worker is stopped
 * (SIGSTOP) while a client keeps pushing: the journaled-but-unapplied
 * backlog stays near its cap, the client is answered RETRY_LATER/BACKLOG
 * once the pause has lasted, jicengd's RSS stays bounded; after SIGCONT
 * every event the client resends is applied exactly once.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BP_N 3000
#define BP_BACKLOG 50
#define BP_BATCH 16
#define BP_PAUSE_MS 200
#define BP_STOP_MS 2500

static const char s_config[] =
    "[daemon]\n"
    "max_backlog = 50\n"
    "backlog_pause_ms = 200\n"
    "max_batch = 16\n"
    "heartbeat_ms = 2000\n";

struct bp {
	struct hmsg msgs[BP_N];
	int queue[BP_N];          /* indices to send next, a ring */
	int qhead, qlen;
	int accepted[BP_N];
	int retry_later, bad;
	int64_t first_retry_ms;   /* monotonic, 0 until the first */
	uint64_t max_backlog;     /* worst journal_length - cursor seen */
	long rss_max;
};

static void
s_push(struct bp *b, int i)
{
	b->queue[(b->qhead + b->qlen++) % BP_N] = i;
}

static void
s_ack(struct bp *b, Ack *a)
{
	int i;
	if (sscanf(a->event_id, "bp-%d", &i) != 1 || i < 0 || i >= BP_N) {
		fprintf(stderr, "ack for '%s': %s/%s\n", a->event_id, codec_verdict_name(a->verdict), a->code);
		b->bad++;
		return;
	}
	if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER) {
		if (strcmp(a->code, "BACKLOG") != 0) {
			fprintf(stderr, "%s: RETRY_LATER %s\n", a->event_id, a->code);
			b->bad++;
		}
		if (!b->first_retry_ms)
			b->first_retry_ms = now_mono_ms();
		b->retry_later++;
		s_push(b, i);
		return;
	}
	if (a->verdict != JICENG__V1__VERDICT__ACCEPTED) {
		fprintf(stderr, "%s: %s/%s (%s)\n", a->event_id, codec_verdict_name(a->verdict), a->code,
		    a->reason);
		b->bad++;
		return;
	}
	b->accepted[i]++;
}

/* Push and read until `until` (monotonic) or, with until = 0, until every
 * event is accepted; sample the backlog and RSS. Returns the accepted
 * count. */
static int
s_drive(struct hd *d, void *sock, struct bp *b, int64_t until, int64_t limit)
{
	int64_t next_sample = 0;
	int done = 0;
	for (;;) {
		int64_t now = now_mono_ms();
		done = 0;
		for (int i = 0; i < BP_N; i++)
			done += b->accepted[i] > 0;
		if ((until && now >= until) || (!until && done == BP_N) || now >= limit)
			return done;
		while (b->qlen > 0) {
			struct hmsg *m = &b->msgs[b->queue[b->qhead]];
			if (zmq_send(sock, m->buf, m->len, ZMQ_DONTWAIT) < 0)
				break;
			b->qhead = (b->qhead + 1) % BP_N;
			b->qlen--;
		}
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&it, 1, b->qlen ? 1 : 20) > 0)
			for (Ack *a; (a = hc_recv(sock, 0));) {
				s_ack(b, a);
				hc_ack_free(a);
			}
		if (now >= next_sample) {
			long rss = h_rss_kb(d->pid);
			if (rss > b->rss_max)
				b->rss_max = rss;
			QueryReply *r = hq_stats(d);
			if (r) {
				for (size_t i = 0; i < r->stats->n_workers; i++) {
					uint64_t lag = r->stats->workers[i]->lag;
					if (lag > b->max_backlog)
						b->max_backlog = lag;
				}
				hq_free(r);
			}
			next_sample = now + 100;
		}
	}
}

static void
test_backlog_pause_and_retry(void **state)
{
	struct hd_opts o = { .config = s_config };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "bp"), 0);
	assert_int_equal(hq_caught_up(d, 10000), 0);

	static struct bp b;
	memset(&b, 0, sizeof b);
	for (int i = 0; i < BP_N; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "bp-%05d", i);
		snprintf(mid, sizeof mid, "bpm-%05d", i);
		b.msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, "积压党员", NULL);
		s_push(&b, i);
	}
	/* Warm up: the first events go through and set the baseline RSS. */
	long rss_base = h_rss_kb(d->pid);
	assert_true(rss_base > 0);

	pid_t worker = hd_child(d, "membership");
	assert_true(worker > 0);
	assert_int_equal(kill(worker, SIGSTOP), 0);
	int64_t stopped_at = now_mono_ms();
	int done = s_drive(d, sock, &b, stopped_at + BP_STOP_MS, stopped_at + BP_STOP_MS);
	int64_t resumed_at = now_mono_ms();
	assert_int_equal(kill(worker, SIGCONT), 0);

	fprintf(stderr, "  stopped %lld ms: %d RETRY_LATER, worst backlog %llu, RSS %ld -> %ld KiB\n",
	    (long long)(resumed_at - stopped_at), b.retry_later, (unsigned long long)b.max_backlog,
	    rss_base, b.rss_max);
	/* Nothing is acknowledged ACCEPTED while the worker cannot apply. */
	assert_int_equal(done, 0);
	assert_int_equal(b.bad, 0);
	assert_true(b.retry_later > 100);
	assert_true(b.first_retry_ms - stopped_at >= BP_PAUSE_MS - 20);
	/* The journal ran ahead of the worker by at most the cap plus one
	 * group commit. */
	assert_true(b.max_backlog >= BP_BACKLOG);
	assert_true(b.max_backlog <= BP_BACKLOG + BP_BATCH);
	/* Memory stayed bounded while the client kept pushing. */
	assert_true(b.rss_max < rss_base + 32 * 1024);

	/* Resumed: every event ends ACCEPTED exactly once. */
	done = s_drive(d, sock, &b, 0, now_mono_ms() + 60000);
	assert_int_equal(done, BP_N);
	assert_int_equal(b.bad, 0);
	for (int i = 0; i < BP_N; i++)
		assert_int_equal(b.accepted[i], 1);
	Ack *extra = hc_recv(sock, 300);
	assert_null(extra);
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, BP_N);
	hq_free(r);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	for (int i = 0; i < 30; i++, h_sleep_ms(100)) {
		r = hq_stats(d);
		assert_non_null(r);
		uint64_t n = r->stats->retry_later;
		hq_free(r);
		if (n >= (uint64_t)b.retry_later)
			break;
	}
	r = hq_stats(d);
	assert_non_null(r);
	assert_true(r->stats->retry_later >= (uint64_t)b.retry_later);
	hq_free(r);
	for (int i = 0; i < BP_N; i++)
		hm_free(&b.msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

/* Large frames pushed while paused (the default pause of a second): what
 * jicengd holds must be bounded by its own limits, not by how fast a
 * client can write. */
static const char s_config_large[] =
    "[daemon]\n"
    "max_backlog = 50\n"
    "backlog_pause_ms = 1000\n"
    "max_batch = 16\n"
    "heartbeat_ms = 2000\n";

static void
test_backlog_large_frames(void **state)
{
	struct hd_opts o = { .config = s_config_large };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "bl"), 0);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	long rss_base = h_rss_kb(d->pid);

	pid_t worker = hd_child(d, "membership");
	assert_true(worker > 0);
	assert_int_equal(kill(worker, SIGSTOP), 0);
	/* Fill the backlog so that jicengd pauses reading. */
	for (int i = 0; i < BP_BACKLOG + 2 * BP_BATCH; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "bl-%03d", i);
		snprintf(mid, sizeof mid, "blm-%03d", i);
		struct hmsg m = hm_member(eid, mid, H_ORG_BRANCH, "积压", NULL);
		assert_int_equal(hc_send(sock, &m), 0);
		hm_free(&m);
	}
	h_sleep_ms(50);
	/* 60 KiB frames (junk, refused once read), pushed for three seconds:
	 * through the pause and into the refusing that follows it. */
	size_t size = 60 * 1024;
	uint8_t *frame = calloc(1, size);
	assert_non_null(frame);
	frame[0] = 0x0a;  /* event_id, length 127: junk past the end */
	frame[1] = 0x7f;
	long rss_max = 0;
	int sent = 0, acks = 0;
	for (int64_t end = now_mono_ms() + 3000; now_mono_ms() < end;) {
		if (zmq_send(sock, frame, size, ZMQ_DONTWAIT) >= 0)
			sent++;
		else
			h_sleep_ms(1);
		for (Ack *a; (a = hc_recv(sock, 0)); acks++)
			hc_ack_free(a);
		if (sent % 64 == 0) {
			long rss = h_rss_kb(d->pid);
			if (rss > rss_max)
				rss_max = rss;
		}
	}
	free(frame);
	assert_int_equal(kill(worker, SIGCONT), 0);
	fprintf(stderr, "  %d large frames sent (%d MiB), %d answered; RSS %ld -> %ld KiB\n", sent,
	    (int)((size_t)sent * size >> 20), acks, rss_base, rss_max);
	assert_true(rss_max < rss_base + 128 * 1024);
	/* And it still serves, once the resumed worker has worked off the
	 * backlog (until then RETRY_LATER/BACKLOG is the right answer). The
	 * query server sees the worker's state before jicengd has its report,
	 * so the first answers may still be BACKLOG: resent, as a township
	 * does, for at most 5 s. */
	assert_int_equal(hq_caught_up(d, 20000), 0);
	hc_close(sock);
	sock = hc_connect(d);
	struct hmsg m = hm_member("bl-after", "blm-after", H_ORG_BRANCH, "之后", NULL);
	Ack *a = hc_call(sock, &m);
	for (int i = 0; i < 50 && a && a->verdict == JICENG__V1__VERDICT__RETRY_LATER &&
	    strcmp(a->code, "BACKLOG") == 0; i++) {
		hc_ack_free(a);
		h_sleep_ms(100);
		a = hc_call(sock, &m);
	}
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_string_equal(a->code, "OK");
	hc_ack_free(a);
	hm_free(&m);
	hc_close(sock);
	hd_pass(d);
}

int
integ_backpressure(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backlog_pause_and_retry, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_backlog_large_frames, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("backpressure", tests, NULL, NULL);
}
