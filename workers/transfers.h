/*
 * transfers: organisational-relationship transfers (组织关系转接), the rules
 * T1-T8 (DOMAIN.md) and the transfer events. Depends on the record layer,
 * orgs (O6, counts) and members (R3, moves, registration of a member
 * transferred in from outside the county).
 */
#ifndef JICENG_TRANSFERS_H
#define JICENG_TRANSFERS_H

#include "records.h"

int membership_apply_transfer_issued(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_transfer_received(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_transfer_receipt_returned(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_transfer_rejected(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_transfer_revoked(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

/* Tick duty (T8): every letter still ISSUED whose validity ended before
 * the Tick's journal time becomes EXPIRED; the member is no longer in
 * transfer. Returns 0 or an LMDB error. */
int transfers_expire(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);

#endif
