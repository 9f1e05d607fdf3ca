/*
 * 30-crash: nothing acknowledged is lost and nothing is applied twice,
 * whatever dies. kill -9 of the membership worker in the middle of a
 * pipelined stream (three times); kill -9 of jicengd under load, a restart
 * on the same data directory and a client that resends what it had no ack
 * for (three times);
 * and a poison event (JICENG_FAULT_CRASH_EVENT) that the supervisor
 * quarantines after quarantine_after crashes.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ worker kill -9 */

#define WK_N 3000         /* originals */
#define WK_RESEND_EVERY 97
#define WK_BAD_EVERY 113
#define WK_KILLS 3

struct wk {
	struct hd *d;
	int sends[WK_N];      /* how often each original's bytes were sent */
	int acks[WK_N];       /* acks received per original */
	int accepted[WK_N];   /* ACCEPTED acks */
	int dups[WK_N];
	int rejected[WK_N];
	uint64_t seq[WK_N];   /* the seq of the first ack */
	int bad_acks;         /* acks naming no event of ours, or inconsistent */
	pid_t killed[WK_KILLS];
	int nkilled;
	int acked_at_kill;        /* acks when the last kill came */
};

static int
s_index(const char *event_id, const char *prefix)
{
	int i;
	size_t n = strlen(prefix);
	if (strncmp(event_id, prefix, n) != 0 || sscanf(event_id + n, "%d", &i) != 1)
		return -1;
	return i;
}

static void
s_wk_ack(struct hpump *p, Ack *a)
{
	struct wk *w = p->arg;
	int i = s_index(a->event_id, "wk-");
	if (i < 0 || i >= WK_N) {
		fprintf(stderr, "unexpected ack for '%s': %s/%s\n", a->event_id,
		    codec_verdict_name(a->verdict), a->code);
		w->bad_acks++;
		return;
	}
	if (w->acks[i]++ == 0)
		w->seq[i] = a->seq;
	else if (a->seq != w->seq[i]) {
		fprintf(stderr, "%s: seq %llu then %llu\n", a->event_id,
		    (unsigned long long)w->seq[i], (unsigned long long)a->seq);
		w->bad_acks++;
	}
	switch (a->verdict) {
	case JICENG__V1__VERDICT__ACCEPTED: w->accepted[i]++; break;
	case JICENG__V1__VERDICT__DUPLICATE: w->dups[i]++; break;
	case JICENG__V1__VERDICT__REJECTED:
		w->rejected[i]++;
		if (strcmp(a->code, "UNKNOWN_ORG") != 0 || i % WK_BAD_EVERY != 0) {
			fprintf(stderr, "%s: REJECTED %s (%s)\n", a->event_id, a->code, a->reason);
			w->bad_acks++;
		}
		break;
	default:
		fprintf(stderr, "%s: %s %s (%s)\n", a->event_id, codec_verdict_name(a->verdict),
		    a->code, a->reason);
		w->bad_acks++;
	}
}

/* kill -9 the worker at 1000 acks, and again every 600 acks, WK_KILLS
 * times in all (waiting for each restart first). */
static void
s_wk_kill(struct hpump *p)
{
	struct wk *w = p->arg;
	pid_t pid = w->nkilled ? hd_child_wait_new(w->d, "membership", w->killed[w->nkilled - 1], 5000)
	    : hd_child(w->d, "membership");
	if (!pid)
		return;
	kill(pid, SIGKILL);
	w->killed[w->nkilled++] = pid;
	w->acked_at_kill = p->acked;
	if (w->nkilled < WK_KILLS) {
		p->hooked = false;
		p->hook_at = p->acked + 600;
	}
}

