/*
 * etcd_error.c - etcd's error answers (see etcd_error.h for the shapes and
 * PROTOCOL.md sections 0 and 6 for the bodies).
 */
#include "etcd_error.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "etcdproto.h"

static void text_error(long http_status, const char *body, size_t len,
    struct etcd_error *err)
{
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
}

/* The code in obj's field, or -1 when absent or not a usable code. */
static int code_field(json_t *obj, const char *field)
{
	int64_t code;

	if (json_object_get(obj, field) == NULL || etcd_json_int64(obj, field, &code) < 0)
		return -1;
	return code >= 0 && code < 100 ? (int)code : -1;
}

void etcd_parse_error(long http_status, const char *body, size_t len,
    struct etcd_error *err)
{
	json_t *root, *status, *m;
	json_error_t jerr;

	err->http_status = http_status;
	err->grpc_code = -1;
	err->message[0] = '\0';
	root = body && len ? etcd_json_loadb(body, len, &jerr) : NULL;
	if (root == NULL) {
		text_error(http_status, body, len, err);
		return;
	}
	/* A failed stream wraps the status in "error"; a unary error is the
	 * status itself, with or without a duplicate "error" string. */
	status = json_object_get(root, "error");
	if (!json_is_object(status))
		status = json_is_object(root) ? root : NULL;
	if (status) {
		/* 3.4's stream chunk says grpc_code; every other shape says code. */
		err->grpc_code = json_object_get(status, "grpc_code") ?
		    code_field(status, "grpc_code") : code_field(status, "code");
		m = json_object_get(status, "message");
		if (!json_is_string(m))
			m = json_object_get(status, "error");
	} else {
		m = NULL;
	}
	if (json_is_string(m))
		snprintf(err->message, sizeof(err->message), "%s", json_string_value(m));
	else
		snprintf(err->message, sizeof(err->message), "HTTP %ld", http_status);
	json_decref(root);
}
