/*
 * children: jicengd's supervised processes. One row per role in the table
 * below; fork+exec, restart with backoff, reap and log each death with role
 * and status, heartbeats, and quarantine of an event a worker keeps crashing
 * on. Also the dispatch of the children's typed messages, one socketpair
 * per child (wire.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "be64.h"
#include "broker.h"
#include "fold.h"
#include "log.h"
#include "membership.h"
#include "store.h"
#include "wire.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define STABLE_AFTER_MS 30000      /* up this long: backoff resets */
#define SILENT_HEARTBEATS 10       /* missed heartbeats before a kill */

/* optional: jiceng-mirror, run only when [mirror] enabled = true; it is
 * supervised like the others but never holds back READY or the watchdog
 * (ingest does not wait for it). Not on a standby that follows the stream
 * (its journal is the stream's): it starts when the standby is promoted. */
static const struct {
	const char *role;
	enum domain domain;
	const char *binary;
	bool optional;
} s_roles[] = {
	{ "membership", DOMAIN_MEMBERSHIP, "jiceng-worker", false },
	{ "meetings", DOMAIN_MEETINGS, "jiceng-worker", false },
	{ "funds", DOMAIN_FUNDS, "jiceng-worker", false },
	{ "query", DOMAIN_NONE, "jiceng-query", false },
	{ "mirror", DOMAIN_NONE, "jiceng-mirror", true },
};

/* Add the roles that run and are not there yet. */
static void
s_add_roles(struct broker *b)
{
	for (size_t i = 0; i < sizeof s_roles / sizeof s_roles[0]; i++) {
		bool have = false;
		for (unsigned k = 0; k < b->nchildren; k++)
			have |= b->children[k].role == s_roles[i].role;
		if (have || (s_roles[i].domain != DOMAIN_NONE && !b->cfg.workers[s_roles[i].domain]))
			continue;
		if (s_roles[i].optional && (!b->cfg.mirror_enabled || !follow_mirror_allowed(b)))
			continue;
		struct child *c = &b->children[b->nchildren++];
		memset(c, 0, sizeof *c);
		c->role = s_roles[i].role;
		c->domain = s_roles[i].domain;
		c->binary = s_roles[i].binary;
		c->optional = s_roles[i].optional;
		c->backoff_ms = BACKOFF_MIN_MS;
		c->fd = -1;
	}
}

void
children_init(struct broker *b)
{
	b->nchildren = 0;
	s_add_roles(b);
}

void
children_promoted(struct broker *b)
{
	s_add_roles(b);
}

struct child *
children_for_domain(struct broker *b, enum domain d)
{
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].domain == d && d != DOMAIN_NONE)
			return &b->children[i];
	return NULL;
}

static struct child *
s_by_pid(struct broker *b, pid_t pid)
{
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].pid == pid)
			return &b->children[i];
	return NULL;
}

/* Where a single-stepping worker records the seq it is applying. */
static void
s_applying_path(struct broker *b, struct child *c, char *path, size_t len)
{
	snprintf(path, len, "%s/%s.applying", b->cfg.run_dir, c->role);
}

/* ---------------------------------------------------------- state envs */

static void
s_state_close(struct child *c)
{
	membership_destroy(&c->membership);
	if (c->state)
		mdb_env_close(c->state);
	c->state = NULL;
}

int
children_open_state(struct broker *b, struct child *c)
{
	char path[CONFIG_PATH_MAX + 64];
	MDB_txn *txn;
	int rc;
	fold_state_path(b->cfg.derived_dir, c->domain, path, sizeof path);
	if ((rc = store_open_readonly(path, 64, &c->state)))
		goto fail;
	if ((rc = mdb_txn_begin(c->state, NULL, MDB_RDONLY, &txn)))
		goto fail;
	if ((rc = mdb_dbi_open(txn, "verdicts", 0, &c->verdicts)) ||
	    (rc = mdb_dbi_open(txn, "meta", 0, &c->meta)) ||
	    (c->domain == DOMAIN_MEMBERSHIP &&
	    (rc = membership_open_readonly(txn, &c->membership)))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) == 0)
		return 0;
fail:
	if (rc != MDB_NOTFOUND && rc != EAGAIN)  /* not created yet; being replaced */
		log_error("open %s read-only: %s", path, mdb_strerror(rc));
	s_state_close(c);
	return rc;
}

