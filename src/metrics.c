/*
 * metrics.c - the daemon's counters and their text exposition (see
 * metrics.h). Rendering is pure; writing is one temp file and a rename.
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"

struct metrics_counts metrics;
static bool write_failing;

static const double rtt_bounds[METRICS_RTT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};

static const struct {
	const char *path;
	const char *name;
} request_kinds[METRICS_REQ_KINDS] = {
	[METRICS_REQ_LEASE_GRANT] = { "/v3/lease/grant", "lease_grant" },
	[METRICS_REQ_LEASE_KEEPALIVE] = { "/v3/lease/keepalive", "lease_keepalive" },
	[METRICS_REQ_LEASE_REVOKE] = { "/v3/lease/revoke", "lease_revoke" },
	[METRICS_REQ_TXN] = { "/v3/kv/txn", "txn" },
	[METRICS_REQ_RANGE] = { "/v3/kv/range", "range" },
	[METRICS_REQ_WATCH] = { "/v3/watch", "watch" },
	[METRICS_REQ_AUTHENTICATE] = { "/v3/auth/authenticate", "authenticate" },
	[METRICS_REQ_OTHER] = { NULL, "other" },
};

enum metrics_request metrics_request_kind(const char *path)
{
	for (int i = 0; i < METRICS_REQ_OTHER; i++)
		if (path && strcmp(path, request_kinds[i].path) == 0)
			return (enum metrics_request)i;
	return METRICS_REQ_OTHER;
}

void metrics_count_request(const char *path, bool failed)
{
	enum metrics_request kind = metrics_request_kind(path);

	metrics.requests[kind]++;
	if (failed)
		metrics.request_failures[kind]++;
}

void metrics_observe_keepalive(double seconds)
{
	for (int i = 0; i < METRICS_RTT_BUCKETS; i++)
		if (seconds <= rtt_bounds[i]) {
			metrics.rtt_buckets[i]++;
			break;
		}
	metrics.rtt_count++;
	metrics.rtt_sum += seconds;
}

void metrics_count_hook(enum km_role role, bool ok)
{
	if ((unsigned)role < 4)
		metrics.hook_runs[role][ok ? 0 : 1]++;
}

struct out {
	char *buf;
	size_t len, used;
	bool full;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->full = true;
	else
		o->used += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped, as the
 * exposition format wants; other bytes as they are. */
static void escape_label(const char *in, char *out, size_t len)
{
	size_t j = 0;

	for (; *in && j + 3 < len; in++) {
		if (*in == '\\' || *in == '"') {
			out[j++] = '\\';
			out[j++] = *in;
		} else if (*in == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
		} else {
			out[j++] = *in;
		}
	}
	out[j] = '\0';
}

