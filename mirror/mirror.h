/*
 * jiceng-mirror's modules: source.c reads what is to be published (the
 * journal and the workers' environments, read-only), publish.c speaks to
 * NATS JetStream (an nkey's public key from lib/nkey.c), and mirror.c
 * runs the loop under jicengd. The stream's layout (subjects,
 * headers, order) is the contract in proto/jiceng/v1/mirror.proto and
 * docs/operations.md ("JetStream mirror").
 */
#ifndef JICENG_MIRROR_H
#define JICENG_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mirror_cursor.h"
#include "nkey.h"

#define MIRROR_WINDOW 1024       /* messages in flight at most */
#define MIRROR_NATS_WAIT_MS 2000 /* any one NATS request or ack */

/* One message for the stream. */
struct mirror_msg {
	uint64_t seq;                /* journal seq */
	int64_t index;               /* -1: the record of seq; else a status change's index */
	char subject[1024];
	char id[96];                 /* Nats-Msg-Id */
	uint8_t *body;               /* packed MirroredRecord or StatusChange */
	size_t len, cap;
};

/* The messages of one round, in stream order. */
struct mirror_batch {
	struct mirror_msg m[MIRROR_WINDOW];
	unsigned n;
};

/* The position after the batch's message i has been acknowledged as stream
 * sequence stream_seq. */
void mirror_pos_after(const struct mirror_msg *m, uint64_t stream_seq, struct mirror_pos *pos);
void mirror_batch_free(struct mirror_batch *b);

/* ------------------------------------------------------ source.c */

struct source;

/* Open the journal and the state environments of cfg's workers, read-only.
 * Returns 0 or an LMDB code (err says what). */
int source_open(struct source **out, const struct config *cfg, char *err, size_t errlen);
void source_close(struct source **s);
/* The journal's last seq. */
uint64_t source_journal_end(struct source *s);
/* Fill b with the messages that follow pos, as many as fit, of the seqs
 * every running worker has applied (their verdicts, quarantines and status
 * changes written) up to durable (on disk). Returns 0 or an LMDB error. */
int source_fill(struct source *s, const struct mirror_pos *pos, uint64_t durable,
    struct mirror_batch *b);
/* Let go of a state file that a worker's rebuild replaced (once a
 * heartbeat). */
void source_drop_replaced(struct source *s);

/* A township id as one subject token: [A-Za-z0-9_-] kept, any other byte
 * "~XX" (hex); "" is "_county". out must hold 3 * strlen(id) + 8. */
void mirror_subject_token(const char *id, char *out, size_t len);

/* ------------------------------------------------------ publish.c */

struct publisher;

int publisher_new(struct publisher **out, const struct config *cfg);
void publisher_destroy(struct publisher **p);
/* Connect (if not connected) and make sure the stream exists with the
 * configured subjects and replicas, creating it if absent. 0, or -1 with
 * the reason in err. */
int publisher_ready(struct publisher *p, char *err, size_t errlen);
/* Is the connection up (it reconnects by itself after a server loss)? */
bool publisher_connected(struct publisher *p);
/* Has it reconnected since the last call? The stream may have changed
 * meanwhile (a server that lost its tail): read its end again. */
bool publisher_reconnected(struct publisher *p);
/* The stream's last message as a position (its Jiceng-Seq and
 * Jiceng-Index headers, its stream sequence). 0, or -1 with err. */
int publisher_last(struct publisher *p, struct mirror_pos *pos, char *err, size_t errlen);
/* Publish b's messages after pos (pipelined, each expecting the stream's
 * last sequence to be its predecessor's) and wait for their acks. Returns
 * how many were acknowledged in order from the first (pos moved past
 * them); fewer than b->n with the reason in err: then re-read the stream
 * (publisher_last) before publishing again. */
unsigned publisher_send(struct publisher *p, struct mirror_batch *b, struct mirror_pos *pos,
    char *err, size_t errlen);

#endif
