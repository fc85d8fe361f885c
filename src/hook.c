/*
 * hook.c - run-parts style role-change hooks (DESIGN 3).
 *
 * This file owns every hook process: discovering the scripts, checking
 * their modes, forking and executing them one at a time, logging their
 * output, enforcing the per-hook timeout, superseding a batch when the
 * role changes again, and reaping. Nothing here blocks: process exit is
 * learned from a pidfd, output from non-blocking pipes, and deadlines
 * from loop timers.
 *
 * Decisions worth knowing:
 *  - Symbolic links in the hooks directory are followed, like run-parts,
 *    and the target is what gets checked. A link to /dev/null is not a
 *    regular file, so it masks a packaged hook of the same name.
 *  - A file without an execute bit is skipped quietly: chmod -x is the
 *    run-parts way to disable a hook. A file that fails the strict-mode
 *    check is refused and makes the batch fail, because an administrator
 *    who put it there meant it to run. A refused or unreadable directory
 *    fails the whole batch for the same reason; a missing one is simply
 *    "no hooks".
 *  - Hooks get no PR_SET_PDEATHSIG. Killing a hook half-way through a
 *    promotion or demotion because the daemon crashed leaves the service
 *    in a worse state than letting it finish; under systemd the unit's
 *    cgroup is killed anyway before ExecStopPost= runs the not_member
 *    hooks, and outside systemd the hook is bounded by its own behaviour.
 *  - stdout lines are logged at info, stderr lines at warning, so a hook
 *    can choose; `exec 2>&1` makes everything info.
 *  - Lines longer than HOOK_LINE_MAX are logged cut, with " [truncated]",
 *    and the rest of the line is dropped. A hook run may log at most
 *    HOOK_LOG_BURST lines per HOOK_LOG_INTERVAL_MS; the rest is counted
 *    and reported, so a flooding hook can neither grow our memory nor
 *    push the daemon's own messages out of journald's rate limit.
 *  - When a hook's main process exits, whatever is left of its process
 *    group is SIGKILLed. A hook that wants something to outlive it must
 *    hand it to a service manager (systemctl) or leave the group itself.
 */
#include "hook.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "log.h"
#include "loop.h"
#include "proc.h"
#include "util.h"

#define HOOK_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define HOOK_DEFAULT_TIMEOUT 10.0
#define HOOK_MAX_TIMEOUT 86400.0
/* Bytes read per wake-up, so one chatty hook cannot starve keepalives. */
#define HOOK_READ_CHUNK 65536
#define HOOK_READS_PER_WAKEUP 4
/* What is read from a pipe once its writer is dead: a pipe holds 64 KiB
 * unless the hook enlarged it; more than this is not worth waiting for. */
#define HOOK_DRAIN_MAX (1024 * 1024)

enum run_state {
	RUN_ACTIVE,     /* running within its timeout */
	RUN_TERM,       /* SIGTERM sent, SIGKILL when kill_timer fires */
	RUN_KILL,       /* SIGKILL sent, waiting for the exit */
};

struct hook_stream {
	int fd;                 /* read end, -1 once closed */
	bool is_err;
	bool discarding;        /* rest of an over-long line is being dropped */
	size_t len;
	char line[HOOK_LINE_MAX];
};

/* The one hook process that may exist at any time. */
struct hook_run {
	pid_t pid;              /* 0 when nothing runs */
	struct proc_exit_watch exit_watch;
	enum run_state state;
	bool timed_out;
	uint64_t started_ms;
	uint64_t timeout_ms;
	char name[NAME_MAX + 1];
	struct hook_stream out, err;
	struct loop_timer kill_timer;   /* timeout, then SIGTERM -> SIGKILL */
	/* Output rate limit. */
	uint64_t now_ms;
	uint64_t window_ms;
	unsigned long logged;
	unsigned long suppressed;
};

#define HOOK_ENV_COUNT 8

struct batch {
	enum km_role role;
	enum km_role previous;
	char *envp[HOOK_ENV_COUNT + 1];
	char *dir;              /* NULL: no hooks */
	bool loaded;            /* directory read */
	bool ok;
	size_t n, next;
	char *names[HOOKS_MAX];
};

