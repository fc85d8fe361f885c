/*
 * test_state.c - unit tests for state.c: role names, value encoding, the
 * exact text of the state file (DESIGN section 6), parsing, and atomic
 * writes into a private mkdtemp directory (removed at the end).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cmocka.h>

#include "state.h"
#include "state_printf.h"
#include "util.h"

static char dir[64];

static const char design_example[] =
    "ROLE=leader\n"
    "SERVICE=akem\n"
    "NODE=node-a\n"
    "LEADER=node-a\n"
    "TERM=1234\n"
    "SINCE=1764128000.123\n"
    "VALID_UNTIL=1764128007.500\n"
    "PID=4321\n"
    "REASON=\n";

static void example_state(struct state *st)
{
	memset(st, 0, sizeof(*st));
	st->role = ROLE_LEADER;
	strcpy(st->service, "akem");
	strcpy(st->node, "node-a");
	strcpy(st->leader, "node-a");
	st->term = 1234;
	st->since = 1764128000.123;
	st->valid_until = 1764128007.5;
	st->pid = 4321;
}

/* Deterministic PRNG (xorshift64*). */
static uint64_t rng_state = 0x5eed5eed5eedull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int allowed(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("._:/@+,=-", c) != NULL);
}

static void read_whole(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Names in dir, sorted by readdir order, joined with ','. */
static void list_dir(const char *d, char *out, size_t size)
{
	DIR *dp = opendir(d);
	struct dirent *de;

	assert_non_null(dp);
	out[0] = '\0';
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (out[0])
			strncat(out, ",", size - strlen(out) - 1);
		strncat(out, de->d_name, size - strlen(out) - 1);
	}
	closedir(dp);
}

static int group_setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/km-test-state-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];

	(void)state;
	if (dp == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	closedir(dp);
	rmdir(dir);
	return 0;
}

/* ------------------------------------------------------------------ */
/* role names                                                           */

static void test_role_names(void **state)
{
	static const struct { enum km_role role; const char *name; } v[] = {
		{ ROLE_NOT_MEMBER, "not_member" }, { ROLE_FOLLOWER, "follower" },
		{ ROLE_LEADER, "leader" }, { ROLE_OBSERVER, "observer" },
	};
	static const char *const bad[] = {
		"", "Leader", "LEADER", "leader ", " leader", "lead", "leaderx",
		"not-member", "candidate", "unknown",
	};
	enum km_role r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		assert_string_equal(role_name(v[i].role), v[i].name);
		r = (enum km_role)99;
		assert_int_equal(role_parse(v[i].name, &r), 0);
		assert_int_equal(r, v[i].role);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (role_parse(bad[i], &r) != -EINVAL) {
			print_error("role_parse(\"%s\") accepted\n", bad[i]);
			fail();
		}
	}
	/* Out of range never publishes something that is not a role. */
	assert_string_equal(role_name((enum km_role)42), "not_member");
}

/* ------------------------------------------------------------------ */
/* value encoding                                                       */

