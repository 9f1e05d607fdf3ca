/*
 * 47-powercut: no acknowledged event is lost when the machine loses power.
 *
 * jicengd runs with io_shim.c, which logs every write and flush of
 * journal.mdb. Under a pipelined stream, after 1000 acks to the stream,
 * jicengd's main thread freezes right after the next ack it sends that
 * meets a condition (JICENG_FAULT_FREEZE_AFTER_ACKS), so that the power
 * goes at a bad moment: in one test while a commit awaits its flush (its
 * events may be lost, never those acknowledged), in the other at the first
 * ack of an event of the latest commit (that commit must be on disk). The
 * stream goes on until jicengd has frozen: how soon the condition comes
 * depends on how the client, jicengd and the worker are scheduled (see
 * s_power_cut), so the test waits for it rather than counting on it within
 * a fixed number of events. The client reads the acks sent until then,
 * and every process is killed at once. From the log we
 * build journal files a power cut could leave: every write up to the last
 * flush, and of the writes after it, on the first disk none, on the second
 * all, on the others each kept whole, torn (a random subset of its
 * 512-byte sectors) or lost. On each disk (a new boot, so the workers
 * rebuild their state from the journal) every event the client saw
 * acknowledged must be there with its seq: its resend is a DUPLICATE of it.
 * The others sent, resent, are applied once; each member is on the roster
 * once.
 *
 * JICENG_POWERCUT_SEED fixes the random choices (the seed is printed);
 * JICENG_POWERCUT_IMAGES sets how many disks are tried (default 4).
 */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "powercut_log.h"

#define PC_N 30000        /* events the stream may send before jicengd freezes */
#define PC_CUT_AT 1000    /* acks to the stream before the power goes */
#define PC_STREAM_MS 60000   /* within the test's time limit, H_TEST_LIMIT_S */
#define PC_ORG_ACKS 3     /* hc_org_tree's */
#define PC_SECTOR 512

struct pc_disk {
	int flushed;          /* records up to the last flush: all on disk */
	int whole, torn, lost;
};

static bool
s_has_data(uint32_t kind)
{
	return kind == POWERCUT_WRITE || kind == POWERCUT_DURABLE;
}

static void
s_put(int fd, const char *data, uint64_t off, uint64_t len)
{
	if (pwrite(fd, data, len, (off_t)off) != (ssize_t)len)
		fail_msg("pwrite of the disk image failed");
}

/* Write a random subset of the record's 512-byte sectors (on the file's
 * sector boundaries); a record within one sector is kept whole. */
static void
s_put_torn(int fd, const char *data, uint64_t off, uint64_t len, unsigned *seed)
{
	uint64_t at = off, end = off + len;
	while (at < end) {
		uint64_t next = (at / PC_SECTOR + 1) * PC_SECTOR;
		if (next > end)
			next = end;
		if (len <= PC_SECTOR || rand_r(seed) % 2)
			s_put(fd, data + (at - off), at, next - at);
		at = next;
	}
}

/* What becomes of the writes after the last flush. */
enum pc_tail { PC_TAIL_LOST, PC_TAIL_WHOLE, PC_TAIL_RANDOM };

/* Build at out_path the journal a power cut could leave, from the shim's
 * write log. */
static void
s_disk_image(const char *log_path, const char *out_path, enum pc_tail tail, unsigned *seed,
    struct pc_disk *disk)
{
	size_t len, at = 0, end, last_flush = 0;
	struct powercut_record h;
	char *log = h_slurp(log_path, &len);
	if (!log)
		fail_msg("no write log at %s: was the shim loaded?", log_path);
	memset(disk, 0, sizeof *disk);
	for (;;) {
		if (at + sizeof h > len)
			break;
		memcpy(&h, log + at, sizeof h);
		if (h.magic != POWERCUT_MAGIC)
			fail_msg("write log %s: bad record at byte %zu", log_path, at);
		size_t next = at + sizeof h + (s_has_data(h.kind) ? h.len : 0);
		if (next > len)
			break;  /* cut short by the kill */
		if (h.kind == POWERCUT_FLUSH)
			last_flush = next;
		at = next;
	}
	end = at;
	int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	for (at = 0; at < end; at += sizeof h + (s_has_data(h.kind) ? h.len : 0)) {
		memcpy(&h, log + at, sizeof h);
		const char *data = log + at + sizeof h;
		if (h.kind == POWERCUT_FLUSH)
			continue;
		unsigned fate = at < last_flush || h.kind == POWERCUT_DURABLE ? 0 :
		    tail == PC_TAIL_LOST ? 3 : tail == PC_TAIL_WHOLE ? 1 : 1 + rand_r(seed) % 3;
		if (h.kind == POWERCUT_TRUNCATE) {
			if (fate != 3 && ftruncate(fd, (off_t)h.off) != 0)
				fail_msg("ftruncate of the disk image failed");
		} else if (fate == 0 || fate == 1) {
			s_put(fd, data, h.off, h.len);
		} else if (fate == 2) {
			s_put_torn(fd, data, h.off, h.len, seed);
		}
		int *count[] = { &disk->flushed, &disk->whole, &disk->torn, &disk->lost };
		(*count[fate])++;
	}
	assert_int_equal(close(fd), 0);
	free(log);
}

