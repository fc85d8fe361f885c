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
	 * (oversized or garbage answer); -EREMOTEIO (etcd said no: see error);
	 * -EACCES (etcd refused our login: nothing was sent) */
	int err;
	json_t *body;           /* borrowed, only during the callback */
	/* For etcd_call_text(): the answer, when it is a result, instead of
	 * body (which is then NULL). Borrowed, only during the callback. */
	const char *text;
	size_t text_len;
	struct etcd_error error;
	const char *endpoint;
};

typedef void (*etcd_done_cb)(const struct etcd_result *res, void *ud);
typedef void (*etcd_watch_msg_cb)(const struct etcd_watch_msg *msg, void *ud);
/* The stream ended: err is 0 on a clean end, else why it failed. */
typedef void (*etcd_watch_end_cb)(int err, const char *why, void *ud);

struct etcd_call;
struct etcd_watch;

/* Set up the client: -ENOMEM, or -EINVAL when a TLS file cannot be read
 * (logged). With etcd.username set, every request and watch carries a
 * token, logging in first (/v3/auth/authenticate) and again once when
 * etcd refuses it. */
int etcd_init(const struct config *cfg);
void etcd_shutdown(void);
/* Apply what a reload may change without a new session (SIGHUP): the
 * request timeout, and the password and TLS files as they are now. The
 * files read before stay in use if the new ones cannot be read. */
void etcd_reconfigure(const struct config *cfg);
/* Tell cb when etcd denies a request for lack of permission (with a
 * fresh token): what that means for the election is the caller's. */
void etcd_set_denied_handler(void (*cb)(const char *why, void *ud), void *ud);

/* Start "POST <endpoint><path>" with body (stolen). NULL on failure. */
struct etcd_call *etcd_call(const char *path, json_t *body, etcd_done_cb cb, void *ud);
/* The same for a call made all the time, such as a keepalive: body_text
 * is JSON already (copied), and a successful answer that starts as
 * {"result": comes as res->text, for a parser that needs no tree. */
struct etcd_call *etcd_call_text(const char *path, const char *body_text,
    etcd_done_cb cb, void *ud);
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
