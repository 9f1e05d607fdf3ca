/*
 * jicengctl query: one Query to jiceng-query, its QueryReply printed as
 * canonical JSON on one line. The exit status follows the reply's status
 * (OK 0, NOT_FOUND 3, anything else 1), so scripts can branch on it.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "pbjson.h"

/* The options a query kind may take (bits of s_query_opts.given). */
enum {
	Q_AFTER = 1 << 0,     /* --after */
	Q_LIMIT = 1 << 1,     /* --limit */
	Q_TOWNSHIP = 1 << 2,  /* --township */
	Q_SINCE = 1 << 3,     /* --since, --since-index */
	Q_SIDE = 1 << 4,      /* --member, --org */
	Q_STATE = 1 << 5,     /* --state */
	Q_MONTHS = 1 << 6,    /* --from, --to */
};

/* Each query kind: its word, how many ids follow it, the options it takes. */
static const struct {
	const char *word;
	int nargs;
	unsigned opts;
} s_kinds[] = {
	{ "org", 1, 0 },
	{ "member", 1, 0 },
	{ "members", 1, Q_AFTER | Q_LIMIT },
	{ "stats", 0, 0 },
	{ "audit", 0, Q_TOWNSHIP | Q_SINCE | Q_LIMIT },
	{ "transfer", 1, 0 },
	{ "transfers", 0, Q_SIDE | Q_TOWNSHIP | Q_AFTER | Q_LIMIT },
	{ "episode", 1, 0 },
	{ "episodes", 0, Q_SIDE | Q_TOWNSHIP | Q_STATE | Q_AFTER | Q_LIMIT },
	{ "budget", 1, 0 },
	{ "disbursement", 1, 0 },
	{ "payments", 0, Q_SIDE | Q_AFTER | Q_LIMIT },
	{ "dues", 0, Q_SIDE | Q_MONTHS | Q_LIMIT },
	{ "meeting", 1, 0 },
	{ "meetings", 0, Q_SIDE | Q_MONTHS | Q_AFTER | Q_LIMIT },
	{ "attendance", 0, Q_SIDE | Q_MONTHS },
};

#define S_NKINDS (sizeof s_kinds / sizeof s_kinds[0])

/* How a usage error names each option bit. */
static const struct {
	unsigned bit;
	const char *names;
	const char *verb;
} s_opt_names[] = {
	{ Q_AFTER, "--after", "goes" },
	{ Q_LIMIT, "--limit", "goes" },
	{ Q_TOWNSHIP, "--township", "goes" },
	{ Q_SINCE, "--since and --since-index", "go" },
	{ Q_SIDE, "--member and --org", "go" },
	{ Q_STATE, "--state", "goes" },
	{ Q_MONTHS, "--from and --to", "go" },
};

struct s_query_opts {
	const char *endpoint;
	unsigned timeout_ms;
	unsigned given;               /* Q_* bits of the options given */
	const char *after;
	unsigned long limit;
	const char *township;         /* audit, transfers, episodes */
	unsigned long since, since_index;
	const char *member, *org;     /* transfers, episodes */
	int state;                    /* episodes: a MobilityState, 0 for any */
	int from_month, to_month;     /* meetings, attendance: YYYYMM, 0 for no bound */
	struct ctl_curve curve;
};

