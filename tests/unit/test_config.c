/*
 * test_config.c - unit tests for config.c: defaults, every key, every
 * kind of error with its file:line, command-line overrides, session
 * comparison and the shipped example configuration.
 *
 * Run from the repository root (the example is read as etc/kingsmootd.conf).
 * Files are written to a private mkdtemp directory removed at the end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

static char dir[64];
static char conf_path[128];
static char inc_path[128];
static char pw_path[128];
static char ca_path[128];
static char cert_path[128];
static char key_path[128];

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/km-test-config-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/k.conf", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/inc.conf", dir);
	snprintf(pw_path, sizeof(pw_path), "%s/password", dir);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	write_file(pw_path, "secret\n", 7);
	write_file(ca_path, "ca\n", 3);
	write_file(cert_path, "cert\n", 5);
	write_file(key_path, "key\n", 4);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	unlink(inc_path);
	unlink(pw_path);
	unlink(ca_path);
	unlink(cert_path);
	unlink(key_path);
	return rmdir(dir);
}

/* ---- helpers ---- */

static int load(const char *text, const struct config_overrides *ov_in,
    struct config *cfg, char *err, size_t errlen)
{
	struct config_overrides ov = { 0 };

	if (ov_in != NULL)
		ov = *ov_in;
	if (text != NULL) {
		write_file(conf_path, text, strlen(text));
		ov.config_path = conf_path;
	}
	return config_load(&ov, cfg, err, errlen);
}

static bool all_zero(const struct config *cfg)
{
	static const struct config zero;

	return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

/*
 * Load text (with ov) and demand return value rc and a message that
 * starts with prefix and contains needle.  The caller's line is printed
 * on failure because the same helper serves dozens of cases.
 */
static void expect_error(int caller, const char *text,
    const struct config_overrides *ov, int rc, const char *prefix,
    const char *needle)
{
	struct config cfg;
	char err[1024];
	int r;

	memset(&cfg, 0xa5, sizeof(cfg));
	strcpy(err, "(unset)");
	r = load(text, ov, &cfg, err, sizeof(err));
	if (r != rc || strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err + strlen(prefix), needle) == NULL ||
	    strchr(err, '\n') != NULL) {
		print_error("case at line %d\n--- config:\n%s\n--- got rc %d: %s\n"
		    "--- want rc %d: %s...%s...\n", caller, text ? text : "(none)",
		    r, err, rc, prefix, needle);
		fail();
	}
	if (!all_zero(&cfg)) {
		print_error("case at line %d: output not zeroed on error\n", caller);
		fail();
	}
}

static const char *at_line(int line)
{
	static char buf[256];

	if (line > 0)
		snprintf(buf, sizeof(buf), "%s:%d: ", conf_path, line);
	else
		snprintf(buf, sizeof(buf), "%s: ", conf_path);
	return buf;
}

#define EXPECT_AT(text, line, needle) \
	expect_error(__LINE__, (text), NULL, -EINVAL, at_line(line), (needle))
#define EXPECT_OPT(text, ov, prefix, needle) \
	expect_error(__LINE__, (text), (ov), -EINVAL, (prefix), (needle))

static void expect_ok(int caller, const char *text,
    const struct config_overrides *ov, struct config *cfg)
{
	char err[1024] = "";
	int r = load(text, ov, cfg, err, sizeof(err));

	if (r != 0) {
		print_error("case at line %d\n--- config:\n%s\n--- got rc %d: %s\n",
		    caller, text ? text : "(none)", r, err);
		fail();
	}
}

#define EXPECT_OK(text, ov, cfg) expect_ok(__LINE__, (text), (ov), (cfg))

static char *repeat(char ch, size_t n)
{
	char *s = xcalloc(n + 1, 1);

	memset(s, ch, n);
	return s;
}

/* ---- defaults and full file ---- */

