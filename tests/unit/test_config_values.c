/*
 * test_config_values.c - unit tests for the values of configuration keys
 * in a file: unknown keys, wrong types, out-of-range values, service
 * names and the rules between keys, each error at its line.  Endpoint
 * URLs are in test_config_endpoint.c.
 */
#include "config_fixture.h"

/* ---- values that must be accepted ---- */

static void test_range_edges_accepted(void **state)
{
	static const char *const ok[] = {
		"lease: { ttl = 86400; };",
		"lease: { ttl = 2; margin = 0.5; }; etcd: { request_timeout = 0.05; };",
		"lease: { ttl = 600; }; etcd: { request_timeout = 60; };",
		/* exactly on the safety bound: 2 + 2*1 + 2 = 6 */
		"lease: { ttl = 6; margin = 2.0; };",
		"lease: { ttl = 0x1e; };",
		"hooks: { timeout = 0.1; };",
		"hooks: { timeout = 3600; };",
		"hooks: { leader_change = true; };",
		"health: { command = [\"/x\"]; interval = 0.1; timeout = 0.1; };",
		"health: { command = [\"/x\"]; interval = 3600; timeout = 3600; };",
		"health: { command = [\"/x\"]; fall = 1; rise = 100; };",
		"etcd: { endpoints = [\"https://h\"]; };",
		"etcd: { prefix = \"/\"; };",
		"node = \"n\xc3\xa9 with spaces\";",
		"state_file = \"/\";",
		"etcd: { request_timeout = 1; }; lease: { margin = 1L; };",
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct config cfg;

		snprintf(text, sizeof(text), "service = \"a\";\n%s\n", ok[i]);
		EXPECT_OK(text, NULL, &cfg);
		config_free(&cfg);
	}
}

static void test_long_values_at_limit(void **state)
{
	struct config cfg;
	char *service = repeat('s', 128), *node = repeat('n', 256);
	char *prefix = repeat('p', 256), *sf = repeat('f', 3999);
	char *ep = repeat('h', 512 - 7);
	char *text;
	size_t len = 8192;

	(void)state;
	text = xcalloc(len, 1);
	snprintf(text, len, "service = \"%s\";\nnode = \"%s\";\n"
	    "etcd: { prefix = \"%s\"; endpoints = [\"http://%s\"]; };\n"
	    "state_file = \"/%s\";\n", service, node, prefix, ep, sf);
	EXPECT_OK(text, NULL, &cfg);
	assert_int_equal(strlen(cfg.service), 128);
	assert_int_equal(strlen(cfg.node), 256);
	assert_int_equal(strlen(cfg.prefix), 256);
	assert_int_equal(strlen(cfg.endpoints[0]), 512);
	assert_int_equal(strlen(cfg.state_file), 4000);
	config_free(&cfg);

	/* one byte more each */
	snprintf(text, len, "service = \"%ss\";\n", service);
	EXPECT_AT(text, 1, "'service' must match [A-Za-z0-9._-]{1,128}");
	snprintf(text, len, "service = \"a\";\nnode = \"%sn\";\n", node);
	EXPECT_AT(text, 2, "'node' must be 1 to 256 bytes");
	snprintf(text, len, "service = \"a\";\netcd: {\n prefix = \"%sp\"; };\n",
	    prefix);
	EXPECT_AT(text, 3, "'etcd.prefix' must be 1 to 256 bytes");
	snprintf(text, len, "service = \"a\";\netcd: {\n endpoints = "
	    "[\"http://%sh\"]; };\n", ep);
	EXPECT_AT(text, 3, "'etcd.endpoints': an endpoint is longer than 512 bytes");
	snprintf(text, len, "service = \"a\";\n\nstate_file = \"/%sf\";\n", sf);
	EXPECT_AT(text, 3, "'state_file' must be an absolute path of at most 4000 bytes");
	free(service);
	free(node);
	free(prefix);
	free(sf);
	free(ep);
	free(text);
}

/* ---- errors in the file ---- */

