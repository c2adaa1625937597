// SPDX-License-Identifier: Apache-2.0
/*
 * pprof_decode(): hand-written input, malformed input, truncation and
 * corruption; pprof_decode_input(): the memory limit and decompression bombs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "profile/pprof.h"
#include "pprof_fixture.h"
#include "profile/profile.h"

#define STRINGS                                                                                    \
	0x32, 0x00, 0x32, 0x03, 'c', 'p', 'u', 0x32, 0x02, 'n', 's', 0x32, 0x04, 'm', 'a', 'i', 'n'
#define CPU_NS 0x0a, 0x04, 0x08, 0x01, 0x10, 0x02

/* Written by hand: unpacked and mixed repeated fields, unknown fields of every wire type. */
static void test_decode_unpacked_and_unknown(void **state)
{
	static const uint8_t in[] = {
		STRINGS, CPU_NS, 0x2a, 0x04, 0x08, 0x05, 0x10,
		0x03, /* function {id 5, name "main"} */
		/* location {id 7, address 0x90, line {function 5, line 42}} */
		0x22, 0x0b, 0x08, 0x07, 0x18, 0x90, 0x01, 0x22, 0x04, 0x08, 0x05, 0x10, 0x2a,
		/* sample: location 7 unpacked, then 7 7 packed, value 3 unpacked, unknown 15 */
		0x12, 0x0a, 0x08, 0x07, 0x0a, 0x02, 0x07, 0x07, 0x10, 0x03, 0x78, 0x01, 0x68, 0x03,
		0x68, 0x01,			    /* comment 3, comment 1, unpacked */
		0x48, 0x2a,			    /* time_nanos 42 */
		0xa0, 0x01, 0x05,		    /* field 20, varint */
		0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, /* field 21, fixed64 */
		0xb5, 0x01, 1, 2, 3, 4,		    /* field 22, fixed32 */
		0xba, 0x01, 0x03, 'x', 'y', 'z',    /* field 23, bytes */
		0xc3, 0x01, 0x08, 0x01, 0xcb, 0x01, 0xcc, 0x01, 0xc4,
		0x01, /* groups 24 { 25 {} } */
	};
	struct profile *p = NULL;
	const struct pf_location *l;

	assert_int_equal(pprof_decode(in, sizeof(in), &p), 0);
	assert_int_equal(p->nstrings, 4);
	assert_string_equal(p->strings[3], "main");
	assert_int_equal(p->nsample_types, 1);
	assert_string_equal(profile__str(p, p->sample_types[0].type), "cpu");
	assert_string_equal(profile__str(p, p->sample_types[0].unit), "ns");
	assert_int_equal(p->nfunctions, 1);
	assert_string_equal(profile__str(p, profile__function(p, 5)->name), "main");
	l = profile__location(p, 7);
	assert_non_null(l);
	assert_int_equal(l->address, 0x90);
	assert_int_equal(l->nlines, 1);
	assert_int_equal(l->lines[0].function_id, 5);
	assert_int_equal(l->lines[0].line, 42);
	assert_int_equal(p->nsamples, 1);
	assert_int_equal(p->samples[0].nlocations, 3);
	assert_int_equal(p->samples[0].location_ids[0], 7);
	assert_int_equal(p->samples[0].location_ids[2], 7);
	assert_int_equal(p->samples[0].values[0], 3);
	assert_int_equal(p->ncomments, 2);
	assert_int_equal(p->comments[0], 3);
	assert_int_equal(p->comments[1], 1);
	assert_int_equal(p->time_nanos, 42);
	profile__free(p);
}

static int decode_bytes(const uint8_t *in, size_t len)
{
	struct profile *p = NULL;
	int err = pprof_decode(in, len, &p);

	if (!err)
		profile__free(p);
	return err;
}

