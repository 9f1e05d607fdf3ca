/*
 * 99-tail: jicengctl resend-tail, which brings an old primary's unmirrored
 * tail into the new primary from the old primary's journal
 * (docs/operations.md, "What an unmirrored tail means"), against real
 * nats-server processes (hnats.h); the NATS test skips when nats-server is
 * not installed.
 *
 * - A primary with its mirror on, a standby following the stream (CURVE on,
 *   the county's key, the primary's ID blind-index key). NATS stops: the
 *   primary goes on journaling registrations with ID numbers (digested),
 *   one refused R4, and a reload's RulesChanged, all unmirrored (stats:
 *   mirror lag). The primary stops, NATS comes back, the standby catches up
 *   to the mirrored part and is promoted. resend-tail, refused while the
 *   old primary ran, takes the promotion seq from the new primary's stats
 *   and resends the tail with the county's key: every township event comes
 *   in (the members are there, R4 holds against their digests, the refused
 *   one is refused again), jicengd's own record is skipped; a second run
 *   answers every one DUPLICATE and journals nothing.
 * - Its errors: no journal, a journal still in use, a seq past its end,
 *   nothing to resend, no --data-dir, a bad --after, an ingest endpoint
 *   nobody answers, a node that was never a standby (no promotion in its
 *   stats), and a digest sent without the county's key (BAD_FIELD, named).
 */
#include "harness.h"
#include "hcurve.h"
#include "hnats.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "journal.h"

#define S_WORKERS "[daemon]\nworkers = membership,meetings,funds\n"
#define S_RULES "[rules]\ndues.max_months_back = 3\n"
#define S_PRE 10     /* registrations the stream carries */
#define S_TAIL 20    /* registrations with ID numbers in the unmirrored tail */

/* One test's processes, all stopped by the tear-down whatever happened. */
struct s_fix {
	struct hcurve c;       /* the new primary's keys and sockets */
	struct hnats *n;
	struct hd *p;          /* the old primary (plain sockets) */
	struct hd *s;          /* the standby, then the new primary (CURVE) */
	char pconf[512];
};

static int
s_setup(void **state)
{
	return hn_fixture_begin(state, sizeof(struct s_fix));
}

static int
s_teardown(void **state)
{
	struct s_fix *f = *state;
	if (!f)
		return 0;
	hcurve_close(&f->c);
	return hn_fixture_end(state, &f->n, (struct hd **const[]){ &f->s, &f->p, NULL });
}

/* ================================================================ helpers */

/* jicengctl resend-tail WORDS... (NULL-ended): its exit status; its stdout
 * in out->dir/tail.out, its stderr in tail.err. */
static int
s_resend(struct hd *out, ...)
{
	char bin[512], o[256], e[256];
	char *argv[32];
	int n = 0;
	va_list ap;
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(o, sizeof o, "%s/tail.out", out->dir);
	snprintf(e, sizeof e, "%s/tail.err", out->dir);
	argv[n++] = bin;
	argv[n++] = "resend-tail";
	va_start(ap, out);
	for (char *w; (w = va_arg(ap, char *)) && n < 31;)
		argv[n++] = w;
	va_end(ap);
	argv[n] = NULL;
	return h_run(argv, o, e, h_ms(60000));
}

/* Does out->dir/name (tail.out, tail.err) contain s? Prints it if not. */
static bool
s_said(struct hd *out, const char *name, const char *s)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", out->dir, name);
	char *text = h_slurp(path, NULL);
	bool has = text && strstr(text, s);
	if (!has)
		fprintf(stderr, "jicengctl resend-tail's %s: %s\n(wanted: %s)\n", name,
		    text ? text : "(nothing)", s);
	free(text);
	return has;
}

/* Records of jicengd's own (township "") in d's journal after seq after,
 * and its end; d stopped. The journal is closed again (resend-tail refuses
 * one a live process has open). */
