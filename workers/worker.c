/*
 * jiceng-worker: applies the journal for one domain (membership, meetings,
 * funds) to state/<domain>.mdb, reports its cursor to jicengd, and forwards
 * mobility status changes for the status stream. Started by jicengd only.
 *
 * Loop duties: apply what is new (batched); tell jicengd the new cursor;
 * heartbeat every heartbeat_ms even when idle; leave when jicengd says STOP,
 * on SIGTERM, or when jicengd is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "be64.h"
#include "checkpoint.h"
#include "config.h"
#include "fold.h"
#include "journal.h"
#include "log.h"
#include "store.h"
#include "wire.h"
#include "now.h"


static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
	(void)sig;
	s_stop = 1;
}

/* The state map is written in place (MDB_WRITEMAP): a write the kernel
 * cannot back with disk is SIGBUS. That is storage failing, not an event
 * crashing the worker, so it must not count towards quarantine: say so and
 * exit with EX_IOERR. */
static void
s_on_sigbus(int sig)
{
	static const char msg[] = "<3>jiceng-worker: the state file could not be written "
	    "(SIGBUS: disk full or I/O error); exiting\n";
	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(74);
}

struct worker {
	int fd;                      /* the socketpair to jicengd (wire.h) */
	int applying_fd;             /* run_dir/<domain>.applying, written in single-step */
	enum domain domain;
	struct journal *journal;
	struct fold *fold;
	struct checkpoint *checkpoint;  /* NULL: none taken (checkpoint_enabled) */
	uint64_t single_step_until;  /* apply one event per txn up to this seq */
	pid_t parent;
	int state_guard;             /* from fold_rebuild: held while the state env is open */
};

static void
s_on_status(void *arg, uint64_t seq, const void *packed, size_t len)
{
	struct worker *w = arg;
	if (len > WIRE_MAX_PAYLOAD) {
		log_warn("status change of seq %llu too large to forward", (unsigned long long)seq);
		return;
	}
	if (wire_send(w->fd, true, WIRE_STATUS, w->domain, seq, packed, len) < 0)
		log_warn("status change of seq %llu not forwarded", (unsigned long long)seq);
}

static void
s_usage(void)
{
	fprintf(stderr,
	    "usage: jiceng-worker --domain D --config FILE [--data-dir DIR] [--run-dir DIR]\n"
	    "                     [--derived-dir DIR] [--single-step-until SEQ] [-v]\n"
	    "Started by jicengd; not meant to be run by hand.\n");
	exit(2);
}

