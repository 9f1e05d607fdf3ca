/*
 * county: what the fuzz targets on the workers (fuzz_fold) and on the
 * query server (fuzz_query) share: a run's frames, the broker's view of
 * each (what jicengd would journal of it, fuzz_fold.c says how), and a
 * small county's events to seed them with.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "county.h"
#include "iddigest.h"
#include "fuzz.h"

uint8_t fuzz_id_key[IDNUM_KEY_LEN] = { 0x6a, 0x69, 0x63, 0x65, 0x6e, 0x67 };

/* ---------------------------------------------------------- scratch */

static char s_tmpdir[128];

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
s_tmpdir_remove(void)
{
	if (s_tmpdir[0])
		nftw(s_tmpdir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Scratch dirs of a target's runs that are gone: killed, or ended by
 * libFuzzer without exit handlers. */
static void
s_sweep(const char *parent, const char *target)
{
	char prefix[64], path[512];
	DIR *d = opendir(parent);
	struct dirent *e;
	snprintf(prefix, sizeof prefix, "jiceng-fuzz-%s.", target);
	while (d && (e = readdir(d))) {
		long pid;
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    sscanf(e->d_name + strlen(prefix), "%ld.", &pid) != 1 || pid <= 0 ||
		    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
		nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (d)
		closedir(d);
}

const char *
fuzz_tmpdir(const char *target)
{
	const char *parent = getenv("JICENG_FUZZ_TMP");
	if (!parent || !*parent)
		parent = "/dev/shm";
	s_sweep(parent, target);
	snprintf(s_tmpdir, sizeof s_tmpdir, "%s/jiceng-fuzz-%s.%ld.XXXXXX", parent, target,
	    (long)getpid());
	if (!mkdtemp(s_tmpdir)) {
		fprintf(stderr, "fuzz: mkdtemp %s: %s\n", s_tmpdir, strerror(errno));
		exit(1);
	}
	atexit(s_tmpdir_remove);
	return s_tmpdir;
}

/* ---------------------------------------------------------- frames */

bool
fuzz_frame_next(const uint8_t *data, size_t size, size_t *at, const uint8_t **frame,
    size_t *len, bool *county)
{
	if (*at + 2 > size)
		return false;
	unsigned head = (unsigned)data[*at] << 8 | data[*at + 1];
	*len = head & ~FUZZ_COUNTY_BIT;
	*county = head & FUZZ_COUNTY_BIT;
	*frame = data + *at + 2;
	*at += 2;
	if (*len > size - *at)
		*len = size - *at;
	*at += *len;
	return true;
}

/* ---------------------------------------------------------- the broker */

static bool
s_duplicate(struct fuzz_broker *b, const char *township, const char *event_id)
{
	char key[sizeof b->seen[0]];
	snprintf(key, sizeof key, "%s/%s", township, event_id);
	for (size_t i = 0; i < b->nseen; i++)
		if (strcmp(b->seen[i], key) == 0)
			return true;
	if (b->nseen < FUZZ_MAX_FRAMES)
		memcpy(b->seen[b->nseen++], key, sizeof key);
	return false;
}

/* jicengd's Tick at `at`, as it journals one (daemon/jicengd.c). */
static Envelope *
s_tick_record(int64_t at)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__Tick t = JICENG__V1__TICK__INIT;
	uint8_t *out;
	size_t n;
	t.at = at;
	e.event_id = "tick";
	e.township_id = "";
	e.occurred_at = at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_TICK;
	e.tick = &t;
	if (codec_envelope_pack(&e, &out, &n) < 0)
		abort();
	Envelope *j = codec_envelope_unpack(out, n);
	free(out);
	return j;
}

/* jicengd's RulesChanged when its config sets the rules a frame's
 * RulesChanged holds (each value not 0, by its field's name: the config
 * key is the name with its first '_' a '.'), as ingest_sync_rules journals
 * it; NULL when jiceng.conf would refuse one of them (config_set). */
static Envelope *
s_rules_record(const Jiceng__V1__Rules *want, int64_t at)
{
	static struct config cfg;
	const ProtobufCMessageDescriptor *d = &jiceng__v1__rules__descriptor;
	char key[96], value[32], err[256];
	config_defaults(&cfg);
	for (unsigned i = 0; want && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *field = (const char *)want + f->offset;
		long long v = f->type == PROTOBUF_C_TYPE_INT64 ? *(const int64_t *)field :
		    f->type == PROTOBUF_C_TYPE_UINT32 ? (long long)*(const uint32_t *)field : 0;
		if (v == 0)
			continue;
		snprintf(key, sizeof key, "%s", f->name);
		char *dot = strchr(key, '_');
		if (dot)
			*dot = '.';
		snprintf(value, sizeof value, "%lld", v);
		if (config_set(&cfg, "rules", key, value, err, sizeof err) < 0)
			return NULL;
	}
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	Jiceng__V1__RulesChanged rc = JICENG__V1__RULES_CHANGED__INIT;
	uint8_t *out;
	size_t n;
	rc.rules = &cfg.rules;
	e.event_id = "rules";
	e.township_id = "";
	e.occurred_at = at;
	e.event_case = JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED;
	e.rules_changed = &rc;
	if (codec_envelope_pack(&e, &out, &n) < 0)
		abort();
	Envelope *j = codec_envelope_unpack(out, n);
	free(out);
	return j;
}

Envelope *
fuzz_broker_frame(struct fuzz_broker *b, const uint8_t *frame, size_t len, bool county,
    const char **township)
{
	struct codec_error err;
	struct codec_unknown unknown;
	uint8_t *out = NULL;
	size_t n = 0;
	Envelope *e = codec_envelope_unpack(frame, len);
	b->clock += 1000;
	if (e && e->event_case == JICENG__V1__ENVELOPE__EVENT_TICK && e->tick) {
		int64_t at = e->tick->at;
		codec_envelope_free(e);
		if (at > b->clock && at - b->clock <= FUZZ_TICK_MAX_MS)
			b->clock = at;
		*township = "";
		return s_tick_record(b->clock);
	}
	if (e && e->event_case == JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED && e->rules_changed) {
		Envelope *j = s_rules_record(e->rules_changed->rules, b->clock);
		codec_envelope_free(e);
		*township = "";
		return j;
	}
	codec_envelope_free(e);
	if (!(e = codec_envelope_decode(frame, len, &err)))
		return NULL;
	bool refused = !codec_event_implemented(e->event_case) ||
	    e->occurred_at > b->clock + FUZZ_SKEW_MS ||
	    (!county && e->event_case == JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED);
	if (refused || iddigest_envelope(e, fuzz_id_key, b->clock, county, &out, &n, &unknown, &err) < 0 ||
	    s_duplicate(b, e->township_id, e->event_id)) {
		free(out);
		codec_envelope_free(e);
		return NULL;
	}
	codec_envelope_free(e);
	Envelope *j = codec_envelope_unpack(out, n);
	free(out);
	if (!j)
		fuzz_fail("what would be journaled does not decode", frame, len);
	*township = j->township_id;
	return j;
}

/* ---------------------------------------------------------- seeds */

#define S_TW FUZZ_TOWNSHIP
#define S_DAY FUZZ_DAY

static void
s_frame(struct fuzz_seed *s, bool county, EventCase c, void *msg, int64_t occurred_at)
{
	Envelope e = JICENG__V1__ENVELOPE__INIT;
	char event_id[32];
	snprintf(event_id, sizeof event_id, "seed-%u", ++s->n);
	e.event_id = event_id;
	e.township_id = S_TW;
	e.occurred_at = occurred_at;
	codec_event_set(&e, c, msg);
	size_t n = jiceng__v1__envelope__get_packed_size(&e);
	if (n >= FUZZ_COUNTY_BIT || s->len + 2 + n > sizeof s->buf)
		abort();
	s->buf[s->len++] = (uint8_t)((n >> 8) | (county ? 0x80 : 0));
	s->buf[s->len++] = (uint8_t)n;
	s->len += jiceng__v1__envelope__pack(&e, s->buf + s->len);
}

static void
s_org(struct fuzz_seed *s, const char *id, int kind, const char *parent, int64_t t)
{
	Jiceng__V1__OrgEstablished o = JICENG__V1__ORG_ESTABLISHED__INIT;
	o.org_id = (char *)id;
	o.kind = kind;
	o.parent_id = (char *)(parent ? parent : "");
	o.approving_org_id = (char *)(parent ? parent : "");
	o.name = "测试党组织";
	o.formation = JICENG__V1__FORMATION__SINGLE;
	o.established_at = t - 3650 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &o, t);
}

static void
s_member(struct fuzz_seed *s, const char *id, const char *home, bool full, int64_t t)
{
	Jiceng__V1__MemberRegistered r = JICENG__V1__MEMBER_REGISTERED__INIT;
	r.member_id = (char *)id;
	r.home_org_id = (char *)home;
	r.name = "王秀英";
	r.category = full ? JICENG__V1__MEMBER_CATEGORY__FULL : JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	r.admitted_at = full ? t - 5000 * S_DAY : t - 100 * S_DAY;
	r.confirmed_at = full ? t - 4600 * S_DAY : 0;
	r.phone = "13812345678";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &r, t);
}

