/*
 * 60-supervisor: jicengd as a systemd Type=notify service and as the
 * supervisor of its children, seen through a NOTIFY_SOCKET of our own.
 * READY=1 only once every child is up; WATCHDOG=1 while they stay up
 * (WATCHDOG_USEC set); STOPPING=1 on SIGTERM, children stopped with it;
 * children restarted after kill -9 or when silent; SIGKILL is not a
 * crash (no quarantine); a worker that cannot start delays READY and
 * quarantines nothing; SIGHUP journals changed rule settings.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "journal.h"

/* Position of the first s in jicengd's log, -1 if absent. */
static long
s_log_pos(struct hd *d, const char *s)
{
	char *text = h_slurp(d->log, NULL);
	const char *p = text ? strstr(text, s) : NULL;
	long pos = p ? (long)(p - text) : -1;
	free(text);
	return pos;
}

static void
test_ready_and_stopping(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	int64_t t0 = now_mono_ms();
	assert_int_equal(hd_start(d), 0);
	assert_int_equal(hd_notify_wait(d, "READY=1", H_READY_MS), 0);
	fprintf(stderr, "  READY=1 after %lld ms\n", (long long)(now_mono_ms() - t0));

	/* Every child is running, has said so, and the query server answers. */
	static const char *const domains[] = { "membership", "meetings", "funds" };
	pid_t children[4] = { hd_child(d, "membership"), hd_child(d, "meetings"),
		hd_child(d, "funds"), hd_child(d, "query") };
	long ready = s_log_pos(d, "jicengd: ready");
	assert_true(ready > 0);
	assert_true(s_log_pos(d, "query: serving queries") < ready);
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(r->stats->n_workers, 3);
	for (int i = 0; i < 3; i++) {
		char started[64];
		snprintf(started, sizeof started, "worker/%s: started at cursor", domains[i]);
		assert_true(s_log_pos(d, started) >= 0);
		assert_true(s_log_pos(d, started) < ready);
		assert_string_equal(r->stats->workers[i]->domain, domains[i]);
	}
	hq_free(r);
	/* READY=1 is said once. */
	assert_int_equal(hd_notify_count(d, "READY=1", 500), 0);

	/* SIGTERM: STOPPING=1, a clean exit, and no child left behind. */
	pid_t pid = d->pid;
	hq_reset(d);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(hd_notify_wait(d, "STOPPING=1", 5000), 0);
	int status = hd_stop(d, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (int i = 0; i < 4; i++)
		assert_true(children[i] > 0 && h_pid_gone(children[i]));
	assert_true(hd_log_has(d, "jicengd: stopped"));
	hd_pass(d);
}

static void
test_sigint_stops(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	pid_t worker = hd_child(d, "membership");
	assert_int_equal(kill(d->pid, SIGINT), 0);
	assert_int_equal(hd_notify_wait(d, "STOPPING=1", 5000), 0);
	int status = hd_stop(d, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(h_pid_gone(worker));
	hd_pass(d);
}

static void
test_watchdog(void **state)
{
	struct hd_opts o = { .env = (const char *[]){ "WATCHDOG_USEC=2000000", NULL } };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	/* Half the interval: about one a second. */
	int n = hd_notify_count(d, "WATCHDOG=1", 3500);
	fprintf(stderr, "  %d WATCHDOG=1 in 3.5 s\n", n);
	assert_true(n >= 2);
	assert_true(n <= 8);
	hd_pass(d);
}

/* Without WATCHDOG_USEC, no WATCHDOG=1. */
static void
test_no_watchdog_without_env(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hd_notify_count(d, "WATCHDOG=1", 1500), 0);
	hd_pass(d);
}

/* A silent child (SIGSTOPped) is killed after heartbeat_ms x 10 and
 * restarted; the watchdog resumes once it is back. */
static void
test_silent_child_restarted(void **state)
{
	struct hd_opts o = { .config = "[daemon]\nheartbeat_ms = 100\n", 
	    .env = (const char *[]){ "WATCHDOG_USEC=1000000", NULL } };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	pid_t worker = hd_child(d, "membership");
	assert_true(worker > 0);
	assert_int_equal(kill(worker, SIGSTOP), 0);
	pid_t next = hd_child_wait_new(d, "membership", worker, 8000);
	assert_true(next > 0);
	assert_true(hd_log_wait(d, "silent for", 5000));
	hd_notify_drain(d);
	assert_int_equal(hd_notify_wait(d, "WATCHDOG=1", 5000), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "sil"), 0);
	hc_close(sock);
	hd_pass(d);
}

