/*
 * Unit tests of the organisation rules (workers/orgs.c): O1-O6 as they
 * concern orgs, ORG_EXISTS, ORG_NOT_EMPTY, WRONG_TOWNSHIP, the O3 audit at
 * Tick, the O4 audit at a RulesChanged that moves its limits, RulesChanged,
 * the dispatch of events membership does not handle, the org view and the
 * audit table's pages. Each runs against a real LMDB environment in a
 * temporary directory; every event is applied as the fold does it (commit
 * when accepted, abort otherwise).
 */
#include "unit.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "membership_fx.h"

static struct verdict
s_dissolve(struct fx *f, const char *id, const char *approving)
{
	Jiceng__V1__OrgDissolved e = JICENG__V1__ORG_DISSOLVED__INIT;
	e.org_id = (char *)id;
	e.approving_org_id = (char *)(approving ? approving : "");
	e.reason = "合并";
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &e);
}

static struct verdict
s_move(struct fx *f, const char *id, const char *parent)
{
	Jiceng__V1__OrgUpdated e = JICENG__V1__ORG_UPDATED__INIT;
	e.org_id = (char *)id;
	e.parent_id = (char *)parent;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED, &e);
}

/* township committee T, village committee V under it, branch B under V. */
static void
s_tree(struct fx *f)
{
	fx_tree(f, "T", "V", "B");
}

static unsigned
s_audit_count(struct fx *f, const char *rule)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, d;
	unsigned n = 0;
	txn = fx_read(f);
	assert_int_equal(mdb_dbi_open(txn, "membership_audit", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
	while (mdb_cursor_get(c, &k, &d, n ? MDB_NEXT : MDB_FIRST) == 0) {
		const uint8_t *p = d.mv_data;
		size_t lo = (size_t)p[1] << 8 | p[2];
		size_t lr = (size_t)p[3 + lo] << 8 | p[4 + lo];
		assert_int_equal(k.mv_size, 12);
		if (lr == strlen(rule) && memcmp(p + 5 + lo, rule, lr) == 0)
			n++;
		else
			n += 0x10000;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return n;
}

/* ---------------------------------------------------------- O1 */

static void
test_o1_ranks(void **state)
{
	struct fx *f = *state;
	REJECTED(fx_org(f, "T0", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, "X", NULL), "O1");
	s_tree(f);
	ACCEPTED(fx_org(f, "G", JICENG__V1__ORG_KIND__GENERAL_BRANCH, "V", "T"));
	ACCEPTED(fx_org(f, "GB", JICENG__V1__ORG_KIND__BRANCH, "G", "T"));
	ACCEPTED(fx_org(f, "P", JICENG__V1__ORG_KIND__PARTY_GROUP, "B", "T"));
	ACCEPTED(fx_org(f, "J", JICENG__V1__ORG_KIND__JOINT_BRANCH, "T", "T"));
	ACCEPTED(fx_org(f, "PJ", JICENG__V1__ORG_KIND__PARTY_GROUP, "J", "T"));
	REJECTED(fx_org(f, "P2", JICENG__V1__ORG_KIND__PARTY_GROUP, "V", "T"), "O1");
	REJECTED(fx_org(f, "P3", JICENG__V1__ORG_KIND__PARTY_GROUP, "G", "T"), "O1");
	REJECTED(fx_org(f, "V2", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, "B", "T"), "O1");
	REJECTED(fx_org(f, "G2", JICENG__V1__ORG_KIND__GENERAL_BRANCH, "G", "T"), "O1");
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "B", "T"), "O1");
	REJECTED(fx_org(f, "B3", JICENG__V1__ORG_KIND__BRANCH, NULL, "T"), "O1");
	REJECTED(fx_org(f, "B4", JICENG__V1__ORG_KIND__BRANCH, "P", "T"), "O1");
	REJECTED(fx_org(f, "K", JICENG__V1__ORG_KIND__ORG_KIND_UNSPECIFIED, "T", "T"), "BAD_FIELD");
	REJECTED(fx_org(f, "B5", JICENG__V1__ORG_KIND__BRANCH, "nobody", "T"), "UNKNOWN_ORG");
}

