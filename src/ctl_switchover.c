/*
 * ctl_switchover.c - "kingsmootctl switchover [--timeout S] [NODE]": hand
 * the leadership to NODE, or to the next in line, in one handover.
 *
 * It needs no local daemon, only the election's configuration and etcd.
 * It reads the election, picks the target, writes the request beside the
 * election (switchover.h) on a lease of its own, and reads the election
 * every POLL_MS until the target leads, the request cannot be met, or
 * the timeout passes; then it revokes that lease, which deletes the
 * request. The daemons do the rest (handover.c). Every request to etcd
 * goes through etcd_sync_call(), which logs in when etcd wants it.
 */
#include "ctl_switchover.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "etcd_sync.h"
#include "decide.h"
#include "etcdproto.h"
#include "state.h"
#include "switchover.h"
#include "util.h"

#define EXIT_USAGE 64
#define EXIT_CONFIG 78
#define DEFAULT_TIMEOUT 10.0
#define MAX_TIMEOUT 3600.0
#define POLL_MS 20

struct session {
	struct etcd_sync etcd;
	char election[1024];            /* "<prefix><service>/" */
	char request_key[1024];
	int64_t request_lease;
	struct switchover_request request;
	char target[3 * STATE_MAX_VALUE];       /* the target's id, encoded */
	char why[768];
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kingsmootctl [-c FILE] switchover [--timeout S] "
	    "[NODE]\n");
}

static const char *shown(const char *value, char *buf, size_t len)
{
	if (state_encode_value(value, buf, len) < 0)
		snprintf(buf, len, "?");
	return buf;
}

/* --timeout S (or --timeout=S), then NODE; -1 for a usage error. */
static int parse_args(int argc, char **argv, double *timeout,
    const char **node)
{
	bool options = true;
	const char *value;
	char *end;

	*timeout = DEFAULT_TIMEOUT;
	*node = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (options && strcmp(a, "--") == 0) {
			options = false;
			continue;
		}
		if (options && (strcmp(a, "--timeout") == 0 ||
		    strncmp(a, "--timeout=", 10) == 0)) {
			value = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : "");
			*timeout = strtod(value, &end);
			if (*value == '\0' || *end != '\0' || !(*timeout > 0) ||
			    *timeout > MAX_TIMEOUT) {
				fprintf(stderr, "kingsmootctl: switchover: --timeout "
				    "must be a number of seconds above 0 and at most "
				    "%g\n", MAX_TIMEOUT);
				return -1;
			}
			continue;
		}
		if (options && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "kingsmootctl: switchover: unknown option "
			    "'%s'\n", a);
			return -1;
		}
		if (*node != NULL) {
			fprintf(stderr, "kingsmootctl: switchover: one NODE at most\n");
			return -1;
		}
		*node = a;
	}
	return 0;
}

/* The election now: 0 with its keys (the caller frees them). */
static int read_election(struct session *s, struct etcd_kv **kvs, size_t *n)
{
	json_t *answer;
	int64_t rev;
	int r;

	r = etcd_sync_call(&s->etcd, "/v3/kv/range",
	    etcd_req_range_prefix(s->election, strlen(s->election)), &answer,
	    s->why, sizeof(s->why));
	if (r < 0)
		return r;
	r = etcd_parse_range(answer, &rev, kvs, n);
	json_decref(answer);
	if (r < 0)
		snprintf(s->why, sizeof(s->why), "%s",
		    r == -E2BIG ? "too many candidates" : "malformed answer");
	return r;
}

/* The request on a lease of its own: 0, -EEXIST when another switchover
 * holds the key, or -errno with s->why. */
static int write_request(struct session *s, double timeout, const char *node)
{
	/* Outlives our wait by a second or two, and no more if we die. */
	int64_t ttl = (int64_t)timeout + 2, ignored, id;
	char *value = switchover_request_format(&s->request, node);
	json_t *answer;
	bool created;
	int64_t rev, holder;
	int r;

	if (value == NULL) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -ENOMEM;
	}
	r = etcd_sync_call(&s->etcd, "/v3/lease/grant",
	    etcd_req_grant(ttl < 2 ? 2 : ttl), &answer, s->why, sizeof(s->why));
	if (r == 0) {
		r = etcd_parse_grant(answer, &id, &ignored);
		json_decref(answer);
		if (r < 0)
			snprintf(s->why, sizeof(s->why), "malformed lease grant");
	}
	if (r < 0) {
		free(value);
		return r;
	}
	s->request_lease = id;
	r = etcd_sync_call(&s->etcd, "/v3/kv/txn",
	    etcd_req_create_if_absent(s->request_key, strlen(s->request_key),
	    value, strlen(value), id), &answer, s->why, sizeof(s->why));
	free(value);
	if (r < 0)
		return r;
	r = etcd_parse_create(answer, &created, &rev, &holder);
	json_decref(answer);
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "malformed answer");
		return r;
	}
	return created ? 0 : -EEXIST;
}

