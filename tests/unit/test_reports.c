/*
 * Unit tests of the period audits and reports (workers/reports.c) and of
 * the calendar periods they stand on (lib/civil.c): the 三会一课 audit by
 * year, quarter and month, the months an org existed through, party
 * groups, inquorate meetings, the journaled thresholds; inactive members
 * (attendance and dues, hosted attendance, the floor of the months
 * counted, probationary members); certificate reviews (L4); dues arrears;
 * activity funds per member. One environment holds the membership,
 * meetings and funds tables, every event applied to both modules as
 * their workers would; each report is read as jiceng-query reads it.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "domain.h"
#include "domain_fx.h"
#include "funds.h"
#include "meetings.h"
#include "reports.h"

#define FULL       JICENG__V1__MEMBER_CATEGORY__FULL
#define PROBATION  JICENG__V1__MEMBER_CATEGORY__PROBATIONARY
#define BRANCH     JICENG__V1__ORG_KIND__BRANCH
#define GROUP      JICENG__V1__ORG_KIND__PARTY_GROUP
#define VILLAGE    JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE
#define ASSEMBLY   JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY
#define COMMITTEE  JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE
#define GROUP_MTG  JICENG__V1__MEETING_TYPE__GROUP_MEETING
#define LECTURE    JICENG__V1__MEETING_TYPE__PARTY_LECTURE
#define THEMED_DAY JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY
#define ORG_LIFE   JICENG__V1__MEETING_TYPE__ORG_LIFE_MEETING
#define APPRAISAL  JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL
#define ACTIVITY   JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND

/* A list as a count and an array: LIST(char *, "a1", "a2"). */
#define LIST(T, ...) (sizeof (T[]){ __VA_ARGS__ } / sizeof (T)), (T[]){ __VA_ARGS__ }

/* ---------------------------------------------------------- periods */

static void
test_period_months(void **state)
{
	int from, to;
	(void)state;
	assert_true(civil_period_months(2025, 0, 0, &from, &to));
	assert_int_equal(from, 202501);
	assert_int_equal(to, 202512);
	assert_true(civil_period_months(2025, 3, 0, &from, &to));
	assert_int_equal(from, 202507);
	assert_int_equal(to, 202509);
	assert_true(civil_period_months(1958, 0, 2, &from, &to));
	assert_int_equal(from, 195802);
	assert_int_equal(to, 195802);
	assert_false(civil_period_months(2025, 1, 1, &from, &to));   /* not both */
	assert_false(civil_period_months(2025, 5, 0, &from, &to));
	assert_false(civil_period_months(2025, 0, 13, &from, &to));
	assert_false(civil_period_months(1899, 0, 0, &from, &to));
	assert_false(civil_period_months(10000, 0, 0, &from, &to));
	assert_int_equal(civil_month_quarter(202501), 20251);
	assert_int_equal(civil_month_quarter(202506), 20252);
	assert_int_equal(civil_month_quarter(202512), 20254);
	assert_int_equal(civil_month_start(202503), fx_cst(2025, 3, 1, 0, 0));
	assert_int_equal(civil_month_start(196912), fx_cst(1969, 12, 1, 0, 0));
}

static void
test_period_parse(void **state)
{
	int y, q, m;
	(void)state;
	assert_true(civil_period_parse("2025", &y, &q, &m));
	assert_true(y == 2025 && q == 0 && m == 0);
	assert_true(civil_period_parse("2025Q3", &y, &q, &m));
	assert_true(y == 2025 && q == 3 && m == 0);
	assert_true(civil_period_parse("2025-q4", &y, &q, &m));
	assert_true(y == 2025 && q == 4 && m == 0);
	assert_true(civil_period_parse("2025-07", &y, &q, &m));
	assert_true(y == 2025 && q == 0 && m == 7);
	assert_true(civil_period_parse("195612", &y, &q, &m));
	assert_true(y == 1956 && q == 0 && m == 12);
	const char *bad[] = { "", "25", "2025Q", "2025Q0", "2025Q5", "2025-13", "2025-7",
	    "2025-00", "1899", "2025Q12", "20x5", "2025-Q", "2025/07" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(civil_period_parse(bad[i], &y, &q, &m));
	assert_true(civil_month_parse("2025-07", &m) && m == 202507);
	assert_true(civil_month_parse("190001", &m) && m == 190001);
	assert_false(civil_month_parse("2025-7", &m));
	assert_false(civil_month_parse("189912", &m));
}

/* ---------------------------------------------------------- fixture */

/* Both domain modules in one environment, each applying its own events
 * (as the meetings and the funds worker do, each to its own). */
struct both {
	void *mt, *funds;
};

static int
s_both_open(MDB_txn *txn, unsigned flags, struct membership *m, void **state)
{
	struct both *b = calloc(1, sizeof *b);
	int rc;
	if (!b)
		return ENOMEM;
	if ((rc = meetings_module.open(txn, flags, m, &b->mt)) ||
	    (rc = funds_module.open(txn, flags, m, &b->funds))) {
		free(b);
		return rc;
	}
	*state = b;
	return 0;
}

static void
s_both_close(void **state)
{
	struct both *b = *state;
	meetings_module.close(&b->mt);
	funds_module.close(&b->funds);
	free(b);
	*state = NULL;
}

static int
s_both_apply(void *state, MDB_txn *txn, const struct event_ctx *ev, struct verdict *v)
{
	struct both *b = state;
	int rc = meetings_module.apply(b->mt, txn, ev, v);
	return rc || !v->accepted ? rc : funds_module.apply(b->funds, txn, ev, v);
}

static const struct domain_module s_both = {
	.max_dbs = MEETINGS_MAX_DBS + FUNDS_MAX_DBS,
	.open = s_both_open,
	.close = s_both_close,
	.apply = s_both_apply,
};

static struct meetings *
s_mt(struct fx *f)
{
	return ((struct both *)f->module_state)->mt;
}

static struct funds *
s_funds(struct fx *f)
{
	return ((struct both *)f->module_state)->funds;
}

/* org of kind under parent, established at `at`, approved by T or U. */
static void
s_org_at(struct fx *f, const char *id, int kind, const char *parent, int64_t at)
{
	Jiceng__V1__OrgEstablished e = JICENG__V1__ORG_ESTABLISHED__INIT;
	e.org_id = (char *)id;
	e.kind = kind;
	e.parent_id = (char *)parent;
	e.name = (char *)id;
	e.approving_org_id = strcmp(f->township, TS1) == 0 ? "T" : "U";
	e.established_at = at;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
}

static void
s_member(struct fx *f, const char *id, const char *home, int category, int64_t admitted)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, home, category);
	if (admitted)
		e.admitted_at = admitted;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e));
}

