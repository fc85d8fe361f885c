/*
 * test_etcdproto.c - unit tests for etcdproto.c (request bodies, response
 * parsers, the NDJSON framer of the watch stream) and for the protocol
 * helpers of util.c (base64, int64 parsing, prefix range end).
 *
 * Response fixtures are the bodies recorded against etcd 3.4.23 in
 * PROTOCOL.md. Where PROTOCOL.md trimmed a body with "…", the missing
 * fields are filled in with the values of the same cluster (cluster_id
 * 15118495548433857066, member_id 13668033151171901709); every such
 * place is marked "filled".
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

#include "etcdproto.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* helpers                                                              */

#define HDR(rev) "\"header\":{\"cluster_id\":\"15118495548433857066\"," \
	"\"member_id\":\"13668033151171901709\",\"revision\":\"" rev "\"," \
	"\"raft_term\":\"2\"}"

/* Parse a fixture; any JSON value is allowed at the top level. */
static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

	if (j == NULL) {
		print_error("bad fixture (%s): %s\n", e.text, text);
		fail();
	}
	return j;
}

static void assert_json_eq(json_t *got, const char *expected)
{
	json_t *want = J(expected);

	assert_non_null(got);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);

		print_error("JSON differs\n got:  %s\n want: %s\n", g, w);
		free(g);
		free(w);
		json_decref(want);
		fail();
	}
	json_decref(want);
}

static void check_rc(int got, int want, const char *what)
{
	if (got != want) {
		print_error("%s\n  returned %d, expected %d\n", what, got, want);
		fail();
	}
}

/* Deterministic PRNG (xorshift64*), so failures reproduce. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static size_t rng_range(size_t lo, size_t hi)   /* inclusive */
{
	return lo + (size_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* ------------------------------------------------------------------ */
/* util: base64                                                         */

static void test_b64_known_vectors(void **state)
{
	static const struct { const char *plain; const char *enc; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
		/* PROTOCOL.md section 2 */
		{ "/election/leader", "L2VsZWN0aW9uL2xlYWRlcg==" },
		{ "node-A", "bm9kZS1B" },
		/* PROTOCOL.md section 9 */
		{ "myelection/", "bXllbGVjdGlvbi8=" },
		{ "myelection0", "bXllbGVjdGlvbjA=" },
		{ "/w/", "L3cv" }, { "/w0", "L3cw" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char *enc = b64_encode(v[i].plain, strlen(v[i].plain));
		char *dec = NULL;
		long n;

		assert_string_equal(enc, v[i].enc);
		n = b64_decode(v[i].enc, &dec);
		assert_int_equal(n, (long)strlen(v[i].plain));
		assert_non_null(dec);
		assert_string_equal(dec, v[i].plain);
		free(enc);
		free(dec);
	}
}

static void test_b64_binary_bytes(void **state)
{
	static const char raw[] = { 'a', '\0', (char)0xff };
	char *enc = b64_encode(raw, sizeof(raw)), *dec = NULL;
	long n;

	(void)state;
	assert_string_equal(enc, "YQD/");
	n = b64_decode(enc, &dec);
	assert_int_equal(n, 3);
	assert_memory_equal(dec, raw, 3);
	assert_int_equal(dec[3], '\0');
	free(enc);
	free(dec);
	/* "+" and "/" both appear: 0xfb 0xff 0xbf -> "+/+/" */
	enc = b64_encode("\xfb\xff\xbf", 3);
	assert_string_equal(enc, "+/+/");
	free(enc);
}

static int b64_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static void test_b64_round_trip_all_lengths(void **state)
{
	unsigned char buf[64];

	(void)state;
	rng_seed(0xb64b64);
	for (size_t len = 0; len <= 64; len++) {
		for (int round = 0; round < 40; round++) {
			char *enc, *dec = NULL;
			size_t elen, pad, i;
			long n;

			for (i = 0; i < len; i++) {
				/* Plenty of NULs and 0xff bytes. */
				uint64_t r = rng_next();
				buf[i] = (r & 7) == 0 ? 0 : (r & 7) == 1 ? 0xff :
				    (unsigned char)(r >> 8);
			}
			enc = b64_encode(buf, len);
			elen = strlen(enc);
			assert_int_equal(elen, 4 * ((len + 2) / 3));
			pad = (3 - len % 3) % 3;
			for (i = 0; i < elen; i++) {
				if (i >= elen - pad)
					assert_int_equal(enc[i], '=');
				else
					assert_true(b64_char_ok(enc[i]));
			}
			n = b64_decode(enc, &dec);
			assert_int_equal(n, (long)len);
			assert_non_null(dec);
			if (len)
				assert_memory_equal(dec, buf, len);
			assert_int_equal(dec[len], '\0');
			free(enc);
			free(dec);
		}
	}
}

static void test_b64_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg", "Zm8", "Z", "Zm9vYg", "L2VsZWN0aW9uL2xlYWRlcg",  /* unpadded */
		"-_-_", "L3cv-w==", "L3cv_w==",                         /* URL-safe */
		"foo", "node-A",                  /* raw strings, not base64 */
		"====", "Z===", "=Zg=", "Zg=A", "Zg==Zg==", "Zm8=Zm9v",
		"Zm9v\n", " Zm9v", "Zm9v ", "Zm 9", "Zm9!", "Zm9v====",
		"\xc3\xa9xx",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *out = NULL;
		long n = b64_decode(bad[i], &out);

		if (n != -EINVAL) {
			print_error("b64_decode(\"%s\") = %ld, expected -EINVAL\n",
			    bad[i], n);
			fail();
		}
		free(out);
	}
}

/* ------------------------------------------------------------------ */
/* util: parse_int64, prefix_range_end                                 */

static void test_parse_int64(void **state)
{
	static const struct { const char *s; int64_t v; } good[] = {
		{ "0", 0 }, { "1", 1 }, { "-1", -1 },
		{ "4111120249850145286", INT64_C(4111120249850145286) },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
	};
	static const char *const bad[] = {
		"", "abc", "12abc", "1.5", "5 ", "0x10", "1e3",
		"9223372036854775808", "-9223372036854775809",
		"99999999999999999999",
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		v = 12345;
		assert_int_equal(parse_int64(good[i].s, &v), 0);
		assert_true(v == good[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_int64(bad[i], &v) >= 0) {
			print_error("parse_int64(\"%s\") accepted\n", bad[i]);
			fail();
		}
	}
	assert_true(parse_int64(NULL, &v) < 0);
}

static void check_range_end(const char *prefix, size_t len,
    const char *want, size_t want_len)
{
	char out[64];
	size_t n;

	memset(out, 'Z', sizeof(out));
	n = prefix_range_end(prefix, len, out);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, want_len);
}

static void test_prefix_range_end(void **state)
{
	(void)state;
	check_range_end("kingsmoot/svc/", 14, "kingsmoot/svc0", 14);
	check_range_end("/pfx/", 5, "/pfx0", 5);
	check_range_end("myelection/", 11, "myelection0", 11);
	check_range_end("a", 1, "b", 1);
	check_range_end("a\xfe", 2, "a\xff", 2);
	/* Trailing 0xff bytes are dropped before the increment. */
	check_range_end("a\xff", 2, "b", 1);
	check_range_end("ab\xff\xff\xff", 5, "ac", 2);
	check_range_end("\x01\xff", 2, "\x02", 1);
	/* All 0xff (and empty): "\0", meaning "to the end of the keyspace". */
	check_range_end("\xff", 1, "\0", 1);
	check_range_end("\xff\xff\xff", 3, "\0", 1);
	check_range_end("", 0, "\0", 1);
	/* A NUL inside the prefix is an ordinary byte. */
	check_range_end("a\0b", 3, "a\0c", 3);
}

/* ------------------------------------------------------------------ */
/* etcd_json_int64                                                      */

static void test_json_int64(void **state)
{
	json_t *o = J("{\"s\":\"4111120249850145286\",\"n\":12345,\"neg\":\"-7\","
	    "\"max\":\"9223372036854775807\",\"min\":\"-9223372036854775808\","
	    "\"nul\":null,\"big\":\"9223372036854775808\",\"garbage\":\"12a\","
	    "\"empty\":\"\",\"real\":1.5,\"bool\":true,\"obj\":{\"a\":\"1\"},"
	    "\"arr\":[\"1\"],\"space\":\"5 \",\"hex\":\"0x1f\"}");
	static const char *const bad[] = {
		"big", "garbage", "empty", "real", "bool", "obj", "arr", "space", "hex",
	};
	int64_t v;

	(void)state;
	v = 1;
	assert_int_equal(etcd_json_int64(o, "s", &v), 0);
	assert_true(v == INT64_C(4111120249850145286));
	v = 1;
	assert_int_equal(etcd_json_int64(o, "n", &v), 0);
	assert_true(v == 12345);
	assert_int_equal(etcd_json_int64(o, "neg", &v), 0);
	assert_true(v == -7);
	assert_int_equal(etcd_json_int64(o, "max", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(etcd_json_int64(o, "min", &v), 0);
	assert_true(v == INT64_MIN);
	/* Absent and null are the proto3 zero value. */
	v = 99;
	assert_int_equal(etcd_json_int64(o, "absent", &v), 0);
	assert_true(v == 0);
	v = 99;
	assert_int_equal(etcd_json_int64(o, "nul", &v), 0);
	assert_true(v == 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = etcd_json_int64(o, bad[i], &v);

		if (r != -EPROTO) {
			print_error("field \"%s\": returned %d\n", bad[i], r);
			fail();
		}
	}
	json_decref(o);

	/* A 19-digit lease ID given as a JSON number must stay exact too. */
	o = J("{\"ID\":4111120249850145286}");
	assert_int_equal(etcd_json_int64(o, "ID", &v), 0);
	assert_true(v == INT64_C(4111120249850145286));
	json_decref(o);
}

/* ------------------------------------------------------------------ */
/* request builders                                                     */

static void test_req_grant_and_lease_id(void **state)
{
	json_t *j;
	char *text;

	(void)state;
	j = etcd_req_grant(10);
	assert_json_eq(j, "{\"TTL\":\"10\"}");
	/* The exact name matters: lower-case "ttl" is silently ignored. */
	assert_null(json_object_get(j, "ttl"));
	json_decref(j);

	j = etcd_req_lease_id(INT64_C(4111120249850145286));
	assert_json_eq(j, "{\"ID\":\"4111120249850145286\"}");
	text = json_dumps(j, JSON_COMPACT);
	assert_string_equal(text, "{\"ID\":\"4111120249850145286\"}");
	free(text);
	json_decref(j);

	j = etcd_req_lease_id(INT64_MAX);
	assert_json_eq(j, "{\"ID\":\"9223372036854775807\"}");
	json_decref(j);
}

static void test_req_create_if_absent(void **state)
{
	static const char key[] = "/election/leader";
	json_t *j;

	(void)state;
	/* PROTOCOL.md section 2, the request that was sent. */
	j = etcd_req_create_if_absent(key, strlen(key), "node-A", 6,
	    INT64_C(4111120249850145300));
	assert_json_eq(j,
	    "{\"compare\":[{\"key\":\"L2VsZWN0aW9uL2xlYWRlcg==\",\"target\":\"CREATE\","
	    "\"result\":\"EQUAL\",\"create_revision\":\"0\"}],"
	    "\"success\":[{\"request_put\":{\"key\":\"L2VsZWN0aW9uL2xlYWRlcg==\","
	    "\"value\":\"bm9kZS1B\",\"lease\":\"4111120249850145300\"}}],"
	    "\"failure\":[{\"request_range\":{\"key\":\"L2VsZWN0aW9uL2xlYWRlcg==\"}}]}");
	json_decref(j);

	/* Binary key bytes (NUL, 0xff) and an empty value. */
	j = etcd_req_create_if_absent("a\0\xff", 3, "", 0, 1);
	assert_json_eq(j,
	    "{\"compare\":[{\"key\":\"YQD/\",\"target\":\"CREATE\","
	    "\"result\":\"EQUAL\",\"create_revision\":\"0\"}],"
	    "\"success\":[{\"request_put\":{\"key\":\"YQD/\",\"value\":\"\","
	    "\"lease\":\"1\"}}],"
	    "\"failure\":[{\"request_range\":{\"key\":\"YQD/\"}}]}");
	json_decref(j);
}

static void test_req_range_prefix(void **state)
{
	json_t *j, *limit;

	(void)state;
	j = etcd_req_range_prefix("kingsmoot/svc/", 14);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "key")),
	    "a2luZ3Ntb290L3N2Yy8=");                  /* kingsmoot/svc/ */
	assert_string_equal(json_string_value(json_object_get(j, "range_end")),
	    "a2luZ3Ntb290L3N2YzA=");                  /* kingsmoot/svc0 */
	assert_string_equal(json_string_value(json_object_get(j, "sort_order")),
	    "ASCEND");
	assert_string_equal(json_string_value(json_object_get(j, "sort_target")),
	    "CREATE");
	/* Linearizable: a stale member must not seed the view. */
	assert_null(json_object_get(j, "serializable"));
	assert_null(json_object_get(j, "keys_only"));
	assert_null(json_object_get(j, "count_only"));
	/* A limit, if any, must still return at least ETCD_MAX_KVS keys. */
	limit = json_object_get(j, "limit");
	if (limit != NULL) {
		int64_t l;

		assert_int_equal(etcd_json_int64(j, "limit", &l), 0);
		assert_true(l >= ETCD_MAX_KVS);
	}
	json_decref(j);

	/* PROTOCOL.md section 9's Leader() query uses the same key pair. */
	j = etcd_req_range_prefix("myelection/", 11);
	assert_string_equal(json_string_value(json_object_get(j, "key")),
	    "bXllbGVjdGlvbi8=");
	assert_string_equal(json_string_value(json_object_get(j, "range_end")),
	    "bXllbGVjdGlvbjA=");
	json_decref(j);

	/* Trailing 0xff, and all 0xff (to the end: "\0" = "AA=="). */
	j = etcd_req_range_prefix("a\xff", 2);
	assert_string_equal(json_string_value(json_object_get(j, "key")), "Yf8=");
	assert_string_equal(json_string_value(json_object_get(j, "range_end")), "Yg==");
	json_decref(j);
	j = etcd_req_range_prefix("\xff\xff", 2);
	assert_string_equal(json_string_value(json_object_get(j, "key")), "//8=");
	assert_string_equal(json_string_value(json_object_get(j, "range_end")), "AA==");
	json_decref(j);
}

