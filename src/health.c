/*
 * health.c - the periodic health check: this file owns its schedule and
 * the fall/rise counting that turns run results into a verdict.
 *
 * The command runs through the child runner (child.c), like a hook: no
 * shell, its own process group, stdin /dev/null, stdout and stderr on one
 * pipe. Its output is logged at debug level, cut like a hook's, with one
 * line budget across runs so that a check run every interval cannot flood
 * the log; the first line is also kept for the failure message. A check
 * that outlives health.timeout is killed with its whole group at once
 * (SIGKILL): a health check must answer quickly.
 * Until the first check has finished the node counts as unhealthy, so a
 * service that is down at start never gets the leadership first.
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* Bytes of the check's first output line in its failure message. */
#define HEALTH_OUTPUT_MAX 256

static struct {
	const struct config *cfg;
	bool enabled;
	bool discard;           /* the running check was stopped: no verdict */
	health_changed_cb cb;
	void *ud;
	bool healthy;
	bool known;             /* a check has finished */
	int ok_streak, fail_streak;
	struct child runner;
	struct loop_timer interval_timer;
	char *envp[4];
} H;

static void set_health(bool healthy, const char *why)
{
	bool changed = healthy != H.healthy || !H.known;

	H.healthy = healthy;
	H.known = true;
	if (!changed)
		return;
	if (healthy)
		log_notice("health check now passing (%s)", why);
	else
		log_warnx("health check now failing (%s)", why);
	if (H.cb)
		H.cb(healthy, H.ud);
}

/* how is NULL when the check could not even be started. */
static void record(const struct child_exit *how)
{
	char why[HEALTH_OUTPUT_MAX + 64];
	bool ok = how != NULL && how->status_known && !how->timed_out &&
	    WIFEXITED(how->status) && WEXITSTATUS(how->status) == 0;

	if (ok) {
		H.fail_streak = 0;
		H.ok_streak++;
		snprintf(why, sizeof(why), "%d in a row", H.ok_streak);
		/* The first answer decides; later a recovery needs `rise`. */
		if (!H.known || (!H.healthy && H.ok_streak >= H.cfg->health_rise))
			set_health(true, why);
		return;
	}
	H.ok_streak = 0;
	H.fail_streak++;
	if (how == NULL)
		snprintf(why, sizeof(why), "cannot start");
	else if (how->timed_out)
		snprintf(why, sizeof(why), "timed out");
	else if (!how->status_known)
		snprintf(why, sizeof(why), "exit status lost");
	else if (WIFEXITED(how->status))
		snprintf(why, sizeof(why), "exit status %d%s%.*s",
		    WEXITSTATUS(how->status), how->first_line[0] ? ": " : "",
		    HEALTH_OUTPUT_MAX - 1, how->first_line);
	else
		snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(how->status));
	/* A long outage is one line, not one per interval. */
	(H.fail_streak == 1 ? log_info : log_debug)("health check failed "
	    "(%d in a row): %s", H.fail_streak, why);
	if (!H.known || (H.healthy && H.fail_streak >= H.cfg->health_fall))
		set_health(false, why);
}

static void check_exited(const struct child_exit *how, void *ud)
{
	if (H.discard) {
		H.discard = false;
		return;
	}
	record(how);
}

static void run_check(void *ud)
{
	int e;

	loop_timer_arm_in(&H.interval_timer, sec_to_ms(H.cfg->health_interval));
	if (child_running(&H.runner))
		return;
	H.discard = false;
	e = child_start(&H.runner, &(struct child_spec){
		.path = H.cfg->health_command[0],
		.argv = H.cfg->health_command,
		.envp = H.envp,
		.name = "health check",
		.stdout_level = CHILD_LINE_DEBUG,
		.merge_stderr = true,
		.timeout_ms = sec_to_ms(H.cfg->health_timeout),
		.kill_delay_ms = 0,
		.budget_spans_runs = true,
	});
	if (e < 0) {
		log_warnx("health check: cannot start %s: %s",
		    H.cfg->health_command[0], strerror(-e));
		record(NULL);
	}
}

static void free_env(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(H.envp); i++) {
		free(H.envp[i]);
		H.envp[i] = NULL;
	}
}

static char *env_pair(const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 2;
	char *s = xcalloc(len, 1);

	snprintf(s, len, "%s=%s", key, value);
	return s;
}

void health_init(health_changed_cb cb, void *ud)
{
	H.cb = cb;
	H.ud = ud;
	loop_timer_init(&H.interval_timer, run_check, NULL);
	child_init(&H.runner, check_exited, NULL);
}

void health_stop(void)
{
	loop_timer_disarm(&H.interval_timer);
	if (child_running(&H.runner)) {
		child_terminate(&H.runner);
		H.discard = true;
	}
}

bool health_busy(void)
{
	return child_running(&H.runner);
}

void health_configure(const struct config *cfg)
{
	/* Not H.cfg->health_enabled: the old configuration may be gone. */
	bool was_enabled = H.enabled;

	free_env();
	H.cfg = cfg;
	H.enabled = cfg->health_enabled;
	if (!cfg->health_enabled) {
		health_stop();
		H.known = false;
		H.healthy = false;
		return;
	}
	H.envp[0] = xstrdup("PATH=" PROC_SAFE_PATH);
	H.envp[1] = env_pair("KINGSMOOT_SERVICE", cfg->service);
	H.envp[2] = env_pair("KINGSMOOT_NODE", cfg->node);
	/* A new or changed check starts over at once; an unchanged one keeps
	 * its streaks and its schedule. */
	if (!was_enabled) {
		H.known = false;
		H.ok_streak = H.fail_streak = 0;
		loop_timer_arm_in(&H.interval_timer, 0);
	} else if (!H.interval_timer.armed && !child_running(&H.runner)) {
		loop_timer_arm_in(&H.interval_timer, 0);
	}
}

bool health_passing(void)
{
	return H.known && H.healthy;
}
