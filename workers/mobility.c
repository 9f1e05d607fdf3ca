/*
 * mobility: mobile-member episodes (流动党员), the rules L1-L4 (DOMAIN.md),
 * the events MobileDeparted, MobileReported, MobileContacted,
 * CertificateReviewed and MobileReturned, and two Tick duties: lost
 * contact and the L4 review audit. It owns an episode's life and, while
 * one runs, the member's mobility state, flow_id and host org; each change
 * of those goes to the change log (the status stream) in the same
 * transaction. It does not own the episode's indexes (records.c derives
 * them, the "hosted by" index included, from the stored episode), nor the
 * close of an episode by a transfer (transfers.c, through the record
 * layer).
 *
 * Choices the rules leave open:
 * - Who sends each step: the home township sends the departure, contacts,
 *   certificate reviews and the return, and the report when the host org
 *   is outside the county (on the member's behalf). A host org in the
 *   county is reported to by its own township (流入地乡镇报到), which may
 *   be the home township. Anyone else gets WRONG_TOWNSHIP.
 * - Business dates against journal time: each step carries its own date,
 *   required, no later than its journal time plus MS_TIME_SKEW_MS and no
 *   earlier than the departure. L3 is judged on the departure itself
 *   (fixed_place, expected_months against mobile.fixed_place_months in
 *   force at that event). Lost contact and L4 are deadlines crossed at
 *   Ticks, by the Tick's journal time, over the business dates stored: the
 *   last contact plus mobile.lost_contact_months as set at that Tick (a
 *   RulesChanged takes effect at the next Tick, for every episode), and the
 *   latest of departure, review and previous finding plus 12 months.
 * - Contacts: the departure and a report count as contacts, a certificate
 *   review does not; last_contact_at only moves forward. Any contact leaves
 *   LOST_CONTACT, even one dated long ago (an import of old paper records):
 *   the next Tick re-enters LOST_CONTACT if the latest contact is still
 *   older than the threshold, which is then the record's true state.
 * - A host named at departure is only expected (expected_host_org_id): the
 *   member is hosted (host_org_id, the hosted index, M1) once reported. A
 *   later report while the episode is open moves the member to the new
 *   host; the latest report is the episode's, whatever its date.
 * - 双向管理: membership stays with the home org and the host org only
 *   assists, so no step moves the member's home org or roster, and no org
 *   count moves. R3 is checked at departure; a member suspended while away
 *   keeps the episode until it is closed.
 * - L4 is an audit entry under the home org, written once per 12 months
 *   without a review; it changes no state.
 * - A return leaves lost_contact_since as it was: it says when a member who
 *   came back out of LOST_CONTACT was lost.
 */
#include "mobility.h"

#include "members.h"
#include "orgs.h"

#include <stdio.h>
#include <string.h>

#define L4_REVIEW_MONTHS 12   /* the annual review of the certificate */

/* ---------------------------------------------------------- field checks */

/* A county-level area code: exactly 6 ASCII digits, nothing finer. */
static bool
s_county_code(const char *s)
{
	for (int i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[6] == '\0';
}

/* A free-text field of at most max bytes. */
static int
s_text(const char *s, size_t max, const char *zh, const char *field,
    const char *id, struct verdict *v)
{
	if (strlen(s) > max)
		return verdict_reject(v, "BAD_FIELD", "%s超过%zu字节 / %s is longer than "
		    "%zu bytes: %s", zh, max, field, max, id);
	return 0;
}

/* A step's own date: required, not in the future, not before departure. */
static int
s_step_time(const struct event_ctx *ev, const struct episode_rec *e, int64_t t,
    const char *zh, const char *field, struct verdict *v)
{
	if (records_time_check(ev, t, true, zh, field, e->flow_id, v) || !v->accepted)
		return 0;
	if (t < e->departed_at)
		return verdict_reject(v, "BAD_FIELD", "%s早于外出时间 / %s is before "
		    "departed_at: %s", zh, field, e->flow_id);
	return 0;
}

/* ---------------------------------------------------------- episodes */

/* L2: the event's episode exists (UNKNOWN_FLOW) and is open. */
static int
s_open_episode(struct membership *m, MDB_txn *txn, const char *flow_id,
    struct episode_rec *e, struct verdict *v)
{
	int rc = records_episode_load(m, txn, flow_id, e);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_FLOW", "流动记录不存在 / unknown "
		    "mobile episode: %s", flow_id ? flow_id : "");
	if (rc)
		return rc;
	if (!records_episode_open(e->state))
		return verdict_reject(v, "L2", "流动记录已结束 / the mobile episode "
		    "is closed: %s", flow_id);
	return 0;
}

