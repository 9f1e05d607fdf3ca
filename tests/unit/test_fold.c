/*
 * Unit tests of the fold (workers/fold.c): journal events applied in order,
 * cursor and verdicts stored with the state, a rejected event leaving no
 * trace (also one rejected after it wrote), quarantined events answered
 * INTERNAL_ERROR and undecodable records UNDECODABLE_RECORD, disk reserved
 * ahead of the writable map and kept ahead as the state grows, a state map that grows when full, a rebuild that
 * yields the same tables, and one that replaces a file other processes
 * are reading.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "fold.h"
#include "idnum.h"
#include "journal.h"
#include "membership.h"
#include "store.h"

#define TWP "320123101000"

struct fx {
	char *dir;
	struct journal *j;
	struct config cfg;
	char state[600];
};

static void
s_append(struct fx *x, const Envelope *e, bool with_id)
{
	uint8_t buf[2048];
	size_t n = jiceng__v1__envelope__pack(e, buf);
	uint64_t seq;
	MDB_txn *txn;
	assert_int_equal(journal_write_begin(x->j, &txn), 0);
	assert_int_equal(journal_append(x->j, txn, 1763600000000, e->event_case, e->township_id,
	    with_id ? e->event_id : NULL, buf, n, &seq), 0);
	assert_int_equal(journal_commit(x->j, txn), 0);
}

static void
s_org(struct fx *x, const char *eid, const char *org, int kind, const char *parent)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	e.event_id = (char *)eid;
	e.township_id = TWP;
	e.occurred_at = 1763600000000;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
	e.org_established = &o;
	o.org_id = (char *)org;
	o.kind = kind;
	o.name = "测试党组织";
	o.parent_id = (char *)(parent ? parent : "");
	o.approving_org_id = (char *)(parent ? "t1" : "");
	s_append(x, &e, true);
}

/* A MemberRegistered envelope in e, its event in m (the strings are not
 * copied). */
static void
s_member_envelope(Envelope *e, Jiceng__V1__MemberRegistered *m, const char *eid,
    const char *member, const char *org)
{
	jiceng__v1__envelope__init(e);
	jiceng__v1__member_registered__init(m);
	e->event_id = (char *)eid;
	e->township_id = TWP;
	e->occurred_at = 1763600000000;
	e->event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e->member_registered = m;
	m->member_id = (char *)member;
	m->home_org_id = (char *)org;
	m->name = "张三";
	m->category = JICENG__V1__MEMBER_CATEGORY__FULL;
	m->admitted_at = 946684800000;
	m->confirmed_at = 978307200000;
}

static void
s_member(struct fx *x, const char *eid, const char *member, const char *org)
{
	Envelope e;
	Jiceng__V1__MemberRegistered m;
	s_member_envelope(&e, &m, eid, member, org);
	s_append(x, &e, true);
}

static void
s_setup(struct fx *x, uint64_t state_mb)
{
	uint8_t key[IDNUM_KEY_LEN];
	memset(x, 0, sizeof *x);
	x->dir = unit_tmpdir();
	config_defaults(&x->cfg);
	snprintf(x->cfg.data_dir, sizeof x->cfg.data_dir, "%s", x->dir);
	x->cfg.state_map_mb = state_mb;
	config_finish(&x->cfg);
	assert_int_equal(idnum_key_load(x->cfg.id_key_file, true, key), 0);
	snprintf(x->state, sizeof x->state, "%s/state.mdb", x->dir);
	assert_int_equal(journal_open(&x->j, x->dir, 8, 64, false), 0);
}

static void
s_teardown(struct fx *x)
{
	journal_close(&x->j);
	unit_tmpdir_remove(x->dir);
}

