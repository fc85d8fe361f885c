/*
 * etcdproto_move.c - the txn that moves a candidate key (see
 * etcdproto_move.h), in the gateway's JSON: keys and values in base64,
 * int64 as strings (PROTOCOL 9).
 */
#include "etcdproto_move.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "etcdproto.h"
#include "util.h"

static json_t *b64_string(const char *data, size_t len)
{
	char *text = b64_encode(data, len);
	json_t *s = json_string(text);

	free(text);
	return s;
}

static json_t *int64_string(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

json_t *etcd_req_move_key(const struct etcd_guard *guards, size_t n_guards,
    const char *new_key, size_t new_len, const char *value, size_t value_len,
    int64_t lease, const char *old_key, size_t old_len)
{
	json_t *compare;

	if (n_guards > ETCD_MOVE_MAX_GUARDS)
		return NULL;
	compare = json_array();
	for (size_t i = 0; i < n_guards; i++)
		json_array_append_new(compare, json_pack("{s:o,s:s,s:s,s:o}",
		    "key", b64_string(guards[i].key, guards[i].key_len),
		    "target", "CREATE", "result", "EQUAL",
		    "create_revision", int64_string(guards[i].create_revision)));
	return json_pack("{s:o,s:[{s:{s:o,s:o,s:o}},{s:{s:o}}]}",
	    "compare", compare,
	    "success",
	    "request_put", "key", b64_string(new_key, new_len),
	    "value", b64_string(value, value_len), "lease", int64_string(lease),
	    "request_delete_range", "key", b64_string(old_key, old_len));
}

int etcd_parse_txn(json_t *body, bool *succeeded, int64_t *revision)
{
	json_t *s;

	*succeeded = false;
	if (etcd_parse_header_revision(body, revision) < 0 || *revision <= 0)
		return -EPROTO;
	/* The gateway leaves out a false "succeeded". */
	s = json_object_get(body, "succeeded");
	if (s != NULL && !json_is_boolean(s))
		return -EPROTO;
	*succeeded = json_is_true(s);
	return 0;
}
