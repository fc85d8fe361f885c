/*
 * decide.c - the role decision: who leads an election, and what that
 * makes us (see decide.h). Pure functions only.
 */
#include "decide.h"

#include <string.h>

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
		/* One txn can create several keys at one revision. */
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

/* What a node out of the election tells its service about why. */
static enum km_reason out_because(const struct decision_input *in)
{
	if (in->stopping)
		return REASON_STOPPING;
	if (in->withdrawn & WITHDRAW_PAUSED)
		return REASON_PAUSED;
	if (in->withdrawn & WITHDRAW_UNHEALTHY)
		return REASON_UNHEALTHY;
	/* An observer without a view, or anyone whose view misses keys:
	 * etcd cannot be read in full. */
	if (!in->stepping_down && (!in->candidate || in->view_incomplete))
		return REASON_ETCD_UNREACHABLE;
	if (!in->stepping_down && in->my_key && in->lease_deadline &&
	    in->now >= in->lease_deadline)
		return REASON_ETCD_UNREACHABLE;
	return in->loss != REASON_NONE ? in->loss : REASON_STARTING;
}

void decide_role(const struct decision_input *in, struct decision *out)
{
	const struct etcd_kv *low = election_leader(in->keys, in->n_keys);

	out->leader = low;
	out->term = low ? low->create_revision : 0;
	out->role = ROLE_NOT_MEMBER;
	out->resign = false;
	out->reason = REASON_NONE;
	if (in->stepping_down || in->view_incomplete)
		goto out;
	if (!in->candidate) {
		if (in->view_valid)
			out->role = ROLE_OBSERVER;
		goto out;
	}
	if (in->withdrawn || in->my_key == NULL || in->lease_deadline == 0 ||
	    in->now >= in->lease_deadline)
		goto out;
	out->role = election_role(in->keys, in->n_keys, in->view_revision,
	    in->my_key, in->my_key_len, in->my_create_revision);
	if (out->role == ROLE_LEADER && in->leader_file_failed) {
		/* A leader nobody can see is worse than none. */
		out->role = ROLE_NOT_MEMBER;
		out->resign = true;
		out->reason = REASON_STATE_UNWRITABLE;
		return;
	}
out:
	if (out->role == ROLE_NOT_MEMBER)
		out->reason = out_because(in);
}
