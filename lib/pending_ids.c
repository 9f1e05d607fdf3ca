/*
 * pending_ids: an array in seq order, an open-addressing hash over it, and
 * per-township counts. It holds a few hundred to a few thousand entries
 * (journal.c bounds it), so removal compacts the array and rehashes.
 */
#include "pending_ids.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t seq;
	char *key;
	uint32_t len;
	uint32_t hash;
	uint32_t township;
	bool marked;
};

struct township {
	char *name;
	size_t len;
	size_t n;
	uint64_t oldest;
};

struct pending_ids {
	struct entry *v;
	size_t n, cap;
	size_t nmarked;
	uint32_t *slots;  /* entry index + 1; 0 is empty */
	size_t nslots;    /* a power of two, at least twice n */
	struct township *tw;
	size_t ntw, captw;
};

static uint32_t
s_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

static void
s_slot_insert(struct pending_ids *p, size_t i)
{
	size_t mask = p->nslots - 1;
	for (size_t s = p->v[i].hash & mask;; s = (s + 1) & mask) {
		if (!p->slots[s]) {
			p->slots[s] = (uint32_t)i + 1;
			return;
		}
	}
}

static int
s_rehash(struct pending_ids *p, size_t nslots)
{
	if (nslots != p->nslots) {
		uint32_t *slots = calloc(nslots, sizeof *slots);
		if (!slots)
			return ENOMEM;
		free(p->slots);
		p->slots = slots;
		p->nslots = nslots;
	} else {
		memset(p->slots, 0, nslots * sizeof *p->slots);
	}
	for (size_t i = 0; i < p->n; i++)
		s_slot_insert(p, i);
	return 0;
}

struct pending_ids *
pending_ids_new(void)
{
	struct pending_ids *p = calloc(1, sizeof *p);
	if (p && s_rehash(p, 64)) {
		free(p);
		return NULL;
	}
	return p;
}

void
pending_ids_free(struct pending_ids *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].key);
	for (size_t t = 0; t < p->ntw; t++)
		free(p->tw[t].name);
	free(p->v);
	free(p->slots);
	free(p->tw);
	free(p);
}

/* The index of key's township, added when new; -1 when out of memory. */
static long
s_township(struct pending_ids *p, const char *key)
{
	size_t len = strlen(key);
	for (size_t t = 0; t < p->ntw; t++)
		if (p->tw[t].len == len && memcmp(p->tw[t].name, key, len) == 0)
			return (long)t;
	if (p->ntw == p->captw) {
		size_t cap = p->captw ? p->captw * 2 : 16;
		struct township *tw = realloc(p->tw, cap * sizeof *tw);
		if (!tw)
			return -1;
		p->tw = tw;
		p->captw = cap;
	}
	char *name = malloc(len + 1);
	if (!name)
		return -1;
	memcpy(name, key, len + 1);
	p->tw[p->ntw] = (struct township){ name, len, 0, 0 };
	return (long)p->ntw++;
}

int
pending_ids_add(struct pending_ids *p, const char *key, size_t len, uint64_t seq)
{
	if ((p->n + 1) * 2 > p->nslots && s_rehash(p, p->nslots * 2))
		return ENOMEM;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct entry *v = realloc(p->v, cap * sizeof *v);
		if (!v)
			return ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	long t = s_township(p, key);
	char *copy = malloc(len);
	if (t < 0 || !copy) {
		free(copy);
		return ENOMEM;
	}
	memcpy(copy, key, len);
	p->v[p->n] = (struct entry){ seq, copy, (uint32_t)len, s_hash(key, len), (uint32_t)t, false };
	s_slot_insert(p, p->n++);
	if (p->tw[t].n++ == 0)
		p->tw[t].oldest = seq;
	return 0;
}

uint64_t
pending_ids_find(const struct pending_ids *p, const char *key, size_t len)
{
	uint32_t h = s_hash(key, len);
	size_t mask = p->nslots - 1;
	for (size_t s = h & mask; p->slots[s]; s = (s + 1) & mask) {
		const struct entry *e = &p->v[p->slots[s] - 1];
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e->seq;
	}
	return 0;
}

size_t
pending_ids_count(const struct pending_ids *p)
{
	return p->n;
}

size_t
pending_ids_mark_due(struct pending_ids *p, size_t batch, uint64_t end,
    uint64_t max_lag, bool all)
{
	size_t marked = 0;
	for (size_t i = 0; i < p->n; i++) {
		struct entry *e = &p->v[i];
		const struct township *t = &p->tw[e->township];
		if (all || t->n >= batch || t->oldest + max_lag <= end)
			e->marked = true;
		marked += e->marked;
	}
	return p->nmarked = marked;
}

void
pending_ids_entry(const struct pending_ids *p, size_t i, const char **key,
    size_t *len, uint64_t *seq, bool *marked)
{
	*key = p->v[i].key;
	*len = p->v[i].len;
	*seq = p->v[i].seq;
	*marked = p->v[i].marked;
}

uint64_t
pending_ids_oldest_unmarked(const struct pending_ids *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].marked)
			return p->v[i].seq;
	return 0;
}

/* Forget the marked entries (when drop_marked) and those above max_seq;
 * unmark the rest, in order; rehash and recount. The table keeps its size,
 * so rehashing in place cannot fail. */
static void
s_compact(struct pending_ids *p, bool drop_marked, uint64_t max_seq)
{
	size_t k = 0;
	for (size_t t = 0; t < p->ntw; t++)
		p->tw[t].n = 0;
	for (size_t i = 0; i < p->n; i++) {
		struct entry e = p->v[i];
		if ((drop_marked && e.marked) || e.seq > max_seq) {
			free(e.key);
			continue;
		}
		e.marked = false;
		if (p->tw[e.township].n++ == 0)
			p->tw[e.township].oldest = e.seq;
		p->v[k++] = e;
	}
	p->n = k;
	p->nmarked = 0;
	s_rehash(p, p->nslots);
}

void
pending_ids_drop_marked(struct pending_ids *p)
{
	if (p->nmarked)
		s_compact(p, true, UINT64_MAX);
}

void
pending_ids_rollback(struct pending_ids *p, uint64_t committed_end)
{
	s_compact(p, false, committed_end);
}
