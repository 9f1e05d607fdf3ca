/*
 * broker: the state jicengd's modules share. jicengd.c owns the loop and the
 * signals; ingest.c the client socket, checks, dedupe, group commit and acks;
 * children.c the supervised processes, their messages and quarantine.
 */
#ifndef JICENG_BROKER_H
#define JICENG_BROKER_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

#include "codec.h"
#include "config.h"
#include "idnum.h"
#include "journal.h"
#include "latency.h"
#include "now.h"
#include "security.h"

struct membership;
struct follow;

/* The status socket's heartbeat topic (status.proto, StatusHeartbeat). */
#define BROKER_HEARTBEAT_TOPIC "status/heartbeat"

#define BROKER_MAX_CODES 64
/* Supervised children: the workers, the query server, jiceng-mirror. */
#define BROKER_MAX_CHILDREN (DOMAIN_COUNT + 2)

/* An ack owed to a client once the owning worker passes seq. */
struct pending {
	int64_t read_ns;      /* when the broker read it (latency.h) */
	uint64_t seq;
	bool duplicate;      /* answer DUPLICATE with the stored verdict */
	uint8_t rid_len;
	uint8_t rid[255];    /* ROUTER routing id of the client */
};

struct pending_queue {
	struct pending *items;  /* sorted by seq */
	size_t n, cap;
};

/* A supervised child process. */
struct child {
	const char *role;          /* "membership", "meetings", "funds", "query" */
	enum domain domain;        /* DOMAIN_NONE for the query server and the mirror */
	const char *binary;        /* jiceng-worker, jiceng-query or jiceng-mirror */
	bool optional;             /* the mirror: runs when enabled, never gates READY */
	pid_t pid;                 /* 0 when not running */
	int fd;                    /* jicengd's end of its socketpair, -1 when none */
	bool hello;                /* said HELLO since its last start */
	int64_t started_ms;        /* monotonic */
	int64_t heard_ms;          /* last message, monotonic */
	int64_t restart_at_ms;     /* when to start it again (0: now) */
	unsigned backoff_ms;       /* next restart delay */
	uint64_t cursor;           /* last applied seq it reported */
	uint64_t durable_sent;     /* the mirror: the journal's durable end last sent */
	uint64_t crash_cursor;     /* cursor at the last crash */
	unsigned crashes_at_cursor;
	uint64_t single_step_until;
	MDB_env *state;            /* its state env, read-only (verdicts, cursor) */
	MDB_dbi verdicts, meta;
	struct membership *membership;  /* its membership tables (the status log's head) */
	struct pending_queue pending;
	struct latency acks;       /* of the events it answers for */
};

struct counters {
	struct { char code[24]; uint64_t n; } rejected[BROKER_MAX_CODES];
	unsigned nrejected;
	uint64_t duplicates, retry_later, accepted_journaled;
	uint64_t commits, commit_events_max;
	double commit_ms_total;
	bool dirty;
};

struct broker {
	struct config cfg;
	char config_path[CONFIG_PATH_MAX];  /* "" for the embedded defaults */
	char exe_dir[CONFIG_PATH_MAX];
	void *zctx;
	void *ingest;              /* ROUTER, townships */
	void *status;              /* XPUB, status stream */
	struct auth *auth;         /* ZAP handler, when a socket uses CURVE */
	int curve_ingest;          /* ingest socket uses CURVE */
	int curve_status;          /* status socket uses CURVE: subscriptions are authorised */
	struct journal *journal;   /* its committed end is the last seq */
	struct follow *follow;     /* the standby's follower, or its promotion; NULL: never one */
	bool following;            /* a standby: the journal comes from the stream (follow.c) */
	struct child children[BROKER_MAX_CHILDREN];
	unsigned nchildren;
	struct counters counters;
	uint8_t id_key[IDNUM_KEY_LEN];  /* blind-index key: ID numbers are digested at ingest */
	bool id_key_standby_made;  /* made by this standby, not the primary's: no promotion */
	bool ready_sent;
	int64_t heartbeat_at_ms;   /* last status heartbeat, monotonic */
	int64_t paused_since_ms;   /* backlog pause start, 0 when reading */
	int64_t next_tick_ms;      /* wall clock of the next hourly Tick */
	int64_t metrics_at_ms;     /* last metrics file write, monotonic */
	int64_t read_at_ms;        /* last envelope read from ingest, monotonic */
	int64_t commit_at_ns;      /* start of the last group commit that journaled, monotonic */
	int verbose;
	bool stopping;
};


/* ingest.c */
int ingest_open(struct broker *b);
/* With CURVE on the status socket: close it and bind a new one, so that
 * every subscriber reconnects and is authenticated again with the keys
 * just reread (a revoked key's subscription ends here; the others repair
 * the gap by the client recipe). Returns 0 or -1 (logged). */
