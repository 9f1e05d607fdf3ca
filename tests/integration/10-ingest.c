/*
 * 10-ingest: the path of one event end to end against the real daemon.
 * Send -> ACCEPTED ack -> the query server shows it; a resend is DUPLICATE
 * with the original seq and verdict and changes nothing; a reused id with
 * other content is ID_REUSED; pipelined events are journaled in the order
 * sent, one ack each.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A daemon with the standard org tree, and a client socket. */
static struct hd *
s_up(void **state, void **sock)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	*sock = hc_connect(d);
	assert_non_null(*sock);
	assert_int_equal(hc_org_tree(*sock, "ing"), 0);
	return d;
}

static uint32_t
s_member_count(struct hd *d, const char *org_id)
{
	QueryReply *r = hq_org(d, org_id);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_ORG);
	uint32_t n = r->org->member_count;
	hq_free(r);
	return n;
}

static void
test_send_ack_query(void **state)
{
	void *sock;
	struct hd *d = s_up(state, &sock);
	char idn[19], masked[19];
	h_idnum("19800315", 123, idn);
	snprintf(masked, sizeof masked, "%.6s********%.4s", idn, idn + 14);

	struct hmsg m = hm_member("ing-m1", "m-0001", H_ORG_BRANCH, "张三", idn);
	Ack *a = hc_call(sock, &m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_string_equal(a->code, "OK");
	assert_string_equal(a->event_id, "ing-m1");
	assert_true(a->seq > 0);
	uint64_t seq = a->seq;
	hc_ack_free(a);

	QueryReply *r = hq_member(d, "m-0001");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_MEMBER);
	assert_string_equal(r->member->member_id, "m-0001");
	assert_string_equal(r->member->home_org_id, H_ORG_BRANCH);
	assert_string_equal(r->member->name, "张三");
	assert_string_equal(r->member->township_id, H_TOWNSHIP);
	assert_string_equal(r->member->id_masked, masked);
	assert_string_equal(r->member->birth_date, "1980-03-15");
	assert_int_equal(r->member->category, JICENG__V1__MEMBER_CATEGORY__FULL);
	assert_int_equal(r->member->status, JICENG__V1__MEMBER_STATUS__NORMAL);
	assert_int_equal(r->member->last_seq, seq);
	assert_null(strstr(r->member->id_masked, idn + 6));
	hq_free(r);

	assert_int_equal(s_member_count(d, H_ORG_BRANCH), 1);
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, NULL, NULL), 1);
	/* The clear ID number is nowhere in the state file or the log. */
	char path[256];
	size_t len;
	snprintf(path, sizeof path, "%s/state/membership.mdb", d->dir);
	char *bytes = h_slurp(path, &len);
	assert_non_null(bytes);
	assert_null(memmem(bytes, len, idn, 18));
	free(bytes);
	assert_false(hd_log_has(d, idn));

	r = hq_member(d, "m-none");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	hm_free(&m);
	hc_close(sock);
	hd_pass(d);
}

static void
test_resend_duplicate(void **state)
{
	void *sock;
	struct hd *d = s_up(state, &sock);
	struct hmsg m = hm_member("ing-dup", "m-dup", H_ORG_BRANCH, "李四", NULL);
	Ack *a = hc_call(sock, &m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	uint64_t seq = a->seq;
	hc_ack_free(a);
	uint64_t len0 = hq_journal_length(d);

	for (int i = 0; i < 3; i++) {
		a = hc_call(sock, &m);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
		assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
		assert_int_equal(a->seq, seq);
		assert_string_equal(a->event_id, "ing-dup");
		hc_ack_free(a);
	}
	/* A resend over a new connection is a duplicate too. */
	void *other = hc_connect(d);
	a = hc_call(other, &m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->seq, seq);
	hc_ack_free(a);
	hc_close(other);

	assert_int_equal(hq_journal_length(d), len0);
	assert_int_equal(s_member_count(d, H_ORG_BRANCH), 1);
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, NULL, NULL), 1);

	/* A rejected event resent: DUPLICATE carrying REJECTED and its code. */
	struct hmsg bad = hm_member("ing-dup-bad", "m-dup-bad", "no-such-org", "王五", NULL);
	a = hc_call(sock, &bad);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "UNKNOWN_ORG");
	uint64_t bseq = a->seq;
	assert_true(bseq > seq);
	hc_ack_free(a);
	a = hc_call(sock, &bad);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "UNKNOWN_ORG");
	assert_int_equal(a->seq, bseq);
	hc_ack_free(a);

	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(hq_stat_count(r, true, "member_registered"), 1);
	assert_int_equal(hq_stat_count(r, false, "UNKNOWN_ORG"), 1);
	hq_free(r);
	/* Counters are persisted once a second. */
	for (int i = 0; i < 40; i++) {
		r = hq_stats(d);
		assert_non_null(r);
		uint64_t dups = r->stats->duplicates;
		hq_free(r);
		if (dups == 5)
			break;
		assert_true(dups < 5);
		h_sleep_ms(100);
	}
	hm_free(&m);
	hm_free(&bad);
	hc_close(sock);
	hd_pass(d);
}

