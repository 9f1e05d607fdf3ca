/*
 * 70-security: CURVE authentication and per-key authorisation against the
 * real daemon. jicengd runs with [security] curve = on on
 * its loopback ports, with a server key and a keys_dir of township, county
 * and reader keys made here with lib/auth. Each refusal is checked by its
 * code: the ack's or query reply's code, or for a refused handshake the ZAP
 * status the client's socket monitor reports. After each refusal another
 * key's valid event must still be ACCEPTED. The last cases check that
 * curve = off makes jicengd refuse to start on a non-loopback endpoint.
 *
 * The harness's clients speak without CURVE, so this file has its own
 * (ingest and query DEALERs, status SUBs) on its own ZeroMQ context, each
 * with a monitor that tells how its handshake ended. The harness still
 * starts, watches and stops jicengd.
 */
#include "harness.h"
#include "hcurve.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>


#define S_TA H_TOWNSHIP     /* township A */
#define S_TB H_TOWNSHIP2    /* township B */
#define S_B_COMMITTEE "b-committee"
#define S_B_VILLAGE   "b-village"
#define S_B_BRANCH    "b-branch"
#define S_SILENT_MS   1500  /* a refused client hears nothing for this long */
#define S_HANDSHAKE_MS 5000 /* a handshake has an outcome within this */

/* Township B's org tree (hc_org_tree_in). */
static const char *const s_b_tree[3] = { S_B_COMMITTEE, S_B_VILLAGE, S_B_BRANCH };

/* One test's daemon, keys and client sockets. */
struct s_fx {
	struct hcurve_fx h;          /* the jicengd under test, keys, CURVE sockets */
	unsigned seq;                /* event and member id counter */
	void *a, *county;            /* ingest: township A, county */
	void *cq;                    /* query: county */
};

/* ================================================================ set-up */

static int
s_setup(void **state)
{
	return hcurve_fx_setup(state, sizeof(struct s_fx));
}

/* ================================================================ keys */

/* The data directory with keys_dir, a server key, the client keys below
 * and a config with curve = on; jicengd not started. */
static void
s_prepare(struct s_fx *f)
{
	f->h.d = hcurve_daemon(&f->h.c, NULL);
	hcurve_key(&f->h.c, "townA", AUTH_ROLE_TOWNSHIP, S_TA, true, NULL);
	hcurve_key(&f->h.c, "townB", AUTH_ROLE_TOWNSHIP, S_TB, true, NULL);
	hcurve_key(&f->h.c, "county", AUTH_ROLE_COUNTY, NULL, true, NULL);
	hcurve_key(&f->h.c, "reader", AUTH_ROLE_READER, NULL, true, NULL);
	hcurve_key(&f->h.c, "readerA", AUTH_ROLE_READER, S_TA, true, NULL);
}

/* ================================================================ clients */

/* The first handshake outcome mon reports within timeout_ms: the event
 * (ZMQ_EVENT_HANDSHAKE_*) with its value in *value, or 0 if none came. */
static int
s_handshake(void *mon, int timeout_ms, uint32_t *value)
{
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end;) {
		zmq_pollitem_t it = { mon, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t m;
		uint16_t event = 0;
		if (zmq_poll(&it, 1, (long)(end - now_mono_ms())) <= 0)
			continue;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			continue;
		}
		if (zmq_msg_size(&m) >= 6) {
			memcpy(&event, zmq_msg_data(&m), 2);
			memcpy(value, (const uint8_t *)zmq_msg_data(&m) + 2, 4);
		}
		for (bool more = zmq_msg_more(&m); more;) {  /* the endpoint frame */
			zmq_msg_close(&m);
			zmq_msg_init(&m);
			more = zmq_msg_recv(&m, mon, 0) >= 0 && zmq_msg_more(&m);
		}
		zmq_msg_close(&m);
		if (event)
			return event;
	}
	return 0;
}

/* Assert the handshake watched by mon was refused by the ZAP handler with
 * status 400 (unknown or revoked key). */
static void
s_expect_zap_refusal(void *mon)
{
	uint32_t v = 0;
	int ev = s_handshake(mon, S_HANDSHAKE_MS, &v);
	if (ev != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || v != 400)
		fail_msg("handshake: expected FAILED_AUTH 400, got event 0x%x value %u", ev, v);
}

