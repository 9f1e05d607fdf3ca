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

#include <stdbool.h>
#include <stdint.h>

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
int ctl_query_main(int argc, char **argv);
int ctl_rebuild_main(int argc, char **argv);
int ctl_scrub_ids_main(int argc, char **argv);
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

#endif
