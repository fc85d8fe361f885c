/*
 * test_config_table.c - unit tests for the key table of config_keys.c:
 * its shape, its defaults (within range, applied by the loop, landing in
 * struct config), and every range bound of every ranged key, accepted at
 * the edge and refused just outside, at the key's line.
 */
#include "config_fixture.h"
#include "config_internal.h"

/* The next double above (up) or below a positive finite x. */
static double next_double(double x, bool up)
{
	uint64_t bits;

	memcpy(&bits, &x, sizeof(bits));
	bits = up ? bits + 1 : bits - 1;
	memcpy(&x, &bits, sizeof(x));
	return x;
}

static bool ranged(const struct config_key *key)
{
	return key->type != KEY_GROUP && key->max > 0;
}

static const char *member_of(const struct config_key *key)
{
	const char *dot = strrchr(key->name, '.');

	return dot != NULL ? dot + 1 : key->name;
}

static void test_table_shape(void **state)
{
	(void)state;
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];
		const struct config_key *group = &config_keys[key->parent];
		char want[128];

		assert_non_null(key->name);
		assert_int_equal(group->type, KEY_GROUP);
		/* the dotted name is the group's name and the member */
		snprintf(want, sizeof(want), "%s%s%s", group->name,
		    key->parent == K_ROOT ? "" : ".", member_of(key));
		assert_string_equal(key->name, want);
		assert_int_equal(keys_find(key->parent, member_of(key)), k);
		if (key->type == KEY_STRINGS)
			assert_true(key->max <= CONFIG_LIST_MAX);
		if (key->form == FORM_CHOICE)
			assert_non_null(key->choices);
		/* the forms of lists are for lists only */
		assert_int_equal(key->form == FORM_ENDPOINTS ||
		    key->form == FORM_COMMAND, key->type == KEY_STRINGS);
		assert_true(key->min <= key->max);
	}
	assert_int_equal(keys_find(K_ROOT, "nothing"), K_ROOT);
	assert_int_equal(keys_find(K_LEASE, "prefix"), K_ROOT);
}

static bool is_choice(const struct config_key *key, const char *text)
{
	for (int i = 0; key->choices[i] != NULL; i++)
		if (strcmp(key->choices[i], text) == 0)
			return true;
	return false;
}

static void test_every_default_within_its_range(void **state)
{
	(void)state;
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];
		double n = key->default_number;

		if (key->type == KEY_GROUP)
			continue;
		if (!key->has_default) {
			/* required, or the host name found at load time */
			assert_true(key->required || k == K_NODE);
			continue;
		}
		assert_false(key->required);
		switch (key->type) {
		case KEY_INTEGER:
			assert_true(n == (double)(int64_t)n);
			/* fall through */
		case KEY_SECONDS:
			assert_true(n > 0);
			if (ranged(key))
				assert_true(n >= key->min && n <= key->max);
			break;
		case KEY_STRING:
			assert_non_null(key->default_text);
			if (key->optional)
				assert_string_equal(key->default_text, "");
			if (ranged(key))
				assert_in_range(strlen(key->default_text),
				    key->min, key->max);
			if (key->form == FORM_CHOICE)
				assert_true(is_choice(key, key->default_text));
			if (key->form == FORM_ABSOLUTE_PATH && !key->optional)
				assert_int_equal(key->default_text[0], '/');
			break;
		case KEY_STRINGS:
			assert_non_null(key->default_text);
			assert_true(1 >= key->min && 1 <= key->max);
			break;
		case KEY_BOOLEAN:
			assert_true(n == 0 || n == 1);
			assert_false(ranged(key));
			break;
		case KEY_GROUP:
			break;
		}
	}
}

static void test_defaults_applied_by_the_loop(void **state)
{
	struct config_draft *d = xcalloc(1, sizeof(*d));

	(void)state;
	keys_set_defaults(d);
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];
		const struct key_value *v = &d->value[k];

		assert_null(v->setting);
		assert_null(v->option);
		if (!key->has_default) {
			assert_null(v->text);
			assert_int_equal(v->n_items, 0);
		} else if (key->type == KEY_STRING) {
			assert_ptr_equal(v->text, key->default_text);
		} else if (key->type == KEY_STRINGS) {
			assert_int_equal(v->n_items, 1);
			assert_ptr_equal(v->item[0], key->default_text);
		} else if (key->type == KEY_INTEGER || key->type == KEY_BOOLEAN) {
			assert_int_equal(v->integer, (int64_t)key->default_number);
		} else if (key->type == KEY_SECONDS) {
			assert_true(v->seconds == key->default_number);
		}
	}
	free(d);
}

