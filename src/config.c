/*
 * config.c - reading, checking and comparing the configuration.
 *
 * Owns the libconfig file format, the command-line overrides, every
 * default, range and cross-key rule of DESIGN section 6 (and the safety
 * inequality of section 2.3), and the wording of configuration errors.
 *
 * Loading happens in stages on a private context: read the file, reject
 * what libconfig would silently mangle, walk the tree against a schema
 * (unknown keys and wrong types), apply the command line, validate the
 * effective values, and only then copy them into a struct config.  Until
 * that last copy every value points into the libconfig tree, the
 * overrides or static defaults, so an error anywhere frees one tree and
 * nothing else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "util.h"

/* A configuration file is a few hundred bytes; anything near this is a
 * wrong path (a log, a core file), not a configuration. */
#define CONFIG_MAX_BYTES (1024 * 1024)
/* libconfig 1.5 refuses deeper @include nesting itself. */
#define INCLUDE_MAX_DEPTH 10

#define SERVICE_MAX 128
#define NODE_MAX 256
#define PREFIX_MAX 256
#define ENDPOINT_MAX 512
#define STATE_FILE_MAX 4000
#define TTL_MIN 2
#define TTL_MAX 86400
#define COUNT_MIN 1
#define COUNT_MAX 100

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
	K_HOOKS,
	K_HOOKS_DIR,
	K_HOOKS_TIMEOUT,
	K_ON_LEADER_FAILURE,
	K_HEALTH,
	K_HEALTH_COMMAND,
	K_HEALTH_INTERVAL,
	K_HEALTH_TIMEOUT,
	K_HEALTH_FALL,
	K_HEALTH_RISE,
	K_COUNT
};

enum key_type { T_GROUP, T_STRING, T_INT, T_SECONDS, T_STRINGS };

struct key {
	const char *name;       /* dotted, as users write it in messages */
	enum key_id parent;
	enum key_type type;
	const char *label;      /* how an option's message names the value */
};

static const struct key keys[K_COUNT] = {
	[K_ROOT] = { "", K_ROOT, T_GROUP, NULL },
	[K_SERVICE] = { "service", K_ROOT, T_STRING, "service" },
	[K_NODE] = { "node", K_ROOT, T_STRING, "node" },
	[K_MODE] = { "mode", K_ROOT, T_STRING, NULL },
	[K_ETCD] = { "etcd", K_ROOT, T_GROUP, NULL },
	[K_ENDPOINTS] = { "etcd.endpoints", K_ETCD, T_STRINGS, "endpoints" },
	[K_PREFIX] = { "etcd.prefix", K_ETCD, T_STRING, NULL },
	[K_REQUEST_TIMEOUT] =
	    { "etcd.request_timeout", K_ETCD, T_SECONDS, NULL },
	[K_USERNAME] = { "etcd.username", K_ETCD, T_STRING, NULL },
	[K_PASSWORD_FILE] = { "etcd.password_file", K_ETCD, T_STRING, NULL },
	[K_CA_FILE] = { "etcd.ca_file", K_ETCD, T_STRING, NULL },
	[K_CERT_FILE] = { "etcd.cert_file", K_ETCD, T_STRING, NULL },
	[K_KEY_FILE] = { "etcd.key_file", K_ETCD, T_STRING, NULL },
	[K_LEASE] = { "lease", K_ROOT, T_GROUP, NULL },
	[K_TTL] = { "lease.ttl", K_LEASE, T_INT, "ttl" },
	[K_MARGIN] = { "lease.margin", K_LEASE, T_SECONDS, NULL },
	[K_STATE_FILE] = { "state_file", K_ROOT, T_STRING, "state file" },
	[K_HOOKS] = { "hooks", K_ROOT, T_GROUP, NULL },
	[K_HOOKS_DIR] = { "hooks.dir", K_HOOKS, T_STRING, "hooks directory" },
	[K_HOOKS_TIMEOUT] = { "hooks.timeout", K_HOOKS, T_SECONDS, NULL },
	[K_ON_LEADER_FAILURE] =
	    { "hooks.on_leader_failure", K_HOOKS, T_STRING, NULL },
	[K_HEALTH] = { "health", K_ROOT, T_GROUP, NULL },
	[K_HEALTH_COMMAND] = { "health.command", K_HEALTH, T_STRINGS, NULL },
	[K_HEALTH_INTERVAL] = { "health.interval", K_HEALTH, T_SECONDS, NULL },
	[K_HEALTH_TIMEOUT] = { "health.timeout", K_HEALTH, T_SECONDS, NULL },
	[K_HEALTH_FALL] = { "health.fall", K_HEALTH, T_INT, NULL },
	[K_HEALTH_RISE] = { "health.rise", K_HEALTH, T_INT, NULL },
};