static uint64_t
s_own_records(struct hd *d, uint64_t after, uint64_t *end)
{
	struct journal *j;
	MDB_txn *txn;
	struct journal_record r;
	uint64_t own = 0;
	assert_int_equal(journal_open(&j, d->dir, 64, 64, true), 0);
	assert_int_equal(journal_read_begin(j, &txn), 0);
	assert_int_equal(journal_last_seq(j, txn, end), 0);
	for (uint64_t q = after + 1; q <= *end; q++) {
		assert_int_equal(journal_get(j, txn, q, &r), 0);
		own += !*r.township_id;
	}
	mdb_txn_abort(txn);
	journal_close(&j);
	return own;
}

static QueryReply *
s_stats(struct s_fix *f, void *q)
{
	QueryReply *r = hcurve_stats(&f->c, q);
	if (r && (r->status != JICENG__V1__QUERY_STATUS__OK || !r->stats)) {
		hq_free(r);
		r = NULL;
	}
	return r;
}

/* Wait until the standby (its county query socket q) has journaled seq
 * end (0: whatever the stream holds) and follows with lag 0. */
static void
s_wait_following(struct s_fix *f, void *q, uint64_t end)
{
	int64_t until = now_mono_ms() + hn_ms(60000);
	char last[256] = "no stats";
	for (;;) {
		QueryReply *r = s_stats(f, q);
		if (r && r->stats->standby) {
			Jiceng__V1__StandbyStats *sb = r->stats->standby;
			snprintf(last, sizeof last, "journal %llu, state %s, stream end %llu, lag %llu (%s)",
			    (unsigned long long)r->stats->journal_length, sb->state,
			    (unsigned long long)sb->stream_end, (unsigned long long)sb->lag, sb->problem);
			uint64_t want = end ? end : sb->stream_end;
			bool done = r->stats->journal_length == want && sb->stream_end == want &&
			    sb->lag == 0 && strcmp(sb->state, "following") == 0;
			hq_free(r);
			if (done)
				return;
		} else {
			hq_free(r);
		}
		if (now_mono_ms() > until)
			fail_msg("the standby did not reach seq %llu: %s", (unsigned long long)end, last);
		h_sleep_ms(100);
	}
}

/* The standby: CURVE on, the county's key, following the primary's stream,
 * its mirror set up for after the promotion, the primary's ID
 * blind-index key copied in (operations.md, "Running the standby"). */
static void
s_standby_up(struct s_fix *f)
{
	char text[768], from[256], to[256];
	size_t len;
	snprintf(text, sizeof text, S_WORKERS "[standby]\nenabled = true\nservers = %s\n"
	    "primary = jiceng-a\n[mirror]\nenabled = true\nservers = %s\n", f->n->urls, f->n->urls);
	f->s = hcurve_daemon(&f->c, text);
	hcurve_key(&f->c, "county", AUTH_ROLE_COUNTY, NULL, true, NULL);
	snprintf(from, sizeof from, "%s/id-index.key", f->p->dir);
	snprintf(to, sizeof to, "%s/id-index.key", f->s->dir);
	char *key = h_slurp(from, &len);
	assert_non_null(key);
	FILE *out = fopen(to, "w");
	assert_non_null(out);
	assert_int_equal(fwrite(key, 1, len, out), len);
	assert_int_equal(fclose(out), 0);
	chmod(to, 0600);
	free(key);
	assert_int_equal(hd_up(f->s), 0);
}

/* The member's reply from the new primary: OK or NOT_FOUND as want. */
static void
s_member_is(struct s_fix *f, void *q, const char *member_id, bool want)
{
	QueryReply *r = hcurve_member(&f->c, q, member_id);
	assert_non_null(r);
	if ((r->status == JICENG__V1__QUERY_STATUS__OK) != want)
		fail_msg("member %s: %s %s", member_id, r->code, r->reason);
	hq_free(r);
}

/* ================================================================ the tail */

/* NATS down: the primary journals the tail, which stays unmirrored. The
 * events' ID numbers into ids; *mirrored gets the seq the stream holds
 * (what was mirrored before, a Tick on the hour included). Returns the
 * journal's end. */
