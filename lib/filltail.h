/*
 * filltail: keeps an LMDB data file written (with zeros) some way past the
 * environment's last page, so that a commit overwrites blocks the file
 * already has instead of appending: its flush then writes no block
 * allocation and no new file size. On this project's VM disk an append of
 * nine pages plus fdatasync took 0.42 ms, the same over written zeros
 * 0.22 ms (docs/benchmark.md).
 *
 * A thread writes the zeros with O_DIRECT, so they never sit dirty in the
 * page cache for the writer's next flush to carry, in chunks, each only
 * past the file's end of that moment and only while the writer is not
 * inside a write transaction: the writer brackets its transactions with
 * filltail_hold and filltail_release, which the thread takes too. LMDB
 * writes a page only inside a write transaction (its commit, or a spill),
 * so no zero ever lands where LMDB has written or is writing.
 * The file is never filled past the map size.
 */
#ifndef JICENG_FILLTAIL_H
#define JICENG_FILLTAIL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

struct filltail;

#define FILLTAIL_CHUNK (256u << 10)

/* Start keeping ahead bytes (rounded up to FILLTAIL_CHUNK) written past
 * the last page of env's data file (opened MDB_NOSUBDIR); the thread tops
 * it up when less than half is left. Returns 0, or an errno (EINVAL: the
 * file system takes no O_DIRECT), and then nothing was started. */
int filltail_start(struct filltail **out, MDB_env *env, uint64_t ahead);
/* Stop the thread and free; NULL is fine. */
void filltail_stop(struct filltail **t);
/* Around every write transaction of env (hold before it begins, release
 * after it is committed or aborted). */
void filltail_hold(struct filltail *t);
void filltail_release(struct filltail *t);

/* Bytes of zeros written since start; *error: the errno that stopped the
 * filling, or 0. */
uint64_t filltail_written(struct filltail *t, int *error);

#endif
