/*
 * jicengctl send, and the pipelined sender it shares with import.
 *
 * The sender (first half) owns the resend policy of a township client done
 * right: an envelope without an ack within --timeout is resent with the
 * same bytes (so the broker answers DUPLICATE, never applies twice) up to
 * --retries times; a RETRY_LATER answer is resent after a backoff, and no
 * new envelope is sent while any is backing off, so order is kept as far
 * as the window allows (--window 1 for strict order). Acks are matched by
 * event_id; two envelopes with the same event_id are never in flight
 * together. The broker refuses an envelope that fails its checks
 * (codec_envelope_decode) before it has read the event_id, so that ack
 * carries none: each envelope is run through the same checks before
 * sending, and an ack without an id is matched to the oldest envelope in
 * flight expected to fail with its code. What to send and what to do with
 * each answer belong to a source (struct ctl_source, ctl.h).
 *
 * send (second half) is the source that reads envelopes as canonical JSON,
 * one per line, and prints one ack per event. Input is read with read(2)
 * into a line buffer, never a blocking stdio call, so acks and resends go
 * on while a slow producer writes to stdin.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "pbjson.h"

#define SEND_LINE_MAX     (1u << 20)  /* longest input line */
#define SEND_BACKOFF_MS   100         /* first RETRY_LATER wait, doubled ... */
#define SEND_BACKOFF_MAX  5000        /* ... up to this */
#define SEND_LATER_FACTOR 10          /* RETRY_LATERs allowed per --retries */

/* ================================================================ the sender */

/* One envelope in flight (or backing off). */
struct s_slot {
	bool used;
	bool backoff;       /* waiting after RETRY_LATER: not in flight */
	struct ctl_envelope env;
	char *check_code;   /* the code codec_envelope_decode refuses it
	                       with (acks carry no event_id then), or NULL */
	unsigned sends;     /* times sent */
	unsigned later;     /* RETRY_LATER answers */
	int64_t deadline;   /* resend (or give up) at this time */
};

struct ctl_sender {
	const char *cmd;           /* for messages */
	void *ctx, *sock;
	struct s_slot *slots;      /* window entries */
	unsigned window;
	unsigned used;             /* slots in use */
	struct s_slot held;        /* next envelope, its event_id still in flight */
	unsigned timeout_ms, retries;
	int pulled;                /* what the source's pull said last */
};

int
ctl_sender_option(struct ctl_sender_conf *conf, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'i': conf->ingest = arg; return 1;
	case 'k': conf->curve.key = arg; return 1;
	case 's': conf->curve.server_key = arg; return 1;
	case 'w':
		if (!ctl_parse_uint(conf->cmd, "window", arg, 1, CTL_SENDER_WINDOW_MAX, &v))
			return -1;
		conf->window = (unsigned)v;
		return 1;
	case 't':
		if (!ctl_parse_uint(conf->cmd, "timeout", arg, 1, 3600000, &v))
			return -1;
		conf->timeout_ms = (unsigned)v;
		return 1;
	case 'r':
		if (!ctl_parse_uint(conf->cmd, "retries", arg, 0, 1000, &v))
			return -1;
		conf->retries = (unsigned)v;
		return 1;
	default:
		return 0;
	}
}

static void
s_slot_clear(struct s_slot *s)
{
	if (s->env.buf)
		sodium_memzero(s->env.buf, s->env.len);
	free(s->env.buf);
	free(s->env.event_id);
	free(s->check_code);
	memset(s, 0, sizeof *s);
}

/* Take e into the held slot, with the code the broker's checks would
 * refuse it with. */
static void
s_hold(struct ctl_sender *s, const struct ctl_envelope *e)
{
	struct codec_error cerr;
	Envelope *decoded;

	s->held.env = *e;
	s->held.used = true;
	if (!(decoded = codec_envelope_decode(e->buf, e->len, &cerr)))
		s->held.check_code = strdup(cerr.code);
	codec_envelope_free(decoded);
}

static struct s_slot *
s_find(struct ctl_sender *s, const char *event_id)
{
	for (unsigned i = 0; i < s->window; i++)
		if (s->slots[i].used && strcmp(s->slots[i].env.event_id, event_id) == 0)
			return &s->slots[i];
	return NULL;
}

static bool
s_backing_off(const struct ctl_sender *s)
{
	for (unsigned i = 0; i < s->window; i++)
		if (s->slots[i].used && s->slots[i].backoff)
			return true;
	return false;
}

/* Send (or resend) a slot's bytes and arm its timeout. A send that would
 * block counts as sent and lost: the timeout resends it. */
