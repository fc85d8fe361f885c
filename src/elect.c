/*
 * elect.c - one election session: wires its parts (view, lease,
 * candidacy, the pure decision, publishing, the step-down and its runner,
 * the liveness self-check, the switchover handover; README "Layout")
 * together and drives them from their events (DESIGN 1 and 2).
 *
 * After every event the role is decided afresh and published. Work that
 * an event asks of the step-down is posted and run once the current
 * event has been handled, never from inside it.
 */
#include "elect.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "candidacy.h"
#include "decide.h"
#include "demotion.h"
#include "handover.h"
#include "hook.h"
#include "lease.h"
#include "liveness.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "publish.h"
#include "stepdown.h"
#include "util.h"
#include "view.h"

static const struct config *cfg;
static char *election_prefix;           /* "<prefix><service>/" */
static size_t election_prefix_len;
static unsigned withdrawn;              /* WITHDRAW_*: no candidacy at all */
static enum km_reason loss;             /* why we last fell out */

static struct election_view view;
static struct lease lease;
static struct candidacy candidacy;
static struct publisher publisher;
static struct handover handover;


static struct demotion demotion;        /* the step-down sequence */

static void update(void);
static void campaign_step(void);

static bool is_candidate(void)
{
	return cfg->mode == MODE_CANDIDATE;
}

static uint64_t ttl_ms(const struct config *c)
{
	return (uint64_t)c->ttl * 1000u;
}

/* ---- deciding and publishing ------------------------------------------- */

static void decide_now(struct decision *d, bool leader_file_failed)
{
	struct decision_input in = {
		.keys = view.keys, .n_keys = view.n_keys,
		.view_revision = view.revision, .view_valid = view.valid,
		.view_incomplete = !view.complete,
		.candidate = is_candidate(),
		.stepping_down = demotion.phase != STEPDOWN_NONE,
		.stopping = stepdown_stopping(demotion.phase),
		.loss = loss,
		.withdrawn = withdrawn,
		.my_key = candidacy.key, .my_key_len = candidacy.key_len,
		.my_create_revision = candidacy.create_revision,
		.lease_deadline = lease.id ? lease.deadline : 0,
		.now = now_ms(),
		.leader_file_failed = leader_file_failed,
	};

	decide_role(&in, d);
}

static int publish_decision(const struct decision *d)
{
	struct publication next = {
		.role = d->role, .leader = d->leader ? d->leader->value : "",
		.term = d->term, .reason = d->reason, .deadline = lease.deadline,
		.renewed_sent = lease.renewed_sent,
	};

	return publish(&publisher, &next);
}

/* After every publication and renewal: node_exporter's textfile
 * collector serves the file as it is. */
static void write_metrics(void)
{
	struct metrics_now m = {
		.service = cfg->service, .node = cfg->node,
		.role = publisher.role, .reason = publisher.reason,
		.term = publisher.term,
		.lease_remaining = lease_remaining_s(&lease, now_ms()),
		.last_update = now_unix(),
	};

	metrics_publish(cfg->metrics_file, &m);
}

static bool lease_is_ours_abandoned(int64_t id, void *ud)
{
	return lease_abandoned(&lease, id) || handover_owns_lease(&handover, id);
}

static void update(void)
{
	struct decision d;
	unsigned long writes = publisher.writes;

	if (cfg == NULL || demotion.phase == STEPDOWN_STOPPED)
		return;
	demotion_hold(&demotion);
	view_follow_endpoint(&view);
	handover_follow_endpoint(&handover);
	/* A stop lets go of our key before etcd deletes it: that key is
	 * still ours, not a twin's. */
	if (!stepdown_stopping(demotion.phase))
		candidacy_warn_duplicates(&candidacy, view.keys, view.n_keys,
		    lease_is_ours_abandoned, NULL);
	decide_now(&d, false);
	if (publish_decision(&d) < 0) {
		decide_now(&d, true);
		(void)publish_decision(&d);
	}
	if (d.resign) {
		/* Alone in the election we would win again at once: pause. */
		candidacy_own_resign(&candidacy);
		elect_resign(REASON_STATE_UNWRITABLE, "state file cannot be written");
	}
	/* A switchover asks the leader to resign once its target is next. */
	if (handover_next(&handover, d.role, is_candidate() &&
	    demotion.phase == STEPDOWN_NONE && !withdrawn) == SWITCHOVER_RESIGN)
		elect_resign(REASON_RESIGNED, "switchover");
	if ((demotion.phase == STEPDOWN_RESIGN_FILE ||
	    demotion.phase == STEPDOWN_STOP_FILE) &&
	    publisher.file_leader_until == 0)
		demotion_post(&demotion, STEPDOWN_EV_FILE_CLEAR);
	/* A withdrawn node has published all it will: it is ready. */
	if (d.role != ROLE_NOT_MEMBER || withdrawn)
		notify_ready();
	if (publisher.writes != writes)
		write_metrics();
	/* What this update asked of the step-down runs once, after it. */
	demotion_release(&demotion);
}

