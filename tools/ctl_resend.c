/*
 * jicengctl resend-tail: bring an old primary's unmirrored tail into the
 * new primary, from the old primary's journal rather than from the
 * townships (docs/operations.md, "What an unmirrored tail means").
 *
 * It opens DATA_DIR/journal.mdb read-only (refusing while a process on this
 * machine still has it open: jicengd or one of its workers), takes the
 * seqs after --after (by default the new primary's journal end at its
 * promotion, from its stats), and hands each township event's envelope, as
 * journaled, to the shared pipelined sender (ctl_send.c) towards the new
 * primary's ingest endpoint. jicengd's own records (Tick, RulesChanged) are
 * skipped: the new primary journals its own. What the new primary has is
 * answered DUPLICATE (dedupe by township and event_id, byte for byte), so
 * a second run changes nothing. A member event's ID number is in the
 * journal as its digest: only a county key may send that (iddigest.h), so
 * off loopback this runs with the county's key. The rules that need no
 * socket are in ctl_tail.c.
 */
#include "ctl.h"
#include "ctl_tail.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "journal.h"

#define TAIL_PROGRESS_S 2        /* a progress line at most this often, by default */

struct s_tail {
	struct journal *j;
	MDB_txn *txn;               /* one read transaction: jicengd is stopped */
	const char *dir;
	uint64_t first, last;       /* the seqs to resend */
	uint64_t next;              /* the next seq to read */
	uint64_t skipped;           /* jicengd's own records */
	uint64_t quarantined;       /* resent events the old primary quarantined */
	uint64_t undecodable;       /* records whose envelope does not unpack: not sent */
	int read_error;             /* an LMDB error that stopped the reading, or 0 */
	bool gave_up;               /* nothing ever answered: the rest not sent */
	struct ctl_tail_tally tally;
	bool quiet;
	int64_t progress_ms;        /* --progress-every */
	int64_t progress_at;        /* the next progress line, monotonic ms */
};

struct s_opts {
	struct ctl_sender_conf conf;
	const char *dir;            /* --data-dir */
	const char *query;          /* --query */
	bool have_after;
	uint64_t after;             /* --after */
	bool quiet;
	unsigned progress_s;        /* --progress-every */
};

/* ---------------------------------------------------------------- the source */

/* The envelope of record r (seq) into e; 0 when it does not unpack. */
static int
s_take(struct s_tail *t, uint64_t seq, const struct journal_record *r, struct ctl_envelope *e)
{
	const char *reason;
	Envelope *env = codec_envelope_unpack(r->envelope, r->envelope_len);

	if (!env) {
		printf("seq %llu %s: the journaled envelope does not decode; not sent\n",
		    (unsigned long long)seq, r->township_id);
		t->undecodable++;
		return 0;
	}
	e->event_id = strdup(env->event_id);
	codec_envelope_free(env);
	e->buf = malloc(r->envelope_len ? r->envelope_len : 1);
	if (!e->event_id || !e->buf) {
		free(e->event_id);
		free(e->buf);
		memset(e, 0, sizeof *e);
		fprintf(stderr, "jicengctl resend-tail: out of memory\n");
		t->read_error = ENOMEM;
		return 0;
	}
	memcpy(e->buf, r->envelope, r->envelope_len);
	e->len = r->envelope_len;
	e->order = (unsigned)(seq - t->first);
	if (journal_quarantined(t->j, t->txn, seq, &reason) == 0)
		t->quarantined++;
	t->tally.sent++;
	return 1;
}

/* The next township event of the range; -1 at its end (or on an error). */
static int
s_pull(void *arg, struct ctl_envelope *e)
{
	struct s_tail *t = arg;
	struct journal_record r;

	if (ctl_tail_unheard(&t->tally)) {
		t->gave_up = true;
		return -1;
	}
	while (t->next <= t->last && !t->read_error) {
		uint64_t seq = t->next++;
		int rc = journal_get(t->j, t->txn, seq, &r);
		if (rc) {
			fprintf(stderr, "jicengctl resend-tail: %s/journal.mdb, seq %llu: %s\n", t->dir,
			    (unsigned long long)seq, mdb_strerror(rc));
			t->read_error = rc;
		} else if (!ctl_tail_wanted(r.township_id)) {
			t->skipped++;
		} else if (s_take(t, seq, &r, e)) {
			return 1;
		}
	}
	return -1;
}

static uint64_t
s_seq_of(const struct s_tail *t, const struct ctl_envelope *e)
{
	return t->first + e->order;
}

