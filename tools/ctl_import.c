/*
 * jicengctl import: a county's first day. The organisations and the member
 * roster its staff keep in a spreadsheet, saved as CSV by Excel or WPS,
 * become OrgEstablished and MemberRegistered events, sent through the
 * pipelined sender `send` uses (ctl_send.c).
 *
 * What it owns: the columns (Chinese headers as a roster export has them,
 * with synonyms), turning one row into one event, the event id derived from
 * the row's content, the order organisations go in (each after the ones it
 * names), the progress bar, the summary, and the refused-rows file staff
 * fix and import again. What it does not own: the text of the file
 * (encodings, quoting, dates: ctl_csv.c) and the rules, which stay the
 * server's: the import refuses a row itself only when it cannot be made
 * into an event (a date, a category or an id it cannot read).
 *
 * Importing is idempotent. A row's event id is "imp-" and a hash of its
 * normalised fields (an ID number and a phone only in masked form, so the
 * id gives neither away), and its occurred_at is the row's latest date, so
 * the same row packs to the same bytes every time and a second import is
 * DUPLICATE throughout. A row the server refused before (DUPLICATE of a
 * REJECTED event) may be good now that, say, its organisation exists: it
 * is sent again as imp-HASH.2, .3 ... (one refused event more in the
 * journal per run for a row still bad, IMP_ATTEMPTS_MAX in all; then the
 * old refusal stands). ID_REUSED (the masked fields hide a change) takes
 * the next id the same way.
 *
 * A resident ID number is never printed, logged, put in a reason or in an
 * event id; it is in the refused-rows file only as the staff typed it,
 * which is created 0600 like any copy of the roster should be.
 */
#include "ctl.h"
#include "ctl_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "civil.h"
#include "codec.h"
#include "idnum.h"

#define IMP_FILE_MAX     (256u << 20)  /* largest input file */
#define IMP_HEADER_SCAN  10            /* rows searched for the header row */
#define IMP_HASH_BYTES   10            /* event id: "imp-" + 20 hex digits */
#define IMP_ATTEMPTS_MAX 64            /* ids a row may take: imp-HASH, .2 ... .64 */
#define IMP_TTY_MS       100           /* progress bar redraw interval */
#define IMP_LINE_MS      1000          /* progress line interval (not a tty) */
#define IMP_CODE_MAX     32
#define IMP_REASON_MAX   512

/* ================================================================ columns */

enum { O_ID, O_NAME, O_KIND, O_PARENT, O_APPROVING, O_ESTABLISHED, O_FORMATION,
	O_UNITS, O_TOWNSHIP, O_NFIELDS };
enum { M_ID, M_HOME, M_NAME, M_SEX, M_IDNUM, M_BIRTH, M_ADMITTED, M_CONFIRMED,
	M_CATEGORY, M_PHONE, M_FARMER, M_TOWNSHIP, M_NFIELDS };
#define IMP_FIELDS_MAX M_NFIELDS

/* A column import reads: its field, the event field it fills (for
 * messages), whether a file must have it, the header and its synonyms. */
struct s_column {
	int field;
	const char *en;
	bool required;
	const char *names[7];
};

static const struct s_column s_org_columns[] = {
	{ O_ID, "org_id", true, { "组织编码", "组织代码", "党组织编码", "党组织代码" } },
	{ O_NAME, "name", true, { "组织名称", "党组织名称", "名称" } },
	{ O_KIND, "kind", true, { "组织类别", "组织类型", "党组织类别", "党组织类型" } },
	{ O_PARENT, "parent_id", false, { "上级组织编码", "上级组织代码", "上级党组织编码",
	    "上级党组织代码" } },
	{ O_APPROVING, "approving_org_id", false, { "批准组织编码", "批准组织代码",
	    "批准党组织编码", "批准党组织代码" } },
	{ O_ESTABLISHED, "established_at", false, { "成立时间", "成立日期" } },
	{ O_FORMATION, "formation", false, { "组建方式" } },
	{ O_UNITS, "unit_count", false, { "联建单位数", "联合单位数" } },
	{ O_TOWNSHIP, "township_id", false, { "所属乡镇", "所属乡镇编码", "所属乡镇代码",
	    "乡镇编码", "乡镇代码" } },
};

static const struct s_column s_member_columns[] = {
	{ M_ID, "member_id", true, { "党员编号", "党员编码", "党员代码" } },
	{ M_HOME, "home_org_id", true, { "所在党组织编码", "所在党组织", "所在党组织代码",
	    "所在支部编码", "所在支部", "组织关系所在党组织" } },
	{ M_NAME, "name", true, { "姓名" } },
	{ M_SEX, "sex", false, { "性别" } },
	{ M_IDNUM, "id_number", false, { "公民身份号码", "身份证号码", "身份证号" } },
	{ M_BIRTH, "birth_date", false, { "出生日期" } },
	{ M_ADMITTED, "admitted_at", true, { "入党时间", "入党日期" } },
	{ M_CONFIRMED, "confirmed_at", false, { "转正时间", "转正日期" } },
	{ M_CATEGORY, "category", true, { "人员类别", "党员类别", "党员类型" } },
	{ M_PHONE, "phone", false, { "联系电话", "手机号码", "手机号", "联系方式" } },
	{ M_FARMER, "farmer", false, { "农民党员", "是否农民党员" } },
	{ M_TOWNSHIP, "township_id", false, { "所属乡镇", "所属乡镇编码", "所属乡镇代码",
	    "乡镇编码", "乡镇代码" } },
};

/* Headers read without a warning and not imported: a serial number, and
 * the columns a refused-rows file adds (written afresh, never twice). */
static const char *const s_quiet_columns[] = { "序号", "行号", "代码", "原因" };
#define S_REFUSED_COLUMNS 3  /* the last three above */

/* A word a cell may hold, and its enum value. */
struct s_word {
	const char *word;
	int value;
};

static const struct s_word s_kind_words[] = {
	{ "乡镇党委", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE },
	{ "镇党委", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE },
	{ "乡党委", JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE },
	{ "村党委", JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE },
	{ "党总支", JICENG__V1__ORG_KIND__GENERAL_BRANCH },
	{ "党总支部", JICENG__V1__ORG_KIND__GENERAL_BRANCH },
	{ "村党总支", JICENG__V1__ORG_KIND__GENERAL_BRANCH },
	{ "党支部", JICENG__V1__ORG_KIND__BRANCH },
	{ "村党支部", JICENG__V1__ORG_KIND__BRANCH },
	{ "联合党支部", JICENG__V1__ORG_KIND__JOINT_BRANCH },
	{ "临时党支部", JICENG__V1__ORG_KIND__TEMPORARY_BRANCH },
	{ "流动党员党支部", JICENG__V1__ORG_KIND__MOBILE_BRANCH },
	{ "党小组", JICENG__V1__ORG_KIND__PARTY_GROUP },
	{ NULL, 0 },
};

static const struct s_word s_formation_words[] = {
	{ "单独组建", JICENG__V1__FORMATION__SINGLE },
	{ "村村联建", JICENG__V1__FORMATION__VILLAGE_VILLAGE },
	{ "村企联建", JICENG__V1__FORMATION__VILLAGE_ENTERPRISE },
	{ "村居联建", JICENG__V1__FORMATION__VILLAGE_COMMUNITY },
	{ "村机联建", JICENG__V1__FORMATION__VILLAGE_INSTITUTION },
	{ "产业链党组织", JICENG__V1__FORMATION__INDUSTRY_CHAIN },
	{ "产业链", JICENG__V1__FORMATION__INDUSTRY_CHAIN },
	{ "挂靠", JICENG__V1__FORMATION__AFFILIATED },
	{ NULL, 0 },
};

