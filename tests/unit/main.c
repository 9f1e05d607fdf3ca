/*
 * Unit-test runner: all groups, or the ones named on the command line.
 * A group whose file is not linked in (weak symbol) is reported missing.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma weak unit_civil
#pragma weak unit_codec
#pragma weak unit_config
#pragma weak unit_journal
#pragma weak unit_idnum
#pragma weak unit_orgs
#pragma weak unit_members
#pragma weak unit_fold
#pragma weak unit_checkpoint
#pragma weak unit_pbjson
#pragma weak unit_auth
#pragma weak unit_wire
#pragma weak unit_iddigest
#pragma weak unit_transfers
#pragma weak unit_mobility
#pragma weak unit_queries
#pragma weak unit_status
#pragma weak unit_import
#pragma weak unit_meetings
#pragma weak unit_funds
#pragma weak unit_reports
#pragma weak unit_latency
#pragma weak unit_tail

static const struct {
	const char *name;
	int (*run)(void);
} s_groups[] = {
	{ "civil", unit_civil },
	{ "codec", unit_codec },
	{ "config", unit_config },
	{ "journal", unit_journal },
	{ "idnum", unit_idnum },
	{ "orgs", unit_orgs },
	{ "members", unit_members },
	{ "fold", unit_fold },
	{ "checkpoint", unit_checkpoint },
	{ "pbjson", unit_pbjson },
	{ "auth", unit_auth },
	{ "wire", unit_wire },
	{ "iddigest", unit_iddigest },
	{ "transfers", unit_transfers },
	{ "mobility", unit_mobility },
	{ "queries", unit_queries },
	{ "status", unit_status },
	{ "import", unit_import },
	{ "meetings", unit_meetings },
	{ "funds", unit_funds },
	{ "reports", unit_reports },
	{ "latency", unit_latency },
	{ "tail", unit_tail },
};

char *
unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;
	if (asprintf(&dir, "%s/jiceng-unit-XXXXXX", base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

void
unit_tmpdir_remove(char *dir)
{
	char *cmd;
	if (dir && asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		free(cmd);
	}
	free(dir);
}

int
main(int argc, char **argv)
{
	int failed = 0, ran = 0;
	for (size_t i = 0; i < sizeof s_groups / sizeof s_groups[0]; i++) {
		bool wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], s_groups[i].name) == 0)
				wanted = true;
		if (!wanted)
			continue;
		if (!s_groups[i].run) {
			fprintf(stderr, "unit group %s: not linked in\n", s_groups[i].name);
			continue;
		}
		failed += s_groups[i].run();
		ran++;
	}
	if (ran == 0) {
		fprintf(stderr, "no unit group ran\n");
		return 2;
	}
	return failed ? 1 : 0;
}
