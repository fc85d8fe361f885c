/*
 * test_config.c - unit tests for loading a configuration: defaults, a file
 * with every key, reading the file (syntax, libconfig's flaws, @include,
 * size and file errors), session comparison and the shipped example.
 * Key values are in test_config_values.c, endpoint URLs in
 * test_config_endpoint.c, options in test_config_options.c and the key
 * table itself in test_config_table.c.
 *
 * Run from the repository root (the example is read as etc/kingsmootd.conf).
 */
#include "config_fixture.h"

/* ---- defaults and full file ---- */

static void test_minimal_gets_defaults(void **state)
{
	struct config cfg;

	(void)state;
	EXPECT_OK("service = \"akem\";\n", NULL, &cfg);
	assert_string_equal(cfg.path, conf_path);
	assert_string_equal(cfg.service, "akem");
	assert_defaults(&cfg);
	config_free(&cfg);
	assert_true(all_zero(&cfg));
}

static void test_full_file(void **state)
{
	struct config cfg;
	char text[4096];

	(void)state;
	snprintf(text, sizeof(text),
	    "# every key\n"
	    "service = \"db.main-1_x\";\n"
	    "node = \"http://node:1234\";\n"
	    "mode = \"observer\";\n"
	    "etcd: {\n"
	    "  endpoints = ( \"https://e1:2379\", \"http://[::1]:2379/\" );\n"
	    "  prefix = \"elections/\";\n"
	    "  request_timeout = 0.5;\n"
	    "  username = \"km\"; password_file = \"%s\";\n"
	    "  ca_file = \"%s\"; cert_file = \"%s\"; key_file = \"%s\";\n"
	    "};\n"
	    "lease: { ttl = 30L; margin = 3; };\n"
	    "state_file = \"/run/kingsmoot/db.state\";\n"
	    "hooks: { dir = \"/srv/hooks\"; timeout = 20; "
	    "on_leader_failure = \"ignore\"; leader_change = false; };\n"
	    "health: {\n"
	    "  command = [\"/usr/bin/check\", \"-q\", \"\"];\n"
	    "  interval = 7.5; timeout = 7.5; fall = 100; rise = 1L;\n"
	    "};\n", pw_path, ca_path, cert_path, key_path);
	EXPECT_OK(text, NULL, &cfg);
	assert_string_equal(cfg.path, conf_path);
	assert_string_equal(cfg.service, "db.main-1_x");
	assert_string_equal(cfg.node, "http://node:1234");
	assert_int_equal(cfg.mode, MODE_OBSERVER);
	assert_int_equal(cfg.n_endpoints, 2);
	assert_string_equal(cfg.endpoints[0], "https://e1:2379");
	assert_string_equal(cfg.endpoints[1], "http://[::1]:2379/");
	assert_string_equal(cfg.prefix, "elections/");
	assert_true(cfg.request_timeout == 0.5);
	assert_string_equal(cfg.username, "km");
	assert_string_equal(cfg.password_file, pw_path);
	assert_string_equal(cfg.password, "secret");
	assert_string_equal(cfg.ca_file, ca_path);
	assert_string_equal(cfg.cert_file, cert_path);
	assert_string_equal(cfg.key_file, key_path);
	assert_int_equal(cfg.ttl, 30);
	assert_true(cfg.margin == 3.0);
	assert_string_equal(cfg.state_file, "/run/kingsmoot/db.state");
	assert_string_equal(cfg.hooks_dir, "/srv/hooks");
	assert_true(cfg.hooks_timeout == 20.0);
	assert_int_equal(cfg.on_leader_failure, LEADER_FAILURE_IGNORE);
	assert_false(cfg.hooks_leader_change);
	assert_true(cfg.health_enabled);
	assert_string_equal(cfg.health_command[0], "/usr/bin/check");
	assert_string_equal(cfg.health_command[1], "-q");
	assert_string_equal(cfg.health_command[2], "");
	assert_null(cfg.health_command[3]);
	assert_true(cfg.health_interval == 7.5);
	assert_true(cfg.health_timeout == 7.5);
	assert_int_equal(cfg.health_fall, 100);
	assert_int_equal(cfg.health_rise, 1);
	config_free(&cfg);
}

static void test_health_defaults(void **state)
{
	struct config cfg;

	(void)state;
	EXPECT_OK("service = \"a\";\nhealth: { command = (\"/bin/true\"); }; # end",
	    NULL, &cfg);
	assert_true(cfg.health_enabled);
	assert_string_equal(cfg.health_command[0], "/bin/true");
	assert_null(cfg.health_command[1]);
	assert_true(cfg.health_interval == 5.0);
	assert_true(cfg.health_timeout == 2.0);
	assert_int_equal(cfg.health_fall, 3);
	assert_int_equal(cfg.health_rise, 2);
	config_free(&cfg);
}

