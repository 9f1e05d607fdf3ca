/*
 * orgs: the organisation events (OrgEstablished, OrgUpdated, OrgDissolved)
 * and the organisation rules O1-O6 (DOMAIN.md), plus the O3 audit run at
 * Tick; the counts of members per org, moved by the member and transfer
 * rules through orgs_counts_update, and O4 on them; the O6 checks
 * (orgs_require) every rule file makes of the orgs an event names.
 *
 * Choices the rules leave open:
 * - O1 ranks: a township committee is the top (no parent); a village
 *   committee sits under a township committee; a general branch under a
 *   township or village committee; the four branch kinds under either
 *   committee or a general branch; a Party group only under a branch kind.
 *   Parents belong to the same township.
 * - O2: every kind but the township committee needs approving_org_id naming
 *   a live township committee of the same township (there is no county
 *   kind), on establishment and on dissolution.
 * - O3 is checked once per branch (BRANCH, JOINT_BRANCH; not temporary or
 *   mobile branches, whose members' relationships usually stay elsewhere)
 *   at the first Tick after its grace period: org.min_full_members_days
 *   from its founding, or from its entry into jiceng when that is later
 *   (orgs registered long after their founding get the same time to
 *   register their members). Fewer than 3 full members, unless a joint
 *   branch of at most 5 units, is written to membership_audit. A joint
 *   branch established or updated with more than 5 units is warned O3 at
 *   once, since the exception it exists for no longer holds.
 * - O5 (orgs_o5_home) judges a Party group by the branch it
 *   belongs to, so a group under a temporary branch holds nobody either,
 *   and a group with counted members is not moved under one.
 * - established_at and dissolved_at default to the journal time; given,
 *   they may not be later than it by more than MS_TIME_SKEW_MS.
 * - Dissolving needs no counted member (NORMAL/SUSPENDED) and no live
 *   sub-org: ORG_NOT_EMPTY.
 */
#include "orgs.h"

#include <stdio.h>
#include <string.h>

#define O3_MIN_FULL_MEMBERS 3   /* 支部工作条例 art. 5 */
#define O3_JOINT_MAX_UNITS  5

/* ---------------------------------------------------------- kinds */
static const struct {
	const char *zh, *en;
} s_kind_names[] = {
	[JICENG__V1__ORG_KIND__ORG_KIND_UNSPECIFIED] = { "未指定类型", "unspecified kind" },
	[JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE] = { "乡镇党委", "township committee" },
	[JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE] = { "村党委", "village committee" },
	[JICENG__V1__ORG_KIND__GENERAL_BRANCH] = { "党总支", "general branch" },
	[JICENG__V1__ORG_KIND__BRANCH] = { "党支部", "branch" },
	[JICENG__V1__ORG_KIND__JOINT_BRANCH] = { "联合党支部", "joint branch" },
	[JICENG__V1__ORG_KIND__TEMPORARY_BRANCH] = { "临时党支部", "temporary branch" },
	[JICENG__V1__ORG_KIND__MOBILE_BRANCH] = { "流动党员党支部", "mobile members' branch" },
	[JICENG__V1__ORG_KIND__PARTY_GROUP] = { "党小组", "Party group" },
};

bool
orgs_kind_valid(int kind)
{
	return kind >= JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE &&
	    kind <= JICENG__V1__ORG_KIND__PARTY_GROUP;
}

const char *
orgs_kind_zh(int kind)
{
	return s_kind_names[orgs_kind_valid(kind) ? kind : 0].zh;
}

const char *
orgs_kind_en(int kind)
{
	return s_kind_names[orgs_kind_valid(kind) ? kind : 0].en;
}

bool
orgs_kind_branch(int kind)
{
	return kind == JICENG__V1__ORG_KIND__BRANCH ||
	    kind == JICENG__V1__ORG_KIND__JOINT_BRANCH ||
	    kind == JICENG__V1__ORG_KIND__TEMPORARY_BRANCH ||
	    kind == JICENG__V1__ORG_KIND__MOBILE_BRANCH;
}

bool
orgs_status_counted(int status)
{
	return status == JICENG__V1__MEMBER_STATUS__NORMAL ||
	    status == JICENG__V1__MEMBER_STATUS__SUSPENDED;
}

