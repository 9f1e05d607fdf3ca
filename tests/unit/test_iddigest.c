/*
 * Unit tests of the ID digest (lib/iddigest.c): what jicengd journals in
 * place of a resident ID number, and the rules reading it as they read the
 * number itself.
 */
#include "membership_fx.h"

#include <stdio.h>
#include <stdlib.h>

#include "iddigest.h"

#define ID_A "11010519491231002X"   /* female (17th digit 2), born 1949-12-31 */
#define ID_A_LOWER "11010519491231002x"
#define NOW 1700000000000LL          /* 2023-11-15, the broker's clock in these tests */

static bool
s_contains(const uint8_t *buf, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(buf + i, s, k) == 0)
			return true;
	return false;
}

/* An envelope of a MemberAdmitted carrying idnum, as the decoder would
 * hand it over (heap strings). Free with codec_envelope_free. */
static Envelope *
s_admitted(const char *member, const char *idnum)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	e.event_id = "ev-1";
	e.township_id = TS1;
	e.occurred_at = 1700000000000;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED;
	e.member_admitted = &a;
	a.member_id = (char *)member;
	a.org_id = "B";
	a.name = "王五";
	a.id_number = (char *)idnum;
	a.admitted_at = 1600000000000;
	uint8_t buf[512];
	size_t n = jiceng__v1__envelope__pack(&e, buf);
	return codec_envelope_unpack(buf, n);
}

static void
test_digest_replaces_number(void **state)
{
	(void)state;
	uint8_t key[IDNUM_KEY_LEN], *out = NULL, want[IDNUM_INDEX_LEN];
	size_t n = 0;
	struct codec_error err;
	memset(key, 0x5a, sizeof key);
	idnum_blind_index(key, ID_A, want);

	Envelope *e = s_admitted("m1", ID_A_LOWER);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n, NULL, &err), 0);
	assert_int_equal(strlen(e->member_admitted->id_number), 0);  /* wiped */
	assert_null(e->member_admitted->id_digest);
	assert_false(s_contains(out, n, "19491231002"));
	assert_false(s_contains(out, n, "1949123"));
	codec_envelope_free(e);

	Envelope *d = codec_envelope_unpack(out, n);
	assert_non_null(d);
	const Jiceng__V1__MemberAdmitted *a = d->member_admitted;
	assert_string_equal(a->id_number, "");
	assert_non_null(a->id_digest);
	assert_true(iddigest_valid(a->id_digest));
	assert_int_equal(a->id_digest->blind_index.len, IDNUM_INDEX_LEN);
	assert_memory_equal(a->id_digest->blind_index.data, want, IDNUM_INDEX_LEN);  /* x as X */
	assert_string_equal(a->id_digest->masked, "110105********002X");
	assert_string_equal(a->id_digest->birth_date, "1949-12-31");
	assert_int_equal(a->id_digest->sex, JICENG__V1__SEX__FEMALE);
	assert_string_equal(a->member_id, "m1");
	assert_string_equal(a->name, "王五");
	codec_envelope_free(d);

	/* The same event twice packs to the same bytes: a resend is a DUPLICATE. */
	uint8_t *again = NULL;
	size_t n2 = 0;
	e = s_admitted("m1", ID_A);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &again, &n2, NULL, &err), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(again, out, n);
	codec_envelope_free(e);
	free(again);
	free(out);
}

static void
test_digest_refusals(void **state)
{
	(void)state;
	uint8_t key[IDNUM_KEY_LEN] = { 0 }, *out = NULL;
	size_t n = 0;
	struct codec_error err;

	Envelope *e = s_admitted("m1", "110105194912310021");  /* wrong check character */
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_ID_NUMBER");
	assert_string_equal(err.event_id, "ev-1");
	assert_null(strstr(err.reason, "1949"));
	assert_non_null(strstr(err.reason, "check"));
	assert_null(out);
	codec_envelope_free(e);

	/* A digest is jicengd's to fill, never the client's. */
	e = s_admitted("m1", "");
	Jiceng__V1__IdDigest forged = JICENG__V1__ID_DIGEST__INIT;
	e->member_admitted->id_digest = &forged;
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	assert_null(out);
	e->member_admitted->id_digest = NULL;
	/* No number: packed as it came. */
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n, NULL, &err), 0);
	assert_non_null(out);
	codec_envelope_free(e);
	e = codec_envelope_unpack(out, n);
	assert_non_null(e);
	assert_string_equal(e->member_admitted->id_number, "");
	assert_null(e->member_admitted->id_digest);
	codec_envelope_free(e);
	free(out);
}