/* A meeting of org at `at`: types, attendees, the committee (M3). */
static struct verdict
s_meet(struct fx *f, const char *id, const char *org, int64_t at, size_t ntypes,
    int *types, size_t natt, char **att)
{
	Jiceng__V1__MeetingHeld e = JICENG__V1__MEETING_HELD__INIT;
	char *committee[] = { "a1", "a2", "a3" };
	e.meeting_id = (char *)id;
	e.org_id = (char *)org;
	e.held_at = at;
	e.topic = "学习";
	e.n_types = ntypes;
	e.types = (Jiceng__V1__MeetingType *)types;
	e.n_attendee_ids = natt;
	e.attendee_ids = att;
	e.n_committee_member_ids = 3;
	e.committee_member_ids = committee;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &e);
}

static void
s_dues(struct fx *f, const char *member, int month)
{
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = (char *)member;
	e.month = month;
	e.amount_fen = 50;
	e.paid_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &e));
}

/* Activity funds of `fen` to a member or an org for period. */
static void
s_activity(struct fx *f, const char *id, const char *member, const char *org, int period,
    int64_t fen)
{
	Jiceng__V1__FundDisbursed e = JICENG__V1__FUND_DISBURSED__INIT;
	e.disbursement_id = (char *)id;
	e.kind = ACTIVITY;
	e.payee_case = member ? JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID :
	    JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID;
	if (member)
		e.payee_member_id = (char *)member;
	else
		e.payee_org_id = (char *)org;
	e.amount_fen = fen;
	e.period = period;
	e.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	e.paid_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &e));
}

/* The county of these tests. TS1: township committee T, village V, its
 * branches B (members a1-a4, full; party groups G1 with member g1, from
 * December 2024, and G2, from 15 June 2025), B2 (n1-n4 and n5 full, x
 * expelled, p1 probationary since May 2025), B3 (founded 15 February
 * 2025), B4 (dissolved 10 June 2025) and B5 (founded 2026). TS2:
 * committee U, village W, branch C (members c, and h, away since March
 * 2024 and hosted by B2). Orgs are founded on 1 December 2024 unless
 * said; the journal time is then 20 January 2026. */
static void
s_county(struct fx *f)
{
	int64_t founded = fx_cst(2024, 12, 1, 9, 0);

	f->now = founded;
	f->township = TS2;
	fx_tree(f, "U", "W", "C");
	s_member(f, "c", "C", FULL, 0);
	s_member(f, "h", "C", FULL, 0);
	f->township = TS1;
	fx_tree(f, "T", "V", "B");
	s_org_at(f, "G1", GROUP, "B", founded);
	s_org_at(f, "B2", BRANCH, "V", founded);
	s_org_at(f, "B4", BRANCH, "V", founded);
	for (int i = 1; i <= 4; i++) {
		char id[16];
		snprintf(id, sizeof id, "a%d", i);
		s_member(f, id, "B", FULL, 0);
		snprintf(id, sizeof id, "n%d", i);
		s_member(f, id, "B2", FULL, 0);
	}
	s_member(f, "n5", "B2", FULL, 0);
	s_member(f, "x", "B2", FULL, 0);
	s_member(f, "g1", "G1", FULL, 0);
	f->now = fx_cst(2026, 1, 20, 9, 0);
	ACCEPTED(fx_status(f, "x", JICENG__V1__MEMBER_STATUS__EXPELLED));
	s_member(f, "p1", "B2", PROBATION, fx_cst(2025, 5, 10, 9, 0));
	s_org_at(f, "G2", GROUP, "B", fx_cst(2025, 6, 15, 9, 0));
	s_org_at(f, "B3", BRANCH, "V", fx_cst(2025, 2, 15, 9, 0));
	s_org_at(f, "B5", BRANCH, "V", fx_cst(2026, 1, 5, 9, 0));
	Jiceng__V1__OrgDissolved d = JICENG__V1__ORG_DISSOLVED__INIT;
	d.org_id = "B4";
	d.approving_org_id = "T";
	d.reason = "合并";
	d.dissolved_at = fx_cst(2025, 6, 10, 9, 0);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d));
}