/* ---------------------------------------------------------- O6 */
static const struct {
	const char *zh, *en;
} s_roles[] = {
	[MS_ROLE_ORG] = { "组织", "org" },
	[MS_ROLE_PARENT] = { "上级组织", "parent org" },
	[MS_ROLE_HOME] = { "所在党组织", "home org" },
	[MS_ROLE_ACTIVITY] = { "活动组织", "activity org" },
	[MS_ROLE_FROM] = { "转出党组织", "sending org" },
	[MS_ROLE_TO] = { "接收党组织", "receiving org" },
	[MS_ROLE_HOST] = { "流入地党组织", "host org" },
};

int
orgs_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *org_id, enum ms_role role,
    unsigned flags, struct org_rec *o, struct verdict *v)
{
	const char *zh = s_roles[role].zh, *en = s_roles[role].en;
	int rc;
	if (!org_id || !*org_id)
		return verdict_reject(v, "UNKNOWN_ORG", "未指定%s / no %s given", zh, en);
	rc = records_org_load(m, txn, org_id, o);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_ORG", "%s不存在 / %s unknown: %s",
		    zh, en, org_id);
	if (rc)
		return rc;
	if (!(flags & MS_ANY_TOWNSHIP) &&
	    strcmp(o->township_id, records_ev_township(ev)) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP",
		    "%s属于其他乡镇 / %s %s belongs to township %s", zh, en,
		    org_id, o->township_id);
	if ((flags & MS_LIVE) && o->dissolved)
		return verdict_reject(v, "ORG_DISSOLVED", "%s已撤销 / %s dissolved: %s",
		    zh, en, org_id);
	return 0;
}

/* ---------------------------------------------------------- member counts and O4 */

struct ms_contrib {
	uint32_t total, full, prob;
};

static struct ms_contrib
s_contrib(const struct member_rec *r)
{
	struct ms_contrib c = { 0, 0, 0 };
	if (r && orgs_status_counted(r->status) && !r->transferred_out) {
		c.total = 1;
		c.full = r->category == JICENG__V1__MEMBER_CATEGORY__FULL;
		c.prob = r->category == JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	}
	return c;
}

/* Add (sign 1) or remove (sign -1) a contribution to org_id's counts. */
static int
s_counts_adjust(struct membership *m, MDB_txn *txn, uint64_t seq,
    const char *org_id, struct ms_contrib c, int sign)
{
	struct org_rec o;
	int rc = records_org_load(m, txn, org_id, &o);
	if (rc)
		return rc;
	if (sign < 0) {
		if (o.member_count < c.total || o.full_count < c.full ||
		    o.probationary_count < c.prob)
			return MDB_CORRUPTED;
		o.member_count -= c.total;
		o.full_count -= c.full;
		o.probationary_count -= c.prob;
	} else {
		o.member_count += c.total;
		o.full_count += c.full;
		o.probationary_count += c.prob;
	}
	o.last_seq = seq;
	return records_org_store(m, txn, &o);
}

struct subtree {
	struct membership *m;
	MDB_txn *txn;
	int depth;
	uint32_t *total, *full;
};

static int s_subtree(void *arg, const char *org_id, bool *stop);

/* Add o's counts and its descendants'. */
static int
s_subtree_of(struct subtree *t, const struct org_rec *o)
{
	*t->total += o->member_count;
	*t->full += o->full_count;
	t->depth++;
	int rc = records_children_each(t->m, t->txn, o->org_id, s_subtree, t);
	t->depth--;
	return rc;
}

static int
s_subtree(void *arg, const char *org_id, bool *stop)
{
	struct subtree *t = arg;
	struct org_rec o;
	int rc;

	(void)stop;
	if (t->depth > 16)
		return MDB_CORRUPTED;
	if ((rc = records_org_load(t->m, t->txn, org_id, &o)))
		return rc;
	return s_subtree_of(t, &o);
}

int
orgs_subtree_counts(struct membership *m, MDB_txn *txn,
    const char *org_id, uint32_t *total, uint32_t *full)
{
	struct subtree t = { m, txn, 0, total, full };
	bool stop = false;
	*total = *full = 0;
	return s_subtree(&t, org_id, &stop);
}

