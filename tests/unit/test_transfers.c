/*
 * Unit tests of the transfer rules (workers/transfers.c): T1-T8, the steps
 * in and between townships, out of and into the county, impossible
 * orders, R3, the close of a mobile episode by a letter, the change log
 * and the rule that a rejected event writes nothing. Each runs against a
 * real LMDB environment in a temporary directory (membership_fx.h).
 */
#include "unit.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membership_fx.h"
#include "records.h"

#define EV_ISSUED    JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED
#define EV_RECEIVED  JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED
#define EV_RETURNED  JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED
#define EV_REJECTED  JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED
#define EV_REVOKED   JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED

#define ST_NONE      JICENG__V1__TRANSFER_STATE__TRANSFER_STATE_NONE
#define ST_ISSUED    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED
#define ST_RECEIVED  JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED
#define ST_RETURNED  JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIPT_RETURNED
#define ST_REJECTED  JICENG__V1__TRANSFER_STATE__TRANSFER_REJECTED
#define ST_REVOKED   JICENG__V1__TRANSFER_STATE__TRANSFER_REVOKED
#define ST_EXPIRED   JICENG__V1__TRANSFER_STATE__TRANSFER_EXPIRED

#define FULL  JICENG__V1__MEMBER_CATEGORY__FULL
#define PROB  JICENG__V1__MEMBER_CATEGORY__PROBATIONARY

/* ---------------------------------------------------------- fixture */

/* TS1: township committee T, village committee V, branches B and B2, a
 * temporary branch TB. TS2: township committee U, village W, branch C.
 * Leaves f sending as TS1. */
static void
s_trees(struct fx *f)
{
	fx_tree(f, "T", "V", "B");
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(fx_org(f, "TB", JICENG__V1__ORG_KIND__TEMPORARY_BRANCH, "V", "T"));
	f->township = TS2;
	fx_tree(f, "U", "W", "C");
	f->township = TS1;
}

/* A member of home admitted at admitted_at. */
static struct verdict
s_register_as(struct fx *f, const char *id, const char *home, int category,
    int64_t admitted_at)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, home, category);
	e.admitted_at = admitted_at;
	if (category == FULL)
		e.confirmed_at = civil_add_months(admitted_at, 12);  /* R1 */
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e);
}

/* A letter dated now, 30 days valid, dues paid through the month before
 * (f->now is in January 2025). to NULL: no target. */
static Jiceng__V1__TransferIssued
s_letter(struct fx *f, const char *tid, const char *member, const char *from,
    const char *to)
{
	Jiceng__V1__TransferIssued e = JICENG__V1__TRANSFER_ISSUED__INIT;
	e.transfer_id = (char *)tid;
	e.member_id = (char *)member;
	e.from_org_id = (char *)from;
	if (to) {
		e.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
		e.to_org_id = (char *)to;
	}
	e.letter_no = "组转〔2025〕1号";
	e.issued_at = f->now;
	e.valid_days = 30;
	e.dues_paid_through = 202412;
	return e;
}

static struct verdict
s_issue(struct fx *f, const char *tid, const char *member, const char *from,
    const char *to)
{
	Jiceng__V1__TransferIssued e = s_letter(f, tid, member, from, to);
	return fx_send(f, EV_ISSUED, &e);
}

static Jiceng__V1__ExternalOrg s_suzhou = JICENG__V1__EXTERNAL_ORG__INIT;

static Jiceng__V1__ExternalOrg *
s_outside(void)
{
	s_suzhou.area_code = "320506";
	s_suzhou.org_name = "吴中区某村党支部";
	return &s_suzhou;
}

/* A letter to an org outside the county. */
static struct verdict
s_issue_out(struct fx *f, const char *tid, const char *member, const char *from)
{
	Jiceng__V1__TransferIssued e = s_letter(f, tid, member, from, NULL);
	e.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	e.to_external = s_outside();
	return fx_send(f, EV_ISSUED, &e);
}

/* A step on letter tid dated at: c is EV_RECEIVED, EV_RETURNED,
 * EV_REJECTED (wrong org) or EV_REVOKED (withdrawn by the member). */
static struct verdict
s_step_at(struct fx *f, EventCase c, const char *tid, int64_t at)
{
	Jiceng__V1__TransferReceived rcv = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__TransferReceiptReturned ret = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	Jiceng__V1__TransferRejected rej = JICENG__V1__TRANSFER_REJECTED__INIT;
	Jiceng__V1__TransferRevoked rev = JICENG__V1__TRANSFER_REVOKED__INIT;
	rcv.transfer_id = ret.transfer_id = rej.transfer_id = rev.transfer_id = (char *)tid;
	rcv.received_at = ret.returned_at = rej.rejected_at = rev.revoked_at = at;
	rej.reason = "组织关系不符 / wrong org";
	rev.reason = "本人申请撤回";
	switch (c) {
	case EV_RECEIVED:
		return fx_send(f, c, &rcv);
	case EV_RETURNED:
		return fx_send(f, c, &ret);
	case EV_REJECTED:
		return fx_send(f, c, &rej);
	case EV_REVOKED:
	default:
		return fx_send(f, c, &rev);
	}
}

#define s_receive(f, tid)        s_step_at((f), EV_RECEIVED, (tid), (f)->now)
#define s_receive_at(f, tid, at) s_step_at((f), EV_RECEIVED, (tid), (at))
#define s_receipt(f, tid)        s_step_at((f), EV_RETURNED, (tid), (f)->now)
#define s_receipt_at(f, tid, at) s_step_at((f), EV_RETURNED, (tid), (at))
#define s_reject(f, tid)         s_step_at((f), EV_REJECTED, (tid), (f)->now)
#define s_revoke(f, tid)         s_step_at((f), EV_REVOKED, (tid), (f)->now)