/* A read transaction on the state env at path (closed by s_state_done). */
static MDB_txn *
s_state_read(const char *path, MDB_env **env)
{
	MDB_txn *txn;
	assert_int_equal(mdb_env_create(env), 0);
	mdb_env_set_maxdbs(*env, 32);
	assert_int_equal(mdb_env_open(*env, path, MDB_NOSUBDIR | MDB_RDONLY, 0), 0);
	assert_int_equal(mdb_txn_begin(*env, NULL, MDB_RDONLY, &txn), 0);
	return txn;
}

static void
s_state_done(MDB_env *env, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static Ack *
s_verdict(struct fold *f, const char *path, uint64_t seq)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	Ack *a = NULL;
	(void)f;
	txn = s_state_read(path, &env);
	assert_int_equal(mdb_dbi_open(txn, "verdicts", 0, &dbi), 0);
	int rc = fold_read_verdict(txn, dbi, seq, &a);
	s_state_done(env, txn);
	return rc ? NULL : a;
}

/* The stored verdict of seq has this verdict and, unless NULL, this code. */
static void
s_expect_verdict(const char *path, uint64_t seq, Jiceng__V1__Verdict verdict, const char *code)
{
	Ack *a = s_verdict(NULL, path, seq);
	assert_non_null(a);
	assert_int_equal(a->verdict, verdict);
	if (code)
		assert_string_equal(a->code, code);
	jiceng__v1__ack__free_unpacked(a, NULL);
}