/* A county key resending a record as a jicengd journaled it (jicengctl
 * resend-tail): its digest is kept, byte for byte, never digested again,
 * so the resend is the journaled bytes (a DUPLICATE where they are
 * journaled already); a township key may not send one, nor may anyone a
 * digest beside a number or one jicengd would not make. */
static void
test_digest_resent_by_county(void **state)
{
	(void)state;
	uint8_t key[IDNUM_KEY_LEN], *journaled = NULL, *out = NULL;
	size_t jn = 0, n = 0;
	struct codec_error err;
	memset(key, 0x5a, sizeof key);
	Envelope *e = s_admitted("m1", ID_A);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &journaled, &jn, NULL, &err), 0);
	codec_envelope_free(e);

	e = codec_envelope_unpack(journaled, jn);
	assert_non_null(e);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	assert_null(out);
	uint8_t other[IDNUM_KEY_LEN] = { 0 };  /* no key is used: nothing is digested */
	assert_int_equal(iddigest_envelope(e, other, NOW, true, &out, &n, NULL, &err), 0);
	assert_int_equal(n, jn);
	assert_memory_equal(out, journaled, jn);
	free(out);
	out = NULL;

	/* A number beside it; a digest jicengd would not make. */
	char *none = e->member_admitted->id_number;
	e->member_admitted->id_number = (char *)ID_A;
	assert_int_equal(iddigest_envelope(e, key, NOW, true, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	e->member_admitted->id_number = none;
	e->member_admitted->id_digest->blind_index.len = 8;
	assert_int_equal(iddigest_envelope(e, key, NOW, true, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	assert_null(out);
	e->member_admitted->id_digest->blind_index.len = IDNUM_INDEX_LEN;

	/* scrub-ids' mark of a number that failed its check is one of them. */
	Jiceng__V1__IdDigest *made = e->member_admitted->id_digest, mark;
	iddigest_invalid(&mark, IDNUM_BAD_CHECK);
	e->member_admitted->id_digest = &mark;
	assert_int_equal(iddigest_envelope(e, key, NOW, true, &out, &n, NULL, &err), 0);
	free(out);
	out = NULL;
	mark.sex = JICENG__V1__SEX__MALE;
	assert_int_equal(iddigest_envelope(e, key, NOW, true, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	e->member_admitted->id_digest = made;
	codec_envelope_free(e);
	free(journaled);
}

static void
test_digest_shapes(void **state)
{
	(void)state;
	uint8_t index[IDNUM_INDEX_LEN] = { 1 };
	Jiceng__V1__IdDigest d = JICENG__V1__ID_DIGEST__INIT;
	d.blind_index.data = index;
	d.blind_index.len = sizeof index;
	d.masked = "110105********002X";
	d.birth_date = "1949-12-31";
	d.sex = JICENG__V1__SEX__FEMALE;
	assert_true(iddigest_valid(&d));
	d.blind_index.len = 31;
	assert_false(iddigest_valid(&d));
	d.blind_index.len = sizeof index;
	d.masked = "11010519491231002X";  /* a clear number is not a mask */
	assert_false(iddigest_valid(&d));
	d.masked = "110105********002X";
	d.birth_date = "19491231";
	assert_false(iddigest_valid(&d));
	d.birth_date = "1949-12-31";
	d.sex = JICENG__V1__SEX__SEX_UNSPECIFIED;
	assert_false(iddigest_valid(&d));
}

/* The rules read a digest as they read the number: masked display, R4
 * across a digested and a clear (older journal) event, a contradiction. */
static void
test_rules_read_digest(void **state)
{
	struct fx *f = *state;
	uint8_t *out = NULL;
	size_t n = 0;
	struct codec_error err;
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	o.org_id = "T";
	o.kind = JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
	o.name = "镇党委";
	o.parent_id = "";
	o.approving_org_id = "";
	o.established_at = f->now - DAY;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o));
	o.org_id = "B";
	o.kind = JICENG__V1__ORG_KIND__BRANCH;
	o.parent_id = "T";
	o.approving_org_id = "T";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o));

	Envelope *e = s_admitted("m1", ID_A);
	assert_int_equal(iddigest_envelope(e, f->key, NOW, false, &out, &n, NULL, &err), 0);
	codec_envelope_free(e);
	Envelope *d = codec_envelope_unpack(out, n);
	d->member_admitted->admitted_at = f->now - DAY;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, d->member_admitted));

	Jiceng__V1__MemberView mv;
	MDB_txn *txn;
	jiceng__v1__member_view__init(&mv);
	assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(membership_get_member(f->m, txn, "m1", &mv), 0);
	assert_string_equal(mv.id_masked, "110105********002X");
	assert_string_equal(mv.birth_date, "1949-12-31");
	membership_free_member_view(&mv);
	mdb_txn_abort(txn);

	/* The same person under another id, sent as a clear number. */
	Envelope *c = s_admitted("m2", ID_A_LOWER);
	c->member_admitted->admitted_at = f->now - DAY;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, c->member_admitted), "R4");
	codec_envelope_free(c);

	/* A digest whose birth date the event contradicts; a malformed one.
	 * (The decoder's strings are put back before it frees them.) */
	Jiceng__V1__MemberAdmitted *a = d->member_admitted;
	char *member_id = a->member_id, *birth = a->birth_date;
	a->member_id = (char *)"m3";
	a->birth_date = (char *)"1950-01-01";
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, a), "BAD_ID_NUMBER");
	a->birth_date = birth;
	a->id_digest->blind_index.len = 8;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, a), "BAD_ID_NUMBER");
	a->id_digest->blind_index.len = IDNUM_INDEX_LEN;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, a), "R4");  /* m1's digest */
	a->member_id = member_id;
	codec_envelope_free(d);
	free(out);
}

