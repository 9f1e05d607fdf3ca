/*
 * Unit tests of the mobile-member rules (workers/mobility.c): L1-L4, an
 * episode from departure to return, who reports (the host org's township,
 * or the home township for a host outside the county), lost contact at the
 * Tick and its setting, the L4 audit, the fields and dates each step
 * checks, the "hosted by" index and the change log the status stream is
 * published from. Each runs against a real LMDB environment in a temporary
 * directory; fx_send also checks that every rejection wrote nothing.
 */
#include "unit.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membership_fx.h"
#include "records.h"

#define PLACE  "440305"          /* 深圳市南山区: the county-level destination */
#define MONTH_OF_DAYS (31 * DAY)
#define CERT64 "0123456789012345678901234567890123456789012345678901234567890123"   /* the longest certificate_no */
#define CERT65 CERT64 "X"

/* ---------------------------------------------------------- fixture */

/* TS1: township committee T, village committee V, branches B and B2.
 * TS2: T2, V2, branches H and H2 (host orgs in the county). The sender
 * is TS1 afterwards. */
static void
s_trees(struct fx *f)
{
	f->township = TS1;
	fx_tree(f, "T", "V", "B");
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
	f->township = TS2;
	fx_tree(f, "T2", "V2", "H");
	ACCEPTED(fx_org(f, "H2", JICENG__V1__ORG_KIND__BRANCH, "V2", "T2"));
	f->township = TS1;
}

/* A full member of B with a phone. */
static void
s_member_new(struct fx *f, const char *id)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, "B",
	    JICENG__V1__MEMBER_CATEGORY__FULL);
	e.name = "李四";
	e.admitted_at = fx_cst(2005, 7, 1, 9, 0);
	e.phone = FX_PHONE;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e));
}

static void
s_world(struct fx *f)
{
	s_trees(f);
	s_member_new(f, "a");
}

static Jiceng__V1__MobileDeparted
s_departure(const char *flow, const char *member, int64_t at)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	d.flow_id = (char *)flow;
	d.member_id = (char *)member;
	d.destination_code = PLACE;
	d.reason = "务工";
	d.expected_months = 3;
	d.certificate_no = "LD-2025-001";
	d.departed_at = at;
	return d;
}

static struct verdict
s_send_departure(struct fx *f, Jiceng__V1__MobileDeparted *d)
{
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, d);
}

/* A departure now of member to the destination, host expected. */
static struct verdict
s_depart(struct fx *f, const char *flow, const char *member, const char *host)
{
	Jiceng__V1__MobileDeparted d = s_departure(flow, member, f->now);
	d.host_org_id = (char *)(host ? host : "");
	return s_send_departure(f, &d);
}

static struct verdict
s_report(struct fx *f, const char *flow, const char *host_id,
    const char *host_name, int64_t at)
{
	Jiceng__V1__MobileReported r = JICENG__V1__MOBILE_REPORTED__INIT;
	r.flow_id = (char *)flow;
	r.host_org_id = (char *)(host_id ? host_id : "");
	r.host_org_name = (char *)(host_name ? host_name : "");
	r.reported_at = at;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &r);
}

/* A report to in-county host by its township (the sender is TS1 after). */
static void
s_report_in(struct fx *f, const char *flow, const char *host, const char *township)
{
	f->township = township;
	ACCEPTED(s_report(f, flow, host, NULL, f->now));
	f->township = TS1;
}

static struct verdict
s_contact(struct fx *f, const char *flow, int64_t at)
{
	Jiceng__V1__MobileContacted c = JICENG__V1__MOBILE_CONTACTED__INIT;
	c.flow_id = (char *)flow;
	c.contacted_at = at;
	c.channel = "电话";
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, &c);
}

static struct verdict
s_review(struct fx *f, const char *flow, int64_t at, const char *cert)
{
	Jiceng__V1__CertificateReviewed c = JICENG__V1__CERTIFICATE_REVIEWED__INIT;
	c.flow_id = (char *)flow;
	c.reviewed_at = at;
	c.certificate_no = (char *)(cert ? cert : "");
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED, &c);
}