/* A village-level org: a village committee, or a general branch or branch
 * directly under the township committee (jiceng cannot tell a village's
 * branch there from an enterprise's; both are counted as village level). */
static bool
s_village_level(const struct org_rec *o, int parent_kind)
{
	if (o->kind == JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE)
		return true;
	return parent_kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE &&
	    (o->kind == JICENG__V1__ORG_KIND__GENERAL_BRANCH ||
	    o->kind == JICENG__V1__ORG_KIND__BRANCH ||
	    o->kind == JICENG__V1__ORG_KIND__JOINT_BRANCH);
}

/* O4's two limits (DOMAIN.md), as bits of what an org is over. */
#define O4_BRANCH     0x1u  /* a branch kind over org_branch_max_members */
#define O4_COMMITTEE  0x2u  /* a village-level org below a 党委 at
                             * org_village_committee_members or more */

/* The O4 limits an org (village: at village level) with n members in its
 * subtree is over under rl: the one condition of the member path and the
 * RulesChanged audit. */
static unsigned
s_o4_over(const struct org_rec *o, bool village, uint32_t n, const Rules *rl)
{
	unsigned over = 0;
	if (orgs_kind_branch(o->kind) && n > rl->org_branch_max_members)
		over |= O4_BRANCH;
	if (village && o->kind != JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE &&
	    rl->org_village_committee_members > 0 &&
	    n >= rl->org_village_committee_members)
		over |= O4_COMMITTEE;
	return over;
}

/* The finding for one limit (O4_BRANCH or O4_COMMITTEE), bilingual. */
static void
s_o4_text(const struct org_rec *o, bool village, unsigned limit, const Rules *rl,
    char *buf, size_t len)
{
	uint32_t branch_max = rl->org_branch_max_members;
	uint32_t committee = rl->org_village_committee_members;
	if (limit == O4_COMMITTEE)
		snprintf(buf, len, "村级党组织党员达到%u人，应设党委 / "
		    "village org has %u members or more; a Party committee is due: %s",
		    committee, committee, o->org_id);
	else if (village)
		snprintf(buf, len, "村级党支部党员超过%u人，应设党总支 / "
		    "village branch has more than %u members; a general branch is due: %s",
		    branch_max, branch_max, o->org_id);
	else
		snprintf(buf, len, "党支部党员超过%u人 / branch has more than %u members: %s",
		    branch_max, branch_max, o->org_id);
}

/* Does O4 concern org o (*subject: a branch kind, or at village level,
 * *village), and how many members has its subtree (*n)? parent: o's
 * parent when the caller has it loaded, else NULL. */
static int
s_o4_subject(struct membership *m, MDB_txn *txn, const struct org_rec *o,
    const struct org_rec *parent, bool *subject, bool *village, uint32_t *n)
{
	struct org_rec p;
	uint32_t full = 0;
	int pkind = 0, rc;

	*subject = *village = false;
	*n = 0;
	if (o->parent_id[0] && !parent) {
		if ((rc = records_org_load(m, txn, o->parent_id, &p)))
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
		parent = &p;
	}
	if (parent)
		pkind = parent->kind;
	*village = s_village_level(o, pkind);
	if (!*village && !orgs_kind_branch(o->kind))
		return 0;
	*subject = true;
	struct subtree t = { m, txn, 0, n, &full };
	return s_subtree_of(&t, o);
}

/* O4 for one org whose subtree just gained one member (n after). Warns on
 * the event that crosses a limit, not on every later one. */
static void
s_o4_org(const struct org_rec *o, bool village, uint32_t n, const Rules *rl,
    struct verdict *v)
{
	unsigned crossed = s_o4_over(o, village, n, rl) &
	    ~s_o4_over(o, village, n - 1, rl);
	char text[sizeof v->warnings[0].reason];

	for (unsigned limit = O4_BRANCH; limit <= O4_COMMITTEE; limit <<= 1) {
		if (!(crossed & limit))
			continue;
		s_o4_text(o, village, limit, rl, text, sizeof text);
		verdict_warn(v, "O4", "%s", text);
	}
}

