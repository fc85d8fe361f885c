/*
 * test_child.c - the child runner driven through the real event loop
 * with real programs: /bin/true, /bin/false, sleepers killed at their
 * timeout, shell one-liners that write long lines and floods, and this
 * test program itself run as "fill-pipe" to fill its output pipe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "child.h"
#include "child_testing.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* What a run ended with; first_line copied, the runner's is reused. */
static struct child runner;
static int exits;
static struct child_exit last;
static char last_first_line[CHILD_LINE_MAX + 1];
static char ready_path[] = "/tmp/km-child-ready-XXXXXX";

static void on_exit_seen(const struct child_exit *how, void *ud)
{
	(void)ud;
	exits++;
	last = *how;
	snprintf(last_first_line, sizeof(last_first_line), "%s", how->first_line);
	last.first_line = last_first_line;
}

static bool exited(const void *arg)
{
	(void)arg;
	return !child_running(&runner);
}

static struct child_spec spec_for(char *const argv[])
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };

	return (struct child_spec){
		.path = argv[0],
		.argv = argv,
		.envp = envp,
		.name = "t",
		.stdout_level = CHILD_LINE_INFO,
		.stderr_level = CHILD_LINE_WARNING,
		.timeout_ms = 5000,
		.kill_delay_ms = 2000,
	};
}

/* Start spec, run the loop until the child is reaped; return the log. */
static char *run_to_end(const struct child_spec *spec, uint64_t limit_ms)
{
	int before = exits;

	capture_begin();
	assert_int_equal(child_start(&runner, spec), 0);
	assert_true(child_running(&runner));
	assert_true(run_until(exited, NULL, limit_ms));
	assert_int_equal(exits, before + 1);
	return capture_end();
}

static char *sh_argv[] = { "/bin/sh", "-c", NULL, NULL };

static struct child_spec sh_spec(const char *script)
{
	sh_argv[2] = (char *)script;
	return spec_for(sh_argv);
}

static char *run_sh(const char *script, uint64_t limit_ms)
{
	struct child_spec spec = sh_spec(script);

	return run_to_end(&spec, limit_ms);
}

