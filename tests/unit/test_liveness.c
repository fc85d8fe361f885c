/*
 * test_liveness.c - the liveness self-check (liveness.c): which states of
 * a candidate count as stalled out of the election.
 *
 * The named cases are states the election passes through, including the
 * one a resign without a key used to leave behind for good. The sweep
 * walks all 2^10 combinations of the inputs against the rule restated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "liveness.h"

/* A candidate campaigning normally: nothing set but "candidate". */
static struct candidacy_activity candidate(void)
{
	return (struct candidacy_activity){ .candidate = true };
}

static void test_follower_is_never_stalled(void **state)
{
	struct candidacy_activity a = candidate();

	a.member = true;
	a.holds_lease = a.holds_key = true;
	assert_false(candidacy_stalled(&a));
}

static void test_without_lease_and_nothing_under_way_is_stalled(void **state)
{
	struct candidacy_activity a = candidate();

	assert_true(candidacy_stalled(&a));
	a.request_in_flight = true;     /* the lease grant */
	assert_false(candidacy_stalled(&a));
	a.request_in_flight = false;
	a.retry_armed = true;           /* its back-off after a failure */
	assert_false(candidacy_stalled(&a));
}

static void test_lease_without_key_needs_a_create_or_retry(void **state)
{
	struct candidacy_activity a = candidate();

	a.holds_lease = true;
	assert_true(candidacy_stalled(&a));
	a.request_in_flight = true;
	assert_false(candidacy_stalled(&a));
}

static void test_lease_and_key_wait_for_the_view(void **state)
{
	struct candidacy_activity a = candidate();

	a.holds_lease = a.holds_key = true;
	assert_false(candidacy_stalled(&a));
}

/* SIGUSR1, pause + resume or a health flap while etcd was away: the
 * lease and key were gone, the resign had nothing to delete and never
 * went back to campaigning. */
static void test_resign_left_between_steps_is_stalled(void **state)
{
	struct candidacy_activity a = candidate();

	a.stepping_down = true;
	assert_true(candidacy_stalled(&a));
	/* Even holding a key: a resign with no step under way never ends. */
	a.holds_lease = a.holds_key = true;
	assert_true(candidacy_stalled(&a));
}

static void test_resign_waiting_for_hooks_or_delete_is_not_stalled(void **state)
{
	struct candidacy_activity a = candidate();

	a.stepping_down = true;
	a.holds_lease = a.holds_key = true;
	a.demotion_pending = true;      /* not_member hooks still running */
	assert_false(candidacy_stalled(&a));
	a.demotion_pending = false;
	a.request_in_flight = true;     /* the key delete */
	assert_false(candidacy_stalled(&a));
}

static void test_out_on_purpose_is_not_stalled(void **state)
{
	struct candidacy_activity a = candidate();

	a.withdrawn = true;
	assert_false(candidacy_stalled(&a));
	a = candidate();
	a.stopping = true;
	assert_false(candidacy_stalled(&a));
	a = candidate();
	a.candidate = false;            /* an observer holds no candidacy */
	assert_false(candidacy_stalled(&a));
}

static void test_every_combination_against_the_rule(void **state)
{
	unsigned n_stalled = 0;

	for (unsigned bits = 0; bits < 1u << 10; bits++) {
		struct candidacy_activity a = {
			.candidate = bits & 1, .withdrawn = bits & 2,
			.stopping = bits & 4, .member = bits & 8,
			.stepping_down = bits & 16, .holds_lease = bits & 32,
			.holds_key = bits & 64, .request_in_flight = bits & 128,
			.retry_armed = bits & 256, .demotion_pending = bits & 512,
		};
		bool wants_in = a.candidate && !a.withdrawn && !a.stopping;
		bool out = !a.member;
		bool progress = a.request_in_flight || a.retry_armed ||
		    a.demotion_pending ||
		    (!a.stepping_down && a.holds_lease && a.holds_key);
		bool expect = wants_in && out && !progress;

		assert_int_equal(candidacy_stalled(&a), expect);
		n_stalled += expect;
	}
	/* candidate, not withdrawn/stopping/member, no progress source:
	 * 2 (stepping_down) x 4 (lease, key) states, minus the one that
	 * waits for the view. */
	assert_int_equal(n_stalled, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follower_is_never_stalled),
		cmocka_unit_test(test_without_lease_and_nothing_under_way_is_stalled),
		cmocka_unit_test(test_lease_without_key_needs_a_create_or_retry),
		cmocka_unit_test(test_lease_and_key_wait_for_the_view),
		cmocka_unit_test(test_resign_left_between_steps_is_stalled),
		cmocka_unit_test(test_resign_waiting_for_hooks_or_delete_is_not_stalled),
		cmocka_unit_test(test_out_on_purpose_is_not_stalled),
		cmocka_unit_test(test_every_combination_against_the_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
