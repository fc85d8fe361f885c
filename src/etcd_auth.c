/*
 * etcd_auth.c - the login token of an etcd client (see etcd_auth.h).
 */
#include "etcd_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void etcd_auth_init(struct etcd_auth *a, bool enabled)
{
	memset(a, 0, sizeof(*a));
	a->enabled = enabled;
}

static void forget_token(struct etcd_auth *a)
{
	free_secret(a->token);
	a->token = NULL;
	a->generation++;
}

void etcd_auth_clear(struct etcd_auth *a)
{
	forget_token(a);
	memset(a, 0, sizeof(*a));
}

enum etcd_auth_step etcd_auth_next(struct etcd_auth *a, uint64_t now)
{
	if (!a->enabled || a->etcd_auth_off || a->token)
		return ETCD_AUTH_SEND;
	if (a->login_running)
		return ETCD_AUTH_WAIT;
	if (a->bad_logins > 0 && now < a->retry_at)
		return ETCD_AUTH_PAUSED;
	a->login_running = true;
	return ETCD_AUTH_LOGIN;
}

const char *etcd_auth_token(const struct etcd_auth *a)
{
	return a->enabled && !a->etcd_auth_off ? a->token : NULL;
}

void etcd_auth_token_refused(struct etcd_auth *a, unsigned generation)
{
	if (!a->enabled || generation != a->generation)
		return;
	/* etcd wants a token after all: authentication was turned on. */
	a->etcd_auth_off = false;
	forget_token(a);
}

void etcd_auth_reset(struct etcd_auth *a)
{
	forget_token(a);
	a->bad_logins = 0;
	a->retry_at = 0;
}

enum etcd_login_result etcd_auth_login_done(struct etcd_auth *a, uint64_t now,
    int err, const struct etcd_error *error, json_t *body,
    uint64_t *retry_in_ms)
{
	char *token = NULL;

	a->login_running = false;
	*retry_in_ms = 0;
	if (err == 0 && etcd_parse_authenticate(body, &token) == 0) {
		forget_token(a);
		a->token = token;
		a->etcd_auth_off = false;
		a->bad_logins = 0;
		return ETCD_LOGIN_OK;
	}
	if (err != -EREMOTEIO)
		return ETCD_LOGIN_FAILED;
	if (etcd_error_auth_disabled(error)) {
		forget_token(a);
		a->etcd_auth_off = true;
		a->bad_logins = 0;
		return ETCD_LOGIN_AUTH_OFF;
	}
	if (etcd_error_bad_credentials(error)) {
		*retry_in_ms = backoff_ms(a->bad_logins++);
		a->retry_at = now + *retry_in_ms;
		return ETCD_LOGIN_BAD_CREDENTIALS;
	}
	return ETCD_LOGIN_FAILED;
}

void etcd_auth_explain(const struct etcd_auth *a, const char *username,
    struct etcd_error *e)
{
	char msg[sizeof(e->message)];

	if (etcd_error_common_name_refused(e))
		snprintf(msg, sizeof(msg), "etcd refuses client certificates with "
		    "a CommonName while its authentication is on: etcd.cert_file "
		    "needs a certificate without one");
	else if (!a->enabled && etcd_error_token_refused(e))
		snprintf(msg, sizeof(msg), "%.150s (etcd wants a user: set "
		    "etcd.username and etcd.password_file)", e->message);
	else if (etcd_error_permission_denied(e))
		snprintf(msg, sizeof(msg), "%.150s (user '%.64s')", e->message,
		    a->enabled ? username : "none");
	else
		return;
	memcpy(e->message, msg, sizeof(msg));
}
