/*
 * Unit tests of the status stream's data (records.c, membership_query.c):
 * the change log's chain of prev positions, each member's latest change
 * (the snapshot), catch-up after a position with its filters, and pruning
 * to the retention at a Tick with SNAPSHOT_REQUIRED past it.
 */
#include "membership_fx.h"

#include <stdlib.h>

/* Collected changes of a snapshot or catch-up. */
struct s_got {
	unsigned n;
	StatusChange *sc[256];
};

static int
s_collect(void *arg, const void *packed, size_t len, bool leaves)
{
	struct s_got *g = arg;
	(void)leaves;
	assert_true(g->n < 256);
	g->sc[g->n] = jiceng__v1__status_change__unpack(NULL, len, packed);
	assert_non_null(g->sc[g->n]);
	g->n++;
	return 0;
}

static void
s_got_free(struct s_got *g)
{
	for (unsigned i = 0; i < g->n; i++)
		jiceng__v1__status_change__free_unpacked(g->sc[i], NULL);
	g->n = 0;
}

/* Member id departs (a flow of the same name) from home, to 510723. */
static void
s_depart(struct fx *f, const char *id)
{
	Jiceng__V1__MobileDeparted d = JICENG__V1__MOBILE_DEPARTED__INIT;
	d.flow_id = (char *)id;
	d.member_id = (char *)id;
	d.destination_code = "510723";
	d.departed_at = f->now - DAY;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &d));
}

static void
s_return(struct fx *f, const char *flow)
{
	Jiceng__V1__MobileReturned r = JICENG__V1__MOBILE_RETURNED__INIT;
	r.flow_id = (char *)flow;
	r.returned_at = f->now;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &r));
}

/* Two townships' trees, members a1 a2 in TS1's branch and b1 in TS2's. */
static void
s_county(struct fx *f)
{
	fx_tree(f, "t1", "v1", "b1");
	ACCEPTED(fx_register(f, "a1", "b1", JICENG__V1__MEMBER_CATEGORY__FULL));
	ACCEPTED(fx_register(f, "a2", "b1", JICENG__V1__MEMBER_CATEGORY__FULL));
	f->township = TS2;
	fx_tree(f, "t2", "v2", "b2");
	ACCEPTED(fx_register(f, "b1m", "b2", JICENG__V1__MEMBER_CATEGORY__FULL));
	f->township = TS1;
}

static void
s_snapshot(struct fx *f, const char *township, const char *org, struct s_got *g)
{
	struct membership_status_filter flt = { township, org };
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_status_snapshot(f->m, txn, &flt, s_collect, g), 0);
	mdb_txn_abort(txn);
}

/* Every entry names the one before it; the first names (0, 0). */
static void
test_prev_chain(void **state)
{
	struct fx *f = *state;
	struct fx_changes cs;
	s_county(f);
	s_depart(f, "a1");
	s_depart(f, "a2");
	s_return(f, "a1");
	fx_changes(f, 0, f->seq, &cs);
	assert_int_equal(cs.n, 3);
	assert_int_equal(cs.sc[0]->prev_seq, 0);
	assert_int_equal(cs.sc[0]->prev_index, 0);
	for (unsigned i = 1; i < cs.n; i++) {
		assert_int_equal(cs.sc[i]->prev_seq, cs.sc[i - 1]->seq);
		assert_int_equal(cs.sc[i]->prev_index, cs.sc[i - 1]->index);
	}
	fx_changes_free(&cs);
	/* The head is the last entry. */
	uint64_t seq;
	uint32_t index;
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_changes_head(f->m, txn, &seq, &index), 0);
	mdb_txn_abort(txn);
	assert_int_equal(seq, f->seq);
	assert_int_equal(index, 0);
}

/* The snapshot holds each member's latest change, filtered by township
 * (home or host) and by org subtree (home or host). */
