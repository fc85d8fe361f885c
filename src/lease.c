/*
 * lease.c - our lease (see lease.h): grant, keepalive, deadline, revoke.
 */
#include "lease.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define KEEPALIVE_RETRY_MS 250

static bool not_found(const struct etcd_result *res)
{
	return res->err == -EREMOTEIO && res->error.grpc_code == 5;
}

static void abandoned_revoke_done(const struct etcd_result *res, void *ud)
{
	struct abandoned_lease *a = ud;

	a->revoke_call = NULL;
	/* "Not found" is as good as revoked. */
	if (res->err == 0 || not_found(res))
		a->revoke_pending = false;
}

/* etcd restores leases at full TTL after a restart: an abandoned one may
 * outlive us there. Revoke it as soon as etcd answers again. */
static void revoke_abandoned(struct lease *l)
{
	for (unsigned i = 0; i < LEASES_ABANDONED_MAX; i++) {
		struct abandoned_lease *a = &l->abandoned[i];

		if (a->revoke_pending && a->revoke_call == NULL)
			a->revoke_call = etcd_call("/v3/lease/revoke",
			    etcd_req_lease_id(a->id), abandoned_revoke_done, a);
	}
}

static void remember_abandoned(struct lease *l, int64_t id, bool revoke)
{
	struct abandoned_lease *a = &l->abandoned[l->n_abandoned++ %
	    LEASES_ABANDONED_MAX];

	/* The oldest is forgotten; its answer must not land on the new one. */
	etcd_call_cancel(a->revoke_call);
	a->revoke_call = NULL;
	a->id = id;
	a->revoke_pending = revoke;
}

bool lease_abandoned(const struct lease *l, int64_t id)
{
	for (unsigned i = 0; i < LEASES_ABANDONED_MAX; i++)
		if (id != 0 && l->abandoned[i].id == id)
			return true;
	return false;
}

static void cancel_call(struct etcd_call **call)
{
	etcd_call_cancel(*call);
	*call = NULL;
}

static void stop_renewing(struct lease *l)
{
	cancel_call(&l->keepalive_call);
	loop_timer_disarm(&l->keepalive_timer);
	loop_timer_disarm(&l->deadline_timer);
}

void lease_drop(struct lease *l, enum km_reason reason, const char *why,
    bool revoke)
{
	if (l->id == 0)
		return;
	log_warnx("giving up lease %" PRIx64 ": %s", (uint64_t)l->id, why);
	remember_abandoned(l, l->id, revoke);
	if (revoke)
		revoke_abandoned(l);
	stop_renewing(l);
	l->id = 0;
	l->deadline = 0;
	l->events->dropped(reason, l->ud);
}

static void arm_renewal(struct lease *l, uint64_t sent, int64_t ttl)
{
	uint64_t margin = sec_to_ms(l->cfg->margin);
	uint64_t ttl_ms;

	/* etcd grants and renews the TTL we asked for. A larger one is a
	 * fault or tampering, and trusting it would stretch the deadline,
	 * and VALID_UNTIL, beyond what etcd keeps the lease for. */
	if (ttl > l->cfg->ttl) {
		if (!l->ttl_clamp_logged)
			log_warnx("etcd reports TTL %" PRId64 " s for lease %" PRIx64
			    ", more than the %" PRId64 " s asked for; using %" PRId64 " s",
			    ttl, (uint64_t)l->id, l->cfg->ttl, l->cfg->ttl);
		l->ttl_clamp_logged = true;
		ttl = l->cfg->ttl;
	}
	ttl_ms = (uint64_t)ttl * 1000u;

	/* etcd cannot expire the lease before sent + TTL. */
	l->renewed_sent = sent;
	l->deadline = sent + ttl_ms - (margin < ttl_ms ? margin : ttl_ms);
	loop_timer_arm_at(&l->deadline_timer, l->deadline);
	loop_timer_arm_at(&l->keepalive_timer, sent + ttl_ms / 3);
}

void lease_replace(struct lease *l, int64_t id, int64_t ttl,
    uint64_t granted_sent)
{
	int64_t old = l->id;

	stop_renewing(l);
	/* It holds nothing now, but etcd would keep it for a TTL. */
	if (old != 0) {
		remember_abandoned(l, old, true);
		revoke_abandoned(l);
	}
	l->id = id;
	l->ttl_clamp_logged = false;
	log_info("lease %" PRIx64 " replaces lease %" PRIx64, (uint64_t)id,
	    (uint64_t)old);
	arm_renewal(l, granted_sent, ttl);
}

void lease_abandon(struct lease *l, int64_t id)
{
	if (id == 0 || id == l->id)
		return;
	remember_abandoned(l, id, true);
	revoke_abandoned(l);
}

