/*
 * The fixture the membership rule and query tests share: a real LMDB
 * environment in a temporary directory with the membership tables, a
 * journal clock, and fx_send, which applies one event as the fold does
 * (commit when accepted, abort otherwise). Around it, what more than one
 * test file needs: the common events (an org, an org tree, a registered
 * member, a status change, a Tick, a RulesChanged), transactions and
 * record loads on the environment, and the change log unpacked. What one
 * file alone needs stays in that file.
 */
#ifndef JICENG_MEMBERSHIP_FX_H
#define JICENG_MEMBERSHIP_FX_H

#include "unit.h"

#include <lmdb.h>
#include <stdbool.h>
#include <string.h>

#include "membership.h"
#include "records.h"

#define TS1 "110105001000"
#define TS2 "110105002000"
#define DAY (86400000LL)

/* A member's phone, and as a view masks it: no change log entry may carry
 * either (fx_changes). */
#define FX_PHONE        "13812345678"
#define FX_PHONE_MASKED "138****5678"

struct domain_module;

struct fx {
	char *dir;
	MDB_env *env;
	struct membership *m;
	/* A domain module fx_send applies after membership, as the fold does
	 * (domain_fx.h); NULL: membership only. */
	const struct domain_module *module;
	void *module_state;
	uint64_t seq;
	int64_t now;             /* journal time of the next event */
	const char *township;    /* the sending township */
	Rules rules;
	uint8_t key[32];
};

/* Unix ms of a China Standard Time wall-clock time. */
int64_t fx_cst(int y, int mo, int d, int h, int mi);
struct fx *fx_new(void);
/* The same with room for extra_dbs more named databases (domain_fx.h). */
struct fx *fx_new_dbs(unsigned extra_dbs);
void fx_free(struct fx *f);
/* cmocka set-up and tear-down: *state is the struct fx. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Apply one event of kind c (msg is its message) as the fold would:
 * membership, then f->module when it is set and membership accepted. */
struct verdict fx_send(struct fx *f, EventCase c, void *msg);

#define ACCEPTED(expr) do { struct verdict v_ = (expr); \
	if (!v_.accepted) fail_msg("rejected %s: %s", v_.code, v_.reason); } while (0)
#define REJECTED(expr, code_) do { struct verdict v_ = (expr); \
	assert_false(v_.accepted); assert_string_equal(v_.code, (code_)); \
	assert_non_null(strstr(v_.reason, " / ")); } while (0)

/* ---------------------------------------------------------- events */

/* OrgEstablished of id (a Jiceng__V1__OrgKind) under parent, approved by
 * approving (either NULL: none), named 测试组织, established now. */
struct verdict fx_org(struct fx *f, const char *id, int kind, const char *parent,
    const char *approving);
/* Township committee t, village committee v under it and branch b under
 * v, both approved by t, in f's township; each must be ACCEPTED. */
void fx_tree(struct fx *f, const char *t, const char *v, const char *b);
/* A MemberRegistered of id in home, of category (a
 * Jiceng__V1__MemberCategory), named 张三, admitted on 2010-07-01 (and
 * confirmed on 2011-07-01 when FULL): to send as it is (fx_register) or
 * changed first. */
Jiceng__V1__MemberRegistered fx_registration(const char *id, const char *home, int category);
struct verdict fx_register(struct fx *f, const char *id, const char *home, int category);
/* MemberStatusChanged of member id to status (a Jiceng__V1__MemberStatus),
 * effective at `at` (fx_status: now). */
struct verdict fx_status_at(struct fx *f, const char *id, int status, int64_t at);
struct verdict fx_status(struct fx *f, const char *id, int status);
/* A Tick at f->now. */
struct verdict fx_tick(struct fx *f);
/* A RulesChanged carrying r (its 0 fields keep their defaults). */
struct verdict fx_rules(struct fx *f, Jiceng__V1__Rules *r);

/* ---------------------------------------------------------- state */

/* A read-only or a write transaction on the fixture's environment. */
MDB_txn *fx_read(struct fx *f);
MDB_txn *fx_write(struct fx *f);
/* Load the member, transfer or episode id, which must exist. */
void fx_load_member(struct fx *f, const char *id, struct member_rec *r);
void fx_load_transfer(struct fx *f, const char *id, struct transfer_rec *t);
void fx_load_episode(struct fx *f, const char *id, struct episode_rec *e);

/* The change log from seq `from` to `to` (both included), unpacked. */
#define FX_MAX_CHANGES 32
struct fx_changes {
	unsigned n;
	StatusChange *sc[FX_MAX_CHANGES];
	bool leaked;                   /* a packed entry holds FX_PHONE or its mask */
};
void fx_changes(struct fx *f, uint64_t from, uint64_t to, struct fx_changes *cs);
void fx_changes_free(struct fx_changes *cs);

#endif
