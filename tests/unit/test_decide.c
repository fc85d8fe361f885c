/*
 * test_decide.c - unit tests for the election rule without I/O:
 * election_leader() and election_role() (decide.c).
 *
 * The views are built by hand on the stack; nothing is freed.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"
#include "util.h"

#define K(name, rev) { .key = (char *)(name), .key_len = sizeof(name) - 1, \
	.value = (char *)"", .value_len = 0, .create_revision = (rev), \
	.mod_revision = (rev), .version = 1, .lease = 0 }

#define KA "kingsmoot/akem/2ac6a215f8076177"
#define KB "kingsmoot/akem/2ac6a215f807617a"
#define KC "kingsmoot/akem/2ac6a215f807617f"
#define KD "kingsmoot/akem/6b0e2d41a0c3391c"

/* Deterministic PRNG (xorshift64*). */
static uint64_t rng_state = 0xe1ec7e1ec7ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static enum km_role role_of(const struct etcd_kv *keys, size_t n, int64_t view_rev,
    const char *my_key, int64_t my_rev)
{
	return election_role(keys, n, view_rev, my_key, my_key ? strlen(my_key) : 0,
	    my_rev);
}

/*
 * Call check() on every ordering of the 4 keys in a: all index tuples
 * with distinct entries, so 24 arrays, each holding copies of a's keys.
 */
static void permute(const struct etcd_kv *a, size_t n,
    void (*check)(const struct etcd_kv *, size_t, void *), void *ud, int *count)
{
	assert_int_equal(n, 4);
	for (size_t i = 0; i < 4; i++)
	for (size_t j = 0; j < 4; j++)
	for (size_t k = 0; k < 4; k++)
	for (size_t l = 0; l < 4; l++) {
		struct etcd_kv b[4];

		if (i == j || i == k || i == l || j == k || j == l || k == l)
			continue;
		b[0] = a[i];
		b[1] = a[j];
		b[2] = a[k];
		b[3] = a[l];
		check(b, 4, ud);
		(*count)++;
	}
}

/* ------------------------------------------------------------------ */
/* election_leader                                                      */

static void test_leader_empty(void **state)
{
	struct etcd_kv one[] = { K(KA, 5) };

	(void)state;
	assert_null(election_leader(NULL, 0));
	assert_null(election_leader(one, 0));
}

static void test_leader_single(void **state)
{
	struct etcd_kv one[] = { K(KA, 1331) };

	(void)state;
	assert_ptr_equal(election_leader(one, 1), &one[0]);
}

static void check_leader_is_kb(const struct etcd_kv *keys, size_t n, void *ud)
{
	const struct etcd_kv *l = election_leader(keys, n);

	(void)ud;
	assert_non_null(l);
	assert_true(l >= keys && l < keys + n);
	assert_string_equal(l->key, KB);
	assert_true(l->create_revision == 1331);
}

static void test_leader_lowest_in_any_order(void **state)
{
	/* Sorted neither by key nor by anything else: KB is the oldest. */
	struct etcd_kv keys[] = {
		K(KA, 1332), K(KB, 1331), K(KC, 9000), K(KD, 1400),
	};
	int count = 0;

	(void)state;
	permute(keys, 4, check_leader_is_kb, NULL, &count);
	assert_int_equal(count, 24);
}

static void test_leader_large_revisions(void **state)
{
	/* Revisions near the int64 limit compare as numbers, not text. */
	struct etcd_kv keys[] = {
		K(KA, INT64_MAX), K(KB, INT64_C(1000000000000000000)), K(KC, 999),
		K(KD, INT64_MAX - 1),
	};

	(void)state;
	assert_ptr_equal(election_leader(keys, 4), &keys[2]);
	keys[2].create_revision = INT64_C(9000000000000000000);
	assert_ptr_equal(election_leader(keys, 4), &keys[1]);
}

/* ------------------------------------------------------------------ */
/* election_role                                                        */

struct role_case {
	const char *mine;
	int64_t my_rev;
	enum km_role want;
};

