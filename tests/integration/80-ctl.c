/*
 * 80-ctl: the operator's tool, build/jicengctl, run as a subprocess against
 * the real jicengd, its JSON output parsed with jansson. `send` answers one
 * line per input line (an ack per event, an error object per bad line; an
 * envelope over 64 KiB is refused OVERSIZE and never sent) and exits 1 when
 * a line was bad; the same file again is all DUPLICATE with the original
 * seqs, in input order with --window 1; events it sends while jicengd is
 * stopped are resent on timeout and applied exactly once. `query` prints
 * members masked, org counts, rosters and stats, and the audit table (an
 * O4 entry written when a restart lowered a limit) with its --township,
 * --since and --limit; --help and usage errors behave as documented.
 *
 * It owns no daemon behaviour: what the broker and the rules decide is
 * 10-ingest's and 20-badinput's; here only what jicengctl reads, sends and
 * prints is checked. Every jicengctl started here is reaped by its pid
 * within a bounded wait (killed otherwise).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#define CTL_RUN_MS   20000  /* any one jicengctl run */
#define CTL_ARGS_MAX 16
#define CTL_BIG      70000  /* a string that packs the envelope over 64 KiB */
#define CTL_RESEND_T 250    /* send --timeout in the resend test, ms */
#define CTL_NMEMBERS 5      /* members sent while jicengd is stopped */

/* The org tree and members the send tests write by hand. */
#define C_TOWN   "c-town"
#define C_BRANCH "c-branch"

/* ================================================================ running jicengctl */

/* argv for build/jicengctl with the NULL-ended words in ap; bin is the
 * storage for argv[0]. */
static void
s_argv(char *argv[CTL_ARGS_MAX], char bin[512], va_list ap)
{
	int n = 0;
	snprintf(bin, 512, "%s/jicengctl", h_build_dir());
	argv[n++] = bin;
	for (char *w; (w = va_arg(ap, char *));) {
		assert_true(n < CTL_ARGS_MAX - 1);
		argv[n++] = w;
	}
	argv[n] = NULL;
}

/* Run jicengctl WORDS... NULL with stdout to out and stderr to err (NULL:
 * inherited). Returns its exit status, -1 when killed for time. */
static int
s_ctl(const char *out, const char *err, ...)
{
	char bin[512], *argv[CTL_ARGS_MAX];
	va_list ap;
	va_start(ap, err);
	s_argv(argv, bin, ap);
	va_end(ap);
	return h_run(argv, out, err, h_ms(CTL_RUN_MS));
}

/* Start jicengctl WORDS... NULL without waiting; s_reap waits for it.
 * Returns its pid, or -1: it must not fail the test itself, it runs while
 * jicengd is stopped. */
static pid_t
s_ctl_spawn(const char *out, const char *err, ...)
{
	char bin[512], *argv[CTL_ARGS_MAX];
	va_list ap;
	va_start(ap, err);
	s_argv(argv, bin, ap);
	va_end(ap);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			dup2(fd, 1);
		if ((fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0)
			dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}


/* ================================================================ files and JSON */

static void
s_path(struct hd *d, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", d->dir, name);
}

/* Write the NULL-ended lines to path, one per line. */
static void
s_write_lines(const char *path, char *const *lines)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (; *lines; lines++)
		fprintf(f, "%s\n", *lines);
	assert_int_equal(fclose(f), 0);
}

/* Every line of path parsed as a JSON object, in an array; fails the test
 * on a line that is not one. */
static json_t *
s_json_lines(const char *path)
{
	char *text = h_slurp(path, NULL), *save = NULL;
	json_t *all = json_array();
	json_error_t je;
	assert_non_null(text);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(l, 0, &je);
		if (!json_is_object(o))
			fail_msg("jicengctl printed a line that is not a JSON object: %.200s", l);
		json_array_append_new(all, o);
	}
	free(text);
	return all;
}

/* One JSON object from path (a query's output). */
static json_t *
s_json_one(const char *path)
{
	json_t *all = s_json_lines(path);
	assert_int_equal(json_array_size(all), 1);
	json_t *o = json_incref(json_array_get(all, 0));
	json_decref(all);
	return o;
}

