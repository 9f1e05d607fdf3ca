/*
 * LD_PRELOAD test hook on journal.mdb, built as build/test-io-shim.so and
 * started with jicengd by h_io_shim_env. Three switches, by environment:
 *
 * $JICENG_TEST_EIO_FILE: while that file exists, every fdatasync(2)/fsync(2)
 * of journal.mdb fails with EIO (45-storage).
 *
 * $JICENG_TEST_ENOSPC_FILE: while that file exists, a write(2), pwrite(2) or
 * writev(2) of journal.mdb that would end past the byte offset the file
 * holds fails with ENOSPC and writes nothing: a full disk (45-storage).
 *
 * $JICENG_TEST_WRITE_LOG: each write(2), pwrite(2), writev(2) and
 * ftruncate(2) of journal.mdb is appended to that file as a record once the
 * call has returned (what was written, where), and each flush that
 * succeeded as a FLUSH record; 47-powercut builds from it what the disk
 * could hold after a power cut. A write to a descriptor opened
 * O_DSYNC/O_SYNC is on disk when it returns: DURABLE. A record is one
 * write(2) to the log; one cut short by the kill is dropped by the reader.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "powercut_log.h"

#define S_SUFFIX "/journal.mdb"

static ssize_t (*s_real_write)(int, const void *, size_t);

/* Is fd open on journal.mdb? Leaves errno as it found it. */
static bool
s_journal(int fd)
{
	char link[64], path[4096];
	int saved = errno;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	size_t len = n > 0 ? (size_t)n : 0;
	path[len] = 0;
	errno = saved;
	return len >= strlen(S_SUFFIX) && strcmp(path + len - strlen(S_SUFFIX), S_SUFFIX) == 0;
}

/* Append one record: its header, then the pieces of data. */
static void
s_log(uint32_t kind, uint64_t off, const struct iovec *iov, int iovcnt, size_t len)
{
	static int fd = -1;
	const char *path = getenv("JICENG_TEST_WRITE_LOG");
	if (!path)
		return;
	if (!s_real_write)
		s_real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (fd < 0 && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return;
	struct powercut_record h = { POWERCUT_MAGIC, kind, off, len };
	char *buf = malloc(sizeof h + len);
	if (!buf)
		abort();
	memcpy(buf, &h, sizeof h);
	size_t at = sizeof h;
	for (int i = 0; i < iovcnt && at < sizeof h + len; i++) {
		size_t n = iov[i].iov_len < sizeof h + len - at ? iov[i].iov_len : sizeof h + len - at;
		memcpy(buf + at, iov[i].iov_base, n);
		at += n;
	}
	if (s_real_write(fd, buf, at) != (ssize_t)at)
		abort();  /* a log with a hole would give false results */
	free(buf);
}

/* Log a write of n bytes at off that fd took, if fd is the journal. */
static void
s_wrote(int fd, off_t off, const struct iovec *iov, int iovcnt, ssize_t n)
{
	int saved = errno;
	if (n > 0 && getenv("JICENG_TEST_WRITE_LOG") && s_journal(fd)) {
		int fl = fcntl(fd, F_GETFL);
		bool dsync = fl >= 0 && (fl & (O_DSYNC | O_SYNC));
		s_log(dsync ? POWERCUT_DURABLE : POWERCUT_WRITE, (uint64_t)off, iov, iovcnt, (size_t)n);
	}
	errno = saved;
}

/* Where write(2) on fd will write; -1 (errno kept) for pipes and sockets. */
static off_t
s_offset(int fd)
{
	int saved = errno;
	off_t off = lseek(fd, 0, SEEK_CUR);
	errno = saved;
	return off;
}

/* Would count bytes at off on fd go past the full disk's end? Sets errno
 * to ENOSPC when so, else leaves it as it found it. */
static bool
s_disk_full(int fd, off_t off, size_t count)
{
	const char *flag = getenv("JICENG_TEST_ENOSPC_FILE");
	if (!flag || off < 0)
		return false;
	int saved = errno;
	unsigned long long end = 0;
	FILE *f = fopen(flag, "re");
	bool on = f && fscanf(f, "%llu", &end) == 1;
	if (f)
		fclose(f);
	on = on && (unsigned long long)off + count > end && s_journal(fd);
	errno = on ? ENOSPC : saved;
	return on;
}

static size_t
s_iov_len(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;
	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	if (s_disk_full(fd, off, count))
		return -1;
	ssize_t n = real(fd, buf, count, off);
	struct iovec iov = { (void *)buf, count };
	s_wrote(fd, off, &iov, 1, n);
	return n;
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	if (!s_real_write)
		s_real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	off_t off = s_offset(fd);
	if (s_disk_full(fd, off, count))
		return -1;
	ssize_t n = s_real_write(fd, buf, count);
	struct iovec iov = { (void *)buf, count };
	if (off >= 0)
		s_wrote(fd, off, &iov, 1, n);
	return n;
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (!real)
		real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	off_t off = s_offset(fd);
	if (s_disk_full(fd, off, s_iov_len(iov, iovcnt)))
		return -1;
	ssize_t n = real(fd, iov, iovcnt);
	if (off >= 0)
		s_wrote(fd, off, iov, iovcnt, n);
	return n;
}

int
ftruncate(int fd, off_t length)
{
	static int (*real)(int, off_t);
	if (!real)
		real = (int (*)(int, off_t))dlsym(RTLD_NEXT, "ftruncate");
	int rc = real(fd, length);
	int saved = errno;
	if (rc == 0 && getenv("JICENG_TEST_WRITE_LOG") && s_journal(fd))
		s_log(POWERCUT_TRUNCATE, (uint64_t)length, NULL, 0, 0);
	errno = saved;
	return rc;
}

/* Is the EIO fault on? Leaves errno as it found it. */
static bool
s_eio_fault(void)
{
	const char *flag = getenv("JICENG_TEST_EIO_FILE");
	int saved = errno;
	bool on = flag && access(flag, F_OK) == 0;
	errno = saved;
	return on;
}

static int
s_flush(int fd, const char *name, int (**real)(int))
{
	if (s_eio_fault() && s_journal(fd)) {
		errno = EIO;
		return -1;
	}
	if (!*real)
		*real = (int (*)(int))dlsym(RTLD_NEXT, name);
	int rc = (*real)(fd);
	int saved = errno;
	if (rc == 0 && getenv("JICENG_TEST_WRITE_LOG") && s_journal(fd))
		s_log(POWERCUT_FLUSH, 0, NULL, 0, 0);
	errno = saved;
	return rc;
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	return s_flush(fd, "fdatasync", &real);
}

int
fsync(int fd)
{
	static int (*real)(int);
	return s_flush(fd, "fsync", &real);
}
