/*
 * harness: starting and stopping the real jicengd for the integration
 * tests, finding its children, and the township and operator clients.
 * See harness.h. Nothing here knows what a test expects.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"

extern char **environ;

#define H_MAX_DAEMONS 8
#define H_CHILD_GONE_MS 8000

static void *s_zctx;
static struct hd *s_daemons[H_MAX_DAEMONS];

/* ================================================================ time */

int
h_ms(int ms)
{
	static int factor;
	if (!factor)
		factor = getenv("JICENG_VALGRIND") && *getenv("JICENG_VALGRIND") ? 20 : 1;
	return ms * factor;
}

void
h_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Async-signal-safe: kill every registered jicengd's children, then it. */
static void
s_kill_children_raw(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (char *p = buf, *end;; p = end) {
		long c = strtol(p, &end, 10);
		if (end == p)
			break;
		if (c > 0)
			kill((pid_t)c, SIGKILL);
	}
}

static void
s_on_alarm(int sig)
{
	static const char msg[] = "\n*** integration test exceeded its time limit; "
	    "killing jicengd and its children ***\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(3);
	for (int i = 0; i < H_MAX_DAEMONS; i++)
		if (s_daemons[i] && s_daemons[i]->pid > 0) {
			s_kill_children_raw(s_daemons[i]->pid);
			kill(s_daemons[i]->pid, SIGKILL);
		}
	_exit(3);
}

void
h_time_limit(unsigned seconds)
{
	static bool installed;
	if (!installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = s_on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		installed = true;
	}
	alarm(seconds ? (unsigned)h_ms((int)seconds) : 0);
}

int
h_setup(void **state)
{
	*state = NULL;
	h_time_limit(H_TEST_LIMIT_S);
	return 0;
}

int
h_teardown(void **state)
{
	struct hd *d = *state;
	int rc = hd_destroy(&d);
	*state = NULL;
	h_time_limit(0);
	return rc;
}

/* ================================================================ files */

char *
h_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

const char *
h_build_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
		if (n <= 0) {
			snprintf(dir, sizeof dir, "build");
			return dir;
		}
		dir[n] = 0;
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	}
	return dir;
}

const char *
h_io_shim_env(void)
{
	static char env[PATH_MAX + 16];
	snprintf(env, sizeof env, "LD_PRELOAD=%s/test-io-shim.so", h_build_dir());
	if (access(env + strlen("LD_PRELOAD="), R_OK) != 0)
		fail_msg("%s is missing (make build/test-io-shim.so)", env + strlen("LD_PRELOAD="));
	return env;
}

bool
hd_io_shim_loaded(struct hd *d)
{
	char maps[64];
	snprintf(maps, sizeof maps, "/proc/%d/maps", (int)d->pid);
	char *text = h_slurp(maps, NULL);
	bool loaded = text && strstr(text, "/test-io-shim.so");
	free(text);
	return loaded;
}

static int
s_rm_rf(const char *dir)
{
	char *argv[] = { "/bin/rm", "-rf", (char *)dir, NULL };
	return h_run(argv, NULL, NULL, 20000);
}

int
h_run(char *const argv[], const char *out_path, const char *err_path, int timeout_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			dup2(fd, 1);
		if (err_path && (fd = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0)
			dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	return h_reap(pid, argv[0], timeout_ms);
}

int
h_reap(pid_t pid, const char *what, int timeout_ms)
{
	int status;
	for (int64_t end = now_mono_ms() + timeout_ms;; h_sleep_ms(10)) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_mono_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fprintf(stderr, "%s (pid %d): killed after %d ms\n", what, (int)pid, timeout_ms);
			return -1;
		}
	}
}

/* ================================================================ /proc */

int
h_children(pid_t pid, pid_t *out, int max)
{
	char path[64];
	int n = 0;
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long c;
	while (n < max && fscanf(f, "%ld", &c) == 1)
		out[n++] = (pid_t)c;
	fclose(f);
	return n;
}

/* argv of pid as a NUL-separated buffer; returns its length (0 if none). */
static size_t
s_cmdline(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return (size_t)n;
}

/* Does pid's argv hold arg, or (with next) arg immediately followed by next? */
static bool
s_has_arg(pid_t pid, const char *arg, const char *next)
{
	char buf[4096];
	size_t n = s_cmdline(pid, buf, sizeof buf);
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
		if (strcmp(buf + i, arg) != 0)
			continue;
		if (!next)
			return true;
		size_t j = i + strlen(buf + i) + 1;
		if (j < n && strcmp(buf + j, next) == 0)
			return true;
	}
	return false;
}

/* Does an argument of pid end with suffix (a binary, also under valgrind)? */
static bool
s_has_arg_suffix(pid_t pid, const char *suffix)
{
	char buf[4096];
	size_t n = s_cmdline(pid, buf, sizeof buf), sl = strlen(suffix);
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
		size_t al = strlen(buf + i);
		if (al >= sl && strcmp(buf + i + al - sl, suffix) == 0)
			return true;
	}
	return false;
}

bool
h_pid_gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	char *rp = strrchr(buf, ')');
	if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X')) {
		waitpid(pid, NULL, WNOHANG);  /* ours? reap it */
		return true;
	}
	return false;
}

long
h_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Every live process whose argv carries `--data-dir dir`: jicengd's
 * children, even once they are orphans. */
static int
s_pids_of_dir(const char *dir, pid_t *out, int max)
{
	DIR *p = opendir("/proc");
	struct dirent *de;
	int n = 0;
	if (!p)
		return 0;
	while (n < max && (de = readdir(p))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		if (s_has_arg((pid_t)pid, "--data-dir", dir) && !h_pid_gone((pid_t)pid))
			out[n++] = (pid_t)pid;
	}
	closedir(p);
	return n;
}

