/*
 * jiceng-mirror: publishes the journal to a NATS JetStream stream, in seq
 * order, each record once every running worker has decided it, followed by
 * the status changes it caused (mirror.proto; docs/operations.md, "JetStream
 * mirror"). Started by jicengd when [mirror] enabled = true; it gates
 * nothing there: ingest never waits for it.
 *
 * Loop duties: take the position from the stream's last message whenever
 * the connection is new or a round failed (the stream wins over the local
 * cursor); publish a round of what is decided after it and wait for the
 * acks; store the new position (mirror.mdb) only after them; heartbeat to
 * jicengd every heartbeat_ms with the journal seq the stream holds; warn
 * when NATS is unreachable or the lag passes [mirror] lag_warn_events, say
 * when it has caught up; retry NATS with backoff; leave on STOP, SIGTERM,
 * or when jicengd is gone.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "mirror.h"
#include "now.h"
#include "wire.h"

#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 5000
#define IDLE_MAX_MS 8            /* longest nap when nothing is decided yet */
#define LAG_REWARN_MS 60000
#define MIRROR_NICE 10

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
	(void)sig;
	s_stop = 1;
}

struct mirror {
	struct config cfg;
	int parent;                  /* the socketpair to jicengd (wire.h) */
	pid_t ppid;
	struct source *src;
	struct publisher *pub;
	MDB_env *cursor;             /* mirror.mdb */
	struct mirror_pos pos;       /* the last message the stream acknowledged */
	uint64_t durable;            /* the journal is on disk through this seq (jicengd) */
	struct mirror_health health;
	bool synced;                 /* pos read from the stream since the last trouble */
	bool outage;                 /* trouble warned of, not yet over */
	bool tried;                  /* NATS was tried once: lag warnings may go */
	bool lost;                   /* the trouble was a lost connection: retry as
	                              * soon as libnats has it back */
	int64_t retry_at;            /* monotonic ms of the next attempt at NATS */
	unsigned backoff_ms;
	unsigned idle_ms;
	int64_t beat_at;             /* last heartbeat, monotonic ms */
	bool behind;                 /* a warning was given; say when caught up */
	int64_t lag_warned_at;       /* monotonic ms, 0: not over the threshold */
	struct mirror_batch batch;
};

static void s_beat(struct mirror *m);

/* ---------------------------------------------------------- health */

static void
s_health(struct mirror *m, bool connected, const char *error)
{
	if (m->health.connected == connected && strcmp(m->health.error, error) == 0)
		return;
	m->health.connected = connected;
	m->health.since = now_wall_ms();
	snprintf(m->health.error, sizeof m->health.error, "%s", error);
	int rc = mirror_cursor_put_health(m->cursor, &m->health);
	if (rc)
		log_warnx("cannot record the mirror's health: %s", mdb_strerror(rc));
}

/* NATS refused or failed: warn once per outage, retry with backoff. */
static void
s_trouble(struct mirror *m, const char *what)
{
	if (!m->outage)
		log_warnx("NATS %s: %s; ingest carries on, the stream lags behind the journal "
		    "(retrying)", m->cfg.mirror_servers, what);
	else
		log_debug("NATS still failing: %s", what);
	m->outage = m->behind = true;
	m->synced = false;
	m->lost = !publisher_connected(m->pub);
	s_health(m, false, what);
	m->retry_at = now_mono_ms() + m->backoff_ms;
	m->backoff_ms = m->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->backoff_ms * 2;
}

