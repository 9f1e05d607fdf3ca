/*
 * raw: the ceiling the daemon is measured against. The same LMDB work the
 * broker and its workers do for each group commit, done in one process
 * with no sockets: one journal write transaction per batch (the broker's
 * dedupe lookup and append for every envelope, one journal_commit whose
 * flush also carries the previous commit's meta page), then fold_step on
 * the state environment of each domain the config runs (membership,
 * meetings, funds by default), one after the other, until each has
 * applied the batch (the worker's transactions of at most FOLD_BATCH
 * events).
 * The broker's envelope checks and the sockets are what the ceiling leaves
 * out; that difference is what the ratio measures.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "config.h"
#include "fold.h"
#include "idnum.h"
#include "journal.h"
#include "now.h"

static double
s_secs(void)
{
	return (double)now_mono_ns() / 1e9;
}

/* One group commit: dedupe lookup and append for each event, data flushed.
 * *last receives the last seq written. */
static int
s_journal_batch(struct journal *j, const struct bench_event *ev, size_t n, uint64_t *last)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		MDB_txn *txn;
		int rc = journal_write_begin(j, &txn);
		int64_t now = now_wall_ms();
		if (rc)
			return rc;
		for (size_t i = 0; i < n && rc == 0; i++) {
			uint64_t seq;
			bool same;
			rc = journal_lookup_id(j, txn, ev[i].township, ev[i].event_id, ev[i].buf, ev[i].len,
			    &seq, &same);
			if (rc == 0)
				rc = EEXIST;
			else if (rc == MDB_NOTFOUND)
				rc = journal_append(j, txn, now, ev[i].kind, ev[i].township, ev[i].event_id,
				    ev[i].buf, ev[i].len, last);
		}
		if (rc == 0)
			return journal_commit(j, txn);
		journal_write_abort(j, txn);
		if (rc != MDB_MAP_FULL || journal_grow(j) != 0)
			return rc;
	}
	return MDB_MAP_FULL;
}

struct folds {
	struct fold *f[DOMAIN_COUNT];
	char path[DOMAIN_COUNT][CONFIG_PATH_MAX + 64];
	unsigned n;
};

/* Each fold, in turn, up to seq last. */
static int
s_fold_to(struct folds *fs, uint64_t last)
{
	for (unsigned d = 0; d < fs->n; d++)
		while (fold_cursor(fs->f[d]) < last) {
			unsigned applied = 0;
			int rc = fold_step(fs->f[d], (unsigned)(last - fold_cursor(fs->f[d])), FOLD_BATCH,
			    false, &applied);
			if (rc)
				return rc;
			if (applied == 0)
				return MDB_NOTFOUND;
		}
	return 0;
}

/* Journal the broker's opening RulesChanged, as jicengd does at start. */
static int
s_journal_rules(struct journal *j, struct folds *fs)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__RulesChanged rc_msg = JICENG__V1__RULES_CHANGED__INIT;
	Rules rules = JICENG__V1__RULES__INIT;
	uint8_t buf[512];
	uint64_t seq;
	MDB_txn *txn;
	rules_defaults(&rules);
	rc_msg.rules = &rules;
	e.event_id = "rules";
	e.township_id = "";
	e.occurred_at = now_wall_ms();
	e.event_case = JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED;
	e.rules_changed = &rc_msg;
	size_t len = jiceng__v1__envelope__get_packed_size(&e);
	if (len > sizeof buf)
		return ENOMEM;
	jiceng__v1__envelope__pack(&e, buf);
	int rc = journal_write_begin(j, &txn);
	if (rc)
		return rc;
	rc = journal_append(j, txn, now_wall_ms(), e.event_case, "", NULL, buf, len, &seq);
	if (rc) {
		journal_write_abort(j, txn);
		return rc;
	}
	if ((rc = journal_commit(j, txn)) == 0)
		rc = s_fold_to(fs, seq);
	return rc;
}

/* Journal w in batches, each followed by the fold; r gets the commits and
 * the time spent in each half. */
static int
s_run(struct journal *j, struct folds *fs, const struct bench_workload *w, unsigned batch,
    struct bench_raw_result *r)
{
	for (size_t at = 0; at < w->n; at += batch) {
		size_t n = w->n - at < batch ? w->n - at : batch;
		uint64_t last = 0;
		double t0 = s_secs();
		int rc = s_journal_batch(j, &w->ev[at], n, &last);
		if (rc)
			return rc;
		double t1 = s_secs();
		r->journal_secs += t1 - t0;
		r->commits++;
		if ((rc = s_fold_to(fs, last)))
			return rc;
		r->fold_secs += s_secs() - t1;
		if (bench_interrupted)
			return EINTR;
	}
	/* The last commit's meta page, as jicengd's flush when idle. */
	double t = s_secs();
	int rc = journal_sync(j);
	r->journal_secs += s_secs() - t;
	return rc;
}

/* Did the folds accept every timed event (seqs first..last), each from the
 * one environment that owns it? An ack-less ceiling that rejected its
 * workload would flatter itself. 0 or -1. */
