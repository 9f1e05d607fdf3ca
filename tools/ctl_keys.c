/*
 * jicengctl keygen and keys: make CURVE key pairs, and list, show and revoke
 * the client keys in keys_dir. The file format, the key directory's rules
 * and what the daemon accepts are lib/auth's; this file only talks to the
 * operator. Nothing here touches a running daemon: after a change the
 * operator runs `systemctl reload jicengd` (SIGHUP rereads the keys).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ctl.h"

#define DEFAULT_CONFIG "/etc/jiceng/jiceng.conf"

/* ================================================================ keygen */

static void
s_keygen_help(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl keygen --township T [--role township|reader] --out DIR [--name N]\n"
	    "       jicengctl keygen --role county|reader --out DIR [--name N]\n"
	    "       jicengctl keygen --server --out DIR [--name server]\n"
	    "\n"
	    "Write a CURVE key pair in zcert format: DIR/N.key (public, 0644) and\n"
	    "DIR/N.key_secret (secret, 0600). Existing files are never overwritten.\n"
	    "\n"
	    "  --township T  the township's 12-digit area code ending in 000\n"
	    "                (role township: required; role reader: limits it to T)\n"
	    "  --role R      township (default with --township), county, or reader\n"
	    "                (queries only)\n"
	    "  --name N      file name, [A-Za-z0-9._-]; default: the township code,\n"
	    "                or the role\n"
	    "  --server      the server's key pair (no role); point [security]\n"
	    "                server_key at DIR/N.key_secret\n"
	    "  --out DIR     where to write (created 0700 if missing)\n"
	    "\n"
	    "A client key: copy N.key into keys_dir on the server and run\n"
	    "'systemctl reload jicengd'; give N.key_secret and the server's public\n"
	    "server.key to the client over a trusted channel.\n");
}

static int
s_mkdir_out(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		fprintf(stderr, "jicengctl keygen: %s is not a directory\n", dir);
		return -1;
	}
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr, "jicengctl keygen: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
ctl_keygen_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "township", required_argument, NULL, 't' },
		{ "role", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "server", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *township = NULL, *role = NULL, *out = NULL, *name = NULL;
	bool server = false;
	int ch;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "t:r:o:n:sh", opts, NULL)) != -1) {
		switch (ch) {
		case 't': township = optarg; break;
		case 'r': role = optarg; break;
		case 'o': out = optarg; break;
		case 'n': name = optarg; break;
		case 's': server = true; break;
		case 'h': s_keygen_help(stdout); return CTL_EXIT_OK;
		default: return ctl_usage_error("keygen", "bad option");
		}
	}
	if (optind < argc)
		return ctl_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
	if (!out)
		return ctl_usage_error("keygen", "--out DIR is required");
	if (server && (township || role))
		return ctl_usage_error("keygen", "--server takes no --township or --role");

	struct auth_cert c = { .role = AUTH_ROLE_NONE };
	char err[1200] = "";
	if (!server) {
		if (!role)
			role = township ? "township" : NULL;
		if (!role)
			return ctl_usage_error("keygen", "--role or --township is required");
		c.role = auth_role_from_name(role);
		if (c.role == AUTH_ROLE_NONE)
			return ctl_usage_error("keygen", "role '%s': use township, county or reader", role);
		if (township && strlen(township) >= sizeof c.township)
			return ctl_usage_error("keygen", "township '%s': 12 digits ending in 000", township);
		snprintf(c.township, sizeof c.township, "%s", township ? township : "");
	}
	if (!name)
		name = server ? "server" : c.township[0] ? c.township : role;
	if (strlen(name) >= sizeof c.name || !auth_key_name_valid(name))
		return ctl_usage_error("keygen", "name '%s': use 1-%d of [A-Za-z0-9._-], not starting with . or -",
		    name, AUTH_NAME_MAX);
	snprintf(c.name, sizeof c.name, "%s", name);
	if (auth_cert_generate(&c, err, sizeof err) < 0 ||
	    (!server && auth_cert_check(&c, err, sizeof err) < 0)) {
		memset(&c, 0, sizeof c);
		return ctl_usage_error("keygen", "%s", err);
	}
	if (s_mkdir_out(out) < 0) {
		memset(&c, 0, sizeof c);
		return CTL_EXIT_FAIL;
	}
	if (auth_cert_save(&c, out, err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl keygen: %s\n", err);
		memset(&c, 0, sizeof c);
		return CTL_EXIT_FAIL;
	}
	printf("wrote %s/%s.key (public) and %s/%s.key_secret (secret, mode 0600)\n",
	    out, c.name, out, c.name);
	printf("public key: %s\n", c.public_key);
	if (server)
		printf("next: set [security] server_key = %s/%s.key_secret, make it readable by\n"
		    "      the daemon only (chown jiceng:jiceng, or root:jiceng with mode 0640),\n"
		    "      and give %s.key (public) to every client\n", out, c.name, c.name);
	else
		printf("next: copy %s.key into keys_dir on the server, run 'systemctl reload jicengd';\n"
		    "      give %s.key_secret and the server's server.key to the %s client\n",
		    c.name, c.name, auth_role_name(c.role));
	memset(&c, 0, sizeof c);
	return CTL_EXIT_OK;
}

