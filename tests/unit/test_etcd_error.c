/*
 * test_etcd_error.c - etcd's error answers (etcd_error.c) across gateway
 * generations: every error the daemon acts on, in the body etcd 3.4 sends
 * and in the one etcd 3.5+ sends through grpc-gateway v2, must parse to
 * the same code and mean the same thing to every test on an error
 * (etcdproto_auth.c, and lease.c's and candidacy.c's "not found").
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

#include "etcdproto.h"
#include "util.h"

struct answer {
	long status;
	const char *body;
};

/* What the daemon reads from an error, one bit per test it makes. */
enum meaning {
	RETRY = 1 << 0,          /* etcd_error_retryable: try another member */
	RELOGIN = 1 << 1,        /* etcd_error_token_refused: log in again */
	DENIED = 1 << 2,         /* etcd_error_permission_denied */
	BAD_LOGIN = 1 << 3,      /* etcd_error_bad_credentials (of a login) */
	AUTH_OFF = 1 << 4,       /* etcd_error_auth_disabled (of a login) */
	LEASE_GONE = 1 << 5,     /* NotFound, as lease.c and candidacy.c test it */
};

static unsigned meaning_of(const struct etcd_error *e)
{
	return (etcd_error_retryable(e) ? RETRY : 0) |
	    (etcd_error_token_refused(e) ? RELOGIN : 0) |
	    (etcd_error_permission_denied(e) ? DENIED : 0) |
	    (etcd_error_bad_credentials(e) ? BAD_LOGIN : 0) |
	    (etcd_error_auth_disabled(e) ? AUTH_OFF : 0) |
	    (e->grpc_code == 5 ? LEASE_GONE : 0);
}

/* One failure as each generation reports it. */
struct failure {
	const char *what;
	struct answer v34, v35;
	int grpc_code;
	const char *message;
	unsigned meaning;
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
	  5, "etcdserver: requested lease not found", LEASE_GONE },
	{ "revision compacted",
	  { 400, V34_FLAT("etcdserver: mvcc: required revision has been compacted", 11) },
	  { 400, V35_FLAT("etcdserver: mvcc: required revision has been compacted", 11) },
	  11, "etcdserver: mvcc: required revision has been compacted",
	  0 },
	{ "no leader (unary)",
	  { 503, V34_FLAT("etcdserver: no leader", 14) },
	  { 503, V35_FLAT_DETAILS("etcdserver: no leader", 14) },
	  14, "etcdserver: no leader", RETRY },
	{ "no leader (keepalive or watch stream, before it started)",
	  { 503, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}" },
	  { 503, "{\"error\":{\"code\":14, \"message\":\"etcdserver: no leader\", "
	    "\"details\":[]}}" },
	  14, "etcdserver: no leader", RETRY },
	{ "no leader (mid-stream: the status was already 200)",
	  { 200, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}" },
	  { 200, "{\"error\":{\"code\":14,\"message\":\"etcdserver: no leader\","
	    "\"details\":[]}}" },
	  14, "etcdserver: no leader", RETRY },
	{ "request timed out",
	  { 503, V34_FLAT("etcdserver: request timed out", 14) },
	  { 503, V35_FLAT("etcdserver: request timed out", 14) },
	  14, "etcdserver: request timed out", RETRY },
	{ "write while quorum is lost",
	  { 500, V34_FLAT("context deadline exceeded", 2) },
	  { 500, V35_FLAT("context deadline exceeded", 2) },
	  2, "context deadline exceeded", RETRY },
	{ "deadline exceeded as its own code",
	  { 504, V34_FLAT("context deadline exceeded", 4) },
	  { 504, V35_FLAT("context deadline exceeded", 4) },
	  4, "context deadline exceeded", RETRY },
	{ "member shutting down mid-stream",
	  { 200, "{\"error\":{\"grpc_code\":1,\"http_code\":408,"
	    "\"message\":\"grpc: the client connection is closing\","
	    "\"http_status\":\"Request Timeout\"}}" },
	  { 200, "{\"error\":{\"code\":1, \"message\":\"grpc: the client connection "
	    "is closing\", \"details\":[]}}" },
	  1, "grpc: the client connection is closing", RETRY },
	{ "gateway cannot reach its own gRPC server",
	  { 503, V34_FLAT("connection closed", 14) },
	  { 503, V35_FLAT("connection closed", 14) },
	  14, "connection closed", RETRY },
	{ "permission denied",
	  { 403, V34_FLAT("etcdserver: permission denied", 7) },
	  { 403, V35_FLAT("etcdserver: permission denied", 7) },
	  7, "etcdserver: permission denied", DENIED },
	{ "invalid auth token (bad, expired, from before a restart)",
	  { 401, V34_FLAT("etcdserver: invalid auth token", 16) },
	  { 401, V35_FLAT("etcdserver: invalid auth token", 16) },
	  16, "etcdserver: invalid auth token", RELOGIN },
	{ "wrong password",
	  { 400, V34_FLAT("etcdserver: authentication failed, invalid user ID or password", 3) },
	  { 400, V35_FLAT("etcdserver: authentication failed, invalid user ID or password", 3) },
	  3, "etcdserver: authentication failed, invalid user ID or password",
	  BAD_LOGIN },
	{ "no token on a request that needs one",
	  { 400, V34_FLAT("etcdserver: user name is empty", 3) },
	  { 400, V35_FLAT("etcdserver: user name is empty", 3) },
	  3, "etcdserver: user name is empty", RELOGIN | BAD_LOGIN },
	{ "authentication is not enabled (3.4: 412, 3.5+: 400)",
	  { 412, V34_FLAT("etcdserver: authentication is not enabled", 9) },
	  { 400, V35_FLAT("etcdserver: authentication is not enabled", 9) },
	  9, "etcdserver: authentication is not enabled", AUTH_OFF },
	{ "message larger than the server takes",
	  { 429, V34_FLAT("grpc: received message larger than max (2200011 vs. 2097152)", 8) },
	  { 429, V35_FLAT("grpc: received message larger than max (2200011 vs. 2097152)", 8) },
	  8, "grpc: received message larger than max (2200011 vs. 2097152)", 0 },
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
	unsigned meaning = meaning_of(&e);

	if (e.http_status == a->status && e.grpc_code == f->grpc_code &&
	    strcmp(e.message, f->message) == 0 && meaning == f->meaning)
		return 0;
	print_error("%s, %s body %s:\n  got status %ld code %d message '%s' meaning %#x,"
	    " want code %d message '%s' meaning %#x\n", f->what, generation, a->body,
	    e.http_status, e.grpc_code, e.message, meaning, f->grpc_code, f->message,
	    f->meaning);
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

