/*
 * etcd.c - the etcd v3 JSON gateway client: libcurl multi transfers for
 * unary calls (with per-attempt timeout and endpoint failover). Owns the
 * endpoints and the CURLM handle the event loop polls; watch streams are
 * in etcd_watch.c, the easy handles kept for reuse in etcd_easy.c.
 */
#include "etcd_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

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
	bool in_multi;
	bool dead;              /* cancelled or finished: free at sweep */
	bool is_login;          /* the login itself, sent without a token */
	bool answer_as_text;    /* etcd_call_text(): no tree for a result */
	bool waiting;           /* for a login to finish */
	bool token_retried;     /* sent again after etcd refused its token */
	unsigned token_generation;      /* of the token it was sent with */
	unsigned transport_generation;  /* of its easy handle */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* A failure found before anything was sent, reported from the loop:
	 * a callback never runs inside etcd_call(). */
	int failure;
	char failure_why[256];
	/* Our own bound on an attempt: libcurl may quietly resend a request
	 * whose connection was reset and restart its clock. */
	struct loop_timer attempt_timer;
	struct etcd_call *next;
};

struct etcd_client etcd_client;
#define C etcd_client

static void after_poll(void);
static void call_attempt_expired(void *ud);
static void call_dispatch(struct etcd_call *call);