static int
s_verify(const struct folds *fs, uint64_t first, uint64_t last)
{
	uint64_t accepted = 0;
	bool refused = false;
	for (unsigned d = 0; d < fs->n && !refused; d++) {
		MDB_env *env;
		MDB_txn *txn = NULL;
		MDB_dbi verdicts;
		if (mdb_env_create(&env))
			return -1;
		mdb_env_set_maxdbs(env, 64);
		if (mdb_env_open(env, fs->path[d], MDB_RDONLY | MDB_NOSUBDIR, 0640) == 0 &&
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 &&
		    mdb_dbi_open(txn, "verdicts", 0, &verdicts) == 0) {
			for (uint64_t seq = first; seq <= last && !refused; seq++) {
				Ack *a = NULL;
				if (fold_read_verdict(txn, verdicts, seq, &a) != 0)
					continue;   /* another domain's event */
				refused = a->verdict != JICENG__V1__VERDICT__ACCEPTED;
				if (refused)
					fprintf(stderr, "jiceng-bench: raw: seq %llu: %s %s: %s\n",
					    (unsigned long long)seq, codec_verdict_name(a->verdict), a->code,
					    a->reason);
				jiceng__v1__ack__free_unpacked(a, NULL);
				accepted += !refused;
			}
		}
		if (txn)
			mdb_txn_abort(txn);
		mdb_env_close(env);
	}
	return !refused && first <= last && accepted == last - first + 1 ? 0 : -1;
}

int
bench_raw(const char *parent, const struct bench_workload *orgs,
    const struct bench_workload *roster, const struct bench_workload *timed, unsigned batch,
    struct bench_raw_result *r)
{
	struct config cfg;
	struct journal *j = NULL;
	struct folds fs = { .n = 0 };
	uint8_t key[IDNUM_KEY_LEN];
	char dir[512], derived[512] = "", path[CONFIG_PATH_MAX + 64];
	struct bench_raw_result setup = { 0 };
	uint64_t first = 0;
	int rc;
	memset(r, 0, sizeof *r);
	r->batch = batch ? batch : 1;
	if (bench_mkdtemp(parent, "raw", dir, sizeof dir) < 0) {
		fprintf(stderr, "jiceng-bench: raw: temporary dir: %s\n", strerror(errno));
		return -1;
	}
	config_defaults(&cfg);
	char err[256];
	if (bench_config && config_load(&cfg, bench_config, err, sizeof err) < 0) {
		fprintf(stderr, "jiceng-bench: raw: %s\n", err);
		rc = -1;
		goto out;
	}
	snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
	if (bench_derived_parent &&
	    bench_mkdtemp(bench_derived_parent, "raw-derived", derived, sizeof derived) < 0) {
		fprintf(stderr, "jiceng-bench: raw: temporary dir under %s: %s\n", bench_derived_parent,
		    strerror(errno));
		rc = -1;
		goto out;
	}
	snprintf(cfg.derived_dir, sizeof cfg.derived_dir, "%s", derived[0] ? derived : dir);
	config_finish(&cfg);
	snprintf(path, sizeof path, "%s/state", cfg.derived_dir);
	if (mkdir(path, 0750) < 0 || idnum_key_load(cfg.id_key_file, true, key) < 0) {
		fprintf(stderr, "jiceng-bench: raw: %s: %s\n", path, strerror(errno));
		rc = -1;
		goto out;
	}
	if ((rc = journal_open_at(&j, dir, cfg.derived_dir, cfg.journal_map_mb, cfg.journal_map_max_mb,
	    false)) == 0)
		journal_tail_start(j, (uint64_t)cfg.journal_fill_ahead_mb << 20);  /* as jicengd, where it can */
	for (int d = 0; d < DOMAIN_COUNT && rc == 0; d++)
		if (cfg.workers[d]) {
			fold_state_path(cfg.derived_dir, (enum domain)d, fs.path[fs.n], sizeof fs.path[0]);
			rc = fold_open(&fs.f[fs.n], j, (enum domain)d, fs.path[fs.n], &cfg);
			fs.n++;
		}
	r->domains = fs.n;
	if (rc ||
	    (rc = s_journal_rules(j, &fs)) ||
	    (rc = s_run(j, &fs, orgs, r->batch, &setup)) ||
	    (rc = s_run(j, &fs, roster, r->batch, &setup))) {
		fprintf(stderr, "jiceng-bench: raw: set-up: %s\n", mdb_strerror(rc));
		goto out;
	}
	first = fold_cursor(fs.f[0]) + 1;
	double t0 = s_secs();
	rc = s_run(j, &fs, timed, r->batch, r);
	r->secs = s_secs() - t0;
	if (rc) {
		fprintf(stderr, "jiceng-bench: raw: %s\n", mdb_strerror(rc));
		goto out;
	}
	r->events = timed->n;
	r->rate = r->secs > 0 ? (double)r->events / r->secs : 0;
out:
	for (unsigned d = 0; d < fs.n; d++)
		fold_destroy(&fs.f[d]);
	journal_close(&j);
	if (rc == 0 && s_verify(&fs, first, first + timed->n - 1) < 0) {
		fprintf(stderr, "jiceng-bench: raw: the fold did not accept the workload\n");
		rc = -1;
	}
	bench_rmtree(dir);
	if (derived[0])
		bench_rmtree(derived);
	return rc ? -1 : 0;
}
