/*
 * jicengctl watch: follow the mobile-member status stream (流动党员) with the
 * client recipe of query.proto, printing every change as one JSON line
 * (or a readable line with --table), never one twice, never with a hole:
 * subscribe, take a snapshot (its records are printed first), apply what
 * arrives after it, and fetch from the change log whatever a change's
 * prev_seq/prev_index or a heartbeat says was missed. A restart of jicengd
 * is ridden out: the sockets reconnect, a query that gets no answer is
 * asked again, and the heartbeat that follows the restart names what to
 * fetch. What it is doing (snapshot, catching up) goes to stderr.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "pbjson.h"

#define WATCH_QUERY_MS    5000        /* a query unanswered this long is asked again */
#define WATCH_PAGE        1000
#define WATCH_HEARTBEAT   "status/heartbeat"

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
	(void)sig;
	s_stop = 1;
}

struct s_watch {
	void *ctx, *query, *sub;
	const char *query_ep, *status_ep;
	struct ctl_curve curve;
	const char *township, *org;  /* the filter ("" none) */
	bool table, quiet;
	uint64_t seq;                /* the position P: every change we want up to */
	uint32_t index;              /* (seq, index) is printed */
	unsigned rid;                /* request_id counter */
	int more;                    /* catch-up: 1 more pages, 0 done, -1 pruned past P */
	uint64_t printed, fetched;
};

/* ---------------------------------------------------------- output */

static bool
s_after(uint64_t seq, uint32_t index, uint64_t pseq, uint32_t pindex)
{
	return seq > pseq || (seq == pseq && index > pindex);
}

static void
s_print(struct s_watch *w, const StatusChange *c)
{
	if (w->table) {
		printf("%llu:%u %-20s %-15s %-25s home %s%s%s%s%s\n",
		    (unsigned long long)c->seq, c->index, c->member_id,
		    protobuf_c_enum_descriptor_get_value(&jiceng__v1__mobility_state__descriptor,
		    c->state)->name,
		    protobuf_c_enum_descriptor_get_value(&jiceng__v1__transfer_state__descriptor,
		    c->transfer_state)->name, c->home_org_id,
		    c->host_org_id[0] ? " host " : "", c->host_org_id,
		    c->place_code[0] ? " place " : "", c->place_code);
	} else {
		char *json = pbjson_print(&c->base);
		if (json)
			puts(json);
		free(json);
	}
	w->printed++;
}

/* Apply c: print it when it lies after P, and move P to it. With a
 * township filter, a change whose member is neither of that township nor
 * hosted there any more takes the member away: it is printed with
 * leaves_filter set, which tells a replica to drop the member (catch-up
 * replies come with it set by the server, which also judges org filters). */
static void
s_apply(struct s_watch *w, StatusChange *c)
{
	if (!s_after(c->seq, c->index, w->seq, w->index))
		return;
	if (*w->township && strcmp(c->township_id, w->township) != 0 &&
	    strcmp(c->host_township_id, w->township) != 0)
		c->leaves_filter = true;
	s_print(w, c);
	w->seq = c->seq;
	w->index = c->index;
}

