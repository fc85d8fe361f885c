/*
 * ctl_stale.h - whether a state file still vouches for its role: the one
 * rule behind kingsmootctl's status, is-leader, watch and exec.
 */
#ifndef KM_CTL_STALE_H
#define KM_CTL_STALE_H

#include <stdbool.h>
#include <sys/types.h>

#include "state.h"

/* True when pid runs kingsmootd (/proc/PID/comm names it). */
bool ctl_daemon_alive(pid_t pid);

/* A leader whose VALID_UNTIL passed, or any member whose daemon is gone,
 * vouches for nothing. now is Unix time. */
bool ctl_state_stale(const struct state *st, double now);

#endif
