/*
 * fuzz_watch.c - libFuzzer entry for a watch message read from its text.
 * The scan in etcdproto_watch.c may only agree with the tree parser:
 * whatever it takes, the tree must read too, to the same message, or the
 * process aborts. What it leaves is the tree's to decide.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "etcdproto.h"

static bool same_kv(const struct etcd_kv *x, const struct etcd_kv *y)
{
	return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len + 1) == 0 &&
	    x->value_len == y->value_len &&
	    memcmp(x->value, y->value, x->value_len + 1) == 0 &&
	    x->create_revision == y->create_revision &&
	    x->mod_revision == y->mod_revision && x->version == y->version &&
	    x->lease == y->lease;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct etcd_watch_msg scanned, tree;
	json_t *root;

	if (!etcd_scan_watch_msg(text, size, &scanned))
		return 0;
	root = etcd_json_loadb(text, size, NULL);
	if (root == NULL || etcd_parse_watch_msg(root, &tree) < 0)
		abort();
	json_decref(root);
	if (scanned.revision != tree.revision || scanned.created != tree.created ||
	    scanned.canceled != tree.canceled ||
	    scanned.compact_revision != tree.compact_revision ||
	    strcmp(scanned.cancel_reason, tree.cancel_reason) != 0 ||
	    scanned.n_events != tree.n_events)
		abort();
	for (size_t i = 0; i < scanned.n_events; i++)
		if (scanned.events[i].type != tree.events[i].type ||
		    !same_kv(&scanned.events[i].kv, &tree.events[i].kv))
			abort();
	etcd_watch_msg_clear(&scanned);
	etcd_watch_msg_clear(&tree);
	return 0;
}
