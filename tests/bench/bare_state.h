/* SPDX-License-Identifier: MIT */
/* bare_state.h - see bare_state.c. */
#ifndef BARE_STATE_H
#define BARE_STATE_H

_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void write_state(const char *path, const char *role);

#endif
