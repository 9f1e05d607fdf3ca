/*
 * membership: the module's tables, its stored records, the dispatch of one
 * event to its rule function, and the two events every worker applies
 * (Tick, RulesChanged). The rules themselves live in orgs.c (O1-O6) and
 * members.c (R1-R4); the read side in membership_query.c. Transfers and
 * mobile-member episodes are membership's events but not implemented in
 * this build: codec refuses them before journaling, and should one reach
 * membership_apply anyway it is rejected UNSUPPORTED_EVENT.
 *
 * Verdict codes emitted by the module (ERROR rules reject, WARN rules warn):
 *   O1 O2 O5 R1 R2 R3 R4   the rule of that id (DOMAIN.md)
 *   O3 O4                  warnings; also as entries of membership_audit:
 *                          O3 at the Tick that ends a branch's grace
 *                          period, O4 at a RulesChanged that moves its
 *                          limits (every org then over one)
 *   UNKNOWN_ORG            O6: an org named by the event does not exist
 *   UNKNOWN_MEMBER         O6: the member does not exist
 *   ORG_DISSOLVED          O6: the org named by the event is dissolved
 *   ORG_EXISTS             OrgEstablished with an org_id already used
 *   MEMBER_EXISTS          MemberRegistered/Admitted with a member_id in use
 *   ORG_NOT_EMPTY          OrgDissolved while members or live sub-orgs remain
 *   WRONG_TOWNSHIP         the org or member belongs to another township
 *   BAD_ID_NUMBER          invalid ID number, or birth date/sex contradict it
 *   BAD_FIELD              a field missing or out of its bounds (a time
 *                          missing where required, negative, past 9999)
 *   FUTURE_TIME            an event's own time later than its journal time
 *                          plus MS_TIME_SKEW_MS
 *   BAD_STATUS             a status change out of DECEASED
 *   UNSUPPORTED_EVENT      a transfer or mobility event (not in this build)
 *   NO_EVENT               an event case without its message
 * Reasons are "中文 / English: detail" and never carry an ID number or phone.
 * The rule choices the regulations leave open are listed atop orgs.c and
 * members.c.
 *
 * Tables (struct membership in membership_internal.h): orgs, members,
 * orgs_children, members_by_org, members_by_index, membership_meta,
 * membership_audit, orgs_o3_pending. Names are prefixed so they cannot meet
 * the fold's own meta/verdicts/counts or a domain's tables in the same env.
 */
#include "membership_internal.h"

#include "civil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- counted writes */

static uint64_t s_writes;

uint64_t
membership_writes(void)
{
	return s_writes;
}

int
ms_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *d, unsigned flags)
{
	s_writes++;
	return mdb_put(txn, dbi, k, d, flags);
}

int
ms_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
	s_writes++;
	return mdb_del(txn, dbi, k, NULL);
}

int
ms_cursor_del(MDB_cursor *c)
{
	s_writes++;
	return mdb_cursor_del(c, 0);
}

/* ---------------------------------------------------------- open and close */

static const char *s_dbi_names[] = {
	"orgs", "members", "orgs_children", "members_by_org",
	"members_by_index", "membership_meta", "membership_audit",
	"orgs_o3_pending",
};

