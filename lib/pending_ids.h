/*
 * pending_ids: the journal writer's dedupe keys (township "\0" event_id ->
 * seq) that are journaled but not yet written to the ids index. The journal
 * writes a township's keys to the index in batches (see journal.c); until
 * then its lookups find them here.
 *
 * Entries are kept in seq order. An entry is "marked" while the write
 * transaction that puts it into the index is open: dropped once that commits
 * (pending_ids_drop_marked), unmarked if it does not (pending_ids_rollback).
 */
#ifndef JICENG_PENDING_IDS_H
#define JICENG_PENDING_IDS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pending_ids;

struct pending_ids *pending_ids_new(void);
void pending_ids_free(struct pending_ids *p);

/* Add key (township NUL event_id, len bytes in all) with seq, larger than
 * every seq already held. Returns 0 or ENOMEM. */
int pending_ids_add(struct pending_ids *p, const char *key, size_t len, uint64_t seq);
/* The seq of key, or 0 when it is not held. */
uint64_t pending_ids_find(const struct pending_ids *p, const char *key, size_t len);
size_t pending_ids_count(const struct pending_ids *p);

/* Mark every entry of each township that holds at least batch entries, or
 * whose oldest seq is at most end - max_lag, or of every township when all
 * is set. Returns how many entries are marked. */
size_t pending_ids_mark_due(struct pending_ids *p, size_t batch, uint64_t end,
    uint64_t max_lag, bool all);
/* The i-th entry (in seq order): its key, length, seq and mark. */
void pending_ids_entry(const struct pending_ids *p, size_t i, const char **key,
    size_t *len, uint64_t *seq, bool *marked);
/* The smallest seq of an unmarked entry, or 0 when there is none. */
uint64_t pending_ids_oldest_unmarked(const struct pending_ids *p);
/* The marked entries are in the index now: forget them. */
void pending_ids_drop_marked(struct pending_ids *p);
/* A write transaction did not commit: forget the entries it added (seq
 * above committed_end) and unmark the rest. */
void pending_ids_rollback(struct pending_ids *p, uint64_t committed_end);
#endif
