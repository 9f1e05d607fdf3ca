/*
 * membership: the module's entry points (membership.h): open and close,
 * the dispatch of one event to the function of its kind in the file of
 * its domain, and the two events every worker applies (Tick, RulesChanged)
 * with the duties each domain has at them. The rules live in orgs.c
 * (O1-O6), members.c (R1-R4), transfers.c (T1-T8) and mobility.c (L1-L4),
 * over the record layer (records.c); the read side in membership_query.c.
 * docs/rules.md lists every rule with its code, severity and setting.
 *
 * Verdict codes beyond the rule ids:
 *   UNKNOWN_ORG, UNKNOWN_MEMBER, ORG_DISSOLVED   O6
 *   UNKNOWN_TRANSFER, UNKNOWN_FLOW               no such transfer / episode
 *   ORG_EXISTS, MEMBER_EXISTS, TRANSFER_EXISTS, FLOW_EXISTS   an id in use
 *   ORG_NOT_EMPTY          OrgDissolved while members or live sub-orgs remain
 *   WRONG_TOWNSHIP         the org or member belongs to another township
 *   TRANSFERRED_OUT        the member has left the county by transfer
 *   BAD_ID_NUMBER          invalid ID number, or birth date/sex contradict it
 *   BAD_FIELD              a field missing or out of its bounds
 *   FUTURE_TIME            an event's own time later than its journal time
 *                          plus MS_TIME_SKEW_MS
 *   BAD_STATUS             a status change out of DECEASED
 *   NO_EVENT               an event case without its message
 *   UNSUPPORTED_EVENT      a membership kind with no row in the table
 * Reasons are "中文 / English: detail" and never carry an ID number or phone.
 */
#include "membership.h"

#include "members.h"
#include "mobility.h"
#include "orgs.h"
#include "records.h"
#include "transfers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- open and close */

int
membership_open(MDB_txn *txn, struct membership **out)
{
	return records_open(txn, MDB_CREATE, out);
}

/* The handles outlive txn only if the caller commits it (LMDB's rule). */
int
membership_open_readonly(MDB_txn *txn, struct membership **out)
{
	return records_open(txn, 0, out);
}

void
membership_destroy(struct membership **m)
{
	records_close(m);
}

/* ---------------------------------------------------------- rules setting */

static const MDB_val s_rules_key = { 5, "rules" };

/* proto3 cannot tell an unset field from 0: a 0 setting means the default. */
int
membership_rules(struct membership *m, MDB_txn *txn, Rules *out)
{
	MDB_val k = s_rules_key, d;
	Rules *r;
	int rc;

	rules_defaults(out);
	rc = mdb_get(txn, m->meta, &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (!(r = jiceng__v1__rules__unpack(NULL, d.mv_size, d.mv_data)))
		return MDB_CORRUPTED;
#define TAKE(f) if (r->f) out->f = r->f
	TAKE(org_min_full_members_days);
	TAKE(org_branch_max_members);
	TAKE(org_village_committee_members);
	TAKE(member_min_admission_age);
	TAKE(transfer_max_valid_days);
	TAKE(transfer_receipt_days);
	TAKE(mobile_lost_contact_months);
	TAKE(mobile_fixed_place_months);
	TAKE(member_inactive_months);
	TAKE(funds_max_single_fen);
	TAKE(funds_activity_per_member_min_fen);
	TAKE(dues_max_months_back);
	TAKE(status_retention_days);
	TAKE(status_retention_changes);
	TAKE(meetings_assembly_per_quarter);
	TAKE(meetings_committee_per_month);
	TAKE(meetings_group_per_month);
	TAKE(meetings_lecture_per_quarter);
	TAKE(meetings_themed_day_per_month);
	TAKE(meetings_org_life_per_year);
	TAKE(meetings_appraisal_per_year);
#undef TAKE
	jiceng__v1__rules__free_unpacked(r, NULL);
	return 0;
}

static int
s_apply_rules_changed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev)
{
	Rules empty = JICENG__V1__RULES__INIT, was, now;
	const Rules *r = ev->env->rules_changed->rules;
	MDB_val k = s_rules_key, d;
	int rc;

	if (!r)
		r = &empty;
	if ((rc = membership_rules(m, txn, &was)))
		return rc;
	d.mv_size = jiceng__v1__rules__get_packed_size(r);
	d.mv_data = NULL;
	if ((rc = ms_put(txn, m->meta, &k, &d, MDB_RESERVE)))
		return rc;
	jiceng__v1__rules__pack(r, d.mv_data);
	if ((rc = membership_rules(m, txn, &now)))
		return rc;
	return orgs_o4_audit(m, txn, ev->seq, &was, &now);
}

