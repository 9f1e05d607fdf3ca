/*
 * journal: journal.mdb, its record layout and its read and write calls; and
 * the writer's dedupe index, ids.mdb.
 * Record value: received_at (8, BE) | kind (4, BE) | township length (1) |
 * township | NUL | packed Envelope.
 *
 * The dedupe index (township NUL event_id -> seq, 8 bytes BE) lives in its
 * own environment, ids.mdb, which is never flushed: a key is derived data
 * (the journal holds every event's key), and random event ids (UUIDv4s) put
 * each key on its own leaf page, which inside the journal's flushed commit
 * cost two thirds of the throughput. ids.mdb is committed right after the
 * journal, so it never holds a key of an event the journal lacks, except
 * after a machine crash, when its pages may also be torn: its open marker
 * (store_marker_*) then names another boot, and it is built anew from the
 * journal. meta "through" = W: every event up to W has its key there;
 * "top": the highest seq it holds a key of (above the journal's end: the
 * journal lost its tail, and ids.mdb is built anew).
 *
 * Keys go into the index a township's JOURNAL_IDS_BATCH at a time; until
 * then they wait in the writer's pending_ids, where lookups find them, never
 * longer than JOURNAL_IDS_MAX_LAG seqs. A writer opening the journal reads
 * the keys of the events after W back, writing them in chunks.
 *
 * Journals from before ids.mdb kept the index as the "ids" database of
 * journal.mdb; the first writer builds ids.mdb from the events and empties it.
 */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "be64.h"
#include "codec.h"
#include "filltail.h"
#include "pending_ids.h"
#include "store.h"

#define HDR_FIXED 13
#define IDS_REBUILD_CHUNK 65536  /* keys read back per ids.mdb transaction */
#define IDS_MAP_MIN (256ull << 20)  /* ids.mdb may grow to this, or the journal's max */

struct journal {
	MDB_env *env;
	MDB_dbi events;      /* seq -> record */
	MDB_dbi old_ids;     /* journal.mdb's "ids": before ids.mdb, emptied since */
	MDB_dbi quarantine;  /* seq -> reason */
	MDB_dbi meta;        /* name -> value */
	uint64_t map_size;   /* bytes */
	uint64_t max_size;   /* bytes */
	bool readonly;
	uint64_t txn_end;        /* last seq appended in the open write txn */
	uint64_t committed_end;  /* last seq of the last commit */
	uint64_t latest_first;   /* first seq of the last commit that appended */
	uint64_t durable_end;    /* last seq on disk */
	bool sync_pending;       /* the last commit's meta page is not flushed */
	bool io_failed;          /* a flush failed: what is on disk is unknown */
	struct pending_ids *pending;  /* writer: keys not in ids yet */
	bool pending_unsettled;  /* changed by a txn not known to have committed */
	MDB_env *ids_env;        /* writer: ids.mdb, the dedupe index (never flushed) */
	MDB_dbi ids, ids_meta;   /* township \0 event_id -> seq; "through", "top" */
	MDB_txn *ids_txn;        /* writer: open beside the journal's write txn */
	char ids_path[4096];
	uint64_t ids_map;        /* ids.mdb's map size, bytes */
	uint64_t ids_through;    /* every event up to it has its key in ids.mdb */
	uint64_t ids_top;        /* the highest seq with a key in ids.mdb */
	size_t ids_read_back;    /* keys read back from the events at open */
	const char *ids_rebuilt; /* why ids.mdb was built anew at open, or NULL */
	struct filltail *tail;   /* writer: zeros kept written past the last page */
	bool tail_held;          /* a write transaction holds it */
};

/* ---------------------------------------------------------- open/close */

static int
s_open_dbis(struct journal *j)
{
	MDB_txn *txn;
	unsigned flags = j->readonly ? 0 : MDB_CREATE;
	int rc = mdb_txn_begin(j->env, NULL, j->readonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_dbi_open(txn, "events", flags, &j->events)) ||
	    (rc = mdb_dbi_open(txn, "ids", flags, &j->old_ids)) ||
	    (rc = mdb_dbi_open(txn, "quarantine", flags, &j->quarantine)) ||
	    (rc = mdb_dbi_open(txn, "meta", flags, &j->meta))) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* township NUL event_id (no NUL after it); 0 when it does not fit. */
