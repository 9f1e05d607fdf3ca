/*
 * auth: who is on the other end of a CURVE connection, and what they may do.
 *
 * This module owns
 *   - the key files: one zcert-format file per client key in keys_dir
 *     (`<name>.key`, public key plus metadata `role` and `township`), revoked
 *     keys moved to keys_dir/revoked/; and the server's key pair;
 *   - a ZAP handler (RFC 27) that checks a connecting client's public key
 *     against keys_dir and hands the connection a User-Id naming its role and
 *     township;
 *   - the authorisation helpers: may this principal write this township's
 *     events, query this township's data.
 * It does not own sockets other than its own ZAP socket, nor decide what an
 * event is "about": the broker matches the envelope's township_id against
 * the principal, and the domain rules (DOMAIN.md: who may receive a
 * transfer, report a hosted mobile member ...) stay in the workers.
 *
 * Design: no thread. The ZAP handler is a REP socket bound to
 * inproc://zeromq.zap.01 in the caller's context; the caller puts
 * auth_socket() into its own zmq_poll set and calls auth_handle() when it is
 * readable. libzmq runs handshakes in its I/O threads, so a connecting
 * client just waits for the next loop pass; the broker stays
 * single-threaded, and reloading keys on SIGHUP needs no locking. Each
 * process (jicengd, jiceng-query) that binds a CURVE socket creates its own
 * struct auth on its own context. CZMQ is not used (no zactor, no zsys
 * signal handlers); the file format is CZMQ's zcert format, so zcert_load()
 * and pyzmq's zmq.auth.load_certificate() read our files and we read theirs.
 *
 * Key file format (zcert). Public file `<name>.key`, mode 0644:
 *
 *     #   ZeroMQ CURVE Public Certificate (any # comment lines)
 *     metadata
 *         role = "township"
 *         township = "320123101000"
 *     curve
 *         public-key = "<40 characters of Z85>"
 *
 * Secret file `<name>.key_secret`, mode 0600: the same plus
 * `secret-key = "<40 characters of Z85>"` under curve. Values may be quoted
 * or bare. role is `township` (township required: 12 digits ending in 000),
 * `county` (no township: reads and writes everything) or `reader` (queries
 * only; county-wide without township, one township's data with it). A file
 * in keys_dir without metadata is not a client key and is skipped with a
 * warning. The server's key pair has no metadata.
 *
 * User-Id. A connection accepted by the handler carries the ZAP User-Id
 *
 *     <role> ":" <township> ":" <public key in Z85>
 *
 * e.g. "township:320123101000:rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
 * "county::<key>", "reader::<key>" or "reader:320123101000:<key>". The
 * township field is empty for county keys and county-wide readers. The key
 * (which may itself contain ':') is everything after the second ':'. Read it
 * per message with zmq_msg_gets(&msg, "User-Id") and parse it with
 * auth_principal_parse(). The key is there because ZAP runs only at the
 * handshake: a connection opened before a key was revoked stays open, so the
 * broker checks auth_principal_current() per message and refuses with
 * AUTH_CODE_KEY_REVOKED once the key is gone.
 *
 * Return values: 0 or a count on success; -1 with a message in err (calls
 * that take err) or errno set (auth_handle). Nothing here logs except the
 * ZAP handler and auth_reload (log.h, role of the calling process).
 */
#ifndef JICENG_AUTH_H
#define JICENG_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_ZAP_DOMAIN   "jiceng"       /* ZMQ_ZAP_DOMAIN of our CURVE sockets */
#define AUTH_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define AUTH_NAME_MAX     64             /* key name: [A-Za-z0-9._-], not ".x" */
#define AUTH_Z85_LEN      40             /* a CURVE key in Z85, without NUL */
#define AUTH_USER_ID_MAX  (8 + 1 + 12 + 1 + AUTH_Z85_LEN + 1)

