/*
 * lease.h - our etcd lease: grant, keepalive every TTL/3, and the local
 * deadline on CLOCK_BOOTTIME past which we vouch for nothing (DESIGN 2).
 *
 * Leases given up while etcd may still hold them are remembered and
 * revoked once etcd answers again, so their keys do not stand in front
 * of our new one.
 */
#ifndef KM_LEASE_H
#define KM_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "etcd.h"
#include "loop.h"
#include "state.h"

#define LEASES_ABANDONED_MAX 8

struct lease_events {
	/* A lease was granted: false means it is not wanted any more, and
	 * it is revoked; otherwise granted() follows, renewals armed. */
	bool (*wanted)(void *ud);
	void (*granted)(void *ud);
	void (*grant_failed)(const struct etcd_result *res, void *ud);
	/* A keepalive answered (the deadline moved) or failed (it did not). */
	void (*renewal)(void *ud);
	/* The lease is given up: whatever hung on it is gone. reason says why
	 * (REASON_NONE: for a cause the owner already knows). */
	void (*dropped)(enum km_reason reason, void *ud);
};

struct lease {
	const struct config *cfg;
	int64_t id;                     /* 0 without a lease */
	uint64_t deadline;              /* CLOCK_BOOTTIME ms; 0 without a lease */
	uint64_t renewed_sent;          /* the send time the deadline counts from */
	uint64_t grant_sent, keepalive_sent;
	bool ttl_clamp_logged;
	int64_t etcd_revision;          /* header.revision of the last renewal */
	struct etcd_call *grant_call, *keepalive_call, *revoke_call;
	struct loop_timer keepalive_timer, deadline_timer;
	struct abandoned_lease {
		int64_t id;
		bool revoke_pending;
		struct etcd_call *revoke_call;
	} abandoned[LEASES_ABANDONED_MAX];
	unsigned n_abandoned;
	void (*revoked)(void *ud);

	const struct lease_events *events;
	void *ud;
};

void lease_init(struct lease *l, const struct config *cfg,
    const struct lease_events *events, void *ud);
/* Ask for a lease; -EIO when the request could not even be started. */
int lease_grant(struct lease *l);
/* Forget the lease locally; revoke it when etcd may still hold it. */
void lease_drop(struct lease *l, enum km_reason reason, const char *why,
    bool revoke);
/* Stop renewing and revoke, for a clean exit. revoked() runs from the
 * loop once etcd answered or failed; -EIO if nothing could be sent. */
int lease_revoke(struct lease *l, void (*revoked)(void *ud));
/*
 * Our key now hangs on lease id, granted with ttl by a request sent at
 * granted_sent, instead of on the current lease (a switchover's step
 * back): renew id from now on, with the deadline counted from its grant,
 * and revoke the old one. Nothing is dropped: no dropped() event.
 */
void lease_replace(struct lease *l, int64_t id, int64_t ttl,
    uint64_t granted_sent);
/* Another lease of ours that holds nothing we want: revoke it, now or
 * once etcd answers again. */
void lease_abandon(struct lease *l, int64_t id);
/* A lease of ours that we gave up (its key is no other daemon's). */
bool lease_abandoned(const struct lease *l, int64_t id);
bool lease_valid(const struct lease *l, uint64_t now);
/* Seconds until the deadline; 0 without a lease or once it has passed. */
double lease_remaining_s(const struct lease *l, uint64_t now);
void lease_free(struct lease *l);

#endif
