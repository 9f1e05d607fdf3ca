/*
 * ingest: the township-facing ROUTER socket. Reads envelopes, checks them,
 * packs each anew as it is journaled (its unknown fields dropped, with a
 * warning on its ack; an ID number replaced by its digest), so the journal
 * holds only bytes that decode and pack again to themselves, dedupes by
 * (township, event_id), journals a whole loop pass in one LMDB
 * commit (commits start commit_interval_us apart at least: the loop reads
 * ingest once ingest_pace_ns is 0), then owes each client an ack that is
 * sent when the owning worker's cursor passes the event and the journal's
 * durable end does too (ingest_resolve; ingest_sync flushes when no next
 * commit starts at once).
 *
 * It does not apply rules, and it never answers ACCEPTED by itself.
 */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "broker.h"
#include "fold.h"
#include "iddigest.h"
#include "log.h"
#include "store.h"

/* With the receive HWM, bounds what libzmq buffers per connection while
 * ingest is paused (RCVHWM x MAX_MSG). */
#define INGEST_MAX_MSG CODEC_MAX_ANSWERED_FRAME
#define INGEST_RCVHWM 256
#define INGEST_MAX_SKEW_MS (10 * 60 * 1000)  /* occurred_at this far ahead is refused */

/* One envelope read in this loop pass. */
struct item {
	uint8_t rid[255];
	uint8_t rid_len;
	EventCase kind;
	enum domain domain;
	char event_id[CODEC_MAX_ID + 1];
	char township[16];
	bool county;                 /* a county key's: may resend a journaled digest */
	zmq_msg_t body;              /* the envelope as journaled (iddigest_envelope) */
	char unknown[CODEC_UNKNOWN_TEXT];  /* fields it had that were dropped, "" none */
	uint64_t seq;
	int64_t read_ns;             /* monotonic: the read pass that took it began */
	enum { ITEM_NEW, ITEM_DUP, ITEM_REUSED } outcome;
};

/* ---------------------------------------------------------- replies */

/* Tests of a power cut: is this ack (of seq, 0 for none) the last before
 * the main thread stops for good (ZeroMQ's threads still deliver it)? The
 * first one after the given number of acks that is sent while a commit
 * awaits its flush, or with ":latest", the first one of an event of the
 * latest commit: the worst moments for the power to go. */
static bool
s_fault_freeze(struct broker *b, uint64_t seq)
{
	static long left = -1;
	static bool latest;
	if (left < 0) {
		const char *n = getenv("JICENG_FAULT_FREEZE_AFTER_ACKS");
		left = n ? atol(n) : 0;
		latest = n && strstr(n, ":latest");
		if (left <= 0)
			left = LONG_MAX;
	}
	if (left > 0 && --left > 0)
		return false;
	if (latest ? !seq || seq < journal_latest_commit_first(b->journal) :
	    !journal_sync_pending(b->journal))
		return false;
	log_warnx("JICENG_FAULT_FREEZE_AFTER_ACKS: frozen");
	return true;
}

static void
s_send(struct broker *b, const uint8_t *rid, size_t rid_len, const uint8_t *buf, size_t len,
    uint64_t seq)
{
	bool freeze = s_fault_freeze(b, seq);
	if (zmq_send(b->ingest, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->ingest, buf, len, ZMQ_DONTWAIT) < 0)
		log_debug("ack not sent: %s", zmq_strerror(zmq_errno()));
	while (freeze)
		pause();
}

void
ingest_count_rejected(struct broker *b, const char *code)
{
	struct counters *k = &b->counters;
	unsigned i;
	for (i = 0; i < k->nrejected; i++)
		if (strcmp(k->rejected[i].code, code) == 0)
			break;
	if (i == k->nrejected) {
		if (i == BROKER_MAX_CODES)
			return;
		snprintf(k->rejected[i].code, sizeof k->rejected[i].code, "%s", code);
		k->nrejected++;
	}
	k->rejected[i].n++;
	k->dirty = true;
}

/* One log line per (township, code) per REFUSAL_LOG_MS, with the count of
 * refusals (or dropped fields) since, so a client sending garbage in a loop
 * cannot flood the journal; every refusal is still counted in the stats. */
#define REFUSAL_LOG_MS 10000
#define REFUSAL_LOG_SLOTS 64

static void
s_log_rated(const char *township, const char *code, const char *what)
{
	static struct {
		char township[16], code[24];
		int64_t logged_ms;
		unsigned quiet;  /* refusals not logged since logged_ms */
	} slots[REFUSAL_LOG_SLOTS];
	int64_t now = now_mono_ms();
	unsigned i, oldest = 0;
	for (i = 0; i < REFUSAL_LOG_SLOTS; i++) {
		if (strcmp(slots[i].township, township) == 0 && strcmp(slots[i].code, code) == 0)
			break;
		if (slots[i].logged_ms < slots[oldest].logged_ms)
			oldest = i;
	}
	if (i == REFUSAL_LOG_SLOTS) {
		i = oldest;
		snprintf(slots[i].township, sizeof slots[i].township, "%s", township);
		snprintf(slots[i].code, sizeof slots[i].code, "%s", code);
		slots[i].logged_ms = 0;
		slots[i].quiet = 0;
	}
	if (slots[i].logged_ms && now - slots[i].logged_ms < REFUSAL_LOG_MS) {
		slots[i].quiet++;
		return;
	}
	if (slots[i].quiet)
		log_info("%s township %s: %s (and %u more in the last %d s)",
		    what, township, code, slots[i].quiet, REFUSAL_LOG_MS / 1000);
	else
		log_info("%s township %s: %s", what, township, code);
	slots[i].logged_ms = now;
	slots[i].quiet = 0;
}

