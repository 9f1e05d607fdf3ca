/*
 * auth: key files (ours and CZMQ's), principals, loopback detection, the
 * authorisation table, the key directory, and real CURVE handshakes over
 * tcp://127.0.0.1 against a ROUTER whose context runs our ZAP handler.
 */
#include "unit.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "auth.h"

#define T_TOWN   "320123101000"
#define T_OTHER  "320123102000"
/* libzmq's documentation key: a valid Z85 public key with ':' in it. */
#define T_KEY    "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define WAIT_MS  2000   /* a loopback handshake takes milliseconds */

static char *
s_path(const char *dir, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void
s_write(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
s_copy(const char *from, const char *to)
{
	char buf[4096];
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	assert_non_null(in);
	assert_non_null(out);
	size_t n = fread(buf, 1, sizeof buf, in);
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static mode_t
s_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* A fresh client key saved (both files) in dir. */
static struct auth_cert
s_keygen(const char *dir, const char *name, enum auth_role role, const char *township)
{
	struct auth_cert c = { .role = role };
	char err[256];
	snprintf(c.name, sizeof c.name, "%s", name);
	snprintf(c.township, sizeof c.township, "%s", township);
	assert_int_equal(auth_cert_generate(&c, err, sizeof err), 0);
	assert_int_equal(auth_cert_check(&c, err, sizeof err), 0);
	if (auth_cert_save(&c, dir, err, sizeof err) < 0)
		fail_msg("save: %s", err);
	return c;
}

/* ---------------------------------------------------------------- principals */

static void
test_principal_parse(void **state)
{
	(void)state;
	struct principal p;
	assert_int_equal(auth_principal_parse("township:" T_TOWN ":" T_KEY, &p), 0);
	assert_int_equal(p.role, AUTH_ROLE_TOWNSHIP);
	assert_string_equal(p.township, T_TOWN);
	assert_string_equal(p.key, T_KEY);
	assert_int_equal(auth_principal_parse("county::" T_KEY, &p), 0);
	assert_int_equal(p.role, AUTH_ROLE_COUNTY);
	assert_string_equal(p.township, "");
	assert_int_equal(auth_principal_parse("reader::" T_KEY, &p), 0);
	assert_int_equal(p.role, AUTH_ROLE_READER);
	assert_int_equal(auth_principal_parse("reader:" T_TOWN ":" T_KEY, &p), 0);
	assert_string_equal(p.township, T_TOWN);

	static const char *bad[] = {
		"", "township", "township:" T_TOWN, "township::" T_KEY,
		"township:320123101001:" T_KEY,     /* not ending in 000 */
		"county:" T_TOWN ":" T_KEY,         /* county has no township */
		"admin::" T_KEY, "local::" T_KEY,   /* no such key role */
		"county::short", "county::" T_KEY "x",
		"township:3201231010000000:" T_KEY,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p.role = AUTH_ROLE_COUNTY;
		if (auth_principal_parse(bad[i], &p) != -1)
			fail_msg("accepted User-Id '%s'", bad[i]);
		assert_int_equal(p.role, AUTH_ROLE_NONE);
	}
	assert_int_equal(auth_principal_parse(NULL, &p), -1);
	auth_principal_local(&p);
	assert_int_equal(p.role, AUTH_ROLE_LOCAL);
	assert_string_equal(auth_role_name(p.role), "local");
	assert_int_equal(auth_role_from_name("local"), AUTH_ROLE_NONE);
}

static void
test_authorisation(void **state)
{
	(void)state;
	struct principal town, county, reader, reader_town, local, none = { 0 };
	assert_int_equal(auth_principal_parse("township:" T_TOWN ":" T_KEY, &town), 0);
	assert_int_equal(auth_principal_parse("county::" T_KEY, &county), 0);
	assert_int_equal(auth_principal_parse("reader::" T_KEY, &reader), 0);
	assert_int_equal(auth_principal_parse("reader:" T_TOWN ":" T_KEY, &reader_town), 0);
	auth_principal_local(&local);

	assert_null(auth_write_refusal(&town, T_TOWN));
	assert_string_equal(auth_write_refusal(&town, T_OTHER), AUTH_CODE_WRONG_TOWNSHIP);
	assert_string_equal(auth_write_refusal(&town, NULL), AUTH_CODE_WRONG_TOWNSHIP);
	assert_null(auth_write_refusal(&county, T_OTHER));
	assert_null(auth_write_refusal(&local, T_OTHER));
	assert_string_equal(auth_write_refusal(&reader, T_TOWN), AUTH_CODE_READ_ONLY);
	assert_string_equal(auth_write_refusal(&reader_town, T_TOWN), AUTH_CODE_READ_ONLY);
	assert_string_equal(auth_write_refusal(&none, T_TOWN), AUTH_CODE_NOT_AUTHENTICATED);
	assert_string_equal(auth_write_refusal(NULL, T_TOWN), AUTH_CODE_NOT_AUTHENTICATED);

	assert_null(auth_query_refusal(&town, T_TOWN));
	assert_string_equal(auth_query_refusal(&town, T_OTHER), AUTH_CODE_OUT_OF_SCOPE);
	assert_string_equal(auth_query_refusal(&town, NULL), AUTH_CODE_OUT_OF_SCOPE);
	assert_string_equal(auth_query_refusal(&town, ""), AUTH_CODE_OUT_OF_SCOPE);
	assert_null(auth_query_refusal(&county, NULL));
	assert_null(auth_query_refusal(&reader, T_OTHER));
	assert_null(auth_query_refusal(&reader, NULL));
	assert_null(auth_query_refusal(&reader_town, T_TOWN));
	assert_string_equal(auth_query_refusal(&reader_town, T_OTHER), AUTH_CODE_OUT_OF_SCOPE);
	assert_string_equal(auth_query_refusal(&reader_town, NULL), AUTH_CODE_OUT_OF_SCOPE);
	assert_null(auth_query_refusal(&local, NULL));
	assert_string_equal(auth_query_refusal(&none, T_TOWN), AUTH_CODE_NOT_AUTHENTICATED);

	assert_true(auth_may_write(&town, T_TOWN));
	assert_false(auth_may_write(&reader, T_TOWN));
	assert_true(auth_may_query(&reader, T_TOWN));
	assert_false(auth_may_query(&town, T_OTHER));
}

static void
test_loopback(void **state)
{
	(void)state;
	static const char *yes[] = {
		"tcp://127.0.0.1:7400", "tcp://127.1.2.3:1", "tcp://127.1:7400",
		"tcp://[::1]:7400", "tcp://[::ffff:127.0.0.1]:7400", "tcp://localhost:7400",
		"tcp://LOCALHOST:1", "tcp://lo:7400", "ipc:///run/jiceng/ingest",
		"ipc://@abstract", "inproc://x",
	};
	static const char *no[] = {
		"tcp://*:7400", "tcp://0.0.0.0:7400", "tcp://[::]:7400", "tcp://[*]:7400",
		"tcp://10.1.2.3:7400", "tcp://128.0.0.1:7400", "tcp://eth0:7400",
		"tcp://[::ffff:10.0.0.1]:7400", "tcp://example.org:7400",
		"tcp://127.0.0.1.example.org:7400", "tcp://192.168.1.2:1;127.0.0.1:7400",
		"pgm://127.0.0.1;239.192.1.1:5555", "udp://127.0.0.1:1", "ws://127.0.0.1:1",
		"tcp://", "", "127.0.0.1:7400",
	};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!auth_endpoint_is_loopback(yes[i]))
			fail_msg("%s should be loopback", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (auth_endpoint_is_loopback(no[i]))
			fail_msg("%s should not be loopback", no[i]);
	assert_false(auth_endpoint_is_loopback(NULL));
}

/* ----------------------------------------------------------------- key files */

static void
test_cert_files(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), err[512];
	assert_non_null(dir);
	struct auth_cert c = s_keygen(dir, "xiaozhuang", AUTH_ROLE_TOWNSHIP, T_TOWN), l;
	char *pub = s_path(dir, "xiaozhuang.key"), *sec = s_path(dir, "xiaozhuang.key_secret");
	assert_int_equal(s_mode(pub), 0644);
	assert_int_equal(s_mode(sec), 0600);

	assert_int_equal(auth_cert_load(pub, &l, err, sizeof err), 0);
	assert_string_equal(l.name, "xiaozhuang");
	assert_int_equal(l.role, AUTH_ROLE_TOWNSHIP);
	assert_string_equal(l.township, T_TOWN);
	assert_string_equal(l.public_key, c.public_key);
	assert_string_equal(l.secret_key, "");
	assert_int_equal(auth_cert_load(sec, &l, err, sizeof err), 0);
	assert_string_equal(l.name, "xiaozhuang");
	assert_string_equal(l.secret_key, c.secret_key);

	/* CZMQ reads what we write: the format is zcert's. */
	zsys_handler_set(NULL);
	zcert_t *z = zcert_load(pub);
	assert_non_null(z);
	assert_string_equal(zcert_public_txt(z), c.public_key);
	assert_string_equal(zcert_secret_txt(z), c.secret_key);  /* it reads _secret */
	assert_string_equal(zcert_meta(z, "role"), "township");
	assert_string_equal(zcert_meta(z, "township"), T_TOWN);
	zcert_destroy(&z);

	/* ... and we read what CZMQ writes. */
	z = zcert_new();
	zcert_set_meta(z, "role", "%s", "county");
	char *zpath = s_path(dir, "czmq.key"), *zsec = s_path(dir, "czmq.key_secret");
	assert_int_equal(zcert_save(z, zpath), 0);
	assert_int_equal(chmod(zsec, 0600), 0);
	assert_int_equal(auth_cert_load(zpath, &l, err, sizeof err), 0);
	assert_int_equal(l.role, AUTH_ROLE_COUNTY);
	assert_string_equal(l.public_key, zcert_public_txt(z));
	assert_int_equal(auth_cert_load(zsec, &l, err, sizeof err), 0);
	assert_string_equal(l.secret_key, zcert_secret_txt(z));
	zcert_destroy(&z);

	/* Never overwrite a key. */
	assert_int_equal(auth_cert_save(&c, dir, err, sizeof err), -1);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(s_mode(sec), 0600);

	/* Role and township rules. */
	struct auth_cert bad = c;
	snprintf(bad.township, sizeof bad.township, "320123101001");
	assert_int_equal(auth_cert_check(&bad, err, sizeof err), -1);
	bad.role = AUTH_ROLE_COUNTY;
	snprintf(bad.township, sizeof bad.township, T_TOWN);
	assert_int_equal(auth_cert_check(&bad, err, sizeof err), -1);
	bad.township[0] = 0;
	assert_int_equal(auth_cert_check(&bad, err, sizeof err), 0);
	bad.role = AUTH_ROLE_NONE;
	assert_int_equal(auth_cert_check(&bad, err, sizeof err), -1);
	bad.role = AUTH_ROLE_READER;
	assert_int_equal(auth_cert_check(&bad, err, sizeof err), 0);
	static const char *bad_names[] = { "", ".hidden", "-x", "a/b", "a b", "名" };
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		snprintf(bad.name, sizeof bad.name, "%s", bad_names[i]);
		assert_int_equal(auth_cert_check(&bad, err, sizeof err), -1);
	}

	free(zpath);
	free(zsec);
	free(pub);
	free(sec);
	unit_tmpdir_remove(dir);
}

static void
test_cert_parse(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), err[512];
	struct auth_cert c = s_keygen(dir, "k", AUTH_ROLE_READER, ""), l;
	char *p = s_path(dir, "hand.key"), text[1024];

	/* pyzmq's layout: bare and single-quoted values, comments, tabs, CRLF. */
	snprintf(text, sizeof text,
	    "# written by hand\r\nmetadata\r\n\trole = reader   # a comment\r\n"
	    "\ttownship = '" T_TOWN "'\r\ncurve\r\n    public-key = \"%s\"\r\n", c.public_key);
	s_write(p, text, 0644);
	assert_int_equal(auth_cert_load(p, &l, err, sizeof err), 0);
	assert_int_equal(l.role, AUTH_ROLE_READER);
	assert_string_equal(l.township, T_TOWN);
	assert_string_equal(l.public_key, c.public_key);

	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "metadata\n    role = \"township\"\n", "no curve public-key" },
		{ "curve\n    public-key = \"tooshort\"\n", "Z85" },
		{ "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"\"\n", "Z85" },
		{ "curve\n    public-key = \"abc\n", "unterminated" },
		{ "metadata\n    role = \"admin\"\ncurve\n    public-key = \"" T_KEY "\"\n", "role" },
		{ "metadata\n    township = \"" T_TOWN "\"\ncurve\n    public-key = \"" T_KEY "\"\n",
		  "without role" },
		{ "curve = 1\n", "section" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unlink(p);
		s_write(p, bad[i].text, 0644);
		if (auth_cert_load(p, &l, err, sizeof err) != -1)
			fail_msg("accepted: %s", bad[i].text);
		if (!strstr(err, bad[i].why))
			fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err, bad[i].why);
	}

	/* A secret file: only for its owner, and its two keys must match. */
	char *s = s_path(dir, "k.key_secret");
	assert_int_equal(chmod(s, 0644), 0);
	assert_int_equal(auth_cert_load(s, &l, err, sizeof err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(s, 0640), 0);  /* root:jiceng 0640 is fine */
	assert_int_equal(auth_cert_load(s, &l, err, sizeof err), 0);
	struct auth_cert other = { .role = AUTH_ROLE_READER };
	assert_int_equal(auth_cert_generate(&other, err, sizeof err), 0);
	char *mix = s_path(dir, "mix.key_secret");
	snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
	    c.public_key, other.secret_key);
	s_write(mix, text, 0600);
	assert_int_equal(auth_cert_load(mix, &l, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not belong"));
	snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n", c.public_key);
	unlink(mix);
	s_write(mix, text, 0600);
	assert_int_equal(auth_cert_load(mix, &l, err, sizeof err), -1);
	assert_non_null(strstr(err, "no curve secret-key"));

	free(mix);
	free(s);
	free(p);
	unit_tmpdir_remove(dir);
}

static void
test_server_key(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), err[512];
	char *sec = s_path(dir, "server.key_secret"), *pub = s_path(dir, "server.key");
	struct auth_cert a, b, c;
	assert_int_equal(auth_server_key_load(sec, false, &a, err, sizeof err), -1);
	assert_int_equal(auth_server_key_load(sec, true, &a, err, sizeof err), 0);
	assert_int_equal(s_mode(sec), 0600);
	assert_int_equal(s_mode(pub), 0644);
	assert_int_equal(a.role, AUTH_ROLE_NONE);
	assert_string_equal(a.name, "server");
	assert_int_equal(strlen(a.secret_key), AUTH_Z85_LEN);
	/* Created once: later loads, by either name, read the same pair. */
	assert_int_equal(auth_server_key_load(sec, true, &b, err, sizeof err), 0);
	assert_int_equal(auth_server_key_load(pub, false, &c, err, sizeof err), 0);
	assert_string_equal(a.secret_key, b.secret_key);
	assert_string_equal(a.secret_key, c.secret_key);
	assert_string_equal(a.public_key, c.public_key);
	free(sec);
	free(pub);
	unit_tmpdir_remove(dir);
}

