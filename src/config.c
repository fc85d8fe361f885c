/*
 * config.c - loading the configuration: the file and the command line
 * merged into one struct config, and the public API of config.h.
 *
 * A load works on a private draft (config_internal.h) in stages: read
 * the file (config_libconfig.c), walk its tree against the key table
 * (unknown keys, wrong types), apply the command line, then check each
 * key (config_keys.c), the rules between keys (config_rules.c) and last
 * the files named (readable).  Until the final copy into a struct config
 * every value points into the libconfig tree, the overrides or the
 * table, so an error anywhere frees one tree and nothing else.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "util.h"

/* ---- the file's tree ---- */

static int take_strings(struct config_draft *d, enum key_id k,
    config_setting_t *s)
{
	struct key_value *v = &d->value[k];
	size_t n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return draft_fail_setting(d, s,
		    "'%s' must be an array or list of strings",
		    config_keys[k].name);
	n = (size_t)config_setting_length(s);
	for (size_t i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		/* Element lines from libconfig 1.5 can be one off (it notes
		 * the line of the token after the element), so errors point
		 * at the key. */
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return draft_fail_setting(d, s,
			    "'%s' must be an array or list of strings",
			    config_keys[k].name);
		if (i < CONFIG_LIST_MAX)
			v->item[i] = config_setting_get_string(e);
	}
	v->n_items = n;
	return 0;
}

static int take_value(struct config_draft *d, enum key_id k,
    config_setting_t *s)
{
	const char *name = config_keys[k].name;
	struct key_value *v = &d->value[k];
	int type = config_setting_type(s);
	bool integer = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;

	switch (config_keys[k].type) {
	case KEY_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			return draft_fail_setting(d, s, "'%s' must be a group",
			    name);
		return 0;
	case KEY_STRING:
		if (type != CONFIG_TYPE_STRING)
			return draft_fail_setting(d, s,
			    "'%s' must be a string", name);
		v->text = config_setting_get_string(s);
		return 0;
	case KEY_INTEGER:
		if (!integer)
			return draft_fail_setting(d, s,
			    "'%s' must be an integer", name);
		v->integer = config_setting_get_int64(s);
		return 0;
	case KEY_SECONDS:
		if (type == CONFIG_TYPE_FLOAT)
			v->seconds = config_setting_get_float(s);
		else if (integer)
			v->seconds = (double)config_setting_get_int64(s);
		else
			return draft_fail_setting(d, s,
			    "'%s' must be a number of seconds", name);
		return 0;
	case KEY_STRINGS:
		return take_strings(d, k, s);
	case KEY_BOOLEAN:
		if (type != CONFIG_TYPE_BOOL)
			return draft_fail_setting(d, s,
			    "'%s' must be true or false", name);
		v->integer = config_setting_get_bool(s) ? 1 : 0;
		return 0;
	}
	return -EINVAL;
}

static int walk(struct config_draft *d, config_setting_t *group,
    enum key_id parent)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *s =
		    config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		enum key_id k = keys_find(parent, name);
		int r;

		if (k == K_ROOT)
			return draft_fail_setting(d, s, "unknown key '%s%s%s'",
			    config_keys[parent].name,
			    parent == K_ROOT ? "" : ".", name);
		if ((r = take_value(d, k, s)) < 0)
			return r;
		d->value[k].setting = s;
		if (config_keys[k].type == KEY_GROUP &&
		    (r = walk(d, s, k)) < 0)
			return r;
	}
	return 0;
}

/* ---- the command line ---- */

static int take_endpoint_list(struct config_draft *d, const char *list)
{
	struct key_value *v = &d->value[K_ENDPOINTS];
	char *p, *tok;
	size_t n = 0;

	v->option = "-e";
	free(d->option_endpoints);
	d->option_endpoints = p = xstrdup(list);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (*tok == '\0')
			return draft_fail(d, "-e", 0,
			    "empty element in endpoint list");
		if (n == KM_MAX_ENDPOINTS)
			return draft_fail(d, "-e", 0, "at most %d endpoints",
			    KM_MAX_ENDPOINTS);
		v->item[n++] = tok;
	}
	v->n_items = n;
	return 0;
}

