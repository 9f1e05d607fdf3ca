/*
 * 90-membership: transfers (组织关系转接) and mobile members (流动党员) end to
 * end through the real daemon, with CURVE keys for two townships (A, B)
 * and a county key: each step sent by the township that owns it, the
 * wrong township refused with its code, member counts moving with a
 * transfer, the status stream carrying every change in seq order, and
 * the deadlines nobody reports (T8 expiry, lost contact) crossed at the
 * broker's Ticks. jicengd's clock is moved across months with libfaketime
 * (a relative offset in a file it rereads), so the Ticks come from
 * jicengd's own hourly schedule; the workers' rules see only journal time.
 */
#include "harness.h"
#include "hcurve.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_TA H_TOWNSHIP
#define S_TB H_TOWNSHIP2
#define S_B_COMMITTEE "b-committee"
#define S_B_VILLAGE   "b-village"
#define S_B_BRANCH    "b-branch"
#define S_DAY_MS      86400000LL

/* Township B's org tree (hc_org_tree_in). */
static const char *const s_b_tree[3] = { S_B_COMMITTEE, S_B_VILLAGE, S_B_BRANCH };

struct s_fx {
	struct hcurve_fx h;       /* the jicengd under test, keys, CURVE sockets */
	char clock_file[192];     /* libfaketime's offset, rewritten to jump */
	char env_preload[256], env_file[256];
	const char *env[6];
	int64_t offset_ms;        /* how far jicengd's clock is ahead of ours */
	void *a, *b;              /* ingest: township A, township B */
	void *cq;                 /* query: county */
	void *sub;                /* status: county, everything */
	unsigned seq;             /* event id counter */
	uint64_t last_status;     /* (seq << 16 | index) of the last change read */
};

/* ================================================================ set-up */

static int
s_setup(void **state)
{
	return hcurve_fx_setup(state, sizeof(struct s_fx));
}

/* Move jicengd's wall clock to `days` (and hours) ahead of the real one. */
static void
s_clock(struct s_fx *f, int64_t ahead_ms)
{
	f->offset_ms = ahead_ms;
	h_write_file(f->clock_file, "+%llds\n", (long long)(ahead_ms / 1000));
}

/* jicengd's "now": business dates are set from it. */
static int64_t
s_now(const struct s_fx *f)
{
	return now_wall_ms() + f->offset_ms;
}

/* jicengd with curve = on, keys for A, B and the county, its clock under
 * libfaketime; org trees in both townships and members m1..m3 in A's
 * branch. */
