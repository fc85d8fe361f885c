/*
 * kingsmootctl.c - operator's view of one election: the local state file,
 * the leader as etcd sees it, and the requests a daemon accepts (resign,
 * pause, resume).
 *
 * "exec" lives in ctl_exec.c.
 * "switchover" lives in ctl_switchover.c.
 *
 * It reads the daemon's own configuration file, so both agree on the state
 * file, service and etcd endpoints. Only "leader" talks to etcd, through
 * etcd_sync.c, which logs in and uses TLS as the daemon does, with one
 * bounded request per endpoint; it needs no daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <curl/curl.h>

#include "config.h"
#include "ctl_exec.h"
#include "ctl_stale.h"
#include "ctl_switchover.h"
#include "decide.h"
#include "etcd_sync.h"
#include "etcdproto.h"
#include "log.h"
#include "state.h"
#include "util.h"

#define EXIT_USAGE 64
#define EXIT_CONFIG 78
#define EXIT_FOLLOWER 3
#define EXIT_NOT_LEADER 4

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: kingsmootctl [-c FILE] [-S STATE_FILE] COMMAND\n"
	    "commands: status, is-leader, leader, watch, resign, pause, resume,\n"
	    "          exec [--] CMD [ARG...]\n"
	    "          switchover [--timeout S] [NODE]\n");
}

static const char *encoded(const char *value)
{
	static char buf[3 * STATE_MAX_VALUE];

	if (state_encode_value(value, buf, sizeof(buf)) < 0)
		return "?";
	return buf;
}

static void print_time(const char *label, double t, double now)
{
	char buf[64];
	time_t secs = (time_t)t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	if (t >= now)
		printf("%-12s %s.%03d UTC (in %.1f s)\n", label, buf,
		    (int)((t - (double)secs) * 1000), t - now);
	else
		printf("%-12s %s.%03d UTC (%.1f s ago)\n", label, buf,
		    (int)((t - (double)secs) * 1000), now - t);
}

static int cmd_status(const char *state_file, bool quiet)
{
	struct state st;
	double now = now_unix();
	bool stale;
	int r;

	r = state_read(state_file, &st);
	if (r < 0) {
		if (quiet)
			return 1;
		fprintf(stderr, "kingsmootctl: %s: %s\n", state_file, strerror(-r));
		return EXIT_NOT_LEADER;
	}
	stale = ctl_state_stale(&st, now);
	if (quiet)
		return st.role == ROLE_LEADER && !stale ? 0 : 1;

	printf("%-12s %s%s%s\n", "role:", role_name(st.role),
	    stale ? " (stale)" : "", state_paused(state_file) ? " (paused)" : "");
	if (st.role == ROLE_NOT_MEMBER && st.reason != REASON_NONE)
		printf("%-12s %s\n", "reason:", reason_name(st.reason));
	/* Values as the file has them: a foreign candidate's value may hold
	 * newlines, and one line per field is the format. */
	printf("%-12s %s\n", "service:", encoded(st.service));
	printf("%-12s %s\n", "node:", encoded(st.node));
	printf("%-12s %s\n", "leader:", st.leader[0] ? encoded(st.leader) : "(none)");
	printf("%-12s %" PRId64 "\n", "term:", st.term);
	print_time("since:", st.since, now);
	if (st.role == ROLE_LEADER)
		print_time("valid until:", st.valid_until, now);
	printf("%-12s %ld (%s)\n", "pid:", (long)st.pid,
	    ctl_daemon_alive(st.pid) ? "running" : "not running");
	if (stale || st.role == ROLE_NOT_MEMBER)
		return EXIT_NOT_LEADER;
	return st.role == ROLE_LEADER ? 0 : EXIT_FOLLOWER;
}

static void endpoint_failed(const char *endpoint, const char *why, void *ud)
{
	fprintf(stderr, "kingsmootctl: %s: %s\n", endpoint, why);
}

static int cmd_leader(const struct config *cfg)
{
	char prefix[1024], why[1024];
	struct etcd_sync etcd;
	struct etcd_kv *kvs = NULL;
	const struct etcd_kv *low;
	json_t *body = NULL;
	int64_t rev;
	size_t n;
	int r;

	snprintf(prefix, sizeof(prefix), "%s%s/", cfg->prefix, cfg->service);
	if (etcd_sync_init(&etcd, cfg, why, sizeof(why)) < 0) {
		fprintf(stderr, "kingsmootctl: %s\n", why);
		etcd_sync_free(&etcd);
		return 1;
	}
	etcd.endpoint_failed = endpoint_failed;
	r = etcd_sync_call(&etcd, "/v3/kv/range",
	    etcd_req_range_prefix(prefix, strlen(prefix)), &body, why, sizeof(why));
	etcd_sync_free(&etcd);
	if (r < 0) {
		fprintf(stderr, "kingsmootctl: %s\n", why);
		return 1;
	}
	r = etcd_parse_range(body, &rev, &kvs, &n);
	json_decref(body);
	if (r < 0) {
		fprintf(stderr, "kingsmootctl: malformed answer from etcd\n");
		return 1;
	}
	low = election_leader(kvs, n);
	if (low) {
		char value[3 * STATE_MAX_VALUE];
		if (state_encode_value(low->value, value, sizeof(value)) < 0)
			snprintf(value, sizeof(value), "?");
		printf("%s term=%" PRId64 " key=%s candidates=%zu\n", value,
		    low->create_revision, low->key, n);
		r = 0;
	} else {
		printf("(none)\n");
		r = EXIT_NOT_LEADER;
	}
	etcd_kvs_free(kvs, n);
	return r;
}