static void
s_note(const struct s_watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_note(const struct s_watch *w, const char *fmt, ...)
{
	va_list ap;
	if (w->quiet)
		return;
	fputs("jicengctl watch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------- queries */

/* Send q and hand each reply with its request_id to fn until fn returns
 * 1 (done) or -1 (failed). A reply that takes longer than WATCH_QUERY_MS
 * has the query asked again (jicengd may be restarting), until a stop.
 * Returns 0 done, -1 failed or stopped. */
static int
s_ask(struct s_watch *w, Query *q, int (*fn)(struct s_watch *w, QueryReply *r))
{
	char rid[48];
	snprintf(rid, sizeof rid, "watch-%d-%u", (int)getpid(), ++w->rid);
	q->request_id = rid;
	size_t len = jiceng__v1__query__get_packed_size(q);
	uint8_t *buf = malloc(len ? len : 1);
	int rc = -1;
	if (!buf)
		return -1;
	jiceng__v1__query__pack(q, buf);
	while (!s_stop) {
		if (zmq_send(w->query, buf, len, ZMQ_DONTWAIT) < 0 && zmq_errno() != EAGAIN)
			break;
		int64_t end = now_mono_ms() + WATCH_QUERY_MS;
		int done = 0;
		while (!done && !s_stop && now_mono_ms() < end) {
			zmq_pollitem_t it = { w->query, 0, ZMQ_POLLIN, 0 };
			void *reply;
			long n;
			if (zmq_poll(&it, 1, 200) <= 0 || (n = ctl_recv_last(w->query, &reply)) < 0)
				continue;
			QueryReply *r = jiceng__v1__query_reply__unpack(NULL, (size_t)n, reply);
			free(reply);
			if (r && strcmp(r->request_id, rid) == 0) {
				done = fn(w, r);
				end = now_mono_ms() + WATCH_QUERY_MS;   /* a snapshot's next page */
			}
			if (r)
				jiceng__v1__query_reply__free_unpacked(r, NULL);
		}
		if (done) {
			rc = done > 0 ? 0 : -1;
			break;
		}
		if (!s_stop)
			s_note(w, "no answer from %s within %d s; asking again", w->query_ep,
			    WATCH_QUERY_MS / 1000);
	}
	free(buf);
	q->request_id = NULL;
	return rc;
}

static int
s_snapshot_page(struct s_watch *w, QueryReply *r)
{
	if (r->status != JICENG__V1__QUERY_STATUS__OK || !r->status_page) {
		fprintf(stderr, "jicengctl watch: snapshot refused: %s %s\n", r->code, r->reason);
		return -1;
	}
	for (size_t i = 0; i < r->status_page->n_changes; i++)
		s_print(w, r->status_page->changes[i]);
	if (!r->status_page->last)
		return 0;
	w->seq = r->status_page->seq;
	w->index = UINT32_MAX;   /* every change of seqs up to the snapshot's */
	return 1;
}

static int
s_snapshot(struct s_watch *w)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__GetStatusSnapshot g = JICENG__V1__GET_STATUS_SNAPSHOT__INIT;
	uint64_t before = w->printed;
	g.township_id = (char *)w->township;
	g.org_id = (char *)w->org;
	g.page_size = WATCH_PAGE;
	q.query_case = JICENG__V1__QUERY__QUERY_GET_STATUS_SNAPSHOT;
	q.get_status_snapshot = &g;
	if (s_ask(w, &q, s_snapshot_page) < 0)
		return -1;
	s_note(w, "snapshot: %llu members at seq %llu", (unsigned long long)(w->printed - before),
	    (unsigned long long)w->seq);
	return 0;
}

/* One page of catch-up, w->more says what follows. */
static int
s_changes_page(struct s_watch *w, QueryReply *r)
{
	const Jiceng__V1__StatusPage *p = r->status_page;
	if (strcmp(r->code, "SNAPSHOT_REQUIRED") == 0) {
		w->more = -1;
		return 1;
	}
	if (r->status != JICENG__V1__QUERY_STATUS__OK || !p) {
		fprintf(stderr, "jicengctl watch: catch-up refused: %s %s\n", r->code, r->reason);
		return -1;
	}
	for (size_t i = 0; i < p->n_changes; i++) {
		s_apply(w, p->changes[i]);
		w->fetched++;
	}
	if (s_after(p->next_seq, p->next_index, w->seq, w->index)) {
		w->seq = p->next_seq;
		w->index = p->next_index;
	}
	w->more = p->more;
	return 1;
}

/* Fetch the changes after P, page by page; a log pruned past P means a
 * new snapshot. */
static int
s_fetch(struct s_watch *w)
{
	Query q = JICENG__V1__QUERY__INIT;
	Jiceng__V1__ListStatusChanges l = JICENG__V1__LIST_STATUS_CHANGES__INIT;
	uint64_t from = w->seq, before = w->fetched;
	l.township_id = (char *)w->township;
	l.org_id = (char *)w->org;
	l.limit = WATCH_PAGE;
	q.query_case = JICENG__V1__QUERY__QUERY_LIST_STATUS_CHANGES;
	q.list_status_changes = &l;
	do {
		l.after_seq = w->seq;
		l.after_index = w->index;
		if (s_ask(w, &q, s_changes_page) < 0)
			return -1;
		if (w->more < 0) {
			s_note(w, "the change log no longer reaches back to seq %llu: taking a snapshot",
			    (unsigned long long)w->seq);
			return s_snapshot(w);
		}
	} while (w->more);
	if (w->fetched > before)
		s_note(w, "caught up: %llu changes after seq %llu", (unsigned long long)(w->fetched - before),
		    (unsigned long long)from);
	return 0;
}

/* ---------------------------------------------------------- the stream */

static int
s_handle(struct s_watch *w, zmq_msg_t *topic, zmq_msg_t *body)
{
	size_t tl = zmq_msg_size(topic);
	if (tl == strlen(WATCH_HEARTBEAT) && memcmp(zmq_msg_data(topic), WATCH_HEARTBEAT, tl) == 0) {
		Jiceng__V1__StatusHeartbeat *hb = jiceng__v1__status_heartbeat__unpack(NULL,
		    zmq_msg_size(body), zmq_msg_data(body));
		int rc = 0;
		if (hb && s_after(hb->seq, hb->index, w->seq, w->index)) {
			s_note(w, "catching up to %llu:%u", (unsigned long long)hb->seq, hb->index);
			rc = s_fetch(w);
		}
		if (hb)
			jiceng__v1__status_heartbeat__free_unpacked(hb, NULL);
		return rc;
	}
	StatusChange *c = jiceng__v1__status_change__unpack(NULL, zmq_msg_size(body),
	    zmq_msg_data(body));
	int rc = 0;
	if (!c)
		return 0;   /* not ours to judge: skip it, the heartbeat repairs */
	if (s_after(c->seq, c->index, w->seq, w->index)) {
		/* Only the server knows an org's subtree: with --org every change
		 * is a prompt to fetch what concerns it. */
		if (*w->org || s_after(c->prev_seq, c->prev_index, w->seq, w->index))
			rc = s_fetch(w);
		if (rc == 0 && !*w->org)
			s_apply(w, c);
	}
	jiceng__v1__status_change__free_unpacked(c, NULL);
	return rc;
}

static int
s_follow(struct s_watch *w, int64_t end)
{
	while (!s_stop && (!end || now_mono_ms() < end)) {
		zmq_pollitem_t it = { w->sub, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t topic, body;
		if (zmq_poll(&it, 1, 200) <= 0)
			continue;
		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&topic, w->sub, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&topic) &&
		    zmq_msg_recv(&body, w->sub, 0) >= 0 && s_handle(w, &topic, &body) < 0) {
			zmq_msg_close(&topic);
			zmq_msg_close(&body);
			return -1;
		}
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
		fflush(stdout);
	}
	return 0;
}

/* ---------------------------------------------------------- main */

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "usage: jicengctl watch [--township T] [--org O] [--since SEQ[:INDEX]] [--table]\n"
	    "                       [--query EP] [--status EP] [--key FILE --server-key FILE]\n"
	    "                       [--duration S] [-q]\n"
	    "Follow the mobile-member status stream (流动党员): a snapshot, then every change,\n"
	    "one JSON line each (StatusChange, status.proto), never one twice, never with a\n"
	    "hole, across restarts of jicengd.\n"
	    "  --township T    one township's members and those its orgs host\n"
	    "  --org O         members whose home or host org is O or below it\n"
	    "  --since S[:I]   resume after change S:I (a position printed before) instead\n"
	    "                  of taking a snapshot; a log pruned past it means a snapshot\n"
	    "  --table         a readable line per change instead of JSON\n"
	    "  --query EP      query endpoint (default $JICENG_QUERY or " CTL_DEFAULT_QUERY ")\n"
	    "  --status EP     status endpoint (default $JICENG_STATUS or tcp://127.0.0.1:7401)\n"
	    "  -k, --key FILE, -s, --server-key FILE   CURVE keys\n"
	    "  --duration S    stop after S seconds (default: until SIGINT or SIGTERM)\n"
	    "  -q, --quiet     nothing on stderr but errors\n");
}

