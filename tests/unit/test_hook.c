/*
 * test_hook.c - the hooks module driven through the real event loop with
 * real scripts in a temporary directory; no etcd involved.
 *
 * The process is set up like the daemon (child_testing.h) so that the
 * tests prove hooks inherit none of its signal state or descriptors. The
 * log goes to stderr, which is pointed at a file while a test runs so
 * that its lines can be checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "child.h"
#include "child_testing.h"
#include "hook.h"
#include "log.h"
#include "loop.h"
#include "util.h"

static char dir[PATH_MAX];      /* the hooks directory of the current test */
static char work[PATH_MAX];     /* where hooks leave their traces */

static int done_count;
static enum km_role done_role;
static bool done_ok;
static bool resign_on_failure;  /* what elect.c does with a failed leader */

static void transition(enum km_role role, enum km_role prev);

static void on_done(enum km_role role, bool ok, void *ud)
{
	(void)ud;
	done_count++;
	done_role = role;
	done_ok = ok;
	if (resign_on_failure && role == ROLE_LEADER && !ok)
		transition(ROLE_NOT_MEMBER, ROLE_LEADER);
}

/* Helpers. */

static void write_file(const char *path, mode_t mode, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A /bin/sh hook; "@W" in the body stands for the trace directory. */
static void hook(const char *name, mode_t mode, const char *body)
{
	char path[PATH_MAX * 2], text[8192], *o = text;

	for (const char *p = body; *p; p++) {
		if (p[0] == '@' && p[1] == 'W') {
			o += snprintf(o, sizeof(text) - (size_t)(o - text), "%s", work);
			p++;
		} else {
			*o++ = *p;
		}
		assert_true(o < text + sizeof(text) - 1);
	}
	*o = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, mode, "#!/bin/sh\n%s\n", text);
}

static char *trace(const char *name)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", work, name);
	return slurp(path);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	if (path[0] != '\0')
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void env_at(struct hook_env *env, enum km_role role, enum km_role prev)
{
	memset(env, 0, sizeof(*env));
	env->role = role;
	env->previous_role = prev;
	env->service = "akem";
	env->node = "node-a";
	env->leader = "node a=b";
	env->term = 1234;
	env->state_file = "/run/kingsmoot/state";
}

static void transition(enum km_role role, enum km_role prev)
{
	struct hook_env env;

	env_at(&env, role, prev);
	hooks_transition(&env);
}

static bool done_reached(const void *arg)
{
	return done_count >= *(const int *)arg;
}

static bool idle(const void *arg)
{
	(void)arg;
	return !hooks_busy();
}

static bool trace_has(const void *arg)
{
	const char *const *a = arg;
	char *t = trace(a[0]);
	bool found = t != NULL && strstr(t, a[1]) != NULL;

	free(t);
	return found;
}

/* Run until the n-th batch reports, then until no process is left. */
static void run_batches(int n, uint64_t timeout_ms)
{
	assert_true(run_until(done_reached, &n, timeout_ms));
	assert_true(run_until(idle, NULL, timeout_ms));
}

static void wait_trace(const char *name, const char *text, uint64_t timeout_ms)
{
	const char *a[2] = { name, text };

	assert_true(run_until(trace_has, a, timeout_ms));
}

static bool process_gone(pid_t pid)
{
	char path[64], *stat, *p;
	bool gone;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((stat = slurp(path)) == NULL)
		return true;
	/* An orphan may wait as a zombie for an init that does not reap. */
	p = strrchr(stat, ')');
	gone = p != NULL && (p[2] == 'Z' || p[2] == 'X');
	free(stat);
	return gone;
}

static pid_t trace_pid(const char *name)
{
	char *t = trace(name);
	pid_t pid;

	assert_non_null(t);
	pid = (pid_t)atol(t);
	free(t);
	assert_true(pid > 1);
	return pid;
}

