/*
 * Unit tests of the meetings domain (workers/meetings.c, its records and
 * its read side): M1-M5, a record of several types, attendance as a
 * member, an activity-org member and a hosted mobile member (present, no
 * vote: M2 does not count them), absentees, online meetings, appraisals,
 * who may send (the org's township, a live org), the record of what each
 * member attended per month, an org's meetings by time, and the queries.
 * Each runs against a real LMDB environment with the membership and
 * meetings tables, every event applied as the fold applies it; fx_send
 * also checks that every rejection wrote nothing.
 */
#include "unit.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_fx.h"
#include "meetings.h"

#define ASSEMBLY   JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY
#define COMMITTEE  JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE
#define LECTURE    JICENG__V1__MEETING_TYPE__PARTY_LECTURE
#define THEMED_DAY JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY
#define APPRAISAL  JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL
#define EXCELLENT  JICENG__V1__APPRAISAL_GRADE__EXCELLENT
#define QUALIFIED  JICENG__V1__APPRAISAL_GRADE__QUALIFIED
#define FULL       JICENG__V1__MEMBER_CATEGORY__FULL
#define PROBATION  JICENG__V1__MEMBER_CATEGORY__PROBATIONARY
#define MINUTE     (60 * 1000LL)

/* A list of ids as a count and an array: IDS("a1", "a2"). */
#define IDS(...) (sizeof (char *[]){ __VA_ARGS__ } / sizeof (char *)), (char *[]){ __VA_ARGS__ }

/* ---------------------------------------------------------- fixture */

/* TS1: township committee T, village committee V, branches B (the
 * meetings' org; full members a1-a4, probationary p1), B2 (member x, who
 * holds B as an activity org) and B3 (empty). TS2: T2, V2 and branch H,
 * whose member h is away, hosted by B once reported (s_host_h). The
 * sender is TS1 afterwards. */
static void
s_world(struct fx *f)
{
	Jiceng__V1__MemberRegistered x = fx_registration("x", "B2", FULL);
	char *activity[] = { "B" };

	f->township = TS2;
	fx_tree(f, "T2", "V2", "H");
	ACCEPTED(fx_register(f, "h", "H", FULL));
	f->township = TS1;
	fx_tree(f, "T", "V", "B");
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(fx_org(f, "B3", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(fx_register(f, "a1", "B", FULL));
	ACCEPTED(fx_register(f, "a2", "B", FULL));
	ACCEPTED(fx_register(f, "a3", "B", FULL));
	ACCEPTED(fx_register(f, "a4", "B", FULL));
	ACCEPTED(fx_register(f, "p1", "B", PROBATION));
	x.n_activity_org_ids = 1;
	x.activity_org_ids = activity;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &x));
}

static int
s_setup(void **state)
{
	struct fx *f = dfx_new(DOMAIN_MEETINGS);
	s_world(f);
	*state = f;
	return 0;
}

/* h leaves H (its home township TS2 sends it), host B expected. */
static void
s_depart_h(struct fx *f)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	d.flow_id = "flow-h";
	d.member_id = "h";
	d.destination_code = "110105";
	d.host_org_id = "B";
	d.reason = "务工";
	d.expected_months = 3;
	d.departed_at = f->now;
	f->township = TS2;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d));
	f->township = TS1;
}

/* h, away, reports to B (B's township TS1 sends it): B hosts h. */
static void
s_report_h(struct fx *f)
{
	Jiceng__V1__MobileReported r = JICENG__V1__MOBILE_REPORTED__INIT;
	r.flow_id = "flow-h";
	r.host_org_id = "B";
	r.reported_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &r));
}

static void
s_host_h(struct fx *f)
{
	s_depart_h(f);
	s_report_h(f);
}

static Jiceng__V1__MeetingHeld
s_held(const char *id, const char *org, int64_t at, size_t n, char **attendees)
{
	Jiceng__V1__MeetingHeld e = JICENG__V1__MEETING_HELD__INIT;
	e.meeting_id = (char *)id;
	e.org_id = (char *)org;
	e.held_at = at;
	e.topic = "学习党的二十届三中全会精神";
	e.host_member_id = "a1";
	e.recorder_member_id = "a2";
	e.n_attendee_ids = n;
	e.attendee_ids = attendees;
	return e;
}

static struct verdict
s_send(struct fx *f, Jiceng__V1__MeetingHeld *e)
{
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, e);
}

