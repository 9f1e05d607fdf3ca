/*
 * membership_internal: what the files of the membership module share and
 * nobody else needs: the handle's databases, the stored record layouts and
 * their load/store helpers, China Standard Time calendar arithmetic, and
 * one apply function per event kind (orgs.c, members.c).
 *
 * Stored records are serialised explicitly, never as raw structs, so the
 * tables are the same byte for byte whoever folds the journal:
 *
 *   record = format byte (1)
 *            nextra x (u16 big-endian length, bytes)   private fields
 *            packed OrgView / MemberView               the public view
 *
 * The view part holds exactly what a query shows (masked ID and phone only);
 * the private part holds what rules need and queries never show.
 */
#ifndef JICENG_MEMBERSHIP_INTERNAL_H
#define JICENG_MEMBERSHIP_INTERNAL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "codec.h"
#include "idnum.h"
#include "membership.h"

#define MS_RECORD_FORMAT  1
#define MS_MAX_ACTIVITY   8     /* activity orgs per member (events.proto) */
#define MS_MAX_NAME       64    /* a member's name, bytes */
#define MS_MAX_PHONE      32
#define MS_MAX_REF        64    /* national_ref, bytes */
#define MS_TOWNSHIP_LEN   12
#define MS_DAY_MS         86400000LL
/* Times beyond year 9999 are refused, so date arithmetic cannot overflow. */
#define MS_TIME_MAX       253402300799999LL
/* How far an event's own time may lie past its journal time (clock skew;
 * the tolerance DOMAIN.md gives M5). */
#define MS_TIME_SKEW_MS   (10 * 60 * 1000LL)

/* Every write of the module goes through these three, which count it: the
 * fold relies on a rejection having written nothing (membership_writes). */
int ms_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *d, unsigned flags);
int ms_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k);
int ms_cursor_del(MDB_cursor *c);

/* The module's tables (all keys and values explicit byte strings). */
struct membership {
	MDB_dbi orgs;       /* "orgs": org_id -> org record */
	MDB_dbi members;    /* "members": member_id -> member record */
	MDB_dbi children;   /* "orgs_children": parent_id NUL child_id -> "" */
	MDB_dbi roster;     /* "members_by_org": home_org_id NUL member_id -> "" */
	MDB_dbi index;      /* "members_by_index": blind index (32) -> member_id */
	MDB_dbi meta;       /* "membership_meta": "rules" -> packed Rules */
	MDB_dbi audit;      /* "membership_audit": seq BE8, n BE4 -> audit entry */
	MDB_dbi o3;         /* "orgs_o3_pending": start BE8, org_id -> "" */
};

/* An organisation. Private: who approved its establishment and dissolution. */
struct org_rec {
	char org_id[CODEC_MAX_ID + 1];
	int kind;                        /* Jiceng__V1__OrgKind */
	char name[CODEC_MAX_TEXT + 1];
	char parent_id[CODEC_MAX_ID + 1];
	char township_id[MS_TOWNSHIP_LEN + 1];
	int formation;                   /* Jiceng__V1__Formation, never 0 */
	bool dissolved;
	int64_t established_at, dissolved_at;
	uint32_t unit_count;
	uint32_t member_count;           /* home members NORMAL or SUSPENDED */
	uint32_t full_count, probationary_count;   /* of member_count */
	char national_ref[MS_MAX_REF + 1];
	uint64_t last_seq;
	/* private */
	char approving_id[CODEC_MAX_ID + 1];
	char dissolve_approving_id[CODEC_MAX_ID + 1];
	char dissolve_reason[CODEC_MAX_TEXT + 1];
};

/* A member. Private: the blind index, the clear phone and national_ref.
 * phone_masked is derived from phone when the record is stored. */
