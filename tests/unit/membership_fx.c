/*
 * The membership tests' shared fixture.
 */
#include "membership_fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int64_t
fx_cst(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	    .tm_hour = h, .tm_min = mi };
	return ((int64_t)timegm(&tm) - 8 * 3600) * 1000;
}

struct fx *
fx_new(void)
{
	struct fx *f = calloc(1, sizeof *f);
	MDB_txn *txn;
	assert_non_null(f);
	f->dir = unit_tmpdir();
	assert_non_null(f->dir);
	assert_int_equal(mdb_env_create(&f->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(f->env, MEMBERSHIP_MAX_DBS + 4), 0);
	assert_int_equal(mdb_env_set_mapsize(f->env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(f->env, f->dir, MDB_NOSYNC, 0600), 0);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	assert_int_equal(membership_open(txn, &f->m), 0);
	assert_int_equal(membership_rules(f->m, txn, &f->rules), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	f->now = fx_cst(2025, 1, 10, 9, 0);
	f->township = TS1;
	memset(f->key, 0x5a, sizeof f->key);
	return f;
}

void
fx_free(struct fx *f)
{
	membership_destroy(&f->m);
	mdb_env_close(f->env);
	unit_tmpdir_remove(f->dir);
	free(f);
}

int
fx_setup(void **state)
{
	*state = fx_new();
	return 0;
}

int
fx_teardown(void **state)
{
	fx_free(*state);
	return 0;
}

struct verdict
fx_send(struct fx *f, EventCase c, void *msg)
{
	Envelope env = JICENG__V1__ENVELOPE__INIT;
	struct verdict v;
	MDB_txn *txn;
	struct event_ctx ev = { .seq = ++f->seq, .received_at = f->now,
	    .township_id = f->township, .env = &env, .rules = &f->rules,
	    .id_key = f->key };

	env.event_id = "e";
	env.township_id = (char *)f->township;
	env.occurred_at = f->now;
	codec_event_set(&env, c, msg);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	uint64_t writes = membership_writes();
	assert_int_equal(membership_apply(f->m, txn, &ev, &v), 0);
	if (!v.accepted) {
		/* Every rejection is decided before the first write. */
		assert_int_equal(membership_writes(), writes);
		mdb_txn_abort(txn);
		return v;
	}
	if (c == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED)
		assert_int_equal(membership_rules(f->m, txn, &f->rules), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return v;
}