struct ctx {
	const char *path;               /* file being read, or NULL */
	char *err;
	size_t errlen;

	config_t lc;
	bool lc_live;

	/* Where each value came from: the file setting, an option, or
	 * neither (a default).  Messages point at whichever it was. */
	config_setting_t *set[K_COUNT];
	const char *opt[K_COUNT];

	/* Effective values, borrowed from the tree, the overrides or
	 * string literals; owned copies are only made once all is valid. */
	const char *str[K_COUNT];
	int64_t num[K_COUNT];
	double sec[K_COUNT];

	const char *endpoints[KM_MAX_ENDPOINTS];
	size_t n_endpoints;             /* as written, may exceed the max */
	char *endpoints_buf;            /* split copy of -e */

	const char *command[KM_MAX_HEALTH_ARGS];
	size_t n_command;               /* as written, may exceed the max */

	char hostname[HOST_NAME_MAX + 1];
};

static int vfailf(struct ctx *c, const char *file, unsigned line,
    const char *fmt, va_list ap)
{
	char body[512];

	if (c->err == NULL || c->errlen == 0)
		return -EINVAL;
	vsnprintf(body, sizeof(body), fmt, ap);
	if (file != NULL && line > 0)
		snprintf(c->err, c->errlen, "%s:%u: %s", file, line, body);
	else if (file != NULL)
		snprintf(c->err, c->errlen, "%s: %s", file, body);
	else
		snprintf(c->err, c->errlen, "%s", body);
	return -EINVAL;
}

/* Returns -EINVAL so that callers can "return failf(...)". */
static int __attribute__((format(printf, 4, 5)))
failf(struct ctx *c, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfailf(c, file, line, fmt, ap);
	va_end(ap);
	return r;
}

static const char *setting_file(const struct ctx *c, const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);

	/* The top-level file is fed to libconfig as a string, so only
	 * settings from @include files carry a name of their own. */
	return f != NULL ? f : c->path;
}

static int __attribute__((format(printf, 3, 4)))
fail_setting(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfailf(c, setting_file(c, s), config_setting_source_line(s), fmt,
	    ap);
	va_end(ap);
	return r;
}

/* "-t: " for an option, "FILE:LINE: " for a file key, "FILE: " for a
 * default (the file is where it could be fixed), "" without a file. */
static void key_origin(const struct ctx *c, enum key_id k, const char **file,
    unsigned *line)
{
	*line = 0;
	if (c->opt[k] != NULL) {
		*file = c->opt[k];
	} else if (c->set[k] != NULL) {
		*file = setting_file(c, c->set[k]);
		*line = config_setting_source_line(c->set[k]);
	} else {
		*file = c->path;
	}
}

static int __attribute__((format(printf, 3, 4)))
fail_at(struct ctx *c, enum key_id k, const char *fmt, ...)
{
	const char *file;
	unsigned line;
	va_list ap;
	int r;

	key_origin(c, k, &file, &line);
	va_start(ap, fmt);
	r = vfailf(c, file, line, fmt, ap);
	va_end(ap);
	return r;
}

/* Message about one key's value, naming the key the way its origin does:
 * "-t: ttl must ..." or "FILE:LINE: 'lease.ttl' must ...". */