static struct verdict
s_return(struct fx *f, const char *flow, int64_t at)
{
	Jiceng__V1__MobileReturned r = JICENG__V1__MOBILE_RETURNED__INIT;
	r.flow_id = (char *)flow;
	r.returned_at = at;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &r);
}

static void
s_rules_lost_contact(struct fx *f, uint32_t lost_months, uint32_t fixed_months)
{
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	r.mobile_lost_contact_months = lost_months;
	r.mobile_fixed_place_months = fixed_months;
	ACCEPTED(fx_rules(f, &r));
}

/* Set member's transfer state (a letter tr1) through the record layer, as
 * transfers.c would. */
static void
s_in_transfer(struct fx *f, const char *member, int state)
{
	struct member_rec r;
	MDB_txn *txn = fx_write(f);
	assert_int_equal(records_member_load(f->m, txn, member, &r), 0);
	r.transfer_state = state;
	snprintf(r.transfer_id, sizeof r.transfer_id, "tr1");
	assert_int_equal(records_member_store(f->m, txn, &r), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static int
s_member_state(struct fx *f, const char *id)
{
	struct member_rec r;
	fx_load_member(f, id, &r);
	return r.mobility_state;
}

static int
s_episode_state(struct fx *f, const char *flow)
{
	struct episode_rec e;
	fx_load_episode(f, flow, &e);
	return e.state;
}

/* The flow the "hosted by" index gives for member at host ("" if none). */
static void
s_hosted(struct fx *f, const char *host, const char *member, char out[CODEC_MAX_ID + 1])
{
	char key[2 * CODEC_MAX_ID + 2];
	size_t hn = strlen(host), mn = strlen(member);
	MDB_val k = { hn + 1 + mn, key }, d;
	MDB_txn *txn;
	int rc;

	memcpy(key, host, hn);
	key[hn] = '\0';
	memcpy(key + hn + 1, member, mn);
	txn = fx_read(f);
	rc = mdb_get(txn, f->m->hosted, &k, &d);
	if (rc == MDB_NOTFOUND) {
		out[0] = '\0';
	} else {
		assert_int_equal(rc, 0);
		assert_true(d.mv_size <= CODEC_MAX_ID);
		memcpy(out, d.mv_data, d.mv_size);
		out[d.mv_size] = '\0';
	}
	mdb_txn_abort(txn);
}

static unsigned
s_audit_count(struct fx *f, const char *code, const char *org, const char *needle)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, d;
	struct audit_entry a;
	unsigned n = 0;

	txn = fx_read(f);
	assert_int_equal(mdb_cursor_open(txn, f->m->audit, &c), 0);
	for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &d, op) == 0; op = MDB_NEXT) {
		assert_int_equal(records_audit_decode(&k, &d, &a), 0);
		if (strcmp(a.code, code) != 0)
			continue;
		assert_string_equal(a.org_id, org);
		assert_non_null(strstr(a.text, " / "));
		if (!needle || strstr(a.text, needle))
			n++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return n;
}

/* ---------------------------------------------------------- an episode */

/* Departure with an expected host, report by the host township, contact,
 * review, return: the episode, the member, the hosted index and the
 * status stream at each step. */
