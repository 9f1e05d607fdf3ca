/*
 * meetings: the meetings domain's rules (DOMAIN.md M1-M5) and its two
 * events, MeetingHeld and AppraisalRecorded, as a domain module
 * (domain.h): a meeting record with its attendance and quorum marks, what
 * each attendee attended that month, and an appraisal's grades on the
 * record of the meeting that made them. It reads the membership tables of
 * the same environment (orgs, members, hosted mobile members) through the
 * record layer, and stores its own records through meetings_records.h. It
 * owns no membership state and changes none.
 *
 * Choices the rules leave open:
 * - Who sends: the org's township records its meetings and appraisals
 *   (WRONG_TOWNSHIP otherwise). An unknown org is UNKNOWN_ORG, a dissolved
 *   one ORG_DISSOLVED, whatever the meeting's date.
 * - Membership is judged where the event stands in the journal, not
 *   rebuilt for held_at: a record sent after an attendee left the org is
 *   refused (M1). The M2 and M3 figures are fixed on the record then.
 * - M1: an attendee is present as a member (home org, on its roster: not
 *   transferred out of the county), as an activity-org member, or as a
 *   mobile member the org hosts (an open episode reported to it: the
 *   member's host org); only the first votes. An id that names no member
 *   is UNKNOWN_MEMBER, a member related to the org in none of the three
 *   ways M1. R3: only a NORMAL member attends (R3 otherwise).
 * - Absentees belong to the org in one of the same three ways (M1), of
 *   any status, and are not also present (BAD_FIELD); a reason is optional.
 * - A record has one or more known types and at least one attendee; a
 *   type or a person is listed once (BAD_FIELD). Each type counts: a
 *   themed party day that is also the assembly is checked for M2 too.
 * - M2, whenever BRANCH_ASSEMBLY is among the types, of any org kind: those
 *   due are the org's FULL, NORMAL members (its roster walked once);
 *   voting members present are the attendees among them. Present <= half
 *   of due (none due included) marks the record inquorate and warns M2;
 *   the record is kept.
 * - M3, whenever BRANCH_COMMITTEE is among the types: committee_member_ids
 *   is required then (BAD_FIELD), each a member of the org (NOT_MEMBER);
 *   committee members present <= half marks committee_inquorate and warns
 *   M3. The list is kept, unchecked for M3, on other records.
 * - M5: held_at more than MS_TIME_SKEW_MS after the journal time is M5;
 *   missing, before 1900-01-01 CST or past year 9999 is BAD_FIELD.
 * - The host and the recorder are kept as given, unchecked: the host may
 *   come from above (a township or county leader). The lecturer is a name.
 * - Appraisal: AppraisalRecorded names a recorded meeting of the same org
 *   (UNKNOWN_MEETING; BAD_FIELD for another org's) that carries
 *   DEMOCRATIC_APPRAISAL (BAD_FIELD); a meeting, and an org's year, is
 *   appraised once (APPRAISAL_EXISTS), so M4 cannot be split over
 *   records. The year runs from 1900 to the meeting's own (BAD_FIELD):
 *   a year is appraised in it or after it. Those graded are members of the
 *   org (UNKNOWN_MEMBER, NOT_MEMBER; activity and hosted members are
 *   graded by their home org), NORMAL (R3) and FULL (M4), each once with a
 *   grade (BAD_FIELD); 优秀 for more than a third of those graded is M4.
 * - Attendance by month: every meeting a member was present at, in any
 *   role, under the CST month of held_at; absence is not attendance.
 */
#include "meetings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meetings_records.h"
#include "members.h"
#include "orgs.h"

#define M2_M3_SHARE 2          /* present must be more than half */
#define M4_EXCELLENT_SHARE 3   /* 优秀 for at most a third of those graded */
#define APPRAISAL_YEAR_MIN 1900

#define TYPE_BIT(t) (1u << (unsigned)(t))

