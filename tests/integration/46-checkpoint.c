/*
 * 46-checkpoint: the workers' state checkpoints (workers/checkpoint.h)
 * through the real daemon and its three workers, derived_dir apart from
 * the data dir, checkpoint_interval_s = 1. JICENG_FAULT_CHECKPOINT_HOLD
 * names a file whose presence holds every checkpoint after its copy is
 * written, before it is put in place.
 *
 * - Restore: 97-domains' mixed journal and one kept event of each domain;
 *   each worker's checkpoint at the journal's end; then, held back from
 *   the checkpoints, a tail of each domain's events; stop (the held copies
 *   are thrown away); the derived dir deleted; start: each worker restores
 *   its checkpoint at that cursor and applies the tail, every resend is a
 *   DUPLICATE with its original seq, and each state is byte for byte what
 *   `jicengctl rebuild` makes of the journal (mdb_dump -a -n); the rebuild
 *   removes the checkpoints.
 * - kill -9 of the meetings worker while it checkpoints: its previous
 *   checkpoint stays in place and is the one restored later, and its
 *   restart removes the stray .tmp.
 * - A checkpoint past the journal's end (the journal restored from an
 *   older backup) is removed with the warning and the journal applied from
 *   the start; so is one within the journal whose record at its cursor is
 *   another (the journal has grown again since, with other events).
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "civil.h"

#define S_ACC JICENG__V1__VERDICT__ACCEPTED
#define S_DUP JICENG__V1__VERDICT__DUPLICATE
#define S_EV(k) JICENG__V1__ENVELOPE__EVENT_##k
#define S_WAIT_MS 20000

static const char *const s_domains[] = { "membership", "meetings", "funds" };

static char s_hold_env[300];
static const char *s_env[2];

/* A daemon with derived_dir = DIR/derived and checkpoints every second,
 * up; its derived dir into derived, its checkpoint dir into ckdir. */
