/*
 * codec: decoding and structural checks of envelopes, the unknown fields
 * dropped and the envelope packed again, ack packing, and the table of
 * event kinds (name, owning domain, implemented in this build). The checks
 * here are generic: they walk protobuf-c descriptors, so a new event
 * message is checked without code added here.
 */
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- event kinds */

static const struct {
	EventCase kind;
	const char *name;
	enum domain domain;
	bool implemented;
} s_kinds[] = {
	{ JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, "org_established", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED, "org_updated", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, "org_dissolved", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, "member_registered", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, "member_admitted", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED, "member_confirmed", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_PROBATION_EXTENDED, "probation_extended", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, "member_status_changed", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, "member_updated", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, "transfer_issued", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, "transfer_received", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, "transfer_receipt_returned", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED, "transfer_rejected", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, "transfer_revoked", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, "mobile_departed", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, "mobile_reported", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, "mobile_contacted", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED, "certificate_reviewed", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, "mobile_returned", DOMAIN_MEMBERSHIP, true },
	{ JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, "meeting_held", DOMAIN_MEETINGS, true },
	{ JICENG__V1__ENVELOPE__EVENT_APPRAISAL_RECORDED, "appraisal_recorded", DOMAIN_MEETINGS, true },
	{ JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, "budget_allocated", DOMAIN_FUNDS, true },
	{ JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, "fund_disbursed", DOMAIN_FUNDS, true },
	{ JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED, "disbursement_reversed", DOMAIN_FUNDS, true },
	{ JICENG__V1__ENVELOPE__EVENT_DUES_PAID, "dues_paid", DOMAIN_FUNDS, true },
	{ JICENG__V1__ENVELOPE__EVENT_TICK, "tick", DOMAIN_NONE, true },
	{ JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED, "rules_changed", DOMAIN_NONE, true },
};

#define NKINDS (sizeof s_kinds / sizeof s_kinds[0])

static const char *s_domain_names[DOMAIN_COUNT] = { "membership", "meetings", "funds" };

const char *
codec_domain_name(enum domain d)
{
	return d >= 0 && d < DOMAIN_COUNT ? s_domain_names[d] : NULL;
}

enum domain
codec_domain_from_name(const char *s)
{
	for (int d = 0; d < DOMAIN_COUNT; d++)
		if (strcmp(s, s_domain_names[d]) == 0)
			return (enum domain)d;
	return DOMAIN_NONE;
}

static int
s_kind_index(EventCase c)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (s_kinds[i].kind == c)
			return (int)i;
	return -1;
}

const void *
codec_event_message(const Envelope *e)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field(e->base.descriptor, e->event_case);
	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	return *(const void *const *)((const char *)e + f->offset);
}

void
codec_event_set(Envelope *e, EventCase c, void *msg)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field(&jiceng__v1__envelope__descriptor, c);
	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return;
	e->event_case = c;
	*(void **)((char *)e + f->offset) = msg;
}

enum domain
codec_event_domain(EventCase c)
{
	int i = s_kind_index(c);
	return i < 0 ? DOMAIN_NONE : s_kinds[i].domain;
}

const char *
codec_event_name(EventCase c)
{
	int i = s_kind_index(c);
	return i < 0 ? "none" : s_kinds[i].name;
}

bool
codec_event_reserved(EventCase c)
{
	return c == JICENG__V1__ENVELOPE__EVENT_TICK ||
	    c == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED;
}

bool
codec_event_implemented(EventCase c)
{
	int i = s_kind_index(c);
	return i >= 0 && s_kinds[i].implemented;
}

/* ---------------------------------------------------------- text checks */

bool
codec_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			if (c == 0)
				return false;
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool
codec_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > CODEC_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

