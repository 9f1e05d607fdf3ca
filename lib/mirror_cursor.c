/*
 * mirror_cursor: jiceng-mirror's position and health in mirror.mdb (see
 * mirror_cursor.h), in the environment's main database. Values are
 * explicit big-endian bytes:
 *   "position" -> seq (8) next_index (4) stream_seq (8) acked_at (8)
 *   "health"   -> connected (1) since (8) error text
 */
#include "mirror_cursor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "be64.h"
#include "store.h"

#define MC_MAP_BYTES (1u << 20)
#define MC_POS_LEN 28
#define MC_HEALTH_FIXED 9

static const MDB_val s_pos_key = { 8, "position" };
static const MDB_val s_health_key = { 6, "health" };

void
mirror_cursor_path(const char *derived_dir, char *out, size_t len)
{
	snprintf(out, len, "%s/mirror.mdb", derived_dir);
}

static int
s_read(MDB_txn *txn, struct mirror_pos *pos, struct mirror_health *h)
{
	MDB_dbi dbi;
	MDB_val k, v;
	int rc;
	memset(pos, 0, sizeof *pos);
	memset(h, 0, sizeof *h);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)))
		return rc;
	k = s_pos_key;
	if ((rc = mdb_get(txn, dbi, &k, &v)) == 0) {
		if (v.mv_size != MC_POS_LEN)
			return MDB_CORRUPTED;
		const uint8_t *p = v.mv_data;
		pos->seq = be64_get(p);
		pos->next_index = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
		    (uint32_t)p[10] << 8 | p[11];
		pos->stream_seq = be64_get(p + 12);
		pos->acked_at = (int64_t)be64_get(p + 20);
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	k = s_health_key;
	if ((rc = mdb_get(txn, dbi, &k, &v)) == 0) {
		if (v.mv_size < MC_HEALTH_FIXED)
			return MDB_CORRUPTED;
		const uint8_t *p = v.mv_data;
		size_t elen = v.mv_size - MC_HEALTH_FIXED;
		h->connected = p[0] != 0;
		h->since = (int64_t)be64_get(p + 1);
		if (elen >= sizeof h->error)
			elen = sizeof h->error - 1;
		memcpy(h->error, p + MC_HEALTH_FIXED, elen);
		h->error[elen] = 0;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	return 0;
}

int
mirror_cursor_get(MDB_env *env, struct mirror_pos *pos, struct mirror_health *h)
{
	MDB_txn *txn;
	int rc = store_read_begin(env, &txn);
	if (rc)
		return rc;
	rc = s_read(txn, pos, h);
	mdb_txn_abort(txn);
	return rc;
}

static int
s_open(MDB_env **env, const char *path)
{
	struct mirror_pos p;
	struct mirror_health h;
	int rc;
	if ((rc = mdb_env_create(env)))
		return rc;
	mdb_env_set_mapsize(*env, MC_MAP_BYTES);
	/* The stream is the durable copy: no flush per position. */
	if ((rc = mdb_env_open(*env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0640)) ||
	    (rc = mirror_cursor_get(*env, &p, &h))) {
		mdb_env_close(*env);
		*env = NULL;
	}
	return rc;
}

int
mirror_cursor_open(MDB_env **env, const char *path)
{
	char lock[1100];
	int rc = s_open(env, path);
	if (rc == 0 || rc == ENOENT || rc == EACCES || rc == EROFS)
		return rc;
	snprintf(lock, sizeof lock, "%s-lock", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return errno;
	unlink(lock);
	return s_open(env, path);
}

static int
s_put(MDB_env *env, const MDB_val *key, void *val, size_t len)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = *key, v = { len, val };
	int rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) || (rc = mdb_put(txn, dbi, &k, &v, 0))) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int
mirror_cursor_put_pos(MDB_env *env, const struct mirror_pos *pos)
{
	uint8_t b[MC_POS_LEN];
	be64_put(b, pos->seq);
	b[8] = (uint8_t)(pos->next_index >> 24), b[9] = (uint8_t)(pos->next_index >> 16);
	b[10] = (uint8_t)(pos->next_index >> 8), b[11] = (uint8_t)pos->next_index;
	be64_put(b + 12, pos->stream_seq);
	be64_put(b + 20, (uint64_t)pos->acked_at);
	return s_put(env, &s_pos_key, b, sizeof b);
}

int
mirror_cursor_put_health(MDB_env *env, const struct mirror_health *h)
{
	uint8_t b[MC_HEALTH_FIXED + sizeof h->error];
	size_t elen = strnlen(h->error, sizeof h->error - 1);
	b[0] = h->connected;
	be64_put(b + 1, (uint64_t)h->since);
	memcpy(b + MC_HEALTH_FIXED, h->error, elen);
	return s_put(env, &s_health_key, b, MC_HEALTH_FIXED + elen);
}

int
mirror_cursor_peek(const char *path, struct mirror_pos *pos, struct mirror_health *h)
{
	MDB_env *env;
	int rc = store_open_readonly(path, 0, &env);
	if (rc)
		return rc;
	rc = mirror_cursor_get(env, pos, h);
	mdb_env_close(env);
	return rc;
}
