/*
 * child_testing.h - what the tests of code that runs children share:
 * the daemon's signal set-up, a capture of the log (stderr) to check its
 * lines, reading /proc files, counting our descriptors, and driving the
 * real event loop until a condition holds.
 *
 * Included by one test program each; include cmocka.h first.
 */
#ifndef KM_CHILD_TESTING_H
#define KM_CHILD_TESTING_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"

static CURLM *testing_multi;
static int capture_fd = -1, saved_stderr = -1;
static bool capturing, verbose;
static int stray_fd = -1;

/* What the daemon does before running any child (signals blocked for
 * signalfd, SIGPIPE ignored) plus a stray descriptor without O_CLOEXEC,
 * so that tests prove children inherit none of it; then the log and the
 * loop. A cmocka group setup; returns 0 or -1. */
static inline int testing_group_setup(void **state)
{
	char cap[] = "/tmp/km-child-log-XXXXXX";
	sigset_t set;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	stray_fd = open("/dev/null", O_RDONLY);     /* no O_CLOEXEC on purpose */

	capture_fd = mkostemp(cap, O_CLOEXEC);
	if (capture_fd < 0)
		return -1;
	unlink(cap);
	saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	/* Initialised while stderr is a file: "<N>" prefixes, not a tty. */
	fflush(stderr);
	dup2(capture_fd, STDERR_FILENO);
	log_init(0);
	dup2(saved_stderr, STDERR_FILENO);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	testing_multi = curl_multi_init();
	loop_set_curl(testing_multi, NULL);
	return 0;
}

static inline int testing_group_teardown(void **state)
{
	(void)state;
	curl_multi_cleanup(testing_multi);
	curl_global_cleanup();
	close(capture_fd);
	close(saved_stderr);
	close(stray_fd);
	return 0;
}

static inline void capture_begin(void)
{
	fflush(stderr);
	assert_int_equal(ftruncate(capture_fd, 0), 0);
	assert_int_equal(lseek(capture_fd, 0, SEEK_SET), 0);
	assert_true(dup2(capture_fd, STDERR_FILENO) == STDERR_FILENO);
	capturing = true;
}

/* Whole file, NUL-terminated; works for /proc files, which have no size. */
static inline char *slurp(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	buf = xcalloc(cap + 1, 1);
	while ((r = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)r;
		if (len == cap) {
			buf = realloc(buf, 2 * cap + 1);
			assert_non_null(buf);
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* Stop capturing; return what was logged (caller frees). */
static inline char *capture_end(void)
{
	char path[64], *text;

	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) == STDERR_FILENO);
	capturing = false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", capture_fd);
	text = slurp(path);
	assert_non_null(text);
	if (verbose || getenv("KM_TEST_VERBOSE"))
		fprintf(stderr, "---- log ----\n%s-------------\n", text);
	return text;
}

/* In a teardown: still capturing means the test failed; show its log. */
static inline void capture_show_if_failed(void)
{
	if (capturing) {
		verbose = true;
		free(capture_end());
		verbose = false;
	}
}

/* Run the loop until cond() holds or timeout_ms passes. */
static inline bool run_until(bool (*cond)(const void *), const void *arg,
    uint64_t timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (now_ms() >= deadline)
			return false;
		loop_run_once(50);
	}
	return true;
}

static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static inline size_t count_substr(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

#endif