static int
s_setup(void **state)
{
	struct fx *f = fx_new_dbs(s_both.max_dbs);
	MDB_txn *txn = fx_write(f);
	assert_int_equal(s_both.open(txn, MDB_CREATE, f->m, &f->module_state), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	f->module = &s_both;
	s_county(f);
	*state = f;
	return 0;
}

/* ---------------------------------------------------------- 三会一课 audit */

/* Day d of month (1-12) of 2025 at 9:00 CST. */
static int64_t
s_day(int month, int d)
{
	return fx_cst(2025, month, d, 9, 0);
}

/* B's year 2025: committee meetings every month but August, March's
 * inquorate (one committee member of three); assemblies in January, May
 * (inquorate: 2 of 4 voting members), July (also the themed party day)
 * and November; a lecture each quarter; a themed party day every month
 * but December; group meetings of G1 every month but December and of B
 * itself from July; the org-life meeting in December; no appraisal. */
static void
s_b_year(struct fx *f)
{
	char id[32];
	for (int m = 1; m <= 12; m++) {
		if (m != 8) {
			snprintf(id, sizeof id, "c%02d", m);
			ACCEPTED(s_meet(f, id, "B", s_day(m, 3), LIST(int, COMMITTEE),
			    m == 3 ? 1 : 2, (char *[]){ "a1", "a2" }));
		}
		if (m != 12 && m != 7) {
			snprintf(id, sizeof id, "t%02d", m);
			ACCEPTED(s_meet(f, id, "B", s_day(m, 10), LIST(int, THEMED_DAY),
			    LIST(char *, "a1", "a2", "a3")));
		}
		if (m != 12) {
			snprintf(id, sizeof id, "g%02d", m);
			ACCEPTED(s_meet(f, id, "G1", s_day(m, 12), LIST(int, GROUP_MTG),
			    LIST(char *, "g1")));
		}
		if (m >= 7) {
			snprintf(id, sizeof id, "bg%02d", m);
			ACCEPTED(s_meet(f, id, "B", s_day(m, 14), LIST(int, GROUP_MTG),
			    LIST(char *, "a4")));
		}
		if (m % 3 == 2) {
			snprintf(id, sizeof id, "l%02d", m);
			ACCEPTED(s_meet(f, id, "B", s_day(m, 20), LIST(int, LECTURE),
			    LIST(char *, "a1")));
		}
	}
	ACCEPTED(s_meet(f, "as01", "B", s_day(1, 15), LIST(int, ASSEMBLY),
	    LIST(char *, "a1", "a2", "a3")));
	ACCEPTED(s_meet(f, "as05", "B", s_day(5, 15), LIST(int, ASSEMBLY),
	    LIST(char *, "a1", "a2")));
	ACCEPTED(s_meet(f, "as07", "B", s_day(7, 15), LIST(int, ASSEMBLY, THEMED_DAY),
	    LIST(char *, "a1", "a2", "a3", "a4")));
	ACCEPTED(s_meet(f, "as11", "B", s_day(11, 15), LIST(int, ASSEMBLY),
	    LIST(char *, "a2", "a3", "a4")));
	ACCEPTED(s_meet(f, "ol12", "B", s_day(12, 20), LIST(int, ORG_LIFE),
	    LIST(char *, "a1", "a2", "a3", "a4")));
}

static Jiceng__V1__MeetingsAuditReport *
s_audit(struct fx *f, const char *township, const char *org, int year, int quarter,
    int month, const char *after, unsigned limit)
{
	struct reports_scope s = { township, org };
	struct reports_page p = { after, limit };
	Jiceng__V1__MeetingsAuditReport *r;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_meetings_audit(f->m, s_mt(f), txn, &s, year, quarter, month,
	    f->now, &p, &r), 0);
	mdb_txn_abort(txn);
	return r;
}