static int
s_open(MDB_txn *txn, unsigned flags, struct membership **out)
{
	struct membership *m = calloc(1, sizeof *m);
	MDB_dbi *dbis[] = { &m->orgs, &m->members, &m->children, &m->roster,
	    &m->index, &m->meta, &m->audit, &m->o3 };
	int rc = 0;

	_Static_assert(sizeof s_dbi_names / sizeof s_dbi_names[0] <= MEMBERSHIP_MAX_DBS,
	    "MEMBERSHIP_MAX_DBS too small");
	if (!m)
		return ENOMEM;
	for (size_t i = 0; i < sizeof dbis / sizeof dbis[0] && rc == 0; i++)
		rc = mdb_dbi_open(txn, s_dbi_names[i], flags, dbis[i]);
	if (rc) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int
membership_open(MDB_txn *txn, struct membership **out)
{
	return s_open(txn, MDB_CREATE, out);
}

/* The handles outlive txn only if the caller commits it (LMDB's rule). */
int
membership_open_readonly(MDB_txn *txn, struct membership **out)
{
	return s_open(txn, 0, out);
}

void
membership_destroy(struct membership **m)
{
	if (!m || !*m)
		return;
	free(*m);
	*m = NULL;
}

/* ---------------------------------------------------------- records */

struct ms_bytes {
	const void *p;
	size_t len;
};

static MDB_val
s_key(const char *s)
{
	MDB_val k = { strlen(s), (void *)s };
	return k;
}

/* Keys must be usable ids: LMDB refuses empty keys. */
static bool
s_key_ok(const char *s)
{
	return s && *s && strlen(s) <= CODEC_MAX_ID;
}

static int
s_record_put(MDB_txn *txn, MDB_dbi dbi, const char *key,
    const struct ms_bytes *extra, unsigned nextra, const ProtobufCMessage *view)
{
	size_t vlen = protobuf_c_message_get_packed_size(view), len = 1 + vlen;
	MDB_val k = s_key(key), d;
	uint8_t *p;
	int rc;

	for (unsigned i = 0; i < nextra; i++)
		len += 2 + extra[i].len;
	d.mv_size = len;
	d.mv_data = NULL;
	if ((rc = ms_put(txn, dbi, &k, &d, MDB_RESERVE)))
		return rc;
	p = d.mv_data;
	*p++ = MS_RECORD_FORMAT;
	for (unsigned i = 0; i < nextra; i++) {
		*p++ = (uint8_t)(extra[i].len >> 8);
		*p++ = (uint8_t)extra[i].len;
		if (extra[i].len)
			memcpy(p, extra[i].p, extra[i].len);
		p += extra[i].len;
	}
	protobuf_c_message_pack(view, p);
	return 0;
}

/* extra[] points into the map: copy before the next write. */
static int
s_record_get(MDB_txn *txn, MDB_dbi dbi, const char *key, struct ms_bytes *extra,
    unsigned nextra, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **view)
{
	MDB_val k, d;
	const uint8_t *p, *end;
	int rc;

	if (!s_key_ok(key))
		return MDB_NOTFOUND;
	k = s_key(key);
	if ((rc = mdb_get(txn, dbi, &k, &d)))
		return rc;
	p = d.mv_data;
	end = p + d.mv_size;
	if (d.mv_size < 1 || *p++ != MS_RECORD_FORMAT)
		return MDB_CORRUPTED;
	for (unsigned i = 0; i < nextra; i++) {
		if (end - p < 2)
			return MDB_CORRUPTED;
		extra[i].len = (size_t)p[0] << 8 | p[1];
		p += 2;
		if ((size_t)(end - p) < extra[i].len)
			return MDB_CORRUPTED;
		extra[i].p = p;
		p += extra[i].len;
	}
	*view = protobuf_c_message_unpack(desc, NULL, (size_t)(end - p), p);
	return *view ? 0 : MDB_CORRUPTED;
}

/* Copy a string into a field of cap bytes; false if it does not fit. */
static bool
s_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		return false;
	memcpy(dst, src ? src : "", n + 1);
	return true;
}

static bool
s_copy_bytes(char *dst, size_t cap, const struct ms_bytes *b)
{
	if (b->len >= cap || memchr(b->p, '\0', b->len))
		return false;
	memcpy(dst, b->p, b->len);
	dst[b->len] = '\0';
	return true;
}

#define COPY(dst, src) s_copy((dst), sizeof(dst), (src))

void
membership_org_view(const struct org_rec *o, Jiceng__V1__OrgView *v)
{
	v->org_id = (char *)o->org_id;
	v->kind = o->kind;
	v->name = (char *)o->name;
	v->parent_id = (char *)o->parent_id;
	v->township_id = (char *)o->township_id;
	v->formation = o->formation;
	v->dissolved = o->dissolved;
	v->established_at = o->established_at;
	v->dissolved_at = o->dissolved_at;
	v->unit_count = o->unit_count;
	v->member_count = o->member_count;
	v->full_member_count = o->full_count;
	v->probationary_count = o->probationary_count;
	v->national_ref = (char *)o->national_ref;
	v->last_seq = o->last_seq;
}