/* ---------------------------------------------------------- dispatch */

/*
 * Tick duties, once per Tick event (hourly and at jicengd start-up), each
 * crossing the deadlines that the Tick's journal time has passed:
 *   - O3: branches whose grace period ended are audited (orgs.c);
 *   - T8: letters still ISSUED past their validity expire (transfers.c);
 *   - lost contact: open episodes whose last contact is older than
 *     mobile.lost_contact_months enter LOST_CONTACT (mobility.c);
 *   - L4: certificates not reviewed for 12 months are audited (mobility.c);
 *   - the status change log is pruned to its retention (records.c), after
 *     the duties above have logged their changes.
 */
static int
s_apply_tick(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	int rc;
	if ((rc = orgs_o3_audit(m, txn, ev)) || (rc = transfers_expire(m, txn, ev)) ||
	    (rc = mobility_lost_contact(m, txn, ev)) ||
	    (rc = mobility_review_audit(m, txn, ev)))
		return rc;
	return records_change_prune(m, txn, ev);
}

static int
s_apply_rules(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v)
{
	(void)v;
	return s_apply_rules_changed(m, txn, ev);
}

static int
s_apply_tick_event(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v)
{
	(void)v;
	return s_apply_tick(m, txn, ev);
}

typedef int (*membership_apply_fn)(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

/* One row per event kind the module applies. */
static const struct {
	EventCase kind;
	membership_apply_fn apply;
} s_apply_table[] = {
	{ JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, membership_apply_org_established },
	{ JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED, membership_apply_org_updated },
	{ JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, membership_apply_org_dissolved },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, membership_apply_member_registered },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, membership_apply_member_admitted },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED, membership_apply_member_confirmed },
	{ JICENG__V1__ENVELOPE__EVENT_PROBATION_EXTENDED, membership_apply_probation_extended },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, membership_apply_member_status_changed },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, membership_apply_member_updated },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, membership_apply_transfer_issued },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, membership_apply_transfer_received },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, membership_apply_transfer_receipt_returned },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED, membership_apply_transfer_rejected },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, membership_apply_transfer_revoked },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, membership_apply_mobile_departed },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, membership_apply_mobile_reported },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, membership_apply_mobile_contacted },
	{ JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED, membership_apply_certificate_reviewed },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, membership_apply_mobile_returned },
	{ JICENG__V1__ENVELOPE__EVENT_TICK, s_apply_tick_event },
	{ JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED, s_apply_rules },
};

bool
membership_owns(EventCase c)
{
	return codec_event_domain(c) == DOMAIN_MEMBERSHIP;
}

int
membership_apply(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	EventCase c = ev->env->event_case;

	verdict_accept(v);
	if (c == JICENG__V1__ENVELOPE__EVENT__NOT_SET)
		return 0;
	if (!codec_event_message(ev->env))
		return verdict_reject(v, "NO_EVENT", "事件为空 / the event %s is empty",
		    codec_event_name(c));
	for (size_t i = 0; i < sizeof s_apply_table / sizeof s_apply_table[0]; i++)
		if (s_apply_table[i].kind == c)
			return s_apply_table[i].apply(m, txn, ev, v);
	if (membership_owns(c))
		return verdict_reject(v, "UNSUPPORTED_EVENT",
		    "本版本未实现该事件 / %s is not implemented in this build",
		    codec_event_name(c));
	return 0;   /* meetings and funds: not membership's */
}
