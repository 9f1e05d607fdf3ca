/*
 * Unit tests of the funds rules (workers/funds.c) and their read side
 * (workers/funds_query.c): F1-F7, the budget's township, money edge cases
 * (0, negative, over the single cap, int64 overflow of a running total),
 * impossible orders (a disbursement before any budget, a reversal of a
 * reversal, dues of a transferred-out member), the payee rules, the
 * ledger's running totals, and the queries. Each runs against a real LMDB
 * environment with membership and the funds module applied as the fold
 * applies them (domain_fx.h), which also checks that every rejection
 * wrote nothing.
 */
#include "unit.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "domain_fx.h"
#include "funds.h"

#define EV_BUDGET    JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED
#define EV_DISBURSED JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED
#define EV_REVERSED  JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED
#define EV_DUES      JICENG__V1__ENVELOPE__EVENT_DUES_PAID

#define BASE_PAY   JICENG__V1__FUND_KIND__CADRE_BASE_PAY
#define OFFICE     JICENG__V1__FUND_KIND__VILLAGE_OFFICE_FUND
#define HARDSHIP   JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE
#define VETERAN    JICENG__V1__FUND_KIND__VETERAN_CONDOLENCE
#define FISCAL     JICENG__V1__FUNDING_SOURCE__FISCAL
#define DUES_SRC   JICENG__V1__FUNDING_SOURCE__PARTY_DUES
#define FULL       JICENG__V1__MEMBER_CATEGORY__FULL

/* ---------------------------------------------------------- fixture */

/* TS1: township committee T, village V, branch B, members a and b of B.
 * TS2: township committee U, village W, branch C, member c of C. Leaves
 * f sending as TS1 (journal time 2025-01-10). */
static void
s_county(struct fx *f)
{
	fx_tree(f, "T", "V", "B");
	ACCEPTED(fx_register(f, "a", "B", FULL));
	ACCEPTED(fx_register(f, "b", "B", FULL));
	f->township = TS2;
	fx_tree(f, "U", "W", "C");
	ACCEPTED(fx_register(f, "c", "C", FULL));
	f->township = TS1;
}

static struct verdict
s_budget_src(struct fx *f, const char *id, int kind, int year, int64_t fen, int source)
{
	Jiceng__V1__BudgetAllocated e = JICENG__V1__BUDGET_ALLOCATED__INIT;
	e.budget_id = (char *)id;
	e.kind = kind;
	e.year = year;
	e.amount_fen = fen;
	e.source = source;
	return fx_send(f, EV_BUDGET, &e);
}

static struct verdict
s_budget(struct fx *f, const char *id, int kind, int year, int64_t fen)
{
	return s_budget_src(f, id, kind, year, fen, FISCAL);
}

/* A fiscal payment to member `member` (or, with org set, to org `org`) of
 * kind for period, paid now: to send as it is or changed first. */
static Jiceng__V1__FundDisbursed
s_payment(struct fx *f, const char *id, const char *member, const char *org, int kind,
    int period, int64_t fen)
{
	Jiceng__V1__FundDisbursed e = JICENG__V1__FUND_DISBURSED__INIT;
	e.disbursement_id = (char *)id;
	e.kind = kind;
	if (member) {
		e.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
		e.payee_member_id = (char *)member;
	} else if (org) {
		e.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID;
		e.payee_org_id = (char *)org;
	}
	e.amount_fen = fen;
	e.period = period;
	e.source = FISCAL;
	e.paid_at = f->now;
	return e;
}

static struct verdict
s_pay(struct fx *f, const char *id, const char *member, int kind, int period, int64_t fen)
{
	Jiceng__V1__FundDisbursed e = s_payment(f, id, member, NULL, kind, period, fen);
	return fx_send(f, EV_DISBURSED, &e);
}

static struct verdict
s_pay_org(struct fx *f, const char *id, const char *org, int kind, int period, int64_t fen)
{
	Jiceng__V1__FundDisbursed e = s_payment(f, id, NULL, org, kind, period, fen);
	return fx_send(f, EV_DISBURSED, &e);
}

