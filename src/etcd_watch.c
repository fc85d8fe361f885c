/*
 * etcd_watch.c - watch streams of the daemon's etcd client (see etcd.h):
 * one HTTP connection each, read as NDJSON, with messages handed over
 * from the event loop rather than from inside libcurl.
 *
 * etcd checks a watch's token only when the watch is created, and answers
 * a refused one with a created-and-cancelled message on an open stream:
 * such a watch logs in again and is created once more, unseen by its
 * consumer.
 */
#include "etcd_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "metrics.h"
#include "util.h"

#define C etcd_client
#define WATCH_MAX_QUEUED 4096

struct queued_msg {
	struct etcd_watch_msg msg;
	struct queued_msg *next;
};

struct etcd_watch {
	CURL *easy;
	unsigned transport_generation;  /* of easy */
	char *body_text;
	etcd_watch_msg_cb on_msg;
	etcd_watch_end_cb on_end;
	void *ud;
	struct ndjson framer;
	char stream_error[256]; /* a final {"error":...} object */
	int parse_error;
	/* Messages parsed inside libcurl's write callback wait here, to be
	 * handed over from the loop, where our callbacks may call libcurl. */
	struct queued_msg *queue_head, *queue_tail;
	size_t queued;
	bool in_multi;
	bool dead;
	bool waiting;           /* for a login to finish */
	bool token_retried;     /* created again after etcd refused its token */
	bool token_refused;     /* etcd just did: abort and log in */
	unsigned token_generation;      /* of the token it was sent with */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* A failure before the stream began, reported from the loop. */
	int failure;
	char failure_why[256];
	/* Bounds creation; fires at once to report a failure. */
	struct loop_timer created_timer;
	bool created;
	struct etcd_watch *next;
};

static void watch_drop_queue(struct etcd_watch *w)
{
	while (w->queue_head) {
		struct queued_msg *q = w->queue_head;

		w->queue_head = q->next;
		etcd_watch_msg_clear(&q->msg);
		free(q);
	}
	w->queue_tail = NULL;
	w->queued = 0;
}

static void watch_free(struct etcd_watch *w)
{
	watch_drop_queue(w);
	loop_timer_disarm(&w->created_timer);
	etcd_easy_give(w->easy, w->transport_generation);
	etcd_transport_headers_free(w->headers);
	ndjson_free(&w->framer);
	free(w->body_text);
	free(w);
}

static void watch_detach(struct etcd_watch *w)
{
	if (w->in_multi)
		curl_multi_remove_handle(C.multi, w->easy);
	w->in_multi = false;
}

static void watch_end(struct etcd_watch *w, int err, const char *why)
{
	if (w->dead)
		return;
	watch_detach(w);
	w->dead = true;
	loop_timer_disarm(&w->created_timer);
	/* A watch counts once, when it ends: failed unless it ended cleanly. */
	metrics_count_request("/v3/watch", err != 0);
	if (w->on_end)
		w->on_end(err, why, w->ud);
}

/* A message in any form the scan does not take, through a jansson tree. */
static int watch_msg_from_tree(struct etcd_watch *w, const char *line, size_t len,
    struct etcd_watch_msg *msg)
{
	json_error_t jerr;
	json_t *root;
	int r;

	root = etcd_json_loadb(line, len, &jerr);
	if (root == NULL) {
		w->parse_error = -EPROTO;
		snprintf(w->stream_error, sizeof(w->stream_error),
		    "unparsable watch message: %s", jerr.text);
		return -EPROTO;
	}
	if (json_object_get(root, "error") != NULL) {
		struct etcd_error e;
		char *text = json_dumps(root, JSON_COMPACT);

		etcd_parse_error(200, text, text ? strlen(text) : 0, &e);
		free(text);
		snprintf(w->stream_error, sizeof(w->stream_error), "%s", e.message);
		json_decref(root);
		return -EREMOTEIO;
	}
	r = etcd_parse_watch_msg(root, msg);
	json_decref(root);
	if (r < 0) {
		w->parse_error = r;
		snprintf(w->stream_error, sizeof(w->stream_error),
		    "malformed watch message");
	}
	return r;
}

