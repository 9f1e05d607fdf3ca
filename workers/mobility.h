/*
 * mobility: mobile-member episodes (流动党员), the rules L1-L4 (DOMAIN.md)
 * and the mobility events. Depends on the record layer, orgs (O6) and
 * members (R3). A transfer issued for a member away closes the episode
 * itself, through the record layer (transfers.c).
 */
#ifndef JICENG_MOBILITY_H
#define JICENG_MOBILITY_H

#include "records.h"

/*
 * The mobility events. Each returns 0 with v filled (a rejection is decided
 * before the first write) or an LMDB error; MDB_CORRUPTED when an episode
 * names a member that is not stored. Besides the rule ids, v's code may be
 * UNKNOWN_FLOW (no such episode), FLOW_EXISTS (departure: flow_id in use),
 * UNKNOWN_MEMBER, TRANSFERRED_OUT, UNKNOWN_ORG, ORG_DISSOLVED,
 * WRONG_TOWNSHIP (the step is another township's: the home township's, or
 * for a report to a host in the county the host's), BAD_FIELD (a field
 * missing or out of bounds, a date before the departure, the home org as
 * host) and FUTURE_TIME.
 *
 * MobileDeparted (R3, L1; warns L3) opens an episode AWAITING_REPORT;
 * MobileReported makes it REPORTED at its host (a later report moves the
 * member); MobileContacted brings it back from LOST_CONTACT;
 * CertificateReviewed records the annual review; MobileReturned closes it
 * RETURNED. Steps of an episode that is not open are L2.
 */
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
 * LOST_CONTACT (the member too, with a change-log entry). Returns 0,
 * MDB_CORRUPTED or an LMDB error. */
int mobility_lost_contact(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);
/* Tick duty (L4): an audit entry for each open episode whose certificate
 * was last reviewed (or issued, at departure) 12 months or more before the
 * Tick's journal time; written once per 12 months without review. Returns
 * 0, MDB_CORRUPTED or an LMDB error. */
int mobility_review_audit(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);

#endif
