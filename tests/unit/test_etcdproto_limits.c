/*
 * test_etcdproto_limits.c - the bound on JSON values in answers from etcd
 * (etcd_json_loadb): dense text is refused before jansson builds it, and
 * the largest real answers still parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcdproto.h"

#define HDR "\"header\":{\"cluster_id\":\"15118495548433857066\"," \
	"\"member_id\":\"13668033151171901709\",\"revision\":\"9000\"," \
	"\"raft_term\":\"2\"}"

struct text {
	char *data;
	size_t len, cap;
};

static void put(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->data = realloc(t->data, t->cap);
		assert_non_null(t->data);
	}
	memcpy(t->data + t->len, s, n + 1);
	t->len += n;
}

static void repeat(struct text *t, const char *s, size_t times)
{
	for (size_t i = 0; i < times; i++)
		put(t, s);
}

/* 4 MiB of "[]," made 200 MiB of jansson arrays before the bound. */
static void test_dense_answer_is_refused(void **state)
{
	struct text t = { 0 };
	json_error_t err;

	put(&t, "{" HDR ",\"kvs\":[");
	repeat(&t, "[],", ((4u << 20) - 200) / 3);
	put(&t, "[]]}");
	assert_null(etcd_json_loadb(t.data, t.len, &err));
	assert_non_null(strstr(err.text, "JSON values"));
	assert_null(etcd_json_loadb(t.data, t.len, NULL));
	free(t.data);
}

static void test_the_bound_is_exact(void **state)
{
	struct text t = { 0 };
	json_t *root;

	/* The root, then one value after "[" and after each ",". */
	put(&t, "[0");
	repeat(&t, ",0", ETCD_MAX_JSON_VALUES - 2);
	put(&t, "]");
	root = etcd_json_loadb(t.data, t.len, NULL);
	assert_non_null(root);
	assert_int_equal(json_array_size(root), ETCD_MAX_JSON_VALUES - 1);
	json_decref(root);

	t.data[t.len - 1] = ',';
	put(&t, "0]");
	assert_null(etcd_json_loadb(t.data, t.len, NULL));
	free(t.data);
}

static void test_punctuation_inside_strings_is_not_counted(void **state)
{
	struct text t = { 0 };
	json_t *root;
	const char *s;

	put(&t, "{\"error\":\"");
	repeat(&t, ",:[{\\\"\\\\", ETCD_MAX_JSON_VALUES);
	put(&t, "\"}");
	root = etcd_json_loadb(t.data, t.len, NULL);
	assert_non_null(root);
	s = json_string_value(json_object_get(root, "error"));
	assert_non_null(s);
	assert_int_equal(strlen(s), 6u * ETCD_MAX_JSON_VALUES);
	assert_memory_equal(s, ",:[{\"\\", 6);
	json_decref(root);
	free(t.data);
}

static const char KV[] = "{\"key\":\"a2luZ3Ntb290L3N2Yy82OTRkN2EzYjRlOGYyYTEx\","
	"\"create_revision\":\"123456789\",\"mod_revision\":\"123456789\","
	"\"version\":\"1\",\"value\":\"ZGIxLmV4YW1wbGUuY29tOjU0MzI=\","
	"\"lease\":\"7587881234567890123\"}";

static void test_a_full_election_still_parses(void **state)
{
	struct text t = { 0 };
	struct etcd_kv *kvs;
	json_error_t err;
	json_t *root;
	int64_t rev;
	size_t n;

	put(&t, "{" HDR ",\"kvs\":[");
	for (size_t i = 0; i < ETCD_MAX_KVS; i++) {
		put(&t, i ? "," : "");
		put(&t, KV);
	}
	put(&t, "],\"count\":\"4096\"}");
	root = etcd_json_loadb(t.data, t.len, &err);
	assert_non_null(root);
	assert_int_equal(etcd_parse_range(root, &rev, &kvs, &n), 0);
	assert_int_equal(n, ETCD_MAX_KVS);
	etcd_kvs_free(kvs, n);
	json_decref(root);
	free(t.data);
}

static void test_a_watch_message_of_every_candidate_still_parses(void **state)
{
	struct text t = { 0 };
	struct etcd_watch_msg msg;
	json_t *root;

	put(&t, "{\"result\":{" HDR ",\"events\":[");
	for (size_t i = 0; i < ETCD_MAX_KVS; i++) {
		put(&t, i ? ",{\"kv\":" : "{\"kv\":");
		put(&t, KV);
		put(&t, "}");
	}
	put(&t, "]}}");
	root = etcd_json_loadb(t.data, t.len, NULL);
	assert_non_null(root);
	assert_int_equal(etcd_parse_watch_msg(root, &msg), 0);
	assert_int_equal(msg.n_events, ETCD_MAX_KVS);
	etcd_watch_msg_clear(&msg);
	json_decref(root);
	free(t.data);
}

static void test_a_dense_error_body_reads_as_text(void **state)
{
	struct text t = { 0 };
	struct etcd_error e;

	repeat(&t, "{},", (1u << 20) / 3);
	etcd_parse_error(503, t.data, t.len, &e);
	assert_int_equal(e.grpc_code, -1);
	assert_int_equal(strncmp(e.message, "{},{},", 6), 0);
	free(t.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_answer_is_refused),
		cmocka_unit_test(test_the_bound_is_exact),
		cmocka_unit_test(test_punctuation_inside_strings_is_not_counted),
		cmocka_unit_test(test_a_full_election_still_parses),
		cmocka_unit_test(test_a_watch_message_of_every_candidate_still_parses),
		cmocka_unit_test(test_a_dense_error_body_reads_as_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
