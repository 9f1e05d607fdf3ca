/*
 * mirror_cursor: jiceng-mirror's own small environment,
 * <derived_dir>/mirror.mdb (one file). It holds where the mirror stands in
 * the JetStream stream (helpers' STREAM.md contract, docs/operations.md):
 * the last message the stream acknowledged, and whether the mirror can
 * reach NATS. jiceng-mirror writes it; the query server (stats) and
 * jicengd (metrics) read it. It is derived: when lost, the mirror takes its
 * position from the stream's last message, which wins over it anyway.
 */
#ifndef JICENG_MIRROR_CURSOR_H
#define JICENG_MIRROR_CURSOR_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The last message the stream acknowledged: the record of journal seq
 * `seq` and its status changes [0, next_index). (0, 0, 0): none yet. */
struct mirror_pos {
	uint64_t seq;
	uint32_t next_index;
	uint64_t stream_seq;       /* the stream's sequence of that message */
	int64_t acked_at;          /* Unix ms of its ack, 0 before any */
};

/* Whether the mirror has a connection to NATS and its stream. */
struct mirror_health {
	bool connected;
	int64_t since;             /* Unix ms of the last change */
	char error[256];           /* why not connected, "" when connected */
};

/* DERIVED_DIR/mirror.mdb into out. */
void mirror_cursor_path(const char *derived_dir, char *out, size_t len);

/* The writer (jiceng-mirror): open or create the file at path. A file that
 * does not open (torn by a crash of the machine) is replaced by an empty
 * one, which the stream's last message repairs. Returns 0 or an LMDB or
 * errno code. */
int mirror_cursor_open(MDB_env **env, const char *path);
/* Store pos, or health, in a write transaction of its own. 0 or an LMDB
 * error. */
int mirror_cursor_put_pos(MDB_env *env, const struct mirror_pos *pos);
int mirror_cursor_put_health(MDB_env *env, const struct mirror_health *h);
/* Read both (zeroed when absent). 0 or an LMDB error. */
int mirror_cursor_get(MDB_env *env, struct mirror_pos *pos, struct mirror_health *h);

/* A reader in another process: open path read-only, read both, close.
 * Returns 0, MDB_NOTFOUND (the mirror never ran), or an LMDB error. */
int mirror_cursor_peek(const char *path, struct mirror_pos *pos, struct mirror_health *h);

#endif
