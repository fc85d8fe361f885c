/*
 * view.c - the view of one election, or of one key (see view.h): the
 * range, the watch, and the re-sync after a watch is lost.
 */
#include "view.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* The keys are kept in etcd's order, by bytes, so that an election of
 * thousands of keys costs O(log n) per event rather than O(n): any etcd
 * client can fill it, and a daemon busy for seconds would lose its lease. */
static int key_order(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (c != 0)
		return c;
	return (a_len > b_len) - (a_len < b_len);
}

static int kv_order(const void *a, const void *b)
{
	const struct etcd_kv *x = a, *y = b;

	return key_order(x->key, x->key_len, y->key, y->key_len);
}

/* The index of key, or of the place it would take. */
static size_t lower_bound(const struct etcd_kv *keys, size_t n, const char *key,
    size_t len, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_order(keys[mid].key, keys[mid].key_len, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < n && key_order(keys[lo].key, keys[lo].key_len, key, len) == 0;
	return lo;
}

static struct etcd_kv *find(const struct election_view *v, const char *key,
    size_t len)
{
	bool found;
	size_t i = lower_bound(v->keys, v->n_keys, key, len, &found);

	return found ? &v->keys[i] : NULL;
}

const struct etcd_kv *view_find(const struct election_view *v,
    const char *key, size_t len)
{
	return find(v, key, len);
}

static void clear_keys(struct election_view *v)
{
	etcd_kvs_free(v->keys, v->n_keys);
	v->keys = NULL;
	v->n_keys = 0;
	v->keys_cap = 0;
}

static void delete_key(struct election_view *v, const char *key, size_t len)
{
	bool found;
	size_t i = lower_bound(v->keys, v->n_keys, key, len, &found);

	if (!found)
		return;
	etcd_kv_clear(&v->keys[i]);
	memmove(&v->keys[i], &v->keys[i + 1], (v->n_keys - i - 1) * sizeof(*v->keys));
	v->n_keys--;
}

static void cut(char **text, size_t *len, size_t max)
{
	char *shorter;

	if (*len <= max)
		return;
	shorter = realloc(*text, max + 1);
	if (shorter)
		*text = shorter;
	(*text)[max] = '\0';
	*len = max;
}

/* Memory stays bounded whatever the outside writes. */
static void bound_kv(struct etcd_kv *kv)
{
	cut(&kv->key, &kv->key_len, VIEW_KEY_MAX);
	cut(&kv->value, &kv->value_len, VIEW_VALUE_MAX);
}

/* Takes ownership of kv's buffers. */
static void put_key(struct election_view *v, struct etcd_kv *kv)
{
	bool found;
	size_t i = lower_bound(v->keys, v->n_keys, kv->key, kv->key_len, &found);

	if (found) {
		etcd_kv_clear(&v->keys[i]);
		v->keys[i] = *kv;
	} else if (v->n_keys < ETCD_MAX_KVS) {
		if (v->n_keys == v->keys_cap) {
			size_t cap = v->keys_cap ? 2 * v->keys_cap : 16;
			struct etcd_kv *p = realloc(v->keys, cap * sizeof(*p));

			if (p == NULL) {
				etcd_kv_clear(kv);
				return;
			}
			v->keys = p;
			v->keys_cap = cap;
		}
		memmove(&v->keys[i + 1], &v->keys[i], (v->n_keys - i) * sizeof(*v->keys));
		v->keys[i] = *kv;
		v->n_keys++;
	} else {
		log_warnx("election %s holds more than %d candidates: the view is "
		    "incomplete until it has fewer", v->prefix, ETCD_MAX_KVS);
		etcd_kv_clear(kv);
		v->complete = false;
		return;
	}
	memset(kv, 0, sizeof(*kv));
}

static void sync_start(struct election_view *v);

/* The watch is fresh again: wait for the next reason to doubt it. */
static void watch_fresh(struct election_view *v)
{
	v->owed_revision = 0;
	if (v->silence_is_stale && v->stale_after_ms && v->watch)
		loop_timer_arm_in(&v->stale_timer, v->stale_after_ms);
	else
		loop_timer_disarm(&v->stale_timer);
}

static void stale_fired(void *ud)
{
	struct election_view *v = ud;

	if (v->owed_revision)
		log_info("%s watch has not shown revision %" PRId64 " %.1f s "
		    "after etcd reported it; reading the %s again", v->what,
		    v->owed_revision, (double)v->stale_after_ms / 1000.0, v->what);
	else
		log_debug("%s watch silent for %.1f s; reading the %s again",
		    v->what, (double)v->stale_after_ms / 1000.0, v->what);
	etcd_watch_stop(v->watch);
	v->watch = NULL;
	v->owed_revision = 0;
	v->resync_for_staleness = true;
	sync_start(v);
}

void view_set_staleness(struct election_view *v, uint64_t stale_after_ms,
    bool silence_is_stale)
{
	v->stale_after_ms = stale_after_ms;
	v->silence_is_stale = silence_is_stale;
	watch_fresh(v);
}

void view_etcd_revision(struct election_view *v, int64_t revision)
{
	if (v->stale_after_ms == 0 || v->watch == NULL || revision <= v->revision ||
	    v->stale_timer.armed)
		return;
	v->owed_revision = revision;
	loop_timer_arm_in(&v->stale_timer, v->stale_after_ms);
}

/* Changes a re-read found that the watch had not shown: keys added,
 * removed or rewritten. Both lists are in key order: on a shared etcd this
 * runs once per TTL, and an election may hold thousands of keys. */
static size_t changes_missed(const struct etcd_kv *old, size_t n_old,
    const struct etcd_kv *now, size_t n_now)
{
	size_t same = 0;

	for (size_t i = 0; i < n_now; i++) {
		bool found;
		size_t j = lower_bound(old, n_old, now[i].key, now[i].key_len, &found);

		if (found && old[j].mod_revision == now[i].mod_revision)
			same++;
	}
	return (n_now - same) + (n_old - same);
}

/* A watch that dies as soon as it starts must not spin us, even though
 * each range before it succeeds. */
static void resync_after_watch_loss(struct election_view *v)
{
	if (now_ms() - v->watch_started < 1000) {
		loop_timer_arm_in(&v->sync_timer, backoff_ms(v->watch_quick_deaths++));
		return;
	}
	v->watch_quick_deaths = 0;
	sync_start(v);
}

/* In one-key mode the range and the watch cover every key that starts
 * with the key's name: only the key itself counts. */
static bool counted(const struct election_view *v, const struct etcd_kv *kv)
{
	return !v->one_key || (kv->key_len == v->prefix_len &&
	    memcmp(kv->key, v->prefix, v->prefix_len) == 0);
}

static void keep_counted(const struct election_view *v, struct etcd_kv *kvs,
    size_t *n)
{
	size_t kept = 0;

	for (size_t i = 0; i < *n; i++) {
		if (counted(v, &kvs[i]))
			kvs[kept++] = kvs[i];
		else
			etcd_kv_clear(&kvs[i]);
	}
	*n = kept;
}

static void watch_message(const struct etcd_watch_msg *msg, void *ud)
{
	struct election_view *v = ud;

	if (msg->canceled) {
		log_warnx("%s watch cancelled%s%s (compact revision %" PRId64 ")",
		    v->what, msg->cancel_reason[0] ? ": " : "", msg->cancel_reason,
		    msg->compact_revision);
		etcd_watch_stop(v->watch);
		v->watch = NULL;
		loop_timer_disarm(&v->stale_timer);
		resync_after_watch_loss(v);
		return;
	}
	for (size_t i = 0; i < msg->n_events; i++) {
		const struct etcd_event *ev = &msg->events[i];
		struct etcd_kv kv;

		if (!counted(v, &ev->kv))
			continue;
		v->events->event(ev, v->ud);
		if (ev->type == ETCD_EVENT_DELETE) {
			delete_key(v, ev->kv.key, ev->kv.key_len < VIEW_KEY_MAX ?
			    ev->kv.key_len : VIEW_KEY_MAX);
			continue;
		}
		/* Keys and values may hold NUL bytes: copy them whole, up to
		 * what the view keeps. */
		kv = ev->kv;
		kv.key_len = ev->kv.key_len < VIEW_KEY_MAX ? ev->kv.key_len : VIEW_KEY_MAX;
		kv.key = xcalloc(kv.key_len + 1, 1);
		memcpy(kv.key, ev->kv.key, kv.key_len);
		kv.value_len = ev->kv.value_len < VIEW_VALUE_MAX ?
		    ev->kv.value_len : VIEW_VALUE_MAX;
		kv.value = xcalloc(kv.value_len + 1, 1);
		memcpy(kv.value, ev->kv.value, kv.value_len);
		put_key(v, &kv);
	}
	/* A watch started in the past is created at the store's current
	 * revision and replays the events up to it afterwards: its "created"
	 * message vouches for nothing. Events and progress notifications do. */
	if (msg->revision > v->revision && !msg->created)
		v->revision = msg->revision;
	if (v->silence_is_stale || (v->owed_revision && v->revision >= v->owed_revision))
		watch_fresh(v);
	if (!v->complete) {
		/* Read it all again, with the back-off of a failing range. */
		etcd_watch_stop(v->watch);
		v->watch = NULL;
		loop_timer_arm_in(&v->sync_timer, backoff_ms(v->sync_failures++));
	}
	v->events->changed(v->ud);
}

static void watch_ended(int err, const char *why, void *ud)
{
	struct election_view *v = ud;

	v->watch = NULL;
	loop_timer_disarm(&v->stale_timer);
	log_warnx("%s watch ended: %s", v->what, why);
	resync_after_watch_loss(v);
}

static void range_done(const struct etcd_result *res, void *ud)
{
	struct election_view *v = ud;
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	int r = -EPROTO;

	v->range_call = NULL;
	if (res->err == 0)
		r = etcd_parse_range(res->body, &rev, &kvs, &n);
	if (r < 0) {
		uint64_t delay = backoff_ms(v->sync_failures++);

		log_warnx("reading %s %s failed (%s): %s; retrying in %" PRIu64 " ms",
		    v->what, v->prefix, res->endpoint,
		    res->err ? res->error.message :
		    r == -E2BIG ? "too many candidates" : "malformed answer", delay);
		/* Only an observer has nothing else vouching for its view. */
		v->valid = false;
		if (r == -E2BIG)
			v->complete = false;
		loop_timer_arm_in(&v->sync_timer, delay);
		v->events->sync_failed(v->ud);
		v->events->changed(v->ud);
		return;
	}
	keep_counted(v, kvs, &n);
	for (size_t i = 0; i < n; i++)
		bound_kv(&kvs[i]);
	/* etcd answers in key order, but a key cut to VIEW_KEY_MAX may move. */
	if (n > 1)
		qsort(kvs, n, sizeof(*kvs), kv_order);
	if (v->resync_for_staleness) {
		size_t missed = changes_missed(v->keys, v->n_keys, kvs, n);

		if (missed)
			log_warnx("the %s watch had fallen behind: %zu change%s "
			    "it never showed", v->what, missed, missed == 1 ? "" : "s");
		v->resync_for_staleness = false;
	}
	clear_keys(v);
	v->keys = kvs;
	v->n_keys = n;
	v->keys_cap = n;
	v->revision = rev;
	v->valid = true;
	v->complete = true;
	v->sync_failures = 0;
	etcd_watch_stop(v->watch);
	v->watch_generation = etcd_endpoint_generation();
	v->watch_started = now_ms();
	v->watch = etcd_watch_start(v->prefix, v->prefix_len, rev + 1,
	    watch_message, watch_ended, v);
	if (v->watch == NULL)
		loop_timer_arm_in(&v->sync_timer, backoff_ms(v->sync_failures++));
	watch_fresh(v);
	v->events->synced(v->ud);
	v->events->changed(v->ud);
}

static void sync_start(struct election_view *v)
{
	if (v->range_call || v->sync_timer.armed || v->stopped)
		return;
	v->range_call = etcd_call("/v3/kv/range",
	    etcd_req_range_prefix(v->prefix, v->prefix_len), range_done, v);
	if (v->range_call == NULL)
		loop_timer_arm_in(&v->sync_timer, backoff_ms(v->sync_failures++));
}

static void sync_timer_fired(void *ud)
{
	sync_start(ud);
}

void view_init(struct election_view *v, const char *prefix, size_t prefix_len,
    const struct view_events *events, void *ud)
{
	memset(v, 0, sizeof(*v));
	v->prefix = prefix;
	v->prefix_len = prefix_len;
	v->events = events;
	v->ud = ud;
	v->complete = true;
	v->what = "election";
	loop_timer_init(&v->sync_timer, sync_timer_fired, v);
	loop_timer_init(&v->stale_timer, stale_fired, v);
}

void view_init_key(struct election_view *v, const char *key, size_t key_len,
    const char *what, const struct view_events *events, void *ud)
{
	view_init(v, key, key_len, events, ud);
	v->one_key = true;
	v->what = what;
}

void view_start(struct election_view *v)
{
	sync_start(v);
}

void view_follow_endpoint(struct election_view *v)
{
	if (v->watch == NULL || v->watch_generation == etcd_endpoint_generation())
		return;
	etcd_watch_stop(v->watch);
	v->watch = NULL;
	sync_start(v);
}

void view_stop(struct election_view *v)
{
	v->stopped = true;
}

void view_free(struct election_view *v)
{
	loop_timer_disarm(&v->sync_timer);
	loop_timer_disarm(&v->stale_timer);
	etcd_call_cancel(v->range_call);
	v->range_call = NULL;
	etcd_watch_stop(v->watch);
	v->watch = NULL;
	clear_keys(v);
}

bool view_watching(const struct election_view *v)
{
	return v->valid && v->watch != NULL;
}
