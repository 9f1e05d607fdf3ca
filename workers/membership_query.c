/*
 * membership_query: the read side of the membership tables for the query
 * server: an org with its direct children and the direct and subtree
 * member counts of each, a member, a page of
 * an org's members, a page of the audit table, a transfer or a mobile
 * episode and pages of them (by member, org or township), and the
 * townships these belong to. Views are deep
 * copies the caller frees with the matching membership_free_* call; a
 * member view carries the masked ID number and phone only, because the
 * stored view part never holds anything else.
 */
#include "membership.h"

#include "orgs.h"
#include "records.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
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

/* ---------------------------------------------------------- transfers, episodes */

/* A deep copy of msg, whose strings point into a record: packed, then
 * unpacked, so that it is allocated as unpack allocates and its
 * free_unpacked frees it whole. NULL when out of memory. */
static ProtobufCMessage *
s_clone(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len ? len : 1);
	ProtobufCMessage *copy = NULL;

	if (buf) {
		protobuf_c_message_pack(msg, buf);
		copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
		free(buf);
	}
	return copy;
}

static Jiceng__V1__TransferView *
s_transfer_clone(const struct transfer_rec *t)
{
	Jiceng__V1__TransferView v = JICENG__V1__TRANSFER_VIEW__INIT;
	Jiceng__V1__ExternalOrg from = JICENG__V1__EXTERNAL_ORG__INIT;
	Jiceng__V1__ExternalOrg to = JICENG__V1__EXTERNAL_ORG__INIT;

	records_transfer_view(t, &v, &from, &to);
	return (Jiceng__V1__TransferView *)s_clone(&v.base);
}

static Jiceng__V1__MobileEpisodeView *
s_episode_clone(const struct episode_rec *e)
{
	Jiceng__V1__MobileEpisodeView v = JICENG__V1__MOBILE_EPISODE_VIEW__INIT;

	records_episode_view(e, &v);
	return (Jiceng__V1__MobileEpisodeView *)s_clone(&v.base);
}

/* Free an unpacked message (or a list built like one) and clear the
 * caller's pointer. */
static void
s_free_message(void **m)
{
	if (m && *m) {
		protobuf_c_message_free_unpacked(*m, NULL);
		*m = NULL;
	}
}

void
membership_free_transfer(Jiceng__V1__TransferView **v)
{
	s_free_message((void **)v);
}

void
membership_free_transfer_list(Jiceng__V1__TransferList **l)
{
	s_free_message((void **)l);
}

void
membership_free_episode(Jiceng__V1__MobileEpisodeView **v)
{
	s_free_message((void **)v);
}

void
membership_free_episode_list(Jiceng__V1__MobileEpisodeList **l)
{
	s_free_message((void **)l);
}

int
membership_get_transfer(struct membership *m, MDB_txn *txn,
    const char *transfer_id, Jiceng__V1__TransferView **out)
{
	struct transfer_rec t;
	int rc = records_transfer_load(m, txn, transfer_id, &t);

	*out = NULL;
	if (rc)
		return rc;
	return (*out = s_transfer_clone(&t)) ? 0 : ENOMEM;
}

int
membership_get_episode(struct membership *m, MDB_txn *txn,
    const char *flow_id, Jiceng__V1__MobileEpisodeView **out)
{
	struct episode_rec e;
	int rc = records_episode_load(m, txn, flow_id, &e);

	*out = NULL;
	if (rc)
		return rc;
	return (*out = s_episode_clone(&e)) ? 0 : ENOMEM;
}

bool
membership_episode_state_open(int state)
{
	return records_episode_open(state);
}

/* The index a list walks, after checking that its member or org exists:
 * 0, MDB_NOTFOUND, EINVAL (no id), or an LMDB error. */
static int
s_list_index(struct membership *m, MDB_txn *txn, enum membership_by by,
    const char *id, MDB_dbi member, MDB_dbi org, MDB_dbi township,
    MDB_dbi *index)
{
	struct member_rec r;
	struct org_rec o;

	if (!id || !*id)
		return EINVAL;
	switch (by) {
	case MEMBERSHIP_BY_MEMBER:
		*index = member;
		return records_member_load(m, txn, id, &r);
	case MEMBERSHIP_BY_ORG:
		*index = org;
		return records_org_load(m, txn, id, &o);
	case MEMBERSHIP_BY_TOWNSHIP:
		*index = township;
		return 0;
	}
	return EINVAL;
}

