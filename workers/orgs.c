/*
 * orgs: the organisation events (OrgEstablished, OrgUpdated, OrgDissolved)
 * and the organisation rules O1-O6 (DOMAIN.md), plus the O3 audit run at
 * Tick. Member counts are kept by members.c through
 * membership_counts_update; this file only reads them.
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
 * - O5 (membership_orgs_o5_home) judges a Party group by the branch it
 *   belongs to, so a group under a temporary branch holds nobody either,
 *   and a group with counted members is not moved under one.
 * - established_at and dissolved_at default to the journal time; given,
 *   they may not be later than it by more than MS_TIME_SKEW_MS.
 * - Dissolving needs no counted member (NORMAL/SUSPENDED) and no live
 *   sub-org: ORG_NOT_EMPTY.
 */
#include "membership_internal.h"

#include <stdio.h>
#include <string.h>

#define O3_MIN_FULL_MEMBERS 3   /* 支部工作条例 art. 5 */
#define O3_JOINT_MAX_UNITS  5

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
		return membership_kind_branch(parent_kind);
	default:
		if (!membership_kind_branch(kind))
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
		    membership_kind_zh(kind), membership_kind_en(kind), org_id);
	rc = membership_org_require(m, txn, ev, parent_id, MS_ROLE_PARENT, MS_LIVE, &p, v);
	if (rc || !v->accepted)
		return rc;
	if (!s_rank_ok(kind, p.kind))
		return verdict_reject(v, "O1", "%s不能隶属于%s / a %s cannot be under a %s: %s",
		    membership_kind_zh(kind), membership_kind_zh(p.kind),
		    membership_kind_en(kind), membership_kind_en(p.kind), parent_id);
	/* Ranks already forbid cycles; walk up anyway so a bad table cannot. */
	for (int depth = 0; depth < 32; depth++) {
		if (strcmp(p.org_id, org_id) == 0)
			return verdict_reject(v, "O1", "组织树不能成环 / the org tree would have a cycle: %s",
			    parent_id);
		if (!p.parent_id[0])
			return 0;
		snprintf(up, sizeof up, "%s", p.parent_id);
		if ((rc = membership_org_load(m, txn, up, &p)))
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
	rc = membership_org_load(m, txn, approving_id, &a);
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
	if (strcmp(a.township_id, membership_ev_township(ev)) != 0)
		return verdict_reject(v, "O2", "批准组织属于其他乡镇 / approving org of another township: %s",
		    approving_id);
	return 0;
}

/* O5: a Party group belongs to the nearest org above it that is not one. */
int
membership_orgs_o5_home(struct membership *m, MDB_txn *txn,
    const struct org_rec *o, struct verdict *v)
{
	struct org_rec up = *o;
	char id[CODEC_MAX_ID + 1];
	int rc;

	for (int depth = 0; up.kind == JICENG__V1__ORG_KIND__PARTY_GROUP; depth++) {
		if (depth == 32 || !up.parent_id[0])
			return MDB_CORRUPTED;
		snprintf(id, sizeof id, "%s", up.parent_id);
		if ((rc = membership_org_load(m, txn, id, &up)))
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
	int rc = membership_org_load(m, txn, org_id, &o);

	if (rc == MDB_NOTFOUND || (rc == 0 && o.dissolved))
		return 0;
	if (rc || (rc = membership_subtree_counts(m, txn, org_id, &total, &full)))
		return rc;
	if (full >= O3_MIN_FULL_MEMBERS || (o.kind == JICENG__V1__ORG_KIND__JOINT_BRANCH &&
	    o.unit_count <= O3_JOINT_MAX_UNITS))
		return 0;
	snprintf(text, sizeof text, "党支部成立%u天后正式党员不足%d人 / "
	    "branch has %u full members (< %d) %u days after founding: %s",
	    days, O3_MIN_FULL_MEMBERS, full, O3_MIN_FULL_MEMBERS, days, org_id);
	return membership_audit_add(m, txn, ev->seq, org_id, "O3", text);
}

int
membership_orgs_o3_audit(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev)
{
	Rules buf;
	uint32_t days = membership_ev_rules(ev, &buf)->org_min_full_members_days;
	int64_t due = ev->received_at - (int64_t)days * MS_DAY_MS;
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
	if (!membership_kind_valid(e->kind))
		return verdict_reject(v, "BAD_FIELD", "未指定组织类型 / org kind is required: %s",
		    e->org_id);
	if (!*e->name)
		return verdict_reject(v, "BAD_FIELD", "组织名称不能为空 / org name is required: %s",
		    e->org_id);
	if (membership_time_check(ev, e->established_at, false, "成立时间", "established_at",
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
	int rc = membership_org_load(m, txn, e->org_id, &o);

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
	snprintf(o.township_id, sizeof o.township_id, "%s", membership_ev_township(ev));
	o.formation = e->formation ? (int)e->formation : JICENG__V1__FORMATION__SINGLE;
	o.established_at = e->established_at ? e->established_at : ev->received_at;
	o.unit_count = e->unit_count;
	snprintf(o.national_ref, sizeof o.national_ref, "%s", e->national_ref);
	snprintf(o.approving_id, sizeof o.approving_id, "%s", e->approving_org_id);
	o.last_seq = ev->seq;
	s_o3_joint_units(&o, v);
	if ((rc = membership_org_store(m, txn, &o)) ||
	    (o.parent_id[0] && (rc = membership_pair_put(txn, m->children, o.parent_id, o.org_id))))
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
	    ((rc = membership_org_load(m, txn, parent_id, &p)) ||
	    (rc = membership_orgs_o5_home(m, txn, &p, v)) || !v->accepted))
		return rc;
	if ((rc = membership_pair_del(txn, m->children, o->parent_id, o->org_id)) ||
	    (rc = membership_pair_put(txn, m->children, parent_id, o->org_id)))
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
	int rc = membership_org_require(m, txn, ev, e->org_id, MS_ROLE_ORG, MS_LIVE, &o, v);

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
	return membership_org_store(m, txn, &o);
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
	int rc = membership_org_load(lc->m, lc->txn, child, &c);
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
	return membership_children_each(m, txn, org_id, s_is_live, &lc);
}

int
membership_apply_org_dissolved(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__OrgDissolved *e = ev->env->org_dissolved;
	char child[CODEC_MAX_ID + 1];
	struct org_rec o;
	int rc = membership_org_require(m, txn, ev, e->org_id, MS_ROLE_ORG, MS_LIVE, &o, v);

	if (rc || !v->accepted ||
	    (rc = s_check_approval(m, txn, ev, o.kind, e->approving_org_id, v)) ||
	    !v->accepted)
		return rc;
	if ((rc = membership_time_check(ev, e->dissolved_at, false, "撤销时间", "dissolved_at",
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
	return membership_org_store(m, txn, &o);
}
