/*
 * publish: jiceng-mirror's side of NATS JetStream (libnats). It connects,
 * makes sure the stream exists as configured, tells where the stream ends
 * (its last message's Jiceng-Seq and Jiceng-Index headers) and publishes a
 * round of messages pipelined: every message carries its Nats-Msg-Id and
 * the stream sequence its predecessor must have (Nats-Expected-Last-
 * Sequence), and each after a round's first its predecessor's id as well
 * (Nats-Expected-Last-Msg-Id), so the stream takes each message once and
 * in order whatever fails; a round stops at the first message not
 * acknowledged in order. The id matters when someone else publishes under
 * the prefix: a message of theirs where one of the round's was refused
 * would give the next one the sequence it expects, but not the id. (The
 * round's first expects the sequence only: a restarted server may not
 * know the id of a message older than the duplicate window.)
 *
 * Only the round's last message asks for an acknowledgement: the stream
 * stores a message only when its predecessor is the stream's last, so the
 * last one's ack at the sequence it expects proves every one before it
 * stored in order (one lost or refused, and each after it is refused).
 * A round after trouble asks for every ack, so that the first refusal is
 * the one reported.
 *
 * libnats answers asynchronous publishes on its own thread (s_on_ack); the
 * round's bookkeeping is shared with it under a mutex.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "natsconn.h"
#include "mirror.h"
#include "now.h"

#define PUB_MAX_SERVERS 16
/* The stream's window for Nats-Msg-Id: a guard second to the expected last
 * sequence, it needs to outlast a round's wait for acks only (the server
 * keeps every id of the window in memory). */
#define PUB_DUPLICATE_WINDOW_MS 5000

struct publisher {
	const struct config *cfg;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	bool stream_checked;         /* the stream exists as configured */
	bool careful;                /* the last round failed: ask for every ack */
	atomic_bool reconnected;     /* libnats reconnected since the last look */
	char subjects[160];          /* <prefix>.> */
	struct natsconn_files files; /* [mirror]'s, in cfg */
	/* The round in flight, shared with s_on_ack. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const struct mirror_batch *round;  /* NULL between rounds: late acks are dropped */
	unsigned want;               /* wake the round's waiter at this many answers */
	int state[MIRROR_WINDOW];    /* 0 waiting (or no ack asked), 1 acknowledged, -1 refused */
	uint64_t acked[MIRROR_WINDOW];  /* stream sequence of each acknowledged one */
	unsigned answered, hint;
	char fail[256];              /* the round's first refusal */
	/* The round's plain publishes, destroyed together once all are sent:
	 * libnats hands each destroyed message to its collector thread, and
	 * one at a time that thread is woken for each. */
	natsMsg *held[MIRROR_WINDOW];
	unsigned nheld;
};

/* ---------------------------------------------------------- acks */

