/*
 * 99-standby: a standby jicengd (--follow, here [standby] enabled) that
 * builds its journal from the JetStream stream a primary's jiceng-mirror
 * writes, against real nats-server processes (hnats.h); the group skips
 * when nats-server is not installed.
 *
 * - One node: a primary with the mirror on and the mixed journal of
 *   97-domains (every event kind, two townships), a reload's RulesChanged
 *   and a pipelined stream of registrations; a standby on the same server
 *   refuses ingest (RETRY_LATER STANDBY, naming the primary), is killed
 *   with -9 while it follows the stream and started again; once caught up
 *   (stats: following, lag 0) both journals hold the same records byte for
 *   byte, the same quarantine, and every worker environment dumps the same
 *   (mdb_dump -a -n). Promoted by jicengctl promote, it journals its own
 *   RulesChanged and Tick, accepts a new event, answers a resend of an old
 *   one DUPLICATE with its original seq and verdict, and a restart does
 *   not follow again. Its mirror, idle while it followed, continues the
 *   same stream from there, and a standby started on a fresh data
 *   directory (how the old primary rejoins) follows it to the same
 *   journal; and jicengd --follow makes it a standby again.
 *   Before that, the one NATS server is stopped for a while: the standby
 *   says it is disconnected (stats, log) while the primary goes on, and
 *   catches up when the server is back.
 * - A three-node NATS cluster with the stream at R3: kill -9 of one node
 *   while the stream of registrations goes through; the standby (not
 *   killed this time) still ends with the primary's journal and worker
 *   environments.
 * - A standby started from a backup copy of the primary's journal
 *   (mdb_copy), which holds no stream position: it finds its journal's
 *   end in the stream by Jiceng-Seq and follows from there.
 * - Servers that want an nkey: a standby with [standby] nkey_seed_file
 *   follows; one without it says why it cannot (stats, log).
 * - Promotion refused: while the stream cannot be read (a stream name
 *   that does not exist), and while it holds events the standby has not
 *   journaled (here it follows another county's subjects), when the
 *   standby keeps refusing ingest; --force promotes it, says how many
 *   events are left behind, and its mirror stays out of that stream.
 */
#include "harness.h"
#include "hnats.h"

#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

#define S_WORKERS "[daemon]\nworkers = membership,meetings,funds\n"
#define S_PRIMARY "县主机 jiceng-a"
#define S_RULES "[rules]\ndues.max_months_back = 3\n"
#define S_N 1200            /* registrations streamed while the standby follows */
#define S_KILL_AT 400       /* acks before the standby is killed */

/* One test's processes, all stopped by the tear-down whatever happened. */
struct s_fix {
	struct hnats *n;
	struct hd *p;          /* the primary */
	struct hd *s;          /* the standby */
	struct hd *r;          /* the old primary rejoining as a standby */
	char pconf[512], sconf[640];
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
	return hn_fixture_end(state, &f->n, (struct hd **const[]){ &f->r, &f->s, &f->p, NULL });
}

/* ================================================================ helpers */

/* Start the primary (mirror on, extra in [mirror]) with the org tree
 * "dm"; its client. */
static void *
s_primary_up(struct s_fix *f, const char *extra)
{
	snprintf(f->pconf, sizeof f->pconf, S_WORKERS "[mirror]\nenabled = true\nservers = %s\n%s",
	    f->n->urls, extra);
	struct hd_opts o = { .config = f->pconf };
	assert_non_null(f->p = hd_new(&o));
	assert_int_equal(hd_up(f->p), 0);
	void *sock = hc_connect(f->p);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "dm"), 0);
	return sock;
}

/* A standby of stream in *d (extra in [standby]), with the mirror
 * configured as on the primary (it runs once promoted); not started. With
 * the primary's ID blind-index key copied in, as operations.md says, when
 * there is a primary and own_key is false. */
