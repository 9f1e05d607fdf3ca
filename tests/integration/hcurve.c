/*
 * hcurve: CURVE keys, clients and fixtures for the integration tests
 * (hcurve.h).
 */
#include "hcurve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

struct hd *
hcurve_daemon(struct hcurve *f, const char *extra)
{
	struct auth_cert server;
	char err[512];
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	assert_non_null(f->ctx = zmq_ctx_new());
	snprintf(f->keys, sizeof f->keys, "%s/keys", d->dir);
	snprintf(f->clients, sizeof f->clients, "%s/clients", d->dir);
	snprintf(f->server_secret, sizeof f->server_secret, "%s/server.key_secret", d->dir);
	snprintf(f->server_public, sizeof f->server_public, "%s/server.key", d->dir);
	assert_int_equal(mkdir(f->keys, 0755), 0);
	assert_int_equal(mkdir(f->clients, 0700), 0);
	if (auth_server_key_load(f->server_secret, true, &server, err, sizeof err) < 0)
		fail_msg("server key: %s", err);
	memset(&server, 0, sizeof server);
	/* The paths live in the data directory, which hd_new names: write the
	 * config ourselves and point the harness at it. */
	snprintf(d->config, sizeof d->config, "%s/jiceng.conf", d->dir);
	h_write_file(d->config, "[security]\ncurve = on\nkeys_dir = %s\nserver_key = %s\n%s",
	    f->keys, f->server_secret, extra ? extra : "");
	return d;
}

void
hcurve_key(struct hcurve *f, const char *name, enum auth_role role, const char *township,
    bool install, char pub[AUTH_Z85_LEN + 1])
{
	struct auth_cert c;
	char err[512], from[512], to[512];
	memset(&c, 0, sizeof c);
	snprintf(c.name, sizeof c.name, "%s", name);
	c.role = role;
	snprintf(c.township, sizeof c.township, "%s", township ? township : "");
	if (auth_cert_generate(&c, err, sizeof err) < 0 ||
	    auth_cert_save(&c, f->clients, err, sizeof err) < 0)
		fail_msg("key %s: %s", name, err);
	if (pub)
		memcpy(pub, c.public_key, AUTH_Z85_LEN + 1);
	memset(c.secret_key, 0, sizeof c.secret_key);
	if (!install)
		return;
	snprintf(from, sizeof from, "%s/%s.key", f->clients, name);
	snprintf(to, sizeof to, "%s/%s.key", f->keys, name);
	assert_int_equal(link(from, to), 0);
}

/* Keep sock for hcurve_close. */
static void
s_track(struct hcurve *f, void *sock)
{
	assert_non_null(sock);
	assert_true(f->nsocks < HCURVE_MAX_SOCKS);
	f->socks[f->nsocks++] = sock;
}

/* A socket of type type connected to endpoint: a CURVE client with key
 * `name`, or with no security at all when name is NULL. If mon is not
 * NULL it gets a PAIR that receives the socket's handshake events. */
void *
hcurve_socket(struct hcurve *f, int type, const char *name, const char *endpoint, void **mon)
{
	static unsigned nmon;
	char secret[512], err[512], addr[64];
	int linger = 0;
	void *s = zmq_socket(f->ctx, type);
	s_track(f, s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (name) {
		snprintf(secret, sizeof secret, "%s/%s.key_secret", f->clients, name);
		if (auth_client_setup(s, secret, f->server_public, err, sizeof err) < 0)
			fail_msg("client %s: %s", name, err);
	}
	if (mon) {
		snprintf(addr, sizeof addr, "inproc://hcurve-monitor-%u", ++nmon);
		assert_int_equal(zmq_socket_monitor(s, addr, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
		    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
		    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL), 0);
		*mon = zmq_socket(f->ctx, ZMQ_PAIR);
		s_track(f, *mon);
		zmq_setsockopt(*mon, ZMQ_LINGER, &linger, sizeof linger);
		assert_int_equal(zmq_connect(*mon, addr), 0);
	}
	assert_int_equal(zmq_connect(s, endpoint), 0);
	return s;
}

/* One single-frame reply within timeout_ms (malloc'd), NULL if none. */
static uint8_t *
s_recv_frame(void *sock, int timeout_ms, size_t *len)
{
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end;) {
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t m;
		if (zmq_poll(&it, 1, (long)(end - now_mono_ms())) <= 0)
			continue;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			continue;
		}
		*len = zmq_msg_size(&m);
		uint8_t *buf = malloc(*len ? *len : 1);
		if (buf)
			memcpy(buf, zmq_msg_data(&m), *len);
		zmq_msg_close(&m);
		return buf;
	}
	return NULL;
}

