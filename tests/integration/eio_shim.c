/* LD_PRELOAD test hook: while the file $JICENG_TEST_EIO_FILE exists, fdatasync/fsync of journal.mdb fail with EIO. */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_SUFFIX "/journal.mdb"

/* Does the fault apply to fd now? Leaves errno as it found it. */
static bool
s_fault(int fd)
{
	const char *flag = getenv("JICENG_TEST_EIO_FILE");
	char link[64], path[4096];
	int saved = errno;
	bool on = false;
	if (flag && access(flag, F_OK) == 0) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, path, sizeof path - 1);
		size_t len = n > 0 ? (size_t)n : 0;
		path[len] = 0;
		on = len >= strlen(S_SUFFIX) && strcmp(path + len - strlen(S_SUFFIX), S_SUFFIX) == 0;
	}
	errno = saved;
	return on;
}

/* The real call, or EIO while the fault applies. */
static int
s_flush(int fd, const char *name, int (**real)(int))
{
	if (s_fault(fd)) {
		errno = EIO;
		return -1;
	}
	if (!*real)
		*real = (int (*)(int))dlsym(RTLD_NEXT, name);
	return (*real)(fd);
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