static void
s_standby_new_key(struct s_fix *f, struct hd **d, const char *stream, const char *extra,
    bool own_key)
{
	snprintf(f->sconf, sizeof f->sconf, S_WORKERS "[standby]\nenabled = true\nservers = %s\n"
	    "stream = %s\nprimary = " S_PRIMARY "\n%s[mirror]\nenabled = true\nservers = %s\n",
	    f->n->urls, stream, extra, f->n->urls);
	struct hd_opts o = { .config = f->sconf };
	assert_non_null(*d = hd_new(&o));
	if (f->p && !own_key) {
		char from[256], to[256];
		size_t len;
		snprintf(from, sizeof from, "%s/id-index.key", f->p->dir);
		snprintf(to, sizeof to, "%s/id-index.key", (*d)->dir);
		char *key = h_slurp(from, &len);
		assert_non_null(key);
		FILE *out = fopen(to, "w");
		assert_non_null(out);
		assert_int_equal(fwrite(key, 1, len, out), len);
		assert_int_equal(fclose(out), 0);
		chmod(to, 0600);
		free(key);
	}
}

static void
s_standby_new(struct s_fix *f, struct hd **d, const char *stream, const char *extra)
{
	s_standby_new_key(f, d, stream, extra, false);
}

static void
s_standby_extra_up(struct s_fix *f, struct hd **d, const char *stream, const char *extra)
{
	s_standby_new(f, d, stream, extra);
	assert_int_equal(hd_up(*d), 0);
}

static void
s_standby_up(struct s_fix *f, struct hd **d, const char *stream)
{
	s_standby_extra_up(f, d, stream, "");
}

/* The standby's stats, NULL when it has no standby part yet. */
static QueryReply *
s_standby_stats(struct hd *d)
{
	QueryReply *r = hq_stats(d);
	if (r && (!r->stats || !r->stats->standby)) {
		hq_free(r);
		r = NULL;
	}
	return r;
}

/* Wait until the standby holds seq `end` and says so: following, lag 0,
 * the stream's end read as end. */
static void
s_wait_caught_up(struct hd *s, uint64_t end, int timeout_ms)
{
	int64_t until = now_mono_ms() + h_ms(timeout_ms);
	char last[256] = "no stats";
	for (;;) {
		QueryReply *r = s_standby_stats(s);
		if (r) {
			Jiceng__V1__StandbyStats *sb = r->stats->standby;
			snprintf(last, sizeof last, "journal %llu, state %s, stream end %llu, lag %llu (%s)",
			    (unsigned long long)r->stats->journal_length, sb->state,
			    (unsigned long long)sb->stream_end, (unsigned long long)sb->lag, sb->problem);
			bool done = r->stats->journal_length == end && sb->stream_end == end &&
			    sb->lag == 0 && strcmp(sb->state, "following") == 0;
			hq_free(r);
			if (done)
				return;
		}
		if (now_mono_ms() > until)
			fail_msg("the standby did not reach seq %llu: %s", (unsigned long long)end, last);
		h_sleep_ms(100);
	}
}

/* A refused envelope from a standby: RETRY_LATER STANDBY naming the
 * primary. */
static void
s_expect_standby(void *sock, const char *event_id)
{
	struct hmsg m = hm_member(event_id, "sb-refused", H_ORG_BRANCH, "备用", NULL);
	Ack *a = hc_call(sock, &m);
	hm_free(&m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__RETRY_LATER);
	assert_string_equal(a->code, "STANDBY");
	assert_string_equal(a->event_id, event_id);
	assert_non_null(strstr(a->reason, "本节点为备用节点（跟随 " S_PRIMARY "）"));
	assert_non_null(strstr(a->reason, "standby following " S_PRIMARY "; send to the primary"));
	hc_ack_free(a);
}

/* Both journals (their daemons stopped) hold the same records, byte for
 * byte, and the same quarantine: returns the last seq. */
static uint64_t
s_journals_same(struct hd *p, struct hd *s)
{
	struct journal *jp, *js;
	MDB_txn *tp, *ts;
	uint64_t ep, es;
	struct journal_record rp, rs;
	assert_int_equal(journal_open(&jp, p->dir, 64, 64, true), 0);
	assert_int_equal(journal_open(&js, s->dir, 64, 64, true), 0);
	assert_int_equal(journal_read_begin(jp, &tp), 0);
	assert_int_equal(journal_read_begin(js, &ts), 0);
	assert_int_equal(journal_last_seq(jp, tp, &ep), 0);
	assert_int_equal(journal_last_seq(js, ts, &es), 0);
	assert_int_equal(es, ep);
	for (uint64_t q = 1; q <= ep; q++) {
		assert_int_equal(journal_get(jp, tp, q, &rp), 0);
		assert_int_equal(journal_get(js, ts, q, &rs), 0);
		if (rp.raw_len != rs.raw_len || memcmp(rp.raw, rs.raw, rp.raw_len) != 0)
			fail_msg("seq %llu differs between the journals", (unsigned long long)q);
	}
	static uint64_t qp[64], qs[64];
	static char why_p[64][128], why_s[64][128];
	unsigned np = journal_quarantine_list(jp, tp, qp, why_p, 64);
	assert_int_equal(journal_quarantine_list(js, ts, qs, why_s, 64), np);
	for (unsigned i = 0; i < np; i++) {
		assert_int_equal(qs[i], qp[i]);
		assert_string_equal(why_s[i], why_p[i]);
	}
	mdb_txn_abort(tp);
	mdb_txn_abort(ts);
	journal_close(&jp);
	journal_close(&js);
	return ep;
}

