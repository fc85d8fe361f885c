/*
 * etcdproto_scan.h - a strict reader for the exact JSON that etcd's
 * gateway writes on the hot paths (the keepalive answer, watch events).
 *
 * It accepts one spelling only. A "no" is not an error: the caller hands
 * the text to jansson, which decides as it always has, so a scan can only
 * agree with the tree parser (the fuzz targets check that).
 */
#ifndef KM_ETCDPROTO_SCAN_H
#define KM_ETCDPROTO_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scan {
	const char *p, *end;
};

/* Consume literal if the text continues with it. */
bool scan_take(struct scan *s, const char *literal);
/* A JSON string of 1 to 19 decimal digits, at most INT64_MAX. */
bool scan_int64_string(struct scan *s, int64_t *out);
/* A response header: {"name":"DIGITS",...}, names in [a-z_]; its
 * revision, 0 when it has none. */
bool scan_header(struct scan *s, int64_t *revision);
/* A JSON string of base64 characters only, so without escapes: *start and
 * *len give its contents. */
bool scan_base64_string(struct scan *s, const char **start, size_t *len);
/* Nothing but white space is left. */
bool scan_at_end(struct scan *s);

#endif
