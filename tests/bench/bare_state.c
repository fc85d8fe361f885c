/* SPDX-License-Identifier: MIT */
/*
 * bare_state.c - what both yardsticks (bare.c, bare_curl.c) do the same
 * way: end with a message, and write the state file as the contract
 * requires (temporary file, fsync, rename, fsync of the directory; the
 * fsyncs skipped on tmpfs, where they do nothing, as kingsmootd does).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include "bare_state.h"

_Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bare: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void write_state(const char *path, const char *role)
{
	char tmp[4096], dir[4096], text[256];
	char *slash;
	struct statfs fs;
	int fd, len, durable;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		die("%s: path too long", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	len = snprintf(text, sizeof(text),
	    "ROLE=%s\nSERVICE=bare\nNODE=bare\nLEADER=bare\nTERM=1\n"
	    "SINCE=0.000\nVALID_UNTIL=0\nPID=%ld\nREASON=\n", role, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, (size_t)len) != len)
		die("%s: %s", tmp, strerror(errno));
	durable = fstatfs(fd, &fs) < 0 || (fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC);
	if ((durable && fsync(fd) < 0) || close(fd) < 0)
		die("%s: %s", tmp, strerror(errno));
	if (rename(tmp, path) < 0)
		die("rename to %s: %s", path, strerror(errno));
	if (!durable)
		return;
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0 || close(fd) < 0)
		die("%s: %s", slash ? dir : ".", strerror(errno));
}