/* Every worker environment of the standby dumps as the primary's. */
static void
s_envs_same(struct hd *p, struct hd *s)
{
	static const char *const domains[3] = { "membership", "meetings", "funds" };
	for (int i = 0; i < 3; i++) {
		char a[256], b[256], name[64];
		snprintf(name, sizeof name, "%s.primary.dump", domains[i]);
		hd_state_dump(p, NULL, domains[i], name, a, sizeof a);
		snprintf(name, sizeof name, "%s.standby.dump", domains[i]);
		hd_state_dump(s, NULL, domains[i], name, b, sizeof b);
		if (!h_same_file(a, b))
			fail_msg("the standby's %s environment differs from the primary's", domains[i]);
	}
}

/* jicengctl promote [--force] on d's data: its exit status, its output in
 * d->dir/promote.out. */
static int
s_promote(struct hd *d, bool force)
{
	char bin[512], out[256];
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(out, sizeof out, "%s/promote.out", d->dir);
	char *argv[] = { bin, "promote", "--data-dir", d->dir, force ? "--force" : NULL, NULL };
	return h_run(argv, out, out, 60000);
}

static bool
s_promote_said(struct hd *d, const char *s)
{
	char path[256];
	snprintf(path, sizeof path, "%s/promote.out", d->dir);
	char *text = h_slurp(path, NULL);
	bool has = text && strstr(text, s);
	if (!has)
		fprintf(stderr, "jicengctl promote said: %s\n", text ? text : "(nothing)");
	free(text);
	return has;
}

/* ================================================================ a stream of registrations */

/* The registrations' acks: seq and verdict by index. */
struct s_stream {
	struct s_fix *f;
	struct hmsg msgs[S_N];
	struct hmsg *order[S_N];
	uint64_t seq[S_N];
	Jiceng__V1__Verdict verdict[S_N];
	uint64_t standby_at_kill;
	int bad;
};

static void
s_stream_ack(struct hpump *p, Ack *a)
{
	struct s_stream *st = p->arg;
	int i = -1;
	if (sscanf(a->event_id, "sb-%d", &i) != 1 || i < 0 || i >= S_N ||
	    (a->verdict != JICENG__V1__VERDICT__ACCEPTED && a->verdict != JICENG__V1__VERDICT__REJECTED)) {
		fprintf(stderr, "unexpected ack %s: %s %s\n", a->event_id,
		    codec_verdict_name(a->verdict), a->code);
		st->bad++;
		return;
	}
	st->seq[i] = a->seq;
	st->verdict[i] = a->verdict;
}

/* Wait until the standby has followed the stream past its first event:
 * its journal's length then. */
static uint64_t
s_standby_inside(struct s_stream *st)
{
	uint64_t len = 0;
	for (int64_t until = now_mono_ms() + h_ms(20000); now_mono_ms() < until; h_sleep_ms(20)) {
		QueryReply *r = s_standby_stats(st->f->s);
		len = r ? r->stats->journal_length : 0;
		hq_free(r);
		if (len > st->seq[0] && st->seq[0])
			break;
	}
	return len;
}

/* Mid-stream: once the standby has followed part of it, kill -9. */
static void
s_kill_standby(struct hpump *p)
{
	struct s_stream *st = p->arg;
	st->standby_at_kill = s_standby_inside(st);
	hd_kill9(st->f->s);
}

/* Mid-stream: once the standby has followed part of it, kill -9 the
 * second NATS node. */
