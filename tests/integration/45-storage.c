/*
 * 45-storage: LMDB maps that fill up, and a disk that fails. A journal
 * whose map may not grow past a few MiB answers RETRY_LATER/STORAGE_FULL
 * once full, never crashes, keeps answering queries, and after a restart
 * with room takes the resent events; a worker whose state map starts at
 * 1 MiB grows it and applies everything. An ack waits for its journal
 * flush; when that flush fails (EIO, injected by build/test-io-shim.so),
 * jicengd acknowledges nothing more and stops, and a restart loses nothing
 * it had acknowledged. A full disk and a file size limit are answered
 * STORAGE_FULL (or only stop filling the journal ahead), never a crash.
 */
#include "harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ST_N 30000

struct st {
	struct hmsg msgs[ST_N];
	int verdict[ST_N];       /* last verdict per event */
	int accepted, full, other;
};

static void
s_st_ack(struct hpump *p, Ack *a)
{
	struct st *s = p->arg;
	int i;
	if (sscanf(a->event_id, "st-%d", &i) != 1 || i < 0 || i >= ST_N) {
		s->other++;
		return;
	}
	s->verdict[i] = a->verdict;
	if (a->verdict == JICENG__V1__VERDICT__ACCEPTED)
		s->accepted++;
	else if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER && strcmp(a->code, "STORAGE_FULL") == 0)
		s->full++;
	else {
		if (s->other++ < 5)
			fprintf(stderr, "%s: %s/%s (%s)\n", a->event_id, codec_verdict_name(a->verdict),
			    a->code, a->reason);
	}
}

/* Make the org tree (prefix) and send ST_N members (ids prefix-NNNNN)
 * pipelined, counting the acks into s; none may be other than ACCEPTED or
 * RETRY_LATER/STORAGE_FULL. */
static void
s_pump_members(void *sock, const char *prefix, struct st *s)
{
	static struct hmsg *order[ST_N];
	assert_int_equal(hc_org_tree(sock, prefix), 0);
	memset(s, 0, sizeof *s);
	for (int i = 0; i < ST_N; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "st-%05d", i);
		snprintf(mid, sizeof mid, "%sm-%05d", prefix, i);
		s->msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, "存储党员", NULL);
		order[i] = &s->msgs[i];
	}
	struct hpump p = { .sock = sock, .send = order, .nsend = ST_N, .window = 500,
		.on_ack = s_st_ack, .arg = s };
	assert_int_equal(hp_run(&p, 90000), 0);
	fprintf(stderr, "  %d accepted, %d STORAGE_FULL, %d other\n", s->accepted, s->full, s->other);
	assert_int_equal(s->other, 0);
}

/* Start jicengd with config, then s_pump_members. */
static struct hd *
s_fill(void **state, const char *config, const char *prefix, struct st *s, void **sockp)
{
	struct hd_opts o = { .config = config };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	*sockp = hc_connect(d);
	s_pump_members(*sockp, prefix, s);
	return d;
}

/* Resend every event answered RETRY_LATER: each must now be ACCEPTED. */
static void
s_resend_refused(void *sock, struct st *s)
{
	static struct hmsg *order[ST_N];
	int n = 0;
	for (int i = 0; i < ST_N; i++)
		if (s->verdict[i] == JICENG__V1__VERDICT__RETRY_LATER)
			order[n++] = &s->msgs[i];
	int before = s->accepted;
	s->full = 0;
	struct hpump again = { .sock = sock, .send = order, .nsend = n, .window = 500,
		.on_ack = s_st_ack, .arg = s };
	assert_int_equal(hp_run(&again, 90000), 0);
	assert_int_equal(s->other, 0);
	assert_int_equal(s->full, 0);
	assert_int_equal(s->accepted, before + n);
}