static void
test_o1_update_parent(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgView view = JICENG__V1__ORG_VIEW__INIT;
	MDB_txn *txn;
	s_tree(f);
	ACCEPTED(fx_org(f, "V2", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, "T", "T"));
	ACCEPTED(fx_org(f, "P", JICENG__V1__ORG_KIND__PARTY_GROUP, "B", "T"));
	ACCEPTED(s_move(f, "B", "V2"));
	REJECTED(s_move(f, "V", "B"), "O1");          /* village under a branch */
	REJECTED(s_move(f, "B", "B"), "O1");          /* its own parent */
	REJECTED(s_move(f, "P", "V"), "O1");          /* group under a committee */
	REJECTED(s_move(f, "T", "V"), "O1");          /* the top moves nowhere */
	REJECTED(s_move(f, "B", "nobody"), "UNKNOWN_ORG");

	txn = fx_read(f);
	assert_int_equal(membership_get_org(f->m, txn, "V2", &view), 0);
	assert_string_equal(view.parent_id, "T");
	assert_int_equal(view.n_children, 1);
	assert_string_equal(view.children[0]->org_id, "B");
	membership_free_org_view(&view);
	assert_int_equal(membership_get_org(f->m, txn, "V", &view), 0);
	assert_int_equal(view.n_children, 0);
	membership_free_org_view(&view);
	assert_int_equal(membership_get_org(f->m, txn, "B", &view), 0);
	assert_string_equal(view.parent_id, "V2");
	membership_free_org_view(&view);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- O2 */

static void
test_o2_approval(void **state)
{
	struct fx *f = *state;
	s_tree(f);
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", NULL), "O2");
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "V"), "O2");
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "nobody"), "O2");
	REJECTED(fx_org(f, "V2", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, "T", NULL), "O2");
	/* A dissolved township committee approves nothing. */
	ACCEPTED(fx_org(f, "TX", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	ACCEPTED(s_dissolve(f, "TX", NULL));
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "TX"), "O2");
	/* Nor does another township's committee. */
	f->township = TS2;
	ACCEPTED(fx_org(f, "T2", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	f->township = TS1;
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T2"), "O2");
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	/* Dissolution needs approval too. */
	REJECTED(s_dissolve(f, "B2", NULL), "O2");
	REJECTED(s_dissolve(f, "B2", "V"), "O2");
	ACCEPTED(s_dissolve(f, "B2", "T"));
}

/* ---------------------------------------------------------- O3 */

static void
test_o3_tick_audit(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgEstablished e = JICENG__V1__ORG_ESTABLISHED__INIT;
	struct verdict v;
	int64_t founded;

	s_tree(f);                                      /* B: 2 full members */
	founded = f->now;
	ACCEPTED(fx_org(f, "B3", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));   /* 3 full */
	ACCEPTED(fx_org(f, "BP", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));   /* 3, one probationary */
	e.org_id = "J4";
	e.kind = JICENG__V1__ORG_KIND__JOINT_BRANCH;
	e.parent_id = "T";
	e.name = "联合党支部";
	e.approving_org_id = "T";
	e.established_at = f->now;
	e.unit_count = 4;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
	e.org_id = "J6";
	e.unit_count = 6;
	v = fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e);
	assert_true(v.accepted);
	assert_int_equal(v.nwarnings, 1);
	assert_string_equal(v.warnings[0].code, "O3");
	ACCEPTED(fx_org(f, "TB", JICENG__V1__ORG_KIND__TEMPORARY_BRANCH, "V", "T"));
	ACCEPTED(fx_register(f, "m1", "B", JICENG__V1__MEMBER_CATEGORY__FULL));
	ACCEPTED(fx_register(f, "m2", "B", JICENG__V1__MEMBER_CATEGORY__FULL));
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof id, "b3-%d", i);
		ACCEPTED(fx_register(f, id, "B3", JICENG__V1__MEMBER_CATEGORY__FULL));
		snprintf(id, sizeof id, "bp-%d", i);
		ACCEPTED(fx_register(f, id, "BP", i ? JICENG__V1__MEMBER_CATEGORY__FULL :
		    JICENG__V1__MEMBER_CATEGORY__PROBATIONARY));
	}

	f->now = founded + 89 * DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "O3"), 0);
	f->now = founded + 90 * DAY;
	ACCEPTED(fx_tick(f));
	/* B (2 full) and BP (2 full + 1 probationary) and J6 (6 units, none);
	 * not B3, not J4 (≤ 5 units), not the temporary branch. */
	assert_int_equal(s_audit_count(f, "O3"), 3);
	f->now += 3600 * 1000;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "O3"), 3);    /* checked once */
}