static void
s_kill_node(struct hpump *p)
{
	struct s_stream *st = p->arg;
	st->standby_at_kill = s_standby_inside(st);
	hn_kill9(st->f->n, 1);
}

/* Send S_N registrations to the primary through sock, pipelined; hook
 * runs at S_KILL_AT acks. Every one is answered ACCEPTED or REJECTED, and
 * the hook found the standby inside the stream. */
static void
s_stream_run(struct s_stream *st, void *sock, void (*hook)(struct hpump *p))
{
	hm_branch_members(st->msgs, st->order, S_N, "sb", "备用党员");
	struct hpump pump = {
		.sock = sock, .send = st->order, .nsend = S_N, .window = 64,
		.on_ack = s_stream_ack, .hook_at = S_KILL_AT, .hook = hook, .arg = st,
	};
	assert_int_equal(hp_run(&pump, 60000), 0);
	assert_int_equal(st->bad, 0);
	assert_true(st->standby_at_kill > 0);
	assert_true(st->standby_at_kill < st->seq[S_N - 1]);
}

static void
s_stream_free(struct s_stream *st)
{
	for (int i = 0; i < S_N; i++)
		hm_free(&st->msgs[i]);
}

/* Both caught up: the standby says so (stats), and once both are
 * stopped their journals and worker environments are the same. Returns
 * the journal's end. */
static uint64_t
s_converged(struct s_fix *f)
{
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	uint64_t end = hq_journal_length(f->p);
	s_wait_caught_up(f->s, end, 60000);
	assert_int_equal(hq_caught_up(f->s, 20000), 0);
	QueryReply *r = s_standby_stats(f->s);
	assert_non_null(r);
	assert_string_equal(r->stats->standby->primary, S_PRIMARY);
	assert_string_equal(r->stats->standby->stream, "JICENG");
	assert_int_equal(r->stats->standby->promoted_at, 0);
	hq_free(r);
	assert_false(hd_log_has(f->s, "standby: following stops"));
	hq_reset(f->p);
	hq_reset(f->s);
	assert_int_equal(hd_stop(f->p, 10000), 0);
	assert_int_equal(hd_stop(f->s, 10000), 0);
	assert_int_equal(s_journals_same(f->p, f->s), end);
	s_envs_same(f->p, f->s);
	return end;
}

/* Wait until the standby's stats say state. */
static void
s_wait_state(struct hd *s, const char *state, int timeout_ms)
{
	int64_t until = now_mono_ms() + h_ms(timeout_ms);
	for (;;) {
		QueryReply *r = s_standby_stats(s);
		bool done = r && strcmp(r->stats->standby->state, state) == 0;
		hq_free(r);
		if (done)
			return;
		if (now_mono_ms() > until)
			fail_msg("the standby never said %s", state);
		h_sleep_ms(100);
	}
}

/* ================================================================ one node */