static long rss_kib(void)
{
	char *statm = slurp("/proc/self/statm");
	long size = 0, resident = 0;

	assert_non_null(statm);
	assert_int_equal(sscanf(statm, "%ld %ld", &size, &resident), 2);
	free(statm);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Fixtures. */

static int group_setup(void **state)
{
	if (testing_group_setup(state) < 0)
		return -1;
	return hooks_init(on_done, NULL);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/km-hooks-XXXXXX");
	strcpy(work, "/tmp/km-work-XXXXXX");
	if (mkdtemp(dir) == NULL || mkdtemp(work) == NULL)
		return -1;
	chmod(dir, 0755);
	hooks_configure(dir, 5.0);
	done_count = 0;
	capture_begin();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	capture_show_if_failed();
	/* Leave nothing running for the next test. */
	hooks_abort();
	run_until(idle, NULL, 5000);
	rm_rf(dir);
	rm_rf(work);
	return 0;
}

/* Tests. */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_argv_and_environment(void **state)
{
	static const char *const want[] = {
		"KINGSMOOT_LEADER=node a=b",
		"KINGSMOOT_NODE=node-a",
		"KINGSMOOT_PREVIOUS_ROLE=follower",
		"KINGSMOOT_REASON=",
		"KINGSMOOT_ROLE=leader",
		"KINGSMOOT_SERVICE=akem",
		"KINGSMOOT_STATE_FILE=/run/kingsmoot/state",
		"KINGSMOOT_TERM=1234",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	};
	char path[PATH_MAX * 2], *envtext, *args, *vars[32], *log;
	size_t n = 0, len;

	(void)state;
	setenv("KM_CANARY", "must-not-leak", 1);
	/* /proc/$$/environ is exactly what execve() handed the shell. */
	hook("10-env", 0755,
	    "cat /proc/$$/environ > @W/env\n"
	    "printf '%s\\n' \"$0\" \"$@\" > @W/args\n");
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	assert_int_equal(done_count, 0);
	run_batches(1, 5000);
	log = capture_end();
	unsetenv("KM_CANARY");
	assert_int_equal(done_role, ROLE_LEADER);
	assert_true(done_ok);

	snprintf(path, sizeof(path), "%s/env", work);
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		static char buf[8192];
		ssize_t r;

		assert_true(fd >= 0);
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		assert_true(r > 0);
		buf[r] = '\0';
		len = (size_t)r;
		envtext = buf;
	}
	for (size_t off = 0; off < len; off += strlen(envtext + off) + 1) {
		assert_true(n < ARRAY_SIZE(vars));
		vars[n++] = envtext + off;
	}
	qsort(vars, n, sizeof(vars[0]), cmp_str);
	assert_int_equal(n, ARRAY_SIZE(want));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(vars[i], want[i]);
	assert_null(strstr(envtext, "KM_CANARY"));

	args = trace("args");
	assert_non_null(args);
	snprintf(path, sizeof(path), "%s/10-env\nleader\nfollower\n", dir);
	assert_string_equal(args, path);
	free(args);
	assert_non_null(strstr(log, "hook 10-env succeeded"));
	free(log);
}

/* Descriptors, signal state and process group, seen from outside while
 * the hook (exec'ed into sleep) is alive. */
static void test_process_setup(void **state)
{
	char path[128], link[PATH_MAX], *status, *stat, *p, *log;
	unsigned long long ignored;
	struct dirent *de;
	long pgrp = 0;
	bool slept = false;
	int nfd = 0;
	pid_t pid;
	DIR *d;

	(void)state;
	hook("10-proc", 0755,
	    "if [ \"$1\" = leader ]; then echo $$ > @W/pid; exec sleep 30; fi\n");
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	wait_trace("pid", "\n", 5000);
	pid = trace_pid("pid");
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	for (uint64_t end = now_ms() + 5000; !slept && now_ms() < end;) {
		char *comm = slurp(path);
		slept = comm && strcmp(comm, "sleep\n") == 0;
		free(comm);
		loop_run_once(10);
	}
	assert_true(slept);

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char fdpath[PATH_MAX];
		ssize_t r;

		if (de->d_name[0] == '.')
			continue;
		nfd++;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		r = readlink(fdpath, link, sizeof(link) - 1);
		assert_true(r > 0);
		link[r] = '\0';
		if (strcmp(de->d_name, "0") == 0)
			assert_string_equal(link, "/dev/null");
		else if (strcmp(de->d_name, "1") == 0 || strcmp(de->d_name, "2") == 0)
			assert_memory_equal(link, "pipe:", 5);
		else
			fail_msg("hook inherited descriptor %s -> %s", de->d_name, link);
	}
	closedir(d);
	assert_int_equal(nfd, 3);

	/* Signals 32 and 33 are glibc's own (cancellation, setxid): its
	 * sigaction() refuses to touch them, and glibc re-arms them in any
	 * program that needs them, so an inherited SIG_IGN there is not the
	 * hook's business. Every other signal must be back to default. */
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	status = slurp(path);
	assert_non_null(status);
	assert_non_null(strstr(status, "\nSigBlk:\t0000000000000000\n"));
	p = strstr(status, "\nSigIgn:\t");
	assert_non_null(p);
	ignored = strtoull(p + 9, NULL, 16);
	if ((ignored & ~0x180000000ull) != 0)
		fail_msg("hook inherited ignored signals %llx", ignored);
	free(status);

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	stat = slurp(path);
	assert_non_null(stat);
	p = strrchr(stat, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %ld", &pgrp), 1);
	free(stat);
	assert_int_equal(pgrp, pid);

	/* Supersede it; not_member's run of the same hook does nothing. */
	transition(ROLE_NOT_MEMBER, ROLE_LEADER);
	run_batches(1, 5000);
	log = capture_end();
	assert_int_equal(done_role, ROLE_NOT_MEMBER);
	assert_true(done_ok);
	assert_true(process_gone(pid));
	assert_non_null(strstr(log, "hook 10-proc interrupted"));
	free(log);
}

