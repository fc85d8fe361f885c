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
#include "etcdproto_scan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void etcd_req_keepalive_text(int64_t lease, char out[ETCD_KEEPALIVE_REQ_MAX])
{
	snprintf(out, ETCD_KEEPALIVE_REQ_MAX, "{\"ID\":\"%" PRId64 "\"}", lease);
}

static bool scan_keepalive(const char *text, size_t len, int64_t *id,
    int64_t *ttl, int64_t *revision)
{
	struct scan s = { text, text ? text + len : NULL };

	return text != NULL &&
	    scan_take(&s, "{\"result\":{\"header\":") && scan_header(&s, revision) &&
	    scan_take(&s, ",\"ID\":") && scan_int64_string(&s, id) &&
	    scan_take(&s, ",\"TTL\":") && scan_int64_string(&s, ttl) &&
	    scan_take(&s, "}}") && scan_at_end(&s);
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
