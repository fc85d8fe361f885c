/*
 * notify.c - systemd service notifications and the watchdog keep-alive.
 *
 * WATCHDOG=1 is sent only while the loop runs and the etcd session is
 * healthy, so systemd's WatchdogSec= also catches a daemon that lost etcd.
 */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "loop.h"
#include "util.h"

static bool ready_sent;
static bool (*session_healthy)(void);
static struct loop_timer watchdog_timer;
static uint64_t watchdog_period_ms;

static void watchdog_tick(void *ud)
{
	if (session_healthy == NULL || session_healthy())
		sd_notify(0, "WATCHDOG=1");
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
	sd_notify(0, "READY=1");
}

void notify_status(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* sd_notify splits at newlines: one in STATUS= would be a command. */
	log_defang(text);
	sd_notifyf(0, "STATUS=%s", text);
}

void notify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void notify_reloaded(void)
{
	ready_sent = true;
	sd_notify(0, "READY=1");
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}