static void test_unknown_keys(void **state)
{
	(void)state;
	EXPECT_AT("service = \"a\";\n\nservices = \"b\";\n", 3,
	    "unknown key 'services'");
	EXPECT_AT("service = \"a\";\netcd: {\n  prefix = \"p/\";\n"
	    "  endpoint = [\"http://x\"];\n};\n", 4,
	    "unknown key 'etcd.endpoint'");
	EXPECT_AT("service = \"a\";\nlease: { ttl = 10; }\nhooks: {\n\n"
	    "  on_leader_fail = \"resign\"; };\n", 5,
	    "unknown key 'hooks.on_leader_fail'");
	EXPECT_AT("service = \"a\";\nhealth: { command = [\"/x\"];\n"
	    "  tls: { a = 1; };\n};\n", 3, "unknown key 'health.tls'");
	/* a key of one group is unknown in another */
	EXPECT_AT("service = \"a\";\nlease: { prefix = \"x/\"; };\n", 2,
	    "unknown key 'lease.prefix'");
	EXPECT_AT("ttl = 10;\nservice = \"a\";\n", 1, "unknown key 'ttl'");
}

static void test_wrong_types(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "service = 5;", "'service' must be a string" },
		{ "mode = true;", "'mode' must be a string" },
		{ "node = [\"a\"];", "'node' must be a string" },
		{ "etcd = \"http://x\";", "'etcd' must be a group" },
		{ "etcd = [\"http://x\"];", "'etcd' must be a group" },
		{ "lease = 5;", "'lease' must be a group" },
		{ "hooks = ();", "'hooks' must be a group" },
		{ "health = \"/bin/true\";", "'health' must be a group" },
		{ "etcd: { endpoints = \"http://x\"; };",
		  "'etcd.endpoints' must be an array or list of strings" },
		{ "etcd: { endpoints = [1, 2]; };",
		  "'etcd.endpoints' must be an array or list of strings" },
		{ "etcd: { endpoints = (\"http://a\", { x = 1; }); };",
		  "'etcd.endpoints' must be an array or list of strings" },
		{ "etcd: { endpoints = { a = \"http://x\"; }; };",
		  "'etcd.endpoints' must be an array or list of strings" },
		{ "etcd: { prefix = 1; };", "'etcd.prefix' must be a string" },
		{ "etcd: { request_timeout = \"1\"; };",
		  "'etcd.request_timeout' must be a number of seconds" },
		{ "etcd: { request_timeout = true; };",
		  "'etcd.request_timeout' must be a number of seconds" },
		{ "etcd: { username = 0; };", "'etcd.username' must be a string" },
		{ "etcd: { password_file = (); };",
		  "'etcd.password_file' must be a string" },
		{ "etcd: { ca_file = 1.0; };", "'etcd.ca_file' must be a string" },
		{ "etcd: { cert_file = false; };", "'etcd.cert_file' must be a string" },
		{ "etcd: { key_file = {}; };", "'etcd.key_file' must be a string" },
		{ "lease: { ttl = \"10\"; };", "'lease.ttl' must be an integer" },
		{ "lease: { ttl = 10.0; };", "'lease.ttl' must be an integer" },
		{ "lease: { ttl = [10]; };", "'lease.ttl' must be an integer" },
		{ "lease: { margin = \"2\"; };",
		  "'lease.margin' must be a number of seconds" },
		{ "state_file = 1;", "'state_file' must be a string" },
		{ "hooks: { dir = [\"/x\"]; };", "'hooks.dir' must be a string" },
		{ "hooks: { timeout = \"10\"; };",
		  "'hooks.timeout' must be a number of seconds" },
		{ "hooks: { on_leader_failure = 1; };",
		  "'hooks.on_leader_failure' must be a string" },
		{ "hooks: { leader_change = 0; };",
		  "'hooks.leader_change' must be true or false" },
		{ "hooks: { leader_change = \"false\"; };",
		  "'hooks.leader_change' must be true or false" },
		{ "health: { command = \"/bin/true\"; };",
		  "'health.command' must be an array or list of strings" },
		{ "health: { command = [\"/bin/true\"]; interval = \"5\"; };",
		  "'health.interval' must be a number of seconds" },
		{ "health: { command = [\"/bin/true\"]; timeout = [2.0]; };",
		  "'health.timeout' must be a number of seconds" },
		{ "health: { command = [\"/bin/true\"]; fall = 1.5; };",
		  "'health.fall' must be an integer" },
		{ "health: { command = [\"/bin/true\"]; rise = \"2\"; };",
		  "'health.rise' must be an integer" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* the bad key sits on line 3 after a comment line */
		if (strncmp(cases[i].text, "service", 7) == 0)
			snprintf(text, sizeof(text), "# x\n\n%s\n", cases[i].text);
		else
			snprintf(text, sizeof(text),
			    "service = \"a\";\n# x\n%s\n", cases[i].text);
		EXPECT_AT(text, 3, cases[i].msg);
	}
}

