/*
 * funds: the rules of the funds worker (DOMAIN.md "Funds and dues",
 * F1-F7): the events BudgetAllocated, FundDisbursed,
 * DisbursementReversed and DuesPaid, one function each, dispatched by a
 * table. It owns the funds_* tables (funds.h) and the ledger in them,
 * kept as running totals; it reads the membership tables of the same
 * environment (members, orgs) through the record, members and orgs
 * layers, and writes only its own tables. Every check comes before the
 * first write, so a rejection changes nothing.
 *
 * Choices the rules leave open:
 * - Budgets are allocated by the county (its organisation department sets
 *   them): jicengd refuses a BudgetAllocated from a township key
 *   (COUNTY_ONLY, daemon/ingest.c), since a worker cannot see keys. The
 *   envelope's township_id is the township the budget is for, and here it
 *   must be a real one: a township with a live township committee in the
 *   county (UNKNOWN_TOWNSHIP otherwise), as the membership tables of the
 *   same environment say.
 * - The ledger line is per township, fund kind and year; budgets of every
 *   funding source add to it, and F2 compares a disbursement with the
 *   line of its township, kind and the year of its period month, whatever
 *   its source. A budget id is used once (BUDGET_EXISTS); a budget's
 *   amount is > 0 (BAD_AMOUNT), uncapped; a second budget of the same
 *   line adds to it.
 * - Every running total is overflow-checked (money.h): an event that
 *   would take one past int64 is refused AMOUNT_OVERFLOW.
 * - Disbursements and dues are recorded by the payee's township: the
 *   member's or org's now (members_require, orgs_require: UNKNOWN_MEMBER,
 *   UNKNOWN_ORG, WRONG_TOWNSHIP, TRANSFERRED_OUT, ORG_DISSOLVED). Only a
 *   NORMAL member is paid (R3); a dissolved org is not.
 * - A disbursement id is used once (DISBURSEMENT_EXISTS). paid_at is
 *   required, the period a real YYYYMM month.
 * - F3 keeps, per payee, kind and period, the one payment that is neither
 *   supplementary nor reversed: a reversed payment may be paid again.
 * - F5: a reversal names a disbursement of its own township
 *   (WRONG_TOWNSHIP), unknown or already reversed is F5; it gives the
 *   amount back to the line it was taken from (reversed grows, remaining
 *   with it; disbursed keeps every payment ever made). reversed_at is
 *   required and not before paid_at; the reason is required.
 * - Dues: one DuesPaid per member and month (DUES_EXISTS), amount > 0
 *   (BAD_AMOUNT), month a real YYYYMM month, paid_at required. Months
 *   ahead (paid in advance) are accepted. A proxy payer is a member of the
 *   county, of any township, other than the member. The member's Party
 *   status is not checked: arrears are settled after a status change too.
 *   F6 counts months back from the CST month of the journal time.
 */
#include "funds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "members.h"
#include "money.h"
#include "orgs.h"
#include "records.h"

#define F7_MIN_FEN 20    /* 党费规定: a farmer member pays 0.2 to 1 yuan a month */
#define F7_MAX_FEN 100
#define YEAR_MIN 1900    /* the range of civil_month_valid */
#define YEAR_MAX 9999

typedef Jiceng__V1__LedgerLine LedgerLine;
typedef Jiceng__V1__DisbursementView DisbursementView;

/* ---------------------------------------------------------- names */

static const struct {
	const char *zh, *en;
} s_kinds[] = {
	[JICENG__V1__FUND_KIND__CADRE_BASE_PAY] = { "村干部基本报酬", "cadre base pay" },
	[JICENG__V1__FUND_KIND__CADRE_PERFORMANCE_PAY] = { "村干部绩效报酬", "cadre performance pay" },
	[JICENG__V1__FUND_KIND__VILLAGE_OFFICE_FUND] = { "村级组织办公经费", "village office fund" },
	[JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND] = { "党组织活动经费", "Party activity fund" },
	[JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE] = { "困难党员慰问", "hardship condolence" },
	[JICENG__V1__FUND_KIND__VETERAN_CONDOLENCE] = { "老党员慰问", "veteran condolence" },
	[JICENG__V1__FUND_KIND__RETIRED_CADRE_SUBSIDY] = { "离任村干部补贴", "retired-cadre subsidy" },
	[JICENG__V1__FUND_KIND__COMMENDATION] = { "表彰奖励", "commendation" },
};

