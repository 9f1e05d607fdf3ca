/*
 * config: the embedded defaults and the INI-style file parser. Every key is
 * one row of s_keys; a file may name only keys in that table.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char s_default_text[] =
    "# jiceng default configuration (embedded; a file overrides what it names)\n"
    "[daemon]\n"
    "data_dir = /var/lib/jiceng\n"
    "# run_dir = <data_dir>/run\n"
    "# derived_dir = /dev/shm/jiceng-<hash of data_dir>   (ids.mdb and state/, in\n"
    "#     memory: restored from checkpoints and the journal when missing; may be\n"
    "#     another disk, or data_dir to keep them beside the journal)\n"
    "ingest = tcp://127.0.0.1:7400\n"
    "status = tcp://127.0.0.1:7401\n"
    "query = tcp://127.0.0.1:7402\n"
    "workers = membership, meetings, funds\n"
    "# townships = 320123    (the county's 6-digit code, or its townships' 12-digit\n"
    "#                        codes; unset: any well-formed township code is taken)\n"
    "max_backlog = 50000\n"
    "backlog_pause_ms = 1000\n"
    "max_batch = 1024\n"
    "commit_interval_us = 1000\n"
    "journal_map_mb = 256\n"
    "journal_map_max_mb = 65536\n"
    "journal_fill_ahead_mb = 32\n"
    "state_map_mb = 4096\n"
    "quarantine_after = 3\n"
    "heartbeat_ms = 1000\n"
    "# id_key_file = <data_dir>/id-index.key\n"
    "checkpoint_interval_s = 600\n"
    "# checkpoint_dir = <data_dir>/checkpoint   (copies of the workers' state, taken\n"
    "#                   only when derived_dir is apart from data_dir; 0 s: none)\n"
    "\n[security]\n"
    "curve = auto\n"
    "keys_dir = /etc/jiceng/keys\n"
    "server_key = /etc/jiceng/server.key_secret\n"
    "\n[metrics]\n"
    "# textfile = /var/lib/prometheus/node-exporter/jiceng.prom\n"
    "interval_s = 15\n"
    "\n[rules]\n"
    "org.min_full_members_days = 90\n"
    "org.branch_max_members = 50\n"
    "org.village_committee_members = 100\n"
    "member.min_admission_age = 18\n"
    "member.inactive_months = 6\n"
    "transfer.max_valid_days = 90\n"
    "transfer.receipt_days = 30\n"
    "mobile.lost_contact_months = 6\n"
    "mobile.fixed_place_months = 6\n"
    "funds.max_single_fen = 10000000\n"
    "funds.activity_per_member_min_fen = 6000\n"
    "dues.max_months_back = 6\n"
    "status.retention_days = 30\n"
    "status.retention_changes = 1000000\n"
    "meetings.assembly_per_quarter = 1\n"
    "meetings.committee_per_month = 1\n"
    "meetings.group_per_month = 1\n"
    "meetings.lecture_per_quarter = 1\n"
    "meetings.themed_day_per_month = 1\n"
    "meetings.org_life_per_year = 1\n"
    "meetings.appraisal_per_year = 1\n"
    "\n[mirror]\n"
    "enabled = false\n"
    "servers = nats://127.0.0.1:4222\n"
    "stream = JICENG\n"
    "subject_prefix = jiceng.county\n"
    "replicas = 1\n"
    "lag_warn_events = 10000\n"
    "# creds_file = /etc/jiceng/nats.creds\n"
    "# nkey_seed_file = /etc/jiceng/nats.nk\n"
    "# tls_ca_file = /etc/jiceng/nats-ca.pem\n"
    "# tls_cert_file = /etc/jiceng/nats-client.pem\n"
    "# tls_key_file = /etc/jiceng/nats-client.key\n"
    "\n[standby]\n"
    "# A standby builds its journal from the mirror's stream (jicengd --follow)\n"
    "enabled = false\n"
    "servers = nats://127.0.0.1:4222\n"
    "stream = JICENG\n"
    "subject_prefix = jiceng.county\n"
    "# primary = jiceng-1.county.example   (named to townships that send here)\n"
    "# creds_file = /etc/jiceng/nats.creds\n"
    "# nkey_seed_file = /etc/jiceng/nats.nk\n"
    "# tls_ca_file = /etc/jiceng/nats-ca.pem\n"
    "# tls_cert_file = /etc/jiceng/nats-client.pem\n"
    "# tls_key_file = /etc/jiceng/nats-client.key\n";

enum kind { K_STR, K_U32, K_U64, K_I64, K_WORKERS, K_CURVE, K_TOWNSHIPS, K_BOOL,
	K_NATS_NAME, K_NATS_PREFIX };

#define OFF(f) offsetof(struct config, f)
#define ROFF(f) (offsetof(struct config, rules) + offsetof(Rules, f))

static const struct {
	const char *sec, *key;
	enum kind kind;
	size_t off, size;
	uint64_t min, max;
} s_keys[] = {
	{ "daemon", "data_dir", K_STR, OFF(data_dir), CONFIG_PATH_MAX, 0, 0 },
	{ "daemon", "run_dir", K_STR, OFF(run_dir), CONFIG_PATH_MAX, 0, 0 },
	{ "daemon", "derived_dir", K_STR, OFF(derived_dir), CONFIG_PATH_MAX, 0, 0 },
	{ "daemon", "ingest", K_STR, OFF(ingest), 256, 0, 0 },
	{ "daemon", "status", K_STR, OFF(status), 256, 0, 0 },
	{ "daemon", "query", K_STR, OFF(query), 256, 0, 0 },
	{ "daemon", "workers", K_WORKERS, OFF(workers), 0, 0, 0 },
	{ "daemon", "townships", K_TOWNSHIPS, OFF(townships), 0, 0, 0 },
	{ "daemon", "max_backlog", K_U64, OFF(max_backlog), 0, 1, 100000000 },
	{ "daemon", "backlog_pause_ms", K_U32, OFF(backlog_pause_ms), 0, 0, 600000 },
	{ "daemon", "max_batch", K_U32, OFF(max_batch), 0, 1, 65536 },
	{ "daemon", "commit_interval_us", K_U32, OFF(commit_interval_us), 0, 0, 1000000 },
	{ "daemon", "journal_map_mb", K_U64, OFF(journal_map_mb), 0, 1, 1u << 24 },
	{ "daemon", "journal_map_max_mb", K_U64, OFF(journal_map_max_mb), 0, 1, 1u << 24 },
	{ "daemon", "journal_fill_ahead_mb", K_U32, OFF(journal_fill_ahead_mb), 0, 0, 4096 },
	{ "daemon", "state_map_mb", K_U64, OFF(state_map_mb), 0, 1, 1u << 24 },
	{ "daemon", "quarantine_after", K_U32, OFF(quarantine_after), 0, 1, 100 },
	{ "daemon", "heartbeat_ms", K_U32, OFF(heartbeat_ms), 0, 50, 60000 },
	{ "daemon", "id_key_file", K_STR, OFF(id_key_file), CONFIG_PATH_MAX, 0, 0 },
	{ "daemon", "checkpoint_interval_s", K_U32, OFF(checkpoint_interval_s), 0, 0, 604800 },
	{ "daemon", "checkpoint_dir", K_STR, OFF(checkpoint_dir), CONFIG_PATH_MAX, 0, 0 },
	{ "security", "curve", K_CURVE, OFF(curve), 0, 0, 0 },
	{ "security", "keys_dir", K_STR, OFF(keys_dir), CONFIG_PATH_MAX, 0, 0 },
	{ "security", "server_key", K_STR, OFF(server_key), CONFIG_PATH_MAX, 0, 0 },
	{ "metrics", "textfile", K_STR, OFF(metrics_textfile), CONFIG_PATH_MAX, 0, 0 },
	{ "metrics", "interval_s", K_U32, OFF(metrics_interval_s), 0, 1, 86400 },
	{ "rules", "org.min_full_members_days", K_U32, ROFF(org_min_full_members_days), 0, 1, 3650 },
	{ "rules", "org.branch_max_members", K_U32, ROFF(org_branch_max_members), 0, 3, 100000 },
	{ "rules", "org.village_committee_members", K_U32, ROFF(org_village_committee_members), 0, 3, 100000 },
	{ "rules", "member.min_admission_age", K_U32, ROFF(member_min_admission_age), 0, 14, 30 },
	{ "rules", "member.inactive_months", K_U32, ROFF(member_inactive_months), 0, 1, 120 },
	{ "rules", "transfer.max_valid_days", K_U32, ROFF(transfer_max_valid_days), 0, 1, 3650 },
	{ "rules", "transfer.receipt_days", K_U32, ROFF(transfer_receipt_days), 0, 1, 3650 },
	{ "rules", "mobile.lost_contact_months", K_U32, ROFF(mobile_lost_contact_months), 0, 1, 120 },
	{ "rules", "mobile.fixed_place_months", K_U32, ROFF(mobile_fixed_place_months), 0, 1, 120 },
	{ "rules", "funds.max_single_fen", K_I64, ROFF(funds_max_single_fen), 0, 1, 100000000000ull },
	{ "rules", "funds.activity_per_member_min_fen", K_I64, ROFF(funds_activity_per_member_min_fen), 0, 0, 100000000000ull },
	{ "rules", "dues.max_months_back", K_U32, ROFF(dues_max_months_back), 0, 1, 120 },
	{ "rules", "status.retention_days", K_U32, ROFF(status_retention_days), 0, 1, 36500 },
	{ "rules", "status.retention_changes", K_U32, ROFF(status_retention_changes), 0, 1000, 1000000000 },
	{ "rules", "meetings.assembly_per_quarter", K_U32, ROFF(meetings_assembly_per_quarter), 0, 1, 31 },
	{ "rules", "meetings.committee_per_month", K_U32, ROFF(meetings_committee_per_month), 0, 1, 31 },
	{ "rules", "meetings.group_per_month", K_U32, ROFF(meetings_group_per_month), 0, 1, 31 },
	{ "rules", "meetings.lecture_per_quarter", K_U32, ROFF(meetings_lecture_per_quarter), 0, 1, 31 },
	{ "rules", "meetings.themed_day_per_month", K_U32, ROFF(meetings_themed_day_per_month), 0, 1, 31 },
	{ "rules", "meetings.org_life_per_year", K_U32, ROFF(meetings_org_life_per_year), 0, 1, 31 },
	{ "rules", "meetings.appraisal_per_year", K_U32, ROFF(meetings_appraisal_per_year), 0, 1, 31 },
	{ "mirror", "enabled", K_BOOL, OFF(mirror_enabled), 0, 0, 0 },
	{ "mirror", "servers", K_STR, OFF(mirror_servers), 512, 0, 0 },
	{ "mirror", "stream", K_NATS_NAME, OFF(mirror_stream), 64, 0, 0 },
	{ "mirror", "subject_prefix", K_NATS_PREFIX, OFF(mirror_subject_prefix), 128, 0, 0 },
	{ "mirror", "replicas", K_U32, OFF(mirror_replicas), 0, 1, 5 },
	{ "mirror", "lag_warn_events", K_U64, OFF(mirror_lag_warn_events), 0, 1, 1000000000 },
	{ "mirror", "creds_file", K_STR, OFF(mirror_creds_file), CONFIG_PATH_MAX, 0, 0 },
	{ "mirror", "nkey_seed_file", K_STR, OFF(mirror_nkey_seed_file), CONFIG_PATH_MAX, 0, 0 },
	{ "mirror", "tls_ca_file", K_STR, OFF(mirror_tls_ca_file), CONFIG_PATH_MAX, 0, 0 },
	{ "mirror", "tls_cert_file", K_STR, OFF(mirror_tls_cert_file), CONFIG_PATH_MAX, 0, 0 },
	{ "mirror", "tls_key_file", K_STR, OFF(mirror_tls_key_file), CONFIG_PATH_MAX, 0, 0 },
	{ "standby", "enabled", K_BOOL, OFF(standby_enabled), 0, 0, 0 },
	{ "standby", "servers", K_STR, OFF(standby_servers), 512, 0, 0 },
	{ "standby", "stream", K_NATS_NAME, OFF(standby_stream), 64, 0, 0 },
	{ "standby", "subject_prefix", K_NATS_PREFIX, OFF(standby_subject_prefix), 128, 0, 0 },
	{ "standby", "primary", K_STR, OFF(standby_primary), 128, 0, 0 },
	{ "standby", "creds_file", K_STR, OFF(standby_creds_file), CONFIG_PATH_MAX, 0, 0 },
	{ "standby", "nkey_seed_file", K_STR, OFF(standby_nkey_seed_file), CONFIG_PATH_MAX, 0, 0 },
	{ "standby", "tls_ca_file", K_STR, OFF(standby_tls_ca_file), CONFIG_PATH_MAX, 0, 0 },
	{ "standby", "tls_cert_file", K_STR, OFF(standby_tls_cert_file), CONFIG_PATH_MAX, 0, 0 },
	{ "standby", "tls_key_file", K_STR, OFF(standby_tls_key_file), CONFIG_PATH_MAX, 0, 0 },
};

#define NKEYS (sizeof s_keys / sizeof s_keys[0])

static int
s_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a, b);
	return -1;
}

static int
s_set_workers(bool *w, const char *value, char *err, size_t errlen)
{
	char buf[128], *save = NULL;
	snprintf(buf, sizeof buf, "%s", value);
	memset(w, 0, sizeof(bool) * DOMAIN_COUNT);
	for (char *t = strtok_r(buf, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		enum domain d = codec_domain_from_name(t);
		if (d == DOMAIN_NONE)
			return s_err(err, errlen, "unknown worker domain '%s'%s (known: membership, meetings, funds)", t, "");
		w[d] = true;
	}
	if (!w[DOMAIN_MEMBERSHIP])
		return s_err(err, errlen, "workers must include membership%s%s", "", "");
	return 0;
}

static bool
s_county_code(const char *s)
{
	return strlen(s) == 6 && strspn(s, "0123456789") == 6;
}

static int
s_set_townships(struct config *c, const char *value, char *err, size_t errlen)
{
	char *buf = strdup(value), *save = NULL;
	if (!buf)
		return s_err(err, errlen, "townships: out of memory%s%s", "", "");
	c->ntownships = 0;
	for (char *t = strtok_r(buf, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
		int rc = 0;
		if (!s_county_code(t) && !codec_township_valid(t))
			rc = s_err(err, errlen, "townships: '%s' is neither a 6-digit county code nor a "
			    "12-digit township code ending in 000%s", t, "");
		else if (c->ntownships == CONFIG_MAX_TOWNSHIPS)
			rc = s_err(err, errlen, "townships: more than 256 codes (name the county's 6-digit "
			    "code instead)%s%s", "", "");
		if (rc) {
			free(buf);
			return rc;
		}
		snprintf(c->townships[c->ntownships++], sizeof c->townships[0], "%s", t);
	}
	free(buf);
	return 0;
}

/* A NATS name token: 1+ bytes of [A-Za-z0-9_-]. With dots, a subject
 * prefix: such tokens joined by single dots. */
