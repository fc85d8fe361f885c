/*
 * util.h - clocks, base64, number parsing, small string and process helpers.
 */
#ifndef KM_UTIL_H
#define KM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic time that keeps counting across suspend (CLOCK_BOOTTIME), ms. */
uint64_t now_ms(void);
/* Wall-clock Unix time in seconds, for publishing only. */
double now_unix(void);
/* Convert a future boottime instant to Unix time (for VALID_UNTIL). */
double boottime_to_unix(uint64_t boottime_ms);

/* Standard padded base64 (RFC 4648 section 4). Return malloc'd, NUL-terminated. */
char *b64_encode(const void *data, size_t len);
/* Return length decoded into *out (malloc'd, NUL-terminated), or -EINVAL. */
long b64_decode(const char *text, char **out);
/* The same for len bytes of text, which need not end in NUL. */
long b64_decode_len(const char *text, size_t len, char **out);

/* Parse a decimal int64 that must fill the whole string. */
int parse_int64(const char *s, int64_t *out);

/* Smallest key greater than every key starting with prefix (etcd range_end). */
size_t prefix_range_end(const char *prefix, size_t len, char *out);

char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
/* Wipe a NUL-terminated secret (password, token), then free it. */
void free_secret(char *s);

/* Seconds (double) to milliseconds, rounded. */
uint64_t sec_to_ms(double seconds);

/* Retry delay after this many failures in a row: 100 ms doubling up to
 * 5 s, with +-25% jitter so that restarted fleets do not retry in step. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
uint64_t backoff_ms(int failures);

/* Close every descriptor >= lowfd. */
void close_from(int lowfd);

/* From now on run only when no other task wants the CPU (SCHED_IDLE);
 * children started later run as before. 0 or -errno. */
int sched_background(void);

#endif