/* The reason of the warning code in v, NULL if none. */
static const char *
s_warning(const struct verdict *v, const char *code)
{
	for (unsigned i = 0; i < v->nwarnings; i++)
		if (strcmp(v->warnings[i].code, code) == 0)
			return v->warnings[i].reason;
	return NULL;
}

static bool
s_warned(const struct verdict *v, const char *code)
{
	return s_warning(v, code) != NULL;
}

static int
s_transfer_state(struct fx *f, const char *id)
{
	struct transfer_rec t;
	fx_load_transfer(f, id, &t);
	return t.state;
}

static uint32_t
s_count(struct fx *f, const char *org)
{
	struct org_rec o;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_org_load(f->m, txn, org, &o), 0);
	mdb_txn_abort(txn);
	return o.member_count;
}

/* Is member on org's roster (members_by_org)? */
static int
s_roster_fn(void *arg, const char *b, bool *stop)
{
	const char *member = ((const char **)arg)[0];
	if (strcmp(b, member) == 0) {
		((const char **)arg)[1] = "found";
		*stop = true;
	}
	return 0;
}

static bool
s_on_roster(struct fx *f, const char *org, const char *member)
{
	const char *arg[2] = { member, NULL };
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_pair_each(txn, f->m->roster, org, "", s_roster_fn, arg), 0);
	mdb_txn_abort(txn);
	return arg[1] != NULL;
}

/* ---------------------------------------------------------- T1-T6 */

static void
test_t1_validity(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	Jiceng__V1__TransferIssued e;
	struct transfer_rec t;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	e = s_letter(f, "t1", "a", "B", "B2");
	e.valid_days = 0;
	REJECTED(fx_send(f, EV_ISSUED, &e), "T1");
	e.valid_days = 91;                              /* default max 90 */
	REJECTED(fx_send(f, EV_ISSUED, &e), "T1");
	e.valid_days = 90;
	ACCEPTED(fx_send(f, EV_ISSUED, &e));
	fx_load_transfer(f, "t1", &t);
	assert_int_equal(t.valid_days, 90);
	assert_int_equal(t.valid_until, f->now + 90 * DAY);
	/* The maximum is a setting. */
	ACCEPTED(fx_register(f, "b", "B", FULL));
	r.transfer_max_valid_days = 20;
	ACCEPTED(fx_rules(f, &r));
	e = s_letter(f, "t2", "b", "B", "B2");
	e.valid_days = 21;
	REJECTED(fx_send(f, EV_ISSUED, &e), "T1");
	e.valid_days = 20;
	ACCEPTED(fx_send(f, EV_ISSUED, &e));
}

static void
test_t2_one_open_transfer(void **state)
{
	struct fx *f = *state;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "B2"));
	REJECTED(s_issue(f, "t2", "a", "B", "B2"), "T2");         /* second open letter */
	REJECTED(s_issue_out(f, "t2", "a", "B"), "T2");
	REJECTED(s_issue(f, "t2", "b", "B2", "V"), "T2");         /* not b's org */
	REJECTED(s_issue(f, "t2", "b", "", "V"), "T2");
	/* Once t1 is closed, a new letter may be issued. */
	ACCEPTED(s_revoke(f, "t1"));
	ACCEPTED(s_issue(f, "t2", "a", "B", "B2"));
	ACCEPTED(s_issue(f, "t3", "b", "B", "B2"));
}

static void
test_t3_late_receipt(void **state)
{
	struct fx *f = *state;
	int64_t issued = f->now;
	struct verdict v;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	ACCEPTED(s_issue(f, "t2", "b", "B", "C"));
	f->now = issued + 40 * DAY;                     /* no Tick in between */
	f->township = TS2;
	v = s_receive_at(f, "t1", issued + 30 * DAY + 1);
	REJECTED(v, "T3");
	assert_non_null(strstr(v.reason, "2025-02-09"));
	assert_int_equal(s_transfer_state(f, "t1"), ST_ISSUED);
	/* The last instant of validity is in time, even journaled late. */
	ACCEPTED(s_receive_at(f, "t2", issued + 30 * DAY));
	/* A receipt date before the letter or in the future. */
	REJECTED(s_receive_at(f, "t1", issued - 1), "BAD_FIELD");
	REJECTED(s_receive_at(f, "t1", f->now + DAY), "FUTURE_TIME");
	REJECTED(s_receive_at(f, "t1", 0), "BAD_FIELD");
}

static void
test_t4_receipt_warning(void **state)
{
	struct fx *f = *state;
	int64_t received;
	struct verdict v;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	ACCEPTED(s_issue(f, "t2", "b", "B", "C"));
	f->township = TS2;
	received = f->now;
	ACCEPTED(s_receive(f, "t1"));
	ACCEPTED(s_receive(f, "t2"));
	f->now = received + 60 * DAY;
	REJECTED(s_receipt_at(f, "t1", received - 1), "BAD_FIELD");
	v = s_receipt_at(f, "t1", received + 30 * DAY);
	ACCEPTED(v);
	assert_false(s_warned(&v, "T4"));
	v = s_receipt_at(f, "t2", received + 30 * DAY + 1);
	ACCEPTED(v);
	assert_true(s_warned(&v, "T4"));
	assert_int_equal(s_transfer_state(f, "t2"), ST_RETURNED);
}