/* The string at a dotted path ("member.idMasked"), "" when absent. */
static const char *
s_str(const json_t *o, const char *path)
{
	char key[64];
	for (const char *dot; (dot = strchr(path, '.')); path = dot + 1) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
	}
	o = json_object_get(o, path);
	return json_is_string(o) ? json_string_value(o) : "";
}

/* A 64-bit field (canonical JSON prints it as a string); 0 when absent. */
static uint64_t
s_u64(const json_t *o, const char *path)
{
	return strtoull(s_str(o, path), NULL, 10);
}

/* The one output line whose string key equals value; fails unless exactly
 * one matches. */
static json_t *
s_find(json_t *lines, const char *key, const char *value)
{
	json_t *found = NULL, *o;
	size_t i;
	json_array_foreach(lines, i, o) {
		if (strcmp(s_str(o, key), value) != 0)
			continue;
		if (found)
			fail_msg("two output lines with %s %s", key, value);
		found = o;
	}
	if (!found)
		fail_msg("no output line with %s %s", key, value);
	return found;
}

/* The one error object for input line n (it has "line" and "error"). */
static json_t *
s_find_line(json_t *lines, json_int_t n)
{
	json_t *found = NULL, *o;
	size_t i;
	json_array_foreach(lines, i, o) {
		if (json_integer_value(json_object_get(o, "line")) != n)
			continue;
		if (found || !json_is_string(json_object_get(o, "error")))
			fail_msg("line %d: not exactly one error object", (int)n);
		found = o;
	}
	if (!found)
		fail_msg("no error object for input line %d", (int)n);
	return found;
}

static bool
s_file_has(const char *path, const char *s)
{
	char *text = h_slurp(path, NULL);
	bool has = text && strstr(text, s);
	free(text);
	return has;
}

/* ================================================================ events as JSON lines */

/* One envelope line: "{envelope fields,<extra>"<kind>":{<body>}}". */
static char *
s_event(const char *event_id, const char *extra, const char *kind, const char *body)
{
	char *line;
	assert_true(asprintf(&line, "{\"eventId\":\"%s\",\"townshipId\":\"" H_TOWNSHIP "\","
	    "\"occurredAt\":\"%" PRId64 "\",%s\"%s\":{%s}}", event_id, now_wall_ms(), extra,
	    kind, body) > 0);
	return line;
}

static char *
s_org_line(const char *event_id, const char *org_id, const char *kind, const char *name)
{
	char body[CTL_BIG + 512];
	bool top = strcmp(kind, "TOWNSHIP_COMMITTEE") == 0;
	snprintf(body, sizeof body, "\"orgId\":\"%s\",\"kind\":\"%s\",%s\"name\":\"%s\"", org_id,
	    kind, top ? "" : "\"parentId\":\"" C_TOWN "\",\"approvingOrgId\":\"" C_TOWN "\",", name);
	return s_event(event_id, "", "orgEstablished", body);
}

/* A FULL member of home_id; id_number may be NULL. */
static char *
s_member_line(const char *event_id, const char *member_id, const char *home_id,
    const char *id_number)
{
	char body[512];
	snprintf(body, sizeof body, "\"memberId\":\"%s\",\"homeOrgId\":\"%s\",\"name\":\"王五\","
	    "%s%s%s\"category\":\"FULL\",\"admittedAt\":\"994000000000\","
	    "\"confirmedAt\":\"1026000000000\"", member_id, home_id,
	    id_number ? "\"idNumber\":\"" : "", id_number ? id_number : "", id_number ? "\"," : "");
	return s_event(event_id, "", "memberRegistered", body);
}

static void
s_free_lines(char **lines)
{
	for (char **l = lines; *l; l++)
		free(*l);
}

/* The mixed file of the first two tests, by input line:
 *   1-3 a township committee, a branch under it, a member with an ID number
 *   4 not JSON; 5 an unknown field; 6 a member of an unknown org (rejected
 *   by the rules, journaled); 7 an org whose name packs it over 64 KiB;
 *   8 a member after all that. Journaled: 1, 2, 3, 6, 8. */
