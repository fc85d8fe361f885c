/*
 * test_decide_role.c - decide_role() (decide.c): the role, leader and term
 * that follow from the view, our key, our lease deadline, our withdrawal
 * and whether a leader's state file could be written.
 *
 * Table cases name each rule; the randomised check builds thousands of
 * views and holds every answer against a small reference model written
 * apart from the code: at most one leader per view, the leader is the
 * lowest create revision, never a leader past the deadline, never a
 * leader with an unwritten file.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

#define K(name, rev) { .key = (char *)(name), .key_len = sizeof(name) - 1, \
	.value = (char *)(name), .value_len = sizeof(name) - 1, \
	.create_revision = (rev), .mod_revision = (rev), .version = 1 }

static struct etcd_kv three[] = {
	K("kingsmoot/svc/b", 20), K("kingsmoot/svc/a", 10), K("kingsmoot/svc/c", 30),
};

/* A candidate holding key i of three[], caught up, lease valid. */
static struct decision_input as_holder(size_t i)
{
	return (struct decision_input){
		.keys = three, .n_keys = 3, .view_revision = 40, .view_valid = true,
		.candidate = true, .my_key = three[i].key,
		.my_key_len = three[i].key_len,
		.my_create_revision = three[i].create_revision,
		.lease_deadline = 5000, .now = 1000,
	};
}

static struct decision decided(const struct decision_input *in)
{
	struct decision d;

	memset(&d, 0xa5, sizeof(d));    /* every field must be set */
	decide_role(in, &d);
	return d;
}

static void test_lowest_revision_leads_the_rest_follow(void **state)
{
	struct decision_input in = as_holder(1);
	struct decision d = decided(&in);

	assert_int_equal(d.role, ROLE_LEADER);
	assert_ptr_equal(d.leader, &three[1]);
	assert_int_equal(d.term, 10);
	assert_false(d.resign);
	in = as_holder(0);
	d = decided(&in);
	assert_int_equal(d.role, ROLE_FOLLOWER);
	assert_ptr_equal(d.leader, &three[1]);
	assert_int_equal(d.term, 10);
}

static void test_deadline_passed_is_not_member_but_knows_the_leader(void **state)
{
	struct decision_input in = as_holder(1);
	struct decision d;

	in.now = in.lease_deadline;
	d = decided(&in);
	assert_int_equal(d.role, ROLE_NOT_MEMBER);
	assert_ptr_equal(d.leader, &three[1]);
	assert_int_equal(d.term, 10);
	in.now = 1000;
	in.lease_deadline = 0;          /* no lease at all */
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
}

static void test_withdrawn_or_stepping_down_is_not_member(void **state)
{
	struct decision_input in = as_holder(1);

	in.withdrawn = WITHDRAW_PAUSED;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in.withdrawn = WITHDRAW_UNHEALTHY;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in = as_holder(1);
	in.stepping_down = true;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in.candidate = false;           /* an observer stepping down, too */
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
}

static void test_unwritten_leader_file_resigns(void **state)
{
	struct decision_input in = as_holder(1);
	struct decision d;

	in.leader_file_failed = true;
	d = decided(&in);
	assert_int_equal(d.role, ROLE_NOT_MEMBER);
	assert_true(d.resign);
	/* A follower has nothing to resign for. */
	in = as_holder(2);
	in.leader_file_failed = true;
	d = decided(&in);
	assert_int_equal(d.role, ROLE_FOLLOWER);
	assert_false(d.resign);
}

static void test_view_behind_our_key_is_not_member(void **state)
{
	struct decision_input in = as_holder(1);

	in.view_revision = 9;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in.view_revision = 10;
	assert_int_equal(decided(&in).role, ROLE_LEADER);
}

static void test_key_not_in_view_or_not_ours(void **state)
{
	struct decision_input in = as_holder(1);

	in.my_key = "kingsmoot/svc/z";
	in.my_key_len = 15;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in = as_holder(1);
	in.my_create_revision = 11;     /* etcd shows another key by our name */
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in = as_holder(1);
	in.my_key = NULL;
	in.my_key_len = 0;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
}

/* A view that left candidates out (more than ETCD_MAX_KVS) may miss an
 * older key: nobody decides on it. */