static int watch_line(const char *line, size_t len, void *ud)
{
	struct etcd_watch *w = ud;
	struct etcd_watch_msg msg;
	struct queued_msg *q;
	int r;

	if (!etcd_scan_watch_msg(line, len, &msg)) {
		r = watch_msg_from_tree(w, line, len, &msg);
		if (r < 0)
			return r;
	}
	if (msg.created && msg.canceled) {
		struct etcd_error e;

		etcd_parse_cancel_reason(msg.cancel_reason, &e);
		if (etcd_login_retry_with_new_token(&e, w->token_retried)) {
			etcd_watch_msg_clear(&msg);
			w->token_refused = true;
			return -ECANCELED;
		}
	}
	if (msg.created) {
		w->created = true;
		loop_timer_disarm(&w->created_timer);
	}
	if (w->queued >= WATCH_MAX_QUEUED) {
		etcd_watch_msg_clear(&msg);
		snprintf(w->stream_error, sizeof(w->stream_error),
		    "more than %d watch messages at once", WATCH_MAX_QUEUED);
		return -ENOBUFS;
	}
	q = xcalloc(1, sizeof(*q));
	q->msg = msg;
	if (w->queue_tail)
		w->queue_tail->next = q;
	else
		w->queue_head = q;
	w->queue_tail = q;
	w->queued++;
	return 0;
}

static void report_denied(const struct etcd_watch_msg *msg)
{
	struct etcd_error e;

	etcd_parse_cancel_reason(msg->cancel_reason, &e);
	if (etcd_error_permission_denied(&e))
		etcd_login_denied("/v3/watch", e.message);
}

/* Hand queued messages over, in order, until the consumer stops us. */
static void watch_deliver(struct etcd_watch *w)
{
	while (w->queue_head && !w->dead) {
		struct queued_msg *q = w->queue_head;

		w->queue_head = q->next;
		if (w->queue_head == NULL)
			w->queue_tail = NULL;
		w->queued--;
		if (w->on_msg)
			w->on_msg(&q->msg, w->ud);
		if (q->msg.created && q->msg.canceled)
			report_denied(&q->msg);
		etcd_watch_msg_clear(&q->msg);
		free(q);
	}
}

static size_t watch_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct etcd_watch *w = ud;
	size_t len = size * nmemb;

	if (w->dead)
		return 0;
	if (ndjson_feed(&w->framer, data, len, watch_line, w) < 0) {
		if (!w->stream_error[0] && !w->token_refused)
			snprintf(w->stream_error, sizeof(w->stream_error),
			    "watch message too large");
		return 0;
	}
	return len;
}

static void watch_created_timeout(void *ud)
{
	struct etcd_watch *w = ud;

	if (w->failure)
		watch_end(w, w->failure, w->failure_why);
	else if (!w->created)
		watch_end(w, -ETIMEDOUT, "watch was not created in time");
}

static void watch_fail_soon(struct etcd_watch *w, int err, const char *why)
{
	w->waiting = false;
	w->failure = err;
	snprintf(w->failure_why, sizeof(w->failure_why), "%s", why);
	loop_timer_arm_in(&w->created_timer, 0);
}

static int watch_begin(struct etcd_watch *w)
{
	char url[1100];
	/* No timeout: the stream lasts; its creation has a timer below. */
	struct etcd_transfer transfer = {
		.url = url, .errbuf = w->errbuf, .timeout_ms = 0,
		.body = w->body_text, .write = watch_write, .write_data = w,
	};

	ndjson_free(&w->framer);
	ndjson_init(&w->framer, ETCD_MAX_RESPONSE);
	w->stream_error[0] = '\0';
	w->parse_error = 0;
	w->created = false;
	(void)etcd_transport_url(url, sizeof(url), C.endpoints[C.current],
	    "/v3/watch");
	etcd_transport_headers_free(w->headers);
	transfer.headers = etcd_easy_headers(
	    etcd_login_token(&w->token_generation), &w->headers);
	if (transfer.headers == NULL)
		return -ENOMEM;
	etcd_easy_prepare(w->easy, &transfer);
	if (curl_multi_add_handle(C.multi, w->easy) != CURLM_OK)
		return -EIO;
	w->in_multi = true;
	/* A blackholed member never answers; give creation the same budget
	 * as a unary call and its retry. */
	loop_timer_arm_in(&w->created_timer, 2 * (uint64_t)C.timeout_ms + 100);
	return 0;
}

