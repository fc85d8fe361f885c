/*
 * stepdown.h - the step-down sequence as an explicit state machine.
 *
 * A resign (SIGUSR1, pause, a failed check, a failing leader hook) and a
 * stop (SIGTERM) go through the same steps: publish not_member, let its
 * hooks end, wait until the old state file no longer claims leadership,
 * then clean up in etcd: delete our key to re-queue, or revoke the lease
 * to leave. One pure function moves the phase on an event and names the
 * action the caller must take; the caller reports each action's outcome
 * as the next event. Nothing here does I/O.
 */
#ifndef KM_STEPDOWN_H
#define KM_STEPDOWN_H

#include <stdbool.h>

enum stepdown_phase {
	STEPDOWN_NONE,          /* campaigning, or holding nothing while withdrawn */
	STEPDOWN_RESIGN_HOOKS,  /* not_member published; its hooks running */
	STEPDOWN_RESIGN_FILE,   /* the old file still says leader: holding our key */
	STEPDOWN_RESIGN_DELETE, /* deleting our key */
	STEPDOWN_STOP_HOOKS,
	STEPDOWN_STOP_FILE,
	STEPDOWN_STOP_REVOKE,   /* revoking our lease */
	STEPDOWN_STOPPED,
};

enum stepdown_event {
	STEPDOWN_EV_RESIGN,         /* asked to resign */
	STEPDOWN_EV_STOP,           /* asked to stop */
	STEPDOWN_EV_HOOKS_DONE,     /* no not_member hook runs any more */
	STEPDOWN_EV_FILE_CLEAR,     /* the file no longer claims leadership */
	STEPDOWN_EV_DELETED,        /* our key is gone */
	STEPDOWN_EV_DELETE_FAILED,  /* it may still stand */
	STEPDOWN_EV_REVOKED,        /* answered or failed: the lease is let go */
};

enum stepdown_action {
	STEPDOWN_DO_NOTHING,
	STEPDOWN_DO_DEMOTE,         /* publish not_member; report HOOKS_DONE */
	STEPDOWN_DO_WAIT_FILE,      /* report FILE_CLEAR when it stops claiming */
	STEPDOWN_DO_DELETE_KEY,     /* report DELETED or DELETE_FAILED */
	STEPDOWN_DO_CAMPAIGN,       /* the resign is over: campaign again */
	STEPDOWN_DO_RENEW_CANDIDACY,/* over, but only a new lease queues behind */
	STEPDOWN_DO_LEAVE,          /* over while withdrawn: give up the lease */
	STEPDOWN_DO_REVOKE_LEASE,   /* report REVOKED */
	STEPDOWN_DO_FINISH_STOP,    /* the stop is over */
};

/* What the caller knows when an event arrives. */
struct stepdown_facts {
	bool file_claims_leader;    /* the old state file's VALID_UNTIL is ahead */
	bool holds_key;
	bool holds_lease;
	bool withdrawn;             /* paused or unhealthy */
};

enum stepdown_action stepdown_next(enum stepdown_phase *phase,
    enum stepdown_event event, const struct stepdown_facts *facts);

bool stepdown_resigning(enum stepdown_phase phase);
bool stepdown_stopping(enum stepdown_phase phase);
const char *stepdown_phase_name(enum stepdown_phase phase);

#endif