static void
s_answered(void *arg, const struct ctl_envelope *e, const Ack *a)
{
	struct s_tail *t = arg;

	ctl_tail_count(&t->tally, a);
	if (a->verdict == JICENG__V1__VERDICT__ACCEPTED || a->verdict == JICENG__V1__VERDICT__DUPLICATE)
		return;
	printf("seq %llu event %s: %s %s: %s\n", (unsigned long long)s_seq_of(t, e), e->event_id,
	    codec_verdict_name(a->verdict), a->code, a->reason);
}

static void
s_lost(void *arg, const struct ctl_envelope *e, const char *why)
{
	struct s_tail *t = arg;

	ctl_tail_lost(&t->tally);
	printf("seq %llu event %s: %s\n", (unsigned long long)s_seq_of(t, e), e->event_id, why);
}

static void
s_tick(void *arg)
{
	struct s_tail *t = arg;
	char line[512];
	int64_t now = now_mono_ms();

	if (t->quiet || now < t->progress_at)
		return;
	t->progress_at = now + t->progress_ms;
	ctl_tail_summary(&t->tally, line, sizeof line);
	fprintf(stderr, "resend-tail: at seq %llu of %llu: %s\n",
	    (unsigned long long)(t->next - 1), (unsigned long long)t->last, line);
}

/* ---------------------------------------------------------------- the journal */

/* mdb_reader_list's lines: a reader whose pid lives and is not ours. */
static int
s_reader_line(const char *msg, void *ctx)
{
	long *pid = ctx, p;

	if (!*pid && sscanf(msg, "%ld", &p) == 1 && p > 0 && p != (long)getpid() &&
	    (kill((pid_t)p, 0) == 0 || errno == EPERM))
		*pid = p;
	return 0;
}

/* Open dir's journal read-only, refusing one a live process here reads
 * (the jicengd that runs on it, through its workers). 0, or -1 said. */
static int
s_journal_open(struct s_tail *t, const char *dir)
{
	char path[4096];
	struct stat st;
	long pid = 0;
	int rc;

	snprintf(path, sizeof path, "%s/journal.mdb", dir);
	if (stat(path, &st) < 0) {
		fprintf(stderr, "jicengctl resend-tail: no journal in %s (%s: %s); give the old "
		    "primary's data directory\n", dir, path, strerror(errno));
		return -1;
	}
	if ((rc = journal_open(&t->j, dir, 1, 1, true))) {
		fprintf(stderr, "jicengctl resend-tail: cannot open %s read-only: %s%s\n", path,
		    mdb_strerror(rc), rc == EACCES ? " (LMDB needs to write its lock file "
		    "journal.mdb-lock beside it, unless the file system is mounted read-only: "
		    "run as the user that owns it, or on a copy)" : "");
		return -1;
	}
	mdb_reader_list(journal_env(t->j), s_reader_line, &pid);
	if (pid) {
		fprintf(stderr, "jicengctl resend-tail: %s is in use by pid %ld (jicengd or one of "
		    "its workers still runs on it): stop that jicengd first; the old primary must "
		    "stay down\n", path, pid);
		journal_close(&t->j);
		return -1;
	}
	if ((rc = journal_read_begin(t->j, &t->txn))) {
		fprintf(stderr, "jicengctl resend-tail: %s: %s\n", path, mdb_strerror(rc));
		journal_close(&t->j);
		return -1;
	}
	return 0;
}

static void
s_journal_close(struct s_tail *t)
{
	if (t->txn)
		mdb_txn_abort(t->txn);
	t->txn = NULL;
	journal_close(&t->j);
}

/* ---------------------------------------------------------------- the new primary */

/* Where the new primary's copy of this journal ends: its promotion, read
 * from its stats. 0, or -1 said. */