bool
codec_township_valid(const char *s)
{
	if (!s || strlen(s) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return strcmp(s + 9, "000") == 0 && strcmp(s + 6, "000000") != 0;
}

/* ---------------------------------------------------------- generic walk */

static bool
s_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int s_fail(struct codec_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(struct codec_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
	return -1;
}

static int s_check_message(const ProtobufCMessage *m, const char *path,
    struct codec_error *err);

static int
s_check_string(const char *s, const ProtobufCFieldDescriptor *f, const char *path,
    struct codec_error *err)
{
	size_t len = strlen(s);
	bool is_id = s_ends_with(f->name, "_id") || s_ends_with(f->name, "_ids");
	if (!codec_utf8_valid(s, len))
		return s_fail(err, "BAD_UTF8", "字段不是有效的UTF-8 / field %s%s is not valid UTF-8", path, f->name);
	if (is_id && len > 0 && !codec_id_valid(s))
		return s_fail(err, "BAD_ID", "标识符格式错误 / field %s%s must be 1-64 bytes of [A-Za-z0-9._:-]", path, f->name);
	if (!is_id && len > CODEC_MAX_TEXT)
		return s_fail(err, "TOO_LONG", "字段过长 / field %s%s is longer than 256 bytes", path, f->name);
	return 0;
}

static int
s_check_value(const ProtobufCFieldDescriptor *f, const void *p, const char *path,
    struct codec_error *err)
{
	char sub[160];
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return s_check_string(*(char *const *)p, f, path, err);
	case PROTOBUF_C_TYPE_ENUM:
		if (!protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p))
			return s_fail(err, "BAD_ENUM", "未知的枚举值 / field %s%s has an unknown enum value", path, f->name);
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (!*(ProtobufCMessage *const *)p)
			return 0;
		snprintf(sub, sizeof sub, "%s%s.", path, f->name);
		return s_check_message(*(ProtobufCMessage *const *)p, sub, err);
	default:
		return 0;
	}
}

static size_t
s_value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
	case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
	default: return 0;
	}
}

static int
s_check_message(const ProtobufCMessage *m, const char *path, struct codec_error *err)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		size_t vs = s_value_size(f);
		if (vs == 0)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(const char *const *)(base + f->offset);
			if (n > CODEC_MAX_REPEATED)
				return s_fail(err, "TOO_LONG", "重复字段条目过多 / field %s%s has more than 1000 entries", path, f->name);
			for (size_t k = 0; k < n; k++)
				if (s_check_value(f, arr + k * vs, path, err) < 0)
					return -1;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (s_check_value(f, base + f->offset, path, err) < 0)
			return -1;
	}
	return 0;
}

/* The event message's own id (its field number 1 when named *_id) is required. */
static int
s_check_event_id_field(const ProtobufCMessage *ev, const char *kind, struct codec_error *err)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(ev->descriptor, 1);
	if (!f || f->type != PROTOBUF_C_TYPE_STRING || !s_ends_with(f->name, "_id"))
		return 0;
	const char *s = *(char *const *)((const char *)ev + f->offset);
	if (!s || !*s)
		return s_fail(err, "BAD_ID", "缺少标识符 / %s.%s is required", kind, f->name);
	return 0;
}

static int
s_check_envelope(const Envelope *e, struct codec_error *err)
{
	if (e->event_case == JICENG__V1__ENVELOPE__EVENT__NOT_SET) {
		if (e->base.n_unknown_fields > 0)
			return s_fail(err, "UNKNOWN_EVENT", "本版本不认识的事件类型 / the event kind is unknown to this version (unknown field)");
		return s_fail(err, "NO_EVENT", "信封中没有事件 / the envelope carries no event");
	}
	if (!codec_id_valid(e->event_id))
		return s_fail(err, "BAD_ID", "event_id 必须是1-64字节的[A-Za-z0-9._:-] / event_id must be 1-64 bytes of [A-Za-z0-9._:-]");
	if (!codec_township_valid(e->township_id))
		return s_fail(err, "BAD_TOWNSHIP", "township_id 必须是以000结尾的12位区划代码 / township_id must be a 12-digit area code ending in 000");
	if (e->occurred_at <= 0)
		return s_fail(err, "BAD_TIME", "occurred_at 必须为正的Unix毫秒 / occurred_at must be positive Unix ms");
	if (codec_event_reserved(e->event_case))
		return s_fail(err, "RESERVED_EVENT", "该事件只能由jicengd写入 / %s is written by jicengd only", codec_event_name(e->event_case));
	const ProtobufCMessage *ev = (const ProtobufCMessage *)codec_event_message(e);
	if (!ev)
		return s_fail(err, "NO_EVENT", "事件为空 / the event %s is empty", codec_event_name(e->event_case));
	if (s_check_message(&e->base, "", err) < 0)
		return -1;
	return s_check_event_id_field(ev, codec_event_name(e->event_case), err);
}

/* ---------------------------------------------------------- unknown fields */

/* protobuf-c keeps the fields it does not know (base.unknown_fields) and
 * packs them again as it read them, except the field number: a tag written
 * in more bytes than it needs comes out short, so field number 0, which an
 * overlong tag can spell and protobuf-c accepts, comes out as the one-byte
 * tag 0 that protobuf-c itself refuses. Hence: field 0 refuses the frame,
 * and every other unknown field is dropped before an envelope is packed
 * for the journal. */

struct unknown_walk {
	struct codec_unknown *u;   /* where they are noted, or NULL */
	unsigned n;                /* unknown fields seen */
	bool zero;                 /* one of them was field number 0 */
	bool strip;                /* drop them */
};