static void
s_refuse(struct broker *b, const uint8_t *rid, size_t rid_len, const char *event_id,
    const char *township, Jiceng__V1__Verdict verdict, const char *code, const char *reason)
{
	uint8_t *buf;
	size_t n = codec_ack_refusal(event_id, verdict, code, reason, &buf);
	if (buf) {
		s_send(b, rid, rid_len, buf, n, 0);
		free(buf);
	}
	if (verdict == JICENG__V1__VERDICT__RETRY_LATER) {
		b->counters.retry_later++;
		b->counters.dirty = true;
		return;
	}
	ingest_count_rejected(b, code);
	s_log_rated(township && *township ? township : "?", code, "refused event from");
}

/* ---------------------------------------------------------- dropped fields */

/* Acks owed the UNKNOWN_FIELDS warning: the envelope had fields this
 * version does not know, dropped before journaling (so that an older
 * jicengd still serves a newer client). The warning is the broker's, added
 * to the worker's verdict as the ack goes out, to the first answer and to
 * a DUPLICATE alike (a resend of the same bytes loses the same fields
 * again). An entry lives until its ack is sent: few, and short-lived. */
#define INGEST_MAX_NOTES 4096
#define INGEST_ACK_WARNINGS 32  /* the rules give at most VERDICT_MAX_WARNINGS */

struct unknown_note {
	uint64_t seq;
	uint8_t rid_len;
	uint8_t rid[255];
	char fields[CODEC_UNKNOWN_TEXT];
};

static struct unknown_note *s_notes;
static size_t s_nnotes, s_notes_cap;

static void
s_note_add(const struct item *it)
{
	if (s_nnotes == s_notes_cap) {
		size_t cap = s_notes_cap ? s_notes_cap * 2 : 16;
		struct unknown_note *n = cap <= INGEST_MAX_NOTES ?
		    realloc(s_notes, cap * sizeof *n) : NULL;
		if (!n) {
			log_warnx("seq %llu: too many acks owed a warning; this one goes without "
			    "UNKNOWN_FIELDS", (unsigned long long)it->seq);
			return;
		}
		s_notes = n, s_notes_cap = cap;
	}
	struct unknown_note *n = &s_notes[s_nnotes++];
	n->seq = it->seq;
	n->rid_len = it->rid_len;
	memcpy(n->rid, it->rid, it->rid_len);
	snprintf(n->fields, sizeof n->fields, "%s", it->unknown);
}

/* The note of the ack of seq to rid, removed into fields; false if none. */
static bool
s_note_take(uint64_t seq, const uint8_t *rid, size_t rid_len, char fields[CODEC_UNKNOWN_TEXT])
{
	for (size_t i = 0; i < s_nnotes; i++) {
		struct unknown_note *n = &s_notes[i];
		if (n->seq != seq || n->rid_len != rid_len || memcmp(n->rid, rid, rid_len) != 0)
			continue;
		memcpy(fields, n->fields, CODEC_UNKNOWN_TEXT);
		s_notes[i] = s_notes[--s_nnotes];
		return true;
	}
	return false;
}

/* ---------------------------------------------------------- pending acks */

static int
s_pending_push(struct pending_queue *q, const struct item *it)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct pending *p = realloc(q->items, cap * sizeof *p);
		if (!p)
			return -1;
		q->items = p, q->cap = cap;
	}
	size_t at = q->n;
	while (at > 0 && q->items[at - 1].seq > it->seq)
		at--;
	memmove(&q->items[at + 1], &q->items[at], (q->n - at) * sizeof *q->items);
	q->items[at].seq = it->seq;
	q->items[at].read_ns = it->read_ns;
	q->items[at].duplicate = it->outcome == ITEM_DUP;
	q->items[at].rid_len = it->rid_len;
	memcpy(q->items[at].rid, it->rid, it->rid_len);
	q->n++;
	return 0;
}

/* The stored verdict is the packed Ack itself: a first answer sends those
 * bytes straight from the map; a duplicate is unpacked and marked, and so
 * is an answer owed the UNKNOWN_FIELDS warning. */