static int
s_after_from_stats(const struct s_opts *o, uint64_t *after)
{
	struct ctl_curve cv = o->conf.curve;
	const char *ep = ctl_endpoint(o->query, "JICENG_QUERY", CTL_DEFAULT_QUERY);
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetStats gs = JICENG__V1__GET_STATS__INIT;
	QueryReply *r = NULL;
	char why[256];
	void *ctx = zmq_ctx_new(), *sock = NULL;
	int rc = -1;

	ctl_curve_from_env(&cv);
	q.query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
	q.get_stats = &gs;
	if (!ctx || !(sock = ctl_dealer(ctx, ep, &cv)))
		goto out;
	if (!(r = ctl_query_call("resend-tail", sock, ep, &q, o->conf.timeout_ms))) {
		/* The query socket may want other keys than ingest (curve = auto
		 * leaves a loopback one open), or be out of reach from here. */
		fprintf(stderr, "jicengctl resend-tail: or give --after N: N from promote's answer "
		    "(\"promoted at seq N\"), or standby.promotedAt of `jicengctl query stats` on "
		    "the new primary\n");
		goto out;
	}
	if (r->status != JICENG__V1__QUERY_STATUS__OK ||
	    r->result_case != JICENG__V1__QUERY_REPLY__RESULT_STATS) {
		fprintf(stderr, "jicengctl resend-tail: %s answered the stats query %s: %s\n", ep,
		    r->code, r->reason);
		goto out;
	}
	if ((rc = ctl_tail_after_from_stats(r->stats, after, why, sizeof why)) < 0)
		fprintf(stderr, "jicengctl resend-tail: the node at %s: %s\n", ep, why);
out:
	if (r)
		jiceng__v1__query_reply__free_unpacked(r, NULL);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

/* ---------------------------------------------------------------- options */

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl resend-tail --data-dir DIR [--after SEQ] [OPTIONS]\n"
	    "\n"
	    "Resend an old primary's unmirrored tail to the new primary: the events\n"
	    "its journal (DIR/journal.mdb, read-only, its jicengd stopped) holds after\n"
	    "SEQ, each township event's envelope as it was journaled, to the new\n"
	    "primary's ingest endpoint. jicengd's own records (Tick, RulesChanged)\n"
	    "are skipped. What the new primary has already is answered DUPLICATE, so\n"
	    "running it twice is safe; the rest is journaled anew and judged there.\n"
	    "Member events carry ID numbers as their digest, which only a county key\n"
	    "may send (--key, with CURVE).\n"
	    "\n"
	    "Prints a line per event that is rejected or gets no final answer, a\n"
	    "progress line on stderr (every 2 s by default), and a summary.\n"
	    "\n"
	    "Options:\n"
	    "  -D, --data-dir DIR   the old primary's data directory (required)\n"
	    "  -a, --after SEQ      resend the seqs after SEQ (default: the new\n"
	    "                       primary's journal end at its promotion, from its\n"
	    "                       stats at --query)\n"
	    "  -q, --query EP       the new primary's query endpoint, for --after's\n"
	    "                       default (default $JICENG_QUERY or " CTL_DEFAULT_QUERY ")\n"
	    CTL_SENDER_HELP_INGEST
	    "  -w, --window N       events in flight without an ack (default 1: the\n"
	    "                       tail in its order, whatever the answers; more is\n"
	    "                       faster, in order unless RETRY_LATER comes)\n"
	    CTL_SENDER_HELP_RESENDS
	    "      --progress-every S  a progress line at most every S seconds\n"
	    "                       (default 2; 0: after each batch of answers)\n"
	    "      --quiet          no progress lines\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 every event answered (accepted, duplicate or rejected);\n"
	    "1 some got no answer or only RETRY_LATER (run it again), or an error;\n"
	    "2 usage error.\n");
}

enum { S_OPT_QUIET = 1000, S_OPT_PROGRESS };