static void
s_transmit(struct ctl_sender *s, struct s_slot *sl)
{
	if (zmq_send(s->sock, sl->env.buf, sl->env.len, ZMQ_DONTWAIT) < 0 && errno != EAGAIN)
		fprintf(stderr, "jicengctl %s: zmq_send: %s\n", s->cmd, zmq_strerror(errno));
	sl->sends++;
	sl->backoff = false;
	sl->deadline = now_mono_ms() + s->timeout_ms;
}

/* Put the held envelope or new ones from the source into free slots and
 * send them. */
static void
s_fill(struct ctl_sender *s, const struct ctl_source *src)
{
	while (s->used < s->window && !s_backing_off(s)) {
		if (!s->held.used) {
			struct ctl_envelope e = { 0 };
			if ((s->pulled = src->pull(src->arg, &e)) <= 0)
				return;
			s_hold(s, &e);
		}
		if (s_find(s, s->held.env.event_id))
			return;
		unsigned i = 0;
		while (s->slots[i].used)
			i++;
		s->slots[i] = s->held;
		memset(&s->held, 0, sizeof s->held);
		s->used++;
		s_transmit(s, &s->slots[i]);
	}
}

/* The slot an ack without event_id answers: the oldest in flight expected
 * to be refused with the ack's code (or, failing that, with any code). */
static struct s_slot *
s_find_unnamed(struct ctl_sender *s, const char *code)
{
	struct s_slot *same = NULL, *any = NULL;

	for (unsigned i = 0; i < s->window; i++) {
		struct s_slot *sl = &s->slots[i];
		if (!sl->used || sl->backoff || !sl->check_code)
			continue;
		if (strcmp(sl->check_code, code) == 0 && (!same || sl->env.order < same->env.order))
			same = sl;
		if (!any || sl->env.order < any->env.order)
			any = sl;
	}
	return same ? same : any;
}

/* Match an ack to its slot; an unnamed ack matched to a slot gets the
 * slot's event_id, so that the source sees which envelope it answers. */
static struct s_slot *
s_match(struct ctl_sender *s, Ack *a)
{
	struct s_slot *sl = s_find(s, a->event_id);
	char *id;

	if (sl || a->event_id[0])
		return sl;
	if (!(sl = s_find_unnamed(s, a->code))) {
		char *text = pbjson_print(&a->base);
		fprintf(stderr, "jicengctl %s: an ack without event_id matches no "
		    "event: %s\n", s->cmd, text ? text : "?");
		free(text);
		return NULL;
	}
	/* unpack allocated the string with malloc (default allocator). */
	if ((id = strdup(sl->env.event_id))) {
		if (a->event_id != protobuf_c_empty_string)
			free(a->event_id);
		a->event_id = id;
	}
	return sl;
}

static void
s_finish(struct ctl_sender *s, struct s_slot *sl)
{
	s_slot_clear(sl);
	s->used--;
}

static void
s_on_ack(struct ctl_sender *s, const struct ctl_source *src, const void *buf, size_t len)
{
	Ack *a = jiceng__v1__ack__unpack(NULL, len, buf);
	struct s_slot *sl;

	if (!a) {
		fprintf(stderr, "jicengctl %s: ignoring a reply that is not an Ack "
		    "(%zu bytes)\n", s->cmd, len);
		return;
	}
	/* No slot: a second answer to an envelope we resent; the first
	 * counted. A RETRY_LATER for a slot already backing off answers an
	 * older send and changes nothing; any other answer settles it. */
	sl = s_match(s, a);
	if (sl && a->verdict == JICENG__V1__VERDICT__RETRY_LATER && sl->backoff)
		sl = NULL;
	if (sl && a->verdict == JICENG__V1__VERDICT__RETRY_LATER &&
	    sl->later < s->retries * SEND_LATER_FACTOR) {
		unsigned shift = sl->later < 6 ? sl->later : 6;
		unsigned ms = SEND_BACKOFF_MS << shift;
		sl->later++;
		sl->backoff = true;
		sl->deadline = now_mono_ms() + (ms < SEND_BACKOFF_MAX ? ms : SEND_BACKOFF_MAX);
	} else if (sl) {
		src->answered(src->arg, &sl->env, a);
		s_finish(s, sl);
	}
	jiceng__v1__ack__free_unpacked(a, NULL);
}

/* The due slot with the lowest input position, or NULL. */
static struct s_slot *
s_due(struct ctl_sender *s, int64_t now)
{
	struct s_slot *best = NULL;

	for (unsigned i = 0; i < s->window; i++) {
		struct s_slot *sl = &s->slots[i];
		if (sl->used && sl->deadline <= now && (!best || sl->env.order < best->env.order))
			best = sl;
	}
	return best;
}

/* Resend what timed out or finished backing off, in input order; give up
 * on what has used its retries. */