/* Assert a client without CURVE did not get through: the server drops the
 * connection at the greeting (mechanism mismatch), which the client sees
 * as a protocol error or, when the server closes first, a broken pipe. */
static void
s_expect_greeting_refused(void *mon)
{
	uint32_t v = 0;
	int ev = s_handshake(mon, S_HANDSHAKE_MS, &v);
	if (ev != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && ev != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		fail_msg("NULL client handshake: expected a failure, got event 0x%x value 0x%x", ev, v);
}

static void
s_expect_handshake_ok(void *mon)
{
	uint32_t v = 0;
	int ev = s_handshake(mon, S_HANDSHAKE_MS, &v);
	if (ev != ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
		fail_msg("handshake: expected SUCCEEDED, got event 0x%x value 0x%x", ev, v);
}

/* Queue m without waiting: a client whose handshake fails may not take
 * it, which is as good as a lost message here. */
static void
s_send_now(void *sock, const struct hmsg *m)
{
	(void)zmq_send(sock, m->buf, m->len, ZMQ_DONTWAIT);
}

static void
s_subscribe(void *sub, const char *topic)
{
	assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)), 0);
}

/* Does jicengd's log show needle within timeout_ms? */
static bool
s_log_wait(struct hd *d, const char *needle, int timeout_ms)
{
	for (int64_t end = now_mono_ms() + timeout_ms;; h_sleep_ms(50)) {
		if (hd_log_has(d, needle))
			return true;
		if (now_mono_ms() > end)
			return false;
	}
}

/* ================================================================ queries */

