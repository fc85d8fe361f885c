/*
 * demotion.c - the runner of the step-down sequence (see demotion.h).
 */
#include "demotion.h"

#include <string.h>

#include "hook.h"
#include "log.h"
#include "util.h"

/* Hooks end within hooks.timeout plus the 2 s before SIGKILL; a second
 * more, and they are late enough to say so. */
#define HOOKS_LATE_SLACK_MS 3000

static void perform(struct demotion *d, enum stepdown_action action)
{
	const struct demotion_actions *act = d->act;

	switch (action) {
	case STEPDOWN_DO_NOTHING:
		break;
	case STEPDOWN_DO_DEMOTE:
		act->demote(stepdown_stopping(d->phase), d->ud);
		if (!hooks_busy()) {
			demotion_post(d, STEPDOWN_EV_HOOKS_DONE);
			break;
		}
		loop_timer_arm_in(&d->hooks_late_timer,
		    sec_to_ms(d->hooks_timeout) + HOOKS_LATE_SLACK_MS);
		break;
	case STEPDOWN_DO_WAIT_FILE:
		/* If not_member could not be written, the file still names us
		 * leader until its VALID_UNTIL: keep the key, and with it
		 * everyone else out, until then. Every update retries. */
		if (!d->file_wait_logged)
			log_warnx("state file still says leader; holding our key "
			    "until its VALID_UNTIL passes");
		d->file_wait_logged = true;
		loop_timer_arm_at(&d->file_expiry_timer, act->file_claims_until(d->ud));
		break;
	case STEPDOWN_DO_DELETE_KEY:
		if (act->delete_key(d->ud) < 0)
			demotion_post(d, STEPDOWN_EV_DELETE_FAILED);
		break;
	case STEPDOWN_DO_CAMPAIGN:
		act->resigned(NULL, d->ud);
		break;
	case STEPDOWN_DO_RENEW_CANDIDACY:
		act->resigned("could not delete our key while resigning", d->ud);
		break;
	case STEPDOWN_DO_LEAVE:
		/* No candidacy while withdrawn: nothing to keep alive. */
		act->resigned("withdrawn from the election", d->ud);
		break;
	case STEPDOWN_DO_REVOKE_LEASE:
		if (act->revoke_lease(d->ud) < 0)
			demotion_post(d, STEPDOWN_EV_REVOKED);
		break;
	case STEPDOWN_DO_FINISH_STOP:
		/* Our key is gone and a successor is taking over, maybe on
		 * these cores, beside an etcd member. What is left before the
		 * exit (the last state file, the teardown: about 2 ms of CPU)
		 * helps no one: it yields to every other task from here on. */
		if (d->exiting)
			(void)sched_background();
		act->stop_finished(d->ud);
		/* The owner may tear the etcd client down: not from inside its
		 * callback. */
		loop_timer_arm_in(&d->stop_done_timer, 0);
		break;
	}
}

static void run_posted(struct demotion *d)
{
	if (d->running || d->holds > 0)
		return;
	d->running = true;
	while (d->pending) {
		enum stepdown_event next = (enum stepdown_event)__builtin_ctz(d->pending);
		struct stepdown_facts facts;

		memset(&facts, 0, sizeof(facts));
		d->act->facts(&facts, d->ud);
		d->pending &= ~(1u << next);
		perform(d, stepdown_next(&d->phase, next, &facts));
	}
	d->running = false;
}

void demotion_post(struct demotion *d, enum stepdown_event ev)
{
	if (ev == STEPDOWN_EV_HOOKS_DONE)
		loop_timer_disarm(&d->hooks_late_timer);
	if (ev == STEPDOWN_EV_FILE_CLEAR) {
		loop_timer_disarm(&d->file_expiry_timer);
		d->file_wait_logged = false;
	}
	d->pending |= 1u << ev;
	run_posted(d);
}

void demotion_hold(struct demotion *d)
{
	d->holds++;
}

void demotion_release(struct demotion *d)
{
	if (--d->holds == 0)
		run_posted(d);
}

bool demotion_posted(const struct demotion *d, enum stepdown_event ev)
{
	return (d->pending & (1u << ev)) != 0;
}

bool demotion_waiting_for_file(const struct demotion *d)
{
	return d->file_expiry_timer.armed;
}

static void file_expired(void *ud)
{
	demotion_post(ud, STEPDOWN_EV_FILE_CLEAR);
}

static void hooks_late(void *ud)
{
	struct demotion *d = ud;

	/* Each hook is bounded by hooks.timeout, so the batch ends; going on
	 * before it does would let the next leader overlap our demotion. */
	log_warnx("not_member hooks still running after %.1f s; waiting for them",
	    d->hooks_timeout + HOOKS_LATE_SLACK_MS / 1000.0);
}

static void stop_done_fired(void *ud)
{
	struct demotion *d = ud;

	if (d->stop_done)
		d->stop_done(d->stop_ud);
}

void demotion_stop(struct demotion *d, bool exiting, void (*done)(void *ud), void *ud)
{
	d->stop_done = done;
	d->stop_ud = ud;
	d->exiting = exiting;
	demotion_post(d, STEPDOWN_EV_STOP);
}

void demotion_init(struct demotion *d, double hooks_timeout,
    const struct demotion_actions *act, void *ud)
{
	memset(d, 0, sizeof(*d));
	d->hooks_timeout = hooks_timeout;
	d->act = act;
	d->ud = ud;
	loop_timer_init(&d->hooks_late_timer, hooks_late, d);
	loop_timer_init(&d->file_expiry_timer, file_expired, d);
	loop_timer_init(&d->stop_done_timer, stop_done_fired, d);
}

void demotion_reset(struct demotion *d)
{
	loop_timer_disarm(&d->hooks_late_timer);
	loop_timer_disarm(&d->file_expiry_timer);
	d->phase = STEPDOWN_NONE;
	d->pending = 0;
	d->file_wait_logged = false;
}

void demotion_free(struct demotion *d)
{
	demotion_reset(d);
	loop_timer_disarm(&d->stop_done_timer);
}
