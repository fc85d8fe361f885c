/*
 * state.c - the state file: encoding, parsing and atomic replacement.
 *
 * The file is both shell-sourceable and a systemd EnvironmentFile=, so
 * every value is restricted to a quote-free alphabet and anything else is
 * percent-encoded.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util.h"

static const char *const role_names[] = {
	[ROLE_NOT_MEMBER] = "not_member",
	[ROLE_FOLLOWER] = "follower",
	[ROLE_LEADER] = "leader",
	[ROLE_OBSERVER] = "observer",
};

const char *role_name(enum km_role role)
{
	if ((unsigned)role >= sizeof(role_names) / sizeof(role_names[0]))
		return "not_member";
	return role_names[role];
}

static const char *const reason_names[] = {
	[REASON_NONE] = "",
	[REASON_STARTING] = "starting",
	[REASON_ETCD_UNREACHABLE] = "etcd_unreachable",
	[REASON_LEASE_LOST] = "lease_lost",
	[REASON_KEY_LOST] = "key_lost",
	[REASON_RESIGNED] = "resigned",
	[REASON_PAUSED] = "paused",
	[REASON_UNHEALTHY] = "unhealthy",
	[REASON_HOOK_FAILED] = "hook_failed",
	[REASON_STATE_UNWRITABLE] = "state_unwritable",
	[REASON_STOPPING] = "stopping",
	[REASON_STOPPED] = "stopped",
	[REASON_CLEANUP] = "cleanup",
};

const char *reason_name(enum km_reason reason)
{
	if ((unsigned)reason >= sizeof(reason_names) / sizeof(reason_names[0]))
		return "";
	return reason_names[reason];
}

enum km_reason reason_parse(const char *name)
{
	for (unsigned i = 1; i < sizeof(reason_names) / sizeof(reason_names[0]); i++)
		if (strcmp(name, reason_names[i]) == 0)
			return (enum km_reason)i;
	return REASON_NONE;
}

int role_parse(const char *name, enum km_role *out)
{
	for (unsigned i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++) {
		if (strcmp(name, role_names[i]) == 0) {
			*out = (enum km_role)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int plain_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || strchr("._:/@+,=-", c) != NULL;
}

int state_encode_value(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (plain_byte(*p)) {
			if (o + 1 >= outlen)
				return -ENOSPC;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= outlen)
				return -ENOSPC;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = '\0';
	return (int)o;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int state_decode_value(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (o + 1 >= outlen)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

int state_format(const struct state *st, char *buf, size_t buflen)
{
	char service[3 * STATE_MAX_VALUE], node[3 * STATE_MAX_VALUE];
	char leader[3 * STATE_MAX_VALUE];
	int n;

	if (state_encode_value(st->service, service, sizeof(service)) < 0 ||
	    state_encode_value(st->node, node, sizeof(node)) < 0 ||
	    state_encode_value(st->leader, leader, sizeof(leader)) < 0)
		return -ENOSPC;
	n = snprintf(buf, buflen,
	    "ROLE=%s\nSERVICE=%s\nNODE=%s\nLEADER=%s\nTERM=%" PRId64 "\n"
	    "SINCE=%.3f\nVALID_UNTIL=%.3f\nPID=%ld\nREASON=%s\n",
	    role_name(st->role), service, node, leader, st->term, st->since,
	    st->role == ROLE_LEADER ? st->valid_until : 0.0, (long)st->pid,
	    st->role == ROLE_NOT_MEMBER ? reason_name(st->reason) : "");
	if (n < 0 || (size_t)n >= buflen)
		return -ENOSPC;
	return n;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end ? -EINVAL : 0;
}

int state_parse(const char *text, struct state *st)
{
	const char *line = text;
	unsigned seen = 0;

	memset(st, 0, sizeof(*st));
	while (*line) {
		const char *nl = strchr(line, '\n'), *eq;
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char key[32], value[3 * STATE_MAX_VALUE];
		int r = 0;

		eq = memchr(line, '=', len);
		if (eq == NULL || (size_t)(eq - line) >= sizeof(key) ||
		    len - (size_t)(eq - line) - 1 >= sizeof(value))
			return -EINVAL;
		memcpy(key, line, (size_t)(eq - line));
		key[eq - line] = '\0';
		memcpy(value, eq + 1, len - (size_t)(eq - line) - 1);
		value[len - (size_t)(eq - line) - 1] = '\0';

		if (strcmp(key, "ROLE") == 0) {
			r = role_parse(value, &st->role);
			seen |= 1;
		} else if (strcmp(key, "SERVICE") == 0) {
			r = state_decode_value(value, st->service, sizeof(st->service));
		} else if (strcmp(key, "NODE") == 0) {
			r = state_decode_value(value, st->node, sizeof(st->node));
		} else if (strcmp(key, "LEADER") == 0) {
			r = state_decode_value(value, st->leader, sizeof(st->leader));
		} else if (strcmp(key, "TERM") == 0) {
			char *end;
			errno = 0;
			st->term = strtoll(value, &end, 10);
			r = errno || *end ? -EINVAL : 0;
		} else if (strcmp(key, "SINCE") == 0) {
			r = parse_double(value, &st->since);
		} else if (strcmp(key, "VALID_UNTIL") == 0) {
			r = parse_double(value, &st->valid_until);
		} else if (strcmp(key, "PID") == 0) {
			char *end;
			errno = 0;
			st->pid = (pid_t)strtol(value, &end, 10);
			r = errno || *end ? -EINVAL : 0;
		} else if (strcmp(key, "REASON") == 0) {
			st->reason = reason_parse(value);
		}
		/* Unknown keys are tolerated: a newer daemon may add some. */
		if (r < 0)
			return -EINVAL;
		line = nl ? nl + 1 : line + len;
	}
	return (seen & 1) ? 0 : -EINVAL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int state_write(const char *path, const struct state *st)
{
	return state_write_by(path, st, 0);
}

int state_write_by(const char *path, const struct state *st, uint64_t deadline_ms)
{
	char text[12 * STATE_MAX_VALUE], tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, r, len;

	len = state_format(st, text, sizeof(text));
	if (len < 0)
		return len;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp) || snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	/* fchmod: the umask must not make the file unreadable to services. */
	if (fchmod(fd, 0644) < 0) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, text, (size_t)len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	/* Checked as late as it can be: the rename is the publication. */
	if (deadline_ms && now_ms() >= deadline_ms) {
		r = -ETIME;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		/* The rename is what readers see; a failed directory fsync only
		 * weakens durability across a crash, which /run does not have. */
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	if (r == 0)
		r = -EIO;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int state_read(const char *path, struct state *st)
{
	char text[12 * STATE_MAX_VALUE];
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	while (len < sizeof(text) - 1) {
		n = read(fd, text + len, sizeof(text) - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == sizeof(text) - 1)
		return -EFBIG;
	text[len] = '\0';
	return state_parse(text, st);
}

int state_pause_path(const char *state_file, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s.paused", state_file);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

bool state_paused(const char *state_file)
{
	char path[PATH_MAX];

	return state_pause_path(state_file, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0;
}