/* ------------------------------------------------------------- key directory */

static void
test_keys_dir(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), err[512];
	void *ctx = zmq_ctx_new();
	char *keys = s_path(dir, "keys"), *cl = s_path(dir, "clients");
	assert_int_equal(mkdir(keys, 0755), 0);
	assert_int_equal(mkdir(cl, 0700), 0);
	char *missing = s_path(dir, "missing");
	assert_null(auth_new(ctx, missing, err, sizeof err));
	assert_non_null(strstr(err, "No such file"));
	free(missing);

	struct auth_cert t = s_keygen(cl, "town", AUTH_ROLE_TOWNSHIP, T_TOWN);
	struct auth_cert c = s_keygen(cl, "county", AUTH_ROLE_COUNTY, "");
	char *from = s_path(cl, "town.key"), *to = s_path(keys, "town.key");
	s_copy(from, to);
	free(from);
	free(to);
	from = s_path(cl, "county.key");
	to = s_path(keys, "county.key");
	s_copy(from, to);
	/* noise the loader must skip: a secret key, a broken file, a stranger */
	char *stray = s_path(keys, "county.key_secret"), *broken = s_path(keys, "broken.key");
	s_copy(from, stray);
	s_write(broken, "curve\n    public-key = \"nope\"\n", 0644);
	char *readme = s_path(keys, "README");
	s_write(readme, "not a key\n", 0644);

	struct auth *a = auth_new(ctx, keys, err, sizeof err);
	if (!a)
		fail_msg("auth_new: %s", err);
	struct auth_counters n;
	auth_counters(a, &n);
	assert_int_equal(n.keys, 2);
	assert_null(auth_new(ctx, keys, err, sizeof err));  /* one handler per context */

	struct principal p = { .role = AUTH_ROLE_TOWNSHIP };
	snprintf(p.township, sizeof p.township, T_TOWN);
	snprintf(p.key, sizeof p.key, "%s", t.public_key);
	assert_true(auth_principal_current(a, &p));
	snprintf(p.township, sizeof p.township, T_OTHER);   /* metadata changed */
	assert_false(auth_principal_current(a, &p));

	/* The same key in two files: refused, whichever came first. */
	char *dup = s_path(keys, "county-copy.key");
	s_copy(from, dup);
	assert_int_equal(auth_reload(a), 1);
	struct principal pc = { .role = AUTH_ROLE_COUNTY };
	snprintf(pc.key, sizeof pc.key, "%s", c.public_key);
	assert_false(auth_principal_current(a, &pc));
	unlink(dup);
	assert_int_equal(auth_reload(a), 2);
	assert_true(auth_principal_current(a, &pc));

	/* Revoked: moved to revoked/, or copied there while still present. */
	char *rdir = s_path(keys, "revoked"), *rto = s_path(rdir, "county.key");
	assert_int_equal(mkdir(rdir, 0755), 0);
	s_copy(from, rto);
	assert_int_equal(auth_reload(a), 1);
	assert_false(auth_principal_current(a, &pc));
	assert_int_equal(unlink(to), 0);
	assert_int_equal(auth_reload(a), 1);
	assert_false(auth_principal_current(a, &pc));

	/* An unreadable keys_dir keeps the keys we have. */
	char *moved = s_path(dir, "keys-moved");
	assert_int_equal(rename(keys, moved), 0);
	assert_int_equal(auth_reload(a), -1);
	snprintf(p.township, sizeof p.township, T_TOWN);
	assert_true(auth_principal_current(a, &p));
	assert_int_equal(rename(moved, keys), 0);

	struct principal local;
	auth_principal_local(&local);
	assert_true(auth_principal_current(a, &local));
	auth_destroy(&a);
	assert_null(a);
	auth_destroy(&a);
	assert_int_equal(zmq_ctx_term(ctx), 0);
	free(moved);
	free(rdir);
	free(rto);
	free(dup);
	free(readme);
	free(stray);
	free(broken);
	free(from);
	free(to);
	free(keys);
	free(cl);
	unit_tmpdir_remove(dir);
}