static void
test_standby_follows_and_promotes(void **state)
{
	struct s_fix *f = *state;
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start(1));
	void *psock = s_primary_up(f, "");
	hc_domains_mixed(psock);
	s_standby_up(f, &f->s, "JICENG");
	void *ssock = hc_connect(f->s);
	assert_non_null(ssock);
	s_expect_standby(ssock, "sb-refused-1");

	/* A reload's RulesChanged reaches the standby through the stream. */
	hd_config_write(f->p, "%s" S_RULES, f->pconf);
	assert_int_equal(kill(f->p->pid, SIGHUP), 0);
	for (int i = 0; i < 100 && hd_log_count(f->p, "journaled RulesChanged at seq") < 2; i++)
		h_sleep_ms(100);
	assert_int_equal(hd_log_count(f->p, "journaled RulesChanged at seq"), 2);

	/* A stream of registrations; the standby is killed while it follows. */
	static struct s_stream st;
	memset(&st, 0, sizeof st);
	st.f = f;
	s_stream_run(&st, psock, s_kill_standby);
	hc_close(ssock);
	assert_int_equal(hd_up(f->s), 0);

	/* NATS gone for a while: the standby says so, the primary goes on. */
	s_wait_state(f->s, "following", 20000);
	assert_int_equal(hd_child(f->s, "mirror"), 0);  /* not while following */
	hn_stop(f->n, 0);
	s_wait_state(f->s, "disconnected", 20000);
	assert_true(hd_log_wait(f->s, "standby: NATS unreachable", 5000));
	struct hmsg m = hm_member("sb-outage", "sbm-outage", H_ORG_BRANCH, "断网", NULL);
	assert_true(hc_expect(psock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&m);
	assert_int_equal(hn_restart(f->n, 0), 0);
	hc_close(psock);

	/* Caught up: the same journal, the same worker environments. */
	uint64_t end = s_converged(f);
	assert_true(end > st.seq[S_N - 1]);

	/* Promotion: nothing left behind; then it is the primary. */
	assert_int_equal(hd_up(f->s), 0);
	s_wait_caught_up(f->s, end, 30000);
	assert_int_equal(s_promote(f->s, false), 0);
	char said[96];
	snprintf(said, sizeof said, "promoted at seq %llu: nothing left behind", (unsigned long long)end);
	assert_true(s_promote_said(f->s, said));
	assert_true(hd_log_wait(f->s, "journaled RulesChanged at seq", 10000));  /* its config's rules */
	ssock = hc_connect(f->s);
	assert_non_null(ssock);
	m = hm_member("sb-after", "sbm-after", H_ORG_BRANCH, "提升后", NULL);
	Ack *a = hc_call(ssock, &m);
	hm_free(&m);
	assert_non_null(a);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
	assert_true(a->seq > end + 1);  /* after its RulesChanged and Tick */
	hc_ack_free(a);
	for (int i = 7; i < S_N; i += S_N / 3) {
		a = hc_call(ssock, &st.msgs[i]);
		assert_non_null(a);
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
		assert_int_equal(a->seq, st.seq[i]);
		assert_int_equal(a->original_verdict, st.verdict[i]);
		hc_ack_free(a);
	}
	assert_int_equal(s_promote(f->s, false), 0);
	assert_true(s_promote_said(f->s, "already the primary"));

	/* A restart does not follow again. */
	hc_close(ssock);
	hq_reset(f->s);
	assert_int_equal(hd_stop(f->s, 10000), 0);
	assert_int_equal(hd_up(f->s), 0);
	assert_true(hd_log_has(f->s, "[standby] enabled is ignored: this journal was promoted"));
	ssock = hc_connect(f->s);
	m = hm_member("sb-restarted", "sbm-restarted", H_ORG_BRANCH, "重启后", NULL);
	assert_true(hc_expect(ssock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&m);
	hc_close(ssock);
	s_wait_state(f->s, "promoted", 5000);
	QueryReply *r = s_standby_stats(f->s);
	assert_non_null(r);
	assert_int_equal(r->stats->standby->promoted_at, end);
	hq_free(r);

	/* Its mirror continues the stream; the old primary rejoins as a
	 * standby from a fresh data directory and follows it. */
	assert_int_equal(hq_caught_up(f->s, 20000), 0);
	uint64_t end2 = hq_journal_length(f->s);
	hn_wait_mirrored(f->s, end2, 30000);
	s_standby_up(f, &f->r, "JICENG");
	s_wait_caught_up(f->r, end2, 60000);
	hq_reset(f->s);
	hq_reset(f->r);
	assert_int_equal(hd_stop(f->s, 10000), 0);
	assert_int_equal(hd_stop(f->r, 10000), 0);
	assert_int_equal(s_journals_same(f->s, f->r), end2);

	/* jicengd --follow makes the promoted node a standby again: its
	 * journal is what the stream holds, so it finds its place and
	 * follows. */
	snprintf(f->s->exe, sizeof f->s->exe, "%s/follow.sh", f->s->dir);
	h_write_file(f->s->exe, "#!/bin/sh\nexec %s/jicengd --follow \"$@\"\n", h_build_dir());
	assert_int_equal(chmod(f->s->exe, 0755), 0);
	assert_int_equal(hd_up(f->s), 0);
	assert_true(hd_log_has(f->s, "--follow: following again; the journal's promotion at seq"));
	s_wait_caught_up(f->s, end2, 30000);
	ssock = hc_connect(f->s);
	s_expect_standby(ssock, "sb-follows-again");
	hc_close(ssock);
	s_stream_free(&st);
	hd_pass(f->r);
	hd_pass(f->s);
	hd_pass(f->p);
}

/* ================================================================ an R3 cluster */

static void
test_standby_r3_node_killed(void **state)
{
	struct s_fix *f = *state;
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start(3));
	void *psock = s_primary_up(f, "replicas = 3\n");
	s_standby_up(f, &f->s, "JICENG");
	static struct s_stream st;
	memset(&st, 0, sizeof st);
	st.f = f;
	s_stream_run(&st, psock, s_kill_node);
	hc_close(psock);
	assert_int_equal(hn_restart(f->n, 1), 0);
	uint64_t end = s_converged(f);
	assert_true(end >= st.seq[S_N - 1]);
	s_stream_free(&st);
	hd_pass(f->s);
	hd_pass(f->p);
}

