/*
 * 40-rebuild: a worker's state is fold(rules, journal), so it can be
 * recomputed from the journal alone. After a varied stream (accepted,
 * rule-rejected and refused events, a quarantined one), jicengd is stopped
 * and `jicengctl rebuild` (then fold_rebuild() called directly) must
 * reproduce state/membership.mdb byte for byte as `mdb_dump -a -n` shows
 * it; the daemon then runs on the rebuilt state as before. The same after
 * a restart with a lower O4 limit, whose RulesChanged writes audit entries.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "be64.h"
#include "config.h"
#include "iddigest.h"
#include "journal.h"
#include "fold.h"
#include "store.h"

#define DAY_MS 86400000LL

static struct hmsg s_keep;  /* one accepted envelope, kept to resend */

static void
s_fold_rebuild(struct hd *d)
{
	static struct config cfg;
	char state[256], err[512];
	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", d->dir);
	config_finish(&cfg);
	snprintf(state, sizeof state, "%s/state/membership.mdb", hd_derived(d));
	if (fold_rebuild(d->dir, state, DOMAIN_MEMBERSHIP, &cfg, NULL, NULL, NULL, err, sizeof err) != 0)
		fail_msg("fold_rebuild: %s", err);
}

/* A stream that touches every table: orgs, members with ID numbers,
 * probationary members confirmed or not, status changes, updates, a
 * dissolution, rule rejections, refusals. Returns the ACCEPTED count. */
static int
s_varied_stream(void *sock)
{
	int64_t now = now_wall_ms();
	int accepted = 0;
	char eid[48], mid[48], idn[19];
	Envelope e;
	struct hmsg m;
#define SEND(msg) do { \
		m = (msg); \
		Ack *a_ = hc_call(sock, &m); \
		assert_non_null(a_); \
		accepted += a_->verdict == JICENG__V1__VERDICT__ACCEPTED; \
		hc_ack_free(a_); \
		hm_free(&m); \
	} while (0)

	SEND(hm_org("rb-o-b2", "rb-b2", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE, H_ORG_TOWNSHIP, "第二支部"));
	SEND(hm_org("rb-o-g1", "rb-g1", JICENG__V1__ORG_KIND__PARTY_GROUP, "rb-b2", H_ORG_TOWNSHIP, "第一党小组"));
	SEND(hm_org("rb-o-x", "rb-x", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE, H_ORG_TOWNSHIP, "撤销支部"));
	SEND(hm_org("rb-o-bad", "rb-bad", JICENG__V1__ORG_KIND__PARTY_GROUP, H_ORG_VILLAGE, H_ORG_TOWNSHIP, "O1"));
	for (int i = 0; i < 300; i++) {
		char birth[9];
		snprintf(birth, sizeof birth, "19%02d%02d%02d", 50 + i % 50, 1 + i % 12, 1 + i % 28);
		h_idnum(birth, (unsigned)i, idn);
		snprintf(eid, sizeof eid, "rb-m-%d", i);
		snprintf(mid, sizeof mid, "rbm-%03d", i);
		m = hm_member(eid, mid, i % 2 ? H_ORG_BRANCH : "rb-b2", "党员", i % 3 ? idn : NULL);
		if (i == 1)
			s_keep = hm_raw(m.buf, m.len), memcpy(s_keep.id, m.id, sizeof s_keep.id);
		SEND(m);
		if (i % 15 == 1) {  /* the same person again: R4 */
			snprintf(eid, sizeof eid, "rb-r4-%d", i);
			snprintf(mid, sizeof mid, "rbr4-%03d", i);
			SEND(hm_member(eid, mid, H_ORG_BRANCH, "重复", idn));
		}
		if (i % 25 == 0) {  /* refused before journaling */
			snprintf(eid, sizeof eid, "rb-bad-%d", i);
			SEND(hm_member(eid, "rb-bad", H_ORG_BRANCH, "\xff", NULL));
		}
	}
	for (int i = 0; i < 30; i++) {
		Jiceng__V1__MemberAdmitted ad = JICENG__V1__MEMBER_ADMITTED__INIT;
		snprintf(eid, sizeof eid, "rb-ad-%d", i);
		snprintf(mid, sizeof mid, "rbp-%03d", i);
		hm_envelope(&e, eid, NULL);
		ad.member_id = mid;
		ad.org_id = i % 2 ? H_ORG_BRANCH : "rb-b2";
		ad.name = "预备党员";
		ad.birth_date = i % 7 ? "1995-02-03" : "2012-02-03";  /* some R2 */
		ad.admitted_at = now - (i < 15 ? 400 : 30) * DAY_MS;
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED;
		e.member_admitted = &ad;
		SEND(hm_pack(&e));
		Jiceng__V1__MemberConfirmed co = JICENG__V1__MEMBER_CONFIRMED__INIT;
		snprintf(eid, sizeof eid, "rb-co-%d", i);
		hm_envelope(&e, eid, NULL);
		co.member_id = mid;
		co.confirmed_at = now - DAY_MS;  /* R1 for the recent ones */
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED;
		e.member_confirmed = &co;
		SEND(hm_pack(&e));
	}
	for (int i = 0; i < 20; i++) {
		Jiceng__V1__MemberStatusChanged sc = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
		Jiceng__V1__MemberUpdated up = JICENG__V1__MEMBER_UPDATED__INIT;
		snprintf(mid, sizeof mid, "rbm-%03d", i * 7);
		snprintf(eid, sizeof eid, "rb-sc-%d", i);
		hm_envelope(&e, eid, NULL);
		sc.member_id = mid;
		sc.status = i % 2 ? JICENG__V1__MEMBER_STATUS__SUSPENDED : JICENG__V1__MEMBER_STATUS__DECEASED;
		sc.effective_at = now - DAY_MS;
		sc.reason = "测试";
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED;
		e.member_status_changed = &sc;
		SEND(hm_pack(&e));
		snprintf(eid, sizeof eid, "rb-up-%d", i);
		hm_envelope(&e, eid, NULL);
		snprintf(mid, sizeof mid, "rbm-%03d", i * 5 + 1);
		up.member_id = mid;
		up.name = "改名";
		up.phone = "13800138000";
		e.event_case = JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED;
		e.member_updated = &up;
		SEND(hm_pack(&e));
	}
	Jiceng__V1__OrgDissolved od = JICENG__V1__ORG_DISSOLVED__INIT;
	hm_envelope(&e, "rb-od", NULL);
	od.org_id = "rb-x";
	od.approving_org_id = H_ORG_TOWNSHIP;
	od.reason = "撤并";
	e.event_case = JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED;
	e.org_dissolved = &od;
	SEND(hm_pack(&e));
