/*
 * publish.h - telling the co-located service its role: the state file,
 * the hooks, sd_notify STATUS= and the "published" log line.
 *
 * The publisher remembers what it last told, so that only changes reach
 * the hooks and a leader's renewal only rewrites the file.
 */
#ifndef KM_PUBLISH_H
#define KM_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "state.h"

/*
 * A follower or observer publishes news of a new leader this long after
 * it learns of it: in a large election on few cores every follower wakes
 * with the new leader, and their writes would otherwise queue before the
 * one write the handover waits for, the new leader's own. News that
 * arrives meanwhile is published with it. With 50 candidates on two cores
 * a handover takes up to about 15 ms: 5 ms put the followers' writes, all
 * at once, inside the slower handovers.
 */
#define PUBLISH_NEWS_DELAY_MS 25

struct publisher {
	const struct config *cfg;
	enum km_role role;
	char leader[STATE_MAX_VALUE];   /* raw: for the hooks only */
	char leader_shown[3 * STATE_MAX_VALUE]; /* percent-encoded, once:
	                                 * for the log and STATUS= */
	int64_t term;
	enum km_reason reason;
	double since;                   /* Unix time the role was taken */
	bool file_stale;                /* the last write failed */
	uint64_t file_leader_until;     /* the file claims leadership until
	                                 * (CLOCK_BOOTTIME ms); 0: it does not */
	unsigned long writes;           /* successful writes, for metrics */
	struct loop_timer news_timer;   /* a follower's news waits for it */
	bool news_ready;                /* it fired: publish the news now */
	void (*news_due)(void *ud);     /* then publish again */
	void *news_ud;
};

/* What to publish now. */
struct publication {
	enum km_role role;
	const char *leader;             /* "" when none */
	int64_t term;
	enum km_reason reason;          /* REASON_NONE unless not_member */
	uint64_t deadline;              /* a leader's, behind VALID_UNTIL */
	uint64_t renewed_sent;          /* the keepalive send it counts from */
};

/* news_due(ud) is called when a follower's deferred news is due: it must
 * publish the current decision again. */
void publisher_init(struct publisher *p, const struct config *cfg,
    void (*news_due)(void *ud), void *ud);
void publisher_free(struct publisher *p);
/*
 * Write the state file when anything changed (or the last write failed,
 * or a leader renewed), then start the hooks on a role change; a
 * follower's or observer's news of a new leader waits
 * PUBLISH_NEWS_DELAY_MS (returning 0 meanwhile). A role
 * other than leader is taken even when the file could not be written;
 * -errno means a leader's file was not written and the role not taken.
 */
int publish(struct publisher *p, const struct publication *next);
/* STATUS= for the current role. */
void publisher_announce(const struct publisher *p);
/* The configuration changed; a moved state file is retired and the
 * current role written at the new path. -errno if a leader's failed. */
int publisher_set_config(struct publisher *p, const struct config *cfg,
    uint64_t deadline, uint64_t renewed_sent);

#endif