/* ---- campaigning --------------------------------------------------------- */

/* A grant or create failed, and its back-off runs: etcd is out of reach,
 * and the first attempt has been made. */
static void campaign_backing_off(void)
{
	loss = REASON_ETCD_UNREACHABLE;
	notify_ready();
	update();
}

static void campaign_failed(const char *what, const struct etcd_result *res)
{
	candidacy_failed(&candidacy, what, res);
	campaign_backing_off();
}

static void campaign_step(void)
{
	if (is_candidate() && demotion.phase == STEPDOWN_NONE && !withdrawn &&
	    candidacy_campaign(&candidacy, &lease) < 0)
		campaign_backing_off();
}

/* Our key as etcd has it now (NULL: gone): make it again, or step down
 * if it is not the one we made. */
static void check_my_key(const struct etcd_kv *kv)
{
	if (demotion.phase != STEPDOWN_NONE)
		return;
	switch (candidacy_reconcile(&candidacy, kv)) {
	case KEY_OURS:
		break;
	case KEY_GONE:
		loss = REASON_KEY_LOST;
		campaign_step();
		break;
	case KEY_CHANGED:
		elect_resign(REASON_KEY_LOST, "our key was changed");
		break;
	}
}

/* Once the view has passed our key's creation, it must show the key. */
static void recheck_my_key(void)
{
	if (candidacy.create_revision && view.revision >= candidacy.create_revision)
		check_my_key(view_find(&view, candidacy.key, candidacy.key_len));
}

/* ---- events of the parts ------------------------------------------------- */

/* The view changed, or a renewal moved a leader's VALID_UNTIL (and may
 * have moved to another member, which the watch must follow), or a
 * follower's news is due. */
static void on_changed(void *ud)
{
	update();
}

static void on_view_event(const struct etcd_event *ev, void *ud)
{
	if (handover_view_event(&handover, ev))
		return;
	if (candidacy_event_is_ours(&candidacy, ev))
		check_my_key(ev->type == ETCD_EVENT_DELETE ? NULL : &ev->kv);
}

static void on_view_synced(void *ud)
{
	handover_view_synced(&handover);
	/* A lost watch may have missed what happened to our key. */
	recheck_my_key();
}

static void on_view_sync_failed(void *ud)
{
	notify_ready();
}

static void on_lease_renewal(void *ud)
{
	/* etcd has reached this revision: the watch owes us up to it. */
	view_etcd_revision(&view, lease.etcd_revision);
	update();
	write_metrics();
}

static const struct view_events view_events = {
	.event = on_view_event, .synced = on_view_synced,
	.changed = on_changed, .sync_failed = on_view_sync_failed,
};

static bool on_lease_wanted(void *ud)
{
	/* Stopping or withdrawn: a lease granted now is not wanted. */
	return !stepdown_stopping(demotion.phase) && !withdrawn;
}

static void on_lease_granted(void *ud)
{
	candidacy_set_lease(&candidacy, election_prefix, election_prefix_len,
	    lease.id);
	campaign_step();
}

static void on_lease_grant_failed(const struct etcd_result *res, void *ud)
{
	campaign_failed("lease grant", res);
}

static void on_lease_dropped(enum km_reason reason, void *ud)
{
	if (reason != REASON_NONE)
		loss = reason;
	handover_abort(&handover);
	candidacy_clear(&candidacy);
	update();
	campaign_step();
}

static const struct lease_events lease_events = {
	.wanted = on_lease_wanted, .granted = on_lease_granted,
	.grant_failed = on_lease_grant_failed, .renewal = on_lease_renewal,
	.dropped = on_lease_dropped,
};

static void on_key_created(void *ud)
{
	/* Events for the key were ignored while the txn was out. */
	recheck_my_key();
	update();
}

static void on_key_create_failed(const struct etcd_result *res, void *ud)
{
	campaign_failed("creating the candidate key", res);
}

static void on_lease_unusable(const char *why, bool revoke, void *ud)
{
	lease_drop(&lease, REASON_LEASE_LOST, why, revoke);
}

static void on_retry(void *ud)
{
	campaign_step();
}

static void on_key_deleted(bool ok, void *ud)
{
	demotion_post(&demotion,
	    ok ? STEPDOWN_EV_DELETED : STEPDOWN_EV_DELETE_FAILED);
}

/* A node that etcd no longer lets read or write its election cannot see
 * its key go: it does not stay in the queue. */
