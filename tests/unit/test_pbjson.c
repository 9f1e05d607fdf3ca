/*
 * pbjson: canonical JSON <-> protobuf-c for the jiceng messages, and for a
 * hand-written descriptor covering the types the contract does not use
 * (bytes, float, a field with explicit presence).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "pbjson.h"

/* ---------------------------------------------------------------- helpers */

/* Parse json as d (must succeed), print it, pack and unpack it, print it
 * again: both prints must agree. Returns the print (caller frees). */
static char *
s_roundtrip(const ProtobufCMessageDescriptor *d, const char *json)
{
	char err[256];
	ProtobufCMessage *m = pbjson_parse(d, json, strlen(json), err, sizeof err);
	if (!m)
		fail_msg("parse failed: %s\n  input: %s", err, json);
	char *out = pbjson_print(m);
	assert_non_null(out);

	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), len);
	ProtobufCMessage *u = protobuf_c_message_unpack(d, NULL, len, buf);
	assert_non_null(u);
	char *again = pbjson_print(u);
	assert_string_equal(out, again);

	/* The canonical text parses back to the same text. */
	ProtobufCMessage *m2 = pbjson_parse(d, out, strlen(out), err, sizeof err);
	if (!m2)
		fail_msg("reparse failed: %s\n  input: %s", err, out);
	char *third = pbjson_print(m2);
	assert_string_equal(out, third);

	free(third);
	free(again);
	free(buf);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(u, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	return out;
}

static void
s_expect_print(const ProtobufCMessageDescriptor *d, const char *json,
    const char *want)
{
	char *out = s_roundtrip(d, json);
	assert_string_equal(out, want);
	free(out);
}

static void
s_expect_error(const ProtobufCMessageDescriptor *d, const char *json,
    const char *want)
{
	char err[256];
	ProtobufCMessage *m = pbjson_parse(d, json, strlen(json), err, sizeof err);
	if (m) {
		protobuf_c_message_free_unpacked(m, NULL);
		fail_msg("parse should fail: %s", json);
	}
	assert_string_equal(err, want);
}

#define ENV (&jiceng__v1__envelope__descriptor)
#define HEAD "{\"eventId\":\"e-1\",\"townshipId\":\"130102001000\"," \
	"\"occurredAt\":\"1767225600000\","

/* ---------------------------------------------------------------- round trips */

static void
test_org_established(void **state)
{
	(void)state;
	s_expect_print(ENV, HEAD "\"orgEstablished\":{\"orgId\":\"o-1\","
	    "\"kind\":\"BRANCH\",\"parentId\":\"o-0\",\"name\":\"东村党支部\","
	    "\"formation\":\"SINGLE\",\"approvingOrgId\":\"o-0\","
	    "\"establishedAt\":\"1700000000000\",\"unitCount\":0}}",
	    HEAD "\"orgEstablished\":{\"orgId\":\"o-1\",\"kind\":\"BRANCH\","
	    "\"parentId\":\"o-0\",\"name\":\"东村党支部\",\"formation\":\"SINGLE\","
	    "\"approvingOrgId\":\"o-0\",\"establishedAt\":\"1700000000000\"}}");
}

static void
test_snake_case_input(void **state)
{
	(void)state;
	/* Proto names, int64 as a number, enum as a number, any key order. */
	s_expect_print(ENV, "{\"org_established\":{\"org_id\":\"o-1\",\"kind\":4,"
	    "\"established_at\":1700000000000},\"occurred_at\":1767225600000,"
	    "\"event_id\":\"e-1\",\"township_id\":\"130102001000\"}",
	    HEAD "\"orgEstablished\":{\"orgId\":\"o-1\",\"kind\":\"BRANCH\","
	    "\"establishedAt\":\"1700000000000\"}}");
}

