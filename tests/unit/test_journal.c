/*
 * Unit tests of the journal: append and read back, dedupe index,
 * quarantine, meta, reopen, growth on a full map.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "jiceng/v1/envelope.pb-c.h"
#include "pending_ids.h"

static void
s_append(struct journal *j, const char *twp, const char *id, const char *body, uint64_t *seq)
{
	MDB_txn *txn;
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1700000000000, 10, twp, id,
	    (const uint8_t *)body, strlen(body), seq), 0);
	assert_int_equal(journal_commit(j, txn), 0);
}

static void
test_append_read_dedupe(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j, *r;
	uint64_t s1, s2, seq, last;
	bool same;
	MDB_txn *txn;
	struct journal_record rec;
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	s_append(j, "320123101000", "a", "hello", &s1);
	s_append(j, "320123102000", "a", "world", &s2);
	assert_int_equal(s1, 1);
	assert_int_equal(s2, 2);
	/* A reader in the same directory sees both, in order. */
	assert_int_equal(journal_open(&r, dir, 1, 4, true), 0);
	assert_int_equal(journal_read_begin(r, &txn), 0);
	assert_int_equal(journal_last_seq(r, txn, &last), 0);
	assert_int_equal(last, 2);
	assert_int_equal(journal_get(r, txn, 2, &rec), 0);
	assert_string_equal(rec.township_id, "320123102000");
	assert_int_equal(rec.kind, 10);
	assert_int_equal(rec.received_at, 1700000000000);
	assert_memory_equal(rec.envelope, "world", 5);
	assert_int_equal(rec.envelope_len, 5);
	assert_int_equal(journal_get(r, txn, 3, &rec), MDB_NOTFOUND);
	/* A reader has no index. */
	assert_int_equal(journal_lookup_id(r, txn, "320123101000", "a", (const uint8_t *)"hello", 5, &seq, &same), MDB_NOTFOUND);
	mdb_txn_abort(txn);
	/* The same event id in two townships are two events; the writer's
	 * lookup tells whether the journaled envelope is the same bytes. */
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "a", (const uint8_t *)"hello", 5, &seq, &same), 0);
	assert_int_equal(seq, 1);
	assert_true(same);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "a", (const uint8_t *)"hellO", 5, &seq, &same), 0);
	assert_false(same);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "a", (const uint8_t *)"hell", 4, &seq, &same), 0);
	assert_false(same);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "a", (const uint8_t *)"hello!", 6, &seq, &same), 0);
	assert_false(same);
	assert_int_equal(journal_lookup_id(j, txn, "320123102000", "a", (const uint8_t *)"world", 5, &seq, &same), 0);
	assert_int_equal(seq, 2);
	assert_true(same);
	assert_int_equal(journal_lookup_id(j, txn, "320123103000", "a", (const uint8_t *)"world", 5, &seq, &same), MDB_NOTFOUND);
	/* A second append under an existing id is refused; so is a key
	 * without a township and a township without a key. */
	assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", "a",
	    (const uint8_t *)"x", 1, &seq), MDB_KEYEXIST);
	assert_int_equal(journal_append(j, txn, 1, 10, "", "a", (const uint8_t *)"x", 1, &seq), EINVAL);
	assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", NULL, (const uint8_t *)"x", 1, &seq), EINVAL);
	mdb_txn_abort(txn);
	journal_close(&j);
	journal_close(&r);
	/* A clean stop put every key into the index: none is read back. */
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(journal_ids_read_back(j), 0);
	assert_null(journal_ids_rebuilt(j));
	assert_int_equal(journal_ids_indexed(j), 2);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "a", (const uint8_t *)"hello", 5, &seq, &same), 0);
	assert_int_equal(seq, 1);
	assert_true(same);
	mdb_txn_abort(txn);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

