/*
 * ctl_stale.c - whether a state file still vouches for its role (see
 * ctl_stale.h).
 */
#include "ctl_stale.h"

#include <stdio.h>
#include <string.h>

bool ctl_daemon_alive(pid_t pid)
{
	char path[64], comm[64] = "";
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	/* A recycled PID belongs to some other program. */
	return strcmp(comm, "kingsmootd\n") == 0;
}

bool ctl_state_stale(const struct state *st, double now)
{
	if (st->role == ROLE_LEADER && st->valid_until <= now)
		return true;
	if (st->role != ROLE_NOT_MEMBER && !ctl_daemon_alive(st->pid))
		return true;
	return false;
}
