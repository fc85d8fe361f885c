/*
 * metrics.h - what a daemon counts and measures, written as a file in the
 * Prometheus text exposition format for node_exporter's textfile
 * collector (metrics_file in kingsmootd.conf(5)).
 *
 * The counters live here and are bumped from where things happen; the
 * file is rendered by a pure function and written atomically by the
 * session after every publication and renewal.
 */
#ifndef KM_METRICS_H
#define KM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* Upper bounds of the keepalive round-trip histogram, in seconds. */
#define METRICS_RTT_BUCKETS 10

enum metrics_request {
	METRICS_REQ_LEASE_GRANT,
	METRICS_REQ_LEASE_KEEPALIVE,
	METRICS_REQ_LEASE_REVOKE,
	METRICS_REQ_TXN,
	METRICS_REQ_RANGE,
	METRICS_REQ_WATCH,
	METRICS_REQ_AUTHENTICATE,
	METRICS_REQ_OTHER,
	METRICS_REQ_KINDS,
};

struct metrics_counts {
	uint64_t transitions[4];                /* by the role taken */
	uint64_t requests[METRICS_REQ_KINDS];
	uint64_t request_failures[METRICS_REQ_KINDS];
	uint64_t rtt_buckets[METRICS_RTT_BUCKETS]; /* cumulative at render */
	uint64_t rtt_count;
	double rtt_sum;                         /* seconds */
	uint64_t hook_runs[4][2];               /* by role, [0] ok [1] failed */
	uint64_t state_write_failures;
};

/* The gauges, as the session knows them when it writes. */
struct metrics_now {
	const char *service, *node;
	enum km_role role;
	enum km_reason reason;
	int64_t term;
	double lease_remaining;                 /* seconds; 0 without a lease */
	double last_update;                     /* Unix time */
};

extern struct metrics_counts metrics;

enum metrics_request metrics_request_kind(const char *path);
void metrics_count_request(const char *path, bool failed);
void metrics_observe_keepalive(double seconds);
void metrics_count_hook(enum km_role role, bool ok);

/* Render into buf; the length, or -ENOSPC. */
int metrics_render(const struct metrics_counts *c, const struct metrics_now *now,
    char *buf, size_t len);
/* Write path atomically (temp file, rename); 0 or -errno. */
int metrics_write(const char *path, const struct metrics_now *now);
/* The same for the daemon: nothing when path is empty, and one log line
 * when writing starts failing and one when it works again. */
void metrics_publish(const char *path, const struct metrics_now *now);

#endif
