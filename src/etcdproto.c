/*
 * etcdproto.c - etcd v3 JSON gateway messages: request bodies, defensive
 * response parsing and the NDJSON framer of the watch stream.
 */
#include "etcdproto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

json_t *etcd_json_loadb(const char *text, size_t len, json_error_t *err)
{
	json_error_t unused;
	size_t values = 1;
	bool in_string = false;

	if (err == NULL)
		err = &unused;
	/* Every value but the first, and every member name, follows one of
	 * , : [ { outside a string. */
	for (size_t i = 0; i < len; i++) {
		if (in_string) {
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_string = false;
		} else if (text[i] == '"') {
			in_string = true;
		} else if (text[i] == ',' || text[i] == ':' || text[i] == '[' ||
		    text[i] == '{') {
			values++;
		}
	}
	if (values > ETCD_MAX_JSON_VALUES) {
		memset(err, 0, sizeof(*err));
		snprintf(err->text, sizeof(err->text), "more than %u JSON values",
		    ETCD_MAX_JSON_VALUES);
		return NULL;
	}
	return json_loadb(text, len, 0, err);
}

int etcd_json_int64(json_t *obj, const char *field, int64_t *out)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, field) : NULL;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return parse_int64(json_string_value(v), out) < 0 ? -EPROTO : 0;
	return -EPROTO;
}

static char *int64_text(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return xstrdup(buf);
}

static json_t *json_b64(const char *data, size_t len)
{
	char *enc = b64_encode(data, len);
	json_t *s = json_string(enc);

	free(enc);
	return s;
}

static json_t *json_int64_string(int64_t v)
{
	char *text = int64_text(v);
	json_t *s = json_string(text);

	free(text);
	return s;
}

json_t *etcd_req_grant(int64_t ttl)
{
	return json_pack("{s:o}", "TTL", json_int64_string(ttl));
}

json_t *etcd_req_lease_id(int64_t id)
{
	return json_pack("{s:o}", "ID", json_int64_string(id));
}

json_t *etcd_req_create_if_absent(const char *key, size_t key_len,
    const char *value, size_t value_len, int64_t lease)
{
	return json_pack("{s:[{s:o,s:s,s:s,s:s}],s:[{s:{s:o,s:o,s:o}}],s:[{s:{s:o}}]}",
	    "compare", "key", json_b64(key, key_len), "target", "CREATE",
	    "result", "EQUAL", "create_revision", "0",
	    "success", "request_put", "key", json_b64(key, key_len),
	    "value", json_b64(value, value_len), "lease", json_int64_string(lease),
	    "failure", "request_range", "key", json_b64(key, key_len));
}

static json_t *range_end_b64(const char *prefix, size_t len)
{
	char *end = xcalloc(len + 1, 1);
	size_t n = prefix_range_end(prefix, len, end);
	json_t *s = json_b64(end, n);

	free(end);
	return s;
}

json_t *etcd_req_range_prefix(const char *prefix, size_t len)
{
	/* Linearizable (serializable unset) so a follower never starts from a
	 * stale member's view. */
	return json_pack("{s:o,s:o,s:s,s:s,s:i}",
	    "key", json_b64(prefix, len), "range_end", range_end_b64(prefix, len),
	    "sort_order", "ASCEND", "sort_target", "CREATE",
	    "limit", (json_int_t)ETCD_MAX_KVS);
}

json_t *etcd_req_count_key(const char *key, size_t key_len)
{
	/* Serializable: etcd checks the permission either way, and the
	 * member answers without a round of its raft. */
	return json_pack("{s:o,s:b,s:b}", "key", json_b64(key, key_len),
	    "count_only", 1, "serializable", 1);
}

json_t *etcd_req_delete_if_created(const char *key, size_t key_len,
    int64_t create_revision)
{
	return json_pack("{s:[{s:o,s:s,s:s,s:o}],s:[{s:{s:o}}]}",
	    "compare", "key", json_b64(key, key_len), "target", "CREATE",
	    "result", "EQUAL", "create_revision", json_int64_string(create_revision),
	    "success", "request_delete_range", "key", json_b64(key, key_len));
}

json_t *etcd_req_watch_prefix(const char *prefix, size_t len, int64_t start_revision)
{
	/* progress_notify: an idle watch still says how far it has got, at
	 * etcd's --experimental-watch-progress-notify-interval. */
	return json_pack("{s:{s:o,s:o,s:o,s:b}}", "create_request",
	    "key", json_b64(prefix, len), "range_end", range_end_b64(prefix, len),
	    "start_revision", json_int64_string(start_revision),
	    "progress_notify", 1);
}

json_t *etcd_req_authenticate(const char *name, const char *password)
{
	return json_pack("{s:s,s:s}", "name", name, "password", password);
}

