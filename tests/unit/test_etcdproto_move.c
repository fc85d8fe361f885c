/*
 * test_etcdproto_move.c - the txn that moves a candidate key
 * (etcdproto_move.c): its body, byte for byte in meaning, and the reading
 * of its answer, in the gateway's shapes (verified against etcd 3.4: a
 * failed compare leaves "succeeded" out).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "etcdproto_move.h"

static json_t *J(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_move_body(void **state)
{
	const struct etcd_guard guards[] = {
		{ "p/a", 3, 7 }, { "p/b", 3, 0 }, { "p/l", 3, 5 }, { "p/t\0x", 5, 9 },
	};
	json_t *got = etcd_req_move_key(guards, 4, "p/b", 3, "node-a", 6,
	    INT64_C(4111120377320206087), "p/a", 3);
	json_t *want = J(
	    "{\"compare\":["
	    "{\"key\":\"cC9h\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"7\"},"
	    "{\"key\":\"cC9i\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"},"
	    "{\"key\":\"cC9s\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"5\"},"
	    "{\"key\":\"cC90AHg=\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"9\"}],"
	    /* the put first: a watch shows the new key before the delete */
	    "\"success\":[{\"request_put\":{\"key\":\"cC9i\",\"value\":\"bm9kZS1h\","
	    "\"lease\":\"4111120377320206087\"}},"
	    "{\"request_delete_range\":{\"key\":\"cC9h\"}}]}");

	assert_non_null(got);
	if (!json_equal(got, want)) {
		char *text = json_dumps(got, JSON_COMPACT);

		fail_msg("move body: %s", text);
	}
	/* no failure branch: a failed compare changes nothing */
	assert_null(json_object_get(got, "failure"));
	json_decref(got);
	json_decref(want);
	assert_null(etcd_req_move_key(guards, ETCD_MOVE_MAX_GUARDS + 1, "p/b", 3,
	    "n", 1, 1, "p/a", 3));
}

static void test_txn_answers(void **state)
{
	static const struct {
		const char *body;
		int err;
		bool succeeded;
		int64_t revision;
	} cases[] = {
		{ "{\"header\":{\"revision\":\"3\"},\"succeeded\":true,\"responses\":"
		  "[{\"response_put\":{\"header\":{\"revision\":\"3\"}}},"
		  "{\"response_delete_range\":{\"header\":{\"revision\":\"3\"},"
		  "\"deleted\":\"1\"}}]}", 0, true, 3 },
		/* a failed compare, as etcd 3.4 answers it */
		{ "{\"header\":{\"revision\":\"3\",\"raft_term\":\"2\"}}", 0, false, 3 },
		{ "{\"header\":{\"revision\":\"3\"},\"succeeded\":false}", 0, false, 3 },
		{ "{\"header\":{\"revision\":\"3\"},\"succeeded\":\"yes\"}", -EPROTO,
		  false, 0 },
		{ "{\"succeeded\":true}", -EPROTO, false, 0 },
		{ "{\"header\":{\"revision\":\"0\"},\"succeeded\":true}", -EPROTO,
		  false, 0 },
		{ "[]", -EPROTO, false, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *body = J(cases[i].body);
		bool succeeded = true;
		int64_t rev = -1;
		int r = etcd_parse_txn(body, &succeeded, &rev);

		assert_int_equal(r, cases[i].err);
		assert_int_equal(succeeded, cases[i].succeeded);
		if (r == 0)
			assert_int_equal(rev, cases[i].revision);
		json_decref(body);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_move_body),
		cmocka_unit_test(test_txn_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
