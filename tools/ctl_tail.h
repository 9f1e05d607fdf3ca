/*
 * ctl_tail: the rules of jicengctl resend-tail that need no socket and no
 * journal (unit-tested): which seqs of an old primary's journal to resend,
 * which records to skip, where the new primary's copy of that journal
 * ends (its stats), and the tally of the answers. The command itself is
 * in ctl_resend.c.
 */
#ifndef JICENG_CTL_TAIL_H
#define JICENG_CTL_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* What to resend of a journal ending at seq end, after seq after: */
enum ctl_tail_range {
	CTL_TAIL_RANGE,    /* seqs after + 1 .. end */
	CTL_TAIL_NOTHING,  /* after == end: the new primary has it all */
	CTL_TAIL_PAST,     /* after > end: not this journal's seq (a bad seq) */
};
enum ctl_tail_range ctl_tail_range(uint64_t after, uint64_t end);

/* Is a record of township township_id one to resend? jicengd's own (Tick,
 * RulesChanged: township "") are not: the new primary journals its own. */
bool ctl_tail_wanted(const char *township_id);

/* The seq through which the node whose stats are s holds this journal: its
 * journal's end when it was promoted from a standby. 0 with *after set,
 * or -1 with why (for "jicengctl resend-tail: WHY") when the stats cannot
 * say (no standby part, still a standby, never promoted). */
int ctl_tail_after_from_stats(const Jiceng__V1__Stats *s, uint64_t *after, char *why,
    size_t cap);

#define CTL_TAIL_CODES 16   /* distinct refusal codes counted by name */

/* The answers so far. */
struct ctl_tail_tally {
	uint64_t sent;                  /* envelopes handed to the sender */
	uint64_t accepted, duplicate, rejected, retry, lost;
	struct {
		char code[32];
		uint64_t n;
	} codes[CTL_TAIL_CODES];        /* rejected, by code */
	unsigned ncodes;
	uint64_t other_codes;           /* rejected with a code past the table */
};

/* Count a's verdict (the final ack of one envelope). */
void ctl_tail_count(struct ctl_tail_tally *t, const Ack *a);
/* Count an envelope that got no ack. */
void ctl_tail_lost(struct ctl_tail_tally *t);
/* "A accepted, D duplicate, R rejected (R4 2, O1 1), L retry later, N
 * without an ack" into buf. */
void ctl_tail_summary(const struct ctl_tail_tally *t, char *buf, size_t cap);
/* Did every envelope get a final verdict (accepted, duplicate, rejected)? */
bool ctl_tail_settled(const struct ctl_tail_tally *t);
/* Has an envelope been lost while none was ever answered (nobody at the
 * endpoint, or not with these keys: sending more would only wait)? */
bool ctl_tail_unheard(const struct ctl_tail_tally *t);

#endif
