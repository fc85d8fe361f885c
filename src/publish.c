/*
 * publish.c - the publisher (see publish.h): the state file first, then
 * the hooks, then STATUS=, and one machine-readable log line per write.
 */
#include "publish.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "util.h"

static void news_fired(void *ud)
{
	struct publisher *p = ud;

	p->news_ready = true;
	p->news_due(p->news_ud);
}

void publisher_init(struct publisher *p, const struct config *cfg,
    void (*news_due)(void *ud), void *ud)
{
	struct state st;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->news_due = news_due;
	p->news_ud = ud;
	loop_timer_init(&p->news_timer, news_fired, p);
	p->role = ROLE_NOT_MEMBER;
	p->since = now_unix();
	/* The daemon writes not_member before the session starts; if that
	 * failed, the first update must try again. */
	p->file_stale = !(state_read(cfg->state_file, &st) == 0 &&
	    st.role == ROLE_NOT_MEMBER && st.pid == getpid());
}

void publisher_announce(const struct publisher *p)
{
	const char *service = p->cfg->service;

	switch (p->role) {
	case ROLE_LEADER:
		notify_status("leader of %s (term %" PRId64 ")", service, p->term);
		break;
	case ROLE_FOLLOWER:
		notify_status("follower of %s (leader %s, term %" PRId64 ")",
		    service, p->leader_shown, p->term);
		break;
	case ROLE_OBSERVER:
		notify_status("observer of %s (leader %s, term %" PRId64 ")",
		    service, p->leader[0] ? p->leader_shown : "none", p->term);
		break;
	default:
		notify_status("not_member of %s (%s)", service,
		    p->reason != REASON_NONE ? reason_name(p->reason) : "starting");
		break;
	}
}

/*
 * One line per write, so that histories from several nodes can be checked
 * against each other: what was published, and the keepalive send time a
 * leader's deadline was derived from.
 */
static void log_published(const struct state *st, bool transition,
    uint64_t renewed_sent)
{
	char leader[3 * STATE_MAX_VALUE];

	if (state_encode_value(st->leader, leader, sizeof(leader)) < 0)
		snprintf(leader, sizeof(leader), "?");
	(transition ? log_info : log_debug)(
	    "published role=%s term=%" PRId64 " leader=%s since=%.3f "
	    "valid_until=%.3f renewed_at=%.3f", role_name(st->role), st->term,
	    leader, st->since, st->valid_until,
	    st->role == ROLE_LEADER ? boottime_to_unix(renewed_sent) : 0.0);
}

static int write_state(struct publisher *p, const struct publication *next,
    double since)
{
	const struct config *cfg = p->cfg;
	bool leads = next->role == ROLE_LEADER;
	struct state st;
	int r;

	memset(&st, 0, sizeof(st));
	st.role = next->role;
	snprintf(st.service, sizeof(st.service), "%s", cfg->service);
	snprintf(st.node, sizeof(st.node), "%s", cfg->node);
	snprintf(st.leader, sizeof(st.leader), "%s", next->leader);
	st.term = next->term;
	st.since = since;
	st.valid_until = leads ? boottime_to_unix(next->deadline) : 0;
	st.pid = getpid();
	st.reason = next->reason;
	r = state_write_by(cfg->state_file, &st, leads ? next->deadline : 0);
	if (r == -ETIME) {
		/* Not the file's fault: the caller decides again, without the
		 * leadership that ran out while this write was under way. */
		log_warnx("lease deadline passed while the state file was written; "
		    "leader not published");
		p->file_stale = true;
		return r;
	}
	if (r < 0) {
		/* Retried on every update; one error line per outage. */
		(p->file_stale ? log_debug : log_err)("cannot write state file "
		    "%s: %s", cfg->state_file, strerror(-r));
		metrics.state_write_failures++;
		p->file_stale = true;
		return r;
	}
	if (p->file_stale)
		log_notice("state file %s written again", cfg->state_file);
	p->file_stale = false;
	p->file_leader_until = leads ? next->deadline : 0;
	p->writes++;
	log_published(&st, next->role != p->role, next->renewed_sent);
	return 0;
}

/* The hooks for the role just published, called as HOOK ROLE PREVIOUS. */
static void run_hooks(const struct publisher *p, enum km_role previous)
{
	struct hook_env env = {
		.role = p->role, .previous_role = previous,
		.service = p->cfg->service, .node = p->cfg->node,
		.leader = p->leader, .term = p->term,
		.state_file = p->cfg->state_file,
		.reason = reason_name(p->reason),
	};

	hooks_transition(&env);
}

/*
 * A follower or observer whose leader or term changed runs its hooks
 * again, as "follower follower" ("observer observer"), so that a replica
 * learns whom to follow without polling (DESIGN 3). A leader's term only
 * changes with its role, and a not_member acts on nothing.
 */
