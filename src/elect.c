/*
 * elect.c - the election state machine (DESIGN 1 and 2).
 *
 * Two loops run side by side. The view keeps every key under
 * "<prefix><service>/" current: one linearizable range, then a watch from
 * the range's revision + 1, and a new range whenever the watch is lost.
 * The candidacy holds a lease, renews it every TTL/3 and keeps one key
 * attached to it. The role is derived from both after every event: the
 * key with the lowest create revision leads, and nobody counts as a
 * member once the local lease deadline has passed.
 */
#include "elect.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "hook.h"
#include "liveness.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define KEEPALIVE_RETRY_MS 250
#define ABANDONED_LEASES 8

/* Why a candidate holds no candidacy. */
#define WITHDRAW_PAUSED    1u   /* kingsmootctl pause */
#define WITHDRAW_UNHEALTHY 2u   /* the health check says so */

enum phase {
	PHASE_RUN,
	PHASE_RESIGN_HOOKS,     /* not_member published, its hooks running */
	PHASE_RESIGN_DELETE,    /* deleting our key */
	PHASE_STOP_HOOKS,
	PHASE_STOP_REVOKE,
	PHASE_STOPPED,
};

static struct {
	const struct config *cfg;
	char *prefix;
	size_t prefix_len;

	/* The view. */
	struct etcd_kv *keys;
	size_t n_keys;
	int64_t view_rev;
	bool view_valid;
	struct etcd_call *range_call;
	struct etcd_watch *watch;
	unsigned watch_generation;
	uint64_t watch_started;
	int watch_quick_deaths;
	struct loop_timer sync_timer;
	int sync_failures;

	/* The candidacy. */
	int64_t lease_id;
	uint64_t deadline;      /* CLOCK_BOOTTIME ms; 0 without a lease */
	char *my_key;
	size_t my_key_len;
	int64_t my_rev;         /* create revision of our key; 0 without one */
	struct etcd_call *grant_call, *create_call, *keepalive_call, *delete_call;
	struct etcd_call *revoke_call;
	uint64_t grant_sent, keepalive_sent;
	uint64_t renewed_sent;  /* the send time the deadline counts from */
	struct loop_timer keepalive_timer, deadline_timer, campaign_timer;
	int campaign_failures;
	int resign_failures;    /* resignations of our own making, in a row */
	struct {
		int64_t id;
		bool revoke_pending;
	} abandoned[ABANDONED_LEASES];
	unsigned n_abandoned;
	int64_t duplicate_warned_rev;

	/* Step-down sequencing. */
	enum phase phase;
	unsigned withdrawn;     /* WITHDRAW_*: no candidacy at all */
	bool resign_backoff;
	void (*stop_done)(void *ud);
	void *stop_ud;
	struct loop_timer hooks_wait_timer;
	struct loop_timer stop_done_timer;

	/* What the state file says, as far as we know. */
	bool state_dirty;               /* the last write failed */
	uint64_t file_leader_until;     /* the file claims leadership until */
	uint64_t published_deadline;    /* deadline behind its VALID_UNTIL */
	bool waiting_for_file;
	struct loop_timer file_expiry_timer;

	/* What is published. */
	enum km_role role;
	char leader[STATE_MAX_VALUE];
	int64_t term;
	double since;
} E;

static void update(void);
static void campaign_step(void);
static void after_demotion_hooks(void);
static void check_my_key(const struct etcd_kv *kv);
static void sync_start(void);

static uint64_t ttl_ms(void)
{
	return (uint64_t)E.cfg->ttl * 1000u;
}