static void test_incomplete_view_decides_nothing(void **state)
{
	struct decision_input in = as_holder(1);
	struct decision d;

	in.view_incomplete = true;
	d = decided(&in);
	assert_int_equal(d.role, ROLE_NOT_MEMBER);
	assert_int_equal(d.reason, REASON_ETCD_UNREACHABLE);
	in.candidate = false;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
}

static void test_observer(void **state)
{
	struct decision_input in = { .keys = three, .n_keys = 3,
		.view_revision = 40, .view_valid = true };
	struct decision d = decided(&in);

	assert_int_equal(d.role, ROLE_OBSERVER);
	assert_ptr_equal(d.leader, &three[1]);
	in.view_valid = false;
	assert_int_equal(decided(&in).role, ROLE_NOT_MEMBER);
	in.n_keys = 0;
	in.view_valid = true;
	d = decided(&in);
	assert_int_equal(d.role, ROLE_OBSERVER);
	assert_null(d.leader);
	assert_int_equal(d.term, 0);
}

static void test_reasons_for_not_member(void **state)
{
	struct decision_input in = as_holder(1);

	assert_int_equal(decided(&in).reason, REASON_NONE);     /* leads */
	in.now = in.lease_deadline;
	assert_int_equal(decided(&in).reason, REASON_ETCD_UNREACHABLE);
	in = as_holder(1);
	in.my_key = NULL;
	in.lease_deadline = 0;
	assert_int_equal(decided(&in).reason, REASON_STARTING);
	in.loss = REASON_LEASE_LOST;
	assert_int_equal(decided(&in).reason, REASON_LEASE_LOST);
	in = as_holder(1);
	in.stepping_down = true;
	in.loss = REASON_HOOK_FAILED;
	assert_int_equal(decided(&in).reason, REASON_HOOK_FAILED);
	in.stopping = true;
	assert_int_equal(decided(&in).reason, REASON_STOPPING);
	in = as_holder(1);
	in.withdrawn = WITHDRAW_UNHEALTHY | WITHDRAW_PAUSED;
	assert_int_equal(decided(&in).reason, REASON_PAUSED);
	in.withdrawn = WITHDRAW_UNHEALTHY;
	assert_int_equal(decided(&in).reason, REASON_UNHEALTHY);
	in = as_holder(1);
	in.leader_file_failed = true;
	assert_int_equal(decided(&in).reason, REASON_STATE_UNWRITABLE);
	in = as_holder(0);              /* a follower */
	assert_int_equal(decided(&in).reason, REASON_NONE);
	in.candidate = false;
	in.view_valid = false;
	assert_int_equal(decided(&in).reason, REASON_ETCD_UNREACHABLE);
}

/* ---- randomised, against the reference model ---------------------------- */

static uint64_t rng = 0x5eed0fdec1deull;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The reference: written from DESIGN 1 and 2, not from decide.c. */
static enum km_role model_role(const struct decision_input *in, bool *resign)
{
	const struct etcd_kv *mine = NULL;
	bool lowest = true;

	*resign = false;
	if (in->stepping_down)
		return ROLE_NOT_MEMBER;
	if (!in->candidate)
		return in->view_valid ? ROLE_OBSERVER : ROLE_NOT_MEMBER;
	if (in->withdrawn || in->my_key == NULL || in->lease_deadline == 0 ||
	    in->now >= in->lease_deadline || in->my_create_revision <= 0 ||
	    in->view_revision < in->my_create_revision)
		return ROLE_NOT_MEMBER;
	for (size_t i = 0; i < in->n_keys; i++)
		if (in->keys[i].key_len == in->my_key_len &&
		    memcmp(in->keys[i].key, in->my_key, in->my_key_len) == 0)
			mine = &in->keys[i];
	if (mine == NULL || mine->create_revision != in->my_create_revision)
		return ROLE_NOT_MEMBER;
	for (size_t i = 0; i < in->n_keys; i++) {
		const struct etcd_kv *k = &in->keys[i];

		if (k == mine)
			continue;
		if (k->create_revision < mine->create_revision ||
		    (k->create_revision == mine->create_revision &&
		    strcmp(k->key, mine->key) < 0))
			lowest = false;
	}
	if (!lowest)
		return ROLE_FOLLOWER;
	if (in->leader_file_failed) {
		*resign = true;
		return ROLE_NOT_MEMBER;
	}
	return ROLE_LEADER;
}

