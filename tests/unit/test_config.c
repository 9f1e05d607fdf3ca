/*
 * Unit tests of the config parser: defaults, overrides, and the errors an
 * operator's typo must get.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static int
s_load_text(struct config *c, const char *text, char *err, size_t errlen)
{
	char *dir = unit_tmpdir(), path[512];
	snprintf(path, sizeof path, "%s/jiceng.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	int rc = config_load(c, path, err, errlen);
	unit_tmpdir_remove(dir);
	return rc;
}

static void
test_defaults(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	config_finish(&c);
	assert_string_equal(c.ingest, "tcp://127.0.0.1:7400");
	assert_string_equal(c.status, "tcp://127.0.0.1:7401");
	assert_string_equal(c.query, "tcp://127.0.0.1:7402");
	assert_string_equal(c.data_dir, "/var/lib/jiceng");
	assert_string_equal(c.run_dir, "/var/lib/jiceng/run");
	char in_memory[CONFIG_PATH_MAX];
	config_default_derived_dir("/var/lib/jiceng", in_memory, sizeof in_memory);
	assert_string_equal(c.derived_dir, in_memory);
	for (int d = 0; d < DOMAIN_COUNT; d++)
		assert_true(c.workers[d]);
	assert_int_equal(c.rules.org_min_full_members_days, 90);
	assert_int_equal(c.rules.transfer_max_valid_days, 90);
	assert_int_equal(c.rules.funds_max_single_fen, 10000000);
	assert_int_equal(c.curve, CURVE_AUTO);
	assert_int_equal(c.commit_interval_us, 1000);
}

static void
test_file_overrides(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_int_equal(s_load_text(&c,
	    "# comment\n[daemon]\n ingest = tcp://127.0.0.1:9000 \nmax_backlog=77\n"
	    "[rules]\norg.min_full_members_days = 120\n[security]\ncurve = on\n", err, sizeof err), 0);
	assert_string_equal(c.ingest, "tcp://127.0.0.1:9000");
	assert_int_equal(c.max_backlog, 77);
	assert_int_equal(c.rules.org_min_full_members_days, 120);
	assert_int_equal(c.rules.transfer_max_valid_days, 90);
	assert_int_equal(c.curve, CURVE_ON);
}

static void
test_errors_name_line_and_key(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_int_equal(s_load_text(&c, "[daemon]\ningest_typo = x\n", err, sizeof err), -1);
	assert_non_null(strstr(err, ":2: unknown setting [daemon] ingest_typo"));
	assert_int_equal(s_load_text(&c, "[rules]\ntransfer.max_valid_days = 0\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(s_load_text(&c, "[daemon]\ncommit_interval_us = 1000001\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(s_load_text(&c, "[daemon]\ncommit_interval_us = 0\n", err, sizeof err), 0);
	assert_int_equal(c.commit_interval_us, 0);
	assert_int_equal(s_load_text(&c, "[daemon]\nmax_batch = 12abc\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "not a whole number"));
	assert_int_equal(s_load_text(&c, "[daemon]\nworkers = membership,payroll\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "payroll"));
	assert_int_equal(s_load_text(&c, "[daemon\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "bad section"));
	assert_int_equal(s_load_text(&c, "[security]\ncurve = maybe\n", err, sizeof err), -1);
	assert_int_equal(config_load(&c, "/nonexistent/jiceng.conf", err, sizeof err), -1);
	assert_non_null(strstr(err, "No such file"));
}

/* derived_dir follows data_dir unless set; a set one stays put when the
 * command line moves data_dir. */
