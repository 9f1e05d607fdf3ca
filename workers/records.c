/*
 * records: the membership module's tables, its stored records and their
 * indexes, the audit table and the change log (records.h). No rule lives
 * here; see the rule files.
 */
#include "records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- counted writes */

static uint64_t s_writes;
static uint64_t s_changes;

uint64_t
membership_writes(void)
{
	return s_writes;
}

uint64_t
membership_changes_written(void)
{
	return s_changes;
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
	"orgs_o3_pending", "transfers", "transfers_by_member",
	"transfers_open_by_org", "transfers_open_by_township",
	"transfers_expiry", "mobile_episodes", "mobile_by_member",
	"mobile_open_by_org", "mobile_open_by_township", "mobile_contact_due",
	"mobile_review_due", "mobile_hosted", "status_log", "status_current",
};

int
records_open(MDB_txn *txn, unsigned flags, struct membership **out)
{
	struct membership *m = calloc(1, sizeof *m);
	if (!m)
		return ENOMEM;
	MDB_dbi *dbis[] = { &m->orgs, &m->members, &m->children, &m->roster,
	    &m->index, &m->meta, &m->audit, &m->o3, &m->transfers, &m->tr_member,
	    &m->tr_org, &m->tr_twp, &m->tr_expiry, &m->episodes, &m->ep_member,
	    &m->ep_org, &m->ep_twp, &m->ep_contact, &m->ep_review, &m->hosted,
	    &m->changes, &m->current };
	int rc = 0;

	_Static_assert(sizeof s_dbi_names / sizeof s_dbi_names[0] <= MEMBERSHIP_MAX_DBS,
	    "MEMBERSHIP_MAX_DBS too small");
	_Static_assert(sizeof dbis / sizeof dbis[0] == sizeof s_dbi_names / sizeof s_dbi_names[0],
	    "one name per table");
	for (size_t i = 0; i < sizeof dbis / sizeof dbis[0] && rc == 0; i++)
		rc = mdb_dbi_open(txn, s_dbi_names[i], flags, dbis[i]);
	if (rc) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void
records_close(struct membership **m)
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
s_record_put_at(MDB_txn *txn, MDB_dbi dbi, MDB_val k,
    const struct ms_bytes *extra, unsigned nextra, const ProtobufCMessage *view)
{
	size_t vlen = protobuf_c_message_get_packed_size(view), len = 1 + vlen;
	MDB_val d;
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

static int
s_record_put(MDB_txn *txn, MDB_dbi dbi, const char *key,
    const struct ms_bytes *extra, unsigned nextra, const ProtobufCMessage *view)
{
	return s_record_put_at(txn, dbi, s_key(key), extra, nextra, view);
}

/* extra[] points into the map: copy before the next write. */
static int
s_record_get_at(MDB_txn *txn, MDB_dbi dbi, MDB_val k, struct ms_bytes *extra,
    unsigned nextra, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **view)
{
	MDB_val d;
	const uint8_t *p, *end;
	int rc;

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

static int
s_record_get(MDB_txn *txn, MDB_dbi dbi, const char *key, struct ms_bytes *extra,
    unsigned nextra, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **view)
{
	if (!s_key_ok(key))
		return MDB_NOTFOUND;
	return s_record_get_at(txn, dbi, s_key(key), extra, nextra, desc, view);
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
records_org_view(const struct org_rec *o, Jiceng__V1__OrgView *v)
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
records_org_store(struct membership *m, MDB_txn *txn, const struct org_rec *o)
{
	Jiceng__V1__OrgView v = JICENG__V1__ORG_VIEW__INIT;
	struct ms_bytes ex[] = {
		{ o->approving_id, strlen(o->approving_id) },
		{ o->dissolve_approving_id, strlen(o->dissolve_approving_id) },
		{ o->dissolve_reason, strlen(o->dissolve_reason) },
	};
	records_org_view(o, &v);
	return s_record_put(txn, m->orgs, o->org_id, ex, 3, &v.base);
}

int
records_org_load(struct membership *m, MDB_txn *txn, const char *org_id,
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
records_member_view(const struct member_rec *r, Jiceng__V1__MemberView *v,
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
	v->transfer_id = (char *)r->transfer_id;
	v->flow_id = (char *)r->flow_id;
	v->host_org_id = (char *)r->host_org_id;
	v->transferred_out = r->transferred_out;
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
records_member_store(struct membership *m, MDB_txn *txn,
    const struct member_rec *r)
{
	Jiceng__V1__MemberView v = JICENG__V1__MEMBER_VIEW__INIT;
	char *ids[MS_MAX_ACTIVITY], masked[MS_MAX_PHONE + 1];
	struct ms_bytes ex[] = {
		{ r->index, r->has_index ? IDNUM_INDEX_LEN : 0 },
		{ r->phone, strlen(r->phone) },
		{ r->national_ref, strlen(r->national_ref) },
	};
	records_member_view(r, &v, ids);
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
	    COPY(r->transfer_id, v->transfer_id) && COPY(r->flow_id, v->flow_id) &&
	    COPY(r->host_org_id, v->host_org_id) &&
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
records_member_load(struct membership *m, MDB_txn *txn,
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
	r->transferred_out = v->transferred_out;
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
records_pair_put(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b)
{
	char buf[2 * CODEC_MAX_ID + 2];
	MDB_val k, d = { 0, "" };
	if (!s_key_ok(a) || !s_key_ok(b))
		return EINVAL;
	k = s_pair(buf, a, b);
	return ms_put(txn, dbi, &k, &d, 0);
}

int
records_pair_del(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b)
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
records_pair_split(const MDB_val *k, const char *a, char *b)
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
records_pair_each(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *after,
    records_pair_fn fn, void *arg)
{
	char key[2 * CODEC_MAX_ID + 2], b[CODEC_MAX_ID + 1];
	MDB_cursor *c;
	MDB_val k, d;
	bool stop = false;
	int rc, op = MDB_SET_RANGE;

	if (!s_key_ok(a) || strlen(after) > CODEC_MAX_ID)
		return 0;
	if ((rc = mdb_cursor_open(txn, dbi, &c)))
		return rc;
	k = s_pair(key, a, after);
	while (!stop && (rc = mdb_cursor_get(c, &k, &d, op)) == 0 &&
	    records_pair_split(&k, a, b)) {
		op = MDB_NEXT;
		if (*after && strcmp(b, after) == 0)
			continue;
		if ((rc = fn(arg, b, &stop)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
records_children_each(struct membership *m, MDB_txn *txn, const char *org_id,
    records_pair_fn fn, void *arg)
{
	return records_pair_each(txn, m->children, org_id, "", fn, arg);
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

bool
records_seq_key_split(const MDB_val *k, uint64_t *seq, uint32_t *index)
{
	if (k->mv_size != 12)
		return false;
	*seq = s_get_be(k->mv_data, 8);
	*index = (uint32_t)s_get_be((const uint8_t *)k->mv_data + 8, 4);
	return true;
}

void
records_seq_key(uint8_t kb[12], uint64_t seq, uint32_t index)
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
	records_seq_key(kb, seq + 1, 0);
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
records_audit_add(struct membership *m, MDB_txn *txn, uint64_t seq,
    const char *org_id, const char *rule, const char *text)
{
	const char *parts[] = { org_id, rule, text };
	uint8_t kb[12], *p;
	MDB_val k = { sizeof kb, kb }, d = { 1, NULL };
	MDB_cursor *c;
	uint32_t n;
	int rc;

	/* The bounds records_audit_decode reads back. */
	if (!s_key_ok(org_id) || strlen(rule) > MS_AUDIT_CODE_MAX ||
	    strlen(text) > MS_AUDIT_TEXT_MAX)
		return EINVAL;
	if ((rc = mdb_cursor_open(txn, m->audit, &c)))
		return rc;
	rc = s_audit_next(c, seq, &n);
	mdb_cursor_close(c);
	if (rc)
		return rc;
	records_seq_key(kb, seq, n);
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
records_audit_decode(const MDB_val *k, const MDB_val *d, struct audit_entry *e)
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

	if (!records_seq_key_split(k, &e->seq, &e->index) || d->mv_size < 1 ||
	    *p++ != MS_RECORD_FORMAT)
		return MDB_CORRUPTED;
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
records_ev_township(const struct event_ctx *ev)
{
	if (ev->township_id && *ev->township_id)
		return ev->township_id;
	return ev->env->township_id ? ev->env->township_id : "";
}

const Rules *
records_ev_rules(const struct event_ctx *ev, Rules *buf)
{
	if (ev->rules)
		return ev->rules;
	rules_defaults(buf);
	return buf;
}

bool
records_time_valid(int64_t t)
{
	return t >= RECORDS_TIME_MIN && t <= CIVIL_TIME_MAX;
}

/* Workers never read the clock: "the future" is the event's journal time. */
int
records_time_check(const struct event_ctx *ev, int64_t t, bool required,
    const char *zh, const char *field, const char *id, struct verdict *v)
{
	if (t == 0 && !required)
		return 0;
	if (t == 0)
		return verdict_reject(v, "BAD_FIELD", "须提供%s / %s is required: %s",
		    zh, field, id);
	if (!records_time_valid(t))
		return verdict_reject(v, "BAD_FIELD", "%s须在1900-01-01（北京时间）之后 / %s must be "
		    "Unix ms from 1900-01-01 00:00 CST (%lld) to year 9999: %s", zh, field,
		    (long long)RECORDS_TIME_MIN, id);
	if (t > ev->received_at + MS_TIME_SKEW_MS)
		return verdict_reject(v, "FUTURE_TIME", "%s晚于接收时间%lld分钟以上 / %s is more "
		    "than %lld minutes after the journal time: %s", zh,
		    MS_TIME_SKEW_MS / 60000, field, MS_TIME_SKEW_MS / 60000, id);
	return 0;
}

/* ---------------------------------------------------------- transfers */

static void
s_external_view(const struct external_org *x, Jiceng__V1__ExternalOrg *v,
    Jiceng__V1__ExternalOrg **slot)
{
	*slot = NULL;
	if (!x->area_code[0])
		return;
	v->area_code = (char *)x->area_code;
	v->org_name = (char *)x->org_name;
	*slot = v;
}

static bool
s_external_copy(struct external_org *x, const Jiceng__V1__ExternalOrg *v)
{
	memset(x, 0, sizeof *x);
	return !v || (COPY(x->area_code, v->area_code) && COPY(x->org_name, v->org_name));
}

void
records_transfer_view(const struct transfer_rec *t, Jiceng__V1__TransferView *v,
    Jiceng__V1__ExternalOrg *from, Jiceng__V1__ExternalOrg *to)
{
	v->transfer_id = (char *)t->transfer_id;
	v->member_id = (char *)t->member_id;
	v->state = t->state;
	v->from_org_id = (char *)t->from_org_id;
	v->from_township_id = (char *)t->from_township_id;
	s_external_view(&t->from_external, from, &v->from_external);
	v->to_org_id = (char *)t->to_org_id;
	v->to_township_id = (char *)t->to_township_id;
	s_external_view(&t->to_external, to, &v->to_external);
	v->letter_no = (char *)t->letter_no;
	v->issued_at = t->issued_at;
	v->valid_days = t->valid_days;
	v->valid_until = t->valid_until;
	v->dues_paid_through = t->dues_paid_through;
	v->received_at = t->received_at;
	v->receipt_returned_at = t->receipt_returned_at;
	v->closed_at = t->closed_at;
	v->reason = (char *)t->reason;
	v->opened_seq = t->opened_seq;
	v->last_seq = t->last_seq;
	v->closed_flow_id = (char *)t->closed_flow_id;
}

int
records_transfer_load(struct membership *m, MDB_txn *txn, const char *transfer_id,
    struct transfer_rec *t)
{
	ProtobufCMessage *msg;
	Jiceng__V1__TransferView *v;
	bool ok;
	int rc = s_record_get(txn, m->transfers, transfer_id, NULL, 0,
	    &jiceng__v1__transfer_view__descriptor, &msg);
	if (rc)
		return rc;
	v = (Jiceng__V1__TransferView *)msg;
	memset(t, 0, sizeof *t);
	ok = COPY(t->transfer_id, v->transfer_id) && COPY(t->member_id, v->member_id) &&
	    COPY(t->from_org_id, v->from_org_id) &&
	    COPY(t->from_township_id, v->from_township_id) &&
	    s_external_copy(&t->from_external, v->from_external) &&
	    COPY(t->to_org_id, v->to_org_id) && COPY(t->to_township_id, v->to_township_id) &&
	    s_external_copy(&t->to_external, v->to_external) &&
	    COPY(t->letter_no, v->letter_no) && COPY(t->reason, v->reason) &&
	    COPY(t->closed_flow_id, v->closed_flow_id);
	t->state = v->state;
	t->issued_at = v->issued_at;
	t->valid_days = v->valid_days;
	t->valid_until = v->valid_until;
	t->dues_paid_through = v->dues_paid_through;
	t->received_at = v->received_at;
	t->receipt_returned_at = v->receipt_returned_at;
	t->closed_at = v->closed_at;
	t->opened_seq = v->opened_seq;
	t->last_seq = v->last_seq;
	protobuf_c_message_free_unpacked(msg, NULL);
	return ok ? 0 : MDB_CORRUPTED;
}

/* Time keys: the instant offset by 2^63, big-endian, then the id. */
static MDB_val
s_time_key(uint8_t *buf, int64_t t, const char *id)
{
	size_t n = strlen(id);
	MDB_val k = { 8 + n, buf };
	s_put_be(buf, (uint64_t)t ^ (1ull << 63), 8);
	memcpy(buf + 8, id, n);
	return k;
}

static int
s_time_put(MDB_txn *txn, MDB_dbi dbi, int64_t t, const char *id)
{
	uint8_t buf[8 + CODEC_MAX_ID];
	MDB_val k, d = { 0, "" };
	if (!s_key_ok(id))
		return EINVAL;
	k = s_time_key(buf, t, id);
	return ms_put(txn, dbi, &k, &d, 0);
}

static int
s_time_del(MDB_txn *txn, MDB_dbi dbi, int64_t t, const char *id)
{
	uint8_t buf[8 + CODEC_MAX_ID];
	MDB_val k;
	int rc;
	if (!s_key_ok(id))
		return 0;
	k = s_time_key(buf, t, id);
	rc = ms_del(txn, dbi, &k);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Put (on) or delete (!on) the pair "a NUL b", a and b optional. */
static int
s_pair_set(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b, bool on)
{
	if (!a[0] || !b[0])
		return 0;
	return on ? records_pair_put(txn, dbi, a, b) : records_pair_del(txn, dbi, a, b);
}

static bool
s_transfer_open(int state)
{
	return state == JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED ||
	    state == JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED;
}

/* Add (on) or remove a transfer's index entries. */
static int
s_transfer_index(struct membership *m, MDB_txn *txn, const struct transfer_rec *t,
    bool on)
{
	bool open = s_transfer_open(t->state);
	int rc;
	if ((rc = s_pair_set(txn, m->tr_member, t->member_id, t->transfer_id, on)))
		return rc;
	if (open && ((rc = s_pair_set(txn, m->tr_org, t->from_org_id, t->transfer_id, on)) ||
	    (rc = s_pair_set(txn, m->tr_org, t->to_org_id, t->transfer_id, on)) ||
	    (rc = s_pair_set(txn, m->tr_twp, t->from_township_id, t->transfer_id, on)) ||
	    (strcmp(t->to_township_id, t->from_township_id) != 0 &&
	    (rc = s_pair_set(txn, m->tr_twp, t->to_township_id, t->transfer_id, on)))))
		return rc;
	if (t->state != JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED)
		return 0;
	return on ? s_time_put(txn, m->tr_expiry, t->valid_until, t->transfer_id) :
	    s_time_del(txn, m->tr_expiry, t->valid_until, t->transfer_id);
}

int
records_transfer_store(struct membership *m, MDB_txn *txn,
    const struct transfer_rec *before, const struct transfer_rec *t)
{
	Jiceng__V1__TransferView v = JICENG__V1__TRANSFER_VIEW__INIT;
	Jiceng__V1__ExternalOrg from = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__ExternalOrg to = JICENG__V1__EXTERNAL_ORG__INIT;
	int rc;
	if (before && (rc = s_transfer_index(m, txn, before, false)))
		return rc;
	records_transfer_view(t, &v, &from, &to);
	if ((rc = s_record_put(txn, m->transfers, t->transfer_id, NULL, 0, &v.base)))
		return rc;
	return s_transfer_index(m, txn, t, true);
}

/* ---------------------------------------------------------- mobile episodes */

bool
records_episode_open(int state)
{
	return state == JICENG__V1__MOBILITY_STATE__AWAITING_REPORT ||
	    state == JICENG__V1__MOBILITY_STATE__REPORTED ||
	    state == JICENG__V1__MOBILITY_STATE__LOST_CONTACT;
}

void
records_episode_view(const struct episode_rec *e, Jiceng__V1__MobileEpisodeView *v)
{
	v->flow_id = (char *)e->flow_id;
	v->member_id = (char *)e->member_id;
	v->state = e->state;
	v->home_org_id = (char *)e->home_org_id;
	v->home_township_id = (char *)e->home_township_id;
	v->destination_code = (char *)e->destination_code;
	v->host_org_id = (char *)e->host_org_id;
	v->host_org_name = (char *)e->host_org_name;
	v->host_township_id = (char *)e->host_township_id;
	v->expected_host_org_id = (char *)e->expected_host_org_id;
	v->reason = (char *)e->reason;
	v->expected_months = e->expected_months;
	v->certificate_no = (char *)e->certificate_no;
	v->fixed_place = e->fixed_place;
	v->departed_at = e->departed_at;
	v->reported_at = e->reported_at;
	v->last_contact_at = e->last_contact_at;
	v->certificate_reviewed_at = e->certificate_reviewed_at;
	v->returned_at = e->returned_at;
	v->closed_by_transfer_id = (char *)e->closed_by_transfer_id;
	v->lost_contact_since = e->lost_contact_since;
	v->review_overdue_at = e->review_overdue_at;
	v->opened_seq = e->opened_seq;
	v->last_seq = e->last_seq;
}

int
records_episode_load(struct membership *m, MDB_txn *txn, const char *flow_id,
    struct episode_rec *e)
{
	ProtobufCMessage *msg;
	Jiceng__V1__MobileEpisodeView *v;
	bool ok;
	int rc = s_record_get(txn, m->episodes, flow_id, NULL, 0,
	    &jiceng__v1__mobile_episode_view__descriptor, &msg);
	if (rc)
		return rc;
	v = (Jiceng__V1__MobileEpisodeView *)msg;
	memset(e, 0, sizeof *e);
	ok = COPY(e->flow_id, v->flow_id) && COPY(e->member_id, v->member_id) &&
	    COPY(e->home_org_id, v->home_org_id) &&
	    COPY(e->home_township_id, v->home_township_id) &&
	    COPY(e->destination_code, v->destination_code) &&
	    COPY(e->host_org_id, v->host_org_id) && COPY(e->host_org_name, v->host_org_name) &&
	    COPY(e->host_township_id, v->host_township_id) &&
	    COPY(e->expected_host_org_id, v->expected_host_org_id) &&
	    COPY(e->reason, v->reason) && COPY(e->certificate_no, v->certificate_no) &&
	    COPY(e->closed_by_transfer_id, v->closed_by_transfer_id);
	e->state = v->state;
	e->expected_months = v->expected_months;
	e->fixed_place = v->fixed_place;
	e->departed_at = v->departed_at;
	e->reported_at = v->reported_at;
	e->last_contact_at = v->last_contact_at;
	e->certificate_reviewed_at = v->certificate_reviewed_at;
	e->returned_at = v->returned_at;
	e->lost_contact_since = v->lost_contact_since;
	e->review_overdue_at = v->review_overdue_at;
	e->opened_seq = v->opened_seq;
	e->last_seq = v->last_seq;
	protobuf_c_message_free_unpacked(msg, NULL);
	return ok ? 0 : MDB_CORRUPTED;
}

/* From when the next L4 finding is counted: the latest of departure (the
 * certificate is issued then), review and the last finding. */
static int64_t
s_review_base(const struct episode_rec *e)
{
	int64_t t = e->departed_at;
	if (e->certificate_reviewed_at > t)
		t = e->certificate_reviewed_at;
	return e->review_overdue_at > t ? e->review_overdue_at : t;
}

static int
s_time_set(MDB_txn *txn, MDB_dbi dbi, int64_t t, const char *id, bool on)
{
	return on ? s_time_put(txn, dbi, t, id) : s_time_del(txn, dbi, t, id);
}

/* Add (on) or remove an episode's index entries. */
static int
s_episode_index(struct membership *m, MDB_txn *txn, const struct episode_rec *e,
    bool on)
{
	bool open = records_episode_open(e->state);
	int rc;
	if ((rc = s_pair_set(txn, m->ep_member, e->member_id, e->flow_id, on)) || !open)
		return rc;
	if ((rc = s_pair_set(txn, m->ep_org, e->home_org_id, e->flow_id, on)) ||
	    (strcmp(e->host_org_id, e->home_org_id) != 0 &&
	    (rc = s_pair_set(txn, m->ep_org, e->host_org_id, e->flow_id, on))) ||
	    (rc = s_pair_set(txn, m->ep_twp, e->home_township_id, e->flow_id, on)) ||
	    (strcmp(e->host_township_id, e->home_township_id) != 0 &&
	    (rc = s_pair_set(txn, m->ep_twp, e->host_township_id, e->flow_id, on))) ||
	    (rc = s_time_set(txn, m->ep_review, s_review_base(e), e->flow_id, on)))
		return rc;
	if (e->state != JICENG__V1__MOBILITY_STATE__LOST_CONTACT &&
	    (rc = s_time_set(txn, m->ep_contact, e->last_contact_at, e->flow_id, on)))
		return rc;
	if (!e->host_org_id[0])
		return 0;
	if (!on) {
		rc = records_pair_del(txn, m->hosted, e->host_org_id, e->member_id);
		return rc;
	}
	char buf[2 * CODEC_MAX_ID + 2];
	MDB_val k = s_pair(buf, e->host_org_id, e->member_id);
	MDB_val d = { strlen(e->flow_id), (void *)e->flow_id };
	return ms_put(txn, m->hosted, &k, &d, 0);
}

int
records_episode_store(struct membership *m, MDB_txn *txn,
    const struct episode_rec *before, const struct episode_rec *e)
{
	Jiceng__V1__MobileEpisodeView v = JICENG__V1__MOBILE_EPISODE_VIEW__INIT;
	int rc;
	if (before && (rc = s_episode_index(m, txn, before, false)))
		return rc;
	records_episode_view(e, &v);
	if ((rc = s_record_put(txn, m->episodes, e->flow_id, NULL, 0, &v.base)))
		return rc;
	return s_episode_index(m, txn, e, true);
}

/* ---------------------------------------------------------- due indexes */

int
records_due_each(MDB_txn *txn, MDB_dbi index, records_due_fn due,
    records_id_fn fn, void *arg)
{
	char (*ids)[CODEC_MAX_ID + 1] = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c;
	MDB_val k, d;
	int rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, index, &c)))
		return rc;
	for (; (rc = mdb_cursor_get(c, &k, &d, op)) == 0; op = MDB_NEXT) {
		if (k.mv_size <= 8 || k.mv_size > 8 + CODEC_MAX_ID) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (!due(arg, (int64_t)(s_get_be(k.mv_data, 8) ^ (1ull << 63))))
			break;
		if (n == cap) {
			void *grown = realloc(ids, (cap = cap ? 2 * cap : 64) * sizeof *ids);
			if (!grown) {
				rc = ENOMEM;
				break;
			}
			ids = grown;
		}
		memcpy(ids[n], (const char *)k.mv_data + 8, k.mv_size - 8);
		ids[n++][k.mv_size - 8] = '\0';
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND || rc == 0)
		rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fn(arg, ids[i]);
	free(ids);
	return rc;
}

/* ---------------------------------------------------------- change log */

/* The key of the change log's last entry ((0, 0) when empty). */
static int
s_change_last(struct membership *m, MDB_txn *txn, uint64_t *seq, uint32_t *index)
{
	MDB_val k, d;
	MDB_cursor *c;
	int rc;
	*seq = 0;
	*index = 0;
	if ((rc = mdb_cursor_open(txn, m->changes, &c)))
		return rc;
	rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
	if (rc == 0 && !records_seq_key_split(&k, seq, index))
		rc = MDB_CORRUPTED;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A new member (b NULL) is logged only when it arrives in a transfer or
 * mobility state (a transfer into the county). */
static bool
s_member_changed(const struct member_rec *b, const struct member_rec *a)
{
	if (!b)
		return a->transfer_state || a->mobility_state;
	return b->mobility_state != a->mobility_state ||
	    b->transfer_state != a->transfer_state ||
	    strcmp(b->home_org_id, a->home_org_id) != 0 ||
	    strcmp(b->host_org_id, a->host_org_id) != 0 ||
	    strcmp(b->township_id, a->township_id) != 0 ||
	    strcmp(b->flow_id, a->flow_id) != 0 ||
	    strcmp(b->transfer_id, a->transfer_id) != 0 ||
	    b->transferred_out != a->transferred_out;
}

int
membership_changes_head(struct membership *m, MDB_txn *txn, uint64_t *seq, uint32_t *index)
{
	int rc = s_change_last(m, txn, seq, index);
	if (rc == 0 && *seq == 0 && *index == 0)
		rc = records_change_pruned(m, txn, seq, index);
	return rc;
}

int
records_change_log(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct member_rec *before, const struct member_rec *after,
    const struct episode_rec *ep)
{
	StatusChange sc = JICENG__V1__STATUS_CHANGE__INIT;
	uint8_t kb[12];
	MDB_val k = { sizeof kb, kb }, d;
	uint32_t n;
	int rc;

	if (!s_member_changed(before, after))
		return 0;
	if ((rc = membership_changes_head(m, txn, &sc.prev_seq, &sc.prev_index)))
		return rc;
	n = sc.prev_seq == ev->seq ? sc.prev_index + 1 : 0;
	sc.seq = ev->seq;
	sc.index = n;
	sc.member_id = (char *)after->member_id;
	sc.state = after->mobility_state;
	sc.previous_state = before ? before->mobility_state : 0;
	sc.transfer_state = after->transfer_state;
	sc.previous_transfer_state = before ? before->transfer_state : 0;
	sc.transfer_id = (char *)after->transfer_id;
	sc.home_org_id = (char *)after->home_org_id;
	sc.host_org_id = (char *)after->host_org_id;
	sc.flow_id = (char *)after->flow_id;
	sc.township_id = (char *)after->township_id;
	sc.transferred_out = after->transferred_out;
	sc.changed_at = ev->received_at;
	if (before && strcmp(before->home_org_id, after->home_org_id) != 0)
		sc.previous_home_org_id = (char *)before->home_org_id;
	if (before && strcmp(before->township_id, after->township_id) != 0)
		sc.previous_township_id = (char *)before->township_id;
	struct org_rec was_host;
	if (before && before->host_org_id[0] &&
	    strcmp(before->host_org_id, after->host_org_id) != 0) {
		sc.previous_host_org_id = (char *)before->host_org_id;
		if ((rc = records_org_load(m, txn, before->host_org_id, &was_host)) == 0)
			sc.previous_host_township_id = was_host.township_id;
		else if (rc != MDB_NOTFOUND)
			return rc;
	}
	if (ep && strcmp(ep->flow_id, after->flow_id) == 0) {
		sc.place_code = (char *)ep->destination_code;
		if (after->host_org_id[0])
			sc.host_township_id = (char *)ep->host_township_id;
	}
	records_seq_key(kb, ev->seq, n);
	d.mv_size = jiceng__v1__status_change__get_packed_size(&sc);
	d.mv_data = NULL;
	if ((rc = ms_put(txn, m->changes, &k, &d, MDB_RESERVE)))
		return rc;
	jiceng__v1__status_change__pack(&sc, d.mv_data);
	s_changes++;
	MDB_val mk = s_key(after->member_id), md = { d.mv_size, d.mv_data };
	return ms_put(txn, m->current, &mk, &md, 0);
}

static const MDB_val s_pruned_key = { 20, "status_pruned_through" };

int
records_change_pruned(struct membership *m, MDB_txn *txn, uint64_t *seq, uint32_t *index)
{
	MDB_val k = s_pruned_key, d;
	int rc = mdb_get(txn, m->meta, &k, &d);
	*seq = 0;
	*index = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (d.mv_size != 12)
		return MDB_CORRUPTED;
	*seq = s_get_be(d.mv_data, 8);
	*index = (uint32_t)s_get_be((const uint8_t *)d.mv_data + 8, 4);
	return 0;
}

int
records_change_prune(struct membership *m, MDB_txn *txn, const struct event_ctx *ev)
{
	Rules buf;
	const Rules *rl = records_ev_rules(ev, &buf);
	int64_t cutoff = ev->received_at - (int64_t)rl->status_retention_days * CIVIL_DAY_MS;
	uint8_t last[12];
	bool pruned = false;
	MDB_stat st;
	MDB_cursor *c;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_stat(txn, m->changes, &st)) || (rc = mdb_cursor_open(txn, m->changes, &c)))
		return rc;
	size_t n = st.ms_entries;
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size != 12) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (n <= rl->status_retention_changes) {
			StatusChange *sc = jiceng__v1__status_change__unpack(NULL, d.mv_size, d.mv_data);
			bool old = sc && sc->changed_at < cutoff;
			if (!sc) {
				rc = MDB_CORRUPTED;
				break;
			}
			jiceng__v1__status_change__free_unpacked(sc, NULL);
			if (!old)
				break;
		}
		memcpy(last, k.mv_data, sizeof last);
		if ((rc = ms_cursor_del(c)))
			break;
		pruned = true;
		n--;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (!pruned)
		return 0;
	MDB_val pk = s_pruned_key, pd = { sizeof last, last };
	return ms_put(txn, m->meta, &pk, &pd, 0);
}

int
membership_changes_each(struct membership *m, MDB_txn *txn, uint64_t from,
    uint64_t to, membership_change_fn fn, void *arg)
{
	uint8_t kb[12];
	MDB_val k = { sizeof kb, kb }, d;
	MDB_cursor *c;
	int rc, op = MDB_SET_RANGE;

	if ((rc = mdb_cursor_open(txn, m->changes, &c)))
		return rc;
	records_seq_key(kb, from, 0);
	for (; (rc = mdb_cursor_get(c, &k, &d, op)) == 0; op = MDB_NEXT) {
		uint64_t seq;
		uint32_t index;
		if (!records_seq_key_split(&k, &seq, &index)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (seq > to)
			break;
		fn(arg, seq, d.mv_data, d.mv_size);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---------------------------------------------------------- other domains */

int
records_view_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const ProtobufCMessage *view)
{
	if (!s_key_ok(key))
		return EINVAL;
	return s_record_put(txn, dbi, key, NULL, 0, view);
}

int
records_view_get(MDB_txn *txn, MDB_dbi dbi, const char *key,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **view)
{
	return s_record_get(txn, dbi, key, NULL, 0, desc, view);
}

int
records_pair_view_put(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b,
    const ProtobufCMessage *view)
{
	char buf[2 * CODEC_MAX_ID + 2];
	if (!s_key_ok(a) || !s_key_ok(b))
		return EINVAL;
	return s_record_put_at(txn, dbi, s_pair(buf, a, b), NULL, 0, view);
}

int
records_pair_view_get(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **view)
{
	char buf[2 * CODEC_MAX_ID + 2];
	if (!s_key_ok(a) || !s_key_ok(b))
		return MDB_NOTFOUND;
	return s_record_get_at(txn, dbi, s_pair(buf, a, b), NULL, 0, desc, view);
}

int
records_orgs_each(struct membership *m, MDB_txn *txn, records_org_fn fn, void *arg)
{
	char org_id[CODEC_MAX_ID + 1];
	struct org_rec o;
	bool stop = false;
	MDB_cursor *c;
	MDB_val k, d;
	int rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, m->orgs, &c)))
		return rc;
	for (; !stop && (rc = mdb_cursor_get(c, &k, &d, op)) == 0; op = MDB_NEXT) {
		if (k.mv_size == 0 || k.mv_size > CODEC_MAX_ID) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(org_id, k.mv_data, k.mv_size);
		org_id[k.mv_size] = '\0';
		if ((rc = records_org_load(m, txn, org_id, &o)) || (rc = fn(arg, &o, &stop)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