static int __attribute__((format(printf, 3, 4)))
fail_key(struct ctx *c, enum key_id k, const char *fmt, ...)
{
	char body[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (c->opt[k] != NULL && keys[k].label != NULL)
		return fail_at(c, k, "%s %s", keys[k].label, body);
	return fail_at(c, k, "'%s' %s", keys[k].name, body);
}

static bool given(const struct ctx *c, enum key_id k)
{
	return c->set[k] != NULL || c->opt[k] != NULL;
}

/* ---- reading the file ---- */

static int read_file(const char *path, char **out, size_t *outlen,
    struct ctx *c)
{
	struct stat st;
	char *buf = NULL, *bigger;
	size_t len = 0, cap;
	ssize_t n;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		failf(c, path, 0, "%s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		failf(c, path, 0, "%s", strerror(-r));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		failf(c, path, 0, "%s", strerror(EISDIR));
		goto out;
	}
	/* A FIFO or device could block or never end. */
	if (!S_ISREG(st.st_mode)) {
		r = failf(c, path, 0, "not a regular file");
		goto out;
	}
	if (st.st_size > CONFIG_MAX_BYTES)
		goto too_large;
	/* Sized from fstat, but an editor may be growing the file.  Two
	 * spare bytes: a newline parse_file() may add, and the NUL. */
	cap = (size_t)st.st_size + 1;
	buf = xcalloc(cap + 2, 1);
	for (;;) {
		if (len == cap) {
			if (cap > CONFIG_MAX_BYTES)
				goto too_large;
			bigger = xcalloc(2 * cap + 2, 1);
			memcpy(bigger, buf, len);
			free(buf);
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			failf(c, path, 0, "%s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_MAX_BYTES)
		goto too_large;
	*out = buf;
	*outlen = len;
	buf = NULL;
	r = 0;
	goto out;
too_large:
	r = failf(c, path, 0, "file is larger than %d bytes", CONFIG_MAX_BYTES);
out:
	free(buf);
	close(fd);
	return r;
}

static bool is_name_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '*';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int prescan(struct ctx *c, const char *file, const char *text,
    size_t len, int depth);

static int prescan_include(struct ctx *c, const char *file, unsigned line,
    const char *name, size_t namelen, int depth)
{
	char *path, *text;
	size_t len;
	int r;

	if (depth >= INCLUDE_MAX_DEPTH)
		return failf(c, file, line, "@include nested too deeply");
	path = xcalloc(namelen + 1, 1);
	memcpy(path, name, namelen);
	/* libconfig opens the name as written (no include_dir is set). */
	r = read_file(path, &text, &len, c);
	if (r == 0) {
		r = prescan(c, path, text, len, depth + 1);
		free(text);
	}
	free(path);
	return r;
}

/*
 * libconfig 1.5 stores an integer literal without an L suffix in an int
 * and wraps it silently: "ttl = 4294967298;" reads back as 2.  It keeps
 * no source text, so the only way to catch this is to look at the
 * literals ourselves.  This is a tokenizer just good enough to find
 * numbers outside comments, strings and names; the real parse has
 * already succeeded when it runs.
 */
static int prescan(struct ctx *c, const char *file, const char *text,
    size_t len, int depth)
{
	const char *p = text, *end = text + len, *q;
	unsigned line = 1;
	int r;

	while (p < end) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' ||
		    (*p == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end &&
			    p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			p = p < end ? p + 2 : end;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (*p == '\n')
					line++;
			}
			p = p < end ? p + 1 : end;
		} else if (*p == '@') {
			for (q = ++p; p < end && is_name_char(*p); p++)
				;
			if (p - q != 7 || memcmp(q, "include", 7) != 0)
				continue;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p == end || *p != '"')
				continue;
			for (q = ++p; p < end && *p != '"' && *p != '\n'; p++)
				;
			r = prescan_include(c, file, line, q, (size_t)(p - q),
			    depth);
			if (r < 0)
				return r;
		} else if (is_name_char(*p) && !is_digit(*p) && *p != '-') {
			while (p < end && is_name_char(*p))
				p++;
		} else if (is_digit(*p) || ((*p == '-' || *p == '+') &&
		    p + 1 < end && is_digit(p[1]))) {
			char lit[64];
			bool hex, isfloat = false;
			long long v;
			size_t n;

			q = p;
			if (*p == '-' || *p == '+')
				p++;
			hex = p + 1 < end && p[0] == '0' &&
			    (p[1] == 'x' || p[1] == 'X');
			while (p < end && (is_name_char(*p) || *p == '.' ||
			    ((*p == '-' || *p == '+') && !hex &&
			    (p[-1] == 'e' || p[-1] == 'E')))) {
				if (!hex && strchr(".eE", *p) != NULL)
					isfloat = true;
				p++;
			}
			if (isfloat || p[-1] == 'L')
				continue;
			n = (size_t)(p - q);
			if (n >= sizeof(lit))
				return failf(c, file, line,
				    "integer literal is out of range");
			memcpy(lit, q, n);
			lit[n] = '\0';
			errno = 0;
			v = strtoll(lit, NULL, hex ? 16 : 10);
			if (errno == ERANGE || v > INT32_MAX || v < INT32_MIN)
				return failf(c, file, line,
				    "integer %s is out of range", lit);
		} else {
			p++;
		}
	}
	return 0;
}

static int parse_file(struct ctx *c)
{
	const char *nul;
	char *text;
	size_t len;
	int r;

	r = read_file(c->path, &text, &len, c);
	if (r < 0)
		return r;
	/* libconfig 1.5 calls a comment that ends the file without a
	 * newline a syntax error; read_file() left room for one. */
	if (len > 0 && text[len - 1] != '\n')
		text[len++] = '\n';
	config_init(&c->lc);
	c->lc_live = true;
	nul = memchr(text, '\0', len);
	if (nul != NULL) {
		/* libconfig would silently stop reading at the NUL. */
		unsigned line = 1;

		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		r = failf(c, c->path, line, "NUL byte in file");
	} else if (config_read_string(&c->lc, text) != CONFIG_TRUE) {
		const char *f = config_error_file(&c->lc);

		r = failf(c, f != NULL ? f : c->path,
		    (unsigned)config_error_line(&c->lc), "%s",
		    config_error_text(&c->lc));
	} else {
		r = prescan(c, c->path, text, len, 0);
	}
	free(text);
	return r;
}

/* ---- walking the tree ---- */

static enum key_id find_key(enum key_id parent, const char *name)
{
	for (int k = K_ROOT + 1; k < K_COUNT; k++) {
		const char *member = strrchr(keys[k].name, '.');

		member = member != NULL ? member + 1 : keys[k].name;
		if (keys[k].parent == parent && strcmp(member, name) == 0)
			return (enum key_id)k;
	}
	return K_ROOT;
}

static int take_strings(struct ctx *c, enum key_id k, config_setting_t *s)
{
	const char **dst = k == K_ENDPOINTS ? c->endpoints : c->command;
	size_t max = k == K_ENDPOINTS ? KM_MAX_ENDPOINTS : KM_MAX_HEALTH_ARGS;
	size_t n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return fail_setting(c, s,
		    "'%s' must be an array or list of strings", keys[k].name);
	n = (size_t)config_setting_length(s);
	for (size_t i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		/* Element lines from libconfig 1.5 can be one off (it notes
		 * the line of the token after the element), so errors point
		 * at the key. */
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail_setting(c, s,
			    "'%s' must be an array or list of strings",
			    keys[k].name);
		if (i < max)
			dst[i] = config_setting_get_string(e);
	}
	if (k == K_ENDPOINTS)
		c->n_endpoints = n;
	else
		c->n_command = n;
	return 0;
}

static int take_value(struct ctx *c, enum key_id k, config_setting_t *s)
{
	int type = config_setting_type(s);

	switch (keys[k].type) {
	case T_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			return fail_setting(c, s, "'%s' must be a group",
			    keys[k].name);
		return 0;
	case T_STRING:
		if (type != CONFIG_TYPE_STRING)
			return fail_setting(c, s, "'%s' must be a string",
			    keys[k].name);
		c->str[k] = config_setting_get_string(s);
		return 0;
	case T_INT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			return fail_setting(c, s, "'%s' must be an integer",
			    keys[k].name);
		c->num[k] = config_setting_get_int64(s);
		return 0;
	case T_SECONDS:
		if (type == CONFIG_TYPE_FLOAT)
			c->sec[k] = config_setting_get_float(s);
		else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			c->sec[k] = (double)config_setting_get_int64(s);
		else
			return fail_setting(c, s,
			    "'%s' must be a number of seconds", keys[k].name);
		return 0;
	case T_STRINGS:
		return take_strings(c, k, s);
	}
	return -EINVAL;
}

static int walk(struct ctx *c, config_setting_t *group, enum key_id parent)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *s =
		    config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		enum key_id k = find_key(parent, name);
		int r;

		if (k == K_ROOT)
			return fail_setting(c, s, "unknown key '%s%s%s'",
			    keys[parent].name, parent == K_ROOT ? "" : ".",
			    name);
		r = take_value(c, k, s);
		if (r < 0)
			return r;
		c->set[k] = s;
		if (keys[k].type == T_GROUP && (r = walk(c, s, k)) < 0)
			return r;
	}
	return 0;
}

