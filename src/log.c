/*
 * log.c - the daemon's only log sink: one line per message on stderr.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static int log_verbosity;
static int log_tty;

void log_init(int verbosity)
{
	log_verbosity = verbosity;
	log_tty = isatty(STDERR_FILENO);
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_set_verbosity(int verbosity)
{
	log_verbosity = verbosity;
}

static const char *level_name(int prio)
{
	switch (prio) {
	case LOG_ERR: return "error: ";
	case LOG_WARNING: return "warning: ";
	case LOG_DEBUG: return "debug: ";
	default: return "";
	}
}

void log_defang(char *text)
{
	/* A newline would start a line of the journal's with a priority of
	 * its own choosing ("\n<0>..."), and other controls (a tab aside)
	 * confuse readers. */
	for (unsigned char *p = (unsigned char *)text; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			*p = '?';
}

static void log_emit(int prio, const char *suffix, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (prio == LOG_DEBUG && log_verbosity < 1)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* Values from outside are encoded where they enter; this is the
	 * last line of defence for anything that was not. */
	log_defang(line);
	if (log_tty)
		fprintf(stderr, "kingsmootd: %s%s%s%s\n", level_name(prio), line,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "<%d>%s%s%s\n", prio, line,
		    suffix ? ": " : "", suffix ? suffix : "");
}

#define LOG_FN(name, prio)                                   \
	void name(const char *fmt, ...)                      \
	{                                                    \
		va_list ap;                                  \
		va_start(ap, fmt);                           \
		log_emit(prio, NULL, fmt, ap);               \
		va_end(ap);                                  \
	}

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(log_warnx, LOG_WARNING)
LOG_FN(log_err, LOG_ERR)

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}