int
membership_org_store(struct membership *m, MDB_txn *txn, const struct org_rec *o)
{
	Jiceng__V1__OrgView v = JICENG__V1__ORG_VIEW__INIT;
	struct ms_bytes ex[] = {
		{ o->approving_id, strlen(o->approving_id) },
		{ o->dissolve_approving_id, strlen(o->dissolve_approving_id) },
		{ o->dissolve_reason, strlen(o->dissolve_reason) },
	};
	membership_org_view(o, &v);
	return s_record_put(txn, m->orgs, o->org_id, ex, 3, &v.base);
}

int
membership_org_load(struct membership *m, MDB_txn *txn, const char *org_id,
    struct org_rec *o)
{
	struct ms_bytes ex[3];
	ProtobufCMessage *msg;
	Jiceng__V1__OrgView *v;
	bool ok;
	int rc = s_record_get(txn, m->orgs, org_id, ex, 3,
	    &jiceng__v1__org_view__descriptor, &msg);
	if (rc)
		return rc;
	v = (Jiceng__V1__OrgView *)msg;
	memset(o, 0, sizeof *o);
	ok = COPY(o->org_id, v->org_id) && COPY(o->name, v->name) &&
	    COPY(o->parent_id, v->parent_id) &&
	    COPY(o->township_id, v->township_id) &&
	    COPY(o->national_ref, v->national_ref) &&
	    s_copy_bytes(o->approving_id, sizeof o->approving_id, &ex[0]) &&
	    s_copy_bytes(o->dissolve_approving_id, sizeof o->dissolve_approving_id, &ex[1]) &&
	    s_copy_bytes(o->dissolve_reason, sizeof o->dissolve_reason, &ex[2]);
	o->kind = v->kind;
	o->formation = v->formation;
	o->dissolved = v->dissolved;
	o->established_at = v->established_at;
	o->dissolved_at = v->dissolved_at;
	o->unit_count = v->unit_count;
	o->member_count = v->member_count;
	o->full_count = v->full_member_count;
	o->probationary_count = v->probationary_count;
	o->last_seq = v->last_seq;
	protobuf_c_message_free_unpacked(msg, NULL);
	return ok ? 0 : MDB_CORRUPTED;
}

void
membership_member_view(const struct member_rec *r, Jiceng__V1__MemberView *v,
    char *ids[MS_MAX_ACTIVITY])
{
	v->member_id = (char *)r->member_id;
	v->home_org_id = (char *)r->home_org_id;
	v->name = (char *)r->name;
	v->id_masked = (char *)r->id_masked;
	v->birth_date = (char *)r->birth_date;
	v->sex = r->sex;
	v->category = r->category;
	v->status = r->status;
	v->admitted_at = r->admitted_at;
	v->confirmed_at = r->confirmed_at;
	v->probation_until = r->probation_until;
	v->probation_extended = r->probation_extended;
	for (unsigned i = 0; i < r->nactivity && i < MS_MAX_ACTIVITY; i++)
		ids[i] = (char *)r->activity[i];
	v->n_activity_org_ids = r->nactivity;
	v->activity_org_ids = r->nactivity ? ids : NULL;
	v->transfer_state = r->transfer_state;
	v->mobility_state = r->mobility_state;
	v->township_id = (char *)r->township_id;
	v->farmer = r->farmer;
	v->phone_masked = (char *)r->phone_masked;
	v->last_seq = r->last_seq;
}

/* First 3 and last 4 characters; a number too short for that is all '*'. */
static void
s_phone_mask(const char *phone, char out[MS_MAX_PHONE + 1])
{
	size_t n = strlen(phone);
	memset(out, '*', n);
	out[n] = '\0';
	if (n >= 8) {
		memcpy(out, phone, 3);
		memcpy(out + n - 4, phone + n - 4, 4);
	}
}