static void test_req_delete_if_created(void **state)
{
	static const char key[] = "kingsmoot/akem/2ac6a215f807616c";
	json_t *j;
	char *k = b64_encode(key, strlen(key));
	char want[512];

	(void)state;
	snprintf(want, sizeof(want),
	    "{\"compare\":[{\"key\":\"%s\",\"target\":\"CREATE\",\"result\":\"EQUAL\","
	    "\"create_revision\":\"1331\"}],"
	    "\"success\":[{\"request_delete_range\":{\"key\":\"%s\"}}]}", k, k);
	j = etcd_req_delete_if_created(key, strlen(key), 1331);
	assert_json_eq(j, want);
	json_decref(j);
	free(k);
}

static void test_req_watch_prefix(void **state)
{
	json_t *j;

	(void)state;
	/* PROTOCOL.md section 4: prefix /w/ -> key L3cv, range_end L3cw. */
	j = etcd_req_watch_prefix("/w/", 3, 15);
	assert_json_eq(j, "{\"create_request\":{\"key\":\"L3cv\",\"range_end\":\"L3cw\","
	    "\"start_revision\":\"15\",\"progress_notify\":true}}");
	json_decref(j);

	j = etcd_req_watch_prefix("kingsmoot/svc/", 14, INT64_C(9000000000000));
	assert_json_eq(j, "{\"create_request\":{\"key\":\"a2luZ3Ntb290L3N2Yy8=\","
	    "\"range_end\":\"a2luZ3Ntb290L3N2YzA=\",\"start_revision\":\"9000000000000\","
	    "\"progress_notify\":true}}");
	json_decref(j);
}

static void test_req_authenticate(void **state)
{
	json_t *j;

	(void)state;
	j = etcd_req_authenticate("elect", "electpw");
	assert_json_eq(j, "{\"name\":\"elect\",\"password\":\"electpw\"}");
	json_decref(j);
	/* Quotes and backslashes survive as JSON, not as text surgery. */
	j = etcd_req_authenticate("a\"b", "p\\w\"{}");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "a\"b");
	assert_string_equal(json_string_value(json_object_get(j, "password")), "p\\w\"{}");
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* etcd_parse_header_revision, etcd_parse_grant                         */

static void test_parse_header_revision(void **state)
{
	json_t *j;
	int64_t rev;

	(void)state;
	j = J("{" HDR("1331") "}");
	assert_int_equal(etcd_parse_header_revision(j, &rev), 0);
	assert_true(rev == 1331);
	json_decref(j);

	j = J("{\"header\":{\"cluster_id\":\"1\",\"raft_term\":\"2\"}}");
	rev = 5;
	assert_int_equal(etcd_parse_header_revision(j, &rev), 0);
	assert_true(rev == 0);
	json_decref(j);

	{
		static const char *const bad[] = {
			"{\"header\":[]}", "{\"header\":\"x\"}", "{\"header\":1}",
			"{\"header\":{\"revision\":\"abc\"}}",
			"{\"header\":{\"revision\":{}}}", "[]", "null", "\"x\"", "7",
		};
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			j = J(bad[i]);
			check_rc(etcd_parse_header_revision(j, &rev), -EPROTO, bad[i]);
			json_decref(j);
		}
	}
}

