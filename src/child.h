/*
 * child.h - the child runner: one program run to completion inside the
 * event loop, for hooks and health checks alike.
 *
 * A run starts the program (proc_spawn: execve, no shell, default signal
 * state, its own process group, stdin /dev/null, nothing else inherited),
 * logs its output line by line under a name, bounded in line length and
 * rate, ends it at its timeout (SIGTERM to the group, SIGKILL kill_delay
 * later) and reports how it ended once it is reaped. Nothing blocks.
 */
#ifndef KM_CHILD_H
#define KM_CHILD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "proc.h"

/* Bounds on what the child controls. */
#define CHILD_LINE_MAX 1024          /* bytes of one output line logged */
#define CHILD_LOG_BURST 1000         /* output lines logged per */
#define CHILD_LOG_INTERVAL_MS 10000  /* interval; the rest is counted */
#define CHILD_NAME_MAX (NAME_MAX + 16)

/* How an output line is logged. */
enum child_line_level {
	CHILD_LINE_INFO,
	CHILD_LINE_WARNING,
	CHILD_LINE_DEBUG,
};

struct child_spec {
	const char *path;
	char *const *argv;
	char *const *envp;
	const char *name;               /* logged in front: "hook 10-x" */
	enum child_line_level stdout_level;
	enum child_line_level stderr_level;
	bool merge_stderr;              /* one pipe, lines at stdout_level */
	uint64_t timeout_ms;
	uint64_t kill_delay_ms;         /* SIGTERM to SIGKILL; 0: SIGKILL */
	/* The budget of logged lines carries over from one run to the next,
	 * for a command run every interval; otherwise each run has its own.
	 * What was suppressed is reported at the end of every run. */
	bool budget_spans_runs;
};

struct child_exit {
	bool status_known;      /* false: reaped elsewhere, status lost */
	int status;             /* as from waitpid() */
	bool timed_out;
	uint64_t ran_ms;
	/* The first output line, cleaned like a logged one; "" when none. */
	const char *first_line;
};

/* Called from the event loop once the child is reaped, never from inside
 * a child_*() function; the runner is idle again and may be restarted. */
typedef void (*child_exited_cb)(const struct child_exit *how, void *ud);

enum child_phase {
	CHILD_IDLE,
	CHILD_RUNNING,          /* within its timeout */
	CHILD_TERMINATING,      /* SIGTERM sent, SIGKILL at the timer */
	CHILD_KILLED,           /* SIGKILL sent, waiting for the exit */
};

struct child;

struct child_stream {
	struct child *owner;
	int fd;                 /* our read end, -1 once closed */
	enum child_line_level level;
	bool discarding;        /* rest of an over-long line is being dropped */
	size_t len;
	char line[CHILD_LINE_MAX];
};

struct child_log_budget {
	uint64_t window_start_ms;
	unsigned long logged;
	unsigned long suppressed;
};

struct child {
	child_exited_cb exited;
	void *ud;
	enum child_phase phase;
	pid_t pid;              /* also the process group id; 0 when idle */
	struct proc_exit_watch exit_watch;
	struct loop_timer phase_timer;  /* the timeout, then the SIGKILL */
	uint64_t started_ms, timeout_ms, kill_delay_ms;
	bool timed_out;
	char name[CHILD_NAME_MAX];
	struct child_stream out, err;
	uint64_t read_ms;       /* when the current output arrived */
	struct child_log_budget budget;
	bool have_first_line;
	char first_line[CHILD_LINE_MAX + 1];
};

void child_init(struct child *c, child_exited_cb exited, void *ud);
/* Start spec's program; 0, or -errno when nothing was started. */
int child_start(struct child *c, const struct child_spec *spec);
/* True from child_start() until the exit callback. */
bool child_running(const struct child *c);
/* End the run early: SIGTERM to its group, SIGKILL kill_delay later (at
 * once when kill_delay is 0). No verdict of a timeout. */
void child_terminate(struct child *c);

#endif
