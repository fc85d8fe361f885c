/*
 * config_keys.c - the key table: every key's type, default and range,
 * and the loops that apply defaults and check each key on its own.
 *
 * A key is added here and nowhere else, except for the field it fills
 * in struct config (config.c) and any rule tying it to other keys
 * (config_rules.c).  DESIGN section 6 and kingsmootd.conf(5) document
 * these values; the unit tests hold the table to them.
 */
#include "config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util.h"

/* etcd hashes passwords with bcrypt, which reads 72 bytes at most. */
#define SECRET_MAX 1024

static const char *const mode_choices[] = { "candidate", "observer", NULL };
static const char *const leader_failure_choices[] = { "resign", "ignore",
	NULL };

#define GROUP(n, p) .name = (n), .parent = (p), .type = KEY_GROUP

const struct config_key config_keys[K_COUNT] = {
	[K_ROOT] = { GROUP("", K_ROOT) },
	[K_SERVICE] = { "service", K_ROOT, KEY_STRING, "service",
		.min = 1, .max = 128, .form = FORM_NAME, .required = true },
	/* Defaults to the host name, found at load time. */
	[K_NODE] = { "node", K_ROOT, KEY_STRING, "node",
		.min = 1, .max = 256, .form = FORM_TEXT },
	[K_MODE] = { "mode", K_ROOT, KEY_STRING, NULL,
		.default_text = "candidate", .has_default = true,
		.form = FORM_CHOICE, .choices = mode_choices },

	[K_ETCD] = { GROUP("etcd", K_ROOT) },
	[K_ENDPOINTS] = { "etcd.endpoints", K_ETCD, KEY_STRINGS, "endpoints",
		.default_text = KM_DEFAULT_ENDPOINT, .has_default = true,
		.min = 1, .max = KM_MAX_ENDPOINTS, .form = FORM_ENDPOINTS },
	[K_PREFIX] = { "etcd.prefix", K_ETCD, KEY_STRING, NULL,
		.default_text = "kingsmoot/", .has_default = true,
		.min = 1, .max = 256, .form = FORM_TEXT },
	[K_REQUEST_TIMEOUT] = { "etcd.request_timeout", K_ETCD, KEY_SECONDS,
		NULL, .default_number = 1.0, .has_default = true,
		.min = 0.05, .max = 60 },
	[K_USERNAME] = { "etcd.username", K_ETCD, KEY_STRING, NULL,
		.default_text = "", .has_default = true, .optional = true },
	[K_PASSWORD_FILE] = { "etcd.password_file", K_ETCD, KEY_STRING, NULL,
		.default_text = "", .has_default = true, .optional = true,
		.form = FORM_ABSOLUTE_PATH, .readable = true, .secret = true },
	[K_CA_FILE] = { "etcd.ca_file", K_ETCD, KEY_STRING, NULL,
		.default_text = "", .has_default = true, .optional = true,
		.readable = true },
	[K_CERT_FILE] = { "etcd.cert_file", K_ETCD, KEY_STRING, NULL,
		.default_text = "", .has_default = true, .optional = true,
		.readable = true },
	[K_KEY_FILE] = { "etcd.key_file", K_ETCD, KEY_STRING, NULL,
		.default_text = "", .has_default = true, .optional = true,
		.readable = true },

	[K_LEASE] = { GROUP("lease", K_ROOT) },
	[K_TTL] = { "lease.ttl", K_LEASE, KEY_INTEGER, "ttl",
		.default_number = 10, .has_default = true,
		.min = 2, .max = 86400 },
	/* Bounded by lease.ttl: config_rules.c. */
	[K_MARGIN] = { "lease.margin", K_LEASE, KEY_SECONDS, NULL,
		.default_number = 2.0, .has_default = true },

	[K_STATE_FILE] = { "state_file", K_ROOT, KEY_STRING, "state file",
		.default_text = KM_DEFAULT_STATE_FILE, .has_default = true,
		.min = 1, .max = 4000, .form = FORM_ABSOLUTE_PATH },
	/* Off unless set; node_exporter's textfile collector reads *.prom. */
	[K_METRICS_FILE] = { "metrics_file", K_ROOT, KEY_STRING, NULL,
		.default_text = "", .has_default = true, .optional = true,
		.form = FORM_ABSOLUTE_PATH },

	[K_HOOKS] = { GROUP("hooks", K_ROOT) },
	[K_HOOKS_DIR] = { "hooks.dir", K_HOOKS, KEY_STRING, "hooks directory",
		.default_text = KM_DEFAULT_HOOKS_DIR, .has_default = true,
		.form = FORM_ABSOLUTE_PATH },
	[K_HOOKS_TIMEOUT] = { "hooks.timeout", K_HOOKS, KEY_SECONDS, NULL,
		.default_number = 10.0, .has_default = true,
		.min = 0.1, .max = 3600 },
	[K_ON_LEADER_FAILURE] = { "hooks.on_leader_failure", K_HOOKS,
		KEY_STRING, NULL,
		.default_text = "resign", .has_default = true,
		.form = FORM_CHOICE, .choices = leader_failure_choices },
	[K_HOOKS_LEADER_CHANGE] = { "hooks.leader_change", K_HOOKS,
		KEY_BOOLEAN, NULL, .default_number = 1, .has_default = true },

	[K_HEALTH] = { GROUP("health", K_ROOT) },
	[K_HEALTH_COMMAND] = { "health.command", K_HEALTH, KEY_STRINGS, NULL,
		.min = 1, .max = KM_MAX_HEALTH_ARGS, .form = FORM_COMMAND,
		.required = true },
	[K_HEALTH_INTERVAL] = { "health.interval", K_HEALTH, KEY_SECONDS,
		NULL, .default_number = 5.0, .has_default = true,
		.min = 0.1, .max = 3600 },
	/* Bounded by health.interval: config_rules.c. */
	[K_HEALTH_TIMEOUT] = { "health.timeout", K_HEALTH, KEY_SECONDS, NULL,
		.default_number = 2.0, .has_default = true },
	[K_HEALTH_FALL] = { "health.fall", K_HEALTH, KEY_INTEGER, NULL,
		.default_number = 3, .has_default = true,
		.min = 1, .max = 100 },
	[K_HEALTH_RISE] = { "health.rise", K_HEALTH, KEY_INTEGER, NULL,
		.default_number = 2, .has_default = true,
		.min = 1, .max = 100 },
};