static struct verdict
s_reverse(struct fx *f, const char *id)
{
	Jiceng__V1__DisbursementReversed e = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	e.disbursement_id = (char *)id;
	e.reason = "金额录入错误";
	e.reversed_at = f->now;
	return fx_send(f, EV_REVERSED, &e);
}

static Jiceng__V1__DuesPaid
s_dues_event(struct fx *f, const char *member, int month, int64_t fen)
{
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = (char *)member;
	e.month = month;
	e.amount_fen = fen;
	e.paid_at = f->now;
	return e;
}

static struct verdict
s_dues(struct fx *f, const char *member, int month, int64_t fen)
{
	Jiceng__V1__DuesPaid e = s_dues_event(f, member, month, fen);
	return fx_send(f, EV_DUES, &e);
}

/* The ledger line of township, kind and year; all -1 when it has none. */
struct line {
	int64_t budget, disbursed, reversed, remaining;
};

static struct line
s_line(struct fx *f, const char *township, int kind, int year)
{
	struct line l = { -1, -1, -1, -1 };
	Jiceng__V1__LedgerLine *ll;
	MDB_txn *txn = fx_read(f);
	int rc = funds_ledger_get(f->module_state, txn, township, kind, year, &ll);
	if (rc == 0) {
		l = (struct line){ ll->budget_fen, ll->disbursed_fen, ll->reversed_fen,
		    ll->remaining_fen };
		assert_string_equal(ll->township_id, township);
		protobuf_c_message_free_unpacked(&ll->base, NULL);
	} else {
		assert_int_equal(rc, MDB_NOTFOUND);
	}
	mdb_txn_abort(txn);
	return l;
}

static void
s_line_is(struct fx *f, const char *township, int kind, int year, int64_t budget,
    int64_t disbursed, int64_t reversed, int64_t remaining)
{
	struct line l = s_line(f, township, kind, year);
	assert_int_equal(l.budget, budget);
	assert_int_equal(l.disbursed, disbursed);
	assert_int_equal(l.reversed, reversed);
	assert_int_equal(l.remaining, remaining);
}

/* The warning codes of v, "" when none: "F6", "F6,F7". */
static const char *
s_warnings(const struct verdict *v, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < v->nwarnings && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", v->warnings[i].code);
	return buf;
}

#define WARNS(expr, codes) do { struct verdict w_ = (expr); char b_[64]; \
	if (!w_.accepted) fail_msg("rejected %s: %s", w_.code, w_.reason); \
	assert_string_equal(s_warnings(&w_, b_, sizeof b_), (codes)); } while (0)

/* Member id leaves the county: a letter to an org outside, its receipt. */
static void
s_transfer_out(struct fx *f, const char *id, const char *from)
{
	Jiceng__V1__ExternalOrg to = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__TransferIssued t = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceiptReturned r = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	to.area_code = "320506";
	to.org_name = "吴中区某村党支部";
	t.transfer_id = "out1";
	t.member_id = (char *)id;
	t.from_org_id = (char *)from;
	t.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	t.to_external = &to;
	t.issued_at = f->now;
	t.valid_days = 30;
	t.dues_paid_through = 202412;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &t));
	r.transfer_id = "out1";
	r.returned_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &r));
}

/* ---------------------------------------------------------- budgets */

