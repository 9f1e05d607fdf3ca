/*
 * jiceng-bench (`make bench`): end-to-end throughput and ack latency of a
 * real jicengd with 1 and 8 pipelining clients, p99 latency again at half
 * of the peak rate, and the raw ceiling -- the same journal-plus-state LMDB
 * writes in one process at the batch size jicengd actually achieved -- with
 * the ratio of the two and the peak RSS of the daemon's processes; all of
 * it again with a mix of transfers and mobile-member steps (--mix).
 *
 * Method (docs/benchmark.md has the long form):
 *   1. start build/jicengd (embedded default config, temporary data dir on
 *      --dir, free loopback ports) and wait for "ready";
 *   2. set up one township per client: a committee and --branches branches,
 *      then the county's roster of --roster members;
 *   3. a warm-up, then for each --clients count a run of --events valid
 *      envelopes (updates of roster members, one in 20 a registration; or,
 *      without a roster, registrations only), each client a DEALER with
 *      --window unacknowledged; group commits and batch sizes from the
 *      stats query before and after each run;
 *   4. right after, for each client count, a run paced at --load (0.5) of
 *      the best peak of step 3 in this repeat, for --half-seconds: p99 again;
 *      then steps 3 and 4 with --mix percent (10) of the updates replaced
 *      by transfers within a township (issued, received) and mobile-member
 *      steps (departed, contacted, returned): the mix runs;
 *   5. VmHWM of jicengd and its children, then SIGTERM by PID;
 *   6. the raw ceilings on fresh journals at the mean batch of each client
 *      count's peak runs (raw.c).
 * Steps 3 and 4 together, and 6, are made --repeat times, interleaved;
 * throughput is the best of them (noise on a shared machine only ever slows
 * a run down), p99 the median. Targets: end-to-end >= 40% of raw at the peak,
 * p99 < 10 ms at half of it; judged on the county workload (the mix runs
 * are reported against them, --check ignores them).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"
#include "config.h"

volatile sig_atomic_t bench_interrupted;
FILE *bench_trace;
unsigned bench_trace_run;
struct bench_ack *bench_acks;
unsigned bench_settle_ms = 1000;
const char *bench_config;
const char *bench_derived_parent;

#define MAX_RUNS 8     /* client counts */
/* Targets: the county's year against the three workers' ceiling; the
 * members-only workload against the membership worker's. */
#define YEAR_RATIO_TARGET 1.00
#define YEAR_P99_TARGET_MS 5.0
#define MEMBERS_RATIO_TARGET 0.40
#define MEMBERS_P99_TARGET_MS 10.0
#define MAX_REPEAT 9

struct options {
	size_t events;
	unsigned clients[MAX_RUNS];
	unsigned nclients;
	unsigned window;
	double half_seconds;
	double load;               /* the paced run's rate, as a fraction of the peak */
	double rate;               /* or this rate, when > 0 */
	const char *dir;
	unsigned branches;         /* per township */
	size_t roster;             /* members registered before the runs; 0: none */
	unsigned townships;        /* the most clients of any run: one township each */
	unsigned repeat;           /* each measurement, interleaved */
	int mix;                   /* the mix runs: percent of transfer and mobile steps; 0: none */
	bool every_kind;           /* the county's year (load.c), else members only */
	unsigned raw_only;         /* > 0: only the raw ceiling, at this batch */
	bool status_only;          /* only the status stream (status.c) */
	bool mirror_only;          /* only jiceng-mirror (mirror.c) */
	size_t status_members;     /* its county, every member away once */
	size_t status_events;      /* its throughput runs' length */
	bool keep, idnum, check, random_ids;
};

/* Broker counters read through the stats query. */
struct counters {
	uint64_t journal, commits, commit_max, malformed;
	double fsync_ms;
	struct latency acks;       /* jicengd's acks so far (jiceng_ack_seconds) */
	bool acks_known;
};

struct run {
	unsigned clients;
	struct bench_result r;
	struct counters before, after;
	double broker_cpu, worker_cpu;   /* seconds in this run */
	double domain_cpu[DOMAIN_COUNT]; /* of worker_cpu, each domain's worker */
	double daemon_p99_ms;            /* of this run's acks inside jicengd; -1 unknown */
};

/* ---------------------------------------------------------------- options */

