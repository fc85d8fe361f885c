/*
 * state.h - the published role: the state file contract (DESIGN 6).
 */
#ifndef KM_STATE_H
#define KM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum km_role { ROLE_NOT_MEMBER, ROLE_FOLLOWER, ROLE_LEADER, ROLE_OBSERVER };

const char *role_name(enum km_role role);
int role_parse(const char *name, enum km_role *out);

/* Why a node is not_member (DESIGN 6, REASON=); REASON_NONE otherwise. */
enum km_reason {
	REASON_NONE,
	REASON_STARTING,
	REASON_ETCD_UNREACHABLE,
	REASON_LEASE_LOST,
	REASON_KEY_LOST,
	REASON_RESIGNED,
	REASON_PAUSED,
	REASON_UNHEALTHY,
	REASON_HOOK_FAILED,
	REASON_STATE_UNWRITABLE,
	REASON_STOPPING,
	REASON_STOPPED,
	REASON_CLEANUP,
};

/* "" for REASON_NONE. */
const char *reason_name(enum km_reason reason);
/* An unknown name is REASON_NONE: a newer daemon may add reasons. */
enum km_reason reason_parse(const char *name);

#define STATE_MAX_VALUE 1024

struct state {
	enum km_role role;
	char service[STATE_MAX_VALUE];
	char node[STATE_MAX_VALUE];
	char leader[STATE_MAX_VALUE];  /* "" when unknown */
	int64_t term;                  /* 0 without a leader */
	double since;                  /* Unix time */
	double valid_until;            /* Unix time; 0 unless leader */
	pid_t pid;
	enum km_reason reason;         /* REASON_NONE unless not_member */
};

/* Write atomically: temp file in the same directory, fsync, rename,
 * fsync the directory (both fsyncs skipped on tmpfs and ramfs, where they
 * do nothing). Mode 0644. Return 0 or -errno. */
int state_write(const char *path, const struct state *st);

/* The same, for a claim that holds only until deadline_ms (CLOCK_BOOTTIME
 * ms; 0 for none): if that has passed when the file is ready to replace
 * the old one, nothing is replaced and -ETIME is returned. A process held
 * up between deciding and writing (SIGSTOP, a stalled disk) must not
 * publish a leadership that ran out meanwhile. */
int state_write_by(const char *path, const struct state *st, uint64_t deadline_ms);

/* Read and decode a state file. Return 0, -ENOENT, -errno or -EINVAL. */
int state_read(const char *path, struct state *st);

/* Render to text (the file's exact contents). Return length or -ENOSPC. */
int state_format(const struct state *st, char *buf, size_t buflen);
/* Parse text written by state_format(). Return 0 or -EINVAL. */
int state_parse(const char *text, struct state *st);

/* The maintenance marker kept beside the state file ("STATE.paused"): it
 * survives daemon restarts, and kingsmootctl pause/resume manage it. */
int state_pause_path(const char *state_file, char *out, size_t outlen);
bool state_paused(const char *state_file);

/* Percent-encode bytes outside [A-Za-z0-9._:/@+,=-]. Return length or -ENOSPC. */
int state_encode_value(const char *in, char *out, size_t outlen);
/* Decode %XX. Return length or -EINVAL. */
int state_decode_value(const char *in, char *out, size_t outlen);

#endif