/* Every one of the ST_N members is in the branch; then clean up and pass. */
static void
s_expect_all_members(struct hd *d, struct st *s, void *sock)
{
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, ST_N);
	hq_free(r);
	for (int i = 0; i < ST_N; i++)
		hm_free(&s->msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

static void
test_journal_full(void **state)
{
	static struct st s;
	void *sock;
	struct hd *d = s_fill(state, "[daemon]\njournal_map_mb = 1\njournal_map_max_mb = 2\n",
	    "st", &s, &sock);
	assert_true(s.accepted > 1000);
	assert_true(s.full > 0);
	assert_int_equal(s.accepted + s.full, ST_N);
	assert_true(hd_log_has(d, "MDB_MAP_FULL"));

	/* Still up: it answers queries, refuses new events cleanly, and what it
	 * accepted is all there. */
	assert_true(d->pid > 0);
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, s.accepted);
	hq_free(r);
	int last_full = -1;
	for (int i = ST_N - 1; i >= 0 && last_full < 0; i--)
		if (s.verdict[i] == JICENG__V1__VERDICT__RETRY_LATER)
			last_full = i;
	/* A whole batch was refused when it did not fit; the same event alone
	 * may fit in the pages the failed batches left. Either answer is clean. */
	Ack *a = hc_call(sock, &s.msgs[last_full]);
	assert_non_null(a);
	if (a->verdict == JICENG__V1__VERDICT__ACCEPTED) {
		s.verdict[last_full] = JICENG__V1__VERDICT__ACCEPTED;
		s.accepted++;
		s.full--;
	} else {
		assert_int_equal(a->verdict, JICENG__V1__VERDICT__RETRY_LATER);
		assert_string_equal(a->code, "STORAGE_FULL");
	}
	hc_ack_free(a);
	hc_close(sock);
	hq_reset(d);

	/* Restarted with room to grow: every refused event, resent, is applied. */
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_config_write(d, "[daemon]\njournal_map_mb = 1\njournal_map_max_mb = 64\n");
	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	s_resend_refused(sock, &s);
	s_expect_all_members(d, &s, sock);
}

/* A full disk: the io shim fails every write of journal.mdb past 2 MiB
 * with ENOSPC while its flag file exists. Filling ahead stops there and
 * says so; the group commits that no longer fit are answered
 * RETRY_LATER/STORAGE_FULL while jicengd keeps serving; once there is room
 * again (no restart), the refused events, resent, are all accepted. */
static void
test_disk_full(void **state)
{
	static struct st s;
	char flag[PATH_MAX], flag_var[PATH_MAX + 32];
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	snprintf(flag, sizeof flag, "%s/disk-full-at", d->dir);
	snprintf(flag_var, sizeof flag_var, "JICENG_TEST_ENOSPC_FILE=%s", flag);
	h_write_file(flag, "%d\n", 2 << 20);
	const char *env[] = { h_io_shim_env(), flag_var, NULL };
	d->opts.env = env;
	assert_int_equal(hd_up(d), 0);
	assert_true(hd_io_shim_loaded(d));
	assert_true(hd_log_wait(d, "filling ahead stopped (No space left on device)", 5000));

	void *sock = hc_connect(d);
	s_pump_members(sock, "df", &s);
	assert_true(s.accepted > 1000);
	assert_true(s.full > 0);
	assert_int_equal(s.accepted + s.full, ST_N);
	assert_true(hd_log_has(d, "events failed: No space left on device"));
	assert_true(d->pid > 0);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, s.accepted);
	hq_free(r);

	assert_int_equal(unlink(flag), 0);  /* room again */
	s_resend_refused(sock, &s);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	s_expect_all_members(d, &s, sock);
}

/* A quarantine that cannot be written (the disk is full when a worker has
 * crashed quarantine_after times on an event) is logged and tried again at
 * the next crash; once there is room it is written, the poison event is
 * answered INTERNAL_ERROR and the events behind it go through. */
