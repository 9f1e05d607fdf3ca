/*
 * fuzz_query: libFuzzer target (make fuzz FUZZ_TARGET=query) on the query
 * server's answer to one Query frame (workers/query.c, s_answer, built in
 * here), from a real data dir: the county of the fold target's seeds
 * (tests/fuzz/county.c) journaled as jicengd would and folded into the
 * three workers' state by fold_rebuild, at start-up.
 *
 * Input: one byte choosing the key the query comes with (the county's;
 * the seeded township's; another township's, which owns nothing; a
 * county-wide reader; a loopback client without CURVE), then the Query.
 * Asserts, for every answer:
 *   - a status and a code, and a reason unless it is OK;
 *   - every string of the reply valid UTF-8, and the reply packs;
 *   - nothing of the seeded township in an OK answer to the other
 *     township's key: none of its ids, nor its township id (the request's
 *     own request_id aside).
 *
 * With JICENG_FUZZ_VERBOSE set, prints each answer's status. With
 * JICENG_FUZZ_SEEDS=DIR, writes seeds of every kind of query (s_seeds)
 * into DIR and exits.
 */
#include <sys/stat.h>

#include "county.h"
#include "fuzz.h"

int jiceng_query_main(int argc, char **argv);
#define main jiceng_query_main
#include "../../workers/query.c"
#undef main

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OTHER_TOWNSHIP "320123102000"

enum { KEY_COUNTY, KEY_TOWNSHIP, KEY_OTHER, KEY_READER, KEY_LOCAL, KEY_KINDS };

static struct server s_srv;
static const char *s_dir;
static bool s_verbose;         /* JICENG_FUZZ_VERBOSE: each answer's status on stderr */

static void
s_die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_query: %s: %s\n", what, why);
	abort();
}

/* The seeded county, journaled as jicengd would, in cfg's data dir. */
static void
s_journal_county(const struct config *cfg)
{
	static struct fuzz_seed seed;
	struct fuzz_broker *b = calloc(1, sizeof *b);
	struct journal *j;
	MDB_txn *txn;
	const uint8_t *frame;
	size_t at = 0, len;
	bool county;
	int rc;
	if (!b)
		abort();
	b->clock = FUZZ_NOW;
	fuzz_county_all(&seed);
	if ((rc = journal_open(&j, cfg->data_dir, 64, 1024, false)) ||
	    (rc = journal_write_begin(j, &txn)))
		s_die("journal", mdb_strerror(rc));
	while (fuzz_frame_next(seed.buf, seed.len, &at, &frame, &len, &county)) {
		const char *township;
		uint8_t *packed;
		size_t n;
		uint64_t seq;
		Envelope *e = fuzz_broker_frame(b, frame, len, county, &township);
		if (!e)
			continue;
		if (codec_envelope_pack(e, &packed, &n) < 0)
			abort();
		if ((rc = journal_append(j, txn, b->clock, e->event_case, township,
		    *township ? e->event_id : NULL, packed, n, &seq)))
			s_die("journal_append", mdb_strerror(rc));
		free(packed);
		codec_envelope_free(e);
	}
	if ((rc = journal_commit(j, txn)) || (rc = journal_sync(j)))
		s_die("journal_commit", mdb_strerror(rc));
	journal_close(&j);
	free(b);
}

static void
s_setup(void)
{
	char err[512], path[CONFIG_PATH_MAX + 64];
	s_dir = fuzz_tmpdir("query");
	struct config *cfg = &s_srv.cfg;
	config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/data", s_dir);
	snprintf(cfg->derived_dir, sizeof cfg->derived_dir, "%s/derived", s_dir);
	snprintf(path, sizeof path, "%s/state", cfg->derived_dir);
	if (mkdir(cfg->data_dir, 0700) < 0 || mkdir(cfg->derived_dir, 0700) < 0 ||
	    mkdir(path, 0700) < 0)
		s_die("mkdir", strerror(errno));
	config_finish(cfg);
	if (idnum_key_load(cfg->id_key_file, true, fuzz_id_key) < 0)
		s_die(cfg->id_key_file, strerror(errno));
	s_journal_county(cfg);
	for (enum domain d = 0; d < DOMAIN_COUNT; d++) {
		fold_state_path(cfg->derived_dir, d, path, sizeof path);
		if (fold_rebuild(cfg->data_dir, path, d, cfg, NULL, NULL, NULL, err, sizeof err) < 0)
			s_die("fold_rebuild", err);
	}
	int rc = journal_open(&s_srv.journal, cfg->data_dir, 64, 1024, true);
	if (rc)
		s_die("journal_open", mdb_strerror(rc));
}