static void check_role(const struct etcd_kv *keys, size_t n, void *ud)
{
	const struct role_case *c = ud;
	enum km_role r = role_of(keys, n, 2000, c->mine, c->my_rev);

	if (r != c->want) {
		print_error("%s (rev %" PRId64 "): role %d, expected %d; order:",
		    c->mine, c->my_rev, r, c->want);
		for (size_t i = 0; i < n; i++)
			print_error(" %s@%" PRId64, keys[i].key + 15, keys[i].create_revision);
		print_error("\n");
		fail();
	}
}

static void test_role_leader_and_followers_any_order(void **state)
{
	struct etcd_kv keys[] = {
		K(KA, 1332), K(KB, 1331), K(KC, 1500), K(KD, 1400),
	};
	static const struct role_case cases[] = {
		{ KB, 1331, ROLE_LEADER },
		{ KA, 1332, ROLE_FOLLOWER },
		{ KD, 1400, ROLE_FOLLOWER },
		{ KC, 1500, ROLE_FOLLOWER },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int count = 0;

		permute(keys, 4, check_role, (void *)&cases[i], &count);
		assert_int_equal(count, 24);
	}
}

static void test_role_sole_candidate(void **state)
{
	struct etcd_kv keys[] = { K(KA, 7) };

	(void)state;
	assert_int_equal(role_of(keys, 1, 7, KA, 7), ROLE_LEADER);
	assert_int_equal(role_of(keys, 1, 123456, KA, 7), ROLE_LEADER);
}

static void test_role_view_not_caught_up(void **state)
{
	/* Our txn succeeded at 1332, but the view is from revision 1331:
	 * older keys may still be missing from it. */
	struct etcd_kv keys[] = { K(KA, 1332) };
	struct etcd_kv two[] = { K(KB, 1331), K(KA, 1332) };

	(void)state;
	assert_int_equal(role_of(keys, 1, 1331, KA, 1332), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 1, 0, KA, 1332), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 1, -1, KA, 1332), ROLE_NOT_MEMBER);
	/* Exactly caught up. */
	assert_int_equal(role_of(keys, 1, 1332, KA, 1332), ROLE_LEADER);
	assert_int_equal(role_of(two, 2, 1331, KA, 1332), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(two, 2, 1331, KB, 1331), ROLE_LEADER);
	assert_int_equal(role_of(two, 2, 1332, KA, 1332), ROLE_FOLLOWER);
}

static void test_role_key_absent(void **state)
{
	struct etcd_kv keys[] = { K(KB, 1331), K(KC, 1500) };

	(void)state;
	/* Our key is gone (lease expired, deleted): not a member, even if
	 * it would have been the oldest. */
	assert_int_equal(role_of(keys, 2, 2000, KA, 1000), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 2, 2000, KA, 1600), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(NULL, 0, 2000, KA, 1000), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 0, 2000, KB, 1331), ROLE_NOT_MEMBER);
}

static void test_role_revision_mismatch(void **state)
{
	/* A key with our name but another create revision is not our
	 * candidacy (it was deleted and created again). */
	struct etcd_kv keys[] = { K(KA, 1700), K(KB, 1331) };
	struct etcd_kv lone[] = { K(KA, 1700) };

	(void)state;
	assert_int_equal(role_of(keys, 2, 2000, KA, 1332), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(lone, 1, 2000, KA, 1332), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(lone, 1, 2000, KA, 1701), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(lone, 1, 2000, KA, 1700), ROLE_LEADER);
}

static void test_role_no_revision(void **state)
{
	/* my_rev 0: no candidacy yet, whatever the view says. */
	struct etcd_kv zero[] = { K(KA, 0) };
	struct etcd_kv keys[] = { K(KA, 5) };

	(void)state;
	assert_int_equal(role_of(zero, 1, 10, KA, 0), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 1, 10, KA, 0), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(zero, 1, 0, KA, 0), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 1, 10, KA, -5), ROLE_NOT_MEMBER);
	assert_int_equal(role_of(keys, 1, 10, NULL, 5), ROLE_NOT_MEMBER);
}