static void
test_t5_dues_warning(void **state)
{
	struct fx *f = *state;                          /* now: 2025-01-10 */
	Jiceng__V1__TransferIssued e;
	const char *ids[] = { "a", "b", "c", "d" };
	struct verdict v;
	s_trees(f);
	for (int i = 0; i < 4; i++)
		ACCEPTED(fx_register(f, ids[i], "B", FULL));
	e = s_letter(f, "t1", "a", "B", "B2");
	e.dues_paid_through = 202413;
	REJECTED(fx_send(f, EV_ISSUED, &e), "BAD_FIELD");
	e.dues_paid_through = 202412;                   /* the month before: fine */
	v = fx_send(f, EV_ISSUED, &e);
	ACCEPTED(v);
	assert_false(s_warned(&v, "T5"));
	e = s_letter(f, "t2", "b", "B", "B2");
	e.dues_paid_through = 202411;
	v = fx_send(f, EV_ISSUED, &e);
	ACCEPTED(v);
	assert_true(s_warned(&v, "T5"));
	e = s_letter(f, "t3", "c", "B", "B2");
	e.dues_paid_through = 0;                        /* not stated */
	v = fx_send(f, EV_ISSUED, &e);
	ACCEPTED(v);
	assert_true(s_warned(&v, "T5"));
	assert_non_null(strstr(s_warning(&v, "T5"), "does not state"));
	e = s_letter(f, "t4", "d", "B", "B2");
	e.dues_paid_through = 202502;                   /* paid ahead */
	v = fx_send(f, EV_ISSUED, &e);
	ACCEPTED(v);
	assert_false(s_warned(&v, "T5"));
}

static void
test_t6_new_probationary(void **state)
{
	struct fx *f = *state;
	struct verdict v;
	s_trees(f);
	ACCEPTED(s_register_as(f, "p1", "B", PROB, f->now - 60 * DAY));
	ACCEPTED(s_register_as(f, "p2", "B", PROB, f->now - 91 * DAY));
	ACCEPTED(s_register_as(f, "f1", "B", FULL, f->now - 400 * DAY));  /* R1: a year at least */
	v = s_issue(f, "t1", "p1", "B", "B2");
	ACCEPTED(v);
	assert_true(s_warned(&v, "T6"));
	v = s_issue(f, "t2", "p2", "B", "B2");
	ACCEPTED(v);
	assert_false(s_warned(&v, "T6"));
	v = s_issue(f, "t3", "f1", "B", "B2");
	ACCEPTED(v);
	assert_false(s_warned(&v, "T6"));
}

/* ---------------------------------------------------------- T7 */

static void
test_t7_townships(void **state)
{
	struct fx *f = *state;
	struct verdict v;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));       /* TS1 -> TS2 */
	ACCEPTED(s_issue_out(f, "x1", "b", "B"));        /* TS1 -> outside */
	/* The sender does not receive or reject its own letter to TS2. */
	REJECTED(s_receive(f, "t1"), "T7");
	REJECTED(s_reject(f, "t1"), "T7");
	/* The receiver does not revoke it. */
	f->township = TS2;
	REJECTED(s_revoke(f, "t1"), "T7");
	/* No township of the county receives a letter to outside it, nor
	 * records its rejection or receipt but the sender. */
	v = s_receive(f, "x1");
	REJECTED(v, "T7");
	assert_non_null(strstr(v.reason, "outside the county"));
	REJECTED(s_reject(f, "x1"), "T7");
	REJECTED(s_receipt(f, "x1"), "T7");
	f->township = TS1;
	REJECTED(s_receive(f, "x1"), "T7");
	/* Received: the receipt is the receiver's; revoking is too late. */
	f->township = TS2;
	ACCEPTED(s_receive(f, "t1"));
	f->township = TS1;
	REJECTED(s_receipt(f, "t1"), "T7");
	REJECTED(s_revoke(f, "t1"), "T7");
	f->township = TS2;
	ACCEPTED(s_receipt(f, "t1"));
	f->township = TS1;
	ACCEPTED(s_revoke(f, "x1"));
	REJECTED(s_revoke(f, "x1"), "T7");              /* already revoked */
}

/* ---------------------------------------------------------- T8 */

static void
test_t8_expiry_at_tick(void **state)
{
	struct fx *f = *state;
	int64_t issued = f->now;
	struct transfer_rec t;
	struct member_rec r;
	Jiceng__V1__TransferIssued e;
	struct fx_changes cs;
	uint64_t tick;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	e = s_letter(f, "t1", "a", "B", "C");
	e.valid_days = 10;
	ACCEPTED(fx_send(f, EV_ISSUED, &e));
	/* Not before: a Tick at the last instant of validity. */
	f->now = issued + 10 * DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_transfer_state(f, "t1"), ST_ISSUED);
	f->now = issued + 10 * DAY + 3600000;
	ACCEPTED(fx_tick(f));
	tick = f->seq;
	fx_load_transfer(f, "t1", &t);
	assert_int_equal(t.state, ST_EXPIRED);
	assert_int_equal(t.closed_at, f->now);
	assert_int_equal(t.last_seq, tick);
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_EXPIRED);
	assert_string_equal(r.home_org_id, "B");        /* never left the sender */
	assert_true(s_on_roster(f, "B", "a"));
	assert_int_equal(s_count(f, "B"), 1);
	fx_changes(f, tick, tick, &cs);
	assert_int_equal(cs.n, 1);
	assert_int_equal(cs.sc[0]->transfer_state, ST_EXPIRED);
	assert_int_equal(cs.sc[0]->previous_transfer_state, ST_ISSUED);
	assert_string_equal(cs.sc[0]->transfer_id, "t1");
	fx_changes_free(&cs);
	/* A later Tick finds nothing more; the member may be sent again. */
	f->now += 3600000;
	ACCEPTED(fx_tick(f));
	fx_changes(f, f->seq, f->seq, &cs);
	assert_int_equal(cs.n, 0);
	ACCEPTED(s_issue(f, "t2", "a", "B", "C"));
}

