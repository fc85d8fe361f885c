/*
 * kingsmootd.c - command line, start-up order, signals and the main loop.
 *
 * Start-up publishes not_member before anything else, so a file left by a
 * dead predecessor never keeps claiming leadership. Signals arrive through
 * a signalfd and are handled like any other event.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <curl/curl.h>

#include "config.h"
#include "elect.h"
#include "etcd.h"
#include "health.h"
#include "hook.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "state.h"
#include "util.h"

#ifndef KM_VERSION
#define KM_VERSION "0.1.0"
#endif

#define EXIT_USAGE 64
#define EXIT_CONFIG 78
/* After the stop sequence, how long stray hooks get to die. */
#define EXIT_HOOK_GRACE_MS 3000

static struct config_overrides overrides;
static struct config *config;
static struct config *pending_config;  /* waits for the old session to end */
static bool exiting;
static int exit_status;
static bool stopping;

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: kingsmootd [-c FILE] [-s SERVICE] [-i NODE] [-e URL[,URL...]]\n"
	    "                  [-S STATE_FILE] [-H HOOKS_DIR] [-t TTL] [-v]... [-n]\n"
	    "                  [--cleanup] [-V] [-h]\n");
}

static void write_not_member(const struct config *cfg, pid_t pid,
    enum km_reason reason)
{
	struct state st;
	int r;

	memset(&st, 0, sizeof(st));
	st.role = ROLE_NOT_MEMBER;
	snprintf(st.service, sizeof(st.service), "%s", cfg->service);
	snprintf(st.node, sizeof(st.node), "%s", cfg->node);
	st.since = now_unix();
	st.pid = pid;
	st.reason = reason;
	r = state_write(cfg->state_file, &st);
	if (r < 0)
		log_err("cannot write state file %s: %s", cfg->state_file, strerror(-r));
}

static void hooks_finished(enum km_role role, bool ok, void *ud)
{
	elect_hooks_done(role, ok);
}

static void health_changed(bool healthy, void *ud)
{
	elect_set_check_passing(healthy);
}

static void stopped(void *ud)
{
	exiting = true;
}

static void session_restart(void *ud)
{
	struct config *old = config;

	elect_free();
	etcd_shutdown();
	config = pending_config;
	pending_config = NULL;
	config_free(old);
	free(old);
	hooks_configure(config->hooks_dir, config->hooks_timeout);
	if (etcd_init(config) < 0) {
		log_err("cannot set up the etcd client");
		exit_status = 1;
		exiting = true;
		return;
	}
	elect_start(config);
	health_configure(config);
	if (health_passing())
		elect_set_check_passing(true);
	notify_reloaded();
}

static void reload(void)
{
	struct config *next = xcalloc(1, sizeof(*next));
	char err[1024];

	if (stopping || pending_config) {
		log_warnx("SIGHUP ignored: a stop or a reload is in progress");
		free(next);
		return;
	}
	notify_reloading();
	if (config_load(&overrides, next, err, sizeof(err)) < 0) {
		log_err("reload refused, keeping the running configuration: %s", err);
		free(next);
		/* kingsmootctl pause/resume must not depend on a clean file. */
		elect_set_paused(state_paused(config->state_file));
		notify_reloaded();
		return;
	}
	if (config_session_changed(config, next)) {
		log_notice("configuration reloaded: the election settings changed, "
		    "resigning and campaigning again");
		pending_config = next;
		elect_stop(false, session_restart, NULL);
		return;
	}
	elect_set_config(next);
	health_configure(next);
	if (!next->health_enabled)
		elect_set_check_passing(true);
	elect_set_paused(state_paused(next->state_file));
	etcd_reconfigure(next);
	hooks_configure(next->hooks_dir, next->hooks_timeout);
	config_free(config);
	free(config);
	config = next;
	log_notice("configuration reloaded");
	notify_reloaded();
}

static void signal_ready(int fd, short revents, void *ud)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (stopping)
				break;
			log_notice("received %s, stepping down and exiting",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
			notify_stopping();
			if (pending_config) {
				/* A restart was under way: just finish it as a stop. */
				config_free(pending_config);
				free(pending_config);
				pending_config = NULL;
			}
			elect_stop(true, stopped, NULL);
			break;
		case SIGUSR1:
			elect_resign(REASON_RESIGNED, "SIGUSR1");
			break;
		case SIGHUP:
			reload();
			break;
		default:
			break;
		}
	}
}

/* Blocked before the first state write: from the moment the file names
 * our PID, kingsmootctl may signal us, and the default action of SIGUSR1
 * or SIGHUP would kill us. They wait for the signalfd. */
