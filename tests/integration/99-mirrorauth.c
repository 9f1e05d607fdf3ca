/*
 * 99-mirrorauth: jiceng-mirror against nats-servers that want TLS or
 * credentials: a throwaway CA and certificates made by the openssl CLI,
 * and an operator, accounts and a user made here as nkeys and JWTs (the
 * group's tests skip when nats-server, or openssl, is not installed).
 *
 * - With [mirror] tls_ca_file naming the CA, the mirror publishes: the
 *   stream holds the journal (stats: mirror seq at its end, connected).
 * - Without it, or with another CA, the server is refused: the mirror
 *   says why in its log and in stats (connected false, the problem), and
 *   ingest carries on.
 * - A server that wants a client certificate: refused with the CA alone,
 *   published to with tls_cert_file and tls_key_file.
 * - A server in operator mode (JWT accounts): refused without
 *   credentials (Authorization Violation), published to with creds_file.
 * - A standby (jicengd with [standby] enabled) of a primary mirroring to
 *   such servers, with the [standby] options of the same names: without
 *   them (or with another CA, or a client certificate another CA signed)
 *   it is refused and says why and what to set (stats: refused, the
 *   problem; metrics: jiceng_standby_following 0; the log), retrying;
 *   with them it follows to the primary's journal (and, in the TLS test,
 *   recovers without a restart once its CA file holds the right CA, its
 *   membership environment then dumping as the primary's).
 */
#include "harness.h"
#include "hnats.h"
#include "nkey.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_WORKERS "[daemon]\nworkers = membership\n"
#define S_UNTRUSTED "SSL handshake error: 20:unable to get local issuer certificate"

/* One test's processes, stopped by the tear-down whatever happened. */
struct s_fix {
	struct hd *d;          /* jicengd, the primary when there is a standby */
	struct hd *s;          /* a standby following d's stream */
	struct hnats *n;
	char tls[160];         /* d->dir/tls: the CA, the server's key and certificate */
};

static int
s_setup(void **state)
{
	return hn_fixture_begin(state, sizeof(struct s_fix));
}

static int
s_teardown(void **state)
{
	struct s_fix *f = *state;
	if (!f)
		return 0;
	return hn_fixture_end(state, &f->n, (struct hd **const[]){ &f->s, &f->d, NULL });
}

