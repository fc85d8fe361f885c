/* SPDX-License-Identifier: MIT */
/*
 * bare - the least work a candidate can do, as a yardstick for kingsmootd.
 *
 * It speaks to etcd's JSON gateway over one raw loopback socket with
 * requests built once, parses nothing beyond finding a token, and writes
 * the state file exactly as the contract requires (temporary file, fsync,
 * rename, fsync of the directory). Whatever kingsmootd spends beyond it is
 * overhead; what bare itself spends is the machine's.
 *
 *   bare renew PORT LEASE INTERVAL_MS [STATE]
 *       keep LEASE alive every INTERVAL_MS, writing STATE after each
 *       answer when given (a leader's renewal), until killed
 *   bare resign PORT LEASE STATE
 *       print "ready", wait for SIGTERM, write STATE, revoke LEASE and
 *       exit when etcd answers (a leader's graceful step-down)
 *   bare succeed PORT KEY_BASE64 [STATE]
 *       watch the key, print "ready", and write STATE on every DELETE
 *       event (a follower next in line), until killed; without STATE,
 *       only take the events in (a follower further back: the least it
 *       must do is hear that the leader changed)
 *
 * Not a daemon: errors end it with a message and status 1.
 */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bare_state.h"

static int connect_loopback(const char *port_text)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int one = 1, fd;

	addr.sin_port = htons((uint16_t)atoi(port_text));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("connect to port %s: %s", port_text, strerror(errno));
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("TCP_NODELAY: %s", strerror(errno));
	return fd;
}

static int build_post(char *out, size_t size, const char *path, const char *body)
{
	int n = snprintf(out, size,
	    "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    path, strlen(body), body);

	if (n < 0 || (size_t)n >= size)
		die("request for %s too long", path);
	return n;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("send: %s", n < 0 ? strerror(errno) : "closed");
		data += n;
		len -= (size_t)n;
	}
}

/* One read of whatever etcd sent, NUL-terminated. */
static size_t receive(int fd, char *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		die("recv: %s", n < 0 ? strerror(errno) : "etcd closed the connection");
	buf[n] = '\0';
	return (size_t)n;
}

static void ready(void)
{
	if (puts("ready") == EOF || fflush(stdout) == EOF)
		die("stdout: %s", strerror(errno));
}

static int renew(char **argv, int argc)
{
	char body[64], request[512], answer[16384];
	int fd = connect_loopback(argv[0]), interval_ms = atoi(argv[2]), len;
	const char *state = argc > 3 ? argv[3] : NULL;

	snprintf(body, sizeof(body), "{\"ID\":\"%s\"}", argv[1]);
	len = build_post(request, sizeof(request), "/v3/lease/keepalive", body);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t got = 0;

		if (poll(NULL, 0, interval_ms) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		send_all(fd, request, (size_t)len);
		/* The gateway streams the answer in chunks; the zero-length
		 * chunk may come in a segment of its own. */
		answer[0] = '\0';
		while (!strstr(answer, "\r\n0\r\n\r\n")) {
			if (got + 1 >= sizeof(answer))
				die("keepalive answer too long");
			if (poll(&pfd, 1, 5000) != 1)
				die("no keepalive answer within 5 s");
			got += receive(fd, answer + got, sizeof(answer) - got);
		}
		if (!strstr(answer, "\"TTL\""))
			die("keepalive refused: %.200s", answer);
		if (state)
			write_state(state, "leader");
	}
}

static int resign(char **argv)
{
	char body[64], request[512], answer[16384];
	struct signalfd_siginfo info;
	sigset_t mask;
	int fd = connect_loopback(argv[0]), sfd, len;

	snprintf(body, sizeof(body), "{\"ID\":\"%s\"}", argv[1]);
	len = build_post(request, sizeof(request), "/v3/lease/revoke", body);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
		die("signalfd: %s", strerror(errno));
	ready();
	if (read(sfd, &info, sizeof(info)) != sizeof(info))
		die("signalfd read: %s", strerror(errno));
	write_state(argv[2], "not_member");
	send_all(fd, request, (size_t)len);
	receive(fd, answer, sizeof(answer));
	if (!strstr(answer, " 200 "))
		die("revoke refused: %.200s", answer);
	return 0;
}

static int succeed(char **argv, int argc)
{
	static const char token[] = "\"DELETE\"";
	char body[512], request[1024], buf[16384 + sizeof(token)];
	size_t kept = 0;
	int fd = connect_loopback(argv[0]), len, created = 0;
	const char *state = argc > 2 ? argv[2] : NULL;

	if (snprintf(body, sizeof(body), "{\"create_request\":{\"key\":\"%s\"}}", argv[1]) >=
	    (int)sizeof(body))
		die("key too long");
	len = build_post(request, sizeof(request), "/v3/watch", body);
	send_all(fd, request, (size_t)len);
	for (;;) {
		size_t n = receive(fd, buf + kept, sizeof(buf) - kept);

		if (!created && strstr(buf, "\"created\":true")) {
			created = 1;
			ready();
		}
		if (state && strstr(buf, token))
			write_state(state, "leader");
		/* A token split between two reads is found in the next. */
		n += kept;
		kept = n < sizeof(token) - 1 ? n : sizeof(token) - 1;
		memmove(buf, buf + n - kept, kept);
		buf[kept] = '\0';
		if (strstr(buf, token))
			kept = 0;
	}
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "renew") == 0)
		return renew(argv + 2, argc - 2);
	if (argc == 5 && strcmp(argv[1], "resign") == 0)
		return resign(argv + 2);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "succeed") == 0)
		return succeed(argv + 2, argc - 2);
	fprintf(stderr, "usage: bare renew PORT LEASE INTERVAL_MS [STATE]\n"
	    "       bare resign PORT LEASE STATE\n"
	    "       bare succeed PORT KEY_BASE64 [STATE]\n");
	return 64;
}