static void
s_fail_locked(struct publisher *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_fail_locked(struct publisher *p, const char *fmt, ...)
{
	va_list ap;
	if (p->fail[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->fail, sizeof p->fail, fmt, ap);
	va_end(ap);
}

/* The round's message with this Nats-Msg-Id; acks come in order, so the
 * one after the last answered is tried first. */
static int
s_slot(struct publisher *p, const char *id)
{
	unsigned n = p->round->n;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (p->hint + k) % n;
		if (strcmp(p->round->m[i].id, id) == 0)
			return (int)i;
	}
	return -1;
}

static void
s_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct publisher *p = closure;
	const char *id = NULL;
	(void)js;
	natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
	pthread_mutex_lock(&p->mu);
	int i = p->round && id ? s_slot(p, id) : -1;
	if (i >= 0 && p->state[i] == 0) {
		if (pa && !pa->Duplicate) {
			p->state[i] = 1;
			p->acked[i] = pa->Sequence;
		} else {
			p->state[i] = -1;
			if (pa)
				s_fail_locked(p, "%s: the stream already holds it (sequence %" PRIu64 ")",
				    id, pa->Sequence);
			else if (pae)
				s_fail_locked(p, "%s: %s (%d)", id, pae->ErrText ? pae->ErrText :
				    natsStatus_GetText(pae->Err), (int)pae->ErrCode);
		}
		p->answered++;
		p->hint = (unsigned)i + 1;
		if (p->answered >= p->want)
			pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	natsMsg_Destroy(msg);
}

/* ---------------------------------------------------------- connection */

static int
s_err(char *err, size_t errlen, natsStatus s, const char *what)
{
	const char *last = nats_GetLastError(NULL);
	snprintf(err, errlen, "%s: %s", what, last && *last ? last : natsStatus_GetText(s));
	return -1;
}

static void
s_on_reconnected(natsConnection *nc, void *closure)
{
	struct publisher *p = closure;
	(void)nc;
	atomic_store(&p->reconnected, true);
}

bool
publisher_reconnected(struct publisher *p)
{
	return atomic_exchange(&p->reconnected, false);
}

/* natsOptions from [mirror]: servers, credentials, TLS. */
static int
s_options(struct publisher *p, char *err, size_t errlen)
{
	const struct config *c = p->cfg;
	char list[sizeof c->mirror_servers], *save = NULL;
	const char *servers[PUB_MAX_SERVERS];
	int n = 0;
	natsStatus s;
	snprintf(list, sizeof list, "%s", c->mirror_servers);
	for (char *t = strtok_r(list, ", ", &save); t && n < PUB_MAX_SERVERS; t = strtok_r(NULL, ", ", &save))
		servers[n++] = t;
	if (n == 0) {
		snprintf(err, errlen, "[mirror] servers names no server");
		return -1;
	}
	if ((s = natsOptions_Create(&p->opts)) != NATS_OK)
		return s_err(err, errlen, s, "NATS options");
	natsOptions_SetServers(p->opts, servers, n);
	natsOptions_SetName(p->opts, "jiceng-mirror");
	/* A connect tries each server in turn: all of them within a few
	 * seconds, so that the mirror's heartbeat to jicengd goes on. */
	int64_t each = 3000 / n;
	natsOptions_SetTimeout(p->opts, each < 250 ? 250 : each > MIRROR_NATS_WAIT_MS ?
	    MIRROR_NATS_WAIT_MS : each);
	natsOptions_SetMaxReconnect(p->opts, -1);
	natsOptions_SetReconnectWait(p->opts, 250);
	natsOptions_SetPingInterval(p->opts, 2000);
	natsOptions_SetMaxPingsOut(p->opts, 2);
	natsOptions_SetReconnectedCB(p->opts, s_on_reconnected, p);
	err[0] = '\0';
	s = natsconn_files_set(p->opts, &p->files, err, errlen);
	if (s == NATS_OK || err[0])   /* else the nkey seed file's problem */
		return s == NATS_OK ? 0 : -1;
	return s_err(err, errlen, s, "NATS credentials or TLS files");
}

int
publisher_new(struct publisher **out, const struct config *cfg)
{
	struct publisher *p = calloc(1, sizeof *p);
	if (!p)
		return ENOMEM;
	p->cfg = cfg;
	snprintf(p->subjects, sizeof p->subjects, "%s.>", cfg->mirror_subject_prefix);
	p->files = (struct natsconn_files){ cfg->mirror_creds_file, cfg->mirror_nkey_seed_file,
	    cfg->mirror_tls_ca_file, cfg->mirror_tls_cert_file, cfg->mirror_tls_key_file };
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

static void
s_disconnect(struct publisher *p)
{
	jsCtx_Destroy(p->js);
	p->js = NULL;
	if (p->nc) {
		natsConnection_Close(p->nc);
		natsConnection_Destroy(p->nc);
	}
	p->nc = NULL;
	p->stream_checked = false;
}

void
publisher_destroy(struct publisher **pp)
{
	struct publisher *p = *pp;
	if (!p)
		return;
	s_disconnect(p);
	natsOptions_Destroy(p->opts);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	*pp = NULL;
}

bool
publisher_connected(struct publisher *p)
{
	return p->nc && natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* Create the stream, or check the one there: its subjects and replicas
 * must be what [mirror] says. */
static int
s_stream(struct publisher *p, char *err, size_t errlen)
{
	const struct config *c = p->cfg;
	jsStreamInfo *si = NULL;
	jsErrCode je = 0;
	natsStatus s = js_GetStreamInfo(&si, p->js, c->mirror_stream, NULL, &je);
	if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr) {
		jsStreamConfig sc;
		const char *subjects[1] = { p->subjects };
		jsStreamConfig_Init(&sc);
		sc.Name = c->mirror_stream;
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Replicas = (int64_t)c->mirror_replicas;
		sc.Retention = js_LimitsPolicy;
		sc.Duplicates = (int64_t)PUB_DUPLICATE_WINDOW_MS * 1000000;
		if ((s = js_AddStream(&si, p->js, &sc, NULL, &je)) != NATS_OK)
			return s_err(err, errlen, s, "cannot create the stream");
		log_info("created stream %s (subjects %s, %u replica%s, file storage, duplicate window "
		    "%d s)", c->mirror_stream, p->subjects, c->mirror_replicas,
		    c->mirror_replicas == 1 ? "" : "s", PUB_DUPLICATE_WINDOW_MS / 1000);
	} else if (s != NATS_OK) {
		return s_err(err, errlen, s, "stream info");
	}
	bool same = si->Config->SubjectsLen == 1 && strcmp(si->Config->Subjects[0], p->subjects) == 0 &&
	    (si->Config->Replicas == (int64_t)c->mirror_replicas ||
	    (si->Config->Replicas == 0 && c->mirror_replicas == 1));
	if (!same)
		snprintf(err, errlen, "流配置不符 / stream %s exists with subjects %s... and %d "
		    "replicas, but [mirror] wants subjects %s and %u replicas: fix [mirror] or the stream",
		    c->mirror_stream, si->Config->SubjectsLen ? si->Config->Subjects[0] : "(none)",
		    (int)si->Config->Replicas, p->subjects, c->mirror_replicas);
	jsStreamInfo_Destroy(si);
	return same ? 0 : -1;
}

int
publisher_ready(struct publisher *p, char *err, size_t errlen)
{
	natsStatus s;
	if (!p->opts && s_options(p, err, errlen) < 0)
		return -1;
	if (!p->nc) {
		if ((s = natsConnection_Connect(&p->nc, p->opts)) != NATS_OK) {
			p->nc = NULL;
			s_err(err, errlen, s, "cannot connect");
			natsconn_hint(err, errlen, "mirror", &p->files);
			return -1;
		}
		jsOptions jo;
		jsOptions_Init(&jo);
		jo.Wait = MIRROR_NATS_WAIT_MS;
		jo.PublishAsync.MaxPending = MIRROR_WINDOW;
		jo.PublishAsync.AckHandler = s_on_ack;
		jo.PublishAsync.AckHandlerClosure = p;
		if ((s = natsConnection_JetStream(&p->js, p->nc, &jo)) != NATS_OK) {
			s_disconnect(p);
			return s_err(err, errlen, s, "JetStream context");
		}
	}
	if (!publisher_connected(p)) {
		snprintf(err, errlen, "connection lost, reconnecting");
		return -1;
	}
	if (!p->stream_checked && s_stream(p, err, errlen) < 0)
		return -1;
	p->stream_checked = true;
	return 0;
}

/* ---------------------------------------------------------- position */

static bool
s_header_u64(natsMsg *m, const char *key, uint64_t *v)
{
	const char *s = NULL;
	char *end;
	if (natsMsgHeader_Get(m, key, &s) != NATS_OK || !s || !*s)
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == 0;
}

int
publisher_last(struct publisher *p, struct mirror_pos *pos, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	natsMsg *m = NULL;
	jsErrCode je = 0;
	uint64_t last, seq, index;
	natsStatus s = js_GetStreamInfo(&si, p->js, p->cfg->mirror_stream, NULL, &je);
	if (s != NATS_OK)
		return s_err(err, errlen, s, "stream info");
	last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	memset(pos, 0, sizeof *pos);
	if (last == 0)
		return 0;
	if ((s = js_GetMsg(&m, p->js, p->cfg->mirror_stream, last, NULL, &je)) != NATS_OK)
		return s_err(err, errlen, s, "the stream's last message");
	if (!s_header_u64(m, "Jiceng-Seq", &seq)) {
		snprintf(err, errlen, "流中有非jiceng消息 / the stream's last message (sequence %" PRIu64
		    ", subject %s) has no Jiceng-Seq header: something else publishes to %s",
		    last, natsMsg_GetSubject(m), p->subjects);
		natsMsg_Destroy(m);
		return -1;
	}
	pos->seq = seq;
	pos->next_index = s_header_u64(m, "Jiceng-Index", &index) ? (uint32_t)index + 1 : 0;
	pos->stream_seq = last;
	natsMsg_Destroy(m);
	return 0;
}

/* ---------------------------------------------------------- a round */

/* m, expecting the stream's last sequence to be expect (0, for the
 * stream's first message, is not sent) and its last message's id prev
 * (NULL: not checked). With ack, through JetStream's asynchronous publish
 * (its ack comes to s_on_ack); else as a plain publish with the same
 * headers, which JetStream stores all the same. */
static natsStatus
s_send_one(struct publisher *p, const struct mirror_msg *m, uint64_t expect, const char *prev,
    bool ack)
{
	natsMsg *nm = NULL;
	char v[24];
	natsStatus s = natsMsg_Create(&nm, m->subject, NULL, (const char *)m->body, (int)m->len);
	if (s != NATS_OK)
		return s;
	snprintf(v, sizeof v, "%" PRIu64, m->seq);
	s = natsMsgHeader_Set(nm, "Jiceng-Seq", v);
	if (s == NATS_OK && m->index >= 0) {
		snprintf(v, sizeof v, "%" PRId64, m->index);
		s = natsMsgHeader_Set(nm, "Jiceng-Index", v);
	}
	if (s == NATS_OK && ack) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = m->id;
		po.ExpectLastSeq = expect;
		po.ExpectLastMsgId = prev;
		s = js_PublishMsgAsync(p->js, &nm, &po);
	} else if (s == NATS_OK) {
		s = natsMsgHeader_Set(nm, "Nats-Msg-Id", m->id);
		if (s == NATS_OK && expect > 0) {
			snprintf(v, sizeof v, "%" PRIu64, expect);
			s = natsMsgHeader_Set(nm, "Nats-Expected-Last-Sequence", v);
		}
		if (s == NATS_OK && prev)
			s = natsMsgHeader_Set(nm, "Nats-Expected-Last-Msg-Id", prev);
		if (s == NATS_OK)
			s = natsConnection_PublishMsg(p->nc, nm);
		if (s == NATS_OK) {
			p->held[p->nheld++] = nm;
			return s;
		}
	}
	natsMsg_Destroy(nm);  /* no-op when libnats took it */
	return s;
}

static void
s_release(struct publisher *p)
{
	for (unsigned i = 0; i < p->nheld; i++)
		natsMsg_Destroy(p->held[i]);
	p->nheld = 0;
}

/* Wait for the `asked` acks, until the deadline; then take back from
 * libnats what is still unanswered. */
static void
s_wait(struct publisher *p, unsigned asked)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += MIRROR_NATS_WAIT_MS / 1000 + 1;
	pthread_mutex_lock(&p->mu);
	p->want = asked;
	while (p->answered < asked)
		if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT)
			break;
	bool late = p->answered < asked;
	pthread_mutex_unlock(&p->mu);
	if (late) {
		natsMsgList pending;
		if (js_PublishAsyncGetPendingList(&pending, p->js) == NATS_OK)
			natsMsgList_Destroy(&pending);
	}
	pthread_mutex_lock(&p->mu);
	if (late)
		s_fail_locked(p, "no acknowledgement within %d ms", MIRROR_NATS_WAIT_MS + 1000);
	p->round = NULL;
	pthread_mutex_unlock(&p->mu);
}

