/*
 * etcd_easy.c - the libcurl easy handles of the etcd client's transfers:
 * a few finished ones are kept, reset, for the next transfers. Setting a
 * handle up and tearing it down took more instructions than the rest of
 * a keepalive's work on the daemon's side.
 */
#include "etcd_internal.h"

#include <curl/curl.h>

#include "util.h"

#define C etcd_client

/* A reset handle still holds the TLS sessions it made, so none taken
 * before the TLS files were read again is kept past that. */
CURL *etcd_easy_take(unsigned *tls_generation)
{
	*tls_generation = C.tls_generation;
	if (C.n_idle_easy > 0)
		return C.idle_easy[--C.n_idle_easy];
	return curl_easy_init();
}

void etcd_easy_give(CURL *easy, unsigned tls_generation)
{
	if (easy == NULL)
		return;
	if (tls_generation != C.tls_generation ||
	    C.n_idle_easy == ARRAY_SIZE(C.idle_easy)) {
		curl_easy_cleanup(easy);
		return;
	}
	/* Now, not at the next take: the options point into the transfer's
	 * buffers and headers, which are freed next. */
	curl_easy_reset(easy);
	C.idle_easy[C.n_idle_easy++] = easy;
}

void etcd_easy_free_idle(void)
{
	while (C.n_idle_easy > 0)
		curl_easy_cleanup(C.idle_easy[--C.n_idle_easy]);
}

void etcd_easy_tls_reloaded(void)
{
	etcd_easy_free_idle();
	C.tls_generation++;
}
