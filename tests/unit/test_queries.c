/*
 * Unit tests of the read side of transfers and mobile episodes
 * (workers/membership_query.c): getting one, listing them by member (the
 * history), by org and by township (the open ones), paging, the state
 * filter, unknown ids, and the townships the query server authorises by.
 * The records are written straight through the record layer
 * (workers/records.h) in a real LMDB environment, so these tests do not
 * depend on the transfer and mobility rules.
 */
#include "unit.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membership_fx.h"
#include "records.h"

/* Two orgs in TS1, one in TS2. */
#define ORG_A1 "o-a1"
#define ORG_A2 "o-a2"
#define ORG_B1 "o-b1"

/* ---------------------------------------------------------- records */

static void
s_org(struct fx *f, MDB_txn *txn, const char *id, const char *township)
{
	struct org_rec o;
	memset(&o, 0, sizeof o);
	snprintf(o.org_id, sizeof o.org_id, "%s", id);
	snprintf(o.name, sizeof o.name, "支部 %s", id);
	snprintf(o.township_id, sizeof o.township_id, "%s", township);
	o.kind = JICENG__V1__ORG_KIND__BRANCH;
	o.formation = JICENG__V1__FORMATION__SINGLE;
	assert_int_equal(records_org_store(f->m, txn, &o), 0);
}

static void
s_member(struct fx *f, MDB_txn *txn, const char *id, const char *org,
    const char *township)
{
	struct member_rec r;
	memset(&r, 0, sizeof r);
	snprintf(r.member_id, sizeof r.member_id, "%s", id);
	snprintf(r.home_org_id, sizeof r.home_org_id, "%s", org);
	snprintf(r.township_id, sizeof r.township_id, "%s", township);
	snprintf(r.name, sizeof r.name, "党员");
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.status = JICENG__V1__MEMBER_STATUS__NORMAL;
	assert_int_equal(records_member_store(f->m, txn, &r), 0);
}

/* A transfer of member from org `from` to org `to` (either "" for
 * outside the county, then named by an ExternalOrg) in state. */
static struct transfer_rec
s_transfer_rec(const char *id, const char *member, const char *from,
    const char *from_twp, const char *to, const char *to_twp, int state)
{
	struct transfer_rec t;
	memset(&t, 0, sizeof t);
	snprintf(t.transfer_id, sizeof t.transfer_id, "%s", id);
	snprintf(t.member_id, sizeof t.member_id, "%s", member);
	snprintf(t.from_org_id, sizeof t.from_org_id, "%s", from);
	snprintf(t.from_township_id, sizeof t.from_township_id, "%s", from_twp);
	snprintf(t.to_org_id, sizeof t.to_org_id, "%s", to);
	snprintf(t.to_township_id, sizeof t.to_township_id, "%s", to_twp);
	if (!*to) {
		snprintf(t.to_external.area_code, sizeof t.to_external.area_code, "320123");
		snprintf(t.to_external.org_name, sizeof t.to_external.org_name, "外县某支部");
	}
	snprintf(t.letter_no, sizeof t.letter_no, "L-%s", id);
	t.state = state;
	t.issued_at = fx_cst(2025, 1, 5, 9, 0);
	t.valid_days = 30;
	t.valid_until = t.issued_at + 30 * DAY;
	t.dues_paid_through = 202412;
	t.opened_seq = 7;
	t.last_seq = 7;
	return t;
}

static void
s_transfer(struct fx *f, MDB_txn *txn, const char *id, const char *member,
    const char *from, const char *from_twp, const char *to, const char *to_twp,
    int state)
{
	struct transfer_rec t = s_transfer_rec(id, member, from, from_twp, to, to_twp, state);
	assert_int_equal(records_transfer_store(f->m, txn, NULL, &t), 0);
}

