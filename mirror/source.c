/*
 * source: what jiceng-mirror publishes, read as a worker reads it: the
 * journal straight from its LMDB map, and the running workers' state
 * environments (cursor, verdicts, the membership worker's status change
 * log), all read-only. It decides nothing: a seq goes out once every
 * worker's cursor has passed it, with the verdict its owner stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be64.h"
#include "codec.h"
#include "fold.h"
#include "journal.h"
#include "log.h"
#include "membership.h"
#include "mirror.h"
#include "records.h"
#include "store.h"

/* A worker's environment, opened on first use and again after a rebuild
 * replaced its file. */
struct wstate {
	bool running;                /* the domain is configured */
	MDB_env *env;
	MDB_dbi meta, verdicts;
	struct membership *membership;  /* the membership worker's tables */
	char path[CONFIG_PATH_MAX + 64];
};

struct source {
	const struct config *cfg;
	struct journal *journal;
	struct wstate w[DOMAIN_COUNT];
	uint64_t pruned_warned;      /* the change log's pruning already reported up to */
};

/* ---------------------------------------------------------- subjects */

void
mirror_subject_token(const char *id, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	if (!*id) {
		snprintf(out, len, "_county");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)id; *p && o + 4 < len; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '~';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
}

/* ---------------------------------------------------------- worker envs */

static void
s_wclose(struct wstate *w)
{
	membership_destroy(&w->membership);
	if (w->env)
		mdb_env_close(w->env);
	w->env = NULL;
}

static int
s_wopen(struct wstate *w, enum domain d)
{
	MDB_txn *txn;
	int rc;
	if (w->env)
		return 0;
	if ((rc = store_open_readonly(w->path, 64, &w->env)))
		return rc;
	if ((rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn)))
		goto fail;
	if ((rc = mdb_dbi_open(txn, "meta", 0, &w->meta)) ||
	    (rc = mdb_dbi_open(txn, "verdicts", 0, &w->verdicts)) ||
	    (d == DOMAIN_MEMBERSHIP && (rc = membership_open_readonly(txn, &w->membership)))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) == 0)
		return 0;
fail:
	s_wclose(w);
	return rc;
}

/* A read transaction on domain d's environment; MDB_NOTFOUND while the
 * worker has not created it. */
static int
s_wread(struct source *s, enum domain d, MDB_txn **txn)
{
	int rc = s_wopen(&s->w[d], d);
	return rc ? rc : store_read_begin(s->w[d].env, txn);
}

void
source_drop_replaced(struct source *s)
{
	for (int d = 0; d < DOMAIN_COUNT; d++)
		if (s->w[d].env && store_replaced(s->w[d].env, s->w[d].path)) {
			log_info("%s was rebuilt: reading the new file", s->w[d].path);
			s_wclose(&s->w[d]);
		}
}

uint64_t
source_journal_end(struct source *s)
{
	uint64_t end = 0;
	journal_end(s->journal, &end);
	return end;
}

/* ---------------------------------------------------------- messages */

static int
s_body(struct mirror_msg *m, size_t len)
{
	if (len > m->cap) {
		uint8_t *grown = realloc(m->body, len);
		if (!grown)
			return ENOMEM;
		m->body = grown;
		m->cap = len;
	}
	m->len = len;
	return 0;
}

void
mirror_batch_free(struct mirror_batch *b)
{
	for (unsigned i = 0; i < MIRROR_WINDOW; i++) {
		free(b->m[i].body);
		b->m[i].body = NULL;
		b->m[i].cap = 0;
	}
	b->n = 0;
}

void
mirror_pos_after(const struct mirror_msg *m, uint64_t stream_seq, struct mirror_pos *pos)
{
	pos->seq = m->seq;
	pos->next_index = m->index < 0 ? 0 : (uint32_t)m->index + 1;
	pos->stream_seq = stream_seq;
}

/* The verdict the owning worker stored for r, into mr (Tick and
 * RulesChanged: accepted, nobody owns them). wt: a read transaction on
 * each running worker's environment. */