static const Jiceng__V1__OrgMeetingsAudit *
s_audit_org(const Jiceng__V1__MeetingsAuditReport *r, const char *org)
{
	for (size_t i = 0; i < r->n_orgs; i++)
		if (strcmp(r->orgs[i]->org_id, org) == 0)
			return r->orgs[i];
	fail_msg("org %s is not in the audit", org);
	return NULL;
}

static const Jiceng__V1__MeetingRequirement *
s_req(const Jiceng__V1__OrgMeetingsAudit *o, int type)
{
	for (size_t i = 0; i < o->n_requirements; i++)
		if ((int)o->requirements[i]->type == type)
			return o->requirements[i];
	return NULL;
}

/* One requirement's figures, and its short units in order. */
static void
s_req_is(const Jiceng__V1__OrgMeetingsAudit *o, int type, uint32_t due, uint32_t required,
    uint32_t held, uint32_t not_counted, size_t nshort, const int32_t *shorts)
{
	const Jiceng__V1__MeetingRequirement *q = s_req(o, type);
	assert_non_null(q);
	assert_int_equal(q->units_due, due);
	assert_int_equal(q->required, required);
	assert_int_equal(q->held, held);
	assert_int_equal(q->not_counted, not_counted);
	assert_int_equal(q->units_short, nshort);
	assert_int_equal(q->n_short_periods, nshort);
	for (size_t i = 0; i < nshort; i++)
		assert_int_equal(q->short_periods[i], shorts[i]);
}

static void
test_audit_year(void **state)
{
	struct fx *f = *state;
	s_b_year(f);
	Jiceng__V1__MeetingsAuditReport *r = s_audit(f, TS1, NULL, 2025, 0, 0, NULL, 0);
	const Jiceng__V1__OrgMeetingsAudit *b = s_audit_org(r, "B");

	assert_int_equal(r->from_month, 202501);
	assert_int_equal(r->to_month, 202512);
	assert_string_equal(b->township_id, TS1);
	assert_int_equal(b->months, 12);
	assert_int_equal(b->party_groups, 2);
	assert_int_equal(b->n_requirements, 7);
	assert_true(b->shortfall);
	assert_int_equal(s_req(b, ASSEMBLY)->unit, JICENG__V1__AUDIT_UNIT__PER_QUARTER);
	assert_int_equal(s_req(b, ASSEMBLY)->per_unit, 1);
	/* May's assembly is inquorate (M2): not counted, Q2 short. */
	s_req_is(b, ASSEMBLY, 4, 4, 3, 1, 1, (int32_t[]){ 20252 });
	/* March's committee meeting is inquorate (M3); none in August. */
	s_req_is(b, COMMITTEE, 12, 12, 10, 1, 2, (int32_t[]){ 202503, 202508 });
	/* One group to June, two from July (G2 founded 15 June): G1's and B's
	 * own group meetings count; December has B's alone. */
	s_req_is(b, GROUP_MTG, 12, 18, 17, 0, 1, (int32_t[]){ 202512 });
	s_req_is(b, LECTURE, 4, 4, 4, 0, 0, NULL);
	/* July's record is the assembly and the themed party day: both. */
	s_req_is(b, THEMED_DAY, 12, 12, 11, 0, 1, (int32_t[]){ 202512 });
	s_req_is(b, ORG_LIFE, 1, 1, 1, 0, 0, NULL);
	assert_int_equal(s_req(b, ORG_LIFE)->unit, JICENG__V1__AUDIT_UNIT__PER_YEAR);
	s_req_is(b, APPRAISAL, 1, 1, 0, 0, 1, (int32_t[]){ 2025 });
	reports_free(r);
}

/* Orgs counted for the months they existed through; only branches. */
static void
test_audit_existence(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingsAuditReport *r = s_audit(f, TS1, NULL, 2025, 0, 0, NULL, 0);
	const Jiceng__V1__OrgMeetingsAudit *b3 = s_audit_org(r, "B3"), *b4 = s_audit_org(r, "B4");

	/* B, B2, B3, B4: not T, V, the groups, nor B5 (founded 2026). */
	assert_int_equal(r->n_orgs, 4);
	assert_string_equal(r->orgs[0]->org_id, "B");
	assert_string_equal(r->orgs[3]->org_id, "B4");
	assert_string_equal(r->next_after, "");
	/* Founded 15 February: March to December, Q2-Q4, not the year. */
	assert_int_equal(b3->months, 10);
	s_req_is(b3, COMMITTEE, 10, 10, 0, 0, 10, (int32_t[]){ 202503, 202504, 202505, 202506,
	    202507, 202508, 202509, 202510, 202511, 202512 });
	s_req_is(b3, ASSEMBLY, 3, 3, 0, 0, 3, (int32_t[]){ 20252, 20253, 20254 });
	s_req_is(b3, ORG_LIFE, 0, 0, 0, 0, 0, NULL);
	assert_int_equal(b3->party_groups, 0);
	s_req_is(b3, GROUP_MTG, 0, 0, 0, 0, 0, NULL);   /* no groups: not due */
	/* Dissolved 10 June: January to May, Q1 only. */
	assert_int_equal(b4->months, 5);
	s_req_is(b4, ASSEMBLY, 1, 1, 0, 0, 1, (int32_t[]){ 20251 });
	s_req_is(b4, THEMED_DAY, 5, 5, 0, 0, 5, (int32_t[]){ 202501, 202502, 202503, 202504,
	    202505 });
	reports_free(r);
	/* 2026: B5 (from 5 January) did not exist through January; B4 is gone. */
	r = s_audit(f, TS1, NULL, 2026, 0, 1, NULL, 0);
	assert_int_equal(r->n_orgs, 3);
	assert_string_equal(r->orgs[2]->org_id, "B3");
	/* On 20 January the month is not over: nothing is due yet. */
	s_req_is(r->orgs[0], COMMITTEE, 0, 0, 0, 0, 0, NULL);
	assert_false(r->orgs[0]->shortfall);
	reports_free(r);
}

