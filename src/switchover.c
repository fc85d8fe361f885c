/*
 * switchover.c - the switchover's pure decisions and its request format
 * (see switchover.h). No I/O: kingsmootctl (ctl_switchover.c) and the
 * daemon (handover.c) gather the facts and act on the answers.
 */
#include "switchover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "decide.h"
#include "state.h"

int switchover_request_key(const char *prefix, const char *service,
    char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s%s%s", prefix, service,
	    SWITCHOVER_KEY_SUFFIX);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

char *switchover_request_format(const struct switchover_request *r,
    const char *node)
{
	char shown[3 * STATE_MAX_VALUE];
	json_t *obj;
	char *text;

	/* JSON wants UTF-8; a node id may be any bytes. */
	if (state_encode_value(node, shown, sizeof(shown)) < 0)
		snprintf(shown, sizeof(shown), "?");
	obj = json_pack("{s:I,s:I,s:s}", "term", (json_int_t)r->term,
	    "target", (json_int_t)r->target, "node", shown);
	if (obj == NULL)
		return NULL;
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return text;
}

int switchover_request_parse(const char *value, size_t len,
    struct switchover_request *r)
{
	json_t *obj;
	int e;

	memset(r, 0, sizeof(*r));
	if (len == 0 || len > SWITCHOVER_REQUEST_MAX)
		return -EPROTO;
	obj = json_loadb(value, len, JSON_REJECT_DUPLICATES, NULL);
	e = json_is_object(obj) && etcd_json_int64(obj, "term", &r->term) == 0 &&
	    etcd_json_int64(obj, "target", &r->target) == 0 ? 0 : -EPROTO;
	json_decref(obj);
	/* The target queued behind the leader: a later create revision. */
	if (e == 0 && !(r->term > 0 && r->target > r->term))
		e = -EPROTO;
	if (e < 0)
		memset(r, 0, sizeof(*r));
	return e;
}

bool election_ahead(const struct etcd_kv *a, const struct etcd_kv *b)
{
	size_t common;
	int cmp;

	if (a->create_revision != b->create_revision)
		return a->create_revision < b->create_revision;
	/* One txn can create several keys at one revision. */
	common = a->key_len < b->key_len ? a->key_len : b->key_len;
	cmp = memcmp(a->key, b->key, common);
	return cmp < 0 || (cmp == 0 && a->key_len < b->key_len);
}

/* The first key in election order with create revision rev. */
static const struct etcd_kv *find_revision(const struct etcd_kv *keys,
    size_t n, int64_t rev)
{
	const struct etcd_kv *found = NULL;

	for (size_t i = 0; i < n; i++)
		if (keys[i].create_revision == rev &&
		    (found == NULL || election_ahead(&keys[i], found)))
			found = &keys[i];
	return found;
}

/* The first key in election order between leader and target, or NULL. */
static const struct etcd_kv *first_between(const struct etcd_kv *keys,
    size_t n, const struct etcd_kv *leader, const struct etcd_kv *target)
{
	const struct etcd_kv *first = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct etcd_kv *k = &keys[i];

		if (election_ahead(leader, k) && election_ahead(k, target) &&
		    (first == NULL || election_ahead(k, first)))
			first = k;
	}
	return first;
}

enum switchover_target switchover_pick_target(const struct etcd_kv *keys,
    size_t n, const char *node, const struct etcd_kv **leader,
    const struct etcd_kv **target)
{
	const struct etcd_kv *lead = election_leader(keys, n), *pick = NULL;

	*leader = lead;
	*target = NULL;
	if (lead == NULL)
		return TARGET_NO_LEADER;
	for (size_t i = 0; i < n; i++) {
		const struct etcd_kv *k = &keys[i];

		if (node != NULL ? strcmp(k->value, node) != 0 : k == lead)
			continue;
		if (pick == NULL || election_ahead(k, pick))
			pick = k;
	}
	*target = pick;
	if (pick == NULL)
		return node != NULL ? TARGET_UNKNOWN : TARGET_NOBODY_NEXT;
	return pick == lead ? TARGET_LEADS : TARGET_FOUND;
}

enum switchover_action switchover_decide(const struct switchover_request *r,
    const struct etcd_kv *keys, size_t n, const char *my_key,
    size_t my_key_len, int64_t my_rev)
{
	const struct etcd_kv *leader = election_leader(keys, n), *target, *mine;

	if (leader == NULL || leader->create_revision != r->term || my_key == NULL)
		return SWITCHOVER_NOTHING;
	target = find_revision(keys, n, r->target);
	if (target == NULL || target == leader)
		return SWITCHOVER_NOTHING;
	mine = NULL;
	for (size_t i = 0; i < n; i++)
		if (keys[i].key_len == my_key_len &&
		    memcmp(keys[i].key, my_key, my_key_len) == 0)
			mine = &keys[i];
	/* Only the key we made counts: an older one by our name is not us. */
	if (mine == NULL || mine->create_revision != my_rev)
		return SWITCHOVER_NOTHING;
	if (mine == leader)
		return first_between(keys, n, leader, target) == NULL ?
		    SWITCHOVER_RESIGN : SWITCHOVER_NOTHING;
	if (election_ahead(leader, mine) && election_ahead(mine, target))
		return SWITCHOVER_STEP_BACK;
	return SWITCHOVER_NOTHING;
}

enum switchover_progress switchover_progress(const struct switchover_request *r,
    const struct etcd_kv *keys, size_t n, bool grace_over,
    const struct etcd_kv **who)
{
	const struct etcd_kv *leader = election_leader(keys, n), *target;

	target = find_revision(keys, n, r->target);
	*who = leader;
	if (target != NULL && target == leader)
		return SWITCHOVER_DONE;
	if (target == NULL)
		return SWITCHOVER_TARGET_LEFT;
	/* With the target in the election, there is a leader. */
	if (leader->create_revision != r->term)
		return SWITCHOVER_OVERTAKEN;
	*who = first_between(keys, n, leader, target);
	return *who != NULL && grace_over ? SWITCHOVER_BLOCKED : SWITCHOVER_WAITING;
}
