/*
 * Unit tests of the member rules (workers/members.c): R1-R4, ID numbers
 * (BAD_ID_NUMBER, blind index, masking), status changes, details, the
 * member views and list paging, and the determinism of the whole module
 * (the same events folded twice give the same tables byte for byte).
 * Each runs against a real LMDB environment in a temporary directory.
 */
#include "unit.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "membership_fx.h"

#define ID_A "11010519491231002X"

/* ---------------------------------------------------------- fixture */

/* 17 digits completed with their GB 11643 check character. */
static void
s_idnum(const char *digits17, char out[19])
{
	int sum = 0;
	for (int i = 0; i < 17; i++) {
		int weight = 1;
		for (int k = 0; k < 17 - i; k++)
			weight = weight * 2 % 11;
		sum += (digits17[i] - '0') * weight;
	}
	memcpy(out, digits17, 17);
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}


/* Township committee T, village committee V, branches B and B2. */
static void
s_tree(struct fx *f)
{
	fx_tree(f, "T", "V", "B");
	ACCEPTED(fx_org(f, "B2", JICENG__V1__ORG_KIND__BRANCH, "V", "T"));
}

static struct verdict
s_admit(struct fx *f, const char *id, const char *idnum, const char *birth,
    int64_t admitted_at)
{
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	a.member_id = (char *)id;
	a.org_id = "B";
	a.name = "王五";
	a.id_number = (char *)(idnum ? idnum : "");
	a.birth_date = (char *)(birth ? birth : "");
	a.admitted_at = admitted_at;
	a.phone = FX_PHONE;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a);
}

static struct verdict
s_register(struct fx *f, const char *id, const char *home, const char *idnum)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, home,
	    JICENG__V1__MEMBER_CATEGORY__FULL);
	e.id_number = (char *)(idnum ? idnum : "");
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e);
}

static struct verdict
s_confirm(struct fx *f, const char *id, int64_t at)
{
	Jiceng__V1__MemberConfirmed c = JICENG__V1__MEMBER_CONFIRMED__INIT;
	c.member_id = (char *)id;
	c.confirmed_at = at;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_CONFIRMED, &c);
}

/* A member of B registered with a birth date, category and dates. */
static struct verdict
s_register_at(struct fx *f, const char *id, const char *birth, int category,
    int64_t admitted_at, int64_t confirmed_at)
{
	Jiceng__V1__MemberRegistered e = fx_registration(id, "B", category);
	e.birth_date = (char *)(birth ? birth : "");
	e.admitted_at = admitted_at;
	e.confirmed_at = confirmed_at;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e);
}

static struct verdict
s_extend_at(struct fx *f, const char *id, unsigned months, int64_t decided_at)
{
	Jiceng__V1__ProbationExtended e = JICENG__V1__PROBATION_EXTENDED__INIT;
	e.member_id = (char *)id;
	e.months = months;
	e.decided_at = decided_at;
	return fx_send(f, JICENG__V1__ENVELOPE__EVENT_PROBATION_EXTENDED, &e);
}

static struct verdict
s_extend(struct fx *f, const char *id, unsigned months)
{
	return s_extend_at(f, id, months, f->now);
}

static void
s_view(struct fx *f, const char *id, Jiceng__V1__MemberView *out)
{
	MDB_txn *txn;
	jiceng__v1__member_view__init(out);
	txn = fx_read(f);
	assert_int_equal(membership_get_member(f->m, txn, id, out), 0);
	mdb_txn_abort(txn);
}

/* Every named database, key and value, in order, as one byte string. */
static size_t
s_dump(struct fx *f, uint8_t **out)
{
	MDB_txn *txn;
	MDB_dbi main_dbi, dbi;
	MDB_cursor *mc, *c;
	MDB_val name, k, d;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	txn = fx_read(f);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, main_dbi, &mc), 0);
	for (int mop = MDB_FIRST; mdb_cursor_get(mc, &name, &d, mop) == 0; mop = MDB_NEXT) {
		char dbname[64];
		snprintf(dbname, sizeof dbname, "%.*s", (int)name.mv_size, (char *)name.mv_data);
		fprintf(fp, "[%s]", dbname);
		assert_int_equal(mdb_dbi_open(txn, dbname, 0, &dbi), 0);
		assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
		for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &d, op) == 0; op = MDB_NEXT) {
			fprintf(fp, "%zu:", k.mv_size);
			fwrite(k.mv_data, 1, k.mv_size, fp);
			fprintf(fp, "%zu:", d.mv_size);
			fwrite(d.mv_data, 1, d.mv_size, fp);
		}
		mdb_cursor_close(c);
	}
	mdb_cursor_close(mc);
	mdb_txn_abort(txn);
	fclose(fp);
	*out = (uint8_t *)buf;
	return len;
}