static const struct s_word s_category_words[] = {
	{ "正式党员", JICENG__V1__MEMBER_CATEGORY__FULL },
	{ "正式", JICENG__V1__MEMBER_CATEGORY__FULL },
	{ "预备党员", JICENG__V1__MEMBER_CATEGORY__PROBATIONARY },
	{ "预备", JICENG__V1__MEMBER_CATEGORY__PROBATIONARY },
	{ NULL, 0 },
};

static const struct s_word s_sex_words[] = {
	{ "男", JICENG__V1__SEX__MALE }, { "男性", JICENG__V1__SEX__MALE },
	{ "女", JICENG__V1__SEX__FEMALE }, { "女性", JICENG__V1__SEX__FEMALE },
	{ NULL, 0 },
};

static const struct s_word s_yes_no_words[] = {
	{ "是", 1 }, { "否", 0 }, { "Y", 1 }, { "N", 0 }, { "YES", 1 }, { "NO", 0 },
	{ "1", 1 }, { "0", 0 }, { "TRUE", 1 }, { "FALSE", 0 }, { "√", 1 }, { "×", 0 },
	{ NULL, 0 },
};

/* ================================================================ state */

enum s_state { R_PENDING, R_SENT, R_ACCEPTED, R_DUPLICATE, R_REFUSED };

/* One data row of a file. */
struct s_row {
	unsigned rec;              /* its record in the file */
	unsigned rowno;            /* its row number as the spreadsheet shows it */
	enum s_state state;
	char code[IMP_CODE_MAX];   /* refused: why, */
	char *reason;              /* and in words (malloc'd) */
	char hash[2 * IMP_HASH_BYTES + 1];  /* of its normalised fields */
	unsigned attempt;          /* 1: imp-HASH, n > 1: imp-HASH.n */
	unsigned level;            /* orgs: sent after the levels above */
	char township[13];         /* resolved, once converted */
};

/* A code and how many rows or warnings had it. */
struct s_count {
	char code[IMP_CODE_MAX];
	unsigned long n;
};

struct s_counts {
	struct s_count *v;
	unsigned n;
};

struct s_import;

/* One input file and its run. */
struct s_file {
	struct s_import *imp;
	const char *path;
	bool orgs;                 /* organisations, else members */
	const struct s_column *columns;
	unsigned ncolumns;
	enum ctl_csv_encoding enc;
	bool bom;
	struct ctl_csv csv;
	unsigned header;           /* record index of the header row */
	int col[IMP_FIELDS_MAX];   /* field -> column, -1 when absent */
	const char *colname[IMP_FIELDS_MAX];  /* the header as written */
	struct s_row *rows;
	unsigned nrows;
	unsigned *order;           /* rows in sending order */
	unsigned next;             /* in order */
	unsigned level;            /* being sent */
	unsigned inflight;         /* handed to the sender, not answered */
	unsigned *retry;           /* rows to send again under the next id */
	unsigned nretry;
	unsigned long done, accepted, duplicates, refused;
	struct s_counts refusals, warnings;
	int64_t start_ms, shown_ms;
	bool bar;                  /* a progress bar is on the terminal line */
};

/* An organisation of the orgs file, for what the rows name. */
struct s_org_ref {
	const char *org_id;
	const char *name;
	unsigned row;
};

struct s_import {
	const char *township;      /* --township, or NULL */
	bool quiet;                /* -q: no progress */
	bool tty;                  /* stderr is a terminal */
	int64_t today_end;         /* no date may be later: 00:00 CST tomorrow */
	struct s_file *orgs;       /* the orgs file of this run, or NULL */
	struct s_org_ref *by_id;   /* its rows sorted by org_id ... */
	struct s_org_ref *by_name; /* ... and by name */
	unsigned nrefs;
};

/* ================================================================ small helpers */

static const char *
s_base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The cell of field in a row, "" when the column is absent or short. */
static const char *
s_cell(const struct s_file *f, const struct s_row *r, int field)
{
	const struct ctl_csv_record *rec = &f->csv.records[r->rec];
	int c = f->col[field];
	return c >= 0 && (unsigned)c < rec->nfields ? rec->fields[c] : "";
}

static void
s_count(struct s_counts *c, const char *code)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->v[i].code, code) == 0) {
			c->v[i].n++;
			return;
		}
	struct s_count *v = realloc(c->v, (c->n + 1) * sizeof *v);
	if (!v)
		return;
	c->v = v;
	snprintf(v[c->n].code, sizeof v[c->n].code, "%s", code);
	v[c->n++].n = 1;
}

/* Look word up in a table, then as the enum's own name (any case) in d. */
static bool
s_word(const struct s_word *t, const ProtobufCEnumDescriptor *d, const char *word, int *out)
{
	char upper[64];
	size_t i;

	for (; t->word; t++)
		if (strcasecmp(t->word, word) == 0) {
			*out = t->value;
			return true;
		}
	for (i = 0; d && word[i] && i < sizeof upper - 1; i++)
		upper[i] = (char)(word[i] >= 'a' && word[i] <= 'z' ? word[i] - 32 : word[i]);
	upper[i] = '\0';
	const ProtobufCEnumValue *v = d && *word ? protobuf_c_enum_descriptor_get_value_by_name(d, upper) : NULL;
	if (!v || v->value == 0)
		return false;
	*out = v->value;
	return true;
}

/* Drop a character a truncation cut in half at the end of s (a reason
 * quotes cells, which may be long). */
static void
s_utf8_cut(char *s)
{
	size_t n = strlen(s), k = 0;
	while (k < 3 && k < n && ((unsigned char)s[n - 1 - k] & 0xc0) == 0x80)
		k++;
	if (k == n)
		return;
	unsigned char lead = (unsigned char)s[n - 1 - k];
	size_t want = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
	if (want != k)
		s[n - 1 - k + (lead < 0x80)] = '\0';
}

/* The words of a table, "、"-separated, for a reason. */
static void
s_words_list(const struct s_word *t, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (int last = -1; t->word && n < cap; t++) {
		if (t->value == last)
			continue;
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "、" : "", t->word);
		last = t->value;
	}
}

/* ================================================================ converting a row */

/* One row becoming an event: the event's fields, or why it cannot. */
struct s_conv {
	struct s_file *f;
	struct s_row *row;
	char code[IMP_CODE_MAX];
	char reason[IMP_REASON_MAX];
	crypto_hash_sha256_state hash;  /* of the normalised fields: the id */
	char township[13];
	int64_t occurred_at;
	char birth[11];
	Jiceng__V1__OrgEstablished org;
	Jiceng__V1__MemberRegistered member;
};