/* The county: a township committee, two branches, seven members. */
static void
s_county(struct fuzz_seed *s, int64_t t)
{
	static const char *members[] = { "m1", "m2", "m3", "m4", "m5" };
	s_org(s, "tc", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, t);
	s_org(s, "b1", JICENG__V1__ORG_KIND__BRANCH, "tc", t);
	s_org(s, "b2", JICENG__V1__ORG_KIND__BRANCH, "tc", t);
	for (size_t i = 0; i < sizeof members / sizeof *members; i++)
		s_member(s, members[i], "b1", true, t);
	s_member(s, "m6", "b1", false, t);
	s_member(s, "m7", "b2", true, t);
}

static void
s_meetings(struct fuzz_seed *s, int64_t t)
{
	Jiceng__V1__MeetingHeld mh = JICENG__V1__MEETING_HELD__INIT;
	Jiceng__V1__Absentee ab = JICENG__V1__ABSENTEE__INIT, *abp = &ab;
	Jiceng__V1__AppraisalRecorded ar = JICENG__V1__APPRAISAL_RECORDED__INIT;
	Jiceng__V1__Grade g1 = JICENG__V1__GRADE__INIT, g2 = JICENG__V1__GRADE__INIT;
	Jiceng__V1__Grade g3 = JICENG__V1__GRADE__INIT;
	Jiceng__V1__Grade *grades[] = { &g1, &g2, &g3 };
	char *attendees[] = { "m1", "m2", "m3", "m6" }, *committee[] = { "m1", "m2", "m3" };
	Jiceng__V1__MeetingType both[] = { JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY,
		JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY };
	Jiceng__V1__MeetingType one[] = { JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE };

	mh.meeting_id = "mt1";
	mh.org_id = "b1";
	mh.n_types = 2;
	mh.types = both;
	mh.held_at = t - S_DAY;
	mh.topic = "主题党日";
	mh.host_member_id = "m1";
	mh.recorder_member_id = "m2";
	mh.n_attendee_ids = 4;
	mh.attendee_ids = attendees;
	ab.member_id = "m4";
	ab.reason = "外出务工";
	mh.n_absentees = 1;
	mh.absentees = &abp;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh, t);

	mh.meeting_id = "mt2";
	mh.n_types = 1;
	mh.types = one;
	mh.n_attendee_ids = 2;
	mh.n_absentees = 0;
	mh.online = true;
	mh.n_committee_member_ids = 3;
	mh.committee_member_ids = committee;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh, t);

	static Jiceng__V1__MeetingType appraisal[] = { JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL };
	mh.meeting_id = "mt3";
	mh.types = appraisal;
	mh.n_committee_member_ids = 0;
	mh.n_attendee_ids = 4;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEETING_HELD, &mh, t);

	ar.meeting_id = "mt3";
	ar.org_id = "b1";
	ar.year = 2026;
	g1.member_id = "m1";
	g1.grade = JICENG__V1__APPRAISAL_GRADE__EXCELLENT;
	g2.member_id = "m2";
	g2.grade = JICENG__V1__APPRAISAL_GRADE__QUALIFIED;
	g3.member_id = "m3";
	g3.grade = JICENG__V1__APPRAISAL_GRADE__QUALIFIED;
	ar.n_grades = 3;
	ar.grades = grades;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_APPRAISAL_RECORDED, &ar, t);
}

