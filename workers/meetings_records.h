/*
 * meetings_records: the meetings domain's storage. It owns the module's
 * tables, their keys and the stored meeting record; the rules
 * (meetings.c) and the read side (meetings_query.c) load, store and walk
 * meetings through it and never build a key themselves. The membership
 * tables of the same environment stay the record layer's (records.h).
 *
 * A meeting is stored as records_view_put stores any domain's record: its
 * MeetingView (query.proto), which holds everything the rules keep.
 */
#ifndef JICENG_MEETINGS_RECORDS_H
#define JICENG_MEETINGS_RECORDS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "records.h"

/* The module's handle: its tables, and the membership module of the same
 * environment. Keys are explicit byte strings; a time key is the
 * instant's big-endian u64 offset by 2^63 (records.h), so earlier
 * instants, pre-1970 ones too, sort first. */
struct meetings {
	struct membership *m;
	MDB_dbi records;     /* "meetings_records": meeting_id -> record (MeetingView) */
	MDB_dbi by_org;      /* "meetings_by_org": org_id NUL time key (8) NUL meeting_id -> "" */
	MDB_dbi attendance;  /* "meetings_attendance": member_id NUL "YYYYMM" -> meeting_id, one
	                      * value per meeting (MDB_DUPSORT, in meeting_id order) */
	MDB_dbi appraisals;  /* "meetings_appraisals": org_id NUL "YYYY" -> meeting_id */
};

/* Open the tables in txn (flags: MDB_CREATE, or 0 read-only). Returns 0,
 * MDB_NOTFOUND (read-only, not created yet), ENOMEM or an LMDB error. */
int meetings_records_open(MDB_txn *txn, unsigned flags, struct membership *m,
    struct meetings **out);
void meetings_records_close(struct meetings **mt);

/* The meeting meeting_id: 0 with *v unpacked (free with
 * meetings_record_free), MDB_NOTFOUND, MDB_CORRUPTED or an LMDB error. */
int meetings_record_load(struct meetings *mt, MDB_txn *txn,
    const char *meeting_id, Jiceng__V1__MeetingView **v);
void meetings_record_free(Jiceng__V1__MeetingView **v);

/* Store a new meeting with its indexes: among its org's meetings by
 * held_at, and in the month of held_at (v->month) of each attendee.
 * Returns 0, EINVAL (an id not usable as a key: a bug of the caller) or
 * an LMDB error. */
int meetings_record_add(struct meetings *mt, MDB_txn *txn,
    const Jiceng__V1__MeetingView *v);
/* Store a meeting again, now carrying its appraisal (v->appraisal_year
 * and grades), and index the appraisal under its org and year. Returns 0,
 * EINVAL or an LMDB error. */
int meetings_record_appraise(struct meetings *mt, MDB_txn *txn,
    const Jiceng__V1__MeetingView *v);

/* The meeting whose appraisal of org_id for year is recorded, copied into
 * meeting_id[CODEC_MAX_ID + 1]. Returns 0, MDB_NOTFOUND, MDB_CORRUPTED or
 * an LMDB error. */
int meetings_appraisal_find(struct meetings *mt, MDB_txn *txn,
    const char *org_id, int year, char *meeting_id);

/* Call fn for each meeting of org_id held in [from, to] (Unix ms), in
 * (held_at, meeting_id) order, starting after the meeting (after_at,
 * after_id) when after_id is not NULL, until fn returns non-zero
 * (returned) or sets *stop. Returns 0 or an LMDB error. */
typedef int (*meetings_id_fn)(void *arg, const char *meeting_id, bool *stop);
int meetings_by_org_each(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int64_t from, int64_t to, int64_t after_at, const char *after_id,
    meetings_id_fn fn, void *arg);

/* Call fn for each month (YYYYMM) in [from_month, to_month] in which
 * member_id attended anything, in order, with the meetings attended that
 * month (count ids, in meeting_id order; the ids point into the map and
 * live as long as txn's view of them). Returns 0, fn's non-zero result,
 * ENOMEM, MDB_CORRUPTED or an LMDB error. */
typedef int (*meetings_month_fn)(void *arg, int month, const char *const *ids,
    size_t count);
int meetings_attendance_each(struct meetings *mt, MDB_txn *txn,
    const char *member_id, int from_month, int to_month,
    meetings_month_fn fn, void *arg);

#endif
