/*
 * etcd_error.h - etcd's error answers: what the gateway sent back when a
 * request failed (status, gRPC code, message), parsed from every body
 * shape it uses, and what that failure means to us; no I/O.
 *
 * Body shapes (PROTOCOL.md section 0):
 *   3.4 unary    {"error":"…","message":"…","code":5}
 *   3.4 stream   {"error":{"grpc_code":14,"http_code":503,"message":"…",…}}
 *   3.5+ unary   {"code":5,"message":"…","details":[]}     (no "error")
 *   3.5+ stream  {"error":{"code":14,"message":"…","details":[]}}
 *   text         "Not Found", "Method Not Allowed", the gateway's CN check
 * Which fields are present says nothing about what went wrong: only the
 * gRPC code and the HTTP status do (etcd_error_kind).
 */
#ifndef KM_ETCD_ERROR_H
#define KM_ETCD_ERROR_H

#include <stddef.h>

struct etcd_error {
	long http_status;
	int grpc_code;          /* -1 when unknown */
	char message[256];
};

/* An error body, in any of the shapes above. Always fills err. */
void etcd_parse_error(long http_status, const char *body, size_t len,
    struct etcd_error *err);

enum etcd_error_kind {
	ETCD_ERR_OTHER,             /* a refusal another member would repeat */
	ETCD_ERR_UNAVAILABLE,       /* this member cannot answer now: no leader,
	                             * timed out, shutting down; try another */
	ETCD_ERR_NOT_FOUND,         /* NotFound: the lease is gone */
	ETCD_ERR_OUT_OF_RANGE,      /* OutOfRange: revision compacted (or in the
	                             * future), lease TTL too large */
	ETCD_ERR_INVALID_ARGUMENT,  /* InvalidArgument: a bad request, a wrong
	                             * password, a missing token */
	ETCD_ERR_PERMISSION_DENIED, /* PermissionDenied: the user may not */
	ETCD_ERR_UNAUTHENTICATED,   /* Unauthenticated: the token is invalid or
	                             * expired; log in again */
};

/* What err means: by its gRPC code when it has one, else by the HTTP
 * status. Never by the message text. */
enum etcd_error_kind etcd_error_kind(const struct etcd_error *err);

#endif
