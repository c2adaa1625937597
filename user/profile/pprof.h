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

/*
 * What reading a profile file may take by default: the file, its inflated
 * form and the decoded profile together (`report --max-mem`).
 */
#define PPROF_DEFAULT_MAX_MEM ((size_t)1 << 30)

/* Encodes p as an uncompressed profile.proto message into a malloc'd buffer. */
int pprof_encode(const struct profile *p, uint8_t **buf, size_t *len);
/* The same, gzip-compressed: the bytes of a .pb.gz file. */
int pprof_encode_gz(const struct profile *p, uint8_t **gz, size_t *gzlen);
/* Decodes an uncompressed profile.proto message; -EINVAL on malformed input. */
int pprof_decode(const uint8_t *buf, size_t len, struct profile **out);

/* gzip (RFC 1952) of an in-memory buffer, and its inverse (also accepts raw data). */
int pprof_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);
int pprof_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);
/*
 * pprof_gunzip() that gives up with -EFBIG past max bytes of output, and
 * calls check (when not NULL) on the output so far as it grows: a nonzero
 * return stops it with that error, so a bomb is found before it is whole.
 */
typedef int (*pprof_check_fn)(void *ctx, const uint8_t *buf, size_t len);
int pprof_gunzip_max(const uint8_t *in, size_t len, size_t max, pprof_check_fn check, void *ctx,
		     uint8_t **out, size_t *outlen);
/*
 * The bytes of a profile file, gzip-compressed or not, inflated and decoded
 * in at most max_mem bytes, in counted: -EFBIG when it would take more (or
 * when its framing is wrong: -EINVAL, as soon as inflating reaches it),
 * -ENODATA when there is nothing to decode.
 */
int pprof_decode_input(const uint8_t *in, size_t len, size_t max_mem, struct profile **out);

/*
 * Writes p gzip-compressed to path through a temporary file in the same
 * directory and rename(), so a reader never sees a partial profile.
 */
int pprof_write_file(const struct profile *p, const char *path);

/*
 * An output file made ready before a capture, so that a full disk or an
 * unwritable directory shows at the start, not after a long capture.
 */
struct pprof_out {
	char *path; /* where the profile goes */
	int fd;	    /* the file it is written into first (in path's directory), or -1 */
	char *tmp;  /* that file's name; NULL for an unnamed one (O_TMPFILE) */
};

#define PPROF_OUT_INIT                                                                             \
	{                                                                                          \
		.fd = -1                                                                           \
	}

/*
 * Creates the temporary file and writes a block to it (synced), which it
 * keeps for the profile: 0, -EISDIR, or the error a write would meet.
 */
int pprof_out_open(struct pprof_out *o, const char *path);
/*
 * Writes p to path through o (opened here when pprof_out_open was not called,
 * or for another path).
 * On an error past encoding (ENOSPC, EIO, ...) p is written to $TMPDIR
 * (default /tmp) instead and *saved is that file's malloc'd name (NULL when
 * that failed too); the error is returned either way.
 */
int pprof_out_write(struct pprof_out *o, const char *path, const struct profile *p, char **saved);
/* Removes the temporary file when nothing was written, and frees o's fields. */
void pprof_out_close(struct pprof_out *o);
/* Reads a profile file, gzip-compressed or not, in PPROF_DEFAULT_MAX_MEM. */
int pprof_read_file(const char *path, struct profile **out);
/* The same in at most max_mem bytes (see pprof_decode_input()). */
int pprof_read_file_max(const char *path, size_t max_mem, struct profile **out);

#endif