/* An episode of member away from home org `home`; host may be "". */
static void
s_episode(struct fx *f, MDB_txn *txn, const char *id, const char *member,
    const char *home, const char *home_twp, const char *host, const char *host_twp,
    int state)
{
	struct episode_rec e;
	memset(&e, 0, sizeof e);
	snprintf(e.flow_id, sizeof e.flow_id, "%s", id);
	snprintf(e.member_id, sizeof e.member_id, "%s", member);
	snprintf(e.home_org_id, sizeof e.home_org_id, "%s", home);
	snprintf(e.home_township_id, sizeof e.home_township_id, "%s", home_twp);
	snprintf(e.host_org_id, sizeof e.host_org_id, "%s", host);
	snprintf(e.host_township_id, sizeof e.host_township_id, "%s", host_twp);
	snprintf(e.destination_code, sizeof e.destination_code, "440305");
	snprintf(e.reason, sizeof e.reason, "务工");
	snprintf(e.certificate_no, sizeof e.certificate_no, "C-%s", id);
	e.state = state;
	e.expected_months = 8;
	e.departed_at = fx_cst(2025, 1, 2, 9, 0);
	e.last_contact_at = e.departed_at;
	e.opened_seq = 9;
	e.last_seq = 9;
	assert_int_equal(records_episode_store(f->m, txn, NULL, &e), 0);
}

/* The orgs, and members m1 (ORG_A1), m2 (ORG_B1), m3 (ORG_A1), m4 (ORG_B1). */
static struct fx *
s_county(void **state)
{
	struct fx *f = *state;
	MDB_txn *txn = fx_write(f);
	s_org(f, txn, ORG_A1, TS1);
	s_org(f, txn, ORG_A2, TS1);
	s_org(f, txn, ORG_B1, TS2);
	s_member(f, txn, "m1", ORG_A1, TS1);
	s_member(f, txn, "m2", ORG_B1, TS2);
	s_member(f, txn, "m3", ORG_A1, TS1);
	s_member(f, txn, "m4", ORG_B1, TS2);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return f;
}

/* The county with t-1 (m1 from ORG_A1 to ORG_B1, ISSUED) and t-out (m3
 * from ORG_A1 out of the county, in out_state). */
static struct fx *
s_county_transfers(void **state, int out_state)
{
	struct fx *f = s_county(state);
	MDB_txn *txn = fx_write(f);
	s_transfer(f, txn, "t-1", "m1", ORG_A1, TS1, ORG_B1, TS2,
	    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	s_transfer(f, txn, "t-out", "m3", ORG_A1, TS1, "", "", out_state);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return f;
}

/* ---------------------------------------------------------- list helpers */

/* The ids of a transfer list, comma-separated, into buf. */
static const char *
s_transfer_ids(const Jiceng__V1__TransferList *l, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < l->n_transfers && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "",
		    l->transfers[i]->transfer_id);
	return buf;
}

static const char *
s_episode_ids(const Jiceng__V1__MobileEpisodeList *l, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < l->n_episodes && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "",
		    l->episodes[i]->flow_id);
	return buf;
}

/* List transfers and check the ids of the page and its next_after. */
static void
s_expect_transfers(struct fx *f, enum membership_by by, const char *id,
    const char *after, unsigned limit, const char *ids, const char *next)
{
	Jiceng__V1__TransferList *l = NULL;
	char buf[1024];
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_list_transfers(f->m, txn, by, id, after, limit, &l), 0);
	mdb_txn_abort(txn);
	assert_non_null(l);
	assert_string_equal(s_transfer_ids(l, buf, sizeof buf), ids);
	assert_string_equal(l->next_after, next);
	membership_free_transfer_list(&l);
	assert_null(l);
}

static void
s_expect_episodes(struct fx *f, enum membership_by by, const char *id, int state,
    const char *after, unsigned limit, const char *ids, const char *next)
{
	Jiceng__V1__MobileEpisodeList *l = NULL;
	char buf[1024];
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_list_episodes(f->m, txn, by, id, state, after, limit,
	    &l), 0);
	mdb_txn_abort(txn);
	assert_non_null(l);
	assert_string_equal(s_episode_ids(l, buf, sizeof buf), ids);
	assert_string_equal(l->next_after, next);
	membership_free_episode_list(&l);
	assert_null(l);
}