/* Long options without a short form. */
enum { OPT_TOWNSHIP = 256, OPT_SINCE, OPT_SINCE_INDEX, OPT_MEMBER, OPT_ORG, OPT_STATE,
    OPT_FROM, OPT_TO };

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl query [OPTIONS] org ORG_ID\n"
	    "       jicengctl query [OPTIONS] member MEMBER_ID\n"
	    "       jicengctl query [OPTIONS] members ORG_ID [--after ID] [--limit N]\n"
	    "       jicengctl query [OPTIONS] stats\n"
	    "       jicengctl query [OPTIONS] audit [--township T] [--since SEQ]\n"
	    "                                 [--since-index N] [--limit N]\n"
	    "       jicengctl query [OPTIONS] transfer TRANSFER_ID\n"
	    "       jicengctl query [OPTIONS] transfers (--member M | --org O | --township T)\n"
	    "                                 [--after ID] [--limit N]\n"
	    "       jicengctl query [OPTIONS] episode FLOW_ID\n"
	    "       jicengctl query [OPTIONS] episodes (--member M | --org O | --township T)\n"
	    "                                 [--state S] [--after ID] [--limit N]\n"
	    "       jicengctl query [OPTIONS] budget BUDGET_ID\n"
	    "       jicengctl query [OPTIONS] disbursement DISBURSEMENT_ID\n"
	    "       jicengctl query [OPTIONS] payments (--member M | --org O)\n"
	    "                                 [--after ID] [--limit N]\n"
	    "       jicengctl query [OPTIONS] dues --member M [--from YYYYMM] [--to YYYYMM]\n"
	    "                                 [--limit N]\n"
	    "       jicengctl query [OPTIONS] meeting MEETING_ID\n"
	    "       jicengctl query [OPTIONS] meetings --org O [--from YYYYMM] [--to YYYYMM]\n"
	    "                                 [--after ID] [--limit N]\n"
	    "       jicengctl query [OPTIONS] attendance --member M [--from YYYYMM]\n"
	    "                                 [--to YYYYMM]\n"
	    "\n"
	    "Ask jiceng-query and print its reply as one line of JSON.\n"
	    "  org       an organisation and its children, each with its member\n"
	    "            counts: direct, and its whole subtree\n"
	    "  member    a member (ID number and phone masked)\n"
	    "  members   the members whose home org is ORG_ID, by member_id; page\n"
	    "            with --after the previous reply's nextAfter\n"
	    "  stats     journal length, worker lag, verdict counts\n"
	    "  audit     the audit table: findings no ack carried (O3 at the Tick\n"
	    "            that ends a branch's grace period, O4 when a rules change\n"
	    "            leaves an org over a member limit), by seq; page with\n"
	    "            --since and --since-index the previous reply's nextSeq\n"
	    "            and nextIndex\n"
	    "  transfer  an organisational-relationship transfer (组织关系转接)\n"
	    "  transfers by transfer_id: a member's every transfer, or the open ones\n"
	    "            (issued, or received and awaiting the receipt) where an org\n"
	    "            or a township is the sending or the receiving side; page\n"
	    "            with --after the previous reply's nextAfter\n"
	    "  episode   a mobile-member episode (流动党员)\n"
	    "  episodes  by flow_id: a member's every episode, or the open ones\n"
	    "            (AWAITING_REPORT, REPORTED, LOST_CONTACT) where an org or\n"
	    "            a township is the home or the host side; page as transfers\n"
	    "  budget    a budget (经费预算) with the ledger line of its township,\n"
	    "            kind and year: budget, disbursed, reversed, remaining (fen)\n"
	    "  disbursement  a disbursement (发放) with its reversal (冲销), if any\n"
	    "  payments  by disbursement_id: a member's or an org's payments,\n"
	    "            reversed ones included; page as transfers\n"
	    "  dues      a member's dues (党费), one entry per month paid, by month,\n"
	    "            in the months --from to --to; page with --from the\n"
	    "            previous reply's nextMonth\n"
	    "  meeting   a meeting record (三会一课 and the rest): its attendees and\n"
	    "            how each belongs (member, activity org, hosted mobile\n"
	    "            member), absentees, quorum marks (M2, M3), its appraisal\n"
	    "  meetings  an org's meetings by time, in the months --from to --to;\n"
	    "            page with --after the previous reply's nextAfter\n"
	    "  attendance  what a member attended, month by month (months with\n"
	    "            none are not listed), in the months --from to --to\n"
	    "\n"
	    "Options:\n"
	    "  -q, --query EP       query endpoint (default $JICENG_QUERY or\n"
	    "                       " CTL_DEFAULT_QUERY ")\n"
	    "  -t, --timeout MS     wait this long for the reply (default 5000)\n"
	    "  -a, --after ID       members, transfers, episodes, meetings: start after\n"
	    "                       this id; payments: after this disbursement_id\n"
	    "  -n, --limit N        members, audit, transfers, episodes, meetings: page\n"
	    "                       size (default 100, at most 1000); also payments, dues\n"
	    "      --township T     audit: that township's orgs only (12 digits; a\n"
	    "                       township key must give its own); transfers,\n"
	    "                       episodes: that township's open ones\n"
	    "      --member M       transfers, episodes: that member's, closed ones too;\n"
	    "                       attendance, payments, dues: that member's\n"
	    "      --org O          transfers, episodes: that org's open ones;\n"
	    "                       meetings, payments: that org's\n"
	    "      --state S        episodes: in state S only: AWAITING_REPORT,\n"
	    "                       REPORTED or LOST_CONTACT; with --member also\n"
	    "                       RETURNED or TRANSFERRED\n"
	    "      --from YYYYMM    meetings, attendance, dues: from this month (CST) on\n"
	    "      --to YYYYMM      meetings, attendance, dues: up to this month\n"
	    "      --since SEQ      audit: entries written at journal seq SEQ or later\n"
	    "      --since-index N  audit: and at SEQ itself, from entry number N on\n"
	    "  -k, --key FILE       CURVE: our secret key file (<name>.key_secret)\n"
	    "  -s, --server-key FILE  CURVE: the server's public key file\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "A township key reads its own township: a transfer or an episode one of\n"
	    "whose sides is in it, a list of a member or an org of it, or of itself,\n"
	    "a meeting of one of its orgs.\n"
	    "\n"
	    "Exit status: 0 OK, 3 NOT_FOUND, 1 any other status or no reply,\n"
	    "2 usage error.\n");
}