/* How many of the round's `sent` messages are surely stored in order: up
 * to the last acknowledged at the sequence it expected, with none asked
 * before it refused. */
static unsigned
s_stored(struct publisher *p, const struct mirror_batch *b, uint64_t base, unsigned sent)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < sent; i++) {
		if (p->state[i] == 0)
			continue;
		if (p->state[i] < 0)
			break;
		if (p->acked[i] != base + i + 1) {
			if (!p->fail[0])
				snprintf(p->fail, sizeof p->fail, "%s acknowledged as stream sequence %"
				    PRIu64 ", expected %" PRIu64 ": another publisher writes to %s",
				    b->m[i].id, p->acked[i], base + i + 1, p->subjects);
			break;
		}
		ok = i + 1;
	}
	return ok;
}

unsigned
publisher_send(struct publisher *p, struct mirror_batch *b, struct mirror_pos *pos,
    char *err, size_t errlen)
{
	uint64_t base = pos->stream_seq;
	unsigned sent = 0, asked = 0, ok;
	pthread_mutex_lock(&p->mu);
	p->round = b;
	p->answered = p->hint = 0;
	p->want = UINT_MAX;
	p->fail[0] = 0;
	memset(p->state, 0, sizeof p->state);
	pthread_mutex_unlock(&p->mu);
	for (; sent < b->n; sent++) {
		bool ack = p->careful || sent == b->n - 1;
		natsStatus s = s_send_one(p, &b->m[sent], base + sent,
		    sent > 0 ? b->m[sent - 1].id : NULL, ack);
		if (s != NATS_OK) {
			pthread_mutex_lock(&p->mu);
			s_fail_locked(p, "publish %s: %s", b->m[sent].id, natsStatus_GetText(s));
			pthread_mutex_unlock(&p->mu);
			break;
		}
		asked += ack;
	}
	s_release(p);
	s_wait(p, asked);
	ok = s_stored(p, b, base, sent);
	if (ok > 0) {
		mirror_pos_after(&b->m[ok - 1], base + ok, pos);
		pos->acked_at = now_wall_ms();
	}
	p->careful = ok < b->n;
	if (ok < b->n)
		snprintf(err, errlen, "%s", p->fail[0] ? p->fail : "round cut short");
	return ok;
}