/* The openssl CLI's path, NULL when absent. */
static const char *
s_openssl(void)
{
	static const char *const paths[] = { "/usr/bin/openssl", "/usr/local/bin/openssl" };
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* openssl WORDS... (NULL-ended) in dir, output in dir/openssl.log; fails
 * the test when it fails. */
static void
s_openssl_run(const char *dir, ...)
{
	char log[256], *argv[32];
	int n = 0;
	va_list ap;
	argv[n++] = (char *)s_openssl();
	va_start(ap, dir);
	for (char *w; (w = va_arg(ap, char *)) && n < 31;)
		argv[n++] = w;
	va_end(ap);
	argv[n] = NULL;
	snprintf(log, sizeof log, "%s/openssl.log", dir);
	if (h_run(argv, log, log, h_ms(30000)) != 0) {
		char *text = h_slurp(log, NULL);
		fail_msg("openssl %s failed: %s", argv[1], text ? text : "?");
	}
}

/* A CA named cn (dir/<name>.pem, its key dir/<name>.key). */
static void
s_ca(const char *dir, const char *name, const char *cn)
{
	char key[256], pem[256], subj[128];
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	snprintf(pem, sizeof pem, "%s/%s.pem", dir, name);
	snprintf(subj, sizeof subj, "/CN=%s", cn);
	s_openssl_run(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
	    "-nodes", "-keyout", key, "-out", pem, "-days", "2", "-subj", subj, NULL);
}

/* A key (dir/<name>.key) and certificate (dir/<name>.pem) for cn, signed
 * by the CA dir/<ca>.pem, with the extensions ext. */
static void
s_cert(const char *dir, const char *ca_name, const char *name, const char *cn, const char *ext)
{
	char key[256], csr[256], pem[256], ca[256], cakey[256], extf[256], serial[256], subj[128];
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	snprintf(csr, sizeof csr, "%s/%s.csr", dir, name);
	snprintf(pem, sizeof pem, "%s/%s.pem", dir, name);
	snprintf(ca, sizeof ca, "%s/%s.pem", dir, ca_name);
	snprintf(cakey, sizeof cakey, "%s/%s.key", dir, ca_name);
	snprintf(extf, sizeof extf, "%s/%s.ext", dir, name);
	snprintf(serial, sizeof serial, "%s/%s.srl", dir, ca_name);
	snprintf(subj, sizeof subj, "/CN=%s", cn);
	h_write_file(extf, "%s\n", ext);
	s_openssl_run(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
	    "-nodes", "-keyout", key, "-out", csr, "-subj", subj, NULL);
	s_openssl_run(dir, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
	    "-CAcreateserial", "-CAserial", serial, "-out", pem, "-days", "2", "-extfile", extf, NULL);
}

/* jicengd (not started), the CA, the server's and a client's certificate
 * in its data directory, and nats-server wanting TLS with them (and a
 * client certificate signed by the CA when verify). */
static void
s_up(struct s_fix *f, bool verify)
{
	char extra[768];
	struct hd_opts o = { .config = "" };
	assert_non_null(f->d = hd_new(&o));
	snprintf(f->tls, sizeof f->tls, "%s/tls", f->d->dir);
	assert_int_equal(mkdir(f->tls, 0700), 0);
	s_ca(f->tls, "ca", "jiceng test CA");
	s_ca(f->tls, "other", "another CA");
	s_cert(f->tls, "ca", "server", "127.0.0.1", "subjectAltName = IP:127.0.0.1, DNS:localhost");
	s_cert(f->tls, "ca", "client", "jiceng-mirror", "extendedKeyUsage = clientAuth");
	char want[256] = "";
	if (verify)
		snprintf(want, sizeof want, "  ca_file: \"%s/ca.pem\"\n  verify: true\n", f->tls);
	snprintf(extra, sizeof extra, "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
	    "  timeout: 5\n%s}\n", f->tls, f->tls, want);
	assert_non_null(f->n = hn_start_conf(1, extra));
}

/* The mirror's stats (NULL: none yet). */
static Jiceng__V1__MirrorStats *
s_mirror(QueryReply *r)
{
	return r && r->stats ? r->stats->mirror : NULL;
}

/* With the CA: the mirror publishes the journal over TLS. */
static void
test_mirror_tls_ca(void **state)
{
	struct s_fix *f = *state;
	if (!hn_available() || !s_openssl())
		skip();
	s_up(f, false);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n"
	    "tls_ca_file = %s/ca.pem\n", f->n->urls, f->tls);
	assert_int_equal(hd_up(f->d), 0);
	void *sock = hc_connect(f->d);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "tls"), 0);
	assert_true(hc_members(sock, "tls", H_ORG_BRANCH, 0, 20) > 0);
	hc_close(sock);
	hn_wait_mirrored(f->d, 0, 30000);
	assert_true(hd_log_has(f->d, "mirror: publishing to stream JICENG"));
	assert_false(hd_log_has(f->d, "mirror: NATS"));
	hd_pass(f->d);
}

/* Wait until stats say the mirror is not connected, for a reason
 * containing why; events are still acknowledged meanwhile. */
static void
s_wait_refused(struct s_fix *f, const char *why)
{
	int64_t until = now_mono_ms() + hn_ms(30000);
	char last[256] = "no stats";
	for (;;) {
		QueryReply *r = hq_stats(f->d);
		Jiceng__V1__MirrorStats *m = s_mirror(r);
		bool done = false;
		if (m) {
			snprintf(last, sizeof last, "seq %llu, connected %d, problem %s",
			    (unsigned long long)m->seq, m->connected, m->problem);
			done = !m->connected && m->seq == 0 && strstr(m->problem, why);
		}
		hq_free(r);
		if (done)
			return;
		if (now_mono_ms() > until)
			fail_msg("the mirror was not refused for '%s': %s", why, last);
		h_sleep_ms(100);
	}
}

