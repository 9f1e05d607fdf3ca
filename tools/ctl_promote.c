/*
 * jicengctl promote: make a standby jicengd (jicengd --follow) the
 * primary. It leaves its request in RUN_DIR/promote.request, signals the
 * jicengd named by RUN_DIR/jicengd.pid (SIGUSR1) and waits for its answer
 * in RUN_DIR/promote.result, which it prints. jicengd commits what it has
 * followed, compares its journal's end with the stream's and refuses while
 * the stream holds events it has not journaled, unless --force.
 * docs/operations.md, "Standby and promotion".
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl promote [--force] [--config FILE] [--data-dir DIR]\n"
	    "\n"
	    "Make the standby jicengd running on this data (jicengd --follow, or\n"
	    "[standby] enabled) the primary: it stops following the stream after\n"
	    "committing what it has, takes events from townships from then on and\n"
	    "journals its own Ticks (and RulesChanged if its [rules] differ). The\n"
	    "promotion is kept in the journal: a restart does not follow again\n"
	    "unless started with --follow.\n"
	    "\n"
	    "It is refused while the stream holds events this standby has not\n"
	    "journaled yet (wait until `jicengctl query stats` shows standby lag 0),\n"
	    "or when the stream cannot be read to compare.\n"
	    "\n"
	    "Options:\n"
	    "  -f, --force          promote anyway; the answer says how many events\n"
	    "                       of the stream are left behind\n"
	    "  -c, --config FILE    jiceng.conf jicengd runs with (for run_dir)\n"
	    "  -D, --data-dir DIR   overrides data_dir of the config\n"
	    "  -t, --timeout S      wait up to S seconds for the answer (default 30)\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 promoted (or already the primary), 1 refused or no\n"
	    "answer, 2 usage error.\n");
}

static const struct option s_options[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "config", required_argument, NULL, 'c' },
	{ "data-dir", required_argument, NULL, 'D' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Write the request where jicengd reads it, whole (a rename). */
static int
s_request(const struct config *cfg, bool force)
{
	char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 40];
	snprintf(path, sizeof path, "%s/promote.request", cfg->run_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "promote%s\n", force ? " force" : "") < 0 || fclose(f) != 0 ||
	    rename(tmp, path) < 0) {
		fprintf(stderr, "jicengctl promote: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Wait for jicengd's answer: its exit status, printed. */
static int
s_answer(const struct config *cfg, long pid, unsigned long timeout_s)
{
	char path[CONFIG_PATH_MAX + 32], status[32] = "", msg[1024] = "";
	snprintf(path, sizeof path, "%s/promote.result", cfg->run_dir);
	int64_t until = now_mono_ms() + (int64_t)timeout_s * 1000;
	FILE *f = NULL;
	while (!(f = fopen(path, "r")) && now_mono_ms() < until && kill((pid_t)pid, 0) == 0)
		usleep(50000);
	if (!f) {
		fprintf(stderr, "jicengctl promote: no answer from jicengd (pid %ld) within %lu s; "
		    "see its log\n", pid, timeout_s);
		return CTL_EXIT_FAIL;
	}
	if (!fgets(status, sizeof status, f) || !fgets(msg, sizeof msg, f))
		snprintf(msg, sizeof msg, "(an unreadable answer in %s)\n", path);
	fclose(f);
	unlink(path);
	bool ok = strncmp(status, "ok", 2) == 0;
	fprintf(ok ? stdout : stderr, "jicengctl promote: %s", msg);
	return ok ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

int
ctl_promote_main(int argc, char **argv)
{
	const char *conf = NULL, *data_dir = NULL;
	unsigned long timeout_s = 30;
	bool force = false;
	struct config cfg;
	char path[CONFIG_PATH_MAX + 32];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fc:D:t:h", s_options, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'c': conf = optarg; break;
		case 'D': data_dir = optarg; break;
		case 't':
			if (!ctl_parse_uint("promote", "timeout", optarg, 1, 3600, &timeout_s))
				return CTL_EXIT_USAGE;
			break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		default: return ctl_usage_error("promote", "unknown option");
		}
	}
	if (optind < argc)
		return ctl_usage_error("promote", "unexpected argument '%s'", argv[optind]);
	if (ctl_config(&cfg, "promote", conf, data_dir) < 0)
		return CTL_EXIT_FAIL;
	long pid = ctl_daemon_pid(&cfg);
	if (!pid) {
		fprintf(stderr, "jicengctl promote: no jicengd runs on %s (no live pid in "
		    "%s/jicengd.pid)\n", cfg.data_dir, cfg.run_dir);
		return CTL_EXIT_FAIL;
	}
	snprintf(path, sizeof path, "%s/promote.result", cfg.run_dir);
	unlink(path);
	if (s_request(&cfg, force) < 0)
		return CTL_EXIT_FAIL;
	if (kill((pid_t)pid, SIGUSR1) < 0) {
		fprintf(stderr, "jicengctl promote: cannot signal jicengd (pid %ld): %s\n", pid,
		    strerror(errno));
		return CTL_EXIT_FAIL;
	}
	return s_answer(&cfg, pid, timeout_s);
}
