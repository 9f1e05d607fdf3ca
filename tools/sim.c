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
 * Order: a township's events are sent organisations first, then members,
 * then follow-ups (confirmations, status changes). One DEALER connection is
 * journaled in send order, so no event waits for another's ack.
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
};

enum spec_kind {
	SP_ORG, SP_REGISTER, SP_ADMIT, SP_CONFIRM, SP_STATUS,
	SP_MALFORMED, SP_BAD_UTF8, SP_BAD_TOWNSHIP,
};

/* One planned event, before packing. */
struct spec {
	uint8_t kind;            /* enum spec_kind */
	int ref;                 /* org or member index */
	int status;              /* MemberStatusChanged: the new status */
	int64_t at;              /* confirmed_at / effective_at */
	const char *expect;      /* the code the sim expects in the ack */
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
	const char *kind;        /* for surprise reports */
	int64_t sent_ns;
	uint8_t state;           /* EV_UNSENT ... */
	bool transport;          /* refused before decoding: the ack has no event_id */
};

enum { EV_UNSENT, EV_INFLIGHT, EV_ACKED, EV_RETRY };

struct township {
	char id[16];
	char name[32];
	void *sock;
	struct org *orgs;
	unsigned norgs, corgs;
	struct member *members;
	unsigned nmembers, cmembers;
	struct plan phase[3];    /* orgs, members, follow-ups */
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
s_fill_registered(struct member *m, bool probationary)
{
	bool male = s_chance(72);
	int64_t adm, birth;
	do {
		adm = probationary ? s_today - s_range(30, 330) : s_today - s_range(800, 365 * 50);
		birth = adm - s_range(19 * 365 + 10, 40 * 365);
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
	struct plan *mp = &t->phase[1], *fp = &t->phase[2];
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
				}
				continue;
			}
			s_fill_registered(m, roll < 12);
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
	struct plan *op = &t->phase[0], *mp = &t->phase[1], *fp = &t->phase[2];
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
	ev->kind = s_kind_name(s->kind);
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

/* Orgs, members, follow-ups; transport faults anywhere; then pack. */
static void
s_finish_township(struct township *t)
{
	unsigned total = t->phase[0].n + t->phase[1].n + t->phase[2].n, k = 0;
	t->ev = calloc(total ? total : 1, sizeof *t->ev);
	t->bad = calloc(total ? total : 1, sizeof *t->bad);
	t->retry = calloc(total ? total : 1, sizeof *t->retry);
	if (!t->ev || !t->bad || !t->retry) {
		fprintf(stderr, "sim: out of memory\n");
		exit(1);
	}
	/* Entered over the last few hours, a few seconds apart. */
	int64_t occurred = s_now_ms - (int64_t)total * 3000 - 60000;
	for (int p = 0; p < 3; p++) {
		for (unsigned i = 0; i < t->phase[p].n; i++, k++) {
			occurred += s_range(500, 5500);
			if (occurred > s_now_ms - 1000)
				occurred = s_now_ms - 1000;
			s_pack(t, &t->phase[p].v[i], k + 1, occurred, &t->ev[k]);
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
			s_plan_add(&t->phase[0], SP_ORG, (int)o, "OK");
		s_build_members(t);
		total_valid += t->phase[0].n + t->phase[1].n + t->phase[2].n;
	}
	unsigned nbad = (unsigned)((double)total_valid * s_opt.invalid_pct / 100.0 + 0.5);
	for (unsigned k = 0; k < nbad; k++) {
		struct township *t = &s_tw[k % s_opt.townships];
		s_add_bad(t, s_bad_cycle[k % sizeof s_bad_cycle], k);
	}
	for (unsigned i = 0; i < s_opt.townships; i++) {
		s_finish_township(&s_tw[i]);
		total += s_tw[i].nev;
	}
	return total;
}

/* ---------------------------------------------------------------- results */

#define MAX_CODES 64

struct tally {
	char code[32];
	unsigned n;
};

static struct {
	unsigned acked, accepted, duplicates, rejected, retry_later, surprises, bad_acks;
	struct tally rejected_by[MAX_CODES], warnings_by[MAX_CODES];
	unsigned nrejected_by, nwarnings_by;
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

static void
s_surprise(const struct township *t, unsigned i, const Ack *a)
{
	s_res.surprises++;
	if (s_res.surprises <= 8)
		fprintf(stderr, "sim: %s-%u (%s): expected %s, got %s %s: %s\n", t->id, i + 1,
		    t->ev[i].kind, t->ev[i].expect, codec_verdict_name(a->verdict),
		    a->code && *a->code ? a->code : "-", a->reason ? a->reason : "");
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
	s_res.acked++;
	s_res.lat_ns[s_res.nlat++] = now - ev->sent_ns;
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
	if (ok ? a->verdict != JICENG__V1__VERDICT__ACCEPTED : strcmp(ev->expect, code) != 0)
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
	while (t->next < t->nev && t->inflight < s_opt.window && s_send_one(t, t->next))
		t->next++;
}

/* ---------------------------------------------------------------- main */

static void
s_usage(FILE *out, int status)
{
	fprintf(out,
	    "usage: jiceng-sim [options]\n"
	    "Feeds jicengd with a simulated county's township events (orgs, members,\n"
	    "confirmations, status changes, a few deliberately invalid ones).\n"
	    "  --ingest EP         jicengd ingest endpoint (default tcp://127.0.0.1:7400)\n"
	    "  --townships N       townships, one DEALER each (default 6, max %d)\n"
	    "  --members N         members in the county (default 3000)\n"
	    "  --county CODE       6-digit county area code (default 320123)\n"
	    "  --seed S            random seed (default 20240701)\n"
	    "  --invalid-pct P     invalid events, percent of valid ones (default 3)\n"
	    "  --window W          unacknowledged events per township (default 128)\n"
	    "  --timeout S         give up after S seconds without an ack (default 60)\n"
	    "  --sample-file F     write TC=, BRANCH=, MEMBER= ids for queries to F\n"
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
	fclose(f);
}

static void
s_summary(unsigned total, double secs)
{
	printf("\n== 模拟结果 / simulation summary ==\n");
	printf("  county %s, %u townships, %u members planned\n", s_opt.county,
	    s_opt.townships, s_opt.members);
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
			fprintf(stderr, "sim: %u/%u events, %.0f ev/s, accepted %u, rejected %u\n",
			    s_res.acked, total, (s_res.acked - acked_at_progress) / dt,
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
	}
	zmq_ctx_term(ctx);
	free(items);
	free(s_tw);
	free(s_ids);
	free(s_res.lat_ns);
	if (s_res.acked < total)
		return 1;
	return s_opt.strict && s_res.surprises ? 2 : 0;
}