static void on_etcd_denied(const char *why, void *ud)
{
	if (candidacy.create_revision != 0)
		/* etcd refuses us the election: as good as out of reach. */
		elect_resign(REASON_ETCD_UNREACHABLE, why);
}

static void on_handover_check_key(void *ud)
{
	on_view_synced(ud);
	update();
}

static const struct handover_events handover_events = {
	.changed = on_changed, .check_key = on_handover_check_key,
};

static const struct candidacy_events candidacy_events = {
	.created = on_key_created, .create_failed = on_key_create_failed,
	.lease_unusable = on_lease_unusable, .deleted = on_key_deleted,
	.retry = on_retry,
};

/* ---- the step-down's actions (demotion.c runs the sequence) ---------------- */

static void demote(bool stopping, void *ud)
{
	handover_abort(&handover);
	candidacy_hold_off(&candidacy, 0);
	if (stopping)
		candidacy_free(&candidacy);
	update();
}

static void stepdown_facts(struct stepdown_facts *f, void *ud)
{
	f->file_claims_leader = publisher.file_leader_until > now_ms();
	f->holds_key = candidacy.create_revision != 0;
	f->holds_lease = lease.id != 0;
	f->withdrawn = withdrawn != 0;
}

static uint64_t file_claims_until(void *ud)
{
	return publisher.file_leader_until;
}

static int delete_key(void *ud)
{
	return candidacy_delete(&candidacy);
}

static void resigned(const char *drop_why, void *ud)
{
	candidacy_resign_over(&candidacy);
	if (drop_why)
		lease_drop(&lease, REASON_NONE, drop_why, true);
	update();
	campaign_step();
}

static void on_lease_revoked(void *ud)
{
	demotion_post(&demotion, STEPDOWN_EV_REVOKED);
}

static int revoke_lease(void *ud)
{
	candidacy_free(&candidacy);
	return lease_revoke(&lease, on_lease_revoked);
}

static void stop_finished(void *ud)
{
	struct publication stopped = { .role = ROLE_NOT_MEMBER,
	    .leader = "", .reason = REASON_STOPPED };

	/* The file says the hooks and the revoke are over, so that --cleanup
	 * has nothing left to do. */
	(void)publish(&publisher, &stopped);
	write_metrics();
	candidacy_free(&candidacy);
	lease_free(&lease);
	view_stop(&view);
}

static const struct demotion_actions demotion_actions = {
	.demote = demote, .facts = stepdown_facts,
	.file_claims_until = file_claims_until, .delete_key = delete_key,
	.resigned = resigned, .revoke_lease = revoke_lease,
	.stop_finished = stop_finished,
};

/* ---- the liveness self-check --------------------------------------------- */

/*
 * Runs each time the loop is about to wait. A candidate out of the
 * election with nothing under way would stay out for good; that is a bug
 * of ours, so say so loudly and start the candidacy afresh.
 */
static void check_liveness(void)
{
	struct candidacy_activity a = {
		.candidate = cfg != NULL && is_candidate(),
		.withdrawn = withdrawn != 0,
		.stopping = stepdown_stopping(demotion.phase),
		.member = publisher.role == ROLE_LEADER ||
		    publisher.role == ROLE_FOLLOWER,
		.stepping_down = stepdown_resigning(demotion.phase),
		.holds_lease = lease.id != 0,
		.holds_key = candidacy.create_revision != 0,
		/* A request out or the back-off running, ours or a step
		 * back's. */
		.request_in_flight = candidacy_under_way(&candidacy, &lease) ||
		    handover_busy(&handover),
		.demotion_pending = hooks_busy() ||
		    demotion_waiting_for_file(&demotion),
	};

	if (!candidacy_stalled(&a))
		return;
	log_err("candidacy stalled out of the election (step-down %s, lease %s, "
	    "key %s, nothing in flight or scheduled): campaigning afresh",
	    stepdown_phase_name(demotion.phase), a.holds_lease ? "held" : "none",
	    a.holds_key ? "held" : "none");
	demotion_reset(&demotion);
	if (lease.id)
		lease_drop(&lease, REASON_NONE, "restarting a stalled candidacy", true);
	update();
	campaign_step();
}

/* ---- what the daemon asks of the session --------------------------------- */

void elect_hooks_done(enum km_role role, bool ok)
{
	if ((demotion.phase == STEPDOWN_RESIGN_HOOKS ||
	    demotion.phase == STEPDOWN_STOP_HOOKS) &&
	    role == ROLE_NOT_MEMBER) {
		demotion_post(&demotion, STEPDOWN_EV_HOOKS_DONE);
		return;
	}
	if (role == ROLE_LEADER && ok)
		candidacy_led_well(&candidacy);
	if (role == ROLE_LEADER && !ok && publisher.role == ROLE_LEADER &&
	    cfg->on_leader_failure == LEADER_FAILURE_RESIGN) {
		log_warnx("a leader hook failed: resigning so another node can lead");
		candidacy_own_resign(&candidacy);
		elect_resign(REASON_HOOK_FAILED, "leader hook failed");
	}
}

