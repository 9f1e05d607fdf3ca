/*
 * 98-mirror: the journal mirrored into NATS JetStream by jiceng-mirror,
 * against real nats-server processes (hnats.h): one node, and a three-node
 * cluster with the stream at R3. The group skips when nats-server is not
 * installed.
 *
 * Every test ends in s_check_stream: the stream holds, in this order, for
 * each journal seq S = 1 .. the journal's end, the record of S (its bytes
 * those of the journal, its verdict the one the township's ack carried)
 * and then the status changes the membership worker logged for S (the
 * bytes of its change log), each exactly once, with the subjects and
 * headers of the contract (mirror.proto).
 *
 * - A mixed stream (two townships, registrations, rejections, mobile
 *   departures, an event the workers crash on until it is quarantined)
 *   through jicengd with [mirror] enabled; the province feed example
 *   (--status-only, --township) prints what the stream holds.
 * - kill -9 of the mirror four times mid-stream: still once and in order.
 * - NATS stopped for 10 s while townships keep sending: acks as fast as
 *   before, the lag in stats and the log, caught up after the restart.
 * - The stream at R3 on three nodes; kill -9 of the stream's leader node
 *   mid-stream: complete and in order.
 * - Servers that want an nkey: the mirror signs with its seed file.
 * - A record whose commit is not on disk yet stays out of the stream.
 * - Another publisher's message in the stream mid-stream: the records up
 *   to it once and in order, nothing of the mirror's after it (each
 *   message expects its predecessor's stream sequence and, within a round,
 *   its id: else the one after a refused one fits the sequence the
 *   intruder took, and a record is missing), and the mirror says why it
 *   stopped.
 */
#include "harness.h"
#include "hnats.h"

#include <lmdb.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "journal.h"
#include "membership.h"
#include "store.h"

#define S_STREAM "JC"
#define S_PREFIX "jiceng.510722"
#define S_MAX_SEQ 40000
#define S_ORG2_TWP "t2-committee"
#define S_ORG2_VIL "t2-village"
#define S_ORG2_BR "t2-branch"

/* A test's world: nats-server, jicengd with the mirror, a JetStream
 * client, and the verdict each ack carried, by seq. */
struct s_fx {
	struct hd *d;
	struct hnats *n;
	natsConnection *nc;
	jsCtx *js;
	void *sock;
	uint8_t verdict[S_MAX_SEQ + 1];   /* 0: no ack seen for the seq */
	char code[S_MAX_SEQ + 1][16];
	int lat_us[8192];                 /* ack latencies of s_timed_sends */
	char seed[256];                   /* an nkey seed file the servers want, "" none */
	const char *const *env;           /* jicengd's environment (hd_opts.env), NULL none */
};

/* The user nkey of the NATS documentation's examples: its seed, and the
 * public key the servers are told (the mirror derives it from the seed). */
#define S_NKEY_SEED "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"
#define S_NKEY_PUB "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

/* ================================================================ the fixture */

static int
s_setup(void **state)
{
	return hn_fixture_begin(state, sizeof(struct s_fx));
}

static int
s_teardown(void **state)
{
	struct s_fx *f = *state;
	if (!f)
		return 0;
	if (f->sock)
		hc_close(f->sock);
	if (f->js)
		jsCtx_Destroy(f->js);
	if (f->nc)
		natsConnection_Destroy(f->nc);
	return hn_fixture_end(state, &f->n, (struct hd **const[]){ &f->d, NULL });
}

/* A JetStream client of f's nodes. */
static void
s_js_open(struct s_fx *f)
{
	natsOptions *o = NULL;
	const char *servers[HN_MAX_NODES];
	assert_int_equal(natsOptions_Create(&o), NATS_OK);
	natsOptions_SetServers(o, servers, hn_servers(f->n, servers));
	natsOptions_SetMaxReconnect(o, -1);
	natsOptions_SetReconnectWait(o, 100);
	natsOptions_SetTimeout(o, 2000);
	if (f->seed[0])
		natsOptions_SetNKeyFromSeed(o, S_NKEY_PUB, f->seed);
	natsStatus s = natsConnection_Connect(&f->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK)
		fprintf(stderr, "connect %s: %s\n", f->n->urls, natsStatus_GetText(s));
	assert_int_equal(s, NATS_OK);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	assert_int_equal(natsConnection_JetStream(&f->js, f->nc, &jo), NATS_OK);
}

