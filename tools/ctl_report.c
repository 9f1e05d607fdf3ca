/*
 * jicengctl report: the period audits and reports jiceng-query computes
 * (query.proto "reports", docs/rules.md "Reports"): the 三会一课 audit,
 * inactive members, certificate reviews, dues arrears and activity funds.
 * By default a table for an operator, with bilingual column heads, made
 * of every page (next_after followed); with --json each page's reply as
 * one line of canonical JSON. --limit asks for one page of that size.
 * Exit statuses as query's: 0 OK, 3 NOT_FOUND, 1 otherwise, 2 usage.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "civil.h"
#include "codec.h"
#include "money.h"

#define CMD "report"

/* The options a report takes besides scope and paging. */
enum {
	O_PERIOD = 1 << 0,   /* --period */
	O_MONTH = 1 << 1,    /* --month, --since */
	O_AT = 1 << 2,       /* --at */
	O_YEAR = 1 << 3,     /* --year */
};

enum report { R_AUDIT, R_INACTIVE, R_REVIEWS, R_ARREARS, R_FUNDS };

static const struct {
	const char *name;
	unsigned opts;
	const char *title;
} s_reports[] = {
	[R_AUDIT] = { "meetings-audit", O_PERIOD | O_AT, "三会一课审计 / meetings audit" },
	[R_INACTIVE] = { "inactive-members", O_MONTH,
	    "连续未参加组织生活且未交纳党费 / inactive members" },
	[R_REVIEWS] = { "certificate-reviews", O_AT,
	    "流动党员活动证逾期未年审 / certificate reviews due" },
	[R_ARREARS] = { "dues-arrears", O_MONTH, "党费欠交 / dues arrears" },
	[R_FUNDS] = { "activity-funds", O_YEAR, "党组织活动经费人均 / activity funds per member" },
};

#define S_NREPORTS (sizeof s_reports / sizeof s_reports[0])

struct s_opts {
	const char *endpoint;
	unsigned timeout_ms;
	bool json;
	const char *township, *org;
	char after[CODEC_MAX_ID + 1];
	unsigned long limit;          /* 0: every page */
	unsigned given;               /* O_* of the options given */
	int year, quarter, month;     /* --period */
	int yyyymm, since;            /* --month, --since */
	int64_t at;                   /* --at, 0: the server's now */
	int fund_year;                /* --year */
	struct ctl_curve curve;
};

enum { OPT_TOWNSHIP = 256, OPT_ORG, OPT_PERIOD, OPT_MONTH, OPT_SINCE, OPT_AT, OPT_YEAR,
    OPT_JSON };