static void
test_budget_allocated(void **state)
{
	struct fx *f = *state;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 500000));
	s_line_is(f, TS1, BASE_PAY, 2025, 500000, 0, 0, 500000);
	/* A second budget of the line, of another source, adds to it. */
	ACCEPTED(s_budget_src(f, "b2", BASE_PAY, 2025, 100000, JICENG__V1__FUNDING_SOURCE__COLLECTIVE));
	s_line_is(f, TS1, BASE_PAY, 2025, 600000, 0, 0, 600000);
	/* Other lines are their own. */
	s_line_is(f, TS1, BASE_PAY, 2024, -1, -1, -1, -1);
	s_line_is(f, TS2, BASE_PAY, 2025, -1, -1, -1, -1);
	REJECTED(s_budget(f, "b1", BASE_PAY, 2025, 1), "BUDGET_EXISTS");
	REJECTED(s_budget(f, "", BASE_PAY, 2025, 1), "BAD_FIELD");
	REJECTED(s_budget(f, "b3", 0, 2025, 1), "BAD_FIELD");
	REJECTED(s_budget(f, "b3", 9, 2025, 1), "BAD_FIELD");
	REJECTED(s_budget_src(f, "b3", BASE_PAY, 2025, 1, 0), "BAD_FIELD");
	REJECTED(s_budget(f, "b3", BASE_PAY, 1899, 1), "BAD_FIELD");
	REJECTED(s_budget(f, "b3", BASE_PAY, 10000, 1), "BAD_FIELD");
	REJECTED(s_budget(f, "b3", BASE_PAY, 2025, 0), "BAD_AMOUNT");
	REJECTED(s_budget(f, "b3", BASE_PAY, 2025, -100), "BAD_AMOUNT");
	s_line_is(f, TS1, BASE_PAY, 2025, 600000, 0, 0, 600000);
}

/* The township of a budget has a live township committee. */
static void
test_budget_township(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgDissolved d = JICENG__V1__ORG_DISSOLVED__INIT;
	f->township = TS2;
	REJECTED(s_budget(f, "b1", BASE_PAY, 2025, 100), "UNKNOWN_TOWNSHIP");
	/* A village committee does not make a township. */
	fx_tree(f, "U", "W", "C");
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 100));
	f->township = TS1;
	REJECTED(s_budget(f, "b2", BASE_PAY, 2025, 100), "UNKNOWN_TOWNSHIP");
	ACCEPTED(fx_org(f, "T", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	ACCEPTED(s_budget(f, "b2", BASE_PAY, 2025, 100));
	/* A dissolved committee (a township merged away) gets no budget. */
	d.org_id = "T";
	d.reason = "撤乡并镇";
	d.dissolved_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d));
	REJECTED(s_budget(f, "b3", BASE_PAY, 2025, 100), "UNKNOWN_TOWNSHIP");
}

/* ---------------------------------------------------------- F1, F2 */

static void
test_f1_amount(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 100000000));
	REJECTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 0), "F1");
	REJECTED(s_pay(f, "d1", "a", BASE_PAY, 202501, -1), "F1");
	REJECTED(s_pay(f, "d1", "a", BASE_PAY, 202501, INT64_MIN), "F1");
	/* The default cap: 100 000 yuan. */
	REJECTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 10000001), "F1");
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 10000000));
	/* funds.max_single_fen moves it. */
	r.funds_max_single_fen = 500;
	ACCEPTED(fx_rules(f, &r));
	REJECTED(s_pay(f, "d2", "a", BASE_PAY, 202502, 501), "F1");
	ACCEPTED(s_pay(f, "d2", "a", BASE_PAY, 202502, 500));
	s_line_is(f, TS1, BASE_PAY, 2025, 100000000, 10000500, 0, 89999500);
}

static void
test_f2_budget(void **state)
{
	struct fx *f = *state;
	s_county(f);
	/* Before any budget. */
	REJECTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 100), "F2");
	s_line_is(f, TS1, BASE_PAY, 2025, -1, -1, -1, -1);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 1000));
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 600));
	REJECTED(s_pay(f, "d2", "b", BASE_PAY, 202501, 401), "F2");
	ACCEPTED(s_pay(f, "d2", "b", BASE_PAY, 202501, 400));
	REJECTED(s_pay(f, "d3", "a", BASE_PAY, 202502, 1), "F2");
	/* The year is the period's: December 2024 is the 2024 line. */
	ACCEPTED(s_budget(f, "b2", BASE_PAY, 2026, 1000));
	REJECTED(s_pay(f, "d3", "a", BASE_PAY, 202412, 1), "F2");
	ACCEPTED(s_pay(f, "d3", "a", BASE_PAY, 202601, 1));
	/* Another kind's or township's budget does not count. */
	f->township = TS2;
	ACCEPTED(s_budget(f, "b3", BASE_PAY, 2025, 1000));
	f->township = TS1;
	ACCEPTED(s_budget(f, "b4", OFFICE, 2025, 1000));
	REJECTED(s_pay(f, "d4", "a", BASE_PAY, 202503, 1), "F2");
	s_line_is(f, TS1, BASE_PAY, 2025, 1000, 1000, 0, 0);
	s_line_is(f, TS1, BASE_PAY, 2026, 1000, 1, 0, 999);
}