/* ---- command line ---- */

static int take_endpoint_list(struct ctx *c, const char *list)
{
	char *p, *tok;
	size_t n = 0;

	free(c->endpoints_buf);
	c->endpoints_buf = p = xstrdup(list);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (*tok == '\0')
			return failf(c, "-e", 0,
			    "empty element in endpoint list");
		if (n == KM_MAX_ENDPOINTS)
			return failf(c, "-e", 0, "at most %d endpoints",
			    KM_MAX_ENDPOINTS);
		c->endpoints[n++] = tok;
	}
	c->n_endpoints = n;
	return 0;
}

static void take_option(struct ctx *c, enum key_id k, const char *opt,
    const char *value)
{
	if (value != NULL) {
		c->str[k] = value;
		c->opt[k] = opt;
	}
}

static int apply_overrides(struct ctx *c, const struct config_overrides *ov)
{
	int r;

	take_option(c, K_SERVICE, "-s", ov->service);
	take_option(c, K_NODE, "-i", ov->node);
	take_option(c, K_STATE_FILE, "-S", ov->state_file);
	take_option(c, K_HOOKS_DIR, "-H", ov->hooks_dir);
	if (ov->endpoints != NULL) {
		c->opt[K_ENDPOINTS] = "-e";
		if ((r = take_endpoint_list(c, ov->endpoints)) < 0)
			return r;
	}
	if (ov->ttl != NULL) {
		c->opt[K_TTL] = "-t";
		if (parse_int64(ov->ttl, &c->num[K_TTL]) < 0)
			return fail_key(c, K_TTL, "must be an integer from "
			    "%d to %d", TTL_MIN, TTL_MAX);
	}
	return 0;
}

