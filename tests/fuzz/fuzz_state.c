/*
 * fuzz_state.c - libFuzzer entry for the state file parser and the
 * percent-encoding round trip (what kingsmootctl and --cleanup read).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[8192], enc[3 * 8192 + 1], dec[8192];
	struct state st;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)state_parse(text, &st);
	if (state_encode_value(text, enc, sizeof(enc)) >= 0) {
		int n = state_decode_value(enc, dec, sizeof(dec));
		if (n < 0 || strcmp(dec, text) != 0)
			abort();
	}
	return 0;
}
