/*
 * meetings_query: the meetings domain's read side (meetings.h): a meeting,
 * an org's meetings in a period, a member's attendance by month. Pure
 * reads of one transaction through meetings_records.h; no authorisation
 * (the query server scopes a key by the township these report).
 */
#include "meetings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meetings_records.h"

#define PAGE_DEFAULT 100u
#define PAGE_MAX     1000u
#define MONTH_LAST   999912   /* no upper bound */

static unsigned
s_page_limit(unsigned limit)
{
	return limit == 0 ? PAGE_DEFAULT : limit > PAGE_MAX ? PAGE_MAX : limit;
}

/* A period of months (0: unbounded) as months and as instants, the first
 * of from_month to the last of to_month (CST). EINVAL for a month that is
 * not real or from after to. */
static int
s_period(int from_month, int to_month, int *from_m, int *to_m, int64_t *from,
    int64_t *to)
{
	if ((from_month && !civil_month_valid(from_month)) ||
	    (to_month && !civil_month_valid(to_month)) ||
	    (from_month && to_month && from_month > to_month))
		return EINVAL;
	*from_m = from_month;
	*to_m = to_month ? to_month : MONTH_LAST;
	*from = from_month ? civil_cst_midnight(from_month / 100, from_month % 100, 1) :
	    -CIVIL_TIME_MAX;
	*to = to_month ? civil_add_months(civil_cst_midnight(to_month / 100,
	    to_month % 100, 1), 1) - 1 : CIVIL_TIME_MAX;
	return 0;
}

/* ---------------------------------------------------------- a meeting */

int
meetings_get(struct meetings *mt, MDB_txn *txn, const char *meeting_id,
    Jiceng__V1__MeetingView **out)
{
	return meetings_record_load(mt, txn, meeting_id, out);
}

void
meetings_free_meeting(Jiceng__V1__MeetingView **v)
{
	meetings_record_free(v);
}

int
meetings_township(struct meetings *mt, MDB_txn *txn, const char *meeting_id,
    char out[16])
{
	Jiceng__V1__MeetingView *v;
	int rc = meetings_record_load(mt, txn, meeting_id, &v);

	if (rc)
		return rc;
	if (strlen(v->township_id) >= 16)
		rc = MDB_CORRUPTED;
	else
		snprintf(out, 16, "%s", v->township_id);
	meetings_record_free(&v);
	return rc;
}

/* ---------------------------------------------------------- an org's */

struct page {
	struct meetings *mt;
	MDB_txn *txn;
	unsigned limit;
	Jiceng__V1__MeetingList *l;
};

/* A full page has one more meeting: it ends at the last one taken. */
static int
s_take(void *arg, const char *meeting_id, bool *stop)
{
	struct page *p = arg;
	Jiceng__V1__MeetingList *l = p->l;
	int rc;

	if (l->n_meetings == p->limit) {
		*stop = true;
		l->next_after = strdup(l->meetings[l->n_meetings - 1]->meeting_id);
		return l->next_after ? 0 : ENOMEM;
	}
	rc = meetings_record_load(p->mt, p->txn, meeting_id, &l->meetings[l->n_meetings]);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* the index names records */
	l->n_meetings++;
	return 0;
}

/* Where a page after `after` starts: its held_at, when it is a meeting of
 * org_id (EINVAL otherwise). */
static int
s_after(struct meetings *mt, MDB_txn *txn, const char *org_id, const char *after,
    int64_t *at)
{
	Jiceng__V1__MeetingView *v;
	int rc = meetings_record_load(mt, txn, after, &v);

	if (rc == MDB_NOTFOUND)
		return EINVAL;
	if (rc)
		return rc;
	rc = strcmp(v->org_id, org_id) == 0 ? 0 : EINVAL;
	*at = v->held_at;
	meetings_record_free(&v);
	return rc;
}

/* Cost: one seek, then one index entry and one record per meeting, plus
 * one entry past a full page. */
int
meetings_list(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int from_month, int to_month, const char *after, unsigned limit,
    Jiceng__V1__MeetingList **out)
{
	struct page p = { mt, txn, s_page_limit(limit), NULL };
	struct org_rec o;
	int64_t from, to, after_at = 0;
	int fm, tm;
	int rc;

	*out = NULL;
	if ((rc = records_org_load(mt->m, txn, org_id, &o)) ||
	    (rc = s_period(from_month, to_month, &fm, &tm, &from, &to)))
		return rc;
	if (after && !*after)
		after = NULL;
	if (after && (rc = s_after(mt, txn, org_id, after, &after_at)))
		return rc;
	if (!(p.l = malloc(sizeof *p.l)))
		return ENOMEM;
	jiceng__v1__meeting_list__init(p.l);
	if (!(p.l->org_id = strdup(org_id)) ||
	    !(p.l->meetings = calloc(p.limit, sizeof *p.l->meetings)))
		rc = ENOMEM;
	else
		rc = meetings_by_org_each(mt, txn, org_id, from, to, after_at, after,
		    s_take, &p);
	if (rc)
		meetings_free_list(&p.l);
	*out = p.l;
	return rc;
}

