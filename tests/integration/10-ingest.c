/*
 * 10-ingest: the path of one event end to end against the real daemon.
 * Send -> ACCEPTED ack -> the query server shows it; a resend is DUPLICATE
 * with the original seq and verdict and changes nothing; a reused id with
 * other content is ID_REUSED; pipelined events are journaled in the order
 * sent, one ack each. A reload that lowers an O4 limit leaves an audit
 * entry for the branch already over it, read back through the query
 * socket.
 */
#include "harness.h"
#include "latency.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

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
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
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
	/* A resend digests to the same journaled bytes: a DUPLICATE. */
	a = hc_call(sock, &m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->seq, seq);
	hc_ack_free(a);
	/* The clear ID number (nor its middle, the birth date and sequence) is
	 * in no file jiceng writes, journal included, nor in the log. */
	static const char *const files[] = { "journal.mdb", "state/membership.mdb" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[256];
		size_t len;
		snprintf(path, sizeof path, "%s/%s", i ? hd_derived(d) : d->dir, files[i]);
		char *bytes = h_slurp(path, &len);
		assert_non_null(bytes);
		if (memmem(bytes, len, idn, 18) || memmem(bytes, len, idn + 6, 11))
			fail_msg("the clear ID number is in %s", files[i]);
		free(bytes);
	}
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
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
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
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
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
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
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

/* The same envelope several times in one pipelined burst (likely one
 * group commit) with a reused id among them: journaled once. */
static void
test_duplicates_in_one_batch(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
	struct hmsg m = hm_member("ing-batch", "m-batch", H_ORG_BRANCH, "同批", NULL);
	struct hmsg other = hm_member("ing-batch", "m-batch-2", H_ORG_BRANCH, "同批二", NULL);
	uint64_t len0 = hq_journal_length(d);
	for (int i = 0; i < 4; i++)
		assert_int_equal(hc_send(sock, &m), 0);
	assert_int_equal(hc_send(sock, &other), 0);
	int accepted = 0, dups = 0, reused = 0;
	uint64_t seq = 0;
	for (int i = 0; i < 5; i++) {
		Ack *a = hc_recv(sock, H_ACK_MS);
		assert_non_null(a);
		assert_string_equal(a->event_id, "ing-batch");
		if (a->verdict == JICENG__V1__VERDICT__REJECTED) {
			assert_string_equal(a->code, "ID_REUSED");
			reused++;
		} else {
			assert_true(seq == 0 || a->seq == seq);
			seq = a->seq;
			accepted += a->verdict == JICENG__V1__VERDICT__ACCEPTED;
			dups += a->verdict == JICENG__V1__VERDICT__DUPLICATE;
		}
		hc_ack_free(a);
	}
	assert_int_equal(accepted, 1);
	assert_int_equal(dups, 3);
	assert_int_equal(reused, 1);
	assert_int_equal(s_member_count(d, H_ORG_BRANCH), 1);
	uint64_t len1 = hq_journal_length(d);
	assert_true(len1 == len0 + 1 || len1 == len0 + 2);  /* + an hourly Tick */
	hm_free(&m);
	hm_free(&other);
	hc_close(sock);
	hd_pass(d);
}

/* A client that sends and goes away before its acks: what was journaled
 * is applied, the undeliverable acks are dropped, others are served. */
static void
test_client_gone_before_ack(void **state)
{
	enum { N = 300 };
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
	void *gone = hc_connect(d);
	static struct hmsg m[N];
	for (int i = 0; i < N; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "gone-%03d", i);
		snprintf(mid, sizeof mid, "gm-%03d", i);
		m[i] = hm_member(eid, mid, H_ORG_BRANCH, "离线", NULL);
		assert_int_equal(hc_send(gone, &m[i]), 0);
	}
	/* Give zmq a moment to flush, then vanish without reading. */
	h_sleep_ms(200);
	hc_close(gone);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	/* Whatever arrived was applied once; resending everything from a new
	 * connection gives DUPLICATE for those and ACCEPTED for the rest. */
	uint32_t before = s_member_count(d, H_ORG_BRANCH);
	assert_true(before > 0 && before <= N);
	int dups = 0, accepted = 0;
	for (int i = 0; i < N; i++) {
		Ack *a = hc_call(sock, &m[i]);
		assert_non_null(a);
		dups += a->verdict == JICENG__V1__VERDICT__DUPLICATE;
		accepted += a->verdict == JICENG__V1__VERDICT__ACCEPTED;
		hc_ack_free(a);
	}
	assert_int_equal(dups, (int)before);
	assert_int_equal(dups + accepted, N);
	assert_int_equal(s_member_count(d, H_ORG_BRANCH), N);
	for (int i = 0; i < N; i++)
		hm_free(&m[i]);
	hc_close(sock);
	hd_pass(d);
}

