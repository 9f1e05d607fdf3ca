/*
 * harness: what the integration tests share. It starts the real
 * build/jicengd (fork+exec) in a fresh temporary data directory on loopback
 * ports chosen free at run time, with a NOTIFY_SOCKET of its own to learn
 * READY=1; finds and kills its children through /proc; talks to it as a
 * township would (DEALER, Envelope -> Ack) and as an operator would
 * (DEALER, Query -> QueryReply); and builds the envelopes the tests send
 * from the generated structs in codec.h.
 *
 * It owns no test: each tests/integration/NN-area.c file runs one cmocka
 * group, listed in main.c. Every wait here is bounded; every process started
 * here is stopped by its pid.
 */
#ifndef JICENG_HARNESS_H
#define JICENG_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "codec.h"
#include "now.h"

/* The test townships (12-digit area codes ending in 000). */
#define H_TOWNSHIP  "510722101000"
#define H_TOWNSHIP2 "510722102000"

/* The org tree hd_org_tree() sets up in H_TOWNSHIP. */
#define H_ORG_TOWNSHIP "t-committee"
#define H_ORG_VILLAGE  "t-village"
#define H_ORG_BRANCH   "t-branch"

#define H_ACK_MS   10000   /* an ack that takes longer is a failure */
#define H_READY_MS 15000   /* jicengd start-up to READY=1 */

/* One group per file; main.c runs them. Each returns its failure count. */
int integ_ingest(void);
int integ_badinput(void);
int integ_crash(void);
int integ_rebuild(void);
int integ_checkpoint(void);
int integ_storage(void);
int integ_powercut(void);
int integ_backpressure(void);
int integ_supervisor(void);
int integ_security(void);
int integ_ctl(void);
int integ_queries(void);
int integ_membership(void);
int integ_import(void);
int integ_funds(void);
int integ_domains(void);
int integ_reports(void);
int integ_mirror(void);
int integ_standby(void);
int integ_tail(void);
int integ_mirrorauth(void);

/* ------------------------------------------------------------ time */

/* Timeouts given to the harness are scaled by h_ms: x20 when
 * JICENG_VALGRIND is set (then jicengd and its children run under
 * valgrind's memcheck, and any error it reports fails the test). */
int h_ms(int ms);
void h_sleep_ms(int ms);
/* Arm a per-test time limit: when it passes, every jicengd started here
 * and its children are killed and the run exits with status 3. 0 disarms. */
void h_time_limit(unsigned seconds);

/* cmocka per-test set-up and tear-down: the state is the test's struct hd
 * (NULL until the test creates it); set-up arms H_TEST_LIMIT_S, tear-down
 * destroys the daemon (printing its log unless hd_pass was called) and
 * disarms. */
#define H_TEST_LIMIT_S 120
int h_setup(void **state);
int h_teardown(void **state);

/* ------------------------------------------------------------ the daemon */

struct hd_opts {
	const char *config;        /* config file text, NULL for none */
	const char *workers;       /* --workers, NULL for the default */
	/* NAME=VALUE for jicengd, replacing ours (e.g. WATCHDOG_USEC, the
	 * JICENG_FAULT_* hooks), NULL-ended; NULL for none. */
	const char *const *env;
};

/* A jicengd under test. */
struct hd {
	pid_t pid;                 /* 0 when not running */
	char dir[128];             /* temporary data directory */
	char ingest[64];           /* tcp://127.0.0.1:PORT */
	char status[64];
	char query[64];
	char config[192];          /* config file path, "" for none */
	char log[192];             /* jicengd's stderr (all runs, appended) */
	char notify_path[192];     /* our NOTIFY_SOCKET */
	int notify_fd;             /* bound AF_UNIX datagram socket */
	struct hd_opts opts;
	void *qsock;               /* DEALER to the query server, lazily */
	unsigned qseq;             /* request_id counter */
	bool passed;               /* set by hd_pass: the log is not printed */
	int exit_status;           /* wait status of the last stop, -1 unknown */
	char exe[192];             /* jicengd to run, "" for BUILD/jicengd (hd_worker_env) */
	char derived[128];         /* derived_dir by default (in memory): removed at the end */
};

/* Where this daemon's derived files (ids.mdb, state/) are when its config
 * does not place them: the default, in memory (config_default_derived_dir). */
const char *hd_derived(const struct hd *d);
/* Create the data directory, pick free ports, write the config file and
 * bind the notify socket. Does not start jicengd. NULL on failure. */
