/*
 * 96-funds: the funds worker through the real daemon, with CURVE keys
 * (townships A and B, the county) and workers = membership,funds. Who
 * allocates a budget: a township key's BudgetAllocated is refused at the
 * broker COUNTY_ONLY (nothing journaled), the county's is journaled and
 * judged by the worker (UNKNOWN_TOWNSHIP for a township without a
 * committee). Events in impossible orders (a disbursement before any
 * budget, a reversal of a reversal, dues of a transferred-out member),
 * from the wrong township, and money edge cases (0, negative, over the
 * single cap, int64 overflow of a running total), each with its code. The
 * queries (budget with its ledger line, disbursement with its reversal,
 * payments, dues) for the county and a township, scoped by key, and
 * jicengctl query on them. What each rule decides in detail is the unit
 * group funds's.
 */
#include "harness.h"
#include "hcurve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_TA H_TOWNSHIP
#define S_TB H_TOWNSHIP2
#define S_TC HCURVE_TC
#define S_B_COMMITTEE "fb-committee"
#define S_B_VILLAGE   "fb-village"
#define S_B_BRANCH    "fb-branch"
#define S_DAY_MS      86400000LL

#define EV_BUDGET    JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED
#define EV_DISBURSED JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED
#define EV_REVERSED  JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED
#define EV_DUES      JICENG__V1__ENVELOPE__EVENT_DUES_PAID
#define BASE_PAY     JICENG__V1__FUND_KIND__CADRE_BASE_PAY
#define ACC          JICENG__V1__VERDICT__ACCEPTED
#define REJ          JICENG__V1__VERDICT__REJECTED

static const char *const s_b_tree[3] = { S_B_COMMITTEE, S_B_VILLAGE, S_B_BRANCH };

/* ================================================================ set-up */

static int
s_setup(void **state)
{
	return hcurve_fx_setup(state, sizeof(struct hcurve_county));
}

/* jicengd running the funds worker, with curve = on and keys for A, B and
 * the county; org trees in A (H_ORG_*) and B, members m1, m2 in A's
 * branch and m3 in B's. */
static struct hcurve_county *
s_up(void **state)
{
	struct hcurve_county *f = *state;
	hcurve_county_up(f, "[daemon]\nworkers = membership,funds\n", "f", s_b_tree);
	hcurve_county_member(f, f->a, S_TA, "m1", H_ORG_BRANCH);
	hcurve_county_member(f, f->a, S_TA, "m2", H_ORG_BRANCH);
	hcurve_county_member(f, f->b, S_TB, "m3", S_B_BRANCH);
	return f;
}

/* Send event c (message msg) for township on sock and expect verdict and
 * code (NULL: any). */
static void
s_send(struct hcurve_county *f, void *sock, const char *township, EventCase c, void *msg,
    Jiceng__V1__Verdict verdict, const char *code)
{
	hcurve_county_send(f, sock, township, c, msg, verdict, code);
}

static void
s_budget(struct hcurve_county *f, void *sock, const char *township, const char *id, int64_t fen,
    Jiceng__V1__Verdict verdict, const char *code)
{
	Jiceng__V1__BudgetAllocated e = JICENG__V1__BUDGET_ALLOCATED__INIT;
	e.budget_id = (char *)id;
	e.kind = BASE_PAY;
	e.year = 2025;
	e.amount_fen = fen;
	e.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	s_send(f, sock, township, EV_BUDGET, &e, verdict, code);
}

static void
s_pay(struct hcurve_county *f, void *sock, const char *township, const char *id, const char *member,
    int period, int64_t fen, Jiceng__V1__Verdict verdict, const char *code)
{
	Jiceng__V1__FundDisbursed e = JICENG__V1__FUND_DISBURSED__INIT;
	e.disbursement_id = (char *)id;
	e.kind = BASE_PAY;
	e.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
	e.payee_member_id = (char *)member;
	e.amount_fen = fen;
	e.period = period;
	e.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	e.paid_at = now_wall_ms() - S_DAY_MS;
	s_send(f, sock, township, EV_DISBURSED, &e, verdict, code);
}

