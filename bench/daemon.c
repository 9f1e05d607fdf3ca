/*
 * daemon: a real jicengd for the benchmark. Started by fork+exec from the
 * directory this program lives in (build/), on loopback ports the kernel
 * says are free, with the embedded default config and a temporary data
 * directory; asked for stats over its query socket; measured from /proc;
 * stopped by its PID. The child dies with us (PR_SET_PDEATHSIG) should the
 * benchmark itself be killed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"

/* ---------------------------------------------------------------- files */

int
bench_mkdtemp(const char *parent, const char *tag, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "%s/jiceng-bench-%s.XXXXXX", parent, tag) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(out) ? 0 : -1;
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
bench_rmtree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- start */

/* n ports free on 127.0.0.1 right now (held together, so distinct). */
static int
s_free_ports(int n, int *ports)
{
	int fds[8], rc = 0;
	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (int i = 0; i < n && rc == 0; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof a;
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &al) < 0)
			rc = -1;
		else
			ports[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static bool
s_log_says_ready(const char *path)
{
	char line[1024];
	bool ready = false;
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	while (!ready && fgets(line, sizeof line, f))
		ready = strstr(line, "jicengd: ready:") != NULL;
	fclose(f);
	return ready;
}

int
bench_daemon_start(struct bench_daemon *d, const char *parent)
{
	char self[PATH_MAX], exe[PATH_MAX + 16], data[600];
	int ports[3];
	memset(d, 0, sizeof *d);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(exe, sizeof exe, "%s/jicengd", self);
	if (access(exe, X_OK) != 0) {
		fprintf(stderr, "jiceng-bench: %s: %s (run make first)\n", exe, strerror(errno));
		return -1;
	}
	if (bench_mkdtemp(parent, "e2e", d->dir, sizeof d->dir) < 0 || s_free_ports(3, ports) < 0) {
		fprintf(stderr, "jiceng-bench: temporary dir or ports: %s\n", strerror(errno));
		return -1;
	}
	snprintf(d->ingest, sizeof d->ingest, "tcp://127.0.0.1:%d", ports[0]);
	snprintf(d->status, sizeof d->status, "tcp://127.0.0.1:%d", ports[1]);
	snprintf(d->query, sizeof d->query, "tcp://127.0.0.1:%d", ports[2]);
	snprintf(d->log, sizeof d->log, "%s/jicengd.log", d->dir);
	snprintf(data, sizeof data, "%s/data", d->dir);
	if (bench_derived_parent &&
	    bench_mkdtemp(bench_derived_parent, "e2e-derived", d->derived, sizeof d->derived) < 0) {
		fprintf(stderr, "jiceng-bench: temporary dir under %s: %s\n", bench_derived_parent,
		    strerror(errno));
		bench_rmtree(d->dir);
		return -1;
	}

	char extra[700];
	snprintf(d->metrics, sizeof d->metrics, "%s/jiceng.prom", d->dir);
	snprintf(d->config, sizeof d->config, "%s/bench.conf", d->dir);
	snprintf(extra, sizeof extra, "\n[metrics]\ntextfile = %s\ninterval_s = 1\n", d->metrics);
	if (bench_config_write(d->config, extra) < 0) {
		fprintf(stderr, "jiceng-bench: %s: %s\n", d->config, strerror(errno));
		bench_rmtree(d->dir);
		return -1;
	}

	pid_t parent_pid = getpid();
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent_pid)
			_exit(1);
		char *argv[16] = { "jicengd", "--data-dir", data, "--ingest", d->ingest, "--status",
			d->status, "--query", d->query };
		int argc = 9;
		argv[argc++] = "--config";
		argv[argc++] = d->config;
		argv[argc++] = "--derived-dir";   /* beside the journal without one of ours */
		argv[argc++] = d->derived[0] ? d->derived : data;
		argv[argc] = NULL;
		execv(exe, argv);
		_exit(127);
	}
	/* Ready when the log says so: every child is up (bounded: 15 s). */
	for (int i = 0; i < 300; i++) {
		int status;
		if (s_log_says_ready(d->log))
			return 0;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "jiceng-bench: jicengd exited at start (status %d); see %s\n",
			    status, d->log);
			d->pid = 0;
			return -1;
		}
		if (bench_interrupted)
			break;
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	}
	fprintf(stderr, "jiceng-bench: jicengd did not become ready; see %s\n", d->log);
	return -1;
}

