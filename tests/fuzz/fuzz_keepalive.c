/*
 * fuzz_keepalive.c - libFuzzer entry for the keepalive answer read from
 * its text. The scan in etcdproto_keepalive.c may only agree with the
 * tree parser: for every input, both give the same result, TTL and
 * revision, or the process aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>

#include "etcdproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	int64_t lease = 0, ttl_text, ttl_tree, rev_text, rev_tree;
	json_t *root = etcd_json_loadb(text, size, NULL);
	int r_text, r_tree;

	/* Ask about the lease the answer names, so that matches are found. */
	if (root)
		(void)etcd_json_int64(json_object_get(root, "result"), "ID", &lease);
	r_text = etcd_parse_keepalive_answer(NULL, text, size, lease, &ttl_text,
	    &rev_text);
	if (root == NULL) {
		if (r_text == 0)
			abort();
		return 0;
	}
	r_tree = etcd_parse_keepalive_answer(root, NULL, 0, lease, &ttl_tree,
	    &rev_tree);
	json_decref(root);
	if (r_text != r_tree)
		abort();
	if (r_text == 0 && (ttl_text != ttl_tree || rev_text != rev_tree))
		abort();
	return 0;
}
