/*
 * test_etcd_error.c - etcd's error answers (etcd_error.c) across gateway
 * generations: every error the daemon acts on, in the body etcd 3.4 sends
 * and in the one etcd 3.5+ sends through grpc-gateway v2, must parse to
 * the same code and mean the same thing.
 *
 * The 3.4 bodies are the ones recorded in PROTOCOL.md. The 3.5+ bodies
 * were recorded against Debian's etcd 3.5.30 (`make check` runs the suite
 * against it) and have etcd 3.6's shape: {"code","message"} with no
 * "error" field, and protojson's stray spaces; on streams the status
 * object sits under "error" with "code" in place of 3.4's "grpc_code".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "etcd_error.h"
#include "util.h"

struct answer {
	long status;
	const char *body;
};

/* One failure as each generation reports it. */
struct failure {
	const char *what;
	struct answer v34, v35;
	int grpc_code;
	const char *message;
	enum etcd_error_kind kind;
};

#define V34_FLAT(msg, code) \
	"{\"error\":\"" msg "\",\"message\":\"" msg "\",\"code\":" #code "}"
#define V35_FLAT(msg, code) "{\"code\":" #code ", \"message\":\"" msg "\"}"
#define V35_FLAT_DETAILS(msg, code) \
	"{\"code\":" #code ",\"message\":\"" msg "\",\"details\":[]}"

static const struct failure failures[] = {
	{ "lease not found (revoke, put or txn with a gone lease)",
	  { 404, V34_FLAT("etcdserver: requested lease not found", 5) },
	  { 404, V35_FLAT("etcdserver: requested lease not found", 5) },
	  5, "etcdserver: requested lease not found", ETCD_ERR_NOT_FOUND },
	{ "revision compacted",
	  { 400, V34_FLAT("etcdserver: mvcc: required revision has been compacted", 11) },
	  { 400, V35_FLAT("etcdserver: mvcc: required revision has been compacted", 11) },
	  11, "etcdserver: mvcc: required revision has been compacted",
	  ETCD_ERR_OUT_OF_RANGE },
	{ "no leader (unary)",
	  { 503, V34_FLAT("etcdserver: no leader", 14) },
	  { 503, V35_FLAT_DETAILS("etcdserver: no leader", 14) },
	  14, "etcdserver: no leader", ETCD_ERR_UNAVAILABLE },
	{ "no leader (keepalive or watch stream, before it started)",
	  { 503, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}" },
	  { 503, "{\"error\":{\"code\":14, \"message\":\"etcdserver: no leader\", "
	    "\"details\":[]}}" },
	  14, "etcdserver: no leader", ETCD_ERR_UNAVAILABLE },
	{ "no leader (mid-stream: the status was already 200)",
	  { 200, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}" },
	  { 200, "{\"error\":{\"code\":14,\"message\":\"etcdserver: no leader\","
	    "\"details\":[]}}" },
	  14, "etcdserver: no leader", ETCD_ERR_UNAVAILABLE },
	{ "request timed out",
	  { 503, V34_FLAT("etcdserver: request timed out", 14) },
	  { 503, V35_FLAT("etcdserver: request timed out", 14) },
	  14, "etcdserver: request timed out", ETCD_ERR_UNAVAILABLE },
	{ "write while quorum is lost",
	  { 500, V34_FLAT("context deadline exceeded", 2) },
	  { 500, V35_FLAT("context deadline exceeded", 2) },
	  2, "context deadline exceeded", ETCD_ERR_UNAVAILABLE },
	{ "deadline exceeded as its own code",
	  { 504, V34_FLAT("context deadline exceeded", 4) },
	  { 504, V35_FLAT("context deadline exceeded", 4) },
	  4, "context deadline exceeded", ETCD_ERR_UNAVAILABLE },
	{ "member shutting down mid-stream",
	  { 200, "{\"error\":{\"grpc_code\":1,\"http_code\":408,"
	    "\"message\":\"grpc: the client connection is closing\","
	    "\"http_status\":\"Request Timeout\"}}" },
	  { 200, "{\"error\":{\"code\":1, \"message\":\"grpc: the client connection "
	    "is closing\", \"details\":[]}}" },
	  1, "grpc: the client connection is closing", ETCD_ERR_UNAVAILABLE },
	{ "gateway cannot reach its own gRPC server",
	  { 503, V34_FLAT("connection closed", 14) },
	  { 503, V35_FLAT("connection closed", 14) },
	  14, "connection closed", ETCD_ERR_UNAVAILABLE },
	{ "permission denied",
	  { 403, V34_FLAT("etcdserver: permission denied", 7) },
	  { 403, V35_FLAT("etcdserver: permission denied", 7) },
	  7, "etcdserver: permission denied", ETCD_ERR_PERMISSION_DENIED },
	{ "invalid auth token (bad, expired, from before a restart)",
	  { 401, V34_FLAT("etcdserver: invalid auth token", 16) },
	  { 401, V35_FLAT("etcdserver: invalid auth token", 16) },
	  16, "etcdserver: invalid auth token", ETCD_ERR_UNAUTHENTICATED },
	{ "wrong password",
	  { 400, V34_FLAT("etcdserver: authentication failed, invalid user ID or password", 3) },
	  { 400, V35_FLAT("etcdserver: authentication failed, invalid user ID or password", 3) },
	  3, "etcdserver: authentication failed, invalid user ID or password",
	  ETCD_ERR_INVALID_ARGUMENT },
	{ "no token on a request that needs one",
	  { 400, V34_FLAT("etcdserver: user name is empty", 3) },
	  { 400, V35_FLAT("etcdserver: user name is empty", 3) },
	  3, "etcdserver: user name is empty", ETCD_ERR_INVALID_ARGUMENT },
	{ "authentication is not enabled (3.4: 412, 3.5+: 400)",
	  { 412, V34_FLAT("etcdserver: authentication is not enabled", 9) },
	  { 400, V35_FLAT("etcdserver: authentication is not enabled", 9) },
	  9, "etcdserver: authentication is not enabled", ETCD_ERR_OTHER },
	{ "message larger than the server takes",
	  { 429, V34_FLAT("grpc: received message larger than max (2200011 vs. 2097152)", 8) },
	  { 429, V35_FLAT("grpc: received message larger than max (2200011 vs. 2097152)", 8) },
	  8, "grpc: received message larger than max (2200011 vs. 2097152)",
	  ETCD_ERR_OTHER },
};

