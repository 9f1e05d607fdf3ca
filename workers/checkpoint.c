/*
 * checkpoint: the worker's checkpoint thread, and the restore at its start
 * (checkpoint.h).
 *
 * The thread shares the live env with the main thread, which keeps
 * applying: the copy reads a snapshot in a read transaction of the
 * thread's own (the env has no MDB_NOTLS; each thread has its own reader
 * slot). Two things it must not do. It must not read the env while the
 * main thread grows the map (mdb_env_set_mapsize unmaps it): the fold
 * calls s_remap around that, which abandons a copy under way and waits
 * until the thread is out. And it must not read the journal, whose map
 * the main thread may adopt anew at any read: the digest of the record at
 * the copy's cursor is asked of the main thread (checkpoint_tick).
 *
 * The copy is mdb_env_copyfd2 with MDB_CP_COMPACT into a file opened as
 * mdb_env_copy2 opens its target (LMDB 0.9.24 mdb_fopen, MDB_O_COPY: new,
 * then O_DIRECT through fcntl where the file system has it), so that a copy
 * can be abandoned: its descriptor is replaced by /dev/full, and LMDB's
 * writer thread stops at the next write (ENOSPC).
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "now.h"
#include "store.h"

#define S_SEAL_MAGIC "jiceng-checkpoint 1"
#define S_NICE 10
#define S_RESTORE_CHUNK ((size_t)64 << 20)
#define S_PATH (CONFIG_PATH_MAX + 48)
/* s_seal: the copy's cursor is 0 (nothing applied yet), nothing to seal. */
#define S_EMPTY (-1)

struct checkpoint {
	pthread_t thread;
	pthread_mutex_t lock;        /* the fields from want_seq on */
	pthread_cond_t cond;         /* any of them changed */
	struct fold *fold;
	MDB_env *env;
	enum domain domain;
	unsigned interval_s;
	const char *hold;            /* JICENG_FAULT_CHECKPOINT_HOLD (tests) */
	char mdb[S_PATH], seal[S_PATH], mdb_tmp[S_PATH + 8], seal_tmp[S_PATH + 8];
	char dir[CONFIG_PATH_MAX];
	uint64_t last;               /* the cursor of the checkpoint in place (thread) */
	_Atomic uint64_t cursor;     /* the main thread's, at its last tick */
	atomic_bool wanted;          /* the thread waits for a digest of want_seq */
	uint64_t want_seq;
	uint8_t digest[CHECKPOINT_DIGEST_LEN];
	int digest_rc;
	int copy_fd;                 /* the copy being written, -1 */
	bool copying, abandoned, remapping, stop;
};

/* ---------------------------------------------------------- names, seals */

bool
checkpoint_enabled(const struct config *cfg)
{
	struct stat a, b;
	if (!cfg->checkpoint_interval_s)
		return false;
	if (stat(cfg->derived_dir, &a) == 0 && stat(cfg->data_dir, &b) == 0)
		return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
	return strcmp(cfg->derived_dir, cfg->data_dir) != 0;
}

void
checkpoint_paths(const char *dir, enum domain d, char *mdb, char *seal, size_t len)
{
	snprintf(mdb, len, "%s/%s.mdb", dir, codec_domain_name(d));
	snprintf(seal, len, "%s/%s.seal", dir, codec_domain_name(d));
}

size_t
checkpoint_seal_format(const struct checkpoint_seal *s, char *out, size_t len)
{
	char hex[2 * CHECKPOINT_DIGEST_LEN + 1];
	sodium_bin2hex(hex, sizeof hex, s->record, sizeof s->record);
	int n = snprintf(out, len, S_SEAL_MAGIC "\ndomain %s\ncursor %" PRIu64 "\nrecord %s\n",
	    codec_domain_name(s->domain), s->cursor, hex);
	return n < 0 ? 0 : (size_t)n;
}

int
checkpoint_seal_parse(const char *text, struct checkpoint_seal *s)
{
	char domain[32], hex[2 * CHECKPOINT_DIGEST_LEN + 2], tail;
	uint64_t cursor;
	size_t bin;
	size_t magic = strlen(S_SEAL_MAGIC);
	if (strncmp(text, S_SEAL_MAGIC "\n", magic + 1) != 0 ||
	    sscanf(text + magic + 1, "domain %31s cursor %" SCNu64 " record %33s %c", domain,
	    &cursor, hex, &tail) != 3 || strlen(hex) != 2 * CHECKPOINT_DIGEST_LEN ||
	    text[strlen(text) - 1] != '\n')
		return -1;
	s->domain = codec_domain_from_name(domain);
	if (s->domain == DOMAIN_NONE || cursor == 0 ||
	    sodium_hex2bin(s->record, sizeof s->record, hex, strlen(hex), NULL, &bin, NULL) != 0 ||
	    bin != CHECKPOINT_DIGEST_LEN)
		return -1;
	s->cursor = cursor;
	return 0;
}