#define MIX_LINES     8
#define MIX_JOURNALED 5
static const char *const s_mix_good[] = { "c-1", "c-2", "c-3", "c-6", "c-8" };

static void
s_write_mix(const char *path, const char *idn)
{
	char *big = malloc(CTL_BIG + 1);
	assert_non_null(big);
	memset(big, 'x', CTL_BIG);
	big[CTL_BIG] = 0;
	char *lines[MIX_LINES + 1] = {
		s_org_line("c-1", C_TOWN, "TOWNSHIP_COMMITTEE", "中共测试镇委员会"),
		s_org_line("c-2", C_BRANCH, "BRANCH", "中共测试镇第一支部委员会"),
		s_member_line("c-3", "c-m1", C_BRANCH, idn),
		strdup("this line is not JSON"),
		s_event("c-5", "\"colour\":\"red\",", "orgEstablished",
		    "\"orgId\":\"c-x\",\"kind\":\"TOWNSHIP_COMMITTEE\",\"name\":\"x\""),
		s_member_line("c-6", "c-m2", "c-nowhere", NULL),
		s_org_line("c-7", "c-big", "BRANCH", big),
		s_member_line("c-8", "c-m3", C_BRANCH, NULL),
		NULL,
	};
	s_write_lines(path, lines);
	s_free_lines(lines);
	free(big);
}

/* ================================================================ tests: send */

static struct hd *
s_up(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	return d;
}

/* The error objects for input lines 4, 5 and 7 of the mixed file. */
static void
s_check_mix_errors(json_t *out)
{
	assert_non_null(strstr(s_str(s_find_line(out, 4), "error"), "invalid JSON"));
	const char *e5 = s_str(s_find_line(out, 5), "error");
	if (!strstr(e5, "colour") || !strstr(e5, "unknown field"))
		fail_msg("line 5: %s", e5);
	json_t *big = s_find_line(out, 7);
	assert_string_equal(s_str(big, "eventId"), "c-7");
	assert_int_equal(strncmp(s_str(big, "error"), "OVERSIZE", 8), 0);
}

/* send FILE: one line out per line in (acks matched by eventId, errors by
 * line), the good events ACCEPTED, the rule rejection's code, the bad lines
 * never sent (the journal grows by the journaled events only, the broker
 * counts no OVERSIZE), exit status 1 for the bad lines. */
static void
test_send_file(void **state)
{
	struct hd *d = s_up(state);
	char in[256], out[256], err[256], idn[19];
	h_idnum("19800315", 123, idn);
	s_path(d, "mix.jsonl", in, sizeof in);
	s_path(d, "send.out", out, sizeof out);
	s_path(d, "send.err", err, sizeof err);
	s_write_mix(in, idn);
	uint64_t len0 = hq_journal_length(d);
	assert_int_not_equal(len0, UINT64_MAX);

	assert_int_equal(s_ctl(out, err, "send", "-i", d->ingest, in, NULL), 1);
	json_t *o = s_json_lines(out);
	assert_int_equal(json_array_size(o), MIX_LINES);
	for (size_t i = 0; i < MIX_JOURNALED; i++) {
		json_t *a = s_find(o, "eventId", s_mix_good[i]);
		uint64_t seq = s_u64(a, "seq");
		if (seq <= len0 || seq > len0 + MIX_JOURNALED)
			fail_msg("%s: seq %" PRIu64 " not in the new range", s_mix_good[i], seq);
		if (strcmp(s_mix_good[i], "c-6") == 0)
			continue;
		assert_string_equal(s_str(a, "verdict"), "ACCEPTED");
		assert_string_equal(s_str(a, "code"), "OK");
	}
	json_t *rej = s_find(o, "eventId", "c-6");
	assert_string_equal(s_str(rej, "verdict"), "REJECTED");
	assert_string_equal(s_str(rej, "code"), "UNKNOWN_ORG");
	s_check_mix_errors(o);
	json_decref(o);
	assert_true(s_file_has(err, "3 invalid lines"));

	assert_int_equal(hq_journal_length(d), len0 + MIX_JOURNALED);
	QueryReply *r = hq_stats(d);
	assert_non_null(r);
	assert_int_equal(hq_stat_count(r, false, "OVERSIZE"), 0);
	hq_free(r);
	hd_pass(d);
}

