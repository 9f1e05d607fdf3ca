/*
 * auth: zcert key files, the key directory, a poll-driven ZAP handler, and
 * the authorisation rules of roles. auth.h is the manual; this file reads
 * low level first: files, the key table, the ZAP handler, then principals,
 * authorisation and socket setup.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "log.h"
#include "now.h"

#define KEY_SUFFIX     ".key"
#define SECRET_SUFFIX  "_secret"
#define LINE_MAX_LEN   512
#define REFUSAL_LOG_S  60     /* log a refused key at most once a minute */
#define REFUSAL_SLOTS  32     /* ... remembering this many recent keys */
#define REFUSAL_LINES  30     /* and at most this many lines a minute in all */
#define AUTH_PATH_MAX  1024

static int
s_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
s_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A Z85 CURVE key: 40 characters that decode to 32 bytes. */
static bool
s_z85_key(const char *z85, uint8_t bin[32])
{
	uint8_t tmp[32];
	return strlen(z85) == AUTH_Z85_LEN && zmq_z85_decode(bin ? bin : tmp, z85) != NULL;
}

/* ================================================================ key files */

const char *
auth_role_name(enum auth_role r)
{
	switch (r) {
	case AUTH_ROLE_TOWNSHIP: return "township";
	case AUTH_ROLE_COUNTY: return "county";
	case AUTH_ROLE_READER: return "reader";
	case AUTH_ROLE_LOCAL: return "local";
	case AUTH_ROLE_NONE: break;
	}
	return "none";
}

enum auth_role
auth_role_from_name(const char *s)
{
	if (!s)
		return AUTH_ROLE_NONE;
	if (strcmp(s, "township") == 0) return AUTH_ROLE_TOWNSHIP;
	if (strcmp(s, "county") == 0) return AUTH_ROLE_COUNTY;
	if (strcmp(s, "reader") == 0) return AUTH_ROLE_READER;
	return AUTH_ROLE_NONE;
}

/* The role's rule for the township field. */
static int
s_role_township_check(enum auth_role role, const char *township, char *err,
    size_t errlen)
{
	switch (role) {
	case AUTH_ROLE_TOWNSHIP:
		if (!codec_township_valid(township))
			return s_fail(err, errlen, "role township needs a township: 12 digits ending in 000, got '%s'",
			    township);
		return 0;
	case AUTH_ROLE_COUNTY:
		if (township[0])
			return s_fail(err, errlen, "role county takes no township (it covers the whole county)");
		return 0;
	case AUTH_ROLE_READER:
		if (township[0] && !codec_township_valid(township))
			return s_fail(err, errlen, "reader township must be 12 digits ending in 000, got '%s'",
			    township);
		return 0;
	default:
		return s_fail(err, errlen, "role must be township, county or reader");
	}
}

bool
auth_key_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > AUTH_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

int
auth_cert_check(const struct auth_cert *c, char *err, size_t errlen)
{
	if (!auth_key_name_valid(c->name))
		return s_fail(err, errlen, "key name '%s': use 1-%d of [A-Za-z0-9._-], not starting with . or -",
		    c->name, AUTH_NAME_MAX);
	if (!s_z85_key(c->public_key, NULL))
		return s_fail(err, errlen, "no valid public key");
	return s_role_township_check(c->role, c->township, err, errlen);
}

/* The key name of a file: its base name without .key or .key_secret. */
static void
s_name_from_path(const char *path, char name[AUTH_NAME_MAX + 1])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (s_ends_with(base, SECRET_SUFFIX))
		n -= strlen(SECRET_SUFFIX);
	if (n >= strlen(KEY_SUFFIX) && strncmp(base + n - strlen(KEY_SUFFIX), KEY_SUFFIX,
	    strlen(KEY_SUFFIX)) == 0)
		n -= strlen(KEY_SUFFIX);
	if (n > AUTH_NAME_MAX)
		n = AUTH_NAME_MAX;
	memcpy(name, base, n);
	name[n] = 0;
}

/* A value: "quoted", 'quoted' or bare (a bare value ends at #). */
static int
s_value(char *v, char **out)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '"' || *v == '\'') {
		char *e = strchr(v + 1, *v);
		if (!e)
			return -1;
		*e = 0;
		*out = v + 1;
		return 0;
	}
	char *e = strchr(v, '#');
	if (!e)
		e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = 0;
	*out = v;
	return 0;
}