int
membership_member_store(struct membership *m, MDB_txn *txn,
    const struct member_rec *r)
{
	Jiceng__V1__MemberView v = JICENG__V1__MEMBER_VIEW__INIT;
	char *ids[MS_MAX_ACTIVITY], masked[MS_MAX_PHONE + 1];
	struct ms_bytes ex[] = {
		{ r->index, r->has_index ? IDNUM_INDEX_LEN : 0 },
		{ r->phone, strlen(r->phone) },
		{ r->national_ref, strlen(r->national_ref) },
	};
	membership_member_view(r, &v, ids);
	s_phone_mask(r->phone, masked);
	v.phone_masked = masked;
	return s_record_put(txn, m->members, r->member_id, ex, 3, &v.base);
}

static bool
s_member_copy(struct member_rec *r, const Jiceng__V1__MemberView *v,
    const struct ms_bytes ex[3])
{
	bool ok = COPY(r->member_id, v->member_id) &&
	    COPY(r->home_org_id, v->home_org_id) && COPY(r->name, v->name) &&
	    COPY(r->id_masked, v->id_masked) &&
	    COPY(r->birth_date, v->birth_date) &&
	    COPY(r->township_id, v->township_id) &&
	    COPY(r->phone_masked, v->phone_masked) &&
	    v->n_activity_org_ids <= MS_MAX_ACTIVITY &&
	    (ex[0].len == 0 || ex[0].len == IDNUM_INDEX_LEN) &&
	    s_copy_bytes(r->phone, sizeof r->phone, &ex[1]) &&
	    s_copy_bytes(r->national_ref, sizeof r->national_ref, &ex[2]);
	for (size_t i = 0; ok && i < v->n_activity_org_ids; i++)
		ok = COPY(r->activity[i], v->activity_org_ids[i]);
	if (!ok)
		return false;
	r->nactivity = (unsigned)v->n_activity_org_ids;
	r->has_index = ex[0].len == IDNUM_INDEX_LEN;
	if (r->has_index)
		memcpy(r->index, ex[0].p, IDNUM_INDEX_LEN);
	return true;
}

int
membership_member_load(struct membership *m, MDB_txn *txn,
    const char *member_id, struct member_rec *r)
{
	struct ms_bytes ex[3];
	ProtobufCMessage *msg;
	Jiceng__V1__MemberView *v;
	bool ok;
	int rc = s_record_get(txn, m->members, member_id, ex, 3,
	    &jiceng__v1__member_view__descriptor, &msg);
	if (rc)
		return rc;
	v = (Jiceng__V1__MemberView *)msg;
	memset(r, 0, sizeof *r);
	ok = s_member_copy(r, v, ex);
	r->sex = v->sex;
	r->category = v->category;
	r->status = v->status;
	r->admitted_at = v->admitted_at;
	r->confirmed_at = v->confirmed_at;
	r->probation_until = v->probation_until;
	r->probation_extended = v->probation_extended;
	r->transfer_state = v->transfer_state;
	r->mobility_state = v->mobility_state;
	r->farmer = v->farmer;
	r->last_seq = v->last_seq;
	protobuf_c_message_free_unpacked(msg, NULL);
	return ok ? 0 : MDB_CORRUPTED;
}

/* ---------------------------------------------------------- pair keys */

static MDB_val
s_pair(char *buf, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	MDB_val k;
	memcpy(buf, a, la);
	buf[la] = '\0';
	memcpy(buf + la + 1, b, lb);
	k.mv_size = la + 1 + lb;
	k.mv_data = buf;
	return k;
}

int
membership_pair_put(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b)
{
	char buf[2 * CODEC_MAX_ID + 2];
	MDB_val k, d = { 0, "" };
	if (!s_key_ok(a) || !s_key_ok(b))
		return EINVAL;
	k = s_pair(buf, a, b);
	return ms_put(txn, dbi, &k, &d, 0);
}

