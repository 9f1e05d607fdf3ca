/*
 * 93-reports: the period audits and reports through the real daemon (all
 * three workers, CURVE keys for townships A and B and the county). A small
 * county is fed half a year of business (January to July 2025: the
 * business dates are in the events, so no clock is faked): branch
 * meetings, one inquorate, attendance by a mobile member hosted in the
 * other township, dues, activity funds with a reversal, a departure never
 * reviewed; and [rules] meetings.lecture_per_quarter = 2 in the config,
 * journaled like any rule. Each report is then read through the query
 * socket and through jicengctl report (table and --json), its rows
 * checked, and scoped by key: a township reads its own township, the
 * county key the county. What each rule decides in detail is the unit
 * group reports's.
 */
#include "harness.h"
#include "hcurve.h"

#include "civil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_TA H_TOWNSHIP
#define S_TB H_TOWNSHIP2
#define S_B_COMMITTEE "rb-committee"
#define S_B_VILLAGE   "rb-village"
#define S_B_BRANCH    "rb-branch"
#define S_A1 "ra-m-0"
#define S_A2 "ra-m-1"
#define S_A3 "ra-m-2"
#define S_A4 "ra-m-3"

#define ACC JICENG__V1__VERDICT__ACCEPTED
#define OK  JICENG__V1__QUERY_STATUS__OK
#define MT(x) JICENG__V1__MEETING_TYPE__##x

static const char *const s_b_tree[3] = { S_B_COMMITTEE, S_B_VILLAGE, S_B_BRANCH };

static int
s_setup(void **state)
{
	return hcurve_fx_setup(state, sizeof(struct hcurve_county));
}

/* ================================================================ the county */

static void
s_send(struct hcurve_county *f, void *sock, const char *township, EventCase c, void *msg)
{
	hcurve_county_send(f, sock, township, c, msg, ACC, NULL);
}

/* 9:00 CST on day d of month m of 2025. */
static int64_t
s_day(int m, int d)
{
	return (civil_to_days(2025, m, d) * 86400 + 3600) * 1000LL;
}

/* A meeting of org (township A's) with up to two types, the attendees
 * NULL-ended; the committee, for a committee meeting, is A1-A3. */
static void
s_meet(struct hcurve_county *f, const char *id, const char *org, int64_t at, int t1, int t2,
    const char *const *att)
{
	Jiceng__V1__MeetingHeld e = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__MeetingType types[2] = { t1, t2 };
	char *committee[] = { S_A1, S_A2, S_A3 };
	size_t n = 0;
	while (att[n])
		n++;
	e.meeting_id = (char *)id;
	e.org_id = (char *)org;
	e.held_at = at;
	e.topic = "学习";
	e.n_types = t2 ? 2 : 1;
	e.types = types;
	e.n_attendee_ids = n;
	e.attendee_ids = (char **)att;
	if (t1 == MT(BRANCH_COMMITTEE)) {
		e.n_committee_member_ids = 3;
		e.committee_member_ids = committee;
	}
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &e);
}

static void
s_dues(struct hcurve_county *f, void *sock, const char *township, const char *member, int month)
{
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = (char *)member;
	e.month = month;
	e.amount_fen = 100;
	e.paid_at = s_day(month % 100, 28);
	s_send(f, sock, township, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &e);
}

/* Party activity funds to org for period, then the budget is the county's. */
static void
s_activity(struct hcurve_county *f, void *sock, const char *township, const char *id,
    const char *org, int64_t fen)
{
	Jiceng__V1__FundDisbursed e = JICENG__V1__FUND_DISBURSED__INIT;
	e.disbursement_id = (char *)id;
	e.kind = JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND;
	e.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID;
	e.payee_org_id = (char *)org;
	e.amount_fen = fen;
	e.period = 202504;
	e.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	e.paid_at = s_day(4, 10);
	s_send(f, sock, township, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &e);
}

static void
s_budget(struct hcurve_county *f, const char *township, const char *id)
{
	Jiceng__V1__BudgetAllocated e = JICENG__V1__BUDGET_ALLOCATED__INIT;
	e.budget_id = (char *)id;
	e.kind = JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND;
	e.year = 2025;
	e.amount_fen = 1000000;
	e.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	s_send(f, f->county, township, JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, &e);
}