/* Without the CA, or with another: refused, said, ingest carries on. */
static void
test_mirror_tls_refused(void **state)
{
	struct s_fix *f = *state;
	if (!hn_available() || !s_openssl())
		skip();
	s_up(f, false);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n", f->n->urls);
	assert_int_equal(hd_up(f->d), 0);
	void *sock = hc_connect(f->d);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "tln"), 0);
	/* libnats takes up the TLS the server asks for, against the system's
	 * CAs: the server's certificate is not one of theirs. */
	s_wait_refused(f, S_UNTRUSTED);
	assert_true(hd_log_wait(f->d, "mirror: NATS ", 10000));
	assert_true(hd_log_has(f->d, S_UNTRUSTED ":depth=0:cert=/CN=127.0.0.1:issuer=/CN=jiceng test CA; "
	    "the servers' certificate is not signed by a CA trusted here: set [mirror] tls_ca_file "
	    "to their CA; ingest carries on"));
	hc_close(sock);

	/* A CA that did not sign the server's certificate. */
	hq_reset(f->d);
	assert_int_equal(hd_stop(f->d, 10000), 0);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n"
	    "tls_ca_file = %s/other.pem\n", f->n->urls, f->tls);
	assert_int_equal(hd_up(f->d), 0);
	sock = hc_connect(f->d);
	assert_non_null(sock);
	assert_true(hc_members(sock, "tln", H_ORG_BRANCH, 0, 5) > 0);
	hc_close(sock);
	s_wait_refused(f, S_UNTRUSTED);
	assert_int_equal(hd_log_count(f->d, S_UNTRUSTED), 2);  /* once per outage, each run */
	hd_pass(f->d);
}

/* A server that wants a client certificate: the mirror with
 * tls_cert_file and tls_key_file publishes; with the CA alone it is
 * refused, saying so. */
static void
test_mirror_tls_client_cert(void **state)
{
	struct s_fix *f = *state;
	if (!hn_available() || !s_openssl())
		skip();
	s_up(f, true);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n"
	    "tls_ca_file = %s/ca.pem\n", f->n->urls, f->tls);
	assert_int_equal(hd_up(f->d), 0);
	void *sock = hc_connect(f->d);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "tlc"), 0);
	hc_close(sock);
	/* The server ends the handshake; libnats says only that the
	 * connection closed ("Expected 'PONG', got ''" or "SSL_write error"):
	 * the mirror says what to set. */
	s_wait_refused(f, "cannot connect");
	s_wait_refused(f, "; the servers closed the connection at once: with TLS, usually because "
	    "they want a client certificate: set [mirror] tls_cert_file and tls_key_file");
	assert_true(hd_log_wait(f->d, "mirror: NATS ", 10000));

	hq_reset(f->d);
	assert_int_equal(hd_stop(f->d, 10000), 0);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n"
	    "tls_ca_file = %s/ca.pem\ntls_cert_file = %s/client.pem\ntls_key_file = %s/client.key\n",
	    f->n->urls, f->tls, f->tls, f->tls);
	assert_int_equal(hd_up(f->d), 0);
	hn_wait_mirrored(f->d, 0, 30000);
	hd_pass(f->d);
}

/* ================================================================ credentials */

/* NATS nkeys and JWTs made here, for a server in operator mode (the nsc
 * tool is not in Debian): an nkey is base32 of its prefix, the Ed25519
 * public key or seed and a CRC-16 (XMODEM), as lib/nkey.c reads them; a
 * JWT is {"typ":"JWT","alg":"ed25519-nkey"}, the claims, and the
 * issuer's signature, each base64url. */
#define S_NK_OPERATOR (14 << 3)
#define S_NK_ACCOUNT 0
#define S_NK_USER (20 << 3)
#define S_NK_SEED (18 << 3)

struct s_nkey {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char pub[57], seed[59];
};