static const struct option s_options[] = {
	CTL_QUERY_LONGOPTS,
	{ "township", required_argument, NULL, OPT_TOWNSHIP },
	{ "org", required_argument, NULL, OPT_ORG },
	{ "period", required_argument, NULL, OPT_PERIOD },
	{ "month", required_argument, NULL, OPT_MONTH },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "at", required_argument, NULL, OPT_AT },
	{ "year", required_argument, NULL, OPT_YEAR },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl report [OPTIONS] meetings-audit [SCOPE] [--period P] [--at DATE]\n"
	    "       jicengctl report [OPTIONS] inactive-members [SCOPE] [--month M] [--since M]\n"
	    "       jicengctl report [OPTIONS] certificate-reviews [SCOPE] [--at YYYY-MM-DD]\n"
	    "       jicengctl report [OPTIONS] dues-arrears [SCOPE] [--month M] [--since M]\n"
	    "       jicengctl report [OPTIONS] activity-funds [SCOPE] [--year YYYY]\n"
	    "SCOPE: --township T (its orgs) or --org O (it and the orgs below it);\n"
	    "neither: the whole county (the county key only).\n"
	    "\n"
	    "Ask jiceng-query for a period audit or report and print it as a table.\n"
	    "  meetings-audit       三会一课: each branch's meetings of each type held\n"
	    "                       against the rule (meetings.* settings) in the\n"
	    "                       months, quarters and year of the period it existed\n"
	    "                       through and that are over at --at; held/required,\n"
	    "                       ! short, * some inquorate (not counted), - not due\n"
	    "  inactive-members     members without attendance and without dues for\n"
	    "                       member.inactive_months up to --month (党章 Art. 9),\n"
	    "                       and half as long (early warning)\n"
	    "  certificate-reviews  open mobile episodes whose 流动党员活动证 was not\n"
	    "                       reviewed for 12 months at --at (L4)\n"
	    "  dues-arrears         members whose dues are unpaid for half of\n"
	    "                       member.inactive_months or more up to --month, and\n"
	    "                       lapsed at member.inactive_months\n"
	    "  activity-funds       Party activity funds of --year per member against\n"
	    "                       funds.activity_per_member_min_fen: by township for\n"
	    "                       the county, by the orgs under its committee for a\n"
	    "                       township\n"
	    "\n"
	    "Options:\n"
	    "  -q, --query EP       query endpoint (default $JICENG_QUERY or\n"
	    "                       " CTL_DEFAULT_QUERY ")\n"
	    "  -t, --timeout MS     wait this long for each reply (default 10000)\n"
	    "      --township T     a township's orgs (12 digits)\n"
	    "      --org O          an org and every org below it\n"
	    "      --period P       meetings-audit: 2025, 2025Q3 or 2025-07 (CST;\n"
	    "                       default this year)\n"
	    "      --month M        the last month counted: 2025-07 or 202507 (default\n"
	    "                       last month, the last whole one)\n"
	    "      --since M        no month before M counts (e.g. when the county began\n"
	    "                       recording)\n"
	    "      --at DATE        certificate-reviews, meetings-audit: as of 00:00 CST\n"
	    "                       on YYYY-MM-DD (default now)\n"
	    "      --year YYYY      activity-funds: the year (default this year)\n"
	    "      --json           each page's reply as one line of JSON\n"
	    "  -n, --limit N        one page of N rows (at most 1000); default every page\n"
	    "  -a, --after ID       start after this row id (a page's nextAfter)\n"
	    "  -k, --key FILE       CURVE: our secret key file (<name>.key_secret)\n"
	    "  -s, --server-key FILE  CURVE: the server's public key file\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "A township key reads its own township (or an org of it), never the county.\n"
	    "Exit status: 0 OK, 3 NOT_FOUND, 1 any other status or no reply,\n"
	    "2 usage error.\n");
}

/* ---------------------------------------------------------- options */

static int
s_option(struct s_opts *o, int c, const char *arg)
{
	unsigned long v;
	int y, m, d;

	switch (c) {
	case 'q': o->endpoint = arg; break;
	case 'k': o->curve.key = arg; break;
	case 's': o->curve.server_key = arg; break;
	case OPT_TOWNSHIP: o->township = arg; break;
	case OPT_ORG: o->org = arg; break;
	case OPT_JSON: o->json = true; break;
	case 't':
		if (!ctl_parse_uint(CMD, "timeout", arg, 1, 3600000, &v))
			return CTL_EXIT_USAGE;
		o->timeout_ms = (unsigned)v;
		break;
	case 'n':
		if (!ctl_parse_uint(CMD, "limit", arg, 1, 1000, &o->limit))
			return CTL_EXIT_USAGE;
		break;
	case 'a':
		if (!codec_id_valid(arg))
			return ctl_usage_error(CMD, "--after: not an id: %s", arg);
		snprintf(o->after, sizeof o->after, "%s", arg);
		break;
	case OPT_PERIOD:
		if (!civil_period_parse(arg, &o->year, &o->quarter, &o->month))
			return ctl_usage_error(CMD, "--period: '%s' is none of YYYY, YYYYQn, "
			    "YYYY-MM (years 1900-9999)", arg);
		o->given |= O_PERIOD;
		break;
	case OPT_MONTH:
	case OPT_SINCE:
		if (!civil_month_parse(arg, c == OPT_MONTH ? &o->yyyymm : &o->since))
			return ctl_usage_error(CMD, "--%s: '%s' is not a month YYYY-MM",
			    c == OPT_MONTH ? "month" : "since", arg);
		o->given |= O_MONTH;
		break;
	case OPT_AT:
		if (!civil_date_parse(arg, &y, &m, &d))
			return ctl_usage_error(CMD, "--at: '%s' is not a date YYYY-MM-DD", arg);
		o->at = civil_cst_midnight(y, m, d);
		o->given |= O_AT;
		break;
	case OPT_YEAR:
		if (!ctl_parse_uint(CMD, "year", arg, 1900, 9999, &v))
			return CTL_EXIT_USAGE;
		o->fund_year = (int)v;
		o->given |= O_YEAR;
		break;
	case 'h':
		s_usage(stdout);
		return CTL_EXIT_OK;
	default:
		return ctl_usage_error(CMD, "bad option");
	}
	return -1;
}

