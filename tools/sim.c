/*
 * jiceng-sim: a county's townships feeding jicengd, for the demo and for
 * by-hand load. It builds a plausible county (one township committee per
 * township, its villages' committees, general branches, branches and party
 * groups, an organ branch and a joint branch), registers and admits members
 * with valid resident ID numbers, confirms and changes the status of some,
 * and mixes in a few percent of deliberately bad events. Each township is
 * one DEALER connection pipelining up to --window unacknowledged envelopes;
 * acks are matched by event_id ("<township>-<n>").
 *
 * It owns nothing of the daemon: it only speaks the wire contract, packing
 * each Envelope with the generated protobuf-c structs, and it knows the
 * verdict it expects for every event, so a surprise verdict is reported.
 *
 * Then transfers (组织关系转接) within a township, across townships, out of
 * the county and into it, and mobile members (流动党员) leaving before the
 * Spring Festival: reporting to a host org in another township or outside
 * the county, contacted, some back home, some out of contact long enough
 * to be marked lost at the next Tick; with a few deliberately bad steps.
 *
 * Then the last --months months of records (for the meetings and funds
 * workers): 三会一课 at their real frequencies with their attendance, the
 * yearly appraisal's grades, the county's budgets, the cadres' monthly
 * pay, the branches' activity funds, condolences, a reversal (冲销), and
 * every member's dues; again with a few deliberately bad ones. They are
 * planned against the county as it stands once every membership event is
 * applied (s_roster_settle), so the quorum of each assembly (M2) is known
 * before it is sent.
 *
 * Order: the events go out in phases -- organisations, members, follow-ups
 * (confirmations, status changes), then one phase per step of the
 * transfers and episodes, then the records -- and every event of a phase
 * is acknowledged before any of the next is sent: a letter issued on one
 * township's connection is journaled before another township's connection
 * receives it. Inside a phase each township pipelines up to --window
 * events. One DEALER connection is journaled in send order, which the
 * first phases rely on (a branch after its parent); no step of a transfer
 * or an episode, and no record, shares a phase with what it follows (an
 * appraisal its meeting, a payment its budget, a reversal its payment).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "civil.h"
#include "codec.h"
#include "idnum.h"
#include "now.h"

#define DAY_MS 86400000LL
#define SIM_MAX_TOWNSHIPS 99

/* ---------------------------------------------------------------- options */

struct options {
	const char *ingest;
	const char *county;        /* 6-digit county code */
	const char *sample_file;   /* where to write ids for the demo's queries */
	unsigned townships;
	unsigned members;
	unsigned window;
	unsigned timeout_s;        /* give up after this long without an ack */
	double invalid_pct;
	uint64_t seed;
	bool quiet, strict;
	bool no_moves;             /* no transfers, no mobile members */
	bool no_meetings;          /* no meetings, no appraisals */
	bool no_funds;             /* no budgets, payments, reversals or dues */
	unsigned months;           /* calendar months of meetings and payments */
};

/* ---------------------------------------------------------------- random */

static uint64_t s_rng;

static uint64_t
s_rand(void)
{
	/* xorshift64*: reproducible for a given --seed, good enough for names. */
	s_rng ^= s_rng >> 12;
	s_rng ^= s_rng << 25;
	s_rng ^= s_rng >> 27;
	return s_rng * 2685821657736338717ULL;
}

/* Uniform in [lo, hi]. */
static int64_t
s_range(int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(s_rand() % (uint64_t)(hi - lo + 1));
}

/* True with probability pct percent. */
static bool
s_chance(double pct)
{
	return (double)(s_rand() % 100000) < pct * 1000.0;
}

#define PICK(a) ((a)[s_rand() % (sizeof(a) / sizeof((a)[0]))])

/* ---------------------------------------------------------------- calendar */

/* A day at a China Standard Time hour, as Unix ms. */
static int64_t
s_day_ms(int64_t day, int cst_hour)
{
	return day * DAY_MS + (int64_t)(cst_hour - 8) * 3600000LL;
}

static int64_t
s_year_day(int y)
{
	return civil_to_days(y, (unsigned)s_range(1, 12), (unsigned)s_range(1, 28));
}

/* ---------------------------------------------------------------- people */

static const char *s_surnames[] = {
	"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
	"马", "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋",
	"唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "田", "董", "袁", "潘",
	"蒋", "蔡", "余", "杜", "叶", "程", "魏", "吕", "丁", "任", "沈", "姚",
	"卢", "崔", "钟", "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "方",
};
static const char *s_male[] = {
	"建", "国", "华", "明", "军", "伟", "强", "平", "志", "勇", "林", "海",
	"刚", "德", "文", "斌", "辉", "成", "春", "生", "福", "贵", "忠", "宝",
	"山", "良", "发", "荣", "民", "永", "长", "东", "松", "金", "祥", "庆",
};
static const char *s_female[] = {
	"秀", "英", "兰", "芳", "玉", "梅", "珍", "凤", "霞", "红", "丽", "娟",
	"敏", "静", "燕", "萍", "桂", "琴", "云", "莲", "华", "翠", "艳", "洁",
};
/* Areas where members were born: mostly this county, some nearby. */
static const char *s_other_areas[] = { "320124", "320111", "341122", "320381" };

static void
s_person_name(char *out, size_t len, bool male)
{
	const char *a = male ? PICK(s_male) : PICK(s_female);
	const char *b = s_chance(70) ? (male ? PICK(s_male) : PICK(s_female)) : "";
	snprintf(out, len, "%s%s%s", PICK(s_surnames), a, b);
}

/* ID numbers handed out, as 64-bit hashes (open addressing). */
static uint64_t *s_ids;
static size_t s_ids_cap;

static bool
s_id_claim(const char *d17)
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < 17; i++)
		h = (h ^ (uint8_t)d17[i]) * 1099511628211ULL;
	h |= 1;
	for (size_t i = h & (s_ids_cap - 1), n = 0; n < s_ids_cap; i = (i + 1) & (s_ids_cap - 1), n++) {
		if (s_ids[i] == h)
			return false;
		if (s_ids[i] == 0) {
			s_ids[i] = h;
			return true;
		}
	}
	return false;
}

/* n decimal digits of v at p, zero-padded. */
static void
s_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

/* A fresh valid ID number for someone born on day, of the given sex;
 * birth receives "YYYY-MM-DD". */
static void
s_id_number(char out[19], char birth[11], const char *county, int64_t day, bool male)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	s_digits(birth, (unsigned)y, 4);
	birth[4] = '-';
	s_digits(birth + 5, (unsigned)m, 2);
	birth[7] = '-';
	s_digits(birth + 8, (unsigned)d, 2);
	birth[10] = 0;
	for (int attempt = 0; attempt < 1000; attempt++) {
		const char *area = s_chance(80) ? county : PICK(s_other_areas);
		memcpy(out, area, 6);
		s_digits(out + 6, (unsigned)y, 4);
		s_digits(out + 10, m, 2);
		s_digits(out + 12, d, 2);
		s_digits(out + 14, (unsigned)s_range(0, 499) * 2 + (male ? 1 : 0), 3);
		if (s_id_claim(out))
			break;
	}
	out[17] = idnum_check_char(out);
	out[18] = 0;
}

/* ---------------------------------------------------------------- the county */

struct org {
	char id[48];
	char parent[48];
	char name[160];
	int kind;                /* Jiceng__V1__OrgKind */
	int formation;           /* Jiceng__V1__Formation */
	unsigned units;          /* joint branch: units joined */
	int64_t established_at;
	unsigned planned;        /* home members to register here */
	unsigned due;            /* FULL, NORMAL home members at the end (M2) */
	int committee[5];        /* its committee (M3), member indices; [0] the secretary */
	unsigned ncommittee;
	bool lagging;            /* holds its meetings now and then */
};

struct member {
	char id[24];
	char home[48];           /* home org id (a bogus one for UNKNOWN_ORG) */
	char activity[48];       /* an activity org id, or "" */
	char name[32];
	char idnum[19];          /* "" when not given */
	char birth[11];
	char phone[12];
	int sex, category;
	int64_t admitted_at, confirmed_at;
	bool farmer;
	bool bad;                /* made for a deliberately invalid event */
	bool changed;            /* confirmed or status changed in the follow-ups */
	bool busy;               /* taken by a transfer or a mobile episode */
	/* Where it stands once every membership event before the meetings and
	 * payments is applied (s_roster_settle): */
	bool joined;             /* registered or admitted: accepted */
	bool confirmed;          /* confirmed (转正) in the follow-ups: FULL */
	bool inactive;           /* its Party status changed from NORMAL */
	bool gone;               /* transferred out of the county */
	int moved;               /* 1 + the letter that moved it in the county, or 0 */
	int ep;                  /* 1 + its mobile episode (s_mobile), or 0 */
	int org, act;            /* its home and activity org's index, or -1 */
};

enum spec_kind {
	SP_ORG, SP_REGISTER, SP_ADMIT, SP_CONFIRM, SP_STATUS,
	SP_MALFORMED, SP_BAD_UTF8, SP_BAD_TOWNSHIP,
	SP_ISSUE, SP_RECEIVE, SP_RECEIPT, SP_REJECT, SP_REVOKE,
	SP_DEPART, SP_REPORT, SP_CONTACT, SP_REVIEW, SP_RETURN,
	SP_MEETING, SP_APPRAISAL, SP_BUDGET, SP_DISBURSE, SP_REVERSE, SP_DUES,
	SP_KINDS,
};

/* One planned event, before packing. */
struct spec {
	uint8_t kind;            /* enum spec_kind */
	int ref;                 /* org, member, transfer or episode index */
	int status;              /* MemberStatusChanged: the new status; a reversal: its reason */
	int64_t at;              /* confirmed_at / effective_at / reversed_at */
	const char *expect;      /* the code the sim expects in the ack */
	const char *warn;        /* accepted: the T, L, M and F warnings it must carry, or NULL */
};

/* The send phases (see the top): each is acknowledged in full before the
 * next starts. Step k of a transfer or an episode is phase PH_MOVE + k.
 * Then the records of the simulated months: meetings, budgets and dues;
 * appraisals (of those meetings) and payments (against those budgets);
 * reversals and the corrections of refused records; what follows a
 * reversal (paid again, reversed again). */
enum {
	PH_ORGS, PH_MEMBERS, PH_FOLLOW, PH_MOVE,
	SIM_STEPS = 5,
	PH_RECORD = PH_MOVE + SIM_STEPS,
	PH_PAY, PH_CORRECT, PH_AFTER,
	SIM_PHASES,
};

struct plan {
	struct spec *v;
	unsigned n, cap;
};

/* One packed event and its fate. */
struct event {
	uint8_t *buf;
	size_t len;
	const char *expect;
	const char *warn;        /* see struct spec */
	const char *kind;        /* for surprise reports */
	uint8_t sk;              /* enum spec_kind, for the summary */
	int64_t sent_ns;
	uint8_t phase;
	uint8_t state;           /* EV_UNSENT ... */
	bool transport;          /* refused before decoding: the ack has no event_id */
};

enum { EV_UNSENT, EV_INFLIGHT, EV_ACKED, EV_RETRY };

struct org_key {
	const char *id;
	int i;                   /* its index in the township's orgs */
};
struct guest;

struct township {
	char id[16];
	char name[32];
	void *sock;
	struct org *orgs;
	unsigned norgs, corgs;
	struct member *members;
	unsigned nmembers, cmembers;
	struct plan phase[SIM_PHASES];
	struct event *ev;
	unsigned nev;
	unsigned next;           /* next never-sent event */
	unsigned inflight;
	unsigned *bad;           /* indices of transport-refused events */
	unsigned nbad, badhead;
	unsigned *retry;         /* events answered RETRY_LATER, to resend */
	unsigned nretry;
	int64_t retry_at_ns;
	int sample_branch;       /* a branch with members, for the demo */
	int sample_member;
	struct org_key *okeys;   /* its orgs by id (s_org_find) */
	unsigned *pool;          /* members who attend and pay, by home org: */
	unsigned *pool_at;       /* org o's are pool[pool_at[o] .. pool_at[o + 1]) */
	struct guest *guests;    /* who attends without a vote, by org: */
	unsigned *guest_at;      /* as pool_at */
};

static struct options s_opt = {
	.ingest = "tcp://127.0.0.1:7400",
	.county = "320123",
	.townships = 6,
	.members = 3000,
	.window = 128,
	.timeout_s = 60,
	.invalid_pct = 3.0,
	.seed = 20240701,
	.months = 12,
};

static struct township *s_tw;

static void *
s_grow(void *p, unsigned n, unsigned *cap, size_t size)
{
	if (n < *cap)
		return p;
	unsigned c = *cap ? *cap * 2 : 64;
	void *q = realloc(p, (size_t)c * size);
	if (!q) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	*cap = c;
	return q;
}

static struct org *
s_org_new(struct township *t, int kind, const char *parent, int64_t established)
{
	t->orgs = s_grow(t->orgs, t->norgs, &t->corgs, sizeof *t->orgs);
	struct org *o = &t->orgs[t->norgs++];
	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->formation = JICENG__V1__FORMATION__SINGLE;
	snprintf(o->parent, sizeof o->parent, "%s", parent ? parent : "");
	o->established_at = established;
	return o;
}

static int
s_member_new(struct township *t, const char *home)
{
	t->members = s_grow(t->members, t->nmembers, &t->cmembers, sizeof *t->members);
	struct member *m = &t->members[t->nmembers];
	memset(m, 0, sizeof *m);
	snprintf(m->id, sizeof m->id, "%s:m%05u", t->id, t->nmembers + 1);
	snprintf(m->home, sizeof m->home, "%s", home);
	return (int)t->nmembers++;
}

static void
s_plan_insert(struct plan *p, unsigned at, struct spec s)
{
	p->v = s_grow(p->v, p->n, &p->cap, sizeof *p->v);
	if (at > p->n)
		at = p->n;
	memmove(&p->v[at + 1], &p->v[at], (p->n - at) * sizeof *p->v);
	p->v[at] = s;
	p->n++;
}

static void
s_plan_add(struct plan *p, uint8_t kind, int ref, const char *expect)
{
	s_plan_insert(p, p->n, (struct spec){ .kind = kind, .ref = ref, .expect = expect });
}

/* ---------------------------------------------------------------- names */

static const char *s_township_names[] = {
	"城关镇", "青山镇", "白沙镇", "河口镇", "王岗乡", "李店乡", "柳林镇",
	"石桥镇", "马集乡", "双河镇", "新集镇", "龙潭乡", "杨湾镇", "桃园乡",
	"东岳镇", "北岗乡", "清水镇", "黄土岭乡", "沙河镇", "长岭镇",
};
static const char *s_village_heads[] = {
	"李家", "王家", "张家", "刘家", "陈家", "杨家", "赵家", "周家", "吴家",
	"大", "小", "东", "西", "南", "北", "新", "柳", "桃", "杏", "石",
	"黄", "青", "白", "马", "龙", "凤", "双", "三", "高", "胡", "孙", "郭",
	"沙", "枣", "梨", "松", "竹", "槐", "花", "金",
};
static const char *s_village_tails[] = {
	"庄", "湾", "岗", "店", "河", "桥", "楼", "集", "营", "寨", "坡", "洼",
	"冲", "畈", "圩",
};
static const char *s_numerals[] = {
	"", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
	"十一", "十二", "十三", "十四", "十五", "十六", "十七", "十八", "十九", "二十",
};

static const char *
s_numeral(unsigned n)
{
	return n < sizeof s_numerals / sizeof s_numerals[0] ? s_numerals[n] : "多";
}

/* A village name not yet used in this township. */
static void
s_village_name(struct township *t, unsigned k, char *out, size_t len)
{
	const unsigned nh = sizeof s_village_heads / sizeof s_village_heads[0];
	const unsigned nt = sizeof s_village_tails / sizeof s_village_tails[0];
	for (int attempt = 0; attempt < 200; attempt++) {
		const char *h = s_village_heads[s_rand() % nh];
		const char *tl = s_village_tails[s_rand() % nt];
		snprintf(out, len, "%s%s村", h, tl);
		bool used = false;
		for (unsigned i = 0; i < t->norgs && !used; i++)
			used = strncmp(t->orgs[i].name, out, strlen(out)) == 0;
		if (!used)
			return;
	}
	snprintf(out, len, "第%u村", k + 1);
}

/* ---------------------------------------------------------------- building */

/* Time reference: today's day number and now in ms (wall clock). */
static int64_t s_today, s_now_ms;

/* A branch-level org that will hold members, under parent. */
static struct org *
s_branch(struct township *t, const char *parent_id, const char *id, const char *name,
    int64_t parent_est, unsigned members)
{
	int64_t est = s_day_ms(s_range(parent_est / DAY_MS + 1, s_today - 400), 9);
	struct org *o = s_org_new(t, JICENG__V1__ORG_KIND__BRANCH, parent_id, est);
	snprintf(o->id, sizeof o->id, "%s", id);
	snprintf(o->name, sizeof o->name, "%s", name);
	o->planned = members;
	return o;
}

/* Party groups under a branch (党小组 only under a branch: rule O1). */
static void
s_groups(struct township *t, unsigned branch, unsigned n)
{
	for (unsigned g = 1; g <= n && g < 10; g++) {
		struct org *b = &t->orgs[branch];
		char bid[48], bname[160];
		snprintf(bid, sizeof bid, "%s", b->id);
		snprintf(bname, sizeof bname, "%s", b->name);
		int64_t est = s_day_ms(s_range(b->established_at / DAY_MS + 1, s_today - 200), 9);
		struct org *o = s_org_new(t, JICENG__V1__ORG_KIND__PARTY_GROUP, bid, est);
		snprintf(o->id, sizeof o->id, "%.40s:g%u", bid, g);
		snprintf(o->name, sizeof o->name, "%.120s第%s党小组", bname, s_numeral(g));
	}
}

/* One village: a 党委 with branches when large, a 党总支 when middling,
 * else a single 党支部 with party groups. */
static void
s_village(struct township *t, const char *tc, int64_t tc_est, unsigned k, unsigned size)
{
	char vname[64], vid[32], bid[48], bname[160];
	s_village_name(t, k, vname, sizeof vname);
	snprintf(vid, sizeof vid, "%.12s:v%02u", t->id, (k + 1) % 1000);
	int64_t est = s_day_ms(s_range(civil_to_days(1956, 1, 1), civil_to_days(2005, 12, 31)), 9);
	if (est < tc_est)
		est = tc_est + DAY_MS * s_range(1, 400);
	if (size < 50) {
		struct org *o = s_org_new(t, JICENG__V1__ORG_KIND__BRANCH, tc, est);
		snprintf(o->id, sizeof o->id, "%s", vid);
		snprintf(o->name, sizeof o->name, "%s党支部", vname);
		o->planned = size;
		s_groups(t, t->norgs - 1, (unsigned)s_range(2, 3));
		return;
	}
	bool committee = size >= 100;
	struct org *o = s_org_new(t, committee ? JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE :
	    JICENG__V1__ORG_KIND__GENERAL_BRANCH, tc, est);
	snprintf(o->id, sizeof o->id, "%s", vid);
	snprintf(o->name, sizeof o->name, "%s%s", vname, committee ? "党委" : "党总支");
	unsigned nb = (size + 39) / 40;
	if (nb < 2)
		nb = 2;
	for (unsigned b = 1; b <= nb; b++) {
		unsigned share = size / nb + (b <= size % nb);
		snprintf(bid, sizeof bid, "%.30s:b%u", vid, b % 100);
		snprintf(bname, sizeof bname, "%.60s第%s党支部", vname, s_numeral(b));
		s_branch(t, vid, bid, bname, est, share);
		if (s_chance(50))
			s_groups(t, t->norgs - 1, (unsigned)s_range(1, 2));
	}
}

static void
s_build_orgs(struct township *t, unsigned members)
{
	char id[48], name[160];
	int64_t tc_est = s_day_ms(s_year_day((int)s_range(1984, 2001)), 9);
	struct org *tc = s_org_new(t, JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, tc_est);
	snprintf(tc->id, sizeof tc->id, "%s:tc", t->id);
	snprintf(tc->name, sizeof tc->name, "%s党委", t->name);
	char tcid[48];
	snprintf(tcid, sizeof tcid, "%s", tc->id);

	unsigned organ = members * 5 / 100, joint = members * 3 / 100;
	if (organ < 3)
		organ = members >= 3 ? 3 : members;
	if (joint < 3)
		joint = members - organ >= 3 ? 3 : members - organ;
	snprintf(id, sizeof id, "%s:jg", t->id);
	snprintf(name, sizeof name, "%s机关党支部", t->name);
	s_branch(t, tcid, id, name, tc_est, organ);

	struct org *jb = s_org_new(t, JICENG__V1__ORG_KIND__JOINT_BRANCH, tcid,
	    s_day_ms(s_year_day((int)s_range(2018, 2024)), 9));
	snprintf(jb->id, sizeof jb->id, "%s:lh", t->id);
	bool firms = (t - s_tw) % 2 == 0;
	snprintf(jb->name, sizeof jb->name, "%s%s联合党支部", t->name, firms ? "非公企业" : "村村联建");
	jb->formation = firms ? JICENG__V1__FORMATION__VILLAGE_ENTERPRISE :
	    JICENG__V1__FORMATION__VILLAGE_VILLAGE;
	jb->units = (unsigned)s_range(3, 5);
	jb->planned = joint;

	unsigned rest = members - organ - joint;
	for (unsigned k = 0; rest > 0 && k < 900; k++) {
		unsigned size = (unsigned)s_range(18, 120);
		if (size > rest || rest - size < 12)
			size = rest;
		s_village(t, tcid, tc_est, k, size);
		rest -= size;
	}
}

