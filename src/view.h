/*
 * view.h - our view of one election: every key under its prefix.
 *
 * One linearizable range, then a watch from the range's revision + 1, so
 * no event is lost between the two; a new range whenever the watch is
 * lost, cancelled, compacted, left behind on another member, or stale:
 * it has not shown, within a bound, a revision etcd reported elsewhere
 * (a keepalive answer), or, with nothing else to compare, it has been
 * silent that long. The view reports to its owner through view_events,
 * from the event loop.
 *
 * A view can also follow one key instead of a prefix (view_init_key):
 * the range and the watch are those of the prefix that is the key's name,
 * and any longer key they show, another election's, is left out.
 */
#ifndef KM_VIEW_H
#define KM_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "loop.h"

/* What the view keeps of a candidate: any etcd client can write keys and
 * values of a megabyte under the prefix, and 4096 of them. A longer key
 * is cut (it still counts, in its place in the queue; ties within one txn
 * are then broken by the first bytes only), a longer value too (hooks get
 * at most HOOK_MAX_VALUE bytes of it, the state file less). */
#define VIEW_KEY_MAX 1024
#define VIEW_VALUE_MAX 4096

struct view_events {
	/* One watched event, before the view applies it. */
	void (*event)(const struct etcd_event *ev, void *ud);
	/* A range replaced the view. */
	void (*synced)(void *ud);
	/* The view changed, or a range failed (valid is then false). */
	void (*changed)(void *ud);
	/* A range failed: the first attempt has been made. */
	void (*sync_failed)(void *ud);
};

struct election_view {
	const char *prefix;             /* "<prefix><service>/", borrowed;
	                                 * in one-key mode the key */
	size_t prefix_len;
	bool one_key;
	const char *what;               /* for the log: "election" */
	struct etcd_kv *keys;           /* in key order */
	size_t n_keys;
	size_t keys_cap;
	int64_t revision;               /* complete up to here */
	bool valid;                     /* the last range succeeded */
	bool complete;                  /* no candidate was left out for
	                                 * ETCD_MAX_KVS: nobody may decide
	                                 * on a view that misses keys */

	struct etcd_call *range_call;
	struct etcd_watch *watch;
	unsigned watch_generation;      /* etcd_endpoint_generation() at start */
	uint64_t watch_started;
	int watch_quick_deaths;
	struct loop_timer sync_timer;
	int sync_failures;
	bool stopped;

	uint64_t stale_after_ms;        /* 0: never judged stale */
	bool silence_is_stale;          /* no revisions from elsewhere */
	int64_t owed_revision;          /* reported by etcd, not yet shown */
	bool resync_for_staleness;
	struct loop_timer stale_timer;

	const struct view_events *events;
	void *ud;
};

void view_init(struct election_view *v, const char *prefix, size_t prefix_len,
    const struct view_events *events, void *ud);
/* The view of one key: what names it in the log ("switchover request"). */
void view_init_key(struct election_view *v, const char *key, size_t key_len,
    const char *what, const struct view_events *events, void *ud);
/* Read the election and watch it from then on. */
void view_start(struct election_view *v);
/* Unary calls moved to another member: follow with the watch, so that a
 * partitioned member does not keep us blind. */
void view_follow_endpoint(struct election_view *v);
/* After stale_after_ms, a watch that has not shown a revision passed to
 * view_etcd_revision(), or (silence_is_stale) that sent nothing at all,
 * is treated as lost and the election read again. */
void view_set_staleness(struct election_view *v, uint64_t stale_after_ms,
    bool silence_is_stale);
/* etcd reported elsewhere that it has reached revision. */
void view_etcd_revision(struct election_view *v, int64_t revision);
/* No more ranges or watches. */
void view_stop(struct election_view *v);
void view_free(struct election_view *v);

const struct etcd_kv *view_find(const struct election_view *v,
    const char *key, size_t len);
/* A view read successfully and a live watch over it. */
bool view_watching(const struct election_view *v);

#endif
