/*
 * idnum: resident ID numbers (公民身份号码, GB 11643-1999). Validates the
 * 18 characters, the weighted mod-11 check character, the province-level
 * area code of GB/T 2260 in the first two digits, a real birth date from
 * 1900-01-01 on (and, given a time, not after its CST date) and the sex
 * digit; derives the blind index (HMAC-SHA-256 under a key kept outside the
 * database) and the masked display form. Nothing here stores or logs a
 * clear number, and nothing here reads a clock.
 */
#ifndef JICENG_IDNUM_H
#define JICENG_IDNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDNUM_LEN 18
#define IDNUM_INDEX_LEN 32
#define IDNUM_KEY_LEN 32

/* The values are stable: IdDigest.invalid stores them (events.proto). */
enum idnum_error {
	IDNUM_OK = 0,
	IDNUM_BAD_LENGTH = 1,     /* not 18 characters */
	IDNUM_BAD_CHARACTER = 2,  /* a non-digit in 1-17, or 18th not digit/X/x */
	IDNUM_BAD_DATE = 3,       /* digits 7-14 are not a real date */
	IDNUM_BAD_CHECK = 4,      /* check character does not match */
	IDNUM_BAD_AREA = 5,       /* digits 1-2 are not a province-level code of GB/T 2260 */
	IDNUM_BIRTH_EARLY = 6,    /* birth date before 1900-01-01 */
	IDNUM_BIRTH_LATE = 7,     /* birth date after the date of the check */
};
#define IDNUM_ERROR_MAX IDNUM_BIRTH_LATE

/* Check s (NUL-terminated): length, characters, area code, a real birth
 * date from 1900-01-01 on, check character, in that order (the first part
 * found wrong is the error). On IDNUM_OK, fills norm[19] with the
 * upper-case form, birth[11] with "YYYY-MM-DD" and *male with the sex from
 * digit 17 (odd = male); any output may be NULL. The birth date's upper
 * bound needs a time: idnum_birth_check. */
enum idnum_error idnum_check(const char *s, char norm[IDNUM_LEN + 1],
    char birth[11], bool *male);
/* Is the two-digit code a province-level division of GB/T 2260 (11-15,
 * 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82)? */
bool idnum_province_valid(int code);
/* A birth date "YYYY-MM-DD" (real, as idnum_check fills it) against the
 * bounds: IDNUM_BIRTH_EARLY before 1900-01-01, IDNUM_BIRTH_LATE after the
 * CST date of the instant at_ms (Unix ms), IDNUM_BAD_DATE when not of that
 * shape, else IDNUM_OK. */
enum idnum_error idnum_birth_check(const char *birth, int64_t at_ms);
/* The check character ('0'-'9' or 'X') of the first 17 digits of d17. */
char idnum_check_char(const char *d17);

/* A short Chinese+English text for an error code, naming the part of the
 * number that is wrong (never any of its digits). */
const char *idnum_strerror(enum idnum_error e);

/* HMAC-SHA-256(key, normalised number). */
void idnum_blind_index(const uint8_t key[IDNUM_KEY_LEN],
    const char norm[IDNUM_LEN + 1], uint8_t out[IDNUM_INDEX_LEN]);

/* First 6 and last 4 characters, the rest '*': out[19]. */
void idnum_mask(const char norm[IDNUM_LEN + 1], char out[IDNUM_LEN + 1]);

/* Load a 32-byte key from a file (raw 32 bytes, or 64 hex characters);
 * with create, write a fresh random one (mode 0600) when the file is absent.
 * Returns 0 or -1 with errno set (EINVAL for a malformed file). */
int idnum_key_load(const char *path, bool create, uint8_t key[IDNUM_KEY_LEN]);

#endif
