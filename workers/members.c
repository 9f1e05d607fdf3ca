/*
 * members: the member events (MemberRegistered, MemberAdmitted,
 * MemberConfirmed, ProbationExtended, MemberStatusChanged, MemberUpdated)
 * and the rules R1-R4, O4 and O5 as they concern members (DOMAIN.md).
 *
 * An ID number is checked (BAD_ID_NUMBER) and reduced at once to its blind
 * index (HMAC-SHA-256 under ev->id_key) and masked form; the clear number
 * is never stored, logged or put in a reason. The phone is stored for the
 * home org but only its masked form is ever shown.
 *
 * Choices the rules leave open:
 * - R1: probation ends one calendar year (CST) after admission, or `months`
 *   later after the one extension (6-12 months, PROBATIONARY only); a
 *   confirmation on that CST date counts, whatever the hour. A member
 *   registered FULL carries its confirmed_at, held to the year too; one
 *   registered PROBATIONARY carries none (it is confirmed later).
 * - Dates the event gives (admitted_at, confirmed_at, decided_at,
 *   effective_at, a birth date) run from 1900-01-01 CST (veterans admitted
 *   in the 1950s: negative Unix ms) and may not be later than the journal
 *   time by more than MS_TIME_SKEW_MS (FUTURE_TIME), or R1 and R2 could be
 *   met on paper early. decided_at and effective_at are optional; 0 means
 *   not given.
 * - An ID number (as its digest) is checked again against the journal
 *   date: a birth date after it, or an area code no province has, is
 *   BAD_ID_NUMBER (jicengd checked it against its clock as it arrived).
 * - R2 is checked on every admission date jiceng learns: MemberAdmitted,
 *   MemberRegistered, and a MemberUpdated that brings a birth date.
 * - R3 here: only a NORMAL member is confirmed or has probation extended.
 * - R4: the blind index maps to one member_id; the other member's id is
 *   named only when it is of the same township.
 * - O5: a temporary branch admits nobody and holds nobody's organisational
 *   relationship (its members' home stays with their own branch), so it is
 *   refused as the org of MemberAdmitted, as the home of MemberRegistered
 *   and as the home a member returns to NORMAL in; a Party group counts as
 *   its branch (orgs_o5_home, orgs.c).
 * - A DECEASED member's status is final (BAD_STATUS).
 */
#include "members.h"
#include "orgs.h"
#include "iddigest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------- O6 */

int
members_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *member_id, struct member_rec *r,
    struct verdict *v)
{
	int rc = records_member_load(m, txn, member_id, r);
	if (rc == MDB_NOTFOUND)
		return verdict_reject(v, "UNKNOWN_MEMBER", "党员不存在 / unknown member: %s",
		    member_id ? member_id : "");
	if (rc)
		return rc;
	if (strcmp(r->township_id, records_ev_township(ev)) != 0)
		return verdict_reject(v, "WRONG_TOWNSHIP",
		    "党员属于其他乡镇 / member %s belongs to township %s",
		    member_id, r->township_id);
	if (r->transferred_out)
		return verdict_reject(v, "TRANSFERRED_OUT",
		    "党员组织关系已转出本县 / member's relationship has been transferred "
		    "out of the county: %s", member_id);
	return 0;
}

int
members_require_normal(const struct member_rec *r, const char *zh, const char *en,
    struct verdict *v)
{
	if (r->status != JICENG__V1__MEMBER_STATUS__NORMAL)
		return verdict_reject(v, "R3", "党籍状态不正常的党员不能%s / only a NORMAL "
		    "member may be %s: %s", zh, en, r->member_id);
	return 0;
}

/* ---------------------------------------------------------- field checks */

static bool
s_phone_ok(const char *p)
{
	if (strlen(p) > MS_MAX_PHONE)
		return false;
	for (; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
		    *p == ' ' || *p == '(' || *p == ')'))
			return false;
	return true;
}

