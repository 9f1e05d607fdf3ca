/*
 * apply: what a domain module sees of one journaled event, and what it
 * answers. Shared by the worker loop, `jicengctl rebuild`, the benchmark's
 * raw ceiling and the unit tests, so all of them fold the journal the same
 * way.
 */
#ifndef JICENG_APPLY_H
#define JICENG_APPLY_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"

#define VERDICT_MAX_WARNINGS 8

/* One journaled event, as a domain module sees it. */
struct event_ctx {
	uint64_t seq;              /* journal seq */
	int64_t received_at;       /* journal time, Unix ms: the only clock rules may read */
	const char *township_id;   /* the township the broker authenticated */
	const Envelope *env;       /* decoded envelope */
	const Rules *rules;        /* the settings in force at this seq */
	const uint8_t *id_key;     /* blind-index HMAC key (32 bytes) */
};

/* A domain's answer to one event. code is "OK" when accepted, else a rule id
 * ("O1") or "UNKNOWN_ORG" etc.; reason is human-readable (Chinese and
 * English). Warnings accompany an accepted event. */
struct verdict {
	bool accepted;
	char code[24];
	char reason[320];
	unsigned nwarnings;
	struct {
		char code[24];
		char reason[320];
	} warnings[VERDICT_MAX_WARNINGS];
};

/* Fill v as a rejection with code and a printf-style reason. Returns 0 so a
 * rule can `return verdict_reject(...)`. */
int verdict_reject(struct verdict *v, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a warning (ignored past VERDICT_MAX_WARNINGS). */
void verdict_warn(struct verdict *v, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reset v to accepted with code "OK" and no warnings. */
void verdict_accept(struct verdict *v);

#endif
