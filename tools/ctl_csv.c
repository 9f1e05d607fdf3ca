/*
 * ctl_csv: spreadsheet files as Excel and WPS save them (see ctl_csv.h).
 * Sections: encodings, records, cells and dates, writing.
 */
#include "ctl_csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "civil.h"
#include "codec.h"

/* ================================================================ encodings */

const char *
ctl_csv_encoding_name(enum ctl_csv_encoding e, bool bom)
{
	switch (e) {
	case CTL_CSV_UTF8: return bom ? "UTF-8 with BOM" : "UTF-8";
	case CTL_CSV_GB18030: return "GB18030";
	default: return "auto";
	}
}

bool
ctl_csv_encoding_parse(const char *s, enum ctl_csv_encoding *out)
{
	static const struct {
		const char *name;
		enum ctl_csv_encoding e;
	} names[] = {
		{ "auto", CTL_CSV_AUTO }, { "utf-8", CTL_CSV_UTF8 }, { "utf8", CTL_CSV_UTF8 },
		{ "gb18030", CTL_CSV_GB18030 }, { "gbk", CTL_CSV_GB18030 },
		{ "gb2312", CTL_CSV_GB18030 },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].e;
			return true;
		}
	return false;
}

/* The line (from 1) of byte offset at. */
static unsigned
s_line_of(const char *buf, size_t at)
{
	unsigned line = 1;
	for (size_t i = 0; i < at; i++)
		line += buf[i] == '\n';
	return line;
}

/* The first line of buf that is not valid UTF-8, 0 when all are. Lines
 * never split a UTF-8 sequence, so codec's check runs line by line. */
static unsigned
s_utf8_bad_line(const char *buf, size_t len)
{
	unsigned line = 1;
	for (size_t at = 0; at < len; line++) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - buf) : len;
		if (!codec_utf8_valid(buf + at, end - at))
			return line;
		at = end + 1;
	}
	return 0;
}

/* GB18030 to UTF-8 with glibc's iconv. */
static int
s_from_gb18030(const char *buf, size_t len, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	iconv_t cd = iconv_open("UTF-8", "GB18030");
	if (cd == (iconv_t)-1) {
		snprintf(err, errlen, "cannot convert from GB18030 on this system (iconv: %s); "
		    "save the file as CSV UTF-8", strerror(errno));
		return -1;
	}
	/* A GB18030 character (1-4 bytes) is at most 4 bytes of UTF-8. */
	size_t cap = len * 2 + 4, left = cap - 1, inleft = len;
	char *res = malloc(cap), *o = res, *in = (char *)buf;
	int rc = -1;
	if (!res) {
		snprintf(err, errlen, "out of memory");
	} else if (iconv(cd, &in, &inleft, &o, &left) == (size_t)-1) {
		snprintf(err, errlen, "line %u: the bytes are neither UTF-8 nor GB18030 "
		    "(iconv: %s); save the file as CSV UTF-8, or give --encoding",
		    s_line_of(buf, (size_t)(in - buf)), strerror(errno));
	} else {
		*o = '\0';
		*out = res;
		*outlen = (size_t)(o - res);
		res = NULL;
		rc = 0;
	}
	free(res);
	iconv_close(cd);
	return rc;
}

int
ctl_csv_decode(const char *buf, size_t len, enum ctl_csv_encoding enc,
    char **out, size_t *outlen, enum ctl_csv_encoding *found, bool *bom,
    char *err, size_t errlen)
{
	bool has_bom = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0;
	enum ctl_csv_encoding use = enc;
	unsigned bad;

	if (len >= 2 && (memcmp(buf, "\xFF\xFE", 2) == 0 || memcmp(buf, "\xFE\xFF", 2) == 0)) {
		snprintf(err, errlen, "the file is UTF-16 (Excel's \"Unicode text\"): save it "
		    "as \"CSV UTF-8\" or \"CSV\"");
		return -1;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "line %u: a NUL byte: this is not a CSV text file",
		    s_line_of(buf, (size_t)((const char *)memchr(buf, '\0', len) - buf)));
		return -1;
	}
	if (use == CTL_CSV_AUTO)
		use = has_bom || s_utf8_bad_line(buf, len) == 0 ? CTL_CSV_UTF8 : CTL_CSV_GB18030;
	if (found)
		*found = use;
	if (bom)
		*bom = has_bom && use == CTL_CSV_UTF8;
	if (use == CTL_CSV_GB18030)
		return s_from_gb18030(buf, len, out, outlen, err, errlen);
	if (has_bom)
		buf += 3, len -= 3;
	if ((bad = s_utf8_bad_line(buf, len))) {
		snprintf(err, errlen, "line %u is not valid UTF-8%s", bad, enc == CTL_CSV_UTF8 ?
		    " (--encoding utf-8)" : " although the file starts with a UTF-8 BOM");
		return -1;
	}
	if (!(*out = malloc(len + 1))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(*out, buf, len);
	(*out)[len] = '\0';
	*outlen = len;
	return 0;
}