/* ================================================================ keys */

static void
s_keys_help(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl keys list [--keys-dir DIR] [--config FILE]\n"
	    "       jicengctl keys show NAME [--keys-dir DIR] [--config FILE]\n"
	    "       jicengctl keys revoke NAME [--keys-dir DIR] [--config FILE]\n"
	    "\n"
	    "The client keys of keys_dir (default: [security] keys_dir of the config,\n"
	    DEFAULT_CONFIG " if it exists). list shows every key file with\n"
	    "what the daemon makes of it: active, revoked (in keys_dir/revoked/),\n"
	    "refused (the same key is also revoked, or in two files) or invalid.\n"
	    "revoke moves NAME.key to keys_dir/revoked/; then run\n"
	    "'systemctl reload jicengd': the daemon refuses new connections with the\n"
	    "key and every message on connections it already had.\n");
}

/* One key file as the operator sees it. */
struct row {
	char file[AUTH_NAME_MAX + 16];   /* name as in the directory */
	struct auth_cert c;              /* role NONE when invalid */
	bool in_revoked;                 /* found in keys_dir/revoked/ */
	char status[120];                /* active, revoked, REFUSED ..., INVALID */
	char error[1200];                /* why INVALID: "path: why" */
};

struct listing {
	struct row *v;
	size_t n, cap;
	bool in_revoked;                 /* the directory being walked */
};

static int
s_list_one(void *arg, const char *path, const struct auth_cert *c, const char *error)
{
	struct listing *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct row *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	struct row *r = &l->v[l->n++];
	const char *base = strrchr(path, '/');
	memset(r, 0, sizeof *r);
	snprintf(r->file, sizeof r->file, "%s", base ? base + 1 : path);
	r->in_revoked = l->in_revoked;
	if (c) {
		r->c = *c;
		memset(r->c.secret_key, 0, sizeof r->c.secret_key);
		snprintf(r->status, sizeof r->status, "%s", l->in_revoked ? "revoked" : "active");
	} else {
		snprintf(r->status, sizeof r->status, "INVALID");
		snprintf(r->error, sizeof r->error, "%s", error);
	}
	return 0;
}

static int
s_row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->in_revoked != y->in_revoked)
		return x->in_revoked - y->in_revoked;
	return strcmp(x->file, y->file);
}

/* Mark what the ZAP handler refuses although the file is fine: an active
 * key also in revoked/, or in two active files. */
static void
s_mark_refused(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct row *r = &l->v[i];
		if (r->in_revoked || !r->c.public_key[0])
			continue;
		for (size_t j = 0; j < l->n; j++) {
			const struct row *o = &l->v[j];
			if (j == i || strcmp(o->c.public_key, r->c.public_key) != 0)
				continue;
			snprintf(r->status, sizeof r->status, "REFUSED: same key as %s%s",
			    o->in_revoked ? "revoked/" : "", o->file);
			break;
		}
	}
}

