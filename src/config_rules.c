/*
 * config_rules.c - the rules that tie keys together; everything about a
 * key on its own is in the table (config_keys.c).
 *
 *  - keys that only make sense as a pair: etcd.username with
 *    etcd.password_file, etcd.cert_file with etcd.key_file;
 *  - the lease timing of DESIGN section 2.3:
 *    0 < margin < ttl, and ttl/3 + 2*request_timeout + margin <= ttl;
 *  - 0 < health.timeout <= health.interval.
 *
 * A rule broken by two keys is blamed on the one the operator wrote, so
 * that the message points at a line they can change.
 */
#include "config_internal.h"

#include "util.h"

static const struct {
	enum key_id first, second;
} pairs[] = {
	{ K_USERNAME, K_PASSWORD_FILE },
	{ K_CERT_FILE, K_KEY_FILE },
};

static int check_pairs(struct config_draft *d)
{
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		enum key_id a = pairs[i].first, b = pairs[i].second;
		bool has_a = *d->value[a].text != '\0';
		bool has_b = *d->value[b].text != '\0';

		if (has_a && !has_b)
			return draft_fail_key(d, a, "is set but '%s' is not",
			    config_keys[b].name);
		if (has_b && !has_a)
			return draft_fail_key(d, b, "is set but '%s' is not",
			    config_keys[a].name);
	}
	return 0;
}

static int check_lease_timing(struct config_draft *d)
{
	int64_t ttl = d->value[K_TTL].integer;
	double request_timeout = d->value[K_REQUEST_TIMEOUT].seconds;
	double margin = d->value[K_MARGIN].seconds;
	double need;
	enum key_id blame;

	/*
	 * The bound against ttl only speaks for itself when margin was
	 * written; a default margin that is too large for the ttl is the
	 * ttl's fault and the inequality below says so.
	 */
	if (!(margin > 0) ||
	    (draft_given(d, K_MARGIN) && !(margin < (double)ttl)))
		return draft_fail_key(d, K_MARGIN,
		    "must be greater than 0 and less than lease.ttl (%lld)",
		    (long long)ttl);

	/*
	 * DESIGN 2.3: a keepalive goes out every ttl/3; if it is lost, the
	 * retry on the next endpoint may take two request timeouts, and the
	 * leader still needs margin in hand before its local deadline.  The
	 * epsilon keeps decimal settings that meet the bound exactly from
	 * failing on binary rounding.
	 */
	need = (double)ttl / 3.0 + 2.0 * request_timeout + margin;
	if (need <= (double)ttl + 1e-9)
		return 0;
	if (draft_given(d, K_TTL))
		blame = K_TTL;
	else if (draft_given(d, K_MARGIN))
		blame = K_MARGIN;
	else if (draft_given(d, K_REQUEST_TIMEOUT))
		blame = K_REQUEST_TIMEOUT;
	else
		blame = K_TTL;
	return draft_fail_at(d, blame, "lease.ttl %lld is too short: ttl/3 + "
	    "2*request_timeout + margin = %.2f s exceeds ttl (raise ttl or "
	    "lower etcd.request_timeout or lease.margin)", (long long)ttl,
	    need);
}

static int check_health_timing(struct config_draft *d)
{
	double interval = d->value[K_HEALTH_INTERVAL].seconds;
	double timeout = d->value[K_HEALTH_TIMEOUT].seconds;

	/* Without the group there is no check, and these are defaults. */
	if (d->value[K_HEALTH].setting == NULL)
		return 0;
	if (timeout > 0 && timeout <= interval)
		return 0;
	if (!draft_given(d, K_HEALTH_TIMEOUT) && timeout > 0)
		return draft_fail_key(d, K_HEALTH_INTERVAL,
		    "must be at least health.timeout (%g)", timeout);
	return draft_fail_key(d, K_HEALTH_TIMEOUT,
	    "must be greater than 0 and at most health.interval (%g)",
	    interval);
}

int rules_check(struct config_draft *d)
{
	int r;

	if ((r = check_pairs(d)) < 0 || (r = check_lease_timing(d)) < 0)
		return r;
	return check_health_timing(d);
}