/* nats-server with `nodes` nodes (with nkey, wanting S_NKEY_PUB's
 * signature), jicengd mirroring to it at `replicas`, the org trees of
 * both townships, a client. */
static void
s_up_auth(struct s_fx *f, int nodes, int replicas, bool nkey)
{
	struct hd_opts o = { .config = "", .workers = "membership,meetings", .env = f->env };
	char seedline[300] = "";
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start_conf(nodes, nkey ?
	    "authorization { users = [ { nkey: " S_NKEY_PUB " } ] }" : ""));
	assert_non_null(f->d = hd_new(&o));
	if (nkey) {
		snprintf(f->seed, sizeof f->seed, "%s/nats.nk", f->d->dir);
		h_write_file(f->seed, "%s\n", S_NKEY_SEED);
		snprintf(seedline, sizeof seedline, "nkey_seed_file = %s\n", f->seed);
	}
	hd_config_write(f->d,
	    "[rules]\norg.branch_max_members = 100000\n"
	    "[mirror]\nenabled = true\nservers = %s\nstream = " S_STREAM "\n"
	    "subject_prefix = " S_PREFIX "\nreplicas = %d\nlag_warn_events = 100\n%s",
	    f->n->urls, replicas, seedline);
	assert_int_equal(hd_up(f->d), 0);
	assert_non_null(f->sock = hc_connect(f->d));
	assert_int_equal(hc_org_tree(f->sock, "tree"), 0);
	const char *ids[3] = { S_ORG2_TWP, S_ORG2_VIL, S_ORG2_BR };
	assert_int_equal(hc_org_tree_in(f->sock, H_TOWNSHIP2, "tree2", ids), 0);
	s_js_open(f);
}

static void
s_up(struct s_fx *f, int nodes, int replicas)
{
	s_up_auth(f, nodes, replicas, false);
}

/* ================================================================ sending */

/* Event i of the mixed stream: a registration in township A (even i) or B
 * (odd i); every tenth a registration into an org that does not exist
 * (REJECTED UNKNOWN_ORG); every tenth from i = 14 the departure of the
 * member registered four events before, a mobile member (a status
 * change). */
static struct hmsg
s_event(const char *prefix, int i)
{
	char eid[64], mid[64], flow[64];
	const char *twp = i % 2 ? H_TOWNSHIP2 : H_TOWNSHIP;
	snprintf(eid, sizeof eid, "%s-%d", prefix, i);
	if (i % 10 == 9) {
		snprintf(mid, sizeof mid, "%s-nobody-%d", prefix, i);
		return hm_member_in(twp, eid, mid, "no-such-org", "无名", NULL);
	}
	if (i % 10 == 4 && i >= 10) {
		Jiceng__V1__MobileDeparted dep = JICENG__V1__MOBILE_DEPARTED__INIT;
		snprintf(mid, sizeof mid, "%s-m-%d", prefix, i - 4);
		snprintf(flow, sizeof flow, "%s-fl-%d", prefix, i);
		dep.flow_id = flow;
		dep.member_id = mid;
		dep.destination_code = "440305";
		dep.reason = "务工";
		dep.expected_months = 6;
		dep.departed_at = now_wall_ms() - 86400000LL;
		return hm_event(eid, twp, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &dep);
	}
	snprintf(mid, sizeof mid, "%s-m-%d", prefix, i);
	return hm_member_in(twp, eid, mid, i % 2 ? S_ORG2_BR : H_ORG_BRANCH, "党员", NULL);
}

static void
s_on_ack(struct hpump *p, Ack *a)
{
	struct s_fx *f = p->arg;
	if (a->seq == 0 || a->seq > S_MAX_SEQ)
		return;
	f->verdict[a->seq] = (uint8_t)(a->verdict == JICENG__V1__VERDICT__DUPLICATE ?
	    a->original_verdict : a->verdict);
	snprintf(f->code[a->seq], sizeof f->code[0], "%s", a->code);
}

/* Events [from, to) of the mixed stream, pipelined; hook (if any) runs
 * once hook_at of them are acknowledged. */
