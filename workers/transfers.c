/*
 * transfers: organisational-relationship transfers (组织关系转接), the
 * events TransferIssued, TransferReceived, TransferReceiptReturned,
 * TransferRejected and TransferRevoked, the rules T1-T8 (DOMAIN.md) and
 * the T8 expiry at Tick. It owns the transfer records (through the record
 * layer) and the member's transfer state and transfer_id; the member's
 * move between orgs, its registration when it comes from outside the
 * county and its leaving the county are members.c's (members_move,
 * members_register, members_leave_county), the org checks and counts
 * orgs.c's. A letter issued for a member away on a mobile episode closes
 * the episode here, through the record layer. Every change of a member's
 * transfer state, home org or township goes to the change log.
 *
 * Choices the rules leave open:
 * - Who sends each step: the sending township issues and revokes; the
 *   receiving township receives, rejects and returns the receipt. For a
 *   letter to an org outside the county the sending township records, on
 *   the outside org's behalf, its rejection and the receipt that comes
 *   back (no township of the county receives such a letter: T7). A
 *   transfer into the county from outside starts at TransferReceived with
 *   from_external, sent by the receiving township; the member is
 *   registered then with every check of MemberRegistered (R1, R2, R4,
 *   O5), and its receipt is returned by the same township.
 * - Dates: the dates an event carries (issued_at, received_at,
 *   returned_at, rejected_at, revoked_at) are required, no later than the
 *   journal time plus MS_TIME_SKEW_MS (FUTURE_TIME) and no earlier than
 *   the step before them (BAD_FIELD). T3, T4 and T6 compare these business
 *   dates, in days of 24 hours: valid_until = issued_at + valid_days days,
 *   and a receipt dated after it is refused T3 whenever it is journaled.
 *   T8 alone is crossed by journal time: at the first Tick whose journal
 *   time is past valid_until.
 * - A late report of a timely receipt: a letter the Tick has EXPIRED is
 *   still received when the receipt date is within its validity and the
 *   member is still on it (its latest transfer, in the sending org): the
 *   member was received in time and the receiving township reported it
 *   after the Tick. Any other state than ISSUED or EXPIRED is BAD_STATE.
 * - The receipt of a letter to outside the county is recorded only while
 *   the letter is ISSUED: once a Tick has expired it, the sender issues a
 *   new letter (nothing says when the outside org received the member, so
 *   the late-report exception above cannot be judged).
 * - The letter_no of an in-county TransferReceived is not compared with
 *   the letter's; to_org_id, when given, must be the letter's (BAD_FIELD).
 * - The township is checked before the state: a step by the wrong side is
 *   T7 whatever the letter's state, so no township learns the state of
 *   another's letter from a refusal.
 * - R3 here: only a NORMAL member is issued a letter or received by one (a
 *   member suspended while its letter is out is refused at receipt).
 * - T2 "one open transfer": a member whose latest letter is ISSUED gets no
 *   other; one whose letter was RECEIVED (already moved) may be
 *   transferred on. T5 warns too when the dues month is not given.
 * - A letter closes a mobile episode for good: revoked, rejected or
 *   expired, it does not reopen it (a new MobileDeparted does).
 * - An expired, rejected or revoked letter leaves the member where it
 *   always was, on the sending org's roster: only its transfer state says
 *   so.
 */
#include "transfers.h"

#include "members.h"
#include "orgs.h"

#include <stdio.h>
#include <string.h>

#define T6_MIN_DAYS 90   /* T6: admitted this many days before the issue date */

#define ST_ISSUED    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED
#define ST_RECEIVED  JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED
#define ST_RETURNED  JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIPT_RETURNED
#define ST_REJECTED  JICENG__V1__TRANSFER_STATE__TRANSFER_REJECTED
#define ST_REVOKED   JICENG__V1__TRANSFER_STATE__TRANSFER_REVOKED
#define ST_EXPIRED   JICENG__V1__TRANSFER_STATE__TRANSFER_EXPIRED

/* ---------------------------------------------------------- states */