static void
s_usage(FILE *out, int status)
{
	fprintf(out,
	    "usage: jiceng-bench [options]\n"
	    "End-to-end throughput and ack latency of a real jicengd, and the raw\n"
	    "ceiling of the same LMDB writes in one process.\n"
	    "  --events N         events per measured run (default 60000)\n"
	    "  --clients LIST     pipelining clients per run, comma-separated (default 1,8)\n"
	    "  --window W         unacknowledged envelopes per client (default 256)\n"
	    "  --branches N       branches per township the members go to (default 100)\n"
	    "  --roster N         the county's members, registered before the runs; the\n"
	    "                     runs then act on them, 1 in 20 events a registration\n"
	    "                     (default 60000; 0: every event registers a new member)\n"
	    "  --membership-only  the runs only update and register members (and --mix);\n"
	    "                     default: a county's year of every kind: dues, pay and\n"
	    "                     subsidies, meetings, updates, transfers, mobile members\n"
	    "  --repeat R         make each measurement R times, interleaved (default 3)\n"
	    "  --half-seconds S   length of each half-peak run (default 4)\n"
	    "  --load F           pace those runs at F times the peak rate (default 0.5)\n"
	    "  --rate R           pace them at R events/s instead\n"
	    "  --raw-only B       only the raw ceiling (no daemon), at batch B\n"
	    "  --status-only      only the status stream: ack-to-subscriber latency at --load\n"
	    "                     of the peak, snapshot, catch-up, ingest with two\n"
	    "                     subscribers against none (2 x --repeat - 1 pairs of runs:\n"
	    "                     a ratio of two noisy peaks needs more than one peak)\n"
	    "  --status-members N its county: N members, each sent away once (default 100000)\n"
	    "  --status-events N  events per status throughput run (default 60000)\n"
	    "  --mirror           only jiceng-mirror and a nats-server of its own: its\n"
	    "                     throughput, ingest with it on against off (2 x --repeat\n"
	    "                     - 1 pairs), journal-to-stream lag at --load of the peak\n"
	    "  --dir DIR          where the temporary data dirs go (default $TMPDIR or /tmp)\n"
	    "  --derived-dir DIR  put ids.mdb and state/ (derived_dir) in temporary dirs\n"
	    "                     under DIR (default: /dev/shm, in memory, as jicengd's\n"
	    "                     default); `data': beside the journal\n"
	    "  --no-idnum         members without resident ID numbers\n"
	    "  --random-ids       event ids spread like UUIDv4s (default: growing, as UUIDv7)\n"
	    "  --mix P            also measure the workload with P%% of its other events\n"
	    "                     replaced by transfers and mobile-member steps (default 0;\n"
	    "                     10 with --membership-only)\n"
	    "  --keep             keep the daemon's data dir\n"
	    "  --settle MS        from connecting to starting the clock (default 1000)\n"
	    "  --config FILE      run jicengd and the raw ceiling with this jiceng.conf\n"
	    "                     (its endpoints and data_dir are the bench's own)\n"
	    "  --trace FILE       write \"run send_ms latency_ms\" for every ack to FILE\n"
	    "  --check            exit 1 when a target is missed\n");
	exit(status);
}

/* Where jicengd keeps its derived files by default (config.h): in memory
 * under /dev/shm, where the bench makes its own temporary dirs; or beside
 * the journal (NULL) where there is none. */
static const char *
s_default_derived_parent(void)
{
	char dir[CONFIG_PATH_MAX];
	config_default_derived_dir("/data", dir, sizeof dir);
	return strncmp(dir, "/dev/shm/", 9) == 0 ? "/dev/shm" : NULL;
}