#define ROLE_MEMBER   JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER
#define ROLE_ACTIVITY JICENG__V1__ATTENDEE_ROLE__ATTENDEE_ACTIVITY
#define ROLE_HOSTED   JICENG__V1__ATTENDEE_ROLE__ATTENDEE_HOSTED
#define FULL          JICENG__V1__MEMBER_CATEGORY__FULL

/* ---------------------------------------------------------- id lists */

static int
s_cmp_id(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
s_sorted_has(const char *const *sorted, size_t n, const char *id)
{
	return n && bsearch(&id, sorted, n, sizeof *sorted, s_cmp_id) != NULL;
}

/* Copy n ids into sorted[] and sort them: each must be a usable id,
 * listed once (BAD_FIELD). zh, field: the list's names. */
static int
s_id_list(char *const *ids, size_t n, const char **sorted, const char *zh,
    const char *field, const char *meeting_id, struct verdict *v)
{
	for (size_t i = 0; i < n; i++) {
		if (!ids[i] || !codec_id_valid(ids[i]))
			return verdict_reject(v, "BAD_FIELD", "%s含无效标识符 / %s holds an "
			    "invalid id: %s", zh, field, meeting_id);
		sorted[i] = ids[i];
	}
	if (n)
		qsort(sorted, n, sizeof *sorted, s_cmp_id);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			return verdict_reject(v, "BAD_FIELD", "%s重复列出%s / %s lists %s "
			    "twice: %s", zh, sorted[i], field, sorted[i], meeting_id);
	return 0;
}

/* ---------------------------------------------------------- members */

/* How member r belongs to org_id (M1): an AttendeeRole, 0 for not at all. */
static int
s_role(const struct member_rec *r, const char *org_id)
{
	if (r->transferred_out)
		return 0;
	if (strcmp(r->home_org_id, org_id) == 0)
		return ROLE_MEMBER;
	for (unsigned i = 0; i < r->nactivity; i++)
		if (strcmp(r->activity[i], org_id) == 0)
			return ROLE_ACTIVITY;
	if (strcmp(r->host_org_id, org_id) == 0)
		return ROLE_HOSTED;
	return 0;
}

static int
s_member_load(struct meetings *mt, MDB_txn *txn, const char *id,
    struct member_rec *r, struct verdict *v)
{
	int rc = records_member_load(mt->m, txn, id, r);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_MEMBER", "党员不存在 / unknown member: %s", id);
	return rc;
}

/* A member of org_id (its home org), or NOT_MEMBER; who: the list. */
static int
s_home_member(struct meetings *mt, MDB_txn *txn, const char *org_id,
    const char *id, const char *zh, const char *en, struct member_rec *r,
    struct verdict *v)
{
	int rc = s_member_load(mt, txn, id, r, v);
	if (rc || !v->accepted)
		return rc;
	if (s_role(r, org_id) != ROLE_MEMBER)
		return verdict_reject(v, "NOT_MEMBER", "%s%s不是%s的党员 / %s %s is not a "
		    "member of org %s", zh, id, org_id, en, id, org_id);
	return 0;
}

/* ---------------------------------------------------------- a meeting */

/* A MeetingHeld being checked, then the view stored. */
struct held {
	const Jiceng__V1__MeetingHeld *e;
	unsigned types;                        /* TYPE_BIT of each type */
	const char **attendees;                /* sorted */
	const char **absentees;                /* sorted */
	const char **committee;                /* sorted */
	Jiceng__V1__MeetingAttendee *att;      /* in the order recorded */
	Jiceng__V1__MeetingAttendee **attp;
	Jiceng__V1__MeetingView view;
};

static int
s_held_new(struct held *h, const Jiceng__V1__MeetingHeld *e)
{
	size_t na = e->n_attendee_ids;
	memset(h, 0, sizeof *h);
	h->e = e;
	h->attendees = calloc(na + 1, sizeof *h->attendees);
	h->absentees = calloc(e->n_absentees + 1, sizeof *h->absentees);
	h->committee = calloc(e->n_committee_member_ids + 1, sizeof *h->committee);
	h->att = calloc(na + 1, sizeof *h->att);
	h->attp = calloc(na + 1, sizeof *h->attp);
	jiceng__v1__meeting_view__init(&h->view);
	return h->attendees && h->absentees && h->committee && h->att && h->attp ? 0 : ENOMEM;
}

static void
s_held_free(struct held *h)
{
	free(h->attendees);
	free(h->absentees);
	free(h->committee);
	free(h->att);
	free(h->attp);
}

/* M5 first: a time in the future is M5, not FUTURE_TIME. */
static int
s_held_at(const struct event_ctx *ev, const Jiceng__V1__MeetingHeld *e, struct verdict *v)
{
	if (e->held_at && records_time_valid(e->held_at) &&
	    e->held_at > ev->received_at + MS_TIME_SKEW_MS)
		return verdict_reject(v, "M5", "会议时间晚于接收时间%lld分钟以上 / held_at is "
		    "more than %lld minutes after the journal time: %s",
		    MS_TIME_SKEW_MS / 60000, MS_TIME_SKEW_MS / 60000, e->meeting_id);
	return records_time_check(ev, e->held_at, true, "会议时间", "held_at",
	    e->meeting_id, v);
}

static int
s_types(struct held *h, struct verdict *v)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	if (e->n_types == 0)
		return verdict_reject(v, "BAD_FIELD", "须至少有一种会议类型 / at least one "
		    "meeting type is required: %s", e->meeting_id);
	for (size_t i = 0; i < e->n_types; i++) {
		int t = e->types[i];
		if (t < JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY ||
		    t > JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL)
			return verdict_reject(v, "BAD_FIELD", "未知的会议类型%d / unknown "
			    "meeting type %d: %s", t, t, e->meeting_id);
		if (h->types & TYPE_BIT(t))
			return verdict_reject(v, "BAD_FIELD", "会议类型重复 / meeting type %d "
			    "listed twice: %s", t, e->meeting_id);
		h->types |= TYPE_BIT(t);
	}
	return 0;
}

