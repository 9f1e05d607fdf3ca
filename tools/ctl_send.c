/*
 * jicengctl send: read envelopes as canonical JSON, one per line, and send
 * them to jicengd's ingest socket, pipelined, printing one ack per event.
 *
 * Owns the resend policy of a township client done right: an event without
 * an ack within --timeout is resent with the same bytes (so the broker
 * answers DUPLICATE, never applies twice) up to --retries times; a
 * RETRY_LATER answer is resent after a backoff, and no new line is sent
 * while any event is backing off, so order is kept as far as the window
 * allows (use --window 1 for strict order). Acks are matched by event_id;
 * two lines with the same event_id are never in flight together. The
 * broker refuses an envelope that fails its checks (codec_envelope_decode)
 * before it has read the event_id, so that ack carries none: each event is
 * run through the same checks before sending, and an ack without an id is
 * matched to the oldest event in flight expected to fail with its code.
 *
 * Input is read with read(2) into a line buffer, never a blocking stdio
 * call, so acks and resends go on while a slow producer writes to stdin.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "pbjson.h"

#define SEND_WINDOW_MAX   4096
#define SEND_LINE_MAX     (1u << 20)  /* longest input line */
#define SEND_BACKOFF_MS   100         /* first RETRY_LATER wait, doubled ... */
#define SEND_BACKOFF_MAX  5000        /* ... up to this */
#define SEND_LATER_FACTOR 10          /* RETRY_LATERs allowed per --retries */

/* One event in flight (or backing off). */
struct s_slot {
	bool used;
	bool backoff;       /* waiting after RETRY_LATER: not in flight */
	unsigned line;      /* input line number */
	char *event_id;
	char *check_code;   /* the code codec_envelope_decode refuses it
	                       with (acks carry no event_id then), or NULL */
	uint8_t *buf;       /* the packed Envelope, resent as is */
	size_t len;
	unsigned sends;     /* times sent */
	unsigned later;     /* RETRY_LATER answers */
	int64_t deadline;   /* resend (or give up) at this time */
};

struct s_send {
	void *sock;
	int fd;                    /* input */
	bool eof;                  /* input fully read */
	bool skipping;             /* discarding the rest of an over-long line */
	char *lb;                  /* input not yet split into lines */
	size_t lb_len, lb_cap;
	unsigned lineno;           /* lines taken from lb */
	struct s_slot *slots;      /* window entries */
	unsigned window;
	unsigned used;             /* slots in use */
	struct s_slot held;        /* next event, its event_id still in flight */
	unsigned timeout_ms, retries;
	unsigned long invalid, failed, acked;
};

/* ---------------------------------------------------------------- output */

static void
s_print_error(unsigned line, const char *event_id, const char *error)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "line", json_integer(line));
	if (event_id)
		json_object_set_new(o, "eventId", json_string(event_id));
	json_object_set_new(o, "error", json_string(error));
	if ((text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		puts(text);
		free(text);
	}
	json_decref(o);
}

