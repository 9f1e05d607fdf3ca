/*
 * follow: the standby. A jicengd started with --follow (or [standby]
 * enabled) builds its journal from the JetStream stream that the primary's
 * jiceng-mirror writes (docs/operations.md, "Standby and promotion")
 * instead of from townships, and can be promoted to primary.
 *
 * A thread of its own speaks NATS: it finds the journal's end in the
 * stream (the stream sequence stored with the last record appended,
 * checked against the stream, or a binary search by Jiceng-Seq), consumes
 * <prefix>.ev.> from just after it with an ordered consumer, and queues
 * each MirroredRecord. jicengd's loop appends what is queued
 * (follow_drain): each record as the next seq, byte for byte
 * (journal_append_mirrored), its quarantine row and the stream sequence in
 * the same write transaction; then the workers are told, as after ingest.
 * A record that is not the journal's end + 1 is never skipped: a gap or a
 * different record stops following, logged with both seqs, and the thread
 * starts again from the journal's end after a backoff. The thread also
 * reads the stream's last Jiceng-Seq every second: the standby's lag.
 *
 * Only the loop's thread touches the journal; only the follower thread
 * touches NATS while it runs (promotion stops it first). Ingest on a
 * standby is answered by ingest.c; the Tick and RulesChanged a primary
 * journals come through the stream, so jicengd journals none of its own
 * while following.
 */
#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "be64.h"
#include "broker.h"
#include "log.h"
#include "natsconn.h"

#define FOLLOW_QUEUE_MAX 8192         /* records queued for the loop */
#define FOLLOW_WAIT_MS 2000           /* a JetStream API request */
#define FOLLOW_NEXT_MS 250            /* one wait for the next message */
#define FOLLOW_CHECK_MS 1000          /* reading the stream's end */
#define FOLLOW_SILENT_MS 15000        /* behind, and nothing delivered: subscribe again */
#define FOLLOW_BACKOFF_MIN_MS 250
#define FOLLOW_BACKOFF_MAX_MS 30000
#define FOLLOW_PENDING_BYTES (64 << 20)  /* what libnats may hold for the loop */

#define META_STREAM_SEQ "follow_stream_seq"  /* stream sequence of the last record */
#define META_PROMOTED "promoted"              /* "seq=E at=MS left_behind=N" */
#define PROMOTE_REQUEST "promote.request"     /* in run_dir, from jicengctl promote */
#define PROMOTE_RESULT "promote.result"

/* REFUSED: NATS answered but TLS or credentials failed, on either side
 * (natsconn_hint); DISCONNECTED: it did not answer. */
enum follow_state { FOLLOW_CONNECTING, FOLLOW_FOLLOWING, FOLLOW_DISCONNECTED, FOLLOW_STOPPED,
	FOLLOW_PROMOTED, FOLLOW_REFUSED };

static const char *const s_state_names[] = {
	"connecting", "following", "disconnected", "stopped", "promoted", "refused",
};

/* One queued MirroredRecord. */
struct frec {
	uint64_t seq;          /* journal seq */
	uint64_t sseq;         /* its stream sequence */
	uint8_t *record;       /* the stored record, header and envelope */
	size_t len;
	char *quarantine;      /* NULL: none */
};

struct follow {
	/* Settings, copied at start: the thread never reads the broker. */
	char servers[512], stream[64], prefix[128], primary[128];
	char creds[CONFIG_PATH_MAX], nkey[CONFIG_PATH_MAX];
	char tls_ca[CONFIG_PATH_MAX], tls_cert[CONFIG_PATH_MAX], tls_key[CONFIG_PATH_MAX];
	struct natsconn_files files;   /* the five above */
	int efd;                   /* eventfd: records queued */
	pthread_t thread;
	bool running;              /* the thread was started and not joined */

	pthread_mutex_t mu;        /* guards what follows, down to the thread's own */
	pthread_cond_t cv;         /* queue space, stop, restart */
	struct frec *ring;         /* FOLLOW_QUEUE_MAX slots */
	size_t head, n;
	bool stop;                 /* the thread is to end */
	unsigned gen;              /* bumped by a restart: the queue is dropped */
	bool reposition;           /* the next subscription finds the anchor first */
	uint64_t anchor_seq;       /* the journal's end as the loop last committed it */
	uint64_t anchor_sseq;      /* its stream sequence, 0 unknown */
	uint8_t *anchor_rec;       /* its stored record */
	size_t anchor_len;
	uint64_t next_sseq;        /* where a resubscription starts */
	uint64_t stream_end;       /* the stream's last Jiceng-Seq, 0 unknown */
	int64_t stream_read_ms;    /* when it was read, wall clock */
	enum follow_state state;
	char problem[FOLLOW_PROBLEM_MAX];  /* why it is not following, "" none */

	/* The thread's own (the loop's once the thread is joined). */
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	unsigned sub_gen;          /* gen the subscription was made for */
	unsigned restart_backoff;  /* after the loop's restarts, growing while they repeat */
	uint64_t restart_anchor;   /* the journal's end at the last of them */

	/* The loop's own. */
	enum follow_state said;    /* the state last logged */
	uint64_t end_said;         /* the stream's end as the stats last had it */
	uint64_t promoted_at;      /* journal end at promotion, 0 never */
	uint64_t left_behind;      /* events the stream held past it then */
	bool left_unknown;         /* the stream could not be read then */
};

/* ---------------------------------------------------------- the queue */

static void
s_frec_free(struct frec *r)
{
	free(r->record);
	free(r->quarantine);
	r->record = NULL;
	r->quarantine = NULL;
}

static void
s_set_state(struct follow *f, enum follow_state st, const char *problem)
{
	f->state = st;
	snprintf(f->problem, sizeof f->problem, "%s", problem ? problem : "");
}

/* The loop: drop what is queued, and have the thread subscribe again from
 * the anchor after a backoff. Called with mu held. */
static void
s_restart_locked(struct follow *f, const char *problem)
{
	while (f->n) {
		s_frec_free(&f->ring[f->head]);
		f->head = (f->head + 1) % FOLLOW_QUEUE_MAX;
		f->n--;
	}
	f->gen++;
	f->reposition = true;
	s_set_state(f, FOLLOW_STOPPED, problem);
	pthread_cond_broadcast(&f->cv);
}