void elect_resign(enum km_reason reason, const char *why)
{
	if (cfg == NULL || demotion.phase != STEPDOWN_NONE || !is_candidate() ||
	    demotion_posted(&demotion, STEPDOWN_EV_RESIGN))
		return;
	log_notice("stepping down: %s", why);
	loss = reason;
	demotion_post(&demotion, STEPDOWN_EV_RESIGN);
}

static void set_withdrawn(unsigned reason, bool on, const char *what)
{
	unsigned before = withdrawn;

	if (cfg == NULL || !is_candidate())
		return;
	withdrawn = on ? withdrawn | reason : withdrawn & ~reason;
	if ((before != 0) == (withdrawn != 0))
		return;
	if (withdrawn) {
		log_notice("%s: withdrawing from the election", what);
		demotion_post(&demotion, STEPDOWN_EV_RESIGN);
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

void elect_set_check_passing(bool passing)
{
	set_withdrawn(WITHDRAW_UNHEALTHY, !passing,
	    passing ? "health check passing" : "health check failing");
}

void elect_stop(bool exiting, void (*done)(void *ud), void *ud)
{
	demotion_stop(&demotion, exiting, done, ud);
}

/* ---- session ------------------------------------------------------------- */

int elect_start(const struct config *c)
{
	cfg = c;
	withdrawn = 0;
	loss = REASON_STARTING;
	election_prefix = config_election_prefix(c, &election_prefix_len);

	view_init(&view, election_prefix, election_prefix_len, &view_events, NULL);
	/* A candidate compares the watch with its renewals; an observer has
	 * only the watch's own silence to go by. */
	view_set_staleness(&view, is_candidate() ? ttl_ms(c) : 3 * ttl_ms(c),
	    !is_candidate());
	lease_init(&lease, c, &lease_events, NULL);
	candidacy_init(&candidacy, c, &candidacy_events, NULL);
	publisher_init(&publisher, c, on_changed, NULL);
	handover_init(&handover, c, &view, &lease, &candidacy, election_prefix,
	    election_prefix_len, &handover_events, NULL);
	demotion_init(&demotion, c->hooks_timeout, &demotion_actions, NULL);

	if (is_candidate() && c->health_enabled)
		withdrawn |= WITHDRAW_UNHEALTHY;
	if (is_candidate() && state_paused(c->state_file))
		withdrawn |= WITHDRAW_PAUSED;
	if (withdrawn & WITHDRAW_PAUSED)
		log_notice("paused (%s.paused exists): not campaigning until resumed",
		    c->state_file);
	srandom((unsigned)(now_ms() ^ (uint64_t)getpid()));
	log_info("%s in election %s as '%s' (endpoints %s, TTL %" PRId64 " s)",
	    is_candidate() ? "campaigning" : "observing", election_prefix, c->node,
	    etcd_current_endpoint(), c->ttl);
	publisher_announce(&publisher);
	write_metrics();
	etcd_set_denied_handler(on_etcd_denied, NULL);
	view_start(&view);
	if (is_candidate())
		handover_start(&handover);
	campaign_step();
	loop_set_before_sleep(check_liveness);
	return 0;
}

void elect_set_config(const struct config *next)
{
	int r = publisher_set_config(&publisher, next, lease.deadline,
	    lease.renewed_sent);

	cfg = next;
	lease.cfg = next;
	demotion.hooks_timeout = next->hooks_timeout;
	candidacy_set_config(&candidacy, next);
	if (r < 0 && publisher.role == ROLE_LEADER) {
		candidacy_own_resign(&candidacy);
		elect_resign(REASON_STATE_UNWRITABLE, "state file cannot be written");
	}
}

void elect_free(void)
{
	loop_set_before_sleep(NULL);
	demotion_free(&demotion);
	handover_free(&handover);
	view_free(&view);
	publisher_free(&publisher);
	lease_free(&lease);
	candidacy_free(&candidacy);
	free(election_prefix);
	election_prefix = NULL;
	cfg = NULL;
	publisher.role = ROLE_NOT_MEMBER;
}

bool elect_session_alive(void)
{
	if (cfg == NULL)
		return false;
	if (is_candidate() && !withdrawn)
		return lease_valid(&lease, now_ms());
	/* Observers and withdrawn candidates hold no lease: a quiet election
	 * sends nothing, so judge by a live watch (it ends when its member
	 * loses quorum) over a view that was read successfully. */
	return view_watching(&view);
}

enum km_role elect_role(void)
{
	return publisher.role;
}
