/*
 * ctl_exec.c - "kingsmootctl exec": the command runs only while this node
 * validly leads.
 *
 * It starts, through execve with no shell, in its own process group and
 * tied to our life (SIGKILL if we die), only when the state file says a
 * valid leader by the rule of is-leader. Then one poll() follows the
 * leadership: inotify on the state file's directory (the daemon replaces
 * the file by rename), a CLOCK_BOOTTIME timerfd for VALID_UNTIL and then
 * for the SIGKILL, a signalfd for the command's exit and the signals we
 * forward, and a pidfd of the daemon. What counts as the end, and when
 * SIGKILL follows SIGTERM, is decided in ctl_exec_rules.c.
 */
#include "ctl_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "ctl_exec_rules.h"
#include "ctl_stale.h"
#include "log.h"
#include "proc.h"
#include "state.h"
#include "util.h"

#define EXIT_USAGE 64
#define EXIT_CONFIG 78
/* Without a pidfd, how often to look whether the daemon still runs. */
#define DAEMON_POLL_MS 1000

extern char **environ;

struct exec_run {
	const char *state_file;
	double margin;
	struct exec_lead lead;
	pid_t cmd;                      /* also its process group */
	int signal_fd, inotify_fd, timer_fd, daemon_fd;
	bool ended, killed;
	uint64_t ended_ms, kill_at_ms;
};

static int usage_error(void)
{
	fprintf(stderr, "usage: kingsmootctl [-c FILE] [-S STATE_FILE] exec [--] CMD [ARG...]\n");
	return EXIT_USAGE;
}

/* Descriptors 0-2 are the command's; were one closed, the first thing we
 * open would take its place and be handed over. */
static void open_standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			(void)open("/dev/null", O_RDWR | O_CLOEXEC);
}

static int check_file(const char *file)
{
	struct stat sb;

	if (stat(file, &sb) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	if (!S_ISREG(sb.st_mode) || faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) < 0)
		return -EACCES;
	return 0;
}

/* Find cmd as execvp() would, in path: 0, -ENOENT or -EACCES (found, but
 * not an executable file). */
static int resolve(const char *cmd, const char *path, char *out, size_t outlen)
{
	int r = -ENOENT;

	if (strchr(cmd, '/') != NULL) {
		if ((size_t)snprintf(out, outlen, "%s", cmd) >= outlen)
			return -ENOENT;
		return check_file(out);
	}
	for (const char *p = path;;) {
		const char *colon = strchrnul(p, ':');
		int len = (int)(colon - p);
		/* An empty element is the current directory (POSIX). */
		int n = snprintf(out, outlen, "%.*s/%s", len ? len : 1, len ? p : ".", cmd);

		if (*cmd != '\0' && n > 0 && (size_t)n < outlen) {
			int c = check_file(out);
			if (c == 0)
				return 0;
			if (c == -EACCES)
				r = c;
		}
		if (*colon == '\0')
			return r;
		p = colon + 1;
	}
}

static int setup_signals(struct exec_run *run)
{
	sigset_t mask;

	/* An inherited SIG_IGN would have the kernel reap the command for us,
	 * and its status would be lost. */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	run->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return run->signal_fd < 0 ? -errno : 0;
}

static int watch_state_dir(struct exec_run *run)
{
	char dir[PATH_MAX];

	if ((size_t)snprintf(dir, sizeof(dir), "%s", run->state_file) >= sizeof(dir))
		return -ENAMETOOLONG;
	run->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (run->inotify_fd < 0)
		return -errno;
	if (inotify_add_watch(run->inotify_fd, dirname(dir),
	    IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE) < 0)
		return -errno;
	return 0;
}

