/*
 * test_etcd_auth.c - unit tests for logging in to etcd: the auth helpers
 * of etcdproto.c (the token of an answer, a watch's cancel reason, what an
 * error means) and the token rules of etcd_auth.c (when to log in, once
 * more after a refused token, how fast after wrong credentials).
 *
 * Error bodies are the ones etcd 3.4.23 returned through its gateway,
 * with TLS, client certificates and authentication on; the 3.6 shape
 * {"code","message","details"} is that of etcd's grpc-gateway v2.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd_auth.h"
#include "etcdproto.h"
#include "util.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	if (j == NULL) {
		print_error("bad fixture (%s): %s\n", e.text, text);
		fail();
	}
	return j;
}

static struct etcd_error error_of(long status, const char *body)
{
	struct etcd_error e;

	etcd_parse_error(status, body, strlen(body), &e);
	return e;
}

#define BAD_LOGIN "{\"error\":\"etcdserver: authentication failed, invalid " \
	"user ID or password\",\"message\":\"etcdserver: authentication failed, " \
	"invalid user ID or password\",\"code\":3}"
#define AUTH_OFF "{\"error\":\"etcdserver: authentication is not enabled\"," \
	"\"message\":\"etcdserver: authentication is not enabled\",\"code\":9}"
#define BAD_TOKEN "{\"error\":\"etcdserver: invalid auth token\",\"message\":" \
	"\"etcdserver: invalid auth token\",\"code\":16}"
#define OLD_REVISION "{\"error\":\"etcdserver: revision of auth store is old\"," \
	"\"message\":\"etcdserver: revision of auth store is old\",\"code\":3}"
#define NO_USER "{\"error\":\"etcdserver: user name is empty\",\"message\":" \
	"\"etcdserver: user name is empty\",\"code\":3}"
#define DENIED "{\"error\":\"etcdserver: permission denied\",\"message\":" \
	"\"etcdserver: permission denied\",\"code\":7}"
#define TOKEN_BODY "{\"header\":{\"cluster_id\":\"5577419299952351277\"," \
	"\"member_id\":\"8813575065840868852\",\"revision\":\"1\",\"raft_term\":" \
	"\"2\"},\"token\":\"tCHNxzGdCDajxrcv.74\"}"

/* ---- etcdproto.c: the token ---- */

static void test_parse_authenticate(void **state)
{
	static const char *const bad[] = {
		"{}", "[]", "\"tok\"", "{\"token\":\"\"}", "{\"token\":5}",
		"{\"token\":null}", "{\"token\":\"a b\"}", "{\"token\":\"a\\nb\"}",
		"{\"token\":\"a\\r\\nX-Evil: 1\"}", "{\"token\":\"a\\u0000b\"}",
		"{\"token\":\"caf\\u00e9\"}", "{\"token\":\"a\\tb\"}",
	};
	char *token, *big, *text;
	json_t *j;

	(void)state;
	j = J(TOKEN_BODY);
	assert_int_equal(etcd_parse_authenticate(j, &token), 0);
	assert_string_equal(token, "tCHNxzGdCDajxrcv.74");
	free(token);
	json_decref(j);
	/* A JWT: dots, dashes and underscores. */
	j = J("{\"token\":\"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3OTZ9.Ey-t_h1p\"}");
	assert_int_equal(etcd_parse_authenticate(j, &token), 0);
	assert_string_equal(token, "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3OTZ9.Ey-t_h1p");
	free(token);
	json_decref(j);

	/* A token goes into a header: nothing that could break the line. */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = J(bad[i]);
		token = (char *)1;
		assert_int_equal(etcd_parse_authenticate(j, &token), -EPROTO);
		assert_null(token);
		json_decref(j);
	}
	assert_int_equal(etcd_parse_authenticate(NULL, &token), -EPROTO);

	big = xcalloc(ETCD_MAX_TOKEN + 2, 1);
	memset(big, 'a', ETCD_MAX_TOKEN);
	text = xcalloc(ETCD_MAX_TOKEN + 32, 1);
	snprintf(text, ETCD_MAX_TOKEN + 32, "{\"token\":\"%s\"}", big);
	j = J(text);
	assert_int_equal(etcd_parse_authenticate(j, &token), 0);
	assert_int_equal(strlen(token), ETCD_MAX_TOKEN);
	free(token);
	json_decref(j);
	big[ETCD_MAX_TOKEN] = 'a';
	snprintf(text, ETCD_MAX_TOKEN + 32, "{\"token\":\"%s\"}", big);
	j = J(text);
	assert_int_equal(etcd_parse_authenticate(j, &token), -EPROTO);
	json_decref(j);
	free(big);
	free(text);
}

