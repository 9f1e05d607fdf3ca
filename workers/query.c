/*
 * jiceng-query: the query server. Answers Query frames on its ROUTER socket
 * from short read-only transactions on the journal and the state
 * environments, so a heavy read never stalls ingest. Started by jicengd;
 * heartbeats to it on the children socket. Writes nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "be64.h"
#include "civil.h"
#include "config.h"
#include "domain.h"
#include "fold.h"
#include "funds.h"
#include "journal.h"
#include "log.h"
#include "meetings.h"
#include "membership.h"
#include "mirror_cursor.h"
#include "security.h"
#include "store.h"
#include "wire.h"
#include "now.h"
#include "reports.h"

#define QUERY_MAX_FRAME 4096

static volatile sig_atomic_t s_stop, s_reload;

static void
s_on_signal(int sig)
{
	if (sig == SIGHUP)
		s_reload = 1;
	else
		s_stop = 1;
}

/* A state environment opened read-only on first use, and again when a
 * worker's rebuild has replaced the file. */
struct state {
	MDB_env *env;
	MDB_dbi meta, counts;
	struct membership *membership;
	const struct domain_module *dm;  /* meetings, funds: the module ... */
	void *module;                    /* ... and its tables; NULL for membership */
};

struct server {
	struct config cfg;
	void *router;
	int parent;                /* the socketpair to jicengd (wire.h) */
	struct journal *journal;
	struct state state[DOMAIN_COUNT];
	uint64_t served;
	struct auth *auth;   /* ZAP handler when the query socket uses CURVE */
	int curve;
	zmq_msg_t *route;    /* the request being answered: its routing frames */
	int nroute;
};

/* ---------------------------------------------------------- state envs */

static void
s_state_close(struct state *st)
{
	if (st->dm)
		st->dm->close(&st->module);
	membership_destroy(&st->membership);
	mdb_env_close(st->env);
	st->env = NULL;
}

/* Let go of a state file a rebuild has replaced. */
static void
s_state_drop_replaced(struct state *st, const char *path)
{
	if (st->env && store_replaced(st->env, path)) {
		log_info("%s was rebuilt: reading the new file", path);
		s_state_close(st);
	}
}

static int
s_state_open(struct server *s, enum domain d)
{
	struct state *st = &s->state[d];
	char path[CONFIG_PATH_MAX + 64];
	MDB_txn *txn;
	int rc;
	fold_state_path(s->cfg.derived_dir, d, path, sizeof path);
	s_state_drop_replaced(st, path);
	if (st->env)
		return 0;
	if ((rc = store_open_readonly(path, 64, &st->env)))
		return rc;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		goto fail;
	if ((rc = mdb_dbi_open(txn, "meta", 0, &st->meta)) ||
	    (rc = mdb_dbi_open(txn, "counts", 0, &st->counts)) ||
	    (rc = membership_open_readonly(txn, &st->membership)) ||
	    ((st->dm = domain_module(d)) &&
	    (rc = st->dm->open(txn, 0, st->membership, &st->module)))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) == 0)
		return 0;
fail:
	s_state_close(st);
	return rc;
}

static int
s_state_read(struct server *s, enum domain d, MDB_txn **txn)
{
	int rc = s_state_open(s, d);
	if (rc)
		return rc;
	return store_read_begin(s->state[d].env, txn);
}

/* ---------------------------------------------------------- replies */

static void
s_fail(QueryReply *r, int rc)
{
	if (rc == MDB_NOTFOUND) {
		r->status = JICENG__V1__QUERY_STATUS__NOT_FOUND;
		r->code = "NOT_FOUND";
		r->reason = "未找到 / not found";
	} else {
		r->status = JICENG__V1__QUERY_STATUS__UNAVAILABLE;
		r->code = "UNAVAILABLE";
		r->reason = (char *)mdb_strerror(rc);
	}
}

static void
s_get_org(struct server *s, const Jiceng__V1__GetOrg *q, QueryReply *r, void **owned)
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_MEMBERSHIP, &txn);
	if (rc)
		return s_fail(r, rc);
	Jiceng__V1__OrgView *v = malloc(sizeof *v);
	jiceng__v1__org_view__init(v);
	rc = membership_get_org(s->state[DOMAIN_MEMBERSHIP].membership, txn, q->org_id, v);
	mdb_txn_abort(txn);
	if (rc) {
		free(v);
		return s_fail(r, rc);
	}
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_ORG;
	r->org = v;
	*owned = v;
}

static void
s_get_member(struct server *s, const Jiceng__V1__GetMember *q, QueryReply *r, void **owned)
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_MEMBERSHIP, &txn);
	if (rc)
		return s_fail(r, rc);
	Jiceng__V1__MemberView *v = malloc(sizeof *v);
	jiceng__v1__member_view__init(v);
	rc = membership_get_member(s->state[DOMAIN_MEMBERSHIP].membership, txn, q->member_id, v);
	mdb_txn_abort(txn);
	if (rc) {
		free(v);
		return s_fail(r, rc);
	}
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_MEMBER;
	r->member = v;
	*owned = v;
}

static void
s_list_members(struct server *s, const Jiceng__V1__ListMembers *q, QueryReply *r, void **owned)
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_MEMBERSHIP, &txn);
	if (rc)
		return s_fail(r, rc);
	Jiceng__V1__MemberList *l = malloc(sizeof *l);
	jiceng__v1__member_list__init(l);
	rc = membership_list_members(s->state[DOMAIN_MEMBERSHIP].membership, txn, q->org_id,
	    q->after, q->limit, l);
	mdb_txn_abort(txn);
	if (rc) {
		free(l);
		return s_fail(r, rc);
	}
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_MEMBERS;
	r->members = l;
	*owned = l;
}

static void
s_list_audit(struct server *s, const Jiceng__V1__ListAudit *q, QueryReply *r, void **owned)
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_MEMBERSHIP, &txn);
	if (rc)
		return s_fail(r, rc);
	Jiceng__V1__AuditList *l = malloc(sizeof *l);
	jiceng__v1__audit_list__init(l);
	rc = membership_list_audit(s->state[DOMAIN_MEMBERSHIP].membership, txn, q->township_id,
	    q->since_seq, q->since_index, q->limit, l);
	mdb_txn_abort(txn);
	if (rc) {
		free(l);
		return s_fail(r, rc);
	}
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_AUDIT;
	r->audit = l;
	*owned = l;
}

/* ---------------------------------------------------------- transfers, episodes */

/* What a ListTransfers or ListMobileEpisodes names (s_query_selector_refusal
 * has checked that it names exactly one). */
static enum membership_by
s_by(const char *member_id, const char *org_id, const char **id)
{
	if (*member_id) {
		*id = member_id;
		return MEMBERSHIP_BY_MEMBER;
	}
	if (*org_id) {
		*id = org_id;
		return MEMBERSHIP_BY_ORG;
	}
	return MEMBERSHIP_BY_TOWNSHIP;
}

/* One read of domain d's state: read() puts a view or a list in r (and
 * says which in r->result_case), in a read transaction of its own. A
 * failed read fails r with no result and returns read's error; a result is
 * freed whole by s_free_result. */
static int
s_domain_read(struct server *s, enum domain d, const Query *q, QueryReply *r,
    int (*read)(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r))
{
	MDB_txn *txn;
	int rc = s_state_read(s, d, &txn);
	if (rc == 0) {
		rc = read(&s->state[d], txn, q, r);
		mdb_txn_abort(txn);
	}
	if (rc) {
		r->result_case = JICENG__V1__QUERY_REPLY__RESULT__NOT_SET;
		s_fail(r, rc);
	}
	return rc;
}

static int
s_get_transfer(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_TRANSFER;
	return membership_get_transfer(st->membership, txn, q->get_transfer->transfer_id, &r->transfer);
}