/* Eight clients pipelining at once, each also resending a few of another
 * client's events: every ack goes to the connection that sent the frame. */
static void
test_many_clients(void **state)
{
	enum { C = 8, N = 250, CROSS = 10 };
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
	void *cl[C];
	static struct hmsg m[C][N];
	static int got[C][N], cross_got[C], accepted[C][N];
	memset(got, 0, sizeof got);
	memset(accepted, 0, sizeof accepted);
	memset(cross_got, 0, sizeof cross_got);
	for (int c = 0; c < C; c++) {
		cl[c] = hc_connect(d);
		assert_non_null(cl[c]);
		for (int i = 0; i < N; i++) {
			char eid[32], mid[32];
			snprintf(eid, sizeof eid, "mc-%d-%03d", c, i);
			snprintf(mid, sizeof mid, "mcm-%d-%03d", c, i);
			m[c][i] = hm_member(eid, mid, H_ORG_BRANCH, "并发", NULL);
		}
	}
	/* Interleaved: client c sends its i-th, for every i, round robin; after
	 * its own, each resends CROSS of the next client's. */
	for (int i = 0; i < N; i++)
		for (int c = 0; c < C; c++)
			assert_int_equal(hc_send(cl[c], &m[c][i]), 0);
	for (int c = 0; c < C; c++)
		for (int i = 0; i < CROSS; i++)
			assert_int_equal(hc_send(cl[c], &m[(c + 1) % C][i]), 0);
	int64_t end = now_mono_ms() + 30000;
	for (int done = 0; done < C * (N + CROSS) && now_mono_ms() < end;) {
		zmq_pollitem_t items[C];
		for (int c = 0; c < C; c++)
			items[c] = (zmq_pollitem_t){ cl[c], 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(items, C, 100) <= 0)
			continue;
		for (int c = 0; c < C; c++) {
			if (!items[c].revents)
				continue;
			Ack *a = hc_recv(cl[c], 0);
			if (!a)
				continue;
			int owner, i;
			assert_int_equal(sscanf(a->event_id, "mc-%d-%d", &owner, &i), 2);
			/* Connections are not ordered among themselves: for a
			 * resent event, whichever copy is read first is ACCEPTED. */
			bool first = a->verdict == JICENG__V1__VERDICT__ACCEPTED;
			if (!first) {
				assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
				assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
				assert_true(i < CROSS);
			}
			accepted[owner][i] += first;
			if (owner == c) {
				got[c][i]++;
			} else {
				assert_int_equal(owner, (c + 1) % C);
				assert_true(i < CROSS);
				cross_got[c]++;
			}
			hc_ack_free(a);
			done++;
		}
	}
	for (int c = 0; c < C; c++) {
		for (int i = 0; i < N; i++) {
			if (got[c][i] != 1)
				fail_msg("client %d event %d: %d acks", c, i, got[c][i]);
			if (accepted[c][i] != 1)
				fail_msg("client %d event %d: ACCEPTED %d times", c, i, accepted[c][i]);
		}
		assert_int_equal(cross_got[c], CROSS);
		Ack *extra = hc_recv(cl[c], 100);
		assert_null(extra);
	}
	assert_int_equal(s_member_count(d, H_ORG_BRANCH), C * N);
	for (int c = 0; c < C; c++) {
		hc_close(cl[c]);
		for (int i = 0; i < N; i++)
			hm_free(&m[c][i]);
	}
	hc_close(sock);
	hd_pass(d);
}