static void test_encode_alphabet_passes(void **state)
{
	static const char plain[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/@+,=-";
	char out[256];

	(void)state;
	assert_int_equal(state_encode_value(plain, out, sizeof(out)),
	    (int)strlen(plain));
	assert_string_equal(out, plain);
	assert_int_equal(state_encode_value("http://node:1234", out, sizeof(out)), 16);
	assert_string_equal(out, "http://node:1234");
	assert_int_equal(state_encode_value("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_encode_specials(void **state)
{
	static const struct { const char *in; const char *out; } v[] = {
		{ "a b", "a%20b" },
		{ "100%", "100%25" },
		{ "%", "%25" },
		{ "\"", "%22" },
		{ "'", "%27" },
		{ "$HOME", "%24HOME" },
		{ "`id`", "%60id%60" },
		{ "a\nROLE=leader", "a%0AROLE=leader" },
		{ "\r", "%0D" },
		{ "\t", "%09" },
		{ "\\", "%5C" },
		{ ";&|<>()#*?!~^[]{}", "%3B%26%7C%3C%3E%28%29%23%2A%3F%21%7E%5E%5B%5D%7B%7D" },
		{ "\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9" },       /* UTF-8 */
		{ "\x7f\x80\xff\x01", "%7F%80%FF%01" },
		{ "node a'; rm -rf /", "node%20a%27%3B%20rm%20-rf%20/" },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		int n = state_encode_value(v[i].in, out, sizeof(out));

		if (n != (int)strlen(v[i].out) || strcmp(out, v[i].out) != 0) {
			print_error("encode(\"%s\") = %d \"%s\", expected \"%s\"\n",
			    v[i].in, n, n >= 0 ? out : "", v[i].out);
			fail();
		}
	}
}

static void test_encode_every_byte(void **state)
{
	char in[2], out[8], want[8];

	(void)state;
	for (int c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		if (allowed((unsigned char)c))
			snprintf(want, sizeof(want), "%c", c);
		else
			snprintf(want, sizeof(want), "%%%02X", c);   /* upper case */
		assert_int_equal(state_encode_value(in, out, sizeof(out)),
		    (int)strlen(want));
		if (strcmp(out, want) != 0) {
			print_error("byte 0x%02x: \"%s\", expected \"%s\"\n", c, out, want);
			fail();
		}
	}
}

static void test_encode_nospace(void **state)
{
	char out[16];

	(void)state;
	/* "abc" needs 4 bytes with the NUL. */
	assert_int_equal(state_encode_value("abc", out, 4), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(state_encode_value("abc", out, 3), -ENOSPC);
	/* " " needs 4 bytes ("%20" and the NUL). */
	assert_int_equal(state_encode_value(" ", out, 4), 3);
	assert_string_equal(out, "%20");
	assert_int_equal(state_encode_value(" ", out, 3), -ENOSPC);
	assert_int_equal(state_encode_value("a ", out, 5), 4);
	assert_int_equal(state_encode_value("a ", out, 4), -ENOSPC);
	assert_int_equal(state_encode_value("", out, 1), 0);
	/* Writes stay inside outlen. */
	memset(out, '#', sizeof(out));
	assert_int_equal(state_encode_value("abcdefgh", out, 5), -ENOSPC);
	for (size_t i = 5; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
}

static void test_decode(void **state)
{
	static const struct { const char *in; const char *out; } good[] = {
		{ "a%20b", "a b" }, { "100%25", "100%" }, { "%24HOME", "$HOME" },
		{ "%C3%A9", "\xc3\xa9" }, { "%0A", "\n" }, { "plain", "plain" },
		{ "", "" }, { "%7E%7e", "~~" },
	};
	static const char *const bad[] = {
		"%", "%2", "abc%", "abc%4", "%G0", "%0G", "%%", "%%20", "%-1",
		"% 1", "%2 ", "a%zzb", "%\xc3\xa9",
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(state_decode_value(good[i].in, out, sizeof(out)),
		    (int)strlen(good[i].out));
		assert_string_equal(out, good[i].out);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (state_decode_value(bad[i], out, sizeof(out)) != -EINVAL) {
			print_error("decode(\"%s\") accepted\n", bad[i]);
			fail();
		}
	}
	/* Output too small is an error too, never an overflow. */
	memset(out, '#', sizeof(out));
	assert_true(state_decode_value("abcdef", out, 4) < 0);
	for (size_t i = 4; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
}

static void test_encode_decode_round_trip(void **state)
{
	char in[300], enc[3 * 300 + 1], dec[300];

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t len = (size_t)(rng_next() % 256);
		int n;

		for (size_t i = 0; i < len; i++) {
			unsigned char c;

			do
				c = (unsigned char)rng_next();
			while (c == 0);
			in[i] = (char)c;
		}
		in[len] = '\0';
		n = state_encode_value(in, enc, sizeof(enc));
		assert_true(n >= (int)len);
		assert_int_equal(strlen(enc), (size_t)n);
		/* Only the safe alphabet, '%' and upper-case hex digits. */
		for (int i = 0; i < n; i++) {
			unsigned char c = (unsigned char)enc[i];

			if (c == '%') {
				assert_true(i + 2 < n);
				assert_non_null(strchr("0123456789ABCDEF", enc[i + 1]));
				assert_non_null(strchr("0123456789ABCDEF", enc[i + 2]));
				i += 2;
			} else {
				assert_true(allowed(c));
			}
		}
		assert_int_equal(state_decode_value(enc, dec, sizeof(dec)), (int)len);
		assert_memory_equal(dec, in, len + 1);
	}
}

/* ------------------------------------------------------------------ */
/* state_format                                                         */

static void test_format_design_example(void **state)
{
	struct state st;
	char buf[4096];

	(void)state;
	example_state(&st);
	assert_int_equal(state_format(&st, buf, sizeof(buf)),
	    (int)strlen(design_example));
	assert_string_equal(buf, design_example);
}

static void test_format_non_leaders(void **state)
{
	struct state st;
	char buf[4096];
	int n;

	(void)state;
	/* A follower: VALID_UNTIL is 0 whatever the struct holds. */
	example_state(&st);
	st.role = ROLE_FOLLOWER;
	strcpy(st.node, "node-b");
	n = state_format(&st, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
	    "ROLE=follower\nSERVICE=akem\nNODE=node-b\nLEADER=node-a\nTERM=1234\n"
	    "SINCE=1764128000.123\nVALID_UNTIL=0.000\nPID=4321\nREASON=\n");

	/* not_member with no leader known. */
	memset(&st, 0, sizeof(st));
	st.role = ROLE_NOT_MEMBER;
	strcpy(st.service, "akem");
	strcpy(st.node, "node-a");
	st.since = 1764128100.5;
	st.valid_until = 1764128107.5;
	st.pid = 1;
	st.reason = REASON_ETCD_UNREACHABLE;
	state_format(&st, buf, sizeof(buf));
	assert_string_equal(buf,
	    "ROLE=not_member\nSERVICE=akem\nNODE=node-a\nLEADER=\nTERM=0\n"
	    "SINCE=1764128100.500\nVALID_UNTIL=0.000\nPID=1\n"
	    "REASON=etcd_unreachable\n");

	/* observer. */
	st.role = ROLE_OBSERVER;
	strcpy(st.leader, "node-c");
	st.term = 77;
	state_format(&st, buf, sizeof(buf));
	assert_string_equal(buf,
	    "ROLE=observer\nSERVICE=akem\nNODE=node-a\nLEADER=node-c\nTERM=77\n"
	    "SINCE=1764128100.500\nVALID_UNTIL=0.000\nPID=1\nREASON=\n");
}

static void test_format_encodes_values(void **state)
{
	struct state st;
	char buf[4096];

	(void)state;
	example_state(&st);
	strcpy(st.node, "node a");
	strcpy(st.leader, "x'y\n$(reboot)");
	strcpy(st.service, "svc");
	state_format(&st, buf, sizeof(buf));
	assert_string_equal(buf,
	    "ROLE=leader\nSERVICE=svc\nNODE=node%20a\nLEADER=x%27y%0A%24%28reboot%29\n"
	    "TERM=1234\nSINCE=1764128000.123\nVALID_UNTIL=1764128007.500\nPID=4321\n"
	    "REASON=\n");
	/* Exactly 9 lines: an encoded newline never splits one. */
	{
		int lines = 0;

		for (const char *p = buf; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 9);
	}
}

static void test_format_nospace(void **state)
{
	struct state st;
	char buf[4096];
	int len;

	(void)state;
	example_state(&st);
	len = (int)strlen(design_example);
	assert_int_equal(state_format(&st, buf, (size_t)len + 1), len);
	assert_string_equal(buf, design_example);
	assert_int_equal(state_format(&st, buf, (size_t)len), -ENOSPC);
	assert_int_equal(state_format(&st, buf, 10), -ENOSPC);

	/* Values at the maximum length, all of them needing %XX. */
	memset(st.service, ' ', STATE_MAX_VALUE - 1);
	st.service[STATE_MAX_VALUE - 1] = '\0';
	memcpy(st.node, st.service, STATE_MAX_VALUE);
	memcpy(st.leader, st.service, STATE_MAX_VALUE);
	{
		static char big[12 * STATE_MAX_VALUE];
		struct state back;

		len = state_format(&st, big, sizeof(big));
		assert_true(len > 3 * 3 * (STATE_MAX_VALUE - 1));
		assert_int_equal(strlen(big), (size_t)len);
		assert_int_equal(state_parse(big, &back), 0);
		assert_string_equal(back.service, st.service);
		assert_string_equal(back.leader, st.leader);
	}
}

static void assert_formats_as_printf(const struct state *st)
{
	char got[4096], want[4096];
	int n = format_by_printf(st, want, sizeof(want));

	assert_int_equal(state_format(st, got, sizeof(got)), n);
	assert_string_equal(got, want);
	/* Every buffer too short by even one byte is refused whole. */
	assert_int_equal(state_format(st, got, (size_t)n), -ENOSPC);
	assert_int_equal(state_format(st, got, (size_t)n / 2), -ENOSPC);
}

static void test_format_matches_printf(void **state)
{
	static const double times[] = {
		0.0, 0.0004, 0.0005, 0.0015, 0.0625, 0.1875, 2.0625, 0.999, 0.9995, 1.0, 59.9999,
		1764128000.123, 1764128007.5, 1796350966.428, 4102444800.001,
		999999999999.0, 1e12, 1e15, 1e300, -0.0, -1.25, 1.0 / 0.0,
	};
	static const int64_t terms[] = {
		0, 1, 9, 10, 1234, INT32_MAX, (int64_t)INT32_MAX + 1, INT64_MAX,
		-1, INT64_MIN,
	};
	struct state st;

	(void)state;
	example_state(&st);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		st.since = times[i];
		st.valid_until = times[(i + 3) % (sizeof(times) / sizeof(times[0]))];
		assert_formats_as_printf(&st);
	}
	for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		st.term = terms[i];
		st.pid = (pid_t)(terms[i] & 0x7fffffff);
		assert_formats_as_printf(&st);
	}
	for (int role = ROLE_NOT_MEMBER; role <= ROLE_OBSERVER; role++) {
		st.role = (enum km_role)role;
		st.reason = REASON_HOOK_FAILED;
		assert_formats_as_printf(&st);
	}
	/* Times as the daemon makes them, on the millisecond grid and off it
	 * by clock noise, across the years a daemon may see. */
	st.role = ROLE_LEADER;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = rng_next();
		double t = (double)(r % 4102444800000ull) / 1000.0;

		if (i & 1)
			t += (double)(rng_next() % 1000000) / 1e9;
		st.since = t;
		st.valid_until = t + 7.5;
		st.term = (int64_t)(rng_next() >> (rng_next() % 64));
		assert_formats_as_printf(&st);
	}
}

/* ------------------------------------------------------------------ */
/* state_parse                                                          */

static void assert_same_state(const struct state *a, const struct state *b)
{
	assert_int_equal(a->role, b->role);
	assert_string_equal(a->service, b->service);
	assert_string_equal(a->node, b->node);
	assert_string_equal(a->leader, b->leader);
	assert_true(a->term == b->term);
	assert_true(a->since > b->since - 0.0006 && a->since < b->since + 0.0006);
	assert_int_equal(a->pid, b->pid);
}

static void test_parse_design_example(void **state)
{
	struct state st;

	(void)state;
	memset(&st, 0x5a, sizeof(st));
	assert_int_equal(state_parse(design_example, &st), 0);
	assert_int_equal(st.role, ROLE_LEADER);
	assert_string_equal(st.service, "akem");
	assert_string_equal(st.node, "node-a");
	assert_string_equal(st.leader, "node-a");
	assert_true(st.term == 1234);
	assert_true(st.since > 1764128000.1229 && st.since < 1764128000.1231);
	assert_true(st.valid_until > 1764128007.4999 && st.valid_until < 1764128007.5001);
	assert_int_equal(st.pid, 4321);
}

static void test_parse_round_trip(void **state)
{
	static const enum km_role roles[] = {
		ROLE_NOT_MEMBER, ROLE_FOLLOWER, ROLE_LEADER, ROLE_OBSERVER,
	};
	struct state st, back;
	char buf[12 * STATE_MAX_VALUE];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
		example_state(&st);
		st.role = roles[i];
		strcpy(st.node, "n\xc3\xb6" "de 1 \"%\" $x `y` \\z");
		strcpy(st.leader, roles[i] == ROLE_NOT_MEMBER ? "" : "http://h:1/a?b=c&d");
		st.term = INT64_C(9007199254740993);
		st.pid = 2147483647;
		assert_true(state_format(&st, buf, sizeof(buf)) > 0);
		memset(&back, 0x5a, sizeof(back));
		assert_int_equal(state_parse(buf, &back), 0);
		assert_same_state(&back, &st);
		if (roles[i] == ROLE_LEADER)
			assert_true(back.valid_until > st.valid_until - 0.0006 &&
			    back.valid_until < st.valid_until + 0.0006);
		else
			assert_true(back.valid_until == 0.0);
	}
}

static void test_parse_tolerates(void **state)
{
	struct state st;

	(void)state;
	/* Last line without a newline. */
	assert_int_equal(state_parse("ROLE=follower\nTERM=5", &st), 0);
	assert_int_equal(st.role, ROLE_FOLLOWER);
	assert_true(st.term == 5);
	/* Only ROLE: the rest is zero/empty. */
	memset(&st, 0x5a, sizeof(st));
	assert_int_equal(state_parse("ROLE=observer\n", &st), 0);
	assert_int_equal(st.role, ROLE_OBSERVER);
	assert_string_equal(st.leader, "");
	assert_string_equal(st.node, "");
	assert_true(st.term == 0);
	assert_int_equal(st.pid, 0);
	/* Keys in another order; a key a newer daemon may add. */
	assert_int_equal(state_parse("PID=9\nFUTURE_KEY=x\nROLE=leader\nNODE=a%20b\n",
	    &st), 0);
	assert_int_equal(st.role, ROLE_LEADER);
	assert_int_equal(st.pid, 9);
	assert_string_equal(st.node, "a b");
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",                                          /* no ROLE */
		"\n",
		"SERVICE=akem\nNODE=a\n",                    /* no ROLE */
		"ROLE=boss\n",
		"ROLE=Leader\n",
		"ROLE=leader \n",
		"ROLE=\n",
		"ROLE=leader\nNODE=a%2\n",
		"ROLE=leader\nNODE=%zz\n",
		"ROLE=leader\nLEADER=%\n",
		"ROLE=leader\nSERVICE=a%G1\n",
		"garbage",
		"ROLE leader\n",
		"ROLE=leader\ngarbage\n",
		"ROLE=leader\nTERM=12x\n",
		"ROLE=leader\nTERM=99999999999999999999\n",
		"ROLE=leader\nSINCE=abc\n",
		"ROLE=leader\nSINCE=1.5x\n",
		"ROLE=leader\nVALID_UNTIL=soon\n",
		"ROLE=leader\nPID=12a\n",
		"\x01\x02\x03",
	};
	struct state st;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (state_parse(bad[i], &st) != -EINVAL) {
			print_error("state_parse accepted \"%s\"\n", bad[i]);
			fail();
		}
	}
}