static int
s_verdict(struct source *s, MDB_txn *const *wt, const struct journal_record *r,
    MirroredRecord *mr, Ack **ack)
{
	enum domain d = codec_event_domain((EventCase)r->kind);
	*ack = NULL;
	mr->verdict = JICENG__V1__VERDICT__ACCEPTED;
	if (d == DOMAIN_NONE)
		return 0;
	mr->verdict = JICENG__V1__VERDICT__VERDICT_UNSPECIFIED;  /* no worker for it here */
	if (!wt[d])
		return 0;
	int rc = fold_read_verdict(wt[d], s->w[d].verdicts, r->seq, ack);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	mr->verdict = (*ack)->verdict;
	mr->reason = (*ack)->reason;
	if ((*ack)->verdict != JICENG__V1__VERDICT__ACCEPTED)
		mr->verdict_code = (*ack)->code;
	return 0;
}

/* The record of seq as a message. */
static int
s_record(struct source *s, MDB_txn *jt, MDB_txn *const *wt, uint64_t seq, struct mirror_msg *m)
{
	MirroredRecord mr = JICENG__V1__MIRRORED_RECORD__INIT;
	struct journal_record r;
	const char *quarantine = NULL;
	char token[3 * 256 + 8];
	Ack *ack;
	int rc = journal_get(s->journal, jt, seq, &r);
	if (rc)
		return rc;
	if ((rc = journal_quarantined(s->journal, jt, seq, &quarantine)) && rc != MDB_NOTFOUND)
		return rc;
	if ((rc = s_verdict(s, wt, &r, &mr, &ack)))
		return rc;
	mr.seq = seq;
	mr.record.data = (uint8_t *)r.raw;
	mr.record.len = r.raw_len;
	mr.quarantine = quarantine ? (char *)quarantine : "";
	mr.received_at = r.received_at;
	mr.township_id = (char *)r.township_id;
	mr.kind = r.kind;
	mirror_subject_token(r.township_id, token, sizeof token);
	m->seq = seq;
	m->index = -1;
	snprintf(m->subject, sizeof m->subject, "%s.ev.%s.%s", s->cfg->mirror_subject_prefix,
	    token, codec_event_name((EventCase)r.kind));
	snprintf(m->id, sizeof m->id, "%s-%llu-ev", s->cfg->mirror_stream, (unsigned long long)seq);
	if ((rc = s_body(m, jiceng__v1__mirrored_record__get_packed_size(&mr))) == 0)
		jiceng__v1__mirrored_record__pack(&mr, m->body);
	if (ack)
		jiceng__v1__ack__free_unpacked(ack, NULL);
	return rc;
}

/* One status change (the log's value, as the status socket sends it). */
static int
s_status(struct source *s, uint64_t seq, uint32_t index, const MDB_val *v, struct mirror_msg *m)
{
	char token[3 * 256 + 8];
	StatusChange *sc = jiceng__v1__status_change__unpack(NULL, v->mv_size, v->mv_data);
	if (!sc)
		return MDB_CORRUPTED;
	mirror_subject_token(sc->township_id, token, sizeof token);
	jiceng__v1__status_change__free_unpacked(sc, NULL);
	m->seq = seq;
	m->index = index;
	snprintf(m->subject, sizeof m->subject, "%s.status.%s", s->cfg->mirror_subject_prefix, token);
	snprintf(m->id, sizeof m->id, "%s-%llu-st-%u", s->cfg->mirror_stream,
	    (unsigned long long)seq, index);
	int rc = s_body(m, v->mv_size);
	if (rc == 0)
		memcpy(m->body, v->mv_data, v->mv_size);
	return rc;
}

/* Say once if the change log was pruned past seq before it went out. */
static void
s_check_pruned(struct source *s, MDB_txn *txn, uint64_t seq)
{
	uint64_t pseq;
	uint32_t pindex;
	if (records_change_pruned(s->w[DOMAIN_MEMBERSHIP].membership, txn, &pseq, &pindex) == 0 &&
	    pseq >= seq && pseq > s->pruned_warned) {
		log_error("the status change log was pruned through seq %llu before the mirror "
		    "published it: the stream lacks status changes from seq %llu to %llu "
		    "(raise status.retention_days or keep NATS reachable)",
		    (unsigned long long)pseq, (unsigned long long)seq, (unsigned long long)pseq);
		s->pruned_warned = pseq;
	}
}

/* The status changes of seq from index `from` on (c: a cursor on the
 * change log), into b while it has room. *all says whether every one of
 * them is in. */