static int
s_list_transfers(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListTransfers *l = q->list_transfers;
	const char *id = l->township_id;
	enum membership_by by = s_by(l->member_id, l->org_id, &id);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_TRANSFERS;
	return membership_list_transfers(st->membership, txn, by, id, l->after, l->limit, &r->transfers);
}

static int
s_get_episode(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_EPISODE;
	return membership_get_episode(st->membership, txn, q->get_mobile_episode->flow_id, &r->episode);
}

static int
s_list_episodes(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListMobileEpisodes *l = q->list_mobile_episodes;
	const char *id = l->township_id;
	enum membership_by by = s_by(l->member_id, l->org_id, &id);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_EPISODES;
	return membership_list_episodes(st->membership, txn, by, id, (int)l->state, l->after, l->limit,
	    &r->episodes);
}

/* ---------------------------------------------------------- funds */

static bool
s_funds_query(const Query *q)
{
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_BUDGET:
	case JICENG__V1__QUERY__QUERY_GET_DISBURSEMENT:
	case JICENG__V1__QUERY__QUERY_LIST_PAYMENTS:
	case JICENG__V1__QUERY__QUERY_LIST_DUES:
		return true;
	default:
		return false;
	}
}

static int
s_get_budget(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_BUDGET;
	return funds_get_budget(st->module, txn, q->get_budget->budget_id, &r->budget);
}

static int
s_get_disbursement(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENT;
	return funds_get_disbursement(st->module, txn, q->get_disbursement->disbursement_id,
	    &r->disbursement);
}

static int
s_list_payments(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListPayments *l = q->list_payments;
	bool by_member = *l->member_id != '\0';
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENTS;
	return funds_list_payments(st->module, txn, by_member,
	    by_member ? l->member_id : l->org_id, l->after, l->limit, &r->disbursements);
}

static int
s_list_dues(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListDues *l = q->list_dues;
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_DUES;
	return funds_list_dues(st->module, txn, l->member_id, l->from_month, l->to_month,
	    l->limit, &r->dues);
}

/* BAD_QUERY of a funds query: the code (reason in *reason), or NULL. */
static const char *
s_funds_refusal(const Query *q, const char **reason)
{
	const Jiceng__V1__ListDues *d;
	if (q->query_case == JICENG__V1__QUERY__QUERY_LIST_PAYMENTS &&
	    (*q->list_payments->member_id != 0) + (*q->list_payments->org_id != 0) != 1) {
		*reason = "须且只须给出member_id、org_id之一 / give exactly one of member_id "
		    "and org_id";
		return "BAD_SELECTOR";
	}
	if (q->query_case != JICENG__V1__QUERY__QUERY_LIST_DUES)
		return NULL;
	d = q->list_dues;
	if ((d->from_month && !civil_month_valid(d->from_month)) ||
	    (d->to_month && !civil_month_valid(d->to_month)) ||
	    (d->from_month && d->to_month && d->from_month > d->to_month)) {
		*reason = "月份须为0或YYYYMM，起不晚于止 / from_month and to_month are 0 or a "
		    "real YYYYMM month, from_month not after to_month";
		return "BAD_MONTH";
	}
	return NULL;
}

/* The township a funds query reads (s_query_townships). */
static int
s_funds_townships(struct server *s, const Query *q, char t[2][16])
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_FUNDS, &txn);
	if (rc)
		return rc;
	struct state *st = &s->state[DOMAIN_FUNDS];
	const Jiceng__V1__ListPayments *lp = q->list_payments;
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_BUDGET:
		rc = funds_budget_township(st->module, txn, q->get_budget->budget_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_GET_DISBURSEMENT:
		rc = funds_disbursement_township(st->module, txn,
		    q->get_disbursement->disbursement_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_PAYMENTS:
		rc = *lp->member_id ?
		    membership_member_township(st->membership, txn, lp->member_id, t[0]) :
		    membership_org_township(st->membership, txn, lp->org_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_DUES:
		rc = membership_member_township(st->membership, txn, q->list_dues->member_id,
		    t[0]);
		break;
	default:
		break;
	}
	mdb_txn_abort(txn);
	return rc;
}

/* ---------------------------------------------------------- meetings */

static bool
s_meetings_query(const Query *q)
{
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_MEETING:
	case JICENG__V1__QUERY__QUERY_LIST_MEETINGS:
	case JICENG__V1__QUERY__QUERY_GET_ATTENDANCE:
		return true;
	default:
		return false;
	}
}

/* One read of the meetings state (s_domain_read); EINVAL (a page after a
 * meeting that is not the org's) is the query's fault. */
static void
s_meetings_read(struct server *s, const Query *q, QueryReply *r,
    int (*read)(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r))
{
	if (s_domain_read(s, DOMAIN_MEETINGS, q, r, read) == EINVAL) {
		r->status = JICENG__V1__QUERY_STATUS__BAD_QUERY;
		r->code = "BAD_AFTER";
		r->reason = "after 须为该组织的会议 / after must name a meeting of the org";
	}
}

static int
s_get_meeting(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_MEETING;
	return meetings_get(st->module, txn, q->get_meeting->meeting_id, &r->meeting);
}

static int
s_list_meetings(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListMeetings *l = q->list_meetings;
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_MEETINGS;
	return meetings_list(st->module, txn, l->org_id, l->from_month, l->to_month, l->after,
	    l->limit, &r->meetings);
}

static int
s_get_attendance(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__GetAttendance *g = q->get_attendance;
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_ATTENDANCE;
	return meetings_attendance(st->module, txn, g->member_id, g->from_month, g->to_month,
	    &r->attendance);
}

/* BAD_QUERY of a meetings query: the code (reason in *reason), or NULL. */
static const char *
s_meetings_refusal(const Query *q, const char **reason)
{
	int from, to;
	if (q->query_case == JICENG__V1__QUERY__QUERY_LIST_MEETINGS) {
		from = q->list_meetings->from_month;
		to = q->list_meetings->to_month;
	} else if (q->query_case == JICENG__V1__QUERY__QUERY_GET_ATTENDANCE) {
		from = q->get_attendance->from_month;
		to = q->get_attendance->to_month;
	} else {
		return NULL;
	}
	if ((from && !civil_month_valid(from)) || (to && !civil_month_valid(to)) ||
	    (from && to && from > to)) {
		*reason = "月份须为0或YYYYMM，且起不晚于止 / from_month and to_month are 0 or "
		    "a real YYYYMM month, from not after to";
		return "BAD_MONTH";
	}
	return NULL;
}

/* The township a meetings query reads (s_query_townships): the meeting's,
 * the org's or the member's. */
static int
s_meetings_townships(struct server *s, const Query *q, char t[2][16])
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_MEETINGS, &txn);
	if (rc)
		return rc;
	struct state *st = &s->state[DOMAIN_MEETINGS];
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_MEETING:
		rc = meetings_township(st->module, txn, q->get_meeting->meeting_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_MEETINGS:
		rc = membership_org_township(st->membership, txn, q->list_meetings->org_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_GET_ATTENDANCE:
		rc = membership_member_township(st->membership, txn,
		    q->get_attendance->member_id, t[0]);
		break;
	default:
		break;
	}
	mdb_txn_abort(txn);
	return rc;
}

/* ---------------------------------------------------------- reports */

/* What every report query names: its scope and its page. */
struct report_args {
	struct reports_scope scope;
	struct reports_page page;
};

/* q's report arguments; false when q is no report. */
static bool
s_report_args(const Query *q, struct report_args *a)
{
#define S_TAKE(m) do { \
	a->scope = (struct reports_scope){ (m)->township_id, (m)->org_id }; \
	a->page = (struct reports_page){ (m)->after, (m)->limit }; \
	return true; } while (0)
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS: S_TAKE(q->audit_meetings);
	case JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS: S_TAKE(q->list_inactive_members);
	case JICENG__V1__QUERY__QUERY_LIST_CERTIFICATE_REVIEWS: S_TAKE(q->list_certificate_reviews);
	case JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS: S_TAKE(q->list_dues_arrears);
	case JICENG__V1__QUERY__QUERY_REPORT_ACTIVITY_FUNDS: S_TAKE(q->report_activity_funds);
	default: return false;
	}
