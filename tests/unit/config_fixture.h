/*
 * config_fixture.h - what the test_config*.c files share: a private
 * directory with a password, CA, certificate and key file, a writer for
 * the configuration under test, and assertions on config_load()'s result
 * and its "FILE:LINE: message".
 *
 * Files are written to a private mkdtemp directory removed at the end.
 * Helpers are static inline so that each test file takes what it uses.
 */
#ifndef KM_TEST_CONFIG_FIXTURE_H
#define KM_TEST_CONFIG_FIXTURE_H

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

static inline void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static inline int group_setup(void **state)
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
	/* A password file must be kept from group and others. */
	if (chmod(pw_path, 0600) < 0)
		return -1;
	write_file(ca_path, "ca\n", 3);
	write_file(cert_path, "cert\n", 5);
	write_file(key_path, "key\n", 4);
	return 0;
}

static inline int group_teardown(void **state)
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

static inline int load(const char *text, const struct config_overrides *ov_in,
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

static inline bool all_zero(const struct config *cfg)
{
	static const struct config zero;

	return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

/*
 * Load text (with ov) and demand return value rc and a message that
 * starts with prefix and contains needle.  The caller's line is printed
 * on failure because the same helper serves dozens of cases.
 */
static inline void expect_error(int caller, const char *text,
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

static inline const char *at_line(int line)
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

static inline void expect_ok(int caller, const char *text,
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

static inline char *repeat(char ch, size_t n)
{
	char *s = xcalloc(n + 1, 1);

	memset(s, ch, n);
	return s;
}

/* ---- the defaults, as DESIGN section 6 documents them ---- */

static inline void assert_defaults(const struct config *cfg)
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
	assert_null(cfg->password);
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

#endif
