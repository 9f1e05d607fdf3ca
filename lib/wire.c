/*
 * wire: the socketpair between jicengd and a child, and its typed messages.
 */
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int
wire_pair(int *broker_end, int *child_end)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	int fl = fcntl(sv[0], F_GETFL);
	if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		errno = e;
		return -1;
	}
	*broker_end = sv[0];
	*child_end = sv[1];
	return 0;
}

int
wire_child_adopt(int fd)
{
	if (fd == WIRE_CHILD_FD)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, WIRE_CHILD_FD) < 0 ? -1 : 0;  /* dup2 clears FD_CLOEXEC */
}

int
wire_child_fd(void)
{
	if (fcntl(WIRE_CHILD_FD, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return WIRE_CHILD_FD;
}

int
wire_send(int fd, bool wait, enum wire_type type, int domain, uint64_t value,
    const void *payload, size_t len)
{
	struct wire_header h = { WIRE_MAGIC, (uint32_t)type, domain, (int32_t)getpid(), value };
	struct iovec iov[2] = { { &h, sizeof h }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	if (len > WIRE_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
	while (n < 0 && errno == EINTR && !wait);
	return n < 0 ? -1 : 0;
}

int
wire_recv(int fd, struct wire_msg *m)
{
	ssize_t n;
	do
		n = recv(fd, m->buf, sizeof m->buf, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n == 0) {
		errno = EPIPE;
		return -1;
	}
	if ((size_t)n < sizeof m->h || (size_t)n > sizeof m->buf)
		goto bad;
	memcpy(&m->h, m->buf, sizeof m->h);
	if (m->h.magic != WIRE_MAGIC || m->h.type < WIRE_HELLO || m->h.type > WIRE_REBUILDING)
		goto bad;
	m->payload = m->buf + sizeof m->h;
	m->len = (size_t)n - sizeof m->h;
	return 1;
bad:
	errno = EPROTO;
	return -1;
}