#define assert_rejected(...)                                                                       \
	do {                                                                                       \
		static const uint8_t in_[] = { __VA_ARGS__ };                                      \
		assert_int_equal(decode_bytes(in_, sizeof(in_)), -EINVAL);                         \
	} while (0)

static void test_decode_rejects(void **state)
{
	uint8_t deep[160];
	int i;

	/* String indexes out of range, too large or negative. */
	assert_rejected(STRINGS, 0x2a, 0x04, 0x08, 0x01, 0x10, 0x04);
	assert_rejected(STRINGS, 0x0a, 0x0d, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0x01, 0x10, 0x02);
	assert_rejected(STRINGS, CPU_NS, 0x12, 0x07, 0x12, 0x01, 0x01, 0x1a, 0x02, 0x08, 0x09);
	assert_rejected(STRINGS, 0x38, 0x04);			      /* drop_frames */
	assert_rejected(STRINGS, 0x68, 0x01, 0x68, 0x05);	      /* comment */
	assert_rejected(STRINGS, 0x1a, 0x04, 0x08, 0x01, 0x30, 0x07); /* mapping build_id */
	assert_rejected(0x32, 0x01, 'x');			      /* string_table[0] != "" */
	/* Sample values must match the sample types, and there must be some. */
	assert_rejected(STRINGS, CPU_NS, 0x12, 0x04, 0x12, 0x02, 0x01, 0x02);
	assert_rejected(STRINGS, 0x12, 0x00);
	/* References and ids. */
	assert_rejected(STRINGS, CPU_NS, 0x12, 0x04, 0x08, 0x09, 0x10, 0x01); /* no location 9 */
	assert_rejected(STRINGS, 0x22, 0x06, 0x08, 0x01, 0x22, 0x02, 0x08,
			0x03); /* no function 3 */
	assert_rejected(STRINGS, 0x22, 0x02, 0x08, 0x04, 0x22, 0x02, 0x08,
			0x04);				  /* duplicate ids */
	assert_rejected(STRINGS, 0x2a, 0x02, 0x10, 0x03); /* function id 0 */
	/* Wire format. */
	assert_rejected(STRINGS, 0x4a, 0x00);	    /* time_nanos length-delimited */
	assert_rejected(STRINGS, 0x0d, 0, 0, 0, 0); /* sample_type as fixed32 */
	assert_rejected(0x0e);			    /* wire type 6 */
	assert_rejected(0x00, 0x00);		    /* field 0 */
	assert_rejected(0x48, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
	assert_rejected(0x48, 0x80);	  /* truncated varint */
	assert_rejected(0x32, 0x05, 'a'); /* length past the end */
	assert_rejected(0x32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	assert_rejected(0xa4, 0x01);				/* end group never started */
	assert_rejected(0xa3, 0x01, 0x08, 0x01);		/* group never ended */
	assert_rejected(0xa3, 0x01, 0xac, 0x01);		/* group ended by another number */
	assert_rejected(STRINGS, 0x12, 0x03, 0x0a, 0x01, 0x80); /* packed ids truncated */
	assert_rejected(0x49, 1, 2, 3);				/* fixed64 truncated */

	/* Well-formed groups are skipped, unless nested deeper than the reader recurses. */
	for (i = 0; i < 40; i++) {
		deep[2 * i] = 0xa3;
		deep[2 * i + 1] = 0x01;
		deep[80 + 2 * i] = 0xa4;
		deep[80 + 2 * i + 1] = 0x01;
	}
	assert_int_equal(decode_bytes(deep, 160), -EINVAL);
	assert_int_equal(decode_bytes(deep + 30, 100), 0); /* 25 deep */
}

static void test_decode_empty(void **state)
{
	struct profile *p = NULL;

	/* proto3: no fields is a valid, empty message. */
	assert_int_equal(pprof_decode((const uint8_t *)"", 0, &p), 0);
	assert_int_equal(p->nstrings, 1);
	assert_string_equal(p->strings[0], "");
	assert_int_equal(p->nsamples + p->nlocations + p->nsample_types, 0);
	/* A decoded profile can be added to. */
	assert_int_equal(profile__add_sample_type(p, "cpu", "ns"), 0);
	assert_int_equal(profile__string(p, "cpu"), 1);
	profile__free(p);
}

/* Every prefix and every single-byte corruption: an error or a profile, never a crash. */
static void test_decode_truncated_and_corrupt(void **state)
{
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	struct profile *p = full_profile();
	uint8_t *buf, *copy;
	size_t len, i, k, failed = 0;
	int err;

	encode(p, &buf, &len);
	assert_int_equal(decode_bytes(buf, len), 0);
	for (i = 0; i < len; i++) {
		/* A copy of exactly i bytes, so that valgrind sees any overread. */
		copy = malloc(i ? i : 1);
		memcpy(copy, buf, i);
		err = decode_bytes(copy, i);
		assert_true(err == 0 || err == -EINVAL);
		failed += err != 0;
		free(copy);
	}
	/* Most prefixes cut a field, or drop the string table a field needs. */
	assert_true(failed > len * 9 / 10);
	copy = malloc(len);
	for (i = 0; i < len; i++) {
		for (k = 0; k < sizeof(flips); k++) {
			memcpy(copy, buf, len);
			copy[i] ^= flips[k];
			err = decode_bytes(copy, len);
			assert_true(err == 0 || err == -EINVAL);
		}
	}
	free(copy);
	free(buf);
	profile__free(p);
}

/* gzip of head, then unit repeated up to len bytes; streamed, never len bytes at once. */
static uint8_t *gz_repeat(const uint8_t *head, size_t head_len, const uint8_t *unit,
			  size_t unit_len, size_t len, size_t *zlen)
{
	static uint8_t block[1 << 16];
	z_stream zs = { 0 };
	size_t cap = len / 256 + (1 << 16), fill, done = head_len;
	uint8_t *z = malloc(cap);

	assert_non_null(z);
	for (fill = 0; fill + unit_len <= sizeof(block); fill += unit_len)
		memcpy(block + fill, unit, unit_len);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_out = z;
	zs.avail_out = cap;
	zs.next_in = (uint8_t *)head;
	zs.avail_in = head_len;
	assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
	while (len - done >= unit_len) {
		zs.next_in = block;
		zs.avail_in = len - done < fill ? (len - done) / unit_len * unit_len : fill;
		done += zs.avail_in;
		assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
		assert_true(zs.avail_out > 0);
	}
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*zlen = zs.total_out;
	deflateEnd(&zs);
	return z;
}

/* Peak resident memory (VmHWM) in KiB since the last reset_peak(). */
static long peak_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	/* "5" resets VmHWM to the current RSS (Linux 4.0). */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "5", 1), 1);
	close(fd);
}