/* The steps the home org takes are sent by the home township. */
static int
s_home_township(const struct event_ctx *ev, const struct episode_rec *e,
    struct verdict *v)
{
	if (strcmp(records_ev_township(ev), e->home_township_id) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP", "由流出地乡镇办理 / the home "
		    "township %s handles mobile episode %s", e->home_township_id,
		    e->flow_id);
	return 0;
}

/* An open episode of the event, sent by its home township. */
static int
s_home_step(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const char *flow_id, struct episode_rec *e, struct verdict *v)
{
	int rc = s_open_episode(m, txn, flow_id, e, v);
	if (rc || !v->accepted)
		return rc;
	return s_home_township(ev, e, v);
}

/* The member follows its episode e, just stored: mobility state, flow_id
 * and host org (the episode's in-county host while open), then the change
 * log. */
static int
s_member_follow(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct episode_rec *e)
{
	struct member_rec r, before;
	int rc = records_member_load(m, txn, e->member_id, &r);

	if (rc == MDB_NOTFOUND)
		return MDB_CORRUPTED;   /* an episode outlives no member */
	if (rc)
		return rc;
	before = r;
	r.mobility_state = e->state;
	snprintf(r.flow_id, sizeof r.flow_id, "%s", e->flow_id);
	snprintf(r.host_org_id, sizeof r.host_org_id, "%s",
	    records_episode_open(e->state) ? e->host_org_id : "");
	r.last_seq = ev->seq;
	if ((rc = records_member_store(m, txn, &r)))
		return rc;
	return records_change_log(m, txn, ev, &before, &r, e);
}

/* Store e over before and move the member with it. */
static int
s_episode_move(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct episode_rec *before, const struct episode_rec *e)
{
	int rc = records_episode_store(m, txn, before, e);
	if (rc)
		return rc;
	return s_member_follow(m, txn, ev, e);
}

/* ---------------------------------------------------------- departure */

/* L1 and R3: the member may start an episode. */
static int
s_may_depart(const struct member_rec *r, struct verdict *v)
{
	if (members_require_normal(r, "外出流动", "go mobile", v) || !v->accepted)
		return 0;
	if (records_episode_open(r->mobility_state))
		return verdict_reject(v, "L1", "党员已在外出流动中 / member is already "
		    "away on mobile episode %s: %s", r->flow_id, r->member_id);
	if (r->transfer_state == JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED)
		return verdict_reject(v, "L1", "党员组织关系正在转接 / member is in "
		    "transfer %s: %s", r->transfer_id, r->member_id);
	return 0;
}

/* The departure's own fields, into e. */
static int
s_departure_fields(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__MobileDeparted *d, const struct member_rec *r,
    struct episode_rec *e, struct verdict *v)
{
	struct org_rec host;
	int rc;

