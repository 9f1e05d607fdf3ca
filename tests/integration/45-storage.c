/*
 * 45-storage: LMDB maps that fill up. A journal whose map may not grow
 * past a few MiB answers RETRY_LATER/STORAGE_FULL once full, never
 * crashes, keeps answering queries, and after a restart with room takes
 * the resent events; a worker whose state map starts at 1 MiB grows it and
 * applies everything.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_N 30000

struct st {
	struct hmsg msgs[ST_N];
	int verdict[ST_N];       /* last verdict per event */
	int accepted, full, other;
};

static void
s_st_ack(struct hpump *p, Ack *a)
{
	struct st *s = p->arg;
	int i;
	if (sscanf(a->event_id, "st-%d", &i) != 1 || i < 0 || i >= ST_N) {
		s->other++;
		return;
	}
	s->verdict[i] = a->verdict;
	if (a->verdict == JICENG__V1__VERDICT__ACCEPTED)
		s->accepted++;
	else if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER && strcmp(a->code, "STORAGE_FULL") == 0)
		s->full++;
	else {
		if (s->other++ < 5)
			fprintf(stderr, "%s: %s/%s (%s)\n", a->event_id, codec_verdict_name(a->verdict),
			    a->code, a->reason);
	}
}

/* Start jicengd with config, make its org tree (prefix) and send ST_N
 * members (ids prefix-NNNNN) pipelined, counting the acks into s. */
static struct hd *
s_fill(void **state, const char *config, const char *prefix, struct st *s, void **sockp)
{
	struct hd_opts o = { .config = config };
	struct hd *d = hd_new(&o);
	static struct hmsg *order[ST_N];
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, prefix), 0);
	memset(s, 0, sizeof *s);
	for (int i = 0; i < ST_N; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "st-%05d", i);
		snprintf(mid, sizeof mid, "%sm-%05d", prefix, i);
		s->msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, "存储党员", NULL);
		order[i] = &s->msgs[i];
	}
	struct hpump p = { .sock = sock, .send = order, .nsend = ST_N, .window = 500,
		.on_ack = s_st_ack, .arg = s };
	assert_int_equal(hp_run(&p, 90000), 0);
	fprintf(stderr, "  %d accepted, %d STORAGE_FULL, %d other\n", s->accepted, s->full, s->other);
	assert_int_equal(s->other, 0);
	*sockp = sock;
	return d;
}

