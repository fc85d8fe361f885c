/*
 * test_proc.c - proc_spawn_tied(): the child gets its death signal when
 * its parent dies, where a proc_spawn() child lives on. This test program
 * is the grandparent and, as a subreaper, inherits the orphan to judge it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "proc.h"

static bool runs_sleep(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	return strcmp(comm, "sleep\n") == 0;
}

/* A middle process starts "sleep 30" and exits once it runs; return the
 * sleeper's pid, by then our child. */
static pid_t orphan(bool tied)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	pid_t middle, sleeper = 0;
	int fds[2], status;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	middle = fork();
	assert_true(middle >= 0);
	if (middle == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		pid_t pid = tied ?
		    proc_spawn_tied(argv[0], argv, envp, null, null, null, SIGKILL) :
		    proc_spawn(argv[0], argv, envp, null, null, null);

		/* Leave only once it runs sleep: a parent gone before the
		 * prctl() is the other case, where the child exits 127. */
		while (pid > 0 && !runs_sleep(pid))
			usleep(1000);
		_exit(write(fds[1], &pid, sizeof(pid)) == sizeof(pid) && pid > 0 ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &sleeper, sizeof(sleeper)), sizeof(sleeper));
	close(fds[0]);
	assert_int_equal(waitpid(middle, &status, 0), middle);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The kernel reparents before the middle one can be reaped. */
	return sleeper;
}

static void test_tied_child_dies_with_its_parent(void **unused)
{
	pid_t sleeper = orphan(true);
	int status;

	(void)unused;
	assert_int_equal(waitpid(sleeper, &status, 0), sleeper);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void test_untied_child_outlives_its_parent(void **unused)
{
	pid_t sleeper = orphan(false);
	int status;

	(void)unused;
	usleep(100 * 1000);
	assert_int_equal(waitpid(sleeper, &status, WNOHANG), 0);
	assert_int_equal(kill(sleeper, SIGKILL), 0);
	assert_int_equal(waitpid(sleeper, &status, 0), sleeper);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tied_child_dies_with_its_parent),
		cmocka_unit_test(test_untied_child_outlives_its_parent),
	};

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