static void
s_funds(struct fuzz_seed *s, int64_t t)
{
	Jiceng__V1__BudgetAllocated ba = JICENG__V1__BUDGET_ALLOCATED__INIT;
	Jiceng__V1__FundDisbursed fd = JICENG__V1__FUND_DISBURSED__INIT;
	Jiceng__V1__DisbursementReversed dr = JICENG__V1__DISBURSEMENT_REVERSED__INIT;
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;

	ba.budget_id = "bud1";
	ba.kind = JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE;
	ba.year = 2026;
	ba.amount_fen = 10000000;
	ba.source = JICENG__V1__FUNDING_SOURCE__PARTY_DUES;
	s_frame(s, true, JICENG__V1__ENVELOPE__EVENT_BUDGET_ALLOCATED, &ba, t);

	fd.disbursement_id = "d1";
	fd.kind = JICENG__V1__FUND_KIND__HARDSHIP_CONDOLENCE;
	fd.payee_case = JICENG__V1__FUND_DISBURSED__PAYEE_PAYEE_MEMBER_ID;
	fd.payee_member_id = "m3";
	fd.amount_fen = 50000;
	fd.period = 202611;
	fd.source = JICENG__V1__FUNDING_SOURCE__PARTY_DUES;
	fd.approval_ref = "党委〔2026〕12号";
	fd.paid_at = t - S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &fd, t);
	fd.disbursement_id = "d2";
	fd.payee_member_id = "m4";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_FUND_DISBURSED, &fd, t);

	dr.disbursement_id = "d1";
	dr.reason = "重复发放";
	dr.reversed_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DISBURSEMENT_REVERSED, &dr, t);

	dp.member_id = "m1";
	dp.month = 202611;
	dp.amount_fen = 2000;
	dp.paid_at = t - S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp, t);
	dp.member_id = "m2";
	dp.payer_member_id = "m1";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp, t);
}