static uint64_t backoff_ms(int failures)
{
	uint64_t d = BACKOFF_MIN_MS;

	for (int i = 0; i < failures && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	/* Jitter of +-25% keeps restarted fleets from retrying in step. */
	return d * 3 / 4 + (uint64_t)random() % (d / 2 + 1);
}

static bool is_candidate(void)
{
	return E.cfg->mode == MODE_CANDIDATE;
}

/* ---- the view ---------------------------------------------------------- */

static struct etcd_kv *view_find(const char *key, size_t len)
{
	for (size_t i = 0; i < E.n_keys; i++)
		if (E.keys[i].key_len == len && memcmp(E.keys[i].key, key, len) == 0)
			return &E.keys[i];
	return NULL;
}

static void view_clear(void)
{
	etcd_kvs_free(E.keys, E.n_keys);
	E.keys = NULL;
	E.n_keys = 0;
}

static void view_delete(const char *key, size_t len)
{
	struct etcd_kv *kv = view_find(key, len);

	if (kv == NULL)
		return;
	etcd_kv_clear(kv);
	*kv = E.keys[--E.n_keys];
}

/* Takes ownership of kv's buffers. */
static void view_put(struct etcd_kv *kv)
{
	struct etcd_kv *old = view_find(kv->key, kv->key_len);

	if (old) {
		etcd_kv_clear(old);
		*old = *kv;
	} else if (E.n_keys < ETCD_MAX_KVS) {
		struct etcd_kv *p = realloc(E.keys, (E.n_keys + 1) * sizeof(*p));
		if (p == NULL) {
			etcd_kv_clear(kv);
			return;
		}
		E.keys = p;
		E.keys[E.n_keys++] = *kv;
	} else {
		log_warnx("election %s holds more than %d candidates; ignoring %s",
		    E.prefix, ETCD_MAX_KVS, kv->key);
		etcd_kv_clear(kv);
		return;
	}
	memset(kv, 0, sizeof(*kv));
}

static bool lease_abandoned(int64_t lease)
{
	for (unsigned i = 0; i < ABANDONED_LEASES; i++)
		if (lease != 0 && E.abandoned[i].id == lease)
			return true;
	return false;
}

static void warn_duplicate_identity(void)
{
	for (size_t i = 0; i < E.n_keys; i++) {
		struct etcd_kv *kv = &E.keys[i];

		if (strcmp(kv->value, E.cfg->node) != 0 ||
		    (E.my_key && strcmp(kv->key, E.my_key) == 0) ||
		    lease_abandoned(kv->lease) ||
		    kv->create_revision == E.duplicate_warned_rev)
			continue;
		/* Our own key is only known once the txn answered. */
		if (E.create_call || (E.lease_id && kv->lease == E.lease_id))
			continue;
		E.duplicate_warned_rev = kv->create_revision;
		log_warnx("another live candidate %s already uses node id '%s': two "
		    "daemons with one identity confuse every reader", kv->key,
		    E.cfg->node);
	}
}

/* ---- publishing --------------------------------------------------------- */

const struct etcd_kv *election_leader(const struct etcd_kv *keys, size_t n)
{
	const struct etcd_kv *low = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct etcd_kv *k = &keys[i];
		size_t common;
		int cmp;

		if (low == NULL || k->create_revision < low->create_revision) {
			low = k;
			continue;
		}
		if (k->create_revision > low->create_revision)
			continue;
		/* One txn can create several keys at one revision: break the tie
		 * by key bytes so every node picks the same leader. */
		common = k->key_len < low->key_len ? k->key_len : low->key_len;
		cmp = memcmp(k->key, low->key, common);
		if (cmp < 0 || (cmp == 0 && k->key_len < low->key_len))
			low = k;
	}
	return low;
}

enum km_role election_role(const struct etcd_kv *keys, size_t n, int64_t view_rev,
    const char *my_key, size_t my_key_len, int64_t my_rev)
{
	const struct etcd_kv *mine = NULL;

	/* Keys older than ours are certain to be in the view only once the
	 * view has reached our own create revision. */
	if (my_key == NULL || my_rev <= 0 || view_rev < my_rev)
		return ROLE_NOT_MEMBER;
	for (size_t i = 0; i < n; i++)
		if (keys[i].key_len == my_key_len &&
		    memcmp(keys[i].key, my_key, my_key_len) == 0)
			mine = &keys[i];
	if (mine == NULL || mine->create_revision != my_rev)
		return ROLE_NOT_MEMBER;
	return mine == election_leader(keys, n) ? ROLE_LEADER : ROLE_FOLLOWER;
}

static void compute_role(enum km_role *role, const char **leader, int64_t *term)
{
	const struct etcd_kv *low = election_leader(E.keys, E.n_keys);

	*leader = low ? low->value : "";
	*term = low ? low->create_revision : 0;
	*role = ROLE_NOT_MEMBER;
	if (E.phase != PHASE_RUN)
		return;
	if (!is_candidate()) {
		*role = E.view_valid ? ROLE_OBSERVER : ROLE_NOT_MEMBER;
		return;
	}
	if (E.withdrawn || E.lease_id == 0 || E.deadline == 0 || now_ms() >= E.deadline)
		return;
	*role = election_role(E.keys, E.n_keys, E.view_rev, E.my_key,
	    E.my_key_len, E.my_rev);
}

static void announce(void)
{
	switch (E.role) {
	case ROLE_LEADER:
		notify_status("leader of %s (term %" PRId64 ")", E.cfg->service, E.term);
		break;
	case ROLE_FOLLOWER:
		notify_status("follower of %s (leader %s, term %" PRId64 ")",
		    E.cfg->service, E.leader, E.term);
		break;
	case ROLE_OBSERVER:
		notify_status("observer of %s (leader %s, term %" PRId64 ")",
		    E.cfg->service, E.leader[0] ? E.leader : "none", E.term);
		break;
	default:
		notify_status("not_member of %s%s", E.cfg->service,
		    (E.withdrawn & WITHDRAW_PAUSED) ? " (paused)" :
		    (E.withdrawn & WITHDRAW_UNHEALTHY) ? " (unhealthy)" : "");
		break;
	}
}

/*
 * One machine-readable line per write, so histories from several nodes can
 * be checked against each other: what was published, and the keepalive
 * send time the published deadline was derived from.
 */
static void log_published(const struct state *st, bool transition)
{
	char leader[3 * STATE_MAX_VALUE];

	if (state_encode_value(st->leader, leader, sizeof(leader)) < 0)
		snprintf(leader, sizeof(leader), "?");
	(transition ? log_info : log_debug)(
	    "published role=%s term=%" PRId64 " leader=%s since=%.3f "
	    "valid_until=%.3f renewed_at=%.3f", role_name(st->role), st->term,
	    leader, st->since, st->valid_until,
	    st->role == ROLE_LEADER ? boottime_to_unix(E.renewed_sent) : 0.0);
}

