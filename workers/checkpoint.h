/*
 * checkpoint: copies of a worker's state environment on the journal's
 * disk, so that a state kept in memory (derived_dir on a tmpfs) costs a
 * restore and the journal's tail after a reboot, not the whole journal.
 *
 * In checkpoint_dir (default data_dir/checkpoint), per domain:
 *   <domain>.mdb   the env, compacted (MDB_CP_COMPACT): one sequential
 *                  stream, written past the page cache where the file
 *                  system allows it (O_DIRECT, as mdb_env_copy2 does)
 *   <domain>.seal  what it was taken from: the domain, its cursor, and a
 *                  digest of the journal's stored record at that cursor
 * Each is written as <name>.tmp, flushed and renamed, then the directory is
 * flushed. A .tmp left by a killed worker is removed when it starts again.
 *
 * A worker's checkpoint thread takes one every checkpoint_interval_s when
 * the cursor has moved, at nice +10, from a read transaction of the live
 * env, while the worker's main thread goes on applying. A worker whose
 * state file is missing restores the checkpoint if it fits the journal:
 * its cursor is within the journal, and the journal's record at that
 * cursor is the one it was taken after. A journal restored from an older
 * backup fails the first; one that lost its last commit with the machine
 * and has grown again since fails the second. A checkpoint that does not
 * fit is removed, and the journal applied from the start.
 *
 * Only when derived_dir is not data_dir: state beside the journal
 * outlives a reboot anyway.
 */
#ifndef JICENG_CHECKPOINT_H
#define JICENG_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "fold.h"
#include "journal.h"

#define CHECKPOINT_DIGEST_LEN 16
#define CHECKPOINT_SEAL_MAX 256

struct checkpoint;

/* What a seal says. */
struct checkpoint_seal {
	enum domain domain;
	uint64_t cursor;
	uint8_t record[CHECKPOINT_DIGEST_LEN];   /* the journal's record at cursor */
};

/* Are checkpoints taken and restored under cfg: an interval, and a
 * derived_dir that is not the data_dir? */
bool checkpoint_enabled(const struct config *cfg);

/* DIR/<domain>.mdb and DIR/<domain>.seal (each of size len). */
void checkpoint_paths(const char *dir, enum domain d, char *mdb, char *seal, size_t len);

/* A seal's text into out (CHECKPOINT_SEAL_MAX bytes): its length. */
size_t checkpoint_seal_format(const struct checkpoint_seal *s, char *out, size_t len);
/* Parse a seal's text: 0, or -1 when it is not one this build writes. */
int checkpoint_seal_parse(const char *text, struct checkpoint_seal *s);

/* BLAKE2b-128 of the journal's stored record at seq (header and envelope),
 * in a read transaction of its own. Returns 0 or an LMDB error. */
int checkpoint_record_digest(struct journal *j, uint64_t seq, uint8_t out[CHECKPOINT_DIGEST_LEN]);

/* Restore domain d's checkpoint into the missing state file at path, if it
 * fits journal j (above); else it is removed. progress (may be NULL) is
 * called between chunks of the copy with the bytes copied and the total.
 * Returns true with the restored state's cursor in *cursor, false when
 * there was none or it was not used (the reason logged). */
bool checkpoint_restore(const struct config *cfg, enum domain d, struct journal *j,
    const char *state, fold_progress_fn progress, void *arg, uint64_t *cursor);

/* Remove domain d's checkpoint: `jicengctl rebuild` recomputes the state,
 * and a checkpoint taken before must not bring the old one back. Returns
 * 1 removed, 0 there was none, -1 with errno. */
int checkpoint_discard(const struct config *cfg, enum domain d);

/* The worker's checkpoint thread, on fold f (which it registers with
 * fold_on_remap); the previous checkpoint's .tmp files are removed first.
 * Returns 0, or an errno (logged; the worker runs without). */
int checkpoint_start(struct checkpoint **out, const struct config *cfg, enum domain d,
    struct fold *f);
/* From the worker's loop, after each step: the cursor, and the digest of
 * a journal record when the thread waits for one (only the main thread
 * reads journal j). NULL cp: nothing. */
void checkpoint_tick(struct checkpoint *cp, struct journal *j, uint64_t cursor);
/* Stop the thread: a copy under way is abandoned and its .tmp removed.
 * Before the fold is destroyed. */
void checkpoint_stop(struct checkpoint **cp);

#endif
