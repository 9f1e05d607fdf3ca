/*
 * fuzz_fold: libFuzzer target (make fuzz FUZZ_TARGET=fold). A run of
 * frames goes through what jicengd does before it journals each one
 * (codec_envelope_decode, its own checks that do not need keys, dedupe,
 * iddigest_envelope) and then through what every worker does with the
 * journaled record (codec_envelope_unpack, membership_apply, the domain
 * module's apply), in three environments: membership, meetings, funds,
 * as the three workers keep them. For every event:
 *   - every apply returns 0: an LMDB or internal error makes a worker
 *     exit, and after K crashes the event is quarantined;
 *   - a rejection has a code and a reason, and comes before the first
 *     write (membership_writes unchanged), as the fold relies on;
 *   - reasons and warnings are valid UTF-8: they go into acks as protobuf
 *     strings, which a township's decoder refuses otherwise;
 *   - the three environments give the same membership verdict, and at
 *     the end of the run hold the same membership tables, entry for
 *     entry: the membership module is the same code on the same events.
 * Each input starts from empty environments (its transactions are
 * aborted), so a failure replays from its input alone.
 *
 * Input: frames of a 2-byte big-endian header and that many bytes of
 * envelope; the header's top bit sends the frame with the county's key
 * (which may send a budget, or a journaled ID digest), else with its
 * township's. The broker's clock starts at FUZZ_NOW and moves a second a
 * frame; a frame holding a Tick stands for jicengd's own Tick record
 * (township "", its other fields dropped), which moves the clock to the
 * Tick's `at` when that is later, by at most FUZZ_TICK_MAX_MS; one
 * holding a RulesChanged, for the one jicengd journals when its config
 * sets those rules (those that jiceng.conf accepts: the others make no
 * record).
 *
 * With JICENG_FUZZ_VERBOSE set, it prints every verdict on stderr. With
 * JICENG_FUZZ_SEEDS=DIR, the binary writes a seed corpus (a small
 * county: orgs, members, meetings, an appraisal, a budget, payments, a
 * reversal, dues, transfers, mobile members' episodes, every other
 * membership event, a month's Tick)
 * into DIR and exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "apply.h"
#include "codec.h"
#include "config.h"
#include "domain.h"
#include "iddigest.h"
#include "membership.h"
#include "seeds.h"

#define FUZZ_NOW 1796574600000LL        /* 2026-12-07 00:30 CST */
#define FUZZ_SKEW_MS (10 * 60 * 1000LL)  /* ingest's INGEST_MAX_SKEW_MS */
#define FUZZ_TICK_MAX_MS (400LL * 86400000LL)
#define FUZZ_MAX_FRAMES 256
#define FUZZ_COUNTY_BIT 0x8000u
#define FUZZ_MAP_BYTES (256u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t s_key[IDNUM_KEY_LEN] = { 0x6a, 0x69, 0x63, 0x65, 0x6e, 0x67 };

/* One worker's environment. */
struct world {
	const char *name;
	enum domain domain;
	MDB_env *env;
	struct membership *m;
	const struct domain_module *module;
	void *module_state;
	Rules rules;               /* in force: the defaults at each input's start */
	Rules defaults;
	MDB_txn *txn;              /* this input's, aborted at its end */
};

static struct world s_worlds[3] = {
	{ .name = "membership", .domain = DOMAIN_MEMBERSHIP },
	{ .name = "meetings", .domain = DOMAIN_MEETINGS },
	{ .name = "funds", .domain = DOMAIN_FUNDS },
};
static char s_dir[64];
static bool s_verbose;         /* JICENG_FUZZ_VERBOSE: each verdict on stderr */

static void
s_fail(const char *what, const uint8_t *buf, size_t len)
{
	fprintf(stderr, "fuzz_fold: %s (frame of %zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 256; i++)
		fprintf(stderr, " %02x", buf[i]);
	fputc('\n', stderr);
	abort();
}

static void
s_lmdb(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "fuzz_fold: %s: %s\n", what, mdb_strerror(rc));
		abort();
	}
}

static void
s_remove_dir(void)
{
	char path[128];
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s.mdb", s_dir, s_worlds[i].name);
		unlink(path);
		snprintf(path, sizeof path, "%s/%s.mdb-lock", s_dir, s_worlds[i].name);
		unlink(path);
	}
	rmdir(s_dir);
}