static int write_state(enum km_role role, const char *leader, int64_t term,
    double since)
{
	struct state st;
	int r;

	memset(&st, 0, sizeof(st));
	st.role = role;
	snprintf(st.service, sizeof(st.service), "%s", E.cfg->service);
	snprintf(st.node, sizeof(st.node), "%s", E.cfg->node);
	snprintf(st.leader, sizeof(st.leader), "%s", leader);
	st.term = term;
	st.since = since;
	st.valid_until = role == ROLE_LEADER ? boottime_to_unix(E.deadline) : 0;
	st.pid = getpid();
	r = state_write(E.cfg->state_file, &st);
	if (r < 0) {
		/* Retried on every update; one error line per outage. */
		(E.state_dirty ? log_debug : log_err)("cannot write state file "
		    "%s: %s", E.cfg->state_file, strerror(-r));
		E.state_dirty = true;
		return r;
	}
	if (E.state_dirty)
		log_notice("state file %s written again", E.cfg->state_file);
	E.state_dirty = false;
	E.file_leader_until = role == ROLE_LEADER ? E.deadline : 0;
	E.published_deadline = role == ROLE_LEADER ? E.deadline : 0;
	log_published(&st, role != E.role);
	return 0;
}

/*
 * Write the state file, then start the hooks. Returns -errno when the
 * file could not be written; the role is taken either way, except that
 * the caller must not let a leader stand on an unwritten file.
 */
static int publish(enum km_role role, const char *leader, int64_t term)
{
	bool role_changed = role != E.role;
	/* E.leader holds at most STATE_MAX_VALUE - 1 bytes of a longer one. */
	bool changed = role_changed || term != E.term ||
	    strncmp(leader, E.leader, sizeof(E.leader) - 1) != 0;
	enum km_role previous = E.role;
	double since;
	int r;

	/* A leader rewrites its file on every renewal for VALID_UNTIL, and a
	 * write that failed is tried again. */
	if (!changed && !E.state_dirty &&
	    !(role == ROLE_LEADER && E.deadline != E.published_deadline))
		return 0;
	since = role_changed ? now_unix() : E.since;
	r = write_state(role, leader, term, since);
	if (r < 0 && role == ROLE_LEADER)
		return r;
	if (!changed)
		return 0;
	E.role = role;
	E.since = since;
	E.term = term;
	snprintf(E.leader, sizeof(E.leader), "%s", leader);
	if (role_changed) {
		struct hook_env env = {
			.role = role, .previous_role = previous,
			.service = E.cfg->service, .node = E.cfg->node,
			.leader = E.leader, .term = E.term,
			.state_file = E.cfg->state_file,
		};
		/* A non-leader role is taken even when the file could not say
		 * so (the write is retried); the log must not pretend. */
		log_info("role %s -> %s (leader '%s', term %" PRId64 ")%s",
		    role_name(previous), role_name(role), E.leader, E.term,
		    r < 0 ? " [state file not written]" : "");
		hooks_transition(&env);
	} else {
		/* News to a follower or observer; a not_member acts on nothing. */
		(role == ROLE_NOT_MEMBER ? log_debug : log_info)(
		    "leader of %s is now '%s' (term %" PRId64 ")",
		    E.cfg->service, E.leader, E.term);
	}
	announce();
	return 0;
}

static void update(void)
{
	enum km_role role;
	const char *leader;
	int64_t term;

	if (E.cfg == NULL || E.phase == PHASE_STOPPED)
		return;
	if (E.watch && E.watch_generation != etcd_endpoint_generation()) {
		/* Unary calls moved to another member; follow with the watch so a
		 * partitioned member does not keep us blind. */
		etcd_watch_stop(E.watch);
		E.watch = NULL;
		sync_start();
	}
	warn_duplicate_identity();
	compute_role(&role, &leader, &term);
	if (publish(role, leader, term) < 0 && role == ROLE_LEADER) {
		/* A leader nobody can see is worse than none: let another lead. */
		E.resign_backoff = true;
		elect_resign("state file cannot be written");
		return;
	}
	if (E.waiting_for_file && E.file_leader_until == 0)
		after_demotion_hooks();
	/* A withdrawn node has published all it will: it is ready. */
	if (role != ROLE_NOT_MEMBER || E.withdrawn)
		notify_ready();
}

/* ---- the candidacy ------------------------------------------------------ */

static void abandoned_revoke_done(const struct etcd_result *res, void *ud)
{
	int64_t lease = (int64_t)(intptr_t)ud;

	/* "Not found" is as good as revoked. */
	if (res->err != 0 && !(res->err == -EREMOTEIO && res->error.grpc_code == 5))
		return;
	for (unsigned i = 0; i < ABANDONED_LEASES; i++)
		if (E.abandoned[i].id == lease)
			E.abandoned[i].revoke_pending = false;
}

/*
 * An abandoned lease may outlive us in etcd (it restores leases at full
 * TTL after a restart), and its key would stand in front of our new one.
 * Revoke it as soon as etcd answers again.
 */