/* The lists' shapes: attendees (at least one), absentees not present,
 * committee (required for a committee meeting), each without repeats. */
static int
s_lists(struct held *h, struct verdict *v)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	size_t na = e->n_attendee_ids, nb = e->n_absentees;
	int rc;

	if (na == 0)
		return verdict_reject(v, "BAD_FIELD", "须列出参会人 / attendee_ids is "
		    "required: %s", e->meeting_id);
	if ((rc = s_id_list(e->attendee_ids, na, h->attendees, "参会人", "attendee_ids",
	    e->meeting_id, v)) || !v->accepted)
		return rc;
	for (size_t i = 0; i < nb; i++)
		h->absentees[i] = e->absentees[i] && e->absentees[i]->member_id ?
		    e->absentees[i]->member_id : "";
	if ((rc = s_id_list((char *const *)h->absentees, nb, h->absentees, "缺席人",
	    "absentees", e->meeting_id, v)) || !v->accepted)
		return rc;
	for (size_t i = 0; i < nb; i++)
		if (s_sorted_has(h->attendees, na, h->absentees[i]))
			return verdict_reject(v, "BAD_FIELD", "%s既列为参会又列为缺席 / %s is "
			    "both present and absent: %s", h->absentees[i], h->absentees[i],
			    e->meeting_id);
	if ((h->types & TYPE_BIT(JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE)) &&
	    e->n_committee_member_ids == 0)
		return verdict_reject(v, "BAD_FIELD", "支部委员会须列出委员 / a committee "
		    "meeting needs committee_member_ids (M3): %s", e->meeting_id);
	return s_id_list(e->committee_member_ids, e->n_committee_member_ids,
	    h->committee, "委员", "committee_member_ids", e->meeting_id, v);
}

