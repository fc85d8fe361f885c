/* SPDX-License-Identifier: MIT */
/*
 * bare-curl - the least work a renewer on libcurl can do, as a yardstick
 * for kingsmootd's idle cost.
 *
 * kingsmootd speaks to etcd through libcurl's multi interface. This does
 * what bare renew does through the same interface and nothing more: one
 * easy handle set up once and kept for every renewal, the answer checked
 * for a token, the state file written as the contract requires. What it
 * costs beyond bare renew is libcurl's own; what kingsmootd costs beyond
 * it is kingsmootd's.
 *
 *   bare-curl renew PORT LEASE INTERVAL_MS [STATE]
 *       keep LEASE alive every INTERVAL_MS, writing STATE after each
 *       answer when given (a leader's renewal), until killed; the
 *       command line is bare renew's, so that one harness runs both
 *
 * Not a daemon: errors end it with a message and status 1.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "bare_state.h"

struct answer {
	char text[16384];
	size_t len;
};

static size_t answer_append(char *data, size_t size, size_t nmemb, void *ud)
{
	struct answer *a = ud;
	size_t len = size * nmemb;

	if (a->len + len >= sizeof(a->text))
		return 0;
	memcpy(a->text + a->len, data, len);
	a->len += len;
	a->text[a->len] = '\0';
	return len;
}

/* One keepalive: add the handle, drive it to its end, take it out. */
static void keepalive(CURLM *multi, CURL *easy, struct answer *answer)
{
	int running = 1, left;
	CURLMsg *msg;

	answer->len = 0;
	answer->text[0] = '\0';
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		die("curl_multi_add_handle failed");
	while (running) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			die("curl_multi_perform failed");
		if (running && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			die("curl_multi_poll failed");
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
			die("keepalive: %s", curl_easy_strerror(msg->data.result));
	curl_multi_remove_handle(multi, easy);
	if (!strstr(answer->text, "\"TTL\""))
		die("keepalive refused: %.200s", answer->text);
}

int main(int argc, char **argv)
{
	static struct answer answer;
	char url[128], body[64];
	struct curl_slist *headers;
	const char *state;
	CURLM *multi;
	CURL *easy;
	int interval_ms;

	if ((argc != 5 && argc != 6) || strcmp(argv[1], "renew") != 0) {
		fprintf(stderr, "usage: bare-curl renew PORT LEASE INTERVAL_MS [STATE]\n");
		return 64;
	}
	interval_ms = atoi(argv[4]);
	state = argc == 6 ? argv[5] : NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL || (easy = curl_easy_init()) == NULL ||
	    (headers = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
		die("libcurl cannot start");
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v3/lease/keepalive", argv[2]);
	snprintf(body, sizeof(body), "{\"ID\":\"%s\"}", argv[3]);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, answer_append);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	for (;;) {
		if (poll(NULL, 0, interval_ms) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		keepalive(multi, easy, &answer);
		if (state)
			write_state(state, "leader");
	}
}