#define MS_MAX_DEPTH 16

static bool
s_in(const struct org_rec *chain, unsigned n, const char *id)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(chain[i].org_id, id) == 0)
			return true;
	return false;
}

/* The org and its ancestors, nearest first, into chain[0..*n). */
static int
s_ancestry(struct membership *m, MDB_txn *txn, const char *org_id,
    struct org_rec chain[MS_MAX_DEPTH], unsigned *n)
{
	int rc;
	*n = 0;
	if (!org_id || !*org_id)
		return 0;
	for (const char *id = org_id;; id = chain[*n - 1].parent_id) {
		if (*n == MS_MAX_DEPTH)
			return MDB_CORRUPTED;
		if ((rc = records_org_load(m, txn, id, &chain[*n])))
			return rc;
		if (!chain[(*n)++].parent_id[0])
			return 0;
	}
}

/* O4 along home_id's ancestry, skipping orgs that also held the member
 * before (their subtree did not grow). */
static int
s_o4(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const char *home_id, const char *old_home, struct verdict *v)
{
	struct org_rec now[MS_MAX_DEPTH], old[MS_MAX_DEPTH];
	unsigned nnow, nold = 0;
	Rules buf;
	const Rules *rl = records_ev_rules(ev, &buf);
	int rc;

	if ((rc = s_ancestry(m, txn, home_id, now, &nnow)) ||
	    (old_home && (rc = s_ancestry(m, txn, old_home, old, &nold))))
		return rc;
	for (unsigned i = 0; i < nnow; i++) {
		bool subject, village;
		uint32_t total;
		if (s_in(old, nold, now[i].org_id))
			break;
		if ((rc = s_o4_subject(m, txn, &now[i], i + 1 < nnow ? &now[i + 1] : NULL,
		    &subject, &village, &total)))
			return rc;
		if (subject)
			s_o4_org(&now[i], village, total, rl, v);
	}
	return 0;
}

/* O4 at a RulesChanged that moved either of its limits: an audit entry
 * under seq for each limit each live org is over under the new rules.
 * The member path warns only on the event that crosses a limit, so an org
 * a lowered limit leaves over it would never be told; no ack carries a
 * RulesChanged (jicengd writes it), hence the audit table. Unchanged
 * limits write nothing: a restart journals the same rules again. Orgs in
 * key order, so every fold writes the same entries. Cost: one pass over
 * the orgs table, and the subtree of each branch or village-level org. */
