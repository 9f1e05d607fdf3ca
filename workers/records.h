/*
 * records: the membership module's storage. It owns the tables, the stored
 * record layouts and their keys, and the few helpers every rule file
 * shares (the event's township and rules, the time-field check). It holds
 * no rule: the rule files (orgs.c, members.c, transfers.c, mobility.c)
 * load and store records through it and never build an LMDB key
 * themselves, and where one domain acts on another's records (a transfer
 * closing a mobile episode) it does so through the functions here.
 *
 * Stored records are serialised explicitly, never as raw structs, so the
 * tables are the same byte for byte whoever folds the journal:
 *
 *   record = format byte (1)
 *            nextra x (u16 big-endian length, bytes)   private fields
 *            packed view (query.proto)                 the public view
 *
 * The view part holds exactly what a query shows (masked ID and phone only);
 * the private part holds what rules need and queries never show.
 */
#ifndef JICENG_RECORDS_H
#define JICENG_RECORDS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "civil.h"
#include "codec.h"
#include "idnum.h"
#include "membership.h"

#define MS_RECORD_FORMAT  1
#define MS_MAX_ACTIVITY   8     /* activity orgs per member (events.proto) */
#define MS_MAX_NAME       64    /* a member's name, bytes */
#define MS_MAX_PHONE      32
#define MS_MAX_REF        64    /* national_ref, bytes */
#define MS_TOWNSHIP_LEN   12
#define MS_AREA_LEN       12    /* an area code: 6 or 12 digits */
/* How far an event's own time may lie past its journal time (clock skew;
 * the tolerance DOMAIN.md gives M5). */
#define MS_TIME_SKEW_MS   (10 * 60 * 1000LL)

/* Every write of the module goes through these three, which count it: the
 * fold relies on a rejection having written nothing (membership_writes). */
int ms_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *d, unsigned flags);
int ms_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k);
int ms_cursor_del(MDB_cursor *c);

/* The module's tables (all keys and values explicit byte strings). Pair
 * keys are "a NUL b"; time keys are a big-endian u64 of the instant
 * offset by 2^63, so earlier instants (pre-1970 too) sort first. */
struct membership {
	MDB_dbi orgs;       /* "orgs": org_id -> org record */
	MDB_dbi members;    /* "members": member_id -> member record */
	MDB_dbi children;   /* "orgs_children": parent_id NUL child_id -> "" */
	MDB_dbi roster;     /* "members_by_org": home_org_id NUL member_id -> "" */
	MDB_dbi index;      /* "members_by_index": blind index (32) -> member_id */
	MDB_dbi meta;       /* "membership_meta": "rules" -> packed Rules */
	MDB_dbi audit;      /* "membership_audit": seq BE8, n BE4 -> audit entry */
	MDB_dbi o3;         /* "orgs_o3_pending": start BE8, org_id -> "" */
	MDB_dbi transfers;  /* "transfers": transfer_id -> transfer record */
	MDB_dbi tr_member;  /* "transfers_by_member": member_id NUL transfer_id -> "" */
	MDB_dbi tr_org;     /* "transfers_open_by_org": org_id NUL transfer_id -> "" */
	MDB_dbi tr_twp;     /* "transfers_open_by_township": township NUL transfer_id -> "" */
	MDB_dbi tr_expiry;  /* "transfers_expiry": valid_until (time key), transfer_id -> "" */
	MDB_dbi episodes;   /* "mobile_episodes": flow_id -> episode record */
	MDB_dbi ep_member;  /* "mobile_by_member": member_id NUL flow_id -> "" */
	MDB_dbi ep_org;     /* "mobile_open_by_org": org_id NUL flow_id -> "" */
	MDB_dbi ep_twp;     /* "mobile_open_by_township": township NUL flow_id -> "" */
	MDB_dbi ep_contact; /* "mobile_contact_due": last contact (time key), flow_id -> "" */
	MDB_dbi ep_review;  /* "mobile_review_due": last review (time key), flow_id -> "" */
	MDB_dbi hosted;     /* "mobile_hosted": host_org_id NUL member_id -> flow_id */
	MDB_dbi changes;    /* "status_log": seq BE8, index BE4 -> packed StatusChange */
	MDB_dbi current;    /* "status_current": member_id -> its latest StatusChange */
};