int
bench_config_write(const char *path, const char *extra)
{
	FILE *out = fopen(path, "w");
	if (!out)
		return -1;
	if (bench_config) {
		FILE *in = fopen(bench_config, "r");
		char buf[4096];
		size_t r;
		if (!in) {
			fclose(out);
			return -1;
		}
		while ((r = fread(buf, 1, sizeof buf, in)) > 0)
			fwrite(buf, 1, r, out);
		fclose(in);
	}
	fputs(extra, out);
	return fclose(out) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- stats */

int
bench_daemon_acks(const struct bench_daemon *d, struct latency *acks)
{
	struct timespec asked;
	struct stat st;
	clock_gettime(CLOCK_REALTIME, &asked);
	memset(acks, 0, sizeof *acks);
	for (int i = 0; i < 150 && !bench_interrupted; i++) {
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		if (stat(d->metrics, &st) != 0 || st.st_mtim.tv_sec < asked.tv_sec ||
		    (st.st_mtim.tv_sec == asked.tv_sec && st.st_mtim.tv_nsec <= asked.tv_nsec))
			continue;
		FILE *f = fopen(d->metrics, "r");
		char *text = NULL;
		size_t cap = 0;
		if (!f || getdelim(&text, &cap, '\0', f) < 0) {
			if (f)
				fclose(f);
			free(text);
			return -1;
		}
		fclose(f);
		for (int k = 0; k < DOMAIN_COUNT; k++) {
			char labels[48];
			struct latency one;
			snprintf(labels, sizeof labels, "domain=\"%s\"", codec_domain_name(k));
			if (latency_read(text, "jiceng_ack_seconds", labels, &one) < 0)
				continue;   /* a worker not run */
			for (unsigned b = 0; b <= LATENCY_BUCKETS; b++)
				acks->n[b] += one.n[b];
			acks->count += one.count;
			acks->sum_ns += one.sum_ns;
		}
		free(text);
		return 0;
	}
	return -1;
}

int
bench_daemon_stats(const struct bench_daemon *d, QueryReply **reply)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetStats gs = JICENG__V1__GET_STATS__INIT;
	uint8_t buf[64];
	int rc = -1, linger = 0;
	*reply = NULL;
	q.request_id = "bench";
	q.query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
	q.get_stats = &gs;
	size_t len = jiceng__v1__query__pack(&q, buf);
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(s, d->query) < 0 || zmq_send(s, buf, len, 0) < 0)
		goto out;
	zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };
	if (zmq_poll(&item, 1, 5000) <= 0)
		goto out;
	/* The reply is the last frame (a REQ-style empty delimiter may precede). */
	for (int more = 1, k = 0; more && k < 8; k++) {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, s, 0) < 0) {
			zmq_msg_close(&msg);
			break;
		}
		more = zmq_msg_more(&msg);
		if (!more) {
			*reply = jiceng__v1__query_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
			rc = *reply && (*reply)->status == JICENG__V1__QUERY_STATUS__OK &&
			    (*reply)->result_case == JICENG__V1__QUERY_REPLY__RESULT_STATS ? 0 : -1;
		}
		zmq_msg_close(&msg);
	}
out:
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}

/* ---------------------------------------------------------------- /proc */

static void
s_memory(struct bench_proc *p)
{
	char path[64], line[256];
	long shmem = 0;
	p->hwm_kb = p->anon_kb = p->file_kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)p->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		sscanf(line, "VmHWM: %ld kB", &p->hwm_kb);
		sscanf(line, "RssAnon: %ld kB", &p->anon_kb);
		sscanf(line, "RssFile: %ld kB", &p->file_kb);
		sscanf(line, "RssShmem: %ld kB", &shmem);
	}
	fclose(f);
	/* On tmpfs the LMDB maps are shared memory, not file pages. */
	p->file_kb += shmem;
}

/* The parent pid, command name and CPU seconds (utime + stime) of pid,
 * from /proc/pid/stat. */
static int
s_stat(pid_t pid, pid_t *ppid, char *comm, size_t len, double *cpu_s)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	int pp;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	/* After the name: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt, then utime and stime (fields 14 and 15). */
	if (!l || !r || sscanf(r + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &pp, &ut, &st) != 3)
		return -1;
	snprintf(comm, len, "%.*s", (int)(r - l - 1), l + 1);
	*ppid = pp;
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

