/*
 * hnats: real nats-server processes for the integration tests, with
 * JetStream on file storage in a temporary directory, on loopback ports
 * chosen free at run time: one node, or a three-node cluster (routes
 * between every pair, server_name n1..n3, cluster name "jiceng-test", no
 * JetStream domain), in which a stream at R3 lives on all three.
 *
 * Every process is started here by fork+exec with PR_SET_PDEATHSIG, so a
 * test run that dies (its time limit) takes its servers with it, and is
 * stopped here by its pid. Waits are bounded by hn_ms, which scales a
 * deadline to the machine's load.
 *
 * Typical use (the test skips when nats-server is not installed):
 *
 *	if (!hn_available())
 *		skip();
 *	struct hnats *n = hn_start(3);
 *	assert_non_null(n);
 *	... "[mirror]\nservers = %s\n", n->urls ...
 *	hn_kill9(n, 1);            node 2 dies
 *	assert_int_equal(hn_restart(n, 1), 0);
 *	hn_destroy(&n);
 */
#ifndef JICENG_HNATS_H
#define JICENG_HNATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HN_MAX_NODES 3
#define HN_READY_MS 20000  /* start to healthy, before hn_ms scaling */

struct hnats_node {
	pid_t pid;                 /* 0 when not running */
	int port;                  /* client port */
	int http_port;             /* monitoring port (/healthz) */
	int cluster_port;          /* route port, 0 for a single node */
	char url[48];              /* nats://127.0.0.1:PORT */
	char name[8];              /* server_name: n1, n2, n3 */
	char conf[192];            /* its config file */
	char log[192];             /* its stdout and stderr (all runs, appended) */
};

struct hnats {
	int n;                     /* nodes: 1 or 3 */
	struct hnats_node node[HN_MAX_NODES];
	char dir[128];             /* temporary directory: configs, logs, stores */
	char urls[160];            /* every node's url, comma-separated, for
	                            * [mirror] servers */
	char extra[4096];          /* appended to every node's config (room for
	                            * operator-mode JWTs) */
};

/* Every node's url into out[HN_MAX_NODES], for natsOptions_SetServers
 * (libnats 3.4 does not split a comma-separated natsOptions_SetURL: with
 * more than one url it finds no server). Returns how many. */
int hn_servers(struct hnats *n, const char **out);

/* Is nats-server installed (in PATH or /usr/sbin)? */
bool hn_available(void);
/* The path of nats-server, NULL when absent. */
const char *hn_server_path(void);

/* A deadline of ms scaled to load: h_ms(ms) times 1 + the one-minute load
 * average per CPU (at most x4), so a busy CI machine gets more time and an
 * idle one fails fast. */
int hn_ms(int ms);

/* Start `nodes` (1 or 3) servers and wait until every one is healthy
 * (GET /healthz answers ok: JetStream up and, in a cluster, a meta leader
 * known), HN_READY_MS scaled. Retries with new ports when a port turned
 * out to be taken. NULL on failure, with the servers' logs printed; any
 * server started is stopped. */
struct hnats *hn_start(int nodes);
/* The same with extra appended to every node's config (e.g. an
 * authorization block); a node is then healthy as hn_start says. */
struct hnats *hn_start_conf(int nodes, const char *extra);

/* Is node i healthy now (one /healthz request)? */
bool hn_healthy(struct hnats *n, int i);
/* Wait until node i is healthy, up to timeout_ms (scaled by hn_ms). 0, or
 * -1 when it is not running or the time passed. */
int hn_wait_ready(struct hnats *n, int i, int timeout_ms);
/* Wait until every running node is healthy. 0 or -1. */
int hn_wait_all(struct hnats *n, int timeout_ms);

/* kill -9 node i and reap it. No-op when it is not running. */
void hn_kill9(struct hnats *n, int i);
/* Stop node i: SIGTERM (lame duck skipped), reaped within a few seconds,
 * else SIGKILL. No-op when it is not running. */
void hn_stop(struct hnats *n, int i);
/* Start node i again with the same config, ports and store (after
 * hn_kill9 or hn_stop) and wait until it is healthy. 0 or -1 (its log
 * printed). */
int hn_restart(struct hnats *n, int i);

/* Print node i's log to stderr. */
void hn_print_log(struct hnats *n, int i);
/* Stop every node by its pid and remove the directory (kept when
 * JICENG_KEEP is set). Clears *np. */
void hn_destroy(struct hnats **np);

struct hd;
/* Wait until d's jiceng-mirror, connected and with no problem, has the
 * stream holding d's journal through end (0: the journal's end as it is at
 * each look), up to timeout_ms (hn_ms); that end. Fails the test saying
 * where the mirror is otherwise. */
uint64_t hn_wait_mirrored(struct hd *d, uint64_t end, int timeout_ms);
/* cmocka set-up of a test with NATS: *state a zeroed fixture of size
 * bytes, and the test's time limit (H_TEST_LIMIT_S). -1 out of memory. */
int hn_fixture_begin(void **state, size_t size);
/* Its tear-down: destroy each daemon of the NULL-ended list in order, then
 * n, free the fixture and lift the time limit. 0, or -1 when a daemon did
 * not stop as it should (hd_destroy). */
int hn_fixture_end(void **state, struct hnats **n, struct hd **const daemons[]);

#endif