/* A letter expired at a Tick is still received when the receipt date lies
 * within its validity and the member is still on it. */
static void
test_late_report_of_timely_receipt(void **state)
{
	struct fx *f = *state;
	int64_t issued = f->now;
	Jiceng__V1__TransferIssued e;
	struct transfer_rec t;
	struct member_rec r;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(fx_register(f, "c", "B", FULL));
	e = s_letter(f, "t1", "a", "B", "C");
	e.valid_days = 10;
	ACCEPTED(fx_send(f, EV_ISSUED, &e));
	e = s_letter(f, "t2", "b", "B", "C");
	e.valid_days = 10;
	ACCEPTED(fx_send(f, EV_ISSUED, &e));
	e = s_letter(f, "t3", "c", "B", "C");
	e.valid_days = 10;
	ACCEPTED(fx_send(f, EV_ISSUED, &e));
	f->now = issued + 11 * DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_transfer_state(f, "t1"), ST_EXPIRED);
	/* c was sent again meanwhile: t3 no longer carries it. */
	ACCEPTED(s_issue(f, "t4", "c", "B", "B2"));
	f->township = TS2;
	ACCEPTED(s_receive_at(f, "t1", issued + 9 * DAY));
	REJECTED(s_receive_at(f, "t2", issued + 10 * DAY + 1), "T3");
	REJECTED(s_receive_at(f, "t3", issued + 9 * DAY), "BAD_STATE");
	fx_load_transfer(f, "t1", &t);
	assert_int_equal(t.state, ST_RECEIVED);
	assert_int_equal(t.received_at, issued + 9 * DAY);
	assert_int_equal(t.closed_at, 0);
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_RECEIVED);
	assert_string_equal(r.home_org_id, "C");
	assert_string_equal(r.township_id, TS2);
	assert_int_equal(s_count(f, "C"), 1);
	assert_int_equal(s_count(f, "B"), 2);
}

/* ---------------------------------------------------------- end to end */

static void
test_within_township(void **state)
{
	struct fx *f = *state;
	struct transfer_rec t;
	struct member_rec r;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "B2"));
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_ISSUED);
	assert_string_equal(r.transfer_id, "t1");
	assert_int_equal(s_count(f, "B"), 2);           /* still the sender's */
	assert_int_equal(s_count(f, "B2"), 0);
	ACCEPTED(s_receive(f, "t1"));
	assert_int_equal(s_count(f, "B"), 1);
	assert_int_equal(s_count(f, "B2"), 1);
	assert_false(s_on_roster(f, "B", "a"));
	assert_true(s_on_roster(f, "B2", "a"));
	fx_load_member(f, "a", &r);
	assert_string_equal(r.home_org_id, "B2");
	assert_int_equal(r.transfer_state, ST_RECEIVED);
	f->now += 5 * DAY;
	ACCEPTED(s_receipt(f, "t1"));
	fx_load_transfer(f, "t1", &t);
	assert_int_equal(t.state, ST_RETURNED);
	assert_int_equal(t.receipt_returned_at, f->now);
	assert_string_equal(t.from_township_id, TS1);
	assert_string_equal(t.to_township_id, TS1);
	assert_string_equal(t.letter_no, "组转〔2025〕1号");
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_RETURNED);
	/* Moved on: the new org sends it on. */
	REJECTED(s_issue(f, "t2", "a", "B", "V"), "T2");
	ACCEPTED(s_issue(f, "t2", "a", "B2", "B"));
}

static void
test_between_townships(void **state)
{
	struct fx *f = *state;
	struct member_rec r;
	struct transfer_rec t;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	fx_load_transfer(f, "t1", &t);
	assert_string_equal(t.to_township_id, TS2);
	f->township = TS2;
	REJECTED(s_issue(f, "t2", "a", "B", "C"), "WRONG_TOWNSHIP");   /* not TS2's yet */
	ACCEPTED(s_receive(f, "t1"));
	assert_int_equal(s_count(f, "B"), 0);
	assert_int_equal(s_count(f, "C"), 1);
	fx_load_member(f, "a", &r);
	assert_string_equal(r.township_id, TS2);
	assert_string_equal(r.home_org_id, "C");
	/* Now TS2's member: TS1 can no longer act on it. */
	f->township = TS1;
	REJECTED(s_issue(f, "t2", "a", "C", "B"), "WRONG_TOWNSHIP");
	/* Sent on before t1's receipt went back: the receipt closes t1 but
	 * the member's state follows its latest letter, t2. */
	f->township = TS2;
	ACCEPTED(s_issue(f, "t2", "a", "C", "B"));
	ACCEPTED(s_receipt(f, "t1"));
	assert_int_equal(s_transfer_state(f, "t1"), ST_RETURNED);
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_ISSUED);
	assert_string_equal(r.transfer_id, "t2");
}