/* Raw bytes to the query server; the reply, or NULL. */
static QueryReply *
s_query_raw(struct hd *d, int type, const void *buf, size_t len)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, type);
	int linger = 0, timeout = 5000;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	assert_int_equal(zmq_connect(s, d->query), 0);
	assert_true(zmq_send(s, buf, len, 0) >= 0);
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	QueryReply *r = NULL;
	if (zmq_msg_recv(&msg, s, 0) >= 0)
		r = jiceng__v1__query_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
	zmq_msg_close(&msg);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return r;
}

static QueryReply *
s_query_packed(struct hd *d, int type, Query *q)
{
	size_t len = jiceng__v1__query__get_packed_size(q);
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	jiceng__v1__query__pack(q, buf);
	QueryReply *r = s_query_raw(d, type, buf, len);
	free(buf);
	return r;
}

static void
test_query_protocol(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ing", &sock);
	const char *ids[] = { "qp-e", "qp-a", "qp-d", "qp-b", "qp-c" };
	for (int i = 0; i < 5; i++) {
		char eid[32];
		snprintf(eid, sizeof eid, "qp-ev-%d", i);
		struct hmsg m = hm_member(eid, ids[i], H_ORG_BRANCH, "查询", NULL);
		assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
		hm_free(&m);
	}

	/* A REQ socket works as well as a DEALER, and request_id comes back. */
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetOrg go = JICENG__V1__GET_ORG__INIT;
	go.org_id = H_ORG_VILLAGE;
	q.request_id = "req-1";
	q.query_case = JICENG__V1__QUERY__QUERY_GET_ORG;
	q.get_org = &go;
	QueryReply *r = s_query_packed(d, ZMQ_REQ, &q);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_string_equal(r->request_id, "req-1");
	assert_int_equal(r->org->kind, JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE);
	assert_string_equal(r->org->parent_id, H_ORG_TOWNSHIP);
	assert_string_equal(r->org->township_id, H_TOWNSHIP);
	assert_int_equal(r->org->n_children, 1);
	assert_string_equal(r->org->children[0]->org_id, H_ORG_BRANCH);
	hq_free(r);

	/* Pages of two, in member_id order. */
	const char *want[] = { "qp-a", "qp-b", "qp-c", "qp-d", "qp-e" };
	char after[CODEC_MAX_ID + 1] = "";
	int seen = 0;
	for (int page = 0; page < 4; page++) {
		Query lq = JICENG__V1__QUERY__INIT;
		Jiceng__V1__ListMembers l = JICENG__V1__LIST_MEMBERS__INIT;
		l.org_id = H_ORG_BRANCH;
		l.after = after;
		l.limit = 2;
		lq.query_case = JICENG__V1__QUERY__QUERY_LIST_MEMBERS;
		lq.list_members = &l;
		r = hq_call(d, &lq, 5000);
		assert_non_null(r);
		assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
		assert_true(r->members->n_members <= 2);
		for (size_t i = 0; i < r->members->n_members; i++)
			assert_string_equal(r->members->members[i]->member_id, want[seen++]);
		snprintf(after, sizeof after, "%s", r->members->next_after);
		hq_free(r);
		if (!after[0])
			break;
	}
	assert_int_equal(seen, 5);

	/* What the server refuses. */
	r = s_query_raw(d, ZMQ_DEALER, "\x0a\x7f", 2);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__BAD_QUERY);
	assert_string_equal(r->code, "MALFORMED");
	hq_free(r);
	Query empty = JICENG__V1__QUERY__INIT;
	empty.request_id = "empty";
	r = s_query_packed(d, ZMQ_DEALER, &empty);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__BAD_QUERY);
	assert_string_equal(r->code, "NO_QUERY");
	hq_free(r);
	r = hq_member(d, "bad id");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__BAD_QUERY);
	assert_string_equal(r->code, "BAD_ID");
	hq_free(r);
	Query lq = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListMembers l = JICENG__V1__LIST_MEMBERS__INIT;
	l.org_id = "no-such-org";
	lq.query_case = JICENG__V1__QUERY__QUERY_LIST_MEMBERS;
	lq.list_members = &l;
	r = hq_call(d, &lq, 5000);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	uint8_t *big = calloc(1, 8192);
	assert_non_null(big);
	big[0] = 0x0a;  /* request_id, 8189 bytes */
	big[1] = 0xfd;
	big[2] = 0x3f;
	r = s_query_raw(d, ZMQ_DEALER, big, 8192);
	free(big);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__BAD_QUERY);
	hq_free(r);
	/* ... and it still answers. */
	r = hq_stats(d);
	assert_non_null(r);
	hq_free(r);
	hc_close(sock);
	hd_pass(d);
}

