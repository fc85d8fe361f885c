/*
 * test_etcdproto_watch.c - unit tests for etcdproto_watch.c: watch
 * messages in the form etcd writes are read by the scan, and read the
 * same as through the tree parser; every other form is left to the tree.
 *
 * The messages are those recorded against etcd 3.4.23 in PROTOCOL.md.
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

#include "etcdproto.h"

#define HDR "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\"," \
	"\"member_id\":\"13668033151171901709\",\"revision\":\"17\",\"raft_term\":\"2\"}"
#define PUT_KV "{\"kv\":{\"key\":\"L3cvYQ==\",\"create_revision\":\"15\"," \
	"\"mod_revision\":\"16\",\"version\":\"2\",\"value\":\"Mg==\"," \
	"\"lease\":\"7587869411410839808\"}}"
#define DELETE_KV "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3cvYQ==\",\"mod_revision\":\"17\"}}"

/* The tree's reading, or -1 when the text is no JSON at all. */
static int read_tree(const char *text, size_t len, struct etcd_watch_msg *msg)
{
	json_t *root = etcd_json_loadb(text, len, NULL);
	int r;

	memset(msg, 0, sizeof(*msg));
	if (root == NULL)
		return -1;
	r = etcd_parse_watch_msg(root, msg);
	json_decref(root);
	return r;
}

static void assert_same_msg(const struct etcd_watch_msg *a, const struct etcd_watch_msg *b)
{
	assert_int_equal(a->revision, b->revision);
	assert_int_equal(a->created, b->created);
	assert_int_equal(a->canceled, b->canceled);
	assert_int_equal(a->compact_revision, b->compact_revision);
	assert_string_equal(a->cancel_reason, b->cancel_reason);
	assert_int_equal(a->n_events, b->n_events);
	for (size_t i = 0; i < a->n_events; i++) {
		const struct etcd_kv *x = &a->events[i].kv, *y = &b->events[i].kv;

		assert_int_equal(a->events[i].type, b->events[i].type);
		assert_int_equal(x->key_len, y->key_len);
		assert_memory_equal(x->key, y->key, x->key_len + 1);
		assert_int_equal(x->value_len, y->value_len);
		assert_memory_equal(x->value, y->value, x->value_len + 1);
		assert_int_equal(x->create_revision, y->create_revision);
		assert_int_equal(x->mod_revision, y->mod_revision);
		assert_int_equal(x->version, y->version);
		assert_int_equal(x->lease, y->lease);
	}
}

/* The scan reads text, and reads it as the tree does. */
static void assert_scanned(const char *text, struct etcd_watch_msg *msg)
{
	struct etcd_watch_msg tree;

	assert_true(etcd_scan_watch_msg(text, strlen(text), msg));
	assert_int_equal(read_tree(text, strlen(text), &tree), 0);
	assert_same_msg(msg, &tree);
	etcd_watch_msg_clear(&tree);
}

/* The scan leaves text to the tree, which gives want (0, -EPROTO, ...). */
static void assert_left_to_tree(const char *text, int want)
{
	struct etcd_watch_msg msg, tree;

	assert_false(etcd_scan_watch_msg(text, strlen(text), &msg));
	assert_int_equal(msg.n_events, 0);
	assert_null(msg.events);
	assert_int_equal(read_tree(text, strlen(text), &tree), want);
	etcd_watch_msg_clear(&tree);
}

static void test_created(void **state)
{
	struct etcd_watch_msg msg;

	(void)state;
	assert_scanned(HDR ",\"created\":true}}\n", &msg);
	assert_true(msg.created);
	assert_int_equal(msg.revision, 17);
	assert_int_equal(msg.n_events, 0);
	etcd_watch_msg_clear(&msg);
}

static void test_put_and_delete(void **state)
{
	struct etcd_watch_msg msg;

	(void)state;
	assert_scanned(HDR ",\"events\":[" PUT_KV "]}}", &msg);
	assert_int_equal(msg.n_events, 1);
	assert_int_equal(msg.events[0].type, ETCD_EVENT_PUT);
	assert_string_equal(msg.events[0].kv.key, "/w/a");
	assert_string_equal(msg.events[0].kv.value, "2");
	assert_int_equal(msg.events[0].kv.create_revision, 15);
	assert_int_equal(msg.events[0].kv.lease, 7587869411410839808LL);
	etcd_watch_msg_clear(&msg);

	assert_scanned(HDR ",\"events\":[" DELETE_KV "]}}", &msg);
	assert_int_equal(msg.events[0].type, ETCD_EVENT_DELETE);
	assert_string_equal(msg.events[0].kv.value, "");
	assert_int_equal(msg.events[0].kv.mod_revision, 17);
	etcd_watch_msg_clear(&msg);

	/* One txn, two events; and a PUT that names its type. */
	assert_scanned(HDR ",\"events\":[" DELETE_KV "," PUT_KV ",{\"type\":\"PUT\","
	    "\"kv\":{\"key\":\"L3cvYg==\"}}]}}", &msg);
	assert_int_equal(msg.n_events, 3);
	assert_int_equal(msg.events[2].type, ETCD_EVENT_PUT);
	etcd_watch_msg_clear(&msg);

	/* The kv's fields in another order. */
	assert_scanned(HDR ",\"events\":[{\"kv\":{\"value\":\"\",\"version\":\"1\","
	    "\"key\":\"AA==\"}}]}}", &msg);
	assert_int_equal(msg.events[0].kv.key_len, 1);
	assert_int_equal(msg.events[0].kv.key[0], '\0');
	etcd_watch_msg_clear(&msg);
}