static void
s_reverse(struct hcurve_county *f, void *sock, const char *township, const char *id,
    Jiceng__V1__Verdict verdict, const char *code)
{
	Jiceng__V1__DisbursementReversed e = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	e.disbursement_id = (char *)id;
	e.reason = "重复发放";
	e.reversed_at = now_wall_ms();
	s_send(f, sock, township, EV_REVERSED, &e, verdict, code);
}

static void
s_dues(struct hcurve_county *f, void *sock, const char *township, const char *member, int month,
    Jiceng__V1__Verdict verdict, const char *code)
{
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = (char *)member;
	e.month = month;
	e.amount_fen = 1000;
	e.paid_at = now_wall_ms();
	s_send(f, sock, township, EV_DUES, &e, verdict, code);
}

/* m2 leaves the county: a letter to an org outside it, and its receipt. */
static void
s_transfer_out(struct hcurve_county *f)
{
	Jiceng__V1__ExternalOrg to = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__TransferIssued t = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceiptReturned r = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	to.area_code = "320506";
	to.org_name = "吴中区某村党支部";
	t.transfer_id = "f-out";
	t.member_id = "m2";
	t.from_org_id = H_ORG_BRANCH;
	t.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	t.to_external = &to;
	t.issued_at = now_wall_ms() - 2 * S_DAY_MS;
	t.valid_days = 30;
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &t, ACC, NULL);
	r.transfer_id = "f-out";
	r.returned_at = now_wall_ms() - S_DAY_MS;
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &r, ACC,
	    NULL);
}

/* ================================================================ queries */