static void
test_o3_grace_from_entry(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgEstablished e = JICENG__V1__ORG_ESTABLISHED__INIT;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	s_tree(f);
	/* An old branch entering the system gets the grace period from now. */
	e.org_id = "OLD";
	e.kind = JICENG__V1__ORG_KIND__BRANCH;
	e.parent_id = "V";
	e.name = "老支部";
	e.approving_org_id = "T";
	e.established_at = fx_cst(1998, 5, 1, 0, 0);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
	f->now += DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "O3"), 0);
	/* The grace period is a setting. */
	r.org_min_full_members_days = 1;
	ACCEPTED(fx_rules(f, &r));
	assert_int_equal(f->rules.org_min_full_members_days, 1);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "O3"), 2);    /* B and OLD */
}

/* ---------------------------------------------------------- O4 */

static void
test_o4_limits(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	struct verdict v;
	char id[16];

	r.org_branch_max_members = 3;
	r.org_village_committee_members = 5;
	ACCEPTED(fx_rules(f, &r));
	s_tree(f);
	ACCEPTED(fx_org(f, "VB", JICENG__V1__ORG_KIND__BRANCH, "T", "T"));   /* village level */
	for (int i = 1; i <= 6; i++) {
		snprintf(id, sizeof id, "b%d", i);
		v = fx_register(f, id, "B", JICENG__V1__MEMBER_CATEGORY__FULL);
		assert_true(v.accepted);
		/* Warned on the 4th (crossing > 3), not after. */
		assert_int_equal(v.nwarnings, i == 4);
		if (v.nwarnings)
			assert_string_equal(v.warnings[0].code, "O4");
	}
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof id, "vb%d", i);
		v = fx_register(f, id, "VB", JICENG__V1__MEMBER_CATEGORY__FULL);
		assert_true(v.accepted);
		/* 4th: a village branch over 3 wants a general branch;
		 * 5th: a village org at 5 wants a committee. */
		assert_int_equal(v.nwarnings, i >= 4);
		if (v.nwarnings)
			assert_string_equal(v.warnings[0].code, "O4");
	}
}

static struct verdict
s_rules(struct fx *f, uint32_t branch_max, uint32_t committee, uint32_t age)
{
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	r.org_branch_max_members = branch_max;
	r.org_village_committee_members = committee;
	r.member_min_admission_age = age;
	return fx_rules(f, &r);
}

/* The whole audit table (every township), through the query server's call. */
static void
s_audit(struct fx *f, Jiceng__V1__AuditList *l)
{
	MDB_txn *txn;
	jiceng__v1__audit_list__init(l);
	txn = fx_read(f);
	assert_int_equal(membership_list_audit(f->m, txn, "", 0, 0, 1000, l), 0);
	mdb_txn_abort(txn);
}

/* n FULL members of home, ids PREFIX-i. */
static void
s_members(struct fx *f, const char *prefix, const char *home, int n)
{
	char id[32];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%d", prefix, i);
		ACCEPTED(fx_register(f, id, home, JICENG__V1__MEMBER_CATEGORY__FULL));
	}
}

static void
s_expect_entry(const Jiceng__V1__AuditEntry *e, uint64_t seq, const char *org_id,
    const char *text)
{
	assert_int_equal(e->seq, seq);
	assert_string_equal(e->org_id, org_id);
	assert_string_equal(e->township_id, TS1);
	assert_string_equal(e->code, "O4");
	if (!strstr(e->text, text) || !strstr(e->text, " / "))
		fail_msg("%s: %s", org_id, e->text);
}

