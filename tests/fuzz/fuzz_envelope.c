/*
 * fuzz_envelope: libFuzzer target (make fuzz). Arbitrary bytes go through
 * what jicengd does to a frame before it journals it (daemon/ingest.c):
 * codec_envelope_decode, then iddigest_envelope (unknown fields dropped,
 * an ID number checked and replaced by its digest, the envelope packed
 * anew), as from a township's key and as from the county's (which may
 * resend a journaled digest). Whatever would be journaled must
 *   - decode (codec_envelope_unpack, as a worker reads it),
 *   - pack again to the very same bytes (the journal is canonical),
 *   - hold no unknown field,
 *   - pass the envelope checks again (a resend of it is the same event),
 *   - and give its event_id to codec_envelope_peek_id.
 * A refusal must come with a code and a reason. The broker's checks that
 * depend on its state (clock, townships, keys, workers) decide whether a
 * frame is journaled, never what is: they are left out.
 *
 * With JICENG_FUZZ_SEEDS=DIR in the environment, the binary writes a seed
 * corpus of valid envelopes (one per event kind, with and without an ID
 * number, unknown fields, non-minimal tags) into DIR and exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "iddigest.h"
#include "fuzz.h"

#define FUZZ_NOW 1796574600000LL  /* 2026-12-07 00:30 CST: the broker's clock, fixed */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t s_key[IDNUM_KEY_LEN] = { 0x6a, 0x69, 0x63, 0x65, 0x6e, 0x67 };

/* The journal form of one accepted frame, checked. */
static void
s_check_journaled(const uint8_t *out, size_t n)
{
	struct codec_error err;
	char id[CODEC_MAX_ID + 1];
	uint8_t *again;
	size_t alen;
	Envelope *j = codec_envelope_unpack(out, n);
	if (!j)
		fuzz_fail("what would be journaled does not decode", out, n);
	if (codec_envelope_pack(j, &again, &alen) < 0)
		abort();
	if (alen != n || memcmp(again, out, n) != 0)
		fuzz_fail("what would be journaled does not pack again to itself", out, n);
	free(again);
	if (codec_envelope_strip_unknown(j, NULL) != 0)
		fuzz_fail("what would be journaled holds unknown fields", out, n);
	codec_envelope_peek_id(out, n, id);
	if (strcmp(id, j->event_id) != 0)
		fuzz_fail("peek_id does not find the journaled event_id", out, n);
	Envelope *d = codec_envelope_decode(out, n, &err);
	if (!d) {
		fprintf(stderr, "fuzz_envelope: refused on the way back: %s %s\n", err.code, err.reason);
		fuzz_fail("what would be journaled fails the envelope checks", out, n);
	}
	codec_envelope_free(d);
	codec_envelope_free(j);
}

/* The frame as a township key (county false) or the county's sends it. */
static void
s_one(const uint8_t *data, size_t size, bool county)
{
	struct codec_error err;
	struct codec_unknown unknown;
	uint8_t *out = NULL;
	size_t n = 0;
	Envelope *e = codec_envelope_decode(data, size, &err);
	if (!e) {
		if (!err.code || !err.reason[0])
			fuzz_fail("a refusal without code or reason", data, size);
		return;
	}
	int rc = iddigest_envelope(e, s_key, FUZZ_NOW, county, &out, &n, &unknown, &err);
	codec_envelope_free(e);
	if (rc < 0) {
		if (!err.code || !err.reason[0] || out)
			fuzz_fail("a digest refusal without code or reason", data, size);
		return;
	}
	if ((unknown.n == 0) != (unknown.fields[0] == '\0'))
		fuzz_fail("unknown fields counted and named differently", data, size);
	s_check_journaled(out, n);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	s_one(data, size, false);
	s_one(data, size, true);
	return 0;
}

/* ---------------------------------------------------------- seeds */

static void
s_seed_envelope(const char *dir, const char *name, const Envelope *e)
{
	uint8_t buf[4096];
	size_t n = jiceng__v1__envelope__get_packed_size(e);
	if (n > sizeof buf)
		abort();
	jiceng__v1__envelope__pack(e, buf);
	fuzz_seed_file(dir, name, buf, n);
}

