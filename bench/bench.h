/*
 * jiceng-bench: what the benchmark's files share. bench.c runs the
 * measurements and prints them; daemon.c starts, watches and stops a real
 * jicengd; load.c makes the workload and drives pipelining DEALER clients;
 * raw.c does the same journal-plus-state LMDB writes in one process (the
 * raw ceiling); status.c measures the status stream (--status-only).
 */
#ifndef JICENG_BENCH_H
#define JICENG_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "codec.h"
#include "latency.h"

#define BENCH_MAX_CLIENTS 64
#define BENCH_MAX_PROCS 8

/* Set by SIGINT/SIGTERM: every loop gives up and the daemon is stopped. */
extern volatile sig_atomic_t bench_interrupted;
/* With --trace: one line per ack, "run send_ms latency_ms", for plots. */
extern FILE *bench_trace;
extern unsigned bench_trace_run;
/* Milliseconds between connecting the clients and starting the clock. */
extern unsigned bench_settle_ms;
/* With --config: the jiceng.conf jicengd and the raw ceiling read. */
extern const char *bench_config;
/* With --derived-dir: where jicengd's and the raw ceiling's derived files
 * (ids.mdb, state/) go, each in a temporary dir of its own; NULL: beside
 * the journal. */
extern const char *bench_derived_parent;

/* ---------------------------------------------------------------- load.c */

/* One packed envelope and what the journal needs to know of it. */
struct bench_event {
	uint8_t *buf;
	size_t len;
	unsigned client;           /* which client (= township) sends it */
	EventCase kind;
	char township[16];
	char event_id[48];
};

struct bench_workload {
	struct bench_event *ev;
	size_t n;
};

/* The township id of client k: 12 digits ending in 000. */
void bench_township(unsigned k, char out[16]);
/* The member_id of member i of run in a township; the roster is run 0. */
void bench_member_id(char out[48], const char *township, unsigned run, size_t i);
/* Pack e and append it to w as client's; *cap is w's allocated length.
 * 0 or -1 (out of memory). */
int bench_workload_push(struct bench_workload *w, size_t *cap, const Envelope *e,
    unsigned client);
/* For each of townships: its committee and `branches` branches under it;
 * with budgets, then the county's budget lines for what every_kind pays
 * (BENCH_BUDGET_YEARS years from BENCH_FIRST_PERIOD's). */
int bench_workload_orgs(struct bench_workload *w, unsigned townships, unsigned branches,
    bool budgets);
/* Who sends the measured events, and the roster they act on. */
struct bench_spec {
	unsigned clients;          /* townships sending, client k = township k */
	unsigned branches;         /* per township */
	size_t roster;             /* members registered in the set-up; 0: none */
	unsigned roster_townships; /* over which the roster was spread (>= clients) */
	bool random_ids;           /* event ids spread like UUIDv4s, not growing */
	unsigned mix_pct;          /* percent of transfer and mobile-member steps; 0: none */
	bool every_kind;           /* a county's year: dues, pay, meetings among the updates */
};

/* every_kind: of the events that neither register nor belong to the mix,
 * these shares in percent (the rest update a member's phone): a county's
 * year is mostly dues (monthly per member), pay and subsidies, meetings. */
#define BENCH_SHARE_DUES 65
#define BENCH_SHARE_PAY 17
#define BENCH_SHARE_MEETINGS 8
/* Pay periods start here, dues months at BENCH_FIRST_DUES (paid ahead). */
#define BENCH_FIRST_PERIOD 202501
#define BENCH_FIRST_DUES 202701
#define BENCH_BUDGET_YEARS 100   /* a branch's activity fund, month after month, for long runs */
/* every_kind: the transfers and mobile-member steps of a year, in percent. */
#define BENCH_YEAR_MIX_PCT 2

/* Of a steady county's events, one in this many registers a new member. */
#define BENCH_NEW_MEMBER_EVERY 20
/* The mix (mix_pct > 0) comes in periods of this many steps per client: a
 * transfer to another branch of the township and back, each issued and
 * received (4), and a mobile episode departed, contacted, returned (3). */
