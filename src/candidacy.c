/*
 * candidacy.c - our candidate key (see candidacy.h).
 */
#include "candidacy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"
#include "util.h"

static void retry_fired(void *ud)
{
	struct candidacy *c = ud;

	c->events->retry(c->ud);
}

static void probe_done(const struct etcd_result *res, void *ud)
{
	struct candidacy *c = ud;

	c->probe_call = NULL;
	if (res->err)
		log_debug("reading our key %s to check our rights failed: %s", c->key,
		    res->error.message);
}

static void probe_fired(void *ud)
{
	struct candidacy *c = ud;

	if (c->key == NULL || c->create_revision == 0 || c->probe_every_ms == 0)
		return;
	if (c->probe_call == NULL)
		c->probe_call = etcd_call("/v3/kv/range",
		    etcd_req_count_key(c->key, c->key_len), probe_done, c);
	loop_timer_arm_in(&c->probe_timer, c->probe_every_ms);
}

/* Our key stands (again): the next probe one period from now. */
static void probe_arm(struct candidacy *c)
{
	if (c->probe_every_ms)
		loop_timer_arm_in(&c->probe_timer, c->probe_every_ms);
}

void candidacy_set_probe(struct candidacy *c, uint64_t every_ms)
{
	c->probe_every_ms = every_ms;
	if (every_ms == 0)
		loop_timer_disarm(&c->probe_timer);
	else if (c->create_revision && !c->probe_timer.armed)
		probe_arm(c);
}

void candidacy_set_config(struct candidacy *c, const struct config *cfg)
{
	c->node = cfg->node;
	candidacy_set_probe(c, cfg->username[0] ? (uint64_t)cfg->ttl * 1000u : 0);
}

void candidacy_init(struct candidacy *c, const struct config *cfg,
    const struct candidacy_events *events, void *ud)
{
	memset(c, 0, sizeof(*c));
	c->events = events;
	c->ud = ud;
	loop_timer_init(&c->retry_timer, retry_fired, c);
	loop_timer_init(&c->probe_timer, probe_fired, c);
	candidacy_set_config(c, cfg);
}

static void cancel_call(struct etcd_call **call)
{
	etcd_call_cancel(*call);
	*call = NULL;
}

void candidacy_clear(struct candidacy *c)
{
	cancel_call(&c->create_call);
	cancel_call(&c->probe_call);
	loop_timer_disarm(&c->probe_timer);
	free(c->key);
	c->key = NULL;
	c->key_len = 0;
	c->lease_id = 0;
	c->create_revision = 0;
}

void candidacy_set_lease(struct candidacy *c, const char *prefix,
    size_t prefix_len, int64_t lease_id)
{
	char name[32];
	size_t name_len;

	candidacy_clear(c);
	name_len = (size_t)snprintf(name, sizeof(name), "%" PRIx64, (uint64_t)lease_id);
	c->key_len = prefix_len + name_len;
	c->key = xcalloc(c->key_len + 1, 1);
	memcpy(c->key, prefix, prefix_len);
	memcpy(c->key + prefix_len, name, name_len);
	c->lease_id = lease_id;
}

void candidacy_adopt(struct candidacy *c, const char *prefix,
    size_t prefix_len, int64_t lease_id, int64_t create_revision)
{
	candidacy_set_lease(c, prefix, prefix_len, lease_id);
	c->create_revision = create_revision;
	c->failures = 0;
	probe_arm(c);
	log_info("campaigning as %s (create revision %" PRId64 ")", c->key,
	    create_revision);
}

static void create_done(const struct etcd_result *res, void *ud)
{
	struct candidacy *c = ud;
	bool created;
	int64_t rev, lease;

	c->create_call = NULL;
	if (res->err == 0 && etcd_parse_create(res->body, &created, &rev, &lease) == 0) {
		if (!created && lease != c->lease_id) {
			/* Someone else wrote a key with our lease's name. */
			c->events->lease_unusable("our key name is taken by another lease",
			    true, c->ud);
			return;
		}
		c->create_revision = rev;
		c->failures = 0;
		probe_arm(c);
		log_info("campaigning as %s (create revision %" PRId64 ")", c->key, rev);
		c->events->created(c->ud);
		return;
	}
	if (res->err == -EREMOTEIO && res->error.grpc_code == 5) {
		c->events->lease_unusable("etcd does not know the lease", false, c->ud);
		return;
	}
	c->events->create_failed(res, c->ud);
}

void candidacy_failed(struct candidacy *c, const char *what,
    const struct etcd_result *res)
{
	uint64_t delay = backoff_ms(c->failures++);

	log_warnx("%s failed (%s): %s; retrying in %" PRIu64 " ms", what,
	    res ? res->endpoint : etcd_current_endpoint(),
	    res ? (res->err == 0 ? "malformed answer" : res->error.message) : "no request",
	    delay);
	loop_timer_arm_in(&c->retry_timer, delay);
}

