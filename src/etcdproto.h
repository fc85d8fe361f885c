/*
 * etcdproto.h - etcd v3 JSON gateway messages: building requests and
 * parsing responses, with no I/O (see PROTOCOL.md for the wire facts).
 *
 * Every response field is treated as optional, because the gateway omits
 * proto3 zero values, and int64 fields arrive as JSON strings.
 */
#ifndef KM_ETCDPROTO_H
#define KM_ETCDPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "etcd_error.h"

/* Responses larger than this are failed requests, not memory growth. */
#define ETCD_MAX_RESPONSE (4u << 20)
/* A JWT with an RSA-4096 signature is under 1 KiB; a simple token, 30 B. */
#define ETCD_MAX_TOKEN 4096
/* Candidates we track under one election prefix. */
#define ETCD_MAX_KVS 4096
/* jansson spends some 150 bytes on each JSON value, so a 4 MiB answer of
 * "[]," would take 200 MiB. The largest real answer, ETCD_MAX_KVS keys of
 * 13 values and names each, stays under this. */
#define ETCD_MAX_JSON_VALUES (16u * ETCD_MAX_KVS)

struct etcd_kv {
	char *key;              /* decoded bytes, NUL-terminated */
	size_t key_len;
	char *value;            /* decoded bytes, NUL-terminated; "" if absent */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

enum etcd_event_type { ETCD_EVENT_PUT, ETCD_EVENT_DELETE };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv;
};

struct etcd_watch_msg {
	int64_t revision;       /* header.revision; 0 if absent */
	bool created;
	bool canceled;
	int64_t compact_revision;
	char cancel_reason[256];
	struct etcd_event *events;
	size_t n_events;
};

/* json_loadb() for text from etcd: NULL, with err->text saying so, when
 * the text holds more than ETCD_MAX_JSON_VALUES values and member names. */
json_t *etcd_json_loadb(const char *text, size_t len, json_error_t *err);

/* Field helpers: int64 given as string or number; absent -> 0. */
int etcd_json_int64(json_t *obj, const char *field, int64_t *out);

/* Requests. Keys and values are raw bytes; base64 is applied here. */
json_t *etcd_req_grant(int64_t ttl);
json_t *etcd_req_lease_id(int64_t id);   /* revoke */
/* The keepalive's body, {"ID":"N"}, as text (etcdproto_keepalive.c). */
#define ETCD_KEEPALIVE_REQ_MAX 32
void etcd_req_keepalive_text(int64_t lease, char out[ETCD_KEEPALIVE_REQ_MAX]);
json_t *etcd_req_create_if_absent(const char *key, size_t key_len,
    const char *value, size_t value_len, int64_t lease);
json_t *etcd_req_range_prefix(const char *prefix, size_t len);
json_t *etcd_req_count_key(const char *key, size_t key_len);
json_t *etcd_req_delete_if_created(const char *key, size_t key_len,
    int64_t create_revision);
json_t *etcd_req_watch_prefix(const char *prefix, size_t len, int64_t start_revision);
json_t *etcd_req_authenticate(const char *name, const char *password);

/* Responses. All return 0 or -EPROTO for a malformed body. */
int etcd_parse_header_revision(json_t *body, int64_t *revision);
int etcd_parse_grant(json_t *body, int64_t *id, int64_t *ttl);
/* ttl is 0 when the lease is gone (the gateway omits TTL). */
int etcd_parse_keepalive(json_t *body, int64_t *ttl);
/* The same, and the answer must name lease. */
int etcd_parse_keepalive_for(json_t *body, int64_t lease, int64_t *ttl);
/* The same from body when it is not NULL, else from text, which needs no
 * tree in the form etcd writes (etcdproto_keepalive.c). On success, also
 * the header's revision (0 when absent or unreadable). */
int etcd_parse_keepalive_answer(json_t *body, const char *text, size_t len,
    int64_t lease, int64_t *ttl, int64_t *revision);
int etcd_parse_create(json_t *body, bool *created, int64_t *create_revision,
    int64_t *lease);
int etcd_parse_range(json_t *body, int64_t *revision, struct etcd_kv **kvs,
    size_t *n_kvs);
int etcd_parse_watch_msg(json_t *msg, struct etcd_watch_msg *out);
/* The same from the text of one message, when it has the form etcd writes
 * for events (etcdproto_watch.c); false, with *out cleared, for anything
 * else, which etcd_parse_watch_msg() must then decide. */
bool etcd_scan_watch_msg(const char *text, size_t len, struct etcd_watch_msg *out);

/*
 * Authentication (etcdproto_auth.c, as are the error tests below). The
 * token goes into a header, so only printable ASCII without spaces is
 * taken (*token malloc'd).
 */
int etcd_parse_authenticate(json_t *body, char **token);
/* A watch's cancel_reason, "rpc error: code = NAME desc = MESSAGE", as an
 * error (http_status 0); text of any other form is the message. */
void etcd_parse_cancel_reason(const char *reason, struct etcd_error *err);

/*
 * What an error says, by HTTP status and gRPC code. Only InvalidArgument
 * (3) covers several meanings, and there the message tells them apart, as
 * etcd's own Go client does.
 */
/* Another member may answer: Unavailable, Unknown, Canceled, DeadlineExceeded, 5xx. */
bool etcd_error_retryable(const struct etcd_error *e);
/* The token sent was refused, or none was sent where one is needed: it
 * expired, etcd restarted, users or roles changed (the auth revision
 * moved on), or authentication was turned on. Log in again. */
bool etcd_error_token_refused(const struct etcd_error *e);
/* The user is known but its roles do not allow this. */
bool etcd_error_permission_denied(const struct etcd_error *e);

/* Of a failed /v3/auth/authenticate: wrong user name or password. */
bool etcd_error_bad_credentials(const struct etcd_error *e);
/* Of a failed /v3/auth/authenticate: etcd has authentication off. */
bool etcd_error_auth_disabled(const struct etcd_error *e);

/* etcd's gateway refuses every client certificate with a CommonName
 * while authentication is on (PROTOCOL.md 5, gotcha 1). */
bool etcd_error_common_name_refused(const struct etcd_error *e);

int etcd_parse_kv(json_t *obj, struct etcd_kv *kv);
void etcd_kv_clear(struct etcd_kv *kv);
void etcd_kvs_free(struct etcd_kv *kvs, size_t n);
void etcd_watch_msg_clear(struct etcd_watch_msg *msg);

/*
 * NDJSON framing for the watch stream: bytes in, one callback per line.
 * A line longer than max is an error (-EMSGSIZE): the stream is dropped.
 */
struct ndjson {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
};
typedef int (*ndjson_line_cb)(const char *line, size_t len, void *ud);
void ndjson_init(struct ndjson *nd, size_t max);
void ndjson_free(struct ndjson *nd);
int ndjson_feed(struct ndjson *nd, const char *data, size_t len,
    ndjson_line_cb cb, void *ud);
/* At end of stream: the unterminated remainder is a last line. */
int ndjson_finish(struct ndjson *nd, ndjson_line_cb cb, void *ud);

#endif
