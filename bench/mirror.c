/*
 * mirror: jiceng-mirror's part of the benchmark (--mirror). A nats-server
 * of its own (one node, JetStream on file storage beside the data dirs)
 * and two jicengd, one mirroring to it and one not, with the same county
 * (orgs and a roster; the runs update members and register some, the
 * membership worker only):
 *   - the mirror's throughput: the county's set-up is journaled while NATS
 *     is down, then NATS comes back and the mirror publishes that backlog:
 *     events and messages per second from its first ack to caught up;
 *   - ingest at the peak with the mirror on against off, in pairs of runs
 *     whose order alternates (target: within 5%), twice: with nats-server
 *     at normal priority beside the daemon (the target is judged on this
 *     one), then with nats-server at SCHED_IDLE, standing in for NATS on
 *     another machine (as deployed: the province's cluster);
 *   - the lag from each event's journal time (received_at, stamped as the
 *     group commit gathers it) to the stream storing its record (the
 *     message's JetStream timestamp; the ack follows it at once), p50 and
 *     p99, at --load of the peak with the mirror on;
 *   - the stream's bytes per event, for sizing.
 * The mirror, nats-server and the load share the machine's cores with the
 * daemon, as on a county's one server that runs NATS too.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "now.h"

#define MIRROR_RUN_BASE 700        /* run numbers of the event ids, apart from the others' */
#define MIRROR_MAX_PAIRS 9
#define MIRROR_STREAM "BENCH"
#define MIRROR_PREFIX "jiceng.bench"
#define TARGET_RATIO 0.95

/* ---------------------------------------------------------------- nats-server */

struct bnats {
	pid_t pid;
	int port, http;
	char dir[512], conf[600], log[600], url[64];
};

static int
s_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* One GET /healthz: is the server up with JetStream? */
static bool
s_healthy(const struct bnats *n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)n->http),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
	char buf[1024];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = false;
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;
		while (got < sizeof buf - 1 && poll(&p, 1, 1000) > 0 &&
		    (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = 0;
		ok = strstr(buf, "\"status\":\"ok\"") != NULL;
	}
	close(fd);
	return ok;
}

static int
s_nats_spawn(struct bnats *n)
{
	if ((n->pid = fork()) < 0)
		return -1;
	if (n->pid == 0) {
		int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("nats-server", "nats-server", "-c", n->conf, (char *)NULL);
		execl("/usr/sbin/nats-server", "nats-server", "-c", n->conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && !bench_interrupted; i++) {
		if (s_healthy(n))
			return 0;
		if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
			n->pid = 0;
			break;
		}
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	}
	fprintf(stderr, "jiceng-bench: nats-server did not come up; see %s\n", n->log);
	return -1;
}

static void
s_nats_stop(struct bnats *n)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, SIGTERM);
	for (int i = 0; i < 200 && waitpid(n->pid, NULL, WNOHANG) != n->pid; i++)
		nanosleep(&(struct timespec){ 0, 25000000 }, NULL);
	kill(n->pid, SIGKILL);
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
}

static int
s_nats_start(struct bnats *n, const char *parent)
{
	memset(n, 0, sizeof *n);
	if (bench_mkdtemp(parent, "nats", n->dir, sizeof n->dir) < 0 ||
	    (n->port = s_free_port()) < 0 || (n->http = s_free_port()) < 0)
		return -1;
	snprintf(n->conf, sizeof n->conf, "%s/nats.conf", n->dir);
	snprintf(n->log, sizeof n->log, "%s/nats.log", n->dir);
	snprintf(n->url, sizeof n->url, "nats://127.0.0.1:%d", n->port);
	FILE *f = fopen(n->conf, "w");
	if (!f)
		return -1;
	fprintf(f, "listen: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n"
	    "jetstream { store_dir: \"%s/js\", max_memory_store: 64MB, max_file_store: 8GB }\n",
	    n->port, n->http, n->dir);
	fclose(f);
	return s_nats_spawn(n);
}

/* Every thread of nats-server to SCHED_IDLE: it runs only on a core that
 * nothing else wants (threads it starts later inherit it). 0 or -1. */
