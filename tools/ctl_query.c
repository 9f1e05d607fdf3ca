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

struct s_query_opts {
	const char *endpoint;
	unsigned timeout_ms;
	const char *after;
	unsigned long limit;
	bool has_limit;
	const char *township;         /* audit */
	unsigned long since, since_index;
	bool has_audit_opt;           /* --township, --since or --since-index */
	struct ctl_curve curve;
};

/* Long options without a short form. */
enum { OPT_TOWNSHIP = 256, OPT_SINCE, OPT_SINCE_INDEX };

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
	    "\n"
	    "Ask jiceng-query and print its reply as one line of JSON.\n"
	    "  org      an organisation and its children, each with its member\n"
	    "           counts: direct, and its whole subtree\n"
	    "  member   a member (ID number and phone masked)\n"
	    "  members  the members whose home org is ORG_ID, by member_id; page\n"
	    "           with --after the previous reply's nextAfter\n"
	    "  stats    journal length, worker lag, verdict counts\n"
	    "  audit    the audit table: findings no ack carried (O3 at the Tick\n"
	    "           that ends a branch's grace period, O4 when a rules change\n"
	    "           leaves an org over a member limit), by seq; page with\n"
	    "           --since and --since-index the previous reply's nextSeq\n"
	    "           and nextIndex\n"
	    "\n"
	    "Options:\n"
	    "  -q, --query EP       query endpoint (default $JICENG_QUERY or\n"
	    "                       " CTL_DEFAULT_QUERY ")\n"
	    "  -t, --timeout MS     wait this long for the reply (default 5000)\n"
	    "  -a, --after ID       members: start after this member_id\n"
	    "  -n, --limit N        members, audit: page size (default 100, at most 1000)\n"
	    "      --township T     audit: that township's orgs only (12 digits; a\n"
	    "                       township key must give its own)\n"
	    "      --since SEQ      audit: entries written at journal seq SEQ or later\n"
	    "      --since-index N  audit: and at SEQ itself, from entry number N on\n"
	    "  -k, --key FILE       CURVE: our secret key file (<name>.key_secret)\n"
	    "  -s, --server-key FILE  CURVE: the server's public key file\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 OK, 3 NOT_FOUND, 1 any other status or no reply,\n"
	    "2 usage error.\n");
}

static const struct option s_options[] = {
	{ "query", required_argument, NULL, 'q' },
	{ "timeout", required_argument, NULL, 't' },
	{ "after", required_argument, NULL, 'a' },
	{ "limit", required_argument, NULL, 'n' },
	{ "township", required_argument, NULL, OPT_TOWNSHIP },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "since-index", required_argument, NULL, OPT_SINCE_INDEX },
	{ "key", required_argument, NULL, 'k' },
	{ "server-key", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

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
		case 'a': o->after = optarg; break;
		case 'k': o->curve.key = optarg; break;
		case 's': o->curve.server_key = optarg; break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		case 't':
			if (!ctl_parse_uint("query", "timeout", optarg, 1, 3600000, &v))
				return CTL_EXIT_USAGE;
			o->timeout_ms = (unsigned)v;
			break;
		case 'n':
			if (!ctl_parse_uint("query", "limit", optarg, 1, 1000, &o->limit))
				return CTL_EXIT_USAGE;
			o->has_limit = true;
			break;
		case OPT_TOWNSHIP:
			o->township = optarg;
			o->has_audit_opt = true;
			break;
		case OPT_SINCE:
			if (!ctl_parse_uint("query", "since", optarg, 0, ULONG_MAX, &o->since))
				return CTL_EXIT_USAGE;
			o->has_audit_opt = true;
			break;
		case OPT_SINCE_INDEX:
			if (!ctl_parse_uint("query", "since-index", optarg, 0, UINT32_MAX,
			    &o->since_index))
				return CTL_EXIT_USAGE;
			o->has_audit_opt = true;
			break;
		default:
			return ctl_usage_error("query", "bad option");
		}
	}
	return -1;
}

/* Fill q from the positional words; returns -1 to go on or an exit status.
 * The sub-messages point at stack storage provided by the caller. */