static void take_option(struct config_draft *d, enum key_id k,
    const char *option, const char *text)
{
	if (text != NULL) {
		d->value[k].text = text;
		d->value[k].option = option;
	}
}

static int apply_overrides(struct config_draft *d,
    const struct config_overrides *ov)
{
	const struct config_key *ttl = &config_keys[K_TTL];
	int r;

	take_option(d, K_SERVICE, "-s", ov->service);
	take_option(d, K_NODE, "-i", ov->node);
	take_option(d, K_STATE_FILE, "-S", ov->state_file);
	take_option(d, K_HOOKS_DIR, "-H", ov->hooks_dir);
	if (ov->endpoints != NULL &&
	    (r = take_endpoint_list(d, ov->endpoints)) < 0)
		return r;
	if (ov->ttl != NULL) {
		d->value[K_TTL].option = "-t";
		if (parse_int64(ov->ttl, &d->value[K_TTL].integer) < 0)
			return draft_fail_key(d, K_TTL, "must be an integer "
			    "from %lld to %lld", (long long)ttl->min,
			    (long long)ttl->max);
	}
	return 0;
}

/* The one default not in the table: it is only known at run time. */
static int default_node(struct config_draft *d)
{
	if (d->value[K_NODE].text != NULL)
		return 0;
	if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0)
		return draft_fail_key(d, K_NODE,
		    "is not set and the host name is unknown: %s",
		    strerror(errno));
	d->value[K_NODE].text = d->hostname;
	return 0;
}

/* ---- the result ---- */

static void build(struct config_draft *d, struct config *cfg)
{
	const struct key_value *v = d->value;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = d->path != NULL ? xstrdup(d->path) : NULL;
	cfg->service = xstrdup(v[K_SERVICE].text);
	cfg->node = xstrdup(v[K_NODE].text);
	cfg->mode = (enum km_mode)keys_choice(d, K_MODE);
	for (size_t i = 0; i < v[K_ENDPOINTS].n_items; i++)
		cfg->endpoints[i] = xstrdup(v[K_ENDPOINTS].item[i]);
	cfg->n_endpoints = v[K_ENDPOINTS].n_items;
	cfg->prefix = xstrdup(v[K_PREFIX].text);
	cfg->request_timeout = v[K_REQUEST_TIMEOUT].seconds;
	cfg->username = xstrdup(v[K_USERNAME].text);
	cfg->password_file = xstrdup(v[K_PASSWORD_FILE].text);
	cfg->password = d->secret;
	d->secret = NULL;
	cfg->ca_file = xstrdup(v[K_CA_FILE].text);
	cfg->cert_file = xstrdup(v[K_CERT_FILE].text);
	cfg->key_file = xstrdup(v[K_KEY_FILE].text);
	cfg->ttl = v[K_TTL].integer;
	cfg->margin = v[K_MARGIN].seconds;
	cfg->state_file = xstrdup(v[K_STATE_FILE].text);
	cfg->metrics_file = xstrdup(v[K_METRICS_FILE].text);
	cfg->hooks_dir = xstrdup(v[K_HOOKS_DIR].text);
	cfg->hooks_timeout = v[K_HOOKS_TIMEOUT].seconds;
	cfg->on_leader_failure =
	    (enum km_leader_failure)keys_choice(d, K_ON_LEADER_FAILURE);
	cfg->hooks_leader_change = v[K_HOOKS_LEADER_CHANGE].integer != 0;
	/* The health defaults are kept even when disabled so that a
	 * reader never sees zero intervals. */
	cfg->health_enabled = v[K_HEALTH].setting != NULL;
	if (cfg->health_enabled)
		for (size_t i = 0; i < v[K_HEALTH_COMMAND].n_items; i++)
			cfg->health_command[i] =
			    xstrdup(v[K_HEALTH_COMMAND].item[i]);
	cfg->health_interval = v[K_HEALTH_INTERVAL].seconds;
	cfg->health_timeout = v[K_HEALTH_TIMEOUT].seconds;
	cfg->health_fall = (int)v[K_HEALTH_FALL].integer;
	cfg->health_rise = (int)v[K_HEALTH_RISE].integer;
}

