/*
 * test_config_endpoint.c - unit tests for etcd endpoint URLs: what is
 * refused, each at the line of etcd.endpoints (or naming -e), and what is
 * accepted and how it is kept.
 */
#include "config_fixture.h"

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

/* The file puts the list on line 3: errors point at the key's line. */
static void expect_endpoint_refused(int caller, const char *url,
    const char *msg)
{
	char text[1024], want[512];

	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  endpoints = [\"http://good:2379\",\n \"%s\"];\n};\n", url);
	snprintf(want, sizeof(want), "'etcd.endpoints': '%s' %s", url, msg);
	expect_error(caller, text, NULL, -EINVAL, at_line(3), want);
}

#define REFUSED(url, msg) expect_endpoint_refused(__LINE__, (url), (msg))

/* Until these were refused, "http://h:2379/x" sent its requests to
 * "/x/v3/kv/range". */
static void test_endpoint_path_refused(void **state)
{
	static const char *const urls[] = {
		"http://h:2379/x", "https://h/v3", "http://h:2379//",
		"http://h/.", "http://h/x/..", "http://[::1]:2379/a/",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(urls); i++)
		REFUSED(urls[i], "has a path (an endpoint is "
		    "scheme://host[:port])");
}

static void test_endpoint_query_fragment_refused(void **state)
{
	(void)state;
	REFUSED("http://h:2379?x=1", "has a query");
	REFUSED("http://h:2379/?", "has a query");
	REFUSED("http://h?", "has a query");
	REFUSED("http://h:2379#f", "has a fragment");
	REFUSED("http://h/#", "has a fragment");
	/* libcurl itself does not report an empty fragment */
	REFUSED("http://h#", "has a fragment");
}

/* The message shows "***" for user info: a password must not reach the
 * journal through it. */
static void expect_user_info_refused(int caller, const char *url,
    const char *shown, const char *msg)
{
	char text[1024], want[512];

	snprintf(text, sizeof(text), "service = \"a\";\netcd: {\n"
	    "  endpoints = [\"%s\"];\n};\n", url);
	snprintf(want, sizeof(want), "'etcd.endpoints': '%s' %s", shown, msg);
	expect_error(caller, text, NULL, -EINVAL, at_line(3), want);
}

static void test_endpoint_user_info_refused(void **state)
{
	(void)state;
	expect_user_info_refused(__LINE__, "http://u@h:2379",
	    "http://***@h:2379", "has user info (etcd credentials go in "
	    "etcd.username and etcd.password_file)");
	expect_user_info_refused(__LINE__, "https://root:secret@h",
	    "https://***@h", "has user info");
	expect_user_info_refused(__LINE__, "http://u:@h/", "http://***@h/",
	    "has user info");
	/* libcurl splits at the first '@' and sees port "pw@h"; everything
	 * up to the last one is hidden all the same */
	expect_user_info_refused(__LINE__, "http://a@b:pw@h/",
	    "http://***@h/", "has a port that is not from 1 to 65535");
	/* also when something else is wrong with the URL */
	expect_user_info_refused(__LINE__, "http://u:secret@h:99999",
	    "http://***@h:99999", "has a port that is not from 1 to 65535");
	expect_user_info_refused(__LINE__, "http://u:secret@h/x",
	    "http://***@h/x", "has user info");
}

static void test_endpoint_port_and_host_checked(void **state)
{
	(void)state;
	REFUSED("http://h:0", "has a port that is not from 1 to 65535");
	REFUSED("http://h:65536", "has a port that is not from 1 to 65535");
	REFUSED("http://h:99999999999", "has a port that is not from 1 to "
	    "65535");
	REFUSED("http://h:23a", "has a port that is not from 1 to 65535");
	REFUSED("http://h:-1", "has a port that is not from 1 to 65535");
	REFUSED("http://h:", "has an empty port");
	REFUSED("http://[::1]:/", "has an empty port");
	REFUSED("http://[::1", "is not a valid URL: ");
	REFUSED("http://h<x", "is not a valid URL: ");
	REFUSED("http://h%", "has a host that is not a DNS name or an IP "
	    "address");
	REFUSED("http://h|x:2379", "has a host that is not a DNS name or an "
	    "IP address");
}

static void test_endpoint_option_refused(void **state)
{
	struct config_overrides ov = { .endpoints = "http://a:2379,"
	    "http://b:2379/prefix" };

	(void)state;
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ", "'http://b:2379/prefix' "
	    "has a path (an endpoint is scheme://host[:port])");
	ov.endpoints = "http://user:pw@a:2379";
	EXPECT_OPT("service = \"a\";\n", &ov, "-e: ", "'http://***@a:2379' "
	    "has user info");
}

/*
 * An accepted endpoint is kept as written: it is scheme://host[:port]
 * with at most a "/" after it, which etcd.c and kingsmootctl drop before
 * appending a request path.
 */
static void test_endpoint_accepted_kept_as_written(void **state)
{
	static const char *const urls[] = {
		"http://h:1", "https://h:65535/", "http://127.0.0.1:2379",
		"http://[::1]:2379", "http://[fe80::1%25eth0]:2379/",
		"https://etcd-1.Example.org", "http://16", "http://h:02379",
	};
	struct config cfg;
	char text[1024];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
	    "service = \"a\";\netcd: { endpoints = [");
	for (size_t i = 0; i < ARRAY_SIZE(urls); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"%s\"",
		    i == 0 ? "" : ", ", urls[i]);
	snprintf(text + n, sizeof(text) - n, "]; };\n");
	EXPECT_OK(text, NULL, &cfg);
	assert_int_equal(cfg.n_endpoints, ARRAY_SIZE(urls));
	for (size_t i = 0; i < ARRAY_SIZE(urls); i++)
		assert_string_equal(cfg.endpoints[i], urls[i]);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_endpoint),
		cmocka_unit_test(test_endpoint_path_refused),
		cmocka_unit_test(test_endpoint_query_fragment_refused),
		cmocka_unit_test(test_endpoint_user_info_refused),
		cmocka_unit_test(test_endpoint_port_and_host_checked),
		cmocka_unit_test(test_endpoint_option_refused),
		cmocka_unit_test(test_endpoint_accepted_kept_as_written),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
