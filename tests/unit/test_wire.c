/*
 * Unit tests of the broker/child channel (lib/wire.c): a round trip, the
 * checks on what arrives, a full queue, the peer going, and the child's end
 * surviving exec.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "wire.h"

static void
test_round_trip(void **state)
{
	(void)state;
	int b, c;
	struct wire_msg m;
	uint8_t status[WIRE_MAX_PAYLOAD];
	memset(status, 0xa5, sizeof status);
	assert_int_equal(wire_pair(&b, &c), 0);
	assert_true(fcntl(b, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(b, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(wire_recv(b, &m), 0);  /* nothing waiting */

	assert_int_equal(wire_send(c, true, WIRE_HELLO, 2, 41, NULL, 0), 0);
	assert_int_equal(wire_send(c, true, WIRE_STATUS, 0, 42, status, sizeof status), 0);
	assert_int_equal(wire_recv(b, &m), 1);
	assert_int_equal(m.h.type, WIRE_HELLO);
	assert_int_equal(m.h.domain, 2);
	assert_int_equal(m.h.pid, getpid());
	assert_int_equal(m.h.value, 41);
	assert_int_equal(m.len, 0);
	assert_int_equal(wire_recv(b, &m), 1);
	assert_int_equal(m.h.type, WIRE_STATUS);
	assert_int_equal(m.h.value, 42);
	assert_int_equal(m.len, sizeof status);
	assert_memory_equal(m.payload, status, sizeof status);
	assert_int_equal(wire_recv(b, &m), 0);

	assert_int_equal(wire_send(b, false, WIRE_JOURNAL_END, 0, 1u << 20, NULL, 0), 0);
	assert_int_equal(wire_recv(c, &m), 1);
	assert_int_equal(m.h.type, WIRE_JOURNAL_END);
	assert_int_equal(m.h.value, 1u << 20);
	close(b);
	close(c);
}