/* The same file again, one event in flight (--window 1): in input order,
 * every event DUPLICATE with its first seq and verdict, the bad lines
 * reported again, nothing journaled. */
static void
test_send_again(void **state)
{
	struct hd *d = s_up(state);
	char in[256], out1[256], out2[256], err[256], idn[19];
	h_idnum("19750101", 7, idn);
	s_path(d, "mix.jsonl", in, sizeof in);
	s_path(d, "send1.out", out1, sizeof out1);
	s_path(d, "send2.out", out2, sizeof out2);
	s_path(d, "send.err", err, sizeof err);
	s_write_mix(in, idn);
	assert_int_equal(s_ctl(out1, err, "send", "-i", d->ingest, in, NULL), 1);
	uint64_t len1 = hq_journal_length(d);

	assert_int_equal(s_ctl(out2, err, "send", "-w", "1", "-i", d->ingest, in, NULL), 1);
	json_t *first = s_json_lines(out1), *again = s_json_lines(out2);
	assert_int_equal(json_array_size(again), MIX_LINES);
	for (size_t i = 0; i < MIX_JOURNALED; i++) {
		json_t *a0 = s_find(first, "eventId", s_mix_good[i]);
		json_t *a = s_find(again, "eventId", s_mix_good[i]);
		assert_string_equal(s_str(a, "verdict"), "DUPLICATE");
		assert_string_equal(s_str(a, "originalVerdict"), s_str(a0, "verdict"));
		assert_int_equal(s_u64(a, "seq"), s_u64(a0, "seq"));
		assert_true(s_u64(a, "seq") > 0);
	}
	s_check_mix_errors(again);
	/* Strict input order: acks (by event id) and errors (by line). */
	static const char *const order[MIX_LINES] = { "c-1", "c-2", "c-3", "4", "5", "c-6", "7", "c-8" };
	for (size_t i = 0; i < MIX_LINES; i++) {
		json_t *o = json_array_get(again, i);
		if (order[i][0] == 'c')
			assert_string_equal(s_str(o, "eventId"), order[i]);
		else
			assert_int_equal(json_integer_value(json_object_get(o, "line")), atoi(order[i]));
	}
	json_decref(first);
	json_decref(again);
	assert_int_equal(hq_journal_length(d), len1);
	hd_pass(d);
}

static void
s_count_member(void *arg, const char *member_id)
{
	(void)member_id;
	(*(int *)arg)++;
}

/* jicengd stopped (SIGSTOP) while jicengctl sends with a short timeout:
 * it resends, and once jicengd runs again every event is acknowledged
 * (exit 0), journaled once, on the roster once; the resends reached the
 * broker (it counted them DUPLICATE). */
