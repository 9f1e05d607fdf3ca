/*
 * meetings: the meetings domain (三会一课 and the rest, DOMAIN.md M1-M5):
 * the events MeetingHeld and AppraisalRecorded, the meeting records with
 * their attendance, quorum marks and appraisal, what each member attended
 * month by month (for the inactivity report), and an org's meetings by
 * time. A domain module (domain.h) over the membership tables of the same
 * environment: it reads who belongs where, hosted mobile members
 * included, through the record layer, and writes only its own tables.
 *
 * The read side (meetings_query.c) answers GetMeeting, ListMeetings and
 * GetAttendance (query.proto) from a read transaction.
 */
#ifndef JICENG_MEETINGS_H
#define JICENG_MEETINGS_H

#include <lmdb.h>

#include "codec.h"
#include "domain.h"

/* How many named databases the module opens (its max_dbs). */
#define MEETINGS_MAX_DBS 4

extern const struct domain_module meetings_module;

/* The module's handle (meetings_module.open's *state). */
struct meetings;

/* ------------------------------------------------ read side (query server) */

/* Each view, and each list with its views, is allocated whole as
 * protobuf-c's unpack allocates a message and freed by the matching
 * meetings_free_* call, which also clears the caller's pointer. On any
 * error *out is NULL. */

/* The meeting meeting_id. Returns 0, MDB_NOTFOUND, MDB_CORRUPTED, ENOMEM
 * or an LMDB error. */
int meetings_get(struct meetings *mt, MDB_txn *txn, const char *meeting_id,
    Jiceng__V1__MeetingView **out);
void meetings_free_meeting(Jiceng__V1__MeetingView **v);

/* A page of org_id's meetings, ordered by held_at then meeting_id, held
 * from the first instant of from_month to the last of to_month (CST,
 * YYYYMM; 0: unbounded), after the meeting `after` ("" or NULL: from the
 * first), at most limit (0: 100; at most 1000). out->next_after is the
 * last meeting_id of a full page that more follow, else "". Returns 0,
 * MDB_NOTFOUND for an unknown org, EINVAL for a month that is not real,
 * from after to, or an `after` that is not a meeting of org_id,
 * MDB_CORRUPTED, ENOMEM, or an LMDB error. */
int meetings_list(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int from_month, int to_month, const char *after, unsigned limit,
    Jiceng__V1__MeetingList **out);
void meetings_free_list(Jiceng__V1__MeetingList **l);

/* What member_id attended in each month from from_month to to_month
 * (YYYYMM, 0: unbounded) in which it attended anything. Returns 0,
 * MDB_NOTFOUND for an unknown member, EINVAL for a month that is not
 * real or from after to, MDB_CORRUPTED, ENOMEM, or an LMDB error. */
int meetings_attendance(struct meetings *mt, MDB_txn *txn,
    const char *member_id, int from_month, int to_month,
    Jiceng__V1__AttendanceList **out);
void meetings_free_attendance(Jiceng__V1__AttendanceList **l);

/* The township of a meeting (its org's), for authorisation: copied into
 * out[16]. Returns 0, MDB_NOTFOUND, MDB_CORRUPTED or an LMDB error. */
int meetings_township(struct meetings *mt, MDB_txn *txn,
    const char *meeting_id, char out[16]);

/* ------------------------------------------------ for the reports (reports.h) */

#define MEETINGS_TALLY_MONTHS 12   /* a tally spans a year at most */
#define MEETINGS_TYPES 8           /* MeetingType values are 1-7 */

/* An org's meeting records by type and month: held[t][i] counts the
 * records of type t held in the tally's month i (its first month is 0)
 * that count, not_counted[t][i] those that do not: an inquorate assembly
 * (M2) for BRANCH_ASSEMBLY, an inquorate committee meeting (M3) for
 * BRANCH_COMMITTEE. A record counts once for each of its types. */
struct meetings_tally {
	uint32_t held[MEETINGS_TYPES][MEETINGS_TALLY_MONTHS];
	uint32_t not_counted[MEETINGS_TYPES][MEETINGS_TALLY_MONTHS];
};

/* Add to *t the meetings of org_id held from the first instant of
 * from_month to the last of to_month (CST, YYYYMM; at most
 * MEETINGS_TALLY_MONTHS months, month i of the tally being from_month + i).
 * Cost: one seek, then one index entry and one record per meeting.
 * Returns 0, EINVAL (months not real, reversed or too many),
 * MDB_CORRUPTED, ENOMEM or an LMDB error. */
int meetings_tally_add(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int from_month, int to_month, struct meetings_tally *t);

/* The last month, up to `month` (YYYYMM), in which member_id attended a
 * meeting in any role, in *last (0: none). Returns 0, MDB_CORRUPTED,
 * ENOMEM or an LMDB error. */
int meetings_last_attended(struct meetings *mt, MDB_txn *txn,
    const char *member_id, int month, int *last);

#endif