static void
test_member_registered(void **state)
{
	(void)state;
	/* Repeated strings, bools, enums, negative int64. */
	s_expect_print(ENV, HEAD "\"memberRegistered\":{\"memberId\":\"m-1\","
	    "\"homeOrgId\":\"o-1\",\"name\":\"张三\",\"sex\":\"FEMALE\","
	    "\"category\":\"FULL\",\"admittedAt\":\"-86400000\","
	    "\"confirmedAt\":\"0\",\"activityOrgIds\":[\"o-2\",\"o-3\"],"
	    "\"farmer\":true,\"phone\":\"\"}}",
	    HEAD "\"memberRegistered\":{\"memberId\":\"m-1\",\"homeOrgId\":\"o-1\","
	    "\"name\":\"张三\",\"sex\":\"FEMALE\",\"category\":\"FULL\","
	    "\"admittedAt\":\"-86400000\",\"activityOrgIds\":[\"o-2\",\"o-3\"],"
	    "\"farmer\":true}}");
}

static void
test_transfer_oneofs(void **state)
{
	(void)state;
	/* A oneof inside the event's oneof, holding a message... */
	s_expect_print(ENV, HEAD "\"transferIssued\":{\"transferId\":\"t-1\","
	    "\"memberId\":\"m-1\",\"fromOrgId\":\"o-1\",\"toExternal\":"
	    "{\"areaCode\":\"110105\",\"orgName\":\"朝阳区某党支部\"},"
	    "\"validDays\":90,\"duesPaidThrough\":202611}}",
	    HEAD "\"transferIssued\":{\"transferId\":\"t-1\",\"memberId\":\"m-1\","
	    "\"fromOrgId\":\"o-1\",\"toExternal\":{\"areaCode\":\"110105\","
	    "\"orgName\":\"朝阳区某党支部\"},\"validDays\":90,"
	    "\"duesPaidThrough\":202611}}");
	/* ... or a string; a set oneof member is printed even when empty. */
	s_expect_print(ENV, "{\"transferIssued\":{\"toOrgId\":\"\"}}",
	    "{\"transferIssued\":{\"toOrgId\":\"\"}}");
	s_expect_print(ENV, "{\"fundDisbursed\":{\"disbursementId\":\"d-1\","
	    "\"kind\":\"CADRE_BASE_PAY\",\"payeeMemberId\":\"m-1\","
	    "\"amountFen\":\"250000\",\"period\":202611,\"source\":\"FISCAL\"}}",
	    "{\"fundDisbursed\":{\"disbursementId\":\"d-1\","
	    "\"kind\":\"CADRE_BASE_PAY\",\"payeeMemberId\":\"m-1\","
	    "\"amountFen\":\"250000\",\"period\":202611,\"source\":\"FISCAL\"}}");
}

static void
test_meeting_held(void **state)
{
	(void)state;
	/* Repeated enums (names and numbers) and repeated messages. */
	s_expect_print(ENV, "{\"meetingHeld\":{\"meetingId\":\"mt-1\","
	    "\"types\":[\"BRANCH_ASSEMBLY\",4],\"heldAt\":\"1\","
	    "\"topic\":\"学习\\\"两会\\\"精神\\n第二行\","
	    "\"attendeeIds\":[\"m-1\",\"m-2\"],\"absentees\":[{\"memberId\":"
	    "\"m-3\",\"reason\":\"外出务工\"},{}],\"online\":false}}",
	    "{\"meetingHeld\":{\"meetingId\":\"mt-1\",\"types\":[\"BRANCH_ASSEMBLY\","
	    "\"PARTY_LECTURE\"],\"heldAt\":\"1\",\"topic\":\"学习\\\"两会\\\"精神"
	    "\\n第二行\",\"attendeeIds\":[\"m-1\",\"m-2\"],\"absentees\":"
	    "[{\"memberId\":\"m-3\",\"reason\":\"外出务工\"},{}]}}");
}

