/*
 * ctl_switchover.h - kingsmootctl switchover (ctl_switchover.c).
 */
#ifndef KM_CTL_SWITCHOVER_H
#define KM_CTL_SWITCHOVER_H

#include "config.h"

/* "switchover [--timeout S] [NODE]" with the arguments after the word;
 * returns the exit status: 0 once NODE leads, 1 when it cannot, 64 for a
 * usage error, 78 for a configuration error. */
int ctl_switchover(const struct config_overrides *ov, int argc, char **argv);

#endif
