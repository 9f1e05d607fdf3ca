/*
 * 95-import: jicengctl import, run as a subprocess against the real
 * jicengd, as a county loads its spreadsheets. An organisations file
 * (UTF-8 with BOM, CRLF, a title row above the header, synonyms, quoted
 * names, children listed before their parents) and a roster of veterans
 * admitted in the 1980s and 1990s saved as GB18030, then new members from
 * a UTF-8-with-BOM file with --township: every org and member queried back
 * with its dates at 00:00 CST, category, sex, township. The same files
 * again: every row DUPLICATE, nothing accepted or refused anew. A roster
 * with bad rows: those the import cannot read (date, category, ID number,
 * a number Excel spoiled) and those the server refuses (unknown org, R1)
 * go to members.csv.refused.csv (BOM, 行号/代码/原因, 0600); fixed there,
 * and the missing org established, that file imports every row, the
 * unchanged row too (sent again under its next id); the original file
 * again is DUPLICATE or refused, never applied twice. Rows sent while
 * jicengd is stopped are resent and registered once. File errors (a
 * missing column, the wrong kind of file, forced UTF-8 on GB18030) send
 * nothing; usage errors exit 2. No ID number reaches any output or log.
 *
 * What the rules decide is 90-membership's and the unit groups'; here
 * only what import reads, sends, writes and prints is checked.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "civil.h"

#define IMP_RUN_MS   30000  /* any one jicengctl run */
#define IMP_ARGS_MAX 16

/* ================================================================ running jicengctl */

/* Start jicengctl with the NULL-ended words in ap, stdout to out and
 * stderr to err (both truncated first). Returns its pid, or -1: it must
 * not fail the test itself, it may run while jicengd is stopped. */
