/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile.proto wire format for the profile model (user/profile.h), and the
 * gzip file form that `go tool pprof` reads.  Our own small encoder and
 * decoder: see docs/ARCHITECTURE.md for why not protobuf-c.
 */
#ifndef BPFPROF_PPROF_H
#define BPFPROF_PPROF_H

#include <stddef.h>
#include <stdint.h>

struct profile;

/* Larger inputs and outputs are refused with -EFBIG (decompression bombs too). */
#define PPROF_MAX_SIZE ((size_t)1 << 30)

/* Encodes p as an uncompressed profile.proto message into a malloc'd buffer. */
int pprof_encode(const struct profile *p, uint8_t **buf, size_t *len);
/* Decodes an uncompressed profile.proto message; -EINVAL on malformed input. */
int pprof_decode(const uint8_t *buf, size_t len, struct profile **out);

/* gzip (RFC 1952) of an in-memory buffer, and its inverse (also accepts raw data). */
int pprof_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);
int pprof_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

/*
 * Writes p gzip-compressed to path through a temporary file in the same
 * directory and rename(), so a reader never sees a partial profile.
 */
int pprof_write_file(const struct profile *p, const char *path);
/* Reads a profile file, gzip-compressed or not. */
int pprof_read_file(const char *path, struct profile **out);

#endif