/* Open the tables in txn (flags: MDB_CREATE, or 0 read-only). Returns 0,
 * MDB_NOTFOUND (read-only, a table is missing), ENOMEM or an LMDB error. */
int records_open(MDB_txn *txn, unsigned flags, struct membership **out);
void records_close(struct membership **m);

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
	char transfer_id[CODEC_MAX_ID + 1];  /* latest transfer, "" if none */
	char flow_id[CODEC_MAX_ID + 1];      /* latest mobile episode, "" if none */
	char host_org_id[CODEC_MAX_ID + 1];  /* hosting org in the county now */
	bool transferred_out;                /* left the county by transfer */
	/* private */
	bool has_index;
	uint8_t index[IDNUM_INDEX_LEN];
	char phone[MS_MAX_PHONE + 1];
	char national_ref[MS_MAX_REF + 1];
};

/* An org outside the county. */
struct external_org {
	char area_code[MS_AREA_LEN + 1];
	char org_name[CODEC_MAX_TEXT + 1];
};

/* A transfer (TransferView in query.proto). No private part. */
struct transfer_rec {
	char transfer_id[CODEC_MAX_ID + 1];
	char member_id[CODEC_MAX_ID + 1];
	int state;                           /* Jiceng__V1__TransferState */
	char from_org_id[CODEC_MAX_ID + 1];
	char from_township_id[MS_TOWNSHIP_LEN + 1];
	struct external_org from_external;   /* area_code "" when in the county */
	char to_org_id[CODEC_MAX_ID + 1];
	char to_township_id[MS_TOWNSHIP_LEN + 1];
	struct external_org to_external;
	char letter_no[CODEC_MAX_ID + 1];
	int64_t issued_at;
	uint32_t valid_days;
	int64_t valid_until;
	int32_t dues_paid_through;
	int64_t received_at, receipt_returned_at, closed_at;
	char reason[CODEC_MAX_TEXT + 1];
	uint64_t opened_seq, last_seq;
	char closed_flow_id[CODEC_MAX_ID + 1];
};

/* A mobile episode (MobileEpisodeView in query.proto). No private part. */
struct episode_rec {
	char flow_id[CODEC_MAX_ID + 1];
	char member_id[CODEC_MAX_ID + 1];
	int state;                           /* Jiceng__V1__MobilityState */
	char home_org_id[CODEC_MAX_ID + 1];
	char home_township_id[MS_TOWNSHIP_LEN + 1];
	char destination_code[MS_AREA_LEN + 1];
	char host_org_id[CODEC_MAX_ID + 1];
	char host_org_name[CODEC_MAX_TEXT + 1];
	char host_township_id[MS_TOWNSHIP_LEN + 1];
	char expected_host_org_id[CODEC_MAX_ID + 1];
	char reason[CODEC_MAX_TEXT + 1];
	uint32_t expected_months;
	char certificate_no[CODEC_MAX_ID + 1];
	bool fixed_place;
	int64_t departed_at, reported_at, last_contact_at, certificate_reviewed_at;
	int64_t returned_at, lost_contact_since;
	int64_t review_overdue_at;           /* journal time of the latest L4 finding */
	char closed_by_transfer_id[CODEC_MAX_ID + 1];
	uint64_t opened_seq, last_seq;
};

/* ------------------------------------------------------ records */

/* Load a record: 0, MDB_NOTFOUND, MDB_CORRUPTED, or an LMDB error. */
int records_org_load(struct membership *m, MDB_txn *txn, const char *org_id,
    struct org_rec *o);
int records_org_store(struct membership *m, MDB_txn *txn,
    const struct org_rec *o);
int records_member_load(struct membership *m, MDB_txn *txn,
    const char *member_id, struct member_rec *r);
int records_member_store(struct membership *m, MDB_txn *txn,
    const struct member_rec *r);
int records_transfer_load(struct membership *m, MDB_txn *txn,
    const char *transfer_id, struct transfer_rec *t);
int records_episode_load(struct membership *m, MDB_txn *txn,
    const char *flow_id, struct episode_rec *e);
/* Fill a caller-initialised view from a record; strings point into the
 * record, so the view lives no longer than it. */
