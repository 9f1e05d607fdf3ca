/*
 * Unit tests of the worker's checkpoints (workers/checkpoint.c): the seal's
 * text, when checkpoints are on, a checkpoint taken by the thread while
 * this thread (the worker's main thread) applies and answers its digest
 * request, its restore and the fold going on from it, the restores it
 * refuses (past the journal's end, another journal's record at its cursor,
 * no seal, a seal that does not match the copy), each removing the
 * checkpoint, and a stop that leaves no .tmp (nor does a start).
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "config.h"
#include "fold.h"
#include "idnum.h"
#include "journal.h"
#include "now.h"

#define TWP "320123101000"

struct fx {
	char *dir;
	char data[400], state[700];
	struct journal *j;
	struct config cfg;
	unsigned n;          /* events appended */
};

static void
s_append(struct journal *j, const Envelope *e)
{
	uint8_t buf[2048];
	size_t len = jiceng__v1__envelope__pack(e, buf);
	uint64_t seq;
	MDB_txn *txn;
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1763600000000, e->event_case, e->township_id,
	    e->event_id, buf, len, &seq), 0);
	assert_int_equal(journal_commit(j, txn), 0);
}

/* n more members of org b1 (the first call also establishes t1 and b1),
 * each id prefixed with p. */
static void
s_events(struct fx *x, const char *p, unsigned n)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	char eid[40], mid[40];
	e.township_id = TWP;
	e.occurred_at = 1763600000000;
	if (x->n == 0) {
		Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
		e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
		e.org_established = &o;
		o.name = "测试党组织";
		o.org_id = "t1";
		o.kind = JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE;
		e.event_id = "org-t1";
		s_append(x->j, &e);
		o.org_id = "b1";
		o.kind = JICENG__V1__ORG_KIND__BRANCH;
		o.parent_id = o.approving_org_id = "t1";
		e.event_id = "org-b1";
		s_append(x->j, &e);
		x->n = 2;
	}
	Jiceng__V1__MemberRegistered m = JICENG__V1__MEMBER_REGISTERED__INIT;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e.member_registered = &m;
	m.home_org_id = "b1";
	m.name = "张三";
	m.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	m.admitted_at = 946684800000;
	m.confirmed_at = 978307200000;
	for (unsigned i = 0; i < n; i++, x->n++) {
		snprintf(eid, sizeof eid, "%s-e-%u", p, i);
		snprintf(mid, sizeof mid, "%s-m-%u", p, i);
		e.event_id = eid;
		m.member_id = mid;
		s_append(x->j, &e);
	}
}

/* A data dir DIR/NAME with a journal, derived_dir DIR/NAME-derived,
 * checkpoints every second in DIR/checkpoint (shared by every fixture on
 * DIR). */
static void
s_setup(struct fx *x, char *dir, const char *name)
{
	uint8_t key[IDNUM_KEY_LEN];
	char path[700];
	memset(x, 0, sizeof *x);
	x->dir = dir;
	snprintf(x->data, sizeof x->data, "%s/%s", dir, name);
	assert_int_equal(mkdir(x->data, 0750), 0);
	config_defaults(&x->cfg);
	snprintf(x->cfg.data_dir, sizeof x->cfg.data_dir, "%s", x->data);
	snprintf(x->cfg.derived_dir, sizeof x->cfg.derived_dir, "%s-derived", x->data);
	snprintf(x->cfg.checkpoint_dir, sizeof x->cfg.checkpoint_dir, "%s/checkpoint", dir);
	snprintf(x->cfg.id_key_file, sizeof x->cfg.id_key_file, "%s/id-index.key", dir);
	x->cfg.checkpoint_interval_s = 1;
	x->cfg.state_map_mb = 16;
	config_finish(&x->cfg);
	assert_int_equal(idnum_key_load(x->cfg.id_key_file, true, key), 0);
	assert_int_equal(mkdir(x->cfg.derived_dir, 0750), 0);
	snprintf(path, sizeof path, "%s/state", x->cfg.derived_dir);
	assert_int_equal(mkdir(path, 0750), 0);
	fold_state_path(x->cfg.derived_dir, DOMAIN_MEMBERSHIP, x->state, sizeof x->state);
	assert_int_equal(journal_open(&x->j, x->data, 8, 64, false), 0);
}

