/*
 * fold: the journal applied to one domain's state environment. It owns the
 * state env's bookkeeping tables (meta, verdicts, counts) and the batching;
 * the rules live in the domain modules it calls.
 *
 * The events of a batch are applied in one write transaction, with the
 * cursor, the verdicts and the counts, so state == fold(rules,
 * journal[1..cursor]) at every commit. A rejected event must change
 * nothing: the modules decide before they write, and should one ever write
 * and then reject (membership_writes tells), the batch is undone and done
 * again up to that event with its verdict alone.
 *
 * The env is MDB_WRITEMAP (commits write into the map instead of copying
 * every dirty page through pwrite: about 40% of the fold's CPU, measured) and so
 * has no nested transactions. A write into a hole of its sparse file that
 * finds the disk full would be SIGBUS, so the blocks ahead of the last used
 * page are kept allocated (s_reserve). MDB_NORDAHEAD: a fault on a fresh
 * page must not read ahead, i.e. zero-fill, megabytes of holes (a 25 ms
 * stall of the worker every half second under load, measured).
 */
#include "fold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "domain.h"
#include "be64.h"
#include "idnum.h"
#include "log.h"
#include "membership.h"
#include "store.h"

#define FOLD_EXTRA_DBS 4
/* Blocks kept allocated past the last used page, topped up in small steps:
 * on tmpfs fallocate zero-fills, and refilling 32 MiB at once stalled the
 * worker 9-13 ms every ~0.7 s under load (4 MiB: ~1 ms). */
#define FOLD_RESERVE ((off_t)64 << 20)
#define FOLD_RESERVE_STEP ((off_t)4 << 20)
/* s_apply_range: an event was rejected after it had written. */
#define S_LATE_REJECTION (-1)
/* Distinct counters a batch adds to in memory before its commit writes
 * them (more go straight to the table). */
#define FOLD_BATCH_COUNTS 32

/* A counter of the counts table and what the open batch adds to it; kind
 * and accepted (else -1) name an event counter without formatting it. */
struct batch_count {
	char name[64];
	uint64_t n;
	EventCase kind;
	int accepted;
};

struct fold {
	struct journal *journal;     /* read-only journal */
	MDB_env *env;                /* this domain's state env */
	MDB_dbi meta, verdicts, counts;
	enum domain domain;
	struct membership *membership;
	const struct domain_module *module;   /* meetings, funds; NULL for membership */
	void *module_state;
	Rules rules;                 /* in force at the cursor */
	uint8_t id_key[IDNUM_KEY_LEN];
	uint64_t cursor;
	const char *crash_event_id;  /* fault injection for the crash tests */
	const char *late_event_id;   /* fault injection: reject after writing */
	uint64_t late_seq;           /* its verdict only, none of its effects */
	struct verdict late_vd;
	int fd;                      /* of the state file, for s_reserve */
	off_t psize;
	off_t reserved;              /* state file allocated up to here */
	bool reserve_unsupported;
	fold_status_fn on_status;
	void *on_status_arg;
	fold_remap_fn on_remap;
	void *on_remap_arg;
	struct batch_count counts_due[FOLD_BATCH_COUNTS];
	unsigned ncounts_due;
};

/* ---------------------------------------------------------- open */

void
fold_state_path(const char *derived_dir, enum domain d, char *out, size_t len)
{
	snprintf(out, len, "%s/state/%s.mdb", derived_dir, codec_domain_name(d));
}

static int
s_open_tables(struct fold *f)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(f->env, NULL, 0, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &f->meta)) ||
	    (rc = mdb_dbi_open(txn, "verdicts", MDB_CREATE, &f->verdicts)) ||
	    (rc = mdb_dbi_open(txn, "counts", MDB_CREATE, &f->counts)) ||
	    (rc = membership_open(txn, &f->membership)) ||
	    (f->module && (rc = f->module->open(txn, MDB_CREATE, f->membership,
	    &f->module_state))) ||
	    (rc = membership_rules(f->membership, txn, &f->rules)) ||
	    (rc = fold_cursor_get(txn, f->meta, &f->cursor)))
		goto fail;
	return mdb_txn_commit(txn);
