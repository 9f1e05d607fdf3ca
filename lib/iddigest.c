/*
 * iddigest: an ID number replaced by its digest before journaling.
 */
#include "iddigest.h"

#include "be64.h"
#include "journal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
iddigest_since(struct journal *j, uint64_t *since, bool *stored)
{
	MDB_txn *txn;
	const void *v;
	size_t len;
	int rc = journal_read_begin(j, &txn);
	if (rc)
		return rc;
	rc = journal_meta_get(j, txn, IDDIGEST_META_SINCE, &v, &len);
	*stored = rc == 0;
	if (rc == 0 && len != 8)
		rc = MDB_CORRUPTED;
	if (rc == 0)
		*since = be64_get(v);
	if (rc == MDB_NOTFOUND && (rc = journal_last_seq(j, txn, since)) == 0)
		(*since)++;
	mdb_txn_abort(txn);
	return rc;
}

static bool
s_registered_fields(Jiceng__V1__MemberRegistered *r, struct iddigest_fields *f)
{
	if (!r)
		return false;
	f->id_number = &r->id_number;
	f->id_digest = &r->id_digest;
	return true;
}

bool
iddigest_fields(const Envelope *e, struct iddigest_fields *f)
{
	switch (e->event_case) {
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED:
		return s_registered_fields(e->member_registered, f);
	/* A member transferred in from outside the county carries its
	 * MemberRegistered record. */
	case JICENG__V1__ENVELOPE__EVENT_TRANSFER_RECEIVED:
		return e->transfer_received &&
		    s_registered_fields(e->transfer_received->member, f);
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_ADMITTED:
		f->id_number = &e->member_admitted->id_number;
		f->id_digest = &e->member_admitted->id_digest;
		return true;
	case JICENG__V1__ENVELOPE__EVENT_MEMBER_UPDATED:
		f->id_number = &e->member_updated->id_number;
		f->id_digest = &e->member_updated->id_digest;
		return true;
	default:
		return false;
	}
}

static int
s_refuse(const Envelope *e, struct codec_error *err, const char *code, const char *reason)
{
	err->code = code;
	snprintf(err->reason, sizeof err->reason, "%s", reason);
	snprintf(err->event_id, sizeof err->event_id, "%s", e->event_id);
	return -1;
}

enum idnum_error
iddigest_make(const char *number, const uint8_t key[IDNUM_KEY_LEN],
    struct iddigest_parts *parts, Jiceng__V1__IdDigest *d)
{
	char norm[IDNUM_LEN + 1];
	bool male;
	enum idnum_error ie = idnum_check(number, norm, parts->birth, &male);
	if (ie != IDNUM_OK)
		return ie;
	idnum_blind_index(key, norm, parts->index);
	idnum_mask(norm, parts->masked);
	sodium_memzero(norm, sizeof norm);
	jiceng__v1__id_digest__init(d);
	d->blind_index.data = parts->index;
	d->blind_index.len = sizeof parts->index;
	d->masked = parts->masked;
	d->birth_date = parts->birth;
	d->sex = male ? JICENG__V1__SEX__MALE : JICENG__V1__SEX__FEMALE;
	return IDNUM_OK;
}

enum idnum_error
iddigest_plausible(const Jiceng__V1__IdDigest *d, int64_t at_ms)
{
	const char *m = d->masked;
	if (d->invalid)
		return d->invalid <= IDNUM_ERROR_MAX ? (enum idnum_error)d->invalid : IDNUM_BAD_CHECK;
	if (strlen(m) < 2 || m[0] < '0' || m[0] > '9' || m[1] < '0' || m[1] > '9' ||
	    !idnum_province_valid((m[0] - '0') * 10 + (m[1] - '0')))
		return IDNUM_BAD_AREA;
	return idnum_birth_check(d->birth_date, at_ms);
}

/* The mark iddigest_invalid makes, and nothing else. */
static bool
s_invalid_mark(const Jiceng__V1__IdDigest *d)
{
	return d->invalid >= 1 && d->invalid <= IDNUM_ERROR_MAX && !d->blind_index.len &&
	    !*d->masked && !*d->birth_date && !d->sex;
}

/* An id_digest sent with the event: a county key's, as jicengd made it,
 * alone, is kept (0); anything else is refused. */