static void
s_open(struct world *w)
{
	char path[128];
	MDB_txn *txn;
	w->module = domain_module(w->domain);
	snprintf(path, sizeof path, "%s/%s.mdb", s_dir, w->name);
	s_lmdb(mdb_env_create(&w->env), "mdb_env_create");
	s_lmdb(mdb_env_set_maxdbs(w->env, MEMBERSHIP_MAX_DBS + (w->module ? w->module->max_dbs : 0)),
	    "mdb_env_set_maxdbs");
	s_lmdb(mdb_env_set_mapsize(w->env, FUZZ_MAP_BYTES), "mdb_env_set_mapsize");
	s_lmdb(mdb_env_open(w->env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0600), path);
	s_lmdb(mdb_txn_begin(w->env, NULL, 0, &txn), "mdb_txn_begin");
	s_lmdb(membership_open(txn, &w->m), "membership_open");
	if (w->module)
		s_lmdb(w->module->open(txn, MDB_CREATE, w->m, &w->module_state), "module open");
	s_lmdb(membership_rules(w->m, txn, &w->defaults), "membership_rules");
	s_lmdb(mdb_txn_commit(txn), "mdb_txn_commit");
}

/* ---------------------------------------------------------- the broker */

/* The broker's view of one frame: NULL when it would refuse it (or it
 * is a RulesChanged), else the envelope as a worker decodes its journaled
 * record, with the record's township. */
struct broker {
	int64_t clock;
	size_t nseen;
	char seen[FUZZ_MAX_FRAMES][16 + CODEC_MAX_ID + 2];
};

static bool
s_duplicate(struct broker *b, const char *township, const char *event_id)
{
	char key[sizeof b->seen[0]];
	snprintf(key, sizeof key, "%s/%s", township, event_id);
	for (size_t i = 0; i < b->nseen; i++)
		if (strcmp(b->seen[i], key) == 0)
			return true;
	if (b->nseen < FUZZ_MAX_FRAMES)
		memcpy(b->seen[b->nseen++], key, sizeof key);
	return false;
}

/* jicengd's Tick at `at`, as it journals one (daemon/jicengd.c). */
static Envelope *
s_tick_record(int64_t at)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__Tick t = JICENG__V1__TICK__INIT;
	uint8_t *out;
	size_t n;
	t.at = at;
	e.event_id = "tick";
	e.township_id = "";
	e.occurred_at = at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_TICK;
	e.tick = &t;
	if (codec_envelope_pack(&e, &out, &n) < 0)
		abort();
	Envelope *j = codec_envelope_unpack(out, n);
	free(out);
	return j;
}

/* jicengd's RulesChanged when its config sets the rules a frame's
 * RulesChanged holds (each value not 0, by its field's name: the config
 * key is the name with its first '_' a '.'), as ingest_sync_rules journals
 * it; NULL when jiceng.conf would refuse one of them (config_set). */
static Envelope *
s_rules_record(const Jiceng__V1__Rules *want, int64_t at)
{
	static struct config cfg;
	const ProtobufCMessageDescriptor *d = &jiceng__v1__rules__descriptor;
	char key[96], value[32], err[256];
	config_defaults(&cfg);
	for (unsigned i = 0; want && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *field = (const char *)want + f->offset;
		long long v = f->type == PROTOBUF_C_TYPE_INT64 ? *(const int64_t *)field :
		    f->type == PROTOBUF_C_TYPE_UINT32 ? (long long)*(const uint32_t *)field : 0;
		if (v == 0)
			continue;
		snprintf(key, sizeof key, "%s", f->name);
		char *dot = strchr(key, '_');
		if (dot)
			*dot = '.';
		snprintf(value, sizeof value, "%lld", v);
		if (config_set(&cfg, "rules", key, value, err, sizeof err) < 0)
			return NULL;
	}
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__RulesChanged rc = JICENG__V1__RULES_CHANGED__INIT;
	uint8_t *out;
	size_t n;
	rc.rules = &cfg.rules;
	e.event_id = "rules";
	e.township_id = "";
	e.occurred_at = at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED;
	e.rules_changed = &rc;
	if (codec_envelope_pack(&e, &out, &n) < 0)
		abort();
	Envelope *j = codec_envelope_unpack(out, n);
	free(out);
	return j;
}