_Static_assert(KM_MAX_ENDPOINTS <= CONFIG_LIST_MAX,
    "a draft holds every endpoint");

enum key_id keys_find(enum key_id parent, const char *member)
{
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const char *name = strrchr(config_keys[k].name, '.');

		name = name != NULL ? name + 1 : config_keys[k].name;
		if (config_keys[k].parent == parent &&
		    strcmp(name, member) == 0)
			return (enum key_id)k;
	}
	return K_ROOT;
}

void keys_set_defaults(struct config_draft *d)
{
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const struct config_key *key = &config_keys[k];
		struct key_value *v = &d->value[k];

		if (!key->has_default)
			continue;
		v->text = key->default_text;
		v->integer = (int64_t)key->default_number;
		v->seconds = key->default_number;
		if (key->type == KEY_STRINGS) {
			v->item[0] = key->default_text;
			v->n_items = 1;
		}
	}
}

int keys_choice(const struct config_draft *d, enum key_id k)
{
	const char *const *choice = config_keys[k].choices;

	for (int i = 0; choice[i] != NULL; i++)
		if (strcmp(d->value[k].text, choice[i]) == 0)
			return i;
	return -1;
}

/* Service names are part of every election key: keep them to characters
 * that nothing needs to quote. */
static bool valid_name(const char *s, size_t min, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		char ch = s[n];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return false;
		if (n >= max)
			return false;
	}
	return n >= min;
}

bool config_valid_service(const char *s)
{
	const struct config_key *key = &config_keys[K_SERVICE];

	return s != NULL && valid_name(s, (size_t)key->min, (size_t)key->max);
}