static QueryReply *
s_get_budget(struct hcurve_county *f, void *sock, const char *id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetBudget g = JICENG__V1__GET_BUDGET__INIT;
	g.budget_id = (char *)id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_BUDGET;
	q.get_budget = &g;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

static QueryReply *
s_get_disbursement(struct hcurve_county *f, void *sock, const char *id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetDisbursement g = JICENG__V1__GET_DISBURSEMENT__INIT;
	g.disbursement_id = (char *)id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_DISBURSEMENT;
	q.get_disbursement = &g;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

static QueryReply *
s_list_payments(struct hcurve_county *f, void *sock, const char *member, const char *org)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListPayments l = JICENG__V1__LIST_PAYMENTS__INIT;
	l.member_id = (char *)(member ? member : "");
	l.org_id = (char *)(org ? org : "");
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_PAYMENTS;
	q.list_payments = &l;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

static QueryReply *
s_list_dues(struct hcurve_county *f, void *sock, const char *member, int from, int to)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListDues l = JICENG__V1__LIST_DUES__INIT;
	l.member_id = (char *)member;
	l.from_month = from;
	l.to_month = to;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_DUES;
	q.list_dues = &l;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

/* journal_length from stats asked with the county key. */
static uint64_t
s_journal_length(struct hcurve_county *f)
{
	QueryReply *r = hcurve_stats(&f->h.c, f->qcounty);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	uint64_t n = r->stats->journal_length;
	hq_free(r);
	return n;
}

/* r came OK with result kind rc. */
static void
s_ok(QueryReply *r, Jiceng__V1__QueryReply__ResultCase rc)
{
	assert_non_null(r);
	if (r->status != JICENG__V1__QUERY_STATUS__OK)
		fail_msg("query: %s %s", r->code, r->reason);
	assert_int_equal(r->result_case, rc);
}

/* ================================================================ tests */

/* Budgets are the county's: a township key's BudgetAllocated is refused
 * at the broker, even for its own township, and never journaled; the
 * county's is journaled and judged by the worker. */
static void
test_budget_county_only(void **state)
{
	struct hcurve_county *f = s_up(state);
	uint64_t before = s_journal_length(f);
	s_budget(f, f->a, S_TA, "bud-1", 500000, REJ, "COUNTY_ONLY");
	s_budget(f, f->b, S_TA, "bud-1", 500000, REJ, "WRONG_TOWNSHIP");
	assert_int_equal(s_journal_length(f), before);
	s_budget(f, f->county, S_TA, "bud-1", 500000, ACC, NULL);
	assert_int_equal(s_journal_length(f), before + 1);
	s_budget(f, f->county, S_TA, "bud-1", 500000, REJ, "BUDGET_EXISTS");
	/* A township of the county without a township committee yet. */
	s_budget(f, f->county, S_TC, "bud-2", 500000, REJ, "UNKNOWN_TOWNSHIP");
	s_budget(f, f->county, S_TB, "bud-2", 300000, ACC, NULL);
	/* The rest of the funds events are the payee's township's own. */
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 1000, ACC, NULL);
	s_pay(f, f->county, S_TB, "d-2", "m3", 202501, 1000, ACC, NULL);
	hd_pass(f->h.d);
}

/* Impossible orders, the wrong township and money edge cases, each with
 * its code, through the daemon. */
static void
test_orders_and_money(void **state)
{
	struct hcurve_county *f = s_up(state);
	/* A disbursement before any budget. */
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 1000, REJ, "F2");
	s_budget(f, f->county, S_TA, "bud-1", 50000000, ACC, NULL);
	/* 0, negative, over the single cap (100 000 yuan by default). */
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 0, REJ, "F1");
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, -500, REJ, "F1");
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 10000001, REJ, "F1");
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 10000000, ACC, NULL);
	s_pay(f, f->a, S_TA, "d-2", "m1", 202501, 1000, REJ, "F3");
	/* The wrong township: B pays A's member, reverses A's payment. */
	s_pay(f, f->b, S_TB, "d-2", "m1", 202502, 1000, REJ, "WRONG_TOWNSHIP");
	s_reverse(f, f->b, S_TB, "d-1", REJ, "WRONG_TOWNSHIP");
	s_dues(f, f->b, S_TB, "m1", 202501, REJ, "WRONG_TOWNSHIP");
	/* A reversal, and a reversal of the reversal; an unknown one. */
	s_reverse(f, f->a, S_TA, "d-1", ACC, NULL);
	s_reverse(f, f->a, S_TA, "d-1", REJ, "F5");
	s_reverse(f, f->a, S_TA, "d-none", REJ, "F5");
	/* int64 overflow of the budget's running total. */
	s_budget(f, f->county, S_TA, "bud-2", INT64_MAX - 50000000, ACC, NULL);
	s_budget(f, f->county, S_TA, "bud-3", 1, REJ, "AMOUNT_OVERFLOW");
	/* Dues of a transferred-out member. */
	s_dues(f, f->a, S_TA, "m2", 202501, ACC, NULL);
	s_transfer_out(f);
	s_dues(f, f->a, S_TA, "m2", 202502, REJ, "TRANSFERRED_OUT");
	hd_pass(f->h.d);
}

/* The queries, each read by the county and by the township it is about,
 * not by another. */