pid_t
hd_child(struct hd *d, const char *role)
{
	pid_t kids[16];
	if (!d->pid)
		return 0;
	int n = h_children(d->pid, kids, 16);
	for (int i = 0; i < n; i++) {
		if (h_pid_gone(kids[i]))
			continue;
		if (strcmp(role, "query") == 0 || strcmp(role, "mirror") == 0) {
			char suffix[32];
			snprintf(suffix, sizeof suffix, "/jiceng-%s", role);
			if (s_has_arg_suffix(kids[i], suffix))
				return kids[i];
		} else if (s_has_arg(kids[i], "--domain", role)) {
			return kids[i];
		}
	}
	return 0;
}

pid_t
hd_child_wait_new(struct hd *d, const char *role, pid_t old, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end; h_sleep_ms(20)) {
		pid_t p = hd_child(d, role);
		if (p && p != old)
			return p;
	}
	return 0;
}

/* ================================================================ daemon */

int
h_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int
s_pick_ports(struct hd *d)
{
	int p[3];
	for (int i = 0; i < 3; i++) {
		do {
			p[i] = h_free_port();
			if (p[i] < 0)
				return -1;
		} while ((i > 0 && p[i] == p[0]) || (i > 1 && p[i] == p[1]));
	}
	snprintf(d->ingest, sizeof d->ingest, "tcp://127.0.0.1:%d", p[0]);
	snprintf(d->status, sizeof d->status, "tcp://127.0.0.1:%d", p[1]);
	snprintf(d->query, sizeof d->query, "tcp://127.0.0.1:%d", p[2]);
	return 0;
}

static int
s_notify_open(struct hd *d)
{
	struct sockaddr_un a;
	snprintf(d->notify_path, sizeof d->notify_path, "%s/notify.sock", d->dir);
	if (strlen(d->notify_path) >= sizeof a.sun_path)
		return -1;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, d->notify_path, strlen(d->notify_path) + 1);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->notify_fd < 0)
		return -1;
	if (bind(d->notify_fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(d->notify_fd);
		d->notify_fd = -1;
		return -1;
	}
	return 0;
}

static void
s_register(struct hd *d, bool on)
{
	for (int i = 0; i < H_MAX_DAEMONS; i++)
		if (on ? !s_daemons[i] : s_daemons[i] == d) {
			s_daemons[i] = on ? d : NULL;
			return;
		}
}

struct hd *
hd_new(const struct hd_opts *o)
{
	struct hd *d = calloc(1, sizeof *d);
	char tmpl[128], real[PATH_MAX];
	const char *base = getenv("TMPDIR");
	if (!d)
		return NULL;
	d->notify_fd = -1;
	d->exit_status = -1;
	if (o)
		d->opts = *o;
	/* Short paths: the ipc and notify socket names must fit sun_path. */
	snprintf(tmpl, sizeof tmpl, "%s/jiceng-it-XXXXXX",
	    base && strlen(base) < 48 ? base : "/tmp");
	if (!mkdtemp(tmpl) || !realpath(tmpl, real) || strlen(real) >= sizeof d->dir) {
		free(d);
		return NULL;
	}
	snprintf(d->dir, sizeof d->dir, "%s", real);
	config_default_derived_dir(d->dir, d->derived, sizeof d->derived);
	snprintf(d->log, sizeof d->log, "%s/jicengd.log", d->dir);
	if (s_pick_ports(d) < 0 || s_notify_open(d) < 0)
		goto fail;
	if (d->opts.config) {
		snprintf(d->config, sizeof d->config, "%s/jiceng.conf", d->dir);
		FILE *f = fopen(d->config, "w");
		if (!f || fputs(d->opts.config, f) < 0 || fclose(f) != 0)
			goto fail;
	}
	s_register(d, true);
	return d;
fail:
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	s_rm_rf(d->dir);
	free(d);
	return NULL;
}

/* Do the NAME=VALUE entries a and b set the same variable? */
static bool
s_same_var(const char *a, const char *b)
{
	size_t n = strcspn(b, "=");
	return strncmp(a, b, n) == 0 && a[n] == '=';
}

/* The child's environment: ours without the variables the test controls,
 * then the test's own (opts.env) and the notify socket in *notify. */
static char **
s_child_env(struct hd *d, char **notify)
{
	static const char *drop[] = { "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
		"JICENG_FAULT_CRASH_EVENT=", "LISTEN_FDS=", "LISTEN_PID=", NULL };
	const char *const *extra = d->opts.env;
	size_t n = 0, k = 0, nextra = 0;
	while (environ[n])
		n++;
	while (extra && extra[nextra])
		nextra++;
	char **env = calloc(n + nextra + 8, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool skip = false;
		for (int j = 0; drop[j]; j++)
			skip |= strncmp(environ[i], drop[j], strlen(drop[j])) == 0;
		for (size_t j = 0; j < nextra; j++)
			skip |= s_same_var(environ[i], extra[j]);
		if (!skip)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < nextra; j++)
		env[k++] = (char *)extra[j];
	*notify = NULL;
	if (asprintf(notify, "NOTIFY_SOCKET=%s", d->notify_path) > 0)
		env[k++] = *notify;
	env[k] = NULL;
	return env;
}