static void
s_on_timers(struct ctl_sender *s, const struct ctl_source *src)
{
	int64_t now = now_mono_ms();
	struct s_slot *sl;
	char msg[128];

	while ((sl = s_due(s, now))) {
		if (!sl->backoff && sl->sends > s->retries + sl->later) {
			snprintf(msg, sizeof msg, "no ack within %u ms, sent %u times",
			    s->timeout_ms, sl->sends);
			if (src->lost)
				src->lost(src->arg, &sl->env, msg);
			s_finish(s, sl);
		} else {
			s_transmit(s, sl);
		}
	}
}

/* Milliseconds until the next deadline, or -1 for none. */
static long
s_poll_timeout(const struct ctl_sender *s)
{
	int64_t now = now_mono_ms(), next = -1;

	for (unsigned i = 0; i < s->window; i++)
		if (s->slots[i].used && (next < 0 || s->slots[i].deadline < next))
			next = s->slots[i].deadline;
	if (next < 0)
		return -1;
	return next > now ? (long)(next - now) : 0;
}

int
ctl_sender_run(struct ctl_sender *s, const struct ctl_source *src)
{
	void *buf;
	long n;

	s->pulled = 0;
	for (;;) {
		s_fill(s, src);
		bool idle = s->used == 0 && !s->held.used;
		if (idle && s->pulled < 0)
			return 0;
		/* Wait on the input only when the source asked for more: a long
		 * file is not slurped while the window is full or backing off. */
		int fd = s->pulled == 0 && !s->held.used && s->used < s->window &&
		    !s_backing_off(s) && src->input_fd ? src->input_fd(src->arg) : -1;
		if (idle && fd < 0) {
			fprintf(stderr, "jicengctl %s: the input stalled with nothing in "
			    "flight\n", s->cmd);
			return -1;
		}
		zmq_pollitem_t items[2] = {
			{ s->sock, 0, ZMQ_POLLIN, 0 },
			{ NULL, fd, fd >= 0 ? ZMQ_POLLIN : 0, 0 },
		};
		if (zmq_poll(items, fd >= 0 ? 2 : 1, s_poll_timeout(s)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "jicengctl %s: zmq_poll: %s\n", s->cmd, zmq_strerror(errno));
			return -1;
		}
		if (fd >= 0 && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) &&
		    src->input(src->arg) < 0)
			return -1;
		while ((n = ctl_recv_last(s->sock, &buf)) >= 0) {
			s_on_ack(s, src, buf, (size_t)n);
			free(buf);
		}
		s_on_timers(s, src);
		if (src->tick)
			src->tick(src->arg);
	}
}

struct ctl_sender *
ctl_sender_new(const struct ctl_sender_conf *conf)
{
	struct ctl_sender *s = calloc(1, sizeof *s);
	struct ctl_curve cv = conf->curve;
	const char *ep = ctl_endpoint(conf->ingest, "JICENG_INGEST", CTL_DEFAULT_INGEST);

	if (!s)
		goto nomem;
	s->cmd = conf->cmd;
	s->window = conf->window;
	s->timeout_ms = conf->timeout_ms;
	s->retries = conf->retries;
	ctl_curve_from_env(&cv);
	if (!(s->slots = calloc(s->window, sizeof *s->slots)) || !(s->ctx = zmq_ctx_new())) {
		ctl_sender_destroy(&s);
		goto nomem;
	}
	if (!(s->sock = ctl_dealer(s->ctx, ep, &cv)))
		ctl_sender_destroy(&s);
	return s;
nomem:
	fprintf(stderr, "jicengctl %s: out of memory\n", conf->cmd);
	return NULL;
}

void
ctl_sender_destroy(struct ctl_sender **sp)
{
	struct ctl_sender *s = *sp;

	if (!s)
		return;
	for (unsigned i = 0; s->slots && i < s->window; i++)
		s_slot_clear(&s->slots[i]);
	s_slot_clear(&s->held);
	free(s->slots);
	if (s->sock)
		zmq_close(s->sock);
	if (s->ctx)
		zmq_ctx_term(s->ctx);
	free(s);
	*sp = NULL;
}

/* ================================================================ send: JSON lines */

struct s_send {
	int fd;                    /* input */
	bool eof;                  /* input fully read */
	bool skipping;             /* discarding the rest of an over-long line */
	char *lb;                  /* input not yet split into lines */
	size_t lb_len, lb_cap;
	unsigned lineno;           /* lines taken from lb */
	unsigned long invalid, failed, acked;
};

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