static const struct {
	const char *zh, *en;
} s_states[] = {
	[JICENG__V1__TRANSFER_STATE__TRANSFER_STATE_NONE] = { "未开具", "NONE" },
	[ST_ISSUED] = { "已开具", "ISSUED" },
	[ST_RECEIVED] = { "已接收", "RECEIVED" },
	[ST_RETURNED] = { "回执已返回", "RECEIPT_RETURNED" },
	[ST_REJECTED] = { "已拒收", "REJECTED" },
	[ST_REVOKED] = { "已撤销", "REVOKED" },
	[ST_EXPIRED] = { "已过期", "EXPIRED" },
};

static int
s_state(int state)
{
	return state >= ST_ISSUED && state <= ST_EXPIRED ? state : 0;
}

/* The transfer is not in the state `want` the step (zh, en: "接收",
 * "to be received") needs: code (BAD_STATE, or T7 for revoking). */
static int
s_bad_state(struct verdict *v, const char *code, const struct transfer_rec *t,
    int want, const char *zh, const char *en)
{
	return verdict_reject(v, code, "转接%s，须处于%s状态才能%s / the transfer is %s; "
	    "it must be %s %s: %s", s_states[s_state(t->state)].zh,
	    s_states[want].zh, zh, s_states[s_state(t->state)].en, s_states[want].en,
	    en, t->transfer_id);
}

/* ---------------------------------------------------------- field checks */