static bool
s_nats_token_chars(const char *s, bool dots)
{
	const char *ok = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	if (!*s || *s == '.')
		return false;
	for (const char *p = s; *p; p++) {
		if (dots && *p == '.') {
			if (p[1] == 0 || p[1] == '.')
				return false;
		} else if (!strchr(ok, *p)) {
			return false;
		}
	}
	return true;
}

static int
s_set_bool(bool *p, const char *key, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "on") == 0)
		*p = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "off") == 0)
		*p = false;
	else
		return s_err(err, errlen, "%s: must be true or false, not '%s'", key, value);
	return 0;
}

bool
config_township_known(const struct config *c, const char *township)
{
	if (c->ntownships == 0)
		return true;
	for (unsigned i = 0; i < c->ntownships; i++) {
		size_t n = strlen(c->townships[i]);
		if (strncmp(c->townships[i], township, n) == 0 && (n == 6 || township[n] == 0))
			return true;
	}
	return false;
}

int
config_set(struct config *c, const char *sec, const char *key, const char *value,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(s_keys[i].sec, sec) || strcmp(s_keys[i].key, key))
			continue;
		char *p = (char *)c + s_keys[i].off, *end;
		unsigned long long v;
		switch (s_keys[i].kind) {
		case K_STR:
			if (strlen(value) >= s_keys[i].size)
				return s_err(err, errlen, "%s: value too long%s", key, "");
			snprintf(p, s_keys[i].size, "%s", value);
			return 0;
		case K_WORKERS:
			return s_set_workers((bool *)p, value, err, errlen);
		case K_TOWNSHIPS:
			return s_set_townships(c, value, err, errlen);
		case K_BOOL:
			return s_set_bool((bool *)p, key, value, err, errlen);
		case K_NATS_NAME:
		case K_NATS_PREFIX:
			if (!s_nats_token_chars(value, s_keys[i].kind == K_NATS_PREFIX))
				return s_err(err, errlen, s_keys[i].kind == K_NATS_PREFIX ?
				    "%s: '%s' is not a subject prefix (tokens of A-Z a-z 0-9 _ - joined by dots)" :
				    "%s: '%s' is not a stream name (A-Z a-z 0-9 _ - only)", key, value);
			if (strlen(value) >= s_keys[i].size)
				return s_err(err, errlen, "%s: value too long%s", key, "");
			snprintf(p, s_keys[i].size, "%s", value);
			return 0;
		case K_CURVE:
			if (strcmp(value, "auto") == 0) *(enum curve_mode *)p = CURVE_AUTO;
			else if (strcmp(value, "on") == 0) *(enum curve_mode *)p = CURVE_ON;
			else if (strcmp(value, "off") == 0) *(enum curve_mode *)p = CURVE_OFF;
			else return s_err(err, errlen, "%s: must be auto, on or off, not '%s'", key, value);
			return 0;
		default:
			errno = 0;
			v = strtoull(value, &end, 10);
			if (errno || end == value || *end || value[0] == '-')
				return s_err(err, errlen, "%s: '%s' is not a whole number", key, value);
			if (v < s_keys[i].min || v > s_keys[i].max) {
				char range[96];
				snprintf(range, sizeof range, "%s: out of range %" PRIu64 "..%" PRIu64,
				    key, s_keys[i].min, s_keys[i].max);
				return s_err(err, errlen, "%s%s", range, "");
			}
			if (s_keys[i].kind == K_U32) *(uint32_t *)p = (uint32_t)v;
			else if (s_keys[i].kind == K_U64) *(uint64_t *)p = v;
			else *(int64_t *)p = (int64_t)v;
			return 0;
		}
	}
	return s_err(err, errlen, "unknown setting [%s] %s", sec, key);
}

