/*
 * proc.c - the process primitives under the child runner (child.c) and
 * kingsmootctl exec: fork and execve (DESIGN 3: no shell, signals back to
 * default, its own process group, stdin/stdout/stderr as given and
 * nothing else inherited, optionally a signal when its parent dies),
 * reaping together with what is left of the group, and learning of the
 * exit from a pidfd inside the event loop.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "log.h"
#include "util.h"

static void child_say(const char *what, int err)
{
	const char *name = strerrorname_np(err);
	struct iovec iov[] = {
		{ (void *)"cannot execute: ", 16 },
		{ (void *)what, strlen(what) },
		{ (void *)": ", 2 },
		{ (void *)(name ? name : "?"), strlen(name ? name : "?") },
		{ (void *)"\n", 1 },
	};

	if (writev(STDERR_FILENO, iov, ARRAY_SIZE(iov)) < 0) {
		/* Nobody left to tell. */
	}
}

/* Runs between fork() and execve(): async-signal-safe calls only, no
 * malloc, no stdio, no return. */
static void __attribute__((noreturn))
child(const char *path, char *const argv[], char *const envp[], int in,
    int out, int err, int death_signal, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int fd0, fd1, fd2;

	/* Handlers reset themselves at exec, but SIG_IGN (SIGPIPE, say)
	 * survives it; the signalfd mask would survive as well. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setpgid(0, 0) < 0) {
		child_say("setpgid", errno);
		_exit(127);
	}
	if (death_signal != 0) {
		if (prctl(PR_SET_PDEATHSIG, death_signal) < 0) {
			child_say("prctl", errno);
			_exit(127);
		}
		/* A parent gone before the prctl() would never send it. */
		if (getppid() != parent)
			_exit(127);
	}
	/* Move the three above 2 first: any of them may itself be 0, 1 or 2
	 * if the daemon was started with a closed standard descriptor. */
	fd0 = fcntl(in, F_DUPFD, 3);
	fd1 = fcntl(out, F_DUPFD, 3);
	fd2 = fcntl(err, F_DUPFD, 3);
	if (fd0 < 0 || fd1 < 0 || fd2 < 0 || dup2(fd0, 0) < 0 ||
	    dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
		_exit(127);
	close_from(3);
	execve(path, argv, envp);
	child_say(path, errno);
	_exit(127);
}

pid_t proc_spawn_tied(const char *path, char *const argv[], char *const envp[],
    int in, int out, int err, int death_signal)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0)
		child(path, argv, envp, in, out, err, death_signal, parent);
	if (pid < 0)
		return -errno;
	/* Also here, so that a kill(-pid) right after fork() reaches it. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_warn("%s: setpgid", path);
	return pid;
}

pid_t proc_spawn(const char *path, char *const argv[], char *const envp[],
    int in, int out, int err)
{
	return proc_spawn_tied(path, argv, envp, in, out, err, 0);
}

int proc_reap(pid_t pid, int *status)
{
	siginfo_t si;
	pid_t r;

	memset(&si, 0, sizeof(si));
	/* Look without reaping first: while the child is a zombie its pid,
	 * which is also its group id, cannot go to a stranger, so the group
	 * kill below cannot hit one. */
	while ((r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT)) < 0 &&
	    errno == EINTR)
		;
	if (r < 0)
		return -errno;
	if (si.si_pid == 0)
		return 0;
	if (kill(-pid, SIGKILL) < 0 && errno != ESRCH)
		log_warn("kill(-%ld, SIGKILL)", (long)pid);
	while ((r = waitpid(pid, status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	return r == pid ? 1 : 0;
}

static bool have_pidfd = true;

void proc_watch_init(struct proc_exit_watch *w,
    void (*exited)(int r, int status, void *ud), void *ud)
{
	memset(w, 0, sizeof(*w));
	w->pidfd = -1;
	w->exited = exited;
	w->ud = ud;
}

void proc_watch_stop(struct proc_exit_watch *w)
{
	if (w->pidfd >= 0) {
		loop_del_fd(w->pidfd);
		close(w->pidfd);
		w->pidfd = -1;
	}
	loop_timer_disarm(&w->poll_timer);
	w->pid = 0;
}

static void watch_check(struct proc_exit_watch *w)
{
	int status = 0, r;

	if (w->pid == 0)
		return;
	r = proc_reap(w->pid, &status);
	if (r == 0) {
		if (w->pidfd < 0)
			loop_timer_arm_in(&w->poll_timer, PROC_POLL_MS);
		return;
	}
	proc_watch_stop(w);
	w->exited(r, status, w->ud);
}

static void on_pidfd(int fd, short revents, void *ud)
{
	watch_check(ud);
}

static void on_poll(void *ud)
{
	watch_check(ud);
}

void proc_watch_start(struct proc_exit_watch *w, pid_t pid)
{
	loop_timer_init(&w->poll_timer, on_poll, w);
	w->pid = pid;
	w->pidfd = -1;
	if (have_pidfd) {
		w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (w->pidfd < 0) {
			if (errno == ENOSYS || errno == EPERM)
				have_pidfd = false;
			log_warn("pidfd_open(%ld); polling for its exit", (long)pid);
		} else if (loop_add_fd(w->pidfd, POLLIN, on_pidfd, w) < 0) {
			log_warnx("pid %ld: too many descriptors; polling for its exit",
			    (long)pid);
			close(w->pidfd);
			w->pidfd = -1;
		}
	}
	if (w->pidfd < 0)
		loop_timer_arm_in(&w->poll_timer, PROC_POLL_MS);
}
