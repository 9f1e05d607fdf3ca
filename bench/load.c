/*
 * load: the benchmark's workload and its clients. The workload is valid
 * OrgEstablished events (a committee and its branches per township), a
 * county's roster of MemberRegistered events, and the measured events: a
 * steady county's updates of roster members with a registration now and
 * then (or, without a roster, registrations only), and in the mix runs
 * transfers and mobile-member steps among them, all packed before any
 * clock starts. The clients are DEALER sockets polled from one thread, each
 * keeping up to a window of envelopes unacknowledged and matching acks by
 * event_id (which ends in the event's workload index); latency is from
 * zmq_send to the ack's arrival.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zmq.h>

#include "bench.h"
#include "civil.h"
#include "idnum.h"
#include "now.h"

#define DAY_MS 86400000LL

/* ---------------------------------------------------------------- helpers */

static void
s_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

/* The g-th ID number: (birth day, sequence) never repeats for g below
 * 500 * 18000, so neither does the number. */
static void
s_idnum(uint64_t g, char out[19], int64_t *birth_day, bool *male)
{
	int y, m, d;
	int64_t day = civil_to_days(1950, 1, 1) + (int64_t)(g / 500);
	*male = g % 2 == 0;
	civil_from_days(day, &y, &m, &d);
	memcpy(out, "320123", 6);
	s_digits(out + 6, (unsigned)y, 4);
	s_digits(out + 10, (unsigned)m, 2);
	s_digits(out + 12, (unsigned)d, 2);
	s_digits(out + 14, (unsigned)(g % 500) * 2 + (*male ? 1 : 0), 3);
	out[17] = idnum_check_char(out);
	out[18] = 0;
	*birth_day = day;
}

int
bench_workload_push(struct bench_workload *w, size_t *cap, const Envelope *e, unsigned client)
{
	if (w->n == *cap) {
		size_t c = *cap ? *cap * 2 : 1024;
		struct bench_event *p = realloc(w->ev, c * sizeof *p);
		if (!p)
			return -1;
		w->ev = p;
		*cap = c;
	}
	struct bench_event *ev = &w->ev[w->n];
	ev->len = jiceng__v1__envelope__get_packed_size(e);
	if (!(ev->buf = malloc(ev->len)))
		return -1;
	jiceng__v1__envelope__pack(e, ev->buf);
	ev->client = client;
	ev->kind = e->event_case;
	snprintf(ev->township, sizeof ev->township, "%s", e->township_id);
	snprintf(ev->event_id, sizeof ev->event_id, "%s", e->event_id);
	w->n++;
	return 0;
}

/* ---------------------------------------------------------------- workload */

void
bench_township(unsigned k, char out[16])
{
	snprintf(out, 16, "320123%03u000", 101 + k % 899);
}

/* The fund kinds every_kind pays: to members, then the org's activity fund. */
static const Jiceng__V1__FundKind s_member_pay[] = {
	JICENG__V1__FUND_KIND__CADRE_BASE_PAY, JICENG__V1__FUND_KIND__CADRE_PERFORMANCE_PAY,
	JICENG__V1__FUND_KIND__RETIRED_CADRE_SUBSIDY, JICENG__V1__FUND_KIND__VETERAN_CONDOLENCE,
};
#define MEMBER_PAY_KINDS (sizeof s_member_pay / sizeof s_member_pay[0])

/* Township k's budget lines: each kind every_kind pays, for each year. */
static int
s_push_budgets(struct bench_workload *w, size_t *cap, unsigned k)
{
	char tw[16], id[48], event_id[48];
	bench_township(k, tw);
	for (unsigned i = 0; i <= MEMBER_PAY_KINDS; i++)
		for (int y = 0; y < BENCH_BUDGET_YEARS; y++) {
			Envelope e = JICENG__V1__ENVELOPE__INIT;
			Jiceng__V1__BudgetAllocated b = JICENG__V1__BUDGET_ALLOCATED__INIT;
			snprintf(id, sizeof id, "%s:bud%u-%d", tw, i, y);
			snprintf(event_id, sizeof event_id, "%s-bud-%zu", tw, w->n);
			b.budget_id = id;
			b.kind = i < MEMBER_PAY_KINDS ? s_member_pay[i] :
			    JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND;
			b.year = BENCH_FIRST_PERIOD / 100 + y;
			b.amount_fen = 10000000000000LL;   /* 1e11 yuan: never the limit */
			b.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
			e.event_id = event_id;
			e.township_id = tw;
			e.occurred_at = now_wall_ms() - 60000;
			e.event_case = JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED;
			e.budget_allocated = &b;
			if (bench_workload_push(w, cap, &e, k) < 0)
				return -1;
		}
	return 0;
}