static void
test_quarantine_meta_reopen(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq, last;
	MDB_txn *txn;
	const char *why;
	const void *v;
	size_t len;
	assert_int_equal(journal_open(&j, dir, 1, 1, false), 0);
	s_append(j, "320123101000", "q", "poison", &seq);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_quarantine(j, txn, seq, "crashed 3 times"), 0);
	assert_int_equal(journal_meta_put(j, txn, "rules", "abc", 3), 0);
	assert_int_equal(journal_commit(j, txn), 0);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 1, 1, false), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(journal_last_seq(j, txn, &last), 0);
	assert_int_equal(last, 1);
	assert_int_equal(journal_quarantined(j, txn, 1, &why), 0);
	assert_string_equal(why, "crashed 3 times");
	assert_int_equal(journal_quarantined(j, txn, 2, &why), MDB_NOTFOUND);
	assert_int_equal(journal_meta_get(j, txn, "rules", &v, &len), 0);
	assert_int_equal(len, 3);
	uint64_t seqs[4];
	char reasons[4][128];
	assert_int_equal(journal_quarantine_list(j, txn, seqs, reasons, 4), 1);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(journal_count_since(j, txn, 1700000000000, 100), 1);
	assert_int_equal(journal_count_since(j, txn, 1700000000001, 100), 0);
	mdb_txn_abort(txn);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

static void
test_map_full_and_grow(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	char *body = malloc(64 * 1024);
	memset(body, 'b', 64 * 1024);
	int rc = 0;
	unsigned n = 0;
	assert_int_equal(journal_open(&j, dir, 1, 2, false), 0);
	/* Fill the 1 MiB map until it is full. */
	for (; n < 100; n++) {
		MDB_txn *txn;
		char id[16];
		uint64_t seq;
		snprintf(id, sizeof id, "e%u", n);
		assert_int_equal(journal_write_begin(j, &txn), 0);
		rc = journal_append(j, txn, 1, 10, "320123101000", id, (uint8_t *)body, 64 * 1024, &seq);
		if (rc) {
			mdb_txn_abort(txn);
			break;
		}
		assert_int_equal(journal_commit(j, txn), 0);
	}
	assert_int_equal(rc, MDB_MAP_FULL);
	assert_int_equal(journal_grow(j), 0);
	assert_int_equal(journal_map_size(j), 2u << 20);
	assert_int_equal(journal_grow(j), MDB_MAP_FULL);  /* at the configured maximum */
	journal_close(&j);
	free(body);
	unit_tmpdir_remove(dir);
}

/* What journal_durable_end promises: a commit is on disk after the next
 * commit that appended (its flush carries the previous meta page) or after
 * journal_sync; a commit that appended nothing, or an aborted append,
 * moves nothing; a reopened journal is flushed whole. */
static void
test_durable_end(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq;
	MDB_txn *txn;
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(journal_durable_end(j), 0);
	assert_false(journal_sync_pending(j));
	s_append(j, "320123101000", "a", "one", &seq);
	assert_int_equal(journal_committed_end(j), 1);
	assert_int_equal(journal_durable_end(j), 0);
	assert_true(journal_sync_pending(j));
	s_append(j, "320123101000", "b", "two", &seq);
	assert_int_equal(journal_durable_end(j), 1);
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_durable_end(j), 2);
	assert_false(journal_sync_pending(j));
	/* An append that was aborted, then a commit of meta alone. */
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1700000000000, 10, "320123101000", "c",
	    (const uint8_t *)"x", 1, &seq), 0);
	mdb_txn_abort(txn);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_meta_put(j, txn, "k", "v", 1), 0);
	assert_int_equal(journal_commit(j, txn), 0);
	assert_true(journal_sync_pending(j));
	assert_int_equal(journal_sync(j), 0);
	assert_int_equal(journal_committed_end(j), 2);
	assert_int_equal(journal_durable_end(j), 2);
	s_append(j, "320123101000", "c", "three", &seq);
	assert_int_equal(seq, 3);
	assert_int_equal(journal_durable_end(j), 2);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(journal_committed_end(j), 3);
	assert_int_equal(journal_durable_end(j), 3);
	assert_false(journal_sync_pending(j));
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* Entries in the ids index. */
static size_t
s_indexed(struct journal *j)
{
	return journal_ids_indexed(j);
}

static uint64_t
s_lookup(struct journal *j, const char *twp, const char *id, const uint8_t *body, size_t len)
{
	MDB_txn *txn;
	uint64_t seq = 0;
	bool same = false;
	assert_int_equal(journal_write_begin(j, &txn), 0);
	int rc = journal_lookup_id(j, txn, twp, id, body, len, &seq, &same);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	assert_int_equal(rc, 0);
	assert_true(same);
	return seq;
}

