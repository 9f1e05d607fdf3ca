/*
 * transfers: T1-T8 (DOMAIN.md). Being written: every event is refused
 * UNSUPPORTED_EVENT until its rules land.
 */
#include "transfers.h"

static int
s_unsupported(const struct event_ctx *ev, struct verdict *v)
{
	return verdict_reject(v, "UNSUPPORTED_EVENT", "本版本未实现该事件 / %s is not "
	    "implemented in this build", codec_event_name(ev->env->event_case));
}

int
membership_apply_transfer_issued(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_transfer_received(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_transfer_receipt_returned(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_transfer_rejected(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_transfer_revoked(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
transfers_expire(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	(void)m, (void)txn, (void)ev;
	return 0;
}