/* A quarter audits the monthly and quarterly types, a month the monthly. */
static void
test_audit_quarter_month(void **state)
{
	struct fx *f = *state;
	s_b_year(f);
	Jiceng__V1__MeetingsAuditReport *r = s_audit(f, NULL, "B", 2025, 3, 0, NULL, 0);
	assert_int_equal(r->n_orgs, 1);
	const Jiceng__V1__OrgMeetingsAudit *b = r->orgs[0];
	assert_int_equal(r->from_month, 202507);
	assert_int_equal(r->to_month, 202509);
	assert_int_equal(b->n_requirements, 5);
	assert_null(s_req(b, ORG_LIFE));
	s_req_is(b, ASSEMBLY, 1, 1, 1, 0, 0, NULL);
	s_req_is(b, COMMITTEE, 3, 3, 2, 0, 1, (int32_t[]){ 202508 });
	s_req_is(b, GROUP_MTG, 3, 6, 6, 0, 0, NULL);
	reports_free(r);
	/* Asked on 15 August: July is due, August and the quarter not yet. */
	struct reports_scope s = { NULL, "B" };
	struct reports_page p = { NULL, 0 };
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_meetings_audit(f->m, s_mt(f), txn, &s, 2025, 3, 0,
	    fx_cst(2025, 8, 15, 9, 0), &p, &r), 0);
	mdb_txn_abort(txn);
	b = r->orgs[0];
	assert_int_equal(r->at, fx_cst(2025, 8, 15, 9, 0));
	s_req_is(b, COMMITTEE, 1, 1, 1, 0, 0, NULL);
	s_req_is(b, ASSEMBLY, 0, 0, 0, 0, 0, NULL);
	s_req_is(b, GROUP_MTG, 1, 2, 2, 0, 0, NULL);
	reports_free(r);
	r = s_audit(f, NULL, "B", 2025, 0, 5, NULL, 0);
	b = r->orgs[0];
	assert_int_equal(b->n_requirements, 3);
	assert_null(s_req(b, ASSEMBLY));
	s_req_is(b, COMMITTEE, 1, 1, 1, 0, 0, NULL);
	assert_false(b->shortfall);
	reports_free(r);
}

/* The thresholds are the journaled rules in force. */
static void
test_audit_rules(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules rules = JICENG__V1__RULES__INIT;
	s_b_year(f);
	rules.meetings_committee_per_month = 2;
	rules.meetings_assembly_per_quarter = 3;
	ACCEPTED(fx_rules(f, &rules));
	Jiceng__V1__MeetingsAuditReport *r = s_audit(f, NULL, "B", 2025, 2, 0, NULL, 0);
	const Jiceng__V1__OrgMeetingsAudit *b = r->orgs[0];
	s_req_is(b, COMMITTEE, 3, 6, 3, 0, 3, (int32_t[]){ 202504, 202505, 202506 });
	s_req_is(b, ASSEMBLY, 1, 3, 0, 1, 1, (int32_t[]){ 20252 });
	s_req_is(b, THEMED_DAY, 3, 3, 3, 0, 0, NULL);
	reports_free(r);
}

/* A township's branches, an org's subtree, the county; pages. */
static void
test_audit_scope(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MeetingsAuditReport *r = s_audit(f, TS2, NULL, 2025, 0, 6, NULL, 0);
	assert_int_equal(r->n_orgs, 1);
	assert_string_equal(r->orgs[0]->org_id, "C");
	reports_free(r);
	r = s_audit(f, NULL, "V", 2025, 0, 6, NULL, 2);
	assert_int_equal(r->n_orgs, 2);
	assert_string_equal(r->orgs[1]->org_id, "B2");
	assert_string_equal(r->next_after, "B2");
	reports_free(r);
	r = s_audit(f, NULL, "V", 2025, 0, 6, "B2", 2);
	assert_int_equal(r->n_orgs, 1);   /* B3; B4 did not exist through June */
	assert_string_equal(r->orgs[0]->org_id, "B3");
	assert_string_equal(r->next_after, "");
	reports_free(r);
	r = s_audit(f, "", "", 2025, 0, 6, NULL, 0);
	assert_int_equal(r->n_orgs, 4);   /* B, B2, B3, C */
	reports_free(r);
	struct reports_scope s = { NULL, "nope" };
	struct reports_page p = { NULL, 0 };
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_meetings_audit(f->m, s_mt(f), txn, &s, 2025, 0, 0, f->now, &p, &r),
	    MDB_NOTFOUND);
	assert_null(r);
	s.org_id = "B";
	assert_int_equal(reports_meetings_audit(f->m, s_mt(f), txn, &s, 2025, 1, 1, f->now, &p, &r),
	    EINVAL);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- members */