static bool
s_kind_valid(int kind)
{
	return kind >= JICENG__V1__FUND_KIND__CADRE_BASE_PAY &&
	    kind <= JICENG__V1__FUND_KIND__COMMENDATION;
}

static bool
s_source_valid(int source)
{
	return source >= JICENG__V1__FUNDING_SOURCE__FISCAL &&
	    source <= JICENG__V1__FUNDING_SOURCE__COLLECTIVE;
}

/* Unknown kind or source: BAD_FIELD. */
static int
s_kind_source(int kind, int source, const char *id, struct verdict *v)
{
	if (!s_kind_valid(kind))
		return verdict_reject(v, "BAD_FIELD", "经费类别无效 / kind must be a FundKind: %s", id);
	if (!s_source_valid(source))
		return verdict_reject(v, "BAD_FIELD", "经费来源无效 / source must be a "
		    "FundingSource: %s", id);
	return 0;
}

/* ---------------------------------------------------------- open, close */

static const char *const s_tables[FUNDS_MAX_DBS] = {
	"funds_budgets", "funds_ledger", "funds_disbursements", "funds_by_member",
	"funds_by_org", "funds_paid_member", "funds_paid_org", "funds_dues",
};

static int
s_open(MDB_txn *txn, unsigned flags, struct membership *m, struct funds **out)
{
	struct funds *f = calloc(1, sizeof *f);
	MDB_dbi *dbi[FUNDS_MAX_DBS];
	int rc = 0;

	if (!f)
		return ENOMEM;
	dbi[0] = &f->budgets, dbi[1] = &f->ledger, dbi[2] = &f->disb;
	dbi[3] = &f->by_member, dbi[4] = &f->by_org, dbi[5] = &f->paid_member;
	dbi[6] = &f->paid_org, dbi[7] = &f->dues;
	for (unsigned i = 0; i < FUNDS_MAX_DBS && rc == 0; i++)
		rc = mdb_dbi_open(txn, s_tables[i], flags & MDB_CREATE, dbi[i]);
	if (rc) {
		free(f);
		return rc;
	}
	f->m = m;
	*out = f;
	return 0;
}

static int
s_module_open(MDB_txn *txn, unsigned flags, struct membership *m, void **state)
{
	struct funds *f;
	int rc = s_open(txn, flags, m, &f);
	if (rc == 0)
		*state = f;
	return rc;
}

int
funds_open_readonly(MDB_txn *txn, struct membership *m, struct funds **out)
{
	return s_open(txn, 0, m, out);
}

void
funds_close(struct funds **f)
{
	free(*f);
	*f = NULL;
}

static void
s_close(void **state)
{
	struct funds *f = *state;
	funds_close(&f);
	*state = NULL;
}

/* ---------------------------------------------------------- storage */

static const char *
s_ledger_key(char buf[32], const char *township, int kind, int year)
{
	snprintf(buf, 32, "%s:%02d:%04d", township, kind, year);
	return buf;
}

int
funds_ledger_get(struct funds *f, MDB_txn *txn, const char *township, int kind,
    int year, LedgerLine **out)
{
	char key[32];
	return records_view_get(txn, f->ledger, s_ledger_key(key, township, kind, year),
	    &jiceng__v1__ledger_line__descriptor, (ProtobufCMessage **)out);
}

/* The ledger line of township, kind and year as it stands, in *line;
 * its strings point into *owned (NULL when the line is new), which the
 * caller frees with s_ledger_done. */