int etcd_parse_header_revision(json_t *body, int64_t *revision)
{
	json_t *header;

	*revision = 0;
	if (!json_is_object(body))
		return -EPROTO;
	header = json_object_get(body, "header");
	if (header == NULL)
		return 0;
	if (!json_is_object(header))
		return -EPROTO;
	return etcd_json_int64(header, "revision", revision);
}

int etcd_parse_grant(json_t *body, int64_t *id, int64_t *ttl)
{
	if (!json_is_object(body) || etcd_json_int64(body, "ID", id) < 0 ||
	    etcd_json_int64(body, "TTL", ttl) < 0)
		return -EPROTO;
	/* A grant without an ID or TTL is not a lease we can use. */
	if (*id == 0 || *ttl <= 0)
		return -EPROTO;
	return 0;
}

static int parse_keepalive(json_t *body, int64_t *id, int64_t *ttl)
{
	json_t *result;

	*ttl = 0;
	*id = 0;
	if (!json_is_object(body))
		return -EPROTO;
	result = json_object_get(body, "result");
	if (!json_is_object(result))
		return -EPROTO;
	if (etcd_json_int64(result, "TTL", ttl) < 0 ||
	    etcd_json_int64(result, "ID", id) < 0)
		return -EPROTO;
	if (*ttl < 0)
		*ttl = 0;
	return 0;
}

int etcd_parse_keepalive(json_t *body, int64_t *ttl)
{
	int64_t id;

	return parse_keepalive(body, &id, ttl);
}

int etcd_parse_keepalive_for(json_t *body, int64_t lease, int64_t *ttl)
{
	int64_t id;

	if (parse_keepalive(body, &id, ttl) < 0)
		return -EPROTO;
	/* etcd names the lease even when it is gone: an answer about any
	 * other says nothing about ours. */
	return id == lease ? 0 : -EPROTO;
}

static int kv_bytes(json_t *obj, const char *field, char **out, size_t *len)
{
	json_t *v = json_object_get(obj, field);
	long n;

	if (v == NULL) {
		*out = xstrdup("");
		*len = 0;
		return 0;
	}
	if (!json_is_string(v))
		return -EPROTO;
	n = b64_decode(json_string_value(v), out);
	if (n < 0)
		return -EPROTO;
	*len = (size_t)n;
	return 0;
}

int etcd_parse_kv(json_t *obj, struct etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(obj) ||
	    kv_bytes(obj, "key", &kv->key, &kv->key_len) < 0 ||
	    kv_bytes(obj, "value", &kv->value, &kv->value_len) < 0 ||
	    etcd_json_int64(obj, "create_revision", &kv->create_revision) < 0 ||
	    etcd_json_int64(obj, "mod_revision", &kv->mod_revision) < 0 ||
	    etcd_json_int64(obj, "version", &kv->version) < 0 ||
	    etcd_json_int64(obj, "lease", &kv->lease) < 0) {
		etcd_kv_clear(kv);
		return -EPROTO;
	}
	if (kv->key_len == 0) {
		etcd_kv_clear(kv);
		return -EPROTO;
	}
	return 0;
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		etcd_kv_clear(&kvs[i]);
	free(kvs);
}

int etcd_parse_create(json_t *body, bool *created, int64_t *create_revision,
    int64_t *lease)
{
	json_t *succeeded, *responses, *range, *kvs;
	struct etcd_kv kv;

	*created = false;
	*create_revision = 0;
	*lease = 0;
	if (!json_is_object(body))
		return -EPROTO;
	succeeded = json_object_get(body, "succeeded");
	if (succeeded != NULL && !json_is_boolean(succeeded))
		return -EPROTO;
	if (json_is_true(succeeded)) {
		*created = true;
		return etcd_parse_header_revision(body, create_revision) < 0 ||
		    *create_revision <= 0 ? -EPROTO : 0;
	}
	/* The key already existed: the failure branch ranged it. */
	responses = json_object_get(body, "responses");
	if (!json_is_array(responses) || json_array_size(responses) < 1)
		return -EPROTO;
	range = json_object_get(json_array_get(responses, 0), "response_range");
	kvs = json_object_get(range, "kvs");
	if (!json_is_array(kvs) || json_array_size(kvs) < 1)
		return -EPROTO;
	if (etcd_parse_kv(json_array_get(kvs, 0), &kv) < 0)
		return -EPROTO;
	*create_revision = kv.create_revision;
	*lease = kv.lease;
	etcd_kv_clear(&kv);
	return *create_revision > 0 ? 0 : -EPROTO;
}

static int parse_kv_array(json_t *arr, struct etcd_kv **kvs, size_t *n_kvs)
{
	size_t n, i;

	*kvs = NULL;
	*n_kvs = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return -EPROTO;
	n = json_array_size(arr);
	if (n > ETCD_MAX_KVS)
		return -E2BIG;
	if (n == 0)
		return 0;
	*kvs = xcalloc(n, sizeof(**kvs));
	for (i = 0; i < n; i++) {
		if (etcd_parse_kv(json_array_get(arr, i), &(*kvs)[i]) < 0) {
			etcd_kvs_free(*kvs, i);
			*kvs = NULL;
			return -EPROTO;
		}
	}
	*n_kvs = n;
	return 0;
}