static hook_batch_done_cb done_cb;
static void *done_ud;
static char *cfg_dir;
static uint64_t cfg_timeout_ms = 10000;

/* current: the batch whose hook runs or is about to; pending: the latest
 * transition, waiting for the running process to go away. A superseded
 * batch is freed at once, so a hook reaped while current is NULL was
 * interrupted. */
static struct batch *current;
static struct batch *pending;
static struct loop_timer kick_timer;
static struct hook_run run = { .out = { .fd = -1 },
    .err = { .fd = -1, .is_err = true } };

static void step(void *ud);

static void report_suppressed(void)
{
	if (run.suppressed > 0)
		log_warnx("hook %s: %lu lines of output suppressed", run.name,
		    run.suppressed);
	run.suppressed = 0;
}

/* Discovery. */

static bool name_char_ok(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_')
		return true;
	return !first && (c == '.' || c == '-');
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Return NULL when name may be a hook, else why it is skipped. Checked
 * by hand rather than with regcomp(), whose classes follow the locale. */
static const char *hook_name_refused(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NAME_MAX)
		return "bad length";
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i], i == 0))
			return "name has characters outside [A-Za-z0-9_.-]";
	/* "~" cannot pass the loop above; kept to say the rule is meant. */
	if (name[len - 1] == '~')
		return "backup file";
	if (strstr(name, ".dpkg-") != NULL)
		return "dpkg leftover";
	if (has_suffix(name, len, ".rpmsave") || has_suffix(name, len, ".rpmnew"))
		return "rpm leftover";
	return NULL;
}

/* The strict-mode rule, shared by the directory and the files. */
static const char *mode_refused(const struct stat *st, char *buf, size_t len)
{
	if (st->st_mode & S_IWOTH)
		return "writable by others";
	if (st->st_mode & S_IWGRP)
		return "writable by its group";
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(buf, len, "owned by uid %lu, not root or uid %lu",
		    (unsigned long)st->st_uid, (unsigned long)geteuid());
		return buf;
	}
	return NULL;
}

/* Return 0 for an executable regular file (st filled in), 1 for anything
 * else, which is skipped, or -errno. Links are followed. */
static int hook_file_kind(int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, 0) < 0)
		return errno == ENOENT ? 1 : -errno;
	if (!S_ISREG(st->st_mode) ||
	    faccessat(dirfd, name, X_OK, AT_EACCESS) < 0)
		return 1;
	return 0;
}

/* Keep the HOOKS_MAX lexically smallest names, sorted, whatever order
 * readdir() gives: the hooks that run are then the first ones ls shows. */
static void insert_name(struct batch *b, const char *name)
{
	size_t i;

	if (b->n == HOOKS_MAX) {
		if (strcmp(name, b->names[HOOKS_MAX - 1]) >= 0)
			return;
		free(b->names[--b->n]);
	}
	for (i = b->n; i > 0 && strcmp(name, b->names[i - 1]) < 0; i--)
		b->names[i] = b->names[i - 1];
	b->names[i] = xstrdup(name);
	b->n++;
}

