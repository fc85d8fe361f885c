/*
 * test_ctl_exec_rules.c - the decisions of kingsmootctl exec
 * (ctl_exec_rules.c): VALID_UNTIL on the boot clock, what ends a
 * leadership, when SIGKILL follows SIGTERM, the exit status and the
 * command's environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "ctl_exec_rules.h"
#include "state.h"

#define UNIX_NOW 1764128000.0
#define BOOT_NOW 500000u

static struct state leader_state(int64_t term, double valid_until)
{
	struct state st;

	memset(&st, 0, sizeof(st));
	st.role = ROLE_LEADER;
	snprintf(st.service, sizeof(st.service), "akem");
	snprintf(st.node, sizeof(st.node), "node-a");
	snprintf(st.leader, sizeof(st.leader), "node-a");
	st.term = term;
	st.valid_until = valid_until;
	st.pid = 4321;
	return st;
}

static void test_valid_until_on_the_boot_clock(void **unused)
{
	(void)unused;
	assert_int_equal(exec_until_ms(UNIX_NOW + 2.5, UNIX_NOW, BOOT_NOW), BOOT_NOW + 2500);
	assert_int_equal(exec_until_ms(UNIX_NOW, UNIX_NOW, BOOT_NOW), BOOT_NOW);
	assert_int_equal(exec_until_ms(UNIX_NOW - 1.0, UNIX_NOW, BOOT_NOW), BOOT_NOW - 1000);
	/* Long past, or "0" from a file that is no leader's: the clock's start. */
	assert_int_equal(exec_until_ms(0.0, UNIX_NOW, BOOT_NOW), 0);
}

static void test_renewals_move_the_deadline_and_expiry_ends(void **unused)
{
	struct state st = leader_state(7, UNIX_NOW + 2.0);
	struct exec_lead lead;

	(void)unused;
	exec_lead_begin(&lead, &st, UNIX_NOW, BOOT_NOW);
	assert_int_equal(lead.term, 7);
	assert_int_equal(lead.daemon_pid, 4321);
	assert_int_equal(lead.until_ms, BOOT_NOW + 2000);

	/* A keepalive one second later renews it. */
	st.valid_until = UNIX_NOW + 3.0;
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW + 1.0, BOOT_NOW + 1000),
	    EXEC_LEADING);
	assert_int_equal(lead.until_ms, BOOT_NOW + 3000);

	/* A frozen daemon: the same file, read again at VALID_UNTIL. What
	 * is left is rounded down, to the safe side. */
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW + 2.5, BOOT_NOW + 2500),
	    EXEC_LEADING);
	assert_int_equal(lead.until_ms, BOOT_NOW + 3000);
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW + 2.9985, BOOT_NOW + 2998),
	    EXEC_LEADING);
	assert_int_equal(lead.until_ms, BOOT_NOW + 2999);
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW + 3.0, BOOT_NOW + 3000),
	    EXEC_END_EXPIRED);

	/* An unreadable file renews nothing. */
	exec_lead_begin(&lead, &st, UNIX_NOW, BOOT_NOW);
	assert_int_equal(exec_lead_judge(&lead, NULL, UNIX_NOW, BOOT_NOW + 2999),
	    EXEC_LEADING);
	assert_int_equal(exec_lead_judge(&lead, NULL, UNIX_NOW, BOOT_NOW + 3000),
	    EXEC_END_EXPIRED);
}

static void test_a_wall_clock_step_does_not_move_the_deadline(void **unused)
{
	struct state st = leader_state(7, UNIX_NOW + 2.0);
	struct exec_lead lead;

	(void)unused;
	exec_lead_begin(&lead, &st, UNIX_NOW, BOOT_NOW);
	/* The wall clock jumps back an hour; the file is not rewritten.
	 * Only a new read converts again. */
	assert_int_equal(exec_lead_judge(&lead, NULL, UNIX_NOW - 3600, BOOT_NOW + 2000),
	    EXEC_END_EXPIRED);
}

static void test_what_ends_the_leadership(void **unused)
{
	struct state base = leader_state(7, UNIX_NOW + 2.0), st;
	struct exec_lead lead;
	enum km_role others[] = { ROLE_FOLLOWER, ROLE_NOT_MEMBER, ROLE_OBSERVER };

	(void)unused;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		exec_lead_begin(&lead, &base, UNIX_NOW, BOOT_NOW);
		st = base;
		st.role = others[i];
		st.valid_until = 0;
		assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW, BOOT_NOW),
		    EXEC_END_ROLE);
	}
	/* A later leadership of the same node is another one: a new key,
	 * a new term, and the command was not started under it. */
	exec_lead_begin(&lead, &base, UNIX_NOW, BOOT_NOW);
	st = base;
	st.term = 9;
	st.valid_until = UNIX_NOW + 5.0;
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW, BOOT_NOW), EXEC_END_TERM);
	assert_int_equal(lead.until_ms, BOOT_NOW + 2000);

	st = base;
	st.pid = 4322;
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW, BOOT_NOW), EXEC_END_DAEMON);

	/* A role change is reported as such even when it comes late. */
	st = base;
	st.role = ROLE_NOT_MEMBER;
	assert_int_equal(exec_lead_judge(&lead, &st, UNIX_NOW + 9, BOOT_NOW + 9000),
	    EXEC_END_ROLE);
}