static void test_role_key_compared_by_bytes_and_length(void **state)
{
	/* Keys that share a prefix with ours, or differ after a NUL. */
	struct etcd_kv keys[] = {
		K("kingsmoot/akem/abc", 10),
		K("kingsmoot/akem/ab", 20),
		{ .key = (char *)"k/a\0b", .key_len = 5, .value = (char *)"",
		  .create_revision = 5 },
	};

	(void)state;
	assert_int_equal(election_role(keys, 3, 100, "kingsmoot/akem/ab", 17, 20),
	    ROLE_FOLLOWER);
	assert_int_equal(election_role(keys, 3, 100, "kingsmoot/akem/ab", 17, 10),
	    ROLE_NOT_MEMBER);
	assert_int_equal(election_role(keys, 3, 100, "kingsmoot/akem/abc", 18, 10),
	    ROLE_FOLLOWER);
	assert_int_equal(election_role(keys, 3, 100, "kingsmoot/akem/a", 16, 10),
	    ROLE_NOT_MEMBER);
	assert_int_equal(election_role(keys, 3, 100, "k/a\0b", 5, 5), ROLE_LEADER);
	assert_int_equal(election_role(keys, 3, 100, "k/a\0c", 5, 5), ROLE_NOT_MEMBER);
	assert_int_equal(election_role(keys, 3, 100, "k/a", 3, 5), ROLE_NOT_MEMBER);
}

static void test_role_randomized(void **state)
{
	static struct etcd_kv keys[64];
	static char names[64][40];
	int leaders = 0, followers = 0;

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t n = 1 + (size_t)(rng_next() % 64), me = (size_t)(rng_next() % n);
		int64_t base = (int64_t)(rng_next() % 1000000) + 1, low = INT64_MAX;
		int64_t view;
		size_t low_i = 0;
		enum km_role r;

		for (size_t i = 0; i < n; i++) {
			/* Distinct revisions (every candidate has its own txn). */
			int64_t rev = base + (int64_t)i * 3 + (int64_t)(rng_next() % 3);

			snprintf(names[i], sizeof(names[i]), "kingsmoot/svc/%016" PRIx64,
			    rng_next());
			memset(&keys[i], 0, sizeof(keys[i]));
			keys[i].key = names[i];
			keys[i].key_len = strlen(names[i]);
			keys[i].value = (char *)"";
			keys[i].create_revision = rev;
		}
		/* Shuffle (Fisher-Yates). */
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = (size_t)(rng_next() % (i + 1));
			struct etcd_kv t = keys[i];

			keys[i] = keys[j];
			keys[j] = t;
		}
		for (size_t i = 0; i < n; i++) {
			if (keys[i].create_revision < low) {
				low = keys[i].create_revision;
				low_i = i;
			}
		}
		assert_ptr_equal(election_leader(keys, n), &keys[low_i]);

		view = keys[me].create_revision + (int64_t)(rng_next() % 5);
		r = election_role(keys, n, view, keys[me].key, keys[me].key_len,
		    keys[me].create_revision);
		if (me == low_i) {
			assert_int_equal(r, ROLE_LEADER);
			leaders++;
		} else {
			assert_int_equal(r, ROLE_FOLLOWER);
			followers++;
		}
		/* One revision behind our own: never a member. */
		r = election_role(keys, n, keys[me].create_revision - 1, keys[me].key,
		    keys[me].key_len, keys[me].create_revision);
		assert_int_equal(r, ROLE_NOT_MEMBER);
	}
	/* Both branches were exercised. */
	assert_true(leaders > 20);
	assert_true(followers > 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leader_empty),
		cmocka_unit_test(test_leader_single),
		cmocka_unit_test(test_leader_lowest_in_any_order),
		cmocka_unit_test(test_leader_large_revisions),
		cmocka_unit_test(test_role_leader_and_followers_any_order),
		cmocka_unit_test(test_role_sole_candidate),
		cmocka_unit_test(test_role_view_not_caught_up),
		cmocka_unit_test(test_role_key_absent),
		cmocka_unit_test(test_role_revision_mismatch),
		cmocka_unit_test(test_role_no_revision),
		cmocka_unit_test(test_role_key_compared_by_bytes_and_length),
		cmocka_unit_test(test_role_randomized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