static void test_parse_grant(void **state)
{
	static const char *const bad[] = {
		"{" HDR("1") ",\"TTL\":\"10\"}",                     /* ID missing */
		"{" HDR("1") ",\"ID\":\"4111120249850145286\"}",     /* TTL missing */
		"{\"ID\":\"0\",\"TTL\":\"10\"}",
		"{\"ID\":\"12\",\"TTL\":\"0\"}",
		"{\"ID\":\"12\",\"TTL\":\"-5\"}",
		"{\"ID\":\"12\",\"TTL\":{\"v\":10}}",
		"{\"ID\":{},\"TTL\":\"10\"}",
		"{\"ID\":\"abc\",\"TTL\":\"10\"}",
		"{\"ID\":[1],\"TTL\":\"10\"}",
		"{\"ID\":\"12\",\"TTL\":true}",
		"{\"ID\":\"12\",\"TTL\":10.5}",
		"{\"ID\":\"12\",\"ttl\":\"10\"}",
		"{\"ID\":\"99999999999999999999\",\"TTL\":\"10\"}",
		"{\"result\":{\"ID\":\"12\",\"TTL\":\"10\"}}",
		("{\"error\":\"etcdserver: too large lease TTL\","
		"\"message\":\"etcdserver: too large lease TTL\",\"code\":11}"),
		"[]", "[{\"ID\":\"12\",\"TTL\":\"10\"}]", "null", "\"ID\"", "10", "true",
		"{}",
	};
	json_t *j;
	int64_t id, ttl;

	(void)state;
	/* PROTOCOL.md 1.1, verbatim. */
	j = J("{\"header\":{\"cluster_id\":\"15118495548433857066\","
	    "\"member_id\":\"13668033151171901709\",\"revision\":\"1\","
	    "\"raft_term\":\"2\"},\"ID\":\"4111120249850145286\",\"TTL\":\"10\"}");
	assert_int_equal(etcd_parse_grant(j, &id, &ttl), 0);
	assert_true(id == INT64_C(4111120249850145286));
	assert_true(ttl == 10);
	json_decref(j);

	/* IDs and TTLs given as numbers are accepted too. */
	j = J("{\"ID\":12345,\"TTL\":2}");
	assert_int_equal(etcd_parse_grant(j, &id, &ttl), 0);
	assert_true(id == 12345);
	assert_true(ttl == 2);
	json_decref(j);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = J(bad[i]);
		check_rc(etcd_parse_grant(j, &id, &ttl), -EPROTO, bad[i]);
		json_decref(j);
	}
	check_rc(etcd_parse_grant(NULL, &id, &ttl), -EPROTO, "NULL body");
}

/* ------------------------------------------------------------------ */
/* etcd_parse_keepalive                                                 */

static void test_parse_keepalive(void **state)
{
	static const char *const bad[] = {
		/* not wrapped in result (a grant-shaped body) */
		"{" HDR("1") ",\"ID\":\"12345\",\"TTL\":\"10\"}",
		"{\"result\":[]}", "{\"result\":\"x\"}", "{\"result\":null}",
		"{\"result\":10}",
		"{\"result\":{\"ID\":\"12345\",\"TTL\":{}}}",
		"{\"result\":{\"ID\":\"12345\",\"TTL\":[\"10\"]}}",
		"{\"result\":{\"ID\":\"12345\",\"TTL\":\"ten\"}}",
		"{\"result\":{\"ID\":\"12345\",\"TTL\":true}}",
		/* the stream error of a keepalive without quorum */
		"{\"error\":{\"grpc_code\":14,\"http_code\":503,"
		"\"message\":\"etcdserver: no leader\","
		"\"http_status\":\"Service Unavailable\"}}",
		"{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":2}",
		"[]", "null", "\"result\"", "1", "{}",
	};
	json_t *j;
	int64_t ttl;

	(void)state;
	/* PROTOCOL.md 1.2, verbatim. */
	j = J("{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
	    "\"member_id\":\"13668033151171901709\",\"revision\":\"1\","
	    "\"raft_term\":\"2\"},\"ID\":\"12345\",\"TTL\":\"10\"}}");
	ttl = -1;
	assert_int_equal(etcd_parse_keepalive(j, &ttl), 0);
	assert_true(ttl == 10);
	json_decref(j);

	/* Unknown or expired lease: 200 with TTL absent -> 0 (lease gone). */
	j = J("{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
	    "\"member_id\":\"13668033151171901709\",\"revision\":\"21\","
	    "\"raft_term\":\"5\"},\"ID\":\"4111120249886889988\"}}");
	ttl = 77;
	assert_int_equal(etcd_parse_keepalive(j, &ttl), 0);
	assert_true(ttl == 0);
	json_decref(j);

	/* A negative TTL (timetolive's "-1") also means gone: 0. */
	j = J("{\"result\":{\"ID\":\"999\",\"TTL\":\"-1\"}}");
	ttl = 77;
	assert_int_equal(etcd_parse_keepalive(j, &ttl), 0);
	assert_true(ttl == 0);
	json_decref(j);

	/* TTL as a number. */
	j = J("{\"result\":{\"ID\":\"1001\",\"TTL\":300}}");
	assert_int_equal(etcd_parse_keepalive(j, &ttl), 0);
	assert_true(ttl == 300);
	json_decref(j);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = J(bad[i]);
		check_rc(etcd_parse_keepalive(j, &ttl), -EPROTO, bad[i]);
		json_decref(j);
	}
	check_rc(etcd_parse_keepalive(NULL, &ttl), -EPROTO, "NULL body");
}

/* An answer for another lease (or none named) is no renewal of ours. */
static void test_parse_keepalive_for_names_our_lease(void **state)
{
	int64_t ttl = -1;
	json_t *j;

	(void)state;
	j = J("{\"result\":{\"ID\":\"12345\",\"TTL\":\"10\"}}");
	assert_int_equal(etcd_parse_keepalive_for(j, 12345, &ttl), 0);
	assert_true(ttl == 10);
	check_rc(etcd_parse_keepalive_for(j, 12346, &ttl), -EPROTO, "other lease");
	json_decref(j);
	j = J("{\"result\":{\"TTL\":\"10\"}}");
	check_rc(etcd_parse_keepalive_for(j, 12345, &ttl), -EPROTO, "no ID");
	json_decref(j);
	/* Gone, and named: the lease is lost, not a malformed answer. */
	j = J("{\"result\":{\"ID\":\"12345\"}}");
	assert_int_equal(etcd_parse_keepalive_for(j, 12345, &ttl), 0);
	assert_true(ttl == 0);
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* etcd_parse_create                                                    */

static const char create_ok[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
    "\"13668033151171901709\",\"revision\":\"4\",\"raft_term\":\"2\"},"
    "\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":"
    "{\"revision\":\"4\"}}}]}";

static const char create_exists[] =
    "{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":"
    "\"13668033151171901709\",\"revision\":\"4\",\"raft_term\":\"2\"},"
    "\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"4\"},"
    "\"kvs\":[{\"key\":\"L2VsZWN0aW9uL2xlYWRlcg==\",\"create_revision\":\"4\","
    "\"mod_revision\":\"4\",\"version\":\"1\",\"value\":\"bm9kZS1B\","
    "\"lease\":\"4111120249850145300\"}],\"count\":\"1\"}}]}";

static void test_parse_create_fixtures(void **state)
{
	json_t *j;
	bool created;
	int64_t rev, lease;

	(void)state;
	j = J(create_ok);
	created = false;
	rev = lease = -1;
	assert_int_equal(etcd_parse_create(j, &created, &rev, &lease), 0);
	assert_true(created);
	assert_true(rev == 4);
	json_decref(j);

	/* succeeded absent: the failure branch's range gives our key. */
	j = J(create_exists);
	created = true;
	rev = lease = -1;
	assert_int_equal(etcd_parse_create(j, &created, &rev, &lease), 0);
	assert_false(created);
	assert_true(rev == 4);
	assert_true(lease == INT64_C(4111120249850145300));
	json_decref(j);

	/* The same with an explicit "succeeded":false, a later header
	 * revision (rev must come from the kv, not the header) and no lease. */
	j = J("{" HDR("90") ",\"succeeded\":false,\"responses\":[{\"response_range\":"
	    "{\"header\":{\"revision\":\"90\"},\"kvs\":[{\"key\":\"YQ==\","
	    "\"create_revision\":\"17\",\"mod_revision\":\"17\",\"version\":\"1\"}]}}]}");
	created = true;
	rev = lease = -1;
	assert_int_equal(etcd_parse_create(j, &created, &rev, &lease), 0);
	assert_false(created);
	assert_true(rev == 17);
	assert_true(lease == 0);
	json_decref(j);
}

static void test_parse_create_malformed(void **state)
{
	static const char *const bad[] = {
		/* succeeded of the wrong type */
		"{" HDR("4") ",\"succeeded\":\"true\"}",
		"{" HDR("4") ",\"succeeded\":1}",
		"{" HDR("4") ",\"succeeded\":{}}",
		/* succeeded but no usable header revision */
		"{\"succeeded\":true}",
		"{\"header\":{},\"succeeded\":true}",
		"{\"header\":[],\"succeeded\":true}",
		"{\"header\":\"4\",\"succeeded\":true}",
		"{\"header\":{\"revision\":\"0\"},\"succeeded\":true}",
		"{\"header\":{\"revision\":\"-3\"},\"succeeded\":true}",
		"{\"header\":{\"revision\":\"x\"},\"succeeded\":true}",
		/* compare failed with an empty failure branch: header only */
		"{" HDR("4") "}",
		/* failure branch shapes */
		"{" HDR("4") ",\"responses\":{}}",
		"{" HDR("4") ",\"responses\":[]}",
		"{" HDR("4") ",\"responses\":[null]}",
		"{" HDR("4") ",\"responses\":[\"x\"]}",
		"{" HDR("4") ",\"responses\":[{}]}",
		"{" HDR("4") ",\"responses\":[{\"response_put\":{\"header\":{}}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":[]}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"header\":{}}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":{}}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[]}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[\"k\"]}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"key\":\"L2VsZWN0aW9uL2xlYWRlcg\",\"create_revision\":\"4\"}]}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"key\":\"YQ==\"}]}}]}",                         /* create_revision 0 */
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"key\":\"YQ==\",\"create_revision\":\"abc\"}]}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"key\":\"YQ==\",\"create_revision\":\"4\",\"lease\":{}}]}}]}",
		"{" HDR("4") ",\"responses\":[{\"response_range\":{\"kvs\":[{"
		"\"key\":\"YQ==\",\"create_revision\":\"4\",\"value\":\"*\"}]}}]}",
		("{\"error\":\"etcdserver: requested lease not found\","
		"\"message\":\"etcdserver: requested lease not found\",\"code\":5}"),
		"[]", "null", "\"x\"", "4", "false", "{}",
	};
	bool created;
	int64_t rev, lease;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = J(bad[i]);

		check_rc(etcd_parse_create(j, &created, &rev, &lease), -EPROTO, bad[i]);
		json_decref(j);
	}
	check_rc(etcd_parse_create(NULL, &created, &rev, &lease), -EPROTO, "NULL");
}