/* The id of a new transfer: given and unused. */
static int
s_new_transfer(struct membership *m, MDB_txn *txn, const char *id, struct verdict *v)
{
	struct transfer_rec t;
	int rc;

	if (!*id)
		return verdict_reject(v, "BAD_FIELD", "须提供转接编号 / transfer_id is required");
	rc = records_transfer_load(m, txn, id, &t);
	if (rc == 0)
		return verdict_reject(v, "TRANSFER_EXISTS", "转接已存在 / transfer already "
		    "exists: %s", id);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* An existing transfer (a step before the letter is UNKNOWN_TRANSFER). */
static int
s_find(struct membership *m, MDB_txn *txn, const char *id, struct transfer_rec *t,
    struct verdict *v)
{
	int rc = records_transfer_load(m, txn, id, t);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_TRANSFER", "转接不存在 / unknown transfer: %s", id);
	return rc;
}

static int
s_letter_no(const char *letter_no, const char *id, struct verdict *v)
{
	if (strlen(letter_no) > CODEC_MAX_ID)
		return verdict_reject(v, "BAD_FIELD", "介绍信编号超过64字节 / letter_no is "
		    "longer than 64 bytes: %s", id);
	return 0;
}

static int
s_reason(const char *reason, const char *id, struct verdict *v)
{
	if (strlen(reason) > CODEC_MAX_TEXT)
		return verdict_reject(v, "BAD_FIELD", "原因超过256字节 / reason is longer than "
		    "256 bytes: %s", id);
	return 0;
}

/* An org outside the county (field: "to_external"): a 6- or 12-digit area
 * code and a name, copied into *x. */
static int
s_external(const Jiceng__V1__ExternalOrg *e, const char *field, const char *id,
    struct external_org *x, struct verdict *v)
{
	size_t n = strlen(e->area_code), name = strlen(e->org_name);

	if ((n != 6 && n != 12) || strspn(e->area_code, "0123456789") != n)
		return verdict_reject(v, "BAD_FIELD", "县外党组织的区划代码须为6或12位数字 / "
		    "%s.area_code must be 6 or 12 digits: %s", field, id);
	if (name == 0 || name > CODEC_MAX_TEXT)
		return verdict_reject(v, "BAD_FIELD", "须提供县外党组织名称 / %s.org_name is "
		    "required, at most 256 bytes: %s", field, id);
	snprintf(x->area_code, sizeof x->area_code, "%s", e->area_code);
	snprintf(x->org_name, sizeof x->org_name, "%s", e->org_name);
	return 0;
}

/* A step's date (zh, field): required, not in the future, not before the
 * date of the step it follows (after, after_field; 0: none). */
static int
s_step_date(const struct event_ctx *ev, int64_t at, const char *zh, const char *field,
    int64_t after, const char *after_field, const char *id, struct verdict *v)
{
	if (records_time_check(ev, at, true, zh, field, id, v) || !v->accepted)
		return 0;
	if (after && at < after)
		return verdict_reject(v, "BAD_FIELD", "%s早于上一步骤的日期 / %s is before %s: %s",
		    zh, field, after_field, id);
	return 0;
}

static bool
s_township_is(const struct event_ctx *ev, const char *township)
{
	return *township && strcmp(township, records_ev_township(ev)) == 0;
}

static bool
s_outside(const struct external_org *x)
{
	return x->area_code[0] != '\0';
}

/* ---------------------------------------------------------- members */

/* The member of a transfer: it exists as long as its transfer does. */
static int
s_member(struct membership *m, MDB_txn *txn, const struct transfer_rec *t,
    struct member_rec *r)
{
	int rc = records_member_load(m, txn, t->member_id, r);
	return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* Is the member where letter t left it: on t (its latest transfer), in
 * the sending org, in the county? */
static bool
s_member_on(const struct member_rec *r, const struct transfer_rec *t)
{
	return strcmp(r->transfer_id, t->transfer_id) == 0 &&
	    strcmp(r->home_org_id, t->from_org_id) == 0 && !r->transferred_out;
}

/* Store a member and log its change (before NULL: a new member). */
static int
s_member_store(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct member_rec *before, const struct member_rec *r,
    const struct episode_rec *ep)
{
	int rc = records_member_store(m, txn, r);
	return rc ? rc : records_change_log(m, txn, ev, before, r, ep);
}

/* The member's transfer state follows its latest transfer t into state. */
static int
s_member_follow(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct transfer_rec *t, int state)
{
	struct member_rec r, before;
	int rc = s_member(m, txn, t, &r);

	if (rc || strcmp(r.transfer_id, t->transfer_id) != 0)
		return rc;
	before = r;
	r.transfer_state = state;
	r.last_seq = ev->seq;
	return s_member_store(m, txn, ev, &before, &r, NULL);
}

/* Store transfer t, changed from before, in its new state. */
static int
s_step(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct transfer_rec *before, struct transfer_rec *t, int state)
{
	t->state = state;
	t->last_seq = ev->seq;
	return records_transfer_store(m, txn, before, t);
}

/* ---------------------------------------------------------- TransferIssued */

/* T2: no other letter open; the letter leaves from the member's home org. */
static int
s_t2(const struct member_rec *r, const Jiceng__V1__TransferIssued *e, struct verdict *v)
{
	if (r->transfer_state == ST_ISSUED)
		return verdict_reject(v, "T2", "党员已有未办结的转接%s / the member already has "
		    "an open transfer %s: %s", r->transfer_id, r->transfer_id, r->member_id);
	if (strcmp(e->from_org_id, r->home_org_id) != 0)
		return verdict_reject(v, "T2", "转出党组织须为党员所在党组织%s / the sending org "
		    "must be the member's home org %s: %s", r->home_org_id, r->home_org_id,
		    r->member_id);
	return 0;
}

/* The letter's target: a live org of the county other than the sending
 * org that may hold members (O6, O5), or an org outside the county. */
static int
s_target(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferIssued *e, struct transfer_rec *t, struct verdict *v)
{
	struct org_rec to;
	int rc;

	if (e->to_case == JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL && e->to_external)
		return s_external(e->to_external, "to_external", e->transfer_id,
		    &t->to_external, v);
	if (e->to_case != JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID || !*e->to_org_id)
		return verdict_reject(v, "BAD_FIELD", "须指定接收党组织 / to_org_id or "
		    "to_external is required: %s", e->transfer_id);
	if ((rc = orgs_require(m, txn, ev, e->to_org_id, MS_ROLE_TO,
	    MS_LIVE | MS_ANY_TOWNSHIP, &to, v)) || !v->accepted)
		return rc;
	if (strcmp(e->to_org_id, e->from_org_id) == 0)
		return verdict_reject(v, "BAD_FIELD", "接收党组织不能是转出党组织 / the "
		    "receiving org cannot be the sending org: %s", e->transfer_id);
	if ((rc = orgs_o5_home(m, txn, &to, v)) || !v->accepted)
		return rc;
	snprintf(t->to_org_id, sizeof t->to_org_id, "%s", to.org_id);
	snprintf(t->to_township_id, sizeof t->to_township_id, "%s", to.township_id);
	return 0;
}

/* T1 and the dues month's shape. */
static int
s_validity(const Rules *rl, const Jiceng__V1__TransferIssued *e, struct verdict *v)
{
	uint32_t max = rl->transfer_max_valid_days;

	if (e->valid_days < 1 || e->valid_days > max)
		return verdict_reject(v, "T1", "介绍信有效期须为1至%u天 / validity must be 1 to "
		    "%u days, not %u: %s", max, max, e->valid_days, e->transfer_id);
	if (e->dues_paid_through && !civil_month_valid(e->dues_paid_through))
		return verdict_reject(v, "BAD_FIELD", "党费交至月份须为YYYYMM / "
		    "dues_paid_through must be a real YYYYMM month: %s", e->transfer_id);
	return 0;
}

/* Every check of a TransferIssued: the member r, the letter t filled. */
static int
s_issue_check(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferIssued *e, struct member_rec *r,
    struct transfer_rec *t, struct verdict *v)
{
	Rules buf;
	struct org_rec from;
	int rc = s_new_transfer(m, txn, e->transfer_id, v);

	if (rc || !v->accepted ||
	    (rc = members_require(m, txn, ev, e->member_id, r, v)) || !v->accepted ||
	    (rc = members_require_normal(r, "转接", "transferred", v)) || !v->accepted ||
	    (rc = s_t2(r, e, v)) || !v->accepted ||
	    (rc = orgs_require(m, txn, ev, e->from_org_id, MS_ROLE_FROM, MS_LIVE, &from,
	    v)) || !v->accepted)
		return rc;
	memset(t, 0, sizeof *t);
	if ((rc = s_target(m, txn, ev, e, t, v)) || !v->accepted ||
	    (rc = s_step_date(ev, e->issued_at, "开具时间", "issued_at", 0, "",
	    e->transfer_id, v)) || !v->accepted ||
	    (rc = s_validity(records_ev_rules(ev, &buf), e, v)) || !v->accepted ||
	    (rc = s_letter_no(e->letter_no, e->transfer_id, v)) || !v->accepted)
		return rc;
	snprintf(t->transfer_id, sizeof t->transfer_id, "%s", e->transfer_id);
	snprintf(t->member_id, sizeof t->member_id, "%s", r->member_id);
	snprintf(t->from_org_id, sizeof t->from_org_id, "%s", from.org_id);
	snprintf(t->from_township_id, sizeof t->from_township_id, "%s",
	    records_ev_township(ev));
	snprintf(t->letter_no, sizeof t->letter_no, "%s", e->letter_no);
	t->state = ST_ISSUED;
	t->issued_at = e->issued_at;
	t->valid_days = e->valid_days;
	t->valid_until = e->issued_at + (int64_t)e->valid_days * CIVIL_DAY_MS;
	t->dues_paid_through = e->dues_paid_through;
	t->opened_seq = t->last_seq = ev->seq;
	return 0;
}

/* T5 and T6, warnings on an accepted letter. */
static void
s_issue_warnings(const struct member_rec *r, const Jiceng__V1__TransferIssued *e,
    struct verdict *v)
{
	int issue_month = civil_cst_month(e->issued_at);

	if (!e->dues_paid_through)
		verdict_warn(v, "T5", "介绍信未注明党费交至月份 / the letter does not state "
		    "the month dues are paid through: %s", e->transfer_id);
	else if (civil_month_diff(e->dues_paid_through, issue_month) > 1)
		verdict_warn(v, "T5", "党费只交至%d，早于开具前一个月 / dues paid through %d "
		    "only, before the month before issue (%d): %s", e->dues_paid_through,
		    e->dues_paid_through, issue_month, e->transfer_id);
	if (r->category == JICENG__V1__MEMBER_CATEGORY__PROBATIONARY &&
	    r->admitted_at > e->issued_at - T6_MIN_DAYS * CIVIL_DAY_MS)
		verdict_warn(v, "T6", "预备党员入党不满%d天即转出 / a probationary member "
		    "admitted less than %d days before the issue date: %s", T6_MIN_DAYS,
		    T6_MIN_DAYS, r->member_id);
}

/* A member away on an open mobile episode: the letter closes it. */
static int
s_close_episode(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    struct member_rec *r, struct transfer_rec *t, struct episode_rec *ep,
    bool *closed)
{
	struct episode_rec before;
	int rc;

	*closed = false;
	if (!records_episode_open(r->mobility_state) || !r->flow_id[0])
		return 0;
	if ((rc = records_episode_load(m, txn, r->flow_id, ep)))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	before = *ep;
	ep->state = JICENG__V1__MOBILITY_STATE__TRANSFERRED;
	snprintf(ep->closed_by_transfer_id, sizeof ep->closed_by_transfer_id, "%s",
	    t->transfer_id);
	ep->last_seq = ev->seq;
	if ((rc = records_episode_store(m, txn, &before, ep)))
		return rc;
	r->mobility_state = JICENG__V1__MOBILITY_STATE__TRANSFERRED;
	r->host_org_id[0] = '\0';
	snprintf(t->closed_flow_id, sizeof t->closed_flow_id, "%s", r->flow_id);
	*closed = true;
	return 0;
}

int
membership_apply_transfer_issued(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__TransferIssued *e = ev->env->transfer_issued;
	struct member_rec r, before;
	struct transfer_rec t;
	struct episode_rec ep;
	bool closed;
	int rc = s_issue_check(m, txn, ev, e, &r, &t, v);

	if (rc || !v->accepted)
		return rc;
	s_issue_warnings(&r, e, v);
	before = r;
	if ((rc = s_close_episode(m, txn, ev, &r, &t, &ep, &closed)) ||
	    (rc = records_transfer_store(m, txn, NULL, &t)))
		return rc;
	r.transfer_state = ST_ISSUED;
	snprintf(r.transfer_id, sizeof r.transfer_id, "%s", t.transfer_id);
	r.last_seq = ev->seq;
	return s_member_store(m, txn, ev, &before, &r, closed ? &ep : NULL);
}

/* ---------------------------------------------------------- TransferReceived */

/* The fields a transfer into the county needs besides the member's record. */
static int
s_inbound_check(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferReceived *e, struct transfer_rec *t, struct verdict *v)
{
	const char *id = e->transfer_id;
	int rc = s_new_transfer(m, txn, id, v);

	memset(t, 0, sizeof *t);
	if (rc || !v->accepted ||
	    (rc = s_external(e->from_external, "from_external", id, &t->from_external,
	    v)) || !v->accepted)
		return rc;
	if (!*e->to_org_id)
		return verdict_reject(v, "BAD_FIELD", "须指定接收党组织 / to_org_id is "
		    "required: %s", id);
	if (!*e->member_id || !e->member)
		return verdict_reject(v, "BAD_FIELD", "从县外转入须提供member_id和member / "
		    "member_id and member are required with from_external: %s", id);
	if (strcmp(e->member->member_id, e->member_id) != 0)
		return verdict_reject(v, "BAD_FIELD", "member.member_id与member_id不符 / "
		    "member.member_id must equal member_id: %s", id);
	if (*e->member->home_org_id && strcmp(e->member->home_org_id, e->to_org_id) != 0)
		return verdict_reject(v, "BAD_FIELD", "member.home_org_id须为空或等于"
		    "to_org_id / member.home_org_id must be empty or to_org_id: %s", id);
	if ((rc = s_step_date(ev, e->received_at, "接收时间", "received_at", 0, "", id,
	    v)) || !v->accepted)
		return rc;
	return s_letter_no(e->letter_no, id, v);
}

/* A transfer into the county from outside: the member is registered in
 * to_org_id with every check of MemberRegistered, in state RECEIVED. */
static int
s_received_inbound(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferReceived *e, struct verdict *v)
{
	Jiceng__V1__MemberRegistered reg;
	struct transfer_rec t;
	struct member_rec r;
	int rc = s_inbound_check(m, txn, ev, e, &t, v);

	if (rc || !v->accepted)
		return rc;
	reg = *e->member;
	reg.home_org_id = e->to_org_id;
	if ((rc = members_register(m, txn, ev, &reg, &r, v)) || !v->accepted)
		return rc;
	snprintf(t.transfer_id, sizeof t.transfer_id, "%s", e->transfer_id);
	snprintf(t.member_id, sizeof t.member_id, "%s", r.member_id);
	snprintf(t.to_org_id, sizeof t.to_org_id, "%s", r.home_org_id);
	snprintf(t.to_township_id, sizeof t.to_township_id, "%s", r.township_id);
	snprintf(t.letter_no, sizeof t.letter_no, "%s", e->letter_no);
	t.state = ST_RECEIVED;
	t.received_at = e->received_at;
	t.opened_seq = t.last_seq = ev->seq;
	if ((rc = records_transfer_store(m, txn, NULL, &t)))
		return rc;
	r.transfer_state = ST_RECEIVED;
	snprintf(r.transfer_id, sizeof r.transfer_id, "%s", t.transfer_id);
	r.last_seq = ev->seq;
	return s_member_store(m, txn, ev, NULL, &r, NULL);
}

/* T3, and the state: ISSUED, or EXPIRED reported late (atop this file). */
static int
s_receivable(const struct transfer_rec *t, int64_t received_at, struct verdict *v)
{
	int y, mo, d;

	if (t->state != ST_ISSUED && t->state != ST_EXPIRED)
		return s_bad_state(v, "BAD_STATE", t, ST_ISSUED, "接收", "to be received");
	if (received_at <= t->valid_until)
		return 0;
	civil_cst_date(t->valid_until, &y, &mo, &d);
	return verdict_reject(v, "T3", "介绍信有效期至%04d-%02d-%02d，须重新开具 / received "
	    "after the letter's validity (until %04d-%02d-%02d); the sender must issue a "
	    "new letter: %s", y, mo, d, y, mo, d, t->transfer_id);
}

/* Every check of an in-county receipt: the letter t, its member r, the
 * receiving org to. */
static int
s_receive_check(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferReceived *e, struct transfer_rec *t,
    struct member_rec *r, struct verdict *v)
{
	const char *id = e->transfer_id;
	struct org_rec to;
	int rc = s_find(m, txn, id, t, v);

	if (rc || !v->accepted)
		return rc;
	if (s_outside(&t->to_external))
		return verdict_reject(v, "T7", "转往县外的转接不由县内乡镇接收 / a transfer to "
		    "an org outside the county is received by no township of it: %s", id);
	if (!s_township_is(ev, t->to_township_id))
		return verdict_reject(v, "T7", "只有接收方乡镇可以接收 / only the receiving "
		    "township (%s) receives the transfer: %s", t->to_township_id, id);
	if (*e->to_org_id && strcmp(e->to_org_id, t->to_org_id) != 0)
		return verdict_reject(v, "BAD_FIELD", "接收党组织与介绍信不符 / to_org_id is "
		    "not the letter's receiving org %s: %s", t->to_org_id, id);
	if ((rc = s_step_date(ev, e->received_at, "接收时间", "received_at", t->issued_at,
	    "issued_at", id, v)) || !v->accepted ||
	    (rc = s_receivable(t, e->received_at, v)) || !v->accepted ||
	    (rc = s_member(m, txn, t, r)))
		return rc;
	if (r->transferred_out)
		return verdict_reject(v, "TRANSFERRED_OUT", "党员组织关系已转出本县 / member's "
		    "relationship has been transferred out of the county: %s", r->member_id);
	if (!s_member_on(r, t))
		return verdict_reject(v, "BAD_STATE", "转接%s，党员已不在此转接中 / the transfer "
		    "is %s and the member is no longer on it: %s", s_states[s_state(t->state)].zh,
		    s_states[s_state(t->state)].en, id);
	if ((rc = members_require_normal(r, "接收", "received", v)) || !v->accepted ||
	    (rc = orgs_require(m, txn, ev, t->to_org_id, MS_ROLE_TO, MS_LIVE, &to, v)) ||
	    !v->accepted)
		return rc;
	return orgs_o5_home(m, txn, &to, v);
}

int
membership_apply_transfer_received(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__TransferReceived *e = ev->env->transfer_received;
	struct transfer_rec t, before_t;
	struct member_rec r, before;
	int rc;

	if (e->from_external)
		return s_received_inbound(m, txn, ev, e, v);
	if ((rc = s_receive_check(m, txn, ev, e, &t, &r, v)) || !v->accepted)
		return rc;
	before = r;
	r.transfer_state = ST_RECEIVED;
	if ((rc = members_move(m, txn, ev, &r, t.to_org_id, t.to_township_id, v)) ||
	    (rc = records_change_log(m, txn, ev, &before, &r, NULL)))
		return rc;
	before_t = t;
	t.received_at = e->received_at;
	t.closed_at = 0;   /* a late report of an EXPIRED letter reopens it */
	return s_step(m, txn, ev, &before_t, &t, ST_RECEIVED);
}

/* ---------------------------------------------------------- TransferReceiptReturned */

/* The receipt of a letter to an org outside the county, recorded by the
 * sending township: the member leaves the county. */
static int
s_receipt_outside(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferReceiptReturned *e, struct transfer_rec *t,
    struct verdict *v)
{
	struct transfer_rec before_t = *t;
	struct member_rec r, before;
	int rc;

	if (!s_township_is(ev, t->from_township_id))
		return verdict_reject(v, "T7", "县外党组织的回执由转出方乡镇登记 / the receipt "
		    "from outside the county is recorded by the sending township (%s): %s",
		    t->from_township_id, t->transfer_id);
	if (t->state != ST_ISSUED)
		return s_bad_state(v, "BAD_STATE", t, ST_ISSUED, "登记回执",
		    "for its receipt to be recorded");
	if ((rc = s_step_date(ev, e->returned_at, "回执时间", "returned_at", t->issued_at,
	    "issued_at", t->transfer_id, v)) || !v->accepted ||
	    (rc = s_member(m, txn, t, &r)))
		return rc;
	if (!s_member_on(&r, t))
		return verdict_reject(v, "BAD_STATE", "党员已不在此转接中 / the member is no "
		    "longer on the transfer: %s", t->transfer_id);
	before = r;
	r.transfer_state = ST_RETURNED;
	if ((rc = members_leave_county(m, txn, ev, &r, v)) ||
	    (rc = records_change_log(m, txn, ev, &before, &r, NULL)))
		return rc;
	t->receipt_returned_at = e->returned_at;
	return s_step(m, txn, ev, &before_t, t, ST_RETURNED);
}

/* The receipt of a member received in the county (from inside or outside
 * it), returned by the receiving township; T4. */
static int
s_receipt_inside(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__TransferReceiptReturned *e, struct transfer_rec *t,
    struct verdict *v)
{
	struct transfer_rec before_t = *t;
	Rules buf;
	uint32_t days = records_ev_rules(ev, &buf)->transfer_receipt_days;
	int rc;

	if (!s_township_is(ev, t->to_township_id))
		return verdict_reject(v, "T7", "只有接收方乡镇可以返回回执 / only the receiving "
		    "township (%s) returns the receipt: %s", t->to_township_id, t->transfer_id);
	if (t->state != ST_RECEIVED)
		return s_bad_state(v, "BAD_STATE", t, ST_RECEIVED, "返回回执",
		    "for its receipt to be returned");
	if ((rc = s_step_date(ev, e->returned_at, "回执时间", "returned_at", t->received_at,
	    "received_at", t->transfer_id, v)) || !v->accepted)
		return rc;
	if (e->returned_at > t->received_at + (int64_t)days * CIVIL_DAY_MS)
		verdict_warn(v, "T4", "回执晚于接收党员%u天以上 / the receipt was returned more "
		    "than %u days after the member was received: %s", days, days,
		    t->transfer_id);
	t->receipt_returned_at = e->returned_at;
	if ((rc = s_step(m, txn, ev, &before_t, t, ST_RETURNED)))
		return rc;
	return s_member_follow(m, txn, ev, t, ST_RETURNED);
}

int
membership_apply_transfer_receipt_returned(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__TransferReceiptReturned *e = ev->env->transfer_receipt_returned;
	struct transfer_rec t;
	int rc = s_find(m, txn, e->transfer_id, &t, v);

	if (rc || !v->accepted)
		return rc;
	if (s_outside(&t.to_external))
		return s_receipt_outside(m, txn, ev, e, &t, v);
	return s_receipt_inside(m, txn, ev, e, &t, v);
}

/* ---------------------------------------------------------- TransferRejected */

int
membership_apply_transfer_rejected(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__TransferRejected *e = ev->env->transfer_rejected;
	const char *id = e->transfer_id;
	struct transfer_rec t, before;
	int rc = s_find(m, txn, id, &t, v);

	if (rc || !v->accepted)
		return rc;
	if (s_outside(&t.to_external) && !s_township_is(ev, t.from_township_id))
		return verdict_reject(v, "T7", "县外党组织的拒收由转出方乡镇登记 / a rejection "
		    "from outside the county is recorded by the sending township (%s): %s",
		    t.from_township_id, id);
	if (!s_outside(&t.to_external) && !s_township_is(ev, t.to_township_id))
		return verdict_reject(v, "T7", "只有接收方乡镇可以拒收 / only the receiving "
		    "township (%s) rejects the transfer: %s", t.to_township_id, id);
	if (t.state != ST_ISSUED)
		return s_bad_state(v, "BAD_STATE", &t, ST_ISSUED, "拒收", "to be rejected");
	if ((rc = s_step_date(ev, e->rejected_at, "拒收时间", "rejected_at", t.issued_at,
	    "issued_at", id, v)) || !v->accepted ||
	    (rc = s_reason(e->reason, id, v)) || !v->accepted)
		return rc;
	before = t;
	t.closed_at = e->rejected_at;
	snprintf(t.reason, sizeof t.reason, "%s", e->reason);
	if ((rc = s_step(m, txn, ev, &before, &t, ST_REJECTED)))
		return rc;
	return s_member_follow(m, txn, ev, &t, ST_REJECTED);
}

/* ---------------------------------------------------------- TransferRevoked */

int
membership_apply_transfer_revoked(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__TransferRevoked *e = ev->env->transfer_revoked;
	const char *id = e->transfer_id;
	struct transfer_rec t, before;
	int rc = s_find(m, txn, id, &t, v);

	if (rc || !v->accepted)
		return rc;
	if (!s_township_is(ev, t.from_township_id))
		return verdict_reject(v, "T7", "只有转出方乡镇可以撤销 / only the sending "
		    "township revokes the transfer: %s", id);
	if (t.state != ST_ISSUED)
		return s_bad_state(v, "T7", &t, ST_ISSUED, "撤销", "to be revoked");
	if ((rc = s_step_date(ev, e->revoked_at, "撤销时间", "revoked_at", t.issued_at,
	    "issued_at", id, v)) || !v->accepted ||
	    (rc = s_reason(e->reason, id, v)) || !v->accepted)
		return rc;
	before = t;
	t.closed_at = e->revoked_at;
	snprintf(t.reason, sizeof t.reason, "%s", e->reason);
	if ((rc = s_step(m, txn, ev, &before, &t, ST_REVOKED)))
		return rc;
	return s_member_follow(m, txn, ev, &t, ST_REVOKED);
}

/* ---------------------------------------------------------- T8 at Tick */

struct expiry {
	struct membership *m;
	MDB_txn *txn;
	const struct event_ctx *ev;
};

static bool
s_expiry_due(void *arg, int64_t valid_until)
{
	const struct expiry *x = arg;
	return valid_until < x->ev->received_at;
}

static int
s_expire(void *arg, const char *id)
{
	const struct expiry *x = arg;
	struct transfer_rec t, before;
	int rc = records_transfer_load(x->m, x->txn, id, &t);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (t.state != ST_ISSUED)
		return 0;
	before = t;
	t.closed_at = x->ev->received_at;
	if ((rc = s_step(x->m, x->txn, x->ev, &before, &t, ST_EXPIRED)))
		return rc;
	return s_member_follow(x->m, x->txn, x->ev, &t, ST_EXPIRED);
}

int
transfers_expire(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	struct expiry x = { m, txn, ev };
	return records_due_each(txn, m->tr_expiry, s_expiry_due, s_expire, &x);
}