static int
s_ledger_load(struct funds *f, MDB_txn *txn, const char *township, int kind,
    int year, LedgerLine *line, LedgerLine **owned)
{
	int rc = funds_ledger_get(f, txn, township, kind, year, owned);

	if (rc == 0) {
		*line = **owned;
		return 0;
	}
	*owned = NULL;
	if (rc != MDB_NOTFOUND)
		return rc;
	jiceng__v1__ledger_line__init(line);
	line->township_id = (char *)township;
	line->kind = kind;
	line->year = year;
	return 0;
}

static void
s_ledger_done(LedgerLine **owned)
{
	if (*owned)
		protobuf_c_message_free_unpacked(&(*owned)->base, NULL);
	*owned = NULL;
}

static int
s_ledger_put(struct funds *f, MDB_txn *txn, const LedgerLine *line)
{
	char key[32];
	return records_view_put(txn, f->ledger,
	    s_ledger_key(key, line->township_id, line->kind, line->year), &line->base);
}

/* "KK:YYYYMM", the second part of an F3 key. */
static const char *
s_period_key(char buf[16], int kind, int period)
{
	snprintf(buf, 16, "%02d:%06d", kind, period);
	return buf;
}

static const char *
s_month_key(char buf[16], int month)
{
	snprintf(buf, 16, "%06d", month);
	return buf;
}

static int
s_disb_get(struct funds *f, MDB_txn *txn, const char *id, DisbursementView **out)
{
	return records_view_get(txn, f->disb, id, &jiceng__v1__disbursement_view__descriptor,
	    (ProtobufCMessage **)out);
}

/* ---------------------------------------------------------- townships */

struct s_live {
	const char *township;
	bool found;
};

static int
s_committee_live(void *arg, const struct org_rec *o, bool *stop)
{
	struct s_live *l = arg;
	*stop = l->found = o->kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE &&
	    !o->dissolved && strcmp(o->township_id, l->township) == 0;
	return 0;
}

/* The budget's township has a live township committee, as the membership
 * tables say (a scan of the orgs: budgets are a few a year per township). */
static int
s_township_real(struct funds *f, MDB_txn *txn, const char *township,
    const char *id, struct verdict *v)
{
	struct s_live l = { township, false };
	int rc = records_orgs_each(f->m, txn, s_committee_live, &l);

	if (rc)
		return rc;
	if (l.found)
		return 0;
	return verdict_reject(v, "UNKNOWN_TOWNSHIP", "乡镇%s在本县没有存续的乡镇党委 / "
	    "township %s has no live township committee in the county: %s",
	    township, township, id);
}

/* ---------------------------------------------------------- BudgetAllocated */

static int
s_budget_check(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__BudgetAllocated *e, struct verdict *v)
{
	ProtobufCMessage *old;
	const char *id = e->budget_id;
	int rc;

	if (!*id)
		return verdict_reject(v, "BAD_FIELD", "须提供预算编号 / budget_id is required");
	rc = records_view_get(txn, f->budgets, id, &jiceng__v1__budget_view__descriptor, &old);
	if (rc == 0) {
		protobuf_c_message_free_unpacked(old, NULL);
		return verdict_reject(v, "BUDGET_EXISTS", "预算已存在 / budget already exists: %s", id);
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = s_kind_source(e->kind, e->source, id, v)) || !v->accepted)
		return rc;
	if (e->year < YEAR_MIN || e->year > YEAR_MAX)
		return verdict_reject(v, "BAD_FIELD", "预算年度须在%d至%d之间 / year must be %d "
		    "to %d: %s", YEAR_MIN, YEAR_MAX, YEAR_MIN, YEAR_MAX, id);
	if (e->amount_fen <= 0)
		return verdict_reject(v, "BAD_AMOUNT", "预算金额须大于0 / amount_fen must be "
		    "more than 0: %s", id);
	return s_township_real(f, txn, records_ev_township(ev), id, v);
}

