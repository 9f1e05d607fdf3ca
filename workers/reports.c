/*
 * reports: the period audits and reports (reports.h).
 *
 * Choices the rules leave open (docs/rules.md "Reports" says them to the
 * operator):
 * - A township's scope is every org of that township; an org's, the org
 *   and every org below it; members are those whose home org is in scope.
 * - A month counts for an org when the org existed through it: established
 *   on or before its first day and not dissolved before its last (CST
 *   dates). A quarter or a year is due when every month of it counts, so a
 *   branch founded during a year owes that year's yearly meetings only
 *   from its first whole year on.
 * - The audit covers 党支部 (BRANCH, JOINT_BRANCH, MOBILE_BRANCH), where
 *   三会一课 are held (支部工作条例): not temporary branches, which mainly
 *   organise study and take no dues or admissions, nor committees, general
 *   branches or party groups. A record counts once for each of its types;
 *   an inquorate assembly (M2) or committee meeting (M3) is not a valid
 *   meeting: it is reported as not counted.
 * - Orgs know their party groups: a branch's PARTY_GROUP children. The
 *   group-meeting rule is due in each month a branch has groups that
 *   existed through it, per_unit times their number; a GROUP_MEETING
 *   record of the branch or of any of its groups counts.
 * - Member reports count NORMAL members on a roster (not transferred out
 *   of the county), probationary ones too (党章 Art. 7: the same duties);
 *   members in transfer or away are listed with their states. A mobile
 *   member's attendance at its host org is recorded under the member, so
 *   it counts. The months counted start at the latest of the admission
 *   month, the month a transfer from outside the county was received (its
 *   letter's dues_paid_through counts as dues) and since_month.
 * - Activity funds: the year is each payment's period year, as in the
 *   ledger; members are counted now (an OrgView's member_count).
 */
#include "reports.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "funds.h"
#include "meetings.h"
#include "money.h"
#include "records.h"

#define PAGE_DEFAULT   100u
#define PAGE_MAX       1000u
#define SCOPE_ORGS_MAX 1000000   /* more in one subtree: the tree has a cycle */
#define REVIEW_MONTHS  12        /* L4: the certificate's annual review */

#define KIND(x) JICENG__V1__ORG_KIND__##x
#define TYPE(x) JICENG__V1__MEETING_TYPE__##x

/* ---------------------------------------------------------- id sets */

/* Ids (orgs, members, flows), sorted once filled. */
struct idset {
	char (*ids)[CODEC_MAX_ID + 1];
	size_t n, cap;
};

static int
s_push(struct idset *s, const char *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *ids = realloc(s->ids, cap * sizeof *s->ids);
		if (!ids)
			return ENOMEM;
		s->ids = ids;
		s->cap = cap;
	}
	snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
	return 0;
}

static int
s_push_pair(void *arg, const char *id, bool *stop)
{
	(void)stop;
	return s_push(arg, id);
}

static int
s_id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
s_sort(struct idset *s)
{
	if (s->n)
		qsort(s->ids, s->n, sizeof s->ids[0], s_id_cmp);
}

static bool
s_has(const struct idset *s, const char *id)
{
	return *id && s->n && bsearch(id, s->ids, s->n, sizeof s->ids[0], s_id_cmp);
}