static void
test_worker_kill9_midstream(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "wk"), 0);

	static struct wk w;
	static struct hmsg msgs[WK_N];
	static struct hmsg *order[WK_N + WK_N / WK_RESEND_EVERY + 1];
	int nsend = 0;
	memset(&w, 0, sizeof w);
	w.d = d;
	for (int i = 0; i < WK_N; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "wk-%05d", i);
		snprintf(mid, sizeof mid, "wkm-%05d", i);
		msgs[i] = hm_member(eid, mid, i % WK_BAD_EVERY == 0 && i ? "no-such-org" : H_ORG_BRANCH,
		    "流水党员", NULL);
		order[nsend++] = &msgs[i];
		w.sends[i]++;
		if (i % WK_RESEND_EVERY == 0 && i >= 50) {
			order[nsend++] = &msgs[i - 50];
			w.sends[i - 50]++;
		}
	}
	struct hpump p = {
		.sock = sock, .send = order, .nsend = nsend, .window = 300,
		.on_ack = s_wk_ack, .hook_at = 1000, .hook = s_wk_kill, .arg = &w,
	};
	assert_int_equal(hp_run(&p, 90000), 0);
	assert_int_equal(w.nkilled, WK_KILLS);
	assert_true(w.acked_at_kill < nsend - 200);
	assert_true(hd_child_wait_new(d, "membership", w.killed[WK_KILLS - 1], 5000) > 0);
	/* No ack beyond one per send. */
	Ack *extra = hc_recv(sock, 500);
	if (extra)
		fail_msg("an extra ack for %s (%s)", extra->event_id, codec_verdict_name(extra->verdict));
	assert_int_equal(w.bad_acks, 0);

	int distinct = 0;
	for (int i = 0; i < WK_N; i++) {
		if (w.acks[i] != w.sends[i])
			fail_msg("wk-%05d: sent %d times, %d acks", i, w.sends[i], w.acks[i]);
		assert_int_equal(w.accepted[i] + w.rejected[i], 1);
		assert_int_equal(w.dups[i], w.sends[i] - 1);
		distinct += w.accepted[i];
	}
	assert_int_equal(distinct, WK_N - (WK_N - 1) / WK_BAD_EVERY);

	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->org->member_count, distinct);
	hq_free(r);
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, NULL, NULL), distinct);
	r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(hq_stat_count(r, true, "member_registered"), distinct);
	hq_free(r);
	for (int k = 0; k < WK_KILLS; k++) {
		char how[96];
		snprintf(how, sizeof how, "membership (pid %d) killed by signal 9", (int)w.killed[k]);
		assert_true(hd_log_has(d, how));
	}

	for (int i = 0; i < WK_N; i++)
		hm_free(&msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

/* ------------------------------------------------------------ jicengd kill -9 */

#define DK_N 2000
#define DK_KILLS 3

struct dk {
	struct hd *d;
	int acks[DK_N];
	Jiceng__V1__Verdict verdict[DK_N];
	uint64_t seq[DK_N];
	int bad;
	int dups;             /* resends already journaled before the kill */
	bool term;            /* stop with SIGTERM instead of kill -9 */
	bool seen[DK_N];      /* in the roster after the restart */
};

static void
s_dk_ack(struct hpump *p, Ack *a)
{
	struct dk *k = p->arg;
	int i = s_index(a->event_id, "dk-");
	if (i < 0 || i >= DK_N) {
		fprintf(stderr, "unexpected ack for '%s'\n", a->event_id);
		k->bad++;
		return;
	}
	k->acks[i]++;
	k->dups += a->verdict == JICENG__V1__VERDICT__DUPLICATE;
	k->verdict[i] = a->verdict;
	k->seq[i] = a->seq;
	if (a->verdict != JICENG__V1__VERDICT__ACCEPTED &&
	    !(a->verdict == JICENG__V1__VERDICT__DUPLICATE &&
	    a->original_verdict == JICENG__V1__VERDICT__ACCEPTED)) {
		fprintf(stderr, "%s: %s/%s (%s)\n", a->event_id, codec_verdict_name(a->verdict),
		    a->code, a->reason);
		k->bad++;
	}
}

/* Run once per pump: the next cycle's pump re-arms it. */
static void
s_dk_kill(struct hpump *p)
{
	struct dk *k = p->arg;
	if (k->term) {
		if (hd_stop(k->d, 10000) != 0)
			k->bad++;
	} else {
		hd_kill9(k->d);
	}
	p->stop = true;
}

static void
s_dk_seen(void *arg, const char *member_id)
{
	struct dk *k = arg;
	int i = s_index(member_id, "dkm-");
	if (i >= 0 && i < DK_N) {
		if (k->seen[i])
			k->bad++;
		k->seen[i] = true;
	}
}

static void
s_daemon_stop_under_load(void **state, bool term)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "dk"), 0);

	static struct dk k;
	static struct hmsg msgs[DK_N];
	static struct hmsg *order[DK_N];
	memset(&k, 0, sizeof k);
	k.d = d;
	k.term = term;
	hm_branch_members(msgs, order, DK_N, "dk", "断电党员");
	/* Three times: stream what has no ack yet, kill -9 jicengd after 500
	 * more acks, restart on the same data directory; the client resends
	 * everything it had no ack for, with the same bytes. Then finish. */
	int acked_before = 0, nresend = 0;
	for (int cycle = 0; cycle <= DK_KILLS; cycle++) {
		int n = 0;
		for (int i = 0; i < DK_N; i++)
			if (!k.acks[i])
				order[n++] = &msgs[i];
		if (cycle > 0)
			nresend += n;
		struct hpump p = {
			.sock = sock, .send = order, .nsend = n, .window = 400,
			.on_ack = s_dk_ack, .arg = &k,
			.hook_at = cycle < DK_KILLS ? 500 : 0, .hook = s_dk_kill,
		};
		int rc = hp_run(&p, 60000);
		assert_int_equal(k.bad, 0);
		if (cycle == DK_KILLS) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, 1);
		assert_int_equal(d->pid, 0);
		assert_true(p.sent > p.acked);
		hc_close(sock);
		hq_reset(d);
		assert_int_equal(hd_up(d), 0);
		sock = hc_connect(d);
	}
	uint64_t seq_before[DK_N];
	for (int i = 0; i < DK_N; i++) {
		assert_int_equal(k.acks[i], 1);
		seq_before[i] = k.seq[i];
		acked_before += k.verdict[i] == JICENG__V1__VERDICT__ACCEPTED;
	}

	/* Every event acknowledged (before a kill or after) is there, with the
	 * seq it was acknowledged with: a resend now is a DUPLICATE of it. */
	int checked = 0;
	for (int i = 0; i < DK_N; i += 7) {
		if (!seq_before[i])
			continue;
		Ack *a = hc_call(sock, &msgs[i]);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
		assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
		assert_int_equal(a->seq, seq_before[i]);
		hc_ack_free(a);
		checked++;
	}
	assert_true(checked > 0);

	/* Each member exactly once. */
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, s_dk_seen, &k), DK_N);
	assert_int_equal(k.bad, 0);
	for (int i = 0; i < DK_N; i++)
		if (!k.seen[i])
			fail_msg("member dkm-%05d is missing after the restart (acked before: %s)", i,
			    seq_before[i] ? "yes" : "no");
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, DK_N);
	hq_free(r);
	r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(hq_stat_count(r, true, "member_registered"), DK_N);
	hq_free(r);
	fprintf(stderr, "  (%d %s; %d ACCEPTED; %d resent, %d of them already journaled)\n",
	    DK_KILLS, term ? "SIGTERMs" : "kill -9s", acked_before, nresend, k.dups);
	for (int i = 0; i < DK_N; i++)
		hm_free(&msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

static void
test_daemon_kill9_under_load(void **state)
{
	s_daemon_stop_under_load(state, false);
}

/* The same with a clean stop (SIGTERM, exit 0) under load: acks still owed
 * are lost with the connection, never the events. */
static void
test_daemon_sigterm_under_load(void **state)
{
	s_daemon_stop_under_load(state, true);
}

/* The dedupe index takes a township's keys 32 at a time: keys of the last
 * events wait in the broker's memory. A kill -9 loses that memory; the next
 * start reads them back from the journal, so a resend of an acknowledged
 * event is still a DUPLICATE of its seq, and nothing is journaled twice. */
#define RB_N 10
static void
test_daemon_kill9_keys_read_back(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	struct hmsg msgs[3 + RB_N + 1];
	uint64_t seqs[3 + RB_N + 1];
	int n = 0;
	hm_org_tree(msgs, "rb");
	n = 3;
	for (int i = 0; i < RB_N; i++) {
		char id[32], member[32];
		snprintf(id, sizeof id, "rb-m%02d", i);
		snprintf(member, sizeof member, "rb-member-%02d", i);
		msgs[n++] = hm_member(id, member, H_ORG_BRANCH, "回读党员", NULL);
	}
	msgs[n++] = hm_member_in(H_TOWNSHIP2, "rb-m00", "rb-member-tw2", H_ORG_BRANCH, "回读党员", NULL);
	for (int i = 0; i < n; i++) {
		Ack *a = hc_call(sock, &msgs[i]);
		assert_non_null(a);
		assert_int_not_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
		assert_int_not_equal(a->verdict, JICENG__V1__VERDICT__RETRY_LATER);
		assert_true(a->seq > 0);
		seqs[i] = a->seq;
		hc_ack_free(a);
	}
	hc_close(sock);
	hd_kill9(d);
	hq_reset(d);
	assert_int_equal(hd_up(d), 0);
	char line[64];
	snprintf(line, sizeof line, ", %d dedupe keys read back", n);
	assert_true(hd_log_has(d, line));
	uint64_t length = hq_journal_length(d);  /* with what a start journals */
	sock = hc_connect(d);
	for (int i = 0; i < n; i++) {
		Ack *a = hc_call(sock, &msgs[i]);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
		assert_int_equal(a->seq, seqs[i]);
		hc_ack_free(a);
	}
	assert_int_equal(hq_journal_length(d), length);
	/* A clean stop writes every key: the next start reads none back. */
	hc_close(sock);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_equal(hd_log_count(d, ", 0 dedupe keys read back"), 1);
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hd_log_count(d, ", 0 dedupe keys read back"), 2);
	sock = hc_connect(d);
	Ack *a = hc_call(sock, &msgs[n - 1]);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->seq, seqs[n - 1]);
	hc_ack_free(a);
	for (int i = 0; i < n; i++)
		hm_free(&msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

/* ------------------------------------------------------------ quarantine */

static void
test_quarantine(void **state)
{
	enum { BEFORE = 10, AFTER = 20 };
	struct hd_opts o = { .env = (const char *[]){ "JICENG_FAULT_CRASH_EVENT=q-poison", NULL } };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "q"), 0);

	static struct hmsg msgs[BEFORE + 1 + AFTER];
	char eid[32], mid[32];
	int n = 0;
	for (int i = 0; i < BEFORE + AFTER; i++) {
		if (i == BEFORE)
			msgs[n++] = hm_member("q-poison", "qm-poison", H_ORG_BRANCH, "毒", NULL);
		snprintf(eid, sizeof eid, "q-%03d", i);
		snprintf(mid, sizeof mid, "qm-%03d", i);
		msgs[n++] = hm_member(eid, mid, H_ORG_BRANCH, "党员", NULL);
	}
	for (int i = 0; i < n; i++)
		assert_int_equal(hc_send(sock, &msgs[i]), 0);
	uint64_t poison_seq = 0;
	int accepted = 0;
	for (int got = 0; got < n; got++) {
		Ack *a = hc_recv(sock, 30000);
		if (!a)
			fail_msg("only %d of %d acks while the worker crash-loops", got, n);
		if (strcmp(a->event_id, "q-poison") == 0) {
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
			assert_string_equal(a->code, "INTERNAL_ERROR");
			assert_true(a->seq > 0);
			poison_seq = a->seq;
		} else {
			if (a->verdict != JICENG__V1__VERDICT__ACCEPTED)
				fail_msg("%s: %s/%s", a->event_id, codec_verdict_name(a->verdict), a->code);
			accepted++;
		}
		hc_ack_free(a);
	}
	assert_int_equal(accepted, BEFORE + AFTER);
	assert_true(poison_seq > 0);

	/* It took quarantine_after (3) crashes at the same event. */
	assert_true(hd_log_count(d, "fault injection: crashing on event q-poison") >= 3);
	assert_true(hd_log_has(d, "quarantined event seq"));

	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(r->stats->n_quarantined, 1);
	assert_int_equal(r->stats->quarantined[0]->seq, poison_seq);
	assert_true(r->stats->quarantined[0]->reason[0] != 0);
	assert_int_equal(hq_stat_count(r, false, "INTERNAL_ERROR"), 1);
	hq_free(r);
	r = hq_member(d, "qm-poison");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, BEFORE + AFTER);
	hq_free(r);

	/* The answer is final: a resend is a DUPLICATE of the rejection, and the
	 * worker, now past it, takes new events. */
	Ack *a = hc_call(sock, &msgs[BEFORE]);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__REJECTED);
	assert_string_equal(a->code, "INTERNAL_ERROR");
	assert_int_equal(a->seq, poison_seq);
	hc_ack_free(a);
	struct hmsg later = hm_member("q-later", "qm-later", H_ORG_BRANCH, "后来", NULL);
	assert_true(hc_expect(sock, &later, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&later);

	/* A restart (the fault still armed) replays nothing and stays up. */
	hc_close(sock);
	assert_int_equal(hd_stop(d, 10000), 0);
	int crashes = hd_log_count(d, "fault injection");
	assert_int_equal(hd_up(d), 0);
	hq_reset(d);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	assert_int_equal(hd_log_count(d, "fault injection"), crashes);
	for (int i = 0; i < n; i++)
		hm_free(&msgs[i]);
	hd_pass(d);
}

int
integ_crash(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_kill9_midstream, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_kill9_under_load, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_sigterm_under_load, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_kill9_keys_read_back, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