/* ---- an org's children with their direct and subtree member counts */

static void
s_ok(void *sock, struct hmsg m)
{
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&m);
}

/* Counts: direct total/full/probationary, then subtree the same. */
struct s_counts {
	uint32_t n, full, prob, sn, sfull, sprob;
};

static void
s_counts_are(const char *org_id, struct s_counts got, struct s_counts want)
{
	if (memcmp(&got, &want, sizeof got) != 0)
		fail_msg("%s: counts %u/%u/%u subtree %u/%u/%u, want %u/%u/%u subtree %u/%u/%u",
		    org_id, got.n, got.full, got.prob, got.sn, got.sfull, got.sprob,
		    want.n, want.full, want.prob, want.sn, want.sfull, want.sprob);
}

static void
s_child_is(const Jiceng__V1__OrgView *v, size_t i, const char *org_id,
    bool dissolved, struct s_counts want)
{
	assert_true(i < v->n_children);
	const Jiceng__V1__OrgSummary *s = v->children[i];
	assert_string_equal(s->org_id, org_id);
	assert_int_equal(s->dissolved, dissolved);
	s_counts_are(org_id, (struct s_counts){ s->member_count, s->full_member_count,
	    s->probationary_count, s->subtree_member_count, s->subtree_full_member_count,
	    s->subtree_probationary_count }, want);
}

static void
s_org_is(const Jiceng__V1__OrgView *v, struct s_counts want)
{
	s_counts_are(v->org_id, (struct s_counts){ v->member_count, v->full_member_count,
	    v->probationary_count, v->subtree_member_count, v->subtree_full_member_count,
	    v->subtree_probationary_count }, want);
}

/* A township committee (one member of its own) with two branches, a Party
 * group under the first, and a third branch dissolved after its only
 * member quit. Only NORMAL and SUSPENDED members count; a child's subtree
 * includes its Party group; the committee's subtree is everyone. The same
 * numbers come out of jicengctl query org as JSON. */