int
membership_pair_del(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b)
{
	char buf[2 * CODEC_MAX_ID + 2];
	MDB_val k;
	int rc;
	if (!s_key_ok(a) || !s_key_ok(b))
		return 0;
	k = s_pair(buf, a, b);
	rc = ms_del(txn, dbi, &k);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

bool
membership_pair_split(const MDB_val *k, const char *a, char *b)
{
	size_t la = strlen(a), lb;
	const char *p = k->mv_data;
	if (k->mv_size <= la + 1 || memcmp(p, a, la) != 0 || p[la] != '\0')
		return false;
	lb = k->mv_size - la - 1;
	if (lb > CODEC_MAX_ID)
		return false;
	memcpy(b, p + la + 1, lb);
	b[lb] = '\0';
	return true;
}

int
membership_children_each(struct membership *m, MDB_txn *txn, const char *org_id,
    membership_child_fn fn, void *arg)
{
	char key[CODEC_MAX_ID + 2], child[CODEC_MAX_ID + 1];
	MDB_cursor *c;
	MDB_val k, d;
	bool stop = false;
	int rc, op = MDB_SET_RANGE;

	if ((rc = mdb_cursor_open(txn, m->children, &c)))
		return rc;
	k.mv_size = strlen(org_id) + 1;
	k.mv_data = memcpy(key, org_id, k.mv_size);
	while (!stop && (rc = mdb_cursor_get(c, &k, &d, op)) == 0 &&
	    membership_pair_split(&k, org_id, child)) {
		op = MDB_NEXT;
		if ((rc = fn(arg, child, &stop)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---------------------------------------------------------- audit */

static void
s_put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
s_get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

void
membership_audit_key(uint8_t kb[12], uint64_t seq, uint32_t index)
{
	s_put_be(kb, seq, 8);
	s_put_be(kb + 8, index, 4);
}

/* The next free entry number under seq. */
static int
s_audit_next(MDB_cursor *c, uint64_t seq, uint32_t *n)
{
	uint8_t kb[12];
	MDB_val k = { sizeof kb, kb }, d;
	int rc;
	membership_audit_key(kb, seq + 1, 0);
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	rc = rc == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) :
	    rc == MDB_NOTFOUND ? mdb_cursor_get(c, &k, &d, MDB_LAST) : rc;
	*n = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (k.mv_size == 12 && s_get_be(k.mv_data, 8) == seq)
		*n = (uint32_t)s_get_be((const uint8_t *)k.mv_data + 8, 4) + 1;
	return 0;
}

int
membership_audit_add(struct membership *m, MDB_txn *txn, uint64_t seq,
    const char *org_id, const char *rule, const char *text)
{
	const char *parts[] = { org_id, rule, text };
	uint8_t kb[12], *p;
	MDB_val k = { sizeof kb, kb }, d = { 1, NULL };
	MDB_cursor *c;
	uint32_t n;
	int rc;

	/* The bounds membership_audit_decode reads back. */
	if (!s_key_ok(org_id) || strlen(rule) > MS_AUDIT_CODE_MAX ||
	    strlen(text) > MS_AUDIT_TEXT_MAX)
		return EINVAL;
	if ((rc = mdb_cursor_open(txn, m->audit, &c)))
		return rc;
	rc = s_audit_next(c, seq, &n);
	mdb_cursor_close(c);
	if (rc)
		return rc;
	membership_audit_key(kb, seq, n);
	for (int i = 0; i < 3; i++)
		d.mv_size += 2 + strlen(parts[i]);
	if ((rc = ms_put(txn, m->audit, &k, &d, MDB_RESERVE)))
		return rc;
	p = d.mv_data;
	*p++ = MS_RECORD_FORMAT;
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(parts[i]);
		s_put_be(p, len, 2);
		memcpy(p + 2, parts[i], len);
		p += 2 + len;
	}
	return 0;
}

int
membership_audit_decode(const MDB_val *k, const MDB_val *d, struct audit_entry *e)
{
	const uint8_t *p = d->mv_data, *end = p + d->mv_size;
	struct {
		char *dst;
		size_t cap;
	} parts[] = {
		{ e->org_id, sizeof e->org_id },
		{ e->code, sizeof e->code },
		{ e->text, sizeof e->text },
	};

	if (k->mv_size != 12 || d->mv_size < 1 || *p++ != MS_RECORD_FORMAT)
		return MDB_CORRUPTED;
	e->seq = s_get_be(k->mv_data, 8);
	e->index = (uint32_t)s_get_be((const uint8_t *)k->mv_data + 8, 4);
	for (int i = 0; i < 3; i++) {
		size_t len;
		if (end - p < 2)
			return MDB_CORRUPTED;
		len = (size_t)s_get_be(p, 2);
		p += 2;
		if ((size_t)(end - p) < len || len >= parts[i].cap || memchr(p, '\0', len))
			return MDB_CORRUPTED;
		memcpy(parts[i].dst, p, len);
		parts[i].dst[len] = '\0';
		p += len;
	}
	return p == end ? 0 : MDB_CORRUPTED;
}

/* ---------------------------------------------------------- context */

const char *
membership_ev_township(const struct event_ctx *ev)
{
	if (ev->township_id && *ev->township_id)
		return ev->township_id;
	return ev->env->township_id ? ev->env->township_id : "";
}

const Rules *
membership_ev_rules(const struct event_ctx *ev, Rules *buf)
{
	if (ev->rules)
		return ev->rules;
	rules_defaults(buf);
	return buf;
}

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
membership_kind_valid(int kind)
{
	return kind >= JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE &&
	    kind <= JICENG__V1__ORG_KIND__PARTY_GROUP;
}

const char *
membership_kind_zh(int kind)
{
	return s_kind_names[membership_kind_valid(kind) ? kind : 0].zh;
}

const char *
membership_kind_en(int kind)
{
	return s_kind_names[membership_kind_valid(kind) ? kind : 0].en;
}

bool
membership_kind_branch(int kind)
{
	return kind == JICENG__V1__ORG_KIND__BRANCH ||
	    kind == JICENG__V1__ORG_KIND__JOINT_BRANCH ||
	    kind == JICENG__V1__ORG_KIND__TEMPORARY_BRANCH ||
	    kind == JICENG__V1__ORG_KIND__MOBILE_BRANCH;
}

bool
membership_status_counted(int status)
{
	return status == JICENG__V1__MEMBER_STATUS__NORMAL ||
	    status == JICENG__V1__MEMBER_STATUS__SUSPENDED;
}

static const struct {
	const char *zh, *en;
} s_roles[] = {
	[MS_ROLE_ORG] = { "组织", "org" },
	[MS_ROLE_PARENT] = { "上级组织", "parent org" },
	[MS_ROLE_HOME] = { "所在党组织", "home org" },
	[MS_ROLE_ACTIVITY] = { "活动组织", "activity org" },
};

int
membership_org_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *org_id, enum ms_role role,
    unsigned flags, struct org_rec *o, struct verdict *v)
{
	const char *zh = s_roles[role].zh, *en = s_roles[role].en;
	int rc;
	if (!org_id || !*org_id)
		return verdict_reject(v, "UNKNOWN_ORG", "未指定%s / no %s given", zh, en);
	rc = membership_org_load(m, txn, org_id, o);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_ORG", "%s不存在 / %s unknown: %s",
		    zh, en, org_id);
	if (rc)
		return rc;
	if (!(flags & MS_ANY_TOWNSHIP) &&
	    strcmp(o->township_id, membership_ev_township(ev)) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP",
		    "%s属于其他乡镇 / %s %s belongs to township %s", zh, en,
		    org_id, o->township_id);
	if ((flags & MS_LIVE) && o->dissolved)
		return verdict_reject(v, "ORG_DISSOLVED", "%s已撤销 / %s dissolved: %s",
		    zh, en, org_id);
	return 0;
}

int
membership_member_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *member_id, struct member_rec *r,
    struct verdict *v)
{
	int rc = membership_member_load(m, txn, member_id, r);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_MEMBER", "党员不存在 / unknown member: %s",
		    member_id ? member_id : "");
	if (rc)
		return rc;
	if (strcmp(r->township_id, membership_ev_township(ev)) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP",
		    "党员属于其他乡镇 / member %s belongs to township %s",
		    member_id, r->township_id);
	return 0;
}

