/*
 * metrics: the Prometheus text file for node_exporter's textfile collector,
 * written every [metrics] interval_s to a temporary file and renamed into
 * place so the collector never reads half a file. Figures come from the
 * broker's counters and the workers' `counts` tables (read-only).
 */
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "be64.h"
#include "broker.h"
#include "log.h"
#include "metrics.h"
#include "mirror_cursor.h"
#include "store.h"

static void
s_header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Worker counts: events by kind and verdict, warnings by rule. */
static void
s_worker_counts(FILE *f, struct broker *b, struct child *c)
{
	MDB_txn *txn;
	MDB_dbi counts;
	MDB_cursor *cur;
	MDB_val k, v;
	if (!c->state && children_open_state(b, c) != 0)
		return;
	if (store_read_begin(c->state, &txn))
		return;
	if (mdb_dbi_open(txn, "counts", 0, &counts) == 0 && mdb_cursor_open(txn, counts, &cur) == 0) {
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			const char *key = k.mv_data;
			int len = (int)k.mv_size;
			uint64_t n = v.mv_size == 8 ? be64_get(v.mv_data) : 0;
			const char *colon = memchr(key + 6, ':', k.mv_size > 6 ? k.mv_size - 6 : 0);
			if (len > 6 && memcmp(key, "event:", 6) == 0 && colon)
				fprintf(f, "jiceng_events_total{domain=\"%s\",kind=\"%.*s\",verdict=\"%.*s\"} %llu\n",
				    c->role, (int)(colon - key - 6), key + 6,
				    (int)(key + len - colon - 1), colon + 1, (unsigned long long)n);
			else if (len > 9 && memcmp(key, "rejected:", 9) == 0)
				fprintf(f, "jiceng_rule_rejections_total{domain=\"%s\",code=\"%.*s\"} %llu\n",
				    c->role, len - 9, key + 9, (unsigned long long)n);
			else if (len > 8 && memcmp(key, "warning:", 8) == 0)
				fprintf(f, "jiceng_rule_warnings_total{domain=\"%s\",code=\"%.*s\"} %llu\n",
				    c->role, len - 8, key + 8, (unsigned long long)n);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

/* jiceng-mirror's position in the JetStream stream, from its cursor. */
static void
s_mirror(FILE *f, struct broker *b, uint64_t end)
{
	char path[CONFIG_PATH_MAX + 16];
	struct mirror_pos pos;
	struct mirror_health h;
	mirror_cursor_path(b->cfg.derived_dir, path, sizeof path);
	if (mirror_cursor_peek(path, &pos, &h) != 0) {
		memset(&pos, 0, sizeof pos);
		memset(&h, 0, sizeof h);
	}
	s_header(f, "jiceng_mirror_seq", "gauge", "Last journal seq the JetStream stream holds.");
	fprintf(f, "jiceng_mirror_seq %llu\n", (unsigned long long)pos.seq);
	s_header(f, "jiceng_mirror_lag", "gauge",
	    "Journaled (and acknowledged) events not yet in the JetStream stream.");
	fprintf(f, "jiceng_mirror_lag %llu\n", (unsigned long long)(end > pos.seq ? end - pos.seq : 0));
	s_header(f, "jiceng_mirror_stream_seq", "gauge", "Stream sequence of the last message acknowledged.");
	fprintf(f, "jiceng_mirror_stream_seq %llu\n", (unsigned long long)pos.stream_seq);
	s_header(f, "jiceng_mirror_connected", "gauge", "1 when jiceng-mirror reaches NATS and its stream.");
	fprintf(f, "jiceng_mirror_connected %d\n", h.connected);
}

/* A standby's view of the stream it follows (follow.c). */
static void
s_standby(FILE *f, struct broker *b)
{
	Jiceng__V1__StandbyStats st = JICENG__V1__STANDBY_STATS__INIT;
	char problem[FOLLOW_PROBLEM_MAX];
	follow_stats(b, &st, problem);
	s_header(f, "jiceng_standby_following", "gauge",
	    "1 while this standby follows its stream, 0 when it cannot (or was promoted).");
	fprintf(f, "jiceng_standby_following %d\n", strcmp(st.state, "following") == 0);
	s_header(f, "jiceng_standby_stream_end", "gauge", "Last journal seq the followed stream holds.");
	fprintf(f, "jiceng_standby_stream_end %llu\n", (unsigned long long)st.stream_end);
	s_header(f, "jiceng_standby_lag", "gauge", "Events the stream holds that this standby has not journaled.");
	fprintf(f, "jiceng_standby_lag %llu\n", (unsigned long long)st.lag);
}

static void
s_write(FILE *f, struct broker *b)
{
	const struct counters *k = &b->counters;
	uint64_t end = journal_committed_end(b->journal);
	s_header(f, "jiceng_journal_length", "gauge", "Last journaled sequence number.");
	fprintf(f, "jiceng_journal_length %llu\n", (unsigned long long)end);
	s_header(f, "jiceng_journal_map_bytes", "gauge", "Journal LMDB map size.");
	fprintf(f, "jiceng_journal_map_bytes %llu\n", (unsigned long long)journal_map_size(b->journal));
	s_header(f, "jiceng_worker_cursor", "gauge", "Last seq applied by each worker.");
	s_header(f, "jiceng_worker_lag", "gauge", "Journaled events a worker has not applied yet.");
	s_header(f, "jiceng_child_up", "gauge", "1 when the child process is running and heard from.");
	for (unsigned i = 0; i < b->nchildren; i++) {
		const struct child *c = &b->children[i];
		fprintf(f, "jiceng_child_up{role=\"%s\"} %d\n", c->role, c->pid && c->hello);
		if (c->domain == DOMAIN_NONE)
			continue;
		fprintf(f, "jiceng_worker_cursor{domain=\"%s\"} %llu\n", c->role, (unsigned long long)c->cursor);
		fprintf(f, "jiceng_worker_lag{domain=\"%s\"} %llu\n", c->role,
		    (unsigned long long)(end > c->cursor ? end - c->cursor : 0));
	}
	s_header(f, "jiceng_ack_seconds", "histogram", "From reading an envelope to sending its ack, "
	    "by the worker that answered (the commit's wait and flush and the worker's apply; not "
	    "the network).");
	for (unsigned i = 0; i < b->nchildren; i++) {
		const struct child *c = &b->children[i];
		char labels[64];
		if (c->domain == DOMAIN_NONE)
			continue;
		snprintf(labels, sizeof labels, "domain=\"%s\"", c->role);
		latency_write(f, "jiceng_ack_seconds", labels, &c->acks);
	}
	if (b->cfg.mirror_enabled)
		s_mirror(f, b, end);
	if (b->follow)
		s_standby(f, b);
	s_header(f, "jiceng_events_total", "counter", "Applied events by kind and verdict.");
	s_header(f, "jiceng_rule_rejections_total", "counter", "Events rejected by a rule, by code.");
	s_header(f, "jiceng_rule_warnings_total", "counter", "Warnings given with accepted events, by rule.");
	for (unsigned i = 0; i < b->nchildren; i++)
		if (b->children[i].domain != DOMAIN_NONE)
			s_worker_counts(f, b, &b->children[i]);
	s_header(f, "jiceng_refused_total", "counter", "Envelopes refused before journaling, by code.");
	for (unsigned i = 0; i < k->nrejected; i++)
		fprintf(f, "jiceng_refused_total{code=\"%s\"} %llu\n", k->rejected[i].code,
		    (unsigned long long)k->rejected[i].n);
	s_header(f, "jiceng_duplicates_total", "counter", "Resent envelopes answered DUPLICATE.");
	fprintf(f, "jiceng_duplicates_total %llu\n", (unsigned long long)k->duplicates);
	s_header(f, "jiceng_retry_later_total", "counter", "Envelopes answered RETRY_LATER.");
	fprintf(f, "jiceng_retry_later_total %llu\n", (unsigned long long)k->retry_later);
	s_header(f, "jiceng_journaled_total", "counter", "Envelopes journaled since start.");
	fprintf(f, "jiceng_journaled_total %llu\n", (unsigned long long)k->accepted_journaled);
	s_header(f, "jiceng_commits_total", "counter", "Journal group commits since start.");
	fprintf(f, "jiceng_commits_total %llu\n", (unsigned long long)k->commits);
	s_header(f, "jiceng_commit_events_max", "gauge", "Largest group commit, in events.");
	fprintf(f, "jiceng_commit_events_max %llu\n", (unsigned long long)k->commit_events_max);
	s_header(f, "jiceng_commit_seconds_total", "counter", "Time spent in journal commits (incl. fsync).");
	fprintf(f, "jiceng_commit_seconds_total %.6f\n", k->commit_ms_total / 1000.0);
	if (b->auth) {
		struct auth_counters ac;
		auth_counters(b->auth, &ac);
		s_header(f, "jiceng_auth_keys", "gauge", "Active client keys.");
		fprintf(f, "jiceng_auth_keys %u\n", ac.keys);
		s_header(f, "jiceng_auth_handshakes_total", "counter", "CURVE handshakes by result.");
		fprintf(f, "jiceng_auth_handshakes_total{result=\"accepted\"} %llu\n", (unsigned long long)ac.accepted);
		fprintf(f, "jiceng_auth_handshakes_total{result=\"unknown_key\"} %llu\n", (unsigned long long)ac.refused_unknown);
		fprintf(f, "jiceng_auth_handshakes_total{result=\"revoked_key\"} %llu\n", (unsigned long long)ac.refused_revoked);
		fprintf(f, "jiceng_auth_handshakes_total{result=\"other\"} %llu\n", (unsigned long long)ac.refused_other);
	}
}

void
metrics_write(struct broker *b)
{
	char tmp[CONFIG_PATH_MAX + 8];
	const char *path = b->cfg.metrics_textfile;
	if (!path[0])
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		log_warn("metrics file %s", tmp);
		return;
	}
	/* node_exporter runs as another user; the unit's UMask is 0077. */
	fchmod(fileno(f), 0644);
	s_write(f, b);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		log_warn("metrics file %s", path);
		unlink(tmp);
	}
}