static void
test_org_subtree_counts(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_non_null(sock);
	const char *tc = "oc-tc";
	s_ok(sock, hm_org("oc-e-tc", tc, JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL,
	    "中共计数镇委员会"));
	s_ok(sock, hm_org("oc-e-b1", "oc-b1", JICENG__V1__ORG_KIND__BRANCH, tc, tc, "第一支部"));
	s_ok(sock, hm_org("oc-e-b2", "oc-b2", JICENG__V1__ORG_KIND__BRANCH, tc, tc, "第二支部"));
	s_ok(sock, hm_org("oc-e-bx", "oc-bx", JICENG__V1__ORG_KIND__BRANCH, tc, tc, "撤销支部"));
	s_ok(sock, hm_org("oc-e-g1", "oc-g1", JICENG__V1__ORG_KIND__PARTY_GROUP, "oc-b1", tc,
	    "第一党小组"));
	static const char *const full[][2] = {
		{ "oc-m-tc", "oc-tc" },
		{ "oc-m-b1a", "oc-b1" }, { "oc-m-b1b", "oc-b1" },
		{ "oc-m-g1a", "oc-g1" }, { "oc-m-g1b", "oc-g1" },
		{ "oc-m-g1s", "oc-g1" }, { "oc-m-g1d", "oc-g1" },
		{ "oc-m-b2a", "oc-b2" }, { "oc-m-bxq", "oc-bx" },
	};
	for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
		char eid[32];
		snprintf(eid, sizeof eid, "oc-e-%s", full[i][0]);
		s_ok(sock, hm_member(eid, full[i][0], full[i][1], "计数", NULL));
	}
	s_ok(sock, hm_admitted("oc-e-p-b1", "oc-p-b1", "oc-b1", "1995-02-03", now_wall_ms() - 30 * 86400000LL));
	s_ok(sock, hm_admitted("oc-e-p-g1", "oc-p-g1", "oc-g1", "1995-02-03", now_wall_ms() - 30 * 86400000LL));
	s_ok(sock, hm_status_changed("oc-e-s", "oc-m-g1s", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	s_ok(sock, hm_status_changed("oc-e-d", "oc-m-g1d", JICENG__V1__MEMBER_STATUS__DECEASED));
	s_ok(sock, hm_status_changed("oc-e-q", "oc-m-bxq", JICENG__V1__MEMBER_STATUS__QUIT));
	s_ok(sock, hm_dissolved("oc-e-x", "oc-bx", tc));

	/* oc-g1: 3 full (one suspended), 1 probationary; the deceased is out. */
	QueryReply *r = hq_org(d, tc);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->org->n_children, 3);  /* by org_id */
	s_child_is(r->org, 0, "oc-b1", false, (struct s_counts){ 3, 2, 1, 7, 5, 2 });
	s_child_is(r->org, 1, "oc-b2", false, (struct s_counts){ 1, 1, 0, 1, 1, 0 });
	s_child_is(r->org, 2, "oc-bx", true, (struct s_counts){ 0, 0, 0, 0, 0, 0 });
	s_org_is(r->org, (struct s_counts){ 1, 1, 0, 9, 7, 2 });
	hq_free(r);
	r = hq_org(d, "oc-b1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->org->n_children, 1);
	s_child_is(r->org, 0, "oc-g1", false, (struct s_counts){ 4, 3, 1, 4, 3, 1 });
	s_org_is(r->org, (struct s_counts){ 3, 2, 1, 7, 5, 2 });
	hq_free(r);

	char ctl[256], out[256];
	snprintf(ctl, sizeof ctl, "%s/jicengctl", h_build_dir());
	snprintf(out, sizeof out, "%s/org.json", d->dir);
	char *argv[] = { ctl, "query", "--query", d->query, "org", (char *)tc, NULL };
	assert_int_equal(h_run(argv, out, NULL, 10000), 0);
	char *json = h_slurp(out, NULL);
	assert_non_null(json);
	static const char *const want[] = {
		"\"orgId\":\"oc-b1\",\"kind\":\"BRANCH\",\"name\":\"第一支部\",\"memberCount\":3,"
		"\"fullMemberCount\":2,\"probationaryCount\":1,\"subtreeMemberCount\":7,"
		"\"subtreeFullMemberCount\":5,\"subtreeProbationaryCount\":2}",
		"\"orgId\":\"oc-bx\",\"kind\":\"BRANCH\",\"name\":\"撤销支部\",\"dissolved\":true}",
		"\"subtreeMemberCount\":9,\"subtreeFullMemberCount\":7,\"subtreeProbationaryCount\":2}",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(json, want[i]))
			fail_msg("jicengctl query org: no %s in %s", want[i], json);
	free(json);
	hc_close(sock);
	hd_pass(d);
}

/* ---- O4 when a reload lowers a limit */

#define S_O4_MEMBERS 5

/* Rewrite d's config file with these [rules], send SIGHUP, and wait until
 * the RulesChanged it journals has been applied by every worker. */
static void
s_reload_rules(struct hd *d, const char *rules)
{
	hd_config_write(d, "[rules]\n%s", rules);
	uint64_t len0 = hq_journal_length(d);
	assert_int_not_equal(len0, UINT64_MAX);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	int64_t end = now_mono_ms() + h_ms(10000);
	while (hq_journal_length(d) == len0 && now_mono_ms() < end)
		h_sleep_ms(50);
	assert_true(hq_journal_length(d) > len0);
	assert_int_equal(hq_caught_up(d, 10000), 0);
}

/* The audit table of the county, all in one page. */
static QueryReply *
s_audit(struct hd *d, const char *township, uint64_t since)
{
	QueryReply *r = hq_audit(d, township, since);
	assert_non_null(r);
	if (r->status != JICENG__V1__QUERY_STATUS__OK)
		fail_msg("audit query: %s %s", r->code, r->reason);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_AUDIT);
	assert_int_equal(r->audit->next_seq, 0);
	return r;
}

/* A branch of 5 members, no warning on any of them; SIGHUP after
 * org.branch_max_members = 3 is written to the config: one O4 entry for
 * the branch at the RulesChanged's seq, in its township only. Another
 * setting changed, or the limit raised, journal a RulesChanged each and
 * write no entry. */
