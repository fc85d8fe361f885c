/*
 * loop.c - the single-threaded event loop: descriptors, timers and
 * libcurl's sockets, all waited on by one curl_multi_poll().
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
static void (*before_sleep_cb)(void);

void loop_set_curl(CURLM *multi, void (*after_poll)(void))
{
	curl_multi = multi;
	curl_after_poll = after_poll;
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
	struct curl_waitfd waitfds[LOOP_MAX_FDS];
	struct loop_fd ready[LOOP_MAX_FDS];
	uint64_t now, wait = max_wait_ms;
	size_t n, nready = 0;
	int numfds = 0;
	CURLMcode mc;

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
	for (size_t i = 0; i < n; i++) {
		waitfds[i].fd = fds[i].fd;
		waitfds[i].events = fds[i].events;
		waitfds[i].revents = 0;
	}
	if (wait > 60000)
		wait = 60000;
	mc = curl_multi_poll(curl_multi, waitfds, (unsigned)n, (int)wait, &numfds);
	if (mc != CURLM_OK) {
		log_warnx("curl_multi_poll: %s", curl_multi_strerror(mc));
		return -EIO;
	}
	/* Snapshot first: callbacks may add or remove descriptors. */
	for (size_t i = 0; i < n; i++) {
		if (waitfds[i].revents) {
			ready[nready] = fds[i];
			ready[nready++].events = waitfds[i].revents;
		}
	}
	if (curl_after_poll)
		curl_after_poll();
	for (size_t i = 0; i < nready; i++) {
		bool still_registered = false;
		for (size_t j = 0; j < nfds; j++)
			if (fds[j].fd == ready[i].fd && fds[j].cb == ready[i].cb &&
			    fds[j].ud == ready[i].ud)
				still_registered = true;
		if (still_registered)
			ready[i].cb(ready[i].fd, ready[i].events, ready[i].ud);
	}
	run_due_timers();
	return 0;
}
