/*
 * jicengctl rebuild: recompute a worker's state environment from the
 * journal alone (fold_rebuild), offline. The new environment is built
 * beside the old one and renamed over it only when complete, so an
 * interrupted rebuild leaves the old state in place.
 *
 * It refuses while jicengd runs on the same data (ctl_daemon_running): a
 * worker would keep writing the old, replaced file.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "checkpoint.h"
#include "codec.h"
#include "config.h"
#include "fold.h"

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl rebuild --domain D [--config FILE] [--data-dir DIR]\n"
	    "\n"
	    "Recompute the state of worker D (membership, meetings, funds, or all\n"
	    "for every worker enabled in the config) from the journal alone. The\n"
	    "journal is read from DATA_DIR, the state written to\n"
	    "DERIVED_DIR/state/D.mdb (derived_dir of the config, by default\n"
	    "DATA_DIR): built beside it as D.mdb.rebuild and renamed\n"
	    "over it when done; the domain's checkpoint (checkpoint_dir) is\n"
	    "removed, never used. Stop jicengd first: rebuild refuses while\n"
	    "RUN_DIR/jicengd.pid (RUN_DIR defaults to DATA_DIR/run) names a live\n"
	    "jicengd process.\n"
	    "\n"
	    "Options:\n"
	    "  -d, --domain D       membership, meetings, funds or all\n"
	    "  -c, --config FILE    jiceng.conf to read (default: the embedded\n"
	    "                       defaults, as jicengd)\n"
	    "  -D, --data-dir DIR   overrides data_dir of the config\n"
	    "  -q, --quiet          no progress lines on stderr\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 rebuilt, 1 failed or jicengd running, 2 usage error.\n");
}

static void
s_progress(void *arg, uint64_t done, uint64_t total)
{
	fprintf(stderr, "rebuild %s: %llu/%llu events (%.0f%%)\n", (const char *)arg,
	    (unsigned long long)done, (unsigned long long)total, 100.0 * (double)done / (double)total);
}

static int
s_rebuild_one(const struct config *cfg, enum domain d, bool progress)
{
	char dir[CONFIG_PATH_MAX + 16], state[CONFIG_PATH_MAX + 48], err[512];

	snprintf(dir, sizeof dir, "%s/state", cfg->derived_dir);
	if ((mkdir(cfg->derived_dir, 0750) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0750) < 0 && errno != EEXIST)) {
		fprintf(stderr, "jicengctl rebuild: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	fold_state_path(cfg->derived_dir, d, state, sizeof state);
	if (fold_rebuild(cfg->data_dir, state, d, cfg, NULL, progress ? s_progress : NULL,
	    (void *)codec_domain_name(d), err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl rebuild %s: %s\n", codec_domain_name(d), err);
		return -1;
	}
	fprintf(stderr, "jicengctl rebuild: %s rebuilt: %s\n", codec_domain_name(d),
	    state);
	/* A checkpoint of the state before would bring it back after a reboot. */
	int removed = checkpoint_discard(cfg, d);
	if (removed < 0) {
		fprintf(stderr, "jicengctl rebuild: cannot remove the checkpoint of %s in %s: %s\n",
		    codec_domain_name(d), cfg->checkpoint_dir, strerror(errno));
		return -1;
	}
	if (removed)
		fprintf(stderr, "jicengctl rebuild: %s's checkpoint in %s removed (it was taken "
		    "before this rebuild)\n", codec_domain_name(d), cfg->checkpoint_dir);
	return 0;
}

static const struct option s_options[] = {
	{ "domain", required_argument, NULL, 'd' },
	{ "config", required_argument, NULL, 'c' },
	{ "data-dir", required_argument, NULL, 'D' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Read the options and the config into cfg; -1 to go on, else a status. */
static int
s_setup(int argc, char **argv, struct config *cfg, const char **domain,
    bool *quiet)
{
	const char *conf = NULL, *data_dir = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:c:D:qh", s_options, NULL)) != -1) {
		switch (c) {
		case 'd': *domain = optarg; break;
		case 'c': conf = optarg; break;
		case 'D': data_dir = optarg; break;
		case 'q': *quiet = true; break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		default: return ctl_usage_error("rebuild", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage_error("rebuild", "unexpected argument '%s'", argv[optind]);
	if (!*domain)
		return ctl_usage_error("rebuild", "--domain is required");
	return ctl_config(cfg, "rebuild", conf, data_dir) < 0 ? CTL_EXIT_FAIL : -1;
}

int
ctl_rebuild_main(int argc, char **argv)
{
	struct config *cfg = malloc(sizeof *cfg);
	const char *domain = NULL;
	bool quiet = false;
	enum domain d;
	int rc;

	if (!cfg)
		return CTL_EXIT_FAIL;
	if ((rc = s_setup(argc, argv, cfg, &domain, &quiet)) >= 0)
		goto out;
	rc = CTL_EXIT_USAGE;
	d = codec_domain_from_name(domain);
	if (d == DOMAIN_NONE && strcmp(domain, "all") != 0) {
		ctl_usage_error("rebuild", "unknown domain '%s' (membership, "
		    "meetings, funds or all)", domain);
		goto out;
	}
	rc = CTL_EXIT_FAIL;
	if (ctl_daemon_running(cfg, "rebuild"))
		goto out;
	rc = CTL_EXIT_OK;
	for (int i = 0; i < DOMAIN_COUNT; i++)
		if (d == (enum domain)i || (d == DOMAIN_NONE && cfg->workers[i]))
			if (s_rebuild_one(cfg, (enum domain)i, !quiet) < 0)
				rc = CTL_EXIT_FAIL;
out:
	free(cfg);
	return rc;
}