fail:
	mdb_txn_abort(txn);
	return rc;
}

/* Keep the state file allocated FOLD_RESERVE past its last used page (at
 * most to the map's end), so that no write into the map meets a full disk. */
static int
s_reserve(struct fold *f)
{
	MDB_envinfo info;
	if (f->reserve_unsupported || mdb_env_info(f->env, &info))
		return 0;
	off_t used = (off_t)(info.me_last_pgno + 1) * f->psize;
	off_t want = used + FOLD_RESERVE, end = (off_t)info.me_mapsize;
	if (want > end)
		want = end;
	if (want <= f->reserved || (want - f->reserved < FOLD_RESERVE_STEP && want < end))
		return 0;
	if (fallocate(f->fd, 0, f->reserved, want - f->reserved) < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			log_error("cannot reserve %lld MiB of disk for the state file: %s",
			    (long long)((want - f->reserved) >> 20), strerror(errno));
			return ENOSPC;
		}
		log_warnx("the file system cannot preallocate the state file (%s): "
		    "a full disk will stop this worker", strerror(errno));
		f->reserve_unsupported = true;
		return 0;
	}
	f->reserved = want;
	return 0;
}

int
fold_open(struct fold **out, struct journal *j, enum domain d, const char *path,
    const struct config *cfg)
{
	struct fold *f = calloc(1, sizeof *f);
	int rc;
	if (!f)
		return ENOMEM;
	f->journal = j;
	f->domain = d;
	f->module = domain_module(d);
	f->crash_event_id = getenv("JICENG_FAULT_CRASH_EVENT");
	f->late_event_id = getenv("JICENG_FAULT_LATE_REJECT");
	if (idnum_key_load(cfg->id_key_file, false, f->id_key) < 0) {
		rc = errno ? errno : EINVAL;
		log_warn("cannot load the ID blind-index key %s", cfg->id_key_file);
		goto fail;
	}
	if ((rc = mdb_env_create(&f->env)))
		goto fail;
	mdb_env_set_maxdbs(f->env, MEMBERSHIP_MAX_DBS + FOLD_EXTRA_DBS +
	    (f->module ? f->module->max_dbs : 0));
	if ((rc = mdb_env_set_mapsize(f->env, cfg->state_map_mb << 20)))
		goto fail;
	/* No per-commit fsync: the journal replays whatever a crash loses. */
	if ((rc = mdb_env_open(f->env, path,
	    MDB_NOSUBDIR | MDB_NOSYNC | MDB_WRITEMAP | MDB_NORDAHEAD, 0640)))
		goto fail;
	int dead;
	mdb_reader_check(f->env, &dead);
	MDB_stat st;
	if ((rc = mdb_env_get_fd(f->env, &f->fd)) || (rc = mdb_env_stat(f->env, &st)))
		goto fail;
	f->psize = st.ms_psize;
	if ((rc = s_reserve(f)) || (rc = s_open_tables(f)))
		goto fail;
	*out = f;
	return 0;
fail:
	if (f->env)
		mdb_env_close(f->env);
	free(f);
	return rc;
}

void
fold_destroy(struct fold **fp)
{
	struct fold *f = *fp;
	if (!f)
		return;
	if (f->module)
		f->module->close(&f->module_state);
	membership_destroy(&f->membership);
	mdb_env_sync(f->env, 1);
	mdb_env_close(f->env);
	free(f);
	*fp = NULL;
}

uint64_t
fold_cursor(struct fold *f)
{
	return f->cursor;
}

void
fold_on_status(struct fold *f, fold_status_fn fn, void *arg)
{
	f->on_status = fn;
	f->on_status_arg = arg;
}

void
fold_on_remap(struct fold *f, fold_remap_fn fn, void *arg)
{
	f->on_remap = fn;
	f->on_remap_arg = arg;
}

MDB_env *
fold_env(struct fold *f)
{
	return f->env;
}

/* ---------------------------------------------------------- one event */

static bool
s_owns(const struct fold *f, EventCase kind)
{
	return codec_event_domain(kind) == f->domain;
}