static size_t
s_id_key(char *buf, size_t cap, const char *township, const char *event_id)
{
	size_t t = strlen(township), e = strlen(event_id);
	if (t + 1 + e >= cap)
		return 0;
	memcpy(buf, township, t + 1);
	memcpy(buf + t + 1, event_id, e);
	return t + 1 + e;
}

/* ---------------------------------------------------------- ids.mdb */

static uint64_t
s_meta_u64(MDB_txn *txn, MDB_dbi dbi, const char *name)
{
	MDB_val key = { strlen(name), (void *)name }, val;
	return mdb_get(txn, dbi, &key, &val) == 0 && val.mv_size == 8 ? be64_get(val.mv_data) : 0;
}

static int
s_meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v)
{
	uint8_t b[8];
	be64_put(b, v);
	MDB_val key = { strlen(name), (void *)name }, val = { sizeof b, b };
	return mdb_put(txn, dbi, &key, &val, 0);
}

/* Open ids.mdb, emptied first when fresh. */
static int
s_ids_env_open(struct journal *j, bool fresh)
{
	char lock[4200];
	MDB_txn *txn;
	snprintf(lock, sizeof lock, "%s-lock", j->ids_path);
	if (fresh) {
		unlink(j->ids_path);
		unlink(lock);
	}
	int rc = mdb_env_create(&j->ids_env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(j->ids_env, 2);
	/* Its first map is the journal's; it doubles when full. */
	if ((rc = mdb_env_set_mapsize(j->ids_env, j->map_size)) ||
	    (rc = mdb_env_open(j->ids_env, j->ids_path, MDB_NOSUBDIR | MDB_NOSYNC, 0640)))
		goto fail;
	MDB_envinfo info;
	mdb_env_info(j->ids_env, &info);  /* an existing file may have a bigger map */
	j->ids_map = info.me_mapsize;
	if ((rc = mdb_txn_begin(j->ids_env, NULL, 0, &txn)))
		goto fail;
	if ((rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &j->ids)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &j->ids_meta))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	j->ids_through = s_meta_u64(txn, j->ids_meta, "through");
	j->ids_top = s_meta_u64(txn, j->ids_meta, "top");
	if ((rc = mdb_txn_commit(txn)) == 0)
		return 0;
fail:
	mdb_env_close(j->ids_env);
	j->ids_env = NULL;
	return rc;
}

/* The key of the event at seq, into the pending keys when ids.mdb lacks it. */
static int
s_recover_key(struct journal *j, MDB_txn *txn, MDB_txn *itxn, uint64_t seq)
{
	struct journal_record r;
	char kb[160];
	int rc = journal_get(j, txn, seq, &r);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (!r.township_id[0])
		return 0;  /* written by jicengd itself: no key */
	Envelope *e = codec_envelope_unpack(r.envelope, r.envelope_len);
	if (!e)
		return MDB_CORRUPTED;
	MDB_val key = { s_id_key(kb, sizeof kb, r.township_id, e->event_id), kb }, val;
	codec_envelope_free(e);
	if (key.mv_size == 0)
		return MDB_CORRUPTED;
	rc = mdb_get(itxn, j->ids, &key, &val);
	if (rc != MDB_NOTFOUND)
		return rc;
	j->ids_read_back++;
	return pending_ids_add(j->pending, kb, key.mv_size, seq);
}

/* Double ids.mdb's map, with no transaction of it open, up to the
 * journal's largest map. */
static int
s_ids_grow(struct journal *j)
{
	if (j->ids_map * 2 > (j->max_size > IDS_MAP_MIN ? j->max_size : IDS_MAP_MIN))
		return MDB_MAP_FULL;
	int rc = mdb_env_set_mapsize(j->ids_env, j->ids_map * 2);
	if (rc == 0)
		j->ids_map *= 2;
	return rc;
}

static int s_ids_put_all(struct journal *j, uint64_t through);

/* Every pending key into ids.mdb, which is then whole up to through. */
static int
s_ids_write_all(struct journal *j, uint64_t through)
{
	int rc;
	while ((rc = s_ids_put_all(j, through)) == MDB_MAP_FULL && (rc = s_ids_grow(j)) == 0)
		;
	return rc;
}

