/*
 * config_endpoint.c - what an etcd endpoint URL may be, decided once,
 * with libcurl's URL parser (CURLU).
 *
 * An endpoint names a server and nothing more: http or https, a host,
 * and an optional port from 1 to 65535.  etcd.c and kingsmootctl append
 * the request path ("/v3/kv/range") to it, so anything else would change
 * the request: a path is silently prefixed ("http://h:2379/x" asked for
 * "/x/v3/kv/range"), a query or fragment swallows the request path, and
 * user info puts a password where the configuration and logs show it.
 *
 * The endpoint is kept as written.  Once it passes, the text is exactly
 * scheme://host[:port] and at most a "/" (which etcd.c and kingsmootctl
 * drop), so appending a path reaches the server curl parsed here.
 * curl's own rendering would rewrite what the operator wrote ("http://16"
 * becomes "http://0.0.0.16/"), which messages and kingsmootctl show.
 */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#define ENDPOINT_MAX 512

/* A DNS name or IPv4 address; CURLU has already checked a bracketed
 * IPv6 address. */
static bool valid_host(const char *host)
{
	if (host[0] == '[')
		return true;
	for (const char *p = host; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_'))
			return false;
	return true;
}

/* A part as curl_url_get() renders it (free with curl_free), or NULL
 * when the URL has none. */
static char *url_part(CURLU *u, CURLUPart which)
{
	char *part = NULL;

	if (curl_url_get(u, which, &part, 0) != CURLUE_OK)
		return NULL;
	return part;
}

#define ONLY_SERVER " (an endpoint is scheme://host[:port])"

/* What follows "'URL' " in a message about a URL that parsed, or NULL. */
static const char *part_problem(CURLU *u, const char *url)
{
	char *user = url_part(u, CURLUPART_USER);
	char *password = url_part(u, CURLUPART_PASSWORD);
	char *host = url_part(u, CURLUPART_HOST);
	char *port = url_part(u, CURLUPART_PORT);
	char *path = url_part(u, CURLUPART_PATH);
	size_t len = strlen(url);
	const char *why = NULL;

	if (user != NULL || password != NULL)
		why = "has user info (etcd credentials go in etcd.username "
		    "and etcd.password_file)";
	else if (path != NULL && strcmp(path, "/") != 0)
		why = "has a path" ONLY_SERVER;
	/*
	 * libcurl 7.88 reports no fragment for an empty one ("http://h#"),
	 * and newer versions report no empty query either, yet either would
	 * swallow the appended request path; so the text decides.
	 */
	else if (strchr(url, '?') != NULL)
		why = "has a query" ONLY_SERVER;
	else if (strchr(url, '#') != NULL)
		why = "has a fragment" ONLY_SERVER;
	else if (port != NULL && strcmp(port, "0") == 0)
		why = "has a port that is not from 1 to 65535";
	/* "http://h:" parses as no port at all; say what was meant. */
	else if (port == NULL && (url[len - 1] == ':' ||
	    (len > 1 && url[len - 1] == '/' && url[len - 2] == ':')))
		why = "has an empty port";
	/* libcurl 7.88 lets "h%" and "h|x" through as host names. */
	else if (host == NULL || !valid_host(host))
		why = "has a host that is not a DNS name or an IP address";
	curl_free(user);
	curl_free(password);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	return why;
}

/*
 * The URL as a message may show it: user info, which may hold a
 * password, becomes "***", since the message goes to the journal.
 */
static void shown_url(const char *url, char *out, size_t outlen)
{
	const char *start = strstr(url, "://"), *end, *at = NULL;

	if (start == NULL) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	start += 3;
	end = start + strcspn(start, "/?#");
	for (const char *p = start; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		snprintf(out, outlen, "%s", url);
	else
		snprintf(out, outlen, "%.*s***%s", (int)(start - url), url, at);
}

int endpoint_check(const char *url, char *why, size_t whylen)
{
	char shown[ENDPOINT_MAX + 8];
	const char *host, *problem;
	CURLUcode rc;
	CURLU *u;
	size_t n;

	for (n = 0; url[n] != '\0'; n++) {
		if (n >= ENDPOINT_MAX) {
			snprintf(why, whylen, "an endpoint is longer than %d "
			    "bytes", ENDPOINT_MAX);
			return -EINVAL;
		}
		/* Bytes up to 0x20 cover every C-locale space. */
		if ((unsigned char)url[n] <= 0x20 || url[n] == 0x7f) {
			snprintf(why, whylen, "an endpoint contains whitespace "
			    "or control characters");
			return -EINVAL;
		}
	}
	/*
	 * The exact, lower-case prefix is checked first: CURLU would take
	 * "HTTP://h" and "http:/h", and read "https:///x" as host "x".
	 */
	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		host = NULL;
	if (host == NULL)
		problem = "must start with http:// or https://";
	else if (*host == '\0' || strchr("/?#:@", *host) != NULL)
		problem = "has no host";
	else
		problem = NULL;
	shown_url(url, shown, sizeof(shown));
	if (problem != NULL) {
		snprintf(why, whylen, "'%s' %s", shown, problem);
		return -EINVAL;
	}

	u = curl_url();
	if (u == NULL) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* PATH_AS_IS: "/." and "/x/.." are paths too, not "/". */
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS);
	if (rc == CURLUE_OK)
		problem = part_problem(u, url);
	else if (rc == CURLUE_BAD_PORT_NUMBER)
		problem = "has a port that is not from 1 to 65535";
	else if (rc == CURLUE_NO_HOST)
		problem = "has no host";
	else
		problem = NULL;
	curl_url_cleanup(u);
	if (rc == CURLUE_OK && problem == NULL)
		return 0;
	if (problem != NULL)
		snprintf(why, whylen, "'%s' %s", shown, problem);
	else
		snprintf(why, whylen, "'%s' is not a valid URL: %s", shown,
		    curl_url_strerror(rc));
	return -EINVAL;
}