/* A meeting of one type, held now. */
static struct verdict
s_meeting(struct fx *f, const char *id, const char *org, Jiceng__V1__MeetingType type,
    size_t n, char **attendees)
{
	Jiceng__V1__MeetingHeld e = s_held(id, org, f->now, n, attendees);
	e.n_types = 1;
	e.types = &type;
	return s_send(f, &e);
}

static bool
s_warned(const struct verdict *v, const char *code)
{
	for (unsigned i = 0; i < v->nwarnings; i++)
		if (strcmp(v->warnings[i].code, code) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------- reads */

static struct meetings *
s_mt(struct fx *f)
{
	return f->module_state;
}

static Jiceng__V1__MeetingView *
s_get(struct fx *f, const char *id)
{
	Jiceng__V1__MeetingView *v;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(meetings_get(s_mt(f), txn, id, &v), 0);
	mdb_txn_abort(txn);
	return v;
}

static bool
s_exists(struct fx *f, const char *id)
{
	Jiceng__V1__MeetingView *v;
	MDB_txn *txn = fx_read(f);
	int rc = meetings_get(s_mt(f), txn, id, &v);
	mdb_txn_abort(txn);
	meetings_free_meeting(&v);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	return rc == 0;
}

static const Jiceng__V1__MeetingAttendee *
s_attendee(const Jiceng__V1__MeetingView *v, const char *id)
{
	for (size_t i = 0; i < v->n_attendees; i++)
		if (strcmp(v->attendees[i]->member_id, id) == 0)
			return v->attendees[i];
	fail_msg("%s is not an attendee of %s", id, v->meeting_id);
	return NULL;
}

static Jiceng__V1__AttendanceList *
s_attendance(struct fx *f, const char *member, int from, int to)
{
	Jiceng__V1__AttendanceList *l;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(meetings_attendance(s_mt(f), txn, member, from, to, &l), 0);
	mdb_txn_abort(txn);
	return l;
}

static Jiceng__V1__MeetingList *
s_list(struct fx *f, const char *org, int from, int to, const char *after, unsigned limit)
{
	Jiceng__V1__MeetingList *l;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(meetings_list(s_mt(f), txn, org, from, to, after, limit, &l), 0);
	mdb_txn_abort(txn);
	return l;
}

/* ---------------------------------------------------------- the record */

static void
test_meeting_recorded(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp[] = { &ab };
	Jiceng__V1__MeetingType type = LECTURE;
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now - DAY, IDS("a1", "a2", "p1"));
	Jiceng__V1__MeetingView *v;

	ab.member_id = "a3";
	ab.reason = "外出务工";
	e.n_absentees = 1;
	e.absentees = abp;
	e.n_types = 1;
	e.types = &type;
	e.lecturer = "王书记";
	e.online = true;
	struct verdict vd = s_send(f, &e);
	ACCEPTED(vd);
	assert_string_equal(vd.code, "OK");
	assert_int_equal(vd.nwarnings, 0);
	v = s_get(f, "m1");
	assert_string_equal(v->org_id, "B");
	assert_string_equal(v->township_id, TS1);
	assert_int_equal(v->n_types, 1);
	assert_int_equal(v->types[0], LECTURE);
	assert_int_equal(v->held_at, f->now - DAY);
	assert_int_equal(v->month, 202501);
	assert_string_equal(v->lecturer, "王书记");
	assert_string_equal(v->host_member_id, "a1");
	assert_true(v->online);
	assert_int_equal(v->n_attendees, 3);
	assert_int_equal(s_attendee(v, "a1")->role, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
	assert_true(s_attendee(v, "a1")->voting);
	assert_false(s_attendee(v, "p1")->voting);   /* probationary: no vote */
	assert_int_equal(v->n_absentees, 1);
	assert_string_equal(v->absentees[0]->member_id, "a3");
	assert_string_equal(v->absentees[0]->reason, "外出务工");
	assert_false(v->inquorate);                  /* not an assembly */
	assert_int_equal(v->recorded_seq, f->seq);
	assert_int_equal(v->appraisal_seq, 0);
	meetings_free_meeting(&v);
}

static void
test_meeting_exists(void **state)
{
	struct fx *f = *state;
	ACCEPTED(s_meeting(f, "m1", "B", LECTURE, IDS("a1")));
	REJECTED(s_meeting(f, "m1", "B", LECTURE, IDS("a2")), "MEETING_EXISTS");
	/* An id is the county's: another org's record may not reuse it. */
	REJECTED(s_meeting(f, "m1", "B2", LECTURE, IDS("x")), "MEETING_EXISTS");
}

/* A themed party day that is also the assembly counts as both: M2 judges
 * it, and both types stay on the record. */
static void
test_several_types(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingType both[] = { THEMED_DAY, ASSEMBLY };
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now, IDS("a1", "a2"));
	Jiceng__V1__MeetingView *v;

	e.n_types = 2;
	e.types = both;
	struct verdict vd = s_send(f, &e);
	ACCEPTED(vd);
	assert_true(s_warned(&vd, "M2"));            /* 2 of 4 full members */
	v = s_get(f, "m1");
	assert_int_equal(v->n_types, 2);
	assert_int_equal(v->types[0], THEMED_DAY);
	assert_int_equal(v->types[1], ASSEMBLY);
	assert_true(v->inquorate);
	meetings_free_meeting(&v);

	/* The same day without the assembly: no M2. */
	e.meeting_id = "m2";
	e.n_types = 1;
	vd = s_send(f, &e);
	ACCEPTED(vd);
	assert_int_equal(vd.nwarnings, 0);
}

static void
test_fields(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingType twice[] = { LECTURE, LECTURE }, none = 0, bad = 99;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp[] = { &ab };
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now, IDS("a1", "a2"));

	REJECTED(s_send(f, &e), "BAD_FIELD");        /* no type */
	e.n_types = 2;
	e.types = twice;
	REJECTED(s_send(f, &e), "BAD_FIELD");
	e.n_types = 1;
	e.types = &none;
	REJECTED(s_send(f, &e), "BAD_FIELD");
	e.types = &bad;
	REJECTED(s_send(f, &e), "BAD_FIELD");
	e.types = twice;
	e.n_attendee_ids = 0;
	REJECTED(s_send(f, &e), "BAD_FIELD");        /* nobody present */
	e = s_held("m1", "B", f->now, IDS("a1", "a2", "a1"));
	e.n_types = 1;
	e.types = twice;
	REJECTED(s_send(f, &e), "BAD_FIELD");        /* a1 twice */
	e = s_held("m1", "B", f->now, IDS("a1", ""));
	e.n_types = 1;
	e.types = twice;
	REJECTED(s_send(f, &e), "BAD_FIELD");
	e = s_held("m1", "B", f->now, IDS("a1", "a2"));
	e.n_types = 1;
	e.types = twice;
	ab.member_id = "a2";
	e.n_absentees = 1;
	e.absentees = abp;
	REJECTED(s_send(f, &e), "BAD_FIELD");        /* present and absent */
	e.meeting_id = "";
	REJECTED(s_send(f, &e), "BAD_FIELD");
	assert_false(s_exists(f, "m1"));
	ab.member_id = "a3";
	e.meeting_id = "m1";
	ACCEPTED(s_send(f, &e));
}