int
orgs_o4_audit(struct membership *m, MDB_txn *txn, uint64_t seq, const Rules *was,
    const Rules *rl)
{
	char org_id[CODEC_MAX_ID + 1], text[MS_AUDIT_TEXT_MAX + 1];
	struct org_rec o;
	MDB_cursor *c;
	MDB_val k, d;
	int rc, op = MDB_FIRST;

	if (was->org_branch_max_members == rl->org_branch_max_members &&
	    was->org_village_committee_members == rl->org_village_committee_members)
		return 0;
	if ((rc = mdb_cursor_open(txn, m->orgs, &c)))
		return rc;
	for (; (rc = mdb_cursor_get(c, &k, &d, op)) == 0; op = MDB_NEXT) {
		bool subject, village;
		uint32_t n;
		unsigned over;
		if (k.mv_size == 0 || k.mv_size > CODEC_MAX_ID) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(org_id, k.mv_data, k.mv_size);
		org_id[k.mv_size] = '\0';
		if ((rc = records_org_load(m, txn, org_id, &o)))
			break;
		if (o.dissolved)
			continue;
		if ((rc = s_o4_subject(m, txn, &o, NULL, &subject, &village, &n)))
			break;
		over = subject ? s_o4_over(&o, village, n, rl) : 0;
		for (unsigned limit = O4_BRANCH; rc == 0 && limit <= O4_COMMITTEE; limit <<= 1) {
			if (!(over & limit))
				continue;
			s_o4_text(&o, village, limit, rl, text, sizeof text);
			rc = records_audit_add(m, txn, seq, o.org_id, "O4", text);
		}
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
orgs_counts_update(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const struct member_rec *before,
    const struct member_rec *after, struct verdict *v)
{
	struct ms_contrib b = s_contrib(before), a = s_contrib(after);
	bool same_home = before && after &&
	    strcmp(before->home_org_id, after->home_org_id) == 0;
	int rc;

	if (same_home && b.total == a.total && b.full == a.full && b.prob == a.prob)
		return 0;
	if (b.total && (rc = s_counts_adjust(m, txn, ev->seq, before->home_org_id, b, -1)))
		return rc;
	if (a.total && (rc = s_counts_adjust(m, txn, ev->seq, after->home_org_id, a, 1)))
		return rc;
	if (!a.total || (same_home && b.total))
		return 0;
	return s_o4(m, txn, ev, after->home_org_id,
	    b.total ? before->home_org_id : NULL, v);
}

/* ---------------------------------------------------------- checks */

static bool
s_rank_ok(int kind, int parent_kind)
{
	switch (kind) {
	case JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE:
		return parent_kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
	case JICENG__V1__ORG_KIND__GENERAL_BRANCH:
		return parent_kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE ||
		    parent_kind == JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE;
	case JICENG__V1__ORG_KIND__PARTY_GROUP:
		return orgs_kind_branch(parent_kind);
	default:
		if (!orgs_kind_branch(kind))
			return false;
		return parent_kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE ||
		    parent_kind == JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE ||
		    parent_kind == JICENG__V1__ORG_KIND__GENERAL_BRANCH;
	}
}

/* O1 for org_id of kind under parent_id: the parent exists, is live, is of
 * this township, outranks kind, and is not org_id or below it. */
static int
s_check_parent(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const char *org_id, int kind, const char *parent_id, struct verdict *v)
{
	struct org_rec p;
	char up[CODEC_MAX_ID + 1];
	int rc;

	if (kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE)
		return *parent_id ? verdict_reject(v, "O1",
		    "乡镇党委是最高层级，不能有上级组织 / a township committee has no parent org: %s",
		    org_id) : 0;
	if (!*parent_id)
		return verdict_reject(v, "O1", "%s须有上级组织 / a %s needs a parent org: %s",
		    orgs_kind_zh(kind), orgs_kind_en(kind), org_id);
	rc = orgs_require(m, txn, ev, parent_id, MS_ROLE_PARENT, MS_LIVE, &p, v);
	if (rc || !v->accepted)
		return rc;
	if (!s_rank_ok(kind, p.kind))
		return verdict_reject(v, "O1", "%s不能隶属于%s / a %s cannot be under a %s: %s",
		    orgs_kind_zh(kind), orgs_kind_zh(p.kind),
		    orgs_kind_en(kind), orgs_kind_en(p.kind), parent_id);
	/* Ranks already forbid cycles; walk up anyway so a bad table cannot. */
	for (int depth = 0; depth < 32; depth++) {
		if (strcmp(p.org_id, org_id) == 0)
			return verdict_reject(v, "O1", "组织树不能成环 / the org tree would have a cycle: %s",
			    parent_id);
		if (!p.parent_id[0])
			return 0;
		snprintf(up, sizeof up, "%s", p.parent_id);
		if ((rc = records_org_load(m, txn, up, &p)))
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	}
	return verdict_reject(v, "O1", "组织树层级过深 / the org tree is too deep: %s", parent_id);
}

/* O2: approval by a live township committee of the same township. */
static int
s_check_approval(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    int kind, const char *approving_id, struct verdict *v)
{
	struct org_rec a;
	int rc;

	if (kind == JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE)
		return 0;
	if (!*approving_id)
		return verdict_reject(v, "O2", "村级及以下党组织的成立和撤销须经乡镇党委批准 / "
		    "a village-level org or below needs an approving township committee%s", "");
	rc = records_org_load(m, txn, approving_id, &a);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "O2", "批准组织不存在 / approving org unknown: %s",
		    approving_id);
	if (rc)
		return rc;
	if (a.kind != JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE)
		return verdict_reject(v, "O2", "批准组织须为乡镇党委或以上 / "
		    "the approving org must be a township committee or above: %s", approving_id);
	if (a.dissolved)
		return verdict_reject(v, "O2", "批准组织已撤销 / approving org dissolved: %s",
		    approving_id);
	if (strcmp(a.township_id, records_ev_township(ev)) != 0)
		return verdict_reject(v, "O2", "批准组织属于其他乡镇 / approving org of another township: %s",
		    approving_id);
	return 0;
}

/* O5: a Party group belongs to the nearest org above it that is not one. */
int
orgs_o5_home(struct membership *m, MDB_txn *txn,
    const struct org_rec *o, struct verdict *v)
{
	struct org_rec up = *o;
	char id[CODEC_MAX_ID + 1];
	int rc;

	for (int depth = 0; up.kind == JICENG__V1__ORG_KIND__PARTY_GROUP; depth++) {
		if (depth == 32 || !up.parent_id[0])
			return MDB_CORRUPTED;
		snprintf(id, sizeof id, "%s", up.parent_id);
		if ((rc = records_org_load(m, txn, id, &up)))
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	}
	if (up.kind == JICENG__V1__ORG_KIND__TEMPORARY_BRANCH)
		return verdict_reject(v, "O5", "临时党支部不接收党员、不转入组织关系 / a temporary "
		    "branch admits nobody and holds no member's relationship: %s", up.org_id);
	return 0;
}

static void
s_o3_joint_units(const struct org_rec *o, struct verdict *v)
{
	if (o->kind == JICENG__V1__ORG_KIND__JOINT_BRANCH &&
	    o->unit_count > O3_JOINT_MAX_UNITS)
		verdict_warn(v, "O3", "联合党支部覆盖单位一般不超过%d个 / "
		    "a joint branch should join at most %d units (%u): %s",
		    O3_JOINT_MAX_UNITS, O3_JOINT_MAX_UNITS, o->unit_count, o->org_id);
}

/* ---------------------------------------------------------- O3 pending table */

/* Key: grace start (i64, sign bit flipped, BE) then org_id: ordered by time. */
static MDB_val
s_o3_key(uint8_t *buf, int64_t start, const char *org_id)
{
	uint64_t u = (uint64_t)start ^ 0x8000000000000000ull;
	size_t n = strlen(org_id);
	MDB_val k = { 8 + n, buf };
	for (int i = 7; i >= 0; i--, u >>= 8)
		buf[i] = (uint8_t)u;
	memcpy(buf + 8, org_id, n);
	return k;
}

static int64_t
s_o3_start(const MDB_val *k)
{
	const uint8_t *p = k->mv_data;
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)(u ^ 0x8000000000000000ull);
}

