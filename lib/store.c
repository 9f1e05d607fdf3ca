/*
 * store: read-only access to environments other processes write.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* LMDB keeps the last committed transaction id in the lock file, and the
 * first process to open the lock file takes it from the data file. A
 * rebuild installs a new data file with a new lock file (fold_rebuild); an
 * open that raced with the two renames may pair the old lock file with the
 * new data. Then its read transactions pick a meta page by the wrong id,
 * and the writer does not see them: refuse such a pairing. A true pair has
 * the lock's id between the newest meta's before and after (a commit writes
 * the meta page first, then the lock's id). */
static int
s_check_pairing(MDB_env *env)
{
	MDB_envinfo before, after;
	MDB_txn *txn;
	int rc;
	if ((rc = mdb_env_info(env, &before)) || (rc = store_read_begin(env, &txn)))
		return rc;
	size_t id = mdb_txn_id(txn);
	mdb_txn_abort(txn);
	if ((rc = mdb_env_info(env, &after)))
		return rc;
	if (id + 1 < before.me_last_txnid || id > after.me_last_txnid)
		return EAGAIN;
	return 0;
}

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
	if ((rc = mdb_env_open(*env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NORDAHEAD, 0640)) ||
	    (rc = s_check_pairing(*env))) {
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

bool
store_replaced(MDB_env *env, const char *path)
{
	struct stat open_st, path_st;
	int fd;
	if (mdb_env_get_fd(env, &fd) || fstat(fd, &open_st) < 0)
		return false;
	if (stat(path, &path_st) < 0)
		return errno == ENOENT;
	return open_st.st_ino != path_st.st_ino || open_st.st_dev != path_st.st_dev;
}

/* ---------------------------------------------------------- open markers */

int
store_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	if (fd < 0)
		return errno;
	if (fsync(fd) < 0)
		rc = errno;
	close(fd);
	return rc;
}

static void
s_marker_path(const char *env_path, char *out, size_t len)
{
	snprintf(out, len, "%s.open", env_path);
}

int
store_boot_id(char *out, size_t len)
{
	const char *fake = getenv("JICENG_BOOT_ID");  /* tests: another boot */
	if (fake) {
		snprintf(out, len, "%s", fake);
		return 0;
	}
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f || !fgets(out, (int)len, f)) {
		if (f)
			fclose(f);
		snprintf(out, len, "unknown");
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

int
store_marker_stale(const char *env_path, const char *boot_id, char *was, size_t len)
{
	char path[4200];
	s_marker_path(env_path, path, sizeof path);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(was, (int)len, f))
		was[0] = 0;
	fclose(f);
	was[strcspn(was, "\n")] = 0;
	return strcmp(was, boot_id) != 0;
}

int
store_marker_set(const char *env_path, const char *boot_id)
{
	char path[4200], dir[4200];
	s_marker_path(env_path, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return errno;
	size_t n = strlen(boot_id);
	int rc = write(fd, boot_id, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0 ?
	    0 : errno;
	close(fd);
	/* The new file's directory entry must reach the disk too. */
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (rc == 0 && slash) {
		*slash = 0;
		rc = store_fsync_path(dir);
	}
	return rc;
}

void
store_marker_clear(const char *env_path)
{
	char path[4200];
	s_marker_path(env_path, path, sizeof path);
	unlink(path);
}