static void
test_derived_dir(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	char a[CONFIG_PATH_MAX], b[CONFIG_PATH_MAX], cwd[256], rel[CONFIG_PATH_MAX];
	config_defaults(&c);
	assert_int_equal(config_set(&c, "daemon", "data_dir", "/srv/jiceng", err, sizeof err), 0);
	config_finish(&c);
	config_default_derived_dir("/srv/jiceng", a, sizeof a);
	assert_string_equal(c.derived_dir, a);
	assert_string_equal(c.run_dir, "/srv/jiceng/run");
	/* In memory where there is a /dev/shm, one place per data_dir however
	 * it is spelled (every process of one server finds the same). */
	if (access("/dev/shm", W_OK) == 0) {
		assert_int_equal(strncmp(a, "/dev/shm/jiceng-", 16), 0);
		assert_int_equal(strlen(a), 16 + 16);
	} else
		assert_string_equal(a, "/srv/jiceng");
	config_default_derived_dir("/srv/./x/../jiceng//", b, sizeof b);
	assert_string_equal(a, b);
	config_default_derived_dir("/srv/jiceng2", b, sizeof b);
	assert_string_not_equal(a, b);
	assert_non_null(getcwd(cwd, sizeof cwd));
	snprintf(rel, sizeof rel, "%s/data", cwd);
	config_default_derived_dir(rel, a, sizeof a);
	config_default_derived_dir("data", b, sizeof b);
	assert_string_equal(a, b);

	config_defaults(&c);
	assert_int_equal(s_load_text(&c, "[daemon]\nderived_dir = /run/jiceng\n", err, sizeof err), 0);
	assert_int_equal(config_set(&c, "daemon", "data_dir", "/srv/jiceng", err, sizeof err), 0);
	config_finish(&c);
	assert_string_equal(c.derived_dir, "/run/jiceng");
	assert_string_equal(c.data_dir, "/srv/jiceng");
}

/* What jicengd gives a child: the directories and workers on its command
 * line win over the config file's, whatever their order; "-" is the
 * embedded defaults; a letter that is not one of them is the child's. */
static void
test_child_args(void **state)
{
	(void)state;
	char *dir = unit_tmpdir(), path[512], err[256];
	struct config c;
	snprintf(path, sizeof path, "%s/jiceng.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[daemon]\ndata_dir = /from/file\nworkers = membership\nheartbeat_ms = 250\n", f);
	fclose(f);
	struct config_child_args a = { 0 };
	assert_true(config_child_option(&a, 'D', "/from/args"));
	assert_true(config_child_option(&a, 'c', path));   /* after --data-dir */
	assert_true(config_child_option(&a, 'w', "membership,funds"));
	assert_true(config_child_option(&a, 'v', NULL));
	assert_false(config_child_option(&a, 'q', "tcp://x"));
	assert_int_equal(config_child_load(&c, &a, err, sizeof err), 0);
	assert_string_equal(c.data_dir, "/from/args");
	assert_int_equal(c.heartbeat_ms, 250);
	assert_true(c.workers[DOMAIN_FUNDS]);
	assert_false(c.workers[DOMAIN_MEETINGS]);
	assert_string_equal(c.run_dir, "/from/args/run");
	assert_int_equal(a.verbose, 1);
	struct config_child_args bad = { .config = "-", .workers = "membership,nobody" };
	assert_int_equal(config_child_load(&c, &bad, err, sizeof err), -1);
	assert_non_null(strstr(err, "nobody"));
	unit_tmpdir_remove(dir);
}

/* The county's townships: county prefixes and township codes, and the
 * errors a wrong code gets. */
