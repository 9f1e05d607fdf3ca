/*
 * jicengctl: the command word, the help text, and what the subcommands
 * share (endpoints from options or the environment, the DEALER socket,
 * option parsing). The subcommands themselves are in ctl_send.c (which
 * also holds the pipelined sender send and import share), ctl_import.c,
 * ctl_query.c, ctl_rebuild.c, ctl_resend.c and ctl_keys.c; keys and keygen belong to the
 * key-management module and may be missing from a build, so they are
 * referenced weakly and reported as not available then.
 */
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "auth.h"
#include "config.h"
#include "log.h"

#pragma weak ctl_keys_main
#pragma weak ctl_keygen_main

#define CTL_VERSION "1"

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *summary;
} s_commands[] = {
	{ "send", ctl_send_main, "send envelopes (JSON lines) to jicengd, print acks" },
	{ "import", ctl_import_main, "load organisations and the member roster from CSV (Excel, WPS)" },
	{ "query", ctl_query_main, "ask jiceng-query for orgs, members, transfers, mobile episodes, stats, audit" },
	{ "report", ctl_report_main, "period audits and reports: meetings audit, inactive members, dues arrears ..." },
	{ "watch", ctl_watch_main, "follow the mobile-member status stream: snapshot, then every change" },
	{ "rebuild", ctl_rebuild_main, "recompute a worker's state from the journal (offline)" },
	{ "scrub-ids", ctl_scrub_ids_main, "digest ID numbers an older jicengd journaled in clear (offline)" },
	{ "promote", ctl_promote_main, "make a standby jicengd (--follow) the primary" },
	{ "resend-tail", ctl_resend_tail_main, "resend an old primary's unmirrored tail to the new primary" },
	{ "keygen", ctl_keygen_main, "create a CURVE key pair for a township, county or reader" },
	{ "keys", ctl_keys_main, "list, show and revoke client keys" },
};

#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

/* ---------------------------------------------------------------- helpers */

long
ctl_daemon_pid(const struct config *cfg)
{
	char path[CONFIG_PATH_MAX + 32], comm[64] = "";
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/jicengd.pid", cfg->run_dir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	/* A pid file left by a crash may name a pid reused since. */
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r"))) {
		if (!fgets(comm, sizeof comm, f))
			comm[0] = '\0';
		fclose(f);
		if (comm[0] && strncmp(comm, "jicengd", 7) != 0)
			return 0;
	}
	return pid;
}

bool
ctl_daemon_running(const struct config *cfg, const char *cmd)
{
	long pid = ctl_daemon_pid(cfg);

	if (!pid)
		return false;
	fprintf(stderr, "jicengctl %s: jicengd is running (pid %ld, from "
	    "%s/jicengd.pid); stop it first, e.g. systemctl stop jicengd\n",
	    cmd, pid, cfg->run_dir);
	return true;
}

