/*
 * test_config_options.c - unit tests for the command-line overrides of
 * struct config_overrides: what each replaces, and its errors, which
 * name the option ("-t: ...") instead of a line.
 */
#include "config_fixture.h"

/* ---- overrides ---- */

static void test_service_without_file(void **state)
{
	struct config_overrides ov = { 0 };
	struct config cfg;
	char err[512];

	(void)state;
	if (access(KM_DEFAULT_CONFIG, F_OK) == 0 || errno != ENOENT) {
		skip();
		return;
	}
	ov.service = "akem";
	assert_int_equal(config_load(&ov, &cfg, err, sizeof(err)), 0);
	assert_null(cfg.path);
	assert_string_equal(cfg.service, "akem");
	assert_defaults(&cfg);
	config_free(&cfg);

	ov.service = NULL;
	assert_int_equal(config_load(&ov, &cfg, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "no configuration file "
	    "(/etc/kingsmoot/kingsmootd.conf) and no -s SERVICE");

	ov.service = "bad/name";
	expect_error(__LINE__, NULL, &ov, -EINVAL,
	    "-s: service must match [A-Za-z0-9._-]{1,128}", "");
	ov.service = "akem";
	ov.ttl = "3";
	expect_error(__LINE__, NULL, &ov, -EINVAL,
	    "-t: lease.ttl 3 is too short", "");
}

static void test_override_service_node(void **state)
{
	struct config_overrides ov = { .service = "other", .node = "me" };
	struct config cfg;

	(void)state;
	EXPECT_OK("service = \"akem\";\nnode = \"n\";\n", &ov, &cfg);
	assert_string_equal(cfg.service, "other");
	assert_string_equal(cfg.node, "me");
	config_free(&cfg);
	/* a file without service is fine when -s names one */
	EXPECT_OK("mode = \"observer\";\n", &ov, &cfg);
	assert_string_equal(cfg.service, "other");
	assert_int_equal(cfg.mode, MODE_OBSERVER);
	config_free(&cfg);

	ov.service = "";
	EXPECT_OPT("service = \"akem\";\n", &ov, "-s: ",
	    "service must match [A-Za-z0-9._-]{1,128}");
	ov.service = NULL;
	ov.node = "";
	EXPECT_OPT("service = \"akem\";\n", &ov, "-i: ",
	    "node must be 1 to 256 bytes without control characters");
	ov.node = "a\nb";
	EXPECT_OPT("service = \"akem\";\n", &ov, "-i: ", "node must be");
}

static void test_override_endpoints(void **state)
{
	struct config_overrides ov = { 0 };
	struct config cfg;

	(void)state;
	ov.endpoints = "http://a:2379,https://b:2379";
	EXPECT_OK("service = \"a\";\netcd: { endpoints = [\"http://f:1\"]; };\n",
	    &ov, &cfg);
	assert_int_equal(cfg.n_endpoints, 2);
	assert_string_equal(cfg.endpoints[0], "http://a:2379");
	assert_string_equal(cfg.endpoints[1], "https://b:2379");
	assert_null(cfg.endpoints[2]);
	config_free(&cfg);

	/* -e replaces a file list that would itself be refused */
	ov.endpoints = "http://only";
	EXPECT_OK("service = \"a\";\netcd: { endpoints = [\"ftp://f\"]; };\n",
	    &ov, &cfg);
	assert_int_equal(cfg.n_endpoints, 1);
	assert_string_equal(cfg.endpoints[0], "http://only");
	config_free(&cfg);

	ov.endpoints = "http://a,,http://b";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ", "empty element in endpoint list");
	ov.endpoints = "http://a,";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ", "empty element in endpoint list");
	ov.endpoints = "";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ", "empty element in endpoint list");
	ov.endpoints = "http://a,ftp://b";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ",
	    "'ftp://b' must start with http:// or https://");
	ov.endpoints = "http://a, http://b";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ",
	    "an endpoint contains whitespace or control characters");
	ov.endpoints = "http://1,http://2,http://3,http://4,http://5,http://6,"
	    "http://7,http://8,http://9,http://10,http://11,http://12,"
	    "http://13,http://14,http://15,http://16";
	EXPECT_OK("service = \"a\";\n", &ov, &cfg);
	assert_int_equal(cfg.n_endpoints, 16);
	assert_string_equal(cfg.endpoints[15], "http://16");
	config_free(&cfg);
	ov.endpoints = "http://1,http://2,http://3,http://4,http://5,http://6,"
	    "http://7,http://8,http://9,http://10,http://11,http://12,"
	    "http://13,http://14,http://15,http://16,http://17";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ", "at most 16 endpoints");
}

static void test_override_ttl(void **state)
{
	static const char *const bad[] = {
		"abc", "", "10s", "1", "0", "-5", "86401", "99999999999999999999",
	};
	struct config_overrides ov = { 0 };
	struct config cfg;

	(void)state;
	ov.ttl = "60";
	EXPECT_OK("service = \"a\";\nlease: { ttl = 10; };\n", &ov, &cfg);
	assert_int_equal(cfg.ttl, 60);
	config_free(&cfg);
	ov.ttl = "86400";
	EXPECT_OK("service = \"a\";\n", &ov, &cfg);
	assert_int_equal(cfg.ttl, 86400);
	config_free(&cfg);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ov.ttl = bad[i];
		expect_error(__LINE__, "service = \"a\";\n", &ov, -EINVAL,
		    "-t: ttl must be an integer from 2 to 86400", "");
	}
}

static void test_override_paths(void **state)
{
	struct config_overrides ov = { 0 };
	struct config cfg;

	(void)state;
	ov.state_file = "/run/kingsmoot/x.state";
	ov.hooks_dir = "/srv/hooks";
	EXPECT_OK("service = \"a\";\nstate_file = \"/f\";\nhooks: { dir = \"/d\"; };\n",
	    &ov, &cfg);
	assert_string_equal(cfg.state_file, "/run/kingsmoot/x.state");
	assert_string_equal(cfg.hooks_dir, "/srv/hooks");
	config_free(&cfg);

	ov.state_file = "x.state";
	EXPECT_OPT("service = \"a\";\n", &ov, "-S: ",
	    "state file must be an absolute path of at most 4000 bytes");
	ov.state_file = NULL;
	ov.hooks_dir = "hooks.d";
	EXPECT_OPT("service = \"a\";\n", &ov, "-H: ",
	    "hooks directory must be an absolute path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_without_file),
		cmocka_unit_test(test_override_service_node),
		cmocka_unit_test(test_override_endpoints),
		cmocka_unit_test(test_override_ttl),
		cmocka_unit_test(test_override_paths),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