/* kill -9 of each child: restarted, the death logged with role and
 * signal; SIGKILL is not a crash, so nothing is quarantined. */
static void
test_kill9_children_restarted(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "k9"), 0);

	for (int round = 0; round < 4; round++) {
		char eid[32], mid[32], how[96];
		pid_t worker = hd_child(d, "membership");
		assert_true(worker > 0);
		snprintf(eid, sizeof eid, "k9-%d", round);
		snprintf(mid, sizeof mid, "k9m-%d", round);
		struct hmsg m = hm_member(eid, mid, H_ORG_BRANCH, "党员", NULL);
		assert_int_equal(hc_send(sock, &m), 0);
		assert_int_equal(kill(worker, SIGKILL), 0);
		Ack *a = hc_recv(sock, H_ACK_MS);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
		hc_ack_free(a);
		hm_free(&m);
		assert_true(hd_child_wait_new(d, "membership", worker, 5000) > 0);
		snprintf(how, sizeof how, "membership (pid %d) killed by signal 9", (int)worker);
		assert_true(hd_log_has(d, how));
	}
	pid_t query = hd_child(d, "query");
	assert_true(query > 0);
	assert_int_equal(kill(query, SIGKILL), 0);
	assert_true(hd_child_wait_new(d, "query", query, 5000) > 0);
	hq_reset(d);
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(r->stats->n_quarantined, 0);
	hq_free(r);
	assert_false(hd_log_has(d, "quarantined"));
	r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, 4);
	hq_free(r);
	hc_close(sock);
	hd_pass(d);
}

/* A worker that cannot even open its environment: READY=1 must wait for
 * it, and its failures at start-up are not crashes on an event, so no
 * event may be quarantined for them. Once the cause is gone it comes up. */
static void
test_worker_cannot_start(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	char path[256];
	assert_int_equal(mkdir(hd_derived(d), 0750), 0);
	snprintf(path, sizeof path, "%s/state", hd_derived(d));
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(path, sizeof path, "%s/state/membership.mdb", hd_derived(d));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 4096; i++)
		fputs("not an LMDB file\n", f);
	fclose(f);

	assert_int_equal(hd_start(d), 0);
	assert_int_not_equal(hd_notify_wait(d, "READY=1", 3000), 0);
	assert_true(d->pid > 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(hd_notify_wait(d, "READY=1", 15000), 0);
	assert_false(hd_log_has(d, "quarantined"));
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(r->stats->n_quarantined, 0);
	hq_free(r);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "cs"), 0);
	hc_close(sock);
	hd_pass(d);
}

/* SIGHUP rereads the config; changed rule settings are journaled as
 * RulesChanged and apply to the events after it. */