int
hd_start(struct hd *d)
{
	char bin[PATH_MAX], vglog[256];
	char *argv[32], *notify;
	int n = 0;
	if (d->exe[0])
		snprintf(bin, sizeof bin, "%s", d->exe);
	else
		snprintf(bin, sizeof bin, "%s/jicengd", h_build_dir());
	if (h_ms(1) > 1) {
		/* JICENG_VALGRIND: jicengd and every child under memcheck; any
		 * error or definite leak lands in DIR/valgrind-PID.log. */
		snprintf(vglog, sizeof vglog, "--log-file=%s/valgrind-%%p.log", d->dir);
		argv[n++] = "/usr/bin/valgrind";
		argv[n++] = "-q";
		argv[n++] = "--trace-children=yes";
		argv[n++] = "--leak-check=full";
		argv[n++] = "--errors-for-leak-kinds=definite";
		argv[n++] = "--show-leak-kinds=definite";
		argv[n++] = vglog;
	}
	argv[n++] = bin;
	argv[n++] = "--data-dir";
	argv[n++] = d->dir;
	argv[n++] = "--ingest";
	argv[n++] = d->ingest;
	argv[n++] = "--status";
	argv[n++] = d->status;
	argv[n++] = "--query";
	argv[n++] = d->query;
	if (d->config[0]) {
		argv[n++] = "--config";
		argv[n++] = d->config;
	}
	if (d->opts.workers) {
		argv[n++] = "--workers";
		argv[n++] = (char *)d->opts.workers;
	}
	if (getenv("JICENG_TEST_DEBUG"))
		argv[n++] = "-v";
	argv[n] = NULL;
	char **env = s_child_env(d, &notify);
	if (!env)
		return -1;
	hd_notify_drain(d);
	pid_t pid = fork();
	if (pid < 0) {
		free(env);
		return -1;
	}
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || null < 0)
			_exit(126);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], argv, env);
		_exit(127);
	}
	d->pid = pid;
	d->exit_status = -1;
	free(notify);
	free(env);
	return 0;
}

/* Has jicengd exited? Reaps it and records the status. */
static bool
s_exited(struct hd *d)
{
	int status;
	if (!d->pid)
		return true;
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		d->exit_status = status;
		d->pid = 0;
		return true;
	}
	return false;
}

void
hd_notify_drain(struct hd *d)
{
	char buf[1024];
	while (d->notify_fd >= 0 && recv(d->notify_fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

static bool
s_has_line(const char *msg, const char *what)
{
	size_t wl = strlen(what);
	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, what, wl) == 0 && (p[wl] == '\n' || p[wl] == 0))
			return true;
	return false;
}

/* Next notify message within ms into buf: 1 got, 0 timeout, -1 error. */
static int
s_notify_recv(struct hd *d, char *buf, size_t cap, int ms)
{
	struct pollfd p = { d->notify_fd, POLLIN, 0 };
	int r = poll(&p, 1, ms < 0 ? 0 : ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r == 0)
		return 0;
	ssize_t n = recv(d->notify_fd, buf, cap - 1, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	buf[n] = 0;
	return 1;
}

int
hd_notify_wait(struct hd *d, const char *what, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	char buf[1024];
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end;) {
		int r = s_notify_recv(d, buf, sizeof buf, 100);
		if (r < 0)
			return -1;
		if (r > 0 && s_has_line(buf, what))
			return 0;
		if (r == 0 && s_exited(d))
			return -1;
	}
	return -1;
}

int
hd_notify_count(struct hd *d, const char *what, int ms)
{
	char buf[1024];
	int n = 0;
	for (int64_t end = now_mono_ms() + ms; now_mono_ms() < end;) {
		int r = s_notify_recv(d, buf, sizeof buf, (int)(end - now_mono_ms()));
		if (r < 0)
			break;
		if (r > 0 && s_has_line(buf, what))
			n++;
	}
	return n;
}

int
hd_up(struct hd *d)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (hd_start(d) < 0)
			return -1;
		if (hd_notify_wait(d, "READY=1", H_READY_MS) == 0)
			return 0;
		bool port_taken = hd_log_has(d, "cannot bind") || hd_log_has(d, "Address already in use");
		hd_stop(d, 3000);
		if (!port_taken)
			break;
		fprintf(stderr, "harness: a port was taken; retrying with new ports\n");
		hq_reset(d);
		if (s_pick_ports(d) < 0)
			break;
	}
	fprintf(stderr, "harness: jicengd did not become ready\n");
	hd_print_log(d);
	return -1;
}

/* Wait (bounded) for every process of d's data dir to be gone; SIGKILL
 * what stays. Returns how many had to be killed. */
static int
s_wait_children_gone(struct hd *d, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	pid_t pids[16];
	int n = 0;
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end; h_sleep_ms(20))
		if ((n = s_pids_of_dir(d->dir, pids, 16)) == 0)
			return 0;
	for (int i = 0; i < n; i++) {
		fprintf(stderr, "harness: pid %d of %s still running; killing it\n", (int)pids[i], d->dir);
		kill(pids[i], SIGKILL);
	}
	for (int64_t end = now_mono_ms() + 2000; now_mono_ms() < end; h_sleep_ms(20))
		if (s_pids_of_dir(d->dir, pids, 16) == 0)
			break;
	return n;
}

int
hd_stop(struct hd *d, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	int status = d->exit_status;  /* when it already exited */
	if (d->pid) {
		kill(d->pid, SIGTERM);
		status = hd_wait_exit(d, timeout_ms);
		if (d->pid) {
			fprintf(stderr, "harness: jicengd (pid %d) did not stop in %d ms; killing it\n",
			    (int)d->pid, h_ms(timeout_ms));
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &d->exit_status, 0);
			d->pid = 0;
		}
	}
	s_wait_children_gone(d, H_CHILD_GONE_MS);
	return status;
}