static const struct option s_options[] = {
	CTL_QUERY_LONGOPTS,
	{ "township", required_argument, NULL, OPT_TOWNSHIP },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "since-index", required_argument, NULL, OPT_SINCE_INDEX },
	{ "member", required_argument, NULL, OPT_MEMBER },
	{ "org", required_argument, NULL, OPT_ORG },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ NULL, 0, NULL, 0 },
};

/* --state: a MobilityState by name, any case; NOT_MOBILE is no state. */
static bool
s_parse_state(const char *name, int *out)
{
	char up[32];
	size_t i;
	const ProtobufCEnumValue *v;

	for (i = 0; name[i] && i < sizeof up - 1; i++)
		up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
	up[i] = '\0';
	v = name[i] ? NULL : protobuf_c_enum_descriptor_get_value_by_name(
	    &jiceng__v1__mobility_state__descriptor, up);
	if (!v || v->value == JICENG__V1__MOBILITY_STATE__NOT_MOBILE) {
		ctl_usage_error("query", "--state: '%s' is none of AWAITING_REPORT, "
		    "REPORTED, LOST_CONTACT, RETURNED, TRANSFERRED", name);
		return false;
	}
	*out = v->value;
	return true;
}

/* --from, --to: a month as YYYYMM (the server checks that it is real). */
static bool
s_parse_month(const char *opt, const char *value, int *out)
{
	unsigned long v;
	if (!ctl_parse_uint("query", opt, value, 190001, 999912, &v))
		return false;
	*out = (int)v;
	return true;
}