static void
test_episode_lifecycle(void **state)
{
	struct fx *f = *state;
	struct episode_rec e;
	struct member_rec r;
	struct fx_changes c;
	char flow[CODEC_MAX_ID + 1];
	uint64_t first;
	int64_t d0;

	s_world(f);
	first = f->seq + 1;
	d0 = f->now;
	ACCEPTED(s_depart(f, "f1", "a", "H"));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_string_equal(e.member_id, "a");
	assert_string_equal(e.home_org_id, "B");
	assert_string_equal(e.home_township_id, TS1);
	assert_string_equal(e.destination_code, PLACE);
	assert_string_equal(e.expected_host_org_id, "H");
	assert_string_equal(e.host_org_id, "");           /* not hosted until reported */
	assert_string_equal(e.certificate_no, "LD-2025-001");
	assert_string_equal(e.reason, "务工");
	assert_int_equal(e.departed_at, d0);
	assert_int_equal(e.last_contact_at, d0);
	assert_int_equal(e.opened_seq, f->seq);
	assert_int_equal(e.last_seq, f->seq);
	fx_load_member(f, "a", &r);
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_string_equal(r.flow_id, "f1");
	assert_string_equal(r.host_org_id, "");
	assert_string_equal(r.home_org_id, "B");          /* 双向管理: home stays */
	s_hosted(f, "H", "a", flow);
	assert_string_equal(flow, "");

	f->now += 5 * DAY;
	s_report_in(f, "f1", "H", TS2);
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(e.host_org_id, "H");
	assert_string_equal(e.host_township_id, TS2);
	assert_int_equal(e.reported_at, f->now);
	assert_int_equal(e.last_contact_at, f->now);      /* a report is a contact */
	fx_load_member(f, "a", &r);
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(r.host_org_id, "H");
	s_hosted(f, "H", "a", flow);
	assert_string_equal(flow, "f1");

	f->now += 30 * DAY;
	ACCEPTED(s_contact(f, "f1", f->now));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.last_contact_at, f->now);
	assert_int_equal(e.last_seq, f->seq);
	ACCEPTED(s_review(f, "f1", f->now, "LD-2025-002"));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.certificate_reviewed_at, f->now);
	assert_string_equal(e.certificate_no, "LD-2025-002");
	ACCEPTED(s_review(f, "f1", f->now - DAY, NULL));   /* an older review: kept latest */
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.certificate_reviewed_at, f->now);
	assert_string_equal(e.certificate_no, "LD-2025-002");

	f->now += 60 * DAY;
	ACCEPTED(s_return(f, "f1", f->now - DAY));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__RETURNED);
	assert_int_equal(e.returned_at, f->now - DAY);
	assert_string_equal(e.host_org_id, "H");          /* the record keeps it */
	fx_load_member(f, "a", &r);
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__RETURNED);
	assert_string_equal(r.host_org_id, "");
	assert_string_equal(r.flow_id, "f1");
	s_hosted(f, "H", "a", flow);
	assert_string_equal(flow, "");

	/* Departure, report, return; contacts and reviews move no state. */
	fx_changes(f, first, UINT64_MAX, &c);
	assert_int_equal(c.n, 3);
	assert_false(c.leaked);
	assert_int_equal(c.sc[0]->state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_int_equal(c.sc[0]->previous_state, JICENG__V1__MOBILITY_STATE__NOT_MOBILE);
	assert_int_equal(c.sc[1]->state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(c.sc[1]->host_org_id, "H");
	assert_string_equal(c.sc[1]->host_township_id, TS2);
	assert_int_equal(c.sc[2]->state, JICENG__V1__MOBILITY_STATE__RETURNED);
	assert_int_equal(c.sc[2]->previous_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(c.sc[2]->host_org_id, "");
	for (unsigned i = 0; i < c.n; i++) {
		assert_string_equal(c.sc[i]->member_id, "a");
		assert_string_equal(c.sc[i]->flow_id, "f1");
		assert_string_equal(c.sc[i]->place_code, PLACE);
		assert_string_equal(c.sc[i]->home_org_id, "B");
		assert_string_equal(c.sc[i]->township_id, TS1);
		assert_true(i == 0 || c.sc[i]->seq > c.sc[i - 1]->seq);
	}
	fx_changes_free(&c);

	/* A new episode after the return; the old flow_id stays taken. */
	REJECTED(s_depart(f, "f1", "a", NULL), "FLOW_EXISTS");
	ACCEPTED(s_depart(f, "f2", "a", NULL));
	fx_load_member(f, "a", &r);
	assert_string_equal(r.flow_id, "f2");
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
}

/* ---------------------------------------------------------- who reports */

static void
test_report_by_host_township(void **state)
{
	struct fx *f = *state;
	struct verdict v;
	struct member_rec r;
	struct episode_rec e;
	char flow[CODEC_MAX_ID + 1];

	s_world(f);
	ACCEPTED(s_depart(f, "f1", "a", "H"));
	/* The home township may not report the member to a host elsewhere in
	 * the county: the host township does (流入地乡镇报到). */
	v = s_report(f, "f1", "H", NULL, f->now);
	REJECTED(v, "WRONG_TOWNSHIP");
	assert_non_null(strstr(v.reason, "流入地乡镇报到"));
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	f->township = TS2;
	ACCEPTED(s_report(f, "f1", "H", NULL, f->now));
	/* ...and only for a host of its own, not on the home's behalf. */
	REJECTED(s_report(f, "f1", NULL, "广东省深圳市某公司党支部", f->now), "WRONG_TOWNSHIP");
	REJECTED(s_report(f, "f1", "B2", NULL, f->now), "WRONG_TOWNSHIP");
	/* Other steps are the home org's. */
	REJECTED(s_contact(f, "f1", f->now), "WRONG_TOWNSHIP");
	REJECTED(s_review(f, "f1", f->now, NULL), "WRONG_TOWNSHIP");
	REJECTED(s_return(f, "f1", f->now), "WRONG_TOWNSHIP");

	/* A second report moves the member to the new host. */
	f->now += DAY;
	ACCEPTED(s_report(f, "f1", "H2", NULL, f->now));
	fx_load_member(f, "a", &r);
	assert_string_equal(r.host_org_id, "H2");
	s_hosted(f, "H", "a", flow);
	assert_string_equal(flow, "");
	s_hosted(f, "H2", "a", flow);
	assert_string_equal(flow, "f1");

	/* A host in the home township is reported by it. */
	f->township = TS1;
	f->now += DAY;
	ACCEPTED(s_report(f, "f1", "B2", NULL, f->now));
	fx_load_episode(f, "f1", &e);
	assert_string_equal(e.host_org_id, "B2");
	assert_string_equal(e.host_township_id, TS1);
	s_hosted(f, "H2", "a", flow);
	assert_string_equal(flow, "");
	s_hosted(f, "B2", "a", flow);
	assert_string_equal(flow, "f1");
}

static void
test_report_outside_county(void **state)
{
	struct fx *f = *state;
	struct member_rec r;
	struct episode_rec e;
	struct fx_changes c;
	uint64_t from;

	s_world(f);
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	/* The host township of an outside host is not in jiceng: the home
	 * township reports on the member's behalf, no one else. */
	f->township = TS2;
	REJECTED(s_report(f, "f1", NULL, "广东省深圳市某公司党支部", f->now), "WRONG_TOWNSHIP");
	f->township = TS1;
	from = f->seq + 1;
	ACCEPTED(s_report(f, "f1", NULL, "广东省深圳市某公司党支部", f->now));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(e.host_org_name, "广东省深圳市某公司党支部");
	assert_string_equal(e.host_org_id, "");
	assert_string_equal(e.host_township_id, "");
	fx_load_member(f, "a", &r);
	assert_int_equal(r.mobility_state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(r.host_org_id, "");
	fx_changes(f, from, UINT64_MAX, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.sc[0]->host_org_id, "");
	assert_string_equal(c.sc[0]->host_township_id, "");
	assert_string_equal(c.sc[0]->place_code, PLACE);
	fx_changes_free(&c);

	/* Then reported to an in-county host: the outside name goes. */
	f->township = TS2;
	ACCEPTED(s_report(f, "f1", "H", NULL, f->now));
	fx_load_episode(f, "f1", &e);
	assert_string_equal(e.host_org_name, "");
	assert_string_equal(e.host_org_id, "H");
}

static void
test_report_fields(void **state)
{
	struct fx *f = *state;
	char name[CODEC_MAX_TEXT + 2];

	s_world(f);
	f->now += DAY;
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	f->township = TS2;
	REJECTED(s_report(f, "f1", NULL, NULL, f->now), "BAD_FIELD");
	REJECTED(s_report(f, "f1", "H", "某党支部", f->now), "BAD_FIELD");
	REJECTED(s_report(f, "f1", "nope", NULL, f->now), "UNKNOWN_ORG");
	REJECTED(s_report(f, "f1", "H", NULL, 0), "BAD_FIELD");
	REJECTED(s_report(f, "f1", "H", NULL, f->now - DAY), "BAD_FIELD");  /* too early */
	REJECTED(s_report(f, "f1", "H", NULL, f->now + 11 * 60000), "FUTURE_TIME");
	f->township = TS1;
	REJECTED(s_report(f, "f1", "B", NULL, f->now), "BAD_FIELD");          /* the home org */
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	REJECTED(s_report(f, "f1", NULL, name, f->now), "BAD_FIELD");
	name[CODEC_MAX_TEXT] = '\0';
	ACCEPTED(s_report(f, "f1", NULL, name, f->now));
}

/* ---------------------------------------------------------- departure */

static void
test_departure_fields(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MobileDeparted d;
	Jiceng__V1__OrgDissolved od = JICENG__V1__ORG_DISSOLVED__INIT;
	static const char *bad_places[] = { "", "44030", "4403051", "44030a",
	    "440305001000", "４40305" };
	char text[CODEC_MAX_TEXT + 2];

	s_world(f);
	for (size_t i = 0; i < sizeof bad_places / sizeof bad_places[0]; i++) {
		d = s_departure("f1", "a", f->now);
		d.destination_code = (char *)bad_places[i];
		REJECTED(s_send_departure(f, &d), "BAD_FIELD");
	}
	d = s_departure("", "a", f->now);
	REJECTED(s_send_departure(f, &d), "BAD_FIELD");
	REJECTED(s_depart(f, "f1", "nobody", NULL), "UNKNOWN_MEMBER");
	REJECTED(s_depart(f, "f1", "a", "nope"), "UNKNOWN_ORG");
	REJECTED(s_depart(f, "f1", "a", "B"), "BAD_FIELD");       /* the home org */
	f->township = TS2;
	od.org_id = "H2";
	od.approving_org_id = "T2";
	od.dissolved_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &od));
	/* Only the home township sends the departure. */
	REJECTED(s_depart(f, "f1", "a", NULL), "WRONG_TOWNSHIP");
	f->township = TS1;
	REJECTED(s_depart(f, "f1", "a", "H2"), "ORG_DISSOLVED");
	d = s_departure("f1", "a", 0);
	REJECTED(s_send_departure(f, &d), "BAD_FIELD");
	d = s_departure("f1", "a", f->now + 11 * 60000);
	REJECTED(s_send_departure(f, &d), "FUTURE_TIME");
	d = s_departure("f1", "a", f->now);
	d.certificate_no = CERT65;
	REJECTED(s_send_departure(f, &d), "BAD_FIELD");
	memset(text, 'x', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	d = s_departure("f1", "a", f->now);
	d.reason = text;
	REJECTED(s_send_departure(f, &d), "BAD_FIELD");
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__NOT_MOBILE);

	/* Bounds met; a host in the same township as the home is fine too. */
	d = s_departure("f1", "a", f->now + 10 * 60000);
	d.certificate_no = CERT64;
	text[CODEC_MAX_TEXT] = '\0';
	d.reason = text;
	d.host_org_id = "B2";
	ACCEPTED(s_send_departure(f, &d));
}

/* L1: one open episode per member, and none while in transfer. */
static void
test_l1_one_open_episode(void **state)
{
	struct fx *f = *state;

	s_world(f);
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	REJECTED(s_depart(f, "f2", "a", NULL), "L1");
	s_report_in(f, "f1", "H", TS2);
	REJECTED(s_depart(f, "f2", "a", NULL), "L1");
	f->now += 7 * MONTH_OF_DAYS;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	REJECTED(s_depart(f, "f2", "a", NULL), "L1");               /* lost is still open */
	ACCEPTED(s_return(f, "f1", f->now));
	ACCEPTED(s_depart(f, "f2", "a", NULL));

	/* A member in transfer (the letter ISSUED) may not go mobile. */
	s_member_new(f, "t");
	s_in_transfer(f, "t", JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	REJECTED(s_depart(f, "f3", "t", NULL), "L1");
	/* Once the letter is received (the member moved), departure is open. */
	s_in_transfer(f, "t", JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED);
	ACCEPTED(s_depart(f, "f3", "t", NULL));
}

/* L2: steps of an episode that is not open; unknown flows. */
static void
test_l2_impossible_orders(void **state)
{
	struct fx *f = *state;

	s_world(f);
	REJECTED(s_report(f, "none", NULL, "某党支部", f->now), "UNKNOWN_FLOW");
	REJECTED(s_contact(f, "none", f->now), "UNKNOWN_FLOW");
	REJECTED(s_review(f, "none", f->now, NULL), "UNKNOWN_FLOW");
	REJECTED(s_return(f, "none", f->now), "UNKNOWN_FLOW");
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	f->now += DAY;
	ACCEPTED(s_return(f, "f1", f->now));
	REJECTED(s_return(f, "f1", f->now), "L2");
	REJECTED(s_contact(f, "f1", f->now), "L2");
	REJECTED(s_review(f, "f1", f->now, NULL), "L2");
	REJECTED(s_report(f, "f1", NULL, "某党支部", f->now), "L2");
	f->township = TS2;
	REJECTED(s_report(f, "f1", "H", NULL, f->now), "L2");
	f->township = TS1;
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__RETURNED);
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__RETURNED);
}

