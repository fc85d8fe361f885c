/*
 * etcd_error.h - etcd's error answers: what the gateway sent back when a
 * request failed (status, gRPC code, message), parsed from every body
 * shape it uses; no I/O. What an error means is decided from its gRPC
 * code and HTTP status alone (etcdproto.h, etcdproto_auth.c).
 *
 * Body shapes (PROTOCOL.md section 0):
 *   3.4 unary    {"error":"…","message":"…","code":5}
 *   3.4 stream   {"error":{"grpc_code":14,"http_code":503,"message":"…",…}}
 *   3.5+ unary   {"code":5,"message":"…","details":[]}     (no "error")
 *   3.5+ stream  {"error":{"code":14,"message":"…","details":[]}}
 *   text         "Not Found", "Method Not Allowed", the gateway's CN check
 * Which fields are present says nothing about what went wrong: only the
 * gRPC code and the HTTP status do.
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

#endif