struct member_rec {
	char member_id[CODEC_MAX_ID + 1];
	char home_org_id[CODEC_MAX_ID + 1];
	char name[MS_MAX_NAME + 1];
	char id_masked[IDNUM_LEN + 1];
	char birth_date[11];             /* "YYYY-MM-DD" or "" */
	int sex, category, status;       /* Sex, MemberCategory, MemberStatus */
	int64_t admitted_at, confirmed_at;
	int64_t probation_until;         /* PROBATIONARY only, else 0 */
	bool probation_extended;
	unsigned nactivity;
	char activity[MS_MAX_ACTIVITY][CODEC_MAX_ID + 1];
	int transfer_state, mobility_state;
	char township_id[MS_TOWNSHIP_LEN + 1];
	bool farmer;
	char phone_masked[MS_MAX_PHONE + 1];
	uint64_t last_seq;
	/* private */
	bool has_index;
	uint8_t index[IDNUM_INDEX_LEN];
	char phone[MS_MAX_PHONE + 1];
	char national_ref[MS_MAX_REF + 1];
};

/* ------------------------------------------------------ records (membership.c) */

/* Load a record: 0, MDB_NOTFOUND, MDB_CORRUPTED, or an LMDB error. */
int membership_org_load(struct membership *m, MDB_txn *txn, const char *org_id,
    struct org_rec *o);
int membership_org_store(struct membership *m, MDB_txn *txn,
    const struct org_rec *o);
int membership_member_load(struct membership *m, MDB_txn *txn,
    const char *member_id, struct member_rec *r);
int membership_member_store(struct membership *m, MDB_txn *txn,
    const struct member_rec *r);
/* Fill a caller-initialised view from a record; strings point into the
 * record, so the view lives no longer than it. */
void membership_org_view(const struct org_rec *o, Jiceng__V1__OrgView *v);
void membership_member_view(const struct member_rec *r,
    Jiceng__V1__MemberView *v, char *ids[MS_MAX_ACTIVITY]);

/* Two-part keys "a NUL b" of the children and roster tables. */
int membership_pair_put(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b);
int membership_pair_del(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b);
/* Split a pair key whose first part is a: copies the second part into
 * b[CODEC_MAX_ID + 1]. False when the key does not start with a NUL. */
bool membership_pair_split(const MDB_val *k, const char *a, char *b);
/* Call fn for each sub-org of org_id, in key order, until it returns
 * non-zero (returned) or sets *stop. Returns 0 or an LMDB error. */
typedef int (*membership_child_fn)(void *arg, const char *child, bool *stop);
int membership_children_each(struct membership *m, MDB_txn *txn, const char *org_id,
    membership_child_fn fn, void *arg);

/* Add an audit entry (a finding that no ack can carry) under seq:
 * key seq BE8 + entry number BE4; value format byte, then org_id, rule and
 * text, each as u16 BE length + bytes. Returns 0, EINVAL when org_id is
 * not a usable id or rule or text is longer than MS_AUDIT_CODE_MAX or
 * MS_AUDIT_TEXT_MAX bytes (a bug of the caller), or an LMDB error. */
int membership_audit_add(struct membership *m, MDB_txn *txn, uint64_t seq,
    const char *org_id, const char *rule, const char *text);

/* The key of audit entry index under seq. */
void membership_audit_key(uint8_t kb[12], uint64_t seq, uint32_t index);
/* An audit entry as stored, decoded. */
#define MS_AUDIT_CODE_MAX 23
#define MS_AUDIT_TEXT_MAX 511
struct audit_entry {
	uint64_t seq;                    /* of the event that wrote it */
	uint32_t index;                  /* its number under seq, from 0 */
	char org_id[CODEC_MAX_ID + 1];
	char code[MS_AUDIT_CODE_MAX + 1];  /* the rule: "O3", "O4" */
	char text[MS_AUDIT_TEXT_MAX + 1];
};
/* Decode the entry at key k, value d: 0 or MDB_CORRUPTED. */
int membership_audit_decode(const MDB_val *k, const MDB_val *d,
    struct audit_entry *e);

/* ------------------------------------------------------ context (membership.c) */

/* The township the broker authenticated for the event. */
const char *membership_ev_township(const struct event_ctx *ev);
/* The rules in force (the defaults when the context carries none). */
const Rules *membership_ev_rules(const struct event_ctx *ev, Rules *buf);