static int
s_apply_budget_allocated(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v)
{
	const Jiceng__V1__BudgetAllocated *e = ev->env->budget_allocated;
	Jiceng__V1__BudgetView b = JICENG__V1__BUDGET_VIEW__INIT;
	LedgerLine line, *owned = NULL;
	const char *township = records_ev_township(ev);
	int rc = s_budget_check(f, txn, ev, e, v);

	if (rc || !v->accepted ||
	    (rc = s_ledger_load(f, txn, township, e->kind, e->year, &line, &owned)))
		return rc;
	if (!money_add(line.budget_fen, e->amount_fen, &line.budget_fen) ||
	    !money_add(line.remaining_fen, e->amount_fen, &line.remaining_fen)) {
		s_ledger_done(&owned);
		return verdict_reject(v, "AMOUNT_OVERFLOW", "预算累计超出可记范围 / the "
		    "line's budget would overflow int64 fen: %s", e->budget_id);
	}
	line.last_seq = ev->seq;
	b.budget_id = e->budget_id;
	b.township_id = (char *)township;
	b.kind = e->kind;
	b.year = e->year;
	b.amount_fen = e->amount_fen;
	b.source = e->source;
	b.seq = ev->seq;
	b.allocated_at = ev->received_at;
	if ((rc = records_view_put(txn, f->budgets, e->budget_id, &b.base)) == 0)
		rc = s_ledger_put(f, txn, &line);
	s_ledger_done(&owned);
	return rc;
}

/* ---------------------------------------------------------- FundDisbursed */

/* A disbursement being checked, then stored. */
struct s_disb {
	const Jiceng__V1__FundDisbursed *e;
	bool to_member;
	const char *payee;
	char period_key[16];
	LedgerLine line;       /* its ledger line, once the payment is made */
	LedgerLine *owned;     /* what line's strings point into */
};