static void
test_out_of_county(void **state)
{
	struct fx *f = *state;
	struct member_rec r;
	struct transfer_rec t;
	struct fx_changes cs;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(s_issue_out(f, "x1", "a", "B"));
	fx_load_transfer(f, "x1", &t);
	assert_string_equal(t.to_external.area_code, "320506");
	assert_string_equal(t.to_org_id, "");
	assert_string_equal(t.to_township_id, "");
	assert_int_equal(s_count(f, "B"), 1);
	f->now += 20 * DAY;
	ACCEPTED(s_receipt(f, "x1"));
	fx_changes(f, f->seq, f->seq, &cs);
	assert_int_equal(cs.n, 1);
	assert_true(cs.sc[0]->transferred_out);
	assert_int_equal(cs.sc[0]->transfer_state, ST_RETURNED);
	fx_changes_free(&cs);
	assert_int_equal(s_transfer_state(f, "x1"), ST_RETURNED);
	assert_int_equal(s_count(f, "B"), 0);
	assert_false(s_on_roster(f, "B", "a"));
	fx_load_member(f, "a", &r);                     /* still loadable */
	assert_true(r.transferred_out);
	assert_int_equal(r.transfer_state, ST_RETURNED);
	REJECTED(s_issue(f, "x2", "a", "B", "B2"), "TRANSFERRED_OUT");
	REJECTED(s_receipt(f, "x1"), "BAD_STATE");
}

static Jiceng__V1__MemberRegistered
s_record(const char *id, const char *home)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, home, FULL);
	e.name = "李四";
	e.admitted_at = fx_cst(2015, 7, 1, 9, 0);
	e.confirmed_at = fx_cst(2016, 7, 1, 9, 0);
	return e;
}

static void
test_into_county(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__TransferReceived e = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__MemberRegistered reg = s_record("n1", "");
	Jiceng__V1__ExternalOrg bad = JICENG__V1__EXTERNAL_ORG__INIT;
	struct transfer_rec t;
	struct member_rec r;
	struct fx_changes cs;
	s_trees(f);
	f->township = TS2;
	e.transfer_id = "in1";
	e.to_org_id = "C";
	e.received_at = f->now;
	e.from_external = s_outside();
	e.member_id = "n1";
	e.letter_no = "苏吴组转〔2025〕7号";
	/* The record is required and names the same member and org. */
	REJECTED(fx_send(f, EV_RECEIVED, &e), "BAD_FIELD");
	e.member = &reg;
	reg.member_id = "n2";
	REJECTED(fx_send(f, EV_RECEIVED, &e), "BAD_FIELD");
	reg.member_id = "n1";
	reg.home_org_id = "W";
	REJECTED(fx_send(f, EV_RECEIVED, &e), "BAD_FIELD");
	reg.home_org_id = "";
	e.from_external = &bad;
	bad.area_code = "3205";
	bad.org_name = "某支部";
	REJECTED(fx_send(f, EV_RECEIVED, &e), "BAD_FIELD");
	bad.area_code = "320506000000";
	bad.org_name = "";
	REJECTED(fx_send(f, EV_RECEIVED, &e), "BAD_FIELD");
	e.from_external = s_outside();
	e.received_at = 0;
	REJECTED(fx_send(f, EV_RECEIVED, &e), "BAD_FIELD");
	e.received_at = f->now;
	/* Registration's own rules: an org of the township (O6), not a
	 * temporary branch (O5), of age at admission (R2). */
	e.to_org_id = "B";
	REJECTED(fx_send(f, EV_RECEIVED, &e), "WRONG_TOWNSHIP");
	e.to_org_id = "C";
	reg.birth_date = "2000-01-01";                  /* 15 at admission */
	REJECTED(fx_send(f, EV_RECEIVED, &e), "R2");
	reg.birth_date = "1990-01-01";
	ACCEPTED(fx_send(f, EV_RECEIVED, &e));
	REJECTED(fx_send(f, EV_RECEIVED, &e), "TRANSFER_EXISTS");
	e.transfer_id = "in2";
	REJECTED(fx_send(f, EV_RECEIVED, &e), "MEMBER_EXISTS");

	fx_load_member(f, "n1", &r);
	assert_string_equal(r.home_org_id, "C");
	assert_string_equal(r.township_id, TS2);
	assert_int_equal(r.transfer_state, ST_RECEIVED);
	assert_string_equal(r.transfer_id, "in1");
	assert_string_equal(r.birth_date, "1990-01-01");
	assert_int_equal(s_count(f, "C"), 1);
	fx_load_transfer(f, "in1", &t);
	assert_int_equal(t.state, ST_RECEIVED);
	assert_string_equal(t.from_external.area_code, "320506");
	assert_string_equal(t.from_external.org_name, "吴中区某村党支部");
	assert_string_equal(t.from_org_id, "");
	assert_string_equal(t.from_township_id, "");
	assert_string_equal(t.to_org_id, "C");
	assert_string_equal(t.to_township_id, TS2);
	assert_string_equal(t.letter_no, "苏吴组转〔2025〕7号");
	assert_int_equal(t.opened_seq, f->seq - 2);
	/* A new member in a transfer state is logged, with no previous. */
	fx_changes(f, t.opened_seq, t.opened_seq, &cs);
	assert_int_equal(cs.n, 1);
	assert_string_equal(cs.sc[0]->member_id, "n1");
	assert_int_equal(cs.sc[0]->transfer_state, ST_RECEIVED);
	assert_int_equal(cs.sc[0]->previous_transfer_state, ST_NONE);
	assert_string_equal(cs.sc[0]->home_org_id, "C");
	fx_changes_free(&cs);
	/* Nobody in the county revokes it; its receipt goes back from TS2. */
	REJECTED(s_revoke(f, "in1"), "T7");
	f->township = TS1;
	REJECTED(s_receipt(f, "in1"), "T7");
	f->township = TS2;
	ACCEPTED(s_receipt(f, "in1"));
	fx_load_member(f, "n1", &r);
	assert_int_equal(r.transfer_state, ST_RETURNED);
}

