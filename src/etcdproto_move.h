/*
 * etcdproto_move.h - the etcd messages of moving a candidate key: one txn
 * that, while every guarded key still has the create revision it had,
 * puts a new key and deletes the old one, so that a candidate moves in
 * the queue without a moment out of it. No I/O, like etcdproto.h.
 */
#ifndef KM_ETCDPROTO_MOVE_H
#define KM_ETCDPROTO_MOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define ETCD_MOVE_MAX_GUARDS 4

/* A key that must have this create revision (0: be absent). */
struct etcd_guard {
	const char *key;
	size_t key_len;
	int64_t create_revision;
};

/* If every guard holds, put new_key = value on lease and delete old_key,
 * in this order: a watch shows the new key first. NULL for more than
 * ETCD_MOVE_MAX_GUARDS guards. */
json_t *etcd_req_move_key(const struct etcd_guard *guards, size_t n_guards,
    const char *new_key, size_t new_len, const char *value, size_t value_len,
    int64_t lease, const char *old_key, size_t old_len);
/* A txn's answer: whether it succeeded, and at which revision. 0, or
 * -EPROTO for a malformed body. */
int etcd_parse_txn(json_t *body, bool *succeeded, int64_t *revision);

#endif
