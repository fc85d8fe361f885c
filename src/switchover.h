/*
 * switchover.h - handing the leadership to a chosen candidate
 * (kingsmootctl switchover), as pure functions that kingsmootctl and the
 * daemon share: the request and its key, the choice of the target, what
 * a daemon does about a request, and how far a handover has got.
 *
 * The request is one key beside the election,
 * "<prefix><service>.switchover": outside "<prefix><service>/", so that
 * no reader of the election (etcdctl elect -l among them) counts it as a
 * candidate. It lives on kingsmootctl's lease and so ends by itself. It
 * names the leadership that hands over, by its term, and the candidate
 * that is to lead next, by its key's create revision. The candidates
 * queued between the two step back behind the target, each with a new
 * key, without ever leaving the election; once none is left between, the
 * leader resigns and the target is next in line.
 */
#ifndef KM_SWITCHOVER_H
#define KM_SWITCHOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdproto.h"

#define SWITCHOVER_KEY_SUFFIX ".switchover"
/* A kingsmootd steps back within milliseconds of seeing the request; a
 * candidate still ahead of the target after this long is taken for one
 * that cannot (an etcdctl elect proposal). */
#define SWITCHOVER_STEP_BACK_GRACE_MS 2000
/* Bounds on what a request value may be. */
#define SWITCHOVER_REQUEST_MAX 4096

struct switchover_request {
	int64_t term;           /* the leader's key's create revision */
	int64_t target;         /* the create revision of the key to lead */
};

/* "<prefix><service>.switchover" into out; -ENAMETOOLONG. */
int switchover_request_key(const char *prefix, const char *service,
    char *out, size_t outlen);
/* The value kingsmootctl writes: JSON with the term, the target and, for
 * a human reading etcd, the target's node id (percent-encoded). Returns
 * malloc'd text, NULL when out of memory. */
char *switchover_request_format(const struct switchover_request *r,
    const char *node);
/* 0, or -EPROTO for anything but a request with 0 < term < target. */
int switchover_request_parse(const char *value, size_t len,
    struct switchover_request *r);

/* Election order: a is ahead of b in the queue (create revision, then
 * key bytes, as election_leader() decides). */
bool election_ahead(const struct etcd_kv *a, const struct etcd_kv *b);

enum switchover_target {
	TARGET_FOUND,           /* *target is the candidate to hand over to */
	TARGET_LEADS,           /* node already leads */
	TARGET_UNKNOWN,         /* no key of the election carries node */
	TARGET_NOBODY_NEXT,     /* no node given and nobody behind the leader */
	TARGET_NO_LEADER,       /* the election is empty */
};

/*
 * The leader and the candidate to hand over to: the first key carrying
 * node (the raw value), or with node NULL the next in line. *leader and
 * *target point into keys.
 */
enum switchover_target switchover_pick_target(const struct etcd_kv *keys,
    size_t n, const char *node, const struct etcd_kv **leader,
    const struct etcd_kv **target);

enum switchover_action {
	SWITCHOVER_NOTHING,
	SWITCHOVER_STEP_BACK,   /* we are queued between leader and target */
	SWITCHOVER_RESIGN,      /* we lead, and the target is next in line */
};

/* What the daemon whose key is my_key (create revision my_rev) does about
 * request r in the view keys. A request for another leadership, or for a
 * target that is gone or leads, asks nothing. */
enum switchover_action switchover_decide(const struct switchover_request *r,
    const struct etcd_kv *keys, size_t n, const char *my_key,
    size_t my_key_len, int64_t my_rev);

enum switchover_progress {
	SWITCHOVER_WAITING,     /* steps under way; *who: a candidate still
	                         * ahead of the target, or NULL (the resign) */
	SWITCHOVER_DONE,        /* the target leads; *who is it */
	SWITCHOVER_TARGET_LEFT, /* the target's key is gone */
	SWITCHOVER_OVERTAKEN,   /* someone else leads; *who is it */
	SWITCHOVER_BLOCKED,     /* *who is still ahead of the target after the
	                         * grace: it cannot be asked to move */
};

/* How far the handover of request r has got in keys; grace_over: the
 * step-back grace has passed since the request was made. */
enum switchover_progress switchover_progress(const struct switchover_request *r,
    const struct etcd_kv *keys, size_t n, bool grace_over,
    const struct etcd_kv **who);

#endif