/* The report named, its options checked and the defaults filled. Returns
 * -1 to go on, or an exit status. */
static int
s_parse(int argc, char **argv, struct s_opts *o, enum report *rep)
{
	int64_t now = now_wall_ms();
	size_t k;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "q:t:a:n:k:s:h", s_options, NULL)) != -1)
		if ((rc = s_option(o, c, optarg)) >= 0)
			return rc;
	if (optind + 1 != argc)
		return ctl_usage_error(CMD, "name one report: meetings-audit, inactive-members, "
		    "certificate-reviews, dues-arrears or activity-funds");
	for (k = 0; k < S_NREPORTS && strcmp(argv[optind], s_reports[k].name) != 0; k++)
		;
	if (k == S_NREPORTS)
		return ctl_usage_error(CMD, "unknown report '%s'", argv[optind]);
	if (o->given & ~s_reports[k].opts)
		return ctl_usage_error(CMD, "%s takes %s%s%s%sand a scope", s_reports[k].name,
		    s_reports[k].opts & O_PERIOD ? "--period " : "",
		    s_reports[k].opts & O_MONTH ? "--month --since " : "",
		    s_reports[k].opts & O_AT ? "--at " : "",
		    s_reports[k].opts & O_YEAR ? "--year " : "");
	if (o->township && o->org)
		return ctl_usage_error(CMD, "give --township or --org, not both");
	*rep = (enum report)k;
	if (!(o->given & O_PERIOD))
		o->year = civil_cst_year(now);
	if (!o->yyyymm)   /* the last whole month */
		o->yyyymm = civil_month_add(civil_cst_month(now), -1);
	if (!o->fund_year)
		o->fund_year = civil_cst_year(now);
	return -1;
}

/* ---------------------------------------------------------- tables */

/* Cells row by row; the first two rows are the heads (Chinese, English). */
struct table {
	size_t ncols;
	char **cells;
	size_t n, cap;
};

static void
s_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *c;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **cells = realloc(t->cells, cap * sizeof *cells);
		if (!cells)
			return;
		t->cells = cells;
		t->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&c, fmt, ap) < 0)
		c = NULL;
	va_end(ap);
	t->cells[t->n++] = c;
}

/* Columns a UTF-8 string takes on a terminal: East Asian characters two. */
static size_t
s_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xc0) == 0x80)
			continue;
		w += *p >= 0xe2 ? 2 : 1;   /* from U+2000: CJK, full-width forms */
	}
	return w;
}

static void
s_table_print(const struct table *t)
{
	size_t *w = calloc(t->ncols, sizeof *w);

	if (!w)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (t->cells[i] && s_width(t->cells[i]) > w[i % t->ncols])
			w[i % t->ncols] = s_width(t->cells[i]);
	for (size_t i = 0; i < t->n; i++) {
		const char *c = t->cells[i] ? t->cells[i] : "?";
		bool last = i % t->ncols == t->ncols - 1;
		printf("%s%*s", c, last ? 0 : (int)(w[i % t->ncols] - s_width(c) + 2), "");
		if (last)
			putchar('\n');
	}
	free(w);
}

static void
s_table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* The heads: zh and en, ncols names each. */
static void
s_heads(struct table *t, size_t ncols, const char *const *zh, const char *const *en)
{
	t->ncols = ncols;
	for (size_t i = 0; i < ncols; i++)
		s_cell(t, "%s", zh[i]);
	for (size_t i = 0; i < ncols; i++)
		s_cell(t, "%s", en[i]);
}

