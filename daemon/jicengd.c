/*
 * jicengd: the broker and supervisor. Owns the journal (its only writer),
 * the township-facing sockets and the child processes; runs in the
 * foreground and logs to stderr for journald.
 *
 * The loop's duties, each pass:
 *   - signals (signalfd): SIGTERM/SIGINT stop, SIGHUP reload, SIGCHLD reap,
 *     SIGUSR1 promote (a standby, on jicengctl promote's request);
 *   - children's messages: cursors (acks become due), status changes;
 *   - ingest: read and group-commit what clients sent, unless the backlog
 *     of journaled-but-unapplied events is over max_backlog (then pause,
 *     and after backlog_pause_ms answer RETRY_LATER); a standby instead
 *     group-commits what it follows from the stream (same pause) and
 *     answers every client RETRY_LATER STANDBY;
 *   - every 100 ms: start children that are due, heartbeat checks,
 *     READY=1 once all children are up, WATCHDOG=1 while they stay up;
 *   - every hour boundary: journal a Tick (not while following: the
 *     primary's come through the stream); every second: persist counters,
 *     publish the status heartbeat (the change log's head), a standby's lag;
 *     every [metrics] interval_s: the Prometheus text file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "be64.h"
#include "broker.h"
#include "iddigest.h"
#include "idnum.h"
#include "log.h"
#include "metrics.h"

#define COUNTERS_QUIET_MS 100  /* ingest quiet this long: store the broker counters */
#define HOUR_MS 3600000LL
#define DRAIN_MS 5000  /* on stop, how long owed acks may still be sent */

static bool s_follow;  /* --follow */

/* ---------------------------------------------------------- options */

static void
s_usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: jicengd [options]\n"
	    "  --config FILE       config file (default: the embedded defaults)\n"
	    "  --data-dir DIR      journal and state (default /var/lib/jiceng)\n"
	    "  --derived-dir DIR   ids.mdb and state/, which the journal rebuilds when\n"
	    "                      missing (default: the data dir)\n"
	    "  --ingest ENDPOINT   township ROUTER (default tcp://127.0.0.1:7400)\n"
	    "  --status ENDPOINT   status PUB (default tcp://127.0.0.1:7401)\n"
	    "  --query ENDPOINT    query ROUTER (default tcp://127.0.0.1:7402)\n"
	    "  --workers LIST      domains to run, comma-separated (default: membership,\n"
	    "                      the only domain whose rules this build implements)\n"
	    "  --follow            a standby: build the journal from the mirror's JetStream\n"
	    "                      stream ([standby]) and refuse ingest until promoted\n"
	    "  --print-config      print the embedded default config and exit\n"
	    "  -v, --verbose       debug logging\n"
	    "Runs in the foreground; logs to stderr with syslog priority prefixes.\n");
	exit(status);
}

static void
s_parse_args(struct broker *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "ingest", required_argument, NULL, 'i' },
		{ "status", required_argument, NULL, 's' },
		{ "query", required_argument, NULL, 'q' },
		{ "workers", required_argument, NULL, 'w' },
		{ "derived-dir", required_argument, NULL, 'e' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "follow", no_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *over[6] = { 0 };
	char err[512], abs[PATH_MAX];
	int c;
	config_defaults(&b->cfg);
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!realpath(optarg, abs) || strlen(abs) >= sizeof b->config_path)
				fatal("config %s", optarg);
			snprintf(b->config_path, sizeof b->config_path, "%s", abs);
			if (config_load(&b->cfg, b->config_path, err, sizeof err) < 0)
				fatalx("%s", err);
			break;
		case 'D': over[0] = optarg; break;
		case 'i': over[1] = optarg; break;
		case 's': over[2] = optarg; break;
		case 'q': over[3] = optarg; break;
		case 'w': over[4] = optarg; break;
		case 'e': over[5] = optarg; break;
		case 'P': fputs(config_default_text(), stdout); exit(0);
		case 'F': s_follow = true; break;
		case 'v': b->verbose++; break;
		case 'h': s_usage(0); break;
		default: s_usage(2);
		}
	}
	if (optind < argc)
		s_usage(2);
	static const char *keys[6] = { "data_dir", "ingest", "status", "query", "workers", "derived_dir" };
	for (int i = 0; i < 6; i++)
		if (over[i] && config_set(&b->cfg, "daemon", keys[i], over[i], err, sizeof err) < 0)
			fatalx("--%s: %s", keys[i], err);
	if (over[0]) {
		mkdir(over[0], 0750);
		if (realpath(over[0], abs))
			snprintf(b->cfg.data_dir, sizeof b->cfg.data_dir, "%.500s", abs);
	}
	config_finish(&b->cfg);
}