/* Take the position from the stream's last message. */
static void
s_sync(struct mirror *m)
{
	struct mirror_pos spos;
	char err[512];
	if (now_mono_ms() < m->retry_at)
		return;
	m->tried = true;
	int rc = publisher_ready(m->pub, err, sizeof err);
	s_beat(m);  /* each step may wait for NATS a few seconds */
	if (rc < 0 || publisher_last(m->pub, &spos, err, sizeof err) < 0) {
		s_trouble(m, err);
		return;
	}
	uint64_t end = source_journal_end(m->src);
	if (spos.seq > end) {
		snprintf(err, sizeof err, "流超前于日志 / the stream %s holds journal seq %" PRIu64
		    " but this journal ends at %" PRIu64 ": it is another server's stream, or this "
		    "journal lost its tail; nothing is published", m->cfg.mirror_stream, spos.seq, end);
		s_trouble(m, err);
		return;
	}
	if (spos.seq != m->pos.seq || spos.next_index != m->pos.next_index ||
	    spos.stream_seq != m->pos.stream_seq)
		log_info("the stream %s holds the journal through seq %" PRIu64 " (stream sequence %"
		    PRIu64 "); the local cursor said %" PRIu64 ": continuing from the stream's",
		    m->cfg.mirror_stream, spos.seq, spos.stream_seq, m->pos.seq);
	spos.acked_at = m->pos.acked_at;
	m->pos = spos;
	if ((rc = mirror_cursor_put_pos(m->cursor, &m->pos)))
		log_warnx("cannot record the mirror's position: %s", mdb_strerror(rc));
	if (!m->health.connected)
		log_info("publishing to stream %s on %s from journal seq %" PRIu64,
		    m->cfg.mirror_stream, m->cfg.mirror_servers, m->pos.seq + 1);
	m->outage = false;
	s_health(m, true, "");
	m->synced = true;
	m->backoff_ms = RETRY_MIN_MS;
}

/* ---------------------------------------------------------- publishing */

/* One round: what is decided and on disk after pos, published and
 * acknowledged. Returns the messages acknowledged (0: nothing was ready). */
static unsigned
s_round(struct mirror *m)
{
	char err[512];
	int rc = source_fill(m->src, &m->pos, m->durable, &m->batch);
	if (rc) {
		if (rc != MDB_NOTFOUND)  /* no worker environment yet */
			log_error("reading the journal after seq %" PRIu64 ": %s", m->pos.seq,
			    mdb_strerror(rc));
		return 0;
	}
	if (m->batch.n == 0)
		return 0;
	if (!publisher_connected(m->pub)) {
		s_trouble(m, "connection lost, reconnecting");
		return 0;
	}
	unsigned ok = publisher_send(m->pub, &m->batch, &m->pos, err, sizeof err);
	if (ok > 0 && (rc = mirror_cursor_put_pos(m->cursor, &m->pos)))
		log_warnx("cannot record the mirror's position: %s", mdb_strerror(rc));
	if (ok < m->batch.n)
		s_trouble(m, err);
	return ok;
}

/* ---------------------------------------------------------- jicengd */

/* Messages from jicengd, waiting up to ms for one. */
static void
s_listen(struct mirror *m, int ms)
{
	struct pollfd p = { m->parent, POLLIN, 0 };
	struct wire_msg w;
	int r;
	if (poll(&p, 1, ms) <= 0)
		return;
	while ((r = wire_recv(m->parent, &w)) > 0)
		if (w.h.type == WIRE_STOP)
			s_stop = 1;
		else if (w.h.type == WIRE_JOURNAL_END)
			m->durable = w.h.value;
	if (r < 0)
		fatalx("jicengd is gone; exiting");
}

/* Once a heartbeat: tell jicengd, watch the lag. */
static void
s_beat(struct mirror *m)
{
	int64_t now = now_mono_ms();
	if (now - m->beat_at < m->cfg.heartbeat_ms)
		return;
	m->beat_at = now;
	source_drop_replaced(m->src);
	/* A full channel: jicengd is busy; the next beat goes. */
	if (wire_send(m->parent, false, WIRE_APPLIED, -1, m->pos.seq, NULL, 0) < 0 && errno != EAGAIN)
		fatal("cannot report to jicengd");
	if (getppid() != m->ppid)
		fatalx("jicengd is gone; exiting");
	uint64_t end = source_journal_end(m->src);
	uint64_t lag = end > m->pos.seq ? end - m->pos.seq : 0;
	if (lag >= m->cfg.mirror_lag_warn_events && m->tried) {
		if (!m->lag_warned_at || now - m->lag_warned_at >= LAG_REWARN_MS) {
			log_warnx("the stream lags %" PRIu64 " events behind the journal (it holds through "
			    "seq %" PRIu64 ", the journal ends at %" PRIu64 ")%s%s", lag, m->pos.seq, end,
			    m->health.connected ? "" : "; not publishing: ", m->health.error);
			m->lag_warned_at = now;
			m->behind = true;
		}
	} else if (lag == 0 && m->behind && m->synced) {
		log_info("caught up: the stream holds the journal through seq %" PRIu64
		    " (stream sequence %" PRIu64 ")", m->pos.seq, m->pos.stream_seq);
		m->behind = false;
		m->lag_warned_at = 0;
	}
}

