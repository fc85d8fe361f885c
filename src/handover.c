/*
 * handover.c - a candidate's part in a switchover (see handover.h): the
 * request's view, and the step back with its lease, txn and adoption.
 * What to do about a request is switchover_decide()'s (switchover.c).
 */
#include "handover.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdproto_move.h"
#include "log.h"
#include "util.h"

static const struct etcd_kv *election_key(const struct handover *h,
    int64_t create_revision)
{
	const struct etcd_kv *found = NULL;

	for (size_t i = 0; i < h->election->n_keys; i++) {
		const struct etcd_kv *k = &h->election->keys[i];

		if (k->create_revision == create_revision &&
		    (found == NULL || election_ahead(k, found)))
			found = k;
	}
	return found;
}

/* The target's node id, for the log: whatever etcd holds, encoded. */
static const char *target_shown(const struct handover *h, char *buf,
    size_t len)
{
	const struct etcd_kv *t = election_key(h, h->request.target);

	if (t == NULL || state_encode_value(t->value, buf, len) < 0)
		snprintf(buf, len, "revision %" PRId64, h->request.target);
	return buf;
}

/* ---- the request ---------------------------------------------------------- */

static void request_changed(void *ud)
{
	struct handover *h = ud;
	const struct election_view *v = &h->request_view;
	const struct etcd_kv *kv = v->n_keys ? &v->keys[0] : NULL;
	int64_t before = h->request_revision;

	if (kv == NULL) {
		h->request_revision = 0;
	} else if (kv->mod_revision != before) {
		if (switchover_request_parse(kv->value, kv->value_len,
		    &h->request) == 0) {
			h->request_revision = kv->mod_revision;
			log_info("switchover requested: term %" PRId64 " hands "
			    "over to the candidate of revision %" PRId64,
			    h->request.term, h->request.target);
		} else {
			/* Logged once per version of the key. */
			if (before != -kv->mod_revision)
				log_warnx("%s holds no valid switchover request; "
				    "ignored", h->request_key);
			h->request_revision = -kv->mod_revision;
		}
	}
	if (h->request_revision != before)
		h->events->changed(h->ud);
}

static void request_event(const struct etcd_event *ev, void *ud)
{
}

static void request_synced(void *ud)
{
}

static void request_sync_failed(void *ud)
{
}

static const struct view_events request_events = {
	.event = request_event, .synced = request_synced,
	.changed = request_changed, .sync_failed = request_sync_failed,
};

/* ---- the step back --------------------------------------------------------- */

static void move_clear(struct handover *h)
{
	etcd_call_cancel(h->move.call);
	free(h->move.key);
	memset(&h->move, 0, sizeof(h->move));
}

/* Our new key stands at revision rev: it is our candidacy now. */
static void settle(struct handover *h, int64_t rev)
{
	if (!h->move.lease_moved)
		lease_replace(h->lease, h->move.lease_id, h->move.ttl,
		    h->move.grant_sent);
	candidacy_adopt(h->candidacy, h->election_prefix,
	    h->election_prefix_len, h->move.lease_id, rev);
	move_clear(h);
}

/* The step back did not happen: give its lease up, keep the old key. */
static void give_up(struct handover *h, const char *why)
{
	log_warnx("switchover: stepping back failed: %s; staying where we are",
	    why);
	lease_abandon(h->lease, h->move.lease_id);
	move_clear(h);
	h->events->check_key(h->ud);
}

static void move_done(const struct etcd_result *res, void *ud)
{
	struct handover *h = ud;
	bool succeeded;
	int64_t rev;

	h->move.call = NULL;
	if (res->err != 0 || etcd_parse_txn(res->body, &succeeded, &rev) < 0) {
		/* Perhaps applied: our old key is then gone, and the view
		 * says so once the step back no longer sets it aside. */
		give_up(h, res->err ? res->error.message : "malformed answer");
		return;
	}
	if (!succeeded) {
		give_up(h, "the queue changed meanwhile");
		return;
	}
	/* Renew the new lease from now on; the key is adopted when the
	 * view shows it, so that our role is decided on a view that has it. */
	lease_replace(h->lease, h->move.lease_id, h->move.ttl, h->move.grant_sent);
	h->move.lease_moved = true;
	h->move.revision = rev;
	h->move.phase = MOVE_SETTLING;
	if (h->election->revision >= rev) {
		handover_view_synced(h);
		h->events->check_key(h->ud);
	}
}