static void test_parse_long_values(void **state)
{
	static char text[16 * STATE_MAX_VALUE];
	struct state st;
	int n;

	(void)state;
	/* Decoded value one byte too long for the field. */
	n = snprintf(text, sizeof(text), "ROLE=leader\nNODE=");
	memset(text + n, 'x', STATE_MAX_VALUE);
	strcpy(text + n + STATE_MAX_VALUE, "\n");
	assert_int_equal(state_parse(text, &st), -EINVAL);
	/* Exactly the longest value that fits. */
	text[n + STATE_MAX_VALUE - 1] = '\n';
	text[n + STATE_MAX_VALUE] = '\0';
	assert_int_equal(state_parse(text, &st), 0);
	assert_int_equal(strlen(st.node), STATE_MAX_VALUE - 1);
	/* A huge line and a huge key are refused, not overflowed. */
	n = snprintf(text, sizeof(text), "ROLE=leader\nLEADER=");
	memset(text + n, 'y', sizeof(text) - (size_t)n - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(state_parse(text, &st), -EINVAL);
	memset(text, 'K', 200);
	strcpy(text + 200, "=v\nROLE=leader\n");
	assert_int_equal(state_parse(text, &st), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* state_write / state_read                                             */

/* path, alone in directory, holds want with mode 0644. */
static void assert_published(const char *directory, const char *path, const char *want)
{
	char text[4096], names[1024];
	struct stat sb;

	read_whole(path, text, sizeof(text));
	assert_string_equal(text, want);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	list_dir(directory, names, sizeof(names));
	assert_string_equal(names, "state");
}

static void test_write_mode_content_no_temp(void **state)
{
	char path[PATH_MAX], want[4096], names[1024];
	struct state st, back;
	struct stat sb;
	mode_t old;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	example_state(&st);
	old = umask(077);
	assert_int_equal(state_write(path, &st), 0);
	umask(old);

	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_published(dir, path, design_example);

	/* Overwrite with another role; umask 0777 this time. */
	st.role = ROLE_FOLLOWER;
	strcpy(st.leader, "node-z");
	st.term = 1300;
	assert_true(state_format(&st, want, sizeof(want)) > 0);
	old = umask(0777);
	assert_int_equal(state_write(path, &st), 0);
	umask(old);
	assert_published(dir, path, want);

	/* state_read gives it back. */
	assert_int_equal(state_read(path, &back), 0);
	assert_same_state(&back, &st);
	assert_true(back.valid_until == 0.0);

	/* Many rewrites: still one file, last content wins. */
	for (int i = 0; i < 50; i++) {
		st.term = 2000 + i;
		assert_int_equal(state_write(path, &st), 0);
	}
	assert_int_equal(state_read(path, &back), 0);
	assert_true(back.term == 2049);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "state");
	unlink(path);
}

/*
 * On tmpfs the writer skips both fsyncs; the file must come out the same:
 * content, mode under a hostile umask, and no temporary file left.
 */
static void test_write_on_tmpfs(void **state)
{
	char shm[] = "/dev/shm/km-test-state-XXXXXX";
	char path[PATH_MAX];
	struct state st;
	struct statfs fs;
	mode_t old;

	(void)state;
	if (statfs("/dev/shm", &fs) < 0 || fs.f_type != TMPFS_MAGIC)
		skip();
	assert_non_null(mkdtemp(shm));
	snprintf(path, sizeof(path), "%s/state", shm);
	example_state(&st);
	for (int i = 0; i < 3; i++) {
		old = umask(0777);
		assert_int_equal(state_write(path, &st), 0);
		umask(old);
	}
	assert_published(shm, path, design_example);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(shm), 0);
}

static void test_write_replaces_file_mode(void **state)
{
	char path[PATH_MAX];
	struct state st;
	struct stat sb;
	int fd;

	(void)state;
	/* A pre-existing file with another mode gets 0644 back. */
	snprintf(path, sizeof(path), "%s/state-mode", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "OLD\n", 4), 4);
	close(fd);
	example_state(&st);
	assert_int_equal(state_write(path, &st), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	unlink(path);
}

static void test_write_symlink_is_replaced_not_followed(void **state)
{
	char path[PATH_MAX], target[PATH_MAX], text[4096];
	struct state st;
	struct stat sb;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/state-link", dir);
	snprintf(target, sizeof(target), "%s/victim", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious\n", 9), 9);
	close(fd);
	assert_int_equal(symlink(target, path), 0);

	example_state(&st);
	assert_int_equal(state_write(path, &st), 0);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	read_whole(target, text, sizeof(text));
	assert_string_equal(text, "precious\n");
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	unlink(path);
	unlink(target);
}

/* A claim whose deadline passed before the rename replaces nothing. */
static void test_write_by_a_passed_deadline_replaces_nothing(void **state)
{
	char path[PATH_MAX], before[4096], text[4096], names[1024];
	struct state st;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	example_state(&st);
	st.role = ROLE_FOLLOWER;
	assert_int_equal(state_write(path, &st), 0);
	read_whole(path, before, sizeof(before));

	st.role = ROLE_LEADER;
	assert_int_equal(state_write_by(path, &st, now_ms() - 1), -ETIME);
	read_whole(path, text, sizeof(text));
	assert_string_equal(text, before);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "state");

	/* A deadline still ahead writes as state_write does. */
	assert_int_equal(state_write_by(path, &st, now_ms() + 60000), 0);
	read_whole(path, text, sizeof(text));
	assert_non_null(strstr(text, "ROLE=leader\n"));
	unlink(path);
}

static void test_write_errors(void **state)
{
	char path[PATH_MAX], sub[PATH_MAX], names[1024];
	struct state st;

	(void)state;
	example_state(&st);
	/* Into a directory that does not exist. */
	snprintf(path, sizeof(path), "%s/no-such-dir/state", dir);
	assert_int_equal(state_write(path, &st), -ENOENT);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "");

	/* Onto an existing directory: an error, and no temp file left. */
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_true(state_write(sub, &st) < 0);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "adir");
	list_dir(sub, names, sizeof(names));
	assert_string_equal(names, "");
	rmdir(sub);

	/* The largest state (three 1023-byte values, all %XX) still fits
	 * the writer's buffer and is written whole. */
	st.role = ROLE_LEADER;
	memset(st.node, ' ', STATE_MAX_VALUE - 1);
	st.node[STATE_MAX_VALUE - 1] = '\0';
	memcpy(st.service, st.node, STATE_MAX_VALUE);
	memcpy(st.leader, st.node, STATE_MAX_VALUE);
	snprintf(path, sizeof(path), "%s/state-big", dir);
	{
		struct state back;

		assert_int_equal(state_write(path, &st), 0);
		assert_int_equal(state_read(path, &back), 0);
		assert_string_equal(back.node, st.node);
		assert_string_equal(back.leader, st.leader);
		unlink(path);
	}
}