static int
s_new_disbursement(struct funds *f, MDB_txn *txn, const char *id, struct verdict *v)
{
	DisbursementView *d;
	int rc;

	if (!*id)
		return verdict_reject(v, "BAD_FIELD", "须提供发放编号 / disbursement_id is required");
	if ((rc = s_disb_get(f, txn, id, &d)) == 0) {
		protobuf_c_message_free_unpacked(&d->base, NULL);
		return verdict_reject(v, "DISBURSEMENT_EXISTS", "发放记录已存在 / "
		    "disbursement already exists: %s", id);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* F1: 0 < amount <= funds.max_single_fen. */
static int
s_f1(const struct event_ctx *ev, int64_t amount, const char *id, struct verdict *v)
{
	Rules buf;
	int64_t max = records_ev_rules(ev, &buf)->funds_max_single_fen;
	char a[MONEY_TEXT_LEN], m[MONEY_TEXT_LEN];

	if (amount <= 0)
		return verdict_reject(v, "F1", "发放金额须大于0 / the amount must be more "
		    "than 0: %s", id);
	if (amount > max)
		return verdict_reject(v, "F1", "单笔%s元超过上限%s元 / %s yuan is over the "
		    "single-payment cap of %s yuan (funds.max_single_fen): %s",
		    money_text(amount, a), money_text(max, m), a, m, id);
	return 0;
}

/* The payee: a NORMAL member (R3) or a live org, of the event's township. */
static int
s_payee(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    struct s_disb *d, struct verdict *v)
{
	const Jiceng__V1__FundDisbursed *e = d->e;
	struct member_rec r;
	struct org_rec o;
	int rc;

	switch (e->payee_case) {
	case JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID:
		d->to_member = true;
		d->payee = e->payee_member_id;
		if ((rc = members_require(f->m, txn, ev, d->payee, &r, v)) || !v->accepted)
			return rc;
		return members_require_normal(&r, "领取款项", "paid", v);
	case JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID:
		d->payee = e->payee_org_id;
		return orgs_require(f->m, txn, ev, d->payee, MS_ROLE_ORG, MS_LIVE, &o, v);
	default:
		return verdict_reject(v, "BAD_FIELD", "须指定收款党员或党组织 / "
		    "payee_member_id or payee_org_id is required: %s", e->disbursement_id);
	}
}

/* F4: a condolence paid from Party dues needs the collective decision. */
static int
s_f4(const Jiceng__V1__FundDisbursed *e, struct verdict *v)
{
	if ((e->kind == JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE ||
	    e->kind == JICENG__V1__FUND_KIND__VETERAN_CONDOLENCE) &&
	    e->source == JICENG__V1__FUNDING_SOURCE__PARTY_DUES && !*e->approval_ref)
		return verdict_reject(v, "F4", "党费列支%s须有集体研究决定的批准文号 / a %s paid "
		    "from Party dues needs approval_ref (a collective decision): %s",
		    s_kinds[e->kind].zh, s_kinds[e->kind].en, e->disbursement_id);
	return 0;
}

static MDB_dbi
s_paid_dbi(const struct funds *f, const struct s_disb *d)
{
	return d->to_member ? f->paid_member : f->paid_org;
}

/* F3: the payee's kind and period not yet paid, unless supplementary. */
static int
s_f3(struct funds *f, MDB_txn *txn, struct s_disb *d, struct verdict *v)
{
	const Jiceng__V1__FundDisbursed *e = d->e;
	DisbursementView *first;
	int rc;

	s_period_key(d->period_key, e->kind, e->period);
	if (e->supplementary)
		return 0;
	rc = records_pair_view_get(txn, s_paid_dbi(f, d), d->payee, d->period_key,
	    &jiceng__v1__disbursement_view__descriptor, (ProtobufCMessage **)&first);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	rc = verdict_reject(v, "F3", "%s本期%d的%s已由%s发放；补发须标明supplementary / %s "
	    "already paid %s for %d by %s; mark a further payment supplementary: %s",
	    d->payee, e->period, s_kinds[e->kind].zh, first->disbursement_id, d->payee,
	    s_kinds[e->kind].en, e->period, first->disbursement_id, e->disbursement_id);
	protobuf_c_message_free_unpacked(&first->base, NULL);
	return rc;
}

/* F2: within what remains of the line of the payee's township, the kind
 * and the period's year; d->line becomes the line after the payment. */
static int
s_f2(struct funds *f, MDB_txn *txn, const struct event_ctx *ev, struct s_disb *d,
    struct verdict *v)
{
	const Jiceng__V1__FundDisbursed *e = d->e;
	int year = e->period / 100;
	char a[MONEY_TEXT_LEN], r[MONEY_TEXT_LEN];
	int rc = s_ledger_load(f, txn, records_ev_township(ev), e->kind, year, &d->line,
	    &d->owned);

	if (rc)
		return rc;
	if (e->amount_fen > d->line.remaining_fen)
		return verdict_reject(v, "F2", "%d年%s预算余额%s元，不足%s元 / the %d %s "
		    "budget has %s yuan left, less than %s yuan: %s", year,
		    s_kinds[e->kind].zh, money_text(d->line.remaining_fen, r),
		    money_text(e->amount_fen, a), year, s_kinds[e->kind].en, r, a,
		    e->disbursement_id);
	if (!money_add(d->line.disbursed_fen, e->amount_fen, &d->line.disbursed_fen) ||
	    !money_sub(d->line.remaining_fen, e->amount_fen, &d->line.remaining_fen))
		return verdict_reject(v, "AMOUNT_OVERFLOW", "发放累计超出可记范围 / the "
		    "line's disbursed total would overflow int64 fen: %s", e->disbursement_id);
	d->line.last_seq = ev->seq;
	return 0;
}

static int
s_disburse_check(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    struct s_disb *d, struct verdict *v)
{
	const Jiceng__V1__FundDisbursed *e = d->e;
	const char *id = e->disbursement_id;
	int rc = s_new_disbursement(f, txn, id, v);

	if (rc || !v->accepted ||
	    (rc = s_kind_source(e->kind, e->source, id, v)) || !v->accepted ||
	    (rc = s_f1(ev, e->amount_fen, id, v)) || !v->accepted)
		return rc;
	if (!civil_month_valid(e->period))
		return verdict_reject(v, "BAD_FIELD", "所属期须为YYYYMM / period must be a "
		    "real YYYYMM month: %s", id);
	if ((rc = records_time_check(ev, e->paid_at, true, "发放时间", "paid_at", id, v)) ||
	    !v->accepted ||
	    (rc = s_payee(f, txn, ev, d, v)) || !v->accepted ||
	    (rc = s_f4(e, v)) || !v->accepted ||
	    (rc = s_f3(f, txn, d, v)) || !v->accepted)
		return rc;
	return s_f2(f, txn, ev, d, v);
}

static int
s_disburse_store(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    const struct s_disb *d)
{
	const Jiceng__V1__FundDisbursed *e = d->e;
	DisbursementView r = JICENG__V1__DISBURSEMENT_VIEW__INIT;
	Jiceng__V1__DisbursementView first = JICENG__V1__DISBURSEMENT_VIEW__INIT;
	int rc;

	r.disbursement_id = e->disbursement_id;
	r.township_id = (char *)records_ev_township(ev);
	r.kind = e->kind;
	r.payee_member_id = d->to_member ? (char *)d->payee : "";
	r.payee_org_id = d->to_member ? "" : (char *)d->payee;
	r.amount_fen = e->amount_fen;
	r.period = e->period;
	r.year = e->period / 100;
	r.source = e->source;
	r.approval_ref = e->approval_ref;
	r.supplementary = e->supplementary;
	r.paid_at = e->paid_at;
	r.seq = ev->seq;
	first.disbursement_id = e->disbursement_id;
	if ((rc = records_view_put(txn, f->disb, e->disbursement_id, &r.base)) ||
	    (rc = records_pair_put(txn, d->to_member ? f->by_member : f->by_org, d->payee,
	    e->disbursement_id)) ||
	    (!e->supplementary && (rc = records_pair_view_put(txn, s_paid_dbi(f, d),
	    d->payee, d->period_key, &first.base))))
		return rc;
	return s_ledger_put(f, txn, &d->line);
}

static int
s_apply_fund_disbursed(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v)
{
	struct s_disb d = { .e = ev->env->fund_disbursed };
	int rc = s_disburse_check(f, txn, ev, &d, v);

	if (rc == 0 && v->accepted)
		rc = s_disburse_store(f, txn, ev, &d);
	s_ledger_done(&d.owned);
	return rc;
}

/* ---------------------------------------------------------- DisbursementReversed */

/* F5 and the township: *out the disbursement, not yet reversed. */
static int
s_reversal_target(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    const char *id, DisbursementView **out, struct verdict *v)
{
	int rc;

	*out = NULL;
	if (!*id)
		return verdict_reject(v, "BAD_FIELD", "须提供发放编号 / disbursement_id is required");
	if ((rc = s_disb_get(f, txn, id, out)) == MDB_NOTFOUND)
		return verdict_reject(v, "F5", "冲销的发放记录不存在 / no such disbursement "
		    "to reverse: %s", id);
	if (rc)
		return rc;
	if (strcmp((*out)->township_id, records_ev_township(ev)) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP", "发放记录属于乡镇%s / the "
		    "disbursement belongs to township %s: %s", (*out)->township_id,
		    (*out)->township_id, id);
	if ((*out)->reversal)
		return verdict_reject(v, "F5", "发放记录已于journal序号%llu冲销 / the "
		    "disbursement was already reversed at seq %llu: %s",
		    (unsigned long long)(*out)->reversal->seq,
		    (unsigned long long)(*out)->reversal->seq, id);
	return 0;
}

static int
s_reverse_check(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__DisbursementReversed *e, DisbursementView **d,
    LedgerLine *line, LedgerLine **owned, struct verdict *v)
{
	const char *id = e->disbursement_id;
	int rc = s_reversal_target(f, txn, ev, id, d, v);

	if (rc || !v->accepted ||
	    (rc = records_time_check(ev, e->reversed_at, true, "冲销时间", "reversed_at",
	    id, v)) || !v->accepted)
		return rc;
	if (e->reversed_at < (*d)->paid_at)
		return verdict_reject(v, "BAD_FIELD", "冲销时间早于发放时间 / reversed_at is "
		    "before paid_at: %s", id);
	if (!*e->reason)
		return verdict_reject(v, "BAD_FIELD", "须说明冲销原因 / reason is required: %s", id);
	if ((rc = s_ledger_load(f, txn, (*d)->township_id, (*d)->kind, (*d)->year, line,
	    owned)))
		return rc;
	if (!*owned)   /* the payment counted in it */
		return MDB_CORRUPTED;
	if (!money_add(line->reversed_fen, (*d)->amount_fen, &line->reversed_fen) ||
	    !money_add(line->remaining_fen, (*d)->amount_fen, &line->remaining_fen))
		return verdict_reject(v, "AMOUNT_OVERFLOW", "冲销累计超出可记范围 / the "
		    "line's reversed total would overflow int64 fen: %s", id);
	line->last_seq = ev->seq;
	return 0;
}

static int
s_apply_disbursement_reversed(struct funds *f, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__DisbursementReversed *e = ev->env->disbursement_reversed;
	Jiceng__V1__ReversalView rv = JICENG__V1__REVERSAL_VIEW__INIT;
	DisbursementView *d = NULL;
	LedgerLine line, *owned = NULL;
	char key[16];
	int rc = s_reverse_check(f, txn, ev, e, &d, &line, &owned, v);

	if (rc == 0 && v->accepted) {
		rv.reason = e->reason;
		rv.reversed_at = e->reversed_at;
		rv.seq = ev->seq;
		d->reversal = &rv;
		bool to_member = *d->payee_member_id != '\0';
		const char *payee = to_member ? d->payee_member_id : d->payee_org_id;
		if ((rc = records_view_put(txn, f->disb, d->disbursement_id, &d->base)) == 0 &&
		    (rc = s_ledger_put(f, txn, &line)) == 0 && !d->supplementary)
			rc = records_pair_del(txn, to_member ? f->paid_member : f->paid_org,
			    payee, s_period_key(key, d->kind, d->period));
		d->reversal = NULL;   /* rv is on the stack */
	}
	if (d)
		protobuf_c_message_free_unpacked(&d->base, NULL);
	s_ledger_done(&owned);
	return rc;
}

/* ---------------------------------------------------------- DuesPaid */

/* A proxy payer: a member of the county other than the member. */
static int
s_payer(struct funds *f, MDB_txn *txn, const Jiceng__V1__DuesPaid *e, struct verdict *v)
{
	struct member_rec p;
	int rc;

	if (!*e->payer_member_id)
		return 0;
	if (strcmp(e->payer_member_id, e->member_id) == 0)
		return verdict_reject(v, "BAD_FIELD", "代缴人不能是党员本人 / payer_member_id "
		    "is for a proxy, not the member: %s", e->member_id);
	rc = records_member_load(f->m, txn, e->payer_member_id, &p);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_MEMBER", "代缴党员不存在 / unknown payer: %s",
		    e->payer_member_id);
	if (rc == 0 && p.transferred_out)
		return verdict_reject(v, "TRANSFERRED_OUT", "代缴党员的组织关系已转出本县 / "
		    "the payer's relationship has been transferred out of the county: %s",
		    e->payer_member_id);
	return rc;
}

static int
s_dues_check(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__DuesPaid *e, struct member_rec *r, struct verdict *v)
{
	ProtobufCMessage *old;
	char key[16];
	int rc = members_require(f->m, txn, ev, e->member_id, r, v);

	if (rc || !v->accepted)
		return rc;
	if (!civil_month_valid(e->month))
		return verdict_reject(v, "BAD_FIELD", "党费月份须为YYYYMM / month must be a "
		    "real YYYYMM month: %s", e->member_id);
	if (e->amount_fen <= 0)
		return verdict_reject(v, "BAD_AMOUNT", "党费金额须大于0 / amount_fen must be "
		    "more than 0: %s", e->member_id);
	if ((rc = records_time_check(ev, e->paid_at, true, "缴纳时间", "paid_at",
	    e->member_id, v)) || !v->accepted ||
	    (rc = s_payer(f, txn, e, v)) || !v->accepted)
		return rc;
	rc = records_pair_view_get(txn, f->dues, e->member_id, s_month_key(key, e->month),
	    &jiceng__v1__dues_view__descriptor, &old);
	if (rc == 0) {
		protobuf_c_message_free_unpacked(old, NULL);
		return verdict_reject(v, "DUES_EXISTS", "党员%d月党费已记录 / dues for %d "
		    "are already recorded: %s", e->month, e->month, e->member_id);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* F6 and F7, warnings on accepted dues. */
static void
s_dues_warnings(const struct event_ctx *ev, const Jiceng__V1__DuesPaid *e,
    const struct member_rec *r, struct verdict *v)
{
	Rules buf;
	uint32_t max = records_ev_rules(ev, &buf)->dues_max_months_back;
	int now = civil_cst_month(ev->received_at);
	char a[MONEY_TEXT_LEN];

	if (civil_month_diff(e->month, now) > (int)max)
		verdict_warn(v, "F6", "补交%d的党费，距今超过%u个月 / dues for %d, more than "
		    "%u months before %d: %s", e->month, max, e->month, max, now, e->member_id);
	if (r->farmer && (e->amount_fen < F7_MIN_FEN || e->amount_fen > F7_MAX_FEN))
		verdict_warn(v, "F7", "农民党员月交党费%s元，不在0.2至1元之间 / a farmer "
		    "member's monthly dues of %s yuan, outside 0.20 to 1.00: %s",
		    money_text(e->amount_fen, a), a, e->member_id);
}

static int
s_apply_dues_paid(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v)
{
	const Jiceng__V1__DuesPaid *e = ev->env->dues_paid;
	Jiceng__V1__DuesView d = JICENG__V1__DUES_VIEW__INIT;
	struct member_rec r;
	char key[16];
	int rc = s_dues_check(f, txn, ev, e, &r, v);

	if (rc || !v->accepted)
		return rc;
	s_dues_warnings(ev, e, &r, v);
	d.member_id = e->member_id;
	d.month = e->month;
	d.amount_fen = e->amount_fen;
	d.payer_member_id = e->payer_member_id;
	d.paid_at = e->paid_at;
	d.township_id = r.township_id;
	d.seq = ev->seq;
	return records_pair_view_put(txn, f->dues, e->member_id, s_month_key(key, e->month),
	    &d.base);
}

/* ---------------------------------------------------------- dispatch */

typedef int (*s_apply_fn)(struct funds *f, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v);

static const struct {
	EventCase kind;
	s_apply_fn apply;
} s_handlers[] = {
	{ JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, s_apply_budget_allocated },
	{ JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, s_apply_fund_disbursed },
	{ JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED, s_apply_disbursement_reversed },
	{ JICENG__V1__ENVELOPE__EVENT_DUES_PAID, s_apply_dues_paid },
};

static int
s_apply(void *state, MDB_txn *txn, const struct event_ctx *ev, struct verdict *v)
{
	for (size_t i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++)
		if (s_handlers[i].kind == ev->env->event_case)
			return s_handlers[i].apply(state, txn, ev, v);
	return 0;
}

const struct domain_module funds_module = {
	.domain = DOMAIN_FUNDS,
	.max_dbs = FUNDS_MAX_DBS,
	.open = s_module_open,
	.close = s_close,
	.apply = s_apply,
};