static void
test_send_resend(void **state)
{
	struct hd *d = s_up(state);
	char in[256], out[256], err[256], tmo[16], eid[16], mid[16];
	char *lines[CTL_NMEMBERS + 3] = {
		s_org_line("r-1", C_TOWN, "TOWNSHIP_COMMITTEE", "中共测试镇委员会"),
		s_org_line("r-2", C_BRANCH, "BRANCH", "中共测试镇第一支部委员会"),
	};
	for (int i = 0; i < CTL_NMEMBERS; i++) {
		snprintf(eid, sizeof eid, "r-m%d", i);
		snprintf(mid, sizeof mid, "m-%d", i);
		lines[2 + i] = s_member_line(eid, mid, C_BRANCH, NULL);
	}
	const int n = CTL_NMEMBERS + 2;
	s_path(d, "resend.jsonl", in, sizeof in);
	s_path(d, "resend.out", out, sizeof out);
	s_path(d, "resend.err", err, sizeof err);
	s_write_lines(in, lines);
	s_free_lines(lines);
	snprintf(tmo, sizeof tmo, "%d", h_ms(CTL_RESEND_T));
	uint64_t len0 = hq_journal_length(d), dup0 = hq_duplicates_reach(d, 0);

	/* Nothing may fail between SIGSTOP and SIGCONT: a stopped jicengd
	 * would outlive the test's tear-down. */
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	pid_t ctl = s_ctl_spawn(out, err, "send", "-t", tmo, "-r", "40", "-i", d->ingest, in, NULL);
	h_sleep_ms(h_ms(3 * CTL_RESEND_T + CTL_RESEND_T / 2));
	bool waiting = ctl > 0 && waitpid(ctl, NULL, WNOHANG) == 0;
	size_t early = 0;
	free(h_slurp(out, &early));
	kill(d->pid, SIGCONT);
	assert_true(ctl > 0);
	int rc = h_reap(ctl, "jicengctl", h_ms(CTL_RUN_MS));
	assert_true(waiting);
	assert_int_equal(early, 0);
	assert_int_equal(rc, 0);

	json_t *o = s_json_lines(out);
	assert_int_equal(json_array_size(o), n);
	for (int i = 0; i < n; i++) {
		json_t *a = json_array_get(o, i);
		uint64_t seq = s_u64(a, "seq");
		const char *v = s_str(a, "verdict");
		if (seq <= len0 || seq > len0 + n || !(strcmp(v, "ACCEPTED") == 0 ||
		    strcmp(s_str(a, "originalVerdict"), "ACCEPTED") == 0))
			fail_msg("%s: %s seq %" PRIu64, s_str(a, "eventId"), v, seq);
		s_find(o, "eventId", s_str(a, "eventId"));  /* one line per event */
	}
	json_decref(o);
	assert_int_equal(hq_journal_length(d), len0 + n);
	assert_true(hq_duplicates_reach(d, dup0 + n) >= dup0 + n);
	int members = 0;
	assert_int_equal(hq_roster(d, C_BRANCH, s_count_member, &members), CTL_NMEMBERS);
	assert_int_equal(members, CTL_NMEMBERS);
	hd_pass(d);
}

/* ================================================================ tests: query */

/* Run `jicengctl query WORDS...` against d: the exit status; *reply the
 * parsed output. */
static int
s_query(struct hd *d, json_t **reply, const char *what, const char *id)
{
	char out[256];
	s_path(d, "query.out", out, sizeof out);
	int rc = s_ctl(out, NULL, "query", "-q", d->query, what, id, NULL);
	*reply = s_json_one(out);
	return rc;
}

/* Does the output of the last query contain s anywhere? */
static bool
s_query_has(struct hd *d, const char *s)
{
	char out[256];
	s_path(d, "query.out", out, sizeof out);
	return s_file_has(out, s);
}

/* query member / org / members / stats: the fields an operator reads, the
 * ID number masked (the clear number, even its middle, printed nowhere),
 * NOT_FOUND as exit status 3. */