static void assert_defaults(const struct config *cfg)
{
	char host[HOST_NAME_MAX + 1] = "";

	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_string_equal(cfg->node, host);
	assert_int_equal(cfg->mode, MODE_CANDIDATE);
	assert_int_equal(cfg->n_endpoints, 1);
	assert_string_equal(cfg->endpoints[0], "http://127.0.0.1:2379");
	assert_null(cfg->endpoints[1]);
	assert_string_equal(cfg->prefix, "kingsmoot/");
	assert_true(cfg->request_timeout == 1.0);
	assert_string_equal(cfg->username, "");
	assert_string_equal(cfg->password_file, "");
	assert_string_equal(cfg->ca_file, "");
	assert_string_equal(cfg->cert_file, "");
	assert_string_equal(cfg->key_file, "");
	assert_int_equal(cfg->ttl, 10);
	assert_true(cfg->margin == 2.0);
	assert_string_equal(cfg->state_file, "/run/kingsmoot/state");
	assert_string_equal(cfg->hooks_dir, "/etc/kingsmoot/hooks.d");
	assert_true(cfg->hooks_timeout == 10.0);
	assert_int_equal(cfg->on_leader_failure, LEADER_FAILURE_RESIGN);
	assert_false(cfg->health_enabled);
	assert_null(cfg->health_command[0]);
	assert_true(cfg->health_interval == 5.0);
	assert_true(cfg->health_timeout == 2.0);
	assert_int_equal(cfg->health_fall, 3);
	assert_int_equal(cfg->health_rise, 2);
}

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
	    "on_leader_failure = \"ignore\"; };\n"
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
	assert_string_equal(cfg.ca_file, ca_path);
	assert_string_equal(cfg.cert_file, cert_path);
	assert_string_equal(cfg.key_file, key_path);
	assert_int_equal(cfg.ttl, 30);
	assert_true(cfg.margin == 3.0);
	assert_string_equal(cfg.state_file, "/run/kingsmoot/db.state");
	assert_string_equal(cfg.hooks_dir, "/srv/hooks");
	assert_true(cfg.hooks_timeout == 20.0);
	assert_int_equal(cfg.on_leader_failure, LEADER_FAILURE_IGNORE);
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

static void test_bad_endpoint(void **state)
{
	static const struct {
		const char *url;
		const char *msg;
	} cases[] = {
		{ "ftp://h:1", "'etcd.endpoints': 'ftp://h:1' must start with http:// or https://" },
		{ "127.0.0.1:2379", "'127.0.0.1:2379' must start with http:// or https://" },
		{ "HTTP://h", "'HTTP://h' must start with http:// or https://" },
		{ "", "'' must start with http:// or https://" },
		{ "http://", "'etcd.endpoints': 'http://' has no host" },
		{ "https:///x", "'https:///x' has no host" },
		{ "http://:2379", "'http://:2379' has no host" },
		{ "http://a b", "'etcd.endpoints': an endpoint contains whitespace or control characters" },
		{ "http://ab\\t", "an endpoint contains whitespace or control characters" },
		{ " http://a", "an endpoint contains whitespace or control characters" },
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
		    "  endpoints = [\"http://good:2379\",\n \"%s\"];\n};\n",
		    cases[i].url);
		EXPECT_AT(text, 3, cases[i].msg);
	}
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

static void test_health_without_command(void **state)
{
	(void)state;
	EXPECT_AT("service = \"a\";\n\nhealth: {\n  interval = 5.0;\n};\n", 3,
	    "'health.command' is required in 'health'");
	EXPECT_AT("service = \"a\";\nhealth: { };\n", 2,
	    "'health.command' is required in 'health'");
}

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
		cmocka_unit_test(test_range_edges_accepted),
		cmocka_unit_test(test_long_values_at_limit),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_too_many_health_args),
		cmocka_unit_test(test_bad_service),
		cmocka_unit_test(test_valid_service),
		cmocka_unit_test(test_bad_endpoint),
		cmocka_unit_test(test_inequality),
		cmocka_unit_test(test_auth_and_tls),
		cmocka_unit_test(test_health_without_command),
		cmocka_unit_test(test_service_required),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_integer_wrap),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_service_without_file),
		cmocka_unit_test(test_override_service_node),
		cmocka_unit_test(test_override_endpoints),
		cmocka_unit_test(test_override_ttl),
		cmocka_unit_test(test_override_paths),
		cmocka_unit_test(test_session_changed),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_free_zeroed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
