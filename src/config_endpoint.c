/*
 * config_endpoint.c - what an etcd endpoint URL may be.
 *
 * An endpoint names a server: http or https and a host.  etcd.c and
 * kingsmootctl append the request path ("/v3/kv/range") to it.
 */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ENDPOINT_MAX 512

int endpoint_check(const char *url, char *why, size_t whylen)
{
	const char *host, *problem;
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
		return 0;
	snprintf(why, whylen, "'%s' %s", url, problem);
	return -EINVAL;
}