static void
test_reload_lowers_o4_limit(void **state)
{
	struct hd_opts o = { .config = "[rules]\norg.branch_max_members = 50\n" };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "o4", &sock);
	uint64_t last = hc_members(sock, "o4", H_ORG_BRANCH, 0, S_O4_MEMBERS);
	assert_true(last > 0);
	hc_close(sock);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	QueryReply *r = s_audit(d, NULL, 0);
	assert_int_equal(r->audit->n_entries, 0);
	hq_free(r);

	s_reload_rules(d, "org.branch_max_members = 3\n");
	r = s_audit(d, NULL, 0);
	assert_int_equal(r->audit->n_entries, 1);
	const Jiceng__V1__AuditEntry *e = r->audit->entries[0];
	uint64_t seq = e->seq;
	assert_true(seq > last);
	assert_int_equal(e->index, 0);
	assert_string_equal(e->org_id, H_ORG_BRANCH);
	assert_string_equal(e->township_id, H_TOWNSHIP);
	assert_string_equal(e->code, "O4");
	assert_string_equal(e->text, "党支部党员超过3人 / branch has more than 3 members: " H_ORG_BRANCH);
	hq_free(r);
	r = s_audit(d, H_TOWNSHIP, seq);
	assert_int_equal(r->audit->n_entries, 1);
	hq_free(r);
	r = s_audit(d, H_TOWNSHIP2, 0);
	assert_int_equal(r->audit->n_entries, 0);
	hq_free(r);
	r = s_audit(d, NULL, seq + 1);
	assert_int_equal(r->audit->n_entries, 0);
	hq_free(r);
	r = hq_audit(d, "510722", 0);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__BAD_QUERY);
	assert_string_equal(r->code, "BAD_TOWNSHIP");
	hq_free(r);

	s_reload_rules(d, "org.branch_max_members = 3\nmember.min_admission_age = 20\n");
	s_reload_rules(d, "org.branch_max_members = 10\n");
	r = s_audit(d, NULL, 0);
	assert_int_equal(r->audit->n_entries, 1);
	assert_int_equal(r->audit->entries[0]->seq, seq);
	hq_free(r);
	hd_pass(d);
}

/* ---- commit_interval_us */

#define S_PACE_MS 800  /* the interval; 1 s (its largest) under valgrind */
#define S_PACE_BURST 5

/* Send m[0..n) at once and wait for every ack (ACCEPTED): the ms taken. */
static int64_t
s_burst_ms(void *sock, struct hmsg *m, int n)
{
	int64_t t0 = now_mono_ms();
	for (int i = 0; i < n; i++)
		assert_int_equal(hc_send(sock, &m[i]), 0);
	for (int i = 0; i < n; i++) {
		Ack *a = hc_recv(sock, H_ACK_MS);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
		hc_ack_free(a);
	}
	return now_mono_ms() - t0;
}

/* Members PREFIX-I (events PREFIX-e-I) of H_ORG_BRANCH, I in [0, n). */
static void
s_pace_members(struct hmsg *m, int n, const char *prefix)
{
	for (int i = 0; i < n; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "%s-e-%d", prefix, i);
		snprintf(mid, sizeof mid, "%s-%d", prefix, i);
		m[i] = hm_member(eid, mid, H_ORG_BRANCH, "张三", NULL);
	}
}

/* Group commits (from stats, stored 0.1 s after ingest goes quiet). */
static uint64_t
s_commits(struct hd *d)
{
	h_sleep_ms(300);
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	uint64_t n = r->stats->commits;
	hq_free(r);
	return n;
}

/* With commit_interval_us = 0.8 s: an event sent after a quiet spell
 * longer than that is committed at once; events sent right after a commit
 * wait for the interval to pass, then share one commit. A reload to 0
 * drops the wait. */