static void test_order_and_skipped_names(void **state)
{
	static const char *const skipped[] = {
		"foo~", "a.dpkg-old", "a.dpkg-dist", "a.dpkg-new", "a.dpkg-tmp",
		"b.rpmnew", "c.rpmsave", ".hidden", "-dash", ".", "bad name",
		"x@y",
	};
	char path[PATH_MAX * 2], target[PATH_MAX * 2], *rec, *log;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(skipped); i++) {
		if (strcmp(skipped[i], ".") == 0)
			continue;
		hook(skipped[i], 0755, "echo BAD >> @W/rec");
	}
	hook("10-a", 0755, "echo 10-a >> @W/rec");
	hook("2-b", 0755, "echo 2-b >> @W/rec");
	hook("A", 0755, "echo A >> @W/rec");
	hook("_u", 0755, "echo _u >> @W/rec");
	hook("a.b", 0755, "echo a.b >> @W/rec");
	hook("Z-noexec", 0644, "echo BAD >> @W/rec");
	/* A directory is skipped, even an executable one... */
	snprintf(path, sizeof(path), "%s/30-dir", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	/* ...a link to /dev/null masks, a link to a script is followed. */
	snprintf(path, sizeof(path), "%s/40-null", dir);
	assert_int_equal(symlink("/dev/null", path), 0);
	snprintf(target, sizeof(target), "%s/30-dir/target", dir);
	write_file(target, 0755, "#!/bin/sh\necho 45-link >> %s/rec\n", work);
	snprintf(path, sizeof(path), "%s/45-link", dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/46-dangling", dir);
	assert_int_equal(symlink("/nonexistent/x", path), 0);

	transition(ROLE_FOLLOWER, ROLE_NOT_MEMBER);
	run_batches(1, 10000);
	log = capture_end();
	assert_true(done_ok);
	rec = trace("rec");
	assert_non_null(rec);
	assert_string_equal(rec, "10-a\n2-b\n45-link\nA\n_u\na.b\n");
	free(rec);
	assert_non_null(strstr(log, "running 6 hooks for follower (was not_member)"));
	free(log);
}

static void test_strict_file(void **state)
{
	char path[PATH_MAX * 2], *rec, *log;

	(void)state;
	hook("10-ok", 0755, "echo 10-ok >> @W/rec");
	hook("20-gw", 0775, "echo 20-gw >> @W/rec");
	hook("25-ow", 0757, "echo 25-ow >> @W/rec");
	hook("30-ok", 0755, "echo 30-ok >> @W/rec");
	hook("40-owner", 0755, "echo 40-owner >> @W/rec");
	snprintf(path, sizeof(path), "%s/40-owner", dir);
	assert_int_equal(chown(path, 12345, 0), 0);

	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	log = capture_end();
	assert_false(done_ok);
	rec = trace("rec");
	assert_non_null(rec);
	assert_string_equal(rec, "10-ok\n30-ok\n");
	free(rec);
	assert_non_null(strstr(log, "20-gw refused: writable by its group"));
	assert_non_null(strstr(log, "25-ow refused: writable by others"));
	assert_non_null(strstr(log, "40-owner refused: owned by uid 12345"));
	free(log);
}

static void test_strict_dir(void **state)
{
	char *rec, *log;

	(void)state;
	hook("10-ok", 0755, "echo 10-ok >> @W/rec");
	assert_int_equal(chmod(dir, 0775), 0);
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	assert_false(done_ok);

	assert_int_equal(chmod(dir, 0757), 0);
	transition(ROLE_FOLLOWER, ROLE_LEADER);
	run_batches(2, 5000);
	assert_false(done_ok);

	assert_int_equal(chown(dir, 12345, 0), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(3, 5000);
	assert_false(done_ok);

	log = capture_end();
	rec = trace("rec");
	assert_null(rec);
	assert_non_null(strstr(log, "refused: writable by its group; no hooks run"));
	assert_non_null(strstr(log, "refused: writable by others; no hooks run"));
	assert_non_null(strstr(log, "refused: owned by uid 12345"));
	free(log);
}

/* No hooks: done still comes, from the loop, never from inside the call. */
static void test_no_hooks(void **state)
{
	char missing[PATH_MAX * 2], *log;

	(void)state;
	transition(ROLE_LEADER, ROLE_FOLLOWER);        /* empty directory */
	assert_int_equal(done_count, 0);
	assert_true(hooks_busy());
	run_batches(1, 2000);
	assert_true(done_ok);

	snprintf(missing, sizeof(missing), "%s/nope", dir);
	hooks_configure(missing, 5.0);
	transition(ROLE_FOLLOWER, ROLE_LEADER);
	assert_int_equal(done_count, 1);
	run_batches(2, 2000);
	assert_true(done_ok);
	assert_int_equal(done_role, ROLE_FOLLOWER);

	hooks_configure(NULL, 5.0);
	transition(ROLE_NOT_MEMBER, ROLE_FOLLOWER);
	assert_int_equal(done_count, 2);
	run_batches(3, 2000);
	assert_true(done_ok);
	assert_int_equal(done_role, ROLE_NOT_MEMBER);
	assert_false(hooks_busy());
	log = capture_end();
	free(log);
}

#define SLEEPER \
	"echo \"10 $1\" >> @W/rec\n" \
	"if [ \"$1\" = leader ]; then sleep 30; fi\n"

static void test_supersede(void **state)
{
	uint64_t t0;
	char *rec, *log;

	(void)state;
	hook("10-a", 0755, SLEEPER);
	hook("20-b", 0755, "echo \"20 $1\" >> @W/rec");
	t0 = now_ms();
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	wait_trace("rec", "10 leader\n", 5000);
	transition(ROLE_FOLLOWER, ROLE_LEADER);
	run_batches(1, 5000);
	log = capture_end();
	assert_true(now_ms() - t0 < 2000);   /* SIGTERM, not the SIGKILL */
	assert_int_equal(done_count, 1);
	assert_int_equal(done_role, ROLE_FOLLOWER);
	assert_true(done_ok);
	rec = trace("rec");
	assert_string_equal(rec, "10 leader\n10 follower\n20 follower\n");
	free(rec);
	assert_non_null(strstr(log, "hooks for leader interrupted: role is now follower"));
	free(log);
}

static void test_supersede_latest_wins(void **state)
{
	char *rec, *log;

	(void)state;
	hook("10-a", 0755, SLEEPER);
	hook("20-b", 0755, "echo \"20 $1\" >> @W/rec");
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	wait_trace("rec", "10 leader\n", 5000);
	transition(ROLE_FOLLOWER, ROLE_LEADER);
	transition(ROLE_NOT_MEMBER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	log = capture_end();
	assert_int_equal(done_count, 1);
	assert_int_equal(done_role, ROLE_NOT_MEMBER);
	rec = trace("rec");
	assert_string_equal(rec, "10 leader\n10 not_member\n20 not_member\n");
	free(rec);
	assert_non_null(strstr(log, "hooks for follower skipped: superseded by not_member"));
	free(log);
}

static void test_timeout_kills_group(void **state)
{
	uint64_t t0, took;
	pid_t gc;
	char *rec, *log;

	(void)state;
	hooks_configure(dir, 0.5);
	/* Ignored signals are inherited, so the background sleep ignores
	 * SIGTERM too: only the group SIGKILL ends it. */
	hook("10-stubborn", 0755,
	    "trap '' TERM\n"
	    "sleep 60 &\n"
	    "echo $! > @W/gc\n"
	    "sleep 60\n");
	hook("20-next", 0755, "echo 20-next >> @W/rec");
	t0 = now_ms();
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 8000);
	took = now_ms() - t0;
	log = capture_end();
	assert_false(done_ok);
	assert_true(took >= 2400 && took < 4500);
	gc = trace_pid("gc");
	assert_true(process_gone(gc));
	rec = trace("rec");
	assert_string_equal(rec, "20-next\n");      /* the batch goes on */
	free(rec);
	assert_non_null(strstr(log, "hook 10-stubborn timed out after 0.5 s; sending SIGTERM"));
	assert_non_null(strstr(log, "sending SIGKILL"));
	assert_non_null(strstr(log, "hook 10-stubborn failed: timed out, ended by SIGKILL"));
	free(log);
}

/* What a hook leaves in its group dies with it; what left the group
 * cannot hold the batch up by keeping the output pipe open. */
static void test_leftovers(void **state)
{
	uint64_t t0;
	pid_t bg;
	char *log;

	(void)state;
	hook("10-bg", 0755,
	    "sleep 60 &\n"
	    "echo $! > @W/bg\n"
	    "setsid sleep 3 &\n"
	    "echo done\n");
	t0 = now_ms();
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	log = capture_end();
	assert_true(now_ms() - t0 < 1500);
	assert_true(done_ok);
	bg = trace_pid("bg");
	for (uint64_t end = now_ms() + 1000; now_ms() < end && !process_gone(bg);)
		usleep(10000);
	assert_true(process_gone(bg));
	assert_non_null(strstr(log, "<6>hook 10-bg: done\n"));
	free(log);
}

static void test_output(void **state)
{
	char want[CHILD_LINE_MAX + 64], *log;

	(void)state;
	hook("10-out", 0755,
	    "echo 'hello out'\n"
	    "echo 'hello err' >&2\n"
	    "printf 'a\\033[31mred\\r\\n'\n"
	    "head -c 3000 /dev/zero | tr '\\0' x; echo\n"
	    "echo 'after long'\n"
	    "printf 'tail without newline'\n");
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	log = capture_end();
	assert_true(done_ok);
	assert_non_null(strstr(log, "<6>hook 10-out: hello out\n"));
	assert_non_null(strstr(log, "<4>hook 10-out: hello err\n"));
	assert_non_null(strstr(log, "<6>hook 10-out: a?[31mred\n"));
	memset(want, 0, sizeof(want));
	strcpy(want, "<6>hook 10-out: ");
	memset(want + strlen(want), 'x', CHILD_LINE_MAX);
	strcat(want, " [truncated]\n");
	assert_non_null(strstr(log, want));
	assert_non_null(strstr(log, "<6>hook 10-out: after long\n"));
	assert_non_null(strstr(log, "<6>hook 10-out: tail without newline\n"));
	free(log);
}

static void test_flood(void **state)
{
	long before, after;
	uint64_t t0;
	char *log;

	(void)state;
	hooks_configure(dir, 20.0);
	hook("10-flood", 0755, "yes | head -c 50000000");
	hook("20-longline", 0755, "head -c 50000000 /dev/zero | tr '\\0' x");
	before = rss_kib();
	t0 = now_ms();
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 25000);
	after = rss_kib();
	log = capture_end();
	print_message("flood: %llu ms, rss %ld -> %ld KiB\n",
	    (unsigned long long)(now_ms() - t0), before, after);
	assert_true(done_ok);
	assert_true(after - before < 4096);
	assert_non_null(strstr(log, "<6>hook 10-flood: y\n"));
	assert_non_null(strstr(log, "lines of output suppressed"));
	assert_non_null(strstr(log, " [truncated]\n"));
	assert_true(strlen(log) < 4 * 1024 * 1024);
	free(log);
}

static void test_failures(void **state)
{
	char path[PATH_MAX * 2], *rec, *log;

	(void)state;
	hook("10-fail", 0755, "exit 3");
	snprintf(path, sizeof(path), "%s/20-badinterp", dir);
	write_file(path, 0755, "#!/nonexistent/interpreter\n");
	hook("30-sig", 0755, "kill -KILL $$");
	hook("40-ok", 0755, "echo 40-ok >> @W/rec");
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	log = capture_end();
	assert_false(done_ok);
	rec = trace("rec");
	assert_string_equal(rec, "40-ok\n");
	free(rec);
	assert_non_null(strstr(log, "hook 10-fail failed: exit status 3"));
	assert_non_null(strstr(log, "<4>hook 20-badinterp: cannot execute: "));
	assert_non_null(strstr(log, "hook 20-badinterp failed: exit status 127"));
	assert_non_null(strstr(log, "hook 30-sig failed: killed by SIGKILL"));
	assert_non_null(strstr(log, "hooks for leader failed"));
	free(log);
}

/* The done callback may start the next transition itself. */
static void test_transition_from_callback(void **state)
{
	char *rec, *log;

	(void)state;
	hook("10-x", 0755,
	    "echo \"$1\" >> @W/rec\n"
	    "[ \"$1\" != leader ]\n");
	resign_on_failure = true;
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(2, 5000);
	resign_on_failure = false;
	log = capture_end();
	assert_int_equal(done_count, 2);
	assert_int_equal(done_role, ROLE_NOT_MEMBER);
	assert_true(done_ok);
	rec = trace("rec");
	assert_string_equal(rec, "leader\nnot_member\n");
	free(rec);
	free(log);
}

static void test_abort(void **state)
{
	uint64_t t0;
	char *rec, *log;

	(void)state;
	hook("10-a", 0755, SLEEPER);
	hook("20-b", 0755, "echo \"20 $1\" >> @W/rec");
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	wait_trace("rec", "10 leader\n", 5000);
	t0 = now_ms();
	hooks_abort();
	assert_true(hooks_busy());      /* still alive until reaped */
	assert_true(run_until(idle, NULL, 5000));
	assert_true(now_ms() - t0 < 1500);
	/* A pending batch is dropped without running. */
	transition(ROLE_FOLLOWER, ROLE_LEADER);
	hooks_abort();
	assert_false(hooks_busy());
	for (int i = 0; i < 5; i++)
		loop_run_once(10);
	log = capture_end();
	assert_int_equal(done_count, 0);
	rec = trace("rec");
	assert_string_equal(rec, "10 leader\n");
	free(rec);
	free(log);
}

static void test_max_hooks(void **state)
{
	char name[16], *rec, *log, want[HOOKS_MAX * 6 + 1], *w = want;

	(void)state;
	for (int i = 0; i < HOOKS_MAX + 44; i++) {
		snprintf(name, sizeof(name), "h%03d", i);
		hook(name, 0755, "echo ${0##*/} >> @W/rec");
		if (i < HOOKS_MAX)
			w += sprintf(w, "h%03d\n", i);
	}
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 20000);
	log = capture_end();
	assert_false(done_ok);
	rec = trace("rec");
	assert_string_equal(rec, want);
	free(rec);
	assert_non_null(strstr(log, "44 hooks beyond the first 256 ignored"));
	free(log);
}