/* ---------------------------------------------------------- F3, F4 */

static void
test_f3_once_per_period(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__FundDisbursed e;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 100000));
	ACCEPTED(s_budget(f, "b2", OFFICE, 2025, 100000));
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 100));
	REJECTED(s_pay(f, "d2", "a", BASE_PAY, 202501, 100), "F3");
	/* Supplementary (补发) is allowed, as many times as needed. */
	e = s_payment(f, "d2", "a", NULL, BASE_PAY, 202501, 50);
	e.supplementary = true;
	ACCEPTED(fx_send(f, EV_DISBURSED, &e));
	e.disbursement_id = "d3";
	ACCEPTED(fx_send(f, EV_DISBURSED, &e));
	/* Another period, payee or kind. */
	ACCEPTED(s_pay(f, "d4", "a", BASE_PAY, 202502, 100));
	ACCEPTED(s_pay(f, "d5", "b", BASE_PAY, 202501, 100));
	ACCEPTED(s_pay_org(f, "d6", "B", OFFICE, 202501, 100));
	REJECTED(s_pay_org(f, "d7", "B", OFFICE, 202501, 100), "F3");
	/* A reversed payment may be paid again; a reversed supplementary one
	 * frees nothing. */
	ACCEPTED(s_reverse(f, "d2"));
	REJECTED(s_pay(f, "d7", "a", BASE_PAY, 202501, 100), "F3");
	ACCEPTED(s_reverse(f, "d1"));
	ACCEPTED(s_pay(f, "d7", "a", BASE_PAY, 202501, 100));
	REJECTED(s_pay(f, "d8", "a", BASE_PAY, 202501, 100), "F3");
	ACCEPTED(s_reverse(f, "d6"));
	ACCEPTED(s_pay_org(f, "d8", "B", OFFICE, 202501, 100));
}

static void
test_f4_condolence_from_dues(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__FundDisbursed e;
	s_county(f);
	ACCEPTED(s_budget_src(f, "b1", HARDSHIP, 2025, 100000, DUES_SRC));
	ACCEPTED(s_budget_src(f, "b2", VETERAN, 2025, 100000, DUES_SRC));
	e = s_payment(f, "d1", "a", NULL, HARDSHIP, 202501, 50000);
	e.source = DUES_SRC;
	REJECTED(fx_send(f, EV_DISBURSED, &e), "F4");
	e.approval_ref = "党委会〔2025〕3号";
	ACCEPTED(fx_send(f, EV_DISBURSED, &e));
	e = s_payment(f, "d2", "b", NULL, VETERAN, 202501, 50000);
	e.source = DUES_SRC;
	REJECTED(fx_send(f, EV_DISBURSED, &e), "F4");
	/* Other sources need no collective decision here. */
	e.source = FISCAL;
	ACCEPTED(fx_send(f, EV_DISBURSED, &e));
	s_line_is(f, TS1, HARDSHIP, 2025, 100000, 50000, 0, 50000);
}

/* ---------------------------------------------------------- F5 */