/* Another domain's own event (a meeting in the funds worker): neither the
 * membership module nor this worker's module applies it, and no verdict
 * of it is kept here, so it is not even decoded. */
static bool
s_foreign(const struct fold *f, EventCase kind)
{
	enum domain owner = codec_event_domain(kind);
	return owner != f->domain && owner != DOMAIN_MEMBERSHIP && owner != DOMAIN_NONE;
}

static int
s_count_write(struct fold *f, MDB_txn *txn, const char *name, uint64_t add)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	uint8_t buf[8];
	uint64_t n = 0;
	int rc = mdb_get(txn, f->counts, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		n = be64_get(v.mv_data);
	else if (rc != MDB_NOTFOUND && rc != 0)
		return rc;
	be64_put(buf, n + add);
	v.mv_size = 8, v.mv_data = buf;
	return mdb_put(txn, f->counts, &k, &v, 0);
}

/* The batch's entry for a counter (by name, or for an event counter by
 * kind and accepted), NULL when it has none yet. */
static struct batch_count *
s_count_due(struct fold *f, const char *name, EventCase kind, int accepted)
{
	for (unsigned i = 0; i < f->ncounts_due; i++) {
		struct batch_count *c = &f->counts_due[i];
		if (name ? c->accepted < 0 && strcmp(c->name, name) == 0 :
		    c->kind == kind && c->accepted == accepted)
			return c;
	}
	return NULL;
}

/* A first one for a counter in this batch: kept in memory (written by
 * s_counts_write before the batch commits), or written now when the batch
 * has too many. */
