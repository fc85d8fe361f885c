/*
 * etcd_sync.h - a blocking etcd client for kingsmootctl: one request at a
 * time, tried on each endpoint in turn, request_timeout each. It shares
 * the daemon's transport (etcd_transport.c) and login rules (etcd_auth.c):
 * with etcd.username set it logs in first, and once more when etcd
 * refuses the token.
 */
#ifndef KM_ETCD_SYNC_H
#define KM_ETCD_SYNC_H

#include <stddef.h>
#include <jansson.h>

#include "config.h"
#include "etcd_auth.h"
#include "etcd_transport.h"

struct etcd_sync {
	const struct config *cfg;
	struct etcd_transport transport;
	struct etcd_auth auth;
	/* Told of each endpoint that failed before another one answered. */
	void (*endpoint_failed)(const char *endpoint, const char *why, void *ud);
	void *ud;
};

/* 0, or -errno with why (a TLS file that cannot be read). */
int etcd_sync_init(struct etcd_sync *s, const struct config *cfg, char *why,
    size_t whylen);
void etcd_sync_free(struct etcd_sync *s);

/*
 * POST body (stolen) to path. 0 with *answer, the caller's to decref;
 * -EREMOTEIO when etcd said no, -EACCES when it refused the login, or
 * another -errno when no endpoint answered. why says it for the log.
 */
int etcd_sync_call(struct etcd_sync *s, const char *path, json_t *body,
    json_t **answer, char *why, size_t whylen);

#endif