static void
test_f5_reversal(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__DisbursementReversed e = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 1000));
	REJECTED(s_reverse(f, "nope"), "F5");
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 700));
	/* Another township may not reverse it. */
	f->township = TS2;
	REJECTED(s_reverse(f, "d1"), "WRONG_TOWNSHIP");
	f->township = TS1;
	e.disbursement_id = "d1";
	e.reversed_at = f->now;
	REJECTED(fx_send(f, EV_REVERSED, &e), "BAD_FIELD");       /* no reason */
	e.reason = "重复发放";
	e.reversed_at = f->now - DAY;
	REJECTED(fx_send(f, EV_REVERSED, &e), "BAD_FIELD");       /* before paid_at */
	e.reversed_at = 0;
	REJECTED(fx_send(f, EV_REVERSED, &e), "BAD_FIELD");
	e.reversed_at = f->now + DAY;
	REJECTED(fx_send(f, EV_REVERSED, &e), "FUTURE_TIME");
	ACCEPTED(s_reverse(f, "d1"));
	s_line_is(f, TS1, BASE_PAY, 2025, 1000, 700, 700, 1000);
	/* A reversal of a reversal. */
	REJECTED(s_reverse(f, "d1"), "F5");
	s_line_is(f, TS1, BASE_PAY, 2025, 1000, 700, 700, 1000);
	/* The budget it gave back is spent again. */
	ACCEPTED(s_pay(f, "d2", "a", BASE_PAY, 202501, 1000));
	s_line_is(f, TS1, BASE_PAY, 2025, 1000, 1700, 700, 0);
}

/* ---------------------------------------------------------- ledger, money */

static void
test_ledger_running_totals(void **state)
{
	struct fx *f = *state;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 300000));
	ACCEPTED(s_budget(f, "b2", BASE_PAY, 2025, 200000));
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 120000));
	ACCEPTED(s_pay(f, "d2", "b", BASE_PAY, 202501, 130000));
	ACCEPTED(s_pay(f, "d3", "a", BASE_PAY, 202502, 140000));
	s_line_is(f, TS1, BASE_PAY, 2025, 500000, 390000, 0, 110000);
	ACCEPTED(s_reverse(f, "d2"));
	s_line_is(f, TS1, BASE_PAY, 2025, 500000, 390000, 130000, 240000);
	ACCEPTED(s_pay(f, "d4", "b", BASE_PAY, 202501, 125000));
	ACCEPTED(s_reverse(f, "d1"));
	s_line_is(f, TS1, BASE_PAY, 2025, 500000, 515000, 250000, 235000);
	/* Refusals leave the totals as they were. */
	REJECTED(s_pay(f, "d5", "a", BASE_PAY, 202503, 235001), "F2");
	REJECTED(s_reverse(f, "d1"), "F5");
	s_line_is(f, TS1, BASE_PAY, 2025, 500000, 515000, 250000, 235000);
	ACCEPTED(s_budget(f, "b3", BASE_PAY, 2025, 1));
	s_line_is(f, TS1, BASE_PAY, 2025, 500001, 515000, 250000, 235001);
}

/* A running total that would pass int64 is refused, never wrapped. */
static void
test_amount_overflow(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, INT64_MAX - 10));
	REJECTED(s_budget(f, "b2", BASE_PAY, 2025, 11), "AMOUNT_OVERFLOW");
	ACCEPTED(s_budget(f, "b2", BASE_PAY, 2025, 10));
	REJECTED(s_budget(f, "b3", BASE_PAY, 2025, INT64_MAX), "AMOUNT_OVERFLOW");
	s_line_is(f, TS1, BASE_PAY, 2025, INT64_MAX, 0, 0, INT64_MAX);
	/* Disbursed counts every payment ever made: past a reversal it passes
	 * the budget, and the next payment would take it past int64. */
	r.funds_max_single_fen = INT64_MAX;
	ACCEPTED(fx_rules(f, &r));
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, INT64_MAX));
	s_line_is(f, TS1, BASE_PAY, 2025, INT64_MAX, INT64_MAX, 0, 0);
	ACCEPTED(s_reverse(f, "d1"));
	s_line_is(f, TS1, BASE_PAY, 2025, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX);
	REJECTED(s_pay(f, "d2", "a", BASE_PAY, 202501, 1), "AMOUNT_OVERFLOW");
	s_line_is(f, TS1, BASE_PAY, 2025, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX);
}

/* ---------------------------------------------------------- payees */