/* A RulesChanged that lowers org.branch_max_members below a branch's
 * members writes one O4 entry for it (the member path never warns: no
 * member crossed the limit); the same rules again, a change of another
 * setting, or a higher limit write nothing. */
static void
test_o4_rules_changed_branch(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__AuditList l;
	struct verdict v;
	uint64_t seq;

	s_tree(f);
	s_members(f, "b", "B", 5);
	ACCEPTED(s_rules(f, 50, 0, 0));           /* the defaults: no change */
	s_audit(f, &l);
	assert_int_equal(l.n_entries, 0);
	membership_free_audit_list(&l);

	ACCEPTED(s_rules(f, 4, 0, 0));
	seq = f->seq;
	s_audit(f, &l);
	assert_int_equal(l.n_entries, 1);
	s_expect_entry(l.entries[0], seq, "B", "党支部党员超过4人 / branch has more than 4 members: B");
	assert_int_equal(l.entries[0]->index, 0);
	membership_free_audit_list(&l);
	assert_int_equal(s_audit_count(f, "O4"), 1);

	ACCEPTED(s_rules(f, 4, 0, 0));            /* a restart journals it again */
	ACCEPTED(s_rules(f, 4, 0, 20));           /* another setting */
	ACCEPTED(s_rules(f, 5, 0, 20));           /* raised to the count: not over */
	ACCEPTED(s_rules(f, 10, 0, 20));
	assert_int_equal(s_audit_count(f, "O4"), 1);
	/* The member path still warns, in the ack, on crossing the new limit. */
	s_members(f, "c", "B", 5);
	v = fx_register(f, "c-5", "B", JICENG__V1__MEMBER_CATEGORY__FULL);
	assert_true(v.accepted);
	assert_int_equal(v.nwarnings, 1);
	assert_string_equal(v.warnings[0].reason,
	    "党支部党员超过10人 / branch has more than 10 members: B");
	assert_int_equal(s_audit_count(f, "O4"), 1);
}

/* The village committee threshold: village-level orgs below a 党委 at or
 * over it, by subtree; a village committee itself and orgs below village
 * level are not. An org over both limits has an entry
 * for each, worded as the member path words its warnings. */
static void
test_o4_rules_changed_committee(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__AuditList l;
	uint64_t seq;

	s_tree(f);                                              /* T, V, B */
	ACCEPTED(fx_org(f, "GB", JICENG__V1__ORG_KIND__GENERAL_BRANCH, "T", "T"));
	ACCEPTED(fx_org(f, "GBB", JICENG__V1__ORG_KIND__BRANCH, "GB", "T"));
	ACCEPTED(fx_org(f, "VB", JICENG__V1__ORG_KIND__BRANCH, "T", "T"));
	s_members(f, "b", "B", 6);          /* V: 6 in its subtree, a committee */
	s_members(f, "g", "GBB", 5);        /* GB: 5 in its subtree */
	s_members(f, "v", "VB", 6);

	ACCEPTED(s_rules(f, 0, 5, 0));
	seq = f->seq;
	s_audit(f, &l);
	assert_int_equal(l.n_entries, 2);                       /* org_id order */
	s_expect_entry(l.entries[0], seq, "GB", "村级党组织党员达到5人，应设党委 / "
	    "village org has 5 members or more; a Party committee is due: GB");
	s_expect_entry(l.entries[1], seq, "VB", "a Party committee is due: VB");
	assert_int_equal(l.entries[1]->index, 1);
	membership_free_audit_list(&l);

	ACCEPTED(s_rules(f, 0, 5, 0));
	ACCEPTED(s_rules(f, 50, 5, 0));           /* 50 is the default */
	ACCEPTED(s_rules(f, 0, 7, 0));
	assert_int_equal(s_audit_count(f, "O4"), 2);

	ACCEPTED(s_rules(f, 4, 6, 0));
	seq = f->seq;
	s_audit(f, &l);
	assert_int_equal(l.n_entries, 2 + 4);
	s_expect_entry(l.entries[2], seq, "B", "branch has more than 4 members: B");
	s_expect_entry(l.entries[3], seq, "GBB", "branch has more than 4 members: GBB");
	s_expect_entry(l.entries[4], seq, "VB", "村级党支部党员超过4人，应设党总支 / "
	    "village branch has more than 4 members; a general branch is due: VB");
	s_expect_entry(l.entries[5], seq, "VB", "village org has 6 members or more");
	membership_free_audit_list(&l);
}