#undef SEND
	return accepted;
}

static uint32_t
s_branch_members(struct hd *d)
{
	QueryReply *r = hq_org(d, H_ORG_BRANCH);
	assert_non_null(r);
	assert_non_null(r->org);
	uint32_t n = r->org->member_count;
	hq_free(r);
	return n;
}

static void
test_rebuild_byte_for_byte(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "rb"), 0);
	int accepted = s_varied_stream(sock);
	assert_true(accepted > 300);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	uint32_t members = s_branch_members(d);
	assert_true(members > 100);

	/* jicengctl refuses while jicengd runs on the data dir (it knows
	 * jicengd by its /proc comm, which valgrind changes). */
	if (h_ms(1) == 1)
		assert_int_not_equal(hd_ctl_rebuild(d, "membership"), 0);

	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	char before[256], after[256];
	hd_state_dump(d, NULL, "membership", "before.dump", before, sizeof before);

	assert_int_equal(hd_ctl_rebuild(d, "membership"), 0);
	hd_state_dump(d, NULL, "membership", "after-ctl.dump", after, sizeof after);
	assert_true(h_same_file(before, after));

	s_fold_rebuild(d);
	hd_state_dump(d, NULL, "membership", "after-fold.dump", after, sizeof after);
	assert_true(h_same_file(before, after));

	/* The daemon runs on the rebuilt state as before: the same answers,
	 * the stored verdicts for duplicates, and new events on top. */
	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	assert_int_equal(s_branch_members(d), members);
	assert_true(hc_expect(sock, &s_keep, JICENG__V1__VERDICT__DUPLICATE, "OK"));
	hm_free(&s_keep);
	struct hmsg fresh = hm_member("rb-new", "rbm-new", H_ORG_BRANCH, "新党员", NULL);
	assert_true(hc_expect(sock, &fresh, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&fresh);
	hc_close(sock);
	hd_pass(d);
}