/* An envelope of a TransferReceived from outside the county whose member
 * record carries idnum (NULL: no record). Free with codec_envelope_free. */
static Envelope *
s_transferred_in(const char *member, const char *idnum)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__TransferReceived t = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__ExternalOrg x = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	e.event_id = "ev-2";
	e.township_id = TS1;
	e.occurred_at = 1700000000000;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED;
	e.transfer_received = &t;
	t.transfer_id = "in1";
	t.to_org_id = "B";
	t.received_at = 1700000000000;
	x.area_code = "320506";
	x.org_name = "吴中区某村党支部";
	t.from_external = &x;
	t.member_id = (char *)member;
	r.member_id = (char *)member;
	r.name = "李四";
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = 1600000000000;
	r.confirmed_at = 1640000000000;
	r.id_number = (char *)(idnum ? idnum : "");
	t.member = idnum ? &r : NULL;
	uint8_t buf[512];
	size_t n = jiceng__v1__envelope__pack(&e, buf);
	return codec_envelope_unpack(buf, n);
}

/* A member transferred in from outside the county carries its record: the
 * number in it is digested like MemberRegistered's, and read by the rules. */
static void
test_digest_transfer_received(void **state)
{
	struct fx *f = *state;
	uint8_t *out = NULL, want[IDNUM_INDEX_LEN];
	size_t n = 0;
	struct codec_error err;
	idnum_blind_index(f->key, ID_A, want);

	Envelope *e = s_transferred_in("m1", NULL);       /* no record: nothing to digest */
	assert_int_equal(iddigest_envelope(e, f->key, NOW, false, &out, &n, NULL, &err), 0);
	free(out);
	codec_envelope_free(e);
	e = s_transferred_in("m1", "");                   /* a record without number */
	assert_int_equal(iddigest_envelope(e, f->key, NOW, false, &out, &n, NULL, &err), 0);
	free(out);
	Jiceng__V1__IdDigest forged = JICENG__V1__ID_DIGEST__INIT;
	e->transfer_received->member->id_digest = &forged;
	assert_int_equal(iddigest_envelope(e, f->key, NOW, false, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	e->transfer_received->member->id_digest = NULL;
	codec_envelope_free(e);
	e = s_transferred_in("m1", "110105194912310021");  /* wrong check character */
	assert_int_equal(iddigest_envelope(e, f->key, NOW, false, &out, &n, NULL, &err), -1);
	assert_string_equal(err.code, "BAD_ID_NUMBER");
	assert_string_equal(err.event_id, "ev-2");
	codec_envelope_free(e);

	e = s_transferred_in("m1", ID_A_LOWER);
	assert_int_equal(iddigest_envelope(e, f->key, NOW, false, &out, &n, NULL, &err), 0);
	assert_int_equal(strlen(e->transfer_received->member->id_number), 0);  /* wiped */
	codec_envelope_free(e);
	assert_false(s_contains(out, n, "19491231002"));
	Envelope *d = codec_envelope_unpack(out, n);
	assert_non_null(d);
	const Jiceng__V1__MemberRegistered *r = d->transfer_received->member;
	assert_string_equal(r->id_number, "");
	assert_non_null(r->id_digest);
	assert_true(iddigest_valid(r->id_digest));
	assert_memory_equal(r->id_digest->blind_index.data, want, IDNUM_INDEX_LEN);
	assert_string_equal(r->id_digest->masked, "110105********002X");
	assert_string_equal(d->transfer_received->from_external->area_code, "320506");

	/* The rules register the member from the digest. */
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	o.org_id = "T";
	o.kind = JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
	o.name = "镇党委";
	o.parent_id = "";
	o.approving_org_id = "";
	o.established_at = f->now - DAY;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o));
	o.org_id = "B";
	o.kind = JICENG__V1__ORG_KIND__BRANCH;
	o.parent_id = "T";
	o.approving_org_id = "T";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o));
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, d->transfer_received));
	Jiceng__V1__MemberView mv;
	MDB_txn *txn;
	jiceng__v1__member_view__init(&mv);
	assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(membership_get_member(f->m, txn, "m1", &mv), 0);
	assert_string_equal(mv.id_masked, "110105********002X");
	assert_string_equal(mv.birth_date, "1949-12-31");
	assert_int_equal(mv.sex, JICENG__V1__SEX__FEMALE);
	membership_free_member_view(&mv);
	mdb_txn_abort(txn);
	codec_envelope_free(d);
	free(out);
}