static void close_run(struct exec_run *run)
{
	int *fds[] = { &run->signal_fd, &run->inotify_fd, &run->timer_fd, &run->daemon_fd };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Every wake-up reads the file again, so the events themselves only wake. */
static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void signal_group(struct exec_run *run, int sig)
{
	if (kill(-run->cmd, sig) < 0 && errno != ESRCH)
		fprintf(stderr, "kingsmootctl: kill(-%ld, %s): %s\n", (long)run->cmd,
		    sigabbrev_np(sig), strerror(errno));
}

/* Forward what we are asked to do; SIGCHLD only wakes us. */
static void drain_signals(struct exec_run *run)
{
	struct signalfd_siginfo si;

	while (read(run->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo != SIGCHLD)
			signal_group(run, (int)si.ssi_signo);
}

static void arm_timer(struct exec_run *run)
{
	struct itimerspec its = { 0 };  /* all zero: disarmed */
	uint64_t due;

	if (!run->killed) {
		due = run->ended ? run->kill_at_ms : run->lead.until_ms;
		/* An instant already past fires at once; 0 itself would disarm. */
		if (due == 0)
			due = 1;
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000L;
	}
	(void)timerfd_settime(run->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void end_leadership(struct exec_run *run, enum exec_verdict why,
    const struct state *st)
{
	char what[128];

	switch (why) {
	case EXEC_END_ROLE:
		snprintf(what, sizeof(what), "the node is %s now", role_name(st->role));
		break;
	case EXEC_END_TERM:
		snprintf(what, sizeof(what), "the term is %" PRId64 " now", st->term);
		break;
	case EXEC_END_DAEMON:
		snprintf(what, sizeof(what), "its daemon (pid %ld) is gone",
		    (long)run->lead.daemon_pid);
		break;
	default:
		snprintf(what, sizeof(what), "VALID_UNTIL passed without a renewal");
		break;
	}
	fprintf(stderr, "kingsmootctl: the leadership of term %" PRId64
	    " ended (%s); SIGTERM to the command\n", run->lead.term, what);
	run->ended = true;
	run->ended_ms = now_ms();
	run->kill_at_ms = exec_kill_at_ms(run->ended_ms, &run->lead, run->margin);
	signal_group(run, SIGTERM);
}

/* After a wake-up: has the leadership ended? */
static void follow_leadership(struct exec_run *run, bool daemon_exited)
{
	enum exec_verdict why;
	struct state st;
	bool readable = state_read(run->state_file, &st) == 0;

	if (daemon_exited || (run->daemon_fd < 0 && !ctl_daemon_alive(run->lead.daemon_pid)))
		why = EXEC_END_DAEMON;
	else
		why = exec_lead_judge(&run->lead, readable ? &st : NULL, now_unix(), now_ms());
	if (why != EXEC_LEADING)
		end_leadership(run, why, &st);
}

static int supervise(struct exec_run *run)
{
	int status = 0, r;

	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = run->signal_fd, .events = POLLIN },
			{ .fd = run->timer_fd, .events = POLLIN },
			{ .fd = run->ended ? -1 : run->inotify_fd, .events = POLLIN },
			{ .fd = run->ended ? -1 : run->daemon_fd, .events = POLLIN },
		};
		int timeout = !run->ended && run->daemon_fd < 0 ? DAEMON_POLL_MS : -1;
		uint64_t expirations;

		arm_timer(run);
		if (poll(pfd, ARRAY_SIZE(pfd), timeout) < 0 && errno != EINTR) {
			/* Blind from here on: the command must not run unwatched. */
			fprintf(stderr, "kingsmootctl: poll: %s\n", strerror(errno));
			signal_group(run, SIGKILL);
			while (waitpid(run->cmd, &status, 0) < 0 && errno == EINTR)
				;
			return 1;
		}
		if (pfd[0].revents)
			drain_signals(run);
		if (pfd[1].revents &&
		    read(run->timer_fd, &expirations, sizeof(expirations)) < 0) {
			/* Nothing to do: it is armed again on the next round. */
		}
		/* The command's own end comes first: one that exits as the
		 * leadership ends has not been stopped by us. */
		r = proc_reap(run->cmd, &status);
		if (r == 1)
			return exec_exit_status(status, run->ended);
		if (r < 0) {
			fprintf(stderr, "kingsmootctl: waitid: %s\n", strerror(-r));
			signal_group(run, SIGKILL);
			return 1;
		}
		if (!run->ended) {
			if (pfd[2].revents)
				drain(run->inotify_fd);
			follow_leadership(run, pfd[3].revents != 0);
		}
		if (run->ended && !run->killed && now_ms() >= run->kill_at_ms) {
			fprintf(stderr, "kingsmootctl: the command outlived SIGTERM by %.3f s;"
			    " SIGKILL to its process group\n",
			    (double)(now_ms() - run->ended_ms) / 1000.0);
			signal_group(run, SIGKILL);
			run->killed = true;
		}
	}
}

/* Everything before the command starts: the watches first, so that no
 * change of the file between our read and the start goes unseen. */
static int start(struct exec_run *run, char *argv[])
{
	char file[PATH_MAX], **env;
	const char *path = exec_env_get(environ, "PATH");
	struct state st;
	int r;

	open_standard_fds();
	r = resolve(argv[0], path ? path : EXEC_DEFAULT_PATH, file, sizeof(file));
	if (r < 0) {
		fprintf(stderr, "kingsmootctl: %s: %s\n", argv[0],
		    r == -ENOENT ? "command not found" : "not an executable file");
		return r == -ENOENT ? EXEC_EXIT_NOT_FOUND : EXEC_EXIT_CANNOT_RUN;
	}
	if ((r = setup_signals(run)) < 0 || (r = watch_state_dir(run)) < 0 ||
	    (run->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK)) < 0) {
		fprintf(stderr, "kingsmootctl: cannot follow %s: %s\n", run->state_file,
		    strerror(r < 0 ? -r : errno));
		return 1;
	}
	r = state_read(run->state_file, &st);
	if (r < 0) {
		fprintf(stderr, "kingsmootctl: %s: %s\n", run->state_file, strerror(-r));
		return EXEC_EXIT_NOT_LEADER;
	}
	/* Opened before the check of its name, so that it is the process the
	 * check saw or one already gone. */
	if (st.role == ROLE_LEADER && st.pid > 0) {
		run->daemon_fd = (int)syscall(SYS_pidfd_open, st.pid, 0);
		if (run->daemon_fd < 0 && errno == ESRCH)
			return EXEC_EXIT_NOT_LEADER;
	}
	if (st.role != ROLE_LEADER || ctl_state_stale(&st, now_unix()))
		return EXEC_EXIT_NOT_LEADER;
	exec_lead_begin(&run->lead, &st, now_unix(), now_ms());

	env = exec_environment(environ, &st);
	if (env == NULL) {
		fprintf(stderr, "kingsmootctl: out of memory\n");
		return 1;
	}
	run->cmd = proc_spawn_tied(file, argv, env, STDIN_FILENO, STDOUT_FILENO,
	    STDERR_FILENO, SIGKILL);
	exec_environment_free(env);
	if (run->cmd < 0) {
		fprintf(stderr, "kingsmootctl: cannot start %s: %s\n", argv[0],
		    strerror(-run->cmd));
		return 1;
	}
	return 0;
}

int ctl_exec(const struct config_overrides *ov, int argc, char *argv[])
{
	struct exec_run run = {
		.signal_fd = -1, .inotify_fd = -1, .timer_fd = -1, .daemon_fd = -1,
	};
	struct config cfg;
	char err[1024];
	int r;

	if (argc > 0 && strcmp(argv[0], "--") == 0) {
		argc--;
		argv++;
	} else if (argc > 0 && argv[0][0] == '-') {
		/* No options yet; a CMD that starts with "-" follows "--". */
		return usage_error();
	}
	if (argc == 0)
		return usage_error();
	log_init(0);
	/* Always the file, even with -S: the margin is there. */
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(ov, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_CONFIG;
	}
	run.state_file = ov->state_file ? ov->state_file : cfg.state_file;
	run.margin = cfg.margin;
	r = start(&run, argv);
	if (r == 0 && run.cmd > 0)
		r = supervise(&run);
	close_run(&run);
	config_free(&cfg);
	return r;
}
