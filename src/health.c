/*
 * health.c - the periodic health check.
 *
 * The command runs like a hook (proc_spawn: no shell, own process group,
 * stdin /dev/null) with stdout and stderr on one pipe, of which only the
 * first line is kept for the log. A check that outlives health.timeout is
 * killed with its whole group: a health check must answer quickly.
 * Until the first check has finished the node counts as unhealthy, so a
 * service that is down at start never gets the leadership first.
 */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "loop.h"
#include "proc.h"
#include "util.h"

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
	pid_t pid;
	struct proc_exit_watch exit_watch;
	int out;
	bool timed_out;
	char output[HEALTH_OUTPUT_MAX];
	size_t output_len;
	struct loop_timer interval_timer, timeout_timer;
	char *envp[4];
} H = { .out = -1 };


static void read_output(int fd, short revents, void *ud)
{
	char buf[4096];
	ssize_t n;

	/* Keep the first bytes, drain the rest so the check never blocks. */
	while ((n = read(H.out, buf, sizeof(buf))) > 0) {
		size_t room = sizeof(H.output) - 1 - H.output_len;
		size_t take = (size_t)n < room ? (size_t)n : room;

		memcpy(H.output + H.output_len, buf, take);
		H.output_len += take;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		loop_del_fd(H.out);
		close(H.out);
		H.out = -1;
	}
}

static void on_timeout(void *ud)
{
	if (H.pid == 0)
		return;
	log_warnx("health check timed out after %.1f s; killing it",
	    H.cfg->health_timeout);
	H.timed_out = true;
	kill(-H.pid, SIGKILL);
}

static const char *first_line(void)
{
	char *nl;

	H.output[H.output_len] = '\0';
	nl = strchr(H.output, '\n');
	if (nl)
		*nl = '\0';
	for (char *p = H.output; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return H.output;
}

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

static void record(bool ok, int status)
{
	char why[HEALTH_OUTPUT_MAX + 64];

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
	if (H.timed_out)
		snprintf(why, sizeof(why), "timed out");
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exit status %d%s%s",
		    WEXITSTATUS(status), H.output_len ? ": " : "", first_line());
	else
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	/* A long outage is one line, not one per interval. */
	(H.fail_streak == 1 ? log_info : log_debug)("health check failed "
	    "(%d in a row): %s", H.fail_streak, why);
	if (!H.known || (H.healthy && H.fail_streak >= H.cfg->health_fall))
		set_health(false, why);
}

/* The check was reaped (r = 1) or cannot be waited for. */
static void check_exited(int r, int status, void *ud)
{
	if (H.out >= 0) {
		read_output(H.out, POLLIN, NULL);
		if (H.out >= 0) {
			loop_del_fd(H.out);
			close(H.out);
			H.out = -1;
		}
	}
	loop_timer_disarm(&H.timeout_timer);
	H.pid = 0;
	if (H.discard) {
		H.discard = false;
		return;
	}
	record(r == 1 && !H.timed_out && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, status);
}

static void run_check(void *ud)
{
	int pipefd[2], devnull;
	pid_t pid;

	loop_timer_arm_in(&H.interval_timer, sec_to_ms(H.cfg->health_interval));
	if (H.pid != 0)
		return;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_warn("health check: pipe");
		record(false, 0);
		return;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0 ||
	    loop_add_fd(pipefd[0], POLLIN, read_output, NULL) < 0) {
		log_warn("health check: cannot set up");
		if (devnull >= 0)
			close(devnull);
		close(pipefd[0]);
		close(pipefd[1]);
		record(false, 0);
		return;
	}
	pid = proc_spawn(H.cfg->health_command[0], H.cfg->health_command, H.envp,
	    devnull, pipefd[1], pipefd[1]);
	close(devnull);
	close(pipefd[1]);
	if (pid < 0) {
		log_warnx("health check: cannot start %s: %s",
		    H.cfg->health_command[0], strerror((int)-pid));
		loop_del_fd(pipefd[0]);
		close(pipefd[0]);
		record(false, 0);
		return;
	}
	H.pid = pid;
	H.discard = false;
	H.out = pipefd[0];
	H.output_len = 0;
	H.timed_out = false;
	proc_watch_start(&H.exit_watch, pid);
	loop_timer_arm_in(&H.timeout_timer, sec_to_ms(H.cfg->health_timeout));
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
	loop_timer_init(&H.timeout_timer, on_timeout, NULL);
	proc_watch_init(&H.exit_watch, check_exited, NULL);
}

void health_stop(void)
{
	loop_timer_disarm(&H.interval_timer);
	if (H.pid != 0) {
		kill(-H.pid, SIGKILL);
		H.discard = true;
	}
}

bool health_busy(void)
{
	return H.pid != 0;
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
	H.envp[0] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	H.envp[1] = env_pair("KINGSMOOT_SERVICE", cfg->service);
	H.envp[2] = env_pair("KINGSMOOT_NODE", cfg->node);
	/* A new or changed check starts over at once; an unchanged one keeps
	 * its streaks and its schedule. */
	if (!was_enabled) {
		H.known = false;
		H.ok_streak = H.fail_streak = 0;
		loop_timer_arm_in(&H.interval_timer, 0);
	} else if (!H.interval_timer.armed && H.pid == 0) {
		loop_timer_arm_in(&H.interval_timer, 0);
	}
}

bool health_healthy(void)
{
	return H.known && H.healthy;
}