static void
s_nkey_new(struct s_nkey *k, uint8_t prefix)
{
	uint8_t raw[crypto_sign_SEEDBYTES], buf[2 + crypto_sign_SEEDBYTES + 2];
	randombytes_buf(raw, sizeof raw);
	crypto_sign_seed_keypair(k->pk, k->sk, raw);
	buf[0] = prefix;
	memcpy(buf + 1, k->pk, sizeof k->pk);
	nkey_encode(buf, 1 + sizeof k->pk, k->pub);
	buf[0] = (uint8_t)(S_NK_SEED | prefix >> 5);
	buf[1] = (uint8_t)((prefix & 31) << 3);
	memcpy(buf + 2, raw, sizeof raw);
	nkey_encode(buf, 2 + sizeof raw, k->seed);
}

static void
s_b64url(const uint8_t *in, size_t n, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* A JWT of sub (named name) with the nats claims nats, signed by iss
 * (malloc'd). */
static char *
s_jwt(const struct s_nkey *iss, const char *sub, const char *name, const char *nats)
{
	static const char head[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";
	static unsigned jti;
	char claims[1024], signed_part[2048], hb[128], cb[1400], sb[128];
	uint8_t sig[crypto_sign_BYTES];
	snprintf(claims, sizeof claims, "{\"jti\":\"JITEST%06u\",\"iat\":%lld,\"iss\":\"%s\","
	    "\"name\":\"%s\",\"sub\":\"%s\",\"nats\":%s}", ++jti, (long long)(now_wall_ms() / 1000),
	    iss->pub, name, sub, nats);
	s_b64url((const uint8_t *)head, strlen(head), hb, sizeof hb);
	s_b64url((const uint8_t *)claims, strlen(claims), cb, sizeof cb);
	snprintf(signed_part, sizeof signed_part, "%s.%s", hb, cb);
	crypto_sign_detached(sig, NULL, (const uint8_t *)signed_part, strlen(signed_part), iss->sk);
	s_b64url(sig, sizeof sig, sb, sizeof sb);
	char *jwt = NULL;
	assert_true(asprintf(&jwt, "%s.%s", signed_part, sb) > 0);
	return jwt;
}

/* An operator, its system account, an account with JetStream and a user
 * of it: the server's
 * config for them (operator mode, the account preloaded) into extra, the
 * user's credentials file (JWT and seed, as nsc writes it) at creds. */
static void
s_operator_mode(char *extra, size_t cap, const char *creds)
{
	struct s_nkey op, sys, acc, user;
	s_nkey_new(&op, S_NK_OPERATOR);
	s_nkey_new(&sys, S_NK_ACCOUNT);
	s_nkey_new(&acc, S_NK_ACCOUNT);
	s_nkey_new(&user, S_NK_USER);
	char *op_jwt = s_jwt(&op, op.pub, "jiceng-test-operator", "{\"type\":\"operator\",\"version\":2}");
	/* JetStream wants a system account. */
	char *sys_jwt = s_jwt(&op, sys.pub, "SYS", "{\"type\":\"account\",\"version\":2}");
	char *acc_jwt = s_jwt(&op, acc.pub, "JICENG", "{\"limits\":{\"subs\":-1,\"data\":-1,"
	    "\"payload\":-1,\"imports\":-1,\"exports\":-1,\"wildcards\":true,\"conn\":-1,\"leaf\":-1,"
	    "\"mem_storage\":-1,\"disk_storage\":-1,\"streams\":-1,\"consumer\":-1},"
	    "\"type\":\"account\",\"version\":2}");
	char *user_jwt = s_jwt(&acc, user.pub, "jiceng-mirror", "{\"pub\":{},\"sub\":{},\"subs\":-1,"
	    "\"data\":-1,\"payload\":-1,\"type\":\"user\",\"version\":2}");
	snprintf(extra, cap, "operator: \"%s\"\nsystem_account: %s\nresolver: MEMORY\n"
	    "resolver_preload: {\n  %s: \"%s\"\n  %s: \"%s\"\n}\n", op_jwt, sys.pub, sys.pub, sys_jwt,
	    acc.pub, acc_jwt);
	h_write_file(creds, "-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"
	    "************************* IMPORTANT *************************\n"
	    "NKEY Seed printed below can be used to sign and prove identity.\n"
	    "NKEYs are sensitive and should be treated as secrets.\n\n"
	    "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n\n"
	    "*************************************************************\n", user_jwt, user.seed);
	chmod(creds, 0600);
	free(op_jwt);
	free(sys_jwt);
	free(acc_jwt);
	free(user_jwt);
}

/* A server in operator mode: the mirror with [mirror] creds_file (a
 * user's JWT and seed) publishes; without it, it is refused, saying so. */
static void
test_mirror_creds(void **state)
{
	struct s_fix *f = *state;
	char extra[4096], creds[256];
	struct hd_opts o = { .config = "" };
	if (!hn_available())
		skip();
	assert_non_null(f->d = hd_new(&o));
	snprintf(creds, sizeof creds, "%s/mirror.creds", f->d->dir);
	s_operator_mode(extra, sizeof extra, creds);
	assert_non_null(f->n = hn_start_conf(1, extra));
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n", f->n->urls);
	assert_int_equal(hd_up(f->d), 0);
	void *sock = hc_connect(f->d);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "tlj"), 0);
	hc_close(sock);
	s_wait_refused(f, "Authorization Violation");
	assert_true(hd_log_wait(f->d, "Authorization Violation; the servers want credentials: set "
	    "[mirror] creds_file (or nkey_seed_file); ingest carries on", 10000));

	hq_reset(f->d);
	assert_int_equal(hd_stop(f->d, 10000), 0);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\ncreds_file = %s\n",
	    f->n->urls, creds);
	assert_int_equal(hd_up(f->d), 0);
	hn_wait_mirrored(f->d, 0, 30000);
	hd_pass(f->d);
}

