/*
 * iddigest: the resident ID number of a member event, reduced to its
 * IdDigest (blind index, masked form, birth date, sex) before jicengd
 * journals the event, so that the clear number is never stored. The rules
 * read the digest; they still read a clear number in events journaled
 * before this existed. Owns no state; never logs.
 */
#ifndef JICENG_IDDIGEST_H
#define JICENG_IDDIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "idnum.h"

/* Journal meta: the first seq from which jicengd digested every ID number
 * (u64, big-endian). A journal written before has it set to its end + 1 at
 * the first start of a jicengd that digests; jicengctl scrub-ids digests the
 * events before it and sets it to 1. */
#define IDDIGEST_META_SINCE "id_digest_since"

struct journal;
/* That seq, read in a transaction of its own; for a journal without it,
 * its end + 1 with *stored false. Returns 0, or an LMDB error
 * (MDB_CORRUPTED for a value not 8 bytes long). */
int iddigest_since(struct journal *j, uint64_t *since, bool *stored);

/* The ID fields of a member event (MemberRegistered, MemberAdmitted,
 * MemberUpdated, or the member record a TransferReceived from outside the
 * county carries); false when the event has none. */
struct iddigest_fields {
	char **id_number;
	Jiceng__V1__IdDigest **id_digest;
};
bool iddigest_fields(const Envelope *e, struct iddigest_fields *f);

/* The storage an IdDigest made by iddigest_make points into. */
struct iddigest_parts {
	uint8_t index[IDNUM_INDEX_LEN];
	char masked[IDNUM_LEN + 1];
	char birth[11];
};

/* Check number (GB 11643) and fill d with its digest under key, d's
 * strings and bytes pointing into parts. The normalised number is wiped.
 * Returns IDNUM_OK, or the check's error (d untouched). */
enum idnum_error iddigest_make(const char *number, const uint8_t key[IDNUM_KEY_LEN],
    struct iddigest_parts *parts, Jiceng__V1__IdDigest *d);

/* The envelope as jicengd journals it, from one that passed
 * codec_envelope_decode and the broker's checks: its unknown fields
 * dropped (noted in *dropped unless NULL), its ID number, if any, checked (GB 11643,
 * and a birth date not after the CST date of now_ms) and replaced by its
 * digest, packed by protobuf-c into *out (malloc'd, *out_len bytes) so
 * that it decodes and packs again to the same bytes. The decoded number is
 * wiped; e keeps its other fields.
 *
 * An id_digest is jicengd's to fill; only the county's own key (CURVE),
 * when county is true, may send one: a record of a jicengd's journal
 * resent as it was journaled (jicengctl resend-tail). Such a digest is journaled as
 * it is, never digested again, when it is one jicengd makes (iddigest_valid,
 * or the invalid mark of iddigest_invalid) and the event carries no number
 * beside it.
 *
 * Returns 0, or -1 refused, err filled (event_id set):
 *   BAD_ID_NUMBER  not a valid or plausible GB 11643 number
 *   BAD_FIELD      an id_digest from a township key, or one jicengd would
 *                  not make, or with a number beside it
 *   INTERNAL_ERROR out of memory. */
int iddigest_envelope(Envelope *e, const uint8_t key[IDNUM_KEY_LEN], int64_t now_ms,
    bool county, uint8_t **out, size_t *out_len, struct codec_unknown *dropped,
    struct codec_error *err);

/* Could d name a living person on the CST date of at_ms: the invalid mark
 * of jicengctl scrub-ids unset, the first two digits of the mask a
 * province-level code, the birth date from 1900-01-01 to that date?
 * IDNUM_OK or the error (for idnum_strerror). For the rules, with the
 * journal time; d must be iddigest_valid for the rest. */
enum idnum_error iddigest_plausible(const Jiceng__V1__IdDigest *d, int64_t at_ms);

/* A digest standing for a number that failed GB 11643 with error e, in a
 * journal from before digesting (jicengctl scrub-ids): the rules reject it
 * BAD_ID_NUMBER with the reason they gave the number. */
void iddigest_invalid(Jiceng__V1__IdDigest *d, enum idnum_error e);

/* Pack e with its event's id_number empty and id_digest d into *out
 * (malloc'd), e's unknown fields dropped first (codec_envelope_strip_unknown)
 * so that the bytes are canonical; e is left as it came otherwise. Returns
 * 0, or -1 (not a member event, out of memory). */
int iddigest_pack(Envelope *e, Jiceng__V1__IdDigest *d, uint8_t **out, size_t *out_len);

/* Is d a digest jicengd could have made (index length, mask and birth date
 * shapes, a sex)? */
bool iddigest_valid(const Jiceng__V1__IdDigest *d);

#endif
