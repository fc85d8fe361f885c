/*
 * proc.h - starting a child program the one safe way: fork and execve,
 * no shell, default signal state, its own process group and exactly the
 * three descriptors it is given.
 */
#ifndef KM_PROC_H
#define KM_PROC_H

#include <sys/types.h>

/* Return the child's pid (also its process group id) or -errno. */
pid_t proc_spawn(const char *path, char *const argv[], char *const envp[],
    int in, int out, int err);

/*
 * If the child has exited, kill whatever is left of its process group and
 * reap it. Return 0 while it runs, 1 once reaped (*status set), or -errno
 * when it cannot be waited for.
 */
int proc_reap(pid_t pid, int *status);

#endif
