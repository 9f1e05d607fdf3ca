/*
 * hnats: nats-server processes for the integration tests (see hnats.h).
 * It writes each node's config, starts and stops the servers by pid and
 * asks their monitoring port whether they are healthy; it knows nothing
 * of streams or of jiceng.
 */
#include "hnats.h"
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HN_STOP_MS 5000
#define HN_HTTP_MS 1000

/* ================================================================ time */

int
hn_ms(int ms)
{
	double load[1] = { 0 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double f = 1.0;
	if (getloadavg(load, 1) == 1 && cpus > 0)
		f += load[0] / (double)cpus;
	if (f > 4.0)
		f = 4.0;
	return (int)(h_ms(ms) * f);
}

/* ================================================================ the binary */

const char *
hn_server_path(void)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/usr/local/sbin",
		"/usr/local/bin" };
	static char found[256];
	if (*found)
		return found;
	const char *path = getenv("PATH");
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path ? path : "");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof found, "%s/nats-server", d);
		if (access(found, X_OK) == 0)
			return found;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(found, sizeof found, "%s/nats-server", dirs[i]);
		if (access(found, X_OK) == 0)
			return found;
	}
	*found = 0;
	return NULL;
}

bool
hn_available(void)
{
	return hn_server_path() != NULL;
}

/* ================================================================ config */

static int
s_pick_ports(struct hnats *n)
{
	int used[3 * HN_MAX_NODES], nused = 0;
	for (int i = 0; i < n->n; i++) {
		int *want[3] = { &n->node[i].port, &n->node[i].http_port,
			n->n > 1 ? &n->node[i].cluster_port : NULL };
		for (int k = 0; k < 3; k++) {
			if (!want[k])
				continue;
			int p;
			bool dup;
			do {
				if ((p = h_free_port()) < 0)
					return -1;
				dup = false;
				for (int j = 0; j < nused; j++)
					dup |= used[j] == p;
			} while (dup);
			*want[k] = used[nused++] = p;
		}
	}
	return 0;
}

static void
s_write_conf(struct hnats *n, int i)
{
	struct hnats_node *nd = &n->node[i];
	char routes[256] = "";
	size_t off = 0;
	for (int j = 0; j < n->n && n->n > 1; j++)
		off += (size_t)snprintf(routes + off, sizeof routes - off, "%snats-route://127.0.0.1:%d",
		    j ? ", " : "", n->node[j].cluster_port);
	snprintf(nd->url, sizeof nd->url, "nats://127.0.0.1:%d", nd->port);
	snprintf(nd->conf, sizeof nd->conf, "%s/%s.conf", n->dir, nd->name);
	snprintf(nd->log, sizeof nd->log, "%s/%s.log", n->dir, nd->name);
	if (n->n == 1)
		h_write_file(nd->conf,
		    "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n"
		    "jetstream { store_dir: \"%s/%s\", max_memory_store: 64MB, max_file_store: 2GB }\n%s\n",
		    nd->name, nd->port, nd->http_port, n->dir, nd->name, n->extra);
	else
		h_write_file(nd->conf,
		    "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n"
		    "jetstream { store_dir: \"%s/%s\", max_memory_store: 64MB, max_file_store: 2GB }\n"
		    "cluster { name: jiceng-test, listen: 127.0.0.1:%d, routes: [%s] }\n%s\n",
		    nd->name, nd->port, nd->http_port, n->dir, nd->name, nd->cluster_port, routes,
		    n->extra);
}

static void
s_configure(struct hnats *n)
{
	size_t off = 0;
	for (int i = 0; i < n->n; i++) {
		s_write_conf(n, i);
		off += (size_t)snprintf(n->urls + off, sizeof n->urls - off, "%s%s", i ? "," : "",
		    n->node[i].url);
	}
}

/* ================================================================ processes */

static int
s_spawn(struct hnats *n, int i)
{
	struct hnats_node *nd = &n->node[i];
	const char *exe = hn_server_path();
	if (!exe)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		signal(SIGPIPE, SIG_DFL);
		execl(exe, exe, "-c", nd->conf, (char *)NULL);
		_exit(127);
	}
	nd->pid = pid;
	return 0;
}

/* Reap node i if it has exited; true when it is not running. */
static bool
s_exited(struct hnats_node *nd)
{
	if (nd->pid <= 0)
		return true;
	if (waitpid(nd->pid, NULL, WNOHANG) == nd->pid) {
		nd->pid = 0;
		return true;
	}
	return false;
}

void
hn_kill9(struct hnats *n, int i)
{
	struct hnats_node *nd = &n->node[i];
	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGKILL);
	waitpid(nd->pid, NULL, 0);
	nd->pid = 0;
}

void
hn_stop(struct hnats *n, int i)
{
	struct hnats_node *nd = &n->node[i];
	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGTERM);
	for (int64_t end = now_mono_ms() + h_ms(HN_STOP_MS); now_mono_ms() < end; h_sleep_ms(20))
		if (s_exited(nd))
			return;
	fprintf(stderr, "hnats: %s (pid %d) ignored SIGTERM; killed\n", nd->name, (int)nd->pid);
	hn_kill9(n, i);
}

/* ================================================================ health */

/* One GET /healthz on node i's monitoring port: is the body "ok"? */
bool
hn_healthy(struct hnats *n, int i)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)n->node[i].http_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	static const char req[] = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	char buf[2048];
	size_t got = 0;
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
		goto out;
	for (int64_t end = now_mono_ms() + HN_HTTP_MS; got < sizeof buf - 1;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)(end - now_mono_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = 0;
	ok = strstr(buf, " 200 ") && strstr(buf, "\"status\":\"ok\"");
out:
	close(fd);
	return ok;
}