/* ---------------------------------------------------------- who sends */

static void
test_org_township_dissolved(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgDissolved d = JICENG__V1__ORG_DISSOLVED__INIT;

	REJECTED(s_meeting(f, "m1", "NOPE", LECTURE, IDS("a1")), "UNKNOWN_ORG");
	f->township = TS2;
	REJECTED(s_meeting(f, "m1", "B", LECTURE, IDS("a1")), "WRONG_TOWNSHIP");
	f->township = TS1;
	/* A dissolved org records no more meetings. */
	d.org_id = "B3";
	d.approving_org_id = "T";
	d.dissolved_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d));
	REJECTED(s_meeting(f, "m1", "B3", LECTURE, IDS("a1")), "ORG_DISSOLVED");
	assert_false(s_exists(f, "m1"));
}

/* ---------------------------------------------------------- M1 */

static void
test_m1_members_only(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp[] = { &ab };
	Jiceng__V1__MeetingType type = LECTURE;
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now, IDS("a1", "a2"));

	/* h is of H, in another township, not hosted by B yet. */
	REJECTED(s_meeting(f, "m1", "B", LECTURE, IDS("a1", "h")), "M1");
	/* a1 is nothing to B2. */
	REJECTED(s_meeting(f, "m1", "B2", LECTURE, IDS("x", "a1")), "M1");
	REJECTED(s_meeting(f, "m1", "B", LECTURE, IDS("a1", "ghost")), "UNKNOWN_MEMBER");
	e.n_types = 1;
	e.types = &type;
	ab.member_id = "h";
	e.n_absentees = 1;
	e.absentees = abp;
	REJECTED(s_send(f, &e), "M1");               /* an absentee too */
	ab.member_id = "ghost";
	REJECTED(s_send(f, &e), "UNKNOWN_MEMBER");
	assert_false(s_exists(f, "m1"));
}