/* Start the stream now, or once the login it needs is done. */
static void watch_dispatch(struct etcd_watch *w)
{
	char why[256];
	int r = etcd_login_step(why, sizeof(why));

	if (r > 0 && watch_begin(w) < 0) {
		r = -EIO;
		snprintf(why, sizeof(why), "cannot start the watch");
	}
	if (r == 0)
		w->waiting = true;
	else if (r < 0)
		watch_fail_soon(w, r, why);
}

void etcd_watches_login_done(int err, const char *why)
{
	for (struct etcd_watch *w = C.watches; w; w = w->next) {
		if (!w->waiting || w->dead)
			continue;
		w->waiting = false;
		if (err < 0)
			watch_fail_soon(w, err, why);
		else if (watch_begin(w) < 0)
			watch_fail_soon(w, -EIO, "cannot start the watch");
	}
}

struct etcd_watch *etcd_watch_start(const char *prefix, size_t len,
    int64_t start_revision, etcd_watch_msg_cb on_msg, etcd_watch_end_cb on_end,
    void *ud)
{
	struct etcd_watch *w;
	json_t *req;

	if (C.multi == NULL)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->easy = etcd_easy_take(&w->transport_generation);
	req = etcd_req_watch_prefix(prefix, len, start_revision);
	w->body_text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	loop_timer_init(&w->created_timer, watch_created_timeout, w);
	if (w->easy == NULL || w->body_text == NULL) {
		watch_free(w);
		return NULL;
	}
	w->on_msg = on_msg;
	w->on_end = on_end;
	w->ud = ud;
	ndjson_init(&w->framer, ETCD_MAX_RESPONSE);
	w->next = C.watches;
	C.watches = w;
	watch_dispatch(w);
	return w;
}

void etcd_watch_stop(struct etcd_watch *w)
{
	if (w == NULL || w->dead)
		return;
	w->on_msg = NULL;
	w->on_end = NULL;
	w->dead = true;
	loop_timer_disarm(&w->created_timer);
	watch_detach(w);
}

static void watch_finish(struct etcd_watch *w, CURLcode rc)
{
	long status = 0;
	char why[320];

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
	watch_detach(w);
	if (w->dead)
		return;
	if (w->token_refused) {
		/* Nothing was delivered: the created message was the refusal. */
		w->token_refused = false;
		w->token_retried = true;
		loop_timer_disarm(&w->created_timer);
		etcd_login_token_refused(w->token_generation);
		watch_dispatch(w);
		return;
	}
	if (rc == CURLE_OK && status >= 200 && status <= 299)
		(void)ndjson_finish(&w->framer, watch_line, w);
	/* What arrived before the end is news, and comes first. */
	watch_deliver(w);
	if (w->dead)
		return;
	if (w->stream_error[0])
		snprintf(why, sizeof(why), "%s", w->stream_error);
	else if (rc != CURLE_OK)
		etcd_transport_explain(&C.transport, rc, w->errbuf, why, sizeof(why));
	else if (status < 200 || status > 299)
		snprintf(why, sizeof(why), "HTTP %ld", status);
	else
		snprintf(why, sizeof(why), "stream ended");
	watch_end(w, rc == CURLE_OK && !w->stream_error[0] ? 0 : -EIO, why);
}

bool etcd_watch_transfer_done(CURL *easy, CURLcode rc)
{
	struct etcd_watch *w;

	for (w = C.watches; w; w = w->next)
		if (w->easy == easy)
			break;
	if (w == NULL)
		return false;
	watch_finish(w, rc);
	return true;
}

void etcd_watches_after_poll(void)
{
	struct etcd_watch **pw = &C.watches;

	for (struct etcd_watch *w = C.watches; w; w = w->next)
		watch_deliver(w);
	while (*pw) {
		struct etcd_watch *w = *pw;
		if (w->dead && !w->in_multi) {
			*pw = w->next;
			watch_free(w);
		} else {
			pw = &w->next;
		}
	}
}

void etcd_watches_free_all(void)
{
	while (C.watches) {
		struct etcd_watch *w = C.watches;
		C.watches = w->next;
		watch_detach(w);
		watch_free(w);
	}
}