static void revoke_abandoned(void)
{
	for (unsigned i = 0; i < ABANDONED_LEASES; i++)
		if (E.abandoned[i].revoke_pending)
			(void)etcd_call("/v3/lease/revoke",
			    etcd_req_lease_id(E.abandoned[i].id),
			    abandoned_revoke_done, (void *)(intptr_t)E.abandoned[i].id);
}

static void remember_abandoned(int64_t lease, bool revoke)
{
	unsigned slot = E.n_abandoned++ % ABANDONED_LEASES;

	E.abandoned[slot].id = lease;
	E.abandoned[slot].revoke_pending = revoke;
}

static void cancel_call(struct etcd_call **call)
{
	etcd_call_cancel(*call);
	*call = NULL;
}

/* Forget the lease locally; revoke it when etcd may still hold it. */
static void drop_lease(const char *why, bool revoke)
{
	if (E.lease_id == 0)
		return;
	log_warnx("giving up lease %" PRIx64 ": %s", (uint64_t)E.lease_id, why);
	remember_abandoned(E.lease_id, revoke);
	if (revoke)
		revoke_abandoned();
	cancel_call(&E.keepalive_call);
	cancel_call(&E.create_call);
	loop_timer_disarm(&E.keepalive_timer);
	loop_timer_disarm(&E.deadline_timer);
	E.lease_id = 0;
	E.deadline = 0;
	E.my_rev = 0;
	free(E.my_key);
	E.my_key = NULL;
	E.my_key_len = 0;
	update();
	campaign_step();
}

static void arm_renewal(uint64_t sent, int64_t ttl)
{
	uint64_t margin = sec_to_ms(E.cfg->margin);
	uint64_t ttl_ms_now = (uint64_t)ttl * 1000u;

	/* etcd cannot expire the lease before sent + TTL. */
	E.renewed_sent = sent;
	E.deadline = sent + ttl_ms_now - (margin < ttl_ms_now ? margin : ttl_ms_now);
	loop_timer_arm_at(&E.deadline_timer, E.deadline);
	loop_timer_arm_at(&E.keepalive_timer, sent + ttl_ms_now / 3);
}

static void deadline_passed(void *ud)
{
	if (E.lease_id == 0)
		return;
	drop_lease("lease deadline passed without a renewal", true);
}

static void keepalive_done(const struct etcd_result *res, void *ud)
{
	int64_t ttl = 0;

	E.keepalive_call = NULL;
	if (res->err == 0 && etcd_parse_keepalive(res->body, &ttl) == 0) {
		if (ttl <= 0) {
			drop_lease("etcd says the lease is gone", false);
			return;
		}
		arm_renewal(E.keepalive_sent, ttl);
		/* Renews a leader's VALID_UNTIL, and lets the watch follow a
		 * keepalive that had to move to another member. */
		update();
		return;
	}
	log_warnx("lease keepalive failed (%s): %s", res->endpoint,
	    res->err == 0 ? "malformed answer" : res->error.message);
	/* Retry soon; the deadline timer decides when it is too late. */
	loop_timer_arm_in(&E.keepalive_timer,
	    KEEPALIVE_RETRY_MS < ttl_ms() / 3 ? KEEPALIVE_RETRY_MS : ttl_ms() / 3);
	update();
}

static void keepalive_tick(void *ud)
{
	if (E.lease_id == 0 || E.keepalive_call)
		return;
	E.keepalive_sent = now_ms();
	E.keepalive_call = etcd_call("/v3/lease/keepalive",
	    etcd_req_lease_id(E.lease_id), keepalive_done, NULL);
	if (E.keepalive_call == NULL)
		loop_timer_arm_in(&E.keepalive_timer, KEEPALIVE_RETRY_MS);
}

static void campaign_failed(const char *what, const struct etcd_result *res)
{
	uint64_t delay = backoff_ms(E.campaign_failures++);

	log_warnx("%s failed (%s): %s; retrying in %" PRIu64 " ms", what,
	    res ? res->endpoint : etcd_current_endpoint(),
	    res ? (res->err == 0 ? "malformed answer" : res->error.message) : "no request",
	    delay);
	loop_timer_arm_in(&E.campaign_timer, delay);
	notify_ready();
	update();
}

static void create_done(const struct etcd_result *res, void *ud)
{
	bool created;
	int64_t rev, lease;

	E.create_call = NULL;
	if (res->err == 0 && etcd_parse_create(res->body, &created, &rev, &lease) == 0) {
		if (!created && lease != E.lease_id) {
			/* Someone else wrote a key with our lease's name. */
			drop_lease("our key name is taken by another lease", true);
			return;
		}
		E.campaign_failures = 0;
		E.my_rev = rev;
		log_info("campaigning as %s (create revision %" PRId64 ")", E.my_key, rev);
		/* Events for the key were ignored while the txn was out; if the
		 * view has passed its creation, it must show it still. */
		if (E.view_rev >= rev)
			check_my_key(view_find(E.my_key, E.my_key_len));
		update();
		return;
	}
	if (res->err == -EREMOTEIO && res->error.grpc_code == 5) {
		drop_lease("etcd does not know the lease", false);
		return;
	}
	campaign_failed("creating the candidate key", res);
}