enum { OPT_TOWNSHIP = 256, OPT_ORG, OPT_SINCE, OPT_TABLE, OPT_QUERY, OPT_STATUS, OPT_DURATION };

static int
s_parse(struct s_watch *w, int argc, char **argv, unsigned long *duration, bool *since)
{
	static const struct option opts[] = {
		{ "township", required_argument, NULL, OPT_TOWNSHIP },
		{ "org", required_argument, NULL, OPT_ORG },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "table", no_argument, NULL, OPT_TABLE },
		{ "query", required_argument, NULL, OPT_QUERY },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "key", required_argument, NULL, 'k' },
		{ "server-key", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "k:s:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TOWNSHIP:
			if (!codec_township_valid(optarg))
				return ctl_usage_error("watch", "--township: a 12-digit code ending in 000");
			w->township = optarg;
			break;
		case OPT_ORG:
			if (!codec_id_valid(optarg))
				return ctl_usage_error("watch", "--org: not an org id");
			w->org = optarg;
			break;
		case OPT_SINCE:
			errno = 0;
			w->seq = strtoull(optarg, &end, 10);
			w->index = UINT32_MAX;   /* SEQ alone: after every change of SEQ */
			if (*end == ':')
				w->index = (uint32_t)strtoul(end + 1, &end, 10);
			if (errno || *end || end == optarg)
				return ctl_usage_error("watch", "--since: SEQ or SEQ:INDEX");
			*since = true;
			break;
		case OPT_TABLE: w->table = true; break;
		case OPT_QUERY: w->query_ep = optarg; break;
		case OPT_STATUS: w->status_ep = optarg; break;
		case OPT_DURATION:
			if (!ctl_parse_uint("watch", "duration", optarg, 1, 86400 * 365, duration))
				return CTL_EXIT_USAGE;
			break;
		case 'k': w->curve.key = optarg; break;
		case 's': w->curve.server_key = optarg; break;
		case 'q': w->quiet = true; break;
		case 'h': s_usage(stdout); return -1;
		default: return ctl_usage_error("watch", "unknown option");
		}
	}
	if (optind < argc)
		return ctl_usage_error("watch", "unexpected argument: %s", argv[optind]);
	return 0;
}

