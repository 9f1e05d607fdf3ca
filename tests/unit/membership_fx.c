/*
 * The membership tests' shared fixture (membership_fx.h).
 */
#include "membership_fx.h"

#include "domain.h"

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
	return fx_new_dbs(4);
}

struct fx *
fx_new_dbs(unsigned extra_dbs)
{
	struct fx *f = calloc(1, sizeof *f);
	MDB_txn *txn;
	assert_non_null(f);
	f->dir = unit_tmpdir();
	assert_non_null(f->dir);
	assert_int_equal(mdb_env_create(&f->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(f->env, MEMBERSHIP_MAX_DBS + extra_dbs), 0);
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
	if (f->module)
		f->module->close(&f->module_state);
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
	if (v.accepted && f->module)
		assert_int_equal(f->module->apply(f->module_state, txn, &ev, &v), 0);
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

/* ---------------------------------------------------------- events */

struct verdict
fx_org(struct fx *f, const char *id, int kind, const char *parent, const char *approving)
{
	Jiceng__V1__OrgEstablished e = JICENG__V1__ORG_ESTABLISHED__INIT;
	e.org_id = (char *)id;
	e.kind = kind;
	e.parent_id = (char *)(parent ? parent : "");
	e.name = "测试组织";
	e.approving_org_id = (char *)(approving ? approving : "");
	e.established_at = f->now;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &e);
}

void
fx_tree(struct fx *f, const char *t, const char *v, const char *b)
{
	ACCEPTED(fx_org(f, t, JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	ACCEPTED(fx_org(f, v, JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, t, t));
	ACCEPTED(fx_org(f, b, JICENG__V1__ORG_KIND__BRANCH, v, t));
}

Jiceng__V1__MemberRegistered
fx_registration(const char *id, const char *home, int category)
{
	Jiceng__V1__MemberRegistered e = JICENG__V1__MEMBER_REGISTERED__INIT;
	e.member_id = (char *)id;
	e.home_org_id = (char *)home;
	e.name = "张三";
	e.category = category;
	e.admitted_at = fx_cst(2010, 7, 1, 9, 0);
	if (category == JICENG__V1__MEMBER_CATEGORY__FULL)
		e.confirmed_at = fx_cst(2011, 7, 1, 9, 0);  /* R1: a year on */
	return e;
}

struct verdict
fx_register(struct fx *f, const char *id, const char *home, int category)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, home, category);
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e);
}

struct verdict
fx_status_at(struct fx *f, const char *id, int status, int64_t at)
{
	Jiceng__V1__MemberStatusChanged s = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	s.member_id = (char *)id;
	s.status = status;
	s.effective_at = at;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &s);
}

struct verdict
fx_status(struct fx *f, const char *id, int status)
{
	return fx_status_at(f, id, status, f->now);
}

struct verdict
fx_tick(struct fx *f)
{
	Jiceng__V1__Tick t = JICENG__V1__TICK__INIT;
	t.at = f->now;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_TICK, &t);
}

struct verdict
fx_rules(struct fx *f, Jiceng__V1__Rules *r)
{
	Jiceng__V1__RulesChanged rc = JICENG__V1__RULES_CHANGED__INIT;
	rc.rules = r;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED, &rc);
}

/* ---------------------------------------------------------- state */

MDB_txn *
fx_read(struct fx *f)
{
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
	return txn;
}

MDB_txn *
fx_write(struct fx *f)
{
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
	return txn;
}

void
fx_load_member(struct fx *f, const char *id, struct member_rec *r)
{
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_member_load(f->m, txn, id, r), 0);
	mdb_txn_abort(txn);
}

void
fx_load_transfer(struct fx *f, const char *id, struct transfer_rec *t)
{
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_transfer_load(f->m, txn, id, t), 0);
	mdb_txn_abort(txn);
}

void
fx_load_episode(struct fx *f, const char *id, struct episode_rec *e)
{
	MDB_txn *txn = fx_read(f);
	assert_int_equal(records_episode_load(f->m, txn, id, e), 0);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- change log */

static void
s_change_add(void *arg, uint64_t seq, const void *packed, size_t len)
{
	struct fx_changes *cs = arg;
	StatusChange *sc = jiceng__v1__status_change__unpack(NULL, len, packed);
	assert_non_null(sc);
	assert_int_equal(sc->seq, seq);
	if (memmem(packed, len, FX_PHONE, strlen(FX_PHONE)) ||
	    memmem(packed, len, FX_PHONE_MASKED, strlen(FX_PHONE_MASKED)))
		cs->leaked = true;
	assert_true(cs->n < FX_MAX_CHANGES);
	cs->sc[cs->n++] = sc;
}

void
fx_changes(struct fx *f, uint64_t from, uint64_t to, struct fx_changes *cs)
{
	MDB_txn *txn = fx_read(f);
	memset(cs, 0, sizeof *cs);
	assert_int_equal(membership_changes_each(f->m, txn, from, to, s_change_add, cs), 0);
	mdb_txn_abort(txn);
}

void
fx_changes_free(struct fx_changes *cs)
{
	for (unsigned i = 0; i < cs->n; i++)
		jiceng__v1__status_change__free_unpacked(cs->sc[i], NULL);
	cs->n = 0;
}