static bool
s_contains(const uint8_t *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* ---------------------------------------------------------- ID numbers */

static void
test_id_number_masked(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberView v;
	uint8_t *dump;
	size_t n;
	s_tree(f);
	ACCEPTED(s_admit(f, "m1", ID_A, NULL, fx_cst(2024, 3, 1, 10, 0)));
	s_view(f, "m1", &v);
	assert_string_equal(v.id_masked, "110105********002X");
	assert_string_equal(v.phone_masked, "138****5678");
	assert_string_equal(v.birth_date, "1949-12-31");
	assert_int_equal(v.sex, JICENG__V1__SEX__FEMALE);
	assert_int_equal(v.category, JICENG__V1__MEMBER_CATEGORY__PROBATIONARY);
	assert_int_equal(v.status, JICENG__V1__MEMBER_STATUS__NORMAL);
	assert_string_equal(v.township_id, TS1);
	membership_free_member_view(&v);
	/* The clear number is stored nowhere; lower case x is the same person. */
	n = s_dump(f, &dump);
	assert_false(s_contains(dump, n, ID_A));
	assert_false(s_contains(dump, n, "19491231002"));
	free(dump);
	REJECTED(s_admit(f, "m2", "11010519491231002x", NULL, f->now), "R4");
}

static void
test_bad_id_number(void **state)
{
	struct fx *f = *state;
	struct verdict v;
	char id[19];
	s_tree(f);
	v = s_admit(f, "m1", "110105194912310021", NULL, f->now);
	assert_false(v.accepted);
	assert_string_equal(v.code, "BAD_ID_NUMBER");
	assert_null(strstr(v.reason, "110105194912310021"));   /* never echoed */
	s_idnum("11010519900230123", id);                        /* 30 February */
	REJECTED(s_admit(f, "m1", id, NULL, f->now), "BAD_ID_NUMBER");
	REJECTED(s_admit(f, "m1", "123", NULL, f->now), "BAD_ID_NUMBER");
	/* A birth date or sex contradicting the number. */
	REJECTED(s_admit(f, "m1", ID_A, "1949-12-30", f->now), "BAD_ID_NUMBER");
	REJECTED(s_admit(f, "m1", NULL, "1990-02-30", f->now), "BAD_FIELD");
	ACCEPTED(s_admit(f, "m1", ID_A, "1949-12-31", f->now));
}

static void
test_sex_contradicts_id_number(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberAdmitted a = JICENG__V1__MEMBER_ADMITTED__INIT;
	Jiceng__V1__MemberView v;
	s_tree(f);
	a.member_id = "m1";
	a.org_id = "B";
	a.name = "王五";
	a.id_number = ID_A;                          /* digit 17 even: female */
	a.admitted_at = f->now;
	a.sex = JICENG__V1__SEX__MALE;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a), "BAD_ID_NUMBER");
	a.sex = JICENG__V1__SEX__FEMALE;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED, &a));
	s_view(f, "m1", &v);
	assert_int_equal(v.sex, JICENG__V1__SEX__FEMALE);
	membership_free_member_view(&v);
}

/* ---------------------------------------------------------- R1 */

static void
test_r1_confirmation(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberView v;
	int64_t admitted = fx_cst(2024, 3, 1, 10, 0);
	s_tree(f);
	ACCEPTED(s_admit(f, "m1", NULL, NULL, admitted));
	s_view(f, "m1", &v);
	assert_int_equal(v.probation_until, fx_cst(2025, 3, 1, 10, 0));
	membership_free_member_view(&v);
	f->now = fx_cst(2025, 6, 1, 0, 0);
	REJECTED(s_confirm(f, "m1", fx_cst(2025, 2, 28, 10, 0)), "R1");
	REJECTED(s_confirm(f, "m1", fx_cst(2025, 7, 1, 0, 0)), "FUTURE_TIME");
	ACCEPTED(s_confirm(f, "m1", fx_cst(2025, 3, 1, 10, 0)));
	REJECTED(s_confirm(f, "m1", fx_cst(2025, 3, 2, 0, 0)), "R1");   /* already full */
	REJECTED(s_extend(f, "m1", 6), "R1");
	s_view(f, "m1", &v);
	assert_int_equal(v.category, JICENG__V1__MEMBER_CATEGORY__FULL);
	assert_int_equal(v.confirmed_at, fx_cst(2025, 3, 1, 10, 0));
	membership_free_member_view(&v);
}