int
hd_wait_exit(struct hd *d, int timeout_ms)
{
	int64_t end = now_mono_ms() + h_ms(timeout_ms);
	while (!s_exited(d) && now_mono_ms() < end)
		h_sleep_ms(10);
	return d->pid ? -1 : d->exit_status;
}

void
hd_kill9(struct hd *d)
{
	if (d->pid) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->exit_status, 0);
		d->pid = 0;
	}
	s_wait_children_gone(d, H_CHILD_GONE_MS);
}

/* jicengd execs DIR/jiceng-worker from the directory its own executable
 * was run from (/proc/self/exe): a hard link (a copy across file systems)
 * keeps that directory ours; the query server is the build's. */
void
hd_worker_env(struct hd *d, const char *domain, const char *env)
{
	char bin[160], src[PATH_MAX], path[256];
	snprintf(bin, sizeof bin, "%s/bin", d->dir);
	assert_int_equal(mkdir(bin, 0755), 0);
	snprintf(src, sizeof src, "%s/jicengd", h_build_dir());
	snprintf(d->exe, sizeof d->exe, "%s/jicengd", bin);
	if (link(src, d->exe) < 0) {
		char *cp[] = { "/bin/cp", "-p", src, d->exe, NULL };
		assert_int_equal(h_run(cp, NULL, NULL, 20000), 0);
	}
	snprintf(src, sizeof src, "%s/jiceng-query", h_build_dir());
	snprintf(path, sizeof path, "%s/jiceng-query", bin);
	assert_int_equal(symlink(src, path), 0);
	snprintf(path, sizeof path, "%s/jiceng-worker", bin);
	h_write_file(path, "#!/bin/sh\n"
	    "case \" $* \" in *\" --domain %s \"*) export '%s' ;; esac\n"
	    "exec '%s/jiceng-worker' \"$@\"\n", domain, env, h_build_dir());
	assert_int_equal(chmod(path, 0755), 0);
}

void
hd_pass(struct hd *d)
{
	d->passed = true;
}

static void
s_vwrite_file(const char *path, const char *fmt, va_list ap)
{
	FILE *f = fopen(path, "w");
	if (!f)
		fail_msg("cannot create %s", path);
	int n = vfprintf(f, fmt, ap);
	assert_true(n >= 0);
	assert_int_equal(fclose(f), 0);
}

void
h_write_file(const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	s_vwrite_file(path, fmt, ap);
	va_end(ap);
}

void
hd_config_write(struct hd *d, const char *fmt, ...)
{
	va_list ap;
	assert_true(d->config[0]);
	va_start(ap, fmt);
	s_vwrite_file(d->config, fmt, ap);
	va_end(ap);
}

void
hd_print_log(struct hd *d)
{
	size_t n;
	char *text = h_slurp(d->log, &n);
	fprintf(stderr, "----- jicengd log %s -----\n", d->log);
	if (text) {
		/* The tail is what matters; a stream test's log can be long. */
		const char *from = n > 16384 ? text + n - 16384 : text;
		fputs(from, stderr);
		free(text);
	}
	fprintf(stderr, "----- end of log -----\n");
}

bool
hd_log_has(struct hd *d, const char *s)
{
	char *text = h_slurp(d->log, NULL);
	bool has = text && strstr(text, s);
	free(text);
	return has;
}

bool
hd_log_wait(struct hd *d, const char *s, int timeout_ms)
{
	int64_t end = now_mono_ms() + h_ms(timeout_ms);
	while (!hd_log_has(d, s)) {
		if (now_mono_ms() >= end)
			return false;
		h_sleep_ms(20);
	}
	return true;
}

int
hd_log_count(struct hd *d, const char *s)
{
	char *text = h_slurp(d->log, NULL);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, s)); p++)
		n++;
	free(text);
	return n;
}

/* Every line jicengd and its children wrote to stderr carries a syslog
 * priority prefix "<0>".."<7>" (journald files it by that). Prints the
 * first offending lines; true if any. */
static bool
s_log_unprefixed(struct hd *d)
{
	char *text = h_slurp(d->log, NULL);
	int bad = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!*line || (line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>'))
			continue;
		if (bad++ < 5)
			fprintf(stderr, "harness: log line without a priority prefix: %s\n", line);
	}
	free(text);
	return bad > 0;
}