/* Refusal codes for acks and query replies (stable, README lists them). */
#define AUTH_CODE_KEY_REVOKED    "KEY_REVOKED"     /* key revoked since connect */
#define AUTH_CODE_READ_ONLY      "READ_ONLY_KEY"   /* reader key sent an event */
#define AUTH_CODE_WRONG_TOWNSHIP "WRONG_TOWNSHIP"  /* township_id is not the key's */
#define AUTH_CODE_OUT_OF_SCOPE   "OUT_OF_SCOPE"    /* query beyond the key's township */
#define AUTH_CODE_NOT_AUTHENTICATED "NOT_AUTHENTICATED" /* no/unparsable User-Id */
#define AUTH_CODE_COUNTY_ONLY    "COUNTY_ONLY"     /* a county key's event (BudgetAllocated) from a township key */

enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_TOWNSHIP,  /* one township's system: its own events and data */
	AUTH_ROLE_COUNTY,    /* the county office: writes and reads everything */
	AUTH_ROLE_READER,    /* dashboards: queries only, county-wide or one township */
	AUTH_ROLE_LOCAL      /* no CURVE (loopback, curve = off): county rights */
};

/* The authenticated identity of one connection. */
struct principal {
	enum auth_role role;
	char township[13];               /* "" for county, local, county-wide reader */
	char key[AUTH_Z85_LEN + 1];      /* client public key, Z85; "" for local */
};

/* One key file, public or secret. */
struct auth_cert {
	char name[AUTH_NAME_MAX + 1];    /* file name without .key / .key_secret */
	enum auth_role role;             /* AUTH_ROLE_NONE: no metadata (server key) */
	char township[13];               /* "" when the role has none */
	char public_key[AUTH_Z85_LEN + 1];
	char secret_key[AUTH_Z85_LEN + 1]; /* "" in a public file */
};

/* What the ZAP handler has done since auth_new (for metrics). */
struct auth_counters {
	uint64_t accepted;          /* handshakes with a known key */
	uint64_t refused_unknown;   /* key not in keys_dir */
	uint64_t refused_revoked;   /* key in keys_dir/revoked/ */
	uint64_t refused_other;     /* wrong mechanism or domain, bad request */
	unsigned keys;              /* active keys after the last (re)load */
};

struct auth;

/* ------------------------------------------------------------- ZAP handler */

/* Bind the ZAP handler in zmq_ctx and load keys_dir. Fails if keys_dir is
 * not a readable directory or another handler is bound in zmq_ctx
 * (EADDRINUSE). An empty keys_dir is allowed (every client is refused). */
struct auth *auth_new(void *zmq_ctx, const char *keys_dir, char *err, size_t errlen);
/* Close the ZAP socket, free a, set *ap to NULL. NULL-safe. */
void auth_destroy(struct auth **ap);
/* The socket to poll for ZMQ_POLLIN in the caller's zmq_poll loop. */
void *auth_socket(struct auth *a);
/* Answer every pending ZAP request without blocking. Returns how many were
 * answered, or -1 with errno set if the ZAP socket failed (ETERM ...). */
int auth_handle(struct auth *a);
/* Reread keys_dir (SIGHUP). Files that do not parse are skipped with a
 * warning, so one bad file does not lock every township out; a key present
 * both in keys_dir and revoked/, or in two files, is refused. Returns the
 * number of active keys, or -1 (old keys kept) if keys_dir cannot be read. */
int auth_reload(struct auth *a);
/* Is p's key still active with the same role and township? Always true for
 * AUTH_ROLE_LOCAL. Call per message: a binary search. */
bool auth_principal_current(const struct auth *a, const struct principal *p);
void auth_counters(const struct auth *a, struct auth_counters *out);

/* ------------------------------------------------------------- principals */

/* Parse a User-Id set by this handler. Returns 0, or -1 if user_id is NULL,
 * empty or not in the format above (out is then cleared). */
int auth_principal_parse(const char *user_id, struct principal *out);
/* The principal of a connection on a socket without CURVE (curve = off, or
 * auto on loopback): AUTH_ROLE_LOCAL. */
void auth_principal_local(struct principal *out);
/* "township", "county", "reader", "local"; "none" otherwise. */
const char *auth_role_name(enum auth_role r);
/* The role named s, or AUTH_ROLE_NONE ("local" is not a key role). */
enum auth_role auth_role_from_name(const char *s);

/* -------------------------------------------------------- authorisation */

/* May p send an envelope whose township_id is township_id? NULL if so, else
 * AUTH_CODE_READ_ONLY (reader) or AUTH_CODE_WRONG_TOWNSHIP (a township key
 * sending for another township) or AUTH_CODE_NOT_AUTHENTICATED. County and
 * local principals may write for any township. */
