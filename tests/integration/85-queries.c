/*
 * 85-queries: the transfer and mobile-episode queries (GetTransfer,
 * ListTransfers, GetMobileEpisode, ListMobileEpisodes) through the real
 * daemon with CURVE keys: township A, township B, a third township C and
 * the county. A transfer from A's branch to B's is read by A and B (its
 * two sides) and the county, not by C; so is an episode of A's member
 * reported to B's branch. Lists by member, org and township follow the
 * member's, the org's or the named township. Bad requests are BAD_QUERY
 * with their code, and an unknown id is NOT_FOUND for the county but
 * OUT_OF_SCOPE for a township, which cannot probe another's ids. The
 * last cases run jicengctl query on the same data, and its usage errors.
 */
#include "harness.h"
#include "hcurve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_TA H_TOWNSHIP
#define S_TB H_TOWNSHIP2
#define S_TC HCURVE_TC
#define S_B_COMMITTEE "qb-committee"
#define S_B_VILLAGE   "qb-village"
#define S_B_BRANCH    "qb-branch"
#define S_DAY_MS      86400000LL

/* Township B's org tree (hc_org_tree_in). */
static const char *const s_b_tree[3] = { S_B_COMMITTEE, S_B_VILLAGE, S_B_BRANCH };

/* ================================================================ set-up */

static int
s_setup(void **state)
{
	return hcurve_fx_setup(state, sizeof(struct hcurve_county));
}

/* Send event c (message msg) as township on sock; expect it ACCEPTED
 * (warnings allowed). */
static void
s_send(struct hcurve_county *f, void *sock, const char *township, EventCase c, void *msg)
{
	hcurve_county_send(f, sock, township, c, msg, JICENG__V1__VERDICT__ACCEPTED, NULL);
}

/* jicengd with curve = on and keys for A, B, C and the county; org trees
 * in A (H_ORG_*) and B, members m1 and m2 in A's branch. */
static struct hcurve_county *
s_up(void **state)
{
	struct hcurve_county *f = *state;
	hcurve_county_up(f, NULL, "q", s_b_tree);
	hcurve_county_member(f, f->a, S_TA, "m1", H_ORG_BRANCH);
	hcurve_county_member(f, f->a, S_TA, "m2", H_ORG_BRANCH);
	return f;
}

/* A issues tr-1: m1 from A's branch to B's. */
static void
s_transfer(struct hcurve_county *f)
{
	Jiceng__V1__TransferIssued t = JICENG__V1__TRANSFER_ISSUED__INIT;
	t.transfer_id = "tr-1";
	t.member_id = "m1";
	t.from_org_id = H_ORG_BRANCH;
	t.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	t.to_org_id = S_B_BRANCH;
	t.letter_no = "介-2025-001";
	t.issued_at = now_wall_ms() - S_DAY_MS;
	t.valid_days = 30;
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &t);
}

/* m2 of A leaves (fl-1) and reports to B's branch, which B records. */
static void
s_episode(struct hcurve_county *f)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	d.flow_id = "fl-1";
	d.member_id = "m2";
	d.destination_code = "510722";
	d.host_org_id = S_B_BRANCH;
	d.reason = "务工";
	d.expected_months = 3;
	d.certificate_no = "流-001";
	d.departed_at = now_wall_ms() - 2 * S_DAY_MS;
	s_send(f, f->a, S_TA, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d);
	Jiceng__V1__MobileReported r = JICENG__V1__MOBILE_REPORTED__INIT;
	r.flow_id = "fl-1";
	r.host_org_id = S_B_BRANCH;
	r.reported_at = now_wall_ms() - S_DAY_MS;
	s_send(f, f->b, S_TB, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &r);
}

/* ================================================================ queries */