/* ------------------------------------------------------------------ */
/* etcd_parse_range                                                     */

static void test_parse_range_fixtures(void **state)
{
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	json_t *j;

	(void)state;
	/* PROTOCOL.md section 3: one key (header trimmed there; filled). */
	j = J("{" HDR("4") ",\"kvs\":[{\"key\":\"L2VsZWN0aW9uL2xlYWRlcg==\","
	    "\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\","
	    "\"value\":\"bm9kZS1B\",\"lease\":\"4111120249850145300\"}],\"count\":\"1\"}");
	assert_int_equal(etcd_parse_range(j, &rev, &kvs, &n), 0);
	assert_true(rev == 4);
	assert_int_equal(n, 1);
	assert_non_null(kvs);
	assert_int_equal(kvs[0].key_len, 16);
	assert_string_equal(kvs[0].key, "/election/leader");
	assert_int_equal(kvs[0].value_len, 6);
	assert_string_equal(kvs[0].value, "node-A");
	assert_true(kvs[0].create_revision == 4);
	assert_true(kvs[0].mod_revision == 4);
	assert_true(kvs[0].version == 1);
	assert_true(kvs[0].lease == INT64_C(4111120249850145300));
	etcd_kvs_free(kvs, n);
	json_decref(j);

	/* Missing key: verbatim, no kvs and no count. */
	j = J("{\"header\":{\"cluster_id\":\"15118495548433857066\","
	    "\"member_id\":\"13668033151171901709\",\"revision\":\"4\","
	    "\"raft_term\":\"2\"}}");
	kvs = (struct etcd_kv *)&n;     /* must be reset */
	n = 99;
	assert_int_equal(etcd_parse_range(j, &rev, &kvs, &n), 0);
	assert_true(rev == 4);
	assert_int_equal(n, 0);
	assert_null(kvs);
	json_decref(j);

	/* Empty array: same as absent. */
	j = J("{" HDR("9") ",\"kvs\":[]}");
	assert_int_equal(etcd_parse_range(j, &rev, &kvs, &n), 0);
	assert_true(rev == 9);
	assert_int_equal(n, 0);
	etcd_kvs_free(kvs, n);
	json_decref(j);

	/* Several keys, order kept; keys_only style kv without value;
	 * "count" disagrees with kvs (the max_create_revision gotcha) and is
	 * ignored. */
	j = J("{" HDR("8") ",\"kvs\":[{\"key\":\"L3BmeC9rMQ==\",\"create_revision\":\"5\","
	    "\"mod_revision\":\"8\",\"version\":\"2\",\"value\":\"djFi\"},"
	    "{\"key\":\"L3BmeC9rMg==\",\"create_revision\":\"6\",\"mod_revision\":\"6\","
	    "\"version\":\"1\"}],\"count\":\"3\"}");
	assert_int_equal(etcd_parse_range(j, &rev, &kvs, &n), 0);
	assert_true(rev == 8);
	assert_int_equal(n, 2);
	assert_string_equal(kvs[0].key, "/pfx/k1");
	assert_string_equal(kvs[0].value, "v1b");
	assert_true(kvs[0].create_revision == 5);
	assert_true(kvs[0].version == 2);
	assert_string_equal(kvs[1].key, "/pfx/k2");
	assert_non_null(kvs[1].value);
	assert_string_equal(kvs[1].value, "");
	assert_int_equal(kvs[1].value_len, 0);
	assert_true(kvs[1].lease == 0);
	assert_true(kvs[1].create_revision == 6);
	etcd_kvs_free(kvs, n);
	json_decref(j);

	/* "more":false is fine. */
	j = J("{" HDR("8") ",\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":\"5\"}],"
	    "\"more\":false}");
	assert_int_equal(etcd_parse_range(j, &rev, &kvs, &n), 0);
	assert_int_equal(n, 1);
	etcd_kvs_free(kvs, n);
	json_decref(j);
}

static void test_parse_range_more_is_e2big(void **state)
{
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	json_t *j;

	(void)state;
	/* PROTOCOL.md section 3, the limit:1 query (kv filled in). */
	j = J("{" HDR("8") ",\"kvs\":[{\"key\":\"L3BmeC9rMQ==\",\"create_revision\":\"5\","
	    "\"mod_revision\":\"8\",\"version\":\"2\",\"value\":\"djFi\"}],"
	    "\"more\":true,\"count\":\"3\"}");
	kvs = NULL;
	n = 0;
	check_rc(etcd_parse_range(j, &rev, &kvs, &n), -E2BIG, "more:true");
	assert_null(kvs);
	assert_int_equal(n, 0);
	json_decref(j);
}

static void test_parse_range_too_many(void **state)
{
	json_t *body = json_object(), *arr = json_array();
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int64_t rev;

	(void)state;
	json_object_set_new(body, "header", json_pack("{s:s}", "revision", "10"));
	for (int i = 0; i < ETCD_MAX_KVS + 1; i++)
		json_array_append_new(arr, json_pack("{s:s,s:s}", "key", "YQ==",
		    "create_revision", "3"));
	json_object_set_new(body, "kvs", arr);
	check_rc(etcd_parse_range(body, &rev, &kvs, &n), -E2BIG, "4097 kvs");
	assert_null(kvs);
	assert_int_equal(n, 0);
	/* Exactly ETCD_MAX_KVS is still accepted. */
	json_array_remove(arr, 0);
	assert_int_equal(etcd_parse_range(body, &rev, &kvs, &n), 0);
	assert_int_equal(n, ETCD_MAX_KVS);
	etcd_kvs_free(kvs, n);
	json_decref(body);
}

static void test_parse_range_malformed(void **state)
{
	static const char *const bad[] = {
		/* header missing / wrong / without a revision */
		"{\"kvs\":[{\"key\":\"YQ==\"}]}",
		"{\"header\":[],\"kvs\":[]}",
		"{\"header\":\"x\"}",
		"{\"header\":null}",
		"{\"header\":{}}",
		"{\"header\":{\"revision\":\"abc\"}}",
		"{\"header\":{\"revision\":\"0\"}}",
		"{\"header\":{\"revision\":{}}}",
		/* kvs of the wrong type */
		"{" HDR("4") ",\"kvs\":{}}",
		"{" HDR("4") ",\"kvs\":\"L2E=\"}",
		"{" HDR("4") ",\"kvs\":1}",
		"{" HDR("4") ",\"kvs\":true}",
		/* bad elements, first or later (the earlier ones must be freed) */
		"{" HDR("4") ",\"kvs\":[null]}",
		"{" HDR("4") ",\"kvs\":[[]]}",
		"{" HDR("4") ",\"kvs\":[{}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"Yg\"}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\",\"value\":\"dg==\"},"
		"{\"key\":\"Yg==\",\"value\":\"d\"}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"Yg==\"},"
		"{\"key\":\"Yw==\",\"create_revision\":\"x\"}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"Yg==\"},"
		"{\"key\":\"Yw==\",\"lease\":[]}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},7]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":1}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"-_-_\"}]}",
		"{" HDR("4") ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"\"}]}",
		"{\"error\":\"etcdserver: request timed out\","
		"\"message\":\"etcdserver: request timed out\",\"code\":14}",
		"[]", "[{" HDR("4") "}]", "null", "\"x\"", "0", "{}",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = J(bad[i]);
		struct etcd_kv *kvs = NULL;
		size_t n = 0;
		int64_t rev;

		check_rc(etcd_parse_range(j, &rev, &kvs, &n), -EPROTO, bad[i]);
		assert_null(kvs);
		assert_int_equal(n, 0);
		json_decref(j);
	}
	{
		struct etcd_kv *kvs = NULL;
		size_t n = 0;
		int64_t rev;

		check_rc(etcd_parse_range(NULL, &rev, &kvs, &n), -EPROTO, "NULL");
	}
}

/* ------------------------------------------------------------------ */
/* etcd_parse_kv                                                        */

