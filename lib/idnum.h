/*
 * idnum: resident ID numbers (公民身份号码, GB 11643-1999). Validates the
 * 18 characters, the weighted mod-11 check character, a real birth date and
 * the sex digit; derives the blind index (HMAC-SHA-256 under a key kept
 * outside the database) and the masked display form. Nothing here stores or
 * logs a clear number.
 */
#ifndef JICENG_IDNUM_H
#define JICENG_IDNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDNUM_LEN 18
#define IDNUM_INDEX_LEN 32
#define IDNUM_KEY_LEN 32

enum idnum_error {
	IDNUM_OK = 0,
	IDNUM_BAD_LENGTH,     /* not 18 characters */
	IDNUM_BAD_CHARACTER,  /* a non-digit in 1-17, or 18th not digit/X/x */
	IDNUM_BAD_DATE,       /* digits 7-14 are not a real date */
	IDNUM_BAD_CHECK,      /* check character does not match */
};

/* Check s (NUL-terminated). On IDNUM_OK, fills norm[19] with the upper-case
 * form, birth[11] with "YYYY-MM-DD" and *male with the sex from digit 17
 * (odd = male); any output may be NULL. */
enum idnum_error idnum_check(const char *s, char norm[IDNUM_LEN + 1],
    char birth[11], bool *male);
/* The check character ('0'-'9' or 'X') of the first 17 digits of d17. */
char idnum_check_char(const char *d17);

/* A short English+Chinese text for an error code. */
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