static const char *
s_category(int c)
{
	return c == JICENG__V1__MEMBER_CATEGORY__PROBATIONARY ? "预备 probationary" :
	    "正式 full";
}

/* A mobility or transfer state for a note, "" for none. */
static const char *
s_state_note(int mobility, int transfer)
{
	switch (mobility) {
	case JICENG__V1__MOBILITY_STATE__AWAITING_REPORT: return "流出待报到 away, not reported";
	case JICENG__V1__MOBILITY_STATE__REPORTED: return "流出已报到 away, reported";
	case JICENG__V1__MOBILITY_STATE__LOST_CONTACT: return "失联 lost contact";
	default: break;
	}
	return transfer == JICENG__V1__TRANSFER_STATE__TRANSFER_ISSUED ? "转接中 in transfer" : "";
}

static void
s_month_cell(struct table *t, int yyyymm)
{
	if (yyyymm)
		s_cell(t, "%04d-%02d", yyyymm / 100, yyyymm % 100);
	else
		s_cell(t, "无 none");
}

static void
s_date_cell(struct table *t, int64_t ms)
{
	int y, m, d;
	if (!ms) {
		s_cell(t, "从未 never");
		return;
	}
	civil_cst_date(ms, &y, &m, &d);
	s_cell(t, "%04d-%02d-%02d", y, m, d);
}

static void
s_yuan_cell(struct table *t, int64_t fen)
{
	char buf[MONEY_TEXT_LEN];
	s_cell(t, "%s", money_text(fen, buf));
}

/* ---------------------------------------------------------- the reports */

/* The meeting types in the audit's columns. */
static const int s_types[] = {
	JICENG__V1__MEETING_TYPE__BRANCH_ASSEMBLY, JICENG__V1__MEETING_TYPE__BRANCH_COMMITTEE,
	JICENG__V1__MEETING_TYPE__GROUP_MEETING, JICENG__V1__MEETING_TYPE__PARTY_LECTURE,
	JICENG__V1__MEETING_TYPE__THEMED_PARTY_DAY, JICENG__V1__MEETING_TYPE__ORG_LIFE_MEETING,
	JICENG__V1__MEETING_TYPE__DEMOCRATIC_APPRAISAL,
};

static void
s_audit_heads(struct table *t)
{
	static const char *const zh[] = { "组织", "名称", "月数", "党员大会", "支委会",
		"党小组会", "党课", "主题党日", "组织生活会", "民主评议", "不足项" };
	static const char *const en[] = { "org", "name", "months", "assembly", "committee",
		"group", "lecture", "themed day", "org life", "appraisal", "short" };
	s_heads(t, sizeof zh / sizeof zh[0], zh, en);
}

static void
s_audit_rows(struct table *t, const Jiceng__V1__MeetingsAuditReport *a)
{
	for (size_t i = 0; i < a->n_orgs; i++) {
		const Jiceng__V1__OrgMeetingsAudit *o = a->orgs[i];
		unsigned shorts = 0;
		s_cell(t, "%s", o->org_id);
		s_cell(t, "%s", o->name);
		s_cell(t, "%u", o->months);
		for (size_t k = 0; k < sizeof s_types / sizeof s_types[0]; k++) {
			const Jiceng__V1__MeetingRequirement *q = NULL;
			for (size_t j = 0; j < o->n_requirements && !q; j++)
				if ((int)o->requirements[j]->type == s_types[k])
					q = o->requirements[j];
			if (!q)
				s_cell(t, "%s", "");
			else if (!q->units_due)
				s_cell(t, "-");
			else
				s_cell(t, "%u/%u%s%s", q->held, q->required, q->not_counted ? "*" : "",
				    q->units_short ? "!" : "");
			shorts += q && q->units_short;
		}
		s_cell(t, "%u", shorts);
	}
}

static void
s_inactive_heads(struct table *t)
{
	static const char *const zh[] = { "党员", "姓名", "所在组织", "类别", "连续月数",
		"最近参会", "最近党费", "级别", "备注" };
	static const char *const en[] = { "member", "name", "home org", "category", "months",
		"last attended", "last dues", "level", "note" };
	s_heads(t, sizeof zh / sizeof zh[0], zh, en);
}

