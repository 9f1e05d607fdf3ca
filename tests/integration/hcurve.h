/*
 * hcurve: CURVE clients for the integration tests. A test that runs
 * jicengd with [security] curve = on makes its keys here (a server key,
 * and township, county and reader key pairs whose public files jicengd
 * trusts), and opens CURVE DEALER and SUB sockets holding one of them, on
 * a ZeroMQ context of its own, and asks its queries on them. A test file's
 * fixture begins with a struct hcurve_fx, set up and torn down here. The
 * harness still starts and stops jicengd.
 */
#ifndef JICENG_HCURVE_H
#define JICENG_HCURVE_H

#include "harness.h"

#include "auth.h"

#define HCURVE_MAX_SOCKS 32
#define HCURVE_QUERY_MS  5000   /* a query reply takes no longer */

struct hcurve {
	void *ctx;                        /* our ZeroMQ context */
	void *socks[HCURVE_MAX_SOCKS];    /* every socket opened, closed by hcurve_close */
	int nsocks;
	unsigned qseq;                    /* request_id counter */
	char keys[160];                   /* keys_dir: the public files jicengd trusts */
	char clients[160];                /* every key pair, as the clients hold them */
	char server_secret[160];
	char server_public[160];
};

/* A jicengd (not started) whose data directory holds keys_dir, a server
 * key and a config with curve = on, followed by extra (NULL: nothing):
 * config text such as "[daemon]\nworkers = membership\n". Fails the test
 * when it cannot. c must be zeroed; its context is created here. */
struct hd *hcurve_daemon(struct hcurve *c, const char *extra);
/* Make the key pair `name` (role, township or NULL) in clients/ and, with
 * install, put its public file in keys_dir. pub (may be NULL) gets the
 * public key in Z85. */
void hcurve_key(struct hcurve *c, const char *name, enum auth_role role,
    const char *township, bool install, char pub[AUTH_Z85_LEN + 1]);
/* A socket of type type connected to endpoint: a CURVE client with key
 * `name`, or without security when name is NULL. If mon is not NULL it
 * gets a PAIR that receives the socket's handshake events. */
void *hcurve_socket(struct hcurve *c, int type, const char *name,
    const char *endpoint, void **mon);
/* Send q on a query DEALER and wait for the reply carrying its
 * request_id (or an empty one). NULL when none came within timeout_ms. */
QueryReply *hcurve_query(struct hcurve *c, void *sock, Query *q, int timeout_ms);
/* Close every socket and the context. */
void hcurve_close(struct hcurve *c);

/* GetStats, GetMember and GetOrg on a query DEALER (hcurve_query,
 * HCURVE_QUERY_MS). */
QueryReply *hcurve_stats(struct hcurve *c, void *sock);
QueryReply *hcurve_member(struct hcurve *c, void *sock, const char *member_id);
QueryReply *hcurve_org(struct hcurve *c, void *sock, const char *org_id);
/* Assert r came (within HCURVE_QUERY_MS) with status and code, and free
 * it. */
void hcurve_expect(QueryReply *r, Jiceng__V1__QueryStatus status, const char *code);

/* Run `BUILD/jicengctl CMD -q <d's query endpoint> --key <key's secret>
 * --server-key <the server's> WORDS...` (words NULL-ended): a query or a
 * report of d as the holder of key `key` (NULL: no key options). Its stdout
 * goes to d->dir/ctl.out, its stderr to ctl.err. Returns its exit status,
 * -1 when it did not run. */
int hcurve_ctl(struct hcurve *c, struct hd *d, const char *key, const char *cmd, ...);
/* Does d->dir/name (ctl.out, ctl.err) contain s as `want` says? Prints the
 * file when it does not. */
bool hcurve_ctl_has(struct hd *d, const char *name, const char *s, bool want);

/* The start of a test file's fixture: its own struct begins with one. */
struct hcurve_fx {
	struct hd *d;                 /* the jicengd under test (harness) */
	struct hcurve c;              /* keys and CURVE client sockets */
};
/* cmocka set-up: h_setup, then *state is a zeroed fixture of size bytes
 * (a struct whose first member is a struct hcurve_fx). -1 when out of
 * memory. */
int hcurve_fx_setup(void **state, size_t size);
/* cmocka tear-down: close the sockets before the daemon goes, free the
 * fixture, and hand its hd (if any) to h_teardown. */
int hcurve_fx_teardown(void **state);

/* A county of townships A (H_TOWNSHIP) and B (H_TOWNSHIP2) with their
 * keys, C (HCURVE_TC) whose key only queries here, and the county's key:
 * the fixture of the query, report and funds tests. */
#define HCURVE_TC "510722103000"
struct hcurve_county {
	struct hcurve_fx h;
	void *a, *b, *county;           /* ingest: townships A, B, the county */
	void *qa, *qb, *qc, *qcounty;   /* query: A, B, C, the county */
	const char *prefix;             /* of the event ids sent */
	unsigned seq;
};
/* jicengd (hcurve_daemon with extra) up with those keys and sockets, the
 * org tree of hc_org_tree(prefix) in A and b_tree's (hc_org_tree_in) in B,
 * each asserted. */
void hcurve_county_up(struct hcurve_county *f, const char *extra, const char *prefix,
    const char *const b_tree[3]);
/* Send event c (message msg) as township on sock, event id
 * "PREFIX-ev-N"; fail the test unless verdict and code (NULL: any) come. */
void hcurve_county_send(struct hcurve_county *f, void *sock, const char *township, EventCase c,
    void *msg, Jiceng__V1__Verdict verdict, const char *code);
/* Register member_id ("党员") in org_id as township on sock, ACCEPTED. */
void hcurve_county_member(struct hcurve_county *f, void *sock, const char *township,
    const char *member_id, const char *org_id);

#endif