void records_org_view(const struct org_rec *o, Jiceng__V1__OrgView *v);
void records_member_view(const struct member_rec *r,
    Jiceng__V1__MemberView *v, char *ids[MS_MAX_ACTIVITY]);
void records_transfer_view(const struct transfer_rec *t,
    Jiceng__V1__TransferView *v, Jiceng__V1__ExternalOrg *from,
    Jiceng__V1__ExternalOrg *to);
void records_episode_view(const struct episode_rec *e,
    Jiceng__V1__MobileEpisodeView *v);

/* Any domain's records: a view message (query.proto) stored under key in
 * dbi, as the record format above with no private part. put returns 0,
 * EINVAL (key not a usable id) or an LMDB error; get returns 0 with *view
 * unpacked (free with protobuf_c_message_free_unpacked(*view, NULL)),
 * MDB_NOTFOUND, MDB_CORRUPTED or an LMDB error. */
int records_view_put(MDB_txn *txn, MDB_dbi dbi, const char *key,
    const ProtobufCMessage *view);
int records_view_get(MDB_txn *txn, MDB_dbi dbi, const char *key,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **view);
/* The same under a pair key "a NUL b" (a table of the pair kind below
 * whose entries carry a record): put returns 0, EINVAL (a or b not a
 * usable id) or an LMDB error; get as records_view_get. */
int records_pair_view_put(MDB_txn *txn, MDB_dbi dbi, const char *a,
    const char *b, const ProtobufCMessage *view);
int records_pair_view_get(MDB_txn *txn, MDB_dbi dbi, const char *a,
    const char *b, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage **view);

/* Store a transfer with its indexes: by member always; among the open
 * transfers of its orgs and townships while ISSUED or RECEIVED; in the
 * expiry index while ISSUED. before is the stored record (NULL for a new
 * one), whose index entries are replaced. Returns 0 or an LMDB error. */
int records_transfer_store(struct membership *m, MDB_txn *txn,
    const struct transfer_rec *before, const struct transfer_rec *t);
/* Store an episode with its indexes: by member always; among the open
 * episodes of its home and host orgs and townships, and in the review
 * index (keyed by the latest of departure, review and L4 finding), while
 * open; in the contact index (keyed by last_contact_at) while open and not
 * LOST_CONTACT; hosted by host_org_id while open with a host in the
 * county. before as for transfers. */
int records_episode_store(struct membership *m, MDB_txn *txn,
    const struct episode_rec *before, const struct episode_rec *e);
/* Is an episode in this state open (AWAITING_REPORT, REPORTED,
 * LOST_CONTACT)? */
bool records_episode_open(int state);

/* Call fn for each id keyed under `due` (a time index: tr_expiry,
 * ep_contact, ep_review) whose time t has due(arg, t) true, in time
 * order, stopping at the first t for which it is false. The ids are
 * collected first, so fn may store records (and so move their entries).
 * Returns 0, fn's non-zero result, ENOMEM or an LMDB error. */
typedef bool (*records_due_fn)(void *arg, int64_t t);
typedef int (*records_id_fn)(void *arg, const char *id);
int records_due_each(MDB_txn *txn, MDB_dbi index, records_due_fn due,
    records_id_fn fn, void *arg);

/* Call fn for each org, in org_id order, until it returns non-zero
 * (returned) or sets *stop. Returns 0, MDB_CORRUPTED or an LMDB error. */
typedef int (*records_org_fn)(void *arg, const struct org_rec *o, bool *stop);
int records_orgs_each(struct membership *m, MDB_txn *txn, records_org_fn fn, void *arg);

/* Two-part keys "a NUL b" of the pair tables. */
int records_pair_put(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b);
int records_pair_del(MDB_txn *txn, MDB_dbi dbi, const char *a, const char *b);
/* Split a pair key whose first part is a: copies the second part into
 * b[CODEC_MAX_ID + 1]. False when the key does not start with a NUL. */
bool records_pair_split(const MDB_val *k, const char *a, char *b);
/* Call fn for each second part b of the pair keys "a NUL b" of dbi after
 * `after` (exclusive; "" for the first), in key order, until it returns
 * non-zero (returned) or sets *stop. Returns 0 or an LMDB error. */
typedef int (*records_pair_fn)(void *arg, const char *b, bool *stop);
int records_pair_each(MDB_txn *txn, MDB_dbi dbi, const char *a,
    const char *after, records_pair_fn fn, void *arg);