/* 17 digits completed with their check character. */
static void
s_number(const char *d17, char out[19])
{
	memcpy(out, d17, 17);
	out[17] = idnum_check_char(d17);
	out[18] = '\0';
}

/* refused BAD_ID_NUMBER at now with a reason containing part. */
static void
s_implausible(const char *d17, int64_t now, const char *part)
{
	uint8_t key[IDNUM_KEY_LEN] = { 0 }, *out = NULL;
	size_t n = 0;
	struct codec_error err;
	char id[19];
	s_number(d17, id);
	Envelope *e = s_admitted("m1", id);
	if (iddigest_envelope(e, key, now, false, &out, &n, NULL, &err) != -1)
		fail_msg("%s accepted", d17);
	assert_string_equal(err.code, "BAD_ID_NUMBER");
	if (!strstr(err.reason, part))
		fail_msg("%s: reason \"%s\" does not name %s", d17, err.reason, part);
	assert_null(strstr(err.reason, d17 + 6));  /* no digits echoed */
	assert_null(out);
	codec_envelope_free(e);
}

static void
s_plausible(const char *d17, int64_t now)
{
	uint8_t key[IDNUM_KEY_LEN] = { 0 }, *out = NULL;
	size_t n = 0;
	struct codec_error err;
	char id[19];
	s_number(d17, id);
	Envelope *e = s_admitted("m1", id);
	if (iddigest_envelope(e, key, now, false, &out, &n, NULL, &err) != 0)
		fail_msg("%s refused: %s", d17, err.reason);
	codec_envelope_free(e);
	free(out);
}

/* GB 11643 plausibility as jicengd checks a number before journaling: a
 * province-level area code, a birth date from 1900-01-01 to the CST date
 * of its clock; each refusal says which part is wrong. */