static void
test_payee(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__FundDisbursed e;
	Jiceng__V1__OrgDissolved d = JICENG__V1__ORG_DISSOLVED__INIT;
	s_county(f);
	ACCEPTED(fx_org(f, "B9", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 100000));
	ACCEPTED(s_budget(f, "b2", OFFICE, 2025, 100000));
	e = s_payment(f, "d1", NULL, NULL, BASE_PAY, 202501, 100);
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	REJECTED(s_pay(f, "d1", "zz", BASE_PAY, 202501, 100), "UNKNOWN_MEMBER");
	REJECTED(s_pay_org(f, "d1", "ZZ", OFFICE, 202501, 100), "UNKNOWN_ORG");
	/* The payee's township records the payment. */
	REJECTED(s_pay(f, "d1", "c", BASE_PAY, 202501, 100), "WRONG_TOWNSHIP");
	REJECTED(s_pay_org(f, "d1", "C", OFFICE, 202501, 100), "WRONG_TOWNSHIP");
	/* R3: only a NORMAL member is paid. */
	ACCEPTED(fx_status(f, "b", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	REJECTED(s_pay(f, "d1", "b", BASE_PAY, 202501, 100), "R3");
	d.org_id = "B9";
	d.approving_org_id = "T";
	d.reason = "合并";
	d.dissolved_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d));
	REJECTED(s_pay_org(f, "d1", "B9", OFFICE, 202501, 100), "ORG_DISSOLVED");
	s_transfer_out(f, "a", "B");
	REJECTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 100), "TRANSFERRED_OUT");
	/* The fields. */
	e = s_payment(f, "d1", NULL, "V", 0, 202501, 100);
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	e = s_payment(f, "d1", NULL, "V", OFFICE, 202501, 100);
	e.source = 0;
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	e = s_payment(f, "d1", NULL, "V", OFFICE, 202513, 100);
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	e = s_payment(f, "d1", NULL, "V", OFFICE, 2025, 100);
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	e = s_payment(f, "d1", NULL, "V", OFFICE, 202501, 100);
	e.paid_at = 0;
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	e.paid_at = f->now + DAY;
	REJECTED(fx_send(f, EV_DISBURSED, &e), "FUTURE_TIME");
	e.disbursement_id = "";
	REJECTED(fx_send(f, EV_DISBURSED, &e), "BAD_FIELD");
	ACCEPTED(s_pay_org(f, "d1", "V", OFFICE, 202501, 100));
	REJECTED(s_pay_org(f, "d1", "B", OFFICE, 202501, 100), "DISBURSEMENT_EXISTS");
	s_line_is(f, TS1, OFFICE, 2025, 100000, 100, 0, 99900);
	s_line_is(f, TS1, BASE_PAY, 2025, 100000, 0, 0, 100000);
}

/* ---------------------------------------------------------- dues */

static void
test_dues(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__DuesPaid e;
	s_county(f);
	ACCEPTED(s_dues(f, "a", 202501, 2000));
	REJECTED(s_dues(f, "a", 202501, 2000), "DUES_EXISTS");
	ACCEPTED(s_dues(f, "a", 202502, 2000));   /* in advance */
	REJECTED(s_dues(f, "a", 202513, 2000), "BAD_FIELD");
	REJECTED(s_dues(f, "a", 0, 2000), "BAD_FIELD");
	REJECTED(s_dues(f, "a", 202412, 0), "BAD_AMOUNT");
	REJECTED(s_dues(f, "a", 202412, -5), "BAD_AMOUNT");
	REJECTED(s_dues(f, "zz", 202412, 100), "UNKNOWN_MEMBER");
	REJECTED(s_dues(f, "c", 202412, 100), "WRONG_TOWNSHIP");
	e = s_dues_event(f, "a", 202412, 100);
	e.paid_at = 0;
	REJECTED(fx_send(f, EV_DUES, &e), "BAD_FIELD");
	/* By proxy (代缴): any member of the county but the member. */
	e = s_dues_event(f, "a", 202412, 100);
	e.payer_member_id = "a";
	REJECTED(fx_send(f, EV_DUES, &e), "BAD_FIELD");
	e.payer_member_id = "zz";
	REJECTED(fx_send(f, EV_DUES, &e), "UNKNOWN_MEMBER");
	e.payer_member_id = "c";
	ACCEPTED(fx_send(f, EV_DUES, &e));
	/* A transferred-out member's dues are no longer the county's. */
	s_transfer_out(f, "b", "B");
	REJECTED(s_dues(f, "b", 202501, 100), "TRANSFERRED_OUT");
}