static void
test_rules_changed(void **state)
{
	(void)state;
	s_expect_print(ENV, "{\"rulesChanged\":{\"rules\":{"
	    "\"orgMinFullMembersDays\":90,\"fundsMaxSingleFen\":10000000,"
	    "\"duesMaxMonthsBack\":\"6\"}}}",
	    "{\"rulesChanged\":{\"rules\":{\"orgMinFullMembersDays\":90,"
	    "\"fundsMaxSingleFen\":\"10000000\",\"duesMaxMonthsBack\":6}}}");
	/* An empty sub-message is present and printed as {}. */
	s_expect_print(ENV, "{\"rulesChanged\":{\"rules\":{}}}",
	    "{\"rulesChanged\":{\"rules\":{}}}");
}

static void
test_every_event_kind(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = ENV;
	char json[256], want[256], jn[64];
	unsigned kinds = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		pbjson_json_name(f->name, jn, sizeof jn);
		snprintf(json, sizeof json, "{\"%s\":{},\"event_id\":\"e\"}", f->name);
		snprintf(want, sizeof want, "{\"eventId\":\"e\",\"%s\":{}}", jn);
		s_expect_print(d, json, want);

		/* The right union member and case are set. */
		char err[128];
		Envelope *e = (Envelope *)pbjson_parse(d, json, strlen(json),
		    err, sizeof err);
		assert_non_null(e);
		assert_int_equal(e->event_case, f->id);
		assert_non_null(e->org_established);
		protobuf_c_message_free_unpacked(&e->base, NULL);
		kinds++;
	}
	assert_int_equal(kinds, 27);
}

static void
test_ack_and_reply(void **state)
{
	(void)state;
	s_expect_print(&jiceng__v1__ack__descriptor,
	    "{\"eventId\":\"e-1\",\"seq\":\"18446744073709551615\","
	    "\"verdict\":\"DUPLICATE\",\"code\":\"OK\",\"warnings\":[{\"code\":"
	    "\"O3\",\"reason\":\"少于3名正式党员\"}],\"originalVerdict\":1}",
	    "{\"eventId\":\"e-1\",\"seq\":\"18446744073709551615\","
	    "\"verdict\":\"DUPLICATE\",\"code\":\"OK\",\"warnings\":[{\"code\":"
	    "\"O3\",\"reason\":\"少于3名正式党员\"}],"
	    "\"originalVerdict\":\"ACCEPTED\"}");
	s_expect_print(&jiceng__v1__query_reply__descriptor,
	    "{\"requestId\":\"r1\",\"status\":\"OK\",\"stats\":{"
	    "\"journalLength\":\"42\",\"eventsPerSecond\":0.1,"
	    "\"fsyncMsAvg\":\"1.5e-3\",\"workers\":[{\"domain\":\"funds\","
	    "\"cursor\":40,\"lag\":\"2\"}]}}",
	    "{\"requestId\":\"r1\",\"status\":\"OK\",\"stats\":{"
	    "\"journalLength\":\"42\",\"workers\":[{\"domain\":\"funds\","
	    "\"cursor\":\"40\",\"lag\":\"2\"}],\"eventsPerSecond\":0.1,"
	    "\"fsyncMsAvg\":0.0015}}");
}

static void
test_defaults_omitted(void **state)
{
	(void)state;
	s_expect_print(ENV, "{\"eventId\":\"\",\"occurredAt\":\"0\","
	    "\"township_id\":null}", "{}");
	s_expect_print(&jiceng__v1__ack__descriptor,
	    "{\"verdict\":\"VERDICT_UNSPECIFIED\",\"seq\":0,\"warnings\":[]}",
	    "{}");
}

/* ---------------------------------------------------------------- errors */

