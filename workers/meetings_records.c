/*
 * meetings_records: the meetings domain's tables, keys and stored records
 * (meetings_records.h).
 */
#include "meetings_records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be64.h"
#include "meetings.h"

/* "YYYYMM" and "YYYY": years 1900-9999 have four digits, so the text
 * sorts as the number. */
#define MONTH_LEN 6
#define YEAR_LEN  4

static const char *const s_dbi_names[] = {
	"meetings_records", "meetings_by_org", "meetings_attendance",
	"meetings_appraisals",
};

int
meetings_records_open(MDB_txn *txn, unsigned flags, struct membership *m,
    struct meetings **out)
{
	struct meetings *mt = calloc(1, sizeof *mt);
	if (!mt)
		return ENOMEM;
	MDB_dbi *dbis[] = { &mt->records, &mt->by_org, &mt->attendance, &mt->appraisals };
	unsigned extra[] = { 0, 0, MDB_DUPSORT, 0 };
	int rc = 0;

	_Static_assert(sizeof s_dbi_names / sizeof s_dbi_names[0] <= MEETINGS_MAX_DBS,
	    "MEETINGS_MAX_DBS too small");
	_Static_assert(sizeof dbis / sizeof dbis[0] == sizeof s_dbi_names / sizeof s_dbi_names[0],
	    "one name per table");
	for (size_t i = 0; i < sizeof dbis / sizeof dbis[0] && rc == 0; i++)
		rc = mdb_dbi_open(txn, s_dbi_names[i], flags | extra[i], dbis[i]);
	if (rc) {
		free(mt);
		return rc;
	}
	mt->m = m;
	*out = mt;
	return 0;
}

void
meetings_records_close(struct meetings **mt)
{
	if (!mt || !*mt)
		return;
	free(*mt);
	*mt = NULL;
}

/* ---------------------------------------------------------- keys */

static bool
s_id_ok(const char *s)
{
	return s && *s && strlen(s) <= CODEC_MAX_ID;
}

/* org_id NUL time key NUL meeting_id; meeting_id may be "" (a seek). */
static MDB_val
s_org_key(uint8_t *buf, const char *org_id, int64_t t, const char *meeting_id)
{
	size_t lo = strlen(org_id), lm = strlen(meeting_id);
	MDB_val k = { lo + 1 + 8 + 1 + lm, buf };
	memcpy(buf, org_id, lo);
	buf[lo] = '\0';
	be64_put(buf + lo + 1, (uint64_t)t ^ (1ull << 63));
	buf[lo + 9] = '\0';
	memcpy(buf + lo + 10, meeting_id, lm);
	return k;
}
#define S_ORG_KEY_MAX (2 * CODEC_MAX_ID + 10)

/* a NUL the number n in `digits` decimal digits. */
static MDB_val
s_num_key(char *buf, const char *a, int n, int digits)
{
	size_t la = strlen(a);
	MDB_val k = { la + 1 + (size_t)digits, buf };
	memcpy(buf, a, la);
	buf[la] = '\0';
	snprintf(buf + la + 1, (size_t)digits + 1, "%0*d", digits, n);
	return k;
}
#define S_NUM_KEY_MAX (CODEC_MAX_ID + 1 + MONTH_LEN + 1)

/* The number after a NUL in a key whose first part is a, or -1. */
static int
s_num_split(const MDB_val *k, const char *a, int digits)
{
	size_t la = strlen(a);
	const char *p = k->mv_data;
	int n = 0;
	if (k->mv_size != la + 1 + (size_t)digits || memcmp(p, a, la) != 0 || p[la] != '\0')
		return -1;
	for (int i = 0; i < digits; i++) {
		char c = p[la + 1 + i];
		if (c < '0' || c > '9')
			return -1;
		n = n * 10 + (c - '0');
	}
	return n;
}

/* ---------------------------------------------------------- records */

int
meetings_record_load(struct meetings *mt, MDB_txn *txn, const char *meeting_id,
    Jiceng__V1__MeetingView **v)
{
	*v = NULL;
	return records_view_get(txn, mt->records, meeting_id,
	    &jiceng__v1__meeting_view__descriptor, (ProtobufCMessage **)v);
}

void
meetings_record_free(Jiceng__V1__MeetingView **v)
{
	if (v && *v) {
		jiceng__v1__meeting_view__free_unpacked(*v, NULL);
		*v = NULL;
	}
}

static int
s_attended(struct meetings *mt, MDB_txn *txn, const char *member_id, int month,
    const char *meeting_id)
{
	char buf[S_NUM_KEY_MAX];
	MDB_val k, d = { strlen(meeting_id), (void *)meeting_id };
	if (!s_id_ok(member_id))
		return EINVAL;
	k = s_num_key(buf, member_id, month, MONTH_LEN);
	return ms_put(txn, mt->attendance, &k, &d, MDB_NODUPDATA);
}

int
meetings_record_add(struct meetings *mt, MDB_txn *txn, const Jiceng__V1__MeetingView *v)
{
	uint8_t buf[S_ORG_KEY_MAX];
	MDB_val k, d = { 0, "" };
	int rc;

	if (!s_id_ok(v->org_id) || !s_id_ok(v->meeting_id))
		return EINVAL;
	if ((rc = records_view_put(txn, mt->records, v->meeting_id, &v->base)))
		return rc;
	k = s_org_key(buf, v->org_id, v->held_at, v->meeting_id);
	if ((rc = ms_put(txn, mt->by_org, &k, &d, 0)))
		return rc;
	for (size_t i = 0; i < v->n_attendees; i++)
		if ((rc = s_attended(mt, txn, v->attendees[i]->member_id, v->month,
		    v->meeting_id)))
			return rc;
	return 0;
}