/* Node ids and prefixes end up in etcd keys, values and the state file;
 * anything goes except what would break a line or a terminal. */
static bool valid_text(const char *s, size_t min, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
			return false;
	return n >= min;
}

/* 'must be "a" or "b"', or 'must be "a", "b" or "c"'. */
static int check_choice(struct config_draft *d, enum key_id k)
{
	const char *const *choice = config_keys[k].choices;
	char list[200] = "";
	size_t len = 0;

	if (keys_choice(d, k) >= 0)
		return 0;
	for (int i = 0; choice[i] != NULL && len < sizeof(list); i++) {
		const char *sep = i == 0 ? "" :
		    choice[i + 1] == NULL ? " or " : ", ";

		len += (size_t)snprintf(list + len, sizeof(list) - len,
		    "%s\"%s\"", sep, choice[i]);
	}
	return draft_fail_key(d, k, "must be %s", list);
}

static int check_string(struct config_draft *d, enum key_id k)
{
	const struct config_key *key = &config_keys[k];
	const char *s = d->value[k].text;
	size_t max = (size_t)key->max;

	if (key->optional && *s == '\0')
		return 0;
	switch (key->form) {
	case FORM_ANY:
		return 0;
	case FORM_NAME:
		if (!valid_name(s, (size_t)key->min, max))
			return draft_fail_key(d, k, "must match "
			    "[A-Za-z0-9._-]{%zu,%zu}", (size_t)key->min, max);
		return 0;
	case FORM_TEXT:
		if (!valid_text(s, (size_t)key->min, max))
			return draft_fail_key(d, k, "must be %zu to %zu bytes "
			    "without control characters", (size_t)key->min,
			    max);
		return 0;
	case FORM_CHOICE:
		return check_choice(d, k);
	case FORM_ABSOLUTE_PATH:
		if (max > 0 && (s[0] != '/' || strlen(s) > max))
			return draft_fail_key(d, k, "must be an absolute path "
			    "of at most %zu bytes", max);
		if (s[0] != '/')
			return draft_fail_key(d, k, "must be an absolute path");
		return 0;
	case FORM_ENDPOINTS:
	case FORM_COMMAND:
		break;          /* forms of lists, see check_list() */
	}
	return 0;
}

static int check_list(struct config_draft *d, enum key_id k)
{
	const struct config_key *key = &config_keys[k];
	const struct key_value *v = &d->value[k];
	char why[640];

	if (v->n_items < (size_t)key->min || v->n_items > (size_t)key->max)
		return draft_fail_key(d, k, "must have %zu to %zu elements",
		    (size_t)key->min, (size_t)key->max);
	switch (key->form) {
	case FORM_ENDPOINTS:
		for (size_t i = 0; i < v->n_items; i++) {
			if (endpoint_check(v->item[i], why, sizeof(why)) == 0)
				continue;
			/* -e already names what it is about. */
			if (v->option != NULL)
				return draft_fail_at(d, k, "%s", why);
			return draft_fail_at(d, k, "'%s': %s", key->name, why);
		}
		return 0;
	case FORM_COMMAND:
		if (v->item[0][0] != '/')
			return draft_fail_key(d, k,
			    "must start with an absolute path");
		return 0;
	default:
		return 0;
	}
}

static int check_number(struct config_draft *d, enum key_id k)
{
	const struct config_key *key = &config_keys[k];
	const struct key_value *v = &d->value[k];

	if (key->max == 0)
		return 0;
	if (key->type == KEY_INTEGER &&
	    (v->integer < (int64_t)key->min || v->integer > (int64_t)key->max))
		return draft_fail_key(d, k, "must be an integer from %lld "
		    "to %lld", (long long)key->min, (long long)key->max);
	/* Written so that NaN fails too. */
	if (key->type == KEY_SECONDS &&
	    !(v->seconds >= key->min && v->seconds <= key->max))
		return draft_fail_key(d, k, "must be from %g to %g seconds",
		    key->min, key->max);
	return 0;
}