static int commit(struct handover *h)
{
	const struct etcd_kv *leader = election_key(h, h->request.term);
	const struct etcd_kv *target = election_key(h, h->request.target);
	struct candidacy *c = h->candidacy;
	char name[32];
	size_t name_len;

	if (leader == NULL || target == NULL || c->key == NULL)
		return -ESTALE;
	name_len = (size_t)snprintf(name, sizeof(name), "%" PRIx64,
	    (uint64_t)h->move.lease_id);
	h->move.key_len = h->election_prefix_len + name_len;
	h->move.key = xcalloc(h->move.key_len + 1, 1);
	memcpy(h->move.key, h->election_prefix, h->election_prefix_len);
	memcpy(h->move.key + h->election_prefix_len, name, name_len);
	{
		const struct etcd_guard guards[] = {
			{ c->key, c->key_len, c->create_revision },
			{ h->move.key, h->move.key_len, 0 },
			{ leader->key, leader->key_len, leader->create_revision },
			{ target->key, target->key_len, target->create_revision },
		};

		h->move.call = etcd_call("/v3/kv/txn", etcd_req_move_key(guards,
		    ARRAY_SIZE(guards), h->move.key, h->move.key_len, c->node,
		    strlen(c->node), h->move.lease_id, c->key, c->key_len),
		    move_done, h);
	}
	if (h->move.call == NULL)
		return -EIO;
	h->move.phase = MOVE_COMMITTING;
	return 0;
}

static void grant_done(const struct etcd_result *res, void *ud)
{
	struct handover *h = ud;
	int64_t id, ttl;
	int r;

	h->move.call = NULL;
	if (res->err != 0 || etcd_parse_grant(res->body, &id, &ttl) < 0) {
		log_warnx("switchover: stepping back failed: lease grant: %s",
		    res->err ? res->error.message : "malformed answer");
		move_clear(h);
		return;
	}
	h->move.lease_id = id;
	h->move.ttl = ttl < h->ttl ? ttl : h->ttl;
	/* Still asked of us? The txn's guards would refuse it otherwise. */
	r = switchover_decide(&h->request, h->election->keys,
	    h->election->n_keys, h->candidacy->key, h->candidacy->key_len,
	    h->candidacy->create_revision) == SWITCHOVER_STEP_BACK &&
	    h->request_revision > 0 ? commit(h) : -ESTALE;
	if (r < 0)
		give_up(h, r == -ESTALE ? "no longer asked to" : "no request sent");
}

static void step_back(struct handover *h)
{
	char shown[3 * STATE_MAX_VALUE];

	log_notice("switchover to '%s': stepping back behind it",
	    target_shown(h, shown, sizeof(shown)));
	h->move.phase = MOVE_GRANTING;
	h->move.grant_sent = now_ms();
	h->move.call = etcd_call("/v3/lease/grant", etcd_req_grant(h->ttl),
	    grant_done, h);
	if (h->move.call == NULL) {
		log_warnx("switchover: stepping back failed: no request sent");
		move_clear(h);
	}
}

/* ---- what the session asks ------------------------------------------------- */

enum switchover_action handover_next(struct handover *h, enum km_role role,
    bool free_to_act)
{
	enum switchover_action a;
	char shown[3 * STATE_MAX_VALUE];

	if (h->request_revision <= 0 || h->acted_on == h->request_revision ||
	    h->move.phase != MOVE_NONE || !free_to_act || !h->election->complete)
		return SWITCHOVER_NOTHING;
	a = switchover_decide(&h->request, h->election->keys, h->election->n_keys,
	    h->candidacy->key, h->candidacy->key_len,
	    h->candidacy->create_revision);
	if ((a == SWITCHOVER_RESIGN && role != ROLE_LEADER) ||
	    (a == SWITCHOVER_STEP_BACK && role != ROLE_FOLLOWER))
		return SWITCHOVER_NOTHING;
	if (a == SWITCHOVER_NOTHING)
		return a;
	h->acted_on = h->request_revision;
	if (a == SWITCHOVER_STEP_BACK)
		step_back(h);
	else
		log_notice("switchover to '%s': it is next in line, handing over",
		    target_shown(h, shown, sizeof(shown)));
	return a;
}