static void
test_impossible_orders(void **state)
{
	struct fx *f = *state;
	struct verdict v;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	f->township = TS2;
	REJECTED(s_receive(f, "t1"), "UNKNOWN_TRANSFER");   /* before it is issued */
	REJECTED(s_receipt(f, "t1"), "UNKNOWN_TRANSFER");
	REJECTED(s_reject(f, "t1"), "UNKNOWN_TRANSFER");
	f->township = TS1;
	REJECTED(s_revoke(f, "t1"), "UNKNOWN_TRANSFER");
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	REJECTED(s_issue(f, "t1", "b", "B", "C"), "TRANSFER_EXISTS");
	f->township = TS2;
	v = s_receipt(f, "t1");                          /* before the member */
	REJECTED(v, "BAD_STATE");
	assert_non_null(strstr(v.reason, "ISSUED"));
	ACCEPTED(s_receive(f, "t1"));
	v = s_receive(f, "t1");                          /* twice */
	REJECTED(v, "BAD_STATE");
	assert_non_null(strstr(v.reason, "RECEIVED"));
	REJECTED(s_reject(f, "t1"), "BAD_STATE");
	f->township = TS1;
	v = s_revoke(f, "t1");                           /* after the receipt */
	REJECTED(v, "T7");
	assert_non_null(strstr(v.reason, "RECEIVED"));
	/* Revoked: neither received nor rejected. */
	ACCEPTED(s_issue(f, "t2", "b", "B", "C"));
	ACCEPTED(s_revoke(f, "t2"));
	f->township = TS2;
	v = s_receive(f, "t2");
	REJECTED(v, "BAD_STATE");
	assert_non_null(strstr(v.reason, "the transfer is REVOKED; it must be ISSUED to be received"));
	REJECTED(s_reject(f, "t2"), "BAD_STATE");
	REJECTED(s_receipt(f, "t2"), "BAD_STATE");
}

static void
test_rejected_and_revoked(void **state)
{
	struct fx *f = *state;
	struct transfer_rec t;
	struct member_rec r;
	Jiceng__V1__TransferRejected rj = JICENG__V1__TRANSFER_REJECTED__INIT;
	char long_reason[300];
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	ACCEPTED(s_issue_out(f, "x1", "b", "B"));
	f->township = TS2;
	memset(long_reason, 'x', sizeof long_reason - 1);
	long_reason[sizeof long_reason - 1] = '\0';
	rj.transfer_id = "t1";
	rj.reason = long_reason;
	rj.rejected_at = f->now;
	REJECTED(fx_send(f, EV_REJECTED, &rj), "BAD_FIELD");
	rj.reason = "";
	rj.rejected_at = 0;
	REJECTED(fx_send(f, EV_REJECTED, &rj), "BAD_FIELD");
	f->now += DAY;
	ACCEPTED(s_reject(f, "t1"));
	fx_load_transfer(f, "t1", &t);
	assert_int_equal(t.state, ST_REJECTED);
	assert_int_equal(t.closed_at, f->now);
	assert_string_equal(t.reason, "组织关系不符 / wrong org");
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_REJECTED);
	assert_string_equal(r.home_org_id, "B");
	assert_int_equal(s_count(f, "B"), 2);
	/* An outside org's rejection, recorded by the sender. */
	f->township = TS1;
	ACCEPTED(s_reject(f, "x1"));
	fx_load_member(f, "b", &r);
	assert_int_equal(r.transfer_state, ST_REJECTED);
	assert_false(r.transferred_out);
	/* Revoked, a letter leaves the member where it was. */
	ACCEPTED(s_issue(f, "t2", "a", "B", "C"));
	ACCEPTED(s_revoke(f, "t2"));
	fx_load_transfer(f, "t2", &t);
	assert_int_equal(t.state, ST_REVOKED);
	assert_string_equal(t.reason, "本人申请撤回");
	fx_load_member(f, "a", &r);
	assert_int_equal(r.transfer_state, ST_REVOKED);
	assert_string_equal(r.transfer_id, "t2");
	assert_int_equal(s_count(f, "B"), 2);
	assert_int_equal(s_count(f, "C"), 0);
}

/* ---------------------------------------------------------- fields, R3 */

static void
test_issue_fields(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__TransferIssued e;
	Jiceng__V1__ExternalOrg x = JICENG__V1__EXTERNAL_ORG__INIT;
	char letter[70];
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	REJECTED(s_issue(f, "t1", "nobody", "B", "B2"), "UNKNOWN_MEMBER");
	REJECTED(s_issue(f, "", "a", "B", "B2"), "BAD_FIELD");
	REJECTED(s_issue(f, "t1", "a", "B", NULL), "BAD_FIELD");     /* no target */
	REJECTED(s_issue(f, "t1", "a", "B", ""), "BAD_FIELD");
	REJECTED(s_issue(f, "t1", "a", "B", "B"), "BAD_FIELD");      /* to itself */
	REJECTED(s_issue(f, "t1", "a", "B", "nowhere"), "UNKNOWN_ORG");
	REJECTED(s_issue(f, "t1", "a", "B", "TB"), "O5");            /* temporary branch */
	e = s_letter(f, "t1", "a", "B", "B2");
	memset(letter, '1', sizeof letter - 1);
	letter[sizeof letter - 1] = '\0';
	e.letter_no = letter;
	REJECTED(fx_send(f, EV_ISSUED, &e), "BAD_FIELD");
	e = s_letter(f, "t1", "a", "B", "B2");
	e.issued_at = 0;
	REJECTED(fx_send(f, EV_ISSUED, &e), "BAD_FIELD");
	e.issued_at = f->now + DAY;
	REJECTED(fx_send(f, EV_ISSUED, &e), "FUTURE_TIME");
	e = s_letter(f, "t1", "a", "B", NULL);
	e.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	e.to_external = &x;
	x.area_code = "32050";
	x.org_name = "某支部";
	REJECTED(fx_send(f, EV_ISSUED, &e), "BAD_FIELD");
	x.area_code = "32050a";
	REJECTED(fx_send(f, EV_ISSUED, &e), "BAD_FIELD");
	x.area_code = "320506";
	x.org_name = "";
	REJECTED(fx_send(f, EV_ISSUED, &e), "BAD_FIELD");
	/* Another township's member or org. */
	f->township = TS2;
	REJECTED(s_issue(f, "t1", "a", "B", "C"), "WRONG_TOWNSHIP");
	f->township = TS1;
	REJECTED(s_issue(f, "t1", "a", "C", "B2"), "T2");
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
}