int
ctl_watch_main(int argc, char **argv)
{
	struct s_watch w = { .township = "", .org = "" };
	unsigned long duration = 0;
	bool since = false;
	int rc = s_parse(&w, argc, argv, &duration, &since);
	if (rc)
		return rc < 0 ? CTL_EXIT_OK : rc;
	w.query_ep = ctl_endpoint(w.query_ep, "JICENG_QUERY", CTL_DEFAULT_QUERY);
	w.status_ep = ctl_endpoint(w.status_ep, "JICENG_STATUS", "tcp://127.0.0.1:7401");
	ctl_curve_from_env(&w.curve);
	signal(SIGINT, s_on_signal);
	signal(SIGTERM, s_on_signal);
	w.ctx = zmq_ctx_new();
	if (!(w.query = ctl_socket(w.ctx, ZMQ_DEALER, w.query_ep, &w.curve)) ||
	    !(w.sub = ctl_socket(w.ctx, ZMQ_SUB, w.status_ep, &w.curve))) {
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	if (*w.township) {
		char topic[32];
		snprintf(topic, sizeof topic, "status/%s/", w.township);
		zmq_setsockopt(w.sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
		zmq_setsockopt(w.sub, ZMQ_SUBSCRIBE, WATCH_HEARTBEAT, strlen(WATCH_HEARTBEAT));
	} else {
		zmq_setsockopt(w.sub, ZMQ_SUBSCRIBE, "status/", 7);
	}
	/* Subscribed before the snapshot: what arrives meanwhile waits in the
	 * socket and is applied after it. */
	int64_t end = duration ? now_mono_ms() + (int64_t)duration * 1000 : 0;
	rc = since ? s_fetch(&w) : s_snapshot(&w);
	fflush(stdout);
	rc = rc < 0 || s_follow(&w, end) < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	fflush(stdout);
	s_note(&w, "stopped at %llu:%u (resume with --since %llu:%u)", (unsigned long long)w.seq,
	    w.index, (unsigned long long)w.seq, w.index);
out:
	if (w.query)
		zmq_close(w.query);
	if (w.sub)
		zmq_close(w.sub);
	zmq_ctx_term(w.ctx);
	return s_stop && rc == CTL_EXIT_FAIL ? CTL_EXIT_OK : rc;
}