int
bench_workload_orgs(struct bench_workload *w, unsigned townships, unsigned branches,
    bool budgets)
{
	size_t cap = 0;
	int64_t now = now_wall_ms();
	memset(w, 0, sizeof *w);
	for (unsigned k = 0; k < townships; k++) {
		char tw[16], tc[40], id[40], name[64], event_id[48];
		bench_township(k, tw);
		snprintf(tc, sizeof tc, "%s:tc", tw);
		for (unsigned b = 0; b <= branches; b++) {
			Envelope e = JICENG__V1__ENVELOPE__INIT;
			Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
			snprintf(event_id, sizeof event_id, "%s-org-%zu", tw, w->n);
			snprintf(id, sizeof id, "%s:b%u", tw, b);
			if (b == 0) {
				snprintf(name, sizeof name, "基准第%u镇党委", k + 1);
				o.org_id = tc;
				o.kind = JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
			} else {
				snprintf(name, sizeof name, "基准第%u镇第%u村党支部", k + 1, b);
				o.org_id = id;
				o.kind = JICENG__V1__ORG_KIND__BRANCH;
				o.parent_id = tc;
				o.approving_org_id = tc;
			}
			o.name = name;
			o.formation = JICENG__V1__FORMATION__SINGLE;
			o.established_at = now - 3650 * DAY_MS;
			e.event_id = event_id;
			e.township_id = tw;
			e.occurred_at = now - 60000;
			e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
			e.org_established = &o;
			if (bench_workload_push(w, &cap, &e, k) < 0)
				return -1;
		}
	}
	for (unsigned k = 0; budgets && k < townships; k++)
		if (s_push_budgets(w, &cap, k) < 0)
			return -1;
	return 0;
}

static uint64_t
s_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The event_id of workload entry n of run, ending in "-n" (the clients
 * find an ack's event by it). Ordered ids grow with time, as a UUIDv7 or
 * a township's own serial does; random ones are spread like UUIDv4s, so
 * every event lands on another page of the journal's dedupe index. */
static void
s_event_id(char out[48], const struct bench_spec *sp, const char *township, unsigned run,
    size_t n)
{
	if (sp->random_ids)
		snprintf(out, 48, "%016llx-%zu",
		    (unsigned long long)s_mix((uint64_t)run << 40 ^ n), n);
	else
		snprintf(out, 48, "%s-e%04u-%09zu", township, run, n);
}

/* A member event's envelope, sent a second ago. */
static void
s_member_envelope(Envelope *e, char *event_id, char *township, EventCase kind)
{
	e->event_id = event_id;
	e->township_id = township;
	e->occurred_at = now_wall_ms() - 1000;
	e->event_case = kind;
}

void
bench_member_id(char out[48], const char *township, unsigned run, size_t i)
{
	snprintf(out, 48, "%s:r%um%zu", township, run, i);
}

/* Client k's MemberRegistered number i of run: member and event ids are
 * unique per (run, i), the home branch round-robin over the township's. */
static int
s_push_registered(struct bench_workload *w, size_t *cap, const struct bench_spec *sp,
    unsigned run, size_t i, bool idnum)
{
	static uint64_t serial;    /* ID numbers never repeat within a process */
	static const char *surnames[] = { "王", "李", "张", "刘", "陈", "杨", "赵", "黄" };
	static const char *given[] = { "建国", "秀英", "志强", "桂兰", "海燕", "德明", "玉梅", "文斌" };
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__MemberRegistered m = JICENG__V1__MEMBER_REGISTERED__INIT;
	char tw[16], member_id[48], home[40], event_id[48], name[32], idn[19];
	unsigned k = (unsigned)(i % sp->clients);
	bool male = i % 2 == 0;
	int64_t birth = civil_to_days(1960, 1, 1) + (int64_t)(i % 10000);
	bench_township(k, tw);
	bench_member_id(member_id, tw, run, i);
	snprintf(home, sizeof home, "%s:b%zu", tw, 1 + (i / sp->clients) % sp->branches);
	s_event_id(event_id, sp, tw, run, w->n);
	snprintf(name, sizeof name, "%s%s", surnames[i % 8], given[(i / 8) % 8]);
	if (idnum) {
		s_idnum(serial++, idn, &birth, &male);
		m.id_number = idn;
	}
	m.member_id = member_id;
	m.home_org_id = home;
	m.name = name;
	m.sex = male ? JICENG__V1__SEX__MALE : JICENG__V1__SEX__FEMALE;
	m.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	m.admitted_at = (birth + 25 * 365) * DAY_MS;
	m.confirmed_at = m.admitted_at + 400 * DAY_MS;
	m.farmer = i % 3 != 0;
	s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED);
	e.member_registered = &m;
	return bench_workload_push(w, cap, &e, k);
}

