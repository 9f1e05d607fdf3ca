/*
 * funds: the funds worker's domain (经费, 报酬, 慰问, 党费; DOMAIN.md
 * "Funds and dues", F1-F7): budgets, disbursements and their reversals,
 * the ledger kept as running totals, and dues. funds.c holds the rules
 * (funds_module, the fold's side); funds_query.c the read side for
 * jiceng-query. Both reach the membership tables of the same environment
 * through the membership and record layers only.
 */
#ifndef JICENG_FUNDS_H
#define JICENG_FUNDS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "domain.h"

struct membership;

/* Named databases the module opens (domain_module.max_dbs). */
#define FUNDS_MAX_DBS 8

extern const struct domain_module funds_module;

/* The module's tables. Keys are ids, pair keys "a NUL b" (records.h) or
 * a ledger key (funds_ledger_get); values are records of a view message
 * of query.proto (records_view_put), "" in the pure indexes. */
struct funds {
	struct membership *m;  /* the same environment's membership module */
	MDB_dbi budgets;       /* "funds_budgets": budget_id -> BudgetView */
	MDB_dbi ledger;        /* "funds_ledger": township:KK:YYYY -> LedgerLine */
	MDB_dbi disb;          /* "funds_disbursements": id -> DisbursementView */
	MDB_dbi by_member;     /* "funds_by_member": member_id NUL disbursement_id -> "" */
	MDB_dbi by_org;        /* "funds_by_org": org_id NUL disbursement_id -> "" */
	/* F3: a payee's unreversed, not supplementary payment of a kind for a
	 * period: payee NUL "KK:YYYYMM" -> DisbursementView with its id only */
	MDB_dbi paid_member;   /* "funds_paid_member" */
	MDB_dbi paid_org;      /* "funds_paid_org" */
	MDB_dbi dues;          /* "funds_dues": member_id NUL "YYYYMM" -> DuesView */
	/* township -> OrgSummary naming its latest township committee */
};

/* The ledger line of township, kind and year: 0 with *out unpacked (free
 * with protobuf_c_message_free_unpacked), MDB_NOTFOUND (nothing yet),
 * MDB_CORRUPTED or an LMDB error. */
int funds_ledger_get(struct funds *f, MDB_txn *txn, const char *township,
    int kind, int year, Jiceng__V1__LedgerLine **out);

/* ------------------------------------------------ read side (query server) */

/* Open the module's tables read-only (txn a read transaction on the funds
 * environment, m its membership module): 0, MDB_NOTFOUND (the worker has
 * not created them yet), ENOMEM or an LMDB error. */
int funds_open_readonly(MDB_txn *txn, struct membership *m, struct funds **out);
void funds_close(struct funds **f);

/* The township of a budget or a disbursement, for authorisation (copied
 * into out; a payee's is membership_member_township's or
 * membership_org_township's). 0, MDB_NOTFOUND (unknown id), MDB_CORRUPTED
 * or an LMDB error. */
int funds_budget_township(struct funds *f, MDB_txn *txn, const char *budget_id,
    char out[16]);
int funds_disbursement_township(struct funds *f, MDB_txn *txn,
    const char *disbursement_id, char out[16]);

/* A budget with its ledger line now (BudgetView.ledger). *out is freed
 * with funds_free_budget. 0, MDB_NOTFOUND, MDB_CORRUPTED, ENOMEM or an
 * LMDB error; *out is NULL unless 0. */
int funds_get_budget(struct funds *f, MDB_txn *txn, const char *budget_id,
    Jiceng__V1__BudgetView **out);
void funds_free_budget(Jiceng__V1__BudgetView **v);

/* A disbursement with its reversal, if any; as funds_get_budget. */
int funds_get_disbursement(struct funds *f, MDB_txn *txn,
    const char *disbursement_id, Jiceng__V1__DisbursementView **out);
void funds_free_disbursement(Jiceng__V1__DisbursementView **v);

/* A page of a payee's disbursements (reversed ones included), ordered by
 * disbursement_id, after `after` (exclusive; "" or NULL for the first
 * page), at most limit (0: 100; at most 1000): the member's when
 * by_member, else the org's. 0, MDB_NOTFOUND (no such member or org),
 * EINVAL (no id), MDB_CORRUPTED, ENOMEM or an LMDB error. */
int funds_list_payments(struct funds *f, MDB_txn *txn, bool by_member,
    const char *id, const char *after, unsigned limit,
    Jiceng__V1__DisbursementList **out);
void funds_free_disbursement_list(Jiceng__V1__DisbursementList **l);

/* A page of a member's dues from month `from` to month `to` (YYYYMM, both
 * included; 0: unbounded), ordered by month, at most limit (as above);
 * next_month is set when more follow. 0, MDB_NOTFOUND (no such member),
 * EINVAL (no id, or a month that is neither 0 nor real), MDB_CORRUPTED,
 * ENOMEM or an LMDB error. */
int funds_list_dues(struct funds *f, MDB_txn *txn, const char *member_id,
    int from, int to, unsigned limit, Jiceng__V1__DuesList **out);
void funds_free_dues_list(Jiceng__V1__DuesList **l);

/* ------------------------------------------------ for the reports (reports.h) */

/* The last month, up to `month` (YYYYMM), for which member_id's dues are
 * recorded, in *last (0: none). Returns 0, MDB_CORRUPTED or an LMDB
 * error. */
int funds_dues_last(struct funds *f, MDB_txn *txn, const char *member_id,
    int month, int *last);

/* Add the Party activity funds (PARTY_ACTIVITY_FUND) paid to a payee for
 * `year` (its period's year) to *disbursed, and those of them reversed to
 * *reversed, in fen: the member's payments when by_member, else the
 * org's. Returns 0, EOVERFLOW (a sum past int64), MDB_CORRUPTED or an
 * LMDB error. */
int funds_activity_paid(struct funds *f, MDB_txn *txn, bool by_member,
    const char *id, int year, int64_t *disbursed, int64_t *reversed);

#endif