/* A page being filled by records_pair_each from an index. */
struct page {
	struct membership *m;
	MDB_txn *txn;
	unsigned limit;                      /* items on a full page */
	int state;                           /* episodes: this state only; 0 any */
	Jiceng__V1__TransferList *transfers; /* the page filled: one of the two */
	Jiceng__V1__MobileEpisodeList *episodes;
};

/* A full page has one more item: it ends at the last item taken. */
static int
s_page_full(char **next_after, const char *last, bool *stop)
{
	*stop = true;
	return DUP(*next_after, last) ? 0 : ENOMEM;
}

static int
s_take_transfer(void *arg, const char *transfer_id, bool *stop)
{
	struct page *p = arg;
	Jiceng__V1__TransferList *l = p->transfers;
	struct transfer_rec t;
	int rc;

	if (l->n_transfers == p->limit)
		return s_page_full(&l->next_after,
		    l->transfers[l->n_transfers - 1]->transfer_id, stop);
	if ((rc = records_transfer_load(p->m, p->txn, transfer_id, &t)))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (!(l->transfers[l->n_transfers] = s_transfer_clone(&t)))
		return ENOMEM;
	l->n_transfers++;
	return 0;
}

/* The filter is read before a full page ends, so that next_after is set
 * only when an episode in the state follows. */
static int
s_take_episode(void *arg, const char *flow_id, bool *stop)
{
	struct page *p = arg;
	Jiceng__V1__MobileEpisodeList *l = p->episodes;
	struct episode_rec e;
	int rc;

	if ((rc = records_episode_load(p->m, p->txn, flow_id, &e)))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (p->state && e.state != p->state)
		return 0;
	if (l->n_episodes == p->limit)
		return s_page_full(&l->next_after,
		    l->episodes[l->n_episodes - 1]->flow_id, stop);
	if (!(l->episodes[l->n_episodes] = s_episode_clone(&e)))
		return ENOMEM;
	l->n_episodes++;
	return 0;
}

/* Cost: one seek, then one index entry and one record per item (per
 * entry read, with a state filter), plus one entry past a full page. */
int
membership_list_transfers(struct membership *m, MDB_txn *txn,
    enum membership_by by, const char *id, const char *after, unsigned limit,
    Jiceng__V1__TransferList **out)
{
	struct page p = { m, txn, s_page_limit(limit), 0, NULL, NULL };
	MDB_dbi index = 0;
	int rc = s_list_index(m, txn, by, id, m->tr_member, m->tr_org, m->tr_twp,
	    &index);

	*out = NULL;
	if (rc)
		return rc;
	if (!(p.transfers = malloc(sizeof *p.transfers)))
		return ENOMEM;
	jiceng__v1__transfer_list__init(p.transfers);
	if (!(p.transfers->transfers = calloc(p.limit, sizeof *p.transfers->transfers)))
		rc = ENOMEM;
	else
		rc = records_pair_each(txn, index, id, after ? after : "",
		    s_take_transfer, &p);
	if (rc)
		membership_free_transfer_list(&p.transfers);
	*out = p.transfers;
	return rc;
}

