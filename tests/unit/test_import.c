/*
 * Unit tests of what jicengctl import reads (tools/ctl_csv.c): the
 * encodings Excel and WPS save in (UTF-8 with and without a BOM, GB18030
 * with its two- and four-byte characters) and what is refused; RFC 4180
 * records (quoted commas, doubled quotes, line breaks inside quotes, CRLF,
 * LF and lone CR, a title-free tab-separated file); the clean-up of a cell
 * (Excel's ="0123" and '0123, ideographic spaces, 3.2E+17); the dates a
 * roster writes and their instants at 00:00 CST, before 1970 too; and
 * records written back for Excel read back the same.
 *
 * The test binary does not link tools/, so ctl_csv.c is compiled in here:
 * it is a module of pure functions with no other tools dependency.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "ctl_csv.h"

/* "张三,男\r\n"刘䶮","𠮷"\r\n" in GB18030: 䶮 is outside GBK (two bytes
 * FE9F), 𠮷 takes four (9534B235). */
static const char s_gb[] = "\xd5\xc5\xc8\xfd,\xc4\xd0\r\n\"\xc1\xf5\xfe\x9f\",\"\x95\x34\xb2\x35\"\r\n";
static const char s_gb_utf8[] = "张三,男\r\n\"刘䶮\",\"𠮷\"\r\n";

/* Decode buf with enc; asserts success, returns the text (free it). */
static char *
s_decode(const char *buf, size_t len, enum ctl_csv_encoding enc,
    enum ctl_csv_encoding *found, bool *bom)
{
	char err[400] = "", *out = NULL;
	size_t outlen = 0;
	if (ctl_csv_decode(buf, len, enc, &out, &outlen, found, bom, err, sizeof err) != 0)
		fail_msg("decode failed: %s", err);
	assert_int_equal(strlen(out), outlen);
	return out;
}