/* ---------------------------------------------------------- the checks */

/* Is s one of the seeded township's ids, or the township itself? */
static bool
s_seeded(const char *s)
{
	static const char *prefixes[] = { "m", "b", "mt", "d", "tr", "f" };
	if (strcmp(s, FUZZ_TOWNSHIP) == 0 || strcmp(s, "tc") == 0 || strcmp(s, "bud1") == 0)
		return true;
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(s, prefixes[i], n) == 0 && s[n] >= '1' && s[n] <= '9' && !s[n + 1])
			return true;
	}
	return false;
}

struct walk {
	bool other;               /* the answer went to the other township */
	const char *field;        /* the string's field, for the message */
	const char *bad;          /* what failed, NULL none */
};

static void
s_string(struct walk *w, const char *name, const char *s)
{
	if (!s || w->bad)
		return;
	if (!codec_utf8_valid(s, strlen(s))) {
		w->field = name;
		w->bad = "a reply string that is not UTF-8";
	} else if (w->other && s_seeded(s)) {
		w->field = name;
		w->bad = "another township's data in an answer to a township key";
	}
}

static void
s_walk(struct walk *w, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *at = (const char *)m + f->offset;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
		    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			void *const *items = *(void *const *const *)at;
			for (size_t k = 0; k < n; k++) {
				if (f->type == PROTOBUF_C_TYPE_STRING)
					s_string(w, f->name, items[k]);
				else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
					s_walk(w, items[k]);
			}
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			if (m->descriptor != &jiceng__v1__query_reply__descriptor ||
			    strcmp(f->name, "request_id") != 0)
				s_string(w, f->name, *(char *const *)at);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)at) {
			s_walk(w, *(ProtobufCMessage *const *)at);
		}
	}
}

/* fuzz_fail, naming the field. */
static void
s_bad(const char *what, const char *field, const uint8_t *data, size_t size)
{
	char msg[160];
	snprintf(msg, sizeof msg, "%s%s%s", what, field ? ", field " : "", field ? field : "");
	fuzz_fail(msg, data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct principal p = { 0 };
	QueryReply r = JICENG__V1__QUERY_REPLY__INIT;
	void *owned = NULL;
	if (size < 1)
		return 0;
	switch (data[0] % KEY_KINDS) {
	case KEY_COUNTY: p.role = AUTH_ROLE_COUNTY; break;
	case KEY_TOWNSHIP: p.role = AUTH_ROLE_TOWNSHIP; strcpy(p.township, FUZZ_TOWNSHIP); break;
	case KEY_OTHER: p.role = AUTH_ROLE_TOWNSHIP; strcpy(p.township, FUZZ_OTHER_TOWNSHIP); break;
	case KEY_READER: p.role = AUTH_ROLE_READER; break;
	default: p.role = AUTH_ROLE_LOCAL; break;
	}
	s_answer(&s_srv, data + 1, size - 1, &p, &r, &owned);
	if (s_verbose)
		fprintf(stderr, "key %u: %s %s%s%s\n", data[0] % KEY_KINDS,
		    protobuf_c_enum_descriptor_get_value(&jiceng__v1__query_status__descriptor,
		    (int)r.status) ? protobuf_c_enum_descriptor_get_value(
		    &jiceng__v1__query_status__descriptor, (int)r.status)->name : "?",
		    r.code ? r.code : "(none)", r.reason && *r.reason ? ": " : "",
		    r.reason ? r.reason : "");
	if (!r.code || !*r.code || (r.status != JICENG__V1__QUERY_STATUS__OK && (!r.reason || !*r.reason)))
		s_bad("an answer without a code or reason", NULL, data, size);
	struct walk w = { .other = data[0] % KEY_KINDS == KEY_OTHER &&
	    r.status == JICENG__V1__QUERY_STATUS__OK };
	s_walk(&w, &r.base);
	if (w.bad)
		s_bad(w.bad, w.field, data, size);
	size_t n = jiceng__v1__query_reply__get_packed_size(&r);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf || jiceng__v1__query_reply__pack(&r, buf) != n)
		s_bad("a reply that does not pack", NULL, data, size);
	free(buf);
	if (r.request_id != protobuf_c_empty_string)
		free(r.request_id);
	s_free_result(&r, owned);
	return 0;
}