/* How many of the roster are township k's (member j is township j %
 * roster_townships'). */
static size_t
s_of_k(const struct bench_spec *sp, unsigned k)
{
	return (sp->roster - k + sp->roster_townships - 1) / sp->roster_townships;
}

/* A MemberUpdated from client k (i-th event of run) giving a roster member
 * of k's township, picked at random, a new mobile number. */
static int
s_push_updated(struct bench_workload *w, size_t *cap, const struct bench_spec *sp,
    unsigned run, size_t i)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__MemberUpdated u = JICENG__V1__MEMBER_UPDATED__INIT;
	char tw[16], member_id[48], event_id[48], phone[12];
	unsigned k = (unsigned)(i % sp->clients);
	uint64_t h = s_mix((uint64_t)run << 40 ^ i);
	/* Roster member j belongs to township j % roster_townships. */
	size_t of_k = s_of_k(sp, k);
	size_t q = (size_t)(h % of_k);
	if (sp->mix_pct && q % BENCH_MIX_EVERY == BENCH_MIX_EVERY - 1)
		q--;   /* the mix's member: left to it */
	size_t j = k + sp->roster_townships * q;
	bench_township(k, tw);
	bench_member_id(member_id, tw, 0, j);
	s_event_id(event_id, sp, tw, run, w->n);
	memcpy(phone, "139", 3);
	s_digits(phone + 3, (unsigned)((h >> 32) % 100000000u), 8);
	phone[11] = 0;
	u.member_id = member_id;
	u.phone = phone;
	s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED);
	e.member_updated = &u;
	return bench_workload_push(w, cap, &e, k);
}

/* ---------------------------------------------------------------- the mix */

bool
bench_mix_possible(const struct bench_spec *sp)
{
	return sp->roster_townships && sp->branches >= 2 &&
	    sp->roster / sp->roster_townships >= BENCH_MIX_EVERY;
}

/* One step of the mix: client k's slot-th, of run; at is its business
 * date. Period p = slot / BENCH_MIX_PERIOD moves two of the township's
 * roster members kept for the mix (every BENCH_MIX_EVERY-th): the first
 * to the next branch and back (issued, received, issued, received), the
 * second away and home (departed, contacted, returned). A roster member
 * q of township k has its home in branch 1 + q % branches. */
static int
s_push_mix(struct bench_workload *w, size_t *cap, const struct bench_spec *sp,
    unsigned run, unsigned k, size_t slot, int64_t at)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileContacted mc = JICENG__V1__MOBILE_CONTACTED__INIT;
	Jiceng__V1__MobileReturned mr = JICENG__V1__MOBILE_RETURNED__INIT;
	char tw[16], member_id[48], event_id[48], home[40], next[40], id[48], letter[48];
	size_t of_k = s_of_k(sp, k);
	size_t pool = of_k / BENCH_MIX_EVERY, p = slot / BENCH_MIX_PERIOD;
	unsigned step = (unsigned)(slot % BENCH_MIX_PERIOD);
	size_t q = BENCH_MIX_EVERY * ((2 * p + (step >= 4)) % pool) + BENCH_MIX_EVERY - 1;
	bool back = step >= 2;   /* the transfer home again */
	bench_township(k, tw);
	bench_member_id(member_id, tw, 0, k + sp->roster_townships * q);
	s_event_id(event_id, sp, tw, run, w->n);
	snprintf(home, sizeof home, "%s:b%zu", tw, 1 + q % sp->branches);
	snprintf(next, sizeof next, "%s:b%zu", tw, 1 + (q + 1) % sp->branches);
	char *from = back ? next : home, *to = back ? home : next;
	snprintf(id, sizeof id, "%s:x%u-%zu%c", tw, run, p, back ? 'b' : 'a');
	snprintf(letter, sizeof letter, "BZ%u-%u-%zu%c", run, k, p, back ? 'b' : 'a');
	switch (step) {
	case 0:
	case 2:
		ti.transfer_id = id;
		ti.member_id = member_id;
		ti.from_org_id = from;
		ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
		ti.to_org_id = to;
		ti.letter_no = letter;
		ti.issued_at = at;
		ti.valid_days = 30;
		ti.dues_paid_through = civil_cst_month(at);
		s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED);
		e.transfer_issued = &ti;
		break;
	case 1:
	case 3:
		tr.transfer_id = id;
		tr.to_org_id = to;
		tr.received_at = at;
		s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED);
		e.transfer_received = &tr;
		break;
	default:
		snprintf(id, sizeof id, "%s:f%u-%zu", tw, run, p);
		if (step == 4) {
			md.flow_id = id;
			md.member_id = member_id;
			md.destination_code = "440306";
			md.reason = "务工";
			md.expected_months = 3;
			md.certificate_no = letter;
			md.departed_at = at;
			s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED);
			e.mobile_departed = &md;
		} else if (step == 5) {
			mc.flow_id = id;
			mc.contacted_at = at;
			mc.channel = "电话";
			s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED);
			e.mobile_contacted = &mc;
		} else {
			mr.flow_id = id;
			mr.returned_at = at;
			s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED);
			e.mobile_returned = &mr;
		}
		break;
	}
	return bench_workload_push(w, cap, &e, k);
}

