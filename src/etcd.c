/*
 * etcd.c - the etcd v3 JSON gateway client: libcurl multi transfers for
 * unary calls (with per-attempt timeout and endpoint failover) and for
 * NDJSON watch streams. Owns the CURLM handle the event loop polls.
 */
#include "etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "etcd_transport.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "util.h"

#define CALL_ATTEMPTS 2

struct etcd_call {
	CURL *easy;
	char *path;
	char *body_text;
	etcd_done_cb cb;
	void *ud;
	int attempt;
	size_t endpoint;        /* index used by the current attempt */
	char *resp;
	size_t resp_len, resp_cap;
	bool oversized;
	bool dead;              /* cancelled or finished: free at sweep */
	/* Our own bound on an attempt: libcurl may quietly resend a request
	 * whose connection was reset and restart its clock. */
	struct loop_timer attempt_timer;
	struct etcd_call *next;
};

#define WATCH_MAX_QUEUED 4096

struct queued_msg {
	struct etcd_watch_msg msg;
	struct queued_msg *next;
};

struct etcd_watch {
	CURL *easy;
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
	struct loop_timer created_timer;
	bool created;
	struct etcd_watch *next;
};

static struct {
	CURLM *multi;
	char *endpoints[KM_MAX_ENDPOINTS];
	size_t n_endpoints;
	size_t current;
	unsigned generation;
	long timeout_ms;
	struct etcd_transport transport;
	struct etcd_call *calls;
	struct etcd_watch *watches;
} C;

static void after_poll(void);
static void call_attempt_expired(void *ud);

static void set_common_options(CURL *easy, const char *url)
{
	etcd_transport_setopt(easy, url, &C.transport);
}

int etcd_init(const struct config *cfg)
{
	memset(&C, 0, sizeof(C));
	C.multi = curl_multi_init();
	if (C.multi == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		size_t len = strlen(cfg->endpoints[i]);
		C.endpoints[i] = xstrdup(cfg->endpoints[i]);
		/* "http://h:2379/" and "http://h:2379" name the same server. */
		while (len > 0 && C.endpoints[i][len - 1] == '/')
			C.endpoints[i][--len] = '\0';
	}
	C.n_endpoints = cfg->n_endpoints;
	C.timeout_ms = (long)sec_to_ms(cfg->request_timeout);
	if (etcd_transport_init(&C.transport, cfg) < 0)
		return -ENOMEM;
	loop_set_curl(C.multi, after_poll);
	return 0;
}

static void call_free(struct etcd_call *call)
{
	loop_timer_disarm(&call->attempt_timer);
	if (call->easy)
		curl_easy_cleanup(call->easy);
	free(call->path);
	free(call->body_text);
	free(call->resp);
	free(call);
}

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
	if (w->easy)
		curl_easy_cleanup(w->easy);
	ndjson_free(&w->framer);
	free(w->body_text);
	free(w);
}

void etcd_shutdown(void)
{
	while (C.calls) {
		struct etcd_call *call = C.calls;
		C.calls = call->next;
		if (!call->dead)
			curl_multi_remove_handle(C.multi, call->easy);
		call_free(call);
	}
	while (C.watches) {
		struct etcd_watch *w = C.watches;
		C.watches = w->next;
		if (w->in_multi)
			curl_multi_remove_handle(C.multi, w->easy);
		watch_free(w);
	}
	for (size_t i = 0; i < C.n_endpoints; i++)
		free(C.endpoints[i]);
	etcd_transport_free(&C.transport);
	loop_set_curl(NULL, NULL);
	if (C.multi)
		curl_multi_cleanup(C.multi);
	memset(&C, 0, sizeof(C));
}

void etcd_set_timeout(double request_timeout)
{
	C.timeout_ms = (long)sec_to_ms(request_timeout);
	C.transport.connect_timeout_ms = C.timeout_ms;
}

unsigned etcd_endpoint_generation(void)
{
	return C.generation;
}

const char *etcd_current_endpoint(void)
{
	return C.n_endpoints ? C.endpoints[C.current] : "";
}

static size_t call_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct etcd_call *call = ud;
	size_t len = size * nmemb;

	if (call->resp_len + len > ETCD_MAX_RESPONSE) {
		call->oversized = true;
		return 0;
	}
	if (call->resp_len + len + 1 > call->resp_cap) {
		size_t cap = call->resp_cap ? call->resp_cap : 1024;
		char *p;

		while (cap < call->resp_len + len + 1)
			cap *= 2;
		p = realloc(call->resp, cap);
		if (p == NULL)
			return 0;
		call->resp = p;
		call->resp_cap = cap;
	}
	memcpy(call->resp + call->resp_len, data, len);
	call->resp_len += len;
	call->resp[call->resp_len] = '\0';
	return len;
}