static void
s_answer_from_state(struct broker *b, struct child *c, MDB_txn *txn, const struct pending *p,
    int64_t now_ns)
{
	uint8_t *buf;
	MDB_val val;
	char fields[CODEC_UNKNOWN_TEXT], reason[CODEC_UNKNOWN_TEXT + 160];
	int rc = fold_verdict_get(txn, c->verdicts, p->seq, &val);
	if (rc) {
		log_error("no verdict for seq %llu in %s: %s", (unsigned long long)p->seq,
		    c->role, mdb_strerror(rc));
		return;
	}
	latency_add(&c->acks, now_ns - p->read_ns);
	bool warn = s_nnotes && s_note_take(p->seq, p->rid, p->rid_len, fields);
	if (!p->duplicate && !warn) {
		s_send(b, p->rid, p->rid_len, val.mv_data, val.mv_size, p->seq);
		return;
	}
	Ack *ack = jiceng__v1__ack__unpack(NULL, val.mv_size, val.mv_data);
	if (!ack) {
		log_error("undecodable verdict for seq %llu in %s", (unsigned long long)p->seq, c->role);
		return;
	}
	if (p->duplicate) {
		ack->original_verdict = ack->verdict;
		ack->verdict = JICENG__V1__VERDICT__DUPLICATE;
		b->counters.duplicates++;
		b->counters.dirty = true;
	}
	AckWarning w = JICENG__V1__WARNING__INIT, **had = ack->warnings, *all[INGEST_ACK_WARNINGS];
	warn = warn && ack->n_warnings < INGEST_ACK_WARNINGS;
	if (warn) {
		snprintf(reason, sizeof reason, "本版本不认识的字段未予记录 / fields this version of "
		    "jiceng does not know were dropped before journaling: %s", fields);
		w.code = "UNKNOWN_FIELDS";
		w.reason = reason;
		for (size_t i = 0; i < ack->n_warnings; i++)
			all[i] = had[i];
		all[ack->n_warnings++] = &w;
		ack->warnings = all;
	}
	size_t n = codec_ack_pack(ack, &buf);
	if (warn) {
		ack->warnings = had;  /* the decoder's, freed with ack */
		ack->n_warnings--;
	}
	if (buf) {
		s_send(b, p->rid, p->rid_len, buf, n, p->seq);
		free(buf);
	}
	jiceng__v1__ack__free_unpacked(ack, NULL);
}

void
ingest_resolve(struct broker *b, struct child *c)
{
	struct pending_queue *q = &c->pending;
	MDB_txn *txn;
	size_t done = 0;
	uint64_t durable = journal_durable_end(b->journal);
	uint64_t upto = c->cursor < durable ? c->cursor : durable;
	if (q->n == 0 || q->items[0].seq > upto)
		return;
	if (!c->state && children_open_state(b, c) != 0)
		return;
	int rc = store_read_begin(c->state, &txn);
	if (rc) {
		log_error("read %s state: %s", c->role, mdb_strerror(rc));
		return;
	}
	int64_t now_ns = now_mono_ns();
	while (done < q->n && q->items[done].seq <= upto)
		s_answer_from_state(b, c, txn, &q->items[done++], now_ns);
	mdb_txn_abort(txn);
	memmove(q->items, q->items + done, (q->n - done) * sizeof *q->items);
	q->n -= done;
}

void
ingest_sync(struct broker *b)
{
	static int skip = -1;
	if (skip < 0)
		skip = getenv("JICENG_FAULT_NO_IDLE_FLUSH") != NULL;  /* tests only */
	if (skip && !b->stopping)
		return;
	int rc = journal_sync(b->journal);
	if (rc)
		fatalx("journal flush failed: %s; what reached the disk is unknown, so nothing more "
		    "is acknowledged: check the disk and restart (clients resend what was not acknowledged)",
		    mdb_strerror(rc));
	for (unsigned i = 0; i < b->nchildren; i++)
		ingest_resolve(b, &b->children[i]);
	children_notify_durable(b);
}

bool
ingest_waiting(struct broker *b)
{
	int events = 0;
	size_t len = sizeof events;
	return zmq_getsockopt(b->ingest, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

int64_t
ingest_pace_ns(struct broker *b)
{
	int64_t due = b->commit_at_ns + (int64_t)b->cfg.commit_interval_us * 1000;
	int64_t now = now_mono_ns();
	return b->commit_at_ns && due > now ? due - now : 0;
}

uint64_t
ingest_backlog(struct broker *b)
{
	uint64_t end = journal_committed_end(b->journal), min = end;
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].domain != DOMAIN_NONE && b->children[i].cursor < min)
			min = b->children[i].cursor;
	return end - min;
}

/* ---------------------------------------------------------- reading */

static void
s_free_packed(void *data, void *hint)
{
	(void)hint;
	free(data);
}

/* The connection's key must be current and may write for the envelope's
 * township (a township key: its own only; a reader: nothing). Budgets are
 * the county's to allocate (docs/rules.md, Funds): a township key may not
 * send a BudgetAllocated, even for its own township. */