/* Print the non-empty valgrind logs of d's directory; true if any. */
static bool
s_valgrind_errors(struct hd *d)
{
	DIR *dir = opendir(d->dir);
	struct dirent *de;
	bool any = false;
	if (!dir)
		return false;
	while ((de = readdir(dir))) {
		char path[512];
		size_t n;
		if (strncmp(de->d_name, "valgrind-", 9) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", d->dir, de->d_name);
		char *text = h_slurp(path, &n);
		if (text && n > 0) {
			fprintf(stderr, "----- %s -----\n%s", path, text);
			any = true;
		}
		free(text);
	}
	closedir(dir);
	return any;
}

const char *
hd_derived(const struct hd *d)
{
	return d->derived;
}

int
hd_destroy(struct hd **dp)
{
	struct hd *d = *dp;
	int rc = 0;
	if (!d)
		return 0;
	hq_reset(d);
	hd_stop(d, 5000);
	if (s_valgrind_errors(d) || s_log_unprefixed(d)) {
		d->passed = false;
		rc = -1;
	}
	if (!d->passed)
		hd_print_log(d);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	if (getenv("JICENG_KEEP"))
		fprintf(stderr, "harness: kept %s and %s\n", d->dir, d->derived);
	else {
		s_rm_rf(d->dir);
		if (strncmp(d->derived, "/dev/shm/jiceng-", 16) == 0)
			s_rm_rf(d->derived);
	}
	s_register(d, false);
	free(d);
	*dp = NULL;
	return rc;
}

/* ================================================================ envelopes */

void
hm_envelope(Envelope *e, const char *event_id, const char *township)
{
	jiceng__v1__envelope__init(e);
	e->event_id = (char *)event_id;
	e->township_id = (char *)(township ? township : H_TOWNSHIP);
	e->occurred_at = now_wall_ms();
}

struct hmsg
hm_pack(const Envelope *e)
{
	struct hmsg m = { 0 };
	m.len = jiceng__v1__envelope__get_packed_size(e);
	m.buf = malloc(m.len ? m.len : 1);
	if (m.buf)
		jiceng__v1__envelope__pack(e, m.buf);
	snprintf(m.id, sizeof m.id, "%s", e->event_id ? e->event_id : "");
	return m;
}

struct hmsg
hm_event(const char *event_id, const char *township, EventCase c, void *msg)
{
	Envelope e;
	hm_envelope(&e, event_id, township);
	codec_event_set(&e, c, msg);
	return hm_pack(&e);
}

struct hmsg
hm_raw(const void *buf, size_t len)
{
	struct hmsg m = { 0 };
	m.buf = malloc(len ? len : 1);
	if (m.buf)
		memcpy(m.buf, buf, len);
	m.len = len;
	return m;
}

void
hm_free(struct hmsg *m)
{
	free(m->buf);
	m->buf = NULL;
	m->len = 0;
}

struct hmsg
hm_org(const char *event_id, const char *org_id, int kind, const char *parent_id,
    const char *approving_id, const char *name)
{
	return hm_org_in(NULL, event_id, org_id, kind, parent_id, approving_id, name);
}

struct hmsg
hm_org_in(const char *township, const char *event_id, const char *org_id, int kind,
    const char *parent_id, const char *approving_id, const char *name)
{
	Envelope e;
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	hm_envelope(&e, event_id, township);
	o.org_id = (char *)org_id;
	o.kind = kind;
	o.parent_id = (char *)(parent_id ? parent_id : "");
	o.approving_org_id = (char *)(approving_id ? approving_id : "");
	o.name = (char *)name;
	o.established_at = 1262275200000LL;  /* 2010-01-01 */
	e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED;
	e.org_established = &o;
	return hm_pack(&e);
}

struct hmsg
hm_member_in(const char *township, const char *event_id, const char *member_id,
    const char *home_id, const char *name, const char *id_number)
{
	Envelope e;
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	hm_envelope(&e, event_id, township);
	r.member_id = (char *)member_id;
	r.home_org_id = (char *)home_id;
	r.name = (char *)name;
	r.id_number = (char *)(id_number ? id_number : "");
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.admitted_at = 994000000000LL;    /* 2001-07-01 */
	r.confirmed_at = 1026000000000LL;  /* 2002-07-07 */
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED;
	e.member_registered = &r;
	return hm_pack(&e);
}

struct hmsg
hm_admitted(const char *event_id, const char *member_id, const char *org_id,
    const char *birth_date, int64_t admitted_at)
{
	Envelope e;
	Jiceng__V1__MemberAdmitted r = JICENG__V1__MEMBER_ADMITTED__INIT;
	hm_envelope(&e, event_id, NULL);
	r.member_id = (char *)member_id;
	r.org_id = (char *)org_id;
	r.name = "预备党员";
	r.birth_date = (char *)birth_date;
	r.admitted_at = admitted_at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED;
	e.member_admitted = &r;
	return hm_pack(&e);
}

struct hmsg
hm_status_changed(const char *event_id, const char *member_id, int status)
{
	Envelope e;
	Jiceng__V1__MemberStatusChanged c = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	hm_envelope(&e, event_id, NULL);
	c.member_id = (char *)member_id;
	c.status = status;
	c.effective_at = now_wall_ms() - 1000;
	c.reason = "测试";
	e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED;
	e.member_status_changed = &c;
	return hm_pack(&e);
}

struct hmsg
hm_dissolved(const char *event_id, const char *org_id, const char *approving)
{
	Envelope e;
	Jiceng__V1__OrgDissolved o = JICENG__V1__ORG_DISSOLVED__INIT;
	hm_envelope(&e, event_id, NULL);
	o.org_id = (char *)org_id;
	o.approving_org_id = (char *)approving;
	o.reason = "撤并";
	o.dissolved_at = now_wall_ms() - 1000;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED;
	e.org_dissolved = &o;
	return hm_pack(&e);
}

struct hmsg
hm_member(const char *event_id, const char *member_id, const char *home_id,
    const char *name, const char *id_number)
{
	return hm_member_in(NULL, event_id, member_id, home_id, name, id_number);
}

void
hm_branch_members(struct hmsg *msgs, struct hmsg **order, int n, const char *prefix,
    const char *name)
{
	for (int i = 0; i < n; i++) {
		char eid[48], mid[48];
		snprintf(eid, sizeof eid, "%s-%05d", prefix, i);
		snprintf(mid, sizeof mid, "%sm-%05d", prefix, i);
		msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, name, NULL);
		if (order)
			order[i] = &msgs[i];
	}
}

