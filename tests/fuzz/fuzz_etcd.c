/*
 * fuzz_etcd.c - libFuzzer entry for everything that parses bytes from
 * etcd: every response parser, the error-body parser and the NDJSON
 * framer of the watch stream. The first input byte picks the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "etcdproto.h"

static int count_line(const char *line, size_t len, void *ud)
{
	json_t *root = etcd_json_loadb(line, len, NULL);
	struct etcd_watch_msg msg;

	(*(size_t *)ud)++;
	if (root && etcd_parse_watch_msg(root, &msg) == 0)
		etcd_watch_msg_clear(&msg);
	json_decref(root);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_kv *kvs;
	struct etcd_error err;
	struct ndjson nd;
	json_t *root;
	int64_t a, b, c;
	size_t n, lines = 0;
	bool created;
	uint8_t which;

	if (size < 1)
		return 0;
	which = data[0];
	data++;
	size--;

	etcd_parse_error(which < 128 ? 400 : 200, (const char *)data, size, &err);

	ndjson_init(&nd, 4096);
	/* Split at an input-chosen point so the framer sees two chunks. */
	n = size ? which % (size + 1) : 0;
	if (ndjson_feed(&nd, (const char *)data, n, count_line, &lines) == 0 &&
	    ndjson_feed(&nd, (const char *)data + n, size - n, count_line, &lines) == 0)
		ndjson_finish(&nd, count_line, &lines);
	ndjson_free(&nd);

	root = etcd_json_loadb((const char *)data, size, NULL);
	if (root == NULL)
		return 0;
	switch (which % 5) {
	case 0:
		etcd_parse_grant(root, &a, &b);
		break;
	case 1:
		etcd_parse_keepalive(root, &a);
		break;
	case 2:
		etcd_parse_create(root, &created, &a, &c);
		break;
	case 3:
		if (etcd_parse_range(root, &a, &kvs, &n) == 0)
			etcd_kvs_free(kvs, n);
		break;
	default: {
		struct etcd_watch_msg msg;
		if (etcd_parse_watch_msg(root, &msg) == 0)
			etcd_watch_msg_clear(&msg);
		break;
	}
	}
	json_decref(root);
	return 0;
}