static const struct option s_options[] = {
	CTL_SENDER_LONGOPTS,
	{ "data-dir", required_argument, NULL, 'D' },
	{ "after", required_argument, NULL, 'a' },
	{ "query", required_argument, NULL, 'q' },
	{ "quiet", no_argument, NULL, S_OPT_QUIET },
	{ "progress-every", required_argument, NULL, S_OPT_PROGRESS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parse options into o; returns -1 when done (run), or an exit status. */
static int
s_options_parse(int argc, char **argv, struct s_opts *o)
{
	unsigned long v;
	int c, taken;

	optind = 0;
	while ((c = getopt_long(argc, argv, CTL_SENDER_SHORTOPTS "D:a:q:h", s_options, NULL)) != -1) {
		if ((taken = ctl_sender_option(&o->conf, c, optarg)) < 0)
			return CTL_EXIT_USAGE;
		if (taken)
			continue;
		switch (c) {
		case 'D': o->dir = optarg; break;
		case 'q': o->query = optarg; break;
		case S_OPT_QUIET: o->quiet = true; break;
		case S_OPT_PROGRESS:
			if (!ctl_parse_uint("resend-tail", "progress-every", optarg, 0, 86400, &v))
				return CTL_EXIT_USAGE;
			o->progress_s = (unsigned)v;
			break;
		case 'a':
			if (!ctl_parse_uint("resend-tail", "after", optarg, 0, ULONG_MAX, &v))
				return CTL_EXIT_USAGE;
			o->after = v;
			o->have_after = true;
			break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		default: return ctl_usage_error("resend-tail", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage_error("resend-tail", "unexpected argument '%s'", argv[optind]);
	if (!o->dir)
		return ctl_usage_error("resend-tail", "--data-dir DIR (the old primary's data "
		    "directory) is required");
	return -1;
}

/* ---------------------------------------------------------------- main */

/* Send the range; the exit status. */
static int
s_resend(struct s_tail *t, const struct s_opts *o)
{
	const struct ctl_source src = {
		.arg = t, .pull = s_pull, .answered = s_answered, .lost = s_lost, .tick = s_tick,
	};
	const char *ep = ctl_endpoint(o->conf.ingest, "JICENG_INGEST", CTL_DEFAULT_INGEST);
	struct ctl_sender *sender = ctl_sender_new(&o->conf);
	char line[512];
	int rc;

	if (!sender)
		return CTL_EXIT_FAIL;
	t->progress_at = now_mono_ms() + t->progress_ms;
	rc = ctl_sender_run(sender, &src);
	ctl_sender_destroy(&sender);
	ctl_tail_summary(&t->tally, line, sizeof line);
	printf("jicengctl resend-tail: seqs %llu-%llu of %s/journal.mdb to %s: %llu events "
	    "resent (%llu of jicengd's own records skipped): %s\n", (unsigned long long)t->first,
	    (unsigned long long)t->last, t->dir, ep, (unsigned long long)t->tally.sent,
	    (unsigned long long)t->skipped, line);
	if (t->quarantined)
		printf("jicengctl resend-tail: %llu of them were quarantined at the old primary\n",
		    (unsigned long long)t->quarantined);
	if (t->gave_up)
		fprintf(stderr, "jicengctl resend-tail: no ack from %s: is the new primary running "
		    "there, and are --ingest, --key and --server-key right? Nothing after seq %llu "
		    "was sent\n", ep, (unsigned long long)(t->next - 1));
	if (rc < 0 || t->read_error || t->undecodable || t->gave_up || !ctl_tail_settled(&t->tally)) {
		fprintf(stderr, "jicengctl resend-tail: not every event got its answer; run it "
		    "again (what the new primary has is answered DUPLICATE)\n");
		return CTL_EXIT_FAIL;
	}
	return CTL_EXIT_OK;
}

int
ctl_resend_tail_main(int argc, char **argv)
{
	struct s_opts o = { .conf = CTL_SENDER_CONF("resend-tail"), .progress_s = TAIL_PROGRESS_S };
	/* One at a time: a backed-off event resent after later ones would be
	 * judged out of its order (a transfer before its member). */
	o.conf.window = 1;
	struct s_tail t = { 0 };
	uint64_t end;
	int rc;

	if ((rc = s_options_parse(argc, argv, &o)) >= 0)
		return rc;
	t.dir = o.dir;
	t.quiet = o.quiet;
	t.progress_ms = (int64_t)o.progress_s * 1000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (s_journal_open(&t, o.dir) < 0)
		return CTL_EXIT_FAIL;
	if ((rc = journal_last_seq(t.j, t.txn, &end))) {
		fprintf(stderr, "jicengctl resend-tail: %s/journal.mdb: %s\n", o.dir, mdb_strerror(rc));
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = CTL_EXIT_FAIL;
	if (!o.have_after && s_after_from_stats(&o, &o.after) < 0)
		goto out;
	switch (ctl_tail_range(o.after, end)) {
	case CTL_TAIL_PAST:
		fprintf(stderr, "jicengctl resend-tail: seq %llu is past the end of %s/journal.mdb "
		    "(seq %llu): is this the old primary's journal, and the new primary the one "
		    "promoted from its standby?\n", (unsigned long long)o.after, o.dir,
		    (unsigned long long)end);
		goto out;
	case CTL_TAIL_NOTHING:
		printf("jicengctl resend-tail: nothing to resend: %s/journal.mdb ends at seq %llu, "
		    "which the new primary holds\n", o.dir, (unsigned long long)end);
		rc = CTL_EXIT_OK;
		goto out;
	case CTL_TAIL_RANGE:
		break;
	}
	t.first = t.next = o.after + 1;
	t.last = end;
	rc = s_resend(&t, &o);
out:
	s_journal_close(&t);
	return rc;
}