static void
s_parse_args(int argc, char **argv, struct config *cfg, struct worker *w)
{
	static const struct option opts[] = {
		CONFIG_CHILD_OPTIONS,
		{ "domain", required_argument, NULL, 'd' },
		{ "single-step-until", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_child_args a = { 0 };
	char err[512];
	int c;
	w->domain = DOMAIN_NONE;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		if (c == 'd')
			w->domain = codec_domain_from_name(optarg);
		else if (c == 's')
			w->single_step_until = strtoull(optarg, NULL, 10);
		else if (!config_child_option(&a, c, optarg))
			s_usage();
	}
	if (w->domain == DOMAIN_NONE)
		s_usage();
	if (config_child_load(cfg, &a, err, sizeof err) < 0)
		fatalx("%s", err);
	static char role[32];
	snprintf(role, sizeof role, "worker/%s", codec_domain_name(w->domain));
	log_init(role, a.verbose);
}

/* Wait up to timeout_ms for jicengd (or, with room_wanted, for room to send
 * it a report), then take every message waiting: the journal's end (a
 * wake-up: the fold reads the end itself) or STOP. */
static void
s_drain_socket(struct worker *w, int timeout_ms, bool room_wanted)
{
	struct pollfd p = { w->fd, POLLIN | (room_wanted ? POLLOUT : 0), 0 };
	struct wire_msg m;
	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	for (;;) {
		int r = wire_recv(w->fd, &m);
		if (r == 0)
			return;
		if (r < 0 && errno == EPROTO)
			fatalx("bad message from jicengd");
		if (r < 0)
			fatalx("jicengd is gone; exiting");
		if (m.h.type == WIRE_STOP)
			s_stop = 1;
		else if (m.h.type != WIRE_JOURNAL_END)
			fatalx("unexpected message type %u from jicengd", m.h.type);
	}
}

/* In single-step mode, record the seq about to be applied, so that after a
 * crash jicengd knows which event the worker died on (see children.c). The
 * page cache keeps it across the crash; no fsync is needed. */
static void
s_mark_applying(struct worker *w, uint64_t seq)
{
	uint8_t b[8];
	be64_put(b, seq);
	if (w->applying_fd >= 0 && pwrite(w->applying_fd, b, 8, 0) != 8)
		log_warn("cannot record the event being applied");
}

static void
s_run(struct worker *w, const struct config *cfg)
{
	int64_t last_report = 0;
	uint64_t reported = (uint64_t)-1;
	while (!s_stop) {
		unsigned applied = 0;
		bool careful = fold_cursor(w->fold) < w->single_step_until;
		if (careful)
			s_mark_applying(w, fold_cursor(w->fold) + 1);
		int rc = fold_step(w->fold, careful ? 1 : FOLD_BATCH, FOLD_BATCH, careful, &applied);
		if (rc == MDB_MAP_FULL)
			fatalx("state map full even after doubling it: is the disk full? (state_map_mb = %llu)",
			    (unsigned long long)cfg->state_map_mb);
		if (rc)
			fatalx("applying after seq %llu: %s",
			    (unsigned long long)fold_cursor(w->fold), mdb_strerror(rc));
		checkpoint_tick(w->checkpoint, w->journal, fold_cursor(w->fold));
		int64_t now = now_mono_ms();
		bool unsent = false;
		if (fold_cursor(w->fold) != reported || now - last_report >= cfg->heartbeat_ms) {
			/* Never blocks: a full channel means jicengd is busy, and the
			 * report goes when there is room (or at SIGTERM, not at all). */
			if (wire_send(w->fd, false, WIRE_APPLIED, w->domain, fold_cursor(w->fold), NULL, 0) == 0) {
				reported = fold_cursor(w->fold);
				last_report = now;
			} else if (errno == EAGAIN) {
				unsent = true;
			} else {
				fatal("cannot report to jicengd");
			}
		}
		if (getppid() != w->parent)
			fatalx("jicengd is gone; exiting");
		s_drain_socket(w, applied ? 0 : cfg->heartbeat_ms, unsent);
	}
}

/* jicengd kills a child it has not heard from in ten heartbeats: a long
 * rebuild or restore says it is alive as it goes. */
static void
s_alive(struct worker *w, uint64_t done, const char *stopping)
{
	if (wire_send(w->fd, true, WIRE_REBUILDING, w->domain, done, NULL, 0) == 0)
		return;
	if (errno != EINTR || !s_stop)
		fatal("cannot report to jicengd");
	log_info("%s", stopping);
	exit(0);
}

static void
s_rebuild_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)total;
	s_alive(arg, done, "stopping during the rebuild (the state in place stays)");
}

static void
s_restore_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)total;
	s_alive(arg, done, "stopping during the restore from a checkpoint (none in place yet)");
}

static void
s_rebuild(const struct config *cfg, struct worker *w, const char *state)
{
	char err[512];
	int64_t t0 = now_mono_ns();
	s_rebuild_progress(w, 0, 0);
	const char *hold = getenv("JICENG_FAULT_REBUILD_HOLD");  /* tests: wait while it exists */
	while (hold && access(hold, F_OK) == 0) {
		s_rebuild_progress(w, 0, 0);
		usleep(20000);
	}
	if (w->state_guard >= 0)
		close(w->state_guard);  /* the env it guarded is closed */
	w->state_guard = -1;
	if (fold_rebuild(cfg->data_dir, state, w->domain, cfg, &w->state_guard, s_rebuild_progress, w,
	    err, sizeof err) < 0)
		fatalx("rebuilding %s: %s", state, err);
	log_info("rebuilt %s from the journal in %.1f s", state, (double)(now_mono_ns() - t0) / 1e9);
}

static void
s_open_journal(const struct config *cfg, struct journal **j)
{
	int rc;
	if ((rc = journal_open(j, cfg->data_dir, cfg->journal_map_mb, cfg->journal_map_max_mb, true)))
		fatalx("cannot open the journal in %s: %s", cfg->data_dir, mdb_strerror(rc));
}

static void
s_open_fold(const struct config *cfg, struct worker *w, struct journal *j, const char *state)
{
	int rc;
	if ((rc = fold_open(&w->fold, j, w->domain, state, cfg)))
		fatalx("cannot open %s: %s", state, mdb_strerror(rc));
}

static void
s_open(const struct config *cfg, struct worker *w, struct journal **j, const char *state)
{
	s_open_journal(cfg, j);
	s_open_fold(cfg, w, *j, state);
}

