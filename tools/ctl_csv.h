/*
 * ctl_csv: spreadsheet files as Excel and WPS save them, for jicengctl
 * import. It owns the text side: the encoding (UTF-8 with or without a BOM,
 * or GB18030/GBK, converted with glibc's iconv), RFC 4180 records (quoted
 * fields with commas, doubled quotes and line breaks, CRLF or LF line
 * ends), the clean-up of one cell, the calendar dates a roster writes
 * (1956-07-01, 1956/7/1, 1956.7.1, 1956年7月1日), and writing records back
 * so that Excel opens them. What the columns mean is ctl_import.c's.
 *
 * Pure functions over memory, no sockets: the unit tests include this
 * file's .c (tests/unit/test_import.c).
 */
#ifndef JICENG_CTL_CSV_H
#define JICENG_CTL_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ctl_csv_encoding {
	CTL_CSV_AUTO = 0,   /* valid UTF-8 (BOM or not) is UTF-8, else GB18030 */
	CTL_CSV_UTF8,
	CTL_CSV_GB18030,    /* a superset of GBK and GB2312 */
};

/* "UTF-8", "UTF-8 with BOM" (for found only), "GB18030", "auto". */
const char *ctl_csv_encoding_name(enum ctl_csv_encoding e, bool bom);
/* Parse "auto", "utf-8"/"utf8", "gb18030"/"gbk"/"gb2312" (any case).
 * Returns false for anything else. */
bool ctl_csv_encoding_parse(const char *s, enum ctl_csv_encoding *out);

/* The text of a file's bytes as UTF-8: NUL-terminated, malloc'd into *out
 * (*outlen its length), a leading UTF-8 BOM dropped. With CTL_CSV_AUTO, a
 * file with a UTF-8 BOM or whose bytes are valid UTF-8 is UTF-8, anything
 * else is converted from GB18030. *found (may be NULL) is the encoding it
 * was read in, *bom whether it had a UTF-8 BOM. Returns 0, or -1 with a
 * one-line message in err: a UTF-16 file (Excel's "Unicode text"), a NUL
 * byte, bytes that are not valid in the encoding given or found (with the
 * line), or no iconv for GB18030 on this system. */
int ctl_csv_decode(const char *buf, size_t len, enum ctl_csv_encoding enc,
    char **out, size_t *outlen, enum ctl_csv_encoding *found, bool *bom,
    char *err, size_t errlen);

/* One record: its fields, unquoted, NUL-terminated. */
struct ctl_csv_record {
	char **fields;
	unsigned nfields;
	unsigned line;       /* the physical line it starts on, from 1 */
};

/* A parsed file. Every string points into one buffer it owns. */
struct ctl_csv {
	struct ctl_csv_record *records;
	unsigned n;
	char delim;          /* ',' or, when the first line has tabs and no
	                        commas, '\t' */
	char *text;          /* the buffer */
	char **cells;        /* every record's fields, in order */
};

/* Split UTF-8 text (len bytes, need not be NUL-terminated) into records
 * after RFC 4180: fields separated by the delimiter, records by CRLF, LF
 * or a lone CR; a field that starts with a double quote runs to the
 * closing quote, with "" for one quote and delimiters and line breaks
 * kept; characters after the closing quote are kept as Excel keeps them,
 * and a quote inside an unquoted field is an ordinary character. A line
 * break at the end does not start an empty record. Returns 0, or -1 with
 * err when a quoted field is never closed (naming its line) or memory runs
 * out. Free with ctl_csv_free. */
int ctl_csv_parse(const char *text, size_t len, struct ctl_csv *out, char *err,
    size_t errlen);
void ctl_csv_free(struct ctl_csv *c);

/* Is every field empty or white space (a row Excel saved as ",,,,")? */
bool ctl_csv_blank(const struct ctl_csv_record *r);

/* Clean one cell in place and return where it now starts: white space
 * (ASCII, no-break and the ideographic space U+3000) trimmed at both ends,
 * Excel's text forms unwrapped (="0123" as 0123, a leading apostrophe
 * '0123 as 0123). */
char *ctl_csv_clean(char *cell);

/* Does a cell look like a number Excel shortened to scientific notation
 * (3.20123E+17), the fate of long digit strings in a General column? */
bool ctl_csv_excel_exponent(const char *cell);

/* A calendar date in one of the forms a roster writes: 1956-07-01,
 * 1956/7/1, 1956.7.1, 1956年7月1日, each optionally followed by a time of
 * day (after white space or a T; ignored): 1956/7/1 0:00,
 * 1956-07-01 00:00:00. A real date of years 1900-2099. */
bool ctl_csv_date(const char *s, int *y, int *m, int *d);

/* Write one record to f: a field that holds the delimiter ',', a double
 * quote, a line break or leading/trailing white space is quoted (quotes
 * doubled); a field of digits Excel would turn into a number and spoil
 * (12 or more characters, such as an ID number or an area code, or a
 * leading zero) gets a leading tab, which Excel keeps as text and
 * ctl_csv_clean trims. CRLF ends the record. */
void ctl_csv_write_record(FILE *f, const char *const *fields, unsigned n);

#endif