/* Paging and the township filter of membership_list_audit. */
static void
test_audit_list_pages(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__AuditList l;
	MDB_txn *txn;
	uint64_t seq;

	s_tree(f);
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(fx_org(f, "B3", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	f->township = TS2;
	ACCEPTED(fx_org(f, "U", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	ACCEPTED(fx_org(f, "UB", JICENG__V1__ORG_KIND__BRANCH, "U", "U"));
	s_members(f, "u", "UB", 4);
	f->township = TS1;
	s_members(f, "a", "B", 4);
	s_members(f, "b", "B2", 4);
	s_members(f, "c", "B3", 4);
	ACCEPTED(s_rules(f, 3, 0, 0));            /* B, B2, B3, UB */
	seq = f->seq;

	txn = fx_read(f);
	jiceng__v1__audit_list__init(&l);
	assert_int_equal(membership_list_audit(f->m, txn, TS1, 0, 0, 2, &l), 0);
	assert_int_equal(l.n_entries, 2);
	assert_string_equal(l.entries[0]->org_id, "B");
	assert_string_equal(l.entries[1]->org_id, "B2");
	assert_int_equal(l.next_seq, seq);
	assert_int_equal(l.next_index, 2);
	membership_free_audit_list(&l);
	assert_int_equal(membership_list_audit(f->m, txn, TS1, seq, 2, 2, &l), 0);
	assert_int_equal(l.n_entries, 1);           /* B3; UB is TS2's */
	assert_string_equal(l.entries[0]->org_id, "B3");
	assert_int_equal(l.next_seq, 0);
	membership_free_audit_list(&l);
	assert_int_equal(membership_list_audit(f->m, txn, TS2, 0, 0, 0, &l), 0);
	assert_int_equal(l.n_entries, 1);
	assert_string_equal(l.entries[0]->org_id, "UB");
	assert_string_equal(l.entries[0]->township_id, TS2);
	membership_free_audit_list(&l);
	assert_int_equal(membership_list_audit(f->m, txn, "", seq + 1, 0, 0, &l), 0);
	assert_int_equal(l.n_entries, 0);
	membership_free_audit_list(&l);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- O5, O6 */

static void
test_o5_temporary_branch(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	s_tree(f);
	ACCEPTED(fx_org(f, "TB", JICENG__V1__ORG_KIND__TEMPORARY_BRANCH, "V", "T"));
	a.member_id = "new";
	a.org_id = "TB";
	a.name = "李四";
	a.admitted_at = f->now;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a), "O5");
	REJECTED(fx_register(f, "m", "TB", JICENG__V1__MEMBER_CATEGORY__FULL), "O5");
	a.org_id = "B";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a));
}

static void
test_o6_unknown_and_dissolved(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberConfirmed c = JICENG__V1__MEMBER_CONFIRMED__INIT;
	s_tree(f);
	REJECTED(s_move(f, "nobody", "V"), "UNKNOWN_ORG");
	REJECTED(s_dissolve(f, "nobody", "T"), "UNKNOWN_ORG");
	REJECTED(fx_register(f, "m", "nobody", JICENG__V1__MEMBER_CATEGORY__FULL), "UNKNOWN_ORG");
	c.member_id = "nobody";
	c.confirmed_at = f->now;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED, &c), "UNKNOWN_MEMBER");
	ACCEPTED(s_dissolve(f, "B", "T"));
	REJECTED(s_dissolve(f, "B", "T"), "ORG_DISSOLVED");
	REJECTED(s_move(f, "B", "T"), "ORG_DISSOLVED");
	REJECTED(fx_register(f, "m", "B", JICENG__V1__MEMBER_CATEGORY__FULL), "ORG_DISSOLVED");
	REJECTED(fx_org(f, "P", JICENG__V1__ORG_KIND__PARTY_GROUP, "B", "T"), "ORG_DISSOLVED");
	REJECTED(fx_org(f, "B", JICENG__V1__ORG_KIND__BRANCH, "V", "T"), "ORG_EXISTS");
}