/* A state file the machine went down with (its open marker is from another
 * boot), or one ahead of the journal (the journal's last commit never
 * reached the disk), is rebuilt before anything is applied to it. Both
 * rebuilds run with no journal or state handle open in this process. None
 * at all (a first start, a new derived_dir, a tmpfs after a reboot) is
 * restored from the domain's checkpoint when one fits the journal
 * (checkpoint.h), else created empty; the loop applies the rest of the
 * journal to it. */
static void
s_open_checked(const struct config *cfg, struct worker *w, struct journal **j,
    const char *state, const char *boot)
{
	char was[64];
	bool missing = access(state, F_OK) != 0 && errno == ENOENT;
	if (!missing && store_marker_stale(state, boot, was, sizeof was)) {
		log_warnx("%s was open when the machine went down (boot %s): its pages may be torn; "
		    "rebuilding it from the journal", state, was);
		s_rebuild(cfg, w, state);
	}
	s_open_journal(cfg, j);
	uint64_t end = 0, at = 0;
	journal_end(*j, &end);
	if (missing && checkpoint_enabled(cfg) &&
	    checkpoint_restore(cfg, w->domain, *j, state, s_restore_progress, w, &at))
		log_info("restored from checkpoint %s/%s.mdb at cursor %llu; applying the journal's "
		    "%llu events after it", cfg->checkpoint_dir, codec_domain_name(w->domain),
		    (unsigned long long)at, (unsigned long long)(end - at));
	else if (missing && end > 0)
		log_info("%s does not exist: applying the journal's %llu events from the start", state,
		    (unsigned long long)end);
	s_open_fold(cfg, w, *j, state);
	if (fold_cursor(w->fold) > end) {
		log_warnx("%s is ahead of the journal (cursor %llu, journal ends at %llu): the machine "
		    "went down before the journal's last commit reached the disk; rebuilding it from "
		    "the journal", state, (unsigned long long)fold_cursor(w->fold), (unsigned long long)end);
		fold_destroy(&w->fold);
		journal_close(j);
		s_rebuild(cfg, w, state);
		s_open(cfg, w, j, state);
	}
	int rc = store_marker_set(state, boot);
	if (rc)
		log_warnx("cannot write %s.open (%s): a machine crash would go unnoticed", state, strerror(rc));
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct worker w = { .fd = -1, .state_guard = -1 };
	struct journal *j = NULL;
	char path[CONFIG_PATH_MAX + 64], state[CONFIG_PATH_MAX + 64], boot[64];

	w.parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	s_parse_args(argc, argv, &cfg, &w);
	/* Not SA_RESTART: a report blocked on a full channel gives way to a stop. */
	struct sigaction stop = { .sa_handler = s_on_signal };
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGINT, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);  /* a file size limit: EFBIG, an error like a full disk */
	signal(SIGBUS, s_on_sigbus);

	if ((w.fd = wire_child_fd()) < 0)
		fatalx("no channel to jicengd on fd %d: started by hand?", WIRE_CHILD_FD);
	fold_state_path(cfg.derived_dir, w.domain, state, sizeof state);
	if (store_boot_id(boot, sizeof boot) < 0)
		log_warnx("cannot read the kernel's boot id: a machine crash would go unnoticed");
	s_open_checked(&cfg, &w, &j, state, boot);
	w.journal = j;
	if (w.domain == DOMAIN_MEMBERSHIP)   /* the one worker that answers for them */
		fold_on_status(w.fold, s_on_status, &w);
	w.applying_fd = -1;
	if (w.single_step_until) {
		snprintf(path, sizeof path, "%s/%s.applying", cfg.run_dir, codec_domain_name(w.domain));
		if ((w.applying_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640)) < 0)
			log_warn("open %s", path);
	}
	/* Logged first: jicengd's "ready", which the hello may bring, follows it. */
	log_info("started at cursor %llu%s", (unsigned long long)fold_cursor(w.fold),
	    w.single_step_until ? " (single-step after a crash)" : "");
	if (wire_send(w.fd, true, WIRE_HELLO, w.domain, fold_cursor(w.fold), NULL, 0) < 0 &&
	    !(errno == EINTR && s_stop))
		fatal("cannot report to jicengd");
	if (checkpoint_enabled(&cfg))
		checkpoint_start(&w.checkpoint, &cfg, w.domain, w.fold);

	s_run(&w, &cfg);

	checkpoint_stop(&w.checkpoint);
	log_info("stopping at cursor %llu", (unsigned long long)fold_cursor(w.fold));
	fold_destroy(&w.fold);  /* flushes the state file */
	if (w.state_guard >= 0)
		close(w.state_guard);
	store_marker_clear(state);
	journal_close(&j);
	close(w.fd);
	return 0;
}