/* M1 and R3 for each attendee: its role and vote. */
static int
s_attendees(struct meetings *mt, MDB_txn *txn, struct held *h, struct verdict *v)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	struct member_rec r;
	int rc;

	for (size_t i = 0; i < e->n_attendee_ids; i++) {
		Jiceng__V1__MeetingAttendee *a = &h->att[i];
		if ((rc = s_member_load(mt, txn, e->attendee_ids[i], &r, v)) || !v->accepted)
			return rc;
		jiceng__v1__meeting_attendee__init(a);
		a->member_id = e->attendee_ids[i];
		if (!(a->role = s_role(&r, e->org_id)))
			return verdict_reject(v, "M1", "参会人%s不是%s的党员、多重组织生活成员或"
			    "流入党员 / attendee %s is not a member of org %s, nor of it as "
			    "an activity org, nor hosted by it", r.member_id, e->org_id,
			    r.member_id, e->org_id);
		if ((rc = members_require_normal(&r, "以党员身份参会", "present at a meeting",
		    v)) || !v->accepted)
			return rc;
		a->voting = a->role == ROLE_MEMBER && r.category == FULL;
		h->view.voting_present += a->voting;
		h->attp[i] = a;
	}
	return 0;
}

/* M1 for each absentee: of the org in one of the three ways. */
static int
s_absentees(struct meetings *mt, MDB_txn *txn, struct held *h, struct verdict *v)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	struct member_rec r;
	int rc;

	for (size_t i = 0; i < e->n_absentees; i++) {
		const char *id = e->absentees[i]->member_id;
		if ((rc = s_member_load(mt, txn, id, &r, v)) || !v->accepted)
			return rc;
		if (!s_role(&r, e->org_id))
			return verdict_reject(v, "M1", "缺席人%s不是%s的党员、多重组织生活成员或"
			    "流入党员 / absentee %s is not a member of org %s, nor of it as "
			    "an activity org, nor hosted by it", id, e->org_id, id, e->org_id);
	}
	return 0;
}

/* Roster walk for M2: the org's FULL, NORMAL members. */
struct due {
	struct membership *m;
	MDB_txn *txn;
	uint32_t n;
};

static int
s_count_due(void *arg, const char *member_id, bool *stop)
{
	struct due *d = arg;
	struct member_rec r;
	int rc = records_member_load(d->m, d->txn, member_id, &r);

	(void)stop;
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* a roster names members */
	d->n += r.category == FULL && r.status == JICENG__V1__MEMBER_STATUS__NORMAL;
	return 0;
}

/* M2: a branch assembly with voting members present <= half of those due. */
static int
s_m2(struct meetings *mt, MDB_txn *txn, struct held *h, struct verdict *v)
{
	struct due d = { mt->m, txn, 0 };
	Jiceng__V1__MeetingView *w = &h->view;
	int rc;

	if (!(h->types & TYPE_BIT(JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY)))
		return 0;
	if ((rc = records_pair_each(txn, mt->m->roster, h->e->org_id, "", s_count_due, &d)))
		return rc;
	w->voting_due = d.n;
	if ((uint64_t)w->voting_present * M2_M3_SHARE > w->voting_due)
		return 0;
	w->inquorate = true;
	verdict_warn(v, "M2", "支部党员大会有表决权的到会党员%u人，未超过应到会%u人的半数，"
	    "会议无效 / branch assembly inquorate: %u voting members present of %u due, "
	    "not more than half: %s", w->voting_present, w->voting_due,
	    w->voting_present, w->voting_due, h->e->meeting_id);
	return 0;
}

