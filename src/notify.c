/*
 * notify.c - systemd service notifications and the watchdog keep-alive.
 *
 * WATCHDOG=1 is sent only while the loop runs and the etcd session is
 * healthy, so systemd's WatchdogSec= also catches a daemon that lost etcd.
 *
 * Messages go out on one non-blocking datagram socket. sd_notify() would
 * block the whole loop once the receiver's queue is full
 * (net.unix.max_dgram_qlen datagrams, 10 by default) and nobody reads it;
 * here a message that does not fit waits in a short queue, retried from a
 * timer, in order. The newest STATUS= replaces a waiting one, and a
 * WATCHDOG=1 that cannot go is dropped: the next period sends another.
 */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "loop.h"
#include "util.h"

#define NOTIFY_PENDING_MAX 4
#define NOTIFY_TEXT_MAX 600
#define NOTIFY_RETRY_FIRST_MS 20
#define NOTIFY_RETRY_MAX_MS 1000

static bool ready_sent;
static bool (*session_healthy)(void);
static struct loop_timer watchdog_timer;
static uint64_t watchdog_period_ms;

/* The socket: opened on the first message. */
static bool opened;
static int sock_fd = -1;
static bool through_libsystemd;   /* an address this file does not speak */
static struct sockaddr_un addr;
static socklen_t addr_len;

static char pending[NOTIFY_PENDING_MAX][NOTIFY_TEXT_MAX];
static size_t n_pending;
static struct loop_timer retry_timer;
static uint64_t retry_ms;

static void open_socket(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	opened = true;
	if (path == NULL || path[0] == '\0')
		return;
	if (path[0] != '/' && path[0] != '@') {
		/* vsock: and the like: libsystemd knows them. */
		through_libsystemd = true;
		return;
	}
	len = strlen(path);
	if (len >= sizeof(addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET is too long; systemd will not be told "
		    "the service's state");
		return;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';   /* the abstract namespace */
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock_fd < 0)
		log_warnx("cannot open a socket for NOTIFY_SOCKET: %s",
		    strerror(errno));
}

/* 0 sent or dropped for good, -EAGAIN when the receiver is full. */
static int send_now(const char *text)
{
	ssize_t n;

	do
		n = sendto(sock_fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)&addr, addr_len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN || errno == ENOBUFS)
		return -EAGAIN;
	/* Nobody bound there (not under systemd after all): nothing to do. */
	log_debug("NOTIFY_SOCKET: %s", strerror(errno));
	return 0;
}

static void flush_pending(void)
{
	size_t sent = 0;

	while (sent < n_pending && send_now(pending[sent]) == 0)
		sent++;
	memmove(pending, pending[sent], (n_pending - sent) * sizeof(pending[0]));
	n_pending -= sent;
	if (n_pending == 0) {
		retry_ms = 0;
		loop_timer_disarm(&retry_timer);
		return;
	}
	retry_ms = retry_ms ? retry_ms * 2 : NOTIFY_RETRY_FIRST_MS;
	if (retry_ms > NOTIFY_RETRY_MAX_MS)
		retry_ms = NOTIFY_RETRY_MAX_MS;
	loop_timer_arm_in(&retry_timer, retry_ms);
}

static void retry_fired(void *ud)
{
	flush_pending();
}

static bool is_status(const char *text)
{
	return strncmp(text, "STATUS=", 7) == 0;
}

/* Queue text behind what already waits; false when it was dropped. */
static bool enqueue(const char *text)
{
	size_t i;

	if (strcmp(text, "WATCHDOG=1") == 0)
		return false;
	for (i = 0; i < n_pending; i++)
		if ((is_status(text) && is_status(pending[i])) ||
		    strcmp(text, pending[i]) == 0)
			break;
	if (i < n_pending) {
		/* The same kind waits already: the newest takes its turn. */
		memmove(pending[i], pending[i + 1], (n_pending - i - 1) * sizeof(pending[0]));
		n_pending--;
	}
	if (n_pending == NOTIFY_PENDING_MAX)
		return false;
	snprintf(pending[n_pending++], sizeof(pending[0]), "%s", text);
	if (!retry_timer.armed) {
		retry_ms = NOTIFY_RETRY_FIRST_MS;
		loop_timer_arm_in(&retry_timer, retry_ms);
	}
	return true;
}

static void notify_send(const char *text)
{
	if (!opened) {
		loop_timer_init(&retry_timer, retry_fired, NULL);
		open_socket();
	}
	if (through_libsystemd) {
		sd_notify(0, text);
		return;
	}
	if (sock_fd < 0)
		return;
	if (n_pending == 0 && send_now(text) == 0)
		return;
	if (!enqueue(text))
		log_debug("systemd's notify socket is full; dropped %.*s",
		    (int)strcspn(text, "="), text);
}

static void watchdog_tick(void *ud)
{
	if (session_healthy == NULL || session_healthy())
		notify_send("WATCHDOG=1");
	else
		log_debug("watchdog: etcd session unhealthy, not acknowledging");
	loop_timer_arm_in(&watchdog_timer, watchdog_period_ms);
}

void notify_init(bool (*healthy)(void))
{
	uint64_t usec = 0;

	session_healthy = healthy;
	loop_timer_init(&watchdog_timer, watchdog_tick, NULL);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		watchdog_period_ms = usec / 2000;
		if (watchdog_period_ms == 0)
			watchdog_period_ms = 1;
		loop_timer_arm_in(&watchdog_timer, watchdog_period_ms);
	}
}

void notify_ready(void)
{
	if (ready_sent)
		return;
	ready_sent = true;
	notify_send("READY=1");
}

void notify_status(const char *fmt, ...)
{
	char text[512], message[NOTIFY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* systemd splits at newlines: one in STATUS= would be a command. */
	log_defang(text);
	snprintf(message, sizeof(message), "STATUS=%s", text);
	notify_send(message);
}

void notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void notify_reloaded(void)
{
	ready_sent = true;
	notify_send("READY=1");
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}
