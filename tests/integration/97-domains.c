/*
 * 97-domains: the three workers together (workers = membership, meetings,
 * funds), through the real daemon on plain loopback sockets, whose
 * principal is "local" with the county's rights: it may allocate budgets
 * (checked below) and speak for either township, so the wrong-township
 * refusals here are the workers' own (96-funds has the broker's, by key).
 *
 * - Cross-domain consistency: one long mixed journal over two townships
 *   holding every event kind: orgs (one updated, one dissolved), members
 *   (ID numbers, a farmer, probationers confirmed and extended, a
 *   suspension, activity orgs), transfers within and across townships, out
 *   of and into the county, revoked, rejected, expired at a start-up Tick,
 *   left open; mobile episodes both ways, contacted, reviewed, returned,
 *   lost contact at the Tick; a reload's RulesChanged; meetings of several
 *   types with an activity-org member and hosted mobile members, quorum
 *   warnings, an appraisal; budgets, disbursements, a supplementary one, a
 *   reversal, dues (by proxy, F6, F7); and refusals of every domain. Then
 *   every membership table holds the same records in all three
 *   environments, and `jicengctl rebuild --domain D` reproduces each
 *   environment byte for byte (mdb_dump -a -n).
 * - Per-worker supervision: kill -9 of the meetings worker, then of the
 *   funds worker, three times each in a pipelined stream of their events
 *   interleaved with the registrations they depend on: every send
 *   acknowledged once, every event answered once (a resend a DUPLICATE of
 *   it), a meeting counted once in attendance, an amount once in the
 *   ledger, and the killed worker's state equal to a rebuild's. A poison
 *   event of the funds worker alone (hd_worker_env) is quarantined after
 *   quarantine_after crashes and answered INTERNAL_ERROR, while the
 *   membership and meetings workers answer the events after it without a
 *   restart.
 * - Impossible orders and the wrong township for meetings and funds, and
 *   money at its edges, each with its code (96-funds has what it covers:
 *   a disbursement before any budget, a reversal of a reversal, dues of a
 *   member transferred out of the county, 0 / negative / over the default
 *   cap, a budget total past int64 from one source).
 * - A poison another worker owns, and the funds worker's judgement of
 *   townships and proxy payers (bugs these tests found, now fixed).
 *
 * The membership tables are compared with LMDB, not with mdb_dump -s:
 * the list of tables comes from the environments themselves (every named
 * database of the membership worker's but its own meta, verdicts and
 * counts), so a table added to records.c is compared without touching
 * this file; a difference is reported as the table and the key where it
 * is; and nothing depends on the dump header (each environment has its own
 * map size).
 */
#include "harness.h"

#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"

#define S_TA H_TOWNSHIP
#define S_TB H_TOWNSHIP2
#define S_TC "510722103000"
#define S_WORKERS "[daemon]\nworkers = membership,meetings,funds\n"
#define S_DAY_MS 86400000LL
#define S_Q_MS 5000
#define OK "OK"

#define ACC JICENG__V1__VERDICT__ACCEPTED
#define REJ JICENG__V1__VERDICT__REJECTED
#define DUP JICENG__V1__VERDICT__DUPLICATE

#define EV(k) JICENG__V1__ENVELOPE__EVENT_##k
#define MT(t) JICENG__V1__MEETING_TYPE__##t
#define FK(k) JICENG__V1__FUND_KIND__##k
#define FS(s) JICENG__V1__FUNDING_SOURCE__##s
#define ROLE(r) JICENG__V1__ATTENDEE_ROLE__ATTENDEE_##r

/* Township B's org tree. */
#define S_B_COMMITTEE "b-committee"
#define S_B_VILLAGE   "b-village"
#define S_B_BRANCH    "b-branch"
static const char *const s_b_tree[3] = { S_B_COMMITTEE, S_B_VILLAGE, S_B_BRANCH };

static unsigned s_n;   /* event id counter */

/* ================================================================ time */

/* YYYYMM (CST) of now, `back` months earlier. */
static int
s_month(int back)
{
	return civil_cst_month(civil_add_months(now_wall_ms(), -back));
}

static int
s_year(void)
{
	return civil_cst_year(now_wall_ms());
}

static int64_t
s_ago(int64_t ms)
{
	return now_wall_ms() - ms;
}

/* ================================================================ events */

static bool
s_has_warning(const Ack *a, const char *code)
{
	for (size_t i = 0; i < a->n_warnings; i++)
		if (strcmp(a->warnings[i]->code, code) == 0)
			return true;
	return false;
}

/* Send event c (msg) for township twp (NULL: A) under a fresh event id.
 * code "OK": ACCEPTED with the warning warn (none when NULL); any other
 * code: REJECTED with it. Fails the test otherwise. */
static void
s_send_w(void *sock, const char *twp, EventCase c, void *msg, const char *code,
    const char *warn)
{
	char id[32];
	snprintf(id, sizeof id, "dm-%05u", ++s_n);
	struct hmsg m = hm_event(id, twp, c, msg);
	Ack *a = hc_call(sock, &m);
	hm_free(&m);
	if (!a)
		fail_msg("%s %s: no ack", codec_event_name(c), id);
	bool ok = strcmp(code, OK) == 0 ?
	    a->verdict == ACC && (warn ? s_has_warning(a, warn) : a->n_warnings == 0) :
	    a->verdict == REJ && strcmp(a->code, code) == 0;
	if (!ok) {
		fprintf(stderr, "%s %s: %s/%s (%s), %zu warnings%s%s\n", codec_event_name(c), id,
		    codec_verdict_name(a->verdict), a->code, a->reason, a->n_warnings,
		    a->n_warnings ? ", the first " : "", a->n_warnings ? a->warnings[0]->code : "");
		hc_ack_free(a);
		fail_msg("%s as township %s: expected %s%s%s", codec_event_name(c),
		    twp ? twp : S_TA, code, warn ? " with warning " : "", warn ? warn : "");
	}
	hc_ack_free(a);
}

static void
s_send(void *sock, const char *twp, EventCase c, void *msg, const char *code)
{
	s_send_w(sock, twp, c, msg, code, NULL);
}

static void
s_org(void *sock, const char *twp, const char *id, int kind, const char *parent,
    const char *approving, const char *code)
{
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	o.org_id = (char *)id;
	o.kind = kind;
	o.parent_id = (char *)(parent ? parent : "");
	o.approving_org_id = (char *)(approving ? approving : "");
	o.name = (char *)id;
	o.established_at = 1262275200000LL;  /* 2010-01-01 */
	s_send(sock, twp, EV(ORG_ESTABLISHED), &o, code);
}

/* A branch under village, approved by committee. */
static void
s_branch(void *sock, const char *twp, const char *id, const char *village,
    const char *committee)
{
	s_org(sock, twp, id, JICENG__V1__ORG_KIND__BRANCH, village, committee, OK);
}

static void
s_dissolve(void *sock, const char *twp, const char *id, const char *approving)
{
	Jiceng__V1__OrgDissolved o = JICENG__V1__ORG_DISSOLVED__INIT;
	o.org_id = (char *)id;
	o.approving_org_id = (char *)(approving ? approving : "");
	o.reason = "撤并";
	o.dissolved_at = s_ago(1000);
	s_send(sock, twp, EV(ORG_DISSOLVED), &o, OK);
}

/* A FULL member of home (activity: one activity org, or NULL). */
static void
s_member(void *sock, const char *twp, const char *id, const char *home,
    const char *activity, bool farmer)
{
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	char *act[1] = { (char *)activity };
	r.member_id = (char *)id;
	r.home_org_id = (char *)home;
	r.name = "党员";
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = 994000000000LL;    /* 2001-07-01 */
	r.confirmed_at = 1026000000000LL;  /* 2002-07-07 */
	r.farmer = farmer;
	if (activity) {
		r.n_activity_org_ids = 1;
		r.activity_org_ids = act;
	}
	s_send(sock, twp, EV(MEMBER_REGISTERED), &r, OK);
}

/* A probationary member admitted a month ago. */
static void
s_probationary(void *sock, const char *twp, const char *id, const char *org)
{
	Jiceng__V1__MemberAdmitted r = JICENG__V1__MEMBER_ADMITTED__INIT;
	r.member_id = (char *)id;
	r.org_id = (char *)org;
	r.name = "预备党员";
	r.birth_date = "1990-03-01";
	r.admitted_at = s_ago(30 * S_DAY_MS);
	s_send(sock, twp, EV(MEMBER_ADMITTED), &r, OK);
}

static void
s_suspend(void *sock, const char *twp, const char *id)
{
	Jiceng__V1__MemberStatusChanged c = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	c.member_id = (char *)id;
	c.status = JICENG__V1__MEMBER_STATUS__SUSPENDED;
	c.effective_at = s_ago(1000);
	c.reason = "停止党籍";
	s_send(sock, twp, EV(MEMBER_STATUS_CHANGED), &c, OK);
}

/* A letter from `from` to the org `to`, or out of the county (to NULL). */
static void
s_issue(void *sock, const char *twp, const char *tid, const char *member, const char *from,
    const char *to, int64_t at, uint32_t days)
{
	Jiceng__V1__TransferIssued t = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__ExternalOrg out = JICENG__V1__EXTERNAL_ORG__INIT;
	out.area_code = "440305";
	out.org_name = "深圳市南山区某街道党工委";
	t.transfer_id = (char *)tid;
	t.member_id = (char *)member;
	t.from_org_id = (char *)from;
	if (to) {
		t.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
		t.to_org_id = (char *)to;
	} else {
		t.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
		t.to_external = &out;
	}
	t.issued_at = at;
	t.valid_days = days;
	t.dues_paid_through = civil_cst_month(at);
	s_send(sock, twp, EV(TRANSFER_ISSUED), &t, OK);
}

static void
s_received(void *sock, const char *twp, const char *tid, int64_t at)
{
	Jiceng__V1__TransferReceived r = JICENG__V1__TRANSFER_RECEIVED__INIT;
	r.transfer_id = (char *)tid;
	r.received_at = at;
	s_send(sock, twp, EV(TRANSFER_RECEIVED), &r, OK);
}

static void
s_receipt(void *sock, const char *twp, const char *tid, int64_t at)
{
	Jiceng__V1__TransferReceiptReturned r = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	r.transfer_id = (char *)tid;
	r.returned_at = at;
	s_send(sock, twp, EV(TRANSFER_RECEIPT_RETURNED), &r, OK);
}

/* Member `id` moves from `from` (township twp) to `to` (township to_twp):
 * letter, receipt and the receipt returned. */
static void
s_transfer(void *sock, const char *twp, const char *to_twp, const char *tid, const char *id,
    const char *from, const char *to)
{
	s_issue(sock, twp, tid, id, from, to, s_ago(3 * S_DAY_MS), 30);
	s_received(sock, to_twp, tid, s_ago(2 * S_DAY_MS));
	s_receipt(sock, to_twp, tid, s_ago(S_DAY_MS));
}

/* Member `id` leaves the county for good. */
static void
s_transfer_out(void *sock, const char *twp, const char *tid, const char *id, const char *from)
{
	s_issue(sock, twp, tid, id, from, NULL, s_ago(3 * S_DAY_MS), 30);
	s_receipt(sock, twp, tid, s_ago(S_DAY_MS));
}

static void
s_departed(void *sock, const char *twp, const char *flow, const char *member,
    const char *host, int64_t at)
{
	Jiceng__V1__MobileDeparted e = JICENG__V1__MOBILE_DEPARTED__INIT;
	e.flow_id = (char *)flow;
	e.member_id = (char *)member;
	e.destination_code = host ? "510722" : "440305";
	e.host_org_id = (char *)(host ? host : "");
	e.reason = "务工";
	e.expected_months = 12;
	e.departed_at = at;
	s_send(sock, twp, EV(MOBILE_DEPARTED), &e, OK);
}