/* M3: committee members are members of the org; present <= half warns. */
static int
s_m3(struct meetings *mt, MDB_txn *txn, struct held *h, struct verdict *v)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	Jiceng__V1__MeetingView *w = &h->view;
	size_t n = e->n_committee_member_ids;
	struct member_rec r;
	int rc;

	if (!(h->types & TYPE_BIT(JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE)))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *id = e->committee_member_ids[i];
		if ((rc = s_home_member(mt, txn, e->org_id, id, "委员", "committee member",
		    &r, v)) || !v->accepted)
			return rc;
		w->committee_present += s_sorted_has(h->attendees, e->n_attendee_ids, id);
	}
	if ((uint64_t)w->committee_present * M2_M3_SHARE > n)
		return 0;
	w->committee_inquorate = true;
	verdict_warn(v, "M3", "支部委员会到会委员%u人，未超过委员%zu人的半数 / committee "
	    "meeting with %u of %zu committee members present, not more than half: %s",
	    w->committee_present, n, w->committee_present, n, e->meeting_id);
	return 0;
}

/* The record: the event's fields, the org's township and the marks. */
static void
s_held_view(const struct event_ctx *ev, const struct org_rec *o, struct held *h)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	Jiceng__V1__MeetingView *w = &h->view;

	w->meeting_id = e->meeting_id;
	w->org_id = e->org_id;
	w->township_id = (char *)o->township_id;
	w->n_types = e->n_types;
	w->types = e->types;
	w->held_at = e->held_at;
	w->month = civil_cst_month(e->held_at);
	w->topic = e->topic;
	w->host_member_id = e->host_member_id;
	w->recorder_member_id = e->recorder_member_id;
	w->lecturer = e->lecturer;
	w->n_attendees = e->n_attendee_ids;
	w->attendees = h->attp;
	w->n_absentees = e->n_absentees;
	w->absentees = e->absentees;
	w->online = e->online;
	w->n_committee_member_ids = e->n_committee_member_ids;
	w->committee_member_ids = e->committee_member_ids;
	w->recorded_seq = ev->seq;
}

static int
s_check_held(struct meetings *mt, MDB_txn *txn, const struct event_ctx *ev,
    struct held *h, struct verdict *v)
{
	const Jiceng__V1__MeetingHeld *e = h->e;
	Jiceng__V1__MeetingView *old;
	struct org_rec o;
	int rc;

	if (!codec_id_valid(e->meeting_id))
		return verdict_reject(v, "BAD_FIELD", "meeting_id 须为1-64字节的"
		    "[A-Za-z0-9._:-] / meeting_id must be 1-64 bytes of [A-Za-z0-9._:-]");
	if ((rc = orgs_require(mt->m, txn, ev, e->org_id, MS_ROLE_ORG, MS_LIVE, &o, v)) ||
	    !v->accepted)
		return rc;
	rc = meetings_record_load(mt, txn, e->meeting_id, &old);
	meetings_record_free(&old);
	if (rc == 0)
		return verdict_reject(v, "MEETING_EXISTS", "会议记录已存在 / meeting already "
		    "recorded: %s", e->meeting_id);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = s_held_at(ev, e, v)) || !v->accepted ||
	    (rc = s_types(h, v)) || !v->accepted ||
	    (rc = s_lists(h, v)) || !v->accepted ||
	    (rc = s_attendees(mt, txn, h, v)) || !v->accepted ||
	    (rc = s_absentees(mt, txn, h, v)) || !v->accepted ||
	    (rc = s_m2(mt, txn, h, v)) || !v->accepted ||
	    (rc = s_m3(mt, txn, h, v)) || !v->accepted)
		return rc;
	s_held_view(ev, &o, h);
	return meetings_record_add(mt, txn, &h->view);
}

static int
s_apply_meeting_held(struct meetings *mt, MDB_txn *txn, const struct event_ctx *ev,
    struct verdict *v)
{
	struct held h;
	int rc = s_held_new(&h, ev->env->meeting_held);

	if (rc == 0)
		rc = s_check_held(mt, txn, ev, &h, v);
	s_held_free(&h);
	return rc;
}

/* ---------------------------------------------------------- an appraisal */