static char *
s_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Parse text (a whole file); name is used in messages. */
static int
s_parse(struct config *c, const char *name, char *text, char *err, size_t errlen)
{
	char sec[32] = "", *save = NULL, msg[256];
	int lineno = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *s = s_trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1]) {
				snprintf(err, errlen, "%s:%d: bad section header", name, lineno);
				return -1;
			}
			*e = 0;
			snprintf(sec, sizeof sec, "%s", s_trim(s + 1));
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", name, lineno);
			return -1;
		}
		*eq = 0;
		if (config_set(c, sec, s_trim(s), s_trim(eq + 1), msg, sizeof msg) < 0) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
			return -1;
		}
	}
	return 0;
}

void
config_defaults(struct config *c)
{
	char err[256], *text = strdup(s_default_text);
	memset(c, 0, sizeof *c);
	rules_defaults(&c->rules);
	if (!text || s_parse(c, "(embedded)", text, err, sizeof err) < 0)
		abort();  /* the embedded text is wrong: a build bug */
	free(text);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		snprintf(err, errlen, "%s: cannot read", path);
		return -1;
	}
	int rc = s_parse(c, path, text, err, errlen);
	free(text);
	return rc;
}

void
config_finish(struct config *c)
{
	if (!c->run_dir[0])
		snprintf(c->run_dir, sizeof c->run_dir, "%.*s/run", CONFIG_PATH_MAX - 8, c->data_dir);
	if (!c->derived_dir[0])
		config_default_derived_dir(c->data_dir, c->derived_dir, sizeof c->derived_dir);
	if (!c->id_key_file[0])
		snprintf(c->id_key_file, sizeof c->id_key_file, "%.*s/id-index.key",
		    CONFIG_PATH_MAX - 16, c->data_dir);
	if (!c->checkpoint_dir[0])
		snprintf(c->checkpoint_dir, sizeof c->checkpoint_dir, "%.*s/checkpoint",
		    CONFIG_PATH_MAX - 16, c->data_dir);
	if (c->journal_map_max_mb < c->journal_map_mb)
		c->journal_map_max_mb = c->journal_map_mb;
}