static void
s_reported(void *sock, const char *twp, const char *flow, const char *host, int64_t at)
{
	Jiceng__V1__MobileReported e = JICENG__V1__MOBILE_REPORTED__INIT;
	e.flow_id = (char *)flow;
	e.host_org_id = (char *)host;
	e.reported_at = at;
	s_send(sock, twp, EV(MOBILE_REPORTED), &e, OK);
}

static void
s_contacted(void *sock, const char *twp, const char *flow, int64_t at)
{
	Jiceng__V1__MobileContacted e = JICENG__V1__MOBILE_CONTACTED__INIT;
	e.flow_id = (char *)flow;
	e.contacted_at = at;
	e.channel = "视频";
	s_send(sock, twp, EV(MOBILE_CONTACTED), &e, OK);
}

static void
s_returned(void *sock, const char *twp, const char *flow, int64_t at)
{
	Jiceng__V1__MobileReturned e = JICENG__V1__MOBILE_RETURNED__INIT;
	e.flow_id = (char *)flow;
	e.returned_at = at;
	s_send(sock, twp, EV(MOBILE_RETURNED), &e, OK);
}

/* A meeting record; the lists end at the first NULL (types at 0). */
struct s_mt {
	const char *id, *org;
	int types[4];
	const char *present[12];
	const char *absent[4];
	const char *committee[6];
	int64_t held_at;      /* 0: a day ago */
	bool online;
};

static size_t
s_count_ids(const char *const *ids, size_t max)
{
	size_t n = 0;
	while (n < max && ids[n])
		n++;
	return n;
}

static void
s_meeting_msg(const struct s_mt *m, Jiceng__V1__MeetingHeld *e,
    Jiceng__V1__MeetingType types[4], Jiceng__V1__Absentee abs[4],
    Jiceng__V1__Absentee *absp[4])
{
	size_t nt = 0;
	jiceng__v1__meeting_held__init(e);
	for (; nt < 4 && m->types[nt]; nt++)
		types[nt] = (Jiceng__V1__MeetingType)m->types[nt];
	e->meeting_id = (char *)m->id;
	e->org_id = (char *)m->org;
	e->n_types = nt;
	e->types = types;
	e->held_at = m->held_at ? m->held_at : s_ago(S_DAY_MS);
	e->topic = "学习贯彻";
	e->lecturer = "支部书记";
	e->n_attendee_ids = s_count_ids(m->present, 12);
	e->attendee_ids = (char **)m->present;
	e->n_absentees = s_count_ids(m->absent, 4);
	for (size_t i = 0; i < e->n_absentees; i++) {
		jiceng__v1__absentee__init(&abs[i]);
		abs[i].member_id = (char *)m->absent[i];
		abs[i].reason = "外出务工";
		absp[i] = &abs[i];
	}
	e->absentees = absp;
	e->n_committee_member_ids = s_count_ids(m->committee, 6);
	e->committee_member_ids = (char **)m->committee;
	e->online = m->online;
}

static void
s_meeting(void *sock, const char *twp, const struct s_mt *m, const char *code,
    const char *warn)
{
	Jiceng__V1__MeetingHeld e;
	Jiceng__V1__MeetingType types[4];
	Jiceng__V1__Absentee abs[4], *absp[4];
	s_meeting_msg(m, &e, types, abs, absp);
	s_send_w(sock, twp, EV(MEETING_HELD), &e, code, warn);
}

/* Grades of meeting (of org) for year: ids[i] graded grades[i], n of them. */
static void
s_appraisal(void *sock, const char *twp, const char *meeting, const char *org, int year,
    const char *const *ids, const int *grades, size_t n, const char *code)
{
	Jiceng__V1__AppraisalRecorded e = JICENG__V1__APPRAISAL_RECORDED__INIT;
	Jiceng__V1__Grade g[8], *gp[8];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		jiceng__v1__grade__init(&g[i]);
		g[i].member_id = (char *)ids[i];
		g[i].grade = grades[i];
		gp[i] = &g[i];
	}
	e.meeting_id = (char *)meeting;
	e.org_id = (char *)org;
	e.year = year;
	e.n_grades = n;
	e.grades = gp;
	s_send(sock, twp, EV(APPRAISAL_RECORDED), &e, code);
}

static void
s_budget(void *sock, const char *twp, const char *id, int kind, int year, int source,
    int64_t fen, const char *code)
{
	Jiceng__V1__BudgetAllocated e = JICENG__V1__BUDGET_ALLOCATED__INIT;
	e.budget_id = (char *)id;
	e.kind = kind;
	e.year = year;
	e.amount_fen = fen;
	e.source = source;
	s_send(sock, twp, EV(BUDGET_ALLOCATED), &e, code);
}

/* A disbursement to a member, or to an org when member is NULL. */
static struct hmsg
s_pay_msg(const char *event_id, const char *twp, const char *id, int kind,
    const char *member, const char *org, int64_t fen, int period, bool supplementary)
{
	Jiceng__V1__FundDisbursed e = JICENG__V1__FUND_DISBURSED__INIT;
	e.disbursement_id = (char *)id;
	e.kind = kind;
	if (member) {
		e.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
		e.payee_member_id = (char *)member;
	} else {
		e.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID;
		e.payee_org_id = (char *)org;
	}
	e.amount_fen = fen;
	e.period = period;
	e.source = FS(FISCAL);
	e.supplementary = supplementary;
	e.paid_at = s_ago(S_DAY_MS);
	return hm_event(event_id, twp, EV(FUND_DISBURSED), &e);
}

static void
s_pay(void *sock, const char *twp, const char *id, int kind, const char *member,
    const char *org, int64_t fen, int period, bool supplementary, const char *code)
{
	char eid[32];
	snprintf(eid, sizeof eid, "dm-%05u", ++s_n);
	struct hmsg m = s_pay_msg(eid, twp, id, kind, member, org, fen, period, supplementary);
	bool ok = hc_expect(sock, &m, strcmp(code, OK) == 0 ? ACC : REJ, code);
	hm_free(&m);
	if (!ok)
		fail_msg("disbursement %s as township %s: expected %s", id, twp ? twp : S_TA, code);
}

/* A base-pay disbursement to a member, FISCAL, not supplementary. */
static void
s_base_pay(void *sock, const char *twp, const char *id, const char *member, int64_t fen,
    int period, const char *code)
{
	s_pay(sock, twp, id, FK(CADRE_BASE_PAY), member, NULL, fen, period, false, code);
}

static void
s_reverse(void *sock, const char *twp, const char *id, const char *code)
{
	Jiceng__V1__DisbursementReversed e = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	e.disbursement_id = (char *)id;
	e.reason = "重复发放";
	e.reversed_at = s_ago(1000);
	s_send(sock, twp, EV(DISBURSEMENT_REVERSED), &e, code);
}

static void
s_dues(void *sock, const char *twp, const char *member, int month, int64_t fen,
    const char *payer, const char *code, const char *warn)
{
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = (char *)member;
	e.month = month;
	e.amount_fen = fen;
	e.payer_member_id = (char *)(payer ? payer : "");
	e.paid_at = s_ago(1000);
	s_send_w(sock, twp, EV(DUES_PAID), &e, code, warn);
}

/* ================================================================ queries */

/* q answered OK with result rc (failing the test otherwise). */
static QueryReply *
s_query(struct hd *d, Query *q, Jiceng__V1__QueryReply__ResultCase rc)
{
	QueryReply *r = hq_call(d, q, S_Q_MS);
	if (!r)
		fail_msg("no reply to query %d", q->query_case);
	if (r->status != JICENG__V1__QUERY_STATUS__OK || r->result_case != rc)
		fail_msg("query %d: %s %s", q->query_case, r->code, r->reason);
	return r;
}

static QueryReply *
s_q_meeting(struct hd *d, const char *id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetMeeting g = JICENG__V1__GET_MEETING__INIT;
	g.meeting_id = (char *)id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_MEETING;
	q.get_meeting = &g;
	return s_query(d, &q, JICENG__V1__QUERY_REPLY__RESULT_MEETING);
}

static QueryReply *
s_q_member(struct hd *d, const char *id)
{
	QueryReply *r = hq_member(d, id);
	if (!r || r->status != JICENG__V1__QUERY_STATUS__OK)
		fail_msg("member %s: %s", id, r ? r->code : "no reply");
	return r;
}

/* The ids seen in a paged listing, to tell a repeat. */
struct s_ids {
	char **v;
	size_t n, cap;
};

static void
s_ids_add(struct s_ids *s, const char *id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		assert_non_null(s->v = realloc(s->v, s->cap * sizeof *s->v));
	}
	assert_non_null(s->v[s->n++] = strdup(id));
}

static int
s_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each id once (fails the test naming the first repeat); frees s. */
static size_t
s_ids_done(struct s_ids *s, const char *what)
{
	size_t n = s->n;
	qsort(s->v, s->n, sizeof *s->v, s_cmp_str);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->v[i - 1], s->v[i]) == 0)
			fail_msg("%s lists %s twice", what, s->v[i]);
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
	return n;
}

/* org's meetings, every page: how many, each once. */
static size_t
s_q_meetings(struct hd *d, const char *org)
{
	struct s_ids ids = { 0 };
	char after[CODEC_MAX_ID + 1] = "";
	do {
		Query q = JICENG__V1__QUERY__INIT;
		Jiceng__V1__ListMeetings l = JICENG__V1__LIST_MEETINGS__INIT;
		l.org_id = (char *)org;
		l.after = after;
		l.limit = 1000;
		q.query_case = JICENG__V1__QUERY__QUERY_LIST_MEETINGS;
		q.list_meetings = &l;
		QueryReply *r = s_query(d, &q, JICENG__V1__QUERY_REPLY__RESULT_MEETINGS);
		for (size_t i = 0; i < r->meetings->n_meetings; i++)
			s_ids_add(&ids, r->meetings->meetings[i]->meeting_id);
		snprintf(after, sizeof after, "%s", r->meetings->next_after);
		hq_free(r);
	} while (after[0]);
	return s_ids_done(&ids, org);
}

/* The meetings member attended, all months: how many, each once. */
static size_t
s_q_attended(struct hd *d, const char *member)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetAttendance g = JICENG__V1__GET_ATTENDANCE__INIT;
	struct s_ids ids = { 0 };
	g.member_id = (char *)member;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_ATTENDANCE;
	q.get_attendance = &g;
	QueryReply *r = s_query(d, &q, JICENG__V1__QUERY_REPLY__RESULT_ATTENDANCE);
	for (size_t m = 0; m < r->attendance->n_months; m++) {
		Jiceng__V1__MonthAttendance *ma = r->attendance->months[m];
		assert_int_equal(ma->count, ma->n_meeting_ids);
		for (size_t i = 0; i < ma->n_meeting_ids; i++)
			s_ids_add(&ids, ma->meeting_ids[i]);
	}
	hq_free(r);
	return s_ids_done(&ids, member);
}

/* The ledger line of budget_id now. */
static Jiceng__V1__LedgerLine
s_q_ledger(struct hd *d, const char *budget_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetBudget g = JICENG__V1__GET_BUDGET__INIT;
	Jiceng__V1__LedgerLine line;
	g.budget_id = (char *)budget_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_BUDGET;
	q.get_budget = &g;
	QueryReply *r = s_query(d, &q, JICENG__V1__QUERY_REPLY__RESULT_BUDGET);
	assert_non_null(r->budget->ledger);
	line = *r->budget->ledger;
	line.township_id = NULL;  /* freed with r */
	hq_free(r);
	return line;
}

static void
s_ledger_is(struct hd *d, const char *budget_id, int64_t budget, int64_t disbursed,
    int64_t reversed)
{
	Jiceng__V1__LedgerLine l = s_q_ledger(d, budget_id);
	if (l.budget_fen != budget || l.disbursed_fen != disbursed || l.reversed_fen != reversed ||
	    l.remaining_fen != budget - disbursed + reversed)
		fail_msg("ledger of %s: budget %lld disbursed %lld reversed %lld remaining %lld; "
		    "expected %lld %lld %lld %lld", budget_id, (long long)l.budget_fen,
		    (long long)l.disbursed_fen, (long long)l.reversed_fen,
		    (long long)l.remaining_fen, (long long)budget, (long long)disbursed,
		    (long long)reversed, (long long)(budget - disbursed + reversed));
}