static void
test_query(void **state)
{
	struct hd *d = s_up(state);
	char idn[19], masked[19];
	h_idnum("19800315", 123, idn);
	snprintf(masked, sizeof masked, "%.6s********%.4s", idn, idn + 14);
	void *sock = hc_connect(d);
	assert_non_null(sock);
	assert_int_equal(hc_org_tree(sock, "ctl"), 0);
	struct hmsg m[2] = {
		hm_member("ctl-m1", "q-m1", H_ORG_BRANCH, "张三", idn),
		hm_member("ctl-m2", "q-m2", H_ORG_BRANCH, "李四", NULL),
	};
	for (int i = 0; i < 2; i++) {
		assert_true(hc_expect(sock, &m[i], JICENG__V1__VERDICT__ACCEPTED, NULL));
		hm_free(&m[i]);
	}
	hc_close(sock);
	json_t *r;

	assert_int_equal(s_query(d, &r, "member", "q-m1"), 0);
	assert_string_equal(s_str(r, "status"), "OK");
	assert_string_equal(s_str(r, "member.memberId"), "q-m1");
	assert_string_equal(s_str(r, "member.homeOrgId"), H_ORG_BRANCH);
	assert_string_equal(s_str(r, "member.name"), "张三");
	assert_string_equal(s_str(r, "member.idMasked"), masked);
	assert_string_equal(s_str(r, "member.birthDate"), "1980-03-15");
	assert_string_equal(s_str(r, "member.category"), "FULL");
	assert_false(s_query_has(d, idn + 6));
	json_decref(r);

	assert_int_equal(s_query(d, &r, "org", H_ORG_BRANCH), 0);
	assert_string_equal(s_str(r, "org.orgId"), H_ORG_BRANCH);
	assert_string_equal(s_str(r, "org.kind"), "BRANCH");
	assert_string_equal(s_str(r, "org.parentId"), H_ORG_VILLAGE);
	json_t *org = json_object_get(r, "org");
	assert_int_equal(json_integer_value(json_object_get(org, "memberCount")), 2);
	assert_int_equal(json_integer_value(json_object_get(org, "fullMemberCount")), 2);
	json_decref(r);

	assert_int_equal(s_query(d, &r, "members", H_ORG_BRANCH), 0);
	assert_string_equal(s_str(r, "members.orgId"), H_ORG_BRANCH);
	json_t *list = json_object_get(json_object_get(r, "members"), "members");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(s_str(json_array_get(list, 0), "memberId"), "q-m1");
	assert_string_equal(s_str(json_array_get(list, 0), "idMasked"), masked);
	assert_string_equal(s_str(json_array_get(list, 1), "memberId"), "q-m2");
	assert_false(s_query_has(d, idn + 6));
	json_decref(r);

	assert_int_equal(s_query(d, &r, "stats", NULL), 0);
	assert_int_equal(s_u64(r, "stats.journalLength"), hq_journal_length(d));
	assert_true(s_u64(r, "stats.journalLength") >= 5);
	assert_true(json_array_size(json_object_get(json_object_get(r, "stats"), "workers")) > 0);
	json_decref(r);

	assert_int_equal(s_query(d, &r, "member", "q-none"), 3);
	assert_string_equal(s_str(r, "status"), "NOT_FOUND");
	json_decref(r);
	hd_pass(d);
}

/* Run `jicengctl query -q EP audit WORDS...` (up to 6 words, NULL-ended
 * earlier): the exit status; *reply the parsed output. */
static int
s_query_audit(struct hd *d, json_t **reply, const char *w1, const char *w2,
    const char *w3, const char *w4, const char *w5, const char *w6)
{
	char out[256];
	s_path(d, "audit.out", out, sizeof out);
	int rc = s_ctl(out, NULL, "query", "-q", d->query, "audit", w1, w2, w3, w4, w5, w6,
	    NULL);
	*reply = s_json_one(out);
	return rc;
}

/* The entries array of an audit reply (empty when the list is). */
static json_t *
s_entries(json_t *r)
{
	json_t *e = json_object_get(json_object_get(r, "audit"), "entries");
	return e ? e : json_array();
}

/* jicengd restarted with a lower org.branch_max_members than a branch's
 * members: `query audit` prints its O4 entry; --township of another
 * township and --since past its seq print none; a malformed township is
 * BAD_QUERY (exit 1); audit takes no ID and members none of its options. */