static void test_out_of_range(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "mode = \"leader\";", "'mode' must be \"candidate\" or \"observer\"" },
		{ "mode = \"Candidate\";", "'mode' must be \"candidate\" or \"observer\"" },
		{ "node = \"\";", "'node' must be 1 to 256 bytes without control characters" },
		{ "node = \"a\\tb\";", "'node' must be 1 to 256 bytes" },
		{ "node = \"a\\x7f\";", "'node' must be 1 to 256 bytes" },
		{ "etcd: { prefix = \"\"; };", "'etcd.prefix' must be 1 to 256 bytes" },
		{ "etcd: { prefix = \"a\\nb\"; };", "'etcd.prefix' must be 1 to 256 bytes" },
		{ "etcd: { endpoints = []; };", "'etcd.endpoints' must have 1 to 16 elements" },
		{ "etcd: { endpoints = [\"http://1\", \"http://2\", \"http://3\", "
		  "\"http://4\", \"http://5\", \"http://6\", \"http://7\", "
		  "\"http://8\", \"http://9\", \"http://10\", \"http://11\", "
		  "\"http://12\", \"http://13\", \"http://14\", \"http://15\", "
		  "\"http://16\", \"http://17\"]; };",
		  "'etcd.endpoints' must have 1 to 16 elements" },
		{ "etcd: { request_timeout = 0.04; };",
		  "'etcd.request_timeout' must be from 0.05 to 60 seconds" },
		{ "etcd: { request_timeout = 0; };",
		  "'etcd.request_timeout' must be from 0.05 to 60 seconds" },
		{ "etcd: { request_timeout = 60.01; };",
		  "'etcd.request_timeout' must be from 0.05 to 60 seconds" },
		{ "etcd: { request_timeout = 1e400; };",
		  "'etcd.request_timeout' must be from 0.05 to 60 seconds" },
		{ "lease: { ttl = 1; };", "'lease.ttl' must be an integer from 2 to 86400" },
		{ "lease: { ttl = -10; };", "'lease.ttl' must be an integer from 2 to 86400" },
		{ "lease: { ttl = 86401; };", "'lease.ttl' must be an integer from 2 to 86400" },
		{ "lease: { ttl = 100000000000L; };",
		  "'lease.ttl' must be an integer from 2 to 86400" },
		{ "lease: { margin = 0; };",
		  "'lease.margin' must be greater than 0 and less than lease.ttl (10)" },
		{ "lease: { margin = -1.5; };",
		  "'lease.margin' must be greater than 0 and less than lease.ttl (10)" },
		{ "lease: { margin = 10; };",
		  "'lease.margin' must be greater than 0 and less than lease.ttl (10)" },
		{ "state_file = \"run/state\";",
		  "'state_file' must be an absolute path of at most 4000 bytes" },
		{ "state_file = \"\";",
		  "'state_file' must be an absolute path of at most 4000 bytes" },
		{ "hooks: { dir = \"hooks.d\"; };", "'hooks.dir' must be an absolute path" },
		{ "hooks: { dir = \"\"; };", "'hooks.dir' must be an absolute path" },
		{ "hooks: { timeout = 0.09; };",
		  "'hooks.timeout' must be from 0.1 to 3600 seconds" },
		{ "hooks: { timeout = 3601; };",
		  "'hooks.timeout' must be from 0.1 to 3600 seconds" },
		{ "hooks: { on_leader_failure = \"retry\"; };",
		  "'hooks.on_leader_failure' must be \"resign\" or \"ignore\"" },
		{ "health: { command = []; };",
		  "'health.command' must have 1 to 64 elements" },
		{ "health: { command = [\"bin/check\"]; };",
		  "'health.command' must start with an absolute path" },
		{ "health: { command = [\"\"]; };",
		  "'health.command' must start with an absolute path" },
		{ "health: { command = [\"/x\"]; interval = 0.05; };",
		  "'health.interval' must be from 0.1 to 3600 seconds" },
		{ "health: { command = [\"/x\"]; interval = 3601; };",
		  "'health.interval' must be from 0.1 to 3600 seconds" },
		{ "health: { command = [\"/x\"]; timeout = 0; };",
		  "'health.timeout' must be greater than 0 and at most health.interval (5)" },
		{ "health: { command = [\"/x\"]; timeout = 5.5; };",
		  "'health.timeout' must be greater than 0 and at most health.interval (5)" },
		{ "health: { command = [\"/x\"]; interval = 1; };",
		  "'health.interval' must be at least health.timeout (2)" },
		{ "health: { command = [\"/x\"]; fall = 0; };",
		  "'health.fall' must be an integer from 1 to 100" },
		{ "health: { command = [\"/x\"]; fall = 101; };",
		  "'health.fall' must be an integer from 1 to 100" },
		{ "health: { command = [\"/x\"]; rise = 0; };",
		  "'health.rise' must be an integer from 1 to 100" },
		{ "health: { command = [\"/x\"]; rise = 101; };",
		  "'health.rise' must be an integer from 1 to 100" },
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "service = \"a\";\n\n%s\n",
		    cases[i].text);
		EXPECT_AT(text, 3, cases[i].msg);
	}
}