static void
s_send(struct s_fx *f, const char *prefix, int from, int to, int hook_at,
    void (*hook)(struct hpump *))
{
	int n = to - from;
	struct hmsg *msgs = calloc((size_t)n, sizeof *msgs);
	struct hmsg **order = calloc((size_t)n, sizeof *order);
	assert_non_null(msgs);
	assert_non_null(order);
	for (int i = 0; i < n; i++) {
		msgs[i] = s_event(prefix, from + i);
		order[i] = &msgs[i];
	}
	struct hpump p = { .sock = f->sock, .send = order, .nsend = n, .window = 64,
		.on_ack = s_on_ack, .hook_at = hook_at, .hook = hook, .arg = f };
	assert_int_equal(hp_run(&p, 60000), 0);
	for (int i = 0; i < n; i++)
		hm_free(&msgs[i]);
	free(msgs);
	free(order);
}

/* ================================================================ the stream */

/* What the stream must hold: every record, then its status changes. */
struct s_want {
	uint64_t seq;
	int64_t index;                    /* -1: the record */
	uint8_t *bytes;                   /* the record, or the packed StatusChange */
	size_t len;
	char township[64];                /* the record's, or the change's home township */
	uint32_t kind;
	char quarantine[256];             /* the journal's quarantine reason, "" none */
};

struct s_wants {
	struct s_want *w;
	size_t n, cap;
};

static struct s_want *
s_want_add(struct s_wants *ws)
{
	if (ws->n == ws->cap) {
		ws->cap = ws->cap ? ws->cap * 2 : 1024;
		ws->w = realloc(ws->w, ws->cap * sizeof *ws->w);
		assert_non_null(ws->w);
	}
	memset(&ws->w[ws->n], 0, sizeof ws->w[0]);
	return &ws->w[ws->n++];
}

static void
s_change(void *arg, uint64_t seq, const void *packed, size_t len)
{
	struct s_wants *ws = arg;
	StatusChange *sc = jiceng__v1__status_change__unpack(NULL, len, packed);
	assert_non_null(sc);
	struct s_want *w = s_want_add(ws);
	w->seq = seq;
	w->index = sc->index;
	w->bytes = malloc(len);
	memcpy(w->bytes, packed, len);
	w->len = len;
	snprintf(w->township, sizeof w->township, "%s", sc->township_id);
	jiceng__v1__status_change__free_unpacked(sc, NULL);
}

/* Read the journal and the membership change log (jicengd's workers
 * caught up) into ws, in stream order. */
static void
s_wanted(struct s_fx *f, struct s_wants *ws)
{
	struct journal *j;
	struct membership *m;
	MDB_env *env;
	MDB_txn *jt, *mt;
	char path[256];
	uint64_t last;
	struct s_wants changes = { 0 };
	assert_int_equal(hq_caught_up(f->d, 20000), 0);
	snprintf(path, sizeof path, "%s/state/membership.mdb", hd_derived(f->d));
	assert_int_equal(store_open_readonly(path, 64, &env), 0);
	assert_int_equal(store_read_begin(env, &mt), 0);
	assert_int_equal(membership_open_readonly(mt, &m), 0);
	assert_int_equal(journal_open(&j, f->d->dir, 64, 65536, true), 0);
	assert_int_equal(journal_read_begin(j, &jt), 0);
	assert_int_equal(journal_last_seq(j, jt, &last), 0);
	assert_int_equal(membership_changes_each(m, mt, 1, last, s_change, &changes), 0);
	size_t c = 0;
	for (uint64_t seq = 1; seq <= last; seq++) {
		struct journal_record r;
		assert_int_equal(journal_get(j, jt, seq, &r), 0);
		struct s_want *w = s_want_add(ws);
		w->seq = seq;
		w->index = -1;
		w->bytes = malloc(r.raw_len);
		memcpy(w->bytes, r.raw, r.raw_len);
		w->len = r.raw_len;
		w->kind = r.kind;
		snprintf(w->township, sizeof w->township, "%s", r.township_id);
		const char *why = NULL;
		if (journal_quarantined(j, jt, seq, &why) == 0)
			snprintf(w->quarantine, sizeof w->quarantine, "%s", why);
		for (; c < changes.n && changes.w[c].seq == seq; c++)
			*s_want_add(ws) = changes.w[c];
	}
	assert_int_equal(c, changes.n);
	free(changes.w);
	mdb_txn_abort(jt);
	journal_close(&j);
	mdb_txn_abort(mt);
	membership_destroy(&m);
	mdb_env_close(env);
}

static void
s_wants_free(struct s_wants *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		free(ws->w[i].bytes);
	free(ws->w);
}