static void print_change(const struct state *st, bool stale)
{
	char when[64];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%03ldZ %s%s leader=%s term=%" PRId64 "%s%s\n", when,
	    ts.tv_nsec / 1000000, role_name(st->role), stale ? " (stale)" : "",
	    st->leader[0] ? encoded(st->leader) : "-", st->term,
	    st->role == ROLE_NOT_MEMBER && st->reason != REASON_NONE ?
	    " reason=" : "", st->role == ROLE_NOT_MEMBER ?
	    reason_name(st->reason) : "");
	fflush(stdout);
}

/* One line per change of role, leader or term, or when a leader's file
 * expires without being renewed. Runs until interrupted. */
static int cmd_watch(const char *state_file)
{
	char dir[PATH_MAX], base[PATH_MAX];
	struct state last, st;
	bool have_last = false, last_stale = false;
	int ifd, wd;

	snprintf(dir, sizeof(dir), "%s", state_file);
	snprintf(base, sizeof(base), "%s", state_file);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		fprintf(stderr, "kingsmootctl: inotify: %s\n", strerror(errno));
		return 1;
	}
	wd = inotify_add_watch(ifd, dirname(dir), IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE);
	if (wd < 0) {
		fprintf(stderr, "kingsmootctl: %s: %s\n", dir, strerror(errno));
		close(ifd);
		return 1;
	}
	memset(&last, 0, sizeof(last));
	for (;;) {
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		char events[4096];
		int timeout = -1;

		if (state_read(state_file, &st) == 0) {
			bool stale = ctl_state_stale(&st, now_unix());
			if (!have_last || st.role != last.role || st.term != last.term ||
			    strcmp(st.leader, last.leader) != 0 || stale != last_stale)
				print_change(&st, stale);
			last = st;
			last_stale = stale;
			have_last = true;
			/* Nothing is written when a daemon dies: look again once a
			 * second while a member, and exactly when a lead runs out. */
			if (st.role != ROLE_NOT_MEMBER && !stale)
				timeout = 1000;
			if (st.role == ROLE_LEADER && !stale) {
				double left = st.valid_until - now_unix();
				if (left * 1000 + 1 < timeout)
					timeout = (int)(left * 1000) + 1;
			}
		}
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR)
			break;
		while (read(ifd, events, sizeof(events)) > 0)
			;
	}
	close(ifd);
	return 1;
}

/* Signal the daemon named in the state file, and only that one. */
static int signal_daemon(const char *state_file, int sig, bool required)
{
	struct state st;
	int r = state_read(state_file, &st);

	if (r < 0 || !ctl_daemon_alive(st.pid)) {
		if (required)
			fprintf(stderr, "kingsmootctl: no running daemon found in %s\n",
			    state_file);
		return required ? 1 : 0;
	}
	if (kill(st.pid, sig) < 0) {
		fprintf(stderr, "kingsmootctl: cannot signal pid %ld: %s\n",
		    (long)st.pid, strerror(errno));
		return 1;
	}
	return 0;
}

static int cmd_pause(const char *state_file, bool pause)
{
	char path[PATH_MAX];
	int fd;

	if (state_pause_path(state_file, path, sizeof(path)) < 0) {
		fprintf(stderr, "kingsmootctl: state file path too long\n");
		return 1;
	}
	if (pause) {
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			fprintf(stderr, "kingsmootctl: %s: %s\n", path, strerror(errno));
			return 1;
		}
		close(fd);
	} else if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "kingsmootctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* The daemon re-reads the marker on SIGHUP; a stopped daemon reads it
	 * when it starts. */
	return signal_daemon(state_file, SIGHUP, false);
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-file", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_overrides ov = { 0 };
	struct config cfg;
	const char *command, *state_file;
	bool need_config;
	char err[1024];
	int ch, r;

	while ((ch = getopt_long(argc, argv, "+c:S:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': ov.config_path = optarg; break;
		case 'S': ov.state_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	/* exec takes the rest of the line (ctl_exec.c). */
	if (optind < argc && strcmp(argv[optind], "exec") == 0)
		return ctl_exec(&ov, argc - optind - 1, argv + optind + 1);
	/* switchover takes its own arguments (ctl_switchover.c). */
	if (optind < argc && strcmp(argv[optind], "switchover") == 0) {
		log_init(0);
		return ctl_switchover(&ov, argc - optind - 1, argv + optind + 1);
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	command = argv[optind];
	if (strcmp(command, "status") && strcmp(command, "is-leader") &&
	    strcmp(command, "leader") && strcmp(command, "watch") &&
	    strcmp(command, "resign") && strcmp(command, "pause") &&
	    strcmp(command, "resume")) {
		fprintf(stderr, "kingsmootctl: unknown command '%s'\n", command);
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init(0);

	/* With -S the local commands need no configuration at all. */
	need_config = strcmp(command, "leader") == 0 || ov.state_file == NULL;
	memset(&cfg, 0, sizeof(cfg));
	if (need_config) {
		if (config_load(&ov, &cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return EXIT_CONFIG;
		}
	}
	state_file = ov.state_file ? ov.state_file : cfg.state_file;

	if (strcmp(command, "status") == 0)
		r = cmd_status(state_file, false);
	else if (strcmp(command, "is-leader") == 0)
		r = cmd_status(state_file, true);
	else if (strcmp(command, "leader") == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		r = cmd_leader(&cfg);
		curl_global_cleanup();
	} else if (strcmp(command, "watch") == 0)
		r = cmd_watch(state_file);
	else if (strcmp(command, "resign") == 0)
		r = signal_daemon(state_file, SIGUSR1, true);
	else
		r = cmd_pause(state_file, strcmp(command, "pause") == 0);
	config_free(&cfg);
	return r;
}
