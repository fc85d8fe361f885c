/*
 * test_stepdown.c - the step-down state machine (stepdown.c), and with it
 * the liveness self-check (liveness.c) over every state the machine can
 * rest in.
 *
 * Table cases walk the sequences DESIGN 4 describes; the sweep feeds
 * every event to every phase under every combination of facts and checks
 * that a resign never rests in a phase with nothing to wait for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "liveness.h"
#include "stepdown.h"

#define N_PHASES (STEPDOWN_STOPPED + 1)
#define N_EVENTS (STEPDOWN_EV_REVOKED + 1)

static const struct stepdown_facts leader_with_key = {
	.holds_key = true, .holds_lease = true,
};
static const struct stepdown_facts nothing_held = { 0 };

static void expect(enum stepdown_phase *phase, enum stepdown_event ev,
    const struct stepdown_facts *f, enum stepdown_action action,
    enum stepdown_phase after)
{
	assert_int_equal(stepdown_next(phase, ev, f), action);
	assert_int_equal(*phase, after);
}

static void test_resign_publishes_waits_for_hooks_then_deletes(void **state)
{
	enum stepdown_phase p = STEPDOWN_NONE;

	expect(&p, STEPDOWN_EV_RESIGN, &leader_with_key, STEPDOWN_DO_DEMOTE,
	    STEPDOWN_RESIGN_HOOKS);
	/* Nothing else moves it on while the hooks run. */
	expect(&p, STEPDOWN_EV_DELETED, &leader_with_key, STEPDOWN_DO_NOTHING,
	    STEPDOWN_RESIGN_HOOKS);
	expect(&p, STEPDOWN_EV_RESIGN, &leader_with_key, STEPDOWN_DO_NOTHING,
	    STEPDOWN_RESIGN_HOOKS);
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &leader_with_key, STEPDOWN_DO_DELETE_KEY,
	    STEPDOWN_RESIGN_DELETE);
	expect(&p, STEPDOWN_EV_DELETED, &leader_with_key, STEPDOWN_DO_CAMPAIGN,
	    STEPDOWN_NONE);
}

/* The defect of the liveness issue: a resign with no key (the lease was
 * lost while etcd was down) must still go back to campaigning. */
static void test_resign_without_a_key_goes_back_to_campaigning(void **state)
{
	enum stepdown_phase p = STEPDOWN_NONE;

	expect(&p, STEPDOWN_EV_RESIGN, &nothing_held, STEPDOWN_DO_DEMOTE,
	    STEPDOWN_RESIGN_HOOKS);
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &nothing_held, STEPDOWN_DO_CAMPAIGN,
	    STEPDOWN_NONE);
}

static void test_withdrawn_resign_leaves_instead_of_campaigning(void **state)
{
	struct stepdown_facts f = leader_with_key;
	enum stepdown_phase p = STEPDOWN_NONE;

	f.withdrawn = true;
	expect(&p, STEPDOWN_EV_RESIGN, &f, STEPDOWN_DO_DEMOTE, STEPDOWN_RESIGN_HOOKS);
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &f, STEPDOWN_DO_DELETE_KEY,
	    STEPDOWN_RESIGN_DELETE);
	expect(&p, STEPDOWN_EV_DELETED, &f, STEPDOWN_DO_LEAVE, STEPDOWN_NONE);
	f.holds_key = false;
	expect(&p, STEPDOWN_EV_RESIGN, &f, STEPDOWN_DO_DEMOTE, STEPDOWN_RESIGN_HOOKS);
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &f, STEPDOWN_DO_LEAVE, STEPDOWN_NONE);
}

static void test_failed_delete_renews_the_candidacy(void **state)
{
	enum stepdown_phase p = STEPDOWN_RESIGN_DELETE;

	expect(&p, STEPDOWN_EV_DELETE_FAILED, &leader_with_key,
	    STEPDOWN_DO_RENEW_CANDIDACY, STEPDOWN_NONE);
}