static void grant_done(const struct etcd_result *res, void *ud)
{
	int64_t id, ttl;
	char name[32];

	E.grant_call = NULL;
	if (res->err != 0 || etcd_parse_grant(res->body, &id, &ttl) < 0) {
		campaign_failed("lease grant", res);
		return;
	}
	if (E.phase >= PHASE_STOP_HOOKS || E.withdrawn) {
		/* Stopping or withdrawn: the lease is not wanted any more. */
		(void)etcd_call("/v3/lease/revoke", etcd_req_lease_id(id), NULL, NULL);
		return;
	}
	revoke_abandoned();
	E.lease_id = id;
	snprintf(name, sizeof(name), "%" PRIx64, (uint64_t)id);
	free(E.my_key);
	E.my_key_len = E.prefix_len + strlen(name);
	E.my_key = xcalloc(E.my_key_len + 1, 1);
	memcpy(E.my_key, E.prefix, E.prefix_len);
	memcpy(E.my_key + E.prefix_len, name, strlen(name));
	E.my_rev = 0;
	log_debug("granted lease %s with TTL %" PRId64 " s", name, ttl);
	arm_renewal(E.grant_sent, ttl);
	campaign_step();
}

static void campaign_step(void)
{
	if (!is_candidate() || E.phase != PHASE_RUN || E.withdrawn)
		return;
	if (E.grant_call || E.create_call || E.delete_call ||
	    E.campaign_timer.armed)
		return;
	if (E.lease_id == 0) {
		E.grant_sent = now_ms();
		E.grant_call = etcd_call("/v3/lease/grant",
		    etcd_req_grant(E.cfg->ttl), grant_done, NULL);
		if (E.grant_call == NULL)
			campaign_failed("lease grant", NULL);
	} else if (E.my_rev == 0) {
		E.create_call = etcd_call("/v3/kv/txn",
		    etcd_req_create_if_absent(E.my_key, E.my_key_len, E.cfg->node,
		    strlen(E.cfg->node), E.lease_id), create_done, NULL);
		if (E.create_call == NULL)
			campaign_failed("creating the candidate key", NULL);
	}
}

static void campaign_timer_fired(void *ud)
{
	campaign_step();
}

/* ---- view synchronisation ------------------------------------------------ */

static void watch_ended(int err, const char *why, void *ud);

/* Our key as etcd has it now (NULL: gone): step down if it is not
 * the one we made. */
static void check_my_key(const struct etcd_kv *kv)
{
	if (E.my_rev == 0 || E.phase != PHASE_RUN || E.create_call)
		return;
	if (kv == NULL) {
		log_warnx("our key %s was deleted in etcd", E.my_key);
		E.my_rev = 0;
		campaign_step();
		return;
	}
	if (kv->create_revision != E.my_rev || kv->lease != E.lease_id ||
	    strcmp(kv->value, E.cfg->node) != 0) {
		log_warnx("our key %s was changed in etcd; stepping down", E.my_key);
		E.my_rev = kv->create_revision;
		elect_resign("our key was changed");
	}
}

/* A watch that dies as soon as it starts must not spin us, even though
 * each range before it succeeds. */
static void resync_after_watch_loss(void)
{
	if (now_ms() - E.watch_started < 1000) {
		loop_timer_arm_in(&E.sync_timer, backoff_ms(E.watch_quick_deaths++));
		return;
	}
	E.watch_quick_deaths = 0;
	sync_start();
}

static void my_key_event(const struct etcd_event *ev)
{
	if (E.my_key == NULL || ev->kv.key_len != E.my_key_len ||
	    memcmp(ev->kv.key, E.my_key, E.my_key_len) != 0)
		return;
	/* An event of an earlier key by the same name (we re-create it after
	 * a resign) says nothing about the current one. */
	if (ev->kv.mod_revision != 0 && ev->kv.mod_revision < E.my_rev)
		return;
	check_my_key(ev->type == ETCD_EVENT_DELETE ? NULL : &ev->kv);
}

static void watch_message(const struct etcd_watch_msg *msg, void *ud)
{
	if (msg->canceled) {
		log_warnx("election watch cancelled%s%s (compact revision %" PRId64 ")",
		    msg->cancel_reason[0] ? ": " : "", msg->cancel_reason,
		    msg->compact_revision);
		etcd_watch_stop(E.watch);
		E.watch = NULL;
		resync_after_watch_loss();
		return;
	}
	for (size_t i = 0; i < msg->n_events; i++) {
		const struct etcd_event *ev = &msg->events[i];
		struct etcd_kv kv;

		my_key_event(ev);
		if (ev->type == ETCD_EVENT_DELETE) {
			view_delete(ev->kv.key, ev->kv.key_len);
			continue;
		}
		/* Keys and values may hold NUL bytes: copy them whole. */
		kv = ev->kv;
		kv.key = xcalloc(ev->kv.key_len + 1, 1);
		memcpy(kv.key, ev->kv.key, ev->kv.key_len);
		kv.value = xcalloc(ev->kv.value_len + 1, 1);
		memcpy(kv.value, ev->kv.value, ev->kv.value_len);
		view_put(&kv);
	}
	if (msg->revision > E.view_rev)
		E.view_rev = msg->revision;
	update();
}

static void watch_ended(int err, const char *why, void *ud)
{
	E.watch = NULL;
	log_warnx("election watch ended: %s", why);
	resync_after_watch_loss();
}