static void
test_id_reused(void **state)
{
	void *sock;
	struct hd *d = s_up(state, &sock);
	struct hmsg m = hm_member("ing-reuse", "m-reuse", H_ORG_BRANCH, "赵六", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	uint64_t len0 = hq_journal_length(d);

	struct hmsg other = hm_member("ing-reuse", "m-reuse", H_ORG_BRANCH, "赵七", NULL);
	Ack *a = hc_call(sock, &other);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "ID_REUSED");
	assert_string_equal(a->event_id, "ing-reuse");
	hc_ack_free(a);
	struct hmsg third = hm_member("ing-reuse", "m-reuse-2", H_ORG_BRANCH, "赵八", NULL);
	assert_true(hc_expect(sock, &third, JICENG__V1__VERDICT__REJECTED, "ID_REUSED"));

	/* The same id from another township is a different event. */
	struct hmsg tw2 = hm_member_in(H_TOWNSHIP2, "ing-reuse", "m-reuse-3", H_ORG_BRANCH, "钱九", NULL);
	a = hc_call(sock, &tw2);
	assert_non_null(a);
	assert_int_not_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_string_not_equal(a->code, "ID_REUSED");
	hc_ack_free(a);

	QueryReply *r = hq_member(d, "m-reuse");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_string_equal(r->member->name, "赵六");
	hq_free(r);
	r = hq_member(d, "m-reuse-2");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	assert_int_equal(hq_journal_length(d), len0 + 1);
	assert_int_equal(s_member_count(d, H_ORG_BRANCH), 1);
	hm_free(&m);
	hm_free(&other);
	hm_free(&third);
	hm_free(&tw2);
	hc_close(sock);
	hd_pass(d);
}

/* Pipelined: many envelopes sent before any ack is read; one ack each,
 * matched by event_id, and the seqs follow the order sent (events of one
 * connection are journaled, and so applied, in that order). */
static void
test_pipelined_order(void **state)
{
	enum { N = 400 };
	void *sock;
	struct hd *d = s_up(state, &sock);
	static struct hmsg m[N];
	static uint64_t seq[N];
	char eid[40], mid[40];
	memset(seq, 0, sizeof seq);
	for (int i = 0; i < N; i++) {
		snprintf(eid, sizeof eid, "pipe-%04d", i);
		snprintf(mid, sizeof mid, "pm-%04d", i);
		m[i] = hm_member(eid, mid, i % 10 == 9 ? "no-such-org" : H_ORG_BRANCH, "党员", NULL);
		assert_int_equal(hc_send(sock, &m[i]), 0);
	}
	int accepted = 0;
	for (int got = 0; got < N; got++) {
		Ack *a = hc_recv(sock, H_ACK_MS);
		assert_non_null(a);
		int i;
		assert_int_equal(sscanf(a->event_id, "pipe-%d", &i), 1);
		assert_true(i >= 0 && i < N);
		assert_int_equal(seq[i], 0);
		assert_true(a->seq > 0);
		seq[i] = a->seq;
		if (i % 10 == 9) {
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
			assert_string_equal(a->code, "UNKNOWN_ORG");
		} else {
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
			accepted++;
		}
		hc_ack_free(a);
	}
	for (int i = 1; i < N; i++)
		assert_true(seq[i] > seq[i - 1]);
	Ack *extra = hc_recv(sock, 300);
	assert_null(extra);
	assert_int_equal(s_member_count(d, H_ORG_BRANCH), accepted);
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, NULL, NULL), accepted);
	for (int i = 0; i < N; i++)
		hm_free(&m[i]);
	hc_close(sock);
	hd_pass(d);
}

int
integ_ingest(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_send_ack_query, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_resend_duplicate, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_id_reused, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_order, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