static void
test_r1_leap_day(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberView v;
	s_tree(f);
	/* 29 Feb 2024 CST (still 28 Feb in UTC) + 1 year = 28 Feb 2025. */
	ACCEPTED(s_admit(f, "m1", NULL, NULL, fx_cst(2024, 2, 29, 7, 0)));
	s_view(f, "m1", &v);
	assert_int_equal(v.probation_until, fx_cst(2025, 2, 28, 7, 0));
	membership_free_member_view(&v);
}

static void
test_r1_extension(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberView v;
	s_tree(f);
	ACCEPTED(s_admit(f, "m1", NULL, NULL, fx_cst(2024, 3, 1, 10, 0)));
	f->now = fx_cst(2025, 3, 1, 12, 0);
	REJECTED(s_extend(f, "m1", 5), "R1");
	REJECTED(s_extend(f, "m1", 13), "R1");
	ACCEPTED(s_extend(f, "m1", 6));
	REJECTED(s_extend(f, "m1", 6), "R1");                          /* once */
	s_view(f, "m1", &v);
	assert_true(v.probation_extended);
	assert_int_equal(v.probation_until, fx_cst(2025, 9, 1, 10, 0));
	membership_free_member_view(&v);
	f->now = fx_cst(2025, 12, 1, 0, 0);
	REJECTED(s_confirm(f, "m1", fx_cst(2025, 8, 31, 10, 0)), "R1");
	ACCEPTED(s_confirm(f, "m1", fx_cst(2025, 9, 1, 10, 0)));
}

/* R1 compares CST calendar dates: the anniversary counts from 00:00 CST,
 * though the admission was at 10:00 (and 00:00 CST is the day before in
 * UTC). */
static void
test_r1_calendar_dates(void **state)
{
	struct fx *f = *state;
	s_tree(f);
	ACCEPTED(s_admit(f, "m1", NULL, NULL, fx_cst(2024, 3, 1, 10, 0)));
	ACCEPTED(s_admit(f, "m2", NULL, NULL, fx_cst(2024, 3, 1, 10, 0)));
	f->now = fx_cst(2025, 3, 1, 12, 0);
	ACCEPTED(s_extend(f, "m2", 6));                  /* until 2025-09-01 */
	f->now = fx_cst(2025, 12, 1, 0, 0);
	REJECTED(s_confirm(f, "m1", fx_cst(2025, 2, 28, 23, 59)), "R1");
	ACCEPTED(s_confirm(f, "m1", fx_cst(2025, 3, 1, 0, 0)));
	REJECTED(s_confirm(f, "m2", fx_cst(2025, 8, 31, 23, 59)), "R1");
	ACCEPTED(s_confirm(f, "m2", fx_cst(2025, 9, 1, 0, 0)));
}

/* R1 at registration: a FULL member carries its confirmation date, on or
 * after the CST date a year after admission (as MemberConfirmed would
 * need); a PROBATIONARY one carries none. */
