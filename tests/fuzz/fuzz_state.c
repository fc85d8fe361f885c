/*
 * fuzz_state.c - libFuzzer entry for the state file parser, the
 * percent-encoding round trip (what kingsmootctl and --cleanup read), and
 * the hand-written formatter against the printf text it replaced, for
 * every state the parser accepts (any double strtod gives among them).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "../unit/state_printf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[8192], enc[3 * 8192 + 1], dec[8192];
	struct state st;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (state_parse(text, &st) == 0) {
		static char got[12 * STATE_MAX_VALUE], want[12 * STATE_MAX_VALUE];
		int n = state_format(&st, got, sizeof(got));
		int m = format_by_printf(&st, want, sizeof(want));

		if ((n < 0) != (m < 0) || (n >= 0 && (n != m || strcmp(got, want) != 0)))
			abort();
	}
	if (state_encode_value(text, enc, sizeof(enc)) >= 0) {
		int n = state_decode_value(enc, dec, sizeof(dec));
		if (n < 0 || strcmp(dec, text) != 0)
			abort();
	}
	return 0;
}