/* member's disbursements, every page: how many, each once. */
static size_t
s_q_payments(struct hd *d, const char *member)
{
	struct s_ids ids = { 0 };
	char after[CODEC_MAX_ID + 1] = "";
	do {
		Query q = JICENG__V1__QUERY__INIT;
		Jiceng__V1__ListPayments l = JICENG__V1__LIST_PAYMENTS__INIT;
		l.member_id = (char *)member;
		l.after = after;
		q.query_case = JICENG__V1__QUERY__QUERY_LIST_PAYMENTS;
		q.list_payments = &l;
		QueryReply *r = s_query(d, &q, JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENTS);
		for (size_t i = 0; i < r->disbursements->n_disbursements; i++)
			s_ids_add(&ids, r->disbursements->disbursements[i]->disbursement_id);
		snprintf(after, sizeof after, "%s", r->disbursements->next_after);
		hq_free(r);
	} while (after[0]);
	return s_ids_done(&ids, member);
}

/* member's dues (the first 1000 months), each month once. */
static size_t
s_q_dues(struct hd *d, const char *member, int64_t *total)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListDues l = JICENG__V1__LIST_DUES__INIT;
	l.member_id = (char *)member;
	l.limit = 1000;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_DUES;
	q.list_dues = &l;
	QueryReply *r = s_query(d, &q, JICENG__V1__QUERY_REPLY__RESULT_DUES);
	size_t n = r->dues->n_dues;
	*total = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && r->dues->dues[i]->month <= r->dues->dues[i - 1]->month)
			fail_msg("dues of %s: month %d after %d", member, r->dues->dues[i]->month,
			    r->dues->dues[i - 1]->month);
		*total += r->dues->dues[i]->amount_fen;
	}
	hq_free(r);
	return n;
}

/* ================================================================ state envs */

#define S_MAX_TABLES 64

/* A worker's state environment, read-only, in one read transaction. */
struct s_env {
	const char *domain;
	MDB_env *env;
	MDB_txn *txn;
	char *names[S_MAX_TABLES];  /* its named databases, in name order */
	int n;
};

static void
s_env_open(struct hd *d, const char *domain, struct s_env *e)
{
	char path[256];
	MDB_dbi main_db;
	MDB_cursor *c;
	MDB_val k, v;
	memset(e, 0, sizeof *e);
	e->domain = domain;
	snprintf(path, sizeof path, "%s/state/%s.mdb", hd_derived(d), domain);
	assert_int_equal(mdb_env_create(&e->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(e->env, S_MAX_TABLES), 0);
	assert_int_equal(mdb_env_open(e->env, path, MDB_RDONLY | MDB_NOSUBDIR, 0), 0);
	assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &e->txn), 0);
	assert_int_equal(mdb_dbi_open(e->txn, NULL, 0, &main_db), 0);
	assert_int_equal(mdb_cursor_open(e->txn, main_db, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		assert_true(e->n < S_MAX_TABLES);
		assert_non_null(e->names[e->n++] = strndup(k.mv_data, k.mv_size));
	}
	mdb_cursor_close(c);
}

static void
s_env_close(struct s_env *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->names[i]);
	mdb_txn_abort(e->txn);
	mdb_env_close(e->env);
	memset(e, 0, sizeof *e);
}

static bool
s_env_has(const struct s_env *e, const char *name)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->names[i], name) == 0)
			return true;
	return false;
}

/* The fold's own tables: the same names in every environment, another
 * content (each worker's verdicts, counts and cursor). */
static bool
s_fold_table(const char *name)
{
	return strcmp(name, "meta") == 0 || strcmp(name, "verdicts") == 0 ||
	    strcmp(name, "counts") == 0;
}

static void
s_print_val(const char *what, const MDB_val *v)
{
	const unsigned char *p = v->mv_data;
	fprintf(stderr, "  %s (%zu bytes): ", what, v->mv_size);
	for (size_t i = 0; i < v->mv_size && i < 96; i++)
		fprintf(stderr, p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' ? "%c" : "\\x%02x", p[i]);
	fprintf(stderr, "\n");
}

static bool
s_val_eq(const MDB_val *a, const MDB_val *b)
{
	return a->mv_size == b->mv_size && memcmp(a->mv_data, b->mv_data, a->mv_size) == 0;
}

/* Table name of a and of b, record by record (every duplicate of a
 * DUPSORT table included): its record count, or -1 when they differ (the
 * first difference printed). */
static long
s_table_same(struct s_env *a, struct s_env *b, const char *name)
{
	MDB_dbi da, db;
	unsigned fa = 0, fb = 0;
	MDB_cursor *ca, *cb;
	MDB_val ka, va, kb, vb;
	long n = 0;
	assert_int_equal(mdb_dbi_open(a->txn, name, 0, &da), 0);
	assert_int_equal(mdb_dbi_open(b->txn, name, 0, &db), 0);
	assert_int_equal(mdb_dbi_flags(a->txn, da, &fa), 0);
	assert_int_equal(mdb_dbi_flags(b->txn, db, &fb), 0);
	if (fa != fb) {
		fprintf(stderr, "table %s: flags %#x in %s, %#x in %s\n", name, fa, a->domain, fb,
		    b->domain);
		return -1;
	}
	assert_int_equal(mdb_cursor_open(a->txn, da, &ca), 0);
	assert_int_equal(mdb_cursor_open(b->txn, db, &cb), 0);
	for (;; n++) {
		int ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
		int rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
		if (ra == MDB_NOTFOUND && rb == MDB_NOTFOUND)
			break;
		if (ra == 0 && rb == 0 && s_val_eq(&ka, &kb) && s_val_eq(&va, &vb))
			continue;
		fprintf(stderr, "table %s differs between %s and %s at record %ld:\n", name,
		    a->domain, b->domain, n);
		if (ra == 0)
			s_print_val(a->domain, &ka);
		else
			fprintf(stderr, "  %s: no more records\n", a->domain);
		if (rb == 0)
			s_print_val(b->domain, &kb);
		else
			fprintf(stderr, "  %s: no more records\n", b->domain);
		n = -1;
		break;
	}
	mdb_cursor_close(ca);
	mdb_cursor_close(cb);
	return n;
}

static uint64_t
s_env_cursor(struct s_env *e)
{
	MDB_dbi meta;
	MDB_val k = { 6, "cursor" }, v;
	uint64_t cur = 0;
	assert_int_equal(mdb_dbi_open(e->txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_get(e->txn, meta, &k, &v), 0);
	assert_int_equal(v.mv_size, 8);
	for (int i = 0; i < 8; i++)
		cur = cur << 8 | ((const uint8_t *)v.mv_data)[i];
	return cur;
}

/* The three workers (jicengd stopped, all at the same cursor) agree on
 * membership: every table of the membership worker's environment but the
 * fold's own is in the other two with the same records, and each of those
 * holds nothing else but tables named after its domain. Each name in
 * nonempty (NULL-ended, may be NULL) must hold records. */
static void
s_membership_agree(struct hd *d, const char *const *nonempty)
{
	static const char *const domains[3] = { "membership", "meetings", "funds" };
	struct s_env e[3];
	int bad = 0, tables = 0;
	char line[2048] = "";
	for (int i = 0; i < 3; i++)
		s_env_open(d, domains[i], &e[i]);
	uint64_t cursor = s_env_cursor(&e[0]);
	for (int i = 1; i < 3; i++)
		if (s_env_cursor(&e[i]) != cursor)
			fail_msg("%s is at seq %llu, membership at %llu", domains[i],
			    (unsigned long long)s_env_cursor(&e[i]), (unsigned long long)cursor);
	for (int i = 1; i < 3; i++) {
		size_t plen = strlen(domains[i]);
		for (int t = 0; t < e[i].n; t++) {
			const char *name = e[i].names[t];
			if (!s_fold_table(name) && !s_env_has(&e[0], name) &&
			    !(strncmp(name, domains[i], plen) == 0 && name[plen] == '_'))
				fail_msg("table %s of %s is neither membership's nor %s's", name,
				    domains[i], domains[i]);
		}
	}
	for (int t = 0; t < e[0].n; t++) {
		const char *name = e[0].names[t];
		long n = 0;
		if (s_fold_table(name))
			continue;
		tables++;
		for (int i = 1; i < 3; i++) {
			if (!s_env_has(&e[i], name)) {
				fprintf(stderr, "table %s is missing from %s\n", name, domains[i]);
				bad++;
				continue;
			}
			if ((n = s_table_same(&e[0], &e[i], name)) < 0)
				bad++;
		}
		snprintf(line + strlen(line), sizeof line - strlen(line), " %s %ld,", name, n);
		for (const char *const *ne = nonempty; ne && *ne; ne++)
			if (strcmp(*ne, name) == 0 && n <= 0)
				fail_msg("table %s is empty: the journal did not exercise it", name);
	}
	fprintf(stderr, "  membership tables at seq %llu (%d, records each):%s\n",
	    (unsigned long long)cursor, tables, line);
	for (int i = 0; i < 3; i++)
		s_env_close(&e[i]);
	if (bad)
		fail_msg("%d membership tables differ between the workers", bad);
	assert_true(tables >= 20);
}

/* jicengctl rebuild --domain domain reproduces its environment byte for
 * byte (jicengd stopped). */
static void
s_rebuild_same(struct hd *d, const char *domain)
{
	char before[256], after[256], name[64];
	snprintf(name, sizeof name, "%s.before", domain);
	hd_state_dump(d, NULL, domain, name, before, sizeof before);
	if (hd_ctl_rebuild(d, domain) != 0)
		fail_msg("jicengctl rebuild --domain %s failed (see rebuild.log)", domain);
	snprintf(name, sizeof name, "%s.after", domain);
	hd_state_dump(d, NULL, domain, name, after, sizeof after);
	if (!h_same_file(before, after))
		fail_msg("rebuild --domain %s differs from the state the worker folded", domain);
}

/* Every worker caught up, then jicengd stopped cleanly. */
static void
s_stop(struct hd *d)
{
	assert_int_equal(hq_caught_up(d, 20000), 0);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
}

/* The end of a run: every worker caught up and jicengd stopped, the
 * three workers agreeing on membership, and domain's environment (NULL:
 * none) rebuilt byte for byte. */
static void
s_end_agreed(struct hd *d, const char *domain)
{
	s_stop(d);
	s_membership_agree(d, NULL);
	if (domain)
		s_rebuild_same(d, domain);
}

/* ================================================================ (a) one mixed journal */

/* A: the tree of hc_org_tree plus branches t-branch2 and t-branch3 (to be
 * dissolved); B: s_b_tree. */
static void
s_two_townships(void *sock)
{
	assert_int_equal(hc_org_tree_in(sock, S_TB, "dmb", s_b_tree), 0);
	s_branch(sock, S_TA, "t-branch2", H_ORG_VILLAGE, H_ORG_TOWNSHIP);
	s_branch(sock, S_TA, "t-branch3", H_ORG_VILLAGE, H_ORG_TOWNSHIP);
}

/* The people of the mixed journal: a01-a13 (a01-a03 with ID numbers),
 * a-farm (farmer) and the
 * probationary a-prob in t-branch; a21, a22 and a-act (activity org
 * t-branch) in t-branch2; b01-b05 in B's branch. */
static void
s_mixed_people(void *sock)
{
	char id[16], idn[19];
	for (int i = 1; i <= 13; i++) {
		snprintf(id, sizeof id, "a%02d", i);
		if (i > 3) {
			s_member(sock, S_TA, id, H_ORG_BRANCH, NULL, false);
			continue;
		}
		/* a01-a03 with their ID numbers (the blind index) */
		h_idnum("19700101", (unsigned)i, idn);
		struct hmsg m = hm_member_in(S_TA, id, id, H_ORG_BRANCH, "党员", idn);
		assert_true(hc_expect(sock, &m, ACC, OK));
		hm_free(&m);
	}
	s_member(sock, S_TA, "a-farm", H_ORG_BRANCH, NULL, true);
	s_probationary(sock, S_TA, "a-prob", H_ORG_BRANCH);
	s_member(sock, S_TA, "a21", "t-branch2", NULL, false);
	s_member(sock, S_TA, "a22", "t-branch2", NULL, false);
	s_member(sock, S_TA, "a-act", "t-branch2", H_ORG_BRANCH, false);
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof id, "b%02d", i);
		s_member(sock, S_TB, id, S_B_BRANCH, NULL, false);
	}
}