/* Reads z as report does (from a file), expecting err; returns the peak's growth in MiB. */
static long read_bomb(const uint8_t *z, size_t zlen, int want)
{
	char path[] = "/tmp/test_pprof_decode.XXXXXX";
	struct profile *p = NULL;
	int fd = mkstemp(path);
	long before;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, z, zlen), (ssize_t)zlen);
	close(fd);
	reset_peak();
	before = peak_kib();
	assert_int_equal(pprof_read_file(path, &p), want);
	unlink(path);
	return (peak_kib() - before) / 1024;
}

/*
 * Bombs end early, in little memory: zeros (no field starts with one) and
 * a string table of "" repeated are refused as soon as inflating reaches
 * them, not once inflated whole (128 MiB and 64 MiB here).
 */
static void test_bombs_refused_early(void **state)
{
	static const uint8_t zero = 0, empty_string[] = { 0x32, 0x00 };
	size_t zlen;
	uint8_t *z;

	z = gz_repeat(NULL, 0, &zero, 1, (size_t)128 << 20, &zlen);
	assert_true(read_bomb(z, zlen, -EINVAL) < 16);
	free(z);
	z = gz_repeat(NULL, 0, empty_string, 2, (size_t)64 << 20, &zlen);
	assert_true(read_bomb(z, zlen, -EINVAL) < 16);
	free(z);
}

