/*
 * test_etcdproto_keepalive.c - unit tests for etcdproto_keepalive.c: the
 * keepalive request written as text, and the answer read by the scan or,
 * for any other form, by the tree parser. Each case checks what the
 * lease code gets: the result, the TTL and the header's revision.
 *
 * The canonical answer is the one recorded against etcd 3.4.23 in
 * PROTOCOL.md (lease 7587869411410839808).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "etcdproto.h"

#define LEASE 7587869411410839808LL
#define LEASE_TEXT "7587869411410839808"
#define HDR_FIELDS "\"cluster_id\":\"15118495548433857066\"," \
	"\"member_id\":\"13668033151171901709\",\"revision\":\"42\"," \
	"\"raft_term\":\"2\""
#define CANONICAL "{\"result\":{\"header\":{" HDR_FIELDS "},\"ID\":\"" \
	LEASE_TEXT "\",\"TTL\":\"10\"}}"

struct answer {
	int r;
	int64_t ttl, revision;
};

static struct answer read_text(const char *text, int64_t lease)
{
	struct answer a = { 0, -1, -1 };

	a.r = etcd_parse_keepalive_answer(NULL, text, text ? strlen(text) : 0,
	    lease, &a.ttl, &a.revision);
	return a;
}

/* The same answer through a tree, as a call without the text path gets it. */
static struct answer read_tree(const char *text, int64_t lease)
{
	struct answer a = { 0, -1, -1 };
	json_t *body = etcd_json_loadb(text, strlen(text), NULL);

	assert_non_null(body);
	a.r = etcd_parse_keepalive_answer(body, NULL, 0, lease, &a.ttl, &a.revision);
	json_decref(body);
	return a;
}

static void assert_renewed(struct answer a, int64_t ttl, int64_t revision)
{
	assert_int_equal(a.r, 0);
	assert_int_equal(a.ttl, ttl);
	assert_int_equal(a.revision, revision);
}

static void test_request_text(void **state)
{
	char body[ETCD_KEEPALIVE_REQ_MAX];
	json_t *tree, *want;

	(void)state;
	etcd_req_keepalive_text(LEASE, body);
	assert_string_equal(body, "{\"ID\":\"" LEASE_TEXT "\"}");
	/* The same request the tree builder makes, at the widest id. */
	etcd_req_keepalive_text(INT64_MAX, body);
	tree = etcd_json_loadb(body, strlen(body), NULL);
	want = etcd_req_lease_id(INT64_MAX);
	assert_non_null(tree);
	assert_true(json_equal(tree, want));
	json_decref(tree);
	json_decref(want);
}

static void test_canonical_answer(void **state)
{
	(void)state;
	assert_renewed(read_text(CANONICAL, LEASE), 10, 42);
	assert_renewed(read_text(CANONICAL "\n", LEASE), 10, 42);
	assert_renewed(read_tree(CANONICAL, LEASE), 10, 42);
}

/* Forms the scan does not take still parse, through the tree. */
static void test_other_forms_fall_back(void **state)
{
	(void)state;
	/* spaces after the separators */
	assert_renewed(read_text("{\"result\": {\"header\": {\"revision\": \"7\"},"
	    " \"ID\": \"" LEASE_TEXT "\", \"TTL\": \"9\"}}", LEASE), 9, 7);
	/* numbers not in quotes */
	assert_renewed(read_text("{\"result\":{\"header\":{\"revision\":7},"
	    "\"ID\":" LEASE_TEXT ",\"TTL\":9}}", LEASE), 9, 7);
	/* members in another order */
	assert_renewed(read_text("{\"result\":{\"TTL\":\"9\",\"ID\":\"" LEASE_TEXT
	    "\",\"header\":{\"revision\":\"7\"}}}", LEASE), 9, 7);
	/* no header: no revision, but a renewal */
	assert_renewed(read_text("{\"result\":{\"ID\":\"" LEASE_TEXT
	    "\",\"TTL\":\"9\"}}", LEASE), 9, 0);
	/* an empty header */
	assert_renewed(read_text("{\"result\":{\"header\":{},\"ID\":\"" LEASE_TEXT
	    "\",\"TTL\":\"9\"}}", LEASE), 9, 0);
	/* a revision written twice: the tree keeps the last */
	assert_renewed(read_text("{\"result\":{\"header\":{\"revision\":\"7\","
	    "\"revision\":\"8\"},\"ID\":\"" LEASE_TEXT "\",\"TTL\":\"9\"}}", LEASE),
	    9, 8);
	/* a header field the scan does not know */
	assert_renewed(read_text("{\"result\":{\"header\":{\"Revision\":\"x\","
	    "\"revision\":\"7\"},\"ID\":\"" LEASE_TEXT "\",\"TTL\":\"9\"}}", LEASE),
	    9, 7);
}