/* A registered member of an existing org: most are full members who joined
 * years ago; a few probationary. */
static void
s_fill_registered_as(struct member *m, bool probationary, bool veteran)
{
	bool male = s_chance(72);
	int64_t adm, birth;
	int64_t v_from = civil_to_days(1953, 1, 1), v_to = civil_to_days(1969, 12, 31);
	do {
		if (veteran)  /* 老党员: admitted 1953-1969, at most 92 years old today */
			adm = v_from + s_range(0, v_to - v_from);
		else
			adm = probationary ? s_today - s_range(30, 330) : s_today - s_range(800, 365 * 50);
		birth = adm - s_range(19 * 365 + 10, (veteran ? 24 : 40) * 365);
	} while (s_today - birth > 92 * 365);
	s_person_name(m->name, sizeof m->name, male);
	s_id_number(m->idnum, m->birth, s_opt.county, birth, male);
	if (s_chance(30))
		m->birth[0] = 0;  /* taken from the ID number */
	m->sex = male ? JICENG__V1__SEX__MALE : JICENG__V1__SEX__FEMALE;
	m->category = probationary ? JICENG__V1__MEMBER_CATEGORY__PROBATIONARY :
	    JICENG__V1__MEMBER_CATEGORY__FULL;
	m->admitted_at = s_day_ms(adm, 9);
	if (!probationary)
		m->confirmed_at = s_day_ms(adm + 366 + s_range(0, 40), 15);
	m->farmer = s_chance(70);
	if (s_chance(60))
		snprintf(m->phone, sizeof m->phone, "1%c%09llu", "35789"[s_rand() % 5],
		    (unsigned long long)(s_rand() % 1000000000ULL));
}

/* A registered member: one in twenty full members a veteran admitted
 * before 1970 (rural rosters are old). */
static void
s_fill_registered(struct member *m, bool probationary)
{
	s_fill_registered_as(m, probationary, !probationary && s_chance(5));
}

/* A new probationary member admitted between min_days and max_days ago,
 * age_years old (at least) at admission. */
static void
s_fill_admitted(struct member *m, int64_t min_days, int64_t max_days, int age_lo, int age_hi)
{
	bool male = s_chance(60);
	int64_t adm = s_today - s_range(min_days, max_days);
	int64_t birth = adm - s_range((int64_t)age_lo * 366, (int64_t)age_hi * 365);
	s_person_name(m->name, sizeof m->name, male);
	s_id_number(m->idnum, m->birth, s_opt.county, birth, male);
	m->sex = male ? JICENG__V1__SEX__MALE : JICENG__V1__SEX__FEMALE;
	m->category = JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	m->admitted_at = s_day_ms(adm, 10);
	m->farmer = s_chance(60);
}

/* Members of every org that holds them, and the follow-ups of some. */
static void
s_build_members(struct township *t)
{
	struct plan *mp = &t->phase[PH_MEMBERS], *fp = &t->phase[PH_FOLLOW];
	int joint = -1;
	for (unsigned i = 0; i < t->norgs; i++)
		if (t->orgs[i].kind == JICENG__V1__ORG_KIND__JOINT_BRANCH)
			joint = (int)i;
	for (unsigned oi = 0; oi < t->norgs; oi++) {
		unsigned planned = t->orgs[oi].planned;
		for (unsigned k = 0; k < planned; k++) {
			int mi = s_member_new(t, t->orgs[oi].id);
			struct member *m = &t->members[mi];
			unsigned roll = (unsigned)(s_rand() % 100);
			if (roll < 8) {
				s_fill_admitted(m, 20, 720, 19, 35);
				s_plan_add(mp, SP_ADMIT, mi, "OK");
				int64_t adm_day = m->admitted_at / DAY_MS;
				if (adm_day + 366 + 2 < s_today) {
					int64_t c = adm_day + 366 + s_range(1, s_today - adm_day - 366 - 1 < 20 ?
					    s_today - adm_day - 366 - 1 : 20);
					s_plan_insert(fp, fp->n, (struct spec){ .kind = SP_CONFIRM, .ref = mi,
					    .at = s_day_ms(c, 15), .expect = "OK" });
					m->changed = true;
				}
				continue;
			}
			/* The demo's sample member is a veteran admitted before 1970. */
			bool sample = t->sample_member < 0 && roll >= 12 &&
			    t->orgs[oi].kind == JICENG__V1__ORG_KIND__BRANCH && strstr(t->orgs[oi].id, ":v");
			s_fill_registered_as(m, roll < 12, sample || (roll >= 12 && s_chance(5)));
			if (joint >= 0 && (int)oi != joint && s_chance(2))
				snprintf(m->activity, sizeof m->activity, "%s", t->orgs[joint].id);
			s_plan_add(mp, SP_REGISTER, mi, "OK");
			if (roll >= 12 && s_chance(1.5)) {
				int64_t age = s_today - m->admitted_at / DAY_MS;
				int st = age > 40 * 365 && s_chance(70) ? JICENG__V1__MEMBER_STATUS__DECEASED :
				    s_chance(60) ? JICENG__V1__MEMBER_STATUS__SUSPENDED :
				    JICENG__V1__MEMBER_STATUS__REMOVED;
				s_plan_insert(fp, fp->n, (struct spec){ .kind = SP_STATUS, .ref = mi,
				    .status = st, .at = s_day_ms(s_today - s_range(3, 300), 10), .expect = "OK" });
				m->changed = true;
			}
			if (t->sample_member < 0 && t->orgs[oi].kind == JICENG__V1__ORG_KIND__BRANCH &&
			    strstr(t->orgs[oi].id, ":v") && roll >= 12) {
				t->sample_member = mi;
				t->sample_branch = (int)oi;
			}
		}
	}
	/* Follow-ups come in the order the township's staff entered them. */
	for (unsigned i = fp->n; i > 1; i--) {
		unsigned j = (unsigned)(s_rand() % i);
		struct spec x = fp->v[i - 1];
		fp->v[i - 1] = fp->v[j];
		fp->v[j] = x;
	}
}

/* ---------------------------------------------------------------- bad events */

enum bad_kind {
	BAD_UNKNOWN_PARENT, BAD_UNKNOWN_HOME, BAD_R1, BAD_R2, BAD_R4, BAD_CHECK_CHAR,
	BAD_MALFORMED, BAD_UTF8, BAD_TOWNSHIP,
};

/* Weighted cycle: rules more often than transport faults. */
static const uint8_t s_bad_cycle[] = {
	BAD_R1, BAD_CHECK_CHAR, BAD_R2, BAD_UNKNOWN_HOME, BAD_R4, BAD_MALFORMED,
	BAD_R1, BAD_UNKNOWN_PARENT, BAD_R2, BAD_CHECK_CHAR, BAD_R4, BAD_UTF8,
	BAD_TOWNSHIP,
};

/* Insert at a random place of a plan, after its first `keep` entries. */
static void
s_plan_random(struct plan *p, unsigned keep, struct spec s)
{
	unsigned lo = keep < p->n ? keep : p->n;
	s_plan_insert(p, (unsigned)s_range(lo, p->n), s);
}

/* A random org of t that holds members (a branch or the joint branch). */
static const char *
s_random_home(struct township *t)
{
	for (int tries = 0; tries < 100; tries++) {
		const struct org *o = &t->orgs[s_rand() % t->norgs];
		if (o->planned > 0)
			return o->id;
	}
	return t->orgs[t->sample_branch >= 0 ? t->sample_branch : 0].id;
}

static void
s_add_bad_kind(struct township *t, enum bad_kind kind, unsigned serial)
{
	struct plan *op = &t->phase[PH_ORGS], *mp = &t->phase[PH_MEMBERS], *fp = &t->phase[PH_FOLLOW];
	int mi;
	struct member *m;
	switch (kind) {
	case BAD_UNKNOWN_PARENT: {
		char parent[48];
		snprintf(parent, sizeof parent, "%s:gone%u", t->id, serial);
		struct org *o = s_org_new(t, JICENG__V1__ORG_KIND__BRANCH, parent,
		    s_day_ms(s_today - s_range(30, 300), 9));
		snprintf(o->id, sizeof o->id, "%s:x%u", t->id, serial);
		snprintf(o->name, sizeof o->name, "%s%s村党支部", PICK(s_village_heads), PICK(s_village_tails));
		s_plan_random(op, 1, (struct spec){ .kind = SP_ORG, .ref = (int)t->norgs - 1,
		    .expect = "UNKNOWN_ORG" });
		break;
	}
	case BAD_UNKNOWN_HOME: {
		char home[48];
		snprintf(home, sizeof home, "%s:gone%u:b1", t->id, serial);
		mi = s_member_new(t, home);
		s_fill_registered(&t->members[mi], false);
		s_plan_random(mp, 0, (struct spec){ .kind = SP_REGISTER, .ref = mi, .expect = "UNKNOWN_ORG" });
		break;
	}
	case BAD_R1:
		/* A valid admission, then a confirmation months too early. */
		mi = s_member_new(t, s_random_home(t));
		m = &t->members[mi];
		s_fill_admitted(m, 200, 340, 20, 35);
		s_plan_random(mp, 0, (struct spec){ .kind = SP_ADMIT, .ref = mi, .expect = "OK" });
		s_plan_random(fp, 0, (struct spec){ .kind = SP_CONFIRM, .ref = mi,
		    .at = m->admitted_at + DAY_MS * s_range(150, 190), .expect = "R1" });
		break;
	case BAD_R2:
		mi = s_member_new(t, s_random_home(t));
		s_fill_admitted(&t->members[mi], 30, 300, 16, 17);
		s_plan_random(mp, 0, (struct spec){ .kind = SP_ADMIT, .ref = mi, .expect = "R2" });
		break;
	case BAD_R4: {
		/* The same person registered again under a second member_id. */
		int orig = -1;
		for (unsigned tries = 0; tries < 50 && orig < 0 && t->nmembers; tries++) {
			unsigned c = (unsigned)(s_rand() % t->nmembers);
			if (t->members[c].idnum[0] && !t->members[c].bad &&
			    t->members[c].category == JICENG__V1__MEMBER_CATEGORY__FULL)
				orig = (int)c;
		}
		if (orig < 0)
			return;
		char home[48], keep_id[24];
		snprintf(home, sizeof home, "%s", t->members[orig].home);  /* s_member_new may move members */
		mi = s_member_new(t, home);
		m = &t->members[mi];
		snprintf(keep_id, sizeof keep_id, "%s", m->id);
		*m = t->members[orig];
		snprintf(m->id, sizeof m->id, "%s", keep_id);
		s_plan_random(fp, 0, (struct spec){ .kind = SP_REGISTER, .ref = mi, .expect = "R4" });
		break;
	}
	case BAD_CHECK_CHAR:
		mi = s_member_new(t, s_random_home(t));
		m = &t->members[mi];
		s_fill_registered(m, false);
		m->idnum[17] = m->idnum[17] == '0' ? '1' : m->idnum[17] == 'X' ? '2' :
		    m->idnum[17] == '9' ? 'X' : (char)(m->idnum[17] + 1);
		s_plan_random(mp, 0, (struct spec){ .kind = SP_REGISTER, .ref = mi, .expect = "BAD_ID_NUMBER" });
		break;
	case BAD_MALFORMED:
		s_plan_random(mp, 0, (struct spec){ .kind = SP_MALFORMED, .ref = (int)serial, .expect = "MALFORMED" });
		break;
	case BAD_UTF8:
		mi = s_member_new(t, t->orgs[0].id);
		s_fill_registered(&t->members[mi], false);
		s_plan_random(mp, 0, (struct spec){ .kind = SP_BAD_UTF8, .ref = mi, .expect = "BAD_UTF8" });
		break;
	case BAD_TOWNSHIP: {
		/* Alternately a malformed code and another county's township
		 * (refused when jicengd is told the county's townships, as the
		 * demo does). */
		static unsigned faults;
		bool other_county = faults++ % 2;
		s_plan_random(op, 1, (struct spec){ .kind = SP_BAD_TOWNSHIP, .ref = other_county,
		    .expect = other_county ? "UNKNOWN_TOWNSHIP" : "BAD_TOWNSHIP" });
		break;
	}
	}
}

/* Add one deliberately invalid event; the members made for it are never
 * the original of a duplicate-person case. */
static void
s_add_bad(struct township *t, enum bad_kind kind, unsigned serial)
{
	unsigned first = t->nmembers;
	s_add_bad_kind(t, kind, serial);
	for (unsigned i = first; i < t->nmembers; i++)
		t->members[i].bad = true;
}

/* ---------------------------------------------------------------- transfers and mobile members */

/* Places outside the county: where letters go to and come from, and where
 * mobile members work. A code of --county itself is never picked. */
static const struct {
	const char *code;        /* 6 or 12 digits; a destination takes the first 6 */
	const char *org;         /* the org a letter names */
	const char *host;        /* the org a mobile member reports to */
} s_outside[] = {
	{ "440306", "深圳市宝安区新安街道党工委", "宝安区新安街道流动党员党支部" },
	{ "330782001000", "义乌市稠城街道党工委", "义乌市稠城街道外来党员党支部" },
	{ "320583", "昆山市玉山镇党委", "昆山市玉山镇流动党员党支部" },
	{ "310115", "上海市浦东新区张江镇党委", "张江镇流动党员党支部" },
	{ "441900", "东莞市长安镇党委", "东莞市长安镇外来务工人员党支部" },
	{ "320117", "南京市溧水区永阳街道党工委", "溧水区永阳街道流动党员党支部" },
};

/* A transfer letter (介绍信) and the dates of its steps. */
struct xfer {
	char id[40];
	char letter[40];
	int tw, member;          /* sending township and its member; tw -1: from outside */
	int to_tw;               /* receiving township; -1: an org outside the county */
	char from_org[48], to_org[48];
	unsigned outside;        /* s_outside: the org outside, either way */
	int64_t issued_at, received_at, returned_at, closed_at;
	unsigned valid_days;
	int dues;                /* dues paid through, YYYYMM */
	const char *issue_warn, *receipt_warn;
	struct member in;        /* from outside: the member received */
};

/* A mobile member's episode (流动党员) and the dates of its steps. */
struct episode {
	char id[40];
	char certificate[40];
	int tw, member;          /* home township and its member */
	int host_tw;             /* the host org's township; -1: outside the county, or none */
	char host_org[48];
	unsigned outside;        /* s_outside: the place outside */
	bool outside_host;       /* reports to an org outside the county */
	bool host_named;         /* the departure already names the host org */
	bool fixed;              /* a fixed place of work or residence (L3) */
	unsigned months;
	const char *reason;
	int64_t departed_at, reported_at, contacted_at, reviewed_at, returned_at;
	uint8_t end;             /* enum ep_end, for an episode of s_mobile */
};

enum xfer_end { XE_RECEIVED, XE_RECEIPT, XE_REJECTED, XE_REVOKED };
enum ep_end { EE_AWAY, EE_RETURNED, EE_LOST, EE_TRANSFERRED };
enum ep_host { EH_NONE, EH_COUNTY, EH_OUTSIDE };

static struct xfer *s_xf;
static unsigned s_nxf, s_cxf;
static struct episode *s_ep;
static unsigned s_nep, s_cep;

/* What the phase holds, for the summary. */
static struct {
	unsigned within, across, out, in, revoked, rejected, receipts;
	unsigned departed, hosted_in, hosted_out, returned, lost, converted, bad;
	unsigned t4, t5, t6, l3;   /* warnings planned */
} s_moves;
/* The demo's samples: a received transfer, an episode hosted in the
 * county, an episode that loses contact. */
static int s_sample_xf = -1, s_sample_ep = -1, s_lost_ep = -1;

/* A business day at a CST hour, never after yesterday: no date the sim
 * sends is ahead of its journal time. */
static int64_t
s_past(int64_t day, int cst_hour)
{
	return s_day_ms(day < s_today - 1 ? day : s_today - 1, cst_hour);
}

/* The month of a day, or `back` months before it, as YYYYMM. */
static int
s_yyyymm(int64_t day, int back)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	for (m -= back; m < 1; m += 12)
		y--;
	return y * 100 + m;
}

static unsigned
s_outside_pick(void)
{
	const unsigned n = sizeof s_outside / sizeof s_outside[0];
	for (;;) {
		unsigned i = (unsigned)(s_rand() % n);
		if (strncmp(s_outside[i].code, s_opt.county, 6) != 0)
			return i;
	}
}

/* Another township than tw, or -1 in a county of one. */
static int
s_other_township(int tw)
{
	if (s_opt.townships < 2)
		return -1;
	return (int)(((unsigned)tw + 1 + (unsigned)(s_rand() % (s_opt.townships - 1))) % s_opt.townships);
}

/* An org of township tw that holds members, other than `not`; NULL if none. */
static const char *
s_pick_org(int tw, const char *not)
{
	const struct township *t = &s_tw[tw];
	for (unsigned tries = 0; tries < 200; tries++) {
		const struct org *o = &t->orgs[s_rand() % t->norgs];
		if (o->planned > 0 && strcmp(o->id, not) != 0)
			return o->id;
	}
	return NULL;
}

/* A member fit to move, taken: registered or admitted as planned, NORMAL
 * and of one category to the end of the follow-ups (none touches it), not
 * the demo's sample member, not taken before; admitted between days
 * adm_from and adm_by, probationary when prob. From township tw, or any
 * when tw < 0. Returns its index and *out_tw its township, or -1. */
static int
s_pick_member(int tw, int64_t adm_from, int64_t adm_by, bool prob, int *out_tw)
{
	for (unsigned tries = 0; tries < 4000; tries++) {
		int ti = tw >= 0 ? tw : (int)(s_rand() % s_opt.townships);
		struct township *t = &s_tw[ti];
		if (t->nmembers == 0)
			continue;
		int mi = (int)(s_rand() % t->nmembers);
		struct member *m = &t->members[mi];
		int64_t adm = m->admitted_at / DAY_MS;
		if (m->bad || m->changed || m->busy || mi == t->sample_member || adm < adm_from ||
		    adm > adm_by || (prob && m->category != JICENG__V1__MEMBER_CATEGORY__PROBATIONARY))
			continue;
		m->busy = true;
		*out_tw = ti;
		return mi;
	}
	return -1;
}

/* Step k of a transfer or an episode (phase PH_MOVE + k), sent by township tw. */
static void
s_step(int tw, unsigned k, uint8_t kind, int ref, const char *expect, const char *warn)
{
	struct plan *p = &s_tw[tw].phase[PH_MOVE + k];
	s_plan_insert(p, p->n, (struct spec){ .kind = kind, .ref = ref, .expect = expect, .warn = warn });
	if (warn) {
		s_moves.t4 += strcmp(warn, "T4") == 0;
		s_moves.t5 += strcmp(warn, "T5") == 0;
		s_moves.t6 += strcmp(warn, "T6") == 0;
		s_moves.l3 += strcmp(warn, "L3") == 0;
	}
}

static struct xfer *
s_xfer_add(void)
{
	s_xf = s_grow(s_xf, s_nxf, &s_cxf, sizeof *s_xf);
	struct xfer *x = &s_xf[s_nxf++];
	memset(x, 0, sizeof *x);
	x->to_tw = x->tw = x->member = -1;
	return x;
}

/* A letter for member mi of township tw to org `to` of township to_tw
 * (to_tw -1: an org outside the county), issued 3-80 days ago and not
 * before day not_before, valid until after today, so that no Tick expires
 * it while the sim runs (T8); with the dates of its later steps. T5 for
 * some, T6 when the member is probationary and admitted less than 90 days
 * before (never within 5 days of that edge). Returns its index, or -1 when
 * the member's dates do not fit. */
