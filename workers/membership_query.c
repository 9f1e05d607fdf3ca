/*
 * membership_query: the read side of the membership tables for the query
 * server: an org with its direct children and the direct and subtree
 * member counts of each, a member, a page of
 * an org's members, a page of the audit table, and the township of an org
 * or member. Views are deep
 * copies the caller frees with the matching membership_free_* call; a
 * member view carries the masked ID number and phone only, because the
 * stored view part never holds anything else.
 */
#include "membership.h"

#include "orgs.h"
#include "records.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100u
#define LIST_MAX     1000u

/* A list's page size: 0 asks for the default, more than the maximum gets it. */
static unsigned
s_page_limit(unsigned asked)
{
	return asked == 0 ? LIST_DEFAULT : asked > LIST_MAX ? LIST_MAX : asked;
}

/* ---------------------------------------------------------- copies */

static char *
s_dup(const char *s)
{
	return s && *s ? strdup(s) : (char *)protobuf_c_empty_string;
}

static bool
s_dup_ok(const char *orig, const char *copy)
{
	return !(orig && *orig) || copy != protobuf_c_empty_string;
}

static void
s_free_str(char *s)
{
	if (s && s != protobuf_c_empty_string)
		free(s);
}

#define DUP(dst, src) ((dst) = s_dup(src), s_dup_ok((src), (dst)))

static bool
s_org_copy(const struct org_rec *o, Jiceng__V1__OrgView *out)
{
	Jiceng__V1__OrgView tmp = JICENG__V1__ORG_VIEW__INIT;
	records_org_view(o, &tmp);
	tmp.org_id = tmp.name = tmp.parent_id = tmp.township_id =
	    tmp.national_ref = (char *)protobuf_c_empty_string;
	*out = tmp;
	return DUP(out->org_id, o->org_id) && DUP(out->name, o->name) &&
	    DUP(out->parent_id, o->parent_id) &&
	    DUP(out->township_id, o->township_id) &&
	    DUP(out->national_ref, o->national_ref);
}