/* Every process at once: jicengd is stopped first so that it does not
 * restart a child. */
static void
s_power_off(struct hd *d)
{
	pid_t kids[16];
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	int n = h_children(d->pid, kids, 16);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	hd_kill9(d);
}

struct pc {
	struct hd *d;
	bool resending;
	bool acked[PC_N];      /* acknowledged before the power cut */
	uint64_t seq[PC_N];
	int answers[PC_N];     /* answers to the resends */
	int bad;
	int dups;
};

static int
s_pc_index(const char *event_id)
{
	int i;
	if (sscanf(event_id, "pc-%d", &i) != 1 || i < 0 || i >= PC_N)
		return -1;
	return i;
}

static void
s_pc_ack(struct hpump *p, Ack *a)
{
	struct pc *k = p->arg;
	int i = s_pc_index(a->event_id);
	bool accepted = a->verdict == JICENG__V1__VERDICT__ACCEPTED;
	bool dup = a->verdict == JICENG__V1__VERDICT__DUPLICATE &&
	    a->original_verdict == JICENG__V1__VERDICT__ACCEPTED;
	if (i < 0 || (!k->resending && (!accepted || k->acked[i]))) {
		fprintf(stderr, "unexpected ack: %s %s/%s\n", a->event_id,
		    codec_verdict_name(a->verdict), a->code);
		k->bad++;
		return;
	}
	if (!k->resending) {
		k->acked[i] = true;
		k->seq[i] = a->seq;
		return;
	}
	k->answers[i]++;
	k->dups += dup;
	if (k->acked[i] && !(dup && a->seq == k->seq[i])) {
		fprintf(stderr, "pc-%05d, acknowledged at seq %llu before the power cut: now %s/%s seq %llu\n",
		    i, (unsigned long long)k->seq[i], codec_verdict_name(a->verdict), a->code,
		    (unsigned long long)a->seq);
		k->bad++;
	} else if (!accepted && !dup) {
		fprintf(stderr, "pc-%05d resent: %s/%s\n", i, codec_verdict_name(a->verdict), a->code);
		k->bad++;
	}
}

/* Once jicengd has frozen (it logs that before its last ack), read the
 * acks still on their way, then cut the power. */
static void
s_pc_stream_ack(struct hpump *p, Ack *a)
{
	struct pc *k = p->arg;
	s_pc_ack(p, a);
	if (p->stop || p->acked < PC_CUT_AT || !hd_log_has(k->d, "JICENG_FAULT_FREEZE_AFTER_ACKS: frozen"))
		return;
	for (Ack *late; (late = hc_recv(p->sock, 300)); hc_ack_free(late))
		s_pc_ack(p, late);
	s_power_off(k->d);
	p->stop = true;
}

/* The stream ran out of events, or of time, before jicengd froze. */
static void
s_pc_never_froze(const struct hpump *p, int rc)
{
	fail_msg("jicengd did not freeze in %d ms and %d events (%d acknowledged, pump %d): no ack "
	    "was sent that met JICENG_FAULT_FREEZE_AFTER_ACKS", PC_STREAM_MS, p->sent, p->acked, rc);
}

static void
s_pc_seen(void *arg, const char *member_id)
{
	int *seen = arg;
	int i;
	if (sscanf(member_id, "pcm-%d", &i) == 1 && i >= 0 && i < PC_N)
		seen[i]++;
}

/* Why the stream waits for the freeze. An ack sent while a commit awaits
 * its flush needs two commits back to back: jicengd skips the flush after
 * a commit only while more envelopes wait to be read (jicengd.c, s_loop),
 * and an ack of the first commit goes out once the second commit's flush
 * has made it durable. On an idle machine the client's sends trickle in
 * while jicengd commits, and the first eligible ack qualifies. Under load
 * (a CPU hog beside the suite), jicengd is off the CPU while a burst of
 * the client's envelopes arrives, reads all of it in one pass, finds
 * nothing waiting, flushes at once, and every ack then goes out after a
 * flush: 3000 events sometimes ended with none that qualified. So the
 * stream goes on with fresh events until jicengd freezes (bounded by
 * PC_STREAM_MS), and a small max_batch makes each burst span several
 * commits, so that the moment comes soon. */