/* What B2's members and h did: n1 attended in February, n2 paid January's
 * dues, n3 attended in April and paid June's, n5 paid March's; h, away
 * and hosted by B2, attended there in June; x (expelled), n4, p1 and c
 * nothing. */
static void
s_b2_record(struct fx *f)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileReported rep = JICENG__V1__MOBILE_REPORTED__INIT;

	d.flow_id = "flow-h";
	d.member_id = "h";
	d.destination_code = "110105";
	d.host_org_id = "B2";
	d.expected_months = 3;
	d.departed_at = fx_cst(2024, 3, 10, 9, 0);
	f->township = TS2;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d));
	f->township = TS1;
	rep.flow_id = "flow-h";
	rep.host_org_id = "B2";
	rep.reported_at = fx_cst(2024, 3, 20, 9, 0);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &rep));
	ACCEPTED(s_meet(f, "b2-02", "B2", s_day(2, 5), LIST(int, THEMED_DAY), LIST(char *, "n1")));
	ACCEPTED(s_meet(f, "b2-04", "B2", s_day(4, 5), LIST(int, THEMED_DAY), LIST(char *, "n3")));
	ACCEPTED(s_meet(f, "b2-06", "B2", s_day(6, 5), LIST(int, THEMED_DAY), LIST(char *, "h")));
	s_dues(f, "n2", 202501);
	s_dues(f, "n3", 202506);
	s_dues(f, "n5", 202503);
	s_dues(f, "n5", 202509);   /* paid ahead: after the month asked */
}

static Jiceng__V1__InactiveMemberList *
s_inactive(struct fx *f, const char *township, const char *org, int month, int since)
{
	struct reports_scope s = { township, org };
	struct reports_page p = { NULL, 0 };
	Jiceng__V1__InactiveMemberList *l;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_inactive_members(f->m, s_mt(f), txn, s_funds(f), txn, &s,
	    month, since, &p, &l), 0);
	mdb_txn_abort(txn);
	return l;
}

static void
s_inactive_is(const Jiceng__V1__InactiveMember *w, const char *id, uint32_t months,
    bool inactive, int attended, int dues)
{
	assert_string_equal(w->member_id, id);
	assert_int_equal(w->months, months);
	assert_int_equal(w->inactive, inactive);
	assert_int_equal(w->last_attended_month, attended);
	assert_int_equal(w->last_dues_month, dues);
}

static void
test_inactive_members(void **state)
{
	struct fx *f = *state;
	s_b2_record(f);
	Jiceng__V1__InactiveMemberList *l = s_inactive(f, NULL, "B2", 202507, 0);

	assert_int_equal(l->inactive_months, 6);
	assert_int_equal(l->warning_months, 3);
	/* Not n3 (dues in June), nor x (expelled). */
	assert_int_equal(l->n_members, 5);
	s_inactive_is(l->members[0], "n1", 5, false, 202502, 0);
	s_inactive_is(l->members[1], "n2", 6, true, 0, 202501);
	/* Admitted July 2010, nothing since: every month from then. */
	s_inactive_is(l->members[2], "n4", 181, true, 0, 0);
	s_inactive_is(l->members[3], "n5", 4, false, 0, 202503);
	/* Probationary since May: counted from its admission. */
	s_inactive_is(l->members[4], "p1", 3, false, 0, 0);
	assert_int_equal(l->members[4]->category, PROBATION);
	assert_string_equal(l->members[4]->home_org_id, "B2");
	assert_string_equal(l->members[4]->township_id, TS1);
	reports_free(l);
	/* Counting from May 2025 on: a1-a4, g1, n1, n2, n4, n5, p1. */
	l = s_inactive(f, TS1, NULL, 202507, 202505);
	assert_int_equal(l->n_members, 10);
	s_inactive_is(l->members[4], "g1", 3, false, 0, 0);
	s_inactive_is(l->members[5], "n1", 3, false, 202502, 0);
	s_inactive_is(l->members[6], "n2", 3, false, 0, 202501);
	s_inactive_is(l->members[8], "n5", 3, false, 0, 202503);
	reports_free(l);
	/* h attended at its host org in June: active; c is not. */
	l = s_inactive(f, TS2, NULL, 202507, 0);
	assert_int_equal(l->n_members, 1);
	s_inactive_is(l->members[0], "c", 181, true, 0, 0);
	reports_free(l);
}