static void
s_slot_clear(struct s_slot *s)
{
	free(s->event_id);
	free(s->check_code);
	free(s->buf);
	memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- input */

/* Read what is available into the line buffer (the fd was readable). */
static int
s_read_input(struct s_send *st)
{
	if (st->lb_cap - st->lb_len < 65536) {
		size_t cap = st->lb_cap ? st->lb_cap * 2 : 131072;
		char *p = realloc(st->lb, cap);
		if (!p)
			return -1;
		st->lb = p;
		st->lb_cap = cap;
	}
	ssize_t n = read(st->fd, st->lb + st->lb_len, st->lb_cap - st->lb_len - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		perror("jicengctl send: read");
		st->eof = true;
		return -1;
	}
	if (n == 0)
		st->eof = true;
	st->lb_len += (size_t)n;
	return 0;
}

/* Take the next complete line (the last one may lack its newline at EOF)
 * into *line, NUL-terminated, malloc'd. Returns 1, or 0 if none yet. */
static int
s_next_line(struct s_send *st, char **line, size_t *len)
{
	for (;;) {
		char *nl = st->lb_len ? memchr(st->lb, '\n', st->lb_len) : NULL;
		size_t n = nl ? (size_t)(nl - st->lb) : st->lb_len;
		if (!nl && !(st->eof && st->lb_len)) {
			if (n > SEND_LINE_MAX && !st->skipping) {
				s_print_error(++st->lineno, NULL, "line longer than 1 MiB");
				st->invalid++;
				st->skipping = true;
			}
			if (st->skipping)
				st->lb_len = 0;
			return 0;
		}
		size_t take = nl ? n + 1 : n;
		bool skipped = st->skipping;
		if (!skipped && !(*line = strndup(st->lb, n)))
			return 0;
		memmove(st->lb, st->lb + take, st->lb_len - take);
		st->lb_len -= take;
		st->skipping = false;
		if (skipped)
			continue;
		*len = n;
		st->lineno++;
		return 1;
	}
}

/* Turn one line into a slot; blank lines and bad JSON give 0. */
static int
s_prepare(struct s_send *st, const char *line, size_t len, struct s_slot *s)
{
	struct codec_error cerr;
	char err[320];
	Envelope *e;

	if (strspn(line, " \t\r") == len)
		return 0;
	e = (Envelope *)pbjson_parse(&jiceng__v1__envelope__descriptor, line, len,
	    err, sizeof err);
	if (!e) {
		s_print_error(st->lineno, NULL, err);
		st->invalid++;
		return 0;
	}
	s->line = st->lineno;
	s->len = jiceng__v1__envelope__get_packed_size(e);
	if (s->len > CODEC_MAX_FRAME) {
		snprintf(err, sizeof err, "OVERSIZE: the envelope packs to %zu bytes, over the "
		    "%u-byte limit; not sent", s->len, CODEC_MAX_FRAME);
		s_print_error(st->lineno, e->event_id, err);
		jiceng__v1__envelope__free_unpacked(e, NULL);
		st->invalid++;
		return 0;
	}
	s->buf = malloc(s->len ? s->len : 1);
	s->event_id = strdup(e->event_id);
	if (s->buf)
		jiceng__v1__envelope__pack(e, s->buf);
	jiceng__v1__envelope__free_unpacked(e, NULL);
	if (s->buf && !(e = codec_envelope_decode(s->buf, s->len, &cerr)))
		s->check_code = strdup(cerr.code);
	codec_envelope_free(e);
	if (!s->buf || !s->event_id) {
		s_print_error(st->lineno, NULL, "out of memory");
		st->invalid++;
		s_slot_clear(s);
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- window */

static struct s_slot *
s_find(struct s_send *st, const char *event_id)
{
	for (unsigned i = 0; i < st->window; i++)
		if (st->slots[i].used && strcmp(st->slots[i].event_id, event_id) == 0)
			return &st->slots[i];
	return NULL;
}

static bool
s_backing_off(const struct s_send *st)
{
	for (unsigned i = 0; i < st->window; i++)
		if (st->slots[i].used && st->slots[i].backoff)
			return true;
	return false;
}

/* Send (or resend) a slot's bytes and arm its timeout. A send that would
 * block counts as sent and lost: the timeout resends it. */
static void
s_transmit(struct s_send *st, struct s_slot *s)
{
	if (zmq_send(st->sock, s->buf, s->len, ZMQ_DONTWAIT) < 0 && errno != EAGAIN)
		fprintf(stderr, "jicengctl send: zmq_send: %s\n", zmq_strerror(errno));
	s->sends++;
	s->backoff = false;
	s->deadline = now_mono_ms() + st->timeout_ms;
}

/* Put the held event or new lines into free slots and send them. */
static void
s_fill(struct s_send *st)
{
	char *line;
	size_t len;

	while (st->used < st->window && !s_backing_off(st)) {
		if (!st->held.used) {
			if (!s_next_line(st, &line, &len))
				return;
			int ok = s_prepare(st, line, len, &st->held);
			free(line);
			if (!ok)
				continue;
			st->held.used = true;
		}
		if (s_find(st, st->held.event_id))
			return;
		unsigned i = 0;
		while (st->slots[i].used)
			i++;
		st->slots[i] = st->held;
		memset(&st->held, 0, sizeof st->held);
		st->used++;
		s_transmit(st, &st->slots[i]);
	}
}

/* ---------------------------------------------------------------- acks and timers */

/* The slot an ack without event_id answers: the oldest in flight expected
 * to be refused with the ack's code (or, failing that, with any code). */
static struct s_slot *
s_find_unnamed(struct s_send *st, const char *code)
{
	struct s_slot *same = NULL, *any = NULL;

	for (unsigned i = 0; i < st->window; i++) {
		struct s_slot *s = &st->slots[i];
		if (!s->used || s->backoff || !s->check_code)
			continue;
		if (strcmp(s->check_code, code) == 0 && (!same || s->line < same->line))
			same = s;
		if (!any || s->line < any->line)
			any = s;
	}
	return same ? same : any;
}

/* Match an ack to its slot; an unnamed ack matched to a slot gets the
 * slot's event_id so that the printed line says which event it answers. */
static struct s_slot *
s_match(struct s_send *st, Ack *a)
{
	struct s_slot *s = s_find(st, a->event_id);
	char *id;

	if (s || a->event_id[0])
		return s;
	if (!(s = s_find_unnamed(st, a->code))) {
		char *text = pbjson_print(&a->base);
		fprintf(stderr, "jicengctl send: an ack without event_id matches no "
		    "event: %s\n", text ? text : "?");
		free(text);
		return NULL;
	}
	/* unpack allocated the string with malloc (default allocator). */
	if ((id = strdup(s->event_id))) {
		if (a->event_id != protobuf_c_empty_string)
			free(a->event_id);
		a->event_id = id;
	}
	return s;
}

static void
s_finish(struct s_send *st, struct s_slot *s)
{
	s_slot_clear(s);
	st->used--;
}

static void
s_on_ack(struct s_send *st, const void *buf, size_t len)
{
	Ack *a = jiceng__v1__ack__unpack(NULL, len, buf);
	struct s_slot *s;
	char *text;

	if (!a) {
		fprintf(stderr, "jicengctl send: ignoring a reply that is not an Ack "
		    "(%zu bytes)\n", len);
		return;
	}
	/* No slot: a second answer to an event we resent; the first counted.
	 * A RETRY_LATER for a slot already backing off answers an older send
	 * and changes nothing; any other answer settles it. */
	s = s_match(st, a);
	if (s && a->verdict == JICENG__V1__VERDICT__RETRY_LATER && s->backoff)
		s = NULL;
	if (s) {
		if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER &&
		    s->later < st->retries * SEND_LATER_FACTOR) {
			unsigned shift = s->later < 6 ? s->later : 6;
			unsigned ms = SEND_BACKOFF_MS << shift;
			s->later++;
			s->backoff = true;
			s->deadline = now_mono_ms() +
			    (ms < SEND_BACKOFF_MAX ? ms : SEND_BACKOFF_MAX);
		} else {
			if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER)
				st->failed++;
			else
				st->acked++;
			if ((text = pbjson_print(&a->base))) {
				puts(text);
				free(text);
			}
			s_finish(st, s);
		}
	}
	jiceng__v1__ack__free_unpacked(a, NULL);
}

/* The due slot with the lowest line number, or NULL. */
static struct s_slot *
s_due(struct s_send *st, int64_t now)
{
	struct s_slot *best = NULL;

	for (unsigned i = 0; i < st->window; i++) {
		struct s_slot *s = &st->slots[i];
		if (s->used && s->deadline <= now && (!best || s->line < best->line))
			best = s;
	}
	return best;
}

/* Resend what timed out or finished backing off, in input order; give up
 * on what has used its retries. */
static void
s_on_timers(struct s_send *st)
{
	int64_t now = now_mono_ms();
	struct s_slot *s;
	char msg[128];

	while ((s = s_due(st, now))) {
		if (s->backoff) {
			s_transmit(st, s);
		} else if (s->sends > st->retries + s->later) {
			snprintf(msg, sizeof msg, "no ack within %u ms, sent %u times",
			    st->timeout_ms, s->sends);
			s_print_error(s->line, s->event_id, msg);
			st->failed++;
			s_finish(st, s);
		} else {
			s_transmit(st, s);
		}
	}
}

/* ---------------------------------------------------------------- loop */

/* Milliseconds until the next deadline, or -1 for none. */
static long
s_poll_timeout(const struct s_send *st)
{
	int64_t now = now_mono_ms(), next = -1;

	for (unsigned i = 0; i < st->window; i++)
		if (st->slots[i].used && (next < 0 || st->slots[i].deadline < next))
			next = st->slots[i].deadline;
	if (next < 0)
		return -1;
	return next > now ? (long)(next - now) : 0;
}

static int
s_run(struct s_send *st)
{
	void *buf;
	long n;

	for (;;) {
		s_fill(st);
		if (st->eof && st->lb_len == 0 && st->used == 0 && !st->held.used)
			return 0;
		/* Read only what s_fill can take next, so a long file is not
		 * slurped while the window is full or backing off. */
		bool want_input = !st->eof && !st->held.used &&
		    st->used < st->window && !s_backing_off(st) &&
		    !(st->lb_len && memchr(st->lb, '\n', st->lb_len));
		zmq_pollitem_t items[2] = {
			{ st->sock, 0, ZMQ_POLLIN, 0 },
			{ NULL, st->fd, want_input ? ZMQ_POLLIN : 0, 0 },
		};
		if (zmq_poll(items, 2, s_poll_timeout(st)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "jicengctl send: zmq_poll: %s\n", zmq_strerror(errno));
			return -1;
		}
		if (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
			if (s_read_input(st) < 0 && !st->eof)
				return -1;
		while ((n = ctl_recv_last(st->sock, &buf)) >= 0) {
			s_on_ack(st, buf, (size_t)n);
			free(buf);
		}
		s_on_timers(st);
		fflush(stdout);
	}
}

/* ---------------------------------------------------------------- options */

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl send [OPTIONS] FILE|-\n"
	    "\n"
	    "Send envelopes to jicengd. Each line of FILE (- for stdin) is one\n"
	    "Envelope in protobuf's canonical JSON, e.g.\n"
	    "  {\"eventId\":\"e1\",\"townshipId\":\"130102001000\",\"occurredAt\":\"1767225600000\",\n"
	    "   \"orgEstablished\":{\"orgId\":\"o1\",\"kind\":\"TOWNSHIP_COMMITTEE\",\"name\":\"...\"}}\n"
	    "Blank lines are skipped. One JSON Ack is printed per event, as acks\n"
	    "arrive; a line that does not parse prints {\"line\":N,\"error\":\"...\"},\n"
	    "an event given up on prints {\"line\":N,\"eventId\":\"...\",\"error\":\"...\"}.\n"
	    "\n"
	    "Options:\n"
	    "  -i, --ingest EP      ingest endpoint (default $JICENG_INGEST or\n"
	    "                       " CTL_DEFAULT_INGEST ")\n"
	    "  -w, --window N       events in flight without an ack (default 64;\n"
	    "                       1 keeps strict order through RETRY_LATER)\n"
	    "  -t, --timeout MS     resend an event not acked within MS (default 5000)\n"
	    "  -r, --retries N      resends after a timeout (default 5); RETRY_LATER\n"
	    "                       answers are resent after a backoff of 0.1-5 s,\n"
	    "                       up to 10*N times\n"
	    "  -k, --key FILE       CURVE: our secret key file (<name>.key_secret)\n"
	    "  -s, --server-key FILE  CURVE: the server's public key file\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Resends carry the same bytes and event_id: the broker answers DUPLICATE\n"
	    "for what it already has, so nothing is applied twice.\n"
	    "Exit status: 0 every event got an ack (whatever its verdict); 1 a line\n"
	    "was invalid, or an event got no ack or only RETRY_LATER; 2 usage error.\n");
}

