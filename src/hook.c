/*
 * hook.c - run-parts style role-change hooks (DESIGN 3).
 *
 * This file owns which hooks run and when: discovering the scripts,
 * checking their modes, running them one at a time through the child
 * runner (child.c, which owns the processes, their output and their
 * timeout), superseding a batch when the role changes again, and telling
 * the caller how a batch ended. Nothing here blocks: each step runs from
 * a loop timer or the runner's exit callback.
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
 *    can choose; `exec 2>&1` makes everything info. Each hook run has its
 *    own budget of output lines (child.h).
 *  - A timed-out or superseded hook's group gets SIGTERM, then SIGKILL
 *    HOOK_KILL_DELAY_MS later.
 *  - When a hook's main process exits, whatever is left of its process
 *    group is SIGKILLed. A hook that wants something to outlive it must
 *    hand it to a service manager (systemctl) or leave the group itself.
 */
#include "hook.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "child.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "util.h"

#define HOOK_PATH_ENV "PATH=" PROC_SAFE_PATH
#define HOOK_DEFAULT_TIMEOUT 10.0
#define HOOK_MAX_TIMEOUT 86400.0
#define HOOK_ENV_COUNT 9

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
static struct child runner;
static char running_hook[NAME_MAX + 1];  /* name of what runner runs */

static void step(void *ud);

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
		goto unreadable;
	}
	if (fstat(fd, &st) < 0)
		goto unreadable;
	if ((why = mode_refused(&st, buf, sizeof(buf))) != NULL) {
		log_err("hooks directory %s refused: %s; no hooks run",
		    b->dir, why);
		b->ok = false;
		close(fd);
		return;
	}
	if ((d = fdopendir(fd)) == NULL)
		goto unreadable;
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
	return;

unreadable:
	log_err("hooks directory %s: %s; no hooks run", b->dir, strerror(errno));
	b->ok = false;
	if (fd >= 0)
		close(fd);
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
	b->envp[i++] = env_entry("KINGSMOOT_REASON", env->reason ? env->reason : "");
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

/* Running one hook. */

static const char *signame(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

static void report_exit(const struct child_exit *how)
{
	const char *name = running_hook;
	double secs = (double)how->ran_ms / 1000.0;
	int status = how->status;
	bool failed = true;

	if (!how->status_known)
		log_warnx("hook %s: exit status lost (reaped elsewhere?)", name);
	else if (current == NULL)
		log_info("hook %s interrupted (%.2f s)", name, secs);
	else if (how->timed_out && WIFSIGNALED(status))
		log_warnx("hook %s failed: timed out, ended by SIG%s (%.2f s)",
		    name, signame(WTERMSIG(status)), secs);
	else if (how->timed_out)
		log_warnx("hook %s failed: timed out, exit status %d (%.2f s)",
		    name, WEXITSTATUS(status), secs);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("hook %s succeeded (%.2f s)", name, secs);
		failed = false;
	} else if (WIFEXITED(status))
		log_warnx("hook %s failed: exit status %d%s (%.2f s)", name,
		    WEXITSTATUS(status), WEXITSTATUS(status) == 127 ?
		    ", not found or not executable" : "", secs);
	else if (WIFSIGNALED(status))
		log_warnx("hook %s failed: killed by SIG%s%s (%.2f s)", name,
		    signame(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "", secs);
	if (failed && current != NULL)
		current->ok = false;
	if (current != NULL)
		metrics_count_hook(current->role, !failed);
}

static void hook_exited(const struct child_exit *how, void *ud)
{
	report_exit(how);
	loop_timer_arm_in(&kick_timer, 0);
}

/* Return 0 when the hook started, 1 when it was skipped, -errno when it
 * could not be run (a failure of the batch). */
static int hook_start(const struct batch *b, const char *name)
{
	char path[PATH_MAX], buf[80], log_name[CHILD_NAME_MAX];
	const char *why;
	struct stat st;
	char *argv[4];
	int e;

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
	snprintf(log_name, sizeof(log_name), "hook %s", name);
	e = child_start(&runner, &(struct child_spec){
		.path = path,
		.argv = argv,
		.envp = b->envp,
		.name = log_name,
		.stdout_level = CHILD_LINE_INFO,
		.stderr_level = CHILD_LINE_WARNING,
		.timeout_ms = cfg_timeout_ms,
		.kill_delay_ms = HOOK_KILL_DELAY_MS,
	});
	if (e < 0) {
		log_err("hook %s: cannot start: %s", path, strerror(-e));
		return e;
	}
	snprintf(running_hook, sizeof(running_hook), "%s", name);
	return 0;
}

/* Scheduling. Everything that forks or calls done_cb runs from here, a
 * timer callback, so neither can happen inside hooks_transition(). */
static void step(void *ud)
{
	struct batch *b;
	enum km_role role;
	bool ok;

	(void)ud;
	while (!child_running(&runner)) {
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
	child_init(&runner, hook_exited, NULL);
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
		if (child_running(&runner) || current->next < current->n)
			log_info("hooks for %s interrupted: role is now %s",
			    role_name(current->role), role_name(b->role));
		batch_free(current);
		current = NULL;
	}
	pending = b;
	child_terminate(&runner);
	/* With a process alive, its exit kicks the next step. */
	if (!child_running(&runner))
		loop_timer_arm_in(&kick_timer, 0);
}

bool hooks_busy(void)
{
	return child_running(&runner) || current != NULL || pending != NULL;
}

void hooks_abort(void)
{
	if (pending != NULL || current != NULL || child_running(&runner))
		log_info("hooks aborted");
	batch_free(pending);
	batch_free(current);
	pending = current = NULL;
	loop_timer_disarm(&kick_timer);
	child_terminate(&runner);
}