static int
s_xfer_new(int tw, int mi, int to_tw, const char *to, int64_t not_before)
{
	const struct member *m = &s_tw[tw].members[mi];
	int64_t adm = m->admitted_at / DAY_MS;
	int64_t lo = s_today - 80 > not_before ? s_today - 80 : not_before;
	if (lo <= adm)
		lo = adm + 1;
	if (lo > s_today - 3)
		return -1;
	int64_t issue = s_range(lo, s_today - 3);
	bool prob = m->category == JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	if (prob && issue - adm >= 85 && issue - adm <= 95)
		return -1;
	struct xfer *x = s_xfer_add();
	int y, mo, d;
	civil_from_days(issue, &y, &mo, &d);
	snprintf(x->id, sizeof x->id, "%s:zz%05u", s_tw[tw].id, s_nxf);
	snprintf(x->letter, sizeof x->letter, "ZZ%04d-%.9s-%04u", y, s_tw[tw].id, s_nxf);
	x->tw = tw;
	x->member = mi;
	x->to_tw = to_tw;
	snprintf(x->from_org, sizeof x->from_org, "%s", m->home);
	if (to_tw >= 0)
		snprintf(x->to_org, sizeof x->to_org, "%s", to);
	x->outside = s_outside_pick();
	x->issued_at = s_day_ms(issue, 9);
	x->valid_days = (unsigned)s_range(s_today - issue + 5 > 30 ? s_today - issue + 5 : 30, 90);
	bool t6 = prob && issue - adm < 90, t5 = !t6 && s_chance(8);
	x->dues = !t5 ? s_yyyymm(issue, s_chance(70) ? 0 : 1) :
	    s_chance(25) ? 0 : s_yyyymm(issue, (int)s_range(2, 4));
	x->issue_warn = t6 ? "T6" : t5 ? "T5" : NULL;
	int64_t recv = s_range(issue + 1, s_today - 2);
	x->received_at = s_day_ms(recv, 10);
	/* T4 past 30 days: late receipts 32 days or more after, others 29 at most. */
	bool late = s_today - 1 - recv >= 33 && s_chance(15);
	int64_t ret = late ? s_range(recv + 32, s_today - 1) :
	    s_range(recv, recv + 29 < s_today - 1 ? recv + 29 : s_today - 1);
	x->returned_at = s_day_ms(ret, 15);
	x->receipt_warn = late ? "T4" : NULL;
	x->closed_at = s_day_ms(s_range(issue, s_today - 1), 16);
	return (int)(s_nxf - 1);
}

/* Count an in-county letter: within its township or across. */
static void
s_count(const struct xfer *x)
{
	if (x->to_tw == x->tw)
		s_moves.within++;
	else
		s_moves.across++;
}

/* A letter inside the county for a member of township tw (-1: any) to an
 * org of another township (across) or of its own, the member admitted
 * between days adm_from and adm_by (probationary when prob). -1 if none
 * fits. */
static int
s_xfer_pick(int tw, bool across, int64_t adm_from, int64_t adm_by, bool prob)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		int ti, mi = s_pick_member(tw, adm_from, adm_by, prob, &ti);
		if (mi < 0)
			return -1;
		int to_tw = across ? s_other_township(ti) : ti;
		const char *to = to_tw >= 0 ? s_pick_org(to_tw, s_tw[ti].members[mi].home) : NULL;
		int xi = to ? s_xfer_new(ti, mi, to_tw, to, s_today - 80) : -1;
		if (xi >= 0)
			return xi;
	}
	return -1;
}

/* A transfer inside the county: issued (step 0); received, rejected by
 * the receiving township or revoked by the sending one (1); the receipt
 * returned (2). Most members were admitted long ago (no T6); recent picks
 * a probationary member admitted 25-70 days ago (T6). */
static int
s_transfer(int tw, bool across, enum xfer_end end, bool recent)
{
	int xi = recent ? s_xfer_pick(tw, across, s_today - 70, s_today - 25, true) :
	    s_xfer_pick(tw, across, INT32_MIN, s_today - 180, false);
	if (xi < 0)
		return -1;
	const struct xfer *x = &s_xf[xi];
	s_step(x->tw, 0, SP_ISSUE, xi, "OK", x->issue_warn);
	switch (end) {
	case XE_REVOKED:
		s_step(x->tw, 1, SP_REVOKE, xi, "OK", NULL);
		s_moves.revoked++;
		break;
	case XE_REJECTED:
		s_step(x->to_tw, 1, SP_REJECT, xi, "OK", NULL);
		s_moves.rejected++;
		break;
	case XE_RECEIPT:
		s_step(x->to_tw, 2, SP_RECEIPT, xi, "OK", x->receipt_warn);
		s_moves.receipts++;
		/* FALLTHROUGH */
	case XE_RECEIVED:
		s_step(x->to_tw, 1, SP_RECEIVE, xi, "OK", NULL);
		break;
	}
	s_count(x);
	return xi;
}

/* A letter to an org outside the county, by the member's township: the
 * receipt comes back (the member leaves the county) or the letter is
 * refused there; the sending township enters either. */
static void
s_transfer_out(bool rejected)
{
	int ti, mi = s_pick_member(-1, INT32_MIN, s_today - 180, false, &ti);
	int xi = mi >= 0 ? s_xfer_new(ti, mi, -1, NULL, s_today - 80) : -1;
	if (xi < 0)
		return;
	struct xfer *x = &s_xf[xi];
	int64_t issue = x->issued_at / DAY_MS;
	x->returned_at = s_past(s_range(issue + 1, issue + 29), 15);
	x->receipt_warn = NULL;
	s_step(ti, 0, SP_ISSUE, xi, "OK", x->issue_warn);
	s_step(ti, 1, rejected ? SP_REJECT : SP_RECEIPT, xi, "OK", NULL);
	s_moves.out++;
	s_moves.rejected += rejected;
}

/* A member coming from outside the county, received by township tw with
 * the member's record (step 0); for some the receipt goes back (1). */
static void
s_transfer_in(int tw)
{
	const char *to = s_pick_org(tw, "");
	if (!to)
		return;
	struct xfer *x = s_xfer_add();
	unsigned k = ++s_moves.in;
	snprintf(x->id, sizeof x->id, "%s:zr%04u", s_tw[tw].id, k);
	x->to_tw = tw;
	snprintf(x->to_org, sizeof x->to_org, "%s", to);
	x->outside = s_outside_pick();
	int64_t recv = s_today - s_range(2, 60);
	snprintf(x->letter, sizeof x->letter, "WZ%04d-%04u", s_yyyymm(recv, 0) / 100, k);
	x->received_at = s_day_ms(recv, 10);
	struct member *m = &x->in;
	snprintf(m->id, sizeof m->id, "%s:in%04u", s_tw[tw].id, k);
	s_fill_registered(m, s_chance(15));
	/* The record may name its new home org, or leave it to to_org_id. */
	snprintf(m->home, sizeof m->home, "%s", s_chance(50) ? to : "");
	s_step(tw, 0, SP_RECEIVE, (int)(s_nxf - 1), "OK", NULL);
	if (s_chance(50)) {
		x->returned_at = s_past(recv + s_range(0, 20), 15);
		s_step(tw, 1, SP_RECEIPT, (int)(s_nxf - 1), "OK", NULL);
		s_moves.receipts++;
	}
}

/* A day in January or February of year, before the Spring Festival, at
 * least 10 days ago. */
static int64_t
s_festival_day(int year)
{
	int64_t d = s_range(civil_to_days(year, 1, 5), civil_to_days(year, 2, 25));
	return d < s_today - 10 ? d : s_today - 10;
}

/* A new episode of member mi of township tw, departed on day dep. */
static int
s_episode_new(int tw, int mi, int64_t dep)
{
	s_ep = s_grow(s_ep, s_nep, &s_cep, sizeof *s_ep);
	struct episode *e = &s_ep[s_nep++];
	memset(e, 0, sizeof *e);
	snprintf(e->id, sizeof e->id, "%s:lf%05u", s_tw[tw].id, s_nep);
	snprintf(e->certificate, sizeof e->certificate, "LD%.9s-%05u", s_tw[tw].id, s_nep);
	e->tw = tw;
	e->member = mi;
	e->host_tw = -1;
	e->outside = s_outside_pick();
	e->departed_at = s_day_ms(dep, 8);
	unsigned roll = (unsigned)(s_rand() % 100);
	if (roll < 10) {
		e->fixed = true;  /* L3: the rules say transfer instead */
		e->months = (unsigned)s_range(6, 24);
		e->reason = "随子女居住 / living with children";
	} else if (roll < 40) {
		e->fixed = true;
		e->months = (unsigned)s_range(2, 5);
		e->reason = "经商 / business";
	} else {
		e->months = (unsigned)s_range(3, 12);
		e->reason = roll < 92 ? "务工 / work" : "求学 / study";
	}
	return (int)(s_nep - 1);
}

/* The departure of episode ei (step 0) and its report (step 1): to a host
 * org of township host_tw, sent by that township, or to one outside the
 * county, sent by the home township. */
static void
s_depart_report(int ei, enum ep_host host)
{
	struct episode *e = &s_ep[ei];
	bool l3 = e->fixed && e->months >= 6;
	s_step(e->tw, 0, SP_DEPART, ei, "OK", l3 ? "L3" : NULL);
	s_moves.departed++;
	if (host == EH_NONE)
		return;
	if (host == EH_COUNTY) {
		s_step(e->host_tw, 1, SP_REPORT, ei, "OK", NULL);
		s_moves.hosted_in++;
	} else {
		s_step(e->tw, 1, SP_REPORT, ei, "OK", NULL);
		s_moves.hosted_out++;
	}
}

/* Episode e's host: an org of another township (*host EH_COUNTY; in a
 * county of one, outside it instead), one outside the county, or none,
 * and the report 3 to `within` days after the departure, at least 6 days
 * ago. Returns the day of the last contact: the report, or the departure. */
static int64_t
s_host(struct episode *e, enum ep_host *host, int within)
{
	int64_t dep = e->departed_at / DAY_MS, last = dep;
	if (*host == EH_COUNTY) {
		const char *org = NULL;
		if ((e->host_tw = s_other_township(e->tw)) >= 0)
			org = s_pick_org(e->host_tw, "");
		if (org) {
			snprintf(e->host_org, sizeof e->host_org, "%s", org);
			e->host_named = s_chance(50);
		} else {
			e->host_tw = -1;
			*host = EH_OUTSIDE;
		}
	}
	e->outside_host = *host == EH_OUTSIDE;
	if (*host != EH_NONE) {
		last = s_range(dep + 3, dep + within);
		if (last > s_today - 6)
			last = s_today - 6;
		e->reported_at = s_day_ms(last, 11);
	}
	return last;
}

/* A member of township tw (-1: any) goes mobile before the Spring
 * Festival of this year or last: departed (step 0), reported (1),
 * contacted and the certificate reviewed (2), back home (3); or the home
 * township issues a transfer (2) that closes the episode, received (3).
 * One still away was contacted in the last 140 days; a lost one left in
 * last year's January or February and nobody has heard from it since its
 * report, so the next Tick marks it. bad_after: a contact after the
 * episode closed (4), L2. Returns the episode, or -1. */
static int
s_mobile(int tw, enum ep_end end, enum ep_host host, bool bad_after)
{
	int cy = civil_cst_year(s_now_ms);
	int64_t dep = s_festival_day(end == EE_LOST || s_chance(30) ? cy - 1 : cy);
	int ti, mi = s_pick_member(tw, INT32_MIN, dep - 30, false, &ti);
	if (mi < 0)
		return -1;
	int ei = s_episode_new(ti, mi, dep);
	struct episode *e = &s_ep[ei];
	int64_t last = s_host(e, &host, end == EE_LOST ? 20 : 30);  /* the last contact so far */
	int xi = -1;
	if (end == EE_TRANSFERRED) {
		int to_tw = s_chance(50) ? ti : s_other_township(ti);
		if (to_tw < 0)
			to_tw = ti;
		const char *to = s_pick_org(to_tw, s_tw[ti].members[mi].home);
		if (to)
			xi = s_xfer_new(ti, mi, to_tw, to, last + 1);
		if (xi < 0)
			end = EE_AWAY;
	}
	e->end = (uint8_t)end;
	s_tw[ti].members[mi].ep = ei + 1;
	s_depart_report(ei, host);

	int64_t close = s_today;      /* the day the episode closes */
	switch (end) {
	case EE_LOST:
		s_moves.lost++;
		if (s_lost_ep < 0 && ti == 0)
			s_lost_ep = ei;
		return ei;
	case EE_TRANSFERRED: {
		const struct xfer *x = &s_xf[xi];
		close = x->issued_at / DAY_MS;
		s_step(ti, 2, SP_ISSUE, xi, "OK", x->issue_warn);
		s_step(x->to_tw, 3, SP_RECEIVE, xi, "OK", NULL);
		s_moves.converted++;
		s_count(x);
		break;
	}
	case EE_RETURNED:
		close = s_range(last + 10, s_today - 1);
		if (close > s_today - 1)
			close = s_today - 1;
		e->returned_at = s_day_ms(close, 18);
		s_step(ti, 3, SP_RETURN, ei, "OK", NULL);
		s_moves.returned++;
		if (close - 1 > last && s_chance(50))
			e->contacted_at = s_day_ms(s_range(last + 1, close - 1), 15);
		break;
	case EE_AWAY:
		e->contacted_at = s_past(s_range(last + 1 > s_today - 140 ? last + 1 : s_today - 140,
		    s_today - 1), 15);
		break;
	}
	/* Contact and review share step 2 with nothing they depend on: a
	 * transferred episode has neither (its letter is step 2). */
	if (e->contacted_at)
		s_step(ti, 2, SP_CONTACT, ei, "OK", NULL);
	bool sample = s_sample_ep < 0 && ti == 0 && end == EE_AWAY && host == EH_COUNTY;
	if (end != EE_TRANSFERRED && close - 1 > dep && (sample || s_chance(25))) {
		e->reviewed_at = s_past(s_range(dep + 1, close - 1), 16);
		s_step(ti, 2, SP_REVIEW, ei, "OK", NULL);
	}
	if (sample)
		s_sample_ep = ei;
	if (bad_after && end != EE_AWAY) {
		struct plan *p = &s_tw[ti].phase[PH_MOVE + 4];
		s_plan_insert(p, p->n, (struct spec){ .kind = SP_CONTACT, .ref = ei, .expect = "L2",
		    .at = s_past(close + 1, 19) });
		s_moves.bad++;
	}
	return ei;
}

/* The deliberately bad steps, serial-th of each kind, with the code the
 * rules answer. */
static void
s_moves_bad(unsigned serial)
{
	int xi, ei, ti, mi;
	/* Received before the letter was issued: the receiving township's
	 * clerk was quicker than the sending one's. Then as it should be. */
	if ((xi = s_xfer_pick(-1, s_chance(50), INT32_MIN, s_today - 180, false)) >= 0) {
		const struct xfer *x = &s_xf[xi];
		s_step(x->to_tw, 0, SP_RECEIVE, xi, "UNKNOWN_TRANSFER", NULL);
		s_step(x->tw, 1, SP_ISSUE, xi, "OK", x->issue_warn);
		s_step(x->to_tw, 2, SP_RECEIVE, xi, "OK", NULL);
		s_count(x);
		s_moves.bad++;
	}
	/* Revoked after the member was received. */
	if ((xi = s_xfer_pick(-1, s_chance(50), INT32_MIN, s_today - 180, false)) >= 0) {
		struct xfer *x = &s_xf[xi];
		x->closed_at = s_past(x->received_at / DAY_MS + 1, 16);
		s_step(x->tw, 0, SP_ISSUE, xi, "OK", x->issue_warn);
		s_step(x->to_tw, 1, SP_RECEIVE, xi, "OK", NULL);
		s_step(x->tw, 2, SP_REVOKE, xi, "T7", NULL);
		s_count(x);
		s_moves.bad++;
	}
	/* Received by a township the letter is not addressed to (a third one,
	 * or the sender), then by the right one. */
	if (s_opt.townships > 1 && (xi = s_xfer_pick(-1, true, INT32_MIN, s_today - 180, false)) >= 0) {
		const struct xfer *x = &s_xf[xi];
		int wrong = x->tw;
		while (s_opt.townships > 2 && serial % 2 == 0 && (wrong == x->tw || wrong == x->to_tw))
			wrong = (int)(s_rand() % s_opt.townships);
		s_step(x->tw, 0, SP_ISSUE, xi, "OK", x->issue_warn);
		s_step(wrong, 1, SP_RECEIVE, xi, "T7", NULL);
		s_step(x->to_tw, 2, SP_RECEIVE, xi, "OK", NULL);
		s_count(x);
		s_moves.bad++;
	}
	/* A letter valid too long (or for no days at all): T1. */
	if ((xi = s_xfer_pick(-1, false, INT32_MIN, s_today - 180, false)) >= 0) {
		struct xfer *x = &s_xf[xi];
		x->valid_days = serial % 2 ? 0 : (unsigned)s_range(91, 180);
		s_step(x->tw, 0, SP_ISSUE, xi, "T1", NULL);
		s_moves.bad++;
	}
	/* A second letter for a member whose first is still open: T2. */
	if ((xi = s_xfer_pick(-1, false, INT32_MIN, s_today - 180, false)) >= 0) {
		const struct xfer *x = &s_xf[xi];
		const char *to = s_pick_org(x->tw, x->to_org);
		for (int tries = 0; to && strcmp(to, x->from_org) == 0 && tries < 20; tries++)
			to = s_pick_org(x->tw, x->to_org);
		int x2 = to && strcmp(to, x->from_org) != 0 ?
		    s_xfer_new(x->tw, x->member, x->tw, to, s_today - 80) : -1;
		x = &s_xf[xi];  /* s_xfer_new may move s_xf */
		s_step(x->tw, 0, SP_ISSUE, xi, "OK", x->issue_warn);
		if (x2 >= 0) {
			s_step(x->tw, 1, SP_ISSUE, x2, "T2", NULL);
			s_moves.bad++;
		}
		s_step(x->to_tw, 2, SP_RECEIVE, xi, "OK", NULL);
		s_count(x);
	}
	/* A report for an episode the home township never entered. */
	if ((mi = s_pick_member(-1, INT32_MIN, s_today - 400, false, &ti)) >= 0) {
		ei = s_episode_new(ti, mi, s_today - s_range(20, 60));
		s_ep[ei].outside_host = true;
		s_ep[ei].reported_at = s_past(s_ep[ei].departed_at / DAY_MS + 5, 11);
		s_tw[ti].members[mi].busy = false;
		s_step(ti, 0, SP_REPORT, ei, "UNKNOWN_FLOW", NULL);
		s_moves.bad++;
	}
	/* A second departure of a member already away: L1. */
	if ((ei = s_mobile(-1, EE_AWAY, EH_OUTSIDE, false)) >= 0) {
		const struct episode *e = &s_ep[ei];
		int e2 = s_episode_new(e->tw, e->member, e->departed_at / DAY_MS + s_range(1, 3));
		s_step(s_ep[e2].tw, 1, SP_DEPART, e2, "L1", NULL);
		s_moves.bad++;
	}
	/* Contacts after the episode closed, by a return or by a transfer: L2. */
	s_mobile(-1, EE_RETURNED, serial % 2 ? EH_COUNTY : EH_OUTSIDE, true);
	s_mobile(-1, EE_TRANSFERRED, EH_OUTSIDE, true);
}

/* The transfers-and-mobility phase, scaled to --members: about 2% of the
 * members transferred inside their township and 1% across townships, a
 * few out of the county and into it, one or two letters revoked and
 * rejected; about 5% gone mobile before the Spring Festival, 8% of those
 * to lose contact. The demo's samples come first, from the first township. */
static void
s_build_moves(void)
{
	const unsigned n = s_opt.members;
	const bool many = s_opt.townships > 1;
	unsigned within = n * 2 / 100, across = many ? n / 100 : 0;
	unsigned out = 2 + n / 2000, in = 2 + n / 2000, closed = 1 + n / 5000;
	unsigned mobile = n * 5 / 100, lost = 1 + mobile * 8 / 100, converted = 1 + n / 3000;

	s_sample_xf = s_transfer(0, many, XE_RECEIPT, false);
	s_mobile(0, EE_AWAY, many ? EH_COUNTY : EH_OUTSIDE, false);
	s_mobile(0, EE_LOST, EH_OUTSIDE, false);
	s_transfer(-1, false, XE_RECEIPT, true);
	for (unsigned i = 0; i < within; i++)
		s_transfer(-1, false, i < closed ? XE_REVOKED : s_chance(70) ? XE_RECEIPT : XE_RECEIVED, false);
	for (unsigned i = 0; i < across; i++)
		s_transfer(-1, true, i < closed ? XE_REJECTED : s_chance(70) ? XE_RECEIPT : XE_RECEIVED, false);
	for (unsigned i = 0; i < out; i++)
		s_transfer_out(i == 0);
	for (unsigned i = 0; i < in; i++)
		s_transfer_in((int)(s_rand() % s_opt.townships));
	for (unsigned i = 3; i < mobile; i++) {
		enum ep_end end = i < lost + 2 ? EE_LOST : i < lost + 2 + converted ? EE_TRANSFERRED :
		    s_chance(30) ? EE_RETURNED : EE_AWAY;
		enum ep_host host = end == EE_LOST ? (s_chance(50) ? EH_OUTSIDE : EH_NONE) :
		    s_chance(10) ? EH_NONE : many && s_chance(47) ? EH_COUNTY : EH_OUTSIDE;
		s_mobile(-1, end, host, false);
	}
	unsigned nbad = s_opt.invalid_pct > 0 ? 1 + n / 10000 : 0;
	for (unsigned k = 0; k < nbad; k++)
		s_moves_bad(k);
}