#undef S_TAKE
}

/* BAD_QUERY of a report: the code (reason in *reason), or NULL. */
static const char *
s_report_refusal(const Query *q, const struct report_args *a, const char **reason)
{
	const Jiceng__V1__AuditMeetings *am = q->audit_meetings;
	int from, to, month = 0, since = 0;
	bool period = true;

	if (*a->scope.township_id && *a->scope.org_id) {
		*reason = "township_id与org_id只可给出其一 / give township_id or org_id, not both";
		return "BAD_SELECTOR";
	}
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS:
		period = civil_period_months(am->year, (int)am->quarter, (int)am->month, &from, &to);
		break;
	case JICENG__V1__QUERY__QUERY_REPORT_ACTIVITY_FUNDS:
		period = civil_period_months(q->report_activity_funds->year, 0, 0, &from, &to);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS:
		month = q->list_inactive_members->month;
		since = q->list_inactive_members->since_month;
		break;
	case JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS:
		month = q->list_dues_arrears->month;
		since = q->list_dues_arrears->since_month;
		break;
	default:
		return NULL;
	}
	if (!period) {
		*reason = "期间须为1900-9999年中的一年、其一季度(1-4)或一月(1-12)，季度与月不可同时给出 / "
		    "the period is a year (1900-9999), a quarter (1-4) or a month (1-12) of it, "
		    "not both";
		return "BAD_PERIOD";
	}
	if (month != 0 || since != 0) {
		if (civil_month_valid(month) && (!since || (civil_month_valid(since) && since <= month)))
			return NULL;
		*reason = "month须为YYYYMM月份；since_month为0或不晚于month的月份 / month is a "
		    "real YYYYMM month; since_month is 0 or a real month not after it";
		return "BAD_MONTH";
	}
	if (q->query_case == JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS ||
	    q->query_case == JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS) {
		*reason = "须给出month（YYYYMM） / month (YYYYMM) is required";
		return "BAD_MONTH";
	}
	return NULL;
}

/* UNAVAILABLE NO_WORKER when a worker q reads does not run: true. */
static bool
s_report_unavailable(struct server *s, const Query *q, QueryReply *r)
{
	Jiceng__V1__Query__QueryCase c = q->query_case;
	bool meetings = c == JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS ||
	    c == JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS;
	bool funds = c == JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS ||
	    c == JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS ||
	    c == JICENG__V1__QUERY__QUERY_REPORT_ACTIVITY_FUNDS;

	if ((!meetings || s->cfg.workers[DOMAIN_MEETINGS]) && (!funds || s->cfg.workers[DOMAIN_FUNDS]))
		return false;
	r->status = JICENG__V1__QUERY_STATUS__UNAVAILABLE;
	r->code = "NO_WORKER";
	r->reason = "该报表所需的工作进程未运行（workers设置） / a worker this report reads "
	    "does not run (the workers setting)";
	return true;
}

static int
s_audit_meetings(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__AuditMeetings *a = q->audit_meetings;
	struct report_args x;

	s_report_args(q, &x);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_MEETINGS_AUDIT;
	return reports_meetings_audit(st->membership, st->module, txn, &x.scope, a->year,
	    (int)a->quarter, (int)a->month, a->at ? a->at : now_wall_ms(), &x.page,
	    &r->meetings_audit);
}

static int
s_certificate_reviews(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	int64_t at = q->list_certificate_reviews->at;
	struct report_args x;

	s_report_args(q, &x);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_CERTIFICATE_REVIEWS;
	return reports_certificate_reviews(st->membership, txn, &x.scope, at ? at : now_wall_ms(),
	    &x.page, &r->certificate_reviews);
}

static int
s_dues_arrears(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListDuesArrears *l = q->list_dues_arrears;
	struct report_args x;

	s_report_args(q, &x);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_DUES_ARREARS;
	return reports_dues_arrears(st->membership, st->module, txn, &x.scope, l->month,
	    l->since_month, &x.page, &r->dues_arrears);
}

static int
s_activity_funds(struct state *st, MDB_txn *txn, const Query *q, QueryReply *r)
{
	struct report_args x;

	s_report_args(q, &x);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_ACTIVITY_FUNDS;
	return reports_activity_funds(st->membership, st->module, txn, &x.scope,
	    q->report_activity_funds->year, &x.page, &r->activity_funds);
}

/* Inactive members read attendance and dues: one read transaction on
 * each of the meetings and funds environments. */
static void
s_inactive_members(struct server *s, const Query *q, QueryReply *r)
{
	const Jiceng__V1__ListInactiveMembers *l = q->list_inactive_members;
	struct state *mt = &s->state[DOMAIN_MEETINGS], *f = &s->state[DOMAIN_FUNDS];
	struct report_args x;
	MDB_txn *mtxn, *ftxn;
	int rc = s_state_read(s, DOMAIN_MEETINGS, &mtxn);

	s_report_args(q, &x);
	if (rc == 0) {
		if ((rc = s_state_read(s, DOMAIN_FUNDS, &ftxn)) == 0) {
			rc = reports_inactive_members(mt->membership, mt->module, mtxn, f->module,
			    ftxn, &x.scope, l->month, l->since_month, &x.page, &r->inactive_members);
			mdb_txn_abort(ftxn);
		}
		mdb_txn_abort(mtxn);
	}
	if (rc)
		s_fail(r, rc);
	else
		r->result_case = JICENG__V1__QUERY_REPLY__RESULT_INACTIVE_MEMBERS;
}

static void
s_report(struct server *s, const Query *q, QueryReply *r)
{
	if (s_report_unavailable(s, q, r))
		return;
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS:
		s_domain_read(s, DOMAIN_MEETINGS, q, r, s_audit_meetings);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS:
		s_inactive_members(s, q, r);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_CERTIFICATE_REVIEWS:
		s_domain_read(s, DOMAIN_MEMBERSHIP, q, r, s_certificate_reviews);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS:
		s_domain_read(s, DOMAIN_FUNDS, q, r, s_dues_arrears);
		break;
	default:
		s_domain_read(s, DOMAIN_FUNDS, q, r, s_activity_funds);
		break;
	}
}

/* ---------------------------------------------------------- status stream */

#define STATUS_PAGE_DEFAULT 1000u
#define STATUS_PAGE_MAX     10000u

static void s_send_reply(struct server *s, const QueryReply *r);

/* A StatusPage being filled; a snapshot sends each full page at once. */
struct s_status_page {
	struct server *s;
	QueryReply *r;               /* the reply the last page goes in */
	Jiceng__V1__StatusPage *page;
	size_t cap;                  /* page size */
	bool stream;                 /* send full pages as they fill */
};

static void
s_status_page_clear(Jiceng__V1__StatusPage *p)
{
	for (size_t i = 0; i < p->n_changes; i++)
		jiceng__v1__status_change__free_unpacked(p->changes[i], NULL);
	p->n_changes = 0;
}

static int
s_status_add(void *arg, const void *packed, size_t len, bool leaves)
{
	struct s_status_page *sp = arg;
	Jiceng__V1__StatusPage *p = sp->page;
	if (sp->stream && p->n_changes == sp->cap) {
		s_send_reply(sp->s, sp->r);
		s_status_page_clear(p);
	}
	StatusChange *c = jiceng__v1__status_change__unpack(NULL, len, packed);
	if (!c)
		return MDB_CORRUPTED;
	c->leaves_filter = leaves;
	p->changes[p->n_changes++] = c;
	return 0;
}