/* Add "path+tag" to u's list unless it is there already. */
static void
s_unknown_note(struct codec_unknown *u, const char *path, uint32_t tag)
{
	char one[200], list[CODEC_UNKNOWN_TEXT + 4];
	size_t have = strlen(u->fields), len;
	snprintf(one, sizeof one, ", %s%u,", path, tag);
	snprintf(list, sizeof list, ", %s,", u->fields);
	if (strstr(list, one) || (have >= 3 && strcmp(u->fields + have - 3, "...") == 0))
		return;
	len = strlen(one) - 1;  /* without the trailing comma */
	if (have == 0) {
		memmove(one, one + 2, len - 2);
		len -= 2;
	}
	if (have + len + sizeof ", ..." > sizeof u->fields) {
		snprintf(u->fields + have, sizeof u->fields - have, "%s...", have ? ", " : "");
		return;
	}
	memcpy(u->fields + have, one, len);
	u->fields[have + len] = '\0';
}

static void
s_unknown_walk(ProtobufCMessage *m, const char *path, struct unknown_walk *w)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	char *base = (char *)m, sub[160];
	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		w->n++;
		w->zero |= m->unknown_fields[i].tag == 0;
		if (w->u)
			s_unknown_note(w->u, path, m->unknown_fields[i].tag);
		if (w->strip)
			free(m->unknown_fields[i].data);
	}
	if (w->strip) {
		free(m->unknown_fields);
		m->unknown_fields = NULL;
		m->n_unknown_fields = 0;
	}
	/* The path is only made for a field that holds a message: the
	 * envelope's oneof has some thirty, one set (this walk runs on every
	 * envelope jicengd takes). */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage **arr = *(ProtobufCMessage ***)(base + f->offset);
			if (n)
				snprintf(sub, sizeof sub, "%s%s.", path, f->name);
			for (size_t k = 0; k < n; k++)
				if (arr[k])
					s_unknown_walk(arr[k], sub, w);
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		ProtobufCMessage *sm = *(ProtobufCMessage **)(base + f->offset);
		if (!sm)
			continue;
		snprintf(sub, sizeof sub, "%s%s.", path, f->name);
		s_unknown_walk(sm, sub, w);
	}
}

unsigned
codec_envelope_strip_unknown(Envelope *e, struct codec_unknown *u)
{
	struct unknown_walk w = { .u = u, .strip = true };
	if (u)
		memset(u, 0, sizeof *u);
	s_unknown_walk(&e->base, "", &w);
	if (u)
		u->n = w.n;
	return w.n;
}

int
codec_envelope_pack(const Envelope *e, uint8_t **out, size_t *len)
{
	*len = jiceng__v1__envelope__get_packed_size(e);
	if (!(*out = malloc(*len ? *len : 1)))
		return -1;
	jiceng__v1__envelope__pack(e, *out);
	return 0;
}

static bool
s_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *i < len; shift += 7) {
		uint8_t b = p[(*i)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Does a string field anywhere in the wire bytes hold a NUL? protobuf-c
 * would cut it short at the NUL, silently storing less than was sent. */
static bool
s_wire_has_nul(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth)
{
	size_t i = 0;
	uint64_t key, l;
	while (i < len && s_varint(p, len, &i, &key)) {
		switch (key & 7) {
		case 0: if (!s_varint(p, len, &i, &l)) return false; break;
		case 1: i += 8; break;
		case 5: i += 4; break;
		case 2: {
			if (!s_varint(p, len, &i, &l) || l > len - i)
				return false;
			const ProtobufCFieldDescriptor *f =
			    protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p + i, 0, l))
				return true;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 16 &&
			    s_wire_has_nul(f->descriptor, p + i, l, depth + 1))
				return true;
			i += l;
			break;
		}
		default:
			return false;
		}
	}
	return false;
}

void
codec_envelope_peek_id(const uint8_t *buf, size_t len, char out[CODEC_MAX_ID + 1])
{
	size_t i = 0;
	uint64_t key, l;
	out[0] = '\0';
	while (i < len && s_varint(buf, len, &i, &key)) {
		switch (key & 7) {
		case 0: if (!s_varint(buf, len, &i, &l)) return; break;
		case 1: if (len - i < 8) return; i += 8; break;
		case 5: if (len - i < 4) return; i += 4; break;
		case 2:
			if (!s_varint(buf, len, &i, &l) || l > len - i)
				return;
			if (key >> 3 == 1) {
				if (l > 0 && l <= CODEC_MAX_ID && !memchr(buf + i, 0, l)) {
					memcpy(out, buf + i, l);
					out[l] = '\0';
					if (!codec_id_valid(out))
						out[0] = '\0';
				}
				return;
			}
			i += l;
			break;
		default:
			return;
		}
	}
}