	if (!s_county_code(d->destination_code))
		return verdict_reject(v, "BAD_FIELD", "流入地须为6位县级区划代码 / "
		    "destination_code must be a 6-digit county-level area code: %s",
		    d->flow_id);
	if (*d->host_org_id &&
	    ((rc = orgs_require(m, txn, ev, d->host_org_id, MS_ROLE_HOST,
	    MS_LIVE | MS_ANY_TOWNSHIP, &host, v)) || !v->accepted))
		return rc;
	if (strcmp(d->host_org_id, r->home_org_id) == 0)
		return verdict_reject(v, "BAD_FIELD", "流入地党组织不能是所在党组织 / "
		    "the host org cannot be the home org: %s", d->host_org_id);
	if (s_text(d->reason, CODEC_MAX_TEXT, "外出原因", "reason", d->flow_id, v) ||
	    !v->accepted ||
	    s_text(d->certificate_no, CODEC_MAX_ID, "活动证号", "certificate_no",
	    d->flow_id, v) || !v->accepted ||
	    records_time_check(ev, d->departed_at, true, "外出时间", "departed_at",
	    d->flow_id, v) || !v->accepted)
		return 0;
	memset(e, 0, sizeof *e);
	snprintf(e->flow_id, sizeof e->flow_id, "%s", d->flow_id);
	snprintf(e->member_id, sizeof e->member_id, "%s", r->member_id);
	e->state = JICENG__V1__MOBILITY_STATE__AWAITING_REPORT;
	snprintf(e->home_org_id, sizeof e->home_org_id, "%s", r->home_org_id);
	snprintf(e->home_township_id, sizeof e->home_township_id, "%s", r->township_id);
	snprintf(e->destination_code, sizeof e->destination_code, "%s", d->destination_code);
	snprintf(e->expected_host_org_id, sizeof e->expected_host_org_id, "%s", d->host_org_id);
	snprintf(e->reason, sizeof e->reason, "%s", d->reason);
	e->expected_months = d->expected_months;
	snprintf(e->certificate_no, sizeof e->certificate_no, "%s", d->certificate_no);
	e->fixed_place = d->fixed_place;
	e->departed_at = d->departed_at;
	e->last_contact_at = d->departed_at;
	e->opened_seq = e->last_seq = ev->seq;
	return 0;
}

/* L3: a long stay at a fixed place calls for a transfer instead. */
static void
s_l3(const struct event_ctx *ev, const struct episode_rec *e, struct verdict *v)
{
	Rules buf;
	uint32_t months = records_ev_rules(ev, &buf)->mobile_fixed_place_months;

	if (e->fixed_place && e->expected_months >= months)
		verdict_warn(v, "L3", "在固定地点外出%u个月（不少于%u个月），应转接组织"
		    "关系 / expected %u months at a fixed place (%u or more): "
		    "transfer the relationship instead: %s", e->expected_months,
		    months, e->expected_months, months, e->member_id);
}

int
membership_apply_mobile_departed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MobileDeparted *d = ev->env->mobile_departed;
	struct member_rec r;
	struct episode_rec e;
	int rc;

	if (!codec_id_valid(d->flow_id))
		return verdict_reject(v, "BAD_FIELD", "flow_id 须为1-64字节的[A-Za-z0-9._:-] / "
		    "flow_id must be 1-64 bytes of [A-Za-z0-9._:-]");
	rc = records_episode_load(m, txn, d->flow_id, &e);
	if (rc == 0)
		return verdict_reject(v, "FLOW_EXISTS", "流动记录已存在 / mobile episode "
		    "already exists: %s", d->flow_id);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = members_require(m, txn, ev, d->member_id, &r, v)) || !v->accepted ||
	    (rc = s_may_depart(&r, v)) || !v->accepted ||
	    (rc = s_departure_fields(m, txn, ev, d, &r, &e, v)) || !v->accepted)
		return rc;
	s_l3(ev, &e, v);
	return s_episode_move(m, txn, ev, NULL, &e);
}

/* ---------------------------------------------------------- report */

/* Who reports, and to whom: an in-county host's own township, or the home
 * township for a host outside the county. Fills e's host. */
static int
s_report_host(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__MobileReported *p, struct episode_rec *e,
    struct verdict *v)
{
	struct org_rec host;
	int rc;