static int
s_o3_schedule(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct org_rec *o)
{
	uint8_t buf[8 + CODEC_MAX_ID];
	int64_t start = o->established_at > ev->received_at ? o->established_at :
	    ev->received_at;
	MDB_val k = s_o3_key(buf, start, o->org_id), d = { 0, "" };
	if (o->kind != JICENG__V1__ORG_KIND__BRANCH &&
	    o->kind != JICENG__V1__ORG_KIND__JOINT_BRANCH)
		return 0;
	return ms_put(txn, m->o3, &k, &d, 0);
}

/* One branch at the end of its grace period. */
static int
s_o3_check(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const char *org_id, uint32_t days)
{
	struct org_rec o;
	uint32_t total, full;
	char text[320];
	int rc = records_org_load(m, txn, org_id, &o);

	if (rc == MDB_NOTFOUND || (rc == 0 && o.dissolved))
		return 0;
	if (rc || (rc = orgs_subtree_counts(m, txn, org_id, &total, &full)))
		return rc;
	if (full >= O3_MIN_FULL_MEMBERS || (o.kind == JICENG__V1__ORG_KIND__JOINT_BRANCH &&
	    o.unit_count <= O3_JOINT_MAX_UNITS))
		return 0;
	snprintf(text, sizeof text, "党支部成立%u天后正式党员不足%d人 / "
	    "branch has %u full members (< %d) %u days after founding: %s",
	    days, O3_MIN_FULL_MEMBERS, full, O3_MIN_FULL_MEMBERS, days, org_id);
	return records_audit_add(m, txn, ev->seq, org_id, "O3", text);
}