double
bench_proc_cpu(pid_t pid)
{
	pid_t ppid;
	char comm[64];
	double cpu_s;
	return s_stat(pid, &ppid, comm, sizeof comm, &cpu_s) == 0 ? cpu_s : -1;
}

/* A child's name: its command, and a worker's domain ("jiceng-worker/funds"). */
static void
s_child_name(pid_t pid, const char *comm, char *out, size_t len)
{
	char path[64], argv[1024];
	snprintf(out, len, "%s", comm);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(argv, 1, sizeof argv - 1, f);
	fclose(f);
	argv[n] = 0;
	for (size_t at = 0; at < n; at += strlen(argv + at) + 1)
		if (strcmp(argv + at, "--domain") == 0 && at + 9 < n) {
			snprintf(out, len, "%s/%s", comm, argv + at + 9);
			return;
		}
}

/* jicengd itself, then its children: pid, name and CPU seconds, at most
 * max of them; with_memory also reads their memory. */
static unsigned
s_procs(const struct bench_daemon *d, struct bench_proc *out, double *cpu_s, unsigned max,
    bool with_memory)
{
	unsigned n = 0;
	pid_t ppid;
	char comm[32];
	if (!d->pid || max == 0 || s_stat(d->pid, &ppid, comm, sizeof comm, &cpu_s[0]) < 0)
		return 0;
	out[n].pid = d->pid;
	snprintf(out[n].name, sizeof out[n].name, "jicengd");
	n++;
	DIR *dir = opendir("/proc");
	struct dirent *de;
	while (dir && n < max && (de = readdir(dir))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 0 || s_stat(pid, &ppid, comm, sizeof comm, &cpu_s[n]) < 0 || ppid != d->pid)
			continue;
		out[n].pid = pid;
		s_child_name(pid, comm, out[n].name, sizeof out[n].name);
		n++;
	}
	if (dir)
		closedir(dir);
	for (unsigned i = 0; with_memory && i < n; i++)
		s_memory(&out[i]);
	return n;
}

int
bench_daemon_cpu(const struct bench_daemon *d, double *broker_s, double *workers_s)
{
	struct bench_proc procs[BENCH_MAX_PROCS];
	double cpu[BENCH_MAX_PROCS];
	unsigned n = s_procs(d, procs, cpu, BENCH_MAX_PROCS, false);
	*broker_s = n ? cpu[0] : 0;
	*workers_s = 0;
	for (unsigned i = 1; i < n; i++)
		if (strncmp(procs[i].name, "jiceng-worker", 13) == 0)
			*workers_s += cpu[i];
	return n ? 0 : -1;
}

int
bench_daemon_domain_cpu(const struct bench_daemon *d, double by_domain[DOMAIN_COUNT])
{
	struct bench_proc procs[BENCH_MAX_PROCS];
	double cpu[BENCH_MAX_PROCS];
	unsigned n = s_procs(d, procs, cpu, BENCH_MAX_PROCS, false);
	for (int k = 0; k < DOMAIN_COUNT; k++)
		by_domain[k] = 0;
	for (unsigned i = 1; i < n; i++) {
		const char *slash = strchr(procs[i].name, '/');
		enum domain k = slash ? codec_domain_from_name(slash + 1) : DOMAIN_NONE;
		if (k != DOMAIN_NONE)
			by_domain[k] = cpu[i];
	}
	return n ? 0 : -1;
}

unsigned
bench_daemon_rss(const struct bench_daemon *d, struct bench_proc *out, unsigned max)
{
	double cpu[BENCH_MAX_PROCS];
	return s_procs(d, out, cpu, max < BENCH_MAX_PROCS ? max : BENCH_MAX_PROCS, true);
}

/* ---------------------------------------------------------------- stop */

void
bench_daemon_stop(struct bench_daemon *d, bool keep)
{
	if (d->pid > 0) {
		int status;
		pid_t r = 0;
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 200 && (r = waitpid(d->pid, &status, WNOHANG)) == 0; i++)
			nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
		if (r == 0) {
			fprintf(stderr, "jiceng-bench: jicengd (pid %d) did not stop in 10 s; killing it\n",
			    (int)d->pid);
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
		}
		d->pid = 0;
	}
	if (keep) {
		fprintf(stderr, "jiceng-bench: kept %s%s%s\n", d->dir, d->derived[0] ? " and " : "",
		    d->derived);
	} else {
		bench_rmtree(d->dir);
		if (d->derived[0])
			bench_rmtree(d->derived);
	}
}