static int
s_sent_digest(Envelope *e, const struct iddigest_fields *f, bool county, struct codec_error *err)
{
	const Jiceng__V1__IdDigest *d = *f->id_digest;
	if (!county)
		return s_refuse(e, err, "BAD_FIELD", "id_digest 由服务器填写，请发送 id_number（仅县级密钥可重发"
		    "日志中的摘要）/ id_digest is filled in by jiceng; send id_number (only a county "
		    "key may resend a journaled digest)");
	if (*f->id_number && **f->id_number)
		return s_refuse(e, err, "BAD_FIELD", "id_digest 与 id_number 不能同时发送 / "
		    "send id_number or a journaled id_digest, not both");
	if (!iddigest_valid(d) && !s_invalid_mark(d))
		return s_refuse(e, err, "BAD_FIELD", "id_digest 不是本系统生成的摘要 / "
		    "id_digest is not one jiceng makes");
	return 0;
}

/* The number of f checked and made a digest into d (parts its storage),
 * the clear number wiped. Returns 0 (no number, or a county's digest kept:
 * *had false), or -1 refused. */
static int
s_digest(Envelope *e, const struct iddigest_fields *f, const uint8_t key[IDNUM_KEY_LEN],
    int64_t now_ms, bool county, struct iddigest_parts *parts, Jiceng__V1__IdDigest *d,
    bool *had, struct codec_error *err)
{
	char *clear = *f->id_number;
	*had = false;
	if (*f->id_digest)
		return s_sent_digest(e, f, county, err);
	if (!clear || !*clear)
		return 0;
	enum idnum_error ie = iddigest_make(clear, key, parts, d);
	sodium_memzero(clear, strlen(clear));
	if (ie == IDNUM_OK)
		ie = iddigest_plausible(d, now_ms);
	if (ie != IDNUM_OK)
		return s_refuse(e, err, "BAD_ID_NUMBER", idnum_strerror(ie));
	*had = true;
	return 0;
}

int
iddigest_envelope(Envelope *e, const uint8_t key[IDNUM_KEY_LEN], int64_t now_ms,
    bool county, uint8_t **out, size_t *out_len, struct codec_unknown *dropped,
    struct codec_error *err)
{
	struct iddigest_fields f;
	struct iddigest_parts parts;
	Jiceng__V1__IdDigest d;
	bool had = false;
	int rc;

	*out = NULL;
	*out_len = 0;
	codec_envelope_strip_unknown(e, dropped);
	if (iddigest_fields(e, &f) && s_digest(e, &f, key, now_ms, county, &parts, &d, &had, err) < 0)
		return -1;
	rc = had ? iddigest_pack(e, &d, out, out_len) : codec_envelope_pack(e, out, out_len);
	sodium_memzero(&parts, sizeof parts);
	if (rc < 0)
		return s_refuse(e, err, "INTERNAL_ERROR", "内存不足，请重试 / out of memory, retry");
	return 0;
}

int
iddigest_pack(Envelope *e, Jiceng__V1__IdDigest *d, uint8_t **out, size_t *out_len)
{
	struct iddigest_fields f;
	if (!iddigest_fields(e, &f))
		return -1;
	codec_envelope_strip_unknown(e, NULL);
	char *clear = *f.id_number;
	Jiceng__V1__IdDigest *had = *f.id_digest;
	*f.id_number = (char *)"";
	*f.id_digest = d;
	int rc = codec_envelope_pack(e, out, out_len);
	*f.id_number = clear;  /* the decoder's allocations, freed with e */
	*f.id_digest = had;
	return rc;
}

void
iddigest_invalid(Jiceng__V1__IdDigest *d, enum idnum_error e)
{
	jiceng__v1__id_digest__init(d);
	d->invalid = (uint32_t)e;
}

static bool
s_digits(const char *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool
iddigest_valid(const Jiceng__V1__IdDigest *d)
{
	const char *m = d->masked, *b = d->birth_date;
	if (d->blind_index.len != IDNUM_INDEX_LEN || strlen(m) != IDNUM_LEN || strlen(b) != 10)
		return false;
	if (!s_digits(m, 0, 6) || strspn(m + 6, "*") != 8 || !s_digits(m, 14, 17) ||
	    !(s_digits(m, 17, 18) || m[17] == 'X'))
		return false;
	if (!s_digits(b, 0, 4) || b[4] != '-' || !s_digits(b, 5, 7) || b[7] != '-' || !s_digits(b, 8, 10))
		return false;
	return d->invalid == 0 && (d->sex == JICENG__V1__SEX__MALE || d->sex == JICENG__V1__SEX__FEMALE);
}