static void
s_up(struct s_fx *f)
{
	glob_t g;
	f->h.d = hcurve_daemon(&f->h.c, NULL);
	hcurve_key(&f->h.c, "townA", AUTH_ROLE_TOWNSHIP, S_TA, true, NULL);
	hcurve_key(&f->h.c, "townB", AUTH_ROLE_TOWNSHIP, S_TB, true, NULL);
	hcurve_key(&f->h.c, "county", AUTH_ROLE_COUNTY, NULL, true, NULL);
	if (glob("/usr/lib/*/faketime/libfaketime.so.1", 0, NULL, &g) != 0 || g.gl_pathc == 0)
		fail_msg("libfaketime is not installed (Debian package libfaketime)");
	snprintf(f->env_preload, sizeof f->env_preload, "LD_PRELOAD=%s", g.gl_pathv[0]);
	globfree(&g);
	snprintf(f->clock_file, sizeof f->clock_file, "%s/faketime", f->h.d->dir);
	snprintf(f->env_file, sizeof f->env_file, "FAKETIME_TIMESTAMP_FILE=%s", f->clock_file);
	f->env[0] = f->env_preload;
	f->env[1] = f->env_file;
	f->env[2] = "FAKETIME_NO_CACHE=1";
	f->env[3] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
	f->env[4] = NULL;
	f->h.d->opts.env = f->env;
	s_clock(f, 0);
	assert_int_equal(hd_up(f->h.d), 0);
	f->a = hcurve_socket(&f->h.c, ZMQ_DEALER, "townA", f->h.d->ingest, NULL);
	f->b = hcurve_socket(&f->h.c, ZMQ_DEALER, "townB", f->h.d->ingest, NULL);
	f->cq = hcurve_socket(&f->h.c, ZMQ_DEALER, "county", f->h.d->query, NULL);
	f->sub = hcurve_socket(&f->h.c, ZMQ_SUB, "county", f->h.d->status, NULL);
	assert_int_equal(zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "status/", 7), 0);
	assert_int_equal(hc_org_tree(f->a, "a"), 0);
	assert_int_equal(hc_org_tree_in(f->b, S_TB, "b", s_b_tree), 0);
	for (int i = 1; i <= 3; i++) {
		char id[16], mid[16];
		snprintf(id, sizeof id, "reg-%d", i);
		snprintf(mid, sizeof mid, "m%d", i);
		struct hmsg m = hm_member_in(S_TA, id, mid, H_ORG_BRANCH, "党员", NULL);
		assert_true(hc_expect(f->a, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
		hm_free(&m);
	}
}

/* ================================================================ events */

/* Send event c (message msg) as township on sock; expect verdict/code. */
static void
s_send(struct s_fx *f, void *sock, const char *township, EventCase c, void *msg,
    Jiceng__V1__Verdict verdict, const char *code)
{
	char id[32];
	snprintf(id, sizeof id, "ev-%u", ++f->seq);
	hc_event_expect(sock, id, township, c, msg, verdict, code);
}

#define S_OK(f, sock, twp, c, msg) \
	s_send((f), (sock), (twp), (c), (msg), JICENG__V1__VERDICT__ACCEPTED, "OK")
#define S_NO(f, sock, twp, c, msg, code) \
	s_send((f), (sock), (twp), (c), (msg), JICENG__V1__VERDICT__REJECTED, (code))

static void
s_issue(struct s_fx *f, const char *tid, const char *member, const char *from,
    const char *to, int64_t issued_at, uint32_t days, const char *code)
{
	Jiceng__V1__TransferIssued t = JICENG__V1__TRANSFER_ISSUED__INIT;
	t.transfer_id = (char *)tid;
	t.member_id = (char *)member;
	t.from_org_id = (char *)from;
	t.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	t.to_org_id = (char *)to;
	t.issued_at = issued_at;
	t.valid_days = days;
	t.dues_paid_through = 0;
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &t,
	    strcmp(code, "OK") == 0 ? JICENG__V1__VERDICT__ACCEPTED : JICENG__V1__VERDICT__REJECTED,
	    code);
}

static void
s_receive(struct s_fx *f, void *sock, const char *township, const char *tid,
    int64_t at, const char *code)
{
	Jiceng__V1__TransferReceived r = JICENG__V1__TRANSFER_RECEIVED__INIT;
	r.transfer_id = (char *)tid;
	r.received_at = at;
	s_send(f, sock, township, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &r,
	    strcmp(code, "OK") == 0 ? JICENG__V1__VERDICT__ACCEPTED : JICENG__V1__VERDICT__REJECTED,
	    code);
}

/* ================================================================ queries */

static Jiceng__V1__MemberView *
s_member(struct s_fx *f, const char *member_id, QueryReply **r)
{
	*r = hcurve_member(&f->h.c, f->cq, member_id);
	assert_non_null(*r);
	assert_int_equal((*r)->status, JICENG__V1__QUERY_STATUS__OK);
	return (*r)->member;
}

static uint32_t
s_count(struct s_fx *f, const char *org_id)
{
	QueryReply *r = hcurve_org(&f->h.c, f->cq, org_id);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	uint32_t n = r->org->member_count;
	hq_free(r);
	return n;
}