/* Length of the white space at s: ASCII, U+00A0, U+3000; 0 for none. */
static size_t
s_space(const char *s)
{
	if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '\v' || *s == '\f')
		return 1;
	/* strncmp: it stops at the NUL, memcmp may read past it. */
	if (strncmp(s, "\xC2\xA0", 2) == 0)
		return 2;
	if (strncmp(s, "\xE3\x80\x80", 3) == 0)
		return 3;
	return 0;
}

/* ================================================================ records */

/* What ctl_csv_parse builds as it goes. */
struct s_parse {
	struct ctl_csv *c;
	size_t ncells, cells_cap;
	unsigned recs_cap;
	size_t first_cell;           /* of the record being read */
};

static int
s_push_cell(struct s_parse *p, char *cell)
{
	if (p->ncells == p->cells_cap) {
		size_t cap = p->cells_cap ? p->cells_cap * 2 : 256;
		char **c = realloc(p->c->cells, cap * sizeof *c);
		if (!c)
			return -1;
		p->c->cells = c;
		p->cells_cap = cap;
	}
	p->c->cells[p->ncells++] = cell;
	return 0;
}

/* End the record whose cells start at p->first_cell. Its fields pointer
 * is an index until ctl_csv_parse fixes it up (cells may move). */
static int
s_push_record(struct s_parse *p, unsigned line)
{
	struct ctl_csv *c = p->c;
	if (c->n == p->recs_cap) {
		unsigned cap = p->recs_cap ? p->recs_cap * 2 : 64;
		struct ctl_csv_record *r = realloc(c->records, cap * sizeof *r);
		if (!r)
			return -1;
		c->records = r;
		p->recs_cap = cap;
	}
	c->records[c->n].fields = (char **)(uintptr_t)p->first_cell;
	c->records[c->n].nfields = (unsigned)(p->ncells - p->first_cell);
	c->records[c->n].line = line;
	c->n++;
	p->first_cell = p->ncells;
	return 0;
}

/* Tabs and no commas on the first line: a tab-separated file. */
static char
s_delimiter(const char *t)
{
	size_t n = strcspn(t, "\r\n");
	bool comma = memchr(t, ',', n) != NULL, tab = memchr(t, '\t', n) != NULL;
	return tab && !comma ? '\t' : ',';
}

/* Unquote fields in place in c->text: w trails r (unquoting only
 * shrinks), each field ends with a NUL written at w. */
static int
s_split(struct s_parse *p, char *err, size_t errlen)
{
	char *r = p->c->text, *w = r, dl = p->c->delim;
	unsigned line = 1, rec_line = 1;
	bool at_record_start = true;

	while (*r) {
		char *cell = w;
		if (at_record_start)
			rec_line = line;
		at_record_start = false;
		if (*r == '"') {
			unsigned qline = line;
			for (r++;; r++) {
				if (!*r) {
					snprintf(err, errlen, "line %u: a quoted field is not closed", qline);
					return -1;
				}
				if (*r == '"' && r[1] == '"') {
					*w++ = '"';
					r++;
				} else if (*r == '"') {
					r++;
					break;
				} else {
					line += *r == '\n' || (*r == '\r' && r[1] != '\n');
					*w++ = *r;
				}
			}
		}
		while (*r && *r != dl && *r != '\n' && *r != '\r')
			*w++ = *r++;
		char end = *r;
		*w++ = '\0';
		if (s_push_cell(p, cell) < 0)
			return -1;
		if (end == dl) {
			r++;
			if (!*r && s_push_cell(p, w) < 0)  /* "a," at the very end */
				return -1;
			if (!*r)
				*w = '\0';
			continue;
		}
		if (end == '\r')
			r += r[1] == '\n' ? 2 : 1;
		else if (end == '\n')
			r++;
		line++;
		if (s_push_record(p, rec_line) < 0)
			return -1;
		at_record_start = true;
	}
	if (!at_record_start && s_push_record(p, rec_line) < 0)
		return -1;
	return 0;
}