/* Returns -1 to go on, or an exit status. */
static int
s_options_parse(int argc, char **argv, struct s_query_opts *o)
{
	unsigned long v;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "q:t:a:n:k:s:h", s_options, NULL)) != -1) {
		switch (c) {
		case 'q': o->endpoint = optarg; break;
		case 'k': o->curve.key = optarg; break;
		case 's': o->curve.server_key = optarg; break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		case 't':
			if (!ctl_parse_uint("query", "timeout", optarg, 1, 3600000, &v))
				return CTL_EXIT_USAGE;
			o->timeout_ms = (unsigned)v;
			break;
		case 'a':
			o->after = optarg;
			o->given |= Q_AFTER;
			break;
		case 'n':
			if (!ctl_parse_uint("query", "limit", optarg, 1, 1000, &o->limit))
				return CTL_EXIT_USAGE;
			o->given |= Q_LIMIT;
			break;
		case OPT_TOWNSHIP:
			o->township = optarg;
			o->given |= Q_TOWNSHIP;
			break;
		case OPT_SINCE:
			if (!ctl_parse_uint("query", "since", optarg, 0, ULONG_MAX, &o->since))
				return CTL_EXIT_USAGE;
			o->given |= Q_SINCE;
			break;
		case OPT_SINCE_INDEX:
			if (!ctl_parse_uint("query", "since-index", optarg, 0, UINT32_MAX,
			    &o->since_index))
				return CTL_EXIT_USAGE;
			o->given |= Q_SINCE;
			break;
		case OPT_MEMBER:
			o->member = optarg;
			o->given |= Q_SIDE;
			break;
		case OPT_ORG:
			o->org = optarg;
			o->given |= Q_SIDE;
			break;
		case OPT_STATE:
			if (!s_parse_state(optarg, &o->state))
				return CTL_EXIT_USAGE;
			o->given |= Q_STATE;
			break;
		case OPT_FROM:
		case OPT_TO:
			if (!s_parse_month(c == OPT_FROM ? "from" : "to", optarg,
			    c == OPT_FROM ? &o->from_month : &o->to_month))
				return CTL_EXIT_USAGE;
			o->given |= Q_MONTHS;
			break;
		default:
			return ctl_usage_error("query", "bad option");
		}
	}
	return -1;
}

/* The usage error for an option (bit) given to a kind that does not take
 * it, naming those that do: "--after goes with members, transfers and
 * episodes". */
static int
s_option_misplaced(unsigned bit)
{
	char kinds[128] = "";
	size_t n = 0, m = 0, len = 0, i;
	const char *names = "", *verb = "";

	for (i = 0; i < sizeof s_opt_names / sizeof s_opt_names[0]; i++)
		if (s_opt_names[i].bit == bit) {
			names = s_opt_names[i].names;
			verb = s_opt_names[i].verb;
		}
	for (i = 0; i < S_NKINDS; i++)
		n += (s_kinds[i].opts & bit) != 0;
	for (i = 0; i < S_NKINDS && len < sizeof kinds; i++) {
		if (!(s_kinds[i].opts & bit))
			continue;
		len += (size_t)snprintf(kinds + len, sizeof kinds - len, "%s%s",
		    m == 0 ? "" : m + 1 == n ? " and " : ", ", s_kinds[i].word);
		m++;
	}
	return ctl_usage_error("query", "%s %s with %s", names, verb, kinds);
}

/* The sub-messages a Query may point to, on the caller's stack. */
struct s_query_parts {
	Jiceng__V1__GetOrg go;
	Jiceng__V1__GetMember gm;
	Jiceng__V1__ListMembers lm;
	Jiceng__V1__GetStats gs;
	Jiceng__V1__ListAudit la;
	Jiceng__V1__GetTransfer gt;
	Jiceng__V1__ListTransfers lt;
	Jiceng__V1__GetMobileEpisode ge;
	Jiceng__V1__ListMobileEpisodes le;
	Jiceng__V1__GetBudget gb;
	Jiceng__V1__GetDisbursement gd;
	Jiceng__V1__ListPayments lp;
	Jiceng__V1__ListDues ld;
	Jiceng__V1__GetMeeting gmt;
	Jiceng__V1__ListMeetings lmt;
	Jiceng__V1__GetAttendance ga;
};