Envelope *
codec_envelope_decode(const uint8_t *buf, size_t len, struct codec_error *err)
{
	err->event_id[0] = 0;
	if (len > CODEC_MAX_FRAME) {
		err->code = "OVERSIZE";
		snprintf(err->reason, sizeof err->reason,
		    "消息过大 / frame of %zu bytes exceeds the %u-byte limit", len, CODEC_MAX_FRAME);
		return NULL;
	}
	Envelope *e = jiceng__v1__envelope__unpack(NULL, len, buf);
	if (!e) {
		err->code = "MALFORMED";
		snprintf(err->reason, sizeof err->reason,
		    "无法解析为Envelope / not a valid jiceng.v1.Envelope protobuf (%zu bytes)", len);
		return NULL;
	}
	struct unknown_walk w = { 0 };
	s_unknown_walk(&e->base, "", &w);
	if (w.zero) {
		/* Not a protobuf encoding: refused like one that does not parse. */
		err->code = "MALFORMED";
		snprintf(err->reason, sizeof err->reason,
		    "字段编号0无效 / field number 0 is not valid in a protobuf message (%zu bytes)", len);
		jiceng__v1__envelope__free_unpacked(e, NULL);
		return NULL;
	}
	bool nul = s_wire_has_nul(&jiceng__v1__envelope__descriptor, buf, len, 0);
	if (nul) {
		err->code = "BAD_UTF8";
		snprintf(err->reason, sizeof err->reason,
		    "字符串中含有NUL字符 / a string field contains a NUL character");
	}
	if (nul || s_check_envelope(e, err) < 0) {
		if (codec_id_valid(e->event_id))
			snprintf(err->event_id, sizeof err->event_id, "%s", e->event_id);
		jiceng__v1__envelope__free_unpacked(e, NULL);
		return NULL;
	}
	return e;
}

Envelope *
codec_envelope_unpack(const uint8_t *buf, size_t len)
{
	return jiceng__v1__envelope__unpack(NULL, len, buf);
}

void
codec_envelope_free(Envelope *e)
{
	if (e)
		jiceng__v1__envelope__free_unpacked(e, NULL);
}

/* ---------------------------------------------------------- acks */

size_t
codec_ack_pack(const Ack *a, uint8_t **out)
{
	size_t n = jiceng__v1__ack__get_packed_size(a);
	*out = malloc(n ? n : 1);
	if (!*out)
		return 0;
	return jiceng__v1__ack__pack(a, *out);
}

size_t
codec_ack_refusal(const char *event_id, Jiceng__V1__Verdict verdict,
    const char *code, const char *reason, uint8_t **out)
{
	Ack a = JICENG__V1__ACK__INIT;
	char safe_id[CODEC_MAX_ID + 1] = "";
	/* Echo the id only when it is printable and valid, never raw bytes. */
	if (event_id && codec_id_valid(event_id))
		snprintf(safe_id, sizeof safe_id, "%s", event_id);
	a.event_id = safe_id;
	a.verdict = verdict;
	a.code = (char *)code;
	a.reason = (char *)reason;
	return codec_ack_pack(&a, out);
}

const char *
codec_verdict_name(Jiceng__V1__Verdict v)
{
	const ProtobufCEnumValue *ev =
	    protobuf_c_enum_descriptor_get_value(&jiceng__v1__verdict__descriptor, (int)v);
	return ev ? ev->name : "VERDICT_UNSPECIFIED";
}

void
rules_defaults(Rules *r)
{
	jiceng__v1__rules__init(r);
	r->org_min_full_members_days = 90;
	r->org_branch_max_members = 50;
	r->org_village_committee_members = 100;
	r->member_min_admission_age = 18;
	r->transfer_max_valid_days = 90;
	r->transfer_receipt_days = 30;
	r->mobile_lost_contact_months = 6;
	r->mobile_fixed_place_months = 6;
	r->member_inactive_months = 6;
	r->funds_max_single_fen = 10000000;
	r->funds_activity_per_member_min_fen = 6000;
	r->dues_max_months_back = 6;
	r->status_retention_days = 30;
	r->status_retention_changes = 1000000;
	r->meetings_assembly_per_quarter = 1;
	r->meetings_committee_per_month = 1;
	r->meetings_group_per_month = 1;
	r->meetings_lecture_per_quarter = 1;
	r->meetings_themed_day_per_month = 1;
	r->meetings_org_life_per_year = 1;
	r->meetings_appraisal_per_year = 1;
}