/* Journal length and whether every worker has applied it. */
static uint64_t
s_journal(struct s_fx *f, bool *caught_up)
{
	QueryReply *r = hcurve_stats(&f->h.c, f->cq);
	assert_non_null(r);
	uint64_t n = r->stats->journal_length;
	*caught_up = r->stats->n_workers > 0;
	for (size_t i = 0; *caught_up && i < r->stats->n_workers; i++)
		*caught_up = r->stats->workers[i]->cursor == n;
	hq_free(r);
	return n;
}

/* Jump jicengd's clock to ahead_ms and wait until the Tick it journals at
 * the next hour boundary it sees has been applied. */
static void
s_jump_and_tick(struct s_fx *f, int64_t ahead_ms)
{
	bool done;
	uint64_t before = s_journal(f, &done);
	s_clock(f, ahead_ms);
	for (int64_t end = now_mono_ms() + h_ms(15000); now_mono_ms() < end; h_sleep_ms(100))
		if (s_journal(f, &done) > before && done)
			return;
	fail_msg("no Tick applied within 15 s of moving the clock %lld s ahead",
	    (long long)(ahead_ms / 1000));
}

/* The next status change on the county's subscription (NULL: none within
 * timeout_ms); checks that changes come in (seq, index) order, each on its
 * home township's topic first and then once more on each other township
 * it concerns — the host's, or the home's or host's before the change
 * (the copies are checked and skipped); heartbeats are skipped. */