static void
test_fold_applies_in_order_with_verdicts(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	unsigned n;
	s_setup(&x, 16);
	s_org(&x, "e1", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(&x, "e2", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	s_member(&x, "e3", "m1", "b1");
	s_member(&x, "e4", "m2", "nowhere");  /* rejected: unknown org */
	s_member(&x, "e5", "m2", "b1");       /* accepted: e4 left no trace */
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	assert_int_equal(fold_step(f, 3, 2, false, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(fold_cursor(f), 3);
	assert_int_equal(fold_step(f, 100, 2, false, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fold_cursor(f), 5);
	fold_destroy(&f);
	Ack *a = s_verdict(f, x.state, 4);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "UNKNOWN_ORG");
	assert_string_equal(a->event_id, "e4");
	assert_int_equal(a->seq, 4);
	jiceng__v1__ack__free_unpacked(a, NULL);
	s_expect_verdict(x.state, 5, JICENG__V1__VERDICT__ACCEPTED, NULL);
	/* Reopening resumes at the stored cursor. */
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	assert_int_equal(fold_cursor(f), 5);
	assert_int_equal(fold_step(f, 100, 2, false, &n), 0);
	assert_int_equal(n, 0);
	fold_destroy(&f);
	s_teardown(&x);
}

/* Fold the two journaled events: the first must be answered
 * INTERNAL_ERROR, the second accepted. */
static void
s_expect_first_of_two_internal_error(struct fx *x, bool single_step)
{
	struct fold *f;
	unsigned n;
	assert_int_equal(fold_open(&f, x->j, DOMAIN_MEMBERSHIP, x->state, &x->cfg), 0);
	assert_int_equal(fold_step(f, 100, 10, single_step, &n), 0);
	assert_int_equal(n, 2);
	fold_destroy(&f);
	s_expect_verdict(x->state, 1, JICENG__V1__VERDICT__REJECTED, "INTERNAL_ERROR");
	s_expect_verdict(x->state, 2, JICENG__V1__VERDICT__ACCEPTED, "OK");
}

static void
test_fold_quarantine(void **state)
{
	(void)state;
	struct fx x;
	MDB_txn *txn;
	s_setup(&x, 16);
	s_org(&x, "e1", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	assert_int_equal(journal_write_begin(x.j, &txn), 0);
	assert_int_equal(journal_quarantine(x.j, txn, 1, "test"), 0);
	assert_int_equal(journal_commit(x.j, txn), 0);
	s_org(&x, "e2", "t2", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_expect_first_of_two_internal_error(&x, true);
	s_teardown(&x);
}

/* Is member_id in the state env at path? */
static bool
s_has_member(const char *path, const char *member_id)
{
	MDB_env *env;
	MDB_txn *txn;
	struct membership *m;
	Jiceng__V1__MemberView v = JICENG__V1__MEMBER_VIEW__INIT;
	txn = s_state_read(path, &env);
	assert_int_equal(membership_open_readonly(txn, &m), 0);
	int rc = membership_get_member(m, txn, member_id, &v);
	if (rc == 0)
		membership_free_member_view(&v);
	membership_destroy(&m);
	s_state_done(env, txn);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	return rc == 0;
}

/* Append raw envelope bytes as a record of kind from township TWP under
 * event_id (NULL: none). */
static uint64_t
s_append_raw(struct fx *x, uint32_t kind, const char *event_id, const uint8_t *buf, size_t n)
{
	MDB_txn *txn;
	uint64_t seq;
	assert_int_equal(journal_write_begin(x->j, &txn), 0);
	assert_int_equal(journal_append(x->j, txn, 1763600000000, kind, event_id ? TWP : "",
	    event_id, buf, n, &seq), 0);
	assert_int_equal(journal_commit(x->j, txn), 0);
	return seq;
}

/* Records that do not decode, as a journal written before jicengd packed
 * every envelope anew can hold: a MemberRegistered with an ID digest and
 * the tag 0 protobuf-c wrote for a client's overlong 80 00 01, junk, and a Tick nobody answers for. Each owned one is
 * answered once, for good: REJECTED/UNDECODABLE_RECORD (not
 * INTERNAL_ERROR), with the event_id when the record still has it; the
 * fold goes on past them, never meets them again, and a rebuild answers
 * them the same. */
static void
test_fold_undecodable_record(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	unsigned n;
	uint8_t buf[1024], junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f }, tick[] = { 0x00, 0x01 };
	uint8_t index[IDNUM_INDEX_LEN] = { 9 };
	Envelope e;
	Jiceng__V1__MemberRegistered m;
	Jiceng__V1__IdDigest d = JICENG__V1__ID_DIGEST__INIT;
	s_setup(&x, 16);
	s_org(&x, "e1", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(&x, "e2", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	s_member_envelope(&e, &m, "e3-tag0", "m-tag0", "b1");
	d.blind_index.data = index;
	d.blind_index.len = sizeof index;
	d.masked = "320123********123X";
	d.birth_date = "1980-01-01";
	d.sex = JICENG__V1__SEX__MALE;
	m.id_digest = &d;
	size_t len = jiceng__v1__envelope__pack(&e, buf);
	buf[len++] = 0x00;   /* tag 0, varint */
	buf[len++] = 0x01;
	assert_null(codec_envelope_unpack(buf, len));
	assert_int_equal(s_append_raw(&x, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, "e3-tag0",
	    buf, len), 3);
	assert_int_equal(s_append_raw(&x, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, "junk",
	    junk, sizeof junk), 4);
	assert_int_equal(s_append_raw(&x, JICENG__V1__ENVELOPE__EVENT_TICK, NULL,
	    tick, sizeof tick), 5);
	s_member(&x, "e6", "m6", "b1");

	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
		assert_int_equal(fold_step(f, 100, 10, false, &n), 0);
		assert_int_equal(n, 6);
		assert_int_equal(fold_cursor(f), 6);
		/* Never retried: the cursor is past them. */
		assert_int_equal(fold_step(f, 100, 10, false, &n), 0);
		assert_int_equal(n, 0);
		fold_destroy(&f);
		Ack *a = s_verdict(NULL, x.state, 3);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
		assert_string_equal(a->code, "UNDECODABLE_RECORD");
		assert_string_equal(a->event_id, "e3-tag0");
		assert_int_equal(a->seq, 3);
		assert_non_null(strstr(a->reason, "new event_id"));
		jiceng__v1__ack__free_unpacked(a, NULL);
		a = s_verdict(NULL, x.state, 4);
		assert_non_null(a);
		assert_string_equal(a->code, "UNDECODABLE_RECORD");
		assert_string_equal(a->event_id, "");
		jiceng__v1__ack__free_unpacked(a, NULL);
		assert_null(s_verdict(NULL, x.state, 5));      /* nobody's to answer */
		s_expect_verdict(x.state, 6, JICENG__V1__VERDICT__ACCEPTED, "OK");
		assert_false(s_has_member(x.state, "m-tag0"));
		assert_true(s_has_member(x.state, "m6"));
		/* The same from scratch, as jicengctl rebuild does. */
		assert_int_equal(unlink(x.state), 0);
		char lock[620];
		snprintf(lock, sizeof lock, "%s-lock", x.state);
		unlink(lock);
	}
	s_teardown(&x);
}

/* An event rejected after the module wrote (forced by fault injection: no
 * rule does it) is undone: its batch is applied again without it, and the
 * events around it keep their effects. */
static void
test_fold_late_rejection_is_undone(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	unsigned n;
	s_setup(&x, 16);
	s_org(&x, "e1", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(&x, "e2", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	s_member(&x, "e3", "m1", "b1");
	s_member(&x, "e4", "m2", "b1");
	s_member(&x, "e5", "m3", "b1");
	setenv("JICENG_FAULT_LATE_REJECT", "e4", 1);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	unsetenv("JICENG_FAULT_LATE_REJECT");
	assert_int_equal(fold_step(f, 100, 100, false, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(fold_cursor(f), 5);
	fold_destroy(&f);
	s_expect_verdict(x.state, 4, JICENG__V1__VERDICT__REJECTED, "FAULT_INJECTED");
	s_expect_verdict(x.state, 5, JICENG__V1__VERDICT__ACCEPTED, NULL);
	assert_true(s_has_member(x.state, "m1"));
	assert_false(s_has_member(x.state, "m2"));
	assert_true(s_has_member(x.state, "m3"));
	s_teardown(&x);
}

/* The counter name of the counts table at path, 0 when absent. */
static uint64_t
s_counter(const char *path, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(name), (void *)name }, v;
	uint64_t n = 0;
	txn = s_state_read(path, &env);
	assert_int_equal(mdb_dbi_open(txn, "counts", 0, &dbi), 0);
	int rc = mdb_get(txn, dbi, &k, &v);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	if (rc == 0) {
		assert_int_equal(v.mv_size, 8);
		for (unsigned i = 0; i < 8; i++)
			n = n << 8 | ((const uint8_t *)v.mv_data)[i];
	}
	s_state_done(env, txn);
	return n;
}

/* The counters a batch adds to are kept in memory and written before its
 * commit: each event counted once, also in a batch applied again after a
 * late rejection, and a later batch adds to what is stored. */
static void
test_fold_counts_per_batch(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	unsigned n;
	s_setup(&x, 16);
	s_org(&x, "e1", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(&x, "e2", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	s_member(&x, "e3", "m1", "b1");
	s_member(&x, "e4", "m2", "b1");       /* rejected after writing */
	s_member(&x, "e5", "m3", "b1");
	s_member(&x, "e6", "m4", "nowhere");  /* UNKNOWN_ORG */
	s_member(&x, "e7", "m5", "nowhere");  /* UNKNOWN_ORG */
	s_member(&x, "e8", "m6", "b1");
	setenv("JICENG_FAULT_LATE_REJECT", "e4", 1);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	unsetenv("JICENG_FAULT_LATE_REJECT");
	assert_int_equal(fold_step(f, 100, 100, false, &n), 0);
	assert_int_equal(n, 8);
	fold_destroy(&f);
	assert_int_equal(s_counter(x.state, "event:org_established:accepted"), 2);
	assert_int_equal(s_counter(x.state, "event:member_registered:accepted"), 3);
	assert_int_equal(s_counter(x.state, "event:member_registered:rejected"), 3);
	assert_int_equal(s_counter(x.state, "rejected:UNKNOWN_ORG"), 2);
	assert_int_equal(s_counter(x.state, "rejected:FAULT_INJECTED"), 1);

	s_member(&x, "e9", "m7", "b1");
	s_member(&x, "e10", "m8", "nowhere");
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	assert_int_equal(fold_step(f, 100, 100, false, &n), 0);
	assert_int_equal(n, 2);
	fold_destroy(&f);
	assert_int_equal(s_counter(x.state, "event:member_registered:accepted"), 4);
	assert_int_equal(s_counter(x.state, "event:member_registered:rejected"), 4);
	assert_int_equal(s_counter(x.state, "rejected:UNKNOWN_ORG"), 3);
	s_teardown(&x);
}

/* The writable map never writes into an unallocated hole (a full disk
 * would be SIGBUS): the file's blocks are allocated ahead of use, here the
 * whole of a 16 MiB map. */
/* n members registered in commits of 2000 (a flush per commit, not per
 * event), the journal map grown when full. */
static void
s_members_bulk(struct fx *x, unsigned n)
{
	uint8_t buf[2048];
	uint64_t seq;
	for (unsigned from = 0; from < n; from += 2000) {
		MDB_txn *txn;
		int rc = 0;
		assert_int_equal(journal_write_begin(x->j, &txn), 0);
		for (unsigned i = from; i < n && i < from + 2000 && rc == 0; i++) {
			Envelope e;
			Jiceng__V1__MemberRegistered m;
			char eid[32], member[32];
			snprintf(eid, sizeof eid, "bulk-%06u", i);
			snprintf(member, sizeof member, "bulk-member-%06u", i);
			s_member_envelope(&e, &m, eid, member, "b1");
			size_t len = jiceng__v1__envelope__pack(&e, buf);
			rc = journal_append(x->j, txn, 1763600000000, e.event_case, TWP, eid, buf, len, &seq);
		}
		if (rc == MDB_MAP_FULL) {
			mdb_txn_abort(txn);
			assert_int_equal(journal_grow(x->j), 0);
			from -= 2000;  /* this chunk again */
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(journal_commit(x->j, txn), 0);
	}
}

/* Bytes of the state file LMDB has used (pages up to the last one). */
static long long
s_state_used(const char *path)
{
	MDB_env *env;
	MDB_envinfo info;
	MDB_stat st;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0), 0);
	assert_int_equal(mdb_env_info(env, &info), 0);
	assert_int_equal(mdb_env_stat(env, &st), 0);
	mdb_env_close(env);
	return (long long)(info.me_last_pgno + 1) * st.ms_psize;
}

/* As the state grows, the reserve keeps pace in small steps: the blocks
 * allocated stay within one step of 64 MiB past the last used page. */
static void
test_fold_reserve_keeps_pace(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	struct stat st;
	unsigned n;
	s_setup(&x, 256);
	s_org(&x, "e0", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(&x, "e1", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	s_members_bulk(&x, 64000);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	do
		assert_int_equal(fold_step(f, 1000, 128, false, &n), 0);
	while (n > 0);
	assert_int_equal(fold_cursor(f), 64002);
	fold_destroy(&f);
	long long used = s_state_used(x.state);
	assert_int_equal(stat(x.state, &st), 0);
	print_message("state used %lld MiB, allocated %lld MiB\n", used >> 20,
	    (long long)st.st_blocks * 512 >> 20);
	assert_true(used > 8LL << 20);  /* past a refill at half of the first reserve */
	assert_true((long long)st.st_blocks * 512 >= used + (59LL << 20));
	s_teardown(&x);
}

static void
test_fold_reserves_disk_ahead(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	struct stat st;
	s_setup(&x, 16);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	assert_int_equal(stat(x.state, &st), 0);
	assert_true((long long)st.st_blocks * 512 >= 16LL << 20);
	fold_destroy(&f);
	s_teardown(&x);
}

static char *
s_dump(const char *path)
{
	char cmd[800];
	snprintf(cmd, sizeof cmd, "mdb_dump -n -a '%s' 2>&1 | grep -v '^mapsize='", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *out = NULL;
	size_t cap = 0;
	ssize_t r = getdelim(&out, &cap, 0, p);
	assert_true(r > 0);
	pclose(p);
	return out;
}

static void
test_fold_grows_full_map_and_rebuilds_identically(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	unsigned n;
	char err[256], id[32], eid[32];
	s_setup(&x, 1);  /* a 1 MiB state map: too small for what follows */
	s_org(&x, "e0", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(&x, "e1", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	for (int i = 0; i < 8000; i++) {
		snprintf(id, sizeof id, "member-%05d", i);
		snprintf(eid, sizeof eid, "ev-%05d", i);
		s_member(&x, eid, id, "b1");
	}
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	while (fold_cursor(f) < 8002)
		assert_int_equal(fold_step(f, 1000, 97, false, &n), 0);
	fold_destroy(&f);
	MDB_env *env;
	MDB_envinfo info;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	assert_int_equal(mdb_env_open(env, x.state, MDB_NOSUBDIR | MDB_RDONLY, 0), 0);
	mdb_env_info(env, &info);
	mdb_env_close(env);
	assert_true(info.me_mapsize > (1u << 20));  /* it had to grow */
	char *live = s_dump(x.state);
	char rebuilt[700];
	snprintf(rebuilt, sizeof rebuilt, "%s/rebuilt.mdb", x.dir);
	assert_int_equal(fold_rebuild(x.dir, rebuilt, DOMAIN_MEMBERSHIP, &x.cfg, NULL, NULL, NULL, err, sizeof err), 0);
	char *again = s_dump(rebuilt);
	assert_true(strlen(live) > 100000);
	assert_string_equal(live, again);
	free(live);
	free(again);
	s_teardown(&x);
}

/* Two orgs and ten members journaled: 12 events. */
static void
s_setup_twelve(struct fx *x)
{
	char id[32], eid[32];
	s_setup(x, 64);
	s_org(x, "e0", "t1", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL);
	s_org(x, "e1", "b1", JICENG__V1__ORG_KIND__BRANCH, "t1");
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "member-%d", i);
		snprintf(eid, sizeof eid, "ev-%d", i);
		s_member(x, eid, id, "b1");
	}
}

/* Apply the 12 events to x->state: first_step of them in the first
 * commit, then one per commit. */
static void
s_apply_in_steps(struct fx *x, unsigned first_step)
{
	struct fold *f;
	unsigned n;
	assert_int_equal(fold_open(&f, x->j, DOMAIN_MEMBERSHIP, x->state, &x->cfg), 0);
	assert_int_equal(fold_step(f, first_step, first_step, false, &n), 0);
	while (fold_cursor(f) < 12)
		assert_int_equal(fold_step(f, 1, 1, false, &n), 0);
	fold_destroy(&f);
}

/* A forked process that holds state_path open read-only (as the query
 * server does) until *release is closed. */
static pid_t
s_reader_holding(const char *state_path, int *release)
{
	int ready[2], hold[2];
	char c;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env;
		close(ready[0]);
		close(hold[1]);
		if (store_open_readonly(state_path, 32, &env) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*release = hold[1];
	return pid;
}

/* A forked process that opens state_path read-only: its pid. It exits 0
 * if the open succeeded and the file was not replaced under it, 2 if the
 * open failed with EAGAIN, else 1. */
static pid_t
s_reader_opening(const char *state_path)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env;
		int rc = store_open_readonly(state_path, 32, &env);
		_exit(rc == EAGAIN ? 2 : rc == 0 && !store_replaced(env, state_path) ? 0 : 1);
	}
	return pid;
}

static int
s_exit_status(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* A rebuild while another process reads the old state file. LMDB takes
 * the last transaction id from the lock file, which its first opener
 * fills from the data file: the new file must get a lock file of its own.
 * With the old one, the writer would build on whichever meta page of the
 * new file that id's parity names, half the time the older one, dropping
 * the rebuild's last commit (both parities are tried: 12 and 11 commits
 * on the old file). A reader that opens the new lock file before the
 * writer has opened the new file waits for it. The old reader learns from
 * store_replaced that its file was replaced. */
static void
test_fold_rebuild_while_read(void **state)
{
	(void)state;
	char err[256];
	for (unsigned first_step = 1; first_step <= 2; first_step++) {
		struct fx x;
		struct fold *f;
		int release, guard = -1;
		s_setup_twelve(&x);
		s_apply_in_steps(&x, first_step);

		pid_t old_reader = s_reader_holding(x.state, &release);
		MDB_env *old;
		assert_int_equal(store_open_readonly(x.state, 32, &old), 0);
		assert_false(store_replaced(old, x.state));
		assert_int_equal(fold_rebuild(x.dir, x.state, DOMAIN_MEMBERSHIP, &x.cfg, &guard, NULL, NULL,
		    err, sizeof err), 0);
		assert_true(guard >= 0);
		assert_true(store_replaced(old, x.state));
		mdb_env_close(old);
		pid_t new_reader = s_reader_opening(x.state);
		usleep(100000);
		assert_int_equal(waitpid(new_reader, NULL, WNOHANG), 0);  /* waiting for the writer */
		assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
		assert_int_equal(fold_cursor(f), 12);
		assert_int_equal(s_exit_status(new_reader), 0);
		fold_destroy(&f);
		close(guard);
		close(release);
		assert_int_equal(s_exit_status(old_reader), 0);
		s_teardown(&x);
	}
}

/* A reader that opens a data file with a lock file of another generation
 * (here: the data renamed over while the old lock file is in use) is
 * refused with EAGAIN: its reads would pick meta pages by the old file's
 * transaction id, unseen by the writer. Once the old readers are gone, the
 * lock file is refilled from the new data and the open succeeds. */
static void
test_store_refuses_mismatched_lock(void **state)
{
	(void)state;
	struct fx x;
	char err[256], other[700];
	int release;
	s_setup_twelve(&x);
	s_apply_in_steps(&x, 1);  /* 12 commits on the old file */
	snprintf(other, sizeof other, "%s/other.mdb", x.dir);
	assert_int_equal(fold_rebuild(x.dir, other, DOMAIN_MEMBERSHIP, &x.cfg, NULL, NULL, NULL,
	    err, sizeof err), 0);  /* about 3 */
	pid_t old_reader = s_reader_holding(x.state, &release);
	assert_int_equal(rename(other, x.state), 0);
	assert_int_equal(s_exit_status(s_reader_opening(x.state)), 2);
	close(release);
	assert_int_equal(s_exit_status(old_reader), 0);
	assert_int_equal(s_exit_status(s_reader_opening(x.state)), 0);
	s_teardown(&x);
}

int
unit_fold(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_applies_in_order_with_verdicts),
		cmocka_unit_test(test_fold_quarantine),
		cmocka_unit_test(test_fold_undecodable_record),
		cmocka_unit_test(test_fold_late_rejection_is_undone),
		cmocka_unit_test(test_fold_counts_per_batch),
		cmocka_unit_test(test_fold_reserves_disk_ahead),
		cmocka_unit_test(test_fold_reserve_keeps_pace),
		cmocka_unit_test(test_fold_grows_full_map_and_rebuilds_identically),
		cmocka_unit_test(test_fold_rebuild_while_read),
		cmocka_unit_test(test_store_refuses_mismatched_lock),
	};
	return cmocka_run_group_tests_name("fold", tests, NULL, NULL);
}