static void
s_exe_dir(struct broker *b)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		fatal("readlink /proc/self/exe");
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(b->exe_dir, sizeof b->exe_dir, "%.500s", self);
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof probe, "%s/jiceng-worker", b->exe_dir);
	if (access(probe, X_OK) != 0) {
		/* Installed layout: sbin/jicengd, libexec/jiceng/jiceng-worker. */
		snprintf(probe, sizeof probe, "%s/../libexec/jiceng", self);
		if (realpath(probe, self))
			snprintf(b->exe_dir, sizeof b->exe_dir, "%.500s", self);
	}
}

/* ---------------------------------------------------------- set-up */

/* A standby that had to make its own ID blind-index key must not be
 * promoted with it: the primary's ID digests would match nothing (R4). The
 * key's digest is noted beside it (<key>.standby-made) until a key that is
 * not that one, the primary's copied there, takes its place. */
static void
s_standby_key_mark(struct broker *b, bool made_now)
{
	char path[CONFIG_PATH_MAX + 16], hex[2 * crypto_generichash_BYTES + 1], noted[sizeof hex] = "";
	uint8_t h[crypto_generichash_BYTES];
	snprintf(path, sizeof path, "%s.standby-made", b->cfg.id_key_file);
	crypto_generichash(h, sizeof h, b->id_key, sizeof b->id_key, NULL, 0);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	if (made_now) {
		FILE *f = fopen(path, "w");
		if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0)
			fatal("write %s", path);
	} else {
		FILE *f = fopen(path, "r");
		if (!f)
			return;
		if (!fgets(noted, sizeof noted, f))
			noted[0] = 0;
		fclose(f);
		if (strcmp(noted, hex) != 0) {
			unlink(path);
			log_info("ID blind-index key %s is no longer the one this standby made", b->cfg.id_key_file);
			return;
		}
	}
	b->id_key_standby_made = true;
	log_warnx("standby: ID blind-index key %s was made here: it is not the primary's; stop "
	    "jicengd and copy the primary's there before this node is promoted (promotion is refused "
	    "until then) or asked about ID numbers", b->cfg.id_key_file);
}