static uint64_t
s_unmirrored_tail(struct s_fix *f, void *sock, uint64_t *mirrored, char ids[S_TAIL][19])
{
	uint64_t before = *mirrored;
	hn_stop(f->n, 0);
	for (int i = 0; i < S_TAIL; i++) {
		char ev[32], mid[32];
		snprintf(ev, sizeof ev, "tl-e-%d", i);
		snprintf(mid, sizeof mid, "tl-m-%d", i);
		h_idnum("19800101", (unsigned)i, ids[i]);
		struct hmsg m = hm_member(ev, mid, H_ORG_BRANCH, "尾部", ids[i]);
		assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
		hm_free(&m);
		if (i == S_TAIL / 2) {  /* a reload: jicengd's own record amid the tail */
			hd_config_write(f->p, "%s" S_RULES, f->pconf);
			assert_int_equal(kill(f->p->pid, SIGHUP), 0);
			for (int w = 0; w < 100 && hd_log_count(f->p, "journaled RulesChanged at seq") < 2; w++)
				h_sleep_ms(100);
			assert_int_equal(hd_log_count(f->p, "journaled RulesChanged at seq"), 2);
		}
	}
	struct hmsg dup = hm_member("tl-dup", "tl-m-dup", H_ORG_BRANCH, "重号", ids[3]);
	assert_true(hc_expect(sock, &dup, JICENG__V1__VERDICT__REJECTED, "R4"));
	hm_free(&dup);
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	QueryReply *r = hq_stats(f->p);
	assert_non_null(r);
	assert_non_null(r->stats->mirror);
	uint64_t end = r->stats->journal_length;
	*mirrored = r->stats->mirror->seq;
	assert_true(*mirrored >= before);
	assert_int_equal(r->stats->mirror->lag, end - *mirrored);
	assert_true(end >= *mirrored + S_TAIL + 2);
	hq_free(r);
	return end;
}