static Envelope *
s_journaled(struct broker *b, const uint8_t *frame, size_t len, bool county,
    const char **township)
{
	struct codec_error err;
	struct codec_unknown unknown;
	uint8_t *out = NULL;
	size_t n = 0;
	Envelope *e = codec_envelope_unpack(frame, len);
	b->clock += 1000;
	if (e && e->event_case == JICENG__V1__ENVELOPE__EVENT_TICK && e->tick) {
		int64_t at = e->tick->at;
		codec_envelope_free(e);
		if (at > b->clock && at - b->clock <= FUZZ_TICK_MAX_MS)
			b->clock = at;
		*township = "";
		return s_tick_record(b->clock);
	}
	if (e && e->event_case == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED && e->rules_changed) {
		Envelope *j = s_rules_record(e->rules_changed->rules, b->clock);
		codec_envelope_free(e);
		*township = "";
		return j;
	}
	codec_envelope_free(e);
	if (!(e = codec_envelope_decode(frame, len, &err)))
		return NULL;
	bool refused = !codec_event_implemented(e->event_case) ||
	    e->occurred_at > b->clock + FUZZ_SKEW_MS ||
	    (!county && e->event_case == JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED);
	if (refused || iddigest_envelope(e, s_key, b->clock, county, &out, &n, &unknown, &err) < 0 ||
	    s_duplicate(b, e->township_id, e->event_id)) {
		free(out);
		codec_envelope_free(e);
		return NULL;
	}
	codec_envelope_free(e);
	Envelope *j = codec_envelope_unpack(out, n);
	free(out);
	if (!j)
		s_fail("what would be journaled does not decode", frame, len);
	*township = j->township_id;
	return j;
}

/* ---------------------------------------------------------- the workers */

static void
s_check_text(const char *code, const char *reason, const uint8_t *frame, size_t len)
{
	if (!code[0] || !reason[0])
		s_fail("a verdict or warning without code or reason", frame, len);
	if (!codec_utf8_valid(reason, strlen(reason))) {
		fprintf(stderr, "fuzz_fold: %s: %s\n", code, reason);
		s_fail("a reason that is not UTF-8", frame, len);
	}
}

/* The membership verdict of the first world, for the others to match. */
struct shared {
	bool accepted;
	char code[sizeof ((struct verdict *)0)->code];
};

static void
s_apply(struct world *w, const struct event_ctx *ev, struct shared *first, bool is_first,
    const uint8_t *frame, size_t len)
{
	struct verdict v;
	verdict_accept(&v);
	uint64_t writes = membership_writes();
	int rc = membership_apply(w->m, w->txn, ev, &v);
	if (rc) {
		fprintf(stderr, "fuzz_fold: %s worker, membership_apply: %s\n", w->name,
		    mdb_strerror(rc));
		s_fail("an apply that fails", frame, len);
	}
	if (is_first) {
		first->accepted = v.accepted;
		memcpy(first->code, v.code, sizeof first->code);
	} else if (first->accepted != v.accepted || strcmp(first->code, v.code) != 0) {
		fprintf(stderr, "fuzz_fold: membership verdict %s in the membership worker, %s in "
		    "the %s worker\n", first->code, v.code, w->name);
		s_fail("the workers disagree on membership", frame, len);
	}
	if (v.accepted && w->module && (rc = w->module->apply(w->module_state, w->txn, ev, &v))) {
		fprintf(stderr, "fuzz_fold: %s worker: %s\n", w->name, mdb_strerror(rc));
		s_fail("an apply that fails", frame, len);
	}
	if (!v.accepted) {
		s_check_text(v.code, v.reason, frame, len);
		if (membership_writes() != writes) {
			fprintf(stderr, "fuzz_fold: %s worker: %s after writing: %s\n", w->name, v.code,
			    v.reason);
			s_fail("a rejection after the first write", frame, len);
		}
	} else if (strcmp(v.code, "OK") != 0) {
		s_fail("an accepted verdict whose code is not OK", frame, len);
	} else if (ev->env->event_case == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED &&
	    (rc = membership_rules(w->m, w->txn, &w->rules))) {
		fprintf(stderr, "fuzz_fold: %s worker, membership_rules: %s\n", w->name,
		    mdb_strerror(rc));
		s_fail("an apply that fails", frame, len);
	}
	for (unsigned i = 0; i < v.nwarnings; i++)
		s_check_text(v.warnings[i].code, v.warnings[i].reason, frame, len);
	if (s_verbose)
		fprintf(stderr, "seq %llu %s (%s), %s worker: %s%s%s%s\n",
		    (unsigned long long)ev->seq, codec_event_name(ev->env->event_case),
		    ev->env->event_id, w->name, v.code, v.accepted ? "" : ": ", v.accepted ? "" : v.reason,
		    v.nwarnings ? " (warned)" : "");
}