/* The thread: queue r (taken over) unless a restart or stop came first;
 * waits while the queue is full. */
static void
s_push(struct follow *f, struct frec *r, unsigned gen)
{
	uint64_t one = 1;
	pthread_mutex_lock(&f->mu);
	while (f->n == FOLLOW_QUEUE_MAX && !f->stop && f->gen == gen)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->stop || f->gen != gen) {
		pthread_mutex_unlock(&f->mu);
		s_frec_free(r);
		return;
	}
	f->ring[(f->head + f->n) % FOLLOW_QUEUE_MAX] = *r;
	f->n++;
	f->next_sseq = r->sseq + 1;
	pthread_mutex_unlock(&f->mu);
	if (write(f->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("standby: eventfd");
}

/* The loop: take up to max queued records into out. */
static size_t
s_take(struct follow *f, struct frec *out, size_t max)
{
	size_t k = 0;
	pthread_mutex_lock(&f->mu);
	while (k < max && f->n) {
		out[k++] = f->ring[f->head];
		f->head = (f->head + 1) % FOLLOW_QUEUE_MAX;
		f->n--;
	}
	if (k)
		pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return k;
}

/* ---------------------------------------------------------- NATS */

/* libnats's last error for this thread, without its "(file.c:123): ". */
static void
s_nats_why(natsStatus s, jsErrCode jerr, char *why, size_t cap)
{
	const char *last = nats_GetLastError(NULL), *p;
	if (!last || !*last)
		last = natsStatus_GetText(s);
	else if (last[0] == '(' && (p = strstr(last, "): ")))
		last = p + 3;
	if (jerr == 10059)
		snprintf(why, cap, "the stream does not exist (yet): has the primary's jiceng-mirror "
		    "run, with the same servers and stream name?");
	else if (jerr)
		snprintf(why, cap, "%s (JetStream error %d)", last, (int)jerr);
	else
		snprintf(why, cap, "%s", last);
}

static void
s_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	(void)nc, (void)sub, (void)closure;
	log_warnx("standby: NATS: %s", natsStatus_GetText(err));
}

/* Connection options from [standby]: servers, credentials, TLS; endless
 * reconnects (the thread decides when to give up on a subscription). */
static natsStatus
s_options(struct follow *f, natsOptions **out, char *why, size_t cap)
{
	const char *urls[16];
	char buf[sizeof f->servers], *save = NULL;
	int n = 0;
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	snprintf(buf, sizeof buf, "%s", f->servers);
	for (char *t = strtok_r(buf, " ,", &save); t && n < 16; t = strtok_r(NULL, " ,", &save))
		urls[n++] = t;
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, urls, n);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "jicengd standby");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, FOLLOW_WAIT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)  /* a lost server is noticed within a few seconds */
		s = natsOptions_SetPingInterval(o, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(o, 2);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, s_async_error, f);
	why[0] = '\0';
	if (s == NATS_OK)
		s = natsconn_files_set(o, &f->files, why, cap);
	if (s != NATS_OK) {
		if (!why[0])   /* else the nkey seed file's problem */
			s_nats_why(s, 0, why, cap);
		natsOptions_Destroy(o);
	} else {
		*out = o;
	}
	return s;
}

static void
s_unsubscribe(struct follow *f)
{
	if (f->sub) {
		natsSubscription_Unsubscribe(f->sub);
		natsSubscription_Destroy(f->sub);
	}
	f->sub = NULL;
}

static void
s_disconnect(struct follow *f)
{
	s_unsubscribe(f);
	jsCtx_Destroy(f->js);
	f->js = NULL;
	if (f->nc) {
		natsConnection_Close(f->nc);
		natsConnection_Destroy(f->nc);
	}
	f->nc = NULL;
}

/* 0; -1 with why, *refused when TLS or the credentials failed. */
static int
s_connect(struct follow *f, char *why, size_t cap, bool *refused)
{
	natsOptions *o = NULL;
	jsOptions jo;
	if (s_options(f, &o, why, cap) != NATS_OK)
		return -1;
	natsStatus s = natsConnection_Connect(&f->nc, o);
	natsOptions_Destroy(o);
	jsOptions_Init(&jo);
	jo.Wait = FOLLOW_WAIT_MS;
	if (s == NATS_OK)
		s = natsConnection_JetStream(&f->js, f->nc, &jo);
	if (s == NATS_OK)
		return 0;
	s_nats_why(s, 0, why, cap);
	*refused = natsconn_hint(why, cap, "standby", &f->files);
	s_disconnect(f);
	return -1;
}

/* The message at stream sequence sseq, with its Jiceng-Seq: 0, or -1 with
 * why. */
static int
s_msg_at(struct follow *f, uint64_t sseq, natsMsg **m, uint64_t *jseq, char *why, size_t cap)
{
	jsErrCode jerr = 0;
	const char *v = NULL;
	natsStatus s = js_GetMsg(m, f->js, f->stream, sseq, NULL, &jerr);
	if (s != NATS_OK) {
		s_nats_why(s, jerr, why, cap);
		return -1;
	}
	if (natsMsgHeader_Get(*m, "Jiceng-Seq", &v) != NATS_OK || !v || !*v) {
		snprintf(why, cap, "stream %s message %llu has no Jiceng-Seq header: not written by "
		    "jiceng-mirror", f->stream, (unsigned long long)sseq);
		natsMsg_Destroy(*m);
		*m = NULL;
		return -1;
	}
	*jseq = strtoull(v, NULL, 10);
	return 0;
}

/* The stream's first and last sequence. 0, or -1 with why. */
static int
s_stream_bounds(struct follow *f, uint64_t *first, uint64_t *last, char *why, size_t cap)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, f->js, f->stream, NULL, &jerr);
	if (s != NATS_OK) {
		s_nats_why(s, jerr, why, cap);
		return -1;
	}
	*first = si->State.FirstSeq;
	*last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return 0;
}

/* The last journal seq the stream holds: its last message's Jiceng-Seq (a
 * record's status changes follow it), 0 when empty. 0, or -1 with why. */
static int
s_stream_end(struct follow *f, uint64_t *end, char *why, size_t cap)
{
	uint64_t first, last;
	natsMsg *m;
	if (s_stream_bounds(f, &first, &last, why, cap) < 0)
		return -1;
	*end = 0;
	if (last == 0 || last < first)
		return 0;
	if (s_msg_at(f, last, &m, end, why, cap) < 0)
		return -1;
	natsMsg_Destroy(m);
	return 0;
}