/* Revoking our lease deletes the request; if etcd cannot be reached, it
 * expires on its own shortly after our timeout. */
static void withdraw_request(struct session *s)
{
	json_t *answer;
	char why[768];

	if (s->request_lease == 0)
		return;
	if (etcd_sync_call(&s->etcd, "/v3/lease/revoke",
	    etcd_req_lease_id(s->request_lease), &answer, why, sizeof(why)) == 0)
		json_decref(answer);
	else
		fprintf(stderr, "kingsmootctl: switchover: could not delete the "
		    "request (%s); it expires with its lease\n", why);
	s->request_lease = 0;
}

/* "'node-a' still leads (term 12)", or who leads instead. */
static void describe_leader(const struct etcd_kv *kvs, size_t n,
    const struct session *s, char *out, size_t len)
{
	const struct etcd_kv *leader = election_leader(kvs, n);
	char who[3 * STATE_MAX_VALUE];

	if (leader == NULL)
		snprintf(out, len, "nobody leads");
	else
		snprintf(out, len, "'%s' %s (term %" PRId64 ")",
		    shown(leader->value, who, sizeof(who)),
		    leader->create_revision == s->request.term ? "still leads" :
		    "leads", leader->create_revision);
}

/* Read the election until the handover is over, one way or the other,
 * or the deadline passes. */
static enum switchover_progress wait_handover(struct session *s,
    uint64_t requested, uint64_t deadline, struct etcd_kv **kvs, size_t *n,
    const struct etcd_kv **who, bool *seen)
{
	enum switchover_progress p = SWITCHOVER_WAITING;

	for (;;) {
		uint64_t now = now_ms();

		etcd_kvs_free(*kvs, *n);
		*kvs = NULL;
		*n = 0;
		*who = NULL;
		*seen = read_election(s, kvs, n) == 0;
		if (*seen) {
			p = switchover_progress(&s->request, *kvs, *n,
			    now - requested >= SWITCHOVER_STEP_BACK_GRACE_MS, who);
			if (p != SWITCHOVER_WAITING)
				return p;
		}
		if (now >= deadline)
			return SWITCHOVER_WAITING;
		(void)poll(NULL, 0, POLL_MS);
	}
}

/* Follow the handover: 0 once the target leads, 1 with a message. */
static int follow(struct session *s, uint64_t requested, uint64_t deadline,
    double timeout)
{
	char who[3 * STATE_MAX_VALUE], leads[4 * STATE_MAX_VALUE];
	const struct etcd_kv *k;
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	bool seen, stepping_back;
	enum switchover_progress p;

	p = wait_handover(s, requested, deadline, &kvs, &n, &k, &seen);
	stepping_back = p == SWITCHOVER_WAITING && k != NULL;
	/* The request goes before anything is said: from here on, nothing
	 * it asked for starts. */
	withdraw_request(s);
	if (p != SWITCHOVER_DONE && p != SWITCHOVER_BLOCKED) {
		/* The leader may have resigned just before the request went. */
		etcd_kvs_free(kvs, n);
		kvs = NULL;
		n = 0;
		if ((seen = read_election(s, &kvs, &n) == 0) &&
		    switchover_progress(&s->request, kvs, n, false, &k) ==
		    SWITCHOVER_DONE)
			p = SWITCHOVER_DONE;
	}
	if (p == SWITCHOVER_DONE) {
		printf("'%s' leads %s (term %" PRId64 ", was %" PRId64 ") after "
		    "%.3f s\n", s->target, s->election, k->create_revision,
		    s->request.term, (double)(now_ms() - requested) / 1000.0);
		etcd_kvs_free(kvs, n);
		return 0;
	}
	if (seen)
		describe_leader(kvs, n, s, leads, sizeof(leads));
	else
		snprintf(leads, sizeof(leads), "etcd: %s", s->why);
	switch (p) {
	case SWITCHOVER_TARGET_LEFT:
		fprintf(stderr, "kingsmootctl: switchover: '%s' left the election "
		    "during the switchover; %s\n", s->target, leads);
		break;
	case SWITCHOVER_OVERTAKEN:
		fprintf(stderr, "kingsmootctl: switchover: the leader left before "
		    "the handover; %s\n", leads);
		break;
	case SWITCHOVER_BLOCKED:
		fprintf(stderr, "kingsmootctl: switchover: '%s', ahead of '%s', did "
		    "not step back within %.1f s (not a kingsmootd? an etcdctl "
		    "elect proposal cannot move); %s\n",
		    shown(k->value, who, sizeof(who)), s->target,
		    SWITCHOVER_STEP_BACK_GRACE_MS / 1000.0, leads);
		break;
	default:
		fprintf(stderr, "kingsmootctl: switchover: timed out after %g s "
		    "waiting for %s; %s\n", timeout, stepping_back ?
		    "the candidates ahead of the target to step back" :
		    "the leader to resign (it does once its not_member hooks end)",
		    leads);
		break;
	}
	etcd_kvs_free(kvs, n);
	return 1;
}

