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
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "util.h"

#define STATE_FILE_MODE 0644

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

/*
 * The leader writes the file after every renewal, so it is formatted by
 * hand: through snprintf, the two times alone cost a sixth of the
 * daemon's own instructions per renewal. The text is what "%.3f" and
 * "%" PRId64 give.
 */
struct text_out {
	char *at, *end;         /* end: the last byte, kept for the NUL */
	bool full;
};

static void put_bytes(struct text_out *o, const char *s, size_t len)
{
	if (o->full || (size_t)(o->end - o->at) < len) {
		o->full = true;
		return;
	}
	memcpy(o->at, s, len);
	o->at += len;
}

static void put_str(struct text_out *o, const char *s)
{
	put_bytes(o, s, strlen(s));
}

static void put_uint(struct text_out *o, uint64_t v, int min_digits)
{
	char digits[24];
	int n = 0;

	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || n < min_digits);
	put_bytes(o, digits + sizeof(digits) - n, (size_t)n);
}

static void put_int(struct text_out *o, int64_t v)
{
	if (v < 0) {
		put_bytes(o, "-", 1);
		put_uint(o, (uint64_t)0 - (uint64_t)v, 1);
	} else {
		put_uint(o, (uint64_t)v, 1);
	}
}

/* Seconds with milliseconds, rounded as printf rounds: the exact value,
 * half to even. In long double (64 significant bits on x86-64, 113 on
 * arm64), x * 1000 is exact: 53 bits times the 7 of 1000. */
static void put_seconds(struct text_out *o, double x)
{
	char text[320];     /* DBL_MAX has 309 digits */
	int n;

	if (!signbit(x) && x < 1e12) {
		long double scaled = (long double)x * 1000.0L;
		uint64_t ms = (uint64_t)scaled;
		long double rest = scaled - (long double)ms;

		if (rest > 0.5L || (rest == 0.5L && (ms & 1)))
			ms++;
		put_uint(o, ms / 1000, 1);
		put_bytes(o, ".", 1);
		put_uint(o, ms % 1000, 3);
		return;
	}
	n = snprintf(text, sizeof(text), "%.3f", x);
	if (n < 0 || (size_t)n >= sizeof(text))
		o->full = true;
	else
		put_bytes(o, text, (size_t)n);
}

static void put_value(struct text_out *o, const char *key, const char *value)
{
	char encoded[3 * STATE_MAX_VALUE];
	int n = state_encode_value(value, encoded, sizeof(encoded));

	if (n < 0) {
		o->full = true;
		return;
	}
	put_str(o, key);
	put_bytes(o, encoded, (size_t)n);
	put_bytes(o, "\n", 1);
}

int state_format(const struct state *st, char *buf, size_t buflen)
{
	struct text_out o;

	if (buflen == 0)
		return -ENOSPC;
	o = (struct text_out){ .at = buf, .end = buf + buflen - 1 };
	put_str(&o, "ROLE=");
	put_str(&o, role_name(st->role));
	put_value(&o, "\nSERVICE=", st->service);
	put_value(&o, "NODE=", st->node);
	put_value(&o, "LEADER=", st->leader);
	put_str(&o, "TERM=");
	put_int(&o, st->term);
	put_str(&o, "\nSINCE=");
	put_seconds(&o, st->since);
	put_str(&o, "\nVALID_UNTIL=");
	put_seconds(&o, st->role == ROLE_LEADER ? st->valid_until : 0.0);
	put_str(&o, "\nPID=");
	put_int(&o, st->pid);
	put_str(&o, "\nREASON=");
	put_str(&o, st->role == ROLE_NOT_MEMBER ? reason_name(st->reason) : "");
	put_bytes(&o, "\n", 1);
	if (o.full)
		return -ENOSPC;
	*o.at = '\0';
	return (int)(o.at - buf);
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

/* tmpfs and ramfs have nothing to flush: fsync there is a no-op. */
static bool needs_fsync(int fd)
{
	struct statfs fs;

	return fstatfs(fd, &fs) < 0 ||
	    (fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC);
}

int state_write_by(const char *path, const struct state *st, uint64_t deadline_ms)
{
	char text[12 * STATE_MAX_VALUE], tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, r, len;
	bool durable;

	len = state_format(st, text, sizeof(text));
	if (len < 0)
		return len;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp) || snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    STATE_FILE_MODE);
	if (fd < 0)
		return -errno;
	/* fchmod: the umask must not make the file unreadable to services. */
	if (fchmod(fd, STATE_FILE_MODE) < 0) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, text, (size_t)len);
	if (r < 0)
		goto fail;
	/* The leader rewrites the file on every renewal, so what a write
	 * costs on /run's tmpfs is most of an idle leader's CPU. */
	durable = needs_fsync(fd);
	if (durable && fsync(fd) < 0) {
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
	if (!durable)
		return 0;
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		/* The rename is what readers see; a failed directory fsync only
		 * weakens durability across a crash. */
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