/* ---------------------------------------------------------- transfers */

/* One transfer, every field of its view, and a copy that outlives the
 * transaction; a transfer out of the county carries its ExternalOrg. */
static void
test_get_transfer(void **state)
{
	struct fx *f = s_county_transfers(state, JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	Jiceng__V1__TransferView *v = NULL;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_get_transfer(f->m, txn, "t-1", &v), 0);
	mdb_txn_abort(txn);
	assert_non_null(v);
	assert_string_equal(v->transfer_id, "t-1");
	assert_string_equal(v->member_id, "m1");
	assert_int_equal(v->state, JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	assert_string_equal(v->from_org_id, ORG_A1);
	assert_string_equal(v->from_township_id, TS1);
	assert_string_equal(v->to_org_id, ORG_B1);
	assert_string_equal(v->to_township_id, TS2);
	assert_null(v->from_external);
	assert_null(v->to_external);
	assert_string_equal(v->letter_no, "L-t-1");
	assert_int_equal(v->issued_at, fx_cst(2025, 1, 5, 9, 0));
	assert_int_equal(v->valid_days, 30);
	assert_int_equal(v->valid_until, fx_cst(2025, 2, 4, 9, 0));
	assert_int_equal(v->dues_paid_through, 202412);
	assert_int_equal(v->opened_seq, 7);
	membership_free_transfer(&v);
	assert_null(v);

	txn = fx_read(f);
	assert_int_equal(membership_get_transfer(f->m, txn, "t-out", &v), 0);
	mdb_txn_abort(txn);
	assert_string_equal(v->to_org_id, "");
	assert_string_equal(v->to_township_id, "");
	assert_non_null(v->to_external);
	assert_string_equal(v->to_external->area_code, "320123");
	assert_string_equal(v->to_external->org_name, "外县某支部");
	membership_free_transfer(&v);
}

/* Unknown transfer, member or org: MDB_NOTFOUND and no result; an
 * unknown township has no open transfer; an empty id is EINVAL. */
static void
test_transfer_not_found(void **state)
{
	struct fx *f = s_county(state);
	Jiceng__V1__TransferView *v = (void *)1;
	Jiceng__V1__TransferList *l = (void *)1;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_get_transfer(f->m, txn, "t-none", &v), MDB_NOTFOUND);
	assert_null(v);
	assert_int_equal(membership_list_transfers(f->m, txn, MEMBERSHIP_BY_MEMBER, "m-none",
	    "", 0, &l), MDB_NOTFOUND);
	assert_null(l);
	assert_int_equal(membership_list_transfers(f->m, txn, MEMBERSHIP_BY_ORG, "o-none",
	    "", 0, &l), MDB_NOTFOUND);
	assert_null(l);
	assert_int_equal(membership_list_transfers(f->m, txn, MEMBERSHIP_BY_ORG, "",
	    "", 0, &l), EINVAL);
	assert_null(l);
	char from[16], to[16];
	assert_int_equal(membership_transfer_townships(f->m, txn, "t-none", from, to),
	    MDB_NOTFOUND);
	mdb_txn_abort(txn);
	s_expect_transfers(f, MEMBERSHIP_BY_TOWNSHIP, "110105009000", "", 0, "", "");
	/* A member with no transfer has an empty history. */
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m2", "", 0, "", "");
}

/* By member: the whole history. By org and township: the open ones,
 * sending or receiving side; a transfer within one township is listed
 * once for it. Closing a transfer (REVOKED) takes it off the org's and
 * township's lists, not off the member's. */
