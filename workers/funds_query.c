/*
 * funds_query: the funds worker's read side (funds.h) for jiceng-query: a
 * budget with its ledger line, a disbursement with its reversal, a
 * payee's payments and a member's dues, from a read transaction on the
 * funds environment. Every view is a record unpacked by protobuf-c, so a
 * view or a list is freed whole by its funds_free_* call.
 */
#include "funds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "money.h"
#include "records.h"

#define PAGE_DEFAULT 100u
#define PAGE_MAX     1000u

static unsigned
s_page_limit(unsigned limit)
{
	return limit == 0 ? PAGE_DEFAULT : limit > PAGE_MAX ? PAGE_MAX : limit;
}

static int
s_budget_get(struct funds *f, MDB_txn *txn, const char *id, Jiceng__V1__BudgetView **out)
{
	return records_view_get(txn, f->budgets, id, &jiceng__v1__budget_view__descriptor,
	    (ProtobufCMessage **)out);
}

static int
s_disb_get(struct funds *f, MDB_txn *txn, const char *id,
    Jiceng__V1__DisbursementView **out)
{
	return records_view_get(txn, f->disb, id, &jiceng__v1__disbursement_view__descriptor,
	    (ProtobufCMessage **)out);
}

/* ---------------------------------------------------------- townships */

int
funds_budget_township(struct funds *f, MDB_txn *txn, const char *budget_id, char out[16])
{
	Jiceng__V1__BudgetView *b;
	int rc = s_budget_get(f, txn, budget_id, &b);
	if (rc)
		return rc;
	snprintf(out, 16, "%s", b->township_id);
	funds_free_budget(&b);
	return 0;
}

int
funds_disbursement_township(struct funds *f, MDB_txn *txn, const char *disbursement_id,
    char out[16])
{
	Jiceng__V1__DisbursementView *d;
	int rc = s_disb_get(f, txn, disbursement_id, &d);
	if (rc)
		return rc;
	snprintf(out, 16, "%s", d->township_id);
	funds_free_disbursement(&d);
	return 0;
}

/* ---------------------------------------------------------- one record */

int
funds_get_budget(struct funds *f, MDB_txn *txn, const char *budget_id,
    Jiceng__V1__BudgetView **out)
{
	Jiceng__V1__LedgerLine *line;
	int rc = s_budget_get(f, txn, budget_id, out);

	if (rc) {
		*out = NULL;
		return rc;
	}
	/* A budget counts in its line from the event that stored it. */
	rc = funds_ledger_get(f, txn, (*out)->township_id, (*out)->kind, (*out)->year, &line);
	if (rc) {
		funds_free_budget(out);
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	}
	(*out)->ledger = line;
	return 0;
}

void
funds_free_budget(Jiceng__V1__BudgetView **v)
{
	if (v && *v) {
		jiceng__v1__budget_view__free_unpacked(*v, NULL);
		*v = NULL;
	}
}

int
funds_get_disbursement(struct funds *f, MDB_txn *txn, const char *disbursement_id,
    Jiceng__V1__DisbursementView **out)
{
	int rc = s_disb_get(f, txn, disbursement_id, out);
	if (rc)
		*out = NULL;
	return rc;
}

void
funds_free_disbursement(Jiceng__V1__DisbursementView **v)
{
	if (v && *v) {
		jiceng__v1__disbursement_view__free_unpacked(*v, NULL);
		*v = NULL;
	}
}

/* ---------------------------------------------------------- payments */

struct s_payments {
	struct funds *f;
	MDB_txn *txn;
	unsigned limit;
	Jiceng__V1__DisbursementList *l;
};

/* A full page has one more item: it ends at the last item taken. */
static int
s_take_payment(void *arg, const char *id, bool *stop)
{
	struct s_payments *p = arg;
	Jiceng__V1__DisbursementList *l = p->l;
	int rc;

	if (l->n_disbursements == p->limit) {
		*stop = true;
		l->next_after = strdup(l->disbursements[l->n_disbursements - 1]->disbursement_id);
		return l->next_after ? 0 : ENOMEM;
	}
	if ((rc = s_disb_get(p->f, p->txn, id, &l->disbursements[l->n_disbursements])))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	l->n_disbursements++;
	return 0;
}

/* Cost: one seek, then one index entry and one record per item. */
int
funds_list_payments(struct funds *f, MDB_txn *txn, bool by_member, const char *id,
    const char *after, unsigned limit, Jiceng__V1__DisbursementList **out)
{
	struct s_payments p = { f, txn, s_page_limit(limit), NULL };
	struct member_rec r;
	struct org_rec o;
	int rc;

	*out = NULL;
	if (!id || !*id)
		return EINVAL;
	rc = by_member ? records_member_load(f->m, txn, id, &r) :
	    records_org_load(f->m, txn, id, &o);
	if (rc)
		return rc;
	if (!(p.l = malloc(sizeof *p.l)))
		return ENOMEM;
	jiceng__v1__disbursement_list__init(p.l);
	if (!(p.l->disbursements = calloc(p.limit, sizeof *p.l->disbursements)))
		rc = ENOMEM;
	else
		rc = records_pair_each(txn, by_member ? f->by_member : f->by_org, id,
		    after ? after : "", s_take_payment, &p);
	if (rc)
		funds_free_disbursement_list(&p.l);
	*out = p.l;
	return rc;
}