static int load(struct config_draft *d, const struct config_overrides *ov)
{
	int r;

	if (ov->config_path != NULL) {
		d->path = ov->config_path;
	} else if (access(KM_DEFAULT_CONFIG, F_OK) == 0 || errno != ENOENT) {
		/* Present but unreadable is reported by the read below. */
		d->path = KM_DEFAULT_CONFIG;
	} else if (ov->service == NULL) {
		draft_fail(d, NULL, 0, "no configuration file (%s) and no -s "
		    "SERVICE", KM_DEFAULT_CONFIG);
		return -ENOENT;
	}
	if (d->path != NULL) {
		if ((r = libconfig_parse_file(d)) < 0)
			return r;
		r = walk(d, config_root_setting(&d->lc), K_ROOT);
		if (r < 0)
			return r;
	}
	if ((r = apply_overrides(d, ov)) < 0 || (r = default_node(d)) < 0 ||
	    (r = keys_check_values(d)) < 0 || (r = rules_check(d)) < 0)
		return r;
	return keys_check_files(d);
}

/*
 * On failure *out is zeroed (config_free on it is harmless); a reload
 * must therefore load into a fresh struct and swap, as config.h says.
 */
int config_load(const struct config_overrides *ov, struct config *out,
    char *err, size_t errlen)
{
	struct config_draft *d;
	int r;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	d = xcalloc(1, sizeof(*d));
	d->err = err;
	d->errlen = errlen;
	keys_set_defaults(d);
	r = load(d, ov);
	if (r == 0)
		build(d, out);
	if (d->lc_live)
		config_destroy(&d->lc);
	free(d->option_endpoints);
	free_secret(d->secret);
	free(d);
	return r;
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->service);
	free(cfg->node);
	for (size_t i = 0; i < KM_MAX_ENDPOINTS; i++)
		free(cfg->endpoints[i]);
	free(cfg->prefix);
	free(cfg->username);
	free(cfg->password_file);
	free_secret(cfg->password);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->state_file);
	free(cfg->metrics_file);
	free(cfg->hooks_dir);
	for (size_t i = 0; i < KM_MAX_HEALTH_ARGS; i++)
		free(cfg->health_command[i]);
	memset(cfg, 0, sizeof(*cfg));
}

static bool str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool config_session_changed(const struct config *a, const struct config *b)
{
	if (str_differs(a->service, b->service) ||
	    str_differs(a->node, b->node) || a->mode != b->mode ||
	    a->n_endpoints != b->n_endpoints ||
	    str_differs(a->prefix, b->prefix) ||
	    str_differs(a->username, b->username) ||
	    str_differs(a->password_file, b->password_file) ||
	    str_differs(a->ca_file, b->ca_file) ||
	    str_differs(a->cert_file, b->cert_file) ||
	    str_differs(a->key_file, b->key_file) || a->ttl != b->ttl)
		return true;
	for (size_t i = 0; i < a->n_endpoints && i < KM_MAX_ENDPOINTS; i++)
		if (str_differs(a->endpoints[i], b->endpoints[i]))
			return true;
	return false;
}

char *config_election_prefix(const struct config *cfg, size_t *len)
{
	size_t plen = strlen(cfg->prefix), slen = strlen(cfg->service);
	char *out = xcalloc(plen + slen + 2, 1);

	memcpy(out, cfg->prefix, plen);
	memcpy(out + plen, cfg->service, slen);
	out[plen + slen] = '/';
	*len = plen + slen + 1;
	return out;
}