static void
test_quarantine_on_full_disk(void **state)
{
	enum { AFTER = 5 };
	struct hd_opts o = { .config = "[daemon]\nquarantine_after = 5\n" };
	struct hd *d = hd_new(&o);
	char flag[PATH_MAX], flag_var[PATH_MAX + 32];
	assert_non_null(d);
	*state = d;
	snprintf(flag, sizeof flag, "%s/disk-full-at", d->dir);
	snprintf(flag_var, sizeof flag_var, "JICENG_TEST_ENOSPC_FILE=%s", flag);
	const char *env[] = { h_io_shim_env(), flag_var, "JICENG_FAULT_CRASH_EVENT=qf-poison", NULL };
	d->opts.env = env;
	assert_int_equal(hd_up(d), 0);
	assert_true(hd_io_shim_loaded(d));
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "qf"), 0);
	uint64_t length = hq_journal_length(d);
	struct hmsg msgs[1 + AFTER];
	msgs[0] = hm_member("qf-poison", "qfm-poison", H_ORG_BRANCH, "毒", NULL);
	for (int i = 1; i <= AFTER; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "qf-%d", i);
		snprintf(mid, sizeof mid, "qfm-%d", i);
		msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, "党员", NULL);
	}
	for (int i = 0; i <= AFTER; i++)
		assert_int_equal(hc_send(sock, &msgs[i]), 0);
	for (int i = 0; i < 200 && hq_journal_length(d) < length + 1 + AFTER; i++)
		h_sleep_ms(10);
	assert_true(hq_journal_length(d) >= length + 1 + AFTER);  /* more: an hourly Tick */

	h_write_file(flag, "1\n");  /* no write of journal.mdb fits */
	assert_true(hd_log_wait(d, "could not quarantine seq", 30000));
	assert_true(hd_log_has(d, "No space left on device"));
	assert_false(hd_log_has(d, "quarantined event seq"));
	assert_null(hc_recv(sock, 100));  /* the poison holds every ack behind it */

	assert_int_equal(unlink(flag), 0);
	int accepted = 0, poison = 0;
	for (int got = 0; got <= AFTER; got++) {
		Ack *a = hc_recv(sock, 30000);
		if (!a)
			fail_msg("only %d of %d acks after the disk had room again", got, 1 + AFTER);
		if (strcmp(a->event_id, "qf-poison") == 0) {
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
			assert_string_equal(a->code, "INTERNAL_ERROR");
			poison++;
		} else {
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
			accepted++;
		}
		hc_ack_free(a);
	}
	assert_int_equal(poison, 1);
	assert_int_equal(accepted, AFTER);
	assert_true(hd_log_has(d, "quarantined event seq"));
	assert_true(hd_log_count(d, "fault injection: crashing on event qf-poison") > 5);
	for (int i = 0; i <= AFTER; i++)
		hm_free(&msgs[i]);
	hc_close(sock);
	hd_pass(d);
}

/* A quarantine whose put fails (MDB_MAP_FULL, by a test hook while its
 * file exists): jicengd must end that write, its lock and the fill-ahead
 * hold, or the next group commit would wait for ever. So a new event is
 * still journaled (its ack waits behind the poison), the quarantine is
 * tried again at the next crash, and once it fits every ack arrives. */
static void
test_quarantine_put_fails(void **state)
{
	char flag[PATH_MAX], flag_var[PATH_MAX + 32];
	struct hd_opts o = { .config = "[daemon]\nquarantine_after = 2\n" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	snprintf(flag, sizeof flag, "%s/quarantine-full", d->dir);
	snprintf(flag_var, sizeof flag_var, "JICENG_FAULT_QUARANTINE_FULL=%s", flag);
	h_write_file(flag, "%s", "");
	const char *env[] = { flag_var, "JICENG_FAULT_CRASH_EVENT=qp-poison", NULL };
	d->opts.env = env;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "qp"), 0);
	struct hmsg poison = hm_member("qp-poison", "qpm-poison", H_ORG_BRANCH, "毒", NULL);
	struct hmsg late = hm_member("qp-late", "qpm-late", H_ORG_BRANCH, "迟到党员", NULL);
	assert_int_equal(hc_send(sock, &poison), 0);
	assert_true(hd_log_wait(d, "could not quarantine seq", 20000));
	assert_true(hd_log_has(d, "MDB_MAP_FULL"));

	uint64_t length = hq_journal_length(d);
	assert_int_equal(hc_send(sock, &late), 0);
	for (int i = 0; i < 200 && hq_journal_length(d) <= length; i++)
		h_sleep_ms(20);
	assert_true(hq_journal_length(d) > length);
	assert_null(hc_recv(sock, 100));  /* both wait behind the poison */

	assert_int_equal(unlink(flag), 0);
	for (int got = 0; got < 2; got++) {
		Ack *a = hc_recv(sock, 30000);
		assert_non_null(a);
		if (strcmp(a->event_id, "qp-poison") == 0) {
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__REJECTED);
			assert_string_equal(a->code, "INTERNAL_ERROR");
		} else {
			assert_string_equal(a->event_id, "qp-late");
			assert_int_equal(a->verdict, JICENG__V1__VERDICT__ACCEPTED);
		}
		hc_ack_free(a);
	}
	assert_true(hd_log_has(d, "quarantined event seq"));
	hc_close(sock);
	hm_free(&poison);
	hm_free(&late);
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_pass(d);
}

/* A file size limit (ulimit -f, LimitFSIZE=) below what filling ahead
 * wants: the write past it fails with EFBIG instead of killing jicengd
 * with SIGXFSZ; filling ahead stops and says so, and events are taken. The
 * limit is the test process's own around the start (the daemon inherits
 * it); the state map is kept under it. */
