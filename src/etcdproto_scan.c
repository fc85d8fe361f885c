/*
 * etcdproto_scan.c - the strict reader of etcd's exact JSON (see
 * etcdproto_scan.h). It never allocates and never reads past s->end.
 */
#include "etcdproto_scan.h"

#include <string.h>

#define HEADER_NAME_MAX 32
/* etcd writes four; the bound keeps the scan within what the tree
 * parser would accept (ETCD_MAX_JSON_VALUES). */
#define HEADER_FIELDS_MAX 8

bool scan_take(struct scan *s, const char *literal)
{
	size_t n = strlen(literal);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, literal, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* A JSON string of 1 to max_digits decimal digits. The value is exact
 * for at most 19; with 20 it may wrap, and is only skipped. */
static bool scan_digit_string(struct scan *s, size_t max_digits, uint64_t *value)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!scan_take(s, "\""))
		return false;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		if (++n > max_digits)
			return false;
		v = v * 10 + (uint64_t)(*s->p - '0');
		s->p++;
	}
	if (n == 0 || !scan_take(s, "\""))
		return false;
	*value = v;
	return true;
}

bool scan_int64_string(struct scan *s, int64_t *out)
{
	uint64_t v;

	if (!scan_digit_string(s, 19, &v) || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool scan_header_name(struct scan *s)
{
	size_t n = 0;

	if (!scan_take(s, "\""))
		return false;
	while (s->p < s->end && ((*s->p >= 'a' && *s->p <= 'z') || *s->p == '_')) {
		if (++n > HEADER_NAME_MAX)
			return false;
		s->p++;
	}
	return n > 0 && scan_take(s, "\":");
}

/* cluster_id and member_id are uint64: up to 20 digits, never read. */
bool scan_header(struct scan *s, int64_t *revision)
{
	bool seen_revision = false;
	unsigned fields = 0;
	uint64_t unused;

	*revision = 0;
	if (!scan_take(s, "{"))
		return false;
	if (scan_take(s, "}"))
		return true;
	do {
		if (++fields > HEADER_FIELDS_MAX)
			return false;
		if (scan_take(s, "\"revision\":")) {
			if (seen_revision || !scan_int64_string(s, revision))
				return false;
			seen_revision = true;
		} else if (!scan_header_name(s) || !scan_digit_string(s, 20, &unused)) {
			return false;
		}
	} while (scan_take(s, ","));
	return scan_take(s, "}");
}

static bool is_base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

bool scan_base64_string(struct scan *s, const char **start, size_t *len)
{
	const char *p;

	if (!scan_take(s, "\""))
		return false;
	p = s->p;
	while (s->p < s->end && is_base64_char(*s->p))
		s->p++;
	*start = p;
	*len = (size_t)(s->p - p);
	return scan_take(s, "\"");
}

bool scan_at_end(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
	    *s->p == '\r'))
		s->p++;
	return s->p == s->end;
}