/* derived_dir holds what the journal can rebuild (ids.mdb, state/), and
 * nothing else goes there; jicengctl rebuild honours it. Lost whole, as a
 * tmpfs is at a reboot, it is rebuilt at the next start: the same answers,
 * resends still duplicates, and the state is fold(journal) byte for byte
 * (the journal has grown by the start-up Tick, so it is compared with a
 * rebuild of the journal as it then is). */
static void
test_rebuild_derived_dir_lost(void **state)
{
	struct hd_opts o = { .config = "" };
	struct hd *d = hd_new(&o);
	char derived[256], path[320], before[256], after[256];
	assert_non_null(d);
	*state = d;
	snprintf(derived, sizeof derived, "%s/derived", d->dir);
	hd_config_write(d, "[daemon]\nderived_dir = %s\n", derived);

	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "dd"), 0);
	assert_true(s_varied_stream(sock) > 300);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	uint32_t members = s_branch_members(d);
	assert_true(members > 100);
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	snprintf(path, sizeof path, "%s/ids.mdb", derived);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/ids.mdb", d->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/state", d->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/journal.mdb", d->dir);
	assert_int_equal(access(path, F_OK), 0);
	hd_state_dump(d, derived, "membership", "before.dump", before, sizeof before);

	char bin[512], err[320];
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(err, sizeof err, "%s/rebuild.log", d->dir);
	char *ctl[] = { bin, "rebuild", "--domain", "membership", "--config", d->config,
		"--data-dir", d->dir, "-q", NULL };
	assert_int_equal(h_run(ctl, NULL, err, 60000), 0);
	hd_state_dump(d, derived, "membership", "after-ctl.dump", after, sizeof after);
	assert_true(h_same_file(before, after));

	char *rm[] = { "/bin/rm", "-rf", derived, NULL };
	assert_int_equal(h_run(rm, NULL, NULL, 20000), 0);
	assert_int_equal(hd_up(d), 0);
	/* The first start's, and this one's, of each of the three workers. */
	assert_int_equal(hd_log_count(d, "does not exist: applying"), 2 * 3);
	assert_true(hd_log_has(d, "ids.mdb built anew from the journal: it did not exist"));
	sock = hc_connect(d);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	assert_int_equal(s_branch_members(d), members);
	assert_true(hc_expect(sock, &s_keep, JICENG__V1__VERDICT__DUPLICATE, "OK"));
	hm_free(&s_keep);
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_state_dump(d, derived, "membership", "after-loss.dump", before, sizeof before);
	assert_int_equal(h_run(ctl, NULL, err, 60000), 0);
	hd_state_dump(d, derived, "membership", "after-ctl2.dump", after, sizeof after);
	assert_true(h_same_file(before, after));
	/* jicengctl rebuild into a derived_dir that is gone (a reboot emptied
	 * it while jicengd was stopped) makes it again. */
	assert_int_equal(h_run(rm, NULL, NULL, 20000), 0);
	assert_int_equal(h_run(ctl, NULL, err, 60000), 0);
	hd_state_dump(d, derived, "membership", "after-ctl3.dump", after, sizeof after);
	assert_true(h_same_file(before, after));
	hd_pass(d);
}

/* The quarantine is in the journal: a rebuild honours it (the fault is
 * still armed in jicengctl's environment and must not fire) and yields
 * the same state. */
static void
test_rebuild_quarantined(void **state)
{
	struct hd_opts o = { .env = (const char *[]){ "JICENG_FAULT_CRASH_EVENT=rq-poison", NULL } };
	struct hd *d = hd_new(&o);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "rq"), 0);
	struct hmsg a = hm_member("rq-1", "rqm-1", H_ORG_BRANCH, "甲", NULL);
	struct hmsg p = hm_member("rq-poison", "rqm-p", H_ORG_BRANCH, "毒", NULL);
	struct hmsg b = hm_member("rq-2", "rqm-2", H_ORG_BRANCH, "乙", NULL);
	assert_true(hc_expect(sock, &a, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	assert_int_equal(hc_send(sock, &p), 0);
	assert_int_equal(hc_send(sock, &b), 0);
	for (int i = 0; i < 2; i++) {
		Ack *ack = hc_recv(sock, 30000);
		assert_non_null(ack);
		if (strcmp(ack->event_id, "rq-poison") == 0)
			assert_string_equal(ack->code, "INTERNAL_ERROR");
		else
			assert_int_equal(ack->verdict, JICENG__V1__VERDICT__ACCEPTED);
		hc_ack_free(ack);
	}
	hm_free(&a);
	hm_free(&p);
	hm_free(&b);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);

	char before[256], after[256];
	hd_state_dump(d, NULL, "membership", "before.dump", before, sizeof before);
	setenv("JICENG_FAULT_CRASH_EVENT", "rq-poison", 1);
	int rc = hd_ctl_rebuild(d, "membership");
	unsetenv("JICENG_FAULT_CRASH_EVENT");
	assert_int_equal(rc, 0);
	hd_state_dump(d, NULL, "membership", "after.dump", after, sizeof after);
	assert_true(h_same_file(before, after));
	hd_pass(d);
}