static QueryReply *
s_roster(struct s_fx *f, void *sock, const char *org_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListMembers l = JICENG__V1__LIST_MEMBERS__INIT;
	l.org_id = (char *)org_id;
	l.limit = 100;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_MEMBERS;
	q.list_members = &l;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

static QueryReply *
s_audit(struct s_fx *f, void *sock, const char *township_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListAudit a = JICENG__V1__LIST_AUDIT__INIT;
	a.township_id = (char *)township_id;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_AUDIT;
	q.list_audit = &a;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

/* journal_length from stats asked with the county key. */
static uint64_t
s_journal_length(struct s_fx *f)
{
	QueryReply *r = hcurve_stats(&f->h.c, f->cq);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_STATS);
	uint64_t n = r->stats->journal_length;
	hq_free(r);
	return n;
}

/* Wait until stats count at least one refusal with code (the broker
 * persists its counters once a second). */
static bool
s_refusal_counted(struct s_fx *f, const char *code)
{
	for (int64_t end = now_mono_ms() + 5000; now_mono_ms() < end; h_sleep_ms(100)) {
		QueryReply *r = hcurve_stats(&f->h.c, f->cq);
		bool counted = r && r->status == JICENG__V1__QUERY_STATUS__OK &&
		    hq_stat_count(r, false, code) > 0;
		hq_free(r);
		if (counted)
			return true;
	}
	return false;
}

/* ================================================================ events */

/* A new member of township's branch: a valid event to send. Its member id
 * goes to member_id (may be NULL). */
static struct hmsg
s_new_member(struct s_fx *f, const char *township, char member_id[40])
{
	char eid[40], mid[40];
	unsigned n = ++f->seq;
	snprintf(eid, sizeof eid, "sec-e%u", n);
	snprintf(mid, sizeof mid, "m-sec-%u", n);
	if (member_id)
		snprintf(member_id, 40, "%s", mid);
	return hm_member_in(township, eid, mid,
	    strcmp(township, S_TB) == 0 ? S_B_BRANCH : H_ORG_BRANCH, "党员", NULL);
}

/* Is the daemon still serving: a valid event for township on sock is
 * ACCEPTED? The new member's id goes to member_id (may be NULL). */
static bool
s_serves(struct s_fx *f, void *sock, const char *township, char member_id[40])
{
	struct hmsg m = s_new_member(f, township, member_id);
	bool ok = hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK");
	hm_free(&m);
	return ok;
}

/* Send m on sock and assert it is REJECTED with code, nothing journaled. */
static void
s_expect_refused(void *sock, const struct hmsg *m, const char *code)
{
	Ack *a = hc_call(sock, m);
	assert_non_null(a);
	if (a->verdict != JICENG__V1__VERDICT__REJECTED || strcmp(a->code, code) != 0) {
		fprintf(stderr, "event %s: %s/%s (%s)\n", m->id, codec_verdict_name(a->verdict),
		    a->code, a->reason);
		hc_ack_free(a);
		fail_msg("expected REJECTED %s", code);
	}
	assert_string_equal(a->event_id, m->id);
	assert_int_equal(a->seq, 0);
	hc_ack_free(a);
}

/* ================================================================ the daemon */

/* jicengd with CURVE on every socket, township A's and B's org trees
 * established (A's by its own key, B's by the county key), and the
 * connections every test uses: A and the county on ingest, the county on
 * query. */
static struct s_fx *
s_up(void **state)
{
	struct s_fx *f = *state;
	void *mon;
	s_prepare(f);
	assert_int_equal(hd_up(f->h.d), 0);
	char line[512];
	snprintf(line, sizeof line, "%s: CURVE, client keys in %s", f->h.d->ingest, f->h.c.keys);
	assert_true(hd_log_has(f->h.d, line));
	snprintf(line, sizeof line, "%s: CURVE, client keys in %s", f->h.d->status, f->h.c.keys);
	assert_true(hd_log_has(f->h.d, line));
	snprintf(line, sizeof line, "serving queries on %s (CURVE)", f->h.d->query);
	assert_true(s_log_wait(f->h.d, line, 3000));
	f->a = hcurve_socket(&f->h.c, ZMQ_DEALER, "townA", f->h.d->ingest, &mon);
	s_expect_handshake_ok(mon);
	f->county = hcurve_socket(&f->h.c, ZMQ_DEALER, "county", f->h.d->ingest, NULL);
	f->cq = hcurve_socket(&f->h.c, ZMQ_DEALER, "county", f->h.d->query, NULL);
	assert_int_equal(hc_org_tree(f->a, "sec-a"), 0);
	assert_int_equal(hc_org_tree_in(f->county, S_TB, "sec-b", s_b_tree), 0);
	return f;
}

/* ================================================================ cases */

/* A key that is not in keys_dir cannot connect: the ZAP handler answers
 * 400, no ack ever comes; township A, connected at the same time, is
 * served throughout. */
static void
test_unknown_key(void **state)
{
	struct s_fx *f = s_up(state);
	char pub[AUTH_Z85_LEN + 1], line[128];
	void *mon, *qmon;
	hcurve_key(&f->h.c, "stranger", AUTH_ROLE_TOWNSHIP, S_TA, false, pub);
	void *x = hcurve_socket(&f->h.c, ZMQ_DEALER, "stranger", f->h.d->ingest, &mon);
	struct hmsg m = hm_member("sec-stranger", "m-stranger", H_ORG_BRANCH, "陌生人", NULL);
	s_send_now(x, &m);
	assert_true(s_serves(f, f->a, S_TA, NULL));
	s_expect_zap_refusal(mon);
	Ack *a = hc_recv(x, S_SILENT_MS);
	assert_null(a);
	assert_true(s_serves(f, f->a, S_TA, NULL));
	snprintf(line, sizeof line, "auth: refused unknown key %s from", pub);
	assert_true(s_log_wait(f->h.d, line, 3000));

	/* Nor can it query. */
	void *xq = hcurve_socket(&f->h.c, ZMQ_DEALER, "stranger", f->h.d->query, &qmon);
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetStats gs = JICENG__V1__GET_STATS__INIT;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
	q.get_stats = &gs;
	QueryReply *r = hcurve_query(&f->h.c, xq, &q, S_SILENT_MS);
	assert_null(r);
	s_expect_zap_refusal(qmon);

	hcurve_expect(hcurve_member(&f->h.c, f->cq, "m-stranger"),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");
	assert_true(s_serves(f, f->county, S_TB, NULL));
	hm_free(&m);
	hd_pass(f->h.d);
}

/* Revoke township B's key while it is connected: after the reload its open
 * connections are answered KEY_REVOKED (ingest and query), a new
 * connection fails its handshake, and everyone else is served. */
static void
test_revoked_key(void **state)
{
	struct s_fx *f = s_up(state);
	char mid[40], line[512], pub[AUTH_Z85_LEN + 1], bin[512], out[512], err[512];
	void *mon;
	struct auth_cert c;
	snprintf(line, sizeof line, "%s/townB.key", f->h.c.keys);
	if (auth_cert_load(line, &c, err, sizeof err) < 0)
		fail_msg("%s", err);
	memcpy(pub, c.public_key, sizeof pub);

	void *b = hcurve_socket(&f->h.c, ZMQ_DEALER, "townB", f->h.d->ingest, &mon);
	s_expect_handshake_ok(mon);
	void *bq = hcurve_socket(&f->h.c, ZMQ_DEALER, "townB", f->h.d->query, NULL);
	assert_true(s_serves(f, b, S_TB, mid));
	hcurve_expect(hcurve_member(&f->h.c, bq, mid), JICENG__V1__QUERY_STATUS__OK, "OK");

	/* The operator's way: jicengctl keys revoke, then reload. */
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(out, sizeof out, "%s/revoke.out", f->h.d->dir);
	char *argv[] = { bin, "keys", "revoke", "townB", "--keys-dir", f->h.c.keys, NULL };
	assert_int_equal(h_run(argv, out, f->h.d->log, 5000), 0);
	snprintf(line, sizeof line, "%s/revoked/townB.key", f->h.c.keys);
	assert_int_equal(access(line, F_OK), 0);
	assert_int_equal(kill(f->h.d->pid, SIGHUP), 0);
	/* 5 keys were active; jicengd and jiceng-query each reread them. */
	assert_true(s_log_wait(f->h.d, "jicengd: auth: 4 client keys active", 5000));
	assert_true(s_log_wait(f->h.d, "query: auth: 4 client keys active", 5000));

	struct hmsg m = s_new_member(f, S_TB, mid);
	s_expect_refused(b, &m, AUTH_CODE_KEY_REVOKED);
	QueryReply *r = hcurve_member(&f->h.c, bq, mid);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__FORBIDDEN);
	assert_string_equal(r->code, AUTH_CODE_KEY_REVOKED);
	bool echoed = r->request_id[0] != 0;
	hq_free(r);
	hcurve_expect(hcurve_member(&f->h.c, f->cq, mid),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");

	void *b2 = hcurve_socket(&f->h.c, ZMQ_DEALER, "townB", f->h.d->ingest, &mon);
	struct hmsg m2 = s_new_member(f, S_TB, NULL);
	s_send_now(b2, &m2);
	s_expect_zap_refusal(mon);
	assert_null(hc_recv(b2, S_SILENT_MS));
	snprintf(line, sizeof line, "auth: refused revoked key %s in file townB", pub);
	assert_true(s_log_wait(f->h.d, line, 3000));

	assert_true(s_serves(f, f->county, S_TB, NULL));
	assert_true(s_serves(f, f->a, S_TA, NULL));
	hm_free(&m);
	hm_free(&m2);
	hd_pass(f->h.d);
	/* query.proto: request_id is echoed in the reply; a client that
	 * matches replies by it never sees this refusal otherwise. */
	if (!echoed)
		fail_msg("the KEY_REVOKED query reply does not echo request_id");
}

/* A client without CURVE (the NULL mechanism) cannot talk to any of the
 * CURVE sockets: the greeting's mechanisms do not match. */
static void
test_null_mechanism(void **state)
{
	struct s_fx *f = s_up(state);
	void *mon, *qmon, *smon;
	void *x = hcurve_socket(&f->h.c, ZMQ_DEALER, NULL, f->h.d->ingest, &mon);
	struct hmsg m = hm_member("sec-null", "m-null", H_ORG_BRANCH, "无名", NULL);
	s_send_now(x, &m);
	s_expect_greeting_refused(mon);
	assert_null(hc_recv(x, S_SILENT_MS));
	assert_true(s_serves(f, f->county, S_TA, NULL));

	void *xq = hcurve_socket(&f->h.c, ZMQ_DEALER, NULL, f->h.d->query, &qmon);
	QueryReply *r = hcurve_member(&f->h.c, xq, "m-null");
	assert_null(r);
	s_expect_greeting_refused(qmon);

	void *xs = hcurve_socket(&f->h.c, ZMQ_SUB, NULL, f->h.d->status, &smon);
	s_subscribe(xs, "");
	s_expect_greeting_refused(smon);

	hcurve_expect(hcurve_member(&f->h.c, f->cq, "m-null"),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");
	assert_true(s_serves(f, f->a, S_TA, NULL));
	hm_free(&m);
	hd_pass(f->h.d);
}

/* A's envelope about B's member (b_member): the broker lets it through
 * (the township_id is A's) and the membership worker refuses it
 * WRONG_TOWNSHIP, a journaled rejection that changes nothing of B's. Nor
 * may any key forge the events jicengd journals itself. */
static void
s_cross_township(struct s_fx *f, const char *b_member)
{
	Envelope e;
	Jiceng__V1__MemberStatusChanged sc = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	hm_envelope(&e, "sec-cross-status", S_TA);
	sc.member_id = (char *)b_member;
	sc.status = JICENG__V1__MEMBER_STATUS__DECEASED;
	sc.effective_at = now_wall_ms() - 86400000LL;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED;
	e.member_status_changed = &sc;
	struct hmsg m = hm_pack(&e);
	assert_true(hc_expect(f->a, &m, JICENG__V1__VERDICT__REJECTED, AUTH_CODE_WRONG_TOWNSHIP));
	hm_free(&m);
	QueryReply *r = hcurve_member(&f->h.c, f->cq, b_member);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->member->status, JICENG__V1__MEMBER_STATUS__NORMAL);
	hq_free(r);

	m = hm_member_in(S_TA, "sec-cross-home", "m-cross-home", S_B_BRANCH, "越界", NULL);
	assert_true(hc_expect(f->a, &m, JICENG__V1__VERDICT__REJECTED, AUTH_CODE_WRONG_TOWNSHIP));
	hm_free(&m);
	hcurve_expect(hcurve_member(&f->h.c, f->cq, "m-cross-home"),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");

	Jiceng__V1__Tick tick = JICENG__V1__TICK__INIT;
	tick.at = now_wall_ms();
	hm_envelope(&e, "sec-forged-tick", S_TA);
	e.event_case = JICENG__V1__ENVELOPE__EVENT_TICK;
	e.tick = &tick;
	m = hm_pack(&e);
	s_expect_refused(f->a, &m, "RESERVED_EVENT");
	s_expect_refused(f->county, &m, "RESERVED_EVENT");
	hm_free(&m);
}

/* Township A's key sending an envelope of township B: WRONG_TOWNSHIP,
 * nothing journaled (the journal does not grow and B may still use the
 * event id), counted in stats. Then the envelope is A's but what it is
 * about is B's (see s_cross_township). */
static void
test_wrong_township(void **state)
{
	struct s_fx *f = s_up(state);
	char mid[40];
	uint64_t len0 = s_journal_length(f);
	struct hmsg m = s_new_member(f, S_TB, mid);
	s_expect_refused(f->a, &m, AUTH_CODE_WRONG_TOWNSHIP);
	assert_int_equal(s_journal_length(f), len0);
	hcurve_expect(hcurve_member(&f->h.c, f->cq, mid),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");
	assert_true(s_refusal_counted(f, AUTH_CODE_WRONG_TOWNSHIP));
	assert_true(hd_log_has(f->h.d, "refused event from township " S_TB ": WRONG_TOWNSHIP"));

	/* A is served, and its event is the very next in the journal. */
	struct hmsg own = s_new_member(f, S_TA, NULL);
	Ack *a = hc_call(f->a, &own);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_int_equal(a->seq, len0 + 1);
	hc_ack_free(a);
	/* The refused envelope, sent by a key that may: a new event, not a
	 * duplicate of anything. */
	assert_true(hc_expect(f->county, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hcurve_expect(hcurve_member(&f->h.c, f->cq, mid), JICENG__V1__QUERY_STATUS__OK, "OK");
	s_cross_township(f, mid);
	hm_free(&m);
	hm_free(&own);
	hd_pass(f->h.d);
}

/* Reader keys (county-wide, or bound to township A) may not send events:
 * READ_ONLY_KEY, nothing journaled; they may query within their scope. */
static void
test_reader_writes(void **state)
{
	struct s_fx *f = s_up(state);
	char ma[40], mb[40];
	assert_true(s_serves(f, f->a, S_TA, ma));
	assert_true(s_serves(f, f->county, S_TB, mb));
	uint64_t len0 = s_journal_length(f);

	void *r = hcurve_socket(&f->h.c, ZMQ_DEALER, "reader", f->h.d->ingest, NULL);
	void *ra = hcurve_socket(&f->h.c, ZMQ_DEALER, "readerA", f->h.d->ingest, NULL);
	struct hmsg m = s_new_member(f, S_TA, NULL);
	s_expect_refused(r, &m, AUTH_CODE_READ_ONLY);
	s_expect_refused(ra, &m, AUTH_CODE_READ_ONLY);
	struct hmsg mb2 = s_new_member(f, S_TB, NULL);
	s_expect_refused(ra, &mb2, AUTH_CODE_READ_ONLY);
	assert_int_equal(s_journal_length(f), len0);
	assert_true(s_refusal_counted(f, AUTH_CODE_READ_ONLY));

	void *rq = hcurve_socket(&f->h.c, ZMQ_DEALER, "reader", f->h.d->query, NULL);
	hcurve_expect(hcurve_stats(&f->h.c, rq), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(hcurve_member(&f->h.c, rq, ma), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(hcurve_member(&f->h.c, rq, mb), JICENG__V1__QUERY_STATUS__OK, "OK");
	void *raq = hcurve_socket(&f->h.c, ZMQ_DEALER, "readerA", f->h.d->query, NULL);
	hcurve_expect(hcurve_member(&f->h.c, raq, ma), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(hcurve_member(&f->h.c, raq, mb), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    AUTH_CODE_OUT_OF_SCOPE);
	hcurve_expect(hcurve_stats(&f->h.c, raq),
	    JICENG__V1__QUERY_STATUS__FORBIDDEN, AUTH_CODE_OUT_OF_SCOPE);

	/* The same event from the key that owns it. */
	assert_true(hc_expect(f->a, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&m);
	hm_free(&mb2);
	hd_pass(f->h.d);
}

/* Township A's key reads A's data only: B's member, org, roster and audit
 * entries are FORBIDDEN OUT_OF_SCOPE, as are the county-wide stats and
 * audit table; the county key reads everything. */
static void
test_query_scope(void **state)
{
	struct s_fx *f = s_up(state);
	char ma[40], mb[40];
	assert_true(s_serves(f, f->a, S_TA, ma));
	assert_true(s_serves(f, f->county, S_TB, mb));
	void *aq = hcurve_socket(&f->h.c, ZMQ_DEALER, "townA", f->h.d->query, NULL);

	hcurve_expect(hcurve_member(&f->h.c, aq, mb),
	    JICENG__V1__QUERY_STATUS__FORBIDDEN, AUTH_CODE_OUT_OF_SCOPE);
	QueryReply *r = hcurve_member(&f->h.c, aq, ma);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_MEMBER);
	assert_string_equal(r->member->township_id, S_TA);
	hq_free(r);
	hcurve_expect(hcurve_org(&f->h.c, aq, S_B_BRANCH), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    AUTH_CODE_OUT_OF_SCOPE);
	hcurve_expect(s_roster(f, aq, S_B_BRANCH), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    AUTH_CODE_OUT_OF_SCOPE);
	hcurve_expect(hcurve_org(&f->h.c, aq, H_ORG_BRANCH), JICENG__V1__QUERY_STATUS__OK, "OK");
	r = s_roster(f, aq, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->members->n_members, 1);
	assert_string_equal(r->members->members[0]->member_id, ma);
	hq_free(r);
	hcurve_expect(hcurve_stats(&f->h.c, aq),
	    JICENG__V1__QUERY_STATUS__FORBIDDEN, AUTH_CODE_OUT_OF_SCOPE);
	hcurve_expect(s_audit(f, aq, S_TA), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(s_audit(f, aq, S_TB), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    AUTH_CODE_OUT_OF_SCOPE);
	hcurve_expect(s_audit(f, aq, ""), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    AUTH_CODE_OUT_OF_SCOPE);

	hcurve_expect(hcurve_stats(&f->h.c, f->cq), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(s_audit(f, f->cq, ""), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(hcurve_member(&f->h.c, f->cq, ma), JICENG__V1__QUERY_STATUS__OK, "OK");
	hcurve_expect(hcurve_member(&f->h.c, f->cq, mb), JICENG__V1__QUERY_STATUS__OK, "OK");
	/* Refusals cost A nothing: it still writes and reads its own. */
	assert_true(s_serves(f, f->a, S_TA, NULL));
	hcurve_expect(hcurve_member(&f->h.c, aq, ma), JICENG__V1__QUERY_STATUS__OK, "OK");
	hd_pass(f->h.d);
}

/* Status subscriptions through CURVE. This build publishes no status
 * changes (mobility is not implemented), so what a subscriber receives
 * cannot be checked; this checks what the broker does with the requests:
 * a township's "status/" is taken (narrowed to its own topic, no
 * refusal), another township's topic is refused OUT_OF_SCOPE, an unknown
 * key cannot connect, and the daemon keeps serving. */
static void
test_status_scope(void **state)
{
	struct s_fx *f = s_up(state);
	void *mon;
	void *sa = hcurve_socket(&f->h.c, ZMQ_SUB, "townA", f->h.d->status, &mon);
	s_expect_handshake_ok(mon);
	s_subscribe(sa, "status/");
	s_subscribe(sa, "status/" S_TB "/");
	assert_true(s_log_wait(f->h.d, "status subscription \"status/" S_TB "/\" refused: "
	    AUTH_CODE_OUT_OF_SCOPE, 3000));
	void *sra = hcurve_socket(&f->h.c, ZMQ_SUB, "readerA", f->h.d->status, NULL);
	s_subscribe(sra, "status/" S_TB "/x");
	assert_true(s_log_wait(f->h.d, "status subscription \"status/" S_TB "/x\" refused: "
	    AUTH_CODE_OUT_OF_SCOPE, 3000));
	void *sc = hcurve_socket(&f->h.c, ZMQ_SUB, "county", f->h.d->status, &mon);
	s_expect_handshake_ok(mon);
	s_subscribe(sc, "status/");

	char pub[AUTH_Z85_LEN + 1];
	hcurve_key(&f->h.c, "stranger", AUTH_ROLE_TOWNSHIP, S_TA, false, pub);
	void *sx = hcurve_socket(&f->h.c, ZMQ_SUB, "stranger", f->h.d->status, &mon);
	s_subscribe(sx, "");
	s_expect_zap_refusal(mon);

	assert_true(s_serves(f, f->a, S_TA, NULL));
	assert_false(hd_log_has(f->h.d, "status subscription \"status/\""));
	assert_false(hd_log_has(f->h.d, "status subscription \"status/" S_TA "/\" refused"));
	assert_false(hd_log_has(f->h.d, AUTH_CODE_NOT_AUTHENTICATED));
	assert_true(s_serves(f, f->county, S_TB, NULL));
	hd_pass(f->h.d);
}

/* A status change of township's new member: it departs as a mobile
 * member (sent with the county key). Returns the member's id in mid. */
static void
s_status_change(struct s_fx *f, const char *township, char mid[40])
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	char flow[48];
	assert_true(s_serves(f, f->county, township, mid));
	snprintf(flow, sizeof flow, "fl-%s", mid);
	d.flow_id = flow;
	d.member_id = mid;
	d.destination_code = "440305";
	d.departed_at = now_wall_ms() - 1000;
	struct hmsg m = hm_event(flow, township, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d);
	assert_true(hc_expect(f->county, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&m);
}

/* The next StatusChange on sub within ms (heartbeats skipped), NULL if
 * none; its member_id is copied to mid. */
static bool
s_status_recv(void *sub, int ms, char mid[40])
{
	for (int64_t end = now_mono_ms() + ms; now_mono_ms() < end;) {
		zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
		char topic[64];
		uint8_t body[2048];
		if (zmq_poll(&it, 1, (long)(end - now_mono_ms())) <= 0)
			continue;
		int tl = zmq_recv(sub, topic, sizeof topic - 1, 0);
		int bl = zmq_recv(sub, body, sizeof body, 0);
		if (tl < 0 || bl < 0)
			continue;
		topic[tl < (int)sizeof topic ? tl : (int)sizeof topic - 1] = 0;
		if (strcmp(topic, "status/heartbeat") == 0)
			continue;
		StatusChange *sc = jiceng__v1__status_change__unpack(NULL, (size_t)bl, body);
		assert_non_null(sc);
		snprintf(mid, 40, "%s", sc->member_id);
		jiceng__v1__status_change__free_unpacked(sc, NULL);
		return true;
	}
	return false;
}

/* A township key's status subscription ends at the reload that revokes
 * the key: the status socket is bound anew and the key cannot
 * authenticate again. Before, it gets its own township's changes (and a
 * heartbeat); after, nothing, while the county's subscription carries on. */
static void
test_revoked_key_status(void **state)
{
	struct s_fx *f = s_up(state);
	char mid[40], got[40], bin[512], out[512];
	void *mon;
	void *sb = hcurve_socket(&f->h.c, ZMQ_SUB, "townB", f->h.d->status, &mon);
	s_expect_handshake_ok(mon);
	s_subscribe(sb, "status/");
	void *sc = hcurve_socket(&f->h.c, ZMQ_SUB, "county", f->h.d->status, NULL);
	s_subscribe(sc, "status/");
	/* Subscriptions travel asynchronously: send until both have heard. */
	bool heard_b = false, heard_c = false;
	for (int i = 0; i < 40 && !(heard_b && heard_c); i++) {
		s_status_change(f, S_TB, mid);
		heard_b = s_status_recv(sb, 500, got) || heard_b;
		heard_c = s_status_recv(sc, 500, got) || heard_c;
	}
	assert_true(heard_b);
	assert_true(heard_c);
	bool heard;

	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(out, sizeof out, "%s/revoke.out", f->h.d->dir);
	char *argv[] = { bin, "keys", "revoke", "townB", "--keys-dir", f->h.c.keys, NULL };
	assert_int_equal(h_run(argv, out, f->h.d->log, 5000), 0);
	assert_int_equal(kill(f->h.d->pid, SIGHUP), 0);
	assert_true(s_log_wait(f->h.d, "status socket bound again", 5000));
	/* Drain what was published before the reload. */
	while (s_status_recv(sb, 300, got) || s_status_recv(sc, 300, got))
		;
	h_sleep_ms(1000);
	for (int i = 0; i < 3; i++) {
		s_status_change(f, S_TB, mid);
		assert_false(s_status_recv(sb, 700, got));
	}
	/* The county reconnects by itself and hears the next change. */
	heard = false;
	for (int i = 0; i < 20 && !heard; i++) {
		s_status_change(f, S_TB, mid);
		heard = s_status_recv(sc, 500, got);
	}
	assert_true(heard);
	hd_pass(f->h.d);
}

/* curve = off and a socket bound off loopback: jicengd must exit at once,
 * non-zero, saying why, before it binds anything or starts a child. which
 * is the endpoint to move ("ingest", "status" or "query"), host the
 * address to move it to. */
static void
s_refuses_start(void **state, const char *which, const char *host)
{
	struct s_fx *f = *state;
	struct hd_opts o = { .config = "[security]\ncurve = off\n" };
	assert_non_null(f->h.d = hd_new(&o));
	char *ep = strcmp(which, "ingest") == 0 ? f->h.d->ingest :
	    strcmp(which, "status") == 0 ? f->h.d->status : f->h.d->query;
	const char *port = strrchr(ep, ':');
	char moved[64];
	assert_non_null(port);
	snprintf(moved, sizeof moved, "tcp://%s%s", host, port);
	snprintf(ep, sizeof f->h.d->ingest, "%s", moved);

	int64_t t0 = now_mono_ms();
	assert_int_equal(hd_start(f->h.d), 0);
	int ready = hd_notify_wait(f->h.d, "READY=1", 5000);
	int64_t took = now_mono_ms() - t0;
	if (ready == 0 || f->h.d->pid != 0)
		fail_msg("jicengd with curve = off and %s = %s is %s after %lld ms", which, moved,
		    ready == 0 ? "ready" : "still running", (long long)took);
	assert_true(WIFEXITED(f->h.d->exit_status));
	assert_int_not_equal(WEXITSTATUS(f->h.d->exit_status), 0);
	char line[160];
	snprintf(line, sizeof line, "%s is not a loopback endpoint and [security] curve = off", moved);
	assert_true(hd_log_has(f->h.d, line));
	assert_false(hd_log_has(f->h.d, "cannot bind"));
	assert_false(hd_log_has(f->h.d, "ready:"));
	hd_pass(f->h.d);
}

static void
test_curve_off_ingest(void **state)
{
	s_refuses_start(state, "ingest", "0.0.0.0");
}

static void
test_curve_off_status(void **state)
{
	s_refuses_start(state, "status", "*");
}

static void
test_curve_off_query(void **state)
{
	s_refuses_start(state, "query", "0.0.0.0");
}

int
integ_security(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_key, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_key, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_null_mechanism, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_township, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_reader_writes, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_query_scope, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_key_status, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_status_scope, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_curve_off_ingest, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_curve_off_status, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_curve_off_query, s_setup, hcurve_fx_teardown),
	};
	return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