static void
test_errors(void **state)
{
	(void)state;
	s_expect_error(ENV, "{\"eventId\":\"x\",\"fooBar\":1}",
	    "fooBar: unknown field");
	s_expect_error(ENV, "{\"orgEstablished\":{\"orgId\":\"o\",\"colour\":1}}",
	    "org_established.colour: unknown field");
	s_expect_error(ENV, "{\"orgEstablished\":{\"kind\":\"FOO\"}}",
	    "org_established.kind: unknown enum value FOO");
	s_expect_error(ENV, "{\"orgEstablished\":{},\"tick\":{\"at\":\"1\"}}",
	    "tick: org_established is already set; only one member of a "
	    "oneof may be set");
	s_expect_error(ENV, "{\"transferIssued\":{\"toOrgId\":\"o\","
	    "\"to_external\":{}}}", "transfer_issued.to_external: to_org_id is "
	    "already set; only one member of a oneof may be set");
	s_expect_error(ENV, "{\"occurredAt\":true}",
	    "occurred_at: expected an integer (number or string)");
	s_expect_error(ENV, "{\"occurredAt\":\"12x\"}",
	    "occurred_at: not an integer: \"12x\"");
	s_expect_error(ENV, "{\"eventId\":5}", "event_id: expected a string");
	s_expect_error(ENV, "{\"meetingHeld\":{\"absentees\":[{},{\"reason\":1}]}}",
	    "meeting_held.absentees[1].reason: expected a string");
	s_expect_error(ENV, "{\"meetingHeld\":{\"types\":\"PARTY_LECTURE\"}}",
	    "meeting_held.types: expected an array");
	s_expect_error(ENV, "{\"orgEstablished\":[]}",
	    "org_established: expected an object (OrgEstablished)");
	s_expect_error(ENV, "{\"orgEstablished\":{\"unitCount\":-1}}",
	    "org_established.unit_count: negative value for an unsigned field");
	s_expect_error(ENV, "{\"appraisalRecorded\":{\"year\":3000000000}}",
	    "appraisal_recorded.year: integer out of range: 3000000000");
	s_expect_error(ENV, "{\"appraisalRecorded\":{\"year\":2025.5}}",
	    "appraisal_recorded.year: not an integer: 2025.5");
	s_expect_error(ENV, "{\"mobileDeparted\":{\"fixedPlace\":\"yes\"}}",
	    "mobile_departed.fixed_place: expected true or false");
	s_expect_error(ENV, "{\"eventId\":\"a\",\"event_id\":\"b\"}",
	    "event_id: given twice (as \"event_id\" and under its other name)");
	s_expect_error(ENV, "[1,2]", "expected a JSON object");
	s_expect_error(ENV, "{\"eventId\":\"a\\u0000b\"}",
	    "event_id: string contains U+0000");

	char err[256];
	const char *bad = "{\"eventId\":";
	assert_null(pbjson_parse(ENV, bad, strlen(bad), err, sizeof err));
	assert_memory_equal(err, "invalid JSON: ", 14);
	/* Not NUL-terminated input: only len bytes are read. */
	assert_null(pbjson_parse(ENV, "{}garbage", 3, err, sizeof err));
	ProtobufCMessage *m = pbjson_parse(ENV, "{}garbage", 2, err, sizeof err);
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);
	/* A failure deep inside a half-built message frees it (ASan). */
	s_expect_error(ENV, "{\"eventId\":\"e\",\"memberRegistered\":{\"name\":"
	    "\"x\",\"activityOrgIds\":[\"a\",\"b\",7]}}",
	    "member_registered.activity_org_ids[2]: expected a string");
}

/* ---------------------------------------------------------------- other types */

/* A message the contract does not have: bytes, float, double, explicit
 * presence, repeated bytes. Laid out as protoc-c would generate it. */
struct s_misc {
	ProtobufCMessage base;
	ProtobufCBinaryData blob;
	float weight;
	double ratio;
	protobuf_c_boolean has_opt;
	int32_t opt;
	size_t n_blobs;
	ProtobufCBinaryData *blobs;
};