/* A fresh runner for each test: budgets carry over between runs. */
static int setup(void **state)
{
	(void)state;
	child_init(&runner, on_exit_seen, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	capture_show_if_failed();
	if (child_running(&runner)) {
		child_terminate(&runner);
		run_until(exited, NULL, 5000);
	}
	return 0;
}

static void test_true(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	struct child_spec spec = spec_for(argv);
	char *log;

	(void)state;
	log = run_to_end(&spec, 5000);
	assert_true(last.status_known);
	assert_true(WIFEXITED(last.status));
	assert_int_equal(WEXITSTATUS(last.status), 0);
	assert_false(last.timed_out);
	assert_true(last.ran_ms < 2000);
	assert_string_equal(last.first_line, "");
	assert_null(strstr(log, "<4>"));
	free(log);
}

static void test_false(void **state)
{
	char *argv[] = { "/bin/false", NULL };
	struct child_spec spec = spec_for(argv);

	(void)state;
	free(run_to_end(&spec, 5000));
	assert_true(last.status_known);
	assert_true(WIFEXITED(last.status));
	assert_int_equal(WEXITSTATUS(last.status), 1);
	assert_false(last.timed_out);
}

/* execve() fails in the child: it says why on its stderr and exits 127. */
static void test_exec_failure(void **state)
{
	char *argv[] = { "/nonexistent/program", NULL };
	struct child_spec spec = spec_for(argv);
	char *log;

	(void)state;
	log = run_to_end(&spec, 5000);
	assert_int_equal(WEXITSTATUS(last.status), 127);
	assert_string_equal(last.first_line,
	    "cannot execute: /nonexistent/program: ENOENT");
	assert_non_null(strstr(log,
	    "<4>t: cannot execute: /nonexistent/program: ENOENT\n"));
	free(log);
}

static void test_timeout_sends_sigterm(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct child_spec spec = spec_for(argv);
	char *log;

	(void)state;
	spec.timeout_ms = 200;
	log = run_to_end(&spec, 5000);
	assert_true(last.timed_out);
	assert_true(WIFSIGNALED(last.status));
	assert_int_equal(WTERMSIG(last.status), SIGTERM);
	assert_true(last.ran_ms >= 200 && last.ran_ms < 1500);
	assert_non_null(strstr(log, "<4>t timed out after 0.2 s; sending SIGTERM\n"));
	free(log);
}

/* A child that ignores SIGTERM gets SIGKILL kill_delay later, and so
 * does the rest of its group. */
static void test_timeout_then_sigkill(void **state)
{
	struct child_spec spec = sh_spec("trap '' TERM; /bin/sleep 30");
	char *log;

	(void)state;
	spec.timeout_ms = 200;
	spec.kill_delay_ms = 300;
	log = run_to_end(&spec, 5000);
	assert_true(last.timed_out);
	assert_true(WIFSIGNALED(last.status));
	assert_int_equal(WTERMSIG(last.status), SIGKILL);
	assert_true(last.ran_ms >= 500 && last.ran_ms < 2000);
	assert_non_null(strstr(log, "<4>t timed out after 0.2 s; sending SIGTERM\n"));
	assert_non_null(strstr(log,
	    "<4>t still running 300 ms after SIGTERM; sending SIGKILL\n"));
	free(log);
}

/* kill_delay 0, as for health checks: SIGKILL at the timeout itself. */
static void test_timeout_kills_at_once(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct child_spec spec = spec_for(argv);
	char *log;

	(void)state;
	spec.timeout_ms = 200;
	spec.kill_delay_ms = 0;
	log = run_to_end(&spec, 5000);
	assert_true(last.timed_out);
	assert_int_equal(WTERMSIG(last.status), SIGKILL);
	assert_true(last.ran_ms >= 200 && last.ran_ms < 1500);
	assert_non_null(strstr(log, "<4>t timed out after 0.2 s; killing it\n"));
	assert_null(strstr(log, "SIGTERM"));
	free(log);
}

/* Ended early, as a superseded hook is: SIGTERM, no timeout verdict. */
static void test_terminate(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct child_spec spec = spec_for(argv);
	char *log;

	(void)state;
	capture_begin();
	assert_int_equal(child_start(&runner, &spec), 0);
	assert_int_equal(child_start(&runner, &spec), -EBUSY);
	loop_run_once(10);
	child_terminate(&runner);
	assert_true(child_running(&runner));    /* until reaped */
	assert_true(run_until(exited, NULL, 1500));
	log = capture_end();
	assert_false(last.timed_out);
	assert_int_equal(WTERMSIG(last.status), SIGTERM);
	free(log);
}

static void test_lines_and_levels(void **state)
{
	char want[CHILD_LINE_MAX + 64], *log;

	(void)state;
	log = run_sh("head -c 3000 /dev/zero | tr '\\0' x; echo\n"
	    "echo 'after long'\n"
	    "echo 'to stderr' >&2\n"
	    "printf 'a\\033[31mred\\tcell\\r\\n'\n"
	    "printf 'tail without newline'\n", 5000);
	assert_int_equal(WEXITSTATUS(last.status), 0);
	snprintf(want, sizeof(want), "<6>t: %.*s [truncated]\n", CHILD_LINE_MAX,
	    "");
	memset(want + 6, 'x', CHILD_LINE_MAX);
	assert_non_null(strstr(log, want));
	assert_int_equal(count_substr(log, "x [truncated]"), 1);
	assert_int_equal(strlen(last.first_line), CHILD_LINE_MAX);
	assert_non_null(strstr(log, "<6>t: after long\n"));
	assert_non_null(strstr(log, "<4>t: to stderr\n"));
	assert_non_null(strstr(log, "<6>t: a?[31mred\tcell\n"));
	assert_non_null(strstr(log, "<6>t: tail without newline\n"));
	free(log);
}

static void test_merged_stderr(void **state)
{
	struct child_spec spec = sh_spec("echo first >&2; echo second");
	char *log;

	(void)state;
	spec.stdout_level = CHILD_LINE_DEBUG;
	spec.merge_stderr = true;
	log_set_verbosity(1);
	log = run_to_end(&spec, 5000);
	log_set_verbosity(0);
	assert_string_equal(last.first_line, "first");
	assert_non_null(strstr(log, "<7>t: first\n<7>t: second\n"));
	free(log);
}

static void test_rate_limit(void **state)
{
	char *log;

	(void)state;
	log = run_sh("yes | head -n 5000", 10000);
	assert_int_equal(count_substr(log, "<6>t: y\n"), CHILD_LOG_BURST);
	assert_non_null(strstr(log, "<4>t: 4000 lines of output suppressed\n"));
	free(log);
	/* A new run, a new budget. */
	log = run_sh("yes | head -n 600", 10000);
	assert_int_equal(count_substr(log, "<6>t: y\n"), 600);
	free(log);
}

static void test_budget_spans_runs(void **state)
{
	struct child_spec spec = sh_spec("yes | head -n 600");
	char *log;

	(void)state;
	spec.budget_spans_runs = true;
	log = run_to_end(&spec, 10000);
	assert_int_equal(count_substr(log, "<6>t: y\n"), 600);
	free(log);
	log = run_to_end(&spec, 10000);
	assert_int_equal(count_substr(log, "<6>t: y\n"), CHILD_LOG_BURST - 600);
	assert_non_null(strstr(log, "<4>t: 200 lines of output suppressed\n"));
	free(log);
}

/* This program, run as "fill-pipe FILE": fill stdout's pipe, enlarged to
 * 1 MiB where allowed, without blocking; say how much in FILE; wait. */
static int fill_pipe(const char *file)
{
	static char block[65536];
	long size = fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
	long left;
	FILE *f;

	if (size < 0)
		size = fcntl(STDOUT_FILENO, F_GETPIPE_SZ);
	if (size < 0)
		return 1;
	memset(block, 'y', sizeof(block));
	for (size_t i = 99; i < sizeof(block); i += 100)
		block[i] = '\n';
	for (left = size; left > 0; left -= (long)sizeof(block))
		if (write(STDOUT_FILENO, block, left < (long)sizeof(block) ?
		    (size_t)left : sizeof(block)) < 0)
			return 1;
	if ((f = fopen(file, "we")) == NULL)
		return 1;
	fprintf(f, "%ld\n", size);
	fclose(f);
	pause();
	return 0;
}

/* However much output waits, one wake-up of the loop reads a bounded
 * amount of it: here a full 1 MiB pipe must keep most of its bytes. */
static void test_one_wakeup_reads_a_bounded_amount(void **state)
{
	char *argv[] = { "/proc/self/exe", "fill-pipe", ready_path, NULL };
	struct child_spec spec = spec_for(argv);
	char path[64], *ready = NULL;
	int fd, queued = 0;
	long size;

	(void)state;
	unlink(ready_path);
	capture_begin();
	assert_int_equal(child_start(&runner, &spec), 0);
	/* Not running the loop: nothing is read until the pipe is full. */
	for (uint64_t end = now_ms() + 5000; now_ms() < end; usleep(10000)) {
		free(ready);
		if ((ready = slurp(ready_path)) != NULL && strchr(ready, '\n'))
			break;
	}
	assert_non_null(ready);
	size = atol(ready);
	free(ready);

	loop_run_once(100);
	/* Our own look at the pipe, through the child's end of it. */
	snprintf(path, sizeof(path), "/proc/%ld/fd/1", (long)runner.pid);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
	close(fd);
	print_message("pipe of %ld bytes: %d left after one wake-up\n", size,
	    queued);
	assert_true(size > 4 * 65536);
	assert_true(queued >= size - 4 * 65536);

	child_terminate(&runner);
	assert_true(run_until(exited, NULL, 5000));
	free(capture_end());
	unlink(ready_path);
	assert_int_equal(WTERMSIG(last.status), SIGTERM);
}

/* Many runs, some ended early: no descriptor or child left behind. */
static void test_no_leaks(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct child_spec sleeper = spec_for(argv);
	struct child_spec talker = sh_spec("echo out; echo err >&2; sleep 30 &");
	int fds_before = count_fds();

	(void)state;
	for (int i = 0; i < 50; i++)
		free(run_to_end(&talker, 5000));
	for (int i = 0; i < 20; i++) {
		capture_begin();
		assert_int_equal(child_start(&runner, &sleeper), 0);
		child_terminate(&runner);
		assert_true(run_until(exited, NULL, 5000));
		free(capture_end());
	}
	assert_int_equal(count_fds(), fds_before);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_true, setup, teardown),
		cmocka_unit_test_setup_teardown(test_false, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_sends_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_then_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_and_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merged_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_spans_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_wakeup_reads_a_bounded_amount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_leaks, setup, teardown),
	};

	if (argc == 3 && strcmp(argv[1], "fill-pipe") == 0)
		return fill_pipe(argv[2]);
	return cmocka_run_group_tests(tests, testing_group_setup,
	    testing_group_teardown);
}