/* ================================================================ the standby */

/* The standby's [standby] section: f->n's servers and extra; its metrics
 * written every second. */
static void
s_standby_config(struct s_fix *f, const char *extra)
{
	hd_config_write(f->s, S_WORKERS "[standby]\nenabled = true\nservers = %s\n%s"
	    "[metrics]\ntextfile = %s/jiceng.prom\ninterval_s = 1\n", f->n->urls, extra, f->s->dir);
}

/* A standby in f->s with [standby] extra, started. */
static void
s_standby_up(struct s_fix *f, const char *extra)
{
	struct hd_opts o = { .config = "" };
	if (!f->s)
		assert_non_null(f->s = hd_new(&o));
	s_standby_config(f, extra);
	assert_int_equal(hd_up(f->s), 0);
}

static void
s_standby_stop(struct s_fix *f)
{
	hq_reset(f->s);
	assert_int_equal(hd_stop(f->s, 10000), 0);
}

/* The primary f->d, mirroring with [mirror] extra: started, a few members
 * registered (event ids prefix...), the stream holding its journal. */
static void
s_primary_up(struct s_fix *f, const char *extra, const char *prefix)
{
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n%s", f->n->urls,
	    extra);
	assert_int_equal(hd_up(f->d), 0);
	void *sock = hc_connect(f->d);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, prefix), 0);
	assert_true(hc_members(sock, prefix, H_ORG_BRANCH, 0, 20) > 0);
	hc_close(sock);
	hn_wait_mirrored(f->d, 0, 30000);
}

/* Wait until the standby's metrics file has the line line. */
static void
s_wait_metric(struct s_fix *f, const char *line)
{
	char path[256];
	snprintf(path, sizeof path, "%s/jiceng.prom", f->s->dir);
	for (int64_t until = now_mono_ms() + hn_ms(15000);; h_sleep_ms(100)) {
		char *text = h_slurp(path, NULL);
		bool has = text && strstr(text, line);
		free(text);
		if (has)
			return;
		if (now_mono_ms() > until)
			fail_msg("the standby's metrics never said %s", line);
	}
}

/* Wait until the standby says TLS or its credentials failed, for a
 * reason containing why (stats: refused, not disconnected, the problem;
 * metrics: not following; the log: "NATS answered but TLS or the
 * credentials failed (..." and why), its journal still empty. */
