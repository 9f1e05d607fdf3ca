/*
 * journal: the ordered, durable log of accepted envelopes (journal.mdb).
 * jicengd is its only writer; workers, the query server and rebuild read it
 * in read-only transactions on the shared map.
 *
 * Databases:
 *   events      seq (u64 big-endian) -> record header + envelope bytes
 *   quarantine  seq -> reason text (events every worker answers INTERNAL_ERROR)
 *   meta        "rules" -> packed Rules in force; "counters" -> broker
 *               counters
 *   ids         empty (journals from before ids.mdb kept the index here)
 * The writer's dedupe index, township_id "\0" event_id -> seq, is ids.mdb,
 * beside it or in derived_dir: derived from the events, never flushed
 * (journal.c says why and how it is kept honest); its newest keys wait in
 * the writer's memory.
 *
 * The journal env never uses MDB_WRITEMAP (a full disk would be SIGBUS).
 * Durability (the writer's env is MDB_NOMETASYNC): a commit flushes its data
 * pages but not its meta page, so it is on disk only once the next commit's
 * flush or journal_sync has run. One device flush per group commit instead
 * of two; a crash of the machine (not of the process) in between undoes that
 * last commit whole. journal_durable_end says how far acks may go.
 */
#ifndef JICENG_JOURNAL_H
#define JICENG_JOURNAL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

/* The ids index takes a township's keys this many at a time (about a leaf
 * page's worth), and no key waits for its batch longer than MAX_LAG seqs. */
#define JOURNAL_IDS_BATCH 32
#define JOURNAL_IDS_MAX_LAG 4096

/* One journaled event. In journal_get, pointers refer into the LMDB map and
 * are valid only until the read transaction ends. */
struct journal_record {
	uint64_t seq;
	int64_t received_at;        /* broker time, Unix ms */
	uint32_t kind;              /* EventCase */
	const char *township_id;    /* NUL-terminated */
	const uint8_t *envelope;    /* packed Envelope */
	size_t envelope_len;
	const uint8_t *raw;         /* the whole stored value: header + envelope */
	size_t raw_len;
};

/* The writer: keep ahead bytes of zeros written past journal.mdb's last
 * page (filltail.h), so that a group commit's flush writes no new blocks
 * and no new size. 0 with nothing started for ahead 0 or a reader; an
 * errno (EINVAL: no O_DIRECT on this file system) and nothing started. */
int journal_tail_start(struct journal *j, uint64_t ahead);
/* false when not started; else the bytes written so far and the errno
 * that stopped it (or 0). */
bool journal_tail_stats(struct journal *j, uint64_t *written, int *error);

/* Open dir/journal.mdb (dir and file created if absent unless readonly).
 * map_mb is the initial map size; the writer may grow it up to max_mb.
 * Returns 0 or an LMDB/errno code. */
int journal_open(struct journal **out, const char *dir, uint64_t map_mb,
    uint64_t max_mb, bool readonly);
/* The same with the writer's ids.mdb in ids_dir (created if absent) rather
 * than dir: derived_dir, which may be another disk or a tmpfs. */
int journal_open_at(struct journal **out, const char *dir, const char *ids_dir,
    uint64_t map_mb, uint64_t max_mb, bool readonly);
void journal_close(struct journal **j);
MDB_env *journal_env(struct journal *j);

/* Read side. Begin a read transaction, adopting a map grown by the writer
 * (MDB_MAP_RESIZED is handled here). */
int journal_read_begin(struct journal *j, MDB_txn **txn);
/* The record at seq: 0, MDB_NOTFOUND, or an LMDB error (MDB_CORRUPTED for a
 * record too short to hold its header). */
int journal_get(struct journal *j, MDB_txn *txn, uint64_t seq,
    struct journal_record *out);
/* The last seq (0 when empty). */
int journal_last_seq(struct journal *j, MDB_txn *txn, uint64_t *seq);
/* The same in a read transaction of its own. */
int journal_end(struct journal *j, uint64_t *seq);
/* Is seq quarantined? 0 with *reason set (pointer into the map), MDB_NOTFOUND,
 * or an LMDB error. */
int journal_quarantined(struct journal *j, MDB_txn *txn, uint64_t seq,
    const char **reason);
/* All quarantined seqs, at most max: returns how many were stored. */
unsigned journal_quarantine_list(struct journal *j, MDB_txn *txn,
    uint64_t *seqs, char (*reasons)[128], unsigned max);
/* Look up (township, event_id): 0 with its seq and *same telling whether
 * the journaled envelope is byte for byte this one, MDB_NOTFOUND, or an
 * LMDB error. The writer's, in its write transaction (a reader has no
 * index: MDB_NOTFOUND). */