/* ---------------------------------------------------------------- a year */

/* The idx-th of township k's roster members that the mix leaves alone
 * (every BENCH_MIX_EVERY-th is the mix's), and how many there are. */
static size_t
s_plain_count(size_t of_k)
{
	return of_k - of_k / BENCH_MIX_EVERY;
}

static size_t
s_plain_q(size_t idx)
{
	return idx + idx / (BENCH_MIX_EVERY - 1);
}

static void
s_roster_member(char out[48], const struct bench_spec *sp, unsigned k, size_t q)
{
	char tw[16];
	bench_township(k, tw);
	bench_member_id(out, tw, 0, k + sp->roster_townships * q);
}

/* What every_kind has sent per township, across runs (ids, months and
 * periods never repeat within a process). */
static size_t s_dues_sent[BENCH_MAX_CLIENTS], s_pay_sent[BENCH_MAX_CLIENTS],
    s_org_pay_sent[BENCH_MAX_CLIENTS], s_meetings_held[BENCH_MAX_CLIENTS];

/* A roster member's dues for the next month not yet paid: the months go
 * ahead one at a time over the whole roster (paid in advance is allowed). */
static int
s_push_dues(struct bench_workload *w, size_t *cap, const struct bench_spec *sp, unsigned run,
    unsigned k)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__DuesPaid d = JICENG__V1__DUES_PAID__INIT;
	char tw[16], member_id[48], event_id[48];
	size_t plain = s_plain_count(s_of_k(sp, k)), c = s_dues_sent[k]++;
	bench_township(k, tw);
	s_roster_member(member_id, sp, k, s_plain_q(c % plain));
	s_event_id(event_id, sp, tw, run, w->n);
	d.member_id = member_id;
	d.month = civil_month_add(BENCH_FIRST_DUES, (int)(c / plain));
	d.amount_fen = 50;    /* within F7's 0.2-1 yuan for a farmer */
	d.paid_at = now_wall_ms() - 60000;
	s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_DUES_PAID);
	e.dues_paid = &d;
	return bench_workload_push(w, cap, &e, k);
}

/* A payment: nine in ten to a roster member (a kind and month of pay per
 * member in turn), one in ten a branch's activity fund for a month. */
static int
s_push_pay(struct bench_workload *w, size_t *cap, const struct bench_spec *sp, unsigned run,
    unsigned k)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__FundDisbursed f = JICENG__V1__FUND_DISBURSED__INIT;
	char tw[16], payee[48], id[48], event_id[48];
	size_t plain = s_plain_count(s_of_k(sp, k));
	bench_township(k, tw);
	s_event_id(event_id, sp, tw, run, w->n);
	if ((s_pay_sent[k] + s_org_pay_sent[k]) % 10 == 9) {
		size_t c = s_org_pay_sent[k]++;
		snprintf(payee, sizeof payee, "%s:b%zu", tw, 1 + c % sp->branches);
		snprintf(id, sizeof id, "%s:po%zu", tw, c);
		f.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID;
		f.payee_org_id = payee;
		f.kind = JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND;
		f.period = civil_month_add(BENCH_FIRST_PERIOD, (int)(c / sp->branches));
		f.amount_fen = 500000;
	} else {
		size_t c = s_pay_sent[k]++, round = c / plain;
		s_roster_member(payee, sp, k, s_plain_q(c % plain));
		snprintf(id, sizeof id, "%s:pm%zu", tw, c);
		f.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
		f.payee_member_id = payee;
		f.kind = s_member_pay[round % MEMBER_PAY_KINDS];
		f.period = civil_month_add(BENCH_FIRST_PERIOD, (int)(round / MEMBER_PAY_KINDS));
		f.amount_fen = 150000;
	}
	f.disbursement_id = id;
	f.source = JICENG__V1__FUNDING_SOURCE__FISCAL;
	f.approval_ref = "镇党委〔2025〕1号";
	f.paid_at = now_wall_ms() - 86400000LL;
	s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED);
	e.fund_disbursed = &f;
	return bench_workload_push(w, cap, &e, k);
}