static void
s_wait_standby_refused(struct s_fix *f, const char *why)
{
	char last[512] = "no stats";
	for (int64_t until = now_mono_ms() + hn_ms(30000);; h_sleep_ms(100)) {
		QueryReply *r = hq_stats(f->s);
		bool done = false;
		if (r && r->stats && r->stats->standby) {
			Jiceng__V1__StandbyStats *sb = r->stats->standby;
			snprintf(last, sizeof last, "journal %llu, state %s, problem %s",
			    (unsigned long long)r->stats->journal_length, sb->state, sb->problem);
			done = strcmp(sb->state, "refused") == 0 && strstr(sb->problem, why) &&
			    r->stats->journal_length == 0;
		}
		hq_free(r);
		if (done)
			break;
		if (now_mono_ms() > until)
			fail_msg("the standby was not refused for '%s': %s", why, last);
	}
	s_wait_metric(f, "\njiceng_standby_following 0\n");
	assert_true(hd_log_wait(f->s, "standby: NATS answered but TLS or the credentials failed (", 10000));
	assert_false(hd_log_has(f->s, "standby: NATS unreachable ("));
	assert_true(hd_log_has(f->s, why));
}

/* Wait until the standby holds the primary's journal and follows. */
static void
s_wait_standby_followed(struct s_fix *f)
{
	char last[512] = "no stats";
	for (int64_t until = now_mono_ms() + hn_ms(30000);; h_sleep_ms(100)) {
		uint64_t end = hq_journal_length(f->d);
		QueryReply *r = hq_stats(f->s);
		bool done = false;
		if (r && r->stats && r->stats->standby) {
			Jiceng__V1__StandbyStats *sb = r->stats->standby;
			snprintf(last, sizeof last, "journal %llu of %llu, state %s, lag %llu, problem %s",
			    (unsigned long long)r->stats->journal_length, (unsigned long long)end,
			    sb->state, (unsigned long long)sb->lag, sb->problem);
			done = end > 0 && r->stats->journal_length == end && sb->lag == 0 &&
			    strcmp(sb->state, "following") == 0 && !*sb->problem;
		}
		hq_free(r);
		if (done)
			break;
		if (now_mono_ms() > until)
			fail_msg("the standby did not follow the primary: %s", last);
	}
	s_wait_metric(f, "\njiceng_standby_following 1\n");
	assert_true(hd_log_has(f->s, "standby: following stream JICENG at journal seq"));
}

/* Both stopped, once the standby holds the primary's journal: their
 * membership environments dump the same (mdb_dump -a -n). */
static void
s_standby_same(struct s_fix *f)
{
	char a[256], b[256];
	assert_int_equal(hq_caught_up(f->d, 20000), 0);
	s_wait_standby_followed(f);
	assert_int_equal(hq_caught_up(f->s, 20000), 0);
	hq_reset(f->d);
	assert_int_equal(hd_stop(f->d, 10000), 0);
	s_standby_stop(f);
	hd_state_dump(f->d, NULL, "membership", "membership.primary.dump", a, sizeof a);
	hd_state_dump(f->s, NULL, "membership", "membership.standby.dump", b, sizeof b);
	assert_true(h_same_file(a, b));
}

/* Copy the text file from over to, atomically (a reader sees either). */
static void
s_copy(const char *from, const char *to)
{
	char tmp[300];
	char *text = h_slurp(from, NULL);
	assert_non_null(text);
	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	h_write_file(tmp, "%s", text);
	free(text);
	assert_int_equal(rename(tmp, to), 0);
}

/* Servers that want TLS: a standby without [standby] tls_ca_file, or with
 * a file holding another CA, is refused and says why, retrying; once that
 * file holds the servers' CA, it follows (no restart), to the primary's
 * membership state. */