static bool hooks_for_new_leader(const struct publisher *p)
{
	return p->cfg->hooks_leader_change &&
	    (p->role == ROLE_FOLLOWER || p->role == ROLE_OBSERVER);
}

void publisher_free(struct publisher *p)
{
	loop_timer_disarm(&p->news_timer);
}

/*
 * True while news for a follower or observer (its role and reason the
 * same, its leader or term new) should wait: from the first update that
 * brings it, for PUBLISH_NEWS_DELAY_MS.
 */
static bool news_waits(struct publisher *p, const struct publication *next,
    bool changed)
{
	bool news = changed && next->role == p->role && next->reason == p->reason &&
	    (p->role == ROLE_FOLLOWER || p->role == ROLE_OBSERVER) &&
	    !p->file_stale && p->news_due != NULL;

	if (!news || p->news_ready) {
		loop_timer_disarm(&p->news_timer);
		p->news_ready = false;
		return false;
	}
	if (!p->news_timer.armed)
		loop_timer_arm_in(&p->news_timer, PUBLISH_NEWS_DELAY_MS);
	return true;
}

int publish(struct publisher *p, const struct publication *next)
{
	bool role_changed = next->role != p->role;
	/* p->leader holds at most STATE_MAX_VALUE - 1 bytes of a longer one. */
	bool changed = role_changed || next->term != p->term ||
	    next->reason != p->reason ||
	    strncmp(next->leader, p->leader, sizeof(p->leader) - 1) != 0;
	bool renewed = next->role == ROLE_LEADER &&
	    next->deadline != p->file_leader_until;
	enum km_role previous = p->role;
	int64_t previous_term = p->term;
	char previous_leader[STATE_MAX_VALUE];
	double since;
	int r;

	if (news_waits(p, next, changed))
		return 0;
	if (!changed && !p->file_stale && !renewed)
		return 0;
	since = role_changed ? now_unix() : p->since;
	r = write_state(p, next, since);
	if (r < 0 && next->role == ROLE_LEADER)
		return r;
	if (!changed)
		return 0;
	memcpy(previous_leader, p->leader, sizeof(previous_leader));
	p->role = next->role;
	p->since = since;
	p->term = next->term;
	p->reason = next->reason;
	snprintf(p->leader, sizeof(p->leader), "%s", next->leader);
	/* A candidate's value is whatever any etcd client wrote. */
	if (state_encode_value(p->leader, p->leader_shown,
	    sizeof(p->leader_shown)) < 0)
		snprintf(p->leader_shown, sizeof(p->leader_shown), "?");
	if (role_changed) {
		/* A non-leader role is taken even when the file could not say
		 * so (the write is retried); the log must not pretend. */
		metrics.transitions[p->role]++;
		log_info("role %s -> %s (leader '%s', term %" PRId64 ")%s",
		    role_name(previous), role_name(p->role), p->leader_shown, p->term,
		    r < 0 ? " [state file not written]" : "");
		run_hooks(p, previous);
	} else if (next->term != previous_term ||
	    strcmp(p->leader, previous_leader) != 0) {
		/* News to a follower or observer; a not_member acts on nothing. */
		(p->role == ROLE_NOT_MEMBER ? log_debug : log_info)(
		    "leader of %s is now '%s' (term %" PRId64 ")",
		    p->cfg->service, p->leader_shown, p->term);
		if (hooks_for_new_leader(p))
			run_hooks(p, p->role);
	}
	publisher_announce(p);
	return 0;
}

int publisher_set_config(struct publisher *p, const struct config *cfg,
    uint64_t deadline, uint64_t renewed_sent)
{
	bool moved = strcmp(p->cfg->state_file, cfg->state_file) != 0;
	struct publication now = {
		.role = p->role, .leader = p->leader, .term = p->term,
		.reason = p->reason, .deadline = deadline,
		.renewed_sent = renewed_sent,
	};
	struct state old;

	/* The old file must not go on claiming a role nobody renews. */
	if (moved && state_read(p->cfg->state_file, &old) == 0 &&
	    old.pid == getpid() && old.role != ROLE_NOT_MEMBER) {
		old.role = ROLE_NOT_MEMBER;
		old.leader[0] = '\0';
		old.term = 0;
		old.valid_until = 0;
		/* Nothing will maintain it, and nothing is left to clean up. */
		old.reason = REASON_STOPPED;
		old.since = now_unix();
		if (state_write(p->cfg->state_file, &old) < 0)
			log_warnx("could not retire the old state file %s",
			    p->cfg->state_file);
	}
	p->cfg = cfg;
	/* Publish at the new path at once, not at the next change. */
	if (moved && write_state(p, &now, p->since) < 0 && p->role == ROLE_LEADER)
		return -EIO;
	return 0;
}