#define MEETING_MAX_ATTENDEES 96
#define COMMITTEE_SIZE 5
#define GROUP_SIZE 8

/* A branch's year of meetings, ten at a time as a county records them
 * (支部工作条例: the committee monthly, a party group's meeting monthly in
 * each of its groups, the themed party day monthly, the assembly and the
 * party lecture quarterly): two committee meetings, five party-group
 * meetings, a themed party day, a party lecture, and the assembly held as
 * the themed day. About 20 attend a meeting on average. */
static const struct {
	Jiceng__V1__MeetingType types[2];
	unsigned present;          /* 0: seven in ten of the branch */
} s_meeting_cycle[] = {
	{ { JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE }, COMMITTEE_SIZE },
	{ { JICENG__V1__MEETING_TYPE__GROUP_MEETING }, GROUP_SIZE },
	{ { JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY }, 0 },
	{ { JICENG__V1__MEETING_TYPE__GROUP_MEETING }, GROUP_SIZE },
	{ { JICENG__V1__MEETING_TYPE__PARTY_LECTURE }, 0 },
	{ { JICENG__V1__MEETING_TYPE__GROUP_MEETING }, GROUP_SIZE },
	{ { JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE }, COMMITTEE_SIZE },
	{ { JICENG__V1__MEETING_TYPE__GROUP_MEETING }, GROUP_SIZE },
	{ { JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY, JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY }, 0 },
	{ { JICENG__V1__MEETING_TYPE__GROUP_MEETING }, GROUP_SIZE },
};
#define MEETING_CYCLE (sizeof s_meeting_cycle / sizeof s_meeting_cycle[0])

/* A branch's meeting, the branches in turn, each at its own point of
 * s_meeting_cycle (in step, every branch's assembly of ~50 present
 * would come back to back within some 40 ms, each round of ten; the
 * p99 was then that burst's: docs/benchmark.md); its committee is its
 * first five plain roster members. */
static int
s_push_meeting(struct bench_workload *w, size_t *cap, const struct bench_spec *sp,
    unsigned run, unsigned k)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__MeetingHeld m = JICENG__V1__MEETING_HELD__INIT;
	char tw[16], org[40], id[48], event_id[48];
	char ids[MEETING_MAX_ATTENDEES][48];
	char *attendees[MEETING_MAX_ATTENDEES];
	Jiceng__V1__MeetingType types[2];
	size_t c = s_meetings_held[k]++, of_k = s_of_k(sp, k), n = 0;
	/* The branch of a plain member, so that someone attends in a small county. */
	size_t b = s_plain_q(c % s_plain_count(of_k)) % sp->branches;
	size_t round = c / sp->branches, kind = (round + b) % MEETING_CYCLE;
	bench_township(k, tw);
	for (size_t q = b; q < of_k && n < MEETING_MAX_ATTENDEES; q += sp->branches)
		if (q % BENCH_MIX_EVERY != BENCH_MIX_EVERY - 1) {
			s_roster_member(ids[n], sp, k, q);
			attendees[n] = ids[n];
			n++;
		}
	if (n == 0)
		return -1;
	unsigned want = s_meeting_cycle[kind].present;
	size_t present = want ? (n < want ? n : want) : (7 * n + 9) / 10;
	bool committee = s_meeting_cycle[kind].types[0] == JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE;
	snprintf(org, sizeof org, "%s:b%zu", tw, b + 1);
	snprintf(id, sizeof id, "%s:mt%zu", tw, c);
	s_event_id(event_id, sp, tw, run, w->n);
	m.meeting_id = id;
	m.org_id = org;
	types[0] = s_meeting_cycle[kind].types[0];
	types[1] = s_meeting_cycle[kind].types[1];
	m.n_types = types[1] ? 2 : 1;
	m.types = types;
	/* A branch's meetings about five days apart, back over a year: the
	 * attendance kept by member and month spreads as a county's does. */
	m.held_at = now_wall_ms() - 3600000 - (int64_t)(round * 5 % 365) * DAY_MS;
	m.topic = types[0] == JICENG__V1__MEETING_TYPE__PARTY_LECTURE ? "学习党章" : "月度学习";
	m.lecturer = types[0] == JICENG__V1__MEETING_TYPE__PARTY_LECTURE ? "镇党委书记" : "";
	m.n_attendee_ids = present;
	m.attendee_ids = attendees;
	if (committee) {
		m.n_committee_member_ids = present;
		m.committee_member_ids = attendees;
	}
	s_member_envelope(&e, event_id, tw, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD);
	e.meeting_held = &m;
	return bench_workload_push(w, cap, &e, k);
}

