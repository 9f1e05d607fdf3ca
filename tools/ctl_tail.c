/*
 * ctl_tail: the rules of jicengctl resend-tail (ctl_tail.h).
 */
#include "ctl_tail.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum ctl_tail_range
ctl_tail_range(uint64_t after, uint64_t end)
{
	if (after > end)
		return CTL_TAIL_PAST;
	return after == end ? CTL_TAIL_NOTHING : CTL_TAIL_RANGE;
}

bool
ctl_tail_wanted(const char *township_id)
{
	return township_id && *township_id;
}

int
ctl_tail_after_from_stats(const Jiceng__V1__Stats *s, uint64_t *after, char *why, size_t cap)
{
	const Jiceng__V1__StandbyStats *sb = s ? s->standby : NULL;

	if (!sb) {
		snprintf(why, cap, "it was never a standby (its stats have no standby part), "
		    "so it cannot say where its copy of this journal ends: give --after SEQ");
		return -1;
	}
	if (strcmp(sb->state, "promoted") != 0 || !sb->promoted_at) {
		snprintf(why, cap, "it is still a standby (state %s): promote it first "
		    "(jicengctl promote), or give --after SEQ", sb->state);
		return -1;
	}
	*after = sb->promoted_at;
	return 0;
}

void
ctl_tail_count(struct ctl_tail_tally *t, const Ack *a)
{
	unsigned i;

	switch (a->verdict) {
	case JICENG__V1__VERDICT__ACCEPTED: t->accepted++; return;
	case JICENG__V1__VERDICT__DUPLICATE: t->duplicate++; return;
	case JICENG__V1__VERDICT__REJECTED: break;
	default: t->retry++; return;
	}
	t->rejected++;
	for (i = 0; i < t->ncodes; i++)
		if (strcmp(t->codes[i].code, a->code) == 0)
			break;
	if (i == t->ncodes && t->ncodes == CTL_TAIL_CODES) {
		t->other_codes++;
		return;
	}
	if (i == t->ncodes)
		snprintf(t->codes[t->ncodes++].code, sizeof t->codes[0].code, "%s", a->code);
	t->codes[i].n++;
}

void
ctl_tail_lost(struct ctl_tail_tally *t)
{
	t->lost++;
}

/* Append to buf (cap bytes, *at used so far; truncated when full). */
static void __attribute__((format(printf, 4, 5)))
s_put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(*at < cap ? buf + *at : NULL, *at < cap ? cap - *at : 0, fmt, ap);
	va_end(ap);
	*at += n > 0 ? (size_t)n : 0;
}

void
ctl_tail_summary(const struct ctl_tail_tally *t, char *buf, size_t cap)
{
	size_t at = 0;

	s_put(buf, cap, &at, "%llu accepted, %llu duplicate, %llu rejected",
	    (unsigned long long)t->accepted, (unsigned long long)t->duplicate,
	    (unsigned long long)t->rejected);
	for (unsigned i = 0; i < t->ncodes; i++)
		s_put(buf, cap, &at, "%s%s %llu", i ? ", " : " (", t->codes[i].code,
		    (unsigned long long)t->codes[i].n);
	if (t->other_codes)
		s_put(buf, cap, &at, "%sother codes %llu", t->ncodes ? ", " : " (",
		    (unsigned long long)t->other_codes);
	if (t->ncodes || t->other_codes)
		s_put(buf, cap, &at, ")");
	s_put(buf, cap, &at, ", %llu retry later, %llu without an ack",
	    (unsigned long long)t->retry, (unsigned long long)t->lost);
}

bool
ctl_tail_settled(const struct ctl_tail_tally *t)
{
	return t->retry == 0 && t->lost == 0 &&
	    t->accepted + t->duplicate + t->rejected == t->sent;
}

bool
ctl_tail_unheard(const struct ctl_tail_tally *t)
{
	return t->lost && !(t->accepted + t->duplicate + t->rejected + t->retry);
}