static int
s_name(const char *name, bool required, struct member_rec *r, struct verdict *v)
{
	size_t n = strlen(name);
	if (n == 0 && required)
		return verdict_reject(v, "BAD_FIELD", "姓名不能为空 / name is required: %s",
		    r->member_id);
	if (n > MS_MAX_NAME)
		return verdict_reject(v, "BAD_FIELD", "姓名超过64字节 / name is longer than 64 bytes: %s",
		    r->member_id);
	if (n)
		memcpy(r->name, name, n + 1);
	return 0;
}

static int
s_phone(const char *phone, struct member_rec *r, struct verdict *v)
{
	if (!s_phone_ok(phone))
		return verdict_reject(v, "BAD_FIELD", "电话号码格式错误 / phone must be at most 32 "
		    "digits, spaces and + - ( ): %s", r->member_id);
	if (*phone)
		snprintf(r->phone, sizeof r->phone, "%s", phone);
	return 0;
}

static int
s_ref(const char *ref, struct member_rec *r, struct verdict *v)
{
	if (strlen(ref) > MS_MAX_REF)
		return verdict_reject(v, "BAD_FIELD", "national_ref 超过64字节 / "
		    "national_ref is longer than 64 bytes: %s", r->member_id);
	snprintf(r->national_ref, sizeof r->national_ref, "%s", ref);
	return 0;
}