static int call_start_attempt(struct etcd_call *call)
{
	char url[1024];

	call->endpoint = C.current;
	call->resp_len = 0;
	call->oversized = false;
	snprintf(url, sizeof(url), "%s%s", C.endpoints[call->endpoint], call->path);
	set_common_options(call->easy, url);
	curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, C.timeout_ms);
	curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->body_text);
	curl_easy_setopt(call->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(call->body_text));
	curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, call_write);
	curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(call->easy, CURLOPT_PRIVATE, call);
	call->attempt++;
	if (curl_multi_add_handle(C.multi, call->easy) != CURLM_OK)
		return -EIO;
	loop_timer_arm_in(&call->attempt_timer, (uint64_t)C.timeout_ms);
	return 0;
}

struct etcd_call *etcd_call(const char *path, json_t *body, etcd_done_cb cb, void *ud)
{
	struct etcd_call *call;

	if (body == NULL || C.multi == NULL)
		goto fail;
	call = xcalloc(1, sizeof(*call));
	call->easy = curl_easy_init();
	call->path = xstrdup(path);
	call->body_text = json_dumps(body, JSON_COMPACT);
	call->cb = cb;
	call->ud = ud;
	loop_timer_init(&call->attempt_timer, call_attempt_expired, call);
	json_decref(body);
	if (call->easy == NULL || call->body_text == NULL ||
	    call_start_attempt(call) < 0) {
		call_free(call);
		return NULL;
	}
	call->next = C.calls;
	C.calls = call;
	return call;
fail:
	json_decref(body);
	return NULL;
}

void etcd_call_cancel(struct etcd_call *call)
{
	if (call == NULL || call->dead)
		return;
	curl_multi_remove_handle(C.multi, call->easy);
	loop_timer_disarm(&call->attempt_timer);
	call->dead = true;
}

static void rotate_endpoint(size_t failed)
{
	if (C.current != failed || C.n_endpoints < 2)
		return;
	C.current = (C.current + 1) % C.n_endpoints;
	C.generation++;
	log_info("etcd: switching to endpoint %s", C.endpoints[C.current]);
}

static int transport_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	default: return -EIO;
	}
}

static bool error_is_retryable(const struct etcd_error *e)
{
	/* Unavailable, Unknown (deadline while quorum is lost), Canceled,
	 * DeadlineExceeded: another member may well answer. */
	return e->http_status >= 500 || e->grpc_code == 14 || e->grpc_code == 2 ||
	    e->grpc_code == 1 || e->grpc_code == 4;
}

static void call_finish(struct etcd_call *call, CURLcode rc)
{
	struct etcd_result res;
	json_error_t jerr;
	json_t *body = NULL;
	long status = 0;
	bool retry = false;

	memset(&res, 0, sizeof(res));
	res.endpoint = C.endpoints[call->endpoint];
	loop_timer_disarm(&call->attempt_timer);
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(C.multi, call->easy);

	if (call->oversized) {
		res.err = -EMSGSIZE;
		snprintf(res.error.message, sizeof(res.error.message),
		    "response larger than %u bytes", ETCD_MAX_RESPONSE);
	} else if (rc != CURLE_OK) {
		res.err = transport_errno(rc);
		snprintf(res.error.message, sizeof(res.error.message), "%s",
		    curl_easy_strerror(rc));
		retry = true;
	} else if (status < 200 || status > 299) {
		res.err = -EREMOTEIO;
		etcd_parse_error(status, call->resp, call->resp_len, &res.error);
		retry = error_is_retryable(&res.error);
	} else {
		body = json_loadb(call->resp ? call->resp : "", call->resp_len, 0, &jerr);
		if (body == NULL) {
			res.err = -EPROTO;
			snprintf(res.error.message, sizeof(res.error.message),
			    "unparsable response: %s", jerr.text);
		} else if (json_is_object(json_object_get(body, "error"))) {
			/* A stream endpoint that failed after answering 200. */
			res.err = -EREMOTEIO;
			etcd_parse_error(status, call->resp, call->resp_len, &res.error);
			retry = error_is_retryable(&res.error);
			json_decref(body);
			body = NULL;
		}
	}
	if (res.err != 0)
		log_debug("etcd %s%s: %s", res.endpoint, call->path, res.error.message);
	metrics_count_request(call->path, res.err != 0);
	if (retry)
		rotate_endpoint(call->endpoint);
	if (retry && call->attempt < CALL_ATTEMPTS && call_start_attempt(call) == 0)
		return;

	call->dead = true;
	res.body = body;
	if (call->cb)
		call->cb(&res, call->ud);
	json_decref(body);
}