static int
s_count_first(struct fold *f, MDB_txn *txn, const char *name, EventCase kind, int accepted)
{
	if (f->ncounts_due == FOLD_BATCH_COUNTS)
		return s_count_write(f, txn, name, 1);
	struct batch_count *c = &f->counts_due[f->ncounts_due++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->n = 1;
	c->kind = kind;
	c->accepted = accepted;
	return 0;
}

static int
s_count(struct fold *f, MDB_txn *txn, const char *name)
{
	struct batch_count *c = s_count_due(f, name, 0, -1);
	if (!c)
		return s_count_first(f, txn, name, 0, -1);
	c->n++;
	return 0;
}

/* "event:<kind>:accepted" or ":rejected", formatted once per batch. */
static int
s_count_event(struct fold *f, MDB_txn *txn, EventCase kind, bool accepted)
{
	char name[64];
	struct batch_count *c = s_count_due(f, NULL, kind, accepted);
	if (c) {
		c->n++;
		return 0;
	}
	snprintf(name, sizeof name, "event:%s:%s", codec_event_name(kind),
	    accepted ? "accepted" : "rejected");
	return s_count_first(f, txn, name, kind, accepted);
}

static int
s_counts_write(struct fold *f, MDB_txn *txn)
{
	int rc = 0;
	for (unsigned i = 0; i < f->ncounts_due && rc == 0; i++)
		rc = s_count_write(f, txn, f->counts_due[i].name, f->counts_due[i].n);
	f->ncounts_due = 0;
	return rc;
}

static int
s_store_verdict(struct fold *f, MDB_txn *txn, uint64_t seq, const char *event_id,
    EventCase kind, const struct verdict *vd)
{
	Ack a = JICENG__V1__ACK__INIT;
	AckWarning w[VERDICT_MAX_WARNINGS], *wp[VERDICT_MAX_WARNINGS];
	char name[64];
	uint8_t k[8], *buf;
	int rc;
	a.event_id = (char *)event_id;
	a.seq = seq;
	a.verdict = vd->accepted ? JICENG__V1__VERDICT__ACCEPTED : JICENG__V1__VERDICT__REJECTED;
	a.code = (char *)vd->code;
	a.reason = (char *)vd->reason;
	for (unsigned i = 0; i < vd->nwarnings; i++) {
		jiceng__v1__warning__init(&w[i]);
		w[i].code = (char *)vd->warnings[i].code;
		w[i].reason = (char *)vd->warnings[i].reason;
		wp[i] = &w[i];
	}
	a.n_warnings = vd->nwarnings;
	a.warnings = wp;
	size_t len = codec_ack_pack(&a, &buf);
	if (!buf)
		return ENOMEM;
	be64_put(k, seq);
	MDB_val key = { 8, k }, val = { len, buf };
	rc = mdb_put(txn, f->verdicts, &key, &val, MDB_APPEND);
	free(buf);
	if (rc)
		return rc;
	if (!vd->accepted) {
		snprintf(name, sizeof name, "rejected:%s", vd->code);
		if ((rc = s_count(f, txn, name)))
			return rc;
	}
	if ((rc = s_count_event(f, txn, kind, vd->accepted)))
		return rc;
	for (unsigned i = 0; i < vd->nwarnings; i++) {
		snprintf(name, sizeof name, "warning:%s", vd->warnings[i].code);
		if ((rc = s_count(f, txn, name)))
			return rc;
	}
	return 0;
}

/* The fault injection of the crash tests: abort on the event named by
 * JICENG_FAULT_CRASH_EVENT, in the worker's own domain code (the module
 * of a meetings or funds worker, the membership module otherwise). */
static void
s_crash_injected(const struct fold *f, const Envelope *e, uint64_t seq)
{
	if (f->crash_event_id && strcmp(f->crash_event_id, e->event_id) == 0) {
		log_error("fault injection: crashing on event %s (seq %llu)",
		    e->event_id, (unsigned long long)seq);
		abort();
	}
}

/* Apply e in txn: the membership module, then (with_module) the domain's.
 * Returns 0, an LMDB error, or S_LATE_REJECTION when it was rejected
 * after writing (txn must then be aborted). */
static int
s_apply_envelope(struct fold *f, MDB_txn *txn, const struct journal_record *r,
    const Envelope *e, struct verdict *vd, bool with_module)
{
	struct event_ctx ev = {
		.seq = r->seq, .received_at = r->received_at,
		.township_id = r->township_id, .env = e,
		.rules = &f->rules, .id_key = f->id_key,
	};
	if (!f->module)
		s_crash_injected(f, e, r->seq);
	uint64_t writes = membership_writes();
	int rc = membership_apply(f->membership, txn, &ev, vd);
	if (rc == 0 && vd->accepted && f->module && with_module) {
		s_crash_injected(f, e, r->seq);
		rc = f->module->apply(f->module_state, txn, &ev, vd);
	}
	if (rc == 0 && vd->accepted && e->event_case == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED)
		rc = membership_rules(f->membership, txn, &f->rules);
	if (rc == 0 && vd->accepted && f->late_event_id && strcmp(f->late_event_id, e->event_id) == 0)
		verdict_reject(vd, "FAULT_INJECTED", "fault injection: rejected after writing");
	if (rc || vd->accepted)
		return rc;
	return membership_writes() == writes ? 0 : S_LATE_REJECTION;
}

/* A journal record that does not decode. jicengd journals only what
 * decodes (it packs every envelope anew); a journal written before that
 * can hold one (a client's overlong tag 0, packed again by protobuf-c as a
 * tag 0 it refuses), and so can a damaged one. Nothing of it can be
 * applied, and no later version will read it better, so its township gets
 * a final answer once, stored like any verdict (a rebuild gives the same):
 * REJECTED/UNDECODABLE_RECORD, with the event_id when the record's first
 * field still holds it, so the sender can match it and send the event
 * again under a new id. Logged once, by the worker that answers it (the
 * membership worker for a record of jicengd's own). */
static int
s_undecodable(struct fold *f, MDB_txn *txn, const struct journal_record *r)
{
	struct verdict vd;
	char event_id[CODEC_MAX_ID + 1];
	enum domain owner = codec_event_domain(r->kind);
	if (owner != f->domain && !(owner == DOMAIN_NONE && f->domain == DOMAIN_MEMBERSHIP))
		return 0;
	codec_envelope_peek_id(r->envelope, r->envelope_len, event_id);
	log_warnx("journal record %llu (%s of township %s, event_id \"%s\") does not decode: "
	    "not applied%s", (unsigned long long)r->seq, codec_event_name(r->kind),
	    *r->township_id ? r->township_id : "-", event_id,
	    owner == DOMAIN_NONE ? "" : ", answered REJECTED/UNDECODABLE_RECORD");
	if (owner == DOMAIN_NONE)
		return 0;
	verdict_accept(&vd);
	verdict_reject(&vd, "UNDECODABLE_RECORD", "日志记录无法解码，未予处理；请用新的event_id重发 / "
	    "the journal record of this event does not decode and was not applied; send the "
	    "event again with a new event_id");
	return s_store_verdict(f, txn, r->seq, event_id, r->kind, &vd);
}

/* What a quarantine asks of this worker. A quarantine names the workers
 * that kept crashing on the event ("funds worker crashed 3 times applying
 * it", one clause per worker, children.c). The membership module is the
 * same code in every worker, so a membership worker's crash, or a reason
 * that names no worker (a journal from before this), skips the event in
 * every worker; a meetings or funds worker's crash skips only that
 * module's part in that worker: the membership part it shares with the
 * others is applied (the membership worker may already have answered the
 * event ACCEPTED, and every rebuild must agree with that); should it crash
 * again without its part, the clause FOLD_QUARANTINE_SHARED makes every
 * worker skip the event. */
enum s_quarantine_scope { Q_NONE, Q_MODULE, Q_ALL };

static enum s_quarantine_scope
s_quarantine_scope(const struct fold *f, const char *why)
{
	char mine[40];
	if (strstr(why, "membership worker crashed") || !strstr(why, " worker crashed") ||
	    strstr(why, FOLD_QUARANTINE_SHARED))
		return Q_ALL;
	snprintf(mine, sizeof mine, "%s worker crashed", codec_domain_name(f->domain));
	return strstr(why, mine) ? Q_MODULE : Q_NONE;
}

/* Apply journal record seq inside parent. */
static int
s_apply_one(struct fold *f, MDB_txn *jtxn, MDB_txn *parent, uint64_t seq)
{
	struct journal_record r;
	struct verdict vd;
	const char *why;
	int rc = journal_get(f->journal, jtxn, seq, &r);
	if (rc || s_foreign(f, (EventCase)r.kind))
		return rc;
	verdict_accept(&vd);
	Envelope *e = codec_envelope_unpack(r.envelope, r.envelope_len);
	if (!e)
		return s_undecodable(f, parent, &r);
	enum s_quarantine_scope q = journal_quarantined(f->journal, jtxn, seq, &why) == 0 ?
	    s_quarantine_scope(f, why) : Q_NONE;
	if (q == Q_ALL || (q == Q_MODULE && s_owns(f, e->event_case))) {
		verdict_reject(&vd, "INTERNAL_ERROR",
		    "内部错误，该事件已隔离 / internal error: event quarantined (%s)", why);
		if (q == Q_MODULE) {
			struct verdict shared;   /* the membership part's, answered by its worker */
			verdict_accept(&shared);
			rc = s_apply_envelope(f, parent, &r, e, &shared, false);
		}
	} else if (seq == f->late_seq) {
		vd = f->late_vd;
	} else if ((rc = s_apply_envelope(f, parent, &r, e, &vd, q == Q_NONE)) == S_LATE_REJECTION) {
		f->late_seq = seq;
		f->late_vd = vd;
	}
	if (rc == 0 && s_owns(f, e->event_case))
		rc = s_store_verdict(f, parent, seq, e->event_id, e->event_case, &vd);
	codec_envelope_free(e);
	return rc;
}

/* ---------------------------------------------------------- batches */

/* Publish the change log's entries of [from, to], committed. */
static int
s_emit(struct fold *f, uint64_t from, uint64_t to)
{
	MDB_txn *rt;
	int rc = mdb_txn_begin(f->env, NULL, MDB_RDONLY, &rt);
	if (rc)
		return rc;
	rc = membership_changes_each(f->membership, rt, from, to, f->on_status,
	    f->on_status_arg);
	mdb_txn_abort(rt);
	return rc;
}

/* Apply seqs [from, to] in one transaction. */
static int
s_apply_range(struct fold *f, MDB_txn *jtxn, uint64_t from, uint64_t to)
{
	MDB_txn *txn;
	uint8_t cb[8];
	MDB_val ck = { 6, "cursor" }, cv = { 8, cb };
	uint64_t changes = membership_changes_written();
	int rc = s_reserve(f);
	if (rc || (rc = mdb_txn_begin(f->env, NULL, 0, &txn)))
		return rc;
	f->ncounts_due = 0;
	for (uint64_t seq = from; seq <= to; seq++)
		if ((rc = s_apply_one(f, jtxn, txn, seq)))
			goto fail;
	be64_put(cb, to);
	if ((rc = s_counts_write(f, txn)) || (rc = mdb_put(txn, f->meta, &ck, &cv, 0)))
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;  /* freed by the commit, whatever it returned */
	if (rc)
		goto fail;
	f->cursor = to;
	if (f->on_status && membership_changes_written() != changes &&
	    (rc = s_emit(f, from, to)))
		log_warn("status changes of seqs %llu-%llu not published: %s",
		    (unsigned long long)from, (unsigned long long)to, mdb_strerror(rc));
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	/* Rules may have been reloaded from an aborted transaction. */
	MDB_txn *rt;
	if (mdb_txn_begin(f->env, NULL, MDB_RDONLY, &rt) == 0) {
		membership_rules(f->membership, rt, &f->rules);
		mdb_txn_abort(rt);
	}
	return rc;
}

/* Double the state map after MDB_MAP_FULL (no write txn is open here;
 * readers in other processes adopt the new size on MDB_MAP_RESIZED). The
 * map is unmapped and mapped again: on_remap keeps this process's other
 * threads out of it meanwhile. */
static int
s_grow(struct fold *f)
{
	MDB_envinfo info;
	mdb_env_info(f->env, &info);
	if (f->on_remap)
		f->on_remap(f->on_remap_arg, true);
	int rc = mdb_env_set_mapsize(f->env, info.me_mapsize * 2);
	if (f->on_remap)
		f->on_remap(f->on_remap_arg, false);
	if (rc == 0)
		log_info("state map grown to %zu MiB", (info.me_mapsize * 2) >> 20);
	return rc;
}

/* Apply [from, *to] in one transaction, again once after growing a full
 * map, and again once after a late rejection at seq s: then [from, s] with
 * that event's verdict alone (*to becomes s). */
static int
s_apply_batch(struct fold *f, MDB_txn *jtxn, uint64_t from, uint64_t *to)
{
	bool grown = false, undone = false;
	int rc;
	for (;;) {
		rc = s_apply_range(f, jtxn, from, *to);
		if (rc == MDB_MAP_FULL && !grown) {
			grown = true;
			if (s_grow(f) == 0)
				continue;
		} else if (rc == S_LATE_REJECTION && !undone) {
			log_warnx("seq %llu (%s) was rejected after it had written: its batch is applied "
			    "again without its effects", (unsigned long long)f->late_seq, f->late_vd.code);
			undone = true;
			*to = f->late_seq;
			continue;
		}
		break;
	}
	if (rc == S_LATE_REJECTION) {
		/* The events before it had been applied the same way just now. */
		log_error("seq %llu: a second late rejection in one batch: the fold is not deterministic",
		    (unsigned long long)f->late_seq);
		rc = EPROTO;
	}
	f->late_seq = 0;
	return rc;
}

int
fold_step(struct fold *f, unsigned max_events, unsigned batch, bool single_step,
    unsigned *applied)
{
	MDB_txn *jtxn;
	uint64_t last;
	int rc;
	*applied = 0;
	if (single_step || batch == 0)
		batch = 1;
	if ((rc = journal_read_begin(f->journal, &jtxn)))
		return rc;
	if ((rc = journal_last_seq(f->journal, jtxn, &last)))
		goto out;
	while (f->cursor < last && *applied < max_events) {
		uint64_t to = f->cursor + batch;
		if (to > last)
			to = last;
		if (to - f->cursor > max_events - *applied)
			to = f->cursor + (max_events - *applied);
		uint64_t from = f->cursor + 1;
		if ((rc = s_apply_batch(f, jtxn, from, &to)))
			goto out;
		*applied += (unsigned)(to - from + 1);
	}
out:
	mdb_txn_abort(jtxn);
	return rc;
}

/* ---------------------------------------------------------- rebuild */

/* LMDB pairs a data file with its lock file, whose transaction id the
 * first opener takes from the data. Readers may still hold the old file
 * (and with it the old lock file): the new data gets the new lock file, put
 * in place first and write-locked, as LMDB's first opener does, until the
 * caller has opened the new data (*guard). A reader that opens the new
 * lock file meanwhile waits, then finds the new data. */
static int
s_install(const char *tmp, const char *tmp_lock, const char *state_path, int *guard,
    char *err, size_t errlen)
{
	char lock[CONFIG_PATH_MAX + 24];
	struct flock first = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	int fd;
	snprintf(lock, sizeof lock, "%s-lock", state_path);
	if ((fd = open(tmp_lock, O_RDWR | O_CLOEXEC)) < 0 || fcntl(fd, F_SETLK, &first) < 0) {
		snprintf(err, errlen, "lock %s: %s", tmp_lock, strerror(errno));
		goto fail;
	}
	if (rename(tmp_lock, lock) < 0) {
		snprintf(err, errlen, "rename %s: %s", tmp_lock, strerror(errno));
		goto fail;
	}
	if (rename(tmp, state_path) < 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (guard)
		*guard = fd;
	else
		close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int
fold_rebuild(const char *journal_dir, const char *state_path, enum domain d,
    const struct config *cfg, int *guard, fold_progress_fn progress, void *arg,
    char *err, size_t errlen)
{
	struct journal *j = NULL;
	struct fold *f = NULL;
	char tmp[CONFIG_PATH_MAX + 16], lock[CONFIG_PATH_MAX + 24];
	uint64_t last = 0;
	int rc;
	snprintf(tmp, sizeof tmp, "%s.rebuild", state_path);
	snprintf(lock, sizeof lock, "%s-lock", tmp);
	unlink(tmp);
	unlink(lock);
	if ((rc = journal_open(&j, journal_dir, cfg->journal_map_mb, cfg->journal_map_max_mb, true))) {
		snprintf(err, errlen, "cannot open the journal in %s: %s", journal_dir, mdb_strerror(rc));
		return -1;
	}
	journal_end(j, &last);
	if ((rc = fold_open(&f, j, d, tmp, cfg))) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, mdb_strerror(rc));
		journal_close(&j);
		return -1;
	}
	while (f->cursor < last) {
		unsigned n;
		if ((rc = fold_step(f, 20000, 2000, false, &n))) {
			snprintf(err, errlen, "applying seq %llu: %s",
			    (unsigned long long)f->cursor + 1, mdb_strerror(rc));
			break;
		}
		if (progress)
			progress(arg, f->cursor, last);
	}
	fold_destroy(&f);
	journal_close(&j);
	if (rc) {
		unlink(tmp);
		unlink(lock);
		return -1;
	}
	if (s_install(tmp, lock, state_path, guard, err, errlen) < 0)
		return -1;
	store_marker_clear(state_path);
	return 0;
}

int
fold_verdict_get(MDB_txn *txn, MDB_dbi verdicts, uint64_t seq, MDB_val *packed)
{
	uint8_t k[8];
	MDB_val key = { 8, k };
	be64_put(k, seq);
	return mdb_get(txn, verdicts, &key, packed);
}

int
fold_read_verdict(MDB_txn *txn, MDB_dbi verdicts, uint64_t seq, Ack **ack)
{
	MDB_val val;
	int rc = fold_verdict_get(txn, verdicts, seq, &val);
	if (rc)
		return rc;
	*ack = jiceng__v1__ack__unpack(NULL, val.mv_size, val.mv_data);
	return *ack ? 0 : MDB_CORRUPTED;
}

int
fold_cursor_get(MDB_txn *txn, MDB_dbi meta, uint64_t *cursor)
{
	MDB_val k = { 6, "cursor" }, v;
	int rc = mdb_get(txn, meta, &k, &v);
	*cursor = rc == 0 && v.mv_size == 8 ? be64_get(v.mv_data) : 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}