static void range_done(const struct etcd_result *res, void *ud)
{
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	int r = -EPROTO;

	E.range_call = NULL;
	if (res->err == 0)
		r = etcd_parse_range(res->body, &rev, &kvs, &n);
	if (r < 0) {
		uint64_t delay = backoff_ms(E.sync_failures++);

		log_warnx("reading election %s failed (%s): %s; retrying in %" PRIu64 " ms",
		    E.prefix, res->endpoint,
		    res->err ? res->error.message :
		    r == -E2BIG ? "too many candidates" : "malformed answer", delay);
		/* Only an observer has nothing else vouching for its view. */
		E.view_valid = false;
		loop_timer_arm_in(&E.sync_timer, delay);
		notify_ready();
		update();
		return;
	}
	view_clear();
	E.keys = kvs;
	E.n_keys = n;
	E.view_rev = rev;
	E.view_valid = true;
	E.sync_failures = 0;
	/* A lost watch may have missed what happened to our key. */
	if (E.my_rev && rev >= E.my_rev)
		check_my_key(view_find(E.my_key, E.my_key_len));
	etcd_watch_stop(E.watch);
	E.watch_generation = etcd_endpoint_generation();
	E.watch_started = now_ms();
	E.watch = etcd_watch_start(E.prefix, E.prefix_len, rev + 1, watch_message,
	    watch_ended, NULL);
	if (E.watch == NULL)
		loop_timer_arm_in(&E.sync_timer, backoff_ms(E.sync_failures++));
	update();
}

static void sync_start(void)
{
	if (E.range_call || E.sync_timer.armed || E.phase == PHASE_STOPPED)
		return;
	E.range_call = etcd_call("/v3/kv/range",
	    etcd_req_range_prefix(E.prefix, E.prefix_len), range_done, NULL);
	if (E.range_call == NULL)
		loop_timer_arm_in(&E.sync_timer, backoff_ms(E.sync_failures++));
}

static void sync_timer_fired(void *ud)
{
	sync_start();
}

/* ---- stepping down ------------------------------------------------------ */

/*
 * The last step of a resign, whether or not there was a key to delete:
 * back to campaigning (or to holding nothing, when withdrawn).
 */
static void resign_finished(bool key_deleted)
{
	E.phase = PHASE_RUN;
	if (!key_deleted) {
		/* The key may still stand first in line; only a new lease (a new
		 * key name) is sure to queue behind it. */
		drop_lease("could not delete our key while resigning", true);
	} else {
		E.my_rev = 0;
	}
	if (E.resign_backoff) {
		/* A leader hook or state file that keeps failing must not make
		 * a lone node flap at full speed: the pause grows. */
		E.resign_backoff = false;
		loop_timer_arm_in(&E.campaign_timer, backoff_ms(E.resign_failures++));
	}
	if (E.withdrawn) {
		/* No candidacy while withdrawn: nothing to keep alive. */
		drop_lease("withdrawn from the election", true);
		return;
	}
	update();
	campaign_step();
}

static void resign_delete_done(const struct etcd_result *res, void *ud)
{
	E.delete_call = NULL;
	if (E.phase == PHASE_RESIGN_DELETE)
		resign_finished(res->err == 0);
}

static void stop_revoke_done(const struct etcd_result *res, void *ud)
{
	E.revoke_call = NULL;
	if (res->err != 0 && !(res->err == -EREMOTEIO && res->error.grpc_code == 5))
		log_warnx("revoking lease %" PRIx64 " failed: %s; it expires by itself",
		    (uint64_t)E.lease_id, res->error.message);
	E.phase = PHASE_STOPPED;
	/* The owner may tear the etcd client down: not from inside its
	 * callback. */
	loop_timer_arm_in(&E.stop_done_timer, 0);
}

static void stop_done_fired(void *ud)
{
	if (E.stop_done)
		E.stop_done(E.stop_ud);
}

static void after_demotion_hooks(void)
{
	loop_timer_disarm(&E.hooks_wait_timer);
	if (E.phase != PHASE_RESIGN_HOOKS && E.phase != PHASE_STOP_HOOKS)
		return;
	/*
	 * If not_member could not be written, the file still names us leader
	 * until its VALID_UNTIL: keep the key, and with it everyone else out,
	 * until then. Every update tries the write again meanwhile.
	 */
	if (E.file_leader_until > now_ms()) {
		if (!E.waiting_for_file)
			log_warnx("state file still says leader; holding our key "
			    "until its VALID_UNTIL passes");
		E.waiting_for_file = true;
		loop_timer_arm_at(&E.file_expiry_timer, E.file_leader_until);
		return;
	}
	E.waiting_for_file = false;
	loop_timer_disarm(&E.file_expiry_timer);
	if (E.phase == PHASE_RESIGN_HOOKS) {
		if (E.my_rev == 0) {
			/* No key to delete: lost with the lease, or never made. */
			resign_finished(true);
			return;
		}
		E.phase = PHASE_RESIGN_DELETE;
		cancel_call(&E.delete_call);
		E.delete_call = etcd_call("/v3/kv/txn",
		    etcd_req_delete_if_created(E.my_key, E.my_key_len, E.my_rev),
		    resign_delete_done, NULL);
		if (E.delete_call == NULL)
			resign_finished(false);
	} else if (E.phase == PHASE_STOP_HOOKS) {
		E.phase = PHASE_STOP_REVOKE;
		cancel_call(&E.grant_call);
		cancel_call(&E.create_call);
		cancel_call(&E.keepalive_call);
		loop_timer_disarm(&E.keepalive_timer);
		loop_timer_disarm(&E.deadline_timer);
		if (E.lease_id)
			E.revoke_call = etcd_call("/v3/lease/revoke",
			    etcd_req_lease_id(E.lease_id), stop_revoke_done, NULL);
		if (E.revoke_call == NULL)
			stop_revoke_done(&(struct etcd_result){ .err = 0 }, NULL);
	}
}