static void
test_queries(void **state)
{
	struct hcurve_county *f = s_up(state);
	QueryReply *r;
	s_budget(f, f->county, S_TA, "bud-1", 100000, ACC, NULL);
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 30000, ACC, NULL);
	s_pay(f, f->a, S_TA, "d-2", "m1", 202502, 20000, ACC, NULL);
	s_reverse(f, f->a, S_TA, "d-2", ACC, NULL);
	s_dues(f, f->a, S_TA, "m1", 202501, ACC, NULL);
	s_dues(f, f->a, S_TA, "m1", 202502, ACC, NULL);

	s_ok(r = s_get_budget(f, f->qcounty, "bud-1"), JICENG__V1__QUERY_REPLY__RESULT_BUDGET);
	assert_string_equal(r->budget->township_id, S_TA);
	assert_non_null(r->budget->ledger);
	assert_int_equal(r->budget->ledger->budget_fen, 100000);
	assert_int_equal(r->budget->ledger->disbursed_fen, 50000);
	assert_int_equal(r->budget->ledger->reversed_fen, 20000);
	assert_int_equal(r->budget->ledger->remaining_fen, 70000);
	hq_free(r);
	s_ok(r = s_get_budget(f, f->qa, "bud-1"), JICENG__V1__QUERY_REPLY__RESULT_BUDGET);
	hq_free(r);
	hcurve_expect(s_get_budget(f, f->qb, "bud-1"), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");
	hcurve_expect(s_get_budget(f, f->qcounty, "bud-none"), JICENG__V1__QUERY_STATUS__NOT_FOUND,
	    "NOT_FOUND");
	hcurve_expect(s_get_budget(f, f->qb, "bud-none"), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");

	s_ok(r = s_get_disbursement(f, f->qa, "d-2"), JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENT);
	assert_non_null(r->disbursement->reversal);
	assert_string_equal(r->disbursement->reversal->reason, "重复发放");
	hq_free(r);
	hcurve_expect(s_get_disbursement(f, f->qb, "d-2"), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");

	s_ok(r = s_list_payments(f, f->qa, "m1", NULL), JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENTS);
	assert_int_equal(r->disbursements->n_disbursements, 2);
	hq_free(r);
	hcurve_expect(s_list_payments(f, f->qb, "m1", NULL), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");
	hcurve_expect(s_list_payments(f, f->qa, "m1", H_ORG_BRANCH),
	    JICENG__V1__QUERY_STATUS__BAD_QUERY, "BAD_SELECTOR");
	s_ok(r = s_list_payments(f, f->qcounty, NULL, H_ORG_BRANCH),
	    JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENTS);
	assert_int_equal(r->disbursements->n_disbursements, 0);
	hq_free(r);

	s_ok(r = s_list_dues(f, f->qa, "m1", 202502, 0), JICENG__V1__QUERY_REPLY__RESULT_DUES);
	assert_int_equal(r->dues->n_dues, 1);
	assert_int_equal(r->dues->dues[0]->month, 202502);
	hq_free(r);
	hcurve_expect(s_list_dues(f, f->qb, "m1", 0, 0), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");
	hcurve_expect(s_list_dues(f, f->qa, "m1", 202513, 0), JICENG__V1__QUERY_STATUS__BAD_QUERY,
	    "BAD_MONTH");
	hd_pass(f->h.d);
}

/* jicengctl query with the CURVE key `key` (hcurve_ctl); what its stdout
 * holds. */
#define s_ctl(f, key, ...) hcurve_ctl(&(f)->h.c, (f)->h.d, (key), "query", __VA_ARGS__)
#define s_out_has(f, s) hcurve_ctl_has((f)->h.d, "ctl.out", (s), true)

/* jicengctl query budget / disbursement / payments / dues. */
static void
test_ctl(void **state)
{
	struct hcurve_county *f = s_up(state);
	s_budget(f, f->county, S_TA, "bud-1", 100000, ACC, NULL);
	s_pay(f, f->a, S_TA, "d-1", "m1", 202501, 30000, ACC, NULL);
	s_dues(f, f->a, S_TA, "m1", 202501, ACC, NULL);
	assert_int_equal(s_ctl(f, "county", "budget", "bud-1", NULL), 0);
	assert_true(s_out_has(f, "\"remainingFen\":\"70000\""));
	assert_int_equal(s_ctl(f, "townA", "disbursement", "d-1", NULL), 0);
	assert_true(s_out_has(f, "\"payeeMemberId\":\"m1\""));
	assert_int_equal(s_ctl(f, "townA", "payments", "--member", "m1", NULL), 0);
	assert_true(s_out_has(f, "\"disbursementId\":\"d-1\""));
	assert_int_equal(s_ctl(f, "townA", "dues", "--member", "m1", NULL), 0);
	assert_true(s_out_has(f, "\"month\":202501"));
	assert_int_equal(s_ctl(f, "townB", "budget", "bud-1", NULL), 1);
	assert_int_equal(s_ctl(f, "county", "budget", "bud-none", NULL), 3);
	hd_pass(f->h.d);
}

int
integ_funds(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_budget_county_only, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_orders_and_money, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_queries, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_ctl, s_setup, hcurve_fx_teardown),
	};
	return cmocka_run_group_tests_name("funds", tests, NULL, NULL);
}