int
orgs_o3_audit(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev)
{
	Rules buf;
	uint32_t days = records_ev_rules(ev, &buf)->org_min_full_members_days;
	int64_t due = ev->received_at - (int64_t)days * CIVIL_DAY_MS;
	char org_id[CODEC_MAX_ID + 1];
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_cursor_open(txn, m->o3, &c)))
		return rc;
	/* Each pass removes the first entry, so MDB_FIRST walks the table. */
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size <= 8 || k.mv_size > 8 + CODEC_MAX_ID) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (s_o3_start(&k) > due)
			break;
		memcpy(org_id, (const char *)k.mv_data + 8, k.mv_size - 8);
		org_id[k.mv_size - 8] = '\0';
		if ((rc = ms_cursor_del(c)) ||
		    (rc = s_o3_check(m, txn, ev, org_id, days)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---------------------------------------------------------- OrgEstablished */

static int
s_established_fields(const struct event_ctx *ev, const Jiceng__V1__OrgEstablished *e,
    struct verdict *v)
{
	if (!orgs_kind_valid(e->kind))
		return verdict_reject(v, "BAD_FIELD", "未指定组织类型 / org kind is required: %s",
		    e->org_id);
	if (!*e->name)
		return verdict_reject(v, "BAD_FIELD", "组织名称不能为空 / org name is required: %s",
		    e->org_id);
	if (records_time_check(ev, e->established_at, false, "成立时间", "established_at",
	    e->org_id, v) || !v->accepted)
		return 0;
	if (strlen(e->national_ref) > MS_MAX_REF)
		return verdict_reject(v, "BAD_FIELD", "national_ref 超过64字节 / "
		    "national_ref is longer than 64 bytes: %s", e->org_id);
	return 0;
}

int
membership_apply_org_established(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__OrgEstablished *e = ev->env->org_established;
	struct org_rec o;
	int rc = records_org_load(m, txn, e->org_id, &o);

	if (rc == 0)
		return verdict_reject(v, "ORG_EXISTS", "组织已存在 / org already exists: %s",
		    e->org_id);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = s_established_fields(ev, e, v)) || !v->accepted ||
	    (rc = s_check_parent(m, txn, ev, e->org_id, e->kind, e->parent_id, v)) ||
	    !v->accepted ||
	    (rc = s_check_approval(m, txn, ev, e->kind, e->approving_org_id, v)))
		return rc;
	if (!v->accepted)
		return 0;
	memset(&o, 0, sizeof o);
	snprintf(o.org_id, sizeof o.org_id, "%s", e->org_id);
	o.kind = e->kind;
	snprintf(o.name, sizeof o.name, "%s", e->name);
	snprintf(o.parent_id, sizeof o.parent_id, "%s", e->parent_id);
	snprintf(o.township_id, sizeof o.township_id, "%s", records_ev_township(ev));
	o.formation = e->formation ? (int)e->formation : JICENG__V1__FORMATION__SINGLE;
	o.established_at = e->established_at ? e->established_at : ev->received_at;
	o.unit_count = e->unit_count;
	snprintf(o.national_ref, sizeof o.national_ref, "%s", e->national_ref);
	snprintf(o.approving_id, sizeof o.approving_id, "%s", e->approving_org_id);
	o.last_seq = ev->seq;
	s_o3_joint_units(&o, v);
	if ((rc = records_org_store(m, txn, &o)) ||
	    (o.parent_id[0] && (rc = records_pair_put(txn, m->children, o.parent_id, o.org_id))))
		return rc;
	return s_o3_schedule(m, txn, ev, &o);
}

/* ---------------------------------------------------------- OrgUpdated */