static struct etcd_error parse(const struct answer *a)
{
	struct etcd_error e;

	memset(&e, 0x5a, sizeof(e));
	etcd_parse_error(a->status, a->body, strlen(a->body), &e);
	assert_non_null(memchr(e.message, '\0', sizeof(e.message)));
	return e;
}

static int check_answer(const struct failure *f, const struct answer *a,
    const char *generation)
{
	struct etcd_error e = parse(a);
	enum etcd_error_kind kind = etcd_error_kind(&e);

	if (e.http_status == a->status && e.grpc_code == f->grpc_code &&
	    strcmp(e.message, f->message) == 0 && kind == f->kind)
		return 0;
	print_error("%s, %s body %s:\n  got status %ld code %d message '%s' kind %d,"
	    " want code %d message '%s' kind %d\n", f->what, generation, a->body,
	    e.http_status, e.grpc_code, e.message, (int)kind, f->grpc_code, f->message,
	    (int)f->kind);
	return 1;
}

static void test_every_acted_on_error_means_the_same_in_34_and_35(void **state)
{
	int wrong = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(failures); i++) {
		wrong += check_answer(&failures[i], &failures[i].v34, "3.4");
		wrong += check_answer(&failures[i], &failures[i].v35, "3.5+");
	}
	assert_int_equal(wrong, 0);
}

static enum etcd_error_kind kind_of(long status, const char *body)
{
	struct answer a = { status, body };
	struct etcd_error e = parse(&a);

	return etcd_error_kind(&e);
}