/* The meeting appraised: of the org, a 民主评议党员, not appraised yet. */
static int
s_appraised_meeting(struct meetings *mt, MDB_txn *txn,
    const Jiceng__V1__AppraisalRecorded *e, Jiceng__V1__MeetingView **w,
    struct verdict *v)
{
	bool appraisal = false;
	int rc = meetings_record_load(mt, txn, e->meeting_id, w);

	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_MEETING", "会议记录不存在 / unknown "
		    "meeting: %s", e->meeting_id ? e->meeting_id : "");
	if (rc)
		return rc;
	if (strcmp((*w)->org_id, e->org_id) != 0)
		return verdict_reject(v, "BAD_FIELD", "会议%s属于%s，不属于%s / meeting %s is "
		    "of org %s, not %s", e->meeting_id, (*w)->org_id, e->org_id,
		    e->meeting_id, (*w)->org_id, e->org_id);
	for (size_t i = 0; i < (*w)->n_types; i++)
		appraisal |= (*w)->types[i] == JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL;
	if (!appraisal)
		return verdict_reject(v, "BAD_FIELD", "会议不是民主评议党员会议 / meeting is "
		    "not a DEMOCRATIC_APPRAISAL: %s", e->meeting_id);
	if ((*w)->appraisal_seq)
		return verdict_reject(v, "APPRAISAL_EXISTS", "该会议的评议结果已记录 / the "
		    "appraisal of this meeting is recorded: %s", e->meeting_id);
	return 0;
}

static int
s_appraisal_year(struct meetings *mt, MDB_txn *txn,
    const Jiceng__V1__AppraisalRecorded *e, const Jiceng__V1__MeetingView *w,
    struct verdict *v)
{
	char other[CODEC_MAX_ID + 1];
	int held = civil_cst_year(w->held_at);
	int rc;

	if (e->year < APPRAISAL_YEAR_MIN || e->year > held)
		return verdict_reject(v, "BAD_FIELD", "评议年度须在%d年至会议当年%d年之间 / "
		    "year must be from %d to the meeting's year %d: %s", APPRAISAL_YEAR_MIN,
		    held, APPRAISAL_YEAR_MIN, held, e->meeting_id);
	rc = meetings_appraisal_find(mt, txn, e->org_id, e->year, other);
	if (rc == 0)
		return verdict_reject(v, "APPRAISAL_EXISTS", "%s的%d年度评议结果已记录（会议%s） / "
		    "the %d appraisal of org %s is recorded (meeting %s)", e->org_id, e->year,
		    other, e->year, e->org_id, other);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One graded member: of the org, NORMAL (R3), FULL (M4). */
static int
s_graded(struct meetings *mt, MDB_txn *txn, const char *org_id, const char *id,
    struct verdict *v)
{
	struct member_rec r;
	int rc = s_home_member(mt, txn, org_id, id, "被评议人", "graded member", &r, v);

	if (rc || !v->accepted ||
	    (rc = members_require_normal(&r, "参加民主评议", "graded", v)) || !v->accepted)
		return rc;
	if (r.category != FULL)
		return verdict_reject(v, "M4", "预备党员不评定等次 / a probationary member "
		    "is not graded: %s", id);
	return 0;
}

/* The grades: each a known grade of a member listed once, then M4. */
static int
s_check_grades(struct meetings *mt, MDB_txn *txn,
    const Jiceng__V1__AppraisalRecorded *e, const char **sorted, struct verdict *v)
{
	size_t n = e->n_grades, excellent = 0;
	int rc;

	if (n == 0)
		return verdict_reject(v, "BAD_FIELD", "须有评议结果 / grades are required: %s",
		    e->meeting_id);
	for (size_t i = 0; i < n; i++) {
		const Jiceng__V1__Grade *g = e->grades[i];
		if (!g || g->grade < JICENG__V1__APPRAISAL_GRADE__EXCELLENT ||
		    g->grade > JICENG__V1__APPRAISAL_GRADE__UNQUALIFIED)
			return verdict_reject(v, "BAD_FIELD", "评议等次未知 / unknown grade of "
			    "%s: %s", g && g->member_id ? g->member_id : "", e->meeting_id);
		sorted[i] = g->member_id;
		excellent += g->grade == JICENG__V1__APPRAISAL_GRADE__EXCELLENT;
	}
	if ((rc = s_id_list((char *const *)sorted, n, sorted, "评议结果", "grades",
	    e->meeting_id, v)) || !v->accepted)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = s_graded(mt, txn, e->org_id, e->grades[i]->member_id, v)) ||
		    !v->accepted)
			return rc;
	if (excellent * M4_EXCELLENT_SHARE > n)
		return verdict_reject(v, "M4", "优秀%zu人，超过评议人数%zu人的三分之一 / %zu "
		    "of %zu graded EXCELLENT, more than a third: %s", excellent, n,
		    excellent, n, e->meeting_id);
	return 0;
}