int
ctl_config(struct config *cfg, const char *cmd, const char *conf, const char *data_dir)
{
	char err[512];
	config_defaults(cfg);
	if (conf && config_load(cfg, conf, err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl %s: %s\n", cmd, err);
		return -1;
	}
	if (data_dir && config_set(cfg, "daemon", "data_dir", data_dir, err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl %s: --data-dir: %s\n", cmd, err);
		return -1;
	}
	config_finish(cfg);
	return 0;
}

const char *
ctl_endpoint(const char *opt, const char *env, const char *def)
{
	const char *e;

	if (opt)
		return opt;
	if ((e = getenv(env)) && *e)
		return e;
	return def;
}

void
ctl_curve_from_env(struct ctl_curve *c)
{
	const char *e;

	if (!c->key && (e = getenv("JICENG_KEY")) && *e)
		c->key = e;
	if (!c->server_key && (e = getenv("JICENG_SERVER_KEY")) && *e)
		c->server_key = e;
}

static int
s_curve_setup(void *s, const struct ctl_curve *c)
{
	char err[512];

	if (!c || (!c->key && !c->server_key))
		return 0;
	if (!c->key || !c->server_key) {
		fprintf(stderr, "jicengctl: CURVE needs both --key and --server-key\n");
		return -1;
	}
	if (auth_client_setup(s, c->key, c->server_key, err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl: %s\n", err);
		return -1;
	}
	return 0;
}

void *
ctl_dealer(void *ctx, const char *endpoint, const struct ctl_curve *c)
{
	return ctl_socket(ctx, ZMQ_DEALER, endpoint, c);
}

void *
ctl_socket(void *ctx, int type, const char *endpoint, const struct ctl_curve *c)
{
	int linger = 100, ivl = 100, ivl_max = 1000;
	void *s = zmq_socket(ctx, type);

	if (!s) {
		fprintf(stderr, "jicengctl: zmq_socket: %s\n", zmq_strerror(errno));
		return NULL;
	}
	/* Short linger: an unacknowledged event is the sender's to resend,
	 * never a reason to hang at exit. Fast reconnects: a restarted broker
	 * is found again within a second. */
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
	if (s_curve_setup(s, c) < 0)
		goto fail;
	if (zmq_connect(s, endpoint) < 0) {
		fprintf(stderr, "jicengctl: cannot connect to %s: %s\n", endpoint,
		    zmq_strerror(errno));
		goto fail;
	}
	return s;
fail:
	zmq_close(s);
	return NULL;
}

long
ctl_recv_last(void *sock, void **buf)
{
	zmq_msg_t msg;
	long size = -1;
	bool first = true;
	int more;

	*buf = NULL;
	do {
		/* Only the first frame may be absent; the rest of a message
		 * arrives with it. */
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, first ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&msg);
			free(*buf);
			*buf = NULL;
			return -1;
		}
		first = false;
		more = zmq_msg_more(&msg);
		free(*buf);
		size = (long)zmq_msg_size(&msg);
		if ((*buf = malloc(size ? (size_t)size : 1)))
			memcpy(*buf, zmq_msg_data(&msg), (size_t)size);
		zmq_msg_close(&msg);
		if (!*buf)
			return -1;
	} while (more);
	return size;
}

bool
ctl_parse_uint(const char *cmd, const char *opt, const char *value,
    unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (!*value || *end || errno || *value == '-' || v < min || v > max) {
		fprintf(stderr, "jicengctl %s: bad value for --%s: '%s' (%lu..%lu)\n",
		    cmd, opt, value, min, max);
		return false;
	}
	*out = v;
	return true;
}

int
ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "jicengctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'jicengctl %s --help'.\n", cmd);
	return CTL_EXIT_USAGE;
}

/* ---------------------------------------------------------------- main */

static void
s_help(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl COMMAND [OPTIONS] [ARGS]\n"
	    "\n"
	    "The operator and integrator tool of jiceng, the county event hub.\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; i < S_NCOMMANDS; i++)
		fprintf(out, "  %-11s %s\n", s_commands[i].name, s_commands[i].summary);
	fprintf(out,
	    "  help CMD    the help of one command (also: jicengctl CMD --help)\n"
	    "\n"
	    "Environment:\n"
	    "  JICENG_INGEST      ingest endpoint (default " CTL_DEFAULT_INGEST ")\n"
	    "  JICENG_QUERY       query endpoint (default " CTL_DEFAULT_QUERY ")\n"
	    "  JICENG_KEY         client secret key file for CURVE (--key)\n"
	    "  JICENG_SERVER_KEY  server public key file for CURVE (--server-key)\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error, 3 not found (query).\n"
	    "See jicengctl(1).\n");
}

static int
s_dispatch(const char *name, int argc, char **argv)
{
	for (size_t i = 0; i < S_NCOMMANDS; i++) {
		if (strcmp(name, s_commands[i].name) != 0)
			continue;
		if (!s_commands[i].run) {
			fprintf(stderr, "jicengctl %s: not available in this build\n",
			    name);
			return CTL_EXIT_FAIL;
		}
		return s_commands[i].run(argc, argv);
	}
	fprintf(stderr, "jicengctl: unknown command '%s'\nTry 'jicengctl --help'.\n",
	    name);
	return CTL_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	log_init("jicengctl", 0);
	if (argc < 2) {
		s_help(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		s_help(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("jicengctl (jiceng) wire contract v" CTL_VERSION "\n");
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			s_help(stdout);
			return CTL_EXIT_OK;
		}
		char *hargv[] = { argv[2], "--help", NULL };
		return s_dispatch(argv[2], 2, hargv);
	}
	return s_dispatch(argv[1], argc - 1, argv + 1);
}