static unsigned meaning(long status, const char *body)
{
	struct answer a = { status, body };
	struct etcd_error e = parse(&a);

	return meaning_of(&e);
}

/* The presence of an "error" field decides nothing. */
static void test_error_field_decides_nothing(void **state)
{
	(void)state;
	/* The same code with and without a duplicate "error" string. */
	assert_int_equal(meaning(404, "{\"code\":5,\"message\":\"m\"}"), LEASE_GONE);
	assert_int_equal(meaning(404, "{\"error\":\"m\",\"code\":5,\"message\":\"m\"}"),
	    LEASE_GONE);
	assert_int_equal(meaning(401, "{\"code\":16,\"message\":\"m\"}"), RELOGIN);
	assert_int_equal(meaning(401, "{\"error\":\"m\",\"code\":16,\"message\":\"m\"}"),
	    RELOGIN);
	/* An "error" string with no code says nothing beyond its status. */
	assert_int_equal(meaning(404, "{\"error\":\"etcdserver: requested lease not found\"}"), 0);
	assert_int_equal(meaning(200, "{\"error\":\"etcdserver: no leader\"}"), 0);
	/* The code, not the message, says what happened. */
	assert_int_equal(meaning(404, "{\"code\":7,\"message\":"
	    "\"etcdserver: requested lease not found\"}"), DENIED);
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
	assert_int_equal(meaning(401, ""), RELOGIN);
	assert_int_equal(meaning(403, "Forbidden"), DENIED);
	assert_int_equal(meaning(503, "{\"health\":\"false\"}"), RETRY);
	assert_int_equal(meaning(502, "Bad Gateway"), RETRY);
	assert_int_equal(meaning(500, "{}"), RETRY);
	assert_int_equal(meaning(504, ""), RETRY);
	/* A 404 without a code is a path the gateway does not serve, not a
	 * lease etcd does not know. */
	assert_int_equal(meaning(404, "Not Found"), 0);
	assert_int_equal(meaning(404, "404 page not found\n"), 0);
	assert_int_equal(meaning(405, "Method Not Allowed"), 0);
	assert_int_equal(meaning(200, "{\"error\":{\"message\":\"x\"}}"), 0);
}

/* A server error is worth another member whatever its code. */
static void test_server_errors_are_retried_whatever_the_code(void **state)
{
	(void)state;
	assert_int_equal(meaning(500, "{\"code\":13,\"message\":\"internal\"}"), RETRY);
	assert_int_equal(meaning(501, "{\"code\":12,\"message\":\"unimplemented\"}"), RETRY);
	assert_int_equal(meaning(409, "{\"code\":10,\"message\":\"aborted\"}"), 0);
	assert_int_equal(meaning(412, V34_FLAT("etcdserver: lease already exists", 9)),
	    AUTH_OFF);
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
		cmocka_unit_test(test_server_errors_are_retried_whatever_the_code),
		cmocka_unit_test(test_stream_chunk_code_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
