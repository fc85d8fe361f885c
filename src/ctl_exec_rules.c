/*
 * ctl_exec_rules.c - the decisions of "kingsmootctl exec" (see
 * ctl_exec_rules.h). No I/O: the clocks come in as arguments.
 */
#include "ctl_exec_rules.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "util.h"

uint64_t exec_until_ms(double valid_until, double now_unix, uint64_t now_boot_ms)
{
	double left_ms = (valid_until - now_unix) * 1000.0;

	if (left_ms >= 0)
		return now_boot_ms + (uint64_t)left_ms;
	if (-left_ms >= (double)now_boot_ms)
		return 0;
	return now_boot_ms - (uint64_t)-left_ms;
}

void exec_lead_begin(struct exec_lead *lead, const struct state *st,
    double now_unix, uint64_t now_boot_ms)
{
	lead->term = st->term;
	lead->daemon_pid = st->pid;
	lead->until_ms = exec_until_ms(st->valid_until, now_unix, now_boot_ms);
}

enum exec_verdict exec_lead_judge(struct exec_lead *lead, const struct state *st,
    double now_unix, uint64_t now_boot_ms)
{
	if (st != NULL) {
		if (st->role != ROLE_LEADER)
			return EXEC_END_ROLE;
		if (st->term != lead->term)
			return EXEC_END_TERM;
		if (st->pid != lead->daemon_pid)
			return EXEC_END_DAEMON;
		lead->until_ms = exec_until_ms(st->valid_until, now_unix, now_boot_ms);
	}
	return now_boot_ms >= lead->until_ms ? EXEC_END_EXPIRED : EXEC_LEADING;
}

uint64_t exec_kill_at_ms(uint64_t ended_ms, const struct exec_lead *lead,
    double margin)
{
	uint64_t half = sec_to_ms(margin / 2.0);
	uint64_t from = ended_ms < lead->until_ms ? ended_ms : lead->until_ms;

	return from + half;
}

int exec_exit_status(int wait_status, bool leadership_ended)
{
	if (leadership_ended)
		return EXEC_EXIT_ENDED;
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 1;
}

const char *exec_env_get(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

static char *env_entry(const char *name, const char *value)
{
	size_t len = strlen(name) + 1 + strlen(value) + 1;
	char *entry = malloc(len);

	if (entry != NULL)
		snprintf(entry, len, "%s=%s", name, value);
	return entry;
}

void exec_environment_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e != NULL; e++)
		free(*e);
	free(env);
}

char **exec_environment(char *const *inherited, const struct state *st)
{
	char term[32];
	size_t n = 0, o = 0;
	char **env;

	while (inherited != NULL && inherited[n] != NULL)
		n++;
	/* The inherited entries, PATH, three of ours and the terminator. */
	env = calloc(n + 5, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* A KINGSMOOT_ variable from the caller (a hook's, say) would
		 * describe some other moment than this leadership. */
		if (strncmp(inherited[i], "KINGSMOOT_", 10) == 0 ||
		    strchr(inherited[i], '=') == NULL)
			continue;
		if ((env[o++] = strdup(inherited[i])) == NULL)
			goto nomem;
	}
	snprintf(term, sizeof(term), "%" PRId64, st->term);
	if ((exec_env_get(env, "PATH") == NULL &&
	    (env[o++] = env_entry("PATH", EXEC_DEFAULT_PATH)) == NULL) ||
	    (env[o++] = env_entry("KINGSMOOT_SERVICE", st->service)) == NULL ||
	    (env[o++] = env_entry("KINGSMOOT_LEADER", st->leader)) == NULL ||
	    (env[o++] = env_entry("KINGSMOOT_TERM", term)) == NULL)
		goto nomem;
	return env;
nomem:
	exec_environment_free(env);
	return NULL;
}