/* ================================================================ from a backup */

static void
test_standby_from_backup(void **state)
{
	struct s_fix *f = *state;
	char from[256], to[256];
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start(1));
	void *sock = s_primary_up(f, "");
	assert_true(hc_members(sock, "bk", H_ORG_BRANCH, 0, 20) > 0);
	hc_close(sock);
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	uint64_t copied = hq_journal_length(f->p);
	hn_wait_mirrored(f->p, copied, 20000);
	s_standby_new(f, &f->s, "JICENG", "");
	snprintf(from, sizeof from, "%s/journal.mdb", f->p->dir);
	snprintf(to, sizeof to, "%s/journal.mdb", f->s->dir);
	char *argv[] = { "/usr/bin/mdb_copy", "-n", from, to, NULL };
	assert_int_equal(h_run(argv, NULL, NULL, 20000), 0);
	sock = hc_connect(f->p);
	assert_true(hc_members(sock, "bk", H_ORG_BRANCH, 20, 40) > 0);
	hc_close(sock);
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	uint64_t end = hq_journal_length(f->p);
	assert_int_equal(hd_up(f->s), 0);
	s_wait_caught_up(f->s, end, 30000);
	char line[96];
	snprintf(line, sizeof line, "standby: seq %llu found at stream JICENG sequence",
	    (unsigned long long)copied);
	assert_true(hd_log_has(f->s, line));
	hd_pass(f->s);
	hd_pass(f->p);
}

/* ================================================================ nkey */

/* The user nkey of the NATS documentation's examples (as 98-mirror). */
#define S_NKEY_SEED "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"
#define S_NKEY_PUB "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

static void
test_standby_nkey(void **state)
{
	struct s_fix *f = *state;
	char seed[256], line[320];
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start_conf(1, "authorization { users = [ { nkey: " S_NKEY_PUB
	    " } ] }"));
	snprintf(seed, sizeof seed, "%s/user.nk", f->n->dir);
	h_write_file(seed, "%s\n", S_NKEY_SEED);
	snprintf(line, sizeof line, "nkey_seed_file = %s\n", seed);
	void *sock = s_primary_up(f, line);
	hc_close(sock);
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	uint64_t end = hq_journal_length(f->p);
	s_standby_extra_up(f, &f->s, "JICENG", line);
	s_wait_caught_up(f->s, end, 30000);
	s_standby_up(f, &f->r, "JICENG");
	s_wait_state(f->r, "refused", 20000);
	QueryReply *r = s_standby_stats(f->r);
	assert_non_null(r);
	assert_non_null(strstr(r->stats->standby->problem, "Authorization"));
	assert_int_equal(r->stats->journal_length, 0);
	hq_free(r);
	hd_pass(f->r);
	hd_pass(f->s);
	hd_pass(f->p);
}

/* ================================================================ refused promotion */

/* A standby that made its own ID blind-index key (nobody copied the
 * primary's) says so and is not promoted with it unless forced; once the
 * primary's key is in its place, the mark is gone. */