/* Activity orgs: live orgs of any township, not the home org, no repeats. */
static int
s_activity(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    char *const *ids, size_t n, struct member_rec *r, struct verdict *v)
{
	struct org_rec o;
	int rc;

	if (n > MS_MAX_ACTIVITY)
		return verdict_reject(v, "BAD_FIELD", "活动组织最多8个 / at most 8 activity orgs: %s",
		    r->member_id);
	for (size_t i = 0; i < n; i++) {
		rc = orgs_require(m, txn, ev, ids[i], MS_ROLE_ACTIVITY,
		    MS_LIVE | MS_ANY_TOWNSHIP, &o, v);
		if (rc || !v->accepted)
			return rc;
		if (strcmp(ids[i], r->home_org_id) == 0)
			return verdict_reject(v, "BAD_FIELD", "活动组织不能是所在党组织 / "
			    "an activity org cannot be the home org: %s", ids[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				return verdict_reject(v, "BAD_FIELD", "活动组织重复 / "
				    "activity org listed twice: %s", ids[i]);
	}
	for (size_t i = 0; i < n; i++)
		snprintf(r->activity[i], sizeof r->activity[i], "%s", ids[i]);
	r->nactivity = (unsigned)n;
	return 0;
}

/* A birth date the event gives, "YYYY-MM-DD": a real date from 1900-01-01
 * (CST) to the journal time (plus MS_TIME_SKEW_MS, as every date). */
static int
s_birth_date(const struct event_ctx *ev, const char *birth_date, struct member_rec *r,
    struct verdict *v)
{
	int y, mo, d;
	if (!civil_date_parse(birth_date, &y, &mo, &d))
		return verdict_reject(v, "BAD_FIELD", "出生日期须为有效的YYYY-MM-DD / "
		    "birth_date must be a real YYYY-MM-DD date: %s", r->member_id);
	return records_time_check(ev, civil_cst_midnight(y, mo, d), true, "出生日期", "birth_date",
	    r->member_id, v);
}

/* Birth date and sex an event gives without an ID number. */
static int
s_person_plain(const struct event_ctx *ev, const char *birth_date, int sex,
    struct member_rec *r, struct verdict *v)
{
	if (*birth_date && (s_birth_date(ev, birth_date, r, v) || !v->accepted))
		return 0;
	if (*birth_date)
		snprintf(r->birth_date, sizeof r->birth_date, "%s", birth_date);
	if (sex)
		r->sex = sex;
	return 0;
}

/* A digest the rules can use: well formed, and plausible on the journal
 * date (a province-level area code, born from 1900 to that day). */
static int
s_digest_check(const struct event_ctx *ev, const Jiceng__V1__IdDigest *digest,
    const struct member_rec *r, struct verdict *v)
{
	if (digest->invalid)
		return verdict_reject(v, "BAD_ID_NUMBER", "%s: %s",
		    idnum_strerror(iddigest_plausible(digest, ev->received_at)), r->member_id);
	if (!iddigest_valid(digest))
		return verdict_reject(v, "BAD_ID_NUMBER", "身份证号码摘要无效 / malformed ID digest: %s",
		    r->member_id);
	enum idnum_error e = iddigest_plausible(digest, ev->received_at);
	if (e != IDNUM_OK)
		return verdict_reject(v, "BAD_ID_NUMBER", "%s: %s", idnum_strerror(e), r->member_id);
	return 0;
}

/* ID number (as its digest), birth date and sex of an event into r. Fields
 * left empty in the event leave r as it is. */
static int
s_person(const struct event_ctx *ev, const char *id_number, const Jiceng__V1__IdDigest *digest,
    const char *birth_date, int sex, struct member_rec *r, struct verdict *v)
{
	Jiceng__V1__IdDigest legacy;
	struct iddigest_parts parts;

	if (!digest && !*id_number)
		return s_person_plain(ev, birth_date, sex, r, v);
	/* Events journaled before jicengd digested numbers carry them: the
	 * digest jicengd would have made. */
	if (!digest) {
		enum idnum_error e = ev->id_key ? iddigest_make(id_number, ev->id_key, &parts, &legacy) :
		    idnum_check(id_number, NULL, NULL, NULL);
		if (e != IDNUM_OK)
			return verdict_reject(v, "BAD_ID_NUMBER", "%s: %s", idnum_strerror(e), r->member_id);
		if (!ev->id_key)
			return EINVAL;   /* a worker without its key: not a verdict */
		digest = &legacy;
	}
	if (s_digest_check(ev, digest, r, v) || !v->accepted)
		return 0;
	memcpy(r->index, digest->blind_index.data, IDNUM_INDEX_LEN);
	snprintf(r->id_masked, sizeof r->id_masked, "%s", digest->masked);
	r->has_index = true;
	if (*birth_date && strcmp(birth_date, digest->birth_date) != 0)
		return verdict_reject(v, "BAD_ID_NUMBER", "出生日期与身份证号码不符 / "
		    "birth_date does not match the ID number: %s", r->member_id);
	if (sex && sex != (int)digest->sex)
		return verdict_reject(v, "BAD_ID_NUMBER", "性别与身份证号码不符 / "
		    "sex does not match the ID number: %s", r->member_id);
	snprintf(r->birth_date, sizeof r->birth_date, "%s", digest->birth_date);
	r->sex = (int)digest->sex;
	return 0;
}

/* ---------------------------------------------------------- rules */

/* R2: of age on the admission date, when the birth date is known. */
static int
s_r2(const struct event_ctx *ev, const struct member_rec *r, struct verdict *v)
{
	Rules buf;
	uint32_t min = records_ev_rules(ev, &buf)->member_min_admission_age;
	int y, mo, d, age;

	if (!r->birth_date[0] || !civil_date_parse(r->birth_date, &y, &mo, &d))
		return 0;
	age = civil_age_at(y, mo, d, r->admitted_at);
	if (age < 0 || (uint32_t)age < min)
		return verdict_reject(v, "R2", "入党时未满%u周岁 / under %u on the admission date: %s",
		    min, min, r->member_id);
	return 0;
}

/* R4: claim r's blind index for r, unless another member holds it. */
static int
s_r4_claim(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct member_rec *r, struct verdict *v)
{
	MDB_val k = { IDNUM_INDEX_LEN, (void *)r->index }, d;
	char other[CODEC_MAX_ID + 1];
	struct member_rec o;
	int rc;

	if (!r->has_index)
		return 0;
	rc = mdb_get(txn, m->index, &k, &d);
	if (rc == MDB_NOTFOUND) {
		d.mv_size = strlen(r->member_id);
		d.mv_data = (void *)r->member_id;
		return ms_put(txn, m->index, &k, &d, 0);
	}
	if (rc)
		return rc;
	if (d.mv_size == strlen(r->member_id) && memcmp(d.mv_data, r->member_id, d.mv_size) == 0)
		return 0;
	if (d.mv_size > CODEC_MAX_ID)
		return MDB_CORRUPTED;
	memcpy(other, d.mv_data, d.mv_size);
	other[d.mv_size] = '\0';
	rc = records_member_load(m, txn, other, &o);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && strcmp(o.township_id, records_ev_township(ev)) == 0)
		return verdict_reject(v, "R4", "同一人已登记为党员%s / the same person is "
		    "already registered as member %s: %s", other, other, r->member_id);
	return verdict_reject(v, "R4", "同一人已在其他乡镇登记 / the same person is already "
	    "registered in another township: %s", r->member_id);
}

/* R1's end of probation: a year after admission, plus any extension. */
static int64_t
s_probation_until(const struct member_rec *r, unsigned extension_months)
{
	return civil_add_months(r->admitted_at, 12 + (int)extension_months);
}

/* R1: a confirmation at `at` ends a probation running until `until` if it
 * falls on or after that CST date; the hour of day does not count. */
static int
s_r1_confirm(int64_t until, int64_t at, const char *member_id, struct verdict *v)
{
	int y, mo, d;

	if (civil_cst_days(at) >= civil_cst_days(until))
		return 0;
	civil_cst_date(until, &y, &mo, &d);
	return verdict_reject(v, "R1", "预备期至%04d-%02d-%02d才满 / probation runs until "
	    "%04d-%02d-%02d: %s", y, mo, d, y, mo, d, member_id);
}

static int
s_require_normal(const struct member_rec *r, struct verdict *v)
{
	if (r->status != JICENG__V1__MEMBER_STATUS__NORMAL)
		return verdict_reject(v, "R3", "党员党籍状态不正常 / member's status is not NORMAL: %s",
		    r->member_id);
	if (r->category != JICENG__V1__MEMBER_CATEGORY__PROBATIONARY)
		return verdict_reject(v, "R1", "不是预备党员 / not a probationary member: %s",
		    r->member_id);
	return 0;
}

/* ---------------------------------------------------------- new members */

/* A new member of home_id: the id is free, the org live, own and not a
 * temporary branch (O5). */
static int
s_new_member(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const char *member_id, const char *home_id, struct member_rec *r,
    struct verdict *v)
{
	struct org_rec o;
	int rc = records_member_load(m, txn, member_id, r);

	if (rc == 0)
		return verdict_reject(v, "MEMBER_EXISTS", "党员已存在 / member already exists: %s",
		    member_id);
	if (rc != MDB_NOTFOUND)
		return rc;
	rc = orgs_require(m, txn, ev, home_id, MS_ROLE_HOME, MS_LIVE, &o, v);
	if (rc || !v->accepted || (rc = orgs_o5_home(m, txn, &o, v)) ||
	    !v->accepted)
		return rc;
	memset(r, 0, sizeof *r);
	snprintf(r->member_id, sizeof r->member_id, "%s", member_id);
	snprintf(r->home_org_id, sizeof r->home_org_id, "%s", home_id);
	snprintf(r->township_id, sizeof r->township_id, "%s", records_ev_township(ev));
	r->status = JICENG__V1__MEMBER_STATUS__NORMAL;
	r->last_seq = ev->seq;
	return 0;
}

/* Store a new member with its roster entry and counts. */
static int
s_add_member(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct member_rec *r, struct verdict *v)
{
	int rc;
	if ((rc = s_r4_claim(m, txn, ev, r, v)) || !v->accepted ||
	    (rc = records_member_store(m, txn, r)) ||
	    (rc = records_pair_put(txn, m->roster, r->home_org_id, r->member_id)))
		return rc;
	return orgs_counts_update(m, txn, ev, NULL, r, v);
}

/* Category and dates of a MemberRegistered (R1): a PROBATIONARY member
 * carries no confirmed_at; a FULL member carries one, on or after the CST
 * date a year after admission, as MemberConfirmed would need. */
static int
s_registered_dates(const struct event_ctx *ev, const Jiceng__V1__MemberRegistered *e,
    struct member_rec *r, struct verdict *v)
{
	bool full = e->category == JICENG__V1__MEMBER_CATEGORY__FULL;

	if (!full && e->category != JICENG__V1__MEMBER_CATEGORY__PROBATIONARY)
		return verdict_reject(v, "BAD_FIELD", "须指定党员类别 / category is required: %s",
		    r->member_id);
	if (records_time_check(ev, e->admitted_at, true, "入党时间", "admitted_at",
	    r->member_id, v) || !v->accepted)
		return 0;
	r->category = e->category;
	r->admitted_at = e->admitted_at;
	if (!full) {
		if (e->confirmed_at)
			return verdict_reject(v, "R1", "预备党员没有转正时间 / a PROBATIONARY member "
			    "has no confirmed_at: %s", r->member_id);
		r->probation_until = s_probation_until(r, 0);
		return 0;
	}
	if (!e->confirmed_at)
		return verdict_reject(v, "R1", "正式党员须提供转正时间（入党满一年后） / a FULL "
		    "member needs confirmed_at, a year or more after admitted_at: %s", r->member_id);
	if (records_time_check(ev, e->confirmed_at, true, "转正时间", "confirmed_at",
	    r->member_id, v) || !v->accepted ||
	    s_r1_confirm(s_probation_until(r, 0), e->confirmed_at, r->member_id, v) ||
	    !v->accepted)
		return 0;
	r->confirmed_at = e->confirmed_at;
	return 0;
}

int
members_register(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__MemberRegistered *e, struct member_rec *r, struct verdict *v)
{
	int rc = s_new_member(m, txn, ev, e->member_id, e->home_org_id, r, v);

	if (rc || !v->accepted ||
	    (rc = s_name(e->name, true, r, v)) || !v->accepted ||
	    (rc = s_registered_dates(ev, e, r, v)) || !v->accepted ||
	    (rc = s_phone(e->phone, r, v)) || !v->accepted ||
	    (rc = s_ref(e->national_ref, r, v)) || !v->accepted ||
	    (rc = s_activity(m, txn, ev, e->activity_org_ids, e->n_activity_org_ids, r, v)) ||
	    !v->accepted ||
	    (rc = s_person(ev, e->id_number, e->id_digest, e->birth_date, e->sex, r, v)) || !v->accepted ||
	    (rc = s_r2(ev, r, v)) || !v->accepted)
		return rc;
	r->farmer = e->farmer;
	return s_add_member(m, txn, ev, r, v);
}

int
membership_apply_member_registered(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	struct member_rec r;
	return members_register(m, txn, ev, ev->env->member_registered, &r, v);
}

int
membership_apply_member_admitted(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MemberAdmitted *e = ev->env->member_admitted;
	struct member_rec r;
	int rc = s_new_member(m, txn, ev, e->member_id, e->org_id, &r, v);

	if (rc || !v->accepted ||
	    (rc = records_time_check(ev, e->admitted_at, true, "入党时间", "admitted_at",
	    e->member_id, v)) || !v->accepted)
		return rc;
	r.category = JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	r.admitted_at = e->admitted_at;
	r.probation_until = s_probation_until(&r, 0);
	if ((rc = s_name(e->name, true, &r, v)) || !v->accepted ||
	    (rc = s_phone(e->phone, &r, v)) || !v->accepted ||
	    (rc = s_ref(e->national_ref, &r, v)) || !v->accepted ||
	    (rc = s_person(ev, e->id_number, e->id_digest, e->birth_date, e->sex, &r, v)) || !v->accepted ||
	    (rc = s_r2(ev, &r, v)) || !v->accepted)
		return rc;
	r.farmer = e->farmer;
	return s_add_member(m, txn, ev, &r, v);
}

/* ---------------------------------------------------------- probation */

int
membership_apply_member_confirmed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MemberConfirmed *e = ev->env->member_confirmed;
	struct member_rec r, before;
	int rc = members_require(m, txn, ev, e->member_id, &r, v);

	if (rc || !v->accepted || (rc = s_require_normal(&r, v)) || !v->accepted ||
	    (rc = records_time_check(ev, e->confirmed_at, true, "转正时间", "confirmed_at",
	    e->member_id, v)) || !v->accepted ||
	    (rc = s_r1_confirm(r.probation_until, e->confirmed_at, e->member_id, v)) ||
	    !v->accepted)
		return rc;
	before = r;
	r.category = JICENG__V1__MEMBER_CATEGORY__FULL;
	r.confirmed_at = e->confirmed_at;
	r.probation_until = 0;
	r.last_seq = ev->seq;
	if ((rc = records_member_store(m, txn, &r)))
		return rc;
	return orgs_counts_update(m, txn, ev, &before, &r, v);
}