static int run(struct session *s, const struct config *cfg, double timeout,
    const char *node)
{
	uint64_t start = now_ms(), deadline = start + sec_to_ms(timeout);
	const struct etcd_kv *leader, *target;
	char lead[3 * STATE_MAX_VALUE];
	struct etcd_kv *kvs;
	size_t n;
	int r;

	if (read_election(s, &kvs, &n) < 0) {
		fprintf(stderr, "kingsmootctl: switchover: cannot read the "
		    "election %s: %s\n", s->election, s->why);
		return 1;
	}
	switch (switchover_pick_target(kvs, n, node, &leader, &target)) {
	case TARGET_NO_LEADER:
		fprintf(stderr, "kingsmootctl: switchover: the election %s is "
		    "empty: there is no leader to hand over from\n", s->election);
		etcd_kvs_free(kvs, n);
		return 1;
	case TARGET_UNKNOWN:
		fprintf(stderr, "kingsmootctl: switchover: '%s' is not a candidate "
		    "of %s (not running, paused, unhealthy or unknown)\n",
		    shown(node, s->target, sizeof(s->target)), s->election);
		etcd_kvs_free(kvs, n);
		return 1;
	case TARGET_NOBODY_NEXT:
		fprintf(stderr, "kingsmootctl: switchover: nobody is in line behind "
		    "'%s'\n", shown(leader->value, lead, sizeof(lead)));
		etcd_kvs_free(kvs, n);
		return 1;
	case TARGET_LEADS:
		printf("'%s' already leads %s (term %" PRId64 ")\n",
		    shown(target->value, s->target, sizeof(s->target)),
		    s->election, target->create_revision);
		etcd_kvs_free(kvs, n);
		return 0;
	case TARGET_FOUND:
		break;
	}
	s->request.term = leader->create_revision;
	s->request.target = target->create_revision;
	shown(target->value, s->target, sizeof(s->target));
	r = write_request(s, timeout, target->value);
	etcd_kvs_free(kvs, n);
	if (r < 0) {
		if (r == -EEXIST)
			fprintf(stderr, "kingsmootctl: switchover: another switchover "
			    "is in progress (%s exists until its lease ends)\n",
			    s->request_key);
		else
			fprintf(stderr, "kingsmootctl: switchover: cannot make the "
			    "request: %s\n", s->why);
		withdraw_request(s);
		return 1;
	}
	return follow(s, now_ms(), deadline, timeout);
}

int ctl_switchover(const struct config_overrides *ov, int argc, char **argv)
{
	struct session s;
	struct config cfg;
	const char *node;
	double timeout;
	char err[1024], why[320];
	int r;

	if (argc == 1 && (strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (parse_args(argc, argv, &timeout, &node) < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (config_load(ov, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_CONFIG;
	}
	memset(&s, 0, sizeof(s));
	snprintf(s.election, sizeof(s.election), "%s%s/", cfg.prefix, cfg.service);
	/* prefix and service are bounded (config_keys.c): both fit. */
	(void)switchover_request_key(cfg.prefix, cfg.service, s.request_key,
	    sizeof(s.request_key));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (etcd_sync_init(&s.etcd, &cfg, why, sizeof(why)) < 0) {
		fprintf(stderr, "kingsmootctl: %s\n", why);
		r = 1;
	} else {
		r = run(&s, &cfg, timeout, node);
	}
	etcd_sync_free(&s.etcd);
	curl_global_cleanup();
	config_free(&cfg);
	return r;
}
