/*
 * Unit tests of jicengctl resend-tail's rules (tools/ctl_tail.c): the
 * range of seqs resent, the records skipped, where the new primary's copy
 * of the journal ends (its stats), and the tally of the answers.
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "ctl_tail.h"

static void
test_tail_range(void **state)
{
	(void)state;
	assert_int_equal(ctl_tail_range(0, 0), CTL_TAIL_NOTHING);    /* an empty journal */
	assert_int_equal(ctl_tail_range(0, 5), CTL_TAIL_RANGE);      /* all of it: 1-5 */
	assert_int_equal(ctl_tail_range(4, 5), CTL_TAIL_RANGE);      /* seq 5 */
	assert_int_equal(ctl_tail_range(5, 5), CTL_TAIL_NOTHING);
	assert_int_equal(ctl_tail_range(6, 5), CTL_TAIL_PAST);
	assert_int_equal(ctl_tail_range(UINT64_MAX, 5), CTL_TAIL_PAST);
}

/* Township events are resent; jicengd's own (township "") never. */
static void
test_tail_wanted(void **state)
{
	(void)state;
	assert_true(ctl_tail_wanted("510722101000"));
	assert_false(ctl_tail_wanted(""));
	assert_false(ctl_tail_wanted(NULL));
}

static void
test_tail_after_from_stats(void **state)
{
	(void)state;
	Jiceng__V1__Stats s = JICENG__V1__STATS__INIT;
	Jiceng__V1__StandbyStats sb = JICENG__V1__STANDBY_STATS__INIT;
	uint64_t after = 77;
	char why[256];

	/* Never a standby: no promotion to read. */
	assert_int_equal(ctl_tail_after_from_stats(&s, &after, why, sizeof why), -1);
	assert_non_null(strstr(why, "never a standby"));
	assert_non_null(strstr(why, "--after SEQ"));
	assert_int_equal(ctl_tail_after_from_stats(NULL, &after, why, sizeof why), -1);
	/* Still following: not promoted yet. */
	s.standby = &sb;
	sb.state = "following";
	assert_int_equal(ctl_tail_after_from_stats(&s, &after, why, sizeof why), -1);
	assert_non_null(strstr(why, "still a standby (state following)"));
	assert_non_null(strstr(why, "jicengctl promote"));
	assert_int_equal(after, 77);
	/* Promoted: its journal's end then, whatever it journaled since. */
	sb.state = "promoted";
	sb.promoted_at = 1234;
	assert_int_equal(ctl_tail_after_from_stats(&s, &after, why, sizeof why), 0);
	assert_int_equal(after, 1234);
	sb.promoted_at = 0;
	assert_int_equal(ctl_tail_after_from_stats(&s, &after, why, sizeof why), -1);
}

static void
s_ack(struct ctl_tail_tally *t, Jiceng__V1__Verdict v, const char *code)
{
	Ack a = JICENG__V1__ACK__INIT;
	a.verdict = v;
	a.code = (char *)code;
	ctl_tail_count(t, &a);
}

static void
test_tail_tally(void **state)
{
	(void)state;
	struct ctl_tail_tally t;
	char line[512];
	memset(&t, 0, sizeof t);

	t.sent = 7;
	s_ack(&t, JICENG__V1__VERDICT__ACCEPTED, "OK");
	s_ack(&t, JICENG__V1__VERDICT__DUPLICATE, "OK");
	s_ack(&t, JICENG__V1__VERDICT__REJECTED, "R4");
	s_ack(&t, JICENG__V1__VERDICT__REJECTED, "O1");
	s_ack(&t, JICENG__V1__VERDICT__REJECTED, "R4");
	assert_false(ctl_tail_settled(&t));          /* two not answered yet */
	assert_false(ctl_tail_unheard(&t));
	s_ack(&t, JICENG__V1__VERDICT__RETRY_LATER, "BACKLOG");
	ctl_tail_lost(&t);
	ctl_tail_summary(&t, line, sizeof line);
	assert_string_equal(line, "1 accepted, 1 duplicate, 3 rejected (R4 2, O1 1), "
	    "1 retry later, 1 without an ack");
	assert_false(ctl_tail_settled(&t));

	assert_false(ctl_tail_unheard(&t));          /* lost one, but others answered */

	/* Nobody there: the first one lost, nothing ever answered. */
	memset(&t, 0, sizeof t);
	t.sent = 1;
	assert_false(ctl_tail_unheard(&t));
	ctl_tail_lost(&t);
	assert_true(ctl_tail_unheard(&t));
	s_ack(&t, JICENG__V1__VERDICT__RETRY_LATER, "BACKLOG");  /* somebody is there */
	assert_false(ctl_tail_unheard(&t));

	memset(&t, 0, sizeof t);
	t.sent = 2;
	s_ack(&t, JICENG__V1__VERDICT__DUPLICATE, "OK");
	s_ack(&t, JICENG__V1__VERDICT__DUPLICATE, "OK");
	assert_true(ctl_tail_settled(&t));
	ctl_tail_summary(&t, line, sizeof line);
	assert_string_equal(line, "0 accepted, 2 duplicate, 0 rejected, 0 retry later, "
	    "0 without an ack");

	/* More codes than the table holds; a line too small is cut, not overrun. */
	memset(&t, 0, sizeof t);
	for (int i = 0; i < CTL_TAIL_CODES + 3; i++) {
		char code[16];
		snprintf(code, sizeof code, "C%d", i);
		s_ack(&t, JICENG__V1__VERDICT__REJECTED, code);
	}
	assert_int_equal(t.rejected, CTL_TAIL_CODES + 3);
	assert_int_equal(t.other_codes, 3);
	ctl_tail_summary(&t, line, sizeof line);
	assert_non_null(strstr(line, "C15 1, other codes 3)"));
	char small[16];
	memset(small, 'x', sizeof small);
	ctl_tail_summary(&t, small, 10);
	assert_string_equal(small, "0 accepte");
	assert_int_equal(small[10], 'x');
}

int
unit_tail(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail_range),
		cmocka_unit_test(test_tail_wanted),
		cmocka_unit_test(test_tail_after_from_stats),
		cmocka_unit_test(test_tail_tally),
	};
	return cmocka_run_group_tests_name("tail", tests, NULL, NULL);
}