int
membership_apply_probation_extended(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__ProbationExtended *e = ev->env->probation_extended;
	struct member_rec r;
	int rc = members_require(m, txn, ev, e->member_id, &r, v);

	if (rc || !v->accepted || (rc = s_require_normal(&r, v)) || !v->accepted ||
	    (rc = records_time_check(ev, e->decided_at, false, "延长决定时间", "decided_at",
	    e->member_id, v)) || !v->accepted)
		return rc;
	if (r.probation_extended)
		return verdict_reject(v, "R1", "预备期只能延长一次 / probation can be extended "
		    "only once: %s", e->member_id);
	if (e->months < 6 || e->months > 12)
		return verdict_reject(v, "R1", "延长预备期须为6至12个月 / an extension is 6 to 12 "
		    "months, not %u: %s", e->months, e->member_id);
	r.probation_until = s_probation_until(&r, e->months);
	r.probation_extended = true;
	r.last_seq = ev->seq;
	return records_member_store(m, txn, &r);
}

/* ---------------------------------------------------------- status, details */

int
membership_apply_member_status_changed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MemberStatusChanged *e = ev->env->member_status_changed;
	struct member_rec r, before;
	struct org_rec o;
	int rc = members_require(m, txn, ev, e->member_id, &r, v);

	if (rc || !v->accepted ||
	    (rc = records_time_check(ev, e->effective_at, false, "生效时间", "effective_at",
	    e->member_id, v)) || !v->accepted)
		return rc;
	if (e->status < JICENG__V1__MEMBER_STATUS__NORMAL ||
	    e->status > JICENG__V1__MEMBER_STATUS__DECEASED)
		return verdict_reject(v, "BAD_FIELD", "须指定党籍状态 / status is required: %s",
		    e->member_id);
	if (r.status == JICENG__V1__MEMBER_STATUS__DECEASED &&
	    e->status != JICENG__V1__MEMBER_STATUS__DECEASED)
		return verdict_reject(v, "BAD_STATUS", "已故党员的状态不能更改 / "
		    "a deceased member's status cannot change: %s", e->member_id);
	/* Coming back into the count needs a live home org (O6) that may hold
	 * members (O5). */
	if (orgs_status_counted(e->status) && !orgs_status_counted(r.status) &&
	    ((rc = orgs_require(m, txn, ev, r.home_org_id, MS_ROLE_HOME,
	    MS_LIVE, &o, v)) || !v->accepted ||
	    (rc = orgs_o5_home(m, txn, &o, v)) || !v->accepted))
		return rc;
	before = r;
	r.status = e->status;
	r.last_seq = ev->seq;
	if ((rc = records_member_store(m, txn, &r)))
		return rc;
	return orgs_counts_update(m, txn, ev, &before, &r, v);
}