/* Org kinds by rank. */
bool membership_kind_branch(int kind);    /* the four 支部 kinds */
bool membership_kind_valid(int kind);
/* "乡镇党委" and "township committee". */
const char *membership_kind_zh(int kind);
const char *membership_kind_en(int kind);
/* Does a member of this status count as a member of its org? */
bool membership_status_counted(int status);

/* What an org is to the event, for the reason text. */
enum ms_role { MS_ROLE_ORG, MS_ROLE_PARENT, MS_ROLE_HOME, MS_ROLE_ACTIVITY };
#define MS_LIVE          0x1   /* must not be dissolved */
#define MS_ANY_TOWNSHIP  0x2   /* may belong to another township */

/* Require org_id to exist (UNKNOWN_ORG), to belong to the event's township
 * unless MS_ANY_TOWNSHIP (WRONG_TOWNSHIP) and, with MS_LIVE, not to be
 * dissolved (ORG_DISSOLVED). On a rule failure v is a rejection and 0 is
 * returned: callers test `rc || !v->accepted`. */
int membership_org_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *org_id, enum ms_role role,
    unsigned flags, struct org_rec *o, struct verdict *v);
/* Require member_id to exist (UNKNOWN_MEMBER) in the event's township. */
int membership_member_require(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const char *member_id, struct member_rec *r,
    struct verdict *v);

/* A member's contribution to its home org's counts moves from before (NULL
 * for a new member) to after: adjusts the stored counts of both home orgs
 * and warns O4 when a count crosses its limit. */
int membership_counts_update(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const struct member_rec *before,
    const struct member_rec *after, struct verdict *v);
/* Members (counted) of org_id and all orgs below it. */
int membership_subtree_counts(struct membership *m, MDB_txn *txn,
    const char *org_id, uint32_t *total, uint32_t *full);

/* ------------------------------------------------------ calendar (membership.c) */

/* The calendar date in China Standard Time (UTC+8) of a Unix ms instant. */
void membership_cst_date(int64_t ms, int *y, int *mo, int *d);
/* The same CST wall-clock time `months` calendar months later; a day past
 * the end of the month becomes its last day (29 Feb + 1 year = 28 Feb). */
int64_t membership_add_months(int64_t ms, int months);
/* Parse a real date "YYYY-MM-DD" (years 1800-2099). */
bool membership_date_parse(const char *s, int *y, int *mo, int *d);
/* Completed years of age at instant `at` (CST) for a birth date. */
int membership_age_at(int by, int bm, int bd, int64_t at);
/* The CST day number (days since 1970-01-01) of a Unix ms instant. */
int64_t membership_cst_days(int64_t ms);
/* Is t a usable event time (0 < t <= MS_TIME_MAX)? */
bool membership_time_valid(int64_t t);
/* Check the time `field` of an event about `id` (zh: the field's Chinese
 * name). 0 means "not given" and is refused only when required. Rejects
 * BAD_FIELD when missing, negative or past MS_TIME_MAX; FUTURE_TIME when
 * later than the journal time plus MS_TIME_SKEW_MS. Returns 0. */
int membership_time_check(const struct event_ctx *ev, int64_t t, bool required,
    const char *zh, const char *field, const char *id, struct verdict *v);

/* ------------------------------------------------------ events (orgs.c, members.c) */

int membership_apply_org_established(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_org_updated(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_org_dissolved(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
/* Tick duty: the O3 audit of branches whose grace period ended. */
int membership_orgs_o3_audit(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);
/* O5: may org o hold members' relationships? A Party group is judged by
 * the branch it belongs to. Rejects O5 for a temporary branch; returns 0
 * or an LMDB error. */
int membership_orgs_o5_home(struct membership *m, MDB_txn *txn,
    const struct org_rec *o, struct verdict *v);

int membership_apply_member_registered(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_admitted(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_confirmed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_probation_extended(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_status_changed(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);
int membership_apply_member_updated(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

#endif
