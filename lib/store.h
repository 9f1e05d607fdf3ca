/*
 * store: what every reader of an LMDB environment that another process
 * writes must do — open it read-only, and adopt a map the writer has grown
 * (MDB_MAP_RESIZED) when it begins a read transaction.
 */
#ifndef JICENG_STORE_H
#define JICENG_STORE_H

#include <lmdb.h>

/* Open the environment file at path (MDB_NOSUBDIR) read-only with room for
 * maxdbs named databases. Returns 0, MDB_NOTFOUND when the file does not
 * exist yet, or an LMDB error (*env is then NULL). */
int store_open_readonly(const char *path, unsigned maxdbs, MDB_env **env);

/* Begin a read transaction, adopting a map grown by the writer.
 * Returns 0 or an LMDB error. */
int store_read_begin(MDB_env *env, MDB_txn **txn);

#endif