/* Do the meetings and funds environments hold the membership tables of
 * the membership one, entry for entry? (Its named databases are the
 * module's: the fold's own are not made here.) */
static void
s_same_membership(const uint8_t *data, size_t size)
{
	MDB_cursor *names;
	MDB_val name, unused;
	MDB_dbi main_dbi;
	s_lmdb(mdb_dbi_open(s_worlds[0].txn, NULL, 0, &main_dbi), "mdb_dbi_open");
	s_lmdb(mdb_cursor_open(s_worlds[0].txn, main_dbi, &names), "mdb_cursor_open");
	for (int nrc = mdb_cursor_get(names, &name, &unused, MDB_FIRST); nrc == 0;
	    nrc = mdb_cursor_get(names, &name, &unused, MDB_NEXT)) {
		char table[64];
		snprintf(table, sizeof table, "%.*s", (int)name.mv_size, (const char *)name.mv_data);
		MDB_cursor *c[3];
		for (unsigned i = 0; i < 3; i++) {
			MDB_dbi dbi;
			s_lmdb(mdb_dbi_open(s_worlds[i].txn, table, 0, &dbi), table);
			s_lmdb(mdb_cursor_open(s_worlds[i].txn, dbi, &c[i]), "mdb_cursor_open");
		}
		MDB_cursor_op op = MDB_FIRST;
		for (;; op = MDB_NEXT) {
			MDB_val k0, v0, k, v;
			int rc0 = mdb_cursor_get(c[0], &k0, &v0, op);
			for (unsigned i = 1; i < 3; i++) {
				int rc = mdb_cursor_get(c[i], &k, &v, op);
				if (rc != rc0 || (rc == 0 && (k.mv_size != k0.mv_size ||
				    v.mv_size != v0.mv_size || memcmp(k.mv_data, k0.mv_data, k.mv_size) ||
				    memcmp(v.mv_data, v0.mv_data, v.mv_size)))) {
					fprintf(stderr, "fuzz_fold: table %s of the %s worker differs from the "
					    "membership worker's\n", table, s_worlds[i].name);
					s_fail("the workers' membership tables differ", data, size);
				}
			}
			if (rc0)
				break;
		}
		for (unsigned i = 0; i < 3; i++)
			mdb_cursor_close(c[i]);
	}
	mdb_cursor_close(names);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct broker *b = calloc(1, sizeof *b);
	uint64_t seq = 0;
	if (!b)
		abort();
	b->clock = FUZZ_NOW;
	for (unsigned i = 0; i < 3; i++) {
		s_lmdb(mdb_txn_begin(s_worlds[i].env, NULL, 0, &s_worlds[i].txn), "mdb_txn_begin");
		s_worlds[i].rules = s_worlds[i].defaults;
	}
	for (size_t at = 0, frames = 0; at + 2 <= size && frames < FUZZ_MAX_FRAMES; frames++) {
		unsigned head = (unsigned)data[at] << 8 | data[at + 1];
		size_t len = head & ~FUZZ_COUNTY_BIT;
		const uint8_t *frame = data + at + 2;
		at += 2;
		if (len > size - at)
			len = size - at;
		at += len;
		const char *township;
		Envelope *e = s_journaled(b, frame, len, head & FUZZ_COUNTY_BIT, &township);
		if (!e)
			continue;
		struct shared first;
		seq++;
		for (unsigned i = 0; i < 3; i++) {
			struct event_ctx ev = {
				.seq = seq, .received_at = b->clock, .township_id = township,
				.env = e, .rules = &s_worlds[i].rules, .id_key = s_key,
			};
			s_apply(&s_worlds[i], &ev, &first, i == 0, frame, len);
		}
		codec_envelope_free(e);
	}
	s_same_membership(data, size);
	for (unsigned i = 0; i < 3; i++) {
		mdb_txn_abort(s_worlds[i].txn);
		s_worlds[i].txn = NULL;
	}
	free(b);
	return 0;
}