/* Boundary values that must be accepted. */
/* ---- reading the file ---- */

static void test_service_required(void **state)
{
	char want[256];
	struct config cfg;
	char err[512];

	(void)state;
	snprintf(want, sizeof(want), "%s: service is required", conf_path);
	assert_int_equal(load("node = \"n\";\n", NULL, &cfg, err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, want);
	assert_int_equal(load("", NULL, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	EXPECT_AT("service = \"a\";\nlease: {\n  ttl = ;\n};\n", 3, "syntax error");
	EXPECT_AT("service = \"a\";\nservice = \"b\";\n", 2,
	    "duplicate setting name");
	/* libconfig reports an unclosed group at end of file, past the
	 * last newline */
	EXPECT_AT("service = \"a\";\netcd: {\n", 3, "syntax error");
	EXPECT_AT("service = \"a\";\n\nmode = candidate;\n", 3, "syntax error");
}

/* libconfig 1.5 silently wraps integers that do not fit an int. */
static void test_integer_wrap(void **state)
{
	struct config cfg;

	(void)state;
	EXPECT_AT("service = \"a\";\nlease: {\n  ttl = 4294967298;\n};\n", 3,
	    "integer 4294967298 is out of range");
	EXPECT_AT("service = \"a\";\nlease: { ttl = 0x100000002; };\n", 2,
	    "integer 0x100000002 is out of range");
	EXPECT_AT("service = \"a\";\n# c\nhealth: { command = [\"/x\"]; rise = "
	    "-99999999999999999999; };\n", 3, "is out of range");
	EXPECT_AT("service = \"a\";\n/* one\ntwo */ etcd: { request_timeout = "
	    "5000000000; };\n", 3, "integer 5000000000 is out of range");
	/* line counting survives newlines inside strings and comments */
	EXPECT_AT("node = \"a\nb\\\"\";\n/*\n*/ service = \"a\";\n"
	    "lease: { ttl = 4294967298; };\n", 5,
	    "integer 4294967298 is out of range");
	/* with an L it is a proper 64-bit integer and only out of range */
	EXPECT_AT("service = \"a\";\nlease: { ttl = 4294967298L; };\n", 2,
	    "'lease.ttl' must be an integer from 2 to 86400");
	/* numbers in comments, strings and names are not integers */
	EXPECT_AT("service = \"a\";\n# 99999999999\n/* 99999999999 */ "
	    "// 99999999999\nnode = \"99999999999\";\nx99999999999: { };\n", 5,
	    "unknown key 'x99999999999'");
	/* nor are large floats */
	EXPECT_OK("service = \"a\";\nlease: { ttl = 86400; margin = 2.5e0; };\n"
	    "etcd: { request_timeout = 50000000000.0e-10; };\n", NULL, &cfg);
	assert_true(cfg.request_timeout == 5.0);
	config_free(&cfg);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "service = \"a\";\n\nnode = \"x\0\";\n";
	struct config_overrides ov = { .config_path = conf_path };
	struct config cfg;
	char err[512], want[256];

	(void)state;
	write_file(conf_path, text, sizeof(text) - 1);
	assert_int_equal(config_load(&ov, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: NUL byte in file", conf_path);
	assert_string_equal(err, want);
}

static void test_include(void **state)
{
	struct config cfg;
	char text[512], incl[256];

	(void)state;
	write_file(inc_path, "lease: { ttl = 20; };\n", 22);
	snprintf(text, sizeof(text), "service = \"a\";\n@include \"%s\"\n", inc_path);
	EXPECT_OK(text, NULL, &cfg);
	assert_int_equal(cfg.ttl, 20);
	config_free(&cfg);

	/* errors inside an included file name that file */
	write_file(inc_path, "# inc\nlease: { tt = 20; };\n", 27);
	expect_error(__LINE__, text, NULL, -EINVAL,
	    (snprintf(incl, sizeof(incl), "%s:2: ", inc_path), incl),
	    "unknown key 'lease.tt'");
	write_file(inc_path, "lease: { ttl = 4294967298; };\n", 30);
	expect_error(__LINE__, text, NULL, -EINVAL,
	    (snprintf(incl, sizeof(incl), "%s:1: ", inc_path), incl),
	    "integer 4294967298 is out of range");
}

static void test_file_errors(void **state)
{
	struct config_overrides ov = { 0 };
	struct config cfg;
	char err[512], want[256], missing[128];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
	ov.config_path = missing;
	ov.service = "a";       /* -s does not excuse a missing -c file */
	memset(&cfg, 0x5a, sizeof(cfg));
	assert_int_equal(config_load(&ov, &cfg, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", missing);
	assert_string_equal(err, want);
	assert_true(all_zero(&cfg));

	ov.config_path = dir;
	assert_int_equal(config_load(&ov, &cfg, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	assert_string_equal(err, want);

	ov.config_path = "/dev/null";
	assert_int_equal(config_load(&ov, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/dev/null: not a regular file");
}

static void test_file_size_limit(void **state)
{
	size_t len = 1024 * 1024;
	char *text = repeat('#', len);
	struct config cfg;
	char err[512], want[256];

	(void)state;
	/* a comment filling exactly the limit is still read */
	memcpy(text, "service = \"a\";\n", 15);
	EXPECT_OK(text, NULL, &cfg);
	config_free(&cfg);
	free(text);

	text = repeat('#', len + 1);
	assert_int_equal(load(text, NULL, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: file is larger than 1048576 bytes",
	    conf_path);
	assert_string_equal(err, want);
	free(text);
}

static void test_small_error_buffer(void **state)
{
	struct config cfg;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(load("bogus = 1;\n", NULL, &cfg, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(load("bogus = 1;\n", NULL, &cfg, NULL, 0), -EINVAL);
}

/* ---- comparison and the shipped example ---- */

static void replace(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

static void test_session_changed(void **state)
{
	static const char text[] = "service = \"a\";\nnode = \"n\";\n"
	    "etcd: { endpoints = [\"http://x\", \"http://y\"]; };\n";
	struct config a, b;

	(void)state;
	EXPECT_OK(text, NULL, &a);
	EXPECT_OK(text, NULL, &b);
	assert_false(config_session_changed(&a, &b));

	/* things the session does not depend on */
	b.request_timeout = 2.0;
	b.margin = 1.0;
	b.hooks_timeout = 1.0;
	b.on_leader_failure = LEADER_FAILURE_IGNORE;
	b.hooks_leader_change = false;
	b.health_enabled = true;
	replace(&b.state_file, "/other");
	replace(&b.hooks_dir, "/other");
	assert_false(config_session_changed(&a, &b));

#define CHANGES(stmt, undo) do {					\
		stmt;							\
		assert_true(config_session_changed(&a, &b));		\
		assert_true(config_session_changed(&b, &a));		\
		undo;							\
		assert_false(config_session_changed(&a, &b));		\
	} while (0)
	CHANGES(replace(&b.service, "b"), replace(&b.service, "a"));
	CHANGES(replace(&b.node, "m"), replace(&b.node, "n"));
	CHANGES(b.mode = MODE_OBSERVER, b.mode = MODE_CANDIDATE);
	CHANGES(replace(&b.endpoints[1], "http://z"),
	    replace(&b.endpoints[1], "http://y"));
	CHANGES(b.n_endpoints = 1, b.n_endpoints = 2);
	CHANGES(replace(&b.prefix, "p/"), replace(&b.prefix, "kingsmoot/"));
	CHANGES(replace(&b.username, "u"), replace(&b.username, ""));
	CHANGES(replace(&b.password_file, "/p"), replace(&b.password_file, ""));
	CHANGES(replace(&b.ca_file, "/c"), replace(&b.ca_file, ""));
	CHANGES(replace(&b.cert_file, "/c"), replace(&b.cert_file, ""));
	CHANGES(replace(&b.key_file, "/k"), replace(&b.key_file, ""));
	CHANGES(b.ttl = 11, b.ttl = 10);
#undef CHANGES
	config_free(&a);
	config_free(&b);
}

static void test_shipped_example(void **state)
{
	struct config_overrides ov = { .config_path = "etc/kingsmootd.conf" };
	struct config cfg;
	char err[512] = "";
	int r;

	(void)state;
	r = config_load(&ov, &cfg, err, sizeof(err));
	if (r != 0)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_string_equal(cfg.path, "etc/kingsmootd.conf");
	assert_string_equal(cfg.service, "example");
	/* it promises to show every default */
	assert_defaults(&cfg);
	config_free(&cfg);
}

static void test_free_zeroed(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg);
	assert_true(all_zero(&cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_gets_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_health_defaults),
		cmocka_unit_test(test_service_required),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_integer_wrap),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_session_changed),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_free_zeroed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
