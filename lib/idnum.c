/*
 * idnum: resident ID numbers (公民身份号码, GB 11643-1999): validation, the
 * keyed blind index, the masked form, and the index key file. A clear
 * number lives only in the caller's buffers and the short-lived copies
 * here, which are wiped; nothing in this file logs one.
 *
 * Plausibility beyond the standard's own check character: a number whose
 * first two digits are no province-level division (GB/T 2260) or whose
 * birth date is before 1900 or after the day it is checked (the broker's
 * clock at ingestion, the journal time in a worker) names nobody, so it is
 * refused like one whose check character is wrong. The six-digit area
 * code itself is not checked further: county codes change over the years
 * and a number keeps the one of its issue.
 */
#include "idnum.h"

#include "civil.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* ISO 7064 MOD 11-2 weights of digits 1-17, and the check character for
 * each remainder of the weighted sum. */
static const int s_weights[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
static const char s_check_chars[] = "10X98765432";

/* ---------------------------------------------------------- validation */

static int
s_digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool
s_all_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Digits 7-14 are a calendar date (years 1000-2999 have the shape; the
 * bounds on a birth date are checked apart, to say which is wrong). */
static bool
s_date_real(int y, int m, int d)
{
	if (y < 1000 || y > 2999 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= civil_month_days(y, m);
}

bool
idnum_province_valid(int code)
{
	return (code >= 11 && code <= 15) || (code >= 21 && code <= 23) ||
	    (code >= 31 && code <= 37) || (code >= 41 && code <= 46) ||
	    (code >= 50 && code <= 54) || (code >= 61 && code <= 65) ||
	    code == 71 || code == 81 || code == 82;
}

static enum idnum_error
s_birth_bounds(int y, int m, int d, bool bounded, int64_t at_ms)
{
	int64_t day = civil_to_days(y, m, d);
	if (day < civil_to_days(1900, 1, 1))
		return IDNUM_BIRTH_EARLY;
	if (bounded && day > civil_cst_days(at_ms))
		return IDNUM_BIRTH_LATE;
	return IDNUM_OK;
}

enum idnum_error
idnum_birth_check(const char *birth, int64_t at_ms)
{
	int y, m, d;
	if (!birth || strlen(birth) != 10 || birth[4] != '-' || birth[7] != '-' ||
	    !s_all_digits(birth, 4) || !s_all_digits(birth + 5, 2) || !s_all_digits(birth + 8, 2))
		return IDNUM_BAD_DATE;
	y = s_digits(birth, 4);
	m = s_digits(birth + 5, 2);
	d = s_digits(birth + 8, 2);
	if (!s_date_real(y, m, d))
		return IDNUM_BAD_DATE;
	return s_birth_bounds(y, m, d, true, at_ms);
}

char
idnum_check_char(const char *d17)
{
	int sum = 0;
	for (int i = 0; i < IDNUM_LEN - 1; i++)
		sum += (d17[i] - '0') * s_weights[i];
	return s_check_chars[sum % 11];
}

enum idnum_error
idnum_check(const char *s, char norm[IDNUM_LEN + 1], char birth[11], bool *male)
{
	char n[IDNUM_LEN + 1];
	enum idnum_error e = IDNUM_OK;
	int y, m, d;

	if (!s || strnlen(s, IDNUM_LEN + 1) != IDNUM_LEN)
		return IDNUM_BAD_LENGTH;
	memcpy(n, s, sizeof n);
	for (int i = 0; i < IDNUM_LEN - 1; i++)
		if (n[i] < '0' || n[i] > '9')
			e = IDNUM_BAD_CHARACTER;
	if (n[17] == 'x')
		n[17] = 'X';
	if ((n[17] < '0' || n[17] > '9') && n[17] != 'X')
		e = IDNUM_BAD_CHARACTER;
	if (e)
		goto out;
	if (!idnum_province_valid(s_digits(n, 2))) {
		e = IDNUM_BAD_AREA;
		goto out;
	}
	y = s_digits(n + 6, 4);
	m = s_digits(n + 10, 2);
	d = s_digits(n + 12, 2);
	if (!s_date_real(y, m, d)) {
		e = IDNUM_BAD_DATE;
		goto out;
	}
	if ((e = s_birth_bounds(y, m, d, false, 0)))
		goto out;
	if (n[17] != idnum_check_char(n)) {
		e = IDNUM_BAD_CHECK;
		goto out;
	}
	if (norm)
		memcpy(norm, n, sizeof n);
	if (birth) {
		memcpy(birth, n + 6, 4);
		birth[4] = '-';
		memcpy(birth + 5, n + 10, 2);
		birth[7] = '-';
		memcpy(birth + 8, n + 12, 2);
		birth[10] = '\0';
	}
	if (male)
		*male = (n[16] - '0') % 2 == 1;
out:
	sodium_memzero(n, sizeof n);
	return e;
}

const char *
idnum_strerror(enum idnum_error e)
{
	switch (e) {
	case IDNUM_OK:
		return "有效 / valid";
	case IDNUM_BAD_LENGTH:
		return "身份证号码不是18位 / ID number is not 18 characters";
	case IDNUM_BAD_CHARACTER:
		return "身份证号码含非法字符 / ID number has a character other than digits and a final X";
	case IDNUM_BAD_DATE:
		return "身份证号码中的出生日期无效 / ID number's birth date is not a real date";
	case IDNUM_BAD_CHECK:
		return "身份证号码校验码错误 / ID number's check character does not match";
	case IDNUM_BAD_AREA:
		return "身份证号码前两位不是省级行政区划代码 / ID number's first two digits are not "
		    "a province-level code of GB/T 2260";
	case IDNUM_BIRTH_EARLY:
		return "身份证号码中的出生日期早于1900-01-01 / ID number's birth date is before 1900-01-01";
	case IDNUM_BIRTH_LATE:
		return "身份证号码中的出生日期晚于当日 / ID number's birth date is after the day it was checked";
	}
	return "身份证号码无效 / invalid ID number";
}

/* ---------------------------------------------------------- index and mask */

void
idnum_blind_index(const uint8_t key[IDNUM_KEY_LEN], const char norm[IDNUM_LEN + 1],
    uint8_t out[IDNUM_INDEX_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, IDNUM_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)norm, IDNUM_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

void
idnum_mask(const char norm[IDNUM_LEN + 1], char out[IDNUM_LEN + 1])
{
	memcpy(out, norm, 6);
	memset(out + 6, '*', IDNUM_LEN - 10);
	memcpy(out + IDNUM_LEN - 4, norm + IDNUM_LEN - 4, 4);
	out[IDNUM_LEN] = '\0';
}

/* ---------------------------------------------------------- key file */

/* A key file holds the 32 raw bytes, or 64 hex characters and optional
 * trailing white space (what idnum_key_load writes). */
static int
s_key_parse(const uint8_t *buf, size_t n, uint8_t key[IDNUM_KEY_LEN])
{
	size_t bin_len;
	if (n == IDNUM_KEY_LEN) {
		memcpy(key, buf, IDNUM_KEY_LEN);
		return 0;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (n != 2 * IDNUM_KEY_LEN ||
	    sodium_hex2bin(key, IDNUM_KEY_LEN, (const char *)buf, n, NULL,
	    &bin_len, NULL) != 0 || bin_len != IDNUM_KEY_LEN) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
s_key_read(int fd, const char *path, uint8_t key[IDNUM_KEY_LEN])
{
	uint8_t buf[160];
	size_t n = 0;
	struct stat st;
	int rc = -1;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_mode & 077)
		log_warnx("ID index key %s is readable by others; chmod 600 it", path);
	while (n < sizeof buf) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == sizeof buf) {
		errno = EINVAL;
		goto out;
	}
	rc = s_key_parse(buf, n, key);
out:
	sodium_memzero(buf, sizeof buf);
	return rc;
}

/* Write a fresh random key as hex; EEXIST when another process won. */
static int
s_key_create(const char *path, uint8_t key[IDNUM_KEY_LEN])
{
	char hex[2 * IDNUM_KEY_LEN + 2];
	size_t len;
	int fd, saved;

	randombytes_buf(key, IDNUM_KEY_LEN);
	sodium_bin2hex(hex, sizeof hex - 1, key, IDNUM_KEY_LEN);
	len = strlen(hex);
	hex[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write(fd, hex, len) != (ssize_t)len || fsync(fd) < 0) {
		saved = errno ? errno : EIO;
		close(fd);
		unlink(path);
		errno = saved;
		goto fail;
	}
	if (close(fd) < 0)
		goto fail;
	sodium_memzero(hex, sizeof hex);
	return 0;
fail:
	saved = errno;
	sodium_memzero(hex, sizeof hex);
	sodium_memzero(key, IDNUM_KEY_LEN);
	errno = saved;
	return -1;
}

int
idnum_key_load(const char *path, bool create, uint8_t key[IDNUM_KEY_LEN])
{
	int fd, rc, saved;

	if (sodium_init() < 0) {
		errno = EIO;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (s_key_create(path, key) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	rc = s_key_read(fd, path, key);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
