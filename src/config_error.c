/*
 * config_error.c - where a configuration error points and how it reads.
 *
 * Every message is one line, "FILE:LINE: what is wrong" when the value
 * came from a file, "-t: what is wrong" when it came from an option, and
 * "FILE: what is wrong" for a default (the file is where to fix it).
 * A file key is named as written ('lease.ttl'), an option by its label
 * (ttl), so that the operator recognises what they typed.
 */
#include "config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static int draft_vfail(struct config_draft *d, const char *file,
    unsigned line, const char *fmt, va_list ap)
{
	char body[768];

	if (d->err == NULL || d->errlen == 0)
		return -EINVAL;
	vsnprintf(body, sizeof(body), fmt, ap);
	if (file != NULL && line > 0)
		snprintf(d->err, d->errlen, "%s:%u: %s", file, line, body);
	else if (file != NULL)
		snprintf(d->err, d->errlen, "%s: %s", file, body);
	else
		snprintf(d->err, d->errlen, "%s", body);
	return -EINVAL;
}

int draft_fail(struct config_draft *d, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = draft_vfail(d, file, line, fmt, ap);
	va_end(ap);
	return r;
}

int draft_fail_setting(struct config_draft *d, const config_setting_t *s,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = draft_vfail(d, libconfig_setting_file(d, s),
	    config_setting_source_line(s), fmt, ap);
	va_end(ap);
	return r;
}

static void key_origin(const struct config_draft *d, enum key_id k,
    const char **file, unsigned *line)
{
	const struct key_value *v = &d->value[k];

	*line = 0;
	if (v->option != NULL) {
		*file = v->option;
	} else if (v->setting != NULL) {
		*file = libconfig_setting_file(d, v->setting);
		*line = config_setting_source_line(v->setting);
	} else {
		*file = d->path;
	}
}

int draft_fail_at(struct config_draft *d, enum key_id k, const char *fmt,
    ...)
{
	const char *file;
	unsigned line;
	va_list ap;
	int r;

	key_origin(d, k, &file, &line);
	va_start(ap, fmt);
	r = draft_vfail(d, file, line, fmt, ap);
	va_end(ap);
	return r;
}

int draft_fail_key(struct config_draft *d, enum key_id k, const char *fmt,
    ...)
{
	char body[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (d->value[k].option != NULL && config_keys[k].label != NULL)
		return draft_fail_at(d, k, "%s %s", config_keys[k].label, body);
	return draft_fail_at(d, k, "'%s' %s", config_keys[k].name, body);
}

bool draft_given(const struct config_draft *d, enum key_id k)
{
	return d->value[k].setting != NULL || d->value[k].option != NULL;
}

void draft_printable(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (outlen == 0)
		return;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x20 && ch != 0x7f) {
			if (n + 1 >= outlen)
				break;
			out[n++] = (char)ch;
			continue;
		}
		if (n + 4 >= outlen)
			break;
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[ch >> 4];
		out[n++] = hex[ch & 0xf];
	}
	out[n] = '\0';
}