static void
s_moves(struct fuzz_seed *s, int64_t t)
{
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileReported mr = JICENG__V1__MOBILE_REPORTED__INIT;
	Jiceng__V1__MobileReturned mt = JICENG__V1__MOBILE_RETURNED__INIT;
	Jiceng__V1__DuesPaid dp = JICENG__V1__DUES_PAID__INIT;

	ti.transfer_id = "tr1";
	ti.member_id = "m5";
	ti.from_org_id = "b1";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	ti.to_org_id = "b2";
	ti.letter_no = "组转〔2026〕7号";
	ti.issued_at = t - S_DAY;
	ti.valid_days = 30;
	ti.dues_paid_through = 202611;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	tr.transfer_id = "tr1";
	tr.to_org_id = "b2";
	tr.received_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &tr, t);

	md.flow_id = "f1";
	md.member_id = "m3";
	md.destination_code = "440300";
	md.reason = "务工";
	md.expected_months = 8;
	md.departed_at = t - S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &md, t);
	mr.flow_id = "f1";
	mr.host_org_id = "b2";
	mr.reported_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_REPORTED, &mr, t);
	mt.flow_id = "f1";
	mt.returned_at = t + S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_RETURNED, &mt, t + S_DAY);

	dp.member_id = "m5";
	dp.month = 202612;
	dp.amount_fen = 2000;
	dp.paid_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_DUES_PAID, &dp, t);
}