/* One of a county year's events for client k, by its share. */
static int
s_push_year(struct bench_workload *w, size_t *cap, const struct bench_spec *sp, unsigned run,
    size_t i)
{
	unsigned k = (unsigned)(i % sp->clients);
	unsigned pick = (unsigned)(s_mix((uint64_t)run << 40 ^ i ^ 0x5eed) % 100);
	if (pick < BENCH_SHARE_DUES)
		return s_push_dues(w, cap, sp, run, k);
	if (pick < BENCH_SHARE_DUES + BENCH_SHARE_PAY)
		return s_push_pay(w, cap, sp, run, k);
	if (pick < BENCH_SHARE_DUES + BENCH_SHARE_PAY + BENCH_SHARE_MEETINGS)
		return s_push_meeting(w, cap, sp, run, k);
	return s_push_updated(w, cap, sp, run, i);
}

/* Is a client's u-th event a registration (with a roster), a mix slot? */
static bool
s_registers(const struct bench_spec *sp, size_t u)
{
	return sp->roster == 0 || u % BENCH_NEW_MEMBER_EVERY == BENCH_NEW_MEMBER_EVERY - 1;
}

static bool
s_mix_slot(const struct bench_spec *sp, size_t u)
{
	return sp->mix_pct && !s_registers(sp, u) &&
	    u * sp->mix_pct / 100 != (u + 1) * sp->mix_pct / 100;
}

/* ---------------------------------------------------------------- workload */

int
bench_workload_roster(struct bench_workload *w, const struct bench_spec *sp, bool idnum)
{
	struct bench_spec all = *sp;
	size_t cap = 0;
	memset(w, 0, sizeof *w);
	all.clients = sp->roster_townships;
	for (size_t i = 0; i < sp->roster; i++)
		if (s_push_registered(w, &cap, &all, 0, i, idnum) < 0)
			return -1;
	return 0;
}

int
bench_workload_events(struct bench_workload *w, const struct bench_spec *sp, size_t n,
    unsigned run, bool idnum)
{
	size_t cap = 0, slots[BENCH_MAX_CLIENTS] = { 0 }, mixed[BENCH_MAX_CLIENTS] = { 0 };
	memset(w, 0, sizeof *w);
	if (sp->roster && (sp->clients > sp->roster_townships || sp->roster < sp->roster_townships))
		return -1;
	if (sp->mix_pct && (!bench_mix_possible(sp) || sp->clients > BENCH_MAX_CLIENTS))
		return -1;
	/* Whole periods of the mix per client: count its slots first. */
	for (size_t i = 0; sp->mix_pct && i < n; i++)
		slots[i % sp->clients] += s_mix_slot(sp, i / sp->clients);
	for (unsigned k = 0; k < sp->clients && sp->mix_pct; k++)
		slots[k] -= slots[k] % BENCH_MIX_PERIOD;
	/* The mix's business dates a second apart, its last a minute ago. */
	int64_t t0 = now_wall_ms() - 60000 - (int64_t)(n / sp->clients + 1) * 1000;
	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)(i % sp->clients);
		size_t u = i / sp->clients;
		int rc;
		if (s_registers(sp, u))
			rc = s_push_registered(w, &cap, sp, run, i, idnum);
		else if (s_mix_slot(sp, u) && mixed[k] < slots[k])
			rc = s_push_mix(w, &cap, sp, run, k, mixed[k]++, t0 + (int64_t)u * 1000);
		else if (sp->every_kind && sp->roster)
			rc = s_push_year(w, &cap, sp, run, i);
		else
			rc = s_push_updated(w, &cap, sp, run, i);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void
bench_workload_free(struct bench_workload *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->ev[i].buf);
	free(w->ev);
	memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------- clients */

struct client {
	void *sock;
	size_t *idx;               /* this client's events, in send order */
	size_t n, next, inflight;
	double interval_ns;        /* paced: time between two sends */
};

struct drive {
	const struct bench_workload *w;
	struct client *c;
	unsigned nclients;
	unsigned window;
	int64_t *sent_ns;          /* per event; 0 once acknowledged */
	int64_t *lat_ns;
	uint8_t *owner;            /* per ack, the domain whose worker answers it */
	struct bench_result *r;
	int64_t t0, last_ack;
};

