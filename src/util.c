/*
 * util.c - clocks, base64, number parsing, small string and process helpers.
 */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "log.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double boottime_to_unix(uint64_t boottime_ms)
{
	uint64_t now = now_ms();
	double unix_now = now_unix();

	if (boottime_ms >= now)
		return unix_now + (double)(boottime_ms - now) / 1000.0;
	return unix_now - (double)(now - boottime_ms) / 1000.0;
}

uint64_t sec_to_ms(double seconds)
{
	if (seconds <= 0)
		return 0;
	return (uint64_t)(seconds * 1000.0 + 0.5);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xcalloc(4 * ((len + 2) / 3) + 1, 1);
	char *p = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = b64_alphabet[v >> 18 & 63];
		*p++ = b64_alphabet[v >> 12 & 63];
		*p++ = b64_alphabet[v >> 6 & 63];
		*p++ = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		*p++ = b64_alphabet[v >> 18 & 63];
		*p++ = b64_alphabet[v >> 12 & 63];
		*p++ = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(b64_alphabet, c);
	return p ? (int)(p - b64_alphabet) : -1;
}

long b64_decode(const char *text, char **out)
{
	return b64_decode_len(text, strlen(text), out);
}

long b64_decode_len(const char *text, size_t len, char **out)
{
	size_t i, o = 0;
	unsigned char *buf;

	*out = NULL;
	if (len % 4 != 0)
		return -EINVAL;
	buf = xcalloc(len / 4 * 3 + 1, 1);
	for (i = 0; i < len; i += 4) {
		int a = b64_value(text[i]), b = b64_value(text[i + 1]);
		int c = text[i + 2] == '=' ? -2 : b64_value(text[i + 2]);
		int d = text[i + 3] == '=' ? -2 : b64_value(text[i + 3]);
		bool last = i + 4 == len;

		if (a < 0 || b < 0 || c == -1 || d == -1 ||
		    (c == -2 && d != -2) || ((c == -2 || d == -2) && !last))
			goto bad;
		buf[o++] = (unsigned char)(a << 2 | b >> 4);
		if (c >= 0)
			buf[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			buf[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	buf[o] = '\0';
	*out = (char *)buf;
	return (long)o;
bad:
	free(buf);
	return -EINVAL;
}

int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

size_t prefix_range_end(const char *prefix, size_t len, char *out)
{
	while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
		len--;
	if (len == 0) {
		out[0] = '\0';
		return 1;
	}
	memcpy(out, prefix, len);
	out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
	return len;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (p == NULL)
		fatal(1, "out of memory");
	return p;
}

void free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal(1, "out of memory");
	return p;
}

void close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

int sched_background(void)
{
	struct sched_param none = { .sched_priority = 0 };

	/* Lowering the policy needs no privilege; RESET_ON_FORK keeps it
	 * from hooks and health checks. */
	if (sched_setscheduler(0, SCHED_IDLE | SCHED_RESET_ON_FORK, &none) < 0)
		return -errno;
	return 0;
}

uint64_t backoff_ms(int failures)
{
	uint64_t d = BACKOFF_MIN_MS;

	for (int i = 0; i < failures && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	return d * 3 / 4 + (uint64_t)random() % (d / 2 + 1);
}
