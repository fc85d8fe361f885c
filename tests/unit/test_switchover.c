/*
 * test_switchover.c - the switchover's pure parts (switchover.c): the
 * request and its key, the choice of the target, each daemon's decision
 * and kingsmootctl's reading of the progress.
 *
 * The queue used throughout: leader L (10), A (11), B (12), the target T
 * (13) and C (14) behind it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "switchover.h"

#define KV(name, val, rev) { .key = (char *)(name), .key_len = sizeof(name) - 1, \
	.value = (char *)(val), .value_len = sizeof(val) - 1, .create_revision = (rev) }

static const struct etcd_kv queue[] = {
	/* not in election order on purpose: nothing may rely on it */
	KV("km/s/b", "node-b", 12),
	KV("km/s/l", "node-l", 10),
	KV("km/s/t", "node-t", 13),
	KV("km/s/a", "node-a", 11),
	KV("km/s/c", "node-c", 14),
};
#define N_QUEUE (sizeof(queue) / sizeof(queue[0]))

static const struct switchover_request to_t = { .term = 10, .target = 13 };

static const struct etcd_kv *named(const struct etcd_kv *keys, size_t n,
    const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].value, value) == 0)
			return &keys[i];
	fail_msg("no key for %s", value);
	return NULL;
}

static enum switchover_action decide_for(const struct etcd_kv *keys, size_t n,
    const char *value)
{
	const struct etcd_kv *k = named(keys, n, value);

	return switchover_decide(&to_t, keys, n, k->key, k->key_len,
	    k->create_revision);
}

static void test_request_key_is_beside_the_election(void **state)
{
	char key[64];

	assert_int_equal(switchover_request_key("kingsmoot/", "svc", key,
	    sizeof(key)), 0);
	assert_string_equal(key, "kingsmoot/svc.switchover");
	/* not under "kingsmoot/svc/", where every key is a candidate */
	assert_int_not_equal(strncmp(key, "kingsmoot/svc/", 14), 0);
	assert_int_equal(switchover_request_key("kingsmoot/", "svc", key, 24),
	    -ENAMETOOLONG);
}

static void test_request_round_trip(void **state)
{
	struct switchover_request r;
	char *text = switchover_request_format(&to_t, "node t\n");

	assert_non_null(text);
	assert_string_equal(text,
	    "{\"term\":10,\"target\":13,\"node\":\"node%20t%0A\"}");
	assert_int_equal(switchover_request_parse(text, strlen(text), &r), 0);
	assert_int_equal(r.term, 10);
	assert_int_equal(r.target, 13);
	free(text);
	/* etcd's own habit: int64 as strings; no node needed */
	text = "{\"term\":\"9000000000000\",\"target\":\"9000000000001\"}";
	assert_int_equal(switchover_request_parse(text, strlen(text), &r), 0);
	assert_true(r.term == INT64_C(9000000000000));
}

static void test_request_refused(void **state)
{
	static const char *const bad[] = {
		"", "null", "[]", "{}", "garbage", "{\"term\":10}",
		"{\"target\":13}",
		"{\"term\":0,\"target\":13}",
		"{\"term\":13,\"target\":13}",
		"{\"term\":14,\"target\":13}",
		"{\"term\":-1,\"target\":13}",
		"{\"term\":10,\"target\":\"x\"}",
		"{\"term\":10.5,\"target\":13}",
		"{\"term\":10,\"target\":13,\"term\":11}",
	};
	struct switchover_request r;
	char big[SWITCHOVER_REQUEST_MAX + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r.term = 99;
		assert_int_equal(switchover_request_parse(bad[i], strlen(bad[i]),
		    &r), -EPROTO);
		assert_int_equal(r.term, 0);
	}
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"term\":10,\"target\":13}", 24);
	assert_int_equal(switchover_request_parse(big, sizeof(big), &r), -EPROTO);
}