static const ProtobufCFieldDescriptor s_misc_fields[] = {
	{ "blob", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, 0,
	  offsetof(struct s_misc, blob), NULL, NULL, 0, 0, NULL, NULL },
	{ "weight", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0,
	  offsetof(struct s_misc, weight), NULL, NULL, 0, 0, NULL, NULL },
	{ "ratio", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE, 0,
	  offsetof(struct s_misc, ratio), NULL, NULL, 0, 0, NULL, NULL },
	{ "opt", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32,
	  offsetof(struct s_misc, has_opt), offsetof(struct s_misc, opt),
	  NULL, NULL, 0, 0, NULL, NULL },
	{ "blobs", 5, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES,
	  offsetof(struct s_misc, n_blobs), offsetof(struct s_misc, blobs),
	  NULL, NULL, 0, 0, NULL, NULL },
};
static const unsigned s_misc_by_name[] = { 0, 4, 3, 2, 1 };
static const ProtobufCIntRange s_misc_ranges[] = { { 1, 0 }, { 0, 5 } };

static void s_misc_init(ProtobufCMessage *m);

static const ProtobufCMessageDescriptor s_misc_descriptor = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Misc", "Misc", "Misc", "test",
	sizeof(struct s_misc), 5, s_misc_fields, s_misc_by_name, 1,
	s_misc_ranges, s_misc_init, NULL, NULL, NULL
};

static void
s_misc_init(ProtobufCMessage *m)
{
	memset(m, 0, sizeof(struct s_misc));
	m->descriptor = &s_misc_descriptor;
}

static void
test_bytes_floats_presence(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &s_misc_descriptor;

	s_expect_print(d, "{\"blob\":\"AAEC/w==\",\"weight\":0.1,\"ratio\":"
	    "\"Infinity\",\"opt\":0,\"blobs\":[\"aGk\",\"-_8\",\"\"]}",
	    "{\"blob\":\"AAEC/w==\",\"weight\":0.1,\"ratio\":\"Infinity\","
	    "\"opt\":0,\"blobs\":[\"aGk=\",\"+/8=\",\"\"]}");
	s_expect_print(d, "{\"ratio\":\"NaN\",\"weight\":-2.5e10}",
	    "{\"weight\":-2.5e+10,\"ratio\":\"NaN\"}");
	s_expect_print(d, "{\"ratio\":1e300,\"weight\":\"3\"}",
	    "{\"weight\":3,\"ratio\":1e+300}");
	s_expect_print(d, "{\"blob\":\"\",\"ratio\":0}", "{}");
	s_expect_error(d, "{\"blob\":\"a\"}", "blob: invalid base64 length");
	s_expect_error(d, "{\"blob\":\"ab!d\"}",
	    "blob: invalid base64 character at offset 2");
	s_expect_error(d, "{\"weight\":1e300}",
	    "weight: out of range for a float: 1e+300");
	s_expect_error(d, "{\"ratio\":\"fast\"}", "ratio: not a number: \"fast\"");
	s_expect_error(d, "{\"blobs\":[null]}",
	    "blobs[0]: null is not allowed in an array");

	/* Invalid UTF-8 in a string prints as U+FFFD, still valid JSON. */
	Jiceng__V1__Warning w = JICENG__V1__WARNING__INIT;
	char bad[] = "a\xff\xc3(b\x01";
	w.code = bad;
	char *out = pbjson_print(&w.base);
	assert_string_equal(out, "{\"code\":\"a\\ufffd\\ufffd(b\\u0001\"}");
	free(out);
}

int
unit_pbjson(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_org_established),
		cmocka_unit_test(test_snake_case_input),
		cmocka_unit_test(test_member_registered),
		cmocka_unit_test(test_transfer_oneofs),
		cmocka_unit_test(test_meeting_held),
		cmocka_unit_test(test_rules_changed),
		cmocka_unit_test(test_every_event_kind),
		cmocka_unit_test(test_ack_and_reply),
		cmocka_unit_test(test_defaults_omitted),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bytes_floats_presence),
	};
	return cmocka_run_group_tests_name("pbjson", tests, NULL, NULL);
}