static void
s_prepare_dirs(struct broker *b)
{
	char path[CONFIG_PATH_MAX + 32];
	mkdir(b->cfg.data_dir, 0750);
	if (mkdir(b->cfg.derived_dir, 0750) < 0 && errno != EEXIST)
		fatal("mkdir %s (derived_dir)", b->cfg.derived_dir);
	char abs[PATH_MAX];
	if (realpath(b->cfg.derived_dir, abs))  /* the children may start elsewhere */
		snprintf(b->cfg.derived_dir, sizeof b->cfg.derived_dir, "%.500s", abs);
	snprintf(path, sizeof path, "%s/state", b->cfg.derived_dir);
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		fatal("mkdir %s", path);
	struct statfs fs;
	bool in_memory = statfs(b->cfg.derived_dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
	log_info("derived files (ids.mdb, state/) in %s%s", b->cfg.derived_dir,
	    in_memory ? " (in memory: after a reboot they come back from the checkpoints and "
	    "the journal)" : "");
	if (mkdir(b->cfg.run_dir, 0750) < 0 && errno != EEXIST)
		fatal("mkdir %s", b->cfg.run_dir);
	bool fresh_key = access(b->cfg.id_key_file, F_OK) != 0;
	if (idnum_key_load(b->cfg.id_key_file, true, b->id_key) < 0)
		fatal("ID blind-index key %s", b->cfg.id_key_file);
	s_standby_key_mark(b, fresh_key && (s_follow || b->cfg.standby_enabled));
	snprintf(path, sizeof path, "%s/jicengd.pid", b->cfg.run_dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

/* Events journaled before jicengd digested ID numbers may hold them in
 * clear: mark where digesting began, and say so at every start until
 * jicengctl scrub-ids has digested them. */
static void
s_check_clear_ids(struct broker *b)
{
	MDB_txn *txn = NULL;
	uint64_t since;
	uint8_t v[8];
	bool stored;
	int rc = iddigest_since(b->journal, &since, &stored);
	if (rc == 0 && !stored) {
		be64_put(v, since);
		if ((rc = journal_write_begin(b->journal, &txn)) == 0 &&
		    (rc = journal_meta_put(b->journal, txn, IDDIGEST_META_SINCE, v, sizeof v)) == 0)
			rc = journal_commit(b->journal, txn);
		else if (txn)
			journal_write_abort(b->journal, txn);
		if (rc == 0)
			rc = journal_sync(b->journal);
	}
	if (rc)
		fatalx("journal meta %s: %s", IDDIGEST_META_SINCE, mdb_strerror(rc));
	if (since > 1)
		log_warnx("journal.mdb: events 1-%llu were journaled before jiceng digested resident ID "
		    "numbers and may hold them in clear; stop jicengd and run jicengctl scrub-ids",
		    (unsigned long long)(since - 1));
}

static void
s_open_journal(struct broker *b)
{
	int rc = journal_open_at(&b->journal, b->cfg.data_dir, b->cfg.derived_dir,
	    b->cfg.journal_map_mb, b->cfg.journal_map_max_mb, false);
	if (rc)
		fatalx("cannot open the journal in %s: %s", b->cfg.data_dir, mdb_strerror(rc));
	if (journal_ids_rebuilt(b->journal))
		log_warnx("dedupe index ids.mdb built anew from the journal: %s",
		    journal_ids_rebuilt(b->journal));
	log_info("journal %s/journal.mdb: %llu events, map %llu MiB, %zu dedupe keys read back",
	    b->cfg.data_dir, (unsigned long long)journal_committed_end(b->journal),
	    (unsigned long long)(journal_map_size(b->journal) >> 20), journal_ids_read_back(b->journal));
	rc = journal_tail_start(b->journal, (uint64_t)b->cfg.journal_fill_ahead_mb << 20);
	if (rc)
		log_info("journal_fill_ahead_mb: not filling ahead (%s); group commits append instead",
		    strerror(rc));
	else if (b->cfg.journal_fill_ahead_mb)
		log_debug("journal: keeping %u MiB written past its last page",
		    b->cfg.journal_fill_ahead_mb);
	s_check_clear_ids(b);
}

static int
s_signalfd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);  /* a file size limit: EFBIG, answered STORAGE_FULL */
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal("signalfd");
	return fd;
}

/* ---------------------------------------------------------- time */

static void
s_tick(struct broker *b, int64_t at)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__Tick t = JICENG__V1__TICK__INIT;
	t.at = at;
	e.event_id = "tick";
	e.township_id = "";
	e.occurred_at = at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_TICK;
	e.tick = &t;
	int rc = ingest_journal_system(b, &e);
	if (rc)
		log_error("could not journal the Tick: %s", mdb_strerror(rc));
	else
		log_debug("Tick at seq %llu", (unsigned long long)journal_committed_end(b->journal));
}

/* Said once: filling the journal ahead stopped (a full disk, an I/O
 * error); commits then append, slower but whole. */
static void
s_check_fill_ahead(struct broker *b)
{
	static bool said;
	uint64_t written;
	int err;
	if (!said && journal_tail_stats(b->journal, &written, &err) && err) {
		log_warnx("journal: filling ahead stopped (%s) after %llu MiB; group commits append "
		    "from now on", strerror(err), (unsigned long long)(written >> 20));
		said = true;
	}
}

static void
s_periodic(struct broker *b, int64_t *last_ms, int64_t *last_counters, int64_t *last_watchdog,
    int64_t watchdog_ms)
{
	int64_t now = now_mono_ms();
	if (now - *last_ms < 100)
		return;
	*last_ms = now;
	children_start_due(b);
	children_check_health(b);
	bool up = children_all_up(b);
	if (up && !b->ready_sent) {
		/* Logged first: whoever READY=1 wakes finds the line written. */
		log_info("ready: %u children up, ingest %s", b->nchildren, b->cfg.ingest);
		sd_notify(0, "READY=1\nSTATUS=all children up");
		b->ready_sent = true;
	}
	if (up && watchdog_ms && now - *last_watchdog >= watchdog_ms / 2) {
		sd_notify(0, "WATCHDOG=1");
		*last_watchdog = now;
	}
	if (!b->following && now_wall_ms() >= b->next_tick_ms) {
		s_tick(b, b->next_tick_ms);
		b->next_tick_ms = (now_wall_ms() / HOUR_MS + 1) * HOUR_MS;
	}
	if (now - *last_counters >= 1000 || now - b->read_at_ms >= COUNTERS_QUIET_MS) {
		ingest_flush_counters(b);
		*last_counters = now;
		s_check_fill_ahead(b);
	}
	if (now - b->heartbeat_at_ms >= 1000) {
		children_status_heartbeat(b);
		follow_periodic(b);
		b->heartbeat_at_ms = now;
	}
	if (b->cfg.metrics_textfile[0] && now - b->metrics_at_ms >= (int64_t)b->cfg.metrics_interval_s * 1000) {
		metrics_write(b);
		b->metrics_at_ms = now;
	}
}