static QueryReply *
s_get_transfer(struct hcurve_county *f, void *sock, const char *transfer_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetTransfer g = JICENG__V1__GET_TRANSFER__INIT;
	g.transfer_id = (char *)transfer_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_TRANSFER;
	q.get_transfer = &g;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

/* List transfers by member, org or township (the others ""). */
static QueryReply *
s_list_transfers(struct hcurve_county *f, void *sock, const char *member, const char *org,
    const char *township, const char *after)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListTransfers l = JICENG__V1__LIST_TRANSFERS__INIT;
	l.member_id = (char *)member;
	l.org_id = (char *)org;
	l.township_id = (char *)township;
	l.after = (char *)after;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_TRANSFERS;
	q.list_transfers = &l;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

static QueryReply *
s_get_episode(struct hcurve_county *f, void *sock, const char *flow_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetMobileEpisode g = JICENG__V1__GET_MOBILE_EPISODE__INIT;
	g.flow_id = (char *)flow_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_MOBILE_EPISODE;
	q.get_mobile_episode = &g;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

static QueryReply *
s_list_episodes(struct hcurve_county *f, void *sock, const char *member, const char *org,
    const char *township, int state)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListMobileEpisodes l = JICENG__V1__LIST_MOBILE_EPISODES__INIT;
	l.member_id = (char *)member;
	l.org_id = (char *)org;
	l.township_id = (char *)township;
	l.state = (Jiceng__V1__MobilityState)state;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES;
	q.list_mobile_episodes = &l;
	return hcurve_query(&f->h.c, sock, &q, HCURVE_QUERY_MS);
}

/* Assert r came with status and code, a refusal with its reason in
 * "中文 / English", and free it. */
static void
s_expect(QueryReply *r, Jiceng__V1__QueryStatus status, const char *code)
{
	if (r && r->status == status && strcmp(r->code, code) == 0 &&
	    status != JICENG__V1__QUERY_STATUS__OK && !strstr(r->reason, " / ")) {
		fprintf(stderr, "query reply %s: reason \"%s\" is not \"中文 / English\"\n",
		    r->code, r->reason);
		hq_free(r);
		fail_msg("query reply %s: reason not bilingual", code);
	}
	hcurve_expect(r, status, code);
}

#define S_OUT_OF_SCOPE(r) s_expect((r), JICENG__V1__QUERY_STATUS__FORBIDDEN, AUTH_CODE_OUT_OF_SCOPE)
#define S_BAD(r, code)    s_expect((r), JICENG__V1__QUERY_STATUS__BAD_QUERY, (code))

/* Assert r is an OK list whose ids, comma-separated, are ids; free it. */
static void
s_expect_ids(QueryReply *r, const char *ids)
{
	char got[512] = "";
	size_t len = 0;
	assert_non_null(r);
	if (r->status != JICENG__V1__QUERY_STATUS__OK)
		fail_msg("list: %s (%s), expected %s", r->code, r->reason, ids);
	if (r->result_case == JICENG__V1__QUERY_REPLY__RESULT_TRANSFERS) {
		for (size_t i = 0; i < r->transfers->n_transfers; i++)
			len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", i ? "," : "",
			    r->transfers->transfers[i]->transfer_id);
	} else {
		assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_EPISODES);
		for (size_t i = 0; i < r->episodes->n_episodes; i++)
			len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", i ? "," : "",
			    r->episodes->episodes[i]->flow_id);
	}
	hq_free(r);
	assert_string_equal(got, ids);
}

/* ================================================================ cases */

/* Requests refused before any data is read, and unknown ids: none or
 * two of member, org and township (BAD_SELECTOR), a bad township
 * (BAD_TOWNSHIP) or id (BAD_ID), a closed state by township or an
 * unknown state (BAD_STATE); an unknown transfer, episode or member is
 * NOT_FOUND for the county and OUT_OF_SCOPE for a township; a township
 * lists its own (empty) open transfers, not another's. */
