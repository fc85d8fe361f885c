/*
 * test_metrics.c - the text exposition of metrics.c: every family has HELP
 * and TYPE, every series the service and node labels, label values are
 * escaped, the histogram is cumulative, and a short buffer is an error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char buf[64 * 1024];

static const struct metrics_now leader_now = {
	.service = "akem", .node = "node-a", .role = ROLE_LEADER,
	.term = 1234, .lease_remaining = 7.5, .last_update = 1764128000.123,
};

static void test_every_series_has_labels_and_every_family_help(void **state)
{
	struct metrics_counts c = { 0 };
	int n = metrics_render(&c, &leader_now, buf, sizeof(buf));
	char *line, *save = NULL, *last_type = NULL;
	int families = 0, series = 0;

	(void)state;
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP kingsmoot_", 17) == 0) {
			families++;
			continue;
		}
		if (strncmp(line, "# TYPE kingsmoot_", 17) == 0) {
			last_type = line;
			continue;
		}
		assert_non_null(last_type);     /* TYPE before its series */
		assert_non_null(strstr(line, "service=\"akem\",node=\"node-a\""));
		series++;
	}
	assert_int_equal(families, 11);
	assert_true(series > 40);
}

static void test_values(void **state)
{
	struct metrics_counts c = { 0 };

	(void)state;
	c.transitions[ROLE_LEADER] = 3;
	c.requests[METRICS_REQ_LEASE_KEEPALIVE] = 9;
	c.request_failures[METRICS_REQ_LEASE_KEEPALIVE] = 2;
	c.hook_runs[ROLE_NOT_MEMBER][1] = 4;
	c.state_write_failures = 5;
	assert_true(metrics_render(&c, &leader_now, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "kingsmoot_role{service=\"akem\",node=\"node-a\","
	    "role=\"leader\"} 1\n"));
	assert_non_null(strstr(buf, "role=\"follower\"} 0\n"));
	assert_non_null(strstr(buf, "kingsmoot_term{service=\"akem\",node=\"node-a\"} 1234\n"));
	assert_non_null(strstr(buf, "kingsmoot_transitions_total{service=\"akem\","
	    "node=\"node-a\",role=\"leader\"} 3\n"));
	assert_non_null(strstr(buf, "kind=\"lease_keepalive\"} 9\n"));
	assert_non_null(strstr(buf, "kingsmoot_etcd_request_failures_total{service="
	    "\"akem\",node=\"node-a\",kind=\"lease_keepalive\"} 2\n"));
	assert_non_null(strstr(buf, "role=\"not_member\",result=\"failed\"} 4\n"));
	assert_non_null(strstr(buf, "kingsmoot_state_write_failures_total{service="
	    "\"akem\",node=\"node-a\"} 5\n"));
	assert_non_null(strstr(buf, "kingsmoot_lease_remaining_seconds{service="
	    "\"akem\",node=\"node-a\"} 7.500\n"));
	/* A leader has no not_member reason. */
	assert_null(strstr(buf, "kingsmoot_not_member_reason{"));
}

static void test_reason_only_when_not_member(void **state)
{
	struct metrics_counts c = { 0 };
	struct metrics_now now = leader_now;

	(void)state;
	now.role = ROLE_NOT_MEMBER;
	now.reason = REASON_PAUSED;
	assert_true(metrics_render(&c, &now, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "kingsmoot_not_member_reason{service=\"akem\","
	    "node=\"node-a\",reason=\"paused\"} 1\n"));
}

static void test_histogram_is_cumulative(void **state)
{
	struct metrics_counts saved = metrics;

	(void)state;
	memset(&metrics, 0, sizeof(metrics));
	metrics_observe_keepalive(0.0005);
	metrics_observe_keepalive(0.003);
	metrics_observe_keepalive(0.003);
	metrics_observe_keepalive(7.0);         /* beyond every bound */
	assert_true(metrics_render(&metrics, &leader_now, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "le=\"0.001\"} 1\n"));
	assert_non_null(strstr(buf, "le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(buf, "le=\"0.005\"} 3\n"));
	assert_non_null(strstr(buf, "le=\"1\"} 3\n"));
	assert_non_null(strstr(buf, "le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(buf, "kingsmoot_keepalive_rtt_seconds_count{service="
	    "\"akem\",node=\"node-a\"} 4\n"));
	metrics = saved;
}

static void test_label_values_are_escaped(void **state)
{
	struct metrics_counts c = { 0 };
	struct metrics_now now = leader_now;

	(void)state;
	now.node = "a\"b\\c\nd";
	assert_true(metrics_render(&c, &now, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "node=\"a\\\"b\\\\c\\nd\""));
	/* No raw newline inside a series line: every line is well formed. */
	assert_null(strstr(buf, "c\nd"));
}

static void test_request_kinds_and_short_buffer(void **state)
{
	struct metrics_counts c = { 0 };

	(void)state;
	assert_int_equal(metrics_request_kind("/v3/lease/grant"), METRICS_REQ_LEASE_GRANT);
	assert_int_equal(metrics_request_kind("/v3/watch"), METRICS_REQ_WATCH);
	assert_int_equal(metrics_request_kind("/v3/other"), METRICS_REQ_OTHER);
	assert_int_equal(metrics_request_kind(NULL), METRICS_REQ_OTHER);
	assert_int_equal(metrics_render(&c, &leader_now, buf, 100), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_series_has_labels_and_every_family_help),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_reason_only_when_not_member),
		cmocka_unit_test(test_histogram_is_cumulative),
		cmocka_unit_test(test_label_values_are_escaped),
		cmocka_unit_test(test_request_kinds_and_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