static int
s_authorise(struct broker *b, struct item *it)
{
	struct principal p;
	const char *code = NULL;
	char reason[200];
	if (security_principal(b->auth, &it->body, b->curve_ingest, &p, &code) == 0) {
		code = auth_write_refusal(&p, it->township);
		/* Not a loopback client without CURVE (AUTH_ROLE_LOCAL): a blind
		 * index is for the county's own key to hand over. */
		it->county = p.role == AUTH_ROLE_COUNTY;
		if (!code && p.role == AUTH_ROLE_TOWNSHIP &&
		    it->kind == JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED)
			code = AUTH_CODE_COUNTY_ONLY;
	}
	if (!code)
		return 0;
	if (strcmp(code, AUTH_CODE_COUNTY_ONLY) == 0)
		snprintf(reason, sizeof reason, "经费预算由县委组织部下达，乡镇密钥不能发送 / budgets "
		    "are allocated by the county: a township key may not send %s",
		    codec_event_name(it->kind));
	else if (strcmp(code, AUTH_CODE_WRONG_TOWNSHIP) == 0)
		snprintf(reason, sizeof reason, "密钥属于乡镇%s，不能代表%s发送 / your key belongs to township %s, not %s",
		    p.township, it->township, p.township, it->township);
	else if (strcmp(code, AUTH_CODE_READ_ONLY) == 0)
		snprintf(reason, sizeof reason, "只读密钥不能发送事件 / a reader key may only query");
	else if (strcmp(code, AUTH_CODE_KEY_REVOKED) == 0)
		snprintf(reason, sizeof reason, "密钥已被吊销 / this key has been revoked; reconnect with a valid key");
	else
		snprintf(reason, sizeof reason, "未认证的连接 / the connection is not authenticated");
	s_refuse(b, it->rid, it->rid_len, it->event_id, it->township, JICENG__V1__VERDICT__REJECTED, code, reason);
	return -1;
}

/* The checks after decoding: time, key, kind, domain. Returns 0, or -1
 * refused. */
static int
s_check_decoded(struct broker *b, struct item *it, const Envelope *e)
{
	char reason[200];
	if (e->occurred_at > now_wall_ms() + INGEST_MAX_SKEW_MS) {
		s_refuse(b, it->rid, it->rid_len, it->event_id, it->township, JICENG__V1__VERDICT__REJECTED,
		    "BAD_TIME", "occurred_at 在未来 / occurred_at is more than 10 minutes ahead of the server clock");
		return -1;
	}
	if (!config_township_known(&b->cfg, it->township)) {
		snprintf(reason, sizeof reason, "乡镇%s不属于本县 / township %s is not one of this "
		    "county's (setting townships)", it->township, it->township);
		s_refuse(b, it->rid, it->rid_len, it->event_id, it->township, JICENG__V1__VERDICT__REJECTED,
		    "UNKNOWN_TOWNSHIP", reason);
		return -1;
	}
	if (s_authorise(b, it) < 0)
		return -1;
	if (!codec_event_implemented(it->kind)) {
		snprintf(reason, sizeof reason, "本版本尚不处理该事件 / %s is not handled by this version of jiceng",
		    codec_event_name(it->kind));
		s_refuse(b, it->rid, it->rid_len, it->event_id, it->township,
		    JICENG__V1__VERDICT__REJECTED, "UNSUPPORTED_EVENT", reason);
		return -1;
	}
	if (!b->cfg.workers[it->domain]) {
		snprintf(reason, sizeof reason, "该领域未运行 / the %s worker is not running on this server",
		    codec_domain_name(it->domain));
		s_refuse(b, it->rid, it->rid_len, it->event_id, it->township,
		    JICENG__V1__VERDICT__REJECTED, "DOMAIN_NOT_SERVED", reason);
		return -1;
	}
	return 0;
}

/* The body becomes the envelope as it is journaled (iddigest_envelope):
 * packed anew by protobuf-c without the fields this version does not know
 * (noted for the ack's warning), an ID number replaced by its digest (a
 * county key's digest, a record resent as journaled, kept). The
 * frame as it came is wiped: it may carry the number. Returns 0, or -1
 * refused. */
static int
s_journal_form(struct broker *b, struct item *it, Envelope *e)
{
	struct codec_error err;
	struct codec_unknown unknown;
	uint8_t *packed;
	size_t len;
	int rc = iddigest_envelope(e, b->id_key, now_wall_ms(), it->county, &packed, &len, &unknown,
	    &err);
	/* Most envelopes come as protobuf-c packs them, without an ID number
	 * or an unknown field: journaled as they came. */
	if (rc == 0 && !unknown.n && len == zmq_msg_size(&it->body) &&
	    memcmp(packed, zmq_msg_data(&it->body), len) == 0) {
		free(packed);
		it->unknown[0] = '\0';
		return 0;
	}
	sodium_memzero(zmq_msg_data(&it->body), zmq_msg_size(&it->body));
	if (rc < 0) {
		s_refuse(b, it->rid, it->rid_len, it->event_id, it->township,
		    strcmp(err.code, "INTERNAL_ERROR") == 0 ? JICENG__V1__VERDICT__RETRY_LATER :
		    JICENG__V1__VERDICT__REJECTED, err.code, err.reason);
		return -1;
	}
	snprintf(it->unknown, sizeof it->unknown, "%s", unknown.n ? unknown.fields : "");
	if (unknown.n)
		s_log_rated(it->township, "UNKNOWN_FIELDS", "dropped unknown fields of an event from");
	zmq_msg_close(&it->body);
	if (zmq_msg_init_data(&it->body, packed, len, s_free_packed, NULL) < 0) {
		free(packed);
		zmq_msg_init(&it->body);
		s_refuse(b, it->rid, it->rid_len, it->event_id, it->township, JICENG__V1__VERDICT__RETRY_LATER,
		    "INTERNAL_ERROR", "内部错误，请重试 / internal error, retry");
		return -1;
	}
	return 0;
}