static bool
s_member_copy(const struct member_rec *r, Jiceng__V1__MemberView *out)
{
	Jiceng__V1__MemberView tmp = JICENG__V1__MEMBER_VIEW__INIT;
	char *ids[MS_MAX_ACTIVITY];
	bool ok;

	records_member_view(r, &tmp, ids);
	*out = tmp;
	out->member_id = out->home_org_id = out->name = out->id_masked =
	    out->birth_date = out->township_id = out->phone_masked =
	    out->transfer_id = out->flow_id = out->host_org_id =
	    (char *)protobuf_c_empty_string;
	out->n_activity_org_ids = 0;
	out->activity_org_ids = NULL;
	ok = DUP(out->member_id, r->member_id) && DUP(out->home_org_id, r->home_org_id) &&
	    DUP(out->name, r->name) && DUP(out->id_masked, r->id_masked) &&
	    DUP(out->birth_date, r->birth_date) &&
	    DUP(out->township_id, r->township_id) &&
	    DUP(out->phone_masked, r->phone_masked) &&
	    DUP(out->transfer_id, r->transfer_id) && DUP(out->flow_id, r->flow_id) &&
	    DUP(out->host_org_id, r->host_org_id);
	if (!ok || r->nactivity == 0)
		return ok;
	if (!(out->activity_org_ids = calloc(r->nactivity, sizeof(char *))))
		return false;
	for (unsigned i = 0; i < r->nactivity; i++) {
		out->n_activity_org_ids++;
		if (!DUP(out->activity_org_ids[i], r->activity[i]))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------- orgs */

void
membership_free_org_view(Jiceng__V1__OrgView *v)
{
	if (!v)
		return;
	s_free_str(v->org_id);
	s_free_str(v->name);
	s_free_str(v->parent_id);
	s_free_str(v->township_id);
	s_free_str(v->national_ref);
	for (size_t i = 0; i < v->n_children; i++) {
		if (!v->children[i])
			continue;
		s_free_str(v->children[i]->org_id);
		s_free_str(v->children[i]->name);
		free(v->children[i]);
	}
	free(v->children);
	jiceng__v1__org_view__init(v);
}

struct view_children {
	struct membership *m;
	MDB_txn *txn;
	Jiceng__V1__OrgView *out;
	uint32_t total, full;    /* summed subtree counts of the children */
};

/* orgs_subtree_counts gives the total and the full members; every
 * counted member is FULL or PROBATIONARY (members.c refuses any other
 * category), so the rest are probationary. */
static int
s_probationary(uint32_t total, uint32_t full, uint32_t *prob)
{
	if (full > total)
		return MDB_CORRUPTED;
	*prob = total - full;
	return 0;
}

static int
s_add_child(void *arg, const char *child_id, bool *stop)
{
	struct view_children *vc = arg;
	Jiceng__V1__OrgView *out = vc->out;
	Jiceng__V1__OrgSummary *s, **arr;
	struct org_rec c;
	int rc = records_org_load(vc->m, vc->txn, child_id, &c);

	(void)stop;
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (!(arr = realloc(out->children, (out->n_children + 1) * sizeof *arr)))
		return ENOMEM;
	out->children = arr;
	if (!(s = malloc(sizeof *s)))
		return ENOMEM;
	jiceng__v1__org_summary__init(s);
	out->children[out->n_children++] = s;
	s->kind = c.kind;
	s->dissolved = c.dissolved;
	s->member_count = c.member_count;
	s->full_member_count = c.full_count;
	s->probationary_count = c.probationary_count;
	if (!DUP(s->org_id, c.org_id) || !DUP(s->name, c.name))
		return ENOMEM;
	if ((rc = orgs_subtree_counts(vc->m, vc->txn, child_id,
	    &s->subtree_member_count, &s->subtree_full_member_count)) ||
	    (rc = s_probationary(s->subtree_member_count,
	    s->subtree_full_member_count, &s->subtree_probationary_count)))
		return rc;
	vc->total += s->subtree_member_count;
	vc->full += s->subtree_full_member_count;
	return 0;
}

/* Cost: each direct child's subtree is walked once by
 * orgs_subtree_counts (one record read and one children-table seek
 * per org), and the org's own subtree counts are its direct counts plus
 * its children's, so no org is walked twice. About three B-tree lookups
 * per org below org_id, never a scan of the orgs or members table: a
 * township committee with 500 children and 2,000 orgs in all below it
 * costs some 6,000 lookups in one read transaction. */
int
membership_get_org(struct membership *m, MDB_txn *txn, const char *org_id,
    Jiceng__V1__OrgView *out)
{
	struct org_rec o;
	struct view_children vc = { m, txn, out, 0, 0 };
	int rc = records_org_load(m, txn, org_id, &o);

	if (rc)
		return rc;
	if (!s_org_copy(&o, out))
		rc = ENOMEM;
	else if (!(rc = records_children_each(m, txn, o.org_id, s_add_child, &vc))) {
		out->subtree_member_count = o.member_count + vc.total;
		out->subtree_full_member_count = o.full_count + vc.full;
		rc = s_probationary(out->subtree_member_count,
		    out->subtree_full_member_count, &out->subtree_probationary_count);
	}
	if (rc)
		membership_free_org_view(out);
	return rc;
}

/* ---------------------------------------------------------- members */

void
membership_free_member_view(Jiceng__V1__MemberView *v)
{
	if (!v)
		return;
	s_free_str(v->member_id);
	s_free_str(v->home_org_id);
	s_free_str(v->name);
	s_free_str(v->id_masked);
	s_free_str(v->birth_date);
	s_free_str(v->township_id);
	s_free_str(v->phone_masked);
	s_free_str(v->transfer_id);
	s_free_str(v->flow_id);
	s_free_str(v->host_org_id);
	for (size_t i = 0; i < v->n_activity_org_ids; i++)
		s_free_str(v->activity_org_ids[i]);
	free(v->activity_org_ids);
	jiceng__v1__member_view__init(v);
}

int
membership_get_member(struct membership *m, MDB_txn *txn,
    const char *member_id, Jiceng__V1__MemberView *out)
{
	struct member_rec r;
	int rc = records_member_load(m, txn, member_id, &r);

	if (rc)
		return rc;
	if (!s_member_copy(&r, out)) {
		membership_free_member_view(out);
		return ENOMEM;
	}
	return 0;
}

void
membership_free_member_list(Jiceng__V1__MemberList *l)
{
	if (!l)
		return;
	s_free_str(l->org_id);
	s_free_str(l->next_after);
	for (size_t i = 0; i < l->n_members; i++) {
		membership_free_member_view(l->members[i]);
		free(l->members[i]);
	}
	free(l->members);
	jiceng__v1__member_list__init(l);
}

static int
s_list_add(struct membership *m, MDB_txn *txn, const char *member_id,
    Jiceng__V1__MemberList *out)
{
	struct member_rec r;
	Jiceng__V1__MemberView *mv;
	int rc = records_member_load(m, txn, member_id, &r);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (!(mv = malloc(sizeof *mv)))
		return ENOMEM;
	jiceng__v1__member_view__init(mv);
	out->members[out->n_members++] = mv;
	return s_member_copy(&r, mv) ? 0 : ENOMEM;
}

/* Position c on the first roster key of org_id after `after`. */
static int
s_list_seek(MDB_cursor *c, const char *org_id, const char *after, MDB_val *k,
    char *keybuf, char *member)
{
	size_t lo = strlen(org_id), la = strlen(after);
	MDB_val d;
	int rc;
	memcpy(keybuf, org_id, lo + 1);
	memcpy(keybuf + lo + 1, after, la);
	k->mv_size = lo + 1 + la;
	k->mv_data = keybuf;
	rc = mdb_cursor_get(c, k, &d, MDB_SET_RANGE);
	if (rc == 0 && *after && records_pair_split(k, org_id, member) &&
	    strcmp(member, after) == 0)
		rc = mdb_cursor_get(c, k, &d, MDB_NEXT);
	return rc;
}

int
membership_list_members(struct membership *m, MDB_txn *txn,
    const char *org_id, const char *after, unsigned limit,
    Jiceng__V1__MemberList *out)
{
	char keybuf[2 * CODEC_MAX_ID + 2], member[CODEC_MAX_ID + 1];
	struct org_rec o;
	MDB_cursor *c;
	MDB_val k, d;
	int rc = records_org_load(m, txn, org_id, &o);

	if (rc)
		return rc;
	if (!after || strlen(after) > CODEC_MAX_ID)
		after = "";
	limit = s_page_limit(limit);
	if (!DUP(out->org_id, o.org_id) ||
	    !(out->members = calloc(limit, sizeof *out->members))) {
		membership_free_member_list(out);
		return ENOMEM;
	}
	if ((rc = mdb_cursor_open(txn, m->roster, &c))) {
		membership_free_member_list(out);
		return rc;
	}
	rc = s_list_seek(c, o.org_id, after, &k, keybuf, member);
	for (; rc == 0 && records_pair_split(&k, o.org_id, member);
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (out->n_members == limit) {
			const char *last = out->members[limit - 1]->member_id;
			rc = DUP(out->next_after, last) ? 0 : ENOMEM;
			break;
		}
		if ((rc = s_list_add(m, txn, member, out)))
			break;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc)
		membership_free_member_list(out);
	return rc;
}

/* ---------------------------------------------------------- audit */

void
membership_free_audit_list(Jiceng__V1__AuditList *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_entries; i++) {
		if (!l->entries[i])
			continue;
		s_free_str(l->entries[i]->org_id);
		s_free_str(l->entries[i]->township_id);
		s_free_str(l->entries[i]->code);
		s_free_str(l->entries[i]->text);
		free(l->entries[i]);
	}
	free(l->entries);
	jiceng__v1__audit_list__init(l);
}

/* Add entry e of an org in township to out (its array has room). */
static int
s_audit_add(const struct audit_entry *e, const char *township,
    Jiceng__V1__AuditList *out)
{
	Jiceng__V1__AuditEntry *a = malloc(sizeof *a);
	if (!a)
		return ENOMEM;
	jiceng__v1__audit_entry__init(a);
	out->entries[out->n_entries++] = a;
	a->seq = e->seq;
	a->index = e->index;
	return DUP(a->org_id, e->org_id) && DUP(a->township_id, township) &&
	    DUP(a->code, e->code) && DUP(a->text, e->text) ? 0 : ENOMEM;
}

/* Cost: one seek, then one entry and one org record per entry read. With
 * a township the walk reads past other townships' entries until limit
 * entries match or the table ends: the whole table at worst, which holds
 * one O3 entry per branch and the O4 entries of the few rules changes. */
int
membership_list_audit(struct membership *m, MDB_txn *txn,
    const char *township_id, uint64_t since_seq, uint32_t since_index,
    unsigned limit, Jiceng__V1__AuditList *out)
{
	uint8_t kb[12];
	struct audit_entry e;
	struct org_rec o;
	MDB_cursor *c;
	MDB_val k = { sizeof kb, kb }, d;
	int rc;

	if (!township_id)
		township_id = "";
	limit = s_page_limit(limit);
	if (!(out->entries = calloc(limit, sizeof *out->entries)))
		return ENOMEM;
	if ((rc = mdb_cursor_open(txn, m->audit, &c))) {
		membership_free_audit_list(out);
		return rc;
	}
	records_seq_key(kb, since_seq, since_index);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if ((rc = records_audit_decode(&k, &d, &e)))
			break;
		if (out->n_entries == limit) {
			out->next_seq = e.seq;
			out->next_index = e.index;
			break;
		}
		if ((rc = records_org_load(m, txn, e.org_id, &o))) {
			rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
			break;
		}
		if (*township_id && strcmp(o.township_id, township_id) != 0)
			continue;
		if ((rc = s_audit_add(&e, o.township_id, out)))
			break;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc)
		membership_free_audit_list(out);
	return rc;
}

/* ---------------------------------------------------------- townships */

int
membership_org_township(struct membership *m, MDB_txn *txn,
    const char *org_id, char out[16])
{
	struct org_rec o;
	int rc = records_org_load(m, txn, org_id, &o);
	if (rc)
		return rc;
	memcpy(out, o.township_id, sizeof o.township_id);
	return 0;
}

int
membership_member_township(struct membership *m, MDB_txn *txn,
    const char *member_id, char out[16])
{
	struct member_rec r;
	int rc = records_member_load(m, txn, member_id, &r);
	if (rc)
		return rc;
	memcpy(out, r.township_id, sizeof r.township_id);
	return 0;
}
