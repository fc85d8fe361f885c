/*
 * ctl_exec_rules.h - the decisions of "kingsmootctl exec", as pure
 * functions: whether the state file still vouches for the leadership the
 * command was started under, when SIGKILL follows SIGTERM, the exit
 * status, and the command's environment. ctl_exec.c does the I/O.
 */
#ifndef KM_CTL_EXEC_RULES_H
#define KM_CTL_EXEC_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "state.h"

/* Exit statuses of kingsmootctl exec besides the command's own (DESIGN 6). */
#define EXEC_EXIT_NOT_LEADER 4
#define EXEC_EXIT_ENDED 75              /* EX_TEMPFAIL */
#define EXEC_EXIT_CANNOT_RUN 126
#define EXEC_EXIT_NOT_FOUND 127

/* The PATH the command gets when the caller has none: the hooks' PATH. */
#define EXEC_DEFAULT_PATH PROC_SAFE_PATH

/* The leadership the command runs under. */
struct exec_lead {
	int64_t term;
	pid_t daemon_pid;
	uint64_t until_ms;      /* VALID_UNTIL, on CLOCK_BOOTTIME */
};

enum exec_verdict {
	EXEC_LEADING,           /* still this node's valid leadership */
	EXEC_END_ROLE,          /* the file names another role */
	EXEC_END_TERM,          /* a leadership with another term */
	EXEC_END_DAEMON,        /* another daemon, or ours is gone */
	EXEC_END_EXPIRED,       /* VALID_UNTIL passed without a renewal */
};

/*
 * VALID_UNTIL (Unix time) as a CLOCK_BOOTTIME instant, taken when the
 * file is read: a later step of the wall clock cannot move it, and the
 * count goes on across a suspend as the lease's does.
 */
uint64_t exec_until_ms(double valid_until, double now_unix, uint64_t now_boot_ms);

/* The leadership a valid leader's state file describes. */
void exec_lead_begin(struct exec_lead *lead, const struct state *st,
    double now_unix, uint64_t now_boot_ms);

/*
 * Judge a fresh read of the state file (NULL when it could not be read:
 * no renewal) against the leadership. A renewal moves lead->until_ms.
 */
enum exec_verdict exec_lead_judge(struct exec_lead *lead, const struct state *st,
    double now_unix, uint64_t now_boot_ms);

/*
 * When SIGKILL follows the SIGTERM sent at ended_ms: half the margin after
 * the end, and never later than half the margin after VALID_UNTIL.
 * VALID_UNTIL is the daemon's deadline, renewal + TTL - margin, so etcd
 * cannot expire the lease before VALID_UNTIL + margin; the other half is
 * left for the kill to land and for the clocks to disagree.
 */
uint64_t exec_kill_at_ms(uint64_t ended_ms, const struct exec_lead *lead,
    double margin);

/* kingsmootctl's exit status, from the command's wait status. */
int exec_exit_status(int wait_status, bool leadership_ended);

/*
 * The command's environment: the inherited one without any KINGSMOOT_*
 * variable, PATH (EXEC_DEFAULT_PATH when inherited has none), and
 * KINGSMOOT_SERVICE, KINGSMOOT_LEADER and KINGSMOOT_TERM from st.
 * NULL-terminated and malloc'd, NULL when out of memory.
 */
char **exec_environment(char *const *inherited, const struct state *st);
void exec_environment_free(char **env);

/* The value of NAME in env, or NULL. */
const char *exec_env_get(char *const *env, const char *name);

#endif
