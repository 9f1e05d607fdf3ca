/*
 * fold: apply the journal to one domain's state environment, in seq order,
 * in batched write transactions that carry the cursor and verdicts with the
 * state they changed. The worker loop and `jicengctl rebuild` both use it.
 *
 * A state environment holds: the membership tables, the domain's own tables,
 * `meta` (cursor), `verdicts` (seq -> packed Ack, for events the domain owns)
 * and `counts` (for stats and metrics: "event:<kind>:accepted|rejected",
 * "rejected:<code>", "warning:<code>" -> u64 BE count).
 */
#ifndef JICENG_FOLD_H
#define JICENG_FOLD_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "journal.h"

struct fold;

/* Events per write transaction in the worker. Its cursor is reported, and
 * acks become due, after each one: small keeps ack latency low, and the
 * commits are cheap (no fsync: the journal is the durable copy). */
#define FOLD_BATCH 128

/* The clause jicengd adds to a quarantine when a worker crashed on the
 * event again after skipping its own part: every worker skips it then. */
#define FOLD_QUARANTINE_SHARED "again without its own part: in the part all workers share"

/* Called for each change-log entry (a packed StatusChange of seq) after
 * its batch commits, in (seq, index) order. */
typedef void (*fold_status_fn)(void *arg, uint64_t seq, const void *packed,
    size_t len);

/* The state file of domain d: DERIVED_DIR/state/<domain>.mdb. */
void fold_state_path(const char *derived_dir, enum domain d, char *out, size_t len);

/* Open (creating) the state environment at path (a file, MDB_NOSUBDIR) for
 * domain d, reading journal j. Returns 0 or an LMDB/errno code. */
int fold_open(struct fold **out, struct journal *j, enum domain d,
    const char *path, const struct config *cfg);
void fold_destroy(struct fold **f);

/* Apply journal events after the cursor, at most max_events of them, in
 * transactions of at most batch events. single_step applies one event per
 * transaction (used after repeated crashes, to find the poison event).
 * *applied receives the number applied. Returns 0 or an LMDB error. */
int fold_step(struct fold *f, unsigned max_events, unsigned batch,
    bool single_step, unsigned *applied);

/* The last applied seq. */
uint64_t fold_cursor(struct fold *f);
/* Register the status-change callback (membership worker). */
void fold_on_status(struct fold *f, fold_status_fn fn, void *arg);

/* Growing a full state map unmaps and maps it again, so no other thread of
 * this process may read the env meanwhile: fn(arg, true) is called before
 * (it returns once such readers are out), fn(arg, false) after. */
typedef void (*fold_remap_fn)(void *arg, bool before);
void fold_on_remap(struct fold *f, fold_remap_fn fn, void *arg);
/* The state env, for a reading thread that honours fold_on_remap
 * (checkpoint.c). */
MDB_env *fold_env(struct fold *f);

/* Rebuild: apply the whole journal at journal_dir to a new environment that
 * replaces state_path (and its lock file) atomically when done. progress
 * (may be NULL) is called after every 20 000 events with the events done
 * and the total. With guard, *guard receives a descriptor that keeps other
 * processes out of the new lock file until the caller has opened state_path
 * with fold_open; close it only after that environment is closed (closing
 * it drops all of this process's locks on the lock file, LMDB's too).
 * Returns 0 or -1 with a message in err. */
typedef void (*fold_progress_fn)(void *arg, uint64_t done, uint64_t total);
int fold_rebuild(const char *journal_dir, const char *state_path,
    enum domain d, const struct config *cfg, int *guard, fold_progress_fn progress,
    void *arg, char *err, size_t errlen);

/* A state file's open marker (store_marker_*, store.h): the state env is
 * written without flushes (the journal replays it), which a killed process
 * never notices but a machine that goes down can tear: a marker left by
 * another boot means rebuild. */

/* Read side of a state environment, for the processes that read it
 * (jicengd's acks and supervision, the query server, tests). */

/* The stored verdict of seq: *packed points at the packed Ack in the map,
 * valid until txn ends. Returns 0, MDB_NOTFOUND, or an LMDB error. */
int fold_verdict_get(MDB_txn *txn, MDB_dbi verdicts, uint64_t seq, MDB_val *packed);
/* The same, unpacked; free with jiceng__v1__ack__free_unpacked. */
int fold_read_verdict(MDB_txn *txn, MDB_dbi verdicts, uint64_t seq, Ack **ack);
/* The committed cursor (0 before the first commit). Returns 0 or an LMDB
 * error other than MDB_NOTFOUND. */
int fold_cursor_get(MDB_txn *txn, MDB_dbi meta, uint64_t *cursor);

#endif