static void
test_digest_plausibility(void **state)
{
	(void)state;
	int64_t now = fx_cst(2026, 12, 7, 0, 30);  /* 00:30 CST, still 6 December in UTC */
	s_implausible("00000019800101123", now, "province");
	s_implausible("99999919800101123", now, "province");
	s_implausible("10010519800101123", now, "province");
	s_implausible("83000019800101123", now, "province");
	s_implausible("32012318000101123", now, "1900-01-01");
	s_implausible("32012318991231123", now, "1900-01-01");
	s_implausible("32012320261208123", now, "after the day");
	s_implausible("32012321000101123", now, "after the day");
	s_implausible("32012319000229123", now, "not a real date");
	/* The edges: the first day of 1900; today in CST (UTC's yesterday). */
	s_plausible("32012319000101123", now);
	/* 12 is Tianjin's: the rest of the area code is not checked (no table
	 * of every county code, past and present, is kept; a number keeps the
	 * code of its issue). */
	s_plausible("12345619800101123", now);
	s_plausible("32012320261207123", now);
	/* Every province-level code passes, and only those. */
	static const int codes[] = { 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
		41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82 };
	int k = 0;
	for (int code = 0; code < 100; code++) {
		char d17[32];  /* room for any int, as the compiler counts */
		snprintf(d17, sizeof d17, "%02d010519800101123", code);
		bool listed = k < (int)(sizeof codes / sizeof codes[0]) && codes[k] == code;
		if (listed) {
			s_plausible(d17, now);
			k++;
		} else {
			s_implausible(d17, now, "province");
		}
	}
}

/* The rules check a digest against the journal time: one made from a
 * number born after it (a digest journaled ahead of its day, or forged
 * into an old journal), or with no province, is BAD_ID_NUMBER. */
static void
test_rules_digest_plausibility(void **state)
{
	struct fx *f = *state;
	uint8_t *out = NULL;
	size_t n = 0;
	struct codec_error err;
	char id[19];
	fx_tree(f, "T", "V", "B");
	s_number("32012320000101123", id);
	Envelope *e = s_admitted("m1", id);
	assert_int_equal(iddigest_envelope(e, f->key, f->now, false, &out, &n, NULL, &err), 0);
	codec_envelope_free(e);
	Envelope *d = codec_envelope_unpack(out, n);
	Jiceng__V1__MemberAdmitted *a = d->member_admitted;
	int64_t now = f->now;
	f->now = fx_cst(1999, 12, 31, 12, 0);    /* the journal time before that birth */
	a->admitted_at = f->now - DAY;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, a), "BAD_ID_NUMBER");
	f->now = now;
	char *masked = a->id_digest->masked;
	a->id_digest->masked = (char *)"990000********123X";
	a->admitted_at = f->now - DAY;
	struct verdict v = fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, a);
	assert_false(v.accepted);
	assert_string_equal(v.code, "BAD_ID_NUMBER");
	assert_non_null(strstr(v.reason, "province"));
	a->id_digest->masked = masked;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, a));
	codec_envelope_free(d);
	free(out);
}

/* What jicengd journals drops every field this version does not know, at
 * any depth, and names them; it decodes and packs again to itself. */
