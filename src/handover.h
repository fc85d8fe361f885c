/*
 * handover.h - a candidate's part in a switchover (kingsmootctl
 * switchover, switchover.h): it watches the request key beside the
 * election, and when the request says so it steps back behind the
 * target, or, leading, tells its owner to resign.
 *
 * Stepping back never takes the node out of the election: a second lease
 * is granted, and one txn puts our new key under it (at the back of the
 * queue) and deletes the old key, guarded by the create revisions of the
 * old key, the leader's and the target's. Our key is taken to have moved
 * when the view shows the new one (the watch shows it before the old
 * key's delete: one revision, in op order); our lease as soon as etcd
 * says the txn succeeded. Until then the old key stays ours, and its
 * events are set aside, so that the role never leaves follower.
 */
#ifndef KM_HANDOVER_H
#define KM_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "candidacy.h"
#include "config.h"
#include "lease.h"
#include "state.h"
#include "switchover.h"
#include "view.h"

struct handover_events {
	/* The request came, changed or went: decide again. */
	void (*changed)(void *ud);
	/* Our key may have changed beyond the events the view delivered
	 * (they were set aside while the txn was out): look at it again. */
	void (*check_key)(void *ud);
};

enum handover_move {
	MOVE_NONE,
	MOVE_GRANTING,          /* the second lease is being granted */
	MOVE_COMMITTING,        /* the txn is out */
	MOVE_SETTLING,          /* etcd moved the key; the view has not yet */
};

struct handover {
	int64_t ttl;                    /* of the step back's lease */
	char *request_key;
	struct election_view request_view;
	struct switchover_request request;
	int64_t request_revision;       /* mod revision; 0: no valid request */
	int64_t acted_on;               /* the request we last acted on */

	/* Borrowed from the session. */
	const struct election_view *election;
	struct lease *lease;
	struct candidacy *candidacy;
	const char *election_prefix;
	size_t election_prefix_len;

	struct {
		enum handover_move phase;
		int64_t lease_id, ttl;
		uint64_t grant_sent;
		bool lease_moved;
		char *key;              /* our new key */
		size_t key_len;
		int64_t revision;       /* the txn's, once it succeeded */
		struct etcd_call *call;
	} move;

	const struct handover_events *events;
	void *ud;
};

void handover_init(struct handover *h, const struct config *cfg,
    const struct election_view *election, struct lease *lease,
    struct candidacy *candidacy, const char *election_prefix,
    size_t election_prefix_len, const struct handover_events *events,
    void *ud);
/* Read the request key and watch it. */
void handover_start(struct handover *h);
/* The unary calls moved to another member: the watch follows. */
void handover_follow_endpoint(struct handover *h);
/*
 * After each decision: what the current request asks of us, published
 * as role and free to act (a member not stepping down, not withdrawn). A
 * step back starts here; SWITCHOVER_RESIGN is the caller's to carry
 * out. Each request is acted on once.
 */
enum switchover_action handover_next(struct handover *h, enum km_role role,
    bool free_to_act);
/* An election event, before the caller looks at it: true when it belongs
 * to a step back (our new key, which is now adopted, or the old key while
 * the txn is out), and the caller must leave it alone. */
bool handover_view_event(struct handover *h, const struct etcd_event *ev);
/* The election was read again: adopt our new key if etcd has moved it. */
void handover_view_synced(struct handover *h);
/* A step-down begins or our lease is gone: end a step back. One that
 * etcd has already carried out is adopted first. */
void handover_abort(struct handover *h);
bool handover_busy(const struct handover *h);
/* The step back's lease: keys on it are ours. */
bool handover_owns_lease(const struct handover *h, int64_t lease);
void handover_free(struct handover *h);

#endif