void
h_idnum(const char *yyyymmdd, unsigned seq, char out[19])
{
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	int sum = 0;
	snprintf(out, 19, "510722%.8s%03u", yyyymmdd, seq % 1000);
	for (int i = 0; i < 17; i++)
		sum += (out[i] - '0') * w[i];
	out[17] = "10X98765432"[sum % 11];
	out[18] = 0;
}

/* ================================================================ ingest client */

static void *
s_ctx(void)
{
	if (!s_zctx)
		s_zctx = zmq_ctx_new();
	return s_zctx;
}

static void *
s_dealer(const char *endpoint)
{
	int linger = 0, hwm = 100000;
	void *s = zmq_socket(s_ctx(), ZMQ_DEALER);
	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_connect(s, endpoint) < 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

void *
hc_connect(struct hd *d)
{
	return s_dealer(d->ingest);
}

void
hc_close(void *sock)
{
	if (sock)
		zmq_close(sock);
}

static int
s_send_timeout(void *sock, const void *buf, size_t len, int flags, int timeout_ms)
{
	for (int64_t end = now_mono_ms() + timeout_ms;;) {
		if (zmq_send(sock, buf, len, flags | ZMQ_DONTWAIT) >= 0)
			return 0;
		if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
			return -1;
		if (now_mono_ms() > end)
			return -1;
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLOUT, 0 };
		zmq_poll(&it, 1, 50);
	}
}

int
hc_send(void *sock, const struct hmsg *m)
{
	return s_send_timeout(sock, m->buf, m->len, 0, H_ACK_MS);
}

/* One single-frame message within timeout_ms into a malloc'd buffer. */
static uint8_t *
s_recv_frame(void *sock, int timeout_ms, size_t *len)
{
	zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t msg;
	int more = 0;
	size_t ms = sizeof more;
	for (int64_t end = now_mono_ms() + timeout_ms;;) {
		int left = (int)(end - now_mono_ms());
		if (left < 0)
			return NULL;
		int r = zmq_poll(&it, 1, left);
		if (r < 0 && zmq_errno() == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			continue;
		}
		break;
	}
	*len = zmq_msg_size(&msg);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf)
		memcpy(buf, zmq_msg_data(&msg), *len);
	zmq_msg_close(&msg);
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
	while (more) {
		fprintf(stderr, "harness: unexpected extra frame in a reply\n");
		zmq_msg_init(&msg);
		zmq_msg_recv(&msg, sock, 0);
		zmq_msg_close(&msg);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
	}
	return buf;
}

Ack *
hc_recv(void *sock, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	size_t len;
	uint8_t *buf = s_recv_frame(sock, timeout_ms, &len);
	if (!buf)
		return NULL;
	Ack *a = jiceng__v1__ack__unpack(NULL, len, buf);
	if (!a)
		fprintf(stderr, "harness: a reply of %zu bytes is not an Ack\n", len);
	free(buf);
	return a;
}

void
hc_ack_free(Ack *a)
{
	if (a)
		jiceng__v1__ack__free_unpacked(a, NULL);
}

Ack *
hc_call(void *sock, const struct hmsg *m)
{
	if (hc_send(sock, m) < 0) {
		fprintf(stderr, "harness: could not send %s\n", m->id);
		return NULL;
	}
	Ack *a = hc_recv(sock, H_ACK_MS);
	if (!a)
		fprintf(stderr, "harness: no ack for %s within %d ms\n", m->id, H_ACK_MS);
	return a;
}

bool
hc_expect(void *sock, const struct hmsg *m, Jiceng__V1__Verdict verdict, const char *code)
{
	Ack *a = hc_call(sock, m);
	bool ok = a && a->verdict == verdict && (!code || strcmp(a->code, code) == 0);
	if (a && !ok)
		fprintf(stderr, "event %s: expected %s/%s, got %s/%s (%s) seq %llu\n", m->id,
		    codec_verdict_name(verdict), code ? code : "*", codec_verdict_name(a->verdict),
		    a->code, a->reason, (unsigned long long)a->seq);
	hc_ack_free(a);
	return ok;
}

void
hc_event_expect(void *sock, const char *event_id, const char *township, EventCase c,
    void *msg, Jiceng__V1__Verdict verdict, const char *code)
{
	struct hmsg m = hm_event(event_id, township, c, msg);
	bool ok = hc_expect(sock, &m, verdict, code);
	hm_free(&m);
	if (!ok)
		fail_msg("%s as township %s: expected %s/%s", codec_event_name(c),
		    township ? township : H_TOWNSHIP, codec_verdict_name(verdict), code ? code : "*");
}

/* Committee ids[0], village committee ids[1] under it and branch ids[2]
 * under that, approved by the committee and named names[i], in township;
 * event ids PREFIX-org-t, -v and -b. */
static void
s_org_tree(struct hmsg m[3], const char *township, const char *prefix,
    const char *const ids[3], const char *const names[3])
{
	char id[3][CODEC_MAX_ID + 1];
	snprintf(id[0], sizeof id[0], "%s-org-t", prefix);
	snprintf(id[1], sizeof id[1], "%s-org-v", prefix);
	snprintf(id[2], sizeof id[2], "%s-org-b", prefix);
	m[0] = hm_org_in(township, id[0], ids[0], JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL,
	    NULL, names[0]);
	m[1] = hm_org_in(township, id[1], ids[1], JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, ids[0],
	    ids[0], names[1]);
	m[2] = hm_org_in(township, id[2], ids[2], JICENG__V1__ORG_KIND__BRANCH, ids[1], ids[0],
	    names[2]);
}