int ingest_status_rebind(struct broker *b);
/* Read and commit what clients sent; returns events journaled. */
int ingest_read(struct broker *b);
/* Answer RETRY_LATER to what clients keep sending while paused. */
void ingest_refuse_backlog(struct broker *b);
/* Answer RETRY_LATER STANDBY, naming the primary, to what clients send to
 * a standby. */
void ingest_refuse_standby(struct broker *b);
/* Journal a broker event (Tick, RulesChanged). */
int ingest_journal_system(struct broker *b, Envelope *e);
/* One journal write: begin, fill(b, txn, arg), commit. On MDB_MAP_FULL the
 * map is grown once and fill runs again in a new transaction. Returns 0 or
 * the error (fill's, or the commit's). */
typedef int (*ingest_fill_fn)(struct broker *b, MDB_txn *txn, void *arg);
int ingest_journal_write(struct broker *b, ingest_fill_fn fill, void *arg);
/* Send the acks owed for child c up to its cursor and the journal's
 * durable end. */
void ingest_resolve(struct broker *b, struct child *c);
/* Flush the last commit (journal_sync), then send the acks that waited on it. */
void ingest_sync(struct broker *b);
/* Are client messages waiting to be read? */
bool ingest_waiting(struct broker *b);
/* Nanoseconds until the next group commit may start (commit_interval_us
 * after the last one started); 0: now. */
int64_t ingest_pace_ns(struct broker *b);
void ingest_count_rejected(struct broker *b, const char *code);
/* Persist counters into journal meta if changed. */
void ingest_flush_counters(struct broker *b);
/* Journal RulesChanged if cfg.rules differ from the journal's. */
int ingest_sync_rules(struct broker *b);
/* Note rules as the ones in force (journal meta "rules"), in txn: with
 * every RulesChanged journaled, or appended by a standby. */
int ingest_rules_meta(struct broker *b, MDB_txn *txn, const Rules *rules);
uint64_t ingest_backlog(struct broker *b);
/* Authorise pending status subscriptions (XPUB manual mode). */
void ingest_status_subscriptions(struct broker *b);

/* children.c */
void children_init(struct broker *b);
/* A standby was promoted: add the children a standby does not run (the
 * mirror, when enabled); they start with the others' next round. */
void children_promoted(struct broker *b);
void children_start_due(struct broker *b);
void children_reaped(struct broker *b, pid_t pid, int status);
/* Fill items (room for BROKER_MAX_CHILDREN) with the children's channels;
 * returns how many. */
unsigned children_pollitems(struct broker *b, zmq_pollitem_t *items);
/* Read and dispatch what the children whose items are ready sent. */
void children_handle(struct broker *b, const zmq_pollitem_t *items, unsigned n);
void children_notify_journal(struct broker *b);
/* Tell the mirror how far the journal is on disk, when that moved. */
void children_notify_durable(struct broker *b);
void children_check_health(struct broker *b);
/* Publish the status heartbeat: the change log's head, read from the
 * membership worker's environment (once a second). */
void children_status_heartbeat(struct broker *b);
bool children_all_up(struct broker *b);
void children_stop_all(struct broker *b);
struct child *children_for_domain(struct broker *b, enum domain d);
int children_open_state(struct broker *b, struct child *c);

/* follow.c: the standby (jicengd --follow) and its promotion */
#define FOLLOW_PROBLEM_MAX 320
/* Decide at start whether this jicengd follows: asked (--follow) or
 * [standby] enabled, unless the journal was promoted and --follow was not
 * given (a promotion is forgotten by --follow). Sets b->follow and
 * b->following. 0, or -1 (logged). */
int follow_init(struct broker *b, bool asked);
/* Start following (the NATS thread). 0, or -1 (logged). */
int follow_start(struct broker *b);
void follow_destroy(struct follow **f);
/* An eventfd readable when records are queued; -1 when not following. */
int follow_fd(struct broker *b);
bool follow_pending(struct broker *b);
/* Append a group commit's worth of queued records (then the workers are
 * told). Returns how many were appended, -1 on a failed commit. */
int follow_drain(struct broker *b);
/* Once a second: log state changes; the stats are due when the state or
 * the stream's end moved. */
void follow_periodic(struct broker *b);
/* The standby's part of the stats; problem is where its text is kept. */
void follow_stats(struct broker *b, Jiceng__V1__StandbyStats *st, char problem[FOLLOW_PROBLEM_MAX]);
/* May jiceng-mirror run? Not while following (the stream is this
 * journal's source), nor into the stream a forced promotion left events
 * behind in (logged). */
bool follow_mirror_allowed(struct broker *b);
/* [standby] primary, or "stream <name>": named in refusals. */
const char *follow_primary_name(struct broker *b, char *buf, size_t cap);
/* SIGUSR1: act on jicengctl promote's request in run_dir and answer it.
 * Returns 1 when this node was promoted (the caller then journals what a
 * primary does at start), else 0. */
int follow_promote(struct broker *b);

#endif
