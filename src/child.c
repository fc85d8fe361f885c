/*
 * child.c - the child runner (child.h): this file owns a hook's or a
 * health check's process from fork to reaping, its output pipes and what
 * of its output reaches the log, and its deadline.
 *
 * Decisions worth knowing:
 *  - Output is read at most CHILD_READ_CHUNK * CHILD_READS_PER_WAKEUP
 *    bytes per stream per wake-up, so a child that writes without end
 *    can neither hold the loop nor starve the lease keepalives.
 *  - Lines longer than CHILD_LINE_MAX are logged cut, with " [truncated]",
 *    and the rest of the line is dropped. At most CHILD_LOG_BURST lines
 *    are logged per CHILD_LOG_INTERVAL_MS; the rest is counted and
 *    reported, so a flooding child can neither grow our memory nor push
 *    the daemon's own messages out of journald's rate limit.
 *  - When the main process exits, whatever is left of its process group
 *    is SIGKILLed (proc_reap), and what is buffered in the pipes is read,
 *    up to CHILD_DRAIN_MAX, without waiting for an end of file that an
 *    escaped grandchild may never give.
 *  - The write ends stay blocking: O_NONBLOCK lives in the open file
 *    description, and a child whose stdout fails with EAGAIN would lose
 *    output or fail for no fault of its own.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "util.h"

#define CHILD_READ_CHUNK 65536
#define CHILD_READS_PER_WAKEUP 4
/* A pipe holds 64 KiB unless the child enlarged it; more than this is
 * not worth reading once the child is gone. */
#define CHILD_DRAIN_MAX (1024 * 1024)

/* Output. */

static void log_line(const struct child *c, enum child_line_level level,
    const char *clean, bool cut)
{
	const char *tail = cut ? " [truncated]" : "";

	switch (level) {
	case CHILD_LINE_INFO:
		log_info("%s: %s%s", c->name, clean, tail);
		break;
	case CHILD_LINE_WARNING:
		log_warnx("%s: %s%s", c->name, clean, tail);
		break;
	case CHILD_LINE_DEBUG:
		log_debug("%s: %s%s", c->name, clean, tail);
		break;
	}
}

static void report_suppressed(struct child *c)
{
	if (c->budget.suppressed > 0)
		log_warnx("%s: %lu lines of output suppressed", c->name,
		    c->budget.suppressed);
	c->budget.suppressed = 0;
}

/* Start a new window once the old one is over, like journald's own
 * limit, but per child so that the daemon's messages keep their share of
 * journald's. */
static void budget_roll(struct child *c)
{
	if (c->read_ms - c->budget.window_start_ms < CHILD_LOG_INTERVAL_MS)
		return;
	report_suppressed(c);
	c->budget.window_start_ms = c->read_ms;
	c->budget.logged = 0;
}

static void emit_line(struct child *c, const struct child_stream *s,
    size_t len, bool cut)
{
	char clean[CHILD_LINE_MAX + 1];
	bool within_budget;

	budget_roll(c);
	within_budget = c->budget.logged < CHILD_LOG_BURST;
	if (within_budget)
		c->budget.logged++;
	else
		c->budget.suppressed++;
	/* A flood is millions of lines: do not even clean what is dropped. */
	if (!within_budget && c->have_first_line)
		return;

	if (len > 0 && s->line[len - 1] == '\r')
		len--;
	/* Keep terminal escapes and NULs out of the journal. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s->line[i];
		clean[i] = (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : (char)ch;
	}
	clean[len] = '\0';
	if (!c->have_first_line) {
		memcpy(c->first_line, clean, len + 1);
		c->have_first_line = true;
	}
	if (within_budget)
		log_line(c, s->level, clean, cut);
}

static void stream_feed(struct child *c, struct child_stream *s,
    const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n, room, take;

		if (!s->discarding) {
			room = sizeof(s->line) - s->len;
			take = seg < room ? seg : room;
			memcpy(s->line + s->len, p, take);
			s->len += take;
			if (take < seg) {
				/* Log now: the line may never end. */
				emit_line(c, s, s->len, true);
				s->len = 0;
				s->discarding = true;
			}
		}
		if (nl == NULL)
			return;
		if (!s->discarding)
			emit_line(c, s, s->len, false);
		s->len = 0;
		s->discarding = false;
		p = nl + 1;
		n -= seg + 1;
	}
}