static struct hd *
s_up(void **state, char *derived, char *ckdir, size_t cap)
{
	struct hd_opts o = { .config = "" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	snprintf(derived, cap, "%s/derived", d->dir);
	snprintf(ckdir, cap, "%s/checkpoint", d->dir);
	hd_config_write(d, "[daemon]\nderived_dir = %s\ncheckpoint_interval_s = 1\n", derived);
	snprintf(s_hold_env, sizeof s_hold_env, "JICENG_FAULT_CHECKPOINT_HOLD=%s/hold", d->dir);
	s_env[0] = s_hold_env;
	s_env[1] = NULL;
	d->opts.env = s_env;
	assert_int_equal(hd_up(d), 0);
	return d;
}

static void
s_hold(struct hd *d, bool on)
{
	char path[256];
	snprintf(path, sizeof path, "%s/hold", d->dir);
	if (on)
		h_write_file(path, "held\n");
	else
		assert_int_equal(unlink(path), 0);
}

/* The number after `key` on each line of the log that holds `tag`: the
 * highest of them (0: none), and how many lines. */
static uint64_t
s_log_max(struct hd *d, const char *tag, const char *key, int *lines)
{
	char *log = h_slurp(d->log, NULL);
	uint64_t max = 0;
	*lines = 0;
	for (char *p = log; p && (p = strstr(p, tag)); p++) {
		char *eol = strchr(p, '\n'), *at = strstr(p, key);
		if (!at || (eol && at > eol))
			continue;
		uint64_t v = strtoull(at + strlen(key), NULL, 10);
		(*lines)++;
		if (v > max)
			max = v;
	}
	free(log);
	return max;
}

/* Wait until domain's worker logged a checkpoint at cursor >= seq. */
static void
s_wait_checkpoint(struct hd *d, const char *domain, uint64_t seq)
{
	char tag[64];
	int n;
	snprintf(tag, sizeof tag, "worker/%s: checkpoint ", domain);
	for (int64_t end = now_mono_ms() + h_ms(S_WAIT_MS); now_mono_ms() < end; h_sleep_ms(50))
		if (s_log_max(d, tag, " taken at cursor ", &n) >= seq)
			return;
	fail_msg("no checkpoint of %s at cursor %llu or after", domain, (unsigned long long)seq);
}

/* domain's restore line of this run (the log's only one for it): the
 * cursor, and the events it says are left to apply. */
static uint64_t
s_restored_at(struct hd *d, const char *domain, uint64_t *tail)
{
	char tag[64];
	int n;
	snprintf(tag, sizeof tag, "worker/%s: restored from checkpoint ", domain);
	uint64_t at = s_log_max(d, tag, " at cursor ", &n);
	if (n != 1)
		fail_msg("%d restore lines of %s, expected 1", n, domain);
	*tail = s_log_max(d, tag, "; applying the journal's ", &n);
	return at;
}

/* The cursor domain's seal in ckdir says. */
static uint64_t
s_seal_cursor(const char *ckdir, const char *domain)
{
	char path[320];
	struct checkpoint_seal s;
	snprintf(path, sizeof path, "%s/%s.seal", ckdir, domain);
	char *text = h_slurp(path, NULL);
	if (!text || checkpoint_seal_parse(text, &s) < 0)
		fail_msg("%s is missing or not a seal", path);
	free(text);
	return s.cursor;
}

static bool
s_exists(const char *dir, const char *domain, const char *suffix)
{
	char path[320];
	snprintf(path, sizeof path, "%s/%s%s", dir, domain, suffix);
	return access(path, F_OK) == 0;
}

static void
s_no_tmp(const char *ckdir)
{
	for (int i = 0; i < 3; i++) {
		assert_false(s_exists(ckdir, s_domains[i], ".mdb.tmp"));
		assert_false(s_exists(ckdir, s_domains[i], ".seal.tmp"));
	}
}

static void
s_rm(const char *path)
{
	char *rm[] = { "/bin/rm", "-rf", (char *)path, NULL };
	assert_int_equal(h_run(rm, NULL, NULL, 20000), 0);
}

static void
s_cp(const char *from, const char *to)
{
	char *cp[] = { "/bin/cp", "-a", (char *)from, (char *)to, NULL };
	assert_int_equal(h_run(cp, NULL, NULL, 20000), 0);
}

static void
s_stop(struct hd *d)
{
	assert_int_equal(hq_caught_up(d, S_WAIT_MS), 0);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
}

/* jiceng-ctl rebuild of domain in d's derived dir (jicengd stopped): the
 * state the worker left equals the rebuilt one, byte for byte. */
static void
s_rebuild_same(struct hd *d, const char *derived, const char *domain)
{
	char bin[512], err[256], before[256], after[256], name[64];
	snprintf(name, sizeof name, "%s.before", domain);
	hd_state_dump(d, derived, domain, name, before, sizeof before);
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(err, sizeof err, "%s/rebuild.log", d->dir);
	char *ctl[] = { bin, "rebuild", "--domain", (char *)domain, "--config", d->config,
		"--data-dir", d->dir, "-q", NULL };
	if (h_run(ctl, NULL, err, 60000) != 0)
		fail_msg("jicengctl rebuild --domain %s failed (see %s)", domain, err);
	snprintf(name, sizeof name, "%s.after", domain);
	hd_state_dump(d, derived, domain, name, after, sizeof after);
	if (!h_same_file(before, after))
		fail_msg("the restored %s state differs from its rebuild", domain);
}

/* ---------------------------------------------------------- events */

/* An event kept to be sent again: its message and first seq. */
struct kept {
	struct hmsg m;
	uint64_t seq;
};

static void
s_send_kept(void *sock, struct kept *k, struct hmsg m)
{
	k->m = m;
	Ack *a = hc_call(sock, &k->m);
	if (!a || a->verdict != S_ACC)
		fail_msg("%s: %s %s", m.id, a ? codec_verdict_name(a->verdict) : "no ack",
		    a ? a->reason : "");
	k->seq = a->seq;
	hc_ack_free(a);
}

static void
s_resend_dup(void *sock, struct kept *k)
{
	Ack *a = hc_call(sock, &k->m);
	if (!a || a->verdict != S_DUP || a->seq != k->seq || strcmp(a->code, "OK") != 0)
		fail_msg("resend of %s: %s seq %llu %s, expected DUPLICATE of seq %llu", k->m.id,
		    a ? codec_verdict_name(a->verdict) : "no ack",
		    a ? (unsigned long long)a->seq : 0ULL, a ? a->code : "",
		    (unsigned long long)k->seq);
	hc_ack_free(a);
	hm_free(&k->m);
}

/* A meeting of org with member present, a day ago. */
static struct hmsg
s_meeting(const char *event_id, const char *meeting_id, const char *org, const char *member)
{
	Jiceng__V1__MeetingHeld e = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__MeetingType types[1] = { JICENG__V1__MEETING_TYPE__PARTY_LECTURE };
	char *present[1] = { (char *)member };
	e.meeting_id = (char *)meeting_id;
	e.org_id = (char *)org;
	e.n_types = 1;
	e.types = types;
	e.held_at = now_wall_ms() - 86400000LL;
	e.topic = "学习贯彻";
	e.lecturer = "支部书记";
	e.n_attendee_ids = 1;
	e.attendee_ids = present;
	return hm_event(event_id, NULL, S_EV(MEETING_HELD), &e);
}

/* member's dues of this month. */
static struct hmsg
s_dues(const char *event_id, const char *member)
{
	Jiceng__V1__DuesPaid e = JICENG__V1__DUES_PAID__INIT;
	e.member_id = (char *)member;
	e.month = civil_cst_month(now_wall_ms());
	e.amount_fen = 100;
	e.payer_member_id = "";
	e.paid_at = now_wall_ms() - 1000;
	return hm_event(event_id, NULL, S_EV(DUES_PAID), &e);
}

/* A branch ck-b-PREFIX under H_ORG_VILLAGE with member ck-m-PREFIX, its
 * meeting and the member's dues: one event of each domain, kept in k[4]. */
static void
s_each_domain(void *sock, const char *prefix, struct kept k[4])
{
	char eid[4][40], org[32], member[32], meeting[32];
	for (int i = 0; i < 4; i++)
		snprintf(eid[i], sizeof eid[i], "ck-%s-%d", prefix, i);
	snprintf(org, sizeof org, "ck-b-%s", prefix);
	snprintf(member, sizeof member, "ck-m-%s", prefix);
	snprintf(meeting, sizeof meeting, "ck-mt-%s", prefix);
	s_send_kept(sock, &k[0], hm_org(eid[0], org, JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    H_ORG_TOWNSHIP, org));
	s_send_kept(sock, &k[1], hm_member(eid[1], member, org, "党员", NULL));
	s_send_kept(sock, &k[2], s_meeting(eid[2], meeting, org, member));
	s_send_kept(sock, &k[3], s_dues(eid[3], member));
}

/* ---------------------------------------------------------- tests */

static void
test_checkpoint_restore(void **state)
{
	char derived[256], ckdir[256];
	struct kept before[4], tail[4];
	uint64_t at, left;
	struct hd *d = s_up(state, derived, ckdir, sizeof derived);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "dm"), 0);
	hc_domains_mixed(sock);
	s_each_domain(sock, "a", before);
	uint64_t taken = before[3].seq;
	for (int i = 0; i < 3; i++)
		s_wait_checkpoint(d, s_domains[i], taken);

	s_hold(d, true);
	s_each_domain(sock, "b", tail);
	uint64_t more = hc_members(sock, "ckt", "ck-b-b", 0, 20);
	assert_true(more > tail[3].seq);
	hc_close(sock);
	s_stop(d);
	s_no_tmp(ckdir);
	for (int i = 0; i < 3; i++)
		assert_int_equal(s_seal_cursor(ckdir, s_domains[i]), taken);

	s_rm(derived);
	s_hold(d, false);
	int from_start = hd_log_count(d, "does not exist: applying");
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hd_log_count(d, "does not exist: applying"), from_start);
	for (int i = 0; i < 3; i++) {
		at = s_restored_at(d, s_domains[i], &left);
		assert_int_equal(at, taken);
		assert_true(left >= more - taken);   /* and the Tick of this start, if journaled by then */
	}
	assert_int_equal(hq_caught_up(d, S_WAIT_MS), 0);
	sock = hc_connect(d);
	for (int i = 0; i < 4; i++) {
		s_resend_dup(sock, &before[i]);
		s_resend_dup(sock, &tail[i]);
	}
	hc_close(sock);
	s_stop(d);
	for (int i = 0; i < 3; i++) {
		s_rebuild_same(d, derived, s_domains[i]);
		assert_false(s_exists(ckdir, s_domains[i], ".mdb"));
		assert_false(s_exists(ckdir, s_domains[i], ".seal"));
	}
	hd_pass(d);
}

