/*
 * Unit tests of the journal: append and read back, dedupe index,
 * quarantine, meta, reopen, growth on a full map.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "journal.h"

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
	/* The same event id in two townships are two events; a lookup tells
	 * whether the journaled envelope is the same bytes. */
	assert_int_equal(journal_lookup_id(r, txn, "320123101000", "a", (const uint8_t *)"hello", 5, &seq, &same), 0);
	assert_int_equal(seq, 1);
	assert_true(same);
	assert_int_equal(journal_lookup_id(r, txn, "320123101000", "a", (const uint8_t *)"hellO", 5, &seq, &same), 0);
	assert_false(same);
	assert_int_equal(journal_lookup_id(r, txn, "320123101000", "a", (const uint8_t *)"hell", 4, &seq, &same), 0);
	assert_false(same);
	assert_int_equal(journal_lookup_id(r, txn, "320123101000", "a", (const uint8_t *)"hello!", 6, &seq, &same), 0);
	assert_false(same);
	assert_int_equal(journal_lookup_id(r, txn, "320123102000", "a", (const uint8_t *)"world", 5, &seq, &same), 0);
	assert_int_equal(seq, 2);
	assert_true(same);
	assert_int_equal(journal_lookup_id(r, txn, "320123103000", "a", (const uint8_t *)"world", 5, &seq, &same), MDB_NOTFOUND);
	mdb_txn_abort(txn);
	/* A second append under an existing id is refused by the index. */
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", "a",
	    (const uint8_t *)"x", 1, &seq), MDB_KEYEXIST);
	mdb_txn_abort(txn);
	journal_close(&r);
	journal_close(&j);
	unit_tmpdir_remove(dir);
}

/* Journals written before the ids index held the seq alone carry the
 * envelope's SHA-256 after it: a resend is still told from a reused id.
 * The record's bytes here differ from the digested ones on purpose, so
 * that a lookup comparing the record instead of the digest fails. */
static void
test_lookup_legacy_digest(void **state)
{
	(void)state;
	char *dir = unit_tmpdir();
	struct journal *j;
	uint64_t seq;
	bool same = true;
	MDB_txn *txn;
	MDB_dbi ids;
	uint8_t value[8 + crypto_hash_sha256_BYTES] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	MDB_val key = { sizeof "320123101000" + 3, "320123101000\0old" }, val = { sizeof value, value };
	crypto_hash_sha256(value + 8, (const uint8_t *)"legacy", 6);
	assert_int_equal(journal_open(&j, dir, 1, 4, false), 0);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(journal_append(j, txn, 1, 10, "320123101000", NULL, (const uint8_t *)"record", 6, &seq), 0);
	assert_int_equal(mdb_dbi_open(txn, "ids", 0, &ids), 0);
	assert_int_equal(mdb_put(txn, ids, &key, &val, 0), 0);
	assert_int_equal(journal_commit(j, txn), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "old", (const uint8_t *)"legacy", 6, &seq, &same), 0);
	assert_int_equal(seq, 1);
	assert_true(same);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "old", (const uint8_t *)"record", 6, &seq, &same), 0);
	assert_false(same);
	mdb_txn_abort(txn);
	/* Any other value size is a damaged index, not a miss. */
	val.mv_size = 12;
	assert_int_equal(journal_write_begin(j, &txn), 0);
	assert_int_equal(mdb_put(txn, ids, &key, &val, 0), 0);
	assert_int_equal(journal_lookup_id(j, txn, "320123101000", "old", (const uint8_t *)"legacy", 6, &seq, &same), MDB_CORRUPTED);
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

int
unit_journal(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_read_dedupe),
		cmocka_unit_test(test_lookup_legacy_digest),
		cmocka_unit_test(test_quarantine_meta_reopen),
		cmocka_unit_test(test_map_full_and_grow),
		cmocka_unit_test(test_durable_end),
	};
	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