struct hd *hd_new(const struct hd_opts *o);
/* Start jicengd and wait for READY=1 (H_READY_MS); retries with new ports
 * when a port turned out to be taken. Returns 0, or -1 (log printed). */
int hd_up(struct hd *d);
/* Start jicengd without waiting. Returns 0 or -1. */
int hd_start(struct hd *d);
/* Wait for a notify message containing the line `what` ("READY=1" ...).
 * Returns 0, or -1 on timeout or when jicengd exited meanwhile. */
int hd_notify_wait(struct hd *d, const char *what, int timeout_ms);
/* Count notify messages with the line `what` arriving within ms. */
int hd_notify_count(struct hd *d, const char *what, int ms);
/* Drop notify messages already queued. */
void hd_notify_drain(struct hd *d);
/* SIGTERM, wait up to timeout_ms, then SIGKILL; also makes sure every child
 * is gone. Returns jicengd's wait status (also when it had already exited),
 * or -1 if it had to be killed or was never started. */
int hd_stop(struct hd *d, int timeout_ms);
/* Wait up to timeout_ms for jicengd to exit by itself (it is reaped, not
 * signalled). Returns its wait status, or -1 on timeout or when it was not
 * started. */
int hd_wait_exit(struct hd *d, int timeout_ms);
/* kill -9 jicengd, reap it, and wait (bounded) for its children to go. */
void hd_kill9(struct hd *d);
/* Is the io shim mapped into jicengd (so a pass is not vacuous)? */
bool hd_io_shim_loaded(struct hd *d);
/* Make the fault hooks every worker reads (JICENG_FAULT_*) fire in one
 * worker only: d's jicengd then runs from DIR/bin, a link to BUILD/jicengd
 * beside a jiceng-worker script that adds env ("NAME=VALUE") to the
 * environment of `domain`'s worker alone and execs BUILD/jiceng-worker
 * (same pid, same argv). Call before hd_up; fails the test when it cannot
 * set that up. */
void hd_worker_env(struct hd *d, const char *domain, const char *env);
/* Mark the test passed (the log is not printed when it is destroyed). */
void hd_pass(struct hd *d);
/* Replace the config file (the daemon needs opts.config set) with the
 * printf-formatted text; fails the test when it cannot. Read at the next
 * start or SIGHUP. */