static int
s_ids_put_all(struct journal *j, uint64_t through)
{
	MDB_txn *txn = NULL;
	uint64_t top = j->ids_top;
	int rc = mdb_txn_begin(j->ids_env, NULL, 0, &txn);
	for (size_t i = 0; rc == 0 && i < pending_ids_count(j->pending); i++) {
		const char *k;
		size_t len;
		uint64_t seq;
		bool marked;
		uint8_t vb[8];
		pending_ids_entry(j->pending, i, &k, &len, &seq, &marked);
		be64_put(vb, seq);
		MDB_val key = { len, (void *)k }, val = { sizeof vb, vb };
		if ((rc = mdb_put(txn, j->ids, &key, &val, MDB_NOOVERWRITE)) == MDB_KEYEXIST)
			rc = 0;
		top = seq > top ? seq : top;
	}
	if (rc == 0 && (rc = s_meta_put_u64(txn, j->ids_meta, "through", through)) == 0 &&
	    (rc = s_meta_put_u64(txn, j->ids_meta, "top", top)) == 0)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	if (rc)
		return rc;
	pending_ids_mark_due(j->pending, 1, 0, 0, true);
	pending_ids_drop_marked(j->pending);
	j->ids_through = through;
	j->ids_top = top;
	return 0;
}

/* The keys of the events after ids.mdb's through, read back from the
 * journal: written in chunks when there are many (ids.mdb built anew), left
 * pending when few (the last writer stopped before their batches were due). */
static int
s_ids_read_back(struct journal *j)
{
	uint64_t seq = j->ids_through;
	int rc = 0;
	while (rc == 0 && seq < j->committed_end) {
		MDB_txn *txn, *itxn;
		if ((rc = journal_read_begin(j, &txn)))
			return rc;
		if ((rc = mdb_txn_begin(j->ids_env, NULL, MDB_RDONLY, &itxn)) == 0) {
			while (rc == 0 && seq < j->committed_end &&
			    pending_ids_count(j->pending) < IDS_REBUILD_CHUNK)
				rc = s_recover_key(j, txn, itxn, ++seq);
			mdb_txn_abort(itxn);
		}
		mdb_txn_abort(txn);
		if (rc == 0 && pending_ids_count(j->pending) >= IDS_REBUILD_CHUNK)
			rc = s_ids_write_all(j, seq);
	}
	return rc;
}

/* A journal from before ids.mdb: its own index is not read any more. */
static int
s_old_ids_empty(struct journal *j)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(j->env, NULL, 0, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_stat(txn, j->old_ids, &st)) == 0 && st.ms_entries > 0 &&
	    (rc = mdb_drop(txn, j->old_ids, 0)) == 0)
		return mdb_txn_commit(txn);
	mdb_txn_abort(txn);
	return rc;
}

/* The writer's ids.mdb: opened, or built anew when it cannot be trusted. */
static int
s_ids_open(struct journal *j, const char *dir)
{
	char boot[64], was[64];
	snprintf(j->ids_path, sizeof j->ids_path, "%s/ids.mdb", dir);
	store_boot_id(boot, sizeof boot);
	bool exists = access(j->ids_path, F_OK) == 0;
	if (exists && store_marker_stale(j->ids_path, boot, was, sizeof was))
		j->ids_rebuilt = "the machine went down while it was open";
	else if (!exists && j->committed_end > 0)
		j->ids_rebuilt = "it did not exist";
	/* Marked before anything is written, so that no write goes unmarked. */
	int rc = store_marker_set(j->ids_path, boot);
	if (rc == 0)
		rc = s_ids_env_open(j, j->ids_rebuilt != NULL);
	if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
		j->ids_rebuilt = "it was damaged";
		rc = s_ids_env_open(j, true);
	}
	if (rc == 0 && j->ids_top > j->committed_end) {
		mdb_env_close(j->ids_env);
		j->ids_env = NULL;
		j->ids_rebuilt = "it held keys of events past the journal's end";
		rc = s_ids_env_open(j, true);
	}
	if (rc || (rc = s_ids_read_back(j)))
		return rc;
	return j->ids_rebuilt ? s_old_ids_empty(j) : 0;
}

static int s_commit(struct journal *j, MDB_txn *txn, bool index_all);

/* A clean stop leaves every key in the index. */
static void
s_index_all(struct journal *j)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		MDB_txn *txn;
		if (j->io_failed || !pending_ids_count(j->pending) || journal_write_begin(j, &txn))
			return;
		if (s_commit(j, txn, true) != MDB_MAP_FULL || journal_grow(j) != 0)
			return;
	}
}