static double
s_cpu_secs(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
s_i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The workload index of an event_id: its last '-' field (load.c's ids
 * all end so), checked against the event's own id. */
static long
s_find(struct drive *d, const char *event_id)
{
	const char *dash = strrchr(event_id, '-');
	char *end;
	if (!dash)
		return -1;
	unsigned long i = strtoul(dash + 1, &end, 10);
	if (*end || i >= d->w->n || !d->sent_ns[i] || strcmp(d->w->ev[i].event_id, event_id) != 0)
		return -1;
	return (long)i;
}

/* The p99 of the acks each domain's worker answered (Tick and rules:
 * none), before lat_ns is sorted. */
static void
s_owner_p99s(struct drive *d, struct bench_result *r)
{
	int64_t *lat = malloc(r->acked * sizeof *lat);
	for (int k = 0; lat && k < DOMAIN_COUNT; k++) {
		size_t n = 0;
		for (size_t i = 0; i < r->acked; i++)
			if (d->owner[i] == k)
				lat[n++] = d->lat_ns[i];
		if (n == 0)
			continue;
		qsort(lat, n, sizeof *lat, s_i64_cmp);
		r->owner_p99_ms[k] = (double)lat[(size_t)((double)(n - 1) * 0.99)] / 1e6;
	}
	free(lat);
}

static void
s_ack(struct drive *d, struct client *c, const Ack *a, int64_t now)
{
	long i = a->event_id ? s_find(d, a->event_id) : -1;
	if (i < 0)
		return;
	d->owner[d->r->acked] = (uint8_t)codec_event_domain(d->w->ev[i].kind);
	d->lat_ns[d->r->acked] = now - d->sent_ns[i];
	if (bench_acks) {
		bench_acks[i].sent_ns = d->sent_ns[i];
		bench_acks[i].ack_ns = now;
		bench_acks[i].seq = a->seq;
	}
	if (bench_trace)
		fprintf(bench_trace, "%u %.3f %.3f\n", bench_trace_run,
		    (double)(d->sent_ns[i] - d->t0) / 1e6, (double)(now - d->sent_ns[i]) / 1e6);
	d->sent_ns[i] = 0;
	c->inflight--;
	d->r->acked++;
	d->last_ack = now;
	if (a->verdict == JICENG__V1__VERDICT__ACCEPTED) {
		d->r->accepted++;
		return;
	}
	if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER)
		d->r->retry_later++;
	else
		d->r->rejected++;
	if (!d->r->first_refusal[0])
		snprintf(d->r->first_refusal, sizeof d->r->first_refusal, "%s %s: %.150s",
		    codec_verdict_name(a->verdict), a->code ? a->code : "", a->reason ? a->reason : "");
}

static void
s_recv(struct drive *d, struct client *c)
{
	for (int k = 0; k < 8192; k++) {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			return;
		}
		int64_t now = now_mono_ns();
		Ack *a = jiceng__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
		zmq_msg_close(&msg);
		if (a) {
			s_ack(d, c, a, now);
			jiceng__v1__ack__free_unpacked(a, NULL);
		}
	}
}

/* Send what the window (and the pace) allow; returns ns until the next
 * paced send is due, or -1 when none is waiting on the pace. */
static int64_t
s_send(struct drive *d, struct client *c, int64_t now)
{
	while (c->next < c->n && c->inflight < d->window) {
		if (c->interval_ns > 0) {
			int64_t due = d->t0 + (int64_t)(c->interval_ns * (double)c->next);
			if (due > now)
				return due - now;
		}
		size_t i = c->idx[c->next];
		const struct bench_event *ev = &d->w->ev[i];
		if (zmq_send(c->sock, ev->buf, ev->len, ZMQ_DONTWAIT) < 0)
			return -1;
		d->sent_ns[i] = now_mono_ns();
		c->next++;
		c->inflight++;
		d->r->sent++;
	}
	return -1;
}