static void stream_close(struct child *c, struct child_stream *s)
{
	if (s->fd < 0)
		return;
	if (s->len > 0 && !s->discarding) {
		c->read_ms = now_ms();
		emit_line(c, s, s->len, false);
	}
	s->len = 0;
	s->discarding = false;
	loop_del_fd(s->fd);
	close(s->fd);
	s->fd = -1;
}

/* Read up to max bytes; return true when the stream reached its end. */
static bool stream_read(struct child *c, struct child_stream *s, size_t max)
{
	static char chunk[CHILD_READ_CHUNK];
	size_t total = 0;
	ssize_t r;

	while (total < max) {
		r = read(s->fd, chunk, sizeof(chunk));
		if (r > 0) {
			/* Once per read, not per line: a flood is millions. */
			c->read_ms = now_ms();
			stream_feed(c, s, chunk, (size_t)r);
			total += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (r < 0)
			log_warn("%s: read", c->name);
		return true;
	}
	return false;
}

static void on_output(int fd, short revents, void *ud)
{
	struct child_stream *s = ud;

	/* Whatever revents says, read: POLLHUP may come with data still in
	 * the pipe. */
	if (s->fd == fd && stream_read(s->owner, s,
	    (size_t)CHILD_READ_CHUNK * CHILD_READS_PER_WAKEUP))
		stream_close(s->owner, s);
}

/* Signals. */

static void signal_group(struct child *c, int sig)
{
	/* The group id is the child's pid, which stays ours until we reap. */
	if (kill(-c->pid, sig) < 0 && errno != ESRCH)
		log_warn("%s: kill(-%ld, %d)", c->name, (long)c->pid, sig);
}

static void send_sigkill(struct child *c)
{
	signal_group(c, SIGKILL);
	c->phase = CHILD_KILLED;
}

void child_terminate(struct child *c)
{
	if (c->phase != CHILD_RUNNING)
		return;
	if (c->kill_delay_ms == 0) {
		loop_timer_disarm(&c->phase_timer);
		send_sigkill(c);
		return;
	}
	signal_group(c, SIGTERM);
	/* A stopped process would hold the SIGTERM until the SIGKILL. */
	signal_group(c, SIGCONT);
	c->phase = CHILD_TERMINATING;
	loop_timer_arm_in(&c->phase_timer, c->kill_delay_ms);
}

static void on_phase_timer(void *ud)
{
	struct child *c = ud;

	if (c->phase == CHILD_RUNNING) {
		c->timed_out = true;
		if (c->kill_delay_ms == 0)
			log_warnx("%s timed out after %.1f s; killing it",
			    c->name, (double)c->timeout_ms / 1000.0);
		else
			log_warnx("%s timed out after %.1f s; sending SIGTERM",
			    c->name, (double)c->timeout_ms / 1000.0);
		child_terminate(c);
	} else if (c->phase == CHILD_TERMINATING) {
		log_warnx("%s still running %llu ms after SIGTERM; "
		    "sending SIGKILL", c->name,
		    (unsigned long long)c->kill_delay_ms);
		send_sigkill(c);
	}
}

/* Exit. */

/* The child was reaped (r = 1) or cannot be waited for. */
static void on_exit_watched(int r, int status, void *ud)
{
	struct child *c = ud;
	struct child_exit how;

	if (r < 0 && r != -ECHILD)
		log_warnx("%s: waitpid: %s", c->name, strerror(-r));
	if (c->out.fd >= 0)
		stream_read(c, &c->out, CHILD_DRAIN_MAX);
	if (c->err.fd >= 0)
		stream_read(c, &c->err, CHILD_DRAIN_MAX);
	stream_close(c, &c->out);
	stream_close(c, &c->err);
	loop_timer_disarm(&c->phase_timer);
	report_suppressed(c);

	how = (struct child_exit){
		.status_known = r == 1,
		.status = r == 1 ? status : 0,
		.timed_out = c->timed_out,
		.ran_ms = now_ms() - c->started_ms,
		.first_line = c->first_line,
	};
	c->phase = CHILD_IDLE;
	c->pid = 0;
	/* Last: the callback may start the next run at once. */
	c->exited(&how, c->ud);
}

/* Start. */

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* A pipe whose read end, ours, is non-blocking. */
static int output_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0) {
		p[0] = p[1] = -1;
		return -errno;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close_pair(p);
		return -e;
	}
	return 0;
}