static void file_expired(void *ud)
{
	after_demotion_hooks();
}

static void hooks_wait_expired(void *ud)
{
	/* Each hook is bounded by hooks.timeout, so the batch ends; revoking
	 * before it does would let the next leader overlap our demotion. */
	log_warnx("not_member hooks still running after %.1f s; waiting for them",
	    E.cfg->hooks_timeout + 3.0);
}

/* Publish not_member, then continue once its hooks have ended. */
static void demote_then(enum phase phase)
{
	E.phase = phase;
	update();
	if (!hooks_busy()) {
		after_demotion_hooks();
		return;
	}
	/* Hooks bound themselves by hooks.timeout plus the 2 s SIGKILL grace. */
	loop_timer_arm_in(&E.hooks_wait_timer,
	    sec_to_ms(E.cfg->hooks_timeout) + 3000);
}

void elect_hooks_done(enum km_role role, bool ok)
{
	if ((E.phase == PHASE_RESIGN_HOOKS || E.phase == PHASE_STOP_HOOKS) &&
	    role == ROLE_NOT_MEMBER) {
		after_demotion_hooks();
		return;
	}
	if (role == ROLE_LEADER && ok)
		E.resign_failures = 0;
	if (role == ROLE_LEADER && !ok && E.role == ROLE_LEADER &&
	    E.cfg->on_leader_failure == LEADER_FAILURE_RESIGN) {
		log_warnx("a leader hook failed: resigning so another node can lead");
		/* Alone in the election we would win again at once: pause. */
		E.resign_backoff = true;
		elect_resign("leader hook failed");
	}
}

void elect_resign(const char *why)
{
	if (E.phase != PHASE_RUN || !is_candidate())
		return;
	log_notice("stepping down: %s", why);
	loop_timer_disarm(&E.campaign_timer);
	demote_then(PHASE_RESIGN_HOOKS);
}

static void set_withdrawn(unsigned reason, bool on, const char *what)
{
	unsigned before = E.withdrawn;

	if (E.cfg == NULL || !is_candidate())
		return;
	E.withdrawn = on ? E.withdrawn | reason : E.withdrawn & ~reason;
	if ((before != 0) == (E.withdrawn != 0))
		return;
	if (E.withdrawn) {
		log_notice("%s: withdrawing from the election", what);
		announce();
		if (E.phase == PHASE_RUN) {
			loop_timer_disarm(&E.campaign_timer);
			demote_then(PHASE_RESIGN_HOOKS);
		}
		return;
	}
	log_notice("%s: campaigning again", what);
	update();
	campaign_step();
}

void elect_set_paused(bool paused)
{
	set_withdrawn(WITHDRAW_PAUSED, paused, paused ? "paused" : "resumed");
}

void elect_set_healthy(bool healthy)
{
	set_withdrawn(WITHDRAW_UNHEALTHY, !healthy,
	    healthy ? "health check passing" : "health check failing");
}

void elect_stop(void (*done)(void *ud), void *ud)
{
	E.stop_done = done;
	E.stop_ud = ud;
	if (E.phase >= PHASE_STOP_HOOKS)
		return;
	loop_timer_disarm(&E.campaign_timer);
	cancel_call(&E.delete_call);
	demote_then(PHASE_STOP_HOOKS);
}

/* ---- the liveness self-check --------------------------------------------- */

/*
 * Runs each time the loop is about to wait. A candidate out of the
 * election with nothing under way would stay out for good; that is a bug
 * of ours, so say so loudly and start the candidacy afresh.
 */
static void check_liveness(void)
{
	struct candidacy_activity a = {
		.candidate = E.cfg != NULL && is_candidate(),
		.withdrawn = E.withdrawn != 0,
		.stopping = E.phase >= PHASE_STOP_HOOKS,
		.member = E.role == ROLE_LEADER || E.role == ROLE_FOLLOWER,
		.stepping_down = E.phase == PHASE_RESIGN_HOOKS ||
		    E.phase == PHASE_RESIGN_DELETE,
		.holds_lease = E.lease_id != 0,
		.holds_key = E.my_rev != 0,
		.request_in_flight = E.grant_call || E.create_call || E.delete_call,
		.retry_armed = E.campaign_timer.armed,
		.demotion_pending = hooks_busy() || E.waiting_for_file,
	};

	if (!candidacy_stalled(&a))
		return;
	log_err("candidacy stalled out of the election (phase %d, lease %s, "
	    "key %s, nothing in flight or scheduled): campaigning afresh",
	    (int)E.phase, a.holds_lease ? "held" : "none",
	    a.holds_key ? "held" : "none");
	loop_timer_disarm(&E.hooks_wait_timer);
	loop_timer_disarm(&E.file_expiry_timer);
	E.phase = PHASE_RUN;
	if (E.lease_id)
		drop_lease("restarting a stalled candidacy", true);
	update();
	campaign_step();
}

