/*
 * config_internal.h - shared by the config*.c files only; the rest of the
 * program sees config.h.
 *
 * Owns the key table's shape (struct config_key) and the draft: the
 * values of one load, borrowed from the libconfig tree, the command line
 * or the table, together with where each came from.  A draft becomes a
 * struct config only once every check has passed.
 *
 *   config.c            loading, merging file and options, the public API
 *   config_keys.c       the key table, the defaults and per-key checks
 *   config_rules.c      the rules that tie keys together
 *   config_endpoint.c   what an etcd endpoint URL may be (libcurl CURLU)
 *   config_libconfig.c  reading a file with libconfig 1.5, and its flaws
 *   config_error.c      where an error points and how it is worded
 */
#ifndef KM_CONFIG_INTERNAL_H
#define KM_CONFIG_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "config.h"

enum key_id {
	K_ROOT,
	K_SERVICE,
	K_NODE,
	K_MODE,
	K_ETCD,
	K_ENDPOINTS,
	K_PREFIX,
	K_REQUEST_TIMEOUT,
	K_USERNAME,
	K_PASSWORD_FILE,
	K_CA_FILE,
	K_CERT_FILE,
	K_KEY_FILE,
	K_LEASE,
	K_TTL,
	K_MARGIN,
	K_STATE_FILE,
	K_METRICS_FILE,
	K_HOOKS,
	K_HOOKS_DIR,
	K_HOOKS_TIMEOUT,
	K_ON_LEADER_FAILURE,
	K_HOOKS_LEADER_CHANGE,
	K_HEALTH,
	K_HEALTH_COMMAND,
	K_HEALTH_INTERVAL,
	K_HEALTH_TIMEOUT,
	K_HEALTH_FALL,
	K_HEALTH_RISE,
	K_COUNT
};

enum key_type {
	KEY_GROUP,      /* a libconfig group holding other keys */
	KEY_STRING,
	KEY_INTEGER,    /* integer literal only */
	KEY_SECONDS,    /* integer or float literal */
	KEY_STRINGS,    /* array or list of strings */
	KEY_BOOLEAN,    /* true or false; held in key_value.integer as 1 or 0 */
};

/* What a string, or a list of strings, must look like beyond its range. */
enum value_form {
	FORM_ANY,
	FORM_NAME,              /* [A-Za-z0-9._-] only */
	FORM_TEXT,              /* no control characters */
	FORM_CHOICE,            /* one of .choices */
	FORM_ABSOLUTE_PATH,     /* starts with '/' */
	FORM_ENDPOINTS,         /* every element an etcd endpoint URL */
	FORM_COMMAND,           /* the first element an absolute path */
};

struct config_key {
	const char *name;       /* dotted, as users write it in messages */
	enum key_id parent;
	enum key_type type;
	const char *label;      /* how an option's message names the value */

	/* The default: text for a string, the one element for a list,
	 * number for integers and seconds.  A key without one is either
	 * required or given a default at load time (the host name).  A
	 * boolean's default is default_number, 1 or 0. */
	const char *default_text;
	double default_number;
	bool has_default;

	/* The range: of the value for integers and seconds, of the length
	 * in bytes for strings, of the element count for lists.  max == 0
	 * means unbounded. */
	double min, max;

	enum value_form form;
	const char *const *choices;  /* FORM_CHOICE: in enum order, NULL-ended */
	bool required;          /* must be written, inside its group when the
	                         * group is present */
	bool optional;          /* "" means not set: form and range apply
	                         * only to a set value */
	bool readable;          /* names a file that must be readable */
	bool secret;            /* and whose content is taken as a secret:
	                         * one line, not readable by group or others */
};

extern const struct config_key config_keys[K_COUNT];

/* The longest list any key allows. */
#define CONFIG_LIST_MAX KM_MAX_HEALTH_ARGS

struct key_value {
	config_setting_t *setting;   /* where the file set it, or NULL */
	const char *option;          /* "-t" when an option set it, or NULL */

	const char *text;
	int64_t integer;
	double seconds;
	const char *item[CONFIG_LIST_MAX];
	size_t n_items;              /* as written, may exceed the range */
};

struct config_draft {
	const char *path;            /* file being read, or NULL */
	char *err;
	size_t errlen;

	config_t lc;
	bool lc_live;

	struct key_value value[K_COUNT];
	char *option_endpoints;      /* split copy of -e, owns its items */
	char *secret;                /* what the secret file holds, or NULL */
	char hostname[HOST_NAME_MAX + 1];
};

/* config_error.c.  Each returns -EINVAL so that callers can "return
 * draft_fail...(...)"; the message lands in draft->err. */
int draft_fail(struct config_draft *d, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int draft_fail_setting(struct config_draft *d, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* At the origin of key k: "-t: ", "FILE:LINE: ", or "FILE: " for a
 * default (the file is where it could be fixed). */
int draft_fail_at(struct config_draft *d, enum key_id k, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* As draft_fail_at, naming the key: "-t: ttl must ..." or
 * "FILE:LINE: 'lease.ttl' must ...". */
int draft_fail_key(struct config_draft *d, enum key_id k, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
bool draft_given(const struct config_draft *d, enum key_id k);
/* s with control bytes as \xNN, cut to fit out. */
void draft_printable(char *out, size_t outlen, const char *s);

/* config_libconfig.c */
int libconfig_parse_file(struct config_draft *d);
const char *libconfig_setting_file(const struct config_draft *d,
    const config_setting_t *s);

/* config_keys.c */
/* The key named member in group parent, or K_ROOT when there is none. */
enum key_id keys_find(enum key_id parent, const char *member);
void keys_set_defaults(struct config_draft *d);
/* Each key on its own: presence, range and form, in table order. */
int keys_check_values(struct config_draft *d);
/* Files named by readable keys, and the secret file's content (into
 * d->secret); the only check that asks the system. */
int keys_check_files(struct config_draft *d);
/* The value's place in .choices, which is its enum value, or -1. */
int keys_choice(const struct config_draft *d, enum key_id k);

/* config_rules.c */
int rules_check(struct config_draft *d);

/* config_endpoint.c: 0, or -EINVAL with why the URL is refused in why
 * (quoting the URL only when it is fit to be shown, user info hidden). */
int endpoint_check(const char *url, char *why, size_t whylen);

#endif