/* Read the seal at path: 0, or -1 (missing, unreadable, not a seal). */
static int
s_seal_read(const char *path, struct checkpoint_seal *s)
{
	char text[CHECKPOINT_SEAL_MAX + 1];
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(text, 1, CHECKPOINT_SEAL_MAX, f);
	fclose(f);
	text[n] = 0;
	return n == 0 || n == CHECKPOINT_SEAL_MAX ? -1 : checkpoint_seal_parse(text, s);
}

int
checkpoint_record_digest(struct journal *j, uint64_t seq, uint8_t out[CHECKPOINT_DIGEST_LEN])
{
	struct journal_record r;
	MDB_txn *txn;
	int rc = journal_read_begin(j, &txn);
	if (rc)
		return rc;
	if (sodium_init() < 0) {
		mdb_txn_abort(txn);
		return ENOSYS;
	}
	if ((rc = journal_get(j, txn, seq, &r)) == 0)
		crypto_generichash(out, CHECKPOINT_DIGEST_LEN, r.raw, r.raw_len, NULL, 0);
	mdb_txn_abort(txn);
	return rc;
}

/* The cursor stored in the state env at path, opened read-only and
 * without a lock file (nothing else has it open). */
static int
s_env_cursor(const char *path, uint64_t *cursor)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 1);
	if ((rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NORDAHEAD,
	    0)) == 0 && (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
			rc = fold_cursor_get(txn, meta, cursor);
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

static void
s_dir_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
}

/* Remove mdb and seal (their names said by the caller). */
static void
s_remove(const char *mdb, const char *seal)
{
	char dir[S_PATH];
	unlink(seal);
	unlink(mdb);
	s_dir_of(mdb, dir, sizeof dir);
	store_fsync_path(dir);
}

int
checkpoint_discard(const struct config *cfg, enum domain d)
{
	char mdb[S_PATH], seal[S_PATH], tmp[S_PATH + 8];
	int removed = 0;
	checkpoint_paths(cfg->checkpoint_dir, d, mdb, seal, sizeof mdb);
	const char *const names[] = { mdb, seal };
	for (int i = 0; i < 2; i++) {
		snprintf(tmp, sizeof tmp, "%s.tmp", names[i]);
		unlink(tmp);
		if (unlink(names[i]) == 0)
			removed = 1;
		else if (errno != ENOENT)
			return -1;
	}
	if (removed)
		store_fsync_path(cfg->checkpoint_dir);
	return removed;
}

/* ---------------------------------------------------------- restore */

/* Copy src into a new file dst, in chunks (in the kernel: no user-space
 * buffer), and drop src's pages from the page cache after. dst is not
 * flushed: it is derived state. Returns 0 or an errno. */
