/*
 * etcd_login.c - logging the daemon's etcd client in (etcd.username and
 * etcd.password_file): the login every request and watch waits for, the
 * fresh login after etcd refused a token, and who hears of a denied
 * permission. The rules, and the words for etcd's refusals, are
 * etcd_auth.c's.
 */
#include "etcd_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define C etcd_client

void etcd_login_init(const struct config *cfg)
{
	C.username = xstrdup(cfg->username ? cfg->username : "");
	C.password = xstrdup(cfg->password ? cfg->password : "");
	etcd_auth_init(&C.auth, C.username[0] != '\0');
}

void etcd_login_free(void)
{
	etcd_auth_clear(&C.auth);
	free(C.username);
	free_secret(C.password);
	C.username = C.password = NULL;
}

void etcd_login_set_password(const char *password)
{
	if (password == NULL)
		password = "";
	if (strcmp(C.password, password) == 0)
		return;
	free_secret(C.password);
	C.password = xstrdup(password);
	/* Prove the new password now rather than when the token dies. */
	etcd_auth_reset(&C.auth);
	log_info("etcd.password_file changed: logging in again");
}

void etcd_set_denied_handler(void (*cb)(const char *why, void *ud), void *ud)
{
	C.on_denied = cb;
	C.denied_ud = ud;
}

static void login_done(const struct etcd_result *res, void *ud)
{
	char why[sizeof(C.login_refusal)];
	uint64_t retry_in;
	int err = 0;

	why[0] = '\0';
	switch (etcd_auth_login_done(&C.auth, now_ms(), res->err, &res->error,
	    res->body, &retry_in)) {
	case ETCD_LOGIN_OK:
		log_info("logged in to etcd as '%s' (%s)", C.username, res->endpoint);
		C.auth_off_logged = false;
		break;
	case ETCD_LOGIN_AUTH_OFF:
		if (!C.auth_off_logged)
			log_notice("etcd (%s) has authentication turned off: "
			    "requests go without a token", res->endpoint);
		C.auth_off_logged = true;
		break;
	case ETCD_LOGIN_BAD_CREDENTIALS:
		snprintf(C.login_refusal, sizeof(C.login_refusal),
		    "etcd refused the login of user '%s': %s", C.username,
		    res->error.message);
		log_err("%s (%s); check etcd.username and etcd.password_file; "
		    "no new login for %.1f s", C.login_refusal, res->endpoint,
		    (double)retry_in / 1000.0);
		err = -EACCES;
		snprintf(why, sizeof(why), "%s", C.login_refusal);
		break;
	case ETCD_LOGIN_FAILED:
		err = res->err ? res->err : -EPROTO;
		snprintf(why, sizeof(why), "cannot log in to etcd: %s",
		    res->err ? res->error.message : "malformed answer");
		break;
	}
	/* Everything that waited goes now, or learns why it cannot. */
	etcd_calls_login_done(err, why);
	etcd_watches_login_done(err, why);
}

int etcd_login_step(char *why, size_t whylen)
{
	uint64_t ignored;

	switch (etcd_auth_next(&C.auth, now_ms())) {
	case ETCD_AUTH_SEND:
		return 1;
	case ETCD_AUTH_LOGIN:
		if (etcd_call_login(etcd_req_authenticate(C.username, C.password),
		    login_done) != NULL)
			return 0;
		(void)etcd_auth_login_done(&C.auth, now_ms(), -ENOMEM, NULL, NULL,
		    &ignored);
		snprintf(why, whylen, "cannot start a login request");
		return -ENOMEM;
	case ETCD_AUTH_WAIT:
		return 0;
	case ETCD_AUTH_PAUSED:
		snprintf(why, whylen, "%s", C.login_refusal);
		return -EACCES;
	}
	return -EINVAL;
}

const char *etcd_login_token(unsigned *generation)
{
	*generation = C.auth.generation;
	return etcd_auth_token(&C.auth);
}

void etcd_login_token_refused(unsigned generation)
{
	etcd_auth_token_refused(&C.auth, generation);
}

bool etcd_login_retry_with_new_token(const struct etcd_error *e, bool retried)
{
	return C.auth.enabled && !retried && etcd_error_token_refused(e);
}

void etcd_login_explain(struct etcd_error *e)
{
	etcd_auth_explain(&C.auth, C.username, e);
}

void etcd_login_denied(const char *what, const char *message)
{
	char why[512];

	if (C.on_denied == NULL)
		return;
	snprintf(why, sizeof(why), "etcd denied %s: %s", what, message);
	C.on_denied(why, C.denied_ud);
}
