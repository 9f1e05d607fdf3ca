/*
 * Unit tests of idnum: GB 11643 validation (check character computed here
 * from the standard's weights, independently of lib/idnum.c), the blind
 * index, the mask, and the key file.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idnum.h"

/* Complete 17 digits with their ISO 7064 MOD 11-2 check character. */
static void
s_complete(const char *digits17, char out[19])
{
	int sum = 0;
	for (int i = 0; i < 17; i++) {
		int weight = 1;
		for (int k = 0; k < 17 - i; k++)
			weight = weight * 2 % 11;   /* 2^(17-i) mod 11 */
		sum += (digits17[i] - '0') * weight;
	}
	memcpy(out, digits17, 17);
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}

static void
test_valid_known(void **state)
{
	char norm[19], birth[11];
	bool male = true;
	(void)state;
	assert_int_equal(idnum_check("11010519491231002X", norm, birth, &male), IDNUM_OK);
	assert_string_equal(norm, "11010519491231002X");
	assert_string_equal(birth, "1949-12-31");
	assert_false(male);   /* digit 17 is 2: even */
	/* NULL outputs are allowed. */
	assert_int_equal(idnum_check("11010519491231002X", NULL, NULL, NULL), IDNUM_OK);
}

static void
test_valid_computed(void **state)
{
	char id[19], norm[19], birth[11];
	bool male = false;
	(void)state;
	s_complete("44030019900307123", id);
	assert_int_equal(idnum_check(id, norm, birth, &male), IDNUM_OK);
	assert_string_equal(birth, "1990-03-07");
	assert_true(male);
	s_complete("11010520000229004", id);   /* 2000 is a leap year */
	assert_int_equal(idnum_check(id, NULL, birth, &male), IDNUM_OK);
	assert_string_equal(birth, "2000-02-29");
	assert_false(male);
}

static void
test_lowercase_x(void **state)
{
	char norm[19];
	(void)state;
	assert_int_equal(idnum_check("11010519491231002x", norm, NULL, NULL), IDNUM_OK);
	assert_string_equal(norm, "11010519491231002X");
}

static void
test_bad_check(void **state)
{
	char id[19];
	(void)state;
	assert_int_equal(idnum_check("110105194912310021", NULL, NULL, NULL), IDNUM_BAD_CHECK);
	s_complete("44030019900307123", id);
	id[17] = id[17] == '0' ? '1' : '0';
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_CHECK);
}

static void
test_bad_date(void **state)
{
	char id[19];
	(void)state;
	s_complete("11010519900230123", id);   /* 30 February */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_DATE);
	s_complete("11010519000229123", id);   /* 1900 is not a leap year */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_DATE);
	s_complete("11010519901301123", id);   /* month 13 */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_DATE);
	s_complete("11010519900100123", id);   /* day 0 */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_DATE);
}

static void
test_bad_length_and_chars(void **state)
{
	(void)state;
	assert_int_equal(idnum_check("", NULL, NULL, NULL), IDNUM_BAD_LENGTH);
	assert_int_equal(idnum_check(NULL, NULL, NULL, NULL), IDNUM_BAD_LENGTH);
	assert_int_equal(idnum_check("11010519491231002", NULL, NULL, NULL), IDNUM_BAD_LENGTH);
	assert_int_equal(idnum_check("11010519491231002X1", NULL, NULL, NULL), IDNUM_BAD_LENGTH);
	assert_int_equal(idnum_check("1101051949123100AX", NULL, NULL, NULL), IDNUM_BAD_CHARACTER);
	assert_int_equal(idnum_check("11010519491231002Y", NULL, NULL, NULL), IDNUM_BAD_CHARACTER);
	assert_int_equal(idnum_check("X1010519491231002X", NULL, NULL, NULL), IDNUM_BAD_CHARACTER);
	for (int e = IDNUM_BAD_LENGTH; e <= IDNUM_ERROR_MAX; e++) {
		const char *s = idnum_strerror((enum idnum_error)e);
		assert_non_null(strstr(s, " / "));
		for (int f = IDNUM_BAD_LENGTH; f < e; f++)
			assert_string_not_equal(s, idnum_strerror((enum idnum_error)f));
	}
}