/* ---------------------------------------------------------- mutator */

#ifdef JICENG_LIBFUZZER
/* libFuzzer's own mutations, here on one frame's bytes at a time, and on
 * the run's frames (copied, dropped, swapped, sent with the other key),
 * so that the framing holds and the events after a mutation still come. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed);

struct span {
	size_t at, len;
	unsigned county;
};

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
	static struct span f[FUZZ_MAX_FRAMES + 1];
	static uint8_t out[1 << 16], body[FUZZ_COUNTY_BIT];
	size_t n = 0, o = 0;
	for (size_t at = 0; at + 2 <= size && n < FUZZ_MAX_FRAMES;) {
		unsigned head = (unsigned)data[at] << 8 | data[at + 1];
		size_t len = head & ~FUZZ_COUNTY_BIT;
		if (len > size - at - 2)
			len = size - at - 2;
		f[n++] = (struct span){ at + 2, len, head & FUZZ_COUNTY_BIT };
		at += 2 + len;
	}
	if (n == 0 || seed % 8 == 0 || max_size > sizeof out)
		return LLVMFuzzerMutate(data, size, max_size);
	size_t k = (seed / 8) % n, j = (seed / 8 / n) % n, blen = 0;
	unsigned op = (seed / 8 / n / n) % 6;
	for (size_t i = 0; i < n; i++) {
		size_t reps = (op == 1 && i == k) ? 2 : (op == 2 && i == k && n > 1) ? 0 : 1;
		const struct span *sp = (op == 3 && i == k) ? &f[j] : (op == 3 && i == j) ? &f[k] : &f[i];
		unsigned county = sp->county ^ ((op == 4 && i == k) ? FUZZ_COUNTY_BIT : 0);
		const uint8_t *src = data + sp->at;
		size_t len = sp->len;
		if ((op == 0 || op == 5) && i == k) {
			memcpy(body, src, len);
			blen = LLVMFuzzerMutate(body, len, sizeof body - 1);
			src = body;
			len = blen;
		}
		for (size_t r = 0; r < reps; r++) {
			if (o + 2 + len > max_size)
				return o ? o : LLVMFuzzerMutate(data, size, max_size);
			out[o++] = (uint8_t)((len >> 8) | (county >> 8));
			out[o++] = (uint8_t)len;
			memcpy(out + o, src, len);
			o += len;
		}
	}
	memcpy(data, out, o);
	return o;
}
#endif

/* ---------------------------------------------------------- seeds */

#define S_TW "320123101000"
#define S_DAY 86400000LL

struct seed {
	uint8_t buf[16384];
	size_t len;
	unsigned n;
};

static void
s_frame(struct seed *s, bool county, EventCase c, void *msg, int64_t occurred_at)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	char event_id[32];
	snprintf(event_id, sizeof event_id, "seed-%u", ++s->n);
	e.event_id = event_id;
	e.township_id = S_TW;
	e.occurred_at = occurred_at;
	codec_event_set(&e, c, msg);
	size_t n = jiceng__v1__envelope__get_packed_size(&e);
	if (n >= FUZZ_COUNTY_BIT || s->len + 2 + n > sizeof s->buf)
		abort();
	s->buf[s->len++] = (uint8_t)((n >> 8) | (county ? 0x80 : 0));
	s->buf[s->len++] = (uint8_t)n;
	s->len += jiceng__v1__envelope__pack(&e, s->buf + s->len);
}

static void
s_org(struct seed *s, const char *id, int kind, const char *parent, int64_t t)
{
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	o.org_id = (char *)id;
	o.kind = kind;
	o.parent_id = (char *)(parent ? parent : "");
	o.approving_org_id = (char *)(parent ? parent : "");
	o.name = "测试党组织";
	o.formation = JICENG__V1__FORMATION__SINGLE;
	o.established_at = t - 3650 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o, t);
}

static void
s_member(struct seed *s, const char *id, const char *home, bool full, int64_t t)
{
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	r.member_id = (char *)id;
	r.home_org_id = (char *)home;
	r.name = "王秀英";
	r.category = full ? JICENG__V1__MEMBER_CATEGORY__FULL : JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	r.admitted_at = full ? t - 5000 * S_DAY : t - 100 * S_DAY;
	r.confirmed_at = full ? t - 4600 * S_DAY : 0;
	r.phone = "13812345678";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &r, t);
}