static Jiceng__V1__DuesArrearsList *
s_arrears(struct fx *f, const char *org, int month, const char *after, unsigned limit)
{
	struct reports_scope s = { NULL, org };
	struct reports_page p = { after, limit };
	Jiceng__V1__DuesArrearsList *l;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_dues_arrears(f->m, s_funds(f), txn, &s, month, 0, &p, &l), 0);
	mdb_txn_abort(txn);
	return l;
}

static void
test_dues_arrears(void **state)
{
	struct fx *f = *state;
	s_b2_record(f);
	Jiceng__V1__DuesArrearsList *l = s_arrears(f, "B2", 202507, NULL, 3);

	assert_int_equal(l->lapse_months, 6);
	assert_int_equal(l->arrears_months, 3);
	/* n1, n2, n4 then (next page) n5, p1; not n3 (paid June). */
	assert_int_equal(l->n_members, 3);
	assert_string_equal(l->members[0]->member_id, "n1");
	assert_int_equal(l->members[0]->months, 181);
	assert_true(l->members[0]->lapsed);
	assert_int_equal(l->members[1]->last_paid_month, 202501);
	assert_int_equal(l->members[1]->months, 6);
	assert_true(l->members[1]->lapsed);
	assert_string_equal(l->next_after, "n4");
	reports_free(l);
	l = s_arrears(f, "B2", 202507, "n4", 3);
	assert_int_equal(l->n_members, 2);
	assert_string_equal(l->members[0]->member_id, "n5");
	assert_int_equal(l->members[0]->months, 4);
	assert_int_equal(l->members[0]->last_paid_month, 202503);
	assert_false(l->members[0]->lapsed);
	assert_string_equal(l->members[1]->member_id, "p1");
	assert_int_equal(l->members[1]->months, 3);
	assert_string_equal(l->next_after, "");
	reports_free(l);
	/* At March n5 is paid up, n2 two months behind: neither listed. */
	l = s_arrears(f, "B2", 202503, NULL, 0);
	for (size_t i = 0; i < l->n_members; i++)
		assert_true(strcmp(l->members[i]->member_id, "n5") != 0 &&
		    strcmp(l->members[i]->member_id, "n2") != 0);
	reports_free(l);
}

/* ---------------------------------------------------------- certificate reviews */

static void
s_depart(struct fx *f, const char *flow, const char *member, int64_t at, int64_t reviewed)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	d.flow_id = (char *)flow;
	d.member_id = (char *)member;
	d.destination_code = "440305";
	d.expected_months = 3;
	d.certificate_no = "LD-001";
	d.departed_at = at;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d));
	if (reviewed) {
		Jiceng__V1__CertificateReviewed c = JICENG__V1__CERTIFICATE_REVIEWED__INIT;
		c.flow_id = (char *)flow;
		c.reviewed_at = reviewed;
		ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED, &c));
	}
}

static Jiceng__V1__CertificateReviewList *
s_reviews(struct fx *f, const char *township, int64_t at)
{
	struct reports_scope s = { township, NULL };
	struct reports_page p = { NULL, 0 };
	Jiceng__V1__CertificateReviewList *l;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_certificate_reviews(f->m, txn, &s, at, &p, &l), 0);
	mdb_txn_abort(txn);
	return l;
}

static void
test_certificate_reviews(void **state)
{
	struct fx *f = *state;
	int64_t at = fx_cst(2025, 7, 1, 0, 0);
	Jiceng__V1__MobileReturned back = JICENG__V1__MOBILE_RETURNED__INIT;

	s_b2_record(f);   /* h: departed 10 March 2024, never reviewed, hosted by B2 */
	s_depart(f, "fa3", "a3", fx_cst(2024, 5, 1, 9, 0), fx_cst(2024, 6, 1, 9, 0));
	s_depart(f, "fn1", "n1", fx_cst(2024, 6, 1, 9, 0), fx_cst(2025, 2, 1, 9, 0));
	s_depart(f, "fn2", "n2", fx_cst(2025, 1, 5, 9, 0), 0);
	s_depart(f, "fn3", "n3", fx_cst(2024, 1, 5, 9, 0), 0);
	back.flow_id = "fn3";
	back.returned_at = fx_cst(2025, 3, 1, 9, 0);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &back));

	/* TS1's members: a3 reviewed 1 June 2024 (13 months); not n1
	 * (reviewed in February), n2 (left in January), n3 (back home), nor
	 * h, whose home org is TS2's. */
	Jiceng__V1__CertificateReviewList *l = s_reviews(f, TS1, at);
	assert_int_equal(l->at, at);
	assert_int_equal(l->n_episodes, 1);
	assert_string_equal(l->episodes[0]->flow_id, "fa3");
	assert_int_equal(l->episodes[0]->months, 12);
	assert_int_equal(l->episodes[0]->certificate_reviewed_at, fx_cst(2024, 6, 1, 9, 0));
	assert_string_equal(l->episodes[0]->certificate_no, "LD-001");
	reports_free(l);
	/* A day before the twelve months are up: not yet. */
	l = s_reviews(f, TS1, fx_cst(2025, 5, 31, 9, 0));
	assert_int_equal(l->n_episodes, 0);
	reports_free(l);
	/* h, never reviewed, away since March 2024. */
	l = s_reviews(f, TS2, at);
	assert_int_equal(l->n_episodes, 1);
	assert_string_equal(l->episodes[0]->flow_id, "flow-h");
	assert_int_equal(l->episodes[0]->certificate_reviewed_at, 0);
	assert_int_equal(l->episodes[0]->months, 15);
	assert_string_equal(l->episodes[0]->host_org_id, "B2");
	reports_free(l);
	l = s_reviews(f, "", at);
	assert_int_equal(l->n_episodes, 2);
	reports_free(l);
}

