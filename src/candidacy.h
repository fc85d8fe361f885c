/*
 * candidacy.h - our candidate key "<prefix><service>/<lease hex>": made
 * in a txn only if absent, attached to our lease, holding our node id;
 * checked against what etcd shows; deleted to re-queue. And the pace of
 * the campaign: a lease, then the key, with a capped back-off after
 * failures.
 *
 * Also warns when another live key carries our node id: two daemons with
 * one identity confuse every reader (DESIGN 1).
 */
#ifndef KM_CANDIDACY_H
#define KM_CANDIDACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "etcd.h"
#include "lease.h"
#include "loop.h"

struct candidacy_events {
	void (*created)(void *ud);
	void (*create_failed)(const struct etcd_result *res, void *ud);
	/* Our key name stands with another lease, or etcd lost our lease:
	 * only a new lease helps. revoke: etcd may still hold the lease. */
	void (*lease_unusable)(const char *why, bool revoke, void *ud);
	void (*deleted)(bool ok, void *ud);
	/* The back-off is over: campaign again. */
	void (*retry)(void *ud);
};

struct candidacy {
	const char *node;               /* our identity, borrowed */
	char *key;                      /* NULL without a lease */
	size_t key_len;
	int64_t lease_id;
	int64_t create_revision;        /* 0 until the txn says so */
	struct etcd_call *create_call, *delete_call;
	int64_t duplicate_warned_rev;
	struct loop_timer retry_timer;
	int failures;                   /* grants and creates failed in a row */
	int own_resigns;                /* resigns of our own making in a row */
	bool hold_after_resign;         /* the current resign is one of them */
	/* The permission probe: a checked read of our key, every probe_every_ms
	 * (0: never) while it stands. */
	uint64_t probe_every_ms;
	struct loop_timer probe_timer;
	struct etcd_call *probe_call;

	const struct candidacy_events *events;
	void *ud;
};

enum key_check { KEY_OURS, KEY_GONE, KEY_CHANGED };

/* Takes its identity and its permission probe from cfg. */
void candidacy_init(struct candidacy *c, const struct config *cfg,
    const struct candidacy_events *events, void *ud);
/* The key name follows from the lease; forget any earlier key. */
void candidacy_set_lease(struct candidacy *c, const char *prefix,
    size_t prefix_len, int64_t lease_id);
void candidacy_clear(struct candidacy *c);
/* etcd checks a keepalive against no permission, and a watch only when it
 * is made: with authentication on, a candidate whose rights to the
 * election were taken away would not hear of it while it leads. Every
 * every_ms (0: never) while our key stands it is read, count only; a
 * refusal reaches etcd's denied handler (etcd_set_denied_handler) as any
 * other does. */
void candidacy_set_probe(struct candidacy *c, uint64_t every_ms);
/* A new configuration: our node name, and the probe every lease.ttl when
 * etcd.username is set (never otherwise). */
void candidacy_set_config(struct candidacy *c, const struct config *cfg);
/* Our key is now the one of lease_id, made elsewhere at create_revision
 * (a switchover's step back); forget the earlier one. */
void candidacy_adopt(struct candidacy *c, const char *prefix,
    size_t prefix_len, int64_t lease_id, int64_t create_revision);
/* The next step: a lease, then our key; nothing while a request is out
 * or the back-off runs. -EIO: the request could not be sent, and the
 * back-off runs. */
int candidacy_campaign(struct candidacy *c, struct lease *l);
/* A grant or create failed: log it and back off. */
void candidacy_failed(struct candidacy *c, const char *what,
    const struct etcd_result *res);
/* Hold the next step back for ms; 0 cancels a hold or back-off. */
void candidacy_hold_off(struct candidacy *c, uint64_t ms);
/* A resign of our own making (a failing leader hook or state file) is
 * under way: when it is over, the next campaign waits, longer each time
 * in a row, so that a lone node does not flap at full speed. A leader
 * whose hooks passed ends the run. */
void candidacy_own_resign(struct candidacy *c);
void candidacy_resign_over(struct candidacy *c);
void candidacy_led_well(struct candidacy *c);
/* A request of the campaign is out, or its back-off runs. */
bool candidacy_under_way(const struct candidacy *c, const struct lease *l);
int candidacy_delete(struct candidacy *c);
/* Our key as etcd has it now (NULL: absent). */
enum key_check candidacy_check(const struct candidacy *c,
    const struct etcd_kv *kv);
/* The same, acted on: a key gone is forgotten (to be made again), a key
 * changed is logged and its create revision taken, so that a resign
 * deletes what stands there now. KEY_OURS while there is nothing to
 * check: no key yet, or its creation still out. */
enum key_check candidacy_reconcile(struct candidacy *c, const struct etcd_kv *kv);
/* An event for our key name that may concern the current key. */
bool candidacy_event_is_ours(const struct candidacy *c,
    const struct etcd_event *ev);
/* Warn once per foreign key that carries our node id. ignore_lease tells
 * our own abandoned leases apart. */
void candidacy_warn_duplicates(struct candidacy *c, const struct etcd_kv *keys,
    size_t n, bool (*ignore_lease)(int64_t lease, void *ud), void *ud);
void candidacy_free(struct candidacy *c);

#endif