static void test_pick_target(void **state)
{
	const struct etcd_kv *leader, *target;
	const struct etcd_kv twice[] = {
		KV("km/s/l", "node-l", 10), KV("km/s/x2", "node-x", 12),
		KV("km/s/x1", "node-x", 11),
	};

	assert_int_equal(switchover_pick_target(queue, N_QUEUE, "node-t", &leader,
	    &target), TARGET_FOUND);
	assert_string_equal(leader->value, "node-l");
	assert_string_equal(target->key, "km/s/t");
	assert_int_equal(switchover_pick_target(queue, N_QUEUE, NULL, &leader,
	    &target), TARGET_FOUND);
	assert_string_equal(target->value, "node-a");
	assert_int_equal(switchover_pick_target(queue, N_QUEUE, "node-l", &leader,
	    &target), TARGET_LEADS);
	assert_int_equal(switchover_pick_target(queue, N_QUEUE, "node-z", &leader,
	    &target), TARGET_UNKNOWN);
	assert_null(target);
	assert_int_equal(switchover_pick_target(queue, 0, "node-t", &leader,
	    &target), TARGET_NO_LEADER);
	assert_int_equal(switchover_pick_target(&queue[1], 1, NULL, &leader,
	    &target), TARGET_NOBODY_NEXT);
	/* a node id on two keys: the one first in line */
	assert_int_equal(switchover_pick_target(twice, 3, "node-x", &leader,
	    &target), TARGET_FOUND);
	assert_string_equal(target->key, "km/s/x1");
}

static void test_only_those_between_step_back(void **state)
{
	assert_int_equal(decide_for(queue, N_QUEUE, "node-a"), SWITCHOVER_STEP_BACK);
	assert_int_equal(decide_for(queue, N_QUEUE, "node-b"), SWITCHOVER_STEP_BACK);
	/* the leader waits for them; the target and those behind do nothing */
	assert_int_equal(decide_for(queue, N_QUEUE, "node-l"), SWITCHOVER_NOTHING);
	assert_int_equal(decide_for(queue, N_QUEUE, "node-t"), SWITCHOVER_NOTHING);
	assert_int_equal(decide_for(queue, N_QUEUE, "node-c"), SWITCHOVER_NOTHING);
}

static void test_leader_resigns_once_the_target_is_next(void **state)
{
	/* A and B stepped back: new keys behind C */
	const struct etcd_kv after[] = {
		KV("km/s/l", "node-l", 10), KV("km/s/t", "node-t", 13),
		KV("km/s/c", "node-c", 14), KV("km/s/a2", "node-a", 15),
		KV("km/s/b2", "node-b", 17),
	};

	assert_int_equal(decide_for(after, 5, "node-l"), SWITCHOVER_RESIGN);
	assert_int_equal(decide_for(after, 5, "node-a"), SWITCHOVER_NOTHING);
	assert_int_equal(decide_for(after, 5, "node-b"), SWITCHOVER_NOTHING);
	assert_int_equal(decide_for(after, 5, "node-c"), SWITCHOVER_NOTHING);
	/* only one of them has stepped back: still waiting for the other */
	const struct etcd_kv half[] = {
		KV("km/s/l", "node-l", 10), KV("km/s/b", "node-b", 12),
		KV("km/s/t", "node-t", 13), KV("km/s/a2", "node-a", 15),
	};
	assert_int_equal(decide_for(half, 4, "node-l"), SWITCHOVER_NOTHING);
	assert_int_equal(decide_for(half, 4, "node-b"), SWITCHOVER_STEP_BACK);
}

static void test_requests_for_something_else_ask_nothing(void **state)
{
	const struct switchover_request old_term = { .term = 9, .target = 13 };
	const struct switchover_request gone = { .term = 10, .target = 16 };
	const struct etcd_kv *a = named(queue, N_QUEUE, "node-a");
	const struct etcd_kv *l = named(queue, N_QUEUE, "node-l");

	/* the leadership it was made for is over */
	assert_int_equal(switchover_decide(&old_term, queue, N_QUEUE, a->key,
	    a->key_len, 11), SWITCHOVER_NOTHING);
	/* the target left */
	assert_int_equal(switchover_decide(&gone, queue, N_QUEUE, a->key,
	    a->key_len, 11), SWITCHOVER_NOTHING);
	assert_int_equal(switchover_decide(&gone, queue, N_QUEUE, l->key,
	    l->key_len, 10), SWITCHOVER_NOTHING);
	/* a key by our name that we did not make, or no key at all */
	assert_int_equal(switchover_decide(&to_t, queue, N_QUEUE, a->key,
	    a->key_len, 8), SWITCHOVER_NOTHING);
	assert_int_equal(switchover_decide(&to_t, queue, N_QUEUE, NULL, 0, 0),
	    SWITCHOVER_NOTHING);
	assert_int_equal(switchover_decide(&to_t, queue, N_QUEUE, "km/s/zz", 7,
	    11), SWITCHOVER_NOTHING);
}

/* Keys made in one txn share a revision; the key bytes order them, as
 * they order the election. */