static void
s_path(const struct fx *x, const char *suffix, char *out, size_t len)
{
	snprintf(out, len, "%s/membership%s", x->cfg.checkpoint_dir, suffix);
}

static bool
s_exists(const struct fx *x, const char *suffix)
{
	char path[700];
	s_path(x, suffix, path, sizeof path);
	return access(path, F_OK) == 0;
}

static void
s_apply_all(struct fold *f)
{
	unsigned n;
	do
		assert_int_equal(fold_step(f, 1000, 128, false, &n), 0);
	while (n);
}

/* Run the checkpoint thread on f, ticking as the worker does, until a
 * checkpoint at f's cursor is in place. */
static void
s_checkpoint(struct fx *x, struct fold *f)
{
	struct checkpoint *cp;
	char seal[700];
	struct checkpoint_seal s = { 0 };
	assert_int_equal(checkpoint_start(&cp, &x->cfg, DOMAIN_MEMBERSHIP, f), 0);
	s_path(x, ".seal", seal, sizeof seal);
	for (int64_t end = now_mono_ms() + 20000; s.cursor != fold_cursor(f); usleep(10000)) {
		assert_true(now_mono_ms() < end);
		checkpoint_tick(cp, x->j, fold_cursor(f));
		FILE *file = fopen(seal, "r");
		char text[CHECKPOINT_SEAL_MAX + 1] = "";
		if (file) {
			text[fread(text, 1, CHECKPOINT_SEAL_MAX, file)] = 0;
			fclose(file);
			checkpoint_seal_parse(text, &s);
		}
	}
	checkpoint_stop(&cp);
	assert_false(s_exists(x, ".mdb.tmp"));
}

static char *
s_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	char *buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