static void
test_sighup_rules(void **state)
{
	struct hd_opts o = { .config = "[rules]\nmember.min_admission_age = 18\n" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "hup"), 0);
	uint64_t len0 = hq_journal_length(d);

	hd_config_write(d, "[rules]\nmember.min_admission_age = 25\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	for (int i = 0; i < 50 && hd_log_count(d, "journaled RulesChanged at seq") < 2; i++)
		h_sleep_ms(100);
	assert_int_equal(hd_log_count(d, "journaled RulesChanged at seq"), 2);
	assert_true(hq_journal_length(d) > len0);

	/* Born 2000-01-01, admitted 2024-06-01: 24, under the new 25. */
	Envelope e;
	Jiceng__V1__MemberAdmitted ad = JICENG__V1__MEMBER_ADMITTED__INIT;
	hm_envelope(&e, "hup-young", NULL);
	ad.member_id = "hup-young";
	ad.org_id = H_ORG_BRANCH;
	ad.name = "青年";
	ad.birth_date = "2000-01-01";
	ad.admitted_at = 1717171200000LL;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED;
	e.member_admitted = &ad;
	struct hmsg m = hm_pack(&e);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__REJECTED, "R2"));
	hm_free(&m);
	/* A bad config on reload is refused and the running one kept. */
	hd_config_write(d, "[rules]\nno.such_key = 1\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	assert_true(hd_log_wait(d, "reload refused", 5000));
	assert_true(d->pid > 0);
	struct hmsg ok = hm_member("hup-ok", "hup-ok", H_ORG_BRANCH, "党员", NULL);
	assert_true(hc_expect(sock, &ok, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&ok);
	hc_close(sock);
	hd_pass(d);
}

/* --workers on the command line: every listed worker runs (each embeds
 * the membership module and folds the whole journal), READY=1 waits for
 * all of them, and stats reports each one's cursor. */
static void
test_workers_option(void **state)
{
	struct hd_opts o = { .workers = "membership,meetings,funds" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	assert_true(hd_child(d, "membership") > 0);
	assert_true(hd_child(d, "meetings") > 0);
	assert_true(hd_child(d, "funds") > 0);
	assert_true(hd_child(d, "query") > 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "wo"), 0);
	struct hmsg m = hm_member("wo-m", "wo-m", H_ORG_BRANCH, "党员", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&m);
	hc_close(sock);
	bool all = false;
	for (int i = 0; i < 50 && !all; i++, h_sleep_ms(100)) {
		QueryReply *r = hq_stats(d);
		assert_non_null(r);
		int caught = 0;
		for (size_t k = 0; k < r->stats->n_workers; k++)
			caught += r->stats->workers[k]->cursor == r->stats->journal_length;
		all = r->stats->n_workers == 3 && caught == 3;
		if (i == 49 || all) {
			fprintf(stderr, "  stats lists %zu workers:", r->stats->n_workers);
			for (size_t k = 0; k < r->stats->n_workers; k++)
				fprintf(stderr, " %s@%llu", r->stats->workers[k]->domain,
				    (unsigned long long)r->stats->workers[k]->cursor);
			fprintf(stderr, " (journal %llu)\n", (unsigned long long)r->stats->journal_length);
		}
		hq_free(r);
	}
	assert_true(all);
	hd_pass(d);
}

/* The kinds of the reserved events in the journal, in order ('R' for
 * RulesChanged, 'T' for Tick), into out. */
static void
s_reserved_kinds(struct hd *d, char *out, size_t len)
{
	struct journal *j;
	MDB_txn *txn;
	uint64_t last;
	size_t n = 0;
	assert_int_equal(journal_open(&j, d->dir, 64, 65536, true), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(journal_last_seq(j, txn, &last), 0);
	for (uint64_t seq = 1; seq <= last && n + 1 < len; seq++) {
		struct journal_record rec;
		assert_int_equal(journal_get(j, txn, seq, &rec), 0);
		if (rec.kind == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED)
			out[n++] = 'R';
		else if (rec.kind == JICENG__V1__ENVELOPE__EVENT_TICK)
			out[n++] = 'T';
	}
	out[n] = 0;
	mdb_txn_abort(txn);
	journal_close(&j);
}

/* At start jicengd journals the rule settings (only when they differ from
 * the journal's) and a Tick, before any client event (DOMAIN.md, deterministic
 * time; DESIGN.md, rules reach workers through the journal). */
static void
test_startup_journals_rules_and_tick(void **state)
{
	struct hd *d = hd_new(NULL);
	char kinds[16];
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	assert_true(hq_journal_length(d) >= 2);
	assert_true(hd_stop(d, 10000) >= 0);
	s_reserved_kinds(d, kinds, sizeof kinds);
	assert_string_equal(kinds, "RT");
	/* Restarted with the same rules: a Tick, no second RulesChanged. */
	assert_int_equal(hd_up(d), 0);
	assert_true(hd_stop(d, 10000) >= 0);
	s_reserved_kinds(d, kinds, sizeof kinds);
	assert_string_equal(kinds, "RTT");
	hd_pass(d);
}

int
integ_supervisor(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready_and_stopping, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_sigint_stops, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_watchdog, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_no_watchdog_without_env, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_silent_child_restarted, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_kill9_children_restarted, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_worker_cannot_start, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_sighup_rules, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_workers_option, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_startup_journals_rules_and_tick, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("supervisor", tests, NULL, NULL);
}