static int
s_grades(struct meetings *mt, MDB_txn *txn, const Jiceng__V1__AppraisalRecorded *e,
    struct verdict *v)
{
	const char **sorted = calloc(e->n_grades + 1, sizeof *sorted);
	int rc;

	if (!sorted)
		return ENOMEM;
	rc = s_check_grades(mt, txn, e, sorted, v);
	free(sorted);
	return rc;
}

static int
s_apply_appraisal_recorded(struct meetings *mt, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__AppraisalRecorded *e = ev->env->appraisal_recorded;
	Jiceng__V1__MeetingView *w = NULL;
	struct org_rec o;
	int rc;

	if ((rc = orgs_require(mt->m, txn, ev, e->org_id, MS_ROLE_ORG, MS_LIVE, &o, v)) ||
	    !v->accepted)
		return rc;
	if ((rc = s_appraised_meeting(mt, txn, e, &w, v)) || !v->accepted ||
	    (rc = s_appraisal_year(mt, txn, e, w, v)) || !v->accepted ||
	    (rc = s_grades(mt, txn, e, v)) || !v->accepted)
		goto out;
	w->appraisal_year = e->year;
	w->n_grades = e->n_grades;
	w->grades = e->grades;
	w->appraisal_seq = ev->seq;
	rc = meetings_record_appraise(mt, txn, w);
	/* The grades are the event's: the record's free must not reach them. */
	w->n_grades = 0;
	w->grades = NULL;
out:
	meetings_record_free(&w);
	return rc;
}

/* ---------------------------------------------------------- the module */

typedef int (*meetings_apply_fn)(struct meetings *mt, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

static const struct {
	EventCase kind;
	meetings_apply_fn apply;
} s_events[] = {
	{ JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, s_apply_meeting_held },
	{ JICENG__V1__ENVELOPE__EVENT_APPRAISAL_RECORDED, s_apply_appraisal_recorded },
};

static int
s_open(MDB_txn *txn, unsigned flags, struct membership *m, void **state)
{
	struct meetings *mt;
	int rc = meetings_records_open(txn, flags, m, &mt);
	if (rc == 0)
		*state = mt;
	return rc;
}

static void
s_close(void **state)
{
	struct meetings *mt = *state;
	meetings_records_close(&mt);
	*state = NULL;
}

/* Its own kinds; every other event (membership's, Tick, RulesChanged)
 * changes nothing here. */
static int
s_apply(void *state, MDB_txn *txn, const struct event_ctx *ev, struct verdict *v)
{
	for (size_t i = 0; i < sizeof s_events / sizeof s_events[0]; i++)
		if (s_events[i].kind == ev->env->event_case)
			return s_events[i].apply(state, txn, ev, v);
	return 0;
}

const struct domain_module meetings_module = {
	.domain = DOMAIN_MEETINGS,
	.max_dbs = MEETINGS_MAX_DBS,
	.open = s_open,
	.close = s_close,
	.apply = s_apply,
};