static void
test_file_size_limit(void **state)
{
	struct hd_opts o = { .config = "[daemon]\nstate_map_mb = 4\n" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	struct rlimit was, low;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	low = was;
	low.rlim_cur = 6 << 20;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	int up = hd_up(d);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	assert_int_equal(up, 0);
	assert_true(hd_log_wait(d, "filling ahead stopped (File too large)", 5000));
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "fz"), 0);
	struct hmsg m = hm_member("fz-1", "fzm-1", H_ORG_BRANCH, "限额党员", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&m);
	hc_close(sock);
	assert_true(d->pid > 0);
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_pass(d);
}

/* A journal that starts at 1 MiB grows as it fills, with no refusal. */
static void
test_journal_grows(void **state)
{
	static struct st s;
	void *sock;
	struct hd *d = s_fill(state, "[daemon]\njournal_map_mb = 1\njournal_map_max_mb = 256\n",
	    "sg", &s, &sock);
	assert_int_equal(s.full, 0);
	assert_int_equal(s.accepted, ST_N);
	assert_true(hd_log_has(d, "journal map grown"));
	s_expect_all_members(d, &s, sock);
}

static void
test_state_map_grows(void **state)
{
	enum { N = 8000 };
	struct hd_opts o = { .config = "[daemon]\nstate_map_mb = 1\n" };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "sm"), 0);
	static struct st s;
	static struct hmsg *order[N];
	memset(&s, 0, sizeof s);
	for (int i = 0; i < N; i++) {
		char eid[32], mid[32], idn[19];
		snprintf(eid, sizeof eid, "st-%05d", i);
		snprintf(mid, sizeof mid, "smm-%05d", i);
		char birth[9];
		snprintf(birth, sizeof birth, "19%02d0101", 50 + i / 1000);
		h_idnum(birth, (unsigned)i % 1000, idn);
		s.msgs[i] = hm_member(eid, mid, H_ORG_BRANCH, "成长党员", idn);
		order[i] = &s.msgs[i];
	}
	struct hpump p = { .sock = sock, .send = order, .nsend = N, .window = 500,
		.on_ack = s_st_ack, .arg = &s };
	assert_int_equal(hp_run(&p, 90000), 0);
	assert_int_equal(s.other, 0);
	assert_int_equal(s.accepted, N);
	assert_true(hd_log_has(d, "state map grown"));
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, N);
	hq_free(r);
	r = hq_member(d, "smm-07999");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	hq_free(r);
	/* And the grown state survives a restart. */
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, NULL, NULL), N);
	for (int i = 0; i < N; i++)
		hm_free(&s.msgs[i]);
	hd_pass(d);
}

/* The township committee and village committee of hm_org_tree(prefix):
 * two events whose acks the flush tests hold back one after the other. */
static void
s_township_and_village(struct hmsg *township, struct hmsg *village, const char *prefix)
{
	struct hmsg tree[3];
	hm_org_tree(tree, prefix);
	hm_free(&tree[2]);
	*township = tree[0];
	*village = tree[1];
}

/* An ack waits until its event's journal commit is on disk. With the idle
 * flush switched off (a test hook), a lone event stays unacknowledged; the
 * next group commit's flush carries the first one's meta page and releases
 * its ack, not its own; after kill -9 both are still journaled. */
static void
test_acks_wait_for_flush(void **state)
{
	struct hd_opts o = { .env = (const char *[]){ "JICENG_FAULT_NO_IDLE_FLUSH=1", NULL } };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	struct hmsg a, b;
	s_township_and_village(&a, &b, "fl");
	assert_int_equal(hc_send(sock, &a), 0);
	Ack *ack = hc_recv(sock, 1500);
	assert_null(ack);  /* journaled and applied, not yet on disk */
	assert_int_equal(hc_send(sock, &b), 0);
	ack = hc_recv(sock, H_ACK_MS);
	assert_non_null(ack);
	assert_string_equal(ack->event_id, "fl-org-t");
	assert_int_equal(ack->verdict, JICENG__V1__VERDICT__ACCEPTED);
	hc_ack_free(ack);
	assert_null(hc_recv(sock, 1000));  /* fl-b waits for the flush after it */
	hc_close(sock);
	hd_kill9(d);
	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	assert_true(hc_expect(sock, &a, JICENG__V1__VERDICT__DUPLICATE, NULL));
	assert_true(hc_expect(sock, &b, JICENG__V1__VERDICT__DUPLICATE, NULL));
	hc_close(sock);
	hm_free(&a);
	hm_free(&b);
	hd_pass(d);
}

