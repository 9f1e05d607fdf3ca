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

#endif