static void test_file_claiming_leader_holds_the_key_until_clear(void **state)
{
	struct stepdown_facts f = leader_with_key;
	enum stepdown_phase p = STEPDOWN_RESIGN_HOOKS;

	f.file_claims_leader = true;
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &f, STEPDOWN_DO_WAIT_FILE,
	    STEPDOWN_RESIGN_FILE);
	expect(&p, STEPDOWN_EV_FILE_CLEAR, &f, STEPDOWN_DO_DELETE_KEY,
	    STEPDOWN_RESIGN_DELETE);
	p = STEPDOWN_STOP_HOOKS;
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &f, STEPDOWN_DO_WAIT_FILE,
	    STEPDOWN_STOP_FILE);
	expect(&p, STEPDOWN_EV_FILE_CLEAR, &f, STEPDOWN_DO_REVOKE_LEASE,
	    STEPDOWN_STOP_REVOKE);
}

static void test_stop_demotes_then_revokes_then_finishes(void **state)
{
	enum stepdown_phase p = STEPDOWN_NONE;

	expect(&p, STEPDOWN_EV_STOP, &leader_with_key, STEPDOWN_DO_DEMOTE,
	    STEPDOWN_STOP_HOOKS);
	expect(&p, STEPDOWN_EV_STOP, &leader_with_key, STEPDOWN_DO_NOTHING,
	    STEPDOWN_STOP_HOOKS);
	expect(&p, STEPDOWN_EV_RESIGN, &leader_with_key, STEPDOWN_DO_NOTHING,
	    STEPDOWN_STOP_HOOKS);
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &leader_with_key,
	    STEPDOWN_DO_REVOKE_LEASE, STEPDOWN_STOP_REVOKE);
	expect(&p, STEPDOWN_EV_REVOKED, &leader_with_key, STEPDOWN_DO_FINISH_STOP,
	    STEPDOWN_STOPPED);
	for (int ev = 0; ev < N_EVENTS; ev++)
		expect(&p, (enum stepdown_event)ev, &leader_with_key,
		    STEPDOWN_DO_NOTHING, STEPDOWN_STOPPED);
	/* Without a lease there is nothing to revoke. */
	p = STEPDOWN_STOP_HOOKS;
	expect(&p, STEPDOWN_EV_HOOKS_DONE, &nothing_held, STEPDOWN_DO_FINISH_STOP,
	    STEPDOWN_STOPPED);
}

static void test_stop_overrides_a_resign_in_any_of_its_steps(void **state)
{
	const enum stepdown_phase resigning[] = { STEPDOWN_RESIGN_HOOKS,
		STEPDOWN_RESIGN_FILE, STEPDOWN_RESIGN_DELETE };

	for (size_t i = 0; i < 3; i++) {
		enum stepdown_phase p = resigning[i];

		expect(&p, STEPDOWN_EV_STOP, &leader_with_key, STEPDOWN_DO_DEMOTE,
		    STEPDOWN_STOP_HOOKS);
	}
}

/*
 * What the daemon reports to the self-check once an action has been
 * taken and the loop is about to wait: each action that waits names its
 * own pending work, and DEMOTE waits for hooks only while they run.
 */
static struct candidacy_activity resting(enum stepdown_phase phase,
    enum stepdown_action action, const struct stepdown_facts *f, bool hooks_run)
{
	struct candidacy_activity a = {
		.candidate = true, .withdrawn = f->withdrawn,
		.stopping = stepdown_stopping(phase),
		.stepping_down = stepdown_resigning(phase),
		.holds_lease = f->holds_lease, .holds_key = f->holds_key,
	};

	switch (action) {
	case STEPDOWN_DO_DEMOTE:
		a.demotion_pending = hooks_run;
		break;
	case STEPDOWN_DO_WAIT_FILE:
		a.demotion_pending = true;      /* the file expiry timer */
		break;
	case STEPDOWN_DO_DELETE_KEY:
	case STEPDOWN_DO_REVOKE_LEASE:
		a.request_in_flight = true;
		break;
	case STEPDOWN_DO_CAMPAIGN:
	case STEPDOWN_DO_RENEW_CANDIDACY:
		/* campaign_step: a grant or a create goes out. */
		a.request_in_flight = true;
		break;
	default:
		break;
	}
	return a;
}

