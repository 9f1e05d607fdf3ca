/*
 * members: the member rules (R1-R4, DOMAIN.md) and the member events.
 * Depends on the record layer and on orgs (O5, O6, counts).
 */
#ifndef JICENG_MEMBERS_H
#define JICENG_MEMBERS_H

#include "records.h"

/* Require member_id to exist (UNKNOWN_MEMBER) in the event's township
 * (WRONG_TOWNSHIP) and still be on the county's roster (TRANSFERRED_OUT).
 * On a rule failure v is a rejection and 0 is returned. */
int members_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *member_id, struct member_rec *r,
    struct verdict *v);
/* R3: the member's Party status is NORMAL (R3 otherwise); `what` names the
 * step for the reason ("转接 / transferred"). Returns 0. */
int members_require_normal(const struct member_rec *r, const char *zh,
    const char *en, struct verdict *v);

/* A member entering the county from a MemberRegistered record (initial
 * registration, or a transfer in from outside the county): every check
 * of MemberRegistered, then the member is stored in home_org_id with its
 * roster entry, blind index and counts. The caller fills nothing; *r
 * receives the stored member. Returns 0 (v says whether it was accepted)
 * or an LMDB error. */
int members_register(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const Jiceng__V1__MemberRegistered *e,
    struct member_rec *r, struct verdict *v);

/* Move a member to home org `to` (of township `township`): roster, counts
 * (with their O4 warnings) and the record. Activity orgs are kept (they
 * may be of any township) except `to` itself. *r, the member as stored,
 * is updated and stored. Returns 0 or an LMDB error. */
int members_move(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct member_rec *r, const char *to,
    const char *township, struct verdict *v);
/* The member leaves the county's roster (transferred out): off the
 * roster and the counts, kept as transferred_out. */
int members_leave_county(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct member_rec *r, struct verdict *v);

int membership_apply_member_registered(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_admitted(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_confirmed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_probation_extended(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_status_changed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_updated(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

#endif
