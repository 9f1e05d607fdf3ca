/*
 * journal: journal.mdb, its record layout and its read and write calls.
 * Record value: received_at (8, BE) | kind (4, BE) | township length (1) |
 * township | NUL | packed Envelope.
 * ids value: seq (8, BE). Journals written before 2026-11 also hold the
 * envelope's SHA-256 after it (LEGACY_IDS_VALUE); both are read.
 *
 * The ids index is written a township's JOURNAL_IDS_BATCH keys at a time. A
 * key written alone copies its leaf and branch pages in every group commit:
 * with eight townships that was half of a commit's pages. Until its batch is
 * due a key waits in the writer's pending_ids, where lookups find it, never
 * longer than JOURNAL_IDS_MAX_LAG seqs. meta "ids_through" = W: every event
 * up to seq W has its key in the index. A writer opening the journal reads the
 * keys of the events after W back into pending_ids.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "be64.h"
#include "codec.h"
#include "pending_ids.h"
#include "store.h"

#define HDR_FIXED 13
#define LEGACY_IDS_VALUE (8 + crypto_hash_sha256_BYTES)
#define IDS_THROUGH "ids_through"

struct journal {
	MDB_env *env;
	MDB_dbi events;      /* seq -> record */
	MDB_dbi ids;         /* township \0 event_id -> seq */
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
	uint64_t ids_through;    /* meta "ids_through" as committed */
	bool ids_through_stored; /* ... and whether the meta key exists */
};

/* ---------------------------------------------------------- open/close */

/* fsync a file or directory by path: 0 or errno. */
static int
s_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	if (fd < 0)
		return errno;
	if (fsync(fd) < 0)
		rc = errno;
	close(fd);
	return rc;
}

static int
s_open_dbis(struct journal *j)
{
	MDB_txn *txn;
	unsigned flags = j->readonly ? 0 : MDB_CREATE;
	int rc = mdb_txn_begin(j->env, NULL, j->readonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_dbi_open(txn, "events", flags, &j->events)) ||
	    (rc = mdb_dbi_open(txn, "ids", flags, &j->ids)) ||
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

/* The key of the event at seq, into the pending keys when the index lacks it. */
static int
s_recover_key(struct journal *j, MDB_txn *txn, uint64_t seq)
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
	rc = mdb_get(txn, j->ids, &key, &val);
	return rc == MDB_NOTFOUND ? pending_ids_add(j->pending, kb, key.mv_size, seq) : rc;
}

/* A writer's start: the keys of the events after ids_through that the index
 * lacks (the last writer stopped before their batches were due). */
static int
s_pending_recover(struct journal *j)
{
	MDB_txn *txn;
	const void *v;
	size_t len;
	if (!(j->pending = pending_ids_new()))
		return ENOMEM;
	int rc = journal_read_begin(j, &txn);
	if (rc)
		return rc;
	rc = journal_meta_get(j, txn, IDS_THROUGH, &v, &len);
	if (rc == MDB_NOTFOUND) {
		/* Empty, or written before keys were batched: all indexed. */
		j->ids_through = j->committed_end;
		rc = 0;
	} else if (rc == 0 && len != 8) {
		rc = MDB_CORRUPTED;
	} else if (rc == 0) {
		j->ids_through = be64_get(v);
		j->ids_through_stored = true;
		for (uint64_t seq = j->ids_through + 1; seq <= j->committed_end && rc == 0; seq++)
			rc = s_recover_key(j, txn, seq);
	}
	mdb_txn_abort(txn);
	return rc;
}

static int s_commit(struct journal *j, MDB_txn *txn, bool index_all);

/* A clean stop leaves every key in the index. */
static void
s_index_all(struct journal *j)
{
	MDB_txn *txn;
	if (j->io_failed || !pending_ids_count(j->pending) || journal_write_begin(j, &txn))
		return;
	s_commit(j, txn, true);
}