void candidacy_hold_off(struct candidacy *c, uint64_t ms)
{
	if (ms == 0)
		loop_timer_disarm(&c->retry_timer);
	else
		loop_timer_arm_in(&c->retry_timer, ms);
}

void candidacy_own_resign(struct candidacy *c)
{
	c->hold_after_resign = true;
}

void candidacy_resign_over(struct candidacy *c)
{
	if (!c->hold_after_resign)
		return;
	c->hold_after_resign = false;
	candidacy_hold_off(c, backoff_ms(c->own_resigns++));
}

void candidacy_led_well(struct candidacy *c)
{
	c->own_resigns = 0;
}

bool candidacy_under_way(const struct candidacy *c, const struct lease *l)
{
	return l->grant_call || c->create_call || c->delete_call ||
	    c->retry_timer.armed;
}

int candidacy_campaign(struct candidacy *c, struct lease *l)
{
	if (candidacy_under_way(c, l))
		return 0;
	if (l->id == 0) {
		if (lease_grant(l) == 0)
			return 0;
		candidacy_failed(c, "lease grant", NULL);
		return -EIO;
	}
	if (c->create_revision != 0 || c->key == NULL)
		return 0;
	c->create_call = etcd_call("/v3/kv/txn",
	    etcd_req_create_if_absent(c->key, c->key_len, c->node, strlen(c->node),
	    c->lease_id), create_done, c);
	if (c->create_call)
		return 0;
	candidacy_failed(c, "creating the candidate key", NULL);
	return -EIO;
}

static void delete_done(const struct etcd_result *res, void *ud)
{
	struct candidacy *c = ud;

	c->delete_call = NULL;
	if (res->err == 0)
		c->create_revision = 0;
	c->events->deleted(res->err == 0, c->ud);
}

int candidacy_delete(struct candidacy *c)
{
	cancel_call(&c->delete_call);
	c->delete_call = etcd_call("/v3/kv/txn",
	    etcd_req_delete_if_created(c->key, c->key_len, c->create_revision),
	    delete_done, c);
	return c->delete_call ? 0 : -EIO;
}

enum key_check candidacy_check(const struct candidacy *c,
    const struct etcd_kv *kv)
{
	if (kv == NULL)
		return KEY_GONE;
	if (kv->create_revision != c->create_revision || kv->lease != c->lease_id ||
	    strcmp(kv->value, c->node) != 0)
		return KEY_CHANGED;
	return KEY_OURS;
}

enum key_check candidacy_reconcile(struct candidacy *c, const struct etcd_kv *kv)
{
	enum key_check what;

	if (c->create_revision == 0 || c->create_call)
		return KEY_OURS;
	what = candidacy_check(c, kv);
	if (what == KEY_GONE) {
		log_warnx("our key %s was deleted in etcd", c->key);
		c->create_revision = 0;
	} else if (what == KEY_CHANGED) {
		log_warnx("our key %s was changed in etcd; stepping down", c->key);
		c->create_revision = kv->create_revision;
	}
	return what;
}

bool candidacy_event_is_ours(const struct candidacy *c,
    const struct etcd_event *ev)
{
	if (c->key == NULL || ev->kv.key_len != c->key_len ||
	    memcmp(ev->kv.key, c->key, c->key_len) != 0)
		return false;
	/* An event of an earlier key by the same name (we re-create it after
	 * a resign) says nothing about the current one. */
	return ev->kv.mod_revision == 0 || ev->kv.mod_revision >= c->create_revision;
}

void candidacy_warn_duplicates(struct candidacy *c, const struct etcd_kv *keys,
    size_t n, bool (*ignore_lease)(int64_t lease, void *ud), void *ud)
{
	char shown[3 * STATE_MAX_VALUE];

	for (size_t i = 0; i < n; i++) {
		const struct etcd_kv *kv = &keys[i];

		if (strcmp(kv->value, c->node) != 0 ||
		    (c->key && strcmp(kv->key, c->key) == 0) ||
		    ignore_lease(kv->lease, ud) ||
		    kv->create_revision == c->duplicate_warned_rev)
			continue;
		/* Our own key is only known once the txn answered. */
		if (c->create_call || (c->lease_id && kv->lease == c->lease_id))
			continue;
		c->duplicate_warned_rev = kv->create_revision;
		if (state_encode_value(kv->key, shown, sizeof(shown)) < 0)
			snprintf(shown, sizeof(shown), "?");
		log_warnx("another live candidate %s already uses node id '%s': two "
		    "daemons with one identity confuse every reader", shown,
		    c->node);
	}
}

void candidacy_free(struct candidacy *c)
{
	loop_timer_disarm(&c->retry_timer);
	candidacy_clear(c);
	cancel_call(&c->delete_call);
}