/* The county: a township committee, two branches, seven members. */
static void
s_county(struct seed *s, int64_t t)
{
	static const char *members[] = { "m1", "m2", "m3", "m4", "m5" };
	s_org(s, "tc", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, t);
	s_org(s, "b1", JICENG__V1__ORG_KIND__BRANCH, "tc", t);
	s_org(s, "b2", JICENG__V1__ORG_KIND__BRANCH, "tc", t);
	for (size_t i = 0; i < sizeof members / sizeof *members; i++)
		s_member(s, members[i], "b1", true, t);
	s_member(s, "m6", "b1", false, t);
	s_member(s, "m7", "b2", true, t);
}

static void
s_meetings(struct seed *s, int64_t t)
{
	Jiceng__V1__MeetingHeld mh = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp = &ab;
	Jiceng__V1__AppraisalRecorded ar = JICENG__V1__APPRAISAL_RECORDED__INIT;
	Jiceng__V1__Grade g1 = JICENG__V1__GRADE__INIT, g2 = JICENG__V1__GRADE__INIT;
	Jiceng__V1__Grade g3 = JICENG__V1__GRADE__INIT;
	Jiceng__V1__Grade *grades[] = { &g1, &g2, &g3 };
	char *attendees[] = { "m1", "m2", "m3", "m6" }, *committee[] = { "m1", "m2", "m3" };
	Jiceng__V1__MeetingType both[] = { JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY,
		JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY };
	Jiceng__V1__MeetingType one[] = { JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE };

	mh.meeting_id = "mt1";
	mh.org_id = "b1";
	mh.n_types = 2;
	mh.types = both;
	mh.held_at = t - S_DAY;
	mh.topic = "主题党日";
	mh.host_member_id = "m1";
	mh.recorder_member_id = "m2";
	mh.n_attendee_ids = 4;
	mh.attendee_ids = attendees;
	ab.member_id = "m4";
	ab.reason = "外出务工";
	mh.n_absentees = 1;
	mh.absentees = &abp;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh, t);

	mh.meeting_id = "mt2";
	mh.n_types = 1;
	mh.types = one;
	mh.n_attendee_ids = 2;
	mh.n_absentees = 0;
	mh.online = true;
	mh.n_committee_member_ids = 3;
	mh.committee_member_ids = committee;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh, t);

	static Jiceng__V1__MeetingType appraisal[] = { JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL };
	mh.meeting_id = "mt3";
	mh.types = appraisal;
	mh.n_committee_member_ids = 0;
	mh.n_attendee_ids = 4;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh, t);

	ar.meeting_id = "mt3";
	ar.org_id = "b1";
	ar.year = 2026;
	g1.member_id = "m1";
	g1.grade = JICENG__V1__APPRAISAL_GRADE__EXCELLENT;
	g2.member_id = "m2";
	g2.grade = JICENG__V1__APPRAISAL_GRADE__QUALIFIED;
	g3.member_id = "m3";
	g3.grade = JICENG__V1__APPRAISAL_GRADE__QUALIFIED;
	ar.n_grades = 3;
	ar.grades = grades;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_APPRAISAL_RECORDED, &ar, t);
}

static void
s_funds(struct seed *s, int64_t t)
{
	Jiceng__V1__BudgetAllocated ba = JICENG__V1__BUDGET_ALLOCATED__INIT;
	Jiceng__V1__FundDisbursed fd = JICENG__V1__FUND_DISBURSED__INIT;
	Jiceng__V1__DisbursementReversed dr = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;

	ba.budget_id = "bud1";
	ba.kind = JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE;
	ba.year = 2026;
	ba.amount_fen = 10000000;
	ba.source = JICENG__V1__FUNDING_SOURCE__PARTY_DUES;
	s_frame(s, true, JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, &ba, t);

	fd.disbursement_id = "d1";
	fd.kind = JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE;
	fd.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
	fd.payee_member_id = "m3";
	fd.amount_fen = 50000;
	fd.period = 202611;
	fd.source = JICENG__V1__FUNDING_SOURCE__PARTY_DUES;
	fd.approval_ref = "党委〔2026〕12号";
	fd.paid_at = t - S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &fd, t);
	fd.disbursement_id = "d2";
	fd.payee_member_id = "m4";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &fd, t);

	dr.disbursement_id = "d1";
	dr.reason = "重复发放";
	dr.reversed_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED, &dr, t);

	dp.member_id = "m1";
	dp.month = 202611;
	dp.amount_fen = 2000;
	dp.paid_at = t - S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp, t);
	dp.member_id = "m2";
	dp.payer_member_id = "m1";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp, t);
}