/* Decode expecting a refusal whose message contains want. */
static void
s_decode_fails(const char *buf, size_t len, enum ctl_csv_encoding enc, const char *want)
{
	char err[400] = "", *out = NULL;
	size_t outlen = 0;
	assert_int_equal(ctl_csv_decode(buf, len, enc, &out, &outlen, NULL, NULL, err, sizeof err), -1);
	assert_null(out);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static void
test_decode_utf8(void **state)
{
	(void)state;
	enum ctl_csv_encoding found;
	bool bom;
	char *t = s_decode("姓名\r\n张三\r\n", strlen("姓名\r\n张三\r\n"), CTL_CSV_AUTO, &found, &bom);
	assert_string_equal(t, "姓名\r\n张三\r\n");
	assert_int_equal(found, CTL_CSV_UTF8);
	assert_false(bom);
	free(t);

	/* Excel's "CSV UTF-8": the BOM is dropped. */
	static const char with_bom[] = "\xEF\xBB\xBF姓名,性别\r\n";
	t = s_decode(with_bom, sizeof with_bom - 1, CTL_CSV_AUTO, &found, &bom);
	assert_string_equal(t, "姓名,性别\r\n");
	assert_int_equal(found, CTL_CSV_UTF8);
	assert_true(bom);
	assert_string_equal(ctl_csv_encoding_name(found, bom), "UTF-8 with BOM");
	free(t);

	/* Plain ASCII is UTF-8; an empty file is empty text. */
	t = s_decode("a,b\n", 4, CTL_CSV_AUTO, &found, NULL);
	assert_int_equal(found, CTL_CSV_UTF8);
	free(t);
	t = s_decode("", 0, CTL_CSV_AUTO, NULL, NULL);
	assert_string_equal(t, "");
	free(t);
}

static void
test_decode_gb18030(void **state)
{
	(void)state;
	enum ctl_csv_encoding found;
	bool bom = true;
	char *t = s_decode(s_gb, sizeof s_gb - 1, CTL_CSV_AUTO, &found, &bom);
	assert_string_equal(t, s_gb_utf8);
	assert_int_equal(found, CTL_CSV_GB18030);
	assert_false(bom);
	free(t);
	t = s_decode(s_gb, sizeof s_gb - 1, CTL_CSV_GB18030, &found, NULL);
	assert_string_equal(t, s_gb_utf8);
	free(t);
	/* Forced GB18030 on ASCII is the same ASCII. */
	t = s_decode("a,b\r\n", 5, CTL_CSV_GB18030, &found, NULL);
	assert_string_equal(t, "a,b\r\n");
	assert_int_equal(found, CTL_CSV_GB18030);
	free(t);
}

static void
test_decode_refused(void **state)
{
	(void)state;
	/* GB18030 bytes are not UTF-8 when UTF-8 is forced, nor after a
	 * UTF-8 BOM; the line is named. */
	s_decode_fails(s_gb, sizeof s_gb - 1, CTL_CSV_UTF8, "line 1 is not valid UTF-8");
	char bad[64];
	int n = snprintf(bad, sizeof bad, "\xEF\xBB\xBF" "a\nb\n\xd5\xc5\n");
	s_decode_fails(bad, (size_t)n, CTL_CSV_AUTO, "line 3 is not valid UTF-8");
	/* Neither UTF-8 nor GB18030: 0xFF never starts a GB18030 character. */
	s_decode_fails("a\n\xff\n", 4, CTL_CSV_AUTO, "line 2: the bytes are neither UTF-8 nor GB18030");
	/* A truncated four-byte character at the end. */
	s_decode_fails("a\n\x95\x34", 4, CTL_CSV_GB18030, "line 2");
	s_decode_fails("\xFF\xFE" "a\0", 4, CTL_CSV_AUTO, "UTF-16");
	s_decode_fails("a\nb\0c", 5, CTL_CSV_AUTO, "line 2: a NUL byte");

	enum ctl_csv_encoding e;
	assert_true(ctl_csv_encoding_parse("UTF-8", &e) && e == CTL_CSV_UTF8);
	assert_true(ctl_csv_encoding_parse("gbk", &e) && e == CTL_CSV_GB18030);
	assert_true(ctl_csv_encoding_parse("GB18030", &e) && e == CTL_CSV_GB18030);
	assert_true(ctl_csv_encoding_parse("auto", &e) && e == CTL_CSV_AUTO);
	assert_false(ctl_csv_encoding_parse("latin1", &e));
}

/* Parse text; asserts success. */
static void
s_parse(struct ctl_csv *c, const char *text)
{
	char err[200] = "";
	if (ctl_csv_parse(text, strlen(text), c, err, sizeof err) != 0)
		fail_msg("parse failed: %s", err);
}

/* Record i has the n fields given, and starts on line. */
static void
s_record_is(const struct ctl_csv *c, unsigned i, unsigned line, unsigned n, ...)
{
	va_list ap;
	assert_true(i < c->n);
	const struct ctl_csv_record *r = &c->records[i];
	assert_int_equal(r->line, line);
	assert_int_equal(r->nfields, n);
	va_start(ap, n);
	for (unsigned k = 0; k < n; k++)
		assert_string_equal(r->fields[k], va_arg(ap, const char *));
	va_end(ap);
}

static void
test_parse_rfc4180(void **state)
{
	(void)state;
	struct ctl_csv c;
	s_parse(&c,
	    "组织编码,组织名称,成立时间\r\n"
	    "t1,\"中共某镇委员会, 第一\",1956-07-01\r\n"
	    "t2,\"中共\"\"红旗\"\"村支部\",\r\n"
	    "t3,\"两行\r\n的名称\n第三行\",1958/10/1\r\n"
	    "t4,,\r\n");
	assert_int_equal(c.delim, ',');
	assert_int_equal(c.n, 5);
	s_record_is(&c, 0, 1, 3, "组织编码", "组织名称", "成立时间");
	s_record_is(&c, 1, 2, 3, "t1", "中共某镇委员会, 第一", "1956-07-01");
	s_record_is(&c, 2, 3, 3, "t2", "中共\"红旗\"村支部", "");
	s_record_is(&c, 3, 4, 3, "t3", "两行\r\n的名称\n第三行", "1958/10/1");
	/* The record after a field with two line breaks starts on line 7. */
	s_record_is(&c, 4, 7, 3, "t4", "", "");
	assert_false(ctl_csv_blank(&c.records[4]));
	ctl_csv_free(&c);

	/* LF only, no line break at the end, a lone CR, a trailing empty
	 * field at the very end. */
	s_parse(&c, "a,b\nc,d\re,");
	assert_int_equal(c.n, 3);
	s_record_is(&c, 0, 1, 2, "a", "b");
	s_record_is(&c, 1, 2, 2, "c", "d");
	s_record_is(&c, 2, 3, 2, "e", "");
	ctl_csv_free(&c);
}

static void
test_parse_edges(void **state)
{
	(void)state;
	struct ctl_csv c;
	char err[200] = "";

	s_parse(&c, "");
	assert_int_equal(c.n, 0);
	ctl_csv_free(&c);

	/* Blank rows as Excel saves them, and a truly empty line. */
	s_parse(&c, "a,b\n,\n \t, \xE3\x80\x80\n\nx,y\n");
	assert_int_equal(c.n, 5);
	assert_true(ctl_csv_blank(&c.records[1]));
	assert_true(ctl_csv_blank(&c.records[2]));
	assert_true(ctl_csv_blank(&c.records[3]));
	assert_false(ctl_csv_blank(&c.records[4]));
	s_record_is(&c, 4, 5, 2, "x", "y");
	ctl_csv_free(&c);

	/* Excel keeps what follows a closing quote; a quote inside an
	 * unquoted field is an ordinary character. */
	s_parse(&c, "\"ab\"cd,e\"f\"g,\"\"\n");
	s_record_is(&c, 0, 1, 3, "abcd", "e\"f\"g", "");
	ctl_csv_free(&c);

	/* Tabs and no comma on the first line: tab-separated. */
	s_parse(&c, "姓名\t性别\n张三, 李四\t男\n");
	assert_int_equal(c.delim, '\t');
	s_record_is(&c, 1, 2, 2, "张三, 李四", "男");
	ctl_csv_free(&c);

	/* A quote never closed: refused, naming the line it opened on. */
	const char *open = "a,b\nc,\"d\ne,f\n";
	assert_int_equal(ctl_csv_parse(open, strlen(open), &c, err, sizeof err), -1);
	assert_string_equal(err, "line 2: a quoted field is not closed");
	assert_null(c.records);
}

static void
test_clean(void **state)
{
	(void)state;
	char a[] = "  张三\t ", b[] = "\xE3\x80\x80王五\xE3\x80\x80", c[] = "=\"0123\"",
	    d[] = "'320123193805120113", e[] = "\t510722101000", f[] = "\xC2\xA0x\xC2\xA0",
	    g[] = "=\"\"", h[] = "a b";
	assert_string_equal(ctl_csv_clean(a), "张三");
	assert_string_equal(ctl_csv_clean(b), "王五");
	assert_string_equal(ctl_csv_clean(c), "0123");
	assert_string_equal(ctl_csv_clean(d), "320123193805120113");
	assert_string_equal(ctl_csv_clean(e), "510722101000");
	assert_string_equal(ctl_csv_clean(f), "x");
	assert_string_equal(ctl_csv_clean(g), "");
	assert_string_equal(ctl_csv_clean(h), "a b");

	assert_true(ctl_csv_excel_exponent("3.20123E+17"));
	assert_true(ctl_csv_excel_exponent("5.10722e+11"));
	assert_true(ctl_csv_excel_exponent("1E+11"));
	assert_false(ctl_csv_excel_exponent("320123193805120113"));
	assert_false(ctl_csv_excel_exponent("E+17"));
	assert_false(ctl_csv_excel_exponent("3.2E+"));
	assert_false(ctl_csv_excel_exponent("t-1E+1x"));
}

/* The date s parses to y-m-d. */
static void
s_date_is(const char *s, int y, int m, int d)
{
	int yy = 0, mm = 0, dd = 0;
	if (!ctl_csv_date(s, &yy, &mm, &dd))
		fail_msg("'%s' is not read as a date", s);
	if (yy != y || mm != m || dd != d)
		fail_msg("'%s' read as %d-%d-%d", s, yy, mm, dd);
}

static void
test_dates(void **state)
{
	(void)state;
	int y, m, d;
	s_date_is("1956-07-01", 1956, 7, 1);
	s_date_is("1956/7/1", 1956, 7, 1);
	s_date_is("1956.7.1", 1956, 7, 1);
	s_date_is("1956.07.01", 1956, 7, 1);
	s_date_is("1956年7月1日", 1956, 7, 1);
	s_date_is("1956年07月01号", 1956, 7, 1);
	s_date_is("1956年7月1", 1956, 7, 1);
	/* A time of day is ignored. */
	s_date_is("1956/7/1 0:00", 1956, 7, 1);
	s_date_is("1956-07-01 00:00:00", 1956, 7, 1);
	s_date_is("1956-07-01T08:30:00.000", 1956, 7, 1);
	s_date_is("1956年7月1日 12:00", 1956, 7, 1);
	s_date_is("1900-01-01", 1900, 1, 1);
	s_date_is("2000/2/29", 2000, 2, 29);

	static const char *const bad[] = {
		"", "1956", "1956-07", "1956年7月", "19560701", "56-7-1", "1956-7/1",
		"1956/13/1", "1956/0/1", "1956/7/0", "1955/2/29", "1900/2/29", "1899-12-31",
		"2100-01-01", "1956-07-01x", "1956-07-01 noon", "1956-007-01", "20637",
		"一九五六年七月一日",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (ctl_csv_date(bad[i], &y, &m, &d))
			fail_msg("'%s' read as a date", bad[i]);

	/* The instants import sends: 00:00 CST, negative before 1970. */
	assert_true(ctl_csv_date("1956年7月1日", &y, &m, &d));
	assert_int_equal(civil_cst_midnight(y, m, d), -426153600000LL);
	assert_true(ctl_csv_date("1900/1/1", &y, &m, &d));
	assert_int_equal(civil_cst_midnight(y, m, d), -2209017600000LL);
	assert_true(ctl_csv_date("1970.1.1", &y, &m, &d));
	assert_int_equal(civil_cst_midnight(y, m, d), -28800000LL);
	assert_true(ctl_csv_date("1985/7/1 0:00", &y, &m, &d));
	assert_int_equal(civil_cst_midnight(y, m, d), 488995200000LL);
	assert_true(ctl_csv_date("2000-02-29", &y, &m, &d));
	assert_int_equal(civil_cst_midnight(y, m, d), 951753600000LL);
}

static void
test_write(void **state)
{
	(void)state;
	const char *fields[] = {
		"t1", "中共\"红旗\"村, 第一支部", "两行\n名称", "320123193805120113",
		"32012319551120031X", "510722101000", "0123", "13800000001", " x", "",
		"0", "12345678901",
	};
	const unsigned n = sizeof fields / sizeof fields[0];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ctl_csv_write_record(f, fields, n);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf,
	    "t1,\"中共\"\"红旗\"\"村, 第一支部\",\"两行\n名称\",\t320123193805120113,"
	    "\t32012319551120031X,\t510722101000,\t0123,13800000001,\" x\",,0,12345678901\r\n");

	/* Read back and cleaned: the same values (the tab Excel keeps as text
	 * is trimmed; so is the leading space, as on any import). */
	struct ctl_csv c;
	s_parse(&c, buf);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.records[0].nfields, n);
	for (unsigned i = 0; i < n; i++) {
		const char *want = i == 8 ? "x" : fields[i];
		assert_string_equal(ctl_csv_clean(c.records[0].fields[i]), want);
	}
	ctl_csv_free(&c);
	free(buf);
}

int
unit_import(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_utf8),
		cmocka_unit_test(test_decode_gb18030),
		cmocka_unit_test(test_decode_refused),
		cmocka_unit_test(test_parse_rfc4180),
		cmocka_unit_test(test_parse_edges),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
