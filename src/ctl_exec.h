/*
 * ctl_exec.h - "kingsmootctl exec [--] CMD [ARG...]": run a command only
 * while this node validly leads, and stop it the moment the leadership
 * ends (kingsmootctl(1), DESIGN 6).
 */
#ifndef KM_CTL_EXEC_H
#define KM_CTL_EXEC_H

#include "config.h"

/*
 * argv holds what follows "exec" on the command line. Return the exit
 * status: the command's own, 4 when this node is not a valid leader (the
 * command not started), 75 when the leadership ended under it, 126 or 127
 * when it cannot be run, 1, 64 or 78 as for every command.
 */
int ctl_exec(const struct config_overrides *ov, int argc, char *argv[]);

#endif
