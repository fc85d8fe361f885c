/*
 * demotion.h - runs the step-down state machine of stepdown.c: events are
 * posted, run one at a time and never from inside the update or callback
 * that posted them, and each action is handed to the session. The runner
 * owns what the sequence waits on by itself: the hooks (hook.c) and the
 * timers for late hooks, for the old state file to expire, and for the
 * end of a stop.
 */
#ifndef KM_DEMOTION_H
#define KM_DEMOTION_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "stepdown.h"

struct demotion_actions {
	/* Publish not_member; a stop lets go of our key first. */
	void (*demote)(bool stopping, void *ud);
	void (*facts)(struct stepdown_facts *facts, void *ud);
	/* Until when the state file claims leadership (CLOCK_BOOTTIME ms). */
	uint64_t (*file_claims_until)(void *ud);
	/* Delete our key, then post DELETED or DELETE_FAILED; -errno when
	 * nothing could be sent. */
	int (*delete_key)(void *ud);
	/* The resign is over; drop_why: give up the lease first, for that. */
	void (*resigned)(const char *drop_why, void *ud);
	/* Revoke the lease, then post REVOKED; -errno when nothing was sent. */
	int (*revoke_lease)(void *ud);
	/* The stop is over: say so and let go of everything. */
	void (*stop_finished)(void *ud);
};

struct demotion {
	enum stepdown_phase phase;
	unsigned pending;               /* 1 << STEPDOWN_EV_*, not yet run */
	bool running;
	int holds;                      /* demotion_hold() depth */
	bool file_wait_logged;
	double hooks_timeout;           /* seconds, per hook */
	struct loop_timer hooks_late_timer, file_expiry_timer, stop_done_timer;
	const struct demotion_actions *act;
	void *ud;
	void (*stop_done)(void *ud);    /* the stop's owner, told from the loop */
	void *stop_ud;
	bool exiting;                   /* the stop ends the process */
};

void demotion_init(struct demotion *d, double hooks_timeout,
    const struct demotion_actions *act, void *ud);
void demotion_post(struct demotion *d, enum stepdown_event ev);
/* Post STOP; done() runs from the loop once the stop is over, when the
 * owner may tear the session down. exiting: the process ends after it. */
void demotion_stop(struct demotion *d, bool exiting, void (*done)(void *ud), void *ud);
/* Between hold and release (an update), posted events wait, and run once
 * at the release. */
void demotion_hold(struct demotion *d);
void demotion_release(struct demotion *d);
bool demotion_posted(const struct demotion *d, enum stepdown_event ev);
/* Waiting for the old state file to stop claiming leadership. */
bool demotion_waiting_for_file(const struct demotion *d);
/* Back to no step-down at all: the liveness self-check's repair. */
void demotion_reset(struct demotion *d);
void demotion_free(struct demotion *d);

#endif