/* ---------------------------------------------------------- calendar (CST) */

#define MS_CST_OFFSET (8 * 3600000LL)

static int64_t
s_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
s_clamp(int64_t ms)
{
	return ms > MS_TIME_MAX ? MS_TIME_MAX : ms < -MS_TIME_MAX ? -MS_TIME_MAX : ms;
}

int64_t
membership_cst_days(int64_t ms)
{
	return s_floordiv(s_clamp(ms) + MS_CST_OFFSET, MS_DAY_MS);
}

void
membership_cst_date(int64_t ms, int *y, int *mo, int *d)
{
	civil_from_days(membership_cst_days(ms), y, mo, d);
}

int64_t
membership_add_months(int64_t ms, int months)
{
	int64_t local = s_clamp(ms) + MS_CST_OFFSET;
	int64_t days = s_floordiv(local, MS_DAY_MS), tod = local - days * MS_DAY_MS;
	int64_t total, ny;
	int y, m, d, nm;
	civil_from_days(days, &y, &m, &d);
	total = (int64_t)y * 12 + (m - 1) + months;
	ny = s_floordiv(total, 12);
	nm = (int)(total - ny * 12) + 1;
	if (d > civil_month_days((int)ny, nm))
		d = civil_month_days((int)ny, nm);
	return civil_to_days(ny, nm, d) * MS_DAY_MS + tod - MS_CST_OFFSET;
}