static void test_read_errors(void **state)
{
	char path[PATH_MAX];
	struct state st;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(state_read(path, &st), -ENOENT);

	snprintf(path, sizeof(path), "%s/garbage", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello world\n", 12), 12);
	close(fd);
	assert_int_equal(state_read(path, &st), -EINVAL);

	/* An empty file (a reader racing a non-atomic writer) is invalid. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(state_read(path, &st), -EINVAL);
	unlink(path);
}

static void test_reason_round_trip_and_unknown(void **state)
{
	struct state st, back;
	char buf[4096];

	(void)state;
	for (int r = REASON_STARTING; r <= REASON_CLEANUP; r++) {
		memset(&st, 0, sizeof(st));
		st.role = ROLE_NOT_MEMBER;
		st.reason = (enum km_reason)r;
		assert_true(state_format(&st, buf, sizeof(buf)) > 0);
		assert_int_equal(state_parse(buf, &back), 0);
		assert_int_equal(back.reason, r);
		assert_int_equal(reason_parse(reason_name((enum km_reason)r)), r);
	}
	/* A reason from a newer daemon, and a file from before REASON. */
	assert_int_equal(state_parse("ROLE=not_member\nREASON=moon_phase\n", &back), 0);
	assert_int_equal(back.reason, REASON_NONE);
	assert_int_equal(state_parse("ROLE=not_member\nPID=3\n", &back), 0);
	assert_int_equal(back.reason, REASON_NONE);
	/* Only not_member carries one. */
	st.role = ROLE_LEADER;
	st.reason = REASON_PAUSED;
	assert_true(state_format(&st, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\nREASON=\n"));
	assert_string_equal(reason_name(REASON_NONE), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_encode_alphabet_passes),
		cmocka_unit_test(test_encode_specials),
		cmocka_unit_test(test_encode_every_byte),
		cmocka_unit_test(test_encode_nospace),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_format_design_example),
		cmocka_unit_test(test_format_non_leaders),
		cmocka_unit_test(test_format_encodes_values),
		cmocka_unit_test(test_format_nospace),
		cmocka_unit_test(test_format_matches_printf),
		cmocka_unit_test(test_parse_design_example),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_parse_tolerates),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_long_values),
		cmocka_unit_test(test_write_mode_content_no_temp),
		cmocka_unit_test(test_write_on_tmpfs),
		cmocka_unit_test(test_write_replaces_file_mode),
		cmocka_unit_test(test_write_symlink_is_replaced_not_followed),
		cmocka_unit_test(test_write_by_a_passed_deadline_replaces_nothing),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_reason_round_trip_and_unknown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