static void
test_refuses_malformed(void **state)
{
	(void)state;
	int b, c;
	struct wire_msg m;
	struct wire_header h = { WIRE_MAGIC, WIRE_HELLO, 0, 1, 0 };
	uint8_t big[WIRE_MAX_PAYLOAD + 1] = { 0 };
	assert_int_equal(wire_pair(&b, &c), 0);

	errno = 0;
	assert_int_equal(wire_send(c, true, WIRE_STATUS, 0, 1, big, sizeof big), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(wire_recv(b, &m), 0);  /* nothing went */

	assert_int_equal(send(c, &h, sizeof h - 1, 0), (ssize_t)sizeof h - 1);  /* short */
	errno = 0;
	assert_int_equal(wire_recv(b, &m), -1);
	assert_int_equal(errno, EPROTO);

	h.magic = 0x12345678;
	assert_int_equal(send(c, &h, sizeof h, 0), (ssize_t)sizeof h);
	errno = 0;
	assert_int_equal(wire_recv(b, &m), -1);
	assert_int_equal(errno, EPROTO);

	h.magic = WIRE_MAGIC;
	h.type = WIRE_REBUILDING + 1;
	assert_int_equal(send(c, &h, sizeof h, 0), (ssize_t)sizeof h);
	errno = 0;
	assert_int_equal(wire_recv(b, &m), -1);
	assert_int_equal(errno, EPROTO);

	/* Longer than any message: refused, not cut to fit. */
	uint8_t over[sizeof m.buf + 16];
	h.type = WIRE_STATUS;
	memcpy(over, &h, sizeof h);
	assert_int_equal(send(c, over, sizeof over, 0), (ssize_t)sizeof over);
	errno = 0;
	assert_int_equal(wire_recv(b, &m), -1);
	assert_int_equal(errno, EPROTO);

	/* The channel still works after each. */
	assert_int_equal(wire_send(c, true, WIRE_APPLIED, 0, 7, NULL, 0), 0);
	assert_int_equal(wire_recv(b, &m), 1);
	assert_int_equal(m.h.value, 7);
	close(b);
	close(c);
}

/* jicengd never blocks on a child: its end says EAGAIN when the child's
 * queue is full, and the child still reads every message that went. */
static void
test_full_queue_and_peer_gone(void **state)
{
	(void)state;
	int b, c;
	struct wire_msg m;
	assert_int_equal(wire_pair(&b, &c), 0);
	unsigned sent = 0;
	while (sent < 1000000 && wire_send(b, false, WIRE_JOURNAL_END, 0, sent + 1, NULL, 0) == 0)
		sent++;
	assert_int_equal(errno, EAGAIN);
	assert_true(sent > 10 && sent < 1000000);
	for (unsigned i = 0; i < sent; i++) {
		assert_int_equal(wire_recv(c, &m), 1);
		assert_int_equal(m.h.value, i + 1);
	}
	assert_int_equal(wire_recv(c, &m), 0);

	close(b);
	errno = 0;
	assert_int_equal(wire_recv(c, &m), -1);  /* end of file: jicengd is gone */
	assert_int_equal(errno, EPIPE);
	errno = 0;
	assert_int_equal(wire_send(c, true, WIRE_APPLIED, 0, 1, NULL, 0), -1);
	assert_int_equal(errno, EPIPE);  /* and no SIGPIPE killed us */
	close(c);
}

static void
s_on_alarm(int sig)
{
	(void)sig;
}

/* A child's end blocks: a report without wait says EAGAIN when the queue
 * is full, and a waiting one gives way to a signal (EINTR) instead of
 * holding up the child's stop. */
static void
test_child_full_queue(void **state)
{
	(void)state;
	int b, c;
	assert_int_equal(wire_pair(&b, &c), 0);
	assert_false(fcntl(c, F_GETFL) & O_NONBLOCK);
	unsigned sent = 0;
	while (sent < 1000000 && wire_send(c, false, WIRE_APPLIED, 0, sent, NULL, 0) == 0)
		sent++;
	assert_int_equal(errno, EAGAIN);
	assert_true(sent > 10 && sent < 1000000);

	struct sigaction on = { .sa_handler = s_on_alarm }, old;  /* no SA_RESTART */
	assert_int_equal(sigaction(SIGALRM, &on, &old), 0);
	struct itimerval t = { .it_value = { 0, 200000 } }, none = { 0 };
	assert_int_equal(setitimer(ITIMER_REAL, &t, NULL), 0);
	errno = 0;
	assert_int_equal(wire_send(c, true, WIRE_STATUS, 0, 1, "x", 1), -1);
	assert_int_equal(errno, EINTR);
	setitimer(ITIMER_REAL, &none, NULL);
	sigaction(SIGALRM, &old, NULL);

	struct wire_msg m;
	assert_int_equal(wire_recv(b, &m), 1);  /* room again: a waiting report goes */
	assert_int_equal(wire_send(c, true, WIRE_STATUS, 0, 2, "y", 1), 0);
	close(b);
	close(c);
}

static void
test_child_adopt(void **state)
{
	(void)state;
	int b, c;
	struct wire_msg m;
	/* Hold WIRE_CHILD_FD while the pair is made, so that neither end is it;
	 * it may also be the runner's: keep a copy to put back. */
	int saved = fcntl(WIRE_CHILD_FD, F_DUPFD_CLOEXEC, 10);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(null >= 0);
	if (null != WIRE_CHILD_FD) {
		assert_true(dup2(null, WIRE_CHILD_FD) == WIRE_CHILD_FD);
		close(null);
	}
	assert_int_equal(wire_pair(&b, &c), 0);
	assert_true(b != WIRE_CHILD_FD && c != WIRE_CHILD_FD);
	assert_int_equal(wire_child_adopt(c), 0);
	assert_int_equal(fcntl(WIRE_CHILD_FD, F_GETFD) & FD_CLOEXEC, 0);
	assert_int_equal(wire_send(WIRE_CHILD_FD, true, WIRE_HELLO, 0, 9, NULL, 0), 0);
	assert_int_equal(wire_recv(b, &m), 1);
	assert_int_equal(m.h.value, 9);
	close(c);

	/* Already at WIRE_CHILD_FD: only close-on-exec is cleared. */
	fcntl(WIRE_CHILD_FD, F_SETFD, FD_CLOEXEC);
	assert_int_equal(wire_child_adopt(WIRE_CHILD_FD), 0);
	assert_int_equal(fcntl(WIRE_CHILD_FD, F_GETFD) & FD_CLOEXEC, 0);
	close(b);
	if (saved >= 0) {
		dup2(saved, WIRE_CHILD_FD);
		close(saved);
	} else {
		close(WIRE_CHILD_FD);
	}
}

int
unit_wire(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_full_queue_and_peer_gone),
		cmocka_unit_test(test_child_full_queue),
		cmocka_unit_test(test_child_adopt),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