/* The rest of the membership kinds: a probationary member admitted 400
 * days ago and confirmed, a probation extended, a letter rejected by its
 * receiver, a mobile member's certificate reviewed. */
static void
s_mixed_rest(void *sock)
{
	Jiceng__V1__MemberAdmitted ad = JICENG__V1__MEMBER_ADMITTED__INIT;
	Jiceng__V1__MemberConfirmed co = JICENG__V1__MEMBER_CONFIRMED__INIT;
	Jiceng__V1__ProbationExtended pe = JICENG__V1__PROBATION_EXTENDED__INIT;
	Jiceng__V1__TransferRejected rj = JICENG__V1__TRANSFER_REJECTED__INIT;
	Jiceng__V1__CertificateReviewed cr = JICENG__V1__CERTIFICATE_REVIEWED__INIT;

	ad.member_id = "a-prob2";
	ad.org_id = H_ORG_BRANCH;
	ad.name = "预备党员";
	ad.birth_date = "1995-05-01";
	ad.admitted_at = s_ago(400 * S_DAY_MS);
	s_send(sock, S_TA, EV(MEMBER_ADMITTED), &ad, OK);
	co.member_id = "a-prob2";
	co.confirmed_at = s_ago(S_DAY_MS);
	s_send(sock, S_TA, EV(MEMBER_CONFIRMED), &co, OK);
	pe.member_id = "a-prob";
	pe.months = 6;
	pe.decided_at = s_ago(1000);
	s_send(sock, S_TA, EV(PROBATION_EXTENDED), &pe, OK);
	s_issue(sock, S_TB, "tr-b03", "b03", S_B_BRANCH, H_ORG_BRANCH, s_ago(2 * S_DAY_MS), 30);
	rj.transfer_id = "tr-b03";
	rj.reason = "不符合接收条件";
	rj.rejected_at = s_ago(S_DAY_MS);
	s_send(sock, S_TA, EV(TRANSFER_REJECTED), &rj, OK);
	cr.flow_id = "fl-a12";
	cr.reviewed_at = s_ago(5 * S_DAY_MS);
	s_send(sock, S_TA, EV(CERTIFICATE_REVIEWED), &cr, OK);
}

/* Transfers, mobile episodes and status changes. */
static void
s_mixed_movements(void *sock)
{
	Jiceng__V1__MemberUpdated up = JICENG__V1__MEMBER_UPDATED__INIT;
	Jiceng__V1__OrgUpdated ou = JICENG__V1__ORG_UPDATED__INIT;
	Jiceng__V1__TransferRevoked rv = JICENG__V1__TRANSFER_REVOKED__INIT;
	Jiceng__V1__TransferReceived in = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__ExternalOrg from = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MemberRegistered reg = JICENG__V1__MEMBER_REGISTERED__INIT;
	char *act[1] = { H_ORG_BRANCH };

	s_transfer(sock, S_TA, S_TA, "tr-a07", "a07", H_ORG_BRANCH, "t-branch2");
	s_transfer(sock, S_TA, S_TB, "tr-a08", "a08", H_ORG_BRANCH, S_B_BRANCH);
	s_transfer_out(sock, S_TA, "tr-a09", "a09", H_ORG_BRANCH);
	/* Valid 30 days from 40 days ago: the next Tick expires it (T8). */
	s_issue(sock, S_TA, "tr-a10", "a10", H_ORG_BRANCH, S_B_BRANCH, s_ago(40 * S_DAY_MS), 30);
	s_issue(sock, S_TA, "tr-a11", "a11", H_ORG_BRANCH, S_B_BRANCH, s_ago(2 * S_DAY_MS), 30);
	rv.transfer_id = "tr-a11";
	rv.reason = "填写错误";
	rv.revoked_at = s_ago(S_DAY_MS);
	s_send(sock, S_TA, EV(TRANSFER_REVOKED), &rv, OK);
	from.area_code = "510104";
	from.org_name = "成都市锦江区某社区党委";
	reg.member_id = "b-in";
	reg.name = "王五";
	reg.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	reg.admitted_at = 994000000000LL;
	reg.confirmed_at = 1026000000000LL;
	in.transfer_id = "tr-b-in";
	in.to_org_id = S_B_BRANCH;
	in.received_at = s_ago(5 * S_DAY_MS);
	in.from_external = &from;
	in.member_id = "b-in";
	in.member = &reg;
	s_send(sock, S_TB, EV(TRANSFER_RECEIVED), &in, OK);

	/* a12 works in B, hosted by B's branch; b02 the other way; a03 left
	 * 13 months ago and nobody heard of it since (lost contact at the
	 * Tick); a05 came back. */
	s_departed(sock, S_TA, "fl-a12", "a12", S_B_BRANCH, s_ago(60 * S_DAY_MS));
	s_reported(sock, S_TB, "fl-a12", S_B_BRANCH, s_ago(59 * S_DAY_MS));
	s_contacted(sock, S_TA, "fl-a12", s_ago(7 * S_DAY_MS));
	s_departed(sock, S_TB, "fl-b02", "b02", H_ORG_BRANCH, s_ago(30 * S_DAY_MS));
	s_reported(sock, S_TA, "fl-b02", H_ORG_BRANCH, s_ago(29 * S_DAY_MS));
	s_departed(sock, S_TA, "fl-a03", "a03", NULL, civil_add_months(now_wall_ms(), -13));
	s_departed(sock, S_TA, "fl-a05", "a05", NULL, s_ago(90 * S_DAY_MS));
	s_returned(sock, S_TA, "fl-a05", s_ago(10 * S_DAY_MS));

	s_suspend(sock, S_TA, "a13");
	up.member_id = "a22";
	up.replace_activity_orgs = true;
	up.n_activity_org_ids = 1;
	up.activity_org_ids = act;
	s_send(sock, S_TA, EV(MEMBER_UPDATED), &up, OK);
	ou.org_id = "t-branch2";
	ou.name = "中共测试村第二支部委员会";
	s_send(sock, S_TA, EV(ORG_UPDATED), &ou, OK);
	s_dissolve(sock, S_TA, "t-branch3", H_ORG_TOWNSHIP);
}

/* Budgets (by the local principal, which has the county's rights),
 * disbursements, a reversal and dues; with the rejections of each. */
static void
s_mixed_funds(void *sock)
{
	int y = s_year(), p1 = y * 100 + 1, p2 = y * 100 + 2, p3 = y * 100 + 3;

	s_budget(sock, S_TA, "bud-a-base", FK(CADRE_BASE_PAY), y, FS(FISCAL), 1000000, OK);
	s_budget(sock, S_TA, "bud-a-base2", FK(CADRE_BASE_PAY), y, FS(COLLECTIVE), 100000, OK);
	s_budget(sock, S_TA, "bud-a-act", FK(PARTY_ACTIVITY_FUND), y, FS(FISCAL), 200000, OK);
	s_budget(sock, S_TB, "bud-b-base", FK(CADRE_BASE_PAY), y, FS(FISCAL), 500000, OK);
	s_budget(sock, S_TC, "bud-c-base", FK(CADRE_BASE_PAY), y, FS(FISCAL), 500000,
	    "UNKNOWN_TOWNSHIP");

	s_base_pay(sock, S_TA, "d-a01", "a01", 30000, p1, OK);
	s_base_pay(sock, S_TA, "d-a02", "a02", 30000, p1, OK);
	s_base_pay(sock, S_TA, "d-a04", "a04", 30000, p1, OK);
	s_pay(sock, S_TA, "d-a01s", FK(CADRE_BASE_PAY), "a01", NULL, 5000, p1, true, OK);
	s_base_pay(sock, S_TA, "d-a01x", "a01", 1000, p1, "F3");
	s_base_pay(sock, S_TA, "d-a02b", "a02", 30000, p2, OK);
	s_reverse(sock, S_TA, "d-a02b", OK);
	s_reverse(sock, S_TA, "d-a02b", "F5");
	s_base_pay(sock, S_TA, "d-a02c", "a02", 31000, p2, OK);
	s_pay(sock, S_TA, "d-act", FK(PARTY_ACTIVITY_FUND), NULL, H_ORG_BRANCH, 50000, p3, false, OK);
	s_base_pay(sock, S_TB, "d-b01", "b01", 30000, p1, OK);
	s_base_pay(sock, S_TB, "d-a01b", "a01", 30000, p2, "WRONG_TOWNSHIP");
	s_base_pay(sock, S_TA, "d-a13", "a13", 30000, p2, "R3");

	s_dues(sock, S_TA, "a01", s_month(1), 100, NULL, OK, NULL);
	s_dues(sock, S_TA, "a01", s_month(2), 100, NULL, OK, NULL);
	s_dues(sock, S_TA, "a01", s_month(2), 100, NULL, "DUES_EXISTS", NULL);
	s_dues(sock, S_TA, "a04", s_month(1), 100, "b01", OK, NULL);   /* 代缴 from B */
	s_dues(sock, S_TA, "a-farm", s_month(1), 500, NULL, OK, "F7");
	s_dues(sock, S_TB, "b01", s_month(1), 100, NULL, OK, NULL);
	s_dues(sock, S_TA, "a09", s_month(1), 100, NULL, "TRANSFERRED_OUT", NULL);
}

/* Meetings and an appraisal before the Tick, with their rejections; the
 * M2 figures: t-branch's FULL, NORMAL members are a01-a06, a10, a11, a12,
 * a-farm and a-prob2 (a07, a08, a09 left, a13 is suspended, a-prob still
 * probationary). */