static void test_random_views_against_the_model(void **state)
{
	static struct etcd_kv keys[24];
	static char names[24][32];
	unsigned seen[4] = { 0 }, views_with_leader = 0;

	for (int view = 0; view < 5000; view++) {
		size_t n = (size_t)(next_random() % 24);
		int64_t low = INT64_MAX, view_rev = 0;
		unsigned leaders = 0;

		for (size_t i = 0; i < n; i++) {
			/* Few distinct revisions, so that ties (one txn, several
			 * keys) happen too. */
			int64_t rev = 1 + (int64_t)(next_random() % 40);

			snprintf(names[i], sizeof(names[i]), "kingsmoot/svc/%zu-%03x", i,
			    (unsigned)(next_random() % 4096));
			keys[i] = (struct etcd_kv){ .key = names[i],
			    .key_len = strlen(names[i]), .value = names[i],
			    .value_len = strlen(names[i]), .create_revision = rev };
			if (rev < low)
				low = rev;
			if (rev > view_rev)
				view_rev = rev;
		}
		/* Every key of the view decides, as the daemon holding it would. */
		for (size_t me = 0; me <= n; me++) {
			struct decision_input in = {
				.keys = keys, .n_keys = n,
				.view_revision = view_rev - (int64_t)(next_random() % 3),
				.view_valid = next_random() % 8 != 0,
				.candidate = next_random() % 10 != 0,
				.stepping_down = next_random() % 10 == 0,
				.withdrawn = next_random() % 10 == 0 ? WITHDRAW_PAUSED : 0,
				.lease_deadline = next_random() % 10 == 0 ? 0 : 10000,
				.now = 9990 + next_random() % 12,
				.leader_file_failed = next_random() % 10 == 0,
			};
			struct decision d;
			bool resign;
			enum km_role want;

			if (me < n) {           /* me == n: a key not in the view */
				in.my_key = keys[me].key;
				in.my_key_len = keys[me].key_len;
				in.my_create_revision = keys[me].create_revision +
				    (next_random() % 20 == 0);
			} else if (next_random() % 2) {
				in.my_key = "kingsmoot/svc/absent";
				in.my_key_len = strlen(in.my_key);
				in.my_create_revision = 1 + (int64_t)(next_random() % 40);
			}
			decide_role(&in, &d);
			want = model_role(&in, &resign);
			assert_int_equal(d.role, want);
			assert_int_equal(d.resign, resign);
			/* A reason exactly when out of the election. */
			assert_int_equal(d.reason != REASON_NONE,
			    d.role == ROLE_NOT_MEMBER);
			assert_int_equal(d.term, n ? low : 0);
			if (n)
				assert_int_equal(d.leader->create_revision, low);
			else
				assert_null(d.leader);
			if (d.role == ROLE_LEADER) {
				leaders++;
				assert_ptr_equal(d.leader, &keys[me]);
				assert_true(in.now < in.lease_deadline);
				assert_false(in.leader_file_failed);
			}
			seen[d.role]++;
		}
		assert_true(leaders <= 1);
		views_with_leader += leaders;
	}
	/* Every role came up, and leaders were found, not just ruled out. */
	for (int r = 0; r < 4; r++)
		assert_true(seen[r] > 100);
	assert_true(views_with_leader > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowest_revision_leads_the_rest_follow),
		cmocka_unit_test(test_deadline_passed_is_not_member_but_knows_the_leader),
		cmocka_unit_test(test_withdrawn_or_stepping_down_is_not_member),
		cmocka_unit_test(test_unwritten_leader_file_resigns),
		cmocka_unit_test(test_view_behind_our_key_is_not_member),
		cmocka_unit_test(test_key_not_in_view_or_not_ours),
		cmocka_unit_test(test_observer),
		cmocka_unit_test(test_incomplete_view_decides_nothing),
		cmocka_unit_test(test_reasons_for_not_member),
		cmocka_unit_test(test_random_views_against_the_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