/* ---- validation ---- */

bool config_valid_service(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		char ch = s[n];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return false;
		if (n >= SERVICE_MAX)
			return false;
	}
	return n > 0;
}

static bool is_control(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

/* Node ids and prefixes end up in etcd keys, values and the state file;
 * anything goes except what would break a line or a terminal. */
static bool valid_text(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (is_control((unsigned char)s[n]) || n >= max)
			return false;
	return n > 0;
}

/* Why url is unusable, or NULL.  *quote tells whether the URL is fit to
 * be shown in the message (not when it is huge or holds control bytes). */
static const char *endpoint_problem(const char *url, bool *quote)
{
	const char *host;
	size_t n;

	*quote = false;
	for (n = 0; url[n] != '\0'; n++) {
		if (n >= ENDPOINT_MAX)
			return "an endpoint is longer than 512 bytes";
		/* Bytes up to 0x20 cover every C-locale space. */
		if ((unsigned char)url[n] <= 0x20 || url[n] == 0x7f)
			return "an endpoint contains whitespace or control "
			    "characters";
	}
	*quote = true;
	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return "must start with http:// or https://";
	if (*host == '\0' || strchr("/?#:@", *host) != NULL)
		return "has no host";
	return NULL;
}

static int check_endpoints(struct ctx *c)
{
	/* -e already names what it is about. */
	const char *what = c->opt[K_ENDPOINTS] != NULL ? "" :
	    "'etcd.endpoints': ";
	const char *why;
	bool quote;

	if (c->n_endpoints < 1 || c->n_endpoints > KM_MAX_ENDPOINTS)
		return fail_key(c, K_ENDPOINTS, "must have 1 to %d elements",
		    KM_MAX_ENDPOINTS);
	for (size_t i = 0; i < c->n_endpoints; i++) {
		why = endpoint_problem(c->endpoints[i], &quote);
		if (why != NULL && quote)
			return fail_at(c, K_ENDPOINTS, "%s'%s' %s", what,
			    c->endpoints[i], why);
		if (why != NULL)
			return fail_at(c, K_ENDPOINTS, "%s%s", what, why);
	}
	return 0;
}

static int check_seconds(struct ctx *c, enum key_id k, double lo, double hi)
{
	double v = c->sec[k];

	/* Written so that NaN fails too. */
	if (!(v >= lo && v <= hi))
		return fail_key(c, k, "must be from %g to %g seconds", lo, hi);
	return 0;
}

static int check_readable(struct ctx *c, enum key_id k)
{
	if (access(c->str[k], R_OK) < 0)
		return fail_key(c, k, "is not readable: %s", strerror(errno));
	return 0;
}

static int check_etcd(struct ctx *c)
{
	const char *user = c->str[K_USERNAME];
	const char *pwfile = c->str[K_PASSWORD_FILE];
	int r;

	if ((r = check_endpoints(c)) < 0)
		return r;
	if (!valid_text(c->str[K_PREFIX], PREFIX_MAX))
		return fail_key(c, K_PREFIX,
		    "must be 1 to %d bytes without control characters",
		    PREFIX_MAX);
	if ((r = check_seconds(c, K_REQUEST_TIMEOUT, 0.05, 60)) < 0)
		return r;

	if (*user != '\0' && *pwfile == '\0')
		return fail_key(c, K_USERNAME,
		    "is set but 'etcd.password_file' is not");
	if (*user == '\0' && *pwfile != '\0')
		return fail_key(c, K_PASSWORD_FILE,
		    "is set but 'etcd.username' is not");
	if (*pwfile != '\0') {
		if (*pwfile != '/')
			return fail_key(c, K_PASSWORD_FILE,
			    "must be an absolute path");
		if ((r = check_readable(c, K_PASSWORD_FILE)) < 0)
			return r;
	}

	if (*c->str[K_CERT_FILE] != '\0' && *c->str[K_KEY_FILE] == '\0')
		return fail_key(c, K_CERT_FILE,
		    "is set but 'etcd.key_file' is not");
	if (*c->str[K_CERT_FILE] == '\0' && *c->str[K_KEY_FILE] != '\0')
		return fail_key(c, K_KEY_FILE,
		    "is set but 'etcd.cert_file' is not");
	for (enum key_id k = K_CA_FILE; k <= K_KEY_FILE; k++)
		if (*c->str[k] != '\0' && (r = check_readable(c, k)) < 0)
			return r;
	return 0;
}

static int check_lease(struct ctx *c)
{
	int64_t ttl = c->num[K_TTL];
	double rt = c->sec[K_REQUEST_TIMEOUT], margin = c->sec[K_MARGIN];
	double need;
	enum key_id blame;

	if (ttl < TTL_MIN || ttl > TTL_MAX)
		return fail_key(c, K_TTL, "must be an integer from %d to %d",
		    TTL_MIN, TTL_MAX);
	/*
	 * The bound against ttl only speaks for itself when margin was
	 * written; a default margin that is too large for the ttl is the
	 * ttl's fault and the inequality below says so.
	 */
	if (!(margin > 0) || (given(c, K_MARGIN) && !(margin < (double)ttl)))
		return fail_key(c, K_MARGIN,
		    "must be greater than 0 and less than lease.ttl (%lld)",
		    (long long)ttl);

	/*
	 * DESIGN 2.3: a keepalive goes out every ttl/3; if it is lost, the
	 * retry on the next endpoint may take two request timeouts, and the
	 * leader still needs margin in hand before its local deadline.  The
	 * epsilon keeps decimal settings that meet the bound exactly from
	 * failing on binary rounding.
	 */
	need = (double)ttl / 3.0 + 2.0 * rt + margin;
	if (need <= (double)ttl + 1e-9)
		return 0;
	if (given(c, K_TTL))
		blame = K_TTL;
	else if (given(c, K_MARGIN))
		blame = K_MARGIN;
	else if (given(c, K_REQUEST_TIMEOUT))
		blame = K_REQUEST_TIMEOUT;
	else
		blame = K_TTL;
	return fail_at(c, blame, "lease.ttl %lld is too short: ttl/3 + "
	    "2*request_timeout + margin = %.2f s exceeds ttl (raise ttl or "
	    "lower etcd.request_timeout or lease.margin)", (long long)ttl,
	    need);
}

static int check_health(struct ctx *c)
{
	double interval = c->sec[K_HEALTH_INTERVAL];
	double timeout = c->sec[K_HEALTH_TIMEOUT];
	int r;

	if (c->set[K_HEALTH] == NULL)
		return 0;
	if (c->set[K_HEALTH_COMMAND] == NULL)
		return fail_setting(c, c->set[K_HEALTH],
		    "'health.command' is required in 'health'");
	if (c->n_command < 1 || c->n_command > KM_MAX_HEALTH_ARGS)
		return fail_key(c, K_HEALTH_COMMAND,
		    "must have 1 to %d elements", KM_MAX_HEALTH_ARGS);
	if (c->command[0][0] != '/')
		return fail_key(c, K_HEALTH_COMMAND,
		    "must start with an absolute path");
	if ((r = check_seconds(c, K_HEALTH_INTERVAL, 0.1, 3600)) < 0)
		return r;
	if (!(timeout > 0) || !(timeout <= interval)) {
		if (!given(c, K_HEALTH_TIMEOUT) && timeout > 0)
			return fail_key(c, K_HEALTH_INTERVAL,
			    "must be at least health.timeout (%g)", timeout);
		return fail_key(c, K_HEALTH_TIMEOUT,
		    "must be greater than 0 and at most health.interval (%g)",
		    interval);
	}
	for (enum key_id k = K_HEALTH_FALL; k <= K_HEALTH_RISE; k++)
		if (c->num[k] < COUNT_MIN || c->num[k] > COUNT_MAX)
			return fail_key(c, k, "must be an integer from "
			    "%d to %d", COUNT_MIN, COUNT_MAX);
	return 0;
}

static int validate(struct ctx *c)
{
	const char *mode = c->str[K_MODE], *olf = c->str[K_ON_LEADER_FAILURE];
	const char *sf = c->str[K_STATE_FILE];
	int r;

	if (c->str[K_SERVICE] == NULL)
		return failf(c, c->path, 0, "service is required");
	if (!config_valid_service(c->str[K_SERVICE]))
		return fail_key(c, K_SERVICE, "must match [A-Za-z0-9._-]{1,%d}",
		    SERVICE_MAX);

	if (c->str[K_NODE] == NULL) {
		if (gethostname(c->hostname, sizeof(c->hostname) - 1) < 0)
			return fail_key(c, K_NODE,
			    "is not set and the host name is unknown: %s",
			    strerror(errno));
		c->str[K_NODE] = c->hostname;
	}
	if (!valid_text(c->str[K_NODE], NODE_MAX))
		return fail_key(c, K_NODE,
		    "must be 1 to %d bytes without control characters",
		    NODE_MAX);

	if (strcmp(mode, "candidate") != 0 && strcmp(mode, "observer") != 0)
		return fail_key(c, K_MODE,
		    "must be \"candidate\" or \"observer\"");

	if ((r = check_etcd(c)) < 0 || (r = check_lease(c)) < 0)
		return r;

	if (sf[0] != '/' || strlen(sf) > STATE_FILE_MAX)
		return fail_key(c, K_STATE_FILE,
		    "must be an absolute path of at most %d bytes",
		    STATE_FILE_MAX);

	if (c->str[K_HOOKS_DIR][0] != '/')
		return fail_key(c, K_HOOKS_DIR, "must be an absolute path");
	if ((r = check_seconds(c, K_HOOKS_TIMEOUT, 0.1, 3600)) < 0)
		return r;
	if (strcmp(olf, "resign") != 0 && strcmp(olf, "ignore") != 0)
		return fail_key(c, K_ON_LEADER_FAILURE,
		    "must be \"resign\" or \"ignore\"");

	return check_health(c);
}

/* ---- building the result ---- */

static void set_defaults(struct ctx *c)
{
	c->str[K_MODE] = "candidate";
	c->endpoints[0] = KM_DEFAULT_ENDPOINT;
	c->n_endpoints = 1;
	c->str[K_PREFIX] = "kingsmoot/";
	c->sec[K_REQUEST_TIMEOUT] = 1.0;
	c->str[K_USERNAME] = "";
	c->str[K_PASSWORD_FILE] = "";
	c->str[K_CA_FILE] = "";
	c->str[K_CERT_FILE] = "";
	c->str[K_KEY_FILE] = "";
	c->num[K_TTL] = 10;
	c->sec[K_MARGIN] = 2.0;
	c->str[K_STATE_FILE] = KM_DEFAULT_STATE_FILE;
	c->str[K_HOOKS_DIR] = KM_DEFAULT_HOOKS_DIR;
	c->sec[K_HOOKS_TIMEOUT] = 10.0;
	c->str[K_ON_LEADER_FAILURE] = "resign";
	c->sec[K_HEALTH_INTERVAL] = 5.0;
	c->sec[K_HEALTH_TIMEOUT] = 2.0;
	c->num[K_HEALTH_FALL] = 3;
	c->num[K_HEALTH_RISE] = 2;
}

static void build(const struct ctx *c, struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = c->path != NULL ? xstrdup(c->path) : NULL;
	cfg->service = xstrdup(c->str[K_SERVICE]);
	cfg->node = xstrdup(c->str[K_NODE]);
	cfg->mode = strcmp(c->str[K_MODE], "observer") == 0 ?
	    MODE_OBSERVER : MODE_CANDIDATE;
	for (size_t i = 0; i < c->n_endpoints; i++)
		cfg->endpoints[i] = xstrdup(c->endpoints[i]);
	cfg->n_endpoints = c->n_endpoints;
	cfg->prefix = xstrdup(c->str[K_PREFIX]);
	cfg->request_timeout = c->sec[K_REQUEST_TIMEOUT];
	cfg->username = xstrdup(c->str[K_USERNAME]);
	cfg->password_file = xstrdup(c->str[K_PASSWORD_FILE]);
	cfg->ca_file = xstrdup(c->str[K_CA_FILE]);
	cfg->cert_file = xstrdup(c->str[K_CERT_FILE]);
	cfg->key_file = xstrdup(c->str[K_KEY_FILE]);
	cfg->ttl = c->num[K_TTL];
	cfg->margin = c->sec[K_MARGIN];
	cfg->state_file = xstrdup(c->str[K_STATE_FILE]);
	cfg->hooks_dir = xstrdup(c->str[K_HOOKS_DIR]);
	cfg->hooks_timeout = c->sec[K_HOOKS_TIMEOUT];
	cfg->on_leader_failure = strcmp(c->str[K_ON_LEADER_FAILURE],
	    "ignore") == 0 ? LEADER_FAILURE_IGNORE : LEADER_FAILURE_RESIGN;
	/* The health defaults are kept even when disabled so that a
	 * reader never sees zero intervals. */
	cfg->health_enabled = c->set[K_HEALTH] != NULL;
	if (cfg->health_enabled)
		for (size_t i = 0; i < c->n_command; i++)
			cfg->health_command[i] = xstrdup(c->command[i]);
	cfg->health_interval = c->sec[K_HEALTH_INTERVAL];
	cfg->health_timeout = c->sec[K_HEALTH_TIMEOUT];
	cfg->health_fall = (int)c->num[K_HEALTH_FALL];
	cfg->health_rise = (int)c->num[K_HEALTH_RISE];
}

/*
 * On failure *out is zeroed (config_free on it is harmless); a reload
 * must therefore load into a fresh struct and swap, as config.h says.
 */
int config_load(const struct config_overrides *ov, struct config *out,
    char *err, size_t errlen)
{
	struct ctx *c;
	int r;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	c = xcalloc(1, sizeof(*c));
	c->err = err;
	c->errlen = errlen;
	set_defaults(c);

	if (ov->config_path != NULL) {
		c->path = ov->config_path;
	} else if (access(KM_DEFAULT_CONFIG, F_OK) == 0 || errno != ENOENT) {
		/* Present but unreadable is reported by the read below. */
		c->path = KM_DEFAULT_CONFIG;
	} else if (ov->service == NULL) {
		failf(c, NULL, 0, "no configuration file (%s) and no -s "
		    "SERVICE", KM_DEFAULT_CONFIG);
		r = -ENOENT;
		goto out;
	}

	if (c->path != NULL) {
		if ((r = parse_file(c)) < 0)
			goto out;
		if ((r = walk(c, config_root_setting(&c->lc), K_ROOT)) < 0)
			goto out;
	}
	if ((r = apply_overrides(c, ov)) < 0 || (r = validate(c)) < 0)
		goto out;
	build(c, out);
	r = 0;
out:
	if (c->lc_live)
		config_destroy(&c->lc);
	free(c->endpoints_buf);
	free(c);
	return r;
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->service);
	free(cfg->node);
	for (size_t i = 0; i < KM_MAX_ENDPOINTS; i++)
		free(cfg->endpoints[i]);
	free(cfg->prefix);
	free(cfg->username);
	free(cfg->password_file);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->state_file);
	free(cfg->hooks_dir);
	for (size_t i = 0; i < KM_MAX_HEALTH_ARGS; i++)
		free(cfg->health_command[i]);
	memset(cfg, 0, sizeof(*cfg));
}

static bool str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool config_session_changed(const struct config *a, const struct config *b)
{
	if (str_differs(a->service, b->service) ||
	    str_differs(a->node, b->node) || a->mode != b->mode ||
	    a->n_endpoints != b->n_endpoints ||
	    str_differs(a->prefix, b->prefix) ||
	    str_differs(a->username, b->username) ||
	    str_differs(a->password_file, b->password_file) ||
	    str_differs(a->ca_file, b->ca_file) ||
	    str_differs(a->cert_file, b->cert_file) ||
	    str_differs(a->key_file, b->key_file) || a->ttl != b->ttl)
		return true;
	for (size_t i = 0; i < a->n_endpoints && i < KM_MAX_ENDPOINTS; i++)
		if (str_differs(a->endpoints[i], b->endpoints[i]))
			return true;
	return false;
}