static void
test_list_transfers_open(void **state)
{
	struct fx *f = s_county(state);
	MDB_txn *txn = fx_write(f);
	s_transfer(f, txn, "t-1", "m1", ORG_A1, TS1, ORG_B1, TS2,
	    JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIPT_RETURNED);
	s_transfer(f, txn, "t-2", "m1", ORG_B1, TS2, ORG_A2, TS1,
	    JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED);
	s_transfer(f, txn, "t-3", "m3", ORG_A1, TS1, ORG_A2, TS1,
	    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	s_transfer(f, txn, "t-4", "m4", ORG_B1, TS2, "", "",
	    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	s_transfer(f, txn, "t-5", "m4", ORG_B1, TS2, ORG_A1, TS1,
	    JICENG__V1__TRANSFER_STATE__TRANSFER_EXPIRED);
	assert_int_equal(mdb_txn_commit(txn), 0);

	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "", 0, "t-1,t-2", "");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m4", "", 0, "t-4,t-5", "");
	s_expect_transfers(f, MEMBERSHIP_BY_ORG, ORG_A1, "", 0, "t-3", "");
	s_expect_transfers(f, MEMBERSHIP_BY_ORG, ORG_A2, "", 0, "t-2,t-3", "");
	s_expect_transfers(f, MEMBERSHIP_BY_ORG, ORG_B1, "", 0, "t-2,t-4", "");
	s_expect_transfers(f, MEMBERSHIP_BY_TOWNSHIP, TS1, "", 0, "t-2,t-3", "");
	s_expect_transfers(f, MEMBERSHIP_BY_TOWNSHIP, TS2, "", 0, "t-2,t-4", "");

	/* t-3 revoked: off ORG_A1's, ORG_A2's and TS1's lists, still m3's. */
	struct transfer_rec before = s_transfer_rec("t-3", "m3", ORG_A1, TS1, ORG_A2, TS1,
	    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	struct transfer_rec after = before;
	after.state = JICENG__V1__TRANSFER_STATE__TRANSFER_REVOKED;
	after.closed_at = fx_cst(2025, 1, 8, 9, 0);
	snprintf(after.reason, sizeof after.reason, "本人申请撤回");
	txn = fx_write(f);
	assert_int_equal(records_transfer_store(f->m, txn, &before, &after), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	s_expect_transfers(f, MEMBERSHIP_BY_ORG, ORG_A1, "", 0, "", "");
	s_expect_transfers(f, MEMBERSHIP_BY_ORG, ORG_A2, "", 0, "t-2", "");
	s_expect_transfers(f, MEMBERSHIP_BY_TOWNSHIP, TS1, "", 0, "t-2", "");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m3", "", 0, "t-3", "");

	Jiceng__V1__TransferView *v;
	txn = fx_read(f);
	assert_int_equal(membership_get_transfer(f->m, txn, "t-3", &v), 0);
	mdb_txn_abort(txn);
	assert_int_equal(v->state, JICENG__V1__TRANSFER_STATE__TRANSFER_REVOKED);
	assert_string_equal(v->reason, "本人申请撤回");
	assert_int_equal(v->closed_at, fx_cst(2025, 1, 8, 9, 0));
	membership_free_transfer(&v);
}

/* Pages by transfer_id: next_after is the last id of a full page that
 * more follow, "" on the last page (also when it is exactly full); an
 * `after` between ids starts at the next one. */
static void
test_list_transfers_paging(void **state)
{
	struct fx *f = s_county(state);
	MDB_txn *txn = fx_write(f);
	char id[16];
	for (int i = 1; i <= 7; i++) {
		snprintf(id, sizeof id, "t-%02d", i);
		s_transfer(f, txn, id, "m1", ORG_A1, TS1, ORG_B1, TS2,
		    i == 7 ? JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED :
		    JICENG__V1__TRANSFER_STATE__TRANSFER_REJECTED);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);

	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "", 3, "t-01,t-02,t-03", "t-03");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "t-03", 3, "t-04,t-05,t-06", "t-06");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "t-06", 3, "t-07", "");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "", 7,
	    "t-01,t-02,t-03,t-04,t-05,t-06,t-07", "");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "t-04a", 2, "t-05,t-06", "t-06");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", "t-07", 2, "", "");
	s_expect_transfers(f, MEMBERSHIP_BY_MEMBER, "m1", NULL, 1, "t-01", "t-01");
	/* Only t-07 is open. */
	s_expect_transfers(f, MEMBERSHIP_BY_ORG, ORG_B1, "", 1, "t-07", "");
}