static void
test_tail_resent(void **state)
{
	struct s_fix *f = *state;
	static char ids[S_TAIL][19];
	char sk[256], pk[256], summary[512];
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start(1));
	snprintf(f->pconf, sizeof f->pconf, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n",
	    f->n->urls);
	struct hd_opts o = { .config = f->pconf };
	assert_non_null(f->p = hd_new(&o));
	assert_int_equal(hd_up(f->p), 0);
	void *sock = hc_connect(f->p);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "tl"), 0);
	assert_true(hc_members(sock, "tl-pre", H_ORG_BRANCH, 0, S_PRE) > 0);
	uint64_t mirrored = hn_wait_mirrored(f->p, 0, 30000);
	s_standby_up(f);
	void *q = hcurve_socket(&f->c, ZMQ_DEALER, "county", f->s->query, NULL);
	s_wait_following(f, q, 0);  /* a Tick on the hour may have come since */

	uint64_t end = s_unmirrored_tail(f, sock, &mirrored, ids);
	snprintf(sk, sizeof sk, "%s/county.key_secret", f->c.clients);
	snprintf(pk, sizeof pk, "%s", f->c.server_public);
	/* Not while the old primary runs. */
	assert_int_equal(s_resend(f->s, "--data-dir", f->p->dir, "--ingest", f->s->ingest,
	    "--after", "0", NULL), 1);
	assert_true(s_said(f->s, "tail.err", "is in use by pid"));
	assert_true(s_said(f->s, "tail.err", "stop that jicengd first"));
	hc_close(sock);
	hq_reset(f->p);
	assert_int_equal(hd_stop(f->p, 10000), 0);
	uint64_t stopped_end, own = s_own_records(f->p, mirrored, &stopped_end);
	assert_int_equal(stopped_end, end);
	assert_true(own >= 1);  /* the RulesChanged (and a Tick, on the hour) */
	uint64_t own_all = s_own_records(f->p, 0, &stopped_end);
	assert_int_equal(end - own_all, 3 + S_PRE + S_TAIL + 1);  /* every township event */

	/* NATS back, the standby has what the stream holds; promoted. */
	assert_int_equal(hn_restart(f->n, 0), 0);
	s_wait_following(f, q, mirrored);
	char bin[512], out[256];
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(out, sizeof out, "%s/promote.out", f->s->dir);
	char *pargv[] = { bin, "promote", "--data-dir", f->s->dir, NULL };
	assert_int_equal(h_run(pargv, out, out, h_ms(60000)), 0);
	s_member_is(f, q, "tl-m-0", false);

	/* The tail, from the promotion seq the new primary's stats give, with
	 * a progress line after each batch of answers. */
	assert_int_equal(s_resend(f->s, "--data-dir", f->p->dir, "--ingest", f->s->ingest,
	    "--query", f->s->query, "--key", sk, "--server-key", pk, "--progress-every", "0",
	    NULL), 0);
	assert_true(s_said(f->s, "tail.err", "resend-tail: at seq "));
	snprintf(summary, sizeof summary, " of %llu: %d accepted, 0 duplicate, 1 rejected (R4 1), 0 "
	    "retry later, 0 without an ack\n", (unsigned long long)end, S_TAIL);
	assert_true(s_said(f->s, "tail.err", summary));  /* the last, after the last answer */
	snprintf(summary, sizeof summary, "seqs %llu-%llu of %s/journal.mdb to %s: %llu events "
	    "resent (%llu of jicengd's own records skipped): %d accepted, 0 duplicate, 1 rejected "
	    "(R4 1), 0 retry later, 0 without an ack", (unsigned long long)mirrored + 1,
	    (unsigned long long)end, f->p->dir, f->s->ingest, (unsigned long long)(end - mirrored - own),
	    (unsigned long long)own, S_TAIL);
	assert_int_equal(end - mirrored - own, S_TAIL + 1);
	assert_true(s_said(f->s, "tail.out", summary));
	assert_true(s_said(f->s, "tail.out", "event tl-dup: REJECTED R4:"));
	for (int i = 0; i < S_TAIL; i++) {
		char mid[32];
		snprintf(mid, sizeof mid, "tl-m-%d", i);
		s_member_is(f, q, mid, true);
	}
	s_member_is(f, q, "tl-m-dup", false);
	/* The digests came over as the old primary made them: R4 holds. */
	void *county = hcurve_socket(&f->c, ZMQ_DEALER, "county", f->s->ingest, NULL);
	struct hmsg again = hm_member("tl-after", "tl-m-after", H_ORG_BRANCH, "再登记", ids[S_TAIL - 1]);
	assert_true(hc_expect(county, &again, JICENG__V1__VERDICT__REJECTED, "R4"));
	hm_free(&again);

	/* A second run: every one DUPLICATE, nothing journaled. */
	QueryReply *r = s_stats(f, q);
	assert_non_null(r);
	uint64_t length = r->stats->journal_length;
	hq_free(r);
	char path[256];
	snprintf(path, sizeof path, "%s/tail.err", f->s->dir);
	unlink(path);  /* h_run appends stderr */
	assert_int_equal(s_resend(f->s, "--data-dir", f->p->dir, "--ingest", f->s->ingest,
	    "--after", "0", "--key", sk, "--server-key", pk, "--quiet", NULL), 0);
	snprintf(summary, sizeof summary, "seqs 1-%llu of %s/journal.mdb to %s: %llu events "
	    "resent (%llu of jicengd's own records skipped): 0 accepted, %llu duplicate, 0 rejected, "
	    "0 retry later, 0 without an ack", (unsigned long long)end, f->p->dir, f->s->ingest,
	    (unsigned long long)(end - own_all), (unsigned long long)own_all,
	    (unsigned long long)(end - own_all));
	assert_true(s_said(f->s, "tail.out", summary));
	char *err = h_slurp(path, NULL);
	assert_null(err && strstr(err, "resend-tail: at seq") ? err : NULL);  /* --quiet */
	free(err);
	r = s_stats(f, q);
	assert_non_null(r);
	assert_int_equal(r->stats->journal_length, length);
	hq_free(r);
	hd_pass(f->p);
	hd_pass(f->s);
}

