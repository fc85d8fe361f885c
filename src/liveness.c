/*
 * liveness.c - decides whether a candidate has stalled out of the
 * election (see liveness.h). No I/O and no state: elect.c gathers the
 * facts before the loop sleeps and acts on the answer.
 */
#include "liveness.h"

bool candidacy_stalled(const struct candidacy_activity *a)
{
	if (!a->candidate || a->withdrawn || a->stopping || a->member)
		return false;
	if (a->request_in_flight || a->retry_armed || a->demotion_pending)
		return false;
	/* Between the steps of a resign only the steps above move us on. */
	if (a->stepping_down)
		return true;
	/* With a lease and a key, the view makes us a member once it has
	 * caught up: that is the view's progress, not the candidacy's. */
	return !(a->holds_lease && a->holds_key);
}