/* ------------------------------------------------------------- CURVE on tcp */

struct rig {
	char *dir, *keys, *clients, *server_key, *server_pub;
	void *ctx;
	struct auth *auth;
	void *server;          /* ROUTER, CURVE server */
	char endpoint[128];
	int monitors;
};

static void
s_rig_up(struct rig *r)
{
	char err[512];
	memset(r, 0, sizeof *r);
	r->dir = unit_tmpdir();
	r->keys = s_path(r->dir, "keys");
	r->clients = s_path(r->dir, "clients");
	r->server_key = s_path(r->dir, "server.key_secret");
	r->server_pub = s_path(r->dir, "server.key");
	assert_int_equal(mkdir(r->keys, 0755), 0);
	assert_int_equal(mkdir(r->clients, 0700), 0);
	struct auth_cert sk;
	assert_int_equal(auth_server_key_load(r->server_key, true, &sk, err, sizeof err), 0);
	r->ctx = zmq_ctx_new();
	r->auth = auth_new(r->ctx, r->keys, err, sizeof err);
	if (!r->auth)
		fail_msg("auth_new: %s", err);
	r->server = zmq_socket(r->ctx, ZMQ_ROUTER);
	int linger = 0;
	zmq_setsockopt(r->server, ZMQ_LINGER, &linger, sizeof linger);
	if (auth_server_setup(r->auth, r->server, r->server_key, err, sizeof err) < 0)
		fail_msg("server setup: %s", err);
	assert_int_equal(zmq_bind(r->server, "tcp://127.0.0.1:*"), 0);
	size_t len = sizeof r->endpoint;
	assert_int_equal(zmq_getsockopt(r->server, ZMQ_LAST_ENDPOINT, r->endpoint, &len), 0);
}

