/*
 * transfers: organisational-relationship transfers (组织关系转接), the rules
 * T1-T8 (DOMAIN.md) and the transfer events. Depends on the record layer,
 * orgs (O6, counts) and members (R3, moves, registration of a member
 * transferred in from outside the county).
 */
#ifndef JICENG_TRANSFERS_H
#define JICENG_TRANSFERS_H

#include "records.h"

/*
 * The transfer events. Each returns 0 with v filled (a rejection decided
 * before the first write), or an LMDB error (MDB_CORRUPTED when a stored
 * transfer names a member, or a member an episode, that is not there).
 * Besides the rule ids, the verdict codes they give:
 *   TransferIssued           TRANSFER_EXISTS, UNKNOWN_MEMBER, WRONG_TOWNSHIP,
 *                            TRANSFERRED_OUT, UNKNOWN_ORG, ORG_DISSOLVED,
 *                            BAD_FIELD, FUTURE_TIME; R3, T1, T2, O5;
 *                            warnings T5, T6 (O4 never: nobody moves yet)
 *   TransferReceived         in the county: UNKNOWN_TRANSFER, BAD_STATE,
 *                            TRANSFERRED_OUT, UNKNOWN_ORG, ORG_DISSOLVED,
 *                            BAD_FIELD, FUTURE_TIME; R3, T3, T7, O5;
 *                            warning O4. From outside (from_external):
 *                            TRANSFER_EXISTS, BAD_FIELD and every code of
 *                            MemberRegistered (members.h)
 *   TransferReceiptReturned  UNKNOWN_TRANSFER, BAD_STATE, BAD_FIELD,
 *                            FUTURE_TIME; T7; warning T4
 *   TransferRejected         UNKNOWN_TRANSFER, BAD_STATE, BAD_FIELD,
 *                            FUTURE_TIME; T7
 *   TransferRevoked          UNKNOWN_TRANSFER, BAD_FIELD, FUTURE_TIME; T7
 *                            (the wrong township, or not ISSUED)
 */
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