/* The presence of an "error" field decides nothing. */
static void test_error_field_decides_nothing(void **state)
{
	(void)state;
	/* The same code with and without a duplicate "error" string. */
	assert_int_equal(kind_of(404, "{\"code\":5,\"message\":\"m\"}"), ETCD_ERR_NOT_FOUND);
	assert_int_equal(kind_of(404, "{\"error\":\"m\",\"code\":5,\"message\":\"m\"}"),
	    ETCD_ERR_NOT_FOUND);
	/* An "error" string alone, with no code, is no error kind by itself. */
	assert_int_equal(kind_of(404, "{\"error\":\"etcdserver: requested lease not found\"}"),
	    ETCD_ERR_OTHER);
	/* The code wins over what the message says. */
	assert_int_equal(kind_of(404, "{\"code\":14,\"message\":"
	    "\"etcdserver: requested lease not found\"}"), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(503, "{\"code\":5,\"message\":\"etcdserver: no leader\"}"),
	    ETCD_ERR_NOT_FOUND);
	/* The message of a status-only body is still read for the log. */
	{
		struct answer a = { 401, "{\"code\":16,\"message\":\"etcdserver: invalid auth token\"}" };
		struct etcd_error e = parse(&a);

		assert_int_equal(e.grpc_code, 16);
		assert_string_equal(e.message, "etcdserver: invalid auth token");
	}
}

/* No gRPC code at all (text bodies, empty bodies): the status decides. */
static void test_status_decides_without_a_code(void **state)
{
	(void)state;
	assert_int_equal(kind_of(401, ""), ETCD_ERR_UNAUTHENTICATED);
	assert_int_equal(kind_of(403, "Forbidden"), ETCD_ERR_PERMISSION_DENIED);
	assert_int_equal(kind_of(503, "{\"health\":\"false\"}"), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(502, "Bad Gateway"), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(500, "{}"), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(504, ""), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(499, ""), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(408, ""), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(400, "CommonName of client sending a request against "
	    "gateway will be ignored and not used as expected"), ETCD_ERR_INVALID_ARGUMENT);
	/* A 404 without a code is a path the gateway does not serve, not a
	 * lease etcd does not know. */
	assert_int_equal(kind_of(404, "Not Found"), ETCD_ERR_OTHER);
	assert_int_equal(kind_of(404, "404 page not found\n"), ETCD_ERR_OTHER);
	assert_int_equal(kind_of(405, "Method Not Allowed"), ETCD_ERR_OTHER);
	assert_int_equal(kind_of(200, "{\"error\":{\"message\":\"x\"}}"), ETCD_ERR_OTHER);
}

/* A code we do not act on: a server error is still worth another member,
 * anything else is a refusal. */
static void test_other_codes_fall_back_on_the_status(void **state)
{
	(void)state;
	assert_int_equal(kind_of(500, "{\"code\":13,\"message\":\"internal\"}"),
	    ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(501, "{\"code\":12,\"message\":\"unimplemented\"}"),
	    ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(409, "{\"code\":10,\"message\":\"aborted\"}"), ETCD_ERR_OTHER);
	assert_int_equal(kind_of(412, V34_FLAT("etcdserver: lease already exists", 9)),
	    ETCD_ERR_OTHER);
	/* Code 0 (OK) in an error answer is no code we act on either. */
	assert_int_equal(kind_of(503, "{\"code\":0,\"message\":\"\"}"), ETCD_ERR_UNAVAILABLE);
	assert_int_equal(kind_of(400, "{\"code\":0,\"message\":\"\"}"), ETCD_ERR_OTHER);
}

/* 3.4's stream chunk names the code grpc_code: when it is there and
 * unusable, a "code" beside it is not taken instead. */
static void test_stream_chunk_code_fields(void **state)
{
	struct answer a = { 200, "{\"error\":{\"grpc_code\":\"x\",\"code\":14}}" };
	struct answer b = { 200, "{\"error\":{\"code\":\"14\",\"message\":\"m\"}}" };
	struct answer c = { 200, "{\"error\":{\"code\":1e300,\"message\":\"m\"}}" };

	(void)state;
	assert_int_equal(parse(&a).grpc_code, -1);
	assert_int_equal(parse(&b).grpc_code, 14);
	assert_int_equal(parse(&c).grpc_code, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_acted_on_error_means_the_same_in_34_and_35),
		cmocka_unit_test(test_error_field_decides_nothing),
		cmocka_unit_test(test_status_decides_without_a_code),
		cmocka_unit_test(test_other_codes_fall_back_on_the_status),
		cmocka_unit_test(test_stream_chunk_code_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