static void batch_load(struct batch *b)
{
	unsigned long dropped = 0;
	const char *why;
	struct dirent *de;
	struct stat st;
	char buf[80];
	DIR *d;
	int fd;

	b->loaded = true;
	if (b->dir == NULL)
		return;
	fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			log_debug("hooks directory %s does not exist: no hooks",
			    b->dir);
			return;
		}
		log_err("hooks directory %s: %s; no hooks run", b->dir,
		    strerror(errno));
		b->ok = false;
		return;
	}
	if (fstat(fd, &st) < 0) {
		log_err("hooks directory %s: %s; no hooks run", b->dir,
		    strerror(errno));
		b->ok = false;
		close(fd);
		return;
	}
	if ((why = mode_refused(&st, buf, sizeof(buf))) != NULL) {
		log_err("hooks directory %s refused: %s; no hooks run",
		    b->dir, why);
		b->ok = false;
		close(fd);
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		log_err("hooks directory %s: %s; no hooks run", b->dir,
		    strerror(errno));
		b->ok = false;
		close(fd);
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((why = hook_name_refused(de->d_name)) != NULL) {
			log_debug("hook %s skipped: %s", de->d_name, why);
			continue;
		}
		if (hook_file_kind(dirfd(d), de->d_name, &st) != 0) {
			log_debug("hook %s skipped: not an executable file",
			    de->d_name);
			continue;
		}
		if (b->n == HOOKS_MAX)
			dropped++;
		insert_name(b, de->d_name);
	}
	if (errno != 0) {
		log_err("hooks directory %s: readdir: %s", b->dir,
		    strerror(errno));
		b->ok = false;
	}
	closedir(d);
	if (dropped > 0) {
		log_err("hooks directory %s: %lu hooks beyond the first %d "
		    "ignored", b->dir, dropped, HOOKS_MAX);
		b->ok = false;
	}
}

/* Batches. */

static char *env_entry(const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = value ? strlen(value) : 0;
	char *s;

	if (vlen > HOOK_MAX_VALUE) {
		log_warnx("hooks: %s is %zu bytes long; passing the first %d",
		    key, vlen, HOOK_MAX_VALUE);
		vlen = HOOK_MAX_VALUE;
	}
	s = xcalloc(klen + vlen + 2, 1);
	memcpy(s, key, klen);
	s[klen] = '=';
	if (vlen > 0)
		memcpy(s + klen + 1, value, vlen);
	return s;
}

static struct batch *batch_new(const struct hook_env *env)
{
	struct batch *b = xcalloc(1, sizeof(*b));
	char term[24];
	size_t i = 0;

	b->role = env->role;
	b->previous = env->previous_role;
	b->ok = true;
	b->dir = cfg_dir ? xstrdup(cfg_dir) : NULL;
	snprintf(term, sizeof(term), "%lld", (long long)env->term);
	b->envp[i++] = xstrdup(HOOK_PATH_ENV);
	b->envp[i++] = env_entry("KINGSMOOT_ROLE", role_name(env->role));
	b->envp[i++] = env_entry("KINGSMOOT_PREVIOUS_ROLE",
	    role_name(env->previous_role));
	b->envp[i++] = env_entry("KINGSMOOT_SERVICE", env->service);
	b->envp[i++] = env_entry("KINGSMOOT_NODE", env->node);
	b->envp[i++] = env_entry("KINGSMOOT_LEADER", env->leader);
	b->envp[i++] = env_entry("KINGSMOOT_TERM", term);
	b->envp[i++] = env_entry("KINGSMOOT_STATE_FILE", env->state_file);
	b->envp[i] = NULL;
	return b;
}

static void batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; b->envp[i] != NULL; i++)
		free(b->envp[i]);
	for (size_t i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->dir);
	free(b);
}

/* Output. */

/* Called once per read, not per line: a flood is millions of lines. */
static void note_time(void)
{
	run.now_ms = now_ms();
}

/* Log at most HOOK_LOG_BURST lines per HOOK_LOG_INTERVAL_MS and count the
 * rest, like journald's own limit, but per hook run so that the daemon's
 * messages keep their share of journald's. */
static void emit_line(const char *text, size_t len, bool is_err, bool cut)
{
	char clean[HOOK_LINE_MAX + 1];

	if (run.now_ms - run.window_ms >= HOOK_LOG_INTERVAL_MS) {
		report_suppressed();
		run.window_ms = run.now_ms;
		run.logged = 0;
	}
	if (run.logged >= HOOK_LOG_BURST) {
		run.suppressed++;
		return;
	}
	run.logged++;

	if (len > 0 && text[len - 1] == '\r')
		len--;
	/* Keep terminal escapes and NULs out of the journal. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		clean[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	clean[len] = '\0';
	if (is_err)
		log_warnx("hook %s: %s%s", run.name, clean, cut ? " [truncated]" : "");
	else
		log_info("hook %s: %s%s", run.name, clean, cut ? " [truncated]" : "");
}

static void stream_feed(struct hook_stream *s, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n, room, take;

		if (!s->discarding) {
			room = sizeof(s->line) - s->len;
			take = seg < room ? seg : room;
			memcpy(s->line + s->len, p, take);
			s->len += take;
			if (take < seg) {
				/* Log now: the line may never end. */
				emit_line(s->line, s->len, s->is_err, true);
				s->len = 0;
				s->discarding = true;
			}
		}
		if (nl == NULL)
			return;
		if (!s->discarding)
			emit_line(s->line, s->len, s->is_err, false);
		s->len = 0;
		s->discarding = false;
		p = nl + 1;
		n -= seg + 1;
	}
}

