/*
 * fuzz_config.c - libFuzzer entry for the configuration loader: the file
 * through libconfig and our prescan, the key table's checks, the rules
 * between keys and the command-line values merged over it.
 *
 * Input: a flags byte; then, when any flag is set, a line of text given
 * as -t (bit 0), -e (bit 1), -s (bit 2) and -i (bit 3); the rest is the
 * file. A loaded configuration must keep the rules config.h promises; a
 * refused one must say why.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char dir[64];
static char path[96];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	strcpy(dir, "/tmp/km-fuzz-config-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/kingsmootd.conf", dir);
	atexit(remove_dir);
	return 0;
}

static void write_all(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n <= 0)
			abort();
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

static void check_loaded(const struct config *cfg)
{
	if (cfg->service == NULL || !config_valid_service(cfg->service) ||
	    cfg->node == NULL || cfg->node[0] == '\0' ||
	    cfg->n_endpoints < 1 || cfg->n_endpoints > KM_MAX_ENDPOINTS ||
	    cfg->state_file == NULL || cfg->hooks_dir == NULL || cfg->prefix == NULL)
		abort();
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (cfg->endpoints[i] == NULL)
			abort();
	/* DESIGN 2.3: one lost keepalive never costs a healthy leader. */
	if (cfg->ttl < 2 || !(cfg->margin > 0) || !(cfg->request_timeout > 0) ||
	    (double)cfg->ttl / 3.0 + 2.0 * cfg->request_timeout + cfg->margin >
	    (double)cfg->ttl + 1e-6)
		abort();
	if (cfg->health_enabled && cfg->health_command[0] == NULL)
		abort();
	if (config_session_changed(cfg, cfg))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_overrides ov = { .config_path = path };
	struct config cfg;
	char text[256] = "", err[1024];
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & 0x0f) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t line = nl ? (size_t)(nl - data) : size;

		memcpy(text, data, line < sizeof(text) ? line : sizeof(text) - 1);
		data += nl ? line + 1 : line;
		size -= nl ? line + 1 : line;
	}
	ov.ttl = flags & 1 ? text : NULL;
	ov.endpoints = flags & 2 ? text : NULL;
	ov.service = flags & 4 ? text : NULL;
	ov.node = flags & 8 ? text : NULL;
	write_all(data, size);

	memset(err, 0, sizeof(err));
	if (config_load(&ov, &cfg, err, sizeof(err)) == 0) {
		check_loaded(&cfg);
		config_free(&cfg);
	} else if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	return 0;
}