static bool is_new_key(const struct handover *h, const struct etcd_kv *kv)
{
	return h->move.key != NULL && kv->key_len == h->move.key_len &&
	    memcmp(kv->key, h->move.key, kv->key_len) == 0 &&
	    kv->lease == h->move.lease_id;
}

bool handover_view_event(struct handover *h, const struct etcd_event *ev)
{
	const struct candidacy *c = h->candidacy;

	if (h->move.phase != MOVE_COMMITTING && h->move.phase != MOVE_SETTLING)
		return false;
	if (ev->type == ETCD_EVENT_PUT && is_new_key(h, &ev->kv)) {
		settle(h, ev->kv.create_revision);
		return true;
	}
	/* The txn deletes the old key at the revision that puts the new. */
	return c->key != NULL && ev->kv.key_len == c->key_len &&
	    memcmp(ev->kv.key, c->key, c->key_len) == 0;
}

void handover_view_synced(struct handover *h)
{
	const struct etcd_kv *kv;

	if (h->move.phase != MOVE_COMMITTING && h->move.phase != MOVE_SETTLING)
		return;
	kv = view_find(h->election, h->move.key, h->move.key_len);
	if (kv != NULL && is_new_key(h, kv))
		settle(h, kv->create_revision);
	else if (h->move.phase == MOVE_SETTLING &&
	    h->election->revision >= h->move.revision)
		/* Gone already: the caller's check of our key will see it. */
		settle(h, h->move.revision);
}

void handover_abort(struct handover *h)
{
	switch (h->move.phase) {
	case MOVE_NONE:
		return;
	case MOVE_GRANTING:
		/* A lease granted after this holds nothing and expires. */
		move_clear(h);
		return;
	case MOVE_COMMITTING:
		/* Should the txn still apply, our old key is gone with it and
		 * the new one with this lease. */
		log_info("switchover: step back cut short");
		lease_abandon(h->lease, h->move.lease_id);
		move_clear(h);
		return;
	case MOVE_SETTLING:
		settle(h, h->move.revision);
		return;
	}
}

bool handover_busy(const struct handover *h)
{
	return h->move.phase != MOVE_NONE;
}

bool handover_owns_lease(const struct handover *h, int64_t lease)
{
	return lease != 0 && h->move.phase != MOVE_NONE &&
	    lease == h->move.lease_id;
}

/* ---- session ---------------------------------------------------------------- */

void handover_init(struct handover *h, const struct config *cfg,
    const struct election_view *election, struct lease *lease,
    struct candidacy *candidacy, const char *election_prefix,
    size_t election_prefix_len, const struct handover_events *events,
    void *ud)
{
	size_t len = strlen(cfg->prefix) + strlen(cfg->service) +
	    sizeof(SWITCHOVER_KEY_SUFFIX);

	memset(h, 0, sizeof(*h));
	/* A changed ttl, prefix or service makes a new session. */
	h->ttl = cfg->ttl;
	h->election = election;
	h->lease = lease;
	h->candidacy = candidacy;
	h->election_prefix = election_prefix;
	h->election_prefix_len = election_prefix_len;
	h->events = events;
	h->ud = ud;
	h->request_key = xcalloc(len, 1);
	(void)switchover_request_key(cfg->prefix, cfg->service, h->request_key,
	    len);
	view_init_key(&h->request_view, h->request_key, strlen(h->request_key),
	    "switchover request", &request_events, h);
}

void handover_start(struct handover *h)
{
	view_start(&h->request_view);
}

void handover_follow_endpoint(struct handover *h)
{
	view_follow_endpoint(&h->request_view);
}

void handover_free(struct handover *h)
{
	move_clear(h);
	view_free(&h->request_view);
	free(h->request_key);
	h->request_key = NULL;
}