/* ---------------------------------------------------------------- the roster at the end */

/* The meetings and payments are sent after every membership event is
 * acknowledged, so they are judged against the county as it then stands
 * (docs/rules.md: membership is judged where the event stands in the
 * journal). s_roster_settle works that county out from the plans: who
 * joined, who was confirmed, whose status changed, who moved or left, and
 * so each org's FULL, NORMAL members (the M2 quorum's "due"). */

#define SIM_NOBODY UINT32_MAX

/* A member of any township, as township << 24 | index. */
static uint32_t
s_ref(int tw, int mi)
{
	return (uint32_t)tw << 24 | (uint32_t)mi;
}

static struct member *
s_refm(uint32_t ref)
{
	return &s_tw[ref >> 24].members[ref & 0xffffff];
}

static int
s_okey_cmp(const void *a, const void *b)
{
	return strcmp(((const struct org_key *)a)->id, ((const struct org_key *)b)->id);
}

/* Org id in township t: its index, or -1. */
static int
s_org_find(const struct township *t, const char *id)
{
	struct org_key k = { id, -1 };
	const struct org_key *f = id && *id ? bsearch(&k, t->okeys, t->norgs, sizeof k, s_okey_cmp) : NULL;
	return f ? f->i : -1;
}

/* What an event planned to be accepted makes of its member. */
static void
s_settle_spec(struct township *t, const struct spec *s)
{
	const struct xfer *x;
	if (strcmp(s->expect, "OK") != 0)
		return;
	switch (s->kind) {
	case SP_REGISTER:
	case SP_ADMIT:
		t->members[s->ref].joined = true;
		break;
	case SP_CONFIRM:
		t->members[s->ref].confirmed = true;
		break;
	case SP_STATUS:
		t->members[s->ref].inactive = true;
		break;
	case SP_RECEIVE:
		x = &s_xf[s->ref];
		if (x->tw >= 0)
			s_tw[x->tw].members[x->member].moved = s->ref + 1;
		break;
	case SP_RECEIPT:
		x = &s_xf[s->ref];
		if (x->tw >= 0 && x->to_tw < 0)
			s_tw[x->tw].members[x->member].gone = true;
		break;
	}
}

/* Attends its home org's meetings and pays its dues there: a NORMAL
 * member still at the home org it joined. */
static bool
s_in_pool(const struct member *m)
{
	return m->joined && !m->bad && !m->moved && !m->gone && !m->inactive && m->org >= 0;
}

static bool
s_full(const struct member *m)
{
	return m->category == JICENG__V1__MEMBER_CATEGORY__FULL || m->confirmed;
}

/* Each org's FULL, NORMAL members once every move is made: the members
 * of every township where they end up, and those received from outside. */
static void
s_count_due(void)
{
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		const struct township *t = &s_tw[ti];
		for (unsigned mi = 0; mi < t->nmembers; mi++) {
			const struct member *m = &t->members[mi];
			if (!m->joined || m->gone || m->inactive || !s_full(m))
				continue;
			int tw = (int)ti, o = m->org;
			if (m->moved) {
				const struct xfer *x = &s_xf[m->moved - 1];
				tw = x->to_tw;
				o = s_org_find(&s_tw[tw], x->to_org);
			}
			if (o >= 0)
				s_tw[tw].orgs[o].due++;
		}
	}
	for (unsigned xi = 0; xi < s_nxf; xi++) {
		const struct xfer *x = &s_xf[xi];
		int o = x->tw < 0 ? s_org_find(&s_tw[x->to_tw], x->to_org) : -1;
		if (o >= 0 && x->in.category == JICENG__V1__MEMBER_CATEGORY__FULL)
			s_tw[x->to_tw].orgs[o].due++;
	}
}

/* The township's pool by home org (a counting sort). */
static void
s_pool(struct township *t)
{
	t->pool_at = calloc(t->norgs + 2, sizeof *t->pool_at);
	t->pool = calloc(t->nmembers + 1, sizeof *t->pool);
	if (!t->pool_at || !t->pool) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	for (unsigned mi = 0; mi < t->nmembers; mi++)
		if (s_in_pool(&t->members[mi]))
			t->pool_at[t->members[mi].org + 2]++;
	for (unsigned o = 0; o < t->norgs; o++)
		t->pool_at[o + 2] += t->pool_at[o + 1];
	for (unsigned mi = 0; mi < t->nmembers; mi++)
		if (s_in_pool(&t->members[mi]))
			t->pool[t->pool_at[t->members[mi].org + 1]++] = mi;
}

static void
s_roster_settle(void)
{
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		struct township *t = &s_tw[ti];
		t->okeys = calloc(t->norgs + 1, sizeof *t->okeys);
		if (!t->okeys) {
			fprintf(stderr, "sim: out of memory\n");
			exit(1);
		}
		for (unsigned o = 0; o < t->norgs; o++)
			t->okeys[o] = (struct org_key){ t->orgs[o].id, (int)o };
		qsort(t->okeys, t->norgs, sizeof *t->okeys, s_okey_cmp);
	}
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		struct township *t = &s_tw[ti];
		for (int p = 0; p < SIM_PHASES; p++)
			for (unsigned i = 0; i < t->phase[p].n; i++)
				s_settle_spec(t, &t->phase[p].v[i]);
		for (unsigned mi = 0; mi < t->nmembers; mi++) {
			struct member *m = &t->members[mi];
			m->org = s_org_find(t, m->home);
			m->act = s_org_find(t, m->activity);
		}
	}
	s_count_due();
	for (unsigned ti = 0; ti < s_opt.townships; ti++)
		s_pool(&s_tw[ti]);
}

/* ---------------------------------------------------------------- the simulated months */

/* The months of meetings and payments: --months calendar months up to
 * this one (CST), no date after yesterday. */
static int s_month0, s_now_month;

/* YYYYMM k months after month ym (k may be negative). */
static int
s_month_add(int ym, int k)
{
	int n = (ym / 100) * 12 + ym % 100 - 1 + k;
	return n / 12 * 100 + n % 12 + 1;
}

/* Day d of month ym, as a day number. */
static int64_t
s_month_day(int ym, int d)
{
	int last = civil_month_days(ym / 100, ym % 100);
	return civil_to_days(ym / 100, ym % 100, d < last ? d : last);
}

/* Has day passed (is it yesterday or earlier)? */
static bool
s_passed(int64_t day)
{
	return day < s_today;
}

/* A member's whereabouts on a day: at home, away (可视频参会 by video), or
 * out of contact (失联). */
enum { AT_HOME, AWAY, OUT_OF_CONTACT };

static int
s_whereabouts(const struct member *m, int64_t day)
{
	if (!m->ep)
		return AT_HOME;
	const struct episode *e = &s_ep[m->ep - 1];
	if (day < e->departed_at / DAY_MS || (e->returned_at && day >= e->returned_at / DAY_MS))
		return AT_HOME;
	return e->end == EE_LOST ? OUT_OF_CONTACT : AWAY;
}

/* Stable enough to hold an office or be paid month after month: in the
 * pool, FULL since registration, never moved or away. */
static bool
s_steady(const struct member *m)
{
	return s_in_pool(m) && !m->busy && !m->changed &&
	    m->category == JICENG__V1__MEMBER_CATEGORY__FULL;
}

/* ---------------------------------------------------------------- meetings (三会一课) */

/* At their real frequencies (支部工作条例): the branch committee monthly,
 * the branch assembly and a party lecture each quarter (on the themed day
 * or on their own), a themed party day monthly, the org-life meeting and
 * the democratic appraisal once a year, in January or February, for the
 * year before. Some branches lag (meetings missed, fewer present); a few
 * assemblies are inquorate (M2), a few committee meetings too (M3).
 * Attending: the home members at home; those away now and then by video
 * (the record is then online); those out of contact absent; activity-org
 * members (多重组织生活) and mobile members the org hosts, without a vote. */

struct meeting {
	char id[40];
	int tw, org;             /* the org's township and index */
	uint8_t types[3], ntypes;
	bool online;
	bool committee;          /* lists the org's committee (M3) */
	uint8_t roles;           /* 1 << AttendeeRole of each attendee, for the demo */
	int64_t held_at;
	const char *topic;
	char lecturer[64];
	uint32_t host, recorder; /* member refs (s_ref), or SIM_NOBODY */
	uint32_t *att, *abs;     /* present and absent, member refs */
	uint8_t *why;            /* each absentee's reason, s_absent_reasons */
	unsigned natt, nabs;
};

/* 民主评议党员: the grades of one meeting. */
struct appraisal {
	int meeting;
	int year;
	uint32_t *who;
	uint8_t *grade;          /* AppraisalGrade */
	unsigned n;
};

/* Who may attend an org's meetings without a vote: its activity-org
 * members, from the day they joined, and the mobile members it hosts,
 * from the day after they reported. */
struct guest {
	uint32_t ref;
	uint8_t role;            /* AttendeeRole */
	int64_t since;           /* a day */
};

static struct meeting *s_mt;
static unsigned s_nmt, s_cmt;
static struct appraisal *s_ap;
static unsigned s_nap, s_cap;
static int s_sample_mt = -1;   /* the demo's meeting */

/* What the phase holds, for the summary. */
static struct {
	unsigned records, by_type[8], online, lagging, branches, appraisals;
	unsigned m2, m3, bad;
	unsigned m4_left;        /* deliberately bad appraisals still to make */
} s_mtg;

#define MT_ASSEMBLY  JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY
#define MT_COMMITTEE JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE
#define MT_LECTURE   JICENG__V1__MEETING_TYPE__PARTY_LECTURE
#define MT_THEMED    JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY
#define MT_ORG_LIFE  JICENG__V1__MEETING_TYPE__ORG_LIFE_MEETING
#define MT_APPRAISAL JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL

static const char *s_absent_reasons[] = {
	"外出务工 / working away", "失联 / out of contact", "公务外出 / away on duty",
	"生病住院 / in hospital", "年老体弱 / frail", "农忙 / farm work",
	"请假 / on leave", "照顾家人 / caring for family",
};
enum { WHY_AWAY, WHY_LOST, WHY_DUTY, WHY_OTHER };

static const char *s_themed_topics[] = {
	"学习贯彻党的二十届三中全会精神 / the Third Plenum",
	"重温入党誓词 / the admission oath again",
	"人居环境整治志愿服务 / cleaning up the village",
	"观看警示教育片 / a warning-education film",
	"乡村振兴产业发展讨论 / village industries",
	"防汛抗旱动员 / flood and drought readiness",
	"秋收秋种与秸秆禁烧 / the autumn harvest, no straw burning",
	"学习《中国共产党纪律处分条例》 / the disciplinary regulations",
	"走访慰问困难群众 / visiting families in need",
	"村级财务公开 / the village accounts",
};
static const char *s_committee_topics[] = {
	"研究本月工作安排 / this month's work",
	"讨论发展党员计划 / the admissions plan",
	"研究党费收缴使用 / dues and their use",
	"研究困难党员慰问名单 / condolence visits",
	"研究主题党日安排 / the themed party day",
};
static const char *s_assembly_topics[] = {
	"通报党费收缴和使用情况 / the dues report",
	"讨论接收预备党员 / admitting probationary members",
	"讨论预备党员转正 / confirming probationary members",
	"审议支部年度工作计划 / the branch's work plan",
};
static const char *s_lecture_topics[] = {
	"党的创新理论 / the Party's theory",
	"党史学习教育 / Party history",
	"基层党组织建设 / building the branches",
	"乡村振兴与共同富裕 / rural revitalisation",
};
static const char *s_lecturer_titles[] = {
	"支部书记", "乡镇党委书记", "驻村第一书记", "乡镇党委委员", "老党员",
};

static const char *
s_type_topic(uint8_t type)
{
	switch (type) {
	case MT_COMMITTEE: return PICK(s_committee_topics);
	case MT_ASSEMBLY: return PICK(s_assembly_topics);
	case MT_LECTURE: return PICK(s_lecture_topics);
	case MT_ORG_LIFE: return "年度组织生活会和民主评议党员 / the year's org-life meeting and appraisal";
	default: return PICK(s_themed_topics);
	}
}

/* A new record of org oi of township ti on day, or NULL when that day has
 * not passed yet. */
static struct meeting *
s_meeting_new(int ti, int oi, int64_t day, const uint8_t *types, unsigned ntypes)
{
	if (!s_passed(day))
		return NULL;
	const struct township *t = &s_tw[ti];
	const struct org *o = &t->orgs[oi];
	unsigned room = t->pool_at[oi + 1] - t->pool_at[oi] + t->guest_at[oi + 1] - t->guest_at[oi] + 4;
	s_mt = s_grow(s_mt, s_nmt, &s_cmt, sizeof *s_mt);
	struct meeting *mt = &s_mt[s_nmt];
	memset(mt, 0, sizeof *mt);
	snprintf(mt->id, sizeof mt->id, "%s:mt%06u", t->id, s_nmt + 1);
	mt->tw = ti;
	mt->org = oi;
	memcpy(mt->types, types, ntypes);
	mt->ntypes = (uint8_t)ntypes;
	mt->held_at = s_day_ms(day, (int)s_range(9, 19));
	mt->topic = s_type_topic(types[0]);
	mt->att = calloc(room, sizeof *mt->att);
	mt->abs = calloc(room, sizeof *mt->abs);
	mt->why = calloc(room, 1);
	if (!mt->att || !mt->abs || !mt->why) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	mt->host = o->ncommittee ? s_ref(ti, o->committee[0]) : SIM_NOBODY;
	mt->recorder = o->ncommittee > 1 ? s_ref(ti, o->committee[1]) : SIM_NOBODY;
	s_nmt++;
	return mt;
}

static bool
s_has_type(const struct meeting *mt, uint8_t type)
{
	return memchr(mt->types, type, mt->ntypes) != NULL;
}

static void
s_present(struct meeting *mt, uint32_t ref, int role)
{
	mt->att[mt->natt++] = ref;
	mt->roles |= (uint8_t)(1u << role);
}

static void
s_absent(struct meeting *mt, uint32_t ref, unsigned why)
{
	mt->abs[mt->nabs] = ref;
	mt->why[mt->nabs++] = (uint8_t)why;
}

/* A committee meeting's attendees: the committee, now and then one of it
 * away, or (deliberately, a few) only the first half of it (M3); the
 * secretary always comes. Returns the warning. */