static int
s_refuse(struct s_conv *cv, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_refuse(struct s_conv *cv, const char *code, const char *fmt, ...)
{
	va_list ap;
	snprintf(cv->code, sizeof cv->code, "%s", code);
	va_start(ap, fmt);
	int n = vsnprintf(cv->reason, sizeof cv->reason, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof cv->reason)
		s_utf8_cut(cv->reason);
	return -1;
}

/* Add a normalised value to what the event id hashes. */
static void
s_canon(struct s_conv *cv, const char *v)
{
	crypto_hash_sha256_update(&cv->hash, (const uint8_t *)v, strlen(v));
	crypto_hash_sha256_update(&cv->hash, (const uint8_t *)"\x1f", 1);
}

static void
s_canon_int(struct s_conv *cv, long long v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%lld", v);
	s_canon(cv, buf);
}

/* The column's name as the file writes it and the event field. */
#define S_COL(cv, field) ((cv)->f->colname[field] ? (cv)->f->colname[field] : "?")

static const char *
s_en(const struct s_conv *cv, int field)
{
	for (unsigned i = 0; i < cv->f->ncolumns; i++)
		if (cv->f->columns[i].field == field)
			return cv->f->columns[i].en;
	return "?";
}

/* The cleaned cell of field; a required one must not be empty. */
static int
s_text(struct s_conv *cv, int field, bool required, const char **out)
{
	*out = s_cell(cv->f, cv->row, field);
	if (required && !**out)
		return s_refuse(cv, "MISSING", "「%s」为空 / %s (%s) is empty", S_COL(cv, field),
		    S_COL(cv, field), s_en(cv, field));
	return 0;
}

/* A cell Excel turned into 3.2E+17: its digits are gone. */
static int
s_exponent(struct s_conv *cv, int field, const char *code)
{
	return s_refuse(cv, code, "「%s」被Excel存成了科学计数法的数字，原来的数字已丢失：请把该列设为"
	    "文本后重新填写 / %s (%s) was saved by Excel as a number in scientific notation "
	    "and its digits are lost: format the column as text and enter it again",
	    S_COL(cv, field), S_COL(cv, field), s_en(cv, field));
}

/* An org or member id; "" when not required and empty. */
static int
s_id(struct s_conv *cv, int field, bool required, const char **out)
{
	if (s_text(cv, field, required, out) < 0)
		return -1;
	if (!**out || codec_id_valid(*out))
		return 0;
	if (ctl_csv_excel_exponent(*out))
		return s_exponent(cv, field, "BAD_ID");
	return s_refuse(cv, "BAD_ID", "「%s」须为1-64个字母、数字或 . _ : -：%s / %s (%s) must be "
	    "1-64 characters of A-Z a-z 0-9 . _ : -: %s", S_COL(cv, field), *out,
	    S_COL(cv, field), s_en(cv, field), *out);
}

/* A date cell as Unix ms at 00:00 CST (0 when empty and not required);
 * ymd (may be NULL) gets "YYYY-MM-DD". */
static int
s_date(struct s_conv *cv, int field, bool required, int64_t *ms, char ymd[11])
{
	const char *v;
	int y, m, d;

	*ms = 0;
	if (s_text(cv, field, required, &v) < 0)
		return -1;
	if (!*v)
		return 0;
	if (!ctl_csv_date(v, &y, &m, &d))
		return s_refuse(cv, "BAD_DATE", "「%s」不是日期：%s；请写作1956-07-01、1956/7/1、"
		    "1956.7.1或1956年7月1日 / %s (%s) is not a date from 1900 on: %s; write "
		    "1956-07-01, 1956/7/1, 1956.7.1 or 1956年7月1日", S_COL(cv, field), v,
		    S_COL(cv, field), s_en(cv, field), v);
	*ms = civil_cst_midnight(y, m, d);
	if (*ms >= cv->f->imp->today_end)
		return s_refuse(cv, "BAD_DATE", "「%s」晚于今天：%s / %s (%s) is after today: %s",
		    S_COL(cv, field), v, S_COL(cv, field), s_en(cv, field), v);
	if (ymd)
		snprintf(ymd, 11, "%04d-%02d-%02d", y, m, d);
	if (*ms > cv->occurred_at)
		cv->occurred_at = *ms;
	return 0;
}

/* A cell that must be one of a table's words (or the enum's name); 0
 * when empty and not required. */
static int
s_enum(struct s_conv *cv, int field, bool required, const struct s_word *t,
    const ProtobufCEnumDescriptor *d, int *out)
{
	const char *v;
	char list[256];

	*out = 0;
	if (s_text(cv, field, required, &v) < 0)
		return -1;
	if (!*v || s_word(t, d, v, out))
		return 0;
	s_words_list(t, list, sizeof list);
	return s_refuse(cv, "BAD_VALUE", "「%s」不认识：%s；可填：%s / %s (%s) unknown: %s; "
	    "one of: %s", S_COL(cv, field), v, list, S_COL(cv, field), s_en(cv, field), v, list);
}

/* The township of a row: its own cell, else --township, else inherited
 * (*inherit, may be ""). */
static int
s_township(struct s_conv *cv, int field, const char *inherit)
{
	const char *v;

	if (s_text(cv, field, false, &v) < 0)
		return -1;
	if (!*v)
		v = cv->f->imp->township ? cv->f->imp->township : inherit;
	if (!*v)
		return s_refuse(cv, "NO_TOWNSHIP", "没有所属乡镇：请填写「所属乡镇」列或给出 --township / "
		    "no township: fill in the 所属乡镇 column or give --township");
	if (ctl_csv_excel_exponent(v))
		return s_exponent(cv, field, "BAD_TOWNSHIP");
	if (!codec_township_valid(v))
		return s_refuse(cv, "BAD_TOWNSHIP", "「%s」须为12位统计用区划代码（以000结尾）：%s / %s "
		    "(township_id) must be a 12-digit area code ending in 000: %s", S_COL(cv, field),
		    v, S_COL(cv, field), v);
	snprintf(cv->township, sizeof cv->township, "%s", v);
	return 0;
}

static int
s_compare_ref_id(const void *a, const void *b)
{
	return strcmp(((const struct s_org_ref *)a)->org_id, ((const struct s_org_ref *)b)->org_id);
}

static int
s_compare_ref_name(const void *a, const void *b)
{
	return strcmp(((const struct s_org_ref *)a)->name, ((const struct s_org_ref *)b)->name);
}

/* The orgs-file row of org_id, or NULL. */
static struct s_row *
s_org_row(const struct s_import *imp, const char *org_id)
{
	struct s_org_ref key = { .org_id = org_id }, *r;
	if (!imp->nrefs || !(r = bsearch(&key, imp->by_id, imp->nrefs, sizeof key, s_compare_ref_id)))
		return NULL;
	return &imp->orgs->rows[r->row];
}

static int
s_convert_org(struct s_conv *cv)
{
	Jiceng__V1__OrgEstablished *o = &cv->org;
	const char *id, *name, *parent, *approving, *units;
	int kind, formation;
	unsigned long n = 0;
	char *end;
	struct s_row *up;

	if (s_id(cv, O_ID, true, &id) < 0 || s_text(cv, O_NAME, true, &name) < 0 ||
	    s_enum(cv, O_KIND, true, s_kind_words, &jiceng__v1__org_kind__descriptor, &kind) < 0 ||
	    s_id(cv, O_PARENT, false, &parent) < 0 || s_id(cv, O_APPROVING, false, &approving) < 0 ||
	    s_date(cv, O_ESTABLISHED, false, &o->established_at, NULL) < 0 ||
	    s_enum(cv, O_FORMATION, false, s_formation_words, &jiceng__v1__formation__descriptor,
	    &formation) < 0 || s_text(cv, O_UNITS, false, &units) < 0)
		return -1;
	if (*units && ((n = strtoul(units, &end, 10)) > 100000 || *end || units[0] == '-'))
		return s_refuse(cv, "BAD_VALUE", "「%s」须为单位个数：%s / %s (unit_count) must be a "
		    "number of units: %s", S_COL(cv, O_UNITS), units, S_COL(cv, O_UNITS), units);
	/* Without a township of its own, an org is in its parent's. */
	up = *parent ? s_org_row(cv->f->imp, parent) : NULL;
	if (s_township(cv, O_TOWNSHIP, up ? up->township : "") < 0)
		return -1;
	o->org_id = (char *)id;
	o->kind = kind;
	o->parent_id = (char *)parent;
	o->name = (char *)name;
	o->formation = formation;
	o->approving_org_id = (char *)approving;
	o->unit_count = (uint32_t)n;
	s_canon(cv, "org");
	s_canon(cv, cv->township);
	s_canon(cv, id);
	s_canon_int(cv, kind);
	s_canon(cv, parent);
	s_canon(cv, name);
	s_canon_int(cv, formation);
	s_canon(cv, approving);
	s_canon_int(cv, o->established_at);
	s_canon_int(cv, (long long)n);
	return 0;
}

/* The home org cell: an org id, or the name of an org of this run's orgs
 * file. */
static int
s_home_org(struct s_conv *cv, const char **home, const char **inherit)
{
	const struct s_import *imp = cv->f->imp;
	struct s_org_ref key, *r = NULL;
	struct s_row *org;
	const char *v;

	*inherit = "";
	if (s_text(cv, M_HOME, true, &v) < 0)
		return -1;
	if (codec_id_valid(v)) {
		*home = v;
	} else {
		key.name = v;
		if (imp->nrefs)
			r = bsearch(&key, imp->by_name, imp->nrefs, sizeof key, s_compare_ref_name);
		if (!r)
			return s_refuse(cv, "BAD_ID", "「%s」既不是组织编码，也不是本次导入的组织名称：%s / %s "
			    "(home_org_id) is neither an org id nor the name of an org imported with "
			    "--orgs in this run: %s", S_COL(cv, M_HOME), v, S_COL(cv, M_HOME), v);
		if ((r > imp->by_name && strcmp(r[-1].name, v) == 0) ||
		    (r + 1 < imp->by_name + imp->nrefs && strcmp(r[1].name, v) == 0))
			return s_refuse(cv, "BAD_ID", "「%s」有多个组织同名，请填组织编码：%s / %s: more than "
			    "one org has this name, give its org id: %s", S_COL(cv, M_HOME), v,
			    S_COL(cv, M_HOME), v);
		*home = r->org_id;
	}
	/* Whatever the org's fate at the server: the township must not
	 * change the row's bytes from one import to the next. */
	if ((org = s_org_row(imp, *home)))
		*inherit = org->township;
	return 0;
}

/* The ID number: checked here (lib/idnum) so that a bad one is refused
 * with its column; hashed only in masked form. Never in a reason. */
static int
s_id_number(struct s_conv *cv, const char **out, char masked[IDNUM_LEN + 1])
{
	char norm[IDNUM_LEN + 1];
	enum idnum_error e;

	strcpy(masked, "");
	if (s_text(cv, M_IDNUM, false, out) < 0 || !**out)
		return 0;
	if (ctl_csv_excel_exponent(*out))
		return s_exponent(cv, M_IDNUM, "BAD_ID_NUMBER");
	if ((e = idnum_check(*out, norm, NULL, NULL)) != IDNUM_OK)
		return s_refuse(cv, "BAD_ID_NUMBER", "「%s」：%s", S_COL(cv, M_IDNUM), idnum_strerror(e));
	idnum_mask(norm, masked);
	sodium_memzero(norm, sizeof norm);
	return 0;
}

/* First 3 and last 4 characters of a phone, for the hash. */
static void
s_phone_masked(const char *p, char out[16])
{
	size_t n = strlen(p);
	if (n <= 7)
		snprintf(out, 16, "%zu", n);
	else
		snprintf(out, 16, "%.3s*%s", p, p + n - 4);
}

static int
s_convert_member(struct s_conv *cv)
{
	Jiceng__V1__MemberRegistered *m = &cv->member;
	const char *id, *home = "", *inherit = "", *name, *idn, *phone;
	char masked[IDNUM_LEN + 1], phone_masked[16];
	int sex, category, farmer;

	if (s_id(cv, M_ID, true, &id) < 0 || s_home_org(cv, &home, &inherit) < 0 ||
	    s_text(cv, M_NAME, true, &name) < 0 ||
	    s_enum(cv, M_SEX, false, s_sex_words, &jiceng__v1__sex__descriptor, &sex) < 0 ||
	    s_id_number(cv, &idn, masked) < 0 ||
	    s_date(cv, M_BIRTH, false, &(int64_t){ 0 }, cv->birth) < 0 ||
	    s_enum(cv, M_CATEGORY, true, s_category_words,
	    &jiceng__v1__member_category__descriptor, &category) < 0 ||
	    s_date(cv, M_ADMITTED, true, &m->admitted_at, NULL) < 0 ||
	    s_date(cv, M_CONFIRMED, false, &m->confirmed_at, NULL) < 0 ||
	    s_text(cv, M_PHONE, false, &phone) < 0 ||
	    s_enum(cv, M_FARMER, false, s_yes_no_words, NULL, &farmer) < 0 ||
	    s_township(cv, M_TOWNSHIP, inherit) < 0)
		return -1;
	if (ctl_csv_excel_exponent(phone))
		return s_exponent(cv, M_PHONE, "BAD_VALUE");
	m->member_id = (char *)id;
	m->home_org_id = (char *)home;
	m->name = (char *)name;
	m->id_number = (char *)idn;
	m->birth_date = cv->birth;
	m->sex = sex;
	m->category = category;
	m->farmer = farmer != 0;
	m->phone = (char *)phone;
	s_phone_masked(phone, phone_masked);
	s_canon(cv, "member");
	s_canon(cv, cv->township);
	s_canon(cv, id);
	s_canon(cv, home);
	s_canon(cv, name);
	s_canon(cv, masked);
	s_canon(cv, cv->birth);
	s_canon_int(cv, sex);
	s_canon_int(cv, category);
	s_canon_int(cv, m->admitted_at);
	s_canon_int(cv, m->confirmed_at);
	s_canon(cv, phone_masked);
	s_canon_int(cv, farmer);
	return 0;
}

/* Convert a row; on success the row's hash and township are set. */
static int
s_convert(struct s_file *f, struct s_row *r, struct s_conv *cv)
{
	uint8_t digest[crypto_hash_sha256_BYTES];

	memset(cv, 0, sizeof *cv);
	cv->f = f;
	cv->row = r;
	jiceng__v1__org_established__init(&cv->org);
	jiceng__v1__member_registered__init(&cv->member);
	crypto_hash_sha256_init(&cv->hash);
	int rc = f->orgs ? s_convert_org(cv) : s_convert_member(cv);
	crypto_hash_sha256_final(&cv->hash, digest);
	if (rc < 0)
		return -1;
	sodium_bin2hex(r->hash, sizeof r->hash, digest, IMP_HASH_BYTES);
	snprintf(r->township, sizeof r->township, "%s", cv->township);
	/* occurred_at must be positive: a row whose dates are all before
	 * 1970, or absent, says 1 ms. Never the clock: the same row must pack
	 * to the same bytes at every import. */
	if (cv->occurred_at <= 0)
		cv->occurred_at = 1;
	return 0;
}

static void
s_row_refuse(struct s_file *f, struct s_row *r, const char *code, const char *reason)
{
	r->state = R_REFUSED;
	snprintf(r->code, sizeof r->code, "%s", code && *code ? code : "REFUSED");
	free(r->reason);
	r->reason = strdup(reason ? reason : "");
	f->refused++;
	f->done++;
	s_count(&f->refusals, r->code);
}

/* The row's envelope, packed, with the event id of its attempt. */
static int
s_envelope(struct s_file *f, struct s_row *r, struct ctl_envelope *e)
{
	Envelope env = JICENG__V1__ENVELOPE__INIT;
	struct s_conv cv;
	char id[CODEC_MAX_ID + 1];

	if (s_convert(f, r, &cv) < 0) {
		s_row_refuse(f, r, cv.code, cv.reason);
		return -1;
	}
	if (r->attempt > 1)
		snprintf(id, sizeof id, "imp-%s.%u", r->hash, r->attempt);
	else
		snprintf(id, sizeof id, "imp-%s", r->hash);
	env.event_id = id;
	env.township_id = cv.township;
	env.occurred_at = cv.occurred_at;
	if (f->orgs)
		codec_event_set(&env, JICENG__V1__ENVELOPE__EVENT_ORG_ESTABLISHED, &cv.org);
	else
		codec_event_set(&env, JICENG__V1__ENVELOPE__EVENT_MEMBER_REGISTERED, &cv.member);
	e->len = jiceng__v1__envelope__get_packed_size(&env);
	e->buf = malloc(e->len ? e->len : 1);
	e->event_id = strdup(id);
	e->order = r->rowno;
	e->tag = r;
	if (!e->buf || !e->event_id) {
		free(e->buf);
		free(e->event_id);
		s_row_refuse(f, r, "NO_MEMORY", "内存不足 / out of memory");
		return -1;
	}
	jiceng__v1__envelope__pack(&env, e->buf);
	return 0;
}

/* ================================================================ loading a file */

/* A header cell made comparable: spaces, '*' marks and a trailing
 * "(...)" or "（...）" note removed ("*姓名 (必填)" is 姓名). */
static void
s_header_key(const char *h, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = h; *p && n + 4 < cap; p++) {
		if (*p == '(' || strncmp(p, "（", 3) == 0)
			break;
		if (*p == ' ' || *p == '*' || *p == '\t')
			continue;
		if (strncmp(p, "＊", 3) == 0 || strncmp(p, "　", 3) == 0) {
			p += 2;
			continue;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

/* The column spec a header names in a table, or NULL. */
static const struct s_column *
s_column_named(const struct s_column *cols, unsigned ncols, const char *header)
{
	char key[128];
	s_header_key(header, key, sizeof key);
	for (unsigned i = 0; i < ncols; i++)
		for (const char *const *nm = cols[i].names; *nm; nm++)
			if (strcmp(*nm, key) == 0)
				return &cols[i];
	return NULL;
}

static bool
s_quiet_column(const char *header, bool refused_only)
{
	char key[128];
	s_header_key(header, key, sizeof key);
	size_t n = sizeof s_quiet_columns / sizeof s_quiet_columns[0];
	for (size_t i = refused_only ? n - S_REFUSED_COLUMNS : 0; i < n; i++)
		if (strcmp(key, s_quiet_columns[i]) == 0)
			return true;
	return false;
}

static unsigned
s_header_matches(const struct ctl_csv_record *r, const struct s_column *cols, unsigned ncols)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->nfields; i++)
		n += s_column_named(cols, ncols, r->fields[i]) != NULL;
	return n;
}

/* The header row: of the first rows, the first naming the most columns
 * (a roster export may put a title above it). -1 when none names two. */
static int
s_find_header(const struct s_file *f)
{
	unsigned best = 1, n;
	int at = -1;
	for (unsigned i = 0; i < f->csv.n && i < IMP_HEADER_SCAN; i++)
		if ((n = s_header_matches(&f->csv.records[i], f->columns, f->ncolumns)) > best)
			best = n, at = (int)i;
	return at;
}

/* Map the header's columns to fields; fails on a missing required column
 * or one field named twice. Unknown columns get one warning. */
static int
s_map_columns(struct s_file *f)
{
	const struct ctl_csv_record *h = &f->csv.records[f->header];
	char unknown[1024] = "";
	size_t un = 0;

	for (int i = 0; i < IMP_FIELDS_MAX; i++)
		f->col[i] = -1;
	for (unsigned i = 0; i < h->nfields; i++) {
		const struct s_column *c = s_column_named(f->columns, f->ncolumns, h->fields[i]);
		if (c && f->col[c->field] >= 0) {
			fprintf(stderr, "jicengctl import: %s: columns %s and %s both give %s (%s): "
			    "keep one\n", f->path, f->colname[c->field], h->fields[i], c->names[0], c->en);
			return -1;
		}
		if (c) {
			f->col[c->field] = (int)i;
			f->colname[c->field] = h->fields[i];
		} else if (*h->fields[i] && !s_quiet_column(h->fields[i], false) && un < sizeof unknown) {
			un += (size_t)snprintf(unknown + un, sizeof unknown - un, "%s%s", un ? ", " : "",
			    h->fields[i]);
		}
	}
	if (un)
		fprintf(stderr, "jicengctl import: %s: ignoring columns import does not read: %s\n",
		    f->path, unknown);
	for (unsigned i = 0; i < f->ncolumns; i++) {
		const struct s_column *c = &f->columns[i];
		if (c->required && f->col[c->field] < 0) {
			fprintf(stderr, "jicengctl import: %s: no column %s (%s) in the header row "
			    "(row %u)", f->path, c->names[0], c->en, f->header + 1);
			for (const char *const *nm = c->names + 1; *nm; nm++)
				fprintf(stderr, "%s%s", nm == c->names + 1 ? "; also read as " : ", ", *nm);
			fprintf(stderr, "\n");
			return -1;
		}
	}
	return 0;
}

/* Read, decode and split a file, find its header and its data rows. */
static int
s_load(struct s_file *f, enum ctl_csv_encoding enc)
{
	char err[400], *raw = NULL, *text = NULL;
	size_t len = 0, tlen;
	int rc = -1;
	FILE *in = fopen(f->path, "rb");
	struct stat st;

	if (!in || fstat(fileno(in), &st) < 0) {
		fprintf(stderr, "jicengctl import: %s: %s\n", f->path, strerror(errno));
		goto out;
	}
	if (st.st_size > (off_t)IMP_FILE_MAX || !(raw = malloc((size_t)st.st_size + 1)) ||
	    (len = fread(raw, 1, (size_t)st.st_size, in)) != (size_t)st.st_size) {
		fprintf(stderr, "jicengctl import: %s: cannot read it%s\n", f->path,
		    st.st_size > (off_t)IMP_FILE_MAX ? " (over 256 MiB)" : "");
		goto out;
	}
	if (ctl_csv_decode(raw, len, enc, &text, &tlen, &f->enc, &f->bom, err, sizeof err) < 0 ||
	    ctl_csv_parse(text, tlen, &f->csv, err, sizeof err) < 0) {
		fprintf(stderr, "jicengctl import: %s: %s\n", f->path, err);
		goto out;
	}
	for (unsigned i = 0; i < f->csv.n; i++)
		for (unsigned j = 0; j < f->csv.records[i].nfields; j++)
			f->csv.records[i].fields[j] = ctl_csv_clean(f->csv.records[i].fields[j]);
	rc = 0;
out:
	if (raw)
		sodium_memzero(raw, len);
	if (text)
		sodium_memzero(text, tlen);
	free(raw);
	free(text);
	if (in)
		fclose(in);
	return rc;
}

/* Which header the file has: this kind's, or the other kind's (a hint). */
static int
s_header(struct s_file *f)
{
	int at = s_find_header(f);

	if (at >= 0) {
		f->header = (unsigned)at;
		return s_map_columns(f);
	}
	const struct s_column *other = f->orgs ? s_member_columns : s_org_columns;
	unsigned nother = f->orgs ? M_NFIELDS : O_NFIELDS;
	bool looks_other = false;
	for (unsigned i = 0; i < f->csv.n && i < IMP_HEADER_SCAN; i++)
		looks_other |= s_header_matches(&f->csv.records[i], other, nother) > 1;
	fprintf(stderr, "jicengctl import: %s: no header row: none of the first %u rows names "
	    "the columns of %s (%s, %s ...)%s\n", f->path, IMP_HEADER_SCAN,
	    f->orgs ? "organisations" : "members", f->columns[0].names[0], f->columns[1].names[0],
	    looks_other ? (f->orgs ? "; it looks like a member roster: give it with --members" :
	    "; it looks like an organisations file: give it with --orgs") : "");
	return -1;
}

static int
s_rows(struct s_file *f)
{
	if (!(f->rows = calloc(f->csv.n ? f->csv.n : 1, sizeof *f->rows)) ||
	    !(f->order = calloc(f->csv.n ? f->csv.n : 1, sizeof *f->order)) ||
	    !(f->retry = calloc(f->csv.n ? f->csv.n : 1, sizeof *f->retry)))
		return -1;
	for (unsigned i = f->header + 1; i < f->csv.n; i++) {
		if (ctl_csv_blank(&f->csv.records[i]))
			continue;
		struct s_row *r = &f->rows[f->nrows];
		r->rec = i;
		r->rowno = i + 1;
		r->attempt = 1;
		f->order[f->nrows] = f->nrows;
		f->nrows++;
	}
	return 0;
}

/* ================================================================ organisations */

/* Index the orgs file's rows by org_id and by name (before converting:
 * townships are inherited along parent_id). Rows without an id are left
 * out; the first of two rows with one id is the one found. */
static int
s_index_orgs(struct s_import *imp, struct s_file *f)
{
	imp->orgs = f;
	if (!(imp->by_id = calloc(f->nrows ? f->nrows : 1, sizeof *imp->by_id)) ||
	    !(imp->by_name = calloc(f->nrows ? f->nrows : 1, sizeof *imp->by_name)))
		return -1;
	for (unsigned i = 0; i < f->nrows; i++) {
		const char *id = s_cell(f, &f->rows[i], O_ID);
		if (!*id)
			continue;
		imp->by_id[imp->nrefs] = (struct s_org_ref){ id, s_cell(f, &f->rows[i], O_NAME), i };
		imp->nrefs++;
	}
	memcpy(imp->by_name, imp->by_id, imp->nrefs * sizeof *imp->by_id);
	qsort(imp->by_id, imp->nrefs, sizeof *imp->by_id, s_compare_ref_id);
	qsort(imp->by_name, imp->nrefs, sizeof *imp->by_name, s_compare_ref_name);
	return 0;
}

static int
s_compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Levels: an org goes after the orgs of this file it names as parent or
 * approving org, so a spreadsheet may list them in any order. A cycle
 * stops at nrows levels; the server refuses what is in it. */
static int
s_org_levels(struct s_import *imp, struct s_file *f)
{
	uint64_t *keys;
	bool changed = true;

	for (unsigned pass = 0; changed && pass <= f->nrows; pass++) {
		changed = false;
		for (unsigned i = 0; i < f->nrows; i++) {
			struct s_row *r = &f->rows[i], *dep;
			static const int fields[] = { O_PARENT, O_APPROVING };
			for (size_t k = 0; k < 2; k++) {
				const char *id = s_cell(f, r, fields[k]);
				if (!*id || !(dep = s_org_row(imp, id)) || dep == r ||
				    dep->level + 1 <= r->level || dep->level >= f->nrows)
					continue;
				r->level = dep->level + 1;
				changed = true;
			}
		}
	}
	if (!(keys = malloc((f->nrows ? f->nrows : 1) * sizeof *keys)))
		return -1;
	for (unsigned i = 0; i < f->nrows; i++)
		keys[i] = (uint64_t)f->rows[i].level << 32 | i;
	qsort(keys, f->nrows, sizeof *keys, s_compare_u64);
	for (unsigned i = 0; i < f->nrows; i++)
		f->order[i] = (unsigned)(keys[i] & 0xffffffffu);
	free(keys);
	return 0;
}

/* Convert every row once: what cannot be an event is refused now, the
 * rest get their hash and township. Orgs go in level order, so that a
 * parent's township is known when its children inherit it. */
static void
s_check_rows(struct s_file *f)
{
	struct s_conv cv;

	for (unsigned i = 0; i < f->nrows; i++) {
		struct s_row *r = &f->rows[f->order[i]];
		if (s_convert(f, r, &cv) < 0)
			s_row_refuse(f, r, cv.code, cv.reason);
	}
	sodium_memzero(&cv, sizeof cv);
}

/* Load one file: read it, find its rows, check them. */
static int
s_prepare(struct s_import *imp, struct s_file *f, enum ctl_csv_encoding enc)
{
	f->imp = imp;
	f->columns = f->orgs ? s_org_columns : s_member_columns;
	f->ncolumns = f->orgs ? O_NFIELDS : M_NFIELDS;
	if (s_load(f, enc) < 0 || s_header(f) < 0)
		return -1;
	if (s_rows(f) < 0 || (f->orgs && (s_index_orgs(imp, f) < 0 || s_org_levels(imp, f) < 0))) {
		fprintf(stderr, "jicengctl import: %s: out of memory\n", f->path);
		return -1;
	}
	s_check_rows(f);
	return 0;
}

/* ================================================================ progress */

static void
s_progress(struct s_file *f, bool last)
{
	struct s_import *imp = f->imp;
	int64_t now = now_mono_ms();
	double secs = (double)(now - f->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)f->done / secs : 0;
	char bar[31];

	if (imp->quiet || (!last && now - f->shown_ms < (imp->tty ? IMP_TTY_MS : IMP_LINE_MS)))
		return;
	if (!imp->tty && last)
		return;
	f->shown_ms = now;
	if (!imp->tty) {
		fprintf(stderr, "jicengctl import: %s: %lu/%u rows, %.0f rows/s\n", s_base(f->path),
		    f->done, f->nrows, rate);
		return;
	}
	unsigned fill = f->nrows ? (unsigned)(30 * f->done / f->nrows) : 30;
	for (unsigned i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r%s [%s] %lu/%u rows  %.0f rows/s\033[K%s", s_base(f->path), bar,
	    f->done, f->nrows, rate, last ? "\n" : "");
	f->bar = !last;
}

/* ================================================================ sending */

/* The next row to send: one to send again first, else the next in order;
 * an org of the next level waits until every org above is answered. */
static int
s_pull(void *arg, struct ctl_envelope *e)
{
	struct s_file *f = arg;

	for (;;) {
		struct s_row *r;
		if (f->nretry) {
			r = &f->rows[f->retry[--f->nretry]];
		} else {
			if (f->next == f->nrows)
				return -1;
			r = &f->rows[f->order[f->next]];
			if (r->level > f->level) {
				if (f->inflight)
					return 0;
				f->level = r->level;
			}
			f->next++;
			if (r->state != R_PENDING)
				continue;
		}
		if (s_envelope(f, r, e) < 0)
			continue;
		r->state = R_SENT;
		f->inflight++;
		return 1;
	}
}

/* A row the server refused before, or whose id held other content: send
 * it again under the next id, unless it has had them all. */
static void
s_next_attempt(struct s_file *f, struct s_row *r, const Ack *a)
{
	if (r->attempt >= IMP_ATTEMPTS_MAX) {
		s_row_refuse(f, r, a->code, a->reason);
		return;
	}
	r->attempt++;
	r->state = R_PENDING;
	f->retry[f->nretry++] = (unsigned)(r - f->rows);
}

static void
s_answered(void *arg, const struct ctl_envelope *e, const Ack *a)
{
	struct s_file *f = arg;
	struct s_row *r = e->tag;

	f->inflight--;
	switch (a->verdict) {
	case JICENG__V1__VERDICT__ACCEPTED:
		r->state = R_ACCEPTED;
		f->accepted++;
		f->done++;
		for (size_t i = 0; i < a->n_warnings; i++)
			s_count(&f->warnings, a->warnings[i]->code);
		break;
	case JICENG__V1__VERDICT__DUPLICATE:
		if (a->original_verdict != JICENG__V1__VERDICT__ACCEPTED) {
			s_next_attempt(f, r, a);
			break;
		}
		r->state = R_DUPLICATE;
		f->duplicates++;
		f->done++;
		break;
	case JICENG__V1__VERDICT__REJECTED:
		if (strcmp(a->code, "ID_REUSED") == 0) {
			s_next_attempt(f, r, a);
			break;
		}
		s_row_refuse(f, r, a->code, a->reason);
		break;
	default:
		s_row_refuse(f, r, *a->code ? a->code : codec_verdict_name(a->verdict), a->reason);
		break;
	}
}

static void
s_lost(void *arg, const struct ctl_envelope *e, const char *why)
{
	struct s_file *f = arg;
	char reason[256];

	f->inflight--;
	snprintf(reason, sizeof reason, "没有收到jicengd的回执，请重新导入 / no ack from jicengd (%s): "
	    "import the file again", why);
	s_row_refuse(f, e->tag, "NO_ACK", reason);
}

static void
s_tick(void *arg)
{
	s_progress(arg, false);
}

static int
s_send_file(struct ctl_sender *sender, struct s_file *f)
{
	const struct ctl_source src = {
		.arg = f,
		.pull = s_pull,
		.answered = s_answered,
		.lost = s_lost,
		.tick = s_tick,
	};
	f->start_ms = now_mono_ms();
	f->shown_ms = f->imp->tty ? 0 : f->start_ms;  /* a line a second, none at 0 */
	s_progress(f, false);
	int rc = ctl_sender_run(sender, &src);
	s_progress(f, true);
	return rc;
}

/* ================================================================ output */

static void
s_print_counts(const char *what, const struct s_counts *c)
{
	for (unsigned i = 0; i < c->n; i++)
		printf("%s%s %lu", i ? ", " : what, c->v[i].code, c->v[i].n);
}

static void
s_summary(const struct s_file *f, const char *refused_path)
{
	printf("%s: %u rows (%s): %lu accepted, %lu duplicate, %lu refused", f->path, f->nrows,
	    ctl_csv_encoding_name(f->enc, f->bom), f->accepted, f->duplicates, f->refused);
	if (f->refusals.n) {
		s_print_counts(" (", &f->refusals);
		printf(")");
	}
	if (f->warnings.n)
		s_print_counts("; warnings: ", &f->warnings);
	printf("\n");
	if (refused_path)
		printf("%s: refused rows written to %s\n", f->path, refused_path);
	fflush(stdout);
}

static int
s_compare_rowno(const void *a, const void *b)
{
	const struct s_row *x = *(const struct s_row *const *)a, *y = *(const struct s_row *const *)b;
	return x->rowno < y->rowno ? -1 : x->rowno > y->rowno;
}

/* The header and the refused rows, each with its row number, code and
 * reason after the original columns (those of an earlier refused file
 * are replaced). */
static void
s_write_refused_rows(FILE *out, const struct s_file *f, const struct s_row **rows, unsigned n)
{
	const struct ctl_csv_record *h = &f->csv.records[f->header];
	unsigned width = h->nfields;
	for (unsigned i = 0; i < n; i++)
		if (f->csv.records[rows[i]->rec].nfields > width)
			width = f->csv.records[rows[i]->rec].nfields;
	const char **cells = calloc(width + 3, sizeof *cells);
	char rowno[16];
	if (!cells)
		return;
	fputs("\xEF\xBB\xBF", out);
	for (int r = -1; r < (int)n; r++) {
		const struct ctl_csv_record *rec = r < 0 ? h : &f->csv.records[rows[r]->rec];
		unsigned k = 0;
		for (unsigned c = 0; c < width; c++)
			if (!(c < h->nfields && s_quiet_column(h->fields[c], true)))
				cells[k++] = c < rec->nfields ? rec->fields[c] : "";
		if (r >= 0)
			snprintf(rowno, sizeof rowno, "%u", rows[r]->rowno);
		cells[k++] = r < 0 ? "行号" : rowno;
		cells[k++] = r < 0 ? "代码" : rows[r]->code;
		cells[k++] = r < 0 ? "原因" : rows[r]->reason ? rows[r]->reason : "";
		ctl_csv_write_record(out, cells, k);
	}
	free(cells);
}

/* <input>.refused.csv, UTF-8 with a BOM for Excel, mode 0600; written to
 * a temporary file and renamed. Without refused rows, an older one is
 * removed: the file always answers for the input's last import. Returns
 * the path written (malloc'd) or NULL. */
static char *
s_refused_file(const struct s_file *f, bool *failed)
{
	char *path = NULL, *tmp = NULL;
	const struct s_row **rows = NULL;
	unsigned n = 0;
	FILE *out = NULL;
	int fd;

	*failed = true;
	if (asprintf(&path, "%s.refused.csv", f->path) < 0 || asprintf(&tmp, "%s.XXXXXX", path) < 0)
		goto fail;
	if (f->refused == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			fprintf(stderr, "jicengctl import: cannot remove the old %s: %s\n", path,
			    strerror(errno));
		*failed = false;
		goto fail;
	}
	if (!(rows = calloc(f->nrows, sizeof *rows)))
		goto fail;
	for (unsigned i = 0; i < f->nrows; i++)
		if (f->rows[i].state == R_REFUSED)
			rows[n++] = &f->rows[i];
	qsort(rows, n, sizeof *rows, s_compare_rowno);
	if ((fd = mkstemp(tmp)) < 0 || !(out = fdopen(fd, "w"))) {
		fprintf(stderr, "jicengctl import: cannot write %s: %s\n", path, strerror(errno));
		goto fail;
	}
	s_write_refused_rows(out, f, rows, n);
	if (fflush(out) != 0 || fsync(fileno(out)) < 0 || fclose(out) != 0 ||
	    (out = NULL, rename(tmp, path) < 0)) {
		fprintf(stderr, "jicengctl import: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	free(rows);
	free(tmp);
	*failed = false;
	return path;
fail:
	if (out) {
		fclose(out);
		unlink(tmp);
	}
	free(rows);
	free(tmp);
	free(path);
	return NULL;
}

static void
s_file_free(struct s_file *f)
{
	for (unsigned i = 0; f->rows && i < f->nrows; i++)
		free(f->rows[i].reason);
	free(f->rows);
	free(f->order);
	free(f->retry);
	free(f->refusals.v);
	free(f->warnings.v);
	if (f->csv.text)
		sodium_memzero(f->csv.text, strlen(f->csv.text));
	ctl_csv_free(&f->csv);
}

/* ================================================================ options and main */

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl import [OPTIONS] [--orgs FILE] [--members FILE]\n"
	    "\n"
	    "Load a county's organisations and member roster from CSV files as Excel\n"
	    "or WPS save them (UTF-8 with or without a BOM, or GB18030/GBK): one\n"
	    "OrgEstablished per row of --orgs, then one MemberRegistered per row of\n"
	    "--members. Columns are found by their Chinese headers:\n"
	    "  orgs:    组织编码 组织名称 组织类别 [上级组织编码 批准组织编码 成立时间\n"
	    "           组建方式 联建单位数 所属乡镇]\n"
	    "  members: 党员编号 所在党组织编码 姓名 入党时间 人员类别 [性别 公民身份号码\n"
	    "           出生日期 转正时间 联系电话 农民党员 所属乡镇]\n"
	    "(see jicengctl(1) for every synonym). Dates: 1956-07-01, 1956/7/1,\n"
	    "1956.7.1 or 1956年7月1日. Importing the same file again changes nothing.\n"
	    "\n"
	    "A progress bar goes to stderr, a summary to stdout. Refused rows are\n"
	    "written to FILE.refused.csv with their 行号, 代码 and 原因: fix them there\n"
	    "and import that file.\n"
	    "\n"
	    "Options:\n"
	    "      --orgs FILE      organisations (imported first)\n"
	    "      --members FILE   the member roster\n"
	    "      --township T     the 12-digit township code of rows without 所属乡镇\n"
	    "      --encoding E     auto (default), utf-8 or gb18030\n"
	    "  -q, --quiet          no progress\n"
	    CTL_SENDER_HELP
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 every row accepted or already there; 1 a row was refused\n"
	    "or a file could not be read; 2 usage error.\n");
}

enum { OPT_ORGS = 256, OPT_MEMBERS, OPT_TOWNSHIP, OPT_ENCODING };

static const struct option s_options[] = {
	CTL_SENDER_LONGOPTS,
	{ "orgs", required_argument, NULL, OPT_ORGS },
	{ "members", required_argument, NULL, OPT_MEMBERS },
	{ "township", required_argument, NULL, OPT_TOWNSHIP },
	{ "encoding", required_argument, NULL, OPT_ENCODING },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct s_args {
	struct ctl_sender_conf conf;
	const char *orgs, *members, *township;
	enum ctl_csv_encoding enc;
	bool quiet;
};

/* Returns -1 to run, or an exit status. */
static int
s_options_parse(int argc, char **argv, struct s_args *a)
{
	int c, taken;

	optind = 0;
	while ((c = getopt_long(argc, argv, CTL_SENDER_SHORTOPTS "qh", s_options, NULL)) != -1) {
		if ((taken = ctl_sender_option(&a->conf, c, optarg)) < 0)
			return CTL_EXIT_USAGE;
		if (taken)
			continue;
		switch (c) {
		case OPT_ORGS: a->orgs = optarg; break;
		case OPT_MEMBERS: a->members = optarg; break;
		case OPT_TOWNSHIP: a->township = optarg; break;
		case 'q': a->quiet = true; break;
		case OPT_ENCODING:
			if (!ctl_csv_encoding_parse(optarg, &a->enc))
				return ctl_usage_error("import", "bad --encoding '%s': auto, utf-8 or gb18030",
				    optarg);
			break;
		case 'h':
			s_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error("import", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage_error("import", "unexpected argument '%s': give files with --orgs "
		    "and --members", argv[optind]);
	if (!a->orgs && !a->members)
		return ctl_usage_error("import", "give --orgs FILE, --members FILE or both");
	if (a->township && !codec_township_valid(a->township))
		return ctl_usage_error("import", "bad --township '%s': a 12-digit area code ending "
		    "in 000", a->township);
	return -1;
}

/* 00:00 CST tomorrow: no date of a row may be that late. */
static int64_t
s_tomorrow(void)
{
	int y, m, d;
	civil_cst_date(now_wall_ms(), &y, &m, &d);
	return civil_cst_midnight(y, m, d) + CIVIL_DAY_MS;
}

int
ctl_import_main(int argc, char **argv)
{
	struct s_args a = { .conf = CTL_SENDER_CONF("import") };
	struct s_import imp = { 0 };
	struct s_file files[2] = { { .orgs = true }, { .orgs = false } };
	struct ctl_sender *sender = NULL;
	bool refused = false, failed;
	int rc;

	if ((rc = s_options_parse(argc, argv, &a)) >= 0)
		return rc;
	rc = CTL_EXIT_FAIL;
	if (sodium_init() < 0) {
		fprintf(stderr, "jicengctl import: libsodium failed to initialise\n");
		return rc;
	}
	imp.township = a.township;
	imp.quiet = a.quiet;
	imp.tty = isatty(STDERR_FILENO);
	imp.today_end = s_tomorrow();
	files[0].path = a.orgs;
	files[1].path = a.members;
	/* Every file is read and checked before anything is sent. */
	for (unsigned i = 0; i < 2; i++) {
		if (!files[i].path)
			continue;
		if (s_prepare(&imp, &files[i], a.enc) < 0)
			goto out;
	}
	if (!(sender = ctl_sender_new(&a.conf)))
		goto out;
	for (unsigned i = 0; i < 2; i++) {
		if (!files[i].path)
			continue;
		if (s_send_file(sender, &files[i]) < 0)
			goto out;
		char *written = s_refused_file(&files[i], &failed);
		s_summary(&files[i], written);
		free(written);
		refused |= files[i].refused > 0 || failed;
	}
	rc = refused ? CTL_EXIT_FAIL : CTL_EXIT_OK;
out:
	ctl_sender_destroy(&sender);
	for (unsigned i = 0; i < 2; i++)
		s_file_free(&files[i]);
	free(imp.by_id);
	free(imp.by_name);
	return rc;
}