/* ---- etcdproto.c: a watch's cancel reason ---- */

static void test_parse_cancel_reason(void **state)
{
	struct etcd_error e;

	(void)state;
	etcd_parse_cancel_reason("rpc error: code = PermissionDenied desc = "
	    "etcdserver: permission denied", &e);
	assert_int_equal(e.grpc_code, 7);
	assert_int_equal(e.http_status, 0);
	assert_string_equal(e.message, "etcdserver: permission denied");
	assert_true(etcd_error_permission_denied(&e));
	assert_false(etcd_error_token_refused(&e));

	etcd_parse_cancel_reason("rpc error: code = Unauthenticated desc = "
	    "etcdserver: invalid auth token", &e);
	assert_int_equal(e.grpc_code, 16);
	assert_true(etcd_error_token_refused(&e));

	etcd_parse_cancel_reason("rpc error: code = InvalidArgument desc = "
	    "etcdserver: revision of auth store is old", &e);
	assert_int_equal(e.grpc_code, 3);
	assert_string_equal(e.message, "etcdserver: revision of auth store is old");
	assert_true(etcd_error_token_refused(&e));

	/* Anything else is the message, with no code. */
	etcd_parse_cancel_reason("mvcc: required revision has been compacted", &e);
	assert_int_equal(e.grpc_code, -1);
	assert_string_equal(e.message, "mvcc: required revision has been compacted");
	etcd_parse_cancel_reason("rpc error: code = Bogus desc = x", &e);
	assert_int_equal(e.grpc_code, -1);
	assert_string_equal(e.message, "rpc error: code = Bogus desc = x");
	etcd_parse_cancel_reason("rpc error: code = Unauthenticated", &e);
	assert_int_equal(e.grpc_code, -1);
	etcd_parse_cancel_reason("", &e);
	assert_int_equal(e.grpc_code, -1);
	assert_string_equal(e.message, "");
	etcd_parse_cancel_reason(NULL, &e);
	assert_int_equal(e.grpc_code, -1);
}

/* ---- etcdproto.c: what an error means ---- */

static void test_error_meanings(void **state)
{
	struct etcd_error e;

	(void)state;
	e = error_of(400, BAD_LOGIN);
	assert_true(etcd_error_bad_credentials(&e));
	assert_false(etcd_error_auth_disabled(&e));
	assert_false(etcd_error_token_refused(&e));
	assert_false(etcd_error_retryable(&e));

	e = error_of(412, AUTH_OFF);
	assert_true(etcd_error_auth_disabled(&e));
	assert_false(etcd_error_bad_credentials(&e));

	/* Every way a token goes bad, and none sent where one is needed. */
	e = error_of(401, BAD_TOKEN);
	assert_true(etcd_error_token_refused(&e));
	assert_false(etcd_error_permission_denied(&e));
	e = error_of(400, OLD_REVISION);
	assert_true(etcd_error_token_refused(&e));
	e = error_of(400, NO_USER);
	assert_true(etcd_error_token_refused(&e));
	/* etcd 3.6: no "error" field at all. */
	e = error_of(401, "{\"code\":16,\"message\":\"etcdserver: invalid auth "
	    "token\",\"details\":[]}");
	assert_true(etcd_error_token_refused(&e));
	e = error_of(400, "{\"code\":3,\"message\":\"etcdserver: revision of "
	    "auth store is old\",\"details\":[]}");
	assert_true(etcd_error_token_refused(&e));
	/* A 401 the gateway's proxy wrote by itself. */
	e = error_of(401, "Unauthorized");
	assert_true(etcd_error_token_refused(&e));
	/* Other InvalidArguments are not about the token. */
	e = error_of(400, "{\"error\":\"etcdserver: key is not provided\","
	    "\"message\":\"etcdserver: key is not provided\",\"code\":3}");
	assert_false(etcd_error_token_refused(&e));

	e = error_of(403, DENIED);
	assert_true(etcd_error_permission_denied(&e));
	assert_false(etcd_error_token_refused(&e));
	assert_false(etcd_error_retryable(&e));
	e = error_of(403, "{\"code\":7,\"message\":\"etcdserver: permission "
	    "denied\",\"details\":[]}");
	assert_true(etcd_error_permission_denied(&e));
	e = error_of(403, "Forbidden");
	assert_true(etcd_error_permission_denied(&e));
	/* A code says more than a status. */
	e = error_of(403, BAD_TOKEN);
	assert_false(etcd_error_permission_denied(&e));

	e = error_of(503, "{\"error\":\"etcdserver: no leader\",\"code\":14}");
	assert_true(etcd_error_retryable(&e));
	e = error_of(500, "{\"error\":\"context deadline exceeded\",\"code\":2}");
	assert_true(etcd_error_retryable(&e));
	e = error_of(404, "{\"error\":\"etcdserver: requested lease not "
	    "found\",\"code\":5}");
	assert_false(etcd_error_retryable(&e));

	e = error_of(400, "CommonName of client sending a request against "
	    "gateway will be ignored and not used as expected");
	assert_true(etcd_error_common_name_refused(&e));
	e = error_of(400, BAD_LOGIN);
	assert_false(etcd_error_common_name_refused(&e));
}