void
funds_free_disbursement_list(Jiceng__V1__DisbursementList **l)
{
	if (l && *l) {
		jiceng__v1__disbursement_list__free_unpacked(*l, NULL);
		*l = NULL;
	}
}

/* ---------------------------------------------------------- dues */

struct s_dues {
	struct funds *f;
	MDB_txn *txn;
	const char *member_id;
	int to;
	unsigned limit;
	Jiceng__V1__DuesList *l;
};

static int
s_take_dues(void *arg, const char *month, bool *stop)
{
	struct s_dues *p = arg;
	Jiceng__V1__DuesList *l = p->l;
	int m = atoi(month), rc;

	if (p->to && m > p->to) {
		*stop = true;
		return 0;
	}
	if (l->n_dues == p->limit) {
		*stop = true;
		l->next_month = m;
		return 0;
	}
	rc = records_pair_view_get(p->txn, p->f->dues, p->member_id, month,
	    &jiceng__v1__dues_view__descriptor, (ProtobufCMessage **)&l->dues[l->n_dues]);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	l->n_dues++;
	return 0;
}

/* Cost: one seek, then one entry per month paid in the range, plus one
 * past a full page. */
int
funds_list_dues(struct funds *f, MDB_txn *txn, const char *member_id, int from, int to,
    unsigned limit, Jiceng__V1__DuesList **out)
{
	struct s_dues p = { f, txn, member_id, to, s_page_limit(limit), NULL };
	struct member_rec r;
	char after[16] = "";
	int rc;

	*out = NULL;
	if (!member_id || !*member_id || (from && !civil_month_valid(from)) ||
	    (to && !civil_month_valid(to)))
		return EINVAL;
	if ((rc = records_member_load(f->m, txn, member_id, &r)))
		return rc;
	/* Months are keyed "YYYYMM": "from - 1" sorts just before from. */
	if (from)
		snprintf(after, sizeof after, "%06d", from - 1);
	if (!(p.l = malloc(sizeof *p.l)))
		return ENOMEM;
	jiceng__v1__dues_list__init(p.l);
	if (!(p.l->member_id = strdup(member_id)) ||
	    !(p.l->dues = calloc(p.limit, sizeof *p.l->dues)))
		rc = ENOMEM;
	else
		rc = records_pair_each(txn, f->dues, member_id, after, s_take_dues, &p);
	if (rc)
		funds_free_dues_list(&p.l);
	*out = p.l;
	return rc;
}

void
funds_free_dues_list(Jiceng__V1__DuesList **l)
{
	if (l && *l) {
		jiceng__v1__dues_list__free_unpacked(*l, NULL);
		*l = NULL;
	}
}

/* ---------------------------------------------------------- for the reports */

struct s_last {
	int month, last;
};

/* Months are keyed "YYYYMM", in order: the last one not after the month. */
static int
s_dues_month(void *arg, const char *month, bool *stop)
{
	struct s_last *p = arg;
	int m = atoi(month);

	if (m > p->month)
		*stop = true;
	else
		p->last = m;
	return 0;
}

int
funds_dues_last(struct funds *f, MDB_txn *txn, const char *member_id, int month,
    int *last)
{
	struct s_last p = { month, 0 };
	int rc = records_pair_each(txn, f->dues, member_id, "", s_dues_month, &p);

	*last = p.last;
	return rc;
}

struct s_activity {
	struct funds *f;
	MDB_txn *txn;
	int year;
	int64_t *disbursed, *reversed;
};

static int
s_activity_one(void *arg, const char *id, bool *stop)
{
	struct s_activity *p = arg;
	Jiceng__V1__DisbursementView *d;
	int rc = s_disb_get(p->f, p->txn, id, &d);

	(void)stop;
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* the index names records */
	if (d->kind == JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND && d->year == p->year &&
	    (!money_add(*p->disbursed, d->amount_fen, p->disbursed) ||
	    (d->reversal && !money_add(*p->reversed, d->amount_fen, p->reversed))))
		rc = EOVERFLOW;
	funds_free_disbursement(&d);
	return rc;
}

int
funds_activity_paid(struct funds *f, MDB_txn *txn, bool by_member, const char *id,
    int year, int64_t *disbursed, int64_t *reversed)
{
	struct s_activity p = { f, txn, year, disbursed, reversed };
	return records_pair_each(txn, by_member ? f->by_member : f->by_org, id, "",
	    s_activity_one, &p);
}