/* O5 judges a Party group by the branch it belongs to. */
static void
test_o5_party_group(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	const int full = JICENG__V1__MEMBER_CATEGORY__FULL;
	s_tree(f);
	ACCEPTED(fx_org(f, "TB", JICENG__V1__ORG_KIND__TEMPORARY_BRANCH, "V", "T"));
	ACCEPTED(fx_org(f, "TG", JICENG__V1__ORG_KIND__PARTY_GROUP, "TB", "T"));
	ACCEPTED(fx_org(f, "G", JICENG__V1__ORG_KIND__PARTY_GROUP, "B", "T"));
	ACCEPTED(fx_org(f, "G2", JICENG__V1__ORG_KIND__PARTY_GROUP, "B", "T"));
	a.member_id = "new";
	a.org_id = "TG";
	a.name = "李四";
	a.admitted_at = f->now;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a), "O5");
	REJECTED(fx_register(f, "m", "TG", full), "O5");
	/* A group of an ordinary branch holds members... */
	a.org_id = "G";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a));
	ACCEPTED(fx_register(f, "m", "G", full));
	/* ...but does not take them under a temporary branch. */
	REJECTED(s_move(f, "G", "TB"), "O5");
	/* A group without counted members may move; its expelled member does
	 * not come back into the count there. */
	ACCEPTED(fx_register(f, "x", "G2", full));
	ACCEPTED(fx_status(f, "x", JICENG__V1__MEMBER_STATUS__EXPELLED));
	ACCEPTED(s_move(f, "G2", "TB"));
	REJECTED(fx_status(f, "x", JICENG__V1__MEMBER_STATUS__NORMAL), "O5");
}

/* O6: a member does not come back into the count in a dissolved home org. */
static void
test_o6_status_into_dissolved(void **state)
{
	struct fx *f = *state;
	s_tree(f);
	ACCEPTED(fx_register(f, "m", "B", JICENG__V1__MEMBER_CATEGORY__FULL));
	ACCEPTED(fx_status(f, "m", JICENG__V1__MEMBER_STATUS__EXPELLED));
	ACCEPTED(s_dissolve(f, "B", "T"));
	REJECTED(fx_status(f, "m", JICENG__V1__MEMBER_STATUS__NORMAL), "ORG_DISSOLVED");
	REJECTED(fx_status(f, "m", JICENG__V1__MEMBER_STATUS__SUSPENDED), "ORG_DISSOLVED");
	ACCEPTED(fx_status(f, "m", JICENG__V1__MEMBER_STATUS__DECEASED));   /* not counted */
}

/* ---------------------------------------------------------- event times */

static void
test_org_times(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgEstablished e = JICENG__V1__ORG_ESTABLISHED__INIT;
	Jiceng__V1__OrgDissolved d = JICENG__V1__ORG_DISSOLVED__INIT;
	struct verdict v;
	s_tree(f);
	e.org_id = "B2";
	e.kind = JICENG__V1__ORG_KIND__BRANCH;
	e.parent_id = "V";
	e.name = "新支部";
	e.approving_org_id = "T";
	e.established_at = f->now + 11 * 60 * 1000;
	v = fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e);
	REJECTED(v, "FUTURE_TIME");
	assert_non_null(strstr(v.reason, "established_at"));
	e.established_at = fx_cst(1899, 12, 31, 23, 59);  /* before any business date */
	v = fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e);
	REJECTED(v, "BAD_FIELD");
	assert_non_null(strstr(v.reason, "1900-01-01"));
	e.established_at = RECORDS_TIME_MIN - 1;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e), "BAD_FIELD");
	e.established_at = f->now + 10 * 60 * 1000;   /* within the skew */
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
	d.org_id = "B2";
	d.approving_org_id = "T";
	d.dissolved_at = f->now + DAY;
	v = fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d);
	REJECTED(v, "FUTURE_TIME");
	assert_non_null(strstr(v.reason, "dissolved_at"));
	d.dissolved_at = fx_cst(1899, 6, 1, 0, 0);
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d), "BAD_FIELD");
	d.dissolved_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &d));
}