static void test_parse_kv(void **state)
{
	static const char *const bad[] = {
		"{\"key\":\"L3cvYQ\"}",                 /* unpadded */
		"{\"key\":\"L3cvYQ=\"}",
		"{\"key\":\"L3cv-w==\"}",               /* URL-safe */
		"{\"key\":\"!!!!\"}",
		"{\"key\":\"node-A\"}",                 /* raw string */
		"{\"key\":\"L3cvYQ==\",\"value\":\"MQ\"}",
		"{\"key\":\"L3cvYQ==\",\"value\":\"M_==\"}",
		"{\"key\":\"L3cvYQ==\",\"value\":1}",
		"{\"key\":\"L3cvYQ==\",\"value\":{}}",
		"{\"key\":\"L3cvYQ==\",\"value\":null}",
		"{\"key\":1}", "{\"key\":[]}", "{\"key\":true}", "{\"key\":null}",
		"{\"value\":\"MQ==\",\"create_revision\":\"15\"}",    /* no key */
		"{\"key\":\"\"}",                                      /* empty key */
		"{\"key\":\"L3cvYQ==\",\"create_revision\":\"x\"}",
		"{\"key\":\"L3cvYQ==\",\"mod_revision\":[]}",
		"{\"key\":\"L3cvYQ==\",\"version\":1.5}",
		"{\"key\":\"L3cvYQ==\",\"lease\":\"4111120249850145300x\"}",
		"[]", "null", "\"L3cvYQ==\"", "3",
	};
	struct etcd_kv kv;
	json_t *j;

	(void)state;
	j = J("{\"key\":\"L3cvYQ==\",\"create_revision\":\"15\",\"mod_revision\":\"16\","
	    "\"version\":\"2\",\"value\":\"Mg==\",\"lease\":\"4111120249886889988\"}");
	assert_int_equal(etcd_parse_kv(j, &kv), 0);
	assert_int_equal(kv.key_len, 4);
	assert_string_equal(kv.key, "/w/a");
	assert_int_equal(kv.value_len, 1);
	assert_string_equal(kv.value, "2");
	assert_true(kv.create_revision == 15);
	assert_true(kv.mod_revision == 16);
	assert_true(kv.version == 2);
	assert_true(kv.lease == INT64_C(4111120249886889988));
	etcd_kv_clear(&kv);
	assert_null(kv.key);
	assert_null(kv.value);
	json_decref(j);

	/* value and lease absent -> "" and 0. */
	j = J("{\"key\":\"L3cvYQ==\",\"mod_revision\":\"17\"}");
	assert_int_equal(etcd_parse_kv(j, &kv), 0);
	assert_string_equal(kv.key, "/w/a");
	assert_non_null(kv.value);
	assert_string_equal(kv.value, "");
	assert_int_equal(kv.value_len, 0);
	assert_true(kv.lease == 0);
	assert_true(kv.create_revision == 0);
	assert_true(kv.version == 0);
	assert_true(kv.mod_revision == 17);
	etcd_kv_clear(&kv);
	json_decref(j);

	/* Binary key and value with NUL bytes keep their lengths. */
	j = J("{\"key\":\"YQBi\",\"value\":\"AP8A\",\"create_revision\":3}");
	assert_int_equal(etcd_parse_kv(j, &kv), 0);
	assert_int_equal(kv.key_len, 3);
	assert_memory_equal(kv.key, "a\0b", 3);
	assert_int_equal(kv.value_len, 3);
	assert_memory_equal(kv.value, "\0\xff\0", 3);
	assert_true(kv.create_revision == 3);
	etcd_kv_clear(&kv);
	json_decref(j);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = J(bad[i]);
		check_rc(etcd_parse_kv(j, &kv), -EPROTO, bad[i]);
		/* Nothing left allocated on failure. */
		assert_null(kv.key);
		assert_null(kv.value);
		json_decref(j);
	}
	check_rc(etcd_parse_kv(NULL, &kv), -EPROTO, "NULL");
}

/* ------------------------------------------------------------------ */
/* etcd_parse_watch_msg                                                 */

/* PROTOCOL.md section 4. Headers of lines 2-5 and the kvs of line 5
 * were trimmed there and are filled here; the rest is verbatim. */
static const char *const watch_lines[] = {
	"{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
	"\"member_id\":\"13668033151171901709\",\"revision\":\"14\","
	"\"raft_term\":\"2\"},\"created\":true}}",
	"{\"result\":{" HDR("15") ",\"events\":[{\"kv\":{\"key\":\"L3cvYQ==\","
	"\"create_revision\":\"15\",\"mod_revision\":\"15\",\"version\":\"1\","
	"\"value\":\"MQ==\"}}]}}",
	"{\"result\":{" HDR("16") ",\"events\":[{\"kv\":{\"key\":\"L3cvYQ==\","
	"\"create_revision\":\"15\",\"mod_revision\":\"16\",\"version\":\"2\","
	"\"value\":\"Mg==\"}}]}}",
	"{\"result\":{" HDR("17") ",\"events\":[{\"type\":\"DELETE\",\"kv\":"
	"{\"key\":\"L3cvYQ==\",\"mod_revision\":\"17\"}}]}}",
	"{\"result\":{" HDR("18") ",\"events\":[{\"kv\":{\"key\":\"L3cvYg==\","
	"\"create_revision\":\"18\",\"mod_revision\":\"18\",\"version\":\"1\","
	"\"value\":\"Yg==\"}},{\"kv\":{\"key\":\"L3cvYw==\",\"create_revision\":\"18\","
	"\"mod_revision\":\"18\",\"version\":\"1\",\"value\":\"Yw==\"}}]}}",
	/* etcd stopped with SIGTERM: last chunk, no trailing newline. */
	("{\"error\":{\"grpc_code\":1,\"http_code\":408,\"message\":"
	"\"grpc: the client connection is closing\",\"http_status\":\"Request Timeout\"}}"),
};

static void test_watch_created_and_events(void **state)
{
	struct etcd_watch_msg m;
	json_t *j;

	(void)state;
	j = J(watch_lines[0]);
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.created);
	assert_false(m.canceled);
	assert_true(m.revision == 14);
	assert_int_equal(m.n_events, 0);
	assert_null(m.events);
	assert_true(m.compact_revision == 0);
	assert_string_equal(m.cancel_reason, "");
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* A PUT has no "type". */
	j = J(watch_lines[1]);
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_false(m.created);
	assert_false(m.canceled);
	assert_true(m.revision == 15);
	assert_int_equal(m.n_events, 1);
	assert_int_equal(m.events[0].type, ETCD_EVENT_PUT);
	assert_string_equal(m.events[0].kv.key, "/w/a");
	assert_string_equal(m.events[0].kv.value, "1");
	assert_true(m.events[0].kv.create_revision == 15);
	assert_true(m.events[0].kv.mod_revision == 15);
	assert_true(m.events[0].kv.version == 1);
	etcd_watch_msg_clear(&m);
	assert_null(m.events);
	assert_int_equal(m.n_events, 0);
	json_decref(j);

	/* A DELETE kv holds only key and mod_revision. */
	j = J(watch_lines[3]);
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.revision == 17);
	assert_int_equal(m.n_events, 1);
	assert_int_equal(m.events[0].type, ETCD_EVENT_DELETE);
	assert_string_equal(m.events[0].kv.key, "/w/a");
	assert_int_equal(m.events[0].kv.key_len, 4);
	assert_string_equal(m.events[0].kv.value, "");
	assert_true(m.events[0].kv.mod_revision == 17);
	assert_true(m.events[0].kv.create_revision == 0);
	assert_true(m.events[0].kv.lease == 0);
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* One txn, several events. */
	j = J(watch_lines[4]);
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.revision == 18);
	assert_int_equal(m.n_events, 2);
	assert_int_equal(m.events[0].type, ETCD_EVENT_PUT);
	assert_int_equal(m.events[1].type, ETCD_EVENT_PUT);
	assert_string_equal(m.events[0].kv.key, "/w/b");
	assert_string_equal(m.events[1].kv.key, "/w/c");
	assert_string_equal(m.events[1].kv.value, "c");
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* Lease expiry: a DELETE with prev_kv (header filled). */
	j = J("{\"result\":{" HDR("21") ",\"events\":[{\"type\":\"DELETE\",\"kv\":"
	    "{\"key\":\"L2xlL2s=\",\"mod_revision\":\"21\"},\"prev_kv\":{\"key\":"
	    "\"L2xlL2s=\",\"create_revision\":\"20\",\"mod_revision\":\"20\","
	    "\"version\":\"1\",\"value\":\"dg==\",\"lease\":\"4111120249886889988\"}}]}}");
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.revision == 21);
	assert_int_equal(m.n_events, 1);
	assert_int_equal(m.events[0].type, ETCD_EVENT_DELETE);
	assert_string_equal(m.events[0].kv.key, "/le/k");
	assert_true(m.events[0].kv.mod_revision == 21);
	etcd_watch_msg_clear(&m);
	json_decref(j);
}