/* ---- etcd_auth.c ---- */

static enum etcd_login_result login_answers(struct etcd_auth *a, uint64_t now,
    long status, const char *body, uint64_t *retry_in)
{
	struct etcd_error e = { 0 };
	enum etcd_login_result r;
	json_t *j = NULL;
	int err = 0;

	if (status >= 200 && status <= 299)
		j = J(body);
	else if (status > 0) {
		e = error_of(status, body);
		err = -EREMOTEIO;
	} else {
		err = -ECONNREFUSED;
	}
	r = etcd_auth_login_done(a, now, err, &e, j, retry_in);
	json_decref(j);
	return r;
}

static void test_auth_without_user_sends_at_once(void **state)
{
	struct etcd_auth a;

	(void)state;
	etcd_auth_init(&a, false);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_SEND);
	assert_null(etcd_auth_token(&a));
	/* Refusals of a token never sent change nothing. */
	etcd_auth_token_refused(&a, a.generation);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_SEND);
	etcd_auth_clear(&a);
}

static void test_auth_login_then_send(void **state)
{
	struct etcd_auth a;
	uint64_t retry_in;
	unsigned gen;

	(void)state;
	etcd_auth_init(&a, true);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	/* One login at a time: the others wait for it. */
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_WAIT);
	assert_int_equal(etcd_auth_next(&a, 5), ETCD_AUTH_WAIT);
	assert_int_equal(login_answers(&a, 10, 200, TOKEN_BODY, &retry_in),
	    ETCD_LOGIN_OK);
	assert_int_equal(retry_in, 0);
	assert_int_equal(etcd_auth_next(&a, 10), ETCD_AUTH_SEND);
	assert_string_equal(etcd_auth_token(&a), "tCHNxzGdCDajxrcv.74");
	gen = a.generation;

	/* The token is refused: forgotten, and the next request logs in. */
	etcd_auth_token_refused(&a, gen);
	assert_null(etcd_auth_token(&a));
	assert_int_equal(etcd_auth_next(&a, 20), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, 30, 200,
	    "{\"token\":\"second.75\"}", &retry_in), ETCD_LOGIN_OK);
	assert_string_equal(etcd_auth_token(&a), "second.75");
	/* A late refusal of the first token leaves the second alone. */
	etcd_auth_token_refused(&a, gen);
	assert_string_equal(etcd_auth_token(&a), "second.75");
	assert_int_equal(etcd_auth_next(&a, 30), ETCD_AUTH_SEND);
	etcd_auth_clear(&a);
}

static void test_auth_bad_credentials_back_off(void **state)
{
	struct etcd_auth a;
	uint64_t retry_in, now = 1000, prev = 0;

	(void)state;
	etcd_auth_init(&a, true);
	for (int i = 0; i < 12; i++) {
		uint64_t min, max;

		assert_int_equal(etcd_auth_next(&a, now), ETCD_AUTH_LOGIN);
		assert_int_equal(login_answers(&a, now, 400, BAD_LOGIN, &retry_in),
		    ETCD_LOGIN_BAD_CREDENTIALS);
		/* 100 ms doubling, +-25%, capped at BACKOFF_MAX_MS. */
		max = (uint64_t)BACKOFF_MIN_MS << i;
		if (max > BACKOFF_MAX_MS)
			max = BACKOFF_MAX_MS;
		min = max * 3 / 4;
		max = max * 5 / 4;
		assert_in_range(retry_in, min, max);
		if (i > 0 && i < 5)
			assert_true(retry_in > prev / 2);
		prev = retry_in;
		/* Until then requests fail without a login. */
		assert_int_equal(etcd_auth_next(&a, now), ETCD_AUTH_PAUSED);
		assert_int_equal(etcd_auth_next(&a, now + retry_in - 1),
		    ETCD_AUTH_PAUSED);
		now += retry_in;
	}
	assert_true(retry_in <= BACKOFF_MAX_MS * 5 / 4);

	/* A new password is tried at once, and a success ends the pause. */
	etcd_auth_reset(&a);
	assert_int_equal(etcd_auth_next(&a, now), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, now, 200, TOKEN_BODY, &retry_in),
	    ETCD_LOGIN_OK);
	assert_int_equal(a.bad_logins, 0);
	etcd_auth_token_refused(&a, a.generation);
	assert_int_equal(etcd_auth_next(&a, now), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, now, 400, BAD_LOGIN, &retry_in),
	    ETCD_LOGIN_BAD_CREDENTIALS);
	assert_in_range(retry_in, BACKOFF_MIN_MS * 3 / 4, BACKOFF_MIN_MS * 5 / 4);
	etcd_auth_clear(&a);
}