int journal_lookup_id(struct journal *j, MDB_txn *txn, const char *township,
    const char *event_id, const uint8_t *envelope, size_t len, uint64_t *seq, bool *same);
/* A meta value by name (pointer into the map): 0, MDB_NOTFOUND, or error. */
int journal_meta_get(struct journal *j, MDB_txn *txn, const char *name,
    const void **val, size_t *len);
/* The received_at of the first event at or after time t (for rates):
 * counts events with received_at >= t by scanning back from the end, at
 * most max. */
uint64_t journal_count_since(struct journal *j, MDB_txn *txn, int64_t t,
    uint64_t max);

/* Write side (jicengd only). journal_write_begin starts a write txn, which
 * ends in journal_commit or journal_write_abort (a bare mdb_txn_abort keeps
 * the journal's tail filling paused until the next commit). */
int journal_write_begin(struct journal *j, MDB_txn **txn);
void journal_write_abort(struct journal *j, MDB_txn *txn);
/* Append one record with the next seq and its key (township, event_id),
 * which the caller has just looked up in this transaction and not found
 * (journal_lookup_id: the index is not searched again). Events jicengd
 * writes itself have township "" and event_id NULL (EINVAL for one without
 * the other). *seq receives the new seq. Returns 0, MDB_KEYEXIST for a key
 * among those not yet in the index, or an LMDB error (MDB_MAP_FULL: see
 * journal_grow). */
int journal_append(struct journal *j, MDB_txn *txn, int64_t received_at,
    uint32_t kind, const char *township, const char *event_id,
    const uint8_t *envelope, size_t len, uint64_t *seq);
/* Append a record another journal holds (a standby following the
 * primary's mirror), as seq: record is that journal's stored value
 * (journal_record.raw), header and envelope, written byte for byte by the
 * same path as journal_append, its key into the dedupe index as there.
 * Returns 0, EINVAL when seq is not the next seq, MDB_CORRUPTED when the
 * record does not parse (a short header, or an envelope that does not
 * unpack), or what journal_append returns. */
int journal_append_mirrored(struct journal *j, MDB_txn *txn, uint64_t seq,
    const uint8_t *record, size_t len);
int journal_quarantine(struct journal *j, MDB_txn *txn, uint64_t seq,
    const char *reason);
int journal_meta_put(struct journal *j, MDB_txn *txn, const char *name,
    const void *val, size_t len);
/* Remove a meta value: 0, MDB_NOTFOUND, or an LMDB error. */
int journal_meta_del(struct journal *j, MDB_txn *txn, const char *name);
/* Replace the envelope of the record at seq, keeping its time, kind and
 * township (its key stays: a resend is compared with the new bytes). For
 * jicengctl scrub-ids, offline. Returns 0, MDB_NOTFOUND, or an LMDB error. */
int journal_rewrite(struct journal *j, MDB_txn *txn, uint64_t seq,
    const uint8_t *envelope, size_t len);
/* Commit: data pages flushed before return, which also makes the previous
 * commit durable; this one's meta page waits for the next flush. */
int journal_commit(struct journal *j, MDB_txn *txn);
/* Flush what journal_commit left pending (no-op when nothing is). Once a
 * flush or a commit failed with EIO it fails for good: reopen the journal. */
int journal_sync(struct journal *j);
/* Has a commit happened since the last flush that covers it? */
bool journal_sync_pending(struct journal *j);
/* Writer only: the last seq committed, and the last known to be on disk. */
uint64_t journal_committed_end(struct journal *j);
uint64_t journal_durable_end(struct journal *j);
/* Writer only: keys not yet in the ids index, and keys in it. */
size_t journal_ids_pending(struct journal *j);
size_t journal_ids_indexed(struct journal *j);
/* Writer only: keys journal_open read back from the events, and why it
 * built ids.mdb anew (NULL: it did not). */
size_t journal_ids_read_back(struct journal *j);
const char *journal_ids_rebuilt(struct journal *j);
/* Writer only: the first seq of the last commit (0 before any). */
uint64_t journal_latest_commit_first(struct journal *j);
/* Offline, with no process holding dir/journal.mdb open: replace it with a
 * compact copy, whose file holds no free pages (and so none of the bytes of
 * records rewritten or deleted). *before and *after get the file sizes.
 * Returns 0 or an errno / LMDB code; on failure the journal is unchanged. */
int journal_compact(const char *dir, uint64_t *before, uint64_t *after);
/* Double the map (up to max_mb) after MDB_MAP_FULL, with no transaction
 * open in this process; the writer's ids.mdb map too. Returns 0, or
 * MDB_MAP_FULL when the journal is already at max and ids.mdb could not
 * grow. */
int journal_grow(struct journal *j);
/* Current map size in bytes. */
uint64_t journal_map_size(struct journal *j);

#endif