/* x (home B2, activity org B) attends B's meeting without a vote. */
static void
test_m1_activity_member(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingView *v;

	ACCEPTED(s_meeting(f, "m1", "B", THEMED_DAY, IDS("a1", "x")));
	v = s_get(f, "m1");
	assert_int_equal(s_attendee(v, "x")->role, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_ACTIVITY);
	assert_false(s_attendee(v, "x")->voting);
	meetings_free_meeting(&v);
	/* and its home org's, as a member */
	ACCEPTED(s_meeting(f, "m2", "B2", THEMED_DAY, IDS("x")));
	v = s_get(f, "m2");
	assert_int_equal(s_attendee(v, "x")->role, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
	assert_true(s_attendee(v, "x")->voting);
	meetings_free_meeting(&v);
}

/* h, of H in TS2, away and reported to B: B hosts h, who attends B's
 * meetings (by video too) without a vote there; only expected, or back
 * home, h does not. */
static void
test_m1_hosted_member(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MobileReturned back = JICENG__V1__MOBILE_RETURNED__INIT;
	Jiceng__V1__MeetingType type = THEMED_DAY;
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now, IDS("a1", "h"));
	Jiceng__V1__MeetingView *v;

	e.n_types = 1;
	e.types = &type;
	e.online = true;
	s_depart_h(f);
	REJECTED(s_send(f, &e), "M1");               /* expected at B, not reported */
	s_report_h(f);
	ACCEPTED(s_send(f, &e));
	v = s_get(f, "m1");
	assert_int_equal(s_attendee(v, "h")->role, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_HOSTED);
	assert_false(s_attendee(v, "h")->voting);
	assert_true(v->online);
	meetings_free_meeting(&v);

	back.flow_id = "flow-h";
	back.returned_at = f->now;
	f->township = TS2;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &back));
	f->township = TS1;
	e.meeting_id = "m2";
	REJECTED(s_send(f, &e), "M1");
}

/* R3: a suspended member does not attend as a member, but may be
 * listed absent. */
