/*
 * orgs: the organisation rules (O1-O6, DOMAIN.md): the org events, the
 * existence checks every rule file makes of the orgs an event names, the
 * members counted in each org and the O4 limits on them, and the O3 audit
 * at Tick. Depends on the record layer only.
 */
#ifndef JICENG_ORGS_H
#define JICENG_ORGS_H

#include "records.h"

/* Org kinds by rank. */
bool orgs_kind_branch(int kind);    /* the four 支部 kinds */
bool orgs_kind_valid(int kind);
/* "乡镇党委" and "township committee". */
const char *orgs_kind_zh(int kind);
const char *orgs_kind_en(int kind);
/* Does a member of this status count as a member of its org? */
bool orgs_status_counted(int status);

/* What an org is to the event, for the reason text. */
enum ms_role {
	MS_ROLE_ORG, MS_ROLE_PARENT, MS_ROLE_HOME, MS_ROLE_ACTIVITY,
	MS_ROLE_FROM, MS_ROLE_TO, MS_ROLE_HOST,
};
#define MS_LIVE          0x1   /* must not be dissolved */
#define MS_ANY_TOWNSHIP  0x2   /* may belong to another township */

/* O6: require org_id to exist (UNKNOWN_ORG), to belong to the event's
 * township unless MS_ANY_TOWNSHIP (WRONG_TOWNSHIP) and, with MS_LIVE, not
 * to be dissolved (ORG_DISSOLVED). On a rule failure v is a rejection and
 * 0 is returned: callers test `rc || !v->accepted`. */
int orgs_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *org_id, enum ms_role role,
    unsigned flags, struct org_rec *o, struct verdict *v);

/* O5: may org o hold members' relationships? A Party group is judged by
 * the branch it belongs to. Rejects O5 for a temporary branch; returns 0
 * or an LMDB error. */
int orgs_o5_home(struct membership *m, MDB_txn *txn,
    const struct org_rec *o, struct verdict *v);

/* A member's contribution to its home org's counts moves from before (NULL
 * for a new member) to after: adjusts the stored counts of both home orgs
 * and warns O4 when a count crosses its limit. */
int orgs_counts_update(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const struct member_rec *before,
    const struct member_rec *after, struct verdict *v);
/* Members (counted) of org_id and all orgs below it. */
int orgs_subtree_counts(struct membership *m, MDB_txn *txn,
    const char *org_id, uint32_t *total, uint32_t *full);

/* Tick duty: the O3 audit of branches whose grace period ended. */
int orgs_o3_audit(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);
/* RulesChanged duty: an O4 audit entry for each limit each live org is
 * over, when the change moved either limit (was: the rules before). */
int orgs_o4_audit(struct membership *m, MDB_txn *txn, uint64_t seq,
    const Rules *was, const Rules *rl);

int membership_apply_org_established(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_org_updated(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_org_dissolved(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

#endif