/* A packed Envelope with just its ids: what recovery reads the key from. */
static size_t
s_envelope(uint8_t *buf, size_t cap, const char *twp, const char *id)
{
	Jiceng__V1__Envelope e = JICENG__V1__ENVELOPE__INIT;
	e.township_id = (char *)twp;
	e.event_id = (char *)id;
	size_t len = jiceng__v1__envelope__get_packed_size(&e);
	assert_true(len <= cap);
	return jiceng__v1__envelope__pack(&e, buf);
}

/* Keys reach the index a township's batch at a time; until then the
 * writer's lookups find them; an aborted append leaves no key; no key
 * waits longer than the lag allows. */
static void
test_ids_batches(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq;
	MDB_txn *txn;
	char id[32];
	assert_int_equal(journal_open(&j, dir, 1, 64, false), 0);
	s_append(j, "320123102000", "lonely", "b", &seq);
	for (unsigned i = 1; i < JOURNAL_IDS_BATCH; i++) {
		snprintf(id, sizeof id, "a-%04u", i);
		s_append(j, "320123101000", id, id, &seq);
	}
	assert_int_equal(s_indexed(j), 0);
	assert_int_equal(s_lookup(j, "320123101000", "a-0001", (const uint8_t *)"a-0001", 6), 2);
	assert_int_equal(s_lookup(j, "320123102000", "lonely", (const uint8_t *)"b", 1), 1);
	/* Aborted: its key is forgotten, its id free for the next append. */
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", "aborted", (const uint8_t *)"x", 1, &seq), 0);
	assert_int_equal(s_indexed(j), 0);
	mdb_txn_abort(txn);
	assert_int_equal(s_lookup(j, "320123101000", "aborted", (const uint8_t *)"x", 1), 0);
	/* The township's batch is due with this one: its keys, not the other's. */
	s_append(j, "320123101000", "aborted", "x", &seq);
	assert_int_equal(seq, JOURNAL_IDS_BATCH + 1);
	assert_int_equal(s_indexed(j), JOURNAL_IDS_BATCH);
	assert_int_equal(s_lookup(j, "320123101000", "aborted", (const uint8_t *)"x", 1), seq);
	/* The other township's key waits no longer than the lag. */
	assert_int_equal(journal_write_begin(j, &txn), 0);
	for (unsigned i = 0; i < JOURNAL_IDS_MAX_LAG - JOURNAL_IDS_BATCH - 2; i++) {
		snprintf(id, sizeof id, "c-%05u", i);
		assert_int_equal(journal_append(j, txn, 1, 10, "320123103000", id, (const uint8_t *)"c", 1, &seq), 0);
	}
	assert_int_equal(journal_commit(j, txn), 0);
	assert_int_equal(seq, JOURNAL_IDS_MAX_LAG - 1);
	assert_int_equal(s_indexed(j), seq - 1);
	s_append(j, "320123103000", "last", "c", &seq);
	assert_int_equal(seq, JOURNAL_IDS_MAX_LAG);
	assert_int_equal(s_indexed(j), seq - 2);  /* "lonely" (seq 1) and "last" wait */
	s_append(j, "320123104000", "next", "d", &seq);
	assert_int_equal(s_indexed(j), seq - 2);  /* "lonely" in; "last" and "next" wait */
	assert_int_equal(s_lookup(j, "320123102000", "lonely", (const uint8_t *)"b", 1), 1);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* A writer killed before its keys' batches were due: the next writer reads
 * them back from the journal, so a resend is still a duplicate. */
static void
test_ids_recovered_after_crash(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq;
	uint8_t body[8][64];
	size_t len[8];
	char id[8][16];
	for (unsigned i = 0; i < 8; i++) {
		snprintf(id[i], sizeof id[i], "e-%u", i);
		len[i] = s_envelope(body[i], sizeof body[i], i % 2 ? "320123102000" : "320123101000", id[i]);
	}
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	/* Indexed before the crash: the first four keys and a stop. */
	for (unsigned i = 0; i < 4; i++) {
		MDB_txn *txn;
		assert_int_equal(journal_write_begin(j, &txn), 0);
		assert_int_equal(journal_append(j, txn, 1, 10, i % 2 ? "320123102000" : "320123101000", id[i],
		    body[i], len[i], &seq), 0);
		assert_int_equal(journal_commit(j, txn), 0);
	}
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(s_indexed(j), 4);
	journal_close(&j);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (journal_open(&j, dir, 1, 4, false))
			_exit(2);
		for (unsigned i = 4; i < 8; i++) {
			MDB_txn *txn;
			if (journal_write_begin(j, &txn) ||
			    journal_append(j, txn, 1, 10, i % 2 ? "320123102000" : "320123101000", id[i], body[i], len[i], &seq) ||
			    journal_commit(j, txn))
				_exit(3);
		}
		_exit(journal_sync(j) ? 4 : 0);  /* no journal_close: the keys stay pending */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(s_indexed(j), 4);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(s_lookup(j, i % 2 ? "320123102000" : "320123101000", id[i], body[i], len[i]), i + 1);
	MDB_txn *txn;
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1, 10, "320123102000", id[7], body[7], len[7], &seq), MDB_KEYEXIST);
	mdb_txn_abort(txn);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(s_indexed(j), 8);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* n events of township twp with ids "PREFIX-i" (real envelopes, which
 * the index is rebuilt from), one commit each; the last seq. */