static void
s_inactive_rows(struct table *t, const Jiceng__V1__InactiveMemberList *l)
{
	for (size_t i = 0; i < l->n_members; i++) {
		const Jiceng__V1__InactiveMember *w = l->members[i];
		s_cell(t, "%s", w->member_id);
		s_cell(t, "%s", w->name);
		s_cell(t, "%s", w->home_org_id);
		s_cell(t, "%s", s_category(w->category));
		s_cell(t, "%u", w->months);
		s_month_cell(t, w->last_attended_month);
		s_month_cell(t, w->last_dues_month);
		s_cell(t, "%s", w->inactive ? "脱党情形 inactive" : "预警 warning");
		s_cell(t, "%s", s_state_note(w->mobility_state, w->transfer_state));
	}
}

static void
s_reviews_heads(struct table *t)
{
	static const char *const zh[] = { "流动编号", "党员", "所在组织", "活动证号", "外出日期",
		"上次年审", "月数", "流入地", "状态" };
	static const char *const en[] = { "flow", "member", "home org", "certificate",
		"departed", "last review", "months", "host", "state" };
	s_heads(t, sizeof zh / sizeof zh[0], zh, en);
}

static void
s_reviews_rows(struct table *t, const Jiceng__V1__CertificateReviewList *l)
{
	for (size_t i = 0; i < l->n_episodes; i++) {
		const Jiceng__V1__CertificateReview *e = l->episodes[i];
		s_cell(t, "%s", e->flow_id);
		s_cell(t, "%s", e->member_id);
		s_cell(t, "%s", e->home_org_id);
		s_cell(t, "%s", e->certificate_no);
		s_date_cell(t, e->departed_at);
		s_date_cell(t, e->certificate_reviewed_at);
		s_cell(t, "%u", e->months);
		s_cell(t, "%s", *e->host_org_id ? e->host_org_id : *e->host_org_name ?
		    e->host_org_name : e->destination_code);
		s_cell(t, "%s", s_state_note(e->state, 0));
	}
}

static void
s_arrears_heads(struct table *t)
{
	static const char *const zh[] = { "党员", "姓名", "所在组织", "类别", "最近交至",
		"欠交月数", "级别" };
	static const char *const en[] = { "member", "name", "home org", "category",
		"paid through", "months", "level" };
	s_heads(t, sizeof zh / sizeof zh[0], zh, en);
}

/* Dues arrears per home org, for the table's foot. */
struct s_org_count {
	char org[CODEC_MAX_ID + 1];
	unsigned arrears, lapsed;
};

struct s_org_counts {
	struct s_org_count *c;
	size_t n, cap;
};

static void
s_org_count(struct s_org_counts *oc, const char *org, bool lapsed)
{
	size_t i;
	for (i = 0; i < oc->n && strcmp(oc->c[i].org, org) != 0; i++)
		;
	if (i == oc->n) {
		if (oc->n == oc->cap) {
			size_t cap = oc->cap ? 2 * oc->cap : 16;
			void *c = realloc(oc->c, cap * sizeof *oc->c);
			if (!c)
				return;
			oc->c = c;
			oc->cap = cap;
		}
		memset(&oc->c[oc->n], 0, sizeof oc->c[0]);
		snprintf(oc->c[oc->n++].org, sizeof oc->c[0].org, "%s", org);
	}
	if (lapsed)
		oc->c[i].lapsed++;
	else
		oc->c[i].arrears++;
}

static int
s_org_cmp(const void *a, const void *b)
{
	return strcmp(((const struct s_org_count *)a)->org, ((const struct s_org_count *)b)->org);
}