bool
config_child_option(struct config_child_args *a, int c, const char *arg)
{
	switch (c) {
	case 'c': a->config = arg; return true;
	case 'D': a->data_dir = arg; return true;
	case 'r': a->run_dir = arg; return true;
	case 'e': a->derived_dir = arg; return true;
	case 'w': a->workers = arg; return true;
	case 'v': a->verbose++; return true;
	default: return false;
	}
}

int
config_child_load(struct config *cfg, const struct config_child_args *a, char *err,
    size_t errlen)
{
	config_defaults(cfg);
	if (a->config && strcmp(a->config, "-") != 0 && config_load(cfg, a->config, err, errlen) < 0)
		return -1;
	if (a->data_dir)
		snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", a->data_dir);
	if (a->run_dir)
		snprintf(cfg->run_dir, sizeof cfg->run_dir, "%s", a->run_dir);
	if (a->derived_dir)
		snprintf(cfg->derived_dir, sizeof cfg->derived_dir, "%s", a->derived_dir);
	if (a->workers && config_set(cfg, "daemon", "workers", a->workers, err, errlen) < 0)
		return -1;
	config_finish(cfg);
	return 0;
}

/* The absolute path of dir, spelled canonically without touching the file
 * system ("a/./b/", run from /x: "/x/a/b"). */