/* A county's branches are old: founding dates before 1970 are negative
 * Unix ms, and valid from 1900-01-01 00:00 CST on. */
static void
test_org_founded_before_1970(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgEstablished e = JICENG__V1__ORG_ESTABLISHED__INIT;
	Jiceng__V1__OrgView view = JICENG__V1__ORG_VIEW__INIT;
	MDB_txn *txn;
	int y, mo, d;
	assert_int_equal(RECORDS_TIME_MIN, civil_cst_midnight(1900, 1, 1));
	s_tree(f);
	e.org_id = "B1958";
	e.kind = JICENG__V1__ORG_KIND__BRANCH;
	e.parent_id = "V";
	e.name = "红旗大队党支部";
	e.approving_org_id = "T";
	e.established_at = civil_cst_midnight(1958, 3, 1);
	assert_true(e.established_at < 0);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
	e.org_id = "B1900";
	e.established_at = RECORDS_TIME_MIN;               /* the first instant */
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
	e.org_id = "B1969";
	e.established_at = fx_cst(1969, 12, 31, 23, 59);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e));
	txn = fx_read(f);
	assert_int_equal(membership_get_org(f->m, txn, "B1958", &view), 0);
	assert_int_equal(view.established_at, civil_cst_midnight(1958, 3, 1));
	civil_cst_date(view.established_at, &y, &mo, &d);
	assert_int_equal(y * 10000 + mo * 100 + d, 19580301);
	membership_free_org_view(&view);
	assert_int_equal(membership_get_org(f->m, txn, "B1900", &view), 0);
	assert_int_equal(view.established_at, RECORDS_TIME_MIN);
	membership_free_org_view(&view);
	mdb_txn_abort(txn);
	/* An old branch's O3 grace period still runs from its entry. */
	f->now += DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "O3"), 0);
}

/* ---------------------------------------------------------- other checks */

static void
test_dissolve_not_empty(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberStatusChanged s = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	s_tree(f);
	ACCEPTED(fx_register(f, "m", "B", JICENG__V1__MEMBER_CATEGORY__FULL));
	REJECTED(s_dissolve(f, "B", "T"), "ORG_NOT_EMPTY");     /* a member */
	REJECTED(s_dissolve(f, "V", "T"), "ORG_NOT_EMPTY");     /* a live sub-org */
	s.member_id = "m";
	s.status = JICENG__V1__MEMBER_STATUS__DECEASED;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &s));
	ACCEPTED(s_dissolve(f, "B", "T"));
	ACCEPTED(s_dissolve(f, "V", "T"));
}