/* A restart with a lower org.branch_max_members journals a RulesChanged
 * whose O4 audit writes an entry per branch over the new limit; the
 * rebuild writes the same entries (orgs walked in key order): the state is
 * the same byte for byte. */
static void
test_rebuild_after_o4_audit(void **state)
{
	struct hd_opts o = { .config = "[rules]\norg.branch_max_members = 50\n" };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "ra", &sock);
	struct hmsg b2 = hm_org("ra-o-b2", "ra-b2", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    H_ORG_TOWNSHIP, "第二支部");
	assert_true(hc_expect(sock, &b2, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&b2);
	assert_true(hc_members(sock, "ra", H_ORG_BRANCH, 0, 5) > 0);
	assert_true(hc_members(sock, "ra", "ra-b2", 5, 9) > 0);
	hc_close(sock);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_config_write(d, "[rules]\norg.branch_max_members = 3\n");
	assert_int_equal(hd_up(d), 0);
	assert_int_equal(hq_caught_up(d, 10000), 0);
	QueryReply *r = hq_audit(d, NULL, 0);
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	assert_int_equal(r->audit->n_entries, 2);      /* ra-b2 (4), t-branch (5) */
	assert_string_equal(r->audit->entries[0]->org_id, "ra-b2");
	assert_string_equal(r->audit->entries[1]->org_id, H_ORG_BRANCH);
	hq_free(r);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);

	char before[256], after[256];
	hd_state_dump(d, NULL, "membership", "before.dump", before, sizeof before);
	assert_int_equal(hd_ctl_rebuild(d, "membership"), 0);
	hd_state_dump(d, NULL, "membership", "after.dump", after, sizeof after);
	assert_true(h_same_file(before, after));
	hd_pass(d);
}

/* The cursor a worker committed, read from its environment (read-only,
 * opened and closed here); 0 when not readable yet. */
static uint64_t
s_state_cursor(struct hd *d, const char *domain)
{
	char path[256];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = { 6, "cursor" }, v;
	uint64_t cur = 0;
	snprintf(path, sizeof path, "%s/state/%s.mdb", hd_derived(d), domain);
	if (mdb_env_create(&env))
		return 0;
	mdb_env_set_maxdbs(env, 32);
	if (mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR, 0) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_dbi_open(txn, "meta", 0, &meta) == 0 && mdb_get(txn, meta, &k, &v) == 0 &&
		    v.mv_size == 8)
			for (int i = 0; i < 8; i++)
				cur = (cur << 8) | ((const uint8_t *)v.mv_data)[i];
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return cur;
}

/* One database's section of an mdb_dump -a output (from its
 * "database=NAME" line to the next "DATA=END"), malloc'd, or NULL. */
static char *
s_section(const char *dump_path, const char *db)
{
	char *text = h_slurp(dump_path, NULL), key[96];
	if (!text)
		return NULL;
	snprintf(key, sizeof key, "database=%s\n", db);
	char *start = strstr(text, key), *out = NULL;
	if (start && (start == text || start[-1] == '\n')) {
		char *end = strstr(start, "DATA=END\n");
		if (end)
			out = strndup(start, (size_t)(end - start));
	}
	free(text);
	return out;
}

/* Three workers, each folding the whole journal into its own environment:
 * `jicengctl rebuild --domain all` reproduces all three, and the
 * membership tables every worker embeds are the same in all three. */