static int
s_setup(struct drive *d, void *ctx, const char *endpoint, double rate)
{
	size_t *count = calloc(d->nclients, sizeof *count);
	if (!count)
		return -1;
	for (size_t i = 0; i < d->w->n; i++)
		count[d->w->ev[i].client % d->nclients]++;
	for (unsigned k = 0; k < d->nclients; k++) {
		struct client *c = &d->c[k];
		int linger = 0, hwm = 1000000;
		c->idx = malloc((count[k] ? count[k] : 1) * sizeof *c->idx);
		c->sock = zmq_socket(ctx, ZMQ_DEALER);
		if (!c->idx || !c->sock) {
			free(count);
			return -1;
		}
		zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
		zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
		zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
		if (zmq_connect(c->sock, endpoint) < 0) {
			fprintf(stderr, "jiceng-bench: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
			free(count);
			return -1;
		}
		if (rate > 0)
			c->interval_ns = 1e9 * (double)d->nclients / rate;
	}
	free(count);
	for (size_t i = 0; i < d->w->n; i++) {
		struct client *c = &d->c[d->w->ev[i].client % d->nclients];
		c->idx[c->n++] = i;
	}
	return 0;
}

int
bench_drive(const char *endpoint, const struct bench_workload *w, unsigned clients,
    unsigned window, double rate, unsigned timeout_s, struct bench_result *r)
{
	struct drive d = { .w = w, .nclients = clients, .window = window, .r = r };
	zmq_pollitem_t items[BENCH_MAX_CLIENTS];
	int rc = -1;
	memset(r, 0, sizeof *r);
	if (clients == 0 || clients > BENCH_MAX_CLIENTS)
		return -1;
	void *ctx = zmq_ctx_new();
	d.c = calloc(clients, sizeof *d.c);
	d.sent_ns = calloc(w->n ? w->n : 1, sizeof *d.sent_ns);
	d.lat_ns = calloc(w->n ? w->n : 1, sizeof *d.lat_ns);
	d.owner = calloc(w->n ? w->n : 1, sizeof *d.owner);
	if (!ctx || !d.c || !d.sent_ns || !d.lat_ns || !d.owner || s_setup(&d, ctx, endpoint, rate) < 0)
		goto out;
	for (unsigned k = 0; k < clients; k++)
		items[k] = (zmq_pollitem_t){ d.c[k].sock, 0, ZMQ_POLLIN, 0 };

	/* Let the connections complete and settle before the clock starts: with
	 * 200 ms, the first 100-300 ms of eight fresh connections paced at half
	 * of the peak were slower (p50 up to 25 ms) in most runs, and with 1 s in
	 * none (3 runs each, measured); townships keep their connections open. */
	nanosleep(&(struct timespec){ bench_settle_ms / 1000, (long)(bench_settle_ms % 1000) * 1000000L },
	    NULL);
	double cpu0 = s_cpu_secs();
	d.t0 = d.last_ack = now_mono_ns();
	while (r->acked < w->n && !bench_interrupted) {
		int64_t now = now_mono_ns(), wait_ns = -1;
		for (unsigned k = 0; k < clients; k++) {
			int64_t due = s_send(&d, &d.c[k], now);
			if (due >= 0 && (wait_ns < 0 || due < wait_ns))
				wait_ns = due;
		}
		/* Paced sends go out in 1 ms ticks: never spin, on two cores a
		 * spinning client would take the daemon's CPU. */
		long timeout_ms = wait_ns < 0 ? 100 : 1 + (long)(wait_ns / 1000000);
		if (zmq_poll(items, (int)clients, timeout_ms) < 0 && zmq_errno() != EINTR)
			break;
		for (unsigned k = 0; k < clients; k++)
			if (items[k].revents & ZMQ_POLLIN)
				s_recv(&d, &d.c[k]);
		if (now_mono_ns() - d.last_ack > (int64_t)timeout_s * 1000000000LL) {
			fprintf(stderr, "jiceng-bench: no ack for %u s (%zu of %zu acknowledged)\n",
			    timeout_s, r->acked, w->n);
			break;
		}
	}
	r->client_cpu = s_cpu_secs() - cpu0;
	r->secs = (double)(d.last_ack - d.t0) / 1e9;
	r->rate = r->secs > 0 ? (double)r->acked / r->secs : 0;
	if (r->acked)
		s_owner_p99s(&d, r);
	if (r->acked) {
		qsort(d.lat_ns, r->acked, sizeof *d.lat_ns, s_i64_cmp);
		r->p50_ms = (double)d.lat_ns[r->acked / 2] / 1e6;
		r->p99_ms = (double)d.lat_ns[(size_t)((double)(r->acked - 1) * 0.99)] / 1e6;
		r->max_ms = (double)d.lat_ns[r->acked - 1] / 1e6;
	}
	rc = r->acked == w->n ? 0 : -1;
out:
	for (unsigned k = 0; d.c && k < clients; k++) {
		if (d.c[k].sock)
			zmq_close(d.c[k].sock);
		free(d.c[k].idx);
	}
	free(d.c);
	free(d.sent_ns);
	free(d.lat_ns);
	free(d.owner);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}