/* limit 0 is 100, more than 1000 is 1000. */
static void
test_list_transfers_limits(void **state)
{
	struct fx *f = s_county(state);
	MDB_txn *txn = fx_write(f);
	char id[16];
	for (int i = 0; i < 1001; i++) {
		snprintf(id, sizeof id, "t-%04d", i);
		s_transfer(f, txn, id, "m2", ORG_B1, TS2, ORG_A1, TS1,
		    JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);

	Jiceng__V1__TransferList *l;
	txn = fx_read(f);
	assert_int_equal(membership_list_transfers(f->m, txn, MEMBERSHIP_BY_TOWNSHIP, TS1,
	    "", 0, &l), 0);
	assert_int_equal(l->n_transfers, 100);
	assert_string_equal(l->next_after, "t-0099");
	membership_free_transfer_list(&l);
	assert_int_equal(membership_list_transfers(f->m, txn, MEMBERSHIP_BY_TOWNSHIP, TS1,
	    "", 5000, &l), 0);
	assert_int_equal(l->n_transfers, 1000);
	assert_string_equal(l->transfers[999]->transfer_id, "t-0999");
	assert_string_equal(l->next_after, "t-0999");
	membership_free_transfer_list(&l);
	assert_int_equal(membership_list_transfers(f->m, txn, MEMBERSHIP_BY_TOWNSHIP, TS1,
	    "t-0999", 5000, &l), 0);
	assert_int_equal(l->n_transfers, 1);
	assert_string_equal(l->next_after, "");
	membership_free_transfer_list(&l);
	mdb_txn_abort(txn);
}

/* The townships the query server authorises a transfer by. */
static void
test_transfer_townships(void **state)
{
	struct fx *f = s_county_transfers(state, JICENG__V1__TRANSFER_STATE__TRANSFER_REJECTED);
	char from[16], to[16];
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_transfer_townships(f->m, txn, "t-1", from, to), 0);
	assert_string_equal(from, TS1);
	assert_string_equal(to, TS2);
	assert_int_equal(membership_transfer_townships(f->m, txn, "t-out", from, to), 0);
	assert_string_equal(from, TS1);
	assert_string_equal(to, "");
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- episodes */

/* f-1: m1 of ORG_A1 awaiting report; f-2: m3 of ORG_A1 reported to
 * ORG_B1 (TS2); f-3: m4 of ORG_B1 lost contact; f-4 and f-5: m1's
 * earlier episodes, returned and closed by a transfer; f-6: m2 of ORG_B1
 * hosted in ORG_B1 itself. */
static struct fx *
s_episodes(void **state)
{
	struct fx *f = s_county(state);
	MDB_txn *txn = fx_write(f);
	s_episode(f, txn, "f-1", "m1", ORG_A1, TS1, "", "",
	    JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	s_episode(f, txn, "f-2", "m3", ORG_A1, TS1, ORG_B1, TS2,
	    JICENG__V1__MOBILITY_STATE__REPORTED);
	s_episode(f, txn, "f-3", "m4", ORG_B1, TS2, "", "",
	    JICENG__V1__MOBILITY_STATE__LOST_CONTACT);
	s_episode(f, txn, "f-4", "m1", ORG_A1, TS1, ORG_A2, TS1,
	    JICENG__V1__MOBILITY_STATE__RETURNED);
	s_episode(f, txn, "f-5", "m1", ORG_A1, TS1, "", "",
	    JICENG__V1__MOBILITY_STATE__TRANSFERRED);
	s_episode(f, txn, "f-6", "m2", ORG_B1, TS2, ORG_B1, TS2,
	    JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return f;
}

static void
test_get_episode(void **state)
{
	struct fx *f = s_episodes(state);
	Jiceng__V1__MobileEpisodeView *v = NULL;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_get_episode(f->m, txn, "f-2", &v), 0);
	mdb_txn_abort(txn);
	assert_non_null(v);
	assert_string_equal(v->flow_id, "f-2");
	assert_string_equal(v->member_id, "m3");
	assert_int_equal(v->state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(v->home_org_id, ORG_A1);
	assert_string_equal(v->home_township_id, TS1);
	assert_string_equal(v->host_org_id, ORG_B1);
	assert_string_equal(v->host_township_id, TS2);
	assert_string_equal(v->destination_code, "440305");
	assert_string_equal(v->reason, "务工");
	assert_string_equal(v->certificate_no, "C-f-2");
	assert_int_equal(v->expected_months, 8);
	assert_int_equal(v->departed_at, fx_cst(2025, 1, 2, 9, 0));
	assert_int_equal(v->opened_seq, 9);
	membership_free_episode(&v);
	assert_null(v);

	char home[16], host[16];
	txn = fx_read(f);
	assert_int_equal(membership_episode_townships(f->m, txn, "f-2", home, host), 0);
	assert_string_equal(home, TS1);
	assert_string_equal(host, TS2);
	assert_int_equal(membership_episode_townships(f->m, txn, "f-1", home, host), 0);
	assert_string_equal(home, TS1);
	assert_string_equal(host, "");
	v = (void *)1;
	assert_int_equal(membership_get_episode(f->m, txn, "f-none", &v), MDB_NOTFOUND);
	assert_null(v);
	assert_int_equal(membership_episode_townships(f->m, txn, "f-none", home, host),
	    MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

/* By member: every episode; by org and township: the open ones, home or
 * host side, each once. */
static void
test_list_episodes(void **state)
{
	struct fx *f = s_episodes(state);
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m1", 0, "", 0, "f-1,f-4,f-5", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m4", 0, "", 0, "f-3", "");
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_A1, 0, "", 0, "f-1,f-2", "");
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_A2, 0, "", 0, "", "");
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_B1, 0, "", 0, "f-2,f-3,f-6", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS1, 0, "", 0, "f-1,f-2", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS2, 0, "", 0, "f-2,f-3,f-6", "");
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_B1, 0, "f-2", 1, "f-3", "f-3");
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_B1, 0, "f-3", 1, "f-6", "");

	/* f-1 returns: off ORG_A1's and TS1's lists, still m1's. */
	struct episode_rec before, after;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_episode_load(f->m, txn, "f-1", &before), 0);
	mdb_txn_abort(txn);
	after = before;
	after.state = JICENG__V1__MOBILITY_STATE__RETURNED;
	after.returned_at = fx_cst(2025, 1, 9, 9, 0);
	txn = fx_write(f);
	assert_int_equal(records_episode_store(f->m, txn, &before, &after), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_A1, 0, "", 0, "f-2", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS1, 0, "", 0, "f-2", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m1", 0, "", 0, "f-1,f-4,f-5", "");
}