/* ---------------------------------------------------------- seeds */

/* Values for a query's fields, by their names: the seeded county's ids
 * (with township, its township id), all of them or only the id field
 * numbered only (from 0; -1 all); years and months of the seeds; a small
 * page. Returns how many id fields the message has. */
static int
s_fill(ProtobufCMessage *m, int only, const char *township)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	static const struct { const char *suffix, *value; } ids[] = {
		{ "member_id", "m1" }, { "org_id", "b1" }, { "township_id", NULL },
		{ "meeting_id", "mt1" }, { "transfer_id", "tr1" }, { "flow_id", "f1" },
		{ "budget_id", "bud1" }, { "disbursement_id", "d1" },
	};
	int nids = 0;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *at = (char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			for (size_t k = 0; k < sizeof ids / sizeof *ids; k++) {
				size_t ln = strlen(f->name), ls = strlen(ids[k].suffix);
				if (ln < ls || strcmp(f->name + ln - ls, ids[k].suffix) != 0)
					continue;
				if (only < 0 || only == nids)
					*(const char **)at = ids[k].value ? ids[k].value : township;
				nids++;
			}
		} else if (f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_UINT32) {
			*(int32_t *)at = strstr(f->name, "year") ? 2026 : strstr(f->name, "from") ? 202601 :
			    strstr(f->name, "month") ? 202612 : strstr(f->name, "limit") ? 5 : 0;
		}
	}
	return nids;
}

/* Each kind of query with all its id fields set, and with each alone, as
 * the county (the seeded township's ids) and as the other township (its
 * own township id, the seeded ids otherwise). */
static void
s_seeds(const char *dir)
{
	const ProtobufCMessageDescriptor *qd = &jiceng__v1__query__descriptor;
	for (unsigned i = 0; i < qd->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &qd->fields[i];
		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const ProtobufCMessageDescriptor *sd = f->descriptor;
		for (int only = -1, nids = 0; only < nids; only++) {
			for (int key = KEY_COUNTY; key <= KEY_OTHER; key += KEY_OTHER - KEY_COUNTY) {
				Query q = JICENG__V1__QUERY__INIT;
				ProtobufCMessage *sub = calloc(1, sd->sizeof_message);
				if (!sub)
					abort();
				sd->message_init(sub);
				nids = s_fill(sub, only, key == KEY_OTHER ? FUZZ_OTHER_TOWNSHIP : FUZZ_TOWNSHIP);
				q.request_id = "seed";
				*(uint32_t *)((char *)&q + f->quantifier_offset) = f->id;
				*(ProtobufCMessage **)((char *)&q + f->offset) = sub;
				size_t n = jiceng__v1__query__get_packed_size(&q);
				uint8_t *buf = malloc(n + 1);
				if (!buf)
					abort();
				buf[0] = (uint8_t)key;
				jiceng__v1__query__pack(&q, buf + 1);
				char name[96];
				snprintf(name, sizeof name, "%s-%s%s%d", f->name,
				    key == KEY_OTHER ? "other" : "county", only < 0 ? "-all" : "-id",
				    only < 0 ? 0 : only);
				fuzz_seed_file(dir, name, buf, n + 1);
				free(buf);
				free(sub);
			}
		}
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_seeds_if_asked(s_seeds);
	s_verbose = getenv("JICENG_FUZZ_VERBOSE") != NULL;
	log_init("fuzz-query", 0);
	s_setup();
	return 0;
}