/* Check one received body; on success fill it. Returns 0, or -1 refused. */
static int
s_check(struct broker *b, struct item *it)
{
	struct codec_error err;
	size_t len = zmq_msg_size(&it->body);
	const uint8_t *data = zmq_msg_data(&it->body);
	Envelope *e = codec_envelope_decode(data, len, &err);
	if (!e) {
		s_refuse(b, it->rid, it->rid_len, err.event_id, NULL, JICENG__V1__VERDICT__REJECTED, err.code, err.reason);
		return -1;
	}
	snprintf(it->event_id, sizeof it->event_id, "%s", e->event_id);
	snprintf(it->township, sizeof it->township, "%s", e->township_id);
	it->kind = e->event_case;
	it->domain = codec_event_domain(e->event_case);
	int rc = s_check_decoded(b, it, e);
	if (rc == 0)
		rc = s_journal_form(b, it, e);
	codec_envelope_free(e);
	return rc;
}

/* Receive one client message into it. Returns 1 read, 0 none, -1 refused. */
static int
s_receive(struct broker *b, struct item *it)
{
	zmq_msg_t rid;
	int more;
	size_t ms = sizeof more;
	zmq_msg_init(&rid);
	if (zmq_msg_recv(&rid, b->ingest, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&rid);
		return 0;
	}
	it->rid_len = (uint8_t)(zmq_msg_size(&rid) > 255 ? 255 : zmq_msg_size(&rid));
	memcpy(it->rid, zmq_msg_data(&rid), it->rid_len);
	zmq_msg_close(&rid);
	zmq_msg_init(&it->body);
	if (zmq_msg_recv(&it->body, b->ingest, 0) < 0) {
		zmq_msg_close(&it->body);
		return 0;
	}
	zmq_getsockopt(b->ingest, ZMQ_RCVMORE, &more, &ms);
	if (more) {
		while (more) {
			zmq_msg_t x;
			zmq_msg_init(&x);
			zmq_msg_recv(&x, b->ingest, 0);
			zmq_msg_close(&x);
			zmq_getsockopt(b->ingest, ZMQ_RCVMORE, &more, &ms);
		}
		zmq_msg_close(&it->body);
		s_refuse(b, it->rid, it->rid_len, NULL, NULL, JICENG__V1__VERDICT__REJECTED, "MALFORMED",
		    "一条消息只能有一帧 / send one Envelope per single-frame message");
		return -1;
	}
	if (s_check(b, it) < 0) {
		/* A refused frame may carry an ID number: wiped, not just freed. */
		sodium_memzero(zmq_msg_data(&it->body), zmq_msg_size(&it->body));
		zmq_msg_close(&it->body);
		return -1;
	}
	return 1;
}

/* ---------------------------------------------------------- commit */

/* A record journaled before jicengd packed every envelope anew holds the
 * bytes its client sent; a resend of those bytes, packed now, is the same
 * event when the record, packed now the same way, is the same bytes. */
static bool
s_same_canonical(struct broker *b, MDB_txn *txn, struct item *it)
{
	struct journal_record r;
	uint8_t *packed;
	size_t len;
	bool same = false;
	if (journal_get(b->journal, txn, it->seq, &r) != 0)
		return false;
	Envelope *e = codec_envelope_unpack(r.envelope, r.envelope_len);
	if (!e)
		return false;
	codec_envelope_strip_unknown(e, NULL);
	if (codec_envelope_pack(e, &packed, &len) == 0) {
		same = len == zmq_msg_size(&it->body) && memcmp(packed, zmq_msg_data(&it->body), len) == 0;
		free(packed);
	}
	codec_envelope_free(e);
	return same;
}