/* ---------------------------------------------------------- signals */

static void
s_reload(struct broker *b)
{
	struct config next;
	char err[512];
	config_defaults(&next);
	if (b->config_path[0] && config_load(&next, b->config_path, err, sizeof err) < 0) {
		log_error("reload refused, keeping the running config: %s", err);
		return;
	}
	b->cfg.rules = next.rules;
	b->cfg.max_backlog = next.max_backlog;
	b->cfg.backlog_pause_ms = next.backlog_pause_ms;
	b->cfg.max_batch = next.max_batch;
	b->cfg.commit_interval_us = next.commit_interval_us;
	memcpy(b->cfg.townships, next.townships, sizeof next.townships);
	b->cfg.ntownships = next.ntownships;
	if (b->auth && auth_reload(b->auth) < 0)
		log_error("could not reread keys in %s; keeping the old ones", b->cfg.keys_dir);
	else if (b->auth)
		ingest_status_rebind(b);
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].domain == DOMAIN_NONE && b->children[i].pid)
			kill(b->children[i].pid, SIGHUP);
	log_info("reloaded %s", b->config_path[0] ? b->config_path : "(embedded defaults)");
	if (!b->following)  /* a standby's rules come through the stream */
		ingest_sync_rules(b);
}

/* What a primary journals at start, before any client event: RulesChanged
 * when the config's rules are not the journal's, and a Tick; then one at
 * every hour boundary. At start, and when a standby is promoted. */
static void
s_primary_start(struct broker *b)
{
	if (ingest_sync_rules(b))
		fatalx("could not journal the rule settings");
	int64_t now = now_wall_ms();
	s_tick(b, now);
	b->next_tick_ms = (now / HOUR_MS + 1) * HOUR_MS;
}

static void
s_signals(struct broker *b, int fd)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: stopping", si.ssi_signo);
			b->stopping = true;
			break;
		case SIGHUP:
			s_reload(b);
			break;
		case SIGUSR1:
			if (follow_promote(b) == 1) {
				s_primary_start(b);
				children_promoted(b);
			}
			break;
		case SIGCHLD: {
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				children_reaped(b, pid, status);
			break;
		}
		}
	}
}

/* ---------------------------------------------------------- loop */

/* Wakes the loop when the next group commit may start (ns from now). */
static void
s_pace_timer_arm(int fd, int64_t ns)
{
	struct itimerspec it = { .it_value = { ns / 1000000000, ns % 1000000000 } };
	if (timerfd_settime(fd, 0, &it, NULL) < 0)
		fatal("timerfd_settime");
}