static void
test_townships(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_int_equal(c.ntownships, 0);
	assert_true(config_township_known(&c, "110105001000"));  /* unset: any */

	assert_int_equal(s_load_text(&c, "[daemon]\ntownships = 320123, 320124101000\n", err, sizeof err), 0);
	assert_int_equal(c.ntownships, 2);
	assert_true(config_township_known(&c, "320123101000"));
	assert_true(config_township_known(&c, "320123204000"));
	assert_true(config_township_known(&c, "320124101000"));
	assert_false(config_township_known(&c, "320124102000"));
	assert_false(config_township_known(&c, "320125101000"));
	assert_false(config_township_known(&c, "110105001000"));

	assert_int_equal(s_load_text(&c, "[daemon]\ntownships = 32012\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "'32012'"));
	assert_non_null(strstr(err, ":2:"));
	assert_int_equal(s_load_text(&c, "[daemon]\ntownships = 320123101001\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "ending in 000"));
}

/* [mirror]: off by default; names and subject prefixes NATS can take,
 * booleans spelled out. */
static void
test_mirror(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_false(c.mirror_enabled);
	assert_string_equal(c.mirror_stream, "JICENG");
	assert_string_equal(c.mirror_subject_prefix, "jiceng.county");
	assert_int_equal(c.mirror_replicas, 1);
	assert_int_equal(s_load_text(&c, "[mirror]\nenabled = true\nservers = nats://a:4222,nats://b:4222\n"
	    "stream = JC-411523\nsubject_prefix = jiceng.411523\nreplicas = 3\n", err, sizeof err), 0);
	assert_true(c.mirror_enabled);
	assert_string_equal(c.mirror_servers, "nats://a:4222,nats://b:4222");
	assert_string_equal(c.mirror_stream, "JC-411523");
	assert_string_equal(c.mirror_subject_prefix, "jiceng.411523");
	assert_int_equal(c.mirror_replicas, 3);
	assert_int_equal(s_load_text(&c, "[mirror]\nenabled = maybe\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "true or false"));
	assert_int_equal(s_load_text(&c, "[mirror]\nstream = a.b\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "stream name"));
	const char *bad[] = { "jiceng..x", ".jiceng", "jiceng.", "jiceng.*", "jiceng.>", "a b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[96];
		snprintf(text, sizeof text, "[mirror]\nsubject_prefix = %s\n", bad[i]);
		assert_int_equal(s_load_text(&c, text, err, sizeof err), -1);
		assert_non_null(strstr(err, "subject prefix"));
	}
	assert_int_equal(s_load_text(&c, "[mirror]\nreplicas = 7\n", err, sizeof err), -1);
}

/* [standby]: off by default, the mirror's defaults for the stream, the
 * primary named as given, and the same checks of names as [mirror]. */
static void
test_standby(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_false(c.standby_enabled);
	assert_string_equal(c.standby_servers, "nats://127.0.0.1:4222");
	assert_string_equal(c.standby_stream, "JICENG");
	assert_string_equal(c.standby_subject_prefix, "jiceng.county");
	assert_string_equal(c.standby_primary, "");
	assert_int_equal(s_load_text(&c, "[standby]\nenabled = yes\nservers = nats://a:4222\n"
	    "stream = JC-411523\nsubject_prefix = jiceng.411523\nprimary = 县主机 10.0.0.1\n"
	    "creds_file = /etc/jiceng/standby.creds\n", err, sizeof err), 0);
	assert_true(c.standby_enabled);
	assert_string_equal(c.standby_servers, "nats://a:4222");
	assert_string_equal(c.standby_stream, "JC-411523");
	assert_string_equal(c.standby_subject_prefix, "jiceng.411523");
	assert_string_equal(c.standby_primary, "县主机 10.0.0.1");
	assert_string_equal(c.standby_creds_file, "/etc/jiceng/standby.creds");
	assert_int_equal(s_load_text(&c, "[standby]\nstream = a b\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "stream name"));
	assert_int_equal(s_load_text(&c, "[standby]\nsubject_prefix = jiceng.>\n", err, sizeof err), -1);
	assert_non_null(strstr(err, "subject prefix"));
	assert_int_equal(s_load_text(&c, "[standby]\nfollow = true\n", err, sizeof err), -1);
}

int
unit_config(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_overrides),
		cmocka_unit_test(test_errors_name_line_and_key),
		cmocka_unit_test(test_derived_dir),
		cmocka_unit_test(test_child_args),
		cmocka_unit_test(test_townships),
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_standby),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
