// SPDX-License-Identifier: Apache-2.0
/*
 * mkbombs DIR [MIB]: writes decompression bombs for `bpfprof report` into
 * DIR, each about MIB MiB (default 1024) once inflated and about a
 * thousand times smaller on disk: gzip members of 16 MiB, concatenated.
 *
 *   zeros.gz    zeros: no profile.proto field starts with a zero byte
 *   strings.gz  a string table of "" repeated (2 bytes each)
 *   samples.gz  one sample type, then samples of one value (4 bytes each,
 *               ~70 bytes decoded): valid, but too big for the memory limit
 *
 * `make fuzz` seeds its corpus with them; tests/e2e/test_hostile.sh checks
 * that report refuses them quickly and in little memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MEMBER (16u << 20)

struct bomb {
	const char *name;
	const unsigned char *head;
	size_t head_len;
	const unsigned char *unit;
	size_t unit_len;
};

static const unsigned char zero[] = { 0 };
static const unsigned char empty_string[] = { 0x32, 0x00 };
/* sample_type { type: 1 unit: 2 }, string_table "", "samples", "count" */
static const unsigned char samples_head[] = { 0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x32, 0x00,
					      0x32, 0x07, 's',	'a',  'm',  'p',  'l',	'e',
					      's',  0x32, 0x05, 'c',  'o',  'u',  'n',	't' };
/* sample { value: 1 } */
static const unsigned char one_sample[] = { 0x12, 0x02, 0x10, 0x01 };

static const struct bomb bombs[] = {
	{ "zeros.gz", NULL, 0, zero, sizeof(zero) },
	{ "strings.gz", NULL, 0, empty_string, sizeof(empty_string) },
	{ "samples.gz", samples_head, sizeof(samples_head), one_sample, sizeof(one_sample) },
};

/* One gzip member of len bytes, head then unit repeated, into a malloc'd buffer. */
static unsigned char *member(const struct bomb *b, int with_head, size_t len, size_t *zlen)
{
	unsigned char *in = malloc(len), *z = NULL;
	z_stream zs = { 0 };
	size_t off = 0, cap;

	if (!in)
		return NULL;
	if (with_head) {
		memcpy(in, b->head, b->head_len);
		off = b->head_len;
	}
	for (; off + b->unit_len <= len; off += b->unit_len)
		memcpy(in + off, b->unit, b->unit_len);
	if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	cap = deflateBound(&zs, off);
	z = malloc(cap);
	if (z) {
		zs.next_in = in;
		zs.avail_in = off;
		zs.next_out = z;
		zs.avail_out = cap;
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END) {
			*zlen = zs.total_out;
		} else {
			free(z);
			z = NULL;
		}
	}
	deflateEnd(&zs);
out:
	free(in);
	return z;
}

/* The first member has the head; the others, all alike, are compressed once. */
static int write_bomb(const char *dir, const struct bomb *b, size_t mib)
{
	size_t total = mib << 20, first_len = total < MEMBER ? total : MEMBER, len1, len2 = 0, i;
	unsigned char *first = member(b, 1, first_len, &len1), *rest = NULL;
	char path[4096];
	FILE *out;
	int err = !first;

	if (!err && total > MEMBER) {
		rest = member(b, 0, MEMBER, &len2);
		err = !rest;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, b->name);
	out = err ? NULL : fopen(path, "wb");
	if (out) {
		err = fwrite(first, 1, len1, out) != len1;
		for (i = 1; !err && i < total / MEMBER; i++)
			err = fwrite(rest, 1, len2, out) != len2;
		err |= fclose(out) != 0;
	} else {
		err = 1;
	}
	free(first);
	free(rest);
	return err ? -1 : 0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024, i;

	if (argc < 2 || !mib) {
		fprintf(stderr, "usage: mkbombs DIR [MIB]\n");
		return 2;
	}
	for (i = 0; i < sizeof(bombs) / sizeof(bombs[0]); i++) {
		if (write_bomb(argv[1], &bombs[i], mib)) {
			perror(bombs[i].name);
			return 1;
		}
	}
	return 0;
}