/* GB 11643 plausibility: the first two digits a province-level code of
 * GB/T 2260, the birth date from 1900-01-01 on; checked in the order of
 * the parts, so the error names the first part that is wrong. */
static void
test_area_and_birth_bounds(void **state)
{
	char id[19], birth[11];
	(void)state;
	static const char *bad_area[] = { "00000019800101123", "99999919800101123",
		"10010519800101123", "16010519800101123", "20010519800101123",
		"30010519800101123", "38010519800101123", "47010519800101123",
		"55010519800101123", "60010519800101123", "66010519800101123",
		"70010519800101123", "72010519800101123", "80010519800101123",
		"83010519800101123", "91010519800101123" };
	for (size_t i = 0; i < sizeof bad_area / sizeof bad_area[0]; i++) {
		s_complete(bad_area[i], id);
		if (idnum_check(id, NULL, NULL, NULL) != IDNUM_BAD_AREA)
			fail_msg("%s is not refused for its area code", id);
	}
	s_complete("71010519800101123", id);               /* Taiwan */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_OK);
	s_complete("82010519800101123", id);               /* Macao */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_OK);
	assert_true(idnum_province_valid(11) && idnum_province_valid(65));
	assert_false(idnum_province_valid(0) || idnum_province_valid(99) || idnum_province_valid(83));
	/* The area is reported before a bad date or check character. */
	s_complete("00000019900230123", id);
	id[17] = id[17] == '0' ? '1' : '0';
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_AREA);

	s_complete("32012318000101123", id);               /* 1800 */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BIRTH_EARLY);
	s_complete("32012318991231123", id);               /* the day before 1900 */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BIRTH_EARLY);
	s_complete("32012319000101123", id);
	assert_int_equal(idnum_check(id, NULL, birth, NULL), IDNUM_OK);
	assert_string_equal(birth, "1900-01-01");
	s_complete("32012319351001123", id);               /* a veteran */
	assert_int_equal(idnum_check(id, NULL, birth, NULL), IDNUM_OK);
	assert_string_equal(birth, "1935-10-01");
	s_complete("32012325000101123", id);               /* the future: idnum_birth_check */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_OK);
	s_complete("32012309990101123", id);               /* no calendar year of ours */
	assert_int_equal(idnum_check(id, NULL, NULL, NULL), IDNUM_BAD_DATE);
}

/* The upper bound of a birth date is the CST date of the check's time. */
static void
test_birth_check(void **state)
{
	(void)state;
	/* 2026-12-07 00:30 CST is 2026-12-06 16:30 UTC. */
	int64_t at = 1796574600000LL;
	assert_int_equal(idnum_birth_check("2026-12-07", at), IDNUM_OK);
	assert_int_equal(idnum_birth_check("2026-12-08", at), IDNUM_BIRTH_LATE);
	assert_int_equal(idnum_birth_check("2500-01-01", at), IDNUM_BIRTH_LATE);
	assert_int_equal(idnum_birth_check("1900-01-01", at), IDNUM_OK);
	assert_int_equal(idnum_birth_check("1899-12-31", at), IDNUM_BIRTH_EARLY);
	assert_int_equal(idnum_birth_check("1949-10-01", at), IDNUM_OK);
	assert_int_equal(idnum_birth_check("1900-02-29", at), IDNUM_BAD_DATE);
	assert_int_equal(idnum_birth_check("19491001", at), IDNUM_BAD_DATE);
	assert_int_equal(idnum_birth_check("", at), IDNUM_BAD_DATE);
	assert_int_equal(idnum_birth_check(NULL, at), IDNUM_BAD_DATE);
	/* An instant before 1970 (1950-01-01 12:00 CST) bounds it the same way. */
	assert_int_equal(idnum_birth_check("1950-01-02", -631137600000LL), IDNUM_BIRTH_LATE);
	assert_int_equal(idnum_birth_check("1950-01-01", -631137600000LL), IDNUM_OK);
}