/* Store one `name = value` of section sec into c. Unknown names are
 * ignored, as zcert's own metadata (created-by ...) may appear. */
static int
s_cert_set(struct auth_cert *c, const char *sec, const char *name, const char *value,
    bool *has_role, char *err, size_t errlen)
{
	if (strcmp(sec, "curve") == 0) {
		char *dst = NULL;
		if (strcmp(name, "public-key") == 0)
			dst = c->public_key;
		else if (strcmp(name, "secret-key") == 0)
			dst = c->secret_key;
		if (!dst)
			return 0;
		if (!s_z85_key(value, NULL))
			return s_fail(err, errlen, "%s is not a 40-character Z85 key", name);
		memcpy(dst, value, AUTH_Z85_LEN + 1);
	} else if (strcmp(sec, "metadata") == 0) {
		if (strcmp(name, "role") == 0) {
			c->role = auth_role_from_name(value);
			if (c->role == AUTH_ROLE_NONE)
				return s_fail(err, errlen, "role '%s': must be township, county or reader", value);
			*has_role = true;
		} else if (strcmp(name, "township") == 0) {
			if (strlen(value) >= sizeof c->township)
				return s_fail(err, errlen, "township '%s' too long", value);
			snprintf(c->township, sizeof c->township, "%s", value);
		}
	}
	return 0;
}

/* Parse a zcert file: top-level section names, indented `name = value`. */
static int
s_cert_parse(FILE *f, const char *path, struct auth_cert *c, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN], sec[32] = "", msg[200];
	bool has_role = false, has_township = false;
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n')
			return s_fail(err, errlen, "%s:%d: line too long", path, lineno);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		char *s = line + strspn(line, " \t");
		if (!*s || *s == '#')
			continue;
		if (s == line) {  /* a section */
			if (strchr(s, '=') || strlen(s) >= sizeof sec)
				return s_fail(err, errlen, "%s:%d: expected a section name (metadata, curve)",
				    path, lineno);
			memcpy(sec, s, strlen(s) + 1);
			continue;
		}
		char *eq = strchr(s, '='), *name = s, *value;
		if (!eq)
			continue;  /* a nested section of an unknown kind */
		char *ne = eq;
		while (ne > name && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		*ne = 0;
		if (s_value(eq + 1, &value) < 0)
			return s_fail(err, errlen, "%s:%d: unterminated quote", path, lineno);
		if (strcmp(sec, "metadata") == 0 && strcmp(name, "township") == 0)
			has_township = true;
		if (s_cert_set(c, sec, name, value, &has_role, msg, sizeof msg) < 0)
			return s_fail(err, errlen, "%s:%d: %s", path, lineno, msg);
	}
	if (ferror(f))
		return s_fail(err, errlen, "%s: %s", path, strerror(errno));
	if (!c->public_key[0])
		return s_fail(err, errlen, "%s: no curve public-key", path);
	if (has_township && !has_role)
		return s_fail(err, errlen, "%s: township without role", path);
	return 0;
}