static StatusChange *
s_status(struct s_fx *f, int timeout_ms)
{
	for (int64_t end = now_mono_ms() + h_ms(timeout_ms); now_mono_ms() < end;) {
		zmq_pollitem_t it = { f->sub, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t topic, body;
		if (zmq_poll(&it, 1, (long)(end - now_mono_ms())) <= 0)
			continue;
		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		assert_true(zmq_msg_recv(&topic, f->sub, 0) >= 0);
		assert_true(zmq_msg_more(&topic));
		assert_true(zmq_msg_recv(&body, f->sub, 0) >= 0);
		char got[160];
		snprintf(got, sizeof got, "%.*s", (int)zmq_msg_size(&topic), (char *)zmq_msg_data(&topic));
		if (strcmp(got, "status/heartbeat") == 0) {
			zmq_msg_close(&topic);
			zmq_msg_close(&body);
			continue;
		}
		StatusChange *sc = jiceng__v1__status_change__unpack(NULL, zmq_msg_size(&body),
		    zmq_msg_data(&body));
		assert_non_null(sc);
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
		uint64_t at = sc->seq << 16 | sc->index;
		char home[160], host[160], was_home[160], was_host[160];
		snprintf(home, sizeof home, "status/%s/%s/", sc->township_id, sc->home_org_id);
		snprintf(host, sizeof host, "status/%s/%s/", sc->host_township_id, sc->host_org_id);
		snprintf(was_home, sizeof was_home, "status/%s/%s/", sc->previous_township_id[0] ?
		    sc->previous_township_id : sc->township_id, sc->previous_home_org_id);
		snprintf(was_host, sizeof was_host, "status/%s/%s/", sc->previous_host_township_id,
		    sc->previous_host_org_id);
		if (at == f->last_status) {
			/* A copy: on the host org's topic, or that of the home or
			 * host org the member had before. */
			assert_true(strcmp(got, host) == 0 || strcmp(got, was_home) == 0 ||
			    strcmp(got, was_host) == 0);
			jiceng__v1__status_change__free_unpacked(sc, NULL);
			continue;
		}
		assert_string_equal(got, home);
		assert_true(at > f->last_status);
		f->last_status = at;
		return sc;
	}
	return NULL;
}

/* The next status change must be about member with these states. */
static StatusChange *
s_expect_status(struct s_fx *f, const char *member, int transfer_state, int mobility_state)
{
	StatusChange *sc = s_status(f, 5000);
	if (!sc)
		fail_msg("no status change for %s", member);
	assert_string_equal(sc->member_id, member);
	assert_int_equal(sc->transfer_state, transfer_state);
	assert_int_equal(sc->state, mobility_state);
	return sc;
}

/* ================================================================ transfers */

/* Between townships, end to end: A issues, B receives (the member and
 * the counts move), B returns the receipt; every step by the wrong side
 * refused T7, and the status stream carries the three changes. */
static void
test_transfer_between_townships(void **state)
{
	struct s_fx *f = *state;
	Jiceng__V1__TransferReceiptReturned rr = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	Jiceng__V1__TransferRevoked rv = JICENG__V1__TRANSFER_REVOKED__INIT;
	QueryReply *r;
	s_up(f);
	assert_int_equal(s_count(f, H_ORG_BRANCH), 3);
	assert_int_equal(s_count(f, S_B_BRANCH), 0);
	int64_t t0 = s_now(f) - 2 * S_DAY_MS;

	/* Received before issued; issued by the receiving side. */
	s_receive(f, f->b, S_TB, "tr-1", t0, "UNKNOWN_TRANSFER");
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	ti.transfer_id = "tr-1";
	ti.member_id = "m1";
	ti.from_org_id = H_ORG_BRANCH;
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	ti.to_org_id = S_B_BRANCH;
	ti.issued_at = t0;
	ti.valid_days = 30;
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, "WRONG_TOWNSHIP");
	/* A township key cannot speak for the other township at all. */
	struct hmsg forged = hm_event("forged-1", S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti);
	assert_true(hc_expect(f->a, &forged, JICENG__V1__VERDICT__REJECTED, "WRONG_TOWNSHIP"));
	hm_free(&forged);

	s_issue(f, "tr-1", "m1", H_ORG_BRANCH, S_B_BRANCH, t0, 30, "OK");
	Jiceng__V1__MemberView *mv = s_member(f, "m1", &r);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	assert_string_equal(mv->home_org_id, H_ORG_BRANCH);
	hq_free(r);
	assert_int_equal(s_count(f, H_ORG_BRANCH), 3);   /* still on the sender's roster */
	StatusChange *sc = s_expect_status(f, "m1", JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED, 0);
	assert_string_equal(sc->transfer_id, "tr-1");
	jiceng__v1__status_change__free_unpacked(sc, NULL);

	/* A second letter while one is open: T2. The receipt before the
	 * member was received: BAD_STATE. Received by the sender: T7. */
	s_issue(f, "tr-2", "m1", H_ORG_BRANCH, S_B_BRANCH, t0, 30, "T2");
	rr.transfer_id = "tr-1";
	rr.returned_at = t0 + S_DAY_MS;
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr, "BAD_STATE");
	s_receive(f, f->a, S_TA, "tr-1", t0 + S_DAY_MS, "T7");

	s_receive(f, f->b, S_TB, "tr-1", t0 + S_DAY_MS, "OK");
	mv = s_member(f, "m1", &r);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED);
	assert_string_equal(mv->home_org_id, S_B_BRANCH);
	assert_string_equal(mv->township_id, S_TB);
	hq_free(r);
	assert_int_equal(s_count(f, H_ORG_BRANCH), 2);
	assert_int_equal(s_count(f, S_B_BRANCH), 1);
	sc = s_expect_status(f, "m1", JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED, 0);
	assert_string_equal(sc->home_org_id, S_B_BRANCH);
	assert_string_equal(sc->previous_home_org_id, H_ORG_BRANCH);
	assert_string_equal(sc->township_id, S_TB);
	assert_string_equal(sc->previous_township_id, S_TA);
	jiceng__v1__status_change__free_unpacked(sc, NULL);

	/* Revoke after receive: T7, from either side. */
	rv.transfer_id = "tr-1";
	rv.revoked_at = t0 + S_DAY_MS;
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, &rv, "T7");
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, &rv, "T7");
	/* The receipt, by the receiving township only. */
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr, "T7");
	S_OK(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr);
	sc = s_expect_status(f, "m1", JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIPT_RETURNED, 0);
	jiceng__v1__status_change__free_unpacked(sc, NULL);
	/* Now B's member: A may no longer write about it. */
	Jiceng__V1__MemberStatusChanged st = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	st.member_id = "m1";
	st.status = JICENG__V1__MEMBER_STATUS__SUSPENDED;
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &st, "WRONG_TOWNSHIP");
	hd_pass(f->h.d);
}