static void
test_r1_registered_full(void **state)
{
	struct fx *f = *state;
	const int full = JICENG__V1__MEMBER_CATEGORY__FULL;
	const int prob = JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	int64_t admitted = fx_cst(2020, 3, 1, 10, 0);
	Jiceng__V1__MemberView v;
	struct verdict vd;
	s_tree(f);
	REJECTED(s_register_at(f, "a", NULL, full, admitted, fx_cst(2020, 9, 1, 10, 0)), "R1");
	REJECTED(s_register_at(f, "a", NULL, full, admitted, fx_cst(2019, 3, 1, 10, 0)), "R1");
	REJECTED(s_register_at(f, "a", NULL, full, admitted, fx_cst(2021, 2, 28, 23, 59)), "R1");
	ACCEPTED(s_register_at(f, "a", NULL, full, admitted, fx_cst(2021, 3, 1, 0, 0)));
	/* A full member with no confirmation date: no probation on record. */
	vd = s_register_at(f, "b", NULL, full, admitted, 0);
	REJECTED(vd, "R1");
	assert_non_null(strstr(vd.reason, "confirmed_at"));
	/* A probationary member with one: it is not confirmed yet. */
	vd = s_register_at(f, "c", NULL, prob, fx_cst(2024, 6, 1, 10, 0), fx_cst(2025, 1, 1, 0, 0));
	REJECTED(vd, "R1");
	assert_non_null(strstr(vd.reason, "PROBATIONARY"));
	ACCEPTED(s_register_at(f, "c", NULL, prob, fx_cst(2024, 6, 1, 10, 0), 0));
	s_view(f, "a", &v);
	assert_int_equal(v.confirmed_at, fx_cst(2021, 3, 1, 0, 0));
	assert_int_equal(v.category, full);
	membership_free_member_view(&v);
	s_view(f, "c", &v);
	assert_int_equal(v.confirmed_at, 0);
	assert_int_equal(v.category, prob);
	membership_free_member_view(&v);
	/* Confirmed later, on the anniversary (R1 of MemberConfirmed). */
	f->now = fx_cst(2025, 7, 1, 0, 0);
	REJECTED(s_confirm(f, "c", fx_cst(2025, 5, 31, 23, 59)), "R1");
	ACCEPTED(s_confirm(f, "c", fx_cst(2025, 6, 1, 0, 0)));
}

/* A county's veterans: admitted in the 1950s, born before 1940, dates that
 * are negative Unix ms. R1 and R2 run on the CST calendar before 1970 as
 * after it. */
static void
test_veterans_before_1970(void **state)
{
	struct fx *f = *state;
	const int full = JICENG__V1__MEMBER_CATEGORY__FULL;
	int64_t admitted = civil_cst_midnight(1956, 7, 1);
	Jiceng__V1__MemberView v;
	char id[19];
	s_tree(f);
	assert_true(admitted < 0);
	assert_int_equal(admitted, -426153600000LL);  /* the 1956-07-01 00:00 CST */
	/* Born 1935-10-01 (number and field agree), admitted at 20, confirmed
	 * a year later to the day. */
	s_idnum("32012319351001123", id);
	Jiceng__V1__MemberRegistered e = fx_registration("vet-1", "B", full);
	e.id_number = id;
	e.birth_date = "1935-10-01";
	e.admitted_at = admitted;
	e.confirmed_at = civil_cst_midnight(1957, 6, 30);
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e), "R1");
	e.confirmed_at = civil_cst_midnight(1957, 7, 1);
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &e));
	s_view(f, "vet-1", &v);
	assert_int_equal(v.admitted_at, admitted);
	assert_int_equal(v.confirmed_at, civil_cst_midnight(1957, 7, 1));
	assert_string_equal(v.birth_date, "1935-10-01");
	membership_free_member_view(&v);
	/* R2 before 1970: 18 on 1953-10-01 (00:00 CST, the 30th in UTC). */
	REJECTED(s_register_at(f, "vet-2", "1935-10-01", full, fx_cst(1953, 9, 30, 23, 59),
	    fx_cst(1954, 10, 1, 0, 0)), "R2");
	ACCEPTED(s_register_at(f, "vet-2", "1935-10-01", full, fx_cst(1953, 10, 1, 0, 0),
	    fx_cst(1954, 10, 1, 0, 0)));
	/* Across 1970-01-01: admitted 1969-03-01, confirmed 1970-03-01. */
	REJECTED(s_register_at(f, "vet-3", "1940-02-29", full, fx_cst(1969, 3, 1, 9, 0),
	    fx_cst(1970, 2, 28, 23, 59)), "R1");
	ACCEPTED(s_register_at(f, "vet-3", "1940-02-29", full, fx_cst(1969, 3, 1, 9, 0),
	    fx_cst(1970, 3, 1, 0, 0)));
	/* Born on 29 February: 18 on 1 March of a common year, in 1958. */
	REJECTED(s_register_at(f, "vet-4", "1940-02-29", full, fx_cst(1958, 2, 28, 12, 0),
	    fx_cst(1959, 3, 1, 0, 0)), "R2");
	ACCEPTED(s_register_at(f, "vet-4", "1940-02-29", full, fx_cst(1958, 3, 1, 0, 0),
	    fx_cst(1959, 3, 1, 0, 0)));
	/* The first business date is 1900-01-01 00:00 CST; a birth date too. */
	REJECTED(s_register_at(f, "vet-5", NULL, full, RECORDS_TIME_MIN - 1,
	    fx_cst(1950, 1, 1, 0, 0)), "BAD_FIELD");
	REJECTED(s_register_at(f, "vet-5", "1899-12-31", full, admitted,
	    civil_cst_midnight(1957, 7, 1)), "BAD_FIELD");
	ACCEPTED(s_register_at(f, "vet-5", NULL, full, RECORDS_TIME_MIN,
	    civil_cst_midnight(1901, 1, 1)));
	ACCEPTED(s_register_at(f, "vet-6", "1900-01-01", full, fx_cst(1921, 7, 1, 9, 0),
	    fx_cst(1922, 7, 1, 9, 0)));
	/* A probationary member admitted in 1965, confirmed in 1966. */
	ACCEPTED(s_admit(f, "new-1965", NULL, "1945-05-04", fx_cst(1965, 5, 4, 10, 0)));
	REJECTED(s_confirm(f, "new-1965", fx_cst(1966, 5, 3, 23, 59)), "R1");
	ACCEPTED(s_confirm(f, "new-1965", fx_cst(1966, 5, 4, 0, 0)));
	s_view(f, "new-1965", &v);
	assert_int_equal(v.category, full);
	membership_free_member_view(&v);
}