void
meetings_free_list(Jiceng__V1__MeetingList **l)
{
	if (l && *l) {
		jiceng__v1__meeting_list__free_unpacked(*l, NULL);
		*l = NULL;
	}
}

/* ---------------------------------------------------------- a member's */

static int
s_month(void *arg, int month, const char *const *ids, size_t count)
{
	Jiceng__V1__AttendanceList *l = arg;
	Jiceng__V1__MonthAttendance *m, **months;

	months = realloc(l->months, (l->n_months + 1) * sizeof *l->months);
	if (!months)
		return ENOMEM;
	l->months = months;
	if (!(m = malloc(sizeof *m)))
		return ENOMEM;
	jiceng__v1__month_attendance__init(m);
	l->months[l->n_months++] = m;
	m->month = month;
	m->count = (uint32_t)count;
	if (!(m->meeting_ids = calloc(count ? count : 1, sizeof *m->meeting_ids)))
		return ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (!(m->meeting_ids[i] = strdup(ids[i])))
			return ENOMEM;
		m->n_meeting_ids++;
	}
	return 0;
}

int
meetings_attendance(struct meetings *mt, MDB_txn *txn, const char *member_id,
    int from_month, int to_month, Jiceng__V1__AttendanceList **out)
{
	Jiceng__V1__AttendanceList *l;
	struct member_rec r;
	int64_t from, to;
	int fm, tm;
	int rc;

	*out = NULL;
	if ((rc = records_member_load(mt->m, txn, member_id, &r)) ||
	    (rc = s_period(from_month, to_month, &fm, &tm, &from, &to)))
		return rc;
	if (!(l = malloc(sizeof *l)))
		return ENOMEM;
	jiceng__v1__attendance_list__init(l);
	if (!(l->member_id = strdup(member_id)))
		rc = ENOMEM;
	else
		rc = meetings_attendance_each(mt, txn, member_id, fm, tm, s_month, l);
	if (rc)
		meetings_free_attendance(&l);
	*out = l;
	return rc;
}

void
meetings_free_attendance(Jiceng__V1__AttendanceList **l)
{
	if (l && *l) {
		jiceng__v1__attendance_list__free_unpacked(*l, NULL);
		*l = NULL;
	}
}

/* ---------------------------------------------------------- for the reports */

struct tally {
	struct meetings *mt;
	MDB_txn *txn;
	int from_month;
	struct meetings_tally *t;
};

/* Is the record not a valid meeting of type `type` (M2, M3)? */
static bool
s_inquorate(const Jiceng__V1__MeetingView *v, int type)
{
	return (type == JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY && v->inquorate) ||
	    (type == JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE && v->committee_inquorate);
}

static int
s_tally_one(void *arg, const char *meeting_id, bool *stop)
{
	struct tally *y = arg;
	Jiceng__V1__MeetingView *v;
	int rc = meetings_record_load(y->mt, y->txn, meeting_id, &v), i;

	(void)stop;
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* the index names records */
	i = civil_month_diff(y->from_month, v->month);
	if (i < 0 || i >= MEETINGS_TALLY_MONTHS)
		rc = MDB_CORRUPTED;   /* held_at is in the period walked */
	for (size_t k = 0; rc == 0 && k < v->n_types; k++) {
		int type = v->types[k];
		if (type <= 0 || type >= MEETINGS_TYPES)
			continue;
		if (s_inquorate(v, type))
			y->t->not_counted[type][i]++;
		else
			y->t->held[type][i]++;
	}
	meetings_record_free(&v);
	return rc;
}

int
meetings_tally_add(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int from_month, int to_month, struct meetings_tally *t)
{
	struct tally y = { mt, txn, from_month, t };
	int64_t from, to;
	int fm, tm, rc;

	if (!from_month || !to_month ||
	    (rc = s_period(from_month, to_month, &fm, &tm, &from, &to)))
		return EINVAL;
	if (civil_month_diff(from_month, to_month) >= MEETINGS_TALLY_MONTHS)
		return EINVAL;
	return meetings_by_org_each(mt, txn, org_id, from, to, 0, NULL, s_tally_one, &y);
}

static int
s_last_month(void *arg, int month, const char *const *ids, size_t count)
{
	(void)ids;
	if (count)
		*(int *)arg = month;
	return 0;
}

int
meetings_last_attended(struct meetings *mt, MDB_txn *txn, const char *member_id,
    int month, int *last)
{
	*last = 0;
	return meetings_attendance_each(mt, txn, member_id, 0, month, s_last_month, last);
}
