/*
 * jicengctl: the operator and integrator CLI. ctl.c parses the command
 * word and dispatches; each subcommand lives in its own tools/ctl_*.c as
 * `int ctl_<name>_main(int argc, char **argv)` where argv[0] is the
 * subcommand's name, and returns the process exit status.
 *
 * Exit statuses shared by every subcommand: 0 success, 1 failure (a reason
 * on stderr or in the JSON output), 2 usage error; `query` adds 3 for
 * NOT_FOUND.
 */
#ifndef JICENG_CTL_H
#define JICENG_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "now.h"

#define CTL_EXIT_OK        0
#define CTL_EXIT_FAIL      1
#define CTL_EXIT_USAGE     2
#define CTL_EXIT_NOT_FOUND 3

#define CTL_DEFAULT_INGEST "tcp://127.0.0.1:7400"
#define CTL_DEFAULT_QUERY  "tcp://127.0.0.1:7402"

/* Subcommands. keys and keygen are in ctl_keys.c (another module, may be
 * absent from a build: ctl.c references them weakly). */
int ctl_send_main(int argc, char **argv);
int ctl_import_main(int argc, char **argv);
int ctl_query_main(int argc, char **argv);
int ctl_report_main(int argc, char **argv);
int ctl_watch_main(int argc, char **argv);
int ctl_rebuild_main(int argc, char **argv);
int ctl_scrub_ids_main(int argc, char **argv);
int ctl_promote_main(int argc, char **argv);
int ctl_resend_tail_main(int argc, char **argv);
int ctl_keys_main(int argc, char **argv);
int ctl_keygen_main(int argc, char **argv);

/* ---------------------------------------------------------------- helpers (ctl.c) */

/* The endpoint to use: opt if given, else $env if set and not empty, else
 * def. */
const char *ctl_endpoint(const char *opt, const char *env, const char *def);

/* CURVE client settings for a connection; both NULL for a plain socket. */
struct ctl_curve {
	const char *key;         /* our <name>.key_secret (--key, $JICENG_KEY) */
	const char *server_key;  /* the server's public key (--server-key,
	                            $JICENG_SERVER_KEY) */
};

/* Fill in the CURVE settings still NULL from the environment. */
void ctl_curve_from_env(struct ctl_curve *c);

/* A DEALER socket in ctx connected to endpoint, with a short linger and
 * fast reconnects, made a CURVE client when c says so. Returns the socket,
 * or NULL with a message on stderr. */
void *ctl_dealer(void *ctx, const char *endpoint, const struct ctl_curve *c);
/* The same for a socket of any type (ZMQ_SUB for the status stream). */
void *ctl_socket(void *ctx, int type, const char *endpoint, const struct ctl_curve *c);

/* Receive one message without blocking, keeping its last frame (a reply
 * is one frame; anything before it, such as an empty delimiter, is
 * skipped). Returns the frame's size and sets *buf (malloc'd), or -1 when
 * nothing is waiting or on error. */
long ctl_recv_last(void *sock, void **buf);


struct config;
/* cfg as jicengd reads it: the embedded defaults, then conf (NULL: none),
 * then data_dir (NULL: the config's). 0, or -1 with "jicengctl CMD: ..." on
 * stderr. */
int ctl_config(struct config *cfg, const char *cmd, const char *conf, const char *data_dir);
/* The pid of the jicengd running on cfg's run_dir (its jicengd.pid names a
 * live process whose command is jicengd), 0 when none. */
long ctl_daemon_pid(const struct config *cfg);
/* Is jicengd running on cfg's run_dir: does run_dir/jicengd.pid (written
 * at its start) name a live process whose command is jicengd? Prints why
 * on stderr, as "jicengctl CMD: ...", when it is. */
bool ctl_daemon_running(const struct config *cfg, const char *cmd);

/* Parse a decimal unsigned option value in [min, max]; on error prints
 * "jicengctl CMD: bad value for --OPT: VALUE" and returns false. */
bool ctl_parse_uint(const char *cmd, const char *opt, const char *value,
    unsigned long min, unsigned long max, unsigned long *out);

/* Print "jicengctl CMD: message" and "Try 'jicengctl CMD --help'." on
 * stderr; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- queries (ctl_query.c) */

/* Send q on sock (a DEALER to jiceng-query at endpoint, ctl_dealer) with a
 * request_id of its own, and wait up to timeout_ms for the reply carrying
 * it. Returns the reply (free with jiceng__v1__query_reply__free_unpacked),
 * or NULL with "jicengctl CMD: ..." on stderr. q->request_id is left "". */
QueryReply *ctl_query_call(const char *cmd, void *sock, const char *endpoint, Query *q,
    unsigned timeout_ms);
/* The exit status a reply gives: OK 0, NOT_FOUND 3, else (or none) 1. */
/* The long options every query-server client takes: --query, --timeout,
 * --after, --limit, --key, --server-key, --help. */
#define CTL_QUERY_LONGOPTS \
	{ "query", required_argument, NULL, 'q' }, \
	{ "timeout", required_argument, NULL, 't' }, \
	{ "after", required_argument, NULL, 'a' }, \
	{ "limit", required_argument, NULL, 'n' }, \
	{ "key", required_argument, NULL, 'k' }, \
	{ "server-key", required_argument, NULL, 's' }, \
	{ "help", no_argument, NULL, 'h' }

int ctl_query_exit(const QueryReply *r);
/* Print r as canonical JSON on one line; false when it cannot. */
bool ctl_query_print_json(const QueryReply *r);

/* ---------------------------------------------------------------- the sender (ctl_send.c) */

