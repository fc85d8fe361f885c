/*
 * etcd_transport.c - the shared HTTP settings of requests to etcd (see
 * etcd_transport.h).
 */
#include "etcd_transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static struct curl_slist *request_headers(void)
{
	struct curl_slist *h = NULL, *next;
	static const char *const lines[] = {
		"Content-Type: application/json",
		/* A member cut off from quorum answers at once instead of in 7 s. */
		"Grpc-Metadata-hasleader: true",
		/* No 100-continue round trip before a body. */
		"Expect:",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		next = curl_slist_append(h, lines[i]);
		if (next == NULL) {
			curl_slist_free_all(h);
			return NULL;
		}
		h = next;
	}
	return h;
}

int etcd_transport_init(struct etcd_transport *t, const struct config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->connect_timeout_ms = (long)sec_to_ms(cfg->request_timeout);
	t->ca_file = xstrdup(cfg->ca_file ? cfg->ca_file : "");
	t->cert_file = xstrdup(cfg->cert_file ? cfg->cert_file : "");
	t->key_file = xstrdup(cfg->key_file ? cfg->key_file : "");
	t->headers = request_headers();
	return t->headers ? 0 : -ENOMEM;
}

void etcd_transport_free(struct etcd_transport *t)
{
	curl_slist_free_all(t->headers);
	free(t->ca_file);
	free(t->cert_file);
	free(t->key_file);
	memset(t, 0, sizeof(*t));
}

void etcd_transport_setopt(CURL *easy, const char *url,
    const struct etcd_transport *t)
{
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	/* etcd is never reached through a proxy from the environment. */
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
	if (t->ca_file[0])
		curl_easy_setopt(easy, CURLOPT_CAINFO, t->ca_file);
	if (t->cert_file[0]) {
		curl_easy_setopt(easy, CURLOPT_SSLCERT, t->cert_file);
		curl_easy_setopt(easy, CURLOPT_SSLKEY, t->key_file);
	}
}

int etcd_transport_url(char *out, size_t outlen, const char *endpoint,
    const char *path)
{
	size_t len = strlen(endpoint);
	int n;

	/* "http://h:2379/" and "http://h:2379" name the same server. */
	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	n = snprintf(out, outlen, "%.*s%s", (int)len, endpoint, path);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}