static int
s_move(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    struct org_rec *o, const char *parent_id, struct verdict *v)
{
	struct org_rec p;
	int rc = s_check_parent(m, txn, ev, o->org_id, o->kind, parent_id, v);
	if (rc || !v->accepted)
		return rc;
	/* A Party group takes its members' relationships along (O5). */
	if (o->kind == JICENG__V1__ORG_KIND__PARTY_GROUP && o->member_count &&
	    ((rc = records_org_load(m, txn, parent_id, &p)) ||
	    (rc = orgs_o5_home(m, txn, &p, v)) || !v->accepted))
		return rc;
	if ((rc = records_pair_del(txn, m->children, o->parent_id, o->org_id)) ||
	    (rc = records_pair_put(txn, m->children, parent_id, o->org_id)))
		return rc;
	snprintf(o->parent_id, sizeof o->parent_id, "%s", parent_id);
	return 0;
}

int
membership_apply_org_updated(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__OrgUpdated *e = ev->env->org_updated;
	struct org_rec o;
	int rc = orgs_require(m, txn, ev, e->org_id, MS_ROLE_ORG, MS_LIVE, &o, v);

	if (rc || !v->accepted)
		return rc;
	if (strlen(e->national_ref) > MS_MAX_REF)
		return verdict_reject(v, "BAD_FIELD", "national_ref 超过64字节 / "
		    "national_ref is longer than 64 bytes: %s", e->org_id);
	if (*e->parent_id && strcmp(e->parent_id, o.parent_id) != 0 &&
	    ((rc = s_move(m, txn, ev, &o, e->parent_id, v)) || !v->accepted))
		return rc;
	if (*e->name)
		snprintf(o.name, sizeof o.name, "%s", e->name);
	if (e->formation)
		o.formation = e->formation;
	if (*e->national_ref)
		snprintf(o.national_ref, sizeof o.national_ref, "%s", e->national_ref);
	if (e->unit_count) {
		o.unit_count = e->unit_count;
		s_o3_joint_units(&o, v);
	}
	o.last_seq = ev->seq;
	return records_org_store(m, txn, &o);
}

/* ---------------------------------------------------------- OrgDissolved */

struct live_child {
	struct membership *m;
	MDB_txn *txn;
	char *found;  /* [CODEC_MAX_ID + 1] */
};

static int
s_is_live(void *arg, const char *child, bool *stop)
{
	struct live_child *lc = arg;
	struct org_rec c;
	int rc = records_org_load(lc->m, lc->txn, child, &c);
	if (rc == 0 && !c.dissolved) {
		snprintf(lc->found, CODEC_MAX_ID + 1, "%s", child);
		*stop = true;
	}
	return rc;
}

/* The first live sub-org of org_id into child (empty when none). */
static int
s_live_child(struct membership *m, MDB_txn *txn, const char *org_id,
    char child[CODEC_MAX_ID + 1])
{
	struct live_child lc = { m, txn, child };
	child[0] = '\0';
	return records_children_each(m, txn, org_id, s_is_live, &lc);
}

int
membership_apply_org_dissolved(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__OrgDissolved *e = ev->env->org_dissolved;
	char child[CODEC_MAX_ID + 1];
	struct org_rec o;
	int rc = orgs_require(m, txn, ev, e->org_id, MS_ROLE_ORG, MS_LIVE, &o, v);

	if (rc || !v->accepted ||
	    (rc = s_check_approval(m, txn, ev, o.kind, e->approving_org_id, v)) ||
	    !v->accepted)
		return rc;
	if ((rc = records_time_check(ev, e->dissolved_at, false, "撤销时间", "dissolved_at",
	    e->org_id, v)) || !v->accepted)
		return rc;
	if (o.member_count > 0)
		return verdict_reject(v, "ORG_NOT_EMPTY", "组织仍有%u名党员 / org still has %u members: %s",
		    o.member_count, o.member_count, e->org_id);
	if ((rc = s_live_child(m, txn, o.org_id, child)))
		return rc;
	if (child[0])
		return verdict_reject(v, "ORG_NOT_EMPTY", "组织仍有下级组织 / org still has a sub-org: %s",
		    child);
	o.dissolved = true;
	o.dissolved_at = e->dissolved_at ? e->dissolved_at : ev->received_at;
	snprintf(o.dissolve_approving_id, sizeof o.dissolve_approving_id, "%s",
	    e->approving_org_id);
	snprintf(o.dissolve_reason, sizeof o.dissolve_reason, "%s", e->reason);
	o.last_seq = ev->seq;
	return records_org_store(m, txn, &o);
}