/* Messages in the stream, 0 when its info cannot be had. */
static uint64_t
s_stream_msgs(struct s_fx *f)
{
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	if (js_GetStreamInfo(&si, f->js, S_STREAM, NULL, &e) != NATS_OK)
		return 0;
	uint64_t n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

static void
s_header_is(natsMsg *m, const char *key, const char *want)
{
	const char *v = NULL;
	if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v || strcmp(v, want) != 0) {
		fprintf(stderr, "%s: header %s is %s, want %s\n", natsMsg_GetSubject(m), key,
		    v ? v : "(absent)", want);
		fail();
	}
}

/* One message of the stream against what it must be. */
static void
s_check_msg(struct s_fx *f, natsMsg *m, const struct s_want *w)
{
	char subject[256], id[96], seq[24];
	const uint8_t *data = (const uint8_t *)natsMsg_GetData(m);
	size_t len = (size_t)natsMsg_GetDataLength(m);
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)w->seq);
	s_header_is(m, "Jiceng-Seq", seq);
	if (w->index >= 0) {
		char index[16];
		snprintf(subject, sizeof subject, S_PREFIX ".status.%s", w->township);
		snprintf(id, sizeof id, S_STREAM "-%llu-st-%lld", (unsigned long long)w->seq,
		    (long long)w->index);
		snprintf(index, sizeof index, "%lld", (long long)w->index);
		s_header_is(m, "Jiceng-Index", index);
		assert_true(len == w->len && memcmp(data, w->bytes, len) == 0);
	} else {
		MirroredRecord *r = jiceng__v1__mirrored_record__unpack(NULL, len, data);
		assert_non_null(r);
		snprintf(subject, sizeof subject, S_PREFIX ".ev.%s.%s",
		    w->township[0] ? w->township : "_county", codec_event_name((EventCase)w->kind));
		snprintf(id, sizeof id, S_STREAM "-%llu-ev", (unsigned long long)w->seq);
		assert_int_equal(r->seq, w->seq);
		assert_true(r->record.len == w->len && memcmp(r->record.data, w->bytes, w->len) == 0);
		assert_string_equal(r->township_id, w->township);
		assert_int_equal(r->kind, w->kind);
		assert_string_equal(r->quarantine, w->quarantine);
		if (w->seq <= S_MAX_SEQ && f->verdict[w->seq]) {
			assert_int_equal(r->verdict, f->verdict[w->seq]);
			assert_string_equal(r->verdict_code,
			    f->verdict[w->seq] == JICENG__V1__VERDICT__ACCEPTED ? "" : f->code[w->seq]);
		} else {
			/* jicengd's own (RulesChanged, Tick): accepted, nobody owns them */
			assert_int_equal(r->verdict, JICENG__V1__VERDICT__ACCEPTED);
		}
		jiceng__v1__mirrored_record__free_unpacked(r, NULL);
	}
	if (strcmp(natsMsg_GetSubject(m), subject) != 0) {
		fprintf(stderr, "subject %s, want %s\n", natsMsg_GetSubject(m), subject);
		fail();
	}
	s_header_is(m, "Nats-Msg-Id", id);
}

/* The stream holds exactly what the journal and the change log say, in
 * order, once each: waited for up to timeout_ms (scaled). Returns how many
 * status changes it holds. */
static size_t
s_check_stream(struct s_fx *f, int timeout_ms)
{
	struct s_wants ws = { 0 };
	size_t statuses = 0;
	s_wanted(f, &ws);
	uint64_t have = 0;
	for (int64_t end = now_mono_ms() + hn_ms(timeout_ms); now_mono_ms() < end; h_sleep_ms(100))
		if ((have = s_stream_msgs(f)) >= ws.n)
			break;
	if (have != ws.n)
		fprintf(stderr, "stream holds %llu messages, want %zu\n", (unsigned long long)have, ws.n);
	assert_int_equal(have, ws.n);
	jsSubOptions so;
	natsSubscription *sub = NULL;
	jsErrCode je = 0;
	jsSubOptions_Init(&so);
	so.Stream = S_STREAM;
	so.Ordered = true;
	assert_int_equal(js_SubscribeSync(&sub, f->js, S_PREFIX ".>", NULL, &so, &je), NATS_OK);
	for (size_t i = 0; i < ws.n; i++) {
		natsMsg *m = NULL;
		jsMsgMetaData *meta = NULL;
		assert_int_equal(natsSubscription_NextMsg(&m, sub, hn_ms(5000)), NATS_OK);
		assert_int_equal(natsMsg_GetMetaData(&meta, m), NATS_OK);
		assert_int_equal(meta->Sequence.Stream, i + 1);
		s_check_msg(f, m, &ws.w[i]);
		statuses += ws.w[i].index >= 0;
		jsMsgMetaData_Destroy(meta);
		natsMsg_Destroy(m);
	}
	natsSubscription_Destroy(sub);
	s_wants_free(&ws);
	return statuses;
}