static void
test_rebuild_all_domains(void **state)
{
	struct hd_opts o = { .config = "[daemon]\nworkers = membership,meetings,funds\n" };
	void *sock;
	struct hd *d = hd_up_with_tree(state, &o, "ra", &sock);
	assert_true(s_varied_stream(sock) > 300);
	hm_free(&s_keep);
	hc_close(sock);
	/* Every worker caught up, read from its own environment (stats may not
	 * list them all). */
	uint64_t last = hq_journal_length(d);
	assert_int_not_equal(last, UINT64_MAX);
	for (int i = 0; i < 3; i++) {
		static const char *dom[] = { "membership", "meetings", "funds" };
		uint64_t cur = 0;
		for (int64_t end = now_mono_ms() + h_ms(20000); now_mono_ms() < end; h_sleep_ms(50))
			if ((cur = s_state_cursor(d, dom[i])) >= last)
				break;
		if (cur < last)
			fail_msg("%s stuck at %llu of %llu", dom[i], (unsigned long long)cur,
			    (unsigned long long)last);
	}
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);

	static const char *domains[] = { "membership", "meetings", "funds" };
	char before[3][256], after[256], name[64];
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "%s.before", domains[i]);
		hd_state_dump(d, NULL, domains[i], name, before[i], sizeof before[i]);
	}
	char bin[512], err[256];
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(err, sizeof err, "%s/rebuild.log", d->dir);
	char *ctl[] = { bin, "rebuild", "--domain", "all", "--config", d->config, "--data-dir", d->dir,
		"-q", NULL };
	assert_int_equal(h_run(ctl, NULL, err, 60000), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "%s.after", domains[i]);
		hd_state_dump(d, NULL, domains[i], name, after, sizeof after);
		if (!h_same_file(before[i], after))
			fail_msg("rebuild of %s differs", domains[i]);
	}
	static const char *shared[] = { "orgs", "orgs_children", "members", "members_by_org",
		"members_by_index", "membership_meta", "orgs_o3_pending", "membership_audit" };
	for (size_t t = 0; t < sizeof shared / sizeof shared[0]; t++) {
		char *ref = s_section(before[0], shared[t]);
		assert_non_null(ref);
		for (int i = 1; i < 3; i++) {
			char *other = s_section(before[i], shared[t]);
			if (!other || strcmp(ref, other) != 0)
				fail_msg("table %s of %s differs from membership's", shared[t], domains[i]);
			free(other);
		}
		free(ref);
	}
	hd_pass(d);
}

static ino_t
s_state_inode(struct hd *d)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof path, "%s/state/membership.mdb", hd_derived(d));
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* Every process gone at once, as when the machine goes down: jicengd is
 * held (SIGSTOP) so that it neither restarts the worker nor lets it stop
 * cleanly, the worker is killed, then jicengd. */
static void
s_kill_all(struct hd *d)
{
	pid_t worker = hd_child(d, "membership");
	assert_true(worker > 0);
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	assert_int_equal(kill(worker, SIGKILL), 0);
	for (int i = 0; i < 200 && !h_pid_gone(worker); i++)
		usleep(10000);
	assert_true(h_pid_gone(worker));
	hd_kill9(d);
}

/* The state file is written without flushes, which kill -9 never notices
 * but a machine going down can tear. A worker killed in this boot resumes
 * on its file; one whose file was open when "another boot" ended (its open
 * marker says so; JICENG_BOOT_ID stands in for a reboot) rebuilds the file
 * from the journal before applying anything, and the state is the same.
 * The rebuild of 100 000 events outlasts ten 50 ms heartbeats: the worker
 * must say it is alive meanwhile, or jicengd kills it again and again. */