/* The cursor the worker last committed, read from its environment. */
static uint64_t
s_state_cursor(struct broker *b, struct child *c)
{
	MDB_txn *txn;
	uint64_t cur = c->cursor;
	if ((!c->state && children_open_state(b, c) != 0) || store_read_begin(c->state, &txn))
		return cur;
	if (fold_cursor_get(txn, c->meta, &cur))
		cur = c->cursor;
	mdb_txn_abort(txn);
	return cur;
}

/* ---------------------------------------------------------- start */

static void
s_exec_child(struct broker *b, struct child *c, int wire_fd)
{
	char bin[CONFIG_PATH_MAX + 32], until[32], workers[64] = "";
	const char *argv[20];
	int n = 0;
	for (int d = 0; d < DOMAIN_COUNT; d++)
		if (b->cfg.workers[d])
			snprintf(workers + strlen(workers), sizeof workers - strlen(workers), "%s%s",
			    workers[0] ? "," : "", codec_domain_name((enum domain)d));
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (wire_child_adopt(wire_fd) < 0) {
		fprintf(stderr, "<2>jicengd: %s: cannot pass the socket to jicengd: %s\n", c->role,
		    strerror(errno));
		_exit(127);
	}
	snprintf(bin, sizeof bin, "%s/%s", b->exe_dir, c->binary);
	argv[n++] = bin;
	if (c->domain != DOMAIN_NONE) {
		argv[n++] = "--domain";
		argv[n++] = c->role;
	}
	argv[n++] = "--config";
	argv[n++] = b->config_path[0] ? b->config_path : "-";
	argv[n++] = "--data-dir";
	argv[n++] = b->cfg.data_dir;
	argv[n++] = "--run-dir";
	argv[n++] = b->cfg.run_dir;
	argv[n++] = "--derived-dir";
	argv[n++] = b->cfg.derived_dir;
	if (c->domain == DOMAIN_NONE) {
		if (!c->optional) {
			argv[n++] = "--query";
			argv[n++] = b->cfg.query;
		}
		argv[n++] = "--workers";
		argv[n++] = workers;
	}
	if (c->single_step_until) {
		snprintf(until, sizeof until, "%llu", (unsigned long long)c->single_step_until);
		argv[n++] = "--single-step-until";
		argv[n++] = until;
	}
	if (b->verbose)
		argv[n++] = "-v";
	argv[n] = NULL;
	execv(bin, (char *const *)argv);
	fprintf(stderr, "<2>jicengd: exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

static void
s_close_channel(struct child *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
s_start(struct broker *b, struct child *c)
{
	char path[CONFIG_PATH_MAX + 32];
	int child_end;
	s_applying_path(b, c, path, sizeof path);
	unlink(path);
	s_close_channel(c);
	if (wire_pair(&c->fd, &child_end) < 0) {
		log_warn("socketpair for %s", c->role);
		c->restart_at_ms = now_mono_ms() + c->backoff_ms;
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_warn("fork for %s", c->role);
		close(child_end);
		s_close_channel(c);
		c->restart_at_ms = now_mono_ms() + c->backoff_ms;
		return;
	}
	if (pid == 0)
		s_exec_child(b, c, child_end);
	close(child_end);
	c->pid = pid;
	c->hello = false;
	c->started_ms = c->heard_ms = now_mono_ms();
	log_info("started %s (pid %d)", c->role, (int)pid);
}

void
children_start_due(struct broker *b)
{
	int64_t now = now_mono_ms();
	if (b->stopping)
		return;
	for (unsigned i = 0; i < b->nchildren; i++) {
		struct child *c = &b->children[i];
		if (c->pid == 0 && now >= c->restart_at_ms)
			s_start(b, c);
	}
}

/* ---------------------------------------------------------- deaths */

/* A crash is a death by a fault signal: what a poison event causes. An exit
 * with a status (fatalx: a full map, a bad config) is an environment problem
 * and is never held against an event. */
static bool
s_is_crash(int status)
{
	if (WIFEXITED(status))
		return false;
	int sig = WTERMSIG(status);
	return sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGFPE ||
	    sig == SIGILL || sig == SIGSYS;
}

static void
s_describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
}

struct quarantine {
	uint64_t seq;
	const char *reason;
};

static int
s_fill_quarantine(struct broker *b, MDB_txn *txn, void *arg)
{
	const struct quarantine *q = arg;
	const char *full = getenv("JICENG_FAULT_QUARANTINE_FULL");  /* tests: full while it exists */
	const char *was;
	char both[512];
	if (full && access(full, F_OK) == 0)
		return MDB_MAP_FULL;
	/* Another worker's quarantine of the same event stays: one clause
	 * each. A worker that crashed on it again after skipping its own part
	 * crashes in the part all workers share: the event is skipped by all. */
	if (journal_quarantined(b->journal, txn, q->seq, &was) == 0) {
		snprintf(both, sizeof both, "%s; %s%s", was, q->reason,
		    strstr(was, q->reason) ? " " FOLD_QUARANTINE_SHARED : "");
		return journal_quarantine(b->journal, txn, q->seq, both);
	}
	return journal_quarantine(b->journal, txn, q->seq, q->reason);
}

static void
s_quarantine(struct broker *b, struct child *c, uint64_t seq)
{
	char reason[128];
	snprintf(reason, sizeof reason, "%s worker crashed %u times applying it",
	    c->role, c->crashes_at_cursor);
	int rc = ingest_journal_write(b, s_fill_quarantine, &(struct quarantine){ seq, reason });
	if (rc) {
		log_error("could not quarantine seq %llu: %s", (unsigned long long)seq, mdb_strerror(rc));
		return;
	}
	if (c->domain == DOMAIN_MEMBERSHIP)
		log_error("quarantined event seq %llu: %s; every worker skips it, its ack is "
		    "INTERNAL_ERROR", (unsigned long long)seq, reason);
	else
		log_error("quarantined event seq %llu: %s; that worker skips its part, answering "
		    "INTERNAL_ERROR if the event is its own", (unsigned long long)seq, reason);
	c->crashes_at_cursor = 0;
}

/* The seq a single-stepping worker recorded before applying it, or 0. */
static uint64_t
s_applying_seq(struct broker *b, struct child *c)
{
	char path[CONFIG_PATH_MAX + 32];
	uint8_t v[8];
	uint64_t seq = 0;
	s_applying_path(b, c, path, sizeof path);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	if (fread(v, 1, 8, f) == 8)
		seq = be64_get(v);
	fclose(f);
	return seq;
}

/* A worker that crashed restarts single-stepping: before each event it
 * records the seq (s_applying_seq). A crash is counted against an event only
 * when that record says the worker died applying it; quarantine_after such
 * crashes quarantine it. */
static void
s_track_crash(struct broker *b, struct child *c)
{
	uint64_t cur = s_state_cursor(b, c), seq = s_applying_seq(b, c);
	uint64_t end = journal_committed_end(b->journal);
	if (cur >= end)
		return;
	c->single_step_until = end;
	if (seq != cur + 1)
		return;  /* not single-stepping yet, or died between events */
	if (c->crashes_at_cursor > 0 && cur == c->crash_cursor)
		c->crashes_at_cursor++;
	else
		c->crash_cursor = cur, c->crashes_at_cursor = 1;
	log_error("%s died applying seq %llu (%u of %u before quarantine)", c->role,
	    (unsigned long long)seq, c->crashes_at_cursor, b->cfg.quarantine_after);
	/* A standby's journal is the primary's, quarantine included: the
	 * primary's workers decided this event before it was mirrored. */
	if (b->following && c->crashes_at_cursor >= b->cfg.quarantine_after)
		log_error("standby: not quarantining seq %llu, the primary did not; %s keeps "
		    "restarting (check this machine)", (unsigned long long)seq, c->role);
	else if (c->crashes_at_cursor >= b->cfg.quarantine_after)
		s_quarantine(b, c, seq);
}

void
children_reaped(struct broker *b, pid_t pid, int status)
{
	struct child *c = s_by_pid(b, pid);
	char how[96];
	int dead = 0;
	if (!c)
		return;
	s_describe(status, how, sizeof how);
	c->pid = 0;
	c->hello = false;
	s_close_channel(c);
	mdb_reader_check(journal_env(b->journal), &dead);
	if (b->stopping) {
		log_info("%s (pid %d) %s", c->role, (int)pid, how);
		return;
	}
	log_error("%s (pid %d) %s; restarting in %u ms", c->role, (int)pid, how, c->backoff_ms);
	if (c->domain != DOMAIN_NONE && s_is_crash(status))
		s_track_crash(b, c);
	if (now_mono_ms() - c->started_ms > STABLE_AFTER_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	c->restart_at_ms = now_mono_ms() + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* ---------------------------------------------------------- messages */

static void
s_publish(struct broker *b, const char *topic, const void *payload, size_t len)
{
	zmq_send(b->status, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(b->status, payload, len, ZMQ_DONTWAIT);
}

/* A change goes to the topic "status/<township>/<org>/" of every org it
 * concerns: the member's home org and, when an org hosts the member, the
 * host org (双向管理: both manage the member); and the home or host org the
 * member had before the change, so that a subscriber there learns the
 * member has left. A subscriber takes a whole township with the prefix
 * "status/<township>/", one org with "status/<township>/<org>/". Each
 * topic once. */
static void
s_publish_status(struct broker *b, const void *payload, size_t len)
{
	StatusChange *sc = jiceng__v1__status_change__unpack(NULL, len, payload);
	char topic[4][CODEC_MAX_ID + 32];
	if (!sc) {
		log_error("undecodable status change from membership worker");
		return;
	}
	const char *side[4][2] = {
		{ sc->township_id, sc->home_org_id },
		{ sc->host_township_id, sc->host_org_id },
		{ sc->previous_township_id[0] ? sc->previous_township_id : sc->township_id,
		    sc->previous_home_org_id },
		{ sc->previous_host_township_id, sc->previous_host_org_id },
	};
	for (int i = 0; i < 4; i++) {
		bool seen = !side[i][0][0] || !side[i][1][0];
		snprintf(topic[i], sizeof topic[i], "status/%s/%s/", side[i][0], side[i][1]);
		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(topic[i], topic[j]) == 0;
		if (!seen)
			s_publish(b, topic[i], payload, len);
	}
	jiceng__v1__status_change__free_unpacked(sc, NULL);
}

void
children_status_heartbeat(struct broker *b)
{
	Jiceng__V1__StatusHeartbeat hb = JICENG__V1__STATUS_HEARTBEAT__INIT;
	uint8_t buf[32];
	struct child *c = children_for_domain(b, DOMAIN_MEMBERSHIP);
	MDB_txn *txn;
	if (!c || (!c->state && children_open_state(b, c) != 0) || !c->membership ||
	    store_read_begin(c->state, &txn))
		return;
	int rc = membership_changes_head(c->membership, txn, &hb.seq, &hb.index);
	mdb_txn_abort(txn);
	if (rc == 0 && jiceng__v1__status_heartbeat__get_packed_size(&hb) <= sizeof buf)
		s_publish(b, BROKER_HEARTBEAT_TOPIC, buf, jiceng__v1__status_heartbeat__pack(&hb, buf));
}

static void
s_dispatch(struct broker *b, struct child *c, const struct wire_header *h,
    const void *payload, size_t len)
{
	c->heard_ms = now_mono_ms();
	switch (h->type) {
	case WIRE_HELLO:
		/* A worker may have rebuilt its state file (a new inode) before
		 * saying hello: read the file it uses now. */
		s_state_close(c);
		c->hello = true;
		c->cursor = h->value;
		c->durable_sent = 0;
		log_debug("%s said hello at cursor %llu", c->role, (unsigned long long)h->value);
		ingest_resolve(b, c);
		children_notify_durable(b);
		break;
	case WIRE_APPLIED:
		if (h->value > c->cursor && c->crashes_at_cursor && h->value > c->crash_cursor)
			c->crashes_at_cursor = 0;
		c->cursor = h->value;
		ingest_resolve(b, c);
		break;
	case WIRE_STATUS:
		s_publish_status(b, payload, len);
		break;
	case WIRE_REBUILDING:
		break;  /* a heartbeat while it has not said hello */
	default:
		fatalx("unexpected message type %u from %s", h->type, c->role);
	}
}

unsigned
children_pollitems(struct broker *b, zmq_pollitem_t *items)
{
	unsigned n = 0;
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].fd >= 0)
			items[n++] = (zmq_pollitem_t){ NULL, b->children[i].fd, ZMQ_POLLIN, 0 };
	return n;
}

/* A bounded number of messages per child and pass, so that one chatty child
 * cannot starve the clients. End of file is the child going: its channel
 * is closed here, its death logged when it is reaped. */
void
children_handle(struct broker *b, const zmq_pollitem_t *items, unsigned n)
{
	struct wire_msg m;
	for (unsigned k = 0; k < n; k++) {
		struct child *c = NULL;
		for (unsigned i = 0; i < b->nchildren && !c; i++)
			if (b->children[i].fd == items[k].fd && items[k].fd >= 0)
				c = &b->children[i];
		if (!c || !items[k].revents)
			continue;
		for (int got = 0; got < 1000; got++) {
			int r = wire_recv(c->fd, &m);
			if (r == 0)
				break;
			if (r < 0) {
				if (errno == EPROTO)
					fatalx("malformed internal message from %s", c->role);
				log_debug("%s closed its channel: %s", c->role, strerror(errno));
				s_close_channel(c);
				break;
			}
			s_dispatch(b, c, &m.h, m.payload, m.len);
		}
	}
}

void
children_notify_journal(struct broker *b)
{
	for (unsigned i = 0; i < b->nchildren; i++) {
		struct child *c = &b->children[i];
		/* A full queue (EAGAIN) needs no retry: the worker has
		 * notices to wake for, and it reads the journal's end itself. */
		if (c->domain != DOMAIN_NONE && c->fd >= 0 && c->hello)
			wire_send(c->fd, false, WIRE_JOURNAL_END, c->domain,
			    journal_committed_end(b->journal), NULL, 0);
	}
}

/* The mirror publishes only what is on disk: a record that a crash of the
 * machine could still undo would be in the stream under a seq that the
 * journal then gives to another event. */
void
children_notify_durable(struct broker *b)
{
	uint64_t durable = journal_durable_end(b->journal);
	for (unsigned i = 0; i < b->nchildren; i++) {
		struct child *c = &b->children[i];
		if (c->optional && c->fd >= 0 && c->hello && c->durable_sent != durable &&
		    wire_send(c->fd, false, WIRE_JOURNAL_END, c->domain, durable, NULL, 0) == 0)
			c->durable_sent = durable;
	}
}

void
children_check_health(struct broker *b)
{
	int64_t limit = (int64_t)b->cfg.heartbeat_ms * SILENT_HEARTBEATS, now = now_mono_ms();
	for (unsigned i = 0; i < b->nchildren; i++) {
		struct child *c = &b->children[i];
		if (c->pid && now - c->heard_ms > limit) {
			log_error("%s (pid %d) silent for %lld ms; killing it", c->role, (int)c->pid,
			    (long long)(now - c->heard_ms));
			kill(c->pid, SIGKILL);
			c->heard_ms = now;
		}
	}
}

bool
children_all_up(struct broker *b)
{
	int64_t limit = (int64_t)b->cfg.heartbeat_ms * SILENT_HEARTBEATS, now = now_mono_ms();
	for (unsigned i = 0; i < b->nchildren; i++)
		if (!b->children[i].optional && (!b->children[i].pid || !b->children[i].hello ||
		    now - b->children[i].heard_ms > limit))
			return false;
	return true;
}

void
children_stop_all(struct broker *b)
{
	for (unsigned i = 0; i < b->nchildren; i++) {
		struct child *c = &b->children[i];
		if (!c->pid)
			continue;
		if (c->fd >= 0)
			wire_send(c->fd, false, WIRE_STOP, c->domain, 0, NULL, 0);
		kill(c->pid, SIGTERM);
	}
	for (int waited = 0; waited < 100; waited++) {
		int status;
		pid_t pid;
		bool any = false;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			children_reaped(b, pid, status);
		for (unsigned i = 0; i < b->nchildren; i++)
			any |= b->children[i].pid != 0;
		if (!any)
			return;
		usleep(50000);
	}
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].pid) {
			log_warnx("%s (pid %d) did not stop; killing it", b->children[i].role,
			    (int)b->children[i].pid);
			kill(b->children[i].pid, SIGKILL);
			waitpid(b->children[i].pid, NULL, 0);
			b->children[i].pid = 0;
		}
}