#define BENCH_MIX_PERIOD 7
/* The mix moves only roster members whose number within their township
 * is BENCH_MIX_EVERY - 1 modulo BENCH_MIX_EVERY; the updates leave them
 * alone. A township needs that many roster members and two branches. */
#define BENCH_MIX_EVERY 16

/* Can sp's county carry the mix: a roster of BENCH_MIX_EVERY members per
 * township and two branches? */
bool bench_mix_possible(const struct bench_spec *sp);

/* The county's roster: sp->roster MemberRegistered events round-robin
 * over sp->roster_townships and their branches (member j in township
 * j % roster_townships). */
int bench_workload_roster(struct bench_workload *w, const struct bench_spec *sp, bool idnum);
/* n measured events round-robin over sp->clients; run makes ids unique
 * across calls. With a roster, each client's events update a random roster
 * member of its township (a new phone number), and one in
 * BENCH_NEW_MEMBER_EVERY registers a new member; without one, every event
 * registers a new member. With idnum, registrations carry valid, never
 * repeated resident ID numbers. With sp->mix_pct, that share of each
 * client's other events are the mix's steps, whole periods only (the rest
 * stay updates): every transfer and episode a run starts, it closes, on
 * the client's one connection, so each run leaves the roster where it
 * found it and any run may follow any other. -1 when the county cannot
 * carry the mix (bench_mix_possible). */
int bench_workload_events(struct bench_workload *w, const struct bench_spec *sp, size_t n,
    unsigned run, bool idnum);
void bench_workload_free(struct bench_workload *w);

/* With bench_acks set (one per workload event), bench_drive records each
 * event's send and ack times and its journal seq there, by workload index. */
struct bench_ack {
	int64_t sent_ns, ack_ns;   /* now_mono_ns() */
	uint64_t seq;
};
extern struct bench_ack *bench_acks;

struct bench_result {
	size_t sent, acked, accepted, rejected, retry_later;
	double secs;               /* first send to last ack */
	double rate;               /* acked events per second */
	double p50_ms, p99_ms, max_ms;
	double owner_p99_ms[DOMAIN_COUNT];  /* p99 of the events each domain's worker answers */
	double client_cpu;         /* CPU seconds this process spent (all threads) */
	char first_refusal[200];   /* code and reason of the first non-accepted ack */
};

/* Send w over `clients` DEALER sockets (event ev goes on socket ev.client),
 * each with at most window unacknowledged, as fast as acks allow, or paced
 * to rate events/s in total when rate > 0. Returns 0 when every event got
 * an ack, -1 on a timeout (timeout_s without any ack) or interruption. */
int bench_drive(const char *endpoint, const struct bench_workload *w, unsigned clients,
    unsigned window, double rate, unsigned timeout_s, struct bench_result *r);

/* ---------------------------------------------------------------- daemon.c */

struct bench_proc {
	pid_t pid;
	char name[32];
	long hwm_kb;               /* VmHWM: peak resident set */
	long anon_kb, file_kb;     /* RssAnon, RssFile + RssShmem now (LMDB map pages) */
};

struct bench_daemon {
	pid_t pid;
	char dir[512];             /* temporary; removed by bench_daemon_stop */
	char derived[512];         /* the same under bench_derived_parent, or "" */
	char log[600];
	char config[600];          /* bench_config and [metrics] */
	char metrics[600];         /* its metrics text file */
	char ingest[64], status[64], query[64];
};

/* Make a temporary directory under parent: 0 or -1 (errno). */
int bench_mkdtemp(const char *parent, const char *tag, char *out, size_t len);
/* Remove a directory tree (never following symlinks). */
void bench_rmtree(const char *dir);
/* bench_config's text (or nothing), then extra, into path. 0 or -1. */
int bench_config_write(const char *path, const char *extra);
/* Start build/jicengd (next to this program) on free loopback ports with
 * a temporary data dir under parent, bench_config and its metrics file
 * written every second; wait until it logs ready. 0 or -1. */