/* A new ID number moves the member's blind index entry (R4). */
static int
s_reindex(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const struct member_rec *before, const struct member_rec *r,
    struct verdict *v)
{
	MDB_val k = { IDNUM_INDEX_LEN, (void *)before->index }, d;
	int rc;

	if (!r->has_index || (before->has_index &&
	    memcmp(before->index, r->index, IDNUM_INDEX_LEN) == 0))
		return 0;
	if ((rc = s_r4_claim(m, txn, ev, r, v)) || !v->accepted || !before->has_index)
		return rc;
	rc = mdb_get(txn, m->index, &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (d.mv_size != strlen(r->member_id) || memcmp(d.mv_data, r->member_id, d.mv_size) != 0)
		return 0;
	return ms_del(txn, m->index, &k);
}

/* ID number, birth date and sex of a MemberUpdated. Birth date and sex
 * derived from a stored number are not overridden without a new number;
 * R2 is re-checked only when the birth date changes, so a later, higher
 * admission age does not fail members admitted under the old one. */
static int
s_updated_person(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    const Jiceng__V1__MemberUpdated *e, const struct member_rec *before,
    struct member_rec *r, struct verdict *v)
{
	int rc;
	if (!*e->id_number && !e->id_digest && r->has_index &&
	    ((*e->birth_date && strcmp(e->birth_date, r->birth_date) != 0) ||
	    (e->sex && (int)e->sex != r->sex)))
		return verdict_reject(v, "BAD_ID_NUMBER", "出生日期或性别与身份证号码不符 / "
		    "birth_date or sex contradicts the ID number: %s", r->member_id);
	if ((rc = s_person(ev, e->id_number, e->id_digest, e->birth_date, e->sex, r, v)) || !v->accepted)
		return rc;
	if (strcmp(before->birth_date, r->birth_date) != 0 &&
	    ((rc = s_r2(ev, r, v)) || !v->accepted))
		return rc;
	return s_reindex(m, txn, ev, before, r, v);
}

int
membership_apply_member_updated(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v)
{
	const Jiceng__V1__MemberUpdated *e = ev->env->member_updated;
	struct member_rec r, before;
	int rc = members_require(m, txn, ev, e->member_id, &r, v);

	if (rc || !v->accepted)
		return rc;
	if (*e->phone && e->clear_phone)
		return verdict_reject(v, "BAD_FIELD", "不能同时设置和清除电话 / phone and "
		    "clear_phone together: %s", e->member_id);
	before = r;
	if ((rc = s_name(e->name, false, &r, v)) || !v->accepted ||
	    (rc = s_phone(e->phone, &r, v)) || !v->accepted ||
	    (e->replace_activity_orgs &&
	    ((rc = s_activity(m, txn, ev, e->activity_org_ids, e->n_activity_org_ids, &r, v)) ||
	    !v->accepted)) ||
	    (rc = s_updated_person(m, txn, ev, e, &before, &r, v)) || !v->accepted)
		return rc;
	if (e->clear_phone)
		r.phone[0] = '\0';
	if (e->set_farmer)
		r.farmer = e->farmer;
	r.last_seq = ev->seq;
	return records_member_store(m, txn, &r);
}

/* ---------------------------------------------------------- moves */

int
members_move(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    struct member_rec *r, const char *to, const char *township, struct verdict *v)
{
	struct member_rec before = *r;
	unsigned kept = 0;
	int rc;

	snprintf(r->home_org_id, sizeof r->home_org_id, "%s", to);
	snprintf(r->township_id, sizeof r->township_id, "%s", township);
	for (unsigned i = 0; i < r->nactivity; i++)
		if (strcmp(r->activity[i], to) != 0)
			memmove(r->activity[kept++], r->activity[i], sizeof r->activity[i]);
	r->nactivity = kept;
	r->last_seq = ev->seq;
	if ((rc = records_pair_del(txn, m->roster, before.home_org_id, r->member_id)) ||
	    (rc = records_pair_put(txn, m->roster, r->home_org_id, r->member_id)) ||
	    (rc = records_member_store(m, txn, r)))
		return rc;
	return orgs_counts_update(m, txn, ev, &before, r, v);
}

int
members_leave_county(struct membership *m, MDB_txn *txn, const struct event_ctx *ev,
    struct member_rec *r, struct verdict *v)
{
	struct member_rec before = *r;
	int rc;

	r->transferred_out = true;
	r->last_seq = ev->seq;
	if ((rc = records_pair_del(txn, m->roster, r->home_org_id, r->member_id)) ||
	    (rc = records_member_store(m, txn, r)))
		return rc;
	return orgs_counts_update(m, txn, ev, &before, r, v);
}