static void
test_wrong_township(void **state)
{
	struct fx *f = *state;
	char ts[16];
	MDB_txn *txn;
	s_tree(f);
	f->township = TS2;
	ACCEPTED(fx_org(f, "T2", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	REJECTED(s_move(f, "B", "V"), "WRONG_TOWNSHIP");
	REJECTED(s_dissolve(f, "B", "T2"), "WRONG_TOWNSHIP");
	REJECTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T2"), "WRONG_TOWNSHIP");
	REJECTED(fx_register(f, "m", "B", JICENG__V1__MEMBER_CATEGORY__FULL), "WRONG_TOWNSHIP");
	ACCEPTED(fx_org(f, "V2", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, "T2", "T2"));

	txn = fx_read(f);
	assert_int_equal(membership_org_township(f->m, txn, "B", ts), 0);
	assert_string_equal(ts, TS1);
	assert_int_equal(membership_org_township(f->m, txn, "V2", ts), 0);
	assert_string_equal(ts, TS2);
	assert_int_equal(membership_org_township(f->m, txn, "nobody", ts), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

static void
test_org_view(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgUpdated u = JICENG__V1__ORG_UPDATED__INIT;
	Jiceng__V1__OrgView view = JICENG__V1__ORG_VIEW__INIT;
	MDB_txn *txn;
	s_tree(f);
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(fx_org(f, "B3", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	ACCEPTED(s_dissolve(f, "B3", "T"));
	ACCEPTED(fx_register(f, "m1", "B", JICENG__V1__MEMBER_CATEGORY__FULL));
	ACCEPTED(fx_register(f, "m2", "B", JICENG__V1__MEMBER_CATEGORY__PROBATIONARY));
	u.org_id = "B";
	u.name = "第一党支部";
	u.national_ref = "N-1";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED, &u));

	txn = fx_read(f);
	assert_int_equal(membership_get_org(f->m, txn, "V", &view), 0);
	assert_int_equal(view.kind, JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE);
	assert_string_equal(view.township_id, TS1);
	assert_int_equal(view.formation, JICENG__V1__FORMATION__SINGLE);
	assert_int_equal(view.n_children, 3);           /* ordered by org_id */
	assert_string_equal(view.children[0]->org_id, "B");
	assert_string_equal(view.children[0]->name, "第一党支部");
	assert_false(view.children[0]->dissolved);
	assert_string_equal(view.children[2]->org_id, "B3");
	assert_true(view.children[2]->dissolved);
	membership_free_org_view(&view);
	assert_int_equal(membership_get_org(f->m, txn, "B", &view), 0);
	assert_int_equal(view.member_count, 2);
	assert_int_equal(view.full_member_count, 1);
	assert_int_equal(view.probationary_count, 1);
	assert_string_equal(view.national_ref, "N-1");
	assert_int_equal(view.last_seq, f->seq);
	membership_free_org_view(&view);
	assert_int_equal(membership_get_org(f->m, txn, "nobody", &view), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

static void
test_dispatch_and_rules(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__TransferIssued t = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__MeetingHeld mh = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	Rules got;
	MDB_txn *txn;

	assert_true(membership_owns(JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED));
	assert_true(membership_owns(JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED));
	assert_true(membership_owns(JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED));
	assert_true(membership_owns(JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED));
	assert_false(membership_owns(JICENG__V1__ENVELOPE__EVENT_MEETING_HELD));
	assert_false(membership_owns(JICENG__V1__ENVELOPE__EVENT_DUES_PAID));
	assert_false(membership_owns(JICENG__V1__ENVELOPE__EVENT_TICK));

	t.transfer_id = "t1";
	t.member_id = "m";
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &t), "UNKNOWN_MEMBER");
	mh.meeting_id = "mt";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh));

	/* Defaults until a RulesChanged; 0 fields keep their default. */
	assert_int_equal(f->rules.member_min_admission_age, 18);
	assert_int_equal(f->rules.org_branch_max_members, 50);
	r.member_min_admission_age = 20;
	ACCEPTED(fx_rules(f, &r));
	txn = fx_read(f);
	assert_int_equal(membership_rules(f->m, txn, &got), 0);
	mdb_txn_abort(txn);
	assert_int_equal(got.member_min_admission_age, 20);
	assert_int_equal(got.org_branch_max_members, 50);
	assert_int_equal(got.funds_max_single_fen, 10000000);
}

int
unit_orgs(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_o1_ranks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o1_update_parent, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o2_approval, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o3_tick_audit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o3_grace_from_entry, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o4_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o4_rules_changed_branch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o4_rules_changed_committee, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_audit_list_pages, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o5_temporary_branch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o6_unknown_and_dissolved, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o5_party_group, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_o6_status_into_dissolved, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_org_times, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_org_founded_before_1970, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dissolve_not_empty, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_township, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_org_view, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dispatch_and_rules, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("orgs", tests, NULL, NULL);
}