/* ---- session ------------------------------------------------------------ */

/* The daemon writes not_member before starting us; if that failed, the
 * first update must try again. */
static bool startup_state_written(const struct config *cfg)
{
	struct state st;

	return state_read(cfg->state_file, &st) == 0 &&
	    st.role == ROLE_NOT_MEMBER && st.pid == getpid();
}

int elect_start(const struct config *cfg)
{
	size_t plen = strlen(cfg->prefix), slen = strlen(cfg->service);

	memset(&E, 0, sizeof(E));
	E.cfg = cfg;
	E.prefix_len = plen + slen + 1;
	E.prefix = xcalloc(E.prefix_len + 1, 1);
	memcpy(E.prefix, cfg->prefix, plen);
	memcpy(E.prefix + plen, cfg->service, slen);
	E.prefix[E.prefix_len - 1] = '/';
	E.role = ROLE_NOT_MEMBER;
	E.since = now_unix();
	E.state_dirty = !startup_state_written(cfg);
	if (is_candidate() && cfg->health_enabled)
		E.withdrawn |= WITHDRAW_UNHEALTHY;
	if (is_candidate() && state_paused(cfg->state_file))
		E.withdrawn |= WITHDRAW_PAUSED;
	if (E.withdrawn & WITHDRAW_PAUSED)
		log_notice("paused (%s.paused exists): not campaigning until resumed",
		    cfg->state_file);
	srandom((unsigned)(now_ms() ^ (uint64_t)getpid()));
	loop_timer_init(&E.sync_timer, sync_timer_fired, NULL);
	loop_timer_init(&E.keepalive_timer, keepalive_tick, NULL);
	loop_timer_init(&E.deadline_timer, deadline_passed, NULL);
	loop_timer_init(&E.campaign_timer, campaign_timer_fired, NULL);
	loop_timer_init(&E.hooks_wait_timer, hooks_wait_expired, NULL);
	loop_timer_init(&E.stop_done_timer, stop_done_fired, NULL);
	loop_timer_init(&E.file_expiry_timer, file_expired, NULL);
	log_info("%s in election %s as '%s' (endpoints %s, TTL %" PRId64 " s)",
	    is_candidate() ? "campaigning" : "observing", E.prefix, cfg->node,
	    etcd_current_endpoint(), cfg->ttl);
	announce();
	sync_start();
	campaign_step();
	loop_set_before_sleep(check_liveness);
	return 0;
}

void elect_set_config(const struct config *cfg)
{
	bool moved = strcmp(E.cfg->state_file, cfg->state_file) != 0;
	struct state old;

	/* The old file must not go on claiming a role nobody renews. */
	if (moved && state_read(E.cfg->state_file, &old) == 0 &&
	    old.pid == getpid() && old.role != ROLE_NOT_MEMBER) {
		old.role = ROLE_NOT_MEMBER;
		old.leader[0] = '\0';
		old.term = 0;
		old.valid_until = 0;
		old.since = now_unix();
		if (state_write(E.cfg->state_file, &old) < 0)
			log_warnx("could not retire the old state file %s",
			    E.cfg->state_file);
	}
	E.cfg = cfg;
	/* Publish at the new path at once, not at the next change. */
	if (moved && write_state(E.role, E.leader, E.term, E.since) < 0 &&
	    E.role == ROLE_LEADER) {
		E.resign_backoff = true;
		elect_resign("state file cannot be written");
	}
}

void elect_free(void)
{
	loop_set_before_sleep(NULL);
	loop_timer_disarm(&E.sync_timer);
	loop_timer_disarm(&E.keepalive_timer);
	loop_timer_disarm(&E.deadline_timer);
	loop_timer_disarm(&E.campaign_timer);
	loop_timer_disarm(&E.hooks_wait_timer);
	loop_timer_disarm(&E.stop_done_timer);
	loop_timer_disarm(&E.file_expiry_timer);
	cancel_call(&E.range_call);
	cancel_call(&E.grant_call);
	cancel_call(&E.create_call);
	cancel_call(&E.keepalive_call);
	cancel_call(&E.delete_call);
	cancel_call(&E.revoke_call);
	etcd_watch_stop(E.watch);
	view_clear();
	free(E.prefix);
	free(E.my_key);
	memset(&E, 0, sizeof(E));
	E.role = ROLE_NOT_MEMBER;
}

bool elect_healthy(void)
{
	uint64_t now = now_ms();

	if (E.cfg == NULL)
		return false;
	if (is_candidate() && !E.withdrawn)
		return E.deadline != 0 && now < E.deadline;
	/* Observers and withdrawn candidates hold no lease: a quiet election
	 * sends nothing, so judge by a live watch (it ends when its member
	 * loses quorum) over a view that was read successfully. */
	return E.view_valid && E.watch != NULL;
}

enum km_role elect_role(void)
{
	return E.role;
}
