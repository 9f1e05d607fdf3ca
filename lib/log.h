/*
 * log: one line per event on stderr, prefixed with the syslog priority
 * (<3> error ... <7> debug) so journald files it right, and tagged with the
 * process role. No timestamps: journald adds them.
 */
#ifndef JICENG_LOG_H
#define JICENG_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

/* Set the role tag ("jicengd", "worker/membership" ...) and verbosity:
 * 0 logs info and above, 1 adds debug. */
void log_init(const char *role, int verbose);
int log_verbose(void);

/* Warnings with strerror(errno) appended, and without. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Errors that the process survives. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at <2> and exit(1); fatal appends strerror(errno). */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