/* The other kinds: a member admitted, confirmed, one's probation
 * extended, updates, a death; transfers rejected, revoked, out of the
 * county with its receipt, into it; a mobile member contacted and the
 * certificate reviewed; a branch renamed, one dissolved (and one with
 * members refused). */
static void
s_life(struct fuzz_seed *s, int64_t t)
{
	Jiceng__V1__MemberAdmitted ma = JICENG__V1__MEMBER_ADMITTED__INIT;
	Jiceng__V1__MemberConfirmed mc = JICENG__V1__MEMBER_CONFIRMED__INIT;
	Jiceng__V1__ProbationExtended pe = JICENG__V1__PROBATION_EXTENDED__INIT;
	Jiceng__V1__MemberUpdated mu = JICENG__V1__MEMBER_UPDATED__INIT;
	Jiceng__V1__MemberStatusChanged sc = JICENG__V1__MEMBER_STATUS_CHANGED__INIT;
	Jiceng__V1__TransferIssued ti = JICENG__V1__TRANSFER_ISSUED__INIT;
	Jiceng__V1__TransferReceived tr = JICENG__V1__TRANSFER_RECEIVED__INIT;
	Jiceng__V1__TransferRejected tj = JICENG__V1__TRANSFER_REJECTED__INIT;
	Jiceng__V1__TransferRevoked tv = JICENG__V1__TRANSFER_REVOKED__INIT;
	Jiceng__V1__TransferReceiptReturned rr = JICENG__V1__TRANSFER_RECEIPT_RETURNED__INIT;
	Jiceng__V1__ExternalOrg x = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__MemberRegistered incoming = JICENG__V1__MEMBER_REGISTERED__INIT;
	Jiceng__V1__MobileDeparted md = JICENG__V1__MOBILE_DEPARTED__INIT;
	Jiceng__V1__MobileContacted mk = JICENG__V1__MOBILE_CONTACTED__INIT;
	Jiceng__V1__CertificateReviewed cr = JICENG__V1__CERTIFICATE_REVIEWED__INIT;
	Jiceng__V1__OrgUpdated ou = JICENG__V1__ORG_UPDATED__INIT;
	Jiceng__V1__OrgDissolved od = JICENG__V1__ORG_DISSOLVED__INIT;
	char *activity[] = { "b2" };

	ma.member_id = "m8";
	ma.org_id = "b1";
	ma.name = "赵新";
	ma.birth_date = "1990-05-01";
	ma.admitted_at = t - 400 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &ma, t);
	mc.member_id = "m8";
	mc.confirmed_at = t - 30 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED, &mc, t);
	pe.member_id = "m6";
	pe.months = 6;
	pe.decided_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_PROBATION_EXTENDED, &pe, t);
	mu.member_id = "m2";
	mu.phone = "13900000000";
	mu.replace_activity_orgs = true;
	mu.n_activity_org_ids = 1;
	mu.activity_org_ids = activity;
	mu.birth_date = "1960-02-29";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &mu, t);
	sc.member_id = "m4";
	sc.status = JICENG__V1__MEMBER_STATUS__DECEASED;
	sc.effective_at = t - S_DAY;
	sc.reason = "病故";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MEMBER_STATUS_CHANGED, &sc, t);

	ti.transfer_id = "tr2";
	ti.member_id = "m1";
	ti.from_org_id = "b1";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_ORG_ID;
	ti.to_org_id = "b2";
	ti.issued_at = t - S_DAY;
	ti.valid_days = 30;
	ti.dues_paid_through = 202611;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	tj.transfer_id = "tr2";
	tj.reason = "材料不全";
	tj.rejected_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REJECTED, &tj, t);
	ti.transfer_id = "tr3";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	tv.transfer_id = "tr3";
	tv.reason = "开错";
	tv.revoked_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_REVOKED, &tv, t);
	ti.transfer_id = "tr4";
	ti.member_id = "m7";
	ti.from_org_id = "b2";
	ti.to_case = JICENG__V1__TRANSFER_ISSUED__TO_TO_EXTERNAL;
	x.area_code = "320506";
	x.org_name = "吴中区某村党支部";
	ti.to_external = &x;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_ISSUED, &ti, t);
	rr.transfer_id = "tr4";
	rr.returned_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIPT_RETURNED, &rr, t);
	incoming.member_id = "m9";
	incoming.home_org_id = "b2";
	incoming.name = "孙来";
	incoming.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	incoming.admitted_at = t - 3000 * S_DAY;
	incoming.confirmed_at = t - 2600 * S_DAY;
	tr.transfer_id = "tr5";
	tr.to_org_id = "b2";
	tr.received_at = t;
	tr.from_external = &x;
	tr.member_id = "m9";
	tr.member = &incoming;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED, &tr, t);

	md.flow_id = "f2";
	md.member_id = "m2";
	md.destination_code = "440300";
	md.expected_months = 12;
	md.certificate_no = "LD-2026-001";
	md.fixed_place = true;
	md.departed_at = t - 200 * S_DAY;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_DEPARTED, &md, t);
	mk.flow_id = "f2";
	mk.contacted_at = t - 10 * S_DAY;
	mk.channel = "video";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_MOBILE_CONTACTED, &mk, t);
	cr.flow_id = "f2";
	cr.reviewed_at = t;
	cr.certificate_no = "LD-2026-002";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_CERTIFICATE_REVIEWED, &cr, t);

	ou.org_id = "b2";
	ou.name = "第二党支部";
	ou.unit_count = 2;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_UPDATED, &ou, t);
	od.org_id = "b1";   /* refused: it has members */
	od.approving_org_id = "tc";
	od.reason = "合并";
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &od, t);
	s_org(s, "b3", JICENG__V1__ORG_KIND__BRANCH, "tc", t);
	od.org_id = "b3";
	od.reason = "合并";
	od.dissolved_at = t;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_ORG_DISSOLVED, &od, t);
}