static void test_too_many_health_args(void **state)
{
	char text[2048];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
	    "service = \"a\";\nhealth: {\n command = [\"/x\"");
	for (int i = 1; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", \"a\"");
	snprintf(text + n, sizeof(text) - n, "];\n};\n");
	EXPECT_AT(text, 3, "'health.command' must have 1 to 64 elements");
}

static void test_bad_service(void **state)
{
	static const char *const bad[] = {
		"", "two words", "a/b", "akem\\n", "\xc3\xa9t\xc3\xa9", "a:b",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), "# c\nservice = \"%s\";\n", bad[i]);
		EXPECT_AT(text, 2, "'service' must match [A-Za-z0-9._-]{1,128}");
	}
}

static void test_valid_service(void **state)
{
	char *s = repeat('a', 128);

	(void)state;
	assert_true(config_valid_service("akem"));
	assert_true(config_valid_service("A-z_0.9"));
	assert_true(config_valid_service(s));
	s[127] = '/';
	assert_false(config_valid_service(s));
	free(s);
	s = repeat('a', 129);
	assert_false(config_valid_service(s));
	free(s);
	assert_false(config_valid_service(""));
	assert_false(config_valid_service(NULL));
	assert_false(config_valid_service("a b"));
	assert_false(config_valid_service("a+b"));
}