int
journal_open(struct journal **out, const char *dir, uint64_t map_mb,
    uint64_t max_mb, bool readonly)
{
	return journal_open_at(out, dir, dir, map_mb, max_mb, readonly);
}

int
journal_open_at(struct journal **out, const char *dir, const char *ids_dir,
    uint64_t map_mb, uint64_t max_mb, bool readonly)
{
	struct journal *j = calloc(1, sizeof *j);
	int rc;
	if (!j)
		return ENOMEM;
	j->readonly = readonly;
	j->map_size = map_mb << 20;
	j->max_size = (max_mb > map_mb ? max_mb : map_mb) << 20;
	if (!readonly && ((mkdir(dir, 0750) < 0 && errno != EEXIST) ||
	    (mkdir(ids_dir, 0750) < 0 && errno != EEXIST))) {
		rc = errno;
		goto fail;
	}
	if ((rc = mdb_env_create(&j->env)))
		goto fail;
	mdb_env_set_maxdbs(j->env, 8);
	mdb_env_set_maxreaders(j->env, 126);
	if (!readonly && (rc = mdb_env_set_mapsize(j->env, j->map_size)))
		goto fail;
	char path[4096];
	snprintf(path, sizeof path, "%s/journal.mdb", dir);
	if ((rc = mdb_env_open(j->env, path, MDB_NOSUBDIR | (readonly ? MDB_RDONLY : MDB_NOMETASYNC), 0640)))
		goto fail;
	if (!readonly) {
		/* An existing journal may already be bigger than map_mb. */
		MDB_envinfo info;
		mdb_env_info(j->env, &info);
		j->map_size = info.me_mapsize;
		if (j->max_size < j->map_size)
			j->max_size = j->map_size;
		int dead = 0;
		mdb_reader_check(j->env, &dead);
	}
	if ((rc = s_open_dbis(j)))
		goto fail;
	if (!readonly) {
		/* A writer that died may have left its last meta page unflushed. */
		if ((rc = mdb_env_sync(j->env, 1)) || (rc = journal_end(j, &j->committed_end)))
			goto fail;
		j->durable_end = j->committed_end;
		if (!(j->pending = pending_ids_new()))
			rc = ENOMEM;
		if (rc || (rc = s_ids_open(j, ids_dir)))
			goto fail;
	}
	*out = j;
	return 0;
fail:
	if (j->ids_env)
		mdb_env_close(j->ids_env);
	if (j->env)
		mdb_env_close(j->env);
	pending_ids_free(j->pending);
	free(j);
	return rc;
}

void
journal_close(struct journal **jp)
{
	if (!*jp)
		return;
	struct journal *j = *jp;
	filltail_stop(&j->tail);
	j->tail_held = false;
	if (!j->readonly) {
		s_index_all(j);
		journal_sync(j);
	}
	if (j->ids_txn)
		mdb_txn_abort(j->ids_txn);
	/* Flushed whole, ids.mdb can no longer be torn by the machine going down. */
	if (j->ids_env && mdb_env_sync(j->ids_env, 1) == 0)
		store_marker_clear(j->ids_path);
	if (j->ids_env)
		mdb_env_close(j->ids_env);
	mdb_env_close((*jp)->env);
	pending_ids_free((*jp)->pending);
	free(*jp);
	*jp = NULL;
}

MDB_env *
journal_env(struct journal *j)
{
	return j->env;
}

uint64_t
journal_map_size(struct journal *j)
{
	return j->map_size;
}

/* ---------------------------------------------------------- read side */

int
journal_read_begin(struct journal *j, MDB_txn **txn)
{
	return store_read_begin(j->env, txn);
}

/* A record value (size bytes at p) as the record at seq: 0, or
 * MDB_CORRUPTED when it is too short to hold its header. */
static int
s_record_parse(const uint8_t *p, size_t size, uint64_t seq, struct journal_record *out)
{
	if (size < HDR_FIXED)
		return MDB_CORRUPTED;
	size_t tlen = p[12];
	if (size < HDR_FIXED + tlen + 1 || p[HDR_FIXED + tlen] != 0)
		return MDB_CORRUPTED;
	out->seq = seq;
	out->received_at = (int64_t)be64_get(p);
	out->kind = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	out->township_id = (const char *)p + HDR_FIXED;
	out->envelope = p + HDR_FIXED + tlen + 1;
	out->envelope_len = size - HDR_FIXED - tlen - 1;
	out->raw = p;
	out->raw_len = size;
	return 0;
}