/* A revoked letter and a rejected one leave the member where it was; a
 * letter nobody received expires at the first Tick past its validity
 * (T8), and a late receipt of it is refused T3. */
static void
test_transfer_revoke_reject_expire(void **state)
{
	struct s_fx *f = *state;
	Jiceng__V1__TransferRevoked rv = JICENG__V1__TRANSFER_REVOKED__INIT;
	Jiceng__V1__TransferRejected rj = JICENG__V1__TRANSFER_REJECTED__INIT;
	QueryReply *r;
	s_up(f);
	int64_t t0 = s_now(f) - S_DAY_MS;

	s_issue(f, "tr-rv", "m2", H_ORG_BRANCH, S_B_BRANCH, t0, 30, "OK");
	rv.transfer_id = "tr-rv";
	rv.revoked_at = t0 + 1000;
	rv.reason = "填写错误";
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, &rv, "T7");
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, &rv);
	s_receive(f, f->b, S_TB, "tr-rv", t0 + 2000, "BAD_STATE");

	s_issue(f, "tr-rj", "m2", H_ORG_BRANCH, S_B_BRANCH, t0 + 3000, 30, "OK");
	rj.transfer_id = "tr-rj";
	rj.rejected_at = t0 + 4000;
	rj.reason = "不符合接收条件";
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED, &rj, "T7");
	S_OK(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED, &rj);
	Jiceng__V1__MemberView *mv = s_member(f, "m2", &r);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_REJECTED);
	assert_string_equal(mv->home_org_id, H_ORG_BRANCH);
	hq_free(r);

	/* Valid 30 days from t0: at 31 days the next Tick expires it. */
	s_issue(f, "tr-x", "m2", H_ORG_BRANCH, S_B_BRANCH, t0, 30, "OK");
	s_jump_and_tick(f, 20 * S_DAY_MS);
	mv = s_member(f, "m2", &r);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	hq_free(r);
	s_jump_and_tick(f, 31 * S_DAY_MS);
	mv = s_member(f, "m2", &r);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_EXPIRED);
	assert_string_equal(mv->home_org_id, H_ORG_BRANCH);
	hq_free(r);
	assert_int_equal(s_count(f, H_ORG_BRANCH), 3);
	s_receive(f, f->b, S_TB, "tr-x", t0 + 31 * S_DAY_MS, "T3");
	/* No longer in transfer: a new letter may be issued. */
	s_issue(f, "tr-y", "m2", H_ORG_BRANCH, S_B_BRANCH, s_now(f) - 1000, 30, "OK");
	hd_pass(f->h.d);
}

/* Out of the county: the member leaves the roster when the receipt comes
 * back and stays queryable as transferred out. Into the county: the
 * receiving township creates the member with TransferReceived. */