void
hm_org_tree(struct hmsg m[3], const char *prefix)
{
	static const char *const ids[3] = { H_ORG_TOWNSHIP, H_ORG_VILLAGE, H_ORG_BRANCH };
	static const char *const names[3] = { "中共测试镇委员会", "中共测试村委员会",
	    "中共测试村第一支部委员会" };
	s_org_tree(m, NULL, prefix, ids, names);
}

struct hd *
hd_up_with_tree(void **state, const struct hd_opts *o, const char *prefix, void **sock)
{
	struct hd *d = hd_new(o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	*sock = hc_connect(d);
	assert_non_null(*sock);
	assert_int_equal(hc_org_tree(*sock, prefix), 0);
	return d;
}

/* Send the three events of a tree, each to be ACCEPTED; frees them. */
static int
s_org_tree_send(void *sock, struct hmsg m[3])
{
	int bad = 0;
	for (int i = 0; i < 3; i++) {
		bad += !hc_expect(sock, &m[i], JICENG__V1__VERDICT__ACCEPTED, NULL);
		hm_free(&m[i]);
	}
	return bad ? -1 : 0;
}

int
hc_org_tree(void *sock, const char *prefix)
{
	struct hmsg m[3];
	hm_org_tree(m, prefix);
	return s_org_tree_send(sock, m);
}

int
hc_org_tree_in(void *sock, const char *township, const char *prefix, const char *const ids[3])
{
	struct hmsg m[3];
	s_org_tree(m, township, prefix, ids, ids);
	return s_org_tree_send(sock, m);
}

uint64_t
hc_members(void *sock, const char *prefix, const char *org_id, int from, int to)
{
	uint64_t last = 0;
	for (int i = from; i < to && (i == from || last); i++) {
		char eid[CODEC_MAX_ID + 1], mid[CODEC_MAX_ID + 1];
		snprintf(eid, sizeof eid, "%s-e-%d", prefix, i);
		snprintf(mid, sizeof mid, "%s-m-%d", prefix, i);
		struct hmsg m = hm_member(eid, mid, org_id, "党员", NULL);
		Ack *a = hc_call(sock, &m);
		bool ok = a && a->verdict == JICENG__V1__VERDICT__ACCEPTED && a->n_warnings == 0;
		if (!ok)
			fprintf(stderr, "harness: member %s: %s %s (%zu warnings)\n", mid,
			    a ? codec_verdict_name(a->verdict) : "no ack", a ? a->code : "",
			    a ? a->n_warnings : 0);
		last = ok ? a->seq : 0;
		hc_ack_free(a);
		hm_free(&m);
	}
	return last;
}

int
hp_run(struct hpump *p, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end;) {
		while (p->sent < p->nsend && p->sent - p->acked < p->window) {
			if (hc_send(p->sock, p->send[p->sent]) < 0) {
				fprintf(stderr, "harness: pump could not send %s\n", p->send[p->sent]->id);
				return -1;
			}
			p->sent++;
		}
		if (p->acked >= p->nsend)
			return 0;
		Ack *a = hc_recv(p->sock, 100);
		if (!a)
			continue;
		p->acked++;
		if (p->on_ack)
			p->on_ack(p, a);
		hc_ack_free(a);
		if (p->hook && p->hook_at > 0 && !p->hooked && p->acked >= p->hook_at) {
			p->hooked = true;
			p->hook(p);
		}
		if (p->stop)
			return 1;
	}
	fprintf(stderr, "harness: pump timed out: %d sent, %d acked of %d\n", p->sent, p->acked,
	    p->nsend);
	return -1;
}

/* ================================================================ queries */

void
hq_reset(struct hd *d)
{
	if (d->qsock) {
		zmq_close(d->qsock);
		d->qsock = NULL;
	}
}

void
hq_free(QueryReply *r)
{
	if (r)
		jiceng__v1__query_reply__free_unpacked(r, NULL);
}

QueryReply *
hq_call(struct hd *d, Query *q, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	char rid[32];
	if (!d->qsock && !(d->qsock = s_dealer(d->query)))
		return NULL;
	snprintf(rid, sizeof rid, "q%u", ++d->qseq);
	q->request_id = rid;
	size_t len = jiceng__v1__query__get_packed_size(q);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return NULL;
	jiceng__v1__query__pack(q, buf);
	QueryReply *r = NULL;
	for (int64_t end = now_mono_ms() + timeout_ms; !r && now_mono_ms() < end;) {
		if (s_send_timeout(d->qsock, buf, len, 0, 1000) < 0)
			continue;
		for (int64_t resend = now_mono_ms() + 1000; now_mono_ms() < resend && now_mono_ms() < end;) {
			size_t n;
			uint8_t *rb = s_recv_frame(d->qsock, (int)(resend - now_mono_ms()), &n);
			if (!rb)
				continue;
			r = jiceng__v1__query_reply__unpack(NULL, n, rb);
			free(rb);
			if (r && strcmp(r->request_id, rid) == 0)
				break;
			hq_free(r);  /* a late reply to an earlier request */
			r = NULL;
		}
	}
	free(buf);
	q->request_id = NULL;
	return r;
}

QueryReply *
hq_stats(struct hd *d)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetStats s = JICENG__V1__GET_STATS__INIT;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
	q.get_stats = &s;
	QueryReply *r = hq_call(d, &q, 5000);
	if (r && (r->status != JICENG__V1__QUERY_STATUS__OK ||
	    r->result_case != JICENG__V1__QUERY_REPLY__RESULT_STATS)) {
		fprintf(stderr, "harness: stats query answered %s: %s\n", r->code, r->reason);
		hq_free(r);
		r = NULL;
	}
	return r;
}