int
hn_wait_ready(struct hnats *n, int i, int timeout_ms)
{
	for (int64_t end = now_mono_ms() + hn_ms(timeout_ms);; h_sleep_ms(50)) {
		if (s_exited(&n->node[i]))
			return -1;
		if (hn_healthy(n, i))
			return 0;
		if (now_mono_ms() > end)
			return -1;
	}
}

int
hn_wait_all(struct hnats *n, int timeout_ms)
{
	for (int i = 0; i < n->n; i++)
		if (n->node[i].pid > 0 && hn_wait_ready(n, i, timeout_ms) < 0)
			return -1;
	return 0;
}

int
hn_restart(struct hnats *n, int i)
{
	if (n->node[i].pid > 0)
		hn_stop(n, i);
	if (s_spawn(n, i) < 0 || hn_wait_ready(n, i, HN_READY_MS) < 0) {
		fprintf(stderr, "hnats: %s did not come back healthy\n", n->node[i].name);
		hn_print_log(n, i);
		return -1;
	}
	return 0;
}

/* ================================================================ life */

int
hn_servers(struct hnats *n, const char **out)
{
	for (int i = 0; i < n->n; i++)
		out[i] = n->node[i].url;
	return n->n;
}

void
hn_print_log(struct hnats *n, int i)
{
	char *s = h_slurp(n->node[i].log, NULL);
	fprintf(stderr, "---- nats-server %s log (%s) ----\n%s---- end ----\n", n->node[i].name,
	    n->node[i].log, s ? s : "(none)\n");
	free(s);
}

static bool
s_log_has(struct hnats *n, int i, const char *what)
{
	char *s = h_slurp(n->node[i].log, NULL);
	bool has = s && strstr(s, what);
	free(s);
	return has;
}

static void
s_stop_all(struct hnats *n)
{
	for (int i = 0; i < n->n; i++)
		if (n->node[i].pid > 0)
			kill(n->node[i].pid, SIGTERM);
	for (int i = 0; i < n->n; i++)
		hn_stop(n, i);
}

/* Start every node once; 1 when a port was taken (try again), -1 on other
 * failures, 0 when all are healthy. */
static int
s_start_once(struct hnats *n)
{
	if (s_pick_ports(n) < 0)
		return -1;
	s_configure(n);
	for (int i = 0; i < n->n; i++)
		if (s_spawn(n, i) < 0)
			return -1;
	if (hn_wait_all(n, HN_READY_MS) == 0)
		return 0;
	for (int i = 0; i < n->n; i++)
		if (s_log_has(n, i, "address already in use")) {
			s_stop_all(n);
			for (int j = 0; j < n->n; j++)
				unlink(n->node[j].log);
			return 1;
		}
	return -1;
}

struct hnats *
hn_start(int nodes)
{
	return hn_start_conf(nodes, "");
}

struct hnats *
hn_start_conf(int nodes, const char *extra)
{
	if ((nodes != 1 && nodes != 3) || !hn_available())
		return NULL;
	struct hnats *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->n = nodes;
	snprintf(n->extra, sizeof n->extra, "%s", extra);
	snprintf(n->dir, sizeof n->dir, "/tmp/jiceng-nats-XXXXXX");
	if (!mkdtemp(n->dir)) {
		free(n);
		return NULL;
	}
	for (int i = 0; i < nodes; i++)
		snprintf(n->node[i].name, sizeof n->node[i].name, "n%d", i + 1);
	int rc = 1;
	for (int tries = 0; rc == 1 && tries < 5; tries++)
		rc = s_start_once(n);
	if (rc != 0) {
		fprintf(stderr, "hnats: %d-node nats-server did not become healthy\n", nodes);
		for (int i = 0; i < nodes; i++)
			hn_print_log(n, i);
		hn_destroy(&n);
	}
	return n;
}

void
hn_destroy(struct hnats **np)
{
	struct hnats *n = *np;
	if (!n)
		return;
	s_stop_all(n);
	if (getenv("JICENG_KEEP")) {
		fprintf(stderr, "hnats: kept %s\n", n->dir);
	} else {
		char *argv[] = { "/bin/rm", "-rf", n->dir, NULL };
		h_run(argv, NULL, NULL, 20000);
	}
	free(n);
	*np = NULL;
}

int
hn_fixture_begin(void **state, size_t size)
{
	*state = calloc(1, size);
	h_time_limit(H_TEST_LIMIT_S);
	return *state ? 0 : -1;
}

int
hn_fixture_end(void **state, struct hnats **n, struct hd **const daemons[])
{
	int rc = 0;
	for (size_t i = 0; daemons && daemons[i]; i++)
		rc |= hd_destroy(daemons[i]);
	hn_destroy(n);
	free(*state);
	*state = NULL;
	h_time_limit(0);
	return rc;
}

uint64_t
hn_wait_mirrored(struct hd *d, uint64_t end, int timeout_ms)
{
	int64_t until = now_mono_ms() + hn_ms(timeout_ms);
	char last[300] = "no stats";
	for (;;) {
		QueryReply *r = hq_stats(d);
		const Jiceng__V1__MirrorStats *m = r && r->stats ? r->stats->mirror : NULL;
		uint64_t want = end ? end : r && r->stats ? r->stats->journal_length : 0;
		bool done = false;
		if (m) {
			snprintf(last, sizeof last, "seq %llu of %llu, connected %d, problem %s",
			    (unsigned long long)m->seq, (unsigned long long)want, m->connected,
			    m->problem);
			done = want > 0 && m->seq == want && m->connected && !*m->problem;
		}
		hq_free(r);
		if (done)
			return want;
		if (now_mono_ms() > until)
			fail_msg("the mirror did not publish the journal: %s", last);
		h_sleep_ms(100);
	}
}