/* How many records in the stream carry a quarantine. */
static int
s_quarantined(struct s_fx *f)
{
	QueryReply *r = hq_stats(f->d);
	assert_non_null(r);
	int n = (int)r->stats->n_quarantined;
	hq_free(r);
	return n;
}

/* The stream (S_STREAM) holds the whole journal. */
static void
s_stats_caught_up(struct s_fx *f)
{
	hn_wait_mirrored(f->d, 0, 10000);
	QueryReply *r = hq_stats(f->d);
	assert_non_null(r);
	assert_non_null(r->stats->mirror);
	assert_string_equal(r->stats->mirror->stream, S_STREAM);
	hq_free(r);
}

/* ================================================================ tests */

/* A mixed stream through jicengd with the mirror on one node: the stream
 * holds every journaled seq once, in order, with the verdicts the acks
 * carried and the status changes; the province feed prints them. */
static void
test_mirror_single(void **state)
{
	static const char *const env[] = { "JICENG_FAULT_CRASH_EVENT=mx-25", NULL };
	struct s_fx *f = *state;
	f->env = env;
	s_up(f, 1, 1);
	s_send(f, "mx", 0, 400, 0, NULL);
	size_t statuses = s_check_stream(f, 20000);
	assert_int_equal(s_quarantined(f), 1);
	assert_true(statuses >= 39);
	s_stats_caught_up(f);
	assert_true(hd_log_has(f->d, "publishing to stream " S_STREAM));

	/* The province feed: status changes only, then township B's records. */
	char out[256], err[256], cmd[256];
	snprintf(out, sizeof out, "%s/feed.out", f->d->dir);
	snprintf(err, sizeof err, "%s/feed.err", f->d->dir);
	snprintf(cmd, sizeof cmd, "%s/jiceng-province-feed", h_build_dir());
	char *argv[] = { cmd, "--servers", f->n->urls, "--stream", S_STREAM, "--county", S_PREFIX,
		"--status-only", "--idle-ms", "1500", NULL };
	assert_int_equal(h_run(argv, out, err, hn_ms(20000)), 0);
	char *text = h_slurp(out, NULL);
	assert_non_null(text);
	size_t lines = 0;
	for (char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, statuses);
	assert_non_null(strstr(text, "\"type\":\"status\",\"seq\":"));
	assert_non_null(strstr(text, "\"state\":\"AWAITING_REPORT\""));
	assert_null(strstr(text, "\"type\":\"record\""));
	free(text);
	char *argv2[] = { cmd, "--servers", f->n->urls, "--stream", S_STREAM, "--county", S_PREFIX,
		"--township", H_TOWNSHIP2, "--idle-ms", "1500", NULL };
	assert_int_equal(h_run(argv2, out, err, hn_ms(20000)), 0);
	assert_non_null(text = h_slurp(out, NULL));
	size_t records = 0, rejected = 0;
	for (char *p = text; (p = strstr(p, "\"type\":\"record\"")); p++)
		records++;
	for (char *p = text; (p = strstr(p, "\"code\":\"UNKNOWN_ORG\"")); p++)
		rejected++;
	/* B: its org tree (3) and the odd events of 400 (200), 40 of them rejected. */
	assert_int_equal(records, 203);
	assert_int_equal(rejected, 40);
	assert_null(strstr(text, "\"township_id\":\"" H_TOWNSHIP "\""));
	assert_non_null(strstr(text, "\"verdict\":\"ACCEPTED\",\"code\":\"\""));
	free(text);
	hd_pass(f->d);
}

static struct s_fx *s_hook_fx;

/* The journal seq the stream holds, by stats. */
static uint64_t
s_mirror_seq(struct s_fx *f)
{
	QueryReply *r = hq_stats(f->d);
	uint64_t seq = r && r->stats->mirror ? r->stats->mirror->seq : 0;
	hq_free(r);
	return seq;
}

static uint64_t s_killed_at;

/* kill -9 of the mirror (restarted by jicengd since the last one) once it
 * has published past where the last one died: mid-stream, with a backlog. */
