/*
 * codec: the one module that includes the protobuf-c generated headers.
 * It decodes and checks envelopes (size, structure, UTF-8, identifiers,
 * bounds, reserved kinds), drops the fields this version does not know and
 * packs envelopes again (the journal holds only protobuf-c's own encoding),
 * packs acks, and knows which domain owns which event kind. Other modules
 * include this header, never a *.pb-c.h.
 *
 * The rules of a domain are not here: this module only checks what is true
 * of any event, whatever the state.
 */
#ifndef JICENG_CODEC_H
#define JICENG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jiceng/v1/envelope.pb-c.h"
#include "jiceng/v1/events.pb-c.h"
#include "jiceng/v1/mirror.pb-c.h"
#include "jiceng/v1/query.pb-c.h"
#include "jiceng/v1/status.pb-c.h"

typedef Jiceng__V1__Envelope Envelope;
typedef Jiceng__V1__Ack Ack;
typedef Jiceng__V1__Warning AckWarning;
typedef Jiceng__V1__Query Query;
typedef Jiceng__V1__QueryReply QueryReply;
typedef Jiceng__V1__StatusChange StatusChange;
typedef Jiceng__V1__Rules Rules;
typedef Jiceng__V1__MirroredRecord MirroredRecord;

/* The oneof case of an envelope's event (JICENG__V1__ENVELOPE__EVENT_*). */
typedef Jiceng__V1__Envelope__EventCase EventCase;

#define CODEC_MAX_FRAME     65536u  /* largest envelope frame accepted */
/* Frames up to this size are answered OVERSIZE; a larger one closes the
 * connection unanswered (jicengd's ZMQ_MAXMSGSIZE, which with its receive
 * HWM bounds what it buffers per connection). */
#define CODEC_MAX_ANSWERED_FRAME (2 * CODEC_MAX_FRAME)
#define CODEC_MAX_ID        64u     /* event_id and every *_id field */
#define CODEC_MAX_TEXT      256u    /* any other string field */
#define CODEC_MAX_REPEATED  1000u   /* entries of any repeated field */

enum domain {
	DOMAIN_NONE = -1,
	DOMAIN_MEMBERSHIP = 0,
	DOMAIN_MEETINGS,
	DOMAIN_FUNDS,
	DOMAIN_COUNT
};

/* "membership", "meetings", "funds"; NULL for anything else. */
const char *codec_domain_name(enum domain d);
/* The domain named s, or DOMAIN_NONE. */
enum domain codec_domain_from_name(const char *s);

/* The domain that answers for an event kind; DOMAIN_NONE for Tick and
 * RulesChanged (written by jicengd, answered by nobody) and NOT_SET. */
enum domain codec_event_domain(EventCase c);
/* The event's field name ("org_established" ...), or "none". */
const char *codec_event_name(EventCase c);
/* The message of the envelope's event oneof, NULL when absent. */
const void *codec_event_message(const Envelope *e);
/* Set the envelope's event to kind c with message msg (not copied). */
void codec_event_set(Envelope *e, EventCase c, void *msg);
/* Is the kind one that jicengd writes itself (Tick, RulesChanged)? */
bool codec_event_reserved(EventCase c);
/* Does this build implement the rules for this kind? Kinds whose rules are
 * not implemented yet are refused before journaling (UNSUPPORTED_EVENT). */
bool codec_event_implemented(EventCase c);

/* A refusal from a check: a stable code and a reason for the sender. */
struct codec_error {
	const char *code;  /* "MALFORMED", "OVERSIZE", "BAD_UTF8" ... */
	char reason[320];
	/* The envelope's event_id when the frame parsed and the id is valid,
	 * so a refusal can still be matched by the sender; else "". */
	char event_id[CODEC_MAX_ID + 1];
};

/* Decode and check one envelope frame. On success returns the envelope
 * (free with codec_envelope_free); it may still carry fields this version
 * does not know (codec_envelope_strip_unknown). On failure returns NULL and
 * fills err:
 *   OVERSIZE       frame over CODEC_MAX_FRAME
 *   MALFORMED      not a protobuf Envelope; also a field number 0 anywhere
 *                  (no protobuf encoder writes one; protobuf-c keeps it as
 *                  an unknown field, the reference parsers refuse it)
 *   NO_EVENT       no event set
 *   UNKNOWN_EVENT  no event this version knows, and an unknown field: an
 *                  event kind newer than this version
 *   BAD_ID         event_id or an *_id field empty/too long/bad characters
 *   BAD_TOWNSHIP   township_id not 12 digits ending in 000
 *   BAD_TIME       occurred_at <= 0
 *   BAD_UTF8       a string field is not valid UTF-8
 *   TOO_LONG       a string or repeated field over its bound
 *   RESERVED_EVENT a Tick or RulesChanged from a client */
Envelope *codec_envelope_decode(const uint8_t *buf, size_t len,
    struct codec_error *err);
/* Decode without the client-facing checks (journal records). NULL if the
 * bytes do not parse. */
Envelope *codec_envelope_unpack(const uint8_t *buf, size_t len);
/* The event_id of envelope bytes that may not decode: the first field 1
 * found at the top level, before anything unreadable, copied into out when
 * it is a valid id (codec_id_valid); else out is "". */
void codec_envelope_peek_id(const uint8_t *buf, size_t len, char out[CODEC_MAX_ID + 1]);
void codec_envelope_free(Envelope *e);

/* The unknown fields found in an envelope: how many, and where, as field
 * numbers with the path of known fields above them ("1000",
 * "member_registered.99"), comma-separated, cut short with "..." when
 * longer than the buffer. */
#define CODEC_UNKNOWN_TEXT 160
struct codec_unknown {
	unsigned n;
	char fields[CODEC_UNKNOWN_TEXT];
};
/* Drop every unknown field of e, at any depth (freeing them), noting them
 * in *u unless u is NULL. Returns how many were dropped. */
unsigned codec_envelope_strip_unknown(Envelope *e, struct codec_unknown *u);
/* Pack e into *out (malloc'd), *len bytes: protobuf-c's encoding, which
 * decodes and packs again to the same bytes once e has no unknown field.
 * Returns 0, or -1 out of memory. */
int codec_envelope_pack(const Envelope *e, uint8_t **out, size_t *len);

/* Text checks used by the checks above and by the rules. */
bool codec_utf8_valid(const char *s, size_t len);
/* An opaque id: 1..CODEC_MAX_ID bytes of [A-Za-z0-9._:-]. */
bool codec_id_valid(const char *s);
/* A township's 12-digit statistical area code ending in 000. */
bool codec_township_valid(const char *s);

/* Pack an Ack into a malloc'd buffer; returns its length, sets *out. */
size_t codec_ack_pack(const Ack *a, uint8_t **out);
/* Build and pack a refusal ack (seq 0) for event_id. */
size_t codec_ack_refusal(const char *event_id, Jiceng__V1__Verdict verdict,
    const char *code, const char *reason, uint8_t **out);

/* The default rule settings of DOMAIN.md. */
void rules_defaults(Rules *r);

/* The name of an enum value ("ACCEPTED" ...), for logs and JSON. */
const char *codec_verdict_name(Jiceng__V1__Verdict v);

#endif