/* r gets an empty StatusPage with room for cap changes. */
static int
s_status_page_new(struct s_status_page *sp, struct server *s, QueryReply *r, size_t cap,
    bool stream)
{
	Jiceng__V1__StatusPage *p = malloc(sizeof *p);
	StatusChange **changes = calloc(cap, sizeof *changes);
	if (!p || !changes) {
		free(p);
		free(changes);
		return ENOMEM;
	}
	jiceng__v1__status_page__init(p);
	p->changes = changes;
	*sp = (struct s_status_page){ s, r, p, cap, stream };
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_STATUS_PAGE;
	r->status_page = p;
	return 0;
}

static void
s_status_page_free(Jiceng__V1__StatusPage *p)
{
	if (!p)
		return;
	s_status_page_clear(p);
	free(p->changes);
	free(p);
}

/* The snapshot: read in one transaction, every page but the last sent
 * from here, the last left in r. Each carries the seq it is consistent
 * at: the membership worker's cursor in that transaction. */
static int
s_status_snapshot(struct membership *m, MDB_txn *txn, const Query *q, QueryReply *r,
    struct server *s)
{
	const Jiceng__V1__GetStatusSnapshot *g = q->get_status_snapshot;
	struct membership_status_filter f = { g->township_id, g->org_id };
	unsigned size = g->page_size ? g->page_size : STATUS_PAGE_DEFAULT;
	struct s_status_page sp;
	uint64_t cursor = 0;
	int rc;
	if (size > STATUS_PAGE_MAX)
		size = STATUS_PAGE_MAX;
	if ((rc = fold_cursor_get(txn, s->state[DOMAIN_MEMBERSHIP].meta, &cursor)) ||
	    (rc = s_status_page_new(&sp, s, r, size, true)))
		return rc;
	sp.page->seq = cursor;
	rc = membership_status_snapshot(m, txn, &f, s_status_add, &sp);
	sp.page->last = true;
	return rc;
}

/* Catch-up from the change log; SNAPSHOT_REQUIRED when it was pruned past
 * the cursor. */
static int
s_status_changes(struct membership *m, MDB_txn *txn, const Query *q, QueryReply *r,
    struct server *s)
{
	const Jiceng__V1__ListStatusChanges *l = q->list_status_changes;
	struct membership_status_filter f = { l->township_id, l->org_id };
	struct s_status_page sp;
	unsigned limit = l->limit ? l->limit : 100;
	bool expired, more;
	int rc;
	if (limit > 1000)
		limit = 1000;
	if ((rc = s_status_page_new(&sp, s, r, limit, false)) ||
	    (rc = fold_cursor_get(txn, s->state[DOMAIN_MEMBERSHIP].meta, &sp.page->seq)))
		return rc;
	rc = membership_status_since(m, txn, l->after_seq, l->after_index, &f, limit,
	    s_status_add, &sp, &sp.page->next_seq, &sp.page->next_index, &more,
	    &expired, &sp.page->pruned_seq);
	sp.page->more = more;
	if (rc == 0 && expired) {
		r->status = JICENG__V1__QUERY_STATUS__NOT_FOUND;
		r->code = "SNAPSHOT_REQUIRED";
		r->reason = "变更记录已不再保留到该位置，请重新获取快照 / the change log no "
		    "longer reaches back to this position: take a snapshot";
	}
	return rc;
}

/* The snapshot or catch-up of q, in a read transaction of its own. */
static void
s_status_read(struct server *s, const Query *q, QueryReply *r)
{
	MDB_txn *txn;
	int rc = s_state_read(s, DOMAIN_MEMBERSHIP, &txn);
	if (rc == 0) {
		struct membership *m = s->state[DOMAIN_MEMBERSHIP].membership;
		rc = q->query_case == JICENG__V1__QUERY__QUERY_GET_STATUS_SNAPSHOT ?
		    s_status_snapshot(m, txn, q, r, s) : s_status_changes(m, txn, q, r, s);
		mdb_txn_abort(txn);
	}
	if (rc) {
		s_status_page_free(r->status_page);
		r->status_page = NULL;
		r->result_case = JICENG__V1__QUERY_REPLY__RESULT__NOT_SET;
		s_fail(r, rc);
	}
}

/* ---------------------------------------------------------- stats */

/* Everything a Stats reply points to, freed together. */
struct stats_buf {
	Jiceng__V1__Stats st;
	Jiceng__V1__WorkerStats ws[DOMAIN_COUNT], *wsp[DOMAIN_COUNT];
	Jiceng__V1__CodeCount cc[256], *rej[128], *acc[128];
	char names[256][48];
	unsigned ncc;
	Jiceng__V1__QuarantinedEvent qe[64], *qep[64];
	Jiceng__V1__EventCount ev[64], *evp[64];
	char evnames[64][40];
	Jiceng__V1__CodeCount *warn[128];
	uint64_t qseq[64];
	char qreason[64][128];
	Jiceng__V1__StandbyStats standby;
	char standby_text[4][320];  /* state, primary, stream, problem */
	Jiceng__V1__MirrorStats mirror;
	char mirror_problem[256];
};

static void
s_add_count(struct stats_buf *sb, Jiceng__V1__CodeCount **list, size_t *n, const char *name,
    size_t name_len, uint64_t count)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen(list[i]->code) == name_len && memcmp(list[i]->code, name, name_len) == 0) {
			list[i]->count += count;
			return;
		}
	if (sb->ncc >= 256 || *n >= 128)
		return;
	Jiceng__V1__CodeCount *c = &sb->cc[sb->ncc];
	jiceng__v1__code_count__init(c);
	snprintf(sb->names[sb->ncc], sizeof sb->names[0], "%.*s", (int)name_len, name);
	c->code = sb->names[sb->ncc++];
	c->count = count;
	list[(*n)++] = c;
}

/* "kind:accepted" or "kind:rejected" -> the kind's EventCount, and the
 * accepted ones also to the accepted-by-kind list. */
static void
s_add_event(struct stats_buf *sb, const char *key, size_t len, uint64_t n)
{
	const char *colon = memchr(key, ':', len);
	if (!colon)
		return;
	int klen = (int)(colon - key);
	bool accepted = (size_t)(key + len - colon - 1) == 8 && memcmp(colon + 1, "accepted", 8) == 0;
	if (accepted)
		s_add_count(sb, sb->acc, &sb->st.n_accepted, key, (size_t)klen, n);
	size_t i;
	for (i = 0; i < sb->st.n_events; i++)
		if ((int)strlen(sb->evp[i]->kind) == klen && memcmp(sb->evp[i]->kind, key, (size_t)klen) == 0)
			break;
	if (i == sb->st.n_events) {
		if (i == 64)
			return;
		jiceng__v1__event_count__init(&sb->ev[i]);
		snprintf(sb->evnames[i], sizeof sb->evnames[i], "%.*s", klen, key);
		sb->ev[i].kind = sb->evnames[i];
		sb->evp[i] = &sb->ev[i];
		sb->st.n_events++;
	}
	if (accepted)
		sb->evp[i]->accepted += n;
	else
		sb->evp[i]->rejected += n;
}