/* The foot of the arrears table: each home org's members in arrears. */
static void
s_org_counts_print(struct s_org_counts *oc, const Jiceng__V1__DuesArrearsList *l)
{
	static const char *const zh[] = { "所在组织", "欠交", "其中6个月以上" };
	static const char *const en[] = { "home org", "in arrears", "of them lapsed" };
	struct table t = { 0 };

	if (oc->n)
		qsort(oc->c, oc->n, sizeof *oc->c, s_org_cmp);
	s_heads(&t, 3, zh, en);
	for (size_t i = 0; i < oc->n; i++) {
		s_cell(&t, "%s", oc->c[i].org);
		s_cell(&t, "%u", oc->c[i].arrears + oc->c[i].lapsed);
		s_cell(&t, "%u", oc->c[i].lapsed);
	}
	printf("\n%u个月以上欠交党费的党员，按组织 / members %u or more months in arrears, "
	    "by org (lapsed: %u or more)\n", l->arrears_months, l->arrears_months,
	    l->lapse_months);
	s_table_print(&t);
	s_table_free(&t);
}

static void
s_arrears_rows(struct table *t, const Jiceng__V1__DuesArrearsList *l, struct s_org_counts *oc)
{
	for (size_t i = 0; i < l->n_members; i++) {
		const Jiceng__V1__DuesArrear *w = l->members[i];
		s_org_count(oc, w->home_org_id, w->lapsed);
		s_cell(t, "%s", w->member_id);
		s_cell(t, "%s", w->name);
		s_cell(t, "%s", w->home_org_id);
		s_cell(t, "%s", s_category(w->category));
		s_month_cell(t, w->last_paid_month);
		s_cell(t, "%u", w->months);
		if (w->lapsed)
			s_cell(t, "%u个月以上 %u+ months", l->lapse_months, l->lapse_months);
		else
			s_cell(t, "%u个月以上 %u+ months", l->arrears_months, l->arrears_months);
	}
}

static void
s_funds_heads(struct table *t)
{
	static const char *const zh[] = { "单位", "名称", "党员数", "拨付（元）", "冲销（元）",
		"净额（元）", "人均（元）", "低于标准" };
	static const char *const en[] = { "id", "name", "members", "disbursed", "reversed",
		"net", "per member", "below" };
	s_heads(t, sizeof zh / sizeof zh[0], zh, en);
}

static void
s_funds_row(struct table *t, const Jiceng__V1__ActivityFundsRow *w, const char *id)
{
	s_cell(t, "%s", id);
	s_cell(t, "%s", w->name);
	s_cell(t, "%u", w->members);
	s_yuan_cell(t, w->disbursed_fen);
	s_yuan_cell(t, w->reversed_fen);
	s_yuan_cell(t, w->net_fen);
	s_yuan_cell(t, w->per_member_fen);
	s_cell(t, "%s", w->below_minimum ? "是 yes" : "");
}

static void
s_funds_rows(struct table *t, const Jiceng__V1__ActivityFundsReport *f)
{
	for (size_t i = 0; i < f->n_rows; i++)
		s_funds_row(t, f->rows[i], f->rows[i]->id);
}

/* ---------------------------------------------------------- queries */

/* The sub-messages a report Query may point to. */
struct s_parts {
	Jiceng__V1__AuditMeetings am;
	Jiceng__V1__ListInactiveMembers im;
	Jiceng__V1__ListCertificateReviews cr;
	Jiceng__V1__ListDuesArrears da;
	Jiceng__V1__ReportActivityFunds af;
};