/* The first index whose id sorts after `after` ("": 0). */
static size_t
s_after(const struct idset *s, const char *after)
{
	size_t lo = 0, hi = s->n;
	while (*after && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(s->ids[mid], after) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
s_idset_free(struct idset *s)
{
	free(s->ids);
	memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------- scope */

struct township_orgs {
	const char *township;   /* "": every org */
	struct idset *orgs;
};

static int
s_township_org(void *arg, const struct org_rec *o, bool *stop)
{
	struct township_orgs *t = arg;
	(void)stop;
	return *t->township && strcmp(o->township_id, t->township) != 0 ? 0 :
	    s_push(t->orgs, o->org_id);
}

/* org_id and every org below it, breadth first, then sorted. */
static int
s_subtree(struct membership *m, MDB_txn *txn, const char *org_id, struct idset *orgs)
{
	struct org_rec o;
	int rc;

	if ((rc = records_org_load(m, txn, org_id, &o)) || (rc = s_push(orgs, org_id)))
		return rc;
	for (size_t i = 0; rc == 0 && i < orgs->n; i++)
		rc = orgs->n > SCOPE_ORGS_MAX ? MDB_CORRUPTED :
		    records_children_each(m, txn, orgs->ids[i], s_push_pair, orgs);
	s_sort(orgs);
	return rc;
}

/* The orgs a scope covers, sorted (records_orgs_each walks in order). */
static int
s_scope_orgs(struct membership *m, MDB_txn *txn, const struct reports_scope *s,
    struct idset *orgs)
{
	struct township_orgs t = { s->township_id ? s->township_id : "", orgs };

	if (s->org_id && *s->org_id)
		return s_subtree(m, txn, s->org_id, orgs);
	return records_orgs_each(m, txn, s_township_org, &t);
}

/* The members whose home org is one of orgs, sorted. */
static int
s_scope_members(struct membership *m, MDB_txn *txn, const struct idset *orgs,
    struct idset *members)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < orgs->n; i++)
		rc = records_pair_each(txn, m->roster, orgs->ids[i], "", s_push_pair, members);
	s_sort(members);
	return rc;
}

/* ---------------------------------------------------------- pages */

static unsigned
s_limit(const struct reports_page *p)
{
	return p->limit == 0 ? PAGE_DEFAULT : p->limit > PAGE_MAX ? PAGE_MAX : p->limit;
}

static const char *
s_page_after(const struct reports_page *p)
{
	return p->after ? p->after : "";
}

/* Is a page of n rows full? Then it ends at `last`, the last id taken. */
static int
s_full(size_t n, unsigned limit, const char *last, char **next_after, bool *full)
{
	*full = n == limit;
	if (!*full)
		return 0;
	*next_after = strdup(last);
	return *next_after ? 0 : ENOMEM;
}

/* ptr = a copy of s; false when out of memory. */
static bool
s_set(char **ptr, const char *s)
{
	return (*ptr = strdup(s)) != NULL;
}

void
reports_free(void *report)
{
	if (report)
		protobuf_c_message_free_unpacked(report, NULL);
}

/* ---------------------------------------------------------- 三会一课 audit */

/* Each type audited, its unit in months and its rule setting. */
static const struct {
	int type;
	int unit;
	size_t rule;   /* offsetof(Rules, ...): at least this many a unit */
} s_required[] = {
	{ TYPE(BRANCH_ASSEMBLY), 3, offsetof(Rules, meetings_assembly_per_quarter) },
	{ TYPE(BRANCH_COMMITTEE), 1, offsetof(Rules, meetings_committee_per_month) },
	{ TYPE(GROUP_MEETING), 1, offsetof(Rules, meetings_group_per_month) },
	{ TYPE(PARTY_LECTURE), 3, offsetof(Rules, meetings_lecture_per_quarter) },
	{ TYPE(THEMED_PARTY_DAY), 1, offsetof(Rules, meetings_themed_day_per_month) },
	{ TYPE(ORG_LIFE_MEETING), 12, offsetof(Rules, meetings_org_life_per_year) },
	{ TYPE(DEMOCRATIC_APPRAISAL), 12, offsetof(Rules, meetings_appraisal_per_year) },
};

/* One branch over the period. */
struct audit {
	struct membership *m;
	struct meetings *mt;
	MDB_txn *txn;
	int from, months;                          /* the period */
	int64_t at;                                /* units over by then are due */
	bool existed[MEETINGS_TALLY_MONTHS];       /* through month i */
	uint32_t groups[MEETINGS_TALLY_MONTHS];    /* its party groups that did */
	struct meetings_tally own;                 /* its meetings */
	struct meetings_tally of_groups;           /* its groups' meetings */
};

/* Did o exist through month (YYYYMM): established by its first day, not
 * dissolved before its last (CST dates)? */
static bool
s_existed(const struct org_rec *o, int month)
{
	int64_t first = civil_cst_days(civil_month_start(month));
	int64_t last = civil_cst_days(civil_month_start(civil_month_add(month, 1))) - 1;
	return civil_cst_days(o->established_at) <= first &&
	    (!o->dissolved || civil_cst_days(o->dissolved_at) >= last);
}

static bool
s_audited_kind(int kind)
{
	return kind == KIND(BRANCH) || kind == KIND(JOINT_BRANCH) || kind == KIND(MOBILE_BRANCH);
}

/* A child of the branch: a party group counts in the months it existed
 * through, and its meetings are tallied. */
static int
s_audit_group(void *arg, const char *org_id, bool *stop)
{
	struct audit *a = arg;
	struct org_rec g;
	int rc = records_org_load(a->m, a->txn, org_id, &g);

	(void)stop;
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* children are orgs */
	if (g.kind != KIND(PARTY_GROUP))
		return 0;
	for (int i = 0; i < a->months; i++)
		a->groups[i] += s_existed(&g, civil_month_add(a->from, i));
	return meetings_tally_add(a->mt, a->txn, org_id, a->from,
	    civil_month_add(a->from, a->months - 1), &a->of_groups);
}

/* How many months of the period o existed through (a->existed filled). */
static int
s_audit_months(struct audit *a, const struct org_rec *o)
{
	int n = 0;
	for (int i = 0; i < a->months; i++)
		n += a->existed[i] = s_existed(o, civil_month_add(a->from, i));
	return n;
}

/* The label of the unit starting at month i: YYYYMM, YYYYQ or YYYY. */
static int32_t
s_unit_label(const struct audit *a, int i, int unit)
{
	int month = civil_month_add(a->from, i);
	return unit == 1 ? month : unit == 3 ? civil_month_quarter(month) : month / 100;
}

/* The requirement of type over the period's units of `unit` months. */
static void
s_requirement_units(const struct audit *a, int type, int unit,
    Jiceng__V1__MeetingRequirement *q)
{
	bool group = type == TYPE(GROUP_MEETING);
	for (int u = 0; u + unit <= a->months; u += unit) {
		uint32_t held = 0, nc = 0, need = group ? 0 : q->per_unit;
		bool due = civil_month_start(civil_month_add(a->from, u + unit)) <= a->at;
		for (int i = u; i < u + unit; i++) {
			due = due && a->existed[i];
			held += a->own.held[type][i] + (group ? a->of_groups.held[type][i] : 0);
			nc += a->own.not_counted[type][i];
			need += group ? q->per_unit * a->groups[i] : 0;
		}
		if (!due || need == 0)
			continue;
		q->units_due++;
		q->required += need;
		q->held += held;
		q->not_counted += nc;
		if (held < need) {
			q->units_short++;
			q->short_periods[q->n_short_periods++] = s_unit_label(a, u, unit);
		}
	}
}

static int
s_requirement(const struct audit *a, const Rules *r, size_t k,
    Jiceng__V1__MeetingRequirement **out)
{
	Jiceng__V1__MeetingRequirement *q = malloc(sizeof *q);
	int unit = s_required[k].unit;

	if (!q)
		return ENOMEM;
	jiceng__v1__meeting_requirement__init(q);
	*out = q;
	q->type = s_required[k].type;
	q->unit = unit == 1 ? JICENG__V1__AUDIT_UNIT__PER_MONTH :
	    unit == 3 ? JICENG__V1__AUDIT_UNIT__PER_QUARTER : JICENG__V1__AUDIT_UNIT__PER_YEAR;
	q->per_unit = *(const uint32_t *)((const char *)r + s_required[k].rule);
	if (!(q->short_periods = calloc((size_t)a->months, sizeof *q->short_periods)))
		return ENOMEM;
	s_requirement_units(a, q->type, unit, q);
	return 0;
}

/* The row of branch o, which existed through `months` months. */
static int
s_audit_row(const struct audit *a, const Rules *r, const struct org_rec *o, uint32_t months,
    Jiceng__V1__OrgMeetingsAudit **out)
{
	Jiceng__V1__OrgMeetingsAudit *w = malloc(sizeof *w);
	int rc = 0;

	if (!w)
		return ENOMEM;
	jiceng__v1__org_meetings_audit__init(w);
	*out = w;
	if (!s_set(&w->org_id, o->org_id) || !s_set(&w->name, o->name) ||
	    !s_set(&w->township_id, o->township_id) ||
	    !(w->requirements = calloc(sizeof s_required / sizeof s_required[0],
	    sizeof *w->requirements)))
		return ENOMEM;
	w->kind = o->kind;
	w->months = months;
	for (int i = 0; i < a->months; i++)
		if (a->groups[i] > w->party_groups)
			w->party_groups = a->groups[i];
	for (size_t k = 0; rc == 0 && k < sizeof s_required / sizeof s_required[0]; k++) {
		if (s_required[k].unit > a->months)
			continue;
		rc = s_requirement(a, r, k, &w->requirements[w->n_requirements]);
		if (w->requirements[w->n_requirements]) {
			w->shortfall |= w->requirements[w->n_requirements]->units_short > 0;
			w->n_requirements++;
		}
	}
	return rc;
}

/* Audit org_id: *row stays NULL for an org not audited. */
static int
s_audit_org(struct audit *a, const Rules *r, const char *org_id,
    Jiceng__V1__OrgMeetingsAudit **row)
{
	struct org_rec o;
	uint32_t months;
	int to = civil_month_add(a->from, a->months - 1), rc;

	*row = NULL;
	if ((rc = records_org_load(a->m, a->txn, org_id, &o)))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (!s_audited_kind(o.kind) || (months = (uint32_t)s_audit_months(a, &o)) == 0)
		return 0;
	memset(a->groups, 0, sizeof a->groups);
	memset(&a->own, 0, sizeof a->own);
	memset(&a->of_groups, 0, sizeof a->of_groups);
	if ((rc = meetings_tally_add(a->mt, a->txn, org_id, a->from, to, &a->own)) ||
	    (rc = records_children_each(a->m, a->txn, org_id, s_audit_group, a)))
		return rc;
	return s_audit_row(a, r, &o, months, row);
}

static int
s_audit_page(struct audit *a, const Rules *r, const struct idset *orgs,
    const struct reports_page *p, Jiceng__V1__MeetingsAuditReport *l)
{
	unsigned limit = s_limit(p);
	Jiceng__V1__OrgMeetingsAudit *row;
	bool full;
	int rc = 0;

	if (!(l->orgs = calloc(limit, sizeof *l->orgs)))
		return ENOMEM;
	for (size_t i = s_after(orgs, s_page_after(p)); rc == 0 && i < orgs->n; i++) {
		if ((rc = s_audit_org(a, r, orgs->ids[i], &row)) || !row) {
			reports_free(row);
			continue;
		}
		if ((rc = s_full(l->n_orgs, limit, l->n_orgs ? l->orgs[l->n_orgs - 1]->org_id : "",
		    &l->next_after, &full)) || full) {
			reports_free(row);
			break;
		}
		l->orgs[l->n_orgs++] = row;
	}
	return rc;
}

int
reports_meetings_audit(struct membership *m, struct meetings *mt, MDB_txn *txn,
    const struct reports_scope *s, int year, int quarter, int month, int64_t at,
    const struct reports_page *p, Jiceng__V1__MeetingsAuditReport **out)
{
	struct audit *a = calloc(1, sizeof *a);
	struct idset orgs = { 0 };
	Rules r;
	int from, to, rc;

	*out = NULL;
	if (!a)
		return ENOMEM;
	if (!civil_period_months(year, quarter, month, &from, &to)) {
		free(a);
		return EINVAL;
	}
	*a = (struct audit){ .m = m, .mt = mt, .txn = txn, .from = from,
	    .months = civil_month_diff(from, to) + 1, .at = at };
	if (!(*out = malloc(sizeof **out))) {
		free(a);
		return ENOMEM;
	}
	jiceng__v1__meetings_audit_report__init(*out);
	(*out)->from_month = from;
	(*out)->to_month = to;
	(*out)->at = at;
	if ((rc = membership_rules(m, txn, &r)) == 0 && (rc = s_scope_orgs(m, txn, s, &orgs)) == 0)
		rc = s_audit_page(a, &r, &orgs, p, *out);
	s_idset_free(&orgs);
	free(a);
	if (rc) {
		reports_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------- member reports */

/* A member as a member report counts it. */
struct counted {
	struct member_rec r;
	int floor;          /* the first month counted */
	int dues_through;   /* a letter into the county: dues paid through (0: none) */
};

static int
s_max(int a, int b)
{
	return a > b ? a : b;
}

/* Load member_id into c: *yes when a member report counts it (NORMAL, not
 * transferred out of the county), with the months it counts from. */
static int
s_counted(struct membership *m, MDB_txn *txn, const char *member_id, int since,
    struct counted *c, bool *yes)
{
	struct transfer_rec t;
	int rc = records_member_load(m, txn, member_id, &c->r);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* a roster names members */
	*yes = c->r.status == JICENG__V1__MEMBER_STATUS__NORMAL && !c->r.transferred_out;
	c->floor = s_max(civil_cst_month(c->r.admitted_at), since);
	c->dues_through = 0;
	if (!*yes || !*c->r.transfer_id)
		return 0;
	if ((rc = records_transfer_load(m, txn, c->r.transfer_id, &t)))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (*t.from_external.area_code &&
	    (t.state == JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIVED ||
	    t.state == JICENG__V1__TRANSFER_STATE__TRANSFER_RECEIPT_RETURNED)) {
		c->floor = s_max(c->floor, civil_cst_month(t.received_at));
		c->dues_through = t.dues_paid_through;
	}
	return 0;
}

/* Consecutive months up to month after the month `last` (0: none), none
 * before c's floor. */
static uint32_t
s_gap(const struct counted *c, int last, int month)
{
	int n = civil_month_diff(s_max(last, civil_month_add(c->floor, -1)), month);
	return n > 0 ? (uint32_t)n : 0;
}

/* The last month of dues up to month, a transfer letter's included. */
static int
s_dues_last(struct funds *f, MDB_txn *txn, const struct counted *c, int month, int *last)
{
	int rc = funds_dues_last(f, txn, c->r.member_id, month, last);
	if (rc == 0 && c->dues_through > *last)
		*last = c->dues_through < month ? c->dues_through : month;
	return rc;
}

/* Who a row is about: copies of c's member id, name, home org and
 * township; false when out of memory. */
static bool
s_member_set(const struct counted *c, char **id, char **name, char **home, char **township)
{
	return s_set(id, c->r.member_id) && s_set(name, c->r.name) &&
	    s_set(home, c->r.home_org_id) && s_set(township, c->r.township_id);
}

/* A member report being made: the counted members in scope after the
 * page's cursor, each judged. */
struct member_report {
	struct membership *m;
	MDB_txn *txn;              /* m's environment: who is in scope */
	int month, since;          /* the last month counted, the first (0: none) */
	uint32_t limit, warning;   /* member.inactive_months in force, half of it */
	/* c's row into *row when it belongs in the report, else NULL. */
	int (*judge)(const struct member_report *x, const struct counted *c,
	    ProtobufCMessage **row);
	struct funds *f;           /* dues, in ftxn */
	MDB_txn *ftxn;
	struct meetings *mt;       /* attendance (inactive members), in txn */
	ProtobufCMessage **rows;   /* the page */
	size_t n;
	char *next_after;
};

static int
s_member_rows(struct member_report *x, const struct idset *members, const struct reports_page *p)
{
	unsigned limit = s_limit(p);
	ProtobufCMessage *row;
	const char *last = "";
	struct counted c;
	bool yes, full;
	int rc = 0;

	if (!(x->rows = calloc(limit, sizeof *x->rows)))
		return ENOMEM;
	for (size_t i = s_after(members, s_page_after(p)); rc == 0 && i < members->n; i++) {
		row = NULL;
		if ((rc = s_counted(x->m, x->txn, members->ids[i], x->since, &c, &yes)) || !yes ||
		    (rc = x->judge(x, &c, &row)) || !row) {
			reports_free(row);
			continue;
		}
		if ((rc = s_full(x->n, limit, last, &x->next_after, &full)) || full) {
			reports_free(row);
			break;
		}
		x->rows[x->n++] = row;
		last = members->ids[i];
	}
	return rc;
}

/* The page of a member report (x->rows, n, next_after: the caller's to
 * free, whatever the result). */
static int
s_member_report(struct member_report *x, const struct reports_scope *s,
    const struct reports_page *p)
{
	struct idset orgs = { 0 }, members = { 0 };
	Rules r;
	int rc;

	if (!civil_month_valid(x->month) || (x->since && !civil_month_valid(x->since)))
		return EINVAL;
	if ((rc = membership_rules(x->m, x->txn, &r)))
		return rc;
	x->limit = r.member_inactive_months;
	x->warning = r.member_inactive_months / 2 ? r.member_inactive_months / 2 : 1;
	if ((rc = s_scope_orgs(x->m, x->txn, s, &orgs)) == 0 &&
	    (rc = s_scope_members(x->m, x->txn, &orgs, &members)) == 0)
		rc = s_member_rows(x, &members, p);
	s_idset_free(&orgs);
	s_idset_free(&members);
	return rc;
}

/* A member report's list of type d: its page of rows, then what fill sets;
 * freed on error. */
static int
s_member_list(struct member_report *x, const struct reports_scope *s,
    const struct reports_page *p, const ProtobufCMessageDescriptor *d,
    void (*fill)(ProtobufCMessage *list, const struct member_report *x), void **out)
{
	ProtobufCMessage *l = malloc(d->sizeof_message);
	int rc;

	*out = NULL;
	if (!l)
		return ENOMEM;
	protobuf_c_message_init(d, l);
	rc = s_member_report(x, s, p);
	fill(l, x);
	if (rc)
		reports_free(l);
	else
		*out = l;
	return rc;
}

/* ---------------------------------------------------------- inactive members */

static int
s_inactive_row(const struct counted *c, int attended, int dues, uint32_t months,
    uint32_t limit, Jiceng__V1__InactiveMember **out)
{
	Jiceng__V1__InactiveMember *w = malloc(sizeof *w);

	if (!(*out = w))
		return ENOMEM;
	jiceng__v1__inactive_member__init(w);
	if (!s_member_set(c, &w->member_id, &w->name, &w->home_org_id, &w->township_id))
		return ENOMEM;
	w->category = c->r.category;
	w->mobility_state = c->r.mobility_state;
	w->transfer_state = c->r.transfer_state;
	w->last_attended_month = attended;
	w->last_dues_month = dues;
	w->months = months;
	w->inactive = months >= limit;
	return 0;
}

/* Neither attendance nor dues for the warning's months or more. */
static int
s_inactive_judge(const struct member_report *x, const struct counted *c,
    ProtobufCMessage **row)
{
	int attended, dues, rc;
	uint32_t months;

	if ((rc = meetings_last_attended(x->mt, x->txn, c->r.member_id, x->month, &attended)) ||
	    (rc = s_dues_last(x->f, x->ftxn, c, x->month, &dues)))
		return rc;
	months = s_gap(c, s_max(attended, dues), x->month);
	if (months < x->warning)
		return 0;
	return s_inactive_row(c, attended, dues, months, x->limit,
	    (Jiceng__V1__InactiveMember **)row);
}

static void
s_inactive_fill(ProtobufCMessage *list, const struct member_report *x)
{
	Jiceng__V1__InactiveMemberList *l = (Jiceng__V1__InactiveMemberList *)list;

	l->month = x->month;
	l->inactive_months = x->limit;
	l->warning_months = x->warning;
	l->members = (Jiceng__V1__InactiveMember **)x->rows;
	l->n_members = x->n;
	if (x->next_after)
		l->next_after = x->next_after;
}

int
reports_inactive_members(struct membership *m, struct meetings *mt, MDB_txn *mtxn,
    struct funds *f, MDB_txn *ftxn, const struct reports_scope *s, int month,
    int since_month, const struct reports_page *p, Jiceng__V1__InactiveMemberList **out)
{
	struct member_report x = { .m = m, .txn = mtxn, .month = month, .since = since_month,
	    .judge = s_inactive_judge, .f = f, .ftxn = ftxn, .mt = mt };

	return s_member_list(&x, s, p, &jiceng__v1__inactive_member_list__descriptor,
	    s_inactive_fill, (void **)out);
}

/* ---------------------------------------------------------- dues arrears */

static int
s_arrear_row(const struct counted *c, int last, uint32_t months, uint32_t lapse,
    Jiceng__V1__DuesArrear **out)
{
	Jiceng__V1__DuesArrear *w = malloc(sizeof *w);

	if (!(*out = w))
		return ENOMEM;
	jiceng__v1__dues_arrear__init(w);
	if (!s_member_set(c, &w->member_id, &w->name, &w->home_org_id, &w->township_id))
		return ENOMEM;
	w->category = c->r.category;
	w->last_paid_month = last;
	w->months = months;
	w->lapsed = months >= lapse;
	return 0;
}

/* No dues for the warning's months or more. */
static int
s_arrears_judge(const struct member_report *x, const struct counted *c,
    ProtobufCMessage **row)
{
	uint32_t months;
	int last, rc = s_dues_last(x->f, x->ftxn, c, x->month, &last);

	if (rc || (months = s_gap(c, last, x->month)) < x->warning)
		return rc;
	return s_arrear_row(c, last, months, x->limit, (Jiceng__V1__DuesArrear **)row);
}

static void
s_arrears_fill(ProtobufCMessage *list, const struct member_report *x)
{
	Jiceng__V1__DuesArrearsList *l = (Jiceng__V1__DuesArrearsList *)list;

	l->month = x->month;
	l->lapse_months = x->limit;
	l->arrears_months = x->warning;
	l->members = (Jiceng__V1__DuesArrear **)x->rows;
	l->n_members = x->n;
	if (x->next_after)
		l->next_after = x->next_after;
}

int
reports_dues_arrears(struct membership *m, struct funds *f, MDB_txn *txn,
    const struct reports_scope *s, int month, int since_month,
    const struct reports_page *p, Jiceng__V1__DuesArrearsList **out)
{
	struct member_report x = { .m = m, .txn = txn, .month = month, .since = since_month,
	    .judge = s_arrears_judge, .f = f, .ftxn = txn };

	return s_member_list(&x, s, p, &jiceng__v1__dues_arrears_list__descriptor,
	    s_arrears_fill, (void **)out);
}

/* ---------------------------------------------------------- certificate reviews */

static int
s_review_row(const struct episode_rec *e, uint32_t months, Jiceng__V1__CertificateReview **out)
{
	Jiceng__V1__CertificateReview *w = malloc(sizeof *w);

	if (!w)
		return ENOMEM;
	jiceng__v1__certificate_review__init(w);
	*out = w;
	if (!s_set(&w->flow_id, e->flow_id) || !s_set(&w->member_id, e->member_id) ||
	    !s_set(&w->home_org_id, e->home_org_id) ||
	    !s_set(&w->home_township_id, e->home_township_id) ||
	    !s_set(&w->certificate_no, e->certificate_no) ||
	    !s_set(&w->destination_code, e->destination_code) ||
	    !s_set(&w->host_org_id, e->host_org_id) ||
	    !s_set(&w->host_org_name, e->host_org_name))
		return ENOMEM;
	w->state = e->state;
	w->departed_at = e->departed_at;
	w->certificate_reviewed_at = e->certificate_reviewed_at;
	w->months = months;
	return 0;
}

/* The episode's row when it is open, of a home org in scope, and its
 * certificate is due for review at `at`; else *row NULL. */
static int
s_review(struct membership *m, MDB_txn *txn, const struct idset *orgs, const char *flow_id,
    int64_t at, Jiceng__V1__CertificateReview **row)
{
	struct episode_rec e;
	int64_t base;
	int rc = records_episode_load(m, txn, flow_id, &e);

	*row = NULL;
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* the index names episodes */
	base = e.certificate_reviewed_at > e.departed_at ? e.certificate_reviewed_at :
	    e.departed_at;
	if (!records_episode_open(e.state) || !s_has(orgs, e.home_org_id) ||
	    civil_add_months(base, REVIEW_MONTHS) > at)
		return 0;
	return s_review_row(&e, (uint32_t)civil_months_between(base, at), row);
}

static int
s_review_page(struct membership *m, MDB_txn *txn, const struct idset *orgs,
    const struct idset *flows, int64_t at, const struct reports_page *p,
    Jiceng__V1__CertificateReviewList *l)
{
	unsigned limit = s_limit(p);
	Jiceng__V1__CertificateReview *row;
	bool full;
	int rc = 0;

	if (!(l->episodes = calloc(limit, sizeof *l->episodes)))
		return ENOMEM;
	for (size_t i = s_after(flows, s_page_after(p)); rc == 0 && i < flows->n; i++) {
		/* An episode is indexed under both its sides. */
		row = NULL;
		if ((i > 0 && strcmp(flows->ids[i], flows->ids[i - 1]) == 0) ||
		    (rc = s_review(m, txn, orgs, flows->ids[i], at, &row)) || !row) {
			reports_free(row);
			continue;
		}
		if ((rc = s_full(l->n_episodes, limit, l->n_episodes ?
		    l->episodes[l->n_episodes - 1]->flow_id : "", &l->next_after, &full)) || full) {
			reports_free(row);
			break;
		}
		l->episodes[l->n_episodes++] = row;
	}
	return rc;
}

int
reports_certificate_reviews(struct membership *m, MDB_txn *txn,
    const struct reports_scope *s, int64_t at, const struct reports_page *p,
    Jiceng__V1__CertificateReviewList **out)
{
	struct idset orgs = { 0 }, flows = { 0 };
	int rc;

	*out = NULL;
	if (!(*out = malloc(sizeof **out)))
		return ENOMEM;
	jiceng__v1__certificate_review_list__init(*out);
	(*out)->at = at;
	rc = s_scope_orgs(m, txn, s, &orgs);
	for (size_t i = 0; rc == 0 && i < orgs.n; i++)
		rc = records_pair_each(txn, m->ep_org, orgs.ids[i], "", s_push_pair, &flows);
	s_sort(&flows);
	if (rc == 0)
		rc = s_review_page(m, txn, &orgs, &flows, at, p, *out);
	s_idset_free(&orgs);
	s_idset_free(&flows);
	if (rc) {
		reports_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------- activity funds */

/* A township's line: its members, counted over its orgs, and the name of
 * its township committee. */
struct township_line {
	char township[MS_TOWNSHIP_LEN + 1];
	char name[CODEC_MAX_TEXT + 1];
	uint32_t members;
};

struct activity {
	struct membership *m;
	struct funds *f;
	MDB_txn *txn;
	int year;
	int64_t min;
	const char *township;           /* collecting lines: this one only ("": all) */
	struct township_line *lines;    /* sorted by township once collected */
	size_t nlines, cap;
};

static int
s_line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct township_line *)a)->township,
	    ((const struct township_line *)b)->township);
}

/* One org into its township's line (linear: a county has few townships). */
static int
s_line_org(void *arg, const struct org_rec *o, bool *stop)
{
	struct activity *x = arg;
	struct township_line *t = NULL;

	(void)stop;
	if (*x->township && strcmp(o->township_id, x->township) != 0)
		return 0;
	for (size_t i = 0; i < x->nlines && !t; i++)
		if (strcmp(x->lines[i].township, o->township_id) == 0)
			t = &x->lines[i];
	if (!t) {
		if (x->nlines == x->cap) {
			size_t cap = x->cap ? 2 * x->cap : 16;
			void *lines = realloc(x->lines, cap * sizeof *x->lines);
			if (!lines)
				return ENOMEM;
			x->lines = lines;
			x->cap = cap;
		}
		t = &x->lines[x->nlines++];
		memset(t, 0, sizeof *t);
		snprintf(t->township, sizeof t->township, "%s", o->township_id);
	}
	t->members += o->member_count;
	if (o->kind == KIND(TOWNSHIP_COMMITTEE) && (!o->dissolved || !*t->name))
		snprintf(t->name, sizeof t->name, "%s", o->name);
	return 0;
}

/* Net, per member and the flag, once members and the sums are in. */
static int
s_activity_finish(const struct activity *x, Jiceng__V1__ActivityFundsRow *w)
{
	if (!money_sub(w->disbursed_fen, w->reversed_fen, &w->net_fen))
		return EOVERFLOW;
	w->per_member_fen = w->members ? w->net_fen / (int64_t)w->members : 0;
	w->below_minimum = w->members && w->per_member_fen < x->min;
	return 0;
}

static int
s_activity_new(const char *id, const char *name, const char *township,
    Jiceng__V1__ActivityFundsRow **out)
{
	Jiceng__V1__ActivityFundsRow *w = malloc(sizeof *w);

	if (!(*out = w))
		return ENOMEM;
	jiceng__v1__activity_funds_row__init(w);
	return s_set(&w->id, id) && s_set(&w->name, name) && s_set(&w->township_id, township) ?
	    0 : ENOMEM;
}

/* An org's row: paid to it, to the orgs below it and to their members. */
static int
s_activity_org(const struct activity *x, const char *org_id,
    Jiceng__V1__ActivityFundsRow **out)
{
	struct idset orgs = { 0 }, members = { 0 };
	Jiceng__V1__ActivityFundsRow *w;
	struct org_rec o;
	int rc;

	if ((rc = records_org_load(x->m, x->txn, org_id, &o)) ||
	    (rc = s_activity_new(o.org_id, o.name, o.township_id, out)))
		return rc;
	w = *out;
	if ((rc = s_subtree(x->m, x->txn, org_id, &orgs)) == 0)
		rc = s_scope_members(x->m, x->txn, &orgs, &members);
	for (size_t i = 0; rc == 0 && i < orgs.n; i++)
		if ((rc = records_org_load(x->m, x->txn, orgs.ids[i], &o)) == 0) {
			w->members += o.member_count;
			rc = funds_activity_paid(x->f, x->txn, false, o.org_id, x->year,
			    &w->disbursed_fen, &w->reversed_fen);
		}
	for (size_t i = 0; rc == 0 && i < members.n; i++)
		rc = funds_activity_paid(x->f, x->txn, true, members.ids[i], x->year,
		    &w->disbursed_fen, &w->reversed_fen);
	s_idset_free(&orgs);
	s_idset_free(&members);
	return rc ? rc : s_activity_finish(x, w);
}

/* A township's row: its line and its ledger line (the running totals). */
static int
s_activity_township(const struct activity *x, const struct township_line *t,
    Jiceng__V1__ActivityFundsRow **out)
{
	Jiceng__V1__LedgerLine *line;
	int rc = s_activity_new(t->township, t->name, t->township, out);

	if (rc)
		return rc;
	(*out)->members = t->members;
	rc = funds_ledger_get(x->f, x->txn, t->township,
	    JICENG__V1__FUND_KIND__PARTY_ACTIVITY_FUND, x->year, &line);
	if (rc == 0) {
		(*out)->disbursed_fen = line->disbursed_fen;
		(*out)->reversed_fen = line->reversed_fen;
		protobuf_c_message_free_unpacked(&line->base, NULL);
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	return s_activity_finish(x, *out);
}

/* A township's rows: its live orgs right under a township committee. */
static int
s_township_rows(const struct activity *x, const struct idset *orgs, struct idset *ids)
{
	struct org_rec o, parent;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < orgs->n; i++) {
		if ((rc = records_org_load(x->m, x->txn, orgs->ids[i], &o)) || o.dissolved ||
		    !*o.parent_id || (rc = records_org_load(x->m, x->txn, o.parent_id, &parent)))
			continue;
		if (parent.kind == KIND(TOWNSHIP_COMMITTEE))
			rc = s_push(ids, o.org_id);
	}
	return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;   /* orgs and parents exist */
}

/* The total over the county's township lines. */
static int
s_county_total(const struct activity *x, Jiceng__V1__ActivityFundsRow **out)
{
	Jiceng__V1__ActivityFundsRow *w, *t;
	int rc = s_activity_new("", "", "", out);

	for (size_t i = 0; rc == 0 && i < x->nlines; i++) {
		t = *out;
		if ((rc = s_activity_township(x, &x->lines[i], &w)) == 0 &&
		    (!money_add(t->disbursed_fen, w->disbursed_fen, &t->disbursed_fen) ||
		    !money_add(t->reversed_fen, w->reversed_fen, &t->reversed_fen)))
			rc = EOVERFLOW;
		t->members += w ? w->members : 0;
		reports_free(w);
	}
	return rc ? rc : s_activity_finish(x, *out);
}

/* The rows' ids and the total: by township for the county, by org for a
 * township, the org alone. */
static int
s_activity_scope(struct activity *x, const struct reports_scope *s, struct idset *ids,
    Jiceng__V1__ActivityFundsRow **total)
{
	struct township_line none = { "", "", 0 };
	struct idset orgs = { 0 };
	int rc;

	if (s->org_id && *s->org_id) {
		if ((rc = s_activity_org(x, s->org_id, total)) == 0)
			rc = s_push(ids, s->org_id);
		return rc;
	}
	x->township = s->township_id ? s->township_id : "";
	if ((rc = records_orgs_each(x->m, x->txn, s_line_org, x)))
		return rc;
	if (x->nlines)
		qsort(x->lines, x->nlines, sizeof *x->lines, s_line_cmp);
	if (!*x->township) {
		for (size_t i = 0; rc == 0 && i < x->nlines; i++)
			rc = s_push(ids, x->lines[i].township);
		return rc ? rc : s_county_total(x, total);
	}
	if (x->nlines == 0)   /* a township without orgs: an empty line */
		snprintf(none.township, sizeof none.township, "%s", x->township);
	if ((rc = s_scope_orgs(x->m, x->txn, s, &orgs)) == 0 &&
	    (rc = s_township_rows(x, &orgs, ids)) == 0)
		rc = s_activity_township(x, x->nlines ? &x->lines[0] : &none, total);
	s_idset_free(&orgs);
	return rc;
}

/* The row of id: a township's line for the county, else an org's. */
static int
s_activity_row(const struct activity *x, const struct reports_scope *s, size_t i,
    const char *id, Jiceng__V1__ActivityFundsRow **row)
{
	*row = NULL;
	if ((!s->org_id || !*s->org_id) && (!s->township_id || !*s->township_id))
		return s_activity_township(x, &x->lines[i], row);
	return s_activity_org(x, id, row);
}

static int
s_activity_page(const struct activity *x, const struct reports_scope *s,
    const struct idset *ids, const struct reports_page *p, Jiceng__V1__ActivityFundsReport *l)
{
	unsigned limit = s_limit(p);
	Jiceng__V1__ActivityFundsRow *row;
	bool full;
	int rc = 0;

	if (!(l->rows = calloc(limit, sizeof *l->rows)))
		return ENOMEM;
	for (size_t i = s_after(ids, s_page_after(p)); rc == 0 && i < ids->n; i++) {
		if ((rc = s_full(l->n_rows, limit, l->n_rows ? l->rows[l->n_rows - 1]->id : "",
		    &l->next_after, &full)) || full)
			break;
		rc = s_activity_row(x, s, i, ids->ids[i], &row);
		if (row)
			l->rows[l->n_rows++] = row;
	}
	return rc;
}

int
reports_activity_funds(struct membership *m, struct funds *f, MDB_txn *txn,
    const struct reports_scope *s, int year, const struct reports_page *p,
    Jiceng__V1__ActivityFundsReport **out)
{
	struct activity x = { .m = m, .f = f, .txn = txn, .year = year };
	struct idset ids = { 0 };
	int from, to, rc;
	Rules r;

	*out = NULL;
	if (!civil_period_months(year, 0, 0, &from, &to))
		return EINVAL;
	if (!(*out = malloc(sizeof **out)))
		return ENOMEM;
	jiceng__v1__activity_funds_report__init(*out);
	(*out)->year = year;
	if ((rc = membership_rules(m, txn, &r)) == 0) {
		x.min = (*out)->min_per_member_fen = r.funds_activity_per_member_min_fen;
		if ((rc = s_activity_scope(&x, s, &ids, &(*out)->total)) == 0)
			rc = s_activity_page(&x, s, &ids, p, *out);
	}
	s_idset_free(&ids);
	free(x.lines);
	if (rc) {
		reports_free(*out);
		*out = NULL;
	}
	return rc;
}