static const char *
s_committee_attend(struct meeting *mt)
{
	const struct org *o = &s_tw[mt->tw].orgs[mt->org];
	unsigned n = o->ncommittee, upto = n, away = n, present = 0;
	if (s_chance(2))
		upto = n / 2;
	else if (s_chance(12))
		away = (unsigned)s_range(1, n - 1);
	for (unsigned i = 0; i < n; i++) {
		uint32_t ref = s_ref(mt->tw, o->committee[i]);
		if (i >= upto || i == away) {
			s_absent(mt, ref, WHY_DUTY);
			continue;
		}
		s_present(mt, ref, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
		present++;
	}
	mt->committee = true;
	if (present * 2 > n)
		return NULL;
	s_mtg.m3++;
	return "M3";
}

/* The home members of a whole-branch meeting: present at pct percent,
 * those away by video now and then, those out of contact absent. Those
 * admitted after the day are not listed. Returns the voting members present. */
static unsigned
s_home_attend(struct meeting *mt, int64_t day, unsigned pct)
{
	const struct township *t = &s_tw[mt->tw];
	unsigned voting = 0;
	for (unsigned k = t->pool_at[mt->org]; k < t->pool_at[mt->org + 1]; k++) {
		const struct member *m = &t->members[t->pool[k]];
		uint32_t ref = s_ref(mt->tw, (int)t->pool[k]);
		if (m->admitted_at / DAY_MS >= day)
			continue;
		int where = s_whereabouts(m, day);
		bool present = where == AT_HOME ? s_chance(pct) : where == AWAY && s_chance(35);
		if (!present) {
			s_absent(mt, ref, where == AWAY ? WHY_AWAY : where == OUT_OF_CONTACT ? WHY_LOST :
			    (unsigned)s_range(WHY_OTHER, sizeof s_absent_reasons / sizeof *s_absent_reasons - 1));
			continue;
		}
		mt->online |= where == AWAY;
		s_present(mt, ref, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
		voting += s_full(m);
	}
	return voting;
}

/* Activity-org members at home and hosted mobile members, some of them. */
static void
s_guests_attend(struct meeting *mt, int64_t day)
{
	const struct township *t = &s_tw[mt->tw];
	for (unsigned k = t->guest_at[mt->org]; k < t->guest_at[mt->org + 1]; k++) {
		const struct guest *g = &t->guests[k];
		bool activity = g->role == JICENG__V1__ATTENDEE_ROLE__ATTENDEE_ACTIVITY;
		if (day > g->since && (!activity || s_whereabouts(s_refm(g->ref), day) == AT_HOME) &&
		    s_chance(activity ? 70 : 60))
			s_present(mt, g->ref, g->role);
	}
}

/* One guest: counted (g NULL) or placed at g[*n]; *n moves on. */
static void
s_guest_add(unsigned *n, struct guest *g, int tw, int mi, uint8_t role, int64_t since)
{
	if (g)
		g[*n] = (struct guest){ s_ref(tw, mi), role, since };
	(*n)++;
}

/* Each township's guests by org (a counting sort, in two passes: count,
 * then place). */
static void
s_guests_pass(struct township *t, int ti, bool place)
{
	for (unsigned mi = 0; mi < t->nmembers; mi++) {
		const struct member *m = &t->members[mi];
		if (m->act >= 0 && s_in_pool(m))
			s_guest_add(&t->guest_at[m->act + (place ? 0 : 1)], place ? t->guests : NULL, ti,
			    (int)mi, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_ACTIVITY, m->admitted_at / DAY_MS);
	}
	for (unsigned ei = 0; ei < s_nep; ei++) {
		const struct episode *e = &s_ep[ei];
		int o = e->host_tw == ti && !e->outside_host ? s_org_find(t, e->host_org) : -1;
		if (o < 0 || e->end != EE_AWAY || s_tw[e->tw].members[e->member].ep != (int)ei + 1)
			continue;
		s_guest_add(&t->guest_at[o + (place ? 0 : 1)], place ? t->guests : NULL, e->tw,
		    e->member, JICENG__V1__ATTENDEE_ROLE__ATTENDEE_HOSTED, e->reported_at / DAY_MS);
	}
}

static void
s_guests_index(int ti)
{
	struct township *t = &s_tw[ti];
	t->guest_at = calloc(t->norgs + 1, sizeof *t->guest_at);
	if (!t->guest_at) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	s_guests_pass(t, ti, false);
	for (unsigned o = 0; o < t->norgs; o++)
		t->guest_at[o + 1] += t->guest_at[o];
	t->guests = calloc(t->guest_at[t->norgs] + 1, sizeof *t->guests);
	if (!t->guests) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	s_guests_pass(t, ti, true);
	/* Placing moved each start to the next org's: shift back. */
	memmove(t->guest_at + 1, t->guest_at, t->norgs * sizeof *t->guest_at);
	t->guest_at[0] = 0;
}

/* Plan a record: M2 when it carries the assembly and no more than half of
 * those due are present; the demo's sample is an assembly of the first
 * township with the most kinds of attendee. */
static unsigned
s_bits(unsigned v)
{
	unsigned n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

static void
s_meeting_plan(struct meeting *mt, unsigned voting, const char *warn)
{
	struct plan *p = &s_tw[mt->tw].phase[PH_RECORD];
	if (s_has_type(mt, MT_ASSEMBLY) && voting * 2 <= s_tw[mt->tw].orgs[mt->org].due) {
		warn = "M2";
		s_mtg.m2++;
	}
	s_plan_insert(p, p->n, (struct spec){ .kind = SP_MEETING, .ref = (int)(mt - s_mt),
	    .expect = "OK", .warn = warn });
	s_mtg.records++;
	s_mtg.online += mt->online;
	for (unsigned i = 0; i < mt->ntypes; i++)
		s_mtg.by_type[mt->types[i]]++;
	if (mt->tw == 0 && !warn && s_has_type(mt, MT_ASSEMBLY) &&
	    (s_sample_mt < 0 || s_bits(mt->roles) >= s_bits(s_mt[s_sample_mt].roles)))
		s_sample_mt = (int)(mt - s_mt);
}

/* A meeting of the whole branch, or nothing if the day is to come or
 * nobody could come. Returns its index, or -1. */
static int
s_branch_meeting(int ti, int oi, int64_t day, const uint8_t *types, unsigned ntypes)
{
	const struct org *o = &s_tw[ti].orgs[oi];
	unsigned pct = o->lagging ? (unsigned)s_range(45, 75) : (unsigned)s_range(72, 95);
	struct meeting *mt = s_meeting_new(ti, oi, day, types, ntypes);
	if (!mt)
		return -1;
	bool assembly = s_has_type(mt, MT_ASSEMBLY);
	if (assembly && s_chance(3))
		pct = (unsigned)s_range(20, 40);  /* a few assemblies fall short: M2 */
	unsigned voting = s_home_attend(mt, day, pct);
	s_guests_attend(mt, day);
	if (s_has_type(mt, MT_LECTURE)) {
		char name[32];
		s_person_name(name, sizeof name, s_chance(70));
		snprintf(mt->lecturer, sizeof mt->lecturer, "%s（%s）", name, PICK(s_lecturer_titles));
	}
	if (mt->natt == 0) {
		free(mt->att);
		free(mt->abs);
		free(mt->why);
		s_nmt--;
		return -1;
	}
	s_meeting_plan(mt, voting, NULL);
	return (int)(mt - s_mt);
}

/* The committee: 3 members, 5 in a branch of 25 or more, of its steady
 * full members admitted 3 years ago or more; none when too few. */
static void
s_committee(int ti, int oi)
{
	struct township *t = &s_tw[ti];
	struct org *o = &t->orgs[oi];
	unsigned want = o->due >= 25 ? 5 : 3;
	for (unsigned k = t->pool_at[oi]; k < t->pool_at[oi + 1] && o->ncommittee < want; k++) {
		const struct member *m = &t->members[t->pool[k]];
		if (s_steady(m) && m->admitted_at / DAY_MS < s_today - 3 * 365 && s_chance(40))
			o->committee[o->ncommittee++] = (int)t->pool[k];
	}
	if (o->ncommittee < 3)
		o->ncommittee = 0;
}

static struct appraisal *
s_appraisal_new(int meeting, int year)
{
	s_ap = s_grow(s_ap, s_nap, &s_cap, sizeof *s_ap);
	struct appraisal *a = &s_ap[s_nap++];
	const struct township *t = &s_tw[s_mt[meeting].tw];
	unsigned room = t->pool_at[s_mt[meeting].org + 1] - t->pool_at[s_mt[meeting].org] + 1;
	memset(a, 0, sizeof *a);
	a->meeting = meeting;
	a->year = year;
	a->who = calloc(room, sizeof *a->who);
	a->grade = calloc(room, 1);
	if (!a->who || !a->grade) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	return a;
}

/* The grades of the appraisal meeting mi for the year before: the org's
 * full members admitted before it (those away too: a home org grades its
 * mobile members), 优秀 for at most a third (M4). Deliberately, now and
 * then, too many 优秀 or a probationary member graded (M4), corrected in
 * the next phase. */
static void
s_appraise(int mi)
{
	const struct meeting *mt = &s_mt[mi];
	const struct township *t = &s_tw[mt->tw];
	int64_t day = mt->held_at / DAY_MS;
	int prob = -1;
	struct appraisal *a = s_appraisal_new(mi, civil_cst_year(mt->held_at) - 1);
	for (unsigned k = t->pool_at[mt->org]; k < t->pool_at[mt->org + 1]; k++) {
		const struct member *m = &t->members[t->pool[k]];
		if (m->admitted_at / DAY_MS >= day || m->confirmed)
			continue;
		if (m->category != JICENG__V1__MEMBER_CATEGORY__FULL) {
			prob = (int)t->pool[k];
			continue;
		}
		a->who[a->n] = s_ref(mt->tw, (int)t->pool[k]);
		a->grade[a->n++] = s_chance(3) ? JICENG__V1__APPRAISAL_GRADE__BASICALLY_QUALIFIED :
		    s_chance(0.5) ? JICENG__V1__APPRAISAL_GRADE__UNQUALIFIED :
		    JICENG__V1__APPRAISAL_GRADE__QUALIFIED;
	}
	if (a->n == 0) {
		free(a->who);
		free(a->grade);
		s_nap--;
		return;
	}
	/* 10-33% drawn (a draw may repeat): never more than a third. */
	unsigned excellent = (unsigned)((uint64_t)a->n * (uint64_t)s_range(10, 33) / 100);
	for (unsigned i = 0; i < excellent; i++)
		a->grade[s_rand() % a->n] = JICENG__V1__APPRAISAL_GRADE__EXCELLENT;
	struct plan *pay = &s_tw[mt->tw].phase[PH_PAY];
	unsigned phase = PH_PAY;
	if (s_mtg.m4_left && (a->n >= 2 || prob >= 0)) {
		struct appraisal *bad = s_appraisal_new(mi, a->year);
		a = &s_ap[s_nap - 2];  /* s_appraisal_new may move s_ap */
		memcpy(bad->who, a->who, a->n * sizeof *a->who);
		memcpy(bad->grade, a->grade, a->n);
		bad->n = a->n;
		if (prob >= 0 && s_mtg.m4_left % 2) {
			bad->who[bad->n] = s_ref(mt->tw, prob);
			bad->grade[bad->n++] = JICENG__V1__APPRAISAL_GRADE__QUALIFIED;
		} else {
			for (unsigned i = 0; i <= bad->n / 3; i++)
				bad->grade[i] = JICENG__V1__APPRAISAL_GRADE__EXCELLENT;
		}
		s_plan_add(pay, SP_APPRAISAL, (int)s_nap - 1, "M4");
		s_mtg.m4_left--;
		s_mtg.bad++;
		phase = PH_CORRECT;
	}
	s_plan_add(&s_tw[mt->tw].phase[phase], SP_APPRAISAL, (int)(a - s_ap), "OK");
	s_mtg.appraisals++;
}

/* When a branch holds what. */
struct schedule {
	int assembly_q, lecture_q;  /* the month of the quarter (0-2) of each */
	bool assembly_on_themed;    /* held as part of the themed day */
	bool lecture_on_themed;
	int themed_day;             /* 主题党日: a fixed day of the month */
	int yearly_month;           /* 1 or 2: the org-life meeting and appraisal */
};

/* One month of org oi's meetings: the committee; the themed day, which
 * in the quarter's assembly (lecture) month may also be the assembly (the
 * lecture), else those are held on their own; the yearly org-life meeting
 * and appraisal. */
static void
s_month_meetings(int ti, int oi, int ym, const struct schedule *sc)
{
	const struct org *o = &s_tw[ti].orgs[oi];
	int q = (ym % 100 - 1) % 3;
	bool lag = o->lagging;
	uint8_t types[3];
	unsigned n = 0;
	if (o->ncommittee && !(lag && s_chance(35))) {
		types[0] = MT_COMMITTEE;
		struct meeting *mt = s_meeting_new(ti, oi, s_month_day(ym, (int)s_range(1, 8)), types, 1);
		if (mt)
			s_meeting_plan(mt, 0, s_committee_attend(mt));
	}
	types[n++] = MT_THEMED;
	if (q == sc->assembly_q && sc->assembly_on_themed)
		types[n++] = MT_ASSEMBLY;
	if (q == sc->lecture_q && sc->lecture_on_themed)
		types[n++] = MT_LECTURE;
	if (!(lag && s_chance(30)))
		s_branch_meeting(ti, oi, s_month_day(ym, sc->themed_day), types, n);
	types[0] = MT_ASSEMBLY;
	if (q == sc->assembly_q && !sc->assembly_on_themed && !(lag && s_chance(40)))
		s_branch_meeting(ti, oi, s_month_day(ym, (int)s_range(21, 27)), types, 1);
	types[0] = MT_LECTURE;
	if (q == sc->lecture_q && !sc->lecture_on_themed && !(lag && s_chance(40)))
		s_branch_meeting(ti, oi, s_month_day(ym, (int)s_range(21, 27)), types, 1);
	if (ym % 100 == sc->yearly_month && !(lag && s_chance(50))) {
		types[0] = MT_ORG_LIFE;
		types[1] = MT_APPRAISAL;
		types[2] = MT_ASSEMBLY;
		int mi = s_branch_meeting(ti, oi, s_month_day(ym, (int)s_range(10, 20)), types,
		    s_chance(50) ? 3 : 2);
		if (mi >= 0)
			s_appraise(mi);
	}
}

/* Every branch that holds members, every simulated month. */
static void
s_build_meetings(void)
{
	s_mtg.m4_left = s_opt.invalid_pct > 0 ? 2 + s_opt.members / 10000 : 0;
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		s_guests_index((int)ti);
		for (unsigned oi = 0; oi < s_tw[ti].norgs; oi++) {
			struct org *o = &s_tw[ti].orgs[oi];
			if (o->planned == 0 || s_tw[ti].pool_at[oi + 1] == s_tw[ti].pool_at[oi])
				continue;
			o->lagging = s_chance(12);
			s_mtg.branches++;
			s_mtg.lagging += o->lagging;
			struct schedule sc = {
				.assembly_q = (int)s_range(0, 2), .lecture_q = (int)s_range(0, 2),
				.assembly_on_themed = s_chance(60), .lecture_on_themed = s_chance(50),
				.themed_day = (int)s_range(1, 20), .yearly_month = (int)s_range(1, 2),
			};
			for (unsigned k = 0; k < s_opt.months; k++)
				s_month_meetings((int)ti, (int)oi, s_month_add(s_month0, (int)k), &sc);
		}
	}
}

/* A deliberately bad record of org oi of township ti: first a few of its
 * members present. */
static struct meeting *
s_bad_meeting(int ti, int oi, int64_t day)
{
	uint8_t type = MT_THEMED;
	struct meeting *mt = s_meeting_new(ti, oi, day, &type, 1);
	const struct township *t = &s_tw[ti];
	for (unsigned k = t->pool_at[oi]; mt && k < t->pool_at[oi + 1] && mt->natt < 3; k++)
		if (s_whereabouts(&t->members[t->pool[k]], day) == AT_HOME &&
		    t->members[t->pool[k]].admitted_at / DAY_MS < day)
			s_present(mt, s_ref(ti, (int)t->pool[k]), JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
	return mt;
}

/* A branch of township ti with members in its pool (not `not`), or -1. */
static int
s_pool_org(int ti, int not)
{
	const struct township *t = &s_tw[ti];
	for (int tries = 0; tries < 200; tries++) {
		int oi = (int)(s_rand() % t->norgs);
		if (oi != not && t->pool_at[oi + 1] - t->pool_at[oi] >= 4)
			return oi;
	}
	return -1;
}

/* The serial-th round of bad records: an attendee of another branch (M1),
 * a deceased member present (R3), a date to come (M5), another township's
 * org (WRONG_TOWNSHIP), a record entered twice (MEETING_EXISTS). */
static void
s_meetings_bad(unsigned serial)
{
	int ti = (int)(serial % s_opt.townships), oi = s_pool_org(ti, -1), other = s_pool_org(ti, oi);
	const struct township *t = &s_tw[ti];
	int64_t day = s_today - s_range(2, 60);
	struct meeting *mt;
	if (oi < 0)
		return;
	/* Someone of another branch, who does not hold this one as an activity org. */
	unsigned stranger = other >= 0 ? t->pool_at[other] : 0;
	while (other >= 0 && stranger < t->pool_at[other + 1] && t->members[t->pool[stranger]].act == oi)
		stranger++;
	if (other >= 0 && stranger < t->pool_at[other + 1] && (mt = s_bad_meeting(ti, oi, day))) {
		s_present(mt, s_ref(ti, (int)t->pool[stranger]), JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
		s_plan_add(&s_tw[ti].phase[PH_RECORD], SP_MEETING, (int)s_nmt - 1, "M1");
		s_mtg.bad++;
	}
	for (unsigned mi = 0; mi < t->nmembers; mi++) {
		const struct member *m = &t->members[mi];
		if (!m->joined || !m->inactive || m->org < 0 || !(mt = s_bad_meeting(ti, m->org, day)))
			continue;
		s_present(mt, s_ref(ti, (int)mi), JICENG__V1__ATTENDEE_ROLE__ATTENDEE_MEMBER);
		s_plan_add(&s_tw[ti].phase[PH_RECORD], SP_MEETING, (int)s_nmt - 1, "R3");
		s_mtg.bad++;
		break;
	}
	if ((mt = s_bad_meeting(ti, oi, s_today - 1))) {
		mt->held_at = s_now_ms + DAY_MS * s_range(2, 5);  /* the next one's date */
		s_plan_add(&s_tw[ti].phase[PH_RECORD], SP_MEETING, (int)s_nmt - 1, "M5");
		s_mtg.bad++;
	}
	int wrong = s_other_township(ti);
	if (wrong >= 0 && (mt = s_bad_meeting(ti, oi, day))) {
		s_plan_add(&s_tw[wrong].phase[PH_RECORD], SP_MEETING, (int)s_nmt - 1, "WRONG_TOWNSHIP");
		s_mtg.bad++;
	}
	/* Entered twice: some record of the township, found from a random place. */
	const struct plan *rec = &t->phase[PH_RECORD];
	for (unsigned i = 0, at = rec->n ? (unsigned)(s_rand() % rec->n) : 0; i < rec->n; i++) {
		const struct spec *s = &rec->v[(at + i) % rec->n];
		if (s->kind == SP_MEETING && strcmp(s->expect, "OK") == 0) {
			s_plan_add(&s_tw[ti].phase[PH_PAY], SP_MEETING, s->ref, "MEETING_EXISTS");
			s_mtg.bad++;
			break;
		}
	}
}

/* ---------------------------------------------------------------- funds and dues (经费, 报酬, 慰问, 党费) */

/* The county allocates each township's budget per fund kind and year
 * (BudgetAllocated, a county key's event: on loopback without CURVE every
 * connection has the county's rights, so it goes out on the township's
 * own); the townships pay their village cadres every month (base and
 * performance pay), their branches' Party activity funds each quarter,
 * condolences before the Spring Festival and 七一; one payment entered
 * wrong is reversed (冲销) and paid again; every member pays dues month by
 * month. Budgets are sized from the payments planned, so F2 refuses only
 * the one deliberately paid without a budget. */

struct budget {
	char id[40];
	char township[16];       /* the envelope's: the township it is for */
	int kind, year, source;
	int64_t fen;
};

struct disb {
	char id[40];
	int tw;                  /* the payee's township, which sends it */
	int kind, source, period;
	uint32_t member;         /* the payee member (s_ref), or SIM_NOBODY: */
	int org;                 /* then the payee org's index */
	int64_t fen, paid_at;
	char approval[64];
	bool supplementary;
	bool ok;                 /* planned to be accepted */
	uint8_t phase;           /* sent in */
};

struct dues {
	uint32_t member, payer;  /* payer: SIM_NOBODY, or the proxy (代缴) */
	int month;
	int64_t fen, paid_at;
};

static struct budget *s_bg;
static unsigned s_nbg, s_cbg;
static struct disb *s_fd;
static unsigned s_nfd, s_cfd;
static struct dues *s_du;
static unsigned s_ndu, s_cdu;
static int s_sample_bg = -1, s_sample_fd = -1;   /* the demo's ledger line and reversal */

/* Planned payments per township, kind and year: what the budgets cover. */
static int64_t *s_lines;
static int s_year0, s_nyears;
#define SIM_KINDS 9   /* FundKind values */

/* What the phase holds, for the summary. */
static struct {
	unsigned budgets, paid[SIM_KINDS], approved, reversed;
	unsigned dues, proxy, ahead, arrears;
	unsigned f6, f7, bad;
	unsigned f4_left;        /* dues-funded condolences still to enter without approval */
} s_fun;

#define FK_BASE        JICENG__V1__FUND_KIND__CADRE_BASE_PAY
#define FK_PERFORMANCE JICENG__V1__FUND_KIND__CADRE_PERFORMANCE_PAY
#define FK_ACTIVITY    JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND
#define FK_HARDSHIP    JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE
#define FK_VETERAN     JICENG__V1__FUND_KIND__VETERAN_CONDOLENCE
#define FK_RETIRED     JICENG__V1__FUND_KIND__RETIRED_CADRE_SUBSIDY
#define FS_FISCAL      JICENG__V1__FUNDING_SOURCE__FISCAL
#define FS_DUES        JICENG__V1__FUNDING_SOURCE__PARTY_DUES

static const char *s_reversal_reasons[] = {
	"金额多录一个0，冲销后重发 / a zero too many: reversed, paid again",
	"误操作，再次冲销 / reversed again by mistake",
	"发放有误 / paid in error",
};

static int64_t *
s_line(int tw, int kind, int year)
{
	return &s_lines[((size_t)tw * SIM_KINDS + (size_t)kind) * (size_t)s_nyears + (size_t)(year - s_year0)];
}

/* A payment by township tw to a member (ref) or an org (org >= 0), sent
 * in phase ph; what is planned to be accepted counts in its line. */
static int
s_disburse(int tw, int kind, uint32_t member, int org, int64_t fen, int period,
    int64_t paid_at, int source, const char *approval, unsigned ph, const char *expect)
{
	s_fd = s_grow(s_fd, s_nfd, &s_cfd, sizeof *s_fd);
	struct disb *d = &s_fd[s_nfd];
	memset(d, 0, sizeof *d);
	snprintf(d->id, sizeof d->id, "%s:fd%06u", s_tw[tw].id, s_nfd + 1);
	d->tw = tw;
	d->kind = kind;
	d->member = member;
	d->org = org;
	d->fen = fen;
	d->period = period;
	d->paid_at = paid_at;
	d->source = source;
	snprintf(d->approval, sizeof d->approval, "%s", approval);
	d->ok = strcmp(expect, "OK") == 0;
	d->phase = (uint8_t)ph;
	s_plan_add(&s_tw[tw].phase[ph], SP_DISBURSE, (int)s_nfd, expect);
	if (d->ok) {
		*s_line(tw, kind, period / 100) += fen;
		s_fun.paid[kind]++;
		s_fun.approved += (kind == FK_HARDSHIP || kind == FK_VETERAN) && *approval;
	}
	return (int)s_nfd++;
}

/* The main branch of a top-level village org oi: itself when a branch,
 * else its first branch; -1 if none. */
static int
s_village_branch(const struct township *t, unsigned oi)
{
	const struct org *v = &t->orgs[oi];
	char id[64];
	if (strcmp(v->parent, t->orgs[0].id) != 0 || !strstr(v->id, ":v"))
		return -1;
	if (v->kind == JICENG__V1__ORG_KIND__BRANCH)
		return (int)oi;
	snprintf(id, sizeof id, "%s:b1", v->id);
	return s_org_find(t, id);
}

/* Village cadres' pay (村干部报酬): the committee of each village's main
 * branch, base pay and performance pay for every month, paid on the
 * village's payday of the month after. */
static void
s_cadre_pay(int ti)
{
	const struct township *t = &s_tw[ti];
	for (unsigned oi = 0; oi < t->norgs; oi++) {
		int b = s_village_branch(t, oi);
		if (b < 0 || t->orgs[b].ncommittee == 0)
			continue;
		int payday = (int)s_range(5, 15);
		for (unsigned c = 0; c < t->orgs[b].ncommittee; c++) {
			uint32_t ref = s_ref(ti, t->orgs[b].committee[c]);
			int64_t base = (c == 0 ? s_range(36, 45) : s_range(22, 30)) * 10000;
			for (unsigned k = 0; k < s_opt.months; k++) {
				int ym = s_month_add(s_month0, (int)k);
				int64_t day = s_month_day(s_month_add(ym, 1), payday);
				if (!s_passed(day))
					continue;
				int64_t perf = (c == 0 ? s_range(8, 15) : s_range(3, 9)) * 10000;
				s_disburse(ti, FK_BASE, ref, -1, base, ym, s_day_ms(day, 10), FS_FISCAL, "", PH_PAY, "OK");
				s_disburse(ti, FK_PERFORMANCE, ref, -1, perf, ym, s_day_ms(day, 10), FS_FISCAL, "",
				    PH_PAY, "OK");
			}
		}
	}
}

/* Party activity funds (党组织活动经费) to every branch with members, each
 * quarter: 15 to 30 yuan a member. */
static void
s_activity_funds(int ti)
{
	const struct township *t = &s_tw[ti];
	for (unsigned oi = 0; oi < t->norgs; oi++) {
		unsigned n = t->pool_at[oi + 1] - t->pool_at[oi];
		if (t->orgs[oi].planned == 0 || n == 0)
			continue;
		for (unsigned k = 0; k < s_opt.months; k++) {
			int ym = s_month_add(s_month0, (int)k);
			int64_t day = s_month_day(ym, (int)s_range(10, 25));
			if ((ym % 100 - 1) % 3 != 0 || !s_passed(day))
				continue;
			s_disburse(ti, FK_ACTIVITY, SIM_NOBODY, (int)oi, (int64_t)n * s_range(15, 30) * 100, ym,
			    s_day_ms(day, 15), FS_FISCAL, "", PH_PAY, "OK");
		}
	}
}

/* One member in hardship: from Party dues with the decision, or from the
 * fiscal budget without one; deliberately, a few from dues without it
 * (F4), entered again with it in the next phase. */
static void
s_hardship(int ti, uint32_t ref, int ym, int64_t at, const char *approval)
{
	int64_t fen = s_range(3, 10) * 10000;
	if (s_chance(30)) {
		s_disburse(ti, FK_HARDSHIP, ref, -1, fen, ym, at, FS_FISCAL, "", PH_PAY, "OK");
		return;
	}
	if (s_fun.f4_left) {
		s_disburse(ti, FK_HARDSHIP, ref, -1, fen, ym, at, FS_DUES, "", PH_PAY, "F4");
		s_fun.f4_left--;
		s_fun.bad++;
		at += DAY_MS;
		if (at / DAY_MS >= s_today)
			at -= DAY_MS;
		s_disburse(ti, FK_HARDSHIP, ref, -1, fen, ym, at, FS_DUES, approval, PH_CORRECT, "OK");
		return;
	}
	s_disburse(ti, FK_HARDSHIP, ref, -1, fen, ym, at, FS_DUES, approval, PH_PAY, "OK");
}

/* Condolences (慰问) before the Spring Festival (January) and for 七一
 * (June): every veteran 45 years or more in the Party (老党员), and a few
 * members in hardship (困难党员). */
static void
s_condolences(int ti)
{
	const struct township *t = &s_tw[ti];
	for (unsigned k = 0; k < s_opt.months; k++) {
		int ym = s_month_add(s_month0, (int)k), mo = ym % 100;
		int64_t day = s_month_day(ym, mo == 1 ? (int)s_range(15, 25) : (int)s_range(20, 28));
		if ((mo != 1 && mo != 6) || !s_passed(day))
			continue;
		char approval[64];
		snprintf(approval, sizeof approval, "%s党委〔%d〕%d号", t->name, ym / 100, (int)s_range(2, 40));
		for (unsigned mi = 0; mi < t->nmembers; mi++) {
			const struct member *m = &t->members[mi];
			int64_t at = s_day_ms(day, 14), party_days = s_today - m->admitted_at / DAY_MS;
			if (!s_steady(m))
				continue;
			if (party_days >= 45 * 365)
				s_disburse(ti, FK_VETERAN, s_ref(ti, (int)mi), -1, party_days >= 48 * 365 ? 100000 : 50000,
				    ym, at, FS_DUES, approval, PH_PAY, "OK");
			else if (s_chance(2))
				s_hardship(ti, s_ref(ti, (int)mi), ym, at, approval);
		}
	}
}

/* 冲销: one base pay of the first township was entered with a zero too
 * many; it is reversed and paid again, then (deliberately) reversed once
 * more, a reversal of a reversal (F5). */
static void
s_reversal(void)
{
	int pick = -1;
	for (unsigned i = 0; i < s_nfd; i++)
		if (s_fd[i].tw == 0 && s_fd[i].kind == FK_BASE && s_fd[i].ok &&
		    s_fd[i].paid_at / DAY_MS <= s_today - 4)
			pick = (int)i;
	if (pick < 0)
		return;
	struct disb *d = &s_fd[pick];
	int64_t day = d->paid_at / DAY_MS, fen = d->fen;
	d->fen = fen * 10;
	*s_line(0, FK_BASE, d->period / 100) += fen * 9;
	s_plan_insert(&s_tw[0].phase[PH_CORRECT], s_tw[0].phase[PH_CORRECT].n, (struct spec){
	    .kind = SP_REVERSE, .ref = pick, .status = 0, .at = s_day_ms(day + 1, 11), .expect = "OK" });
	s_disburse(0, FK_BASE, d->member, -1, fen, d->period, s_day_ms(day + 2, 10), FS_FISCAL, "",
	    PH_AFTER, "OK");
	s_fun.reversed++;
	if (s_opt.invalid_pct > 0) {
		s_plan_insert(&s_tw[0].phase[PH_AFTER], s_tw[0].phase[PH_AFTER].n, (struct spec){
		    .kind = SP_REVERSE, .ref = pick, .status = 1, .at = s_day_ms(day + 2, 16), .expect = "F5" });
		s_fun.bad++;
	}
	s_sample_fd = pick;
}

static int
s_dues_add(uint32_t member, uint32_t payer, int month, int64_t fen, int64_t paid_at)
{
	s_du = s_grow(s_du, s_ndu, &s_cdu, sizeof *s_du);
	s_du[s_ndu] = (struct dues){ member, payer, month, fen, paid_at };
	return (int)s_ndu++;
}

static void
s_dues_plan(int tw, int di, unsigned ph, const char *expect, const char *warn)
{
	struct plan *p = &s_tw[tw].phase[ph];
	s_plan_insert(p, p->n, (struct spec){ .kind = SP_DUES, .ref = di, .expect = expect, .warn = warn });
	s_fun.dues += strcmp(expect, "OK") == 0;
	s_fun.proxy += strcmp(expect, "OK") == 0 && s_du[di].payer != SIM_NOBODY;
}

/* Who pays for member mi of township ti while it works away: its branch's
 * secretary, or SIM_NOBODY. */
static uint32_t
s_proxy(int ti, int mi)
{
	const struct org *o = &s_tw[ti].orgs[s_tw[ti].members[mi].org];
	return o->ncommittee && o->committee[0] != mi && s_chance(50) ? s_ref(ti, o->committee[0]) : SIM_NOBODY;
}

/* How many months a member's dues fall behind: most none; some one to
 * four months; one out of contact since the month it left. Returns the
 * first month left unpaid. */
static int
s_dues_stop(const struct member *m)
{
	int stop = s_month_add(s_now_month, 1);
	if (s_chance(6)) {
		stop = s_month_add(s_now_month, -(int)s_range(1, 4));
		s_fun.arrears++;
	}
	if (m->ep && s_ep[m->ep - 1].end == EE_LOST) {
		int left = civil_cst_month(s_ep[m->ep - 1].departed_at);
		stop = left < stop ? left : stop;
	}
	return stop;
}

/* One member's dues, for the months first to this one: each paid on the
 * member's day of the month (the current month only once that day has
 * passed), by a proxy now and then while the member works away; a few
 * farmer members pay once outside 0.2 to 1 yuan (F7); a few settle two
 * months further back than F6 allows; a few pay two months ahead. */
static void
s_member_dues(int ti, int mi, int first)
{
	const struct member *m = &s_tw[ti].members[mi];
	static const int64_t farmer_fen[] = { 20, 20, 50, 100 };
	int64_t fen = m->farmer ? PICK(farmer_fen) : s_range(2, 60) * 50;
	int joined = civil_cst_month(m->admitted_at), stop = s_dues_stop(m), payday = (int)s_range(1, 25);
	int f7_month = m->farmer && s_fun.f7 < 2 + s_opt.members / 1500 && s_chance(3) ?
	    s_month_add(first, (int)s_range(0, 4)) : 0;
	uint32_t self = s_ref(ti, mi);
	for (int ym = first; ym < stop && ym <= s_now_month; ym = s_month_add(ym, 1)) {
		int64_t day = s_month_day(ym, payday);
		if (ym < joined || !s_passed(day))
			continue;
		bool f7 = ym == f7_month;
		uint32_t payer = s_whereabouts(m, day) == AWAY ? s_proxy(ti, mi) : SIM_NOBODY;
		s_dues_plan(ti, s_dues_add(self, payer, ym, f7 ? (s_chance(50) ? 200 : 10) : fen, s_day_ms(day, 20)),
		    PH_RECORD, "OK", f7 ? "F7" : NULL);
		s_fun.f7 += f7;
	}
	bool settled = stop > s_now_month;
	if (settled && s_fun.f6 < 2 * (2 + s_opt.members / 1500) && joined < s_month_add(s_now_month, -9) &&
	    s_chance(3)) {
		for (int back = 8; back >= 7; back--)
			s_dues_plan(ti, s_dues_add(self, SIM_NOBODY, s_month_add(s_now_month, -back), fen,
			    s_day_ms(s_today - 1, 19)), PH_RECORD, "OK", "F6");
		s_fun.f6 += 2;
	} else if (settled && s_fun.ahead < 1 + s_opt.members / 2000 && s_chance(2)) {
		for (int ahead = 1; ahead <= 2; ahead++)
			s_dues_plan(ti, s_dues_add(self, SIM_NOBODY, s_month_add(s_now_month, ahead), fen,
			    s_day_ms(s_today - 1, 19)), PH_RECORD, "OK", NULL);
		s_fun.ahead++;
	}
}

/* Dues (党费) of every member who pays at home, for the simulated months
 * F6 leaves open: the last dues.max_months_back (6) before this one, or 5
 * when the journal may pass into the next month while the sim runs. */
static void
s_plan_dues(void)
{
	int back = civil_cst_month(s_now_ms + 2 * 3600000LL) == s_now_month ? 6 : 5;
	int first = s_month_add(s_now_month, -back);
	if (first < s_month0)
		first = s_month0;
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		const struct township *t = &s_tw[ti];
		for (unsigned k = 0; k < t->pool_at[t->norgs]; k++)
			s_member_dues((int)ti, (int)t->pool[k], first);
	}
}

/* A payment to a member by township ti planned to be accepted in the
 * payments phase, of a kind, found from a random place, neither the one
 * reversed nor paid again after it; -1 if none. */
static int
s_find_paid(int ti, int kind)
{
	for (unsigned i = 0, at = s_nfd ? (unsigned)(s_rand() % s_nfd) : 0; i < s_nfd; i++) {
		unsigned k = (at + i) % s_nfd;
		const struct disb *d = &s_fd[k];
		if (d->tw == ti && d->kind == kind && d->ok && d->phase == PH_PAY && (int)k != s_sample_fd &&
		    d->member != SIM_NOBODY)
			return (int)k;
	}
	return -1;
}

/* The serial-th round of bad payments and dues: the amount 0 or over the
 * cap (F1) and the reversal of that refused payment (F5); a subsidy before
 * any budget (F2); a month's pay entered twice (F3), and a top-up marked
 * 补发 (accepted); a condolence to a member no longer NORMAL (R3); dues of
 * a member of another township (WRONG_TOWNSHIP), of one transferred out
 * (TRANSFERRED_OUT), entered twice (DUES_EXISTS); once, a budget for a
 * township with no committee (UNKNOWN_TOWNSHIP). */
static void
s_funds_bad(unsigned serial)
{
	int ti = (int)(serial % s_opt.townships), p = s_find_paid(ti, FK_BASE);
	struct township *t = &s_tw[ti];
	int64_t yesterday = s_day_ms(s_today - 1, 11);
	if (p >= 0) {
		struct disb d = s_fd[p];
		int f1 = s_disburse(ti, FK_PERFORMANCE, d.member, -1, serial % 2 ? 12000000 : 0, d.period,
		    d.paid_at, FS_FISCAL, "", PH_PAY, "F1");
		s_plan_insert(&t->phase[PH_CORRECT], t->phase[PH_CORRECT].n, (struct spec){
		    .kind = SP_REVERSE, .ref = f1, .status = 2, .at = yesterday, .expect = "F5" });
		s_disburse(ti, FK_RETIRED, d.member, -1, s_range(3, 8) * 10000, s_month_add(s_now_month, -1),
		    yesterday, FS_FISCAL, "", PH_PAY, "F2");
		s_disburse(ti, FK_BASE, d.member, -1, d.fen, d.period, d.paid_at, FS_FISCAL, "", PH_CORRECT, "F3");
		int top = s_disburse(ti, FK_PERFORMANCE, d.member, -1, s_range(1, 5) * 10000, d.period, yesterday,
		    FS_FISCAL, "", PH_CORRECT, "OK");
		s_fd[top].supplementary = true;
		s_fun.bad += 4;
	}
	for (unsigned mi = 0; mi < t->nmembers; mi++) {
		if (t->members[mi].joined && t->members[mi].inactive && !t->members[mi].gone) {
			s_disburse(ti, FK_HARDSHIP, s_ref(ti, (int)mi), -1, 50000, s_month_add(s_now_month, -1),
			    yesterday, FS_FISCAL, "", PH_PAY, "R3");
			s_fun.bad++;
			break;
		}
	}
	int other = s_other_township(ti);
	const struct township *o = other >= 0 ? &s_tw[other] : NULL;
	if (o && o->pool_at[o->norgs] > 0) {
		uint32_t ref = s_ref(other, (int)o->pool[s_rand() % o->pool_at[o->norgs]]);
		s_dues_plan(ti, s_dues_add(ref, SIM_NOBODY, s_now_month, 100, yesterday), PH_RECORD,
		    "WRONG_TOWNSHIP", NULL);
		s_fun.bad++;
	}
	for (unsigned mi = 0; mi < t->nmembers; mi++) {
		if (t->members[mi].gone) {
			s_dues_plan(ti, s_dues_add(s_ref(ti, (int)mi), SIM_NOBODY, s_now_month, 100, yesterday),
			    PH_RECORD, "TRANSFERRED_OUT", NULL);
			s_fun.bad++;
			break;
		}
	}
	const struct plan *rec = &t->phase[PH_RECORD];
	for (unsigned i = 0, at = rec->n ? (unsigned)(s_rand() % rec->n) : 0; i < rec->n; i++) {
		const struct spec *s = &rec->v[(at + i) % rec->n];
		if (s->kind == SP_DUES && strcmp(s->expect, "OK") == 0) {
			s_dues_plan(ti, s->ref, PH_PAY, "DUES_EXISTS", NULL);
			s_fun.bad++;
			break;
		}
	}
}

/* A budget for township (a 12-digit code), sent on township tw's connection. */
static void
s_budget_add(int tw, const char *township, int kind, int year, int64_t fen, int source,
    const char *expect)
{
	s_bg = s_grow(s_bg, s_nbg, &s_cbg, sizeof *s_bg);
	struct budget *b = &s_bg[s_nbg];
	memset(b, 0, sizeof *b);
	snprintf(b->id, sizeof b->id, "%.12s:ys%04d-%d-%u", township, year, kind, s_nbg + 1);
	snprintf(b->township, sizeof b->township, "%s", township);
	b->kind = kind;
	b->year = year;
	b->fen = fen;
	b->source = source;
	s_plan_add(&s_tw[tw].phase[PH_RECORD], SP_BUDGET, (int)s_nbg++, expect);
	s_fun.budgets += strcmp(expect, "OK") == 0;
}

/* The county's budgets: per township, kind and year paid from, a tenth
 * to a third above the payments planned, in whole thousands of yuan; from
 * the fiscal budget, condolences from Party dues (党费), hardship partly
 * fiscal. */
static void
s_budgets(void)
{
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		for (int kind = 1; kind < SIM_KINDS; kind++) {
			for (int y = s_year0; y < s_year0 + s_nyears; y++) {
				int64_t sum = *s_line((int)ti, kind, y);
				if (sum == 0)
					continue;
				int64_t total = (sum * s_range(110, 133) / 100 + 99999) / 100000 * 100000;
				if (ti == 0 && kind == FK_BASE && s_sample_fd >= 0 && y == s_fd[s_sample_fd].period / 100)
					s_sample_bg = (int)s_nbg;
				int64_t dues = total * 6 / 10 / 100000 * 100000;
				if (kind == FK_HARDSHIP && dues > 0) {
					s_budget_add((int)ti, s_tw[ti].id, kind, y, dues, FS_DUES, "OK");
					s_budget_add((int)ti, s_tw[ti].id, kind, y, total - dues, FS_FISCAL, "OK");
				} else {
					s_budget_add((int)ti, s_tw[ti].id, kind, y, total,
					    kind == FK_VETERAN ? FS_DUES : FS_FISCAL, "OK");
				}
			}
		}
	}
}

static void
s_build_funds(unsigned nbad)
{
	s_year0 = s_month0 / 100;
	s_nyears = s_now_month / 100 - s_year0 + 1;
	s_lines = calloc((size_t)s_opt.townships * SIM_KINDS * (size_t)s_nyears, sizeof *s_lines);
	if (!s_lines) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	s_fun.f4_left = s_opt.invalid_pct > 0 ? 2 + s_opt.members / 2000 : 0;
	for (unsigned ti = 0; ti < s_opt.townships; ti++) {
		s_cadre_pay((int)ti);
		s_activity_funds((int)ti);
		s_condolences((int)ti);
	}
	s_reversal();
	s_plan_dues();
	for (unsigned k = 0; k < nbad; k++)
		s_funds_bad(k);
	if (nbad) {
		char nowhere[16];
		snprintf(nowhere, sizeof nowhere, "%.6s900000", s_opt.county);
		s_budget_add(0, nowhere, FK_ACTIVITY, s_now_month / 100, 1000000, FS_FISCAL, "UNKNOWN_TOWNSHIP");
		s_fun.bad++;
	}
	s_budgets();
}

/* ---------------------------------------------------------------- the records phases */

/* Meetings and payments of the simulated months, once the roster is
 * settled: committees first (they chair the meetings and are the cadres
 * paid). */
static void
s_build_records(void)
{
	unsigned nbad = s_opt.invalid_pct > 0 ? 1 + s_opt.members / 10000 : 0;
	s_roster_settle();
	s_now_month = civil_cst_month(s_now_ms);
	s_month0 = s_month_add(s_now_month, 1 - (int)s_opt.months);
	for (unsigned ti = 0; ti < s_opt.townships; ti++)
		for (unsigned oi = 0; oi < s_tw[ti].norgs; oi++)
			if (s_tw[ti].orgs[oi].planned > 0)
				s_committee((int)ti, (int)oi);
	if (!s_opt.no_meetings) {
		s_build_meetings();
		for (unsigned k = 0; k < nbad; k++)
			s_meetings_bad(k);
	}
	if (!s_opt.no_funds)
		s_build_funds(nbad);
}

/* ---------------------------------------------------------------- packing */

static const char *
s_status_reason(int status)
{
	switch (status) {
	case JICENG__V1__MEMBER_STATUS__DECEASED: return "病故 / died";
	case JICENG__V1__MEMBER_STATUS__SUSPENDED:
		return "与党组织失去联系六个月以上，停止党籍 / out of contact for over six months";
	case JICENG__V1__MEMBER_STATUS__REMOVED:
		return "连续六个月不参加党的组织生活，予以除名 / six months without organisational life";
	default: return "";
	}
}

static const char *
s_kind_name(uint8_t kind)
{
	static const char *names[] = {
		"org_established", "member_registered", "member_admitted", "member_confirmed",
		"member_status_changed", "malformed bytes", "invalid UTF-8", "bad township id",
		"transfer_issued", "transfer_received", "transfer_receipt_returned",
		"transfer_rejected", "transfer_revoked", "mobile_departed", "mobile_reported",
		"mobile_contacted", "certificate_reviewed", "mobile_returned",
		"meeting_held", "appraisal_recorded", "budget_allocated", "fund_disbursed",
		"disbursement_reversed", "dues_paid",
	};
	return kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

static uint8_t *
s_pack_envelope(const Envelope *e, size_t *len)
{
	*len = jiceng__v1__envelope__get_packed_size(e);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (!buf) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	jiceng__v1__envelope__pack(e, buf);
	return buf;
}

static void
s_fill_register(Jiceng__V1__MemberRegistered *r, struct member *m, char **activity)
{
	r->member_id = m->id;
	r->home_org_id = m->home;
	r->name = m->name;
	r->id_number = m->idnum;
	r->birth_date = m->birth;
	r->sex = m->sex;
	r->category = m->category;
	r->admitted_at = m->admitted_at;
	r->confirmed_at = m->confirmed_at;
	r->farmer = m->farmer;
	r->phone = m->phone;
	if (m->activity[0]) {
		*activity = m->activity;
		r->n_activity_org_ids = 1;
		r->activity_org_ids = activity;
	}
}

/* A step of a transfer: e gets the event, ev the packed envelope. */
static void
s_pack_transfer(const struct spec *s, Envelope *e, struct event *ev)
{
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__TransferReceiptReturned rr = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	Jiceng__V1__TransferRejected rj = JICENG__V1__TRANSFER_REJECTED__INIT;
	Jiceng__V1__TransferRevoked rv = JICENG__V1__TRANSFER_REVOKED__INIT;
	Jiceng__V1__ExternalOrg ext = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MemberRegistered mr = JICENG__V1__MEMBER_REGISTERED__INIT;
	char *activity[1];
	struct xfer *x = &s_xf[s->ref];
	ext.area_code = (char *)s_outside[x->outside].code;
	ext.org_name = (char *)s_outside[x->outside].org;
	switch (s->kind) {
	case SP_ISSUE:
		ti.transfer_id = x->id;
		ti.member_id = s_tw[x->tw].members[x->member].id;
		ti.from_org_id = x->from_org;
		if (x->to_tw >= 0) {
			ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
			ti.to_org_id = x->to_org;
		} else {
			ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
			ti.to_external = &ext;
		}
		ti.letter_no = x->letter;
		ti.issued_at = x->issued_at;
		ti.valid_days = x->valid_days;
		ti.dues_paid_through = x->dues;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED;
		e->transfer_issued = &ti;
		break;
	case SP_RECEIVE:
		tr.transfer_id = x->id;
		tr.to_org_id = x->to_org;
		tr.received_at = x->received_at;
		if (x->tw < 0) {
			/* From outside the county: the letter and the member's record. */
			tr.from_external = &ext;
			tr.member_id = x->in.id;
			tr.letter_no = x->letter;
			s_fill_register(&mr, &x->in, activity);
			tr.member = &mr;
		}
		e->event_case = JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED;
		e->transfer_received = &tr;
		break;
	case SP_RECEIPT:
		rr.transfer_id = x->id;
		rr.returned_at = x->returned_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED;
		e->transfer_receipt_returned = &rr;
		break;
	case SP_REJECT:
		rj.transfer_id = x->id;
		rj.reason = "档案材料不全，退回补充 / the file is incomplete";
		rj.rejected_at = x->closed_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED;
		e->transfer_rejected = &rj;
		break;
	case SP_REVOKE:
		rv.transfer_id = x->id;
		rv.reason = "党员本人申请暂缓转接 / the member asked to wait";
		rv.revoked_at = x->closed_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED;
		e->transfer_revoked = &rv;
		break;
	}
	ev->buf = s_pack_envelope(e, &ev->len);
}

/* A step of a mobile episode: e gets the event, ev the packed envelope. */
static void
s_pack_mobile(const struct spec *s, Envelope *e, struct event *ev)
{
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileReported mp = JICENG__V1__MOBILE_REPORTED__INIT;
	Jiceng__V1__MobileContacted mc = JICENG__V1__MOBILE_CONTACTED__INIT;
	Jiceng__V1__CertificateReviewed cr = JICENG__V1__CERTIFICATE_REVIEWED__INIT;
	Jiceng__V1__MobileReturned mt = JICENG__V1__MOBILE_RETURNED__INIT;
	static const char *channels[] = { "电话 / phone", "视频 / video", "微信 / WeChat", "走访家属 / family visit" };
	struct episode *ep = &s_ep[s->ref];
	char dest[7];
	snprintf(dest, sizeof dest, "%.6s", ep->host_tw >= 0 ? s_opt.county : s_outside[ep->outside].code);
	switch (s->kind) {
	case SP_DEPART:
		md.flow_id = ep->id;
		md.member_id = s_tw[ep->tw].members[ep->member].id;
		md.destination_code = dest;
		md.host_org_id = ep->host_named ? ep->host_org : "";
		md.reason = (char *)ep->reason;
		md.expected_months = ep->months;
		md.certificate_no = ep->certificate;
		md.fixed_place = ep->fixed;
		md.departed_at = ep->departed_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED;
		e->mobile_departed = &md;
		break;
	case SP_REPORT:
		mp.flow_id = ep->id;
		if (ep->outside_host)
			mp.host_org_name = (char *)s_outside[ep->outside].host;
		else
			mp.host_org_id = ep->host_org;
		mp.reported_at = ep->reported_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED;
		e->mobile_reported = &mp;
		break;
	case SP_CONTACT:
		mc.flow_id = ep->id;
		mc.contacted_at = s->at ? s->at : ep->contacted_at;
		mc.channel = (char *)channels[(mc.contacted_at / DAY_MS) % 4];
		e->event_case = JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED;
		e->mobile_contacted = &mc;
		break;
	case SP_REVIEW:
		cr.flow_id = ep->id;
		cr.reviewed_at = ep->reviewed_at;
		cr.certificate_no = ep->certificate;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED;
		e->certificate_reviewed = &cr;
		break;
	case SP_RETURN:
		mt.flow_id = ep->id;
		mt.returned_at = ep->returned_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED;
		e->mobile_returned = &mt;
		break;
	}
	ev->buf = s_pack_envelope(e, &ev->len);
}

/* A meeting record or an appraisal: e gets the event, ev the packed envelope. */
static void
s_pack_meeting(const struct spec *s, Envelope *e, struct event *ev)
{
	Jiceng__V1__MeetingHeld mh = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__AppraisalRecorded ar = JICENG__V1__APPRAISAL_RECORDED__INIT;
	const struct meeting *mt = &s_mt[s->kind == SP_MEETING ? s->ref : s_ap[s->ref].meeting];
	const struct org *o = &s_tw[mt->tw].orgs[mt->org];
	const struct appraisal *a = s->kind == SP_APPRAISAL ? &s_ap[s->ref] : NULL;
	unsigned n = a ? a->n : mt->natt + mt->nabs + o->ncommittee;
	char **ids = calloc(n + 1, sizeof *ids);
	Jiceng__V1__Absentee *abs = calloc(mt->nabs + 1, sizeof *abs);
	Jiceng__V1__Absentee **absp = calloc(mt->nabs + 1, sizeof *absp);
	Jiceng__V1__Grade *g = calloc((a ? a->n : 0) + 1, sizeof *g);
	Jiceng__V1__Grade **gp = calloc((a ? a->n : 0) + 1, sizeof *gp);
	Jiceng__V1__MeetingType types[3];
	if (!ids || !abs || !absp || !g || !gp) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	if (a) {
		for (unsigned i = 0; i < a->n; i++) {
			jiceng__v1__grade__init(&g[i]);
			g[i].member_id = s_refm(a->who[i])->id;
			g[i].grade = a->grade[i];
			gp[i] = &g[i];
		}
		ar.meeting_id = (char *)mt->id;
		ar.org_id = (char *)o->id;
		ar.year = a->year;
		ar.n_grades = a->n;
		ar.grades = gp;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_APPRAISAL_RECORDED;
		e->appraisal_recorded = &ar;
	} else {
		for (unsigned i = 0; i < mt->ntypes; i++)
			types[i] = mt->types[i];
		for (unsigned i = 0; i < mt->natt; i++)
			ids[i] = s_refm(mt->att[i])->id;
		for (unsigned i = 0; i < mt->nabs; i++) {
			jiceng__v1__absentee__init(&abs[i]);
			abs[i].member_id = s_refm(mt->abs[i])->id;
			abs[i].reason = (char *)s_absent_reasons[mt->why[i]];
			absp[i] = &abs[i];
		}
		for (unsigned i = 0; mt->committee && i < o->ncommittee; i++)
			ids[mt->natt + i] = s_tw[mt->tw].members[o->committee[i]].id;
		mh.meeting_id = (char *)mt->id;
		mh.org_id = (char *)o->id;
		mh.n_types = mt->ntypes;
		mh.types = types;
		mh.held_at = mt->held_at;
		mh.topic = (char *)mt->topic;
		mh.host_member_id = mt->host != SIM_NOBODY ? s_refm(mt->host)->id : "";
		mh.recorder_member_id = mt->recorder != SIM_NOBODY ? s_refm(mt->recorder)->id : "";
		mh.lecturer = (char *)mt->lecturer;
		mh.n_attendee_ids = mt->natt;
		mh.attendee_ids = ids;
		mh.n_absentees = mt->nabs;
		mh.absentees = absp;
		mh.online = mt->online;
		mh.n_committee_member_ids = mt->committee ? o->ncommittee : 0;
		mh.committee_member_ids = ids + mt->natt;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_MEETING_HELD;
		e->meeting_held = &mh;
	}
	ev->buf = s_pack_envelope(e, &ev->len);
	free(ids);
	free(abs);
	free(absp);
	free(g);
	free(gp);
}

/* A budget, a payment, a reversal or dues: e gets the event, ev the
 * packed envelope. */
static void
s_pack_funds(const struct spec *s, Envelope *e, struct event *ev)
{
	Jiceng__V1__BudgetAllocated ba = JICENG__V1__BUDGET_ALLOCATED__INIT;
	Jiceng__V1__FundDisbursed fd = JICENG__V1__FUND_DISBURSED__INIT;
	Jiceng__V1__DisbursementReversed dr = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;
	const struct budget *b;
	const struct disb *d;
	const struct dues *du;
	switch (s->kind) {
	case SP_BUDGET:
		b = &s_bg[s->ref];
		ba.budget_id = (char *)b->id;
		ba.kind = b->kind;
		ba.year = b->year;
		ba.amount_fen = b->fen;
		ba.source = b->source;
		e->township_id = (char *)b->township;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED;
		e->budget_allocated = &ba;
		break;
	case SP_DISBURSE:
		d = &s_fd[s->ref];
		fd.disbursement_id = (char *)d->id;
		fd.kind = d->kind;
		if (d->member != SIM_NOBODY) {
			fd.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
			fd.payee_member_id = s_refm(d->member)->id;
		} else {
			fd.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_ORG_ID;
			fd.payee_org_id = s_tw[d->tw].orgs[d->org].id;
		}
		fd.amount_fen = d->fen;
		fd.period = d->period;
		fd.source = d->source;
		fd.approval_ref = (char *)d->approval;
		fd.supplementary = d->supplementary;
		fd.paid_at = d->paid_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED;
		e->fund_disbursed = &fd;
		break;
	case SP_REVERSE:
		dr.disbursement_id = s_fd[s->ref].id;
		dr.reason = (char *)s_reversal_reasons[s->status];
		dr.reversed_at = s->at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED;
		e->disbursement_reversed = &dr;
		break;
	case SP_DUES:
		du = &s_du[s->ref];
		dp.member_id = s_refm(du->member)->id;
		dp.month = du->month;
		dp.amount_fen = du->fen;
		dp.payer_member_id = du->payer != SIM_NOBODY ? s_refm(du->payer)->id : "";
		dp.paid_at = du->paid_at;
		e->event_case = JICENG__V1__ENVELOPE__EVENT_DUES_PAID;
		e->dues_paid = &dp;
		break;
	}
	ev->buf = s_pack_envelope(e, &ev->len);
}

static void
s_pack(struct township *t, const struct spec *s, unsigned n, int64_t occurred, struct event *ev)
{
	char event_id[32];
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__OrgEstablished oe = JICENG__V1__ORG_ESTABLISHED__INIT;
	Jiceng__V1__MemberRegistered mr = JICENG__V1__MEMBER_REGISTERED__INIT;
	Jiceng__V1__MemberAdmitted ma = JICENG__V1__MEMBER_ADMITTED__INIT;
	Jiceng__V1__MemberConfirmed mc = JICENG__V1__MEMBER_CONFIRMED__INIT;
	Jiceng__V1__MemberStatusChanged ms = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	char *activity[1];
	char bad_name[32];
	snprintf(event_id, sizeof event_id, "%s-%u", t->id, n);
	e.event_id = event_id;
	e.township_id = t->id;
	e.occurred_at = occurred;
	ev->expect = s->expect;
	ev->warn = s->warn;
	ev->kind = s_kind_name(s->kind);
	ev->sk = s->kind;
	if (s->kind >= SP_ISSUE && s->kind <= SP_REVOKE) {
		s_pack_transfer(s, &e, ev);
		return;
	}
	if (s->kind >= SP_DEPART && s->kind <= SP_RETURN) {
		s_pack_mobile(s, &e, ev);
		return;
	}
	if (s->kind == SP_MEETING || s->kind == SP_APPRAISAL) {
		s_pack_meeting(s, &e, ev);
		return;
	}
	if (s->kind >= SP_BUDGET) {
		s_pack_funds(s, &e, ev);
		return;
	}
	switch (s->kind) {
	case SP_ORG: {
		struct org *o = &t->orgs[s->ref];
		oe.org_id = o->id;
		oe.kind = o->kind;
		oe.parent_id = o->parent;
		oe.name = o->name;
		oe.formation = o->formation;
		oe.approving_org_id = o->kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE ? "" : t->orgs[0].id;
		oe.established_at = o->established_at;
		oe.unit_count = o->units;
		e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
		e.org_established = &oe;
		break;
	}
	case SP_REGISTER:
		s_fill_register(&mr, &t->members[s->ref], activity);
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
		e.member_registered = &mr;
		break;
	case SP_BAD_UTF8:
		s_fill_register(&mr, &t->members[s->ref], activity);
		/* A name cut in the middle of a character, as a bad export does. */
		snprintf(bad_name, sizeof bad_name, "%.3s\xe5\x9b", t->members[s->ref].name);
		mr.name = bad_name;
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
		e.member_registered = &mr;
		break;
	case SP_ADMIT: {
		struct member *m = &t->members[s->ref];
		ma.member_id = m->id;
		ma.org_id = m->home;
		ma.name = m->name;
		ma.id_number = m->idnum;
		ma.sex = m->sex;
		ma.admitted_at = m->admitted_at;
		ma.farmer = m->farmer;
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED;
		e.member_admitted = &ma;
		break;
	}
	case SP_CONFIRM:
		mc.member_id = t->members[s->ref].id;
		mc.confirmed_at = s->at;
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED;
		e.member_confirmed = &mc;
		break;
	case SP_STATUS:
		ms.member_id = t->members[s->ref].id;
		ms.status = s->status;
		ms.effective_at = s->at;
		ms.reason = (char *)s_status_reason(s->status);
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED;
		e.member_status_changed = &ms;
		break;
	case SP_BAD_TOWNSHIP:
		/* The 9-digit township code where the 12-digit one belongs, or
		 * (ref 1) the same township number in the next county. */
		oe = (Jiceng__V1__OrgEstablished)JICENG__V1__ORG_ESTABLISHED__INIT;
		oe.org_id = t->orgs[0].id;
		oe.kind = JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
		oe.name = t->orgs[0].name;
		oe.established_at = t->orgs[0].established_at;
		e.township_id = bad_name;
		snprintf(bad_name, sizeof bad_name, s->ref ? "%s" : "%.9s", t->id);
		if (s->ref)
			bad_name[5] = bad_name[5] == '9' ? '8' : (char)(bad_name[5] + 1);
		e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
		e.org_established = &oe;
		break;
	case SP_MALFORMED:
		ev->transport = true;
		if (s->ref % 2 == 0) {
			/* A JSON line sent to the binary socket. */
			char json[128];
			int len = snprintf(json, sizeof json, "{\"event_id\":\"%s\",\"township_id\":\"%s\"}",
			    event_id, t->id);
			ev->len = (size_t)len;
			ev->buf = malloc(ev->len);
			memcpy(ev->buf, json, ev->len);
		} else {
			/* An envelope cut short in transit. */
			e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED;
			mc.member_id = t->members[0].id;
			mc.confirmed_at = s_now_ms - DAY_MS;
			e.member_confirmed = &mc;
			ev->buf = s_pack_envelope(&e, &ev->len);
			ev->len -= 3;
		}
		return;
	}
	ev->transport = s->kind == SP_BAD_UTF8 || s->kind == SP_BAD_TOWNSHIP;
	ev->buf = s_pack_envelope(&e, &ev->len);
}

/* Events not yet acknowledged, by phase; the phase being sent; events
 * sent by kind (enum spec_kind). */
static unsigned s_pending[SIM_PHASES], s_phase;
static unsigned s_sent_kind[SP_KINDS];

/* Every phase in order (transport faults in the first two); then pack. */
static void
s_finish_township(struct township *t)
{
	unsigned total = 0, k = 0;
	for (int p = 0; p < SIM_PHASES; p++)
		total += t->phase[p].n;
	t->ev = calloc(total ? total : 1, sizeof *t->ev);
	t->bad = calloc(total ? total : 1, sizeof *t->bad);
	t->retry = calloc(total ? total : 1, sizeof *t->retry);
	if (!t->ev || !t->bad || !t->retry) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	/* Entered over the last few hours, a few seconds apart. */
	int64_t occurred = s_now_ms - (int64_t)total * 3000 - 60000;
	for (int p = 0; p < SIM_PHASES; p++) {
		for (unsigned i = 0; i < t->phase[p].n; i++, k++) {
			occurred += s_range(500, 5500);
			if (occurred > s_now_ms - 1000)
				occurred = s_now_ms - 1000;
			s_pack(t, &t->phase[p].v[i], k + 1, occurred, &t->ev[k]);
			t->ev[k].phase = (uint8_t)p;
			s_sent_kind[t->ev[k].sk]++;
			s_pending[p]++;
			if (t->ev[k].transport)
				t->bad[t->nbad++] = k;
		}
		free(t->phase[p].v);
		t->phase[p].v = NULL;
	}
	t->nev = total;
}

static unsigned
s_build_county(void)
{
	unsigned total_valid = 0, total = 0;
	size_t need = (size_t)s_opt.members * 2 + 1024;
	for (s_ids_cap = 1024; s_ids_cap < need; s_ids_cap *= 2)
		;
	s_ids = calloc(s_ids_cap, sizeof *s_ids);
	s_tw = calloc(s_opt.townships, sizeof *s_tw);
	if (!s_ids || !s_tw) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	for (unsigned i = 0; i < s_opt.townships; i++) {
		struct township *t = &s_tw[i];
		const unsigned nn = sizeof s_township_names / sizeof s_township_names[0];
		snprintf(t->id, sizeof t->id, "%.6s%03u000", s_opt.county, 101 + i);
		if (i < nn)
			snprintf(t->name, sizeof t->name, "%s", s_township_names[i]);
		else
			snprintf(t->name, sizeof t->name, "第%u乡", i + 1);
		t->sample_branch = t->sample_member = -1;
		unsigned share = s_opt.members / s_opt.townships + (i < s_opt.members % s_opt.townships);
		s_build_orgs(t, share);
		for (unsigned o = 0; o < t->norgs; o++)
			s_plan_add(&t->phase[PH_ORGS], SP_ORG, (int)o, "OK");
		s_build_members(t);
		total_valid += t->phase[PH_ORGS].n + t->phase[PH_MEMBERS].n + t->phase[PH_FOLLOW].n;
	}
	unsigned nbad = (unsigned)((double)total_valid * s_opt.invalid_pct / 100.0 + 0.5);
	for (unsigned k = 0; k < nbad; k++) {
		struct township *t = &s_tw[k % s_opt.townships];
		s_add_bad(t, s_bad_cycle[k % sizeof s_bad_cycle], k);
	}
	/* After the bad events: their members are never moved. */
	if (!s_opt.no_moves)
		s_build_moves();
	if (!s_opt.no_meetings || !s_opt.no_funds)
		s_build_records();
	for (unsigned i = 0; i < s_opt.townships; i++) {
		s_finish_township(&s_tw[i]);
		total += s_tw[i].nev;
	}
	return total;
}

/* ---------------------------------------------------------------- results */

#define MAX_CODES 64

struct tally {
	char code[96];
	unsigned n;
};

static struct {
	unsigned acked, accepted, duplicates, rejected, retry_later, surprises, bad_acks;
	unsigned accepted_kind[SP_KINDS], rejected_kind[SP_KINDS];
	struct tally rejected_by[MAX_CODES], warnings_by[MAX_CODES], surprises_by[MAX_CODES];
	unsigned nrejected_by, nwarnings_by, nsurprises_by;
	int64_t *lat_ns;
	unsigned nlat;
} s_res;

static void
s_tally(struct tally *t, unsigned *n, const char *code)
{
	unsigned i;
	for (i = 0; i < *n; i++)
		if (strcmp(t[i].code, code) == 0)
			break;
	if (i == *n) {
		if (*n == MAX_CODES)
			return;
		snprintf(t[i].code, sizeof t[i].code, "%s", code);
		(*n)++;
	}
	t[i].n++;
}

static int
s_tally_cmp(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->code, y->code);
}

static int
s_i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Do the T, L, M and F warnings of an accepted ack match the one expected
 * (or none when want is NULL)? Other warnings, such as O4 when a received
 * member fills a branch, are not the simulator's to predict. */
static bool
s_warnings_match(const Ack *a, const char *want)
{
	unsigned n = 0;
	bool found = false;
	for (size_t w = 0; w < a->n_warnings; w++) {
		const char *c = a->warnings[w]->code;
		if (!c || !strchr("TLMF", c[0]) || c[1] < '0' || c[1] > '9')
			continue;
		n++;
		found = found || (want && strcmp(c, want) == 0);
	}
	return want ? n == 1 && found : n == 0;
}

static void
s_surprise(const struct township *t, unsigned i, const Ack *a)
{
	const struct event *ev = &t->ev[i];
	const char *code = a->code && *a->code ? a->code : "-";
	char warns[128] = "", key[96];
	size_t off = 0;
	for (size_t w = 0; w < a->n_warnings && off < sizeof warns; w++)
		off += (size_t)snprintf(warns + off, sizeof warns - off, "%s%s", w ? "," : " warning ",
		    a->warnings[w]->code);
	s_res.surprises++;
	snprintf(key, sizeof key, "%s: expected %s%s%s, got %s%s", ev->kind, ev->expect,
	    ev->warn ? "+" : "", ev->warn ? ev->warn : "", code, warns);
	s_tally(s_res.surprises_by, &s_res.nsurprises_by, key);
	if (s_res.surprises <= 8)
		fprintf(stderr, "sim: %s-%u (%s): expected %s%s%s, got %s %s%s: %s\n", t->id, i + 1,
		    ev->kind, ev->expect, ev->warn ? " with warning " : "", ev->warn ? ev->warn : "",
		    codec_verdict_name(a->verdict), code, warns, a->reason ? a->reason : "");
}

/* Record the ack of event i of township t. */
static void
s_settle(struct township *t, unsigned i, const Ack *a, int64_t now)
{
	struct event *ev = &t->ev[i];
	if (ev->state != EV_INFLIGHT) {
		s_res.bad_acks++;
		return;
	}
	t->inflight--;
	const char *code = a->code && *a->code ? a->code : "-";
	if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER) {
		ev->state = EV_RETRY;
		t->retry[t->nretry++] = i;
		t->retry_at_ns = now + 200000000LL;
		s_res.retry_later++;
		return;
	}
	ev->state = EV_ACKED;
	s_pending[ev->phase]--;
	s_res.acked++;
	s_res.lat_ns[s_res.nlat++] = now - ev->sent_ns;
	s_res.accepted_kind[ev->sk] += a->verdict == JICENG__V1__VERDICT__ACCEPTED;
	s_res.rejected_kind[ev->sk] += a->verdict == JICENG__V1__VERDICT__REJECTED;
	switch (a->verdict) {
	case JICENG__V1__VERDICT__ACCEPTED:
		s_res.accepted++;
		for (size_t w = 0; w < a->n_warnings; w++)
			s_tally(s_res.warnings_by, &s_res.nwarnings_by, a->warnings[w]->code);
		break;
	case JICENG__V1__VERDICT__DUPLICATE:
		s_res.duplicates++;
		break;
	default:
		s_res.rejected++;
		s_tally(s_res.rejected_by, &s_res.nrejected_by, code);
		break;
	}
	bool ok = strcmp(ev->expect, "OK") == 0;
	if (a->verdict == JICENG__V1__VERDICT__DUPLICATE)
		return;
	if (ok ? a->verdict != JICENG__V1__VERDICT__ACCEPTED || !s_warnings_match(a, ev->warn) :
	    strcmp(ev->expect, code) != 0)
		s_surprise(t, i, a);
}

/* Which event of t an ack is for: by event_id, or for a refusal that
 * carries none, the oldest transport fault still in flight. */
static int
s_match(struct township *t, const Ack *a)
{
	const char *id = a->event_id;
	size_t tl = strlen(t->id);
	if (id && *id) {
		if (strncmp(id, t->id, tl) != 0 || id[tl] != '-')
			return -1;
		char *end;
		unsigned long n = strtoul(id + tl + 1, &end, 10);
		return *end || n == 0 || n > t->nev ? -1 : (int)(n - 1);
	}
	while (t->badhead < t->nbad && t->ev[t->bad[t->badhead]].state == EV_ACKED)
		t->badhead++;
	for (unsigned k = t->badhead; k < t->nbad; k++)
		if (t->ev[t->bad[k]].state == EV_INFLIGHT)
			return (int)t->bad[k];
	return -1;
}

static void
s_receive(struct township *t)
{
	for (int k = 0; k < 4096; k++) {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, t->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			return;
		}
		int64_t now = now_mono_ns();
		Ack *a = jiceng__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
		zmq_msg_close(&msg);
		if (!a) {
			s_res.bad_acks++;
			continue;
		}
		int i = s_match(t, a);
		if (i < 0)
			s_res.bad_acks++;
		else
			s_settle(t, (unsigned)i, a, now);
		jiceng__v1__ack__free_unpacked(a, NULL);
	}
}