int etcd_init(const struct config *cfg)
{
	char why[512];

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
	etcd_login_init(cfg);
	loop_set_curl(C.multi, after_poll);
	if (etcd_transport_init(&C.transport, cfg, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return -EINVAL;
	}
	return 0;
}

static void call_free(struct etcd_call *call)
{
	loop_timer_disarm(&call->attempt_timer);
	if (call->in_multi)
		curl_multi_remove_handle(C.multi, call->easy);
	etcd_easy_give(call->easy, call->transport_generation);
	etcd_transport_headers_free(call->headers);
	free(call->path);
	/* A login's body holds the password. */
	free_secret(call->body_text);
	free(call->resp);
	free(call);
}

void etcd_shutdown(void)
{
	while (C.calls) {
		struct etcd_call *call = C.calls;
		C.calls = call->next;
		call_free(call);
	}
	etcd_watches_free_all();
	etcd_easy_free_all();
	for (size_t i = 0; i < C.n_endpoints; i++)
		free(C.endpoints[i]);
	etcd_transport_free(&C.transport);
	etcd_login_free();
	loop_set_curl(NULL, NULL);
	if (C.multi)
		curl_multi_cleanup(C.multi);
	memset(&C, 0, sizeof(C));
}

void etcd_reconfigure(const struct config *cfg)
{
	char why[512];

	C.timeout_ms = (long)sec_to_ms(cfg->request_timeout);
	if (etcd_transport_reload(&C.transport, cfg, why, sizeof(why)) < 0)
		log_err("%s: keeping the TLS files read before", why);
	C.transport.connect_timeout_ms = C.timeout_ms;
	etcd_easy_transport_changed();
	etcd_login_set_password(cfg->password);
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
	char url[1100];
	struct etcd_transfer transfer = {
		.url = url, .errbuf = call->errbuf, .timeout_ms = C.timeout_ms,
		.body = call->body_text, .write = call_write, .write_data = call,
		.private_data = call,
	};

	call->endpoint = C.current;
	call->resp_len = 0;
	call->oversized = false;
	/* Endpoints are at most 512 bytes (config_endpoint.c): it fits. */
	(void)etcd_transport_url(url, sizeof(url), C.endpoints[call->endpoint],
	    call->path);
	etcd_transport_headers_free(call->headers);
	transfer.headers = etcd_easy_headers(call->is_login ? NULL :
	    etcd_login_token(&call->token_generation), &call->headers);
	if (transfer.headers == NULL)
		return -ENOMEM;
	etcd_easy_prepare(call->easy, &transfer);
	call->attempt++;
	if (curl_multi_add_handle(C.multi, call->easy) != CURLM_OK)
		return -EIO;
	call->in_multi = true;
	loop_timer_arm_in(&call->attempt_timer, (uint64_t)C.timeout_ms);
	return 0;
}

static void call_fail_soon(struct etcd_call *call, int err, const char *why)
{
	call->waiting = false;
	call->failure = err;
	snprintf(call->failure_why, sizeof(call->failure_why), "%s", why);
	loop_timer_arm_in(&call->attempt_timer, 0);
}

/* body_text is stolen. */
static struct etcd_call *call_new(const char *path, char *body_text,
    etcd_done_cb cb, void *ud, bool is_login)
{
	struct etcd_call *call;

	if (body_text == NULL || C.multi == NULL) {
		free_secret(body_text);
		return NULL;
	}
	call = xcalloc(1, sizeof(*call));
	call->easy = etcd_easy_take(&call->transport_generation);
	call->path = xstrdup(path);
	call->body_text = body_text;
	call->cb = cb;
	call->ud = ud;
	call->is_login = is_login;
	loop_timer_init(&call->attempt_timer, call_attempt_expired, call);
	if (call->easy == NULL) {
		call_free(call);
		return NULL;
	}
	call->next = C.calls;
	C.calls = call;
	call_dispatch(call);
	return call;
}

static char *body_text_of(json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return text;
}

struct etcd_call *etcd_call(const char *path, json_t *body, etcd_done_cb cb, void *ud)
{
	return call_new(path, body_text_of(body), cb, ud, false);
}

struct etcd_call *etcd_call_text(const char *path, const char *body_text,
    etcd_done_cb cb, void *ud)
{
	struct etcd_call *call = call_new(path, xstrdup(body_text), cb, ud, false);

	if (call)
		call->answer_as_text = true;
	return call;
}

struct etcd_call *etcd_call_login(json_t *body, etcd_done_cb cb)
{
	return call_new("/v3/auth/authenticate", body_text_of(body), cb, NULL, true);
}

void etcd_calls_login_done(int err, const char *why)
{
	for (struct etcd_call *call = C.calls; call; call = call->next) {
		if (!call->waiting || call->dead)
			continue;
		call->waiting = false;
		if (err < 0)
			call_fail_soon(call, err, why);
		else if (call_start_attempt(call) < 0)
			call_fail_soon(call, -EIO, "cannot start the request");
	}
}

void etcd_call_cancel(struct etcd_call *call)
{
	if (call == NULL || call->dead)
		return;
	if (call->in_multi)
		curl_multi_remove_handle(C.multi, call->easy);
	call->in_multi = false;
	loop_timer_disarm(&call->attempt_timer);
	call->dead = true;
}

/* ---- unary calls ----------------------------------------------------------- */

/* Send the call now, or once the login it needs is done. */
static void call_dispatch(struct etcd_call *call)
{
	char why[256];
	int r = call->is_login ? 1 : etcd_login_step(why, sizeof(why));

	if (r > 0 && call_start_attempt(call) < 0) {
		r = -EIO;
		snprintf(why, sizeof(why), "cannot start the request");
	}
	if (r == 0)
		call->waiting = true;
	else if (r < 0)
		call_fail_soon(call, r, why);
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

static void call_report(struct etcd_call *call, struct etcd_result *res,
    json_t *body)
{
	call->dead = true;
	res->body = body;
	if (call->cb)
		call->cb(res, call->ud);
	if (res->err == -EREMOTEIO && !call->is_login &&
	    etcd_error_permission_denied(&res->error))
		etcd_login_denied(call->path, res->error.message);
	json_decref(body);
}

/* etcd refused the token: forget it, log in and send the call once more. */
static bool retry_with_new_token(struct etcd_call *call,
    const struct etcd_error *e)
{
	if (call->is_login ||
	    !etcd_login_retry_with_new_token(e, call->token_retried))
		return false;
	log_debug("etcd %s%s: %s; logging in again", C.endpoints[call->endpoint],
	    call->path, e->message);
	metrics_count_request(call->path, true);
	call->token_retried = true;
	call->attempt = 0;
	etcd_login_token_refused(call->token_generation);
	call_dispatch(call);
	return true;
}

/* A stream's failure after 200 is an "error" object: an answer that
 * starts as a result is not one. */
static bool answer_is_result(const struct etcd_call *call)
{
	static const char prefix[] = "{\"result\":";

	return call->resp_len >= sizeof(prefix) - 1 &&
	    memcmp(call->resp, prefix, sizeof(prefix) - 1) == 0;
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
	if (call->failure) {
		res.err = call->failure;
		snprintf(res.error.message, sizeof(res.error.message), "%s",
		    call->failure_why);
		metrics_count_request(call->path, true);
		call_report(call, &res, NULL);
		return;
	}
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(C.multi, call->easy);
	call->in_multi = false;

	if (call->oversized) {
		res.err = -EMSGSIZE;
		snprintf(res.error.message, sizeof(res.error.message),
		    "response larger than %u bytes", ETCD_MAX_RESPONSE);
	} else if (rc != CURLE_OK) {
		res.err = transport_errno(rc);
		etcd_transport_explain(&C.transport, rc, call->errbuf,
		    res.error.message, sizeof(res.error.message));
		retry = true;
	} else if (status < 200 || status > 299) {
		res.err = -EREMOTEIO;
		etcd_parse_error(status, call->resp, call->resp_len, &res.error);
		if (retry_with_new_token(call, &res.error))
			return;
		retry = etcd_error_retryable(&res.error);
	} else if (call->answer_as_text && answer_is_result(call)) {
		res.text = call->resp;
		res.text_len = call->resp_len;
	} else {
		body = etcd_json_loadb(call->resp ? call->resp : "", call->resp_len, &jerr);
		if (body == NULL) {
			res.err = -EPROTO;
			snprintf(res.error.message, sizeof(res.error.message),
			    "unparsable response: %s", jerr.text);
		} else if (json_is_object(json_object_get(body, "error"))) {
			/* A stream endpoint that failed after answering 200. */
			res.err = -EREMOTEIO;
			etcd_parse_error(status, call->resp, call->resp_len, &res.error);
			json_decref(body);
			body = NULL;
			if (retry_with_new_token(call, &res.error))
				return;
			retry = etcd_error_retryable(&res.error);
		}
	}
	if (res.err == -EREMOTEIO)
		etcd_login_explain(&res.error);
	if (res.err != 0)
		log_debug("etcd %s%s: %s", res.endpoint, call->path, res.error.message);
	metrics_count_request(call->path, res.err != 0);
	if (retry)
		rotate_endpoint(call->endpoint);
	if (retry && call->attempt < CALL_ATTEMPTS && call_start_attempt(call) == 0)
		return;
	call_report(call, &res, body);
}

static void call_attempt_expired(void *ud)
{
	struct etcd_call *call = ud;

	if (!call->dead)
		call_finish(call, CURLE_OPERATION_TIMEDOUT);
	/* Finished or failed over: either way the sweep runs next poll. */
}

static void sweep(void)
{
	struct etcd_call **pc = &C.calls;

	while (*pc) {
		struct etcd_call *call = *pc;
		if (call->dead) {
			*pc = call->next;
			call_free(call);
		} else {
			pc = &call->next;
		}
	}
}

static void after_poll(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(C.multi, &left)) != NULL) {
		struct etcd_call *call;

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
		(void)etcd_watch_transfer_done(msg->easy_handle, msg->data.result);
	}
	etcd_watches_after_poll();
	sweep();
}