static void watch_detach(struct etcd_watch *w)
{
	if (w->in_multi)
		curl_multi_remove_handle(C.multi, w->easy);
	w->in_multi = false;
}

static void call_attempt_expired(void *ud)
{
	struct etcd_call *call = ud;

	if (!call->dead)
		call_finish(call, CURLE_OPERATION_TIMEDOUT);
	/* Finished or failed over: either way the sweep runs next poll. */
}

static void watch_end(struct etcd_watch *w, int err, const char *why)
{
	if (w->dead)
		return;
	watch_detach(w);
	w->dead = true;
	loop_timer_disarm(&w->created_timer);
	if (w->on_end)
		w->on_end(err, why, w->ud);
}

static int watch_line(const char *line, size_t len, void *ud)
{
	struct etcd_watch *w = ud;
	struct etcd_watch_msg msg;
	struct queued_msg *q;
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(line, len, 0, &jerr);
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
	r = etcd_parse_watch_msg(root, &msg);
	json_decref(root);
	if (r < 0) {
		w->parse_error = r;
		snprintf(w->stream_error, sizeof(w->stream_error),
		    "malformed watch message");
		return r;
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
		if (!w->stream_error[0])
			snprintf(w->stream_error, sizeof(w->stream_error),
			    "watch message too large");
		return 0;
	}
	return len;
}

static void watch_created_timeout(void *ud)
{
	struct etcd_watch *w = ud;

	if (!w->created)
		watch_end(w, -ETIMEDOUT, "watch was not created in time");
}

struct etcd_watch *etcd_watch_start(const char *prefix, size_t len,
    int64_t start_revision, etcd_watch_msg_cb on_msg, etcd_watch_end_cb on_end,
    void *ud)
{
	struct etcd_watch *w;
	json_t *req;
	char url[1024];

	if (C.multi == NULL)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->easy = curl_easy_init();
	req = etcd_req_watch_prefix(prefix, len, start_revision);
	w->body_text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (w->easy == NULL || w->body_text == NULL) {
		watch_free(w);
		return NULL;
	}
	w->on_msg = on_msg;
	w->on_end = on_end;
	w->ud = ud;
	ndjson_init(&w->framer, ETCD_MAX_RESPONSE);
	snprintf(url, sizeof(url), "%s/v3/watch", C.endpoints[C.current]);
	set_common_options(w->easy, url);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body_text);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(w->body_text));
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->easy, CURLOPT_PRIVATE, NULL);
	if (curl_multi_add_handle(C.multi, w->easy) != CURLM_OK) {
		watch_free(w);
		return NULL;
	}
	w->in_multi = true;
	/* A blackholed member never answers; give creation the same budget
	 * as a unary call and its retry. */
	loop_timer_init(&w->created_timer, watch_created_timeout, w);
	loop_timer_arm_in(&w->created_timer, 2 * (uint64_t)C.timeout_ms + 100);
	w->next = C.watches;
	C.watches = w;
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
	if (rc == CURLE_OK && status >= 200 && status <= 299)
		(void)ndjson_finish(&w->framer, watch_line, w);
	/* What arrived before the end is news, and comes first. */
	watch_deliver(w);
	if (w->dead)
		return;
	if (w->stream_error[0])
		snprintf(why, sizeof(why), "%s", w->stream_error);
	else if (rc != CURLE_OK)
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(why, sizeof(why), "HTTP %ld", status);
	else
		snprintf(why, sizeof(why), "stream ended");
	watch_end(w, rc == CURLE_OK && !w->stream_error[0] ? 0 : -EIO, why);
}

static void sweep(void)
{
	struct etcd_call **pc = &C.calls;
	struct etcd_watch **pw = &C.watches;

	while (*pc) {
		struct etcd_call *call = *pc;
		if (call->dead) {
			*pc = call->next;
			call_free(call);
		} else {
			pc = &call->next;
		}
	}
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

static void after_poll(void)
{
	CURLMsg *msg;
	int running, left;

	curl_multi_perform(C.multi, &running);
	while ((msg = curl_multi_info_read(C.multi, &left)) != NULL) {
		struct etcd_call *call;
		struct etcd_watch *w;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* Look the handle up: a callback may have cancelled it. */
		for (call = C.calls; call; call = call->next)
			if (call->easy == msg->easy_handle)
				break;
		if (call) {
			if (!call->dead)
				call_finish(call, msg->data.result);
			continue;
		}
		for (w = C.watches; w; w = w->next)
			if (w->easy == msg->easy_handle)
				break;
		if (w)
			watch_finish(w, msg->data.result);
	}
	for (struct etcd_watch *w = C.watches; w; w = w->next)
		watch_deliver(w);
	sweep();
}