static void
s_rig_down(struct rig *r)
{
	zmq_close(r->server);
	auth_destroy(&r->auth);
	assert_int_equal(zmq_ctx_term(r->ctx), 0);
	free(r->keys);
	free(r->clients);
	free(r->server_key);
	free(r->server_pub);
	unit_tmpdir_remove(r->dir);
}

/* A client key known to the server: saved in clients/, public in keys/. */
static void
s_rig_key(struct rig *r, const char *name, enum auth_role role, const char *township)
{
	s_keygen(r->clients, name, role, township);
	char file[128];
	snprintf(file, sizeof file, "%s.key", name);
	char *from = s_path(r->clients, file), *to = s_path(r->keys, file);
	s_copy(from, to);
	free(from);
	free(to);
}

/* A DEALER to the rig, CURVE with key name (NULL: NULL mechanism), with a
 * monitor of its handshake events. */
static void *
s_client(struct rig *r, const char *name, void **monitor)
{
	char err[512], ep[64];
	void *s = zmq_socket(r->ctx, ZMQ_DEALER);
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (name) {
		char file[128];
		snprintf(file, sizeof file, "%s.key_secret", name);
		char *sec = s_path(r->clients, file);
		if (auth_client_setup(s, sec, r->server_pub, err, sizeof err) < 0)
			fail_msg("client setup: %s", err);
		free(sec);
	}
	snprintf(ep, sizeof ep, "inproc://monitor-%d", r->monitors++);
	assert_int_equal(zmq_socket_monitor(s, ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL), 0);
	*monitor = zmq_socket(r->ctx, ZMQ_PAIR);
	zmq_setsockopt(*monitor, ZMQ_LINGER, &linger, sizeof linger);
	assert_int_equal(zmq_connect(*monitor, ep), 0);
	assert_int_equal(zmq_connect(s, r->endpoint), 0);
	return s;
}