static void
s_lexical_abs(const char *dir, char *out, size_t len)
{
	char cwd[CONFIG_PATH_MAX], joined[2 * CONFIG_PATH_MAX + 2];
	size_t n = 0;
	if (dir[0] == '/' || !getcwd(cwd, sizeof cwd))
		snprintf(joined, sizeof joined, "%s", dir);
	else
		snprintf(joined, sizeof joined, "%s/%s", cwd, dir);
	for (const char *p = joined; *p && n + 2 < len;) {
		while (*p == '/')
			p++;
		size_t seg = strcspn(p, "/");
		if (seg == 0 || (seg == 1 && p[0] == '.')) {
			p += seg;
			continue;
		}
		if (seg == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
			p += seg;
			continue;
		}
		out[n++] = '/';
		for (; seg-- && n + 1 < len; p++)
			out[n++] = *p;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
}

void
config_default_derived_dir(const char *data_dir, char *out, size_t len)
{
	char abs[CONFIG_PATH_MAX];
	struct stat st;
	uint64_t h = 14695981039346656037ull;    /* FNV-1a 64 */
	s_lexical_abs(data_dir, abs, sizeof abs);
	for (const char *p = abs; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		snprintf(out, len, "/dev/shm/jiceng-%016" PRIx64, h);
	else
		snprintf(out, len, "%s", data_dir);
}

const char *
config_default_text(void)
{
	return s_default_text;
}
