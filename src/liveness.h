/*
 * liveness.h - the liveness self-check of a candidate, as a pure decision.
 *
 * A candidate that is out of the election must always have something
 * under way that brings it back: a request in flight, a retry armed, or a
 * demotion whose hooks or old state file it is waiting for. Any other
 * not_member is outside the design, and the daemon repairs it itself
 * instead of staying out for good.
 */
#ifndef KM_LIVENESS_H
#define KM_LIVENESS_H

#include <stdbool.h>

struct candidacy_activity {
	bool candidate;         /* mode = "candidate" */
	bool withdrawn;         /* paused or unhealthy: out on purpose */
	bool stopping;          /* shutting down: out for good on purpose */
	bool member;            /* leader or follower right now */
	bool stepping_down;     /* a resign is between its steps */
	bool holds_lease;
	bool holds_key;         /* our key's create revision is known */
	bool request_in_flight; /* lease grant, key create or key delete */
	bool retry_armed;       /* the campaign back-off timer */
	bool demotion_pending;  /* not_member hooks running, or the old file
	                         * still claims leadership until it expires */
};

/* True when nothing under way can ever make this candidate a member. */
bool candidacy_stalled(const struct candidacy_activity *a);

#endif
