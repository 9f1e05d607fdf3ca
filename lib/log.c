/*
 * log: stderr lines with a syslog priority prefix and the role tag.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_role = "jiceng";
static int s_verbose;

void
log_init(const char *role, int verbose)
{
	s_role = role;
	s_verbose = verbose;
}

int
log_verbose(void)
{
	return s_verbose;
}

static void
s_vlog(int prio, const char *errtext, const char *fmt, va_list ap)
{
	char line[2048];
	int n = vsnprintf(line, sizeof line, fmt, ap);
	if (n < 0)
		return;
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (errtext)
		fprintf(stderr, "<%d>%s: %s: %s\n", prio, s_role, line, errtext);
	else
		fprintf(stderr, "<%d>%s: %s\n", prio, s_role, line);
}

#define LOG_BODY(prio, err)                    \
	do {                                   \
		va_list ap;                    \
		va_start(ap, fmt);             \
		s_vlog(prio, err, fmt, ap);    \
		va_end(ap);                    \
	} while (0)

void log_warn(const char *fmt, ...) { const char *e = strerror(errno); LOG_BODY(4, e); }
void log_warnx(const char *fmt, ...) { LOG_BODY(4, NULL); }
void log_error(const char *fmt, ...) { LOG_BODY(3, NULL); }
void log_info(const char *fmt, ...) { LOG_BODY(6, NULL); }

void
log_debug(const char *fmt, ...)
{
	if (s_verbose)
		LOG_BODY(7, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);
	LOG_BODY(2, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(2, NULL);
	exit(1);
}