static void
s_stats_worker(struct server *s, struct stats_buf *sb, enum domain d, uint64_t last)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	Jiceng__V1__WorkerStats *w = &sb->ws[sb->st.n_workers];
	jiceng__v1__worker_stats__init(w);
	w->domain = (char *)codec_domain_name(d);
	sb->wsp[sb->st.n_workers++] = w;
	if (s_state_read(s, d, &txn)) {
		w->lag = last;
		return;
	}
	fold_cursor_get(txn, s->state[d].meta, &w->cursor);
	w->lag = last > w->cursor ? last - w->cursor : 0;
	if (mdb_cursor_open(txn, s->state[d].counts, &cur) == 0) {
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			const char *key = k.mv_data;
			uint64_t n = v.mv_size == 8 ? be64_get(v.mv_data) : 0;
			if (k.mv_size > 9 && memcmp(key, "rejected:", 9) == 0) {
				s_add_count(sb, sb->rej, &sb->st.n_rejected, key + 9, k.mv_size - 9, n);
			} else if (k.mv_size > 8 && memcmp(key, "warning:", 8) == 0) {
				s_add_count(sb, sb->warn, &sb->st.n_warnings, key + 8, k.mv_size - 8, n);
			} else if (k.mv_size > 6 && memcmp(key, "event:", 6) == 0) {
				w->applied_events += n;
				s_add_event(sb, key + 6, k.mv_size - 6, n);
			}
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

static void
s_stats_broker(struct server *s, struct stats_buf *sb, MDB_txn *jt)
{
	const void *v;
	size_t len;
	if (journal_meta_get(s->journal, jt, "broker_counters", &v, &len) != 0)
		return;
	Jiceng__V1__Stats *bc = jiceng__v1__stats__unpack(NULL, len, v);
	if (!bc)
		return;
	for (size_t i = 0; i < bc->n_rejected; i++)
		s_add_count(sb, sb->rej, &sb->st.n_rejected, bc->rejected[i]->code,
		    strlen(bc->rejected[i]->code), bc->rejected[i]->count);
	sb->st.duplicates = bc->duplicates;
	sb->st.retry_later = bc->retry_later;
	sb->st.commits = bc->commits;
	sb->st.commit_events_max = bc->commit_events_max;
	sb->st.fsync_ms_avg = bc->fsync_ms_avg;
	if (bc->standby) {
		Jiceng__V1__StandbyStats *o = &sb->standby;
		char *const from[4] = { bc->standby->state, bc->standby->primary, bc->standby->stream,
			bc->standby->problem };
		*o = *bc->standby;
		o->base.unknown_fields = NULL, o->base.n_unknown_fields = 0;
		for (int i = 0; i < 4; i++)
			snprintf(sb->standby_text[i], sizeof sb->standby_text[i], "%s", from[i]);
		o->state = sb->standby_text[0], o->primary = sb->standby_text[1];
		o->stream = sb->standby_text[2], o->problem = sb->standby_text[3];
		sb->st.standby = o;
	}
	jiceng__v1__stats__free_unpacked(bc, NULL);
}

/* jiceng-mirror's cursor (mirror.mdb): how far the stream holds the
 * journal. */
static void
s_stats_mirror(struct server *s, struct stats_buf *sb, uint64_t last)
{
	char path[CONFIG_PATH_MAX + 16];
	struct mirror_pos pos;
	struct mirror_health h;
	Jiceng__V1__MirrorStats *m = &sb->mirror;
	jiceng__v1__mirror_stats__init(m);
	mirror_cursor_path(s->cfg.derived_dir, path, sizeof path);
	int rc = mirror_cursor_peek(path, &pos, &h);
	if (rc) {
		memset(&pos, 0, sizeof pos);
		memset(&h, 0, sizeof h);
		snprintf(h.error, sizeof h.error, "%s", rc == MDB_NOTFOUND ?
		    "jiceng-mirror has not run yet" : mdb_strerror(rc));
	}
	snprintf(sb->mirror_problem, sizeof sb->mirror_problem, "%s", h.error);
	m->stream = s->cfg.mirror_stream;
	m->seq = pos.seq;
	m->stream_seq = pos.stream_seq;
	m->lag = last > pos.seq ? last - pos.seq : 0;
	m->connected = h.connected;
	m->problem = sb->mirror_problem;
	m->acked_at = pos.acked_at;
	sb->st.mirror = m;
}

static void
s_get_stats(struct server *s, QueryReply *r, void **owned)
{
	MDB_txn *jt;
	uint64_t last = 0;
	int rc = journal_read_begin(s->journal, &jt);
	if (rc)
		return s_fail(r, rc);
	struct stats_buf *sb = calloc(1, sizeof *sb);
	jiceng__v1__stats__init(&sb->st);
	journal_last_seq(s->journal, jt, &last);
	sb->st.journal_length = last;
	sb->st.events_per_second =
	    (double)journal_count_since(s->journal, jt, now_wall_ms() - 60000, 10000000) / 60.0;
	s_stats_broker(s, sb, jt);
	unsigned nq = journal_quarantine_list(s->journal, jt, sb->qseq, sb->qreason, 64);
	for (unsigned i = 0; i < nq; i++) {
		jiceng__v1__quarantined_event__init(&sb->qe[i]);
		sb->qe[i].seq = sb->qseq[i];
		sb->qe[i].reason = sb->qreason[i];
		sb->qep[i] = &sb->qe[i];
	}
	mdb_txn_abort(jt);
	sb->st.n_quarantined = nq;
	sb->st.quarantined = sb->qep;
	sb->st.workers = sb->wsp;
	sb->st.rejected = sb->rej;
	sb->st.accepted = sb->acc;
	sb->st.events = sb->evp;
	sb->st.warnings = sb->warn;
	for (int d = 0; d < DOMAIN_COUNT; d++)
		if (s->cfg.workers[d])
			s_stats_worker(s, sb, (enum domain)d, last);
	if (s->cfg.mirror_enabled)
		s_stats_mirror(s, sb, last);
	r->result_case = JICENG__V1__QUERY_REPLY__RESULT_STATS;
	r->stats = &sb->st;
	*owned = sb;
}

/* ---------------------------------------------------------- dispatch */

/* Transfers and episodes are freed whole by their membership_free_*
 * (s_membership_read sets result_case only with a result); the other
 * results are freed inside, then owned itself, which comes with them. */
static void
s_free_result(QueryReply *r, void *owned)
{
	switch (r->result_case) {
	case JICENG__V1__QUERY_REPLY__RESULT_TRANSFER:
		membership_free_transfer(&r->transfer);
		return;
	case JICENG__V1__QUERY_REPLY__RESULT_TRANSFERS:
		membership_free_transfer_list(&r->transfers);
		return;
	case JICENG__V1__QUERY_REPLY__RESULT_EPISODE:
		membership_free_episode(&r->episode);
		return;
	case JICENG__V1__QUERY_REPLY__RESULT_EPISODES:
		membership_free_episode_list(&r->episodes);
		return;
	case JICENG__V1__QUERY_REPLY__RESULT_STATUS_PAGE:
		s_status_page_free(r->status_page);
		return;
	case JICENG__V1__QUERY_REPLY__RESULT_BUDGET: funds_free_budget(&r->budget); return;
	case JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENT: funds_free_disbursement(&r->disbursement); return;
	case JICENG__V1__QUERY_REPLY__RESULT_DISBURSEMENTS: funds_free_disbursement_list(&r->disbursements); return;
	case JICENG__V1__QUERY_REPLY__RESULT_DUES: funds_free_dues_list(&r->dues); return;
	case JICENG__V1__QUERY_REPLY__RESULT_MEETING: meetings_free_meeting(&r->meeting); return;
	case JICENG__V1__QUERY_REPLY__RESULT_MEETINGS: meetings_free_list(&r->meetings); return;
	case JICENG__V1__QUERY_REPLY__RESULT_ATTENDANCE: meetings_free_attendance(&r->attendance); return;
	case JICENG__V1__QUERY_REPLY__RESULT_MEETINGS_AUDIT: reports_free(r->meetings_audit); return;
	case JICENG__V1__QUERY_REPLY__RESULT_INACTIVE_MEMBERS: reports_free(r->inactive_members); return;
	case JICENG__V1__QUERY_REPLY__RESULT_CERTIFICATE_REVIEWS: reports_free(r->certificate_reviews); return;
	case JICENG__V1__QUERY_REPLY__RESULT_DUES_ARREARS: reports_free(r->dues_arrears); return;
	case JICENG__V1__QUERY_REPLY__RESULT_ACTIVITY_FUNDS: reports_free(r->activity_funds); return;
	case JICENG__V1__QUERY_REPLY__RESULT_ORG:
		membership_free_org_view(owned);
		break;
	case JICENG__V1__QUERY_REPLY__RESULT_MEMBER:
		membership_free_member_view(owned);
		break;
	case JICENG__V1__QUERY_REPLY__RESULT_MEMBERS:
		membership_free_member_list(owned);
		break;
	case JICENG__V1__QUERY_REPLY__RESULT_AUDIT:
		membership_free_audit_list(owned);
		break;
	default:
		break;
	}
	free(owned);
}

/* An optional id: "" or a valid one. */
static bool
s_id_or_empty(const char *s)
{
	return !*s || codec_id_valid(s);
}

static bool
s_query_ids_valid(const Query *q)
{
	struct report_args a;
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_ORG: return codec_id_valid(q->get_org->org_id);
	case JICENG__V1__QUERY__QUERY_GET_MEMBER: return codec_id_valid(q->get_member->member_id);
	case JICENG__V1__QUERY__QUERY_LIST_MEMBERS:
		return codec_id_valid(q->list_members->org_id) &&
		    s_id_or_empty(q->list_members->after);
	case JICENG__V1__QUERY__QUERY_GET_TRANSFER:
		return codec_id_valid(q->get_transfer->transfer_id);
	case JICENG__V1__QUERY__QUERY_LIST_TRANSFERS:
		return s_id_or_empty(q->list_transfers->member_id) &&
		    s_id_or_empty(q->list_transfers->org_id) &&
		    s_id_or_empty(q->list_transfers->after);
	case JICENG__V1__QUERY__QUERY_GET_MOBILE_EPISODE:
		return codec_id_valid(q->get_mobile_episode->flow_id);
	case JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES:
		return s_id_or_empty(q->list_mobile_episodes->member_id) &&
		    s_id_or_empty(q->list_mobile_episodes->org_id) &&
		    s_id_or_empty(q->list_mobile_episodes->after);
	case JICENG__V1__QUERY__QUERY_GET_STATUS_SNAPSHOT:
		return s_id_or_empty(q->get_status_snapshot->org_id);
	case JICENG__V1__QUERY__QUERY_LIST_STATUS_CHANGES:
		return s_id_or_empty(q->list_status_changes->org_id);
	case JICENG__V1__QUERY__QUERY_GET_BUDGET: return codec_id_valid(q->get_budget->budget_id);
	case JICENG__V1__QUERY__QUERY_GET_DISBURSEMENT:
		return codec_id_valid(q->get_disbursement->disbursement_id);
	case JICENG__V1__QUERY__QUERY_LIST_PAYMENTS:
		return s_id_or_empty(q->list_payments->member_id) &&
		    s_id_or_empty(q->list_payments->org_id) && s_id_or_empty(q->list_payments->after);
	case JICENG__V1__QUERY__QUERY_LIST_DUES: return codec_id_valid(q->list_dues->member_id);
	case JICENG__V1__QUERY__QUERY_GET_MEETING: return codec_id_valid(q->get_meeting->meeting_id);
	case JICENG__V1__QUERY__QUERY_LIST_MEETINGS:
		return codec_id_valid(q->list_meetings->org_id) && s_id_or_empty(q->list_meetings->after);
	case JICENG__V1__QUERY__QUERY_GET_ATTENDANCE:
		return codec_id_valid(q->get_attendance->member_id);
	default:
		return !s_report_args(q, &a) ||
		    (s_id_or_empty(a.scope.org_id) && s_id_or_empty(a.page.after));
	}
}