static void
test_commit_interval(void **state)
{
	int pace_ms = h_ms(S_PACE_MS) > 1000 ? 1000 : S_PACE_MS;
	char config[64];
	snprintf(config, sizeof config, "[daemon]\ncommit_interval_us = %d000\n", pace_ms);
	struct hd_opts o = { .config = config };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "pace", &sock);
	struct hmsg one[1], two[1], burst[S_PACE_BURST], after[S_PACE_BURST];
	s_pace_members(one, 1, "pa");
	s_pace_members(two, 1, "pd");
	s_pace_members(burst, S_PACE_BURST, "pb");
	s_pace_members(after, S_PACE_BURST, "pc");

	h_sleep_ms(pace_ms);
	uint64_t commits = s_commits(d);
	int64_t ms = s_burst_ms(sock, one, 1);
	if (ms >= pace_ms / 2)
		fail_msg("after a quiet spell an event took %lld ms", (long long)ms);
	ms = s_burst_ms(sock, burst, S_PACE_BURST);
	if (ms < pace_ms / 2)
		fail_msg("a burst right after a commit was acknowledged in %lld ms, under half the "
		    "interval", (long long)ms);
	assert_int_equal(s_commits(d), commits + 2);

	hd_config_write(d, "[daemon]\ncommit_interval_us = 0\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	assert_true(hd_log_wait(d, "reloaded", 10000));
	assert_true(s_burst_ms(sock, two, 1) < pace_ms / 2);
	ms = s_burst_ms(sock, after, S_PACE_BURST);
	if (ms >= pace_ms / 2)
		fail_msg("with commit_interval_us = 0 a burst took %lld ms", (long long)ms);
	hm_free(&one[0]);
	hm_free(&two[0]);
	for (int i = 0; i < S_PACE_BURST; i++) {
		hm_free(&burst[i]);
		hm_free(&after[i]);
	}
	hc_close(sock);
	hd_pass(d);
}

/* The metrics file's ack-latency histogram counts every ack by the worker
 * that answered it, duplicates too, and not the refusals answered before
 * journaling. */
static void
test_ack_latency_metrics(void **state)
{
	struct hd_opts o = { .config = "" };
	struct hd *d = hd_new(&o);
	char metrics[256];
	assert_non_null(d);
	*state = d;
	snprintf(metrics, sizeof metrics, "%s/jiceng.prom", d->dir);
	hd_config_write(d, "[metrics]\ntextfile = %s\ninterval_s = 1\n", metrics);
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "lat"), 0);
	struct hmsg m = hm_member("lat-m", "lat-m1", H_ORG_BRANCH, "党员", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__DUPLICATE, NULL));
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;
	dp.member_id = "no-such-member";
	dp.month = 202501;
	dp.amount_fen = 100;
	dp.paid_at = now_wall_ms() - 60000;
	hc_event_expect(sock, "lat-dues", H_TOWNSHIP, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp,
	    JICENG__V1__VERDICT__REJECTED, "UNKNOWN_MEMBER");
	struct hmsg bad = hm_member("lat bad id", "lat-m2", H_ORG_BRANCH, "党员", NULL);
	assert_true(hc_expect(sock, &bad, JICENG__V1__VERDICT__REJECTED, "BAD_ID"));

	/* Org tree 3 + member 1 + its duplicate: membership 5; funds 1. */
	struct latency mem = { 0 }, funds = { 0 }, meetings = { 0 };
	char *text = NULL;
	for (int i = 0; i < 100; i++) {
		free(text);
		text = h_slurp(metrics, NULL);
		if (text && latency_read(text, "jiceng_ack_seconds", "domain=\"membership\"", &mem) == 0 &&
		    mem.count == 5 &&
		    latency_read(text, "jiceng_ack_seconds", "domain=\"funds\"", &funds) == 0 &&
		    funds.count == 1)
			break;
		h_sleep_ms(100);
	}
	assert_non_null(text);
	assert_int_equal(mem.count, 5);
	assert_int_equal(funds.count, 1);
	assert_int_equal(latency_read(text, "jiceng_ack_seconds", "domain=\"meetings\"", &meetings), 0);
	assert_int_equal(meetings.count, 0);
	assert_non_null(strstr(text, "# TYPE jiceng_ack_seconds histogram\n"));
	/* Each ack took some time, and less than the harness waits for one. */
	assert_true(mem.sum_ns > 0);
	assert_true(latency_share_within(&mem, 10000000) == 1);
	free(text);
	hm_free(&m);
	hm_free(&bad);
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
		cmocka_unit_test_setup_teardown(test_many_clients, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_in_one_batch, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_before_ack, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_query_protocol, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_org_subtree_counts, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_reload_lowers_o4_limit, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_commit_interval, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_ack_latency_metrics, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