static void test_ties_follow_election_order(void **state)
{
	const struct etcd_kv tied[] = {
		KV("km/s/l", "node-l", 10), KV("km/s/m", "node-m", 10),
		KV("km/s/t1", "node-t", 13), KV("km/s/t0", "node-u", 13),
	};
	const struct switchover_request to_u = { .term = 10, .target = 13 };

	/* m ties with the leader but queues behind it, ahead of t0 */
	assert_int_equal(switchover_decide(&to_u, tied, 4, "km/s/m", 6, 10),
	    SWITCHOVER_STEP_BACK);
	assert_int_equal(switchover_decide(&to_u, tied, 4, "km/s/l", 6, 10),
	    SWITCHOVER_NOTHING);
	/* the target of revision 13 is t0, first in line: t1 is behind it */
	assert_int_equal(switchover_decide(&to_u, tied, 4, "km/s/t1", 7, 13),
	    SWITCHOVER_NOTHING);
	assert_true(election_ahead(&tied[3], &tied[2]));
	assert_false(election_ahead(&tied[2], &tied[3]));
	assert_false(election_ahead(&tied[0], &tied[0]));
}

static void test_progress(void **state)
{
	const struct etcd_kv *who;
	const struct etcd_kv resigning[] = {
		KV("km/s/l", "node-l", 10), KV("km/s/t", "node-t", 13),
		KV("km/s/a2", "node-a", 15),
	};
	const struct etcd_kv done[] = {
		KV("km/s/t", "node-t", 13), KV("km/s/a2", "node-a", 15),
		KV("km/s/l2", "node-l", 16),
	};
	const struct etcd_kv overtaken[] = {
		KV("km/s/a", "node-a", 11), KV("km/s/t", "node-t", 13),
	};

	assert_int_equal(switchover_progress(&to_t, queue, N_QUEUE, false, &who),
	    SWITCHOVER_WAITING);
	assert_string_equal(who->value, "node-a");
	assert_int_equal(switchover_progress(&to_t, queue, N_QUEUE, true, &who),
	    SWITCHOVER_BLOCKED);
	assert_string_equal(who->value, "node-a");
	/* nobody left between: waiting for the leader, even after the grace */
	assert_int_equal(switchover_progress(&to_t, resigning, 3, true, &who),
	    SWITCHOVER_WAITING);
	assert_null(who);
	assert_int_equal(switchover_progress(&to_t, done, 3, false, &who),
	    SWITCHOVER_DONE);
	assert_string_equal(who->value, "node-t");
	/* the target left, with or without a leader */
	assert_int_equal(switchover_progress(&to_t, done + 1, 2, false, &who),
	    SWITCHOVER_TARGET_LEFT);
	assert_int_equal(switchover_progress(&to_t, done, 0, false, &who),
	    SWITCHOVER_TARGET_LEFT);
	/* the leader left before the others stepped back */
	assert_int_equal(switchover_progress(&to_t, overtaken, 2, false, &who),
	    SWITCHOVER_OVERTAKEN);
	assert_string_equal(who->value, "node-a");
}

/* Every daemon of the queue, at every stage of a switchover: nobody but
 * the leader ever resigns, and the leader only with the target next. */
static void test_sweep_nobody_else_resigns(void **state)
{
	for (unsigned mask = 0; mask < 32; mask++) {
		struct etcd_kv keys[N_QUEUE];
		size_t n = 0;
		const struct etcd_kv *next = NULL, *leader;

		for (size_t i = 0; i < N_QUEUE; i++)
			if (mask & (1u << i))
				keys[n++] = queue[i];
		leader = n ? &keys[0] : NULL;
		for (size_t i = 0; i < n; i++)
			if (election_ahead(&keys[i], leader))
				leader = &keys[i];
		for (size_t i = 0; i < n; i++)
			if (&keys[i] != leader &&
			    (next == NULL || election_ahead(&keys[i], next)))
				next = &keys[i];
		for (size_t i = 0; i < n; i++) {
			enum switchover_action a = switchover_decide(&to_t, keys, n,
			    keys[i].key, keys[i].key_len, keys[i].create_revision);

			if (a == SWITCHOVER_RESIGN) {
				assert_ptr_equal(&keys[i], leader);
				assert_int_equal(leader->create_revision, 10);
				assert_int_equal(next->create_revision, 13);
			}
			if (a == SWITCHOVER_STEP_BACK)
				assert_in_range(keys[i].create_revision, 11, 12);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_key_is_beside_the_election),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_pick_target),
		cmocka_unit_test(test_only_those_between_step_back),
		cmocka_unit_test(test_leader_resigns_once_the_target_is_next),
		cmocka_unit_test(test_requests_for_something_else_ask_nothing),
		cmocka_unit_test(test_ties_follow_election_order),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_sweep_nobody_else_resigns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