static void stream_reset(struct child *c, struct child_stream *s, int fd,
    enum child_line_level level)
{
	memset(s, 0, sizeof(*s));
	s->owner = c;
	s->fd = fd;
	s->level = level;
}

void child_init(struct child *c, child_exited_cb exited, void *ud)
{
	memset(c, 0, sizeof(*c));
	c->exited = exited;
	c->ud = ud;
	c->out.fd = c->err.fd = -1;
	loop_timer_init(&c->phase_timer, on_phase_timer, c);
	proc_watch_init(&c->exit_watch, on_exit_watched, c);
}

bool child_running(const struct child *c)
{
	return c->phase != CHILD_IDLE;
}

int child_start(struct child *c, const struct child_spec *spec)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, devnull = -1, e;
	pid_t pid;

	if (c->phase != CHILD_IDLE)
		return -EBUSY;
	if ((e = output_pipe(out)) < 0 ||
	    (!spec->merge_stderr && (e = output_pipe(err)) < 0))
		goto fail;
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		e = -errno;
		goto fail;
	}
	/* Registered before the fork, so that nothing can fail once a child
	 * exists except the pidfd, which has a fallback. */
	if ((e = loop_add_fd(out[0], POLLIN, on_output, &c->out)) < 0)
		goto fail;
	if (err[0] >= 0 &&
	    (e = loop_add_fd(err[0], POLLIN, on_output, &c->err)) < 0) {
		loop_del_fd(out[0]);
		goto fail;
	}
	pid = proc_spawn(spec->path, spec->argv, spec->envp, devnull, out[1],
	    err[1] >= 0 ? err[1] : out[1]);
	if (pid < 0) {
		e = (int)pid;
		loop_del_fd(out[0]);
		if (err[0] >= 0)
			loop_del_fd(err[0]);
		goto fail;
	}
	close(devnull);
	close(out[1]);
	if (err[1] >= 0)
		close(err[1]);

	stream_reset(c, &c->out, out[0], spec->stdout_level);
	stream_reset(c, &c->err, err[0], spec->stderr_level);
	snprintf(c->name, sizeof(c->name), "%s", spec->name);
	c->pid = pid;
	c->phase = CHILD_RUNNING;
	c->timed_out = false;
	c->started_ms = c->read_ms = now_ms();
	c->timeout_ms = spec->timeout_ms;
	c->kill_delay_ms = spec->kill_delay_ms;
	c->have_first_line = false;
	c->first_line[0] = '\0';
	if (!spec->budget_spans_runs)
		c->budget = (struct child_log_budget){
			.window_start_ms = c->started_ms };

	proc_watch_start(&c->exit_watch, pid);
	loop_timer_arm_in(&c->phase_timer, c->timeout_ms);
	log_debug("%s started as pid %ld", c->name, (long)pid);
	return 0;

fail:
	close_pair(out);
	close_pair(err);
	if (devnull >= 0)
		close(devnull);
	return e;
}