int
membership_list_episodes(struct membership *m, MDB_txn *txn,
    enum membership_by by, const char *id, int state, const char *after,
    unsigned limit, Jiceng__V1__MobileEpisodeList **out)
{
	struct page p = { m, txn, s_page_limit(limit), state, NULL, NULL };
	MDB_dbi index = 0;
	int rc;

	*out = NULL;
	if (state && by != MEMBERSHIP_BY_MEMBER && !records_episode_open(state))
		return EINVAL;
	if ((rc = s_list_index(m, txn, by, id, m->ep_member, m->ep_org, m->ep_twp,
	    &index)))
		return rc;
	if (!(p.episodes = malloc(sizeof *p.episodes)))
		return ENOMEM;
	jiceng__v1__mobile_episode_list__init(p.episodes);
	if (!(p.episodes->episodes = calloc(p.limit, sizeof *p.episodes->episodes)))
		rc = ENOMEM;
	else
		rc = records_pair_each(txn, index, id, after ? after : "",
		    s_take_episode, &p);
	if (rc)
		membership_free_episode_list(&p.episodes);
	*out = p.episodes;
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

int
membership_transfer_townships(struct membership *m, MDB_txn *txn,
    const char *transfer_id, char from[16], char to[16])
{
	struct transfer_rec t;
	int rc = records_transfer_load(m, txn, transfer_id, &t);
	if (rc)
		return rc;
	memcpy(from, t.from_township_id, sizeof t.from_township_id);
	memcpy(to, t.to_township_id, sizeof t.to_township_id);
	return 0;
}

int
membership_episode_townships(struct membership *m, MDB_txn *txn,
    const char *flow_id, char home[16], char host[16])
{
	struct episode_rec e;
	int rc = records_episode_load(m, txn, flow_id, &e);
	if (rc)
		return rc;
	memcpy(home, e.home_township_id, sizeof e.home_township_id);
	memcpy(host, e.host_township_id, sizeof e.host_township_id);
	return 0;
}

/* ---------------------------------------------------------- status stream */

/* The orgs of a subtree, sorted, for the org filter. */
struct s_orgset {
	char (*ids)[CODEC_MAX_ID + 1];
	size_t n, cap;
	struct membership *m;
	MDB_txn *txn;
	int depth;
};

static int s_orgset_add(void *arg, const char *org_id, bool *stop);

static int
s_orgset_add(void *arg, const char *org_id, bool *stop)
{
	struct s_orgset *o = arg;
	int rc;
	(void)stop;
	if (o->depth > 16)
		return MDB_CORRUPTED;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		void *grown = realloc(o->ids, cap * sizeof *o->ids);
		if (!grown)
			return ENOMEM;
		o->ids = grown;
		o->cap = cap;
	}
	snprintf(o->ids[o->n++], sizeof o->ids[0], "%s", org_id);
	o->depth++;
	rc = records_children_each(o->m, o->txn, org_id, s_orgset_add, o);
	o->depth--;
	return rc;
}

static int
s_id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool
s_orgset_has(const struct s_orgset *o, const char *id)
{
	return *id && bsearch(id, o->ids, o->n, sizeof o->ids[0], s_id_cmp) != NULL;
}

/* A filter made ready: the subtree of its org, loaded. */
struct s_status_walk {
	const struct membership_status_filter *f;
	struct s_orgset orgs;
	bool by_org;
	membership_status_fn fn;
	void *arg;
};

static int
s_walk_init(struct s_status_walk *w, struct membership *m, MDB_txn *txn,
    const struct membership_status_filter *f, membership_status_fn fn, void *arg)
{
	struct org_rec o;
	bool stop = false;
	int rc;
	memset(w, 0, sizeof *w);
	w->f = f;
	w->fn = fn;
	w->arg = arg;
	w->orgs.m = m;
	w->orgs.txn = txn;
	if (!f || !f->org_id || !*f->org_id)
		return 0;
	w->by_org = true;
	if ((rc = records_org_load(m, txn, f->org_id, &o)))
		return rc;
	if ((rc = s_orgset_add(&w->orgs, f->org_id, &stop)))
		return rc;
	qsort(w->orgs.ids, w->orgs.n, sizeof w->orgs.ids[0], s_id_cmp);
	return 0;
}

/* Does the member fall under the filter: with this township and home and
 * host orgs? */
static bool
s_walk_covers(const struct s_status_walk *w, const char *township, const char *host_township,
    const char *home_org, const char *host_org)
{
	const char *twp = w->f ? w->f->township_id : NULL;
	return (!twp || !*twp || strcmp(township, twp) == 0 || strcmp(host_township, twp) == 0) &&
	    (!w->by_org || s_orgset_has(&w->orgs, home_org) || s_orgset_has(&w->orgs, host_org));
}