static void test_watch_cancel_progress_and_enum_forms(void **state)
{
	struct etcd_watch_msg m;
	json_t *j;

	(void)state;
	/* Compaction: canceled, compact_revision, header without revision. */
	j = J("{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
	    "\"member_id\":\"13668033151171901709\",\"raft_term\":\"2\"},"
	    "\"canceled\":true,\"compact_revision\":\"18\"}}");
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.canceled);
	assert_false(m.created);
	assert_true(m.compact_revision == 18);
	assert_true(m.revision == 0);
	assert_int_equal(m.n_events, 0);
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* Refused watch (auth): created and canceled at once, with a reason. */
	j = J("{\"result\":{" HDR("23") ",\"watch_id\":\"-1\",\"created\":true,"
	    "\"canceled\":true,\"cancel_reason\":\"rpc error: code = PermissionDenied "
	    "desc = etcdserver: permission denied\"}}");
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.created);
	assert_true(m.canceled);
	assert_true(m.revision == 23);
	assert_string_equal(m.cancel_reason,
	    "rpc error: code = PermissionDenied desc = etcdserver: permission denied");
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* Progress notification: header only (verbatim). */
	j = J("{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\","
	    "\"member_id\":\"13668033151171901709\",\"revision\":\"19\","
	    "\"raft_term\":\"3\"}}}");
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_true(m.revision == 19);
	assert_false(m.created);
	assert_false(m.canceled);
	assert_int_equal(m.n_events, 0);
	assert_null(m.events);
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* Enum as integers (DELETE = 1, PUT = 0) and as the name "PUT". */
	j = J("{\"result\":{" HDR("30") ",\"events\":["
	    "{\"type\":1,\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"30\"}},"
	    "{\"type\":0,\"kv\":{\"key\":\"Yg==\",\"create_revision\":\"30\"}},"
	    "{\"type\":\"PUT\",\"kv\":{\"key\":\"Yw==\",\"create_revision\":\"30\"}},"
	    "{\"type\":\"DELETE\",\"kv\":{\"key\":\"ZA==\",\"mod_revision\":\"30\"}}]}}");
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_int_equal(m.n_events, 4);
	assert_int_equal(m.events[0].type, ETCD_EVENT_DELETE);
	assert_int_equal(m.events[1].type, ETCD_EVENT_PUT);
	assert_int_equal(m.events[2].type, ETCD_EVENT_PUT);
	assert_int_equal(m.events[3].type, ETCD_EVENT_DELETE);
	assert_string_equal(m.events[0].kv.key, "a");
	assert_string_equal(m.events[3].kv.key, "d");
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* An empty events array is no event. */
	j = J("{\"result\":{" HDR("31") ",\"events\":[]}}");
	assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
	assert_int_equal(m.n_events, 0);
	etcd_watch_msg_clear(&m);
	json_decref(j);

	/* A very long cancel_reason is truncated, still terminated. */
	{
		char reason[600];
		json_t *msg;

		memset(reason, 'r', sizeof(reason) - 1);
		reason[sizeof(reason) - 1] = '\0';
		msg = json_pack("{s:{s:b,s:s}}", "result", "canceled", 1,
		    "cancel_reason", reason);
		assert_int_equal(etcd_parse_watch_msg(msg, &m), 0);
		assert_int_equal(strlen(m.cancel_reason), sizeof(m.cancel_reason) - 1);
		etcd_watch_msg_clear(&m);
		json_decref(msg);
	}
}

static void test_watch_malformed(void **state)
{
	static const char *const bad[] = {
		/* the final stream error is not a watch message */
		NULL,   /* watch_lines[5], filled in below */
		"{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":2}",
		"{}", "{\"result\":null}", "{\"result\":[]}", "{\"result\":\"x\"}",
		"{\"result\":1}",
		"{\"result\":{\"header\":[]}}",
		"{\"result\":{\"header\":\"h\"}}",
		"{\"result\":{\"header\":{\"revision\":\"x\"}}}",
		"{\"result\":{\"header\":{\"revision\":[]}}}",
		"{\"result\":{" HDR("5") ",\"compact_revision\":{}}}",
		"{\"result\":{" HDR("5") ",\"compact_revision\":\"c\"}}",
		"{\"result\":{" HDR("5") ",\"events\":{}}}",
		"{\"result\":{" HDR("5") ",\"events\":\"e\"}}",
		"{\"result\":{" HDR("5") ",\"events\":[null]}}",
		"{\"result\":{" HDR("5") ",\"events\":[1]}}",
		"{\"result\":{" HDR("5") ",\"events\":[[]]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":\"DELETE\"}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"kv\":null}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"kv\":[]}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"kv\":{}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":\"BOGUS\","
		"\"kv\":{\"key\":\"YQ==\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":\"delete\","
		"\"kv\":{\"key\":\"YQ==\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":2,"
		"\"kv\":{\"key\":\"YQ==\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":-1,"
		"\"kv\":{\"key\":\"YQ==\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":{},"
		"\"kv\":{\"key\":\"YQ==\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"type\":true,"
		"\"kv\":{\"key\":\"YQ==\"}}]}}",
		/* a bad event after good ones: the good ones must be freed */
		"{\"result\":{" HDR("5") ",\"events\":[{\"kv\":{\"key\":\"YQ==\","
		"\"value\":\"dg==\"}},{\"kv\":{\"key\":\"Yg==\",\"value\":\"dg==\"}},"
		"{\"kv\":{\"key\":\"Yw\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"kv\":{\"key\":\"YQ==\"}},"
		"{\"type\":\"X\",\"kv\":{\"key\":\"Yg==\"}}]}}",
		"{\"result\":{" HDR("5") ",\"events\":[{\"kv\":{\"key\":\"YQ==\"}},"
		"{\"kv\":{\"key\":\"Yg==\",\"mod_revision\":{}}}]}}",
		"[]", "null", "\"result\"", "0",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *text = bad[i] ? bad[i] : watch_lines[5];
		struct etcd_watch_msg m;
		json_t *j = J(text);

		check_rc(etcd_parse_watch_msg(j, &m), -EPROTO, text);
		assert_null(m.events);
		assert_int_equal(m.n_events, 0);
		etcd_watch_msg_clear(&m);   /* harmless after a failure */
		json_decref(j);
	}
	{
		struct etcd_watch_msg m;

		check_rc(etcd_parse_watch_msg(NULL, &m), -EPROTO, "NULL");
	}
}

static void test_watch_too_many_events(void **state)
{
	json_t *events = json_array(), *msg;
	struct etcd_watch_msg m;

	(void)state;
	for (int i = 0; i < ETCD_MAX_KVS + 1; i++)
		json_array_append_new(events, json_pack("{s:{s:s}}", "kv", "key", "YQ=="));
	msg = json_pack("{s:{s:{s:s},s:o}}", "result", "header", "revision", "7",
	    "events", events);
	check_rc(etcd_parse_watch_msg(msg, &m), -E2BIG, "4097 events");
	assert_null(m.events);
	assert_int_equal(m.n_events, 0);
	json_decref(msg);
}

/* ------------------------------------------------------------------ */
/* etcd_parse_error                                                     */

static void parse_error_text(long status, const char *body, struct etcd_error *e)
{
	memset(e, 0x5a, sizeof(*e));
	etcd_parse_error(status, body, body ? strlen(body) : 0, e);
	/* Always NUL-terminated within the buffer. */
	assert_non_null(memchr(e->message, '\0', sizeof(e->message)));
}

static void test_parse_error_json(void **state)
{
	struct etcd_error e;

	(void)state;
	/* Flat (unary). */
	parse_error_text(404, "{\"error\":\"etcdserver: requested lease not found\","
	    "\"message\":\"etcdserver: requested lease not found\",\"code\":5}", &e);
	assert_int_equal(e.http_status, 404);
	assert_int_equal(e.grpc_code, 5);
	assert_string_equal(e.message, "etcdserver: requested lease not found");

	parse_error_text(401, "{\"error\":\"etcdserver: invalid auth token\","
	    "\"message\":\"etcdserver: invalid auth token\",\"code\":16}", &e);
	assert_int_equal(e.grpc_code, 16);
	assert_string_equal(e.message, "etcdserver: invalid auth token");

	parse_error_text(400, "{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\","
	    "\"code\":3}", &e);
	assert_int_equal(e.http_status, 400);
	assert_int_equal(e.grpc_code, 3);
	assert_string_equal(e.message, "unexpected EOF");

	/* Nested (streams). */
	parse_error_text(503, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"etcdserver: no leader\","
	    "\"http_status\":\"Service Unavailable\"}}", &e);
	assert_int_equal(e.http_status, 503);
	assert_int_equal(e.grpc_code, 14);
	assert_string_equal(e.message, "etcdserver: no leader");

	/* The mid-stream error line (HTTP status was 200). */
	parse_error_text(200, watch_lines[5], &e);
	assert_int_equal(e.http_status, 200);
	assert_int_equal(e.grpc_code, 1);
	assert_string_equal(e.message, "grpc: the client connection is closing");

	/* Flat without "message": the "error" string is the message. */
	parse_error_text(500, "{\"error\":\"context deadline exceeded\",\"code\":2}", &e);
	assert_int_equal(e.grpc_code, 2);
	assert_string_equal(e.message, "context deadline exceeded");

	/* Code as a string is still a code. */
	parse_error_text(503, "{\"error\":\"connection closed\","
	    "\"message\":\"connection closed\",\"code\":\"14\"}", &e);
	assert_int_equal(e.grpc_code, 14);

	/* The body is taken by length, not by NUL. */
	{
		static const char body[] = "{\"error\":\"a\",\"message\":\"b\",\"code\":7}GARBAGE";

		memset(&e, 0, sizeof(e));
		etcd_parse_error(403, body, strlen(body) - 7, &e);
		assert_int_equal(e.grpc_code, 7);
		assert_string_equal(e.message, "b");
	}
}