/* 200 runs, some superseded: nothing may be left behind. */
static void test_no_leaks(void **state)
{
	int fds_before, fds_after, batches = 0, runs = 0;
	char *log;

	(void)state;
	hook("10-echo", 0755, "echo \"$1\"");
	hook("20-fail", 0755, "[ \"$1\" = leader ] || exit 1");
	hook("30-bg", 0755, "sleep 30 &");
	hook("40-err", 0755, "echo oops >&2");
	fds_before = count_fds();
	for (int i = 0; runs < 200; i++) {
		enum km_role r = i % 2 ? ROLE_LEADER : ROLE_FOLLOWER;

		transition(r, r == ROLE_LEADER ? ROLE_FOLLOWER : ROLE_LEADER);
		if (i % 10 == 9) {
			/* Let one hook start, then supersede it. */
			loop_run_once(0);
			transition(ROLE_NOT_MEMBER, r);
			runs += 1;
		}
		run_batches(++batches, 5000);
		runs += 4;
	}
	log = capture_end();
	free(log);
	fds_after = count_fds();
	assert_int_equal(fds_after, fds_before);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_false(hooks_busy());
}

/* The shipped examples run as they are (50-systemd-unit has no unit set,
 * so it does nothing). Found from this file's path, as make runs it. */
static void test_examples(void **state)
{
	char examples[PATH_MAX], *slash, *log;
	struct stat st;

	(void)state;
	snprintf(examples, sizeof(examples), "%s", __FILE__);
	if ((slash = strstr(examples, "tests/unit/")) != NULL)
		strcpy(slash, "etc/hooks.d");
	if (slash == NULL || stat(examples, &st) < 0 || (st.st_mode & 022)) {
		free(capture_end());
		skip();
	}
	hooks_configure(examples, 5.0);
	transition(ROLE_LEADER, ROLE_FOLLOWER);
	run_batches(1, 5000);
	log = capture_end();
	assert_true(done_ok);
	assert_non_null(strstr(log,
	    "<6>hook 10-log: akem: follower -> leader (leader node a=b, term 1234)\n"));
	assert_non_null(strstr(log, "hook 50-systemd-unit succeeded"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_argv_and_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_skipped_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supersede_latest_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transition_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_leaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_examples, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, testing_group_teardown);
}