static void
s_parse_args(struct options *o, int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	*o = (struct options){ .events = 60000, .clients = { 1, 8 }, .nclients = 2,
	    .window = 256, .half_seconds = 4, .load = 0.5, .branches = 100, .roster = 60000, .repeat = 3, .mix = -1, .every_kind = true, .dir = tmp && *tmp ? tmp : "/tmp", .idnum = true,
	    .status_members = 100000, .status_events = 60000 };
	bench_derived_parent = s_default_derived_parent();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			s_usage(stdout, 0);
		else if (strcmp(a, "--keep") == 0)
			o->keep = true;
		else if (strcmp(a, "--no-idnum") == 0)
			o->idnum = false;
		else if (strcmp(a, "--check") == 0)
			o->check = true;
		else if (strcmp(a, "--random-ids") == 0)
			o->random_ids = true;
		else if (strcmp(a, "--membership-only") == 0)
			o->every_kind = false;
		else if (strcmp(a, "--status-only") == 0)
			o->status_only = true;
		else if (strcmp(a, "--mirror") == 0)
			o->mirror_only = true;
		else if (!v)
			s_usage(stderr, 2);
		else if (strcmp(a, "--events") == 0) {
			o->events = strtoul(v, &end, 10);
			if (*end || o->events < 100 || o->events > 5000000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--status-members") == 0) {
			o->status_members = strtoul(v, &end, 10);
			if (*end || o->status_members < 1000 || o->status_members > 2000000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--status-events") == 0) {
			o->status_events = strtoul(v, &end, 10);
			if (*end || o->status_events < 1000 || o->status_events > 2000000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--window") == 0) {
			o->window = (unsigned)strtoul(v, &end, 10);
			if (*end || o->window < 1 || o->window > 100000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--half-seconds") == 0) {
			o->half_seconds = strtod(v, &end);
			if (*end || o->half_seconds < 0.5 || o->half_seconds > 600)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--mix") == 0) {
			o->mix = (int)strtoul(v, &end, 10);
			if (*end || o->mix > 50)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--repeat") == 0) {
			o->repeat = (unsigned)strtoul(v, &end, 10);
			if (*end || o->repeat < 1 || o->repeat > MAX_REPEAT)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--branches") == 0) {
			o->branches = (unsigned)strtoul(v, &end, 10);
			if (*end || o->branches < 1 || o->branches > 100000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--roster") == 0) {
			o->roster = strtoul(v, &end, 10);
			if (*end || (o->roster != 0 && o->roster < 100) || o->roster > 5000000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--config") == 0) {
			if (access(v, R_OK) != 0) {
				fprintf(stderr, "jiceng-bench: --config %s: %s\n", v, strerror(errno));
				exit(2);
			}
			bench_config = v;
			i++;
		} else if (strcmp(a, "--derived-dir") == 0 && strcmp(v, "data") == 0) {
			bench_derived_parent = NULL;
			i++;
		} else if (strcmp(a, "--derived-dir") == 0) {
			if (access(v, W_OK) != 0) {
				fprintf(stderr, "jiceng-bench: --derived-dir %s: %s\n", v, strerror(errno));
				exit(2);
			}
			bench_derived_parent = v;
			i++;
		} else if (strcmp(a, "--settle") == 0) {
			unsigned long ms = strtoul(v, &end, 10);
			if (*end || ms > 60000)
				s_usage(stderr, 2);
			bench_settle_ms = (unsigned)ms;
			i++;
		} else if (strcmp(a, "--raw-only") == 0) {
			o->raw_only = (unsigned)strtoul(v, &end, 10);
			if (*end || o->raw_only < 1 || o->raw_only > 100000)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--rate") == 0) {
			o->rate = strtod(v, &end);
			if (*end || o->rate < 10)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--load") == 0) {
			o->load = strtod(v, &end);
			if (*end || o->load <= 0 || o->load > 1)
				s_usage(stderr, 2);
			i++;
		} else if (strcmp(a, "--trace") == 0) {
			if (!(bench_trace = fopen(v, "w"))) {
				fprintf(stderr, "jiceng-bench: %s: %s\n", v, strerror(errno));
				exit(2);
			}
			i++;
		} else if (strcmp(a, "--dir") == 0) {
			o->dir = v;
			i++;
		} else if (strcmp(a, "--clients") == 0) {
			o->nclients = 0;
			for (const char *p = v; *p && o->nclients < MAX_RUNS; p = *end ? end + 1 : end) {
				unsigned long c = strtoul(p, &end, 10);
				if (end == p || c < 1 || c > BENCH_MAX_CLIENTS || (*end && *end != ','))
					s_usage(stderr, 2);
				o->clients[o->nclients++] = (unsigned)c;
			}
			if (o->nclients == 0)
				s_usage(stderr, 2);
			i++;
		} else
			s_usage(stderr, 2);
	}
	if (o->roster == 0)
		o->every_kind = false;   /* a year acts on a roster */
	if (o->mix < 0)
		o->mix = o->every_kind ? 0 : 10;
	o->townships = 0;
	for (unsigned i = 0; i < o->nclients; i++)
		if (o->clients[i] > o->townships)
			o->townships = o->clients[i];
	if (o->roster && o->roster < o->townships)
		s_usage(stderr, 2);
}

static struct bench_spec
s_spec(const struct options *o, unsigned clients, bool mix)
{
	return (struct bench_spec){ .clients = clients, .branches = o->branches,
	    .roster = o->roster, .roster_townships = o->townships, .random_ids = o->random_ids,
	    .mix_pct = mix ? (unsigned)o->mix : o->every_kind ? BENCH_YEAR_MIX_PCT : 0,
	    .every_kind = o->every_kind };
}

/* ---------------------------------------------------------------- machine */

static void
s_machine(const char *dir)
{
	char line[256], model[200] = "unknown";
	struct utsname u;
	struct statfs sf;
	const char *fs = "other";
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *c = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && c) {
			snprintf(model, sizeof model, "%s", c + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	if (statfs(dir, &sf) == 0) {
		switch ((unsigned long)sf.f_type) {
		case 0xEF53: fs = "ext2/3/4"; break;
		case 0x58465342: fs = "xfs"; break;
		case 0x9123683E: fs = "btrfs"; break;
		case 0x01021994: fs = "tmpfs (fsync is free: numbers flatter the disk)"; break;
		case 0x794C7630: fs = "overlayfs"; break;
		}
	}
	uname(&u);
	printf("machine: %ld CPUs (nproc), %s; %s %s; data dir %s on %s\n",
	    sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname, u.release, dir, fs);
	printf("note: a shared, noisy machine; compare runs made in one sitting.\n");
}

/* The exit status of a part that returns -1 failed, 0 its targets met, 1
 * one missed (a failure only with --check). */
static int
s_part_exit(const struct options *o, int rc)
{
	return rc < 0 || bench_interrupted || (o->check && rc > 0) ? 1 : 0;
}

/* ---------------------------------------------------------------- counters */

/* Make the broker persist exact counters: a refusal marks them dirty and
 * they are written within a second; then read them back. markers counts
 * the refusals sent so far, so we know when the write has happened. */
static int
s_counters(const struct bench_daemon *d, unsigned markers, struct counters *c)
{
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, rc = -1;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(s, d->ingest) == 0 && zmq_send(s, "bench marker", 12, 0) == 12) {
		zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&item, 1, 5000) > 0) {
			char buf[512];
			(void)zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT);
			rc = 0;
		}
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	if (rc < 0)
		return -1;
	for (int attempt = 0; attempt < 40 && !bench_interrupted; attempt++) {
		QueryReply *q;
		memset(c, 0, sizeof *c);
		if (bench_daemon_stats(d, &q) == 0) {
			const Jiceng__V1__Stats *st = q->stats;
			c->journal = st->journal_length;
			c->commits = st->commits;
			c->commit_max = st->commit_events_max;
			c->fsync_ms = st->fsync_ms_avg;
			for (size_t i = 0; i < st->n_rejected; i++)
				if (strcmp(st->rejected[i]->code, "MALFORMED") == 0)
					c->malformed = st->rejected[i]->count;
		}
		if (q)
			jiceng__v1__query_reply__free_unpacked(q, NULL);
		if (c->malformed >= markers)
			return 0;
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	return -1;
}

/* ---------------------------------------------------------------- runs */

static void
s_print_header(void)
{
	printf("\n%-10s %7s %7s %5s %8s %7s %7s %7s %7s %6s %7s %7s %6s %6s  %s\n", "run", "clients",
	    "events", "secs", "events/s", "p50 ms", "p99 ms", "max ms", "commits", "batch", "commit",
	    "cli cpu", "brk us", "wrk us",
	    "(membership+meetings+funds; p99 of each's acks; p99 inside jicengd)");
}

static void
s_print_run(const char *name, const struct run *r)
{
	uint64_t commits = r->after.commits - r->before.commits;
	uint64_t journaled = r->after.journal - r->before.journal;
	/* Mean journal commit time in this run, from the broker's running mean
	 * (stored as commits + 1 with the mean over commits). */
	double commit_ms = commits ? (r->after.fsync_ms * (double)(r->after.commits - 1) -
	    r->before.fsync_ms * (double)(r->before.commits - 1)) / (double)commits : 0;
	double per_event = r->r.acked ? 1e6 / (double)r->r.acked : 0;
	char inside[24] = "n/a";
	if (r->daemon_p99_ms >= 0)
		snprintf(inside, sizeof inside, "%.1f ms", r->daemon_p99_ms);
	printf("%-10s %7u %7zu %5.2f %8.0f %7.2f %7.2f %7.2f %7llu %6.1f %5.2fms %6.0f%% %6.1f %6.1f  "
	    "(%.1f+%.1f+%.1f; %.1f %.1f %.1f ms; %s)\n",
	    name, r->clients, r->r.acked, r->r.secs, r->r.rate, r->r.p50_ms, r->r.p99_ms, r->r.max_ms,
	    (unsigned long long)commits, commits ? (double)journaled / (double)commits : 0.0,
	    commit_ms, r->r.secs > 0 ? 100 * r->r.client_cpu / r->r.secs : 0.0,
	    r->broker_cpu * per_event, r->worker_cpu * per_event,
	    r->domain_cpu[DOMAIN_MEMBERSHIP] * per_event, r->domain_cpu[DOMAIN_MEETINGS] * per_event,
	    r->domain_cpu[DOMAIN_FUNDS] * per_event, r->r.owner_p99_ms[DOMAIN_MEMBERSHIP],
	    r->r.owner_p99_ms[DOMAIN_MEETINGS], r->r.owner_p99_ms[DOMAIN_FUNDS], inside);
}

/* The p99 of the acks jicengd sent between two readings (-1: unknown). */
static double
s_daemon_p99_ms(const struct counters *before, const struct counters *after)
{
	struct latency run = after->acks;
	if (!before->acks_known || !after->acks_known)
		return -1;
	latency_since(&run, &before->acks);
	return latency_quantile_us(&run, 0.99) / 1000;
}

/* One measured run of n events over clients, paced at rate when > 0; with
 * the mix of transfers and mobile-member steps when mix. */
static int
s_run(const struct options *o, const struct bench_daemon *d, unsigned *markers, unsigned id,
    unsigned clients, size_t n, double rate, bool mix, struct run *out)
{
	struct bench_workload w;
	struct bench_spec sp = s_spec(o, clients, mix);
	memset(out, 0, sizeof *out);
	out->clients = clients;
	if (bench_workload_events(&w, &sp, n, id, o->idnum) < 0) {
		fprintf(stderr, "jiceng-bench: cannot build the workload of run %u (out of memory?)\n", id);
		return -1;
	}
	double b0 = 0, w0 = 0, b1 = 0, w1 = 0;
	int rc = s_counters(d, ++*markers, &out->before);
	out->before.acks_known = bench_daemon_acks(d, &out->before.acks) == 0;
	bench_trace_run = id;
	double by0[DOMAIN_COUNT], by1[DOMAIN_COUNT];
	bool cpu_known = bench_daemon_cpu(d, &b0, &w0) == 0 && bench_daemon_domain_cpu(d, by0) == 0;
	if (rc == 0)
		rc = bench_drive(d->ingest, &w, clients, o->window, rate, 30, &out->r);
	if (rc == 0 && cpu_known && bench_daemon_cpu(d, &b1, &w1) == 0 &&
	    bench_daemon_domain_cpu(d, by1) == 0) {
		out->broker_cpu = b1 - b0;
		out->worker_cpu = w1 - w0;
		for (int k = 0; k < DOMAIN_COUNT; k++)
			out->domain_cpu[k] = by1[k] - by0[k];
	}
	if (rc == 0)
		rc = s_counters(d, ++*markers, &out->after);
	out->after.acks_known = rc == 0 && bench_daemon_acks(d, &out->after.acks) == 0;
	out->daemon_p99_ms = s_daemon_p99_ms(&out->before, &out->after);
	if (rc == 0 && out->r.accepted != out->r.acked) {
		/* A benchmark of refusals measures nothing the target speaks of. */
		fprintf(stderr, "jiceng-bench: run %u: %zu of %zu events not accepted; first: %s\n", id,
		    out->r.acked - out->r.accepted, out->r.acked, out->r.first_refusal);
		rc = -1;
	}
	bench_workload_free(&w);
	if (rc < 0 && !bench_interrupted)
		fprintf(stderr, "jiceng-bench: run %u (%u clients) failed; daemon log: %s\n", id,
		    clients, d->log);
	return rc;
}

static double
s_avg_batch(const struct run *r)
{
	uint64_t commits = r->after.commits - r->before.commits;
	return commits ? (double)(r->after.journal - r->before.journal) / (double)commits : 1;
}

static void
s_on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

static int
s_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
s_median(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, s_dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The measurements of one workload at one client count. */
struct measure {
	struct run peak[MAX_REPEAT], half[MAX_REPEAT];
	struct bench_raw_result raw[MAX_REPEAT];
	double best_rate, best_raw, batch, half_p99_median, half_p99_worst;
	double half_daemon_p99_median;  /* the same inside jicengd (-1: unknown) */
	double half_rate[2];       /* the paced rates, lowest and highest (all counts alike) */
};

/* All measurements of one client count: the county workload, and the same
 * with the mix of transfers and mobile-member steps (--mix). */
struct series {
	unsigned clients;
	struct measure county, mix;
};

static struct measure *
s_measure(struct series *s, bool mix)
{
	return mix ? &s->mix : &s->county;
}

/* Round k of one workload: a peak run per client count, then a run per
 * client count paced at o->load of this round's best peak. 0 or -1. */
static int
s_round(const struct options *o, const struct bench_daemon *d, unsigned *markers,
    unsigned *run_id, struct series *ser, unsigned k, bool mix)
{
	const char *tag = mix ? "mix-" : "";
	double peak = 0;
	for (unsigned i = 0; i < o->nclients; i++) {
		char name[32];
		struct measure *m = s_measure(&ser[i], mix);
		struct run *r = &m->peak[k];
		if (s_run(o, d, markers, (*run_id)++, o->clients[i], o->events, 0, mix, r) < 0)
			return -1;
		snprintf(name, sizeof name, "%speak-%u", tag, o->clients[i]);
		s_print_run(name, r);
		if (r->r.rate > m->best_rate)
			m->best_rate = r->r.rate;
		m->batch += s_avg_batch(r) / o->repeat;
		if (r->r.rate > peak)
			peak = r->r.rate;
	}
	double rate = o->rate > 0 ? o->rate : peak * o->load;
	size_t n = (size_t)(rate * o->half_seconds);
	for (unsigned i = 0; i < o->nclients; i++) {
		char name[32];
		struct measure *m = s_measure(&ser[i], mix);
		struct run *r = &m->half[k];
		if (s_run(o, d, markers, (*run_id)++, o->clients[i], n < 100 ? 100 : n, rate, mix, r) < 0)
			return -1;
		snprintf(name, sizeof name, "%shalf-%u", tag, o->clients[i]);
		s_print_run(name, r);
		if (k == 0 || rate < m->half_rate[0])
			m->half_rate[0] = rate;
		if (rate > m->half_rate[1])
			m->half_rate[1] = rate;
	}
	printf("(%shalf-N: N clients paced at %.0f events/s in total, %.0f%% of this repeat's %speak)\n",
	    tag, rate, peak > 0 ? 100 * rate / peak : 0.0, tag);
	return 0;
}

/* The medians and worst of the paced runs' p99. */
static void
s_p99s(const struct options *o, struct measure *m)
{
	double p99[MAX_REPEAT];
	for (unsigned k = 0; k < o->repeat; k++)
		p99[k] = m->half[k].r.p99_ms;
	m->half_p99_median = s_median(p99, o->repeat);
	m->half_p99_worst = p99[o->repeat - 1];
	for (unsigned k = 0; k < o->repeat; k++)
		p99[k] = m->half[k].daemon_p99_ms;
	m->half_daemon_p99_median = s_median(p99, o->repeat);
}

/* Everything against the daemon: set-up, warm-up, peak runs, paced runs,
 * then the same with the mix, RSS; each measurement made o->repeat times,
 * the client counts and the two workloads interleaved so that a noisy
 * minute hurts all of them alike. Returns 0 or -1; stops the daemon either
 * way. */
static int
s_end_to_end(const struct options *o, const struct bench_workload *orgs,
    const struct bench_workload *roster, struct series *ser, struct bench_proc *procs,
    unsigned *nprocs)
{
	struct bench_daemon d;
	struct bench_result setup;
	struct run warm;
	unsigned markers = 0, run_id = 1;
	int rc = -1;
	if (bench_daemon_start(&d, o->dir) < 0)
		return -1;
	printf("jicengd pid %d, ingest %s, data %s/data%s%s\n", (int)d.pid, d.ingest, d.dir,
	    d.derived[0] ? ", derived_dir " : "", d.derived);

	/* One township per client: a committee and its branches; then the
	 * county's roster, as fast as acks allow. */
	if (bench_drive(d.ingest, orgs, o->townships, o->window, 0, 30, &setup) < 0 ||
	    setup.accepted != orgs->n) {
		fprintf(stderr, "jiceng-bench: set-up of %zu organisations failed: %s\n", orgs->n,
		    setup.first_refusal);
		goto stop;
	}
	if (roster->n) {
		if (bench_drive(d.ingest, roster, o->townships, o->window, 0, 30, &setup) < 0 ||
		    setup.accepted != roster->n) {
			fprintf(stderr, "jiceng-bench: registering the roster of %zu members failed: %s\n",
			    roster->n, setup.first_refusal);
			goto stop;
		}
		printf("set-up: the roster of %zu members registered in %.1f s (%.0f events/s)\n",
		    roster->n, setup.secs, setup.rate);
	}
	if (s_run(o, &d, &markers, run_id++, o->townships,
	    o->events / 5 < 5000 ? o->events / 5 : 5000, 0, false, &warm) < 0)
		goto stop;
	s_print_header();
	s_print_run("warm-up", &warm);

	/* The state grows with every registration, and the peak falls with it
	 * (without a roster, a quarter lower after a default run's 1.7 million
	 * new members): each repeat paces its half-N runs at a share of its own
	 * peak, measured just before on nearly the same state. */
	for (unsigned k = 0; k < o->repeat; k++)
		if (s_round(o, &d, &markers, &run_id, ser, k, false) < 0 ||
		    (o->mix && s_round(o, &d, &markers, &run_id, ser, k, true) < 0))
			goto stop;
	for (unsigned i = 0; i < o->nclients; i++) {
		s_p99s(o, &ser[i].county);
		if (o->mix)
			s_p99s(o, &ser[i].mix);
	}
	*nprocs = bench_daemon_rss(&d, procs, BENCH_MAX_PROCS);
	rc = 0;
stop:
	bench_daemon_stop(&d, o->keep);
	return rc;
}

/* The raw ceilings, with the daemon gone so that nothing competes: for each
 * client count and workload, at the mean batch jicengd reached in its
 * peak runs. */
static int
s_raw_ceilings(const struct options *o, const struct bench_workload *orgs,
    const struct bench_workload *roster, struct series *ser)
{
	printf("\nraw ceiling: the same LMDB writes in one process (journal append, fsync'd\n"
	    "commit per batch, then fold_step of each worker's domain in turn), at the batch\n"
	    "the peak runs achieved:\n");
	for (unsigned k = 0; k < o->repeat; k++) {
		for (unsigned x = 0; x < (o->mix ? 2u : 1u); x++) {
			for (unsigned i = 0; i < o->nclients; i++) {
				struct bench_workload timed;
				struct measure *m = s_measure(&ser[i], x == 1);
				struct bench_raw_result *r = &m->raw[k];
				struct bench_spec sp = s_spec(o, o->clients[i], x == 1);
				unsigned batch = m->batch < 1 ? 1 : (unsigned)(m->batch + 0.5);
				if (bench_workload_events(&timed, &sp, o->events, 1000 + k * 10 + i, o->idnum) < 0)
					return -1;
				int rc = bench_raw(o->dir, orgs, roster, &timed, batch, r);
				bench_workload_free(&timed);
				if (rc < 0)
					return -1;
				printf("  %sbatch %4u (as %u client%s): %zu events in %5.2f s = %6.0f events/s;"
				    " per event: journal %.1f us, %u folds %.1f us\n", x ? "mix: " : "",
				    r->batch, o->clients[i], o->clients[i] > 1 ? "s" : "", r->events, r->secs,
				    r->rate, 1e6 * r->journal_secs / (double)r->events, r->domains,
				    1e6 * r->fold_secs / (double)r->events);
				if (r->rate > m->best_raw)
					m->best_raw = r->rate;
			}
		}
	}
	return 0;
}

/* The summary table of one workload, and how it stands against the
 * targets: *ratio_ok and *p99_ok. */
static void
s_summary(const struct options *o, struct series *ser, bool mix, bool *ratio_ok, bool *p99_ok)
{
	unsigned best = 0;
	printf("  %7s %12s %12s %8s %10s %16s\n", "clients", "end-to-end/s", "raw/s", "e2e/raw",
	    "avg batch", "p99 at half peak");
	for (unsigned i = 0; i < o->nclients; i++) {
		const struct measure *m = s_measure(&ser[i], mix);
		if (m->best_rate > s_measure(&ser[best], mix)->best_rate)
			best = i;
		printf("  %7u %12.0f %12.0f %7.0f%% %10.1f %9.2f ms (worst %.2f)\n", ser[i].clients,
		    m->best_rate, m->best_raw, m->best_raw > 0 ? 100 * m->best_rate / m->best_raw : 0.0,
		    m->batch, m->half_p99_median, m->half_p99_worst);
	}
	const struct measure *b = s_measure(&ser[best], mix), *slow = s_measure(&ser[0], mix);
	unsigned slow_clients = ser[0].clients;
	for (unsigned i = 1; i < o->nclients; i++)
		if (s_measure(&ser[i], mix)->half_p99_median > slow->half_p99_median) {
			slow = s_measure(&ser[i], mix);
			slow_clients = ser[i].clients;
		}
	double ratio = b->best_raw > 0 ? b->best_rate / b->best_raw : 0;
	/* The latency target holds for every client count, so the worst decides. */
	double ratio_target = o->every_kind ? YEAR_RATIO_TARGET : MEMBERS_RATIO_TARGET;
	double p99_target = o->every_kind ? YEAR_P99_TARGET_MS : MEMBERS_P99_TARGET_MS;
	*ratio_ok = ratio >= ratio_target;
	*p99_ok = slow->half_p99_median <= p99_target;
	printf("  peak: %.0f events/s with %u clients\n", b->best_rate, ser[best].clients);
	printf("  end-to-end / raw at that batch: %.0f%%   (target >= %.0f%%: %s)\n", ratio * 100,
	    ratio_target * 100, *ratio_ok ? "met" : "MISSED");
	if (o->rate > 0)
		printf("  p99 ack latency at a fixed %.0f events/s", o->rate);
	else
		printf("  p99 ack latency at %.0f%% of each repeat's peak (%.0f-%.0f events/s)",
		    100 * o->load, b->half_rate[0], b->half_rate[1]);
	printf(", worst with %u clients: %.2f ms   (target <= %.0f ms: %s)\n", slow_clients,
	    slow->half_p99_median, p99_target, *p99_ok ? "met" : "MISSED");
	if (slow->half_daemon_p99_median >= 0)
		printf("  of which inside jicengd (from reading an envelope to sending its ack, "
		    "jiceng_ack_seconds): p99 %.2f ms\n", slow->half_daemon_p99_median);
}

/* Does this build's jicengd take every kind of the mix? */
static bool
s_mix_implemented(void)
{
	static const EventCase kinds[] = {
		JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED,
		JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED,
		JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED,
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!codec_event_implemented(kinds[i]))
			return false;
	return true;
}

int
main(int argc, char **argv)
{
	static struct series ser[MAX_RUNS];
	struct options o;
	struct bench_workload orgs = { 0 }, roster = { 0 };
	struct bench_proc procs[BENCH_MAX_PROCS];
	unsigned nprocs = 0;
	struct sigaction sa = { .sa_handler = s_on_signal };

	s_parse_args(&o, argc, argv);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (o.status_only) {
		struct bench_status_options so = { .dir = o.dir, .members = o.status_members,
		    .clients = o.townships, .window = o.window, .events = o.status_events,
		    .repeat = 2 * o.repeat - 1, .load = o.load, .half_seconds = o.half_seconds };
		printf("jiceng-bench --status-only: the status stream\n");
		s_machine(o.dir);
		return s_part_exit(&o, bench_status(&so));
	}

	if (o.mirror_only) {
		struct bench_mirror_options mo = { .dir = o.dir, .roster = o.roster ? o.roster : 60000,
		    .clients = o.townships, .window = o.window, .events = o.events,
		    .pairs = 2 * o.repeat - 1, .load = o.load, .half_seconds = o.half_seconds };
		printf("jiceng-bench --mirror: the journal into NATS JetStream\n");
		s_machine(o.dir);
		return s_part_exit(&o, bench_mirror(&mo));
	}

	printf("jiceng-bench: %zu events per run, clients %u", o.events, o.clients[0]);
	for (unsigned i = 1; i < o.nclients; i++)
		printf(",%u", o.clients[i]);
	printf(", window %u, %u branches per township, ID numbers %s, each run %u times\n",
	    o.window, o.branches, o.idnum ? "on" : "off", o.repeat);
	if (o.roster && o.every_kind)
		printf("workload: a county's year, %zu members over %u townships: one event in %d\n"
		    "registers a new member, %d%% are transfers and mobile-member steps, and of\n"
		    "the rest %d%% dues, %d%% pay and subsidies (one in ten a branch's activity\n"
		    "fund), %d%% branch meetings (committees, party groups, themed days,\n"
		    "lectures, assemblies as a branch holds them: about 20 present), %d%% phone\n"
		    "updates", o.roster, o.townships, BENCH_NEW_MEMBER_EVERY, BENCH_YEAR_MIX_PCT,
		    BENCH_SHARE_DUES, BENCH_SHARE_PAY, BENCH_SHARE_MEETINGS,
		    100 - BENCH_SHARE_DUES - BENCH_SHARE_PAY - BENCH_SHARE_MEETINGS);
	else if (o.roster)
		printf("workload: a county of %zu members over %u townships; each event updates a\n"
		    "member's phone number, one in %d registers a new member", o.roster, o.townships,
		    BENCH_NEW_MEMBER_EVERY);
	else
		printf("workload: every event registers a new member (the state grows all run)");
	printf("; event ids %s\n", o.random_ids ? "random (as UUIDv4)" : "growing (as UUIDv7)");
	struct bench_spec county = s_spec(&o, o.townships, true);
	if (o.mix && !s_mix_implemented()) {
		printf("mix: off: this build's jicengd does not take transfers and mobile members yet\n");
		o.mix = 0;
	} else if (o.mix && !bench_mix_possible(&county)) {
		printf("mix: off: it needs a roster of %d members a township and 2 branches\n",
		    BENCH_MIX_EVERY);
		o.mix = 0;
	} else if (o.mix)
		printf("mix runs: the same with %u%% of the other events transfers and mobile-member\n"
		    "steps: a member to another branch of its township and back (issued, received,\n"
		    "issued, received), another away and home (departed, contacted, returned)\n", o.mix);
	s_machine(o.dir);

	for (unsigned i = 0; i < o.nclients; i++)
		ser[i].clients = o.clients[i];
	int rc = bench_workload_orgs(&orgs, o.townships, o.branches, o.every_kind) < 0 ||
	    bench_workload_roster(&roster, &county, o.idnum) < 0 ? -1 : 0;
	if (rc < 0)
		fprintf(stderr, "jiceng-bench: out of memory\n");
	else if (o.raw_only) {
		for (unsigned i = 0; i < o.nclients; i++)
			ser[i].county.batch = ser[i].mix.batch = o.raw_only;
		rc = s_raw_ceilings(&o, &orgs, &roster, ser);
	} else {
		rc = s_end_to_end(&o, &orgs, &roster, ser, procs, &nprocs);
		if (rc == 0 && !bench_interrupted)
			rc = s_raw_ceilings(&o, &orgs, &roster, ser);
	}
	bench_workload_free(&orgs);
	bench_workload_free(&roster);
	if (rc < 0 || bench_interrupted)
		return 1;
	if (o.raw_only)
		return 0;

	bool ratio_ok, p99_ok, mix_ratio_ok, mix_p99_ok;
	printf("\nsummary (best of %u for throughput, median of %u for p99):\n", o.repeat, o.repeat);
	s_summary(&o, ser, false, &ratio_ok, &p99_ok);
	if (o.mix) {
		printf("mix summary (%u%% transfers and mobile-member steps; --check judges the county\n"
		    "workload above only):\n", o.mix);
		s_summary(&o, ser, true, &mix_ratio_ok, &mix_p99_ok);
	}
	printf("  peak RSS (VmHWM) before SIGTERM; [RssAnon + RssFile/RssShmem then: the\n"
	    "  second is LMDB map pages, shared with the page cache]:\n");
	for (unsigned i = 0; i < nprocs; i++)
		printf("    %-26s %7.1f MiB  [%.1f anon + %.1f map]\n", procs[i].name,
		    (double)procs[i].hwm_kb / 1024, (double)procs[i].anon_kb / 1024,
		    (double)procs[i].file_kb / 1024);
	return o.check && !(ratio_ok && p99_ok) ? 1 : 0;
}
