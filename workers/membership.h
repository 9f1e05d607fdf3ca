/*
 * membership: organisations, members, transfers and mobile-member episodes
 * (DOMAIN.md, "Membership"). Every worker embeds this module and applies it
 * to its own environment from the same events; the membership worker alone
 * answers for these events and publishes status changes.
 *
 * Rules are pure functions over an LMDB write transaction and a decoded
 * event: no clock, no randomness, no other process's state. The same
 * journal always yields the same tables, byte for byte.
 *
 * Implemented here: organisations and members (O1-O6, R1-R4), the ID-number
 * blind index and masking, Tick, RulesChanged. Transfers and mobility come
 * with their own files (workers/transfers.c, workers/mobility.c).
 */
#ifndef JICENG_MEMBERSHIP_H
#define JICENG_MEMBERSHIP_H

#include <lmdb.h>
#include <stdbool.h>

#include "apply.h"
#include "codec.h"

/* How many named databases the module opens, to size mdb_env_set_maxdbs. */
#define MEMBERSHIP_MAX_DBS 24

struct membership;

/* Open (creating when absent) the module's databases in txn, which must be
 * a write transaction on a fresh or existing environment; the handles stay
 * valid for the life of the environment. Returns 0, or an LMDB error code. */
int membership_open(MDB_txn *txn, struct membership **out);
/* Open the databases read-only (query server): txn is a read transaction.
 * Returns 0, MDB_NOTFOUND if the environment has none yet, or an LMDB error. */
int membership_open_readonly(MDB_txn *txn, struct membership **out);
void membership_destroy(struct membership **m);

/* Does the membership module answer for this event kind? */
bool membership_owns(EventCase c);

/* Apply one event inside the write transaction txn. A rejection is decided
 * before the first write, so it leaves txn as it was; membership_writes()
 * lets the caller check that (it undoes the batch if ever it is not).
 * Changes of a member's mobility or transfer state, home or host org go
 * to the change log in txn (membership_changes_each reads them back).
 * Tick and RulesChanged are applied by every worker; events the module
 * does not own are ignored (accepted, no change).
 * Returns 0 with v filled, or an LMDB error code (the caller retries or
 * dies: an LMDB error is never a verdict). */
int membership_apply(struct membership *m, MDB_txn *txn,
    const struct event_ctx *ev, struct verdict *v);

/* Writes the module has made so far in this process (a counter). */
uint64_t membership_writes(void);
/* Change-log entries the module has written so far in this process. */
uint64_t membership_changes_written(void);

/* Call fn for each change-log entry with seq in [from, to], in (seq,
 * index) order: the packed StatusChange (status.proto), pointing into the
 * map. Returns 0 or an LMDB error. */
typedef void (*membership_change_fn)(void *arg, uint64_t seq,
    const void *packed, size_t len);
int membership_changes_each(struct membership *m, MDB_txn *txn, uint64_t from,
    uint64_t to, membership_change_fn fn, void *arg);

/* The rule settings in force (from the last RulesChanged applied, else the
 * defaults). Returns 0 or an LMDB error. */
int membership_rules(struct membership *m, MDB_txn *txn, Rules *out);

/* ------------------------------------------------ read side (query server) */

/* Fill an OrgView (caller-initialised with jiceng__v1__org_view__init) for
 * org_id, with its direct children; the org and each child carry their
 * direct and subtree member counts (query.proto). Walks the org's subtree
 * once: linear in the orgs below it, no table scan. Strings and arrays are
 * malloc'd; free with membership_free_org_view. Returns 0, MDB_NOTFOUND,
 * MDB_CORRUPTED (a broken tree or counts), ENOMEM, or an LMDB error. */
int membership_get_org(struct membership *m, MDB_txn *txn, const char *org_id,
    Jiceng__V1__OrgView *out);
void membership_free_org_view(Jiceng__V1__OrgView *v);

/* Fill a MemberView: masked ID and phone only, never the clear values. */
int membership_get_member(struct membership *m, MDB_txn *txn,
    const char *member_id, Jiceng__V1__MemberView *out);
void membership_free_member_view(Jiceng__V1__MemberView *v);

/* Members whose home org is org_id, ordered by member_id, after `after`
 * (exclusive; "" for the start), at most limit (0: 100; at most 1000).
 * Returns 0, MDB_NOTFOUND for an unknown org, or an LMDB error. */
int membership_list_members(struct membership *m, MDB_txn *txn,
    const char *org_id, const char *after, unsigned limit,
    Jiceng__V1__MemberList *out);
void membership_free_member_list(Jiceng__V1__MemberList *l);

/* A page of the audit table (query.proto, ListAudit): the entries from
 * (since_seq, since_index) on, in that order, about orgs of township_id
 * ("" or NULL: every township), at most limit (0: 100; at most 1000).
 * out->next_seq and next_index name the entry after a full page (0 when
 * none follows). Strings and arrays are malloc'd; free with
 * membership_free_audit_list. Returns 0 (an empty table gives an empty
 * list), MDB_CORRUPTED, ENOMEM, or an LMDB error. */
int membership_list_audit(struct membership *m, MDB_txn *txn,
    const char *township_id, uint64_t since_seq, uint32_t since_index,
    unsigned limit, Jiceng__V1__AuditList *out);
void membership_free_audit_list(Jiceng__V1__AuditList *l);

/* The township of an org or member, for authorisation: copies it into
 * out[16]. Returns 0, MDB_NOTFOUND, or an LMDB error. */
int membership_org_township(struct membership *m, MDB_txn *txn,
    const char *org_id, char out[16]);
int membership_member_township(struct membership *m, MDB_txn *txn,
    const char *member_id, char out[16]);