#define MC_BULK 100000
static void
test_rebuild_after_machine_crash(void **state)
{
	struct hd_opts o = { .config = "[daemon]\nheartbeat_ms = 50\n" };
	struct hd *d = hd_new(&o);
	static struct hmsg bulk[MC_BULK];
	static struct hmsg *order[MC_BULK];
	char marker[256];
	assert_non_null(d);
	*state = d;
	snprintf(marker, sizeof marker, "%s/state/membership.mdb.open", hd_derived(d));
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "mc"), 0);
	assert_true(s_varied_stream(sock) > 300);
	hm_free(&s_keep);
	for (int i = 0; i < MC_BULK; i++) {
		char eid[32], mid[32];
		snprintf(eid, sizeof eid, "mcb-%06d", i);
		snprintf(mid, sizeof mid, "mcbm-%06d", i);
		bulk[i] = hm_member(eid, mid, H_ORG_BRANCH, "批量党员", NULL);
		order[i] = &bulk[i];
	}
	struct hpump p = { .sock = sock, .send = order, .nsend = MC_BULK, .window = 500 };
	assert_int_equal(hp_run(&p, 120000), 0);
	for (int i = 0; i < MC_BULK; i++)
		if (i != 7)  /* kept to resend */
			hm_free(&bulk[i]);
	assert_int_equal(hq_caught_up(d, 60000), 0);
	uint32_t members = s_branch_members(d);
	assert_true(members > MC_BULK);
	hc_close(sock);
	hq_reset(d);
	s_kill_all(d);
	assert_int_equal(access(marker, F_OK), 0);
	ino_t ino = s_state_inode(d);

	assert_int_equal(hd_up(d), 0);  /* the same boot: no rebuild */
	assert_false(hd_log_has(d, "was open when the machine went down"));
	assert_false(hd_log_has(d, "ids.mdb built anew"));
	assert_true(s_state_inode(d) == ino);
	hq_reset(d);
	s_kill_all(d);

	d->opts.env = (const char *[]){ "JICENG_BOOT_ID=0e0e0e0e-test-0000-0000-another-boot", NULL };
	int up = hd_up(d);
	d->opts.env = NULL;
	assert_int_equal(up, 0);
	assert_true(hd_log_has(d, "was open when the machine went down"));
	assert_true(hd_log_has(d, "rebuilt "));
	/* jicengd's dedupe index too: every key read back, resends still
	 * duplicates. */
	assert_true(hd_log_has(d, "ids.mdb built anew from the journal: the machine went down"));
	sock = hc_connect(d);
	assert_true(hc_expect(sock, &bulk[7], JICENG__V1__VERDICT__DUPLICATE, "OK"));
	hm_free(&bulk[7]);
	hc_close(sock);
	assert_false(hd_log_has(d, "silent for"));
	assert_true(s_state_inode(d) != ino);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	assert_int_equal(s_branch_members(d), members);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_not_equal(access(marker, F_OK), 0);  /* a clean stop removes it */
	hd_pass(d);
}

/* A journal whose last commits never reached the disk (LMDB undoes them
 * whole) while the worker had applied them: put back an older copy of the
 * journal. The worker finds its cursor ahead of the journal and rebuilds. */
static void
test_rebuild_state_ahead_of_journal(void **state)
{
	struct hd *d = hd_new(NULL);
	char journal[256], saved[256];
	assert_non_null(d);
	*state = d;
	snprintf(journal, sizeof journal, "%s/journal.mdb", d->dir);
	snprintf(saved, sizeof saved, "%s/journal.mdb.saved", d->dir);
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "ja"), 0);
	struct hmsg m = hm_member("ja-1", "jam-1", H_ORG_BRANCH, "第一", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&m);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	uint32_t members = s_branch_members(d);
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	char *cp[] = { "/bin/cp", journal, saved, NULL };
	assert_int_equal(h_run(cp, NULL, NULL, 10000), 0);

	assert_int_equal(hd_up(d), 0);
	sock = hc_connect(d);
	m = hm_member("ja-2", "jam-2", H_ORG_BRANCH, "第二", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&m);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	assert_int_equal(s_branch_members(d), members + 1);
	hc_close(sock);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	assert_int_equal(rename(saved, journal), 0);

	assert_int_equal(hd_up(d), 0);
	assert_true(hd_log_has(d, "is ahead of the journal"));
	assert_int_equal(hq_caught_up(d, 20000), 0);
	assert_int_equal(s_branch_members(d), members);
	QueryReply *r = hq_member(d, "jam-2");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	hq_reset(d);
	hd_pass(d);
}

/* A rebuild replaces the state file while other processes read the old
 * one. During the rebuild (held by a test hook) the query server answers
 * a query and jicengd writes its metrics, both from the old file;
 * afterwards both must read the new one: jicengd's acks of new events come
 * from it, and the query server must not answer from the old file for
 * ever. The worker writes the new file through a lock file of its own. */
