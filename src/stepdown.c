/*
 * stepdown.c - the step-down state machine (see stepdown.h).
 *
 * Every phase that waits names the event that ends the wait, and every
 * way out of a resign leads back to STEPDOWN_NONE: a resign with no key
 * to delete goes straight on, it does not stop between steps.
 */
#include "stepdown.h"

#include <stddef.h>

/* After the not_member hooks: the file, then etcd. */
static enum stepdown_action after_hooks(enum stepdown_phase *phase,
    const struct stepdown_facts *f, bool stopping)
{
	if (f->file_claims_leader) {
		*phase = stopping ? STEPDOWN_STOP_FILE : STEPDOWN_RESIGN_FILE;
		return STEPDOWN_DO_WAIT_FILE;
	}
	if (stopping) {
		if (!f->holds_lease) {
			*phase = STEPDOWN_STOPPED;
			return STEPDOWN_DO_FINISH_STOP;
		}
		*phase = STEPDOWN_STOP_REVOKE;
		return STEPDOWN_DO_REVOKE_LEASE;
	}
	if (f->holds_key) {
		*phase = STEPDOWN_RESIGN_DELETE;
		return STEPDOWN_DO_DELETE_KEY;
	}
	/* No key to delete: lost with the lease, or never made. */
	*phase = STEPDOWN_NONE;
	return f->withdrawn ? STEPDOWN_DO_LEAVE : STEPDOWN_DO_CAMPAIGN;
}

enum stepdown_action stepdown_next(enum stepdown_phase *phase,
    enum stepdown_event event, const struct stepdown_facts *f)
{
	enum stepdown_phase now = *phase;

	if (now == STEPDOWN_STOPPED)
		return STEPDOWN_DO_NOTHING;
	switch (event) {
	case STEPDOWN_EV_RESIGN:
		/* One step-down at a time; a stop already leaves. */
		if (now != STEPDOWN_NONE)
			return STEPDOWN_DO_NOTHING;
		*phase = STEPDOWN_RESIGN_HOOKS;
		return STEPDOWN_DO_DEMOTE;
	case STEPDOWN_EV_STOP:
		if (stepdown_stopping(now))
			return STEPDOWN_DO_NOTHING;
		/* A resign in progress turns into the stop: whatever it was
		 * waiting for, the demotion is published again and awaited. */
		*phase = STEPDOWN_STOP_HOOKS;
		return STEPDOWN_DO_DEMOTE;
	case STEPDOWN_EV_HOOKS_DONE:
		if (now == STEPDOWN_RESIGN_HOOKS)
			return after_hooks(phase, f, false);
		if (now == STEPDOWN_STOP_HOOKS)
			return after_hooks(phase, f, true);
		return STEPDOWN_DO_NOTHING;
	case STEPDOWN_EV_FILE_CLEAR:
		if (now == STEPDOWN_RESIGN_FILE || now == STEPDOWN_STOP_FILE) {
			struct stepdown_facts clear = *f;

			clear.file_claims_leader = false;
			return after_hooks(phase, &clear, now == STEPDOWN_STOP_FILE);
		}
		return STEPDOWN_DO_NOTHING;
	case STEPDOWN_EV_DELETED:
		if (now != STEPDOWN_RESIGN_DELETE)
			return STEPDOWN_DO_NOTHING;
		*phase = STEPDOWN_NONE;
		return f->withdrawn ? STEPDOWN_DO_LEAVE : STEPDOWN_DO_CAMPAIGN;
	case STEPDOWN_EV_DELETE_FAILED:
		if (now != STEPDOWN_RESIGN_DELETE)
			return STEPDOWN_DO_NOTHING;
		*phase = STEPDOWN_NONE;
		/* The key may still stand first in line; only a new lease (a new
		 * key name) is sure to queue behind it. */
		return f->withdrawn ? STEPDOWN_DO_LEAVE : STEPDOWN_DO_RENEW_CANDIDACY;
	case STEPDOWN_EV_REVOKED:
		if (now != STEPDOWN_STOP_REVOKE)
			return STEPDOWN_DO_NOTHING;
		*phase = STEPDOWN_STOPPED;
		return STEPDOWN_DO_FINISH_STOP;
	}
	return STEPDOWN_DO_NOTHING;
}

bool stepdown_resigning(enum stepdown_phase phase)
{
	return phase == STEPDOWN_RESIGN_HOOKS || phase == STEPDOWN_RESIGN_FILE ||
	    phase == STEPDOWN_RESIGN_DELETE;
}

bool stepdown_stopping(enum stepdown_phase phase)
{
	return phase >= STEPDOWN_STOP_HOOKS;
}

const char *stepdown_phase_name(enum stepdown_phase phase)
{
	static const char *const names[] = {
		[STEPDOWN_NONE] = "none",
		[STEPDOWN_RESIGN_HOOKS] = "resign-hooks",
		[STEPDOWN_RESIGN_FILE] = "resign-file",
		[STEPDOWN_RESIGN_DELETE] = "resign-delete",
		[STEPDOWN_STOP_HOOKS] = "stop-hooks",
		[STEPDOWN_STOP_FILE] = "stop-file",
		[STEPDOWN_STOP_REVOKE] = "stop-revoke",
		[STEPDOWN_STOPPED] = "stopped",
	};

	return (size_t)phase < sizeof(names) / sizeof(names[0]) && names[phase] ?
	    names[phase] : "?";
}