static void
test_transfer_out_and_in(void **state)
{
	struct s_fx *f = *state;
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__ExternalOrg out = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__TransferReceiptReturned rr = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	QueryReply *r;
	s_up(f);
	int64_t t0 = s_now(f) - 3 * S_DAY_MS;

	out.area_code = "440305";
	out.org_name = "深圳市南山区某街道党工委";
	ti.transfer_id = "tr-out";
	ti.member_id = "m3";
	ti.from_org_id = H_ORG_BRANCH;
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	ti.to_external = &out;
	ti.issued_at = t0;
	ti.valid_days = 60;
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti);
	s_receive(f, f->b, S_TB, "tr-out", t0 + S_DAY_MS, "T7");   /* nobody here receives it */
	rr.transfer_id = "tr-out";
	rr.returned_at = t0 + 2 * S_DAY_MS;
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr, "T7");
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr);
	Jiceng__V1__MemberView *mv = s_member(f, "m3", &r);
	assert_true(mv->transferred_out);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIPT_RETURNED);
	hq_free(r);
	assert_int_equal(s_count(f, H_ORG_BRANCH), 2);
	Jiceng__V1__MemberStatusChanged st = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	st.member_id = "m3";
	st.status = JICENG__V1__MEMBER_STATUS__SUSPENDED;
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &st, "TRANSFERRED_OUT");

	/* Into B from outside. */
	Jiceng__V1__TransferReceived in = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__ExternalOrg from = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MemberRegistered reg = JICENG__V1__MEMBER_REGISTERED__INIT;
	from.area_code = "510104";
	from.org_name = "成都市锦江区某社区党委";
	reg.member_id = "m-in";
	reg.name = "王五";
	reg.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	reg.admitted_at = 994000000000LL;    /* 2001-07-01 */
	reg.confirmed_at = 1026000000000LL;  /* 2002-07-07 */
	in.transfer_id = "tr-in";
	in.to_org_id = S_B_BRANCH;
	in.received_at = t0;
	in.from_external = &from;
	in.member_id = "m-in";
	in.member = &reg;
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &in, "WRONG_TOWNSHIP");
	S_OK(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &in);
	mv = s_member(f, "m-in", &r);
	assert_string_equal(mv->home_org_id, S_B_BRANCH);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED);
	hq_free(r);
	assert_int_equal(s_count(f, S_B_BRANCH), 1);
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &in, "TRANSFER_EXISTS");
	hd_pass(f->h.d);
}

/* ================================================================ mobility */

/* A mobile episode from departure to return: A's member leaves for a host
 * org in B, B reports it, seven months without contact make it
 * LOST_CONTACT at a Tick, A's contact brings it back, A's return closes
 * it; wrong-township and impossible-order steps refused. */