/* Members: A1-A4 of A's branch, B1, B2 of B's. B1 leaves B in January,
 * hosted by A's branch; B2 leaves in June, not reported anywhere yet. */
static void
s_members(struct hcurve_county *f)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileReported r = JICENG__V1__MOBILE_REPORTED__INIT;

	assert_int_not_equal(hc_members(f->a, "ra", H_ORG_BRANCH, 0, 4), 0);
	hcurve_county_member(f, f->b, S_TB, "b1", S_B_BRANCH);
	hcurve_county_member(f, f->b, S_TB, "b2", S_B_BRANCH);
	d.flow_id = "fl-b1";
	d.member_id = "b1";
	d.destination_code = "510722";
	d.host_org_id = H_ORG_BRANCH;
	d.expected_months = 12;
	d.certificate_no = "LD-B1";
	d.departed_at = s_day(1, 10);
	s_send(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d);
	r.flow_id = "fl-b1";
	r.host_org_id = H_ORG_BRANCH;
	r.reported_at = s_day(1, 15);
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &r);
	d.flow_id = "fl-b2";
	d.member_id = "b2";
	d.host_org_id = "";
	d.destination_code = "440305";
	d.certificate_no = "LD-B2";
	d.departed_at = s_day(6, 1);
	s_send(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d);
}

/* The first quarter of A's branch: committee meetings each month (March's
 * inquorate: one of three), themed party days in January and February
 * (February's also the assembly), one lecture in March, attended by B1 as
 * a hosted member. */
static void
s_meetings(struct hcurve_county *f)
{
	s_meet(f, "mt-c1", H_ORG_BRANCH, s_day(1, 8), MT(BRANCH_COMMITTEE), 0,
	    (const char *[]){ S_A1, S_A2, NULL });
	s_meet(f, "mt-c2", H_ORG_BRANCH, s_day(2, 8), MT(BRANCH_COMMITTEE), 0,
	    (const char *[]){ S_A1, S_A2, NULL });
	s_meet(f, "mt-c3", H_ORG_BRANCH, s_day(3, 8), MT(BRANCH_COMMITTEE), 0,
	    (const char *[]){ S_A1, NULL });
	s_meet(f, "mt-t1", H_ORG_BRANCH, s_day(1, 20), MT(THEMED_PARTY_DAY), 0,
	    (const char *[]){ S_A1, S_A3, NULL });
	s_meet(f, "mt-t2", H_ORG_BRANCH, s_day(2, 20), MT(THEMED_PARTY_DAY), MT(BRANCH_ASSEMBLY),
	    (const char *[]){ S_A1, S_A2, S_A3, NULL });
	s_meet(f, "mt-l1", H_ORG_BRANCH, s_day(3, 25), MT(PARTY_LECTURE), 0,
	    (const char *[]){ S_A2, "b1", NULL });
}

/* Dues: A1 January to June, A2 January; B1 (by B) January to April, B2
 * January. Activity funds: A 240 yuan to its village org, B 30 to its
 * village org and 10 to its branch, reversed. */
static void
s_money(struct hcurve_county *f)
{
	Jiceng__V1__DisbursementReversed rev = JICENG__V1__DISBURSEMENT_REVERSED__INIT;

	for (int m = 202501; m <= 202506; m++)
		s_dues(f, f->a, S_TA, S_A1, m);
	s_dues(f, f->a, S_TA, S_A2, 202501);
	for (int m = 202501; m <= 202504; m++)
		s_dues(f, f->b, S_TB, "b1", m);
	s_dues(f, f->b, S_TB, "b2", 202501);
	s_budget(f, S_TA, "bud-a");
	s_budget(f, S_TB, "bud-b");
	s_activity(f, f->a, S_TA, "af-a", H_ORG_VILLAGE, 24000);
	s_activity(f, f->b, S_TB, "af-b1", S_B_VILLAGE, 3000);
	s_activity(f, f->b, S_TB, "af-b2", S_B_BRANCH, 1000);
	rev.disbursement_id = "af-b2";
	rev.reason = "重复发放";
	rev.reversed_at = s_day(5, 1);
	s_send(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED, &rev);
}