/* Read keys_dir and keys_dir/revoked into l, sorted. */
static int
s_listing(const char *keys_dir, struct listing *l)
{
	char revoked[CONFIG_PATH_MAX + 16];
	if (auth_keys_walk(keys_dir, s_list_one, l) < 0) {
		fprintf(stderr, "jicengctl keys: %s: %s\n", keys_dir, strerror(errno));
		return -1;
	}
	snprintf(revoked, sizeof revoked, "%s/revoked", keys_dir);
	l->in_revoked = true;
	if (auth_keys_walk(revoked, s_list_one, l) < 0 && errno != ENOENT) {
		fprintf(stderr, "jicengctl keys: %s: %s\n", revoked, strerror(errno));
		return -1;
	}
	s_mark_refused(l);
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, s_row_cmp);
	return 0;
}

static int
s_keys_list(const char *keys_dir)
{
	struct listing l = { 0 };
	int width = 4;
	if (s_listing(keys_dir, &l) < 0) {
		free(l.v);
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < l.n; i++) {
		int n = (int)strlen(l.v[i].file) + (l.v[i].in_revoked ? 8 : 0);
		if (n > width)
			width = n;
	}
	printf("%-*s  %-8s  %-12s  %-40s  %s\n", width, "FILE", "ROLE", "TOWNSHIP",
	    "PUBLIC KEY", "STATUS");
	for (size_t i = 0; i < l.n; i++) {
		const struct row *r = &l.v[i];
		char file[AUTH_NAME_MAX + 32];
		snprintf(file, sizeof file, "%s%s", r->in_revoked ? "revoked/" : "", r->file);
		printf("%-*s  %-8s  %-12s  %-40s  %s\n", width, file,
		    r->c.public_key[0] ? auth_role_name(r->c.role) : "-",
		    r->c.township[0] ? r->c.township : "-",
		    r->c.public_key[0] ? r->c.public_key : "-", r->status);
	}
	if (l.n == 0)
		printf("(no keys in %s)\n", keys_dir);
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].error[0])
			fprintf(stderr, "jicengctl keys: %s\n", l.v[i].error);
	free(l.v);
	return CTL_EXIT_OK;
}

static int
s_keys_show(const char *keys_dir, const char *name)
{
	struct listing l = { 0 };
	char file[AUTH_NAME_MAX + 16];
	int rc = CTL_EXIT_NOT_FOUND;
	snprintf(file, sizeof file, "%s.key", name);
	if (s_listing(keys_dir, &l) < 0) {
		free(l.v);
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct row *r = &l.v[i];
		if (strcmp(r->file, file) != 0)
			continue;
		printf("file:       %s/%s%s\n", keys_dir, r->in_revoked ? "revoked/" : "", r->file);
		printf("role:       %s\n", r->c.public_key[0] ? auth_role_name(r->c.role) : "-");
		printf("township:   %s\n", r->c.township[0] ? r->c.township : "-");
		printf("public key: %s\n", r->c.public_key[0] ? r->c.public_key : "-");
		printf("status:     %s\n", r->error[0] ? r->error : r->status);
		rc = CTL_EXIT_OK;
	}
	if (rc != CTL_EXIT_OK)
		fprintf(stderr, "jicengctl keys: no key %s in %s\n", name, keys_dir);
	free(l.v);
	return rc;
}