static void
test_f6_months_back(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	s_county(f);
	/* The journal time is in January 2025: six months back is July 2024. */
	WARNS(s_dues(f, "a", 202407, 100), "");
	WARNS(s_dues(f, "a", 202406, 100), "F6");
	WARNS(s_dues(f, "a", 199001, 100), "F6");
	WARNS(s_dues(f, "a", 202501, 100), "");
	/* The month is the journal time's in CST: 2025-01-31 16:30 UTC is
	 * already February there. */
	f->now = fx_cst(2025, 2, 1, 0, 30);
	WARNS(s_dues(f, "a", 202408, 100), "");
	WARNS(s_dues(f, "b", 202407, 100), "F6");
	r.dues_max_months_back = 3;
	ACCEPTED(fx_rules(f, &r));
	WARNS(s_dues(f, "b", 202411, 100), "");
	WARNS(s_dues(f, "b", 202410, 100), "F6");
}

static void
test_f7_farmer(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberRegistered reg;
	s_county(f);
	reg = fx_registration("p", "B", FULL);
	reg.farmer = true;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &reg));
	WARNS(s_dues(f, "p", 202401, 19), "F6,F7");
	WARNS(s_dues(f, "p", 202501, 20), "");
	WARNS(s_dues(f, "p", 202412, 100), "");
	WARNS(s_dues(f, "p", 202411, 101), "F7");
	/* Not a farmer: no such bounds. */
	WARNS(s_dues(f, "a", 202501, 1), "");
	WARNS(s_dues(f, "a", 202412, 500000), "");
}

/* ---------------------------------------------------------- queries */

