/*
 * mobility: mobile-member episodes (流动党员), the rules L1-L4 (DOMAIN.md)
 * and the mobility events. Depends on the record layer, orgs (O6) and
 * members (R3). A transfer issued for a member away closes the episode
 * itself, through the record layer (transfers.c).
 */
#ifndef JICENG_MOBILITY_H
#define JICENG_MOBILITY_H

#include "records.h"

int membership_apply_mobile_departed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_mobile_reported(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_mobile_contacted(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_certificate_reviewed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_mobile_returned(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

/* Tick duty: open episodes whose last contact is older than
 * mobile.lost_contact_months at the Tick's journal time enter
 * LOST_CONTACT. Returns 0 or an LMDB error. */
int mobility_lost_contact(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);
/* Tick duty (L4): an audit entry for each open episode whose certificate
 * was last reviewed (or issued, at departure) 12 months or more before the
 * Tick's journal time; written once per 12 months without review. */
int mobility_review_audit(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);

#endif