static void family(struct out *o, const char *name, const char *type,
    const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_render(const struct metrics_counts *c, const struct metrics_now *now,
    char *buf, size_t len)
{
	static const enum km_role roles[4] = { ROLE_LEADER, ROLE_FOLLOWER,
		ROLE_NOT_MEMBER, ROLE_OBSERVER };
	struct out o = { buf, len, 0, false };
	char service[1100], node[1100], labels[2300];
	uint64_t cumulative = 0;

	escape_label(now->service, service, sizeof(service));
	escape_label(now->node, node, sizeof(node));
	snprintf(labels, sizeof(labels), "service=\"%s\",node=\"%s\"", service, node);

	family(&o, "kingsmoot_role", "gauge",
	    "1 for the role this node has now, 0 for the other three.");
	for (int i = 0; i < 4; i++)
		put(&o, "kingsmoot_role{%s,role=\"%s\"} %d\n", labels,
		    role_name(roles[i]), now->role == roles[i]);
	family(&o, "kingsmoot_not_member_reason", "gauge",
	    "1 for why this node is not_member (REASON in the state file).");
	if (now->role == ROLE_NOT_MEMBER && now->reason != REASON_NONE)
		put(&o, "kingsmoot_not_member_reason{%s,reason=\"%s\"} 1\n", labels,
		    reason_name(now->reason));
	family(&o, "kingsmoot_term", "gauge",
	    "The leader's term (its key's create revision); 0 without a leader.");
	put(&o, "kingsmoot_term{%s} %" PRId64 "\n", labels, now->term);
	family(&o, "kingsmoot_transitions_total", "counter",
	    "Role changes, by the role taken.");
	for (int i = 0; i < 4; i++)
		put(&o, "kingsmoot_transitions_total{%s,role=\"%s\"} %" PRIu64 "\n",
		    labels, role_name(roles[i]), c->transitions[roles[i]]);
	family(&o, "kingsmoot_lease_remaining_seconds", "gauge",
	    "Time left before the local lease deadline; 0 without a lease.");
	put(&o, "kingsmoot_lease_remaining_seconds{%s} %.3f\n", labels,
	    now->lease_remaining);
	family(&o, "kingsmoot_keepalive_rtt_seconds", "histogram",
	    "Round trip of lease keepalives that etcd answered.");
	for (int i = 0; i < METRICS_RTT_BUCKETS; i++) {
		cumulative += c->rtt_buckets[i];
		put(&o, "kingsmoot_keepalive_rtt_seconds_bucket{%s,le=\"%g\"} %" PRIu64
		    "\n", labels, rtt_bounds[i], cumulative);
	}
	put(&o, "kingsmoot_keepalive_rtt_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64
	    "\n", labels, c->rtt_count);
	put(&o, "kingsmoot_keepalive_rtt_seconds_sum{%s} %.6f\n", labels, c->rtt_sum);
	put(&o, "kingsmoot_keepalive_rtt_seconds_count{%s} %" PRIu64 "\n", labels,
	    c->rtt_count);
	family(&o, "kingsmoot_etcd_requests_total", "counter",
	    "Requests to etcd, by kind, each attempt counted.");
	for (int i = 0; i < METRICS_REQ_KINDS; i++)
		put(&o, "kingsmoot_etcd_requests_total{%s,kind=\"%s\"} %" PRIu64 "\n",
		    labels, request_kinds[i].name, c->requests[i]);
	family(&o, "kingsmoot_etcd_request_failures_total", "counter",
	    "Requests to etcd that failed, by kind.");
	for (int i = 0; i < METRICS_REQ_KINDS; i++)
		put(&o, "kingsmoot_etcd_request_failures_total{%s,kind=\"%s\"} %" PRIu64
		    "\n", labels, request_kinds[i].name, c->request_failures[i]);
	family(&o, "kingsmoot_hook_runs_total", "counter",
	    "Hook runs, by the role they were run for and how they ended.");
	for (int i = 0; i < 4; i++)
		for (int f = 0; f < 2; f++)
			put(&o, "kingsmoot_hook_runs_total{%s,role=\"%s\",result=\"%s\"} %"
			    PRIu64 "\n", labels, role_name(roles[i]),
			    f ? "failed" : "ok", c->hook_runs[roles[i]][f]);
	family(&o, "kingsmoot_state_write_failures_total", "counter",
	    "State file writes that failed.");
	put(&o, "kingsmoot_state_write_failures_total{%s} %" PRIu64 "\n", labels,
	    c->state_write_failures);
	family(&o, "kingsmoot_last_update_timestamp_seconds", "gauge",
	    "When this file was last written, as a Unix time.");
	put(&o, "kingsmoot_last_update_timestamp_seconds{%s} %.3f\n", labels,
	    now->last_update);
	return o.full ? -ENOSPC : (int)o.used;
}

int metrics_write(const char *path, const struct metrics_now *now)
{
	static char buf[64 * 1024];
	char tmp[4200];
	int n, fd, r = 0;
	const char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;

	n = metrics_render(&metrics, now, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* A dot name: the textfile collector reads only *.prom. */
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.%ld.tmp", (int)dir_len, path,
	    slash ? slash + 1 : path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	else if (fchmod(fd, 0644) < 0)
		r = -errno;
	/* No fsync: the file is derived, and rewritten after every event. */
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

void metrics_publish(const char *path, const struct metrics_now *now)
{
	int r;

	if (path == NULL || path[0] == '\0')
		return;
	r = metrics_write(path, now);
	if (r < 0 && !write_failing)
		log_warnx("cannot write metrics file %s: %s", path, strerror(-r));
	else if (r == 0 && write_failing)
		log_notice("metrics file %s written again", path);
	write_failing = r < 0;
}