/* What one client's first message came to. */
struct outcome {
	bool delivered;        /* the ROUTER received it */
	char user_id[AUTH_USER_ID_MAX];
	uint16_t event;        /* client's handshake failure event, 0 if none */
	uint32_t value;        /* its value: the ZAP status or protocol error */
};

static void
s_monitor_read(void *monitor, struct outcome *o)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, monitor, ZMQ_DONTWAIT) >= 0) {
		if (zmq_msg_size(&m) == 6) {
			const uint8_t *d = zmq_msg_data(&m);
			uint16_t ev;
			memcpy(&ev, d, 2);
			if (ev != ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !o->event) {
				o->event = ev;
				memcpy(&o->value, d + 2, 4);
			}
		}
	}
	zmq_msg_close(&m);
}

/* Send one message from client and run the server side (ZAP handler,
 * ROUTER) in this thread until it arrives, the client's handshake fails, or
 * WAIT_MS pass. */
static struct outcome
s_exchange(struct rig *r, void *client, void *monitor)
{
	struct outcome o = { 0 };
	assert_int_equal(zmq_send(client, "hello", 5, ZMQ_DONTWAIT), 5);
	int64_t end = zclock_mono() + WAIT_MS;
	while (zclock_mono() < end && !o.delivered && !o.event) {
		zmq_pollitem_t items[] = {
			{ auth_socket(r->auth), 0, ZMQ_POLLIN, 0 },
			{ r->server, 0, ZMQ_POLLIN, 0 },
			{ monitor, 0, ZMQ_POLLIN, 0 },
		};
		assert_true(zmq_poll(items, 3, 50) >= 0);
		if (items[0].revents)
			assert_true(auth_handle(r->auth) >= 0);
		if (items[2].revents)
			s_monitor_read(monitor, &o);
		if (items[1].revents) {
			zmq_msg_t id, body;
			zmq_msg_init(&id);
			zmq_msg_init(&body);
			assert_true(zmq_msg_recv(&id, r->server, 0) >= 0);
			assert_int_equal(zmq_msg_recv(&body, r->server, 0), 5);
			const char *uid = zmq_msg_gets(&body, "User-Id");
			snprintf(o.user_id, sizeof o.user_id, "%s", uid ? uid : "");
			o.delivered = true;
			zmq_msg_close(&id);
			zmq_msg_close(&body);
		}
	}
	return o;
}