/* transfers and episodes name exactly one of --member, --org, --township. */
static int
s_one_side(const char *kind, const struct s_query_opts *o)
{
	if ((o->member != NULL) + (o->org != NULL) + (o->township != NULL) == 1)
		return -1;
	return ctl_usage_error("query", "%s takes exactly one of --member, --org "
	    "and --township", kind);
}

/* The funds queries: false when kind is none of them, else true with *rc
 * -1 to go on or an exit status. */
static bool
s_build_funds(const char *kind, const char *id, const struct s_query_opts *o, Query *q,
    struct s_query_parts *p, int *rc)
{
	*rc = -1;
	if (strcmp(kind, "budget") == 0) {
		p->gb.budget_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_BUDGET;
		q->get_budget = &p->gb;
	} else if (strcmp(kind, "disbursement") == 0) {
		p->gd.disbursement_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_DISBURSEMENT;
		q->get_disbursement = &p->gd;
	} else if (strcmp(kind, "payments") == 0) {
		if ((o->member != NULL) + (o->org != NULL) != 1) {
			*rc = ctl_usage_error("query", "payments takes exactly one of --member "
			    "and --org");
			return true;
		}
		p->lp.member_id = o->member ? (char *)o->member : "";
		p->lp.org_id = o->org ? (char *)o->org : "";
		p->lp.after = o->after ? (char *)o->after : "";
		p->lp.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_PAYMENTS;
		q->list_payments = &p->lp;
	} else if (strcmp(kind, "dues") == 0) {
		if (!o->member || o->org) {
			*rc = ctl_usage_error("query", "dues takes --member (and no --org)");
			return true;
		}
		p->ld.member_id = (char *)o->member;
		p->ld.from_month = o->from_month;
		p->ld.to_month = o->to_month;
		p->ld.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_DUES;
		q->list_dues = &p->ld;
	} else {
		return false;
	}
	return true;
}

/* The meetings queries, as s_build_funds. */
static bool
s_build_meetings(const char *kind, const char *id, const struct s_query_opts *o,
    Query *q, struct s_query_parts *p, int *rc)
{
	*rc = -1;
	if (strcmp(kind, "meeting") == 0) {
		p->gmt.meeting_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_MEETING;
		q->get_meeting = &p->gmt;
	} else if (strcmp(kind, "meetings") == 0) {
		if (!o->org || o->member) {
			*rc = ctl_usage_error("query", "meetings takes --org (and no --member)");
			return true;
		}
		p->lmt.org_id = (char *)o->org;
		p->lmt.from_month = o->from_month;
		p->lmt.to_month = o->to_month;
		p->lmt.after = o->after ? (char *)o->after : "";
		p->lmt.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_MEETINGS;
		q->list_meetings = &p->lmt;
	} else if (strcmp(kind, "attendance") == 0) {
		if (!o->member || o->org) {
			*rc = ctl_usage_error("query", "attendance takes --member (and no --org)");
			return true;
		}
		p->ga.member_id = (char *)o->member;
		p->ga.from_month = o->from_month;
		p->ga.to_month = o->to_month;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_ATTENDANCE;
		q->get_attendance = &p->ga;
	} else {
		return false;
	}
	return true;
}

/* Fill q from the positional words; returns -1 to go on or an exit status.
 * The sub-messages point at p, and at argv and o's strings. */
static int
s_build(int argc, char **argv, const struct s_query_opts *o, Query *q,
    struct s_query_parts *p)
{
	const char *kind = optind < argc ? argv[optind] : NULL, *id;
	char *after = o->after ? (char *)o->after : "";
	size_t k;
	int rc;

