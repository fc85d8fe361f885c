/*
 * elect.h - the election: candidacy (lease, key, keepalive), the view of
 * every candidate under the election prefix, and the published role.
 */
#ifndef KM_ELECT_H
#define KM_ELECT_H

#include <stdbool.h>

#include "config.h"
#include "state.h"

/* cfg must outlive the session (see elect_set_config). */
int elect_start(const struct config *cfg);
/* Swap in a configuration that needs no new session. */
void elect_set_config(const struct config *cfg);
/* SIGUSR1: step down, then campaign again at the back of the queue. */
void elect_resign(enum km_reason reason, const char *why);
/* Maintenance mode: step down the same way and hold no candidacy until
 * resumed. */
void elect_set_paused(bool paused);
/* The health check's verdict; a candidate with a health check starts
 * withdrawn as unhealthy until the first check passes. */
void elect_set_check_passing(bool passing);
/*
 * Graceful end of the session: publish not_member, let its hooks finish,
 * then revoke the lease. done() runs once all of that is over; the
 * caller then tears the session down (elect_free). exiting: the process
 * ends after it, so its last steps may yield the CPU to everyone else.
 */
void elect_stop(bool exiting, void (*done)(void *ud), void *ud);
void elect_free(void);

/* The hooks module finished the batch for role. */
void elect_hooks_done(enum km_role role, bool ok);

/* Whether the session vouches for itself, for the watchdog: a candidate's
 * lease deadline is ahead, or an observer's watch is up over a view that
 * was read. */
bool elect_session_alive(void);
enum km_role elect_role(void);

#endif