static int
s_build(int argc, char **argv, const struct s_query_opts *o, Query *q,
    Jiceng__V1__GetOrg *go, Jiceng__V1__GetMember *gm,
    Jiceng__V1__ListMembers *lm, Jiceng__V1__GetStats *gs,
    Jiceng__V1__ListAudit *la)
{
	const char *kind = optind < argc ? argv[optind] : NULL;
	bool members = kind && strcmp(kind, "members") == 0;
	bool audit = kind && strcmp(kind, "audit") == 0;
	int want = kind && (strcmp(kind, "stats") == 0 || audit) ? 1 : 2;

	if (!kind)
		return ctl_usage_error("query", "expected org, member, members, stats or audit");
	if (argc - optind != want)
		return ctl_usage_error("query", "%s takes %s", kind,
		    want == 1 ? "no argument" : "one ID");
	if (o->after && !members)
		return ctl_usage_error("query", "--after goes with members");
	if (o->has_limit && !members && !audit)
		return ctl_usage_error("query", "--limit goes with members or audit");
	if (o->has_audit_opt && !audit)
		return ctl_usage_error("query", "--township, --since and --since-index go with audit");
	if (strcmp(kind, "org") == 0) {
		go->org_id = argv[optind + 1];
		q->query_case = JICENG__V1__QUERY__QUERY_GET_ORG;
		q->get_org = go;
	} else if (strcmp(kind, "member") == 0) {
		gm->member_id = argv[optind + 1];
		q->query_case = JICENG__V1__QUERY__QUERY_GET_MEMBER;
		q->get_member = gm;
	} else if (strcmp(kind, "members") == 0) {
		lm->org_id = argv[optind + 1];
		lm->after = o->after ? (char *)o->after : "";
		lm->limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_MEMBERS;
		q->list_members = lm;
	} else if (strcmp(kind, "stats") == 0) {
		q->query_case = JICENG__V1__QUERY__QUERY_GET_STATS;
		q->get_stats = gs;
	} else if (audit) {
		la->township_id = o->township ? (char *)o->township : "";
		la->since_seq = o->since;
		la->since_index = (uint32_t)o->since_index;
		la->limit = (uint32_t)o->limit;
		q->query_case = JICENG__V1__QUERY__QUERY_LIST_AUDIT;
		q->list_audit = la;
	} else {
		return ctl_usage_error("query", "unknown query '%s'", kind);
	}
	return -1;
}

/* Wait for the reply carrying request_id; print it. Returns the exit status. */
static int
s_await(void *sock, const char *request_id, const struct s_query_opts *o,
    const char *ep)
{
	int64_t deadline = now_mono_ms() + o->timeout_ms;
	zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
	void *buf;
	long n;

	for (int64_t now; (now = now_mono_ms()) < deadline;) {
		if (zmq_poll(&item, 1, (long)(deadline - now)) < 0 && errno != EINTR)
			break;
		while ((n = ctl_recv_last(sock, &buf)) >= 0) {
			QueryReply *r = jiceng__v1__query_reply__unpack(NULL, (size_t)n, buf);
			free(buf);
			if (!r || strcmp(r->request_id, request_id) != 0) {
				if (r)
					jiceng__v1__query_reply__free_unpacked(r, NULL);
				continue;
			}
			char *text = pbjson_print(&r->base);
			int rc = r->status == JICENG__V1__QUERY_STATUS__OK ? CTL_EXIT_OK :
			    r->status == JICENG__V1__QUERY_STATUS__NOT_FOUND ?
			    CTL_EXIT_NOT_FOUND : CTL_EXIT_FAIL;
			if (text)
				puts(text);
			free(text);
			jiceng__v1__query_reply__free_unpacked(r, NULL);
			return rc;
		}
	}
	fprintf(stderr, "jicengctl query: no reply from %s within %u ms (is "
	    "jiceng-query running? off loopback, CURVE keys are needed: --key, "
	    "--server-key)\n", ep, o->timeout_ms);
	return CTL_EXIT_FAIL;
}

int
ctl_query_main(int argc, char **argv)
{
	struct s_query_opts o = { .timeout_ms = 5000 };
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetOrg go = JICENG__V1__GET_ORG__INIT;
	Jiceng__V1__GetMember gm = JICENG__V1__GET_MEMBER__INIT;
	Jiceng__V1__ListMembers lm = JICENG__V1__LIST_MEMBERS__INIT;
	Jiceng__V1__GetStats gs = JICENG__V1__GET_STATS__INIT;
	Jiceng__V1__ListAudit la = JICENG__V1__LIST_AUDIT__INIT;
	char request_id[64];
	void *ctx = NULL, *sock = NULL;
	uint8_t *buf = NULL;
	int rc;

	if ((rc = s_options_parse(argc, argv, &o)) >= 0 ||
	    (rc = s_build(argc, argv, &o, &q, &go, &gm, &lm, &gs, &la)) >= 0)
		return rc;
	rc = CTL_EXIT_FAIL;
	o.endpoint = ctl_endpoint(o.endpoint, "JICENG_QUERY", CTL_DEFAULT_QUERY);
	ctl_curve_from_env(&o.curve);
	snprintf(request_id, sizeof request_id, "ctl-%ld-%lld", (long)getpid(),
	    (long long)now_mono_ms());
	q.request_id = request_id;
	size_t len = jiceng__v1__query__get_packed_size(&q);
	if (!(buf = malloc(len ? len : 1)))
		goto out;
	jiceng__v1__query__pack(&q, buf);
	if (!(ctx = zmq_ctx_new()) || !(sock = ctl_dealer(ctx, o.endpoint, &o.curve)))
		goto out;
	if (zmq_send(sock, buf, len, 0) < 0) {
		fprintf(stderr, "jicengctl query: send: %s\n", zmq_strerror(errno));
		goto out;
	}
	rc = s_await(sock, request_id, &o, o.endpoint);
out:
	free(buf);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}