static void
test_journal_full(void **state)
{
	static struct st s;
	static struct hmsg *order[ST_N];
	void *sock;
	struct hd *d = s_fill(state, "[daemon]\njournal_map_mb = 1\njournal_map_max_mb = 4\n",
	    "st", &s, &sock);
	assert_true(s.accepted > 1000);
	assert_true(s.full > 0);
	assert_int_equal(s.accepted + s.full, ST_N);
	assert_true(hd_log_has(d, "MDB_MAP_FULL"));

	/* Still up: it answers queries, refuses new events cleanly, and what it
	 * accepted is all there. */
	assert_true(d->pid > 0);
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, s.accepted);
	hq_free(r);
	int last_full = -1;
	for (int i = ST_N - 1; i >= 0 && last_full < 0; i--)
		if (s.verdict[i] == JICENG__V1__VERDICT__RETRY_LATER)
			last_full = i;
	/* A whole batch was refused when it did not fit; the same event alone
	 * may fit in the pages the failed batches left. Either answer is clean. */
	Ack *a = hc_call(sock, &s.msgs[last_full]);
	assert_non_null(a);
	if (a->verdict == JICENG__V1__VERDICT__ACCEPTED) {
		s.verdict[last_full] = JICENG__V1__VERDICT__ACCEPTED;
		s.accepted++;
		s.full--;
	} else {
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__RETRY_LATER);
		assert_string_equal(a->code, "STORAGE_FULL");
	}
	hc_ack_free(a);
	hc_close(sock);
	hq_reset(d);

	/* Restarted with room to grow: every refused event, resent, is applied. */
	assert_int_equal(hd_stop(d, 10000), 0);
	FILE *f = fopen(d->config, "w");
	assert_non_null(f);
	fputs("[daemon]\njournal_map_mb = 1\njournal_map_max_mb = 64\n", f);
	fclose(f);
	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	int n = 0;
	for (int i = 0; i < ST_N; i++)
		if (s.verdict[i] == JICENG__V1__VERDICT__RETRY_LATER)
			order[n++] = &s.msgs[i];
	int before = s.accepted;
	s.full = 0;
	struct hpump again = { .sock = sock, .send = order, .nsend = n, .window = 500,
		.on_ack = s_st_ack, .arg = &s };
	assert_int_equal(hp_run(&again, 90000), 0);
	assert_int_equal(s.other, 0);
	assert_int_equal(s.full, 0);
	assert_int_equal(s.accepted, before + n);
	r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, ST_N);
	hq_free(r);
	for (int i = 0; i < ST_N; i++)
		hm_free(&s.msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

/* A journal that starts at 1 MiB grows as it fills, with no refusal. */
static void
test_journal_grows(void **state)
{
	static struct st s;
	void *sock;
	struct hd *d = s_fill(state, "[daemon]\njournal_map_mb = 1\njournal_map_max_mb = 256\n",
	    "sg", &s, &sock);
	assert_int_equal(s.full, 0);
	assert_int_equal(s.accepted, ST_N);
	assert_true(hd_log_has(d, "journal map grown"));
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, ST_N);
	hq_free(r);
	for (int i = 0; i < ST_N; i++)
		hm_free(&s.msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

static void
test_state_map_grows(void **state)
{
	enum { N = 8000 };
	struct hd_opts o = { .config = "[daemon]\nstate_map_mb = 1\n" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "sm"), 0);
	static struct st s;
	static struct hmsg *order[N];
	memset(&s, 0, sizeof s);
	for (int i = 0; i < N; i++) {
		char eid[32], mid[32], idn[19];
		snprintf(eid, sizeof eid, "st-%05d", i);
		snprintf(mid, sizeof mid, "smm-%05d", i);
		char birth[9];
		snprintf(birth, sizeof birth, "19%02d0101", 50 + i / 1000);
		h_idnum(birth, (unsigned)i % 1000, idn);
		s.msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, "成长党员", idn);
		order[i] = &s.msgs[i];
	}
	struct hpump p = { .sock = sock, .send = order, .nsend = N, .window = 500,
		.on_ack = s_st_ack, .arg = &s };
	assert_int_equal(hp_run(&p, 90000), 0);
	assert_int_equal(s.other, 0);
	assert_int_equal(s.accepted, N);
	assert_true(hd_log_has(d, "state map grown"));
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, N);
	hq_free(r);
	r = hq_member(d, "smm-07999");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	hq_free(r);
	/* And the grown state survives a restart. */
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, NULL, NULL), N);
	for (int i = 0; i < N; i++)
		hm_free(&s.msgs[i]);
	hd_pass(d);
}

/* An ack waits until its event's journal commit is on disk. With the idle
 * flush switched off (a test hook), a lone event stays unacknowledged; the
 * next group commit's flush carries the first one's meta page and releases
 * its ack, not its own; after kill -9 both are still journaled. */
static void
test_acks_wait_for_flush(void **state)
{
	setenv("JICENG_FAULT_NO_IDLE_FLUSH", "1", 1);
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	int up = hd_up(d);
	unsetenv("JICENG_FAULT_NO_IDLE_FLUSH");
	assert_int_equal(up, 0);
	void *sock = hc_connect(d);
	struct hmsg a = hm_org("fl-a", H_ORG_TOWNSHIP, JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE,
	    NULL, NULL, "中共测试镇委员会");
	struct hmsg b = hm_org("fl-b", H_ORG_VILLAGE, JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE,
	    H_ORG_TOWNSHIP, H_ORG_TOWNSHIP, "中共测试村委员会");
	assert_int_equal(hc_send(sock, &a), 0);
	Ack *ack = hc_recv(sock, 1500);
	assert_null(ack);  /* journaled and applied, not yet on disk */
	assert_int_equal(hc_send(sock, &b), 0);
	ack = hc_recv(sock, H_ACK_MS);
	assert_non_null(ack);
	assert_string_equal(ack->event_id, "fl-a");
	assert_int_equal(ack->verdict, JICENG__V1__VERDICT__ACCEPTED);
	hc_ack_free(ack);
	assert_null(hc_recv(sock, 1000));  /* fl-b waits for the flush after it */
	hc_close(sock);
	hd_kill9(d);
	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	assert_true(hc_expect(sock, &a, JICENG__V1__VERDICT__DUPLICATE, NULL));
	assert_true(hc_expect(sock, &b, JICENG__V1__VERDICT__DUPLICATE, NULL));
	hc_close(sock);
	hm_free(&a);
	hm_free(&b);
	hd_pass(d);
}

int
integ_storage(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal_full, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_journal_grows, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_state_map_grows, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_acks_wait_for_flush, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