static void
test_mobile_episode(void **state)
{
	struct s_fx *f = *state;
	Jiceng__V1__MobileDeparted dep = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileReported rep = JICENG__V1__MOBILE_REPORTED__INIT;
	Jiceng__V1__MobileContacted con = JICENG__V1__MOBILE_CONTACTED__INIT;
	Jiceng__V1__MobileReturned ret = JICENG__V1__MOBILE_RETURNED__INIT;
	QueryReply *r;
	StatusChange *sc;
	s_up(f);
	int64_t t0 = s_now(f) - S_DAY_MS;

	rep.flow_id = "fl-1";
	rep.host_org_id = S_B_BRANCH;
	rep.reported_at = t0 + 1000;
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &rep, "UNKNOWN_FLOW");
	dep.flow_id = "fl-1";
	dep.member_id = "m1";
	dep.destination_code = "510723";
	dep.host_org_id = S_B_BRANCH;
	dep.reason = "务工";
	dep.expected_months = 10;
	dep.departed_at = t0;
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &dep, "WRONG_TOWNSHIP");
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &dep);
	sc = s_expect_status(f, "m1", 0, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_string_equal(sc->place_code, "510723");
	assert_string_equal(sc->flow_id, "fl-1");
	jiceng__v1__status_change__free_unpacked(sc, NULL);
	dep.flow_id = "fl-2";
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &dep, "L1");

	/* The host org is B's: B reports, not A. A subscriber of the host org's
	 * topic alone hears of the member it now hosts. */
	void *host_sub = hcurve_socket(&f->h.c, ZMQ_SUB, "townB", f->h.d->status, NULL);
	const char *host_topic = "status/" S_TB "/" S_B_BRANCH "/";
	assert_int_equal(zmq_setsockopt(host_sub, ZMQ_SUBSCRIBE, host_topic, strlen(host_topic)), 0);
	h_sleep_ms(h_ms(500));   /* the subscription reaches jicengd */
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &rep, "WRONG_TOWNSHIP");
	S_OK(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &rep);
	sc = s_expect_status(f, "m1", 0, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(sc->host_org_id, S_B_BRANCH);
	assert_string_equal(sc->host_township_id, S_TB);
	assert_string_equal(sc->home_org_id, H_ORG_BRANCH);
	jiceng__v1__status_change__free_unpacked(sc, NULL);
	char got[160];
	int tl = -1;
	zmq_pollitem_t hit = { host_sub, 0, ZMQ_POLLIN, 0 };
	if (zmq_poll(&hit, 1, h_ms(5000)) == 1)
		tl = zmq_recv(host_sub, got, sizeof got - 1, 0);
	assert_int_equal(tl, (int)strlen(host_topic));
	got[tl] = 0;
	assert_string_equal(got, host_topic);
	assert_int_equal(s_count(f, H_ORG_BRANCH), 3);  /* 双向管理: membership stays home */
	assert_int_equal(s_count(f, S_B_BRANCH), 0);

	/* Five months: still in contact. Seven: LOST_CONTACT at the Tick. */
	s_jump_and_tick(f, 150 * S_DAY_MS);
	Jiceng__V1__MemberView *mv = s_member(f, "m1", &r);
	assert_int_equal(mv->mobility_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	hq_free(r);
	s_jump_and_tick(f, 215 * S_DAY_MS);
	mv = s_member(f, "m1", &r);
	assert_int_equal(mv->mobility_state, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	hq_free(r);
	sc = s_expect_status(f, "m1", 0, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	assert_int_equal(sc->previous_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	jiceng__v1__status_change__free_unpacked(sc, NULL);

	/* A's contact brings it back; B may not contact for A. */
	con.flow_id = "fl-1";
	con.contacted_at = s_now(f) - 1000;
	con.channel = "电话";
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, &con, "WRONG_TOWNSHIP");
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, &con);
	sc = s_expect_status(f, "m1", 0, JICENG__V1__MOBILITY_STATE__REPORTED);
	jiceng__v1__status_change__free_unpacked(sc, NULL);

	ret.flow_id = "fl-1";
	ret.returned_at = s_now(f) - 500;
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &ret);
	sc = s_expect_status(f, "m1", 0, JICENG__V1__MOBILITY_STATE__RETURNED);
	assert_string_equal(sc->host_org_id, "");
	jiceng__v1__status_change__free_unpacked(sc, NULL);
	/* After the return: contact, report and return are L2. */
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, &con, "L2");
	S_NO(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &rep, "L2");
	S_NO(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &ret, "L2");

	/* A transfer issued while away closes the episode (a new one). */
	dep.flow_id = "fl-3";
	dep.departed_at = s_now(f) - 400;
	S_OK(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &dep);
	s_issue(f, "tr-away", "m1", H_ORG_BRANCH, S_B_BRANCH, s_now(f) - 300, 30, "OK");
	mv = s_member(f, "m1", &r);
	assert_int_equal(mv->mobility_state, JICENG__V1__MOBILITY_STATE__TRANSFERRED);
	assert_int_equal(mv->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	hq_free(r);

	/* The state, Ticks and change log included, is the fold of the
	 * journal: a rebuild gives the same bytes. */
	char before[256], after[256];
	assert_true(hd_stop(f->h.d, h_ms(10000)) >= 0);
	hd_state_dump(f->h.d, NULL, "membership", "before.dump", before, sizeof before);
	assert_int_equal(hd_ctl_rebuild(f->h.d, "membership"), 0);
	hd_state_dump(f->h.d, NULL, "membership", "after.dump", after, sizeof after);
	assert_true(h_same_file(before, after));
	hd_pass(f->h.d);
}

int
integ_membership(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transfer_between_townships, s_setup,
		    hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_revoke_reject_expire, s_setup,
		    hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_out_and_in, s_setup,
		    hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_mobile_episode, s_setup,
		    hcurve_fx_teardown),
	};
	return cmocka_run_group_tests_name("membership", tests, NULL, NULL);
}