int
journal_get(struct journal *j, MDB_txn *txn, uint64_t seq, struct journal_record *out)
{
	uint8_t k[8];
	MDB_val key = { 8, k }, val;
	be64_put(k, seq);
	int rc = mdb_get(txn, j->events, &key, &val);
	if (rc)
		return rc;
	return s_record_parse(val.mv_data, val.mv_size, seq, out);
}

int
journal_last_seq(struct journal *j, MDB_txn *txn, uint64_t *seq)
{
	MDB_cursor *c;
	MDB_val key, val;
	int rc = mdb_cursor_open(txn, j->events, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		*seq = 0;
		return 0;
	}
	if (rc)
		return rc;
	*seq = key.mv_size == 8 ? be64_get(key.mv_data) : 0;
	return 0;
}

int
journal_end(struct journal *j, uint64_t *seq)
{
	MDB_txn *txn;
	int rc = journal_read_begin(j, &txn);
	if (rc)
		return rc;
	rc = journal_last_seq(j, txn, seq);
	mdb_txn_abort(txn);
	return rc;
}

int
journal_quarantined(struct journal *j, MDB_txn *txn, uint64_t seq, const char **reason)
{
	uint8_t k[8];
	MDB_val key = { 8, k }, val;
	be64_put(k, seq);
	int rc = mdb_get(txn, j->quarantine, &key, &val);
	if (rc == 0)
		*reason = val.mv_data;
	return rc;
}

unsigned
journal_quarantine_list(struct journal *j, MDB_txn *txn, uint64_t *seqs,
    char (*reasons)[128], unsigned max)
{
	MDB_cursor *c;
	MDB_val key, val;
	unsigned n = 0;
	if (mdb_cursor_open(txn, j->quarantine, &c))
		return 0;
	for (int op = MDB_FIRST; n < max && mdb_cursor_get(c, &key, &val, op) == 0; op = MDB_NEXT) {
		seqs[n] = be64_get(key.mv_data);
		snprintf(reasons[n], 128, "%.*s", (int)strnlen(val.mv_data, val.mv_size),
		    (const char *)val.mv_data);
		n++;
	}
	mdb_cursor_close(c);
	return n;
}

static int
s_same_envelope(struct journal *j, MDB_txn *txn, uint64_t seq,
    const uint8_t *envelope, size_t len, bool *same)
{
	struct journal_record r;
	int rc = journal_get(j, txn, seq, &r);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	*same = r.envelope_len == len && memcmp(r.envelope, envelope, len) == 0;
	return 0;
}

int
journal_lookup_id(struct journal *j, MDB_txn *txn, const char *township,
    const char *event_id, const uint8_t *envelope, size_t len, uint64_t *seq, bool *same)
{
	char kb[160];
	MDB_val key = { s_id_key(kb, sizeof kb, township, event_id), kb }, val;
	if (key.mv_size == 0)
		return EINVAL;
	uint64_t pending = j->pending ? pending_ids_find(j->pending, kb, key.mv_size) : 0;
	if (pending) {
		*seq = pending;
		return s_same_envelope(j, txn, pending, envelope, len, same);
	}
	if (!j->ids_txn)
		return MDB_NOTFOUND;  /* a reader, or no write transaction open */
	int rc = mdb_get(j->ids_txn, j->ids, &key, &val);
	if (rc)
		return rc;
	if (val.mv_size != 8)
		return MDB_CORRUPTED;
	*seq = be64_get(val.mv_data);
	return s_same_envelope(j, txn, *seq, envelope, len, same);
}

int
journal_meta_get(struct journal *j, MDB_txn *txn, const char *name,
    const void **v, size_t *len)
{
	MDB_val key = { strlen(name), (void *)name }, val;
	int rc = mdb_get(txn, j->meta, &key, &val);
	if (rc == 0) {
		*v = val.mv_data;
		*len = val.mv_size;
	}
	return rc;
}

uint64_t
journal_count_since(struct journal *j, MDB_txn *txn, int64_t t, uint64_t max)
{
	MDB_cursor *c;
	MDB_val key, val;
	uint64_t n = 0;
	if (mdb_cursor_open(txn, j->events, &c))
		return 0;
	for (int op = MDB_LAST; n < max && mdb_cursor_get(c, &key, &val, op) == 0; op = MDB_PREV) {
		if (val.mv_size < 8 || (int64_t)be64_get(val.mv_data) < t)
			break;
		n++;
	}
	mdb_cursor_close(c);
	return n;
}