static bool
s_send_one(struct township *t, unsigned i)
{
	struct event *ev = &t->ev[i];
	if (zmq_send(t->sock, ev->buf, ev->len, ZMQ_DONTWAIT) < 0)
		return false;
	ev->state = EV_INFLIGHT;
	ev->sent_ns = now_mono_ns();
	t->inflight++;
	return true;
}

static void
s_send(struct township *t, int64_t now)
{
	if (t->nretry && now >= t->retry_at_ns) {
		unsigned k = 0;
		while (k < t->nretry && t->inflight < s_opt.window && s_send_one(t, t->retry[k]))
			k++;
		memmove(t->retry, t->retry + k, (t->nretry - k) * sizeof *t->retry);
		t->nretry -= k;
	}
	/* After a RETRY_LATER, hold new events until the refused ones are back in. */
	if (t->nretry)
		return;
	while (t->next < t->nev && t->ev[t->next].phase <= s_phase && t->inflight < s_opt.window &&
	    s_send_one(t, t->next))
		t->next++;
}

/* The barrier: the next phase opens once every event of this one (and so
 * of all before it) is acknowledged. */
static void
s_advance(void)
{
	while (s_phase + 1 < SIM_PHASES && s_pending[s_phase] == 0)
		s_phase++;
}

/* ---------------------------------------------------------------- main */