int
journal_open(struct journal **out, const char *dir, uint64_t map_mb,
    uint64_t max_mb, bool readonly)
{
	struct journal *j = calloc(1, sizeof *j);
	int rc;
	if (!j)
		return ENOMEM;
	j->readonly = readonly;
	j->map_size = map_mb << 20;
	j->max_size = (max_mb > map_mb ? max_mb : map_mb) << 20;
	if (!readonly && mkdir(dir, 0750) < 0 && errno != EEXIST) {
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
		if ((rc = s_pending_recover(j)))
			goto fail;
	}
	*out = j;
	return 0;
fail:
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
	if (!(*jp)->readonly) {
		s_index_all(*jp);
		journal_sync(*jp);
	}
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

int
journal_get(struct journal *j, MDB_txn *txn, uint64_t seq, struct journal_record *out)
{
	uint8_t k[8];
	MDB_val key = { 8, k }, val;
	be64_put(k, seq);
	int rc = mdb_get(txn, j->events, &key, &val);
	if (rc)
		return rc;
	const uint8_t *p = val.mv_data;
	if (val.mv_size < HDR_FIXED)
		return MDB_CORRUPTED;
	size_t tlen = p[12];
	if (val.mv_size < HDR_FIXED + tlen + 1 || p[HDR_FIXED + tlen] != 0)
		return MDB_CORRUPTED;
	out->seq = seq;
	out->received_at = (int64_t)be64_get(p);
	out->kind = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	out->township_id = (const char *)p + HDR_FIXED;
	out->envelope = p + HDR_FIXED + tlen + 1;
	out->envelope_len = val.mv_size - HDR_FIXED - tlen - 1;
	return 0;
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
	int rc = mdb_get(txn, j->ids, &key, &val);
	if (rc)
		return rc;
	if (val.mv_size != 8 && val.mv_size != LEGACY_IDS_VALUE)
		return MDB_CORRUPTED;
	*seq = be64_get(val.mv_data);
	if (val.mv_size == LEGACY_IDS_VALUE) {
		uint8_t digest[crypto_hash_sha256_BYTES];
		crypto_hash_sha256(digest, envelope, len);
		*same = memcmp(digest, (const uint8_t *)val.mv_data + 8, sizeof digest) == 0;
		return 0;
	}
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

int
journal_write_begin(struct journal *j, MDB_txn **txn)
{
	j->txn_end = j->committed_end;
	if (j->pending_unsettled) {
		pending_ids_rollback(j->pending, j->committed_end);
		j->pending_unsettled = false;
	}
	return mdb_txn_begin(j->env, NULL, 0, txn);
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
journal_rewrite(struct journal *j, MDB_txn *txn, uint64_t seq, const char *event_id,
    const uint8_t *envelope, size_t len)
{
	struct journal_record r;
	uint8_t k[8], vb[8], *copy;
	char kb[160];
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
	const char *township = (const char *)copy + HDR_FIXED;
	MDB_val ik = { township[0] ? s_id_key(kb, sizeof kb, township, event_id) : 0, kb }, iv;
	if (rc == 0 && ik.mv_size && (rc = mdb_get(txn, j->ids, &ik, &iv)) == 0 &&
	    iv.mv_size == LEGACY_IDS_VALUE) {
		be64_put(vb, seq);
		MDB_val plain = { sizeof vb, vb };
		rc = mdb_put(txn, j->ids, &ik, &plain, 0);
	}
	free(copy);
	return rc == MDB_NOTFOUND ? 0 : rc;  /* a key still pending, or none */
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
	if (rc == 0 && (rc = s_fsync_path(tmp)) == 0 && rename(tmp, path) < 0)
		rc = errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	unlink(lock);  /* its copy of the last txn id belongs to the old file */
	if ((rc = s_fsync_path(dir)))
		return rc;
	*after = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* Put the keys of the townships whose batch is due (every key when all)
 * into the index, and the new ids_through into meta. */
static int
s_index_due(struct journal *j, MDB_txn *txn, bool all, uint64_t *through)
{
	struct pending_ids *p = j->pending;
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
			int rc = mdb_put(txn, j->ids, &key, &val, MDB_NOOVERWRITE);
			if (rc && rc != MDB_KEYEXIST)
				return rc;
		}
	}
	uint64_t oldest = pending_ids_oldest_unmarked(p);
	*through = oldest ? oldest - 1 : j->txn_end;
	if (*through == j->ids_through && j->ids_through_stored)
		return 0;
	uint8_t tb[8];
	be64_put(tb, *through);
	return journal_meta_put(j, txn, IDS_THROUGH, tb, sizeof tb);
}

int
journal_commit(struct journal *j, MDB_txn *txn)
{
	return s_commit(j, txn, false);
}

static int
s_commit(struct journal *j, MDB_txn *txn, bool index_all)
{
	uint64_t through;
	int rc = s_index_due(j, txn, index_all, &through);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	if (rc == EIO)
		j->io_failed = j->sync_pending = true;
	if (rc)
		return rc;
	pending_ids_drop_marked(j->pending);
	j->pending_unsettled = false;
	j->ids_through = through;
	j->ids_through_stored = true;
	/* Only a commit that appended surely wrote (LMDB skips the flush of
	 * an empty one); its data flush also carried the previous meta page. */
	if (j->txn_end != j->committed_end && !j->io_failed) {
		j->durable_end = j->committed_end;
		j->latest_first = j->committed_end + 1;
		j->committed_end = j->txn_end;
	}
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
	if (j->map_size >= j->max_size)
		return MDB_MAP_FULL;
	uint64_t next = j->map_size * 2;
	if (next > j->max_size)
		next = j->max_size;
	int rc = mdb_env_set_mapsize(j->env, next);
	if (rc == 0)
		j->map_size = next;
	return rc;
}