/* Does the packed change pass the filter: S_NOW by the member as it is
 * after it, S_BEFORE only as it was before (the change takes it away),
 * S_NOT; -1 when it does not decode. */
enum { S_NOT, S_NOW, S_BEFORE };

static int
s_walk_wants(const struct s_status_walk *w, const void *packed, size_t len)
{
	const char *twp = w->f ? w->f->township_id : NULL;
	int want;
	if ((!twp || !*twp) && !w->by_org)
		return S_NOW;
	StatusChange *sc = jiceng__v1__status_change__unpack(NULL, len, packed);
	if (!sc)
		return -1;
	if (s_walk_covers(w, sc->township_id, sc->host_township_id, sc->home_org_id,
	    sc->host_org_id))
		want = S_NOW;
	else
		want = s_walk_covers(w,
		    sc->previous_township_id[0] ? sc->previous_township_id : sc->township_id,
		    sc->previous_host_org_id[0] ? sc->previous_host_township_id : sc->host_township_id,
		    sc->previous_home_org_id[0] ? sc->previous_home_org_id : sc->home_org_id,
		    sc->previous_host_org_id[0] ? sc->previous_host_org_id : sc->host_org_id) ?
		    S_BEFORE : S_NOT;
	jiceng__v1__status_change__free_unpacked(sc, NULL);
	return want;
}

int
membership_status_snapshot(struct membership *m, MDB_txn *txn,
    const struct membership_status_filter *f, membership_status_fn fn, void *arg)
{
	struct s_status_walk w;
	MDB_cursor *c = NULL;
	MDB_val k, d;
	int rc = s_walk_init(&w, m, txn, f, fn, arg), op = MDB_FIRST, want;

	if (rc || (rc = mdb_cursor_open(txn, m->current, &c)))
		goto out;
	for (; (rc = mdb_cursor_get(c, &k, &d, op)) == 0; op = MDB_NEXT) {
		if ((want = s_walk_wants(&w, d.mv_data, d.mv_size)) < 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (want == S_NOW && (rc = fn(arg, d.mv_data, d.mv_size, false)))
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	if (c)
		mdb_cursor_close(c);
	free(w.orgs.ids);
	return rc;
}

int
membership_status_since(struct membership *m, MDB_txn *txn, uint64_t after_seq,
    uint32_t after_index, const struct membership_status_filter *f, unsigned limit,
    membership_status_fn fn, void *arg, uint64_t *next_seq, uint32_t *next_index,
    bool *more, bool *expired, uint64_t *pruned_seq)
{
	struct s_status_walk w;
	uint8_t kb[12];
	MDB_cursor *c = NULL;
	MDB_val k = { sizeof kb, kb }, d;
	uint32_t pruned_index;
	unsigned n = 0;
	int rc, op = MDB_SET_RANGE, want;

	*next_seq = after_seq;
	*next_index = after_index;
	*more = *expired = false;
	limit = s_page_limit(limit);
	if ((rc = records_change_pruned(m, txn, pruned_seq, &pruned_index)))
		return rc;
	if (*pruned_seq > after_seq || (*pruned_seq == after_seq && pruned_index > after_index)) {
		*expired = true;
		return 0;
	}
	if ((rc = s_walk_init(&w, m, txn, f, fn, arg)) ||
	    (rc = mdb_cursor_open(txn, m->changes, &c)))
		goto out;
	records_seq_key(kb, after_seq, after_index);
	for (; (rc = mdb_cursor_get(c, &k, &d, op)) == 0; op = MDB_NEXT) {
		uint64_t seq;
		uint32_t index;
		if (!records_seq_key_split(&k, &seq, &index)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (seq == after_seq && index == after_index)
			continue;   /* the cursor itself, already applied */
		if (n == limit) {
			*more = true;
			break;
		}
		if ((want = s_walk_wants(&w, d.mv_data, d.mv_size)) < 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (want != S_NOT) {
			if ((rc = fn(arg, d.mv_data, d.mv_size, want == S_BEFORE)))
				break;
			n++;
		}
		*next_seq = seq;
		*next_index = index;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	if (c)
		mdb_cursor_close(c);
	free(w.orgs.ids);
	return rc;
}
