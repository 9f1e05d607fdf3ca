/*
 * wire: packing and checking of the internal broker/child messages.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

int
wire_send(void *sock, const void *rid, size_t rid_len, enum wire_type type,
    int domain, uint64_t value, const void *payload, size_t len)
{
	struct wire_header h = { WIRE_MAGIC, (uint32_t)type, domain, (int32_t)getpid(), value };
	uint8_t stackbuf[512], *buf = stackbuf;
	size_t total = sizeof h + len;
	int rc;
	if (total > sizeof stackbuf && !(buf = malloc(total)))
		return -1;
	memcpy(buf, &h, sizeof h);
	if (len)
		memcpy(buf + sizeof h, payload, len);
	if (rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		rc = -1;
		goto out;
	}
	rc = zmq_send(sock, buf, total, ZMQ_DONTWAIT) < 0 ? -1 : 0;
out:
	if (buf != stackbuf)
		free(buf);
	return rc;
}

int
wire_parse(const void *frame, size_t size, struct wire_header *h,
    const void **payload, size_t *len)
{
	if (size < sizeof *h)
		return -1;
	memcpy(h, frame, sizeof *h);
	if (h->magic != WIRE_MAGIC || h->type < WIRE_HELLO || h->type > WIRE_REBUILDING)
		return -1;
	*payload = (const uint8_t *)frame + sizeof *h;
	*len = size - sizeof *h;
	return 0;
}
