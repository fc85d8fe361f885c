/*
 * config.h - the validated configuration: libconfig file plus command line.
 *
 * A struct config is only ever handed out complete and valid; a reload
 * builds a new one beside the old and swaps on success.
 */
#ifndef KM_CONFIG_H
#define KM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The build's SYSCONFDIR (make SYSCONFDIR=...), where make install puts
 * the configuration. */
#ifndef KM_SYSCONFDIR
#define KM_SYSCONFDIR "/etc"
#endif
#define KM_DEFAULT_CONFIG KM_SYSCONFDIR "/kingsmoot/kingsmootd.conf"
#define KM_DEFAULT_STATE_FILE "/run/kingsmoot/state"
#define KM_DEFAULT_HOOKS_DIR KM_SYSCONFDIR "/kingsmoot/hooks.d"
#define KM_DEFAULT_ENDPOINT "http://127.0.0.1:2379"
#define KM_MAX_ENDPOINTS 16
#define KM_MAX_HEALTH_ARGS 64

enum km_mode { MODE_CANDIDATE, MODE_OBSERVER };
enum km_leader_failure { LEADER_FAILURE_RESIGN, LEADER_FAILURE_IGNORE };

struct config {
	char *path;             /* file actually read, or NULL */
	char *service;
	char *node;
	enum km_mode mode;

	char *endpoints[KM_MAX_ENDPOINTS];
	size_t n_endpoints;
	char *prefix;           /* "kingsmoot/" */
	double request_timeout; /* seconds */
	char *username;         /* "" when unset */
	char *password_file;
	char *password;         /* what password_file holds; NULL when unset */
	char *ca_file;
	char *cert_file;
	char *key_file;

	int64_t ttl;            /* seconds, >= 2 */
	double margin;          /* seconds */

	char *state_file;
	char *metrics_file;       /* "" when off */

	char *hooks_dir;
	double hooks_timeout;
	enum km_leader_failure on_leader_failure;
	bool hooks_leader_change;       /* hooks for a follower's new leader */

	bool health_enabled;
	char *health_command[KM_MAX_HEALTH_ARGS + 1]; /* NULL-terminated */
	double health_interval;
	double health_timeout;
	int health_fall;
	int health_rise;
};

/* Command-line values; NULL / 0 means "not given". */
struct config_overrides {
	const char *config_path;  /* -c */
	const char *service;      /* -s */
	const char *node;         /* -i */
	const char *endpoints;    /* -e, comma separated */
	const char *state_file;   /* -S */
	const char *hooks_dir;    /* -H */
	const char *ttl;          /* -t, still text: validated like the file */
};

/*
 * Build a complete configuration. On error return -EINVAL (or -ENOENT,
 * -EACCES ...) and leave a one-line message, "FILE:LINE: what is wrong"
 * where a line is known, in err.
 */
int config_load(const struct config_overrides *ov, struct config *out,
    char *err, size_t errlen);
void config_free(struct config *cfg);
/* "<prefix><service>/", the keys of the election (malloc'd). */
char *config_election_prefix(const struct config *cfg, size_t *len);

/* True when two configurations need a new election session (resign and
 * campaign again): service, node, mode, etcd or lease settings differ. */
bool config_session_changed(const struct config *a, const struct config *b);

/* Validation helpers, exposed for kingsmootctl and tests. */
bool config_valid_service(const char *s);

#endif