/*
 * The pipelined sender that send and import share. A source hands it
 * packed envelopes one at a time; it sends them over one DEALER with at
 * most `window` unacknowledged, matches acks by event_id (an ack without
 * one, from the broker's envelope checks, to the oldest envelope in flight
 * those checks refuse with its code), resends an envelope without an ack
 * within `timeout_ms` with the same bytes up to `retries` times, and an
 * envelope answered RETRY_LATER after a backoff of 0.1-5 s up to 10 *
 * `retries` times; while one backs off no new envelope is sent. Two
 * envelopes with the same event_id are never in flight together. It hands
 * each envelope's final ack, or the news that none came, back to the
 * source.
 */
struct ctl_sender;

/* What send and import take on the command line (CTL_SENDER_LONGOPTS). */
struct ctl_sender_conf {
	const char *cmd;          /* "send", "import": names the messages */
	const char *ingest;       /* --ingest; NULL: $JICENG_INGEST or the default */
	unsigned window;          /* --window: envelopes in flight without an ack */
	unsigned timeout_ms;      /* --timeout: resend what is not acked by then */
	unsigned retries;         /* --retries: resends after a timeout */
	struct ctl_curve curve;   /* --key, --server-key */
};

#define CTL_SENDER_WINDOW_MAX 4096
#define CTL_SENDER_CONF(name) \
	{ .cmd = (name), .window = 64, .timeout_ms = 5000, .retries = 5 }

/* The sender's options, for getopt_long: short letters and long entries
 * (put CTL_SENDER_LONGOPTS inside the command's struct option array). */
#define CTL_SENDER_SHORTOPTS "i:w:t:r:k:s:"
#define CTL_SENDER_LONGOPTS \
	{ "ingest", required_argument, NULL, 'i' }, \
	{ "window", required_argument, NULL, 'w' }, \
	{ "timeout", required_argument, NULL, 't' }, \
	{ "retries", required_argument, NULL, 'r' }, \
	{ "key", required_argument, NULL, 'k' }, \
	{ "server-key", required_argument, NULL, 's' }
/* Their lines of a command's --help (a command with another --window
 * default puts its own line between the two parts). */
#define CTL_SENDER_HELP \
	CTL_SENDER_HELP_INGEST \
	"  -w, --window N       events in flight without an ack (default 64;\n" \
	"                       1 keeps strict order through RETRY_LATER)\n" \
	CTL_SENDER_HELP_RESENDS
#define CTL_SENDER_HELP_INGEST \
	"  -i, --ingest EP      ingest endpoint (default $JICENG_INGEST or\n" \
	"                       " CTL_DEFAULT_INGEST ")\n"
#define CTL_SENDER_HELP_RESENDS \
	"  -t, --timeout MS     resend an event not acked within MS (default 5000)\n" \
	"  -r, --retries N      resends after a timeout (default 5); RETRY_LATER\n" \
	"                       answers are resent after a backoff of 0.1-5 s,\n" \
	"                       up to 10*N times\n" \
	"  -k, --key FILE       CURVE: our secret key file (<name>.key_secret)\n" \
	"  -s, --server-key FILE  CURVE: the server's public key file\n"

/* Take getopt's option c (its argument arg) into conf if it is one of
 * CTL_SENDER_LONGOPTS. Returns 1 taken, 0 not one of them, -1 a bad value
 * ("jicengctl CMD: bad value ..." printed: a usage error). */
int ctl_sender_option(struct ctl_sender_conf *conf, int c, const char *arg);

/* One envelope handed to the sender. */
struct ctl_envelope {
	uint8_t *buf;       /* the packed Envelope; the sender owns it from
	                       then on and wipes it when done (it may carry an
	                       ID number) */
	size_t len;
	char *event_id;     /* its event_id, malloc'd; the sender owns it */
	unsigned order;     /* position in the input: resends go oldest first */
	void *tag;          /* the source's, handed back with the answer */
};

/* Where envelopes come from and where their answers go. pull and answered
 * are required; the rest may be NULL. */
struct ctl_source {
	void *arg;          /* the first argument of every call */
	/* The next envelope into *e: 1 given; 0 none yet (more input, or an
	 * answer, will bring one); -1 none unless an answer brings one. */
	int (*pull)(void *arg, struct ctl_envelope *e);
	/* A file descriptor to wait on while pull says 0, or -1. */
	int (*input_fd)(void *arg);
	/* input_fd is readable: read it. 0, or -1 to stop the run. */
	int (*input)(void *arg);
	/* The final ack of e, whatever its verdict (RETRY_LATER once its
	 * backoffs are used up). An ack the broker sent without an event_id
	 * carries e's here. */
	void (*answered)(void *arg, const struct ctl_envelope *e, const Ack *a);
	/* No ack came for e after every resend; why says so. */
	void (*lost)(void *arg, const struct ctl_envelope *e, const char *why);
	/* After each pass of the loop (acks read, timers run): progress. */
	void (*tick)(void *arg);
};

/* A sender connected (DEALER, CURVE if conf says so) to conf's ingest
 * endpoint; NULL with a message on stderr. */
struct ctl_sender *ctl_sender_new(const struct ctl_sender_conf *conf);
/* Send what src gives until pull says -1 and every envelope handed over
 * is answered or lost. May be run again with another source. Returns 0,
 * or -1 when polling or the source's input failed (message on stderr). */
int ctl_sender_run(struct ctl_sender *s, const struct ctl_source *src);
/* Close the connection (envelopes still in flight are dropped) and free;
 * clears *sp. */
void ctl_sender_destroy(struct ctl_sender **sp);

#endif
