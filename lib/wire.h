/*
 * wire: the typed messages between jicengd and each of its children, on a
 * socketpair (AF_UNIX, SOCK_SEQPACKET) that jicengd makes before the fork
 * and the child finds at WIRE_CHILD_FD. One message is one packet: a fixed
 * header, then for WIRE_STATUS a packed StatusChange. Sizes are checked
 * before reading; an unknown type on this channel is a bug.
 *
 * Not ZeroMQ: a packet goes from one process's loop to the other's with no
 * I/O thread in between, and either side sees the other go as end-of-file.
 */
#ifndef JICENG_WIRE_H
#define JICENG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x4a435731u  /* "JCW1" */
#define WIRE_CHILD_FD 3         /* the child's end, after exec */
#define WIRE_MAX_PAYLOAD 1024

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

/* A received message: the header, and the payload inside buf. */
struct wire_msg {
	struct wire_header h;
	const uint8_t *payload;
	size_t len;
	uint8_t buf[sizeof(struct wire_header) + WIRE_MAX_PAYLOAD];
};

/* Make the pair: *broker_end non-blocking, both close-on-exec (the child's
 * end becomes WIRE_CHILD_FD through wire_child_adopt). Returns 0 or -1 with
 * errno. */
int wire_pair(int *broker_end, int *child_end);

/* In the forked child before exec: move fd to WIRE_CHILD_FD, kept across
 * exec. Returns 0 or -1 with errno. */
int wire_child_adopt(int fd);

/* In the child: its end, WIRE_CHILD_FD, made close-on-exec again; -1 when
 * there is none (the program was not started by jicengd). */
int wire_child_fd(void);

/* Send one message. With wait, block until the peer has room (a status
 * change must not be dropped), or until a signal comes (EINTR: the caller
 * decides); without, fail with EAGAIN when its queue is full (jicengd never
 * blocks on a child; a child's cursor report is resent later).
 * len <= WIRE_MAX_PAYLOAD. Returns 0 or -1 with errno (EPIPE: the peer is
 * gone). */
int wire_send(int fd, bool wait, enum wire_type type, int domain, uint64_t value,
    const void *payload, size_t len);

/* Receive one message without blocking. Returns 1 with *m filled, 0 when
 * nothing is waiting, -1 when the peer has gone (end of file) or the channel
 * failed (errno set; EPROTO for a malformed message). */
int wire_recv(int fd, struct wire_msg *m);

#endif
