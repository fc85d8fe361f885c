/*
 * etcd_internal.h - shared by the files of the daemon's etcd client only:
 * etcd.c (the client, its endpoints and unary calls), etcd_watch.c (watch
 * streams), etcd_easy.c (the easy handles kept for reuse) and etcd_login.c
 * (logging in). The rest of the program sees etcd.h.
 */
#ifndef KM_ETCD_INTERNAL_H
#define KM_ETCD_INTERNAL_H

#include <stdbool.h>
#include <curl/curl.h>

#include "config.h"
#include "etcd.h"
#include "etcd_auth.h"
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
	CURL *idle_easy[4];             /* finished handles, for reuse */
	size_t n_idle_easy;
	unsigned transport_generation;  /* settings changed: handles go */
	struct curl_slist *plain_headers;       /* of requests without a token */

	/* etcd_login.c */
	char *username, *password;      /* "" when not configured */
	struct etcd_auth auth;
	char login_refusal[320];        /* why the last login was refused */
	bool auth_off_logged;
	void (*on_denied)(const char *why, void *ud);
	void *denied_ud;
};

extern struct etcd_client etcd_client;

/* etcd_easy.c */
/* What one transfer sets on its handle; all of it, every time. */
struct etcd_transfer {
	const char *url;
	struct curl_slist *headers;
	char *errbuf;                   /* CURL_ERROR_SIZE, or NULL */
	long timeout_ms;                /* 0: none, for a stream */
	const char *body;
	curl_write_callback write;
	void *write_data;
	void *private_data;
};
/* An easy handle with the transport's settings on it, a kept one if there
 * is one, and the generation to give it back with. */
CURL *etcd_easy_take(unsigned *transport_generation);
/* Done with easy, which is out of the multi handle: keep it or free it. */
void etcd_easy_give(CURL *easy, unsigned transport_generation);
/* Set every option of one transfer; t's pointers must outlive it. */
void etcd_easy_prepare(CURL *easy, const struct etcd_transfer *t);
/* The header lines for a request with token (or none): *owned is what
 * the caller must free with etcd_transport_headers_free(), NULL when the
 * lines are the shared ones. NULL when out of memory. */
struct curl_slist *etcd_easy_headers(const char *token, struct curl_slist **owned);
void etcd_easy_free_idle(void);
/* The kept handles and the shared header lines. */
void etcd_easy_free_all(void);
/* The TLS files were read again or a timeout changed: no handle from
 * before is kept. */
void etcd_easy_transport_changed(void);

/* etcd.c */
/* Start the login request (no token; its callback runs from the loop). */
struct etcd_call *etcd_call_login(json_t *body, etcd_done_cb cb);
/* A login ended (err 0: a token, or none needed): start the calls that
 * waited for it, or fail them with why. */
void etcd_calls_login_done(int err, const char *why);

/* etcd_login.c */
void etcd_login_init(const struct config *cfg);
void etcd_login_free(void);
void etcd_login_set_password(const char *password);
/* Whether a request may go: 1 now, 0 once a login is done (it is under
 * way; the *_login_done functions follow), or -errno with why. */
int etcd_login_step(char *why, size_t whylen);
/* The token to send (NULL: none), and its generation. */
const char *etcd_login_token(unsigned *generation);
/* etcd refused the token of that generation: forget it. */
void etcd_login_token_refused(unsigned generation);
/* Whether a request that got error e should log in and go once more. */
bool etcd_login_retry_with_new_token(const struct etcd_error *e, bool retried);
/* Say in e->message what to change, where etcd's words do not. */
void etcd_login_explain(struct etcd_error *e);
/* etcd refused what (a path) for lack of permission: tell the handler. */
void etcd_login_denied(const char *what, const char *message);

/* etcd_watch.c, driven from etcd.c's turn of the loop. */
/* A transfer of a watch ended; false if easy is no watch of ours. */
bool etcd_watch_transfer_done(CURL *easy, CURLcode rc);
/* Hand queued messages over, then free the watches that are done. */
void etcd_watches_after_poll(void);
void etcd_watches_free_all(void);
/* As etcd_calls_login_done, for the watches. */
void etcd_watches_login_done(int err, const char *why);

#endif
