/*
 * config: the jiceng.conf file. INI style: `[section]` headers, `key = value`
 * lines, `#` or `;` comments. Unknown keys are an error (a typo must not
 * silently keep a default). An embedded default config (config_defaults)
 * gives every value; a file overrides what it names; command-line options
 * override the file.
 *
 * Reference (README.md has the long form):
 *   [daemon]   data_dir, run_dir, derived_dir, ingest, status, query,
 *              workers, townships, max_backlog, backlog_pause_ms, max_batch,
 *              commit_interval_us, journal_map_mb, journal_map_max_mb,
 *              journal_fill_ahead_mb, state_map_mb, quarantine_after,
 *              heartbeat_ms, id_key_file, checkpoint_interval_s,
 *              checkpoint_dir
 *   [security] curve (auto|on|off), keys_dir, server_key
 *   [metrics]  textfile, interval_s
 *   [rules]    the thresholds of DOMAIN.md (names as in the Rules message,
 *              e.g. org.min_full_members_days = 90)
 *   [mirror]   enabled, servers, stream, subject_prefix, replicas,
 *              lag_warn_events, creds_file, nkey_seed_file, tls_ca_file,
 *              tls_cert_file, tls_key_file (jiceng-mirror, NATS JetStream)
 *   [standby]  enabled, servers, stream, subject_prefix, primary,
 *              creds_file, nkey_seed_file, tls_ca_file, tls_cert_file,
 *              tls_key_file (jicengd --follow: a journal built from the stream)
 */
#ifndef JICENG_CONFIG_H
#define JICENG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define CONFIG_PATH_MAX 512
#define CONFIG_MAX_TOWNSHIPS 256

enum curve_mode { CURVE_AUTO = 0, CURVE_ON, CURVE_OFF };

struct config {
	char data_dir[CONFIG_PATH_MAX];    /* journal.mdb, id key */
	char run_dir[CONFIG_PATH_MAX];     /* ipc sockets; default data_dir/run */
	char derived_dir[CONFIG_PATH_MAX]; /* ids.mdb, state/: what the journal rebuilds */
	char ingest[256];                  /* ROUTER endpoint for townships */
	char status[256];                  /* PUB endpoint for status changes */
	char query[256];                   /* ROUTER endpoint of jiceng-query */
	bool workers[DOMAIN_COUNT];        /* which domains run */
	/* The county's townships: 12-digit township codes, or 6-digit county
	 * codes standing for every township under them; none: any code. */
	char townships[CONFIG_MAX_TOWNSHIPS][13];
	unsigned ntownships;
	uint64_t max_backlog;              /* journaled-but-unapplied cap */
	unsigned backlog_pause_ms;         /* stop reading this long, then RETRY_LATER */
	unsigned max_batch;                /* envelopes per group commit */
	unsigned commit_interval_us;       /* least time from one group commit to the next */
	uint64_t journal_map_mb;           /* initial journal map size */
	uint64_t journal_map_max_mb;       /* the journal grows up to this */
	uint32_t journal_fill_ahead_mb;    /* zeros kept written past its end (0: off) */
	uint64_t state_map_mb;             /* each worker environment's map size */
	unsigned quarantine_after;         /* crashes on one event before quarantine */
	unsigned heartbeat_ms;             /* worker heartbeat period */
	char id_key_file[CONFIG_PATH_MAX]; /* blind-index key; default data_dir/id-index.key */
	/* Copies of each worker's state on the journal's disk (checkpoint.h),
	 * taken only when derived_dir is apart from data_dir. */
	unsigned checkpoint_interval_s;    /* 0: none */
	char checkpoint_dir[CONFIG_PATH_MAX]; /* default data_dir/checkpoint */
	enum curve_mode curve;             /* CURVE on ingest/query sockets */
	char keys_dir[CONFIG_PATH_MAX];    /* client public keys (zcert files) */
	char server_key[CONFIG_PATH_MAX];  /* server secret key (zcert) */
	char metrics_textfile[CONFIG_PATH_MAX]; /* Prometheus text file; "" = off */
	unsigned metrics_interval_s;
	Rules rules;                       /* thresholds journaled as RulesChanged */
	/* [mirror]: jiceng-mirror publishes the journal to NATS JetStream. */
	bool mirror_enabled;               /* jicengd runs jiceng-mirror */
	char mirror_servers[512];          /* nats:// URLs, comma-separated */
	char mirror_stream[64];            /* stream name, [A-Za-z0-9_-] */
	char mirror_subject_prefix[128];   /* subjects <prefix>.ev.> and <prefix>.status.> */
	unsigned mirror_replicas;          /* the stream's replicas when created */
	uint64_t mirror_lag_warn_events;   /* events behind the journal before a warning */
	char mirror_creds_file[CONFIG_PATH_MAX];      /* NATS user credentials (JWT + seed) */
	char mirror_nkey_seed_file[CONFIG_PATH_MAX];  /* an nkey seed file */
	char mirror_tls_ca_file[CONFIG_PATH_MAX];     /* CA for the servers' certificates */
	char mirror_tls_cert_file[CONFIG_PATH_MAX];   /* client certificate (with key) */
	char mirror_tls_key_file[CONFIG_PATH_MAX];
	/* [standby]: jicengd follows the mirror's stream instead of townships. */
	bool standby_enabled;              /* follow (also jicengd --follow) */
	char standby_servers[512];         /* nats:// URLs, comma-separated */
	char standby_stream[64];           /* the stream the primary's mirror writes */
	char standby_subject_prefix[128];  /* its <prefix>.ev.> is followed */
	char standby_primary[128];         /* the primary's name, named in refusals */
	char standby_creds_file[CONFIG_PATH_MAX];     /* as in [mirror] */
	char standby_nkey_seed_file[CONFIG_PATH_MAX];
	char standby_tls_ca_file[CONFIG_PATH_MAX];
	char standby_tls_cert_file[CONFIG_PATH_MAX];
	char standby_tls_key_file[CONFIG_PATH_MAX];
};