/* A jicengd started with the io shim preloaded: while the flag file in its
 * data directory exists, every fdatasync/fsync of journal.mdb fails with
 * EIO (the workers' own environments are not touched). */
struct st_eio {
	char flag[PATH_MAX];
	char flag_var[PATH_MAX + 32];  /* JICENG_TEST_EIO_FILE=... */
	const char *env[4];
};

static void
s_eio_arm(struct hd *d, struct st_eio *e, const char *also)
{
	snprintf(e->flag, sizeof e->flag, "%s/eio-fault", d->dir);
	snprintf(e->flag_var, sizeof e->flag_var, "JICENG_TEST_EIO_FILE=%s", e->flag);
	e->env[0] = h_io_shim_env();
	e->env[1] = e->flag_var;
	e->env[2] = also;  /* another NAME=VALUE, or NULL */
	e->env[3] = NULL;
	d->opts.env = e->env;
}

static void
s_eio_fault(struct st_eio *e, bool on)
{
	if (!on)
		assert_int_equal(unlink(e->flag), 0);
	else
		h_write_file(e->flag, "%s", "");
}

/* The next ack within H_ACK_MS, or NULL once jicengd has exited and what
 * it sent before (if anything) has had time to arrive. */
static Ack *
s_recv_or_exit(struct hd *d, void *sock)
{
	for (int64_t end = now_mono_ms() + h_ms(H_ACK_MS); now_mono_ms() < end;) {
		Ack *a = hc_recv(sock, 100);
		if (a)
			return a;
		if (hd_wait_exit(d, 0) != -1)
			return hc_recv(sock, 500);
	}
	return NULL;
}

/* jicengd stopped on a failed journal flush: by itself, non-zero, with its
 * fatal line, and not through a clean stop. */
static void
s_expect_flush_fatal(struct hd *d, int status)
{
	assert_int_not_equal(status, -1);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	assert_true(hd_log_has(d, "<2>jicengd: journal flush failed: Input/output error"));
	assert_false(hd_log_has(d, "jicengd: stopped"));
}

/* Restart jicengd on a sound disk (no shim) and connect a new client. */
static void *
s_restart_sound(struct hd *d, struct st_eio *e, void *old_sock)
{
	hc_close(old_sock);
	hq_reset(d);
	hd_stop(d, 10000);  /* reaps what is left; its children are gone too (PDEATHSIG) */
	s_eio_fault(e, false);
	d->opts.env = NULL;
	assert_int_equal(hd_up(d), 0);
	return hc_connect(d);
}

static void
s_expect_duplicate_of_accepted(void *sock, const struct hmsg *m)
{
	Ack *a = hc_call(sock, m);
	assert_non_null(a);
	assert_string_equal(a->event_id, m->id);
	assert_int_equal(a->verdict, JICENG__V1__VERDICT__DUPLICATE);
	assert_int_equal(a->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
	hc_ack_free(a);
}

static void
s_count_id(void *arg, const char *member_id)
{
	int *n = arg;
	*n += strcmp(member_id, "eio-m-b") == 0;
}

/* The flush of a group commit fails. Event a was acknowledged before the
 * fault; b's commit cannot flush, so LMDB aborts it and ingest answers
 * RETRY_LATER (INTERNAL_ERROR), never ACCEPTED; the journal then refuses
 * every flush for good and ingest_sync stops jicengd with a fatal line and
 * status 1 (whether the RETRY_LATER leaves before the exit is a race: no
 * ack at all is as good). Restarted on a sound disk, a is a DUPLICATE of an
 * ACCEPTED event, and b, resent, is ACCEPTED and in the state once. */
static void
test_flush_failure_stops_without_acking(void **state)
{
	static struct st_eio e;
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	s_eio_arm(d, &e, NULL);
	assert_int_equal(hd_up(d), 0);
	assert_true(hd_io_shim_loaded(d));
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "eio"), 0);
	struct hmsg a = hm_member("eio-a", "eio-m-a", H_ORG_BRANCH, "落盘党员", NULL);
	struct hmsg b = hm_member("eio-b", "eio-m-b", H_ORG_BRANCH, "故障党员", NULL);
	assert_true(hc_expect(sock, &a, JICENG__V1__VERDICT__ACCEPTED, NULL));

	s_eio_fault(&e, true);
	assert_int_equal(hc_send(sock, &b), 0);
	Ack *ack = s_recv_or_exit(d, sock);
	int status = hd_wait_exit(d, 10000);
	fprintf(stderr, "  under EIO: %s %s; jicengd exit status %d\n",
	    ack ? codec_verdict_name(ack->verdict) : "no ack", ack ? ack->code : "",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (ack) {
		assert_string_equal(ack->event_id, "eio-b");
		assert_int_equal(ack->verdict, JICENG__V1__VERDICT__RETRY_LATER);
		assert_true(strcmp(ack->code, "INTERNAL_ERROR") == 0 || strcmp(ack->code, "STORAGE_FULL") == 0);
		assert_true(hd_log_has(d, "journal commit of 1 events failed: Input/output error"));
		hc_ack_free(ack);
		assert_null(hc_recv(sock, 200));
	}
	s_expect_flush_fatal(d, status);

	sock = s_restart_sound(d, &e, sock);
	s_expect_duplicate_of_accepted(sock, &a);
	assert_true(hc_expect(sock, &b, JICENG__V1__VERDICT__ACCEPTED, NULL));
	assert_true(hc_expect(sock, &b, JICENG__V1__VERDICT__DUPLICATE, NULL));
	QueryReply *r = hq_member(d, "eio-m-b");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	hq_free(r);
	r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_int_equal(r->org->member_count, 2);
	hq_free(r);
	int seen = 0;
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, s_count_id, &seen), 2);
	assert_int_equal(seen, 1);
	hc_close(sock);
	hm_free(&a);
	hm_free(&b);
	hd_pass(d);
}