/* Tighter rules: branches of at most 3 members, dues at most a month
 * back, a single payment of at most 100 yuan. */
static void
s_rules(struct fuzz_seed *s, int64_t t)
{
	Jiceng__V1__RulesChanged rc = JICENG__V1__RULES_CHANGED__INIT;
	Rules r = JICENG__V1__RULES__INIT;
	r.org_branch_max_members = 3;
	r.dues_max_months_back = 1;
	r.funds_max_single_fen = 10000;
	rc.rules = &r;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_RULES_CHANGED, &rc, t);
}

static void
s_tick(struct fuzz_seed *s, int64_t at)
{
	Jiceng__V1__Tick k = JICENG__V1__TICK__INIT;
	k.at = at;
	s_frame(s, false, JICENG__V1__ENVELOPE__EVENT_TICK, &k, at);
}

void
fuzz_county_all(struct fuzz_seed *s)
{
	int64_t t = FUZZ_NOW - 10 * S_DAY, later = FUZZ_NOW + 35 * S_DAY;
	memset(s, 0, sizeof *s);
	s_county(s, t);
	s_meetings(s, t + S_DAY);
	s_funds(s, t + 2 * S_DAY);
	s_moves(s, t + 3 * S_DAY);
	s_life(s, t + 4 * S_DAY);
	s_rules(s, t + 4 * S_DAY);
	s_tick(s, later);
	s_meetings(s, later);
	s_funds(s, later);
}

void
fuzz_county_seeds(const char *dir)
{
	static struct fuzz_seed s;
	int64_t t = FUZZ_NOW - 10 * S_DAY;

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_meetings(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-meetings", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_funds(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-funds", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_moves(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-moves", s.buf, s.len);

	memset(&s, 0, sizeof s);
	s_county(&s, t);
	s_life(&s, t + S_DAY);
	fuzz_seed_file(dir, "county-life", s.buf, s.len);

	fuzz_county_all(&s);
	fuzz_seed_file(dir, "county-all", s.buf, s.len);
}