static void
s_usage(FILE *out, int status)
{
	fprintf(out,
	    "usage: jiceng-sim [options]\n"
	    "Feeds jicengd with a simulated county's township events (orgs, members,\n"
	    "confirmations, status changes, transfers, mobile members, then the\n"
	    "meetings, budgets, payments and dues of the last months, a few\n"
	    "deliberately invalid ones), phase by phase.\n"
	    "  --ingest EP         jicengd ingest endpoint (default tcp://127.0.0.1:7400)\n"
	    "  --townships N       townships, one DEALER each (default 6, max %d)\n"
	    "  --members N         members in the county (default 3000)\n"
	    "  --county CODE       6-digit county area code (default 320123)\n"
	    "  --seed S            random seed (default 20240701)\n"
	    "  --invalid-pct P     invalid events, percent of valid ones (default 3)\n"
	    "  --window W          unacknowledged events per township (default 128)\n"
	    "  --timeout S         give up after S seconds without an ack (default 60)\n"
	    "  --months N          months of meetings and payments, up to this one (default 12)\n"
	    "  --sample-file F     write TC=, BRANCH=, MEMBER=, TRANSFER=, FLOW=, LOST_FLOW=,\n"
	    "                      LOST_TOWNSHIP=, MEETING=, BUDGET= and DISBURSEMENT= ids\n"
	    "                      for queries to F\n"
	    "  --no-transfers      no transfers and no mobile members (an older jicengd)\n"
	    "  --no-meetings       no meetings and appraisals (jicengd without the meetings worker)\n"
	    "  --no-funds          no budgets, payments and dues (jicengd without the funds worker)\n"
	    "  --strict            exit 2 when a verdict differs from the expected one\n"
	    "  --quiet             no progress lines\n"
	    "Exit status: 0 every event was acknowledged, 1 otherwise, 2 usage (or --strict).\n",
	    SIM_MAX_TOWNSHIPS);
	exit(status);
}

