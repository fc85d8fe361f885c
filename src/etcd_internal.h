/*
 * etcd_internal.h - shared by the files of the daemon's etcd client only:
 * etcd.c (the client, its endpoints and unary calls) and etcd_watch.c
 * (watch streams). The rest of the program sees etcd.h.
 */
#ifndef KM_ETCD_INTERNAL_H
#define KM_ETCD_INTERNAL_H

#include <stdbool.h>
#include <curl/curl.h>

#include "config.h"
#include "etcd.h"
#include "etcd_transport.h"

struct etcd_client {
	CURLM *multi;
	char *endpoints[KM_MAX_ENDPOINTS];
	size_t n_endpoints;
	size_t current;
	unsigned generation;
	long timeout_ms;
	struct etcd_transport transport;
	struct etcd_call *calls;
	struct etcd_watch *watches;
};

extern struct etcd_client etcd_client;

/* etcd_watch.c, driven from etcd.c's turn of the loop. */
/* A transfer of a watch ended; false if easy is no watch of ours. */
bool etcd_watch_transfer_done(CURL *easy, CURLcode rc);
/* Hand queued messages over, then free the watches that are done. */
void etcd_watches_after_poll(void);
void etcd_watches_free_all(void);

#endif
