/*
 * loop.c - the single-threaded event loop: descriptors, timers and
 * libcurl's sockets, all waited on by one poll().
 *
 * libcurl runs in its socket mode: it names the sockets it wants watched
 * and the one timeout it wants (CURLMOPT_SOCKETFUNCTION, _TIMERFUNCTION),
 * and only the transfer whose socket is ready does any work when it
 * wakes. curl_multi_perform() would visit, and poll, every transfer on
 * every wake-up.
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "log.h"
#include "util.h"

struct loop_fd {
	int fd;
	short events;
	loop_fd_cb cb;
	void *ud;
};

static struct loop_fd fds[LOOP_MAX_FDS];
static size_t nfds;
static struct loop_timer *timers;
static CURLM *curl_multi;
static void (*curl_after_poll)(void);
/* libcurl's one timeout, kept apart from the timers: it is served once
 * per wake-up, after them. A transfer with data left over asks to run
 * again at once; served inside the timer pass, a stream that keeps the
 * socket full would never let the loop poll, and a keepalive's answer
 * would wait behind it. */
static bool curl_due_armed;
static uint64_t curl_due_ms;
static void (*before_sleep_cb)(void);

static void curl_after(void)
{
	if (curl_after_poll)
		curl_after_poll();
}

static void curl_act(curl_socket_t fd, int mask)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(curl_multi, fd, mask, &running);

	if (mc != CURLM_OK)
		log_warnx("curl_multi_socket_action: %s", curl_multi_strerror(mc));
}

static void curl_fd_ready(int fd, short revents, void *ud);

/* Watch fd for libcurl no longer. */
static void drop_curl_fd(int fd)
{
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i].fd == fd && fds[i].cb == curl_fd_ready) {
			fds[i] = fds[--nfds];
			return;
		}
	}
}

static void curl_fd_ready(int fd, short revents, void *ud)
{
	int mask = 0;

	if (revents & (POLLIN | POLLHUP | POLLERR))
		mask |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLNVAL))
		mask |= CURL_CSELECT_ERR;
	curl_act(fd, mask);
	if (revents & POLLNVAL)
		/* Closed without being handed back: never poll it again. */
		drop_curl_fd(fd);
}

static void curl_serve_timeout(void)
{
	if (!curl_due_armed || curl_due_ms > now_ms())
		return;
	curl_due_armed = false;
	curl_act(CURL_SOCKET_TIMEOUT, 0);
	curl_after();
}

/* libcurl: watch s for what, or no longer. Never calls back into it. */
static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	short events = 0;

	drop_curl_fd(s);
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		events |= POLLIN;
	if (what & CURL_POLL_OUT)
		events |= POLLOUT;
	if (loop_add_fd(s, events, curl_fd_ready, NULL) < 0) {
		log_warnx("too many descriptors to watch for libcurl");
		return -1;
	}
	return 0;
}

/* libcurl: call curl_multi_socket_action() once timeout_ms has passed.
 * A request a callback makes (timeout 0) goes out before the loop sleeps
 * again: the timeout is served at the end of this wake-up. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	curl_due_armed = timeout_ms >= 0;
	curl_due_ms = timeout_ms > 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	return 0;
}

void loop_set_curl(CURLM *multi, void (*after_poll)(void))
{
	if (curl_multi && curl_multi != multi) {
		curl_multi_setopt(curl_multi, CURLMOPT_SOCKETFUNCTION, NULL);
		curl_multi_setopt(curl_multi, CURLMOPT_TIMERFUNCTION, NULL);
	}
	curl_due_armed = false;
	/* The old handle's sockets are not ours to watch any more. */
	for (size_t i = 0; i < nfds;)
		if (fds[i].cb == curl_fd_ready)
			fds[i] = fds[--nfds];
		else
			i++;
	curl_multi = multi;
	curl_after_poll = after_poll;
	if (multi) {
		curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
		curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	}
}

void loop_set_before_sleep(void (*before_sleep)(void))
{
	before_sleep_cb = before_sleep;
}

int loop_add_fd(int fd, short events, loop_fd_cb cb, void *ud)
{
	if (nfds == LOOP_MAX_FDS)
		return -EMFILE;
	fds[nfds++] = (struct loop_fd){ fd, events, cb, ud };
	return 0;
}

void loop_del_fd(int fd)
{
	for (size_t i = 0; i < nfds; i++) {
		if (fds[i].fd == fd) {
			fds[i] = fds[--nfds];
			return;
		}
	}
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *ud)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->ud = ud;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct loop_timer **pp;

	if (!t->armed)
		return;
	for (pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

void loop_timer_arm_at(struct loop_timer *t, uint64_t due_ms)
{
	loop_timer_disarm(t);
	t->due_ms = due_ms;
	t->armed = true;
	t->next = timers;
	timers = t;
}

void loop_timer_arm_in(struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_arm_at(t, now_ms() + delay_ms);
}

static void run_due_timers(void)
{
	uint64_t now = now_ms();
	bool fired;

	/* A callback may arm or disarm any timer, so rescan after each. */
	do {
		fired = false;
		for (struct loop_timer *t = timers; t; t = t->next) {
			if (t->due_ms <= now) {
				loop_timer_disarm(t);
				t->cb(t->ud);
				fired = true;
				break;
			}
		}
	} while (fired);
}

int loop_run_once(uint64_t max_wait_ms)
{
	struct pollfd pfds[LOOP_MAX_FDS];
	struct loop_fd ready[LOOP_MAX_FDS];
	uint64_t now, wait = max_wait_ms;
	size_t n, nready = 0;
	int r;

	/* It may arm timers or add descriptors: before they are collected. */
	if (before_sleep_cb)
		before_sleep_cb();
	now = now_ms();
	n = nfds;

	for (struct loop_timer *t = timers; t; t = t->next) {
		uint64_t left = t->due_ms > now ? t->due_ms - now : 0;
		if (left < wait)
			wait = left;
	}
	if (curl_due_armed && curl_multi)
		wait = curl_due_ms > now ? (curl_due_ms - now < wait ?
		    curl_due_ms - now : wait) : 0;
	for (size_t i = 0; i < n; i++) {
		pfds[i].fd = fds[i].fd;
		pfds[i].events = fds[i].events;
		pfds[i].revents = 0;
	}
	if (wait > 60000)
		wait = 60000;
	r = poll(pfds, (nfds_t)n, (int)wait);
	if (r < 0 && errno != EINTR) {
		log_warnx("poll: %s", strerror(errno));
		return -EIO;
	}
	/* Snapshot first: callbacks may add or remove descriptors. */
	for (size_t i = 0; r > 0 && i < n; i++) {
		if (pfds[i].revents) {
			ready[nready] = fds[i];
			ready[nready++].events = pfds[i].revents;
		}
	}
	/* libcurl's sockets first, then what their transfers finished, then
	 * the other descriptors, then the timers. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nready; i++) {
			bool still_registered = false;

			if ((ready[i].cb == curl_fd_ready) != (pass == 0))
				continue;
			for (size_t j = 0; j < nfds; j++)
				if (fds[j].fd == ready[i].fd && fds[j].cb == ready[i].cb &&
				    fds[j].ud == ready[i].ud)
					still_registered = true;
			if (still_registered)
				ready[i].cb(ready[i].fd, ready[i].events, ready[i].ud);
		}
		if (pass == 0)
			curl_after();
	}
	run_due_timers();
	if (curl_multi)
		curl_serve_timeout();
	return 0;
}