static unsigned long
s_num(const char *opt, const char *v, unsigned long min, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *end || errno || *v == '-' || n < min || n > max) {
		fprintf(stderr, "jiceng-sim: bad --%s '%s' (%lu..%lu)\n", opt, v, min, max);
		exit(2);
	}
	return n;
}

static void
s_parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ingest", required_argument, NULL, 'i' },
		{ "townships", required_argument, NULL, 't' },
		{ "members", required_argument, NULL, 'm' },
		{ "county", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "invalid-pct", required_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "sample-file", required_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-transfers", no_argument, NULL, 'N' },
		{ "no-meetings", no_argument, NULL, 'G' },
		{ "no-funds", no_argument, NULL, 'F' },
		{ "months", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i': s_opt.ingest = optarg; break;
		case 't': s_opt.townships = (unsigned)s_num("townships", optarg, 1, SIM_MAX_TOWNSHIPS); break;
		case 'm': s_opt.members = (unsigned)s_num("members", optarg, 1, 10000000); break;
		case 'c':
			if (strlen(optarg) != 6 || strspn(optarg, "0123456789") != 6) {
				fprintf(stderr, "jiceng-sim: --county must be 6 digits\n");
				exit(2);
			}
			s_opt.county = optarg;
			break;
		case 's': s_opt.seed = s_num("seed", optarg, 0, (unsigned long)-1); break;
		case 'p':
			s_opt.invalid_pct = strtod(optarg, &end);
			if (*end || s_opt.invalid_pct < 0 || s_opt.invalid_pct > 50) {
				fprintf(stderr, "jiceng-sim: bad --invalid-pct '%s' (0..50)\n", optarg);
				exit(2);
			}
			break;
		case 'w': s_opt.window = (unsigned)s_num("window", optarg, 1, 100000); break;
		case 'T': s_opt.timeout_s = (unsigned)s_num("timeout", optarg, 1, 86400); break;
		case 'f': s_opt.sample_file = optarg; break;
		case 'S': s_opt.strict = true; break;
		case 'q': s_opt.quiet = true; break;
		case 'N': s_opt.no_moves = true; break;
		case 'G': s_opt.no_meetings = true; break;
		case 'F': s_opt.no_funds = true; break;
		case 'M': s_opt.months = (unsigned)s_num("months", optarg, 1, 24); break;
		case 'h': s_usage(stdout, 0); break;
		default: s_usage(stderr, 2);
		}
	}
	if (optind < argc)
		s_usage(stderr, 2);
	if (s_opt.members < s_opt.townships * 12) {
		fprintf(stderr, "jiceng-sim: --members must be at least 12 per township\n");
		exit(2);
	}
}

static void
s_write_samples(void)
{
	struct township *t = &s_tw[0];
	FILE *f = fopen(s_opt.sample_file, "w");
	if (!f) {
		fprintf(stderr, "jiceng-sim: %s: %s\n", s_opt.sample_file, strerror(errno));
		return;
	}
	fprintf(f, "TC=%s\n", t->orgs[0].id);
	if (t->sample_branch >= 0)
		fprintf(f, "BRANCH=%s\n", t->orgs[t->sample_branch].id);
	if (t->sample_member >= 0)
		fprintf(f, "MEMBER=%s\n", t->members[t->sample_member].id);
	if (s_sample_xf >= 0)
		fprintf(f, "TRANSFER=%s\n", s_xf[s_sample_xf].id);
	if (s_sample_ep >= 0)
		fprintf(f, "FLOW=%s\n", s_ep[s_sample_ep].id);
	if (s_lost_ep >= 0)
		fprintf(f, "LOST_FLOW=%s\nLOST_TOWNSHIP=%s\n", s_ep[s_lost_ep].id,
		    s_tw[s_ep[s_lost_ep].tw].id);
	if (s_sample_mt >= 0)
		fprintf(f, "MEETING=%s\n", s_mt[s_sample_mt].id);
	if (s_sample_bg >= 0)
		fprintf(f, "BUDGET=%s\n", s_bg[s_sample_bg].id);
	if (s_sample_fd >= 0)
		fprintf(f, "DISBURSEMENT=%s\n", s_fd[s_sample_fd].id);
	fclose(f);
}

static void
s_summary(unsigned total, double secs)
{
	printf("\n== 模拟结果 / simulation summary ==\n");
	printf("  county %s, %u townships, %u members planned\n", s_opt.county,
	    s_opt.townships, s_opt.members);
	if (!s_opt.no_moves) {
		printf("  transfers / 组织关系转接      %u within townships, %u across, %u out of the county, %u into it;\n"
		    "                               %u revoked, %u rejected, %u receipts returned\n",
		    s_moves.within, s_moves.across, s_moves.out, s_moves.in, s_moves.revoked,
		    s_moves.rejected, s_moves.receipts);
		printf("  mobile members / 流动党员     %u departed: %u reported in the county, %u outside it;\n"
		    "                               %u back home, %u transferred while away, %u to lose contact at the next Tick\n",
		    s_moves.departed, s_moves.hosted_in, s_moves.hosted_out, s_moves.returned,
		    s_moves.converted, s_moves.lost);
		printf("  warnings planned              T4 %u, T5 %u, T6 %u, L3 %u; bad steps %u\n",
		    s_moves.t4, s_moves.t5, s_moves.t6, s_moves.l3, s_moves.bad);
	}
	if (!s_opt.no_meetings) {
		printf("  meetings / 三会一课           %u records of %u branches (%u lagging) in %u months from %04d-%02d,\n"
		    "                               %u online: committee %u, assembly %u, lecture %u, themed day %u,\n"
		    "                               org life %u, appraisal meetings %u; %u appraisals\n",
		    s_mtg.records, s_mtg.branches, s_mtg.lagging, s_opt.months, s_month0 / 100, s_month0 % 100,
		    s_mtg.online, s_mtg.by_type[MT_COMMITTEE], s_mtg.by_type[MT_ASSEMBLY],
		    s_mtg.by_type[MT_LECTURE], s_mtg.by_type[MT_THEMED], s_mtg.by_type[MT_ORG_LIFE],
		    s_mtg.by_type[MT_APPRAISAL], s_mtg.appraisals);
		printf("  warnings planned              M2 %u (assemblies inquorate), M3 %u; bad records %u\n",
		    s_mtg.m2, s_mtg.m3, s_mtg.bad);
	}
	if (!s_opt.no_funds) {
		printf("  funds / 经费                  %u budgets; paid: base pay %u, performance pay %u, activity funds %u,\n"
		    "                               condolences to members in hardship %u, to veterans %u (%u with the\n"
		    "                               committee's decision); %u reversed and paid again\n",
		    s_fun.budgets, s_fun.paid[FK_BASE], s_fun.paid[FK_PERFORMANCE], s_fun.paid[FK_ACTIVITY],
		    s_fun.paid[FK_HARDSHIP], s_fun.paid[FK_VETERAN], s_fun.approved, s_fun.reversed);
		printf("  dues / 党费                   %u payments, %u by proxy, %u members paying ahead, %u in arrears\n",
		    s_fun.dues, s_fun.proxy, s_fun.ahead, s_fun.arrears);
		printf("  warnings planned              F6 %u, F7 %u; bad payments %u\n", s_fun.f6, s_fun.f7,
		    s_fun.bad);
	}
	printf("  events sent / 已发送          %u\n", total);
	printf("  acknowledged / 已应答         %u in %.2f s, %.0f events/s\n", s_res.acked, secs,
	    secs > 0 ? s_res.acked / secs : 0.0);
	printf("  accepted / 已接受             %u\n", s_res.accepted);
	qsort(s_res.warnings_by, s_res.nwarnings_by, sizeof *s_res.warnings_by, s_tally_cmp);
	for (unsigned i = 0; i < s_res.nwarnings_by; i++)
		printf("    with warning %-14s %u\n", s_res.warnings_by[i].code, s_res.warnings_by[i].n);
	printf("  duplicates / 重复             %u\n", s_res.duplicates);
	printf("  rejected / 已拒绝             %u\n", s_res.rejected);
	qsort(s_res.rejected_by, s_res.nrejected_by, sizeof *s_res.rejected_by, s_tally_cmp);
	for (unsigned i = 0; i < s_res.nrejected_by; i++)
		printf("    %-28s %u\n", s_res.rejected_by[i].code, s_res.rejected_by[i].n);
	printf("  by kind / 按类型                 sent  accepted  rejected\n");
	for (uint8_t k = 0; k < SP_KINDS; k++)
		if (s_sent_kind[k])
			printf("    %-26s %7u %9u %9u\n", s_kind_name(k), s_sent_kind[k], s_res.accepted_kind[k],
			    s_res.rejected_kind[k]);
	if (s_res.retry_later)
		printf("  RETRY_LATER answers (resent)  %u\n", s_res.retry_later);
	if (s_res.nlat) {
		qsort(s_res.lat_ns, s_res.nlat, sizeof *s_res.lat_ns, s_i64_cmp);
		double p50 = (double)s_res.lat_ns[s_res.nlat / 2] / 1e6;
		double p99 = (double)s_res.lat_ns[(size_t)((double)(s_res.nlat - 1) * 0.99)] / 1e6;
		printf("  ack latency / 应答延迟        p50 %.1f ms, p99 %.1f ms\n", p50, p99);
	}
	printf("  verdicts as planned / 符合预期 %u of %u%s\n", s_res.acked - s_res.surprises,
	    s_res.acked, s_res.surprises ? " (see the stderr lines above)" : "");
	qsort(s_res.surprises_by, s_res.nsurprises_by, sizeof *s_res.surprises_by, s_tally_cmp);
	for (unsigned i = 0; i < s_res.nsurprises_by; i++)
		printf("    surprise %-60s %u\n", s_res.surprises_by[i].code, s_res.surprises_by[i].n);
	if (s_res.bad_acks)
		printf("  unmatched or undecodable acks %u\n", s_res.bad_acks);
	for (unsigned i = 0; i < s_res.nrejected_by; i++)
		if (strcmp(s_res.rejected_by[i].code, "ID_REUSED") == 0)
			printf("  note: ID_REUSED means this jicengd already journaled other events under\n"
			    "  these event_ids (an earlier run?): use a fresh data dir or another --county.\n");
	if (s_res.acked < total)
		printf("  NOT ACKNOWLEDGED / 未应答     %u\n", total - s_res.acked);
}

int
main(int argc, char **argv)
{
	s_parse_args(argc, argv);
	s_rng = s_opt.seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (!s_rng)
		s_rng = 1;
	s_now_ms = now_wall_ms();
	s_today = s_now_ms / DAY_MS;

	unsigned total = s_build_county();
	s_res.lat_ns = calloc(total ? total : 1, sizeof *s_res.lat_ns);
	if (!s_res.lat_ns)
		return 1;
	if (s_opt.sample_file)
		s_write_samples();
	if (!s_opt.quiet) {
		unsigned norgs = 0;
		for (unsigned i = 0; i < s_opt.townships; i++)
			norgs += s_tw[i].norgs;
		fprintf(stderr, "sim: county %s: %u townships, %u organisations, %u events to send to %s\n",
		    s_opt.county, s_opt.townships, norgs, total, s_opt.ingest);
	}

	void *ctx = zmq_ctx_new();
	zmq_pollitem_t *items = calloc(s_opt.townships, sizeof *items);
	if (!ctx || !items)
		return 1;
	for (unsigned i = 0; i < s_opt.townships; i++) {
		int linger = 0, hwm = 100000;
		s_tw[i].sock = zmq_socket(ctx, ZMQ_DEALER);
		zmq_setsockopt(s_tw[i].sock, ZMQ_LINGER, &linger, sizeof linger);
		zmq_setsockopt(s_tw[i].sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
		zmq_setsockopt(s_tw[i].sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
		if (zmq_connect(s_tw[i].sock, s_opt.ingest) < 0) {
			fprintf(stderr, "jiceng-sim: cannot connect to %s: %s\n", s_opt.ingest,
			    zmq_strerror(zmq_errno()));
			return 1;
		}
		items[i].socket = s_tw[i].sock;
		items[i].events = ZMQ_POLLIN;
	}

	int64_t start = now_mono_ns(), last_ack = start, last_progress = start;
	unsigned acked_at_progress = 0;
	while (s_res.acked < total) {
		int64_t now = now_mono_ns();
		s_advance();
		for (unsigned i = 0; i < s_opt.townships; i++)
			s_send(&s_tw[i], now);
		if (zmq_poll(items, (int)s_opt.townships, 100) < 0 && zmq_errno() != EINTR)
			break;
		unsigned before = s_res.acked + s_res.retry_later;
		for (unsigned i = 0; i < s_opt.townships; i++)
			if (items[i].revents & ZMQ_POLLIN)
				s_receive(&s_tw[i]);
		now = now_mono_ns();
		if (s_res.acked + s_res.retry_later != before)
			last_ack = now;
		if (now - last_ack > (int64_t)s_opt.timeout_s * 1000000000LL) {
			fprintf(stderr, "jiceng-sim: no ack for %u s from %s; giving up\n",
			    s_opt.timeout_s, s_opt.ingest);
			break;
		}
		if (!s_opt.quiet && now - last_progress >= 1000000000LL) {
			double dt = (double)(now - last_progress) / 1e9;
			fprintf(stderr, "sim: %u/%u events, phase %u/%u, %.0f ev/s, accepted %u, rejected %u\n",
			    s_res.acked, total, s_phase + 1, SIM_PHASES, (s_res.acked - acked_at_progress) / dt,
			    s_res.accepted, s_res.rejected);
			last_progress = now;
			acked_at_progress = s_res.acked;
		}
	}
	double secs = (double)(now_mono_ns() - start) / 1e9;
	if (!s_opt.quiet)
		fprintf(stderr, "sim: %u/%u events, %.0f ev/s overall, accepted %u, rejected %u\n",
		    s_res.acked, total, secs > 0 ? s_res.acked / secs : 0.0, s_res.accepted, s_res.rejected);
	s_summary(total, secs);

	for (unsigned i = 0; i < s_opt.townships; i++) {
		zmq_close(s_tw[i].sock);
		for (unsigned k = 0; k < s_tw[i].nev; k++)
			free(s_tw[i].ev[k].buf);
		free(s_tw[i].ev);
		free(s_tw[i].bad);
		free(s_tw[i].retry);
		free(s_tw[i].orgs);
		free(s_tw[i].members);
		free(s_tw[i].okeys);
		free(s_tw[i].pool);
		free(s_tw[i].pool_at);
		free(s_tw[i].guests);
		free(s_tw[i].guest_at);
	}
	for (unsigned i = 0; i < s_nmt; i++) {
		free(s_mt[i].att);
		free(s_mt[i].abs);
		free(s_mt[i].why);
	}
	for (unsigned i = 0; i < s_nap; i++) {
		free(s_ap[i].who);
		free(s_ap[i].grade);
	}
	free(s_mt);
	free(s_ap);
	free(s_bg);
	free(s_fd);
	free(s_du);
	free(s_lines);
	free(s_xf);
	free(s_ep);
	zmq_ctx_term(ctx);
	free(items);
	free(s_tw);
	free(s_ids);
	free(s_res.lat_ns);
	if (s_res.acked < total)
		return 1;
	return s_opt.strict && s_res.surprises ? 2 : 0;
}