static void
s_spill(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
test_checkpoint_seal(void **state)
{
	(void)state;
	struct checkpoint_seal s = { .domain = DOMAIN_FUNDS, .cursor = 123456789 }, t;
	char text[CHECKPOINT_SEAL_MAX], bad[CHECKPOINT_SEAL_MAX];
	for (int i = 0; i < CHECKPOINT_DIGEST_LEN; i++)
		s.record[i] = (uint8_t)(i * 17);
	size_t n = checkpoint_seal_format(&s, text, sizeof text);
	assert_true(n > 0 && n < sizeof text);
	assert_string_equal(text, "jiceng-checkpoint 1\ndomain funds\ncursor 123456789\n"
	    "record 00112233445566778899aabbccddeeff\n");
	assert_int_equal(checkpoint_seal_parse(text, &t), 0);
	assert_int_equal(t.domain, DOMAIN_FUNDS);
	assert_int_equal(t.cursor, 123456789);
	assert_memory_equal(t.record, s.record, CHECKPOINT_DIGEST_LEN);
	static const char *const refused[] = {
		"jiceng-checkpoint 2\ndomain funds\ncursor 1\nrecord 00112233445566778899aabbccddeeff\n",
		"jiceng-checkpoint 1\ndomain budget\ncursor 1\nrecord 00112233445566778899aabbccddeeff\n",
		"jiceng-checkpoint 1\ndomain funds\ncursor 0\nrecord 00112233445566778899aabbccddeeff\n",
		"jiceng-checkpoint 1\ndomain funds\ncursor 1\nrecord 00112233445566778899aabbccddee\n",
		"jiceng-checkpoint 1\ndomain funds\ncursor 1\nrecord 00112233445566778899aabbccddeeXX\n",
		"jiceng-checkpoint 1\ndomain funds\ncursor 1\nrecord 00112233445566778899aabbccddeeff\nmore\n",
		"jiceng-checkpoint 1\ndomain funds\ncursor 1\nrecord 00112233445566778899aabbccddeeff",
		"",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		snprintf(bad, sizeof bad, "%s", refused[i]);
		assert_int_equal(checkpoint_seal_parse(bad, &t), -1);
	}
}

static void
test_checkpoint_enabled(void **state)
{
	(void)state;
	struct config c;
	char *dir = unit_tmpdir();
	config_defaults(&c);
	snprintf(c.data_dir, sizeof c.data_dir, "%s", dir);
	config_finish(&c);
	assert_int_equal(c.checkpoint_interval_s, 600);
	char want[600];
	snprintf(want, sizeof want, "%s/checkpoint", dir);
	assert_string_equal(c.checkpoint_dir, want);
	snprintf(c.derived_dir, sizeof c.derived_dir, "%s", dir);
	assert_false(checkpoint_enabled(&c));           /* derived_dir is data_dir */
	snprintf(c.derived_dir, sizeof c.derived_dir, "%s/.", dir);
	assert_false(checkpoint_enabled(&c));           /* the same directory */
	snprintf(c.derived_dir, sizeof c.derived_dir, "/dev/shm");
	assert_true(checkpoint_enabled(&c));
	c.checkpoint_interval_s = 0;
	assert_false(checkpoint_enabled(&c));
	unit_tmpdir_remove(dir);
}

/* Taken while events are applied, restored into a state that does not
 * exist, and the fold goes on from its cursor to the same end. */
static void
test_checkpoint_take_and_restore(void **state)
{
	(void)state;
	struct fx x, y;
	struct fold *f, *g;
	uint64_t at = 0;
	char *dir = unit_tmpdir();
	s_setup(&x, dir, "a");
	s_events(&x, "a", 300);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	s_apply_all(f);
	assert_int_equal(fold_cursor(f), 302);
	s_checkpoint(&x, f);
	assert_true(s_exists(&x, ".mdb"));
	s_events(&x, "b", 50);
	s_apply_all(f);
	assert_int_equal(fold_cursor(f), 352);

	/* Another derived dir, empty, on the same data dir. */
	s_setup(&y, dir, "a2");
	journal_close(&y.j);
	snprintf(y.cfg.data_dir, sizeof y.cfg.data_dir, "%s", x.data);
	assert_true(checkpoint_restore(&y.cfg, DOMAIN_MEMBERSHIP, x.j, y.state, NULL, NULL, &at));
	assert_int_equal(at, 302);
	assert_int_equal(fold_open(&g, x.j, DOMAIN_MEMBERSHIP, y.state, &y.cfg), 0);
	assert_int_equal(fold_cursor(g), 302);
	s_apply_all(g);
	assert_int_equal(fold_cursor(g), 352);
	fold_destroy(&g);
	fold_destroy(&f);
	assert_true(s_exists(&x, ".mdb"));     /* a restore keeps it */
	assert_int_equal(checkpoint_discard(&x.cfg, DOMAIN_MEMBERSHIP), 1);
	assert_false(s_exists(&x, ".mdb") || s_exists(&x, ".seal"));
	assert_int_equal(checkpoint_discard(&x.cfg, DOMAIN_MEMBERSHIP), 0);
	journal_close(&x.j);
	unit_tmpdir_remove(dir);
}

/* The checkpoint's files as taken, put back before each case. */
struct taken {
	char *mdb, *seal;
	size_t mdb_len, seal_len;
};

static void
s_put_back(struct fx *x, const struct taken *t)
{
	char path[700];
	s_path(x, ".mdb", path, sizeof path);
	s_spill(path, t->mdb, t->mdb_len);
	s_path(x, ".seal", path, sizeof path);
	s_spill(path, t->seal, t->seal_len);
}

/* Restoring from journal j into x's state is refused, and removes it. */
static void
s_refused(struct fx *x, struct journal *j)
{
	uint64_t at = 0;
	assert_false(checkpoint_restore(&x->cfg, DOMAIN_MEMBERSHIP, j, x->state, NULL, NULL, &at));
	assert_int_equal(access(x->state, F_OK), -1);
	assert_false(s_exists(x, ".mdb") || s_exists(x, ".seal"));
}

static void
test_checkpoint_restore_refused(void **state)
{
	(void)state;
	struct fx x, older, other;
	struct fold *f;
	struct taken t;
	char path[700];
	char *dir = unit_tmpdir();
	s_setup(&x, dir, "a");
	s_events(&x, "a", 40);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	s_apply_all(f);
	s_checkpoint(&x, f);
	fold_destroy(&f);
	s_path(&x, ".mdb", path, sizeof path);
	t.mdb = s_slurp(path, &t.mdb_len);
	s_path(&x, ".seal", path, sizeof path);
	t.seal = s_slurp(path, &t.seal_len);

	/* An older journal: the same events, fewer of them. */
	s_setup(&older, dir, "older");
	s_events(&older, "a", 30);
	unlink(x.state);
	s_refused(&x, older.j);
	/* Another journal as long, other events. */
	s_setup(&other, dir, "other");
	s_events(&other, "z", 40);
	s_put_back(&x, &t);
	s_refused(&x, other.j);
	/* The same journal, the seal lost. */
	s_put_back(&x, &t);
	unlink(path);
	s_refused(&x, x.j);
	/* A seal of another cursor that fits the journal: not the copy's. */
	struct checkpoint_seal s;
	char text[CHECKPOINT_SEAL_MAX];
	assert_int_equal(checkpoint_seal_parse(t.seal, &s), 0);
	s.cursor--;
	assert_int_equal(checkpoint_record_digest(x.j, s.cursor, s.record), 0);
	s_put_back(&x, &t);
	s_spill(path, text, checkpoint_seal_format(&s, text, sizeof text));
	s_refused(&x, x.j);
	/* As taken, it fits. */
	uint64_t at = 0;
	s_put_back(&x, &t);
	assert_true(checkpoint_restore(&x.cfg, DOMAIN_MEMBERSHIP, x.j, x.state, NULL, NULL, &at));
	assert_int_equal(at, 42);
	free(t.mdb);
	free(t.seal);
	journal_close(&older.j);
	journal_close(&other.j);
	journal_close(&x.j);
	unit_tmpdir_remove(dir);
}

/* A start removes what a killed worker left; a stop while a copy is held
 * (JICENG_FAULT_CHECKPOINT_HOLD) throws it away. */
static void
test_checkpoint_stop_leaves_no_tmp(void **state)
{
	(void)state;
	struct fx x;
	struct fold *f;
	struct checkpoint *cp;
	char hold[700], path[700];
	char *dir = unit_tmpdir();
	s_setup(&x, dir, "a");
	s_events(&x, "a", 20);
	assert_int_equal(fold_open(&f, x.j, DOMAIN_MEMBERSHIP, x.state, &x.cfg), 0);
	s_apply_all(f);
	assert_int_equal(mkdir(x.cfg.checkpoint_dir, 0750), 0);
	s_path(&x, ".mdb.tmp", path, sizeof path);
	s_spill(path, "x", 1);
	s_path(&x, ".seal.tmp", path, sizeof path);
	s_spill(path, "x", 1);
	snprintf(hold, sizeof hold, "%s/hold", dir);
	s_spill(hold, "x", 1);
	setenv("JICENG_FAULT_CHECKPOINT_HOLD", hold, 1);
	assert_int_equal(checkpoint_start(&cp, &x.cfg, DOMAIN_MEMBERSHIP, f), 0);
	unsetenv("JICENG_FAULT_CHECKPOINT_HOLD");
	assert_false(s_exists(&x, ".seal.tmp"));
	for (int64_t end = now_mono_ms() + 20000; !s_exists(&x, ".mdb.tmp"); usleep(10000)) {
		assert_true(now_mono_ms() < end);
		checkpoint_tick(cp, x.j, fold_cursor(f));
	}
	for (int i = 0; i < 20; i++, usleep(10000))  /* its digest answered: held */
		checkpoint_tick(cp, x.j, fold_cursor(f));
	checkpoint_stop(&cp);
	assert_false(s_exists(&x, ".mdb.tmp") || s_exists(&x, ".seal.tmp"));
	assert_false(s_exists(&x, ".mdb") || s_exists(&x, ".seal"));
	fold_destroy(&f);
	journal_close(&x.j);
	unit_tmpdir_remove(dir);
}

int
unit_checkpoint(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checkpoint_seal),
		cmocka_unit_test(test_checkpoint_enabled),
		cmocka_unit_test(test_checkpoint_take_and_restore),
		cmocka_unit_test(test_checkpoint_restore_refused),
		cmocka_unit_test(test_checkpoint_stop_leaves_no_tmp),
	};
	return cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
}
