/*
 * store: what every reader of an LMDB environment that another process
 * writes must do — open it read-only, adopt a map the writer has grown
 * (MDB_MAP_RESIZED) when it begins a read transaction, and notice when the
 * writer has replaced the file with a rebuilt one.
 */
#ifndef JICENG_STORE_H
#define JICENG_STORE_H

#include <lmdb.h>
#include <stdbool.h>

/* Open the environment file at path (MDB_NOSUBDIR) read-only with room for
 * maxdbs named databases. Returns 0, MDB_NOTFOUND when the file does not
 * exist yet, EAGAIN when the file was being replaced during the open (its
 * lock file belongs to another generation of it: try again later), or an
 * LMDB error (*env is then NULL). */
int store_open_readonly(const char *path, unsigned maxdbs, MDB_env **env);

/* Begin a read transaction, adopting a map grown by the writer.
 * Returns 0 or an LMDB error. */
int store_read_begin(MDB_env *env, MDB_txn **txn);

/* Is the file at path no longer the one env has open (a rebuild renamed a
 * new one over it, or it is gone)? Such a handle reads a past state for
 * ever and pins the old file's disk space: close it and open path again. */
bool store_replaced(MDB_env *env, const char *path);

/* fsync a file or a directory by path: 0 or errno. */
int store_fsync_path(const char *path);

/* The open marker of an environment written without flushes, path +
 * ".open": the boot id of the machine's current boot while a process has
 * the file open, removed when it closes it cleanly. A killed process leaves
 * nothing torn; a machine that goes down can, and its marker is then from
 * another boot.
 * store_boot_id: /proc/sys/kernel/random/boot_id (JICENG_BOOT_ID in tests).
 * store_marker_stale: 1 with the other boot's id in was, else 0.
 * store_marker_set writes and flushes it; returns 0 or an errno. */
int store_boot_id(char *out, size_t len);
int store_marker_stale(const char *path, const char *boot_id, char *was, size_t len);
int store_marker_set(const char *path, const char *boot_id);
void store_marker_clear(const char *path);

#endif