/* The deferred flush fails instead. With the idle flush off (test hook),
 * b's group commit reaches the disk but its meta page waits for a flush
 * that only the stop drain does; the fault is switched on and jicengd told
 * to stop, so that flush is the one that fails: b is never acknowledged,
 * and jicengd exits 1 with the fatal line. Restarted, a is a DUPLICATE of
 * an ACCEPTED event; b, resent, is ACCEPTED or (its meta page made it to
 * the file after all) a DUPLICATE, and applied once either way. */
static void
test_deferred_flush_failure_stops_without_acking(void **state)
{
	static struct st_eio e;
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	s_eio_arm(d, &e, "JICENG_FAULT_NO_IDLE_FLUSH=1");
	assert_int_equal(hd_up(d), 0);
	assert_true(hd_io_shim_loaded(d));
	void *sock = hc_connect(d);
	struct hmsg a, b;
	s_township_and_village(&a, &b, "ef");
	assert_int_equal(hc_send(sock, &a), 0);
	assert_null(hc_recv(sock, 1000));  /* a waits for the next commit's flush */
	assert_int_equal(hc_send(sock, &b), 0);
	Ack *ack = hc_recv(sock, H_ACK_MS);
	assert_non_null(ack);
	assert_string_equal(ack->event_id, "ef-org-t");
	assert_int_equal(ack->verdict, JICENG__V1__VERDICT__ACCEPTED);
	hc_ack_free(ack);

	s_eio_fault(&e, true);
	int status = hd_stop(d, 10000);
	ack = hc_recv(sock, 500);
	fprintf(stderr, "  under EIO: %s; jicengd exit status %d\n",
	    ack ? codec_verdict_name(ack->verdict) : "no ack", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (ack)
		fail_msg("%s answered %s/%s after its flush failed", ack->event_id,
		    codec_verdict_name(ack->verdict), ack->code);
	s_expect_flush_fatal(d, status);

	sock = s_restart_sound(d, &e, sock);
	s_expect_duplicate_of_accepted(sock, &a);
	ack = hc_call(sock, &b);
	assert_non_null(ack);
	fprintf(stderr, "  %s resent after the restart: %s\n", b.id, codec_verdict_name(ack->verdict));
	if (ack->verdict == JICENG__V1__VERDICT__DUPLICATE)
		assert_int_equal(ack->original_verdict, JICENG__V1__VERDICT__ACCEPTED);
	else
		assert_int_equal(ack->verdict, JICENG__V1__VERDICT__ACCEPTED);
	hc_ack_free(ack);
	assert_true(hc_expect(sock, &b, JICENG__V1__VERDICT__DUPLICATE, NULL));
	QueryReply *r = hq_org(d, H_ORG_VILLAGE);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	hq_free(r);
	hc_close(sock);
	hm_free(&a);
	hm_free(&b);
	hd_pass(d);
}

int
integ_storage(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal_full, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_journal_grows, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_file_size_limit, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_on_full_disk, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_put_fails, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_state_map_grows, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_acks_wait_for_flush, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_flush_failure_stops_without_acking, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_deferred_flush_failure_stops_without_acking, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
