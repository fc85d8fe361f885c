/*
 * hook.h - run-parts style role-change hooks (DESIGN 3).
 *
 * hooks_transition() schedules the batch for a new role and returns at
 * once; the batch runs inside the event loop, one hook at a time. A newer
 * transition supersedes an older batch. Completion is reported through
 * the callback given to hooks_init().
 */
#ifndef KM_HOOK_H
#define KM_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

/* Bounds on what the outside controls; a hook's output is bounded by the
 * child runner (child.h). */
#define HOOKS_MAX 256              /* hooks per batch; the rest is ignored */
#define HOOK_MAX_VALUE 4096        /* bytes of one KINGSMOOT_* value */
#define HOOK_KILL_DELAY_MS 2000    /* SIGTERM to SIGKILL */

struct hook_env {
	enum km_role role;
	enum km_role previous_role;
	const char *service;
	const char *node;
	const char *leader;       /* "" when unknown */
	int64_t term;
	const char *state_file;
	const char *reason;       /* "" unless not_member */
};

/* A batch that ran to its end (not superseded). ok is false when any hook
 * failed, timed out or could not be started, when a hook or the directory
 * was refused by the strict-mode check or could not be read, or when more
 * than HOOKS_MAX hooks were found. Never called from inside a hooks_*()
 * function: always from the event loop. */
typedef void (*hook_batch_done_cb)(enum km_role role, bool ok, void *ud);

int hooks_init(hook_batch_done_cb done, void *ud);
/* dir may be NULL or missing on disk: no hooks. timeout in seconds. */
void hooks_configure(const char *dir, double timeout);
void hooks_transition(const struct hook_env *env);
/* True while any hook process (including one being killed) is alive, or
 * a batch is pending. At exit, keep the loop running until it is false. */
bool hooks_busy(void);
/* Kill whatever runs (SIGTERM, SIGKILL 2 s later); used at exit. */
void hooks_abort(void);

#endif