int bench_daemon_start(struct bench_daemon *d, const char *parent);
/* Every ack jicengd had sent before this call, in one histogram of its
 * workers' jiceng_ack_seconds (waits for the metrics file's next write,
 * at most 3 s). 0 or -1. */
int bench_daemon_acks(const struct bench_daemon *d, struct latency *acks);
/* The broker's stats from jiceng-query; free *reply with
 * jiceng__v1__query_reply__free_unpacked. 0 or -1. */
int bench_daemon_stats(const struct bench_daemon *d, QueryReply **reply);
/* CPU seconds (user + system, all threads) used so far by jicengd itself
 * and by its jiceng-worker children together. 0 or -1. */
int bench_daemon_cpu(const struct bench_daemon *d, double *broker_s, double *workers_s);
/* CPU seconds (user + system, all threads) pid has used; -1 unknown. */
double bench_proc_cpu(pid_t pid);
/* The CPU seconds of each domain's worker so far (0 for a domain not run). */
int bench_daemon_domain_cpu(const struct bench_daemon *d, double by_domain[DOMAIN_COUNT]);
/* Peak RSS of jicengd and its children, read from /proc before stopping. */
unsigned bench_daemon_rss(const struct bench_daemon *d, struct bench_proc *out, unsigned max);
/* SIGTERM, wait up to 10 s, then SIGKILL; remove the data dir unless keep. */
void bench_daemon_stop(struct bench_daemon *d, bool keep);

/* ---------------------------------------------------------------- raw.c */

struct bench_raw_result {
	size_t events;
	unsigned batch;
	size_t commits;
	double secs;
	double rate;
	double journal_secs, fold_secs;  /* of secs: journal commits, fold steps */
	unsigned domains;          /* state environments folded (the config's workers) */
};

/* Journal orgs, the roster, then timed into a fresh journal under parent
 * with journal_append/journal_commit, batch events per commit, each commit
 * followed by fold_step on the state env of each domain the config runs,
 * all in this process; time the timed part, whose every event its owning
 * fold must accept. 0 or -1
 * with a message on stderr. */
int bench_raw(const char *parent, const struct bench_workload *orgs,
    const struct bench_workload *roster, const struct bench_workload *timed, unsigned batch,
    struct bench_raw_result *r);

/* ---------------------------------------------------------------- status.c */

struct bench_status_options {
	const char *dir;           /* where the daemon's data dir goes */
	size_t members;            /* the roster, each sent away once: the changes */
	unsigned clients;          /* pipelining clients, one township each */
	unsigned window;
	size_t events;             /* per throughput run */
	unsigned repeat;           /* throughput runs with and without subscribers */
	double load;               /* the latency run's rate, a share of the peak */
	double half_seconds;
};

/* The status stream: the latency from ack to subscriber at
 * o->load of the peak, a snapshot of o->members records, the catch-up rate
 * of a subscriber that missed them all, ingest with two subscribers against
 * none. Prints its report; 0 when every target is met, 1 when one is
 * missed, -1 when the measurement failed. */
int bench_status(const struct bench_status_options *o);

/* ---------------------------------------------------------------- mirror.c */

struct bench_mirror_options {
	const char *dir;           /* where the data dirs and nats-server's go */
	size_t roster;             /* the county's members */
	unsigned clients;          /* pipelining clients, one township each */
	unsigned window;
	size_t events;             /* per peak run */
	unsigned pairs;            /* peak runs with the mirror on and off */
	double load;               /* the lag run's rate, a share of the peak */
	double half_seconds;
};

/* jiceng-mirror (--mirror): its throughput on a backlog, ingest with it on
 * against off, the lag from journal to stream at o->load of the peak, the
 * stream's bytes per event. Prints its report; 0 when the on/off target is
 * met, 1 when missed, -1 when the measurement failed. */
int bench_mirror(const struct bench_mirror_options *o);

#endif
