/*
 * etcdproto_keepalive.c - the keepalive as text: the request written
 * directly, and the answer read from its text when it has the exact form
 * etcd's gateway writes, from a JSON tree otherwise.
 *
 * Every node renews every TTL/3 for as long as it runs, so this is what
 * an idle daemon mostly does. Building and freeing a jansson tree for
 * that answer of some 160 bytes cost a third of the daemon's
 * instructions per renewal. The scan below accepts one form only:
 *
 *   {"result":{"header":{"NAME":"DIGITS",...},"ID":"DIGITS","TTL":"DIGITS"}}
 *
 * followed by white space. Anything else, however close (a space, a
 * missing TTL, a number not in quotes, a duplicate), is not an error
 * here: it goes to the full parser, which decides as it always has. So
 * the scan can only agree with the tree, which fuzz_keepalive checks.
 */
#include "etcdproto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HEADER_NAME_MAX 32
/* etcd writes four; the bound keeps the scan within what the tree
 * parser would accept (ETCD_MAX_JSON_VALUES). */
#define HEADER_FIELDS_MAX 8

void etcd_req_keepalive_text(int64_t lease, char out[ETCD_KEEPALIVE_REQ_MAX])
{
	snprintf(out, ETCD_KEEPALIVE_REQ_MAX, "{\"ID\":\"%" PRId64 "\"}", lease);
}

struct scan {
	const char *p, *end;
};

static bool take(struct scan *s, const char *literal)
{
	size_t n = strlen(literal);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, literal, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* A JSON string of 1 to max_digits decimal digits. The value is exact
 * for at most 19; with 20 it may wrap, and is only skipped. */
static bool take_digit_string(struct scan *s, size_t max_digits, uint64_t *value)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!take(s, "\""))
		return false;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		if (++n > max_digits)
			return false;
		v = v * 10 + (uint64_t)(*s->p - '0');
		s->p++;
	}
	if (n == 0 || !take(s, "\""))
		return false;
	*value = v;
	return true;
}

static bool take_int64_string(struct scan *s, int64_t *out)
{
	uint64_t v;

	if (!take_digit_string(s, 19, &v) || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool take_header_name(struct scan *s)
{
	size_t n = 0;

	if (!take(s, "\""))
		return false;
	while (s->p < s->end && ((*s->p >= 'a' && *s->p <= 'z') || *s->p == '_')) {
		if (++n > HEADER_NAME_MAX)
			return false;
		s->p++;
	}
	return n > 0 && take(s, "\":");
}

/* cluster_id and member_id are uint64: up to 20 digits, never read. */
static bool take_header(struct scan *s, int64_t *revision)
{
	bool seen_revision = false;
	unsigned fields = 0;
	uint64_t unused;

	*revision = 0;
	if (!take(s, "{"))
		return false;
	if (take(s, "}"))
		return true;
	do {
		if (++fields > HEADER_FIELDS_MAX)
			return false;
		if (take(s, "\"revision\":")) {
			if (seen_revision || !take_int64_string(s, revision))
				return false;
			seen_revision = true;
		} else if (!take_header_name(s) || !take_digit_string(s, 20, &unused)) {
			return false;
		}
	} while (take(s, ","));
	return take(s, "}");
}

static bool scan_keepalive(const char *text, size_t len, int64_t *id,
    int64_t *ttl, int64_t *revision)
{
	struct scan s = { text, text + len };

	if (text == NULL ||
	    !take(&s, "{\"result\":{\"header\":") || !take_header(&s, revision) ||
	    !take(&s, ",\"ID\":") || !take_int64_string(&s, id) ||
	    !take(&s, ",\"TTL\":") || !take_int64_string(&s, ttl) ||
	    !take(&s, "}}"))
		return false;
	while (s.p < s.end && (*s.p == ' ' || *s.p == '\t' || *s.p == '\n' ||
	    *s.p == '\r'))
		s.p++;
	return s.p == s.end;
}

int etcd_parse_keepalive_answer(json_t *body, const char *text, size_t len,
    int64_t lease, int64_t *ttl, int64_t *revision)
{
	json_t *root = body;
	int64_t id;
	int r;

	if (root == NULL) {
		if (scan_keepalive(text, len, &id, ttl, revision))
			return id == lease ? 0 : -EPROTO;
		root = etcd_json_loadb(text ? text : "", text ? len : 0, NULL);
	}
	r = etcd_parse_keepalive_for(root, lease, ttl);
	/* A header we cannot read costs the watch check one renewal's
	 * revision, not the renewal. */
	if (r == 0)
		(void)etcd_parse_header_revision(json_object_get(root, "result"),
		    revision);
	if (root != body)
		json_decref(root);
	return r;
}
