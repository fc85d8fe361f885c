/*
 * candidacy.h - our candidate key "<prefix><service>/<lease hex>": made
 * in a txn only if absent, attached to our lease, holding our node id;
 * checked against what etcd shows; deleted to re-queue.
 *
 * Also warns when another live key carries our node id: two daemons with
 * one identity confuse every reader (DESIGN 1).
 */
#ifndef KM_CANDIDACY_H
#define KM_CANDIDACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"

struct candidacy_events {
	void (*created)(void *ud);
	void (*create_failed)(const struct etcd_result *res, void *ud);
	/* Our key name stands with another lease, or etcd lost our lease:
	 * only a new lease helps. revoke: etcd may still hold the lease. */
	void (*lease_unusable)(const char *why, bool revoke, void *ud);
	void (*deleted)(bool ok, void *ud);
};

struct candidacy {
	const char *node;               /* our identity, borrowed */
	char *key;                      /* NULL without a lease */
	size_t key_len;
	int64_t lease_id;
	int64_t create_revision;        /* 0 until the txn says so */
	struct etcd_call *create_call, *delete_call;
	int64_t duplicate_warned_rev;

	const struct candidacy_events *events;
	void *ud;
};

enum key_check { KEY_OURS, KEY_GONE, KEY_CHANGED };

void candidacy_init(struct candidacy *c, const char *node,
    const struct candidacy_events *events, void *ud);
/* The key name follows from the lease; forget any earlier key. */
void candidacy_set_lease(struct candidacy *c, const char *prefix,
    size_t prefix_len, int64_t lease_id);
void candidacy_clear(struct candidacy *c);
int candidacy_create(struct candidacy *c);
int candidacy_delete(struct candidacy *c);
/* Our key as etcd has it now (NULL: absent). */
enum key_check candidacy_check(const struct candidacy *c,
    const struct etcd_kv *kv);
/* An event for our key name that may concern the current key. */
bool candidacy_event_is_ours(const struct candidacy *c,
    const struct etcd_event *ev);
/* Warn once per foreign key that carries our node id. ignore_lease tells
 * our own abandoned leases apart. */
void candidacy_warn_duplicates(struct candidacy *c, const struct etcd_kv *keys,
    size_t n, bool (*ignore_lease)(int64_t lease, void *ud), void *ud);
void candidacy_free(struct candidacy *c);

#endif
