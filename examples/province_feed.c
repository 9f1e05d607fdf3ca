/*
 * jiceng-province-feed: an example consumer of a county's JetStream stream,
 * as a province would run one per county (README, "Province feed"). It
 * reads the stream in order through an ordered (ephemeral) consumer, with
 * a subject filter, and prints one JSON line per message:
 *
 *   --county PREFIX   the county's subject prefix ([mirror] subject_prefix,
 *                     e.g. jiceng.411523; default jiceng.county). A
 *                     wildcard token takes several counties whose streams
 *                     are sourced into one (jiceng.*).
 *   --township T      only township T: its records (PREFIX.ev.T.>), or with
 *                     --status-only its members' status changes
 *                     (PREFIX.status.T)
 *   --status-only     only status changes (PREFIX.status.>)
 *   --from-seq N      start at stream sequence N (each line carries its
 *                     stream_seq: resume from the last one printed + 1)
 *   --servers URLS    nats:// URLs, comma-separated (default
 *                     nats://127.0.0.1:4222); --creds FILE for credentials
 *   --stream NAME     the stream (default JICENG)
 *   --max N, --idle-ms MS   stop after N messages, or after MS without one
 *                     (default: run until interrupted)
 *
 * Records print their journal seq, township, event kind and id, and the
 * verdict; status changes print the member's new state (status.proto).
 * Built on libnats and the generated protobuf-c code only, as a province's
 * own program would be.
 */
#include <getopt.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jiceng/v1/envelope.pb-c.h"
#include "jiceng/v1/mirror.pb-c.h"
#include "jiceng/v1/status.pb-c.h"

struct opts {
	const char *servers, *stream, *county, *township, *creds;
	bool status_only;
	uint64_t from_seq, max;
	long idle_ms;
};

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
	(void)sig;
	s_stop = 1;
}

/* ---------------------------------------------------------- output */

/* A JSON string: quotes, backslashes and control bytes escaped, UTF-8 kept. */
static void
s_json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static const char *
s_enum(const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	return ev ? ev->name : "UNKNOWN";
}

/* The township id as one subject token (the mirror's scheme):
 * [A-Za-z0-9_-] kept, any other byte ~XX. */
static void
s_token(const char *id, char *out, size_t len)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)id; *p && o + 4 < len; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == '-')
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, len - o, "~%02X", *p);
	}
	out[o] = 0;
}

/* The event id from a journal record: received_at (8), kind (4), township
 * length (1), township, NUL, then the packed Envelope. */
static char *
s_event_id(const ProtobufCBinaryData *rec)
{
	if (rec->len < 13 || rec->len < 13 + (size_t)rec->data[12] + 1)
		return NULL;
	size_t off = 13 + (size_t)rec->data[12] + 1;
	Jiceng__V1__Envelope *e = jiceng__v1__envelope__unpack(NULL, rec->len - off, rec->data + off);
	char *id = e ? strdup(e->event_id) : NULL;
	if (e)
		jiceng__v1__envelope__free_unpacked(e, NULL);
	return id;
}

