/*
 * loop.h - the single-threaded event loop.
 *
 * One poll() waits on libcurl's sockets, the descriptors registered here
 * (signalfd, hook pipes and pidfds) and the nearest timer deadline,
 * libcurl's own among them. Callbacks run to completion and must never
 * block.
 */
#ifndef KM_LOOP_H
#define KM_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>

typedef void (*loop_fd_cb)(int fd, short revents, void *ud);
typedef void (*loop_timer_cb)(void *ud);

struct loop_timer {
	uint64_t due_ms;        /* CLOCK_BOOTTIME, see now_ms() */
	loop_timer_cb cb;
	void *ud;
	bool armed;
	struct loop_timer *next;
};

/* The multi handle whose sockets and timeout the loop drives, and what
 * to run after libcurl has done its work in a wake-up. */
void loop_set_curl(CURLM *multi, void (*after_poll)(void));

/* What to run each time the loop is about to wait: a check over the
 * whole daemon once every callback has run to completion. */
void loop_set_before_sleep(void (*before_sleep)(void));

/* events: POLLIN/POLLOUT. At most LOOP_MAX_FDS descriptors. */
#define LOOP_MAX_FDS 64
int loop_add_fd(int fd, short events, loop_fd_cb cb, void *ud);
void loop_del_fd(int fd);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *ud);
void loop_timer_arm_at(struct loop_timer *t, uint64_t due_ms);
void loop_timer_arm_in(struct loop_timer *t, uint64_t delay_ms);
void loop_timer_disarm(struct loop_timer *t);

/* Wait for at most max_wait_ms and dispatch whatever is ready. */
int loop_run_once(uint64_t max_wait_ms);

#endif