static void
test_queries(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__BudgetView *b;
	Jiceng__V1__DisbursementView *d;
	Jiceng__V1__DisbursementList *l;
	Jiceng__V1__DuesList *dl;
	char t[16];
	MDB_txn *txn;
	s_county(f);
	ACCEPTED(s_budget(f, "b1", BASE_PAY, 2025, 10000));
	ACCEPTED(s_pay(f, "d1", "a", BASE_PAY, 202501, 1000));
	ACCEPTED(s_pay(f, "d2", "a", BASE_PAY, 202502, 2000));
	ACCEPTED(s_pay(f, "d3", "a", BASE_PAY, 202503, 3000));
	ACCEPTED(s_pay(f, "d4", "b", BASE_PAY, 202501, 500));
	ACCEPTED(s_reverse(f, "d2"));
	ACCEPTED(s_dues(f, "a", 202410, 100));
	ACCEPTED(s_dues(f, "a", 202411, 100));
	ACCEPTED(s_dues(f, "a", 202501, 100));
	ACCEPTED(s_dues(f, "b", 202501, 100));
	struct funds *fs = f->module_state;
	txn = fx_read(f);
	assert_int_equal(funds_get_budget(fs, txn, "b1", &b), 0);
	assert_string_equal(b->township_id, TS1);
	assert_int_equal(b->amount_fen, 10000);
	assert_non_null(b->ledger);
	assert_int_equal(b->ledger->budget_fen, 10000);
	assert_int_equal(b->ledger->disbursed_fen, 6500);
	assert_int_equal(b->ledger->reversed_fen, 2000);
	assert_int_equal(b->ledger->remaining_fen, 5500);
	funds_free_budget(&b);
	assert_null(b);
	assert_int_equal(funds_get_budget(fs, txn, "nope", &b), MDB_NOTFOUND);
	assert_int_equal(funds_budget_township(fs, txn, "b1", t), 0);
	assert_string_equal(t, TS1);
	assert_int_equal(funds_get_disbursement(fs, txn, "d2", &d), 0);
	assert_string_equal(d->payee_member_id, "a");
	assert_int_equal(d->year, 2025);
	assert_non_null(d->reversal);
	assert_string_equal(d->reversal->reason, "金额录入错误");
	funds_free_disbursement(&d);
	assert_int_equal(funds_get_disbursement(fs, txn, "d1", &d), 0);
	assert_null(d->reversal);
	funds_free_disbursement(&d);
	assert_int_equal(funds_disbursement_township(fs, txn, "d4", t), 0);
	assert_string_equal(t, TS1);
	/* a's payments, two to a page. */
	assert_int_equal(funds_list_payments(fs, txn, true, "a", "", 2, &l), 0);
	assert_int_equal(l->n_disbursements, 2);
	assert_string_equal(l->disbursements[0]->disbursement_id, "d1");
	assert_string_equal(l->disbursements[1]->disbursement_id, "d2");
	assert_string_equal(l->next_after, "d2");
	funds_free_disbursement_list(&l);
	assert_int_equal(funds_list_payments(fs, txn, true, "a", "d2", 2, &l), 0);
	assert_int_equal(l->n_disbursements, 1);
	assert_string_equal(l->disbursements[0]->disbursement_id, "d3");
	assert_string_equal(l->next_after, "");
	funds_free_disbursement_list(&l);
	assert_int_equal(funds_list_payments(fs, txn, false, "B", "", 0, &l), 0);
	assert_int_equal(l->n_disbursements, 0);
	funds_free_disbursement_list(&l);
	assert_int_equal(funds_list_payments(fs, txn, true, "zz", "", 0, &l), MDB_NOTFOUND);
	assert_null(l);
	/* a's dues: by range, and paged. */
	assert_int_equal(funds_list_dues(fs, txn, "a", 0, 0, 0, &dl), 0);
	assert_int_equal(dl->n_dues, 3);
	assert_int_equal(dl->next_month, 0);
	funds_free_dues_list(&dl);
	assert_int_equal(funds_list_dues(fs, txn, "a", 202411, 202412, 0, &dl), 0);
	assert_int_equal(dl->n_dues, 1);
	assert_int_equal(dl->dues[0]->month, 202411);
	assert_string_equal(dl->dues[0]->township_id, TS1);
	funds_free_dues_list(&dl);
	assert_int_equal(funds_list_dues(fs, txn, "a", 202410, 0, 2, &dl), 0);
	assert_int_equal(dl->n_dues, 2);
	assert_int_equal(dl->next_month, 202501);
	funds_free_dues_list(&dl);
	assert_int_equal(funds_list_dues(fs, txn, "a", 202501, 0, 2, &dl), 0);
	assert_int_equal(dl->n_dues, 1);
	assert_int_equal(dl->next_month, 0);
	funds_free_dues_list(&dl);
	assert_int_equal(funds_list_dues(fs, txn, "a", 202413, 0, 0, &dl), EINVAL);
	assert_int_equal(funds_list_dues(fs, txn, "zz", 0, 0, 0, &dl), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

/* Membership's events change no funds table; funds events, rejected, none
 * at all (the fixture checks each rejection), and the read-only open
 * finds the tables the fold created. */
static void
test_readonly_open(void **state)
{
	struct fx *f = *state;
	struct funds *fs = NULL;
	MDB_txn *txn;
	s_county(f);
	txn = fx_read(f);
	assert_int_equal(funds_open_readonly(txn, f->m, &fs), 0);
	assert_non_null(fs);
	funds_close(&fs);
	assert_null(fs);
	mdb_txn_abort(txn);
}

int
unit_funds(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_budget_allocated, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget_township, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f1_amount, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f2_budget, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f3_once_per_period, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f4_condolence_from_dues, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f5_reversal, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ledger_running_totals, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_amount_overflow, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_payee, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dues, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f6_months_back, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_f7_farmer, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_queries, dfx_setup_funds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_readonly_open, dfx_setup_funds, fx_teardown),
	};
	return cmocka_run_group_tests_name("funds", tests, NULL, NULL);
}