	if (!*p->host_org_id == !*p->host_org_name)
		return verdict_reject(v, "BAD_FIELD", "须且只能指定本县流入地党组织或县外"
		    "党组织名称之一 / exactly one of host_org_id (in the county) or "
		    "host_org_name (outside it) is required: %s", e->flow_id);
	if (*p->host_org_name) {
		if ((rc = s_text(p->host_org_name, CODEC_MAX_TEXT, "流入地党组织名称",
		    "host_org_name", e->flow_id, v)) || !v->accepted ||
		    (rc = s_home_township(ev, e, v)) || !v->accepted)
			return rc;
		e->host_org_id[0] = e->host_township_id[0] = '\0';
		snprintf(e->host_org_name, sizeof e->host_org_name, "%s", p->host_org_name);
		return 0;
	}
	if ((rc = orgs_require(m, txn, ev, p->host_org_id, MS_ROLE_HOST,
	    MS_LIVE | MS_ANY_TOWNSHIP, &host, v)) || !v->accepted)
		return rc;
	if (strcmp(p->host_org_id, e->home_org_id) == 0)
		return verdict_reject(v, "BAD_FIELD", "流入地党组织不能是所在党组织 / "
		    "the host org cannot be the home org: %s", p->host_org_id);
	if (strcmp(records_ev_township(ev), host.township_id) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP", "由流入地乡镇报到 / the host "
		    "org's township %s reports the member to host %s: %s",
		    host.township_id, p->host_org_id, e->flow_id);
	snprintf(e->host_org_id, sizeof e->host_org_id, "%s", p->host_org_id);
	snprintf(e->host_township_id, sizeof e->host_township_id, "%s", host.township_id);
	e->host_org_name[0] = '\0';
	return 0;
}

int
membership_apply_mobile_reported(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MobileReported *p = ev->env->mobile_reported;
	struct episode_rec e, before;
	int rc = s_open_episode(m, txn, p->flow_id, &e, v);

	if (rc || !v->accepted)
		return rc;
	before = e;
	if ((rc = s_report_host(m, txn, ev, p, &e, v)) || !v->accepted ||
	    (rc = s_step_time(ev, &e, p->reported_at, "报到时间", "reported_at", v)) ||
	    !v->accepted)
		return rc;
	e.state = JICENG__V1__MOBILITY_STATE__REPORTED;
	e.reported_at = p->reported_at;
	if (p->reported_at > e.last_contact_at)
		e.last_contact_at = p->reported_at;
	e.lost_contact_since = 0;
	e.last_seq = ev->seq;
	return s_episode_move(m, txn, ev, &before, &e);
}

/* ---------------------------------------------------------- home-org steps */

int
membership_apply_mobile_contacted(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MobileContacted *c = ev->env->mobile_contacted;
	struct episode_rec e, before;
	int rc = s_home_step(m, txn, ev, c->flow_id, &e, v);

	if (rc || !v->accepted ||
	    (rc = s_step_time(ev, &e, c->contacted_at, "联系时间", "contacted_at", v)) ||
	    !v->accepted ||
	    (rc = s_text(c->channel, CODEC_MAX_TEXT, "联系方式", "channel", e.flow_id, v)) ||
	    !v->accepted)
		return rc;
	before = e;
	if (c->contacted_at > e.last_contact_at)
		e.last_contact_at = c->contacted_at;
	e.last_seq = ev->seq;
	if (e.state != JICENG__V1__MOBILITY_STATE__LOST_CONTACT)
		return records_episode_store(m, txn, &before, &e);
	e.state = e.reported_at ? JICENG__V1__MOBILITY_STATE__REPORTED :
	    JICENG__V1__MOBILITY_STATE__AWAITING_REPORT;
	e.lost_contact_since = 0;
	return s_episode_move(m, txn, ev, &before, &e);
}

