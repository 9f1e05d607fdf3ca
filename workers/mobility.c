/*
 * mobility: L1-L4 (DOMAIN.md). Being written: every event is refused
 * UNSUPPORTED_EVENT until its rules land.
 */
#include "mobility.h"

static int
s_unsupported(const struct event_ctx *ev, struct verdict *v)
{
	return verdict_reject(v, "UNSUPPORTED_EVENT", "本版本未实现该事件 / %s is not "
	    "implemented in this build", codec_event_name(ev->env->event_case));
}

int
membership_apply_mobile_departed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_mobile_reported(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_mobile_contacted(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_certificate_reviewed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
membership_apply_mobile_returned(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	(void)m, (void)txn;
	return s_unsupported(ev, v);
}

int
mobility_lost_contact(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	(void)m, (void)txn, (void)ev;
	return 0;
}

int
mobility_review_audit(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	(void)m, (void)txn, (void)ev;
	return 0;
}