/* Every worker has applied the whole journal (the county's stats). */
static void
s_caught_up(struct hcurve_county *f)
{
	int64_t deadline = now_mono_ms() + h_ms(20000);
	for (;;) {
		QueryReply *r = hcurve_stats(&f->h.c, f->qcounty);
		bool done = r && r->stats && r->stats->n_workers == 3;
		for (size_t i = 0; done && i < r->stats->n_workers; i++)
			done = r->stats->workers[i]->cursor == r->stats->journal_length;
		hq_free(r);
		if (done)
			return;
		if (now_mono_ms() > deadline)
			fail_msg("the workers did not catch up with the journal");
		h_sleep_ms(50);
	}
}

/* jicengd with every worker, CURVE keys for A, B and the county, the
 * rules setting, and the county's half year. */
static struct hcurve_county *
s_up(void **state)
{
	struct hcurve_county *f = *state;
	hcurve_county_up(f, "[daemon]\nworkers = membership,meetings,funds\n"
	    "[rules]\nmeetings.lecture_per_quarter = 2\n", "r", s_b_tree);
	s_members(f);
	s_meetings(f);
	s_money(f);
	s_caught_up(f);
	return f;
}

/* ================================================================ queries */

static QueryReply *
s_ask(struct hcurve_county *f, void *sock, Query *q)
{
	return hcurve_query(&f->h.c, sock, q, HCURVE_QUERY_MS);
}

/* r came OK with result `result`. */
static void
s_ok(QueryReply *r, int result)
{
	assert_non_null(r);
	if (r->status != OK)
		fail_msg("query: %s (%s)", r->code, r->reason);
	assert_int_equal(r->result_case, result);
}

static QueryReply *
s_audit(struct hcurve_county *f, void *sock, const char *township, int quarter, const char *after,
    unsigned limit)
{
	Jiceng__V1__AuditMeetings a = JICENG__V1__AUDIT_MEETINGS__INIT;
	Query q = JICENG__V1__QUERY__INIT;
	a.township_id = (char *)township;
	a.year = 2025;
	a.quarter = (uint32_t)quarter;
	a.after = (char *)after;
	a.limit = limit;
	q.query_case = JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS;
	q.audit_meetings = &a;
	return s_ask(f, sock, &q);
}

static const Jiceng__V1__MeetingRequirement *
s_req(const Jiceng__V1__OrgMeetingsAudit *o, int type)
{
	for (size_t i = 0; i < o->n_requirements; i++)
		if ((int)o->requirements[i]->type == type)
			return o->requirements[i];
	fail_msg("no requirement of type %d for %s", type, o->org_id);
	return NULL;
}

static void
s_req_is(const Jiceng__V1__OrgMeetingsAudit *o, int type, uint32_t required, uint32_t held,
    uint32_t not_counted, int32_t short_period)
{
	const Jiceng__V1__MeetingRequirement *q = s_req(o, type);
	assert_int_equal(q->required, required);
	assert_int_equal(q->held, held);
	assert_int_equal(q->not_counted, not_counted);
	assert_int_equal(q->units_short, short_period ? 1 : 0);
	if (short_period)
		assert_int_equal(q->short_periods[0], short_period);
}