static void test_inequality(void **state)
{
	struct config_overrides ov = { 0 };
	struct config cfg;

	(void)state;
	/* blamed on ttl when ttl is written: 1 + 2*1 + 1 = 4 > 3 */
	EXPECT_AT("service = \"a\";\nlease: {\n  margin = 1;\n  ttl = 3;\n};\n", 4,
	    "lease.ttl 3 is too short: ttl/3 + 2*request_timeout + margin = "
	    "4.00 s exceeds ttl (raise ttl or lower etcd.request_timeout or "
	    "lease.margin)");
	/* default ttl: blamed on margin, 3.33 + 2 + 7.5 = 12.83 */
	EXPECT_AT("service = \"a\";\netcd: { request_timeout = 1; };\n"
	    "lease: { margin = 7.5; };\n", 3,
	    "lease.ttl 10 is too short: ttl/3 + 2*request_timeout + margin = "
	    "12.83 s exceeds ttl");
	/* only request_timeout written: 3.33 + 8 + 2 */
	EXPECT_AT("service = \"a\";\n\netcd: { request_timeout = 4; };\n", 3,
	    "lease.ttl 10 is too short: ttl/3 + 2*request_timeout + margin = "
	    "13.33 s exceeds ttl");
	/* a default margin too big for the ttl is the ttl's fault */
	EXPECT_AT("service = \"a\";\nlease: { ttl = 2; };\n", 2,
	    "lease.ttl 2 is too short");
	/* ttl from the command line */
	ov.ttl = "3";
	EXPECT_OPT("service = \"a\";\nlease: { margin = 1; };\n", &ov, "-t: ",
	    "lease.ttl 3 is too short: ttl/3 + 2*request_timeout + margin = 4.00 s");
	/* a bigger -t repairs a file whose own ttl is too short */
	ov.ttl = "30";
	EXPECT_OK("service = \"a\";\nlease: { ttl = 3; };\n", &ov, &cfg);
	assert_int_equal(cfg.ttl, 30);
	config_free(&cfg);
	/* just above the bound: 2 + 2 + 2.01 > 6 */
	EXPECT_AT("service = \"a\";\nlease: { ttl = 6; margin = 2.01; };\n", 2,
	    "lease.ttl 6 is too short");
}

static void test_auth_and_tls(void **state)
{
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  cert_file = \"%s\";\n};\n", cert_path);
	EXPECT_AT(text, 3, "'etcd.cert_file' is set but 'etcd.key_file' is not");
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n\n"
	    "  key_file = \"%s\";\n};\n", key_path);
	EXPECT_AT(text, 4, "'etcd.key_file' is set but 'etcd.cert_file' is not");
	EXPECT_AT("service = \"a\";\netcd: {\n  username = \"km\";\n};\n", 3,
	    "'etcd.username' is set but 'etcd.password_file' is not");
	EXPECT_AT("service = \"a\";\netcd: {\n  username = \"km\";\n"
	    "  password_file = \"\";\n};\n", 3,
	    "'etcd.username' is set but 'etcd.password_file' is not");
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  password_file = \"%s\";\n};\n", pw_path);
	EXPECT_AT(text, 3, "'etcd.password_file' is set but 'etcd.username' is not");
	EXPECT_AT("service = \"a\";\netcd: { username = \"km\";\n"
	    "  password_file = \"password\"; };\n", 3,
	    "'etcd.password_file' must be an absolute path");
	snprintf(text, sizeof(text), "service = \"a\";\netcd: { username = \"km\";\n"
	    "  password_file = \"%s/nope\"; };\n", dir);
	EXPECT_AT(text, 3, "'etcd.password_file' is not readable: "
	    "No such file or directory");
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  ca_file = \"%s/nope\"; };\n", dir);
	EXPECT_AT(text, 3, "'etcd.ca_file' is not readable: No such file or directory");
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  cert_file = \"%s\";\n  key_file = \"%s/nope\"; };\n",
	    cert_path, dir);
	EXPECT_AT(text, 4, "'etcd.key_file' is not readable: No such file or directory");
}

/* Write a password file with this content and mode; return its path. */
static const char *password_file(const char *content, size_t len, mode_t mode)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/pw-test", dir);
	unlink(path);
	write_file(path, content, len);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void expect_password(int caller, const char *content, size_t len,
    mode_t mode, const char *want)
{
	struct config cfg;
	char text[1024];

	snprintf(text, sizeof(text), "service = \"a\";\netcd: { username = "
	    "\"km\";\n  password_file = \"%s\"; };\n",
	    password_file(content, len, mode));
	expect_ok(caller, text, NULL, &cfg);
	if (strcmp(cfg.password, want) != 0) {
		print_error("case at line %d: password '%s', want '%s'\n", caller,
		    cfg.password, want);
		fail();
	}
	config_free(&cfg);
}

