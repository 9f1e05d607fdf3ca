/*
 * Unit tests of the envelope codec: every check has a case that passes and
 * one that trips it.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"

static size_t
s_pack(const Envelope *e, uint8_t *buf, size_t cap)
{
	size_t n = jiceng__v1__envelope__get_packed_size(e);
	assert_true(n <= cap);
	return jiceng__v1__envelope__pack(e, buf);
}

/* A valid OrgEstablished envelope; fields may be changed before packing. */
struct fixture {
	Envelope e;
	Jiceng__V1__OrgEstablished org;
};

static void
s_fixture(struct fixture *f)
{
	jiceng__v1__envelope__init(&f->e);
	jiceng__v1__org_established__init(&f->org);
	f->e.event_id = "ev-1";
	f->e.township_id = "320123101000";
	f->e.occurred_at = 1700000000000;
	f->e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
	f->e.org_established = &f->org;
	f->org.org_id = "org-1";
	f->org.kind = JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
	f->org.name = "城关镇党委";
}

static const char *
s_check(struct fixture *f)
{
	static struct codec_error err;
	uint8_t buf[4096];
	size_t n = s_pack(&f->e, buf, sizeof buf);
	Envelope *e = codec_envelope_decode(buf, n, &err);
	if (e) {
		codec_envelope_free(e);
		return "OK";
	}
	assert_non_null(err.code);
	assert_true(strlen(err.reason) > 0);
	/* A refusal names the event whenever its id is valid. */
	if (codec_id_valid(f->e.event_id))
		assert_string_equal(err.event_id, f->e.event_id);
	else
		assert_string_equal(err.event_id, "");
	return err.code;
}

static void
test_valid_envelope_passes(void **state)
{
	(void)state;
	struct fixture f;
	s_fixture(&f);
	assert_string_equal(s_check(&f), "OK");
}