/* Read what is available into the line buffer (the fd was readable). */
static int
s_read_input(void *arg)
{
	struct s_send *st = arg;

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

static int
s_input_fd(void *arg)
{
	struct s_send *st = arg;
	return st->eof ? -1 : st->fd;
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

/* Turn one line into an envelope; blank lines and bad JSON give 0. */
static int
s_prepare(struct s_send *st, const char *line, size_t len, struct ctl_envelope *env)
{
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
	env->order = st->lineno;
	env->len = jiceng__v1__envelope__get_packed_size(e);
	if (env->len > CODEC_MAX_FRAME) {
		snprintf(err, sizeof err, "OVERSIZE: the envelope packs to %zu bytes, over the "
		    "%u-byte limit; not sent", env->len, CODEC_MAX_FRAME);
		s_print_error(st->lineno, e->event_id, err);
		jiceng__v1__envelope__free_unpacked(e, NULL);
		st->invalid++;
		return 0;
	}
	env->buf = malloc(env->len ? env->len : 1);
	env->event_id = strdup(e->event_id);
	if (env->buf)
		jiceng__v1__envelope__pack(e, env->buf);
	jiceng__v1__envelope__free_unpacked(e, NULL);
	if (!env->buf || !env->event_id) {
		s_print_error(st->lineno, NULL, "out of memory");
		st->invalid++;
		free(env->buf);
		free(env->event_id);
		memset(env, 0, sizeof *env);
		return 0;
	}
	return 1;
}

/* The next valid line as an envelope; -1 at the end of the input. */
static int
s_pull_line(void *arg, struct ctl_envelope *env)
{
	struct s_send *st = arg;
	char *line;
	size_t len;

	while (s_next_line(st, &line, &len)) {
		int ok = s_prepare(st, line, len, env);
		free(line);
		if (ok)
			return 1;
	}
	return st->eof && st->lb_len == 0 ? -1 : 0;
}

static void
s_print_ack(void *arg, const struct ctl_envelope *env, const Ack *a)
{
	struct s_send *st = arg;
	char *text;

	(void)env;
	if (a->verdict == JICENG__V1__VERDICT__RETRY_LATER)
		st->failed++;
	else
		st->acked++;
	if ((text = pbjson_print(&a->base))) {
		puts(text);
		free(text);
	}
}

static void
s_print_lost(void *arg, const struct ctl_envelope *env, const char *why)
{
	struct s_send *st = arg;

	s_print_error(env->order, env->event_id, why);
	st->failed++;
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
	    CTL_SENDER_HELP
	    "  -h, --help           this help\n"
	    "\n"
	    "Resends carry the same bytes and event_id: the broker answers DUPLICATE\n"
	    "for what it already has, so nothing is applied twice.\n"
	    "Exit status: 0 every event got an ack (whatever its verdict); 1 a line\n"
	    "was invalid, or an event got no ack or only RETRY_LATER; 2 usage error.\n");
}

static const struct option s_options[] = {
	CTL_SENDER_LONGOPTS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parse options into conf; returns -1 when done (run), or an exit
 * status. */
static int
s_options_parse(int argc, char **argv, struct ctl_sender_conf *conf)
{
	int c, taken;

	optind = 0;
	while ((c = getopt_long(argc, argv, CTL_SENDER_SHORTOPTS "h", s_options, NULL)) != -1) {
		if ((taken = ctl_sender_option(conf, c, optarg)) < 0)
			return CTL_EXIT_USAGE;
		if (taken)
			continue;
		if (c == 'h') {
			s_usage(stdout);
			return CTL_EXIT_OK;
		}
		return ctl_usage_error("send", "bad option");
	}
	if (optind != argc - 1)
		return ctl_usage_error("send", "expected one FILE (or - for stdin)");
	return -1;
}

int
ctl_send_main(int argc, char **argv)
{
	struct ctl_sender_conf conf = CTL_SENDER_CONF("send");
	struct s_send st = { .fd = -1 };
	const struct ctl_source src = {
		.arg = &st,
		.pull = s_pull_line,
		.input_fd = s_input_fd,
		.input = s_read_input,
		.answered = s_print_ack,
		.lost = s_print_lost,
	};
	struct ctl_sender *sender = NULL;
	const char *path;
	int rc;

	if ((rc = s_options_parse(argc, argv, &conf)) >= 0)
		return rc;
	rc = CTL_EXIT_FAIL;
	path = argv[optind];
	st.fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (st.fd < 0) {
		fprintf(stderr, "jicengctl send: %s: %s\n", path, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if (!(sender = ctl_sender_new(&conf)))
		goto out;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ctl_sender_run(sender, &src) == 0 && st.invalid == 0 && st.failed == 0)
		rc = CTL_EXIT_OK;
	if (st.invalid || st.failed)
		fprintf(stderr, "jicengctl send: %lu acked, %lu invalid lines, %lu "
		    "events without an ack\n", st.acked, st.invalid, st.failed);
out:
	ctl_sender_destroy(&sender);
	free(st.lb);
	if (st.fd > STDIN_FILENO)
		close(st.fd);
	return rc;
}