static void
s_kill_mirror(struct hpump *p)
{
	(void)p;
	pid_t pid = hd_child_wait_new(s_hook_fx->d, "mirror", 0, hn_ms(15000));
	assert_true(pid > 0);
	uint64_t seq = 0;
	for (int64_t end = now_mono_ms() + hn_ms(15000); now_mono_ms() < end; h_sleep_ms(5))
		if ((seq = s_mirror_seq(s_hook_fx)) > s_killed_at)
			break;
	assert_true(seq > s_killed_at);
	kill(pid, SIGKILL);
	s_killed_at = seq;
}

/* kill -9 of the mirror four times while townships send, each time with
 * a backlog to publish: every seq still once and in order. */
static void
test_mirror_kill9(void **state)
{
	struct s_fx *f = s_hook_fx = *state;
	s_up(f, 1, 1);
	s_killed_at = 0;
	for (int round = 0; round < 4; round++)
		s_send(f, "k9", round * 400, (round + 1) * 400, 300, s_kill_mirror);
	s_check_stream(f, 30000);
	s_stats_caught_up(f);
	assert_int_equal(hd_log_count(f->d, "killed by signal 9"), 4);
	hd_pass(f->d);
}

/* Sequential sends from `from`, one every 2 ms at most, each ack's
 * latency into f->lat_us; for ms of time or n events, whichever ends
 * first. Returns how many. */
static int
s_timed_sends(struct s_fx *f, const char *prefix, int from, int n, int ms)
{
	int i = 0;
	int64_t start = now_mono_ms();
	for (int64_t end = start + ms; i < n && i < 8192 && now_mono_ms() < end; i++) {
		int64_t due = start + 2 * i;
		if (now_mono_ms() < due)
			h_sleep_ms((int)(due - now_mono_ms()));
		struct hmsg m = s_event(prefix, from + i);
		int64_t t0 = now_mono_ns();
		Ack *a = hc_call(f->sock, &m);
		assert_non_null(a);
		f->lat_us[i] = (int)((now_mono_ns() - t0) / 1000);
		if (a->seq && a->seq <= S_MAX_SEQ) {
			f->verdict[a->seq] = (uint8_t)a->verdict;
			snprintf(f->code[a->seq], sizeof f->code[0], "%s", a->code);
		}
		hc_ack_free(a);
		hm_free(&m);
	}
	return i;
}

static int
s_cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int
s_p99_us(int *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, s_cmp_int);
	return v[(n * 99) / 100];
}

/* NATS stopped for 10 s while a township keeps sending: acks as fast as
 * before (p99, generously), the mirror's lag in stats and a warning in the
 * log during, caught up within seconds of NATS's return. */
static void
test_mirror_outage(void **state)
{
	struct s_fx *f = *state;
	s_up(f, 1, 1);
	int n = s_timed_sends(f, "og", 0, 400, 60000);
	assert_int_equal(n, 400);
	int before = s_p99_us(f->lat_us, n);
	s_check_stream(f, 20000);

	hn_stop(f->n, 0);
	int during_n = s_timed_sends(f, "og", 400, 8192, 4000);
	QueryReply *r = hq_stats(f->d);
	assert_non_null(r);
	assert_non_null(r->stats->mirror);
	assert_false(r->stats->mirror->connected);
	assert_true(r->stats->mirror->lag >= (uint64_t)during_n);
	assert_true(strlen(r->stats->mirror->problem) > 0);
	hq_free(r);
	int more = s_timed_sends(f, "og", 400 + during_n, 8192 - during_n, 6000);
	during_n += more;
	int during = s_p99_us(f->lat_us, more);
	fprintf(stderr, "ack p99 before the outage %d us, during %d us (%d events)\n", before, during,
	    during_n);
	assert_true(during <= 5 * before || during <= before + 50000);
	assert_true(hd_log_wait(f->d, "the stream lags", 5000));
	assert_true(hd_log_has(f->d, "ingest carries on"));

	int64_t t0 = now_mono_ms();
	assert_int_equal(hn_restart(f->n, 0), 0);
	s_check_stream(f, 20000);
	s_stats_caught_up(f);
	fprintf(stderr, "caught up %lld ms after NATS was back\n", (long long)(now_mono_ms() - t0));
	assert_true(hd_log_wait(f->d, "caught up: the stream holds the journal", 5000));
	hd_pass(f->d);
}

