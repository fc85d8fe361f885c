/*
 * log.h - logging to stderr with sd-daemon priority prefixes.
 *
 * Under systemd the journal reads the "<N>" prefix as the syslog level.
 * On a terminal the prefix is replaced by a readable level name.
 */
#ifndef KM_LOG_H
#define KM_LOG_H

#include <stdarg.h>

void log_init(int verbosity);
void log_set_verbosity(int verbosity);
/* Replace control characters in text with '?', in place. */
void log_defang(char *text);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Setup-time only: log and exit with the given status. */
void fatal(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