/* Send q on a query DEALER and wait for the reply carrying its
 * request_id, or an empty one (a reply the server could not or did not
 * tie to a request; one request is outstanding per socket here). NULL
 * when none came within timeout_ms. */
QueryReply *
hcurve_query(struct hcurve *f, void *sock, Query *q, int timeout_ms)
{
	char rid[32];
	QueryReply *r = NULL;
	snprintf(rid, sizeof rid, "curve-q%u", ++f->qseq);
	q->request_id = rid;
	size_t len = jiceng__v1__query__get_packed_size(q), n;
	uint8_t *buf = malloc(len ? len : 1), *reply;
	assert_non_null(buf);
	jiceng__v1__query__pack(q, buf);
	int64_t end = now_mono_ms() + timeout_ms;
	if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) == (int)len)
		while (!r && (reply = s_recv_frame(sock, (int)(end - now_mono_ms()), &n))) {
			r = jiceng__v1__query_reply__unpack(NULL, n, reply);
			free(reply);
			if (r && r->request_id[0] && strcmp(r->request_id, rid) != 0) {
				fprintf(stderr, "hcurve: reply for \"%s\" while waiting for %s (%s %s)\n",
				    r->request_id, rid, r->code, r->reason);
				hq_free(r);
				r = NULL;
			}
		}
	free(buf);
	q->request_id = NULL;
	return r;
}

void
hcurve_close(struct hcurve *f)
{
	for (int i = f->nsocks - 1; i >= 0; i--)
		zmq_close(f->socks[i]);
	f->nsocks = 0;
	if (f->ctx)
		zmq_ctx_term(f->ctx);
	f->ctx = NULL;
}

/* ================================================================ queries */

QueryReply *
hcurve_stats(struct hcurve *f, void *sock)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetStats s = JICENG__V1__GET_STATS__INIT;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
	q.get_stats = &s;
	return hcurve_query(f, sock, &q, HCURVE_QUERY_MS);
}

QueryReply *
hcurve_member(struct hcurve *f, void *sock, const char *member_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetMember g = JICENG__V1__GET_MEMBER__INIT;
	g.member_id = (char *)member_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_MEMBER;
	q.get_member = &g;
	return hcurve_query(f, sock, &q, HCURVE_QUERY_MS);
}

QueryReply *
hcurve_org(struct hcurve *f, void *sock, const char *org_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetOrg g = JICENG__V1__GET_ORG__INIT;
	g.org_id = (char *)org_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_ORG;
	q.get_org = &g;
	return hcurve_query(f, sock, &q, HCURVE_QUERY_MS);
}

void
hcurve_expect(QueryReply *r, Jiceng__V1__QueryStatus status, const char *code)
{
	if (!r)
		fail_msg("no query reply within %d ms (expected %s)", HCURVE_QUERY_MS, code);
	if (r->status != status || strcmp(r->code, code) != 0) {
		int got = r->status;
		fprintf(stderr, "query reply: %d %s (%s)\n", got, r->code, r->reason);
		hq_free(r);
		fail_msg("expected query status %d %s, got %d", status, code, got);
	}
	hq_free(r);
}

/* ================================================================ jicengctl */

#define HCURVE_CTL_ARGS 24
#define HCURVE_CTL_MS   10000

int
hcurve_ctl(struct hcurve *c, struct hd *d, const char *key, const char *cmd, ...)
{
	char bin[512], keyfile[512], out[256], err[256], *argv[HCURVE_CTL_ARGS];
	int n = 0;
	va_list ap;

	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	argv[n++] = bin;
	argv[n++] = (char *)cmd;
	argv[n++] = "-q";
	argv[n++] = d->query;
	if (key) {
		snprintf(keyfile, sizeof keyfile, "%s/%s.key_secret", c->clients, key);
		argv[n++] = "--key";
		argv[n++] = keyfile;
		argv[n++] = "--server-key";
		argv[n++] = c->server_public;
	}
	va_start(ap, cmd);
	for (char *w; n < HCURVE_CTL_ARGS - 1 && (w = va_arg(ap, char *));)
		argv[n++] = w;
	va_end(ap);
	argv[n] = NULL;
	snprintf(out, sizeof out, "%s/ctl.out", d->dir);
	snprintf(err, sizeof err, "%s/ctl.err", d->dir);
	return h_run(argv, out, err, h_ms(HCURVE_CTL_MS));
}