/* Transfers (组织关系转接) and mobile episodes (流动党员). Each view, and
 * each list with its views, is allocated whole as protobuf-c's unpack
 * allocates a message (a view is the stored record's view, packed and
 * unpacked), and freed by the matching membership_free_* call, which also
 * clears the caller's pointer. On any error *out is NULL. */

/* The transfer transfer_id. Returns 0, MDB_NOTFOUND, MDB_CORRUPTED,
 * ENOMEM, or an LMDB error. */
int membership_get_transfer(struct membership *m, MDB_txn *txn,
    const char *transfer_id, Jiceng__V1__TransferView **out);
void membership_free_transfer(Jiceng__V1__TransferView **v);

/* What a list of transfers or episodes is about. */
enum membership_by {
	MEMBERSHIP_BY_MEMBER,    /* a member: its history, closed ones included */
	MEMBERSHIP_BY_ORG,       /* an org: the open ones where it is a side */
	MEMBERSHIP_BY_TOWNSHIP   /* a township: the open ones where it is a side */
};

/* A page of transfers, ordered by transfer_id, after `after` (exclusive;
 * "" or NULL for the first page), at most limit (0: 100; at most 1000):
 * by MEMBERSHIP_BY_MEMBER every transfer of member id; by org or township
 * the open ones (TRANSFER_ISSUED, TRANSFER_RECEIVED) where id is the
 * sending or the receiving side. out->next_after is the last transfer_id
 * of a full page that more follow, else "". Returns 0 (an unknown
 * township gives an empty page), MDB_NOTFOUND for an unknown member or
 * org, EINVAL for an empty id, MDB_CORRUPTED (an index names a missing
 * transfer), ENOMEM, or an LMDB error. */
int membership_list_transfers(struct membership *m, MDB_txn *txn,
    enum membership_by by, const char *id, const char *after, unsigned limit,
    Jiceng__V1__TransferList **out);
void membership_free_transfer_list(Jiceng__V1__TransferList **l);

/* The mobile episode flow_id; as membership_get_transfer. */
int membership_get_episode(struct membership *m, MDB_txn *txn,
    const char *flow_id, Jiceng__V1__MobileEpisodeView **out);
void membership_free_episode(Jiceng__V1__MobileEpisodeView **v);

/* A page of mobile episodes, as membership_list_transfers: by member every
 * episode of the member; by org or township the open ones
 * (records_episode_open) where id is the home or the host side. state
 * (Jiceng__V1__MobilityState) keeps the episodes in that state only; 0
 * (NOT_MOBILE) keeps every one. By org or township a state that is not
 * open is EINVAL, as is an empty id. */
int membership_list_episodes(struct membership *m, MDB_txn *txn,
    enum membership_by by, const char *id, int state, const char *after,
    unsigned limit, Jiceng__V1__MobileEpisodeList **out);
void membership_free_episode_list(Jiceng__V1__MobileEpisodeList **l);
/* Is an episode in this state (Jiceng__V1__MobilityState) open:
 * AWAITING_REPORT, REPORTED or LOST_CONTACT? */
bool membership_episode_state_open(int state);

/* The townships of a transfer (sending, receiving) or an episode (home,
 * host), for authorisation: each copied into its out[16], "" when that
 * side is outside the county or not known yet. Returns 0, MDB_NOTFOUND,
 * MDB_CORRUPTED, or an LMDB error. */
int membership_transfer_townships(struct membership *m, MDB_txn *txn,
    const char *transfer_id, char from[16], char to[16]);
int membership_episode_townships(struct membership *m, MDB_txn *txn,
    const char *flow_id, char home[16], char host[16]);

/* ------------------------------------------------ the status stream's log */

/* The (seq, index) of the change log's latest entry, (0, 0) when nothing
 * was ever logged (the heartbeat's). Returns 0 or an LMDB error. */
int membership_changes_head(struct membership *m, MDB_txn *txn, uint64_t *seq,
    uint32_t *index);

/* Which changes a reader wants: those of members of township_id (home
 * township) or hosted by its orgs (host township), and/or whose home or
 * host org is org_id or below it — after the change, or, in catch-up,
 * before it (the change that takes a member away). "" or NULL: no
 * condition. */
struct membership_status_filter {
	const char *township_id;
	const char *org_id;
};
/* Called with each packed StatusChange (status.proto) that passes the
 * filter; leaves: it passes only by what the member was before the change
 * (its previous township or org), so the member no longer falls under the
 * filter. A non-zero return stops the walk and is returned. */
typedef int (*membership_status_fn)(void *arg, const void *packed, size_t len, bool leaves);

/* The snapshot: every member's latest change (what a replica that applied
 * the whole stream holds), in member_id order, as of txn. Returns 0, fn's
 * result, MDB_NOTFOUND (org_id unknown), ENOMEM or an LMDB error. */
int membership_status_snapshot(struct membership *m, MDB_txn *txn,
    const struct membership_status_filter *f, membership_status_fn fn, void *arg);

/* Catch-up: the change log's entries after (after_seq, after_index), in
 * order, at most limit of them that pass the filter; *next_seq and
 * *next_index name the last entry examined (where the next page starts)
 * and *more says whether entries follow it. *expired is set, and nothing
 * is returned, when entries after the cursor have been pruned (the reader
 * must take a snapshot); *pruned_seq is then the last pruned seq.
 * Returns 0, fn's result, MDB_NOTFOUND (org_id unknown), ENOMEM or an
 * LMDB error. */
int membership_status_since(struct membership *m, MDB_txn *txn,
    uint64_t after_seq, uint32_t after_index,
    const struct membership_status_filter *f, unsigned limit,
    membership_status_fn fn, void *arg, uint64_t *next_seq, uint32_t *next_index,
    bool *more, bool *expired, uint64_t *pruned_seq);

#endif