static void
test_blind_index(void **state)
{
	uint8_t k1[IDNUM_KEY_LEN], k2[IDNUM_KEY_LEN];
	uint8_t a[IDNUM_INDEX_LEN], b[IDNUM_INDEX_LEN], c[IDNUM_INDEX_LEN], ref[IDNUM_INDEX_LEN];
	char other[19];
	(void)state;
	memset(k1, 0x11, sizeof k1);
	memset(k2, 0x22, sizeof k2);
	idnum_blind_index(k1, "11010519491231002X", a);
	idnum_blind_index(k1, "11010519491231002X", b);
	assert_memory_equal(a, b, IDNUM_INDEX_LEN);           /* deterministic */
	idnum_blind_index(k2, "11010519491231002X", c);
	assert_memory_not_equal(a, c, IDNUM_INDEX_LEN);       /* key-dependent */
	s_complete("44030019900307123", other);
	idnum_blind_index(k1, other, c);
	assert_memory_not_equal(a, c, IDNUM_INDEX_LEN);       /* number-dependent */
	/* It is plain HMAC-SHA-256 of the 18 characters. */
	crypto_auth_hmacsha256(ref, (const unsigned char *)"11010519491231002X", 18, k1);
	assert_memory_equal(a, ref, IDNUM_INDEX_LEN);
}

static void
test_mask(void **state)
{
	char out[19];
	(void)state;
	idnum_mask("11010519491231002X", out);
	assert_string_equal(out, "110105********002X");
	assert_int_equal(strlen(out), 18);
}

static void
s_write(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static void
test_key_file(void **state)
{
	char *dir = unit_tmpdir(), path[512];
	uint8_t k1[IDNUM_KEY_LEN], k2[IDNUM_KEY_LEN], raw[IDNUM_KEY_LEN];
	struct stat st;
	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/id.key", dir);

	errno = 0;
	assert_int_equal(idnum_key_load(path, false, k1), -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(idnum_key_load(path, true, k1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);                      /* hex + newline */
	assert_int_equal(idnum_key_load(path, true, k2), 0);   /* kept, not replaced */
	assert_memory_equal(k1, k2, IDNUM_KEY_LEN);

	for (int i = 0; i < IDNUM_KEY_LEN; i++)
		raw[i] = (uint8_t)(i * 7 + 1);
	s_write(path, raw, sizeof raw);
	assert_int_equal(idnum_key_load(path, false, k1), 0);
	assert_memory_equal(k1, raw, IDNUM_KEY_LEN);

	s_write(path, "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191A1B1C1D1E1F\r\n", 66);
	assert_int_equal(idnum_key_load(path, false, k1), 0);
	for (int i = 0; i < IDNUM_KEY_LEN; i++)
		assert_int_equal(k1[i], i);

	s_write(path, "too short\n", 10);
	errno = 0;
	assert_int_equal(idnum_key_load(path, false, k1), -1);
	assert_int_equal(errno, EINVAL);
	s_write(path, "zz0102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f", 64);
	assert_int_equal(idnum_key_load(path, false, k1), -1);
	unit_tmpdir_remove(dir);
}

int
unit_idnum(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_known),
		cmocka_unit_test(test_valid_computed),
		cmocka_unit_test(test_lowercase_x),
		cmocka_unit_test(test_bad_check),
		cmocka_unit_test(test_bad_date),
		cmocka_unit_test(test_bad_length_and_chars),
		cmocka_unit_test(test_area_and_birth_bounds),
		cmocka_unit_test(test_birth_check),
		cmocka_unit_test(test_blind_index),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_key_file),
	};
	return cmocka_run_group_tests_name("idnum", tests, NULL, NULL);
}