int
ctl_csv_parse(const char *text, size_t len, struct ctl_csv *out, char *err, size_t errlen)
{
	struct s_parse p = { .c = out };

	memset(out, 0, sizeof *out);
	/* One byte more than the text: a trailing empty field gets its NUL. */
	if (!(out->text = malloc(len + 2))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(out->text, text, len);
	out->text[len] = out->text[len + 1] = '\0';
	out->delim = s_delimiter(out->text);
	if (s_split(&p, err, errlen) < 0) {
		if (!*err)
			snprintf(err, errlen, "out of memory");
		ctl_csv_free(out);
		return -1;
	}
	for (unsigned i = 0; i < out->n; i++)
		out->records[i].fields = out->cells + (uintptr_t)out->records[i].fields;
	return 0;
}

bool
ctl_csv_blank(const struct ctl_csv_record *r)
{
	for (unsigned i = 0; i < r->nfields; i++)
		for (const char *p = r->fields[i]; *p;) {
			size_t k = s_space(p);
			if (!k)
				return false;
			p += k;
		}
	return true;
}

void
ctl_csv_free(struct ctl_csv *c)
{
	free(c->records);
	free(c->cells);
	free(c->text);
	memset(c, 0, sizeof *c);
}

/* ================================================================ cells and dates */

static char *
s_trim(char *s)
{
	size_t k, n;
	while ((k = s_space(s)))
		s += k;
	n = strlen(s);
	for (;;) {
		if (n >= 1 && s_space(s + n - 1) == 1)
			n -= 1;
		else if (n >= 2 && s_space(s + n - 2) == 2)
			n -= 2;
		else if (n >= 3 && s_space(s + n - 3) == 3)
			n -= 3;
		else
			break;
	}
	s[n] = '\0';
	return s;
}

char *
ctl_csv_clean(char *cell)
{
	char *s = s_trim(cell);
	size_t n = strlen(s);

	if (n >= 3 && s[0] == '=' && s[1] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		s = s_trim(s + 2);
	} else if (s[0] == '\'') {
		s = s_trim(s + 1);
	}
	return s;
}

bool
ctl_csv_excel_exponent(const char *s)
{
	if (!(*s >= '0' && *s <= '9'))
		return false;
	s++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (*s != 'E' && *s != 'e')
		return false;
	s++;
	if (*s == '+')
		s++;
	if (!(*s >= '0' && *s <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	return *s == '\0';
}

/* 1 to max digits at *s into *v, advancing *s. */
static bool
s_digits(const char **s, int min, int max, int *v)
{
	int n = 0;
	*v = 0;
	while (n < max && **s >= '0' && **s <= '9') {
		*v = *v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n >= min && !(**s >= '0' && **s <= '9');
}

/* Does s start with the prefix p? Advances s past it. */
static bool
s_skip(const char **s, const char *p)
{
	size_t n = strlen(p);
	if (strncmp(*s, p, n) != 0)
		return false;
	*s += n;
	return true;
}

/* What may follow a date: nothing, or a time of day after white space or
 * a T (digits, ':' and '.' only). */
static bool
s_time_of_day(const char *s)
{
	size_t k = s_space(s);
	if (!*s)
		return true;
	if (!k && *s != 'T')
		return false;
	s += k ? k : 1;
	while ((k = s_space(s)))
		s += k;
	if (!(*s >= '0' && *s <= '9'))
		return false;
	return strspn(s, "0123456789:.") == strlen(s);
}

bool
ctl_csv_date(const char *s, int *y, int *m, int *d)
{
	char sep;

	if (!s_digits(&s, 4, 4, y))
		return false;
	if (s_skip(&s, "年")) {
		if (!s_digits(&s, 1, 2, m) || !s_skip(&s, "月") || !s_digits(&s, 1, 2, d))
			return false;
		if (!s_skip(&s, "日"))
			s_skip(&s, "号");
	} else {
		sep = *s;
		if (sep != '-' && sep != '/' && sep != '.')
			return false;
		s++;
		if (!s_digits(&s, 1, 2, m) || *s++ != sep || !s_digits(&s, 1, 2, d))
			return false;
	}
	return s_time_of_day(s) && *y >= 1900 && *y <= 2099 && *m >= 1 && *m <= 12 &&
	    *d >= 1 && *d <= civil_month_days(*y, *m);
}

/* ================================================================ writing */

/* Digits (an ID number may end in X) Excel would read as a number and
 * spoil: 12 characters or more (shown as 3.2E+17, saved back so), or a
 * leading zero (dropped). */
static bool
s_excel_would_spoil(const char *s)
{
	size_t n = strlen(s), digits = strspn(s, "0123456789");
	if (n == 0 || !(digits == n || (digits == n - 1 && (s[n - 1] == 'X' || s[n - 1] == 'x'))))
		return false;
	return n >= 12 || (s[0] == '0' && n > 1);
}

void
ctl_csv_write_record(FILE *f, const char *const *fields, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const char *v = fields[i] ? fields[i] : "";
		size_t len = strlen(v);
		bool quote = strpbrk(v, ",\"\r\n") != NULL ||
		    (len && (s_space(v) || s_space(v + len - 1) == 1));
		if (i)
			fputc(',', f);
		if (s_excel_would_spoil(v))
			fputc('\t', f);
		if (!quote) {
			fputs(v, f);
			continue;
		}
		fputc('"', f);
		for (; *v; v++) {
			if (*v == '"')
				fputc('"', f);
			fputc(*v, f);
		}
		fputc('"', f);
	}
	fputs("\r\n", f);
}