void hd_config_write(struct hd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stop if running, print the log unless passed, remove the directory
 * (kept when JICENG_KEEP is set). Clears *dp. Returns -1 when the log has
 * a line without a syslog priority prefix or valgrind reported errors
 * (JICENG_VALGRIND), else 0. */
int hd_destroy(struct hd **dp);
/* Print jicengd's stderr log to stderr. */
void hd_print_log(struct hd *d);
/* Does the log contain s? */
bool hd_log_has(struct hd *d, const char *s);
/* How many times does the log contain s? */
int hd_log_count(struct hd *d, const char *s);
/* Wait until the log contains s, up to timeout_ms (scaled by h_ms).
 * Returns whether it does. */
bool hd_log_wait(struct hd *d, const char *s, int timeout_ms);

/* mdb_dump -a -n of domain's state ("membership", "meetings", "funds")
 * under derived (hd_derived(d) when NULL) into d->dir/name; that file's path
 * into path. Fails the test when mdb_dump fails. */
void hd_state_dump(struct hd *d, const char *derived, const char *domain, const char *name,
    char *path, size_t cap);
/* Are the two files the same bytes (and not empty)? Prints the first
 * differing line if not. */
bool h_same_file(const char *a, const char *b);
/* jicengctl rebuild --domain domain of d's data dir (jicengd stopped; no
 * --config): its exit status, its stderr in d->dir/rebuild.log. */
int hd_ctl_rebuild(struct hd *d, const char *domain);

/* Children of pid from /proc/<pid>/task/<pid>/children: at most max,
 * returns how many. */
int h_children(pid_t pid, pid_t *out, int max);
/* The pid of jicengd's child for role ("membership", "query", "mirror"
 * ...), 0 when none is running. */
pid_t hd_child(struct hd *d, const char *role);
/* Wait until role runs with a pid other than old (restarted). */
pid_t hd_child_wait_new(struct hd *d, const char *role, pid_t old, int timeout_ms);
/* Is pid gone (absent or a zombie)? */
bool h_pid_gone(pid_t pid);
/* VmRSS of pid in KiB, -1 when unknown. */
long h_rss_kb(pid_t pid);
/* Run argv (argv[0] a path) with stdout to out_path (NULL: /dev/null) and
 * stderr to err_path (NULL: inherit), wait up to timeout_ms. Returns the
 * exit status, or -1 when it failed to run or was killed for time. */
int h_run(char *const argv[], const char *out_path, const char *err_path, int timeout_ms);
/* Wait up to timeout_ms for child pid: its exit status, or -1 (it died of a
 * signal, or it is killed and reaped, "WHAT (pid N): killed" on stderr). */
int h_reap(pid_t pid, const char *what, int timeout_ms);
/* The directory of the test binary (build/), for sibling binaries. */
const char *h_build_dir(void);
/* "LD_PRELOAD=BUILD/test-io-shim.so" (io_shim.c), for hd_opts.env; fails
 * the test when the library is not built. */
const char *h_io_shim_env(void);
/* A TCP port on 127.0.0.1 free a moment ago, -1 on failure. */
int h_free_port(void);
/* Whole contents of a file, malloc'd and NUL-terminated; NULL on error. */
char *h_slurp(const char *path, size_t *len);
/* Create or replace the file at path with the printf-formatted text; fails
 * the test when it cannot. */
void h_write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ envelopes */

/* A packed envelope ready to send. */
struct hmsg {
	uint8_t *buf;
	size_t len;
	char id[CODEC_MAX_ID + 8];  /* room to keep an over-long id over-long */
};

/* Fill e's envelope fields: event_id, township (NULL: H_TOWNSHIP),
 * occurred_at now. The caller sets the event. */
void hm_envelope(Envelope *e, const char *event_id, const char *township);
/* Pack e (its event_id becomes m.id). */
struct hmsg hm_pack(const Envelope *e);
/* An envelope of township (NULL: H_TOWNSHIP) carrying the event c whose
 * message is msg, packed. */
struct hmsg hm_event(const char *event_id, const char *township, EventCase c, void *msg);
/* Raw bytes (copied) as a message, for hostile input. */
struct hmsg hm_raw(const void *buf, size_t len);
void hm_free(struct hmsg *m);

/* An org established on 2010-01-01 (parent_id and approving_id may be
 * NULL). */
struct hmsg hm_org(const char *event_id, const char *org_id, int kind,
    const char *parent_id, const char *approving_id, const char *name);
/* The same in another township. */
struct hmsg hm_org_in(const char *township, const char *event_id, const char *org_id,
    int kind, const char *parent_id, const char *approving_id, const char *name);
/* A FULL member admitted in 2001 and confirmed in 2002, home org home_id.
 * id_number may be NULL. */
struct hmsg hm_member(const char *event_id, const char *member_id,
    const char *home_id, const char *name, const char *id_number);
/* The same in another township. */
struct hmsg hm_member_in(const char *township, const char *event_id,
    const char *member_id, const char *home_id, const char *name,
    const char *id_number);

/* A probationary member admitted into org_id (birth_date may be ""). */
struct hmsg hm_admitted(const char *event_id, const char *member_id, const char *org_id,
    const char *birth_date, int64_t admitted_at);
/* member_id's status changed to status a second ago. */
struct hmsg hm_status_changed(const char *event_id, const char *member_id, int status);
/* org_id dissolved a second ago, approved by approving (may be ""). */
struct hmsg hm_dissolved(const char *event_id, const char *org_id, const char *approving);

/* n members of H_ORG_BRANCH called name, event ids "PREFIX-NNNNN" and
 * member ids "PREFIXm-NNNNN", in msgs; order[i] = &msgs[i] unless NULL. */
void hm_branch_members(struct hmsg *msgs, struct hmsg **order, int n, const char *prefix,
    const char *name);

/* A valid 18-character resident ID number for a birth date (YYYYMMDD) and
 * a sequence number (0-999): out[19]. */
void h_idnum(const char *yyyymmdd, unsigned seq, char out[19]);

/* ------------------------------------------------------------ ingest client */

/* A DEALER connected to d's ingest socket (NULL on failure). */
void *hc_connect(struct hd *d);
void hc_close(void *sock);
/* Send one frame (non-blocking up to timeout_ms). Returns 0 or -1. */
int hc_send(void *sock, const struct hmsg *m);
/* Receive one Ack within timeout_ms; NULL on timeout or an undecodable
 * reply. Free with hc_ack_free. */
Ack *hc_recv(void *sock, int timeout_ms);
void hc_ack_free(Ack *a);
/* Send and wait for the ack (H_ACK_MS). */
Ack *hc_call(void *sock, const struct hmsg *m);
/* Send, wait, check the verdict (and code unless NULL); frees the ack.
 * Returns true when it matched, printing what came otherwise. */
bool hc_expect(void *sock, const struct hmsg *m, Jiceng__V1__Verdict verdict,
    const char *code);
/* hm_event(event_id, township, c, msg) sent with hc_expect; fails the
 * test when it does not match. */
void hc_event_expect(void *sock, const char *event_id, const char *township, EventCase c,
    void *msg, Jiceng__V1__Verdict verdict, const char *code);
/* Establish H_ORG_TOWNSHIP, H_ORG_VILLAGE and H_ORG_BRANCH (event ids
 * prefixed with prefix). Returns 0 when all three were ACCEPTED. */
int hc_org_tree(void *sock, const char *prefix);
/* The same tree in township: committee ids[0], village committee ids[1]
 * under it and branch ids[2] under that, approved by the committee, each
 * named after its id. */
int hc_org_tree_in(void *sock, const char *township, const char *prefix,
    const char *const ids[3]);
/* What most tests start with: jicengd (hd_new(o), o may be NULL; it goes
 * into *state for h_teardown) up, a client in *sock, and the org tree of
 * hc_org_tree(prefix), each asserted. */
struct hd *hd_up_with_tree(void **state, const struct hd_opts *o, const char *prefix,
    void **sock);
/* Register members PREFIX-m-I (events PREFIX-e-I) for I in [from, to) in
 * org_id, each to be ACCEPTED with no warning: the last seq, 0 if one was
 * not (it is printed). */
uint64_t hc_members(void *sock, const char *prefix, const char *org_id, int from, int to);
/* The same three events, not sent: township, village, branch. */
void hm_org_tree(struct hmsg m[3], const char *prefix);
/* The mixed journal of 97-domains' consistency test, in 97-domains.c:
 * every event kind over two townships, each answered as that test expects
 * (asserted), sent to a jicengd that runs the three workers and holds
 * hc_org_tree("dm") and nothing more. */
void hc_domains_mixed(void *sock);

/* A pipelined stream: send[0..nsend) in order with at most `window`
 * unacknowledged, handing every ack to on_ack; once `hook_at` acks have
 * come (if > 0), hook runs once (it may set stop to end the run early). */
struct hpump {
	void *sock;
	struct hmsg **send;
	int nsend;
	int window;
	int sent, acked;
	void (*on_ack)(struct hpump *p, Ack *a);  /* must not free a */
	int hook_at;
	void (*hook)(struct hpump *p);
	bool hooked, stop;
	void *arg;
};
/* Run until every send is acknowledged (0), stop is set (1), or
 * timeout_ms passes (-1, with a message). */
int hp_run(struct hpump *p, int timeout_ms);

/* ------------------------------------------------------------ queries */

/* Send q (request_id set here) to the query server and wait for its reply,
 * resending once a second until timeout_ms. NULL on timeout. */
QueryReply *hq_call(struct hd *d, Query *q, int timeout_ms);
void hq_free(QueryReply *r);
/* Close the query socket (after a restart of jicengd). */
void hq_reset(struct hd *d);
QueryReply *hq_stats(struct hd *d);
QueryReply *hq_member(struct hd *d, const char *member_id);
QueryReply *hq_org(struct hd *d, const char *org_id);
/* The first page of the audit table from since_seq on, of township_id's
 * orgs ("" or NULL: the county). */
QueryReply *hq_audit(struct hd *d, const char *township_id, uint64_t since_seq);
/* The member ids of org_id's roster, all pages: calls fn for each; returns
 * how many, or -1 on a failed query. */
long hq_roster(struct hd *d, const char *org_id,
    void (*fn)(void *arg, const char *member_id), void *arg);
/* journal_length from stats; UINT64_MAX on failure. */
uint64_t hq_journal_length(struct hd *d);
/* Wait (bounded) until stats count at least n duplicates (the broker
 * writes its counters after the acks); returns the last count seen. */
uint64_t hq_duplicates_reach(struct hd *d, uint64_t n);
/* A count from stats (list "accepted" or "rejected", by code); 0 if absent. */
uint64_t hq_stat_count(const QueryReply *r, bool accepted, const char *code);
/* Wait until every worker's cursor reached the journal length. Returns 0
 * or -1 on timeout. */
int hq_caught_up(struct hd *d, int timeout_ms);

#endif