/* ---------------------------------------------------------- R2 */

static void
test_r2_admission_age(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__Rules r = JICENG__V1__RULES__INIT;
	Jiceng__V1__MemberUpdated u = JICENG__V1__MEMBER_UPDATED__INIT;
	char id[19];
	f->now = fx_cst(2026, 6, 1, 0, 0);                /* the admissions are past */
	s_tree(f);
	s_idnum("44030020070615123", id);                 /* born 2007-06-15 */
	/* 18 at 00:00 CST on 15 June 2025, which is 16:00 UTC on the 14th. */
	REJECTED(s_admit(f, "m1", id, NULL, fx_cst(2025, 6, 14, 23, 59)), "R2");
	ACCEPTED(s_admit(f, "m1", id, NULL, fx_cst(2025, 6, 15, 0, 0)));
	/* From the birth_date field when there is no number. */
	REJECTED(s_admit(f, "m2", NULL, "2008-01-01", fx_cst(2025, 12, 31, 12, 0)), "R2");
	ACCEPTED(s_admit(f, "m2", NULL, "2008-01-01", fx_cst(2026, 1, 1, 0, 0)));
	/* Unknown birth date: nothing to check. */
	ACCEPTED(s_admit(f, "m3", NULL, NULL, fx_cst(2025, 1, 1, 0, 0)));
	/* The age is a setting. */
	r.member_min_admission_age = 20;
	ACCEPTED(fx_rules(f, &r));
	REJECTED(s_admit(f, "m4", NULL, "2000-01-01", fx_cst(2019, 12, 31, 12, 0)), "R2");
	ACCEPTED(s_admit(f, "m4", NULL, "2000-01-01", fx_cst(2020, 1, 1, 12, 0)));
	/* Members admitted under the old age are not failed by a later edit... */
	u.member_id = "m1";
	u.name = "改名";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u));
	/* ...but a birth date learnt later is checked. */
	u.member_id = "m3";
	u.birth_date = "2010-01-01";
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u), "R2");
	u.birth_date = "1990-01-01";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u));
}

static void
test_r2_registered(void **state)
{
	struct fx *f = *state;
	const int prob = JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	const int full = JICENG__V1__MEMBER_CATEGORY__FULL;
	int64_t admitted = fx_cst(2024, 12, 1, 10, 0);
	char id[19];
	s_tree(f);
	REJECTED(s_register_at(f, "a", "2007-06-15", prob, admitted, 0), "R2");
	REJECTED(s_register_at(f, "a", "2007-06-15", full, fx_cst(2023, 12, 1, 10, 0),
	    fx_cst(2024, 12, 1, 10, 0)), "R2");
	ACCEPTED(s_register_at(f, "a", "2006-06-15", prob, admitted, 0));
	/* From the number: born 2000-01-01, registered as admitted in 2010. */
	s_idnum("44030020000101123", id);
	REJECTED(s_register(f, "b", "B", id), "R2");
}

/* R2 cannot be met on paper by dating the admission years ahead. */
static void
test_r2_future_admission(void **state)
{
	struct fx *f = *state;                           /* now: 2025-01-10 */
	int64_t ahead = fx_cst(2037, 1, 10, 9, 0);       /* 18 by then */
	s_tree(f);
	REJECTED(s_admit(f, "m1", NULL, "2019-01-01", f->now), "R2");
	REJECTED(s_admit(f, "m1", NULL, "2019-01-01", ahead), "FUTURE_TIME");
	REJECTED(s_register_at(f, "m1", "2019-01-01", JICENG__V1__MEMBER_CATEGORY__PROBATIONARY,
	    ahead, 0), "FUTURE_TIME");
}