static void
test_checkpoint_kill9(void **state)
{
	char derived[256], ckdir[256], line[400];
	uint64_t left;
	struct hd *d = s_up(state, derived, ckdir, sizeof derived);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "k"), 0);
	uint64_t first = hc_members(sock, "k1", H_ORG_BRANCH, 0, 30);
	assert_true(first > 0);
	s_wait_checkpoint(d, "meetings", first);

	s_hold(d, true);
	assert_true(hc_members(sock, "k2", H_ORG_BRANCH, 0, 10) > first);
	hc_close(sock);
	/* The copy is written or being written: the checkpoint under way. */
	for (int64_t end = now_mono_ms() + h_ms(S_WAIT_MS);
	    !s_exists(ckdir, "meetings", ".mdb.tmp"); h_sleep_ms(20))
		if (now_mono_ms() > end)
			fail_msg("the meetings worker did not begin a checkpoint");
	pid_t old = hd_child(d, "meetings");
	assert_true(old > 0);
	assert_int_equal(kill(old, SIGKILL), 0);
	assert_true(hd_child_wait_new(d, "meetings", old, S_WAIT_MS) > 0);
	snprintf(line, sizeof line, "removed %s/meetings.mdb.tmp, left by a checkpoint that did "
	    "not finish", ckdir);
	assert_true(hd_log_wait(d, line, S_WAIT_MS));
	assert_int_equal(s_seal_cursor(ckdir, "meetings"), first);
	s_stop(d);
	s_no_tmp(ckdir);
	assert_int_equal(s_seal_cursor(ckdir, "meetings"), first);

	s_rm(derived);
	s_hold(d, false);
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(s_restored_at(d, "meetings", &left), first);
	assert_true(left >= 10);
	s_stop(d);
	s_rebuild_same(d, derived, "meetings");
	hd_pass(d);
}