static void
s_build(enum report rep, const struct s_opts *o, Query *q, struct s_parts *p)
{
	char *t = o->township ? (char *)o->township : "", *org = o->org ? (char *)o->org : "";
	char *after = (char *)o->after;
	uint32_t limit = (uint32_t)o->limit;
#define S_SCOPE(m) ((m).township_id = t, (m).org_id = org, (m).after = after, (m).limit = limit)

	switch (rep) {
	case R_AUDIT:
		p->am = (Jiceng__V1__AuditMeetings)JICENG__V1__AUDIT_MEETINGS__INIT;
		S_SCOPE(p->am);
		p->am.year = o->year;
		p->am.quarter = (uint32_t)o->quarter;
		p->am.month = (uint32_t)o->month;
		p->am.at = o->at;
		q->query_case = JICENG__V1__QUERY__QUERY_AUDIT_MEETINGS;
		q->audit_meetings = &p->am;
		break;
	case R_INACTIVE:
		p->im = (Jiceng__V1__ListInactiveMembers)JICENG__V1__LIST_INACTIVE_MEMBERS__INIT;
		S_SCOPE(p->im);
		p->im.month = o->yyyymm;
		p->im.since_month = o->since;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_INACTIVE_MEMBERS;
		q->list_inactive_members = &p->im;
		break;
	case R_REVIEWS:
		p->cr = (Jiceng__V1__ListCertificateReviews)JICENG__V1__LIST_CERTIFICATE_REVIEWS__INIT;
		S_SCOPE(p->cr);
		p->cr.at = o->at;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_CERTIFICATE_REVIEWS;
		q->list_certificate_reviews = &p->cr;
		break;
	case R_ARREARS:
		p->da = (Jiceng__V1__ListDuesArrears)JICENG__V1__LIST_DUES_ARREARS__INIT;
		S_SCOPE(p->da);
		p->da.month = o->yyyymm;
		p->da.since_month = o->since;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_DUES_ARREARS;
		q->list_dues_arrears = &p->da;
		break;
	case R_FUNDS:
		p->af = (Jiceng__V1__ReportActivityFunds)JICENG__V1__REPORT_ACTIVITY_FUNDS__INIT;
		S_SCOPE(p->af);
		p->af.year = o->fund_year;
		q->query_case = JICENG__V1__QUERY__QUERY_REPORT_ACTIVITY_FUNDS;
		q->report_activity_funds = &p->af;
		break;
	}
#undef S_SCOPE
}

/* The page's rows into t (its heads on the first page); its next_after. */
static const char *
s_page(enum report rep, struct table *t, const QueryReply *r, struct s_org_counts *oc)
{
	switch (rep) {
	case R_AUDIT:
		if (!t->n)
			s_audit_heads(t);
		s_audit_rows(t, r->meetings_audit);
		return r->meetings_audit->next_after;
	case R_INACTIVE:
		if (!t->n)
			s_inactive_heads(t);
		s_inactive_rows(t, r->inactive_members);
		return r->inactive_members->next_after;
	case R_REVIEWS:
		if (!t->n)
			s_reviews_heads(t);
		s_reviews_rows(t, r->certificate_reviews);
		return r->certificate_reviews->next_after;
	case R_ARREARS:
		if (!t->n)
			s_arrears_heads(t);
		s_arrears_rows(t, r->dues_arrears, oc);
		return r->dues_arrears->next_after;
	case R_FUNDS:
		if (!t->n)
			s_funds_heads(t);
		s_funds_rows(t, r->activity_funds);
		return r->activity_funds->next_after;
	}
	return "";
}

/* Does r carry the result a report asks for? */
static bool
s_result_ok(enum report rep, const QueryReply *r)
{
	static const int want[] = {
		[R_AUDIT] = JICENG__V1__QUERY_REPLY__RESULT_MEETINGS_AUDIT,
		[R_INACTIVE] = JICENG__V1__QUERY_REPLY__RESULT_INACTIVE_MEMBERS,
		[R_REVIEWS] = JICENG__V1__QUERY_REPLY__RESULT_CERTIFICATE_REVIEWS,
		[R_ARREARS] = JICENG__V1__QUERY_REPLY__RESULT_DUES_ARREARS,
		[R_FUNDS] = JICENG__V1__QUERY_REPLY__RESULT_ACTIVITY_FUNDS,
	};
	return (int)r->result_case == want[rep];
}

/* The title line, from the first page. */
static void
s_title(enum report rep, const struct s_opts *o, const QueryReply *r)
{
	const char *scope = o->org ? o->org : o->township ? o->township : "全县 county";
	const Jiceng__V1__MeetingsAuditReport *a = r->meetings_audit;
	char at[MONEY_TEXT_LEN];
	int y, m, d;

	printf("%s: %s", s_reports[rep].title, scope);
	switch (rep) {
	case R_AUDIT:
		printf(", %04d-%02d .. %04d-%02d\n", a->from_month / 100, a->from_month % 100,
		    a->to_month / 100, a->to_month % 100);
		break;
	case R_INACTIVE:
		printf(", 截至 up to %04d-%02d (%u个月 months; 预警 early warning %u)\n",
		    r->inactive_members->month / 100, r->inactive_members->month % 100,
		    r->inactive_members->inactive_months, r->inactive_members->warning_months);
		break;
	case R_REVIEWS:
		civil_cst_date(r->certificate_reviews->at, &y, &m, &d);
		snprintf(at, sizeof at, "%04d-%02d-%02d", y, m, d);
		printf(", %s\n", at);
		break;
	case R_ARREARS:
		printf(", 截至 up to %04d-%02d\n", r->dues_arrears->month / 100,
		    r->dues_arrears->month % 100);
		break;
	case R_FUNDS:
		printf(", %d, 标准 minimum %s 元 yuan\n", r->activity_funds->year,
		    money_text(r->activity_funds->min_per_member_fen, at));
		break;
	}
}