/* Step dates: required, not future, not before the departure. */
static void
test_step_times(void **state)
{
	struct fx *f = *state;

	s_world(f);
	f->now += 10 * DAY;
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	REJECTED(s_contact(f, "f1", 0), "BAD_FIELD");
	REJECTED(s_contact(f, "f1", f->now - 1), "BAD_FIELD");
	REJECTED(s_contact(f, "f1", f->now + 11 * 60000), "FUTURE_TIME");
	REJECTED(s_review(f, "f1", 0, NULL), "BAD_FIELD");
	REJECTED(s_review(f, "f1", f->now - DAY, NULL), "BAD_FIELD");
	REJECTED(s_review(f, "f1", f->now, CERT65), "BAD_FIELD");
	REJECTED(s_return(f, "f1", 0), "BAD_FIELD");
	REJECTED(s_return(f, "f1", f->now - DAY), "BAD_FIELD");
	REJECTED(s_return(f, "f1", f->now + 11 * 60000), "FUTURE_TIME");
	ACCEPTED(s_contact(f, "f1", f->now + 10 * 60000));
	ACCEPTED(s_return(f, "f1", f->now));
}

/* L3: a long stay at a fixed place is warned (transfer instead). */
static void
test_l3_fixed_place(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MobileDeparted d;
	struct verdict v;

	s_world(f);
	s_member_new(f, "b");
	s_member_new(f, "c");
	d = s_departure("f1", "a", f->now);
	d.fixed_place = true;
	d.expected_months = 6;
	v = s_send_departure(f, &d);
	assert_true(v.accepted);
	assert_int_equal(v.nwarnings, 1);
	assert_string_equal(v.warnings[0].code, "L3");
	assert_non_null(strstr(v.warnings[0].reason, " / "));
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	/* Shorter, or not at a fixed place: no warning. */
	d = s_departure("f2", "b", f->now);
	d.fixed_place = true;
	d.expected_months = 5;
	v = s_send_departure(f, &d);
	assert_true(v.accepted);
	assert_int_equal(v.nwarnings, 0);
	d = s_departure("f3", "c", f->now);
	d.expected_months = 24;
	v = s_send_departure(f, &d);
	assert_true(v.accepted);
	assert_int_equal(v.nwarnings, 0);
	/* The threshold is a setting. */
	ACCEPTED(s_return(f, "f2", f->now));
	s_rules_lost_contact(f, 0, 4);
	d = s_departure("f4", "b", f->now);
	d.fixed_place = true;
	d.expected_months = 5;
	v = s_send_departure(f, &d);
	assert_true(v.accepted);
	assert_int_equal(v.nwarnings, 1);
	assert_string_equal(v.warnings[0].code, "L3");
}