static uint64_t
s_append_envelopes(struct journal *j, const char *twp, const char *prefix, unsigned n)
{
	uint64_t seq = 0;
	for (unsigned i = 0; i < n; i++) {
		char id[32];
		uint8_t body[64];
		MDB_txn *txn;
		snprintf(id, sizeof id, "%s-%u", prefix, i);
		size_t len = s_envelope(body, sizeof body, twp, id);
		assert_int_equal(journal_write_begin(j, &txn), 0);
		assert_int_equal(journal_append(j, txn, 1, 10, twp, id, body, len, &seq), 0);
		assert_int_equal(journal_commit(j, txn), 0);
	}
	return seq;
}

static uint64_t
s_lookup_envelope(struct journal *j, const char *twp, const char *prefix, unsigned i)
{
	char id[32];
	uint8_t body[64];
	snprintf(id, sizeof id, "%s-%u", prefix, i);
	size_t len = s_envelope(body, sizeof body, twp, id);
	return s_lookup(j, twp, id, body, len);
}

static void
s_copy(const char *from, const char *to)
{
	char *cmd;
	assert_true(asprintf(&cmd, "cp '%s' '%s'", from, to) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* ids.mdb is derived from the journal and never flushed, so it is built
 * anew from the events whenever it cannot be trusted: missing (a journal
 * from before it, whose own index is then emptied), left open by a machine
 * that went down (its marker names another boot), or holding keys of
 * events the journal lost. Every key is found again with its seq. */
static void
test_ids_built_anew(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), path[512], saved[512];
	struct journal *j;
	MDB_txn *txn;
	MDB_dbi old;
	MDB_stat st;
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	assert_int_equal(s_append_envelopes(j, "320123101000", "a", 3), 3);
	journal_close(&j);

	/* Missing, with an old index inside journal.mdb. */
	snprintf(path, sizeof path, "%s/ids.mdb", dir);
	assert_int_equal(unlink(path), 0);
	MDB_env *env;
	snprintf(path, sizeof path, "%s/journal.mdb", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "ids", 0, &old), 0);
	MDB_val k = { 5, "x\0old" }, v = { 8, "\0\0\0\0\0\0\0\1" };
	assert_int_equal(mdb_put(txn, old, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	assert_non_null(journal_ids_rebuilt(j));
	assert_int_equal(journal_ids_read_back(j), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(s_lookup_envelope(j, "320123101000", "a", i), i + 1);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "ids", 0, &old), 0);
	assert_int_equal(mdb_stat(txn, old, &st), 0);
	assert_int_equal(st.ms_entries, 0);
	mdb_txn_abort(txn);
	journal_close(&j);

	/* Open when the machine went down: a writer that never closed, then
	 * another boot. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (journal_open(&j, dir, 1, 16, false))
			_exit(2);
		s_append_envelopes(j, "320123102000", "b", JOURNAL_IDS_BATCH + 1);
		_exit(journal_sync(j) ? 4 : 0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	setenv("JICENG_BOOT_ID", "0e0e0e0e-test-another-boot", 1);
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	unsetenv("JICENG_BOOT_ID");
	assert_non_null(strstr(journal_ids_rebuilt(j), "machine"));
	assert_int_equal(journal_ids_read_back(j), 3 + JOURNAL_IDS_BATCH + 1);
	assert_int_equal(s_lookup_envelope(j, "320123102000", "b", JOURNAL_IDS_BATCH), 3 + JOURNAL_IDS_BATCH + 1);
	journal_close(&j);

	/* Past the journal's end: the journal goes back to an older copy. */
	snprintf(saved, sizeof saved, "%s/journal.saved", dir);
	s_copy(path, saved);
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	assert_null(journal_ids_rebuilt(j));
	uint64_t end = s_append_envelopes(j, "320123103000", "c", JOURNAL_IDS_BATCH);
	journal_close(&j);
	s_copy(saved, path);
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	assert_non_null(strstr(journal_ids_rebuilt(j), "past the journal's end"));
	assert_int_equal(s_lookup_envelope(j, "320123103000", "c", 0), 0);  /* lost with the tail */
	assert_int_equal(s_lookup_envelope(j, "320123101000", "a", 2), 3);
	assert_true(end > 3 + JOURNAL_IDS_BATCH + 1);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* ids.mdb starts with the journal's map and doubles when full, in a group
 * commit (MDB_MAP_FULL, journal_grow, again: as jicengd does), in a
 * rebuild from the events and at a clean stop. */
static void
test_ids_map_grows(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), path[512];
	struct journal *j;
	enum { N = 20000 };
	unsigned grown = 0;
	assert_int_equal(journal_open(&j, dir, 1, 64, false), 0);
	for (unsigned i = 0; i < N; i++) {
		char id[48];
		uint8_t body[96];
		uint64_t seq;
		snprintf(id, sizeof id, "a-long-event-id-to-fill-pages-%06u", i);
		size_t len = s_envelope(body, sizeof body, "320123101000", id);
		for (int attempt = 0;; attempt++) {
			MDB_txn *txn;
			assert_true(attempt < 3);
			assert_int_equal(journal_write_begin(j, &txn), 0);
			assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", id, body, len, &seq), 0);
			int rc = journal_commit(j, txn);
			if (rc == 0)
				break;
			assert_int_equal(rc, MDB_MAP_FULL);
			assert_int_equal(journal_grow(j), 0);
			grown++;
		}
	}
	assert_true(grown > 0);
	assert_true(journal_ids_indexed(j) + journal_ids_pending(j) == N);
	journal_close(&j);

	snprintf(path, sizeof path, "%s/ids.mdb", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(journal_open(&j, dir, 1, 64, false), 0);
	assert_int_equal(journal_ids_read_back(j), N);
	journal_close(&j);  /* writes the N keys read back, growing the map */
	assert_int_equal(journal_open(&j, dir, 1, 64, false), 0);
	assert_int_equal(journal_ids_read_back(j), 0);
	assert_int_equal(journal_ids_indexed(j), N);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* journal_append trusts its caller's lookup and does not search the index
 * again. A key appended twice all the same keeps its first seq, and the
 * batch that carries the second does not fail (it would fail every commit
 * after it). */
static void
test_append_indexed_key_keeps_first_seq(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq;
	MDB_txn *txn;
	char id[32];
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	s_append(j, "320123101000", "twice", "first", &seq);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 1, 16, false), 0);
	assert_int_equal(s_indexed(j), 1);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", "twice", (const uint8_t *)"again", 5, &seq), 0);
	assert_int_equal(seq, 2);
	for (unsigned i = 1; i < JOURNAL_IDS_BATCH; i++) {
		snprintf(id, sizeof id, "t-%04u", i);
		assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", id, (const uint8_t *)"t", 1, &seq), 0);
	}
	assert_int_equal(journal_commit(j, txn), 0);
	assert_int_equal(s_indexed(j), JOURNAL_IDS_BATCH);
	assert_int_equal(s_lookup(j, "320123101000", "twice", (const uint8_t *)"first", 5), 1);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* The writer's table of pending keys on its own: growth past its first
 * hash size, marks, rollback and drop. */
static void
test_pending_ids_table(void **state)
{
	(void)state;
	struct pending_ids *p = pending_ids_new();
	char key[32];
	assert_non_null(p);
	for (unsigned i = 1; i <= 5000; i++) {
		int n = snprintf(key, sizeof key, "%s%c%u", i % 3 ? "t1" : "t2", 0, i);
		assert_int_equal(pending_ids_add(p, key, (size_t)n, i), 0);
	}
	assert_int_equal(pending_ids_count(p), 5000);
	int n = snprintf(key, sizeof key, "t2%c%u", 0, 4998);
	assert_int_equal(pending_ids_find(p, key, (size_t)n), 4998);
	assert_int_equal(pending_ids_find(p, key, (size_t)n - 1), 0);
	n = snprintf(key, sizeof key, "t1%c%u", 0, 4998);
	assert_int_equal(pending_ids_find(p, key, (size_t)n), 0);
	/* t1 holds 3334 entries from seq 1, t2 1666 from seq 3. */
	assert_int_equal(pending_ids_mark_due(p, 5000, 5000, 5000, false), 0);
	assert_int_equal(pending_ids_mark_due(p, 3000, 5000, 5000, false), 3334);
	assert_int_equal(pending_ids_oldest_unmarked(p), 3);
	pending_ids_rollback(p, 4000);
	assert_int_equal(pending_ids_count(p), 4000);
	assert_int_equal(pending_ids_oldest_unmarked(p), 1);
	assert_int_equal(pending_ids_mark_due(p, 5000, 4000, 3998, false), 2667);  /* t1 by lag */
	assert_int_equal(pending_ids_oldest_unmarked(p), 3);
	pending_ids_drop_marked(p);
	assert_int_equal(pending_ids_count(p), 1333);
	const char *k;
	size_t len;
	uint64_t seq;
	bool marked;
	pending_ids_entry(p, 0, &k, &len, &seq, &marked);
	assert_int_equal(seq, 3);
	assert_false(marked);
	assert_int_equal(pending_ids_find(p, k, len), 3);
	n = snprintf(key, sizeof key, "t1%c%u", 0, 1);
	assert_int_equal(pending_ids_find(p, key, (size_t)n), 0);
	assert_int_equal(pending_ids_mark_due(p, 5000, 4000, 5000, true), 1333);
	pending_ids_drop_marked(p);
	assert_int_equal(pending_ids_count(p), 0);
	assert_int_equal(pending_ids_oldest_unmarked(p), 0);
	pending_ids_free(p);
}

/* ---------------------------------------------------------- filling ahead */

static uint64_t
s_file_size(const char *dir)
{
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof path, "%s/journal.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	return (uint64_t)sb.st_size;
}

static uint64_t
s_used_bytes(struct journal *j)
{
	MDB_envinfo info;
	MDB_stat st;
	mdb_env_info(journal_env(j), &info);
	mdb_env_stat(journal_env(j), &st);
	return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

/* Wait (at most 10 s) until the file holds at least want bytes past the
 * last page. */
static bool
s_wait_ahead(struct journal *j, const char *dir, uint64_t want)
{
	for (int i = 0; i < 1000; i++) {
		if (s_file_size(dir) >= s_used_bytes(j) + want)
			return true;
		usleep(10000);
	}
	return false;
}

/* The body of event i: its length varies from a few bytes to several
 * pages, so that commits move the end of the file by uneven steps. */
static size_t
s_tail_body(unsigned i, uint8_t *buf, size_t cap)
{
	size_t n = 16 + (i * 7919u) % (i % 16 == 0 ? 40000u : 900u);
	if (n > cap)
		n = cap;
	for (size_t k = 0; k < n; k++)
		buf[k] = (uint8_t)(i * 31u + k * 7u + 1u);
	return n;
}

static void
test_tail_filled_ahead(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq, written;
	int err;
	assert_int_equal(journal_open(&j, dir, 64, 64, false), 0);
	assert_false(journal_tail_stats(j, &written, &err));
	int rc = journal_tail_start(j, 4u << 20);
	if (rc == EINVAL) {
		journal_close(&j);
		unit_tmpdir_remove(dir);
		skip();  /* no O_DIRECT where TMPDIR is */
	}
	assert_int_equal(rc, 0);
	/* No zero is written while a write transaction is open. */
	MDB_txn *txn;
	assert_int_equal(journal_write_begin(j, &txn), 0);
	uint64_t held_size = s_file_size(dir);
	usleep(300000);
	assert_int_equal(s_file_size(dir), held_size);
	assert_int_equal(journal_append(j, txn, 1700000000000, 10, "320123101000", "a",
	    (const uint8_t *)"hello", 5, &seq), 0);
	assert_int_equal(journal_commit(j, txn), 0);
	assert_true(s_wait_ahead(j, dir, 4u << 20));
	/* Once filled, a small commit writes over zeros: the size stays. */
	uint64_t before = s_file_size(dir);
	s_append(j, "320123101000", "b", "world", &seq);
	assert_int_equal(s_file_size(dir), before);
	assert_true(journal_tail_stats(j, &written, &err));
	assert_true(written >= (4u << 20));
	assert_int_equal(err, 0);
	/* Never past the map: 64 MiB here, asked for 4 GiB ahead. */
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 64, 64, false), 0);
	assert_int_equal(journal_tail_start(j, 4096ull << 20), 0);
	assert_true(s_wait_ahead(j, dir, 32u << 20));
	for (int i = 0; i < 100 && s_file_size(dir) < (64u << 20); i++)
		usleep(20000);
	assert_int_equal(s_file_size(dir), 64u << 20);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* Zeros land only where LMDB never wrote: many commits while the thread
 * tops up a small tail all the time, then every event is read back. */
static void
test_tail_never_overwrites(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	static uint8_t body[48000];
	uint64_t seq;
	MDB_txn *txn;
	const unsigned n = 3000;
	assert_int_equal(journal_open(&j, dir, 256, 256, false), 0);
	int rc = journal_tail_start(j, 1);  /* one chunk, topped up at half */
	if (rc == EINVAL) {
		journal_close(&j);
		unit_tmpdir_remove(dir);
		skip();
	}
	assert_int_equal(rc, 0);
	for (unsigned i = 1; i <= n; i++) {
		char id[16];
		snprintf(id, sizeof id, "e%u", i);
		size_t len = s_tail_body(i, body, sizeof body);
		assert_int_equal(journal_write_begin(j, &txn), 0);
		assert_int_equal(journal_append(j, txn, 1700000000000, 10, "320123101000", id, body, len,
		    &seq), 0);
		assert_int_equal(journal_commit(j, txn), 0);
		assert_int_equal(seq, i);
	}
	uint64_t written;
	int err;
	assert_true(journal_tail_stats(j, &written, &err));
	assert_int_equal(err, 0);
	assert_true(written > 0);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, 256, 256, true), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	for (unsigned i = 1; i <= n; i++) {
		struct journal_record rec;
		size_t len = s_tail_body(i, body, sizeof body);
		assert_int_equal(journal_get(j, txn, i, &rec), 0);
		assert_int_equal(rec.envelope_len, len);
		assert_memory_equal(rec.envelope, body, len);
	}
	mdb_txn_abort(txn);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* A chunk that cannot be written (here: past RLIMIT_FSIZE, as a full disk
 * would) stops the filling and is reported; commits go on, appending. In a
 * child, for the limit is the process's. */
static void
test_tail_stops_on_error(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct journal *j;
		uint64_t seq, written = 0;
		int err = 0;
		if (journal_open(&j, dir, 64, 64, false))
			_exit(2);
		s_append(j, "320123101000", "first", "hello", &seq);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit lim = { s_file_size(dir) + (512u << 10), RLIM_INFINITY };
		if (setrlimit(RLIMIT_FSIZE, &lim) || journal_tail_start(j, 8u << 20))
			_exit(3);
		for (int i = 0; i < 500 && !err; i++) {
			usleep(10000);
			journal_tail_stats(j, &written, &err);
		}
		if (!err || written == 0 || written > (512u << 10))
			_exit(4);
		for (unsigned i = 0; i < 20; i++) {
			char id[16];
			snprintf(id, sizeof id, "after-%u", i);
			s_append(j, "320123101000", id, "world", &seq);
		}
		_exit(seq == 21 && journal_sync(j) == 0 ? 0 : 5);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	unit_tmpdir_remove(dir);
}

/* A standby's journal: each primary record appended by
 * journal_append_mirrored is the same stored bytes at the same seq, its
 * key in the dedupe index (a resend is found, with its seq), and a record
 * that is not the next seq or does not parse is refused. */
static void
test_append_mirrored(void **state)
{
	(void)state;
	char *pdir = unit_tmpdir(), *sdir = unit_tmpdir();
	struct journal *p, *s;
	uint8_t body[64], *copy;
	uint64_t seq;
	bool same;
	MDB_txn *pt, *st;
	struct journal_record pr, sr;
	size_t len = s_envelope(body, sizeof body, "320123101000", "m-1");
	assert_int_equal(journal_open(&p, pdir, 1, 4, false), 0);
	assert_int_equal(journal_open(&s, sdir, 1, 4, false), 0);
	assert_int_equal(journal_write_begin(p, &pt), 0);
	assert_int_equal(journal_append(p, pt, 1700000000123, 10, "", NULL, (const uint8_t *)"tick", 4, &seq), 0);
	assert_int_equal(journal_append(p, pt, 1700000000456, 12, "320123101000", "m-1", body, len, &seq), 0);
	assert_int_equal(journal_commit(p, pt), 0);
	assert_int_equal(journal_read_begin(p, &pt), 0);
	assert_int_equal(journal_write_begin(s, &st), 0);
	for (uint64_t q = 1; q <= 2; q++) {
		assert_int_equal(journal_get(p, pt, q, &pr), 0);
		assert_int_equal(journal_append_mirrored(s, st, q + 1, pr.raw, pr.raw_len), EINVAL);
		assert_int_equal(journal_append_mirrored(s, st, q, pr.raw, pr.raw_len), 0);
	}
	assert_int_equal(journal_append_mirrored(s, st, 3, (const uint8_t *)"short", 5), MDB_CORRUPTED);
	assert_non_null(copy = malloc(pr.raw_len));
	memcpy(copy, pr.raw, pr.raw_len);
	copy[pr.raw_len - len] ^= 0xff;  /* the envelope's first tag: no longer an Envelope */
	assert_int_equal(journal_append_mirrored(s, st, 3, copy, pr.raw_len), MDB_CORRUPTED);
	free(copy);
	assert_int_equal(journal_commit(s, st), 0);
	assert_int_equal(journal_read_begin(s, &st), 0);
	for (uint64_t q = 1; q <= 2; q++) {
		assert_int_equal(journal_get(p, pt, q, &pr), 0);
		assert_int_equal(journal_get(s, st, q, &sr), 0);
		assert_int_equal(sr.raw_len, pr.raw_len);
		assert_memory_equal(sr.raw, pr.raw, pr.raw_len);
	}
	assert_int_equal(journal_get(s, st, 3, &sr), MDB_NOTFOUND);
	mdb_txn_abort(st);
	mdb_txn_abort(pt);
	assert_int_equal(journal_write_begin(s, &st), 0);
	assert_int_equal(journal_lookup_id(s, st, "320123101000", "m-1", body, len, &seq, &same), 0);
	assert_int_equal(seq, 2);
	assert_true(same);
	journal_write_abort(s, st);
	journal_close(&s);
	journal_close(&p);
	unit_tmpdir_remove(sdir);
	unit_tmpdir_remove(pdir);
}

int
unit_journal(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_read_dedupe),
		
		cmocka_unit_test(test_quarantine_meta_reopen),
		cmocka_unit_test(test_map_full_and_grow),
		cmocka_unit_test(test_durable_end),
		cmocka_unit_test(test_ids_batches),
		cmocka_unit_test(test_ids_recovered_after_crash),
		cmocka_unit_test(test_append_indexed_key_keeps_first_seq),
		cmocka_unit_test(test_ids_built_anew),
		cmocka_unit_test(test_ids_map_grows),
		cmocka_unit_test(test_append_mirrored),
		cmocka_unit_test(test_pending_ids_table),
		cmocka_unit_test(test_tail_filled_ahead),
		cmocka_unit_test(test_tail_never_overwrites),
		cmocka_unit_test(test_tail_stops_on_error),
	};
	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
