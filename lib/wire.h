/*
 * wire: the typed messages between jicengd and its children on the ipc
 * socket <run_dir>/children.sock (jicengd ROUTER, children DEALER with the
 * routing id of their role). One frame each: a fixed header, then for
 * WIRE_STATUS a packed StatusChange. Sizes are checked before reading; an
 * unknown type on this channel is a bug.
 */
#ifndef JICENG_WIRE_H
#define JICENG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x4a435731u  /* "JCW1" */

enum wire_type {
	WIRE_HELLO = 1,    /* child -> broker: up; value = cursor */
	WIRE_APPLIED,      /* child -> broker: cursor moved / heartbeat; value = cursor */
	WIRE_STATUS,       /* worker -> broker: value = seq; payload = StatusChange */
	WIRE_JOURNAL_END,  /* broker -> workers: the journal now ends at value */
	WIRE_STOP,         /* broker -> child: finish and exit */
	WIRE_REBUILDING,   /* worker -> broker, before HELLO: alive, rebuilding its
	                      state; value = events done */
};

struct wire_header {
	uint32_t magic;
	uint32_t type;     /* enum wire_type */
	int32_t domain;    /* enum domain, or -1 for the query server */
	int32_t pid;
	uint64_t value;
};

/* Send a message on a DEALER or ROUTER socket (routing id frame first when
 * rid is not NULL). Returns 0 or -1 with errno from zmq. */
int wire_send(void *sock, const void *rid, size_t rid_len, enum wire_type type,
    int domain, uint64_t value, const void *payload, size_t len);

/* Parse a received frame. Returns 0 with *h filled and *payload and *len set to
 * what follows the header, or -1 if the frame is too short or the magic or
 * type is wrong. */
int wire_parse(const void *frame, size_t size, struct wire_header *h,
    const void **payload, size_t *len);

#endif