static void deadline_passed(void *ud)
{
	lease_drop(ud, REASON_ETCD_UNREACHABLE,
	    "lease deadline passed without a renewal", true);
}

static void keepalive_done(const struct etcd_result *res, void *ud)
{
	struct lease *l = ud;
	uint64_t ttl_ms = (uint64_t)l->cfg->ttl * 1000u;
	int64_t ttl = 0, revision = 0;

	l->keepalive_call = NULL;
	if (res->err == 0 && etcd_parse_keepalive_answer(res->body, res->text,
	    res->text_len, l->id, &ttl, &revision) == 0) {
		if (ttl <= 0) {
			lease_drop(l, REASON_LEASE_LOST, "etcd says the lease is gone",
			    false);
			return;
		}
		metrics_observe_keepalive((double)(now_ms() - l->keepalive_sent) / 1000.0);
		arm_renewal(l, l->keepalive_sent, ttl);
		l->etcd_revision = revision;
		l->events->renewal(l->ud);
		return;
	}
	log_warnx("lease keepalive failed (%s): %s", res->endpoint,
	    res->err == 0 ? "malformed answer" : res->error.message);
	/* Retry soon; the deadline timer decides when it is too late. */
	loop_timer_arm_in(&l->keepalive_timer,
	    KEEPALIVE_RETRY_MS < ttl_ms / 3 ? KEEPALIVE_RETRY_MS : ttl_ms / 3);
	l->events->renewal(l->ud);
}

static void keepalive_tick(void *ud)
{
	struct lease *l = ud;
	char body[ETCD_KEEPALIVE_REQ_MAX];

	if (l->id == 0 || l->keepalive_call)
		return;
	l->keepalive_sent = now_ms();
	etcd_req_keepalive_text(l->id, body);
	l->keepalive_call = etcd_call_text("/v3/lease/keepalive", body,
	    keepalive_done, l);
	if (l->keepalive_call == NULL)
		loop_timer_arm_in(&l->keepalive_timer, KEEPALIVE_RETRY_MS);
}

static void grant_done(const struct etcd_result *res, void *ud)
{
	struct lease *l = ud;
	int64_t id, ttl;

	l->grant_call = NULL;
	if (res->err != 0 || etcd_parse_grant(res->body, &id, &ttl) < 0) {
		l->events->grant_failed(res, l->ud);
		return;
	}
	if (!l->events->wanted(l->ud)) {
		(void)etcd_call("/v3/lease/revoke", etcd_req_lease_id(id), NULL, NULL);
		return;
	}
	revoke_abandoned(l);
	l->id = id;
	l->ttl_clamp_logged = false;
	log_debug("granted lease %" PRIx64 " with TTL %" PRId64 " s", (uint64_t)id, ttl);
	arm_renewal(l, l->grant_sent, ttl);
	l->events->granted(l->ud);
}

int lease_grant(struct lease *l)
{
	if (l->grant_call)
		return 0;
	l->grant_sent = now_ms();
	l->grant_call = etcd_call("/v3/lease/grant", etcd_req_grant(l->cfg->ttl),
	    grant_done, l);
	return l->grant_call ? 0 : -EIO;
}

static void revoke_done(const struct etcd_result *res, void *ud)
{
	struct lease *l = ud;

	l->revoke_call = NULL;
	if (res->err != 0 && !not_found(res))
		log_warnx("revoking lease %" PRIx64 " failed: %s; it expires by itself",
		    (uint64_t)l->id, res->error.message);
	l->revoked(l->ud);
}

int lease_revoke(struct lease *l, void (*revoked)(void *ud))
{
	cancel_call(&l->grant_call);
	stop_renewing(l);
	if (l->id == 0)
		return -ENOENT;
	l->revoked = revoked;
	l->revoke_call = etcd_call("/v3/lease/revoke", etcd_req_lease_id(l->id),
	    revoke_done, l);
	return l->revoke_call ? 0 : -EIO;
}

bool lease_valid(const struct lease *l, uint64_t now)
{
	return l->id != 0 && l->deadline != 0 && now < l->deadline;
}

double lease_remaining_s(const struct lease *l, uint64_t now)
{
	return lease_valid(l, now) ? (double)(l->deadline - now) / 1000.0 : 0.0;
}

void lease_init(struct lease *l, const struct config *cfg,
    const struct lease_events *events, void *ud)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->events = events;
	l->ud = ud;
	loop_timer_init(&l->keepalive_timer, keepalive_tick, l);
	loop_timer_init(&l->deadline_timer, deadline_passed, l);
}

void lease_free(struct lease *l)
{
	stop_renewing(l);
	cancel_call(&l->grant_call);
	cancel_call(&l->revoke_call);
	for (unsigned i = 0; i < LEASES_ABANDONED_MAX; i++)
		cancel_call(&l->abandoned[i].revoke_call);
}