static void
s_close(void *client, void *monitor)
{
	zmq_socket_monitor(client, NULL, 0);
	zmq_close(monitor);
	zmq_close(client);
}

static void
test_curve_handshake(void **state)
{
	(void)state;
	struct rig r;
	struct principal p;
	void *mon, *c;
	struct outcome o;
	s_rig_up(&r);
	s_rig_key(&r, "town", AUTH_ROLE_TOWNSHIP, T_TOWN);
	s_rig_key(&r, "office", AUTH_ROLE_COUNTY, "");
	assert_int_equal(auth_reload(r.auth), 2);
	s_keygen(r.clients, "stranger", AUTH_ROLE_TOWNSHIP, T_OTHER);  /* not in keys/ */

	/* A known key: delivered, with the User-Id the broker reads. */
	c = s_client(&r, "town", &mon);
	o = s_exchange(&r, c, mon);
	assert_true(o.delivered);
	assert_int_equal(auth_principal_parse(o.user_id, &p), 0);
	assert_int_equal(p.role, AUTH_ROLE_TOWNSHIP);
	assert_string_equal(p.township, T_TOWN);
	assert_true(auth_principal_current(r.auth, &p));
	void *town = c, *town_mon = mon;

	c = s_client(&r, "office", &mon);
	o = s_exchange(&r, c, mon);
	assert_true(o.delivered);
	assert_int_equal(strncmp(o.user_id, "county::", 8), 0);
	s_close(c, mon);

	/* An unknown key: the ZAP handler says 400, nothing is delivered. */
	c = s_client(&r, "stranger", &mon);
	o = s_exchange(&r, c, mon);
	assert_false(o.delivered);
	assert_int_equal(o.event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	assert_int_equal(o.value, 400);
	s_close(c, mon);

	/* A NULL-mechanism client: libzmq refuses the mechanism mismatch. */
	c = s_client(&r, NULL, &mon);
	o = s_exchange(&r, c, mon);
	assert_false(o.delivered);
	assert_int_equal(o.event, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
	s_close(c, mon);

	/* Revoke town: new connections refused after reload; the connection
	 * opened before still delivers, and the broker's per-message check
	 * (auth_principal_current) is what stops it. */
	char *from = s_path(r.keys, "town.key"), *rdir = s_path(r.keys, "revoked");
	char *to = s_path(rdir, "town.key");
	assert_int_equal(mkdir(rdir, 0755), 0);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(auth_reload(r.auth), 1);
	c = s_client(&r, "town", &mon);
	o = s_exchange(&r, c, mon);
	assert_false(o.delivered);
	assert_int_equal(o.event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	assert_int_equal(o.value, 400);
	s_close(c, mon);
	o = s_exchange(&r, town, town_mon);
	assert_true(o.delivered);
	assert_int_equal(auth_principal_parse(o.user_id, &p), 0);
	assert_false(auth_principal_current(r.auth, &p));
	s_close(town, town_mon);

	struct auth_counters n;
	auth_counters(r.auth, &n);
	assert_int_equal(n.accepted, 2);
	assert_int_equal(n.refused_unknown, 1);
	assert_int_equal(n.refused_revoked, 1);
	assert_int_equal(n.keys, 1);

	free(from);
	free(to);
	free(rdir);
	s_rig_down(&r);
}

/* A CURVE socket outside our ZAP domain is refused: fail closed. */
static void
test_curve_wrong_domain(void **state)
{
	(void)state;
	struct rig r;
	void *mon, *c;
	s_rig_up(&r);
	s_rig_key(&r, "office", AUTH_ROLE_COUNTY, "");
	assert_int_equal(auth_reload(r.auth), 1);
	assert_int_equal(zmq_setsockopt(r.server, ZMQ_ZAP_DOMAIN, "other", 5), 0);
	/* the domain applies to connections accepted from now: rebind */
	assert_int_equal(zmq_unbind(r.server, r.endpoint), 0);
	assert_int_equal(zmq_bind(r.server, "tcp://127.0.0.1:*"), 0);
	size_t len = sizeof r.endpoint;
	assert_int_equal(zmq_getsockopt(r.server, ZMQ_LAST_ENDPOINT, r.endpoint, &len), 0);
	c = s_client(&r, "office", &mon);
	struct outcome o = s_exchange(&r, c, mon);
	assert_false(o.delivered);
	assert_int_equal(o.event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	s_close(c, mon);
	struct auth_counters n;
	auth_counters(r.auth, &n);
	assert_int_equal(n.refused_other, 1);
	s_rig_down(&r);
}

/* ------------------------------------------------------ the ZAP protocol */

/* One ZAP request (RFC 27) through a REQ socket on the handler's endpoint;
 * the reply's status code and User-Id. */
static void
s_zap(struct auth *a, void *req, const char *version, const char *domain,
    const char *mech, const void *cred, size_t cred_len, char status[4],
    char user_id[AUTH_USER_ID_MAX])
{
	const char *head[] = { version, "req-7", domain, "10.1.2.3", "" };
	for (int i = 0; i < 5; i++)
		assert_true(zmq_send(req, head[i], strlen(head[i]), ZMQ_SNDMORE) >= 0);
	if (cred) {
		assert_true(zmq_send(req, mech, strlen(mech), ZMQ_SNDMORE) >= 0);
		assert_true(zmq_send(req, cred, cred_len, 0) >= 0);
	} else {
		assert_true(zmq_send(req, mech, strlen(mech), 0) >= 0);
	}
	zmq_pollitem_t it = { auth_socket(a), 0, ZMQ_POLLIN, 0 };
	assert_int_equal(zmq_poll(&it, 1, WAIT_MS), 1);
	assert_int_equal(auth_handle(a), 1);
	char frame[6][AUTH_USER_ID_MAX];
	int n = 0, more = 1;
	while (more && n < 6) {
		int len = zmq_recv(req, frame[n], sizeof frame[n] - 1, 0);
		assert_true(len >= 0);
		frame[n++][len] = 0;
		size_t sz = sizeof more;
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &sz);
	}
	assert_int_equal(n, 6);
	assert_false(more);
	assert_string_equal(frame[0], "1.0");
	assert_string_equal(frame[1], "req-7");   /* the request id comes back */
	memcpy(status, frame[2], 4);
	status[3] = 0;
	memcpy(user_id, frame[4], AUTH_USER_ID_MAX);
}

static void
test_zap_protocol(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), err[512], status[4], uid[AUTH_USER_ID_MAX];
	void *ctx = zmq_ctx_new();
	struct auth_cert t = s_keygen(dir, "town", AUTH_ROLE_TOWNSHIP, T_TOWN);
	char *sec = s_path(dir, "town.key_secret");
	assert_int_equal(unlink(sec), 0);            /* keys_dir holds public keys only */
	struct auth *a = auth_new(ctx, dir, err, sizeof err);
	if (!a)
		fail_msg("auth_new: %s", err);
	void *req = zmq_socket(ctx, ZMQ_REQ);
	int linger = 0, timeout = WAIT_MS;
	zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	assert_int_equal(zmq_connect(req, AUTH_ZAP_ENDPOINT), 0);
	assert_int_equal(auth_handle(a), 0);          /* nothing pending */

	uint8_t pub[32], other[32] = { 1, 2, 3 };
	assert_non_null(zmq_z85_decode(pub, t.public_key));
	s_zap(a, req, "1.0", AUTH_ZAP_DOMAIN, "CURVE", pub, 32, status, uid);
	assert_string_equal(status, "200");
	char want[AUTH_USER_ID_MAX];
	snprintf(want, sizeof want, "township:%s:%s", T_TOWN, t.public_key);
	assert_string_equal(uid, want);
	s_zap(a, req, "1.0", AUTH_ZAP_DOMAIN, "CURVE", other, 32, status, uid);
	assert_string_equal(status, "400");
	assert_string_equal(uid, "");
	s_zap(a, req, "1.0", AUTH_ZAP_DOMAIN, "PLAIN", "user", 4, status, uid);
	assert_string_equal(status, "400");
	s_zap(a, req, "1.0", AUTH_ZAP_DOMAIN, "NULL", NULL, 0, status, uid);
	assert_string_equal(status, "400");
	s_zap(a, req, "1.0", "", "CURVE", pub, 32, status, uid);       /* no domain */
	assert_string_equal(status, "400");
	s_zap(a, req, "2.0", AUTH_ZAP_DOMAIN, "CURVE", pub, 32, status, uid);
	assert_string_equal(status, "500");
	s_zap(a, req, "1.0", AUTH_ZAP_DOMAIN, "CURVE", pub, 31, status, uid);
	assert_string_equal(status, "500");

	/* A client trying many keys: every refusal counted, few lines logged. */
	fflush(stderr);
	char *logpath = s_path(dir, "stderr.log");
	int saved = dup(2), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	for (int i = 0; i < 80; i++) {
		other[0] = (uint8_t)(i / 2);               /* each key twice */
		other[1] = 0xee;
		s_zap(a, req, "1.0", AUTH_ZAP_DOMAIN, "CURVE", other, 32, status, uid);
		assert_string_equal(status, "400");
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	FILE *f = fopen(logpath, "r");
	char line[512];
	int lines = 0;
	while (f && fgets(line, sizeof line, f))
		lines += strstr(line, "refused unknown key") != NULL;
	if (f)
		fclose(f);
	assert_true(lines >= 1 && lines <= 30);
	struct auth_counters n;
	auth_counters(a, &n);
	assert_int_equal(n.accepted, 1);
	assert_int_equal(n.refused_unknown, 81);
	assert_int_equal(n.refused_other, 5);

	zmq_close(req);
	auth_destroy(&a);
	assert_int_equal(zmq_ctx_term(ctx), 0);
	free(logpath);
	free(sec);
	unit_tmpdir_remove(dir);
}

int
unit_auth(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_principal_parse),
		cmocka_unit_test(test_authorisation),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_cert_files),
		cmocka_unit_test(test_cert_parse),
		cmocka_unit_test(test_server_key),
		cmocka_unit_test(test_keys_dir),
		cmocka_unit_test(test_curve_handshake),
		cmocka_unit_test(test_curve_wrong_domain),
		cmocka_unit_test(test_zap_protocol),
	};
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
