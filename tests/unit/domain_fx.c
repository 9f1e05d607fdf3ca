/*
 * The domain tests' shared fixture (domain_fx.h).
 */
#include "domain_fx.h"

#include "domain.h"

struct fx *
dfx_new(enum domain d)
{
	const struct domain_module *mod = domain_module(d);
	MDB_txn *txn;
	assert_non_null(mod);
	/* The fold's environment has MEMBERSHIP_MAX_DBS + its own few + the
	 * module's: a module that opens more than its max_dbs fails here. */
	struct fx *f = fx_new_dbs(mod->max_dbs);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	assert_int_equal(mod->open(txn, MDB_CREATE, f->m, &f->module_state), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	f->module = mod;
	return f;
}

int
dfx_setup_meetings(void **state)
{
	*state = dfx_new(DOMAIN_MEETINGS);
	return 0;
}

int
dfx_setup_funds(void **state)
{
	*state = dfx_new(DOMAIN_FUNDS);
	return 0;
}