static pid_t
s_spawn(const char *out, const char *err, va_list ap)
{
	char bin[512], *argv[IMP_ARGS_MAX];
	int n = 0;
	snprintf(bin, sizeof bin, "%s/jicengctl", h_build_dir());
	argv[n++] = bin;
	for (char *w; (w = va_arg(ap, char *)) && n < IMP_ARGS_MAX - 1;)
		argv[n++] = w;
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			dup2(fd, 1);
		if ((fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0)
			dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static pid_t
s_ctl_spawn(const char *out, const char *err, ...)
{
	va_list ap;
	va_start(ap, err);
	pid_t pid = s_spawn(out, err, ap);
	va_end(ap);
	return pid;
}

/* Run jicengctl WORDS... NULL as s_spawn does and wait for it: its exit
 * status, -1 when killed for time. */
static int
s_ctl(const char *out, const char *err, ...)
{
	va_list ap;
	va_start(ap, err);
	pid_t pid = s_spawn(out, err, ap);
	va_end(ap);
	assert_true(pid > 0);
	return h_reap(pid, "jicengctl", h_ms(IMP_RUN_MS));
}

static void
s_path(struct hd *d, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", d->dir, name);
}

static void
s_write(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* UTF-8 text saved as Excel's "CSV UTF-8" (with a BOM). */
static void
s_write_bom(const char *path, const char *text)
{
	size_t n = strlen(text);
	char *buf = malloc(n + 3);
	assert_non_null(buf);
	memcpy(buf, "\xEF\xBB\xBF", 3);
	memcpy(buf + 3, text, n);
	s_write(path, buf, n + 3);
	free(buf);
}

/* UTF-8 text saved as GB18030, as Excel's plain "CSV" on a Chinese
 * Windows. */
static void
s_write_gb18030(const char *path, const char *text)
{
	iconv_t cd = iconv_open("GB18030", "UTF-8");
	assert_true(cd != (iconv_t)-1);
	size_t inleft = strlen(text), cap = inleft * 2 + 8, left = cap;
	char *buf = malloc(cap), *o = buf, *in = (char *)text;
	assert_non_null(buf);
	assert_true(iconv(cd, &in, &inleft, &o, &left) != (size_t)-1);
	iconv_close(cd);
	/* Really not UTF-8: the import must detect it. */
	assert_non_null(memchr(buf, '\xd5', (size_t)(o - buf)));
	s_write(path, buf, (size_t)(o - buf));
	free(buf);
}

static bool
s_file_has(const char *path, const char *s)
{
	char *text = h_slurp(path, NULL);
	bool has = text && strstr(text, s);
	free(text);
	return has;
}

static void
s_expect_has(const char *path, const char *s)
{
	if (!s_file_has(path, s)) {
		char *text = h_slurp(path, NULL);
		fail_msg("%s does not contain '%s':\n%s", path, s, text ? text : "(unreadable)");
	}
}

/* No output, no log holds an ID number, nor its hidden middle. */
static void
s_no_id_numbers(struct hd *d, const char *const *paths, const char *const *idns)
{
	char middle[9];
	for (const char *const *idn = idns; *idn; idn++) {
		snprintf(middle, sizeof middle, "%.8s", *idn + 6);
		for (const char *const *p = paths; *p; p++)
			if (s_file_has(*p, *idn) || s_file_has(*p, middle))
				fail_msg("%s holds an ID number", *p);
		if (hd_log_has(d, *idn) || hd_log_has(d, middle))
			fail_msg("jicengd's log holds an ID number");
	}
}

/* ================================================================ the county's files */

#define I_TOWN    "i-town"
#define I_VILLAGE "i-village"
#define I_BRANCH1 "i-branch1"
#define I_BRANCH2 "i-branch2"
#define I_GROUP   "i-group"
#define I_BRANCH1_NAME "中共测试村第一支部委员会"
#define I_BRANCH2_NAME "中共测试村第二支部委员会（\"银发先锋\", 老党员）"

/* Organisations: a title row, 序号 and an unknown column, synonyms
 * (组织代码, 组织类型, 成立日期), children before their parents, only the
 * township committee with 所属乡镇 (the rest inherit it). */
static const char s_orgs_csv[] =
    "测试镇党组织名册,,,,,,,,\r\n"
    "序号,组织代码,组织名称,组织类型,上级组织编码,批准组织编码,成立日期,备注,所属乡镇\r\n"
    "1,i-group,测试村第一支部第一党小组,党小组,i-branch1,i-town,1990年3月15日,,\r\n"
    "2,i-branch1," I_BRANCH1_NAME ",党支部,i-village,i-town,1986.7.1,,\r\n"
    "3,i-branch2,\"中共测试村第二支部委员会（\"\"银发先锋\"\", 老党员）\",党支部,i-village,i-town,"
    "1988/10/1 0:00,\"两行\r\n的备注\",\r\n"
    "4,i-village,中共测试村委员会,村党委,i-town,i-town,1985/3/5,,\r\n"
    "5,i-town,中共测试镇委员会,乡镇党委,,,1984-10-01,,\t" H_TOWNSHIP "\r\n";

/* The veterans' ID numbers (GB 11643, check character computed). */
struct s_ids {
	char v1[19], v2[19], v3[19], n1[19], n2[19];
};

static void
s_ids(struct s_ids *ids)
{
	h_idnum("19550310", 11, ids->v1);
	h_idnum("19600505", 22, ids->v2);
	h_idnum("19620101", 31, ids->v3);
	h_idnum("20000808", 51, ids->n1);
	h_idnum("20010202", 62, ids->n2);
}

/* The veterans, FULL, admitted 1983-1990: their home by id, or by the
 * name of an org of the same run (v-3); township from the home org;
 * names with 䶮 (not in GBK) and 𠮷 (four bytes in GB18030). */
static char *
s_veterans_csv(const struct s_ids *ids)
{
	char *t;
	assert_true(asprintf(&t,
	    "党员编号,姓名,性别,公民身份号码,出生日期,所在党组织,人员类别,入党时间,转正时间,"
	    "联系电话,农民党员,籍贯\r\n"
	    "v-1,刘䶮,男,%s,1955-03-10,i-branch1,正式党员,1983/7/1,1984/7/2,13800000001,是,四川\r\n"
	    "v-2,吉𠮷,女,%s,,i-branch2,正式党员,1985年6月20日,1986年6月21日,,否,四川\r\n"
	    "v-3,王德明,男,%s,1962.1.1," I_BRANCH1_NAME ",正式,1990.7.1,1991.7.1 0:00,,是,\r\n",
	    ids->v1, ids->v2, ids->v3) > 0);
	return t;
}

/* New probationary members; no township column: --township. */
static char *
s_new_csv(const struct s_ids *ids)
{
	char *t;
	assert_true(asprintf(&t,
	    "党员编号,姓名,性别,身份证号码,所在党组织编码,人员类别,入党日期,手机号码\n"
	    "n-1,陈志强,男,%s,i-branch1,预备党员,2025-06-28,13700000005\n"
	    "n-2,赵晓燕,女,%s,i-group,预备党员,2025/9/1,\n",
	    ids->n1, ids->n2) > 0);
	return t;
}

/* ================================================================ checking state */

static void
s_org_is(struct hd *d, const char *org_id, int kind, const char *parent, const char *name,
    int64_t established)
{
	QueryReply *r = hq_org(d, org_id);
	assert_non_null(r);
	if (r->status != JICENG__V1__QUERY_STATUS__OK)
		fail_msg("org %s: %s %s", org_id, r->code, r->reason);
	assert_int_equal(r->org->kind, kind);
	assert_string_equal(r->org->parent_id, parent);
	assert_string_equal(r->org->name, name);
	assert_string_equal(r->org->township_id, H_TOWNSHIP);
	assert_int_equal(r->org->established_at, established);
	hq_free(r);
}

/* What a member query shows of an imported row. */
struct s_member_want {
	const char *id, *home, *name, *birth;
	int sex, category;
	int64_t admitted, confirmed;
	bool farmer;
	const char *idn;      /* its number, for the masked form */
	const char *phone;    /* "" for none */
};

static void
s_member_is(struct hd *d, const struct s_member_want *w)
{
	char masked[19], phone[16] = "";
	QueryReply *r = hq_member(d, w->id);
	assert_non_null(r);
	if (r->status != JICENG__V1__QUERY_STATUS__OK)
		fail_msg("member %s: %s %s", w->id, r->code, r->reason);
	const Jiceng__V1__MemberView *m = r->member;
	snprintf(masked, sizeof masked, "%.6s********%.4s", w->idn, w->idn + 14);
	if (*w->phone)
		snprintf(phone, sizeof phone, "%.3s****%.4s", w->phone, w->phone + 7);
	assert_string_equal(m->home_org_id, w->home);
	assert_string_equal(m->name, w->name);
	assert_string_equal(m->birth_date, w->birth);
	assert_int_equal(m->sex, w->sex);
	assert_int_equal(m->category, w->category);
	assert_int_equal(m->admitted_at, w->admitted);
	assert_int_equal(m->confirmed_at, w->confirmed);
	assert_int_equal(m->farmer, w->farmer);
	assert_string_equal(m->id_masked, masked);
	assert_string_equal(m->phone_masked, phone);
	assert_string_equal(m->township_id, H_TOWNSHIP);
	assert_int_equal(m->status, JICENG__V1__MEMBER_STATUS__NORMAL);
	hq_free(r);
}

/* Import the orgs and veterans files, then the new members, each
 * expected to exit 0 with its summary line. */
static void
s_import_county(struct hd *d, const struct s_ids *ids, const char *out, const char *err)
{
	char orgs[256], vets[256], news[256];
	s_path(d, "orgs.csv", orgs, sizeof orgs);
	s_path(d, "veterans.csv", vets, sizeof vets);
	s_path(d, "new.csv", news, sizeof news);
	s_write_bom(orgs, s_orgs_csv);
	char *text = s_veterans_csv(ids);
	s_write_gb18030(vets, text);
	free(text);
	text = s_new_csv(ids);
	s_write_bom(news, text);
	free(text);

	if (s_ctl(out, err, "import", "-i", d->ingest, "--orgs", orgs, "--members", vets, NULL) != 0) {
		hd_print_log(d);
		fail_msg("import of orgs and veterans failed:\n%s\n%s", h_slurp(out, NULL),
		    h_slurp(err, NULL));
	}
	s_expect_has(out, "orgs.csv: 5 rows (UTF-8 with BOM): 5 accepted, 0 duplicate, 0 refused\n");
	s_expect_has(out, "veterans.csv: 3 rows (GB18030): 3 accepted, 0 duplicate, 0 refused\n");
	s_expect_has(err, "veterans.csv: ignoring columns import does not read: 籍贯\n");
	s_expect_has(err, "orgs.csv: ignoring columns import does not read: 备注\n");
	assert_false(s_file_has(err, "序号"));
	assert_int_equal(s_ctl(out, err, "import", "-q", "-i", d->ingest, "--members", news,
	    "--township", H_TOWNSHIP, NULL), 0);
	s_expect_has(out, "new.csv: 2 rows (UTF-8 with BOM): 2 accepted, 0 duplicate, 0 refused\n");
	assert_false(access(strcat(orgs, ".refused.csv"), F_OK) == 0);
}

/* ================================================================ tests */

/* The county's files: every org and member as the spreadsheets say. */
static void
test_import_roster(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	struct s_ids ids;
	char out[256], err[256];
	s_ids(&ids);
	s_path(d, "import.out", out, sizeof out);
	s_path(d, "import.err", err, sizeof err);
	s_import_county(d, &ids, out, err);

	s_org_is(d, I_TOWN, JICENG__V1__ORG_KIND__TOWNSHIP_COMMITTEE, "", "中共测试镇委员会",
	    civil_cst_midnight(1984, 10, 1));
	s_org_is(d, I_VILLAGE, JICENG__V1__ORG_KIND__VILLAGE_COMMITTEE, I_TOWN, "中共测试村委员会",
	    civil_cst_midnight(1985, 3, 5));
	s_org_is(d, I_BRANCH1, JICENG__V1__ORG_KIND__BRANCH, I_VILLAGE, I_BRANCH1_NAME,
	    civil_cst_midnight(1986, 7, 1));
	s_org_is(d, I_BRANCH2, JICENG__V1__ORG_KIND__BRANCH, I_VILLAGE, I_BRANCH2_NAME,
	    civil_cst_midnight(1988, 10, 1));
	s_org_is(d, I_GROUP, JICENG__V1__ORG_KIND__PARTY_GROUP, I_BRANCH1, "测试村第一支部第一党小组",
	    civil_cst_midnight(1990, 3, 15));

	const int M = JICENG__V1__SEX__MALE, F = JICENG__V1__SEX__FEMALE;
	const int FULL = JICENG__V1__MEMBER_CATEGORY__FULL;
	const int PROB = JICENG__V1__MEMBER_CATEGORY__PROBATIONARY;
	const struct s_member_want want[] = {
		{ "v-1", I_BRANCH1, "刘䶮", "1955-03-10", M, FULL, civil_cst_midnight(1983, 7, 1),
		    civil_cst_midnight(1984, 7, 2), true, ids.v1, "13800000001" },
		{ "v-2", I_BRANCH2, "吉𠮷", "1960-05-05", F, FULL, civil_cst_midnight(1985, 6, 20),
		    civil_cst_midnight(1986, 6, 21), false, ids.v2, "" },
		{ "v-3", I_BRANCH1, "王德明", "1962-01-01", M, FULL, civil_cst_midnight(1990, 7, 1),
		    civil_cst_midnight(1991, 7, 1), true, ids.v3, "" },
		{ "n-1", I_BRANCH1, "陈志强", "2000-08-08", M, PROB, civil_cst_midnight(2025, 6, 28), 0, false,
		    ids.n1, "13700000005" },
		{ "n-2", I_GROUP, "赵晓燕", "2001-02-02", F, PROB, civil_cst_midnight(2025, 9, 1), 0, false,
		    ids.n2, "" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		s_member_is(d, &want[i]);

	const char *const paths[] = { out, err, NULL };
	const char *const idns[] = { ids.v1, ids.v2, ids.v3, ids.n1, ids.n2, NULL };
	s_no_id_numbers(d, paths, idns);
	hd_pass(d);
}

/* The same files twice: the second time every row is DUPLICATE, exit 0,
 * nothing accepted or refused anew, no refused-rows file. */
static void
test_import_twice(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	assert_int_equal(hd_up(d), 0);
	struct s_ids ids;
	char out[256], err[256], orgs[256], vets[256], news[256];
	s_ids(&ids);
	s_path(d, "import.out", out, sizeof out);
	s_path(d, "import.err", err, sizeof err);
	s_path(d, "orgs.csv", orgs, sizeof orgs);
	s_path(d, "veterans.csv", vets, sizeof vets);
	s_path(d, "new.csv", news, sizeof news);
	s_import_county(d, &ids, out, err);
	QueryReply *r0 = hq_stats(d), *m0 = hq_member(d, "v-2"), *o0 = hq_org(d, I_BRANCH2);
	assert_non_null(r0);
	assert_non_null(m0);
	assert_non_null(o0);
	uint64_t dup0 = hq_duplicates_reach(d, 0);

	assert_int_equal(s_ctl(out, err, "import", "-i", d->ingest, "--orgs", orgs, "--members",
	    vets, NULL), 0);
	s_expect_has(out, "orgs.csv: 5 rows (UTF-8 with BOM): 0 accepted, 5 duplicate, 0 refused\n");
	s_expect_has(out, "veterans.csv: 3 rows (GB18030): 0 accepted, 3 duplicate, 0 refused\n");
	assert_int_equal(s_ctl(out, err, "import", "-i", d->ingest, "--members", news,
	    "--township", H_TOWNSHIP, "--window", "1", NULL), 0);
	s_expect_has(out, "new.csv: 2 rows (UTF-8 with BOM): 0 accepted, 2 duplicate, 0 refused\n");

	QueryReply *r1 = hq_stats(d), *m1 = hq_member(d, "v-2"), *o1 = hq_org(d, I_BRANCH2);
	assert_non_null(r1);
	assert_non_null(m1);
	assert_non_null(o1);
	static const char *const kinds[] = { "org_established", "member_registered" };
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(hq_stat_count(r1, true, kinds[i]), hq_stat_count(r0, true, kinds[i]));
	assert_int_equal(m1->member->last_seq, m0->member->last_seq);
	assert_int_equal(o1->org->last_seq, o0->org->last_seq);
	assert_int_equal(hq_duplicates_reach(d, dup0 + 10), dup0 + 10);
	hq_free(r0);
	hq_free(r1);
	hq_free(m0);
	hq_free(m1);
	hq_free(o0);
	hq_free(o1);
	strcat(vets, ".refused.csv");
	assert_false(access(vets, F_OK) == 0);
	hd_pass(d);
}

/* The roster with bad rows, by row number: 2 good; 3 a month 13; 4 an
 * unknown category; 5 a wrong check character; 6 an org not there yet
 * (UNKNOWN_ORG at the server); 7 confirmed within the year (R1 at the
 * server); 8 good; 9 blank; 10 an ID number Excel turned into 5.1E+17. */
static char *
s_bad_csv(const char *ok1, const char *ok2, const char *badcheck, const char *idn6,
    const char *idn7)
{
	char *t;
	assert_true(asprintf(&t,
	    "党员编号,姓名,公民身份号码,所在党组织编码,人员类别,入党时间,转正时间\n"
	    "b-1,甲,%s," H_ORG_BRANCH ",正式党员,1988-07-01,1989-07-01\n"
	    "b-2,乙,," H_ORG_BRANCH ",正式党员,1990/13/1,1991/12/1\n"
	    "b-3,丙,," H_ORG_BRANCH ",老党员,1987-07-01,1988-07-01\n"
	    "b-4,丁,%s," H_ORG_BRANCH ",正式党员,1986-07-01,1987-07-01\n"
	    "b-5,戊,%s,t-later,正式党员,1985-07-01,1986-07-01\n"
	    "b-6,己,%s," H_ORG_BRANCH ",正式党员,1990-07-01,1990-12-01\n"
	    "b-7,庚,%s," H_ORG_BRANCH ",预备党员,2025-07-01,\n"
	    ",,,,,,\n"
	    "b-8,辛,5.10722E+17," H_ORG_BRANCH ",正式党员,1989-07-01,1990-07-01\n",
	    ok1, badcheck, idn6, idn7, ok2) > 0);
	return t;
}

/* Replace the first occurrence of from in text (malloc'd) by to: a cell,
 * which comes before the reason that may quote it. */
static char *
s_replace(char *text, const char *from, const char *to)
{
	char *at = strstr(text, from), *res;
	if (!at)
		fail_msg("'%s' is not in the refused-rows file", from);
	assert_true(asprintf(&res, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) > 0);
	free(text);
	return res;
}

/* Bad rows refused into members.csv.refused.csv, fixed there (and the
 * missing org established), imported from it; the original again. */
static void
test_import_refused(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "ir", &sock);
	char in[256], refused[256], again[256], out[256], err[256];
	char ok1[19], ok2[19], good4[19], bad4[19], idn6[19], idn7[19], fix8[19];
	h_idnum("19660101", 11, ok1);
	h_idnum("19990303", 22, ok2);
	h_idnum("19640404", 31, good4);
	h_idnum("19630303", 41, idn6);
	h_idnum("19650505", 51, idn7);
	h_idnum("19670707", 61, fix8);
	memcpy(bad4, good4, sizeof bad4);
	bad4[17] = good4[17] == '1' ? '2' : '1';
	s_path(d, "members.csv", in, sizeof in);
	s_path(d, "members.csv.refused.csv", refused, sizeof refused);
	s_path(d, "members.csv.refused.csv.refused.csv", again, sizeof again);
	s_path(d, "import.out", out, sizeof out);
	s_path(d, "import.err", err, sizeof err);
	char *text = s_bad_csv(ok1, ok2, bad4, idn6, idn7);
	s_write(in, text, strlen(text));
	free(text);

	assert_int_equal(s_ctl(out, err, "import", "-i", d->ingest, "--members", in,
	    "--township", H_TOWNSHIP, NULL), 1);
	s_expect_has(out, "members.csv: 8 rows (UTF-8): 2 accepted, 0 duplicate, 6 refused (");
	s_expect_has(out, "members.csv: refused rows written to ");
	struct stat st;
	assert_int_equal(stat(refused, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = h_slurp(refused, NULL);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "\xEF\xBB\xBF党员编号,姓名,公民身份号码,所在党组织编码,人员类别,"
	    "入党时间,转正时间,行号,代码,原因\r\n", strlen("\xEF\xBB\xBF党员编号,姓名,公民身份号码,"
	    "所在党组织编码,人员类别,入党时间,转正时间,行号,代码,原因\r\n")), 0);
	static const char *const rows[] = {
		"\r\nb-2,乙,,t-branch,正式党员,1990/13/1,1991/12/1,3,BAD_DATE,\"「入党时间」不是日期：1990/13/1",
		"\r\nb-3,丙,,t-branch,老党员,1987-07-01,1988-07-01,4,BAD_VALUE,「人员类别」不认识：老党员",
		",t-branch,正式党员,1986-07-01,1987-07-01,5,BAD_ID_NUMBER,「公民身份号码」：身份证号码校验码错误",
		",t-later,正式党员,1985-07-01,1986-07-01,6,UNKNOWN_ORG,",
		",t-branch,正式党员,1990-07-01,1990-12-01,7,R1,",
		"\r\nb-8,辛,5.10722E+17,t-branch,正式党员,1989-07-01,1990-07-01,10,BAD_ID_NUMBER,"
		    "「公民身份号码」被Excel存成了科学计数法的数字",
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (!strstr(text, rows[i]))
			fail_msg("the refused-rows file lacks '%s':\n%s", rows[i], text);
	/* Six rows and the header; the good ones are not there. */
	int lines = 0;
	for (const char *p = text; (p = strstr(p, "\r\n")); p += 2)
		lines++;
	assert_int_equal(lines, 7);
	assert_null(strstr(text, "b-1,"));
	assert_null(strstr(text, "b-7,"));

	/* The staff fix the file where it is, and establish the org row 6
	 * names (that row they leave as it was). */
	text = s_replace(text, "1990/13/1", "1990/12/1");
	text = s_replace(text, "老党员", "正式党员");
	text = s_replace(text, bad4, good4);
	text = s_replace(text, "1990-12-01", "1991-07-02");
	text = s_replace(text, "5.10722E+17", fix8);
	s_write(refused, text, strlen(text));
	free(text);
	struct hmsg org = hm_org("ir-later", "t-later", JICENG__V1__ORG_KIND__BRANCH, H_ORG_VILLAGE,
	    H_ORG_TOWNSHIP, "中共测试村第三支部委员会");
	assert_true(hc_expect(sock, &org, JICENG__V1__VERDICT__ACCEPTED, NULL));
	hm_free(&org);
	hc_close(sock);

	assert_int_equal(s_ctl(out, err, "import", "-i", d->ingest, "--members", refused,
	    "--township", H_TOWNSHIP, NULL), 0);
	s_expect_has(out, "members.csv.refused.csv: 6 rows (UTF-8 with BOM): 6 accepted, "
	    "0 duplicate, 0 refused\n");
	/* 行号, 代码 and 原因 are read without a word. */
	assert_false(s_file_has(err, "ignoring columns"));
	assert_false(access(again, F_OK) == 0);
	const int M = JICENG__V1__SEX__MALE, F = JICENG__V1__SEX__FEMALE;
	const int FULL = JICENG__V1__MEMBER_CATEGORY__FULL;
	const struct s_member_want want[] = {
		{ "b-2", H_ORG_BRANCH, "乙", "", 0, FULL, civil_cst_midnight(1990, 12, 1), civil_cst_midnight(1991, 12, 1),
		    false, NULL, "" },
		{ "b-4", H_ORG_BRANCH, "丁", "1964-04-04", M, FULL, civil_cst_midnight(1986, 7, 1),
		    civil_cst_midnight(1987, 7, 1), false, good4, "" },
		{ "b-5", "t-later", "戊", "1963-03-03", M, FULL, civil_cst_midnight(1985, 7, 1), civil_cst_midnight(1986, 7, 1),
		    false, idn6, "" },
		{ "b-6", H_ORG_BRANCH, "己", "1965-05-05", M, FULL, civil_cst_midnight(1990, 7, 1),
		    civil_cst_midnight(1991, 7, 2), false, idn7, "" },
		{ "b-8", H_ORG_BRANCH, "辛", "1967-07-07", M, FULL, civil_cst_midnight(1989, 7, 1),
		    civil_cst_midnight(1990, 7, 1), false, fix8, "" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (!want[i].idn) {  /* b-2 has no ID number */
			QueryReply *r = hq_member(d, want[i].id);
			assert_non_null(r);
			assert_int_equal(r->status, JICENG__V1__QUERY_STATUS__OK);
			assert_int_equal(r->member->admitted_at, want[i].admitted);
			assert_int_equal(r->member->confirmed_at, want[i].confirmed);
			assert_int_equal(r->member->sex, JICENG__V1__SEX__SEX_UNSPECIFIED);
			hq_free(r);
			continue;
		}
		s_member_is(d, &want[i]);
	}
	(void)F;

	/* The original again: the good rows and row 6 DUPLICATE, the rest
	 * refused again, nothing accepted. */
	QueryReply *r0 = hq_stats(d);
	assert_non_null(r0);
	assert_int_equal(s_ctl(out, err, "import", "-i", d->ingest, "--members", in,
	    "--township", H_TOWNSHIP, NULL), 1);
	s_expect_has(out, "members.csv: 8 rows (UTF-8): 0 accepted, 3 duplicate, 5 refused (");
	QueryReply *r1 = hq_stats(d);
	assert_non_null(r1);
	assert_int_equal(hq_stat_count(r1, true, "member_registered"),
	    hq_stat_count(r0, true, "member_registered"));
	hq_free(r0);
	hq_free(r1);

	const char *const paths[] = { out, err, NULL };
	const char *const idns[] = { ok1, ok2, good4, bad4, idn6, idn7, fix8, NULL };
	s_no_id_numbers(d, paths, idns);
	hd_pass(d);
}

static void
s_count_member(void *arg, const char *member_id)
{
	(void)member_id;
	(*(int *)arg)++;
}

/* jicengd stopped (SIGSTOP) while an import runs with a short timeout:
 * the shared sender resends, and once jicengd runs again every row is
 * answered (exit 0, nothing refused), registered once; the resends
 * reached the broker (it counted them DUPLICATE). */
static void
test_import_resend(void **state)
{
	void *sock;
	struct hd *d = hd_up_with_tree(state, NULL, "rs", &sock);
	hc_close(sock);
	char in[256], out[256], err[256], tmo[16], idn[19], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	fprintf(f, "党员编号,姓名,所在党组织编码,人员类别,入党时间,转正时间,公民身份号码\n");
	for (int i = 0; i < 5; i++) {
		h_idnum("19700101", (unsigned)(100 + 2 * i), idn);
		fprintf(f, "r-%d,党员,%s,正式党员,1995-07-01,1996-07-01,%s\n", i, H_ORG_BRANCH, idn);
	}
	assert_int_equal(fclose(f), 0);
	s_path(d, "resend.csv", in, sizeof in);
	s_path(d, "resend.out", out, sizeof out);
	s_path(d, "resend.err", err, sizeof err);
	s_write(in, text, len);
	free(text);
	snprintf(tmo, sizeof tmo, "%d", h_ms(250));
	uint64_t dup0 = hq_duplicates_reach(d, 0);

	/* Nothing may fail between SIGSTOP and SIGCONT: a stopped jicengd
	 * would outlive the test's tear-down. */
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	pid_t ctl = s_ctl_spawn(out, err, "import", "-q", "-t", tmo, "-r", "40", "-i", d->ingest,
	    "--township", H_TOWNSHIP, "--members", in, NULL);
	h_sleep_ms(h_ms(3 * 250 + 125));
	bool waiting = ctl > 0 && waitpid(ctl, NULL, WNOHANG) == 0;
	kill(d->pid, SIGCONT);
	assert_true(ctl > 0);
	int rc = h_reap(ctl, "jicengctl", h_ms(IMP_RUN_MS));
	assert_true(waiting);
	if (rc != 0)
		fail_msg("import exited %d:\n%s%s", rc, h_slurp(out, NULL), h_slurp(err, NULL));
	s_expect_has(out, "resend.csv: 5 rows (UTF-8): ");
	s_expect_has(out, ", 0 refused\n");
	int members = 0;
	assert_int_equal(hq_roster(d, H_ORG_BRANCH, s_count_member, &members), 5);
	assert_true(hq_duplicates_reach(d, dup0 + 5) >= dup0 + 5);
	hd_pass(d);
}

/* Files that cannot be imported send nothing (no daemon runs: the
 * endpoint is never reached); usage errors exit 2. */
static void
test_import_file_errors(void **state)
{
	struct hd *d = hd_new(NULL);
	assert_non_null(d);
	*state = d;
	char out[256], err[256], nocol[256], orgs[256], gb[256];
	const char *ep = "tcp://127.0.0.1:9";
	s_path(d, "errors.out", out, sizeof out);
	s_path(d, "errors.err", err, sizeof err);
	s_path(d, "nocol.csv", nocol, sizeof nocol);
	s_path(d, "orgs.csv", orgs, sizeof orgs);
	s_path(d, "gb.csv", gb, sizeof gb);
	static const char no_admitted[] = "党员编号,姓名,所在党组织编码,人员类别\nm-1,甲,o-1,正式党员\n";
	s_write(nocol, no_admitted, sizeof no_admitted - 1);
	s_write_bom(orgs, s_orgs_csv);
	s_write_gb18030(gb, "党员编号,姓名,所在党组织编码,人员类别,入党时间\nm-1,张三,o-1,正式党员,1990-07-01\n");

	assert_int_equal(s_ctl(out, err, "import", "-i", ep, "--members", nocol, NULL), 1);
	s_expect_has(err, "nocol.csv: no column 入党时间 (admitted_at) in the header row (row 1); "
	    "also read as 入党日期\n");
	assert_int_equal(s_ctl(out, err, "import", "-i", ep, "--members", orgs, NULL), 1);
	s_expect_has(err, "it looks like an organisations file: give it with --orgs");
	assert_int_equal(s_ctl(out, err, "import", "-i", ep, "--encoding", "utf-8", "--members", gb,
	    NULL), 1);
	s_expect_has(err, "gb.csv: line 1 is not valid UTF-8 (--encoding utf-8)");
	/* A missing column in the second file: the first is not sent either. */
	assert_int_equal(s_ctl(out, err, "import", "-i", ep, "--orgs", orgs, "--members", nocol,
	    NULL), 1);
	size_t n;
	free(h_slurp(out, &n));
	assert_int_equal(n, 0);

	assert_int_equal(s_ctl(out, err, "import", NULL), 2);
	s_expect_has(err, "give --orgs FILE, --members FILE or both");
	assert_int_equal(s_ctl(out, err, "import", "--encoding", "latin1", "--orgs", orgs, NULL), 2);
	assert_int_equal(s_ctl(out, err, "import", "--township", "510722", "--orgs", orgs, NULL), 2);
	assert_int_equal(s_ctl(out, err, "import", orgs, NULL), 2);
	s_expect_has(err, "Try 'jicengctl import --help'");
	assert_int_equal(s_ctl(out, err, "import", "--help", NULL), 0);
	s_expect_has(out, "Usage: jicengctl import");
	s_expect_has(out, "--window");
	assert_int_equal(s_ctl(out, err, "--help", NULL), 0);
	s_expect_has(out, "import");
	hd_pass(d);
}

int
integ_import(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_roster, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_import_twice, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_import_refused, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_import_resend, h_setup, h_teardown),
		cmocka_unit_test_setup_teardown(test_import_file_errors, h_setup, h_teardown),
	};
	return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
