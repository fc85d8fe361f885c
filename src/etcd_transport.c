/*
 * etcd_transport.c - the shared HTTP settings of requests to etcd (see
 * etcd_transport.h).
 */
#include "etcd_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util.h"

static const char *const common_headers[] = {
	"Content-Type: application/json",
	/* A member cut off from quorum answers at once instead of in 7 s. */
	"Grpc-Metadata-hasleader: true",
	/* No 100-continue round trip before a body. */
	"Expect:",
};

static void tls_file_free(struct etcd_tls_file *f)
{
	free(f->path);
	if (f->data) {
		/* One of them is a private key. */
		explicit_bzero(f->data, f->len);
		free(f->data);
	}
	memset(f, 0, sizeof(*f));
}

static int read_whole(int fd, struct etcd_tls_file *f)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((unsigned long long)st.st_size > ETCD_TLS_FILE_MAX)
		return -EFBIG;
	f->data = xcalloc((size_t)st.st_size + 1, 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, f->data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	f->len = got;
	return got > 0 ? 0 : -ENODATA;
}

static int tls_file_read(struct etcd_tls_file *f, const char *key,
    const char *path, char *why, size_t whylen)
{
	int fd, r;

	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path ? path : "");
	if (f->path[0] == '\0')
		return 0;
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
	} else {
		r = read_whole(fd, f);
		close(fd);
	}
	if (r == 0)
		return 0;
	snprintf(why, whylen, "%s '%s': %s", key, f->path,
	    r == -EINVAL ? "not a regular file" :
	    r == -EFBIG ? "larger than 1 MiB" :
	    r == -ENODATA ? "empty" : strerror(-r));
	tls_file_free(f);
	return r;
}

int etcd_transport_init(struct etcd_transport *t, const struct config *cfg,
    char *why, size_t whylen)
{
	int r;

	memset(t, 0, sizeof(*t));
	t->connect_timeout_ms = (long)sec_to_ms(cfg->request_timeout);
	if ((r = tls_file_read(&t->ca, "etcd.ca_file", cfg->ca_file, why,
	    whylen)) < 0 ||
	    (r = tls_file_read(&t->cert, "etcd.cert_file", cfg->cert_file, why,
	    whylen)) < 0 ||
	    (r = tls_file_read(&t->key, "etcd.key_file", cfg->key_file, why,
	    whylen)) < 0) {
		etcd_transport_free(t);
		return r;
	}
	return 0;
}

int etcd_transport_reload(struct etcd_transport *t, const struct config *cfg,
    char *why, size_t whylen)
{
	struct etcd_transport next;
	int r = etcd_transport_init(&next, cfg, why, whylen);

	if (r < 0)
		return r;
	etcd_transport_free(t);
	*t = next;
	return 0;
}

void etcd_transport_free(struct etcd_transport *t)
{
	tls_file_free(&t->ca);
	tls_file_free(&t->cert);
	tls_file_free(&t->key);
	memset(t, 0, sizeof(*t));
}

struct curl_slist *etcd_transport_headers(const char *token)
{
	struct curl_slist *h = NULL, *next;
	char *auth = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(common_headers); i++) {
		next = curl_slist_append(h, common_headers[i]);
		if (next == NULL)
			goto fail;
		h = next;
	}
	if (token == NULL)
		return h;
	/* etcd takes the token raw: "Bearer <token>" is an invalid token. */
	if (asprintf(&auth, "Authorization: %s", token) < 0)
		goto fail;
	next = curl_slist_append(h, auth);
	free_secret(auth);
	if (next == NULL)
		goto fail;
	return next;
fail:
	etcd_transport_headers_free(h);
	return NULL;
}

void etcd_transport_headers_free(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

static void set_blob(CURL *easy, CURLoption option, const struct etcd_tls_file *f)
{
	struct curl_blob blob = {
		.data = f->data, .len = f->len, .flags = CURL_BLOB_COPY,
	};

	curl_easy_setopt(easy, option, &blob);
}

void etcd_transport_set_request(CURL *easy, const char *url,
    struct curl_slist *headers, char *errbuf)
{
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	if (errbuf)
		errbuf[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
}

void etcd_transport_setopt(CURL *easy, const struct etcd_transport *t)
{
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	/* etcd is never reached through a proxy from the environment. */
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
	/* libcurl's defaults, stated so that nothing ever turns them off. */
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->ca.len) {
		/* etcd.ca_file is the only trust: not the system's CAs too. */
		set_blob(easy, CURLOPT_CAINFO_BLOB, &t->ca);
		curl_easy_setopt(easy, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
	}
	if (t->cert.len) {
		set_blob(easy, CURLOPT_SSLCERT_BLOB, &t->cert);
		set_blob(easy, CURLOPT_SSLKEY_BLOB, &t->key);
	}
}

int etcd_transport_url(char *out, size_t outlen, const char *endpoint,
    const char *path)
{
	size_t len = strlen(endpoint);
	int n;

	/* "http://h:2379/" and "http://h:2379" name the same server. */
	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	n = snprintf(out, outlen, "%.*s%s", (int)len, endpoint, path);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

void etcd_transport_explain(const struct etcd_transport *t, CURLcode rc,
    const char *detail, char *out, size_t outlen)
{
	const char *d = detail && detail[0] ? detail : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		if (t->ca.path && t->ca.path[0])
			snprintf(out, outlen, "TLS: etcd's certificate does not "
			    "verify against etcd.ca_file '%s': %s", t->ca.path, d);
		else
			snprintf(out, outlen, "TLS: etcd's certificate does not "
			    "verify: %s (etcd.ca_file is not set, so only the "
			    "system's CAs are trusted)", d);
		return;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(out, outlen, "TLS: etcd.ca_file '%s' cannot be used: %s",
		    t->ca.path ? t->ca.path : "", d);
		return;
	case CURLE_SSL_CERTPROBLEM:
		snprintf(out, outlen, "TLS: our client certificate (etcd.cert_file "
		    "'%s', etcd.key_file '%s') cannot be used: %s",
		    t->cert.path ? t->cert.path : "",
		    t->key.path ? t->key.path : "", d);
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		/* With TLS 1.3 a refused client certificate shows as an alert
		 * on the first read, after the handshake seemed done. */
		if (strstr(d, "alert") != NULL) {
			snprintf(out, outlen, "TLS: etcd ended the connection: %s "
			    "(%s)", d, t->cert.len ? "does etcd trust the CA of "
			    "etcd.cert_file?" : "etcd may want a client "
			    "certificate: etcd.cert_file and etcd.key_file");
			return;
		}
		break;
	default:
		break;
	}
	snprintf(out, outlen, "%s", d);
}