/* A township named by a query is a 12-digit code ending in 000, or "". */
static bool
s_query_township_valid(const Query *q)
{
	struct report_args a;
	const char *t;
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_LIST_AUDIT: t = q->list_audit->township_id; break;
	case JICENG__V1__QUERY__QUERY_LIST_TRANSFERS: t = q->list_transfers->township_id; break;
	case JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES:
		t = q->list_mobile_episodes->township_id;
		break;
	case JICENG__V1__QUERY__QUERY_GET_STATUS_SNAPSHOT: t = q->get_status_snapshot->township_id; break;
	case JICENG__V1__QUERY__QUERY_LIST_STATUS_CHANGES: t = q->list_status_changes->township_id; break;
	default:
		if (!s_report_args(q, &a))
			return true;
		t = a.scope.township_id;
	}
	return !*t || codec_township_valid(t);
}

/* A list of transfers or episodes names exactly one of a member, an org
 * and a township; an org's or township's episodes are the open ones, so
 * only an open state may filter them. NULL when q is well formed, else
 * the BAD_QUERY code, with its reason in *reason. */
static const char *
s_query_selector_refusal(const Query *q, const char **reason)
{
	struct report_args a;
	const char *member, *org, *township;
	int state = 0;
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_LIST_TRANSFERS:
		member = q->list_transfers->member_id;
		org = q->list_transfers->org_id;
		township = q->list_transfers->township_id;
		break;
	case JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES:
		member = q->list_mobile_episodes->member_id;
		org = q->list_mobile_episodes->org_id;
		township = q->list_mobile_episodes->township_id;
		state = (int)q->list_mobile_episodes->state;
		break;
	case JICENG__V1__QUERY__QUERY_LIST_PAYMENTS: return s_funds_refusal(q, reason);
	case JICENG__V1__QUERY__QUERY_LIST_DUES: return s_funds_refusal(q, reason);
	case JICENG__V1__QUERY__QUERY_LIST_MEETINGS: return s_meetings_refusal(q, reason);
	case JICENG__V1__QUERY__QUERY_GET_ATTENDANCE: return s_meetings_refusal(q, reason);
	default:
		return s_report_args(q, &a) ? s_report_refusal(q, &a, reason) : NULL;
	}
	if ((*member != 0) + (*org != 0) + (*township != 0) != 1) {
		*reason = "须且只须给出member_id、org_id、township_id之一 / "
		    "give exactly one of member_id, org_id and township_id";
		return "BAD_SELECTOR";
	}
	if (state && !protobuf_c_enum_descriptor_get_value(
	    &jiceng__v1__mobility_state__descriptor, state)) {
		*reason = "未知的流动状态 / unknown MobilityState";
		return "BAD_STATE";
	}
	if (state && !*member && !membership_episode_state_open(state)) {
		*reason = "按组织或乡镇只列出未结束的流动：AWAITING_REPORT、REPORTED、"
		    "LOST_CONTACT / by org or township only open episodes are listed: "
		    "AWAITING_REPORT, REPORTED, LOST_CONTACT";
		return "BAD_STATE";
	}
	return NULL;
}

/* The township a list of transfers or episodes is about: its member's or
 * org's, or the one it names. */
static int
s_by_township(struct membership *m, MDB_txn *txn, const char *member_id,
    const char *org_id, const char *township_id, char out[16])
{
	if (*member_id)
		return membership_member_township(m, txn, member_id, out);
	if (*org_id)
		return membership_org_township(m, txn, org_id, out);
	snprintf(out, 16, "%s", township_id);
	return 0;
}

/* The township a status snapshot or catch-up reads: the one it names, or
 * its org's ("" for the county). An org of another township than the one
 * named reads nothing of it: that org's township is the one checked. */
static int
s_status_township(struct membership *m, MDB_txn *txn, const char *township_id,
    const char *org_id, char out[16])
{
	if (*org_id) {
		int rc = membership_org_township(m, txn, org_id, out);
		if (rc == 0 && *township_id && strcmp(out, township_id) != 0)
			snprintf(out, 16, "%s", "");
		return rc;
	}
	snprintf(out, 16, "%s", township_id);
	return 0;
}

/* The township whose data q reads, in t[0] ("" for county-wide); a
 * transfer or an episode has two sides, the other in t[1] ("" if none).
 * Returns 0, or an LMDB error (MDB_NOTFOUND for an unknown id). */
