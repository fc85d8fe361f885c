/*
 * fuzz_ndjson.c - libFuzzer entry for the NDJSON framer of the watch
 * stream, fed in random chunks. Whatever the splits, it must hand over
 * the same lines in the same order, and fail at the same line, as when
 * the stream arrives whole; no line it hands over may hold a newline,
 * be blank, or exceed the limit. Each line also goes through the watch
 * message parser, as etcd.c does.
 *
 * Input: a byte that picks the line limit, a byte that seeds the chunk
 * sizes, then the stream.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "etcdproto.h"

struct digest {
	size_t lines;
	uint64_t hash;
	size_t max;
	bool parse;
};

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int take_line(const char *line, size_t len, void *ud)
{
	struct digest *d = ud;

	if (len == 0 || len > d->max || memchr(line, '\n', len) != NULL ||
	    blank(line, len))
		abort();
	d->lines++;
	/* FNV-1a over the length and the bytes: order and content. */
	for (size_t i = 0; i < sizeof(len); i++)
		d->hash = (d->hash ^ ((len >> (8 * i)) & 0xff)) * 1099511628211u;
	for (size_t i = 0; i < len; i++)
		d->hash = (d->hash ^ (unsigned char)line[i]) * 1099511628211u;
	if (d->parse) {
		json_t *root = etcd_json_loadb(line, len, NULL);
		struct etcd_watch_msg msg;

		if (root && etcd_parse_watch_msg(root, &msg) == 0)
			etcd_watch_msg_clear(&msg);
		json_decref(root);
	}
	return 0;
}

/* Feed data in chunks whose sizes next_chunk() picks; stop at the first
 * error, as the daemon drops the stream then. */
static int frame(const uint8_t *data, size_t size, size_t max, uint32_t seed,
    size_t (*next_chunk)(uint32_t *state, size_t left), bool parse,
    struct digest *d)
{
	struct ndjson nd;
	size_t off = 0;
	int r = 0;

	memset(d, 0, sizeof(*d));
	d->hash = 14695981039346656037u;
	d->max = max;
	d->parse = parse;
	ndjson_init(&nd, max);
	while (off < size && r == 0) {
		size_t n = next_chunk(&seed, size - off);

		r = ndjson_feed(&nd, (const char *)data + off, n, take_line, d);
		off += n;
	}
	if (r == 0)
		r = ndjson_finish(&nd, take_line, d);
	ndjson_free(&nd);
	return r;
}

static size_t whole(uint32_t *state, size_t left)
{
	return left;
}

static size_t one_byte(uint32_t *state, size_t left)
{
	return 1;
}

static size_t random_chunk(uint32_t *state, size_t left)
{
	size_t n;

	/* xorshift32; a quarter of the chunks are empty. */
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	n = (*state >> 2) % 97;
	if ((*state & 3) == 0)
		n = 0;
	return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { 1, 2, 16, 100, 4096 };
	struct digest a, b, c;
	uint32_t seed;
	size_t max;
	int ra, rb, rc;

	if (size < 2)
		return 0;
	max = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	seed = 0x9e3779b9u ^ data[1];
	data += 2;
	size -= 2;

	ra = frame(data, size, max, seed, whole, true, &a);
	rb = frame(data, size, max, seed, random_chunk, false, &b);
	rc = frame(data, size, max, seed, one_byte, false, &c);
	if (ra != rb || ra != rc || a.lines != b.lines || a.lines != c.lines ||
	    a.hash != b.hash || a.hash != c.hash)
		abort();
	if (ra != 0 && ra != -EMSGSIZE)
		abort();
	return 0;
}