static void
s_mixed_meetings(void *sock)
{
	static const struct s_mt a1 = { "mt-a1", H_ORG_BRANCH,
		{ MT(BRANCH_ASSEMBLY), MT(THEMED_PARTY_DAY) },
		{ "a01", "a02", "a04", "a06", "a-act", "a22", "b02", "a-prob" },
		{ "a13", "a12" }, { NULL }, 0, false };
	static const struct s_mt a2 = { "mt-a2", H_ORG_BRANCH, { MT(BRANCH_ASSEMBLY) },
		{ "a01", "a02", "a03", "a04", "a05", "a06", "a10" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt a3 = { "mt-a3", H_ORG_BRANCH, { MT(BRANCH_COMMITTEE) },
		{ "a01" }, { "a02" }, { "a01", "a02", "a04" }, 0, false };
	static const struct s_mt a4 = { "mt-a4", H_ORG_BRANCH, { MT(PARTY_LECTURE) },
		{ "a01", "a-prob", "b02" }, { NULL }, { NULL }, 0, true };
	static const struct s_mt a5 = { "mt-a5", H_ORG_BRANCH,
		{ MT(DEMOCRATIC_APPRAISAL), MT(ORG_LIFE_MEETING) },
		{ "a01", "a02", "a04", "a06" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt b1 = { "mt-b1", S_B_BRANCH, { MT(GROUP_MEETING) },
		{ "b01", "b03", "a08", "b-in", "a12" }, { "b04" }, { NULL }, 0, false };
	static const struct s_mt a21 = { "mt-a21", "t-branch2", { MT(GROUP_MEETING) },
		{ "a07", "a21", "a-act" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt x1 = { "mt-x1", "t-branch3", { MT(GROUP_MEETING) },
		{ "a01" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt x2 = { "mt-x2", H_ORG_BRANCH, { MT(GROUP_MEETING) },
		{ "a01" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt x3 = { "mt-x3", H_ORG_BRANCH, { MT(GROUP_MEETING) },
		{ "a01", "a08" }, { NULL }, { NULL }, 0, false };
	static const char *const graded[] = { "a01", "a02", "a04" };
	static const int grades[] = { JICENG__V1__APPRAISAL_GRADE__EXCELLENT,
		JICENG__V1__APPRAISAL_GRADE__QUALIFIED, JICENG__V1__APPRAISAL_GRADE__BASICALLY_QUALIFIED };

	s_meeting(sock, S_TA, &a1, OK, "M2");
	s_meeting(sock, S_TA, &a2, OK, NULL);
	s_meeting(sock, S_TA, &a3, OK, "M3");
	s_meeting(sock, S_TA, &a4, OK, NULL);
	s_meeting(sock, S_TA, &a5, OK, NULL);
	s_appraisal(sock, S_TA, "mt-a5", H_ORG_BRANCH, s_year() - 1, graded, grades, 3, OK);
	s_meeting(sock, S_TB, &b1, OK, NULL);
	s_meeting(sock, S_TA, &a21, OK, NULL);
	s_meeting(sock, S_TA, &x1, "ORG_DISSOLVED", NULL);
	s_meeting(sock, S_TB, &x2, "WRONG_TOWNSHIP", NULL);
	s_meeting(sock, S_TA, &x3, "M1", NULL);
}

/* After the Tick: B pays and collects from the member it received;
 * a12 comes home and is no longer B's to seat; a06's letter stays open. */
static void
s_mixed_after_tick(void *sock)
{
	static const struct s_mt a6 = { "mt-a6", H_ORG_BRANCH, { MT(GROUP_MEETING) },
		{ "a01", "b02" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt b2 = { "mt-b2", S_B_BRANCH, { MT(GROUP_MEETING) },
		{ "b01", "a12" }, { NULL }, { NULL }, 0, false };
	int y = s_year();

	s_meeting(sock, S_TA, &a6, OK, NULL);
	s_base_pay(sock, S_TB, "d-a08", "a08", 30000, y * 100 + 4, OK);
	s_base_pay(sock, S_TA, "d-a08x", "a08", 30000, y * 100 + 5, "WRONG_TOWNSHIP");
	s_dues(sock, S_TB, "a08", s_month(1), 100, NULL, OK, NULL);
	s_dues(sock, S_TA, "a08", s_month(2), 100, NULL, "WRONG_TOWNSHIP", NULL);
	s_returned(sock, S_TA, "fl-a12", s_ago(1000));
	s_meeting(sock, S_TB, &b2, "M1", NULL);
	/* A letter left open at the end (its expiry pending). */
	s_issue(sock, S_TA, "tr-a06", "a06", H_ORG_BRANCH, S_B_BRANCH, s_ago(S_DAY_MS), 30);
}

/* The attendee of meeting r that is member, or fail. */
static const Jiceng__V1__MeetingAttendee *
s_attendee(const QueryReply *r, const char *member)
{
	for (size_t i = 0; i < r->meeting->n_attendees; i++)
		if (strcmp(r->meeting->attendees[i]->member_id, member) == 0)
			return r->meeting->attendees[i];
	fail_msg("%s is not an attendee of %s", member, r->meeting->meeting_id);
	return NULL;
}

static void
s_role_is(const QueryReply *r, const char *member, int role, bool voting)
{
	const Jiceng__V1__MeetingAttendee *a = s_attendee(r, member);
	if ((int)a->role != role || a->voting != voting)
		fail_msg("%s at %s: role %d voting %d, expected %d %d", member,
		    r->meeting->meeting_id, a->role, a->voting, role, voting);
}

/* What the queries read back from the meetings and funds environments. */
static void
s_mixed_check(struct hd *d)
{
	QueryReply *r = s_q_meeting(d, "mt-a1");
	s_role_is(r, "a01", ROLE(MEMBER), true);
	s_role_is(r, "a-prob", ROLE(MEMBER), false);
	s_role_is(r, "a-act", ROLE(ACTIVITY), false);
	s_role_is(r, "a22", ROLE(ACTIVITY), false);
	s_role_is(r, "b02", ROLE(HOSTED), false);
	assert_int_equal(r->meeting->voting_due, 11);
	assert_int_equal(r->meeting->voting_present, 4);
	assert_true(r->meeting->inquorate);
	assert_int_equal(r->meeting->n_absentees, 2);
	hq_free(r);
	r = s_q_meeting(d, "mt-a2");
	assert_int_equal(r->meeting->voting_present, 7);
	assert_false(r->meeting->inquorate);
	hq_free(r);
	r = s_q_meeting(d, "mt-a3");
	assert_true(r->meeting->committee_inquorate);
	hq_free(r);
	r = s_q_meeting(d, "mt-a5");
	assert_int_equal(r->meeting->appraisal_year, s_year() - 1);
	assert_int_equal(r->meeting->n_grades, 3);
	hq_free(r);
	r = s_q_meeting(d, "mt-b1");
	s_role_is(r, "a08", ROLE(MEMBER), true);
	s_role_is(r, "b-in", ROLE(MEMBER), true);
	s_role_is(r, "a12", ROLE(HOSTED), false);
	hq_free(r);
	assert_int_equal(s_q_meetings(d, H_ORG_BRANCH), 6);
	assert_int_equal(s_q_meetings(d, S_B_BRANCH), 1);
	assert_int_equal(s_q_attended(d, "a01"), 6);
	assert_int_equal(s_q_attended(d, "b02"), 3);   /* hosted by A's branch */
	assert_int_equal(s_q_attended(d, "a-act"), 2);

	s_ledger_is(d, "bud-a-base", 1100000, 3 * 30000 + 5000 + 30000 + 31000, 30000);
	s_ledger_is(d, "bud-a-act", 200000, 50000, 0);
	s_ledger_is(d, "bud-b-base", 500000, 60000, 0);
	assert_int_equal(s_q_payments(d, "a02"), 3);
	assert_int_equal(s_q_payments(d, "a08"), 1);
	int64_t total;
	assert_int_equal(s_q_dues(d, "a01", &total), 2);
	assert_int_equal(total, 200);
	assert_int_equal(s_q_dues(d, "a08", &total), 1);
}

/* The mixed journal below, for 99-standby too (harness.h). */
void
hc_domains_mixed(void *sock)
{
	s_two_townships(sock);
	s_mixed_people(sock);
	s_mixed_movements(sock);
	s_mixed_rest(sock);
	s_mixed_funds(sock);
	s_mixed_meetings(sock);
}

static void
test_consistency(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "dm", &sock);
	hc_domains_mixed(sock);

	/* A reload journals a RulesChanged: every worker takes it at the
	 * same seq (F6 at 3 months back from now on). */
	hd_config_write(d, S_WORKERS "[rules]\ndues.max_months_back = 3\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	for (int i = 0; i < 50 && hd_log_count(d, "journaled RulesChanged at seq") < 2; i++)
		h_sleep_ms(100);
	assert_int_equal(hd_log_count(d, "journaled RulesChanged at seq"), 2);
	s_dues(sock, S_TA, "a02", s_month(4), 100, NULL, OK, "F6");

	/* A restart journals a Tick: a10's letter expires, a03 is lost. */
	hc_close(sock);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	uint64_t before = hq_journal_length(d);
	s_stop(d);
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	assert_true(hq_journal_length(d) > before);
	QueryReply *r = s_q_member(d, "a10");
	assert_int_equal(r->member->transfer_state, JICENG__V1__TRANSFER_STATE__TRANSFER_EXPIRED);
	hq_free(r);
	r = s_q_member(d, "a03");
	assert_int_equal(r->member->mobility_state, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	hq_free(r);
	sock = hc_connect(d);
	assert_non_null(sock);
	s_mixed_after_tick(sock);
	hc_close(sock);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	s_mixed_check(d);

	s_stop(d);
	static const char *const nonempty[] = { "orgs", "orgs_children", "members",
		"members_by_org", "members_by_index", "membership_meta", "membership_audit",
		"orgs_o3_pending", "transfers", "transfers_by_member", "transfers_open_by_org",
		"transfers_open_by_township", "transfers_expiry", "mobile_episodes",
		"mobile_by_member", "mobile_open_by_org", "mobile_open_by_township",
		"mobile_contact_due", "mobile_review_due", "mobile_hosted", "status_log",
		"status_current", NULL };
	s_membership_agree(d, nonempty);
	s_rebuild_same(d, "membership");
	s_rebuild_same(d, "meetings");
	s_rebuild_same(d, "funds");
	hd_pass(d);
}

/* ================================================================ (b) kill -9 of a worker */

#define KS_N 1500            /* originals */
#define KS_GROUP 10          /* a registration, then what uses it */
#define KS_RESEND_EVERY 97
#define KS_BAD_EVERY 113
#define KS_KILLS 3

/* A pipelined stream in groups of KS_GROUP: a member registration, then
 * events of the domain under test about that member; the worker of that
 * domain killed KS_KILLS times while it runs. */
struct ks {
	struct hd *d;
	const char *role;              /* the worker killed */
	const char *prefix;            /* event ids PREFIX-NNNNN */
	struct hmsg msgs[KS_N];
	struct hmsg *order[KS_N + KS_N / KS_RESEND_EVERY + 1];
	int nsend;
	const char *want[KS_N];        /* "OK" or the code it is to be rejected with */
	int sends[KS_N], acks[KS_N], answers[KS_N], dups[KS_N];
	uint64_t seq[KS_N];
	int bad;
	pid_t killed[KS_KILLS];
	int nkilled, acked_at_kill;
	pid_t others[2];               /* the other workers, not to be restarted */
};

static int
s_ks_index(const struct ks *k, const char *event_id)
{
	size_t n = strlen(k->prefix);
	int i;
	if (strncmp(event_id, k->prefix, n) != 0 || event_id[n] != '-' ||
	    sscanf(event_id + n + 1, "%d", &i) != 1 || i < 0 || i >= KS_N)
		return -1;
	return i;
}

static void
s_ks_ack(struct hpump *p, Ack *a)
{
	struct ks *k = p->arg;
	int i = s_ks_index(k, a->event_id);
	if (i < 0) {
		fprintf(stderr, "unexpected ack for '%s'\n", a->event_id);
		k->bad++;
		return;
	}
	if (k->acks[i]++ == 0)
		k->seq[i] = a->seq;
	else if (a->seq != k->seq[i]) {
		fprintf(stderr, "%s: seq %llu then %llu\n", a->event_id,
		    (unsigned long long)k->seq[i], (unsigned long long)a->seq);
		k->bad++;
	}
	bool fresh = a->verdict != DUP;
	Jiceng__V1__Verdict v = fresh ? a->verdict : a->original_verdict;
	bool want_ok = strcmp(k->want[i], OK) == 0;
	if (want_ok ? v != ACC : v != REJ || strcmp(a->code, k->want[i]) != 0) {
		fprintf(stderr, "%s: %s/%s (%s), expected %s\n", a->event_id,
		    codec_verdict_name(a->verdict), a->code, a->reason, k->want[i]);
		k->bad++;
	}
	k->answers[i] += fresh;
	k->dups[i] += !fresh;
}

/* kill -9 the worker at hook_at acks, and again every 400 acks, KS_KILLS
 * times in all (each time once it has been restarted). */
static void
s_ks_kill(struct hpump *p)
{
	struct ks *k = p->arg;
	pid_t pid = k->nkilled ? hd_child_wait_new(k->d, k->role, k->killed[k->nkilled - 1], 5000) :
	    hd_child(k->d, k->role);
	if (!pid)
		return;
	kill(pid, SIGKILL);
	k->killed[k->nkilled++] = pid;
	k->acked_at_kill = p->acked;
	if (k->nkilled < KS_KILLS) {
		p->hooked = false;
		p->hook_at = p->acked + 400;
	}
}

/* Queue msgs[i] (made by the caller) and, every KS_RESEND_EVERY, a resend
 * of an earlier one with the same bytes. */
static void
s_ks_queue(struct ks *k, int i)
{
	k->order[k->nsend++] = &k->msgs[i];
	k->sends[i]++;
	if (i % KS_RESEND_EVERY == 0 && i >= 50) {
		k->order[k->nsend++] = &k->msgs[i - 50];
		k->sends[i - 50]++;
	}
}

/* A bad event of the stream (not a registration): an unknown member. */
static bool
s_ks_bad(int i)
{
	return i % KS_BAD_EVERY == 3 && i % KS_GROUP != 0;
}

/* Run the stream, kill the worker, and check the acks: one per send, one
 * answer per event with its expected verdict, a resend a DUPLICATE of it;
 * the other workers never restarted. */
static void
s_ks_run(struct ks *k, void *sock)
{
	k->others[0] = hd_child(k->d, strcmp(k->role, "membership") ? "membership" : "meetings");
	k->others[1] = hd_child(k->d, strcmp(k->role, "funds") ? "funds" : "meetings");
	struct hpump p = {
		.sock = sock, .send = k->order, .nsend = k->nsend, .window = 300,
		.on_ack = s_ks_ack, .hook_at = 300, .hook = s_ks_kill, .arg = k,
	};
	assert_int_equal(hp_run(&p, 90000), 0);
	assert_int_equal(k->nkilled, KS_KILLS);
	assert_true(k->acked_at_kill < k->nsend - 100);
	assert_true(hd_child_wait_new(k->d, k->role, k->killed[KS_KILLS - 1], 5000) > 0);
	Ack *extra = hc_recv(sock, 500);
	if (extra)
		fail_msg("an extra ack for %s (%s)", extra->event_id,
		    codec_verdict_name(extra->verdict));
	assert_int_equal(k->bad, 0);
	for (int i = 0; i < KS_N; i++) {
		if (k->acks[i] != k->sends[i] || k->answers[i] != 1 || k->dups[i] != k->sends[i] - 1)
			fail_msg("%s-%05d: sent %d times, %d acks, %d answers, %d duplicates",
			    k->prefix, i, k->sends[i], k->acks[i], k->answers[i], k->dups[i]);
	}
	for (int i = 0; i < KS_KILLS; i++) {
		char how[96];
		snprintf(how, sizeof how, "%s (pid %d) killed by signal 9", k->role, (int)k->killed[i]);
		assert_true(hd_log_has(k->d, how));
	}
	assert_int_equal(hd_child(k->d, strcmp(k->role, "membership") ? "membership" : "meetings"),
	    k->others[0]);
	assert_int_equal(hd_child(k->d, strcmp(k->role, "funds") ? "funds" : "meetings"),
	    k->others[1]);
	assert_false(hd_log_has(k->d, "quarantined"));
}

/* Member i of the stream (a registration at i). */
static void
s_ks_member(struct ks *k, int i, char *out, size_t len)
{
	snprintf(out, len, "%s-m-%05d", k->prefix, i);
}

static struct ks *
s_ks_new(struct hd *d, const char *role, const char *prefix)
{
	struct ks *k = calloc(1, sizeof *k);
	assert_non_null(k);
	k->d = d;
	k->role = role;
	k->prefix = prefix;
	return k;
}

static void
s_ks_free(struct ks *k)
{
	for (int i = 0; i < KS_N; i++)
		hm_free(&k->msgs[i]);
	free(k);
}

/* The meetings stream: in each group the registration of member M, then
 * nine meetings of t-branch attended by the two fixed members and M (every
 * fifth an assembly, which walks the roster); a bad one names an unknown
 * attendee. */
static void
s_km_stream(struct ks *k, int *good_meetings)
{
	char eid[32], member[32], mid[32];
	const char *present[4] = { "km-f0", "km-f1", member, NULL };
	int64_t t0 = s_ago(20 * S_DAY_MS);
	*good_meetings = 0;
	for (int i = 0; i < KS_N; i++) {
		snprintf(eid, sizeof eid, "%s-%05d", k->prefix, i);
		s_ks_member(k, i - i % KS_GROUP, member, sizeof member);
		if (i % KS_GROUP == 0) {
			k->msgs[i] = hm_member(eid, member, H_ORG_BRANCH, "党员", NULL);
			k->want[i] = OK;
		} else {
			struct s_mt m = { .id = mid, .org = H_ORG_BRANCH,
				.types = { i % 5 ? MT(GROUP_MEETING) : MT(BRANCH_ASSEMBLY) },
				.held_at = t0 + (int64_t)i * 60000 };
			Jiceng__V1__MeetingHeld e;
			Jiceng__V1__MeetingType types[4];
			Jiceng__V1__Absentee abs[4], *absp[4];
			snprintf(mid, sizeof mid, "km-mt-%05d", i);
			memcpy(m.present, present, sizeof present);
			if (s_ks_bad(i))
				m.present[2] = "km-nobody";
			s_meeting_msg(&m, &e, types, abs, absp);
			k->msgs[i] = hm_event(eid, NULL, EV(MEETING_HELD), &e);
			k->want[i] = s_ks_bad(i) ? "UNKNOWN_MEMBER" : OK;
			*good_meetings += !s_ks_bad(i);
		}
		s_ks_queue(k, i);
	}
}

/* kill -9 of the meetings worker mid-stream: each accepted meeting is
 * recorded once, in its org's list and in each attendee's attendance. */
static void
test_meetings_worker_kill9(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "km", &sock);
	s_member(sock, S_TA, "km-f0", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "km-f1", H_ORG_BRANCH, NULL, false);
	struct ks *k = s_ks_new(d, "meetings", "km");
	int good;
	s_km_stream(k, &good);
	s_ks_run(k, sock);

	assert_int_equal(s_q_meetings(d, H_ORG_BRANCH), good);
	assert_int_equal(s_q_attended(d, "km-f0"), good);
	assert_int_equal(s_q_attended(d, "km-f1"), good);
	for (int g = 0; g < KS_N; g += 7 * KS_GROUP) {
		char member[32];
		int mine = 0;
		for (int i = g + 1; i < g + KS_GROUP; i++)
			mine += !s_ks_bad(i);
		s_ks_member(k, g, member, sizeof member);
		assert_int_equal(s_q_attended(d, member), mine);
	}
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(hq_stat_count(r, true, "meeting_held"), good);
	assert_int_equal(hq_stat_count(r, true, "member_registered"), KS_N / KS_GROUP + 2);
	hq_free(r);
	fprintf(stderr, "  %d meetings in %d events (%d sends), meetings worker killed %d times\n",
	    good, KS_N, k->nsend, KS_KILLS);
	s_ks_free(k);
	hc_close(sock);
	/* What the killed worker folded is what a clean fold gives. */
	s_end_agreed(d, "meetings");
	hd_pass(d);
}

#define KF_BUDGET 100000000000LL

/* The funds stream: in each group the registration of member M, then six
 * base-pay disbursements to M for months 1-6 of this year (amount 100 + i
 * fen; a bad one names an unknown member), a reversal of the sixth, and
 * M's dues for two months. *disbursed and *reversed: what the ledger must
 * say. */
static void
s_kf_stream(struct ks *k, int64_t *disbursed, int64_t *reversed)
{
	char eid[32], member[32], did[32];
	int y = s_year();
	*disbursed = *reversed = 0;
	for (int i = 0; i < KS_N; i++) {
		int slot = i % KS_GROUP;
		snprintf(eid, sizeof eid, "%s-%05d", k->prefix, i);
		s_ks_member(k, i - slot, member, sizeof member);
		if (slot == 0) {
			k->msgs[i] = hm_member(eid, member, H_ORG_BRANCH, "党员", NULL);
			k->want[i] = OK;
		} else if (slot <= 6) {
			snprintf(did, sizeof did, "kf-d-%05d", i);
			k->msgs[i] = s_pay_msg(eid, NULL, did, FK(CADRE_BASE_PAY),
			    s_ks_bad(i) ? "kf-nobody" : member, NULL, 100 + i, y * 100 + slot, false);
			k->want[i] = s_ks_bad(i) ? "UNKNOWN_MEMBER" : OK;
			*disbursed += s_ks_bad(i) ? 0 : 100 + i;
		} else if (slot == 7) {
			Jiceng__V1__DisbursementReversed e = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
			snprintf(did, sizeof did, "kf-d-%05d", i - 1);
			e.disbursement_id = did;
			e.reason = "冲销";
			e.reversed_at = s_ago(1000);
			k->msgs[i] = hm_event(eid, NULL, EV(DISBURSEMENT_REVERSED), &e);
			k->want[i] = s_ks_bad(i - 1) ? "F5" : OK;
			*reversed += s_ks_bad(i - 1) ? 0 : 100 + i - 1;
		} else {
			Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
			e.member_id = member;
			e.month = s_month(slot - 7);
			e.amount_fen = 50;
			e.paid_at = s_ago(1000);
			k->msgs[i] = hm_event(eid, NULL, EV(DUES_PAID), &e);
			k->want[i] = OK;
		}
		s_ks_queue(k, i);
	}
}

/* kill -9 of the funds worker mid-stream: each amount is in the ledger
 * once, each payment and each month of dues listed once. */
static void
test_funds_worker_kill9(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "kf", &sock);
	s_budget(sock, S_TA, "kf-bud", FK(CADRE_BASE_PAY), s_year(), FS(FISCAL), KF_BUDGET, OK);
	struct ks *k = s_ks_new(d, "funds", "kf");
	int64_t disbursed, reversed;
	s_kf_stream(k, &disbursed, &reversed);
	s_ks_run(k, sock);

	s_ledger_is(d, "kf-bud", KF_BUDGET, disbursed, reversed);
	for (int g = 0; g < KS_N; g += 7 * KS_GROUP) {
		char member[32];
		int64_t total;
		int mine = 0;
		for (int i = g + 1; i <= g + 6; i++)
			mine += !s_ks_bad(i);
		s_ks_member(k, g, member, sizeof member);
		assert_int_equal(s_q_payments(d, member), mine);
		assert_int_equal(s_q_dues(d, member, &total), 2);
		assert_int_equal(total, 100);
	}
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(hq_stat_count(r, true, "dues_paid"), 2 * KS_N / KS_GROUP);
	hq_free(r);
	fprintf(stderr, "  ledger: %lld disbursed, %lld reversed in %d events (%d sends), "
	    "funds worker killed %d times\n", (long long)disbursed, (long long)reversed, KS_N,
	    k->nsend, KS_KILLS);
	s_ks_free(k);
	hc_close(sock);
	s_end_agreed(d, "funds");
	hd_pass(d);
}

/* ================================================================ (b) poison */

#define FP_BEFORE 6
#define FP_AFTER 12

/* Event i of the poison stream (the poison at FP_BEFORE): a disbursement
 * when i % 3 == 0, else a registration (i % 3 == 1) and a meeting the
 * member attends (i % 3 == 2). Returns whether it is the funds worker's. */
static bool
s_fp_event(int i, struct hmsg *m)
{
	char eid[32], member[32], id[32];
	const char *present[2] = { member, NULL };
	snprintf(eid, sizeof eid, i == FP_BEFORE ? "fp-poison" : "fp-%03d", i);
	snprintf(member, sizeof member, "fp-m-%03d", i - i % 3 + 1);
	snprintf(id, sizeof id, "fp-x-%03d", i);
	if (i % 3 == 0) {
		*m = s_pay_msg(eid, NULL, id, FK(CADRE_BASE_PAY), "fp-m0", NULL, 1000 + i,
		    s_year() * 100 + 1 + i / 3, false);
		return true;
	}
	if (i % 3 == 1) {
		*m = hm_member(eid, member, H_ORG_BRANCH, "党员", NULL);
		return false;
	}
	struct s_mt mt = { .id = id, .org = H_ORG_BRANCH, .types = { MT(GROUP_MEETING) } };
	Jiceng__V1__MeetingHeld e;
	Jiceng__V1__MeetingType types[4];
	Jiceng__V1__Absentee abs[4], *absp[4];
	memcpy(mt.present, present, sizeof present);
	s_meeting_msg(&mt, &e, types, abs, absp);
	*m = hm_event(eid, NULL, EV(MEETING_HELD), &e);
	return false;
}

/* A poison event of the funds worker alone: quarantined after
 * quarantine_after (3) counted crashes, answered INTERNAL_ERROR; the
 * membership and meetings workers answer everything after it meanwhile,
 * and are never restarted; nothing of it reaches the ledger. */
static void
test_funds_poison(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	struct hd *d = hd_new(&o);
	struct hmsg msgs[FP_BEFORE + 1 + FP_AFTER];
	bool funds[FP_BEFORE + 1 + FP_AFTER];
	const int n = FP_BEFORE + 1 + FP_AFTER;
	int64_t paid = 0;
	assert_non_null(d);
	*state = d;
	hd_worker_env(d, "funds", "JICENG_FAULT_CRASH_EVENT=fp-poison");
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "fp"), 0);
	s_member(sock, S_TA, "fp-m0", H_ORG_BRANCH, NULL, false);
	s_budget(sock, S_TA, "fp-bud", FK(CADRE_BASE_PAY), s_year(), FS(FISCAL), 10000000, OK);
	pid_t membership = hd_child(d, "membership"), meetings = hd_child(d, "meetings");

	for (int i = 0; i < n; i++) {
		funds[i] = s_fp_event(i, &msgs[i]);
		assert_int_equal(hc_send(sock, &msgs[i]), 0);
	}
	int last_other_after = -1, poison_at = -1;
	uint64_t poison_seq = 0;
	for (int got = 0; got < n; got++) {
		Ack *a = hc_recv(sock, 30000);
		int i;
		if (!a)
			fail_msg("only %d of %d acks while the funds worker crash-loops", got, n);
		if (strcmp(a->event_id, "fp-poison") == 0) {
			assert_int_equal(a->verdict, REJ);
			assert_string_equal(a->code, "INTERNAL_ERROR");
			poison_at = got;
			poison_seq = a->seq;
		} else {
			assert_int_equal(sscanf(a->event_id, "fp-%d", &i), 1);
			if (a->verdict != ACC)
				fail_msg("%s: %s/%s (%s)", a->event_id, codec_verdict_name(a->verdict),
				    a->code, a->reason);
			if (i > FP_BEFORE && !funds[i])
				last_other_after = got;
			paid += funds[i] ? 1000 + i : 0;
		}
		hc_ack_free(a);
	}
	/* The others answered what followed the poison before it was judged. */
	assert_true(poison_at > last_other_after);
	assert_int_equal(hd_child(d, "membership"), membership);
	assert_int_equal(hd_child(d, "meetings"), meetings);
	assert_true(hd_log_count(d, "fault injection: crashing on event fp-poison") >= 3);
	assert_true(hd_log_has(d, "funds worker crashed 3 times applying it"));
	assert_false(hd_log_has(d, "membership died applying"));
	assert_false(hd_log_has(d, "meetings died applying"));

	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(r->stats->n_quarantined, 1);
	assert_int_equal(r->stats->quarantined[0]->seq, poison_seq);
	assert_int_equal(hq_stat_count(r, false, "INTERNAL_ERROR"), 1);
	hq_free(r);
	s_ledger_is(d, "fp-bud", 10000000, paid, 0);
	assert_int_equal(s_q_payments(d, "fp-m0"), n / 3);   /* the poison's not among them */
	/* Final: a resend is a DUPLICATE of the rejection. */
	Ack *a = hc_call(sock, &msgs[FP_BEFORE]);
	assert_non_null(a);
	assert_int_equal(a->verdict, DUP);
	assert_int_equal(a->original_verdict, REJ);
	assert_string_equal(a->code, "INTERNAL_ERROR");
	hc_ack_free(a);
	for (int i = 0; i < n; i++)
		hm_free(&msgs[i]);
	hc_close(sock);
	s_end_agreed(d, "funds");
	hd_pass(d);
}

/* A poison that is another worker's event (here a township committee's
 * OrgEstablished, which the funds module is handed like every event)
 * crashing the funds worker alone: the membership worker has
 * answered it ACCEPTED long before the funds worker's crashes quarantine
 * it. What must hold then: the acknowledged org is not lost (not for the
 * funds worker, not by a rebuild), the three workers still agree on
 * membership, and a resend is a DUPLICATE of the ACCEPTED answer given.
 * (The quarantine names the worker that crashed; only that worker skips
 * its own part of the event, fold.c.) */
static void
test_poison_of_another_worker(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	hd_worker_env(d, "funds", "JICENG_FAULT_CRASH_EVENT=pa-poison");
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "pa"), 0);
	struct hmsg c = hm_org_in(S_TC, "pa-poison", "c-committee",
	    JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL, "中共测试三镇委员会");
	assert_true(hc_expect(sock, &c, ACC, OK));
	assert_true(hd_log_wait(d, "funds worker crashed 3 times applying it", 20000));
	assert_int_equal(hq_caught_up(d, 20000), 0);
	/* The org the county was told exists is the funds worker's too. */
	s_budget(sock, S_TC, "pa-bud", FK(CADRE_BASE_PAY), s_year(), FS(FISCAL), 1000, OK);
	hc_close(sock);
	s_end_agreed(d, "membership");
	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	Ack *a = hc_call(sock, &c);
	assert_non_null(a);
	assert_int_equal(a->verdict, DUP);
	assert_int_equal(a->original_verdict, ACC);
	hc_ack_free(a);
	hm_free(&c);
	hc_close(sock);
	hd_pass(d);
}

/* ================================================================ (c) meetings */

/* People of the order tests: a1-a3, the probationary ap and the suspended
 * s1 in A's branch; act in t-branch2 with A's branch as activity org; x
 * and y (to leave); b1 in B's branch. */
static void
s_order_people(void *sock)
{
	s_branch(sock, S_TA, "t-branch2", H_ORG_VILLAGE, H_ORG_TOWNSHIP);
	assert_int_equal(hc_org_tree_in(sock, S_TB, "ob", s_b_tree), 0);
	s_member(sock, S_TA, "a1", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "a2", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "a3", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "s1", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "x", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "y", H_ORG_BRANCH, NULL, false);
	s_probationary(sock, S_TA, "ap", H_ORG_BRANCH);
	s_member(sock, S_TA, "act", "t-branch2", H_ORG_BRANCH, false);
	s_member(sock, S_TB, "b1", S_B_BRANCH, NULL, false);
	s_suspend(sock, S_TA, "s1");
}

/* The appraisal's refusals, then the one accepted, then a second. */
static void
s_order_appraisals(void *sock)
{
	static const struct s_mt ap = { "om-ap", H_ORG_BRANCH, { MT(DEMOCRATIC_APPRAISAL) },
		{ "a1", "a2", "a3" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt plain = { "om-plain", H_ORG_BRANCH, { MT(ORG_LIFE_MEETING) },
		{ "a1" }, { NULL }, { NULL }, 0, false };
	static const struct s_mt bap = { "om-bap", S_B_BRANCH, { MT(DEMOCRATIC_APPRAISAL) },
		{ "b1" }, { NULL }, { NULL }, 0, false };
	static const int q1[] = { JICENG__V1__APPRAISAL_GRADE__QUALIFIED };
	static const int three[] = { JICENG__V1__APPRAISAL_GRADE__EXCELLENT,
		JICENG__V1__APPRAISAL_GRADE__QUALIFIED, JICENG__V1__APPRAISAL_GRADE__QUALIFIED };
	static const char *const ok3[] = { "a1", "a2", "a3" };
	const char *one[1];
	int y = s_year() - 1;

	/* Grades before their meeting is recorded. */
	one[0] = "a1";
	s_appraisal(sock, S_TA, "om-ap", H_ORG_BRANCH, y, one, q1, 1, "UNKNOWN_MEETING");
	s_meeting(sock, S_TA, &ap, OK, NULL);
	s_meeting(sock, S_TA, &plain, OK, NULL);
	s_meeting(sock, S_TB, &bap, OK, NULL);
	s_appraisal(sock, S_TA, "om-plain", H_ORG_BRANCH, y, one, q1, 1, "BAD_FIELD");
	/* The other township: for A's org, and for its own org naming A's meeting. */
	s_appraisal(sock, S_TB, "om-ap", H_ORG_BRANCH, y, one, q1, 1, "WRONG_TOWNSHIP");
	s_appraisal(sock, S_TB, "om-ap", S_B_BRANCH, y, one, q1, 1, "BAD_FIELD");
	/* Grades for those who are not the org's members. */
	static const struct { const char *id, *code; } nonmembers[] = {
		{ "nobody", "UNKNOWN_MEMBER" }, { "b1", "NOT_MEMBER" }, { "act", "NOT_MEMBER" },
		{ "x", "NOT_MEMBER" }, { "y", "NOT_MEMBER" }, { "ap", "M4" }, { "s1", "R3" },
	};
	for (size_t i = 0; i < sizeof nonmembers / sizeof nonmembers[0]; i++) {
		one[0] = nonmembers[i].id;
		s_appraisal(sock, S_TA, "om-ap", H_ORG_BRANCH, y, one, q1, 1, nonmembers[i].code);
	}
	s_appraisal(sock, S_TA, "om-ap", H_ORG_BRANCH, y, ok3, three, 3, OK);
	s_appraisal(sock, S_TA, "om-ap", H_ORG_BRANCH, y, ok3, three, 3, "APPRAISAL_EXISTS");
	one[0] = "b1";
	s_appraisal(sock, S_TB, "om-bap", S_B_BRANCH, y, one, q1, 1, OK);
}

/* Meetings in impossible orders and from the wrong township, each with
 * its code; the appraisals' likewise. */
static void
test_meetings_orders(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "om", &sock);
	s_order_people(sock);
	struct s_mt m = { .id = "om-1", .org = "t-new", .types = { MT(GROUP_MEETING) },
		.present = { "n1" } };

	/* The org, then its member, before they exist; then in order. */
	s_meeting(sock, S_TA, &m, "UNKNOWN_ORG", NULL);
	s_branch(sock, S_TA, "t-new", H_ORG_VILLAGE, H_ORG_TOWNSHIP);
	s_meeting(sock, S_TA, &m, "UNKNOWN_MEMBER", NULL);
	s_member(sock, S_TA, "n1", "t-new", NULL, false);
	s_meeting(sock, S_TA, &m, OK, NULL);
	s_meeting(sock, S_TA, &m, "MEETING_EXISTS", NULL);
	/* Meeting ids are the county's: B cannot reuse it for its own org. */
	m.org = S_B_BRANCH, m.present[0] = "b1";
	s_meeting(sock, S_TB, &m, "MEETING_EXISTS", NULL);

	/* A dissolved org, even for a meeting held before it was dissolved. */
	s_branch(sock, S_TA, "t-gone", H_ORG_VILLAGE, H_ORG_TOWNSHIP);
	s_dissolve(sock, S_TA, "t-gone", H_ORG_TOWNSHIP);
	m.id = "om-2", m.org = "t-gone", m.present[0] = "a1", m.held_at = s_ago(400 * S_DAY_MS);
	s_meeting(sock, S_TA, &m, "ORG_DISSOLVED", NULL);
	m.held_at = 0;

	/* The wrong township, either way; the other township's member. */
	m.id = "om-3", m.org = H_ORG_BRANCH, m.present[0] = "a1";
	s_meeting(sock, S_TB, &m, "WRONG_TOWNSHIP", NULL);
	m.org = S_B_BRANCH, m.present[0] = "b1";
	s_meeting(sock, S_TA, &m, "WRONG_TOWNSHIP", NULL);
	m.present[1] = "a1";
	s_meeting(sock, S_TB, &m, "M1", NULL);
	m.present[1] = NULL, m.absent[0] = "a1";
	s_meeting(sock, S_TB, &m, "M1", NULL);
	m.absent[0] = NULL;

	/* x moves to B, y leaves the county: neither sits in A's branch now;
	 * x sits in B's, with a vote. */
	s_transfer(sock, S_TA, S_TB, "om-tr-x", "x", H_ORG_BRANCH, S_B_BRANCH);
	s_transfer_out(sock, S_TA, "om-tr-y", "y", H_ORG_BRANCH);
	m.id = "om-4", m.org = H_ORG_BRANCH, m.present[0] = "a1", m.present[1] = "x";
	s_meeting(sock, S_TA, &m, "M1", NULL);
	m.present[1] = "y";
	s_meeting(sock, S_TA, &m, "M1", NULL);
	m.present[1] = NULL, m.absent[0] = "y";
	s_meeting(sock, S_TA, &m, "M1", NULL);
	m.absent[0] = NULL;
	m.org = S_B_BRANCH, m.present[0] = "b1", m.present[1] = "x";
	s_meeting(sock, S_TB, &m, OK, NULL);
	QueryReply *r = s_q_meeting(d, "om-4");
	s_role_is(r, "x", ROLE(MEMBER), true);
	hq_free(r);

	/* A suspended member is absent, never present (R3); held more than
	 * 10 minutes after the journal time (M5). */
	m.id = "om-5", m.org = H_ORG_BRANCH, m.present[0] = "a1", m.present[1] = "s1";
	s_meeting(sock, S_TA, &m, "R3", NULL);
	m.present[1] = NULL, m.absent[0] = "s1";
	s_meeting(sock, S_TA, &m, OK, NULL);
	m.id = "om-6", m.absent[0] = NULL, m.held_at = now_wall_ms() + 3600000;
	s_meeting(sock, S_TA, &m, "M5", NULL);

	s_order_appraisals(sock);
	hc_close(sock);
	s_end_agreed(d, NULL);
	hd_pass(d);
}

/* ================================================================ (c) funds */

/* Disbursements, reversals and dues in impossible orders and from the
 * wrong township, each with its code. */
static void
s_funds_orders(void *sock, struct hd *d)
{
	int y = s_year(), p1 = y * 100 + 1, p2 = y * 100 + 2;

	/* A reversal before its disbursement. */
	s_reverse(sock, S_TA, "of-1", "F5");
	/* Budgets of other lines (kind, year, township) do not pay A's base pay. */
	s_budget(sock, S_TA, "of-b-act", FK(PARTY_ACTIVITY_FUND), y, FS(FISCAL), 100000, OK);
	s_budget(sock, S_TA, "of-b-last", FK(CADRE_BASE_PAY), y - 1, FS(FISCAL), 100000, OK);
	s_budget(sock, S_TB, "of-b-b", FK(CADRE_BASE_PAY), y, FS(FISCAL), 100000, OK);
	s_base_pay(sock, S_TA, "of-1", "a1", 1000, p1, "F2");
	/* The line to the last fen, and one fen more; a reversal gives back. */
	s_budget(sock, S_TA, "of-b-base", FK(CADRE_BASE_PAY), y, FS(FISCAL), 100000, OK);
	s_base_pay(sock, S_TA, "of-1", "a1", 60000, p1, OK);
	s_base_pay(sock, S_TA, "of-2", "a2", 40000, p1, OK);
	s_base_pay(sock, S_TA, "of-3", "a2", 1, p2, "F2");
	s_reverse(sock, S_TA, "of-2", OK);
	s_base_pay(sock, S_TA, "of-3", "a2", 40000, p2, OK);
	s_ledger_is(d, "of-b-base", 100000, 140000, 40000);

	/* a1 moves to B: B pays and collects now; A's old payment stays A's to
	 * reverse. */
	s_transfer(sock, S_TA, S_TB, "of-tr-a1", "a1", H_ORG_BRANCH, S_B_BRANCH);
	s_base_pay(sock, S_TA, "of-4", "a1", 1000, p2, "WRONG_TOWNSHIP");
	s_dues(sock, S_TA, "a1", s_month(1), 100, NULL, "WRONG_TOWNSHIP", NULL);
	s_base_pay(sock, S_TB, "of-4", "a1", 1000, p2, OK);
	s_dues(sock, S_TB, "a1", s_month(1), 100, NULL, OK, NULL);
	s_reverse(sock, S_TB, "of-1", "WRONG_TOWNSHIP");
	s_reverse(sock, S_TA, "of-1", OK);

	/* Orgs: dissolved, unknown, the other township's; a suspended member. */
	s_branch(sock, S_TA, "t-gone", H_ORG_VILLAGE, H_ORG_TOWNSHIP);
	s_dissolve(sock, S_TA, "t-gone", H_ORG_TOWNSHIP);
	s_pay(sock, S_TA, "of-5", FK(PARTY_ACTIVITY_FUND), NULL, "t-gone", 1000, p1, false,
	    "ORG_DISSOLVED");
	s_pay(sock, S_TA, "of-5", FK(PARTY_ACTIVITY_FUND), NULL, "t-none", 1000, p1, false,
	    "UNKNOWN_ORG");
	s_pay(sock, S_TA, "of-5", FK(PARTY_ACTIVITY_FUND), NULL, S_B_BRANCH, 1000, p1, false,
	    "WRONG_TOWNSHIP");
	s_base_pay(sock, S_TA, "of-5", "s1", 1000, p2, "R3");
	s_dues(sock, S_TA, "s1", s_month(1), 100, NULL, OK, NULL);   /* arrears after a suspension */

	/* A township's budget needs its live township committee. */
	s_budget(sock, S_TC, "of-b-c", FK(CADRE_BASE_PAY), y, FS(FISCAL), 1000, "UNKNOWN_TOWNSHIP");
	s_org(sock, S_TC, "c-committee", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL, OK);
	s_budget(sock, S_TC, "of-b-c", FK(CADRE_BASE_PAY), y, FS(FISCAL), 1000, OK);
	s_dissolve(sock, S_TC, "c-committee", NULL);
	s_budget(sock, S_TC, "of-b-c2", FK(CADRE_BASE_PAY), y, FS(FISCAL), 1000, "UNKNOWN_TOWNSHIP");
}

/* Money at its edges: 0, negative and INT64_MIN budgets and dues
 * (BAD_AMOUNT), INT64_MIN and INT64_MAX disbursements (F1), dues of
 * INT64_MAX (no cap), a line's budget total past int64 through another
 * funding source (AMOUNT_OVERFLOW, the line unchanged), the next year's
 * line apart. */
static void
s_funds_money(void *sock, struct hd *d)
{
	int y = s_year();
	int64_t total;
	static const int64_t bad[] = { 0, -1, INT64_MIN };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s_budget(sock, S_TB, "om-b", FK(CADRE_BASE_PAY), y + 1, FS(FISCAL), bad[i], "BAD_AMOUNT");
		s_dues(sock, S_TA, "a3", s_month(1), bad[i], NULL, "BAD_AMOUNT", NULL);
	}
	s_base_pay(sock, S_TA, "om-d", "a3", INT64_MIN, y * 100 + 1, "F1");
	s_base_pay(sock, S_TA, "om-d", "a3", INT64_MAX, y * 100 + 1, "F1");
	s_dues(sock, S_TA, "a3", s_month(1), INT64_MAX, NULL, OK, NULL);
	assert_int_equal(s_q_dues(d, "a3", &total), 1);
	assert_true(total == INT64_MAX);

	s_budget(sock, S_TB, "om-b", FK(CADRE_BASE_PAY), y + 1, FS(FISCAL), INT64_MAX, OK);
	s_budget(sock, S_TB, "om-b2", FK(CADRE_BASE_PAY), y + 1, FS(COLLECTIVE), 1,
	    "AMOUNT_OVERFLOW");
	s_budget(sock, S_TB, "om-b2", FK(CADRE_BASE_PAY), y + 2, FS(COLLECTIVE), 1, OK);
	s_base_pay(sock, S_TB, "om-d", "b1", 10000000, (y + 1) * 100 + 1, OK);
	s_reverse(sock, S_TB, "om-d", OK);
	s_ledger_is(d, "om-b", INT64_MAX, 10000000, 10000000);
	s_ledger_is(d, "om-b2", 1, 0, 0);
}

/* The single-payment cap as the journal carries it: lowered by a reload
 * (RulesChanged), it holds for the events after it. */
static void
s_funds_cap(void *sock, struct hd *d)
{
	int y = s_year();
	s_base_pay(sock, S_TA, "oc-1", "a3", 6000, y * 100 + 3, OK);
	hd_config_write(d, S_WORKERS "[rules]\nfunds.max_single_fen = 5000\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	for (int i = 0; i < 50 && hd_log_count(d, "journaled RulesChanged at seq") < 2; i++)
		h_sleep_ms(100);
	assert_int_equal(hd_log_count(d, "journaled RulesChanged at seq"), 2);
	s_base_pay(sock, S_TA, "oc-2", "a3", 5001, y * 100 + 4, "F1");
	s_base_pay(sock, S_TA, "oc-2", "a3", 5000, y * 100 + 4, OK);
}

static void
test_funds_orders_and_money(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "of", &sock);
	s_order_people(sock);
	s_funds_orders(sock, d);
	s_funds_money(sock, d);
	s_funds_cap(sock, d);
	hc_close(sock);
	s_end_agreed(d, "funds");
	hd_pass(d);
}

/* The funds worker's judgement of membership, as docs/rules.md (Funds)
 * states it:
 * - a township's budget needs a live township committee in the county:
 *   a second one established and dissolved does not hide the first;
 * - a proxy payer of dues is a member of the county other than the
 *   member: one transferred out of the county is not. */
static void
test_funds_membership_judgement(void **state)
{
	struct hd_opts o = { .config = S_WORKERS };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "kb"), 0);
	s_member(sock, S_TA, "a1", H_ORG_BRANCH, NULL, false);
	s_member(sock, S_TA, "y", H_ORG_BRANCH, NULL, false);
	s_transfer_out(sock, S_TA, "kb-tr-y", "y", H_ORG_BRANCH);
	s_org(sock, S_TA, "t-committee-x", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL,
	    OK);
	s_dissolve(sock, S_TA, "t-committee-x", NULL);
	QueryReply *r = hq_org(d, H_ORG_TOWNSHIP);
	assert_non_null(r);
	assert_false(r->org->dissolved);
	hq_free(r);
	s_budget(sock, S_TA, "kb-bud", FK(CADRE_BASE_PAY), s_year(), FS(FISCAL), 1000, OK);
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = "a1";
	e.month = s_month(1);
	e.amount_fen = 100;
	e.payer_member_id = "y";
	e.paid_at = s_ago(1000);
	struct hmsg m = hm_event("kb-dues", S_TA, EV(DUES_PAID), &e);
	Ack *a = hc_call(sock, &m);
	hm_free(&m);
	assert_non_null(a);
	if (a->verdict != REJ)
		fail_msg("dues paid by a member transferred out of the county: %s/%s",
		    codec_verdict_name(a->verdict), a->code);
	hc_ack_free(a);
	hc_close(sock);
	hd_pass(d);
}

int
integ_domains(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_consistency, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_meetings_worker_kill9, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_funds_worker_kill9, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_funds_poison, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_poison_of_another_worker, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_meetings_orders, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_funds_orders_and_money, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_funds_membership_judgement, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("domains", tests, NULL, NULL);
}