static void
test_standby_tls_ca(void **state)
{
	struct s_fix *f = *state;
	char extra[512], from[256], path[256];
	if (!hn_available() || !s_openssl())
		skip();
	s_up(f, false);
	snprintf(extra, sizeof extra, "tls_ca_file = %s/ca.pem\n", f->tls);
	s_primary_up(f, extra, "sbt");
	s_standby_up(f, "");
	s_wait_standby_refused(f, S_UNTRUSTED);
	assert_true(hd_log_has(f->s, S_UNTRUSTED ":depth=0:cert=/CN=127.0.0.1:issuer=/CN=jiceng test CA; "
	    "the servers' certificate is not signed by a CA trusted here: set [standby] tls_ca_file "
	    "to their CA); retrying with backoff, the journal stays at seq 0"));
	s_standby_stop(f);

	snprintf(from, sizeof from, "%s/other.pem", f->tls);
	snprintf(path, sizeof path, "%s/nats-ca.pem", f->s->dir);
	s_copy(from, path);
	snprintf(extra, sizeof extra, "tls_ca_file = %s\n", path);
	s_standby_up(f, extra);
	s_wait_standby_refused(f, S_UNTRUSTED);
	assert_int_equal(hd_log_count(f->s, "standby: NATS answered but TLS or the credentials failed ("),
	    2);  /* once a run */
	snprintf(from, sizeof from, "%s/ca.pem", f->tls);
	s_copy(from, path);
	s_standby_same(f);
	hd_pass(f->s);
	hd_pass(f->d);
}

/* Servers that want a client certificate: a standby with the CA alone is
 * refused, and so is one whose certificate another CA signed, each saying
 * what to look at; with [standby] tls_cert_file and tls_key_file it
 * follows. */
static void
test_standby_tls_client_cert(void **state)
{
	struct s_fix *f = *state;
	char extra[768], ca[256];
	if (!hn_available() || !s_openssl())
		skip();
	s_up(f, true);
	s_cert(f->tls, "other", "stranger", "jiceng-standby", "extendedKeyUsage = clientAuth");
	snprintf(ca, sizeof ca, "tls_ca_file = %s/ca.pem\n", f->tls);
	snprintf(extra, sizeof extra, "%stls_cert_file = %s/client.pem\ntls_key_file = %s/client.key\n",
	    ca, f->tls, f->tls);
	s_primary_up(f, extra, "sbc");
	/* libnats says only that the connection closed ("Expected 'PONG',
	 * got ''", or "SSL_write error: (null)" when the server's alert came
	 * first); the standby adds why that usually is. */
	s_standby_up(f, ca);
	s_wait_standby_refused(f, "; the servers closed the connection at once: with TLS, usually "
	    "because they want a client certificate: set [standby] tls_cert_file and tls_key_file");
	s_standby_stop(f);
	char stranger[768];
	snprintf(stranger, sizeof stranger, "%stls_cert_file = %s/stranger.pem\n"
	    "tls_key_file = %s/stranger.key\n", ca, f->tls, f->tls);
	s_standby_up(f, stranger);
	s_wait_standby_refused(f, "; the servers closed the connection at once: with TLS, usually "
	    "because they do not accept [standby] tls_cert_file (signed by a CA they do not trust?)");
	s_standby_stop(f);
	s_standby_up(f, extra);
	s_wait_standby_followed(f);
	hd_pass(f->s);
	hd_pass(f->d);
}

/* A server in operator mode: a standby without [standby] creds_file is
 * refused (Authorization Violation); with the user's credentials it
 * follows. */
static void
test_standby_creds(void **state)
{
	struct s_fix *f = *state;
	char extra[4096], creds[256], line[320];
	struct hd_opts o = { .config = "" };
	if (!hn_available())
		skip();
	assert_non_null(f->d = hd_new(&o));
	snprintf(creds, sizeof creds, "%s/nats.creds", f->d->dir);
	s_operator_mode(extra, sizeof extra, creds);
	assert_non_null(f->n = hn_start_conf(1, extra));
	snprintf(line, sizeof line, "creds_file = %s\n", creds);
	s_primary_up(f, line, "sbj");
	s_standby_up(f, "");
	s_wait_standby_refused(f, "Authorization Violation; the servers want credentials: set "
	    "[standby] creds_file (or nkey_seed_file)");
	s_standby_stop(f);
	s_standby_up(f, line);
	s_wait_standby_followed(f);
	hd_pass(f->s);
	hd_pass(f->d);
}

int
integ_mirrorauth(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mirror_tls_ca, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_tls_refused, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_tls_client_cert, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_creds, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_standby_tls_ca, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_standby_tls_client_cert, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_standby_creds, s_setup, s_teardown),
	};
	return cmocka_run_group_tests_name("mirrorauth", tests, NULL, NULL);
}