static void test_parse_error_odd_bodies(void **state)
{
	struct etcd_error e;
	char big[1200];

	(void)state;
	parse_error_text(405, "Method Not Allowed", &e);
	assert_int_equal(e.http_status, 405);
	assert_int_equal(e.grpc_code, -1);
	assert_string_equal(e.message, "Method Not Allowed");

	parse_error_text(404, "404 page not found\n", &e);
	assert_int_equal(e.grpc_code, -1);
	assert_string_equal(e.message, "404 page not found");

	parse_error_text(400, "CommonName of client sending a request against gateway "
	    "will be ignored and not used as expected", &e);
	assert_int_equal(e.grpc_code, -1);
	assert_string_equal(e.message, "CommonName of client sending a request against "
	    "gateway will be ignored and not used as expected");

	/* Text taken by length. */
	memset(&e, 0, sizeof(e));
	etcd_parse_error(404, "Not FoundXYZ", 9, &e);
	assert_string_equal(e.message, "Not Found");

	/* Empty body, and no body at all: still a usable message. */
	parse_error_text(503, "", &e);
	assert_int_equal(e.http_status, 503);
	assert_int_equal(e.grpc_code, -1);
	assert_true(strlen(e.message) > 0);
	memset(&e, 0x5a, sizeof(e));
	etcd_parse_error(502, NULL, 0, &e);
	assert_int_equal(e.http_status, 502);
	assert_int_equal(e.grpc_code, -1);
	assert_non_null(memchr(e.message, '\0', sizeof(e.message)));
	assert_true(strlen(e.message) > 0);

	/* JSON whose code is present but unusable: code unknown (-1). */
	{
		static const char *const odd[] = {
			"{\"error\":{\"grpc_code\":\"x\"}}", "{\"message\":7,\"code\":\"abc\"}",
			"{\"code\":[]}", "{\"code\":1000}", "{\"code\":-4}",
			"{\"error\":{\"grpc_code\":1e300}}", "null", "\"text\"",
			"{\"error\":", "\n", "\r\n\r\n",
		};
		for (size_t i = 0; i < ARRAY_SIZE(odd); i++) {
			parse_error_text(500, odd[i], &e);
			assert_int_equal(e.http_status, 500);
			assert_true(strlen(e.message) > 0);
			if (e.grpc_code != -1) {
				print_error("%s: grpc_code %d\n", odd[i], e.grpc_code);
				fail();
			}
		}
	}

	/* A huge message is truncated and terminated. */
	memcpy(big, "{\"error\":\"", 10);
	memset(big + 10, 'm', 1000);
	memcpy(big + 1010, "\",\"code\":8}", 12);
	parse_error_text(429, big, &e);
	assert_int_equal(e.grpc_code, 8);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
	memset(big, 't', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	parse_error_text(502, big, &e);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
	assert_int_equal(e.message[0], 't');
}

/*
 * A JSON error body that carries no code at all must report the code as
 * unknown (-1, etcdproto.h), not as 0, which is gRPC "OK".
 */
static void test_parse_error_without_code_is_unknown(void **state)
{
	static const char *const nocode[] = {
		"{}", "[]", "[\"error\"]", "{\"error\":null}", "{\"error\":5}",
		"{\"error\":[]}", "{\"error\":{}}",
		"{\"error\":\"x\",\"message\":\"x\"}",
		"{\"error\":{\"message\":\"etcdserver: no leader\"}}",
	};
	struct etcd_error e;
	size_t wrong = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(nocode); i++) {
		parse_error_text(500, nocode[i], &e);
		assert_int_equal(e.http_status, 500);
		assert_true(strlen(e.message) > 0);
		if (e.grpc_code != -1) {
			print_error("%s: grpc_code %d, expected -1\n", nocode[i], e.grpc_code);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

/* ------------------------------------------------------------------ */
/* NDJSON framer                                                        */

#define MAX_LINES 64

struct lines {
	char *line[MAX_LINES];
	size_t len[MAX_LINES];
	size_t n;
	size_t stop_at;     /* 1-based callback number that fails; 0 = never */
	int stop_rc;
};

static int collect(const char *line, size_t len, void *ud)
{
	struct lines *l = ud;

	assert_true(l->n < MAX_LINES);
	assert_non_null(line);
	l->line[l->n] = malloc(len + 1);
	assert_non_null(l->line[l->n]);
	memcpy(l->line[l->n], line, len);
	l->line[l->n][len] = '\0';
	l->len[l->n] = len;
	l->n++;
	if (l->stop_at && l->n == l->stop_at)
		return l->stop_rc;
	return 0;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
	memset(l, 0, sizeof(*l));
}

static char *watch_stream(size_t *len)
{
	size_t total = 0, n = ARRAY_SIZE(watch_lines), o = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		total += strlen(watch_lines[i]) + 1;
	s = malloc(total + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(watch_lines[i]);

		memcpy(s + o, watch_lines[i], l);
		o += l;
		if (i + 1 < n)      /* the final error object has no newline */
			s[o++] = '\n';
	}
	s[o] = '\0';
	*len = o;
	return s;
}

static void assert_watch_lines(const struct lines *l)
{
	assert_int_equal(l->n, ARRAY_SIZE(watch_lines));
	for (size_t i = 0; i < l->n; i++) {
		assert_int_equal(l->len[i], strlen(watch_lines[i]));
		assert_string_equal(l->line[i], watch_lines[i]);
	}
}

static void test_ndjson_whole_stream_then_parse(void **state)
{
	struct ndjson nd;
	struct lines l;
	size_t len;
	char *s = watch_stream(&len);
	static const int64_t revs[] = { 14, 15, 16, 17, 18 };

	(void)state;
	memset(&l, 0, sizeof(l));
	ndjson_init(&nd, 1 << 16);
	assert_int_equal(ndjson_feed(&nd, s, len, collect, &l), 0);
	/* The last object has no newline: not delivered before EOF. */
	assert_int_equal(l.n, ARRAY_SIZE(watch_lines) - 1);
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_watch_lines(&l);

	/* Each line is one message; the last one is the stream's error. */
	for (size_t i = 0; i < l.n; i++) {
		json_error_t e;
		json_t *j = json_loadb(l.line[i], l.len[i], 0, &e);
		struct etcd_watch_msg m;

		assert_non_null(j);
		if (i < ARRAY_SIZE(revs)) {
			assert_int_equal(etcd_parse_watch_msg(j, &m), 0);
			assert_true(m.revision == revs[i]);
			etcd_watch_msg_clear(&m);
		} else {
			struct etcd_error err;

			assert_int_equal(etcd_parse_watch_msg(j, &m), -EPROTO);
			etcd_parse_error(200, l.line[i], l.len[i], &err);
			assert_int_equal(err.grpc_code, 1);
			assert_string_equal(err.message,
			    "grpc: the client connection is closing");
		}
		json_decref(j);
	}
	/* finish again: nothing more. */
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_int_equal(l.n, ARRAY_SIZE(watch_lines));
	lines_free(&l);
	ndjson_free(&nd);
	free(s);
}

static void test_ndjson_random_splits(void **state)
{
	size_t len;
	char *s = watch_stream(&len);

	(void)state;
	rng_seed(20261126);
	for (int iter = 0; iter < 3000; iter++) {
		struct ndjson nd;
		struct lines l;
		size_t off = 0, max_piece;

		/* A third of the runs in tiny pieces, many 1-byte feeds. */
		max_piece = iter % 3 == 0 ? rng_range(1, 3) : rng_range(1, len);
		memset(&l, 0, sizeof(l));
		ndjson_init(&nd, 4096);
		while (off < len) {
			size_t piece = rng_range(1, max_piece);
			int r;

			if (piece > len - off)
				piece = len - off;
			r = ndjson_feed(&nd, s + off, piece, collect, &l);
			if (r != 0) {
				print_error("iteration %d: feed returned %d\n", iter, r);
				fail();
			}
			off += piece;
			/* Sometimes a zero-length feed, as a callback may give. */
			if ((rng_next() & 15) == 0)
				assert_int_equal(ndjson_feed(&nd, s + off, 0, collect, &l), 0);
		}
		assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
		assert_watch_lines(&l);
		/* The buffer never grew past the limit. */
		assert_true(nd.cap <= nd.max);
		lines_free(&l);
		ndjson_free(&nd);
	}
	free(s);
}

static void test_ndjson_blank_lines(void **state)
{
	/* Starts with a blank (not empty) line: see the next test for a
	 * newline as the very first byte. */
	static const char stream[] =
	    " \n\n{\"a\":1}\n \n\t\n\r\n{\"b\":2}\r\n\n\n   \r";
	struct ndjson nd;
	struct lines l;
	json_error_t e;
	json_t *j;

	(void)state;
	memset(&l, 0, sizeof(l));
	ndjson_init(&nd, 1024);
	assert_int_equal(ndjson_feed(&nd, stream, sizeof(stream) - 1, collect, &l), 0);
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.line[0], "{\"a\":1}");
	/* A CR before the LF may stay; the line must still parse. */
	assert_true(strncmp(l.line[1], "{\"b\":2}", 7) == 0);
	assert_true(l.len[1] == 7 || (l.len[1] == 8 && l.line[1][7] == '\r'));
	j = json_loadb(l.line[1], l.len[1], 0, &e);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "b")), 2);
	json_decref(j);
	lines_free(&l);
	ndjson_free(&nd);

	/* Only blank input: no line at all. */
	memset(&l, 0, sizeof(l));
	ndjson_init(&nd, 16);
	assert_int_equal(ndjson_feed(&nd, "\t", 1, collect, &l), 0);
	assert_int_equal(ndjson_feed(&nd, "\n", 1, collect, &l), 0);
	assert_int_equal(ndjson_feed(&nd, "  \n\n", 4, collect, &l), 0);
	assert_int_equal(ndjson_feed(&nd, " ", 1, collect, &l), 0);
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_int_equal(l.n, 0);
	ndjson_free(&nd);

	/* finish on a framer that never saw a byte. */
	ndjson_init(&nd, 16);
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_int_equal(l.n, 0);
	ndjson_free(&nd);
}