/* The audit of the first quarter, by the query socket. */
static void
test_meetings_audit(void **state)
{
	struct hcurve_county *f = s_up(state);
	QueryReply *r = s_audit(f, f->qa, S_TA, 1, "", 0);

	s_ok(r, JICENG__V1__QUERY_REPLY__RESULT_MEETINGS_AUDIT);
	assert_int_equal(r->meetings_audit->n_orgs, 1);
	const Jiceng__V1__OrgMeetingsAudit *o = r->meetings_audit->orgs[0];
	assert_string_equal(o->org_id, H_ORG_BRANCH);
	assert_int_equal(o->months, 3);
	assert_int_equal(o->n_requirements, 5);   /* monthly and quarterly types */
	assert_true(o->shortfall);
	s_req_is(o, MT(BRANCH_ASSEMBLY), 1, 1, 0, 0);
	s_req_is(o, MT(BRANCH_COMMITTEE), 3, 2, 1, 202503);   /* March's inquorate (M3) */
	s_req_is(o, MT(PARTY_LECTURE), 2, 1, 0, 20251);       /* the rules setting: 2 */
	assert_int_equal(s_req(o, MT(PARTY_LECTURE))->per_unit, 2);
	s_req_is(o, MT(THEMED_PARTY_DAY), 3, 2, 0, 202503);
	assert_int_equal(s_req(o, MT(GROUP_MEETING))->units_due, 0);   /* no party groups */
	hq_free(r);
	/* The county, a page at a time: B's branch, then A's. */
	s_ok(r = s_audit(f, f->qcounty, "", 1, "", 1),
	    JICENG__V1__QUERY_REPLY__RESULT_MEETINGS_AUDIT);
	assert_int_equal(r->meetings_audit->n_orgs, 1);
	assert_string_equal(r->meetings_audit->orgs[0]->org_id, S_B_BRANCH);
	assert_string_equal(r->meetings_audit->next_after, S_B_BRANCH);
	hq_free(r);
	s_ok(r = s_audit(f, f->qcounty, "", 1, S_B_BRANCH, 1),
	    JICENG__V1__QUERY_REPLY__RESULT_MEETINGS_AUDIT);
	assert_string_equal(r->meetings_audit->orgs[0]->org_id, H_ORG_BRANCH);
	assert_string_equal(r->meetings_audit->next_after, "");
	hq_free(r);
	/* Scope: B may not read A, nor a township the county. */
	hcurve_expect(s_audit(f, f->qb, S_TA, 1, "", 0), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");
	hcurve_expect(s_audit(f, f->qa, "", 1, "", 0), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");
	hcurve_expect(s_audit(f, f->qa, S_TA, 5, "", 0), JICENG__V1__QUERY_STATUS__BAD_QUERY,
	    "BAD_PERIOD");
	hd_pass(f->h.d);
}

static QueryReply *
s_inactive(struct hcurve_county *f, void *sock, const char *township)
{
	Jiceng__V1__ListInactiveMembers l = JICENG__V1__LIST_INACTIVE_MEMBERS__INIT;
	Query q = JICENG__V1__QUERY__INIT;
	l.township_id = (char *)township;
	l.month = 202507;
	l.since_month = 202501;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS;
	q.list_inactive_members = &l;
	return s_ask(f, sock, &q);
}

static void
s_member_is(const Jiceng__V1__InactiveMember *w, const char *id, uint32_t months,
    bool inactive)
{
	assert_string_equal(w->member_id, id);
	assert_int_equal(w->months, months);
	assert_int_equal(w->inactive, inactive);
}

/* Attendance and dues, the hosted member's attendance at its host org. */
static void
test_inactive_members(void **state)
{
	struct hcurve_county *f = s_up(state);
	QueryReply *r = s_inactive(f, f->qa, S_TA);
	const Jiceng__V1__InactiveMemberList *l;

	s_ok(r, JICENG__V1__QUERY_REPLY__RESULT_INACTIVE_MEMBERS);
	l = r->inactive_members;
	assert_int_equal(l->inactive_months, 6);
	assert_int_equal(l->warning_months, 3);
	/* A1 attended in March and paid through June: not listed. */
	assert_int_equal(l->n_members, 3);
	s_member_is(l->members[0], S_A2, 4, false);   /* the lecture in March */
	assert_int_equal(l->members[0]->last_attended_month, 202503);
	assert_int_equal(l->members[0]->last_dues_month, 202501);
	s_member_is(l->members[1], S_A3, 5, false);   /* February's assembly */
	s_member_is(l->members[2], S_A4, 7, true);    /* nothing since January */
	hq_free(r);
	/* B1 attended A's lecture as a hosted member and paid to April. */
	s_ok(r = s_inactive(f, f->qb, S_TB), JICENG__V1__QUERY_REPLY__RESULT_INACTIVE_MEMBERS);
	l = r->inactive_members;
	assert_int_equal(l->n_members, 2);
	s_member_is(l->members[0], "b1", 3, false);
	assert_int_equal(l->members[0]->last_attended_month, 202503);
	assert_int_equal(l->members[0]->mobility_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	s_member_is(l->members[1], "b2", 6, true);
	assert_int_equal(l->members[1]->mobility_state,
	    JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	hq_free(r);
	hcurve_expect(s_inactive(f, f->qa, S_TB), JICENG__V1__QUERY_STATUS__FORBIDDEN,
	    "OUT_OF_SCOPE");
	hd_pass(f->h.d);
}

/* Certificate reviews (L4) by the home org's township. */
static void
test_certificate_reviews(void **state)
{
	struct hcurve_county *f = s_up(state);
	Jiceng__V1__ListCertificateReviews c = JICENG__V1__LIST_CERTIFICATE_REVIEWS__INIT;
	Query q = JICENG__V1__QUERY__INIT;
	QueryReply *r;

	c.township_id = S_TB;
	c.at = (civil_to_days(2026, 2, 1) * 86400 - 8 * 3600) * 1000LL;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_CERTIFICATE_REVIEWS;
	q.list_certificate_reviews = &c;
	s_ok(r = s_ask(f, f->qb, &q), JICENG__V1__QUERY_REPLY__RESULT_CERTIFICATE_REVIEWS);
	/* B1 left on 10 January 2025, never reviewed; B2 left in June. */
	assert_int_equal(r->certificate_reviews->n_episodes, 1);
	assert_string_equal(r->certificate_reviews->episodes[0]->flow_id, "fl-b1");
	assert_int_equal(r->certificate_reviews->episodes[0]->months, 12);
	assert_string_equal(r->certificate_reviews->episodes[0]->host_org_id, H_ORG_BRANCH);
	hq_free(r);
	/* A hosts B1 but is not its home: nothing for A. */
	c.township_id = S_TA;
	s_ok(r = s_ask(f, f->qa, &q), JICENG__V1__QUERY_REPLY__RESULT_CERTIFICATE_REVIEWS);
	assert_int_equal(r->certificate_reviews->n_episodes, 0);
	hq_free(r);
	hd_pass(f->h.d);
}

/* ================================================================ jicengctl report */

/* The line of ctl.out that starts with `start`, which must hold every
 * cell of cells (NULL-ended) in order. */
static void
s_line_has(struct hcurve_county *f, const char *start, const char *const *cells)
{
	char path[256];
	size_t len;
	snprintf(path, sizeof path, "%s/ctl.out", f->h.d->dir);
	char *text = h_slurp(path, &len), *line = text;
	while (line && strncmp(line, start, strlen(start)) != 0)
		line = (line = strchr(line, '\n')) ? line + 1 : NULL;
	if (!line)
		fail_msg("no line starting %s in:\n%s", start, text ? text : "(none)");
	char *end = strchr(line, '\n'), *at = line;
	if (end)
		*end = '\0';
	for (size_t i = 0; cells[i]; i++) {
		char *hit = strstr(at, cells[i]);
		if (!hit)
			fail_msg("line \"%s\" lacks \"%s\" (after %zu cells)", line, cells[i], i);
		at = hit + strlen(cells[i]);
	}
	free(text);
}

static void
test_ctl_report(void **state)
{
	struct hcurve_county *f = s_up(state);
	struct hd *d = f->h.d;
	struct hcurve *c = &f->h.c;

	assert_int_equal(hcurve_ctl(c, d, "townA", "report", "meetings-audit", "--township", S_TA,
	    "--period", "2025Q1", NULL), 0);
	assert_true(hcurve_ctl_has(d, "ctl.out", "党员大会", true));
	assert_true(hcurve_ctl_has(d, "ctl.out", "assembly", true));
	s_line_has(f, H_ORG_BRANCH, (const char *[]){ "3", "1/1", "2/3*!", "-", "1/2!", "2/3!",
	    NULL });
	assert_int_equal(hcurve_ctl(c, d, "townA", "report", "meetings-audit", "--township", S_TA,
	    "--period", "2025-02", "--json", NULL), 0);
	assert_true(hcurve_ctl_has(d, "ctl.out", "\"meetingsAudit\":{\"fromMonth\":202502", true));
	assert_true(hcurve_ctl_has(d, "ctl.out", "\"type\":\"BRANCH_COMMITTEE\",\"unit\":"
	    "\"PER_MONTH\",\"perUnit\":1,\"unitsDue\":1,\"required\":1,\"held\":1", true));

	assert_int_equal(hcurve_ctl(c, d, "townB", "report", "dues-arrears", "--township", S_TB,
	    "--month", "2025-07", "--since", "2025-01", NULL), 0);
	s_line_has(f, "b1", (const char *[]){ "2025-04", "3", "3个月以上", NULL });
	s_line_has(f, "b2", (const char *[]){ "2025-01", "6", "6个月以上", NULL });
	s_line_has(f, S_B_BRANCH, (const char *[]){ "2", "1", NULL });   /* by org: 2, 1 lapsed */
	assert_int_equal(hcurve_ctl(c, d, "townA", "report", "inactive-members", "--township",
	    S_TA, "--month", "2025-07", "--since", "2025-01", NULL), 0);
	s_line_has(f, S_A4, (const char *[]){ "7", "无 none", "无 none", "脱党情形 inactive",
	    NULL });

	assert_int_equal(hcurve_ctl(c, d, "county", "report", "activity-funds", "--year", "2025",
	    NULL), 0);
	/* A: 240 yuan for 4 members, exactly the minimum; B: 30 for 2. */
	s_line_has(f, S_TA, (const char *[]){ "4", "240.00", "0.00", "240.00", "60.00", NULL });
	s_line_has(f, S_TB, (const char *[]){ "2", "40.00", "10.00", "30.00", "15.00", "是 yes",
	    NULL });
	s_line_has(f, "合计 total", (const char *[]){ "6", "280.00", "10.00", "270.00", "45.00",
	    "是 yes", NULL });
	assert_int_equal(hcurve_ctl(c, d, "townB", "report", "certificate-reviews", "--township",
	    S_TB, "--at", "2026-02-01", NULL), 0);
	s_line_has(f, "fl-b1", (const char *[]){ "b1", "LD-B1", "2025-01-10", "从未 never", "12",
	    H_ORG_BRANCH, NULL });

	/* A township key never reads the county; B never reads A. */
	assert_int_equal(hcurve_ctl(c, d, "townA", "report", "activity-funds", NULL), 1);
	assert_true(hcurve_ctl_has(d, "ctl.err", "OUT_OF_SCOPE", true));
	assert_int_equal(hcurve_ctl(c, d, "townB", "report", "meetings-audit", "--org",
	    H_ORG_BRANCH, NULL), 1);
	assert_true(hcurve_ctl_has(d, "ctl.err", "OUT_OF_SCOPE", true));
	assert_int_equal(hcurve_ctl(c, d, "county", "report", "meetings-audit", "--org", "nope",
	    NULL), 3);
	assert_int_equal(hcurve_ctl(c, d, "county", "report", "dues-arrears", "--period", "2025",
	    NULL), 2);
	hd_pass(d);
}

/* A report whose worker does not run, and malformed report queries. */
static void
test_refusals(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, &(struct hd_opts){ .workers = "membership" }, "rr",
	    &sock);
	Jiceng__V1__AuditMeetings a = JICENG__V1__AUDIT_MEETINGS__INIT;
	Jiceng__V1__ListDuesArrears l = JICENG__V1__LIST_DUES_ARREARS__INIT;
	Jiceng__V1__ListCertificateReviews c = JICENG__V1__LIST_CERTIFICATE_REVIEWS__INIT;
	Query q = JICENG__V1__QUERY__INIT;
	QueryReply *r;

	hc_close(sock);
	a.township_id = S_TA;
	a.year = 2025;
	q.query_case = JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS;
	q.audit_meetings = &a;
	assert_non_null(r = hq_call(d, &q, HCURVE_QUERY_MS));
	assert_string_equal(r->code, "NO_WORKER");
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__UNAVAILABLE);
	hq_free(r);
	a.org_id = H_ORG_BRANCH;
	assert_non_null(r = hq_call(d, &q, HCURVE_QUERY_MS));
	assert_string_equal(r->code, "BAD_SELECTOR");
	hq_free(r);
	l.township_id = S_TA;
	l.month = 202507;
	l.since_month = 202508;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS;
	q.list_dues_arrears = &l;
	assert_non_null(r = hq_call(d, &q, HCURVE_QUERY_MS));
	assert_string_equal(r->code, "BAD_MONTH");
	hq_free(r);
	/* Certificate reviews read membership alone: served. */
	c.township_id = S_TA;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_CERTIFICATE_REVIEWS;
	q.list_certificate_reviews = &c;
	assert_non_null(r = hq_call(d, &q, HCURVE_QUERY_MS));
	assert_int_equal(r->status, OK);
	assert_int_equal(r->certificate_reviews->n_episodes, 0);
	hq_free(r);
	hd_pass(d);
}

int
integ_reports(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_meetings_audit, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_inactive_members, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_certificate_reviews, s_setup,
		    hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_report, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("reports", tests, NULL, NULL);
}