static int
s_journal_items(struct broker *b, MDB_txn *txn, struct item *items, unsigned n)
{
	int64_t now = now_wall_ms();
	for (unsigned i = 0; i < n; i++) {
		struct item *it = &items[i];
		bool same;
		int rc = journal_lookup_id(b->journal, txn, it->township, it->event_id,
		    zmq_msg_data(&it->body), zmq_msg_size(&it->body), &it->seq, &same);
		if (rc == 0) {
			same = same || s_same_canonical(b, txn, it);
			it->outcome = same ? ITEM_DUP : ITEM_REUSED;
			continue;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
		rc = journal_append(b->journal, txn, now, it->kind, it->township, it->event_id,
		    zmq_msg_data(&it->body), zmq_msg_size(&it->body), &it->seq);
		if (rc)
			return rc;
		it->outcome = ITEM_NEW;
	}
	return 0;
}

int
ingest_journal_write(struct broker *b, ingest_fill_fn fill, void *arg)
{
	for (int attempt = 0;; attempt++) {
		MDB_txn *txn;
		int rc = journal_write_begin(b->journal, &txn);
		if (rc)
			return rc;
		if ((rc = fill(b, txn, arg)) == 0)
			rc = journal_commit(b->journal, txn);  /* ends txn either way */
		else
			journal_write_abort(b->journal, txn);
		if (rc != MDB_MAP_FULL || attempt > 0 || journal_grow(b->journal) != 0)
			return rc;
		log_info("journal map grown to %llu MiB",
		    (unsigned long long)(journal_map_size(b->journal) >> 20));
	}
}

struct items {
	struct item *items;
	unsigned n;
};

static int
s_fill_items(struct broker *b, MDB_txn *txn, void *arg)
{
	struct items *it = arg;
	return s_journal_items(b, txn, it->items, it->n);
}

/* One write transaction, one flush. */
static int
s_commit(struct broker *b, struct item *items, unsigned n)
{
	int64_t t0 = now_mono_ns();
	int rc = ingest_journal_write(b, s_fill_items, &(struct items){ items, n });
	if (rc)
		return rc;
	b->counters.commits++;
	b->counters.dirty = true;
	b->counters.commit_ms_total += (double)(now_mono_ns() - t0) / 1e6;
	if (n > b->counters.commit_events_max)
		b->counters.commit_events_max = n;
	return 0;
}

static void
s_after_commit(struct broker *b, struct item *items, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct item *it = &items[i];
		struct child *c = children_for_domain(b, it->domain);
		if (it->outcome == ITEM_REUSED) {
			s_refuse(b, it->rid, it->rid_len, it->event_id, it->township,
			    JICENG__V1__VERDICT__REJECTED, "ID_REUSED",
			    "该event_id已用于不同的内容 / event_id was already used for a different event");
			continue;
		}
		if (it->outcome == ITEM_NEW)
			b->counters.accepted_journaled++;
		if (!c || s_pending_push(&c->pending, it) < 0)
			s_refuse(b, it->rid, it->rid_len, it->event_id, it->township,
			    JICENG__V1__VERDICT__RETRY_LATER, "INTERNAL_ERROR", "内部错误，请重试 / internal error, retry");
		else if (it->unknown[0])
			s_note_add(it);
	}
	for (unsigned i = 0; i < b->nchildren; i++)
		ingest_resolve(b, &b->children[i]);
	children_notify_durable(b);
}

/* The items of one loop pass: allocated once (and again when a reload
 * raises max_batch), never cleared — s_receive fills what it uses. */
static struct item *
s_items(unsigned max)
{
	static struct item *items;
	static unsigned cap;
	if (max > cap) {
		struct item *grown = realloc(items, max * sizeof *items);
		if (!grown)
			return NULL;
		items = grown;
		cap = max;
	}
	return items;
}

int
ingest_read(struct broker *b)
{
	unsigned max = b->cfg.max_batch, n = 0, journaled = 0;
	struct item *items = s_items(max);
	if (!items)
		return 0;
	/* Whatever this pass reads was waiting when it began. */
	int64_t read_ns = now_mono_ns();
	while (n < max) {
		int r = s_receive(b, &items[n]);
		if (r == 0)
			break;
		if (r > 0)
			items[n++].read_ns = read_ns;
	}
	if (n == 0)
		goto out;
	b->read_at_ms = now_mono_ms();
	int64_t started = now_mono_ns();
	int rc = s_commit(b, items, n);
	if (rc) {
		/* A full map, disk, quota or file size limit: nothing the client
		 * did, and a resend succeeds once there is room. */
		bool full = rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT || rc == EFBIG;
		const char *code = full ? "STORAGE_FULL" : "INTERNAL_ERROR";
		log_error("journal commit of %u events failed: %s", n, mdb_strerror(rc));
		for (unsigned i = 0; i < n; i++)
			s_refuse(b, items[i].rid, items[i].rid_len, items[i].event_id, items[i].township,
			    JICENG__V1__VERDICT__RETRY_LATER, code,
			    "日志存储暂时不可用，请稍后重发 / journal storage unavailable, resend later");
		goto out;
	}
	for (unsigned i = 0; i < n; i++)
		journaled += items[i].outcome == ITEM_NEW;
	/* A commit of duplicates alone writes and flushes nothing. */
	if (journaled) {
		b->commit_at_ns = started;
		children_notify_journal(b);  /* before the acks: verdicts are on their path */
	}
	s_after_commit(b, items, n);
out:
	for (unsigned i = 0; i < n; i++)
		zmq_msg_close(&items[i].body);
	return (int)journaled;
}

/* Answer RETRY_LATER with code and reason to what clients send, after the
 * checks (a bad envelope gets its own refusal). */
static void
s_refuse_all(struct broker *b, const char *code, const char *reason)
{
	for (unsigned k = 0; k < b->cfg.max_batch; k++) {
		struct item it;
		int r = s_receive(b, &it);
		if (r == 0)
			return;
		if (r < 0)
			continue;
		s_refuse(b, it.rid, it.rid_len, it.event_id, it.township, JICENG__V1__VERDICT__RETRY_LATER,
		    code, reason);
		zmq_msg_close(&it.body);
	}
}

void
ingest_refuse_backlog(struct broker *b)
{
	s_refuse_all(b, "BACKLOG", "处理积压，请稍后重发 / backlog full, resend the same envelope later");
}

/* RETRY_LATER, not REJECTED: nothing is wrong with the event, and the same
 * resend succeeds at the primary, or here once this node is promoted. */
