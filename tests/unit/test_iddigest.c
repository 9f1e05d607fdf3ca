/*
 * Unit tests of the ID digest (lib/iddigest.c): what jicengd journals in
 * place of a resident ID number, and the rules reading it as they read the
 * number itself.
 */
#include "membership_fx.h"

#include <stdlib.h>

#include "iddigest.h"

#define ID_A "11010519491231002X"   /* female (17th digit 2), born 1949-12-31 */
#define ID_A_LOWER "11010519491231002x"

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
	assert_int_equal(iddigest_envelope(e, key, &out, &n, &err), 1);
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
	assert_int_equal(iddigest_envelope(e, key, &again, &n2, &err), 1);
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
	assert_int_equal(iddigest_envelope(e, key, &out, &n, &err), -1);
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
	assert_int_equal(iddigest_envelope(e, key, &out, &n, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	e->member_admitted->id_digest = NULL;
	assert_int_equal(iddigest_envelope(e, key, &out, &n, &err), 0);  /* no number */
	assert_null(out);
	codec_envelope_free(e);
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
	assert_int_equal(iddigest_envelope(e, f->key, &out, &n, &err), 1);
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

	Envelope *e = s_transferred_in("m1", NULL);       /* no record: nothing to do */
	assert_int_equal(iddigest_envelope(e, f->key, &out, &n, &err), 0);
	codec_envelope_free(e);
	e = s_transferred_in("m1", "");                   /* a record without number */
	assert_int_equal(iddigest_envelope(e, f->key, &out, &n, &err), 0);
	Jiceng__V1__IdDigest forged = JICENG__V1__ID_DIGEST__INIT;
	e->transfer_received->member->id_digest = &forged;
	assert_int_equal(iddigest_envelope(e, f->key, &out, &n, &err), -1);
	assert_string_equal(err.code, "BAD_FIELD");
	e->transfer_received->member->id_digest = NULL;
	codec_envelope_free(e);
	e = s_transferred_in("m1", "110105194912310021");  /* wrong check character */
	assert_int_equal(iddigest_envelope(e, f->key, &out, &n, &err), -1);
	assert_string_equal(err.code, "BAD_ID_NUMBER");
	assert_string_equal(err.event_id, "ev-2");
	codec_envelope_free(e);

	e = s_transferred_in("m1", ID_A_LOWER);
	assert_int_equal(iddigest_envelope(e, f->key, &out, &n, &err), 1);
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

int
unit_iddigest(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_replaces_number),
		cmocka_unit_test(test_digest_refusals),
		cmocka_unit_test(test_digest_shapes),
		cmocka_unit_test_setup_teardown(test_rules_read_digest, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_digest_transfer_received, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("iddigest", tests, NULL, NULL);
}
