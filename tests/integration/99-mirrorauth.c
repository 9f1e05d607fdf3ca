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
 */
#include "harness.h"
#include "hnats.h"

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
	struct hd *d;
	struct hnats *n;
	char tls[160];         /* d->dir/tls: the CA, the server's key and certificate */
};

static int
s_setup(void **state)
{
	*state = calloc(1, sizeof(struct s_fix));
	h_time_limit(H_TEST_LIMIT_S);
	return *state ? 0 : -1;
}

static int
s_teardown(void **state)
{
	struct s_fix *f = *state;
	int rc = 0;
	if (f) {
		rc |= hd_destroy(&f->d);
		hn_destroy(&f->n);
		free(f);
	}
	*state = NULL;
	h_time_limit(0);
	return rc;
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
 * by dir/ca.pem, with the extensions ext. */
static void
s_cert(const char *dir, const char *name, const char *cn, const char *ext)
{
	char key[256], csr[256], pem[256], ca[256], cakey[256], extf[256], serial[256], subj[128];
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	snprintf(csr, sizeof csr, "%s/%s.csr", dir, name);
	snprintf(pem, sizeof pem, "%s/%s.pem", dir, name);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(cakey, sizeof cakey, "%s/ca.key", dir);
	snprintf(extf, sizeof extf, "%s/%s.ext", dir, name);
	snprintf(serial, sizeof serial, "%s/ca.srl", dir);
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
	s_cert(f->tls, "server", "127.0.0.1", "subjectAltName = IP:127.0.0.1, DNS:localhost");
	s_cert(f->tls, "client", "jiceng-mirror", "extendedKeyUsage = clientAuth");
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

/* Wait until the mirror holds the journal through its end, connected. */
static void
s_wait_mirrored(struct hd *d)
{
	int64_t until = now_mono_ms() + hn_ms(30000);
	char last[256] = "no stats";
	for (;;) {
		QueryReply *r = hq_stats(d);
		Jiceng__V1__MirrorStats *m = s_mirror(r);
		bool done = false;
		if (m) {
			snprintf(last, sizeof last, "seq %llu of %llu, connected %d, problem %s",
			    (unsigned long long)m->seq, (unsigned long long)r->stats->journal_length,
			    m->connected, m->problem);
			done = m->seq == r->stats->journal_length && m->connected && !*m->problem;
		}
		hq_free(r);
		if (done)
			return;
		if (now_mono_ms() > until)
			fail_msg("the mirror did not publish the journal: %s", last);
		h_sleep_ms(100);
	}
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
	s_wait_mirrored(f->d);
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
	    "ingest carries on"));
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
	 * connection closed ("Expected 'PONG', got ''"). */
	s_wait_refused(f, "cannot connect");
	assert_true(hd_log_wait(f->d, "mirror: NATS ", 10000));

	hq_reset(f->d);
	assert_int_equal(hd_stop(f->d, 10000), 0);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n"
	    "tls_ca_file = %s/ca.pem\ntls_cert_file = %s/client.pem\ntls_key_file = %s/client.key\n",
	    f->n->urls, f->tls, f->tls, f->tls);
	assert_int_equal(hd_up(f->d), 0);
	s_wait_mirrored(f->d);
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

static uint16_t
s_crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* in (n bytes) with its CRC-16 appended, in base32 into out. */
static void
s_nk_encode(uint8_t *in, size_t n, char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint16_t crc = s_crc16(in, n);
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	in[n] = (uint8_t)(crc & 0xff);
	in[n + 1] = (uint8_t)(crc >> 8);
	for (size_t i = 0; i < n + 2; i++) {
		acc = acc << 8 | in[i];
		for (bits += 8; bits >= 5; bits -= 5)
			out[o++] = b32[(acc >> (bits - 5)) & 31];
	}
	if (bits)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

static void
s_nkey_new(struct s_nkey *k, uint8_t prefix)
{
	uint8_t raw[crypto_sign_SEEDBYTES], buf[2 + crypto_sign_SEEDBYTES + 2];
	randombytes_buf(raw, sizeof raw);
	crypto_sign_seed_keypair(k->pk, k->sk, raw);
	buf[0] = prefix;
	memcpy(buf + 1, k->pk, sizeof k->pk);
	s_nk_encode(buf, 1 + sizeof k->pk, k->pub);
	buf[0] = (uint8_t)(S_NK_SEED | prefix >> 5);
	buf[1] = (uint8_t)((prefix & 31) << 3);
	memcpy(buf + 2, raw, sizeof raw);
	s_nk_encode(buf, 2 + sizeof raw, k->seed);
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
	assert_true(hd_log_wait(f->d, "Authorization Violation; ingest carries on", 10000));

	hq_reset(f->d);
	assert_int_equal(hd_stop(f->d, 10000), 0);
	hd_config_write(f->d, S_WORKERS "[mirror]\nenabled = true\nservers = %s\ncreds_file = %s\n",
	    f->n->urls, creds);
	assert_int_equal(hd_up(f->d), 0);
	s_wait_mirrored(f->d);
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
	};
	return cmocka_run_group_tests_name("mirrorauth", tests, NULL, NULL);
}