const char *auth_write_refusal(const struct principal *p, const char *township_id);
/* May p query township_id's data (NULL or "" = county-wide)? NULL if so,
 * else AUTH_CODE_OUT_OF_SCOPE or AUTH_CODE_NOT_AUTHENTICATED. A township key
 * and a township-bound reader see their own township only. The same rule
 * holds for status subscriptions. */
const char *auth_query_refusal(const struct principal *p, const char *township_id);
bool auth_may_write(const struct principal *p, const char *township_id);
bool auth_may_query(const struct principal *p, const char *township_id);

/* ---------------------------------------------------------------- sockets */

/* Is endpoint reachable only from this host? True for ipc://, inproc://,
 * tcp:// on 127.0.0.0/8 (also 127.1 and other inet_aton forms), [::1],
 * [::ffff:127.x.y.z], localhost and interface lo. False for the wildcard
 * (tcp:// then *), 0.0.0.0, [::], other addresses and interfaces, and other transports. */
bool auth_endpoint_is_loopback(const char *endpoint);
/* Make socket a CURVE server in the "jiceng" ZAP domain with the secret key
 * in server_key_path (see auth_server_key_load). Call before bind. a must be
 * the handler bound in socket's context: it is required because libzmq lets
 * every client in when a CURVE socket's context has no ZAP handler. */
int auth_server_setup(struct auth *a, void *socket, const char *server_key_path,
    char *err, size_t errlen);
/* Make socket a CURVE client: its own key pair from client_secret_path
 * (`<name>.key_secret`), the server's public key from server_public_path
 * (`server.key`, or the secret file itself). Call before connect. */
int auth_client_setup(void *socket, const char *client_secret_path,
    const char *server_public_path, char *err, size_t errlen);

/* --------------------------------------------------------------- key files */

/* Read one key file. A `*_secret` file must not be accessible to others
 * (mode & 007) and must hold a secret key matching its public key.
 * Returns 0, or -1 with "path:line: what" in err. */
int auth_cert_load(const char *path, struct auth_cert *out, char *err, size_t errlen);
/* A key name: 1-AUTH_NAME_MAX of [A-Za-z0-9._-], not starting with . or -. */
bool auth_key_name_valid(const char *name);
/* Called by auth_keys_walk for each file: c is the key, loaded and checked
 * as the ZAP handler does, or NULL with error ("path: why") saying why the
 * file is not a usable client key. Return 0 to go on, -1 to stop the walk. */
typedef int (*auth_walk_fn)(void *arg, const char *path, const struct auth_cert *c,
    const char *error);
/* Visit the key files of dir (keys_dir, or keys_dir/revoked) in directory
 * order: each `*.key` not starting with '.', and each `*.key_secret` as an
 * error (a secret belongs to its client). Other files are ignored. Returns
 * 0, or -1 with errno (ECANCELED if fn stopped, else opendir's). */
int auth_keys_walk(const char *dir, auth_walk_fn fn, void *arg);
/* Fill c with a fresh key pair (zmq_curve_keypair); name, role, township
 * must be set by the caller (before or after). Returns 0 or -1. */
int auth_cert_generate(struct auth_cert *c, char *err, size_t errlen);
/* Check name, role and township of c as a client key (township role needs
 * a valid township; county none; reader optional). Returns 0 or -1. */
int auth_cert_check(const struct auth_cert *c, char *err, size_t errlen);
/* Write dir/<name>.key (0644) and dir/<name>.key_secret (0600), never
 * overwriting an existing file (-1, EEXIST in err). Both files are fsync'd;
 * on failure neither is left behind. */
int auth_cert_save(const struct auth_cert *c, const char *dir, char *err, size_t errlen);
/* Load the server key pair from path, which names either the secret file
 * (`.../server.key_secret`, as server_key in jiceng.conf) or its public twin
 * (`.../server.key`); the secret is read either way. With create, a missing
 * pair is generated and written first (both files, as auth_cert_save).
 * Returns 0 or -1 with err. */
int auth_server_key_load(const char *path, bool create, struct auth_cert *out,
    char *err, size_t errlen);

#endif