void
ingest_refuse_standby(struct broker *b)
{
	char name[160], reason[480];
	follow_primary_name(b, name, sizeof name);
	snprintf(reason, sizeof reason, "本节点为备用节点（跟随 %s），请发往主节点 / this node is a "
	    "standby following %s; send to the primary", name, name);
	s_refuse_all(b, "STANDBY", reason);
}

/* ---------------------------------------------------------- counters */

/* The broker's counters go into journal meta when changed, once a second
 * under load, within COUNTERS_QUIET_MS once ingest is quiet, and at stop
 * (ingest_flush_counters; jicengd.c decides when), never in a group
 * commit: a page more in each commit's flush cost a tenth of its time.
 * So stats lag by up to a second, and a machine crash loses at most that
 * second's counts. */
static int
s_put_counters(struct broker *b, MDB_txn *txn)
{
	struct counters *k = &b->counters;
	Jiceng__V1__Stats st = JICENG__V1__STATS__INIT;
	Jiceng__V1__CodeCount cc[BROKER_MAX_CODES], *ccp[BROKER_MAX_CODES];
	uint8_t buf[8192];
	for (unsigned i = 0; i < k->nrejected; i++) {
		jiceng__v1__code_count__init(&cc[i]);
		cc[i].code = k->rejected[i].code;
		cc[i].count = k->rejected[i].n;
		ccp[i] = &cc[i];
	}
	st.n_rejected = k->nrejected;
	st.rejected = ccp;
	st.duplicates = k->duplicates;
	st.retry_later = k->retry_later;
	st.commits = k->commits;
	st.commit_events_max = k->commit_events_max;
	st.fsync_ms_avg = k->commits ? k->commit_ms_total / (double)k->commits : 0;
	Jiceng__V1__StandbyStats sb = JICENG__V1__STANDBY_STATS__INIT;
	char problem[FOLLOW_PROBLEM_MAX];
	if (b->follow) {
		follow_stats(b, &sb, problem);
		st.standby = &sb;
	}
	size_t n = jiceng__v1__stats__get_packed_size(&st);
	if (n > sizeof buf)
		return 0;
	jiceng__v1__stats__pack(&st, buf);
	int rc = journal_meta_put(b->journal, txn, "broker_counters", buf, n);
	if (rc == 0)
		k->dirty = false;
	return rc;
}

void
ingest_flush_counters(struct broker *b)
{
	MDB_txn *txn;
	if (!b->counters.dirty || journal_write_begin(b->journal, &txn))
		return;
	if (s_put_counters(b, txn) != 0) {
		journal_write_abort(b->journal, txn);
		return;  /* map full: the next group commit grows it */
	}
	if (journal_commit(b->journal, txn))
		log_warnx("could not persist counters");
}

/* ---------------------------------------------------------- system events */

struct system_event {
	const Envelope *e;
	const uint8_t *buf;
	size_t n;
};

static int
s_fill_system(struct broker *b, MDB_txn *txn, void *arg)
{
	const struct system_event *s = arg;
	uint64_t seq;
	int rc = journal_append(b->journal, txn, now_wall_ms(), s->e->event_case, "", NULL,
	    s->buf, s->n, &seq);
	if (rc == 0 && s->e->event_case == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED)
		rc = ingest_rules_meta(b, txn, s->e->rules_changed->rules);
	return rc;
}

int
ingest_rules_meta(struct broker *b, MDB_txn *txn, const Rules *rules)
{
	size_t rn = jiceng__v1__rules__get_packed_size(rules);
	uint8_t rb[512];
	if (rn > sizeof rb)
		return 0;
	jiceng__v1__rules__pack(rules, rb);
	return journal_meta_put(b->journal, txn, "rules", rb, rn);
}

int
ingest_journal_system(struct broker *b, Envelope *e)
{
	uint8_t *buf;
	size_t n = jiceng__v1__envelope__get_packed_size(e);
	if (!(buf = malloc(n)))
		return ENOMEM;
	jiceng__v1__envelope__pack(e, buf);
	int rc = ingest_journal_write(b, s_fill_system, &(struct system_event){ e, buf, n });
	free(buf);
	if (rc == 0)
		children_notify_journal(b);
	return rc;
}

int
ingest_sync_rules(struct broker *b)
{
	MDB_txn *txn;
	const void *v;
	size_t len;
	uint8_t want[512];
	size_t wn = jiceng__v1__rules__get_packed_size(&b->cfg.rules);
	bool same = false;
	if (wn > sizeof want)
		return EINVAL;
	jiceng__v1__rules__pack(&b->cfg.rules, want);
	if (journal_read_begin(b->journal, &txn) == 0) {
		same = journal_meta_get(b->journal, txn, "rules", &v, &len) == 0 &&
		    len == wn && memcmp(v, want, wn) == 0;
		mdb_txn_abort(txn);
	}
	if (same)
		return 0;
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__RulesChanged rc_msg = JICENG__V1__RULES_CHANGED__INIT;
	rc_msg.rules = &b->cfg.rules;
	e.event_id = "rules";
	e.township_id = "";
	e.occurred_at = now_wall_ms();
	e.event_case = JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED;
	e.rules_changed = &rc_msg;
	int rc = ingest_journal_system(b, &e);
	if (rc == 0)
		log_info("rule settings changed: journaled RulesChanged at seq %llu",
		    (unsigned long long)journal_committed_end(b->journal));
	return rc;
}