/* ---------------------------------------------------------- event times */

static void
test_future_times(void **state)
{
	struct fx *f = *state;
	const int full = JICENG__V1__MEMBER_CATEGORY__FULL;
	const int susp = JICENG__V1__MEMBER_STATUS__SUSPENDED;
	const int64_t skew = 10 * 60 * 1000, old = fx_cst(2020, 1, 1, 9, 0);
	const int64_t before1900 = fx_cst(1899, 12, 31, 23, 59);
	struct verdict v;
	s_tree(f);
	/* Ten minutes past the journal time pass; a minute more does not. */
	ACCEPTED(s_admit(f, "m1", NULL, NULL, f->now + skew));
	v = s_admit(f, "m2", NULL, NULL, f->now + skew + 60000);
	REJECTED(v, "FUTURE_TIME");
	assert_non_null(strstr(v.reason, "admitted_at"));
	REJECTED(s_register_at(f, "r", NULL, full, f->now + DAY, 0), "FUTURE_TIME");
	v = s_register_at(f, "r", NULL, full, old, f->now + DAY);
	REJECTED(v, "FUTURE_TIME");
	assert_non_null(strstr(v.reason, "confirmed_at"));
	ACCEPTED(s_admit(f, "p", NULL, NULL, fx_cst(2023, 1, 1, 9, 0)));
	REJECTED(s_confirm(f, "p", f->now + DAY), "FUTURE_TIME");
	REJECTED(s_extend_at(f, "p", 6, f->now + DAY), "FUTURE_TIME");
	REJECTED(fx_status_at(f, "p", susp, f->now + DAY), "FUTURE_TIME");
	/* Times before 1900-01-01 00:00 CST, and missing ones where a time is
	 * required. */
	REJECTED(s_admit(f, "m2", NULL, NULL, 0), "BAD_FIELD");
	REJECTED(s_admit(f, "m2", NULL, NULL, before1900), "BAD_FIELD");
	REJECTED(s_register_at(f, "r", NULL, full, 0, 0), "BAD_FIELD");
	REJECTED(s_register_at(f, "r", NULL, full, old, before1900), "BAD_FIELD");
	REJECTED(s_confirm(f, "p", 0), "BAD_FIELD");
	REJECTED(s_confirm(f, "p", before1900), "BAD_FIELD");
	REJECTED(s_extend_at(f, "p", 6, before1900), "BAD_FIELD");
	v = fx_status_at(f, "p", susp, before1900);
	REJECTED(v, "BAD_FIELD");
	assert_non_null(strstr(v.reason, "effective_at"));
	assert_non_null(strstr(v.reason, "1900-01-01"));
	/* A negative time is an instant before 1970: valid. */
	ACCEPTED(s_admit(f, "m3", NULL, NULL, -5));
	/* decided_at and effective_at may be left out. */
	ACCEPTED(s_extend_at(f, "p", 6, 0));
	ACCEPTED(fx_status_at(f, "p", susp, 0));
}

/* ---------------------------------------------------------- R3 */

static void
test_r3_only_normal(void **state)
{
	struct fx *f = *state;
	s_tree(f);
	ACCEPTED(s_admit(f, "m1", NULL, NULL, fx_cst(2024, 3, 1, 10, 0)));
	ACCEPTED(fx_status(f, "m1", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	f->now = fx_cst(2025, 6, 1, 0, 0);
	REJECTED(s_extend(f, "m1", 6), "R3");
	REJECTED(s_confirm(f, "m1", fx_cst(2025, 3, 2, 0, 0)), "R3");
	ACCEPTED(fx_status(f, "m1", JICENG__V1__MEMBER_STATUS__NORMAL));
	ACCEPTED(s_confirm(f, "m1", fx_cst(2025, 3, 2, 0, 0)));
}

/* ---------------------------------------------------------- R4 */

static void
test_r4_duplicate_person(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberUpdated u = JICENG__V1__MEMBER_UPDATED__INIT;
	struct verdict v;
	char id_b[19], id_c[19];
	s_tree(f);
	s_idnum("44030019900307123", id_b);
	s_idnum("44030019851111224", id_c);
	ACCEPTED(s_register(f, "a", "B", ID_A));
	REJECTED(s_register(f, "a2", "B2", ID_A), "R4");
	ACCEPTED(s_register(f, "b", "B", id_b));
	/* Another township registering the same person: R4, without naming
	 * the other township's member. */
	f->township = TS2;
	ACCEPTED(fx_org(f, "T2", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, NULL, NULL));
	v = s_register(f, "x", "T2", ID_A);
	assert_false(v.accepted);
	assert_string_equal(v.code, "R4");
	assert_null(strstr(v.reason, " a:"));
	f->township = TS1;
	/* Correcting b's number to a's: R4; to a fresh one frees the old. */
	u.member_id = "b";
	u.id_number = ID_A;
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u), "R4");
	u.id_number = id_c;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u));
	ACCEPTED(s_register(f, "c", "B2", id_b));
	REJECTED(s_register(f, "c2", "B2", id_c), "R4");
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u));   /* same number again */
}