static void
test_checkpoint_not_this_journal(void **state)
{
	char derived[256], ckdir[256], journal[256], old[256], saved[256], path[300];
	struct hd *d = s_up(state, derived, ckdir, sizeof derived);
	snprintf(journal, sizeof journal, "%s/journal.mdb", d->dir);
	snprintf(old, sizeof old, "%s/journal.old", d->dir);
	snprintf(saved, sizeof saved, "%s/checkpoint.saved", d->dir);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "n"), 0);
	assert_true(hc_members(sock, "n1", H_ORG_BRANCH, 0, 10) > 0);
	hc_close(sock);
	s_stop(d);
	s_cp(journal, old);   /* the backup */

	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	uint64_t ahead = hc_members(sock, "n2", H_ORG_BRANCH, 0, 20);
	assert_true(ahead > 0);
	hc_close(sock);
	for (int i = 0; i < 3; i++)
		s_wait_checkpoint(d, s_domains[i], ahead);
	s_stop(d);
	s_cp(ckdir, saved);

	/* The journal restored from the backup, the derived files lost. */
	assert_int_equal(rename(old, journal), 0);
	snprintf(path, sizeof path, "%s-lock", journal);
	unlink(path);
	s_rm(derived);
	int from_start = hd_log_count(d, "does not exist: applying the journal's");
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hd_log_count(d, "past the journal's end"), 3);
	assert_int_equal(hd_log_count(d, "does not exist: applying the journal's"), from_start + 3);
	assert_int_equal(hd_log_count(d, "restored from checkpoint"), 0);
	/* Other events at the seqs the checkpoints had seen. */
	sock = hc_connect(d);
	assert_true(hc_members(sock, "n3", H_ORG_BRANCH, 0, 25) > ahead);
	hc_close(sock);
	s_stop(d);

	s_rm(ckdir);
	s_cp(saved, ckdir);
	s_rm(derived);
	assert_int_equal(hd_up(d), 0);
	snprintf(path, sizeof path, "was not taken from this journal (its record at seq %llu is "
	    "another)", (unsigned long long)ahead);
	assert_int_equal(hd_log_count(d, path), 3);
	assert_int_equal(hd_log_count(d, "restored from checkpoint"), 0);
	s_stop(d);
	s_rebuild_same(d, derived, "membership");
	hd_pass(d);
}

int
integ_checkpoint(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checkpoint_restore, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_kill9, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_not_this_journal, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
}