/* ---------------------------------------------------------- main */

static void
s_parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = { CONFIG_CHILD_OPTIONS, { NULL, 0, NULL, 0 } };
	struct config_child_args a = { 0 };
	char err[512];
	int c;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1)
		if (!config_child_option(&a, c, optarg)) {
			fprintf(stderr, "usage: jiceng-mirror --config FILE --data-dir DIR --run-dir DIR "
			    "--derived-dir DIR --workers LIST\n"
			    "Started by jicengd when [mirror] enabled = true; not meant to be run by hand.\n");
			exit(2);
		}
	if (config_child_load(cfg, &a, err, sizeof err) < 0)
		fatalx("%s", err);
	log_init("mirror", a.verbose);
}

static void
s_open(struct mirror *m)
{
	char path[CONFIG_PATH_MAX + 16], err[512];
	int rc;
	if ((m->parent = wire_child_fd()) < 0)
		fatalx("no channel to jicengd on fd %d: started by hand?", WIRE_CHILD_FD);
	if (source_open(&m->src, &m->cfg, err, sizeof err))
		fatalx("%s", err);
	mirror_cursor_path(m->cfg.derived_dir, path, sizeof path);
	if ((rc = mirror_cursor_open(&m->cursor, path)))
		fatalx("cannot open %s: %s", path, mdb_strerror(rc));
	if ((rc = mirror_cursor_get(m->cursor, &m->pos, &m->health)))
		fatalx("cannot read %s: %s", path, mdb_strerror(rc));
	if (publisher_new(&m->pub, &m->cfg))
		fatalx("out of memory");
	m->backoff_ms = RETRY_MIN_MS;
	s_health(m, false, "connecting");
}

int
main(int argc, char **argv)
{
	static struct mirror m;
	m.ppid = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	s_parse_args(argc, argv, &m.cfg);
	signal(SIGTERM, s_on_signal);
	signal(SIGINT, s_on_signal);
	signal(SIGHUP, SIG_IGN);   /* jicengd's reload: [mirror] is read at start */
	signal(SIGPIPE, SIG_IGN);
	/* Ingest comes first: when the machine is busy the mirror yields and
	 * lags, and catches up when the load falls. */
	if (setpriority(PRIO_PROCESS, 0, MIRROR_NICE) < 0)
		log_warn("cannot lower the mirror's priority");
	s_open(&m);
	log_info("mirroring to stream %s (subjects %s.>) on %s", m.cfg.mirror_stream,
	    m.cfg.mirror_subject_prefix, m.cfg.mirror_servers);
	if (wire_send(m.parent, true, WIRE_HELLO, -1, m.pos.seq, NULL, 0) < 0)
		fatal("cannot report to jicengd");
	while (!s_stop) {
		s_beat(&m);
		if (publisher_reconnected(m.pub) && m.synced) {
			log_info("reconnected to NATS: reading where the stream ends");
			m.synced = false;
		}
		if (!m.synced) {
			if (m.lost && publisher_connected(m.pub))
				m.retry_at = 0;
			s_sync(&m);
			if (!m.synced) {
				int64_t wait = m.retry_at - now_mono_ms();
				s_listen(&m, wait <= 0 ? 0 : wait > 100 ? 100 : (int)wait);
				continue;
			}
		}
		if (s_round(&m) > 0) {
			m.idle_ms = 0;
			s_listen(&m, 0);
		} else {
			m.idle_ms = m.idle_ms ? (m.idle_ms * 2 > IDLE_MAX_MS ? IDLE_MAX_MS : m.idle_ms * 2) : 1;
			s_listen(&m, (int)m.idle_ms);
		}
	}
	log_info("stopping: the stream holds the journal through seq %" PRIu64, m.pos.seq);
	publisher_destroy(&m.pub);
	mirror_batch_free(&m.batch);
	source_close(&m.src);
	mdb_env_close(m.cursor);
	close(m.parent);
	nats_Close();
	return 0;
}