/* R3: only a NORMAL member goes mobile. */
static void
test_r3_only_normal(void **state)
{
	struct fx *f = *state;

	s_world(f);
	ACCEPTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	REJECTED(s_depart(f, "f1", "a", NULL), "R3");
	ACCEPTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__NORMAL));
	ACCEPTED(s_depart(f, "f1", "a", NULL));
}

/* ---------------------------------------------------------- lost contact */

static void
test_lost_contact(void **state)
{
	struct fx *f = *state;
	struct episode_rec e;
	struct fx_changes c;
	int64_t d0;
	uint64_t from;

	s_world(f);
	d0 = f->now;
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	/* Not one day before the six months... */
	f->now = civil_add_months(d0, 6) - DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	/* ...but at the first Tick when they are over. */
	f->now = civil_add_months(d0, 6);
	from = f->seq + 1;
	ACCEPTED(fx_tick(f));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	assert_int_equal(e.lost_contact_since, f->now);
	assert_int_equal(e.last_seq, f->seq);
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	fx_changes(f, from, UINT64_MAX, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.sc[0]->seq, f->seq);
	assert_int_equal(c.sc[0]->state, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	assert_int_equal(c.sc[0]->previous_state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_int_equal(c.sc[0]->changed_at, f->now);
	assert_string_equal(c.sc[0]->place_code, PLACE);
	assert_false(c.leaked);
	fx_changes_free(&c);
	/* Entered once. */
	f->now += 3600000;
	from = f->seq + 1;
	ACCEPTED(fx_tick(f));
	fx_changes(f, from, UINT64_MAX, &c);
	assert_int_equal(c.n, 0);

	/* The next contact leaves it, to where the episode was. */
	ACCEPTED(s_contact(f, "f1", f->now));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_int_equal(e.lost_contact_since, 0);
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	fx_changes(f, from, UINT64_MAX, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.sc[0]->previous_state, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	fx_changes_free(&c);

	/* Reported, lost again, then a report leaves it too. */
	s_report_in(f, "f1", "H", TS2);
	f->now = civil_add_months(f->now, 6);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	{
		struct member_rec r;
		fx_load_member(f, "a", &r);
		assert_string_equal(r.host_org_id, "H");   /* still hosted while lost */
	}
	/* A contact from an old paper record (an import) leaves it... */
	ACCEPTED(s_contact(f, "f1", d0 + DAY));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_true(e.last_contact_at > d0 + DAY);        /* contacts only move forward */
	/* ...and the next Tick finds it still lost. */
	f->now += 3600000;
	ACCEPTED(fx_tick(f));
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.state, JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	assert_int_equal(e.lost_contact_since, f->now);
	f->township = TS2;
	ACCEPTED(s_report(f, "f1", "H2", NULL, f->now));
	f->township = TS1;
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__REPORTED);
	/* A returned episode is never lost. */
	ACCEPTED(s_return(f, "f1", f->now));
	f->now = civil_add_months(f->now, 12);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__RETURNED);
}

/* A RulesChanged lowering mobile.lost_contact_months takes effect at the
 * next Tick. */
static void
test_lost_contact_setting(void **state)
{
	struct fx *f = *state;
	int64_t d0;

	s_world(f);
	d0 = f->now;
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	f->now = civil_add_months(d0, 3);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	s_rules_lost_contact(f, 2, 0);
	assert_int_equal(f->rules.mobile_lost_contact_months, 2);
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	f->now += 3600000;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_episode_state(f, "f1"), JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	assert_int_equal(s_member_state(f, "a"), JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
}

/* ---------------------------------------------------------- L4 */

static void
test_l4_review_audit(void **state)
{
	struct fx *f = *state;
	struct episode_rec e;
	int64_t d0;

	s_world(f);
	s_member_new(f, "b");
	d0 = f->now;
	ACCEPTED(s_depart(f, "f1", "a", NULL));
	ACCEPTED(s_depart(f, "f2", "b", NULL));
	f->now = civil_add_months(d0, 6);
	ACCEPTED(s_review(f, "f2", f->now, NULL));        /* f2 reviewed at 6 months */
	f->now = civil_add_months(d0, 12) - 3600000;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", NULL), 0);
	/* Found at the first Tick 12 months after departure... */
	f->now = civil_add_months(d0, 12);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", NULL), 1);
	assert_int_equal(s_audit_count(f, "L4", "B", "f1"), 1);
	fx_load_episode(f, "f1", &e);
	assert_int_equal(e.review_overdue_at, f->now);
	/* ...once: not again at the next hourly Tick... */
	f->now += 3600000;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", NULL), 1);
	/* f2 is due 12 months after its review. */
	f->now = civil_add_months(d0, 18) - DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", "f2"), 0);
	f->now = civil_add_months(d0, 18);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", "f2"), 1);
	/* ...and again 12 months after the finding. */
	f->now = civil_add_months(d0, 24) - DAY;
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", "f1"), 1);
	f->now = civil_add_months(d0, 24);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", "f1"), 2);
	/* A closed episode is not audited. */
	ACCEPTED(s_return(f, "f1", f->now));
	f->now = civil_add_months(d0, 48);
	ACCEPTED(fx_tick(f));
	assert_int_equal(s_audit_count(f, "L4", "B", "f1"), 2);
	assert_true(s_audit_count(f, "L4", "B", "f2") > 1);
}

/* ---------------------------------------------------------- no trace */

/* A rejected event writes nothing: no record, index or change-log entry. */
static void
test_rejected_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct episode_rec e1, e2;
	uint64_t writes, changes;

	s_world(f);
	s_member_new(f, "b");
	ACCEPTED(s_depart(f, "f1", "a", "H"));
	fx_load_episode(f, "f1", &e1);
	writes = membership_writes();
	changes = membership_changes_written();
	REJECTED(s_depart(f, "f2", "a", NULL), "L1");
	REJECTED(s_depart(f, "f1", "b", NULL), "FLOW_EXISTS");
	REJECTED(s_report(f, "f1", "H", NULL, f->now), "WRONG_TOWNSHIP");
	REJECTED(s_report(f, "f1", "B", NULL, f->now), "BAD_FIELD");
	REJECTED(s_contact(f, "f1", f->now - DAY), "BAD_FIELD");
	REJECTED(s_return(f, "f9", f->now), "UNKNOWN_FLOW");
	assert_int_equal(membership_writes(), writes);
	assert_int_equal(membership_changes_written(), changes);
	fx_load_episode(f, "f1", &e2);
	assert_memory_equal(&e1, &e2, sizeof e1);
}

int
unit_mobility(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_episode_lifecycle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_by_host_township, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_outside_county, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_fields, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_departure_fields, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_l1_one_open_episode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_l2_impossible_orders, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_step_times, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_l3_fixed_place, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r3_only_normal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lost_contact, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lost_contact_setting, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_l4_review_audit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rejected_writes_nothing, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("mobility", tests, NULL, NULL);
}