static void
test_promote_refused_own_key(void **state)
{
	struct s_fix *f = *state;
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start(1));
	void *sock = s_primary_up(f, "");
	hc_close(sock);
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	uint64_t end = hq_journal_length(f->p);
	hn_wait_mirrored(f->p, end, 20000);
	s_standby_new_key(f, &f->s, "JICENG", "", true);
	assert_int_equal(hd_up(f->s), 0);
	assert_true(hd_log_has(f->s, "was made here: it is not the primary's"));
	s_wait_caught_up(f->s, end, 30000);
	assert_int_equal(s_promote(f->s, false), 1);
	assert_true(s_promote_said(f->s, "refused: the ID blind-index key"));
	/* The primary's key copied in while it is stopped: no mark, promoted. */
	assert_int_equal(hd_stop(f->s, 10000), 0);
	char from[256], to[256], mark[280];
	size_t len;
	snprintf(from, sizeof from, "%s/id-index.key", f->p->dir);
	snprintf(to, sizeof to, "%s/id-index.key", f->s->dir);
	snprintf(mark, sizeof mark, "%s.standby-made", to);
	assert_int_equal(access(mark, F_OK), 0);
	char *key = h_slurp(from, &len);
	assert_non_null(key);
	FILE *out = fopen(to, "w");
	assert_non_null(out);
	assert_int_equal(fwrite(key, 1, len, out), len);
	assert_int_equal(fclose(out), 0);
	free(key);
	assert_int_equal(hd_up(f->s), 0);
	assert_true(hd_log_has(f->s, "is no longer the one this standby made"));
	assert_int_not_equal(access(mark, F_OK), 0);
	s_wait_caught_up(f->s, end, 30000);
	assert_int_equal(s_promote(f->s, false), 0);
	assert_true(s_promote_said(f->s, "nothing left behind"));
	hd_pass(f->s);
	hd_pass(f->p);
}

static void
test_promote_refused_unless_forced(void **state)
{
	struct s_fix *f = *state;
	char said[160];
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start(1));
	/* The stream cannot be read: refused. */
	s_standby_up(f, &f->r, "NO_SUCH_STREAM");
	assert_true(hd_log_wait(f->r, "standby: not following: the stream does not exist", 15000));
	assert_int_equal(s_promote(f->r, false), 1);
	assert_true(s_promote_said(f->r, "refused: cannot read the end of stream NO_SUCH_STREAM"));

	/* The stream holds events the standby has not (it follows another
	 * county's subjects): refused, then forced, leaving them behind; its
	 * mirror does not write into that stream. */
	void *sock = s_primary_up(f, "");
	hc_close(sock);
	assert_int_equal(hq_caught_up(f->p, 20000), 0);
	uint64_t end = hq_journal_length(f->p);
	hn_wait_mirrored(f->p, end, 20000);
	s_standby_extra_up(f, &f->s, "JICENG", "subject_prefix = jiceng.other\n");
	for (int64_t until = now_mono_ms() + h_ms(20000);; h_sleep_ms(100)) {
		QueryReply *r = s_standby_stats(f->s);
		bool behind = r && r->stats->standby->lag == end;
		hq_free(r);
		if (behind)
			break;
		if (now_mono_ms() > until)
			fail_msg("the standby never saw the stream's end %llu", (unsigned long long)end);
	}
	assert_int_equal(s_promote(f->s, false), 1);
	snprintf(said, sizeof said, "refused: stream JICENG holds seqs 1-%llu (%llu events) this "
	    "standby has not journaled yet", (unsigned long long)end, (unsigned long long)end);
	assert_true(s_promote_said(f->s, said));
	sock = hc_connect(f->s);
	assert_non_null(sock);
	s_expect_standby(sock, "sb-still-refused");
	assert_int_equal(s_promote(f->s, true), 0);
	snprintf(said, sizeof said, "promoted at seq 0 (forced): %llu events of stream JICENG (seqs "
	    "1-%llu) are left behind", (unsigned long long)end, (unsigned long long)end);
	assert_true(s_promote_said(f->s, said));
	assert_true(hd_log_wait(f->s, "jiceng-mirror not started: stream JICENG holds some events", 5000));
	assert_int_equal(hc_org_tree(sock, "fp"), 0);
	hc_close(sock);
	assert_int_equal(hd_child(f->s, "mirror"), 0);
	s_wait_state(f->s, "promoted", 5000);
	QueryReply *r = s_standby_stats(f->s);
	assert_non_null(r);
	assert_int_equal(r->stats->standby->left_behind, end);
	hq_free(r);
	hd_pass(f->r);
	hd_pass(f->s);
	hd_pass(f->p);
}

int
integ_standby(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_standby_follows_and_promotes, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_standby_r3_node_killed, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_standby_from_backup, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_standby_nkey, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_promote_refused_own_key, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_promote_refused_unless_forced, s_setup, s_teardown),
	};
	return cmocka_run_group_tests_name("standby", tests, NULL, NULL);
}