static void
s_moves(struct seed *s, int64_t t)
{
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileReported mr = JICENG__V1__MOBILE_REPORTED__INIT;
	Jiceng__V1__MobileReturned mt = JICENG__V1__MOBILE_RETURNED__INIT;
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;

	ti.transfer_id = "tr1";
	ti.member_id = "m5";
	ti.from_org_id = "b1";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	ti.to_org_id = "b2";
	ti.letter_no = "组转〔2026〕7号";
	ti.issued_at = t - S_DAY;
	ti.valid_days = 30;
	ti.dues_paid_through = 202611;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	tr.transfer_id = "tr1";
	tr.to_org_id = "b2";
	tr.received_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &tr, t);

	md.flow_id = "f1";
	md.member_id = "m3";
	md.destination_code = "440300";
	md.reason = "务工";
	md.expected_months = 8;
	md.departed_at = t - S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &md, t);
	mr.flow_id = "f1";
	mr.host_org_id = "b2";
	mr.reported_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &mr, t);
	mt.flow_id = "f1";
	mt.returned_at = t + S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &mt, t + S_DAY);

	dp.member_id = "m5";
	dp.month = 202612;
	dp.amount_fen = 2000;
	dp.paid_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp, t);
}

/* The other kinds: a member admitted, confirmed, one's probation
 * extended, updates, a death; transfers rejected, revoked, out of the
 * county with its receipt, into it; a mobile member contacted and the
 * certificate reviewed; a branch renamed, one dissolved (and one with
 * members refused). */
static void
s_life(struct seed *s, int64_t t)
{
	Jiceng__V1__MemberAdmitted ma = JICENG__V1__MEMBER_ADMITTED__INIT;
	Jiceng__V1__MemberConfirmed mc = JICENG__V1__MEMBER_CONFIRMED__INIT;
	Jiceng__V1__ProbationExtended pe = JICENG__V1__PROBATION_EXTENDED__INIT;
	Jiceng__V1__MemberUpdated mu = JICENG__V1__MEMBER_UPDATED__INIT;
	Jiceng__V1__MemberStatusChanged sc = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__TransferRejected tj = JICENG__V1__TRANSFER_REJECTED__INIT;
	Jiceng__V1__TransferRevoked tv = JICENG__V1__TRANSFER_REVOKED__INIT;
	Jiceng__V1__TransferReceiptReturned rr = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	Jiceng__V1__ExternalOrg x = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MemberRegistered incoming = JICENG__V1__MEMBER_REGISTERED__INIT;
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileContacted mk = JICENG__V1__MOBILE_CONTACTED__INIT;
	Jiceng__V1__CertificateReviewed cr = JICENG__V1__CERTIFICATE_REVIEWED__INIT;
	Jiceng__V1__OrgUpdated ou = JICENG__V1__ORG_UPDATED__INIT;
	Jiceng__V1__OrgDissolved od = JICENG__V1__ORG_DISSOLVED__INIT;
	char *activity[] = { "b2" };

	ma.member_id = "m8";
	ma.org_id = "b1";
	ma.name = "赵新";
	ma.birth_date = "1990-05-01";
	ma.admitted_at = t - 400 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &ma, t);
	mc.member_id = "m8";
	mc.confirmed_at = t - 30 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED, &mc, t);
	pe.member_id = "m6";
	pe.months = 6;
	pe.decided_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_PROBATION_EXTENDED, &pe, t);
	mu.member_id = "m2";
	mu.phone = "13900000000";
	mu.replace_activity_orgs = true;
	mu.n_activity_org_ids = 1;
	mu.activity_org_ids = activity;
	mu.birth_date = "1960-02-29";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &mu, t);
	sc.member_id = "m4";
	sc.status = JICENG__V1__MEMBER_STATUS__DECEASED;
	sc.effective_at = t - S_DAY;
	sc.reason = "病故";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &sc, t);

	ti.transfer_id = "tr2";
	ti.member_id = "m1";
	ti.from_org_id = "b1";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	ti.to_org_id = "b2";
	ti.issued_at = t - S_DAY;
	ti.valid_days = 30;
	ti.dues_paid_through = 202611;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	tj.transfer_id = "tr2";
	tj.reason = "材料不全";
	tj.rejected_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED, &tj, t);
	ti.transfer_id = "tr3";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	tv.transfer_id = "tr3";
	tv.reason = "开错";
	tv.revoked_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, &tv, t);
	ti.transfer_id = "tr4";
	ti.member_id = "m7";
	ti.from_org_id = "b2";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	x.area_code = "320506";
	x.org_name = "吴中区某村党支部";
	ti.to_external = &x;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	rr.transfer_id = "tr4";
	rr.returned_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr, t);
	incoming.member_id = "m9";
	incoming.home_org_id = "b2";
	incoming.name = "孙来";
	incoming.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	incoming.admitted_at = t - 3000 * S_DAY;
	incoming.confirmed_at = t - 2600 * S_DAY;
	tr.transfer_id = "tr5";
	tr.to_org_id = "b2";
	tr.received_at = t;
	tr.from_external = &x;
	tr.member_id = "m9";
	tr.member = &incoming;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &tr, t);

	md.flow_id = "f2";
	md.member_id = "m2";
	md.destination_code = "440300";
	md.expected_months = 12;
	md.certificate_no = "LD-2026-001";
	md.fixed_place = true;
	md.departed_at = t - 200 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &md, t);
	mk.flow_id = "f2";
	mk.contacted_at = t - 10 * S_DAY;
	mk.channel = "video";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, &mk, t);
	cr.flow_id = "f2";
	cr.reviewed_at = t;
	cr.certificate_no = "LD-2026-002";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED, &cr, t);

	ou.org_id = "b2";
	ou.name = "第二党支部";
	ou.unit_count = 2;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED, &ou, t);
	od.org_id = "b1";   /* refused: it has members */
	od.approving_org_id = "tc";
	od.reason = "合并";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &od, t);
	s_org(s, "b3", JICENG__V1__ORG_KIND__BRANCH, "tc", t);
	od.org_id = "b3";
	od.reason = "合并";
	od.dissolved_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &od, t);
}

