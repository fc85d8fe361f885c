/*
 * etcdproto_auth.c - the gateway's answers about authentication, and what
 * etcd's errors mean (see etcdproto.h): the token of a login, a watch's
 * cancel reason, and the tests on an error's HTTP status and gRPC code.
 */
#include "etcdproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* gRPC status codes (google.golang.org/grpc/codes). */
enum {
	GRPC_CANCELED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_UNAVAILABLE = 14,
	GRPC_UNAUTHENTICATED = 16,
};

static const char *const grpc_code_names[] = {
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
	"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
	"Internal", "Unavailable", "DataLoss", "Unauthenticated",
};

static bool token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

int etcd_parse_authenticate(json_t *body, char **token)
{
	json_t *t = json_is_object(body) ? json_object_get(body, "token") : NULL;
	const char *text;
	size_t len;

	*token = NULL;
	if (!json_is_string(t))
		return -EPROTO;
	text = json_string_value(t);
	len = json_string_length(t);
	if (len == 0 || len > ETCD_MAX_TOKEN || strlen(text) != len)
		return -EPROTO;
	for (size_t i = 0; i < len; i++)
		if (!token_char((unsigned char)text[i]))
			return -EPROTO;
	*token = xstrdup(text);
	return 0;
}

void etcd_parse_cancel_reason(const char *reason, struct etcd_error *err)
{
	static const char code_tag[] = "rpc error: code = ";
	static const char desc_tag[] = " desc = ";
	const char *name, *desc;
	size_t name_len;

	err->http_status = 0;
	err->grpc_code = -1;
	snprintf(err->message, sizeof(err->message), "%s", reason ? reason : "");
	if (reason == NULL || strncmp(reason, code_tag, sizeof(code_tag) - 1) != 0)
		return;
	name = reason + sizeof(code_tag) - 1;
	desc = strstr(name, desc_tag);
	if (desc == NULL)
		return;
	name_len = (size_t)(desc - name);
	for (size_t i = 0; i < ARRAY_SIZE(grpc_code_names); i++) {
		if (strlen(grpc_code_names[i]) == name_len &&
		    strncmp(grpc_code_names[i], name, name_len) == 0) {
			err->grpc_code = (int)i;
			snprintf(err->message, sizeof(err->message), "%s",
			    desc + sizeof(desc_tag) - 1);
			return;
		}
	}
}

bool etcd_error_retryable(const struct etcd_error *e)
{
	/* Unknown is what a write gets when quorum is lost. */
	return e->http_status >= 500 || e->grpc_code == GRPC_UNAVAILABLE ||
	    e->grpc_code == GRPC_UNKNOWN || e->grpc_code == GRPC_CANCELED ||
	    e->grpc_code == GRPC_DEADLINE_EXCEEDED;
}

bool etcd_error_token_refused(const struct etcd_error *e)
{
	if (e->grpc_code == GRPC_UNAUTHENTICATED ||
	    (e->grpc_code == -1 && e->http_status == 401))
		return true;
	return e->grpc_code == GRPC_INVALID_ARGUMENT &&
	    (strcmp(e->message, "etcdserver: revision of auth store is old") == 0 ||
	    strcmp(e->message, "etcdserver: user name is empty") == 0);
}

bool etcd_error_permission_denied(const struct etcd_error *e)
{
	return e->grpc_code == GRPC_PERMISSION_DENIED ||
	    (e->grpc_code == -1 && e->http_status == 403);
}

bool etcd_error_bad_credentials(const struct etcd_error *e)
{
	return e->grpc_code == GRPC_INVALID_ARGUMENT;
}

bool etcd_error_auth_disabled(const struct etcd_error *e)
{
	return e->grpc_code == GRPC_FAILED_PRECONDITION;
}

bool etcd_error_common_name_refused(const struct etcd_error *e)
{
	static const char text[] = "CommonName of client sending a request "
	    "against gateway will be ignored";

	return e->http_status == 400 && e->grpc_code == -1 &&
	    strncmp(e->message, text, sizeof(text) - 1) == 0;
}
