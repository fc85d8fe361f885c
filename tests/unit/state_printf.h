/*
 * state_printf.h - the state file's text as snprintf made it before
 * state_format was written by hand: the reference test_state and
 * fuzz_state compare the formatter with. -1 when a value does not encode
 * or the text does not fit.
 */
#ifndef KM_TEST_STATE_PRINTF_H
#define KM_TEST_STATE_PRINTF_H

#include <inttypes.h>
#include <stdio.h>

#include "state.h"

static inline int format_by_printf(const struct state *st, char *buf, size_t buflen)
{
	char service[3 * STATE_MAX_VALUE], node[3 * STATE_MAX_VALUE];
	char leader[3 * STATE_MAX_VALUE];
	int n;

	if (state_encode_value(st->service, service, sizeof(service)) < 0 ||
	    state_encode_value(st->node, node, sizeof(node)) < 0 ||
	    state_encode_value(st->leader, leader, sizeof(leader)) < 0)
		return -1;
	n = snprintf(buf, buflen,
	    "ROLE=%s\nSERVICE=%s\nNODE=%s\nLEADER=%s\nTERM=%" PRId64 "\n"
	    "SINCE=%.3f\nVALID_UNTIL=%.3f\nPID=%ld\nREASON=%s\n",
	    role_name(st->role), service, node, leader, st->term, st->since,
	    st->role == ROLE_LEADER ? st->valid_until : 0.0, (long)st->pid,
	    st->role == ROLE_NOT_MEMBER ? reason_name(st->reason) : "");
	return n < 0 || (size_t)n >= buflen ? -1 : n;
}

#endif