/* etcd leaves TTL out (or says -1) for a lease it no longer has. */
static void test_lease_gone(void **state)
{
	(void)state;
	assert_renewed(read_text("{\"result\":{\"header\":{" HDR_FIELDS "},"
	    "\"ID\":\"" LEASE_TEXT "\"}}", LEASE), 0, 42);
	assert_renewed(read_text("{\"result\":{\"header\":{" HDR_FIELDS "},"
	    "\"ID\":\"" LEASE_TEXT "\",\"TTL\":\"-1\"}}", LEASE), 0, 42);
}

static void test_answer_about_another_lease(void **state)
{
	(void)state;
	assert_int_equal(read_text(CANONICAL, LEASE + 1).r, -EPROTO);
	assert_int_equal(read_tree(CANONICAL, LEASE + 1).r, -EPROTO);
	/* through the tree too */
	assert_int_equal(read_text("{\"result\": {\"ID\": \"5\", \"TTL\": \"9\"}}",
	    6).r, -EPROTO);
}

static void test_numbers_out_of_range(void **state)
{
	(void)state;
	/* INT64_MAX itself is a lease id */
	assert_renewed(read_text("{\"result\":{\"header\":{},\"ID\":"
	    "\"9223372036854775807\",\"TTL\":\"9\"}}", INT64_MAX), 9, 0);
	/* one more is not, in either parser */
	assert_int_equal(read_text("{\"result\":{\"header\":{},\"ID\":"
	    "\"9223372036854775808\",\"TTL\":\"9\"}}", INT64_MAX).r, -EPROTO);
	assert_int_equal(read_text("{\"result\":{\"header\":{},\"ID\":\""
	    LEASE_TEXT "\",\"TTL\":\"99999999999999999999\"}}", LEASE).r, -EPROTO);
	/* a revision out of range costs the revision, not the renewal */
	assert_renewed(read_text("{\"result\":{\"header\":{\"revision\":"
	    "\"99999999999999999999\"},\"ID\":\"" LEASE_TEXT "\",\"TTL\":\"9\"}}",
	    LEASE), 9, 0);
	/* cluster_id is a uint64: 20 digits are fine */
	assert_renewed(read_text("{\"result\":{\"header\":{\"cluster_id\":"
	    "\"18446744073709551615\",\"revision\":\"3\"},\"ID\":\"" LEASE_TEXT
	    "\",\"TTL\":\"9\"}}", LEASE), 9, 3);
}

static void test_not_an_answer(void **state)
{
	(void)state;
	assert_int_equal(read_text(NULL, LEASE).r, -EPROTO);
	assert_int_equal(read_text("", LEASE).r, -EPROTO);
	/* something after the object */
	assert_int_equal(read_text(CANONICAL "x", LEASE).r, -EPROTO);
	assert_int_equal(read_text(CANONICAL CANONICAL, LEASE).r, -EPROTO);
	/* cut short */
	assert_int_equal(read_text("{\"result\":{\"header\":{},\"ID\":\""
	    LEASE_TEXT "\",\"TTL\":\"9\"}", LEASE).r, -EPROTO);
	assert_int_equal(read_text("{\"result\":\"no\"}", LEASE).r, -EPROTO);
	assert_int_equal(read_text("{\"result\":{\"header\":{},\"ID\":\""
	    LEASE_TEXT "\",\"TTL\":\"9s\"}}", LEASE).r, -EPROTO);
}

/* A NUL inside is not the answer that precedes it. */
static void test_embedded_nul(void **state)
{
	static const char text[] = "{\"result\":{\"header\":{},\"ID\":\"5\","
	    "\"TTL\":\"9\"}}\0x";
	int64_t ttl, revision;

	(void)state;
	assert_int_equal(etcd_parse_keepalive_answer(NULL, text, sizeof(text) - 1,
	    5, &ttl, &revision), -EPROTO);
	assert_int_equal(etcd_parse_keepalive_answer(NULL, text, sizeof(text) - 3,
	    5, &ttl, &revision), 0);
	assert_int_equal(ttl, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_text),
		cmocka_unit_test(test_canonical_answer),
		cmocka_unit_test(test_other_forms_fall_back),
		cmocka_unit_test(test_lease_gone),
		cmocka_unit_test(test_answer_about_another_lease),
		cmocka_unit_test(test_numbers_out_of_range),
		cmocka_unit_test(test_not_an_answer),
		cmocka_unit_test(test_embedded_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