/* The password is the file's one line, taken as it is but for its end. */
static void test_password_file_content(void **state)
{
	char text[1024], *big = repeat('p', 1025);

	(void)state;
	expect_password(__LINE__, "pw", 2, 0600, "pw");
	expect_password(__LINE__, "pw\n", 3, 0400, "pw");
	expect_password(__LINE__, "pw\r\n", 4, 0600, "pw");
	expect_password(__LINE__, " p w \t\n", 7, 0600, " p w \t");
	expect_password(__LINE__, big, 1024, 0600, big + 1);
	expect_password(__LINE__, "p\"w\\{}\n", 7, 0600, "p\"w\\{}");

#define PW_CASE(content, len, mode, needle) do { \
	snprintf(text, sizeof(text), "service = \"a\";\netcd: { username = " \
	    "\"km\";\n  password_file = \"%s\"; };\n", \
	    password_file((content), (len), (mode))); \
	EXPECT_AT(text, 3, needle); \
} while (0)
	PW_CASE("", 0, 0600, "'etcd.password_file' is empty: '");
	PW_CASE("\n", 1, 0600, "'etcd.password_file' is empty: '");
	PW_CASE("a\nb\n", 4, 0600, "'etcd.password_file' must hold the "
	    "password alone on one line");
	PW_CASE("a\0b", 3, 0600, "must hold the password alone on one line");
	PW_CASE("a\rb", 3, 0600, "must hold the password alone on one line");
	PW_CASE(big, 1025, 0600, "'etcd.password_file' holds more than 1024 "
	    "bytes");
	PW_CASE("pw\n", 3, 0640, "'etcd.password_file' must not be readable "
	    "by group or others: '");
	PW_CASE("pw\n", 3, 0604, "has mode 0604 (chmod 600 it)");
#undef PW_CASE
	snprintf(text, sizeof(text), "service = \"a\";\netcd: { username = "
	    "\"km\";\n  password_file = \"%s\"; };\n", dir);
	EXPECT_AT(text, 3, "'etcd.password_file' is not a regular file: '");
	unlink(password_file("", 0, 0600));
	free(big);
}

static void test_unreadable_file_is_named(void **state)
{
	char text[1024], missing[256], want[512];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no-password", dir);
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  username = \"km\";\n  password_file = \"%s\";\n};\n", missing);
	snprintf(want, sizeof(want), "'etcd.password_file' is not readable: "
	    "No such file or directory: '%s'", missing);
	EXPECT_AT(text, 4, want);

	snprintf(missing, sizeof(missing), "%s/no-ca.pem", dir);
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  ca_file = \"%s\"; };\n", missing);
	snprintf(want, sizeof(want), "'etcd.ca_file' is not readable: "
	    "No such file or directory: '%s'", missing);
	EXPECT_AT(text, 3, want);

	snprintf(missing, sizeof(missing), "%s/no-cert.pem", dir);
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  key_file = \"%s\";\n  cert_file = \"%s\"; };\n", key_path,
	    missing);
	snprintf(want, sizeof(want), "'etcd.cert_file' is not readable: "
	    "No such file or directory: '%s'", missing);
	EXPECT_AT(text, 4, want);

	/* a name that would break the line is shown escaped */
	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  cert_file = \"%s\";\n  key_file = \"%s/k\\ney\"; };\n",
	    cert_path, dir);
	snprintf(want, sizeof(want), "'etcd.key_file' is not readable: "
	    "No such file or directory: '%s/k\\x0aey'", dir);
	EXPECT_AT(text, 4, want);
}

static void test_health_without_command(void **state)
{
	(void)state;
	EXPECT_AT("service = \"a\";\n\nhealth: {\n  interval = 5.0;\n};\n", 3,
	    "'health.command' is required in 'health'");
	EXPECT_AT("service = \"a\";\nhealth: { };\n", 2,
	    "'health.command' is required in 'health'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_edges_accepted),
		cmocka_unit_test(test_long_values_at_limit),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_too_many_health_args),
		cmocka_unit_test(test_bad_service),
		cmocka_unit_test(test_valid_service),
		cmocka_unit_test(test_inequality),
		cmocka_unit_test(test_auth_and_tls),
		cmocka_unit_test(test_password_file_content),
		cmocka_unit_test(test_unreadable_file_is_named),
		cmocka_unit_test(test_health_without_command),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