/* The index (0-2) of the node leading the stream, -1 if unknown. */
static int
s_stream_leader(struct s_fx *f)
{
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	int leader = -1;
	if (js_GetStreamInfo(&si, f->js, S_STREAM, NULL, &e) != NATS_OK)
		return -1;
	for (int i = 0; si->Cluster && si->Cluster->Leader && i < f->n->n; i++)
		if (strcmp(si->Cluster->Leader, f->n->node[i].name) == 0)
			leader = i;
	jsStreamInfo_Destroy(si);
	return leader;
}

static int s_killed_node = -1;

/* kill -9 of the stream leader's node, once the mirror has published. */
static void
s_kill_leader(struct hpump *p)
{
	(void)p;
	s_killed_node = -1;
	for (int64_t end = now_mono_ms() + hn_ms(20000); now_mono_ms() < end; h_sleep_ms(50))
		if (s_mirror_seq(s_hook_fx) > 0 && (s_killed_node = s_stream_leader(s_hook_fx)) >= 0)
			break;
	assert_true(s_killed_node >= 0);
	hn_kill9(s_hook_fx->n, s_killed_node);
}

/* Three nodes, the stream at R3; kill -9 of the stream leader's node
 * mid-stream, more events while it is down, then it is back: the stream
 * complete and in order. */
static void
test_mirror_cluster(void **state)
{
	struct s_fx *f = s_hook_fx = *state;
	s_up(f, 3, 3);
	s_send(f, "cl", 0, 200, 0, NULL);
	s_send(f, "cl", 200, 500, 100, s_kill_leader);
	s_send(f, "cl", 500, 700, 0, NULL);
	assert_int_equal(hn_restart(f->n, s_killed_node), 0);
	s_check_stream(f, 40000);
	s_stats_caught_up(f);
	jsStreamInfo *si = NULL;
	jsErrCode e = 0;
	assert_int_equal(js_GetStreamInfo(&si, f->js, S_STREAM, NULL, &e), NATS_OK);
	assert_int_equal(si->Config->Replicas, 3);
	jsStreamInfo_Destroy(si);
	hd_pass(f->d);
}

/* The servers want an nkey: the mirror signs with [mirror] nkey_seed_file
 * (its public key derived from the seed) while a client without it is
 * refused. */
static void
test_mirror_nkey(void **state)
{
	struct s_fx *f = *state;
	natsConnection *anon = NULL;
	s_up_auth(f, 1, 1, true);
	assert_int_not_equal(natsConnection_ConnectTo(&anon, f->n->node[0].url), NATS_OK);
	natsConnection_Destroy(anon);
	s_send(f, "nk", 0, 50, 0, NULL);
	s_check_stream(f, 20000);
	s_stats_caught_up(f);
	hd_pass(f->d);
}

/* The Jiceng-Seq of the stream's last message, 0 when it holds none. */
static uint64_t
s_last_journal_seq(struct s_fx *f)
{
	uint64_t n = s_stream_msgs(f), seq = 0;
	natsMsg *m = NULL;
	const char *v = NULL;
	if (n == 0)
		return 0;
	assert_int_equal(js_GetMsg(&m, f->js, S_STREAM, n, NULL, NULL), NATS_OK);
	if (natsMsgHeader_Get(m, "Jiceng-Seq", &v) == NATS_OK && v)
		seq = strtoull(v, NULL, 10);
	natsMsg_Destroy(m);
	return seq;
}

/* The mirror publishes a record only once its commit is on disk: with
 * jicengd's flush when idle switched off (a test hook), the last event
 * sent is journaled and applied but not durable, and stays out of the
 * stream until the next commit's flush carries it. */