static int
s_statuses(struct source *s, MDB_cursor *c, uint64_t seq, uint32_t from, struct mirror_batch *b,
    bool *all)
{
	uint8_t kb[12];
	MDB_val k = { sizeof kb, kb }, v;
	int rc, op = MDB_SET_RANGE;
	*all = true;
	records_seq_key(kb, seq, from);
	for (; (rc = mdb_cursor_get(c, &k, &v, op)) == 0; op = MDB_NEXT) {
		uint64_t kseq;
		uint32_t index;
		if (!records_seq_key_split(&k, &kseq, &index)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (kseq != seq)
			break;
		if (b->n == MIRROR_WINDOW) {
			*all = false;
			break;
		}
		if ((rc = s_status(s, seq, index, &v, &b->m[b->n])))
			break;
		b->n++;
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
s_end_reads(MDB_txn *jt, MDB_txn **wt)
{
	for (int d = 0; d < DOMAIN_COUNT; d++)
		if (wt[d])
			mdb_txn_abort(wt[d]);
	if (jt)
		mdb_txn_abort(jt);
}

/* The least cursor of the running workers, read in their transactions wt:
 * the seqs up to it are decided, their quarantine and status changes
 * written. */
static uint64_t
s_decided(struct source *s, MDB_txn *const *wt)
{
	uint64_t least = UINT64_MAX;
	for (int d = 0; d < DOMAIN_COUNT; d++) {
		uint64_t cur = 0;
		if (!s->w[d].running)
			continue;
		fold_cursor_get(wt[d], s->w[d].meta, &cur);
		if (cur < least)
			least = cur;
	}
	return least == UINT64_MAX ? 0 : least;
}

int
source_fill(struct source *s, const struct mirror_pos *pos, uint64_t durable,
    struct mirror_batch *b)
{
	MDB_txn *jt = NULL, *wt[DOMAIN_COUNT] = { NULL };
	MDB_cursor *changes = NULL;
	uint64_t seq = pos->seq, through;
	bool all = true;
	int rc = 0;
	b->n = 0;
	if (seq > durable || durable == 0)
		return 0;
	for (int d = 0; d < DOMAIN_COUNT && rc == 0; d++)
		if (s->w[d].running)
			rc = s_wread(s, (enum domain)d, &wt[d]);
	/* The journal's snapshot after the workers': it holds all they applied. */
	if (rc || (rc = journal_read_begin(s->journal, &jt))) {
		s_end_reads(jt, wt);
		return rc;
	}
	through = s_decided(s, wt);
	if (through > durable)
		through = durable;
	MDB_txn *mt = wt[DOMAIN_MEMBERSHIP];
	if (seq > through || through == 0 || !mt) {
		s_end_reads(jt, wt);
		return 0;
	}
	s_check_pruned(s, mt, seq + 1);
	rc = mdb_cursor_open(mt, s->w[DOMAIN_MEMBERSHIP].membership->changes, &changes);
	/* The rest of pos's seq first: its record is in, some of its status
	 * changes may not be. */
	if (rc == 0 && seq > 0)
		rc = s_statuses(s, changes, seq, pos->next_index, b, &all);
	while (rc == 0 && all && seq < through && b->n < MIRROR_WINDOW) {
		seq++;
		if ((rc = s_record(s, jt, wt, seq, &b->m[b->n])))
			break;
		b->n++;
		rc = s_statuses(s, changes, seq, 0, b, &all);
	}
	if (changes)
		mdb_cursor_close(changes);
	s_end_reads(jt, wt);
	return rc;
}

/* ---------------------------------------------------------- life */

int
source_open(struct source **out, const struct config *cfg, char *err, size_t errlen)
{
	struct source *s = calloc(1, sizeof *s);
	int rc;
	if (!s)
		return ENOMEM;
	s->cfg = cfg;
	if ((rc = journal_open(&s->journal, cfg->data_dir, cfg->journal_map_mb,
	    cfg->journal_map_max_mb, true))) {
		snprintf(err, errlen, "cannot open the journal in %s: %s", cfg->data_dir,
		    mdb_strerror(rc));
		free(s);
		return rc;
	}
	for (int d = 0; d < DOMAIN_COUNT; d++) {
		s->w[d].running = cfg->workers[d];
		fold_state_path(cfg->derived_dir, (enum domain)d, s->w[d].path, sizeof s->w[d].path);
	}
	*out = s;
	return 0;
}

void
source_close(struct source **sp)
{
	struct source *s = *sp;
	if (!s)
		return;
	for (int d = 0; d < DOMAIN_COUNT; d++)
		s_wclose(&s->w[d]);
	journal_close(&s->journal);
	free(s);
	*sp = NULL;
}
