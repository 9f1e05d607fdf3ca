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
 * The broker's part, the frames and the seeds are tests/fuzz/county.c.
 * With JICENG_FUZZ_VERBOSE set, it prints every verdict on stderr. With
 * JICENG_FUZZ_SEEDS=DIR, the binary writes its seed corpus (a small
 * county's events of every kind, fuzz_county_seeds) into DIR and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "apply.h"
#include "codec.h"
#include "config.h"
#include "county.h"
#include "domain.h"
#include "membership.h"
#include "fuzz.h"

#define FUZZ_MAP_BYTES (256u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
static const char *s_dir;
static bool s_verbose;         /* JICENG_FUZZ_VERBOSE: each verdict on stderr */

static void
s_lmdb(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "fuzz_fold: %s: %s\n", what, mdb_strerror(rc));
		abort();
	}
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

/* ---------------------------------------------------------- the workers */

static void
s_check_text(const char *code, const char *reason, const uint8_t *frame, size_t len)
{
	if (!code[0] || !reason[0])
		fuzz_fail("a verdict or warning without code or reason", frame, len);
	if (!codec_utf8_valid(reason, strlen(reason))) {
		fprintf(stderr, "fuzz_fold: %s: %s\n", code, reason);
		fuzz_fail("a reason that is not UTF-8", frame, len);
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
		fuzz_fail("an apply that fails", frame, len);
	}
	if (is_first) {
		first->accepted = v.accepted;
		memcpy(first->code, v.code, sizeof first->code);
	} else if (first->accepted != v.accepted || strcmp(first->code, v.code) != 0) {
		fprintf(stderr, "fuzz_fold: membership verdict %s in the membership worker, %s in "
		    "the %s worker\n", first->code, v.code, w->name);
		fuzz_fail("the workers disagree on membership", frame, len);
	}
	if (v.accepted && w->module && (rc = w->module->apply(w->module_state, w->txn, ev, &v))) {
		fprintf(stderr, "fuzz_fold: %s worker: %s\n", w->name, mdb_strerror(rc));
		fuzz_fail("an apply that fails", frame, len);
	}
	if (!v.accepted) {
		s_check_text(v.code, v.reason, frame, len);
		if (membership_writes() != writes) {
			fprintf(stderr, "fuzz_fold: %s worker: %s after writing: %s\n", w->name, v.code,
			    v.reason);
			fuzz_fail("a rejection after the first write", frame, len);
		}
	} else if (strcmp(v.code, "OK") != 0) {
		fuzz_fail("an accepted verdict whose code is not OK", frame, len);
	} else if (ev->env->event_case == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED &&
	    (rc = membership_rules(w->m, w->txn, &w->rules))) {
		fprintf(stderr, "fuzz_fold: %s worker, membership_rules: %s\n", w->name,
		    mdb_strerror(rc));
		fuzz_fail("an apply that fails", frame, len);
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
					fuzz_fail("the workers' membership tables differ", data, size);
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
	struct fuzz_broker *b = calloc(1, sizeof *b);
	uint64_t seq = 0;
	if (!b)
		abort();
	b->clock = FUZZ_NOW;
	for (unsigned i = 0; i < 3; i++) {
		s_lmdb(mdb_txn_begin(s_worlds[i].env, NULL, 0, &s_worlds[i].txn), "mdb_txn_begin");
		s_worlds[i].rules = s_worlds[i].defaults;
	}
	const uint8_t *frame;
	size_t at = 0, len;
	bool county;
	for (unsigned frames = 0; frames < FUZZ_MAX_FRAMES &&
	    fuzz_frame_next(data, size, &at, &frame, &len, &county); frames++) {
		const char *township;
		Envelope *e = fuzz_broker_frame(b, frame, len, county, &township);
		if (!e)
			continue;
		struct shared first;
		seq++;
		for (unsigned i = 0; i < 3; i++) {
			struct event_ctx ev = {
				.seq = seq, .received_at = b->clock, .township_id = township,
				.env = e, .rules = &s_worlds[i].rules, .id_key = fuzz_id_key,
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
	size_t n = 0, o = 0, at = 0, flen;
	const uint8_t *frame;
	bool county;
	while (n < FUZZ_MAX_FRAMES && fuzz_frame_next(data, size, &at, &frame, &flen, &county))
		f[n++] = (struct span){ (size_t)(frame - data), flen, county ? FUZZ_COUNTY_BIT : 0 };
	if (n == 0 || seed % 8 == 0 || max_size > sizeof out)
		return LLVMFuzzerMutate(data, size, max_size);
	size_t k = (seed / 8) % n, j = (seed / 8 / n) % n, blen = 0;
	unsigned op = (seed / 8 / n / n) % 6;
	for (size_t i = 0; i < n; i++) {
		size_t reps = (op == 1 && i == k) ? 2 : (op == 2 && i == k && n > 1) ? 0 : 1;
		const struct span *sp = (op == 3 && i == k) ? &f[j] : (op == 3 && i == j) ? &f[k] : &f[i];
		unsigned key = sp->county ^ ((op == 4 && i == k) ? FUZZ_COUNTY_BIT : 0);
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
			out[o++] = (uint8_t)((len >> 8) | (key >> 8));
			out[o++] = (uint8_t)len;
			memcpy(out + o, src, len);
			o += len;
		}
	}
	memcpy(data, out, o);
	return o;
}
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_seeds_if_asked(fuzz_county_seeds);
	s_verbose = getenv("JICENG_FUZZ_VERBOSE") != NULL;
	s_dir = fuzz_tmpdir("fold");
	for (unsigned i = 0; i < 3; i++)
		s_open(&s_worlds[i]);
	return 0;
}