static void stream_close(struct hook_stream *s)
{
	if (s->fd < 0)
		return;
	if (s->len > 0 && !s->discarding) {
		note_time();
		emit_line(s->line, s->len, s->is_err, false);
	}
	s->len = 0;
	s->discarding = false;
	loop_del_fd(s->fd);
	close(s->fd);
	s->fd = -1;
}

/* Read up to max bytes; return true when the stream reached its end. */
static bool stream_read(struct hook_stream *s, size_t max)
{
	static char chunk[HOOK_READ_CHUNK];
	size_t total = 0;
	ssize_t r;

	while (total < max) {
		r = read(s->fd, chunk, sizeof(chunk));
		if (r > 0) {
			note_time();
			stream_feed(s, chunk, (size_t)r);
			total += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (r < 0)
			log_warn("hook %s: read", run.name);
		return true;
	}
	return false;
}

static void on_stream(int fd, short revents, void *ud)
{
	struct hook_stream *s = ud;

	(void)revents;
	/* Whatever revents says, read until EAGAIN: POLLHUP may come with
	 * data still in the pipe. */
	if (s->fd == fd &&
	    stream_read(s, (size_t)HOOK_READ_CHUNK * HOOK_READS_PER_WAKEUP))
		stream_close(s);
}

/* Processes. */

static void signal_group(int sig)
{
	/* The group id is the hook's pid, which stays ours until we reap. */
	if (kill(-run.pid, sig) < 0 && errno != ESRCH)
		log_warn("hook %s: kill(-%ld, %d)", run.name, (long)run.pid, sig);
}

static void terminate(void)
{
	if (run.pid == 0 || run.state != RUN_ACTIVE)
		return;
	signal_group(SIGTERM);
	/* A stopped process would hold the SIGTERM until the SIGKILL. */
	signal_group(SIGCONT);
	run.state = RUN_TERM;
	loop_timer_arm_in(&run.kill_timer, HOOK_KILL_DELAY_MS);
}

static void on_kill_timer(void *ud)
{
	(void)ud;
	if (run.pid == 0)
		return;
	if (run.state == RUN_ACTIVE) {
		log_warnx("hook %s timed out after %.1f s; sending SIGTERM",
		    run.name, (double)run.timeout_ms / 1000.0);
		run.timed_out = true;
		terminate();
	} else if (run.state == RUN_TERM) {
		log_warnx("hook %s still running %d ms after SIGTERM; "
		    "sending SIGKILL", run.name, HOOK_KILL_DELAY_MS);
		signal_group(SIGKILL);
		run.state = RUN_KILL;
	}
}

static const char *signame(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

static void report_exit(int status, bool status_known)
{
	double secs = (double)(now_ms() - run.started_ms) / 1000.0;
	bool failed = true;

	report_suppressed();
	if (!status_known)
		log_warnx("hook %s: exit status lost (reaped elsewhere?)",
		    run.name);
	else if (current == NULL)
		log_info("hook %s interrupted (%.2f s)",
		    run.name, secs);
	else if (run.timed_out && WIFSIGNALED(status))
		log_warnx("hook %s failed: timed out, ended by SIG%s (%.2f s)",
		    run.name, signame(WTERMSIG(status)), secs);
	else if (run.timed_out)
		log_warnx("hook %s failed: timed out, exit status %d (%.2f s)",
		    run.name, WEXITSTATUS(status), secs);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("hook %s succeeded (%.2f s)", run.name, secs);
		failed = false;
	} else if (WIFEXITED(status))
		log_warnx("hook %s failed: exit status %d%s (%.2f s)", run.name,
		    WEXITSTATUS(status), WEXITSTATUS(status) == 127 ?
		    ", not found or not executable" : "", secs);
	else if (WIFSIGNALED(status))
		log_warnx("hook %s failed: killed by SIG%s%s (%.2f s)", run.name,
		    signame(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "", secs);
	if (failed && current != NULL)
		current->ok = false;
}

/* The hook process was reaped (r = 1) or cannot be waited for. */
static void hook_exited(int r, int status, void *ud)
{
	if (r < 0 && r != -ECHILD)
		log_warnx("hook %s: waitpid: %s", run.name, strerror(-r));

	/* The writers are dead or escaped: take what is buffered and close,
	 * without waiting for an EOF an escaped grandchild may never give. */
	if (run.out.fd >= 0)
		stream_read(&run.out, HOOK_DRAIN_MAX);
	if (run.err.fd >= 0)
		stream_read(&run.err, HOOK_DRAIN_MAX);
	stream_close(&run.out);
	stream_close(&run.err);
	loop_timer_disarm(&run.kill_timer);
	report_exit(status, r == 1);
	run.pid = 0;
	loop_timer_arm_in(&kick_timer, 0);
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* A pipe whose read end, ours, is non-blocking. The write end must stay
 * blocking: O_NONBLOCK lives in the open file description, so setting it
 * through pipe2() would hand the hook a stdout that fails with EAGAIN. */
static int hook_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0) {
		p[0] = p[1] = -1;
		return -errno;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close_pair(p);
		return -e;
	}
	return 0;
}

/* Return 0 when the hook started, 1 when it was skipped, -errno when it
 * could not be run (a failure of the batch). */
static int hook_start(const struct batch *b, const char *name)
{
	char path[PATH_MAX], buf[80];
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, devnull = -1, e;
	const char *why;
	struct stat st;
	char *argv[4];
	pid_t pid;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", b->dir, name) >=
	    sizeof(path)) {
		log_err("hook %s/%s: path too long", b->dir, name);
		return -ENAMETOOLONG;
	}
	/* Checked again now, not only when the directory was read: a batch
	 * can last minutes and packages come and go. */
	if ((e = hook_file_kind(AT_FDCWD, path, &st)) < 0) {
		log_err("hook %s: %s", path, strerror(-e));
		return e;
	}
	if (e > 0) {
		log_notice("hook %s is gone or no longer executable; skipped",
		    path);
		return 1;
	}
	if ((why = mode_refused(&st, buf, sizeof(buf))) != NULL) {
		log_err("hook %s refused: %s", path, why);
		return -EPERM;
	}

	argv[0] = path;
	argv[1] = (char *)role_name(b->role);
	argv[2] = (char *)role_name(b->previous);
	argv[3] = NULL;

	if ((e = hook_pipe(out)) < 0 || (e = hook_pipe(err)) < 0)
		goto fail;
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		e = -errno;
		goto fail;
	}
	/* Registered before the fork, so that nothing can fail once a child
	 * exists except the pidfd, which has a fallback. */
	if ((e = loop_add_fd(out[0], POLLIN, on_stream, &run.out)) < 0)
		goto fail;
	if ((e = loop_add_fd(err[0], POLLIN, on_stream, &run.err)) < 0) {
		loop_del_fd(out[0]);
		goto fail;
	}

	pid = proc_spawn(path, argv, b->envp, devnull, out[1], err[1]);
	if (pid < 0) {
		e = (int)pid;
		loop_del_fd(out[0]);
		loop_del_fd(err[0]);
		goto fail;
	}
	close(devnull);
	close(out[1]);
	close(err[1]);

	memset(&run.out, 0, sizeof(run.out));
	memset(&run.err, 0, sizeof(run.err));
	run.out.fd = out[0];
	run.err.fd = err[0];
	run.err.is_err = true;
	run.pid = pid;
	run.state = RUN_ACTIVE;
	run.timed_out = false;
	run.started_ms = now_ms();
	run.timeout_ms = cfg_timeout_ms;
	run.window_ms = run.started_ms;
	run.logged = 0;
	run.suppressed = 0;
	snprintf(run.name, sizeof(run.name), "%s", name);

	proc_watch_start(&run.exit_watch, pid);
	loop_timer_arm_in(&run.kill_timer, run.timeout_ms);
	log_debug("hook %s started as pid %ld", name, (long)pid);
	return 0;

