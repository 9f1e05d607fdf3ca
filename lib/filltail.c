/*
 * filltail: see filltail.h. The thread sleeps FILLTAIL_CHECK_MS between
 * looks while enough is written ahead. Writer and thread share one mutex;
 * the thread writes a chunk only while marked busy and never while the
 * writer holds. While topping up it takes a turn between two transactions
 * (the writer waits one chunk), so a writer that never pauses cannot
 * starve it.
 */
#include "filltail.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILLTAIL_CHECK_MS 50

struct filltail {
	MDB_env *env;
	int fd;
	uint64_t ahead;
	void *zeros;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;      /* the thread: stop, or the writer released */
	pthread_cond_t idle;      /* the writer: the thread's chunk is done */
	bool stop, held, busy;
	bool waiting;             /* the thread: for the writer's release */
	bool turn;                /* the thread: a chunk before the next transaction */
	unsigned wanting;         /* writers waiting to hold */
	uint64_t written;
	int error;
};

/* Bytes of env in use, and its map size. Called with the mutex held and no
 * write transaction open, so the meta pages are still. */
static void
s_env_extent(struct filltail *t, uint64_t *used, uint64_t *cap)
{
	MDB_envinfo info;
	MDB_stat st;
	mdb_env_info(t->env, &info);
	mdb_env_stat(t->env, &st);
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*cap = info.me_mapsize;
}

static void
s_timed_wait(struct filltail *t, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&t->wake, &t->mu, &ts);
}

/* With the mutex held and the writer out: how many bytes to write at *off
 * (0: enough is there). refilling: a top-up under way goes on to ahead. */
static size_t
s_next_chunk(struct filltail *t, bool refilling, off_t *off)
{
	uint64_t used, cap;
	struct stat sb;
	if (fstat(t->fd, &sb) < 0) {
		t->error = errno;
		return 0;
	}
	s_env_extent(t, &used, &cap);
	uint64_t size = (uint64_t)sb.st_size;
	uint64_t want = used + (refilling ? t->ahead : t->ahead / 2);
	if (want > cap)
		want = cap;
	if (size >= want || size % 4096)
		return 0;
	*off = (off_t)size;
	return want - size < FILLTAIL_CHUNK ? (size_t)((want - size + 4095) / 4096 * 4096) : FILLTAIL_CHUNK;
}

static void *
s_run(void *arg)
{
	struct filltail *t = arg;
	bool refilling = false;
	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		off_t off;
		size_t len;
		/* A top-up under way asks for a turn between two transactions;
		 * otherwise the writer goes first. */
		if (t->held || (t->wanting && !t->turn)) {
			if (t->held && refilling)
				t->turn = true;
			t->waiting = true;
			s_timed_wait(t, FILLTAIL_CHECK_MS);
			t->waiting = false;
			continue;
		}
		if (t->error || (len = s_next_chunk(t, refilling, &off)) == 0) {
			refilling = t->turn = false;
			pthread_cond_broadcast(&t->idle);
			s_timed_wait(t, FILLTAIL_CHECK_MS);
			continue;
		}
		refilling = true;
		t->busy = true;
		t->turn = false;
		pthread_mutex_unlock(&t->mu);
		/* A write cut short (a full disk, a file size limit) is followed
		 * by one that says why. */
		size_t done = 0;
		int err = 0;
		while (done < len && !err) {
			ssize_t n = pwrite(t->fd, t->zeros, len - done, off + (off_t)done);
			if (n > 0)
				done += (size_t)n;
			else if (n == 0)
				err = EIO;
			else if (errno != EINTR)
				err = errno;
		}
		pthread_mutex_lock(&t->mu);
		t->busy = false;
		pthread_cond_broadcast(&t->idle);
		pthread_mutex_unlock(&t->mu);
		/* The new size and blocks reach the disk here, not in the
		 * writer's next flush (a flush writes no page, so the writer
		 * may run meanwhile). */
		if (!err && fdatasync(t->fd) < 0)
			err = errno;
		pthread_mutex_lock(&t->mu);
		if (err)
			t->error = err;
		t->written += done;
	}
	t->turn = false;
	pthread_cond_broadcast(&t->idle);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int
filltail_start(struct filltail **out, MDB_env *env, uint64_t ahead)
{
	const char *path;
	int rc;
	*out = NULL;
	if ((rc = mdb_env_get_path(env, &path)))
		return rc;
	struct filltail *t = calloc(1, sizeof *t);
	if (!t)
		return ENOMEM;
	t->env = env;
	t->ahead = (ahead + FILLTAIL_CHUNK - 1) / FILLTAIL_CHUNK * FILLTAIL_CHUNK;
	if ((t->fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC)) < 0) {
		rc = errno;
		free(t);
		return rc;
	}
	if ((rc = posix_memalign(&t->zeros, 4096, FILLTAIL_CHUNK)))
		goto fail;
	memset(t->zeros, 0, FILLTAIL_CHUNK);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->wake, NULL);
	pthread_cond_init(&t->idle, NULL);
	if ((rc = pthread_create(&t->thread, NULL, s_run, t))) {
		pthread_cond_destroy(&t->idle);
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->mu);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	free(t->zeros);
	close(t->fd);
	free(t);
	return rc;
}

void
filltail_stop(struct filltail **tp)
{
	struct filltail *t = *tp;
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->idle);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->mu);
	close(t->fd);
	free(t->zeros);
	free(t);
	*tp = NULL;
}

void
filltail_hold(struct filltail *t)
{
	pthread_mutex_lock(&t->mu);
	t->wanting++;
	while (t->busy || t->turn)
		pthread_cond_wait(&t->idle, &t->mu);
	t->wanting--;
	t->held = true;
	pthread_mutex_unlock(&t->mu);
}

void
filltail_release(struct filltail *t)
{
	pthread_mutex_lock(&t->mu);
	t->held = false;
	if (t->waiting)
		pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
}

uint64_t
filltail_written(struct filltail *t, int *error)
{
	pthread_mutex_lock(&t->mu);
	uint64_t written = t->written;
	*error = t->error;
	pthread_mutex_unlock(&t->mu);
	return written;
}