static void
test_query_audit(void **state)
{
	struct hd_opts o = { .config = "[rules]\norg.branch_max_members = 50\n" };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "au", &sock);
	assert_true(hc_members(sock, "au", H_ORG_BRANCH, 0, 5) > 0);
	hc_close(sock);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	uint64_t len = hq_journal_length(d);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_config_write(d, "[rules]\norg.branch_max_members = 3\n");
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	json_t *r;

	assert_int_equal(s_query_audit(d, &r, NULL, NULL, NULL, NULL, NULL, NULL), 0);
	assert_string_equal(s_str(r, "status"), "OK");
	json_t *list = s_entries(r);
	assert_int_equal(json_array_size(list), 1);
	json_t *e = json_array_get(list, 0);
	uint64_t seq = s_u64(e, "seq");
	assert_true(seq > len);
	assert_string_equal(s_str(e, "orgId"), H_ORG_BRANCH);
	assert_string_equal(s_str(e, "townshipId"), H_TOWNSHIP);
	assert_string_equal(s_str(e, "code"), "O4");
	assert_string_equal(s_str(e, "text"),
	    "党支部党员超过3人 / branch has more than 3 members: " H_ORG_BRANCH);
	json_decref(r);

	char since[32], next[32];
	snprintf(since, sizeof since, "%" PRIu64, seq);
	snprintf(next, sizeof next, "%" PRIu64, seq + 1);
	assert_int_equal(s_query_audit(d, &r, "--township", H_TOWNSHIP, "--since", since,
	    "--limit", "1"), 0);
	assert_int_equal(json_array_size(s_entries(r)), 1);
	json_decref(r);
	assert_int_equal(s_query_audit(d, &r, "--township", H_TOWNSHIP2, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(json_array_size(s_entries(r)), 0);
	json_decref(r);
	assert_int_equal(s_query_audit(d, &r, "--since", next, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(json_array_size(s_entries(r)), 0);
	json_decref(r);
	assert_int_equal(s_query_audit(d, &r, "--township", "510722", NULL, NULL, NULL, NULL), 1);
	assert_string_equal(s_str(r, "status"), "BAD_QUERY");
	assert_string_equal(s_str(r, "code"), "BAD_TOWNSHIP");
	json_decref(r);

	char out[256], err[256];
	s_path(d, "usage.out", out, sizeof out);
	s_path(d, "usage.err", err, sizeof err);
	assert_int_equal(s_ctl(out, err, "query", "audit", H_ORG_BRANCH, NULL), 2);
	assert_int_equal(s_ctl(out, err, "query", "--since", "1", "members", H_ORG_BRANCH, NULL), 2);
	assert_true(s_file_has(err, "go with audit"));
	assert_int_equal(s_ctl(out, err, "query", "--limit", "0", "audit", NULL), 2);
	assert_int_equal(s_ctl(out, err, "query", "--help", NULL), 0);
	assert_true(s_file_has(out, "jicengctl query [OPTIONS] audit"));
	assert_true(s_file_has(out, "--since-index"));
	hd_pass(d);
}

/* ================================================================ tests: usage */

/* --help and send --help exit 0 and say what there is; an unknown command
 * or a bad send invocation exits 2 with a pointer to the help. No daemon
 * runs; hd_new only gives the test a directory. */
static void
test_help_usage(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	char out[256], err[256];
	s_path(d, "help.out", out, sizeof out);
	s_path(d, "help.err", err, sizeof err);

	assert_int_equal(s_ctl(out, err, "--help", NULL), 0);
	static const char *const words[] = { "send", "query", "rebuild", "Usage: jicengctl" };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!s_file_has(out, words[i]))
			fail_msg("jicengctl --help does not mention %s", words[i]);

	assert_int_equal(s_ctl(out, err, "send", "--help", NULL), 0);
	assert_true(s_file_has(out, "Usage: jicengctl send"));
	assert_true(s_file_has(out, "--timeout"));
	assert_true(s_file_has(out, "--retries"));
	assert_true(s_file_has(out, "--window"));

	assert_int_equal(s_ctl(out, err, "frobnicate", NULL), 2);
	assert_true(s_file_has(err, "unknown command 'frobnicate'"));
	assert_true(s_file_has(err, "jicengctl --help"));
	size_t n;
	free(h_slurp(out, &n));
	assert_int_equal(n, 0);

	assert_int_equal(s_ctl(out, err, "send", NULL), 2);
	assert_true(s_file_has(err, "Try 'jicengctl send --help'"));
	assert_int_equal(s_ctl(out, err, "send", "-t", "0", "x", NULL), 2);
	hd_pass(d);
}

int
integ_ctl(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_send_file, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_send_again, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_send_resend, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_query, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_query_audit, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_help_usage, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
