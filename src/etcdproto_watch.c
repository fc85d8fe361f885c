/*
 * etcdproto_watch.c - a watch message read from its text when it has the
 * exact form etcd's gateway writes for events:
 *
 *   {"result":{"header":{...}[,"created":true][,"events":[EVENT,...]]}}
 *   EVENT: {["type":"DELETE",|"type":"PUT",]"kv":{FIELD,...}}
 *   FIELD: "key"|"value":"BASE64", or "create_revision"|"mod_revision"|
 *          "version"|"lease":"DIGITS", each at most once
 *
 * When a leader leaves, every follower gets its key's DELETE at the same
 * moment and competes for the CPU with the one that must take over.
 * Building and freeing a jansson tree was most of what a follower did
 * for an event (some 50,000 of 64,000 instructions). Anything else
 * (watch_id, canceled, prev_kv, escapes, numbers without quotes, a
 * duplicate, more than SCAN_EVENTS_MAX events) is not an error here: it
 * goes to etcd_parse_watch_msg(), which decides as it always has, so the
 * scan can only agree with the tree (fuzz_watch checks that).
 */
#include "etcdproto.h"
#include "etcdproto_scan.h"

#include <string.h>

#include "util.h"

/* One txn's events come in one message; the candidates' own txns have
 * one or two. Beyond this the tree is fast enough. */
#define SCAN_EVENTS_MAX 64

enum kv_field {
	KV_KEY = 1 << 0,
	KV_VALUE = 1 << 1,
	KV_CREATE_REVISION = 1 << 2,
	KV_MOD_REVISION = 1 << 3,
	KV_VERSION = 1 << 4,
	KV_LEASE = 1 << 5,
};

static bool scan_bytes(struct scan *s, char **out, size_t *len)
{
	const char *text;
	size_t n;
	long decoded;

	if (!scan_base64_string(s, &text, &n))
		return false;
	decoded = b64_decode_len(text, n, out);
	if (decoded < 0)
		return false;
	*len = (size_t)decoded;
	return true;
}

static bool scan_kv_field(struct scan *s, struct etcd_kv *kv, unsigned *seen)
{
	static const struct {
		const char *name;
		enum kv_field field;
		size_t offset;
	} numbers[] = {
		{ "\"create_revision\":", KV_CREATE_REVISION,
		    offsetof(struct etcd_kv, create_revision) },
		{ "\"mod_revision\":", KV_MOD_REVISION,
		    offsetof(struct etcd_kv, mod_revision) },
		{ "\"version\":", KV_VERSION, offsetof(struct etcd_kv, version) },
		{ "\"lease\":", KV_LEASE, offsetof(struct etcd_kv, lease) },
	};

	if (scan_take(s, "\"key\":")) {
		if (*seen & KV_KEY)
			return false;
		*seen |= KV_KEY;
		return scan_bytes(s, &kv->key, &kv->key_len);
	}
	if (scan_take(s, "\"value\":")) {
		if (*seen & KV_VALUE)
			return false;
		*seen |= KV_VALUE;
		return scan_bytes(s, &kv->value, &kv->value_len);
	}
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		if (!scan_take(s, numbers[i].name))
			continue;
		if (*seen & numbers[i].field)
			return false;
		*seen |= numbers[i].field;
		return scan_int64_string(s,
		    (int64_t *)((char *)kv + numbers[i].offset));
	}
	return false;
}

static bool scan_kv(struct scan *s, struct etcd_kv *kv)
{
	unsigned seen = 0;

	memset(kv, 0, sizeof(*kv));
	if (!scan_take(s, "{"))
		return false;
	do {
		if (!scan_kv_field(s, kv, &seen))
			return false;
	} while (scan_take(s, ","));
	if (!scan_take(s, "}") || kv->key_len == 0)
		return false;
	/* As the tree parser has it: an absent value is "". */
	if (kv->value == NULL)
		kv->value = xstrdup("");
	return true;
}

static bool scan_event(struct scan *s, struct etcd_event *ev)
{
	ev->type = ETCD_EVENT_PUT;
	if (scan_take(s, "{\"type\":\"DELETE\","))
		ev->type = ETCD_EVENT_DELETE;
	else if (!scan_take(s, "{\"type\":\"PUT\",") && !scan_take(s, "{"))
		return false;
	return scan_take(s, "\"kv\":") && scan_kv(s, &ev->kv) && scan_take(s, "}");
}

bool etcd_scan_watch_msg(const char *text, size_t len, struct etcd_watch_msg *out)
{
	struct etcd_event events[SCAN_EVENTS_MAX];
	struct scan s = { text, text ? text + len : NULL };
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (text == NULL || !scan_take(&s, "{\"result\":{\"header\":") ||
	    !scan_header(&s, &out->revision))
		return false;
	out->created = scan_take(&s, ",\"created\":true");
	if (scan_take(&s, ",\"events\":[")) {
		do {
			if (n == SCAN_EVENTS_MAX)
				goto no;
			/* Counted first: a half-read kv must be freed too. */
			memset(&events[n], 0, sizeof(events[n]));
			if (!scan_event(&s, &events[n++]))
				goto no;
		} while (scan_take(&s, ","));
		if (!scan_take(&s, "]"))
			goto no;
	}
	if (!scan_take(&s, "}}") || !scan_at_end(&s))
		goto no;
	if (n > 0) {
		out->events = xcalloc(n, sizeof(*out->events));
		memcpy(out->events, events, n * sizeof(*events));
		out->n_events = n;
	}
	return true;
no:
	for (size_t i = 0; i < n; i++)
		etcd_kv_clear(&events[i].kv);
	memset(out, 0, sizeof(*out));
	return false;
}