/* ---------------------------------------------------------- activity funds */

static Jiceng__V1__ActivityFundsReport *
s_funds_report(struct fx *f, const char *township, const char *org)
{
	struct reports_scope s = { township, org };
	struct reports_page p = { NULL, 0 };
	Jiceng__V1__ActivityFundsReport *r;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(reports_activity_funds(f->m, s_funds(f), txn, &s, 2025, &p, &r), 0);
	mdb_txn_abort(txn);
	return r;
}

static void
s_row_is(const Jiceng__V1__ActivityFundsRow *w, const char *id, uint32_t members,
    int64_t disbursed, int64_t reversed, int64_t per_member, bool below)
{
	assert_string_equal(w->id, id);
	assert_int_equal(w->members, members);
	assert_int_equal(w->disbursed_fen, disbursed);
	assert_int_equal(w->reversed_fen, reversed);
	assert_int_equal(w->net_fen, disbursed - reversed);
	assert_int_equal(w->per_member_fen, per_member);
	assert_int_equal(w->below_minimum, below);
}

static void
test_activity_funds(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__BudgetAllocated b = JICENG__V1__BUDGET_ALLOCATED__INIT;
	Jiceng__V1__DisbursementReversed rev = JICENG__V1__DISBURSEMENT_REVERSED__INIT;

	b.budget_id = "bud0";
	b.kind = ACTIVITY;
	b.year = 2024;
	b.amount_fen = 1000000;
	b.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, &b));
	b.budget_id = "bud1";
	b.year = 2025;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, &b));
	s_activity(f, "d1", NULL, "V", 202503, 20000);
	s_activity(f, "d2", NULL, "B2", 202504, 5000);
	s_activity(f, "d3", NULL, "B", 202505, 3000);
	s_activity(f, "d4", "a1", NULL, 202506, 1000);
	s_activity(f, "d5", NULL, "B", 202412, 9000);   /* last year's: not counted */
	rev.disbursement_id = "d3";
	rev.reason = "重复发放";
	rev.reversed_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED, &rev));
	f->township = TS2;
	b.budget_id = "bud2";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, &b));
	s_activity(f, "d6", NULL, "W", 202502, 60000);
	f->township = TS1;

	/* The county: TS1 (members a1-a4, g1, n1-n5, p1: 11) and TS2 (c, h). */
	Jiceng__V1__ActivityFundsReport *r = s_funds_report(f, NULL, NULL);
	assert_int_equal(r->min_per_member_fen, 6000);
	assert_int_equal(r->n_rows, 2);
	s_row_is(r->rows[0], TS1, 11, 29000, 3000, 2363, true);
	s_row_is(r->rows[1], TS2, 2, 60000, 0, 30000, false);
	s_row_is(r->total, "", 13, 89000, 3000, 6615, false);
	reports_free(r);
	/* TS1 by the orgs under its committee: V alone (its subtree). */
	r = s_funds_report(f, TS1, NULL);
	assert_int_equal(r->n_rows, 1);
	s_row_is(r->rows[0], "V", 11, 29000, 3000, 2363, true);
	s_row_is(r->total, TS1, 11, 29000, 3000, 2363, true);
	reports_free(r);
	r = s_funds_report(f, NULL, "B");   /* a1-a4, g1; B's and a1's payments */
	assert_int_equal(r->n_rows, 1);
	s_row_is(r->rows[0], "B", 5, 4000, 3000, 200, true);
	reports_free(r);
	r = s_funds_report(f, NULL, "B3");   /* no members: nothing to fall short of */
	s_row_is(r->rows[0], "B3", 0, 0, 0, 0, false);
	s_row_is(r->total, "B3", 0, 0, 0, 0, false);
	reports_free(r);
}

int
unit_reports(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period_months),
		cmocka_unit_test(test_period_parse),
		cmocka_unit_test_setup_teardown(test_audit_year, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit_existence, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit_quarter_month, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit_rules, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit_scope, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inactive_members, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dues_arrears, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_certificate_reviews, s_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_activity_funds, s_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("reports", tests, NULL, NULL);
}