/* What struct config holds for key k, as text, numbers printed. */
static void config_value(const struct config *cfg, enum key_id k, char *out,
    size_t len)
{
	switch (k) {
	case K_MODE:
		snprintf(out, len, "%s", cfg->mode == MODE_OBSERVER ?
		    "observer" : "candidate");
		return;
	case K_ENDPOINTS:
		assert_int_equal(cfg->n_endpoints, 1);
		snprintf(out, len, "%s", cfg->endpoints[0]);
		return;
	case K_PREFIX: snprintf(out, len, "%s", cfg->prefix); return;
	case K_REQUEST_TIMEOUT:
		snprintf(out, len, "%g", cfg->request_timeout);
		return;
	case K_USERNAME: snprintf(out, len, "%s", cfg->username); return;
	case K_PASSWORD_FILE:
		snprintf(out, len, "%s", cfg->password_file);
		return;
	case K_CA_FILE: snprintf(out, len, "%s", cfg->ca_file); return;
	case K_CERT_FILE: snprintf(out, len, "%s", cfg->cert_file); return;
	case K_KEY_FILE: snprintf(out, len, "%s", cfg->key_file); return;
	case K_TTL: snprintf(out, len, "%lld", (long long)cfg->ttl); return;
	case K_MARGIN: snprintf(out, len, "%g", cfg->margin); return;
	case K_STATE_FILE: snprintf(out, len, "%s", cfg->state_file); return;
	case K_METRICS_FILE:
		snprintf(out, len, "%s", cfg->metrics_file);
		return;
	case K_HOOKS_DIR: snprintf(out, len, "%s", cfg->hooks_dir); return;
	case K_HOOKS_TIMEOUT:
		snprintf(out, len, "%g", cfg->hooks_timeout);
		return;
	case K_ON_LEADER_FAILURE:
		snprintf(out, len, "%s", cfg->on_leader_failure ==
		    LEADER_FAILURE_IGNORE ? "ignore" : "resign");
		return;
	case K_HOOKS_LEADER_CHANGE:
		snprintf(out, len, "%d", cfg->hooks_leader_change ? 1 : 0);
		return;
	case K_HEALTH_INTERVAL:
		snprintf(out, len, "%g", cfg->health_interval);
		return;
	case K_HEALTH_TIMEOUT:
		snprintf(out, len, "%g", cfg->health_timeout);
		return;
	case K_HEALTH_FALL: snprintf(out, len, "%d", cfg->health_fall); return;
	case K_HEALTH_RISE: snprintf(out, len, "%d", cfg->health_rise); return;
	default:
		/* a key with a default that this test does not know yet */
		print_error("no struct config field for %s\n",
		    config_keys[k].name);
		fail();
	}
}

/* A file that sets only service gets every table default. */
static void test_defaults_reach_struct_config(void **state)
{
	struct config cfg;
	char got[256], want[256];

	(void)state;
	EXPECT_OK("service = \"a\";\n", NULL, &cfg);
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];

		if (!key->has_default)
			continue;
		config_value(&cfg, (enum key_id)k, got, sizeof(got));
		if (key->type == KEY_STRING || key->type == KEY_STRINGS)
			snprintf(want, sizeof(want), "%s", key->default_text);
		else
			snprintf(want, sizeof(want), "%g", key->default_number);
		assert_string_equal(got, want);
	}
	config_free(&cfg);
}

/*
 * Values for the other keys that leave every edge of the key under test
 * free of the cross-key rules: a long ttl, a short request timeout and
 * margin, and a health check whose timeout fits any interval.
 */
static const char *roomy_value(enum key_id k)
{
	switch (k) {
	case K_SERVICE: return "\"a\"";
	case K_TTL: return "86400";
	case K_REQUEST_TIMEOUT: return "0.05";
	case K_MARGIN: return "0.5";
	case K_HEALTH_COMMAND: return "[\"/x\"]";
	case K_HEALTH_INTERVAL: return "3600";
	case K_HEALTH_TIMEOUT: return "0.1";
	default: return NULL;
	}
}

/*
 * A configuration with key k set to value and the roomy values around
 * it, one setting a line; *line is where k is.  Freed by the caller.
 */
