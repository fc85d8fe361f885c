/*
 * view.h - our view of one election: every key under its prefix.
 *
 * One linearizable range, then a watch from the range's revision + 1, so
 * no event is lost between the two; a new range whenever the watch is
 * lost, cancelled, compacted, or left behind on another member. The view
 * reports to its owner through view_events, from the event loop.
 */
#ifndef KM_VIEW_H
#define KM_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "loop.h"

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
	const char *prefix;             /* "<prefix><service>/", borrowed */
	size_t prefix_len;
	struct etcd_kv *keys;
	size_t n_keys;
	int64_t revision;               /* complete up to here */
	bool valid;                     /* the last range succeeded */

	struct etcd_call *range_call;
	struct etcd_watch *watch;
	unsigned watch_generation;      /* etcd_endpoint_generation() at start */
	uint64_t watch_started;
	int watch_quick_deaths;
	struct loop_timer sync_timer;
	int sync_failures;
	bool stopped;

	const struct view_events *events;
	void *ud;
};

void view_init(struct election_view *v, const char *prefix, size_t prefix_len,
    const struct view_events *events, void *ud);
/* Read the election and watch it from then on. */
void view_start(struct election_view *v);
/* Unary calls moved to another member: follow with the watch, so that a
 * partitioned member does not keep us blind. */
void view_follow_endpoint(struct election_view *v);
/* No more ranges or watches. */
void view_stop(struct election_view *v);
void view_free(struct election_view *v);

const struct etcd_kv *view_find(const struct election_view *v,
    const char *key, size_t len);
/* A view read successfully and a live watch over it. */
bool view_watching(const struct election_view *v);

#endif