static int
s_nats_idle(const struct bnats *n)
{
	char path[64];
	struct dirent *e;
	int done = 0, failed = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)n->pid);
	DIR *dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.') {
			struct sched_param sp = { 0 };
			if (sched_setscheduler((pid_t)atoi(e->d_name), SCHED_IDLE, &sp) == 0)
				done++;
			else if (errno != ESRCH)
				failed++;
		}
	closedir(dir);
	return done > 0 && failed == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- configs */

/* bench_config's text (or nothing) and the [mirror] section into path. */
static int
s_mirror_config(const char *path, const struct bnats *n)
{
	char mirror[300];
	snprintf(mirror, sizeof mirror, "\n[mirror]\nenabled = true\nservers = %s\nstream = "
	    MIRROR_STREAM "\nsubject_prefix = " MIRROR_PREFIX "\n", n->url);
	return bench_config_write(path, mirror);
}

/* Start d with config (NULL: bench_config's). */
static int
s_daemon(struct bench_daemon *d, const char *dir, const char *config)
{
	const char *saved = bench_config;
	if (config)
		bench_config = config;
	int rc = bench_daemon_start(d, dir);
	bench_config = saved;
	return rc;
}

/* ---------------------------------------------------------------- the mirror's view */

struct mstat {
	uint64_t journal, seq, stream_seq;
	bool connected;
};

static int
s_mstat(const struct bench_daemon *d, struct mstat *m)
{
	QueryReply *r;
	memset(m, 0, sizeof *m);
	if (bench_daemon_stats(d, &r) < 0) {
		if (r)
			jiceng__v1__query_reply__free_unpacked(r, NULL);
		return -1;
	}
	m->journal = r->stats->journal_length;
	if (r->stats->mirror) {
		m->seq = r->stats->mirror->seq;
		m->stream_seq = r->stats->mirror->stream_seq;
		m->connected = r->stats->mirror->connected;
	}
	jiceng__v1__query_reply__free_unpacked(r, NULL);
	return 0;
}

/* Wait until the stream holds d's whole journal; the time it took, -1 on
 * timeout. With first_ack, the clock starts at the mirror's first ack
 * instead (a backoff before reconnecting is not publishing). */
static double
s_caught_up(const struct bench_daemon *d, int timeout_s, bool first_ack, struct mstat *start,
    struct mstat *end)
{
	int64_t t0 = now_mono_ns(), limit = t0 + (int64_t)timeout_s * 1000000000LL;
	bool started = !first_ack;
	s_mstat(d, start);
	while (now_mono_ns() < limit && !bench_interrupted) {
		if (s_mstat(d, end) == 0) {
			if (!started && end->seq > start->seq) {
				started = true;
				t0 = now_mono_ns();
				*start = *end;
			}
			if (started && end->connected && end->seq == end->journal && end->journal > 0)
				return (double)(now_mono_ns() - t0) / 1e9;
		}
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	return -1;
}

/* ---------------------------------------------------------------- CPU */

/* The pid of d's jiceng-mirror, 0 when none. */
static pid_t
s_mirror_pid(const struct bench_daemon *d)
{
	char path[64], comm[64];
	long kid;
	pid_t found = 0;
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)d->pid, (int)d->pid);
	FILE *f = fopen(path, "r");
	while (f && !found && fscanf(f, "%ld", &kid) == 1) {
		snprintf(path, sizeof path, "/proc/%ld/comm", kid);
		FILE *c = fopen(path, "r");
		if (c && fgets(comm, sizeof comm, c) && strncmp(comm, "jiceng-mirror", 13) == 0)
			found = (pid_t)kid;
		if (c)
			fclose(c);
	}
	if (f)
		fclose(f);
	return found;
}

/* ---------------------------------------------------------------- the stream */

static int
s_js(const struct bnats *n, natsConnection **nc, jsCtx **js)
{
	if (natsConnection_ConnectTo(nc, n->url) != NATS_OK)
		return -1;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	return natsConnection_JetStream(js, *nc, &jo) == NATS_OK ? 0 : -1;
}