static void
test_mirror_durable(void **state)
{
	static const char *const env[] = { "JICENG_FAULT_NO_IDLE_FLUSH=1", NULL };
	struct s_fx *f = *state;
	struct hd_opts o = { .config = "", .env = env };
	struct hmsg m[3];
	if (!hn_available())
		skip();
	assert_non_null(f->n = hn_start_conf(1, ""));
	assert_non_null(f->d = hd_new(&o));
	hd_config_write(f->d, "[mirror]\nenabled = true\nservers = %s\nstream = " S_STREAM
	    "\nsubject_prefix = " S_PREFIX "\n", f->n->urls);
	assert_int_equal(hd_up(f->d), 0);
	assert_true(hd_log_wait(f->d, "publishing to stream " S_STREAM, hn_ms(20000)));
	s_js_open(f);
	assert_non_null(f->sock = hc_connect(f->d));
	hm_org_tree(m, "du");
	uint64_t before = hq_journal_length(f->d);
	assert_int_equal(hc_send(f->sock, &m[0]), 0);
	for (int i = 0; i < 500 && hq_journal_length(f->d) == before; i++)
		h_sleep_ms(10);
	uint64_t first = hq_journal_length(f->d);
	assert_true(first > before);
	h_sleep_ms(h_ms(1500));   /* time enough to publish it, were it allowed */
	assert_true(s_last_journal_seq(f) < first);
	assert_int_equal(hc_send(f->sock, &m[1]), 0);   /* its commit flushes the first */
	uint64_t last = 0;
	for (int i = 0; i < 500 && (last = s_last_journal_seq(f)) < first; i++)
		h_sleep_ms(10);
	assert_int_equal(last, first);
	assert_true(hq_journal_length(f->d) > first);   /* the second: journaled, not in the stream */
	h_sleep_ms(h_ms(500));
	assert_int_equal(s_last_journal_seq(f), first);
	for (int i = 0; i < 3; i++)
		hm_free(&m[i]);
	hd_pass(f->d);
}

/* Another publisher's message, once the mirror has published. */
static void
s_foreign(struct hpump *p)
{
	(void)p;
	for (int64_t end = now_mono_ms() + hn_ms(15000); now_mono_ms() < end; h_sleep_ms(5))
		if (s_mirror_seq(s_hook_fx) > 0)
			break;
	assert_int_equal(natsConnection_PublishString(s_hook_fx->nc, S_PREFIX ".ev.intruder.x",
	    "not jiceng's"), NATS_OK);
	assert_int_equal(natsConnection_Flush(s_hook_fx->nc), NATS_OK);
}

/* Someone else publishes under the prefix while townships send: the
 * stream holds the mirror's records in order, once, up to that message
 * and nothing of the mirror's after it; the mirror reports why. */
static void
test_mirror_foreign(void **state)
{
	struct s_fx *f = s_hook_fx = *state;
	s_up(f, 1, 1);
	s_send(f, "fg", 0, 1500, 100, s_foreign);
	assert_true(hd_log_wait(f->d, "has no Jiceng-Seq header", hn_ms(20000)));
	uint64_t n = s_stream_msgs(f), next = 1, foreign = 0;
	assert_true(n > 1);
	for (uint64_t sseq = 1; sseq <= n; sseq++) {
		natsMsg *m = NULL;
		const char *v = NULL;
		assert_int_equal(js_GetMsg(&m, f->js, S_STREAM, sseq, NULL, NULL), NATS_OK);
		if (natsMsgHeader_Get(m, "Jiceng-Seq", &v) != NATS_OK || !v) {
			assert_int_equal(foreign, 0);
			foreign = sseq;
		} else {
			assert_int_equal(foreign, 0);   /* nothing of the mirror's after it */
			if (natsMsgHeader_Get(m, "Jiceng-Index", &v) != NATS_OK) {  /* a record */
				char want[24];
				snprintf(want, sizeof want, "%llu", (unsigned long long)next++);
				s_header_is(m, "Jiceng-Seq", want);
			}
		}
		natsMsg_Destroy(m);
	}
	fprintf(stderr, "the intruder at stream sequence %llu of %llu, after journal seq %llu\n",
	    (unsigned long long)foreign, (unsigned long long)n, (unsigned long long)(next - 1));
	assert_int_equal(foreign, n);
	assert_true(next - 1 >= 1 && next - 1 < hq_journal_length(f->d));
	h_sleep_ms(h_ms(1000));
	assert_int_equal(s_stream_msgs(f), n);
	QueryReply *r = hq_stats(f->d);
	assert_non_null(r);
	assert_non_null(r->stats->mirror);
	assert_false(r->stats->mirror->connected);
	assert_non_null(strstr(r->stats->mirror->problem, "Jiceng-Seq"));
	hq_free(r);
	hd_pass(f->d);
}

int
integ_mirror(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mirror_single, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_kill9, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_outage, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_cluster, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_nkey, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_durable, s_setup, s_teardown),
		cmocka_unit_test_setup_teardown(test_mirror_foreign, s_setup, s_teardown),
	};
	if (!hn_available())
		fprintf(stderr, "mirror: nats-server is not installed; skipping (tools/bootstrap "
		    "installs it)\n");
	return cmocka_run_group_tests_name("mirror", tests, NULL, NULL);
}