static void
test_snapshot(void **state)
{
	struct fx *f = *state;
	struct s_got g = { 0 };
	s_county(f);
	s_depart(f, "a1");
	s_depart(f, "a2");
	s_return(f, "a1");
	f->township = TS2;
	s_depart(f, "b1m");
	f->township = TS1;

	s_snapshot(f, "", "", &g);
	assert_int_equal(g.n, 3);   /* a1, a2, b1m; member_id order */
	assert_string_equal(g.sc[0]->member_id, "a1");
	assert_int_equal(g.sc[0]->state, JICENG__V1__MOBILITY_STATE__RETURNED);
	assert_string_equal(g.sc[1]->member_id, "a2");
	assert_int_equal(g.sc[1]->state, JICENG__V1__MOBILITY_STATE__AWAITING_REPORT);
	assert_string_equal(g.sc[2]->member_id, "b1m");
	s_got_free(&g);

	s_snapshot(f, TS2, "", &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.sc[0]->member_id, "b1m");
	s_got_free(&g);

	s_snapshot(f, "", "v1", &g);   /* b1 lies under v1 */
	assert_int_equal(g.n, 2);
	s_got_free(&g);
	s_snapshot(f, "", "b2", &g);
	assert_int_equal(g.n, 1);
	s_got_free(&g);

	/* An unknown org is not found, not an empty snapshot. */
	struct membership_status_filter flt = { "", "nobody" };
	MDB_txn *txn = fx_read(f);
	assert_int_equal(membership_status_snapshot(f->m, txn, &flt, s_collect, &g),
	    MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

/* Catch-up: after a position, in order, paged by limit, the position of
 * the last entry examined returned so that filtered readers move past the
 * entries they do not want. */
static void
test_since(void **state)
{
	struct fx *f = *state;
	struct s_got g = { 0 };
	struct membership_status_filter all = { "", "" }, twp2 = { TS2, "" };
	uint64_t next_seq, pruned;
	uint32_t next_index;
	bool more, expired;
	MDB_txn *txn;
	s_county(f);
	uint64_t start = f->seq;
	s_depart(f, "a1");
	f->township = TS2;
	s_depart(f, "b1m");
	f->township = TS1;
	s_depart(f, "a2");
	uint64_t last = f->seq;

	txn = fx_read(f);
	assert_int_equal(membership_status_since(f->m, txn, start, 0, &all, 2, s_collect, &g,
	    &next_seq, &next_index, &more, &expired, &pruned), 0);
	assert_false(expired);
	assert_true(more);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.sc[1]->member_id, "b1m");
	assert_int_equal(next_seq, g.sc[1]->seq);
	s_got_free(&g);
	assert_int_equal(membership_status_since(f->m, txn, next_seq, next_index, &all, 2,
	    s_collect, &g, &next_seq, &next_index, &more, &expired, &pruned), 0);
	assert_false(more);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.sc[0]->member_id, "a2");
	assert_int_equal(next_seq, last);
	s_got_free(&g);

	/* TS2's reader gets b1m only, and is moved past a2. */
	assert_int_equal(membership_status_since(f->m, txn, start, 0, &twp2, 100, s_collect, &g,
	    &next_seq, &next_index, &more, &expired, &pruned), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.sc[0]->member_id, "b1m");
	assert_int_equal(next_seq, last);
	s_got_free(&g);
	mdb_txn_abort(txn);
}

/* The Tick prunes past the retention (count, then age); a catch-up from
 * before the pruned entries is told to take a snapshot, and the chain
 * carries on from the last pruned entry. */
static void
test_prune(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	struct s_got g = { 0 };
	struct membership_status_filter all = { "", "" };
	uint64_t next_seq, pruned;
	uint32_t next_index;
	bool more, expired;
	MDB_txn *txn;
	struct fx_changes cs;
	s_county(f);
	s_depart(f, "a1");
	uint64_t first = f->seq;
	s_depart(f, "a2");
	s_return(f, "a1");

	/* Nothing older than 30 days, under 1000 changes: the Tick keeps all. */
	ACCEPTED(fx_tick(f));
	fx_changes(f, 0, f->seq, &cs);
	assert_int_equal(cs.n, 3);
	fx_changes_free(&cs);

	/* 31 days later the three are past status.retention_days. */
	r.status_retention_days = 30;
	ACCEPTED(fx_rules(f, &r));
	f->now += 31 * DAY;
	s_return(f, "a2");              /* a fourth, new enough to stay */
	uint64_t fourth = f->seq;
	ACCEPTED(fx_tick(f));
	fx_changes(f, 0, f->seq, &cs);
	assert_int_equal(cs.n, 1);
	assert_int_equal(cs.sc[0]->seq, fourth);
	fx_changes_free(&cs);

	txn = fx_read(f);
	assert_int_equal(membership_status_since(f->m, txn, first, 0, &all, 100, s_collect, &g,
	    &next_seq, &next_index, &more, &expired, &pruned), 0);
	assert_true(expired);
	assert_int_equal(g.n, 0);
	assert_true(pruned > first && pruned < fourth);
	/* From the last pruned entry on, catch-up works and the chain joins. */
	assert_int_equal(membership_status_since(f->m, txn, pruned, 0, &all, 100, s_collect,
	    &g, &next_seq, &next_index, &more, &expired, &pruned), 0);
	assert_false(expired);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.sc[0]->prev_seq, pruned);
	s_got_free(&g);
	mdb_txn_abort(txn);

	/* The snapshot still holds every member's latest change. */
	s_snapshot(f, "", "", &g);
	assert_int_equal(g.n, 2);
	s_got_free(&g);
}

int
unit_status(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prev_chain, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_since, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_prune, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