static const struct option s_options[] = {
	{ "ingest", required_argument, NULL, 'i' },
	{ "window", required_argument, NULL, 'w' },
	{ "timeout", required_argument, NULL, 't' },
	{ "retries", required_argument, NULL, 'r' },
	{ "key", required_argument, NULL, 'k' },
	{ "server-key", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parse options into st, ep and cv; returns -1 when done (run), or an
 * exit status. */
static int
s_options_parse(int argc, char **argv, struct s_send *st, const char **ep,
    struct ctl_curve *cv)
{
	unsigned long v;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "i:w:t:r:k:s:h", s_options, NULL)) != -1) {
		switch (c) {
		case 'i': *ep = optarg; break;
		case 'k': cv->key = optarg; break;
		case 's': cv->server_key = optarg; break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		case 'w':
			if (!ctl_parse_uint("send", "window", optarg, 1, SEND_WINDOW_MAX, &v))
				return CTL_EXIT_USAGE;
			st->window = (unsigned)v;
			break;
		case 't':
			if (!ctl_parse_uint("send", "timeout", optarg, 1, 3600000, &v))
				return CTL_EXIT_USAGE;
			st->timeout_ms = (unsigned)v;
			break;
		case 'r':
			if (!ctl_parse_uint("send", "retries", optarg, 0, 1000, &v))
				return CTL_EXIT_USAGE;
			st->retries = (unsigned)v;
			break;
		default:
			return ctl_usage_error("send", "bad option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage_error("send", "expected one FILE (or - for stdin)");
	return -1;
}

int
ctl_send_main(int argc, char **argv)
{
	struct s_send st = { .window = 64, .timeout_ms = 5000, .retries = 5, .fd = -1 };
	struct ctl_curve cv = { 0 };
	const char *ep = NULL, *path;
	void *ctx = NULL;
	int rc;

	if ((rc = s_options_parse(argc, argv, &st, &ep, &cv)) >= 0)
		return rc;
	rc = CTL_EXIT_FAIL;
	path = argv[optind];
	ep = ctl_endpoint(ep, "JICENG_INGEST", CTL_DEFAULT_INGEST);
	ctl_curve_from_env(&cv);
	st.fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (st.fd < 0) {
		fprintf(stderr, "jicengctl send: %s: %s\n", path, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if (!(st.slots = calloc(st.window, sizeof *st.slots)))
		goto out;
	if (!(ctx = zmq_ctx_new()) || !(st.sock = ctl_dealer(ctx, ep, &cv)))
		goto out;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (s_run(&st) == 0 && st.invalid == 0 && st.failed == 0)
		rc = CTL_EXIT_OK;
	if (st.invalid || st.failed)
		fprintf(stderr, "jicengctl send: %lu acked, %lu invalid lines, %lu "
		    "events without an ack\n", st.acked, st.invalid, st.failed);
out:
	for (unsigned i = 0; st.slots && i < st.window; i++)
		s_slot_clear(&st.slots[i]);
	s_slot_clear(&st.held);
	free(st.slots);
	free(st.lb);
	if (st.sock)
		zmq_close(st.sock);
	if (ctx)
		zmq_ctx_term(ctx);
	if (st.fd > STDIN_FILENO)
		close(st.fd);
	return rc;
}