static int
s_query_townships(struct server *s, const Query *q, char t[2][16])
{
	struct report_args a;
	MDB_txn *txn;
	int rc = 0;
	t[0][0] = t[1][0] = 0;
	if (q->query_case == JICENG__V1__QUERY__QUERY_GET_STATS)
		return 0;
	if (q->query_case == JICENG__V1__QUERY__QUERY_LIST_AUDIT) {
		snprintf(t[0], 16, "%s", q->list_audit->township_id);
		return 0;
	}
	if (s_funds_query(q))
		return s_funds_townships(s, q, t);
	if (s_meetings_query(q))
		return s_meetings_townships(s, q, t);
	if ((rc = s_state_read(s, DOMAIN_MEMBERSHIP, &txn)))
		return rc;
	struct membership *m = s->state[DOMAIN_MEMBERSHIP].membership;
	const Jiceng__V1__ListTransfers *lt;
	const Jiceng__V1__ListMobileEpisodes *le;
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_MEMBER:
		rc = membership_member_township(m, txn, q->get_member->member_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_GET_ORG:
		rc = membership_org_township(m, txn, q->get_org->org_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_MEMBERS:
		rc = membership_org_township(m, txn, q->list_members->org_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_GET_TRANSFER:
		rc = membership_transfer_townships(m, txn, q->get_transfer->transfer_id,
		    t[0], t[1]);
		break;
	case JICENG__V1__QUERY__QUERY_GET_MOBILE_EPISODE:
		rc = membership_episode_townships(m, txn, q->get_mobile_episode->flow_id,
		    t[0], t[1]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_TRANSFERS:
		lt = q->list_transfers;
		rc = s_by_township(m, txn, lt->member_id, lt->org_id, lt->township_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES:
		le = q->list_mobile_episodes;
		rc = s_by_township(m, txn, le->member_id, le->org_id, le->township_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_GET_STATUS_SNAPSHOT:
		rc = s_status_township(m, txn, q->get_status_snapshot->township_id,
		    q->get_status_snapshot->org_id, t[0]);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_STATUS_CHANGES:
		rc = s_status_township(m, txn, q->list_status_changes->township_id,
		    q->list_status_changes->org_id, t[0]);
		break;
	default:
		/* A report: its township, its org's, or the county's (""). */
		if (s_report_args(q, &a))
			rc = s_by_township(m, txn, "", a.scope.org_id, a.scope.township_id, t[0]);
		break;
	}
	mdb_txn_abort(txn);
	return rc;
}

/* Township keys and township readers see their own township only: for a
 * transfer or an episode, either side's. */
static bool
s_authorised(struct server *s, const struct principal *p, const Query *q, QueryReply *r)
{
	char township[2][16];
	const char *code;
	if (p->role == AUTH_ROLE_LOCAL || p->role == AUTH_ROLE_COUNTY ||
	    (p->role == AUTH_ROLE_READER && !p->township[0]))
		return true;
	int rc = s_query_townships(s, q, township);
	if (rc && rc != MDB_NOTFOUND) {
		s_fail(r, rc);
		return false;
	}
	/* An id outside the key's township is out of scope whether or not it
	 * exists elsewhere, so a township cannot probe another's ids. */
	code = rc == MDB_NOTFOUND ? AUTH_CODE_OUT_OF_SCOPE : auth_query_refusal(p, township[0]);
	if (code && rc != MDB_NOTFOUND && township[1][0] && !auth_query_refusal(p, township[1]))
		code = NULL;
	if (q->query_case == JICENG__V1__QUERY__QUERY_GET_STATS)
		code = AUTH_CODE_OUT_OF_SCOPE;
	if (!code)
		return true;
	r->status = JICENG__V1__QUERY_STATUS__FORBIDDEN;
	r->code = (char *)code;
	r->reason = "超出密钥的查询范围 / outside the data your key may read";
	return false;
}

static void
s_answer(struct server *s, const uint8_t *data, size_t len, const struct principal *p,
    QueryReply *r, void **owned)
{
	Query *q = len <= QUERY_MAX_FRAME ? jiceng__v1__query__unpack(NULL, len, data) : NULL;
	if (!q) {
		r->status = JICENG__V1__QUERY_STATUS__BAD_QUERY;
		r->code = "MALFORMED";
		r->reason = "无法解析为Query / not a valid jiceng.v1.Query";
		return;
	}
	r->request_id = strdup(codec_utf8_valid(q->request_id, strlen(q->request_id)) &&
	    strlen(q->request_id) <= CODEC_MAX_ID ? q->request_id : "");
	if (!s_query_ids_valid(q)) {
		r->status = JICENG__V1__QUERY_STATUS__BAD_QUERY;
		r->code = "BAD_ID";
		r->reason = "标识符格式错误 / ids are 1-64 bytes of [A-Za-z0-9._:-]";
		goto out;
	}
	if (!s_query_township_valid(q)) {
		r->status = JICENG__V1__QUERY_STATUS__BAD_QUERY;
		r->code = "BAD_TOWNSHIP";
		r->reason = "乡镇代码须为12位数字并以000结尾 / township_id is 12 digits ending in 000";
		goto out;
	}
	const char *reason, *bad = s_query_selector_refusal(q, &reason);
	if (bad) {
		r->status = JICENG__V1__QUERY_STATUS__BAD_QUERY;
		r->code = (char *)bad;
		r->reason = (char *)reason;
		goto out;
	}
	if (!s_authorised(s, p, q, r))
		goto out;
	r->status = JICENG__V1__QUERY_STATUS__OK;
	r->code = "OK";
	switch (q->query_case) {
	case JICENG__V1__QUERY__QUERY_GET_ORG: s_get_org(s, q->get_org, r, owned); break;
	case JICENG__V1__QUERY__QUERY_GET_MEMBER: s_get_member(s, q->get_member, r, owned); break;
	case JICENG__V1__QUERY__QUERY_LIST_MEMBERS: s_list_members(s, q->list_members, r, owned); break;
	case JICENG__V1__QUERY__QUERY_GET_STATS: s_get_stats(s, r, owned); break;
	case JICENG__V1__QUERY__QUERY_LIST_AUDIT: s_list_audit(s, q->list_audit, r, owned); break;
	case JICENG__V1__QUERY__QUERY_GET_TRANSFER:
		s_domain_read(s, DOMAIN_MEMBERSHIP, q, r, s_get_transfer);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_TRANSFERS:
		s_domain_read(s, DOMAIN_MEMBERSHIP, q, r, s_list_transfers);
		break;
	case JICENG__V1__QUERY__QUERY_GET_MOBILE_EPISODE:
		s_domain_read(s, DOMAIN_MEMBERSHIP, q, r, s_get_episode);
		break;
	case JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES:
		s_domain_read(s, DOMAIN_MEMBERSHIP, q, r, s_list_episodes);
		break;
	case JICENG__V1__QUERY__QUERY_GET_STATUS_SNAPSHOT:
	case JICENG__V1__QUERY__QUERY_LIST_STATUS_CHANGES:
		s_status_read(s, q, r);
		break;
	case JICENG__V1__QUERY__QUERY_GET_BUDGET: s_domain_read(s, DOMAIN_FUNDS, q, r, s_get_budget); break;
	case JICENG__V1__QUERY__QUERY_GET_DISBURSEMENT: s_domain_read(s, DOMAIN_FUNDS, q, r, s_get_disbursement); break;
	case JICENG__V1__QUERY__QUERY_LIST_PAYMENTS: s_domain_read(s, DOMAIN_FUNDS, q, r, s_list_payments); break;
	case JICENG__V1__QUERY__QUERY_LIST_DUES: s_domain_read(s, DOMAIN_FUNDS, q, r, s_list_dues); break;
	case JICENG__V1__QUERY__QUERY_GET_MEETING: s_meetings_read(s, q, r, s_get_meeting); break;
	case JICENG__V1__QUERY__QUERY_LIST_MEETINGS: s_meetings_read(s, q, r, s_list_meetings); break;
	case JICENG__V1__QUERY__QUERY_GET_ATTENDANCE: s_meetings_read(s, q, r, s_get_attendance); break;
	case JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS:
	case JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS:
	case JICENG__V1__QUERY__QUERY_LIST_CERTIFICATE_REVIEWS:
	case JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS:
	case JICENG__V1__QUERY__QUERY_REPORT_ACTIVITY_FUNDS:
		s_report(s, q, r);
		break;
	default:
		r->status = JICENG__V1__QUERY_STATUS__BAD_QUERY;
		r->code = "NO_QUERY";
		r->reason = "没有查询内容或版本不支持 / no query, or a kind this version does not know";
	}
out:
	jiceng__v1__query__free_unpacked(q, NULL);
}

/* Send r to the requester being answered (s->route). */
static void
s_send_reply(struct server *s, const QueryReply *r)
{
	size_t len = jiceng__v1__query_reply__get_packed_size(r);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return;
	jiceng__v1__query_reply__pack(r, buf);
	for (int i = 0; i < s->nroute; i++)
		zmq_send(s->router, zmq_msg_data(&s->route[i]), zmq_msg_size(&s->route[i]),
		    ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(s->router, buf, len, ZMQ_DONTWAIT);
	free(buf);
}

static void
s_serve_one(struct server *s)
{
	zmq_msg_t parts[4];
	int n = 0, more = 1;
	size_t ms = sizeof more;
	while (more && n < 4) {
		zmq_msg_init(&parts[n]);
		if (zmq_msg_recv(&parts[n], s->router, n ? 0 : ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&parts[n]);
			return;
		}
		n++;
		zmq_getsockopt(s->router, ZMQ_RCVMORE, &more, &ms);
	}
	while (more) {  /* drop extra frames */
		zmq_msg_t x;
		zmq_msg_init(&x);
		zmq_msg_recv(&x, s->router, 0);
		zmq_msg_close(&x);
		zmq_getsockopt(s->router, ZMQ_RCVMORE, &more, &ms);
	}
	QueryReply r = JICENG__V1__QUERY_REPLY__INIT;
	void *owned = NULL;
	/* DEALER sends [rid][query]; REQ sends [rid][empty][query]. */
	zmq_msg_t *body = &parts[n - 1];
	s->route = parts;
	s->nroute = n - 1;
	struct principal p;
	const char *code = NULL;
	if (security_principal(s->auth, body, s->curve, &p, &code) < 0) {
		Query *q = jiceng__v1__query__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body));
		if (q && codec_id_valid(q->request_id))
			r.request_id = strdup(q->request_id);
		if (q)
			jiceng__v1__query__free_unpacked(q, NULL);
		r.status = JICENG__V1__QUERY_STATUS__FORBIDDEN;
		r.code = (char *)code;
		r.reason = "密钥无效或已吊销 / key not authenticated or revoked";
	} else {
		s_answer(s, zmq_msg_data(body), zmq_msg_size(body), &p, &r, &owned);
	}
	s_send_reply(s, &r);
	s->route = NULL;
	s->nroute = 0;
	if (r.request_id != protobuf_c_empty_string)
		free(r.request_id);
	s_free_result(&r, owned);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
	s->served++;
}

/* ---------------------------------------------------------- main */

static void
s_parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		CONFIG_CHILD_OPTIONS,
		{ "query", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_child_args a = { 0 };
	const char *query = NULL;
	char err[512];
	int c;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		if (c == 'q')
			query = optarg;
		else if (!config_child_option(&a, c, optarg)) {
			fprintf(stderr, "usage: jiceng-query --config FILE --data-dir DIR --run-dir DIR --derived-dir DIR\n"
			    "                    --query EP --workers LIST\n"
			    "Started by jicengd; not meant to be run by hand.\n");
			exit(2);
		}
	}
	if (config_child_load(cfg, &a, err, sizeof err) < 0)
		fatalx("%s", err);
	if (query)
		snprintf(cfg->query, sizeof cfg->query, "%s", query);
	log_init("query", a.verbose);
}

int
main(int argc, char **argv)
{
	static struct server s;
	char path[CONFIG_PATH_MAX + 64];
	int rc, linger = 0;
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	s_parse_args(argc, argv, &s.cfg);
	signal(SIGTERM, s_on_signal);
	signal(SIGINT, s_on_signal);
	signal(SIGHUP, s_on_signal);
	if ((rc = journal_open(&s.journal, s.cfg.data_dir, s.cfg.journal_map_mb, s.cfg.journal_map_max_mb, true)))
		fatalx("cannot open the journal in %s: %s", s.cfg.data_dir, mdb_strerror(rc));
	void *ctx = zmq_ctx_new();
	s.router = zmq_socket(ctx, ZMQ_ROUTER);
	if ((s.parent = wire_child_fd()) < 0)
		fatalx("no channel to jicengd on fd %d: started by hand?", WIRE_CHILD_FD);
	zmq_setsockopt(s.router, ZMQ_LINGER, &linger, sizeof linger);
	char err[512];
	if ((s.curve = security_curve_for(&s.cfg, s.cfg.query, err, sizeof err)) < 0)
		fatalx("%s", err);
	if (s.curve && (!(s.auth = auth_new(ctx, s.cfg.keys_dir, err, sizeof err)) ||
	    auth_server_setup(s.auth, s.router, s.cfg.server_key, err, sizeof err) < 0))
		fatalx("CURVE for %s: %s", s.cfg.query, err);
	if (zmq_bind(s.router, s.cfg.query) < 0)
		fatalx("cannot bind query %s: %s", s.cfg.query, zmq_strerror(zmq_errno()));
	/* Logged first: jicengd's "ready", which the hello may bring, follows it. */
	log_info("serving queries on %s%s", s.cfg.query, s.curve ? " (CURVE)" : "");
	if (wire_send(s.parent, true, WIRE_HELLO, -1, 0, NULL, 0) < 0)
		fatal("cannot report to jicengd");
	int64_t last_beat = 0;
	while (!s_stop) {
		zmq_pollitem_t items[3] = {
			{ s.router, 0, ZMQ_POLLIN, 0 },
			{ NULL, s.parent, ZMQ_POLLIN, 0 },
			{ s.auth ? auth_socket(s.auth) : NULL, s.auth ? 0 : -1, s.auth ? ZMQ_POLLIN : 0, 0 },
		};
		if (zmq_poll(items, 3, s.cfg.heartbeat_ms) < 0 && zmq_errno() != EINTR)
			break;
		if (items[2].revents)
			auth_handle(s.auth);
		if (s_reload) {
			s_reload = 0;
			if (s.auth)
				auth_reload(s.auth);
		}
		if (items[0].revents)
			for (int k = 0; k < 64; k++)
				s_serve_one(&s);
		if (items[1].revents) {
			struct wire_msg m;
			int r;
			while ((r = wire_recv(s.parent, &m)) > 0)
				if (m.h.type == WIRE_STOP)
					s_stop = 1;
			if (r < 0)
				fatalx("jicengd is gone; exiting");
		}
		int64_t now_ms = now_mono_ms();
		if (now_ms - last_beat >= s.cfg.heartbeat_ms) {
			last_beat = now_ms;
			for (int d = 0; d < DOMAIN_COUNT; d++) {
				fold_state_path(s.cfg.derived_dir, d, path, sizeof path);
				s_state_drop_replaced(&s.state[d], path);  /* frees its disk space */
			}
			/* A full channel: jicengd is busy; the next beat goes. */
			if (wire_send(s.parent, false, WIRE_APPLIED, -1, s.served, NULL, 0) < 0 && errno != EAGAIN)
				fatal("cannot report to jicengd");
		}
		if (getppid() != parent)
			fatalx("jicengd is gone; exiting");
	}
	log_info("stopping after %llu queries", (unsigned long long)s.served);
	zmq_close(s.router);
	close(s.parent);
	auth_destroy(&s.auth);
	zmq_ctx_term(ctx);
	journal_close(&s.journal);
	return 0;
}