/* ---------------------------------------------------------- sockets */

/* Township keys subscribe to their own township's status only (its members'
 * changes and those of members its orgs host) and to the heartbeat: a
 * request for everything ("status/" or "") becomes "status/<township>/"
 * and "status/heartbeat", a request for another township is dropped. */
void
ingest_status_subscriptions(struct broker *b)
{
	for (int k = 0; k < 64; k++) {
		zmq_msg_t m;
		struct principal p;
		const char *code = NULL;
		char topic[64];
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, b->status, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		const uint8_t *d = zmq_msg_data(&m);
		size_t n = zmq_msg_size(&m);
		int opt = n > 0 && d[0] == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE;
		snprintf(topic, sizeof topic, "%.*s", n > 1 ? (int)(n - 1 < 63 ? n - 1 : 63) : 0,
		    n > 1 ? (const char *)d + 1 : "");
		if (security_principal(b->auth, &m, b->curve_status, &p, &code) == 0 && p.township[0]) {
			char own[40];
			snprintf(own, sizeof own, "status/%s/", p.township);
			if (strncmp(topic, own, strlen(own)) != 0 && strncmp(own, topic, strlen(topic)) == 0) {
				zmq_setsockopt(b->status, opt, BROKER_HEARTBEAT_TOPIC,
				    strlen(BROKER_HEARTBEAT_TOPIC));
				snprintf(topic, sizeof topic, "%s", own);
			} else if (strncmp(topic, own, strlen(own)) != 0 &&
			    strcmp(topic, BROKER_HEARTBEAT_TOPIC) != 0) {
				code = AUTH_CODE_OUT_OF_SCOPE;
			}
		}
		if (code)
			log_info("status subscription \"%s\" refused: %s", topic, code);
		else
			zmq_setsockopt(b->status, opt, topic, strlen(topic));
		zmq_msg_close(&m);
	}
}

static int
s_secure(struct broker *b, void *sock, const char *endpoint, int *curve)
{
	char err[512];
	if ((*curve = security_curve_for(&b->cfg, endpoint, err, sizeof err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (!*curve)
		return 0;
	if (!b->auth && !(b->auth = auth_new(b->zctx, b->cfg.keys_dir, err, sizeof err))) {
		log_error("CURVE for %s: %s", endpoint, err);
		return -1;
	}
	if (auth_server_setup(b->auth, sock, b->cfg.server_key, err, sizeof err) < 0) {
		log_error("CURVE for %s: %s", endpoint, err);
		return -1;
	}
	log_info("%s: CURVE, client keys in %s", endpoint, b->cfg.keys_dir);
	return 0;
}

/* The status XPUB (manual subscriptions under CURVE), bound to its
 * endpoint; tries `tries` times 10 ms apart while the address is in use. */
static int
s_status_open(struct broker *b, int tries)
{
	int linger = 0, one = 1, rc;
	b->status = zmq_socket(b->zctx, ZMQ_XPUB);
	if (s_secure(b, b->status, b->cfg.status, &b->curve_status) < 0)
		return -1;
	if (b->curve_status)
		zmq_setsockopt(b->status, ZMQ_XPUB_MANUAL, &one, sizeof one);
	zmq_setsockopt(b->status, ZMQ_LINGER, &linger, sizeof linger);
	while ((rc = zmq_bind(b->status, b->cfg.status)) < 0 && zmq_errno() == EADDRINUSE &&
	    --tries > 0)
		usleep(10000);
	if (rc < 0) {
		log_error("cannot bind status %s: %s", b->cfg.status, zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

int
ingest_open(struct broker *b)
{
	char err[512];
	/* jiceng-query binds the query socket, but the refusal belongs here:
	 * the daemon must not start at all. */
	if (security_curve_for(&b->cfg, b->cfg.query, err, sizeof err) < 0) {
		log_error("%s", err);
		return -1;
	}
	int linger = 0, hwm = 10000, rcvhwm = INGEST_RCVHWM;
	int64_t maxmsg = INGEST_MAX_MSG;
	b->ingest = zmq_socket(b->zctx, ZMQ_ROUTER);
	if (s_secure(b, b->ingest, b->cfg.ingest, &b->curve_ingest) < 0)
		return -1;
	zmq_setsockopt(b->ingest, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(b->ingest, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	zmq_setsockopt(b->ingest, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(b->ingest, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
	if (zmq_bind(b->ingest, b->cfg.ingest) < 0) {
		log_error("cannot bind ingest %s: %s", b->cfg.ingest, zmq_strerror(zmq_errno()));
		return -1;
	}
	return s_status_open(b, 1);
}

int
ingest_status_rebind(struct broker *b)
{
	if (!b->curve_status)
		return 0;
	zmq_close(b->status);
	b->status = NULL;
	/* The old socket's listener is closed by ZeroMQ's I/O thread: the
	 * port may be taken for a moment. */
	if (s_status_open(b, 50) < 0)
		return -1;
	log_info("status socket bound again: subscribers authenticate anew");
	return 0;
}