static int
s_keys_revoke(const char *keys_dir, const char *name)
{
	char from[CONFIG_PATH_MAX + AUTH_NAME_MAX + 16], dir[CONFIG_PATH_MAX + 16];
	char to[sizeof dir + AUTH_NAME_MAX + 64], err[1200];
	struct auth_cert c;
	snprintf(from, sizeof from, "%s/%s.key", keys_dir, name);
	snprintf(dir, sizeof dir, "%s/revoked", keys_dir);
	if (access(from, F_OK) < 0) {
		fprintf(stderr, "jicengctl keys: no key %s in %s\n", name, keys_dir);
		return CTL_EXIT_NOT_FOUND;
	}
	bool loaded = auth_cert_load(from, &c, err, sizeof err) == 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "jicengctl keys: %s: %s\n", dir, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	snprintf(to, sizeof to, "%s/%s.key", dir, name);
	if (access(to, F_OK) == 0) {  /* an earlier key of the same name */
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
		snprintf(to, sizeof to, "%s/%s-%s.key", dir, name, stamp);
	}
	if (rename(from, to) < 0) {
		fprintf(stderr, "jicengctl keys: cannot move %s to %s: %s\n", from, to,
		    strerror(errno));
		return CTL_EXIT_FAIL;
	}
	printf("revoked %s: moved to %s\n", name, to);
	if (loaded)
		printf("  %s %s, public key %s\n", auth_role_name(c.role),
		    c.township[0] ? c.township : "(county-wide)", c.public_key);
	printf("Run 'systemctl reload jicengd' now: until the daemon rereads its keys, the key\n"
	    "still works. After the reload it refuses new connections with it and every\n"
	    "message on connections already open.\n");
	return CTL_EXIT_OK;
}

/* keys_dir: --keys-dir, else from --config, else from the default config
 * file if there is one, else the built-in default. */
static int
s_keys_dir(const char *opt, const char *config_path, char *out, size_t len)
{
	struct config cfg;
	char err[600];
	if (opt) {
		snprintf(out, len, "%s", opt);
		return 0;
	}
	config_defaults(&cfg);
	if (!config_path && access(DEFAULT_CONFIG, R_OK) == 0)
		config_path = DEFAULT_CONFIG;
	if (config_path && config_load(&cfg, config_path, err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl keys: %s\n", err);
		return -1;
	}
	snprintf(out, len, "%s", cfg.keys_dir);
	return 0;
}

int
ctl_keys_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keys-dir", required_argument, NULL, 'k' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *keys_opt = NULL, *config_path = NULL;
	char keys_dir[CONFIG_PATH_MAX], bare[AUTH_NAME_MAX + 1];
	int ch;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': keys_opt = optarg; break;
		case 'c': config_path = optarg; break;
		case 'h': s_keys_help(stdout); return CTL_EXIT_OK;
		default: return ctl_usage_error("keys", "bad option");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("keys", "list, show NAME or revoke NAME?");
	const char *verb = argv[optind++], *name = optind < argc ? argv[optind++] : NULL;
	if (optind < argc)
		return ctl_usage_error("keys", "unexpected argument '%s'", argv[optind]);
	bool needs_name = strcmp(verb, "show") == 0 || strcmp(verb, "revoke") == 0;
	if (strcmp(verb, "list") != 0 && !needs_name)
		return ctl_usage_error("keys", "unknown action '%s' (list, show, revoke)", verb);
	if (needs_name && !name)
		return ctl_usage_error("keys", "%s needs a key NAME (see 'jicengctl keys list')", verb);
	if (!needs_name && name)
		return ctl_usage_error("keys", "list takes no NAME");
	if (name) {
		size_t n = strlen(name);
		if (n > 4 && strcmp(name + n - 4, ".key") == 0)
			n -= 4;  /* accept the file name too */
		if (n > AUTH_NAME_MAX)
			return ctl_usage_error("keys", "no such key name '%s'", name);
		snprintf(bare, sizeof bare, "%.*s", (int)n, name);
		if (!auth_key_name_valid(bare))
			return ctl_usage_error("keys", "no such key name '%s'", name);
		name = bare;
	}
	if (s_keys_dir(keys_opt, config_path, keys_dir, sizeof keys_dir) < 0)
		return CTL_EXIT_FAIL;
	if (strcmp(verb, "list") == 0)
		return s_keys_list(keys_dir);
	if (strcmp(verb, "show") == 0)
		return s_keys_show(keys_dir, name);
	return s_keys_revoke(keys_dir, name);
}