/* Valid but too big: what decoding would allocate counts, before it is allocated. */
static void test_memory_limit(void **state)
{
	static const uint8_t head[] = { STRINGS, CPU_NS };
	static const uint8_t sample[] = { 0x12, 0x02, 0x10, 0x01 }; /* value 1, no location */
	struct profile *p = NULL;
	size_t zlen, n = (size_t)2 << 20;
	uint8_t *z = gz_repeat(head, sizeof(head), sample, sizeof(sample), n, &zlen);

	/* 2 MiB inflated, but ~70 bytes decoded for each 4-byte sample. */
	assert_int_equal(pprof_decode_input(z, zlen, (size_t)16 << 20, &p), -EFBIG);
	assert_int_equal(pprof_decode_input(z, zlen, (size_t)256 << 20, &p), 0);
	assert_int_equal(p->nsamples, (n - sizeof(head)) / sizeof(sample));
	profile__free(p);
	/* A limit below the file itself, or below its inflated size. */
	assert_int_equal(pprof_decode_input(z, zlen, zlen - 1, &p), -EFBIG);
	assert_int_equal(pprof_decode_input(z, zlen, zlen + (1 << 20), &p), -EFBIG);
	/* Uncompressed input is held twice (the file, then its copy): counted too. */
	assert_int_equal(pprof_decode_input(head, sizeof(head), 2 * sizeof(head) - 1, &p), -EFBIG);
	assert_int_equal(pprof_decode_input(head, sizeof(head), (size_t)1 << 20, &p), 0);
	profile__free(p);
	free(z);
}

/* A field that declares more bytes than the limit allows is refused before they arrive. */
static void test_long_field_refused_early(void **state)
{
	/* string_table[1]: 512 MiB of zeros, declared up front. */
	static const uint8_t head[] = { 0x32, 0x00, 0x32, 0x80, 0x80, 0x80, 0x80, 0x02 };
	static const uint8_t zero = 0;
	struct profile *p = NULL;
	size_t zlen;
	uint8_t *z = gz_repeat(head, sizeof(head), &zero, 1, (size_t)64 << 20, &zlen);

	reset_peak();
	assert_int_equal(pprof_decode_input(z, zlen, (size_t)256 << 20, &p), -EFBIG);
	assert_true(peak_kib() < 64 * 1024);
	free(z);
}

/* Nothing to decode: Go's pprof says "empty input file"; so does report. */
static void test_empty_input(void **state)
{
	struct profile *p = NULL;
	uint8_t *z;
	size_t zlen;

	assert_int_equal(pprof_decode_input((const uint8_t *)"", 0, (size_t)1 << 20, &p), -ENODATA);
	assert_int_equal(pprof_gzip((const uint8_t *)"", 0, &z, &zlen), 0);
	assert_int_equal(pprof_decode_input(z, zlen, (size_t)1 << 20, &p), -ENODATA);
	free(z);
}

/* "" is string_table[0] only: repeated, it costs memory and means nothing. */
static void test_repeated_empty_string(void **state)
{
	static const uint8_t twice[] = { 0x32, 0x00, 0x32, 0x00 };
	static const uint8_t later[] = { STRINGS, 0x32, 0x00 };

	assert_int_equal(decode_bytes(twice, sizeof(twice)), -EINVAL);
	assert_int_equal(decode_bytes(later, sizeof(later)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_unpacked_and_unknown),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_decode_empty),
		cmocka_unit_test(test_decode_truncated_and_corrupt),
		cmocka_unit_test(test_bombs_refused_early),
		cmocka_unit_test(test_memory_limit),
		cmocka_unit_test(test_long_field_refused_early),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_repeated_empty_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