static void
test_query_refusals(void **state)
{
	struct hcurve_county *f = s_up(state);
	S_BAD(s_list_transfers(f, f->qcounty, "", "", "", ""), "BAD_SELECTOR");
	S_BAD(s_list_transfers(f, f->qcounty, "m1", H_ORG_BRANCH, "", ""), "BAD_SELECTOR");
	S_BAD(s_list_episodes(f, f->qcounty, "", "", "", 0), "BAD_SELECTOR");
	S_BAD(s_list_episodes(f, f->qcounty, "m1", "", S_TA, 0), "BAD_SELECTOR");
	S_BAD(s_list_transfers(f, f->qcounty, "", "", "510722", ""), "BAD_TOWNSHIP");
	S_BAD(s_list_episodes(f, f->qcounty, "", "", "510722101001", 0), "BAD_TOWNSHIP");
	S_BAD(s_list_transfers(f, f->qcounty, "m 1", "", "", ""), "BAD_ID");
	S_BAD(s_list_transfers(f, f->qcounty, "m1", "", "", "bad after"), "BAD_ID");
	S_BAD(s_get_transfer(f, f->qcounty, ""), "BAD_ID");
	S_BAD(s_get_episode(f, f->qcounty, "fl/1"), "BAD_ID");
	S_BAD(s_list_episodes(f, f->qa, "", "", S_TA, JICENG__V1__MOBILITY_STATE__RETURNED),
	    "BAD_STATE");
	S_BAD(s_list_episodes(f, f->qa, "", H_ORG_BRANCH, "",
	    JICENG__V1__MOBILITY_STATE__TRANSFERRED), "BAD_STATE");
	S_BAD(s_list_episodes(f, f->qcounty, "m1", "", "", 99), "BAD_STATE");

	s_expect(s_get_transfer(f, f->qcounty, "tr-none"), JICENG__V1__QUERY_STATUS__NOT_FOUND,
	    "NOT_FOUND");
	S_OUT_OF_SCOPE(s_get_transfer(f, f->qa, "tr-none"));
	s_expect(s_get_episode(f, f->qcounty, "fl-none"), JICENG__V1__QUERY_STATUS__NOT_FOUND,
	    "NOT_FOUND");
	S_OUT_OF_SCOPE(s_get_episode(f, f->qa, "fl-none"));
	s_expect(s_list_transfers(f, f->qcounty, "m-none", "", "", ""),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qa, "m-none", "", "", ""));
	s_expect(s_list_episodes(f, f->qcounty, "", "o-none", "", 0),
	    JICENG__V1__QUERY_STATUS__NOT_FOUND, "NOT_FOUND");
	S_OUT_OF_SCOPE(s_list_episodes(f, f->qa, "", "o-none", "", 0));

	s_expect_ids(s_list_transfers(f, f->qa, "", "", S_TA, ""), "");
	s_expect_ids(s_list_transfers(f, f->qa, "m1", "", "", ""), "");
	s_expect_ids(s_list_episodes(f, f->qa, "", H_ORG_BRANCH, "", 0), "");
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qa, "", "", S_TB, ""));
	S_OUT_OF_SCOPE(s_list_episodes(f, f->qa, "", S_B_BRANCH, "", 0));
	s_expect_ids(s_list_transfers(f, f->qcounty, "", "", S_TC, ""), "");
	hd_pass(f->h.d);
}

/* A transfer from A to B: A and B (its sides) and the county read it, C
 * does not. Lists: by township and by org for either side; by member for
 * the member's township (A while the letter is only issued). */
static void
test_transfer_scope(void **state)
{
	struct hcurve_county *f = s_up(state);
	s_transfer(f);

	QueryReply *r = s_get_transfer(f, f->qa, "tr-1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_TRANSFER);
	assert_string_equal(r->transfer->transfer_id, "tr-1");
	assert_string_equal(r->transfer->member_id, "m1");
	assert_int_equal(r->transfer->state, JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED);
	assert_string_equal(r->transfer->from_org_id, H_ORG_BRANCH);
	assert_string_equal(r->transfer->from_township_id, S_TA);
	assert_string_equal(r->transfer->to_org_id, S_B_BRANCH);
	assert_string_equal(r->transfer->to_township_id, S_TB);
	assert_string_equal(r->transfer->letter_no, "介-2025-001");
	hq_free(r);
	s_expect(s_get_transfer(f, f->qb, "tr-1"), JICENG__V1__QUERY_STATUS__OK, "OK");
	s_expect(s_get_transfer(f, f->qcounty, "tr-1"), JICENG__V1__QUERY_STATUS__OK, "OK");
	S_OUT_OF_SCOPE(s_get_transfer(f, f->qc, "tr-1"));

	s_expect_ids(s_list_transfers(f, f->qa, "", "", S_TA, ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qb, "", "", S_TB, ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qa, "", H_ORG_BRANCH, "", ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qb, "", S_B_BRANCH, "", ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qa, "m1", "", "", ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qa, "m1", "", "", "tr-1"), "");
	s_expect_ids(s_list_transfers(f, f->qcounty, "m1", "", "", ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qcounty, "", "", S_TB, ""), "tr-1");
	s_expect_ids(s_list_transfers(f, f->qcounty, "", "", S_TC, ""), "");
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qb, "m1", "", "", ""));
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qb, "", H_ORG_BRANCH, "", ""));
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qc, "", "", S_TA, ""));
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qc, "", S_B_BRANCH, "", ""));
	S_OUT_OF_SCOPE(s_list_transfers(f, f->qc, "m1", "", "", ""));
	hd_pass(f->h.d);
}

