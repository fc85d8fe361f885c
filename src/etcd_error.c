/*
 * etcd_error.c - etcd's error answers (see etcd_error.h and PROTOCOL.md
 * sections 0 and 6 for the bodies).
 */
#include "etcd_error.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "etcdproto.h"

void etcd_parse_error(long http_status, const char *body, size_t len,
    struct etcd_error *err)
{
	json_t *root, *e, *m;
	json_error_t jerr;
	int64_t code = -1;

	err->http_status = http_status;
	err->grpc_code = -1;
	err->message[0] = '\0';
	root = body && len ? json_loadb(body, len, 0, &jerr) : NULL;
	if (root == NULL) {
		/* Plain text (404/405, the gateway's CN check): first line. */
		size_t n = 0;
		while (body && n < len && n < sizeof(err->message) - 1 &&
		    body[n] != '\n' && body[n] != '\r')
			n++;
		if (n)
			memcpy(err->message, body, n);
		err->message[n] = '\0';
		if (n == 0)
			snprintf(err->message, sizeof(err->message), "HTTP %ld", http_status);
		return;
	}
	e = json_object_get(root, "error");
	if (json_is_object(e)) {
		/* Stream endpoints: {"error":{"grpc_code","http_code","message"}}. */
		m = json_object_get(e, "message");
		if (json_object_get(e, "grpc_code") == NULL ||
		    etcd_json_int64(e, "grpc_code", &code) < 0)
			code = -1;
	} else {
		m = json_object_get(root, "message");
		if (!json_is_string(m))
			m = e;
		if (!json_is_object(root) || json_object_get(root, "code") == NULL ||
		    etcd_json_int64(root, "code", &code) < 0)
			code = -1;
	}
	if (json_is_string(m))
		snprintf(err->message, sizeof(err->message), "%s", json_string_value(m));
	else
		snprintf(err->message, sizeof(err->message), "HTTP %ld", http_status);
	err->grpc_code = code >= 0 && code < 100 ? (int)code : -1;
	json_decref(root);
}
