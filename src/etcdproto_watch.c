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

/* One "name":value of a kv; *seen has a bit per field, so that a
 * duplicate goes to the tree, which keeps the last. */
static bool scan_kv_field(struct scan *s, struct etcd_kv *kv, unsigned *seen)
{
	const struct {
		const char *name;
		char **bytes;
		size_t *len;
		int64_t *number;
	} fields[] = {
		{ "\"key\":", &kv->key, &kv->key_len, NULL },
		{ "\"value\":", &kv->value, &kv->value_len, NULL },
		{ "\"create_revision\":", NULL, NULL, &kv->create_revision },
		{ "\"mod_revision\":", NULL, NULL, &kv->mod_revision },
		{ "\"version\":", NULL, NULL, &kv->version },
		{ "\"lease\":", NULL, NULL, &kv->lease },
	};

	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!scan_take(s, fields[i].name))
			continue;
		if (*seen & (1u << i))
			return false;
		*seen |= 1u << i;
		return fields[i].number ? scan_int64_string(s, fields[i].number) :
		    scan_bytes(s, fields[i].bytes, fields[i].len);
	}
	return false;
}

/* kv comes zeroed, and on a "no" the caller frees what it holds. */
static bool scan_kv(struct scan *s, struct etcd_kv *kv)
{
	unsigned seen = 0;

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
