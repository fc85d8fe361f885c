/*
 * etcd_sync.c - the blocking etcd client of kingsmootctl (see
 * etcd_sync.h).
 */
#include "etcd_sync.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "etcdproto.h"
#include "util.h"

struct reply {
	long status;
	char *data;
	size_t len;
	bool oversized;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
	struct reply *r = ud;
	size_t len = size * nmemb;
	char *p;

	if (r->len + len > ETCD_MAX_RESPONSE) {
		r->oversized = true;
		return 0;
	}
	p = realloc(r->data, r->len + len + 1);
	if (p == NULL)
		return 0;
	r->data = p;
	memcpy(r->data + r->len, data, len);
	r->len += len;
	r->data[r->len] = '\0';
	return len;
}

int etcd_sync_init(struct etcd_sync *s, const struct config *cfg, char *why,
    size_t whylen)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	etcd_auth_init(&s->auth, cfg->username && cfg->username[0]);
	return etcd_transport_init(&s->transport, cfg, why, whylen);
}

void etcd_sync_free(struct etcd_sync *s)
{
	etcd_transport_free(&s->transport);
	etcd_auth_clear(&s->auth);
}

/* One POST, bounded by request_timeout: 0 with the reply, or -errno with
 * why when nothing came back. */
static int post(struct etcd_sync *s, const char *endpoint, const char *path,
    const char *body, const char *token, struct reply *r, char *why,
    size_t whylen)
{
	char url[1100], errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = etcd_transport_headers(token);
	CURL *easy = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (easy == NULL || headers == NULL) {
		etcd_transport_headers_free(headers);
		if (easy)
			curl_easy_cleanup(easy);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* Endpoints are at most 512 bytes (config_endpoint.c): it fits. */
	(void)etcd_transport_url(url, sizeof(url), endpoint, path);
	etcd_transport_setopt(easy, &s->transport);
	etcd_transport_set_request(easy, url, headers, errbuf);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
	    (long)sec_to_ms(s->cfg->request_timeout));
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
	rc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(easy);
	etcd_transport_headers_free(headers);
	if (r->oversized) {
		snprintf(why, whylen, "answer larger than %u bytes",
		    ETCD_MAX_RESPONSE);
		return -EMSGSIZE;
	}
	if (rc != CURLE_OK) {
		etcd_transport_explain(&s->transport, rc, errbuf, why, whylen);
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	return 0;
}

/* What etcd answered: 0 with *answer, -EREMOTEIO with e, or -EPROTO. */
static int judge(struct reply *r, json_t **answer, struct etcd_error *e)
{
	json_t *body = NULL;

	*answer = NULL;
	memset(e, 0, sizeof(*e));
	if (r->status >= 200 && r->status <= 299) {
		body = etcd_json_loadb(r->data ? r->data : "", r->len, NULL);
		if (body == NULL) {
			snprintf(e->message, sizeof(e->message), "malformed answer");
			return -EPROTO;
		}
		if (!json_is_object(json_object_get(body, "error"))) {
			*answer = body;
			return 0;
		}
		json_decref(body);
	}
	etcd_parse_error(r->status, r->data, r->len, e);
	return -EREMOTEIO;
}

static int log_in(struct etcd_sync *s, const char *endpoint, char *why,
    size_t whylen)
{
	json_t *req = etcd_req_authenticate(s->cfg->username,
	    s->cfg->password ? s->cfg->password : "");
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	struct etcd_error e = { 0 };
	struct reply r;
	json_t *body = NULL;
	uint64_t ignored;
	int err;

	json_decref(req);
	if (text == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	err = post(s, endpoint, "/v3/auth/authenticate", text, NULL, &r, why,
	    whylen);
	free_secret(text);
	if (err == 0)
		err = judge(&r, &body, &e);
	free(r.data);
	switch (etcd_auth_login_done(&s->auth, now_ms(), err, &e, body,
	    &ignored)) {
	case ETCD_LOGIN_OK:
	case ETCD_LOGIN_AUTH_OFF:
		err = 0;
		break;
	case ETCD_LOGIN_BAD_CREDENTIALS:
		snprintf(why, whylen, "etcd refused the login of user '%s': %s "
		    "(check etcd.username and etcd.password_file)",
		    s->cfg->username, e.message);
		err = -EACCES;
		break;
	case ETCD_LOGIN_FAILED:
		if (err == -EREMOTEIO || err == -EPROTO)
			snprintf(why, whylen, "cannot log in: %s", e.message);
		if (err == 0)
			err = -EPROTO;
		break;
	}
	json_decref(body);
	return err;
}

int etcd_sync_call(struct etcd_sync *s, const char *path, json_t *body,
    json_t **answer, char *why, size_t whylen)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	bool token_retried = false;
	int err = -ENOMEM;
	size_t i = 0;

	json_decref(body);
	*answer = NULL;
	snprintf(why, whylen, "out of memory");
	while (text && i < s->cfg->n_endpoints) {
		const char *endpoint = s->cfg->endpoints[i];
		char failure[512];
		struct etcd_error e;
		struct reply r;
		unsigned generation;

		if (etcd_auth_next(&s->auth, now_ms()) == ETCD_AUTH_LOGIN) {
			err = log_in(s, endpoint, failure, sizeof(failure));
			if (err == -EACCES) {
				snprintf(why, whylen, "%s: %s", endpoint, failure);
				break;
			}
			if (err < 0)
				goto next_endpoint;
		}
		generation = s->auth.generation;
		err = post(s, endpoint, path, text, etcd_auth_token(&s->auth), &r,
		    failure, sizeof(failure));
		if (err == 0)
			err = judge(&r, answer, &e);
		free(r.data);
		if (err == 0)
			break;
		if (err == -EREMOTEIO && s->auth.enabled && !token_retried &&
		    etcd_error_token_refused(&e)) {
			token_retried = true;
			etcd_auth_token_refused(&s->auth, generation);
			continue;
		}
		if (err == -EREMOTEIO || err == -EPROTO) {
			etcd_auth_explain(&s->auth, s->cfg->username, &e);
			snprintf(failure, sizeof(failure), "%s", e.message);
		}
		/* etcd said no: another member would say the same. */
		if (err == -EREMOTEIO && !etcd_error_retryable(&e)) {
			snprintf(why, whylen, "%s: %s", endpoint, failure);
			break;
		}
next_endpoint:
		if (s->endpoint_failed)
			s->endpoint_failed(endpoint, failure, s->ud);
		snprintf(why, whylen, "no etcd endpoint answered");
		i++;
	}
	free(text);
	return err;
}