static void test_auth_unanswered_login_does_not_pause(void **state)
{
	struct etcd_auth a;
	uint64_t retry_in;

	(void)state;
	etcd_auth_init(&a, true);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, 0, 0, NULL, &retry_in),
	    ETCD_LOGIN_FAILED);
	/* The callers back off; the next of them logs in again. */
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, 0, 503, "{\"error\":\"etcdserver: "
	    "no leader\",\"code\":14}", &retry_in), ETCD_LOGIN_FAILED);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	/* An answer without a usable token is no token. */
	assert_int_equal(login_answers(&a, 0, 200, "{\"token\":\"a b\"}",
	    &retry_in), ETCD_LOGIN_FAILED);
	assert_null(etcd_auth_token(&a));
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, 0, 200, "{\"header\":{}}", &retry_in),
	    ETCD_LOGIN_FAILED);
	etcd_auth_clear(&a);
}

static void test_auth_turned_off_then_on(void **state)
{
	struct etcd_auth a;
	uint64_t retry_in;

	(void)state;
	etcd_auth_init(&a, true);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, 0, 412, AUTH_OFF, &retry_in),
	    ETCD_LOGIN_AUTH_OFF);
	/* Requests go without a token, as etcd's Go client does. */
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_SEND);
	assert_null(etcd_auth_token(&a));
	/* etcd turns authentication on: "user name is empty". */
	etcd_auth_token_refused(&a, a.generation);
	assert_int_equal(etcd_auth_next(&a, 0), ETCD_AUTH_LOGIN);
	assert_int_equal(login_answers(&a, 0, 200, TOKEN_BODY, &retry_in),
	    ETCD_LOGIN_OK);
	assert_non_null(etcd_auth_token(&a));
	etcd_auth_clear(&a);
}

static void test_auth_explain(void **state)
{
	struct etcd_auth with_user, without;
	struct etcd_error e;

	(void)state;
	etcd_auth_init(&with_user, true);
	etcd_auth_init(&without, false);

	e = error_of(403, DENIED);
	etcd_auth_explain(&with_user, "elect", &e);
	assert_string_equal(e.message, "etcdserver: permission denied (user 'elect')");
	assert_int_equal(e.grpc_code, 7);
	e = error_of(403, DENIED);
	etcd_auth_explain(&without, "", &e);
	assert_string_equal(e.message, "etcdserver: permission denied (user 'none')");

	e = error_of(400, NO_USER);
	etcd_auth_explain(&without, "", &e);
	assert_string_equal(e.message, "etcdserver: user name is empty (etcd "
	    "wants a user: set etcd.username and etcd.password_file)");
	e = error_of(400, NO_USER);
	etcd_auth_explain(&with_user, "elect", &e);
	assert_string_equal(e.message, "etcdserver: user name is empty");

	e = error_of(400, "CommonName of client sending a request against "
	    "gateway will be ignored and not used as expected");
	etcd_auth_explain(&with_user, "elect", &e);
	assert_non_null(strstr(e.message, "etcd.cert_file needs a certificate "
	    "without one"));

	e = error_of(404, "{\"error\":\"etcdserver: requested lease not "
	    "found\",\"code\":5}");
	etcd_auth_explain(&with_user, "elect", &e);
	assert_string_equal(e.message, "etcdserver: requested lease not found");
	etcd_auth_clear(&with_user);
	etcd_auth_clear(&without);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_authenticate),
		cmocka_unit_test(test_parse_cancel_reason),
		cmocka_unit_test(test_error_meanings),
		cmocka_unit_test(test_auth_without_user_sends_at_once),
		cmocka_unit_test(test_auth_login_then_send),
		cmocka_unit_test(test_auth_bad_credentials_back_off),
		cmocka_unit_test(test_auth_unanswered_login_does_not_pause),
		cmocka_unit_test(test_auth_turned_off_then_on),
		cmocka_unit_test(test_auth_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