QueryReply *
hq_member(struct hd *d, const char *member_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetMember g = JICENG__V1__GET_MEMBER__INIT;
	g.member_id = (char *)member_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_MEMBER;
	q.get_member = &g;
	return hq_call(d, &q, 5000);
}

QueryReply *
hq_org(struct hd *d, const char *org_id)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetOrg g = JICENG__V1__GET_ORG__INIT;
	g.org_id = (char *)org_id;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_ORG;
	q.get_org = &g;
	return hq_call(d, &q, 5000);
}

QueryReply *
hq_audit(struct hd *d, const char *township_id, uint64_t since_seq)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListAudit a = JICENG__V1__LIST_AUDIT__INIT;
	a.township_id = (char *)(township_id ? township_id : "");
	a.since_seq = since_seq;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_AUDIT;
	q.list_audit = &a;
	return hq_call(d, &q, 5000);
}

long
hq_roster(struct hd *d, const char *org_id, void (*fn)(void *, const char *), void *arg)
{
	char after[CODEC_MAX_ID + 1] = "";
	long total = 0;
	for (int page = 0; page < 100000; page++) {
		Query q = JICENG__V1__QUERY__INIT;
		Jiceng__V1__ListMembers l = JICENG__V1__LIST_MEMBERS__INIT;
		l.org_id = (char *)org_id;
		l.after = after;
		l.limit = 1000;
		q.query_case = JICENG__V1__QUERY__QUERY_LIST_MEMBERS;
		q.list_members = &l;
		QueryReply *r = hq_call(d, &q, 5000);
		if (!r || r->status != JICENG__V1__QUERY_STATUS__OK ||
		    r->result_case != JICENG__V1__QUERY_REPLY__RESULT_MEMBERS) {
			if (r)
				fprintf(stderr, "harness: list members of %s: %s %s\n", org_id, r->code, r->reason);
			hq_free(r);
			return -1;
		}
		for (size_t i = 0; i < r->members->n_members; i++) {
			if (fn)
				fn(arg, r->members->members[i]->member_id);
			total++;
		}
		bool last = !r->members->next_after[0] || r->members->n_members == 0;
		snprintf(after, sizeof after, "%s", r->members->next_after);
		hq_free(r);
		if (last)
			return total;
	}
	return -1;
}

uint64_t
hq_duplicates_reach(struct hd *d, uint64_t n)
{
	uint64_t seen = 0;
	for (int64_t end = now_mono_ms() + h_ms(5000); now_mono_ms() < end; h_sleep_ms(50)) {
		QueryReply *r = hq_stats(d);
		seen = r ? r->stats->duplicates : 0;
		hq_free(r);
		if (seen >= n)
			break;
	}
	return seen;
}

uint64_t
hq_journal_length(struct hd *d)
{
	QueryReply *r = hq_stats(d);
	uint64_t n = r ? r->stats->journal_length : UINT64_MAX;
	hq_free(r);
	return n;
}

uint64_t
hq_stat_count(const QueryReply *r, bool accepted, const char *code)
{
	const Jiceng__V1__Stats *s = r->stats;
	size_t n = accepted ? s->n_accepted : s->n_rejected;
	Jiceng__V1__CodeCount **list = accepted ? s->accepted : s->rejected;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i]->code, code) == 0)
			return list[i]->count;
	return 0;
}

int
hq_caught_up(struct hd *d, int timeout_ms)
{
	timeout_ms = h_ms(timeout_ms);
	for (int64_t end = now_mono_ms() + timeout_ms; now_mono_ms() < end; h_sleep_ms(50)) {
		QueryReply *r = hq_stats(d);
		bool done = r && r->stats->n_workers > 0;
		for (size_t i = 0; done && i < r->stats->n_workers; i++)
			done = r->stats->workers[i]->cursor == r->stats->journal_length;
		hq_free(r);
		if (done)
			return 0;
	}
	fprintf(stderr, "harness: workers did not catch up within %d ms\n", timeout_ms);
	return -1;
}

/* ------------------------------------------------------------ state files */

void
hd_state_dump(struct hd *d, const char *derived, const char *domain, const char *name,
    char *path, size_t cap)
{
	char state[256];
	snprintf(state, sizeof state, "%s/state/%s.mdb", derived ? derived : d->derived, domain);
	snprintf(path, cap, "%s/%s", d->dir, name);
	char *argv[] = { "/usr/bin/mdb_dump", "-a", "-n", state, NULL };
	assert_int_equal(h_run(argv, path, NULL, 30000), 0);
}

bool
h_same_file(const char *a, const char *b)
{
	size_t na, nb;
	char *x = h_slurp(a, &na), *y = h_slurp(b, &nb);
	bool same = x && y && na == nb && memcmp(x, y, na) == 0;
	if (!same && x && y) {
		size_t i = 0, line = 1;
		while (i < na && i < nb && x[i] == y[i])
			line += x[i++] == '\n';
		fprintf(stderr, "%s and %s differ at line %zu (%zu vs %zu bytes)\n", a, b, line, na, nb);
	}
	free(x);
	free(y);
	return same && na > 0;
}

int
hd_ctl_rebuild(struct hd *d, const char *domain)
{
	char bin[512], err[256];
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(err, sizeof err, "%s/rebuild.log", d->dir);
	char *argv[] = { bin, "rebuild", "--domain", (char *)domain, "--data-dir", d->dir, "-q",
		NULL };
	return h_run(argv, NULL, err, 60000);
}