static int block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int open_signalfd(const sigset_t *mask)
{
	int fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

static void cleanup_hooks_done(enum km_role role, bool ok, void *ud)
{
}

/* ExecStopPost=: never leave leader or follower behind a dead daemon. */
/*
 * A leader or follower left behind, or a not_member whose demotion may not
 * have finished its hooks (any reason the daemon writes while it runs),
 * gets the not_member hooks. Only "stopped" (a clean exit), "cleanup" (us,
 * before) and files without a REASON (older versions) are left alone.
 */
static bool needs_cleanup(const struct state *old)
{
	if (old->role == ROLE_LEADER || old->role == ROLE_FOLLOWER)
		return true;
	return old->role == ROLE_NOT_MEMBER && old->reason != REASON_NONE &&
	    old->reason != REASON_STOPPED && old->reason != REASON_CLEANUP;
}

static int run_cleanup(const struct config *cfg)
{
	struct state old;
	struct hook_env env;
	int r;

	r = state_read(cfg->state_file, &old);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		log_warnx("%s is unreadable (%s); rewriting it as not_member",
		    cfg->state_file, strerror(-r));
		write_not_member(cfg, 0, REASON_CLEANUP);
		return 0;
	}
	if (!needs_cleanup(&old))
		return 0;
	if (old.role == ROLE_NOT_MEMBER)
		log_notice("%s says not_member (%s) but the daemon is gone: its "
		    "not_member hooks may not have finished; running them",
		    cfg->state_file, reason_name(old.reason));
	else
		log_notice("%s still says %s; rewriting it as not_member",
		    cfg->state_file, role_name(old.role));
	write_not_member(cfg, 0, REASON_CLEANUP);

	/* The loop runs without libcurl here: hooks only. */
	hooks_init(cleanup_hooks_done, NULL);
	hooks_configure(cfg->hooks_dir, cfg->hooks_timeout);
	env = (struct hook_env){
		.role = ROLE_NOT_MEMBER, .previous_role = old.role,
		.service = cfg->service, .node = cfg->node, .leader = "",
		.term = 0, .state_file = cfg->state_file,
		.reason = reason_name(REASON_CLEANUP),
	};
	hooks_transition(&env);
	/* Every hook is bounded by hooks.timeout and the SIGKILL after it. */
	while (hooks_busy())
		loop_run_once(100);
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'i' },
		{ "endpoints", required_argument, NULL, 'e' },
		{ "state-file", required_argument, NULL, 'S' },
		{ "hooks-dir", required_argument, NULL, 'H' },
		{ "ttl", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, 'n' },
		{ "cleanup", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool check_only = false, cleanup = false;
	int verbosity = 0, ch, sigfd, r;
	char err[1024];
	sigset_t mask;
	uint64_t until;

	while ((ch = getopt_long(argc, argv, "c:s:i:e:S:H:t:vnVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': overrides.config_path = optarg; break;
		case 's': overrides.service = optarg; break;
		case 'i': overrides.node = optarg; break;
		case 'e': overrides.endpoints = optarg; break;
		case 'S': overrides.state_file = optarg; break;
		case 'H': overrides.hooks_dir = optarg; break;
		case 't': overrides.ttl = optarg; break;
		case 'v': verbosity++; break;
		case 'n': check_only = true; break;
		case 'C': cleanup = true; break;
		case 'V':
			printf("kingsmootd %s\n", KM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "kingsmootd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init(verbosity);

	config = xcalloc(1, sizeof(*config));
	if (config_load(&overrides, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_CONFIG;
	}
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal(1, "cannot initialise libcurl");
	if (cleanup)
		return run_cleanup(config);

	r = block_signals(&mask);
	if (r < 0)
		fatal(1, "cannot block signals: %s", strerror(-r));
	/* Before anything can fail or block: a stale leader file must go. */
	write_not_member(config, getpid(), REASON_STARTING);

	sigfd = open_signalfd(&mask);
	if (sigfd < 0)
		fatal(1, "cannot set up signals: %s", strerror(-sigfd));
	if (etcd_init(config) < 0)
		fatal(1, "cannot set up the etcd client");
	if (hooks_init(hooks_finished, NULL) < 0)
		fatal(1, "cannot set up hooks");
	hooks_configure(config->hooks_dir, config->hooks_timeout);
	loop_add_fd(sigfd, POLLIN, signal_ready, NULL);
	notify_init(elect_session_alive);
	health_init(health_changed, NULL);
	elect_start(config);
	health_configure(config);

	while (!exiting)
		loop_run_once(60000);

	/* The stop sequence waited for the not_member hooks; anything still
	 * running belongs to a superseded batch. */
	health_stop();
	if (hooks_busy())
		hooks_abort();
	until = now_ms() + EXIT_HOOK_GRACE_MS;
	while (hooks_busy() && now_ms() < until)
		loop_run_once(100);
	elect_free();
	etcd_shutdown();
	config_free(config);
	free(config);
	curl_global_cleanup();
	log_info("exiting");
	return exit_status;
}