/* ---------------------------------------------------------- write side */

/* Held from a write transaction's begin to its commit or
 * journal_write_abort; after a bare mdb_txn_abort, until the next commit. */
static void
s_tail_hold(struct journal *j)
{
	if (j->tail && !j->tail_held) {
		filltail_hold(j->tail);
		j->tail_held = true;
	}
}

static void
s_tail_release(struct journal *j)
{
	if (j->tail_held) {
		filltail_release(j->tail);
		j->tail_held = false;
	}
}

int
journal_tail_start(struct journal *j, uint64_t ahead)
{
	if (j->readonly || j->tail || ahead == 0)
		return 0;
	return filltail_start(&j->tail, j->env, ahead);
}

bool
journal_tail_stats(struct journal *j, uint64_t *written, int *error)
{
	if (!j->tail)
		return false;
	*written = filltail_written(j->tail, error);
	return true;
}

static void
s_ids_txn_abort(struct journal *j)
{
	if (j->ids_txn)
		mdb_txn_abort(j->ids_txn);
	j->ids_txn = NULL;
}

void
journal_write_abort(struct journal *j, MDB_txn *txn)
{
	if (txn)
		mdb_txn_abort(txn);
	s_ids_txn_abort(j);
	s_tail_release(j);
}

int
journal_write_begin(struct journal *j, MDB_txn **txn)
{
	s_ids_txn_abort(j);  /* its journal txn was aborted by the caller */
	j->txn_end = j->committed_end;
	if (j->pending_unsettled) {
		pending_ids_rollback(j->pending, j->committed_end);
		j->pending_unsettled = false;
	}
	s_tail_hold(j);
	int rc = mdb_txn_begin(j->env, NULL, 0, txn);
	if (rc == 0 && j->ids_env && (rc = mdb_txn_begin(j->ids_env, NULL, 0, &j->ids_txn))) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	if (rc)
		s_tail_release(j);
	return rc;
}

int
journal_append(struct journal *j, MDB_txn *txn, int64_t received_at,
    uint32_t kind, const char *township, const char *event_id,
    const uint8_t *envelope, size_t len, uint64_t *seq)
{
	uint64_t last = j->txn_end;  /* MDB_APPEND refuses a seq that is not past the last */
	uint8_t k[8];
	char kb[160];
	size_t tlen = strlen(township), klen = 0;
	int rc;
	if (tlen > 255 || !event_id != !tlen)
		return EINVAL;
	if (event_id) {
		if ((klen = s_id_key(kb, sizeof kb, township, event_id)) == 0)
			return EINVAL;
		if (pending_ids_find(j->pending, kb, klen))
			return MDB_KEYEXIST;
	}
	be64_put(k, last + 1);
	MDB_val key = { 8, k }, val = { HDR_FIXED + tlen + 1 + len, NULL };
	if ((rc = mdb_put(txn, j->events, &key, &val, MDB_APPEND | MDB_RESERVE)))
		return rc;
	uint8_t *p = val.mv_data;
	be64_put(p, (uint64_t)received_at);
	p[8] = (uint8_t)(kind >> 24), p[9] = (uint8_t)(kind >> 16);
	p[10] = (uint8_t)(kind >> 8), p[11] = (uint8_t)kind;
	p[12] = (uint8_t)tlen;
	memcpy(p + HDR_FIXED, township, tlen);
	p[HDR_FIXED + tlen] = 0;
	memcpy(p + HDR_FIXED + tlen + 1, envelope, len);
	if (event_id) {
		j->pending_unsettled = true;
		if ((rc = pending_ids_add(j->pending, kb, klen, last + 1)))
			return rc;
	}
	j->txn_end = last + 1;
	*seq = last + 1;
	return 0;
}

int
journal_append_mirrored(struct journal *j, MDB_txn *txn, uint64_t seq,
    const uint8_t *record, size_t len)
{
	struct journal_record r;
	uint64_t got;
	Envelope *e = NULL;
	if (seq != j->txn_end + 1)
		return EINVAL;
	if (s_record_parse(record, len, seq, &r) != 0)
		return MDB_CORRUPTED;
	/* The key as s_recover_key derives it from a journaled record. */
	if (r.township_id[0] && !(e = codec_envelope_unpack(r.envelope, r.envelope_len)))
		return MDB_CORRUPTED;
	int rc = journal_append(j, txn, r.received_at, r.kind, r.township_id,
	    e ? e->event_id : NULL, r.envelope, r.envelope_len, &got);
	codec_envelope_free(e);
	return rc;
}