fail:
	log_err("hook %s: cannot start: %s", path, strerror(-e));
	close_pair(out);
	close_pair(err);
	if (devnull >= 0)
		close(devnull);
	return e;
}

/* Scheduling. Everything that forks or calls done_cb runs from here, a
 * timer callback, so neither can happen inside hooks_transition(). */
static void step(void *ud)
{
	struct batch *b;
	enum km_role role;
	bool ok;

	(void)ud;
	while (run.pid == 0) {
		if (current == NULL) {
			if (pending == NULL)
				return;
			current = pending;
			pending = NULL;
		}
		b = current;
		if (!b->loaded) {
			batch_load(b);
			if (b->n > 0)
				log_info("running %zu hooks for %s (was %s)",
				    b->n, role_name(b->role),
				    role_name(b->previous));
			else
				log_debug("no hooks for %s", role_name(b->role));
		}
		if (b->next < b->n) {
			if (hook_start(b, b->names[b->next++]) < 0)
				b->ok = false;
			continue;
		}
		current = NULL;
		role = b->role;
		ok = b->ok;
		batch_free(b);
		if (!ok)
			log_warnx("hooks for %s failed", role_name(role));
		/* Last, and then return: the callback may well call
		 * hooks_transition() again. */
		if (done_cb)
			done_cb(role, ok, done_ud);
		return;
	}
}