int
auth_cert_load(const char *path, struct auth_cert *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	s_name_from_path(path, out->name);
	FILE *f = fopen(path, "re");
	if (!f)
		return s_fail(err, errlen, "%s: %s", path, strerror(errno));
	struct stat st;
	int rc = -1;
	if (fstat(fileno(f), &st) < 0) {
		s_fail(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		s_fail(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	bool secret = s_ends_with(path, SECRET_SUFFIX);
	if (secret && (st.st_mode & 0007)) {
		s_fail(err, errlen, "%s: secret key file is accessible to others (mode %03o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (s_cert_parse(f, path, out, err, errlen) < 0)
		goto out;
	if (secret && !out->secret_key[0]) {
		s_fail(err, errlen, "%s: no curve secret-key", path);
		goto out;
	}
	if (out->secret_key[0]) {
		char derived[AUTH_Z85_LEN + 1];
		if (zmq_curve_public(derived, out->secret_key) < 0 ||
		    strcmp(derived, out->public_key) != 0) {
			s_fail(err, errlen, "%s: secret-key does not belong to public-key", path);
			goto out;
		}
	}
	rc = 0;
out:
	fclose(f);
	if (rc < 0)
		memset(out->secret_key, 0, sizeof out->secret_key);
	return rc;
}

int
auth_cert_generate(struct auth_cert *c, char *err, size_t errlen)
{
	if (zmq_curve_keypair(c->public_key, c->secret_key) < 0)
		return s_fail(err, errlen, "zmq_curve_keypair: %s (libzmq built without CURVE?)",
		    zmq_strerror(errno));
	return 0;
}

/* The text of a key file, zcert layout (4-space indents, quoted values). */
static int
s_cert_text(const struct auth_cert *c, bool secret, char *buf, size_t len)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
	int n = snprintf(buf, len,
	    "#   ****  Generated on %s by jicengctl keygen  ****\n"
	    "%s"
	    "\n"
	    "metadata\n",
	    when, secret ?
	    "#   ZeroMQ CURVE **Secret** Certificate\n"
	    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n" :
	    "#   ZeroMQ CURVE Public Certificate\n"
	    "#   Exchange securely, or use a secure mechanism to verify the contents\n"
	    "#   of this file after exchange. jiceng: copy it into keys_dir.\n");
	if (c->role != AUTH_ROLE_NONE)
		n += snprintf(buf + n, len - (size_t)n, "    role = \"%s\"\n", auth_role_name(c->role));
	if (c->township[0])
		n += snprintf(buf + n, len - (size_t)n, "    township = \"%s\"\n", c->township);
	n += snprintf(buf + n, len - (size_t)n, "curve\n    public-key = \"%s\"\n", c->public_key);
	if (secret)
		n += snprintf(buf + n, len - (size_t)n, "    secret-key = \"%s\"\n", c->secret_key);
	return n;
}

/* Create path exclusively with exactly mode, write text, fsync. */
static int
s_write_new(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return s_fail(err, errlen, "%s: %s", path, strerror(errno));
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	s_fail(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

static void
s_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int
auth_cert_save(const struct auth_cert *c, const char *dir, char *err, size_t errlen)
{
	char pub[AUTH_PATH_MAX], sec[AUTH_PATH_MAX], text[1024];
	if (!auth_key_name_valid(c->name))
		return s_fail(err, errlen, "key name '%s': use 1-%d of [A-Za-z0-9._-], not starting with . or -",
		    c->name, AUTH_NAME_MAX);
	if (!s_z85_key(c->public_key, NULL) || !s_z85_key(c->secret_key, NULL))
		return s_fail(err, errlen, "no key pair to save");
	if ((size_t)snprintf(pub, sizeof pub, "%s/%s%s", dir, c->name, KEY_SUFFIX) >= sizeof pub ||
	    (size_t)snprintf(sec, sizeof sec, "%s%s", pub, SECRET_SUFFIX) >= sizeof sec)
		return s_fail(err, errlen, "%s: path too long", dir);
	if (access(pub, F_OK) == 0 || access(sec, F_OK) == 0)
		return s_fail(err, errlen, "%s: key %s exists already; choose another --name",
		    dir, c->name);
	s_cert_text(c, true, text, sizeof text);
	if (s_write_new(sec, 0600, text, err, errlen) < 0)
		return -1;
	s_cert_text(c, false, text, sizeof text);
	if (s_write_new(pub, 0644, text, err, errlen) < 0) {
		unlink(sec);
		return -1;
	}
	memset(text, 0, sizeof text);
	s_fsync_dir(dir);
	return 0;
}

/* The secret and public file names of a key pair named by either file. */
static int
s_pair_paths(const char *path, char *sec, char *pub, size_t len)
{
	size_t n = strlen(path);
	if (s_ends_with(path, SECRET_SUFFIX))
		n -= strlen(SECRET_SUFFIX);
	if (n + strlen(SECRET_SUFFIX) >= len)
		return -1;
	snprintf(pub, len, "%.*s", (int)n, path);
	snprintf(sec, len, "%s%s", pub, SECRET_SUFFIX);
	return 0;
}

int
auth_server_key_load(const char *path, bool create, struct auth_cert *out,
    char *err, size_t errlen)
{
	char sec[AUTH_PATH_MAX], pub[AUTH_PATH_MAX];
	if (s_pair_paths(path, sec, pub, sizeof sec) < 0)
		return s_fail(err, errlen, "%s: path too long", path);
	if (create && access(sec, F_OK) < 0 && errno == ENOENT) {
		struct auth_cert c = { .role = AUTH_ROLE_NONE };
		char dir[AUTH_PATH_MAX];
		snprintf(dir, sizeof dir, "%s", pub);
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = 0;
		else if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof dir, ".");
		s_name_from_path(pub, c.name);
		if (auth_cert_generate(&c, err, errlen) < 0 ||
		    auth_cert_save(&c, dir, err, errlen) < 0)
			return -1;
		memset(&c, 0, sizeof c);
	}
	return auth_cert_load(sec, out, err, errlen);
}

/* ================================================================ key table */

enum key_state {
	KEY_ACTIVE,
	KEY_REVOKED,    /* in keys_dir/revoked/ */
	KEY_AMBIGUOUS   /* in two active files: refused until an operator fixes it */
};

struct auth_key {
	uint8_t pub[32];                 /* sort key */
	enum key_state state;
	enum auth_role role;
	char township[13];
	char name[AUTH_NAME_MAX + 1];
};

struct key_table {
	struct auth_key *v;
	size_t n, cap;
	unsigned skipped;                /* files that did not load */
};

static int
s_key_cmp(const void *a, const void *b)
{
	const struct auth_key *x = a, *y = b;
	int c = memcmp(x->pub, y->pub, 32);
	if (c)
		return c;
	return (int)x->state - (int)y->state;  /* active before revoked */
}

static int
s_table_push(struct key_table *t, const struct auth_cert *c, enum key_state st)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct auth_key *v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	struct auth_key *k = &t->v[t->n++];
	memset(k, 0, sizeof *k);
	zmq_z85_decode(k->pub, c->public_key);
	k->state = st;
	k->role = c->role;
	memcpy(k->township, c->township, sizeof k->township);
	memcpy(k->name, c->name, sizeof k->name);
	return 0;
}

/* Load one file found in a key directory as a client key; 0, or -1 with
 * "path: why" in msg. */
static int
s_walk_load(const char *path, bool secret, struct auth_cert *c, char *msg, size_t len)
{
	struct stat sb;
	char why[256];
	if (secret)
		return s_fail(msg, len, "%s: a secret key: it belongs to its client, not here", path);
	if (stat(path, &sb) == 0 && (sb.st_mode & 0002))
		return s_fail(msg, len, "%s: writable by anyone", path);
	if (auth_cert_load(path, c, msg, len) < 0)
		return -1;
	if (auth_cert_check(c, why, sizeof why) < 0)
		return s_fail(msg, len, "%s: %s", path, why);
	return 0;
}

int
auth_keys_walk(const char *dir, auth_walk_fn fn, void *arg)
{
	DIR *d = opendir(dir);
	int rc = 0;
	if (!d)
		return -1;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		char path[AUTH_PATH_MAX], msg[AUTH_PATH_MAX + 200];
		struct auth_cert c;
		if (e->d_name[0] == '.' ||
		    (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
			continue;
		bool secret = s_ends_with(e->d_name, KEY_SUFFIX SECRET_SUFFIX);
		if (!secret && !s_ends_with(e->d_name, KEY_SUFFIX))
			continue;
		if (s_walk_load(path, secret, &c, msg, sizeof msg) == 0)
			rc = fn(arg, path, &c, NULL);
		else
			rc = fn(arg, path, NULL, msg);
	}
	closedir(d);
	if (rc < 0)
		errno = ECANCELED;
	return rc < 0 ? -1 : 0;
}

struct scan {
	struct key_table *t;
	enum key_state state;            /* what the files of this dir mean */
};

static int
s_scan_one(void *arg, const char *path, const struct auth_cert *c, const char *error)
{
	struct scan *sc = arg;
	(void)path;
	if (!c) {
		log_warnx("auth: %s; skipped", error);
		sc->t->skipped++;
		return 0;
	}
	return s_table_push(sc->t, c, sc->state);
}

/* Load the key files of dir into t with state st. -1 if dir cannot be
 * read; a file that does not load is counted and logged, not fatal. */
static int
s_table_scan(struct key_table *t, const char *dir, enum key_state st)
{
	struct scan sc = { t, st };
	int rc = auth_keys_walk(dir, s_scan_one, &sc);
	if (rc < 0 && errno == ECANCELED)
		errno = ENOMEM;
	return rc;
}

/* Sort t and fold entries of one public key into one: revoked wins over
 * active; two active files make the key ambiguous. Returns active keys. */
static unsigned
s_table_finish(struct key_table *t)
{
	unsigned active = 0;
	size_t out = 0;
	if (t->n)
		qsort(t->v, t->n, sizeof *t->v, s_key_cmp);
	for (size_t i = 0; i < t->n;) {
		size_t j = i + 1;
		struct auth_key k = t->v[i];
		for (; j < t->n && memcmp(t->v[j].pub, k.pub, 32) == 0; j++) {
			if (t->v[j].state == KEY_REVOKED) {
				if (k.state != KEY_REVOKED)
					log_warnx("auth: key %s is also in revoked/: refused", k.name);
				k.state = KEY_REVOKED;
			} else if (k.state == KEY_ACTIVE) {
				log_warnx("auth: keys %s and %s hold the same public key: both refused",
				    k.name, t->v[j].name);
				k.state = KEY_AMBIGUOUS;
			}
		}
		active += k.state == KEY_ACTIVE;
		t->v[out++] = k;
		i = j;
	}
	t->n = out;
	return active;
}

static const struct auth_key *
s_table_find(const struct key_table *t, const uint8_t pub[32])
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(t->v[mid].pub, pub, 32);
		if (c == 0)
			return &t->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ================================================================ ZAP handler */

struct auth {
	void *zap;                           /* REP on inproc://zeromq.zap.01 */
	char keys_dir[AUTH_PATH_MAX];        /* client public keys; revoked/ below */
	struct key_table keys;               /* sorted by public key */
	struct auth_counters counters;       /* for metrics */
	struct {
		uint8_t pub[32];
		time_t at;
	} logged[REFUSAL_SLOTS];             /* recent refusal log lines, per key */
	unsigned logged_next;                /* ring position in logged */
	time_t window_at;                    /* start of the current log minute */
	unsigned window_lines;               /* refusal lines logged in it */
	unsigned window_dropped;             /* refusals not logged in it */
};

int
auth_reload(struct auth *a)
{
	struct key_table t = { 0 };
	char revoked[AUTH_PATH_MAX + 16];
	if (s_table_scan(&t, a->keys_dir, KEY_ACTIVE) < 0) {
		log_warn("auth: cannot read keys_dir %s; keeping %u keys", a->keys_dir,
		    a->counters.keys);
		free(t.v);
		return -1;
	}
	snprintf(revoked, sizeof revoked, "%s/revoked", a->keys_dir);
	if (s_table_scan(&t, revoked, KEY_REVOKED) < 0 && errno != ENOENT)
		log_warn("auth: cannot read %s; keys revoked there stay unknown (refused)", revoked);
	unsigned active = s_table_finish(&t);
	free(a->keys.v);
	a->keys = t;
	a->counters.keys = active;
	log_info("auth: %u client keys active from %s (%zu revoked or refused, %u skipped)",
	    active, a->keys_dir, t.n - active, t.skipped);
	return (int)active;
}

struct auth *
auth_new(void *zmq_ctx, const char *keys_dir, char *err, size_t errlen)
{
	struct stat st;
	if (strlen(keys_dir) >= AUTH_PATH_MAX) {
		s_fail(err, errlen, "keys_dir too long");
		return NULL;
	}
	if (stat(keys_dir, &st) < 0) {
		s_fail(err, errlen, "keys_dir %s: %s", keys_dir, strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		s_fail(err, errlen, "keys_dir %s: not a directory", keys_dir);
		return NULL;
	}
	struct auth *a = calloc(1, sizeof *a);
	if (!a) {
		s_fail(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(a->keys_dir, sizeof a->keys_dir, "%s", keys_dir);
	int linger = 0;
	a->zap = zmq_socket(zmq_ctx, ZMQ_REP);
	if (!a->zap || zmq_setsockopt(a->zap, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
	    zmq_bind(a->zap, AUTH_ZAP_ENDPOINT) < 0) {
		s_fail(err, errlen, "ZAP handler %s: %s", AUTH_ZAP_ENDPOINT, zmq_strerror(errno));
		goto fail;
	}
	if (auth_reload(a) < 0) {
		s_fail(err, errlen, "keys_dir %s: %s", keys_dir, strerror(errno));
		goto fail;
	}
	return a;
fail:
	if (a->zap)
		zmq_close(a->zap);
	free(a);
	return NULL;
}

void
auth_destroy(struct auth **ap)
{
	if (!ap || !*ap)
		return;
	struct auth *a = *ap;
	zmq_close(a->zap);
	free(a->keys.v);
	free(a);
	*ap = NULL;
}

void *
auth_socket(struct auth *a)
{
	return a->zap;
}

void
auth_counters(const struct auth *a, struct auth_counters *out)
{
	*out = a->counters;
}

/* Should a refusal of this key be logged now? Once a minute per key, and
 * REFUSAL_LINES a minute in all, so neither a client retrying a revoked key
 * nor one trying many keys floods the journal. Every refusal is counted
 * (auth_counters); lines dropped by the cap are summed up with the first
 * refusal of a later minute. */
static bool
s_refusal_log_due(struct auth *a, const uint8_t pub[32])
{
	time_t now = (time_t)(now_mono_ms() / 1000);
	if (now == 0)
		now = 1;  /* 0 marks an empty slot */
	if (now - a->window_at >= REFUSAL_LOG_S) {
		if (a->window_dropped)
			log_warnx("auth: %u more refused handshakes in the last minute not logged",
			    a->window_dropped);
		a->window_at = now;
		a->window_lines = a->window_dropped = 0;
	}
	int slot = -1;
	for (int i = 0; i < REFUSAL_SLOTS; i++)
		if (a->logged[i].at && memcmp(a->logged[i].pub, pub, 32) == 0) {
			if (now - a->logged[i].at < REFUSAL_LOG_S)
				return false;
			slot = i;
			break;
		}
	if (a->window_lines >= REFUSAL_LINES) {
		a->window_dropped++;
		return false;
	}
	if (slot < 0)
		slot = (int)(a->logged_next++ % REFUSAL_SLOTS);
	memcpy(a->logged[slot].pub, pub, 32);
	a->logged[slot].at = now;
	a->window_lines++;
	return true;
}

/* A frame as a C string (truncated to len-1 bytes, NULs kept out). */
static void
s_frame_str(zmq_msg_t *m, char *buf, size_t len)
{
	size_t n = zmq_msg_size(m);
	if (n >= len)
		n = len - 1;
	memcpy(buf, zmq_msg_data(m), n);
	buf[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = '?';
}

/* Decide on one CURVE request; fills status, text and user_id. */
static const char *
s_decide(struct auth *a, const char *address, const uint8_t pub[32], char *user_id,
    size_t len)
{
	const struct auth_key *k = s_table_find(&a->keys, pub);
	char z85[AUTH_Z85_LEN + 1];
	zmq_z85_encode(z85, pub, 32);
	if (k && k->state == KEY_ACTIVE) {
		a->counters.accepted++;
		snprintf(user_id, len, "%s:%s:%s", auth_role_name(k->role), k->township, z85);
		log_debug("auth: key %s (%s %s) connected from %s", k->name,
		    auth_role_name(k->role), k->township, address);
		return NULL;
	}
	const char *why = !k ? "unknown key" :
	    k->state == KEY_REVOKED ? "revoked key" : "ambiguous key";
	if (!k || k->state == KEY_AMBIGUOUS)
		a->counters.refused_unknown++;
	else
		a->counters.refused_revoked++;
	if (s_refusal_log_due(a, pub))
		log_warnx("auth: refused %s %s%s%s from %s", why, z85, k ? " in file " : "",
		    k ? k->name : "", address);
	return why;
}

static int
s_send(void *s, const void *buf, size_t len, bool more)
{
	return zmq_send(s, buf, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* Receive one request (at most 7 frames kept) and answer it. Returns 1 if
 * answered, 0 if nothing was pending, -1 on socket failure. */
static int
s_handle_one(struct auth *a)
{
	enum { F_VERSION, F_REQID, F_DOMAIN, F_ADDRESS, F_IDENTITY, F_MECH, F_CRED, F_MAX };
	zmq_msg_t fr[F_MAX];
	int nfr = 0, more = 1, rc = -1;
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, a->zap, nfr == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&m);
			if (nfr == 0 && errno == EAGAIN)
				return 0;
			goto out;
		}
		more = zmq_msg_more(&m);
		if (nfr < F_MAX)
			fr[nfr++] = m;
		else
			zmq_msg_close(&m);
	}
	char version[8] = "", domain[64] = "", address[64] = "", mech[16] = "";
	char user_id[AUTH_USER_ID_MAX] = "";
	const char *status = "200", *text = "OK";
	if (nfr > F_VERSION) s_frame_str(&fr[F_VERSION], version, sizeof version);
	if (nfr > F_DOMAIN) s_frame_str(&fr[F_DOMAIN], domain, sizeof domain);
	if (nfr > F_ADDRESS) s_frame_str(&fr[F_ADDRESS], address, sizeof address);
	if (nfr > F_MECH) s_frame_str(&fr[F_MECH], mech, sizeof mech);
	if (nfr < F_MECH + 1 || strcmp(version, "1.0") != 0) {
		status = "500", text = "malformed ZAP request";
		a->counters.refused_other++;
	} else if (strcmp(domain, AUTH_ZAP_DOMAIN) != 0 || strcmp(mech, "CURVE") != 0) {
		status = "400", text = "CURVE in domain " AUTH_ZAP_DOMAIN " required";
		a->counters.refused_other++;
		log_debug("auth: refused %s in domain '%s' from %s", mech, domain, address);
	} else if (nfr != F_MAX || zmq_msg_size(&fr[F_CRED]) != 32) {
		status = "500", text = "malformed CURVE credentials";
		a->counters.refused_other++;
	} else {
		const char *why = s_decide(a, address, zmq_msg_data(&fr[F_CRED]), user_id,
		    sizeof user_id);
		if (why)
			status = "400", text = why;
	}
	const void *reqid = nfr > F_REQID ? zmq_msg_data(&fr[F_REQID]) : "";
	size_t reqid_len = nfr > F_REQID ? zmq_msg_size(&fr[F_REQID]) : 0;
	if (s_send(a->zap, "1.0", 3, true) < 0 ||
	    s_send(a->zap, reqid, reqid_len, true) < 0 ||
	    s_send(a->zap, status, 3, true) < 0 ||
	    s_send(a->zap, text, strlen(text), true) < 0 ||
	    s_send(a->zap, user_id, strlen(user_id), true) < 0 ||
	    s_send(a->zap, "", 0, false) < 0)
		goto out;
	rc = 1;
out:
	for (int i = 0; i < nfr; i++)
		zmq_msg_close(&fr[i]);
	return rc;
}

int
auth_handle(struct auth *a)
{
	int n = 0, rc;
	while ((rc = s_handle_one(a)) > 0)
		n++;
	return rc < 0 ? -1 : n;
}

bool
auth_principal_current(const struct auth *a, const struct principal *p)
{
	uint8_t pub[32];
	if (p->role == AUTH_ROLE_LOCAL)
		return true;
	if (!s_z85_key(p->key, pub))
		return false;
	const struct auth_key *k = s_table_find(&a->keys, pub);
	return k && k->state == KEY_ACTIVE && k->role == p->role &&
	    strcmp(k->township, p->township) == 0;
}

/* ================================================================ principals */

int
auth_principal_parse(const char *user_id, struct principal *out)
{
	char role[16];
	memset(out, 0, sizeof *out);
	if (!user_id)
		return -1;
	const char *c1 = strchr(user_id, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || (size_t)(c1 - user_id) >= sizeof role ||
	    (size_t)(c2 - c1 - 1) >= sizeof out->township)
		goto fail;
	snprintf(role, sizeof role, "%.*s", (int)(c1 - user_id), user_id);
	snprintf(out->township, sizeof out->township, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	out->role = auth_role_from_name(role);
	if (!s_z85_key(c2 + 1, NULL) ||
	    s_role_township_check(out->role, out->township, NULL, 0) < 0)
		goto fail;
	memcpy(out->key, c2 + 1, AUTH_Z85_LEN + 1);
	return 0;
fail:
	memset(out, 0, sizeof *out);
	return -1;
}

void
auth_principal_local(struct principal *out)
{
	memset(out, 0, sizeof *out);
	out->role = AUTH_ROLE_LOCAL;
}

/* ================================================================ authorisation */

const char *
auth_write_refusal(const struct principal *p, const char *township_id)
{
	switch (p ? p->role : AUTH_ROLE_NONE) {
	case AUTH_ROLE_COUNTY:
	case AUTH_ROLE_LOCAL:
		return NULL;
	case AUTH_ROLE_TOWNSHIP:
		return township_id && strcmp(township_id, p->township) == 0 ?
		    NULL : AUTH_CODE_WRONG_TOWNSHIP;
	case AUTH_ROLE_READER:
		return AUTH_CODE_READ_ONLY;
	case AUTH_ROLE_NONE:
		break;
	}
	return AUTH_CODE_NOT_AUTHENTICATED;
}

const char *
auth_query_refusal(const struct principal *p, const char *township_id)
{
	switch (p ? p->role : AUTH_ROLE_NONE) {
	case AUTH_ROLE_COUNTY:
	case AUTH_ROLE_LOCAL:
		return NULL;
	case AUTH_ROLE_READER:
	case AUTH_ROLE_TOWNSHIP:
		/* a township-bound reader sees what its township sees */
		if (p->role == AUTH_ROLE_READER && !p->township[0])
			return NULL;
		return township_id && strcmp(township_id, p->township) == 0 ?
		    NULL : AUTH_CODE_OUT_OF_SCOPE;
	case AUTH_ROLE_NONE:
		break;
	}
	return AUTH_CODE_NOT_AUTHENTICATED;
}

bool
auth_may_write(const struct principal *p, const char *township_id)
{
	return auth_write_refusal(p, township_id) == NULL;
}

bool
auth_may_query(const struct principal *p, const char *township_id)
{
	return auth_query_refusal(p, township_id) == NULL;
}

/* ================================================================ sockets */

bool
auth_endpoint_is_loopback(const char *endpoint)
{
	char host[256];
	if (!endpoint)
		return false;
	if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
		return true;
	if (strncmp(endpoint, "tcp://", 6) != 0 || strchr(endpoint, ';'))
		return false;
	const char *h = endpoint + 6, *end;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');  /* the port; an unbracketed v6 keeps its colons */
	}
	if (!end)
		end = h + strlen(h);
	if ((size_t)(end - h) >= sizeof host)
		return false;
	snprintf(host, sizeof host, "%.*s", (int)(end - h), h);
	char *zone = strchr(host, '%');
	if (zone)
		*zone = 0;
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "lo") == 0)
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (!strchr(host, ':') && inet_aton(host, &a4))
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

int
auth_server_setup(struct auth *a, void *socket, const char *server_key_path,
    char *err, size_t errlen)
{
	struct auth_cert c;
	int one = 1, rc = -1;
	if (!a || !a->zap)
		return s_fail(err, errlen, "no ZAP handler: every client would be let in");
	if (auth_server_key_load(server_key_path, false, &c, err, errlen) < 0)
		return -1;
	if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c.secret_key, AUTH_Z85_LEN + 1) < 0 ||
	    zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, AUTH_ZAP_DOMAIN, strlen(AUTH_ZAP_DOMAIN)) < 0) {
		s_fail(err, errlen, "CURVE server options: %s", zmq_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	memset(&c, 0, sizeof c);
	return rc;
}

int
auth_client_setup(void *socket, const char *client_secret_path,
    const char *server_public_path, char *err, size_t errlen)
{
	struct auth_cert me, server;
	int rc = -1;
	char sec[AUTH_PATH_MAX], pub[AUTH_PATH_MAX];
	if (s_pair_paths(client_secret_path, sec, pub, sizeof sec) < 0)
		return s_fail(err, errlen, "%s: path too long", client_secret_path);
	if (auth_cert_load(sec, &me, err, errlen) < 0 ||
	    auth_cert_load(server_public_path, &server, err, errlen) < 0)
		goto out;
	if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server.public_key, AUTH_Z85_LEN + 1) < 0 ||
	    zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, me.public_key, AUTH_Z85_LEN + 1) < 0 ||
	    zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, me.secret_key, AUTH_Z85_LEN + 1) < 0) {
		s_fail(err, errlen, "CURVE client options: %s", zmq_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	memset(&me, 0, sizeof me);
	memset(&server, 0, sizeof server);
	return rc;
}