/* ================================================================ errors */

static void
test_tail_errors(void **state)
{
	struct s_fix *f = *state;
	char idn[19], path[256], seq[32], ep[64], said[256];
	assert_non_null(f->p = hd_new(NULL));
	assert_int_equal(hd_up(f->p), 0);
	void *sock = hc_connect(f->p);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "te"), 0);
	h_idnum("19750505", 7, idn);
	struct hmsg m = hm_member("te-id", "te-m-id", H_ORG_BRANCH, "有号", idn);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&m);
	hc_close(sock);

	assert_int_equal(s_resend(f->p, NULL), 2);
	assert_true(s_said(f->p, "tail.err", "--data-dir DIR (the old primary's data directory) is required"));
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--after", "x1", NULL), 2);
	assert_true(s_said(f->p, "tail.err", "bad value for --after: 'x1'"));
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--progress-every", "-1", NULL), 2);
	assert_true(s_said(f->p, "tail.err", "bad value for --progress-every: '-1'"));
	snprintf(path, sizeof path, "%s/nowhere", f->p->dir);
	assert_int_equal(s_resend(f->p, "--data-dir", path, "--after", "0", NULL), 1);
	assert_true(s_said(f->p, "tail.err", "no journal in"));
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--after", "0", NULL), 1);
	assert_true(s_said(f->p, "tail.err", "is in use by pid"));

	hq_reset(f->p);
	assert_int_equal(hd_stop(f->p, 10000), 0);
	uint64_t end, own = s_own_records(f->p, 0, &end);
	assert_int_equal(end - own, 4);
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)end + 1);
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--after", seq, NULL), 1);
	snprintf(said, sizeof said, "seq %s is past the end of %s/journal.mdb (seq %llu)", seq,
	    f->p->dir, (unsigned long long)end);
	assert_true(s_said(f->p, "tail.err", said));
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)end);
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--after", seq, NULL), 0);
	assert_true(s_said(f->p, "tail.out", "nothing to resend"));

	/* Nobody at the ingest endpoint. */
	int port = h_free_port();
	assert_true(port > 0);
	snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--after", "0", "--ingest", ep,
	    "--timeout", "300", "--retries", "1", NULL), 1);
	/* It gives up after the first event: the rest would only wait. */
	snprintf(said, sizeof said, "no ack from %s: is the new primary running there", ep);
	assert_true(s_said(f->p, "tail.err", said));
	assert_true(s_said(f->p, "tail.out", ": 1 events resent ("));
	assert_true(s_said(f->p, "tail.out", "skipped): 0 accepted, 0 duplicate, 0 rejected, "
	    "0 retry later, 1 without an ack"));
	assert_true(s_said(f->p, "tail.out", "no ack within 300 ms, sent 2 times"));

	/* A node that was never a standby; a digest without the county's key. */
	assert_non_null(f->s = hd_new(NULL));
	assert_int_equal(hd_up(f->s), 0);
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--ingest", f->s->ingest,
	    "--query", f->s->query, NULL), 1);
	assert_true(s_said(f->p, "tail.err", "it was never a standby"));
	assert_int_equal(s_resend(f->p, "--data-dir", f->p->dir, "--ingest", f->s->ingest,
	    "--after", "0", NULL), 0);
	assert_true(s_said(f->p, "tail.out", "3 accepted, 0 duplicate, 1 rejected (BAD_FIELD 1), "
	    "0 retry later, 0 without an ack"));
	assert_true(s_said(f->p, "tail.out", "event te-id: REJECTED BAD_FIELD:"));
	assert_true(s_said(f->p, "tail.out", "only a county key may resend a journaled digest"));
	hd_pass(f->p);
	hd_pass(f->s);
}

int
integ_tail(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tail_resent, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_tail_errors, s_setup, s_teardown),
	};
	return cmocka_run_group_tests_name("tail", tests, NULL, NULL);
}