/* The state filter: by org or township an open state; by member any
 * state, closed ones included; a closed state by org or township, an
 * empty id, an unknown member or org are refused. */
static void
test_list_episodes_state(void **state)
{
	struct fx *f = s_episodes(state);
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_B1,
	    JICENG__V1__MOBILITY_STATE__REPORTED, "", 0, "f-2,f-6", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS2,
	    JICENG__V1__MOBILITY_STATE__LOST_CONTACT, "", 0, "f-3", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS1,
	    JICENG__V1__MOBILITY_STATE__AWAITING_REPORT, "", 0, "f-1", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS1,
	    JICENG__V1__MOBILITY_STATE__LOST_CONTACT, "", 0, "", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m1",
	    JICENG__V1__MOBILITY_STATE__RETURNED, "", 0, "f-4", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m1",
	    JICENG__V1__MOBILITY_STATE__TRANSFERRED, "", 0, "f-5", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m1",
	    JICENG__V1__MOBILITY_STATE__REPORTED, "", 0, "", "");

	Jiceng__V1__MobileEpisodeList *l = (void *)1;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_list_episodes(f->m, txn, MEMBERSHIP_BY_ORG, ORG_A1,
	    JICENG__V1__MOBILITY_STATE__RETURNED, "", 0, &l), EINVAL);
	assert_null(l);
	assert_int_equal(membership_list_episodes(f->m, txn, MEMBERSHIP_BY_TOWNSHIP, TS1,
	    JICENG__V1__MOBILITY_STATE__TRANSFERRED, "", 0, &l), EINVAL);
	assert_int_equal(membership_list_episodes(f->m, txn, MEMBERSHIP_BY_MEMBER, "",
	    0, "", 0, &l), EINVAL);
	assert_int_equal(membership_list_episodes(f->m, txn, MEMBERSHIP_BY_MEMBER, "m-none",
	    0, "", 0, &l), MDB_NOTFOUND);
	assert_int_equal(membership_list_episodes(f->m, txn, MEMBERSHIP_BY_ORG, "o-none",
	    0, "", 0, &l), MDB_NOTFOUND);
	assert_null(l);
	mdb_txn_abort(txn);

	assert_true(membership_episode_state_open(JICENG__V1__MOBILITY_STATE__AWAITING_REPORT));
	assert_true(membership_episode_state_open(JICENG__V1__MOBILITY_STATE__REPORTED));
	assert_true(membership_episode_state_open(JICENG__V1__MOBILITY_STATE__LOST_CONTACT));
	assert_false(membership_episode_state_open(JICENG__V1__MOBILITY_STATE__RETURNED));
	assert_false(membership_episode_state_open(JICENG__V1__MOBILITY_STATE__TRANSFERRED));
	assert_false(membership_episode_state_open(JICENG__V1__MOBILITY_STATE__NOT_MOBILE));
}