/* Is m a record message (subject <prefix>.ev.>)? */
static bool
s_is_record(struct follow *f, natsMsg *m)
{
	const char *subj = natsMsg_GetSubject(m);
	size_t pl = strlen(f->prefix);
	return subj && strncmp(subj, f->prefix, pl) == 0 && strncmp(subj + pl, ".ev.", 4) == 0;
}

/* Does the stream hold, at sseq, the record of seq that is rec? 1 yes, 0
 * no, -1 it could not be read (why). */
static int
s_holds(struct follow *f, uint64_t sseq, uint64_t seq, const uint8_t *rec, size_t len,
    char *why, size_t cap)
{
	natsMsg *m;
	uint64_t jseq;
	if (s_msg_at(f, sseq, &m, &jseq, why, cap) < 0)
		return -1;
	int same = 0;
	if (jseq == seq && s_is_record(f, m)) {
		MirroredRecord *r = jiceng__v1__mirrored_record__unpack(NULL,
		    (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
		same = r && r->seq == seq && r->record.len == len && memcmp(r->record.data, rec, len) == 0;
		if (r)
			jiceng__v1__mirrored_record__free_unpacked(r, NULL);
	}
	natsMsg_Destroy(m);
	return same;
}

/* ---------------------------------------------------------- positioning */

/* The first stream sequence in [lo, hi] whose Jiceng-Seq is at least seq
 * (hi + 1 when none): Jiceng-Seq never decreases along the stream. 0, or
 * -1 with why. */
static int
s_search(struct follow *f, uint64_t lo, uint64_t hi, uint64_t seq, uint64_t *at, char *why,
    size_t cap)
{
	hi++;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2, jseq;
		natsMsg *m;
		if (s_msg_at(f, mid, &m, &jseq, why, cap) < 0)
			return -1;
		natsMsg_Destroy(m);
		if (jseq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

/* Where to subscribe from: just after the stream's message of the
 * journal's end, which must be this journal's record. 0 with *start, or -1
 * with why (the stream cannot be read, or it does not continue this
 * journal). */
static int
s_position(struct follow *f, uint64_t *start, char *why, size_t cap)
{
	uint64_t seq, sseq, first, last, at;
	pthread_mutex_lock(&f->mu);
	seq = f->anchor_seq, sseq = f->anchor_sseq;
	size_t len = f->anchor_len;
	uint8_t *rec = len ? malloc(len) : NULL;
	if (rec)
		memcpy(rec, f->anchor_rec, len);
	pthread_mutex_unlock(&f->mu);
	int rc = -1;
	*start = 1;
	if (seq == 0) {
		rc = 0;  /* an empty journal starts with the stream */
	} else if (!rec) {
		snprintf(why, cap, "out of memory");
	} else if (sseq && (rc = s_holds(f, sseq, seq, rec, len, why, cap)) == 1) {
		*start = sseq + 1, rc = 0;
	} else if (rc == 0 || sseq == 0) {
		/* The stored sequence is not this journal's end (a stream made
		 * anew, or none stored): search by Jiceng-Seq. */
		rc = -1;
		if (s_stream_bounds(f, &first, &last, why, cap) == 0 &&
		    s_search(f, first, last, seq, &at, why, cap) == 0) {
			int held = at <= last ? s_holds(f, at, seq, rec, len, why, cap) : 0;
			if (held == 1) {
				log_info("standby: seq %llu found at stream %s sequence %llu",
				    (unsigned long long)seq, f->stream, (unsigned long long)at);
				*start = at + 1, rc = 0;
			} else if (held == 0 && at > last) {
				snprintf(why, cap, "the journal ends at seq %llu, past the end of stream %s: "
				    "it is not this journal's (a promoted node, or another county's stream)",
				    (unsigned long long)seq, f->stream);
			} else if (held == 0) {
				snprintf(why, cap, "stream %s does not hold this journal's seq %llu: the journals "
				    "have diverged (or the stream no longer reaches back to it)",
				    f->stream, (unsigned long long)seq);
			}
		}
	}
	free(rec);
	return rc;
}

/* ---------------------------------------------------------- the thread */

static bool
s_stopping(struct follow *f)
{
	pthread_mutex_lock(&f->mu);
	bool stop = f->stop;
	pthread_mutex_unlock(&f->mu);
	return stop;
}

/* Sleep ms unless stopped meanwhile. */
static void
s_nap(struct follow *f, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000)
		ts.tv_sec++, ts.tv_nsec -= 1000000000;
	pthread_mutex_lock(&f->mu);
	if (!f->stop)
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	pthread_mutex_unlock(&f->mu);
}

static void
s_thread_problem(struct follow *f, enum follow_state st, const char *why)
{
	pthread_mutex_lock(&f->mu);
	s_set_state(f, st, why);
	pthread_mutex_unlock(&f->mu);
}

static int
s_subscribe(struct follow *f, unsigned gen, char *why, size_t cap)
{
	char subject[160];
	uint64_t start;
	jsSubOptions so;
	jsErrCode jerr = 0;
	pthread_mutex_lock(&f->mu);
	bool find = f->reposition;
	start = f->next_sseq;
	pthread_mutex_unlock(&f->mu);
	if (find && s_position(f, &start, why, cap) < 0)
		return -1;
	snprintf(subject, sizeof subject, "%s.ev.>", f->prefix);
	jsSubOptions_Init(&so);
	so.Stream = f->stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = start;
	f->sub = NULL;
	natsStatus s = js_SubscribeSync(&f->sub, f->js, subject, NULL, &so, &jerr);
	/* Flow control lets the server run up to 32 MiB ahead: more records
	 * than libnats buffers by default (65536), which it would drop. */
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(f->sub, -1, FOLLOW_PENDING_BYTES);
	if (s != NATS_OK) {
		s_nats_why(s, jerr, why, cap);
		s_unsubscribe(f);
		return -1;
	}
	pthread_mutex_lock(&f->mu);
	if (f->gen == gen) {
		f->reposition = false;
		f->next_sseq = start;
		s_set_state(f, FOLLOW_FOLLOWING, NULL);
	}
	pthread_mutex_unlock(&f->mu);
	f->sub_gen = gen;
	log_debug("standby: %s from stream %s sequence %llu", subject, f->stream,
	    (unsigned long long)start);
	return 0;
}

/* A delivered message into the queue. -1 when it is not a record this
 * jicengd can append (never skipped: following stops there). */
static int
s_deliver(struct follow *f, natsMsg *m, unsigned gen, char *why, size_t cap)
{
	jsMsgMetaData *meta = NULL;
	struct frec r = { 0 };
	if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
		snprintf(why, cap, "a message of stream %s without its metadata", f->stream);
		return -1;
	}
	r.sseq = meta->Sequence.Stream;
	jsMsgMetaData_Destroy(meta);
	MirroredRecord *mr = jiceng__v1__mirrored_record__unpack(NULL,
	    (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
	if (!mr || mr->seq == 0 || mr->record.len == 0) {
		snprintf(why, cap, "stream %s message %llu (%s) is not a MirroredRecord", f->stream,
		    (unsigned long long)r.sseq, natsMsg_GetSubject(m));
		if (mr)
			jiceng__v1__mirrored_record__free_unpacked(mr, NULL);
		return -1;
	}
	r.seq = mr->seq;
	r.len = mr->record.len;
	r.record = malloc(r.len);
	r.quarantine = mr->quarantine && *mr->quarantine ? strdup(mr->quarantine) : NULL;
	if (r.record)
		memcpy(r.record, mr->record.data, r.len);
	bool oom = !r.record || (mr->quarantine && *mr->quarantine && !r.quarantine);
	jiceng__v1__mirrored_record__free_unpacked(mr, NULL);
	if (oom) {
		s_frec_free(&r);
		snprintf(why, cap, "out of memory");
		return -1;
	}
	s_push(f, &r, gen);
	return 0;
}

/* Once a second: the stream's end (the lag), and whether NATS is there
 * for the subscription, if there is one. */
static void
s_check(struct follow *f)
{
	char why[256];
	uint64_t end;
	int rc = s_stream_end(f, &end, why, sizeof why);
	pthread_mutex_lock(&f->mu);
	if (rc == 0) {
		f->stream_end = end;
		f->stream_read_ms = now_wall_ms();
		if (f->state == FOLLOW_DISCONNECTED && f->sub)
			s_set_state(f, FOLLOW_FOLLOWING, NULL);
	} else if (f->state == FOLLOW_FOLLOWING) {
		s_set_state(f, FOLLOW_DISCONNECTED, why);
	}
	pthread_mutex_unlock(&f->mu);
}

/* The loop dropped the queue (a gap, a diverging record, a failed
 * commit): subscribe again after a backoff that grows while the journal's
 * end does not move. Returns the backoff. */
static unsigned
s_restarted(struct follow *f)
{
	pthread_mutex_lock(&f->mu);
	uint64_t end = f->anchor_seq;
	pthread_mutex_unlock(&f->mu);
	s_unsubscribe(f);
	if (end > f->restart_anchor || !f->restart_backoff)
		f->restart_backoff = FOLLOW_BACKOFF_MIN_MS;
	else if ((f->restart_backoff *= 2) > FOLLOW_BACKOFF_MAX_MS)
		f->restart_backoff = FOLLOW_BACKOFF_MAX_MS;
	f->restart_anchor = end;
	return f->restart_backoff;
}

/* Take the next message, waiting up to FOLLOW_NEXT_MS: 0, or the backoff
 * `next` after a problem (the subscription is dropped). */
static unsigned
s_next(struct follow *f, unsigned gen, unsigned next, int64_t *heard)
{
	char why[320];
	natsMsg *m = NULL;
	natsStatus s = natsSubscription_NextMsg(&m, f->sub, FOLLOW_NEXT_MS);
	if (s == NATS_TIMEOUT)
		return 0;
	if (s == NATS_OK) {
		int rc = s_deliver(f, m, gen, why, sizeof why);
		natsMsg_Destroy(m);
		if (rc == 0) {
			*heard = now_mono_ms();
			return 0;
		}
		s_thread_problem(f, FOLLOW_STOPPED, why);
	} else {
		s_nats_why(s, 0, why, sizeof why);
		s_thread_problem(f, FOLLOW_DISCONNECTED, why);
	}
	s_unsubscribe(f);
	return next;
}

/* The ordered consumer recreates itself on a gap or missed heartbeats;
 * this covers whatever else leaves it silent while the stream is ahead. */
static void
s_watchdog(struct follow *f, int64_t heard)
{
	pthread_mutex_lock(&f->mu);
	bool behind = f->stream_end > f->anchor_seq + f->n && f->state == FOLLOW_FOLLOWING;
	pthread_mutex_unlock(&f->mu);
	if (behind && now_mono_ms() - heard > FOLLOW_SILENT_MS) {
		log_warnx("standby: nothing delivered for %d s while behind the stream; "
		    "subscribing again", FOLLOW_SILENT_MS / 1000);
		s_unsubscribe(f);
	}
}

/* One step: connect, read the stream's end (once a second), subscribe,
 * take the next message. Returns the next backoff (0: none). */
static unsigned
s_step(struct follow *f, unsigned backoff, int64_t *checked, int64_t *heard)
{
	char why[320];
	unsigned next = backoff ? backoff * 2 : FOLLOW_BACKOFF_MIN_MS;
	if (next > FOLLOW_BACKOFF_MAX_MS)
		next = FOLLOW_BACKOFF_MAX_MS;
	pthread_mutex_lock(&f->mu);
	unsigned gen = f->gen;
	pthread_mutex_unlock(&f->mu);
	if (f->nc && natsConnection_Status(f->nc) == NATS_CONN_STATUS_CLOSED)
		s_disconnect(f);
	bool refused = false;
	if (!f->nc && s_connect(f, why, sizeof why, &refused) < 0) {
		s_thread_problem(f, refused ? FOLLOW_REFUSED : FOLLOW_DISCONNECTED, why);
		return next;
	}
	bool check = now_mono_ms() - *checked >= FOLLOW_CHECK_MS;
	if (check) {
		s_check(f);
		*checked = now_mono_ms();
	}
	if (f->sub && f->sub_gen != gen)
		return s_restarted(f);
	if (!f->sub) {
		if (s_subscribe(f, gen, why, sizeof why) < 0) {
			s_thread_problem(f, natsConnection_Status(f->nc) == NATS_CONN_STATUS_CONNECTED ?
			    FOLLOW_STOPPED : FOLLOW_DISCONNECTED, why);
			return next;
		}
		*heard = now_mono_ms();
	}
	if ((next = s_next(f, gen, next, heard)) == 0 && check)
		s_watchdog(f, *heard);
	return next;
}

static void *
s_run(void *arg)
{
	struct follow *f = arg;
	unsigned backoff = 0;
	int64_t checked = 0, heard = now_mono_ms();
	while (!s_stopping(f)) {
		if (backoff)
			s_nap(f, backoff);
		if (!s_stopping(f))
			backoff = s_step(f, backoff, &checked, &heard);
	}
	s_unsubscribe(f);
	return NULL;
}

static int
s_thread_start(struct follow *f)
{
	f->stop = false;
	int rc = pthread_create(&f->thread, NULL, s_run, f);
	if (rc) {
		errno = rc;
		log_warn("standby: cannot start the follower thread");
		return -1;
	}
	f->running = true;
	return 0;
}

static void
s_thread_stop(struct follow *f)
{
	if (!f->running)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	f->running = false;
}

/* ---------------------------------------------------------- appending */

struct batch {
	struct frec *recs;
	size_t n;
	size_t used;               /* records appended or already held */
	uint64_t appended;
	uint64_t last_sseq;
	char problem[320];         /* why following stops at recs[used], "" none */
};

/* A RulesChanged record: the rules in force, as the primary noted them. */
static int
s_rules_meta(struct broker *b, MDB_txn *txn, const struct frec *r)
{
	struct journal_record jr;
	if (journal_get(b->journal, txn, r->seq, &jr) != 0 ||
	    jr.kind != JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED)
		return 0;
	Envelope *e = codec_envelope_unpack(jr.envelope, jr.envelope_len);
	int rc = e && e->rules_changed && e->rules_changed->rules ?
	    ingest_rules_meta(b, txn, e->rules_changed->rules) : 0;
	codec_envelope_free(e);
	return rc;
}

/* A record the journal holds already (a redelivery): the same bytes, or
 * the journals have diverged. */
static bool
s_held(struct broker *b, MDB_txn *txn, const struct frec *r)
{
	struct journal_record jr;
	return journal_get(b->journal, txn, r->seq, &jr) == 0 && jr.raw_len == r->len &&
	    memcmp(jr.raw, r->record, r->len) == 0;
}

static int
s_fill(struct broker *b, MDB_txn *txn, void *arg)
{
	struct batch *bt = arg;
	uint64_t end = journal_committed_end(b->journal);
	uint8_t v[8];
	int rc = 0;
	bt->used = 0, bt->appended = 0, bt->last_sseq = 0, bt->problem[0] = '\0';
	for (; bt->used < bt->n; bt->used++) {
		const struct frec *r = &bt->recs[bt->used];
		if (r->seq <= end && s_held(b, txn, r))
			continue;
		if (r->seq <= end) {
			snprintf(bt->problem, sizeof bt->problem, "the stream's record of seq %llu is not "
			    "the one this journal holds (journal end %llu): the journals have diverged",
			    (unsigned long long)r->seq, (unsigned long long)end);
			break;
		}
		if (r->seq != end + 1) {
			snprintf(bt->problem, sizeof bt->problem, "gap: the stream's next record is seq "
			    "%llu, the journal ends at seq %llu", (unsigned long long)r->seq,
			    (unsigned long long)end);
			break;
		}
		rc = journal_append_mirrored(b->journal, txn, r->seq, r->record, r->len);
		if (rc == MDB_CORRUPTED) {
			snprintf(bt->problem, sizeof bt->problem, "the stream's record of seq %llu does "
			    "not parse as a journal record", (unsigned long long)r->seq);
			rc = 0;
			break;
		}
		if (rc == 0 && r->quarantine)
			rc = journal_quarantine(b->journal, txn, r->seq, r->quarantine);
		if (rc == 0)
			rc = s_rules_meta(b, txn, r);
		if (rc)
			return rc;
		end++;
		bt->appended++;
		bt->last_sseq = r->sseq;
	}
	if (bt->appended) {
		be64_put(v, bt->last_sseq);
		rc = journal_meta_put(b->journal, txn, META_STREAM_SEQ, v, sizeof v);
	}
	return rc;
}

/* After a commit: the journal's new end is where the thread resumes. */
static void
s_anchor(struct follow *f, const struct frec *r)
{
	pthread_mutex_lock(&f->mu);
	free(f->anchor_rec);
	f->anchor_rec = r->record;
	f->anchor_len = r->len;
	f->anchor_seq = r->seq;
	f->anchor_sseq = r->sseq;
	pthread_mutex_unlock(&f->mu);
}

/* Append one batch of what is queued. Returns records appended, -1 when
 * the commit failed. */
static int
s_drain_batch(struct broker *b, size_t max)
{
	struct follow *f = b->follow;
	static struct frec recs[FOLLOW_QUEUE_MAX];
	struct batch bt = { recs, 0, 0, 0, 0, "" };
	if (max > FOLLOW_QUEUE_MAX)
		max = FOLLOW_QUEUE_MAX;
	if ((bt.n = s_take(f, recs, max)) == 0)
		return 0;
	int64_t t0 = now_mono_ns();
	int rc = ingest_journal_write(b, s_fill, &bt);
	if (rc) {
		log_error("standby: journal commit of %zu records failed: %s; following again from "
		    "the journal's end", bt.n, mdb_strerror(rc));
		bt.used = 0, bt.appended = 0;
		snprintf(bt.problem, sizeof bt.problem, "journal commit failed: %s", mdb_strerror(rc));
	}
	if (bt.appended) {
		/* The anchor keeps the last appended record's bytes. */
		size_t last = bt.used - 1;
		while (recs[last].seq != journal_committed_end(b->journal))
			last--;
		s_anchor(f, &recs[last]);
		recs[last].record = NULL;
		b->counters.commits++;
		b->counters.accepted_journaled += bt.appended;
		b->counters.commit_ms_total += (double)(now_mono_ns() - t0) / 1e6;
		if (bt.appended > b->counters.commit_events_max)
			b->counters.commit_events_max = bt.appended;
		b->counters.dirty = true;
		children_notify_journal(b);
	}
	for (size_t i = 0; i < bt.n; i++)
		s_frec_free(&recs[i]);
	if (bt.problem[0]) {
		log_error("standby: following stops: %s; it starts again from seq %llu after a "
		    "backoff (nothing is skipped)", bt.problem,
		    (unsigned long long)journal_committed_end(b->journal));
		pthread_mutex_lock(&f->mu);
		s_restart_locked(f, bt.problem);
		pthread_mutex_unlock(&f->mu);
		return rc ? -1 : (int)bt.appended;
	}
	return (int)bt.appended;
}

int
follow_drain(struct broker *b)
{
	uint64_t v;
	if (!b->following)
		return 0;
	if (read(b->follow->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("standby: eventfd");
	return s_drain_batch(b, b->cfg.max_batch);
}

bool
follow_pending(struct broker *b)
{
	struct follow *f = b->follow;
	if (!b->following)
		return false;
	pthread_mutex_lock(&f->mu);
	bool any = f->n > 0;
	pthread_mutex_unlock(&f->mu);
	return any;
}

int
follow_fd(struct broker *b)
{
	return b->following ? b->follow->efd : -1;
}

/* ---------------------------------------------------------- start and stop */

static struct follow *
s_new(struct broker *b)
{
	struct follow *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	const struct config *c = &b->cfg;
	snprintf(f->servers, sizeof f->servers, "%s", c->standby_servers);
	snprintf(f->stream, sizeof f->stream, "%s", c->standby_stream);
	snprintf(f->prefix, sizeof f->prefix, "%s", c->standby_subject_prefix);
	snprintf(f->primary, sizeof f->primary, "%s", c->standby_primary);
	snprintf(f->creds, sizeof f->creds, "%s", c->standby_creds_file);
	snprintf(f->nkey, sizeof f->nkey, "%s", c->standby_nkey_seed_file);
	snprintf(f->tls_ca, sizeof f->tls_ca, "%s", c->standby_tls_ca_file);
	snprintf(f->tls_cert, sizeof f->tls_cert, "%s", c->standby_tls_cert_file);
	snprintf(f->tls_key, sizeof f->tls_key, "%s", c->standby_tls_key_file);
	f->files = (struct natsconn_files){ f->creds, f->nkey, f->tls_ca, f->tls_cert, f->tls_key };
	f->efd = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->said = FOLLOW_CONNECTING;
	return f;
}

/* The promotion marker: 0 with its fields, MDB_NOTFOUND, or an error. */
static int
s_marker(struct broker *b, struct follow *f)
{
	MDB_txn *txn;
	const void *v;
	size_t len;
	char text[128];
	unsigned long long seq = 0, left = 0;
	int rc = journal_read_begin(b->journal, &txn);
	if (rc)
		return rc;
	rc = journal_meta_get(b->journal, txn, META_PROMOTED, &v, &len);
	if (rc == 0) {
		snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text ? len : sizeof text - 1),
		    (const char *)v);
		if (sscanf(text, "seq=%llu %*s left_behind=%llu", &seq, &left) < 1)
			rc = MDB_CORRUPTED;
		f->promoted_at = seq;
		f->left_behind = left;
		f->left_unknown = strstr(text, "unknown") != NULL;
	}
	mdb_txn_abort(txn);
	return rc;
}

/* The journal's end, its record and stream sequence: where following
 * resumes. */
static int
s_anchor_load(struct broker *b, struct follow *f)
{
	MDB_txn *txn;
	struct journal_record r;
	const void *v;
	size_t len;
	int rc = journal_read_begin(b->journal, &txn);
	if (rc)
		return rc;
	if ((rc = journal_last_seq(b->journal, txn, &f->anchor_seq)) == 0 && f->anchor_seq &&
	    (rc = journal_get(b->journal, txn, f->anchor_seq, &r)) == 0) {
		if ((f->anchor_rec = malloc(r.raw_len)))
			memcpy(f->anchor_rec, r.raw, r.raw_len);
		f->anchor_len = r.raw_len;
		rc = f->anchor_rec ? 0 : ENOMEM;
	}
	if (rc == 0 && journal_meta_get(b->journal, txn, META_STREAM_SEQ, &v, &len) == 0 && len == 8)
		f->anchor_sseq = be64_get(v);
	mdb_txn_abort(txn);
	return rc;
}

static int
s_marker_clear(struct broker *b)
{
	MDB_txn *txn;
	int rc = journal_write_begin(b->journal, &txn);
	if (rc)
		return rc;
	if ((rc = journal_meta_del(b->journal, txn, META_PROMOTED)) == 0)
		rc = journal_commit(b->journal, txn);
	else
		journal_write_abort(b->journal, txn);
	return rc ? rc : journal_sync(b->journal);
}

/* Make f ready to follow from the journal's end: 0, or -1 (logged). */
static int
s_follow_ready(struct broker *b, struct follow *f)
{
	int rc = s_anchor_load(b, f);
	if (rc) {
		log_error("standby: cannot read the journal's end: %s", mdb_strerror(rc));
		return -1;
	}
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0 || !(f->ring = calloc(FOLLOW_QUEUE_MAX, sizeof *f->ring))) {
		log_warn("standby: eventfd or queue");
		return -1;
	}
	f->reposition = true;
	log_info("standby: following stream %s (%s.ev.>) on %s from journal seq %llu; ingest is "
	    "refused (STANDBY, naming %s)", f->stream, f->prefix, f->servers,
	    (unsigned long long)f->anchor_seq, f->primary[0] ? f->primary : "the stream");
	return 0;
}

int
follow_init(struct broker *b, bool asked)
{
	struct follow *f = s_new(b);
	if (!f)
		return -1;
	int rc = s_marker(b, f);
	if (rc && rc != MDB_NOTFOUND) {
		log_error("standby: journal meta %s: %s", META_PROMOTED, mdb_strerror(rc));
		follow_destroy(&f);
		return -1;
	}
	bool promoted = rc == 0;
	b->counters.dirty = true;  /* the stats say what this node is */
	if (promoted && !asked) {
		if (b->cfg.standby_enabled)
			log_warnx("[standby] enabled is ignored: this journal was promoted at seq %llu and "
			    "this node is the primary; to follow a stream again, start jicengd --follow",
			    (unsigned long long)f->promoted_at);
		f->state = FOLLOW_PROMOTED;
		b->follow = f;
		return 0;
	}
	if (!asked && !b->cfg.standby_enabled) {
		follow_destroy(&f);
		return 0;
	}
	rc = 0;
	if (promoted) {
		log_warnx("--follow: following again; the journal's promotion at seq %llu is "
		    "forgotten (it follows only a stream that continues this journal)",
		    (unsigned long long)f->promoted_at);
		if ((rc = s_marker_clear(b)))
			log_error("standby: cannot clear the promotion marker: %s", mdb_strerror(rc));
		f->promoted_at = f->left_behind = 0;
	}
	if (rc || s_follow_ready(b, f) < 0) {
		follow_destroy(&f);
		return -1;
	}
	b->follow = f;
	b->following = true;
	return 0;
}

int
follow_start(struct broker *b)
{
	return b->following ? s_thread_start(b->follow) : 0;
}

void
follow_destroy(struct follow **fp)
{
	struct follow *f = *fp;
	if (!f)
		return;
	s_thread_stop(f);
	s_disconnect(f);
	if (f->ring)
		while (f->n) {
			s_frec_free(&f->ring[f->head]);
			f->head = (f->head + 1) % FOLLOW_QUEUE_MAX;
			f->n--;
		}
	free(f->ring);
	free(f->anchor_rec);
	if (f->efd >= 0)
		close(f->efd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
	*fp = NULL;
}

bool
follow_mirror_allowed(struct broker *b)
{
	struct follow *f = b->follow;
	if (b->following)
		return false;
	if (!f || f->state != FOLLOW_PROMOTED || (!f->left_behind && !f->left_unknown) ||
	    strcmp(b->cfg.mirror_stream, f->stream) != 0)
		return true;
	log_error("jiceng-mirror not started: stream %s holds %s events past seq %llu that this "
	    "journal, promoted with --force, does not; its own would mix with them. Set [mirror] "
	    "stream to a new stream and restart", f->stream, f->left_unknown ? "an unknown number of" :
	    "some", (unsigned long long)f->promoted_at);
	return false;
}

/* ---------------------------------------------------------- the periodic duty */

const char *
follow_primary_name(struct broker *b, char *buf, size_t cap)
{
	if (b->cfg.standby_primary[0])
		snprintf(buf, cap, "%s", b->cfg.standby_primary);
	else
		snprintf(buf, cap, "stream %s", b->cfg.standby_stream);
	return buf;
}

void
follow_periodic(struct broker *b)
{
	struct follow *f = b->follow;
	if (!b->following)
		return;
	pthread_mutex_lock(&f->mu);
	enum follow_state st = f->state;
	char problem[FOLLOW_PROBLEM_MAX];
	snprintf(problem, sizeof problem, "%s", f->problem);
	uint64_t stream_end = f->stream_end, end = journal_committed_end(b->journal);
	pthread_mutex_unlock(&f->mu);
	if (st != f->said) {
		if (st == FOLLOW_FOLLOWING)
			log_info("standby: following stream %s at journal seq %llu (stream end %llu)",
			    f->stream, (unsigned long long)end, (unsigned long long)stream_end);
		else if (st == FOLLOW_DISCONNECTED)
			log_warnx("standby: NATS unreachable (%s); retrying with backoff, the journal "
			    "stays at seq %llu", problem, (unsigned long long)end);
		else if (st == FOLLOW_REFUSED)
			log_warnx("standby: NATS answered but TLS or the credentials failed (%s); "
			    "retrying with backoff, the journal stays at seq %llu", problem,
			    (unsigned long long)end);
		else if (st == FOLLOW_STOPPED)
			log_warnx("standby: not following: %s; retrying with backoff at seq %llu",
			    problem, (unsigned long long)end);
		f->said = st;
		b->counters.dirty = true;
	}
	if (stream_end != f->end_said) {
		f->end_said = stream_end;
		b->counters.dirty = true;
	}
}

void
follow_stats(struct broker *b, Jiceng__V1__StandbyStats *st, char problem[FOLLOW_PROBLEM_MAX])
{
	struct follow *f = b->follow;
	pthread_mutex_lock(&f->mu);
	st->state = (char *)s_state_names[f->state];
	st->stream_end = f->stream_end;
	st->stream_read_at = f->stream_read_ms;
	snprintf(problem, FOLLOW_PROBLEM_MAX, "%s", f->problem);
	pthread_mutex_unlock(&f->mu);
	uint64_t end = journal_committed_end(b->journal);
	st->problem = problem;
	st->primary = f->primary;
	st->stream = f->stream;
	st->lag = b->following && st->stream_end > end ? st->stream_end - end : 0;
	st->promoted_at = f->promoted_at;
	st->left_behind = f->left_behind;
}

/* ---------------------------------------------------------- promotion */

/* Commit everything the thread queued (it is stopped). */
static int
s_drain_all(struct broker *b)
{
	int rc;
	while ((rc = s_drain_batch(b, FOLLOW_QUEUE_MAX)) > 0)
		;
	return rc < 0 ? -1 : 0;
}

static int
s_marker_write(struct broker *b, struct follow *f)
{
	MDB_txn *txn;
	char text[128];
	if (f->left_unknown)
		snprintf(text, sizeof text, "seq=%llu at=%lld left_behind=unknown",
		    (unsigned long long)f->promoted_at, (long long)now_wall_ms());
	else
		snprintf(text, sizeof text, "seq=%llu at=%lld left_behind=%llu",
		    (unsigned long long)f->promoted_at, (long long)now_wall_ms(),
		    (unsigned long long)f->left_behind);
	int rc = journal_write_begin(b->journal, &txn);
	if (rc)
		return rc;
	if ((rc = journal_meta_put(b->journal, txn, META_PROMOTED, text, strlen(text))) == 0)
		rc = journal_commit(b->journal, txn);
	else
		journal_write_abort(b->journal, txn);
	return rc ? rc : journal_sync(b->journal);
}

/* What the stream and the journal say, the follower thread stopped and
 * everything queued committed: the journal's end, and the stream's (read
 * 0, or -1 and why). */
struct ends {
	uint64_t journal, stream;
	int read;
	char why[320];
};

/* Commit what was followed and compare the ends: 0 when promotion may go
 * on, -1 refused with msg. */
static int
s_promote_check(struct broker *b, bool force, struct ends *e, char *msg, size_t cap)
{
	struct follow *f = b->follow;
	if (s_drain_all(b) < 0 || journal_sync(b->journal) != 0) {
		snprintf(msg, cap, "refused: the journal could not commit what was queued (see the log)");
		return -1;
	}
	e->journal = journal_committed_end(b->journal);
	e->stream = 0;
	e->read = f->js ? s_stream_end(f, &e->stream, e->why, sizeof e->why) : -1;
	if (!f->js)
		snprintf(e->why, sizeof e->why, "not connected to NATS (%.200s)", f->problem);
	if (e->read < 0 && !force) {
		snprintf(msg, cap, "refused: cannot read the end of stream %s to compare: %s; the "
		    "journal ends at seq %llu. Promote --force to promote without comparing", f->stream,
		    e->why, (unsigned long long)e->journal);
		return -1;
	}
	if (e->read == 0 && e->stream > e->journal && !force) {
		snprintf(msg, cap, "refused: stream %s holds seqs %llu-%llu (%llu events) this standby has "
		    "not journaled yet; wait until stats shows standby lag 0 and promote again, or "
		    "promote --force to leave them behind", f->stream, (unsigned long long)e->journal + 1,
		    (unsigned long long)e->stream, (unsigned long long)(e->stream - e->journal));
		return -1;
	}
	if (b->id_key_standby_made && !force) {
		snprintf(msg, cap, "refused: the ID blind-index key %s was made by this standby, not "
		    "copied from the primary: ID numbers would match none of the primary's records (R4). "
		    "Stop jicengd, copy the primary's key there, start it and promote again, or promote "
		    "--force", b->cfg.id_key_file);
		return -1;
	}
	return 0;
}

/* The answer to a promotion that went through. */
static void
s_promoted_say(struct follow *f, const struct ends *e, char *msg, size_t cap)
{
	unsigned long long end = e->journal;
	if (e->read < 0 && !f->stream_read_ms)
		snprintf(msg, cap, "promoted at seq %llu (forced): stream %s could not be read (%s), "
		    "nor had it been: what it holds past seq %llu is unknown", end, f->stream, e->why,
		    end);
	else if (e->read < 0)
		snprintf(msg, cap, "promoted at seq %llu (forced): stream %s could not be read (%s); "
		    "when last read it held %llu events more", end, f->stream, e->why,
		    (unsigned long long)f->left_behind);
	else if (f->left_behind)
		snprintf(msg, cap, "promoted at seq %llu (forced): %llu events of stream %s (seqs "
		    "%llu-%llu) are left behind", end, (unsigned long long)f->left_behind, f->stream,
		    end + 1, (unsigned long long)e->stream);
	else
		snprintf(msg, cap, "promoted at seq %llu: nothing left behind in stream %s", end,
		    f->stream);
}

/* Promote: 1 promoted, 0 not (msg says why; following goes on), with msg
 * for the operator either way. */
static int
s_promote(struct broker *b, bool force, char *msg, size_t cap)
{
	struct follow *f = b->follow;
	struct ends e;
	if (!b->following) {
		if (f && f->state == FOLLOW_PROMOTED)
			snprintf(msg, cap, "already the primary: promoted at seq %llu",
			    (unsigned long long)f->promoted_at);
		else
			snprintf(msg, cap, "already the primary: this jicengd is not a standby");
		return 0;
	}
	s_thread_stop(f);
	if (s_promote_check(b, force, &e, msg, cap) < 0) {
		pthread_mutex_lock(&f->mu);
		s_restart_locked(f, "promotion refused");
		f->state = FOLLOW_CONNECTING;
		pthread_mutex_unlock(&f->mu);
		s_thread_start(f);
		return 0;
	}
	f->promoted_at = e.journal;
	f->left_unknown = e.read < 0;
	uint64_t stream_end = e.read < 0 ? f->stream_end : e.stream;  /* else the last end read */
	f->left_behind = stream_end > e.journal ? stream_end - e.journal : 0;
	int rc = s_marker_write(b, f);
	if (rc) {
		log_error("standby: cannot write the promotion marker: %s", mdb_strerror(rc));
		snprintf(msg, cap, "refused: the promotion marker could not be written: %s",
		    mdb_strerror(rc));
		f->promoted_at = f->left_behind = 0;
		f->left_unknown = false;
		s_thread_start(f);
		return 0;
	}
	s_disconnect(f);
	s_set_state(f, FOLLOW_PROMOTED, NULL);
	b->following = false;
	s_promoted_say(f, &e, msg, cap);
	return 1;
}

/* The request jicengctl promote left in run_dir: 1 with *force, 0 none. */
static int
s_request(struct broker *b, bool *force)
{
	char path[CONFIG_PATH_MAX + 32], text[64] = "";
	snprintf(path, sizeof path, "%s/%s", b->cfg.run_dir, PROMOTE_REQUEST);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	if (!fgets(text, sizeof text, fp))
		text[0] = '\0';
	fclose(fp);
	unlink(path);
	*force = strstr(text, "force") != NULL;
	return 1;
}

static void
s_answer(struct broker *b, bool ok, const char *msg)
{
	char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 40];
	snprintf(path, sizeof path, "%s/%s", b->cfg.run_dir, PROMOTE_RESULT);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	if (!fp || fprintf(fp, "%s\n%s\n", ok ? "ok" : "refused", msg) < 0 || fclose(fp) != 0 ||
	    rename(tmp, path) < 0)
		log_warn("promote: cannot write %s", path);
}

int
follow_promote(struct broker *b)
{
	bool force = false;
	char msg[768];
	if (!s_request(b, &force)) {
		log_warnx("SIGUSR1 without %s/%s: ignored (jicengctl promote sends both)",
		    b->cfg.run_dir, PROMOTE_REQUEST);
		return 0;
	}
	log_info("promote%s requested", force ? " --force" : "");
	int rc = s_promote(b, force, msg, sizeof msg);
	if (rc == 1)
		log_warnx("standby: %s; this node is the primary now: it takes events from townships "
		    "and journals its own Ticks", msg);
	else
		log_info("promote: %s", msg);
	s_answer(b, rc == 1 || strncmp(msg, "already", 7) == 0, msg);
	b->counters.dirty = true;
	return rc;
}