static int
s_copy_file(const char *src, const char *dst, fold_progress_fn progress, void *arg)
{
	struct stat st;
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	if (in < 0)
		return errno;
	if (fstat(in, &st) < 0 ||
	    (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0) {
		rc = errno;
		goto done;
	}
	for (off_t done = 0; done < st.st_size;) {
		size_t chunk = (size_t)(st.st_size - done) < S_RESTORE_CHUNK ?
		    (size_t)(st.st_size - done) : S_RESTORE_CHUNK;
		ssize_t n = sendfile(out, in, NULL, chunk);
		if (n <= 0) {
			rc = n < 0 ? errno : EIO;  /* 0: src shrank under us */
			goto done;
		}
		done += n;
		if (progress)
			progress(arg, (uint64_t)done, (uint64_t)st.st_size);
	}
	posix_fadvise(in, 0, 0, POSIX_FADV_DONTNEED);
done:
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = errno;
	close(in);
	return rc;
}

/* Does the checkpoint sealed by s fit journal j? Logs why not. */
static bool
s_fits(const char *mdb, const struct checkpoint_seal *s, struct journal *j)
{
	uint8_t digest[CHECKPOINT_DIGEST_LEN];
	uint64_t end = 0;
	int rc = journal_end(j, &end);
	if (rc == 0 && s->cursor > end) {
		log_warnx("checkpoint %s is at cursor %" PRIu64 ", past the journal's end (%" PRIu64 "): "
		    "the journal is older than the checkpoint (restored from a backup, or its last "
		    "commit was lost with the machine); removing the checkpoint, applying the journal "
		    "from the start", mdb, s->cursor, end);
		return false;
	}
	if (rc == 0 && (rc = checkpoint_record_digest(j, s->cursor, digest)) == 0 &&
	    sodium_memcmp(digest, s->record, sizeof digest) != 0) {
		log_warnx("checkpoint %s was not taken from this journal (its record at seq %" PRIu64
		    " is another); removing the checkpoint, applying the journal from the start",
		    mdb, s->cursor);
		return false;
	}
	if (rc) {
		log_warnx("checkpoint %s: cannot read the journal at seq %" PRIu64 " (%s); removing the "
		    "checkpoint, applying the journal from the start", mdb, s->cursor, mdb_strerror(rc));
		return false;
	}
	return true;
}

bool
checkpoint_restore(const struct config *cfg, enum domain d, struct journal *j,
    const char *state, fold_progress_fn progress, void *arg, uint64_t *cursor)
{
	char mdb[S_PATH], seal_path[S_PATH], tmp[CONFIG_PATH_MAX + 80];
	struct checkpoint_seal seal;
	uint64_t at = 0;
	checkpoint_paths(cfg->checkpoint_dir, d, mdb, seal_path, sizeof mdb);
	if (access(mdb, F_OK) != 0)
		return false;
	if (s_seal_read(seal_path, &seal) < 0 || seal.domain != d) {
		log_warnx("checkpoint %s has no seal %s that this version reads: removing the "
		    "checkpoint, applying the journal from the start", mdb, seal_path);
		s_remove(mdb, seal_path);
		return false;
	}
	if (!s_fits(mdb, &seal, j)) {
		s_remove(mdb, seal_path);
		return false;
	}
	snprintf(tmp, sizeof tmp, "%s.restore", state);
	unlink(tmp);
	int rc = s_copy_file(mdb, tmp, progress, arg);
	if (rc) {
		log_warnx("cannot copy checkpoint %s to %s (%s): applying the journal from the start",
		    mdb, tmp, strerror(rc));
		unlink(tmp);
		return false;
	}
	if ((rc = s_env_cursor(tmp, &at)) || at != seal.cursor) {
		log_warnx("checkpoint %s does not hold what its seal says (cursor %" PRIu64 ", %s): "
		    "removing it, applying the journal from the start", mdb, seal.cursor,
		    rc ? mdb_strerror(rc) : "another cursor");
		unlink(tmp);
		s_remove(mdb, seal_path);
		return false;
	}
	if (rename(tmp, state) < 0) {
		log_warn("rename %s", tmp);
		unlink(tmp);
		return false;
	}
	*cursor = at;
	return true;
}

/* ---------------------------------------------------------- the thread */

/* Under cp->lock: make a copy under way stop at its next write. */
static void
s_abandon(struct checkpoint *cp)
{
	if (!cp->copying || cp->abandoned)
		return;
	cp->abandoned = true;
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (full >= 0) {
		dup3(full, cp->copy_fd, O_CLOEXEC);
		close(full);
	}  /* else the copy runs to its end, and is then thrown away */
}

/* The fold's fold_remap_fn. */
static void
s_remap(void *arg, bool before)
{
	struct checkpoint *cp = arg;
	pthread_mutex_lock(&cp->lock);
	cp->remapping = before;
	if (before) {
		s_abandon(cp);
		while (cp->copying)
			pthread_cond_wait(&cp->cond, &cp->lock);
	}
	pthread_mutex_unlock(&cp->lock);
}

static bool
s_stopping(struct checkpoint *cp)
{
	pthread_mutex_lock(&cp->lock);
	bool stop = cp->stop;
	pthread_mutex_unlock(&cp->lock);
	return stop;
}

/* The target of a copy, opened as mdb_env_copy2 opens it. */
static int
s_copy_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	int flags;
	if (fd >= 0 && (flags = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, flags | O_DIRECT);
	return fd;
}

/* Copy the env into mdb_tmp, flushed: 0, ECANCELED when abandoned (a
 * remap or a stop), or an error. *bytes: the copy's size. */
static int
s_copy(struct checkpoint *cp, off_t *bytes)
{
	struct stat st = { 0 };
	unlink(cp->mdb_tmp);
	int fd = s_copy_open(cp->mdb_tmp), rc;
	if (fd < 0)
		return errno;
	pthread_mutex_lock(&cp->lock);
	bool go = !cp->stop && !cp->remapping;
	if (go) {
		cp->copying = true;
		cp->copy_fd = fd;
	}
	pthread_mutex_unlock(&cp->lock);
	rc = go ? mdb_env_copyfd2(cp->env, fd, MDB_CP_COMPACT) : ECANCELED;
	pthread_mutex_lock(&cp->lock);
	if (cp->abandoned)
		rc = ECANCELED;
	cp->copying = cp->abandoned = false;
	cp->copy_fd = -1;
	pthread_cond_broadcast(&cp->cond);
	pthread_mutex_unlock(&cp->lock);
	if (rc == 0 && (fdatasync(fd) < 0 || fstat(fd, &st) < 0))
		rc = errno;
	if (close(fd) < 0 && rc == 0)
		rc = errno;
	*bytes = rc ? 0 : st.st_size;
	return rc;
}

/* The digest of the journal's record at seq, from the main thread. */
static int
s_digest_wait(struct checkpoint *cp, uint64_t seq, uint8_t out[CHECKPOINT_DIGEST_LEN])
{
	pthread_mutex_lock(&cp->lock);
	cp->want_seq = seq;
	atomic_store(&cp->wanted, true);
	while (atomic_load(&cp->wanted) && !cp->stop)
		pthread_cond_wait(&cp->cond, &cp->lock);
	int rc = cp->stop ? ECANCELED : cp->digest_rc;
	memcpy(out, cp->digest, CHECKPOINT_DIGEST_LEN);
	atomic_store(&cp->wanted, false);
	pthread_mutex_unlock(&cp->lock);
	return rc;
}

static int
s_write_seal(const char *path, const struct checkpoint_seal *s)
{
	char text[CHECKPOINT_SEAL_MAX];
	size_t n = checkpoint_seal_format(s, text, sizeof text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), rc = 0;
	if (fd < 0)
		return errno;
	errno = 0;
	if (write(fd, text, n) != (ssize_t)n || fdatasync(fd) < 0)
		rc = errno ? errno : EIO;
	if (close(fd) < 0 && rc == 0)
		rc = errno;
	return rc;
}

/* Seal the copy in mdb_tmp and put both in place. */
static int
s_seal(struct checkpoint *cp, uint64_t *cursor)
{
	struct checkpoint_seal s = { .domain = cp->domain };
	int rc = s_env_cursor(cp->mdb_tmp, &s.cursor);
	if (rc == 0 && s.cursor == 0)
		rc = S_EMPTY;
	if (rc || (rc = s_digest_wait(cp, s.cursor, s.record)))
		return rc;
	while (cp->hold && access(cp->hold, F_OK) == 0 && !s_stopping(cp))
		usleep(20000);
	if (s_stopping(cp))
		return ECANCELED;
	if ((rc = s_write_seal(cp->seal_tmp, &s)))
		return rc;
	/* A crash between the renames, or before the directory is flushed,
	 * may pair a copy with the other seal: the restore finds that their
	 * cursors differ and uses neither. */
	if (rename(cp->mdb_tmp, cp->mdb) < 0 || rename(cp->seal_tmp, cp->seal) < 0)
		return errno;
	*cursor = s.cursor;
	return store_fsync_path(cp->dir);
}

/* One checkpoint: 0 taken (or nothing to take), ECANCELED abandoned, else
 * an error (logged). */
static int
s_take(struct checkpoint *cp)
{
	int64_t t0 = now_mono_ns(), copied;
	uint64_t cursor = 0;
	off_t bytes = 0;
	int rc = s_copy(cp, &bytes);
	copied = now_mono_ns() - t0;
	if (rc == 0)
		rc = s_seal(cp, &cursor);
	if (rc) {
		unlink(cp->mdb_tmp);
		unlink(cp->seal_tmp);
		if (rc != ECANCELED && rc != S_EMPTY)
			log_warnx("checkpoint %s not taken: %s", cp->mdb, mdb_strerror(rc));
		return rc == S_EMPTY ? 0 : rc;
	}
	cp->last = cursor;
	log_info("checkpoint %s taken at cursor %" PRIu64 ": %.1f MiB copied in %.2f s", cp->mdb,
	    cursor, (double)bytes / (1 << 20), (double)copied / 1e9);
	return 0;
}

/* CLOCK_MONOTONIC ms milliseconds from now. */
static struct timespec
s_due(uint64_t ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static bool
s_passed(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *
s_main(void *arg)
{
	struct checkpoint *cp = arg;
	/* The worker's stop signals are the main thread's; this thread, and
	 * LMDB's writer thread it starts, yield the CPU to the fold. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), S_NICE) < 0)
		log_warn("checkpoint thread: setpriority");
	/* The workers' first copies a third of an interval apart, and so all
	 * of them after: one copy at a time. */
	uint64_t every = (uint64_t)cp->interval_s * 1000;
	pthread_mutex_lock(&cp->lock);
	struct timespec due = s_due(every + every * (unsigned)cp->domain / DOMAIN_COUNT);
	while (!cp->stop) {
		pthread_cond_timedwait(&cp->cond, &cp->lock, &due);
		if (cp->stop || !s_passed(&due))
			continue;
		bool moved = atomic_load(&cp->cursor) != cp->last;
		pthread_mutex_unlock(&cp->lock);
		/* Abandoned for a grown map: again at once. */
		int rc = moved ? s_take(cp) : 0;
		pthread_mutex_lock(&cp->lock);
		due = s_due(rc == ECANCELED ? 0 : every);
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}

/* Remove what a worker killed while it checkpointed left behind. */
static void
s_remove_unfinished(const char *path)
{
	if (unlink(path) == 0)
		log_info("removed %s, left by a checkpoint that did not finish", path);
	else if (errno != ENOENT)
		log_warn("cannot remove %s", path);
}

int
checkpoint_start(struct checkpoint **out, const struct config *cfg, enum domain d,
    struct fold *f)
{
	struct checkpoint_seal seal;
	pthread_condattr_t ca;
	struct checkpoint *cp = calloc(1, sizeof *cp);
	int rc;
	*out = NULL;
	if (!cp)
		return ENOMEM;
	if (mkdir(cfg->checkpoint_dir, 0750) < 0 && errno != EEXIST) {
		rc = errno;
		log_warn("cannot create checkpoint_dir %s: no checkpoints", cfg->checkpoint_dir);
		free(cp);
		return rc;
	}
	cp->fold = f;
	cp->env = fold_env(f);
	cp->domain = d;
	cp->interval_s = cfg->checkpoint_interval_s;
	cp->hold = getenv("JICENG_FAULT_CHECKPOINT_HOLD");
	cp->copy_fd = -1;
	snprintf(cp->dir, sizeof cp->dir, "%s", cfg->checkpoint_dir);
	checkpoint_paths(cp->dir, d, cp->mdb, cp->seal, sizeof cp->mdb);
	snprintf(cp->mdb_tmp, sizeof cp->mdb_tmp, "%s.tmp", cp->mdb);
	snprintf(cp->seal_tmp, sizeof cp->seal_tmp, "%s.tmp", cp->seal);
	s_remove_unfinished(cp->mdb_tmp);
	s_remove_unfinished(cp->seal_tmp);
	if (s_seal_read(cp->seal, &seal) == 0 && seal.domain == d)
		cp->last = seal.cursor;
	pthread_mutex_init(&cp->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cp->cond, &ca);
	pthread_condattr_destroy(&ca);
	fold_on_remap(f, s_remap, cp);
	if ((rc = pthread_create(&cp->thread, NULL, s_main, cp))) {
		log_warnx("cannot start the checkpoint thread: %s", strerror(rc));
		fold_on_remap(f, NULL, NULL);
		pthread_cond_destroy(&cp->cond);
		pthread_mutex_destroy(&cp->lock);
		free(cp);
		return rc;
	}
	*out = cp;
	return 0;
}

void
checkpoint_tick(struct checkpoint *cp, struct journal *j, uint64_t cursor)
{
	uint8_t digest[CHECKPOINT_DIGEST_LEN];
	if (!cp)
		return;
	atomic_store_explicit(&cp->cursor, cursor, memory_order_relaxed);
	if (!atomic_load(&cp->wanted))
		return;
	pthread_mutex_lock(&cp->lock);
	uint64_t seq = cp->want_seq;
	pthread_mutex_unlock(&cp->lock);
	int rc = checkpoint_record_digest(j, seq, digest);
	pthread_mutex_lock(&cp->lock);
	memcpy(cp->digest, digest, sizeof digest);
	cp->digest_rc = rc;
	atomic_store(&cp->wanted, false);
	pthread_cond_broadcast(&cp->cond);
	pthread_mutex_unlock(&cp->lock);
}

void
checkpoint_stop(struct checkpoint **cpp)
{
	struct checkpoint *cp = *cpp;
	if (!cp)
		return;
	pthread_mutex_lock(&cp->lock);
	cp->stop = true;
	s_abandon(cp);
	pthread_cond_broadcast(&cp->cond);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	fold_on_remap(cp->fold, NULL, NULL);
	pthread_cond_destroy(&cp->cond);
	pthread_mutex_destroy(&cp->lock);
	free(cp);
	*cpp = NULL;
}
