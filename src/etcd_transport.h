/*
 * etcd_transport.h - the HTTP settings every request to etcd shares, the
 * daemon's and kingsmootctl's alike, so that the two never drift apart:
 * headers, protocols, no proxy, TCP keepalive, connect timeout and TLS.
 *
 * The TLS files are read into memory when the transport is set up, and
 * again on SIGHUP, so that certificates can be rotated without a restart;
 * libcurl never opens them itself. A connection made with other TLS
 * material is never reused for a request (libcurl compares it), so every
 * request after a reload is made with the new files.
 */
#ifndef KM_ETCD_TRANSPORT_H
#define KM_ETCD_TRANSPORT_H

#include <stddef.h>
#include <curl/curl.h>

#include "config.h"

/* A CA bundle or certificate chain is a few KiB; refuse anything big. */
#define ETCD_TLS_FILE_MAX (1u << 20)

struct etcd_tls_file {
	char *path;             /* as configured; "" for none */
	char *data;             /* its content */
	size_t len;
};

struct etcd_transport {
	long connect_timeout_ms;        /* request_timeout */
	struct etcd_tls_file ca, cert, key;
};

/* Copy what the configuration says and read the TLS files: 0, or
 * -errno with why ("etcd.ca_file '/x': No such file or directory"). */
int etcd_transport_init(struct etcd_transport *t, const struct config *cfg,
    char *why, size_t whylen);
/* Read the files again (cfg may be a new configuration): on failure t
 * is left as it was. */
int etcd_transport_reload(struct etcd_transport *t, const struct config *cfg,
    char *why, size_t whylen);
void etcd_transport_free(struct etcd_transport *t);

/* The header lines of one request, with the token raw in Authorization
 * when there is one. NULL when out of memory. */
struct curl_slist *etcd_transport_headers(const char *token);
/* Free them, wiping the token. */
void etcd_transport_headers_free(struct curl_slist *headers);

/* Set what every request on easy shares: protocols, no proxy, TCP
 * keepalive, connect timeout and TLS. A handle keeps them from one
 * transfer to the next. */
void etcd_transport_setopt(CURL *easy, const struct etcd_transport *t);
/* Set what one request carries; the caller adds the body and timeouts.
 * headers and errbuf (CURL_ERROR_SIZE, or NULL) must outlive the
 * transfer. */
void etcd_transport_set_request(CURL *easy, const char *url,
    struct curl_slist *headers, char *errbuf);
/* endpoint + path ("/v3/kv/range"), one "/" between them. -ENAMETOOLONG
 * if it does not fit. */
int etcd_transport_url(char *out, size_t outlen, const char *endpoint,
    const char *path);
/* Why a transfer failed, in words for the log: libcurl's detail (the
 * error buffer) and, for TLS, which setting to look at. */
void etcd_transport_explain(const struct etcd_transport *t, CURLcode rc,
    const char *detail, char *out, size_t outlen);

#endif
