/*
 * etcd_transport.h - the HTTP settings every request to etcd shares, the
 * daemon's and kingsmootctl's alike, so that the two never drift apart:
 * headers, protocols, no proxy, TCP keepalive, connect timeout and TLS.
 */
#ifndef KM_ETCD_TRANSPORT_H
#define KM_ETCD_TRANSPORT_H

#include <stddef.h>
#include <curl/curl.h>

#include "config.h"

struct etcd_transport {
	struct curl_slist *headers;
	long connect_timeout_ms;        /* request_timeout */
	char *ca_file, *cert_file, *key_file;   /* "": none */
};

/* Copy what the configuration says; -ENOMEM. */
int etcd_transport_init(struct etcd_transport *t, const struct config *cfg);
void etcd_transport_free(struct etcd_transport *t);
/* Set what every request carries; the caller adds the body and timeouts. */
void etcd_transport_setopt(CURL *easy, const char *url,
    const struct etcd_transport *t);
/* endpoint + path ("/v3/kv/range"), one "/" between them. -ENAMETOOLONG
 * if it does not fit. */
int etcd_transport_url(char *out, size_t outlen, const char *endpoint,
    const char *path);

#endif