static void
test_r3_attendee_normal(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp[] = { &ab };
	Jiceng__V1__MeetingType type = LECTURE;
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now, IDS("a1", "a2"));

	ACCEPTED(fx_status(f, "a4", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	REJECTED(s_meeting(f, "m1", "B", LECTURE, IDS("a1", "a4")), "R3");
	e.n_types = 1;
	e.types = &type;
	ab.member_id = "a4";
	e.n_absentees = 1;
	e.absentees = abp;
	ACCEPTED(s_send(f, &e));
}

/* ---------------------------------------------------------- M2 */

/* B: 4 full members due (a1-a4); p1 is probationary, x an activity
 * member, h hosted: none of them votes at B. */
static void
test_m2_quorum(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingView *v;
	struct verdict vd;

	s_host_h(f);
	vd = s_meeting(f, "m1", "B", ASSEMBLY, IDS("a1", "a2", "p1", "x", "h"));
	ACCEPTED(vd);
	assert_string_equal(vd.code, "OK");
	assert_true(s_warned(&vd, "M2"));
	assert_non_null(strstr(vd.warnings[0].reason, " / "));
	v = s_get(f, "m1");
	assert_true(v->inquorate);
	assert_int_equal(v->voting_due, 4);
	assert_int_equal(v->voting_present, 2);      /* hosted, activity, probationary: no vote */
	meetings_free_meeting(&v);

	vd = s_meeting(f, "m2", "B", ASSEMBLY, IDS("a1", "a2", "a3"));
	ACCEPTED(vd);
	assert_false(s_warned(&vd, "M2"));
	v = s_get(f, "m2");
	assert_false(v->inquorate);
	assert_int_equal(v->voting_present, 3);
	meetings_free_meeting(&v);

	/* Those due are NORMAL: with a4 suspended, 2 of 3 is a quorum. */
	ACCEPTED(fx_status(f, "a4", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	vd = s_meeting(f, "m3", "B", ASSEMBLY, IDS("a1", "a2", "p1"));
	ACCEPTED(vd);
	assert_false(s_warned(&vd, "M2"));
	v = s_get(f, "m3");
	assert_int_equal(v->voting_due, 3);
	meetings_free_meeting(&v);
}

/* ---------------------------------------------------------- M3 */

static void
test_m3_committee_quorum(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingType type = COMMITTEE;
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now, IDS("a1", "p1"));
	Jiceng__V1__MeetingView *v;
	char *committee[] = { "a1", "a2", "a3" }, *outsider[] = { "a1", "x" };
	struct verdict vd;

	e.n_types = 1;
	e.types = &type;
	REJECTED(s_send(f, &e), "BAD_FIELD");        /* a committee meeting names its committee */
	e.n_committee_member_ids = 2;
	e.committee_member_ids = outsider;
	REJECTED(s_send(f, &e), "NOT_MEMBER");       /* x is not B's member */
	e.n_committee_member_ids = 3;
	e.committee_member_ids = committee;
	vd = s_send(f, &e);
	ACCEPTED(vd);
	assert_true(s_warned(&vd, "M3"));
	assert_false(s_warned(&vd, "M2"));
	v = s_get(f, "m1");
	assert_true(v->committee_inquorate);
	assert_int_equal(v->committee_present, 1);
	assert_int_equal(v->n_committee_member_ids, 3);
	meetings_free_meeting(&v);

	e = s_held("m2", "B", f->now, IDS("a1", "a3"));
	e.n_types = 1;
	e.types = &type;
	e.n_committee_member_ids = 3;
	e.committee_member_ids = committee;
	vd = s_send(f, &e);
	ACCEPTED(vd);
	assert_int_equal(vd.nwarnings, 0);
	v = s_get(f, "m2");
	assert_false(v->committee_inquorate);
	assert_int_equal(v->committee_present, 2);
	meetings_free_meeting(&v);
}

/* ---------------------------------------------------------- M5 and dates */

static void
test_m5_future(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingType type = LECTURE;
	Jiceng__V1__MeetingHeld e = s_held("m1", "B", f->now + 11 * MINUTE, IDS("a1"));

	e.n_types = 1;
	e.types = &type;
	REJECTED(s_send(f, &e), "M5");
	e.held_at = 0;
	REJECTED(s_send(f, &e), "BAD_FIELD");
	e.held_at = fx_cst(1899, 12, 31, 23, 59);
	REJECTED(s_send(f, &e), "BAD_FIELD");
	assert_false(s_exists(f, "m1"));
	e.held_at = f->now + 9 * MINUTE;             /* clock skew */
	ACCEPTED(s_send(f, &e));
	/* Old paper records: a 1958 meeting, before the Unix epoch. */
	e.meeting_id = "m1958";
	e.held_at = fx_cst(1958, 10, 1, 9, 0);
	ACCEPTED(s_send(f, &e));
	Jiceng__V1__MeetingView *v = s_get(f, "m1958");
	assert_int_equal(v->month, 195810);
	meetings_free_meeting(&v);
}

/* ---------------------------------------------------------- attendance */

/* What each member attended, per CST month, in any role; absence is not
 * attendance. */
static void
test_attendance_by_month(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__AttendanceList *l;
	Jiceng__V1__MeetingHeld e;
	Jiceng__V1__MeetingType type = THEMED_DAY;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp[] = { &ab };

	/* 2024-12-31 23:30 CST is December in China (16:30 UTC). */
	e = s_held("dec", "B", fx_cst(2024, 12, 31, 23, 30), IDS("a1", "x"));
	e.n_types = 1;
	e.types = &type;
	ACCEPTED(s_send(f, &e));
	e = s_held("jan-b", "B", fx_cst(2025, 1, 2, 9, 0), IDS("a1"));
	e.n_types = 1;
	e.types = &type;
	ab.member_id = "a2";
	e.n_absentees = 1;
	e.absentees = abp;
	ACCEPTED(s_send(f, &e));
	e = s_held("jan-a", "B2", fx_cst(2025, 1, 3, 9, 0), IDS("x"));
	e.n_types = 1;
	e.types = &type;
	ACCEPTED(s_send(f, &e));
	ACCEPTED(s_meeting(f, "jan-c", "B", LECTURE, IDS("a1")));

	l = s_attendance(f, "a1", 0, 0);
	assert_string_equal(l->member_id, "a1");
	assert_int_equal(l->n_months, 2);
	assert_int_equal(l->months[0]->month, 202412);
	assert_int_equal(l->months[0]->count, 1);
	assert_string_equal(l->months[0]->meeting_ids[0], "dec");
	assert_int_equal(l->months[1]->month, 202501);
	assert_int_equal(l->months[1]->count, 2);
	assert_int_equal(l->months[1]->n_meeting_ids, 2);
	assert_string_equal(l->months[1]->meeting_ids[0], "jan-b");
	assert_string_equal(l->months[1]->meeting_ids[1], "jan-c");
	meetings_free_attendance(&l);

	/* x: December at B as an activity member, January at home. */
	l = s_attendance(f, "x", 202501, 202501);
	assert_int_equal(l->n_months, 1);
	assert_int_equal(l->months[0]->count, 1);
	assert_string_equal(l->months[0]->meeting_ids[0], "jan-a");
	meetings_free_attendance(&l);
	l = s_attendance(f, "x", 0, 202412);
	assert_int_equal(l->n_months, 1);
	assert_int_equal(l->months[0]->month, 202412);
	meetings_free_attendance(&l);

	l = s_attendance(f, "a2", 0, 0);             /* absent only */
	assert_int_equal(l->n_months, 0);
	meetings_free_attendance(&l);

	MDB_txn *txn = fx_read(f);
	assert_int_equal(meetings_attendance(s_mt(f), txn, "ghost", 0, 0, &l), MDB_NOTFOUND);
	assert_null(l);
	assert_int_equal(meetings_attendance(s_mt(f), txn, "a1", 202513, 0, &l), EINVAL);
	assert_int_equal(meetings_attendance(s_mt(f), txn, "a1", 202502, 202501, &l), EINVAL);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- an org's */

static void
test_list_meetings(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingList *l;
	Jiceng__V1__MeetingType type = LECTURE;
	const int64_t at[] = { fx_cst(2024, 11, 5, 9, 0), fx_cst(1965, 3, 1, 9, 0),
	    fx_cst(2025, 1, 5, 9, 0), fx_cst(2024, 11, 5, 9, 0) };
	const char *ids[] = { "n2", "old", "jan", "n1" };

	for (int i = 0; i < 4; i++) {
		Jiceng__V1__MeetingHeld e = s_held(ids[i], "B", at[i], IDS("a1"));
		e.n_types = 1;
		e.types = &type;
		ACCEPTED(s_send(f, &e));
	}
	ACCEPTED(s_meeting(f, "other", "B2", LECTURE, IDS("x")));

	/* By time, then id; that org's only. */
	l = s_list(f, "B", 0, 0, NULL, 0);
	assert_string_equal(l->org_id, "B");
	assert_int_equal(l->n_meetings, 4);
	assert_string_equal(l->meetings[0]->meeting_id, "old");
	assert_string_equal(l->meetings[1]->meeting_id, "n1");
	assert_string_equal(l->meetings[2]->meeting_id, "n2");
	assert_string_equal(l->meetings[3]->meeting_id, "jan");
	assert_string_equal(l->next_after, "");
	meetings_free_list(&l);

	/* A period of months. */
	l = s_list(f, "B", 202411, 202412, NULL, 0);
	assert_int_equal(l->n_meetings, 2);
	assert_string_equal(l->meetings[0]->meeting_id, "n1");
	meetings_free_list(&l);
	l = s_list(f, "B", 202412, 0, NULL, 0);
	assert_int_equal(l->n_meetings, 1);
	assert_string_equal(l->meetings[0]->meeting_id, "jan");
	meetings_free_list(&l);
	l = s_list(f, "B", 0, 196503, NULL, 0);
	assert_int_equal(l->n_meetings, 1);
	assert_string_equal(l->meetings[0]->meeting_id, "old");
	meetings_free_list(&l);

	/* Pages. */
	l = s_list(f, "B", 0, 0, NULL, 2);
	assert_int_equal(l->n_meetings, 2);
	assert_string_equal(l->next_after, "n1");
	meetings_free_list(&l);
	l = s_list(f, "B", 0, 0, "n1", 2);
	assert_int_equal(l->n_meetings, 2);
	assert_string_equal(l->meetings[0]->meeting_id, "n2");
	assert_string_equal(l->meetings[1]->meeting_id, "jan");
	assert_string_equal(l->next_after, "");
	meetings_free_list(&l);

	MDB_txn *txn = fx_read(f);
	assert_int_equal(meetings_list(s_mt(f), txn, "NOPE", 0, 0, NULL, 0, &l), MDB_NOTFOUND);
	assert_int_equal(meetings_list(s_mt(f), txn, "B", 0, 0, "other", 0, &l), EINVAL);
	assert_int_equal(meetings_list(s_mt(f), txn, "B", 0, 0, "ghost", 0, &l), EINVAL);
	assert_int_equal(meetings_list(s_mt(f), txn, "B", 202400, 0, NULL, 0, &l), EINVAL);
	assert_null(l);
	char township[16];
	assert_int_equal(meetings_township(s_mt(f), txn, "other", township), 0);
	assert_string_equal(township, TS1);
	assert_int_equal(meetings_township(s_mt(f), txn, "ghost", township), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- appraisal */

static Jiceng__V1__AppraisalRecorded
s_appraisal(const char *meeting, const char *org, int year, size_t n,
    Jiceng__V1__Grade **grades)
{
	Jiceng__V1__AppraisalRecorded a = JICENG__V1__APPRAISAL_RECORDED__INIT;
	a.meeting_id = (char *)meeting;
	a.org_id = (char *)org;
	a.year = year;
	a.n_grades = n;
	a.grades = grades;
	return a;
}

static struct verdict
s_appraise(struct fx *f, Jiceng__V1__AppraisalRecorded *a)
{
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_APPRAISAL_RECORDED, a);
}

/* g[0..3] graded a1-a4 QUALIFIED; the test changes them. */
static void
s_grades(Jiceng__V1__Grade g[4], Jiceng__V1__Grade *gp[4])
{
	static char *ids[] = { "a1", "a2", "a3", "a4" };
	for (int i = 0; i < 4; i++) {
		jiceng__v1__grade__init(&g[i]);
		g[i].member_id = ids[i];
		g[i].grade = QUALIFIED;
		gp[i] = &g[i];
	}
}

static void
test_m4_grades(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Grade g[4], *gp[4];
	Jiceng__V1__AppraisalRecorded a = s_appraisal("ap", "B", 2024, 3, gp);
	Jiceng__V1__MeetingView *v;

	s_grades(g, gp);
	ACCEPTED(s_meeting(f, "ap", "B", APPRAISAL, IDS("a1", "a2", "a3", "a4", "p1")));
	/* 2 EXCELLENT of 3 graded: more than a third. */
	g[0].grade = g[1].grade = EXCELLENT;
	REJECTED(s_appraise(f, &a), "M4");
	/* 1 of 3: exactly a third is allowed. */
	g[1].grade = QUALIFIED;
	a.n_grades = 3;
	/* A probationary member is not graded. */
	g[2].member_id = "p1";
	REJECTED(s_appraise(f, &a), "M4");
	g[2].member_id = "a3";
	v = s_get(f, "ap");
	assert_int_equal(v->appraisal_seq, 0);
	meetings_free_meeting(&v);
	ACCEPTED(s_appraise(f, &a));
	v = s_get(f, "ap");
	assert_int_equal(v->appraisal_year, 2024);
	assert_int_equal(v->appraisal_seq, f->seq);
	assert_int_equal(v->n_grades, 3);
	assert_string_equal(v->grades[0]->member_id, "a1");
	assert_int_equal(v->grades[0]->grade, EXCELLENT);
	meetings_free_meeting(&v);
}

/* Those graded are members of the org: not an activity or hosted member,
 * not a stranger. */
static void
test_grades_members_only(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Grade g[4], *gp[4];
	Jiceng__V1__AppraisalRecorded a = s_appraisal("ap", "B", 2024, 4, gp);

	s_grades(g, gp);
	ACCEPTED(s_meeting(f, "ap", "B", APPRAISAL, IDS("a1", "a2", "x")));
	g[3].member_id = "x";                        /* B is only x's activity org */
	REJECTED(s_appraise(f, &a), "NOT_MEMBER");
	g[3].member_id = "h";
	REJECTED(s_appraise(f, &a), "NOT_MEMBER");
	g[3].member_id = "ghost";
	REJECTED(s_appraise(f, &a), "UNKNOWN_MEMBER");
	g[3].member_id = "a1";                       /* twice */
	REJECTED(s_appraise(f, &a), "BAD_FIELD");
	g[3].member_id = "a4";
	g[3].grade = 0;
	REJECTED(s_appraise(f, &a), "BAD_FIELD");
	g[3].grade = QUALIFIED;
	ACCEPTED(fx_status(f, "a4", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	REJECTED(s_appraise(f, &a), "R3");
	a.n_grades = 3;
	ACCEPTED(s_appraise(f, &a));
}

static void
test_appraisal_meeting(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Grade g[4], *gp[4];
	Jiceng__V1__AppraisalRecorded a = s_appraisal("lec", "B", 2024, 4, gp);
	Jiceng__V1__OrgDissolved d = JICENG__V1__ORG_DISSOLVED__INIT;

	s_grades(g, gp);
	ACCEPTED(s_meeting(f, "lec", "B", LECTURE, IDS("a1")));
	ACCEPTED(s_meeting(f, "ap", "B", APPRAISAL, IDS("a1", "a2")));
	ACCEPTED(s_meeting(f, "ap2", "B", APPRAISAL, IDS("a1", "a2")));
	ACCEPTED(fx_register(f, "d1", "B3", FULL));
	ACCEPTED(s_meeting(f, "ap3", "B3", APPRAISAL, IDS("d1")));
	REJECTED(s_appraise(f, &a), "BAD_FIELD");    /* not an appraisal meeting */
	a.meeting_id = "ghost";
	REJECTED(s_appraise(f, &a), "UNKNOWN_MEETING");
	a.meeting_id = "ap";
	a.org_id = "B2";
	REJECTED(s_appraise(f, &a), "BAD_FIELD");    /* another org's meeting */
	a.org_id = "NOPE";
	REJECTED(s_appraise(f, &a), "UNKNOWN_ORG");
	a.org_id = "B";
	f->township = TS2;
	REJECTED(s_appraise(f, &a), "WRONG_TOWNSHIP");
	f->township = TS1;
	a.year = 2026;                               /* after the meeting's year */
	REJECTED(s_appraise(f, &a), "BAD_FIELD");
	a.year = 1899;
	REJECTED(s_appraise(f, &a), "BAD_FIELD");
	a.year = 2024;
	ACCEPTED(s_appraise(f, &a));
	REJECTED(s_appraise(f, &a), "APPRAISAL_EXISTS");
	a.year = 2025;                               /* a meeting is appraised once */
	REJECTED(s_appraise(f, &a), "APPRAISAL_EXISTS");
	a.year = 2024;
	a.meeting_id = "ap2";                        /* B's 2024 is appraised */
	REJECTED(s_appraise(f, &a), "APPRAISAL_EXISTS");
	a.year = 2025;
	ACCEPTED(s_appraise(f, &a));

	/* A dissolved org's appraisal (its one member died). */
	ACCEPTED(fx_status(f, "d1", JICENG__V1__MEMBER_STATUS__DECEASED));
	d.org_id = "B3";
	d.approving_org_id = "T";
	d.dissolved_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d));
	a.meeting_id = "ap3";
	a.org_id = "B3";
	a.n_grades = 1;
	g[0].member_id = "d1";
	REJECTED(s_appraise(f, &a), "ORG_DISSOLVED");
}

/* ---------------------------------------------------------- the module */

/* Every other event passes through unchanged; the module opens read-only
 * on the tables it created. */
static void
test_module(void **state)
{
	struct fx *f = *state;
	void *ro = NULL;
	MDB_txn *txn;

	assert_ptr_equal(domain_module(DOMAIN_MEETINGS), &meetings_module);
	assert_int_equal(meetings_module.domain, DOMAIN_MEETINGS);
	ACCEPTED(fx_tick(f));
	txn = fx_read(f);
	assert_int_equal(meetings_module.open(txn, 0, f->m, &ro), 0);
	mdb_txn_abort(txn);
	meetings_module.close(&ro);
	assert_null(ro);
}

int
unit_meetings(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_meeting_recorded, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_meeting_exists, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_several_types, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fields, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_org_township_dissolved, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m1_members_only, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m1_activity_member, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m1_hosted_member, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r3_attendee_normal, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m2_quorum, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m3_committee_quorum, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m5_future, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_attendance_by_month, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_meetings, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_m4_grades, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_grades_members_only, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_appraisal_meeting, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_module, s_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("meetings", tests, NULL, NULL);
}