bool
membership_date_parse(const char *s, int *y, int *mo, int *d)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	*y = atoi(s);
	*mo = atoi(s + 5);
	*d = atoi(s + 8);
	return *y >= 1800 && *y <= 2099 && *mo >= 1 && *mo <= 12 && *d >= 1 &&
	    *d <= civil_month_days(*y, *mo);
}

int
membership_age_at(int by, int bm, int bd, int64_t at)
{
	int y, m, d;
	membership_cst_date(at, &y, &m, &d);
	return y - by - (m < bm || (m == bm && d < bd));
}

bool
membership_time_valid(int64_t t)
{
	return t > 0 && t <= MS_TIME_MAX;
}

/* Workers never read the clock: "the future" is the event's journal time. */
int
membership_time_check(const struct event_ctx *ev, int64_t t, bool required,
    const char *zh, const char *field, const char *id, struct verdict *v)
{
	if (t == 0 && !required)
		return 0;
	if (t == 0)
		return verdict_reject(v, "BAD_FIELD", "须提供%s / %s is required: %s",
		    zh, field, id);
	if (!membership_time_valid(t))
		return verdict_reject(v, "BAD_FIELD", "%s无效 / %s must be positive Unix ms "
		    "before year 10000: %s", zh, field, id);
	if (t > ev->received_at + MS_TIME_SKEW_MS)
		return verdict_reject(v, "FUTURE_TIME", "%s晚于接收时间%lld分钟以上 / %s is more "
		    "than %lld minutes after the journal time: %s", zh,
		    MS_TIME_SKEW_MS / 60000, field, MS_TIME_SKEW_MS / 60000, id);
	return 0;
}

/* ---------------------------------------------------------- member counts */

struct ms_contrib {
	uint32_t total, full, prob;
};

