/*
 * health.h - the optional health check (health.* in kingsmootd.conf(5)):
 * a command run every interval; after `fall` failures in a row the node
 * withdraws from the election, after `rise` successes it campaigns again.
 */
#ifndef KM_HEALTH_H
#define KM_HEALTH_H

#include <stdbool.h>

#include "config.h"

typedef void (*health_changed_cb)(bool healthy, void *ud);

void health_init(health_changed_cb cb, void *ud);
/* Start, restart or stop checking to match cfg (cfg must outlive it). */
void health_configure(const struct config *cfg);
/* Unknown (no check has finished yet) counts as unhealthy. */
bool health_passing(void);
/* Kill a running check; used at exit. */
void health_stop(void);
bool health_busy(void);

#endif