/* After the table: the audit's legend, the arrears by org, the funds'
 * total. */
static void
s_footer(enum report rep, const QueryReply *last, size_t rows, struct s_org_counts *oc)
{
	struct table t = { 0 };

	if (rows == 0)
		printf("（无 none）\n");
	if (rep == R_ARREARS && rows)
		s_org_counts_print(oc, last->dues_arrears);
	if (rep == R_AUDIT)
		printf("held/required; ! 未达要求 short of the rule; * 另有不足法定人数的会议未计入 "
		    "inquorate meetings not counted; - 本期不要求 not due\n");
	if (rep == R_FUNDS && last) {
		s_funds_heads(&t);
		s_funds_row(&t, last->activity_funds->total, "合计 total");
		printf("\n");
		s_table_print(&t);
		s_table_free(&t);
	}
}

/* Every page (one with --limit) of the report; returns the exit status. */
static int
s_run(enum report rep, struct s_opts *o, void *sock)
{
	struct table t = { 0 };
	struct s_org_counts oc = { 0 };
	struct s_parts parts;
	Query q = JICENG__V1__QUERY__INIT;
	QueryReply *r, *last = NULL;
	const char *next;
	int rc = CTL_EXIT_OK;

	for (bool first = true;; first = false) {
		s_build(rep, o, &q, &parts);
		if (!(r = ctl_query_call(CMD, sock, o->endpoint, &q, o->timeout_ms)))
			return CTL_EXIT_FAIL;
		if (o->json && !ctl_query_print_json(r))
			rc = CTL_EXIT_FAIL;
		if (r->status != JICENG__V1__QUERY_STATUS__OK || !s_result_ok(rep, r)) {
			if (!o->json)
				fprintf(stderr, "jicengctl report: %s: %s\n", r->code, r->reason);
			rc = r->status == JICENG__V1__QUERY_STATUS__OK ? CTL_EXIT_FAIL :
			    ctl_query_exit(r);
			jiceng__v1__query_reply__free_unpacked(r, NULL);
			break;
		}
		if (!o->json && first)
			s_title(rep, o, r);
		next = s_page(rep, &t, r, &oc);
		snprintf(o->after, sizeof o->after, "%s", next);
		if (last)
			jiceng__v1__query_reply__free_unpacked(last, NULL);
		last = r;
		if (!*o->after || o->limit)
			break;
	}
	if (!o->json && last && rc == CTL_EXIT_OK) {
		s_table_print(&t);
		s_footer(rep, last, t.ncols ? t.n / t.ncols - 2 : 0, &oc);
	}
	if (last)
		jiceng__v1__query_reply__free_unpacked(last, NULL);
	s_table_free(&t);
	free(oc.c);
	return rc;
}

int
ctl_report_main(int argc, char **argv)
{
	struct s_opts o = { .timeout_ms = 10000 };
	enum report rep = R_AUDIT;
	void *ctx = NULL, *sock = NULL;
	int rc;

	if ((rc = s_parse(argc, argv, &o, &rep)) >= 0)
		return rc;
	o.endpoint = ctl_endpoint(o.endpoint, "JICENG_QUERY", CTL_DEFAULT_QUERY);
	ctl_curve_from_env(&o.curve);
	rc = CTL_EXIT_FAIL;
	if ((ctx = zmq_ctx_new()) && (sock = ctl_dealer(ctx, o.endpoint, &o.curve)))
		rc = s_run(rep, &o, sock);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}