static void test_sigkill_comes_within_the_margin(void **unused)
{
	struct state st = leader_state(7, UNIX_NOW + 2.0);
	struct exec_lead lead;

	(void)unused;
	exec_lead_begin(&lead, &st, UNIX_NOW, BOOT_NOW);
	/* A resign seen one second before VALID_UNTIL: half the margin. */
	assert_int_equal(exec_kill_at_ms(BOOT_NOW + 1000, &lead, 1.0), BOOT_NOW + 1500);
	/* Expiry seen late (a slow wake-up): still counted from VALID_UNTIL. */
	assert_int_equal(exec_kill_at_ms(BOOT_NOW + 2300, &lead, 1.0), BOOT_NOW + 2500);
	assert_int_equal(exec_kill_at_ms(BOOT_NOW + 2000, &lead, 2.0), BOOT_NOW + 3000);

	/* Wherever the end falls, SIGKILL precedes VALID_UNTIL + margin,
	 * the earliest instant etcd may expire the lease. */
	for (double margin = 0.002; margin < 30; margin *= 1.7)
		for (uint64_t ended = BOOT_NOW; ended < BOOT_NOW + 4000; ended += 97)
			assert_true(exec_kill_at_ms(ended, &lead, margin) <
			    lead.until_ms + (uint64_t)(margin * 1000.0 + 0.5));
}

static void test_exit_status(void **unused)
{
	(void)unused;
	assert_int_equal(exec_exit_status(0, false), 0);
	assert_int_equal(exec_exit_status(3 << 8, false), 3);
	assert_int_equal(exec_exit_status(127 << 8, false), 127);
	assert_int_equal(exec_exit_status(SIGTERM, false), 128 + SIGTERM);
	assert_true(WIFSIGNALED(SIGKILL));
	assert_int_equal(exec_exit_status(SIGKILL, false), 128 + SIGKILL);
	/* Stopped by us: whatever it exited with, the leadership ended. */
	assert_int_equal(exec_exit_status(0, true), EXEC_EXIT_ENDED);
	assert_int_equal(exec_exit_status(SIGTERM, true), EXEC_EXIT_ENDED);
	assert_int_equal(exec_exit_status(SIGKILL, true), EXEC_EXIT_ENDED);
}

static size_t count(char **env)
{
	size_t n = 0;

	while (env[n] != NULL)
		n++;
	return n;
}

static void test_environment(void **unused)
{
	char *inherited[] = {
		"HOME=/root", "KINGSMOOT_ROLE=follower", "LANG=C.UTF-8",
		"KINGSMOOT_TERM=3", "KINGSMOOT_=x", "PATH=/opt/bin:/bin", "NO_EQUALS",
		"KINGSMOOTISH=kept", NULL,
	};
	struct state st = leader_state(1234, UNIX_NOW + 2.0);
	char **env;

	(void)unused;
	/* Raw values, as hooks get them: the file's encoding is undone. */
	snprintf(st.leader, sizeof(st.leader), "node a\nx");
	env = exec_environment(inherited, &st);
	assert_non_null(env);
	assert_string_equal(exec_env_get(env, "HOME"), "/root");
	assert_string_equal(exec_env_get(env, "LANG"), "C.UTF-8");
	assert_string_equal(exec_env_get(env, "PATH"), "/opt/bin:/bin");
	assert_string_equal(exec_env_get(env, "KINGSMOOTISH"), "kept");
	assert_string_equal(exec_env_get(env, "KINGSMOOT_SERVICE"), "akem");
	assert_string_equal(exec_env_get(env, "KINGSMOOT_LEADER"), "node a\nx");
	assert_string_equal(exec_env_get(env, "KINGSMOOT_TERM"), "1234");
	assert_null(exec_env_get(env, "KINGSMOOT_ROLE"));
	assert_null(exec_env_get(env, "KINGSMOOT_"));
	assert_null(exec_env_get(env, "NO_EQUALS"));
	assert_int_equal(count(env), 7);
	exec_environment_free(env);

	/* No PATH inherited (cron may give one, a bare env does not). */
	char *bare[] = { NULL };
	env = exec_environment(bare, &st);
	assert_non_null(env);
	assert_string_equal(exec_env_get(env, "PATH"), EXEC_DEFAULT_PATH);
	assert_int_equal(count(env), 4);
	exec_environment_free(env);
	env = exec_environment(NULL, &st);
	assert_non_null(env);
	assert_int_equal(count(env), 4);
	exec_environment_free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_until_on_the_boot_clock),
		cmocka_unit_test(test_renewals_move_the_deadline_and_expiry_ends),
		cmocka_unit_test(test_a_wall_clock_step_does_not_move_the_deadline),
		cmocka_unit_test(test_what_ends_the_leadership),
		cmocka_unit_test(test_sigkill_comes_within_the_margin),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