/* Tighter rules: branches of at most 3 members, dues at most a month
 * back, a single payment of at most 100 yuan. */
static void
s_rules(struct seed *s, int64_t t)
{
	Jiceng__V1__RulesChanged rc = JICENG__V1__RULES_CHANGED__INIT;
	Rules r = JICENG__V1__RULES__INIT;
	r.org_branch_max_members = 3;
	r.dues_max_months_back = 1;
	r.funds_max_single_fen = 10000;
	rc.rules = &r;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED, &rc, t);
}

static void
s_tick(struct seed *s, int64_t at)
{
	Jiceng__V1__Tick k = JICENG__V1__TICK__INIT;
	k.at = at;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TICK, &k, at);
}

static void
s_seeds(const char *dir)
{
	static struct seed s;
	int64_t t = FUZZ_NOW - 10 * S_DAY, later = FUZZ_NOW + 35 * S_DAY;

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_meetings(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-meetings", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_funds(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-funds", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_moves(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-moves", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_life(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-life", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_meetings(&s, t + S_DAY);
	s_funds(&s, t + 2 * S_DAY);
	s_moves(&s, t + 3 * S_DAY);
	s_life(&s, t + 4 * S_DAY);
	s_rules(&s, t + 4 * S_DAY);
	s_tick(&s, later);
	s_meetings(&s, later);
	s_funds(&s, later);
	fuzz_seed_file(dir, "county-all", s.buf, s.len);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_seeds_if_asked(s_seeds);
	s_verbose = getenv("JICENG_FUZZ_VERBOSE") != NULL;
	const char *tmp = getenv("JICENG_FUZZ_TMP");
	snprintf(s_dir, sizeof s_dir, "%s/jiceng-fuzz-fold.XXXXXX", tmp && *tmp ? tmp : "/dev/shm");
	if (!mkdtemp(s_dir)) {
		fprintf(stderr, "fuzz_fold: mkdtemp %s: %s\n", s_dir, strerror(errno));
		exit(1);
	}
	atexit(s_remove_dir);
	for (unsigned i = 0; i < 3; i++)
		s_open(&s_worlds[i]);
	return 0;
}