/* With a state filter a page holds only matching episodes, and
 * next_after is set only when a matching one follows. */
static void
test_list_episodes_filtered_paging(void **state)
{
	struct fx *f = s_county(state);
	MDB_txn *txn = fx_write(f);
	char id[16];
	/* f-01..f-09 of m2: f-01, f-04, f-07 returned, the rest transferred. */
	for (int i = 1; i <= 9; i++) {
		snprintf(id, sizeof id, "f-%02d", i);
		s_episode(f, txn, id, "m2", ORG_B1, TS2, "", "", i % 3 == 1 ?
		    JICENG__V1__MOBILITY_STATE__RETURNED :
		    JICENG__V1__MOBILITY_STATE__TRANSFERRED);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	int returned = JICENG__V1__MOBILITY_STATE__RETURNED;
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m2", returned, "", 2, "f-01,f-04", "f-04");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m2", returned, "f-04", 2, "f-07", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m2", returned, "f-01", 2, "f-04,f-07", "");
	s_expect_episodes(f, MEMBERSHIP_BY_MEMBER, "m2", 0, "", 4, "f-01,f-02,f-03,f-04",
	    "f-04");
	/* None open: nothing by org or township. */
	s_expect_episodes(f, MEMBERSHIP_BY_ORG, ORG_B1, 0, "", 0, "", "");
	s_expect_episodes(f, MEMBERSHIP_BY_TOWNSHIP, TS2, 0, "", 0, "", "");
}

int
unit_queries(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_transfer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_not_found, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_transfers_open, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_transfers_paging, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_transfers_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_townships, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_get_episode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_episodes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_episodes_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_episodes_filtered_paging, fx_setup,
		    fx_teardown),
	};
	return cmocka_run_group_tests_name("queries", tests, NULL, NULL);
}
