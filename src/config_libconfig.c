/*
 * config_libconfig.c - reading a configuration file through libconfig,
 * and working around what libconfig 1.5 (Debian's libconfig-dev
 * 1.5-0.4, the version this was written against) gets wrong.
 *
 * We read the file ourselves and hand libconfig the text, so that these
 * can be caught before or after its parse:
 *  - a file of any size, or a FIFO or device that never ends, would be
 *    read whole: we take regular files of at most CONFIG_MAX_BYTES;
 *  - a comment that ends the file without a newline is a syntax error:
 *    we add the newline;
 *  - a NUL byte silently ends the file: we refuse it, at its line;
 *  - an integer literal without an L suffix is stored in an int and
 *    wraps silently ("ttl = 4294967298;" reads back as 2): prescan()
 *    finds such literals in the text, since the tree keeps no source;
 *  - @include files are read by libconfig itself, so prescan() follows
 *    them too, to the depth libconfig allows.
 * Two more are handled where they show: settings of the top-level file
 * carry no file name (libconfig_setting_file()), and the line libconfig
 * notes for a list element can be one off, so config.c points element
 * errors at the list's key.
 */
#include "config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util.h"

/* A configuration file is a few hundred bytes; anything near this is a
 * wrong path (a log, a core file), not a configuration. */
#define CONFIG_MAX_BYTES (1024 * 1024)
/* libconfig 1.5 refuses deeper @include nesting itself. */
#define INCLUDE_MAX_DEPTH 10

static int read_file(const char *path, char **out, size_t *outlen,
    struct config_draft *d)
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
		draft_fail(d, path, 0, "%s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		draft_fail(d, path, 0, "%s", strerror(-r));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		draft_fail(d, path, 0, "%s", strerror(EISDIR));
		goto out;
	}
	/* A FIFO or device could block or never end. */
	if (!S_ISREG(st.st_mode)) {
		r = draft_fail(d, path, 0, "not a regular file");
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
			draft_fail(d, path, 0, "%s", strerror(-r));
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
	r = draft_fail(d, path, 0, "file is larger than %d bytes", CONFIG_MAX_BYTES);
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

static int prescan(struct config_draft *d, const char *file,
    const char *text, size_t len, int depth);

static int prescan_include(struct config_draft *d, const char *file,
    unsigned line, const char *name, size_t namelen, int depth)
{
	char *path, *text;
	size_t len;
	int r;

	if (depth >= INCLUDE_MAX_DEPTH)
		return draft_fail(d, file, line, "@include nested too deeply");
	path = xcalloc(namelen + 1, 1);
	memcpy(path, name, namelen);
	/* libconfig opens the name as written (no include_dir is set). */
	r = read_file(path, &text, &len, d);
	if (r == 0) {
		r = prescan(d, path, text, len, depth + 1);
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
static int prescan(struct config_draft *d, const char *file,
    const char *text, size_t len, int depth)
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
			r = prescan_include(d, file, line, q, (size_t)(p - q),
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
				return draft_fail(d, file, line,
				    "integer literal is out of range");
			memcpy(lit, q, n);
			lit[n] = '\0';
			errno = 0;
			v = strtoll(lit, NULL, hex ? 16 : 10);
			if (errno == ERANGE || v > INT32_MAX || v < INT32_MIN)
				return draft_fail(d, file, line,
				    "integer %s is out of range", lit);
		} else {
			p++;
		}
	}
	return 0;
}

int libconfig_parse_file(struct config_draft *d)
{
	const char *nul;
	char *text;
	size_t len;
	int r;

	r = read_file(d->path, &text, &len, d);
	if (r < 0)
		return r;
	/* libconfig 1.5 calls a comment that ends the file without a
	 * newline a syntax error; read_file() left room for one. */
	if (len > 0 && text[len - 1] != '\n')
		text[len++] = '\n';
	config_init(&d->lc);
	d->lc_live = true;
	nul = memchr(text, '\0', len);
	if (nul != NULL) {
		/* libconfig would silently stop reading at the NUL. */
		unsigned line = 1;

		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		r = draft_fail(d, d->path, line, "NUL byte in file");
	} else if (config_read_string(&d->lc, text) != CONFIG_TRUE) {
		const char *f = config_error_file(&d->lc);

		r = draft_fail(d, f != NULL ? f : d->path,
		    (unsigned)config_error_line(&d->lc), "%s",
		    config_error_text(&d->lc));
	} else {
		r = prescan(d, d->path, text, len, 0);
	}
	free(text);
	return r;
}

const char *libconfig_setting_file(const struct config_draft *d,
    const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);

	/* The top-level file is fed to libconfig as a string, so only
	 * settings from @include files carry a name of their own. */
	return f != NULL ? f : d->path;
}
