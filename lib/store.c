/*
 * store: read-only access to environments other processes write.
 */
#include "store.h"

#include <unistd.h>

int
store_open_readonly(const char *path, unsigned maxdbs, MDB_env **env)
{
	int rc;
	*env = NULL;
	if (access(path, R_OK) != 0)
		return MDB_NOTFOUND;
	if ((rc = mdb_env_create(env)))
		return rc;
	mdb_env_set_maxdbs(*env, maxdbs);
	/* Lookups are random: no readahead (of the writer's sparse file, too). */
	if ((rc = mdb_env_open(*env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NORDAHEAD, 0640))) {
		mdb_env_close(*env);
		*env = NULL;
	}
	return rc;
}

int
store_read_begin(MDB_env *env, MDB_txn **txn)
{
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(env, 0)) == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, txn);
	return rc;
}
