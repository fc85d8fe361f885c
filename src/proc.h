/*
 * proc.h - starting a child program the one safe way: fork and execve,
 * no shell, default signal state, its own process group and exactly the
 * three descriptors it is given; reaping it and watching for its exit.
 * The child runner (child.h) and kingsmootctl exec use these.
 */
#ifndef KM_PROC_H
#define KM_PROC_H

/* The PATH every child of ours gets (DESIGN 3): hooks, health checks and
 * the command of kingsmootctl exec. */
#define PROC_SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#include <sys/types.h>

#include "loop.h"

/* Return the child's pid (also its process group id) or -errno. */
pid_t proc_spawn(const char *path, char *const argv[], char *const envp[],
    int in, int out, int err);
/* As proc_spawn(), and the child gets death_signal when the calling thread
 * ends (PR_SET_PDEATHSIG), even by SIGKILL: a supervised program cannot
 * outlive its supervisor. A set-user-ID program loses this at execve. */
pid_t proc_spawn_tied(const char *path, char *const argv[], char *const envp[],
    int in, int out, int err, int death_signal);

/*
 * If the child has exited, kill whatever is left of its process group and
 * reap it. Return 0 while it runs, 1 once reaped (*status set), or -errno
 * when it cannot be waited for.
 */
int proc_reap(pid_t pid, int *status);

/*
 * Learning that a child has exited, inside the event loop: from its pidfd,
 * or by looking every PROC_POLL_MS where no pidfd can be had. exited()
 * runs once, after the child is reaped (r = 1, status set) or when it
 * cannot be waited for (r = -errno).
 */
#define PROC_POLL_MS 20

struct proc_exit_watch {
	pid_t pid;              /* 0 when idle */
	int pidfd;              /* -1 when polling */
	struct loop_timer poll_timer;
	void (*exited)(int r, int status, void *ud);
	void *ud;
};

void proc_watch_init(struct proc_exit_watch *w,
    void (*exited)(int r, int status, void *ud), void *ud);
void proc_watch_start(struct proc_exit_watch *w, pid_t pid);
/* Forget the child without reaping it (used at teardown only). */
void proc_watch_stop(struct proc_exit_watch *w);

#endif