static void
s_loop(struct broker *b, int sigfd)
{
	int64_t last_periodic = 0, last_counters = 0, last_watchdog = 0;
	uint64_t wd_usec = 0;
	int64_t watchdog_ms = sd_watchdog_enabled(0, &wd_usec) > 0 ? (int64_t)(wd_usec / 1000) : 0;
	bool committed = false;
	int pacefd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pacefd < 0)
		fatal("timerfd_create");
	while (!b->stopping) {
		bool over = ingest_backlog(b) >= b->cfg.max_backlog;
		int64_t now = now_mono_ms();
		/* The next group commit's flush carries the last one's; without
		 * one starting right away, flush now rather than hold its acks. */
		bool more = b->following ? follow_pending(b) : ingest_waiting(b);
		if (journal_sync_pending(b->journal) &&
		    !(committed && !over && ingest_pace_ns(b) == 0 && more))
			ingest_sync(b);
		committed = false;
		int64_t pace = over ? 0 : ingest_pace_ns(b);
		if (pace > 0)
			s_pace_timer_arm(pacefd, pace);
		if (!over)
			b->paused_since_ms = 0;
		else if (!b->paused_since_ms)
			b->paused_since_ms = now;
		bool refusing = over && now - b->paused_since_ms >= b->cfg.backlog_pause_ms;
		bool follow = b->following && !over && pace == 0;
		zmq_pollitem_t items[6 + BROKER_MAX_CHILDREN] = {
			{ NULL, sigfd, ZMQ_POLLIN, 0 },
			{ b->auth ? auth_socket(b->auth) : NULL, b->auth ? 0 : -1, b->auth ? ZMQ_POLLIN : 0, 0 },
			{ b->status, 0, b->curve_status ? ZMQ_POLLIN : 0, 0 },
			{ b->ingest, 0, (b->following || (!over && pace == 0) || refusing) ? ZMQ_POLLIN : 0, 0 },
			{ NULL, pacefd, pace > 0 ? ZMQ_POLLIN : 0, 0 },
			{ NULL, follow_fd(b), follow ? ZMQ_POLLIN : 0, 0 },
		};
		unsigned nc = children_pollitems(b, items + 6);
		int wait = follow && follow_pending(b) ? 0 : 100;
		if (zmq_poll(items, 6 + (int)nc, wait) < 0 && zmq_errno() != EINTR)
			fatalx("poll: %s", zmq_strerror(zmq_errno()));
		if (items[4].revents) {
			uint64_t expirations;
			if (read(pacefd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
				fatal("read timerfd");
		}
		if (items[1].revents && auth_handle(b->auth) < 0)
			log_warn("ZAP handler");
		if (items[2].revents)
			ingest_status_subscriptions(b);
		if (items[0].revents)
			s_signals(b, sigfd);
		children_handle(b, items + 6, nc);
		if (follow && b->following && (items[5].revents || follow_pending(b)))
			committed = follow_drain(b) > 0;
		if (items[3].revents) {
			if (b->following)
				ingest_refuse_standby(b);
			else if (refusing)
				ingest_refuse_backlog(b);
			else
				committed = ingest_read(b) > 0;
		}
		s_periodic(b, &last_periodic, &last_counters, &last_watchdog, watchdog_ms);
	}
	close(pacefd);
}

static size_t
s_owed(struct broker *b)
{
	size_t n = 0;
	for (unsigned i = 0; i < b->nchildren; i++)
		n += b->children[i].pending.n;
	return n;
}

/* On stop, ingest is no longer read, but the acks already owed are sent as
 * the workers pass them, for up to DRAIN_MS (a second signal cuts it short):
 * a client then has little or nothing to resend after a restart. */
static void
s_drain(struct broker *b, int sigfd)
{
	int64_t until = now_mono_ms() + DRAIN_MS;
	ingest_sync(b);
	size_t owed = s_owed(b);
	if (owed == 0)
		return;
	log_info("stopping: waiting up to %d ms for %zu owed acks", DRAIN_MS, owed);
	b->stopping = false;
	while (s_owed(b) > 0 && now_mono_ms() < until && !b->stopping) {
		zmq_pollitem_t items[1 + BROKER_MAX_CHILDREN] = {
			{ NULL, sigfd, ZMQ_POLLIN, 0 },
		};
		unsigned nc = children_pollitems(b, items + 1);
		if (zmq_poll(items, 1 + (int)nc, 50) < 0 && zmq_errno() != EINTR)
			break;
		if (items[0].revents)
			s_signals(b, sigfd);
		children_handle(b, items + 1, nc);
		children_start_due(b);
	}
	b->stopping = true;
	log_info("stopping: %zu acks still owed (clients resend them safely)", s_owed(b));
}

int
main(int argc, char **argv)
{
	static struct broker b;
	s_parse_args(&b, argc, argv);
	log_init("jicengd", b.verbose);
	s_exe_dir(&b);
	s_prepare_dirs(&b);
	int sigfd = s_signalfd();
	s_open_journal(&b);
	b.zctx = zmq_ctx_new();
	if (ingest_open(&b) < 0)
		return 1;
	if (b.cfg.ntownships == 0)
		log_info("townships not set: events of any well-formed township code are taken");
	if (follow_init(&b, s_follow) < 0)
		return 1;
	children_init(&b);
	if (!b.following)
		s_primary_start(&b);
	if (follow_start(&b) < 0)
		return 1;
	children_start_due(&b);
	s_loop(&b, sigfd);

	sd_notify(0, "STOPPING=1");
	s_drain(&b, sigfd);
	children_stop_all(&b);
	follow_destroy(&b.follow);
	ingest_flush_counters(&b);
	zmq_close(b.ingest);
	zmq_close(b.status);
	auth_destroy(&b.auth);
	zmq_ctx_term(b.zctx);
	journal_close(&b.journal);
	log_info("stopped");
	return 0;
}