static void test_other_forms_left_to_tree(void **state)
{
	char many[16384];
	size_t len;

	(void)state;
	assert_left_to_tree(HDR ",\"watch_id\":\"1\",\"created\":true}}", 0);
	assert_left_to_tree(HDR ",\"canceled\":true,\"compact_revision\":\"18\"}}", 0);
	assert_left_to_tree(HDR ",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":"
	    "\"L3cvYQ==\"},\"prev_kv\":{\"key\":\"L3cvYQ==\"}}]}}", 0);
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"key\":\"L3cv\\/YQ==\"}}]}}", -EPROTO);
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"key\":\"L3cvYQ==\","
	    "\"mod_revision\":17}}]}}", 0);
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"key\":\"L3cvYQ==\","
	    "\"key\":\"L3cvYg==\"}}]}}", 0);
	assert_left_to_tree(HDR ",\"events\":[{\"type\":1,\"kv\":{\"key\":\"L3cvYQ==\"}}]}}", 0);
	assert_left_to_tree(HDR ",\"events\":[]}}", 0);
	assert_left_to_tree(HDR ", \"created\":true}}", 0);
	assert_left_to_tree(HDR ",\"created\":true}} x", -1);
	assert_left_to_tree("{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}", -EPROTO);

	/* What the tree refuses, the scan does not take either. */
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"key\":\"L3cvY\"}}]}}", -EPROTO);
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"key\":\"\"}}]}}", -EPROTO);
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"version\":\"1\"}}]}}", -EPROTO);
	assert_left_to_tree(HDR ",\"events\":[{\"kv\":{\"key\":\"L3cvYQ==\","
	    "\"lease\":\"9223372036854775808\"}}]}}", -EPROTO);
	assert_left_to_tree(HDR ",\"events\":[{\"type\":\"PATCH\",\"kv\":{\"key\":"
	    "\"L3cvYQ==\"}}]}}", -EPROTO);

	/* More events than the scan holds: the tree reads them all. */
	len = (size_t)snprintf(many, sizeof(many), "%s,\"events\":[", HDR);
	for (int i = 0; i < 65; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "%s%s",
		    i ? "," : "", DELETE_KV);
	snprintf(many + len, sizeof(many) - len, "]}}");
	assert_left_to_tree(many, 0);
}

/* Every prefix and every one-byte change of a real message: whatever the
 * scan takes, the tree reads the same (and ASan sees no read past len). */
static void test_damaged_messages_agree(void **state)
{
	static const char text[] = HDR ",\"events\":[" DELETE_KV "," PUT_KV "]}}";
	char copy[sizeof(text)];
	struct etcd_watch_msg scanned, tree;

	(void)state;
	for (size_t len = 0; len <= sizeof(text) - 1; len++) {
		char *cut = malloc(len ? len : 1);

		memcpy(cut, text, len);
		if (etcd_scan_watch_msg(cut, len, &scanned)) {
			assert_int_equal(len, sizeof(text) - 1);
			assert_int_equal(read_tree(cut, len, &tree), 0);
			assert_same_msg(&scanned, &tree);
			etcd_watch_msg_clear(&tree);
			etcd_watch_msg_clear(&scanned);
		}
		free(cut);
	}
	for (size_t i = 0; i < sizeof(text) - 1; i++) {
		static const char bytes[] = "\"{}[],:=0aA/\\ ";

		for (size_t b = 0; b < sizeof(bytes) - 1; b++) {
			memcpy(copy, text, sizeof(text));
			copy[i] = bytes[b];
			if (!etcd_scan_watch_msg(copy, sizeof(text) - 1, &scanned))
				continue;
			assert_int_equal(read_tree(copy, sizeof(text) - 1, &tree), 0);
			assert_same_msg(&scanned, &tree);
			etcd_watch_msg_clear(&tree);
			etcd_watch_msg_clear(&scanned);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created),
		cmocka_unit_test(test_put_and_delete),
		cmocka_unit_test(test_other_forms_left_to_tree),
		cmocka_unit_test(test_damaged_messages_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