static bool present(const struct config_draft *d, enum key_id k)
{
	return draft_given(d, k) || config_keys[k].has_default ||
	    d->value[k].text != NULL;
}

static int check_required(struct config_draft *d, enum key_id k)
{
	enum key_id group = config_keys[k].parent;

	if (group == K_ROOT)
		return draft_fail(d, d->path, 0, "%s is required",
		    config_keys[k].name);
	if (d->value[group].setting == NULL)
		return 0;
	return draft_fail_setting(d, d->value[group].setting,
	    "'%s' is required in '%s'", config_keys[k].name,
	    config_keys[group].name);
}

int keys_check_values(struct config_draft *d)
{
	int r;

	for (int i = K_ROOT + 1; i < K_COUNT; i++) {
		enum key_id k = (enum key_id)i;

		if (config_keys[k].type == KEY_GROUP)
			continue;
		if (!present(d, k)) {
			if (config_keys[k].required &&
			    (r = check_required(d, k)) < 0)
				return r;
			continue;
		}
		switch (config_keys[k].type) {
		case KEY_STRING:
			r = check_string(d, k);
			break;
		case KEY_STRINGS:
			r = check_list(d, k);
			break;
		default:
			r = check_number(d, k);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Read all of fd, up to max bytes; -EFBIG beyond. */
static ssize_t read_bounded(int fd, char *buf, size_t max)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return (ssize_t)got;
		got += (size_t)n;
		if (got > max)
			return -EFBIG;
	}
}

/*
 * The secret is what the file holds, less one line end: "echo pw > file"
 * and an editor's last newline are not part of it. The file is kept from
 * group and others, as ssh keeps its keys, because whoever reads it can
 * act as this node in etcd.
 */
static int read_secret(struct config_draft *d, enum key_id k, const char *path)
{
	char buf[SECRET_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, r = 0;

	fd = open(d->value[k].text, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return draft_fail_key(d, k, "is not readable: %s: '%s'",
		    strerror(errno), path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = draft_fail_key(d, k, "is not a regular file: '%s'", path);
	else if (st.st_mode & (S_IRGRP | S_IROTH))
		r = draft_fail_key(d, k, "must not be readable by group or "
		    "others: '%s' has mode %04o (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 07777));
	if (r < 0) {
		close(fd);
		return r;
	}
	n = read_bounded(fd, buf, SECRET_MAX);
	close(fd);
	if (n < 0) {
		if (n == -EFBIG)
			r = draft_fail_key(d, k, "holds more than %d bytes: '%s'",
			    SECRET_MAX, path);
		else
			r = draft_fail_key(d, k, "is not readable: %s: '%s'",
			    strerror((int)-n), path);
		goto out;
	}
	len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		r = draft_fail_key(d, k, "is empty: '%s'", path);
		goto out;
	}
	if (memchr(buf, '\n', len) || memchr(buf, '\r', len) ||
	    memchr(buf, '\0', len)) {
		r = draft_fail_key(d, k, "must hold the password alone on one "
		    "line: '%s'", path);
		goto out;
	}
	d->secret = xcalloc(len + 1, 1);
	memcpy(d->secret, buf, len);
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/*
 * The one check that asks the file system, so it runs last.  The message
 * names the file: the key alone does not say which path was tried when
 * an @include or a template wrote it.
 */
int keys_check_files(struct config_draft *d)
{
	char path[400];

	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const char *file = d->value[k].text;

		if (!config_keys[k].readable || file == NULL || *file == '\0')
			continue;
		draft_printable(path, sizeof(path), file);
		if (config_keys[k].secret) {
			int r = read_secret(d, (enum key_id)k, path);

			if (r < 0)
				return r;
			continue;
		}
		if (access(file, R_OK) == 0)
			continue;
		return draft_fail_key(d, (enum key_id)k, "is not readable: "
		    "%s: '%s'", strerror(errno), path);
	}
	return 0;
}