/* An episode of A's member reported to B's branch: A (home), B (host) and
 * the county read it, C does not; B lists it among its open episodes,
 * by state too. */
static void
test_episode_scope(void **state)
{
	struct hcurve_county *f = s_up(state);
	s_episode(f);

	QueryReply *r = s_get_episode(f, f->qb, "fl-1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->result_case, JICENG__V1__QUERY_REPLY__RESULT_EPISODE);
	assert_string_equal(r->episode->flow_id, "fl-1");
	assert_string_equal(r->episode->member_id, "m2");
	assert_int_equal(r->episode->state, JICENG__V1__MOBILITY_STATE__REPORTED);
	assert_string_equal(r->episode->home_org_id, H_ORG_BRANCH);
	assert_string_equal(r->episode->home_township_id, S_TA);
	assert_string_equal(r->episode->host_org_id, S_B_BRANCH);
	assert_string_equal(r->episode->host_township_id, S_TB);
	hq_free(r);
	s_expect(s_get_episode(f, f->qa, "fl-1"), JICENG__V1__QUERY_STATUS__OK, "OK");
	s_expect(s_get_episode(f, f->qcounty, "fl-1"), JICENG__V1__QUERY_STATUS__OK, "OK");
	S_OUT_OF_SCOPE(s_get_episode(f, f->qc, "fl-1"));

	int reported = JICENG__V1__MOBILITY_STATE__REPORTED;
	int lost = JICENG__V1__MOBILITY_STATE__LOST_CONTACT;
	s_expect_ids(s_list_episodes(f, f->qa, "", "", S_TA, 0), "fl-1");
	s_expect_ids(s_list_episodes(f, f->qb, "", "", S_TB, 0), "fl-1");
	s_expect_ids(s_list_episodes(f, f->qb, "", "", S_TB, reported), "fl-1");
	s_expect_ids(s_list_episodes(f, f->qb, "", "", S_TB, lost), "");
	s_expect_ids(s_list_episodes(f, f->qb, "", S_B_BRANCH, "", 0), "fl-1");
	s_expect_ids(s_list_episodes(f, f->qa, "", H_ORG_BRANCH, "", reported), "fl-1");
	s_expect_ids(s_list_episodes(f, f->qa, "m2", "", "", 0), "fl-1");
	s_expect_ids(s_list_episodes(f, f->qa, "m2", "", "", JICENG__V1__MOBILITY_STATE__RETURNED),
	    "");
	s_expect_ids(s_list_episodes(f, f->qcounty, "m2", "", "", 0), "fl-1");
	S_OUT_OF_SCOPE(s_list_episodes(f, f->qb, "m2", "", "", 0));
	S_OUT_OF_SCOPE(s_list_episodes(f, f->qc, "", "", S_TB, 0));
	S_OUT_OF_SCOPE(s_list_episodes(f, f->qc, "", S_B_BRANCH, "", 0));
	hd_pass(f->h.d);
}

/* ================================================================ jicengctl */

/* jicengctl query with the CURVE key `key` (NULL: none) and the
 * NULL-ended words (hcurve_ctl). */
#define s_ctl(f, key, ...) hcurve_ctl(&(f)->h.c, (f)->h.d, (key), "query", __VA_ARGS__)

#define S_OUT_HAS(f, s) assert_true(hcurve_ctl_has((f)->h.d, "ctl.out", (s), true))
#define S_ERR_HAS(f, s) assert_true(hcurve_ctl_has((f)->h.d, "ctl.err", (s), true))

/* jicengctl query transfer / transfers / episode / episodes with CURVE
 * keys: the JSON of the reply, OUT_OF_SCOPE (exit 1) for C's key,
 * NOT_FOUND (exit 3) for the county, and BAD_STATE from the server. */
static void
test_ctl_queries(void **state)
{
	struct hcurve_county *f = s_up(state);
	s_transfer(f);
	s_episode(f);

	assert_int_equal(s_ctl(f, "county", "transfer", "tr-1", NULL), 0);
	S_OUT_HAS(f, "\"transferId\":\"tr-1\"");
	S_OUT_HAS(f, "\"toTownshipId\":\"" S_TB "\"");
	assert_int_equal(s_ctl(f, "townC", "transfer", "tr-1", NULL), 1);
	S_OUT_HAS(f, "OUT_OF_SCOPE");
	assert_int_equal(s_ctl(f, "county", "transfer", "tr-none", NULL), 3);
	assert_int_equal(s_ctl(f, "townB", "transfers", "--township", S_TB, "--limit", "5",
	    NULL), 0);
	S_OUT_HAS(f, "\"transferId\":\"tr-1\"");
	assert_int_equal(s_ctl(f, "townA", "transfers", "--member", "m1", "--after", "tr-1",
	    NULL), 0);
	assert_true(hcurve_ctl_has(f->h.d, "ctl.out", "transferId", false));

	assert_int_equal(s_ctl(f, "townB", "episode", "fl-1", NULL), 0);
	S_OUT_HAS(f, "\"flowId\":\"fl-1\"");
	assert_int_equal(s_ctl(f, "townB", "episodes", "--org", S_B_BRANCH, "--state",
	    "reported", NULL), 0);
	S_OUT_HAS(f, "\"flowId\":\"fl-1\"");
	assert_int_equal(s_ctl(f, "townA", "episodes", "--township", S_TA, "--state",
	    "RETURNED", NULL), 1);
	S_OUT_HAS(f, "BAD_STATE");
	hd_pass(f->h.d);
}

/* Usage errors, told before anything is sent (exit 2), and the help. */
static void
test_ctl_usage(void **state)
{
	struct hcurve_county *f = *state;
	assert_non_null(f->h.d = hd_new(NULL));
	assert_int_equal(s_ctl(f, NULL, "transfers", NULL), 2);
	S_ERR_HAS(f, "exactly one of --member, --org and --township");
	assert_int_equal(s_ctl(f, NULL, "episodes", "--member", "m1", "--org", "o", NULL), 2);
	S_ERR_HAS(f, "exactly one of --member, --org and --township");
	assert_int_equal(s_ctl(f, NULL, "transfer", NULL), 2);
	S_ERR_HAS(f, "transfer takes one ID");
	assert_int_equal(s_ctl(f, NULL, "episodes", "fl-1", "--township", S_TA, NULL), 2);
	S_ERR_HAS(f, "episodes takes no argument");
	assert_int_equal(s_ctl(f, NULL, "transfers", "--township", S_TA, "--state",
	    "REPORTED", NULL), 2);
	S_ERR_HAS(f, "--state goes with episodes");
	assert_int_equal(s_ctl(f, NULL, "members", H_ORG_BRANCH, "--member", "m1", NULL), 2);
	S_ERR_HAS(f, "--member and --org go with transfers, episodes, ");
	assert_int_equal(s_ctl(f, NULL, "episodes", "--township", S_TA, "--state", "GONE",
	    NULL), 2);
	S_ERR_HAS(f, "'GONE' is none of AWAITING_REPORT");
	assert_int_equal(s_ctl(f, NULL, "episodes", "--township", S_TA, "--state",
	    "NOT_MOBILE", NULL), 2);
	assert_int_equal(s_ctl(f, NULL, "org", H_ORG_BRANCH, "--after", "x", NULL), 2);
	S_ERR_HAS(f, "--after goes with members, transfers, episodes, ");
	assert_int_equal(s_ctl(f, NULL, "--help", NULL), 0);
	S_OUT_HAS(f, "jicengctl query [OPTIONS] transfers (--member M");
	S_OUT_HAS(f, "jicengctl query [OPTIONS] episode FLOW_ID");
	S_OUT_HAS(f, "--state S");
	hd_pass(f->h.d);
}

int
integ_queries(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query_refusals, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_scope, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_episode_scope, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_queries, s_setup, hcurve_fx_teardown),
		cmocka_unit_test_setup_teardown(test_ctl_usage, s_setup, hcurve_fx_teardown),
	};
	return cmocka_run_group_tests_name("queries", tests, NULL, NULL);
}