static void test_no_transition_rests_in_a_stall(void **state)
{
	unsigned transitions = 0;

	for (int phase = 0; phase < N_PHASES; phase++)
	for (int ev = 0; ev < N_EVENTS; ev++)
	for (unsigned bits = 0; bits < 16; bits++) {
		struct stepdown_facts f = {
			.file_claims_leader = bits & 1, .holds_key = bits & 2,
			.holds_lease = bits & 4, .withdrawn = bits & 8,
		};
		enum stepdown_phase p = (enum stepdown_phase)phase;
		enum stepdown_action act = stepdown_next(&p, (enum stepdown_event)ev, &f);
		struct candidacy_activity a;

		if (act == STEPDOWN_DO_NOTHING) {
			assert_int_equal(p, phase);
			continue;
		}
		transitions++;
		/* A resign step that waits must wait for something. */
		if (stepdown_resigning(p))
			assert_true(act == STEPDOWN_DO_DEMOTE ||
			    act == STEPDOWN_DO_WAIT_FILE || act == STEPDOWN_DO_DELETE_KEY);
		/* A resign that ended went back to NONE. */
		if (act == STEPDOWN_DO_CAMPAIGN || act == STEPDOWN_DO_LEAVE ||
		    act == STEPDOWN_DO_RENEW_CANDIDACY)
			assert_int_equal(p, STEPDOWN_NONE);
		if (act == STEPDOWN_DO_FINISH_STOP)
			assert_int_equal(p, STEPDOWN_STOPPED);
		/* Hooks still running, or (DEMOTE reports HOOKS_DONE at once)
		 * the next step: either way the self-check stays quiet. */
		a = resting(p, act, &f, true);
		assert_false(candidacy_stalled(&a));
	}
	assert_true(transitions > 100);
}

/* Every resign reaches NONE once its steps complete, whatever the facts. */
static void test_every_resign_ends(void **state)
{
	for (unsigned bits = 0; bits < 16; bits++) {
		struct stepdown_facts f = {
			.file_claims_leader = bits & 1, .holds_key = bits & 2,
			.holds_lease = bits & 4, .withdrawn = bits & 8,
		};
		enum stepdown_phase p = STEPDOWN_NONE;
		enum stepdown_action act = stepdown_next(&p, STEPDOWN_EV_RESIGN, &f);
		int steps = 0;

		while (p != STEPDOWN_NONE && steps++ < 8) {
			enum stepdown_event done =
			    act == STEPDOWN_DO_DEMOTE ? STEPDOWN_EV_HOOKS_DONE :
			    act == STEPDOWN_DO_WAIT_FILE ? STEPDOWN_EV_FILE_CLEAR :
			    STEPDOWN_EV_DELETED;

			act = stepdown_next(&p, done, &f);
		}
		assert_int_equal(p, STEPDOWN_NONE);
		assert_true(act == STEPDOWN_DO_CAMPAIGN || act == STEPDOWN_DO_LEAVE);
		assert_int_equal(act == STEPDOWN_DO_LEAVE, f.withdrawn);
	}
}

static void test_phase_names(void **state)
{
	assert_string_equal(stepdown_phase_name(STEPDOWN_RESIGN_HOOKS), "resign-hooks");
	assert_string_equal(stepdown_phase_name(STEPDOWN_STOPPED), "stopped");
	assert_string_equal(stepdown_phase_name((enum stepdown_phase)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resign_publishes_waits_for_hooks_then_deletes),
		cmocka_unit_test(test_resign_without_a_key_goes_back_to_campaigning),
		cmocka_unit_test(test_withdrawn_resign_leaves_instead_of_campaigning),
		cmocka_unit_test(test_failed_delete_renews_the_candidacy),
		cmocka_unit_test(test_file_claiming_leader_holds_the_key_until_clear),
		cmocka_unit_test(test_stop_demotes_then_revokes_then_finishes),
		cmocka_unit_test(test_stop_overrides_a_resign_in_any_of_its_steps),
		cmocka_unit_test(test_no_transition_rests_in_a_stall),
		cmocka_unit_test(test_every_resign_ends),
		cmocka_unit_test(test_phase_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