static void
test_rebuild_while_read(void **state)
{
	struct hd_opts o = { .config = "" };
	struct hd *d = hd_new(&o);
	char hold[256], hold_env[300], path[256], metrics[256], eid[32], mid[32];
	assert_non_null(d);
	*state = d;
	snprintf(metrics, sizeof metrics, "%s/jiceng.prom", d->dir);
	hd_config_write(d, "[metrics]\ntextfile = %s\ninterval_s = 1\n", metrics);
	snprintf(hold, sizeof hold, "%s/hold-rebuild", d->dir);
	snprintf(hold_env, sizeof hold_env, "JICENG_FAULT_REBUILD_HOLD=%s", hold);
	snprintf(path, sizeof path, "%s/state/membership.mdb", hd_derived(d));
	assert_int_equal(hd_up(d), 0);
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "rr"), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(eid, sizeof eid, "rr-%d", i);
		snprintf(mid, sizeof mid, "rrm-%d", i);
		struct hmsg m = hm_member(eid, mid, H_ORG_BRANCH, "党员", NULL);
		assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
		hm_free(&m);
	}
	assert_int_equal(hq_caught_up(d, 20000), 0);
	uint32_t members = s_branch_members(d);
	hc_close(sock);
	hq_reset(d);
	s_kill_all(d);

	h_write_file(hold, "%s", "");
	unlink(metrics);
	d->opts.env = (const char *[]){ "JICENG_BOOT_ID=0e0e0e0e-test-0000-0000-another-boot", hold_env, NULL };
	assert_int_equal(hd_start(d), 0);
	assert_true(hd_log_wait(d, "was open when the machine went down", 10000));
	QueryReply *r = hq_member(d, "rrm-0");  /* the query server opens the old file */
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	hq_free(r);
	char *text = NULL;
	for (int i = 0; i < 150 && !(text && strstr(text, "jiceng_events_total{domain=\"membership\"")); i++) {
		free(text);
		h_sleep_ms(20);
		text = h_slurp(metrics, NULL);
	}
	assert_non_null(text);  /* jicengd read the old file's counts */
	assert_non_null(strstr(text, "jiceng_events_total{domain=\"membership\""));
	free(text);
	assert_false(hd_log_has(d, "rebuilt "));
	assert_int_equal(unlink(hold), 0);
	assert_int_equal(hd_notify_wait(d, "READY=1", 30000), 0);
	d->opts.env = NULL;
	assert_true(hd_log_has(d, "rebuilt "));

	sock = hc_connect(d);
	struct hmsg m = hm_member("rr-new", "rrm-new", H_ORG_BRANCH, "新党员", NULL);
	assert_true(hc_expect(sock, &m, JICENG__V1__VERDICT__ACCEPTED, "OK"));
	hm_free(&m);
	hc_close(sock);
	assert_int_equal(hq_caught_up(d, 20000), 0);
	r = hq_member(d, "rrm-new");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	hq_free(r);
	assert_int_equal(s_branch_members(d), members + 1);
	assert_true(hd_log_has(d, "was rebuilt: reading the new file"));

	MDB_env *env;
	assert_int_equal(store_open_readonly(path, 32, &env), 0);  /* EAGAIN: the old lock file */
	mdb_env_close(env);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	hd_pass(d);
}

/* Journal msgs as a jicengd from before digesting did: the frames as they
 * came, ID numbers and all, and no id_digest_since. */
static void
s_journal_legacy(struct hd *d, struct hmsg *msgs, int n)
{
	struct journal *j;
	MDB_txn *txn;
	uint64_t seq;
	assert_int_equal(journal_open_at(&j, d->dir, hd_derived(d), 64, 64, false), 0);
	assert_int_equal(journal_write_begin(j, &txn), 0);
	for (int i = 0; i < n; i++) {
		Envelope *e = codec_envelope_unpack(msgs[i].buf, msgs[i].len);
		assert_non_null(e);
		assert_int_equal(journal_append(j, txn, now_wall_ms(), e->event_case, e->township_id,
		    e->event_id, msgs[i].buf, msgs[i].len, &seq), 0);
		codec_envelope_free(e);
	}
	assert_int_equal(journal_commit(j, txn), 0);
	journal_close(&j);
}

/* Older still: the ids value of msg's key holds the envelope's SHA-256
 * after the seq (journals from before 2026-11). */