int hooks_init(hook_batch_done_cb done, void *ud)
{
	done_cb = done;
	done_ud = ud;
	loop_timer_init(&kick_timer, step, NULL);
	loop_timer_init(&run.kill_timer, on_kill_timer, NULL);
	proc_watch_init(&run.exit_watch, hook_exited, NULL);
	return 0;
}

void hooks_configure(const char *dir, double timeout)
{
	free(cfg_dir);
	cfg_dir = dir && *dir ? xstrdup(dir) : NULL;
	/* The daemon's config rejects these; still, never run unbounded. */
	if (!(timeout > 0)) {
		log_warnx("hooks: timeout %g s is not positive; using %g s",
		    timeout, HOOK_DEFAULT_TIMEOUT);
		timeout = HOOK_DEFAULT_TIMEOUT;
	} else if (timeout > HOOK_MAX_TIMEOUT) {
		timeout = HOOK_MAX_TIMEOUT;
	}
	cfg_timeout_ms = sec_to_ms(timeout);
}

void hooks_transition(const struct hook_env *env)
{
	struct batch *b = batch_new(env);

	if (pending != NULL) {
		log_info("hooks for %s skipped: superseded by %s",
		    role_name(pending->role), role_name(b->role));
		batch_free(pending);
	}
	if (current != NULL) {
		if (run.pid != 0 || current->next < current->n)
			log_info("hooks for %s interrupted: role is now %s",
			    role_name(current->role), role_name(b->role));
		batch_free(current);
		current = NULL;
	}
	pending = b;
	terminate();
	/* With a process alive, its exit kicks the next step. */
	if (run.pid == 0)
		loop_timer_arm_in(&kick_timer, 0);
}

bool hooks_busy(void)
{
	return run.pid != 0 || current != NULL || pending != NULL;
}

void hooks_abort(void)
{
	if (pending != NULL || current != NULL || run.pid != 0)
		log_info("hooks aborted");
	batch_free(pending);
	batch_free(current);
	pending = current = NULL;
	loop_timer_disarm(&kick_timer);
	terminate();
}
