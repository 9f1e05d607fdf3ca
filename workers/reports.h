/*
 * reports: the period audits and reports of DOMAIN.md ("Period audits",
 * "Reports"; docs/rules.md "Reports") for jiceng-query: the 三会一课
 * frequency audit, inactive members (党章 Art. 9), certificate reviews of
 * mobile members (L4), dues arrears and Party activity funds per member.
 * Each is computed when asked from read transactions on the workers'
 * environments and the rule settings in force there, and stored nowhere.
 * This module owns what the reports share: the scope (a township's orgs,
 * an org's subtree, the county), who a member report counts, the pages.
 * It reads meetings and funds only through their read sides (meetings.h,
 * funds.h) and membership through the record layer; it authorises
 * nothing (the query server scopes a key by the township asked).
 *
 * Every report is allocated whole as protobuf-c's unpack allocates a
 * message and freed by reports_free; on any error *out is NULL. Each
 * returns 0, MDB_NOTFOUND (an unknown org_id), EINVAL (a period or month
 * that is not real), EOVERFLOW (a sum of fen past int64), MDB_CORRUPTED,
 * ENOMEM or an LMDB error.
 */
#ifndef JICENG_REPORTS_H
#define JICENG_REPORTS_H

#include <lmdb.h>
#include <stdint.h>

#include "codec.h"

struct funds;
struct meetings;
struct membership;

/* What a report covers: the orgs of township_id; org_id and every org
 * below it; or, both "" (or NULL), the whole county. */
struct reports_scope {
	const char *township_id;
	const char *org_id;
};

/* A page of rows ordered by their id: those after `after` ("" or NULL:
 * from the first), at most limit (0: 100; at most 1000). A full page
 * that more rows follow names its last id in the report's next_after. */
struct reports_page {
	const char *after;
	unsigned limit;
};

/* The 三会一课 audit of the branches in scope (BRANCH, JOINT_BRANCH,
 * MOBILE_BRANCH) that existed through a month of the period (year, and
 * quarter or month or neither: civil_period_months) as of the instant
 * `at` (a unit not over then is not due), from the meetings environment
 * (txn; m its membership module). */
int reports_meetings_audit(struct membership *m, struct meetings *mt, MDB_txn *txn,
    const struct reports_scope *s, int year, int quarter, int month, int64_t at,
    const struct reports_page *p, Jiceng__V1__MeetingsAuditReport **out);

/* Members in scope with neither attendance (the meetings environment,
 * mtxn; m its membership module, which says who is in scope) nor dues (the
 * funds environment, ftxn) for member.inactive_months consecutive months
 * up to month, or half as many (an early warning); no month before
 * since_month (YYYYMM, 0: none) counts. */
int reports_inactive_members(struct membership *m, struct meetings *mt, MDB_txn *mtxn,
    struct funds *f, MDB_txn *ftxn, const struct reports_scope *s, int month,
    int since_month, const struct reports_page *p, Jiceng__V1__InactiveMemberList **out);

/* Open mobile episodes of members whose home org is in scope, their
 * certificate not reviewed for 12 months at `at` (L4). */
int reports_certificate_reviews(struct membership *m, MDB_txn *txn,
    const struct reports_scope *s, int64_t at, const struct reports_page *p,
    Jiceng__V1__CertificateReviewList **out);

/* Members in scope whose dues are unpaid for half of
 * member.inactive_months or more consecutive months up to month (lapsed
 * at member.inactive_months), from the funds environment. */
int reports_dues_arrears(struct membership *m, struct funds *f, MDB_txn *txn,
    const struct reports_scope *s, int month, int since_month,
    const struct reports_page *p, Jiceng__V1__DuesArrearsList **out);

/* Party activity funds of `year` per member against
 * funds.activity_per_member_min_fen, from the funds environment: the
 * county by township (ledger lines), a township by the orgs right under
 * its township committee, or one org. */
int reports_activity_funds(struct membership *m, struct funds *f, MDB_txn *txn,
    const struct reports_scope *s, int year, const struct reports_page *p,
    Jiceng__V1__ActivityFundsReport **out);

/* Free any report above (NULL is fine). */
void reports_free(void *report);

#endif