static struct ms_contrib
s_contrib(const struct member_rec *r)
{
	struct ms_contrib c = { 0, 0, 0 };
	if (r && membership_status_counted(r->status)) {
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
	int rc = membership_org_load(m, txn, org_id, &o);
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
	return membership_org_store(m, txn, &o);
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
	int rc = membership_children_each(t->m, t->txn, o->org_id, s_subtree, t);
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
	if ((rc = membership_org_load(t->m, t->txn, org_id, &o)))
		return rc;
	return s_subtree_of(t, &o);
}

int
membership_subtree_counts(struct membership *m, MDB_txn *txn,
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
	if (membership_kind_branch(o->kind) && n > rl->org_branch_max_members)
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
		if ((rc = membership_org_load(m, txn, o->parent_id, &p)))
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
		parent = &p;
	}
	if (parent)
		pkind = parent->kind;
	*village = s_village_level(o, pkind);
	if (!*village && !membership_kind_branch(o->kind))
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
		if ((rc = membership_org_load(m, txn, id, &chain[*n])))
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
	const Rules *rl = membership_ev_rules(ev, &buf);
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
static int
s_o4_audit(struct membership *m, MDB_txn *txn, uint64_t seq, const Rules *was,
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
		if ((rc = membership_org_load(m, txn, org_id, &o)))
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
			rc = membership_audit_add(m, txn, seq, o.org_id, "O4", text);
		}
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
membership_counts_update(struct membership *m, MDB_txn *txn,
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

/* ---------------------------------------------------------- rules setting */

static const MDB_val s_rules_key = { 5, "rules" };

/* proto3 cannot tell an unset field from 0: a 0 setting means the default. */
int
membership_rules(struct membership *m, MDB_txn *txn, Rules *out)
{
	MDB_val k = s_rules_key, d;
	Rules *r;
	int rc;

	rules_defaults(out);
	rc = mdb_get(txn, m->meta, &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (!(r = jiceng__v1__rules__unpack(NULL, d.mv_size, d.mv_data)))
		return MDB_CORRUPTED;
#define TAKE(f) if (r->f) out->f = r->f
	TAKE(org_min_full_members_days);
	TAKE(org_branch_max_members);
	TAKE(org_village_committee_members);
	TAKE(member_min_admission_age);
	TAKE(transfer_max_valid_days);
	TAKE(transfer_receipt_days);
	TAKE(mobile_lost_contact_months);
	TAKE(mobile_fixed_place_months);
	TAKE(member_inactive_months);
	TAKE(funds_max_single_fen);
	TAKE(funds_activity_per_member_min_fen);
	TAKE(dues_max_months_back);
#undef TAKE
	jiceng__v1__rules__free_unpacked(r, NULL);
	return 0;
}

static int
s_apply_rules_changed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev)
{
	Rules empty = JICENG__V1__RULES__INIT, was, now;
	const Rules *r = ev->env->rules_changed->rules;
	MDB_val k = s_rules_key, d;
	int rc;

	if (!r)
		r = &empty;
	if ((rc = membership_rules(m, txn, &was)))
		return rc;
	d.mv_size = jiceng__v1__rules__get_packed_size(r);
	d.mv_data = NULL;
	if ((rc = ms_put(txn, m->meta, &k, &d, MDB_RESERVE)))
		return rc;
	jiceng__v1__rules__pack(r, d.mv_data);
	if ((rc = membership_rules(m, txn, &now)))
		return rc;
	return s_o4_audit(m, txn, ev->seq, &was, &now);
}

/* ---------------------------------------------------------- dispatch */

/*
 * Tick duties, once per Tick event (hourly and at jicengd start-up):
 *   - O3: branches whose grace period ended are audited (orgs.c).
 */
static int
s_apply_tick(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	return membership_orgs_o3_audit(m, txn, ev);
}

bool
membership_owns(EventCase c)
{
	return codec_event_domain(c) == DOMAIN_MEMBERSHIP;
}

/* The event message of the envelope's oneof, NULL if absent. */
static const void *
s_event_message(const Envelope *e)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field(e->base.descriptor, e->event_case);
	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	return *(const void *const *)((const char *)e + f->offset);
}

int
membership_apply(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v,
    struct status_changes *status)
{
	EventCase c = ev->env->event_case;

	(void)status;   /* no mobility changes in this build */
	verdict_accept(v);
	if (c == JICENG__V1__ENVELOPE__EVENT__NOT_SET)
		return 0;
	if (!s_event_message(ev->env))
		return verdict_reject(v, "NO_EVENT", "事件为空 / the event %s is empty",
		    codec_event_name(c));
	switch (c) {
	case JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED:
		return membership_apply_org_established(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED:
		return membership_apply_org_updated(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED:
		return membership_apply_org_dissolved(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED:
		return membership_apply_member_registered(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED:
		return membership_apply_member_admitted(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED:
		return membership_apply_member_confirmed(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_PROBATION_EXTENDED:
		return membership_apply_probation_extended(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED:
		return membership_apply_member_status_changed(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED:
		return membership_apply_member_updated(m, txn, ev, v);
	case JICENG__V1__ENVELOPE__EVENT_TICK:
		return s_apply_tick(m, txn, ev);
	case JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED:
		return s_apply_rules_changed(m, txn, ev);
	default:
		if (membership_owns(c))
			return verdict_reject(v, "UNSUPPORTED_EVENT",
			    "本版本未实现该事件 / %s is not implemented in this build",
			    codec_event_name(c));
		return 0;   /* meetings and funds: not membership's */
	}
}