static void
test_bad_ids(void **state)
{
	(void)state;
	struct fixture f;
	s_fixture(&f);
	f.org.org_id = "bad id";
	assert_string_equal(s_check(&f), "BAD_ID");
	s_fixture(&f);
	f.e.event_id = "has space";
	assert_string_equal(s_check(&f), "BAD_ID");
	s_fixture(&f);
	f.e.event_id = "";
	assert_string_equal(s_check(&f), "BAD_ID");
	s_fixture(&f);
	f.org.org_id = "";
	assert_string_equal(s_check(&f), "BAD_ID");
	s_fixture(&f);
	f.org.parent_id = "bad/parent";
	assert_string_equal(s_check(&f), "BAD_ID");
	char long_id[80];
	memset(long_id, 'a', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = 0;
	s_fixture(&f);
	f.e.event_id = long_id;
	assert_string_equal(s_check(&f), "BAD_ID");
}

static void
test_bad_township(void **state)
{
	(void)state;
	struct fixture f;
	const char *bad[] = { "32012310100", "320123101001", "32012310100x", "320123000000", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s_fixture(&f);
		f.e.township_id = (char *)bad[i];
		assert_string_equal(s_check(&f), "BAD_TOWNSHIP");
	}
}

static void
test_bad_utf8_and_length(void **state)
{
	(void)state;
	struct fixture f;
	char text[300];
	s_fixture(&f);
	f.org.name = "\xe5\x9f";  /* truncated 3-byte sequence */
	assert_string_equal(s_check(&f), "BAD_UTF8");
	s_fixture(&f);
	f.org.name = "\xc0\xaf";  /* overlong '/' */
	assert_string_equal(s_check(&f), "BAD_UTF8");
	s_fixture(&f);
	f.org.name = "\xed\xa0\x80";  /* surrogate */
	assert_string_equal(s_check(&f), "BAD_UTF8");
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = 0;
	s_fixture(&f);
	f.org.name = text;
	assert_string_equal(s_check(&f), "TOO_LONG");
}

static void
test_time_enum_reserved(void **state)
{
	(void)state;
	struct fixture f;
	s_fixture(&f);
	f.e.occurred_at = 0;
	assert_string_equal(s_check(&f), "BAD_TIME");
	s_fixture(&f);
	f.org.kind = 77;
	assert_string_equal(s_check(&f), "BAD_ENUM");
	Jiceng__V1__Tick t = JICENG__V1__TICK__INIT;
	s_fixture(&f);
	f.e.event_case = JICENG__V1__ENVELOPE__EVENT_TICK;
	f.e.tick = &t;
	assert_string_equal(s_check(&f), "RESERVED_EVENT");
}

static void
test_malformed_oversize_unknown(void **state)
{
	(void)state;
	struct codec_error err;
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	assert_null(codec_envelope_decode(junk, sizeof junk, &err));
	assert_string_equal(err.code, "MALFORMED");
	uint8_t *big = calloc(1, CODEC_MAX_FRAME + 1);
	assert_null(codec_envelope_decode(big, CODEC_MAX_FRAME + 1, &err));
	assert_string_equal(err.code, "OVERSIZE");
	free(big);
	/* event_id "e", township, occurred_at, then field 99 (length-delimited). */
	uint8_t unknown[] = { 0x0a, 0x01, 'e', 0x12, 0x0c, '3', '2', '0', '1', '2', '3', '1', '0', '1',
		'0', '0', '0', 0x18, 0x01, 0x9a, 0x06, 0x00 };
	assert_null(codec_envelope_decode(unknown, sizeof unknown, &err));
	assert_string_equal(err.code, "UNKNOWN_EVENT");
	/* A NUL inside a string would be cut short by protobuf-c. */
	struct fixture f;
	uint8_t buf[256];
	s_fixture(&f);
	f.org.name = "ABCDEFG";
	size_t n = s_pack(&f.e, buf, sizeof buf);
	uint8_t *p = memmem(buf, n, "ABCDEFG", 7);
	assert_non_null(p);
	p[3] = 0;
	assert_null(codec_envelope_decode(buf, n, &err));
	assert_string_equal(err.code, "BAD_UTF8");
	assert_string_equal(err.event_id, "ev-1");
	uint8_t empty[] = { 0x0a, 0x01, 'e' };
	assert_null(codec_envelope_decode(empty, sizeof empty, &err));
	assert_string_equal(err.code, "NO_EVENT");
}

/* A valid MemberRegistered with an ID number and
 * the bytes 80 00 01 appended, an overlong (two-byte) tag of field number
 * 0. protobuf-c parses it as an unknown field and would pack it again as a
 * one-byte tag 0 that it refuses itself; no protobuf encoder writes field
 * 0 and the reference parsers refuse it, so jicengd refuses the frame as
 * MALFORMED, at any depth. */
static void
test_field_number_zero(void **state)
{
	(void)state;
	struct codec_error err;
	uint8_t buf[1024];
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__MemberRegistered m = JICENG__V1__MEMBER_REGISTERED__INIT;
	e.event_id = "ev-tag0";
	e.township_id = "320123101000";
	e.occurred_at = 1700000000000;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e.member_registered = &m;
	m.member_id = "m1";
	m.home_org_id = "b1";
	m.name = "张三";
	m.id_number = "11010519491231002X";
	m.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	m.admitted_at = 994000000000;
	m.confirmed_at = 1026000000000;
	size_t n = s_pack(&e, buf, sizeof buf - 3);
	Envelope *ok = codec_envelope_decode(buf, n, &err);
	assert_non_null(ok);
	codec_envelope_free(ok);
	buf[n] = 0x80, buf[n + 1] = 0x00, buf[n + 2] = 0x01;
	assert_null(codec_envelope_decode(buf, n + 3, &err));
	assert_string_equal(err.code, "MALFORMED");
	assert_non_null(strstr(err.reason, "field number 0"));
	assert_string_equal(err.event_id, "");
	assert_null(strstr(err.reason, "1949"));
	/* Inside the event message. */
	uint8_t nested[] = { 0x80, 0x00, 0x01 };
	ProtobufCMessageUnknownField uf = { 0, PROTOBUF_C_WIRE_TYPE_VARINT, 1, nested + 2 };
	m.base.n_unknown_fields = 1;
	m.base.unknown_fields = &uf;
	n = s_pack(&e, buf, sizeof buf);  /* protobuf-c writes it as 00 01 ... */
	assert_null(codec_envelope_unpack(buf, n));  /* ... which it cannot read */
	assert_null(codec_envelope_decode(buf, n, &err));
	assert_string_equal(err.code, "MALFORMED");
	m.base.n_unknown_fields = 0;
	m.base.unknown_fields = NULL;
	/* The overlong tag 0 inside it instead: built by hand. */
	size_t mlen = jiceng__v1__member_registered__get_packed_size(&m);
	uint8_t *mb = buf + 512;
	jiceng__v1__member_registered__pack(&m, mb);
	memcpy(mb + mlen, nested, sizeof nested);
	mlen += sizeof nested;
	e.event_case = JICENG__V1__ENVELOPE__EVENT__NOT_SET;
	n = s_pack(&e, buf, 256);
	assert_true(mlen < 128);
	buf[n++] = 0xa2, buf[n++] = 0x01;   /* field 20, length-delimited */
	buf[n++] = (uint8_t)mlen;
	memmove(buf + n, mb, mlen);
	n += mlen;
	Envelope *parsed = codec_envelope_unpack(buf, n);
	assert_non_null(parsed);            /* protobuf-c takes it */
	assert_int_equal(parsed->member_registered->base.n_unknown_fields, 1);
	codec_envelope_free(parsed);
	assert_null(codec_envelope_decode(buf, n, &err));
	assert_string_equal(err.code, "MALFORMED");
}

/* Fields of a newer schema pass the checks; codec_envelope_strip_unknown
 * drops them, names them, and what is packed then is canonical. */
static void
test_strip_unknown(void **state)
{
	(void)state;
	struct fixture f;
	struct codec_error err;
	struct codec_unknown u;
	uint8_t buf[4096], *out, *again;
	size_t n, olen, alen;
	uint8_t v1[] = { 7 }, v2[] = { 3, 'n', 'e', 'w' };
	ProtobufCMessageUnknownField top[2] = {
		{ 536870911, PROTOBUF_C_WIRE_TYPE_VARINT, 1, v1 },   /* the largest field number */
		{ 1000, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, 4, v2 },
	};
	ProtobufCMessageUnknownField in_event = { 15, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, 4, v2 };
	s_fixture(&f);
	f.e.base.n_unknown_fields = 2;
	f.e.base.unknown_fields = top;
	f.org.base.n_unknown_fields = 1;
	f.org.base.unknown_fields = &in_event;
	n = s_pack(&f.e, buf, sizeof buf);
	Envelope *e = codec_envelope_decode(buf, n, &err);
	assert_non_null(e);
	assert_int_equal(codec_envelope_strip_unknown(e, &u), 3);
	assert_int_equal(u.n, 3);
	assert_string_equal(u.fields, "536870911, 1000, org_established.15");
	assert_int_equal(codec_envelope_strip_unknown(e, &u), 0);
	assert_string_equal(u.fields, "");
	assert_int_equal(codec_envelope_pack(e, &out, &olen), 0);
	assert_true(olen < n);
	codec_envelope_free(e);
	e = codec_envelope_unpack(out, olen);
	assert_non_null(e);
	assert_int_equal(codec_envelope_pack(e, &again, &alen), 0);
	assert_int_equal(alen, olen);
	assert_memory_equal(again, out, olen);
	assert_string_equal(e->org_established->name, "城关镇党委");
	codec_envelope_free(e);
	free(out);
	free(again);

	/* Many: the list is cut short, the count is not. */
	ProtobufCMessageUnknownField many[40];
	for (unsigned i = 0; i < 40; i++)
		many[i] = (ProtobufCMessageUnknownField){ 100000 + i, PROTOBUF_C_WIRE_TYPE_VARINT, 1, v1 };
	s_fixture(&f);
	f.e.base.n_unknown_fields = 40;
	f.e.base.unknown_fields = many;
	n = s_pack(&f.e, buf, sizeof buf);
	e = codec_envelope_decode(buf, n, &err);
	assert_non_null(e);
	assert_int_equal(codec_envelope_strip_unknown(e, &u), 40);
	assert_true(strlen(u.fields) < sizeof u.fields);
	assert_non_null(strstr(u.fields, "100000, 100001"));
	assert_string_equal(u.fields + strlen(u.fields) - 3, "...");
	codec_envelope_free(e);
}

/* The event_id of a record that does not decode, as far as it can be read. */
static void
test_peek_id(void **state)
{
	(void)state;
	struct fixture f;
	char id[CODEC_MAX_ID + 1];
	uint8_t buf[1024];
	s_fixture(&f);
	size_t n = s_pack(&f.e, buf, sizeof buf - 2);
	buf[n] = 0x00, buf[n + 1] = 0x01;
	assert_null(codec_envelope_unpack(buf, n + 2));
	codec_envelope_peek_id(buf, n + 2, id);
	assert_string_equal(id, "ev-1");
	codec_envelope_peek_id(buf, 3, id);           /* cut inside the id */
	assert_string_equal(id, "");
	codec_envelope_peek_id((const uint8_t *)"\x0a\x03a b", 5, id);   /* not a valid id */
	assert_string_equal(id, "");
	codec_envelope_peek_id((const uint8_t *)"\xff\xff", 2, id);
	assert_string_equal(id, "");
	codec_envelope_peek_id(NULL, 0, id);
	assert_string_equal(id, "");
}

static void
test_kind_table(void **state)
{
	(void)state;
	assert_int_equal(codec_event_domain(JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED), DOMAIN_MEMBERSHIP);
	assert_int_equal(codec_event_domain(JICENG__V1__ENVELOPE__EVENT_MEETING_HELD), DOMAIN_MEETINGS);
	assert_int_equal(codec_event_domain(JICENG__V1__ENVELOPE__EVENT_DUES_PAID), DOMAIN_FUNDS);
	assert_int_equal(codec_event_domain(JICENG__V1__ENVELOPE__EVENT_TICK), DOMAIN_NONE);
	assert_string_equal(codec_event_name(JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED), "org_updated");
	assert_true(codec_event_reserved(JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED));
	assert_false(codec_event_reserved(JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED));
	assert_int_equal(codec_domain_from_name("funds"), DOMAIN_FUNDS);
	assert_int_equal(codec_domain_from_name("nope"), DOMAIN_NONE);
	/* Every oneof member of Envelope has a row in the table. */
	const ProtobufCMessageDescriptor *d = &jiceng__v1__envelope__descriptor;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
			assert_string_not_equal(codec_event_name((EventCase)d->fields[i].id), "none");
}

static void
test_refusal_ack(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t n = codec_ack_refusal("ev-9", JICENG__V1__VERDICT__REJECTED, "BAD_ID", "why", &buf);
	Ack *a = jiceng__v1__ack__unpack(NULL, n, buf);
	assert_non_null(a);
	assert_string_equal(a->event_id, "ev-9");
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "BAD_ID");
	assert_int_equal(a->seq, 0);
	jiceng__v1__ack__free_unpacked(a, NULL);
	free(buf);
	/* An invalid id is never echoed back. */
	n = codec_ack_refusal("bad\xff", JICENG__V1__VERDICT__REJECTED, "BAD_UTF8", "why", &buf);
	a = jiceng__v1__ack__unpack(NULL, n, buf);
	assert_string_equal(a->event_id, "");
	jiceng__v1__ack__free_unpacked(a, NULL);
	free(buf);
}

int
unit_codec(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_envelope_passes),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_bad_township),
		cmocka_unit_test(test_bad_utf8_and_length),
		cmocka_unit_test(test_time_enum_reserved),
		cmocka_unit_test(test_malformed_oversize_unknown),
		cmocka_unit_test(test_field_number_zero),
		cmocka_unit_test(test_strip_unknown),
		cmocka_unit_test(test_peek_id),
		cmocka_unit_test(test_kind_table),
		cmocka_unit_test(test_refusal_ack),
	};
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