	if (!kind)
		return ctl_usage_error("query", "expected org, member, members, stats, "
		    "audit, transfer, transfers, episode, episodes, budget, "
		    "disbursement, payments, dues, meeting, meetings or attendance");
	for (k = 0; k < S_NKINDS && strcmp(kind, s_kinds[k].word) != 0; k++)
		;
	if (k == S_NKINDS)
		return ctl_usage_error("query", "unknown query '%s'", kind);
	if (argc - optind != 1 + s_kinds[k].nargs)
		return ctl_usage_error("query", "%s takes %s", kind,
		    s_kinds[k].nargs ? "one ID" : "no argument");
	for (unsigned bit = 1; bit <= Q_MONTHS; bit <<= 1)
		if ((o->given & bit) && !(s_kinds[k].opts & bit))
			return s_option_misplaced(bit);
	id = s_kinds[k].nargs ? argv[optind + 1] : NULL;
	if (s_build_funds(kind, id, o, q, p, &rc))
		return rc;
	if (s_build_meetings(kind, id, o, q, p, &rc))
		return rc;
	if (strcmp(kind, "org") == 0) {
		p->go.org_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_ORG;
		q->get_org = &p->go;
	} else if (strcmp(kind, "member") == 0) {
		p->gm.member_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_MEMBER;
		q->get_member = &p->gm;
	} else if (strcmp(kind, "members") == 0) {
		p->lm.org_id = (char *)id;
		p->lm.after = after;
		p->lm.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_MEMBERS;
		q->list_members = &p->lm;
	} else if (strcmp(kind, "stats") == 0) {
		q->query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
		q->get_stats = &p->gs;
	} else if (strcmp(kind, "audit") == 0) {
		p->la.township_id = o->township ? (char *)o->township : "";
		p->la.since_seq = o->since;
		p->la.since_index = (uint32_t)o->since_index;
		p->la.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_AUDIT;
		q->list_audit = &p->la;
	} else if (strcmp(kind, "transfer") == 0) {
		p->gt.transfer_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_TRANSFER;
		q->get_transfer = &p->gt;
	} else if (strcmp(kind, "transfers") == 0) {
		if ((rc = s_one_side(kind, o)) >= 0)
			return rc;
		p->lt.member_id = o->member ? (char *)o->member : "";
		p->lt.org_id = o->org ? (char *)o->org : "";
		p->lt.township_id = o->township ? (char *)o->township : "";
		p->lt.after = after;
		p->lt.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_TRANSFERS;
		q->list_transfers = &p->lt;
	} else if (strcmp(kind, "episode") == 0) {
		p->ge.flow_id = (char *)id;
		q->query_case = JICENG__V1__QUERY__QUERY_GET_MOBILE_EPISODE;
		q->get_mobile_episode = &p->ge;
	} else {
		if ((rc = s_one_side(kind, o)) >= 0)
			return rc;
		p->le.member_id = o->member ? (char *)o->member : "";
		p->le.org_id = o->org ? (char *)o->org : "";
		p->le.township_id = o->township ? (char *)o->township : "";
		p->le.state = (Jiceng__V1__MobilityState)o->state;
		p->le.after = after;
		p->le.limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_MOBILE_EPISODES;
		q->list_mobile_episodes = &p->le;
	}
	return -1;
}

/* Wait for the reply carrying request_id. */
static QueryReply *
s_await(void *sock, const char *request_id, unsigned timeout_ms)
{
	int64_t deadline = now_mono_ms() + timeout_ms;
	zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
	void *buf;
	long n;

	for (int64_t now; (now = now_mono_ms()) < deadline;) {
		if (zmq_poll(&item, 1, (long)(deadline - now)) < 0 && errno != EINTR)
			break;
		while ((n = ctl_recv_last(sock, &buf)) >= 0) {
			QueryReply *r = jiceng__v1__query_reply__unpack(NULL, (size_t)n, buf);
			free(buf);
			if (r && strcmp(r->request_id, request_id) == 0)
				return r;
			if (r)
				jiceng__v1__query_reply__free_unpacked(r, NULL);
		}
	}
	return NULL;
}

