/*
 * etcd_auth.h - the login token an etcd client sends: when a request may
 * go, when a login must come first, how soon a refused login is tried
 * again, and the words for etcd's refusals. Shared by the daemon's client
 * and kingsmootctl's; pure: the caller makes the login request, keeps the
 * clock and logs.
 *
 * A token goes bad without notice (a JWT expires, a simple token idles
 * out or dies with a restart, any change of users or roles outdates all),
 * so the client only learns it from a refused request: it forgets the
 * token, logs in again and retries that request once.
 */
#ifndef KM_ETCD_AUTH_H
#define KM_ETCD_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "etcdproto.h"

enum etcd_auth_step {
	ETCD_AUTH_SEND,         /* send now, with etcd_auth_token() */
	ETCD_AUTH_LOGIN,        /* log in first; the login now counts as
	                         * under way */
	ETCD_AUTH_WAIT,         /* a login is under way: wait for it */
	ETCD_AUTH_PAUSED,       /* logins pause after wrong credentials:
	                         * fail now */
};

enum etcd_login_result {
	ETCD_LOGIN_OK,          /* a new token */
	ETCD_LOGIN_AUTH_OFF,    /* etcd has authentication off: send none */
	ETCD_LOGIN_BAD_CREDENTIALS, /* wrong user name or password */
	ETCD_LOGIN_FAILED,      /* no judgement (unreachable, garbage) */
};

struct etcd_auth {
	bool enabled;           /* a user name is configured */
	bool etcd_auth_off;     /* etcd said its authentication is off */
	char *token;            /* NULL: none held */
	unsigned generation;    /* moves on whenever the token changes */
	bool login_running;
	int bad_logins;         /* wrong credentials, so many times in a row */
	uint64_t retry_at;      /* and so no login before this */
};

void etcd_auth_init(struct etcd_auth *a, bool enabled);
void etcd_auth_clear(struct etcd_auth *a);

/* What a request must do at now (ms, CLOCK_BOOTTIME). */
enum etcd_auth_step etcd_auth_next(struct etcd_auth *a, uint64_t now);
/* The token to send; NULL: send none. */
const char *etcd_auth_token(const struct etcd_auth *a);

/* A request sent at that generation had its token refused (or none was
 * sent and etcd wants one): forget it, unless a newer one came since. */
void etcd_auth_token_refused(struct etcd_auth *a, unsigned generation);
/* The password changed: forget the token, and any pause of logins. */
void etcd_auth_reset(struct etcd_auth *a);

/*
 * A login answered: err, error and body as a request's result. After
 * ETCD_LOGIN_BAD_CREDENTIALS, *retry_in_ms says how long logins pause
 * (backoff capped at BACKOFF_MAX_MS); requests meanwhile get
 * ETCD_AUTH_PAUSED.
 */
enum etcd_login_result etcd_auth_login_done(struct etcd_auth *a, uint64_t now,
    int err, const struct etcd_error *error, json_t *body,
    uint64_t *retry_in_ms);

/* Say in e->message what to change where etcd's own words do not: a
 * client certificate with a CommonName, no user where etcd wants one, and
 * which user lacks a permission. */
void etcd_auth_explain(const struct etcd_auth *a, const char *username,
    struct etcd_error *e);

#endif