int
journal_quarantine(struct journal *j, MDB_txn *txn, uint64_t seq, const char *reason)
{
	uint8_t k[8];
	MDB_val key = { 8, k }, val = { strlen(reason) + 1, (void *)reason };
	be64_put(k, seq);
	return mdb_put(txn, j->quarantine, &key, &val, 0);
}

int
journal_meta_put(struct journal *j, MDB_txn *txn, const char *name,
    const void *v, size_t len)
{
	MDB_val key = { strlen(name), (void *)name }, val = { len, (void *)v };
	return mdb_put(txn, j->meta, &key, &val, 0);
}

int
journal_meta_del(struct journal *j, MDB_txn *txn, const char *name)
{
	MDB_val key = { strlen(name), (void *)name };
	return mdb_del(txn, j->meta, &key, NULL);
}

int
journal_rewrite(struct journal *j, MDB_txn *txn, uint64_t seq,
    const uint8_t *envelope, size_t len)
{
	struct journal_record r;
	uint8_t k[8], *copy;
	int rc = journal_get(j, txn, seq, &r);
	if (rc)
		return rc;
	size_t head = (size_t)(r.envelope - (const uint8_t *)r.township_id) + HDR_FIXED;
	if (!(copy = malloc(head)))
		return ENOMEM;
	memcpy(copy, r.township_id - HDR_FIXED, head);  /* the map page may move */
	be64_put(k, seq);
	MDB_val key = { 8, k }, val = { head + len, NULL };
	if ((rc = mdb_put(txn, j->events, &key, &val, MDB_RESERVE)) == 0) {
		memcpy(val.mv_data, copy, head);
		memcpy((uint8_t *)val.mv_data + head, envelope, len);
	}
	free(copy);
	return rc;
}

int
journal_compact(const char *dir, uint64_t *before, uint64_t *after)
{
	char path[4096], tmp[4096], lock[4096];
	struct stat st;
	MDB_env *env;
	snprintf(path, sizeof path, "%s/journal.mdb", dir);
	snprintf(tmp, sizeof tmp, "%s/journal.mdb.compact", dir);
	snprintf(lock, sizeof lock, "%s/journal.mdb-lock", dir);
	if (stat(path, &st) < 0)
		return errno;
	*before = (uint64_t)st.st_size;
	unlink(tmp);
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 8);
	if ((rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0640)) == 0)
		rc = mdb_env_copy2(env, tmp, MDB_CP_COMPACT);
	mdb_env_close(env);
	if (rc == 0 && (rc = store_fsync_path(tmp)) == 0 && rename(tmp, path) < 0)
		rc = errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	unlink(lock);  /* its copy of the last txn id belongs to the old file */
	if ((rc = store_fsync_path(dir)))
		return rc;
	*after = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* Put the keys of the townships whose batch is due (every key when all)
 * into ids.mdb's open transaction, and its new through and top. */
static int
s_index_due(struct journal *j, bool all, uint64_t *through, uint64_t *top)
{
	struct pending_ids *p = j->pending;
	int rc;
	*top = j->ids_top;
	if (pending_ids_mark_due(p, JOURNAL_IDS_BATCH, j->txn_end, JOURNAL_IDS_MAX_LAG, all)) {
		j->pending_unsettled = true;
		for (size_t i = 0; i < pending_ids_count(p); i++) {
			const char *k;
			size_t len;
			uint64_t seq;
			bool marked;
			uint8_t vb[8];
			pending_ids_entry(p, i, &k, &len, &seq, &marked);
			if (!marked)
				continue;
			be64_put(vb, seq);
			MDB_val key = { len, (void *)k }, val = { sizeof vb, vb };
			/* A key the index holds already keeps its first seq: failing
			 * here would fail every commit until the next start. */
			rc = mdb_put(j->ids_txn, j->ids, &key, &val, MDB_NOOVERWRITE);
			if (rc && rc != MDB_KEYEXIST)
				return rc;
			*top = seq > *top ? seq : *top;
		}
	}
	uint64_t oldest = pending_ids_oldest_unmarked(p);
	*through = oldest ? oldest - 1 : j->txn_end;
	if (*through != j->ids_through &&
	    (rc = s_meta_put_u64(j->ids_txn, j->ids_meta, "through", *through)))
		return rc;
	if (*top != j->ids_top && (rc = s_meta_put_u64(j->ids_txn, j->ids_meta, "top", *top)))
		return rc;
	return 0;
}