/* Fill c with the embedded defaults. */
void config_defaults(struct config *c);
/* Read path over c. Returns 0, or -1 with a message "file:line: what" in err. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Parse one `key = value` setting of section sec (also used for -o options).
 * Returns 0 or -1 with err filled. */
int config_set(struct config *c, const char *sec, const char *key,
    const char *value, char *err, size_t errlen);
/* The options jicengd starts its children with, for their getopt_long
 * tables (<getopt.h>); the children's own options use other letters. */
#define CONFIG_CHILD_OPTIONS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "data-dir", required_argument, NULL, 'D' }, \
	{ "run-dir", required_argument, NULL, 'r' }, \
	{ "derived-dir", required_argument, NULL, 'e' }, \
	{ "workers", required_argument, NULL, 'w' }, \
	{ "verbose", no_argument, NULL, 'v' }

/* What a child was given, in whatever order: the directories and workers
 * override the config file's. */
struct config_child_args {
	const char *config;        /* "-" or NULL: the embedded defaults */
	const char *data_dir, *run_dir, *derived_dir, *workers;
	int verbose;
};
/* Take getopt_long's c (one of CONFIG_CHILD_OPTIONS) with its argument:
 * false for another letter. */
bool config_child_option(struct config_child_args *a, int c, const char *arg);
/* cfg from a: the defaults, the config file, the options, finished.
 * 0, or -1 with the reason in err. */
int config_child_load(struct config *cfg, const struct config_child_args *a, char *err,
    size_t errlen);

/* Where derived_dir is by default: in memory, /dev/shm/jiceng-<16 hex
 * digits of a hash of data_dir's absolute path> (every process given the
 * same data_dir finds the same), or data_dir itself where there is no
 * writable /dev/shm. */
void config_default_derived_dir(const char *data_dir, char *out, size_t len);
/* Fill run_dir, derived_dir, id_key_file and checkpoint_dir from data_dir
 * when empty. */
void config_finish(struct config *c);
/* Is township (a well-formed code) one of the configured townships? True
 * for every code when none are configured. */
bool config_township_known(const struct config *c, const char *township);
/* The embedded default config file text (for `jicengd --print-config`). */
const char *config_default_text(void);

#endif