int
meetings_record_appraise(struct meetings *mt, MDB_txn *txn, const Jiceng__V1__MeetingView *v)
{
	char buf[S_NUM_KEY_MAX];
	MDB_val k, d = { strlen(v->meeting_id), v->meeting_id };
	int rc;

	if (!s_id_ok(v->org_id) || !s_id_ok(v->meeting_id))
		return EINVAL;
	if ((rc = records_view_put(txn, mt->records, v->meeting_id, &v->base)))
		return rc;
	k = s_num_key(buf, v->org_id, v->appraisal_year, YEAR_LEN);
	return ms_put(txn, mt->appraisals, &k, &d, 0);
}

int
meetings_appraisal_find(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int year, char *meeting_id)
{
	char buf[S_NUM_KEY_MAX];
	MDB_val k, d;
	int rc;

	if (!s_id_ok(org_id) || year < 0 || year > 9999)
		return MDB_NOTFOUND;
	k = s_num_key(buf, org_id, year, YEAR_LEN);
	if ((rc = mdb_get(txn, mt->appraisals, &k, &d)))
		return rc;
	if (d.mv_size == 0 || d.mv_size > CODEC_MAX_ID)
		return MDB_CORRUPTED;
	memcpy(meeting_id, d.mv_data, d.mv_size);
	meeting_id[d.mv_size] = '\0';
	return 0;
}

/* ---------------------------------------------------------- walks */

int
meetings_by_org_each(struct meetings *mt, MDB_txn *txn, const char *org_id,
    int64_t from, int64_t to, int64_t after_at, const char *after_id,
    meetings_id_fn fn, void *arg)
{
	uint8_t buf[S_ORG_KEY_MAX], hi[S_ORG_KEY_MAX];
	char id[CODEC_MAX_ID + 1];
	size_t lo = strlen(org_id);
	MDB_cursor *c;
	MDB_val k, d, end;
	bool stop = false;
	int rc;

	if (!s_id_ok(org_id) || (after_id && !s_id_ok(after_id)))
		return 0;
	if ((rc = mdb_cursor_open(txn, mt->by_org, &c)))
		return rc;
	/* The first key not before (from, "") or, paging, the one after
	 * (after_at, after_id); the last one not after (to, any id). */
	if (after_id && after_at < from)
		after_id = NULL;
	k = after_id ? s_org_key(buf, org_id, after_at, after_id) : s_org_key(buf, org_id, from, "");
	end = s_org_key(hi, org_id, to, "");
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	if (rc == 0 && after_id && k.mv_size == lo + 10 + strlen(after_id) &&
	    memcmp(k.mv_data, buf, k.mv_size) == 0)
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	for (; rc == 0 && !stop; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		const char *p = k.mv_data;
		size_t lm;
		/* Past this org's keys, or past `to` (its time key, any id). */
		if (k.mv_size < lo + 10 || memcmp(p, org_id, lo) != 0 || p[lo] != '\0' ||
		    memcmp(p + lo + 1, (const char *)end.mv_data + lo + 1, 8) > 0)
			break;
		lm = k.mv_size - lo - 10;
		if (lm == 0 || lm > CODEC_MAX_ID) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(id, p + lo + 10, lm);
		id[lm] = '\0';
		if ((rc = fn(arg, id, &stop)))
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The meetings of one month, copied out of the map for fn. */
struct month_ids {
	char (*ids)[CODEC_MAX_ID + 1];
	const char **ptrs;
	size_t n, cap;
};

static int
s_month_add(struct month_ids *b, const MDB_val *d)
{
	if (d->mv_size == 0 || d->mv_size > CODEC_MAX_ID)
		return MDB_CORRUPTED;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		void *ids = realloc(b->ids, cap * sizeof *b->ids);
		if (!ids)
			return ENOMEM;
		b->ids = ids;
		void *ptrs = realloc(b->ptrs, cap * sizeof *b->ptrs);
		if (!ptrs)
			return ENOMEM;
		b->ptrs = ptrs;
		b->cap = cap;
	}
	memcpy(b->ids[b->n], d->mv_data, d->mv_size);
	b->ids[b->n][d->mv_size] = '\0';
	b->n++;
	return 0;
}

int
meetings_attendance_each(struct meetings *mt, MDB_txn *txn, const char *member_id,
    int from_month, int to_month, meetings_month_fn fn, void *arg)
{
	char buf[S_NUM_KEY_MAX];
	struct month_ids b = { 0 };
	MDB_cursor *c;
	MDB_val k, d;
	int rc, month;

	if (!s_id_ok(member_id))
		return 0;
	if ((rc = mdb_cursor_open(txn, mt->attendance, &c)))
		return rc;
	k = s_num_key(buf, member_id, from_month, MONTH_LEN);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP)) {
		if ((month = s_num_split(&k, member_id, MONTH_LEN)) < 0 || month > to_month)
			break;
		b.n = 0;
		for (; rc == 0; rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP))
			if ((rc = s_month_add(&b, &d)))
				goto out;
		for (size_t i = 0; i < b.n; i++)
			b.ptrs[i] = b.ids[i];
		if ((rc = fn(arg, month, b.ptrs, b.n)))
			goto out;
	}
out:
	free(b.ids);
	free(b.ptrs);
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