int
membership_apply_certificate_reviewed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__CertificateReviewed *c = ev->env->certificate_reviewed;
	struct episode_rec e, before;
	int rc = s_home_step(m, txn, ev, c->flow_id, &e, v);

	if (rc || !v->accepted ||
	    (rc = s_step_time(ev, &e, c->reviewed_at, "年审时间", "reviewed_at", v)) ||
	    !v->accepted ||
	    (rc = s_text(c->certificate_no, CODEC_MAX_ID, "活动证号", "certificate_no",
	    e.flow_id, v)) || !v->accepted)
		return rc;
	before = e;
	if (*c->certificate_no)
		snprintf(e.certificate_no, sizeof e.certificate_no, "%s", c->certificate_no);
	if (c->reviewed_at > e.certificate_reviewed_at)
		e.certificate_reviewed_at = c->reviewed_at;
	e.last_seq = ev->seq;
	return records_episode_store(m, txn, &before, &e);
}

int
membership_apply_mobile_returned(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MobileReturned *r = ev->env->mobile_returned;
	struct episode_rec e, before;
	int rc = s_home_step(m, txn, ev, r->flow_id, &e, v);

	if (rc || !v->accepted ||
	    (rc = s_step_time(ev, &e, r->returned_at, "返回时间", "returned_at", v)) ||
	    !v->accepted)
		return rc;
	before = e;
	e.state = JICENG__V1__MOBILITY_STATE__RETURNED;
	e.returned_at = r->returned_at;
	e.last_seq = ev->seq;
	return s_episode_move(m, txn, ev, &before, &e);
}

/* ---------------------------------------------------------- Tick duties */

struct ms_tick {
	struct membership *m;
	MDB_txn *txn;
	const struct event_ctx *ev;
	int months;          /* the deadline after the indexed time */
};

static bool
s_tick_due(void *arg, int64_t t)
{
	const struct ms_tick *k = arg;
	return civil_add_months(t, k->months) <= k->ev->received_at;
}

/* Load an episode an index names: it must be there. */
static int
s_indexed_episode(const struct ms_tick *k, const char *flow_id, struct episode_rec *e)
{
	int rc = records_episode_load(k->m, k->txn, flow_id, e);
	return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

static int
s_lose_contact(void *arg, const char *flow_id)
{
	const struct ms_tick *k = arg;
	struct episode_rec e, before;
	int rc = s_indexed_episode(k, flow_id, &e);

	if (rc)
		return rc;
	if (!records_episode_open(e.state) ||
	    e.state == JICENG__V1__MOBILITY_STATE__LOST_CONTACT)
		return MDB_CORRUPTED;   /* the contact index holds neither */
	before = e;
	e.state = JICENG__V1__MOBILITY_STATE__LOST_CONTACT;
	e.lost_contact_since = k->ev->received_at;
	e.last_seq = k->ev->seq;
	return s_episode_move(k->m, k->txn, k->ev, &before, &e);
}

int
mobility_lost_contact(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	Rules buf;
	struct ms_tick k = { m, txn, ev,
	    (int)records_ev_rules(ev, &buf)->mobile_lost_contact_months };
	return records_due_each(txn, m->ep_contact, s_tick_due, s_lose_contact, &k);
}

static int
s_review_finding(void *arg, const char *flow_id)
{
	const struct ms_tick *k = arg;
	struct episode_rec e, before;
	char text[MS_AUDIT_TEXT_MAX + 1];
	int rc = s_indexed_episode(k, flow_id, &e);

	if (rc)
		return rc;
	snprintf(text, sizeof text, "流动党员活动证超过12个月未年审 / mobile-member "
	    "certificate not reviewed for 12 months: %s", e.flow_id);
	if ((rc = records_audit_add(k->m, k->txn, k->ev->seq, e.home_org_id, "L4", text)))
		return rc;
	before = e;
	e.review_overdue_at = k->ev->received_at;
	e.last_seq = k->ev->seq;
	return records_episode_store(k->m, k->txn, &before, &e);
}

int
mobility_review_audit(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	struct ms_tick k = { m, txn, ev, L4_REVIEW_MONTHS };
	return records_due_each(txn, m->ep_review, s_tick_due, s_review_finding, &k);
}
