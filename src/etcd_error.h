/*
 * etcd_error.h - etcd's error answers: what the gateway sent back when a
 * request failed (status, gRPC code, message), parsed from every body
 * shape it uses, with no I/O.
 */
#ifndef KM_ETCD_ERROR_H
#define KM_ETCD_ERROR_H

#include <stddef.h>

struct etcd_error {
	long http_status;
	int grpc_code;          /* -1 when unknown */
	char message[256];
};

/* An error body, flat or nested, JSON or text. Always fills err. */
void etcd_parse_error(long http_status, const char *body, size_t len,
    struct etcd_error *err);

#endif