static void
s_ids_legacy(struct hd *d, const struct hmsg *msg, uint64_t seq)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi ids;
	char path[256], kb[160];
	uint8_t v[8 + crypto_hash_sha256_BYTES];
	Envelope *e = codec_envelope_unpack(msg->buf, msg->len);
	assert_non_null(e);
	int kn = snprintf(kb, sizeof kb, "%s%c%s", e->township_id, 0, e->event_id);
	codec_envelope_free(e);
	be64_put(v, seq);
	crypto_hash_sha256(v + 8, msg->buf, msg->len);
	snprintf(path, sizeof path, "%s/journal.mdb", d->dir);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0640), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "ids", 0, &ids), 0);
	MDB_val key = { (size_t)kn, kb }, val = { sizeof v, v };
	assert_int_equal(mdb_put(txn, ids, &key, &val, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static int
s_jicengctl_scrub(struct hd *d)
{
	char bin[512], err[256];
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	snprintf(err, sizeof err, "%s/scrub.err", d->dir);
	char *argv[] = { bin, "scrub-ids", "--data-dir", d->dir, NULL };
	return h_run(argv, NULL, err, 60000);
}

static bool
s_file_has(const char *dir, const char *name, const char *s, size_t n)
{
	char path[256];
	size_t len;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	char *bytes = h_slurp(path, &len);
	assert_non_null(bytes);
	bool has = memmem(bytes, len, s, n) != NULL;
	free(bytes);
	return has;
}

/* A journal from before digesting holds ID numbers in clear: jicengd says
 * so at start, jicengctl scrub-ids digests them (a valid and an invalid
 * one) and compacts the file, the state rebuilt from the scrubbed journal is
 * the state before byte for byte, and a resend of the original frame is
 * still a DUPLICATE of its seq. */
static void
test_scrub_ids(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	char good[19], bad[19];
	h_idnum("19800315", 123, good);
	h_idnum("19811224", 77, bad);
	bad[17] = bad[17] == '0' ? '1' : '0';
	struct hmsg m[5];
	hm_org_tree(m, "sc");
	m[3] = hm_member("sc-m1", "scm-1", H_ORG_BRANCH, "张三", good);
	m[4] = hm_member("sc-m2", "scm-2", H_ORG_BRANCH, "李四", bad);
	s_journal_legacy(d, m, 5);
	s_ids_legacy(d, &m[3], 4);
	assert_true(s_file_has(d->dir, "journal.mdb", good + 6, 11));

	assert_int_equal(hd_up(d), 0);
	assert_true(hd_log_has(d, "events 1-5 were journaled before jiceng digested"));
	assert_int_equal(hq_caught_up(d, 20000), 0);
	QueryReply *r = hq_member(d, "scm-1");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
	char masked[19];
	snprintf(masked, sizeof masked, "%.6s********%.4s", good, good + 14);
	assert_string_equal(r->member->id_masked, masked);
	hq_free(r);
	hq_reset(d);
	assert_int_equal(hd_stop(d, 10000), 0);
	char before[256], after[256];
	hd_state_dump(d, NULL, "membership", "before.dump", before, sizeof before);

	assert_int_equal(s_jicengctl_scrub(d), 0);
	assert_false(s_file_has(d->dir, "journal.mdb", good + 6, 11));
	assert_false(s_file_has(d->dir, "journal.mdb", bad + 6, 11));
	assert_false(s_file_has(hd_derived(d), "state/membership.mdb", good + 6, 11));
	assert_int_equal(s_jicengctl_scrub(d), 0);  /* nothing left: still 0 */
	assert_int_equal(hd_ctl_rebuild(d, "membership"), 0);
	hd_state_dump(d, NULL, "membership", "after.dump", after, sizeof after);
	assert_true(h_same_file(before, after));

	assert_int_equal(hd_up(d), 0);
	size_t loglen;
	char *log = h_slurp(d->log, &loglen);
	assert_non_null(log);
	char *first = memmem(log, loglen, "were journaled before", 21);
	assert_non_null(first);  /* said at the first start, not at this one */
	assert_null(memmem(first + 1, loglen - (size_t)(first + 1 - log), "were journaled before", 21));
	free(log);
	void *sock = hc_connect(d);
	assert_true(hc_expect(sock, &m[3], JICENG__V1__VERDICT__DUPLICATE, "OK"));
	r = hq_member(d, "scm-1");
	assert_non_null(r);
	assert_string_equal(r->member->id_masked, masked);
	hq_free(r);
	r = hq_member(d, "scm-2");
	assert_non_null(r);
	assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__NOT_FOUND);
	hq_free(r);
	hc_close(sock);
	for (int i = 0; i < 5; i++)
		hm_free(&m[i]);
	hd_pass(d);
}

int
integ_rebuild(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rebuild_byte_for_byte, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_derived_dir_lost, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_quarantined, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_after_o4_audit, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_all_domains, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_after_machine_crash, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_state_ahead_of_journal, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_while_read, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_scrub_ids, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("rebuild", tests, NULL, NULL);
}