static void
s_print_record(uint64_t sseq, const char *subject, const natsMsg *m)
{
	Jiceng__V1__MirroredRecord *r = jiceng__v1__mirrored_record__unpack(NULL,
	    (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
	if (!r) {
		fprintf(stderr, "province-feed: stream sequence %llu: not a MirroredRecord\n",
		    (unsigned long long)sseq);
		return;
	}
	char *id = s_event_id(&r->record);
	const char *kind = strrchr(subject, '.');
	printf("{\"stream_seq\":%llu,\"type\":\"record\",\"seq\":%llu,\"township_id\":",
	    (unsigned long long)sseq, (unsigned long long)r->seq);
	s_json_str(r->township_id);
	printf(",\"kind\":");
	s_json_str(kind ? kind + 1 : "");
	printf(",\"event_id\":");
	s_json_str(id ? id : "");
	printf(",\"verdict\":");
	s_json_str(s_enum(&jiceng__v1__verdict__descriptor, (int)r->verdict));
	printf(",\"code\":");
	s_json_str(r->verdict_code);
	printf(",\"reason\":");
	s_json_str(r->reason);
	printf(",\"quarantine\":");
	s_json_str(r->quarantine);
	printf(",\"received_at\":%lld}\n", (long long)r->received_at);
	free(id);
	jiceng__v1__mirrored_record__free_unpacked(r, NULL);
}

static void
s_print_status(uint64_t sseq, const natsMsg *m)
{
	Jiceng__V1__StatusChange *c = jiceng__v1__status_change__unpack(NULL,
	    (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
	if (!c) {
		fprintf(stderr, "province-feed: stream sequence %llu: not a StatusChange\n",
		    (unsigned long long)sseq);
		return;
	}
	printf("{\"stream_seq\":%llu,\"type\":\"status\",\"seq\":%llu,\"index\":%u,\"member_id\":",
	    (unsigned long long)sseq, (unsigned long long)c->seq, c->index);
	s_json_str(c->member_id);
	printf(",\"township_id\":");
	s_json_str(c->township_id);
	printf(",\"state\":");
	s_json_str(s_enum(&jiceng__v1__mobility_state__descriptor, c->state));
	printf(",\"previous_state\":");
	s_json_str(s_enum(&jiceng__v1__mobility_state__descriptor, c->previous_state));
	printf(",\"transfer_state\":");
	s_json_str(s_enum(&jiceng__v1__transfer_state__descriptor, c->transfer_state));
	printf(",\"home_org_id\":");
	s_json_str(c->home_org_id);
	printf(",\"host_org_id\":");
	s_json_str(c->host_org_id);
	printf(",\"changed_at\":%lld}\n", (long long)c->changed_at);
	jiceng__v1__status_change__free_unpacked(c, NULL);
}

/* ---------------------------------------------------------- consuming */

static natsStatus
s_connect(const struct opts *o, natsConnection **nc)
{
	char list[1024], *save = NULL;
	const char *servers[16];
	int n = 0;
	natsOptions *no;
	natsStatus s = natsOptions_Create(&no);
	if (s != NATS_OK)
		return s;
	snprintf(list, sizeof list, "%s", o->servers);
	for (char *t = strtok_r(list, ", ", &save); t && n < 16; t = strtok_r(NULL, ", ", &save))
		servers[n++] = t;
	s = natsOptions_SetServers(no, servers, n);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(no, -1);
	if (s == NATS_OK && o->creds)
		s = natsOptions_SetUserCredentialsFromFiles(no, o->creds, NULL);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, no);
	natsOptions_Destroy(no);
	return s;
}

static int
s_consume(const struct opts *o, jsCtx *js, const char *filter)
{
	jsSubOptions so;
	natsSubscription *sub = NULL;
	jsErrCode je = 0;
	uint64_t seen = 0;
	jsSubOptions_Init(&so);
	so.Stream = o->stream;
	so.Ordered = true;
	if (o->from_seq) {
		so.Config.DeliverPolicy = js_DeliverByStartSequence;
		so.Config.OptStartSeq = o->from_seq;
	}
	natsStatus s = js_SubscribeSync(&sub, js, filter, NULL, &so, &je);
	if (s != NATS_OK) {
		fprintf(stderr, "province-feed: cannot consume %s from stream %s: %s\n", filter,
		    o->stream, natsStatus_GetText(s));
		return 1;
	}
	while (!s_stop && (!o->max || seen < o->max)) {
		natsMsg *m = NULL;
		jsMsgMetaData *meta = NULL;
		s = natsSubscription_NextMsg(&m, sub, o->idle_ms > 0 ? o->idle_ms : 1000);
		if (s == NATS_TIMEOUT) {
			if (o->idle_ms > 0)
				break;
			continue;
		}
		if (s != NATS_OK)
			break;
		uint64_t sseq = natsMsg_GetMetaData(&meta, m) == NATS_OK ? meta->Sequence.Stream : 0;
		const char *subject = natsMsg_GetSubject(m);
		if (strstr(subject, ".status."))
			s_print_status(sseq, m);
		else
			s_print_record(sseq, subject, m);
		fflush(stdout);
		jsMsgMetaData_Destroy(meta);
		natsMsg_Destroy(m);
		seen++;
	}
	natsSubscription_Destroy(sub);
	return s == NATS_OK || s == NATS_TIMEOUT ? 0 : 1;
}

static void
s_usage(void)
{
	fprintf(stderr, "usage: jiceng-province-feed [--servers URLS] [--stream NAME] [--county PREFIX]\n"
	    "                            [--township T] [--status-only] [--from-seq N]\n"
	    "                            [--max N] [--idle-ms MS] [--creds FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "servers", required_argument, NULL, 's' }, { "stream", required_argument, NULL, 'n' },
		{ "county", required_argument, NULL, 'c' }, { "township", required_argument, NULL, 't' },
		{ "status-only", no_argument, NULL, 'o' }, { "from-seq", required_argument, NULL, 'f' },
		{ "max", required_argument, NULL, 'm' }, { "idle-ms", required_argument, NULL, 'i' },
		{ "creds", required_argument, NULL, 'C' }, { NULL, 0, NULL, 0 },
	};
	struct opts o = { "nats://127.0.0.1:4222", "JICENG", "jiceng.county", NULL, NULL, false, 0, 0, 0 };
	char filter[512], token[256];
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.servers = optarg; break;
		case 'n': o.stream = optarg; break;
		case 'c': o.county = optarg; break;
		case 't': o.township = optarg; break;
		case 'o': o.status_only = true; break;
		case 'f': o.from_seq = strtoull(optarg, NULL, 10); break;
		case 'm': o.max = strtoull(optarg, NULL, 10); break;
		case 'i': o.idle_ms = strtol(optarg, NULL, 10); break;
		case 'C': o.creds = optarg; break;
		default: s_usage();
		}
	}
	if (optind != argc)
		s_usage();
	if (o.township)
		s_token(o.township, token, sizeof token);
	if (o.status_only)
		snprintf(filter, sizeof filter, "%s.status.%s", o.county, o.township ? token : ">");
	else if (o.township)
		snprintf(filter, sizeof filter, "%s.ev.%s.>", o.county, token);
	else
		snprintf(filter, sizeof filter, "%s.>", o.county);
	signal(SIGINT, s_on_signal);
	signal(SIGTERM, s_on_signal);
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	natsStatus s = s_connect(&o, &nc);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (s != NATS_OK) {
		fprintf(stderr, "province-feed: cannot connect to %s: %s\n", o.servers, natsStatus_GetText(s));
		return 1;
	}
	int rc = s_consume(&o, js, filter);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	return rc;
}
