/*
 * etcd.h - asynchronous etcd v3 client over libcurl's multi interface.
 *
 * Unary calls carry request_timeout per attempt and move to the next
 * endpoint once on a transport error or a 5xx answer. Watches are
 * long-lived streams, one HTTP connection each. Callbacks run from the
 * event loop, never from inside libcurl.
 */
#ifndef KM_ETCD_H
#define KM_ETCD_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "etcdproto.h"

struct etcd_result {
	/* 0; -ETIMEDOUT, -ECONNREFUSED, -EIO (transport); -EMSGSIZE, -EPROTO
	 * (oversized or garbage answer); -EREMOTEIO (etcd said no: see error) */
	int err;
	json_t *body;           /* borrowed, only during the callback */
	struct etcd_error error;
	const char *endpoint;
};

typedef void (*etcd_done_cb)(const struct etcd_result *res, void *ud);
typedef void (*etcd_watch_msg_cb)(const struct etcd_watch_msg *msg, void *ud);
/* The stream ended: err is 0 on a clean end, else why it failed. */
typedef void (*etcd_watch_end_cb)(int err, const char *why, void *ud);

struct etcd_call;
struct etcd_watch;

int etcd_init(const struct config *cfg);
void etcd_shutdown(void);
/* Apply settings that do not need a new session (request_timeout). */
void etcd_set_timeout(double request_timeout);

/* Start "POST <endpoint><path>" with body (stolen). NULL on failure. */
struct etcd_call *etcd_call(const char *path, json_t *body, etcd_done_cb cb, void *ud);
/* The callback will not run. */
void etcd_call_cancel(struct etcd_call *call);

struct etcd_watch *etcd_watch_start(const char *prefix, size_t len,
    int64_t start_revision, etcd_watch_msg_cb on_msg, etcd_watch_end_cb on_end,
    void *ud);
/* Neither callback runs afterwards; safe from inside either callback. */
void etcd_watch_stop(struct etcd_watch *w);

/* Counts endpoint switches, so a watch can follow the unary calls. */
unsigned etcd_endpoint_generation(void);
const char *etcd_current_endpoint(void);

#endif