static void
test_r3_only_normal(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberStatusChanged s = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	s.member_id = "a";
	s.status = JICENG__V1__MEMBER_STATUS__SUSPENDED;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &s));
	REJECTED(s_issue(f, "t1", "a", "B", "C"), "R3");
	/* Suspended while the letter is out: not received. */
	ACCEPTED(s_issue(f, "t2", "b", "B", "C"));
	s.member_id = "b";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &s));
	f->township = TS2;
	REJECTED(s_receive(f, "t2"), "R3");
	f->township = TS1;
	s.status = JICENG__V1__MEMBER_STATUS__NORMAL;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &s));
	f->township = TS2;
	ACCEPTED(s_receive(f, "t2"));
}

/* ---------------------------------------------------------- mobility */

/* Member away on an episode, written through the record layer as
 * mobility.c would. */
static void
s_away(struct fx *f, const char *member, const char *flow, const char *host)
{
	struct member_rec r;
	struct episode_rec e;
	MDB_txn *txn = fx_write(f);
	assert_int_equal(records_member_load(f->m, txn, member, &r), 0);
	memset(&e, 0, sizeof e);
	snprintf(e.flow_id, sizeof e.flow_id, "%s", flow);
	snprintf(e.member_id, sizeof e.member_id, "%s", member);
	e.state = JICENG__V1__MOBILITY_STATE__REPORTED;
	snprintf(e.home_org_id, sizeof e.home_org_id, "%s", r.home_org_id);
	snprintf(e.home_township_id, sizeof e.home_township_id, "%s", r.township_id);
	snprintf(e.destination_code, sizeof e.destination_code, "110105");
	snprintf(e.host_org_id, sizeof e.host_org_id, "%s", host);
	snprintf(e.host_township_id, sizeof e.host_township_id, "%s", TS1);
	e.departed_at = f->now - 30 * DAY;
	e.reported_at = e.last_contact_at = f->now - 28 * DAY;
	e.opened_seq = e.last_seq = f->seq;
	assert_int_equal(records_episode_store(f->m, txn, NULL, &e), 0);
	r.mobility_state = JICENG__V1__MOBILITY_STATE__REPORTED;
	snprintf(r.flow_id, sizeof r.flow_id, "%s", flow);
	snprintf(r.host_org_id, sizeof r.host_org_id, "%s", host);
	assert_int_equal(records_member_store(f->m, txn, &r), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static int
s_count_fn(void *arg, const char *b, bool *stop)
{
	(void)b, (void)stop;
	(*(unsigned *)arg)++;
	return 0;
}

static unsigned
s_pairs(struct fx *f, MDB_dbi dbi, const char *a)
{
	unsigned n = 0;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_pair_each(txn, dbi, a, "", s_count_fn, &n), 0);
	mdb_txn_abort(txn);
	return n;
}

static void
test_closes_mobile_episode(void **state)
{
	struct fx *f = *state;
	struct episode_rec e;
	struct transfer_rec t;
	struct member_rec r;
	struct fx_changes cs;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	s_away(f, "a", "flow1", "B2");
	assert_int_equal(s_pairs(f, f->m->hosted, "B2"), 1);
	assert_int_equal(s_pairs(f, f->m->ep_org, "B"), 1);
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	fx_load_episode(f, "flow1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__TRANSFERRED);
	assert_string_equal(e.closed_by_transfer_id, "t1");
	assert_int_equal(e.last_seq, f->seq);
	assert_int_equal(s_pairs(f, f->m->hosted, "B2"), 0);
	assert_int_equal(s_pairs(f, f->m->ep_org, "B"), 0);
	fx_load_transfer(f, "t1", &t);
	assert_string_equal(t.closed_flow_id, "flow1");
	fx_load_member(f, "a", &r);
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__TRANSFERRED);
	assert_string_equal(r.host_org_id, "");
	assert_string_equal(r.flow_id, "flow1");
	assert_int_equal(r.transfer_state, ST_ISSUED);
	/* One change: the episode's end and the letter together. */
	fx_changes(f, f->seq, f->seq, &cs);
	assert_int_equal(cs.n, 1);
	assert_int_equal(cs.sc[0]->state, JICENG__V1__MOBILITY_STATE__TRANSFERRED);
	assert_int_equal(cs.sc[0]->previous_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_int_equal(cs.sc[0]->transfer_state, ST_ISSUED);
	assert_string_equal(cs.sc[0]->place_code, "110105");
	assert_string_equal(cs.sc[0]->host_org_id, "");
	fx_changes_free(&cs);
	/* Revoking the letter does not reopen the episode. */
	ACCEPTED(s_revoke(f, "t1"));
	fx_load_member(f, "a", &r);
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__TRANSFERRED);
}

/* ---------------------------------------------------------- change log */

static void
test_change_log(void **state)
{
	struct fx *f = *state;
	struct fx_changes cs;
	uint64_t issued, received, returned, first;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	first = f->seq + 1;
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	issued = f->seq;
	f->township = TS2;
	ACCEPTED(s_receive(f, "t1"));
	received = f->seq;
	ACCEPTED(s_receipt(f, "t1"));
	returned = f->seq;
	fx_changes(f, first, returned, &cs);
	assert_int_equal(cs.n, 3);
	assert_int_equal(cs.sc[0]->seq, issued);
	assert_int_equal(cs.sc[0]->index, 0);
	assert_string_equal(cs.sc[0]->member_id, "a");
	assert_int_equal(cs.sc[0]->previous_transfer_state, ST_NONE);
	assert_int_equal(cs.sc[0]->transfer_state, ST_ISSUED);
	assert_string_equal(cs.sc[0]->transfer_id, "t1");
	assert_string_equal(cs.sc[0]->home_org_id, "B");
	assert_string_equal(cs.sc[0]->township_id, TS1);
	assert_string_equal(cs.sc[0]->previous_home_org_id, "");
	assert_int_equal(cs.sc[1]->seq, received);
	assert_int_equal(cs.sc[1]->index, 0);
	assert_int_equal(cs.sc[1]->previous_transfer_state, ST_ISSUED);
	assert_int_equal(cs.sc[1]->transfer_state, ST_RECEIVED);
	assert_string_equal(cs.sc[1]->home_org_id, "C");
	assert_string_equal(cs.sc[1]->previous_home_org_id, "B");
	assert_string_equal(cs.sc[1]->township_id, TS2);
	assert_string_equal(cs.sc[1]->previous_township_id, TS1);
	assert_int_equal(cs.sc[2]->seq, returned);
	assert_int_equal(cs.sc[2]->previous_transfer_state, ST_RECEIVED);
	assert_int_equal(cs.sc[2]->transfer_state, ST_RETURNED);
	assert_int_equal(cs.sc[2]->changed_at, f->now);
	fx_changes_free(&cs);
}

/* Several letters expiring at one Tick: one entry each, indexed in order. */
static void
test_change_log_one_tick(void **state)
{
	struct fx *f = *state;
	const char *ids[] = { "a", "b", "c" }, *tids[] = { "t1", "t2", "t3" };
	int64_t issued = f->now;
	struct fx_changes cs;
	s_trees(f);
	for (int i = 0; i < 3; i++) {
		ACCEPTED(fx_register(f, ids[i], "B", FULL));
		ACCEPTED(s_issue(f, tids[i], ids[i], "B", "C"));
	}
	ACCEPTED(s_revoke(f, "t2"));
	f->now = issued + 31 * DAY;
	ACCEPTED(fx_tick(f));
	fx_changes(f, f->seq, f->seq, &cs);
	assert_int_equal(cs.n, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(cs.sc[i]->seq, f->seq);
		assert_int_equal(cs.sc[i]->index, i);
		assert_int_equal(cs.sc[i]->transfer_state, ST_EXPIRED);
	}
	assert_string_equal(cs.sc[0]->member_id, "a");
	assert_string_equal(cs.sc[1]->member_id, "c");
	fx_changes_free(&cs);
}

/* ---------------------------------------------------------- rejections */

static void
test_rejection_writes_nothing(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__TransferReceived in = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__MemberRegistered reg = s_record("n1", "");
	uint64_t writes, changes;
	s_trees(f);
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(s_issue(f, "t1", "a", "B", "C"));
	writes = membership_writes();
	changes = membership_changes_written();
	REJECTED(s_issue(f, "t1", "a", "B", "C"), "TRANSFER_EXISTS");
	REJECTED(s_issue(f, "t2", "a", "B", "C"), "T2");
	REJECTED(s_receive(f, "t1"), "T7");
	f->township = TS2;
	REJECTED(s_receive_at(f, "t1", f->now + 31 * DAY), "FUTURE_TIME");
	REJECTED(s_receipt(f, "t1"), "BAD_STATE");
	REJECTED(s_revoke(f, "t1"), "T7");
	/* A transfer into the county refused by registration (R2). */
	in.transfer_id = "in1";
	in.to_org_id = "C";
	in.received_at = f->now;
	in.from_external = s_outside();
	in.member_id = "n1";
	in.member = &reg;
	reg.birth_date = "2005-01-01";
	REJECTED(fx_send(f, EV_RECEIVED, &in), "R2");
	assert_int_equal(membership_writes(), writes);
	assert_int_equal(membership_changes_written(), changes);
	assert_int_equal(s_transfer_state(f, "t1"), ST_ISSUED);
}

int
unit_transfers(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_t1_validity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t2_one_open_transfer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t3_late_receipt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t4_receipt_warning, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t5_dues_warning, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t6_new_probationary, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t7_townships, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_t8_expiry_at_tick, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_late_report_of_timely_receipt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_within_township, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_between_townships, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_county, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_into_county, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_impossible_orders, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rejected_and_revoked, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_issue_fields, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r3_only_normal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_closes_mobile_episode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_change_log, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_change_log_one_tick, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rejection_writes_nothing, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("transfers", tests, NULL, NULL);
}