/* ---------------------------------------------------------- other events */

static void
test_member_exists_and_township(void **state)
{
	struct fx *f = *state;
	char ts[16];
	MDB_txn *txn;
	s_tree(f);
	ACCEPTED(s_register(f, "a", "B", NULL));
	REJECTED(s_register(f, "a", "B2", NULL), "MEMBER_EXISTS");
	REJECTED(s_admit(f, "a", NULL, NULL, f->now), "MEMBER_EXISTS");
	f->township = TS2;
	REJECTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__QUIT), "WRONG_TOWNSHIP");
	REJECTED(fx_status(f, "nobody", JICENG__V1__MEMBER_STATUS__QUIT), "UNKNOWN_MEMBER");
	txn = fx_read(f);
	assert_int_equal(membership_member_township(f->m, txn, "a", ts), 0);
	assert_string_equal(ts, TS1);
	assert_int_equal(membership_member_township(f->m, txn, "nobody", ts), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

static void
test_status_changes(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__OrgView o = JICENG__V1__ORG_VIEW__INIT;
	MDB_txn *txn;
	s_tree(f);
	ACCEPTED(s_register(f, "a", "B", NULL));
	ACCEPTED(s_register(f, "b", "B", NULL));
	ACCEPTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__EXPELLED));
	ACCEPTED(fx_status(f, "b", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	txn = fx_read(f);
	assert_int_equal(membership_get_org(f->m, txn, "B", &o), 0);
	assert_int_equal(o.member_count, 1);        /* the suspended one counts */
	assert_int_equal(o.full_member_count, 1);
	membership_free_org_view(&o);
	mdb_txn_abort(txn);
	ACCEPTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__NORMAL));
	ACCEPTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__DECEASED));
	REJECTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__NORMAL), "BAD_STATUS");
	REJECTED(fx_status(f, "b", JICENG__V1__MEMBER_STATUS__MEMBER_STATUS_UNSPECIFIED), "BAD_FIELD");
}

static void
test_member_updated(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberUpdated u = JICENG__V1__MEMBER_UPDATED__INIT;
	Jiceng__V1__MemberView v;
	char *acts[] = { "V", "B2" }, *bad[] = { "B" };
	s_tree(f);
	ACCEPTED(s_admit(f, "m", ID_A, NULL, fx_cst(2024, 3, 1, 10, 0)));
	u.member_id = "m";
	u.name = "王五五";
	u.replace_activity_orgs = true;
	u.n_activity_org_ids = 2;
	u.activity_org_ids = acts;
	u.set_farmer = true;
	u.farmer = true;
	u.clear_phone = true;
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u));
	s_view(f, "m", &v);
	assert_string_equal(v.name, "王五五");
	assert_int_equal(v.n_activity_org_ids, 2);
	assert_string_equal(v.activity_org_ids[1], "B2");
	assert_true(v.farmer);
	assert_string_equal(v.phone_masked, "");
	assert_string_equal(v.id_masked, "110105********002X");   /* unchanged */
	membership_free_member_view(&v);

	memset(&u, 0, sizeof u);
	jiceng__v1__member_updated__init(&u);
	u.member_id = "m";
	u.replace_activity_orgs = true;
	u.n_activity_org_ids = 1;
	u.activity_org_ids = bad;                    /* the home org */
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u), "BAD_FIELD");
	u.replace_activity_orgs = false;
	u.birth_date = "1950-01-01";                 /* contradicts the number */
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u), "BAD_ID_NUMBER");
	u.birth_date = "";
	u.phone = "call me";
	REJECTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u), "BAD_FIELD");
	u.phone = "0106-5551234";
	ACCEPTED(fx_send(f, JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED, &u));
	s_view(f, "m", &v);
	assert_string_equal(v.phone_masked, "010*****1234");
	membership_free_member_view(&v);
}