int
journal_commit(struct journal *j, MDB_txn *txn)
{
	return s_commit(j, txn, false);
}

/* The journal first, then ids.mdb: ids.mdb never holds the key of an event
 * the journal lacks. Should ids.mdb not commit, its keys stay pending. */
static int
s_commit(struct journal *j, MDB_txn *txn, bool index_all)
{
	uint64_t through = j->ids_through, top = j->ids_top;
	int rc = j->ids_txn ? s_index_due(j, index_all, &through, &top) : 0;
	if (rc) {
		journal_write_abort(j, txn);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	s_tail_release(j);
	if (rc == EIO)
		j->io_failed = j->sync_pending = true;
	if (rc) {
		s_ids_txn_abort(j);
		return rc;
	}
	/* Only a commit that appended surely wrote (LMDB skips the flush of
	 * an empty one); its data flush also carried the previous meta page. */
	if (j->txn_end != j->committed_end && !j->io_failed) {
		j->durable_end = j->committed_end;
		j->latest_first = j->committed_end + 1;
		j->committed_end = j->txn_end;
	}
	if (j->ids_txn) {
		rc = mdb_txn_commit(j->ids_txn);
		j->ids_txn = NULL;
		if (rc == 0) {
			pending_ids_drop_marked(j->pending);
			j->ids_through = through;
			j->ids_top = top;
		} else {
			pending_ids_rollback(j->pending, j->txn_end);
		}
	}
	j->pending_unsettled = false;
	j->sync_pending = true;
	return 0;
}

int
journal_sync(struct journal *j)
{
	if (!j->sync_pending)
		return 0;
	/* After a failed flush the kernel may have dropped the dirty pages
	 * and a later flush can succeed without them: never trust it again. */
	int rc = j->io_failed ? EIO : mdb_env_sync(j->env, 1);
	if (rc) {
		j->io_failed = true;
		return rc;
	}
	j->durable_end = j->committed_end;
	j->sync_pending = false;
	return 0;
}

uint64_t
journal_committed_end(struct journal *j)
{
	return j->committed_end;
}

uint64_t
journal_latest_commit_first(struct journal *j)
{
	return j->latest_first;
}

size_t
journal_ids_pending(struct journal *j)
{
	return pending_ids_count(j->pending);
}

size_t
journal_ids_indexed(struct journal *j)
{
	MDB_txn *txn;
	MDB_stat st = { 0 };
	if (!j->ids_env || mdb_txn_begin(j->ids_env, NULL, MDB_RDONLY, &txn))
		return 0;
	mdb_stat(txn, j->ids, &st);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

size_t
journal_ids_read_back(struct journal *j)
{
	return j->ids_read_back;
}

const char *
journal_ids_rebuilt(struct journal *j)
{
	return j->ids_rebuilt;
}

bool
journal_sync_pending(struct journal *j)
{
	return j->sync_pending;
}

uint64_t
journal_durable_end(struct journal *j)
{
	return j->durable_end;
}

int
journal_grow(struct journal *j)
{
	/* MDB_MAP_FULL of a commit may be ids.mdb's: it grows when it is
	 * three quarters used. */
	MDB_envinfo info;
	MDB_stat st;
	if (j->ids_env && !j->ids_txn && mdb_env_info(j->ids_env, &info) == 0 &&
	    mdb_env_stat(j->ids_env, &st) == 0 &&
	    (info.me_last_pgno + 1) * (uint64_t)st.ms_psize > j->ids_map / 4 * 3 &&
	    s_ids_grow(j) == 0 && j->map_size >= j->max_size)
		return 0;
	if (j->map_size >= j->max_size)
		return MDB_MAP_FULL;
	uint64_t next = j->map_size * 2;
	if (next > j->max_size)
		next = j->max_size;
	bool held = j->tail_held;
	s_tail_hold(j);  /* filltail reads the map size */
	int rc = mdb_env_set_mapsize(j->env, next);
	if (!held)
		s_tail_release(j);
	if (rc == 0)
		j->map_size = next;
	return rc;
}
