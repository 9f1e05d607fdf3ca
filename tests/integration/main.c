/*
 * Integration-test runner: every group, or the ones named on the command
 * line (`build/test-integration ingest crash`). Each group is one file,
 * tests/integration/NN-<group>.c, running the real jicengd; a group whose
 * file is not linked in (weak symbol) is reported missing.
 *
 * Environment switches: JICENG_VALGRIND=1 runs jicengd and its children
 * under valgrind's memcheck (timeouts x20; any error it reports fails the
 * test; timing tests may not hold); JICENG_KEEP=1 keeps each test's data
 * directory; JICENG_TEST_DEBUG=1 starts jicengd with -v;
 * JICENG_TEST_FILTER=PATTERN runs only the tests whose name matches (cmocka's
 * wildcards, e.g. "test_mirror_k*").
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma weak integ_ingest
#pragma weak integ_badinput
#pragma weak integ_crash
#pragma weak integ_rebuild
#pragma weak integ_checkpoint
#pragma weak integ_storage
#pragma weak integ_powercut
#pragma weak integ_backpressure
#pragma weak integ_supervisor
#pragma weak integ_security
#pragma weak integ_ctl
#pragma weak integ_membership
#pragma weak integ_queries
#pragma weak integ_import
#pragma weak integ_funds
#pragma weak integ_domains
#pragma weak integ_reports
#pragma weak integ_mirror
#pragma weak integ_standby
#pragma weak integ_tail
#pragma weak integ_mirrorauth

static const struct {
	const char *name;
	int (*run)(void);
} s_groups[] = {
	{ "ingest", integ_ingest },
	{ "badinput", integ_badinput },
	{ "crash", integ_crash },
	{ "rebuild", integ_rebuild },
	{ "checkpoint", integ_checkpoint },
	{ "storage", integ_storage },
	{ "powercut", integ_powercut },
	{ "backpressure", integ_backpressure },
	{ "supervisor", integ_supervisor },
	{ "security", integ_security },
	{ "ctl", integ_ctl },
	{ "queries", integ_queries },
	{ "membership", integ_membership },
	{ "import", integ_import },
	{ "funds", integ_funds },
	{ "domains", integ_domains },
	{ "reports", integ_reports },
	{ "mirror", integ_mirror },
	{ "standby", integ_standby },
	{ "tail", integ_tail },
	{ "mirrorauth", integ_mirrorauth },
};

#define S_NGROUPS (sizeof s_groups / sizeof s_groups[0])

int
main(int argc, char **argv)
{
	int failed = 0, ran = 0;
	for (int a = 1; a < argc; a++) {
		bool known = false;
		for (size_t i = 0; i < S_NGROUPS; i++)
			known |= strcmp(argv[a], s_groups[i].name) == 0;
		if (!known) {
			fprintf(stderr, "usage: test-integration [group...]\ngroups:");
			for (size_t i = 0; i < S_NGROUPS; i++)
				fprintf(stderr, " %s", s_groups[i].name);
			fprintf(stderr, "\n");
			return 2;
		}
	}
	if (getenv("JICENG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("JICENG_TEST_FILTER"));
	for (size_t i = 0; i < S_NGROUPS; i++) {
		bool wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], s_groups[i].name) == 0;
		if (!wanted)
			continue;
		if (!s_groups[i].run) {
			fprintf(stderr, "integration group %s: not linked in\n", s_groups[i].name);
			failed++;
			continue;
		}
		failed += s_groups[i].run();
		ran++;
	}
	if (ran == 0) {
		fprintf(stderr, "no integration group ran\n");
		return 2;
	}
	return failed ? 1 : 0;
}
