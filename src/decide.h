/*
 * decide.h - the role decision (DESIGN 1 and 2), as pure functions.
 *
 * Role, leader, term and the reason for not_member follow from a handful
 * of facts: the view of the
 * election, our key, our lease deadline, why we are withdrawn, and whether
 * a leader's state file could be written. Nothing here does I/O or keeps
 * state; the daemon and kingsmootctl both decide with it.
 */
#ifndef KM_DECIDE_H
#define KM_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdproto.h"
#include "state.h"

/* Why a candidate holds no candidacy (bits of decision_input.withdrawn). */
#define WITHDRAW_PAUSED    1u   /* kingsmootctl pause */
#define WITHDRAW_UNHEALTHY 2u   /* the health check says so */

struct decision_input {
	const struct etcd_kv *keys;     /* every key under the election prefix */
	size_t n_keys;
	int64_t view_revision;          /* the view is complete up to here */
	bool view_valid;                /* the last range succeeded */
	bool view_incomplete;           /* candidates were left out */
	bool candidate;                 /* mode = "candidate", else observer */
	bool stepping_down;             /* a resign or a stop is under way */
	bool stopping;                  /* ... and it is a stop */
	enum km_reason loss;            /* why we last fell out: the cause of
	                                 * a resign, a lost lease or key... */
	unsigned withdrawn;             /* WITHDRAW_* */
	const char *my_key;             /* NULL without a lease */
	size_t my_key_len;
	int64_t my_create_revision;     /* 0 until our key exists */
	uint64_t lease_deadline;        /* CLOCK_BOOTTIME ms; 0 without a lease */
	uint64_t now;                   /* CLOCK_BOOTTIME ms */
	bool leader_file_failed;        /* writing a leader state file failed */
};

struct decision {
	enum km_role role;
	const struct etcd_kv *leader;   /* points into keys; NULL: none */
	int64_t term;                   /* the leader's create revision; 0: none */
	bool resign;                    /* we would lead but cannot say so */
	enum km_reason reason;          /* why not_member; REASON_NONE else */
};

void decide_role(const struct decision_input *in, struct decision *out);

/* The key that leads: the lowest create revision, ties broken by key
 * bytes so that every reader agrees. NULL for an empty election. */
const struct etcd_kv *election_leader(const struct etcd_kv *keys, size_t n);

/* Our place in the view: our key counts only once the view has caught up
 * with its create revision, and only if etcd still has that revision. */
enum km_role election_role(const struct etcd_kv *keys, size_t n, int64_t view_rev,
    const char *my_key, size_t my_key_len, int64_t my_rev);

#endif