int etcd_parse_range(json_t *body, int64_t *revision, struct etcd_kv **kvs,
    size_t *n_kvs)
{
	*kvs = NULL;
	*n_kvs = 0;
	if (etcd_parse_header_revision(body, revision) < 0 || *revision <= 0)
		return -EPROTO;
	/* "more" means the election holds more candidates than we track. */
	if (json_is_true(json_object_get(body, "more")))
		return -E2BIG;
	return parse_kv_array(json_object_get(body, "kvs"), kvs, n_kvs);
}

void etcd_watch_msg_clear(struct etcd_watch_msg *msg)
{
	for (size_t i = 0; i < msg->n_events; i++)
		etcd_kv_clear(&msg->events[i].kv);
	free(msg->events);
	memset(msg, 0, sizeof(*msg));
}

int etcd_parse_watch_msg(json_t *msg, struct etcd_watch_msg *out)
{
	json_t *result, *events, *reason;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(msg))
		return -EPROTO;
	result = json_object_get(msg, "result");
	if (!json_is_object(result))
		return -EPROTO;
	if (etcd_parse_header_revision(result, &out->revision) < 0 ||
	    etcd_json_int64(result, "compact_revision", &out->compact_revision) < 0)
		return -EPROTO;
	out->created = json_is_true(json_object_get(result, "created"));
	out->canceled = json_is_true(json_object_get(result, "canceled"));
	reason = json_object_get(result, "cancel_reason");
	if (json_is_string(reason))
		snprintf(out->cancel_reason, sizeof(out->cancel_reason), "%s",
		    json_string_value(reason));

	events = json_object_get(result, "events");
	if (events == NULL)
		return 0;
	if (!json_is_array(events))
		return -EPROTO;
	n = json_array_size(events);
	if (n > ETCD_MAX_KVS)
		return -E2BIG;
	if (n == 0)
		return 0;
	out->events = xcalloc(n, sizeof(*out->events));
	for (size_t i = 0; i < n; i++) {
		json_t *ev = json_array_get(events, i), *type;

		type = json_object_get(ev, "type");
		if (type == NULL || (json_is_string(type) &&
		    strcmp(json_string_value(type), "PUT") == 0) ||
		    (json_is_integer(type) && json_integer_value(type) == 0))
			out->events[i].type = ETCD_EVENT_PUT;
		else if ((json_is_string(type) &&
		    strcmp(json_string_value(type), "DELETE") == 0) ||
		    (json_is_integer(type) && json_integer_value(type) == 1))
			out->events[i].type = ETCD_EVENT_DELETE;
		else
			goto bad;
		if (etcd_parse_kv(json_object_get(ev, "kv"), &out->events[i].kv) < 0)
			goto bad;
		out->n_events = i + 1;
	}
	return 0;
bad:
	etcd_watch_msg_clear(out);
	return -EPROTO;
}

void ndjson_init(struct ndjson *nd, size_t max)
{
	memset(nd, 0, sizeof(*nd));
	nd->max = max;
}

void ndjson_free(struct ndjson *nd)
{
	free(nd->buf);
	memset(nd, 0, sizeof(*nd));
}

static int ndjson_append(struct ndjson *nd, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	if (nd->len + len > nd->max)
		return -EMSGSIZE;
	if (nd->len + len > nd->cap) {
		size_t cap = nd->cap ? nd->cap : 4096;
		char *p;

		while (cap < nd->len + len)
			cap *= 2;
		if (cap > nd->max)
			cap = nd->max;
		p = realloc(nd->buf, cap);
		if (p == NULL)
			return -ENOMEM;
		nd->buf = p;
		nd->cap = cap;
	}
	memcpy(nd->buf + nd->len, data, len);
	nd->len += len;
	return 0;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int ndjson_feed(struct ndjson *nd, const char *data, size_t len,
    ndjson_line_cb cb, void *ud)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t part = nl ? (size_t)(nl - data) : len;
		int r;

		r = ndjson_append(nd, data, part);
		if (r < 0)
			return r;
		if (nl == NULL)
			return 0;
		if (!blank(nd->buf, nd->len)) {
			r = cb(nd->buf, nd->len, ud);
			if (r < 0)
				return r;
		}
		nd->len = 0;
		data += part + 1;
		len -= part + 1;
	}
	return 0;
}

int ndjson_finish(struct ndjson *nd, ndjson_line_cb cb, void *ud)
{
	int r = 0;

	if (nd->len > 0 && !blank(nd->buf, nd->len))
		r = cb(nd->buf, nd->len, ud);
	nd->len = 0;
	return r;
}