static void
test_list_members(void **state)
{
	struct fx *f = *state;
	Jiceng__V1__MemberList l = JICENG__V1__MEMBER_LIST__INIT;
	const char *ids[] = { "a1", "a2", "a3", "a4", "a5" };
	MDB_txn *txn;
	s_tree(f);
	for (int i = 4; i >= 0; i--)
		ACCEPTED(s_register(f, ids[i], "B", NULL));
	ACCEPTED(s_register(f, "a0", "B2", NULL));
	txn = fx_read(f);
	assert_int_equal(membership_list_members(f->m, txn, "B", "", 2, &l), 0);
	assert_int_equal(l.n_members, 2);
	assert_string_equal(l.members[0]->member_id, "a1");
	assert_string_equal(l.next_after, "a2");
	membership_free_member_list(&l);
	assert_int_equal(membership_list_members(f->m, txn, "B", "a2", 2, &l), 0);
	assert_string_equal(l.members[0]->member_id, "a3");
	assert_string_equal(l.next_after, "a4");
	membership_free_member_list(&l);
	assert_int_equal(membership_list_members(f->m, txn, "B", "a4", 2, &l), 0);
	assert_int_equal(l.n_members, 1);
	assert_string_equal(l.members[0]->member_id, "a5");
	assert_string_equal(l.next_after, "");
	membership_free_member_list(&l);
	assert_int_equal(membership_list_members(f->m, txn, "B", "", 0, &l), 0);
	assert_int_equal(l.n_members, 5);
	membership_free_member_list(&l);
	assert_int_equal(membership_list_members(f->m, txn, "V", "", 10, &l), 0);
	assert_int_equal(l.n_members, 0);
	membership_free_member_list(&l);
	assert_int_equal(membership_list_members(f->m, txn, "nobody", "", 10, &l), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- determinism */

/* A script touching every table, with rejected events among the accepted. */
static void
s_script(struct fx *f)
{
	char id[19];
	s_tree(f);
	s_idnum("44030019900307123", id);
	ACCEPTED(s_register(f, "a", "B", ID_A));
	ACCEPTED(s_register(f, "b", "B", id));
	REJECTED(s_register(f, "c", "B", id), "R4");
	ACCEPTED(s_admit(f, "p", NULL, "2000-05-05", fx_cst(2024, 3, 1, 10, 0)));
	REJECTED(s_admit(f, "q", NULL, "2010-05-05", fx_cst(2024, 3, 1, 10, 0)), "R2");
	f->now = fx_cst(2025, 3, 2, 0, 0);
	ACCEPTED(s_extend(f, "p", 7));
	ACCEPTED(fx_status(f, "a", JICENG__V1__MEMBER_STATUS__SUSPENDED));
	f->now = fx_cst(2025, 6, 1, 0, 0);
	ACCEPTED(fx_tick(f));
}

static void
test_determinism(void **state)
{
	struct fx *a = *state, *b = fx_new();
	uint8_t *da, *db, *before, *after;
	size_t na, nb, n1, n2;
	s_script(a);
	s_script(b);
	na = s_dump(a, &da);
	nb = s_dump(b, &db);
	assert_true(na > 1000);
	assert_int_equal(na, nb);
	assert_memory_equal(da, db, na);
	assert_true(s_contains(da, na, "[membership_audit]"));
	free(da);
	free(db);
	/* A rejected event leaves no trace. */
	n1 = s_dump(b, &before);
	REJECTED(s_confirm(b, "p", fx_cst(2025, 3, 2, 0, 0)), "R1");
	n2 = s_dump(b, &after);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
	fx_free(b);
}

int
unit_members(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_id_number_masked, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_id_number, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sex_contradicts_id_number, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r1_confirmation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r1_leap_day, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r1_extension, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r1_calendar_dates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r1_registered_full, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_veterans_before_1970, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r2_admission_age, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r2_registered, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r2_future_admission, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_future_times, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r3_only_normal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_r4_duplicate_person, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_member_exists_and_township, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_status_changes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_member_updated, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_members, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_determinism, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("members", tests, NULL, NULL);
}