bool
hcurve_ctl_has(struct hd *d, const char *name, const char *s, bool want)
{
	char path[256];
	size_t len;
	snprintf(path, sizeof path, "%s/%s", d->dir, name);
	char *text = h_slurp(path, &len);
	bool has = text && strstr(text, s);
	if (has != want)
		fprintf(stderr, "%s: %s\n(expected %s\"%s\")\n", name, text ? text : "(none)",
		    want ? "" : "no ", s);
	free(text);
	return has == want;
}

/* ================================================================ fixture */

int
hcurve_fx_setup(void **state, size_t size)
{
	void *f;
	h_setup(state);
	if (!(f = calloc(1, size)))
		return -1;
	*state = f;
	return 0;
}

int
hcurve_fx_teardown(void **state)
{
	struct hcurve_fx *f = *state;
	void *d = NULL;
	if (f) {
		hcurve_close(&f->c);
		d = f->d;
		free(f);
	}
	*state = d;
	return h_teardown(state);
}

/* ================================================================ a county */

void
hcurve_county_up(struct hcurve_county *f, const char *extra, const char *prefix,
    const char *const b_tree[3])
{
	struct hcurve *c = &f->h.c;
	char b_prefix[16];
	f->prefix = prefix;
	f->h.d = hcurve_daemon(c, extra);
	hcurve_key(c, "townA", AUTH_ROLE_TOWNSHIP, H_TOWNSHIP, true, NULL);
	hcurve_key(c, "townB", AUTH_ROLE_TOWNSHIP, H_TOWNSHIP2, true, NULL);
	hcurve_key(c, "townC", AUTH_ROLE_TOWNSHIP, HCURVE_TC, true, NULL);
	hcurve_key(c, "county", AUTH_ROLE_COUNTY, NULL, true, NULL);
	assert_int_equal(hd_up(f->h.d), 0);
	f->a = hcurve_socket(c, ZMQ_DEALER, "townA", f->h.d->ingest, NULL);
	f->b = hcurve_socket(c, ZMQ_DEALER, "townB", f->h.d->ingest, NULL);
	f->county = hcurve_socket(c, ZMQ_DEALER, "county", f->h.d->ingest, NULL);
	f->qa = hcurve_socket(c, ZMQ_DEALER, "townA", f->h.d->query, NULL);
	f->qb = hcurve_socket(c, ZMQ_DEALER, "townB", f->h.d->query, NULL);
	f->qc = hcurve_socket(c, ZMQ_DEALER, "townC", f->h.d->query, NULL);
	f->qcounty = hcurve_socket(c, ZMQ_DEALER, "county", f->h.d->query, NULL);
	snprintf(b_prefix, sizeof b_prefix, "%sb", prefix);
	assert_int_equal(hc_org_tree(f->a, prefix), 0);
	assert_int_equal(hc_org_tree_in(f->b, H_TOWNSHIP2, b_prefix, b_tree), 0);
}

void
hcurve_county_send(struct hcurve_county *f, void *sock, const char *township, EventCase c,
    void *msg, Jiceng__V1__Verdict verdict, const char *code)
{
	char id[32];
	snprintf(id, sizeof id, "%s-ev-%u", f->prefix, ++f->seq);
	hc_event_expect(sock, id, township, c, msg, verdict, code);
}

void
hcurve_county_member(struct hcurve_county *f, void *sock, const char *township,
    const char *member_id, const char *org_id)
{
	char id[48];
	snprintf(id, sizeof id, "%s-reg-%s", f->prefix, member_id);
	struct hmsg m = hm_member_in(township, id, member_id, org_id, "党员", NULL);
	bool ok = hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL);
	hm_free(&m);
	assert_true(ok);
}
