/*
 * etcd_easy.c - the libcurl easy handles of the etcd client's transfers:
 * a few finished ones are kept, with the transport's settings still on
 * them, for the next transfers, and the header lines of requests without
 * a token are built once. Setting a handle up for every transfer, and
 * tearing it down, took more instructions than the rest of a keepalive's
 * work on the daemon's side.
 *
 * A kept handle carries its last transfer's options into the next, so
 * every transfer sets all of its own in etcd_easy_prepare(), and the
 * handles go whenever the transport's settings change.
 */
#include "etcd_internal.h"

#include <string.h>
#include <curl/curl.h>

#include "util.h"

#define C etcd_client

CURL *etcd_easy_take(unsigned *transport_generation)
{
	CURL *easy;

	*transport_generation = C.transport_generation;
	if (C.n_idle_easy > 0)
		return C.idle_easy[--C.n_idle_easy];
	easy = curl_easy_init();
	if (easy)
		etcd_transport_setopt(easy, &C.transport);
	return easy;
}

/* A handle also holds the TLS sessions it made, so none from before the
 * TLS files were read again is kept. */
void etcd_easy_give(CURL *easy, unsigned transport_generation)
{
	if (easy == NULL)
		return;
	if (transport_generation != C.transport_generation ||
	    C.n_idle_easy == ARRAY_SIZE(C.idle_easy)) {
		curl_easy_cleanup(easy);
		return;
	}
	/* Now, not at the next take: these point into the transfer's
	 * buffers and headers, which are freed next. */
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	C.idle_easy[C.n_idle_easy++] = easy;
}

void etcd_easy_prepare(CURL *easy, const struct etcd_transfer *t)
{
	etcd_transport_set_request(easy, t->url, t->headers, t->errbuf);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, t->write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t->write_data);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t->private_data);
}

struct curl_slist *etcd_easy_headers(const char *token, struct curl_slist **owned)
{
	*owned = NULL;
	if (token != NULL)
		return *owned = etcd_transport_headers(token);
	if (C.plain_headers == NULL)
		C.plain_headers = etcd_transport_headers(NULL);
	return C.plain_headers;
}

void etcd_easy_free_idle(void)
{
	while (C.n_idle_easy > 0)
		curl_easy_cleanup(C.idle_easy[--C.n_idle_easy]);
}

void etcd_easy_free_all(void)
{
	etcd_easy_free_idle();
	etcd_transport_headers_free(C.plain_headers);
	C.plain_headers = NULL;
}

void etcd_easy_transport_changed(void)
{
	etcd_easy_free_idle();
	C.transport_generation++;
}