static void
s_seeds(const char *dir)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	Jiceng__V1__MemberUpdated u = JICENG__V1__MEMBER_UPDATED__INIT;
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__ExternalOrg x = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MeetingHeld mh = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp = &ab;
	Jiceng__V1__FundDisbursed fd = JICENG__V1__FUND_DISBURSED__INIT;
	char *activity[] = { "b2", "b3" }, *attendees[] = { "m1", "m2", "m3" };
	Jiceng__V1__MeetingType types[] = { JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY,
		JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY };
	uint8_t one[] = { 1 }, text[] = { 3, 'n', 'e', 'w' };
	ProtobufCMessageUnknownField uf[2] = {
		{ 1000, PROTOBUF_C_WIRE_TYPE_VARINT, 1, one },
		{ 99, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, sizeof text, text },
	};

	e.event_id = "20261207-000001";
	e.township_id = "320123101000";
	e.occurred_at = FUZZ_NOW - 1000;

	o.org_id = "b1";
	o.kind = JICENG__V1__ORG_KIND__BRANCH;
	o.parent_id = "v1";
	o.name = "红旗大队党支部";
	o.approving_org_id = "t1";
	o.established_at = -370051200000LL;  /* 1958-04-11 */
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o);
	s_seed_envelope(dir, "org-established", &e);

	r.member_id = "m1";
	r.home_org_id = "b1";
	r.name = "张老兵";
	char idn[19];
	memcpy(idn, "32012319351001123", 17);
	idn[17] = idnum_check_char(idn);
	idn[18] = 0;
	r.id_number = idn;
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = -426153600000LL;
	r.confirmed_at = -394617600000LL;
	r.n_activity_org_ids = 2;
	r.activity_org_ids = activity;
	r.phone = "13812345678";
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &r);
	s_seed_envelope(dir, "member-registered-idnum", &e);
	r.id_number = "";
	s_seed_envelope(dir, "member-registered", &e);
	r.id_number = idn;
	e.base.n_unknown_fields = 1;
	e.base.unknown_fields = &uf[0];
	r.base.n_unknown_fields = 1;
	r.base.unknown_fields = &uf[1];
	s_seed_envelope(dir, "member-registered-unknown", &e);
	e.base.n_unknown_fields = 0;
	e.base.unknown_fields = NULL;
	r.base.n_unknown_fields = 0;
	r.base.unknown_fields = NULL;

	/* The issue's case: 80 00 01 after a valid envelope. */
	uint8_t buf[4096];
	size_t n = jiceng__v1__envelope__pack(&e, buf);
	memcpy(buf + n, "\x80\x00\x01", 3);
	fuzz_seed_file(dir, "member-registered-tag0", buf, n + 3);
	/* Its first tag written two bytes wide. */
	memmove(buf + 2, buf + 1, n - 1);
	buf[0] |= 0x80;
	buf[1] = 0x00;
	fuzz_seed_file(dir, "member-registered-wide-tag", buf, n + 1);

	a.member_id = "m2";
	a.org_id = "b1";
	a.name = "李新";
	a.id_number = idn;
	a.birth_date = "1935-10-01";
	a.admitted_at = FUZZ_NOW - 86400000LL;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a);
	s_seed_envelope(dir, "member-admitted", &e);

	u.member_id = "m1";
	u.id_number = idn;
	u.replace_activity_orgs = 1;
	u.n_activity_org_ids = 1;
	u.activity_org_ids = activity;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u);
	s_seed_envelope(dir, "member-updated", &e);

	ti.transfer_id = "tr1";
	ti.member_id = "m1";
	ti.from_org_id = "b1";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	x.area_code = "320506";
	x.org_name = "吴中区某村党支部";
	ti.to_external = &x;
	ti.issued_at = FUZZ_NOW - 3600000;
	ti.valid_days = 30;
	ti.dues_paid_through = 202611;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti);
	s_seed_envelope(dir, "transfer-issued", &e);

	tr.transfer_id = "tr2";
	tr.to_org_id = "b1";
	tr.received_at = FUZZ_NOW - 3600000;
	tr.from_external = &x;
	tr.member_id = "m9";
	tr.member = &r;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &tr);
	s_seed_envelope(dir, "transfer-received-external", &e);

	md.flow_id = "f1";
	md.member_id = "m1";
	md.destination_code = "440300";
	md.expected_months = 8;
	md.departed_at = FUZZ_NOW - 7200000;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &md);
	s_seed_envelope(dir, "mobile-departed", &e);

	mh.meeting_id = "mt1";
	mh.org_id = "b1";
	mh.n_types = 2;
	mh.types = types;
	mh.held_at = FUZZ_NOW - 86400000LL;
	mh.topic = "主题党日";
	mh.n_attendee_ids = 3;
	mh.attendee_ids = attendees;
	ab.member_id = "m4";
	ab.reason = "外出务工";
	mh.n_absentees = 1;
	mh.absentees = &abp;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh);
	s_seed_envelope(dir, "meeting-held", &e);

	fd.disbursement_id = "d1";
	fd.kind = JICENG__V1__FUND_KIND__VETERAN_CONDOLENCE;
	fd.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
	fd.payee_member_id = "m1";
	fd.amount_fen = 50000;
	fd.period = 202612;
	fd.source = JICENG__V1__FUNDING_SOURCE__PARTY_DUES;
	fd.approval_ref = "党委〔2026〕12号";
	fd.paid_at = FUZZ_NOW - 3600000;
	codec_event_set(&e, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &fd);
	s_seed_envelope(dir, "fund-disbursed", &e);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_seeds_if_asked(s_seeds);
	return 0;
}