static void
s_power_cut(void **state, const char *freeze_when)
{
	char log_var[300], freeze[64], log_path[256], journal[256], image[256], lock[256];
	/* Back-to-back commits: not paced, and a burst of envelopes read a
	 * few at a time. */
	struct hd_opts o = { .config = "[daemon]\ncommit_interval_us = 0\nmax_batch = 16\n" };
	struct hd *d = hd_new(*freeze_when ? NULL : &o);
	assert_non_null(d);
	*state = d;
	snprintf(log_path, sizeof log_path, "%s/journal.writes", d->dir);
	snprintf(journal, sizeof journal, "%s/journal.mdb", d->dir);
	snprintf(image, sizeof image, "%s/journal.mdb.image", d->dir);
	snprintf(lock, sizeof lock, "%s/journal.mdb-lock", d->dir);
	snprintf(log_var, sizeof log_var, "JICENG_TEST_WRITE_LOG=%s", log_path);
	snprintf(freeze, sizeof freeze, "JICENG_FAULT_FREEZE_AFTER_ACKS=%d%s", PC_ORG_ACKS + PC_CUT_AT,
	    freeze_when);
	d->opts.env = (const char *[]){ h_io_shim_env(), log_var, freeze, NULL };
	const char *s = getenv("JICENG_POWERCUT_SEED"), *n = getenv("JICENG_POWERCUT_IMAGES");
	unsigned seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
	int images = n ? atoi(n) : 4;
	fprintf(stderr, "  JICENG_POWERCUT_SEED=%u\n", seed);

	assert_int_equal(hd_up(d), 0);
	assert_true(hd_io_shim_loaded(d));
	void *sock = hc_connect(d);
	assert_int_equal(hc_org_tree(sock, "pc"), 0);
	static struct pc k;
	static struct hmsg msgs[PC_N];
	static struct hmsg *order[PC_N];
	memset(&k, 0, sizeof k);
	k.d = d;
	hm_branch_members(msgs, order, PC_N, "pc", "断电党员");
	struct hpump p = {
		.sock = sock, .send = order, .nsend = PC_N, .window = 400,
		.on_ack = s_pc_stream_ack, .arg = &k,
	};
	int rc = hp_run(&p, PC_STREAM_MS);
	if (rc != 1)
		s_pc_never_froze(&p, rc);
	hc_close(sock);
	assert_int_equal(k.bad, 0);
	int acked = 0, sent = p.sent;
	for (int i = 0; i < sent; i++)
		acked += k.acked[i];
	assert_true(acked >= PC_CUT_AT);
	assert_true(sent > acked);
	fprintf(stderr, "  frozen after %d acks to the stream, %d events sent\n", acked, sent);

	k.resending = true;
	for (int round = 0; round < images; round++) {
		struct pc_disk disk;
		char boot[64];
		static int seen[PC_N];
		s_disk_image(log_path, image, round == 0 ? PC_TAIL_LOST : round == 1 ? PC_TAIL_WHOLE :
		    PC_TAIL_RANDOM, &seed, &disk);
		assert_int_equal(rename(image, journal), 0);
		unlink(lock);
		snprintf(boot, sizeof boot, "JICENG_BOOT_ID=powercut-%d", round);
		d->opts.env = (const char *[]){ boot, NULL };
		hq_reset(d);
		assert_int_equal(hd_up(d), 0);
		assert_true(hd_log_has(d, "was open when the machine went down"));

		memset(k.answers, 0, sizeof k.answers);
		k.dups = 0;
		for (int i = 0; i < sent; i++)
			order[i] = &msgs[i];
		sock = hc_connect(d);
		struct hpump r = { .sock = sock, .send = order, .nsend = sent, .window = 400,
			.on_ack = s_pc_ack, .arg = &k };
		assert_int_equal(hp_run(&r, 60000), 0);
		hc_close(sock);
		assert_int_equal(k.bad, 0);
		for (int i = 0; i < sent; i++)
			assert_int_equal(k.answers[i], 1);
		assert_int_equal(hq_caught_up(d, 20000), 0);
		memset(seen, 0, sizeof seen);
		assert_int_equal(hq_roster(d, H_ORG_BRANCH, s_pc_seen, seen), sent);
		for (int i = 0; i < sent; i++)
			if (seen[i] != 1)
				fail_msg("member pcm-%05d is on the roster %d times", i, seen[i]);
		fprintf(stderr, "  disk %d: %d writes flushed; after the last flush %d whole, %d torn, "
		    "%d lost; %d acknowledged, %d journaled unacknowledged, %d new\n", round,
		    disk.flushed, disk.whole, disk.torn, disk.lost, acked, k.dups - acked,
		    sent - k.dups);
		s_power_off(d);
	}
	for (int i = 0; i < PC_N; i++)
		hm_free(&msgs[i]);
	hd_pass(d);
}

static void
test_power_cut_while_commit_unflushed(void **state)
{
	s_power_cut(state, "");
}

static void
test_power_cut_at_ack_of_latest_commit(void **state)
{
	s_power_cut(state, ":latest");
}

int
integ_powercut(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_cut_while_commit_unflushed, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_at_ack_of_latest_commit, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("powercut", tests, NULL, NULL);
}