static int
s_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct lag {
	size_t n;
	double p50, p99, max;
};

/* The records of stream sequences [from, to]: journal time to stream
 * time of each, in ms. */
static int
s_lag(jsCtx *js, uint64_t from, uint64_t to, struct lag *out)
{
	jsSubOptions so;
	natsSubscription *sub = NULL;
	jsErrCode je = 0;
	size_t cap = (size_t)(to - from + 1), n = 0;
	double *ms = malloc(cap * sizeof *ms);
	int rc = -1;
	jsSubOptions_Init(&so);
	so.Stream = MIRROR_STREAM;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = from;
	if (!ms || js_SubscribeSync(&sub, js, MIRROR_PREFIX ".ev.>", NULL, &so, &je) != NATS_OK)
		goto out;
	for (;;) {
		natsMsg *m = NULL;
		jsMsgMetaData *meta = NULL;
		if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK)
			break;
		bool past = natsMsg_GetMetaData(&meta, m) != NATS_OK || meta->Sequence.Stream > to;
		MirroredRecord *r = past ? NULL : jiceng__v1__mirrored_record__unpack(NULL,
		    (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
		if (r && n < cap)
			ms[n++] = (double)meta->Timestamp / 1e6 - (double)r->received_at;
		if (r)
			jiceng__v1__mirrored_record__free_unpacked(r, NULL);
		bool last = meta && meta->Sequence.Stream >= to;
		jsMsgMetaData_Destroy(meta);
		natsMsg_Destroy(m);
		if (past || last)
			break;
	}
	if (n == 0)
		goto out;
	qsort(ms, n, sizeof *ms, s_dbl_cmp);
	out->n = n;
	out->p50 = ms[n / 2];
	out->p99 = ms[(n * 99) / 100];
	out->max = ms[n - 1];
	rc = 0;
out:
	natsSubscription_Destroy(sub);
	free(ms);
	return rc;
}

/* ---------------------------------------------------------------- runs */

static int
s_setup_county(const struct bench_daemon *d, const struct bench_mirror_options *o,
    const struct bench_workload *orgs, const struct bench_workload *roster)
{
	struct bench_result r;
	if (bench_drive(d->ingest, orgs, o->clients, o->window, 0, 30, &r) < 0 || r.accepted != orgs->n ||
	    bench_drive(d->ingest, roster, o->clients, o->window, 0, 60, &r) < 0 ||
	    r.accepted != roster->n) {
		fprintf(stderr, "jiceng-bench: mirror set-up failed: %s\n", r.first_refusal);
		return -1;
	}
	return 0;
}

/* One run of n events on d, paced to rate (0: as fast as acks come). */
static int
s_run(const struct bench_daemon *d, const struct bench_mirror_options *o,
    const struct bench_spec *sp, unsigned run, size_t n, double rate, struct bench_result *r)
{
	struct bench_workload w = { 0 };
	int rc = -1;
	if (bench_workload_events(&w, sp, n, run, false) < 0)
		fprintf(stderr, "jiceng-bench: out of memory\n");
	else if (bench_drive(d->ingest, &w, o->clients, o->window, rate, 30, r) < 0)
		fprintf(stderr, "jiceng-bench: a mirror run timed out\n");
	else if (r->accepted != w.n)
		fprintf(stderr, "jiceng-bench: a mirror run had refusals: %s\n", r->first_refusal);
	else
		rc = 0;
	bench_workload_free(&w);
	return rc;
}

/* A run paced to rate on d (the mirror on), half_seconds long, then the
 * lag of each of its records once the stream has them all. */
static int
s_lag_run(const struct bench_daemon *d, const struct bench_mirror_options *o,
    const struct bench_spec *sp, unsigned run, double rate, jsCtx *js, struct lag *lag)
{
	struct bench_result r;
	struct mstat m0, m1;
	size_t n = (size_t)(rate * o->half_seconds);
	if (s_mstat(d, &m0) < 0 || s_run(d, o, sp, run, n < 1000 ? 1000 : n, rate, &r) < 0)
		return -1;
	printf("  %-24s %8.0f %8.2f %8.2f\n", "paced, mirror on", r.rate, r.p50_ms, r.p99_ms);
	if (s_caught_up(d, 60, false, &m1, &m1) < 0 || s_lag(js, m0.stream_seq + 1, m1.stream_seq, lag) < 0) {
		fprintf(stderr, "jiceng-bench: reading the stream's paced run failed\n");
		return -1;
	}
	return 0;
}

/* The on/off pairs of one placement of nats-server. */
struct pairs {
	double median, lo, hi;       /* of the pairs' on / off ratios */
	double best_on, best_off, median_on;
	double run_mirror_us, run_nats_us;  /* CPU per event within the runs */
	double mirror_us, nats_us;   /* CPU per event until the stream had them */
	double behind;               /* median share of a run not in the stream at its end */
};

/* CPU seconds of the mirror and nats-server over the runs with the mirror:
 * within them, and until the stream had them. */
struct oncpu {
	double in_m, in_n, all_m, all_n, events;
};

/* One peak run on the daemon with the mirror, then wait until the stream
 * holds it; its CPU into c, the share of it not in the stream at its last
 * ack into *behind. */
static int
s_on_run(const struct bench_daemon *on, const struct bench_mirror_options *o,
    const struct bench_spec *sp, const struct bnats *nats, unsigned run, struct bench_result *r,
    struct oncpu *c, double *behind)
{
	struct mstat m0, m1;
	pid_t mpid = s_mirror_pid(on);
	double c0 = mpid ? bench_proc_cpu(mpid) : -1, n0 = bench_proc_cpu(nats->pid), c1, n1, c2, n2;
	if (s_run(on, o, sp, run, o->events, 0, r) < 0)
		return -1;
	c1 = mpid ? bench_proc_cpu(mpid) : -1;
	n1 = bench_proc_cpu(nats->pid);
	if (s_mstat(on, &m1) < 0 || s_caught_up(on, 60, false, &m0, &m0) < 0)
		return -1;
	c2 = mpid ? bench_proc_cpu(mpid) : -1;
	n2 = bench_proc_cpu(nats->pid);
	*behind = (double)(m1.journal - m1.seq) / (double)r->acked;
	if (c0 >= 0 && c2 >= c1 && c1 >= c0 && n0 >= 0 && n2 >= n1 && n1 >= n0) {
		c->in_m += c1 - c0;
		c->in_n += n1 - n0;
		c->all_m += c2 - c0;
		c->all_n += n2 - n0;
		c->events += (double)r->acked;
	}
	printf("  %-24s %8.0f %8.2f %8.2f   %4.0f, %4.0f; %2.0f%%\n", "peak, mirror on", r->rate,
	    r->p50_ms, r->p99_ms, 1e3 * (c1 - c0), 1e3 * (n1 - n0), 100 * *behind);
	return 0;
}

/* o->pairs pairs of peak runs, the order alternating. */
static int
s_pairs(const struct bench_daemon *on, const struct bench_daemon *off,
    const struct bench_mirror_options *o, const struct bench_spec *sp, const struct bnats *nats,
    unsigned *run, const char *label, struct pairs *out)
{
	double rate_on[MIRROR_MAX_PAIRS], rate_off[MIRROR_MAX_PAIRS], pair[MIRROR_MAX_PAIRS];
	double behind[MIRROR_MAX_PAIRS];
	struct oncpu c = { 0 };
	struct bench_result r;
	memset(out, 0, sizeof *out);
	printf("  %-24s %8s %8s %8s   %s\n", label, "events/s", "p50 ms", "p99 ms",
	    "in the run: mirror, nats-server CPU ms; not in the stream at its end");
	for (unsigned k = 0; k < o->pairs; k++) {
		for (unsigned x = 0; x < 2; x++) {
			if ((x + k) % 2 == 1) {
				if (s_on_run(on, o, sp, nats, (*run)++, &r, &c, &behind[k]) < 0)
					return -1;
				rate_on[k] = r.rate;
				continue;
			}
			if (s_run(off, o, sp, (*run)++, o->events, 0, &r) < 0)
				return -1;
			printf("  %-24s %8.0f %8.2f %8.2f\n", "peak, mirror off", r.rate, r.p50_ms,
			    r.p99_ms);
			rate_off[k] = r.rate;
		}
		pair[k] = rate_off[k] > 0 ? rate_on[k] / rate_off[k] : 0;
		out->best_on = rate_on[k] > out->best_on ? rate_on[k] : out->best_on;
		out->best_off = rate_off[k] > out->best_off ? rate_off[k] : out->best_off;
	}
	qsort(pair, o->pairs, sizeof *pair, s_dbl_cmp);
	qsort(rate_on, o->pairs, sizeof *rate_on, s_dbl_cmp);
	qsort(behind, o->pairs, sizeof *behind, s_dbl_cmp);
	out->median = pair[o->pairs / 2];
	out->lo = pair[0];
	out->hi = pair[o->pairs - 1];
	out->median_on = rate_on[o->pairs / 2];
	out->behind = behind[o->pairs / 2];
	if (c.events > 0) {
		out->run_mirror_us = 1e6 * c.in_m / c.events;
		out->run_nats_us = 1e6 * c.in_n / c.events;
		out->mirror_us = 1e6 * c.all_m / c.events;
		out->nats_us = 1e6 * c.all_n / c.events;
	}
	return 0;
}

static void
s_pairs_print(const struct pairs *p, const struct bench_mirror_options *o, const char *what,
    bool judged)
{
	printf("  ingest peak with the mirror on / off, %s:\n"
	    "    median of %u pairs %.1f%% (from %.1f%% to %.1f%%), best %.0f / %.0f events/s",
	    what, o->pairs, 100 * p->median, 100 * p->lo, 100 * p->hi, p->best_on, p->best_off);
	if (judged)
		printf("   (target >= %.0f%%: %s)\n", 100 * TARGET_RATIO,
		    p->median >= TARGET_RATIO ? "met" : "MISSED");
	else
		printf("   (not judged)\n");
	printf("    CPU per event within the peak runs: jiceng-mirror %.1f us, nats-server %.1f us;"
	    " until the stream had them: %.1f us, %.1f us; not in the stream at a run's end: %.0f%%"
	    " (median)\n", p->run_mirror_us, p->run_nats_us, p->mirror_us, p->nats_us,
	    100 * p->behind);
}

int
bench_mirror(const struct bench_mirror_options *o)
{
	struct bnats nats;
	struct bench_daemon off = { 0 }, on = { 0 };
	struct bench_workload orgs = { 0 }, roster = { 0 };
	struct bench_spec sp = { .clients = o->clients, .branches = 4, .roster = o->roster,
		.roster_townships = o->clients };
	struct mstat m0, m1;
	struct lag lag[2] = { { 0 } };
	struct pairs near, apart;
	double rate[2], catch_s;
	char conf[600];
	unsigned saved_settle = bench_settle_ms, run = MIRROR_RUN_BASE;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode je = 0;
	int rc = -1;

	if (o->pairs < 1 || o->pairs > MIRROR_MAX_PAIRS)
		return -1;
	printf("\nmirror: a county of %zu members over %u townships, runs of %zu events (member\n"
	    "updates, one in %d a registration), %u clients, window %u; one nats-server\n"
	    "(JetStream, file storage, R1) on the same machine\n", o->roster, o->clients, o->events,
	    BENCH_NEW_MEMBER_EVERY, o->clients, o->window);
	if (bench_workload_orgs(&orgs, o->clients, 4, false) < 0 ||
	    bench_workload_roster(&roster, &sp, false) < 0) {
		fprintf(stderr, "jiceng-bench: out of memory\n");
		goto free;
	}
	if (s_nats_start(&nats, o->dir) < 0) {
		s_nats_stop(&nats);
		bench_rmtree(nats.dir);
		goto free;
	}
	snprintf(conf, sizeof conf, "%s/mirror.conf", nats.dir);
	if (s_mirror_config(conf, &nats) < 0 || s_daemon(&off, o->dir, NULL) < 0 ||
	    s_daemon(&on, o->dir, conf) < 0)
		goto stop;
	bench_settle_ms = 300;

	/* Throughput: the set-up journaled with NATS down, then published. */
	s_nats_stop(&nats);
	if (s_setup_county(&off, o, &orgs, &roster) < 0 || s_setup_county(&on, o, &orgs, &roster) < 0 ||
	    s_nats_spawn(&nats) < 0)
		goto stop;
	if ((catch_s = s_caught_up(&on, 120, true, &m0, &m1)) < 0) {
		fprintf(stderr, "jiceng-bench: the mirror did not catch up within 120 s\n");
		goto stop;
	}
	printf("  mirror throughput, a backlog of %llu events after NATS came back: %.0f events/s,"
	    " %.0f messages/s (%.2f s)\n", (unsigned long long)(m1.seq - m0.seq),
	    (double)(m1.seq - m0.seq) / catch_s, (double)(m1.stream_seq - m0.stream_seq) / catch_s,
	    catch_s);

	/* Ingest at the peak, mirror on and off, in pairs, nats-server beside
	 * the daemon at normal priority. */
	if (s_pairs(&on, &off, o, &sp, &nats, &run, "nats-server beside it:", &near) < 0)
		goto stop;

	/* The lag at --load of the peak (the median with the mirror on: the
	 * best of a noisy machine's runs may be more than it can do now), and
	 * at half of that, where the machine has room for the mirror. */
	bench_settle_ms = saved_settle;
	if (s_js(&nats, &nc, &js) < 0)
		goto stop;
	for (int k = 0; k < 2; k++) {
		rate[k] = near.median_on * o->load / (k + 1);
		if (s_lag_run(&on, o, &sp, run++, rate[k], js, &lag[k]) < 0)
			goto stop;
	}
	if (s_mstat(&on, &m1) < 0 || js_GetStreamInfo(&si, js, MIRROR_STREAM, NULL, &je) != NATS_OK)
		goto stop;

	/* The same pairs with nats-server at SCHED_IDLE: a stand-in for NATS
	 * on another machine. */
	bench_settle_ms = 300;
	if (s_nats_idle(&nats) < 0) {
		fprintf(stderr, "jiceng-bench: cannot set nats-server to SCHED_IDLE: %s\n",
		    strerror(errno));
		goto stop;
	}
	if (s_pairs(&on, &off, o, &sp, &nats, &run, "nats-server at SCHED_IDLE:", &apart) < 0)
		goto stop;

	rc = 0;
	printf("\nmirror summary:\n");
	for (int k = 0; k < 2; k++)
		printf("  journal time to stream at %.0f%% of the peak (%.0f events/s, %zu records):\n"
		    "    p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", 100 * o->load / (k + 1), rate[k],
		    lag[k].n, lag[k].p50, lag[k].p99, lag[k].max);
	s_pairs_print(&near, o, "nats-server beside the daemon at normal priority", true);
	s_pairs_print(&apart, o, "nats-server at SCHED_IDLE (a stand-in for NATS on another "
	    "machine)", false);
	printf("  the target is judged on the first: it is what was measured; the second only\n"
	    "  approximates a remote NATS (nats-server still shares the cores and caches, and\n"
	    "  the mirror's rounds wait for its acks, so the mirror too does less within a run)\n");
	printf("  stream: %llu messages for %llu journaled events, %.0f bytes a message, %.0f "
	    "bytes a journaled event (file storage, one replica)\n",
	    (unsigned long long)si->State.Msgs, (unsigned long long)m1.journal,
	    si->State.Msgs ? (double)si->State.Bytes / (double)si->State.Msgs : 0.0,
	    m1.journal ? (double)si->State.Bytes / (double)m1.journal : 0.0);
	if (near.median < TARGET_RATIO)
		rc = 1;
stop:
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	bench_settle_ms = saved_settle;
	bench_daemon_stop(&on, false);
	bench_daemon_stop(&off, false);
	s_nats_stop(&nats);
	bench_rmtree(nats.dir);
free:
	bench_workload_free(&orgs);
	bench_workload_free(&roster);
	return rc;
}