QueryReply *
ctl_query_call(const char *cmd, void *sock, const char *endpoint, Query *q,
    unsigned timeout_ms)
{
	static unsigned sent;
	char request_id[64];
	QueryReply *r = NULL;
	uint8_t *buf;
	size_t len;

	snprintf(request_id, sizeof request_id, "ctl-%ld-%lld-%u", (long)getpid(),
	    (long long)now_mono_ms(), sent++);
	q->request_id = request_id;
	len = jiceng__v1__query__get_packed_size(q);
	if (!(buf = malloc(len ? len : 1))) {
		fprintf(stderr, "jicengctl %s: out of memory\n", cmd);
		goto out;
	}
	jiceng__v1__query__pack(q, buf);
	if (zmq_send(sock, buf, len, 0) < 0)
		fprintf(stderr, "jicengctl %s: send: %s\n", cmd, zmq_strerror(errno));
	else if (!(r = s_await(sock, request_id, timeout_ms)))
		fprintf(stderr, "jicengctl %s: no reply from %s within %u ms (is "
		    "jiceng-query running? off loopback, CURVE keys are needed: --key, "
		    "--server-key)\n", cmd, endpoint, timeout_ms);
	free(buf);
out:
	q->request_id = (char *)protobuf_c_empty_string;
	return r;
}

int
ctl_query_exit(const QueryReply *r)
{
	if (!r)
		return CTL_EXIT_FAIL;
	return r->status == JICENG__V1__QUERY_STATUS__OK ? CTL_EXIT_OK :
	    r->status == JICENG__V1__QUERY_STATUS__NOT_FOUND ? CTL_EXIT_NOT_FOUND : CTL_EXIT_FAIL;
}

bool
ctl_query_print_json(const QueryReply *r)
{
	char *text = pbjson_print(&r->base);
	if (text)
		puts(text);
	free(text);
	return text != NULL;
}

int
ctl_query_main(int argc, char **argv)
{
	struct s_query_opts o = { .timeout_ms = 5000 };
	Query q = JICENG__V1__QUERY__INIT;
	struct s_query_parts p = {
		JICENG__V1__GET_ORG__INIT, JICENG__V1__GET_MEMBER__INIT,
		JICENG__V1__LIST_MEMBERS__INIT, JICENG__V1__GET_STATS__INIT,
		JICENG__V1__LIST_AUDIT__INIT, JICENG__V1__GET_TRANSFER__INIT,
		JICENG__V1__LIST_TRANSFERS__INIT, JICENG__V1__GET_MOBILE_EPISODE__INIT,
		JICENG__V1__LIST_MOBILE_EPISODES__INIT,
		JICENG__V1__GET_BUDGET__INIT, JICENG__V1__GET_DISBURSEMENT__INIT,
		JICENG__V1__LIST_PAYMENTS__INIT, JICENG__V1__LIST_DUES__INIT,
		JICENG__V1__GET_MEETING__INIT, JICENG__V1__LIST_MEETINGS__INIT,
		JICENG__V1__GET_ATTENDANCE__INIT,
	};
	void *ctx = NULL, *sock = NULL;
	QueryReply *r;
	int rc;

	if ((rc = s_options_parse(argc, argv, &o)) >= 0 ||
	    (rc = s_build(argc, argv, &o, &q, &p)) >= 0)
		return rc;
	rc = CTL_EXIT_FAIL;
	o.endpoint = ctl_endpoint(o.endpoint, "JICENG_QUERY", CTL_DEFAULT_QUERY);
	ctl_curve_from_env(&o.curve);
	if (!(ctx = zmq_ctx_new()) || !(sock = ctl_dealer(ctx, o.endpoint, &o.curve)))
		goto out;
	if ((r = ctl_query_call("query", sock, o.endpoint, &q, o.timeout_ms))) {
		rc = ctl_query_print_json(r) ? ctl_query_exit(r) : CTL_EXIT_FAIL;
		jiceng__v1__query_reply__free_unpacked(r, NULL);
	}
out:
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}
