/*
 * The fixture the membership rule tests share: a real LMDB environment in a
 * temporary directory with the membership tables, a journal clock, and
 * fx_send, which applies one event as the fold does (commit when accepted,
 * abort otherwise).
 */
#ifndef JICENG_MEMBERSHIP_FX_H
#define JICENG_MEMBERSHIP_FX_H

#include "unit.h"

#include <lmdb.h>
#include <stdbool.h>
#include <string.h>

#include "membership.h"

#define TS1 "110105001000"
#define TS2 "110105002000"
#define DAY (86400000LL)

struct fx {
	char *dir;
	MDB_env *env;
	struct membership *m;
	uint64_t seq;
	int64_t now;             /* journal time of the next event */
	const char *township;    /* the sending township */
	Rules rules;
	uint8_t key[32];
};

/* Unix ms of a China Standard Time wall-clock time. */
int64_t fx_cst(int y, int mo, int d, int h, int mi);
struct fx *fx_new(void);
void fx_free(struct fx *f);
/* cmocka set-up and tear-down: *state is the struct fx. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Apply one event of kind c (msg is its message) as the fold would. */
struct verdict fx_send(struct fx *f, EventCase c, void *msg);

#define ACCEPTED(expr) do { struct verdict v_ = (expr); \
	if (!v_.accepted) fail_msg("rejected %s: %s", v_.code, v_.reason); } while (0)
#define REJECTED(expr, code_) do { struct verdict v_ = (expr); \
	assert_false(v_.accepted); assert_string_equal(v_.code, (code_)); \
	assert_non_null(strstr(v_.reason, " / ")); } while (0)

#endif