/* Each sub-org of org_id, in key order (records_pair_each on children). */
int records_children_each(struct membership *m, MDB_txn *txn, const char *org_id,
    records_pair_fn fn, void *arg);

/* ------------------------------------------------------ audit */

/* Add an audit entry (a finding that no ack can carry) under seq:
 * key seq BE8 + entry number BE4; value format byte, then org_id, rule and
 * text, each as u16 BE length + bytes. Returns 0, EINVAL when org_id is
 * not a usable id or rule or text is longer than MS_AUDIT_CODE_MAX or
 * MS_AUDIT_TEXT_MAX bytes (a bug of the caller), or an LMDB error. */
int records_audit_add(struct membership *m, MDB_txn *txn, uint64_t seq,
    const char *org_id, const char *rule, const char *text);

/* The key of audit or change-log entry index under seq, and back: false
 * when k is not such a key. */
void records_seq_key(uint8_t kb[12], uint64_t seq, uint32_t index);
bool records_seq_key_split(const MDB_val *k, uint64_t *seq, uint32_t *index);
/* An audit entry as stored, decoded. */
#define MS_AUDIT_CODE_MAX 23
#define MS_AUDIT_TEXT_MAX 511
struct audit_entry {
	uint64_t seq;                    /* of the event that wrote it */
	uint32_t index;                  /* its number under seq, from 0 */
	char org_id[CODEC_MAX_ID + 1];
	char code[MS_AUDIT_CODE_MAX + 1];  /* the rule: "O3", "O4", "L4" */
	char text[MS_AUDIT_TEXT_MAX + 1];
};
/* Decode the entry at key k, value d: 0 or MDB_CORRUPTED. */
int records_audit_decode(const MDB_val *k, const MDB_val *d,
    struct audit_entry *e);

/* ------------------------------------------------------ change log */

/* Append to the change log the change of member `after` that the event ev
 * made (before: the member as it was, NULL for a new member; ep: the
 * episode concerned, if any): its mobility and transfer state, home and
 * host org, the episode's county-level place. Writes nothing when none of
 * those changed. Key (ev->seq, next index under it); the entry also
 * becomes the member's latest in status_current (the snapshot). Returns 0
 * or an LMDB error. */
int records_change_log(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, const struct member_rec *before,
    const struct member_rec *after, const struct episode_rec *ep);

/* Prune the change log at a Tick: the oldest entries beyond
 * status.retention_changes, and those older than status.retention_days
 * before the Tick's journal time. The key of the last pruned entry is
 * kept (records_change_pruned). Returns 0 or an LMDB error. */
int records_change_prune(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev);
/* The (seq, index) of the last entry pruned from the change log; 0, 0
 * when none was. Returns 0 or an LMDB error. */
int records_change_pruned(struct membership *m, MDB_txn *txn, uint64_t *seq,
    uint32_t *index);

/* ------------------------------------------------------ context */

/* The township the broker authenticated for the event. */
const char *records_ev_township(const struct event_ctx *ev);
/* The rules in force (the defaults when the context carries none). */
const Rules *records_ev_rules(const struct event_ctx *ev, Rules *buf);

/* The earliest business date of any event: 1900-01-01 00:00 CST
 * (civil_cst_midnight(1900, 1, 1)). Dates before 1970 are negative Unix ms,
 * as valid as any other: a county's veterans were admitted in the 1950s. */
#define RECORDS_TIME_MIN (-2209017600000LL)
/* Is t a usable event time (RECORDS_TIME_MIN <= t <= CIVIL_TIME_MAX)? */
bool records_time_valid(int64_t t);
/* Check the time `field` of an event about `id` (zh: the field's Chinese
 * name). 0 means "not given" and is refused only when required (so the one
 * instant 1970-01-01 08:00 CST cannot be given). Rejects BAD_FIELD when
 * missing, before RECORDS_TIME_MIN or past CIVIL_TIME_MAX; FUTURE_TIME
 * when later than the journal time plus MS_TIME_SKEW_MS. Returns 0. */
int records_time_check(const struct event_ctx *ev, int64_t t, bool required,
    const char *zh, const char *field, const char *id, struct verdict *v);

#endif