static char *config_with(enum key_id k, const char *value, int *line)
{
	size_t cap = 32 * 1024, n = 0;
	char *text = xcalloc(cap, 1);
	int at = 1;

	for (int group = K_ROOT; group < K_COUNT; group++) {
		bool opened = false;

		if (config_keys[group].type != KEY_GROUP)
			continue;
		for (int i = K_ROOT + 1; i < K_COUNT; i++) {
			const char *v = i == (int)k ? value :
			    roomy_value((enum key_id)i);

			if ((int)config_keys[i].parent != group || v == NULL)
				continue;
			if (group != K_ROOT && !opened) {
				n += (size_t)snprintf(text + n, cap - n,
				    "%s: {\n", config_keys[group].name);
				opened = true;
				at++;
			}
			if (i == (int)k)
				*line = at;
			n += (size_t)snprintf(text + n, cap - n, "%s = %s;\n",
			    member_of(&config_keys[i]), v);
			at++;
		}
		if (opened) {
			n += (size_t)snprintf(text + n, cap - n, "};\n");
			at++;
		}
	}
	assert_true(n < cap - 1);
	return text;
}

/* A value of size n for key k: the number, n bytes, or n elements. */
static char *value_of_size(const struct config_key *key, double n)
{
	size_t count = n > 0 ? (size_t)n : 0, len = 0;
	char *v = xcalloc(count * 16 + 64, 1);

	switch (key->type) {
	case KEY_INTEGER:
		sprintf(v, "%lld", (long long)n);
		break;
	case KEY_SECONDS:
		sprintf(v, "%.17g", n);
		break;
	case KEY_STRING:
		v[len++] = '"';
		for (size_t i = 0; i < count; i++)
			v[len++] = key->form == FORM_ABSOLUTE_PATH && i == 0 ?
			    '/' : 'a';
		v[len++] = '"';
		break;
	case KEY_STRINGS:
		v[len++] = '[';
		for (size_t i = 0; i < count; i++)
			len += (size_t)sprintf(v + len, "%s\"%s\"",
			    i == 0 ? "" : ", ", key->form == FORM_COMMAND ?
			    "/x" : "http://h");
		v[len++] = ']';
		break;
	case KEY_BOOLEAN:
	case KEY_GROUP:
		break;
	}
	return v;
}

static void expect_size(const struct config_key *key, enum key_id k,
    double n, bool accepted)
{
	char *value = value_of_size(key, n), *text, want[160];
	struct config cfg;
	int line = 0;

	text = config_with(k, value, &line);
	if (accepted) {
		EXPECT_OK(text, NULL, &cfg);
		config_free(&cfg);
	} else {
		snprintf(want, sizeof(want), "'%s' must", key->name);
		expect_error(__LINE__, text, NULL, -EINVAL, at_line(line),
		    want);
	}
	free(text);
	free(value);
}

static void test_every_range_edge(void **state)
{
	int tested = 0;

	(void)state;
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];
		double below = key->min - 1, above = key->max + 1;

		if (!ranged(key))
			continue;
		if (key->type == KEY_SECONDS) {
			assert_true(key->min > 0);
			below = next_double(key->min, false);
			above = next_double(key->max, true);
		}
		expect_size(key, (enum key_id)k, key->min, true);
		expect_size(key, (enum key_id)k, key->max, true);
		expect_size(key, (enum key_id)k, below, false);
		expect_size(key, (enum key_id)k, above, false);
		tested++;
	}
	/* service, node, endpoints, prefix, request_timeout, ttl,
	 * state_file, hooks.timeout, health.command, interval, fall, rise */
	assert_int_equal(tested, 12);
}

static void test_every_choice(void **state)
{
	struct config cfg;
	int line = 0;

	(void)state;
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];
		char value[64], *text;

		if (key->form != FORM_CHOICE)
			continue;
		assert_true(k == K_MODE || k == K_ON_LEADER_FAILURE);
		for (int i = 0; key->choices[i] != NULL; i++) {
			snprintf(value, sizeof(value), "\"%s\"",
			    key->choices[i]);
			text = config_with((enum key_id)k, value, &line);
			EXPECT_OK(text, NULL, &cfg);
			/* choices are listed in the enum's order */
			assert_int_equal(k == K_MODE ? (int)cfg.mode :
			    (int)cfg.on_leader_failure, i);
			config_free(&cfg);
			free(text);
		}
		text = config_with((enum key_id)k, "\"other\"", &line);
		snprintf(value, sizeof(value), "'%s' must be \"", key->name);
		expect_error(__LINE__, text, NULL, -EINVAL, at_line(line),
		    value);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_shape),
		cmocka_unit_test(test_every_default_within_its_range),
		cmocka_unit_test(test_defaults_applied_by_the_loop),
		cmocka_unit_test(test_defaults_reach_struct_config),
		cmocka_unit_test(test_every_range_edge),
		cmocka_unit_test(test_every_choice),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