/*
 * A newline as the very first byte of a fresh framer (buffer not yet
 * allocated). Must simply be skipped. Under -fsanitize=undefined this
 * reports "null pointer passed as argument 1" at the memcpy in
 * ndjson_append (etcdproto.c): memcpy(NULL + 0, data, 0).
 */
static void test_ndjson_newline_first_on_fresh_framer(void **state)
{
	struct ndjson nd;
	struct lines l;

	(void)state;
	memset(&l, 0, sizeof(l));
	ndjson_init(&nd, 1024);
	assert_int_equal(ndjson_feed(&nd, "\n{\"a\":1}\n", 9, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.line[0], "{\"a\":1}");
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_int_equal(l.n, 1);
	lines_free(&l);
	ndjson_free(&nd);
}

static void test_ndjson_binary_and_many_lines(void **state)
{
	struct ndjson nd;
	struct lines l;
	char line[51];

	(void)state;
	/* Bytes are bytes: a NUL inside a line keeps the length. */
	memset(&l, 0, sizeof(l));
	ndjson_init(&nd, 64);
	assert_int_equal(ndjson_feed(&nd, "a\0b\nc", 5, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.len[0], 3);
	assert_memory_equal(l.line[0], "a\0b", 3);
	assert_int_equal(ndjson_finish(&nd, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.line[1], "c");
	lines_free(&l);
	ndjson_free(&nd);

	/* The limit is per line: 2000 lines of 50 bytes under max 64. */
	memset(line, 'x', 50);
	line[50] = '\n';
	ndjson_init(&nd, 64);
	for (int i = 0; i < 2000; i++) {
		memset(&l, 0, sizeof(l));
		assert_int_equal(ndjson_feed(&nd, line, sizeof(line), collect, &l), 0);
		assert_int_equal(l.n, 1);
		assert_int_equal(l.len[0], 50);
		lines_free(&l);
	}
	assert_true(nd.cap <= 64);
	ndjson_free(&nd);
}

static void test_ndjson_line_too_long(void **state)
{
	struct ndjson nd;
	struct lines l;
	char buf[1000];
	int r = 0;

	(void)state;
	/* A line of exactly max bytes is accepted ... */
	memset(buf, 'y', sizeof(buf));
	memset(&l, 0, sizeof(l));
	ndjson_init(&nd, 64);
	assert_int_equal(ndjson_feed(&nd, buf, 64, collect, &l), 0);
	assert_int_equal(ndjson_feed(&nd, "\n", 1, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.len[0], 64);
	lines_free(&l);
	/* ... one more byte is not, whether in one feed or byte by byte. */
	assert_int_equal(ndjson_feed(&nd, buf, 65, collect, &l), -EMSGSIZE);
	assert_int_equal(l.n, 0);
	assert_true(nd.cap <= 64);
	ndjson_free(&nd);

	ndjson_init(&nd, 64);
	for (int i = 0; i < 65 && r == 0; i++)
		r = ndjson_feed(&nd, "z", 1, collect, &l);
	assert_int_equal(r, -EMSGSIZE);
	assert_int_equal(l.n, 0);
	assert_true(nd.cap <= 64);
	ndjson_free(&nd);

	/* A 4 MiB + 1 line fed in 1000-byte pieces against the real limit:
	 * it fails, and memory stays bounded by the limit. */
	ndjson_init(&nd, ETCD_MAX_RESPONSE);
	r = 0;
	for (size_t fed = 0; fed <= ETCD_MAX_RESPONSE + sizeof(buf) && r == 0;
	    fed += sizeof(buf))
		r = ndjson_feed(&nd, buf, sizeof(buf), collect, &l);
	assert_int_equal(r, -EMSGSIZE);
	assert_int_equal(l.n, 0);
	assert_true(nd.cap <= ETCD_MAX_RESPONSE);
	ndjson_free(&nd);

	/* A good line followed by a long one in the same feed: the good line
	 * is delivered, then the error. */
	{
		char mixed[200];

		memcpy(mixed, "{\"ok\":1}\n", 9);
		memset(mixed + 9, 'q', sizeof(mixed) - 9);
		ndjson_init(&nd, 100);
		assert_int_equal(ndjson_feed(&nd, mixed, sizeof(mixed), collect, &l),
		    -EMSGSIZE);
		assert_int_equal(l.n, 1);
		assert_string_equal(l.line[0], "{\"ok\":1}");
		lines_free(&l);
		ndjson_free(&nd);
	}
}

static void test_ndjson_callback_error_stops(void **state)
{
	static const char stream[] = "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}";
	struct ndjson nd;
	struct lines l;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	l.stop_rc = -42;
	ndjson_init(&nd, 1024);
	assert_int_equal(ndjson_feed(&nd, stream, sizeof(stream) - 1, collect, &l), -42);
	/* Lines 3 and 4 were not delivered. */
	assert_int_equal(l.n, 2);
	assert_string_equal(l.line[0], "{\"n\":1}");
	assert_string_equal(l.line[1], "{\"n\":2}");
	lines_free(&l);
	ndjson_free(&nd);

	/* The same from ndjson_finish. */
	memset(&l, 0, sizeof(l));
	l.stop_at = 1;
	l.stop_rc = -7;
	ndjson_init(&nd, 1024);
	assert_int_equal(ndjson_feed(&nd, "{\"last\":true}", 13, collect, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(ndjson_finish(&nd, collect, &l), -7);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.line[0], "{\"last\":true}");
	lines_free(&l);
	ndjson_free(&nd);

	/* A positive return is not an error. */
	memset(&l, 0, sizeof(l));
	l.stop_at = 1;
	l.stop_rc = 5;
	ndjson_init(&nd, 1024);
	assert_int_equal(ndjson_feed(&nd, stream, sizeof(stream) - 1, collect, &l), 0);
	assert_int_equal(l.n, 3);
	lines_free(&l);
	ndjson_free(&nd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_known_vectors),
		cmocka_unit_test(test_b64_binary_bytes),
		cmocka_unit_test(test_b64_round_trip_all_lengths),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_parse_int64),
		cmocka_unit_test(test_prefix_range_end),
		cmocka_unit_test(test_json_int64),
		cmocka_unit_test(test_req_grant_and_lease_id),
		cmocka_unit_test(test_req_create_if_absent),
		cmocka_unit_test(test_req_range_prefix),
		cmocka_unit_test(test_req_delete_if_created),
		cmocka_unit_test(test_req_watch_prefix),
		cmocka_unit_test(test_req_authenticate),
		cmocka_unit_test(test_parse_header_revision),
		cmocka_unit_test(test_parse_grant),
		cmocka_unit_test(test_parse_keepalive),
		cmocka_unit_test(test_parse_keepalive_for_names_our_lease),
		cmocka_unit_test(test_parse_create_fixtures),
		cmocka_unit_test(test_parse_create_malformed),
		cmocka_unit_test(test_parse_range_fixtures),
		cmocka_unit_test(test_parse_range_more_is_e2big),
		cmocka_unit_test(test_parse_range_too_many),
		cmocka_unit_test(test_parse_range_malformed),
		cmocka_unit_test(test_parse_kv),
		cmocka_unit_test(test_watch_created_and_events),
		cmocka_unit_test(test_watch_cancel_progress_and_enum_forms),
		cmocka_unit_test(test_watch_malformed),
		cmocka_unit_test(test_watch_too_many_events),
		cmocka_unit_test(test_parse_error_json),
		cmocka_unit_test(test_parse_error_odd_bodies),
		cmocka_unit_test(test_parse_error_without_code_is_unknown),
		cmocka_unit_test(test_ndjson_whole_stream_then_parse),
		cmocka_unit_test(test_ndjson_random_splits),
		cmocka_unit_test(test_ndjson_blank_lines),
		cmocka_unit_test(test_ndjson_newline_first_on_fresh_framer),
		cmocka_unit_test(test_ndjson_binary_and_many_lines),
		cmocka_unit_test(test_ndjson_line_too_long),
		cmocka_unit_test(test_ndjson_callback_error_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