static void
test_digest_drops_unknown_fields(void **state)
{
	(void)state;
	uint8_t key[IDNUM_KEY_LEN] = { 0 }, buf[1024], *out = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	struct codec_error err;
	struct codec_unknown unk;
	uint8_t one = 1, text[] = { 3, 'n', 'e', 'w' };  /* protobuf-c keeps the length */
	ProtobufCMessageUnknownField top = { 1000, PROTOBUF_C_WIRE_TYPE_VARINT, 1, &one };
	ProtobufCMessageUnknownField nested[2] = {
		{ 99, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, sizeof text, text },
		{ 99, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, sizeof text, text },
	};
	Envelope env = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	env.event_id = "ev-u";
	env.township_id = TS1;
	env.occurred_at = NOW;
	env.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED;
	env.member_admitted = &a;
	a.member_id = "m1";
	a.org_id = "B";
	a.name = "王五";
	a.id_number = ID_A;
	a.admitted_at = 1600000000000;
	env.base.n_unknown_fields = 1;
	env.base.unknown_fields = &top;
	a.base.n_unknown_fields = 2;
	a.base.unknown_fields = nested;
	n = jiceng__v1__envelope__pack(&env, buf);

	Envelope *e = codec_envelope_decode(buf, n, &err);
	if (!e)
		fail_msg("refused %s: %s", err.code, err.reason);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n2, &unk, &err), 0);
	assert_int_equal(unk.n, 3);
	assert_string_equal(unk.fields, "1000, member_admitted.99");
	codec_envelope_free(e);
	e = codec_envelope_unpack(out, n2);
	assert_non_null(e);
	assert_int_equal(e->base.n_unknown_fields, 0);
	assert_int_equal(e->member_admitted->base.n_unknown_fields, 0);
	assert_non_null(e->member_admitted->id_digest);
	assert_int_equal(codec_envelope_pack(e, &again, &n), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(again, out, n);
	codec_envelope_free(e);
	free(again);
	free(out);

	/* Without an ID number too; and nothing to say when nothing was dropped. */
	a.id_number = "";
	n = jiceng__v1__envelope__pack(&env, buf);
	e = codec_envelope_decode(buf, n, &err);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n2, &unk, &err), 0);
	assert_int_equal(unk.n, 3);
	assert_true(n2 < n);
	codec_envelope_free(e);
	e = codec_envelope_decode(out, n2, &err);
	assert_non_null(e);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &again, &n, &unk, &err), 0);
	assert_int_equal(unk.n, 0);
	assert_string_equal(unk.fields, "");
	assert_int_equal(n, n2);
	assert_memory_equal(again, out, n);
	codec_envelope_free(e);
	free(again);
	free(out);
}

/* A tag or a length written in more bytes than it needs decodes (protobuf
 * parsers must accept it) but never reaches the journal: jicengd packs the
 * envelope anew, in protobuf-c's minimal encoding. */
static void
test_non_minimal_encoding(void **state)
{
	(void)state;
	uint8_t key[IDNUM_KEY_LEN] = { 0 }, canon[512], wide[600], *out = NULL;
	size_t n, w = 0, n2 = 0;
	struct codec_error err;
	Envelope *e = s_admitted("m1", "");
	n = jiceng__v1__envelope__pack(e, canon);
	codec_envelope_free(e);
	/* Every top-level tag and length of the canonical bytes written one
	 * byte wider (a last 0x00 byte after a continuation bit), values
	 * copied. */
	for (size_t i = 0; i < n;) {
		uint64_t tag = 0, len = 0;
		for (int shift = 0;; shift += 7) {
			wide[w++] = canon[i] | 0x80;
			tag |= (uint64_t)(canon[i] & 0x7f) << shift;
			if (!(canon[i++] & 0x80))
				break;
		}
		wide[w++] = 0x00;
		if ((tag & 7) == 2) {
			for (int shift = 0;; shift += 7) {
				wide[w++] = canon[i] | 0x80;
				len |= (uint64_t)(canon[i] & 0x7f) << shift;
				if (!(canon[i++] & 0x80))
					break;
			}
			wide[w++] = 0x00;
			memcpy(wide + w, canon + i, len);
			w += len, i += len;
		} else {
			assert_int_equal(tag & 7, 0);
			while (canon[i] & 0x80)
				wide[w++] = canon[i++];
			wide[w++] = canon[i++];
		}
	}
	assert_true(w > n);
	e = codec_envelope_decode(wide, w, &err);
	assert_non_null(e);
	assert_int_equal(iddigest_envelope(e, key, NOW, false, &out, &n2, NULL, &err), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(out, canon, n);
	codec_envelope_free(e);
	free(out);
}

int
unit_iddigest(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_replaces_number),
		cmocka_unit_test(test_digest_refusals),
		cmocka_unit_test(test_digest_resent_by_county),
		cmocka_unit_test(test_digest_shapes),
		cmocka_unit_test_setup_teardown(test_rules_read_digest, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_digest_transfer_received, fx_setup, fx_teardown),
		cmocka_unit_test(test_digest_plausibility),
		cmocka_unit_test_setup_teardown(test_rules_digest_plausibility, fx_setup, fx_teardown),
		cmocka_unit_test(test_digest_drops_unknown_fields),
		cmocka_unit_test(test_non_minimal_encoding),
	};
	return cmocka_run_group_tests_name("iddigest", tests, NULL, NULL);
}
