/*
 * 20-badinput: hostile and wrong input against the real daemon. Every
 * malformed frame and every envelope that fails a check gets REJECTED with
 * its specific code, nothing is journaled, and the daemon keeps serving (a
 * valid event right after is ACCEPTED). Rule violations come back with the
 * rule's code and change nothing. At the end the journal itself is read:
 * no refused event is in it. Frames protobuf-c parses but the journal must
 * not hold as they came (field number 0, unknown fields, non-minimal tags
 * and lengths) are answered as README.md says, and the journal afterwards
 * holds only records that decode and pack again to the same bytes.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "journal.h"

#define HOUR_MS 3600000LL

static int s_ok_seq;

static void s_not_found(struct hd *d, const char *member_id);
static void s_rule(void *sock, struct hmsg m, const char *code);  /* numbering of the valid events sent between bad ones */

/* The daemon still serves: a fresh valid event is ACCEPTED and journaled
 * as the next seq after journal_before, read in hour (unless the hour
 * changed since: an hourly Tick may have come between). */
static void
s_still_serves(void *sock, uint64_t journal_before, int64_t hour)
{
	char eid[40], mid[40];
	snprintf(eid, sizeof eid, "ok-after-%d", ++s_ok_seq);
	snprintf(mid, sizeof mid, "ok-m-%d", s_ok_seq);
	struct hmsg m = hm_member(eid, mid, H_ORG_BRANCH, "正常党员", NULL);
	Ack *a = hc_call(sock, &m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	if (now_wall_ms() / HOUR_MS == hour)
		assert_int_equal(a->seq, journal_before + 1);
	hc_ack_free(a);
	hm_free(&m);
}

/* Send m (bytes or frames as given), expect REJECTED/code with seq 0, and
 * check nothing was journaled and the daemon still serves. */
static void
s_refused_frames(struct hd *d, void *sock, const struct hmsg *frames, int nframes,
    const char *code)
{
	int64_t hour = now_wall_ms() / HOUR_MS;
	uint64_t before = hq_journal_length(d);
	assert_int_not_equal(before, UINT64_MAX);
	for (int i = 0; i < nframes; i++)
		assert_int_not_equal(zmq_send(sock, frames[i].buf, frames[i].len,
		    i + 1 < nframes ? ZMQ_SNDMORE : 0), -1);
	Ack *a = hc_recv(sock, H_ACK_MS);
	if (!a)
		fail_msg("no ack for a frame that should be refused with %s", code);
	if (a->verdict != JICENG__V1__VERDICT__REJECTED || strcmp(a->code, code) != 0)
		fail_msg("expected REJECTED/%s, got %s/%s (%s)", code,
		    codec_verdict_name(a->verdict), a->code, a->reason);
	assert_int_equal(a->seq, 0);
	assert_true(a->reason[0] != 0);
	/* The event_id is echoed when the envelope parsed and its id is valid. */
	const char *echo = "";
	if (nframes == 1 && strcmp(code, "MALFORMED") != 0 && strcmp(code, "OVERSIZE") != 0 &&
	    codec_id_valid(frames[0].id))
		echo = frames[0].id;
	if (strcmp(a->event_id, echo) != 0)
		fail_msg("%s refusal: event_id '%s', expected '%s'", code, a->event_id, echo);
	hc_ack_free(a);
	if (now_wall_ms() / HOUR_MS == hour)
		assert_int_equal(hq_journal_length(d), before);
	s_still_serves(sock, before, hour);
}

static void
s_refused(struct hd *d, void *sock, struct hmsg m, const char *code)
{
	s_refused_frames(d, sock, &m, 1, code);
	hm_free(&m);
}

/* An envelope with ids and time, the event set by the caller's fill. */
static struct hmsg
s_member_with(const char *event_id, const char *township, const char *member_id,
    const char *name, const char *id_number, int64_t occurred_at)
{
	Envelope e;
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	hm_envelope(&e, event_id, township);
	if (occurred_at != -1)
		e.occurred_at = occurred_at;
	r.member_id = (char *)member_id;
	r.home_org_id = H_ORG_BRANCH;
	r.name = (char *)name;
	r.id_number = (char *)id_number;
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = 994000000000LL;
	r.confirmed_at = 1026000000000LL;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e.member_registered = &r;
	return hm_pack(&e);
}

/* A member event carrying an id_digest of its own, well formed: the
 * digest is jicengd's to make, so a client's is refused before journaling
 * (or it could claim anybody's blind index). */
static struct hmsg
s_forged_digest(const char *event_id, const char *member_id)
{
	Envelope e;
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	Jiceng__V1__IdDigest d = JICENG__V1__ID_DIGEST__INIT;
	uint8_t index[32] = { 7 };
	hm_envelope(&e, event_id, NULL);
	d.blind_index.data = index;
	d.blind_index.len = sizeof index;
	d.masked = "510722********123X";
	d.birth_date = "1980-03-15";
	d.sex = JICENG__V1__SEX__MALE;
	r.member_id = (char *)member_id;
	r.home_org_id = H_ORG_BRANCH;
	r.name = "冒名";
	r.id_digest = &d;
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = 994000000000LL;
	r.confirmed_at = 1026000000000LL;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e.member_registered = &r;
	return hm_pack(&e);
}

/* An envelope with valid ids and no event, plus extra raw bytes. */
static struct hmsg
s_envelope_plus(const char *event_id, const uint8_t *extra, size_t n)
{
	Envelope e;
	hm_envelope(&e, event_id, NULL);
	struct hmsg m = hm_pack(&e);
	uint8_t *buf = realloc(m.buf, m.len + n);
	assert_non_null(buf);
	memcpy(buf + m.len, extra, n);
	m.buf = buf;
	m.len += n;
	return m;
}

/* ------------------------------------------------------------ frames */

static void
test_malformed_frames(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ok", &sock);
	/* Field 1 claims 16 bytes, has 1. */
	static const uint8_t truncated[] = { 0x0a, 0x10, 'a' };
	/* A varint that never ends. */
	static const uint8_t varint[] = { 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* Wire type 7 does not exist. */
	static const uint8_t wiretype[] = { 0x0f, 0x01 };
	/* The event_id field sent as a varint (wrong wire type for a string). */
	static const uint8_t wrongtype[] = { 0x08, 0x01 };
	static const char text[] = "{\"event_id\": \"json is not protobuf\"}";
	s_refused(d, sock, hm_raw(truncated, sizeof truncated), "MALFORMED");
	s_refused(d, sock, hm_raw(varint, sizeof varint), "MALFORMED");
	s_refused(d, sock, hm_raw(wiretype, sizeof wiretype), "MALFORMED");
	s_refused(d, sock, hm_raw(wrongtype, sizeof wrongtype), "MALFORMED");
	s_refused(d, sock, hm_raw(text, sizeof text - 1), "MALFORMED");
	/* An empty frame decodes as an empty Envelope: no event. */
	s_refused(d, sock, hm_raw("", 0), "NO_EVENT");

	/* Two frames in one message. */
	struct hmsg two[2];
	two[0] = hm_member("bad-multi-1", "bad-mm-1", H_ORG_BRANCH, "多帧", NULL);
	two[1] = hm_member("bad-multi-2", "bad-mm-2", H_ORG_BRANCH, "多帧", NULL);
	s_refused_frames(d, sock, two, 2, "MALFORMED");
	/* ... and a valid envelope followed by an empty frame. */
	hm_free(&two[1]);
	two[1] = hm_raw("", 0);
	s_refused_frames(d, sock, two, 2, "MALFORMED");
	hm_free(&two[0]);
	hm_free(&two[1]);

	/* Oversize: a valid envelope padded past 64 KiB with an unknown
	 * field, and plain junk of the same size. */
	size_t big = CODEC_MAX_FRAME + 100;
	uint8_t *pad = calloc(1, big);
	assert_non_null(pad);
	pad[0] = 0xfa, pad[1] = 0x3e;  /* field 1007, length-delimited */
	pad[2] = 0x80 | ((big - 5) & 0x7f), pad[3] = 0x80 | (((big - 5) >> 7) & 0x7f);
	pad[4] = (uint8_t)((big - 5) >> 14);
	s_refused(d, sock, s_envelope_plus("bad-oversize", pad, big - 0), "OVERSIZE");
	s_refused(d, sock, hm_raw(pad, big), "OVERSIZE");
	struct hmsg edge = hm_raw(pad, CODEC_MAX_FRAME + 1);
	s_refused(d, sock, edge, "OVERSIZE");
	free(pad);

	/* Up to CODEC_MAX_ANSWERED_FRAME still answered; past it the
	 * connection is dropped without an answer, and the daemon goes on
	 * serving everyone else. */
	pad = calloc(1, CODEC_MAX_ANSWERED_FRAME);
	assert_non_null(pad);
	s_refused(d, sock, hm_raw(pad, CODEC_MAX_ANSWERED_FRAME), "OVERSIZE");
	free(pad);
	void *rogue = hc_connect(d);
	size_t huge = CODEC_MAX_ANSWERED_FRAME + 1;
	uint8_t *junk = calloc(1, huge);
	assert_non_null(junk);
	int64_t hour = now_wall_ms() / HOUR_MS;
	uint64_t before = hq_journal_length(d);
	assert_int_not_equal(zmq_send(rogue, junk, huge, 0), -1);
	free(junk);
	Ack *a = hc_recv(rogue, 1000);
	assert_null(a);
	hc_close(rogue);
	s_still_serves(sock, before, hour);
	hc_close(sock);
	hd_pass(d);
}

/* A meeting of the tree's branch with no type (BAD_FIELD from the meetings
 * worker), and dues of member_id without paid_at. */
static struct hmsg
s_bare_meeting(const char *event_id)
{
	Envelope e;
	Jiceng__V1__MeetingHeld mh = JICENG__V1__MEETING_HELD__INIT;
	mh.meeting_id = "mt-1";
	mh.org_id = H_ORG_BRANCH;
	mh.held_at = now_wall_ms();
	hm_envelope(&e, event_id, NULL);
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEETING_HELD;
	e.meeting_held = &mh;
	return hm_pack(&e);
}

static struct hmsg
s_bare_dues(const char *event_id, const char *member_id)
{
	Envelope e;
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;
	dp.member_id = (char *)member_id;
	dp.month = 202601;
	dp.amount_fen = 50;
	hm_envelope(&e, event_id, NULL);
	e.event_case = JICENG__V1__ENVELOPE__EVENT_DUES_PAID;
	e.dues_paid = &dp;
	return hm_pack(&e);
}

static void
test_envelope_checks(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ok", &sock);
	Envelope e;

	/* An unknown oneof field number (99) as the only event. */
	static const uint8_t f99[] = { 0x9a, 0x06, 0x02, 0x08, 0x01 };
	s_refused(d, sock, s_envelope_plus("bad-f99", f99, sizeof f99), "UNKNOWN_EVENT");
	/* ... a varint field 99, and a field number far beyond the schema. */
	static const uint8_t f99v[] = { 0x98, 0x06, 0x01 };
	s_refused(d, sock, s_envelope_plus("bad-f99v", f99v, sizeof f99v), "UNKNOWN_EVENT");
	static const uint8_t f5000[] = { 0xc2, 0xb8, 0x02, 0x00 };
	s_refused(d, sock, s_envelope_plus("bad-f5000", f5000, sizeof f5000), "UNKNOWN_EVENT");
	/* No event at all. */
	hm_envelope(&e, "bad-noevent", NULL);
	s_refused(d, sock, hm_pack(&e), "NO_EVENT");

	/* Invalid UTF-8: a stray byte, a truncated sequence, an overlong
	 * encoding, a UTF-16 surrogate; in the name and in the ID number. */
	s_refused(d, sock, s_member_with("bad-utf8-1", NULL, "bad-u1", "张\xff三", "", -1), "BAD_UTF8");
	s_refused(d, sock, s_member_with("bad-utf8-2", NULL, "bad-u2", "张\xe5\xbc", "", -1), "BAD_UTF8");
	s_refused(d, sock, s_member_with("bad-utf8-3", NULL, "bad-u3", "\xc0\xaf", "", -1), "BAD_UTF8");
	s_refused(d, sock, s_member_with("bad-utf8-4", NULL, "bad-u4", "\xed\xa0\x80", "", -1), "BAD_UTF8");
	s_refused(d, sock, s_member_with("bad-utf8-5", NULL, "bad-u5", "王五", "\xc3\x28", -1), "BAD_UTF8");

	/* Townships: not 12 digits, not ending in 000, empty, letters. */
	s_refused(d, sock, s_member_with("bad-tw-1", "51072210100", "bad-t1", "甲", "", -1), "BAD_TOWNSHIP");
	s_refused(d, sock, s_member_with("bad-tw-2", "510722101001", "bad-t2", "乙", "", -1), "BAD_TOWNSHIP");
	s_refused(d, sock, s_member_with("bad-tw-3", "", "bad-t3", "丙", "", -1), "BAD_TOWNSHIP");
	s_refused(d, sock, s_member_with("bad-tw-4", "51072210a000", "bad-t4", "丁", "", -1), "BAD_TOWNSHIP");

	/* Ids: event_id empty, too long, bad characters; an *_id field. */
	s_refused(d, sock, s_member_with("", NULL, "bad-i1", "戊", "", -1), "BAD_ID");
	char longid[CODEC_MAX_ID + 2];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	s_refused(d, sock, s_member_with(longid, NULL, "bad-i2", "己", "", -1), "BAD_ID");
	s_refused(d, sock, s_member_with("bad id", NULL, "bad-i3", "庚", "", -1), "BAD_ID");
	s_refused(d, sock, s_member_with("bad-id-4", NULL, "bad/member", "辛", "", -1), "BAD_ID");
	s_refused(d, sock, s_member_with("bad-id-5", NULL, "", "壬", "", -1), "BAD_ID");

	/* Time: occurred_at is the township system's clock, positive (the
	 * business dates inside the event may be before 1970). */
	s_refused(d, sock, s_member_with("bad-time-1", NULL, "bad-tm1", "癸", "", 0), "BAD_TIME");
	s_refused(d, sock, s_member_with("bad-time-2", NULL, "bad-tm2", "癸", "", -5), "BAD_TIME");

	/* A string over its bound; an enum value the schema does not have. */
	char longname[CODEC_MAX_TEXT + 40];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	s_refused(d, sock, s_member_with("bad-long", NULL, "bad-l1", longname, "", -1), "TOO_LONG");
	struct hmsg m = hm_org("bad-enum", "bad-org-enum", 42, H_ORG_VILLAGE, H_ORG_TOWNSHIP, "枚举");
	s_refused(d, sock, m, "BAD_ENUM");

	/* The kinds jicengd writes itself. */
	Jiceng__V1__Tick tick = JICENG__V1__TICK__INIT;
	tick.at = now_wall_ms();
	hm_envelope(&e, "bad-tick", NULL);
	e.event_case = JICENG__V1__ENVELOPE__EVENT_TICK;
	e.tick = &tick;
	s_refused(d, sock, hm_pack(&e), "RESERVED_EVENT");
	Jiceng__V1__RulesChanged rc = JICENG__V1__RULES_CHANGED__INIT;
	Rules rules;
	rules_defaults(&rules);
	rules.member_min_admission_age = 14;
	rc.rules = &rules;
	hm_envelope(&e, "bad-rules", NULL);
	e.event_case = JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED;
	e.rules_changed = &rc;
	s_refused(d, sock, hm_pack(&e), "RESERVED_EVENT");

	/* Meetings and funds are served by their workers (all three run by
	 * default): a meeting of no type and dues of no member get their
	 * workers' rule verdicts, journaled (test_domain_not_served: a domain
	 * the server does not run). */
	s_rule(sock, s_bare_meeting("bad-meeting"), "BAD_FIELD");
	s_rule(sock, s_bare_dues("bad-dues", "nobody"), "UNKNOWN_MEMBER");

	/* The refusals are counted in stats (persisted once a second). */
	bool counted = false;
	for (int i = 0; i < 30 && !counted; i++, h_sleep_ms(100)) {
		QueryReply *r = hq_stats(d);
		assert_non_null(r);
		counted = hq_stat_count(r, false, "BAD_UTF8") == 5 &&
		    hq_stat_count(r, false, "BAD_TOWNSHIP") == 4 &&
		    hq_stat_count(r, false, "RESERVED_EVENT") == 2 &&
		    hq_stat_count(r, false, "UNKNOWN_EVENT") == 3;
		hq_free(r);
	}
	assert_true(counted);
	hc_close(sock);
	hd_pass(d);
}

/* An envelope's occurred_at may be at most 10 minutes ahead of jicengd's
 * clock (envelope.proto). */
static void
test_future_time(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ok", &sock);
	int64_t year = 365LL * 24 * HOUR_MS;
	s_refused(d, sock, s_member_with("bad-future", NULL, "bad-f1", "未来", "", now_wall_ms() + year),
	    "BAD_TIME");
	/* A few seconds of clock skew is fine. */
	struct hmsg ok = s_member_with("ok-skew", NULL, "ok-skew", "时差", "", now_wall_ms() + 5000);
	assert_true(hc_expect(sock, &ok, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&ok);
	hc_close(sock);
	hd_pass(d);
}

/* A NUL inside a string: protobuf carries it, C strings would cut the
 * field short, so the check must refuse it rather than store a shorter
 * name than the one sent. */
static void
test_embedded_nul(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ok", &sock);
	struct hmsg m = s_member_with("bad-nul", NULL, "bad-nul", "NULMARK", "", -1);
	uint8_t *p = memmem(m.buf, m.len, "NULMARK", 7);
	assert_non_null(p);
	p[3] = 0;
	s_refused(d, sock, m, "BAD_UTF8");
	s_not_found(d, "bad-nul");
	hc_close(sock);
	hd_pass(d);
}

/* ------------------------------------------------------------ rules */

/* Expect REJECTED with code, journaled (seq > 0), and the daemon serving. */
static void
s_rule(void *sock, struct hmsg m, const char *code)
{
	int64_t hour = now_wall_ms() / HOUR_MS;
	Ack *a = hc_call(sock, &m);
	if (!a)
		fail_msg("no ack for %s", m.id);
	if (a->verdict != JICENG__V1__VERDICT__REJECTED || strcmp(a->code, code) != 0)
		fail_msg("%s: expected REJECTED/%s, got %s/%s (%s)", m.id, code,
		    codec_verdict_name(a->verdict), a->code, a->reason);
	assert_true(a->seq > 0);
	assert_string_equal(a->event_id, m.id);
	uint64_t seq = a->seq;
	hc_ack_free(a);
	hm_free(&m);
	s_still_serves(sock, seq, hour);
}

static struct hmsg
s_confirmed(const char *event_id, const char *member_id, int64_t at)
{
	Envelope e;
	Jiceng__V1__MemberConfirmed c = JICENG__V1__MEMBER_CONFIRMED__INIT;
	hm_envelope(&e, event_id, NULL);
	c.member_id = (char *)member_id;
	c.confirmed_at = at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED;
	e.member_confirmed = &c;
	return hm_pack(&e);
}

static void
s_not_found(struct hd *d, const char *member_id)
{
	QueryReply *r = hq_member(d, member_id);
	assert_non_null(r);
	if (r->status != JICENG__V1__QUERY_STATUS__NOT_FOUND)
		fail_msg("member %s should not exist", member_id);
	hq_free(r);
}

static void
test_rule_rejections(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ok", &sock);
	int64_t now = now_wall_ms(), day = 24 * HOUR_MS;
	char idn[19];
	int ok_before = s_ok_seq;
	h_idnum("19750601", 7, idn);

	/* Orgs: unknown parent; O1 rank and shape; O2 approval; duplicates. */
	s_rule(sock, hm_org("r-o-1", "r-b1", JICENG__V1__ORG_KIND__BRANCH, "no-such-org",
	    H_ORG_TOWNSHIP, "支部"), "UNKNOWN_ORG");
	s_rule(sock, hm_org("r-o-2", "r-g1", JICENG__V1__ORG_KIND__PARTY_GROUP, H_ORG_TOWNSHIP,
	    H_ORG_TOWNSHIP, "党小组"), "O1");
	s_rule(sock, hm_org("r-o-3", "r-t2", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, H_ORG_VILLAGE,
	    NULL, "镇党委"), "O1");
	s_rule(sock, hm_org("r-o-4", "r-v2", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, NULL,
	    H_ORG_TOWNSHIP, "村党委"), "O1");
	s_rule(sock, hm_org("r-o-5", "r-v3", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, H_ORG_BRANCH,
	    H_ORG_TOWNSHIP, "村党委"), "O1");
	s_rule(sock, hm_org("r-o-6", "r-b2", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    NULL, "支部"), "O2");
	s_rule(sock, hm_org("r-o-7", "r-b3", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    H_ORG_VILLAGE, "支部"), "O2");
	s_rule(sock, hm_org("r-o-8", H_ORG_BRANCH, JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    H_ORG_TOWNSHIP, "重复"), "ORG_EXISTS");
	QueryReply *r = hq_org(d, "r-b1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	r = hq_org(d, H_ORG_VILLAGE);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->org->n_children, 1);
	hq_free(r);

	/* Members: unknown org, another township's org, O5, R2, R4, R1. */
	s_rule(sock, hm_member("r-m-1", "r-m1", "no-such-org", "甲", NULL), "UNKNOWN_ORG");
	s_not_found(d, "r-m1");
	s_rule(sock, hm_member_in(H_TOWNSHIP2, "r-m-2", "r-m2", H_ORG_BRANCH, "乙", NULL),
	    "WRONG_TOWNSHIP");
	s_not_found(d, "r-m2");
	struct hmsg tb = hm_org("r-o-tb", "r-temp", JICENG__V1__ORG_KIND__TEMPORARY_BRANCH,
	    H_ORG_VILLAGE, H_ORG_TOWNSHIP, "临时党支部");
	assert_true(hc_expect(sock, &tb, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&tb);
	s_rule(sock, hm_member("r-m-3", "r-m3", "r-temp", "丙", NULL), "O5");
	s_rule(sock, hm_admitted("r-m-4", "r-m4", H_ORG_BRANCH, "2015-01-01", now - day), "R2");
	s_not_found(d, "r-m4");
	struct hmsg first = hm_member("r-m-5", "r-m5", H_ORG_BRANCH, "丁", idn);
	assert_true(hc_expect(sock, &first, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&first);
	s_rule(sock, hm_member("r-m-6", "r-m6", H_ORG_BRANCH, "丁", idn), "R4");
	s_not_found(d, "r-m6");
	s_rule(sock, hm_member("r-m-7", "r-m5", H_ORG_BRANCH, "丁", NULL), "MEMBER_EXISTS");
	char badidn[19];
	memcpy(badidn, idn, sizeof badidn);
	badidn[17] = badidn[17] == '0' ? '1' : '0';
	/* A bad ID number is refused before journaling: it is never stored. */
	s_refused(d, sock, hm_member("r-m-8", "r-m8", H_ORG_BRANCH, "戊", badidn), "BAD_ID_NUMBER");
	s_not_found(d, "r-m8");
	s_refused(d, sock, s_forged_digest("r-m-8d", "r-m8d"), "BAD_FIELD");
	s_not_found(d, "r-m8d");
	s_rule(sock, hm_member("r-m-9", "r-m9", H_ORG_BRANCH, "", NULL), "BAD_FIELD");

	struct hmsg prob = hm_admitted("r-m-10", "r-p1", H_ORG_BRANCH, "1990-05-05", now - 30 * day);
	assert_true(hc_expect(sock, &prob, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&prob);
	s_rule(sock, s_confirmed("r-m-11", "r-p1", now - day), "R1");
	s_rule(sock, s_confirmed("r-m-12", "no-such-member", now - day), "UNKNOWN_MEMBER");
	r = hq_member(d, "r-p1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->member->category, JICENG__V1__MEMBER_CATEGORY__PROBATIONARY);
	hq_free(r);

	/* A dissolved org takes no members (O6). */
	struct hmsg eb = hm_org("r-o-eb", "r-empty", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    H_ORG_TOWNSHIP, "待撤销支部");
	assert_true(hc_expect(sock, &eb, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&eb);
	s_rule(sock, hm_dissolved("r-o-d0", "r-empty", ""), "O2");
	struct hmsg dis = hm_dissolved("r-o-d1", "r-empty", H_ORG_TOWNSHIP);
	assert_true(hc_expect(sock, &dis, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&dis);
	s_rule(sock, hm_member("r-m-13", "r-m13", "r-empty", "己", NULL), "ORG_DISSOLVED");
	s_rule(sock, hm_dissolved("r-o-d2", H_ORG_BRANCH, H_ORG_TOWNSHIP), "ORG_NOT_EMPTY");

	/* The branch holds exactly the members accepted above: one after each
	 * rejection, r-m5 and r-p1. */
	r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, (uint32_t)(s_ok_seq - ok_before + 2));
	hq_free(r);
	hc_close(sock);
	hd_pass(d);
}

/* ------------------------------------------------------------ journal */

/* After a stream of good and bad input, the journal holds only what was
 * accepted for journaling: read it directly once jicengd has stopped. */
static void
test_journal_clean(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ok", &sock);
	static const uint8_t f99[] = { 0x9a, 0x06, 0x02, 0x08, 0x01 };
	int good = 3;  /* the org tree */
	for (int i = 0; i < 20; i++) {
		char eid[40], mid[40];
		snprintf(eid, sizeof eid, "bad-j-%d", i);
		snprintf(mid, sizeof mid, "bad-jm-%d", i);
		struct hmsg m;
		switch (i % 5) {
		case 0: m = s_member_with(eid, NULL, mid, "\xff", "", -1); break;
		case 1: m = s_member_with(eid, "1", mid, "名", "", -1); break;
		case 2: m = s_envelope_plus(eid, f99, sizeof f99); break;
		case 3: m = s_member_with(eid, NULL, mid, "名", "", 0); break;
		default: m = hm_raw("\x0a\x7f", 2); break;
		}
		Ack *a = hc_call(sock, &m);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
		assert_int_equal(a->seq, 0);
		hc_ack_free(a);
		hm_free(&m);
		snprintf(eid, sizeof eid, "ok-j-%d", i);
		snprintf(mid, sizeof mid, "ok-jm-%d", i);
		m = hm_member(eid, mid, H_ORG_BRANCH, "名", NULL);
		assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
		hm_free(&m);
		good++;
	}
	hc_close(sock);
	assert_int_equal(hd_stop(d, 10000), 0);

	struct journal *j = NULL;
	MDB_txn *txn;
	uint64_t last = 0;
	int client = 0;
	assert_int_equal(journal_open(&j, d->dir, 64, 65536, true), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(journal_last_seq(j, txn, &last), 0);
	for (uint64_t seq = 1; seq <= last; seq++) {
		struct journal_record rec;
		assert_int_equal(journal_get(j, txn, seq, &rec), 0);
		Envelope *e = codec_envelope_unpack(rec.envelope, rec.envelope_len);
		assert_non_null(e);
		if (codec_event_reserved(e->event_case)) {
			codec_envelope_free(e);
			continue;
		}
		if (strncmp(e->event_id, "ok-", 3) != 0)
			fail_msg("journal seq %llu holds event %s", (unsigned long long)seq, e->event_id);
		assert_string_equal(rec.township_id, H_TOWNSHIP);
		client++;
		codec_envelope_free(e);
	}
	mdb_txn_abort(txn);
	journal_close(&j);
	assert_int_equal(client, good);
	hd_pass(d);
}

/* ------------------------------------------------------------ canonical journal */

/* Every record of d's journal (jicengd stopped) decodes and packs again to
 * the same bytes, except seq `except` (0: none); returns how many records
 * carry event_id. */
static int
s_journal_canonical(struct hd *d, uint64_t except, const char *event_id)
{
	struct journal *j = NULL;
	MDB_txn *txn;
	uint64_t last = 0;
	int found = 0;
	assert_int_equal(journal_open(&j, d->dir, 64, 65536, true), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(journal_last_seq(j, txn, &last), 0);
	for (uint64_t seq = 1; seq <= last; seq++) {
		struct journal_record rec;
		uint8_t *again;
		size_t n;
		assert_int_equal(journal_get(j, txn, seq, &rec), 0);
		Envelope *e = codec_envelope_unpack(rec.envelope, rec.envelope_len);
		if (!e)
			fail_msg("journal seq %llu does not decode", (unsigned long long)seq);
		found += strcmp(e->event_id, event_id) == 0;
		assert_int_equal(codec_envelope_pack(e, &again, &n), 0);
		if (seq != except && (n != rec.envelope_len || memcmp(again, rec.envelope, n) != 0))
			fail_msg("journal seq %llu (%s) does not pack again to its bytes",
			    (unsigned long long)seq, e->event_id);
		free(again);
		codec_envelope_free(e);
	}
	mdb_txn_abort(txn);
	journal_close(&j);
	return found;
}

/* A MemberRegistered (FULL, admitted 2001, confirmed 2002) packed with
 * unknown fields: field 1000 of the envelope and 99 of the event, as a
 * newer client would send them. */
static struct hmsg
s_member_newer(const char *event_id, const char *member_id, const char *id_number)
{
	Envelope e;
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	uint8_t one[] = { 1 }, text[] = { 5, 'h', 'e', 'l', 'l', 'o' };
	ProtobufCMessageUnknownField top = { 1000, PROTOBUF_C_WIRE_TYPE_VARINT, 1, one };
	ProtobufCMessageUnknownField in = { 99, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, sizeof text, text };
	hm_envelope(&e, event_id, NULL);
	r.member_id = (char *)member_id;
	r.home_org_id = H_ORG_BRANCH;
	r.name = "新版客户端";
	r.id_number = (char *)(id_number ? id_number : "");
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = 994000000000LL;
	r.confirmed_at = 1026000000000LL;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e.member_registered = &r;
	e.base.n_unknown_fields = 1;
	e.base.unknown_fields = &top;
	r.base.n_unknown_fields = 1;
	r.base.unknown_fields = &in;
	return hm_pack(&e);
}

/* m with every top-level tag and length written one byte wider than it
 * needs (a continuation bit, then a 0x00 byte): still valid protobuf. */
static struct hmsg
s_widened(const struct hmsg *m)
{
	struct hmsg w = hm_raw(m->buf, m->len);
	uint8_t *out = malloc(m->len * 2 + 8);
	const uint8_t *p = m->buf;
	size_t i = 0, o = 0;
	assert_non_null(out);
	while (i < m->len) {
		uint64_t tag = 0, len = 0;
		for (int sh = 0;; sh += 7) {
			out[o++] = p[i] | 0x80;
			tag |= (uint64_t)(p[i] & 0x7f) << sh;
			if (!(p[i++] & 0x80))
				break;
		}
		out[o++] = 0x00;
		if ((tag & 7) == 2) {
			for (int sh = 0;; sh += 7) {
				out[o++] = p[i] | 0x80;
				len |= (uint64_t)(p[i] & 0x7f) << sh;
				if (!(p[i++] & 0x80))
					break;
			}
			out[o++] = 0x00;
			memcpy(out + o, p + i, len);
			o += len, i += len;
		} else {
			assert_int_equal(tag & 7, 0);
			while (p[i] & 0x80)
				out[o++] = p[i++];
			out[o++] = p[i++];
		}
	}
	free(w.buf);
	w.buf = out;
	w.len = o;
	return w;
}

/* The ack carries the UNKNOWN_FIELDS warning naming fields. */
static void
s_warned_unknown(const Ack *a, const char *fields)
{
	for (size_t i = 0; i < a->n_warnings; i++)
		if (strcmp(a->warnings[i]->code, "UNKNOWN_FIELDS") == 0) {
			if (!strstr(a->warnings[i]->reason, fields))
				fail_msg("UNKNOWN_FIELDS reason \"%s\" does not name %s",
				    a->warnings[i]->reason, fields);
			assert_non_null(strstr(a->warnings[i]->reason, " / "));
			return;
		}
	fail_msg("%s: no UNKNOWN_FIELDS warning (%zu warnings)", a->event_id, a->n_warnings);
}

/* The journal holds only canonical records (README, Protocol): a
 * MemberRegistered with an ID number and the overlong tag 0
 * "80 00 01" appended is refused MALFORMED and not journaled; fields a
 * newer client sends (envelope field 1000, event field 99) are dropped
 * before journaling and named in an UNKNOWN_FIELDS warning on the ack, on
 * its DUPLICATE too; a frame with every tag and length written too wide is
 * journaled in protobuf-c's own encoding, so the canonical frame of the same
 * event is its DUPLICATE. Then every record of the journal decodes and
 * packs again to its bytes. */
static void
test_canonical_journal(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "cj", &sock);
	char idn[19], idn2[19];
	h_idnum("19560701", 11, idn);
	h_idnum("19350301", 12, idn2);

	struct hmsg tag0 = hm_member("cj-tag0", "cj-m0", H_ORG_BRANCH, "零号", idn);
	uint8_t *grown = realloc(tag0.buf, tag0.len + 3);
	assert_non_null(grown);
	tag0.buf = grown;
	memcpy(tag0.buf + tag0.len, "\x80\x00\x01", 3);
	tag0.len += 3;
	s_refused(d, sock, tag0, "MALFORMED");
	s_not_found(d, "cj-m0");

	struct hmsg newer = s_member_newer("cj-newer", "cj-m1", idn2);
	Ack *a = hc_call(sock, &newer);
	assert_non_null(a);
	if (a->verdict != JICENG__V1__VERDICT__ACCEPTED)
		fail_msg("newer client's event: %s/%s (%s)", codec_verdict_name(a->verdict), a->code,
		    a->reason);
	s_warned_unknown(a, "1000, member_registered.99");
	uint64_t seq = a->seq;
	assert_true(seq > 0);
	hc_ack_free(a);
	a = hc_call(sock, &newer);           /* the same bytes again */
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_int_equal(a->seq, seq);
	s_warned_unknown(a, "1000, member_registered.99");
	hc_ack_free(a);
	hm_free(&newer);
	QueryReply *r = hq_member(d, "cj-m1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_string_equal(r->member->name, "新版客户端");
	assert_string_equal(r->member->birth_date, "1935-03-01");
	hq_free(r);
	/* An event without unknown fields is answered without the warning. */
	struct hmsg plain = hm_member("cj-plain", "cj-m2", H_ORG_BRANCH, "普通", NULL);
	a = hc_call(sock, &plain);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_int_equal(a->n_warnings, 0);
	hc_ack_free(a);
	hm_free(&plain);

	struct hmsg canon = hm_member("cj-wide", "cj-m3", H_ORG_BRANCH, "宽编码", idn);
	struct hmsg wide = s_widened(&canon);
	assert_int_equal(wide.len, canon.len + 7);  /* 4 tags, 3 lengths */
	a = hc_call(sock, &wide);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_int_equal(a->n_warnings, 0);
	seq = a->seq;
	hc_ack_free(a);
	a = hc_call(sock, &canon);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->seq, seq);
	hc_ack_free(a);
	hm_free(&wide);
	hm_free(&canon);
	hc_close(sock);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_equal(s_journal_canonical(d, 0, "cj-tag0"), 0);
	assert_int_equal(s_journal_canonical(d, 0, "cj-newer"), 1);
	hd_pass(d);
}

/* A journal written by a jicengd from before re-packing holds frames as
 * their clients sent them (here: a tag written too wide, an unknown field).
 * A resend of those very bytes is still the DUPLICATE of its seq, although
 * jicengd now packs it anew before it compares. */
static void
test_resend_of_older_record(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "or", &sock);
	hc_close(sock);
	assert_int_equal(hd_stop(d, 10000), 0);
	struct hmsg canon = hm_member("or-old", "or-m1", H_ORG_BRANCH, "旧记录", NULL);
	struct hmsg old = s_widened(&canon);
	uint8_t *grown = realloc(old.buf, old.len + 3);
	assert_non_null(grown);
	old.buf = grown;
	memcpy(old.buf + old.len, "\xc0\x3e\x05", 3);   /* field 1000 = 5 */
	old.len += 3;
	struct journal *j;
	MDB_txn *txn;
	uint64_t seq, found;
	bool same;
	assert_int_equal(journal_open_at(&j, d->dir, hd_derived(d), 64, 64, false), 0);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_lookup_id(j, txn, H_TOWNSHIP, "or-old", old.buf, old.len, &found,
	    &same), MDB_NOTFOUND);
	assert_int_equal(journal_append(j, txn, now_wall_ms(), JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED,
	    H_TOWNSHIP, "or-old", old.buf, old.len, &seq), 0);
	assert_int_equal(journal_commit(j, txn), 0);
	assert_int_equal(journal_sync(j), 0);
	journal_close(&j);

	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	assert_non_null(sock);
	Ack *a = hc_call(sock, &old);
	assert_non_null(a);
	if (a->verdict != JICENG__V1__VERDICT__DUPLICATE)
		fail_msg("resend of an older record: %s/%s (%s)", codec_verdict_name(a->verdict),
		    a->code, a->reason);
	assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_int_equal(a->seq, seq);
	s_warned_unknown(a, "1000");
	hc_ack_free(a);
	a = hc_call(sock, &canon);           /* the same event, encoded minimally */
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->seq, seq);
	hc_ack_free(a);
	struct hmsg other = hm_member("or-old", "or-m1", H_ORG_BRANCH, "另一个人", NULL);
	a = hc_call(sock, &other);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "ID_REUSED");
	hc_ack_free(a);
	hm_free(&other);
	hm_free(&old);
	hm_free(&canon);
	hc_close(sock);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_equal(s_journal_canonical(d, seq, "or-old"), 1);
	hd_pass(d);
}

/* With the county's townships configured, an event of any other township
 * is refused UNKNOWN_TOWNSHIP before journaling; a listed township, or one
 * under a listed county code, is served. */
static void
test_unknown_township(void **state)
{
	struct hd_opts o = { .config = "[daemon]\ntownships = 510722, 510723101000\n" };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "ok", &sock);  /* H_TOWNSHIP, under 510722 */
	s_refused(d, sock, s_member_with("unk-tw-1", "510724101000", "unk-t1", "甲", "", -1),
	    "UNKNOWN_TOWNSHIP");
	s_refused(d, sock, s_member_with("unk-tw-2", "510723102000", "unk-t2", "乙", "", -1),
	    "UNKNOWN_TOWNSHIP");
	s_rule(sock, hm_member_in("510723101000", "unk-tw-3", "unk-t3", "no-such-org", "丙", NULL),
	    "UNKNOWN_ORG");
	hc_close(sock);
	hd_pass(d);
}

/* A server that runs the membership worker alone refuses the other
 * domains' events at once, journaling nothing. */
static void
test_domain_not_served(void **state)
{
	struct hd_opts o = { .workers = "membership" };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "ok", &sock);
	s_refused(d, sock, s_bare_meeting("ns-meeting"), "DOMAIN_NOT_SERVED");
	s_refused(d, sock, s_bare_dues("ns-dues", "nobody"), "DOMAIN_NOT_SERVED");
	hc_close(sock);
	hd_pass(d);
}

int
integ_badinput(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_malformed_frames, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_envelope_checks, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_domain_not_served, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_future_time, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_embedded_nul, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rule_rejections, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_journal_clean, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_canonical_journal, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_resend_of_older_record, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_township, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("badinput", tests, NULL, NULL);
}
